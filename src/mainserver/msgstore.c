/*  msgstore - the main server's storage on SQLite; see msgstore.h  */
#include <errno.h>
#include <string.h>
#include <sqlite3.h>
#include "chaterror.h"
#include "credential.h"
#include "secret.h"
#include "msgstore.h"

//  Forward migrations: migrations[i] takes user_version i to i + 1.
static const char *s_migrations [] = {
    //  0 -> 1
    "CREATE TABLE users ("
    "  name_lower TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE conversations ("
    "  id BLOB PRIMARY KEY CHECK (length (id) = 16),"
    "  pair_key TEXT UNIQUE,"          //  'a\nb' (sorted, lower) for two people
    "  created_at INTEGER NOT NULL,"
    "  last_seq INTEGER NOT NULL DEFAULT 0,"
    "  last_time INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE INDEX conversations_by_activity ON conversations (last_time, created_at);"
    "CREATE TABLE members ("
    "  conversation_id BLOB NOT NULL REFERENCES conversations (id),"
    "  name_lower TEXT NOT NULL REFERENCES users (name_lower),"
    "  PRIMARY KEY (conversation_id, name_lower)"
    ") WITHOUT ROWID;"
    "CREATE INDEX members_by_user ON members (name_lower, conversation_id);"
    //  Tokens are up to 100 KB: a rowid table, so the primary key index
    //  stays small and a page is an index range plus one lookup per row.
    "CREATE TABLE messages ("
    "  conversation_id BLOB NOT NULL REFERENCES conversations (id),"
    "  seq INTEGER NOT NULL,"
    "  sender TEXT NOT NULL,"
    "  server_time INTEGER NOT NULL,"
    "  token TEXT NOT NULL,"
    "  client_message_id BLOB NOT NULL,"
    "  PRIMARY KEY (conversation_id, seq),"
    "  UNIQUE (conversation_id, client_message_id)"
    ");",
    //  1 -> 2: read markers, per member and conversation
    "CREATE TABLE IF NOT EXISTS read_marks ("
    "  conversation_id BLOB NOT NULL REFERENCES conversations (id),"
    "  name_lower TEXT NOT NULL REFERENCES users (name_lower),"
    "  read_seq INTEGER NOT NULL,"
    "  PRIMARY KEY (conversation_id, name_lower)"
    ") WITHOUT ROWID;"
};
#define MIGRATIONS (sizeof (s_migrations) / sizeof (s_migrations [0]))

typedef enum {
    Q_USER_ADD,
    Q_USER_FIND,
    Q_USER_EACH,
    Q_CONV_PAIR,
    Q_CONV_INSERT,
    Q_MEMBER_INSERT,
    Q_CONV_GET,
    Q_CONV_GET_MEMBER,
    Q_CONV_MEMBERS,
    Q_CONV_EACH_OF,
    Q_CONV_EACH,
    Q_MSG_FIND,
    Q_MSG_NEXT,
    Q_MSG_INSERT,
    Q_MSG_PAGE,
    Q_MSG_LAST,
    Q_READ_SET,
    Q_READ_GET,
    Q_UNREAD,
    //  Transaction control, run for every request: prepared once, so no
    //  request pays for parsing them again
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_SP_REQUEST,
    Q_SP_REQUEST_RELEASE,
    Q_SP_REQUEST_ROLLBACK,
    Q_SP_MSG_ADD,
    Q_SP_MSG_ADD_RELEASE,
    Q_SP_MSG_ADD_ROLLBACK,
    Q_SP_CONV_OPEN,
    Q_SP_CONV_OPEN_RELEASE,
    Q_SP_CONV_OPEN_ROLLBACK,
    Q_COUNT
} query_t;

