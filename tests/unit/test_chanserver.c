/*  test_chanserver - the server side of the channel over real ZMQ sockets  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "chanserver.h"
#include "chaterror.h"
#include "testclient.h"

static rsakey_t *s_server_key;
static rsakey_t *s_client_key;

typedef struct {
    zsock_t *router;
    char endpoint [64];
    chanserver_t *server;
    int freed;                   //  sessions handed to the free callback
} fixture_t;

static void
s_count_free (chansession_t *session, void *arg)
{
    (void) session;
    ((fixture_t *) arg)->freed++;
}

static int
s_group_setup (void **state)
{
    (void) state;
    zsys_set_logstream (NULL);
    s_server_key = rsakey_generate (2048);
    s_client_key = rsakey_generate (2048);
    return s_server_key && s_client_key ? 0 : -1;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    rsakey_destroy (&s_server_key);
    rsakey_destroy (&s_client_key);
    return 0;
}

static int
s_setup (void **state)
{
    fixture_t *self = (fixture_t *) zmalloc (sizeof *self);
    self->router = zsock_new (ZMQ_ROUTER);
    int port = zsock_bind (self->router, "tcp://127.0.0.1:*");
    assert_true (port > 0);
    zsock_set_rcvtimeo (self->router, 5000);
    snprintf (self->endpoint, sizeof self->endpoint, "tcp://127.0.0.1:%d", port);
    self->server = chanserver_new (self->router, s_server_key);
    chanserver_set_free_fn (self->server, s_count_free, self);
    *state = self;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *self = *state;
    chanserver_destroy (&self->server);
    zsock_destroy (&self->router);
    free (self);
    return 0;
}

static testclient_t *
s_client (fixture_t *self)
{
    testclient_t *client = testclient_new (self->endpoint, s_client_key);
    assert_non_null (client);
    return client;
}

static void
s_send (testclient_t *client, const uint8_t *data, size_t size)
{
    assert_int_equal (testclient_send (client, data, size), 0);
}

//  Expect a clear refusal with this code.
static void
s_expect_refusal (testclient_t *client, int code)
{
    assert_int_equal (testclient_refusal (client), code);
}

//  A completed handshake through the server.
static void
s_connect (fixture_t *self, testclient_t *client)
{
    assert_int_equal (testclient_hello (client), CHAT_OK);
    uint8_t *payload = NULL;
    size_t len;
    assert_null (chanserver_recv (self->server, &payload, &len));
    assert_int_equal (testclient_welcome (client), CHAT_OK);
}

//  Seal text and send it; returns the frame (caller frees) for replays.
static zframe_t *
s_request (testclient_t *client, const char *text)
{
    uint8_t *frame;
    size_t size;
    assert_int_equal (testclient_seal (client, text, strlen (text), &frame, &size), CHAT_OK);
    zframe_t *copy = zframe_new (frame, size);
    s_send (client, frame, size);
    free (frame);
    return copy;
}

static void
s_expect_reply (testclient_t *client, const char *text)
{
    uint8_t *payload;
    size_t len;
    assert_int_equal (testclient_answer (client, &payload, &len), CHAT_OK);
    assert_int_equal (len, strlen (text));
    assert_memory_equal (payload, text, len);
    free (payload);
}

//  The server side: receive one request, check it, answer it.
static chansession_t *
s_serve (fixture_t *self, const char *expect, const char *answer)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    chansession_t *session = chanserver_recv (self->server, &payload, &len);
    assert_non_null (session);
    assert_int_equal (len, strlen (expect));
    assert_memory_equal (payload, expect, len);
    free (payload);
    assert_int_equal (chanserver_reply (self->server, session, (const uint8_t *) answer,
                                        strlen (answer)), CHAT_OK);
    return session;
}

static void
test_request_reply (void **state)
{
    fixture_t *self = *state;
    testclient_t *client = s_client (self);
    s_connect (self, client);
    assert_int_equal (chanserver_size (self->server), 1);
    for (int i = 0; i < 3; i++) {
        zframe_t *sent = s_request (client, "ping");
        chansession_t *session = s_serve (self, "ping", "pong");
        assert_memory_equal (channel_peer_fingerprint (session->channel),
                             rsakey_fingerprint (s_client_key), 32);
        s_expect_reply (client, "pong");
        zframe_destroy (&sent);
    }
    assert_non_null (chanserver_lookup (self->server,
                                        channel_session_id (testclient_channel (client))));
    //  What the admin socket shows of it: the client's key by fingerprint
    Chat__AdminSession **list = NULL;
    assert_int_equal (chanserver_admin_sessions (self->server, &list), 1);
    assert_string_equal (list [0]->client_key_fingerprint,
                         rsakey_fingerprint_text (s_client_key));
    assert_string_equal (list [0]->username, "");
    assert_true (list [0]->last_activity >= list [0]->connected_since);
    chanserver_admin_sessions_free (&list);
    assert_null (list);
    testclient_destroy (&client);
}

//  Every refusal comes back in clear with its code, and the session and
//  other sessions keep working
static void
test_refusals (void **state)
{
    fixture_t *self = *state;
    testclient_t *client = s_client (self);
    s_connect (self, client);
    uint8_t *payload = NULL;
    size_t len;

    //  Garbage
    s_send (client, (const uint8_t *) "\xff\x01garbage", 9);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (client, CHAT_ERR_MALFORMED);

    //  Multipart
    zstr_sendm (testclient_dealer (client), "one");
    zstr_send (testclient_dealer (client), "two");
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (client, CHAT_ERR_MALFORMED);

    //  A Welcome sent to the server
    Chat__Welcome welcome = CHAT__WELCOME__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_WELCOME;
    env.welcome = &welcome;
    uint8_t *frame;
    size_t size;
    assert_int_equal (wire_pack (&env.base, &frame, &size), CHAT_OK);
    s_send (client, frame, size);
    free (frame);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (client, CHAT_ERR_MALFORMED);

    //  Unknown session
    uint8_t other_id [CHANNEL_SESSION_ID_SIZE] = { 0 };
    Chat__Sealed sealed = CHAT__SEALED__INIT;
    sealed.session_id.data = other_id;
    sealed.session_id.len = sizeof other_id;
    sealed.token = "gAAAAA";
    env.kind_case = CHAT__ENVELOPE__KIND_SEALED;
    env.sealed = &sealed;
    assert_int_equal (wire_pack (&env.base, &frame, &size), CHAT_OK);
    s_send (client, frame, size);
    free (frame);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (client, CHAT_ERR_UNKNOWN_SESSION);

    //  Replay
    zframe_t *sent = s_request (client, "once");
    s_serve (self, "once", "done");
    s_expect_reply (client, "done");
    zframe_t *again = zframe_dup (sent);
    assert_int_equal (zframe_send (&again, testclient_dealer (client), 0), 0);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (client, CHAT_ERR_REPLAYED);
    zframe_destroy (&sent);

    //  Bad version in a Hello
    Chat__Hello hello = CHAT__HELLO__INIT;
    hello.version = 77;
    env.kind_case = CHAT__ENVELOPE__KIND_HELLO;
    env.hello = &hello;
    assert_int_equal (wire_pack (&env.base, &frame, &size), CHAT_OK);
    s_send (client, frame, size);
    free (frame);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (client, CHAT_ERR_BAD_VERSION);

    //  Still serving, this session and a new one
    sent = s_request (client, "still");
    s_serve (self, "still", "here");
    s_expect_reply (client, "here");
    zframe_destroy (&sent);
    testclient_t *client2 = s_client (self);
    s_connect (self, client2);
    sent = s_request (client2, "second");
    s_serve (self, "second", "ok");
    s_expect_reply (client2, "ok");
    zframe_destroy (&sent);

    assert_int_equal (chanserver_size (self->server), 2);
    testclient_destroy (&client);
    testclient_destroy (&client2);
}

//  A client that comes back on a new connection keeps its session, and the
//  reply goes to where it is now
static void
test_reconnect_keeps_session (void **state)
{
    fixture_t *self = *state;
    testclient_t *client = s_client (self);
    s_connect (self, client);
    assert_int_equal (testclient_reconnect (client), 0);
    zframe_t *sent = s_request (client, "back");
    s_serve (self, "back", "welcome back");
    s_expect_reply (client, "welcome back");
    zframe_destroy (&sent);
    assert_int_equal (chanserver_size (self->server), 1);
    testclient_destroy (&client);
}

static void
test_session_limit (void **state)
{
    fixture_t *self = *state;
    chanserver_set_limits (self->server, 1, 0);
    testclient_t *client = s_client (self);
    s_connect (self, client);
    testclient_t *refused = s_client (self);
    uint8_t *payload;
    size_t len;
    assert_int_equal (testclient_hello (refused), CHAT_OK);
    assert_null (chanserver_recv (self->server, &payload, &len));
    assert_int_equal (testclient_welcome (refused), CHAT_ERR_BUSY);
    testclient_destroy (&refused);
    testclient_destroy (&client);
}

static void
test_expire_and_drop (void **state)
{
    fixture_t *self = *state;
    //  A minute: a loaded machine (ASan, two cores shared) may take
    //  longer than a short limit just to make the second session
    chanserver_set_limits (self->server, 0, 60000);
    testclient_t *client = s_client (self);
    s_connect (self, client);
    //  A second session on the same connection
    testclient_t *client2 = testclient_new_on (client, s_client_key);
    s_connect (self, client2);
    assert_int_equal (chanserver_size (self->server), 2);
    //  Not idle yet
    assert_int_equal (chanserver_expire (self->server, wire_now_ms ()), 0);
    //  Both idle two minutes from now
    assert_int_equal (chanserver_expire (self->server, wire_now_ms () + 120000), 2);
    assert_int_equal (self->freed, 2);
    assert_int_equal (chanserver_size (self->server), 0);
    //  A request on a dropped session is refused as unknown
    zframe_t *sent = s_request (client, "late");
    uint8_t *payload;
    size_t len;
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (client, CHAT_ERR_UNKNOWN_SESSION);
    zframe_destroy (&sent);
    testclient_destroy (&client2);
    testclient_destroy (&client);
}

static void
test_push (void **state)
{
    fixture_t *self = *state;
    testclient_t *client = s_client (self);
    s_connect (self, client);
    channel_t *channel = testclient_channel (client);
    zframe_t *sent = s_request (client, "hi");
    chansession_t *session = s_serve (self, "hi", "hello");
    s_expect_reply (client, "hello");
    zframe_destroy (&sent);

    zsock_t *pub = zsock_new (ZMQ_PUB);
    int port = zsock_bind (pub, "tcp://127.0.0.1:*");
    assert_true (port > 0);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    assert_int_equal (zsock_connect (sub, "tcp://127.0.0.1:%d", port), 0);
    zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE, channel_session_token (channel),
                    CHANNEL_SESSION_TOKEN_SIZE);
    zsock_set_rcvtimeo (sub, 100);
    //  PUB drops until the subscription has arrived: push until one lands,
    //  then every later one must open in order
    zmsg_t *msg = NULL;
    for (int attempt = 0; attempt < 100 && !msg; attempt++) {
        assert_int_equal (chanserver_push (self->server, pub, session,
                                           (const uint8_t *) "news", 4), CHAT_OK);
        msg = zmsg_recv (sub);
    }
    assert_non_null (msg);
    assert_int_equal (zmsg_size (msg), 2);
    zframe_t *topic = zmsg_first (msg);
    assert_memory_equal (zframe_data (topic), channel_session_token (channel),
                         CHANNEL_SESSION_TOKEN_SIZE);
    zframe_t *body = zmsg_next (msg);
    uint8_t *payload;
    size_t len;
    assert_int_equal (channel_open_push (channel, zframe_data (body), zframe_size (body),
                                         &payload, &len), CHAT_OK);
    assert_memory_equal (payload, "news", 4);
    free (payload);
    zmsg_destroy (&msg);
    zsock_destroy (&sub);
    zsock_destroy (&pub);
    testclient_destroy (&client);
}

//  Handshakes on worker threads: the Welcome leaves only when the server
//  takes the finished handshake, and the session then works as any other
static void
test_workers (void **state)
{
    fixture_t *self = *state;
    assert_int_equal (chanserver_set_workers (self->server, 2), CHAT_OK);
    zsock_t *done = chanserver_handshakes (self->server);
    assert_non_null (done);
    zsock_set_rcvtimeo (done, 5000);
    enum { CLIENTS = 6 };
    testclient_t *clients [CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients [i] = s_client (self);
        assert_int_equal (testclient_hello (clients [i]), CHAT_OK);
        uint8_t *payload = NULL;
        size_t len;
        assert_null (chanserver_recv (self->server, &payload, &len));
    }
    //  Nothing is a session until the server takes the results
    assert_int_equal (chanserver_size (self->server), 0);
    for (int i = 0; i < CLIENTS; i++)
        chanserver_handshake_done (self->server);
    assert_int_equal (chanserver_size (self->server), CLIENTS);
    for (int i = 0; i < CLIENTS; i++) {
        assert_int_equal (testclient_welcome (clients [i]), CHAT_OK);
        zframe_t *sent = s_request (clients [i], "via worker");
        s_serve (self, "via worker", "fine");
        s_expect_reply (clients [i], "fine");
        zframe_destroy (&sent);
    }
    //  A bad Hello is refused by the worker, with its code
    Chat__Hello hello = CHAT__HELLO__INIT;
    hello.version = 9;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_HELLO;
    env.hello = &hello;
    uint8_t *frame, *payload;
    size_t size, len;
    assert_int_equal (wire_pack (&env.base, &frame, &size), CHAT_OK);
    s_send (clients [0], frame, size);
    free (frame);
    assert_null (chanserver_recv (self->server, &payload, &len));
    chanserver_handshake_done (self->server);
    s_expect_refusal (clients [0], CHAT_ERR_BAD_VERSION);

    //  Handshakes still at the workers count against the limit
    chanserver_set_limits (self->server, CLIENTS + 1, 0);
    channel_t *last = channel_client_new (s_client_key);
    uint8_t *hello_frame;
    assert_int_equal (channel_client_hello (last, &hello_frame, &size), CHAT_OK);
    s_send (clients [1], hello_frame, size);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_send (clients [2], hello_frame, size);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (clients [2], CHAT_ERR_BUSY);
    free (hello_frame);
    //  ... and one left unfinished is cleaned up with the server (teardown)
    channel_destroy (&last);
    for (int i = 0; i < CLIENTS; i++)
        testclient_destroy (&clients [i]);
}

//  What chanserver_set_welcome_info says reaches clients under the
//  signature, from the inline handshake and from the workers alike; a
//  version-1 Hello is refused either way
static void
test_welcome_info (void **state)
{
    fixture_t *self = *state;
    assert_int_equal (chanserver_set_welcome_info (self->server, CHANNEL_ROLE_MAINSERVER,
                                                   "tcp://*:5557", NULL, 0), CHAT_OK);
    char long_role [CHANNEL_ROLE_MAX + 2];
    memset (long_role, 'x', sizeof long_role);
    long_role [CHANNEL_ROLE_MAX + 1] = 0;
    assert_int_equal (chanserver_set_welcome_info (self->server, long_role, NULL, NULL, 0),
                      CHAT_ERR_BAD_REQUEST);          //  and the one set before stays
    Chat__Hello hello = CHAT__HELLO__INIT;
    hello.version = 1;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_HELLO;
    env.hello = &hello;
    uint8_t *v1, *payload;
    size_t v1_size, len;
    assert_int_equal (wire_pack (&env.base, &v1, &v1_size), CHAT_OK);

    testclient_t *client = s_client (self);
    s_connect (self, client);
    channel_t *channel = testclient_channel (client);
    assert_string_equal (channel_peer_role (channel), CHANNEL_ROLE_MAINSERVER);
    assert_string_equal (channel_peer_push_endpoint (channel), "tcp://*:5557");
    s_send (client, v1, v1_size);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (client, CHAT_ERR_BAD_VERSION);
    testclient_destroy (&client);

    assert_int_equal (chanserver_set_workers (self->server, 1), CHAT_OK);
    client = s_client (self);
    assert_int_equal (testclient_hello (client), CHAT_OK);
    assert_null (chanserver_recv (self->server, &payload, &len));
    chanserver_handshake_done (self->server);
    assert_int_equal (testclient_welcome (client), CHAT_OK);
    channel = testclient_channel (client);
    assert_string_equal (channel_peer_role (channel), CHANNEL_ROLE_MAINSERVER);
    assert_string_equal (channel_peer_push_endpoint (channel), "tcp://*:5557");
    s_send (client, v1, v1_size);
    assert_null (chanserver_recv (self->server, &payload, &len));
    chanserver_handshake_done (self->server);
    s_expect_refusal (client, CHAT_ERR_BAD_VERSION);
    free (v1);
    testclient_destroy (&client);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_request_reply, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_refusals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reconnect_keeps_session, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_session_limit, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_expire_and_drop, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_push, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_workers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_welcome_info, s_setup, s_teardown),
    };
    int rc = cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
    zsys_shutdown ();
    return rc;
}
