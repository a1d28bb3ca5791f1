/*  test_keystore - the key server's storage: schema (and the refusal of a
    protocol 1 database), users with identities, password updates, wrapped
    epoch keys, savepoints, reopen
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include "chaterror.h"
#include "faultvfs.h"
#include "keystore.h"

static char s_dir [64];
static char s_path [128];

static int
s_setup (void **state)
{
    (void) state;
    snprintf (s_dir, sizeof s_dir, "/tmp/ks-store-XXXXXX");
    if (!mkdtemp (s_dir))
        return -1;
    snprintf (s_path, sizeof s_path, "%s/test.db", s_dir);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    char path [160];
    const char *suffixes [] = { "", "-wal", "-shm", NULL };
    for (int i = 0; suffixes [i]; i++) {
        snprintf (path, sizeof path, "%s%s", s_path, suffixes [i]);
        unlink (path);
    }
    rmdir (s_dir);
    return 0;
}

#define SEALED "gAAAAA-a-sealed-identity-the-store-never-opens"

static void
s_user (keystore_user_t *user, const char *name, uint8_t fill)
{
    memset (user, 0, sizeof *user);
    snprintf (user->username, sizeof user->username, "%s", name);
    memset (user->salt, fill, 16);
    user->salt_len = 16;
    user->iterations = 4096;
    memset (user->stored_key, fill + 1, sizeof user->stored_key);
    memset (user->server_key, fill + 2, sizeof user->server_key);
    memset (user->identity, fill + 3, 300);
    user->identity_len = 300;
    user->created_at = 1234;
}

static int
s_insert (keystore_t *store, const keystore_user_t *user)
{
    return keystore_user_insert (store, user, (const uint8_t *) SEALED, strlen (SEALED));
}

static int
s_count_users (const keystore_user_t *user, void *arg)
{
    (void) user;
    (*(int *) arg)++;
    return 0;
}

static void
test_users (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    keystore_user_t user, found;
    s_user (&user, "Alice", 1);
    assert_int_equal (s_insert (store, &user), CHAT_OK);
    s_user (&user, "ALICE", 5);
    assert_int_equal (s_insert (store, &user), CHAT_ERR_USERNAME_TAKEN);
    s_user (&user, "bob", 9);
    user.salt_len = 8;
    assert_int_equal (s_insert (store, &user), CHAT_ERR_BAD_REQUEST);
    user.salt_len = 16;
    user.iterations = 10;
    assert_int_equal (s_insert (store, &user), CHAT_ERR_BAD_REQUEST);
    user.iterations = 4096;
    user.identity_len = 0;
    assert_int_equal (s_insert (store, &user), CHAT_ERR_BAD_REQUEST);
    user.identity_len = KEYSTORE_IDENTITY_MAX + 1;
    assert_int_equal (s_insert (store, &user), CHAT_ERR_BAD_REQUEST);
    user.identity_len = 300;
    //  A sealed identity must be there, and not too big
    assert_int_equal (keystore_user_insert (store, &user, (const uint8_t *) SEALED, 0),
                      CHAT_ERR_BAD_REQUEST);
    uint8_t *big = (uint8_t *) calloc (1, KEYSTORE_SEALED_MAX + 1);
    assert_int_equal (keystore_user_insert (store, &user, big, KEYSTORE_SEALED_MAX + 1),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (keystore_user_insert (store, &user, big, KEYSTORE_SEALED_MAX), CHAT_OK);
    free (big);
    snprintf (user.username, sizeof user.username, "a b");
    assert_int_equal (s_insert (store, &user), CHAT_ERR_BAD_REQUEST);

    assert_int_equal (keystore_user_lookup (store, "aLiCe", &found), CHAT_OK);
    assert_string_equal (found.username, "Alice");
    s_user (&user, "Alice", 1);
    assert_memory_equal (found.salt, user.salt, 16);
    assert_int_equal (found.salt_len, 16);
    assert_int_equal (found.iterations, 4096);
    assert_memory_equal (found.stored_key, user.stored_key, 32);
    assert_memory_equal (found.server_key, user.server_key, 32);
    assert_int_equal (found.identity_len, 300);
    assert_memory_equal (found.identity, user.identity, 300);
    assert_int_equal (found.created_at, 1234);
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    assert_int_equal (keystore_user_sealed (store, "ALICE", &sealed, &sealed_len), CHAT_OK);
    assert_int_equal (sealed_len, strlen (SEALED));
    assert_string_equal ((char *) sealed, SEALED);
    free (sealed);
    assert_int_equal (keystore_user_sealed (store, "nobody", &sealed, &sealed_len),
                      CHAT_ERR_NOT_FOUND);
    assert_int_equal (keystore_user_lookup (store, "carl", &found), CHAT_ERR_NOT_FOUND);
    assert_int_equal (keystore_user_count (store), 2);
    int count = 0;
    assert_int_equal (keystore_user_each (store, 0, s_count_users, &count), CHAT_OK);
    assert_int_equal (count, 2);
    count = 0;
    assert_int_equal (keystore_user_each (store, 1, s_count_users, &count), CHAT_OK);
    assert_int_equal (count, 1);
    keystore_destroy (&store);
    assert_null (store);
}

static void
test_password_update (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    keystore_user_t user, found;
    s_user (&user, "Carol", 1);
    assert_int_equal (s_insert (store, &user), CHAT_OK);

    //  New salt, count, verifiers and sealed identity, all at once
    keystore_user_t change;
    s_user (&change, "carol", 7);
    change.iterations = 5000;
    const char *resealed = "gAAAAA-sealed-again";
    assert_int_equal (keystore_user_update_password (store, &change,
                                                     (const uint8_t *) resealed,
                                                     strlen (resealed)), CHAT_OK);
    assert_int_equal (keystore_user_lookup (store, "Carol", &found), CHAT_OK);
    assert_string_equal (found.username, "Carol");
    assert_memory_equal (found.salt, change.salt, 16);
    assert_int_equal (found.iterations, 5000);
    assert_memory_equal (found.stored_key, change.stored_key, 32);
    assert_memory_equal (found.server_key, change.server_key, 32);
    //  The identity key is never touched by a password change
    assert_memory_equal (found.identity, user.identity, 300);
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    assert_int_equal (keystore_user_sealed (store, "carol", &sealed, &sealed_len), CHAT_OK);
    assert_string_equal ((char *) sealed, resealed);
    free (sealed);

    //  Refused fields change nothing
    s_user (&change, "carol", 9);
    change.salt_len = 4;
    assert_int_equal (keystore_user_update_password (store, &change,
                                                     (const uint8_t *) resealed, 5),
                      CHAT_ERR_BAD_REQUEST);
    change.salt_len = 16;
    assert_int_equal (keystore_user_update_password (store, &change, NULL, 0),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (keystore_user_lookup (store, "Carol", &found), CHAT_OK);
    assert_int_equal (found.iterations, 5000);
    s_user (&change, "nobody", 9);
    assert_int_equal (keystore_user_update_password (store, &change,
                                                     (const uint8_t *) resealed, 5),
                      CHAT_ERR_NOT_FOUND);
    keystore_destroy (&store);
}

//  Wrapped copies, as put_keys gives them
typedef struct {
    const char *names [4];
    uint8_t bytes [4][256];
    keystore_wrapped_t keys [4];
} set_t;

static void
s_set (set_t *set, const char *a, const char *b, uint8_t fill)
{
    set->names [0] = a;
    set->names [1] = b;
    for (int i = 0; i < 2; i++) {
        memset (set->bytes [i], fill + i, sizeof set->bytes [i]);
        set->keys [i].username = set->names [i];
        set->keys [i].wrapped = set->bytes [i];
        set->keys [i].wrapped_len = sizeof set->bytes [i];
    }
}

typedef struct {
    uint64_t epochs [1100];
    size_t count;
    uint8_t first_byte;
    char uploader [USERNAME_MAX + 1];
} got_t;

static int
s_collect (uint64_t epoch, const uint8_t *wrapped, size_t len, const char *uploader,
           void *arg)
{
    got_t *got = (got_t *) arg;
    assert_true (len >= 256);
    if (got->count == 0) {
        got->first_byte = wrapped [0];
        snprintf (got->uploader, sizeof got->uploader, "%s", uploader);
    }
    got->epochs [got->count++] = epoch;
    return 0;
}

static void
test_epoch_keys (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    uint8_t id [CONVERSATION_ID_SIZE] = { 1, 2, 3 };
    set_t set;
    bool duplicate = true;
    s_set (&set, "Dan", "Eve", 0x10);
    assert_int_equal (keystore_keys_put (store, id, 1, "Dan", set.keys, 2, 1, &duplicate),
                      CHAT_OK);
    assert_false (duplicate);
    //  The very same set, in another order and case: a duplicate
    s_set (&set, "eve", "DAN", 0x10);
    memset (set.bytes [0], 0x11, 256);
    memset (set.bytes [1], 0x10, 256);
    assert_int_equal (keystore_keys_put (store, id, 1, "Dan", set.keys, 2, 2, &duplicate),
                      CHAT_OK);
    assert_true (duplicate);
    //  Another set for that epoch: other bytes, other uploader, fewer members
    s_set (&set, "Dan", "Eve", 0x20);
    assert_int_equal (keystore_keys_put (store, id, 1, "Dan", set.keys, 2, 3, &duplicate),
                      CHAT_ERR_KEY_EXISTS);
    s_set (&set, "Dan", "Eve", 0x10);
    assert_int_equal (keystore_keys_put (store, id, 1, "Eve", set.keys, 2, 3, &duplicate),
                      CHAT_ERR_KEY_EXISTS);
    assert_int_equal (keystore_keys_put (store, id, 1, "Dan", set.keys, 1, 3, &duplicate),
                      CHAT_ERR_KEY_EXISTS);
    //  Malformed sets change nothing
    s_set (&set, "Dan", "dan", 0x30);
    assert_int_equal (keystore_keys_put (store, id, 2, "Dan", set.keys, 2, 3, &duplicate),
                      CHAT_ERR_BAD_REQUEST);
    s_set (&set, "Dan", "Eve", 0x30);
    set.keys [1].wrapped_len = 255;
    assert_int_equal (keystore_keys_put (store, id, 2, "Dan", set.keys, 2, 3, &duplicate),
                      CHAT_ERR_BAD_REQUEST);
    set.keys [1].wrapped_len = 256;
    assert_int_equal (keystore_keys_put (store, id, 0, "Dan", set.keys, 2, 3, &duplicate),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (keystore_key_set_count (store), 1);
    assert_int_equal (keystore_wrapped_count (store), 2);

    //  Each member gets its own copy only; others get nothing
    got_t got = { 0 };
    assert_int_equal (keystore_keys_of (store, id, "EVE", 0, 10, s_collect, &got), CHAT_OK);
    assert_int_equal (got.count, 1);
    assert_int_equal (got.epochs [0], 1);
    assert_int_equal (got.first_byte, 0x11);
    assert_string_equal (got.uploader, "Dan");
    memset (&got, 0, sizeof got);
    assert_int_equal (keystore_keys_of (store, id, "mallory", 0, 10, s_collect, &got),
                      CHAT_OK);
    assert_int_equal (got.count, 0);
    assert_int_equal (keystore_wrapped_count_of (store, "dan"), 1);
    assert_int_equal (keystore_wrapped_count_of (store, "mallory"), 0);

    //  Many epochs: ascending, from an epoch on, limited
    assert_int_equal (keystore_begin (store), CHAT_OK);
    for (uint64_t epoch = 2; epoch <= 1001; epoch++) {
        s_set (&set, "Dan", "Eve", (uint8_t) epoch);
        assert_int_equal (keystore_keys_put (store, id, epoch, "Eve", set.keys, 2, 4,
                                             &duplicate), CHAT_OK);
    }
    assert_int_equal (keystore_commit (store), CHAT_OK);
    memset (&got, 0, sizeof got);
    assert_int_equal (keystore_keys_of (store, id, "dan", 0, 1000, s_collect, &got), CHAT_OK);
    assert_int_equal (got.count, 1000);
    for (size_t i = 0; i < got.count; i++)
        assert_int_equal (got.epochs [i], i + 1);
    memset (&got, 0, sizeof got);
    assert_int_equal (keystore_keys_of (store, id, "dan", 1000, 1000, s_collect, &got),
                      CHAT_OK);
    assert_int_equal (got.count, 2);
    assert_int_equal (got.epochs [0], 1000);
    assert_string_equal (got.uploader, "Eve");
    //  Another conversation is another set
    uint8_t other [CONVERSATION_ID_SIZE] = { 9 };
    memset (&got, 0, sizeof got);
    assert_int_equal (keystore_keys_of (store, other, "dan", 0, 10, s_collect, &got), CHAT_OK);
    assert_int_equal (got.count, 0);
    keystore_destroy (&store);

    //  Reopened: all there
    store = keystore_open (s_path);
    assert_non_null (store);
    assert_int_equal (keystore_key_set_count (store), 1001);
    assert_int_equal (keystore_wrapped_count (store), 2002);
    keystore_destroy (&store);
}

static void
test_reopen_and_versions (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    keystore_user_t user;
    s_user (&user, "carol", 3);
    assert_int_equal (keystore_begin (store), CHAT_OK);
    assert_int_equal (s_insert (store, &user), CHAT_OK);
    keystore_rollback (store);
    assert_int_equal (keystore_user_lookup (store, "carol", &user), CHAT_ERR_NOT_FOUND);
    assert_int_equal (keystore_begin (store), CHAT_OK);
    assert_int_equal (s_insert (store, &user), CHAT_OK);
    assert_int_equal (keystore_commit (store), CHAT_OK);
    keystore_destroy (&store);

    //  Reopened: everything is there, the schema is not made twice
    store = keystore_open (s_path);
    assert_non_null (store);
    assert_int_equal (keystore_user_lookup (store, "CAROL", &user), CHAT_OK);
    keystore_destroy (&store);

    //  WAL and the schema version are on disk; the file is the owner's only
    struct stat st;
    assert_int_equal (stat (s_path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    sqlite3 *db;
    assert_int_equal (sqlite3_open (s_path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    assert_int_equal (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL),
                      SQLITE_OK);
    assert_int_equal (sqlite3_step (stmt), SQLITE_ROW);
    assert_int_equal (sqlite3_column_int (stmt, 0), KEYSTORE_SCHEMA_VERSION);
    sqlite3_finalize (stmt);
    assert_int_equal (sqlite3_prepare_v2 (db, "PRAGMA journal_mode", -1, &stmt, NULL),
                      SQLITE_OK);
    assert_int_equal (sqlite3_step (stmt), SQLITE_ROW);
    assert_string_equal ((const char *) sqlite3_column_text (stmt, 0), "wal");
    sqlite3_finalize (stmt);
    //  A database from a newer program is refused
    assert_int_equal (sqlite3_exec (db, "PRAGMA user_version = 99", NULL, NULL, NULL),
                      SQLITE_OK);
    sqlite3_close (db);
    assert_null (keystore_open (s_path));
}

//  A database protocol 1 wrote, conversation keys in the clear: refused,
//  and left as it was
static void
test_protocol_1_refused (void **state)
{
    (void) state;
    sqlite3 *db;
    assert_int_equal (sqlite3_open (s_path, &db), SQLITE_OK);
    assert_int_equal (sqlite3_exec (db,
        "CREATE TABLE users (username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
        " salt BLOB NOT NULL, iterations INTEGER NOT NULL, stored_key BLOB NOT NULL,"
        " server_key BLOB NOT NULL, created_at INTEGER NOT NULL);"
        "CREATE TABLE conversation_keys (conversation_id BLOB PRIMARY KEY,"
        " key BLOB NOT NULL);"
        "INSERT INTO conversation_keys VALUES (x'01', x'02');"
        "PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close (db);
    assert_null (keystore_open (s_path));
    assert_int_equal (sqlite3_open (s_path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    assert_int_equal (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL),
                      SQLITE_OK);
    assert_int_equal (sqlite3_step (stmt), SQLITE_ROW);
    assert_int_equal (sqlite3_column_int (stmt, 0), 1);
    sqlite3_finalize (stmt);
    sqlite3_close (db);
}

//  A batch as the server runs it: one transaction, a savepoint per write
static void
test_savepoints (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    keystore_user_t user;
    uint8_t id [CONVERSATION_ID_SIZE] = { 7 };
    set_t set;
    bool duplicate;

    assert_int_equal (keystore_begin (store), CHAT_OK);
    //  Kept
    assert_int_equal (keystore_savepoint (store), CHAT_OK);
    s_user (&user, "dave", 4);
    assert_int_equal (s_insert (store, &user), CHAT_OK);
    assert_int_equal (keystore_release (store), CHAT_OK);
    //  Taken back alone
    assert_int_equal (keystore_savepoint (store), CHAT_OK);
    s_user (&user, "erin", 5);
    assert_int_equal (s_insert (store, &user), CHAT_OK);
    keystore_savepoint_rollback (store);
    //  The same name again, in another case, within the batch
    assert_int_equal (keystore_savepoint (store), CHAT_OK);
    s_user (&user, "DAVE", 6);
    assert_int_equal (s_insert (store, &user), CHAT_ERR_USERNAME_TAKEN);
    assert_int_equal (keystore_release (store), CHAT_OK);
    //  Two sets for one epoch within the batch: the first stands
    s_set (&set, "dave", "erin", 0x40);
    assert_int_equal (keystore_keys_put (store, id, 1, "dave", set.keys, 2, 1, &duplicate),
                      CHAT_OK);
    s_set (&set, "dave", "erin", 0x50);
    assert_int_equal (keystore_keys_put (store, id, 1, "dave", set.keys, 2, 1, &duplicate),
                      CHAT_ERR_KEY_EXISTS);
    assert_int_equal (keystore_commit (store), CHAT_OK);

    assert_int_equal (keystore_user_lookup (store, "Dave", &user), CHAT_OK);
    assert_string_equal (user.username, "dave");
    assert_int_equal (keystore_user_lookup (store, "erin", &user), CHAT_ERR_NOT_FOUND);
    assert_int_equal (keystore_user_count (store), 1);

    //  A batch rolled back whole leaves nothing, its savepoints included
    assert_int_equal (keystore_begin (store), CHAT_OK);
    assert_int_equal (keystore_savepoint (store), CHAT_OK);
    s_user (&user, "frank", 7);
    assert_int_equal (s_insert (store, &user), CHAT_OK);
    assert_int_equal (keystore_release (store), CHAT_OK);
    uint8_t other [CONVERSATION_ID_SIZE] = { 8 };
    assert_int_equal (keystore_keys_put (store, other, 1, "dave", set.keys, 2, 1, &duplicate),
                      CHAT_OK);
    keystore_rollback (store);
    assert_int_equal (keystore_user_lookup (store, "frank", &user), CHAT_ERR_NOT_FOUND);
    assert_int_equal (keystore_key_set_count (store), 1);
    keystore_destroy (&store);

    //  What was committed is on disk
    store = keystore_open (s_path);
    assert_non_null (store);
    assert_int_equal (keystore_user_lookup (store, "dave", &user), CHAT_OK);
    got_t got = { 0 };
    assert_int_equal (keystore_keys_of (store, id, "erin", 1, 10, s_collect, &got), CHAT_OK);
    assert_int_equal (got.count, 1);
    assert_int_equal (got.first_byte, 0x41);
    keystore_destroy (&store);
}

//  Every commit is on disk before the call returns: each write synced the
//  WAL (synchronous=FULL; NORMAL in WAL mode syncs only at checkpoints),
//  and the connection had synchronous FULL or EXTRA as it closed. A write
//  whose sync fails is refused and leaves nothing behind.
static void
test_full_sync (void **state)
{
    (void) state;
    faultvfs_watch (s_dir);
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    keystore_user_t user, found;
    s_user (&user, "carol", 1);
    uint64_t syncs = faultvfs_log_syncs ();
    assert_int_equal (s_insert (store, &user), CHAT_OK);
    assert_true (faultvfs_log_syncs () > syncs);
    s_user (&user, "dave", 3);
    faultvfs_fail (FAULTVFS_SYNC);
    assert_int_equal (s_insert (store, &user), CHAT_ERR_INTERNAL);
    faultvfs_fail (FAULTVFS_NONE);
    assert_true (faultvfs_failed () > 0);
    assert_int_equal (keystore_user_lookup (store, "dave", &found), CHAT_ERR_NOT_FOUND);
    syncs = faultvfs_log_syncs ();
    assert_int_equal (s_insert (store, &user), CHAT_OK);
    assert_true (faultvfs_log_syncs () > syncs);
    keystore_destroy (&store);
    int synchronous;
    assert_int_equal (faultvfs_closed (s_path, &synchronous), 1);
    if (synchronous < 2)
        fail_msg ("the key store's connection had PRAGMA synchronous = %d (FULL is 2)",
                  synchronous);
    faultvfs_watch (NULL);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_users, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_password_update, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_epoch_keys, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reopen_and_versions, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_protocol_1_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_savepoints, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_full_sync, s_setup, s_teardown),
    };
    //  Its files go through the test VFS (faultvfs.h), opened as in production
    if (faultvfs_install ())
        return 1;
    return cmocka_run_group_tests (tests, NULL, NULL);
}
