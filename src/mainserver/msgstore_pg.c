/*  msgstore_pg - the main server's storage on PostgreSQL; see msgstore_pg.h
    and, for what each call does, msgstore.h

    The tables are SQLite's (msgstore_sqlite.c), typed for PostgreSQL:
    bytea for blobs, bigint for integers, boolean for flags, and text in
    the "C" collation so that names order byte by byte as in SQLite.
    Writes that touch more than one row are PL/pgSQL functions: each runs
    as one statement, takes the conversation's row lock first, and turns
    what a request may get wrong (a taken id, an unknown member, a stale
    epoch, a retry) into a status it returns, so that only a real failure
    of the database ever aborts a transaction. Results come back in binary
    (integers cast to bigint: 8 bytes, network order).
*/
#include <arpa/inet.h>
#include <string.h>
#include "chaterror.h"
#include "credential.h"
#include "msgstore_pg.h"
#include "msgstore_rules.h"
#include "pgconn.h"

typedef msgstore_db_t pgstore_t;

//  What the functions return, mapped to chat_err_t by s_status
enum {
    ST_OK = 0,
    ST_DUPLICATE = 1,
    ST_STALE_EPOCH = 2,
    ST_NOT_FOUND = 3,
    ST_BAD_REQUEST = 4,
    ST_CHAIN_CONFLICT = 5
};