static const char *s_queries [Q_COUNT] = {
    [Q_USER_ADD] =
        "INSERT INTO users (name_lower, name, created_at) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (name_lower) DO NOTHING",
    [Q_USER_FIND] =
        "SELECT name FROM users WHERE name_lower = ?1",
    [Q_USER_EACH] =
        "SELECT name, created_at FROM users ORDER BY name_lower",
    [Q_CONV_PAIR] =
        "SELECT id, last_seq, last_time, created_at FROM conversations"
        " WHERE pair_key = ?1",
    [Q_CONV_INSERT] =
        "INSERT INTO conversations (id, pair_key, created_at) VALUES (?1, ?2, ?3)",
    [Q_MEMBER_INSERT] =
        "INSERT INTO members (conversation_id, name_lower) VALUES (?1, ?2)",
    [Q_CONV_GET] =
        "SELECT id, last_seq, last_time, created_at FROM conversations WHERE id = ?1",
    [Q_CONV_GET_MEMBER] =
        "SELECT c.id, c.last_seq, c.last_time, c.created_at"
        " FROM members m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.conversation_id = ?1 AND m.name_lower = ?2",
    [Q_CONV_MEMBERS] =
        "SELECT u.name FROM members m JOIN users u ON u.name_lower = m.name_lower"
        " WHERE m.conversation_id = ?1 ORDER BY m.name_lower",
    [Q_CONV_EACH_OF] =
        "SELECT c.id, c.last_seq, c.last_time, c.created_at"
        " FROM members m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.name_lower = ?1 ORDER BY c.created_at, c.id",
    [Q_CONV_EACH] =
        "SELECT id, last_seq, last_time, created_at FROM conversations"
        " ORDER BY last_time DESC, created_at DESC",
    [Q_MSG_FIND] =
        "SELECT seq, server_time, sender FROM messages"
        " WHERE conversation_id = ?1 AND client_message_id = ?2",
    [Q_MSG_NEXT] =
        "UPDATE conversations SET last_seq = last_seq + 1, last_time = ?2"
        " WHERE id = ?1 RETURNING last_seq",
    [Q_MSG_INSERT] =
        "INSERT INTO messages (conversation_id, seq, sender, server_time, token,"
        " client_message_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_MSG_PAGE] =
        "SELECT seq, sender, server_time, token, client_message_id FROM messages"
        " WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    [Q_MSG_LAST] =
        "SELECT token FROM messages WHERE conversation_id = ?1"
        " ORDER BY seq DESC LIMIT 1",
    [Q_READ_SET] =
        "INSERT INTO read_marks (conversation_id, name_lower, read_seq) VALUES (?1, ?2, ?3)"
        " ON CONFLICT (conversation_id, name_lower) DO UPDATE SET read_seq = excluded.read_seq"
        " WHERE excluded.read_seq > read_seq",
    [Q_READ_GET] =
        "SELECT read_seq FROM read_marks WHERE conversation_id = ?1 AND name_lower = ?2",
    [Q_UNREAD] =
        "SELECT count(*) FROM messages WHERE conversation_id = ?1 AND seq > ?2"
        " AND lower (sender) <> ?3",
    [Q_BEGIN] =                 "BEGIN IMMEDIATE",
    [Q_COMMIT] =                "COMMIT",
    [Q_ROLLBACK] =              "ROLLBACK",
    [Q_SP_REQUEST] =            "SAVEPOINT request",
    [Q_SP_REQUEST_RELEASE] =    "RELEASE request",
    [Q_SP_REQUEST_ROLLBACK] =   "ROLLBACK TO request",
    [Q_SP_MSG_ADD] =            "SAVEPOINT msg_add",
    [Q_SP_MSG_ADD_RELEASE] =    "RELEASE msg_add",
    [Q_SP_MSG_ADD_ROLLBACK] =   "ROLLBACK TO msg_add",
    [Q_SP_CONV_OPEN] =          "SAVEPOINT conv_open",
    [Q_SP_CONV_OPEN_RELEASE] =  "RELEASE conv_open",
    [Q_SP_CONV_OPEN_ROLLBACK] = "ROLLBACK TO conv_open",
};

struct _msgstore_t {
    sqlite3 *db;
    sqlite3_stmt *stmt [Q_COUNT];
    char *path;
};

static int
s_fail (msgstore_t *self, const char *what)
{
    zsys_error ("msgstore: %s: %s", what, sqlite3_errmsg (self->db));
    return CHAT_ERR_INTERNAL;
}

