/*  keystore - the key store opened by URL, calling through to its engine
    (keystore_backend.h) after checking what it is given; see keystore.h  */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <czmq.h>
#include "chaterror.h"
#include "keystore.h"
#include "keystore_backend.h"
#include "keystore_pg.h"
#include "keystore_rules.h"
#include "keystore_sqlite.h"

struct _keystore_t {
    const keystore_backend_t *backend;
    keystore_db_t *db;
};

//  The engine a URL names and where, in the URL, its location starts
static const keystore_backend_t *
s_backend (const char *url, const char **location)
{
    if (strncmp (url, "postgresql://", 13) == 0 || strncmp (url, "postgres://", 11) == 0) {
        *location = url;
        return &keystore_pg_backend;
    }
    *location = strncmp (url, "sqlite:", 7) == 0? url + 7: url;
    return &keystore_sqlite_backend;
}

keystore_t *
keystore_open (const char *url)
{
    assert (url);
    const char *location;
    const keystore_backend_t *backend = s_backend (url, &location);
    if (!*location) {
        zsys_error ("keystore: the store's location names no database");
        return NULL;
    }
    keystore_db_t *db = backend->open (location);
    if (!db)
        return NULL;
    keystore_t *self = (keystore_t *) zmalloc (sizeof (keystore_t));
    assert (self);
    self->backend = backend;
    self->db = db;
    return self;
}

void
keystore_destroy (keystore_t **self_p)
{
    assert (self_p);
    keystore_t *self = *self_p;
    if (self) {
        self->backend->destroy (&self->db);
        free (self);
        *self_p = NULL;
    }
}

const char *
keystore_engine (keystore_t *self)
{
    assert (self);
    return self->backend->name;
}

int
keystore_cluster_mark (keystore_t *self, const uint8_t mark [32])
{
    assert (self && mark);
    if (!self->backend->cluster_mark)
        return CHAT_OK;
    uint8_t stored [32];
    int rc = self->backend->cluster_mark (self->db, mark, stored);
    if (rc == CHAT_OK && CRYPTO_memcmp (stored, mark, sizeof stored) != 0)
        rc = CHAT_ERR_KEY_EXISTS;
    return rc;
}

//  ---------------------------------------------------------------- transactions

int
keystore_begin (keystore_t *self)
{
    assert (self);
    return self->backend->begin (self->db);
}

int
keystore_commit (keystore_t *self)
{
    assert (self);
    return self->backend->commit (self->db);
}

void
keystore_rollback (keystore_t *self)
{
    assert (self);
    self->backend->rollback (self->db);
}

int
keystore_savepoint (keystore_t *self)
{
    assert (self);
    return self->backend->savepoint (self->db);
}

int
keystore_release (keystore_t *self)
{
    assert (self);
    return self->backend->release (self->db);
}

void
keystore_savepoint_rollback (keystore_t *self)
{
    assert (self);
    self->backend->savepoint_rollback (self->db);
}

//  ---------------------------------------------------------------- users

int
keystore_user_insert (keystore_t *self, const keystore_user_t *user,
                      const uint8_t *sealed, size_t sealed_len)
{
    assert (self);
    assert (user);
    if (!credential_username_valid (user->username) || !keystore_rules_scram_valid (user)
    ||  user->identity_len == 0 || user->identity_len > KEYSTORE_IDENTITY_MAX
    ||  !keystore_rules_sealed_valid (sealed, sealed_len))
        return CHAT_ERR_BAD_REQUEST;
    return self->backend->user_insert (self->db, user, sealed, sealed_len);
}

int
keystore_user_lookup (keystore_t *self, const char *username, keystore_user_t *user)
{
    assert (self && username && user);
    return self->backend->user_lookup (self->db, username, user);
}

int
keystore_user_sealed (keystore_t *self, const char *username,
                      uint8_t **sealed, size_t *sealed_len)
{
    assert (self && username && sealed && sealed_len);
    *sealed = NULL;
    *sealed_len = 0;
    return self->backend->user_sealed (self->db, username, sealed, sealed_len);
}