//  The schema, version by version: entry N takes schema_version from the
//  one before (0: none) to PG_SCHEMA_BASE + N. The first entry is SQLite's
//  schema 4 whole (there is no older PostgreSQL store); the second adds
//  the cluster's servers table. When SQLite's schema moves, add an entry
//  here too. Never edit a released entry.
#define PG_SCHEMA_BASE 4
static const char *const s_migrations [] = {
    //  0 -> 4: the tables of SQLite's schema 4, and the write functions
    "CREATE TABLE users ("
    "  name_lower text COLLATE \"C\" PRIMARY KEY,"
    "  name text COLLATE \"C\" NOT NULL,"
    "  identity_public_key bytea NOT NULL,"
    "  created_at bigint NOT NULL);"
    "CREATE TABLE conversations ("
    "  id bytea PRIMARY KEY CHECK (length (id) = 16),"
    "  pair_key text COLLATE \"C\" UNIQUE,"
    "  created_at bigint NOT NULL,"
    "  last_seq bigint NOT NULL DEFAULT 0,"
    "  last_time bigint NOT NULL DEFAULT 0,"
    "  epoch bigint NOT NULL,"
    "  creator text COLLATE \"C\" NOT NULL,"
    "  title text COLLATE \"C\" NOT NULL DEFAULT '',"
    "  direct boolean NOT NULL DEFAULT false);"
    "CREATE INDEX conversations_by_activity ON conversations (last_time, created_at);"
    "CREATE TABLE members ("
    "  conversation_id bytea NOT NULL REFERENCES conversations (id),"
    "  name_lower text COLLATE \"C\" NOT NULL REFERENCES users (name_lower),"
    "  joined_epoch bigint NOT NULL DEFAULT 1,"
    "  joined_seq bigint NOT NULL DEFAULT 0,"
    "  accepted boolean NOT NULL DEFAULT true,"
    "  PRIMARY KEY (conversation_id, name_lower));"
    "CREATE INDEX members_by_user ON members (name_lower, conversation_id);"
    "CREATE TABLE links ("
    "  conversation_id bytea NOT NULL REFERENCES conversations (id),"
    "  epoch bigint NOT NULL CHECK (epoch >= 1),"
    "  statement bytea NOT NULL,"
    "  signature bytea NOT NULL,"
    "  actor text COLLATE \"C\" NOT NULL,"
    "  action integer NOT NULL,"
    "  PRIMARY KEY (conversation_id, epoch));"
    "CREATE TABLE messages ("
    "  conversation_id bytea NOT NULL REFERENCES conversations (id),"
    "  seq bigint NOT NULL,"
    "  epoch bigint NOT NULL,"
    "  sender text COLLATE \"C\" NOT NULL,"
    "  server_time bigint NOT NULL,"
    "  token text COLLATE \"C\" NOT NULL,"
    "  client_message_id bytea NOT NULL,"
    "  PRIMARY KEY (conversation_id, seq),"
    "  UNIQUE (conversation_id, client_message_id));"
    "CREATE TABLE read_marks ("
    "  conversation_id bytea NOT NULL REFERENCES conversations (id),"
    "  name_lower text COLLATE \"C\" NOT NULL REFERENCES users (name_lower),"
    "  read_seq bigint NOT NULL,"
    "  PRIMARY KEY (conversation_id, name_lower));"
    //  A link made head, its members made current (SQLite's s_link_add):
    //  every member row is marked (joined_epoch negated), each member
    //  named is inserted (joining now, after the last message) or
    //  unmarked, what stays marked is swept. Raises CH004 (bad request)
    //  or CH005 (chain conflict) for its callers to catch.
    "CREATE FUNCTION chat_link_add (p_id bytea, p_epoch bigint, p_title text,"
    "  p_statement bytea, p_signature bytea, p_actor text, p_actor_lower text,"
    "  p_action integer, p_members text[]) RETURNS void LANGUAGE plpgsql AS $$\n"
    "DECLARE\n"
    "  v_name text;\n"
    "  v_rows bigint;\n"
    "BEGIN\n"
    "  UPDATE conversations SET epoch = p_epoch, title = p_title\n"
    "    WHERE id = p_id AND epoch = p_epoch - 1;\n"
    "  IF NOT FOUND THEN RAISE SQLSTATE 'CH005'; END IF;\n"
    "  BEGIN\n"
    "    INSERT INTO links (conversation_id, epoch, statement, signature, actor, action)\n"
    "      VALUES (p_id, p_epoch, p_statement, p_signature, p_actor, p_action);\n"
    "  EXCEPTION WHEN unique_violation THEN RAISE SQLSTATE 'CH005';\n"
    "  END;\n"
    "  UPDATE members SET joined_epoch = -joined_epoch WHERE conversation_id = p_id;\n"
    "  FOREACH v_name IN ARRAY p_members LOOP\n"
    "    INSERT INTO members AS m (conversation_id, name_lower, joined_epoch, joined_seq,"
    "        accepted)\n"
    "      VALUES (p_id, v_name, p_epoch,\n"
    "        (SELECT c.last_seq FROM conversations c WHERE c.id = p_id),\n"
    "        v_name = p_actor_lower OR EXISTS (SELECT 1 FROM members x JOIN members y\n"
    "          ON y.conversation_id = x.conversation_id AND y.name_lower = p_actor_lower\n"
    "          WHERE x.name_lower = v_name AND x.accepted AND x.conversation_id <> p_id))\n"
    "      ON CONFLICT (conversation_id, name_lower)\n"
    "      DO UPDATE SET joined_epoch = -m.joined_epoch WHERE m.joined_epoch < 0;\n"
    "    GET DIAGNOSTICS v_rows = ROW_COUNT;\n"
    "    IF v_rows <> 1 THEN RAISE SQLSTATE 'CH004'; END IF;\n"
    "  END LOOP;\n"
    "  DELETE FROM members WHERE conversation_id = p_id AND joined_epoch < 0;\n"
    "END $$;"
    //  A conversation from its first link, all or nothing
    "CREATE FUNCTION chat_conv_create (p_id bytea, p_pair text, p_created bigint,"
    "  p_creator text, p_title text, p_direct boolean, p_statement bytea,"
    "  p_signature bytea, p_actor text, p_actor_lower text, p_action integer,"
    "  p_members text[]) RETURNS integer LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  INSERT INTO conversations (id, pair_key, created_at, epoch, creator, title, direct)\n"
    "    VALUES (p_id, p_pair, p_created, 0, p_creator, p_title, p_direct);\n"
    "  PERFORM chat_link_add (p_id, 1, p_title, p_statement, p_signature, p_actor,"
    "    p_actor_lower, p_action, p_members);\n"
    "  RETURN 0;\n"
    "EXCEPTION\n"
    "  WHEN unique_violation OR foreign_key_violation OR check_violation THEN RETURN 4;\n"
    "  WHEN SQLSTATE 'CH004' THEN RETURN 4;\n"
    "  WHEN SQLSTATE 'CH005' THEN RETURN 5;\n"
    "END $$;"
    //  The next link of a conversation, all or nothing; p_unpair: a direct
    //  conversation someone left is no longer the pair's
    "CREATE FUNCTION chat_conv_append (p_id bytea, p_epoch bigint, p_title text,"
    "  p_statement bytea, p_signature bytea, p_actor text, p_actor_lower text,"
    "  p_action integer, p_members text[], p_unpair boolean)"
    "  RETURNS integer LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  PERFORM chat_link_add (p_id, p_epoch, p_title, p_statement, p_signature, p_actor,"
    "    p_actor_lower, p_action, p_members);\n"
    "  IF p_unpair THEN\n"
    "    UPDATE conversations SET pair_key = NULL WHERE id = p_id;\n"
    "  END IF;\n"
    "  RETURN 0;\n"
    "EXCEPTION\n"
    "  WHEN unique_violation OR foreign_key_violation OR check_violation THEN RETURN 4;\n"
    "  WHEN SQLSTATE 'CH004' THEN RETURN 4;\n"
    "  WHEN SQLSTATE 'CH005' THEN RETURN 5;\n"
    "END $$;"
    //  One message: the conversation's row lock first (every writer of a
    //  conversation queues there, so a retry racing its first copy on
    //  another server sees it and answers duplicate), then the retry
    //  check, the epoch, the next seq and the row
    "CREATE FUNCTION chat_msg_add (p_id bytea, p_sender text, p_cmid bytea, p_token text,"
    "  p_epoch bigint, p_now bigint,"
    "  OUT o_status integer, OUT o_seq bigint, OUT o_time bigint)"
    "  LANGUAGE plpgsql AS $$\n"
    "DECLARE\n"
    "  v_epoch bigint;\n"
    "  v_sender text;\n"
    "BEGIN\n"
    "  SELECT c.epoch INTO v_epoch FROM conversations c WHERE c.id = p_id FOR UPDATE;\n"
    "  SELECT m.seq, m.server_time, m.sender INTO o_seq, o_time, v_sender\n"
    "    FROM messages m WHERE m.conversation_id = p_id AND m.client_message_id = p_cmid;\n"
    "  IF FOUND THEN\n"
    "    o_status := CASE WHEN lower (v_sender) = lower (p_sender) THEN 1 ELSE 4 END;\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  o_seq := 0;\n"
    "  o_time := 0;\n"
    "  IF p_epoch <= 0 THEN o_status := 2; RETURN; END IF;\n"
    "  IF v_epoch IS NULL THEN o_status := 3; RETURN; END IF;\n"
    "  IF v_epoch <> p_epoch THEN o_status := 2; RETURN; END IF;\n"
    "  UPDATE conversations c SET last_seq = c.last_seq + 1, last_time = p_now\n"
    "    WHERE c.id = p_id RETURNING c.last_seq INTO o_seq;\n"
    "  INSERT INTO messages (conversation_id, seq, epoch, sender, server_time, token,"
    "      client_message_id)\n"
    "    VALUES (p_id, o_seq, p_epoch, p_sender, p_now, p_token, p_cmid);\n"
    "  o_time := p_now;\n"
    "  o_status := 0;\n"
    "END $$;",
    //  4 -> 5: the main servers that share this database (a cluster;
    //  SQLite has one server only, so its schema has no such table: from
    //  here on PostgreSQL's version N is SQLite's N-1 plus this table, and
    //  SQLite's next schema needs its own entry here, as version 6)
    "CREATE TABLE servers ("
    "  id text COLLATE \"C\" PRIMARY KEY,"
    "  client_endpoint text NOT NULL,"
    "  push_endpoint text NOT NULL,"
    "  started_at bigint NOT NULL,"
    "  sessions bigint NOT NULL,"
    "  heartbeat bigint NOT NULL);",
    NULL
};

#define CONV_COLUMNS "id, last_seq, last_time, created_at, epoch, direct::int4::int8, title, creator"
#define CONV_MEMBER_COLUMNS \
    "c.id, c.last_seq, c.last_time, c.created_at, c.epoch, c.direct::int4::int8, c.title," \
    " c.creator, m.joined_epoch, m.joined_seq, m.accepted::int4::int8"

