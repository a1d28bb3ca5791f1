/*  keystore_pg - the key server's users and wrapped epoch keys on
    PostgreSQL; see keystore_pg.h and, for what each call does, keystore.h

    The tables are SQLite's (keystore_sqlite.c) named ks_* and typed for
    PostgreSQL: bytea for blobs, bigint for integers, text in the "C"
    collation. Names are unique by their folded spelling (name_lower, the
    key), as SQLite's NOCASE makes them; the spelling given is kept. Every
    write is one statement, so it is whole by itself: a user by INSERT ...
    ON CONFLICT DO NOTHING (a name taken never aborts the transaction), a
    password change by one UPDATE of verifiers and sealed identity
    together, a set of wrapped keys by the function ks_keys_put. Blobs go
    as binary parameters, results come back in binary (integers cast to
    bigint: 8 bytes, network order).
*/
#include <arpa/inet.h>
#include <string.h>
#include <czmq.h>
#include "chaterror.h"
#include "credential.h"
#include "keystore_pg.h"
#include "keystore_rules.h"
#include "pgconn.h"
#include "secret.h"

typedef keystore_db_t pgstore_t;

//  The advisory lock every key server takes to migrate the schema
#define PG_SCHEMA_LOCK 7202618

//  The schema, version by version: entry N takes ks_schema_version from
//  the one before (0: none) to PG_SCHEMA_BASE + N. The first entry is
//  SQLite's schema 2 whole (there is no older PostgreSQL store). When
//  SQLite's schema moves, add an entry here too. Never edit a released one.
#define PG_SCHEMA_BASE KEYSTORE_SCHEMA_VERSION
static const char *const s_migrations [] = {
    //  0 -> 2: users, key sets, wrapped keys, and the function that
    //  stores a set
    "CREATE TABLE ks_users ("
    "  name_lower text COLLATE \"C\" PRIMARY KEY,"
    "  username text COLLATE \"C\" NOT NULL,"
    "  salt bytea NOT NULL,"
    "  iterations bigint NOT NULL,"
    "  stored_key bytea NOT NULL,"
    "  server_key bytea NOT NULL,"
    "  identity_public_key bytea NOT NULL,"
    "  sealed_identity bytea NOT NULL,"
    "  created_at bigint NOT NULL,"
    "  made bigint GENERATED ALWAYS AS IDENTITY UNIQUE);"       //  creation order
    "CREATE TABLE ks_key_sets ("
    "  conversation_id bytea NOT NULL CHECK (length (conversation_id) = 16),"
    "  epoch bigint NOT NULL CHECK (epoch >= 1),"
    "  uploader text COLLATE \"C\" NOT NULL,"
    "  set_hash bytea NOT NULL,"
    "  stored_at bigint NOT NULL,"
    "  PRIMARY KEY (conversation_id, epoch));"
    "CREATE TABLE ks_wrapped_keys ("
    "  member_lower text COLLATE \"C\" NOT NULL,"
    "  conversation_id bytea NOT NULL,"
    "  epoch bigint NOT NULL,"
    "  wrapped_key bytea NOT NULL,"
    "  PRIMARY KEY (member_lower, conversation_id, epoch),"
    "  FOREIGN KEY (conversation_id, epoch)"
    "    REFERENCES ks_key_sets (conversation_id, epoch));"
    //  One row: the mark of the secret the cluster's key servers share
    "CREATE TABLE ks_cluster ("
    "  one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    "  secret_mark bytea NOT NULL CHECK (length (secret_mark) = 32));"
    //  The first set of an epoch, with its copies: stored whole, or, when
    //  a set is there (committed by anyone, this server or another: the
    //  insert waits for a racing one's commit), that set's uploader and
    //  hash for the caller to tell a retry from another set
    "CREATE FUNCTION ks_keys_put (p_id bytea, p_epoch bigint, p_uploader text,"
    "  p_hash bytea, p_now bigint, p_members text[], p_wrapped bytea[],"
    "  OUT o_stored boolean, OUT o_uploader text, OUT o_hash bytea)"
    "  LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    "  INSERT INTO ks_key_sets (conversation_id, epoch, uploader, set_hash, stored_at)\n"
    "    VALUES (p_id, p_epoch, p_uploader, p_hash, p_now)\n"
    "    ON CONFLICT (conversation_id, epoch) DO NOTHING;\n"
    "  IF FOUND THEN\n"
    "    INSERT INTO ks_wrapped_keys (member_lower, conversation_id, epoch, wrapped_key)\n"
    "      SELECT k.m, p_id, p_epoch, k.w FROM unnest (p_members, p_wrapped) AS k (m, w);\n"
    "    o_stored := true;\n"
    "    RETURN;\n"
    "  END IF;\n"
    "  SELECT s.uploader, s.set_hash INTO o_uploader, o_hash FROM ks_key_sets s\n"
    "    WHERE s.conversation_id = p_id AND s.epoch = p_epoch;\n"
    "  o_stored := false;\n"
    "END $$;",
    NULL
};

