/*  test_msgstore - the main server's SQLite store on its own  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "chaterror.h"
#include "msgstore.h"

static char s_dir [64];
static char s_path [128];

static int
s_setup (void **state)
{
    (void) state;
    strcpy (s_dir, "/tmp/test_msgstore.XXXXXX");
    assert_non_null (mkdtemp (s_dir));
    snprintf (s_path, sizeof s_path, "%s/mainserver.db", s_dir);
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

static void
test_users (void **state)
{
    (void) state;
    msgstore_t *store = msgstore_open (s_path);
    assert_non_null (store);
    bool added = false;
    assert_int_equal (msgstore_user_add (store, "Alice", 1, &added), CHAT_OK);
    assert_true (added);
    assert_int_equal (msgstore_user_add (store, "ALICE", 2, &added), CHAT_OK);
    assert_false (added);
    char *name = NULL;
    assert_int_equal (msgstore_user_find (store, "alice", &name), CHAT_OK);
    assert_string_equal (name, "Alice");
    free (name);
    assert_int_equal (msgstore_user_find (store, "nobody", &name), CHAT_ERR_UNKNOWN_USER);
    assert_null (name);
    msgstore_destroy (&store);
    assert_null (store);
}

static void
test_conversations_and_messages (void **state)
{
    (void) state;
    msgstore_t *store = msgstore_open (s_path);
    assert_non_null (store);
    assert_int_equal (msgstore_user_add (store, "Alice", 1, NULL), CHAT_OK);
    assert_int_equal (msgstore_user_add (store, "bob", 1, NULL), CHAT_OK);
    assert_int_equal (msgstore_user_add (store, "carol", 1, NULL), CHAT_OK);

    const char *pair [] = { "Alice", "bob" };
    const char *pair_reversed [] = { "BOB", "alice" };
    const char *group [] = { "Alice", "bob", "carol" };
    msgstore_conv_t one, two, g1, g2;
    bool created;
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    assert_int_equal (msgstore_conv_open (store, pair, 2, 10, &one, &created), CHAT_OK);
    assert_true (created);
    assert_int_equal (msgstore_conv_open (store, pair_reversed, 2, 11, &two, &created), CHAT_OK);
    assert_false (created);
    assert_memory_equal (one.id, two.id, MSGSTORE_ID_SIZE);
    assert_int_equal (msgstore_conv_open (store, group, 3, 12, &g1, &created), CHAT_OK);
    assert_true (created);
    assert_int_equal (msgstore_conv_open (store, group, 3, 13, &g2, &created), CHAT_OK);
    assert_true (created);
    assert_memory_not_equal (g1.id, g2.id, MSGSTORE_ID_SIZE);
    assert_int_equal (msgstore_commit (store), CHAT_OK);

    msgstore_conv_t conv;
    assert_int_equal (msgstore_conv_get_as_member (store, one.id, 16, "ALICE", &conv), CHAT_OK);
    assert_int_equal (msgstore_conv_get_as_member (store, one.id, 16, "carol", &conv),
                      CHAT_ERR_NOT_FOUND);
    assert_int_equal (msgstore_conv_get_as_member (store, one.id, 15, "alice", &conv),
                      CHAT_ERR_NOT_FOUND);
    zlistx_t *names;
    assert_int_equal (msgstore_conv_members (store, g1.id, &names), CHAT_OK);
    assert_int_equal (zlistx_size (names), 3);
    assert_string_equal ((char *) zlistx_first (names), "Alice");
    assert_string_equal ((char *) zlistx_next (names), "bob");
    assert_string_equal ((char *) zlistx_next (names), "carol");
    zlistx_destroy (&names);

    //  Sequence numbers from the store; a retry stores nothing.
    uint8_t cmid [16] = { 1 };
    uint64_t seq;
    int64_t time;
    bool duplicate;
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    for (int index = 0; index < 30; index++) {
        cmid [1] = (uint8_t) index;
        assert_int_equal (msgstore_msg_add (store, one.id, "Alice", cmid, 16, "gAAA", 4,
                                            100 + index, &seq, &time, &duplicate), CHAT_OK);
        assert_int_equal (seq, index + 1);
        assert_false (duplicate);
    }
    cmid [1] = 3;
    assert_int_equal (msgstore_msg_add (store, one.id, "Alice", cmid, 16, "gAAA", 4,
                                        999, &seq, &time, &duplicate), CHAT_OK);
    assert_true (duplicate);
    assert_int_equal (seq, 4);
    assert_int_equal (time, 103);
    //  The same id from someone else is refused, not confused with it.
    assert_int_equal (msgstore_msg_add (store, one.id, "bob", cmid, 16, "gAAA", 4,
                                        999, &seq, &time, &duplicate), CHAT_ERR_BAD_REQUEST);
    uint8_t unknown [16] = { 0 };
    cmid [1] = 200;
    assert_int_equal (msgstore_msg_add (store, unknown, "Alice", cmid, 16, "gAAA", 4,
                                        999, &seq, &time, &duplicate), CHAT_ERR_NOT_FOUND);
    assert_int_equal (msgstore_commit (store), CHAT_OK);

    uint64_t seqs [64] = { 0 };
    assert_int_equal (msgstore_msg_each (store, one.id, 25, 100, s_count_msg, seqs), CHAT_OK);
    assert_int_equal (seqs [0], 5);
    assert_int_equal (seqs [1], 26);
    assert_int_equal (seqs [5], 30);
    memset (seqs, 0, sizeof seqs);
    assert_int_equal (msgstore_msg_each (store, one.id, 0, 10, s_count_msg, seqs), CHAT_OK);
    assert_int_equal (seqs [0], 10);
    assert_int_equal (seqs [10], 10);
    msgstore_destroy (&store);

    //  Reopened: all there, and the next seq carries on.
    store = msgstore_open (s_path);
    assert_non_null (store);
    assert_int_equal (msgstore_conv_get (store, one.id, 16, &conv), CHAT_OK);
    assert_int_equal (conv.last_seq, 30);
    assert_int_equal (conv.last_time, 129);
    cmid [1] = 201;
    assert_int_equal (msgstore_msg_add (store, one.id, "bob", cmid, 16, "gAAA", 4,
                                        1000, &seq, &time, &duplicate), CHAT_OK);
    assert_int_equal (seq, 31);
    char *token = NULL;
    assert_int_equal (msgstore_msg_last_token (store, one.id, &token), CHAT_OK);
    assert_string_equal (token, "gAAA");
    free (token);
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
        "EXPLAIN QUERY PLAN SELECT seq, sender, server_time, token, client_message_id"
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
    assert_int_equal (sqlite3_open (s_path, &db), SQLITE_OK);
    assert_int_equal (sqlite3_exec (db, "PRAGMA user_version = 2", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close (db);
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_users),
        cmocka_unit_test (test_conversations_and_messages),
        cmocka_unit_test (test_page_uses_primary_key),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