#define SQL_MSG_ADD \
    "SELECT o_status::int8, o_seq, o_time FROM chat_msg_add ($1, $2, $3, $4, $5, $6)"

struct _msgstore_db_t {
    pgconn_t *conn;
};

//  ---------------------------------------------------------------- results

static int
s_status (int64_t status)
{
    switch (status) {
        case ST_OK:             return CHAT_OK;
        case ST_DUPLICATE:      return CHAT_OK;
        case ST_STALE_EPOCH:    return CHAT_ERR_STALE_EPOCH;
        case ST_NOT_FOUND:      return CHAT_ERR_NOT_FOUND;
        case ST_BAD_REQUEST:    return CHAT_ERR_BAD_REQUEST;
        case ST_CHAIN_CONFLICT: return CHAT_ERR_CHAIN_CONFLICT;
        default:                return CHAT_ERR_INTERNAL;
    }
}

//  ---------------------------------------------------------------- connection

static const pgconn_store_t s_store = {
    .log_name = "msgstore",
    .application_name = "chat-mainserver",
    .version_table = "schema_version",
    .schema_label = "schema",
    .lock_key = 7202617,
    .schema_base = PG_SCHEMA_BASE,
    .migrations = s_migrations,
};

static void
pg_destroy (pgstore_t **self_p)
{
    assert (self_p);
    pgstore_t *self = *self_p;
    if (self) {
        pgconn_destroy (&self->conn);
        free (self);
        *self_p = NULL;
    }
}

static pgstore_t *
pg_open (const char *url)
{
    assert (url);
    pgstore_t *self = (pgstore_t *) zmalloc (sizeof (pgstore_t));
    assert (self);
    self->conn = pgconn_new (url, &s_store);
    if (!self->conn)
        pg_destroy (&self);
    return self;
}

//  ---------------------------------------------------------------- transactions

static int
pg_begin (pgstore_t *self)
{
    assert (self);
    return pgconn_begin (self->conn);
}

static int
pg_commit (pgstore_t *self)
{
    assert (self);
    return pgconn_commit (self->conn);
}

static int
pg_rollback (pgstore_t *self)
{
    assert (self);
    pgconn_abandon (self->conn);
    return CHAT_OK;
}

static int
pg_savepoint (pgstore_t *self)
{
    assert (self);
    return pgconn_command (self->conn, "SAVEPOINT request", NULL, "savepoint", NULL);
}

static int
pg_savepoint_release (pgstore_t *self)
{
    assert (self);
    return pgconn_command (self->conn, "RELEASE request", NULL, "savepoint release", NULL);
}

static int
pg_savepoint_rollback (pgstore_t *self)
{
    assert (self);
    PGTransactionStatusType status = PQtransactionStatus (pgconn_handle (self->conn));
    if (status == PQTRANS_IDLE || status == PQTRANS_UNKNOWN)
        return CHAT_ERR_INTERNAL;       //  the whole transaction is gone
    if (pgconn_command (self->conn, "ROLLBACK TO request", NULL, "savepoint rollback", NULL)
    ||  pgconn_command (self->conn, "RELEASE request", NULL, "savepoint release", NULL))
        return CHAT_ERR_INTERNAL;
    return CHAT_OK;
}

//  ---------------------------------------------------------------- users

static int
s_user_row (const PGresult *res, int row, msgstore_user_t *user)
{
    memset (user, 0, sizeof *user);
    const char *name = pgconn_text (res, row, 0);
    int identity_len = PQgetlength (res, row, 1);
    if (!name || strlen (name) > USERNAME_MAX || PQgetisnull (res, row, 1)
    ||  identity_len <= 0 || identity_len > MSGSTORE_IDENTITY_MAX)
        return -1;
    strcpy (user->name, name);
    memcpy (user->identity, PQgetvalue (res, row, 1), (size_t) identity_len);
    user->identity_len = (size_t) identity_len;
    user->created_at = pgconn_int (res, row, 2);
    return 0;
}

static int
pg_user_add (pgstore_t *self, const char *name, const uint8_t *identity,
             size_t identity_len, int64_t now_ms, bool *added)
{
    assert (self && name);
    if (!credential_username_valid (name) || !identity || identity_len == 0
    ||  identity_len > MSGSTORE_IDENTITY_MAX)
        return CHAT_ERR_BAD_REQUEST;
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, lower);
    pgconn_param_text (&params, name);
    pgconn_param_bytes (&params, identity, identity_len);
    pgconn_param_int (&params, now_ms);
    int64_t rows = 0;
    if (pgconn_command (self->conn,
            "INSERT INTO users (name_lower, name, identity_public_key, created_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (name_lower) DO NOTHING",
            &params, "user add", &rows))
        return CHAT_ERR_INTERNAL;
    if (added)
        *added = rows > 0;
    return CHAT_OK;
}

static int
pg_user_get (pgstore_t *self, const char *name, msgstore_user_t *user)
{
    assert (self && name && user);
    if (!credential_username_valid (name))
        return CHAT_ERR_UNKNOWN_USER;
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, lower);
    PGresult *res = pgconn_run (self->conn,
            "SELECT name, identity_public_key, created_at::int8"
            " FROM users WHERE name_lower = $1", &params,
            PGRES_TUPLES_OK, "user get");
    if (!res)
        return CHAT_ERR_INTERNAL;
    int rc = PQntuples (res) == 0? CHAT_ERR_UNKNOWN_USER
           : s_user_row (res, 0, user) == 0? CHAT_OK
           : pgconn_fail (self->conn, "user row", NULL);
    PQclear (res);
    return rc;
}

static int
pg_user_each (pgstore_t *self, msgstore_user_fn *fn, void *arg)
{
    assert (self && fn);
    PGresult *res = pgconn_run (self->conn,
            "SELECT name, identity_public_key, created_at::int8"
            " FROM users ORDER BY name_lower", NULL,
            PGRES_TUPLES_OK, "user list");
    if (!res)
        return CHAT_ERR_INTERNAL;
    msgstore_user_t *user = (msgstore_user_t *) malloc (sizeof *user);
    if (user)
        for (int row = 0; row < PQntuples (res); row++)
            if (s_user_row (res, row, user) == 0 && fn (user, arg))
                break;
    free (user);
    PQclear (res);
    return user? CHAT_OK: CHAT_ERR_INTERNAL;
}

