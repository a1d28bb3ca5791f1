/*  metrics - a server's counters, gauges and histograms; see metrics.h  */
#include "metrics.h"
#include "chaterror.h"
#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

typedef _Atomic uint64_t counter_t;

//  Upper bounds of the histograms' buckets (a last +Inf bucket follows)
static const double s_commit_bounds [] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1, 2.5
};
#define COMMIT_BUCKETS (sizeof s_commit_bounds / sizeof s_commit_bounds [0] + 1)
static const double s_batch_bounds [] = { 1, 2, 4, 8, 16, 32, 64, 128, 256 };
#define BATCH_BUCKETS (sizeof s_batch_bounds / sizeof s_batch_bounds [0] + 1)

//  Names registered by the actor thread, read by any: the name is written
//  first, then the count is raised with release order, so that a reader
//  that loads the count (acquire) sees every name below it.
typedef struct {
    char *names [METRICS_MAX_KINDS];
    _Atomic size_t count;
} names_t;

struct _metrics_t {
    char *role;
    char *version;
    bool pushes_shown;
    int64_t started_at;                 //  unix seconds
    counter_t handshakes [METRICS_MAX_CODES];
    counter_t refusals [METRICS_MAX_CODES];
    names_t kinds;
    counter_t requests [METRICS_MAX_KINDS + 1][METRICS_MAX_CODES];
    names_t quotas;
    counter_t quota_refusals [METRICS_MAX_KINDS + 1];
    counter_t commit_buckets [COMMIT_BUCKETS];
    counter_t commit_usec_sum;
    counter_t commit_failures;
    counter_t batch_buckets [BATCH_BUCKETS];
    counter_t batch_sum;
    counter_t pushes_sent;
    counter_t pushes_failed;
    counter_t sessions [3];             //  handshaking, anonymous, logged in
    counter_t push_queue;
    counter_t push_queue_max;
    counter_t store_bytes;
};