#define USER_COLUMNS \
    "username, salt, iterations, stored_key, server_key, identity_public_key, created_at"

struct _keystore_db_t {
    pgconn_t *conn;
    int depth;                  //  nesting of begin
    int savepoints;             //  savepoints open
    bool implicit;              //  a savepoint outside begin opened the transaction
};

//  ---------------------------------------------------------------- arrays

//  The type ids of array_recv's element header (pg_type.h, fixed forever)
#define PG_BYTEA_OID 17
#define PG_TEXT_OID  25

static void
s_put32 (zchunk_t *chunk, uint32_t value)
{
    uint32_t net = htonl (value);
    zchunk_extend (chunk, &net, sizeof net);
}

//  A one-dimensional array of count elements of type oid in PostgreSQL's
//  binary form (ndim, no nulls, element type, size, lower bound 1, then
//  each element as length and bytes); item (i, &len) gives element i
typedef const void *(array_item_fn) (const keystore_wrapped_t *keys, size_t index,
                                     size_t *len, char lower [USERNAME_MAX + 1]);

static zchunk_t *
s_array (uint32_t oid, const keystore_wrapped_t *keys, size_t count, array_item_fn *item)
{
    zchunk_t *chunk = zchunk_new (NULL, 20 + count * (4 + KEYSTORE_WRAPPED_MAX));
    assert (chunk);
    s_put32 (chunk, 1);
    s_put32 (chunk, 0);
    s_put32 (chunk, oid);
    s_put32 (chunk, (uint32_t) count);
    s_put32 (chunk, 1);
    for (size_t index = 0; index < count; index++) {
        char lower [USERNAME_MAX + 1];
        size_t len = 0;
        const void *data = item (keys, index, &len, lower);
        s_put32 (chunk, (uint32_t) len);
        zchunk_extend (chunk, data, len);
    }
    return chunk;
}

static const void *
s_member_item (const keystore_wrapped_t *keys, size_t index, size_t *len,
               char lower [USERNAME_MAX + 1])
{
    credential_username_fold (keys [index].username, lower, USERNAME_MAX + 1);
    *len = strlen (lower);
    return lower;
}

static const void *
s_wrapped_item (const keystore_wrapped_t *keys, size_t index, size_t *len,
                char lower [USERNAME_MAX + 1])
{
    (void) lower;
    *len = keys [index].wrapped_len;
    return keys [index].wrapped;
}

//  ---------------------------------------------------------------- connection