//  ---------------------------------------------------------------- conversations

//  One conversation row (CONV_COLUMNS, or CONV_MEMBER_COLUMNS) into *conv
static void
s_conv_row (const PGresult *res, int row, msgstore_conv_t *conv)
{
    memset (conv, 0, sizeof *conv);
    if (PQgetlength (res, row, 0) == MSGSTORE_ID_SIZE)
        memcpy (conv->id, PQgetvalue (res, row, 0), MSGSTORE_ID_SIZE);
    conv->last_seq = (uint64_t) pgconn_int (res, row, 1);
    conv->last_time = pgconn_int (res, row, 2);
    conv->created_at = pgconn_int (res, row, 3);
    conv->epoch = (uint64_t) pgconn_int (res, row, 4);
    conv->direct = pgconn_int (res, row, 5) != 0;
    const char *title = pgconn_text (res, row, 6);
    snprintf (conv->title, sizeof conv->title, "%s", title? title: "");
    const char *creator = pgconn_text (res, row, 7);
    snprintf (conv->creator, sizeof conv->creator, "%s", creator? creator: "");
    if (PQnfields (res) > 10) {
        int64_t joined_epoch = pgconn_int (res, row, 8);
        int64_t joined_seq = pgconn_int (res, row, 9);
        conv->joined_epoch = joined_epoch > 0? (uint64_t) joined_epoch: 0;
        conv->joined_seq = joined_seq > 0? (uint64_t) joined_seq: 0;
        conv->request = pgconn_int (res, row, 10) == 0;
    }
}

//  A query that yields at most one conversation row
static int
s_conv_one (pgstore_t *self, const char *sql, const pgconn_params_t *params,
            msgstore_conv_t *conv)
{
    PGresult *res = pgconn_run (self->conn, sql, params, PGRES_TUPLES_OK,
                                "conversation lookup");
    if (!res)
        return CHAT_ERR_INTERNAL;
    int rc = PQntuples (res) > 0? CHAT_OK: CHAT_ERR_NOT_FOUND;
    if (rc == CHAT_OK && conv)
        s_conv_row (res, 0, conv);
    PQclear (res);
    return rc;
}

static int
s_conv_iterate (pgstore_t *self, const char *sql, const pgconn_params_t *params,
                msgstore_conv_fn *fn, void *arg)
{
    PGresult *res = pgconn_run (self->conn, sql, params, PGRES_TUPLES_OK,
                                "conversation list");
    if (!res)
        return CHAT_ERR_INTERNAL;
    msgstore_conv_t conv;
    for (int row = 0; row < PQntuples (res); row++) {
        s_conv_row (res, row, &conv);
        if (fn (&conv, arg))
            break;
    }
    PQclear (res);
    return CHAT_OK;
}

//  members folded and made a text[] literal ({"a","b"}: names are
//  letters, digits and _.- only, but quoted all the same)
static char *
s_members_array (const char *const *members, size_t count)
{
    char *array = (char *) malloc (count * (USERNAME_MAX * 2 + 3) + 3);
    if (!array)
        return NULL;
    char *out = array;
    *out++ = '{';
    for (size_t index = 0; index < count; index++) {
        char lower [USERNAME_MAX + 1];
        credential_username_fold (members [index], lower, sizeof lower);
        if (index)
            *out++ = ',';
        *out++ = '"';
        for (const char *c = lower; *c; c++) {
            if (*c == '"' || *c == '\\')
                *out++ = '\\';
            *out++ = *c;
        }
        *out++ = '"';
    }
    *out++ = '}';
    *out = 0;
    return array;
}

//  The link's parameters as chat_link_add takes them after its id and
//  epoch: statement, signature, actor, folded actor, action, members.
//  actor_lower and the returned array (freed by the caller) must outlive
//  params.
static char *
s_link_params (pgconn_params_t *params, const msgstore_link_t *link,
               const char *const *members, size_t count,
               char actor_lower [USERNAME_MAX + 1])
{
    credential_username_fold (link->actor, actor_lower, USERNAME_MAX + 1);
    char *array = s_members_array (members, count);
    pgconn_param_bytes (params, link->statement, link->statement_len);
    pgconn_param_bytes (params, link->signature, link->signature_len);
    pgconn_param_text (params, link->actor);
    pgconn_param_text (params, actor_lower);
    pgconn_param_int (params, link->action);
    pgconn_param_text (params, array);
    return array;
}

//  A write function's status (first column) as chat_err_t
static int
s_call_status (pgstore_t *self, const char *sql, const pgconn_params_t *params,
               const char *what)
{
    PGresult *res = pgconn_run (self->conn, sql, params, PGRES_TUPLES_OK, what);
    if (!res)
        return CHAT_ERR_INTERNAL;
    int rc = PQntuples (res) == 1? s_status (pgconn_int (res, 0, 0)): CHAT_ERR_INTERNAL;
    PQclear (res);
    return rc;
}

static int
pg_conv_create (pgstore_t *self, const msgstore_conv_t *conv,
                const char *const *members, size_t count, const msgstore_link_t *link)
{
    assert (self && conv);
    if (!msgstore_rules_link_valid (link, members, count) || count < 2 || link->epoch != 1
    ||  memcmp (link->conversation_id, conv->id, MSGSTORE_ID_SIZE) != 0
    ||  (conv->direct && count != 2))
        return CHAT_ERR_BAD_REQUEST;
    char pair_key [MSGSTORE_PAIR_KEY_SIZE];
    if (conv->direct)
        msgstore_rules_pair_key (members [0], members [1], pair_key);
    pgconn_params_t params = { 0 };
    pgconn_param_bytes (&params, conv->id, MSGSTORE_ID_SIZE);
    if (conv->direct)
        pgconn_param_text (&params, pair_key);
    else
        pgconn_param_null (&params);
    pgconn_param_int (&params, conv->created_at);
    pgconn_param_text (&params, conv->creator);
    pgconn_param_text (&params, conv->title);
    pgconn_param_text (&params, conv->direct? "true": "false");
    char actor_lower [USERNAME_MAX + 1];
    char *array = s_link_params (&params, link, members, count, actor_lower);
    if (!array)
        return CHAT_ERR_INTERNAL;
    int rc = s_call_status (self, "SELECT chat_conv_create ($1, $2, $3, $4, $5, $6, $7,"
                            " $8, $9, $10, $11, $12)::int8", &params, "conversation create");
    free (array);
    return rc;
}

