/*  keystore_sqlite - the key server's users and wrapped epoch keys, in
    SQLite; see keystore_sqlite.h and, for what each call does, keystore.h

    A new database gets the whole protocol 2 schema (s_schema) at once;
    later changes go in s_migrations. Never edit a released entry; add one.
    When the schema moves, keystore_pg.c gets the same step.
*/
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <czmq.h>
#include <sqlite3.h>
#include "chaterror.h"
#include "keystore_rules.h"
#include "keystore_sqlite.h"
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

typedef keystore_db_t sqlstore_t;

struct _keystore_db_t {
    sqlite3 *db;
    int depth;                  //  nesting of keystore_begin
    sqlite3_stmt *tx [TX_COUNT];
    sqlite3_stmt *user_insert;
    sqlite3_stmt *user_lookup;
    sqlite3_stmt *user_sealed;
    sqlite3_stmt *user_update;
    sqlite3_stmt *set_find;
    sqlite3_stmt *set_insert;
    sqlite3_stmt *key_insert;
    sqlite3_stmt *keys_of;
    sqlite3_stmt *count_of;
};

//  The schema of protocol 2, made whole on a new database. usernames are
//  ASCII only (credential_username_valid), so SQLite's NOCASE collation,
//  which folds ASCII, is exactly the uniqueness rule. An epoch's wrapped
//  keys hang off its key_sets row; a member's copies are found by the
//  primary key of wrapped_keys (member first), so get_keys is one range.
static const char *s_schema =
    "CREATE TABLE users ("
    "  username TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  salt BLOB NOT NULL,"
    "  iterations INTEGER NOT NULL,"
    "  stored_key BLOB NOT NULL,"
    "  server_key BLOB NOT NULL,"
    "  identity_public_key BLOB NOT NULL,"
    "  sealed_identity BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE key_sets ("
    "  conversation_id BLOB NOT NULL CHECK (length (conversation_id) = 16),"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 1),"
    "  uploader TEXT NOT NULL,"
    "  set_hash BLOB NOT NULL,"
    "  stored_at INTEGER NOT NULL,"
    "  PRIMARY KEY (conversation_id, epoch)) WITHOUT ROWID;"
    "CREATE TABLE wrapped_keys ("
    "  member TEXT NOT NULL COLLATE NOCASE,"
    "  conversation_id BLOB NOT NULL,"
    "  epoch INTEGER NOT NULL,"
    "  wrapped_key BLOB NOT NULL,"
    "  PRIMARY KEY (member, conversation_id, epoch),"
    "  FOREIGN KEY (conversation_id, epoch) REFERENCES key_sets (conversation_id, epoch)"
    ") WITHOUT ROWID;";

//  Forward migrations from KEYSTORE_SCHEMA_VERSION on: entry N takes
//  user_version 2 + N to 3 + N. Never edit a released entry; add one.
static const char *s_migrations [] = { NULL };
#define MIGRATIONS (int) (sizeof s_migrations / sizeof s_migrations [0] - 1)
#define SCHEMA_LAST (KEYSTORE_SCHEMA_VERSION + MIGRATIONS)

static void
s_log_error (sqlstore_t *self, const char *what)
{
    zsys_error ("keystore: %s: %s", what, sqlite3_errmsg (self->db));
}

static int
s_exec (sqlstore_t *self, const char *sql)
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
s_user_version (sqlstore_t *self)
{
    sqlite3_stmt *stmt = NULL;
    int version = -1;
    if (sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &stmt, NULL) == SQLITE_OK
    &&  sqlite3_step (stmt) == SQLITE_ROW)
        version = sqlite3_column_int (stmt, 0);
    sqlite3_finalize (stmt);
    return version;
}

//  Run sql and set user_version to version, together or not at all.
static int
s_schema_step (sqlstore_t *self, const char *sql, int version)
{
    char pragma [64];
    snprintf (pragma, sizeof pragma, "PRAGMA user_version = %d;", version);
    if (s_exec (self, "BEGIN IMMEDIATE;"))
        return -1;
    if (s_exec (self, sql) || s_exec (self, pragma)) {
        s_exec (self, "ROLLBACK;");
        return -1;
    }
    return s_exec (self, "COMMIT;");
}

