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

//  A client whose connection comes from another loopback address
//  (Linux routes all of 127/8 to lo): ZMQ's "source;destination" form
static testclient_t *
s_client_from (fixture_t *self, const char *source)
{
    char endpoint [96];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:0;%s", source,
              self->endpoint + strlen ("tcp://"));
    testclient_t *client = testclient_new (endpoint, s_client_key);
    assert_non_null (client);
    return client;
}

//  No limits but those the test names ("name=value ...")
static void
s_limits (fixture_t *self, const char *assignments)
{
    serverlimits_t limits;
    memset (&limits, 0, sizeof limits);
    limits.handshake_burst = limits.handshake_burst_per_address = 1;
    char *copy = strdup (assignments);
    char error [256];
    for (char *word = strtok (copy, " "); word; word = strtok (NULL, " "))
        assert_int_equal (serverlimits_set_assignment (&limits, SERVERLIMITS_MAINSERVER, word,
                                                       error, sizeof error), 0);
    free (copy);
    chanserver_set_limits (self->server, &limits);
}

//  A Hello of this protocol version, with key as the client key (any
//  bytes) and a nonce of zeros; the frame is malloc'd
static void
s_hello_frame (const uint8_t *key, size_t key_len, uint8_t **frame, size_t *size)
{
    uint8_t nonce [CHANNEL_NONCE_SIZE] = { 0 };
    Chat__Hello hello = CHAT__HELLO__INIT;
    hello.version = CHANNEL_VERSION;
    hello.client_nonce.data = nonce;
    hello.client_nonce.len = sizeof nonce;
    hello.client_public_key.data = (uint8_t *) key;
    hello.client_public_key.len = key_len;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_HELLO;
    env.hello = &hello;
    assert_int_equal (wire_pack (&env.base, frame, size), CHAT_OK);
}

