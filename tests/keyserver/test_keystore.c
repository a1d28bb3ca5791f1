/*  test_keystore - the key server's storage: schema, users, keys, reopen  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sqlite3.h>
#include "chaterror.h"
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
    user->created_at = 1234;
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
    assert_int_equal (keystore_user_insert (store, &user), CHAT_OK);
    s_user (&user, "ALICE", 5);
    assert_int_equal (keystore_user_insert (store, &user), CHAT_ERR_USERNAME_TAKEN);
    s_user (&user, "bob", 9);
    user.salt_len = 8;
    assert_int_equal (keystore_user_insert (store, &user), CHAT_ERR_BAD_REQUEST);
    user.salt_len = 16;
    user.iterations = 10;
    assert_int_equal (keystore_user_insert (store, &user), CHAT_ERR_BAD_REQUEST);
    snprintf (user.username, sizeof user.username, "a b");
    user.iterations = 4096;
    assert_int_equal (keystore_user_insert (store, &user), CHAT_ERR_BAD_REQUEST);

    assert_int_equal (keystore_user_lookup (store, "aLiCe", &found), CHAT_OK);
    assert_string_equal (found.username, "Alice");
    s_user (&user, "Alice", 1);
    assert_memory_equal (found.salt, user.salt, 16);
    assert_int_equal (found.salt_len, 16);
    assert_int_equal (found.iterations, 4096);
    assert_memory_equal (found.stored_key, user.stored_key, 32);
    assert_memory_equal (found.server_key, user.server_key, 32);
    assert_int_equal (found.created_at, 1234);
    assert_int_equal (keystore_user_lookup (store, "bob", &found), CHAT_ERR_NOT_FOUND);
    assert_int_equal (keystore_user_count (store), 1);
    int count = 0;
    assert_int_equal (keystore_user_each (store, 0, s_count_users, &count), CHAT_OK);
    assert_int_equal (count, 1);
    keystore_destroy (&store);
    assert_null (store);
}

static void
test_keys_and_reopen (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    uint8_t id [CONVERSATION_ID_SIZE] = { 1, 2, 3 };
    uint8_t first [32], second [32], key [32];
    memset (first, 0xaa, sizeof first);
    memset (second, 0xbb, sizeof second);
    assert_int_equal (keystore_key_get (store, id, key), CHAT_ERR_NOT_FOUND);
    assert_int_equal (keystore_key_create (store, id, first, key), CHAT_OK);
    assert_memory_equal (key, first, 32);
    //  The first key stays
    assert_int_equal (keystore_key_create (store, id, second, key), CHAT_OK);
    assert_memory_equal (key, first, 32);
    assert_int_equal (keystore_key_count (store), 1);
    keystore_user_t user;
    s_user (&user, "carol", 3);
    assert_int_equal (keystore_begin (store), CHAT_OK);
    assert_int_equal (keystore_user_insert (store, &user), CHAT_OK);
    keystore_rollback (store);
    assert_int_equal (keystore_user_lookup (store, "carol", &user), CHAT_ERR_NOT_FOUND);
    assert_int_equal (keystore_begin (store), CHAT_OK);
    assert_int_equal (keystore_user_insert (store, &user), CHAT_OK);
    assert_int_equal (keystore_commit (store), CHAT_OK);
    keystore_destroy (&store);

    //  Reopened: everything is there, the schema is not migrated twice
    store = keystore_open (s_path);
    assert_non_null (store);
    assert_int_equal (keystore_key_get (store, id, key), CHAT_OK);
    assert_memory_equal (key, first, 32);
    assert_int_equal (keystore_user_lookup (store, "CAROL", &user), CHAT_OK);
    keystore_destroy (&store);

    //  WAL and the schema version are on disk
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

//  A batch as the server runs it: one transaction, a savepoint per write
static void
test_savepoints (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    keystore_user_t user;
    uint8_t id [CONVERSATION_ID_SIZE] = { 7 };
    uint8_t candidate [32], key [32], again [32], first [32];
    memset (candidate, 0x11, sizeof candidate);
    memcpy (first, candidate, sizeof first);

    assert_int_equal (keystore_begin (store), CHAT_OK);
    //  Kept
    assert_int_equal (keystore_savepoint (store), CHAT_OK);
    s_user (&user, "dave", 4);
    assert_int_equal (keystore_user_insert (store, &user), CHAT_OK);
    assert_int_equal (keystore_release (store), CHAT_OK);
    //  Taken back alone
    assert_int_equal (keystore_savepoint (store), CHAT_OK);
    s_user (&user, "erin", 5);
    assert_int_equal (keystore_user_insert (store, &user), CHAT_OK);
    keystore_savepoint_rollback (store);
    //  The same name again, in another case, within the batch
    assert_int_equal (keystore_savepoint (store), CHAT_OK);
    s_user (&user, "DAVE", 6);
    assert_int_equal (keystore_user_insert (store, &user), CHAT_ERR_USERNAME_TAKEN);
    assert_int_equal (keystore_release (store), CHAT_OK);
    //  Two creations of one key within the batch: the first stands
    assert_int_equal (keystore_key_create (store, id, candidate, key), CHAT_OK);
    memset (candidate, 0x22, sizeof candidate);
    assert_int_equal (keystore_key_create (store, id, candidate, again), CHAT_OK);
    assert_memory_equal (key, first, 32);
    assert_memory_equal (again, first, 32);
    assert_int_equal (keystore_commit (store), CHAT_OK);

    assert_int_equal (keystore_user_lookup (store, "Dave", &user), CHAT_OK);
    assert_string_equal (user.username, "dave");
    assert_int_equal (keystore_user_lookup (store, "erin", &user), CHAT_ERR_NOT_FOUND);
    assert_int_equal (keystore_user_count (store), 1);

    //  A batch rolled back whole leaves nothing, its savepoints included
    assert_int_equal (keystore_begin (store), CHAT_OK);
    assert_int_equal (keystore_savepoint (store), CHAT_OK);
    s_user (&user, "frank", 7);
    assert_int_equal (keystore_user_insert (store, &user), CHAT_OK);
    assert_int_equal (keystore_release (store), CHAT_OK);
    uint8_t other [CONVERSATION_ID_SIZE] = { 8 };
    assert_int_equal (keystore_key_create (store, other, candidate, key), CHAT_OK);
    keystore_rollback (store);
    assert_int_equal (keystore_user_lookup (store, "frank", &user), CHAT_ERR_NOT_FOUND);
    assert_int_equal (keystore_key_get (store, other, key), CHAT_ERR_NOT_FOUND);
    assert_int_equal (keystore_key_count (store), 1);
    keystore_destroy (&store);

    //  What was committed is on disk
    store = keystore_open (s_path);
    assert_non_null (store);
    assert_int_equal (keystore_user_lookup (store, "dave", &user), CHAT_OK);
    assert_int_equal (keystore_key_get (store, id, again), CHAT_OK);
    assert_memory_equal (again, first, 32);
    keystore_destroy (&store);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_users, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_keys_and_reopen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_savepoints, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
