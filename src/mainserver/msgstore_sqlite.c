/*  msgstore_sqlite - the main server's storage on SQLite; see
    msgstore_sqlite.h and, for what each call does, msgstore.h  */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sqlite3.h>
#include "chaterror.h"
#include "credential.h"
#include "secret.h"
#include "msgstore_rules.h"
#include "msgstore_sqlite.h"

typedef msgstore_db_t sqlstore_t;

//  The schema of protocol 2, made whole on a new database. A conversation
//  row holds what its head link says (epoch, title, direct) and its
//  creator, and members its current membership: the queries of every
//  request read these, never the chain. Links keep every statement as its
//  actor signed it.
static const char *s_schema =
    "CREATE TABLE users ("
    "  name_lower TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  identity_public_key BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE TABLE conversations ("
    "  id BLOB PRIMARY KEY CHECK (length (id) = 16),"
    "  pair_key TEXT UNIQUE,"          //  'a\nb' (sorted, lower) for a direct one
    "  created_at INTEGER NOT NULL,"
    "  last_seq INTEGER NOT NULL DEFAULT 0,"
    "  last_time INTEGER NOT NULL DEFAULT 0,"
    "  epoch INTEGER NOT NULL,"
    "  creator TEXT NOT NULL,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  direct INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE INDEX conversations_by_activity ON conversations (last_time, created_at);"
    "CREATE TABLE members ("
    "  conversation_id BLOB NOT NULL REFERENCES conversations (id),"
    "  name_lower TEXT NOT NULL REFERENCES users (name_lower),"
    "  PRIMARY KEY (conversation_id, name_lower)"
    ") WITHOUT ROWID;"
    "CREATE INDEX members_by_user ON members (name_lower, conversation_id);"
    //  Statements are up to 16 KB: a rowid table, like messages
    "CREATE TABLE links ("
    "  conversation_id BLOB NOT NULL REFERENCES conversations (id),"
    "  epoch INTEGER NOT NULL CHECK (epoch >= 1),"
    "  statement BLOB NOT NULL,"
    "  signature BLOB NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  action INTEGER NOT NULL,"
    "  PRIMARY KEY (conversation_id, epoch)"
    ");"
    //  Tokens are up to 100 KB: a rowid table, so the primary key index
    //  stays small and a page is an index range plus one lookup per row.
    "CREATE TABLE messages ("
    "  conversation_id BLOB NOT NULL REFERENCES conversations (id),"
    "  seq INTEGER NOT NULL,"
    "  epoch INTEGER NOT NULL,"
    "  sender TEXT NOT NULL,"
    "  server_time INTEGER NOT NULL,"
    "  token TEXT NOT NULL,"
    "  client_message_id BLOB NOT NULL,"
    "  PRIMARY KEY (conversation_id, seq),"
    "  UNIQUE (conversation_id, client_message_id)"
    ");";

//  Forward migrations from MSGSTORE_SCHEMA_VERSION on: entry N takes
//  user_version 2 + N to 3 + N. Never edit a released entry; add one.
static const char *s_migrations [] = {
    //  2 -> 3: read markers, one per member and conversation
    "CREATE TABLE read_marks ("
    "  conversation_id BLOB NOT NULL REFERENCES conversations (id),"
    "  name_lower TEXT NOT NULL REFERENCES users (name_lower),"
    "  read_seq INTEGER NOT NULL,"
    "  PRIMARY KEY (conversation_id, name_lower)"
    ") WITHOUT ROWID;",
    //  3 -> 4: membership changes (issue 15). Each member row remembers the
    //  epoch it joined at and the last message seq before it (a member
    //  added later reads only what follows), and whether the member
    //  accepted it (a conversation someone it shares none with put it in is
    //  a request until accepted)
    "ALTER TABLE members ADD COLUMN joined_epoch INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE members ADD COLUMN joined_seq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE members ADD COLUMN accepted INTEGER NOT NULL DEFAULT 1;",
    NULL
};
#define MIGRATIONS (int) (sizeof s_migrations / sizeof s_migrations [0] - 1)
#define SCHEMA_LAST (MSGSTORE_SCHEMA_VERSION + MIGRATIONS)

#define CONV_COLUMNS "id, last_seq, last_time, created_at, epoch, direct, title, creator"

typedef enum {
    Q_USER_ADD,
    Q_USER_GET,
    Q_USER_EACH,
    Q_CONV_PAIR,
    Q_CONV_INSERT,
    Q_CONV_HEAD,
    Q_CONV_UNPAIR,
    Q_MEMBER_INSERT,
    Q_MEMBER_MARK,
    Q_MEMBER_ACCEPT,
    Q_MEMBER_SWEEP,
    Q_LINK_INSERT,
    Q_LINK_PAGE,
    Q_CONV_GET,
    Q_CONV_GET_MEMBER,
    Q_CONV_MEMBERS,
    Q_CONV_EACH_OF,
    Q_CONV_EACH,
    Q_CONV_PAGE_OF,
    Q_MSG_FIND,
    Q_MSG_INSERT,
    Q_CONV_SEQ,
    Q_CONV_SEQ_SET,
    Q_MSG_PAGE,
    Q_MSG_LAST,
    Q_READ_SET,
    Q_READ_GET,
    Q_UNREAD,
    //  Transaction control, run for every request: prepared once, so no
    //  request pays for parsing them again
    Q_BEGIN,
    Q_DATA_VERSION,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_SP_REQUEST,
    Q_SP_REQUEST_RELEASE,
    Q_SP_REQUEST_ROLLBACK,
    Q_SP_CONV,
    Q_SP_CONV_RELEASE,
    Q_SP_CONV_ROLLBACK,
    Q_COUNT
} query_t;

