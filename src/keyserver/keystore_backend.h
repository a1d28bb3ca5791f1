/*  keystore_backend - what one storage engine of keystore gives: the calls
    of keystore.h on the engine's own handle. keystore.c picks the engine
    from the URL it is opened with, checks every argument (the engines get
    only what keystore.h would store) and calls through this table; the
    engines (keystore_sqlite.c, keystore_pg.c) never call keystore.c.

    Each engine defines struct _keystore_db_t for itself (one per .c: the
    type is opaque everywhere else). The contracts are keystore.h's.
*/
#ifndef KEYSTORE_BACKEND_H_INCLUDED
#define KEYSTORE_BACKEND_H_INCLUDED

#include "keystore.h"

typedef struct _keystore_db_t keystore_db_t;

//  What the counts count
typedef enum {
    KEYSTORE_COUNT_USERS,
    KEYSTORE_COUNT_KEY_SETS,
    KEYSTORE_COUNT_WRAPPED
} keystore_count_t;

typedef struct {
    const char *name;                   //  "sqlite", "postgresql"
    keystore_db_t *(*open) (const char *location);
    void (*destroy) (keystore_db_t **self_p);
    int (*begin) (keystore_db_t *self);
    int (*commit) (keystore_db_t *self);
    void (*rollback) (keystore_db_t *self);
    int (*savepoint) (keystore_db_t *self);
    int (*release) (keystore_db_t *self);
    void (*savepoint_rollback) (keystore_db_t *self);
    //  user, sealed checked: CHAT_OK, CHAT_ERR_USERNAME_TAKEN, _INTERNAL
    int (*user_insert) (keystore_db_t *self, const keystore_user_t *user,
                        const uint8_t *sealed, size_t sealed_len);
    int (*user_lookup) (keystore_db_t *self, const char *username, keystore_user_t *user);
    int (*user_sealed) (keystore_db_t *self, const char *username,
                        uint8_t **sealed, size_t *sealed_len);
    int (*user_update_password) (keystore_db_t *self, const keystore_user_t *user,
                                 const uint8_t *sealed, size_t sealed_len);
    int (*user_each) (keystore_db_t *self, size_t limit, keystore_user_fn *fn, void *arg);
    //  keys checked and sorted by name (case folded), no name twice; hash
    //  is keystore.c's set hash of them. The first set of an epoch stays;
    //  the stored uploader and hash come back in *stored_uploader and
    //  stored_hash (CHAT_ERR_KEY_EXISTS) for keystore.c to compare, or the
    //  set is stored (CHAT_OK). Else CHAT_ERR_INTERNAL.
    int (*keys_put) (keystore_db_t *self, const uint8_t id [CONVERSATION_ID_SIZE],
                     uint64_t epoch, const char *uploader,
                     const keystore_wrapped_t *keys, size_t count,
                     const uint8_t hash [32], int64_t now_ms,
                     char stored_uploader [USERNAME_MAX + 1], uint8_t stored_hash [32]);
    int (*keys_of) (keystore_db_t *self, const uint8_t id [CONVERSATION_ID_SIZE],
                    const char *member, uint64_t from_epoch, size_t limit,
                    keystore_key_fn *fn, void *arg);
    int64_t (*count) (keystore_db_t *self, keystore_count_t what);
    int64_t (*wrapped_count_of) (keystore_db_t *self, const char *member);
    //  the mark recorded (CHAT_OK: *recorded set) or *recorded false for
    //  none and mark recorded now; NULL: the engine serves one server only
    int (*cluster_mark) (keystore_db_t *self, const uint8_t mark [32],
                         uint8_t stored [32]);
} keystore_backend_t;

#endif
