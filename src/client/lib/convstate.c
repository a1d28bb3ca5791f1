/*  convstate - what a client has verified of one conversation; see
    convstate.h
*/
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "convstate.h"
#include "chaterror.h"
#include "codec.h"
#include "credential.h"
#include "secret.h"

//  One verified epoch.
typedef struct {
    char **members;                 //  as the statement spells them
    size_t member_count;
    uint8_t check [EPOCHKEY_CHECK_SIZE];
    bool keyed;                     //  has a key check (not a LEAVE)
    uint8_t key [EPOCHKEY_SIZE];
    bool have_key;
} epoch_t;

struct _convstate_t {
    uint8_t id [CONVERSATION_ID_SIZE];
    chain_t *chain;
    epoch_t *epochs;                //  [0] is epoch 1
    size_t count, alloc;
    bool changed;
    zhashx_t *seen;                 //  "sender\0hex(cmid)" -> seq
};

static void
s_seq_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

convstate_t *
convstate_new (const uint8_t id [CONVERSATION_ID_SIZE])
{
    convstate_t *self = (convstate_t *) calloc (1, sizeof (convstate_t));
    assert (self);
    memcpy (self->id, id, CONVERSATION_ID_SIZE);
    self->chain = chain_new ();
    self->seen = zhashx_new ();
    assert (self->chain && self->seen);
    zhashx_set_destructor (self->seen, s_seq_destroy);
    return self;
}

void
convstate_destroy (convstate_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    convstate_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        epoch_t *epoch = &self->epochs [i];
        for (size_t m = 0; m < epoch->member_count; m++)
            free (epoch->members [m]);
        free (epoch->members);
        secret_wipe (epoch->key, sizeof (epoch->key));
    }
    free (self->epochs);
    chain_destroy (&self->chain);
    zhashx_destroy (&self->seen);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------- chain

//  The head just appended becomes epoch number count + 1.
static void
s_record (convstate_t *self)
{
    const Chat__MembershipStatement *head = chain_head (self->chain);
    if (self->count == self->alloc) {
        self->alloc = self->alloc? self->alloc * 2: 4;
        self->epochs = (epoch_t *) realloc (self->epochs, self->alloc * sizeof (epoch_t));
        assert (self->epochs);
    }
    epoch_t *epoch = &self->epochs [self->count++];
    memset (epoch, 0, sizeof (*epoch));
    epoch->members = (char **) calloc (head->n_members + 1, sizeof (char *));
    assert (epoch->members);
    for (size_t i = 0; i < head->n_members; i++)
        epoch->members [i] = strdup (head->members [i]);
    epoch->member_count = head->n_members;
    epoch->keyed = head->key_check.len == EPOCHKEY_CHECK_SIZE;
    if (epoch->keyed)
        memcpy (epoch->check, head->key_check.data, EPOCHKEY_CHECK_SIZE);
}

int
convstate_append (convstate_t *self, const Chat__SignedStatement *link, rsakey_t *actor_key,
                  bool changed)
{
    int rc = chain_append (self->chain, link, actor_key);
    if (rc != CHAT_OK)
        return rc;
    //  chain_append refuses a first link of another conversation only by
    //  its own rules; a chain of another conversation than this one is not
    //  this conversation's, whatever it says
    const Chat__MembershipStatement *head = chain_head (self->chain);
    if (head->conversation_id.len != CONVERSATION_ID_SIZE
    ||  memcmp (head->conversation_id.data, self->id, CONVERSATION_ID_SIZE) != 0) {
        chain_destroy (&self->chain);
        self->chain = chain_new ();
        assert (self->chain);
        return CHAT_ERR_BAD_STATEMENT;
    }
    assert (chain_epoch (self->chain) == self->count + 1);
    s_record (self);
    if (changed)
        self->changed = true;
    return CHAT_OK;
}

uint64_t
convstate_epoch (convstate_t *self)
{
    return self->count;
}

chain_t *
convstate_chain (convstate_t *self)
{
    return self->chain;
}

const Chat__MembershipStatement *
convstate_head (convstate_t *self)
{
    return chain_head (self->chain);
}

static epoch_t *
s_epoch (convstate_t *self, uint64_t epoch)
{
    return epoch >= 1 && epoch <= self->count? &self->epochs [epoch - 1]: NULL;
}

bool
convstate_member (convstate_t *self, uint64_t number, const char *name)
{
    epoch_t *epoch = s_epoch (self, number);
    if (!epoch || !name)
        return false;
    for (size_t i = 0; i < epoch->member_count; i++)
        if (credential_username_compare (epoch->members [i], name) == 0)
            return true;
    return false;
}

bool
convstate_keyed (convstate_t *self, uint64_t number)
{
    epoch_t *epoch = s_epoch (self, number);
    return epoch && epoch->keyed;
}

bool
convstate_changed (convstate_t *self)
{
    return self->changed;
}

//  ---------------------------------------------------------------- keys

int
convstate_put_key (convstate_t *self, uint64_t number, const uint8_t key [EPOCHKEY_SIZE])
{
    epoch_t *epoch = s_epoch (self, number);
    if (!epoch)
        return CHAT_ERR_NOT_FOUND;
    if (epoch->have_key)
        return CHAT_OK;
    if (!epoch->keyed
    ||  epochkey_verify (key, self->id, number, epoch->check, EPOCHKEY_CHECK_SIZE) != CHAT_OK)
        return CHAT_ERR_BAD_MAC;
    memcpy (epoch->key, key, EPOCHKEY_SIZE);
    epoch->have_key = true;
    return CHAT_OK;
}

int
convstate_take_key (convstate_t *self, uint64_t number, rsakey_t *identity,
                    const uint8_t *wrapped, size_t wrapped_len)
{
    epoch_t *epoch = s_epoch (self, number);
    if (!epoch)
        return CHAT_ERR_NOT_FOUND;
    if (epoch->have_key)
        return CHAT_OK;
    uint8_t key [EPOCHKEY_SIZE];
    int rc = epochkey_unwrap (identity, wrapped, wrapped_len, key);
    if (rc == CHAT_OK)
        rc = convstate_put_key (self, number, key);
    secret_wipe (key, sizeof (key));
    return rc;
}

const uint8_t *
convstate_key (convstate_t *self, uint64_t number)
{
    epoch_t *epoch = s_epoch (self, number);
    return epoch && epoch->have_key? epoch->key: NULL;
}

uint64_t
convstate_first_missing_key (convstate_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->epochs [i].keyed && !self->epochs [i].have_key)
            return i + 1;
    return 0;
}

//  ---------------------------------------------------------------- messages

int
convstate_note_message (convstate_t *self, const char *sender,
                        const uint8_t client_message_id [16], uint64_t seq)
{
    char lower [USERNAME_MAX + 1];
    credential_username_fold (sender, lower, sizeof (lower));
    char *hex = codec_hex (client_message_id, 16);
    assert (hex);
    char *name = zsys_sprintf ("%s %s", lower, hex);
    free (hex);
    assert (name);
    uint64_t *seen = (uint64_t *) zhashx_lookup (self->seen, name);
    int rc = CHAT_OK;
    if (seen)
        rc = *seen == seq? CHAT_OK: CHAT_ERR_REPLAYED;
    else {
        uint64_t *copy = (uint64_t *) malloc (sizeof (uint64_t));
        assert (copy);
        *copy = seq;
        zhashx_insert (self->seen, name, copy);
    }
    zstr_free (&name);
    return rc;
}
