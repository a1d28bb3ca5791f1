/*  test_cl_convs - cl_convs alone over real sessions, request queues and
    links to both servers in-process, two or three users each with their
    own stack: a conversation made and pushed to the other, its key made by
    one and fetched by the other, messages both ways, a lost push (the gap
    is fetched, messages come in order, each once), history, members, a
    latecomer's history, and what the end of a session does to commands
    still waiting

    The layer above is the test: its recorder is the conversations'
    listener.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "cltest.h"
#include "chaterror.h"

//  ---------------------------------------------------------------- helpers

static cltest_stack_t *
s_user (cltest_servers_t *servers, const char *name, bool login)
{
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_CONVS, NULL);
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_session_register (stack->session, cmd, name, "pw");
    assert_non_null (cltest_stack_wait_public (stack, CHATCLIENT_EV_REGISTERED, cmd, 0,
                                               CLTEST_WAIT));
    if (login) {
        cmd = cltest_stack_cmd (stack);
        cl_session_login (stack->session, cmd, name, "pw");
        assert_non_null (cltest_stack_wait_public (stack, CHATCLIENT_EV_LOGGED_IN, cmd, 0,
                                                   CLTEST_WAIT));
        //  the first list comes by itself, as the session comes up
        assert_non_null (cltest_stack_wait_public (stack, CHATCLIENT_EV_CONVERSATIONS, 0, 0,
                                                   CLTEST_WAIT));
    }
    return stack;
}

static void
s_login (cltest_stack_t *stack, const char *name)
{
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_session_login (stack->session, cmd, name, "pw");
    assert_non_null (cltest_stack_wait_public (stack, CHATCLIENT_EV_LOGGED_IN, cmd, 0,
                                               CLTEST_WAIT));
}

//  Send text and wait until the server stored it; its seq.
static uint64_t
s_send (cltest_stack_t *stack, const uint8_t *id, const char *text)
{
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_convs_send (stack->convs, cmd, id, text, strlen (text));
    chatclient_event_t *sent = cltest_stack_wait_public (stack, CHATCLIENT_EV_SENT, cmd, 0,
                                                         CLTEST_WAIT);
    assert_non_null (sent);
    assert_non_null (sent->message);
    assert_string_equal (sent->message->text, text);
    assert_true (sent->message->local);
    return sent->message->seq;
}

//  The MESSAGE events recorded from index from on, in order.
static size_t
s_messages (cltest_stack_t *stack, size_t from, const chatclient_message_t **out, size_t max)
{
    size_t count = 0;
    for (size_t i = from; i < cltest_recorder_size (stack->recorder); i++) {
        cltest_event_t *event = cltest_recorder_at (stack->recorder, i);
        if (event->kind == CL_EV_PUBLIC && event->pub->type == CHATCLIENT_EV_MESSAGE
        &&  count < max)
            out [count++] = event->pub->message;
    }
    return count;
}

typedef struct {
    size_t from;
    size_t count;
} s_since_t;

//  At least count MESSAGE events since from.
static bool
s_has_messages (cltest_stack_t *stack, void *arg)
{
    s_since_t *since = (s_since_t *) arg;
    const chatclient_message_t *messages [8];
    return s_messages (stack, since->from, messages, 8) >= since->count;
}

//  ---------------------------------------------------------------- tests

static void
test_conversation (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *ann = s_user (servers, "ann", true);
    cltest_stack_t *ben = s_user (servers, "ben", true);
    assert_int_equal (cl_convs_count (ann->convs), 0);

    //  ann makes it; ben hears of it by push
    uint32_t cmd = cltest_stack_cmd (ann);
    const char *others [] = { "ben" };
    cl_convs_create (ann->convs, cmd, others, 1);
    chatclient_event_t *made = cltest_stack_wait_public (ann, CHATCLIENT_EV_CONVERSATION,
                                                         cmd, 0, CLTEST_WAIT);
    assert_non_null (made);
    assert_int_equal (made->conversation->member_count, 2);
    assert_string_equal (made->conversation->members [0], "ann");
    assert_string_equal (made->conversation->members [1], "ben");
    uint8_t id [CHATCLIENT_ID_SIZE];
    memcpy (id, made->conversation->id, CHATCLIENT_ID_SIZE);
    assert_int_equal (cl_convs_count (ann->convs), 1);
    assert_non_null (cl_convs_find (ann->convs, id));
    chatclient_event_t *pushed = cltest_stack_wait_public (ben, CHATCLIENT_EV_CONVERSATION,
                                                           0, 0, CLTEST_WAIT);
    assert_non_null (pushed);
    assert_memory_equal (pushed->conversation->id, id, CHATCLIENT_ID_SIZE);
    assert_non_null (cl_convs_find (ben->convs, id));

    //  a message: sealed under the key ann made, opened with the key ben
    //  fetched with his ticket
    size_t ben_mark = cltest_recorder_size (ben->recorder);
    assert_int_equal (s_send (ann, id, "hello"), 1);
    chatclient_event_t *got = cltest_stack_wait_public (ben, CHATCLIENT_EV_MESSAGE, 0,
                                                        ben_mark, CLTEST_WAIT);
    assert_non_null (got);
    assert_int_equal (got->message->seq, 1);
    assert_string_equal (got->message->sender, "ann");
    assert_string_equal (got->message->text, "hello");
    assert_true (got->message->live);
    assert_false (got->message->local);
    assert_int_equal (cl_convs_find (ben->convs, id)->unread, 1);

    //  two more, and ben loses the first one's push: the second shows the
    //  gap, the missing one is fetched, both come in order, each once
    ben_mark = cltest_recorder_size (ben->recorder);
    size_t pushes_before = cltest_recorder_count (ben->recorder, CL_EV_LINK_PUSH, -1);
    assert_int_equal (s_send (ann, id, "two"), 2);
    assert_int_equal (s_send (ann, id, "three"), 3);
    zsock_t *socks [4];
    assert_int_equal (cl_link_sockets (ben->links [CHATCLIENT_MAINSERVER], socks, 4), 3);
    zsock_t *push = socks [1];
    zsock_set_rcvtimeo (push, CLTEST_WAIT);
    zmsg_t *lost = zmsg_recv (push);
    assert_non_null (lost);
    zmsg_destroy (&lost);
    assert_non_null (cltest_stack_wait (ben, CL_EV_LINK_PUSH, CHATCLIENT_MAINSERVER,
                                        ben_mark, CLTEST_WAIT));
    s_since_t since = { ben_mark, 2 };
    assert_true (cltest_stack_run (ben, CLTEST_WAIT, s_has_messages, &since));
    cltest_stack_run (ben, 300, NULL, NULL);        //  nothing more comes
    const chatclient_message_t *messages [8];
    assert_int_equal (s_messages (ben, ben_mark, messages, 8), 2);
    //  one push arrived: the other message was fetched
    assert_int_equal (cltest_recorder_count (ben->recorder, CL_EV_LINK_PUSH, -1)
                      - pushes_before, 1);
    assert_int_equal (messages [0]->seq, 2);
    assert_string_equal (messages [0]->text, "two");
    assert_int_equal (messages [1]->seq, 3);
    assert_string_equal (messages [1]->text, "three");
    assert_int_equal (cl_convs_message_count (ben->convs, id), 3);
    assert_string_equal (cl_convs_message (ben->convs, id, 0)->text, "hello");

    //  history after seq 1, open (marks read), members
    cmd = cltest_stack_cmd (ben);
    cl_convs_history (ben->convs, cmd, id, 1);
    chatclient_event_t *history = cltest_stack_wait_public (ben, CHATCLIENT_EV_HISTORY, cmd,
                                                            0, CLTEST_WAIT);
    assert_non_null (history);
    assert_int_equal (history->message_count, 2);
    assert_string_equal (history->messages [0].text, "two");
    assert_string_equal (history->messages [1].text, "three");
    assert_int_equal (cl_convs_find (ben->convs, id)->unread, 3);
    cmd = cltest_stack_cmd (ben);
    cl_convs_open (ben->convs, cmd, id);
    assert_non_null (cltest_stack_wait_public (ben, CHATCLIENT_EV_OPENED, cmd, 0,
                                               CLTEST_WAIT));
    assert_int_equal (cl_convs_find (ben->convs, id)->unread, 0);
    cmd = cltest_stack_cmd (ben);
    cl_convs_members (ben->convs, cmd, id);
    chatclient_event_t *members = cltest_stack_wait_public (ben, CHATCLIENT_EV_MEMBERS, cmd,
                                                            0, CLTEST_WAIT);
    assert_non_null (members);
    assert_int_equal (members->conversation->member_count, 2);

    //  and back: ben answers, ann reads it
    size_t ann_mark = cltest_recorder_size (ann->recorder);
    assert_int_equal (s_send (ben, id, "hi ann"), 4);
    got = cltest_stack_wait_public (ann, CHATCLIENT_EV_MESSAGE, 0, ann_mark, CLTEST_WAIT);
    assert_non_null (got);
    while (got && got->message->seq != 4)
        got = cltest_stack_wait_public (ann, CHATCLIENT_EV_MESSAGE, 0, ++ann_mark, CLTEST_WAIT);
    assert_non_null (got);
    assert_string_equal (got->message->text, "hi ann");
    cltest_stack_destroy (&ben);
    cltest_stack_destroy (&ann);
}

static void
test_latecomer_and_session_end (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *fay = s_user (servers, "fay", true);
    cltest_stack_t *gus = s_user (servers, "gus", false);        //  not logged in yet
    cltest_stack_t *hal = s_user (servers, "hal", false);
    uint32_t cmd = cltest_stack_cmd (fay);
    const char *others [] = { "gus", "hal" };
    cl_convs_create (fay->convs, cmd, others, 2);
    chatclient_event_t *made = cltest_stack_wait_public (fay, CHATCLIENT_EV_CONVERSATION,
                                                         cmd, 0, CLTEST_WAIT);
    assert_non_null (made);
    assert_int_equal (made->conversation->member_count, 3);
    uint8_t id [CHATCLIENT_ID_SIZE];
    memcpy (id, made->conversation->id, CHATCLIENT_ID_SIZE);
    s_send (fay, id, "before you came");

    //  gus logs in: the conversation is listed with what it holds, which
    //  is history, not news
    size_t mark = cltest_recorder_size (gus->recorder);
    s_login (gus, "gus");
    chatclient_event_t *list = cltest_stack_wait_public (gus, CHATCLIENT_EV_CONVERSATIONS, 0,
                                                         mark, CLTEST_WAIT);
    assert_non_null (list);
    assert_int_equal (list->conversation_count, 1);
    assert_int_equal (list->conversations [0].last_seq, 1);
    cltest_stack_run (gus, 300, NULL, NULL);
    assert_null (cltest_recorder_public (gus->recorder, CHATCLIENT_EV_MESSAGE, 0, mark));
    assert_int_equal (cl_convs_message_count (gus->convs, id), 0);
    //  opening loads it, as history
    cmd = cltest_stack_cmd (gus);
    cl_convs_open (gus->convs, cmd, id);
    assert_non_null (cltest_stack_wait_public (gus, CHATCLIENT_EV_OPENED, cmd, mark,
                                               CLTEST_WAIT));
    chatclient_event_t *old = cltest_recorder_public (gus->recorder, CHATCLIENT_EV_MESSAGE,
                                                      0, mark);
    assert_non_null (old);
    assert_string_equal (old->message->text, "before you came");
    assert_false (old->message->live);
    assert_int_equal (cl_convs_find (gus->convs, id)->unread, 0);

    //  the session ends under a command still waiting (an open catching
    //  up): it fails with NOT_LOGGED_IN, and nothing of the conversations
    //  stays
    uint32_t waiting = cltest_stack_cmd (gus);
    cl_convs_open (gus->convs, waiting, id);
    assert_null (cltest_recorder_public (gus->recorder, CHATCLIENT_EV_OPENED, waiting, 0));
    cl_session_logout (gus->session, cltest_stack_cmd (gus));
    chatclient_event_t *failed = cltest_recorder_public (gus->recorder, CHATCLIENT_EV_ERROR,
                                                         waiting, 0);
    assert_non_null (failed);
    assert_int_equal (failed->code, CHAT_ERR_NOT_LOGGED_IN);
    assert_int_equal (cl_convs_count (gus->convs), 0);
    assert_null (cl_convs_find (gus->convs, id));
    assert_int_equal (cl_convs_message_count (gus->convs, id), 0);
    cltest_stack_destroy (&hal);
    cltest_stack_destroy (&gus);
    cltest_stack_destroy (&fay);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup (test_conversation, cltest_test_setup),
        cmocka_unit_test_setup (test_latecomer_and_session_end, cltest_test_setup),
    };
    return cmocka_run_group_tests (tests, cltest_group_setup, cltest_group_teardown);
}