static int
pg_conv_get (pgstore_t *self, const uint8_t *id, size_t id_len, msgstore_conv_t *conv)
{
    assert (self);
    if (!id || id_len != MSGSTORE_ID_SIZE)
        return CHAT_ERR_NOT_FOUND;
    pgconn_params_t params = { 0 };
    pgconn_param_bytes (&params, id, MSGSTORE_ID_SIZE);
    return s_conv_one (self, "SELECT " CONV_COLUMNS " FROM conversations WHERE id = $1",
                       &params, conv);
}

static int
pg_conv_append (pgstore_t *self, const msgstore_link_t *link, const char *title,
                const char *const *members, size_t count)
{
    assert (self);
    if (!msgstore_rules_link_valid (link, members, count) || link->epoch < 2)
        return CHAT_ERR_BAD_REQUEST;
    msgstore_conv_t conv;
    int rc = pg_conv_get (self, link->conversation_id, MSGSTORE_ID_SIZE, &conv);
    if (rc != CHAT_OK)
        return rc;
    pgconn_params_t params = { 0 };
    pgconn_param_bytes (&params, link->conversation_id, MSGSTORE_ID_SIZE);
    pgconn_param_int (&params, (int64_t) link->epoch);
    pgconn_param_text (&params, title? title: "");
    char actor_lower [USERNAME_MAX + 1];
    char *array = s_link_params (&params, link, members, count, actor_lower);
    if (!array)
        return CHAT_ERR_INTERNAL;
    pgconn_param_text (&params, conv.direct && count < 2? "true": "false");
    rc = s_call_status (self, "SELECT chat_conv_append ($1, $2, $3, $4, $5, $6, $7, $8,"
                        " $9, $10)::int8", &params, "conversation append");
    free (array);
    return rc;
}

static int
pg_conv_find_direct (pgstore_t *self, const char *a, const char *b, msgstore_conv_t *conv)
{
    assert (self && a && b);
    char pair_key [MSGSTORE_PAIR_KEY_SIZE];
    msgstore_rules_pair_key (a, b, pair_key);
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, pair_key);
    return s_conv_one (self, "SELECT " CONV_COLUMNS " FROM conversations WHERE pair_key = $1",
                       &params, conv);
}

static int
pg_conv_get_as_member (pgstore_t *self, const uint8_t *id, size_t id_len,
                       const char *name, msgstore_conv_t *conv)
{
    assert (self && name);
    if (!id || id_len != MSGSTORE_ID_SIZE)
        return CHAT_ERR_NOT_FOUND;
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    pgconn_params_t params = { 0 };
    pgconn_param_bytes (&params, id, MSGSTORE_ID_SIZE);
    pgconn_param_text (&params, lower);
    return s_conv_one (self, "SELECT " CONV_MEMBER_COLUMNS
                       " FROM members m JOIN conversations c ON c.id = m.conversation_id"
                       " WHERE m.conversation_id = $1 AND m.name_lower = $2", &params, conv);
}

static int
pg_conv_members (pgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], zlistx_t **names)
{
    assert (self && id && names);
    pgconn_params_t params = { 0 };
    pgconn_param_bytes (&params, id, MSGSTORE_ID_SIZE);
    PGresult *res = pgconn_run (self->conn, "SELECT u.name FROM members m"
                                " JOIN users u ON u.name_lower = m.name_lower"
                                " WHERE m.conversation_id = $1 ORDER BY m.name_lower",
                                &params, PGRES_TUPLES_OK, "member list");
    if (!res)
        return CHAT_ERR_INTERNAL;
    zlistx_t *list = zlistx_new ();
    assert (list);
    zlistx_set_destructor (list, (zlistx_destructor_fn *) zstr_free);
    for (int row = 0; row < PQntuples (res); row++)
        zlistx_add_end (list, strdup (PQgetvalue (res, row, 0)));
    PQclear (res);
    *names = list;
    return CHAT_OK;
}

static int
pg_member_accept (pgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], const char *name)
{
    assert (self && id && name);
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    pgconn_params_t params = { 0 };
    pgconn_param_bytes (&params, id, MSGSTORE_ID_SIZE);
    pgconn_param_text (&params, lower);
    int64_t rows = 0;
    if (pgconn_command (self->conn, "UPDATE members SET accepted = true"
                        " WHERE conversation_id = $1 AND name_lower = $2", &params,
                        "member accept", &rows))
        return CHAT_ERR_INTERNAL;
    return rows == 1? CHAT_OK: CHAT_ERR_NOT_FOUND;
}

static int
pg_conv_each_of (pgstore_t *self, const char *name, msgstore_conv_fn *fn, void *arg)
{
    assert (self && name && fn);
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, lower);
    return s_conv_iterate (self, "SELECT " CONV_MEMBER_COLUMNS
                           " FROM members m JOIN conversations c ON c.id = m.conversation_id"
                           " WHERE m.name_lower = $1 ORDER BY c.created_at, c.id",
                           &params, fn, arg);
}

static int
pg_conv_page_of (pgstore_t *self, const char *name, const msgstore_conv_t *after,
                 uint32_t limit, msgstore_conv_fn *fn, void *arg)
{
    assert (self && name && fn);
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, lower);
    //  From the first: before anything a row can hold (an empty bytea
    //  sorts before every id)
    pgconn_param_int (&params, after? after->created_at: INT64_MIN);
    pgconn_param_bytes (&params, after? after->id: NULL, after? MSGSTORE_ID_SIZE: 0);
    pgconn_param_int (&params, limit);
    return s_conv_iterate (self, "SELECT " CONV_MEMBER_COLUMNS
                           " FROM members m JOIN conversations c ON c.id = m.conversation_id"
                           " WHERE m.name_lower = $1 AND (c.created_at, c.id) > ($2, $3)"
                           " ORDER BY c.created_at, c.id LIMIT $4", &params, fn, arg);
}

