/*  test_pgconn - what both servers' PostgreSQL stores share (pgconn): the
    parameters as libpq takes them and a URL libpq cannot read (always);
    with CHAT_TEST_PG_URL (tests/support/pgtemp.sh starts a database:
    ctest's pgstore.pgconn.pg) also the values read back in binary, the
    migration runner (from nothing, one more step, a version it does not
    know refused), a database with fsync off refused, a COMMIT that
    PostgreSQL turned into ROLLBACK seen as a failure, and a connection
    that broke made again between transactions only
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include <czmq.h>
#include "chaterror.h"
#include "pgconn.h"

static const char *s_pg_url;            //  NULL: no PostgreSQL

//  The test's schema: two steps, then a third that the second store
//  knows and the first does not
static const char *const s_two [] = {
    "CREATE TABLE t_items (id bigint PRIMARY KEY, name text, blob bytea);"
    "CREATE TABLE t_more (x integer)",
    "ALTER TABLE t_items ADD COLUMN note text",
    NULL
};
static const char *const s_three [] = {
    "CREATE TABLE t_items (id bigint PRIMARY KEY, name text, blob bytea);"
    "CREATE TABLE t_more (x integer)",
    "ALTER TABLE t_items ADD COLUMN note text",
    "CREATE TABLE t_third (y integer)",
    NULL
};
static const pgconn_store_t s_store = {
    .log_name = "test_pgconn",
    .application_name = "test-pgconn",
    .version_table = "t_schema_version",
    .schema_label = "test schema",
    .lock_key = 7202699,
    .schema_base = 7,
    .migrations = s_two,
};
static const pgconn_store_t s_store_three = {
    .log_name = "test_pgconn",
    .application_name = "test-pgconn",
    .connect_timeout = 10,
    .version_table = "t_schema_version",
    .schema_label = "test schema",
    .lock_key = 7202699,
    .schema_base = 7,
    .migrations = s_three,
};

static PGconn *s_side;                  //  the test's own connection to it

//  Run sql on the test's side connection; the first value of its answer
//  (text), or "" (freed by the caller)
static char *
s_pg_exec (const char *sql)
{
    PGresult *res = PQexec (s_side, sql);
    ExecStatusType status = PQresultStatus (res);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        fail_msg ("%s: %s", sql, PQresultErrorMessage (res));
    char *value = strdup (PQntuples (res) > 0? PQgetvalue (res, 0, 0): "");
    PQclear (res);
    return value;
}

static void
s_pg_do (const char *sql)
{
    char *value = s_pg_exec (sql);
    free (value);
}

static int64_t
s_pg_int (const char *sql)
{
    char *value = s_pg_exec (sql);
    int64_t number = atoll (value);
    free (value);
    return number;
}

static int
s_setup (void **state)
{
    (void) state;
    s_pg_do ("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    return 0;
}

//  --------------------------------------------------------------- no server

static void
test_params (void **state)
{
    (void) state;
    pgconn_params_t params = { 0 };
    const uint8_t blob [3] = { 0, 1, 2 };
    pgconn_param_text (&params, "name");
    pgconn_param_bytes (&params, blob, sizeof blob);
    pgconn_param_bytes (&params, NULL, 0);
    pgconn_param_int (&params, INT64_MIN);
    pgconn_param_int (&params, 42);
    pgconn_param_null (&params);
    assert_int_equal (params.count, 6);
    //  Text: a terminated string, no length
    assert_string_equal (params.values [0], "name");
    assert_int_equal (params.formats [0], 0);
    assert_int_equal (params.lengths [0], 0);
    //  Binary: the bytes and their length, zeros included
    assert_ptr_equal (params.values [1], (const char *) blob);
    assert_int_equal (params.lengths [1], 3);
    assert_int_equal (params.formats [1], 1);
    //  An empty value points somewhere: NULL would be SQL NULL
    assert_non_null (params.values [2]);
    assert_int_equal (params.lengths [2], 0);
    assert_int_equal (params.formats [2], 1);
    //  Integers as their decimal text, kept in the struct
    assert_string_equal (params.values [3], "-9223372036854775808");
    assert_ptr_equal (params.values [3], params.numbers [3]);
    assert_int_equal (params.formats [3], 0);
    assert_string_equal (params.values [4], "42");
    //  NULL: SQL NULL
    assert_null (params.values [5]);
    assert_int_equal (params.formats [5], 0);
}

//  A URL libpq cannot read (a bad %-escape in the password) is refused
//  before any connection is tried
static void
test_unreadable_url (void **state)
{
    (void) state;
    assert_null (pgconn_new ("postgresql://chat:xSecretPw%zz@localhost/chat", &s_store));
}

//  ----------------------------------------------------------- on PostgreSQL

//  Values go out and come back in binary as the stores use them
static void
test_values (void **state)
{
    (void) state;
    pgconn_t *conn = pgconn_new (s_pg_url, &s_store);
    assert_non_null (conn);
    const uint8_t blob [4] = { 0, 0xff, 0, 7 };
    pgconn_params_t params = { 0 };
    pgconn_param_int (&params, INT64_MIN);
    pgconn_param_int (&params, -2);
    pgconn_param_text (&params, "a name");
    pgconn_param_bytes (&params, blob, sizeof blob);
    pgconn_param_bytes (&params, blob, 0);
    pgconn_param_null (&params);
    PGresult *res = pgconn_run (conn, "SELECT $1::int8, $2::int8, $3::text, $4::bytea,"
                                " length ($5::bytea)::int8, $5::bytea IS NULL,"
                                " $6::text, 7::int4", &params, PGRES_TUPLES_OK, "values");
    assert_non_null (res);
    assert_int_equal (PQntuples (res), 1);
    assert_true (pgconn_int (res, 0, 0) == INT64_MIN);
    assert_int_equal (pgconn_int (res, 0, 1), -2);
    assert_string_equal (pgconn_text (res, 0, 2), "a name");
    assert_int_equal (PQgetlength (res, 0, 3), 4);
    assert_memory_equal (PQgetvalue (res, 0, 3), blob, 4);
    assert_int_equal (pgconn_int (res, 0, 4), 0);
    assert_int_equal (PQgetvalue (res, 0, 5) [0], 0);     //  false: an empty value
    assert_null (pgconn_text (res, 0, 6));
    assert_int_equal (pgconn_int (res, 0, 6), 0);         //  NULL reads as 0
    assert_int_equal (pgconn_int (res, 0, 7), 0);         //  4 bytes: not a bigint
    PQclear (res);
    //  A statement that does not give what was wanted: NULL, logged
    assert_null (pgconn_run (conn, "SELECT 1", NULL, PGRES_COMMAND_OK, "wrong status"));
    assert_int_equal (pgconn_command (conn, "SELECT nothing_here", NULL, "bad", NULL),
                      CHAT_ERR_INTERNAL);
    int64_t rows = -1;
    assert_int_equal (pgconn_command (conn, "INSERT INTO t_items (id, name) VALUES"
                                      " (1, 'a'), (2, 'b')", NULL, "insert", &rows), CHAT_OK);
    assert_int_equal (rows, 2);
    pgconn_destroy (&conn);
    assert_null (conn);
}

//  The schema from nothing to the store's last version, once however
//  often opened; one more step for a program that knows it; a version
//  the program does not know refused, the database left as it was
static void
test_migrations (void **state)
{
    (void) state;
    pgconn_t *conn = pgconn_new (s_pg_url, &s_store);
    assert_non_null (conn);
    pgconn_destroy (&conn);
    assert_int_equal (s_pg_int ("SELECT max (version) FROM t_schema_version"), 8);
    assert_int_equal (s_pg_int ("SELECT count(*) FROM t_schema_version"), 1);
    assert_int_equal (s_pg_int ("SELECT count(*) FROM information_schema.columns"
                                " WHERE table_name = 't_items' AND column_name = 'note'"), 1);
    //  Again: nothing to do (a step run twice would fail: the column is there)
    conn = pgconn_new (s_pg_url, &s_store);
    assert_non_null (conn);
    pgconn_destroy (&conn);
    //  A program one step ahead takes it from 8 to 9
    conn = pgconn_new (s_pg_url, &s_store_three);
    assert_non_null (conn);
    pgconn_destroy (&conn);
    assert_int_equal (s_pg_int ("SELECT max (version) FROM t_schema_version"), 9);
    assert_int_equal (s_pg_int ("SELECT count(*) FROM t_schema_version"), 1);
    assert_int_equal (s_pg_int ("SELECT (to_regclass ('t_third') IS NOT NULL)::int"), 1);
    //  The older program does not know 9; nor anyone 6 (before the base)
    assert_null (pgconn_new (s_pg_url, &s_store));
    s_pg_do ("UPDATE t_schema_version SET version = 6");
    assert_null (pgconn_new (s_pg_url, &s_store_three));
    assert_int_equal (s_pg_int ("SELECT max (version) FROM t_schema_version"), 6);
    //  A step that fails leaves nothing of the migration
    s_pg_do ("DROP SCHEMA public CASCADE; CREATE SCHEMA public;"
             "CREATE TABLE t_more (x integer)");
    assert_null (pgconn_new (s_pg_url, &s_store));
    assert_int_equal (s_pg_int ("SELECT (to_regclass ('t_items') IS NULL"
                                " AND to_regclass ('t_schema_version') IS NULL)::int"), 1);
}

//  fsync off (ALTER SYSTEM: pgtemp.sh keeps the settings in
//  postgresql.conf): refused before the schema is made
static void
s_fsync (const char *value)
{
    char *sql = zsys_sprintf ("ALTER SYSTEM SET fsync = %s", value);
    s_pg_do (sql);
    zstr_free (&sql);
    s_pg_do ("SELECT pg_reload_conf ()");
    //  The server reads its configuration when it gets to it: a
    //  generous bound
    for (int tries = 0; tries < 300; tries++) {
        char *now = s_pg_exec ("SHOW fsync");
        bool there = streq (now, value);
        free (now);
        if (there)
            return;
        zclock_sleep (100);
    }
    fail_msg ("fsync is not %s after 30 s", value);
}

static void
test_fsync_off_refused (void **state)
{
    (void) state;
    s_fsync ("off");
    pgconn_t *conn = pgconn_new (s_pg_url, &s_store);
    s_fsync ("on");
    assert_null (conn);
    assert_int_equal (s_pg_int ("SELECT (to_regclass ('t_schema_version') IS NULL)::int"), 1);
    conn = pgconn_new (s_pg_url, &s_store);
    assert_non_null (conn);
    pgconn_destroy (&conn);
}

//  A transaction that failed answers COMMIT with ROLLBACK, not an error:
//  a failure all the same, and nothing of it is there
static void
test_commit_turned_rollback (void **state)
{
    (void) state;
    pgconn_t *conn = pgconn_new (s_pg_url, &s_store);
    assert_non_null (conn);
    assert_false (pgconn_in_transaction (conn));
    assert_int_equal (pgconn_begin (conn), CHAT_OK);
    assert_true (pgconn_in_transaction (conn));
    assert_int_equal (pgconn_command (conn, "INSERT INTO t_items (id) VALUES (1)", NULL,
                                      "insert", NULL), CHAT_OK);
    //  A duplicate key: the transaction is now failed
    assert_int_equal (pgconn_command (conn, "INSERT INTO t_items (id) VALUES (1)", NULL,
                                      "insert", NULL), CHAT_ERR_INTERNAL);
    assert_int_equal (pgconn_commit (conn), CHAT_ERR_INTERNAL);
    assert_false (pgconn_in_transaction (conn));
    assert_int_equal (PQtransactionStatus (pgconn_handle (conn)), PQTRANS_IDLE);
    assert_int_equal (s_pg_int ("SELECT count(*) FROM t_items"), 0);
    //  The tag check by itself: ROLLBACK's answer is no commit
    PGresult *res = PQexec (pgconn_handle (conn), "BEGIN");
    assert_false (pgconn_committed (res));
    PQclear (res);
    res = PQexec (pgconn_handle (conn), "SELECT 1/0");
    PQclear (res);
    res = PQexec (pgconn_handle (conn), "COMMIT");
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    assert_string_equal (PQcmdStatus (res), "ROLLBACK");
    assert_false (pgconn_committed (res));
    PQclear (res);
    assert_false (pgconn_committed (NULL));
    //  And a transaction that went well commits
    assert_int_equal (pgconn_begin (conn), CHAT_OK);
    assert_int_equal (pgconn_command (conn, "INSERT INTO t_items (id) VALUES (2)", NULL,
                                      "insert", NULL), CHAT_OK);
    assert_int_equal (pgconn_commit (conn), CHAT_OK);
    assert_int_equal (s_pg_int ("SELECT count(*) FROM t_items"), 1);
    //  An abandoned one leaves nothing
    assert_int_equal (pgconn_begin (conn), CHAT_OK);
    assert_int_equal (pgconn_command (conn, "INSERT INTO t_items (id) VALUES (3)", NULL,
                                      "insert", NULL), CHAT_OK);
    pgconn_abandon (conn);
    assert_false (pgconn_in_transaction (conn));
    assert_int_equal (s_pg_int ("SELECT count(*) FROM t_items"), 1);
    pgconn_destroy (&conn);
}

//  Ends the store's session, waiting (a generous bound) until it is gone
#define KILL "SELECT pg_terminate_backend (pid, 60000) FROM pg_stat_activity" \
             " WHERE application_name = 'test-pgconn'"

//  A connection that broke: made again at the next statement outside a
//  transaction; inside one, every statement fails and so does COMMIT
//  (a new connection would run the rest outside the transaction)
static void
test_connection_lost (void **state)
{
    (void) state;
    pgconn_t *conn = pgconn_new (s_pg_url, &s_store);
    assert_non_null (conn);
    //  Between transactions: the first statement learns it, the next
    //  runs on a new connection
    s_pg_do (KILL);
    assert_null (pgconn_run (conn, "SELECT 1", NULL, PGRES_TUPLES_OK, "after kill"));
    PGresult *res = pgconn_run (conn, "SELECT 1", NULL, PGRES_TUPLES_OK, "again");
    assert_non_null (res);
    PQclear (res);
    //  A reset drops the connection for a new one at once
    int pid = PQbackendPID (pgconn_handle (conn));
    pgconn_reset (conn);
    assert_int_equal (pgconn_ready (conn), CHAT_OK);
    assert_int_not_equal (PQbackendPID (pgconn_handle (conn)), pid);
    //  Inside a transaction: never made again under it
    assert_int_equal (pgconn_begin (conn), CHAT_OK);
    assert_int_equal (pgconn_command (conn, "INSERT INTO t_items (id) VALUES (5)", NULL,
                                      "insert", NULL), CHAT_OK);
    s_pg_do (KILL);
    assert_int_equal (pgconn_command (conn, "INSERT INTO t_items (id) VALUES (6)", NULL,
                                      "insert", NULL), CHAT_ERR_INTERNAL);
    assert_int_equal (pgconn_command (conn, "INSERT INTO t_items (id) VALUES (7)", NULL,
                                      "insert", NULL), CHAT_ERR_INTERNAL);
    assert_int_not_equal (PQstatus (pgconn_handle (conn)), CONNECTION_OK);
    assert_int_equal (pgconn_commit (conn), CHAT_ERR_INTERNAL);
    assert_false (pgconn_in_transaction (conn));
    assert_int_equal (s_pg_int ("SELECT count(*) FROM t_items"), 0);
    //  After it: a new connection
    assert_int_equal (pgconn_begin (conn), CHAT_OK);
    assert_int_equal (pgconn_command (conn, "INSERT INTO t_items (id) VALUES (8)", NULL,
                                      "insert", NULL), CHAT_OK);
    assert_int_equal (pgconn_commit (conn), CHAT_OK);
    assert_int_equal (s_pg_int ("SELECT count(*) FROM t_items"), 1);
    pgconn_destroy (&conn);
}

int
main (void)
{
    zsys_init ();
    const char *url = getenv ("CHAT_TEST_PG_URL");
    s_pg_url = url && *url? url: NULL;
    const struct CMUnitTest always [] = {
        cmocka_unit_test (test_params),
        cmocka_unit_test (test_unreadable_url),
    };
    const struct CMUnitTest pg [] = {
        cmocka_unit_test_setup (test_values, s_setup),
        cmocka_unit_test_setup (test_migrations, s_setup),
        cmocka_unit_test_setup (test_fsync_off_refused, s_setup),
        cmocka_unit_test_setup (test_commit_turned_rollback, s_setup),
        cmocka_unit_test_setup (test_connection_lost, s_setup),
    };
    int rc = cmocka_run_group_tests_name ("pgconn", always, NULL, NULL);
    if (!s_pg_url) {
        printf ("test_pgconn: no CHAT_TEST_PG_URL: the tests on PostgreSQL are "
                "pgstore.pgconn.pg's (tests/support/pgtemp.sh)\n");
        return rc;
    }
    s_side = PQconnectdb (s_pg_url);
    if (PQstatus (s_side) != CONNECTION_OK) {
        fprintf (stderr, "test_pgconn: cannot connect: %s", PQerrorMessage (s_side));
        return 1;
    }
    PQclear (PQexec (s_side, "SET client_min_messages = warning"));
    rc += cmocka_run_group_tests_name ("pgconn on postgresql", pg, NULL, NULL);
    PQfinish (s_side);
    return rc;
}
