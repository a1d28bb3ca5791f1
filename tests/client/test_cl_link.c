/*  test_cl_link - cl_link alone against the real servers in-process: the
    handshake, pins (first use, a match, a mismatch), a frame out and its
    reply in, a server that goes under an open link (the monitor: lost at
    once, then nothing listening, then back in), an endpoint where nothing
    listens, a server that never answers (back-off), a server of the other
    role (refused for good), and the push endpoint taken from the signed
    Welcome (wildcards resolved) unless one was given, and a server whose
    key was rotated (the pin moves; a pin of another key is still refused)

    The layer above is the test: its recorder is the links' listener.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "cltest.h"
#include "chaterror.h"
#include "keyrotation.h"
#include "wire.h"

//  A ping, packed, as the main server takes it.
static void
s_ping_payload (uint64_t request_id, uint8_t **payload, size_t *len)
{
    Chat__PingRequest body = CHAT__PING_REQUEST__INIT;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.request_id = request_id;
    req.body_case = CHAT__MAIN_REQUEST__BODY_PING;
    req.ping = &body;
    assert_int_equal (wire_pack ((ProtobufCMessage *) &req, payload, len), CHAT_OK);
}

//  A REPLY event unpacked as the main server's reply.
static Chat__MainReply *
s_main_reply (cltest_event_t *event)
{
    Chat__MainReply *reply = NULL;
    assert_int_equal (wire_unpack (&chat__main_reply__descriptor, event->data, event->size,
                                   (ProtobufCMessage **) &reply), CHAT_OK);
    return reply;
}

static void
test_open_and_pin (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_LINKS, NULL);
    cl_link_t *main = stack->links [CHATCLIENT_MAINSERVER];
    assert_int_equal (cl_link_state (main), CL_LINK_HELLO);
    assert_null (cl_link_fingerprint (main));

    //  first use: the key is pinned, then the link opens
    cltest_event_t *open = cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                              0, CLTEST_WAIT);
    assert_non_null (open);
    cltest_event_t *pinned = cltest_recorder_find (stack->recorder, CL_EV_LINK_PIN_NEW,
                                                   CHATCLIENT_MAINSERVER, 0);
    assert_non_null (pinned);
    assert_string_equal (pinned->fingerprint, servers->ms_fingerprint);
    assert_null (pinned->text);             //  saved
    assert_int_equal (cl_link_state (main), CL_LINK_OPEN);
    assert_string_equal (cl_link_fingerprint (main), servers->ms_fingerprint);
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_KEYSERVER,
                                        0, CLTEST_WAIT));
    //  the pin is in the file, under the endpoint's name
    pinstore_t *pins = pinstore_new (stack->pin_path);
    const char *on_file = NULL;
    assert_int_equal (pinstore_check (pins, servers->ms_endpoint,
                                      servers->ms_fingerprint, &on_file), PIN_MATCH);
    pinstore_destroy (&pins);

    //  a frame out, its reply in, opened
    uint8_t *payload = NULL;
    size_t len = 0;
    s_ping_payload (42, &payload, &len);
    size_t mark = cltest_recorder_size (stack->recorder);
    assert_int_equal (cl_link_send (main, payload, len), 0);
    free (payload);
    cltest_event_t *event = cltest_stack_wait (stack, CL_EV_LINK_REPLY, CHATCLIENT_MAINSERVER,
                                               mark, CLTEST_WAIT);
    assert_non_null (event);
    Chat__MainReply *reply = s_main_reply (event);
    assert_int_equal (reply->request_id, 42);
    assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_PONG);
    chat__main_reply__free_unpacked (reply, NULL);
    cltest_stack_destroy (&stack);
}

static void
test_pin_match_and_mismatch (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    //  the right pin given: no pin event, open
    cl_link_config_t config = { .server = CHATCLIENT_MAINSERVER,
                                .pin = servers->ms_fingerprint };
    cltest_options_t options = { .link = &config };
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_LINKS, &options);
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        0, CLTEST_WAIT));
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_PIN_NEW,
                                             CHATCLIENT_MAINSERVER), 0);
    cltest_stack_destroy (&stack);

    //  another key pinned: refused, for good, and nothing goes out
    const char *wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    config.pin = wrong;
    stack = cltest_stack_new (servers, CLTEST_LINKS, &options);
    cl_link_t *main = stack->links [CHATCLIENT_MAINSERVER];
    cltest_event_t *refused = cltest_stack_wait (stack, CL_EV_LINK_REFUSED,
                                                 CHATCLIENT_MAINSERVER, 0, CLTEST_WAIT);
    assert_non_null (refused);
    assert_int_equal (refused->code, CHAT_ERR_PIN_MISMATCH);
    assert_string_equal (refused->fingerprint, servers->ms_fingerprint);
    assert_string_equal (refused->pinned, wrong);
    assert_non_null (strstr (refused->text, "refusing it"));
    assert_int_equal (cl_link_state (main), CL_LINK_REFUSED);
    assert_null (cl_link_fingerprint (main));
    uint8_t payload [4] = { 0 };
    assert_int_equal (cl_link_send (main, payload, sizeof (payload)), -1);
    //  no second try, however long we wait
    cltest_stack_run (stack, 1500, NULL, NULL);
    assert_int_equal (cl_link_state (main), CL_LINK_REFUSED);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_REFUSED,
                                             CHATCLIENT_MAINSERVER), 1);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_OPEN,
                                             CHATCLIENT_MAINSERVER), 0);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_DOWN,
                                             CHATCLIENT_MAINSERVER), 0);
    cltest_stack_destroy (&stack);
}

//  The first DOWN with this code from server at or after from (a loopback
//  socket may connect to itself now and then: a DOWN of its own)
static cltest_event_t *
s_wait_down (cltest_stack_t *stack, int server, int code, size_t from)
{
    int64_t deadline = zclock_mono () + CLTEST_WAIT;
    while (zclock_mono () < deadline) {
        cltest_event_t *down = cltest_stack_wait (stack, CL_EV_LINK_DOWN, server, from,
                                                  (int) (deadline - zclock_mono ()));
        if (!down)
            return NULL;
        if (down->code == code)
            return down;
        for (size_t i = from; i < cltest_recorder_size (stack->recorder); i++)
            if (cltest_recorder_at (stack->recorder, i) == down)
                from = i + 1;
    }
    return NULL;
}

static void
test_server_restarts (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_LINKS, NULL);
    cl_link_t *main = stack->links [CHATCLIENT_MAINSERVER];
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        0, CLTEST_WAIT));
    size_t mark = cltest_recorder_size (stack->recorder);

    //  the server goes: the monitor says so at once, the link is down and
    //  says why
    cltest_mainserver_stop (servers);
    cltest_event_t *lost = cltest_stack_wait (stack, CL_EV_LINK_DOWN, CHATCLIENT_MAINSERVER,
                                              mark, CLTEST_WAIT);
    assert_non_null (lost);
    assert_int_equal (lost->code, CHATCLIENT_ERR_CONNECTION);
    assert_non_null (strstr (lost->text, "lost the connection to"));
    assert_int_not_equal (cl_link_state (main), CL_LINK_OPEN);
    //  (a lost connection is a reconnect, not a server that is not there)
    size_t after_lost = cltest_recorder_size (stack->recorder);

    //  while it is away, the next attempt finds nothing listening
    cltest_event_t *refused = s_wait_down (stack, CHATCLIENT_MAINSERVER,
                                           CHATCLIENT_ERR_UNREACHABLE, after_lost);
    assert_non_null (refused);
    assert_int_equal (refused->code, CHATCLIENT_ERR_UNREACHABLE);
    assert_non_null (strstr (refused->text, "nothing is listening at"));
    assert_non_null (strstr (refused->text, "is chat-mainserver running?"));
    int code = 0;
    assert_non_null (cl_link_problem (main, &code));
    assert_int_equal (code, CHATCLIENT_ERR_UNREACHABLE);

    //  it comes back: a fresh handshake, same key, no pin event, no problem
    cltest_mainserver_start (servers);
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        mark, CLTEST_WAIT));
    assert_null (cl_link_problem (main, NULL));
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_PIN_NEW,
                                             CHATCLIENT_MAINSERVER), 1);
    assert_string_equal (cl_link_fingerprint (main), servers->ms_fingerprint);
    //  and works
    uint8_t *payload = NULL;
    size_t len = 0;
    size_t before = cltest_recorder_size (stack->recorder);
    s_ping_payload (7, &payload, &len);
    assert_int_equal (cl_link_send (main, payload, len), 0);
    free (payload);
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_REPLY, CHATCLIENT_MAINSERVER,
                                        before, CLTEST_WAIT));
    cltest_stack_destroy (&stack);
}

//  An endpoint where nothing listens: said within the first attempt (not
//  after a timeout), and the link is open once a server is there
static void
test_nothing_listening (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    //  a key server endpoint where nothing listens
    char endpoint [64];
    cltest_dead_endpoint (endpoint, sizeof endpoint);

    cl_link_config_t config = { .server = CHATCLIENT_KEYSERVER, .endpoint = endpoint,
                                .hello_timeout_ms = 60000 };
    cltest_options_t options = { .link = &config };
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_LINKS, &options);
    cl_link_t *key = stack->links [CHATCLIENT_KEYSERVER];
    //  the Hello would wait a minute for an answer: the refusal is quicker
    int64_t start = zclock_mono ();
    cltest_event_t *down = s_wait_down (stack, CHATCLIENT_KEYSERVER,
                                        CHATCLIENT_ERR_UNREACHABLE, 0);
    assert_non_null (down);
    assert_true (zclock_mono () - start < 60000);
    assert_int_equal (down->code, CHATCLIENT_ERR_UNREACHABLE);
    char *expected = cl_format ("nothing is listening at %s: is chat-keyserver running?",
                                endpoint);
    assert_string_equal (down->text, expected);
    int code = 0;
    assert_string_equal (cl_link_problem (key, &code), expected);
    assert_int_equal (code, CHATCLIENT_ERR_UNREACHABLE);
    free (expected);
    //  a silent ROUTER takes the port: the link connects, and the Hello
    //  arrives (nothing answers it here: the problem stays until one does)
    zsock_t *silent = zsock_new (ZMQ_ROUTER);
    int again = -1;
    for (int tries = 0; tries < 100 && again < 0; tries++) {
        again = zsock_bind (silent, "%s", endpoint);
        if (again < 0)
            zclock_sleep (50);
    }
    assert_true (again >= 0);
    zsock_set_rcvtimeo (silent, 100);
    zmsg_t *hello = NULL;
    int64_t deadline = zclock_mono () + CLTEST_WAIT;
    while (!hello && zclock_mono () < deadline) {
        cltest_stack_run (stack, 100, NULL, NULL);
        hello = zmsg_recv (silent);
    }
    assert_non_null (hello);
    zmsg_destroy (&hello);
    cltest_stack_destroy (&stack);
    zsock_destroy (&silent);
}

//  Two DOWN events from the link under test.
static bool
s_two_downs (cltest_stack_t *stack, void *arg)
{
    (void) arg;
    return cltest_recorder_count (stack->recorder, CL_EV_LINK_DOWN,
                                  CHATCLIENT_KEYSERVER) >= 2;
}

static void
test_no_answer (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    //  a server that takes the Hello and never answers: held open for the
    //  whole test, so that nothing else can take its port meanwhile
    zsock_t *silent = zsock_new (ZMQ_ROUTER);
    int port = zsock_bind (silent, "tcp://127.0.0.1:!");
    assert_true (port > 0);
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "tcp://127.0.0.1:%d", port);

    cl_link_config_t config = { .server = CHATCLIENT_KEYSERVER, .endpoint = endpoint,
                                .hello_timeout_ms = 300 };
    cltest_options_t options = { .link = &config };
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_LINKS, &options);
    cl_link_t *key = stack->links [CHATCLIENT_KEYSERVER];
    assert_true (cltest_stack_run (stack, CLTEST_WAIT, s_two_downs, NULL));
    //  each handshake gives up, and the wait before the next one doubles
    cltest_event_t *first = cltest_recorder_find (stack->recorder, CL_EV_LINK_DOWN,
                                                  CHATCLIENT_KEYSERVER, 0);
    assert_int_equal (first->code, CHATCLIENT_ERR_TIMEOUT);
    assert_non_null (strstr (first->text, endpoint));
    assert_int_equal (first->retry_ms, CL_LINK_BACKOFF_MIN_MS);
    cltest_event_t *second = NULL;
    for (size_t i = 0; i < cltest_recorder_size (stack->recorder) && !second; i++) {
        cltest_event_t *event = cltest_recorder_at (stack->recorder, i);
        if (event->kind == CL_EV_LINK_DOWN && event->server == CHATCLIENT_KEYSERVER
        &&  event != first)
            second = event;
    }
    assert_non_null (second);
    assert_int_equal (second->code, CHATCLIENT_ERR_TIMEOUT);
    assert_int_equal (second->retry_ms, 2 * CL_LINK_BACKOFF_MIN_MS);
    assert_true (cl_link_state (key) == CL_LINK_DOWN || cl_link_state (key) == CL_LINK_HELLO);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_OPEN,
                                             CHATCLIENT_KEYSERVER), 0);
    //  the Hellos did arrive: one per attempt, each on a fresh connection
    zsock_set_rcvtimeo (silent, CLTEST_WAIT);
    zmsg_t *hello = zmsg_recv (silent);
    assert_non_null (hello);
    zmsg_destroy (&hello);
    //  the other link, to the real main server, is not disturbed
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        0, CLTEST_WAIT));
    cltest_stack_destroy (&stack);
    zsock_destroy (&silent);
}

//  The endpoints given the wrong way round: each link meets a server of
//  the other role, refuses it for good, says why, sends nothing sealed.
static void
test_wrong_role (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cl_link_config_t config = { .server = CHATCLIENT_MAINSERVER,
                                .endpoint = servers->ks_endpoint };
    cltest_options_t options = { .link = &config };
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_LINKS, &options);
    cl_link_t *main = stack->links [CHATCLIENT_MAINSERVER];
    cltest_event_t *refused = cltest_stack_wait (stack, CL_EV_LINK_REFUSED,
                                                 CHATCLIENT_MAINSERVER, 0, CLTEST_WAIT);
    assert_non_null (refused);
    assert_int_equal (refused->code, CHAT_ERR_WRONG_ROLE);
    assert_non_null (strstr (refused->text, "is not a main server"));
    assert_non_null (strstr (refused->text, "wrong way round"));
    assert_int_equal (cl_link_state (main), CL_LINK_REFUSED);
    const char *why = NULL;
    assert_int_equal (cl_link_refusal (main, &why), CHAT_ERR_WRONG_ROLE);
    assert_string_equal (why, refused->text);
    //  no pin was made for the wrong server, no second try
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_PIN_NEW,
                                             CHATCLIENT_MAINSERVER), 0);
    uint8_t payload [4] = { 0 };
    assert_int_equal (cl_link_send (main, payload, sizeof (payload)), -1);
    cltest_stack_run (stack, 1000, NULL, NULL);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_REFUSED,
                                             CHATCLIENT_MAINSERVER), 1);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_OPEN,
                                             CHATCLIENT_MAINSERVER), 0);
    //  the key server's link, pointed at the key server, is fine
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_KEYSERVER,
                                        0, CLTEST_WAIT));
    cltest_stack_destroy (&stack);
}

//  The Welcome's push endpoint, a wildcard host made the request's host.
static void
test_push_resolve (void **state)
{
    (void) state;
    struct { const char *request, *announced, *expected; } cases [] = {
        { "tcp://10.0.0.5:5556", "tcp://*:5557", "tcp://10.0.0.5:5557" },
        { "tcp://chat.example.org:5556", "tcp://0.0.0.0:6000", "tcp://chat.example.org:6000" },
        { "tcp://[::1]:5556", "tcp://[::]:5557", "tcp://[::1]:5557" },
        { "tcp://[::1]:5556", "tcp://:::5557", "tcp://[::1]:5557" },
        { "tcp://10.0.0.5:5556", "tcp://push.example.org:7000", "tcp://push.example.org:7000" },
        { "tcp://10.0.0.5:5556", "ipc:///run/chat/push", "ipc:///run/chat/push" },
        { "tcp://10.0.0.5:5556", "", NULL },
        { "tcp://10.0.0.5:5556", "tcp://nocolon", NULL },
        { "ipc:///run/chat/req", "tcp://*:5557", NULL },
    };
    for (size_t i = 0; i < sizeof (cases) / sizeof (cases [0]); i++) {
        char *got = cl_link_push_resolve (cases [i].request, cases [i].announced);
        if (cases [i].expected) {
            assert_non_null (got);
            assert_string_equal (got, cases [i].expected);
        }
        else
            assert_null (got);
        free (got);
    }
    assert_null (cl_link_push_resolve ("tcp://a:1", NULL));
}

//  No push endpoint given: the SUB socket follows the Welcome's; one given
//  explicitly stays.
static void
test_push_from_welcome (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_LINKS, NULL);
    cl_link_t *main = stack->links [CHATCLIENT_MAINSERVER];
    assert_null (cl_link_push_endpoint (main));
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        0, CLTEST_WAIT));
    assert_non_null (cl_link_push_endpoint (main));
    assert_string_equal (cl_link_push_endpoint (main), servers->push_endpoint);
    assert_null (cl_link_push_endpoint (stack->links [CHATCLIENT_KEYSERVER]));
    cltest_stack_destroy (&stack);

    const char *mine = "tcp://127.0.0.1:9";
    cl_link_config_t config = { .server = CHATCLIENT_MAINSERVER, .push = mine };
    cltest_options_t options = { .link = &config };
    stack = cltest_stack_new (servers, CLTEST_LINKS, &options);
    main = stack->links [CHATCLIENT_MAINSERVER];
    assert_string_equal (cl_link_push_endpoint (main), mine);
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        0, CLTEST_WAIT));
    assert_string_equal (cl_link_push_endpoint (main), mine);
    cltest_stack_destroy (&stack);
}

static void
test_sockets (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_LINKS, NULL);
    zsock_t *socks [8];
    //  the key server's: its DEALER and monitor; the main server's: DEALER,
    //  push, monitor
    assert_int_equal (cl_link_sockets (stack->links [CHATCLIENT_KEYSERVER], socks, 8), 2);
    assert_int_equal (cl_link_sockets (stack->links [CHATCLIENT_MAINSERVER], socks, 8), 3);
    for (int i = 0; i < 3; i++)
        assert_true (cl_link_handle (stack->links [CHATCLIENT_MAINSERVER], socks [i]));
    assert_false (cl_link_handle (stack->links [CHATCLIENT_KEYSERVER], socks [1]));
    assert_false (cl_link_handle (stack->links [CHATCLIENT_KEYSERVER], NULL));
    assert_string_equal (cl_link_role (stack->links [CHATCLIENT_KEYSERVER]), "keyserver");
    assert_string_equal (cl_link_endpoint (stack->links [CHATCLIENT_MAINSERVER]),
                         servers->ms_endpoint);
    cltest_stack_destroy (&stack);
}

//  The main server's key is replaced (--rotate-key) while a link is open:
//  the link comes back, the statement in the Welcome moves the pin in the
//  file; a command-line pin of the old key moves for the run (and says the
//  command line must change); a pin of any other key is refused as before.
static void
test_pin_moved_by_rotation (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_LINKS, NULL);
    cl_link_t *main = stack->links [CHATCLIENT_MAINSERVER];
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        0, CLTEST_WAIT));
    char *old = strdup (servers->ms_fingerprint);

    cltest_mainserver_stop (servers);
    keyrotation_report_t report;
    char error [512] = "";
    assert_int_equal (keyrotation_rotate (servers->ms_dir, "mainserver", 2048, wire_now (),
                                          &report, error, sizeof error), 0);
    cltest_mainserver_start (servers);
    assert_string_equal (servers->ms_fingerprint, report.new_fingerprint);
    size_t mark = cltest_recorder_size (stack->recorder);
    uint8_t *payload = NULL;
    size_t len = 0;
    s_ping_payload (8, &payload, &len);
    assert_int_equal (cl_link_send (main, payload, len), 0);
    free (payload);
    cltest_event_t *moved = cltest_stack_wait (stack, CL_EV_LINK_PIN_MOVED,
                                               CHATCLIENT_MAINSERVER, mark, CLTEST_WAIT);
    assert_non_null (moved);
    assert_string_equal (moved->fingerprint, report.new_fingerprint);
    assert_string_equal (moved->pinned, old);
    assert_null (moved->text);              //  saved
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        mark, CLTEST_WAIT));
    assert_string_equal (cl_link_fingerprint (main), report.new_fingerprint);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_REFUSED,
                                             CHATCLIENT_MAINSERVER), 0);
    pinstore_t *pins = pinstore_new (stack->pin_path);
    const char *on_file = NULL;
    assert_int_equal (pinstore_check (pins, servers->ms_endpoint, report.new_fingerprint,
                                      &on_file), PIN_MATCH);
    pinstore_destroy (&pins);
    cltest_stack_destroy (&stack);

    //  the old key pinned on the command line: moved for this run, said
    cl_link_config_t config = { .server = CHATCLIENT_MAINSERVER, .pin = old };
    cltest_options_t options = { .link = &config };
    stack = cltest_stack_new (servers, CLTEST_LINKS, &options);
    moved = cltest_stack_wait (stack, CL_EV_LINK_PIN_MOVED, CHATCLIENT_MAINSERVER, 0,
                               CLTEST_WAIT);
    assert_non_null (moved);
    assert_non_null (moved->text);
    assert_non_null (strstr (moved->text, report.new_fingerprint));
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        0, CLTEST_WAIT));
    cltest_stack_destroy (&stack);

    //  another key pinned: the statement does not speak for it
    config.pin = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    stack = cltest_stack_new (servers, CLTEST_LINKS, &options);
    cltest_event_t *refused = cltest_stack_wait (stack, CL_EV_LINK_REFUSED,
                                                 CHATCLIENT_MAINSERVER, 0, CLTEST_WAIT);
    assert_non_null (refused);
    assert_int_equal (refused->code, CHAT_ERR_PIN_MISMATCH);
    assert_string_equal (refused->fingerprint, report.new_fingerprint);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_PIN_MOVED,
                                             CHATCLIENT_MAINSERVER), 0);
    cltest_stack_destroy (&stack);
    keyrotation_report_clear (&report);
    free (old);
}

//  ---------------------------------------------------------------- lists

//  The main server's link given [an endpoint where nothing listens, the
//  live one], tried in that order
typedef struct {
    char dead [64];
    const char *list [2];
    cl_link_config_t config;
} list_setup_t;

static void
s_list_setup (list_setup_t *setup, cltest_servers_t *servers)
{
    memset (setup, 0, sizeof (*setup));
    cltest_dead_endpoint (setup->dead, sizeof setup->dead);
    setup->list [0] = setup->dead;
    setup->list [1] = servers->ms_endpoint;
    setup->config.server = CHATCLIENT_MAINSERVER;
    setup->config.endpoints = setup->list;
    setup->config.endpoint_count = 2;
    setup->config.in_order = true;
}

static bool
s_main_problem (cltest_stack_t *stack, void *arg)
{
    (void) arg;
    return cl_link_problem (stack->links [CHATCLIENT_MAINSERVER], NULL) != NULL;
}

//  A list of endpoints (one cluster): a dead one first (in_order), then
//  the live one. The link says the dead one went down, has no problem to
//  tell while the live one is untried, opens on the live one without a
//  FAILOVER (it was never open before), and pins the key once, under
//  every endpoint of the list. When the live one goes, the link turns to
//  the dead one, then back: the order of the list, round and round, with
//  a short pause between endpoints and the back-off only after a round.
static void
test_list_skips_dead (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    list_setup_t setup;
    s_list_setup (&setup, servers);
    const char *dead = setup.dead;
    cltest_options_t options = { .link = &setup.config };
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_LINKS, &options);
    cl_link_t *main = stack->links [CHATCLIENT_MAINSERVER];
    assert_int_equal (cl_link_endpoint_count (main), 2);
    assert_string_equal (cl_link_endpoint_at (main, 1), servers->ms_endpoint);

    cltest_event_t *down = s_wait_down (stack, CHATCLIENT_MAINSERVER,
                                        CHATCLIENT_ERR_UNREACHABLE, 0);
    assert_non_null (down);
    assert_string_equal (down->endpoint, dead);
    assert_non_null (strstr (down->text, dead));
    //  the next endpoint comes after a short pause, not the back-off
    assert_true (down->retry_ms >= CL_LINK_BACKOFF_MIN_MS / 2
              && down->retry_ms <= CL_LINK_BACKOFF_MIN_MS);
    //  one endpoint down of two: nothing to tell a command yet
    assert_null (cl_link_problem (main, NULL));

    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        0, CLTEST_WAIT));
    assert_string_equal (cl_link_endpoint (main), servers->ms_endpoint);
    assert_string_equal (cl_link_fingerprint (main), servers->ms_fingerprint);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_FAILOVER,
                                             CHATCLIENT_MAINSERVER), 0);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_PIN_NEW,
                                             CHATCLIENT_MAINSERVER), 1);
    pinstore_t *pins = pinstore_new (stack->pin_path);
    assert_int_equal (pinstore_check (pins, servers->ms_endpoint,
                                      servers->ms_fingerprint, NULL), PIN_MATCH);
    assert_int_equal (pinstore_check (pins, dead, servers->ms_fingerprint, NULL), PIN_MATCH);
    pinstore_destroy (&pins);

    //  the live one goes: lost there, then the dead one, then a round done
    size_t mark = cltest_recorder_size (stack->recorder);
    cltest_mainserver_stop (servers);
    cltest_event_t *lost = s_wait_down (stack, CHATCLIENT_MAINSERVER,
                                        CHATCLIENT_ERR_CONNECTION, mark);
    assert_non_null (lost);
    assert_string_equal (lost->endpoint, servers->ms_endpoint);
    assert_true (lost->retry_ms <= CL_LINK_BACKOFF_MIN_MS);
    cltest_event_t *next = s_wait_down (stack, CHATCLIENT_MAINSERVER,
                                        CHATCLIENT_ERR_UNREACHABLE, mark);
    assert_non_null (next);
    assert_string_equal (next->endpoint, dead);
    //  the round (live, dead) done; while the server stays away, every
    //  try of the live one's endpoint comes after a short pause, every
    //  round's end after the back-off, which grows, jittered, bounded
    cltest_stack_run (stack, 4000, NULL, NULL);
    uint32_t last_round = 0;
    size_t rounds = 0, total = 0;
    for (size_t i = mark; i < cltest_recorder_size (stack->recorder); i++) {
        cltest_event_t *event = cltest_recorder_at (stack->recorder, i);
        if (event->kind != CL_EV_LINK_DOWN || event->server != CHATCLIENT_MAINSERVER)
            continue;
        //  (a loopback socket that connected to itself starts afresh from
        //  the minimum, as a lost connection does)
        if (event->code != CHATCLIENT_ERR_UNREACHABLE)
            rounds = 0;
        if (streq (event->endpoint, servers->ms_endpoint))
            assert_true (event->retry_ms <= CL_LINK_BACKOFF_MIN_MS);
        else {
            //  round k waits between half and all of min (100 ms << k-1,
            //  the bound while nothing listens)
            assert_string_equal (event->endpoint, dead);
            uint32_t backoff = rounds < 10? CL_LINK_BACKOFF_MIN_MS << rounds
                                          : CL_LINK_BACKOFF_REFUSED_MS;
            if (backoff > CL_LINK_BACKOFF_REFUSED_MS)
                backoff = CL_LINK_BACKOFF_REFUSED_MS;
            assert_true (event->retry_ms >= backoff / 2);
            assert_true (event->retry_ms <= backoff);
            last_round = event->retry_ms;
            rounds++;
            total++;
        }
    }
    assert_true (total >= 3);
    assert_true (last_round > CL_LINK_BACKOFF_MIN_MS);
    //  every endpoint unreachable in a row: now there is a problem to tell
    //  (between attempts: while one is under way the last is old news)
    assert_true (cltest_stack_run (stack, CLTEST_WAIT, s_main_problem, NULL));
    int code = 0;
    assert_non_null (cl_link_problem (main, &code));
    assert_int_equal (code, CHATCLIENT_ERR_UNREACHABLE);
    //  back: open on the live one again, which is where it was before
    mark = cltest_recorder_size (stack->recorder);
    cltest_mainserver_start (servers);
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        mark, 4 * CLTEST_WAIT));
    assert_string_equal (cl_link_endpoint (main), servers->ms_endpoint);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_FAILOVER,
                                             CHATCLIENT_MAINSERVER), 0);
    cltest_stack_destroy (&stack);
}

//  One cluster, one pin: a pin on file under any endpoint of the list
//  covers the others (filed for them on first use); an endpoint offering
//  another key is refused alone (SKIPPED), and the link goes on with the
//  rest of the list.
static void
test_list_one_pin (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    list_setup_t setup;
    s_list_setup (&setup, servers);
    const char *dead = setup.dead;
    cltest_options_t options = { .link = &setup.config };

    //  the cluster's key pinned under the dead endpoint's name only (the
    //  links have started, but nothing is read before the loop runs)
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_LINKS, &options);
    assert_int_equal (pinstore_add (stack->pins, dead, servers->ms_fingerprint), 0);
    cl_link_t *main = stack->links [CHATCLIENT_MAINSERVER];
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_OPEN, CHATCLIENT_MAINSERVER,
                                        0, CLTEST_WAIT));
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_PIN_NEW,
                                             CHATCLIENT_MAINSERVER), 0);
    assert_int_equal (pinstore_check (stack->pins, servers->ms_endpoint,
                                      servers->ms_fingerprint, NULL), PIN_MATCH);
    cltest_stack_destroy (&stack);

    //  another key pinned under the dead endpoint: the live one offers a
    //  key that is not the cluster's, and is refused alone
    const char *wrong = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    stack = cltest_stack_new (servers, CLTEST_LINKS, &options);
    assert_int_equal (pinstore_add (stack->pins, dead, wrong), 0);
    main = stack->links [CHATCLIENT_MAINSERVER];
    cltest_event_t *skipped = cltest_stack_wait (stack, CL_EV_LINK_SKIPPED,
                                                 CHATCLIENT_MAINSERVER, 0, CLTEST_WAIT);
    assert_non_null (skipped);
    assert_int_equal (skipped->code, CHAT_ERR_PIN_MISMATCH);
    assert_string_equal (skipped->endpoint, servers->ms_endpoint);
    assert_string_equal (skipped->fingerprint, servers->ms_fingerprint);
    assert_string_equal (skipped->pinned, wrong);
    assert_non_null (strstr (skipped->text, "refusing it"));
    //  not the whole link: it keeps trying the rest (the dead one), and
    //  never the refused one again
    assert_int_not_equal (cl_link_state (main), CL_LINK_REFUSED);
    size_t mark = cltest_recorder_size (stack->recorder);
    cltest_stack_run (stack, 1500, NULL, NULL);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_OPEN,
                                             CHATCLIENT_MAINSERVER), 0);
    assert_int_equal (cltest_recorder_count (stack->recorder, CL_EV_LINK_SKIPPED,
                                             CHATCLIENT_MAINSERVER), 1);
    for (size_t i = mark; i < cltest_recorder_size (stack->recorder); i++) {
        cltest_event_t *event = cltest_recorder_at (stack->recorder, i);
        if (event->kind == CL_EV_LINK_DOWN && event->server == CHATCLIENT_MAINSERVER)
            assert_string_equal (event->endpoint, dead);
    }
    assert_string_equal (cl_link_endpoint (main), dead);
    //  the pin on file is untouched
    assert_int_equal (pinstore_check (stack->pins, dead, wrong, NULL), PIN_MATCH);
    assert_int_equal (pinstore_check (stack->pins, servers->ms_endpoint, wrong, NULL),
                      PIN_UNKNOWN);
    cltest_stack_destroy (&stack);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup (test_open_and_pin, cltest_test_setup),
        cmocka_unit_test_setup (test_pin_match_and_mismatch, cltest_test_setup),
        cmocka_unit_test_setup (test_server_restarts, cltest_test_setup),
        cmocka_unit_test_setup (test_nothing_listening, cltest_test_setup),
        cmocka_unit_test_setup (test_no_answer, cltest_test_setup),
        cmocka_unit_test_setup (test_sockets, cltest_test_setup),
        cmocka_unit_test_setup (test_wrong_role, cltest_test_setup),
        cmocka_unit_test (test_push_resolve),
        cmocka_unit_test_setup (test_push_from_welcome, cltest_test_setup),
        cmocka_unit_test_setup (test_pin_moved_by_rotation, cltest_test_setup),
        cmocka_unit_test_setup (test_list_skips_dead, cltest_test_setup),
        cmocka_unit_test_setup (test_list_one_pin, cltest_test_setup),
    };
    return cmocka_run_group_tests (tests, cltest_group_setup, cltest_group_teardown);
}
