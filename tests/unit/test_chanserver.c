/*  test_chanserver - the server side of the channel over real ZMQ sockets  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "chanserver.h"
#include "chaterror.h"

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

static zsock_t *
s_dealer (fixture_t *self)
{
    zsock_t *dealer = zsock_new_dealer (self->endpoint);
    assert_non_null (dealer);
    zsock_set_rcvtimeo (dealer, 5000);
    return dealer;
}

static void
s_send (zsock_t *dealer, const uint8_t *data, size_t size)
{
    zframe_t *frame = zframe_new (data, size);
    assert_int_equal (zframe_send (&frame, dealer, 0), 0);
}

//  Expect a clear refusal with this code on the dealer.
static void
s_expect_refusal (zsock_t *dealer, int code)
{
    zframe_t *frame = zframe_recv (dealer);
    assert_non_null (frame);
    Chat__Envelope *env;
    assert_int_equal (wire_envelope_unpack (zframe_data (frame), zframe_size (frame), &env),
                      CHAT_OK);
    assert_int_equal (env->kind_case, CHAT__ENVELOPE__KIND_ERROR);
    assert_int_equal (env->error->code, code);
    chat__envelope__free_unpacked (env, NULL);
    zframe_destroy (&frame);
}

//  A client channel with a completed handshake through the server.
static channel_t *
s_connect (fixture_t *self, zsock_t *dealer)
{
    channel_t *channel = channel_client_new (s_client_key);
    uint8_t *hello;
    size_t size;
    assert_int_equal (channel_client_hello (channel, &hello, &size), CHAT_OK);
    s_send (dealer, hello, size);
    free (hello);
    uint8_t *payload = NULL;
    size_t len;
    assert_null (chanserver_recv (self->server, &payload, &len));
    zframe_t *welcome = zframe_recv (dealer);
    assert_non_null (welcome);
    assert_int_equal (channel_client_accept (channel, zframe_data (welcome),
                                             zframe_size (welcome)), CHAT_OK);
    zframe_destroy (&welcome);
    return channel;
}

//  Seal text and send it; returns the frame (caller frees) for replays.
static zframe_t *
s_request (zsock_t *dealer, channel_t *channel, const char *text)
{
    uint8_t *frame;
    size_t size;
    assert_int_equal (channel_seal (channel, (const uint8_t *) text, strlen (text),
                                    &frame, &size), CHAT_OK);
    zframe_t *copy = zframe_new (frame, size);
    s_send (dealer, frame, size);
    free (frame);
    return copy;
}

static void
s_expect_reply (zsock_t *dealer, channel_t *channel, const char *text)
{
    zframe_t *frame = zframe_recv (dealer);
    assert_non_null (frame);
    Chat__Envelope *env;
    assert_int_equal (wire_envelope_unpack (zframe_data (frame), zframe_size (frame), &env),
                      CHAT_OK);
    assert_int_equal (env->kind_case, CHAT__ENVELOPE__KIND_SEALED);
    uint8_t *payload;
    size_t len;
    assert_int_equal (channel_open (channel, env->sealed->token, strlen (env->sealed->token),
                                    &payload, &len), CHAT_OK);
    assert_int_equal (len, strlen (text));
    assert_memory_equal (payload, text, len);
    free (payload);
    chat__envelope__free_unpacked (env, NULL);
    zframe_destroy (&frame);
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
    zsock_t *dealer = s_dealer (self);
    channel_t *channel = s_connect (self, dealer);
    assert_int_equal (chanserver_size (self->server), 1);
    for (int i = 0; i < 3; i++) {
        zframe_t *sent = s_request (dealer, channel, "ping");
        chansession_t *session = s_serve (self, "ping", "pong");
        assert_memory_equal (channel_peer_fingerprint (session->channel),
                             rsakey_fingerprint (s_client_key), 32);
        s_expect_reply (dealer, channel, "pong");
        zframe_destroy (&sent);
    }
    assert_non_null (chanserver_lookup (self->server, channel_session_id (channel)));
    //  What the admin socket shows of it: the client's key by fingerprint
    Chat__AdminSession **list = NULL;
    assert_int_equal (chanserver_admin_sessions (self->server, &list), 1);
    assert_string_equal (list [0]->client_key_fingerprint,
                         rsakey_fingerprint_text (s_client_key));
    assert_string_equal (list [0]->username, "");
    assert_true (list [0]->last_activity >= list [0]->connected_since);
    chanserver_admin_sessions_free (&list);
    assert_null (list);
    channel_destroy (&channel);
    zsock_destroy (&dealer);
}

//  Every refusal comes back in clear with its code, and the session and
//  other sessions keep working
static void
test_refusals (void **state)
{
    fixture_t *self = *state;
    zsock_t *dealer = s_dealer (self);
    channel_t *channel = s_connect (self, dealer);
    uint8_t *payload = NULL;
    size_t len;

    //  Garbage
    s_send (dealer, (const uint8_t *) "\xff\x01garbage", 9);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (dealer, CHAT_ERR_MALFORMED);

    //  Multipart
    zstr_sendm (dealer, "one");
    zstr_send (dealer, "two");
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (dealer, CHAT_ERR_MALFORMED);

    //  A Welcome sent to the server
    Chat__Welcome welcome = CHAT__WELCOME__INIT;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_WELCOME;
    env.welcome = &welcome;
    uint8_t *frame;
    size_t size;
    assert_int_equal (wire_pack (&env.base, &frame, &size), CHAT_OK);
    s_send (dealer, frame, size);
    free (frame);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (dealer, CHAT_ERR_MALFORMED);

    //  Unknown session
    uint8_t other_id [CHANNEL_SESSION_ID_SIZE] = { 0 };
    Chat__Sealed sealed = CHAT__SEALED__INIT;
    sealed.session_id.data = other_id;
    sealed.session_id.len = sizeof other_id;
    sealed.token = "gAAAAA";
    env.kind_case = CHAT__ENVELOPE__KIND_SEALED;
    env.sealed = &sealed;
    assert_int_equal (wire_pack (&env.base, &frame, &size), CHAT_OK);
    s_send (dealer, frame, size);
    free (frame);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (dealer, CHAT_ERR_UNKNOWN_SESSION);

    //  Replay
    zframe_t *sent = s_request (dealer, channel, "once");
    s_serve (self, "once", "done");
    s_expect_reply (dealer, channel, "done");
    zframe_t *again = zframe_dup (sent);
    assert_int_equal (zframe_send (&again, dealer, 0), 0);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (dealer, CHAT_ERR_REPLAYED);
    zframe_destroy (&sent);

    //  Bad version in a Hello
    Chat__Hello hello = CHAT__HELLO__INIT;
    hello.version = 77;
    env.kind_case = CHAT__ENVELOPE__KIND_HELLO;
    env.hello = &hello;
    assert_int_equal (wire_pack (&env.base, &frame, &size), CHAT_OK);
    s_send (dealer, frame, size);
    free (frame);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (dealer, CHAT_ERR_BAD_VERSION);

    //  Still serving, this session and a new one
    sent = s_request (dealer, channel, "still");
    s_serve (self, "still", "here");
    s_expect_reply (dealer, channel, "here");
    zframe_destroy (&sent);
    zsock_t *dealer2 = s_dealer (self);
    channel_t *channel2 = s_connect (self, dealer2);
    sent = s_request (dealer2, channel2, "second");
    s_serve (self, "second", "ok");
    s_expect_reply (dealer2, channel2, "ok");
    zframe_destroy (&sent);

    assert_int_equal (chanserver_size (self->server), 2);
    channel_destroy (&channel);
    channel_destroy (&channel2);
    zsock_destroy (&dealer);
    zsock_destroy (&dealer2);
}

//  A client that comes back on a new connection keeps its session, and the
//  reply goes to where it is now
static void
test_reconnect_keeps_session (void **state)
{
    fixture_t *self = *state;
    zsock_t *dealer = s_dealer (self);
    channel_t *channel = s_connect (self, dealer);
    zsock_destroy (&dealer);
    zsock_t *dealer2 = s_dealer (self);
    zframe_t *sent = s_request (dealer2, channel, "back");
    s_serve (self, "back", "welcome back");
    s_expect_reply (dealer2, channel, "welcome back");
    zframe_destroy (&sent);
    assert_int_equal (chanserver_size (self->server), 1);
    channel_destroy (&channel);
    zsock_destroy (&dealer2);
}

static void
test_session_limit (void **state)
{
    fixture_t *self = *state;
    chanserver_set_limits (self->server, 1, 0);
    zsock_t *dealer = s_dealer (self);
    channel_t *channel = s_connect (self, dealer);
    zsock_t *dealer2 = s_dealer (self);
    channel_t *refused = channel_client_new (s_client_key);
    uint8_t *hello, *payload;
    size_t size, len;
    assert_int_equal (channel_client_hello (refused, &hello, &size), CHAT_OK);
    s_send (dealer2, hello, size);
    free (hello);
    assert_null (chanserver_recv (self->server, &payload, &len));
    zframe_t *answer = zframe_recv (dealer2);
    assert_non_null (answer);
    assert_int_equal (channel_client_accept (refused, zframe_data (answer),
                                             zframe_size (answer)), CHAT_ERR_BUSY);
    zframe_destroy (&answer);
    channel_destroy (&refused);
    channel_destroy (&channel);
    zsock_destroy (&dealer);
    zsock_destroy (&dealer2);
}

static void
test_expire_and_drop (void **state)
{
    fixture_t *self = *state;
    chanserver_set_limits (self->server, 0, 50);
    zsock_t *dealer = s_dealer (self);
    channel_t *channel = s_connect (self, dealer);
    channel_t *channel2 = s_connect (self, dealer);
    assert_int_equal (chanserver_size (self->server), 2);
    //  Not idle yet
    assert_int_equal (chanserver_expire (self->server, wire_now_ms ()), 0);
    //  Both idle a second from now
    assert_int_equal (chanserver_expire (self->server, wire_now_ms () + 1000), 2);
    assert_int_equal (self->freed, 2);
    assert_int_equal (chanserver_size (self->server), 0);
    //  A request on a dropped session is refused as unknown
    zframe_t *sent = s_request (dealer, channel, "late");
    uint8_t *payload;
    size_t len;
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (dealer, CHAT_ERR_UNKNOWN_SESSION);
    zframe_destroy (&sent);
    channel_destroy (&channel);
    channel_destroy (&channel2);
    zsock_destroy (&dealer);
}

static void
test_push (void **state)
{
    fixture_t *self = *state;
    zsock_t *dealer = s_dealer (self);
    channel_t *channel = s_connect (self, dealer);
    zframe_t *sent = s_request (dealer, channel, "hi");
    chansession_t *session = s_serve (self, "hi", "hello");
    s_expect_reply (dealer, channel, "hello");
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
    channel_destroy (&channel);
    zsock_destroy (&sub);
    zsock_destroy (&pub);
    zsock_destroy (&dealer);
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
    zsock_t *dealers [CLIENTS];
    channel_t *channels [CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        dealers [i] = s_dealer (self);
        channels [i] = channel_client_new (s_client_key);
        uint8_t *hello;
        size_t size;
        assert_int_equal (channel_client_hello (channels [i], &hello, &size), CHAT_OK);
        s_send (dealers [i], hello, size);
        free (hello);
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
        zframe_t *welcome = zframe_recv (dealers [i]);
        assert_non_null (welcome);
        assert_int_equal (channel_client_accept (channels [i], zframe_data (welcome),
                                                 zframe_size (welcome)), CHAT_OK);
        zframe_destroy (&welcome);
        zframe_t *sent = s_request (dealers [i], channels [i], "via worker");
        s_serve (self, "via worker", "fine");
        s_expect_reply (dealers [i], channels [i], "fine");
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
    s_send (dealers [0], frame, size);
    free (frame);
    assert_null (chanserver_recv (self->server, &payload, &len));
    chanserver_handshake_done (self->server);
    s_expect_refusal (dealers [0], CHAT_ERR_BAD_VERSION);

    //  Handshakes still at the workers count against the limit
    chanserver_set_limits (self->server, CLIENTS + 1, 0);
    channel_t *last = channel_client_new (s_client_key);
    uint8_t *hello_frame;
    assert_int_equal (channel_client_hello (last, &hello_frame, &size), CHAT_OK);
    s_send (dealers [1], hello_frame, size);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_send (dealers [2], hello_frame, size);
    assert_null (chanserver_recv (self->server, &payload, &len));
    s_expect_refusal (dealers [2], CHAT_ERR_BUSY);
    free (hello_frame);
    //  ... and one left unfinished is cleaned up with the server (teardown)
    channel_destroy (&last);
    for (int i = 0; i < CLIENTS; i++) {
        channel_destroy (&channels [i]);
        zsock_destroy (&dealers [i]);
    }
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
    };
    int rc = cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
    zsys_shutdown ();
    return rc;
}
