/*  test_cl_requests - cl_requests alone over real links to the servers
    in-process: a reply reaches its submitter (and only it) with what it
    gave; a reply of the wrong body fails as malformed; the login gate and
    a login the server lost; a link that dies under requests in flight
    (the safe ones go again, the others fail); a command that waits too
    long; a refused link; requests dropped with the session; fail_fast
    requests for a server where nothing listens

    The layer above is the test: its recorder is the listener, and each
    request's callback writes down how it ended.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "cltest.h"
#include "chaterror.h"
#include "wire.h"

//  ---------------------------------------------------------------- helpers

//  How requests ended, as their callback saw it.
#define MAX_ENDS 16
typedef struct {
    int tag;
    uint32_t cmd;
    void *data;
    int code;
    char text [256];
    int body;                   //  the reply's body case, or -1
} s_end_t;

static struct {
    s_end_t ends [MAX_ENDS];
    size_t count;
    bool refuse_replies;        //  the callback says a reply does not fit
    int data_freed;
} S;

static void
s_reset (void)
{
    memset (&S, 0, sizeof (S));
}

static bool
s_done (void *arg, cl_outcome_t *outcome)
{
    (void) arg;
    assert_true (S.count < MAX_ENDS);
    s_end_t *end = &S.ends [S.count++];
    end->tag = outcome->tag;
    end->cmd = outcome->cmd;
    end->data = outcome->data;
    end->code = outcome->code;
    snprintf (end->text, sizeof (end->text), "%s", outcome->text ? outcome->text : "");
    end->body = outcome->reply ? (int) ((Chat__MainReply *) outcome->reply)->body_case : -1;
    return !(outcome->reply && S.refuse_replies);
}

static void
s_free_data (void **data_p)
{
    S.data_freed++;
    free (*data_p);
    *data_p = NULL;
}

//  The end of the request for cmd, or NULL.
static s_end_t *
s_end (uint32_t cmd)
{
    for (size_t i = 0; i < S.count; i++)
        if (S.ends [i].cmd == cmd)
            return &S.ends [i];
    return NULL;
}

static bool
s_ended (cltest_stack_t *stack, void *cmd)
{
    (void) stack;
    return s_end (*(uint32_t *) cmd) != NULL;
}

//  Run until the request for cmd ended; how, or NULL.
static s_end_t *
s_wait_end (cltest_stack_t *stack, uint32_t cmd, int timeout_ms)
{
    cltest_stack_run (stack, timeout_ms, s_ended, &cmd);
    return s_end (cmd);
}

//  A request to the main server: ping, or list users (needs a login).
static int
s_submit (cltest_stack_t *stack, bool users, const cl_request_spec_t *spec)
{
    Chat__PingRequest ping = CHAT__PING_REQUEST__INIT;
    Chat__ListUsersRequest list = CHAT__LIST_USERS_REQUEST__INIT;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    if (users) {
        req.body_case = CHAT__MAIN_REQUEST__BODY_LIST_USERS;
        req.list_users = &list;
    }
    else {
        req.body_case = CHAT__MAIN_REQUEST__BODY_PING;
        req.ping = &ping;
    }
    return cl_requests_submit (stack->requests [CHATCLIENT_MAINSERVER],
                               (ProtobufCMessage *) &req, spec);
}

static cltest_stack_t *
s_open_stack (cltest_servers_t *servers, const cltest_options_t *options)
{
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_REQUESTS, options);
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        0, CLTEST_WAIT));
    return stack;
}

//  ---------------------------------------------------------------- tests

static void
test_reply_to_submitter (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    s_reset ();
    cltest_stack_t *stack = s_open_stack (servers, NULL);
    int *data = malloc (sizeof (int));
    cl_request_spec_t spec = {
        .tag = 5, .cmd = 9, .expects = CHAT__MAIN_REPLY__BODY_PONG,
        .done = s_done, .data = data, .destroy_data = s_free_data
    };
    assert_int_equal (s_submit (stack, false, &spec), 0);
    s_end_t *end = s_wait_end (stack, 9, CLTEST_WAIT);
    assert_non_null (end);
    assert_int_equal (end->code, CHAT_OK);
    assert_int_equal (end->tag, 5);
    assert_ptr_equal (end->data, data);
    assert_int_equal (end->body, CHAT__MAIN_REPLY__BODY_PONG);
    assert_int_equal (S.data_freed, 1);         //  with the request, once
    //  the reply is the submitter's alone: nothing went up as an event
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_REPLY, -1), 0);
    //  and it ended once
    cltest_stack_run (stack, 300, NULL, NULL);
    assert_int_equal (S.count, 1);
    cltest_stack_destroy (&stack);
}

static void
test_unexpected_reply (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    s_reset ();
    cltest_stack_t *stack = s_open_stack (servers, NULL);
    //  a ping answered by a pong, where a user list was expected
    cl_request_spec_t spec = { .cmd = 1, .expects = CHAT__MAIN_REPLY__BODY_USERS,
                               .done = s_done };
    assert_int_equal (s_submit (stack, false, &spec), 0);
    s_end_t *end = s_wait_end (stack, 1, CLTEST_WAIT);
    assert_non_null (end);
    assert_int_equal (end->code, CHAT_ERR_MALFORMED);
    assert_string_equal (end->text, "unexpected reply from the main server");
    assert_int_equal (end->body, -1);

    //  a reply of the right body that the submitter finds wrong after all:
    //  it hears once of the reply, once of the failure
    S.refuse_replies = true;
    spec = (cl_request_spec_t) { .cmd = 2, .expects = CHAT__MAIN_REPLY__BODY_PONG,
                                 .done = s_done };
    assert_int_equal (s_submit (stack, false, &spec), 0);
    assert_non_null (s_wait_end (stack, 2, CLTEST_WAIT));
    cltest_stack_run (stack, 200, NULL, NULL);
    assert_int_equal (S.count, 3);
    assert_int_equal (S.ends [1].code, CHAT_OK);
    assert_int_equal (S.ends [2].cmd, 2);
    assert_int_equal (S.ends [2].code, CHAT_ERR_MALFORMED);
    cltest_stack_destroy (&stack);
}

static void
test_login_gate (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    s_reset ();
    cltest_stack_t *stack = s_open_stack (servers, NULL);
    cl_requests_t *main = stack->requests [CHATCLIENT_MAINSERVER];
    assert_true (cl_requests_open (main));
    assert_false (cl_requests_authed (main));

    //  a request that needs the login waits for it
    cl_request_spec_t spec = { .cmd = 1, .auth = true, .retry_ok = true,
                               .expects = CHAT__MAIN_REPLY__BODY_USERS, .done = s_done };
    assert_int_equal (s_submit (stack, true, &spec), 0);
    cltest_stack_run (stack, 500, NULL, NULL);
    assert_int_equal (S.count, 0);

    //  we say we are logged in (we are not): it goes, and the server says
    //  no; nothing to renew, so it fails
    cl_requests_set_authed (main, true);
    s_end_t *end = s_wait_end (stack, 1, CLTEST_WAIT);
    assert_non_null (end);
    assert_int_equal (end->code, CHAT_ERR_NOT_LOGGED_IN);

    //  with a login that can be renewed, the request waits for the renewal
    cl_requests_set_renewable (main, true);
    cl_requests_set_authed (main, true);
    spec.cmd = 2;
    assert_int_equal (s_submit (stack, true, &spec), 0);
    assert_non_null (cltest_stack_wait (stack, CL_EV_AUTH_LOST, CHATCLIENT_MAINSERVER,
                                        0, CLTEST_WAIT));
    assert_false (cl_requests_authed (main));
    cltest_stack_run (stack, 300, NULL, NULL);
    assert_null (s_end (2));

    //  the session ends instead: the request is dropped, its command named,
    //  its submitter not called
    spec = (cl_request_spec_t) { .cmd = 3, .done = s_done };
    assert_int_equal (s_submit (stack, false, &spec), 0);       //  no login needed
    spec = (cl_request_spec_t) { .cmd = 4, .session = true, .done = s_done };
    assert_int_equal (s_submit (stack, false, &spec), 0);
    uint32_t cmd = 0;
    assert_true (cl_requests_drop_session (main, &cmd));
    assert_int_equal (cmd, 2);
    assert_true (cl_requests_drop_session (main, &cmd));
    assert_int_equal (cmd, 4);
    assert_false (cl_requests_drop_session (main, &cmd));
    assert_non_null (s_wait_end (stack, 3, CLTEST_WAIT));
    assert_null (s_end (2));
    assert_null (s_end (4));
    cltest_stack_destroy (&stack);
}

static void
test_link_lost (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    s_reset ();
    cltest_stack_t *stack = s_open_stack (servers, NULL);
    size_t mark = cltest_recorder_size (stack->recorder);
    cltest_mainserver_stop (servers);
    //  two requests in flight to a server that is gone
    cl_request_spec_t safe = { .cmd = 1, .retry_ok = true, .done = s_done,
                               .expects = CHAT__MAIN_REPLY__BODY_PONG };
    cl_request_spec_t unsafe = { .cmd = 2, .done = s_done,
                                 .expects = CHAT__MAIN_REPLY__BODY_PONG };
    assert_int_equal (s_submit (stack, false, &safe), 0);
    assert_int_equal (s_submit (stack, false, &unsafe), 0);

    //  the connection drops (the monitor says so): the link is reset; the
    //  one not safe to repeat fails, the other waits for the link
    s_end_t *end = s_wait_end (stack, 2, CLTEST_WAIT);
    assert_non_null (end);
    assert_int_equal (end->code, CHATCLIENT_ERR_CONNECTION);
    cltest_event_t *down = cltest_recorder_find (stack->recorder, CL_EV_LINK_DOWN,
                                                 CHATCLIENT_MAINSERVER, mark);
    assert_non_null (down);
    assert_int_equal (down->code, CHATCLIENT_ERR_CONNECTION);
    assert_null (s_end (1));

    //  the server is back: the safe one goes again and is answered
    cltest_mainserver_start (servers);
    end = s_wait_end (stack, 1, CLTEST_WAIT);
    assert_non_null (end);
    assert_int_equal (end->code, CHAT_OK);
    assert_int_equal (end->body, CHAT__MAIN_REPLY__BODY_PONG);
    cltest_stack_destroy (&stack);
}

//  The main server forgot our session (its login timeout): the request
//  it refused with ERR_UNKNOWN_SESSION was never acted on, so one marked
//  unseen_ok goes again on the next session; one with neither flag fails.
static void
s_limit (zactor_t *server, const char *name, const char *value)
{
    zstr_sendx (server, "LIMIT", name, value, NULL);
    char *answer = zstr_recv (server);
    assert_non_null (answer);
    assert_true (strncmp (answer, "ERROR", 5) != 0);
    zstr_free (&answer);
}

static void
test_unseen_session (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    s_reset ();
    //  not logged in: dropped at the server's next sweep
    s_limit (servers->mainserver, "login_timeout_ms", "100");
    cltest_stack_t *stack = s_open_stack (servers, NULL);
    zclock_sleep (2500);
    s_limit (servers->mainserver, "login_timeout_ms", "30000");
    size_t mark = cltest_recorder_size (stack->recorder);
    cl_request_spec_t unseen = { .cmd = 1, .unseen_ok = true, .done = s_done,
                                 .expects = CHAT__MAIN_REPLY__BODY_PONG };
    cl_request_spec_t unsafe = { .cmd = 2, .done = s_done,
                                 .expects = CHAT__MAIN_REPLY__BODY_PONG };
    assert_int_equal (s_submit (stack, false, &unseen), 0);
    assert_int_equal (s_submit (stack, false, &unsafe), 0);
    s_end_t *end = s_wait_end (stack, 1, CLTEST_WAIT);
    assert_non_null (end);
    assert_int_equal (end->code, CHAT_OK);
    assert_int_equal (end->body, CHAT__MAIN_REPLY__BODY_PONG);
    end = s_end (2);
    assert_non_null (end);
    assert_int_equal (end->code, CHATCLIENT_ERR_CONNECTION);
    cltest_event_t *down = cltest_recorder_find (stack->recorder, CL_EV_LINK_DOWN,
                                                 CHATCLIENT_MAINSERVER, mark);
    assert_non_null (down);
    assert_int_equal (down->code, CHAT_ERR_UNKNOWN_SESSION);
    cltest_stack_destroy (&stack);
}

static void
test_command_timeout (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    s_reset ();
    //  a key server that never answers a handshake
    zsock_t *silent = zsock_new (ZMQ_ROUTER);
    int port = zsock_bind (silent, "tcp://127.0.0.1:!");
    assert_true (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);
    cl_link_config_t link = { .server = CHATCLIENT_KEYSERVER, .endpoint = endpoint };
    cltest_options_t options = { .link = &link, .request_timeout_ms = 300,
                                 .command_timeout_ms = 1200 };
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_REQUESTS, &options);

    Chat__LogoutRequest body = CHAT__LOGOUT_REQUEST__INIT;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_LOGOUT;
    req.logout = &body;
    cl_request_spec_t spec = { .cmd = 1, .retry_ok = true, .done = s_done };
    assert_int_equal (cl_requests_submit (stack->requests [CHATCLIENT_KEYSERVER],
                                          (ProtobufCMessage *) &req, &spec), 0);
    //  never sent; given up after the command timeout
    cltest_stack_run (stack, 600, NULL, NULL);
    assert_null (s_end (1));
    s_end_t *end = s_wait_end (stack, 1, CLTEST_WAIT);
    assert_non_null (end);
    assert_int_equal (end->code, CHATCLIENT_ERR_TIMEOUT);
    assert_non_null (strstr (end->text, "did not answer"));
    assert_non_null (strstr (end->text, endpoint));
    cltest_stack_destroy (&stack);
    zsock_destroy (&silent);
}

static void
test_refused_link (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    s_reset ();
    cl_link_config_t link = { .server = CHATCLIENT_MAINSERVER,
                              .pin = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" };
    cltest_options_t options = { .link = &link };
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_REQUESTS, &options);
    //  queued during the handshake: fails when the key is refused
    cl_request_spec_t spec = { .cmd = 1, .retry_ok = true, .done = s_done };
    assert_int_equal (s_submit (stack, false, &spec), 0);
    s_end_t *end = s_wait_end (stack, 1, CLTEST_WAIT);
    assert_non_null (end);
    assert_int_equal (end->code, CHAT_ERR_PIN_MISMATCH);
    //  the link's event went up first
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_REFUSED,
                                             CHATCLIENT_MAINSERVER), 1);
    //  queued afterwards: fails at the next tick, never sent
    spec.cmd = 2;
    assert_int_equal (s_submit (stack, false, &spec), 0);
    end = s_wait_end (stack, 2, CLTEST_WAIT);
    assert_non_null (end);
    assert_int_equal (end->code, CHAT_ERR_PIN_MISMATCH);
    //  in the link's words: what was offered, what was pinned
    assert_non_null (strstr (end->text, "offers key SHA256:"));
    assert_non_null (strstr (end->text, "was pinned on the command line"));
    cltest_stack_destroy (&stack);
}

static void
test_fail_fast (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    s_reset ();
    //  a main server endpoint where nothing listens
    char endpoint [64];
    cltest_dead_endpoint (endpoint, sizeof endpoint);
    cl_link_config_t link = { .server = CHATCLIENT_MAINSERVER, .endpoint = endpoint,
                              .hello_timeout_ms = 60000 };
    cltest_options_t options = { .link = &link, .command_timeout_ms = 60000 };
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_REQUESTS, &options);

    //  queued before the refusal is known: both wait; then the fail_fast one
    //  fails with the reason, long before any timeout, the other waits on
    cl_request_spec_t fast = { .cmd = 1, .fail_fast = true, .done = s_done };
    cl_request_spec_t patient = { .cmd = 2, .done = s_done };
    assert_int_equal (s_submit (stack, false, &fast), 0);
    assert_int_equal (s_submit (stack, false, &patient), 0);
    s_end_t *end = s_wait_end (stack, 1, CLTEST_WAIT);
    assert_non_null (end);
    assert_int_equal (end->code, CHATCLIENT_ERR_UNREACHABLE);
    char *expected = cl_format ("nothing is listening at %s: is chat-mainserver running?",
                                endpoint);
    assert_string_equal (end->text, expected);
    assert_null (s_end (2));

    //  submitted while the link knows: ends before submit returns
    fast.cmd = 3;
    assert_int_equal (s_submit (stack, false, &fast), 0);
    end = s_end (3);
    assert_non_null (end);
    assert_int_equal (end->code, CHATCLIENT_ERR_UNREACHABLE);
    assert_string_equal (end->text, expected);
    free (expected);
    cltest_stack_run (stack, 300, NULL, NULL);
    assert_null (s_end (2));
    cltest_stack_destroy (&stack);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup (test_reply_to_submitter, cltest_test_setup),
        cmocka_unit_test_setup (test_unexpected_reply, cltest_test_setup),
        cmocka_unit_test_setup (test_login_gate, cltest_test_setup),
        cmocka_unit_test_setup (test_link_lost, cltest_test_setup),
        cmocka_unit_test_setup (test_unseen_session, cltest_test_setup),
        cmocka_unit_test_setup (test_command_timeout, cltest_test_setup),
        cmocka_unit_test_setup (test_refused_link, cltest_test_setup),
        cmocka_unit_test_setup (test_fail_fast, cltest_test_setup),
    };
    return cmocka_run_group_tests (tests, cltest_group_setup, cltest_group_teardown);
}