static int
s_exec (msgstore_t *self, const char *sql)
{
    char *error = NULL;
    if (sqlite3_exec (self->db, sql, NULL, NULL, &error) != SQLITE_OK) {
        zsys_error ("msgstore: %s: %s", sql, error? error: "failed");
        sqlite3_free (error);
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

//  Run a prepared statement that takes no parameters and yields no row
//  (transaction control).
static int
s_run (msgstore_t *self, query_t query)
{
    sqlite3_stmt *stmt = self->stmt [query];
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE) {
        zsys_error ("msgstore: %s: %s", s_queries [query], sqlite3_errmsg (self->db));
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

//  A statement ready to bind: reset and cleared.
static sqlite3_stmt *
s_stmt (msgstore_t *self, query_t query)
{
    sqlite3_stmt *stmt = self->stmt [query];
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return stmt;
}

static int
s_user_version (msgstore_t *self, int *version)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK)
        return s_fail (self, "user_version");
    int rc = sqlite3_step (stmt);
    *version = rc == SQLITE_ROW? sqlite3_column_int (stmt, 0): -1;
    sqlite3_finalize (stmt);
    return *version < 0? s_fail (self, "user_version"): CHAT_OK;
}

static int
s_migrate (msgstore_t *self)
{
    int version;
    if (s_user_version (self, &version))
        return CHAT_ERR_INTERNAL;
    if (version > (int) MIGRATIONS) {
        zsys_error ("msgstore: %s has schema version %d, this program knows up to %d",
                    self->path, version, (int) MIGRATIONS);
        return CHAT_ERR_INTERNAL;
    }
    while (version < (int) MIGRATIONS) {
        if (s_exec (self, "BEGIN IMMEDIATE"))
            return CHAT_ERR_INTERNAL;
        char pragma [64];
        snprintf (pragma, sizeof pragma, "PRAGMA user_version = %d", version + 1);
        if (s_exec (self, s_migrations [version]) || s_exec (self, pragma)) {
            s_exec (self, "ROLLBACK");
            return CHAT_ERR_INTERNAL;
        }
        if (s_exec (self, "COMMIT"))
            return CHAT_ERR_INTERNAL;
        zsys_info ("msgstore: %s now at schema version %d", self->path, version + 1);
        version++;
    }
    return CHAT_OK;
}

msgstore_t *
msgstore_open (const char *path)
{
    assert (path);
    msgstore_t *self = (msgstore_t *) zmalloc (sizeof (msgstore_t));
    assert (self);
    self->path = strdup (path);
    //  Nobody but the server reads it, whatever the folder's mode: 0600
    //  before SQLite makes it (and its -wal and -shm take its mode)
    if (secret_database_private (path) != 0) {
        zsys_error ("msgstore: cannot open %s: %s", path, strerror (errno));
        msgstore_destroy (&self);
        return NULL;
    }
    if (sqlite3_open_v2 (path, &self->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                         | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        zsys_error ("msgstore: cannot open %s: %s", path,
                    self->db? sqlite3_errmsg (self->db): "out of memory");
        msgstore_destroy (&self);
        return NULL;
    }
    sqlite3_busy_timeout (self->db, 5000);
    //  journal_mode answers with a row: check that WAL took.
    sqlite3_stmt *stmt;
    bool wal = false;
    if (sqlite3_prepare_v2 (self->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL) == SQLITE_OK) {
        if (sqlite3_step (stmt) == SQLITE_ROW) {
            const char *mode = (const char *) sqlite3_column_text (stmt, 0);
            wal = mode && streq (mode, "wal");
        }
        sqlite3_finalize (stmt);
    }
    if (!wal) {
        s_fail (self, "cannot switch to WAL");
        msgstore_destroy (&self);
        return NULL;
    }
    //  FULL: a commit is on disk before we acknowledge anything.
    if (s_exec (self, "PRAGMA synchronous = FULL")
    ||  s_exec (self, "PRAGMA foreign_keys = ON")
    ||  s_migrate (self)) {
        msgstore_destroy (&self);
        return NULL;
    }
    for (int query = 0; query < Q_COUNT; query++)
        if (sqlite3_prepare_v3 (self->db, s_queries [query], -1,
                                SQLITE_PREPARE_PERSISTENT,
                                &self->stmt [query], NULL) != SQLITE_OK) {
            s_fail (self, s_queries [query]);
            msgstore_destroy (&self);
            return NULL;
        }
    return self;
}

void
msgstore_destroy (msgstore_t **self_p)
{
    assert (self_p);
    msgstore_t *self = *self_p;
    if (self) {
        for (int query = 0; query < Q_COUNT; query++)
            sqlite3_finalize (self->stmt [query]);
        if (self->db)
            sqlite3_close (self->db);
        free (self->path);
        free (self);
        *self_p = NULL;
    }
}

int
msgstore_begin (msgstore_t *self)
{
    assert (self);
    return s_run (self, Q_BEGIN);
}

int
msgstore_commit (msgstore_t *self)
{
    assert (self);
    if (s_run (self, Q_COMMIT)) {
        //  A failed COMMIT may leave the transaction open: end it, so
        //  that nothing of it is ever written later by accident.
        if (!sqlite3_get_autocommit (self->db))
            s_run (self, Q_ROLLBACK);
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

int
msgstore_rollback (msgstore_t *self)
{
    assert (self);
    if (sqlite3_get_autocommit (self->db))
        return CHAT_OK;         //  SQLite rolled back already
    return s_run (self, Q_ROLLBACK);
}

int
msgstore_savepoint (msgstore_t *self)
{
    assert (self);
    return s_run (self, Q_SP_REQUEST);
}

int
msgstore_savepoint_release (msgstore_t *self)
{
    assert (self);
    return s_run (self, Q_SP_REQUEST_RELEASE);
}

int
msgstore_savepoint_rollback (msgstore_t *self)
{
    assert (self);
    if (sqlite3_get_autocommit (self->db))
        return CHAT_ERR_INTERNAL;       //  the whole transaction is gone
    if (s_run (self, Q_SP_REQUEST_ROLLBACK) || s_run (self, Q_SP_REQUEST_RELEASE))
        return CHAT_ERR_INTERNAL;
    return CHAT_OK;
}

//  ---------------------------------------------------------------- users

int
msgstore_user_add (msgstore_t *self, const char *name, int64_t now_ms, bool *added)
{
    assert (self);
    assert (name);
    char lower [256];
    credential_username_fold (name, lower, sizeof lower);
    sqlite3_stmt *stmt = s_stmt (self, Q_USER_ADD);
    sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 3, now_ms);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
        return s_fail (self, "user add");
    if (added)
        *added = sqlite3_changes (self->db) > 0;
    return CHAT_OK;
}

int
msgstore_user_find (msgstore_t *self, const char *name, char **canonical)
{
    assert (self);
    assert (name);
    assert (canonical);
    *canonical = NULL;
    char lower [256];
    credential_username_fold (name, lower, sizeof lower);
    sqlite3_stmt *stmt = s_stmt (self, Q_USER_FIND);
    sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW)
        *canonical = strdup ((const char *) sqlite3_column_text (stmt, 0));
    sqlite3_reset (stmt);
    if (rc == SQLITE_ROW)
        return CHAT_OK;
    if (rc == SQLITE_DONE)
        return CHAT_ERR_UNKNOWN_USER;
    return s_fail (self, "user find");
}

int
msgstore_user_each (msgstore_t *self, msgstore_user_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    sqlite3_stmt *stmt = s_stmt (self, Q_USER_EACH);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        if (fn ((const char *) sqlite3_column_text (stmt, 0),
                sqlite3_column_int64 (stmt, 1), arg))
            break;
    sqlite3_reset (stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return s_fail (self, "user list");
    return CHAT_OK;
}

//  ---------------------------------------------------------------- conversations

static void
s_conv_row (sqlite3_stmt *stmt, msgstore_conv_t *conv)
{
    memset (conv, 0, sizeof *conv);
    const void *id = sqlite3_column_blob (stmt, 0);
    if (id && sqlite3_column_bytes (stmt, 0) == MSGSTORE_ID_SIZE)
        memcpy (conv->id, id, MSGSTORE_ID_SIZE);
    conv->last_seq = (uint64_t) sqlite3_column_int64 (stmt, 1);
    conv->last_time = sqlite3_column_int64 (stmt, 2);
    conv->created_at = sqlite3_column_int64 (stmt, 3);
}

//  Run a statement that yields at most one conversation row.
static int
s_conv_one (msgstore_t *self, sqlite3_stmt *stmt, msgstore_conv_t *conv)
{
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW && conv)
        s_conv_row (stmt, conv);
    sqlite3_reset (stmt);
    if (rc == SQLITE_ROW)
        return CHAT_OK;
    if (rc == SQLITE_DONE)
        return CHAT_ERR_NOT_FOUND;
    return s_fail (self, "conversation lookup");
}

int
msgstore_conv_open (msgstore_t *self, const char **names, size_t count,
                    int64_t now_ms, msgstore_conv_t *conv, bool *created)
{
    assert (self);
    assert (names);
    assert (conv);
    assert (count >= 2 && count <= MSGSTORE_MAX_MEMBERS);
    if (created)
        *created = false;

    char pair_key [2 * 256 + 2] = "";
    if (count == 2) {
        char a [256], b [256];
        credential_username_fold (names [0], a, sizeof a);
        credential_username_fold (names [1], b, sizeof b);
        bool in_order = strcmp (a, b) < 0;
        snprintf (pair_key, sizeof pair_key, "%s\n%s",
                  in_order? a: b, in_order? b: a);
        sqlite3_stmt *stmt = s_stmt (self, Q_CONV_PAIR);
        sqlite3_bind_text (stmt, 1, pair_key, -1, SQLITE_TRANSIENT);
        int rc = s_conv_one (self, stmt, conv);
        if (rc != CHAT_ERR_NOT_FOUND)
            return rc;          //  found it, or failed
    }
    memset (conv, 0, sizeof *conv);
    if (secret_random (conv->id, MSGSTORE_ID_SIZE)) {
        zsys_error ("msgstore: no randomness for a conversation id");
        return CHAT_ERR_INTERNAL;
    }
    conv->created_at = now_ms;

    //  The members go in under one savepoint of our own: all or none.
    if (s_run (self, Q_SP_CONV_OPEN))
        return CHAT_ERR_INTERNAL;
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_INSERT);
    sqlite3_bind_blob (stmt, 1, conv->id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    if (count == 2)
        sqlite3_bind_text (stmt, 2, pair_key, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null (stmt, 2);
    sqlite3_bind_int64 (stmt, 3, now_ms);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    bool ok = rc == SQLITE_DONE;
    if (!ok)
        s_fail (self, "conversation insert");
    for (size_t index = 0; ok && index < count; index++) {
        char lower [256];
        credential_username_fold (names [index], lower, sizeof lower);
        stmt = s_stmt (self, Q_MEMBER_INSERT);
        sqlite3_bind_blob (stmt, 1, conv->id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
        sqlite3_bind_text (stmt, 2, lower, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step (stmt);
        sqlite3_reset (stmt);
        if (rc != SQLITE_DONE) {
            s_fail (self, "member insert");
            ok = false;
        }
    }
    if (!ok) {
        if (!sqlite3_get_autocommit (self->db)) {
            s_run (self, Q_SP_CONV_OPEN_ROLLBACK);
            s_run (self, Q_SP_CONV_OPEN_RELEASE);
        }
        return CHAT_ERR_INTERNAL;
    }
    if (s_run (self, Q_SP_CONV_OPEN_RELEASE))
        return CHAT_ERR_INTERNAL;
    if (created)
        *created = true;
    return CHAT_OK;
}

int
msgstore_conv_get (msgstore_t *self, const uint8_t *id, size_t id_len,
                   msgstore_conv_t *conv)
{
    assert (self);
    if (!id || id_len != MSGSTORE_ID_SIZE)
        return CHAT_ERR_NOT_FOUND;
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_GET);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    return s_conv_one (self, stmt, conv);
}

int
msgstore_conv_get_as_member (msgstore_t *self, const uint8_t *id, size_t id_len,
                             const char *name, msgstore_conv_t *conv)
{
    assert (self);
    assert (name);
    if (!id || id_len != MSGSTORE_ID_SIZE)
        return CHAT_ERR_NOT_FOUND;
    char lower [256];
    credential_username_fold (name, lower, sizeof lower);
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_GET_MEMBER);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, lower, -1, SQLITE_TRANSIENT);
    return s_conv_one (self, stmt, conv);
}

int
msgstore_conv_members (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                       zlistx_t **names)
{
    assert (self);
    assert (id);
    assert (names);
    zlistx_t *list = zlistx_new ();
    assert (list);
    zlistx_set_destructor (list, (zlistx_destructor_fn *) zstr_free);
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_MEMBERS);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        zlistx_add_end (list, strdup ((const char *) sqlite3_column_text (stmt, 0)));
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE) {
        zlistx_destroy (&list);
        return s_fail (self, "member list");
    }
    *names = list;
    return CHAT_OK;
}