static const pgconn_store_t s_store = {
    .log_name = "keystore",
    .application_name = "chat-keyserver",
    //  A server that does not answer is given up after 10 s (the actor
    //  waits meanwhile) unless the URL says otherwise
    .connect_timeout = 10,
    .version_table = "ks_schema_version",
    .schema_label = "key store schema",
    .lock_key = PG_SCHEMA_LOCK,
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

//  End a transaction that went wrong: nothing of it may ever be written
static void
s_abandon (pgstore_t *self)
{
    pgconn_abandon (self->conn);
    self->depth = 0;
    self->savepoints = 0;
    self->implicit = false;
}

//  COMMIT, a success only when PostgreSQL answers COMMIT; the transaction
//  ends either way (pgconn_commit ended it; s_abandon forgets our nesting)
static int
s_commit (pgstore_t *self)
{
    int rc = pgconn_commit (self->conn);
    s_abandon (self);
    return rc;
}

static int
pg_begin (pgstore_t *self)
{
    assert (self);
    if (self->depth == 0) {
        if (self->savepoints > 0)
            return CHAT_ERR_INTERNAL;   //  a savepoint's own transaction is open
        int rc = pgconn_begin (self->conn);
        //  The connection broke while idle (libpq learns it only now): once
        //  more, on a new one; nothing was done, so nothing is repeated
        if (rc && PQstatus (pgconn_handle (self->conn)) != CONNECTION_OK)
            rc = pgconn_begin (self->conn);
        if (rc)
            return CHAT_ERR_INTERNAL;
    }
    self->depth++;
    return CHAT_OK;
}

static int
pg_commit (pgstore_t *self)
{
    assert (self);
    if (self->depth == 0)
        return CHAT_ERR_INTERNAL;       //  an inner rollback ended it already
    if (self->depth > 1) {
        self->depth--;
        return CHAT_OK;
    }
    //  Still inside while COMMIT runs: a broken connection must fail it,
    //  not be made again under it (s_commit ends the transaction)
    return s_commit (self);
}

static void
pg_rollback (pgstore_t *self)
{
    assert (self);
    //  An inner rollback dooms the whole transaction
    if (self->depth > 0)
        s_abandon (self);
}

static void
pg_savepoint_rollback (pgstore_t *self)
{
    assert (self);
    if (self->savepoints == 0)
        return;
    self->savepoints--;
    //  ROLLBACK TO keeps the savepoint open; RELEASE then drops it, empty
    PGTransactionStatusType status = PQtransactionStatus (pgconn_handle (self->conn));
    if (status == PQTRANS_INTRANS || status == PQTRANS_INERROR) {
        pgconn_command (self->conn, "ROLLBACK TO sp", NULL, "savepoint rollback", NULL);
        pgconn_command (self->conn, "RELEASE sp", NULL, "savepoint release", NULL);
    }
    if (self->savepoints == 0 && self->implicit)
        s_abandon (self);
}

static int
pg_savepoint (pgstore_t *self)
{
    assert (self);
    //  Inside begin, the transaction must still be there and sound: were
    //  it gone, this request's writes would land outside the batch
    if (self->depth > 0
    &&  PQtransactionStatus (pgconn_handle (self->conn)) != PQTRANS_INTRANS)
        return CHAT_ERR_INTERNAL;
    //  Outside begin, the outermost savepoint is a transaction of its own
    //  (PostgreSQL has no savepoint outside one), committed at its release
    if (!pgconn_in_transaction (self->conn)) {
        if (pgconn_begin (self->conn))
            return CHAT_ERR_INTERNAL;
        self->implicit = true;
    }
    if (pgconn_command (self->conn, "SAVEPOINT sp", NULL, "savepoint", NULL)) {
        if (self->savepoints == 0 && self->implicit)
            s_abandon (self);
        return CHAT_ERR_INTERNAL;
    }
    self->savepoints++;
    return CHAT_OK;
}

static int
pg_release (pgstore_t *self)
{
    assert (self);
    if (self->savepoints == 0)
        return CHAT_ERR_INTERNAL;
    if (pgconn_command (self->conn, "RELEASE sp", NULL, "savepoint release", NULL)) {
        pg_savepoint_rollback (self);
        return CHAT_ERR_INTERNAL;
    }
    self->savepoints--;
    if (self->savepoints == 0 && self->implicit)
        return s_commit (self);
    return CHAT_OK;
}

//  ---------------------------------------------------------------- users

//  The name as the key holds it; false for a name no user can have
static bool
s_fold (const char *name, char lower [USERNAME_MAX + 1])
{
    if (!credential_username_valid (name))
        return false;
    credential_username_fold (name, lower, USERNAME_MAX + 1);
    return true;
}

static int
pg_user_insert (pgstore_t *self, const keystore_user_t *user,
                const uint8_t *sealed, size_t sealed_len)
{
    assert (self && user);
    char lower [USERNAME_MAX + 1];
    if (!s_fold (user->username, lower))
        return CHAT_ERR_BAD_REQUEST;
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, lower);
    pgconn_param_text (&params, user->username);
    pgconn_param_bytes (&params, user->salt, user->salt_len);
    pgconn_param_int (&params, user->iterations);
    pgconn_param_bytes (&params, user->stored_key, SCRAM_KEY_SIZE);
    pgconn_param_bytes (&params, user->server_key, SCRAM_KEY_SIZE);
    pgconn_param_bytes (&params, user->identity, user->identity_len);
    pgconn_param_bytes (&params, sealed, sealed_len);
    pgconn_param_int (&params, user->created_at);
    int64_t rows = 0;
    //  A name taken (or being taken by another server, whose commit this
    //  waits for) inserts nothing, and aborts nothing
    if (pgconn_command (self->conn,
            "INSERT INTO ks_users (name_lower, username, salt, iterations,"
            " stored_key, server_key, identity_public_key, sealed_identity,"
            " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            " ON CONFLICT (name_lower) DO NOTHING", &params, "insert user", &rows))
        return CHAT_ERR_INTERNAL;
    return rows == 1? CHAT_OK: CHAT_ERR_USERNAME_TAKEN;
}

//  Read one row of USER_COLUMNS into *user; -1 for a row we did not write
static int
s_user_row (const PGresult *res, int row, keystore_user_t *user)
{
    memset (user, 0, sizeof *user);
    const char *name = pgconn_text (res, row, 0);
    int salt_len = PQgetlength (res, row, 1);
    int64_t iterations = pgconn_int (res, row, 2);
    int identity_len = PQgetlength (res, row, 5);
    if (!name || strlen (name) > USERNAME_MAX
    ||  PQgetisnull (res, row, 1) || salt_len < KEYSTORE_SALT_MIN
    ||  salt_len > KEYSTORE_SALT_MAX
    ||  iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS
    ||  PQgetisnull (res, row, 3) || PQgetlength (res, row, 3) != SCRAM_KEY_SIZE
    ||  PQgetisnull (res, row, 4) || PQgetlength (res, row, 4) != SCRAM_KEY_SIZE
    ||  PQgetisnull (res, row, 5) || identity_len <= 0
    ||  identity_len > KEYSTORE_IDENTITY_MAX)
        return -1;
    strcpy (user->username, name);
    memcpy (user->salt, PQgetvalue (res, row, 1), (size_t) salt_len);
    user->salt_len = (size_t) salt_len;
    user->iterations = (uint32_t) iterations;
    memcpy (user->stored_key, PQgetvalue (res, row, 3), SCRAM_KEY_SIZE);
    memcpy (user->server_key, PQgetvalue (res, row, 4), SCRAM_KEY_SIZE);
    memcpy (user->identity, PQgetvalue (res, row, 5), (size_t) identity_len);
    user->identity_len = (size_t) identity_len;
    user->created_at = pgconn_int (res, row, 6);
    return 0;
}

static int
pg_user_lookup (pgstore_t *self, const char *username, keystore_user_t *user)
{
    assert (self && username && user);
    char lower [USERNAME_MAX + 1];
    if (!s_fold (username, lower))
        return CHAT_ERR_NOT_FOUND;
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, lower);
    PGresult *res = pgconn_run (self->conn, "SELECT " USER_COLUMNS
                                " FROM ks_users WHERE name_lower = $1", &params,
                                PGRES_TUPLES_OK, "lookup user");
    if (!res)
        return CHAT_ERR_INTERNAL;
    int rc = PQntuples (res) == 0? CHAT_ERR_NOT_FOUND
           : s_user_row (res, 0, user) == 0? CHAT_OK: CHAT_ERR_INTERNAL;
    PQclear (res);
    return rc;
}

static int
pg_user_sealed (pgstore_t *self, const char *username, uint8_t **sealed, size_t *sealed_len)
{
    assert (self && username && sealed && sealed_len);
    char lower [USERNAME_MAX + 1];
    if (!s_fold (username, lower))
        return CHAT_ERR_NOT_FOUND;
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, lower);
    PGresult *res = pgconn_run (self->conn,
            "SELECT sealed_identity FROM ks_users WHERE name_lower = $1",
            &params, PGRES_TUPLES_OK, "read sealed identity");
    if (!res)
        return CHAT_ERR_INTERNAL;
    int rc = CHAT_ERR_NOT_FOUND;
    if (PQntuples (res) > 0) {
        rc = CHAT_ERR_INTERNAL;
        const uint8_t *blob = PQgetisnull (res, 0, 0)
                            ? NULL: (const uint8_t *) PQgetvalue (res, 0, 0);
        size_t len = (size_t) PQgetlength (res, 0, 0);
        if (blob && keystore_rules_sealed_valid (blob, len)) {
            *sealed = (uint8_t *) malloc (len + 1);
            if (*sealed) {
                memcpy (*sealed, blob, len);
                (*sealed) [len] = 0;
                *sealed_len = len;
                rc = CHAT_OK;
            }
        }
    }
    PQclear (res);
    return rc;
}

