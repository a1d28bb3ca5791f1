/*  pushkeys - a seal worker's push keys made ready, by session; see
    pushkeys.h

    Session ids are random (the server draws them), so their first bytes
    spread sessions over the slots evenly and nobody outside can aim at one
    slot. A hit needs the same session id and the same key, compared in
    constant time: a slot can never hand out another key's context.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "secret.h"
#include "pushkeys.h"

typedef struct {
    uint8_t session_id [CHANNEL_SESSION_ID_SIZE];
    uint8_t key [FERNET_KEY_SIZE];
    fernet_key_t *ready;                //  NULL: slot empty
} slot_t;

struct _pushkeys_t {
    slot_t *slots;
    size_t count;
    size_t made;
    size_t kept;
};

pushkeys_t *
pushkeys_new (size_t slots)
{
    pushkeys_t *self = (pushkeys_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->count = slots ? slots : 1;
    self->slots = (slot_t *) calloc (self->count, sizeof (slot_t));
    if (!self->slots) {
        free (self);
        return NULL;
    }
    return self;
}

static void
s_slot_clear (slot_t *slot)
{
    fernet_key_destroy (&slot->ready);
    secret_wipe (slot, sizeof *slot);
}

void
pushkeys_destroy (pushkeys_t **self_p)
{
    assert (self_p);
    pushkeys_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->count; i++)
            s_slot_clear (&self->slots [i]);
        free (self->slots);
        free (self);
        *self_p = NULL;
    }
}

fernet_key_t *
pushkeys_get (pushkeys_t *self, const uint8_t session_id [CHANNEL_SESSION_ID_SIZE],
              const uint8_t key [FERNET_KEY_SIZE])
{
    assert (self && session_id && key);
    //  Not the first byte: the pusher picks a session's worker by it, so
    //  within one worker it is nearly the same for every session.
    uint32_t spread;
    memcpy (&spread, session_id + 4, sizeof spread);
    slot_t *slot = &self->slots [spread % self->count];
    if (slot->ready
    &&  memcmp (slot->session_id, session_id, CHANNEL_SESSION_ID_SIZE) == 0
    &&  CRYPTO_memcmp (slot->key, key, FERNET_KEY_SIZE) == 0) {
        self->kept++;
        return slot->ready;
    }
    s_slot_clear (slot);
    slot->ready = fernet_key_new (key);
    if (!slot->ready)
        return NULL;
    memcpy (slot->session_id, session_id, CHANNEL_SESSION_ID_SIZE);
    memcpy (slot->key, key, FERNET_KEY_SIZE);
    self->made++;
    return slot->ready;
}

size_t
pushkeys_made (pushkeys_t *self)
{
    assert (self);
    return self->made;
}

size_t
pushkeys_kept (pushkeys_t *self)
{
    assert (self);
    return self->kept;
}
