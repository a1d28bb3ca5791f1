/*  test_admin - chat-admin's tables and JSON (adminview), and the
    chat-admin binary (CHAT_ADMIN) against a stand-in admin socket: the
    request it sends, the answers it prints, its errors and exit codes
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include <spawn.h>
#include <sys/wait.h>
#include "adminview.h"
#include "chaterror.h"
#include "wire.h"

extern char **environ;

//  A reply like a main server's, with a hostile username.
typedef struct {
    Chat__AdminReply reply;
    Chat__AdminSession session;
    Chat__AdminSession *sessions [1];
    Chat__AdminConversation conv;
    Chat__AdminConversation *convs [1];
    char *members [2];
    Chat__AdminUser user;
    Chat__AdminUser *users [1];
    Chat__AdminServer server;
    Chat__AdminServer *servers [1];
} sample_t;

static void
s_sample (sample_t *self, const char *role)
{
    memset (self, 0, sizeof *self);
    chat__admin_reply__init (&self->reply);
    self->reply.role = (char *) role;
    self->reply.version = "9.8.7";
    self->reply.server_key_fingerprint = "SHA256:AAAAtestfingerprintBBBB";
    self->reply.started_at = 1700000000000;
    self->reply.key_set_count = 3;
    self->reply.wrapped_key_count = 7;
    chat__admin_session__init (&self->session);
    self->session.username = "alice";
    self->session.client_key_fingerprint = "SHA256:clientkeyCCCC";
    self->session.connected_since = 1700000001000;
    self->session.last_activity = 1700000002000;
    self->sessions [0] = &self->session;
    self->reply.sessions = self->sessions;
    self->reply.n_sessions = 1;
    chat__admin_conversation__init (&self->conv);
    self->conv.conversation_id = "00112233445566778899aabbccddeeff";
    self->members [0] = "alice";
    self->members [1] = "bob\x1b[2J";
    self->conv.members = self->members;
    self->conv.n_members = 2;
    self->conv.message_count = 42;
    self->conv.epoch = 1;
    self->conv.last_token_short = "gAAAAABhwjYnxxQc";
    self->conv.last_time = 1700000003000;
    self->convs [0] = &self->conv;
    self->reply.conversations = self->convs;
    self->reply.n_conversations = 1;
    chat__admin_user__init (&self->user);
    self->user.username = "carol";
    self->user.iterations = 4096;
    self->user.stored_key_short = "a1b2c3d4";
    self->user.created_at = 1700000004000;
    self->user.identity_fingerprint = "SHA256:identityDDDD";
    self->user.wrapped_key_count = 2;
    self->users [0] = &self->user;
    self->reply.users = self->users;
    self->reply.n_users = 1;
    chat__admin_server__init (&self->server);
    self->server.id = "host/tcp://127.0.0.1:5556";
    self->server.client_endpoint = "tcp://127.0.0.1:5556";
    self->server.push_endpoint = "tcp://127.0.0.1:5557\x1b[2J";
    self->server.started_at = 1700000005000;
    self->server.sessions = 12;
    self->server.heartbeat_age_ms = 20000;
    self->server.self = true;
    self->servers [0] = &self->server;
    self->reply.servers = self->servers;
    self->reply.n_servers = 1;
}

static char *
s_render (const Chat__AdminReply *reply, bool json)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (json)
        adminview_json (out, reply);
    else
        adminview_text (out, reply);
    fclose (out);
    return text;
}

static void
test_main_tables (void **state)
{
    (void) state;
    sample_t sample;
    s_sample (&sample, "mainserver");
    char *text = s_render (&sample.reply, false);
    char when [32];
    assert_non_null (strstr (text, "Main server (version 9.8.7)"));
    assert_non_null (strstr (text, "Server key: SHA256:AAAAtestfingerprintBBBB"));
    assert_non_null (strstr (text, "Saved conversations (1)"));
    assert_non_null (strstr (text, "00112233445566778899aabbccddeeff  alice, bob?[2J  1      42"));
    assert_non_null (strstr (text, "gAAAAABhwjYnxxQc..."));
    adminview_time (1700000003000, when, sizeof when);
    assert_non_null (strstr (text, when));
    assert_non_null (strstr (text, "Connected sessions (1, 1 logged in)"));
    assert_non_null (strstr (text, "alice  SHA256:clientkeyCCCC"));
    assert_non_null (strstr (text, "Known users (1)"));
    //  A main server's users have their identity key's fingerprint, no
    //  iterations or StoredKey column
    assert_non_null (strstr (text, "carol     SHA256:identityDDDD"));
    assert_null (strstr (text, "ITERATIONS"));
    //  The cluster (a PostgreSQL store): a beat 20 s old may be a server gone
    assert_non_null (strstr (text, "Main servers sharing this database (1)"));
    assert_non_null (strstr (text, "host/tcp://127.0.0.1:5556 (this one)  tcp://127.0.0.1:5556"));
    assert_non_null (strstr (text, "20 s ago (gone?)"));
    //  Nothing from the wire reaches the terminal as an escape
    assert_null (strchr (text, '\x1b'));
    free (text);
}

static void
test_key_tables (void **state)
{
    (void) state;
    sample_t sample;
    s_sample (&sample, "keyserver");
    sample.session.username = "";
    char *text = s_render (&sample.reply, false);
    assert_non_null (strstr (text, "Key server (version 9.8.7)"));
    assert_non_null (strstr (text, "Wrapped epoch keys: 7 copies in 3 sets"));
    assert_non_null (strstr (text, "Registered users (1)"));
    assert_non_null (strstr (text, "USERNAME  ITERATIONS  STOREDKEY    IDENTITY KEY         "
                                   "WRAPPED  REGISTERED"));
    assert_non_null (strstr (text, "carol     4096        a1b2c3d4...  SHA256:identityDDDD  "
                                   "2        "));
    assert_non_null (strstr (text, "Sessions (1, 0 logged in)"));
    assert_non_null (strstr (text, "(not logged in)"));
    assert_null (strstr (text, "Saved conversations"));
    free (text);

    //  Empty tables say so
    Chat__AdminReply empty = CHAT__ADMIN_REPLY__INIT;
    empty.role = "keyserver";
    text = s_render (&empty, false);
    assert_non_null (strstr (text, "Registered users (0)\n  (none)\n"));
    assert_non_null (strstr (text, "Server key: -"));
    free (text);
}

static void
test_json (void **state)
{
    (void) state;
    sample_t sample;
    s_sample (&sample, "mainserver");
    char *text = s_render (&sample.reply, true);
    assert_string_equal (text,
        "{\"role\":\"mainserver\",\"version\":\"9.8.7\","
        "\"server_key_fingerprint\":\"SHA256:AAAAtestfingerprintBBBB\","
        "\"started_at\":1700000000000,\"key_set_count\":3,\"wrapped_key_count\":7,"
        "\"users\":[{\"username\":\"carol\",\"iterations\":4096,"
        "\"stored_key_short\":\"a1b2c3d4\",\"identity_fingerprint\":\"SHA256:identityDDDD\","
        "\"wrapped_key_count\":2,\"created_at\":1700000004000}],"
        "\"sessions\":[{\"username\":\"alice\",\"client_key_fingerprint\":"
        "\"SHA256:clientkeyCCCC\",\"connected_since\":1700000001000,"
        "\"last_activity\":1700000002000}],"
        "\"conversations\":[{\"conversation_id\":\"00112233445566778899aabbccddeeff\","
        "\"members\":[\"alice\",\"bob\\u001b[2J\"],\"epoch\":1,\"direct\":false,"
        "\"message_count\":42,"
        "\"last_token_short\":\"gAAAAABhwjYnxxQc\",\"last_time\":1700000003000}],"
        "\"servers\":[{\"id\":\"host/tcp://127.0.0.1:5556\",\"client_endpoint\":"
        "\"tcp://127.0.0.1:5556\",\"push_endpoint\":\"tcp://127.0.0.1:5557\\u001b[2J\","
        "\"started_at\":1700000005000,\"sessions\":12,\"heartbeat_age_ms\":20000,"
        "\"self\":true}]}\n");
    free (text);
}

//  ------------------------------------------------------- the binary

typedef struct {
    char dir [64];
    pid_t pid;
} run_t;

static void
s_spawn (run_t *run, const char *const *args)
{
    const char *admin = getenv ("CHAT_ADMIN");
    assert_non_null (admin);
    char *argv [16];
    size_t argc = 0;
    argv [argc++] = (char *) admin;
    for (size_t i = 0; args [i] && argc < 15; i++)
        argv [argc++] = (char *) args [i];
    argv [argc] = NULL;
    char out [128], err [128];
    snprintf (out, sizeof out, "%s/out", run->dir);
    snprintf (err, sizeof err, "%s/err", run->dir);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init (&actions);
    posix_spawn_file_actions_addopen (&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen (&actions, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal (posix_spawn (&run->pid, admin, &actions, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy (&actions);
}

static int
s_wait (run_t *run)
{
    int status;
    assert_int_equal (waitpid (run->pid, &status, 0), run->pid);
    assert_true (WIFEXITED (status));
    return WEXITSTATUS (status);
}

static char *
s_slurp (run_t *run, const char *name)
{
    char path [128];
    snprintf (path, sizeof path, "%s/%s", run->dir, name);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    FILE *in = fopen (path, "r");
    if (in) {
        int c;
        while ((c = fgetc (in)) != EOF)
            fputc (c, out);
        fclose (in);
    }
    fclose (out);
    return text;
}

static int
s_setup (void **state)
{
    run_t *run = (run_t *) zmalloc (sizeof *run);
    snprintf (run->dir, sizeof run->dir, "/tmp/test_admin.XXXXXX");
    assert_non_null (mkdtemp (run->dir));
    *state = run;
    return 0;
}

static int
s_teardown (void **state)
{
    run_t *run = *state;
    char cmd [128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", run->dir);
    if (system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", run->dir);
    free (run);
    return 0;
}

//  A stand-in server answers one request with `reply` (NULL: an empty
//  frame, as the servers answer what they do not understand).
static void
s_serve_once (run_t *run, zsock_t *rep, const Chat__AdminReply *reply)
{
    (void) run;
    zframe_t *frame = zframe_recv (rep);
    assert_non_null (frame);
    Chat__AdminRequest *request;
    assert_int_equal (wire_unpack (&chat__admin_request__descriptor, zframe_data (frame),
                                   zframe_size (frame), (ProtobufCMessage **) &request),
                      CHAT_OK);
    assert_int_equal (request->version, 1);
    protobuf_c_message_free_unpacked (&request->base, NULL);
    zframe_destroy (&frame);
    uint8_t *data = NULL;
    size_t size = 0;
    if (reply)
        assert_int_equal (wire_pack (&reply->base, &data, &size), CHAT_OK);
    frame = zframe_new (data, size);
    free (data);
    assert_int_equal (zframe_send (&frame, rep, 0), 0);
}

static void
test_binary (void **state)
{
    run_t *run = *state;
    zsock_t *rep = zsock_new (ZMQ_REP);
    assert_int_equal (zsock_bind (rep, "ipc://%s/admin.sock", run->dir), 0);
    zsock_set_rcvtimeo (rep, 10000);
    sample_t sample;
    s_sample (&sample, "mainserver");

    const char *text_args [] = { "main", "--data", run->dir, NULL };
    s_spawn (run, text_args);
    s_serve_once (run, rep, &sample.reply);
    assert_int_equal (s_wait (run), 0);
    char *out = s_slurp (run, "out");
    assert_non_null (strstr (out, "Saved conversations (1)"));
    free (out);

    const char *json_args [] = { "main", "--json", "--data", run->dir, NULL };
    s_spawn (run, json_args);
    s_serve_once (run, rep, &sample.reply);
    assert_int_equal (s_wait (run), 0);
    out = s_slurp (run, "out");
    assert_non_null (strstr (out, "{\"role\":\"mainserver\""));
    free (out);

    //  Asking the main server at a key server's socket is an error
    const char *key_args [] = { "key", "--data", run->dir, NULL };
    s_spawn (run, key_args);
    s_serve_once (run, rep, &sample.reply);
    assert_int_equal (s_wait (run), 1);
    char *err = s_slurp (run, "err");
    assert_non_null (strstr (err, "belongs to a mainserver, not a keyserver"));
    free (err);

    //  A refusal (empty frame)
    s_spawn (run, text_args);
    s_serve_once (run, rep, NULL);
    assert_int_equal (s_wait (run), 1);
    err = s_slurp (run, "err");
    assert_non_null (strstr (err, "did not understand"));
    free (err);

    //  Bound but never answering: the receive timeout
    const char *short_args [] = { "main", "--timeout", "200", "--data", run->dir, NULL };
    zsock_destroy (&rep);
    zsock_t *mute = zsock_new (ZMQ_ROUTER);
    assert_int_equal (zsock_bind (mute, "ipc://%s/admin.sock", run->dir), 0);
    s_spawn (run, short_args);
    assert_int_equal (s_wait (run), 1);
    err = s_slurp (run, "err");
    char expect [160];
    snprintf (expect, sizeof expect, "no server answering on ipc://%s/admin.sock", run->dir);
    assert_non_null (strstr (err, expect));
    free (err);
    zsock_destroy (&mute);
}

static void
test_binary_errors (void **state)
{
    run_t *run = *state;
    //  Nobody there at all
    const char *none_args [] = { "key", "--data", run->dir, NULL };
    s_spawn (run, none_args);
    assert_int_equal (s_wait (run), 1);
    char *err = s_slurp (run, "err");
    assert_non_null (strstr (err, "no server answering on ipc://"));
    free (err);
    //  Usage errors: 2
    const char *bad [][5] = {
        { "--data", run->dir, NULL },
        { "both", "--data", run->dir, NULL },
        { "main", NULL },
        { "main", "--timeout", "x", "--data", run->dir },
        { "main", "--bogus", NULL },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        const char *args [6] = { 0 };
        memcpy (args, bad [i], sizeof bad [i]);
        s_spawn (run, args);
        assert_int_equal (s_wait (run), 2);
    }
    const char *help [] = { "--help", NULL };
    s_spawn (run, help);
    assert_int_equal (s_wait (run), 0);
    char *out = s_slurp (run, "out");
    assert_non_null (strstr (out, "Usage: chat-admin main|key|metrics --data DIR"));
    free (out);
    const char *version [] = { "--version", NULL };
    s_spawn (run, version);
    assert_int_equal (s_wait (run), 0);
    out = s_slurp (run, "out");
    assert_non_null (strstr (out, "chat-admin "));
    free (out);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_main_tables),
        cmocka_unit_test (test_key_tables),
        cmocka_unit_test (test_json),
        cmocka_unit_test_setup_teardown (test_binary, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_binary_errors, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
