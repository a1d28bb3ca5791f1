/*  pgconn - a server store's connection to its PostgreSQL database; see
    pgconn.h

    Statements go by PQexecParams with results in binary (integers cast
    to bigint by the SQL: 8 bytes, network order); migration scripts of
    several statements by PQexec (the simple protocol takes no
    parameters). Every log line starts with the store's log_name.
*/
#include <string.h>
#include <czmq.h>
#include "chaterror.h"
#include "pgconn.h"
#include "secret.h"

struct _pgconn_t {
    PGconn *conn;
    char *url;                      //  to connect again after a failure
    const pgconn_store_t *store;
    bool in_transaction;            //  between our BEGIN and its end
};

//  --------------------------------------------------------------- parameters

void
pgconn_param_text (pgconn_params_t *params, const char *text)
{
    assert (params && params->count < PGCONN_PARAMS_MAX);
    params->values [params->count] = text;
    params->lengths [params->count] = 0;
    params->formats [params->count++] = 0;
}

void
pgconn_param_bytes (pgconn_params_t *params, const void *data, size_t len)
{
    assert (params && params->count < PGCONN_PARAMS_MAX);
    assert (len <= INT32_MAX);
    //  A zero-length binary value must still point somewhere: NULL is SQL NULL
    params->values [params->count] = len? (const char *) data: "";
    params->lengths [params->count] = (int) len;
    params->formats [params->count++] = 1;
}

void
pgconn_param_int (pgconn_params_t *params, int64_t value)
{
    assert (params && params->count < PGCONN_PARAMS_MAX);
    snprintf (params->numbers [params->count], sizeof params->numbers [0], "%lld",
              (long long) value);
    pgconn_param_text (params, params->numbers [params->count]);
}

void
pgconn_param_null (pgconn_params_t *params)
{
    pgconn_param_text (params, NULL);
}

//  ------------------------------------------------------------------ results

int64_t
pgconn_int (const PGresult *res, int row, int column)
{
    if (PQgetisnull (res, row, column) || PQgetlength (res, row, column) != 8)
        return 0;
    const uint8_t *bytes = (const uint8_t *) PQgetvalue (res, row, column);
    uint64_t value = 0;
    for (int index = 0; index < 8; index++)
        value = (value << 8) | bytes [index];
    return (int64_t) value;
}

const char *
pgconn_text (const PGresult *res, int row, int column)
{
    return PQgetisnull (res, row, column)? NULL: PQgetvalue (res, row, column);
}

bool
pgconn_committed (const PGresult *res)
{
    return res && PQresultStatus (res) == PGRES_COMMAND_OK
        && streq (PQcmdStatus ((PGresult *) res), "COMMIT");
}

//  --------------------------------------------------------------- connection

//  NOTICEs (a table already there, ...) are the server talking, not us
static void
s_notice (void *arg, const char *message)
{
    const pgconn_store_t *store = (const pgconn_store_t *) arg;
    zsys_debug ("%s: postgresql: %s", store->log_name, message);
}

//  Connect, with the settings every session of ours runs under: commits
//  wait for the WAL flush (whatever the role or database says), and only
//  warnings come back as notices. With a connect_timeout, a server that
//  does not answer is given up after it unless the URL says otherwise
//  (the URL's keywords override the ones before it, not the ones after).
static PGconn *
s_connect (const char *url, const pgconn_store_t *store)
{
    char timeout [16];
    snprintf (timeout, sizeof timeout, "%d", store->connect_timeout);
    const char *keywords [] = {
        "connect_timeout", "dbname", "options", "application_name", NULL
    };
    const char *values [] = {
        timeout, url, "-c synchronous_commit=on -c client_min_messages=warning",
        store->application_name, NULL
    };
    //  Without a timeout, libpq's default (none) as if never named
    int skip = store->connect_timeout > 0? 0: 1;
    PGconn *conn = PQconnectdbParams (keywords + skip, values + skip, 1);
    if (conn)
        PQsetNoticeProcessor (conn, s_notice, (void *) store);
    return conn;
}

int
pgconn_fail (pgconn_t *self, const char *what, const PGresult *res)
{
    assert (self && what);
    const char *message = res? PQresultErrorMessage (res): "";
    if (!message || !*message)
        message = PQerrorMessage (self->conn);
    zsys_error ("%s: postgresql: %s: %s", self->store->log_name, what, message);
    return CHAT_ERR_INTERNAL;
}

int
pgconn_ready (pgconn_t *self)
{
    assert (self);
    if (PQstatus (self->conn) == CONNECTION_OK || self->in_transaction)
        return CHAT_OK;
    zsys_warning ("%s: postgresql: connection lost, connecting again",
                  self->store->log_name);
    pgconn_reset (self);
    if (PQstatus (self->conn) != CONNECTION_OK)
        return pgconn_fail (self, "connect", NULL);
    return CHAT_OK;
}