static int
pg_conv_each (pgstore_t *self, msgstore_conv_fn *fn, void *arg)
{
    assert (self && fn);
    return s_conv_iterate (self, "SELECT " CONV_COLUMNS " FROM conversations"
                           " ORDER BY last_time DESC, created_at DESC", NULL, fn, arg);
}

//  A page of a conversation's links or messages: sql takes the id, the
//  epoch or seq it starts after, and the limit. CHAT_OK with *res NULL
//  when nothing can be after it
static int
s_page (pgstore_t *self, const char *sql, const uint8_t id [MSGSTORE_ID_SIZE],
        uint64_t after, uint32_t limit, const char *what, PGresult **res)
{
    *res = NULL;
    if (after > INT64_MAX)
        return CHAT_OK;
    pgconn_params_t params = { 0 };
    pgconn_param_bytes (&params, id, MSGSTORE_ID_SIZE);
    pgconn_param_int (&params, (int64_t) after);
    pgconn_param_int (&params, limit);
    *res = pgconn_run (self->conn, sql, &params, PGRES_TUPLES_OK, what);
    return *res? CHAT_OK: CHAT_ERR_INTERNAL;
}

//  ---------------------------------------------------------------- chains

static int
pg_link_each (pgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t after_epoch,
              uint32_t limit, msgstore_link_fn *fn, void *arg)
{
    assert (self && id && fn);
    PGresult *res;
    if (s_page (self, "SELECT epoch, statement, signature, actor, action::int8"
                " FROM links WHERE conversation_id = $1 AND epoch > $2"
                " ORDER BY epoch LIMIT $3", id, after_epoch, limit, "link page", &res))
        return CHAT_ERR_INTERNAL;
    if (!res)
        return CHAT_OK;
    msgstore_link_t link = { .conversation_id = id };
    for (int row = 0; row < PQntuples (res); row++) {
        link.epoch = (uint64_t) pgconn_int (res, row, 0);
        link.statement = (const uint8_t *) PQgetvalue (res, row, 1);
        link.statement_len = (size_t) PQgetlength (res, row, 1);
        link.signature = (const uint8_t *) PQgetvalue (res, row, 2);
        link.signature_len = (size_t) PQgetlength (res, row, 2);
        link.actor = pgconn_text (res, row, 3);
        link.action = (int) pgconn_int (res, row, 4);
        if (!link.actor)
            continue;
        if (fn (&link, arg))
            break;
    }
    PQclear (res);
    return CHAT_OK;
}

//  ---------------------------------------------------------------- messages

//  chat_msg_add's parameters for one message
static void
s_msg_params (pgconn_params_t *params, const uint8_t *id, const char *sender,
              const uint8_t *client_message_id, size_t client_message_id_len,
              const char *token, size_t token_len, uint64_t epoch, int64_t now_ms)
{
    pgconn_param_bytes (params, id, MSGSTORE_ID_SIZE);
    pgconn_param_text (params, sender);
    pgconn_param_bytes (params, client_message_id, client_message_id_len);
    //  text in binary: its bytes, token_len of them
    pgconn_param_bytes (params, token, token_len);
    //  An epoch no row can hold is stale, as is 0
    pgconn_param_int (params, epoch > INT64_MAX? 0: (int64_t) epoch);
    pgconn_param_int (params, now_ms);
}

//  chat_msg_add's answer into an add's fields; CHAT_ERR_INTERNAL for a
//  result of another shape
static int
s_msg_result (const PGresult *res, uint64_t *seq, int64_t *server_time, bool *duplicate)
{
    if (PQresultStatus (res) != PGRES_TUPLES_OK || PQntuples (res) != 1)
        return CHAT_ERR_INTERNAL;
    int64_t status = pgconn_int (res, 0, 0);
    *duplicate = status == ST_DUPLICATE;
    if (status == ST_OK || status == ST_DUPLICATE) {
        *seq = (uint64_t) pgconn_int (res, 0, 1);
        *server_time = pgconn_int (res, 0, 2);
    }
    return s_status (status);
}

static int
pg_msg_add (pgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], const char *sender,
            const uint8_t *client_message_id, size_t client_message_id_len,
            const char *token, size_t token_len, uint64_t epoch, int64_t now_ms,
            uint64_t *seq, int64_t *server_time, bool *duplicate)
{
    assert (self && id && sender && client_message_id && token);
    assert (seq && server_time && duplicate);
    *duplicate = false;
    pgconn_params_t params = { 0 };
    s_msg_params (&params, id, sender, client_message_id, client_message_id_len,
                  token, token_len, epoch, now_ms);
    PGresult *res = pgconn_run (self->conn, SQL_MSG_ADD, &params, PGRES_TUPLES_OK,
                                "message add");
    if (!res)
        return CHAT_ERR_INTERNAL;
    int rc = s_msg_result (res, seq, server_time, duplicate);
    PQclear (res);
    return rc;
}

//  Send BEGIN, a chat_msg_add per add, COMMIT and the sync, without
//  waiting: false when libpq could not queue them
static bool
s_batch_send (pgstore_t *self, msgstore_add_t *const *adds, size_t count)
{
    PGconn *conn = pgconn_handle (self->conn);
    if (!PQsendQueryParams (conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 1))
        return false;
    for (size_t index = 0; index < count; index++) {
        const msgstore_add_t *add = adds [index];
        pgconn_params_t params = { 0 };
        s_msg_params (&params, add->conversation_id, add->sender, add->client_message_id,
                      add->client_message_id_len, add->token, add->token_len, add->epoch,
                      add->now_ms);
        if (!PQsendQueryParams (conn, SQL_MSG_ADD, params.count, NULL, params.values,
                                params.lengths, params.formats, 1))
            return false;
    }
    return PQsendQueryParams (conn, "COMMIT", 0, NULL, NULL, NULL, NULL, 1)
        && PQpipelineSync (conn);
}