static int
s_migrate (sqlstore_t *self, const char *path)
{
    int version = s_user_version (self);
    if (version < 0) {
        s_log_error (self, "read schema version");
        return -1;
    }
    if (version > 0 && version < KEYSTORE_SCHEMA_VERSION) {
        //  Protocol 1 kept every conversation key in the clear and its
        //  users have no identity key: nothing of it can serve protocol 2,
        //  and carrying its keys over would keep them readable
        zsys_error ("keystore: %s is a protocol 1 database (schema version %d): its "
                    "conversation keys are stored in the clear and its users have no "
                    "identity keys, so it cannot be carried over. Start this server "
                    "with a fresh data directory (move the old one away, and destroy "
                    "it once nobody needs it); users register again", path, version);
        return -1;
    }
    if (version > SCHEMA_LAST) {
        zsys_error ("keystore: %s has schema version %d, newer than this program (%d)",
                    path, version, SCHEMA_LAST);
        return -1;
    }
    if (version == 0) {
        if (s_schema_step (self, s_schema, KEYSTORE_SCHEMA_VERSION))
            return -1;
        zsys_info ("keystore: %s created with schema version %d", path,
                   KEYSTORE_SCHEMA_VERSION);
        version = KEYSTORE_SCHEMA_VERSION;
    }
    //  Counting steps against MIGRATIONS (not versions against SCHEMA_LAST)
    //  lets the compiler see the index stays inside s_migrations
    int step = version - KEYSTORE_SCHEMA_VERSION;
    for (; step >= 0 && step < MIGRATIONS; step++, version++) {
        if (s_schema_step (self, s_migrations [step],
                           version + 1))
            return -1;
        zsys_info ("keystore: schema migrated to version %d", version + 1);
    }
    return 0;
}

static int
s_prepare (sqlstore_t *self, const char *sql, sqlite3_stmt **stmt)
{
    if (sqlite3_prepare_v2 (self->db, sql, -1, stmt, NULL) != SQLITE_OK) {
        s_log_error (self, "prepare");
        return -1;
    }
    return 0;
}

//  A statement kept for the life of the store
static int
s_prepare_kept (sqlstore_t *self, const char *sql, sqlite3_stmt **stmt)
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
s_tx (sqlstore_t *self, tx_t which)
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

//  The statements kept for the life of the store
typedef struct {
    const char *sql;
    size_t offset;
} kept_t;