//  A Hello the server refuses or serves at once (no workers): its code
static int
s_hello_answer (fixture_t *self, testclient_t *client)
{
    assert_int_equal (testclient_hello (client), CHAT_OK);
    uint8_t *payload = NULL;
    size_t len;
    assert_null (chanserver_recv (self->server, &payload, &len));
    return testclient_welcome (client);
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
    s_limits (self, "sessions=1");
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
    s_limits (self, "idle_timeout_ms=60000");
    testclient_t *client = s_client (self);
    s_connect (self, client);
    //  A second session on the same connection
    testclient_t *client2 = testclient_new_on (client, s_client_key);
    s_connect (self, client2);
    assert_int_equal (chanserver_size (self->server), 2);
    //  Both logged in: the idle timeout is theirs
    chansession_t *session = chanserver_first (self->server);
    while (session) {
        assert_int_equal (chanserver_set_username (self->server, session, "user"), CHAT_OK);
        session = chanserver_next (self->server);
    }
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

//  A session that does not log in goes within its login timeout; a step
//  towards a login gives it the timeout again; a logged-in session is
//  only subject to the idle timeout
static void
test_login_timeout (void **state)
{
    fixture_t *self = *state;
    s_limits (self, "login_timeout_ms=60000");
    testclient_t *stranger = s_client (self);
    s_connect (self, stranger);
    testclient_t *user = s_client (self);
    s_connect (self, user);
    chansession_t *session = chanserver_lookup (self->server,
                                                channel_session_id (testclient_channel (user)));
    assert_non_null (session);
    int64_t now = wire_now_ms ();
    assert_int_equal (chanserver_expire (self->server, now + 30000), 0);
    //  The other makes progress a little later: its minute starts again
    zclock_sleep (600);
    chanserver_login_progress (self->server, session);
    //  The stranger's minute is up, not the other's (which then logs in,
    //  and has no timeout of its own here)
    assert_int_equal (chanserver_expire (self->server, now + 60300), 1);
    assert_int_equal (self->freed, 1);
    assert_non_null (chanserver_lookup (self->server,
                                        channel_session_id (testclient_channel (user))));
    assert_int_equal (chanserver_set_username (self->server, session, "Alice"), CHAT_OK);
    assert_int_equal (chanserver_expire (self->server, now + 10000000), 0);
    //  Logged out: the login timeout runs again, from now
    assert_int_equal (chanserver_set_username (self->server, session, NULL), CHAT_OK);
    assert_null (session->username);
    assert_int_equal (chanserver_expire (self->server, wire_now_ms () + 30000), 0);
    assert_int_equal (chanserver_expire (self->server, wire_now_ms () + 61000), 1);
    testclient_destroy (&stranger);
    testclient_destroy (&user);
}

//  Sessions per user: any spelling of the name counts; logging out, in
//  as someone else, or going away frees the place
static void
test_user_cap (void **state)
{
    fixture_t *self = *state;
    s_limits (self, "sessions_per_user=2");
    enum { CLIENTS = 3 };
    testclient_t *clients [CLIENTS];
    chansession_t *sessions [CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients [i] = s_client (self);
        s_connect (self, clients [i]);
        sessions [i] = chanserver_lookup (self->server,
                                          channel_session_id (testclient_channel (clients [i])));
        assert_non_null (sessions [i]);
    }
    assert_int_equal (chanserver_set_username (self->server, sessions [0], "alice"), CHAT_OK);
    assert_int_equal (chanserver_set_username (self->server, sessions [1], "ALICE"), CHAT_OK);
    assert_int_equal (chanserver_set_username (self->server, sessions [2], "Alice"),
                      CHAT_ERR_QUOTA);
    assert_null (sessions [2]->username);
    assert_int_equal (chanserver_user_sessions (self->server, "aLiCe"), 2);
    //  Another user is not affected
    assert_int_equal (chanserver_set_username (self->server, sessions [2], "bob"), CHAT_OK);
    //  The same session again as the same user keeps its one place
    assert_int_equal (chanserver_set_username (self->server, sessions [0], "alice"), CHAT_OK);
    assert_int_equal (chanserver_user_sessions (self->server, "alice"), 2);
    //  One alice logs in as bob: a place for alice
    assert_int_equal (chanserver_set_username (self->server, sessions [1], "bob"), CHAT_OK);
    assert_int_equal (chanserver_set_username (self->server, sessions [2], "alice"), CHAT_OK);
    assert_int_equal (chanserver_user_sessions (self->server, "bob"), 1);
    //  A session that goes frees its place
    chanserver_drop (self->server, sessions [0]);
    assert_int_equal (chanserver_user_sessions (self->server, "alice"), 1);
    for (int i = 0; i < CLIENTS; i++)
        testclient_destroy (&clients [i]);
}

//  Caps and budgets per source address: another address is not touched
//  by what one address spends
static void
test_address_limits (void **state)
{
    fixture_t *self = *state;
    s_limits (self, "sessions_per_address=2");
    testclient_t *first = s_client (self);
    testclient_t *second = s_client (self);
    testclient_t *third = s_client (self);
    testclient_t *elsewhere = s_client_from (self, "127.0.0.2");
    assert_int_equal (s_hello_answer (self, first), CHAT_OK);
    assert_int_equal (s_hello_answer (self, second), CHAT_OK);
    assert_int_equal (s_hello_answer (self, third), CHAT_ERR_BUSY);
    assert_int_equal (s_hello_answer (self, elsewhere), CHAT_OK);
    assert_int_equal (chanserver_address_sessions (self->server, "127.0.0.1"), 2);
    assert_int_equal (chanserver_address_sessions (self->server, "127.0.0.2"), 1);
    chansession_t *session = chanserver_lookup (self->server,
                                                channel_session_id (testclient_channel (elsewhere)));
    assert_non_null (session);
    assert_string_equal (session->address, "127.0.0.2");
    //  A session that goes makes room
    chanserver_drop (self->server, chanserver_lookup (self->server,
                     channel_session_id (testclient_channel (first))));
    assert_int_equal (s_hello_answer (self, third), CHAT_OK);

    //  Handshake budget per address: 3 at once, then one a second; the
    //  refusal says how long to wait
    s_limits (self, "handshakes_per_second_per_address=1 handshake_burst_per_address=3");
    testclient_t *busy = s_client_from (self, "127.0.0.3");
    for (int i = 0; i < 3; i++)
        assert_int_equal (s_hello_answer (self, busy), CHAT_OK);
    assert_int_equal (testclient_hello (busy), CHAT_OK);
    uint8_t *payload = NULL;
    size_t len;
    assert_null (chanserver_recv (self->server, &payload, &len));
    uint8_t *frame = NULL;
    size_t size = 0;
    assert_int_equal (testclient_recv (busy, &frame, &size), 0);
    Chat__Envelope *env = NULL;
    assert_int_equal (wire_envelope_unpack (frame, size, &env), CHAT_OK);
    assert_int_equal (env->kind_case, CHAT__ENVELOPE__KIND_ERROR);
    assert_int_equal (env->error->code, CHAT_ERR_BUSY);
    assert_true (env->error->retry_after_ms > 0 && env->error->retry_after_ms <= 1000);
    chat__envelope__free_unpacked (env, NULL);
    free (frame);
    //  ...while 127.0.0.4 has its own budget
    testclient_t *neighbour = s_client_from (self, "127.0.0.4");
    assert_int_equal (s_hello_answer (self, neighbour), CHAT_OK);

    //  The budget of all addresses together
    s_limits (self, "handshakes_per_second=1 handshake_burst=2");
    assert_int_equal (s_hello_answer (self, neighbour), CHAT_OK);
    assert_int_equal (s_hello_answer (self, first), CHAT_OK);
    assert_int_equal (s_hello_answer (self, elsewhere), CHAT_ERR_BUSY);
    testclient_destroy (&first);
    testclient_destroy (&second);
    testclient_destroy (&third);
    testclient_destroy (&elsewhere);
    testclient_destroy (&busy);
    testclient_destroy (&neighbour);
}

//  Cheap refusals cost no budget: a bad version or key length is answered
//  without a token being taken
static void
test_cheap_refusals_are_free (void **state)
{
    fixture_t *self = *state;
    s_limits (self, "handshakes_per_second_per_address=1 handshake_burst_per_address=1");
    testclient_t *client = s_client (self);
    uint8_t der [RSAKEY_MAX_DER + 1];
    memset (der, 0x30, sizeof der);
    uint8_t *frame, *payload;
    size_t size, len;
    s_hello_frame (der, sizeof der, &frame, &size);
    for (int i = 0; i < 3; i++) {
        s_send (client, frame, size);
        assert_null (chanserver_recv (self->server, &payload, &len));
        s_expect_refusal (client, CHAT_ERR_BAD_KEY);
    }
    free (frame);
    //  The one token is still there
    assert_int_equal (s_hello_answer (self, client), CHAT_OK);
    testclient_destroy (&client);
}

static void
test_address_key (void **state)
{
    (void) state;
    char key [CHANSERVER_ADDRESS_SIZE];
    chanserver_address_key ("192.0.2.7", key);
    assert_string_equal (key, "192.0.2.7");
    chanserver_address_key ("2001:db8:1:2:3:4:5:6", key);
    assert_string_equal (key, "2001:db8:1:2::/64");
    chanserver_address_key ("2001:db8:1:2:ffff::1", key);
    assert_string_equal (key, "2001:db8:1:2::/64");
    chanserver_address_key ("::ffff:198.51.100.1", key);
    assert_string_equal (key, "198.51.100.1");
    chanserver_address_key (NULL, key);
    assert_string_equal (key, "local");
    chanserver_address_key ("", key);
    assert_string_equal (key, "local");
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
    //  A bad Hello is refused by the worker, with its code: a key that
    //  is not RSA-2048..4096 with exponent 65537 (here: not a key at all)
    uint8_t not_a_key [32] = { 0 };
    uint8_t *frame, *payload;
    size_t size, len;
    s_hello_frame (not_a_key, sizeof not_a_key, &frame, &size);
    s_send (clients [0], frame, size);
    free (frame);
    assert_null (chanserver_recv (self->server, &payload, &len));
    chanserver_handshake_done (self->server);
    s_expect_refusal (clients [0], CHAT_ERR_BAD_KEY);

    //  Handshakes still at the workers count against the limit
    char cap [32];
    snprintf (cap, sizeof cap, "sessions=%d", CLIENTS + 1);
    s_limits (self, cap);
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
    //  A version-1 Hello is refused before any worker sees it (it costs
    //  nothing to check), so no handshake comes back from the workers
    s_send (client, v1, v1_size);
    assert_null (chanserver_recv (self->server, &payload, &len));
    assert_false (zsock_events (chanserver_handshakes (self->server)) & ZMQ_POLLIN);
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
        cmocka_unit_test_setup_teardown (test_login_timeout, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_user_cap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_address_limits, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cheap_refusals_are_free, s_setup, s_teardown),
        cmocka_unit_test (test_address_key),
        cmocka_unit_test_setup_teardown (test_workers, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_welcome_info, s_setup, s_teardown),
    };
    int rc = cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
    zsys_shutdown ();
    return rc;
}