//  The next query's result of a pipeline (and the NULL that ends it);
//  NULL when the connection failed or answered out of turn
static PGresult *
s_batch_next (pgstore_t *self)
{
    PGconn *conn = pgconn_handle (self->conn);
    PGresult *res = PQgetResult (conn);
    if (res && PQresultStatus (res) != PGRES_PIPELINE_SYNC) {
        PGresult *more = PQgetResult (conn);
        if (more) {
            PQclear (more);
            PQclear (res);
            res = NULL;
        }
    }
    return res;
}

//  Read the pipeline's answers: BEGIN, one per add, COMMIT, the sync.
//  CHAT_OK only when every call answered and COMMIT committed
static int
s_batch_receive (pgstore_t *self, msgstore_add_t *const *adds, size_t count)
{
    int rc = CHAT_OK;
    for (size_t index = 0; index < count + 2; index++) {
        PGresult *res = s_batch_next (self);
        if (!res)
            return pgconn_fail (self->conn, "batch", NULL);
        ExecStatusType status = PQresultStatus (res);
        if (index == 0 || index == count + 1) {
            bool ok = index == 0
                    ? status == PGRES_COMMAND_OK && streq (PQcmdStatus (res), "BEGIN")
                    : pgconn_committed (res);
            if (!ok && rc == CHAT_OK)
                rc = pgconn_fail (self->conn, index == 0? "batch begin": "batch commit",
                                  res);
        }
        else {
            msgstore_add_t *add = adds [index - 1];
            if (status == PGRES_TUPLES_OK)
                add->status = s_msg_result (res, &add->seq, &add->server_time,
                                            &add->duplicate);
            if (add->status == CHAT_ERR_INTERNAL && rc == CHAT_OK)
                rc = pgconn_fail (self->conn, "batch message add", res);
        }
        PQclear (res);
    }
    PGresult *res = PQgetResult (pgconn_handle (self->conn));
    bool synced = res && PQresultStatus (res) == PGRES_PIPELINE_SYNC;
    PQclear (res);
    if (!synced)
        return pgconn_fail (self->conn, "batch sync", NULL);
    return rc;
}

//  The batch as one pipeline: one round trip for BEGIN, every message and
//  COMMIT. Its answers say nothing until COMMIT's does.
static int
pg_msg_add_batch (pgstore_t *self, msgstore_add_t *const *adds, size_t count)
{
    assert (self && adds);
    assert (!pgconn_in_transaction (self->conn));
    if (pgconn_ready (self->conn))
        return CHAT_ERR_INTERNAL;
    if (!PQenterPipelineMode (pgconn_handle (self->conn)))
        return pgconn_fail (self->conn, "pipeline", NULL);
    int rc = s_batch_send (self, adds, count)
           ? s_batch_receive (self, adds, count)
           : pgconn_fail (self->conn, "batch send", NULL);
    if (!PQexitPipelineMode (pgconn_handle (self->conn))) {
        //  Answers still owed on a connection that failed: start afresh
        pgconn_fail (self->conn, "pipeline end", NULL);
        pgconn_reset (self->conn);
        return CHAT_ERR_INTERNAL;
    }
    if (rc != CHAT_OK)
        pgconn_abandon (self->conn);
    return rc;
}

static int
pg_msg_each (pgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t after_seq,
             uint32_t limit, msgstore_msg_fn *fn, void *arg)
{
    assert (self && id && fn);
    PGresult *res;
    if (s_page (self, "SELECT seq, epoch, sender, server_time, token, client_message_id"
                " FROM messages WHERE conversation_id = $1 AND seq > $2"
                " ORDER BY seq LIMIT $3", id, after_seq, limit, "message page", &res))
        return CHAT_ERR_INTERNAL;
    if (!res)
        return CHAT_OK;
    msgstore_msg_t msg = { .conversation_id = id };
    for (int row = 0; row < PQntuples (res); row++) {
        msg.seq = (uint64_t) pgconn_int (res, row, 0);
        msg.epoch = (uint64_t) pgconn_int (res, row, 1);
        msg.sender = pgconn_text (res, row, 2);
        msg.server_time = pgconn_int (res, row, 3);
        msg.token = pgconn_text (res, row, 4);
        msg.token_len = (size_t) PQgetlength (res, row, 4);
        msg.client_message_id = (const uint8_t *) PQgetvalue (res, row, 5);
        msg.client_message_id_len = (size_t) PQgetlength (res, row, 5);
        if (!msg.sender || !msg.token)
            continue;
        if (fn (&msg, arg))
            break;
    }
    PQclear (res);
    return CHAT_OK;
}

static int
pg_msg_last_token (pgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], char **token)
{
    assert (self && id && token);
    *token = NULL;
    pgconn_params_t params = { 0 };
    pgconn_param_bytes (&params, id, MSGSTORE_ID_SIZE);
    PGresult *res = pgconn_run (self->conn,
            "SELECT token FROM messages WHERE conversation_id = $1"
            " ORDER BY seq DESC LIMIT 1", &params, PGRES_TUPLES_OK,
            "last token");
    if (!res)
        return CHAT_ERR_INTERNAL;
    int rc = CHAT_ERR_NOT_FOUND;
    if (PQntuples (res) > 0) {
        *token = strdup (PQgetvalue (res, 0, 0));
        rc = *token? CHAT_OK: CHAT_ERR_INTERNAL;
    }
    PQclear (res);
    return rc;
}

//  ---------------------------------------------------------------- read markers

static int
pg_read_state (pgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], const char *name,
               uint64_t *read_seq, uint64_t *unread)
{
    assert (self && id && name);
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    pgconn_params_t params = { 0 };
    pgconn_param_bytes (&params, id, MSGSTORE_ID_SIZE);
    pgconn_param_text (&params, lower);
    //  Only what the member may read: after its joining
    PGresult *res = pgconn_run (self->conn,
        "WITH mark AS (SELECT coalesce ((SELECT read_seq FROM read_marks"
        "  WHERE conversation_id = $1 AND name_lower = $2), 0) AS read_seq)"
        " SELECT mark.read_seq, (SELECT count(*) FROM messages WHERE conversation_id = $1"
        "  AND seq > mark.read_seq AND lower (sender) <> $2"
        "  AND seq > coalesce ((SELECT joined_seq FROM members"
        "   WHERE conversation_id = $1 AND name_lower = $2), 0)) FROM mark",
        &params, PGRES_TUPLES_OK, "read marker");
    if (!res)
        return CHAT_ERR_INTERNAL;
    int rc = PQntuples (res) == 1? CHAT_OK: pgconn_fail (self->conn, "read marker", res);
    if (rc == CHAT_OK) {
        *read_seq = (uint64_t) pgconn_int (res, 0, 0);
        *unread = (uint64_t) pgconn_int (res, 0, 1);
    }
    PQclear (res);
    return rc;
}