static int
s_conv_iterate (msgstore_t *self, sqlite3_stmt *stmt, msgstore_conv_fn *fn, void *arg)
{
    int rc;
    msgstore_conv_t conv;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        s_conv_row (stmt, &conv);
        if (fn (&conv, arg))
            break;
    }
    sqlite3_reset (stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return s_fail (self, "conversation list");
    return CHAT_OK;
}

int
msgstore_conv_each_of (msgstore_t *self, const char *name,
                       msgstore_conv_fn *fn, void *arg)
{
    assert (self);
    assert (name);
    assert (fn);
    char lower [256];
    credential_username_fold (name, lower, sizeof lower);
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_EACH_OF);
    sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_TRANSIENT);
    return s_conv_iterate (self, stmt, fn, arg);
}

int
msgstore_conv_each (msgstore_t *self, msgstore_conv_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    return s_conv_iterate (self, s_stmt (self, Q_CONV_EACH), fn, arg);
}

//  ---------------------------------------------------------------- messages

int
msgstore_msg_add (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                  const char *sender, const uint8_t *client_message_id,
                  size_t client_message_id_len, const char *token,
                  size_t token_len, int64_t now_ms,
                  uint64_t *seq, int64_t *server_time, bool *duplicate)
{
    assert (self);
    assert (id);
    assert (sender);
    assert (client_message_id);
    assert (token);
    assert (seq && server_time && duplicate);
    *duplicate = false;

    //  A retry: answer with what was stored the first time.
    sqlite3_stmt *stmt = s_stmt (self, Q_MSG_FIND);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_blob (stmt, 2, client_message_id, (int) client_message_id_len,
                       SQLITE_TRANSIENT);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW) {
        *seq = (uint64_t) sqlite3_column_int64 (stmt, 0);
        *server_time = sqlite3_column_int64 (stmt, 1);
        const char *stored_by = (const char *) sqlite3_column_text (stmt, 2);
        bool same = stored_by && strcasecmp (stored_by, sender) == 0;
        sqlite3_reset (stmt);
        if (!same)
            return CHAT_ERR_BAD_REQUEST;
        *duplicate = true;
        return CHAT_OK;
    }
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
        return s_fail (self, "message lookup");

    if (s_run (self, Q_SP_MSG_ADD))
        return CHAT_ERR_INTERNAL;
    stmt = s_stmt (self, Q_MSG_NEXT);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 2, now_ms);
    rc = sqlite3_step (stmt);
    uint64_t next = rc == SQLITE_ROW? (uint64_t) sqlite3_column_int64 (stmt, 0): 0;
    //  Step to the end so the UPDATE is complete before the reset.
    if (rc == SQLITE_ROW)
        rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    int result = CHAT_OK;
    if (rc != SQLITE_DONE)
        result = s_fail (self, "next seq");
    else
    if (next == 0)
        result = CHAT_ERR_NOT_FOUND;
    else {
        stmt = s_stmt (self, Q_MSG_INSERT);
        sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) next);
        sqlite3_bind_text (stmt, 3, sender, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 4, now_ms);
        sqlite3_bind_text (stmt, 5, token, (int) token_len, SQLITE_STATIC);
        sqlite3_bind_blob (stmt, 6, client_message_id, (int) client_message_id_len,
                           SQLITE_STATIC);
        rc = sqlite3_step (stmt);
        sqlite3_reset (stmt);
        sqlite3_clear_bindings (stmt);      //  drop the borrowed token
        if (rc != SQLITE_DONE)
            result = s_fail (self, "message insert");
    }
    if (result != CHAT_OK) {
        if (!sqlite3_get_autocommit (self->db)) {
            s_run (self, Q_SP_MSG_ADD_ROLLBACK);
            s_run (self, Q_SP_MSG_ADD_RELEASE);
        }
        return result;
    }
    if (s_run (self, Q_SP_MSG_ADD_RELEASE))
        return CHAT_ERR_INTERNAL;
    *seq = next;
    *server_time = now_ms;
    return CHAT_OK;
}

