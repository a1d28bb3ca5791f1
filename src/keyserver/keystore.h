/*  keystore - what the key server keeps on disk: users (SCRAM verifiers,
    identity public key, sealed identity) and the wrapped epoch keys

    The one narrow interface the key server reaches its data through
    (DESIGN.md section 6), opened by URL: a path or sqlite:PATH is SQLite
    (keystore_sqlite.c, one server), postgresql://... or postgres://... is
    PostgreSQL (keystore_pg.c: several key servers on one database).
    Nothing above this file knows it is SQL. Outside keystore_begin, every
    write is committed (SQLite: synchronous=FULL, WAL; PostgreSQL: fsync and
    synchronous_commit on, checked at open) before the call returns; inside
    it, at the outermost keystore_commit. A reply sent after that commit
    survives kill -9 and power loss.

    No conversation key is ever held here in the clear: an epoch key is
    stored only as the copies its maker wrapped for each member's identity
    key (RSA-OAEP), which this server cannot open. Users are unique
    case-insensitively; the spelling given at registration is kept and
    returned by lookups.

    Schema version 2 (protocol 2). A database of schema version 1 (protocol
    1, with conversation keys in the clear and users without identity keys)
    is refused with a message saying why: it cannot be carried over.
*/
#ifndef KEYSTORE_H_INCLUDED
#define KEYSTORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "credential.h"
#include "scram.h"

#define KEYSTORE_SALT_MIN 16
#define KEYSTORE_SALT_MAX 64
#define KEYSTORE_IDENTITY_MAX 1024          //  DER of an identity public key
                                            //  (RSA 4096 takes 550 bytes)
#define KEYSTORE_SEALED_MAX 8192            //  bytes of a sealed identity
#define KEYSTORE_WRAPPED_MIN 256            //  a wrapped epoch key: RSA 2048 ..
#define KEYSTORE_WRAPPED_MAX 512            //  .. RSA 4096 OAEP output
#define KEYSTORE_SCHEMA_VERSION 2

typedef struct _keystore_t keystore_t;

//  One user: what SCRAM needs, the identity public key, and when it was
//  made. The sealed identity is read on its own (keystore_user_sealed).
typedef struct {
    char username [USERNAME_MAX + 1];
    uint8_t salt [KEYSTORE_SALT_MAX];
    size_t salt_len;
    uint32_t iterations;
    uint8_t stored_key [SCRAM_KEY_SIZE];
    uint8_t server_key [SCRAM_KEY_SIZE];
    uint8_t identity [KEYSTORE_IDENTITY_MAX];   //  DER SubjectPublicKeyInfo
    size_t identity_len;
    int64_t created_at;                         //  unix ms
} keystore_user_t;

//  One member's wrapped copy of an epoch key, as put_keys gives it.
typedef struct {
    const char *username;                   //  canonical spelling
    const uint8_t *wrapped;
    size_t wrapped_len;
} keystore_wrapped_t;

//  Open (or create) the store at url with schema KEYSTORE_SCHEMA_VERSION
//  (made or migrated by this call). NULL on failure (logged, never with a
//  postgresql URL, which may hold a password): also a database of protocol
//  1, one written by a newer version (never guessed at), or a PostgreSQL
//  server that does not flush its commits to disk.
keystore_t *
    keystore_open (const char *url);
void
    keystore_destroy (keystore_t **self_p);

//  "sqlite" or "postgresql"
const char *
    keystore_engine (keystore_t *self);

//  The cluster's mark: a value the key servers derive from their own
//  secret (never the secret itself). Key servers sharing one store must
//  share that secret (their resume tokens and fake salts come from it), so
//  the first to start records its mark and a later one with another mark
//  is refused: CHAT_OK (recorded now, or the same), CHAT_ERR_KEY_EXISTS
//  (another is recorded) or CHAT_ERR_INTERNAL. SQLite (one server, its
//  file beside its secret) records nothing and answers CHAT_OK.
int
    keystore_cluster_mark (keystore_t *self, const uint8_t mark [32]);

//  ---------------------------------------------------------------- users

//  Insert a new user with its sealed identity. CHAT_OK,
//  CHAT_ERR_USERNAME_TAKEN (same name in any case), CHAT_ERR_BAD_REQUEST
//  (fields out of range) or CHAT_ERR_INTERNAL.
int
    keystore_user_insert (keystore_t *self, const keystore_user_t *user,
                          const uint8_t *sealed, size_t sealed_len);

