/*  test_msgstore - the main server's store on its own, on SQLite, or on
    PostgreSQL when CHAT_TEST_PG_URL names a database (tests/support/
    pgtemp.sh starts one: ctest's mainserver.store.pg): users and
    their identity keys, conversations made from their first link, the
    chain stored link by link (and what the next issue's membership changes
    will need: the head and creator loaded back, a link appended), messages
    with their epochs, read markers, the forward migration of a schema 2
    database and the refusal of a protocol 1 database (SQLite), batches
    of messages committed whole or not at all (both; on PostgreSQL also
    with a COMMIT that fails and a connection that breaks), and the
    refusal of a newer schema (both)
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <libpq-fe.h>
#include "chain.h"
#include "chaterror.h"
#include "epochkey.h"
#include "faultvfs.h"
#include "msbell.h"
#include "msgstore.h"
#include "mschain.h"
#include "secret.h"
#include "testkeys.h"

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

//  Where a test's store is: on SQLite a file of that name in the test's
//  folder; on PostgreSQL the one database (emptied before each test)
static const char *
s_store (const char *name, char *path, size_t size)
{
    if (s_pg_url)
        snprintf (path, size, "%s", s_pg_url);
    else
        snprintf (path, size, "%s/%s", s_dir, name);
    return path;
}

static int
s_setup (void **state)
{
    (void) state;
    strcpy (s_dir, "/tmp/test_msgstore.XXXXXX");
    assert_non_null (mkdtemp (s_dir));
    s_store ("mainserver.db", s_path, sizeof s_path);
    if (s_pg_url)
        s_pg_exec ("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    char *command = zsys_sprintf ("rm -rf '%s'", s_dir);
    assert_int_equal (system (command), 0);
    free (command);
    return 0;
}

static int
s_count_msg (const msgstore_msg_t *msg, void *arg)
{
    uint64_t *seqs = (uint64_t *) arg;
    seqs [++seqs [0]] = msg->seq;
    return 0;
}

//  A user with identity key n (testkeys)
static void
s_add_user (msgstore_t *store, const char *name, size_t n)
{
    size_t len = 0;
    const uint8_t *der = rsakey_der (testkeys_key (n), &len);
    assert_int_equal (msgstore_user_add (store, name, der, len, 1, NULL), CHAT_OK);
}

//  A conversation of members created by actor (identity n) as its CREATE
//  link says; id filled
static void
s_create (msgstore_t *store, const char *actor, size_t n, const char *const *members,
          size_t count, bool direct, const char *title, uint8_t id [MSGSTORE_ID_SIZE])
{
    assert_int_equal (secret_random (id, MSGSTORE_ID_SIZE), 0);
    uint8_t key [EPOCHKEY_SIZE], check [EPOCHKEY_CHECK_SIZE];
    assert_int_equal (epochkey_generate (key), CHAT_OK);
    assert_int_equal (epochkey_check_value (key, id, 1, check), CHAT_OK);
    chain_link_t link;
    assert_int_equal (chain_make_create (id, actor, members, count, direct, title, check,
                                         testkeys_key (n), 1000, &link), CHAT_OK);
    msgstore_conv_t conv;
    memset (&conv, 0, sizeof conv);
    memcpy (conv.id, id, MSGSTORE_ID_SIZE);
    conv.created_at = 10;
    conv.direct = direct;
    snprintf (conv.title, sizeof conv.title, "%s", title? title: "");
    snprintf (conv.creator, sizeof conv.creator, "%s", actor);
    msgstore_link_t stored = { id, 1, link.statement, link.statement_len, link.signature,
                               link.signature_len, actor, CHAIN_CREATE };
    assert_int_equal (msgstore_conv_create (store, &conv, members, count, &stored), CHAT_OK);
    chain_link_free (&link);
}

static void
test_users (void **state)
{
    (void) state;
    msgstore_t *store = msgstore_open (s_path);
    assert_non_null (store);
    size_t len = 0;
    const uint8_t *der = rsakey_der (testkeys_key (0), &len);
    bool added = false;
    assert_int_equal (msgstore_user_add (store, "Alice", der, len, 1, &added), CHAT_OK);
    assert_true (added);
    assert_int_equal (msgstore_user_add (store, "ALICE", der, len, 2, &added), CHAT_OK);
    assert_false (added);
    assert_int_equal (msgstore_user_add (store, "bob", der, 0, 2, &added),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (msgstore_user_add (store, "not valid", der, len, 2, &added),
                      CHAT_ERR_BAD_REQUEST);
    char *name = NULL;
    assert_int_equal (msgstore_user_find (store, "alice", &name), CHAT_OK);
    assert_string_equal (name, "Alice");
    free (name);
    assert_int_equal (msgstore_user_find (store, "nobody", &name), CHAT_ERR_UNKNOWN_USER);
    assert_null (name);
    msgstore_user_t user;
    assert_int_equal (msgstore_user_get (store, "aLICE", &user), CHAT_OK);
    assert_string_equal (user.name, "Alice");
    assert_int_equal (user.identity_len, len);
    assert_memory_equal (user.identity, der, len);
    assert_int_equal (user.created_at, 1);
    msgstore_destroy (&store);
    assert_null (store);
}

typedef struct {
    uint64_t epochs [200];
    size_t count;
    int actions [200];
} links_t;

static int
s_collect_link (const msgstore_link_t *link, void *arg)
{
    links_t *links = (links_t *) arg;
    links->actions [links->count] = link->action;
    links->epochs [links->count++] = link->epoch;
    return 0;
}

static void
test_conversations_and_messages (void **state)
{
    (void) state;
    msgstore_t *store = msgstore_open (s_path);
    assert_non_null (store);
    s_add_user (store, "Alice", 2);
    s_add_user (store, "bob", 3);
    s_add_user (store, "carol", 4);

    const char *pair [] = { "Alice", "bob" };
    const char *group [] = { "Alice", "bob", "carol" };
    uint8_t one [16], g1 [16];
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    s_create (store, "Alice", 2, pair, 2, true, NULL, one);
    s_create (store, "bob", 3, group, 3, false, "Plans", g1);
    assert_int_equal (msgstore_commit (store), CHAT_OK);

    //  The pair finds its direct conversation, in either order and case
    msgstore_conv_t conv;
    assert_int_equal (msgstore_conv_find_direct (store, "BOB", "alice", &conv), CHAT_OK);
    assert_memory_equal (conv.id, one, 16);
    assert_true (conv.direct);
    assert_int_equal (conv.epoch, 1);
    assert_string_equal (conv.creator, "Alice");
    assert_int_equal (msgstore_conv_find_direct (store, "bob", "carol", &conv),
                      CHAT_ERR_NOT_FOUND);
    //  A second direct conversation of the pair, or a second of an id: no
    msgstore_conv_t again = conv;
    assert_int_equal (secret_random (again.id, 16), 0);
    uint8_t statement [10] = { 1 }, signature [10] = { 2 };
    msgstore_link_t link = { again.id, 1, statement, 10, signature, 10, "Alice", CHAIN_CREATE };
    assert_int_equal (msgstore_conv_create (store, &again, pair, 2, &link),
                      CHAT_ERR_BAD_REQUEST);
    again.direct = false;
    memcpy (again.id, g1, 16);
    link.conversation_id = again.id;
    assert_int_equal (msgstore_conv_create (store, &again, pair, 2, &link),
                      CHAT_ERR_BAD_REQUEST);
    //  Members that are not users: nothing stored
    const char *ghosts [] = { "Alice", "ghost" };
    assert_int_equal (secret_random (again.id, 16), 0);
    assert_int_equal (msgstore_conv_create (store, &again, ghosts, 2, &link),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (msgstore_conv_get (store, again.id, 16, NULL), CHAT_ERR_NOT_FOUND);

    assert_int_equal (msgstore_conv_get (store, g1, 16, &conv), CHAT_OK);
    assert_string_equal (conv.title, "Plans");
    assert_false (conv.direct);
    assert_int_equal (msgstore_conv_get_as_member (store, one, 16, "ALICE", &conv), CHAT_OK);
    assert_int_equal (msgstore_conv_get_as_member (store, one, 16, "carol", &conv),
                      CHAT_ERR_NOT_FOUND);
    assert_int_equal (msgstore_conv_get_as_member (store, one, 15, "alice", &conv),
                      CHAT_ERR_NOT_FOUND);
    zlistx_t *names;
    assert_int_equal (msgstore_conv_members (store, g1, &names), CHAT_OK);
    assert_int_equal (zlistx_size (names), 3);
    assert_string_equal ((char *) zlistx_first (names), "Alice");
    assert_string_equal ((char *) zlistx_next (names), "bob");
    assert_string_equal ((char *) zlistx_next (names), "carol");
    zlistx_destroy (&names);
    links_t links;
    memset (&links, 0, sizeof links);
    assert_int_equal (msgstore_link_each (store, g1, 0, 10, s_collect_link, &links), CHAT_OK);
    assert_int_equal (links.count, 1);
    assert_int_equal (links.actions [0], CHAIN_CREATE);

    //  Sequence numbers from the store; a retry stores nothing.
    uint8_t cmid [16] = { 1 };
    uint64_t seq;
    int64_t time;
    bool duplicate;
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    for (int index = 0; index < 30; index++) {
        cmid [1] = (uint8_t) index;
        assert_int_equal (msgstore_msg_add (store, one, "Alice", cmid, 16, "gAAA", 4, 1,
                                            100 + index, &seq, &time, &duplicate), CHAT_OK);
        assert_int_equal (seq, index + 1);
        assert_false (duplicate);
    }
    cmid [1] = 3;
    assert_int_equal (msgstore_msg_add (store, one, "Alice", cmid, 16, "gAAA", 4, 1,
                                        999, &seq, &time, &duplicate), CHAT_OK);
    assert_true (duplicate);
    assert_int_equal (seq, 4);
    assert_int_equal (time, 103);
    //  The same id from someone else is refused, not confused with it.
    assert_int_equal (msgstore_msg_add (store, one, "bob", cmid, 16, "gAAA", 4, 1,
                                        999, &seq, &time, &duplicate), CHAT_ERR_BAD_REQUEST);
    //  Another epoch than the current one: stale (a retry is still a retry)
    cmid [1] = 99;
    assert_int_equal (msgstore_msg_add (store, one, "Alice", cmid, 16, "gAAA", 4, 2,
                                        999, &seq, &time, &duplicate), CHAT_ERR_STALE_EPOCH);
    assert_int_equal (msgstore_msg_add (store, one, "Alice", cmid, 16, "gAAA", 4, 0,
                                        999, &seq, &time, &duplicate), CHAT_ERR_STALE_EPOCH);
    cmid [1] = 3;
    assert_int_equal (msgstore_msg_add (store, one, "Alice", cmid, 16, "gAAA", 4, 7,
                                        999, &seq, &time, &duplicate), CHAT_OK);
    assert_true (duplicate);
    uint8_t unknown [16] = { 0 };
    cmid [1] = 200;
    assert_int_equal (msgstore_msg_add (store, unknown, "Alice", cmid, 16, "gAAA", 4, 1,
                                        999, &seq, &time, &duplicate), CHAT_ERR_NOT_FOUND);
    assert_int_equal (msgstore_commit (store), CHAT_OK);

    uint64_t seqs [64] = { 0 };
    assert_int_equal (msgstore_msg_each (store, one, 25, 100, s_count_msg, seqs), CHAT_OK);
    assert_int_equal (seqs [0], 5);
    assert_int_equal (seqs [1], 26);
    assert_int_equal (seqs [5], 30);
    memset (seqs, 0, sizeof seqs);
    assert_int_equal (msgstore_msg_each (store, one, 0, 10, s_count_msg, seqs), CHAT_OK);
    assert_int_equal (seqs [0], 10);
    assert_int_equal (seqs [10], 10);
    msgstore_destroy (&store);

    //  Reopened: all there, and the next seq carries on.
    store = msgstore_open (s_path);
    assert_non_null (store);
    assert_int_equal (msgstore_conv_get (store, one, 16, &conv), CHAT_OK);
    assert_int_equal (conv.last_seq, 30);
    assert_int_equal (conv.last_time, 129);
    cmid [1] = 201;
    assert_int_equal (msgstore_msg_add (store, one, "bob", cmid, 16, "gAAA", 4, 1,
                                        1000, &seq, &time, &duplicate), CHAT_OK);
    assert_int_equal (seq, 31);
    char *token = NULL;
    assert_int_equal (msgstore_msg_last_token (store, one, &token), CHAT_OK);
    assert_string_equal (token, "gAAA");
    free (token);
    msgstore_destroy (&store);
}

//  What a membership change will do: load the chain's head and creator,
//  check the next link with the chain rules, append it
static void
test_chain_append (void **state)
{
    (void) state;
    msgstore_t *store = msgstore_open (s_path);
    assert_non_null (store);
    s_add_user (store, "Alice", 2);
    s_add_user (store, "bob", 3);
    s_add_user (store, "carol", 4);
    const char *group [] = { "Alice", "bob" };
    uint8_t id [16];
    s_create (store, "Alice", 2, group, 2, false, "", id);

    msctx_t ctx = { .store = store };
    for (uint64_t epoch = 2; epoch <= 150; epoch++) {
        msgstore_conv_t conv;
        assert_int_equal (msgstore_conv_get (store, id, 16, &conv), CHAT_OK);
        assert_int_equal (conv.epoch, epoch - 1);
        chain_t *chain = mschain_load (&ctx, &conv);
        assert_non_null (chain);
        assert_int_equal (chain_epoch (chain), epoch - 1);
        assert_string_equal (chain_creator (chain), "Alice");
        uint8_t key [EPOCHKEY_SIZE], check [EPOCHKEY_CHECK_SIZE];
        assert_int_equal (epochkey_generate (key), CHAT_OK);
        assert_int_equal (epochkey_check_value (key, id, epoch, check), CHAT_OK);
        //  Epoch 2 adds carol; the rest re-key
        const char *carol [] = { "carol" };
        chain_link_t link;
        int action = epoch == 2? CHAIN_ADD: CHAIN_REKEY;
        assert_int_equal (chain_make_change (chain, action, "bob", epoch == 2? carol: NULL,
                                             epoch == 2? 1: 0, NULL, check,
                                             testkeys_key (3), 2000, &link), CHAT_OK);
        Chat__SignedStatement view;
        chain_link_view (&link, &view);
        assert_int_equal (chain_append (chain, &view, testkeys_key (3)), CHAT_OK);
        const Chat__MembershipStatement *head = chain_head (chain);
        msgstore_link_t stored = { id, epoch, link.statement, link.statement_len,
                                   link.signature, link.signature_len, "bob", action };
        assert_int_equal (msgstore_conv_append (store, &stored, head->title,
                                                (const char *const *) head->members,
                                                head->n_members), CHAT_OK);
        //  Twice the same epoch: a conflict
        assert_int_equal (msgstore_conv_append (store, &stored, head->title,
                                                (const char *const *) head->members,
                                                head->n_members), CHAT_ERR_CHAIN_CONFLICT);
        chain_link_free (&link);
        chain_destroy (&chain);
    }
    msgstore_conv_t conv;
    assert_int_equal (msgstore_conv_get_as_member (store, id, 16, "carol", &conv), CHAT_OK);
    assert_int_equal (conv.epoch, 150);
    //  Carol joined at 2, the others at 1 (and kept it through 148 re-keys)
    assert_int_equal (conv.joined_epoch, 2);
    assert_int_equal (msgstore_conv_get_as_member (store, id, 16, "BOB", &conv), CHAT_OK);
    assert_int_equal (conv.joined_epoch, 1);
    assert_int_equal (msgstore_conv_get (store, id, 16, &conv), CHAT_OK);
    assert_int_equal (conv.joined_epoch, 0);
    links_t links;
    memset (&links, 0, sizeof links);
    assert_int_equal (msgstore_link_each (store, id, 0, 101, s_collect_link, &links), CHAT_OK);
    assert_int_equal (links.count, 101);
    for (size_t i = 0; i < links.count; i++)
        assert_int_equal (links.epochs [i], i + 1);
    assert_int_equal (links.actions [1], CHAIN_ADD);
    memset (&links, 0, sizeof links);
    assert_int_equal (msgstore_link_each (store, id, 100, 101, s_collect_link, &links),
                      CHAT_OK);
    assert_int_equal (links.count, 50);
    assert_int_equal (links.epochs [0], 101);
    //  Messages now go under epoch 150 only
    uint8_t cmid [16] = { 5 };
    uint64_t seq;
    int64_t time;
    bool duplicate;
    assert_int_equal (msgstore_msg_add (store, id, "carol", cmid, 16, "gAAA", 4, 1,
                                        1, &seq, &time, &duplicate), CHAT_ERR_STALE_EPOCH);
    assert_int_equal (msgstore_msg_add (store, id, "carol", cmid, 16, "gAAA", 4, 150,
                                        1, &seq, &time, &duplicate), CHAT_OK);
    //  Bob leaves, then is added back: he joins again, after message 1
    msctx_t again = { .store = store };
    for (uint64_t epoch = 151; epoch <= 152; epoch++) {
        assert_int_equal (msgstore_conv_get (store, id, 16, &conv), CHAT_OK);
        chain_t *chain = mschain_load (&again, &conv);
        assert_non_null (chain);
        uint8_t key [EPOCHKEY_SIZE], check [EPOCHKEY_CHECK_SIZE];
        assert_int_equal (epochkey_generate (key), CHAT_OK);
        assert_int_equal (epochkey_check_value (key, id, epoch, check), CHAT_OK);
        const char *bob [] = { "bob" };
        bool leave = epoch == 151;
        chain_link_t link;
        assert_int_equal (chain_make_change (chain, leave? CHAIN_LEAVE: CHAIN_ADD,
                                             leave? "bob": "carol", leave? NULL: bob,
                                             leave? 0: 1, NULL, leave? NULL: check,
                                             testkeys_key (leave? 3: 4), 3000, &link),
                          CHAT_OK);
        Chat__SignedStatement view;
        chain_link_view (&link, &view);
        assert_int_equal (chain_append (chain, &view, testkeys_key (leave? 3: 4)), CHAT_OK);
        const Chat__MembershipStatement *head = chain_head (chain);
        msgstore_link_t stored = { id, epoch, link.statement, link.statement_len,
                                   link.signature, link.signature_len, head->actor,
                                   (int) head->action };
        assert_int_equal (msgstore_conv_append (store, &stored, head->title,
                                                (const char *const *) head->members,
                                                head->n_members), CHAT_OK);
        if (leave)
            assert_int_equal (msgstore_conv_get_as_member (store, id, 16, "bob", &conv),
                              CHAT_ERR_NOT_FOUND);
        chain_link_free (&link);
        chain_destroy (&chain);
    }
    assert_int_equal (msgstore_conv_get_as_member (store, id, 16, "bob", &conv), CHAT_OK);
    assert_int_equal (conv.joined_epoch, 152);
    assert_int_equal (conv.joined_seq, 1);
    assert_int_equal (msgstore_conv_get_as_member (store, id, 16, "Alice", &conv), CHAT_OK);
    assert_int_equal (conv.joined_epoch, 1);
    assert_int_equal (conv.joined_seq, 0);
    //  A member list naming one person twice is refused, nothing changed
    assert_int_equal (msgstore_conv_get (store, id, 16, &conv), CHAT_OK);
    const char *twice [] = { "Alice", "Alice" };
    msgstore_link_t next = { id, 153, cmid, 16, cmid, 16, "Alice", CHAIN_REKEY };
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    assert_int_equal (msgstore_conv_append (store, &next, "", twice, 2), CHAT_ERR_BAD_REQUEST);
    assert_int_equal (msgstore_commit (store), CHAT_OK);
    assert_int_equal (msgstore_conv_get_as_member (store, id, 16, "bob", &conv), CHAT_OK);
    assert_int_equal (conv.epoch, 152);
    //  An unknown conversation has nothing to append to
    uint8_t unknown [16] = { 0 };
    msgstore_link_t stray = { unknown, 2, cmid, 16, cmid, 16, "bob", CHAIN_REKEY };
    const char *members [] = { "bob" };
    assert_int_equal (msgstore_conv_append (store, &stray, "", members, 1),
                      CHAT_ERR_NOT_FOUND);
    msgstore_destroy (&store);
}

//  A page is read off the primary key, never by scanning the conversation.
static void
test_page_uses_primary_key (void **state)
{
    (void) state;
    msgstore_t *store = msgstore_open (s_path);
    assert_non_null (store);
    msgstore_destroy (&store);
    sqlite3 *db;
    assert_int_equal (sqlite3_open (s_path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    assert_int_equal (sqlite3_prepare_v2 (db,
        "EXPLAIN QUERY PLAN SELECT seq, epoch, sender, server_time, token, client_message_id"
        " FROM messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        -1, &stmt, NULL), SQLITE_OK);
    char plan [512] = "";
    while (sqlite3_step (stmt) == SQLITE_ROW)
        strncat (plan, (const char *) sqlite3_column_text (stmt, 3),
                 sizeof plan - strlen (plan) - 1);
    sqlite3_finalize (stmt);
    assert_non_null (strstr (plan, "SEARCH messages USING INDEX"));
    assert_non_null (strstr (plan, "conversation_id=? AND seq>?"));
    assert_null (strstr (plan, "TEMP B-TREE"));

    //  And a database from a newer program is refused.
    assert_int_equal (sqlite3_exec (db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close (db);
    store = msgstore_open (s_path);
    assert_null (store);
}

//  The user_version of the database at path
static int
s_user_version (const char *path)
{
    sqlite3 *db;
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    assert_int_equal (sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL),
                      SQLITE_OK);
    assert_int_equal (sqlite3_step (stmt), SQLITE_ROW);
    int version = sqlite3_column_int (stmt, 0);
    sqlite3_finalize (stmt);
    sqlite3_close (db);
    return version;
}

//  Takes the database at path back to an older schema version
static void
s_downgrade (const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    assert_int_equal (sqlite3_exec (db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close (db);
}

#define DROP_JOINED \
    "ALTER TABLE members DROP COLUMN joined_epoch;" \
    "ALTER TABLE members DROP COLUMN joined_seq;" \
    "ALTER TABLE members DROP COLUMN accepted;"

//  A schema version 3 database (read markers, before members remembered
//  their joining) is migrated to 4: every member joined at epoch 1, before
//  any message, and accepted what it is in; the read markers are kept
static void
test_migrate_3_to_4 (void **state)
{
    (void) state;
    char path [160];
    snprintf (path, sizeof path, "%s/v3.db", s_dir);
    msgstore_t *store = msgstore_open (path);
    assert_non_null (store);
    s_add_user (store, "Alice", 2);
    s_add_user (store, "bob", 3);
    const char *group [] = { "Alice", "bob" };
    uint8_t id [16];
    s_create (store, "Alice", 2, group, 2, false, "", id);
    uint8_t cmid [16] = { 9 };
    uint64_t seq;
    int64_t time;
    bool duplicate;
    assert_int_equal (msgstore_msg_add (store, id, "Alice", cmid, 16, "gAAA", 4, 1, 100,
                                        &seq, &time, &duplicate), CHAT_OK);
    bool moved = false;
    assert_int_equal (msgstore_read_set (store, id, "bob", 1, &moved), CHAT_OK);
    assert_true (moved);
    msgstore_destroy (&store);
    //  Back to what version 3 was
    s_downgrade (path, DROP_JOINED "PRAGMA user_version = 3;");
    assert_int_equal (s_user_version (path), 3);
    store = msgstore_open (path);
    assert_non_null (store);
    msgstore_conv_t conv;
    assert_int_equal (msgstore_conv_get_as_member (store, id, 16, "bob", &conv), CHAT_OK);
    assert_int_equal (conv.joined_epoch, 1);
    assert_int_equal (conv.joined_seq, 0);
    assert_false (conv.request);
    uint64_t read_seq = 0, unread = 99;
    assert_int_equal (msgstore_read_state (store, id, "bob", &read_seq, &unread), CHAT_OK);
    assert_int_equal (read_seq, 1);
    assert_int_equal (unread, 0);
    msgstore_destroy (&store);
    assert_int_equal (s_user_version (path), 4);
}

//  A database protocol 1 wrote: refused, and left as it was
static void
test_protocol_1_refused (void **state)
{
    (void) state;
    char path [160];
    snprintf (path, sizeof path, "%s/v1.db", s_dir);
    sqlite3 *db;
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    assert_int_equal (sqlite3_exec (db,
        "CREATE TABLE users (name_lower TEXT PRIMARY KEY, name TEXT NOT NULL,"
        " created_at INTEGER NOT NULL) WITHOUT ROWID;"
        "INSERT INTO users VALUES ('alice', 'Alice', 1);"
        "PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close (db);
    assert_null (msgstore_open (path));
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    assert_int_equal (sqlite3_prepare_v2 (db, "SELECT count(*) FROM users", -1, &stmt, NULL),
                      SQLITE_OK);
    assert_int_equal (sqlite3_step (stmt), SQLITE_ROW);
    assert_int_equal (sqlite3_column_int (stmt, 0), 1);
    sqlite3_finalize (stmt);
    sqlite3_close (db);
}

//  Read markers: forward only, per user (any spelling), unread counts
//  only others' messages after the marker
static void
test_read_markers (void **state)
{
    (void) state;
    char path [512];
    msgstore_t *store = msgstore_open (s_store ("read.db", path, sizeof path));
    assert_non_null (store);
    s_add_user (store, "Alice", 2);
    s_add_user (store, "bob", 3);
    const char *pair [] = { "Alice", "bob" };
    uint8_t id [16];
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    s_create (store, "Alice", 2, pair, 2, true, NULL, id);
    //  bob 1-3, Alice 4, bob 5
    const char *senders [] = { "bob", "bob", "bob", "Alice", "bob" };
    uint8_t cmid [16] = { 7 };
    uint64_t seq;
    int64_t time;
    bool duplicate;
    for (int index = 0; index < 5; index++) {
        cmid [1] = (uint8_t) index;
        assert_int_equal (msgstore_msg_add (store, id, senders [index], cmid, 16, "gAAA", 4,
                                            1, 100 + index, &seq, &time, &duplicate),
                          CHAT_OK);
    }
    assert_int_equal (msgstore_commit (store), CHAT_OK);
    uint64_t read_seq = 99, unread = 99;
    assert_int_equal (msgstore_read_state (store, id, "alice", &read_seq, &unread), CHAT_OK);
    assert_int_equal (read_seq, 0);
    assert_int_equal (unread, 4);
    assert_int_equal (msgstore_read_state (store, id, "BOB", &read_seq, &unread), CHAT_OK);
    assert_int_equal (unread, 1);
    bool moved = false;
    assert_int_equal (msgstore_read_set (store, id, "ALICE", 3, &moved), CHAT_OK);
    assert_true (moved);
    assert_int_equal (msgstore_read_state (store, id, "Alice", &read_seq, &unread), CHAT_OK);
    assert_int_equal (read_seq, 3);
    assert_int_equal (unread, 1);
    //  never back, and the same again does not move it
    assert_int_equal (msgstore_read_set (store, id, "alice", 2, &moved), CHAT_OK);
    assert_false (moved);
    assert_int_equal (msgstore_read_set (store, id, "alice", 3, &moved), CHAT_OK);
    assert_false (moved);
    assert_int_equal (msgstore_read_state (store, id, "alice", &read_seq, &unread), CHAT_OK);
    assert_int_equal (read_seq, 3);
    //  bob's marker is his own
    assert_int_equal (msgstore_read_state (store, id, "bob", &read_seq, &unread), CHAT_OK);
    assert_int_equal (read_seq, 0);
    msgstore_destroy (&store);
    //  kept across a restart
    store = msgstore_open (path);
    assert_non_null (store);
    assert_int_equal (msgstore_read_state (store, id, "alice", &read_seq, &unread), CHAT_OK);
    assert_int_equal (read_seq, 3);
    assert_int_equal (unread, 1);
    msgstore_destroy (&store);
}

//  A schema 2 database (protocol 2 before read markers and joinings) is
//  migrated through 3 to 4: its data kept, read markers added, its members
//  joined at epoch 1 and accepted
static void
test_schema_2_migrated (void **state)
{
    (void) state;
    char path [160];
    snprintf (path, sizeof path, "%s/v2.db", s_dir);
    msgstore_t *store = msgstore_open (path);
    assert_non_null (store);
    s_add_user (store, "alice", 2);
    s_add_user (store, "bob", 3);
    const char *group [] = { "alice", "bob" };
    uint8_t id [16];
    s_create (store, "alice", 2, group, 2, false, "", id);
    msgstore_destroy (&store);
    s_downgrade (path, "DROP TABLE read_marks;" DROP_JOINED "PRAGMA user_version = 2;");

    store = msgstore_open (path);
    assert_non_null (store);
    msgstore_user_t user;
    assert_int_equal (msgstore_user_get (store, "alice", &user), CHAT_OK);
    msgstore_conv_t conv;
    assert_int_equal (msgstore_conv_get_as_member (store, id, 16, "bob", &conv), CHAT_OK);
    assert_int_equal (conv.joined_epoch, 1);
    assert_int_equal (conv.joined_seq, 0);
    assert_false (conv.request);
    uint64_t read_seq = 99, unread = 99;
    assert_int_equal (msgstore_read_state (store, id, "bob", &read_seq, &unread), CHAT_OK);
    assert_int_equal (read_seq, 0);
    assert_int_equal (unread, 0);
    msgstore_destroy (&store);
    assert_int_equal (s_user_version (path), MSGSTORE_SCHEMA_VERSION + 2);
}

//  ---------------------------------------------------------------- batches

//  A message of a batch
static msgstore_add_t
s_add (const uint8_t *id, const char *sender, const uint8_t *cmid, const char *token,
       uint64_t epoch, int64_t now)
{
    msgstore_add_t add = { .conversation_id = id, .sender = sender,
                           .client_message_id = cmid, .client_message_id_len = 16,
                           .token = token, .token_len = strlen (token),
                           .epoch = epoch, .now_ms = now };
    return add;
}

//  A store with alice, bob and carol, a direct conversation of alice and
//  bob (pair) and a group of the three (group)
static msgstore_t *
s_batch_store (uint8_t pair [MSGSTORE_ID_SIZE], uint8_t group [MSGSTORE_ID_SIZE])
{
    msgstore_t *store = msgstore_open (s_path);
    assert_non_null (store);
    s_add_user (store, "alice", 2);
    s_add_user (store, "bob", 3);
    s_add_user (store, "carol", 4);
    const char *two [] = { "alice", "bob" };
    const char *three [] = { "alice", "bob", "carol" };
    s_create (store, "alice", 2, two, 2, true, NULL, pair);
    s_create (store, "bob", 3, three, 3, false, "g", group);
    return store;
}

static uint64_t
s_last_seq (msgstore_t *store, const uint8_t *id)
{
    msgstore_conv_t conv;
    assert_int_equal (msgstore_conv_get (store, id, 16, &conv), CHAT_OK);
    return conv.last_seq;
}

//  A batch answers each message as msg_add would, in the order given
//  within a conversation, whichever conversations it mixes
static void
test_batch (void **state)
{
    (void) state;
    uint8_t pair [16], group [16], unknown [16] = { 0 };
    msgstore_t *store = s_batch_store (pair, group);
    uint8_t c1 [16] = { 1 }, c2 [16] = { 2 }, c3 [16] = { 3 }, c4 [16] = { 4 };
    msgstore_add_t adds [] = {
        s_add (pair, "alice", c1, "gAAA1", 1, 100),
        s_add (group, "bob", c2, "gAAA2", 1, 101),
        s_add (pair, "alice", c3, "gAAA3", 1, 102),
        s_add (pair, "ALICE", c1, "gAAA1", 1, 103),     //  a retry in the same batch
        s_add (group, "bob", c4, "gAAA4", 5, 104),      //  a stale epoch
        s_add (unknown, "bob", c4, "gAAA4", 1, 105),
        s_add (pair, "bob", c1, "gAAA1", 1, 106),       //  alice's id, from bob
        s_add (group, "carol", c3, "gAAA5", 1, 107),    //  c3 again, another conversation
    };
    size_t count = sizeof adds / sizeof adds [0];
    assert_int_equal (msgstore_msg_add_batch (store, adds, count), CHAT_OK);
    int want_status [] = { CHAT_OK, CHAT_OK, CHAT_OK, CHAT_OK, CHAT_ERR_STALE_EPOCH,
                           CHAT_ERR_NOT_FOUND, CHAT_ERR_BAD_REQUEST, CHAT_OK };
    uint64_t want_seq [] = { 1, 1, 2, 1, 0, 0, 0, 2 };
    bool want_duplicate [] = { false, false, false, true, false, false, false, false };
    for (size_t index = 0; index < count; index++) {
        assert_int_equal (adds [index].status, want_status [index]);
        if (want_status [index] == CHAT_OK) {
            assert_int_equal (adds [index].seq, want_seq [index]);
            assert_int_equal (adds [index].duplicate, want_duplicate [index]);
        }
    }
    assert_int_equal (adds [3].server_time, 100);       //  the first copy's
    assert_int_equal (s_last_seq (store, pair), 2);
    assert_int_equal (s_last_seq (store, group), 2);
    //  The same batch again: every stored one a duplicate, nothing new
    assert_int_equal (msgstore_msg_add_batch (store, adds, count), CHAT_OK);
    assert_true (adds [0].duplicate && adds [1].duplicate && adds [2].duplicate
                 && adds [7].duplicate);
    assert_int_equal (adds [7].seq, 2);
    assert_int_equal (s_last_seq (store, pair), 2);
    //  Too many at once, or none
    msgstore_add_t *many = (msgstore_add_t *) calloc (MSGSTORE_BATCH_MAX + 1, sizeof *many);
    assert_non_null (many);
    for (size_t index = 0; index <= MSGSTORE_BATCH_MAX; index++)
        many [index] = adds [0];
    assert_int_equal (msgstore_msg_add_batch (store, many, MSGSTORE_BATCH_MAX + 1),
                      CHAT_ERR_BAD_REQUEST);
    free (many);
    assert_int_equal (msgstore_msg_add_batch (store, NULL, 0), CHAT_OK);
    msgstore_destroy (&store);
}

//  ---------------------------------------------------------------- one INSERT a message

//  Every seq of a conversation, 1..last_seq, each once and in order
static void
s_assert_dense (msgstore_t *store, const uint8_t *id)
{
    uint64_t seqs [1 + 256] = { 0 };
    assert_int_equal (msgstore_msg_each (store, id, 0, 256, s_count_msg, seqs), CHAT_OK);
    assert_int_equal (seqs [0], s_last_seq (store, id));
    for (uint64_t index = 1; index <= seqs [0]; index++)
        assert_int_equal (seqs [index], index);
}

//  In a commit of 32 messages, each new message costs one statement (its
//  INSERT); the rest is per commit (BEGIN, the data version, COMMIT) and
//  per conversation (its row read once while kept, written once per
//  commit). Counted statements, not time: the test holds the path's cost.
static void
test_statements_per_message (void **state)
{
    (void) state;
    uint8_t pair [16], group [16];
    msgstore_t *store = s_batch_store (pair, group);
    uint8_t cmids [64][16];
    for (int round = 0; round < 2; round++) {
        uint64_t before = msgstore_statements (store);
        assert_true (before > 0);
        assert_int_equal (msgstore_begin (store), CHAT_OK);
        for (int index = 0; index < 32; index++) {
            uint8_t *cmid = cmids [round * 32 + index];
            memset (cmid, 0, 16);
            cmid [0] = (uint8_t) (round * 32 + index + 1);
            uint64_t seq;
            int64_t server_time;
            bool duplicate;
            assert_int_equal (msgstore_msg_add (store, index % 2? pair: group,
                                                index % 2? "alice": "carol", cmid, 16,
                                                "gAAAA", 5, 1, 1000 + index, &seq,
                                                &server_time, &duplicate), CHAT_OK);
            assert_int_equal (seq, (uint64_t) (round * 16 + index / 2 + 1));
            assert_false (duplicate);
        }
        assert_int_equal (msgstore_commit (store), CHAT_OK);
        uint64_t spent = msgstore_statements (store) - before;
        //  32 INSERTs, 2 UPDATEs, BEGIN, PRAGMA data_version, COMMIT, and
        //  in the first round the 2 rows read
        printf ("test_msgstore: %llu statements for 32 messages in 2 conversations "
                "(round %d)\n", (unsigned long long) spent, round + 1);
        assert_int_equal (spent, 32 + 2 + 3 + (round == 0? 2: 0));
    }
    //  What was kept in memory is what the rows say
    assert_int_equal (s_last_seq (store, pair), 32);
    assert_int_equal (s_last_seq (store, group), 32);
    msgstore_conv_t conv;
    assert_int_equal (msgstore_conv_get (store, pair, 16, &conv), CHAT_OK);
    assert_int_equal (conv.last_time, 1000 + 31);
    s_assert_dense (store, pair);
    s_assert_dense (store, group);
    //  A retry costs its INSERT (which inserts nothing) and the lookup
    uint64_t before = msgstore_statements (store);
    uint64_t seq;
    int64_t server_time;
    bool duplicate;
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    assert_int_equal (msgstore_msg_add (store, pair, "ALICE", cmids [1], 16, "gAAAA", 5, 1,
                                        5000, &seq, &server_time, &duplicate), CHAT_OK);
    assert_true (duplicate);
    assert_int_equal (seq, 1);
    assert_int_equal (server_time, 1001);
    assert_int_equal (msgstore_commit (store), CHAT_OK);
    assert_int_equal (msgstore_statements (store) - before, 2 + 3);
    msgstore_destroy (&store);
}

//  A message that fails in the middle of a transaction takes nothing with
//  it: the ones after it get the next seqs, none skipped. A failure that
//  rolls back the whole transaction fails the rest and the commit, and the
//  next transaction numbers from what is stored.
static void
test_failure_mid_batch (void **state)
{
    (void) state;
    uint8_t pair [16], group [16];
    msgstore_t *store = s_batch_store (pair, group);
    //  Another connection makes chosen tokens fail: one INSERT alone
    //  (ABORT), or the whole transaction (ROLLBACK)
    sqlite3 *db;
    assert_int_equal (sqlite3_open (s_path, &db), SQLITE_OK);
    assert_int_equal (sqlite3_exec (db,
        "CREATE TRIGGER test_fail BEFORE INSERT ON messages"
        " WHEN NEW.token = 'gABORT' BEGIN SELECT RAISE (ABORT, 'test'); END;"
        "CREATE TRIGGER test_rollback BEFORE INSERT ON messages"
        " WHEN NEW.token = 'gROLLBACK' BEGIN SELECT RAISE (ROLLBACK, 'test'); END;",
        NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close (db);
    const char *tokens [] = { "gA", "gB", "gABORT", "gC", "gB", "gD" };
    uint64_t want [] = { 1, 2, 0, 3, 2, 4 };
    int want_rc [] = { CHAT_OK, CHAT_OK, CHAT_ERR_INTERNAL, CHAT_OK, CHAT_OK, CHAT_OK };
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    for (size_t index = 0; index < 6; index++) {
        uint8_t cmid [16] = { 0 };
        //  the fifth resends the second
        cmid [0] = (uint8_t) (index == 4? 2: index + 1);
        uint64_t seq = 0;
        int64_t server_time;
        bool duplicate;
        assert_int_equal (msgstore_msg_add (store, pair, "alice", cmid, 16, tokens [index],
                                            strlen (tokens [index]), 1, 100, &seq,
                                            &server_time, &duplicate), want_rc [index]);
        if (want_rc [index] == CHAT_OK) {
            assert_int_equal (seq, want [index]);
            assert_int_equal (duplicate, index == 4);
        }
    }
    assert_int_equal (msgstore_commit (store), CHAT_OK);
    assert_int_equal (s_last_seq (store, pair), 4);
    s_assert_dense (store, pair);

    //  The whole transaction gone: nothing after it in it is stored or
    //  answered, the commit fails, and the next starts from seq 5
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    uint8_t e [16] = { 10 }, f [16] = { 11 }, g [16] = { 12 }, h [16] = { 13 };
    uint64_t seq;
    int64_t server_time;
    bool duplicate;
    assert_int_equal (msgstore_msg_add (store, pair, "alice", e, 16, "gE", 2, 1, 200, &seq,
                                        &server_time, &duplicate), CHAT_OK);
    assert_int_equal (seq, 5);
    assert_int_equal (msgstore_msg_add (store, pair, "alice", f, 16, "gROLLBACK", 9, 1, 200,
                                        &seq, &server_time, &duplicate), CHAT_ERR_INTERNAL);
    assert_int_equal (msgstore_msg_add (store, pair, "alice", g, 16, "gG", 2, 1, 200, &seq,
                                        &server_time, &duplicate), CHAT_ERR_INTERNAL);
    assert_int_not_equal (msgstore_commit (store), CHAT_OK);
    assert_int_equal (s_last_seq (store, pair), 4);
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    assert_int_equal (msgstore_msg_add (store, pair, "alice", h, 16, "gH", 2, 1, 300, &seq,
                                        &server_time, &duplicate), CHAT_OK);
    assert_int_equal (seq, 5);
    assert_int_equal (msgstore_commit (store), CHAT_OK);
    s_assert_dense (store, pair);

    //  Rolled back by the caller: the kept seq goes back with it
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    assert_int_equal (msgstore_msg_add (store, pair, "alice", e, 16, "gE", 2, 1, 400, &seq,
                                        &server_time, &duplicate), CHAT_OK);
    assert_int_equal (seq, 6);
    assert_int_equal (msgstore_rollback (store), CHAT_OK);
    assert_int_equal (msgstore_msg_add (store, pair, "alice", e, 16, "gE", 2, 1, 500, &seq,
                                        &server_time, &duplicate), CHAT_OK);
    assert_int_equal (seq, 6);
    assert_false (duplicate);
    s_assert_dense (store, pair);

    //  Another connection adds a message while nothing is open: seen at
    //  the next BEGIN (data_version), never given the same seq twice
    assert_int_equal (sqlite3_open (s_path, &db), SQLITE_OK);
    sqlite3_stmt *stmt;
    assert_int_equal (sqlite3_prepare_v2 (db,
        "INSERT INTO messages (conversation_id, seq, epoch, sender, server_time, token,"
        " client_message_id) VALUES (?1, 7, 1, 'bob', 1, 'gX', x'ff');"
        , -1, &stmt, NULL), SQLITE_OK);
    sqlite3_bind_blob (stmt, 1, pair, 16, SQLITE_STATIC);
    assert_int_equal (sqlite3_step (stmt), SQLITE_DONE);
    sqlite3_finalize (stmt);
    assert_int_equal (sqlite3_exec (db, "UPDATE conversations SET last_seq = 7"
                                        " WHERE last_seq = 6", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close (db);
    uint8_t k [16] = { 14 };
    assert_int_equal (msgstore_msg_add (store, pair, "bob", k, 16, "gK", 2, 1, 600, &seq,
                                        &server_time, &duplicate), CHAT_OK);
    assert_int_equal (seq, 8);
    s_assert_dense (store, pair);
    msgstore_destroy (&store);
}

//  The conversation rows are written before anything reads them, inside
//  the transaction too, and before a savepoint a rollback goes back to
static void
test_rows_read_current (void **state)
{
    (void) state;
    uint8_t pair [16], group [16];
    msgstore_t *store = s_batch_store (pair, group);
    uint8_t a [16] = { 1 }, b [16] = { 2 }, c [16] = { 3 };
    uint64_t seq;
    int64_t server_time;
    bool duplicate;
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    assert_int_equal (msgstore_msg_add (store, group, "bob", a, 16, "gA", 2, 1, 10, &seq,
                                        &server_time, &duplicate), CHAT_OK);
    assert_int_equal (s_last_seq (store, group), 1);
    //  A request's savepoint, rolled back after a message of its own
    assert_int_equal (msgstore_savepoint (store), CHAT_OK);
    assert_int_equal (msgstore_msg_add (store, group, "bob", b, 16, "gB", 2, 1, 20, &seq,
                                        &server_time, &duplicate), CHAT_OK);
    assert_int_equal (seq, 2);
    assert_int_equal (msgstore_savepoint_rollback (store), CHAT_OK);
    assert_int_equal (msgstore_msg_add (store, group, "bob", c, 16, "gC", 2, 1, 30, &seq,
                                        &server_time, &duplicate), CHAT_OK);
    assert_int_equal (seq, 2);
    assert_int_equal (msgstore_commit (store), CHAT_OK);
    msgstore_conv_t conv;
    assert_int_equal (msgstore_conv_get (store, group, 16, &conv), CHAT_OK);
    assert_int_equal (conv.last_seq, 2);
    assert_int_equal (conv.last_time, 30);
    s_assert_dense (store, group);
    msgstore_destroy (&store);
}

//  A store written by a newer program than this one is refused, not used
static void
test_newer_schema_refused (void **state)
{
    (void) state;
    msgstore_t *store = msgstore_open (s_path);
    assert_non_null (store);
    msgstore_destroy (&store);
    if (s_pg_url)
        s_pg_exec ("UPDATE schema_version SET version = 99");
    else {
        sqlite3 *db;
        assert_int_equal (sqlite3_open (s_path, &db), SQLITE_OK);
        assert_int_equal (sqlite3_exec (db, "PRAGMA user_version = 99", NULL, NULL, NULL),
                          SQLITE_OK);
        sqlite3_close (db);
    }
    assert_null (msgstore_open (s_path));
}

//  The engine is the one the URL names: a test run meant for PostgreSQL
//  that quietly ran on SQLite would prove nothing
static void
test_pg_engine (void **state)
{
    (void) state;
    msgstore_t *store = msgstore_open (s_path);
    assert_non_null (store);
    assert_string_equal (msgstore_engine (store), "postgresql");
    msgstore_destroy (&store);
    char url [600];
    snprintf (url, sizeof url, "postgres%s", s_pg_url + strlen ("postgresql"));
    store = msgstore_open (url);
    assert_non_null (store);
    assert_string_equal (msgstore_engine (store), "postgresql");
    msgstore_destroy (&store);
    //  A database that is not there: refused, with the reason logged
    snprintf (url, sizeof url, "%s", s_pg_url);
    char *name = strstr (url, "/chat?");
    assert_non_null (name);
    memcpy (name, "/nope?", 6);
    assert_null (msgstore_open (url));
}

//  COMMIT fails (a deferred check the test adds refuses one message at
//  commit time, after every call answered): the batch is reported failed,
//  every add says INTERNAL, nothing of it is stored, and sending it again
//  without the poison stores it from seq 1, none a duplicate
static void
test_pg_commit_fails (void **state)
{
    (void) state;
    uint8_t pair [16], group [16];
    msgstore_t *store = s_batch_store (pair, group);
    s_pg_exec ("CREATE FUNCTION test_poison () RETURNS trigger LANGUAGE plpgsql AS $$"
               " BEGIN IF NEW.token = 'poison' THEN RAISE EXCEPTION 'poisoned commit';"
               " END IF; RETURN NULL; END $$;"
               "CREATE CONSTRAINT TRIGGER test_poison AFTER INSERT ON messages"
               " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_poison ()");
    uint8_t c1 [16] = { 1 }, c2 [16] = { 2 }, c3 [16] = { 3 };
    msgstore_add_t adds [] = {
        s_add (pair, "alice", c1, "gAAA1", 1, 100),
        s_add (group, "bob", c2, "poison", 1, 101),
        s_add (pair, "alice", c3, "gAAA3", 1, 102),
    };
    assert_int_equal (msgstore_msg_add_batch (store, adds, 3), CHAT_ERR_INTERNAL);
    for (size_t index = 0; index < 3; index++) {
        assert_int_equal (adds [index].status, CHAT_ERR_INTERNAL);
        assert_false (adds [index].duplicate);
    }
    assert_int_equal (s_last_seq (store, pair), 0);
    assert_int_equal (s_last_seq (store, group), 0);
    uint64_t seqs [8] = { 0 };
    assert_int_equal (msgstore_msg_each (store, pair, 0, 10, s_count_msg, seqs), CHAT_OK);
    assert_int_equal (seqs [0], 0);
    //  The same through begin ... commit: msg_add answers, COMMIT does not
    uint64_t seq;
    int64_t time;
    bool duplicate;
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    assert_int_equal (msgstore_msg_add (store, group, "bob", c2, 16, "poison", 6, 1, 5,
                                        &seq, &time, &duplicate), CHAT_OK);
    assert_int_equal (msgstore_commit (store), CHAT_ERR_INTERNAL);
    assert_int_equal (s_last_seq (store, group), 0);
    //  The clients' retries then succeed, as first copies
    adds [1] = s_add (group, "bob", c2, "gAAA2", 1, 101);
    assert_int_equal (msgstore_msg_add_batch (store, adds, 3), CHAT_OK);
    assert_int_equal (adds [0].seq, 1);
    assert_int_equal (adds [1].seq, 1);
    assert_int_equal (adds [2].seq, 2);
    for (size_t index = 0; index < 3; index++) {
        assert_int_equal (adds [index].status, CHAT_OK);
        assert_false (adds [index].duplicate);
    }
    msgstore_destroy (&store);
}

//  The connection breaks (its backend is killed): the next batch fails,
//  nothing acknowledged; the one after connects again and stores
static void
test_pg_connection_lost (void **state)
{
    (void) state;
    uint8_t pair [16], group [16];
    msgstore_t *store = s_batch_store (pair, group);
    uint8_t c1 [16] = { 1 }, c2 [16] = { 2 };
    msgstore_add_t adds [] = {
        s_add (pair, "alice", c1, "gAAA1", 1, 100),
        s_add (group, "bob", c2, "gAAA2", 1, 101),
    };
    const char *kill = "SELECT pg_terminate_backend (pid) FROM pg_stat_activity"
                       " WHERE application_name = 'chat-mainserver'";
    s_pg_exec (kill);
    assert_int_equal (msgstore_msg_add_batch (store, adds, 2), CHAT_ERR_INTERNAL);
    assert_int_equal (adds [0].status, CHAT_ERR_INTERNAL);
    assert_int_equal (msgstore_msg_add_batch (store, adds, 2), CHAT_OK);
    assert_int_equal (adds [0].seq, 1);
    assert_false (adds [0].duplicate);
    assert_int_equal (adds [1].seq, 1);
    //  Through begin ... commit: the transaction fails, the next one works
    s_pg_exec (kill);
    assert_int_not_equal (msgstore_begin (store), CHAT_OK);
    assert_int_equal (msgstore_rollback (store), CHAT_OK);
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    uint64_t seq;
    int64_t time;
    bool duplicate;
    uint8_t c3 [16] = { 3 };
    assert_int_equal (msgstore_msg_add (store, pair, "bob", c3, 16, "gAAA3", 5, 1, 200,
                                        &seq, &time, &duplicate), CHAT_OK);
    assert_int_equal (seq, 2);
    assert_int_equal (msgstore_commit (store), CHAT_OK);
    assert_int_equal (s_last_seq (store, pair), 2);
    msgstore_destroy (&store);
}

//  SQLite: each commit syncs the WAL before it returns (synchronous=FULL;
//  NORMAL in WAL mode syncs only at checkpoints), a commit whose sync fails
//  is refused and leaves nothing, and the store's connection had
//  synchronous FULL or EXTRA as it closed (faultvfs.h)
static void
test_sqlite_full_sync (void **state)
{
    (void) state;
    faultvfs_watch (s_dir);
    msgstore_t *store = msgstore_open (s_path);
    assert_non_null (store);
    uint64_t syncs = faultvfs_log_syncs ();
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    s_add_user (store, "alice", 2);
    assert_int_equal (msgstore_commit (store), CHAT_OK);
    assert_true (faultvfs_log_syncs () > syncs);
    faultvfs_fail (FAULTVFS_SYNC);
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    s_add_user (store, "bob", 3);
    assert_int_equal (msgstore_commit (store), CHAT_ERR_INTERNAL);
    faultvfs_fail (FAULTVFS_NONE);
    assert_true (faultvfs_failed () > 0);
    msgstore_user_t user;
    assert_int_equal (msgstore_user_get (store, "bob", &user), CHAT_ERR_UNKNOWN_USER);
    //  and the store goes on: the same write, again, commits
    syncs = faultvfs_log_syncs ();
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    s_add_user (store, "bob", 3);
    assert_int_equal (msgstore_commit (store), CHAT_OK);
    assert_true (faultvfs_log_syncs () > syncs);
    assert_int_equal (msgstore_user_get (store, "bob", &user), CHAT_OK);
    msgstore_destroy (&store);
    int synchronous;
    assert_int_equal (faultvfs_closed (s_path, &synchronous), 1);
    if (synchronous < 2)
        fail_msg ("the store's connection had PRAGMA synchronous = %d (FULL is 2)",
                  synchronous);
    faultvfs_watch (NULL);
}

//  PostgreSQL's setting, as a new connection sees it
static char *
s_pg_setting (const char *name)
{
    PGconn *conn = PQconnectdb (s_pg_url);
    assert_int_equal (PQstatus (conn), CONNECTION_OK);
    const char *params [] = { name };
    PGresult *res = PQexecParams (conn, "SELECT current_setting ($1)", 1, NULL, params,
                                  NULL, NULL, 0);
    assert_int_equal (PQresultStatus (res), PGRES_TUPLES_OK);
    char *value = strdup (PQgetvalue (res, 0, 0));
    PQclear (res);
    PQfinish (conn);
    return value;
}

//  ALTER SYSTEM SET name = value (NULL: RESET), reloaded, and waited for
//  until new connections see it
static void
s_pg_system (const char *name, const char *value, const char *expect)
{
    char sql [128];
    if (value)
        snprintf (sql, sizeof sql, "ALTER SYSTEM SET %s = %s", name, value);
    else
        snprintf (sql, sizeof sql, "ALTER SYSTEM RESET %s", name);
    s_pg_exec (sql);
    s_pg_exec ("SELECT pg_reload_conf ()");
    for (int tries = 0; tries < 200; tries++) {
        char *now = s_pg_setting (name);
        bool there = streq (now, expect);
        free (now);
        if (there)
            return;
        zclock_sleep (50);
    }
    fail_msg ("PostgreSQL did not take %s = %s", name, expect);
}

//  A PostgreSQL server running with fsync off is refused: its commits
//  would not be on disk when acknowledged
static void
test_pg_refuses_fsync_off (void **state)
{
    (void) state;
    s_pg_system ("fsync", "off", "off");
    msgstore_t *store = msgstore_open (s_path);
    s_pg_system ("fsync", NULL, "on");
    if (store) {
        msgstore_destroy (&store);
        fail_msg ("a PostgreSQL store was opened on a server with fsync off");
    }
    store = msgstore_open (s_path);
    assert_non_null (store);
    msgstore_destroy (&store);
}

//  The cluster's calls: on SQLite (one server) none works; on PostgreSQL a
//  server registers, beats, is listed and leaves
typedef struct {
    size_t count;
    msgstore_server_t last;
} servers_seen_t;

static int
s_server_seen (const msgstore_server_t *server, void *arg)
{
    servers_seen_t *seen = (servers_seen_t *) arg;
    seen->count++;
    seen->last = *server;
    return 0;
}

static void
test_cluster_calls (void **state)
{
    (void) state;
    msgstore_t *store = msgstore_open (s_path);
    assert_non_null (store);
    msgstore_server_t server = { .id = "host/tcp://127.0.0.1:1", .client_endpoint =
                                 "tcp://127.0.0.1:1", .push_endpoint = "tcp://127.0.0.1:2",
                                 .started_at = 1234, .sessions = 3 };
    servers_seen_t seen = { 0 };
    if (!s_pg_url) {
        assert_int_equal (msgstore_notify (store, "chat_commit", "m"), CHAT_ERR_BAD_REQUEST);
        assert_int_equal (msgstore_backend_pid (store), 0);
        assert_int_equal (msgstore_server_beat (store, &server), CHAT_ERR_BAD_REQUEST);
        assert_int_equal (msgstore_server_each (store, s_server_seen, &seen),
                          CHAT_ERR_BAD_REQUEST);
        msgstore_destroy (&store);
        return;
    }
    assert_true (msgstore_backend_pid (store) > 0);
    assert_int_equal (msgstore_server_beat (store, &server), CHAT_OK);
    server.sessions = 5;
    assert_int_equal (msgstore_server_beat (store, &server), CHAT_OK);
    assert_int_equal (msgstore_server_each (store, s_server_seen, &seen), CHAT_OK);
    assert_int_equal (seen.count, 1);
    assert_string_equal (seen.last.id, server.id);
    assert_string_equal (seen.last.push_endpoint, "tcp://127.0.0.1:2");
    assert_int_equal (seen.last.started_at, 1234);
    assert_int_equal (seen.last.sessions, 5);
    assert_true (seen.last.heartbeat_age_ms >= 0 && seen.last.heartbeat_age_ms < 60000);
    assert_int_equal (msgstore_server_remove (store, server.id), CHAT_OK);
    seen.count = 0;
    assert_int_equal (msgstore_server_each (store, s_server_seen, &seen), CHAT_OK);
    assert_int_equal (seen.count, 0);
    //  Never inside a transaction (it would lock the cluster through the
    //  commit), never over the limit
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    assert_int_not_equal (msgstore_notify (store, "chat_commit", "m"), CHAT_OK);
    assert_int_equal (msgstore_rollback (store), CHAT_OK);
    char *big = (char *) malloc (MSGSTORE_NOTIFY_MAX + 2);
    memset (big, 'x', MSGSTORE_NOTIFY_MAX + 1);
    big [MSGSTORE_NOTIFY_MAX + 1] = 0;
    assert_int_equal (msgstore_notify (store, "chat_commit", big), CHAT_ERR_BAD_REQUEST);
    free (big);
    msgstore_destroy (&store);
}

//  The doorbell: 300 conversations' messages and 5 changed ones, rung
//  after a batch, arrive at a listener as 'c' then 'm' payloads, each
//  under the NOTIFY limit (split), naming each conversation once with its
//  first and last seq, from the store connection's backend
static void
test_pg_doorbell (void **state)
{
    (void) state;
    msgstore_t *store = msgstore_open (s_path);
    assert_non_null (store);
    PGconn *listener = PQconnectdb (s_pg_url);
    assert_int_equal (PQstatus (listener), CONNECTION_OK);
    PGresult *res = PQexec (listener, "LISTEN " MSBELL_CHANNEL);
    assert_int_equal (PQresultStatus (res), PGRES_COMMAND_OK);
    PQclear (res);
    msbell_t *bell = msbell_new ();
    for (int index = 0; index < 300; index++) {
        uint8_t id [MSGSTORE_ID_SIZE] = { (uint8_t) (index >> 8), (uint8_t) index, 7 };
        msbell_message (bell, id, 10);
        msbell_message (bell, id, 12);
        msbell_message (bell, id, 11);
        if (index < 5)
            msbell_changed (bell, id);
    }
    uint64_t pushed = 0;
    uint8_t first_id [MSGSTORE_ID_SIZE] = { 0, 0, 7 };
    assert_true (msbell_pushed (bell, first_id, &pushed));
    assert_int_equal (pushed, 12);
    msbell_ring (bell, store);
    //  Rung and forgotten: a second ring says nothing
    msbell_ring (bell, store);
    size_t payloads = 0, messages = 0, changed = 0;
    bool seen_m = false;
    int64_t deadline = zclock_mono () + 10000;
    while (zclock_mono () < deadline && messages < 300) {
        assert_int_equal (PQconsumeInput (listener), 1);
        PGnotify *notify;
        while ((notify = PQnotifies (listener))) {
            payloads++;
            assert_int_equal (notify->be_pid, msgstore_backend_pid (store));
            assert_true (strlen (notify->extra) <= MSGSTORE_NOTIFY_MAX);
            char kind = notify->extra [0];
            assert_true (kind == 'm' || kind == 'c');
            assert_false (kind == 'c' && seen_m);       //  changes first
            seen_m = seen_m || kind == 'm';
            const char *cursor = notify->extra + 1;
            while (*cursor == ' ') {
                cursor += 1 + MSGSTORE_ID_SIZE * 2;
                if (kind == 'm') {
                    assert_int_equal (strncmp (cursor, ":10:12", 6), 0);
                    cursor += 6;
                    messages++;
                }
                else
                    changed++;
            }
            assert_int_equal (*cursor, 0);
            PQfreemem (notify);
        }
        zclock_sleep (10);
    }
    assert_int_equal (messages, 300);
    assert_int_equal (changed, 5);
    //  300 entries of 39 bytes: the messages split in two or more, one for
    //  the changes
    assert_true (payloads >= 3);
    msbell_destroy (&bell);
    PQfinish (listener);
    msgstore_destroy (&store);
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
        cmocka_unit_test_setup_teardown (test_conversations_and_messages, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_chain_append, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_read_markers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_batch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_newer_schema_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cluster_calls, s_setup, s_teardown),
    };
    //  What only SQLite has: its files, its query plans, its older schemas
    const struct CMUnitTest sqlite_only [] = {
        cmocka_unit_test_setup_teardown (test_page_uses_primary_key, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_protocol_1_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_migrate_3_to_4, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_schema_2_migrated, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sqlite_full_sync, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_statements_per_message, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_failure_mid_batch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_rows_read_current, s_setup, s_teardown),
    };
    const struct CMUnitTest pg_only [] = {
        cmocka_unit_test_setup_teardown (test_pg_engine, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pg_commit_fails, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pg_connection_lost, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pg_refuses_fsync_off, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_pg_doorbell, s_setup, s_teardown),
    };
    //  SQLite's files go through the test VFS (faultvfs.h), opened as in
    //  production
    if (!s_pg_url && faultvfs_install ())
        return 1;
    printf ("test_msgstore: on %s\n", s_pg_url? "PostgreSQL (CHAT_TEST_PG_URL)": "SQLite");
    int rc = cmocka_run_group_tests_name ("both engines", both, NULL, NULL);
    if (s_pg_url)
        rc += cmocka_run_group_tests_name ("postgresql", pg_only, NULL, NULL);
    else
        rc += cmocka_run_group_tests_name ("sqlite", sqlite_only, NULL, NULL);
    testkeys_free ();
    return rc;
}