int
msgstore_msg_each (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                   uint64_t after_seq, uint32_t limit,
                   msgstore_msg_fn *fn, void *arg)
{
    assert (self);
    assert (id);
    assert (fn);
    if (after_seq > INT64_MAX)
        return CHAT_OK;         //  nothing can be after it
    sqlite3_stmt *stmt = s_stmt (self, Q_MSG_PAGE);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) after_seq);
    sqlite3_bind_int64 (stmt, 3, limit);
    int rc;
    msgstore_msg_t msg = { .conversation_id = id };
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        msg.seq = (uint64_t) sqlite3_column_int64 (stmt, 0);
        msg.sender = (const char *) sqlite3_column_text (stmt, 1);
        msg.server_time = sqlite3_column_int64 (stmt, 2);
        msg.token = (const char *) sqlite3_column_text (stmt, 3);
        msg.token_len = (size_t) sqlite3_column_bytes (stmt, 3);
        msg.client_message_id = (const uint8_t *) sqlite3_column_blob (stmt, 4);
        msg.client_message_id_len = (size_t) sqlite3_column_bytes (stmt, 4);
        if (!msg.sender || !msg.token)
            continue;
        if (fn (&msg, arg))
            break;
    }
    sqlite3_reset (stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return s_fail (self, "message page");
    return CHAT_OK;
}