static const char *s_queries [Q_COUNT] = {
    [Q_USER_ADD] =
        "INSERT INTO users (name_lower, name, identity_public_key, created_at)"
        " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (name_lower) DO NOTHING",
    [Q_USER_GET] =
        "SELECT name, identity_public_key, created_at FROM users WHERE name_lower = ?1",
    [Q_USER_EACH] =
        "SELECT name, identity_public_key, created_at FROM users ORDER BY name_lower",
    [Q_CONV_PAIR] =
        "SELECT " CONV_COLUMNS " FROM conversations WHERE pair_key = ?1",
    [Q_CONV_INSERT] =
        "INSERT INTO conversations (id, pair_key, created_at, epoch, creator, title, direct)"
        " VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6)",
    [Q_CONV_HEAD] =
        "UPDATE conversations SET epoch = ?2, title = ?3 WHERE id = ?1 AND epoch = ?2 - 1",
    //  A new link's members: every row is marked (joined_epoch negated),
    //  each member named is inserted (joining now, after the last message)
    //  or unmarked (kept as it joined), and what stays marked is swept
    [Q_CONV_UNPAIR] =
        "UPDATE conversations SET pair_key = NULL WHERE id = ?1",
    //  A new member has accepted when it is the actor, or already shares
    //  a conversation it accepted with the actor; else it is a request
    [Q_MEMBER_INSERT] =
        "INSERT INTO members (conversation_id, name_lower, joined_epoch, joined_seq, accepted)"
        " VALUES (?1, ?2, ?3, (SELECT last_seq FROM conversations WHERE id = ?1),"
        "  ?2 = ?4 OR EXISTS (SELECT 1 FROM members x JOIN members y"
        "   ON y.conversation_id = x.conversation_id AND y.name_lower = ?4"
        "   WHERE x.name_lower = ?2 AND x.accepted = 1 AND x.conversation_id != ?1))"
        " ON CONFLICT (conversation_id, name_lower)"
        " DO UPDATE SET joined_epoch = -joined_epoch WHERE joined_epoch < 0",
    [Q_MEMBER_ACCEPT] =
        "UPDATE members SET accepted = 1 WHERE conversation_id = ?1 AND name_lower = ?2",

    [Q_MEMBER_MARK] =
        "UPDATE members SET joined_epoch = -joined_epoch WHERE conversation_id = ?1",
    [Q_MEMBER_SWEEP] =
        "DELETE FROM members WHERE conversation_id = ?1 AND joined_epoch < 0",
    [Q_LINK_INSERT] =
        "INSERT INTO links (conversation_id, epoch, statement, signature, actor, action)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_LINK_PAGE] =
        "SELECT epoch, statement, signature, actor, action FROM links"
        " WHERE conversation_id = ?1 AND epoch > ?2 ORDER BY epoch LIMIT ?3",
    [Q_CONV_GET] =
        "SELECT " CONV_COLUMNS " FROM conversations WHERE id = ?1",
    [Q_CONV_GET_MEMBER] =
        "SELECT c.id, c.last_seq, c.last_time, c.created_at, c.epoch, c.direct, c.title,"
        " c.creator, m.joined_epoch, m.joined_seq, m.accepted"
        " FROM members m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.conversation_id = ?1 AND m.name_lower = ?2",
    [Q_CONV_MEMBERS] =
        "SELECT u.name FROM members m JOIN users u ON u.name_lower = m.name_lower"
        " WHERE m.conversation_id = ?1 ORDER BY m.name_lower",
    [Q_CONV_EACH_OF] =
        "SELECT c.id, c.last_seq, c.last_time, c.created_at, c.epoch, c.direct, c.title,"
        " c.creator, m.joined_epoch, m.joined_seq, m.accepted"
        " FROM members m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.name_lower = ?1 ORDER BY c.created_at, c.id",
    //  Pages in the same order (oldest first): a conversation made while a
    //  client pages lands after its cursor, so no listing misses one
    [Q_CONV_PAGE_OF] =
        "SELECT c.id, c.last_seq, c.last_time, c.created_at, c.epoch, c.direct, c.title,"
        " c.creator, m.joined_epoch, m.joined_seq, m.accepted"
        " FROM members m JOIN conversations c ON c.id = m.conversation_id"
        " WHERE m.name_lower = ?1 AND (c.created_at, c.id) > (?2, ?3)"
        " ORDER BY c.created_at, c.id LIMIT ?4",
    [Q_CONV_EACH] =
        "SELECT " CONV_COLUMNS " FROM conversations"
        " ORDER BY last_time DESC, created_at DESC",
    [Q_MSG_FIND] =
        "SELECT seq, server_time, sender FROM messages"
        " WHERE conversation_id = ?1 AND client_message_id = ?2",
    //  The one statement of a message: its seq comes from the conversation
    //  kept in memory (convstate_t), a retry meets the unique index and
    //  inserts nothing. Only that index's conflict is let pass: a taken seq
    //  is an error, never a silent no-op
    [Q_MSG_INSERT] =
        "INSERT INTO messages (conversation_id, seq, epoch, sender, server_time, token,"
        " client_message_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
        " ON CONFLICT (conversation_id, client_message_id) DO NOTHING",
    //  What a conversation's messages are numbered from, read once
    [Q_CONV_SEQ] =
        "SELECT epoch, last_seq, last_time FROM conversations WHERE id = ?1",
    //  ... and written once per commit (or before anything reads it)
    [Q_CONV_SEQ_SET] =
        "UPDATE conversations SET last_seq = ?2, last_time = ?3 WHERE id = ?1",
    [Q_MSG_PAGE] =
        "SELECT seq, epoch, sender, server_time, token, client_message_id FROM messages"
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
    //  Only what the member may read: after its joining (a member added
    //  later is never given the messages before it)
    [Q_UNREAD] =
        "SELECT count(*) FROM messages WHERE conversation_id = ?1 AND seq > ?3"
        " AND lower (sender) <> ?2"
        " AND seq > coalesce ((SELECT joined_seq FROM members"
        "  WHERE conversation_id = ?1 AND name_lower = ?2), 0)",
    [Q_BEGIN] =                 "BEGIN IMMEDIATE",
    //  Changes when another connection committed (not for our own)
    [Q_DATA_VERSION] =          "PRAGMA data_version",
    [Q_COMMIT] =                "COMMIT",
    [Q_ROLLBACK] =              "ROLLBACK",
    [Q_SP_REQUEST] =            "SAVEPOINT request",
    [Q_SP_REQUEST_RELEASE] =    "RELEASE request",
    [Q_SP_REQUEST_ROLLBACK] =   "ROLLBACK TO request",
    [Q_SP_CONV] =               "SAVEPOINT conv",
    [Q_SP_CONV_RELEASE] =       "RELEASE conv",
    [Q_SP_CONV_ROLLBACK] =      "ROLLBACK TO conv",
};

//  A conversation as messages are added to it: its current epoch and the
//  last seq and time given out. Kept across transactions while nothing
//  but this connection writes the file (PRAGMA data_version, checked at
//  every BEGIN), so a message costs its INSERT alone. dirty: messages were
//  added since the row was last written; the row is written (one UPDATE)
//  before COMMIT, before a savepoint, and before any query that reads a
//  conversation row, so nothing ever reads a stale last_seq.
typedef struct {
    uint8_t id [MSGSTORE_ID_SIZE];
    uint64_t epoch;
    uint64_t last_seq;
    int64_t last_time;
    bool dirty;
} convstate_t;

#define CONVSTATE_MAX 4096              //  conversations kept, at most