void
pgconn_reset (pgconn_t *self)
{
    assert (self);
    PQfinish (self->conn);
    self->conn = s_connect (self->url, self->store);
    self->in_transaction = false;
}

PGresult *
pgconn_run (pgconn_t *self, const char *sql, const pgconn_params_t *params,
            ExecStatusType want, const char *what)
{
    assert (self && sql && what);
    if (pgconn_ready (self))
        return NULL;
    PGresult *res = PQexecParams (self->conn, sql, params? params->count: 0, NULL,
                                  params? params->values: NULL,
                                  params? params->lengths: NULL,
                                  params? params->formats: NULL, 1);
    if (PQresultStatus (res) != want) {
        pgconn_fail (self, what, res);
        PQclear (res);
        return NULL;
    }
    return res;
}

int
pgconn_command (pgconn_t *self, const char *sql, const pgconn_params_t *params,
                const char *what, int64_t *rows)
{
    PGresult *res = pgconn_run (self, sql, params, PGRES_COMMAND_OK, what);
    if (!res)
        return CHAT_ERR_INTERNAL;
    if (rows)
        *rows = atoll (PQcmdTuples (res));
    PQclear (res);
    return CHAT_OK;
}

PGconn *
pgconn_handle (pgconn_t *self)
{
    assert (self);
    return self->conn;
}

//  ------------------------------------------------------------- transactions

int
pgconn_begin (pgconn_t *self)
{
    assert (self);
    if (pgconn_command (self, "BEGIN", NULL, "begin", NULL))
        return CHAT_ERR_INTERNAL;
    self->in_transaction = true;
    return CHAT_OK;
}

void
pgconn_abandon (pgconn_t *self)
{
    assert (self);
    if (PQstatus (self->conn) == CONNECTION_OK
    &&  PQtransactionStatus (self->conn) != PQTRANS_IDLE)
        pgconn_command (self, "ROLLBACK", NULL, "rollback", NULL);
    self->in_transaction = false;
}

int
pgconn_commit (pgconn_t *self)
{
    assert (self);
    //  Still inside while COMMIT runs: a broken connection must fail it,
    //  not be made again under it
    PGresult *res = pgconn_run (self, "COMMIT", NULL, PGRES_COMMAND_OK, "commit");
    bool committed = pgconn_committed (res);
    if (res && !committed)
        zsys_error ("%s: postgresql: commit: the transaction had failed, "
                    "it was rolled back", self->store->log_name);
    PQclear (res);
    pgconn_abandon (self);
    return committed? CHAT_OK: CHAT_ERR_INTERNAL;
}

bool
pgconn_in_transaction (pgconn_t *self)
{
    assert (self);
    return self->in_transaction;
}

//  ------------------------------------------------------------------- schema

//  The schema version the database holds (0: none), in the transaction
//  that holds the migration lock; -1 on failure
static int64_t
s_schema_version (pgconn_t *self)
{
    const pgconn_store_t *store = self->store;
    pgconn_params_t params = { 0 };
    pgconn_param_int (&params, store->lock_key);
    PGresult *res = pgconn_run (self, "SELECT pg_advisory_xact_lock ($1::int8)", &params,
                                PGRES_TUPLES_OK, "schema lock");
    if (!res)
        return -1;
    PQclear (res);
    char *sql = zsys_sprintf ("CREATE TABLE IF NOT EXISTS %s (version integer NOT NULL)",
                              store->version_table);
    assert (sql);
    int rc = pgconn_command (self, sql, NULL, store->version_table, NULL);
    zstr_free (&sql);
    if (rc)
        return -1;
    sql = zsys_sprintf ("SELECT max (version)::int8 FROM %s", store->version_table);
    assert (sql);
    res = pgconn_run (self, sql, NULL, PGRES_TUPLES_OK, "schema version");
    zstr_free (&sql);
    if (!res)
        return -1;
    int64_t version = pgconn_int (res, 0, 0);
    PQclear (res);
    return version;
}