int
msgstore_msg_last_token (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                         char **token)
{
    assert (self);
    assert (id);
    assert (token);
    *token = NULL;
    sqlite3_stmt *stmt = s_stmt (self, Q_MSG_LAST);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW)
        *token = strdup ((const char *) sqlite3_column_text (stmt, 0));
    sqlite3_reset (stmt);
    if (rc == SQLITE_ROW)
        return CHAT_OK;
    if (rc == SQLITE_DONE)
        return CHAT_ERR_NOT_FOUND;
    return s_fail (self, "last token");
}

//  ---------------------------------------------------------------- read markers

int
msgstore_read_state (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], const char *name,
                     uint64_t *read_seq, uint64_t *unread)
{
    assert (self);
    assert (name);
    char lower [256];
    credential_username_fold (name, lower, sizeof lower);
    sqlite3_stmt *stmt = s_stmt (self, Q_READ_GET);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, lower, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return s_fail (self, "read marker");
    *read_seq = rc == SQLITE_ROW? (uint64_t) sqlite3_column_int64 (stmt, 0): 0;
    sqlite3_reset (stmt);
    stmt = s_stmt (self, Q_UNREAD);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) *read_seq);
    sqlite3_bind_text (stmt, 3, lower, -1, SQLITE_TRANSIENT);
    if (sqlite3_step (stmt) != SQLITE_ROW)
        return s_fail (self, "unread count");
    *unread = (uint64_t) sqlite3_column_int64 (stmt, 0);
    sqlite3_reset (stmt);
    return CHAT_OK;
}

int
msgstore_read_set (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], const char *name,
                   uint64_t read_seq, bool *moved)
{
    assert (self);
    assert (name);
    char lower [256];
    credential_username_fold (name, lower, sizeof lower);
    sqlite3_stmt *stmt = s_stmt (self, Q_READ_SET);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, lower, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) read_seq);
    if (sqlite3_step (stmt) != SQLITE_DONE)
        return s_fail (self, "read marker");
    if (moved)
        *moved = sqlite3_changes (self->db) > 0;
    sqlite3_reset (stmt);
    return CHAT_OK;
}