struct _msgstore_db_t {
    sqlite3 *db;
    sqlite3_stmt *stmt [Q_COUNT];
    char *path;
    zhashx_t *convs;                    //  id (16 bytes) -> convstate_t
    size_t dirty;                       //  convs with dirty set
    bool in_transaction;                //  between our BEGIN and its end
    sqlite3_int64 data_version;         //  as read at the last BEGIN
};

static void
    sql_destroy (sqlstore_t **self_p);
static int
    sql_conv_get (sqlstore_t *self, const uint8_t *id, size_t id_len,
                  msgstore_conv_t *conv);
static int
    s_names (sqlstore_t *self, query_t query, const uint8_t id [MSGSTORE_ID_SIZE],
             zlistx_t **names);

static int
s_fail (sqlstore_t *self, const char *what)
{
    zsys_error ("msgstore: %s: %s", what, sqlite3_errmsg (self->db));
    return CHAT_ERR_INTERNAL;
}

static int
s_exec (sqlstore_t *self, const char *sql)
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
s_run (sqlstore_t *self, query_t query)
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
s_stmt (sqlstore_t *self, query_t query)
{
    sqlite3_stmt *stmt = self->stmt [query];
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);
    return stmt;
}

//  ---------------------------------------------------------------- conversations in memory

//  Conversation ids are random: their first bytes hash them well
static size_t
s_id_hash (const void *key)
{
    size_t hash;
    memcpy (&hash, key, sizeof hash);
    return hash;
}

static int
s_id_compare (const void *a, const void *b)
{
    return memcmp (a, b, MSGSTORE_ID_SIZE);
}

static void
s_convstate_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

//  Forget every conversation kept: after a rollback (of the transaction or
//  of a savepoint), or when another connection wrote the file. What was
//  dirty is lost with the writes it belonged to.
static void
s_convs_forget (sqlstore_t *self)
{
    zhashx_purge (self->convs);
    self->dirty = 0;
}

//  Write every dirty conversation row (one UPDATE each): before COMMIT,
//  before a savepoint, and before any query that reads conversation rows.
static int
s_convs_flush (sqlstore_t *self)
{
    if (self->dirty == 0)
        return CHAT_OK;
    convstate_t *conv = (convstate_t *) zhashx_first (self->convs);
    while (conv) {
        if (conv->dirty) {
            sqlite3_stmt *stmt = s_stmt (self, Q_CONV_SEQ_SET);
            sqlite3_bind_blob (stmt, 1, conv->id, MSGSTORE_ID_SIZE, SQLITE_STATIC);
            sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) conv->last_seq);
            sqlite3_bind_int64 (stmt, 3, conv->last_time);
            int rc = sqlite3_step (stmt);
            sqlite3_reset (stmt);
            if (rc != SQLITE_DONE)
                return s_fail (self, "conversation seq");
            conv->dirty = false;
            self->dirty--;
        }
        conv = (convstate_t *) zhashx_next (self->convs);
    }
    return CHAT_OK;
}

//  The conversation id as kept, or read from its row (then kept): CHAT_OK,
//  CHAT_ERR_NOT_FOUND (nothing kept) or CHAT_ERR_INTERNAL.
static int
s_convstate (sqlstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], convstate_t **conv_p)
{
    convstate_t *conv = (convstate_t *) zhashx_lookup (self->convs, id);
    if (conv) {
        *conv_p = conv;
        return CHAT_OK;
    }
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_SEQ);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW) {
        conv = (convstate_t *) zmalloc (sizeof *conv);
        assert (conv);
        memcpy (conv->id, id, MSGSTORE_ID_SIZE);
        conv->epoch = (uint64_t) sqlite3_column_int64 (stmt, 0);
        conv->last_seq = (uint64_t) sqlite3_column_int64 (stmt, 1);
        conv->last_time = sqlite3_column_int64 (stmt, 2);
    }
    sqlite3_reset (stmt);
    if (rc == SQLITE_DONE)
        return CHAT_ERR_NOT_FOUND;
    if (rc != SQLITE_ROW)
        return s_fail (self, "conversation seq");
    //  A bound on memory: clean ones may go (never a dirty one: its row is
    //  still to be written)
    if (zhashx_size (self->convs) >= CONVSTATE_MAX && s_convs_flush (self) == CHAT_OK)
        zhashx_purge (self->convs);
    zhashx_insert (self->convs, conv->id, conv);
    *conv_p = conv;
    return CHAT_OK;
}

//  Stop keeping one conversation (written: not dirty)
static void
s_convstate_drop (sqlstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE])
{
    assert (self->dirty == 0);
    zhashx_delete (self->convs, id);
}

static int
s_user_version (sqlstore_t *self, int *version)
{
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2 (self->db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK)
        return s_fail (self, "user_version");
    int rc = sqlite3_step (stmt);
    *version = rc == SQLITE_ROW? sqlite3_column_int (stmt, 0): -1;
    sqlite3_finalize (stmt);
    return *version < 0? s_fail (self, "user_version"): CHAT_OK;
}

//  Run sql and set user_version to version, together or not at all.
static int
s_schema_step (sqlstore_t *self, const char *sql, int version)
{
    if (s_exec (self, "BEGIN IMMEDIATE"))
        return CHAT_ERR_INTERNAL;
    char pragma [64];
    snprintf (pragma, sizeof pragma, "PRAGMA user_version = %d", version);
    if (s_exec (self, sql) || s_exec (self, pragma)) {
        s_exec (self, "ROLLBACK");
        return CHAT_ERR_INTERNAL;
    }
    return s_exec (self, "COMMIT");
}

static int
s_migrate (sqlstore_t *self)
{
    int version;
    if (s_user_version (self, &version))
        return CHAT_ERR_INTERNAL;
    if (version > 0 && version < MSGSTORE_SCHEMA_VERSION) {
        //  Protocol 1 made conversations without a signed chain and knew
        //  no identity keys: nothing there can be believed by a protocol 2
        //  client, and its messages were sealed under keys the key server
        //  held in the clear
        zsys_error ("msgstore: %s is a protocol 1 database (schema version %d): its "
                    "conversations have no signed membership chain and its users no "
                    "identity keys, so it cannot be carried over. Start this server with "
                    "a fresh data directory (move the old one away); users register "
                    "again", self->path, version);
        return CHAT_ERR_INTERNAL;
    }
    if (version > SCHEMA_LAST) {
        zsys_error ("msgstore: %s has schema version %d, this program knows up to %d",
                    self->path, version, SCHEMA_LAST);
        return CHAT_ERR_INTERNAL;
    }
    if (version == 0) {
        if (s_schema_step (self, s_schema, MSGSTORE_SCHEMA_VERSION))
            return CHAT_ERR_INTERNAL;
        zsys_info ("msgstore: %s created with schema version %d", self->path,
                   MSGSTORE_SCHEMA_VERSION);
        version = MSGSTORE_SCHEMA_VERSION;
    }
    //  Counting steps against MIGRATIONS (not versions against SCHEMA_LAST)
    //  lets the compiler see the index stays inside s_migrations
    int step = version - MSGSTORE_SCHEMA_VERSION;
    for (; step >= 0 && step < MIGRATIONS; step++, version++) {
        if (s_schema_step (self, s_migrations [step],
                           version + 1))
            return CHAT_ERR_INTERNAL;
        zsys_info ("msgstore: %s now at schema version %d", self->path, version + 1);
    }
    return CHAT_OK;
}

