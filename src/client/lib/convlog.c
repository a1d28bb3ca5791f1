/*  convlog - see convlog.h  */
#include <stdlib.h>
#include <string.h>
#include "convlog.h"
#include "secret.h"
#include "chaterror.h"

typedef struct {
    uint64_t seq;
    chatclient_message_t *msg;          //  NULL: a message that failed checks
} slot_t;

struct _convlog_t {
    uint64_t base;
    uint64_t seen;                      //  everything <= seen is accounted for
    chatclient_message_t **msgs;        //  stored, ascending seq
    size_t count, alloc;
    slot_t *held;                       //  seq > seen + 1, ascending
    size_t held_count, held_alloc;
};

convlog_t *
convlog_new (uint64_t base)
{
    convlog_t *self = calloc (1, sizeof (convlog_t));
    if (self)
        self->base = self->seen = base;
    return self;
}

void
convlog_message_clear (chatclient_message_t *msg)
{
    if (!msg)
        return;
    free (msg->sender);
    if (msg->text) {
        secret_wipe (msg->text, msg->text_len);
        free (msg->text);
    }
    msg->sender = msg->text = NULL;
}

void
convlog_message_free (chatclient_message_t **msg_p)
{
    if (msg_p && *msg_p) {
        convlog_message_clear (*msg_p);
        free (*msg_p);
        *msg_p = NULL;
    }
}

int
convlog_message_copy (chatclient_message_t *dest, const chatclient_message_t *src)
{
    *dest = *src;
    dest->sender = strdup (src->sender ? src->sender : "");
    dest->text = malloc (src->text_len + 1);
    if (!dest->sender || !dest->text) {
        free (dest->sender);
        free (dest->text);
        dest->sender = dest->text = NULL;
        return CHAT_ERR_INTERNAL;
    }
    if (src->text_len)
        memcpy (dest->text, src->text, src->text_len);
    dest->text [src->text_len] = 0;
    return CHAT_OK;
}

void
convlog_destroy (convlog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    convlog_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        convlog_message_free (&self->msgs [i]);
    for (size_t i = 0; i < self->held_count; i++)
        convlog_message_free (&self->held [i].msg);
    free (self->msgs);
    free (self->held);
    free (self);
    *self_p = NULL;
}

//  Index of the first stored message with seq >= seq.
static size_t
s_lower_bound (convlog_t *self, uint64_t seq)
{
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (self->msgs [mid]->seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool
s_store (convlog_t *self, chatclient_message_t *msg)
{
    size_t at = s_lower_bound (self, msg->seq);
    if (at < self->count && self->msgs [at]->seq == msg->seq)
        return false;
    if (self->count == self->alloc) {
        size_t alloc = self->alloc ? self->alloc * 2 : 16;
        chatclient_message_t **msgs = realloc (self->msgs, alloc * sizeof (*msgs));
        if (!msgs)
            return false;
        self->msgs = msgs;
        self->alloc = alloc;
    }
    memmove (self->msgs + at + 1, self->msgs + at,
             (self->count - at) * sizeof (*self->msgs));
    self->msgs [at] = msg;
    self->count++;
    return true;
}

convlog_result_t
convlog_offer (convlog_t *self, uint64_t seq, chatclient_message_t *msg)
{
    if (msg)
        msg->seq = seq;
    if (seq == 0) {
        convlog_message_free (&msg);
        return CONVLOG_DUPLICATE;
    }
    if (seq <= self->base) {
        //  history: stored in place, never held or counted as new
        if (!msg)
            return CONVLOG_HISTORY;
        if (!s_store (self, msg)) {
            convlog_message_free (&msg);
            return CONVLOG_DUPLICATE;
        }
        msg->live = false;
        return CONVLOG_HISTORY;
    }
    if (seq <= self->seen) {
        convlog_message_free (&msg);
        return CONVLOG_DUPLICATE;
    }
    //  into the held set (ascending, unique)
    size_t at = 0;
    while (at < self->held_count && self->held [at].seq < seq)
        at++;
    if (at < self->held_count && self->held [at].seq == seq) {
        convlog_message_free (&msg);
        return CONVLOG_DUPLICATE;
    }
    if (self->held_count == self->held_alloc) {
        size_t alloc = self->held_alloc ? self->held_alloc * 2 : 8;
        slot_t *held = realloc (self->held, alloc * sizeof (slot_t));
        if (!held) {
            convlog_message_free (&msg);
            return CONVLOG_DUPLICATE;
        }
        self->held = held;
        self->held_alloc = alloc;
    }
    memmove (self->held + at + 1, self->held + at,
             (self->held_count - at) * sizeof (slot_t));
    self->held [at].seq = seq;
    self->held [at].msg = msg;
    self->held_count++;
    return seq == self->seen + 1 ? CONVLOG_READY : CONVLOG_HELD;
}

chatclient_message_t *
convlog_next_ready (convlog_t *self)
{
    while (self->held_count && self->held [0].seq == self->seen + 1) {
        slot_t slot = self->held [0];
        memmove (self->held, self->held + 1,
                 (self->held_count - 1) * sizeof (slot_t));
        self->held_count--;
        self->seen = slot.seq;
        if (slot.msg) {
            if (s_store (self, slot.msg))
                return slot.msg;
            convlog_message_free (&slot.msg);
        }
    }
    return NULL;
}

uint64_t
convlog_seen (convlog_t *self)
{
    return self->seen;
}

uint64_t
convlog_base (convlog_t *self)
{
    return self->base;
}

bool
convlog_has_gap (convlog_t *self)
{
    return self->held_count > 0 && self->held [0].seq > self->seen + 1;
}

size_t
convlog_size (convlog_t *self)
{
    return self->count;
}

const chatclient_message_t *
convlog_at (convlog_t *self, size_t index)
{
    return index < self->count ? self->msgs [index] : NULL;
}
