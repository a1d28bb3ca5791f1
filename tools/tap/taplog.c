/*  taplog - chat-tap's output  */
#include "taplog.h"
#include "hexdump.h"
#include "jsonout.h"
#include "chaterror.h"
#include "codec.h"
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct _taplog_t {
    FILE *out;
    int flags;
    uint64_t count [TAPFRAME_KINDS];
    uint64_t bytes [TAPFRAME_KINDS];
};

//  How much of an id a text line shows: enough to tell sessions apart.
#define SHORT_ID 8

taplog_t *
taplog_new (FILE *out, int flags)
{
    taplog_t *self = calloc (1, sizeof *self);
    if (self) {
        self->out = out;
        self->flags = flags;
    }
    return self;
}

void
taplog_destroy (taplog_t **self_p)
{
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

uint64_t
taplog_count (taplog_t *self, tapframe_kind_t kind)
{
    return kind < TAPFRAME_KINDS? self->count [kind]: 0;
}

uint64_t
taplog_bytes (taplog_t *self, tapframe_kind_t kind)
{
    return kind < TAPFRAME_KINDS? self->bytes [kind]: 0;
}

//  Local wall-clock time, "HH:MM:SS.mmm" into buf, and unix ms.
static int64_t
s_now (char *buf, size_t size)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r (&ts.tv_sec, &tm);
    int ms = (int) (ts.tv_nsec / 1000000);
    snprintf (buf, size, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return (int64_t) ts.tv_sec * 1000 + ms;
}

static void
s_clock_text (int64_t unix_s, char *buf, size_t size)
{
    time_t t = (time_t) unix_s;
    struct tm tm;
    if (localtime_r (&t, &tm))
        strftime (buf, size, "%H:%M:%S", &tm);
    else
        snprintf (buf, size, "%" PRId64, unix_s);
}

static void
s_line (taplog_t *self, const char *now, const char *dir, const char *client,
        const tapframe_t *info)
{
    char detail [512] = "";
    size_t used = 0;
#define ADD(...) used += (size_t) snprintf (detail + used, \
                     used < sizeof detail? sizeof detail - used: 0, __VA_ARGS__)
    if (info->version)
        ADD (" v=%u", info->version);
    if (info->key [0])
        ADD (" key=%s", info->key);
    if (info->role [0])
        ADD (" role=%s", info->role);
    if (info->push [0])
        ADD (" push=%s", info->push);
    if (info->rotation)
        ADD (" rotation");
    if (info->topic [0] || info->kind == TAPFRAME_SUBSCRIBE
                        || info->kind == TAPFRAME_UNSUBSCRIBE)
        ADD (" topic=%.*s", SHORT_ID, info->topic [0]? info->topic: "(all)");
    if (info->session [0])
        ADD (" session=%.*s", SHORT_ID, info->session);
    if (info->fernet_ts >= 0) {
        char clock [32];
        s_clock_text (info->fernet_ts, clock, sizeof clock);
        ADD (" ts=%s", clock);
    }
    if (info->kind == TAPFRAME_ERROR)
        ADD (" %s", chat_errname (info->error_code));
    if (info->parts != 1 && info->kind != TAPFRAME_PUSH)
        ADD (" parts=%zu", info->parts);
#undef ADD
    fprintf (self->out, "%s %s %-6s %-11s %7zu %s\n", now, dir, client,
             tapframe_kind_name (info->kind), info->size,
             detail [0]? detail + 1: "");
}

