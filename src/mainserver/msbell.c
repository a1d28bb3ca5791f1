/*  msbell - the cluster's doorbell; see msbell.h  */
#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include "chaterror.h"
#include "codec.h"
#include "msbell.h"

//  What a batch did to one conversation
typedef struct {
    uint8_t id [MSGSTORE_ID_SIZE];
    uint64_t first;             //  0: no message
    uint64_t last;
    bool changed;
} noted_t;

struct _msbell_t {
    zhashx_t *noted;            //  hex id -> noted_t, this batch
    zlistx_t *order;            //  the noted_t in the order first noted
    zhashx_t *pushed;           //  hex id -> uint64_t *, last seq pushed here
};

msbell_t *
msbell_new (void)
{
    msbell_t *self = (msbell_t *) zmalloc (sizeof *self);
    assert (self);
    self->noted = zhashx_new ();
    self->order = zlistx_new ();
    self->pushed = zhashx_new ();
    assert (self->noted && self->order && self->pushed);
    zhashx_set_destructor (self->noted, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_destructor (self->pushed, (zhashx_destructor_fn *) zstr_free);
    return self;
}

void
msbell_destroy (msbell_t **self_p)
{
    assert (self_p);
    msbell_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->order);
        zhashx_destroy (&self->noted);
        zhashx_destroy (&self->pushed);
        free (self);
        *self_p = NULL;
    }
}

static noted_t *
s_noted (msbell_t *self, const uint8_t id [MSGSTORE_ID_SIZE])
{
    char key [MSGSTORE_ID_SIZE * 2 + 1];
    codec_hex_into (id, MSGSTORE_ID_SIZE, key);
    noted_t *noted = (noted_t *) zhashx_lookup (self->noted, key);
    if (!noted) {
        noted = (noted_t *) zmalloc (sizeof *noted);
        assert (noted);
        memcpy (noted->id, id, MSGSTORE_ID_SIZE);
        zhashx_insert (self->noted, key, noted);
        zlistx_add_end (self->order, noted);
    }
    return noted;
}

void
msbell_message (msbell_t *self, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t seq)
{
    assert (self && id);
    noted_t *noted = s_noted (self, id);
    if (noted->first == 0 || seq < noted->first)
        noted->first = seq;
    if (seq > noted->last)
        noted->last = seq;
    msbell_set_pushed (self, id, seq);
}

void
msbell_changed (msbell_t *self, const uint8_t id [MSGSTORE_ID_SIZE])
{
    assert (self && id);
    s_noted (self, id)->changed = true;
}

//  Send one payload kind ('m' or 'c'), split under the NOTIFY limit
static void
s_ring_kind (msbell_t *self, msgstore_t *store, char kind)
{
    char payload [MSGSTORE_NOTIFY_MAX + 1];
    size_t len = 0;
    noted_t *noted = (noted_t *) zlistx_first (self->order);
    while (true) {
        char entry [128] = "";
        if (noted && ((kind == 'm' && noted->first) || (kind == 'c' && noted->changed))) {
            char hex [MSGSTORE_ID_SIZE * 2 + 1];
            codec_hex_into (noted->id, MSGSTORE_ID_SIZE, hex);
            if (kind == 'm')
                snprintf (entry, sizeof entry, " %s:%" PRIu64 ":%" PRIu64, hex,
                          noted->first, noted->last);
            else
                snprintf (entry, sizeof entry, " %s", hex);
        }
        size_t entry_len = strlen (entry);
        //  Full, or at the end: ring what is there
        if ((!noted || len + entry_len > MSGSTORE_NOTIFY_MAX) && len > 1) {
            payload [len] = 0;
            if (msgstore_notify (store, MSBELL_CHANNEL, payload) != CHAT_OK)
                zsys_warning ("mainserver: the doorbell failed (%c, %zu bytes): the other "
                              "servers catch up later", kind, len);
            len = 0;
        }
        if (!noted)
            break;
        if (len == 0)
            payload [len++] = kind;
        memcpy (payload + len, entry, entry_len);
        len += entry_len;
        noted = (noted_t *) zlistx_next (self->order);
    }
}

void
msbell_ring (msbell_t *self, msgstore_t *store)
{
    assert (self && store);
    if (zlistx_size (self->order) > 0) {
        s_ring_kind (self, store, 'c');
        s_ring_kind (self, store, 'm');
    }
    msbell_clear (self);
}

void
msbell_clear (msbell_t *self)
{
    assert (self);
    zlistx_purge (self->order);
    zhashx_purge (self->noted);
}

bool
msbell_pushed (msbell_t *self, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t *seq)
{
    assert (self && id && seq);
    char key [MSGSTORE_ID_SIZE * 2 + 1];
    codec_hex_into (id, MSGSTORE_ID_SIZE, key);
    uint64_t *pushed = (uint64_t *) zhashx_lookup (self->pushed, key);
    if (pushed)
        *seq = *pushed;
    return pushed != NULL;
}

void
msbell_set_pushed (msbell_t *self, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t seq)
{
    assert (self && id);
    char key [MSGSTORE_ID_SIZE * 2 + 1];
    codec_hex_into (id, MSGSTORE_ID_SIZE, key);
    uint64_t *pushed = (uint64_t *) zhashx_lookup (self->pushed, key);
    if (pushed) {
        if (seq > *pushed)
            *pushed = seq;
        return;
    }
    //  A bound on memory: past it, start again (at worst a message is
    //  pushed twice after a doorbell; clients drop a seq they hold)
    if (zhashx_size (self->pushed) >= MSBELL_PUSHED_MAX)
        zhashx_purge (self->pushed);
    pushed = (uint64_t *) zmalloc (sizeof *pushed);
    assert (pushed);
    *pushed = seq;
    zhashx_insert (self->pushed, key, pushed);
}
