/*  test_keystore - the key server's storage, on SQLite, or on PostgreSQL
    when CHAT_TEST_PG_URL names a database (tests/support/pgtemp.sh starts
    one: ctest's keyserver.keystore.pg): users with identities, password
    updates, wrapped epoch keys, savepoints, reopen and the refusal of a
    newer schema (both); the file, its WAL and the refusal of a protocol 1
    database (SQLite); on PostgreSQL also a COMMIT that fails, a connection
    that breaks, a server that does not flush its commits, and two stores
    (two key servers) registering one name or storing one epoch's keys at
    once
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
#include <pthread.h>
#include <sqlite3.h>
#include <libpq-fe.h>
#include <czmq.h>
#include "chaterror.h"
#include "faultvfs.h"
#include "keystore.h"

static char s_dir [64];
static char s_path [512];
static const char *s_pg_url;            //  PostgreSQL's, else NULL: SQLite

//  Run sql on the test's PostgreSQL database, over a connection of its own
static void
s_pg_exec (const char *sql)
{
    PGconn *conn = PQconnectdb (s_pg_url);
    assert_int_equal (PQstatus (conn), CONNECTION_OK);
    PQclear (PQexec (conn, "SET client_min_messages = warning"));
    PGresult *res = PQexec (conn, sql);
    if (PQresultStatus (res) != PGRES_COMMAND_OK && PQresultStatus (res) != PGRES_TUPLES_OK)
        fail_msg ("%s: %s", sql, PQresultErrorMessage (res));
    PQclear (res);
    PQfinish (conn);
}

//  The store of a test: on SQLite a file in the test's folder, on
//  PostgreSQL the one database, emptied before each test
static int
s_setup (void **state)
{
    (void) state;
    snprintf (s_dir, sizeof s_dir, "/tmp/ks-store-XXXXXX");
    if (!mkdtemp (s_dir))
        return -1;
    if (s_pg_url) {
        snprintf (s_path, sizeof s_path, "%s", s_pg_url);
        s_pg_exec ("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    }
    else
        snprintf (s_path, sizeof s_path, "%s/test.db", s_dir);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    char path [600];
    const char *suffixes [] = { "", "-wal", "-shm", NULL };
    for (int i = 0; suffixes [i] && !s_pg_url; i++) {
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
test_reopen (void **state)
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
    assert_int_equal (keystore_user_count (store), 1);
    keystore_destroy (&store);
}

//  A store written by a newer program (or, on PostgreSQL, by a version it
//  never had) is refused, and left as it is
static void
test_newer_schema_refused (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    keystore_destroy (&store);
    if (s_pg_url) {
        s_pg_exec ("UPDATE ks_schema_version SET version = 99");
        assert_null (keystore_open (s_path));
        s_pg_exec ("UPDATE ks_schema_version SET version = 1");
        assert_null (keystore_open (s_path));
        s_pg_exec ("UPDATE ks_schema_version SET version = 2");
    }
    else {
        sqlite3 *db;
        assert_int_equal (sqlite3_open (s_path, &db), SQLITE_OK);
        assert_int_equal (sqlite3_exec (db, "PRAGMA user_version = 99", NULL, NULL, NULL),
                          SQLITE_OK);
        assert_null (keystore_open (s_path));
        assert_int_equal (sqlite3_exec (db, "PRAGMA user_version = 2", NULL, NULL, NULL),
                          SQLITE_OK);
        sqlite3_close (db);
    }
    store = keystore_open (s_path);
    assert_non_null (store);
    assert_string_equal (keystore_engine (store), s_pg_url? "postgresql": "sqlite");
    keystore_destroy (&store);
}

//  The cluster's mark: on PostgreSQL the first one stays, the same again
//  is welcome, another is refused (also after a reopen); SQLite records
//  nothing
static void
test_cluster_mark (void **state)
{
    (void) state;
    uint8_t mark [32], other [32];
    memset (mark, 0xA5, sizeof mark);
    memset (other, 0x5A, sizeof other);
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    assert_int_equal (keystore_cluster_mark (store, mark), CHAT_OK);
    assert_int_equal (keystore_cluster_mark (store, mark), CHAT_OK);
    assert_int_equal (keystore_cluster_mark (store, other),
                      s_pg_url? CHAT_ERR_KEY_EXISTS: CHAT_OK);
    keystore_destroy (&store);
    store = keystore_open (s_path);
    assert_non_null (store);
    assert_int_equal (keystore_cluster_mark (store, other),
                      s_pg_url? CHAT_ERR_KEY_EXISTS: CHAT_OK);
    assert_int_equal (keystore_cluster_mark (store, mark), CHAT_OK);
    keystore_destroy (&store);
}

//  SQLite's file: WAL and the schema version on disk, the owner's only
static void
test_sqlite_file (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    keystore_destroy (&store);
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

//  ---------------------------------------------------------------- PostgreSQL only

//  The engine is the one the URL names: a run meant for PostgreSQL that
//  quietly ran on SQLite would prove nothing
static void
test_pg_engine (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    assert_string_equal (keystore_engine (store), "postgresql");
    keystore_destroy (&store);
    char url [600];
    snprintf (url, sizeof url, "postgres%s", s_pg_url + strlen ("postgresql"));
    store = keystore_open (url);
    assert_non_null (store);
    assert_string_equal (keystore_engine (store), "postgresql");
    keystore_destroy (&store);
    //  A database that is not there: refused, with the reason logged
    snprintf (url, sizeof url, "%s", s_pg_url);
    char *name = strstr (url, "/chat?");
    assert_non_null (name);
    memcpy (name, "/nope?", 6);
    assert_null (keystore_open (url));
}

//  COMMIT fails (a deferred trigger the test adds refuses users and key
//  sets at commit time, while test_poison_on holds a row, after every
//  statement answered): the commit says so, nothing of the transaction is
//  stored, and the same writes again, the poison gone, succeed as first
//  copies
static void
test_pg_commit_fails (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    s_pg_exec ("CREATE TABLE test_poison_on (x integer);"
               "INSERT INTO test_poison_on VALUES (1);"
               "CREATE FUNCTION test_poison () RETURNS trigger LANGUAGE plpgsql AS $$"
               " BEGIN IF EXISTS (SELECT 1 FROM test_poison_on) THEN"
               " RAISE EXCEPTION 'poisoned commit'; END IF; RETURN NULL; END $$;"
               "CREATE CONSTRAINT TRIGGER test_poison AFTER INSERT ON ks_users"
               " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_poison ();"
               "CREATE CONSTRAINT TRIGGER test_poison AFTER INSERT ON ks_key_sets"
               " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_poison ()");
    keystore_user_t user, found;
    uint8_t id [CONVERSATION_ID_SIZE] = { 4 };
    set_t set;
    bool duplicate;
    for (int round = 0; round < 2; round++) {
        //  A batch as the server runs it: every request answers OK ...
        assert_int_equal (keystore_begin (store), CHAT_OK);
        assert_int_equal (keystore_savepoint (store), CHAT_OK);
        s_user (&user, "Gina", 1);
        assert_int_equal (s_insert (store, &user), CHAT_OK);
        assert_int_equal (keystore_release (store), CHAT_OK);
        assert_int_equal (keystore_savepoint (store), CHAT_OK);
        s_set (&set, "gina", "hal", 0x60);
        assert_int_equal (keystore_keys_put (store, id, 1, "gina", set.keys, 2, 1,
                                             &duplicate), CHAT_OK);
        assert_false (duplicate);
        assert_int_equal (keystore_release (store), CHAT_OK);
        if (round == 0) {
            //  ... and COMMIT fails: nothing of it is there
            assert_int_equal (keystore_commit (store), CHAT_ERR_INTERNAL);
            assert_int_equal (keystore_user_lookup (store, "gina", &found),
                              CHAT_ERR_NOT_FOUND);
            assert_int_equal (keystore_user_count (store), 0);
            assert_int_equal (keystore_key_set_count (store), 0);
            assert_int_equal (keystore_wrapped_count (store), 0);
            //  Outside a batch too: the write's own commit fails
            assert_int_equal (s_insert (store, &user), CHAT_ERR_INTERNAL);
            assert_int_equal (keystore_user_count (store), 0);
            s_pg_exec ("DELETE FROM test_poison_on");
        }
        else {
            //  The retry: stored, as a first copy (not a duplicate)
            assert_int_equal (keystore_commit (store), CHAT_OK);
            assert_int_equal (keystore_user_lookup (store, "gina", &found), CHAT_OK);
            assert_int_equal (keystore_key_set_count (store), 1);
            assert_int_equal (keystore_wrapped_count (store), 2);
        }
    }
    keystore_destroy (&store);
}

//  The connection breaks (its backend is killed): between transactions the
//  next batch connects again and works; inside one, the commit fails and
//  nothing of it is stored, and the batch after works
static void
test_pg_connection_lost (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    const char *kill = "SELECT pg_terminate_backend (pid) FROM pg_stat_activity"
                       " WHERE application_name = 'chat-keyserver'";
    keystore_user_t user, found;
    s_pg_exec (kill);
    assert_int_equal (keystore_begin (store), CHAT_OK);
    s_user (&user, "Ivan", 1);
    assert_int_equal (s_insert (store, &user), CHAT_OK);
    assert_int_equal (keystore_commit (store), CHAT_OK);
    assert_int_equal (keystore_user_lookup (store, "ivan", &found), CHAT_OK);

    assert_int_equal (keystore_begin (store), CHAT_OK);
    s_user (&user, "Judy", 2);
    assert_int_equal (s_insert (store, &user), CHAT_OK);
    s_pg_exec (kill);
    assert_int_not_equal (keystore_savepoint (store), CHAT_OK);
    assert_int_equal (keystore_commit (store), CHAT_ERR_INTERNAL);
    assert_int_equal (keystore_user_lookup (store, "judy", &found), CHAT_ERR_NOT_FOUND);
    assert_int_equal (keystore_begin (store), CHAT_OK);
    assert_int_equal (s_insert (store, &user), CHAT_OK);
    assert_int_equal (keystore_commit (store), CHAT_OK);
    assert_int_equal (keystore_user_count (store), 2);
    keystore_destroy (&store);
}

//  Wait until another session of ours waits on a lock (the racer on our
//  uncommitted row): proof that the race below is the one it is meant to
//  be. A generous bound, not a measurement.
static void
s_wait_for_lock_waiter (void)
{
    PGconn *conn = PQconnectdb (s_pg_url);
    assert_int_equal (PQstatus (conn), CONNECTION_OK);
    bool waiting = false;
    for (int tries = 0; tries < 600 && !waiting; tries++) {
        PGresult *res = PQexec (conn, "SELECT count(*) FROM pg_stat_activity"
                                " WHERE application_name = 'chat-keyserver'"
                                " AND wait_event_type = 'Lock'");
        waiting = PQresultStatus (res) == PGRES_TUPLES_OK
               && streq (PQgetvalue (res, 0, 0), "1");
        PQclear (res);
        if (!waiting)
            zclock_sleep (50);
    }
    PQfinish (conn);
    assert_true (waiting);
}

//  What the other key server does while this one holds its transaction
typedef struct {
    const char *what;           //  "user" or "keys"
    uint8_t fill;
    int rc;
    bool duplicate;
} racer_t;

static void *
s_racer (void *arg)
{
    racer_t *racer = (racer_t *) arg;
    keystore_t *store = keystore_open (s_path);
    if (!store) {
        racer->rc = -1;
        return NULL;
    }
    if (streq (racer->what, "user")) {
        keystore_user_t user;
        s_user (&user, "KARL", racer->fill);
        //  A batch as a key server runs it, as the other one does
        racer->rc = keystore_begin (store);
        if (racer->rc == CHAT_OK) {
            racer->rc = s_insert (store, &user);
            if (keystore_commit (store) != CHAT_OK)
                racer->rc = -2;
        }
    }
    else {
        uint8_t id [CONVERSATION_ID_SIZE] = { 5 };
        set_t set;
        s_set (&set, "karl", "lena", racer->fill);
        racer->rc = keystore_keys_put (store, id, 1, "karl", set.keys, 2, 1,
                                       &racer->duplicate);
    }
    keystore_destroy (&store);
    return NULL;
}

//  Two key servers (two stores on one database) register one name at once:
//  the second waits for the first's commit, then gets the answer one
//  server gives (taken); had the first rolled back, the second has it. The
//  same for two sets of one epoch's keys: the first stands, the very same
//  set again is a duplicate. The racer is seen waiting on our row before
//  we commit or roll back.
static void
test_pg_concurrent_writers (void **state)
{
    (void) state;
    keystore_t *store = keystore_open (s_path);
    assert_non_null (store);
    keystore_user_t user, found;
    for (int round = 0; round < 2; round++) {
        assert_int_equal (keystore_begin (store), CHAT_OK);
        s_user (&user, "Karl", 1);
        assert_int_equal (s_insert (store, &user), CHAT_OK);
        racer_t racer = { "user", 9, 0, false };
        pthread_t thread;
        assert_int_equal (pthread_create (&thread, NULL, s_racer, &racer), 0);
        s_wait_for_lock_waiter ();
        if (round == 0)
            assert_int_equal (keystore_commit (store), CHAT_OK);
        else
            keystore_rollback (store);
        assert_int_equal (pthread_join (thread, NULL), 0);
        assert_int_equal (racer.rc, round == 0? CHAT_ERR_USERNAME_TAKEN: CHAT_OK);
        assert_int_equal (keystore_user_count (store), 1);
        assert_int_equal (keystore_user_lookup (store, "karl", &found), CHAT_OK);
        //  Whose account it is: ours after our commit, the other's after
        //  our rollback
        assert_string_equal (found.username, round == 0? "Karl": "KARL");
        assert_int_equal (found.salt [0], round == 0? 1: 9);
        s_pg_exec ("DELETE FROM ks_users");
    }
    uint8_t id [CONVERSATION_ID_SIZE] = { 5 };
    set_t set;
    bool duplicate;
    for (int round = 0; round < 2; round++) {
        assert_int_equal (keystore_begin (store), CHAT_OK);
        s_set (&set, "karl", "lena", 0x70);
        assert_int_equal (keystore_keys_put (store, id, 1, "karl", set.keys, 2, 1,
                                             &duplicate), CHAT_OK);
        assert_false (duplicate);
        //  round 0: another set; round 1: the very same one (a retry)
        racer_t racer = { "keys", round == 0? 0x71: 0x70, 0, false };
        pthread_t thread;
        assert_int_equal (pthread_create (&thread, NULL, s_racer, &racer), 0);
        s_wait_for_lock_waiter ();
        assert_int_equal (keystore_commit (store), CHAT_OK);
        assert_int_equal (pthread_join (thread, NULL), 0);
        assert_int_equal (racer.rc, round == 0? CHAT_ERR_KEY_EXISTS: CHAT_OK);
        assert_int_equal (racer.duplicate, round == 1);
        assert_int_equal (keystore_key_set_count (store), 1);
        assert_int_equal (keystore_wrapped_count (store), 2);
        got_t got = { 0 };
        assert_int_equal (keystore_keys_of (store, id, "LENA", 0, 10, s_collect, &got),
                          CHAT_OK);
        assert_int_equal (got.count, 1);
        assert_int_equal (got.first_byte, 0x71);
        s_pg_exec ("DELETE FROM ks_wrapped_keys; DELETE FROM ks_key_sets");
    }
    keystore_destroy (&store);
}

//  A PostgreSQL server that would acknowledge commits it has not flushed
//  (fsync off: CHAT_TEST_PG_UNSAFE=1, the server started by pgtemp.sh with
//  PGTEMP_SERVER_OPTIONS="-c fsync=off") is refused, and nothing is made in
//  it
static void
test_pg_unsafe_refused (void **state)
{
    (void) state;
    PGconn *conn = PQconnectdb (s_pg_url);
    PGresult *res = PQexec (conn, "SHOW fsync");
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    assert_string_equal (PQgetvalue (res, 0, 0), "off");
    PQclear (res);
    assert_null (keystore_open (s_path));
    res = PQexec (conn, "SELECT to_regclass ('ks_users') IS NULL");
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    assert_string_equal (PQgetvalue (res, 0, 0), "t");
    PQclear (res);
    PQfinish (conn);
}

int
main (void)
{
    zsys_init ();
    s_pg_url = getenv ("CHAT_TEST_PG_URL");
    if (s_pg_url && !*s_pg_url)
        s_pg_url = NULL;
    const struct CMUnitTest both [] = {
        cmocka_unit_test_setup_teardown (test_users, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_password_update, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_epoch_keys, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reopen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_newer_schema_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_savepoints, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cluster_mark, s_setup, s_teardown),
    };
    const struct CMUnitTest sqlite_only [] = {
        cmocka_unit_test_setup_teardown (test_sqlite_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_protocol_1_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_full_sync, s_setup, s_teardown),
    };
    const struct CMUnitTest pg_only [] = {
        cmocka_unit_test_setup_teardown (test_pg_engine, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pg_commit_fails, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pg_connection_lost, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pg_concurrent_writers, s_setup, s_teardown),
    };
    const struct CMUnitTest pg_unsafe [] = {
        cmocka_unit_test_setup_teardown (test_pg_unsafe_refused, s_setup, s_teardown),
    };
    //  SQLite files go through the test VFS (faultvfs.h), opened as in
    //  production
    if (faultvfs_install ())
        return 1;
    if (s_pg_url && getenv ("CHAT_TEST_PG_UNSAFE")) {
        printf ("test_keystore: on PostgreSQL with fsync off\n");
        return cmocka_run_group_tests_name ("postgresql, fsync off", pg_unsafe, NULL, NULL);
    }
    printf ("test_keystore: on %s\n", s_pg_url? "PostgreSQL (CHAT_TEST_PG_URL)": "SQLite");
    int rc = cmocka_run_group_tests_name ("both engines", both, NULL, NULL);
    if (s_pg_url)
        rc += cmocka_run_group_tests_name ("postgresql", pg_only, NULL, NULL);
    else
        rc += cmocka_run_group_tests_name ("sqlite", sqlite_only, NULL, NULL);
    return rc;
}