int
keystore_user_update_password (keystore_t *self, const keystore_user_t *user,
                               const uint8_t *sealed, size_t sealed_len)
{
    assert (self && user);
    if (!keystore_rules_scram_valid (user) || !keystore_rules_sealed_valid (sealed, sealed_len))
        return CHAT_ERR_BAD_REQUEST;
    return self->backend->user_update_password (self->db, user, sealed, sealed_len);
}

int
keystore_user_each (keystore_t *self, size_t limit, keystore_user_fn *fn, void *arg)
{
    assert (self && fn);
    return self->backend->user_each (self->db, limit, fn, arg);
}

//  ---------------------------------------------------------------- epoch keys

int
keystore_keys_put (keystore_t *self, const uint8_t id [CONVERSATION_ID_SIZE],
                   uint64_t epoch, const char *uploader,
                   const keystore_wrapped_t *keys, size_t count, int64_t now_ms,
                   bool *duplicate)
{
    assert (self && id && uploader && duplicate);
    *duplicate = false;
    if (epoch == 0 || epoch > INT64_MAX || count == 0 || !keys
    ||  !credential_username_valid (uploader))
        return CHAT_ERR_BAD_REQUEST;
    for (size_t i = 0; i < count; i++)
        if (!credential_username_valid (keys [i].username) || !keys [i].wrapped
        ||  keys [i].wrapped_len < KEYSTORE_WRAPPED_MIN
        ||  keys [i].wrapped_len > KEYSTORE_WRAPPED_MAX)
            return CHAT_ERR_BAD_REQUEST;

    keystore_wrapped_t *sorted = (keystore_wrapped_t *) malloc (count * sizeof *sorted);
    if (!sorted)
        return CHAT_ERR_INTERNAL;
    memcpy (sorted, keys, count * sizeof *sorted);
    uint8_t hash [32];
    int rc = keystore_rules_set_hash (sorted, count, hash);
    if (rc != 0) {
        free (sorted);
        return rc == -1? CHAT_ERR_BAD_REQUEST: CHAT_ERR_INTERNAL;
    }
    char stored_uploader [USERNAME_MAX + 1];
    uint8_t stored_hash [32];
    rc = self->backend->keys_put (self->db, id, epoch, uploader, sorted, count, hash,
                                  now_ms, stored_uploader, stored_hash);
    //  The first set is final; only a retry of that very set is welcome
    if (rc == CHAT_ERR_KEY_EXISTS && strcmp (stored_uploader, uploader) == 0
    &&  CRYPTO_memcmp (stored_hash, hash, sizeof hash) == 0) {
        *duplicate = true;
        rc = CHAT_OK;
    }
    free (sorted);
    return rc;
}

int
keystore_keys_of (keystore_t *self, const uint8_t id [CONVERSATION_ID_SIZE],
                  const char *member, uint64_t from_epoch, size_t limit,
                  keystore_key_fn *fn, void *arg)
{
    assert (self && id && member && fn);
    if (from_epoch > INT64_MAX)
        return CHAT_OK;             //  nothing can be that late
    return self->backend->keys_of (self->db, id, member, from_epoch, limit, fn, arg);
}

int64_t
keystore_user_count (keystore_t *self)
{
    assert (self);
    return self->backend->count (self->db, KEYSTORE_COUNT_USERS);
}

int64_t
keystore_key_set_count (keystore_t *self)
{
    assert (self);
    return self->backend->count (self->db, KEYSTORE_COUNT_KEY_SETS);
}

int64_t
keystore_wrapped_count (keystore_t *self)
{
    assert (self);
    return self->backend->count (self->db, KEYSTORE_COUNT_WRAPPED);
}

int64_t
keystore_wrapped_count_of (keystore_t *self, const char *member)
{
    assert (self && member);
    return self->backend->wrapped_count_of (self->db, member);
}