static int
pg_user_update_password (pgstore_t *self, const keystore_user_t *user,
                         const uint8_t *sealed, size_t sealed_len)
{
    assert (self && user);
    char lower [USERNAME_MAX + 1];
    if (!s_fold (user->username, lower))
        return CHAT_ERR_NOT_FOUND;
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, lower);
    pgconn_param_bytes (&params, user->salt, user->salt_len);
    pgconn_param_int (&params, user->iterations);
    pgconn_param_bytes (&params, user->stored_key, SCRAM_KEY_SIZE);
    pgconn_param_bytes (&params, user->server_key, SCRAM_KEY_SIZE);
    pgconn_param_bytes (&params, sealed, sealed_len);
    int64_t rows = 0;
    //  One statement: verifiers and sealed identity change together or not
    if (pgconn_command (self->conn,
            "UPDATE ks_users SET salt = $2, iterations = $3, stored_key = $4,"
            " server_key = $5, sealed_identity = $6 WHERE name_lower = $1",
            &params, "update password", &rows))
        return CHAT_ERR_INTERNAL;
    return rows == 1? CHAT_OK: CHAT_ERR_NOT_FOUND;
}

static int
pg_user_each (pgstore_t *self, size_t limit, keystore_user_fn *fn, void *arg)
{
    assert (self && fn);
    pgconn_params_t params = { 0 };
    if (limit > 0)
        pgconn_param_int (&params, limit > INT64_MAX? INT64_MAX: (int64_t) limit);
    else
        pgconn_param_text (&params, NULL);   //  LIMIT NULL: all
    PGresult *res = pgconn_run (self->conn, "SELECT " USER_COLUMNS
                                " FROM ks_users ORDER BY made LIMIT $1", &params,
                                PGRES_TUPLES_OK, "list users");
    if (!res)
        return CHAT_ERR_INTERNAL;
    keystore_user_t user;
    for (int row = 0; row < PQntuples (res); row++)
        if (s_user_row (res, row, &user) == 0 && fn (&user, arg))
            break;
    secret_wipe (&user, sizeof user);
    PQclear (res);
    return CHAT_OK;
}