#define KEPT(field, text) { text, offsetof (sqlstore_t, field) }
static const kept_t s_kept [] = {
    KEPT (user_insert,
          "INSERT INTO users (username, salt, iterations, stored_key, server_key,"
          " identity_public_key, sealed_identity, created_at)"
          " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
    KEPT (user_lookup,
          "SELECT username, salt, iterations, stored_key, server_key,"
          " identity_public_key, created_at FROM users WHERE username = ?"),
    KEPT (user_sealed, "SELECT sealed_identity FROM users WHERE username = ?"),
    KEPT (user_update,
          "UPDATE users SET salt = ?2, iterations = ?3, stored_key = ?4, server_key = ?5,"
          " sealed_identity = ?6 WHERE username = ?1"),
    KEPT (set_find,
          "SELECT uploader, set_hash FROM key_sets WHERE conversation_id = ? AND epoch = ?"),
    KEPT (set_insert,
          "INSERT INTO key_sets (conversation_id, epoch, uploader, set_hash, stored_at)"
          " VALUES (?, ?, ?, ?, ?)"),
    KEPT (key_insert,
          "INSERT INTO wrapped_keys (member, conversation_id, epoch, wrapped_key)"
          " VALUES (?, ?, ?, ?)"),
    KEPT (keys_of,
          "SELECT w.epoch, w.wrapped_key, s.uploader FROM wrapped_keys w"
          " JOIN key_sets s ON s.conversation_id = w.conversation_id AND s.epoch = w.epoch"
          " WHERE w.member = ?1 AND w.conversation_id = ?2 AND w.epoch >= ?3"
          " ORDER BY w.epoch LIMIT ?4"),
    KEPT (count_of, "SELECT count(*) FROM wrapped_keys WHERE member = ?"),
};
#define KEPT_COUNT (sizeof s_kept / sizeof s_kept [0])

static sqlite3_stmt **
s_kept_slot (sqlstore_t *self, size_t index)
{
    return (sqlite3_stmt **) ((char *) self + s_kept [index].offset);
}

static void
    sql_destroy (sqlstore_t **self_p);

static sqlstore_t *
sql_open (const char *path)
{
    assert (path);
    sqlstore_t *self = (sqlstore_t *) zmalloc (sizeof (sqlstore_t));
    assert (self);
    //  The file holds verifiers and sealed identities: 0600 from birth
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
        sql_destroy (&self);
        return NULL;
    }
    sqlite3_busy_timeout (self->db, 5000);
    //  FULL: a commit is on disk before the reply that depends on it is sent
    if (s_exec (self, "PRAGMA journal_mode = WAL;")
    ||  s_exec (self, "PRAGMA synchronous = FULL;")
    ||  s_exec (self, "PRAGMA foreign_keys = ON;")
    ||  s_migrate (self, path)) {
        sql_destroy (&self);
        return NULL;
    }
    for (size_t i = 0; i < KEPT_COUNT; i++)
        if (s_prepare_kept (self, s_kept [i].sql, s_kept_slot (self, i))) {
            sql_destroy (&self);
            return NULL;
        }
    for (int i = 0; i < TX_COUNT; i++)
        if (s_prepare_kept (self, s_tx_sql [i], &self->tx [i])) {
            sql_destroy (&self);
            return NULL;
        }
    return self;
}

static void
sql_destroy (sqlstore_t **self_p)
{
    assert (self_p);
    sqlstore_t *self = *self_p;
    if (!self)
        return;
    if (self->db && !sqlite3_get_autocommit (self->db))
        s_exec (self, "ROLLBACK;");
    for (int i = 0; i < TX_COUNT; i++)
        sqlite3_finalize (self->tx [i]);
    for (size_t i = 0; i < KEPT_COUNT; i++)
        sqlite3_finalize (*s_kept_slot (self, i));
    sqlite3_close (self->db);
    free (self);
    *self_p = NULL;
}

static int
sql_begin (sqlstore_t *self)
{
    assert (self);
    if (self->depth == 0 && s_tx (self, TX_BEGIN))
        return CHAT_ERR_INTERNAL;
    self->depth++;
    return CHAT_OK;
}

static int
sql_commit (sqlstore_t *self)
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

static void
sql_rollback (sqlstore_t *self)
{
    assert (self);
    if (self->depth == 0)
        return;
    //  An inner rollback dooms the whole transaction
    self->depth = 0;
    if (!sqlite3_get_autocommit (self->db))
        s_tx (self, TX_ROLLBACK);
}

static int
sql_savepoint (sqlstore_t *self)
{
    assert (self);
    //  Inside keystore_begin, the transaction must still be there: were it
    //  gone (rolled back by SQLite), this savepoint would open a new one
    //  and its RELEASE would commit on its own, out of the batch
    if (self->depth > 0 && sqlite3_get_autocommit (self->db))
        return CHAT_ERR_INTERNAL;
    return s_tx (self, TX_SAVEPOINT)? CHAT_ERR_INTERNAL: CHAT_OK;
}

static void
    sql_savepoint_rollback (sqlstore_t *self);