//  Look a user up by name, in any case. CHAT_OK and *user filled,
//  CHAT_ERR_NOT_FOUND, or CHAT_ERR_INTERNAL.
int
    keystore_user_lookup (keystore_t *self, const char *username,
                          keystore_user_t *user);

//  The user's sealed identity: CHAT_OK and a malloc'd copy (NUL added, not
//  counted), CHAT_ERR_NOT_FOUND or CHAT_ERR_INTERNAL.
int
    keystore_user_sealed (keystore_t *self, const char *username,
                          uint8_t **sealed, size_t *sealed_len);

//  Replace the user's salt, iterations and verifiers (from user; its
//  username names the row, in any case) and sealed identity, in one
//  statement: all of it or nothing. CHAT_OK, CHAT_ERR_NOT_FOUND,
//  CHAT_ERR_BAD_REQUEST (fields out of range) or CHAT_ERR_INTERNAL.
int
    keystore_user_update_password (keystore_t *self, const keystore_user_t *user,
                                   const uint8_t *sealed, size_t sealed_len);

//  Visit users in creation order, at most limit of them (0: all); fn
//  returns non-zero to stop. CHAT_OK or CHAT_ERR_INTERNAL.
typedef int (keystore_user_fn) (const keystore_user_t *user, void *arg);
int
    keystore_user_each (keystore_t *self, size_t limit,
                        keystore_user_fn *fn, void *arg);

//  ---------------------------------------------------------------- epoch keys

//  Store the wrapped keys of epoch `epoch` of a conversation, made by
//  uploader: one per member (names checked by the caller against the
//  ticket). The first set stored for an epoch is final: the very same set
//  again (same uploader, same names in any case and order, same bytes)
//  gives CHAT_OK with *duplicate true and stores nothing; any other set
//  gives CHAT_ERR_KEY_EXISTS. CHAT_ERR_BAD_REQUEST for a wrapped key of a
//  size outside KEYSTORE_WRAPPED_MIN..MAX or a name twice; CHAT_ERR_INTERNAL.
int
    keystore_keys_put (keystore_t *self, const uint8_t id [CONVERSATION_ID_SIZE],
                       uint64_t epoch, const char *uploader,
                       const keystore_wrapped_t *keys, size_t count, int64_t now_ms,
                       bool *duplicate);

//  The copies wrapped for member (any case) in the conversation, epochs
//  >= from_epoch in ascending order, at most limit of them: fn gets each
//  (return non-zero to stop). CHAT_OK or CHAT_ERR_INTERNAL.
typedef int (keystore_key_fn) (uint64_t epoch, const uint8_t *wrapped, size_t len,
                               const char *uploader, void *arg);
int
    keystore_keys_of (keystore_t *self, const uint8_t id [CONVERSATION_ID_SIZE],
                      const char *member, uint64_t from_epoch, size_t limit,
                      keystore_key_fn *fn, void *arg);

//  How many users / epoch key sets / wrapped copies; -1 on failure.
int64_t
    keystore_user_count (keystore_t *self);
int64_t
    keystore_key_set_count (keystore_t *self);
int64_t
    keystore_wrapped_count (keystore_t *self);
//  How many wrapped copies are held for one member; -1 on failure.
int64_t
    keystore_wrapped_count_of (keystore_t *self, const char *member);

//  ---------------------------------------------------------------- transactions

//  Group several writes into one commit. Calls nest: only the outermost
//  commit writes. CHAT_OK or CHAT_ERR_INTERNAL; a failed commit rolls back.
int
    keystore_begin (keystore_t *self);
int
    keystore_commit (keystore_t *self);
void
    keystore_rollback (keystore_t *self);

//  A savepoint around one request's writes inside a keystore_begin batch,
//  so that a request that fails takes back its own writes and nothing
//  else. Savepoints nest; outside keystore_begin the outermost release
//  commits. CHAT_OK or CHAT_ERR_INTERNAL (also when the batch transaction
//  is gone: SQLite rolled it back). A failed release rolls back.
int
    keystore_savepoint (keystore_t *self);
int
    keystore_release (keystore_t *self);
void
    keystore_savepoint_rollback (keystore_t *self);

#endif