//  Run migration step (a script of several statements: the simple
//  protocol) and record the version it makes
static int
s_migrate_step (pgconn_t *self, int step)
{
    const pgconn_store_t *store = self->store;
    PGresult *res = PQexec (self->conn, store->migrations [step]);
    int rc = PQresultStatus (res) == PGRES_COMMAND_OK
           ? CHAT_OK: pgconn_fail (self, "schema", res);
    PQclear (res);
    if (rc)
        return rc;
    pgconn_params_t params = { 0 };
    pgconn_param_int (&params, store->schema_base + step);
    char *delete = zsys_sprintf ("DELETE FROM %s", store->version_table);
    char *insert = zsys_sprintf ("INSERT INTO %s (version) VALUES ($1)",
                                 store->version_table);
    assert (delete && insert);
    rc = pgconn_command (self, delete, NULL, "schema version", NULL)
      || pgconn_command (self, insert, &params, "schema version", NULL)
       ? CHAT_ERR_INTERNAL: CHAT_OK;
    zstr_free (&delete);
    zstr_free (&insert);
    if (rc == CHAT_OK)
        zsys_info ("%s: postgresql database %s now at %s version %d", store->log_name,
                   PQdb (self->conn), store->schema_label, store->schema_base + step);
    return rc;
}

//  Bring the schema to the store's last version, one transaction, under
//  an advisory lock: servers starting together on one database migrate it
//  once. A version this program does not know is refused, never guessed at.
static int
s_migrate (pgconn_t *self)
{
    const pgconn_store_t *store = self->store;
    int count = 0;
    while (store->migrations [count])
        count++;
    int last = store->schema_base + count - 1;
    if (pgconn_begin (self))
        return CHAT_ERR_INTERNAL;
    int64_t version = s_schema_version (self);
    if (version < 0)
        goto failed;
    if (version > last || (version > 0 && version < store->schema_base)) {
        zsys_error ("%s: postgresql database %s has %s version %lld, this program knows "
                    "%d to %d: refusing it (never guessed at)", store->log_name,
                    PQdb (self->conn), store->schema_label, (long long) version,
                    store->schema_base, last);
        goto failed;
    }
    for (int step = version == 0? 0: (int) version - store->schema_base + 1;
         step < count; step++)
        if (s_migrate_step (self, step))
            goto failed;
    return pgconn_commit (self);
failed:
    pgconn_abandon (self);
    return CHAT_ERR_INTERNAL;
}

//  A store that says it keeps what it acknowledged must be one that does
static int
s_check_durable (pgconn_t *self)
{
    PGresult *res = pgconn_run (self, "SELECT current_setting ('fsync'),"
                                " current_setting ('synchronous_commit')", NULL,
                                PGRES_TUPLES_OK, "settings");
    if (!res)
        return CHAT_ERR_INTERNAL;
    const char *fsync = PQntuples (res) == 1? pgconn_text (res, 0, 0): NULL;
    const char *commit = PQntuples (res) == 1? pgconn_text (res, 0, 1): NULL;
    bool durable = fsync && streq (fsync, "on") && commit && streq (commit, "on");
    if (!durable)
        zsys_error ("%s: postgresql database %s runs with fsync=%s "
                    "synchronous_commit=%s: a commit would not be on disk when it is "
                    "acknowledged; refusing it", self->store->log_name, PQdb (self->conn),
                    fsync? fsync: "?", commit? commit: "?");
    PQclear (res);
    return durable? CHAT_OK: CHAT_ERR_INTERNAL;
}

pgconn_t *
pgconn_new (const char *url, const pgconn_store_t *store)
{
    assert (url && store && store->log_name && store->application_name);
    assert (store->version_table && store->schema_label && store->migrations);
    assert (store->migrations [0]);
    //  libpq's reason for a URL it cannot read may quote a piece of it (a
    //  password with a bad %-escape): not shown
    char *error = NULL;
    PQconninfoOption *parsed = PQconninfoParse (url, &error);
    if (!parsed) {
        zsys_error ("%s: the postgresql URL of the store cannot be read (libpq's "
                    "reason is not shown: it may quote the URL, password included)",
                    store->log_name);
        if (error)
            PQfreemem (error);
        return NULL;
    }
    PQconninfoFree (parsed);
    pgconn_t *self = (pgconn_t *) zmalloc (sizeof (pgconn_t));
    assert (self);
    self->store = store;
    self->url = strdup (url);
    assert (self->url);
    self->conn = s_connect (url, store);
    //  Never the URL in the log: it may hold a password
    if (PQstatus (self->conn) != CONNECTION_OK) {
        zsys_error ("%s: cannot connect to postgresql: %s", store->log_name,
                    self->conn? PQerrorMessage (self->conn): "out of memory");
        pgconn_destroy (&self);
        return NULL;
    }
    if (s_check_durable (self) || s_migrate (self)) {
        pgconn_destroy (&self);
        return NULL;
    }
    return self;
}

void
pgconn_destroy (pgconn_t **self_p)
{
    assert (self_p);
    pgconn_t *self = *self_p;
    if (self) {
        if (self->conn)
            PQfinish (self->conn);      //  an open transaction is rolled back
        if (self->url) {
            //  It may hold a password
            secret_wipe (self->url, strlen (self->url));
            zstr_free (&self->url);
        }
        free (self);
        *self_p = NULL;
    }
}
