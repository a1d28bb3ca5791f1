/*  keystore - the key server's users and conversation keys, in SQLite

    Schema history lives in s_migrations: entry N takes user_version N to
    N+1. Never edit a released entry; add one.
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include <sqlite3.h>
#include "chaterror.h"
#include "keystore.h"
#include "secret.h"
#include "wire.h"

//  Transaction control runs once per batch and once per write in it:
//  prepared once, kept (SQLITE_PREPARE_PERSISTENT), like the queries.
//  Savepoints share one name: SQLite nests them, and RELEASE / ROLLBACK TO
//  take the innermost.
typedef enum {
    TX_BEGIN, TX_COMMIT, TX_ROLLBACK,
    TX_SAVEPOINT, TX_RELEASE, TX_ROLLBACK_TO,
    TX_COUNT
} tx_t;

static const char *s_tx_sql [TX_COUNT] = {
    [TX_BEGIN] =        "BEGIN IMMEDIATE",
    [TX_COMMIT] =       "COMMIT",
    [TX_ROLLBACK] =     "ROLLBACK",
    [TX_SAVEPOINT] =    "SAVEPOINT sp",
    [TX_RELEASE] =      "RELEASE sp",
    [TX_ROLLBACK_TO] =  "ROLLBACK TO sp",
};

struct _keystore_t {
    sqlite3 *db;
    int depth;                  //  nesting of keystore_begin
    sqlite3_stmt *tx [TX_COUNT];
    sqlite3_stmt *user_insert;
    sqlite3_stmt *user_lookup;
    sqlite3_stmt *key_insert;
    sqlite3_stmt *key_get;
};

//  usernames are ASCII only (credential_username_valid), so SQLite's
//  NOCASE collation, which folds ASCII, is exactly the uniqueness rule.
static const char *s_migrations [] = {
    //  0 -> 1
    "CREATE TABLE users ("
    "  username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  salt BLOB NOT NULL,"
    "  iterations INTEGER NOT NULL,"
    "  stored_key BLOB NOT NULL,"
    "  server_key BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE conversation_keys ("
    "  conversation_id BLOB PRIMARY KEY,"
    "  key BLOB NOT NULL);",
};
#define MIGRATIONS (int) (sizeof s_migrations / sizeof s_migrations [0])
_Static_assert (sizeof s_migrations / sizeof s_migrations [0] == KEYSTORE_SCHEMA_VERSION,
                "KEYSTORE_SCHEMA_VERSION must name the last migration");

static void
s_log_error (keystore_t *self, const char *what)
{
    zsys_error ("keystore: %s: %s", what, sqlite3_errmsg (self->db));
}

static int
s_exec (keystore_t *self, const char *sql)
{
    char *message = NULL;
    if (sqlite3_exec (self->db, sql, NULL, NULL, &message) != SQLITE_OK) {
        zsys_error ("keystore: %s", message? message: "exec failed");
        sqlite3_free (message);
        return -1;
    }
    return 0;
}

static int
s_user_version (keystore_t *self)
{
    sqlite3_stmt *stmt = NULL;
    int version = -1;
    if (sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK
    &&  sqlite3_step (stmt) == SQLITE_ROW)
        version = sqlite3_column_int (stmt, 0);
    sqlite3_finalize (stmt);
    return version;
}

static int
s_migrate (keystore_t *self)
{
    int version = s_user_version (self);
    if (version < 0) {
        s_log_error (self, "read schema version");
        return -1;
    }
    if (version > MIGRATIONS) {
        zsys_error ("keystore: database schema %d is newer than this program (%d)",
                    version, MIGRATIONS);
        return -1;
    }
    for (; version < MIGRATIONS; version++) {
        //  Each step and its version bump commit together or not at all
        char pragma [64];
        snprintf (pragma, sizeof pragma, "PRAGMA user_version = %d;", version + 1);
        if (s_exec (self, "BEGIN IMMEDIATE;"))
            return -1;
        if (s_exec (self, s_migrations [version]) || s_exec (self, pragma)) {
            s_exec (self, "ROLLBACK;");
            return -1;
        }
        if (s_exec (self, "COMMIT;"))
            return -1;
        zsys_info ("keystore: schema migrated to version %d", version + 1);
    }
    return 0;
}

static int
s_prepare (keystore_t *self, const char *sql, sqlite3_stmt **stmt)
{
    if (sqlite3_prepare_v2 (self->db, sql, -1, stmt, NULL) != SQLITE_OK) {
        s_log_error (self, "prepare");
        return -1;
    }
    return 0;
}

//  A statement kept for the life of the store
static int
s_prepare_kept (keystore_t *self, const char *sql, sqlite3_stmt **stmt)
{
    if (sqlite3_prepare_v3 (self->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
                            stmt, NULL) != SQLITE_OK) {
        s_log_error (self, "prepare");
        return -1;
    }
    return 0;
}

//  Run one transaction control statement. 0 or -1 (logged).
static int
s_tx (keystore_t *self, tx_t which)
{
    sqlite3_stmt *stmt = self->tx [which];
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE) {
        s_log_error (self, s_tx_sql [which]);
        return -1;
    }
    return 0;
}

keystore_t *
keystore_open (const char *path)
{
    assert (path);
    keystore_t *self = (keystore_t *) zmalloc (sizeof (keystore_t));
    assert (self);
    //  The file holds verifiers and conversation keys: 0600 from birth
    //  (SQLite gives its -wal and -shm files the database's mode)
    if (secret_database_private (path) != 0) {
        zsys_error ("keystore: cannot open %s: %s", path, strerror (errno));
        free (self);
        return NULL;
    }
    if (sqlite3_open_v2 (path, &self->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                         | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        zsys_error ("keystore: cannot open %s: %s", path,
                    self->db? sqlite3_errmsg (self->db): "out of memory");
        keystore_destroy (&self);
        return NULL;
    }
    sqlite3_busy_timeout (self->db, 5000);
    //  FULL: a commit is on disk before the reply that depends on it is sent
    if (s_exec (self, "PRAGMA journal_mode = WAL;")
    ||  s_exec (self, "PRAGMA synchronous = FULL;")
    ||  s_exec (self, "PRAGMA foreign_keys = ON;")
    ||  s_migrate (self)
    ||  s_prepare_kept (self, "INSERT INTO users (username, salt, iterations, stored_key,"
                              " server_key, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                        &self->user_insert)
    ||  s_prepare_kept (self, "SELECT username, salt, iterations, stored_key, server_key,"
                              " created_at FROM users WHERE username = ?",
                        &self->user_lookup)
    ||  s_prepare_kept (self, "INSERT INTO conversation_keys (conversation_id, key)"
                              " VALUES (?, ?) ON CONFLICT DO NOTHING",
                        &self->key_insert)
    ||  s_prepare_kept (self, "SELECT key FROM conversation_keys WHERE conversation_id = ?",
                        &self->key_get)) {
        keystore_destroy (&self);
        return NULL;
    }
    for (int i = 0; i < TX_COUNT; i++)
        if (s_prepare_kept (self, s_tx_sql [i], &self->tx [i])) {
            keystore_destroy (&self);
            return NULL;
        }
    return self;
}

void
keystore_destroy (keystore_t **self_p)
{
    assert (self_p);
    keystore_t *self = *self_p;
    if (!self)
        return;
    if (self->db && !sqlite3_get_autocommit (self->db))
        s_exec (self, "ROLLBACK;");
    for (int i = 0; i < TX_COUNT; i++)
        sqlite3_finalize (self->tx [i]);
    sqlite3_finalize (self->user_insert);
    sqlite3_finalize (self->user_lookup);
    sqlite3_finalize (self->key_insert);
    sqlite3_finalize (self->key_get);
    sqlite3_close (self->db);
    free (self);
    *self_p = NULL;
}

int
keystore_begin (keystore_t *self)
{
    assert (self);
    if (self->depth == 0 && s_tx (self, TX_BEGIN))
        return CHAT_ERR_INTERNAL;
    self->depth++;
    return CHAT_OK;
}

int
keystore_commit (keystore_t *self)
{
    assert (self);
    if (self->depth == 0)
        return CHAT_ERR_INTERNAL;   //  an inner rollback ended it already
    if (--self->depth > 0)
        return CHAT_OK;
    //  SQLite may have rolled the transaction back itself (I/O error, disk
    //  full): COMMIT then fails too, as it must
    if (s_tx (self, TX_COMMIT)) {
        if (!sqlite3_get_autocommit (self->db))
            s_tx (self, TX_ROLLBACK);
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

void
keystore_rollback (keystore_t *self)
{
    assert (self);
    if (self->depth == 0)
        return;
    //  An inner rollback dooms the whole transaction
    self->depth = 0;
    if (!sqlite3_get_autocommit (self->db))
        s_tx (self, TX_ROLLBACK);
}

int
keystore_savepoint (keystore_t *self)
{
    assert (self);
    //  Inside keystore_begin, the transaction must still be there: were it
    //  gone (rolled back by SQLite), this savepoint would open a new one
    //  and its RELEASE would commit on its own, out of the batch
    if (self->depth > 0 && sqlite3_get_autocommit (self->db))
        return CHAT_ERR_INTERNAL;
    return s_tx (self, TX_SAVEPOINT)? CHAT_ERR_INTERNAL: CHAT_OK;
}

int
keystore_release (keystore_t *self)
{
    assert (self);
    if (s_tx (self, TX_RELEASE)) {
        keystore_savepoint_rollback (self);
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

void
keystore_savepoint_rollback (keystore_t *self)
{
    assert (self);
    //  ROLLBACK TO keeps the savepoint open; RELEASE then drops it, empty
    if (!sqlite3_get_autocommit (self->db)) {
        s_tx (self, TX_ROLLBACK_TO);
        s_tx (self, TX_RELEASE);
    }
}

static bool
s_user_fields_valid (const keystore_user_t *user)
{
    return credential_username_valid (user->username)
        && user->salt_len >= KEYSTORE_SALT_MIN
        && user->salt_len <= KEYSTORE_SALT_MAX
        && user->iterations >= SCRAM_MIN_ITERATIONS
        && user->iterations <= SCRAM_MAX_ITERATIONS;
}

int
keystore_user_insert (keystore_t *self, const keystore_user_t *user)
{
    assert (self);
    assert (user);
    if (!s_user_fields_valid (user))
        return CHAT_ERR_BAD_REQUEST;

    sqlite3_stmt *stmt = self->user_insert;
    sqlite3_bind_text (stmt, 1, user->username, -1, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 2, user->salt, (int) user->salt_len, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 3, user->iterations);
    sqlite3_bind_blob (stmt, 4, user->stored_key, SCRAM_KEY_SIZE, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 5, user->server_key, SCRAM_KEY_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 6, user->created_at);
    int rc = sqlite3_step (stmt);
    int extended = sqlite3_extended_errcode (self->db);
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    if (rc == SQLITE_DONE)
        return CHAT_OK;
    if (extended == SQLITE_CONSTRAINT_UNIQUE)
        return CHAT_ERR_USERNAME_TAKEN;
    s_log_error (self, "insert user");
    return CHAT_ERR_INTERNAL;
}

//  Read one users row (columns as in user_lookup) into *user.
static int
s_user_row (sqlite3_stmt *stmt, keystore_user_t *user)
{
    memset (user, 0, sizeof *user);
    const char *name = (const char *) sqlite3_column_text (stmt, 0);
    const void *salt = sqlite3_column_blob (stmt, 1);
    int salt_len = sqlite3_column_bytes (stmt, 1);
    sqlite3_int64 iterations = sqlite3_column_int64 (stmt, 2);
    const void *stored_key = sqlite3_column_blob (stmt, 3);
    int stored_len = sqlite3_column_bytes (stmt, 3);
    const void *server_key = sqlite3_column_blob (stmt, 4);
    int server_len = sqlite3_column_bytes (stmt, 4);
    //  Rows were checked on the way in; a row that fails here was written
    //  by something else, and is not trusted.
    if (!name || strlen (name) > USERNAME_MAX
    ||  !salt || salt_len < KEYSTORE_SALT_MIN || salt_len > KEYSTORE_SALT_MAX
    ||  iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS
    ||  !stored_key || stored_len != SCRAM_KEY_SIZE
    ||  !server_key || server_len != SCRAM_KEY_SIZE)
        return -1;
    strcpy (user->username, name);
    memcpy (user->salt, salt, (size_t) salt_len);
    user->salt_len = (size_t) salt_len;
    user->iterations = (uint32_t) iterations;
    memcpy (user->stored_key, stored_key, SCRAM_KEY_SIZE);
    memcpy (user->server_key, server_key, SCRAM_KEY_SIZE);
    user->created_at = sqlite3_column_int64 (stmt, 5);
    return 0;
}

int
keystore_user_lookup (keystore_t *self, const char *username,
                      keystore_user_t *user)
{
    assert (self);
    assert (username);
    assert (user);
    sqlite3_stmt *stmt = self->user_lookup;
    sqlite3_bind_text (stmt, 1, username, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    int result;
    if (rc == SQLITE_ROW)
        result = s_user_row (stmt, user) == 0? CHAT_OK: CHAT_ERR_INTERNAL;
    else
    if (rc == SQLITE_DONE)
        result = CHAT_ERR_NOT_FOUND;
    else {
        s_log_error (self, "lookup user");
        result = CHAT_ERR_INTERNAL;
    }
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return result;
}

int
keystore_user_each (keystore_t *self, size_t limit,
                    keystore_user_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    sqlite3_stmt *stmt = NULL;
    if (s_prepare (self, "SELECT username, salt, iterations, stored_key, server_key,"
                         " created_at FROM users ORDER BY rowid", &stmt))
        return CHAT_ERR_INTERNAL;
    int result = CHAT_OK;
    size_t count = 0;
    keystore_user_t user;
    while (limit == 0 || count < limit) {
        int rc = sqlite3_step (stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            s_log_error (self, "list users");
            result = CHAT_ERR_INTERNAL;
            break;
        }
        if (s_user_row (stmt, &user) == 0) {
            count++;
            if (fn (&user, arg))
                break;
        }
    }
    secret_wipe (&user, sizeof user);
    sqlite3_finalize (stmt);
    return result;
}

//  Step key_get for id; copy the key out. CHAT_OK, NOT_FOUND or INTERNAL.
static int
s_key_get (keystore_t *self, const uint8_t *id, uint8_t *key)
{
    sqlite3_stmt *stmt = self->key_get;
    sqlite3_bind_blob (stmt, 1, id, CONVERSATION_ID_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    int result;
    if (rc == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob (stmt, 0);
        if (blob && sqlite3_column_bytes (stmt, 0) == KEYSTORE_KEY_SIZE) {
            memcpy (key, blob, KEYSTORE_KEY_SIZE);
            result = CHAT_OK;
        }
        else
            result = CHAT_ERR_INTERNAL;
    }
    else
    if (rc == SQLITE_DONE)
        result = CHAT_ERR_NOT_FOUND;
    else {
        s_log_error (self, "get key");
        result = CHAT_ERR_INTERNAL;
    }
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return result;
}

int
keystore_key_create (keystore_t *self,
                     const uint8_t id [CONVERSATION_ID_SIZE],
                     const uint8_t candidate [KEYSTORE_KEY_SIZE],
                     uint8_t key [KEYSTORE_KEY_SIZE])
{
    assert (self);
    assert (id);
    assert (candidate);
    assert (key);
    //  A savepoint, not keystore_begin: inside a batch a failure here must
    //  take back this write alone; outside one, RELEASE commits it
    if (keystore_savepoint (self) != CHAT_OK)
        return CHAT_ERR_INTERNAL;
    sqlite3_stmt *stmt = self->key_insert;
    sqlite3_bind_blob (stmt, 1, id, CONVERSATION_ID_SIZE, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 2, candidate, KEYSTORE_KEY_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    if (rc != SQLITE_DONE) {
        s_log_error (self, "insert key");
        keystore_savepoint_rollback (self);
        return CHAT_ERR_INTERNAL;
    }
    //  Either ours went in or an earlier one stands: read back what is there
    if (s_key_get (self, id, key) != CHAT_OK) {
        keystore_savepoint_rollback (self);
        return CHAT_ERR_INTERNAL;
    }
    if (keystore_release (self) != CHAT_OK) {
        secret_wipe (key, KEYSTORE_KEY_SIZE);
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

int
keystore_key_get (keystore_t *self,
                  const uint8_t id [CONVERSATION_ID_SIZE],
                  uint8_t key [KEYSTORE_KEY_SIZE])
{
    assert (self);
    assert (id);
    assert (key);
    return s_key_get (self, id, key);
}

static int64_t
s_count (keystore_t *self, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    int64_t count = -1;
    if (s_prepare (self, sql, &stmt) == 0 && sqlite3_step (stmt) == SQLITE_ROW)
        count = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    return count;
}

int64_t
keystore_user_count (keystore_t *self)
{
    assert (self);
    return s_count (self, "SELECT count(*) FROM users");
}

int64_t
keystore_key_count (keystore_t *self)
{
    assert (self);
    return s_count (self, "SELECT count(*) FROM conversation_keys");
}
