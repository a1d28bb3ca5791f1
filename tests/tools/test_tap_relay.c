/*  test_tap_relay - chat-tap between real sockets: a chanserver echo server
    with a PUB socket on one side, channel clients on the other

    The chat-tap binary runs as a child process (CHAT_TAP names it). The
    traffic must pass unchanged, each client must stay a distinct peer of
    the server, and the tap's output must show the frame kinds in order,
    with the fingerprints and sessions, and never a plaintext.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <spawn.h>
#include <signal.h>
#include <sys/wait.h>
#include "chanserver.h"
#include "chaterror.h"
#include "codec.h"
#include "testclient.h"

extern char **environ;

static rsakey_t *s_server_key;
static rsakey_t *s_client_keys [2];

#define REQUEST_TEXT "request SECRET-TEXT-4242"
#define REPLY_TEXT   "reply SECRET-ANSWER-5353"
#define PUSH_TEXT    "push SECRET-PUSH-6464"

typedef struct {
    char dir [64];                   //  temp folder for the tap's output
    zsock_t *router;
    zsock_t *pub;
    chanserver_t *server;
    pid_t tap;
    char tap_request [128];          //  where the tap listens
    char tap_push [128];
} fixture_t;

static int
s_group_setup (void **state)
{
    (void) state;
    zsys_set_logstream (NULL);
    s_server_key = rsakey_generate (2048);
    s_client_keys [0] = rsakey_generate (2048);
    s_client_keys [1] = rsakey_generate (2048);
    return s_server_key && s_client_keys [0] && s_client_keys [1]? 0: -1;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    rsakey_destroy (&s_server_key);
    rsakey_destroy (&s_client_keys [0]);
    rsakey_destroy (&s_client_keys [1]);
    return 0;
}

static char *
s_read_file (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return strdup ("");
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    char buf [4096];
    size_t got;
    while ((got = fread (buf, 1, sizeof buf, file)) > 0)
        fwrite (buf, 1, got, out);
    fclose (out);
    fclose (file);
    return text;
}

//  The value after "name=" on the stderr line that starts with prefix.
static bool
s_endpoint (const char *text, const char *prefix, char *dest, size_t size)
{
    const char *line = strstr (text, prefix);
    if (!line)
        return false;
    const char *value = strstr (line, "listen=");
    if (!value)
        return false;
    value += strlen ("listen=");
    size_t len = strcspn (value, " \n");
    if (len == 0 || len >= size)
        return false;
    memcpy (dest, value, len);
    dest [len] = 0;
    return true;
}

static void
s_start_tap (fixture_t *self, const char *extra)
{
    const char *tap = getenv ("CHAT_TAP");
    assert_non_null (tap);
    char to [128], push_to [128];
    snprintf (to, sizeof to, "%s", zsock_endpoint (self->router));
    snprintf (push_to, sizeof push_to, "%s", zsock_endpoint (self->pub));
    char out_path [128], err_path [128];
    snprintf (out_path, sizeof out_path, "%s/out", self->dir);
    snprintf (err_path, sizeof err_path, "%s/err", self->dir);
    char *argv [] = {
        (char *) tap, "--listen", "tcp://127.0.0.1:*", "--to", to,
        "--push-listen", "tcp://127.0.0.1:*", "--push-to", push_to,
        "--summary", (char *) extra, NULL
    };
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen (&actions, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal (posix_spawn (&self->tap, tap, &actions, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy (&actions);

    //  Wait (bounded) for the tap to say where it listens.
    bool ready = false;
    for (int i = 0; i < 400 && !ready; i++) {
        char *text = s_read_file (err_path);
        if (strstr (text, "chat-tap: ready")) {
            assert_true (s_endpoint (text, "chat-tap: request", self->tap_request,
                                     sizeof self->tap_request));
            assert_true (s_endpoint (text, "chat-tap: push", self->tap_push,
                                     sizeof self->tap_push));
            ready = true;
        }
        free (text);
        if (!ready)
            zclock_sleep (25);
    }
    assert_true (ready);
}

//  Stop the tap as a user would (SIGINT) and return its stdout.
static char *
s_stop_tap (fixture_t *self)
{
    assert_int_equal (kill (self->tap, SIGINT), 0);
    int status;
    assert_int_equal (waitpid (self->tap, &status, 0), self->tap);
    self->tap = 0;
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    char path [128];
    snprintf (path, sizeof path, "%s/out", self->dir);
    return s_read_file (path);
}

static int
s_setup (void **state)
{
    fixture_t *self = (fixture_t *) zmalloc (sizeof *self);
    snprintf (self->dir, sizeof self->dir, "/tmp/test_tap_relay.XXXXXX");
    assert_non_null (mkdtemp (self->dir));
    self->router = zsock_new (ZMQ_ROUTER);
    assert_true (zsock_bind (self->router, "tcp://127.0.0.1:*") > 0);
    zsock_set_rcvtimeo (self->router, 5000);
    self->pub = zsock_new (ZMQ_PUB);
    assert_true (zsock_bind (self->pub, "tcp://127.0.0.1:*") > 0);
    self->server = chanserver_new (self->router, s_server_key);
    *state = self;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *self = *state;
    if (self->tap) {
        kill (self->tap, SIGKILL);
        waitpid (self->tap, NULL, 0);
    }
    chanserver_destroy (&self->server);
    zsock_destroy (&self->router);
    zsock_destroy (&self->pub);
    char cmd [160];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", self->dir);
    if (system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", self->dir);
    free (self);
    return 0;
}

//  A client through the tap with a completed handshake.
static testclient_t *
s_connect (fixture_t *self, rsakey_t *key)
{
    testclient_t *client = testclient_new (self->tap_request, key);
    assert_non_null (client);
    assert_int_equal (testclient_hello (client), CHAT_OK);
    uint8_t *payload = NULL;
    size_t len;
    assert_null (chanserver_recv (self->server, &payload, &len));
    assert_int_equal (testclient_welcome (client), CHAT_OK);
    return client;
}

//  One sealed request through the tap, answered by the server.
static chansession_t *
s_round_trip (fixture_t *self, testclient_t *client)
{
    assert_int_equal (testclient_send_sealed (client, REQUEST_TEXT, strlen (REQUEST_TEXT)),
                      CHAT_OK);
    uint8_t *payload = NULL;
    size_t len = 0;
    chansession_t *session = chanserver_recv (self->server, &payload, &len);
    assert_non_null (session);
    assert_int_equal (len, strlen (REQUEST_TEXT));
    assert_memory_equal (payload, REQUEST_TEXT, len);
    free (payload);
    assert_int_equal (chanserver_reply (self->server, session, (const uint8_t *) REPLY_TEXT,
                                        strlen (REPLY_TEXT)), CHAT_OK);
    assert_int_equal (testclient_answer (client, &payload, &len), CHAT_OK);
    assert_int_equal (len, strlen (REPLY_TEXT));
    assert_memory_equal (payload, REPLY_TEXT, len);
    free (payload);
    return session;
}

//  The kind column of every frame line, in order, as one string:
//  "C>S c1 hello|S>C c1 welcome|..."
static char *
s_kinds (const char *text)
{
    char *result = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&result, &size);
    const char *line = text;
    while (line && *line) {
        char time [16], dir [8], client [16], kind [16];
        if (sscanf (line, "%15s %7s %15s %15s", time, dir, client, kind) == 4
        &&  strlen (time) == 12 && line [2] == ':' && line [8] == '.')
            fprintf (out, "%s %s %s|", dir, client, kind);
        line = strchr (line, '\n');
        if (line)
            line++;
    }
    fclose (out);
    return result;
}

static void
s_assert_absent (const char *text, const char *secret)
{
    assert_null (strstr (text, secret));
    char *hex = codec_hex ((const uint8_t *) secret, strlen (secret));
    assert_null (strstr (text, hex));
    free (hex);
    char *b64 = codec_b64_encode ((const uint8_t *) secret, strlen (secret));
    b64 [strlen (b64) * 3 / 4 / 4 * 4] = 0;  //  a prefix: padding varies
    assert_null (strstr (text, b64));
    free (b64);
}

//  A push as the main server publishes one: [session token][PushFrame]
static void
s_push (zsock_t *pub, chansession_t *session, const char *text)
{
    uint8_t *frame;
    size_t size;
    assert_int_equal (channel_seal_push (session->channel, (const uint8_t *) text,
                                         strlen (text), &frame, &size), CHAT_OK);
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, channel_session_token (session->channel), CHANNEL_SESSION_TOKEN_SIZE);
    zmsg_addmem (msg, frame, size);
    assert_int_equal (zmsg_send (&msg, pub), 0);
    free (frame);
}

static void
test_relay_and_output (void **state)
{
    fixture_t *self = *state;
    s_start_tap (self, "-x");

    //  Two clients, each a distinct peer of the server
    testclient_t *clients [2];
    chansession_t *sessions [2];
    for (int i = 0; i < 2; i++) {
        clients [i] = s_connect (self, s_client_keys [i]);
        sessions [i] = s_round_trip (self, clients [i]);
    }
    assert_int_equal (chanserver_size (self->server), 2);
    assert_false (zframe_eq (sessions [0]->routing_id, sessions [1]->routing_id));
    //  The first client again, after the second: replies still find it
    s_round_trip (self, clients [0]);

    //  Push to the first client through the tap's XPUB/XSUB. A PUB drops
    //  until the subscription has crossed: push until one lands.
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zsock_set_rcvtimeo (sub, 100);
    assert_int_equal (zsock_connect (sub, "%s", self->tap_push), 0);
    zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE,
                    channel_session_token (testclient_channel (clients [0])), CHANNEL_SESSION_TOKEN_SIZE);
    zmsg_t *push = NULL;
    for (int i = 0; i < 100 && !push; i++) {
        s_push (self->pub, sessions [0], PUSH_TEXT);
        push = zmsg_recv (sub);
    }
    assert_non_null (push);
    assert_int_equal (zmsg_size (push), 2);
    zframe_t *body = zmsg_last (push);
    uint8_t *payload;
    size_t len;
    assert_int_equal (channel_open_push (testclient_channel (clients [0]), zframe_data (body), zframe_size (body),
                                         &payload, &len), CHAT_OK);
    assert_int_equal (len, strlen (PUSH_TEXT));
    assert_memory_equal (payload, PUSH_TEXT, len);
    free (payload);
    zmsg_destroy (&push);

    //  Garbage passes through too, and the server's clear refusal comes back
    assert_int_equal (testclient_send (clients [1], "\xff\xff\xff junk", 8), 0);
    assert_null (chanserver_recv (self->server, &payload, &len));
    uint8_t *refusal = NULL;
    assert_int_equal (testclient_recv (clients [1], &refusal, &len), 0);
    free (refusal);

    char *text = s_stop_tap (self);
    char *kinds = s_kinds (text);
    const char *expected_start =
        "C>S c1 hello|S>C c1 welcome|C>S c1 sealed|S>C c1 sealed|"
        "C>S c2 hello|S>C c2 welcome|C>S c2 sealed|S>C c2 sealed|"
        "C>S c1 sealed|S>C c1 sealed|";
    assert_non_null (kinds);
    if (strncmp (kinds, expected_start, strlen (expected_start)) != 0) {
        fprintf (stderr, "%s", text);
        fail_msg ("kinds: %s", kinds);
    }
    //  The subscriptions, then pushes (all but the last may have been
    //  dropped upstream before the subscription arrived), named for c1
    assert_non_null (strstr (kinds, "C>S - subscribe|"));
    assert_non_null (strstr (kinds, "S>C c1 push|"));
    const char *tail = "C>S c2 garbage|S>C c2 error|";
    assert_true (strlen (kinds) >= strlen (tail));
    assert_string_equal (kinds + strlen (kinds) - strlen (tail), tail);

    //  Fingerprints of both ends, session ids, error names, summary
    assert_non_null (strstr (text, rsakey_fingerprint_text (s_client_keys [0])));
    assert_non_null (strstr (text, rsakey_fingerprint_text (s_client_keys [1])));
    assert_non_null (strstr (text, rsakey_fingerprint_text (s_server_key)));
    char expect [64];
    snprintf (expect, sizeof expect, "session=%.8s ts=", sessions [0]->id_hex);
    assert_non_null (strstr (text, expect));
    assert_non_null (strstr (text, "ERR_MALFORMED"));
    assert_non_null (strstr (text, "\ntotal "));
    assert_non_null (strstr (text, "\nhello                 2 "));
    //  The dump is there: a hello starts with Envelope field 1 (0x0a)
    assert_non_null (strstr (text, "\n0000  0a "));

    //  Nothing secret: the texts in any encoding, the session token only
    //  as the topic it is on the wire
    s_assert_absent (text, REQUEST_TEXT);
    s_assert_absent (text, REPLY_TEXT);
    s_assert_absent (text, PUSH_TEXT);

    free (kinds);
    free (text);
    zsock_destroy (&sub);
    for (int i = 0; i < 2; i++)
        testclient_destroy (&clients [i]);
}

static void
test_json_output (void **state)
{
    fixture_t *self = *state;
    s_start_tap (self, "--json");
    testclient_t *client = s_connect (self, s_client_keys [0]);
    s_round_trip (self, client);
    char *text = s_stop_tap (self);

    //  Every line is one object; kinds and keys as fields
    const char *line = text;
    int lines = 0;
    while (*line) {
        assert_int_equal (*line, '{');
        const char *end = strchr (line, '\n');
        assert_non_null (end);
        assert_int_equal (end [-1], '}');
        lines++;
        line = end + 1;
    }
    assert_int_equal (lines, 5);       //  hello, welcome, 2 sealed, summary
    char expect [128];
    snprintf (expect, sizeof expect, "\"kind\":\"hello\",\"size\":");
    assert_non_null (strstr (text, expect));
    snprintf (expect, sizeof expect, "\"key\":\"%s\"", rsakey_fingerprint_text (s_client_keys [0]));
    assert_non_null (strstr (text, expect));
    assert_non_null (strstr (text, "\"dir\":\"S>C\",\"client\":\"c1\",\"kind\":\"welcome\""));
    assert_non_null (strstr (text, "\"fernet_ts\":"));
    assert_non_null (strstr (text, "{\"summary\":{\"hello\":{\"frames\":1,"));
    s_assert_absent (text, REQUEST_TEXT);
    free (text);
    testclient_destroy (&client);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_relay_and_output, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_json_output, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