static sqlstore_t *
sql_open (const char *path)
{
    assert (path);
    sqlstore_t *self = (sqlstore_t *) zmalloc (sizeof (sqlstore_t));
    assert (self);
    self->path = strdup (path);
    //  Users, chains and tokens: nobody else's business, whatever the
    //  folder's mode. 0600 before SQLite makes it (its -wal and -shm take
    //  the database's mode); a looser file already there is tightened
    if (secret_database_private (path) != 0) {
        zsys_error ("msgstore: cannot open %s: %s", path, strerror (errno));
        sql_destroy (&self);
        return NULL;
    }
    if (sqlite3_open_v2 (path, &self->db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                         | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        zsys_error ("msgstore: cannot open %s: %s", path,
                    self->db? sqlite3_errmsg (self->db): "out of memory");
        sql_destroy (&self);
        return NULL;
    }
    sqlite3_busy_timeout (self->db, 5000);
    self->convs = zhashx_new ();
    assert (self->convs);
    zhashx_set_key_hasher (self->convs, s_id_hash);
    zhashx_set_key_comparator (self->convs, s_id_compare);
    //  Keys are the ids inside the items: neither copied nor freed
    zhashx_set_key_duplicator (self->convs, NULL);
    zhashx_set_key_destructor (self->convs, NULL);
    zhashx_set_destructor (self->convs, s_convstate_destroy);
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
        sql_destroy (&self);
        return NULL;
    }
    //  FULL: a commit is on disk before we acknowledge anything.
    if (s_exec (self, "PRAGMA synchronous = FULL")
    ||  s_exec (self, "PRAGMA foreign_keys = ON")
    ||  s_migrate (self)) {
        sql_destroy (&self);
        return NULL;
    }
    for (int query = 0; query < Q_COUNT; query++)
        if (sqlite3_prepare_v3 (self->db, s_queries [query], -1,
                                SQLITE_PREPARE_PERSISTENT,
                                &self->stmt [query], NULL) != SQLITE_OK) {
            s_fail (self, s_queries [query]);
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
    if (self) {
        for (int query = 0; query < Q_COUNT; query++)
            sqlite3_finalize (self->stmt [query]);
        if (self->db)
            sqlite3_close (self->db);
        zhashx_destroy (&self->convs);
        free (self->path);
        free (self);
        *self_p = NULL;
    }
}

//  Within our write transaction: the conversations kept are what the file
//  holds, unless another connection committed since the last BEGIN
static int
s_data_version_check (sqlstore_t *self)
{
    sqlite3_stmt *stmt = self->stmt [Q_DATA_VERSION];
    int rc = sqlite3_step (stmt);
    sqlite3_int64 version = rc == SQLITE_ROW? sqlite3_column_int64 (stmt, 0): 0;
    sqlite3_reset (stmt);
    if (rc != SQLITE_ROW)
        return s_fail (self, "data version");
    if (version != self->data_version)
        s_convs_forget (self);
    self->data_version = version;
    return CHAT_OK;
}

static int
sql_begin (sqlstore_t *self)
{
    assert (self);
    //  Nothing may be dirty outside a transaction (see msg_add)
    assert (self->dirty == 0);
    if (s_run (self, Q_BEGIN))
        return CHAT_ERR_INTERNAL;
    if (s_data_version_check (self)) {
        s_run (self, Q_ROLLBACK);
        return CHAT_ERR_INTERNAL;
    }
    self->in_transaction = true;
    return CHAT_OK;
}

static int
sql_commit (sqlstore_t *self)
{
    assert (self);
    self->in_transaction = false;
    if (s_convs_flush (self) || s_run (self, Q_COMMIT)) {
        //  A failed COMMIT may leave the transaction open: end it, so
        //  that nothing of it is ever written later by accident.
        if (!sqlite3_get_autocommit (self->db))
            s_run (self, Q_ROLLBACK);
        s_convs_forget (self);
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

static int
sql_rollback (sqlstore_t *self)
{
    assert (self);
    self->in_transaction = false;
    s_convs_forget (self);
    if (sqlite3_get_autocommit (self->db))
        return CHAT_OK;         //  SQLite rolled back already
    return s_run (self, Q_ROLLBACK);
}

//  What a savepoint rolls back to has every conversation row written: a
//  rollback to it then only has to forget what is kept
static int
sql_savepoint (sqlstore_t *self)
{
    assert (self);
    if (s_convs_flush (self))
        return CHAT_ERR_INTERNAL;
    return s_run (self, Q_SP_REQUEST);
}

static int
sql_savepoint_release (sqlstore_t *self)
{
    assert (self);
    return s_run (self, Q_SP_REQUEST_RELEASE);
}

static int
sql_savepoint_rollback (sqlstore_t *self)
{
    assert (self);
    //  Whatever was kept may hold what the rollback takes back
    s_convs_forget (self);
    if (sqlite3_get_autocommit (self->db))
        return CHAT_ERR_INTERNAL;       //  the whole transaction is gone
    if (s_run (self, Q_SP_REQUEST_ROLLBACK) || s_run (self, Q_SP_REQUEST_RELEASE))
        return CHAT_ERR_INTERNAL;
    return CHAT_OK;
}

//  ---------------------------------------------------------------- users

//  Read one users row (name, identity, created_at) into *user. -1 for a row
//  that does not hold what was checked on the way in.
static int
s_user_row (sqlite3_stmt *stmt, msgstore_user_t *user)
{
    memset (user, 0, sizeof *user);
    const char *name = (const char *) sqlite3_column_text (stmt, 0);
    const void *identity = sqlite3_column_blob (stmt, 1);
    int identity_len = sqlite3_column_bytes (stmt, 1);
    if (!name || strlen (name) > USERNAME_MAX
    ||  !identity || identity_len <= 0 || identity_len > MSGSTORE_IDENTITY_MAX)
        return -1;
    strcpy (user->name, name);
    memcpy (user->identity, identity, (size_t) identity_len);
    user->identity_len = (size_t) identity_len;
    user->created_at = sqlite3_column_int64 (stmt, 2);
    return 0;
}

static int
sql_user_add (sqlstore_t *self, const char *name, const uint8_t *identity,
                   size_t identity_len, int64_t now_ms, bool *added)
{
    assert (self);
    assert (name);
    if (!credential_username_valid (name) || !identity || identity_len == 0
    ||  identity_len > MSGSTORE_IDENTITY_MAX)
        return CHAT_ERR_BAD_REQUEST;
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    sqlite3_stmt *stmt = s_stmt (self, Q_USER_ADD);
    sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob (stmt, 3, identity, (int) identity_len, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 4, now_ms);
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE)
        return s_fail (self, "user add");
    if (added)
        *added = sqlite3_changes (self->db) > 0;
    return CHAT_OK;
}

static int
sql_user_get (sqlstore_t *self, const char *name, msgstore_user_t *user)
{
    assert (self);
    assert (name);
    assert (user);
    if (!credential_username_valid (name))
        return CHAT_ERR_UNKNOWN_USER;
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    sqlite3_stmt *stmt = s_stmt (self, Q_USER_GET);
    sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (stmt);
    int result;
    if (rc == SQLITE_ROW)
        result = s_user_row (stmt, user) == 0? CHAT_OK: s_fail (self, "user row");
    else
    if (rc == SQLITE_DONE)
        result = CHAT_ERR_UNKNOWN_USER;
    else
        result = s_fail (self, "user get");
    sqlite3_reset (stmt);
    return result;
}

static int
sql_user_each (sqlstore_t *self, msgstore_user_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    msgstore_user_t *user = (msgstore_user_t *) malloc (sizeof *user);
    if (!user)
        return CHAT_ERR_INTERNAL;
    sqlite3_stmt *stmt = s_stmt (self, Q_USER_EACH);
    int rc;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
        if (s_user_row (stmt, user) == 0 && fn (user, arg))
            break;
    sqlite3_reset (stmt);
    free (user);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return s_fail (self, "user list");
    return CHAT_OK;
}

//  ---------------------------------------------------------------- conversations

//  One conversations row (CONV_COLUMNS) into *conv.
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
    conv->epoch = (uint64_t) sqlite3_column_int64 (stmt, 4);
    conv->direct = sqlite3_column_int (stmt, 5) != 0;
    const char *title = (const char *) sqlite3_column_text (stmt, 6);
    snprintf (conv->title, sizeof conv->title, "%s", title? title: "");
    const char *creator = (const char *) sqlite3_column_text (stmt, 7);
    snprintf (conv->creator, sizeof conv->creator, "%s", creator? creator: "");
    //  Read as a member: when that member joined
    if (sqlite3_column_count (stmt) > 10) {
        sqlite3_int64 joined_epoch = sqlite3_column_int64 (stmt, 8);
        sqlite3_int64 joined_seq = sqlite3_column_int64 (stmt, 9);
        conv->joined_epoch = joined_epoch > 0? (uint64_t) joined_epoch: 0;
        conv->joined_seq = joined_seq > 0? (uint64_t) joined_seq: 0;
        conv->request = sqlite3_column_int (stmt, 10) == 0;
    }
}

//  Run a statement that yields at most one conversation row.
static int
s_conv_one (sqlstore_t *self, sqlite3_stmt *stmt, msgstore_conv_t *conv)
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

static int
sql_conv_find_direct (sqlstore_t *self, const char *a, const char *b,
                           msgstore_conv_t *conv)
{
    assert (self && a && b);
    //  Conversation rows read: every one written first
    if (s_convs_flush (self))
        return CHAT_ERR_INTERNAL;
    char pair_key [2 * USERNAME_MAX + 2];
    msgstore_rules_pair_key (a, b, pair_key);
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_PAIR);
    sqlite3_bind_text (stmt, 1, pair_key, -1, SQLITE_TRANSIENT);
    return s_conv_one (self, stmt, conv);
}