//  ---------------------------------------------------------------- epoch keys

static int
pg_keys_put (pgstore_t *self, const uint8_t id [CONVERSATION_ID_SIZE], uint64_t epoch,
             const char *uploader, const keystore_wrapped_t *keys, size_t count,
             const uint8_t hash [32], int64_t now_ms,
             char stored_uploader [USERNAME_MAX + 1], uint8_t stored_hash [32])
{
    assert (self && id && uploader && keys && hash);
    zchunk_t *members = s_array (PG_TEXT_OID, keys, count, s_member_item);
    zchunk_t *wrapped = s_array (PG_BYTEA_OID, keys, count, s_wrapped_item);
    pgconn_params_t params = { 0 };
    pgconn_param_bytes (&params, id, CONVERSATION_ID_SIZE);
    pgconn_param_int (&params, (int64_t) epoch);
    pgconn_param_text (&params, uploader);
    pgconn_param_bytes (&params, hash, 32);
    pgconn_param_int (&params, now_ms);
    pgconn_param_bytes (&params, zchunk_data (members), zchunk_size (members));
    pgconn_param_bytes (&params, zchunk_data (wrapped), zchunk_size (wrapped));
    PGresult *res = pgconn_run (self->conn,
            "SELECT o_stored::int4::int8, o_uploader, o_hash"
            " FROM ks_keys_put ($1, $2, $3, $4, $5, $6, $7)", &params,
            PGRES_TUPLES_OK, "store key set");
    zchunk_destroy (&members);
    zchunk_destroy (&wrapped);
    if (!res)
        return CHAT_ERR_INTERNAL;
    int rc = CHAT_ERR_INTERNAL;
    if (PQntuples (res) == 1 && pgconn_int (res, 0, 0) == 1)
        rc = CHAT_OK;
    else
    if (PQntuples (res) == 1) {
        const char *name = pgconn_text (res, 0, 1);
        if (name && strlen (name) <= USERNAME_MAX
        &&  !PQgetisnull (res, 0, 2) && PQgetlength (res, 0, 2) == 32) {
            strcpy (stored_uploader, name);
            memcpy (stored_hash, PQgetvalue (res, 0, 2), 32);
            rc = CHAT_ERR_KEY_EXISTS;
        }
    }
    if (rc == CHAT_ERR_INTERNAL)
        zsys_error ("keystore: postgresql: store key set: an answer we cannot read");
    PQclear (res);
    return rc;
}

