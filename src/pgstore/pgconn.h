/*  pgconn - a server store's connection to its PostgreSQL database

    What the key server's store (keystore_pg) and the main server's
    (msgstore_pg) share about PostgreSQL: connecting with the settings
    every session of ours runs under (commits wait for the WAL flush), a
    database that would acknowledge unflushed commits refused, the schema
    brought to the store's last version under an advisory lock, statements
    run with their parameters (integers and names as text, blobs binary)
    and results read in binary, a connection that broke made again
    between transactions only, and COMMIT counted a success only when
    PostgreSQL answers COMMIT. Each store keeps its own SQL and state.

    Not in libchat: the client links libchat and never libpq.
*/
#ifndef PGCONN_H_INCLUDED
#define PGCONN_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <libpq-fe.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct _pgconn_t pgconn_t;

//  What a store tells pgconn about itself: all static, outliving pgconn
typedef struct {
    const char *log_name;           //  each log line's prefix ("keystore")
    const char *application_name;   //  the session's, as pg_stat_activity shows it
    int connect_timeout;            //  seconds to give up connecting; 0: never
    //  The schema: migrations [N] takes version_table's version from the
    //  one before (0: none) to schema_base + N; NULL ends the list
    const char *version_table;
    const char *schema_label;       //  "schema" in "has schema version N"
    int64_t lock_key;               //  the advisory lock held to migrate
    int schema_base;
    const char *const *migrations;  //  each a script (several statements)
} pgconn_store_t;

//  --------------------------------------------------------------- parameters

#define PGCONN_PARAMS_MAX 16

//  One statement's parameters, as PQexecParams takes them; start from
//  { 0 }. A number's text lives in the struct, everything else must
//  outlive the statement.
typedef struct {
    int count;
    const char *values [PGCONN_PARAMS_MAX];
    int lengths [PGCONN_PARAMS_MAX];
    int formats [PGCONN_PARAMS_MAX];
    char numbers [PGCONN_PARAMS_MAX][24];
} pgconn_params_t;

//  A text parameter (NULL: SQL NULL)
void
    pgconn_param_text (pgconn_params_t *params, const char *text);

//  A binary parameter of len bytes (len 0: an empty value, never NULL)
void
    pgconn_param_bytes (pgconn_params_t *params, const void *data, size_t len);

//  An integer parameter (as its decimal text)
void
    pgconn_param_int (pgconn_params_t *params, int64_t value);

//  SQL NULL
void
    pgconn_param_null (pgconn_params_t *params);

//  ------------------------------------------------------------------ results

//  A binary bigint column; 0 for NULL or a value of another size
int64_t
    pgconn_int (const PGresult *res, int row, int column);

//  A text column; NULL for NULL
const char *
    pgconn_text (const PGresult *res, int row, int column);

//  True when a COMMIT's result says the transaction committed (a
//  transaction that had failed answers ROLLBACK, not an error)
bool
    pgconn_committed (const PGresult *res);

//  --------------------------------------------------------------- connection

//  Connect to url (never logged: it may hold a password; a URL libpq
//  cannot read refused without libpq's reason, which may quote it),
//  refuse a database without fsync and synchronous_commit on, and bring
//  the schema to the store's last version. NULL, logged, on failure.
pgconn_t *
    pgconn_new (const char *url, const pgconn_store_t *store);

//  Close the connection (an open transaction is rolled back) and wipe
//  the URL
void
    pgconn_destroy (pgconn_t **self_p);

//  libpq's connection, for what pgconn does not do (a pipeline); it may
//  change at each call of pgconn
PGconn *
    pgconn_handle (pgconn_t *self);

//  Log what failed, with PostgreSQL's reason (res's, else the
//  connection's); returns CHAT_ERR_INTERNAL
int
    pgconn_fail (pgconn_t *self, const char *what, const PGresult *res);

//  Ready to run a statement: a connection that broke is made again, but
//  only outside a transaction (inside one, its statements must fail).
//  CHAT_OK or CHAT_ERR_INTERNAL
int
    pgconn_ready (pgconn_t *self);

//  Drop the connection and connect afresh (a pipeline left owing answers);
//  a failure shows at the next pgconn_ready
void
    pgconn_reset (pgconn_t *self);

//  Run a statement (params may be NULL); its result (binary) when its
//  status is want, else NULL, logged as what. PQclear the result.
PGresult *
    pgconn_run (pgconn_t *self, const char *sql, const pgconn_params_t *params,
                ExecStatusType want, const char *what);

//  A statement that yields no rows: CHAT_OK or CHAT_ERR_INTERNAL; *rows
//  (rows may be NULL) the rows it changed
int
    pgconn_command (pgconn_t *self, const char *sql, const pgconn_params_t *params,
                    const char *what, int64_t *rows);

//  ------------------------------------------------------------- transactions

//  BEGIN: CHAT_OK, and the connection is not made again until the
//  transaction ends (pgconn_commit or pgconn_abandon)
int
    pgconn_begin (pgconn_t *self);

//  COMMIT: CHAT_OK only when PostgreSQL committed; else logged, and the
//  transaction is abandoned. Either way it has ended.
int
    pgconn_commit (pgconn_t *self);

//  End a transaction that went wrong (ROLLBACK when one is open): nothing
//  of it may ever be written
void
    pgconn_abandon (pgconn_t *self);

//  Between pgconn_begin and the end of that transaction
bool
    pgconn_in_transaction (pgconn_t *self);

#ifdef __cplusplus
}
#endif

#endif