metrics_t *
metrics_new (const char *role, const char *version)
{
    assert (role && version);
    metrics_t *self = (metrics_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->role = strdup (role);
    self->version = strdup (version);
    if (!self->role || !self->version) {
        metrics_destroy (&self);
        return NULL;
    }
    self->pushes_shown = strcmp (role, "mainserver") == 0;
    self->started_at = (int64_t) time (NULL);
    return self;
}

static void
s_names_free (names_t *names)
{
    size_t count = atomic_load (&names->count);
    for (size_t index = 0; index < count; index++)
        free (names->names [index]);
}

void
metrics_destroy (metrics_t **self_p)
{
    assert (self_p);
    metrics_t *self = *self_p;
    if (!self)
        return;
    s_names_free (&self->kinds);
    s_names_free (&self->quotas);
    free (self->role);
    free (self->version);
    free (self);
    *self_p = NULL;
}

static void
s_add (counter_t *counter, uint64_t amount)
{
    atomic_fetch_add_explicit (counter, amount, memory_order_relaxed);
}

static void
s_set (counter_t *counter, uint64_t value)
{
    atomic_store_explicit (counter, value, memory_order_relaxed);
}

static uint64_t
s_get (counter_t *counter)
{
    return atomic_load_explicit (counter, memory_order_relaxed);
}

//  Codes outside the table share its last slot
static size_t
s_code_slot (int code)
{
    return code >= 0 && code < METRICS_MAX_CODES - 1 ? (size_t) code : METRICS_MAX_CODES - 1;
}

//  The slot of a name, registering it when new (actor thread only). Names
//  past the table share the slot after it, shown as "other".
static size_t
s_name_slot (names_t *names, const char *name, bool add)
{
    size_t count = atomic_load_explicit (&names->count, memory_order_acquire);
    for (size_t index = 0; index < count; index++)
        if (strcmp (names->names [index], name) == 0)
            return index;
    if (!add || count == METRICS_MAX_KINDS)
        return METRICS_MAX_KINDS;
    names->names [count] = strdup (name);
    if (!names->names [count])
        return METRICS_MAX_KINDS;
    atomic_store_explicit (&names->count, count + 1, memory_order_release);
    return count;
}

void
metrics_handshake (metrics_t *self, int code)
{
    if (self)
        s_add (&self->handshakes [s_code_slot (code)], 1);
}

void
metrics_refusal (metrics_t *self, int code)
{
    if (self)
        s_add (&self->refusals [s_code_slot (code)], 1);
}

void
metrics_request (metrics_t *self, const char *kind, int code)
{
    if (!self)
        return;
    size_t slot = s_name_slot (&self->kinds, kind ? kind : "unknown", true);
    s_add (&self->requests [slot][s_code_slot (code)], 1);
}

void
metrics_quota_refusal (metrics_t *self, const char *quota)
{
    if (!self)
        return;
    size_t slot = s_name_slot (&self->quotas, quota ? quota : "unknown", true);
    s_add (&self->quota_refusals [slot], 1);
}

static size_t
s_bucket (const double *bounds, size_t count, double value)
{
    size_t index = 0;
    while (index < count && value > bounds [index])
        index++;
    return index;
}

void
metrics_commit (metrics_t *self, int64_t usec, size_t requests, bool ok)
{
    if (!self)
        return;
    if (usec < 0)
        usec = 0;
    size_t bucket = s_bucket (s_commit_bounds, COMMIT_BUCKETS - 1, (double) usec / 1e6);
    s_add (&self->commit_buckets [bucket], 1);
    s_add (&self->commit_usec_sum, (uint64_t) usec);
    bucket = s_bucket (s_batch_bounds, BATCH_BUCKETS - 1, (double) requests);
    s_add (&self->batch_buckets [bucket], 1);
    s_add (&self->batch_sum, requests);
    if (!ok)
        s_add (&self->commit_failures, 1);
}

void
metrics_pushes (metrics_t *self, size_t count, bool ok)
{
    if (self)
        s_add (ok ? &self->pushes_sent : &self->pushes_failed, count);
}

void
metrics_sessions (metrics_t *self, size_t handshaking, size_t anonymous, size_t logged_in)
{
    if (!self)
        return;
    s_set (&self->sessions [0], handshaking);
    s_set (&self->sessions [1], anonymous);
    s_set (&self->sessions [2], logged_in);
}

void
metrics_push_queue (metrics_t *self, size_t depth)
{
    if (!self)
        return;
    s_set (&self->push_queue, depth);
    uint64_t max = s_get (&self->push_queue_max);
    while (depth > max
       && !atomic_compare_exchange_weak (&self->push_queue_max, &max, depth))
        ;
}

void
metrics_store_bytes (metrics_t *self, uint64_t bytes)
{
    if (self)
        s_set (&self->store_bytes, bytes);
}

uint64_t
metrics_db_bytes (const char *path)
{
    uint64_t total = 0;
    struct stat st;
    if (path && stat (path, &st) == 0)
        total += (uint64_t) st.st_size;
    char wal [4096];
    if (path && snprintf (wal, sizeof wal, "%s-wal", path) < (int) sizeof wal
    &&  stat (wal, &st) == 0)
        total += (uint64_t) st.st_size;
    return total;
}

uint64_t
metrics_requests (metrics_t *self, const char *kind, int code)
{
    if (!self || !kind)
        return 0;
    size_t slot = s_name_slot (&self->kinds, kind, false);
    if (slot == METRICS_MAX_KINDS)
        return 0;
    if (code >= 0)
        return s_get (&self->requests [slot][s_code_slot (code)]);
    uint64_t total = 0;
    for (size_t index = 0; index < METRICS_MAX_CODES; index++)
        total += s_get (&self->requests [slot][index]);
    return total;
}

//  ---------------------------------------------------------------- rendering

static const char *
s_code_name (size_t slot)
{
    return slot == METRICS_MAX_CODES - 1 ? "other" : chat_errname ((int) slot);
}

//  The label of a name slot: its name, "other" for the shared last slot,
//  NULL for a slot not registered (count: the registered names, as loaded)
static const char *
s_slot_name (names_t *names, size_t slot, size_t count)
{
    if (slot == METRICS_MAX_KINDS)
        return "other";
    return slot < count ? names->names [slot] : NULL;
}

static void
s_header (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  A family of one series, labelled with the role only
static void
s_single (FILE *out, const metrics_t *self, const char *name, const char *type,
          const char *help, uint64_t value)
{
    s_header (out, name, type, help);
    fprintf (out, "%s{role=\"%s\"} %llu\n", name, self->role, (unsigned long long) value);
}

//  One series per code that has counted something
static void
s_by_code (FILE *out, const metrics_t *self, const char *name, const char *label,
           counter_t *counters)
{
    for (size_t code = 0; code < METRICS_MAX_CODES; code++) {
        uint64_t value = s_get (&counters [code]);
        if (value)
            fprintf (out, "%s{role=\"%s\",%s=\"%s\"} %llu\n", name, self->role, label,
                     s_code_name (code), (unsigned long long) value);
    }
}

static void
s_histogram (FILE *out, const metrics_t *self, const char *name, const double *bounds,
             counter_t *buckets, size_t count, double sum)
{
    //  Cumulative counts and _count from one read of the buckets, so that
    //  a scrape racing the actor still sees a consistent histogram
    uint64_t total = 0;
    for (size_t index = 0; index < count; index++) {
        total += s_get (&buckets [index]);
        if (index + 1 < count)
            fprintf (out, "%s_bucket{role=\"%s\",le=\"%g\"} %llu\n", name, self->role,
                     bounds [index], (unsigned long long) total);
        else
            fprintf (out, "%s_bucket{role=\"%s\",le=\"+Inf\"} %llu\n", name, self->role,
                     (unsigned long long) total);
    }
    fprintf (out, "%s_sum{role=\"%s\"} %.6f\n", name, self->role, sum);
    fprintf (out, "%s_count{role=\"%s\"} %llu\n", name, self->role,
             (unsigned long long) total);
}

static void
s_render (FILE *out, metrics_t *self)
{
    const char *role = self->role;
    s_header (out, "chat_build_info", "gauge", "The server's role and version.");
    fprintf (out, "chat_build_info{role=\"%s\",version=\"%s\"} 1\n", role, self->version);
    s_single (out, self, "chat_start_time_seconds", "gauge",
              "When the server started, unix time.", (uint64_t) self->started_at);

    s_header (out, "chat_sessions", "gauge",
              "Sessions by state: handshaking (RSA work under way), anonymous "
              "(channel up, not logged in), logged_in.");
    static const char *states [] = { "handshaking", "anonymous", "logged_in" };
    for (size_t index = 0; index < 3; index++)
        fprintf (out, "chat_sessions{role=\"%s\",state=\"%s\"} %llu\n", role, states [index],
                 (unsigned long long) s_get (&self->sessions [index]));

    s_header (out, "chat_handshakes_total", "counter",
              "Hellos answered, by result: OK (a session was made) or the refusal's code.");
    s_by_code (out, self, "chat_handshakes_total", "result", self->handshakes);
    s_header (out, "chat_channel_refusals_total", "counter",
              "Frames the secure channel refused (Hellos included), by error code.");
    s_by_code (out, self, "chat_channel_refusals_total", "code", self->refusals);

    s_header (out, "chat_requests_total", "counter",
              "Requests handled, by kind and the code they were answered with.");
    size_t kinds = atomic_load_explicit (&self->kinds.count, memory_order_acquire);
    for (size_t kind = 0; kind <= METRICS_MAX_KINDS; kind++) {
        const char *name = s_slot_name (&self->kinds, kind, kinds);
        for (size_t code = 0; name && code < METRICS_MAX_CODES; code++) {
            uint64_t value = s_get (&self->requests [kind][code]);
            if (value)
                fprintf (out, "chat_requests_total{role=\"%s\",kind=\"%s\",code=\"%s\"} %llu\n",
                         role, name, s_code_name (code), (unsigned long long) value);
        }
    }
    s_header (out, "chat_quota_refusals_total", "counter",
              "Requests refused for a per-user quota, by quota.");
    size_t quotas = atomic_load_explicit (&self->quotas.count, memory_order_acquire);
    for (size_t quota = 0; quota <= METRICS_MAX_KINDS; quota++) {
        const char *name = s_slot_name (&self->quotas, quota, quotas);
        uint64_t value = name ? s_get (&self->quota_refusals [quota]) : 0;
        if (value)
            fprintf (out, "chat_quota_refusals_total{role=\"%s\",quota=\"%s\"} %llu\n", role,
                     name, (unsigned long long) value);
    }

    s_header (out, "chat_commit_seconds", "histogram",
              "Time taken by each COMMIT of a batch (group commit).");
    s_histogram (out, self, "chat_commit_seconds", s_commit_bounds, self->commit_buckets,
                 COMMIT_BUCKETS, (double) s_get (&self->commit_usec_sum) / 1e6);
    s_header (out, "chat_commit_batch_requests", "histogram",
              "Requests committed together in one transaction.");
    s_histogram (out, self, "chat_commit_batch_requests", s_batch_bounds, self->batch_buckets,
                 BATCH_BUCKETS, (double) s_get (&self->batch_sum));
    s_single (out, self, "chat_commit_failures_total", "counter",
              "Batches whose COMMIT failed (every reply became ERR_INTERNAL).",
              s_get (&self->commit_failures));
    if (self->pushes_shown) {
        s_header (out, "chat_pushes_total", "counter",
                  "Pushes published to sessions, by result.");
        fprintf (out, "chat_pushes_total{role=\"%s\",result=\"sent\"} %llu\n", role,
                 (unsigned long long) s_get (&self->pushes_sent));
        fprintf (out, "chat_pushes_total{role=\"%s\",result=\"failed\"} %llu\n", role,
                 (unsigned long long) s_get (&self->pushes_failed));
        s_single (out, self, "chat_push_queue_depth", "gauge",
                  "Pushes waiting to be sealed and published.", s_get (&self->push_queue));
        s_single (out, self, "chat_push_queue_depth_max", "gauge",
                  "The deepest the push queue has been since start.",
                  s_get (&self->push_queue_max));
    }
    s_single (out, self, "chat_store_bytes", "gauge",
              "Size of the server's database files (main file and write-ahead log).",
              s_get (&self->store_bytes));
}

char *
metrics_render (metrics_t *self)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return NULL;
    if (self)
        s_render (out, self);
    if (fclose (out) != 0) {
        free (text);
        return NULL;
    }
    return text;
}
