/*  keystore - what the key server keeps on disk: users and conversation keys

    The one narrow interface the key server reaches its data through
    (DESIGN.md section 6); SQLite is its one implementation. Nothing above
    this file knows it is SQL. Outside keystore_begin, every write is
    committed (synchronous=FULL, WAL) before the call returns; inside it,
    at the outermost keystore_commit. A reply sent after that commit
    survives kill -9 and power loss.

    Users are unique case-insensitively; the spelling given at registration
    is kept and returned by lookups.
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
#define KEYSTORE_KEY_SIZE 32                //  a conversation key (Fernet)
#define KEYSTORE_SCHEMA_VERSION 1

typedef struct _keystore_t keystore_t;

//  One user: only what SCRAM needs, and when it was made.
typedef struct {
    char username [USERNAME_MAX + 1];
    uint8_t salt [KEYSTORE_SALT_MAX];
    size_t salt_len;
    uint32_t iterations;
    uint8_t stored_key [SCRAM_KEY_SIZE];
    uint8_t server_key [SCRAM_KEY_SIZE];
    int64_t created_at;                     //  unix ms
} keystore_user_t;

//  Open (or create) the database at path and bring its schema up to
//  KEYSTORE_SCHEMA_VERSION. NULL on failure (logged). A database written by
//  a newer version is refused rather than guessed at.
keystore_t *
    keystore_open (const char *path);
void
    keystore_destroy (keystore_t **self_p);

//  Insert a new user. CHAT_OK, CHAT_ERR_USERNAME_TAKEN (same name in any
//  case), CHAT_ERR_BAD_REQUEST (fields out of range) or CHAT_ERR_INTERNAL.
int
    keystore_user_insert (keystore_t *self, const keystore_user_t *user);

//  Look a user up by name, in any case. CHAT_OK and *user filled,
//  CHAT_ERR_NOT_FOUND, or CHAT_ERR_INTERNAL.
int
    keystore_user_lookup (keystore_t *self, const char *username,
                          keystore_user_t *user);

//  Visit users in creation order, at most limit of them (0: all); fn
//  returns non-zero to stop. CHAT_OK or CHAT_ERR_INTERNAL.
typedef int (keystore_user_fn) (const keystore_user_t *user, void *arg);
int
    keystore_user_each (keystore_t *self, size_t limit,
                        keystore_user_fn *fn, void *arg);

//  Store candidate as the key of conversation id unless it has one, and
//  give the key it has now in key. CHAT_OK or CHAT_ERR_INTERNAL.
int
    keystore_key_create (keystore_t *self,
                         const uint8_t id [CONVERSATION_ID_SIZE],
                         const uint8_t candidate [KEYSTORE_KEY_SIZE],
                         uint8_t key [KEYSTORE_KEY_SIZE]);

//  The key of conversation id. CHAT_OK, CHAT_ERR_NOT_FOUND or
//  CHAT_ERR_INTERNAL.
int
    keystore_key_get (keystore_t *self,
                      const uint8_t id [CONVERSATION_ID_SIZE],
                      uint8_t key [KEYSTORE_KEY_SIZE]);

//  How many users / conversation keys; -1 on failure.
int64_t
    keystore_user_count (keystore_t *self);
int64_t
    keystore_key_count (keystore_t *self);

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