static int
sql_release (sqlstore_t *self)
{
    assert (self);
    if (s_tx (self, TX_RELEASE)) {
        sql_savepoint_rollback (self);
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

static void
sql_savepoint_rollback (sqlstore_t *self)
{
    assert (self);
    //  ROLLBACK TO keeps the savepoint open; RELEASE then drops it, empty
    if (!sqlite3_get_autocommit (self->db)) {
        s_tx (self, TX_ROLLBACK_TO);
        s_tx (self, TX_RELEASE);
    }
}

//  ---------------------------------------------------------------- users

//  A statement ready to bind
static sqlite3_stmt *
s_stmt (sqlite3_stmt *stmt)
{
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return stmt;
}

//  Step a write to its end; reset it and drop its bindings (they may
//  borrow secrets). The SQLite result code.
static int
s_step_done (sqlstore_t *self, sqlite3_stmt *stmt, int *extended)
{
    int rc = sqlite3_step (stmt);
    if (extended)
        *extended = sqlite3_extended_errcode (self->db);
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return rc;
}

static int
sql_user_insert (sqlstore_t *self, const keystore_user_t *user,
                      const uint8_t *sealed, size_t sealed_len)
{
    assert (self);
    assert (user);
    sqlite3_stmt *stmt = s_stmt (self->user_insert);
    sqlite3_bind_text (stmt, 1, user->username, -1, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 2, user->salt, (int) user->salt_len, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 3, user->iterations);
    sqlite3_bind_blob (stmt, 4, user->stored_key, SCRAM_KEY_SIZE, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 5, user->server_key, SCRAM_KEY_SIZE, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 6, user->identity, (int) user->identity_len, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 7, sealed, (int) sealed_len, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 8, user->created_at);
    int extended = 0;
    int rc = s_step_done (self, stmt, &extended);
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
    const void *identity = sqlite3_column_blob (stmt, 5);
    int identity_len = sqlite3_column_bytes (stmt, 5);
    //  Rows were checked on the way in; a row that fails here was written
    //  by something else, and is not trusted.
    if (!name || strlen (name) > USERNAME_MAX
    ||  !salt || salt_len < KEYSTORE_SALT_MIN || salt_len > KEYSTORE_SALT_MAX
    ||  iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS
    ||  !stored_key || stored_len != SCRAM_KEY_SIZE
    ||  !server_key || server_len != SCRAM_KEY_SIZE
    ||  !identity || identity_len <= 0 || identity_len > KEYSTORE_IDENTITY_MAX)
        return -1;
    strcpy (user->username, name);
    memcpy (user->salt, salt, (size_t) salt_len);
    user->salt_len = (size_t) salt_len;
    user->iterations = (uint32_t) iterations;
    memcpy (user->stored_key, stored_key, SCRAM_KEY_SIZE);
    memcpy (user->server_key, server_key, SCRAM_KEY_SIZE);
    memcpy (user->identity, identity, (size_t) identity_len);
    user->identity_len = (size_t) identity_len;
    user->created_at = sqlite3_column_int64 (stmt, 6);
    return 0;
}

static int
sql_user_lookup (sqlstore_t *self, const char *username,
                      keystore_user_t *user)
{
    assert (self);
    assert (username);
    assert (user);
    sqlite3_stmt *stmt = s_stmt (self->user_lookup);
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
    s_stmt (stmt);
    return result;
}

static int
sql_user_sealed (sqlstore_t *self, const char *username,
                      uint8_t **sealed, size_t *sealed_len)
{
    assert (self && username && sealed && sealed_len);
    sqlite3_stmt *stmt = s_stmt (self->user_sealed);
    sqlite3_bind_text (stmt, 1, username, -1, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    int result = CHAT_ERR_INTERNAL;
    if (rc == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob (stmt, 0);
        int len = sqlite3_column_bytes (stmt, 0);
        if (blob && keystore_rules_sealed_valid (blob, (size_t) len)) {
            *sealed = (uint8_t *) malloc ((size_t) len + 1);
            if (*sealed) {
                memcpy (*sealed, blob, (size_t) len);
                (*sealed) [len] = 0;
                *sealed_len = (size_t) len;
                result = CHAT_OK;
            }
        }
    }
    else
    if (rc == SQLITE_DONE)
        result = CHAT_ERR_NOT_FOUND;
    else
        s_log_error (self, "read sealed identity");
    s_stmt (stmt);
    return result;
}

static int
sql_user_update_password (sqlstore_t *self, const keystore_user_t *user,
                               const uint8_t *sealed, size_t sealed_len)
{
    assert (self && user);
    sqlite3_stmt *stmt = s_stmt (self->user_update);
    sqlite3_bind_text (stmt, 1, user->username, -1, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 2, user->salt, (int) user->salt_len, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 3, user->iterations);
    sqlite3_bind_blob (stmt, 4, user->stored_key, SCRAM_KEY_SIZE, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 5, user->server_key, SCRAM_KEY_SIZE, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 6, sealed, (int) sealed_len, SQLITE_STATIC);
    int rc = s_step_done (self, stmt, NULL);
    if (rc != SQLITE_DONE) {
        s_log_error (self, "update password");
        return CHAT_ERR_INTERNAL;
    }
    return sqlite3_changes (self->db) == 1? CHAT_OK: CHAT_ERR_NOT_FOUND;
}

static int
sql_user_each (sqlstore_t *self, size_t limit,
                    keystore_user_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    sqlite3_stmt *stmt = NULL;
    if (s_prepare (self, "SELECT username, salt, iterations, stored_key, server_key,"
                         " identity_public_key, created_at FROM users ORDER BY rowid",
                   &stmt))
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

//  ---------------------------------------------------------------- epoch keys

//  The set stored for (id, epoch): CHAT_OK with its uploader and hash,
//  CHAT_ERR_NOT_FOUND, or CHAT_ERR_INTERNAL.
static int
s_set_find (sqlstore_t *self, const uint8_t *id, uint64_t epoch,
            char uploader [USERNAME_MAX + 1], uint8_t hash [32])
{
    sqlite3_stmt *stmt = s_stmt (self->set_find);
    sqlite3_bind_blob (stmt, 1, id, CONVERSATION_ID_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) epoch);
    int rc = sqlite3_step (stmt);
    int result = CHAT_ERR_INTERNAL;
    if (rc == SQLITE_ROW) {
        const char *name = (const char *) sqlite3_column_text (stmt, 0);
        const void *blob = sqlite3_column_blob (stmt, 1);
        if (name && strlen (name) <= USERNAME_MAX
        &&  blob && sqlite3_column_bytes (stmt, 1) == 32) {
            strcpy (uploader, name);
            memcpy (hash, blob, 32);
            result = CHAT_OK;
        }
    }
    else
    if (rc == SQLITE_DONE)
        result = CHAT_ERR_NOT_FOUND;
    else
        s_log_error (self, "find key set");
    s_stmt (stmt);
    return result;
}

//  Insert the set and its copies (keys sorted, hash made); all or nothing
//  under a savepoint of its own.
static int
s_set_insert (sqlstore_t *self, const uint8_t *id, uint64_t epoch, const char *uploader,
              const keystore_wrapped_t *keys, size_t count, const uint8_t hash [32],
              int64_t now_ms)
{
    if (sql_savepoint (self) != CHAT_OK)
        return CHAT_ERR_INTERNAL;
    sqlite3_stmt *stmt = s_stmt (self->set_insert);
    sqlite3_bind_blob (stmt, 1, id, CONVERSATION_ID_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) epoch);
    sqlite3_bind_text (stmt, 3, uploader, -1, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 4, hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 5, now_ms);
    bool ok = s_step_done (self, stmt, NULL) == SQLITE_DONE;
    for (size_t i = 0; ok && i < count; i++) {
        stmt = s_stmt (self->key_insert);
        sqlite3_bind_text (stmt, 1, keys [i].username, -1, SQLITE_STATIC);
        sqlite3_bind_blob (stmt, 2, id, CONVERSATION_ID_SIZE, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) epoch);
        sqlite3_bind_blob (stmt, 4, keys [i].wrapped, (int) keys [i].wrapped_len,
                           SQLITE_STATIC);
        ok = s_step_done (self, stmt, NULL) == SQLITE_DONE;
    }
    if (!ok) {
        s_log_error (self, "store key set");
        sql_savepoint_rollback (self);
        return CHAT_ERR_INTERNAL;
    }
    return sql_release (self);
}

static int
sql_keys_put (sqlstore_t *self, const uint8_t id [CONVERSATION_ID_SIZE],
              uint64_t epoch, const char *uploader,
              const keystore_wrapped_t *keys, size_t count, const uint8_t hash [32],
              int64_t now_ms, char stored_uploader [USERNAME_MAX + 1],
              uint8_t stored_hash [32])
{
    assert (self && id && uploader && keys && hash);
    int rc = s_set_find (self, id, epoch, stored_uploader, stored_hash);
    if (rc == CHAT_OK)
        return CHAT_ERR_KEY_EXISTS;     //  keystore.c tells a retry apart
    if (rc == CHAT_ERR_NOT_FOUND)
        rc = s_set_insert (self, id, epoch, uploader, keys, count, hash, now_ms);
    return rc;
}

static int
sql_keys_of (sqlstore_t *self, const uint8_t id [CONVERSATION_ID_SIZE],
                  const char *member, uint64_t from_epoch, size_t limit,
                  keystore_key_fn *fn, void *arg)
{
    assert (self && id && member && fn);
    sqlite3_stmt *stmt = s_stmt (self->keys_of);
    sqlite3_bind_text (stmt, 1, member, -1, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 2, id, CONVERSATION_ID_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) from_epoch);
    sqlite3_bind_int64 (stmt, 4, limit > INT64_MAX? INT64_MAX: (sqlite3_int64) limit);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        sqlite3_int64 epoch = sqlite3_column_int64 (stmt, 0);
        const uint8_t *wrapped = (const uint8_t *) sqlite3_column_blob (stmt, 1);
        int len = sqlite3_column_bytes (stmt, 1);
        const char *uploader = (const char *) sqlite3_column_text (stmt, 2);
        if (epoch < 1 || !wrapped || len <= 0 || !uploader)
            continue;               //  not written by us: not handed out
        if (fn ((uint64_t) epoch, wrapped, (size_t) len, uploader, arg))
            break;
    }
    s_stmt (stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        s_log_error (self, "keys of a member");
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

static int64_t
s_count (sqlstore_t *self, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    int64_t count = -1;
    if (s_prepare (self, sql, &stmt) == 0 && sqlite3_step (stmt) == SQLITE_ROW)
        count = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    return count;
}

static int64_t
sql_count (sqlstore_t *self, keystore_count_t what)
{
    assert (self);
    switch (what) {
        case KEYSTORE_COUNT_USERS:
            return s_count (self, "SELECT count(*) FROM users");
        case KEYSTORE_COUNT_KEY_SETS:
            return s_count (self, "SELECT count(*) FROM key_sets");
        case KEYSTORE_COUNT_WRAPPED:
            return s_count (self, "SELECT count(*) FROM wrapped_keys");
    }
    return -1;
}

static int64_t
sql_wrapped_count_of (sqlstore_t *self, const char *member)
{
    assert (self && member);
    sqlite3_stmt *stmt = s_stmt (self->count_of);
    sqlite3_bind_text (stmt, 1, member, -1, SQLITE_STATIC);
    int64_t count = sqlite3_step (stmt) == SQLITE_ROW? sqlite3_column_int64 (stmt, 0): -1;
    s_stmt (stmt);
    return count;
}

const keystore_backend_t keystore_sqlite_backend = {
    .name = "sqlite",
    .open = sql_open,
    .destroy = sql_destroy,
    .begin = sql_begin,
    .commit = sql_commit,
    .rollback = sql_rollback,
    .savepoint = sql_savepoint,
    .release = sql_release,
    .savepoint_rollback = sql_savepoint_rollback,
    .user_insert = sql_user_insert,
    .user_lookup = sql_user_lookup,
    .user_sealed = sql_user_sealed,
    .user_update_password = sql_user_update_password,
    .user_each = sql_user_each,
    .keys_put = sql_keys_put,
    .keys_of = sql_keys_of,
    .count = sql_count,
    .wrapped_count_of = sql_wrapped_count_of,
};