static int
pg_keys_of (pgstore_t *self, const uint8_t id [CONVERSATION_ID_SIZE], const char *member,
            uint64_t from_epoch, size_t limit, keystore_key_fn *fn, void *arg)
{
    assert (self && id && member && fn);
    char lower [USERNAME_MAX + 1];
    if (!s_fold (member, lower))
        return CHAT_OK;             //  nobody has copies under that name
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, lower);
    pgconn_param_bytes (&params, id, CONVERSATION_ID_SIZE);
    pgconn_param_int (&params, (int64_t) from_epoch);
    pgconn_param_int (&params, limit > INT64_MAX? INT64_MAX: (int64_t) limit);
    PGresult *res = pgconn_run (self->conn,
        "SELECT w.epoch, w.wrapped_key, s.uploader FROM ks_wrapped_keys w"
        " JOIN ks_key_sets s ON s.conversation_id = w.conversation_id AND s.epoch = w.epoch"
        " WHERE w.member_lower = $1 AND w.conversation_id = $2 AND w.epoch >= $3"
        " ORDER BY w.epoch LIMIT $4", &params, PGRES_TUPLES_OK, "keys of a member");
    if (!res)
        return CHAT_ERR_INTERNAL;
    for (int row = 0; row < PQntuples (res); row++) {
        int64_t epoch = pgconn_int (res, row, 0);
        const uint8_t *wrapped = PQgetisnull (res, row, 1)
                               ? NULL: (const uint8_t *) PQgetvalue (res, row, 1);
        int len = PQgetlength (res, row, 1);
        const char *uploader = pgconn_text (res, row, 2);
        if (epoch < 1 || !wrapped || len <= 0 || !uploader)
            continue;               //  not written by us: not handed out
        if (fn ((uint64_t) epoch, wrapped, (size_t) len, uploader, arg))
            break;
    }
    PQclear (res);
    return CHAT_OK;
}