//  Step a write; SQLITE_DONE or the SQLite code (logged as what).
static int
s_write (sqlstore_t *self, sqlite3_stmt *stmt, const char *what)
{
    int rc = sqlite3_step (stmt);
    sqlite3_reset (stmt);
    if (rc != SQLITE_DONE && sqlite3_extended_errcode (self->db) != SQLITE_CONSTRAINT_PRIMARYKEY
    &&  sqlite3_extended_errcode (self->db) != SQLITE_CONSTRAINT_UNIQUE)
        s_fail (self, what);
    return rc;
}

//  Insert the link, make it the conversation's head (epoch link->epoch,
//  title) and the members those given. Inside the caller's savepoint.
static int
s_link_add (sqlstore_t *self, const msgstore_link_t *link, const char *title,
            const char *const *members, size_t count)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_HEAD);
    sqlite3_bind_blob (stmt, 1, link->conversation_id, MSGSTORE_ID_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) link->epoch);
    sqlite3_bind_text (stmt, 3, title? title: "", -1, SQLITE_STATIC);
    if (s_write (self, stmt, "conversation head") != SQLITE_DONE)
        return CHAT_ERR_INTERNAL;
    if (sqlite3_changes (self->db) != 1)
        return CHAT_ERR_CHAIN_CONFLICT;
    stmt = s_stmt (self, Q_LINK_INSERT);
    sqlite3_bind_blob (stmt, 1, link->conversation_id, MSGSTORE_ID_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) link->epoch);
    sqlite3_bind_blob (stmt, 3, link->statement, (int) link->statement_len, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 4, link->signature, (int) link->signature_len, SQLITE_STATIC);
    sqlite3_bind_text (stmt, 5, link->actor, -1, SQLITE_STATIC);
    sqlite3_bind_int (stmt, 6, link->action);
    int rc = s_write (self, stmt, "link insert");
    sqlite3_clear_bindings (stmt);
    if (rc != SQLITE_DONE)
        return rc == SQLITE_CONSTRAINT? CHAT_ERR_CHAIN_CONFLICT: CHAT_ERR_INTERNAL;
    stmt = s_stmt (self, Q_MEMBER_MARK);
    sqlite3_bind_blob (stmt, 1, link->conversation_id, MSGSTORE_ID_SIZE, SQLITE_STATIC);
    if (s_write (self, stmt, "member mark") != SQLITE_DONE)
        return CHAT_ERR_INTERNAL;
    for (size_t index = 0; index < count; index++) {
        char lower [USERNAME_MAX + 1];
        credential_username_fold (members [index], lower, sizeof lower);
        stmt = s_stmt (self, Q_MEMBER_INSERT);
        sqlite3_bind_blob (stmt, 1, link->conversation_id, MSGSTORE_ID_SIZE, SQLITE_STATIC);
        sqlite3_bind_text (stmt, 2, lower, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) link->epoch);
        char actor [USERNAME_MAX + 1];
        credential_username_fold (link->actor, actor, sizeof actor);
        sqlite3_bind_text (stmt, 4, actor, -1, SQLITE_TRANSIENT);
        //  A name twice (the second changes no row), or one not known: the
        //  caller's mistake
        rc = s_write (self, stmt, "member insert");
        if (rc != SQLITE_DONE)
            return rc == SQLITE_CONSTRAINT? CHAT_ERR_BAD_REQUEST: CHAT_ERR_INTERNAL;
        if (sqlite3_changes (self->db) != 1)
            return CHAT_ERR_BAD_REQUEST;
    }
    stmt = s_stmt (self, Q_MEMBER_SWEEP);
    sqlite3_bind_blob (stmt, 1, link->conversation_id, MSGSTORE_ID_SIZE, SQLITE_STATIC);
    if (s_write (self, stmt, "member sweep") != SQLITE_DONE)
        return CHAT_ERR_INTERNAL;
    return CHAT_OK;
}