static void
s_json (taplog_t *self, const char *now, int64_t now_ms, const char *channel,
        const char *dir, const char *client, const tapframe_t *info,
        const uint8_t *const *frames, const size_t *sizes)
{
    FILE *out = self->out;
    fputs ("{\"time\":", out);
    jsonout_string (out, now);
    fprintf (out, ",\"unix_ms\":%" PRId64 ",\"channel\":", now_ms);
    jsonout_string (out, channel);
    fputs (",\"dir\":", out);
    jsonout_string (out, dir);
    fputs (",\"client\":", out);
    jsonout_string (out, client);
    fputs (",\"kind\":", out);
    jsonout_string (out, tapframe_kind_name (info->kind));
    fprintf (out, ",\"size\":%zu,\"parts\":%zu", info->size, info->parts);
    if (info->version)
        fprintf (out, ",\"version\":%u", info->version);
    if (info->role [0]) {
        fputs (",\"role\":", out);
        jsonout_string (out, info->role);
    }
    if (info->push [0]) {
        fputs (",\"push\":", out);
        jsonout_string (out, info->push);
    }
    if (info->rotation)
        fputs (",\"rotation\":true", out);
    if (info->key [0]) {
        fputs (",\"key\":", out);
        jsonout_string (out, info->key);
    }
    if (info->session [0]) {
        fputs (",\"session\":", out);
        jsonout_string (out, info->session);
    }
    if (info->topic [0] || info->kind == TAPFRAME_SUBSCRIBE
                        || info->kind == TAPFRAME_UNSUBSCRIBE) {
        fputs (",\"topic\":", out);
        jsonout_string (out, info->topic);
    }
    if (info->fernet_ts >= 0)
        fprintf (out, ",\"fernet_ts\":%" PRId64, info->fernet_ts);
    if (info->kind == TAPFRAME_ERROR) {
        fprintf (out, ",\"error_code\":%d,\"error\":", info->error_code);
        jsonout_string (out, chat_errname (info->error_code));
    }
    if (self->flags & TAPLOG_HEX) {
        fputs (",\"frames\":[", out);
        for (size_t i = 0; i < info->parts; i++) {
            char *hex = codec_hex (frames [i], sizes [i]);
            if (i)
                fputc (',', out);
            jsonout_string (out, hex? hex: "");
            free (hex);
        }
        fputc (']', out);
    }
    fputs ("}\n", out);
}

void
taplog_message (taplog_t *self, const char *channel, const char *dir,
                const char *client, const tapframe_t *info,
                const uint8_t *const *frames, const size_t *sizes)
{
    if (info->kind < TAPFRAME_KINDS) {
        self->count [info->kind]++;
        self->bytes [info->kind] += info->size;
    }
    char now [32];
    int64_t now_ms = s_now (now, sizeof now);
    if (self->flags & TAPLOG_JSON)
        s_json (self, now, now_ms, channel, dir, client, info, frames, sizes);
    else {
        s_line (self, now, dir, client, info);
        if (self->flags & TAPLOG_HEX) {
            for (size_t i = 0; i < info->parts; i++) {
                if (info->parts > 1)
                    fprintf (self->out, "frame %zu/%zu, %zu bytes\n",
                             i + 1, info->parts, sizes [i]);
                hexdump_print (self->out, frames [i], sizes [i]);
            }
            fputc ('\n', self->out);
        }
    }
    //  Lines are read live by people and scripts behind a pipe.
    fflush (self->out);
}

void
taplog_summary (taplog_t *self)
{
    uint64_t total_count = 0, total_bytes = 0;
    for (int k = 0; k < TAPFRAME_KINDS; k++) {
        total_count += self->count [k];
        total_bytes += self->bytes [k];
    }
    if (self->flags & TAPLOG_JSON) {
        fputs ("{\"summary\":{", self->out);
        for (int k = 0; k < TAPFRAME_KINDS; k++)
            if (self->count [k])
                fprintf (self->out, "\"%s\":{\"frames\":%" PRIu64 ",\"bytes\":%" PRIu64 "},",
                         tapframe_kind_name ((tapframe_kind_t) k),
                         self->count [k], self->bytes [k]);
        fprintf (self->out, "\"total\":{\"frames\":%" PRIu64 ",\"bytes\":%" PRIu64 "}}}\n",
                 total_count, total_bytes);
    }
    else {
        fprintf (self->out, "%-12s %10s %12s\n", "kind", "frames", "bytes");
        for (int k = 0; k < TAPFRAME_KINDS; k++)
            if (self->count [k])
                fprintf (self->out, "%-12s %10" PRIu64 " %12" PRIu64 "\n",
                         tapframe_kind_name ((tapframe_kind_t) k),
                         self->count [k], self->bytes [k]);
        fprintf (self->out, "%-12s %10" PRIu64 " %12" PRIu64 "\n",
                 "total", total_count, total_bytes);
    }
    fflush (self->out);
}