static int
pg_read_set (pgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE], const char *name,
             uint64_t read_seq, bool *moved)
{
    assert (self && id && name);
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    pgconn_params_t params = { 0 };
    pgconn_param_bytes (&params, id, MSGSTORE_ID_SIZE);
    pgconn_param_text (&params, lower);
    pgconn_param_int (&params, read_seq > INT64_MAX? INT64_MAX: (int64_t) read_seq);
    int64_t rows = 0;
    if (pgconn_command (self->conn,
            "INSERT INTO read_marks AS r (conversation_id, name_lower, read_seq)"
            " VALUES ($1, $2, $3) ON CONFLICT (conversation_id, name_lower)"
            " DO UPDATE SET read_seq = excluded.read_seq"
            " WHERE excluded.read_seq > r.read_seq", &params, "read marker", &rows))
        return CHAT_ERR_INTERNAL;
    if (moved)
        *moved = rows > 0;
    return CHAT_OK;
}

//  ---------------------------------------------------------------- the bus

static int
pg_notify (pgstore_t *self, const char *channel, const char *payload)
{
    assert (self && channel && payload);
    //  Outside our transactions only: pg_notify is then a transaction of
    //  its own, after the data's COMMIT (DESIGN.md section 11)
    if (pgconn_in_transaction (self->conn))
        return CHAT_ERR_INTERNAL;
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, channel);
    pgconn_param_text (&params, payload);
    PGresult *res = pgconn_run (self->conn,
            "SELECT pg_notify ($1, $2)", &params, PGRES_TUPLES_OK,
            "notify");
    if (!res)
        return CHAT_ERR_INTERNAL;
    PQclear (res);
    return CHAT_OK;
}

static int
pg_backend_pid (pgstore_t *self)
{
    assert (self);
    PGconn *conn = pgconn_handle (self->conn);
    return PQstatus (conn) == CONNECTION_OK? PQbackendPID (conn): 0;
}

//  The database's clock in unix ms: one clock for every server's heartbeat
#define SQL_NOW_MS "(extract (epoch FROM clock_timestamp ()) * 1000)::int8"

static int
pg_server_beat (pgstore_t *self, const msgstore_server_t *server)
{
    assert (self && server);
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, server->id);
    pgconn_param_text (&params, server->client_endpoint);
    pgconn_param_text (&params, server->push_endpoint);
    pgconn_param_int (&params, server->started_at);
    pgconn_param_int (&params, (int64_t) server->sessions);
    return pgconn_command (self->conn,
            "INSERT INTO servers (id, client_endpoint, push_endpoint,"
            " started_at, sessions, heartbeat) VALUES ($1, $2, $3, $4, $5, "
            SQL_NOW_MS ") ON CONFLICT (id) DO UPDATE SET"
            " client_endpoint = excluded.client_endpoint,"
            " push_endpoint = excluded.push_endpoint,"
            " started_at = excluded.started_at, sessions = excluded.sessions,"
            " heartbeat = excluded.heartbeat", &params, "server heartbeat", NULL);
}

static int
pg_server_remove (pgstore_t *self, const char *id)
{
    assert (self && id);
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, id);
    return pgconn_command (self->conn,
            "DELETE FROM servers WHERE id = $1", &params, "server remove",
            NULL);
}

static int
pg_server_each (pgstore_t *self, msgstore_server_fn *fn, void *arg)
{
    assert (self && fn);
    PGresult *res = pgconn_run (self->conn,
            "SELECT id, client_endpoint, push_endpoint, started_at,"
            " sessions, " SQL_NOW_MS " - heartbeat FROM servers ORDER BY id",
            NULL, PGRES_TUPLES_OK, "servers");
    if (!res)
        return CHAT_ERR_INTERNAL;
    for (int row = 0; row < PQntuples (res); row++) {
        msgstore_server_t server = { 0 };
        snprintf (server.id, sizeof server.id, "%s", pgconn_text (res, row, 0));
        snprintf (server.client_endpoint, sizeof server.client_endpoint, "%s",
                  pgconn_text (res, row, 1));
        snprintf (server.push_endpoint, sizeof server.push_endpoint, "%s",
                  pgconn_text (res, row, 2));
        server.started_at = pgconn_int (res, row, 3);
        server.sessions = (uint64_t) pgconn_int (res, row, 4);
        server.heartbeat_age_ms = pgconn_int (res, row, 5);
        if (fn (&server, arg))
            break;
    }
    PQclear (res);
    return CHAT_OK;
}

const msgstore_backend_t msgstore_pg_backend = {
    .name = "postgresql",
    .open = pg_open,
    .destroy = pg_destroy,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .savepoint_release = pg_savepoint_release,
    .savepoint_rollback = pg_savepoint_rollback,
    .user_add = pg_user_add,
    .user_get = pg_user_get,
    .user_each = pg_user_each,
    .conv_create = pg_conv_create,
    .conv_append = pg_conv_append,
    .conv_find_direct = pg_conv_find_direct,
    .conv_get = pg_conv_get,
    .conv_get_as_member = pg_conv_get_as_member,
    .conv_members = pg_conv_members,
    .member_accept = pg_member_accept,
    .conv_each_of = pg_conv_each_of,
    .conv_page_of = pg_conv_page_of,
    .conv_each = pg_conv_each,
    .link_each = pg_link_each,
    .msg_add = pg_msg_add,
    .msg_add_batch = pg_msg_add_batch,
    .msg_each = pg_msg_each,
    .msg_last_token = pg_msg_last_token,
    .read_state = pg_read_state,
    .read_set = pg_read_set,
    .notify = pg_notify,
    .backend_pid = pg_backend_pid,
    .server_beat = pg_server_beat,
    .server_remove = pg_server_remove,
    .server_each = pg_server_each,
};