//  End a savepoint of ours: kept when rc is CHAT_OK, else rolled back.
static int
s_conv_savepoint_end (sqlstore_t *self, int rc)
{
    if (rc == CHAT_OK)
        return s_run (self, Q_SP_CONV_RELEASE);
    if (!sqlite3_get_autocommit (self->db)) {
        s_run (self, Q_SP_CONV_ROLLBACK);
        s_run (self, Q_SP_CONV_RELEASE);
    }
    return rc;
}

static int
sql_conv_create (sqlstore_t *self, const msgstore_conv_t *conv,
                      const char *const *members, size_t count,
                      const msgstore_link_t *link)
{
    assert (self && conv);
    if (s_convs_flush (self))
        return CHAT_ERR_INTERNAL;
    if (!msgstore_rules_link_valid (link, members, count) || count < 2 || link->epoch != 1
    ||  memcmp (link->conversation_id, conv->id, MSGSTORE_ID_SIZE) != 0
    ||  (conv->direct && count != 2))
        return CHAT_ERR_BAD_REQUEST;
    char pair_key [2 * USERNAME_MAX + 2];
    if (conv->direct)
        msgstore_rules_pair_key (members [0], members [1], pair_key);

    //  The row, its first link and its members go in together, or not at all
    if (s_run (self, Q_SP_CONV))
        return CHAT_ERR_INTERNAL;
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_INSERT);
    sqlite3_bind_blob (stmt, 1, conv->id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    if (conv->direct)
        sqlite3_bind_text (stmt, 2, pair_key, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null (stmt, 2);
    sqlite3_bind_int64 (stmt, 3, conv->created_at);
    sqlite3_bind_text (stmt, 4, conv->creator, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 5, conv->title, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int (stmt, 6, conv->direct? 1: 0);
    int rc = s_write (self, stmt, "conversation insert");
    if (rc != SQLITE_DONE)
        rc = rc == SQLITE_CONSTRAINT? CHAT_ERR_BAD_REQUEST: CHAT_ERR_INTERNAL;
    else
        rc = s_link_add (self, link, conv->title, members, count);
    return s_conv_savepoint_end (self, rc);
}

static int
sql_conv_append (sqlstore_t *self, const msgstore_link_t *link,
                      const char *title, const char *const *members, size_t count)
{
    assert (self);
    if (!msgstore_rules_link_valid (link, members, count) || link->epoch < 2)
        return CHAT_ERR_BAD_REQUEST;
    //  Its row is read and its epoch moves: written first, kept no more
    if (s_convs_flush (self))
        return CHAT_ERR_INTERNAL;
    s_convstate_drop (self, link->conversation_id);
    msgstore_conv_t conv;
    int rc = sql_conv_get (self, link->conversation_id, MSGSTORE_ID_SIZE, &conv);
    if (rc != CHAT_OK)
        return rc;
    if (s_run (self, Q_SP_CONV))
        return CHAT_ERR_INTERNAL;
    rc = s_link_add (self, link, title, members, count);
    //  A direct conversation someone left is no longer the pair's: the
    //  next CREATE of the two makes a new one
    if (rc == CHAT_OK && conv.direct && count < 2) {
        sqlite3_stmt *stmt = s_stmt (self, Q_CONV_UNPAIR);
        sqlite3_bind_blob (stmt, 1, link->conversation_id, MSGSTORE_ID_SIZE, SQLITE_STATIC);
        if (s_write (self, stmt, "conversation unpair") != SQLITE_DONE)
            rc = CHAT_ERR_INTERNAL;
    }
    return s_conv_savepoint_end (self, rc);
}

static int
sql_conv_get (sqlstore_t *self, const uint8_t *id, size_t id_len,
                   msgstore_conv_t *conv)
{
    assert (self);
    //  Conversation rows read: every one written first
    if (s_convs_flush (self))
        return CHAT_ERR_INTERNAL;
    if (!id || id_len != MSGSTORE_ID_SIZE)
        return CHAT_ERR_NOT_FOUND;
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_GET);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    return s_conv_one (self, stmt, conv);
}

static int
sql_conv_get_as_member (sqlstore_t *self, const uint8_t *id, size_t id_len,
                             const char *name, msgstore_conv_t *conv)
{
    assert (self);
    assert (name);
    //  Conversation rows read: every one written first
    if (s_convs_flush (self))
        return CHAT_ERR_INTERNAL;
    if (!id || id_len != MSGSTORE_ID_SIZE)
        return CHAT_ERR_NOT_FOUND;
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_GET_MEMBER);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, lower, -1, SQLITE_TRANSIENT);
    return s_conv_one (self, stmt, conv);
}

static int
sql_member_accept (sqlstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                        const char *name)
{
    assert (self && id && name);
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    sqlite3_stmt *stmt = s_stmt (self, Q_MEMBER_ACCEPT);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, lower, -1, SQLITE_TRANSIENT);
    if (s_write (self, stmt, "member accept") != SQLITE_DONE)
        return CHAT_ERR_INTERNAL;
    return sqlite3_changes (self->db) == 1? CHAT_OK: CHAT_ERR_NOT_FOUND;
}

static int
sql_conv_members (sqlstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                       zlistx_t **names)
{
    return s_names (self, Q_CONV_MEMBERS, id, names);
}