static int64_t
s_count (pgstore_t *self, const char *sql, const pgconn_params_t *params)
{
    PGresult *res = pgconn_run (self->conn, sql, params, PGRES_TUPLES_OK, "count");
    int64_t count = res && PQntuples (res) == 1? pgconn_int (res, 0, 0): -1;
    PQclear (res);
    return count;
}

static int64_t
pg_count (pgstore_t *self, keystore_count_t what)
{
    assert (self);
    switch (what) {
        case KEYSTORE_COUNT_USERS:
            return s_count (self, "SELECT count(*)::int8 FROM ks_users", NULL);
        case KEYSTORE_COUNT_KEY_SETS:
            return s_count (self, "SELECT count(*)::int8 FROM ks_key_sets", NULL);
        case KEYSTORE_COUNT_WRAPPED:
            return s_count (self, "SELECT count(*)::int8 FROM ks_wrapped_keys", NULL);
    }
    return -1;
}

static int64_t
pg_wrapped_count_of (pgstore_t *self, const char *member)
{
    assert (self && member);
    char lower [USERNAME_MAX + 1];
    if (!s_fold (member, lower))
        return 0;
    pgconn_params_t params = { 0 };
    pgconn_param_text (&params, lower);
    return s_count (self, "SELECT count(*)::int8 FROM ks_wrapped_keys"
                    " WHERE member_lower = $1", &params);
}

//  ---------------------------------------------------------------- cluster

static int
pg_cluster_mark (pgstore_t *self, const uint8_t mark [32], uint8_t stored [32])
{
    assert (self && mark && stored);
    pgconn_params_t params = { 0 };
    pgconn_param_bytes (&params, mark, 32);
    //  The first server's mark stays; every server then reads the one
    //  that stayed (its own, or a racing first server's)
    if (pgconn_command (self->conn, "INSERT INTO ks_cluster (secret_mark) VALUES ($1)"
                        " ON CONFLICT (one) DO NOTHING", &params, "cluster mark", NULL))
        return CHAT_ERR_INTERNAL;
    PGresult *res = pgconn_run (self->conn, "SELECT secret_mark FROM ks_cluster", NULL,
                                PGRES_TUPLES_OK, "cluster mark");
    if (!res)
        return CHAT_ERR_INTERNAL;
    int rc = CHAT_ERR_INTERNAL;
    if (PQntuples (res) == 1 && PQgetlength (res, 0, 0) == 32) {
        memcpy (stored, PQgetvalue (res, 0, 0), 32);
        rc = CHAT_OK;
    }
    PQclear (res);
    return rc;
}

const keystore_backend_t keystore_pg_backend = {
    .name = "postgresql",
    .open = pg_open,
    .destroy = pg_destroy,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .release = pg_release,
    .savepoint_rollback = pg_savepoint_rollback,
    .user_insert = pg_user_insert,
    .user_lookup = pg_user_lookup,
    .user_sealed = pg_user_sealed,
    .user_update_password = pg_user_update_password,
    .user_each = pg_user_each,
    .keys_put = pg_keys_put,
    .keys_of = pg_keys_of,
    .count = pg_count,
    .wrapped_count_of = pg_wrapped_count_of,
    .cluster_mark = pg_cluster_mark,
};