//  The names a query of members yields, ordered
static int
s_names (sqlstore_t *self, query_t query, const uint8_t id [MSGSTORE_ID_SIZE],
         zlistx_t **names)
{
    assert (self);
    assert (id);
    assert (names);
    zlistx_t *list = zlistx_new ();
    assert (list);
    zlistx_set_destructor (list, (zlistx_destructor_fn *) zstr_free);
    sqlite3_stmt *stmt = s_stmt (self, query);
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
s_conv_iterate (sqlstore_t *self, sqlite3_stmt *stmt, msgstore_conv_fn *fn, void *arg)
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

static int
sql_conv_each_of (sqlstore_t *self, const char *name,
                       msgstore_conv_fn *fn, void *arg)
{
    assert (self);
    assert (name);
    //  Conversation rows read: every one written first
    if (s_convs_flush (self))
        return CHAT_ERR_INTERNAL;
    assert (fn);
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_EACH_OF);
    sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_TRANSIENT);
    return s_conv_iterate (self, stmt, fn, arg);
}

static int
sql_conv_page_of (sqlstore_t *self, const char *name, const msgstore_conv_t *after,
                       uint32_t limit, msgstore_conv_fn *fn, void *arg)
{
    assert (self && name && fn);
    //  Conversation rows read: every one written first
    if (s_convs_flush (self))
        return CHAT_ERR_INTERNAL;
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    sqlite3_stmt *stmt = s_stmt (self, Q_CONV_PAGE_OF);
    sqlite3_bind_text (stmt, 1, lower, -1, SQLITE_TRANSIENT);
    //  From the first: before anything a row can hold (an empty blob sorts
    //  before every id)
    sqlite3_bind_int64 (stmt, 2, after? after->created_at: INT64_MIN);
    if (after)
        sqlite3_bind_blob (stmt, 3, after->id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    else
        sqlite3_bind_zeroblob (stmt, 3, 0);
    sqlite3_bind_int64 (stmt, 4, limit);
    return s_conv_iterate (self, stmt, fn, arg);
}

static int
sql_conv_each (sqlstore_t *self, msgstore_conv_fn *fn, void *arg)
{
    assert (self);
    assert (fn);
    //  Conversation rows read: every one written first
    if (s_convs_flush (self))
        return CHAT_ERR_INTERNAL;
    return s_conv_iterate (self, s_stmt (self, Q_CONV_EACH), fn, arg);
}

//  ---------------------------------------------------------------- chains

static int
sql_link_each (sqlstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                    uint64_t after_epoch, uint32_t limit,
                    msgstore_link_fn *fn, void *arg)
{
    assert (self && id && fn);
    if (after_epoch > INT64_MAX)
        return CHAT_OK;         //  nothing can be after it
    sqlite3_stmt *stmt = s_stmt (self, Q_LINK_PAGE);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) after_epoch);
    sqlite3_bind_int64 (stmt, 3, limit);
    int rc;
    msgstore_link_t link = { .conversation_id = id };
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW) {
        link.epoch = (uint64_t) sqlite3_column_int64 (stmt, 0);
        link.statement = (const uint8_t *) sqlite3_column_blob (stmt, 1);
        link.statement_len = (size_t) sqlite3_column_bytes (stmt, 1);
        link.signature = (const uint8_t *) sqlite3_column_blob (stmt, 2);
        link.signature_len = (size_t) sqlite3_column_bytes (stmt, 2);
        link.actor = (const char *) sqlite3_column_text (stmt, 3);
        link.action = sqlite3_column_int (stmt, 4);
        if (!link.statement || !link.signature || !link.actor)
            continue;
        if (fn (&link, arg))
            break;
    }
    sqlite3_reset (stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return s_fail (self, "link page");
    return CHAT_OK;
}

//  ---------------------------------------------------------------- messages

//  A client_message_id already stored in conversation id: the original's
//  seq and time when sender stored it (*duplicate), CHAT_ERR_BAD_REQUEST
//  when another did, CHAT_ERR_NOT_FOUND when none is stored
static int
s_msg_find (sqlstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], const char *sender,
            const uint8_t *client_message_id, size_t client_message_id_len,
            uint64_t *seq, int64_t *server_time, bool *duplicate)
{
    sqlite3_stmt *stmt = s_stmt (self, Q_MSG_FIND);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 2, client_message_id, (int) client_message_id_len,
                       SQLITE_STATIC);
    int rc = sqlite3_step (stmt);
    if (rc != SQLITE_ROW) {
        sqlite3_reset (stmt);
        return rc == SQLITE_DONE? CHAT_ERR_NOT_FOUND: s_fail (self, "message lookup");
    }
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

//  One message inside our transaction: one INSERT, numbered from the
//  conversation kept in memory, which moves on only once the row is in.
//  A failing INSERT takes back only itself (SQLite's statement rollback),
//  or, for some I/O errors, the whole transaction: then what was kept is
//  forgotten and every later add of the transaction fails too, as its
//  commit will. Either way no seq is skipped or given twice.
static int
s_msg_insert (sqlstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
              const char *sender, const uint8_t *client_message_id,
              size_t client_message_id_len, const char *token,
              size_t token_len, uint64_t epoch, int64_t now_ms,
              uint64_t *seq, int64_t *server_time, bool *duplicate)
{
    if (sqlite3_get_autocommit (self->db)) {
        s_convs_forget (self);
        zsys_error ("msgstore: message add: the transaction was rolled back");
        return CHAT_ERR_INTERNAL;
    }
    convstate_t *conv;
    int rc = s_convstate (self, id, &conv);
    if (rc == CHAT_OK && (epoch == 0 || epoch != conv->epoch))
        rc = CHAT_ERR_STALE_EPOCH;
    if (rc != CHAT_OK) {
        if (rc == CHAT_ERR_INTERNAL)
            return rc;
        //  A retry is answered whatever the epoch, as for a known one
        int found = s_msg_find (self, id, sender, client_message_id,
                                client_message_id_len, seq, server_time, duplicate);
        return found == CHAT_ERR_NOT_FOUND? rc: found;
    }
    uint64_t next = conv->last_seq + 1;
    sqlite3_stmt *stmt = s_stmt (self, Q_MSG_INSERT);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) next);
    sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) epoch);
    sqlite3_bind_text (stmt, 4, sender, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 5, now_ms);
    sqlite3_bind_text (stmt, 6, token, (int) token_len, SQLITE_STATIC);
    sqlite3_bind_blob (stmt, 7, client_message_id, (int) client_message_id_len,
                       SQLITE_STATIC);
    rc = sqlite3_step (stmt);
    bool inserted = rc == SQLITE_DONE && sqlite3_changes (self->db) == 1;
    sqlite3_reset (stmt);
    sqlite3_clear_bindings (stmt);          //  drop what was borrowed
    if (rc != SQLITE_DONE) {
        s_fail (self, "message insert");
        if (sqlite3_get_autocommit (self->db))
            s_convs_forget (self);
        return CHAT_ERR_INTERNAL;
    }
    if (!inserted) {
        //  The unique index met the same client_message_id: a retry
        rc = s_msg_find (self, id, sender, client_message_id, client_message_id_len,
                         seq, server_time, duplicate);
        return rc == CHAT_ERR_NOT_FOUND? s_fail (self, "message conflict"): rc;
    }
    conv->last_seq = next;
    conv->last_time = now_ms;
    if (!conv->dirty) {
        conv->dirty = true;
        self->dirty++;
    }
    *seq = next;
    *server_time = now_ms;
    return CHAT_OK;
}

static int
sql_msg_add (sqlstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                  const char *sender, const uint8_t *client_message_id,
                  size_t client_message_id_len, const char *token,
                  size_t token_len, uint64_t epoch, int64_t now_ms,
                  uint64_t *seq, int64_t *server_time, bool *duplicate)
{
    assert (self);
    assert (id);
    assert (sender);
    assert (client_message_id);
    assert (token);
    assert (seq && server_time && duplicate);
    *duplicate = false;
    if (self->in_transaction)
        return s_msg_insert (self, id, sender, client_message_id, client_message_id_len,
                             token, token_len, epoch, now_ms, seq, server_time, duplicate);
    if (!sqlite3_get_autocommit (self->db)) {
        //  A transaction not begun here (a bare SAVEPOINT): what is kept
        //  was never checked against the file in it
        zsys_error ("msgstore: message add outside the store's own transaction");
        return CHAT_ERR_INTERNAL;
    }
    //  On its own: a transaction of its own
    if (sql_begin (self))
        return CHAT_ERR_INTERNAL;
    int rc = s_msg_insert (self, id, sender, client_message_id, client_message_id_len,
                           token, token_len, epoch, now_ms, seq, server_time, duplicate);
    if (rc == CHAT_ERR_INTERNAL) {
        sql_rollback (self);
        return rc;
    }
    if (sql_commit (self)) {
        *duplicate = false;
        return CHAT_ERR_INTERNAL;
    }
    return rc;
}

static int
sql_msg_each (sqlstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
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
        msg.epoch = (uint64_t) sqlite3_column_int64 (stmt, 1);
        msg.sender = (const char *) sqlite3_column_text (stmt, 2);
        msg.server_time = sqlite3_column_int64 (stmt, 3);
        msg.token = (const char *) sqlite3_column_text (stmt, 4);
        msg.token_len = (size_t) sqlite3_column_bytes (stmt, 4);
        msg.client_message_id = (const uint8_t *) sqlite3_column_blob (stmt, 5);
        msg.client_message_id_len = (size_t) sqlite3_column_bytes (stmt, 5);
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

static int
sql_msg_last_token (sqlstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
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

//  A read-marker query with the conversation (?1) and the user's folded
//  name (?2) bound; lower: room for that name
static sqlite3_stmt *
s_read_stmt (sqlstore_t *self, query_t query, const uint8_t id [MSGSTORE_ID_SIZE],
             const char *name, char lower [USERNAME_MAX + 1])
{
    credential_username_fold (name, lower, USERNAME_MAX + 1);
    sqlite3_stmt *stmt = s_stmt (self, query);
    sqlite3_bind_blob (stmt, 1, id, MSGSTORE_ID_SIZE, SQLITE_TRANSIENT);
    sqlite3_bind_text (stmt, 2, lower, -1, SQLITE_TRANSIENT);
    return stmt;
}

static int
sql_read_state (sqlstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], const char *name,
                     uint64_t *read_seq, uint64_t *unread)
{
    assert (self);
    assert (name);
    char lower [USERNAME_MAX + 1];
    sqlite3_stmt *stmt = s_read_stmt (self, Q_READ_GET, id, name, lower);
    int rc = sqlite3_step (stmt);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return s_fail (self, "read marker");
    *read_seq = rc == SQLITE_ROW? (uint64_t) sqlite3_column_int64 (stmt, 0): 0;
    sqlite3_reset (stmt);
    stmt = s_read_stmt (self, Q_UNREAD, id, name, lower);
    sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) *read_seq);
    if (sqlite3_step (stmt) != SQLITE_ROW)
        return s_fail (self, "unread count");
    *unread = (uint64_t) sqlite3_column_int64 (stmt, 0);
    sqlite3_reset (stmt);
    return CHAT_OK;
}

static int
sql_read_set (sqlstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], const char *name,
                   uint64_t read_seq, bool *moved)
{
    assert (self);
    assert (name);
    char lower [USERNAME_MAX + 1];
    sqlite3_stmt *stmt = s_read_stmt (self, Q_READ_SET, id, name, lower);
    sqlite3_bind_int64 (stmt, 3, (sqlite3_int64) read_seq);
    if (sqlite3_step (stmt) != SQLITE_DONE)
        return s_fail (self, "read marker");
    if (moved)
        *moved = sqlite3_changes (self->db) > 0;
    sqlite3_reset (stmt);
    return CHAT_OK;
}

//  Every run of our prepared statements (SQLite counts them per statement:
//  nothing is spent on it here). Statements of schema changes at open are
//  not among them.
static uint64_t
sql_statements (sqlstore_t *self)
{
    assert (self);
    uint64_t runs = 0;
    for (int query = 0; query < Q_COUNT; query++)
        runs += (uint64_t) sqlite3_stmt_status (self->stmt [query], SQLITE_STMTSTATUS_RUN, 0);
    return runs;
}

const msgstore_backend_t msgstore_sqlite_backend = {
    .name = "sqlite",
    .open = sql_open,
    .destroy = sql_destroy,
    .begin = sql_begin,
    .commit = sql_commit,
    .rollback = sql_rollback,
    .savepoint = sql_savepoint,
    .savepoint_release = sql_savepoint_release,
    .savepoint_rollback = sql_savepoint_rollback,
    .user_add = sql_user_add,
    .user_get = sql_user_get,
    .user_each = sql_user_each,
    .conv_create = sql_conv_create,
    .conv_append = sql_conv_append,
    .conv_find_direct = sql_conv_find_direct,
    .conv_get = sql_conv_get,
    .conv_get_as_member = sql_conv_get_as_member,
    .conv_members = sql_conv_members,
    .member_accept = sql_member_accept,
    .conv_each_of = sql_conv_each_of,
    .conv_page_of = sql_conv_page_of,
    .conv_each = sql_conv_each,
    .link_each = sql_link_each,
    .msg_add = sql_msg_add,
    .msg_add_batch = NULL,      //  begin, msg_add each, commit
    .msg_each = sql_msg_each,
    .msg_last_token = sql_msg_last_token,
    .read_state = sql_read_state,
    .read_set = sql_read_set,
    .statements = sql_statements,
};
