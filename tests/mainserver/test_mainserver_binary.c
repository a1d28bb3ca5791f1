/*  test_mainserver_binary - the real chat-mainserver: kill -9 right after
    the acks, restart, and every acknowledged message is there exactly once;
    SIGTERM stops it cleanly with exit 0; --init writes the key and the
    public key file and says so; the key server's public key is required;
    --push-public (and the config file) names the push endpoint in the
    Welcome; bad --limit settings are usage errors; a frame over
    WIRE_MAX_FRAME cuts its own connection (ZMQ_MAXMSGSIZE) and nothing else

    The binary comes from $CHAT_MAINSERVER (set by ctest); without it the
    tests skip, saying so, and fail under CHAT_TEST_STRICT=1.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <errno.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>
#include <cmocka.h>
#include "chain.h"
#include "chaterror.h"
#include "credential.h"
#include "epochkey.h"
#include "fernet.h"
#include "secret.h"
#include "wire.h"
#include "msclient.h"
#include "testkeys.h"

#define MESSAGES 300
#define ACKED_BEFORE_KILL 200

static struct {
    char dir [64];
    const char *binary;
    rsakey_t *ks_key;               //  the key server's key pair
    char *keyserver_pub;            //  its public half, as copied
    rsakey_t *key;                  //  the client key
    rsakey_t *alice;                //  identity keys
    rsakey_t *bob;
    pid_t running;                  //  the server a test started, until it is reaped
} F;

typedef struct {
    pid_t pid;
    char *log;
    char *endpoint;
    char *push_endpoint;
} proc_t;

//  Find "<label> tcp://..." in the log; malloc'd endpoint or NULL.
static char *
s_log_endpoint (const char *log, const char *label)
{
    FILE *file = fopen (log, "r");
    if (!file)
        return NULL;
    char line [512];
    char *found = NULL;
    while (!found && fgets (line, sizeof line, file)) {
        char *at = strstr (line, label);
        if (at) {
            at += strlen (label);
            at [strcspn (at, " \r\n")] = 0;
            found = strdup (at);
        }
    }
    fclose (file);
    return found;
}

//  Start the binary; extra: one more option and its value (or NULL), or
//  a config file for everything (config true)
static void
s_start_with (proc_t *proc, int run, const char *option, const char *value, bool config)
{
    proc->log = zsys_sprintf ("%s/log.%d", F.dir, run);
    char *data = zsys_sprintf ("%s/data", F.dir);
    char *config_path = zsys_sprintf ("%s/ms.cfg", F.dir);
    if (config) {
        FILE *file = fopen (config_path, "w");
        assert_non_null (file);
        fprintf (file, "mainserver\n    data = \"%s\"\n    keyserver-key = \"%s\"\n"
                       "    bind = \"tcp://127.0.0.1:*\"\n    push-bind = \"tcp://127.0.0.1:*\"\n"
                       "    push-public = \"tcp://config.example.org:7001\"\n",
                 data, F.keyserver_pub);
        fclose (file);
    }
    proc->pid = fork ();
    assert_true (proc->pid >= 0);
    if (proc->pid == 0) {
        int fd = open (proc->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd < 0)
            _exit (127);
        dup2 (fd, 2);
        dup2 (fd, 1);
        if (config)
            execl (F.binary, F.binary, "--config", config_path, (char *) NULL);
        else
        if (option)
            execl (F.binary, F.binary, "--data", data, "--keyserver-key", F.keyserver_pub,
                   "--bind", "tcp://127.0.0.1:*", "--push-bind", "tcp://127.0.0.1:*",
                   option, value, (char *) NULL);
        else
            execl (F.binary, F.binary, "--data", data, "--keyserver-key", F.keyserver_pub,
                   "--bind", "tcp://127.0.0.1:*", "--push-bind", "tcp://127.0.0.1:*",
                   (char *) NULL);
        _exit (127);
    }
    F.running = proc->pid;
    free (data);
    free (config_path);
    //  Wait for both endpoints in its log (the key is made on first start).
    proc->endpoint = proc->push_endpoint = NULL;
    for (int tries = 0; tries < 300 && !proc->push_endpoint; tries++) {
        zclock_sleep (50);
        if (!proc->endpoint)
            proc->endpoint = s_log_endpoint (proc->log, "requests on ");
        if (proc->endpoint)
            proc->push_endpoint = s_log_endpoint (proc->log, "pushes on ");
        int status;
        assert_int_equal (waitpid (proc->pid, &status, WNOHANG), 0);
    }
    assert_non_null (proc->endpoint);
    assert_non_null (proc->push_endpoint);
}

static void
s_start (proc_t *proc, int run)
{
    s_start_with (proc, run, NULL, NULL, false);
}

//  SIGTERM: a clean stop with exit 0.
static void
s_stop (proc_t *proc)
{
    assert_int_equal (kill (proc->pid, SIGTERM), 0);
    int status = 0, waited = 0;
    while (waitpid (proc->pid, &status, WNOHANG) == 0 && waited < 200) {
        zclock_sleep (50);
        waited++;
    }
    if (waited == 200) {
        kill (proc->pid, SIGKILL);
        waitpid (proc->pid, &status, 0);
        fail_msg ("chat-mainserver did not stop on SIGTERM");
    }
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
}

static void
s_proc_free (proc_t *proc)
{
    zstr_free (&proc->log);
    zstr_free (&proc->endpoint);
    zstr_free (&proc->push_endpoint);
}

//  Skip (saying why) without the binary; under CHAT_TEST_STRICT=1, fail.
static void
s_need_binary (void)
{
    if (F.binary && access (F.binary, X_OK) == 0)
        return;
    const char *strict = getenv ("CHAT_TEST_STRICT");
    if (strict && streq (strict, "1"))
        fail_msg ("CHAT_TEST_STRICT=1 but CHAT_MAINSERVER does not name the "
                  "chat-mainserver binary");
    fprintf (stderr, "skipped: CHAT_MAINSERVER does not name the chat-mainserver binary\n");
    skip ();
}

static int
s_cert_request (msclient_t *client, int purpose, const char *name)
{
    Chat__MainReply *reply = NULL;
    assert_int_equal (msclient_cert_request (client, F.ks_key, purpose, name,
                                             streq (name, "alice")? F.alice: F.bob,
                                             rsakey_fingerprint (F.key), wire_now (), &reply),
                      CHAT_OK);
    int code = msclient_code (reply);
    chat__main_reply__free_unpacked (reply, NULL);
    return code;
}

//  request: a SendMessage (body send) of token into conversation id.
static void
s_send_init (Chat__MainRequest *request, Chat__SendMessageRequest *send, uint8_t *id,
             uint8_t *client_message_id, char *token)
{
    send->conversation_id.data = id;
    send->conversation_id.len = 16;
    send->client_message_id.data = client_message_id;
    send->client_message_id.len = 16;
    send->token = token;
    send->epoch = 1;
    request->body_case = CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE;
    request->send_message = send;
}

static int
s_setup (void **state)
{
    (void) state;
    F.binary = getenv ("CHAT_MAINSERVER");
    strcpy (F.dir, "/tmp/test_msbinary.XXXXXX");
    assert_non_null (mkdtemp (F.dir));
    char *data = zsys_sprintf ("%s/data", F.dir);
    assert_int_equal (mkdir (data, 0700), 0);
    free (data);
    F.ks_key = testkeys_key (20);
    F.keyserver_pub = testkeys_save_public (F.ks_key, F.dir, "keyserver.pub");
    assert_non_null (F.keyserver_pub);
    F.key = testkeys_key (0);
    F.alice = testkeys_key (2);
    F.bob = testkeys_key (3);
    return 0;
}

//  After each test: a server its failure left running is killed, so no
//  chat-mainserver outlives the test (a cmocka failure skips the test's
//  own clean-up).
static int
s_kill_leftover (void **state)
{
    (void) state;
    if (F.running > 0 && waitpid (F.running, NULL, WNOHANG) == 0) {
        kill (F.running, SIGKILL);
        waitpid (F.running, NULL, 0);
    }
    F.running = 0;
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    zstr_free (&F.keyserver_pub);
    testkeys_free ();
    char *command = zsys_sprintf ("rm -rf '%s'", F.dir);
    assert_int_equal (system (command), 0);
    free (command);
    return 0;
}

//  The binary started (run numbers its log) and a client of it that
//  registered name (s_start_as: or logged in as name, by purpose).
static msclient_t *
s_start_as (proc_t *proc, int run, int purpose, const char *name)
{
    s_start (proc, run);
    msclient_t *client = msclient_new (F.key, proc->endpoint, NULL);
    assert_non_null (client);
    assert_int_equal (s_cert_request (client, purpose, name), CHAT_OK);
    return client;
}

static msclient_t *
s_start_registered (proc_t *proc, int run, const char *name)
{
    s_need_binary ();
    return s_start_as (proc, run, CREDENTIAL_REGISTERED, name);
}

//  alice's direct conversation with bob, made by client (logged in as
//  alice): its id in id
static void
s_create_direct (msclient_t *client, uint8_t *id)
{
    uint8_t epoch_key [EPOCHKEY_SIZE], check [EPOCHKEY_CHECK_SIZE];
    assert_int_equal (secret_random (id, 16), 0);
    assert_int_equal (epochkey_generate (epoch_key), CHAT_OK);
    assert_int_equal (epochkey_check_value (epoch_key, id, 1, check), CHAT_OK);
    const char *members [] = { "alice", "bob" };
    chain_link_t link;
    assert_int_equal (chain_make_create (id, "alice", members, 2, true, NULL, check, F.alice,
                                         wire_now_ms (), &link), CHAT_OK);
    Chat__SignedStatement statement;
    chain_link_view (&link, &statement);
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__CreateConversationRequest create = CHAT__CREATE_CONVERSATION_REQUEST__INIT;
    create.statement = &statement;
    request.body_case = CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION;
    request.create_conversation = &create;
    Chat__MainReply *reply = NULL;
    assert_int_equal (msclient_request (client, &request, &reply), CHAT_OK);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_memory_equal (reply->created->conversation->conversation_id.data, id, 16);
    chat__main_reply__free_unpacked (reply, NULL);
    chain_link_free (&link);
}

//  The binary started (run 1), alice and bob registered, and a client
//  logged in as alice that made their direct conversation (id)
static msclient_t *
s_start_alice (proc_t *proc, uint8_t *id)
{
    msclient_t *client = s_start_registered (proc, 1, "alice");
    assert_int_equal (s_cert_request (client, CREDENTIAL_REGISTERED, "bob"), CHAT_OK);
    assert_int_equal (s_cert_request (client, CREDENTIAL_LOGGED_IN, "alice"), CHAT_OK);
    s_create_direct (client, id);
    return client;
}

//  Every message of conversation id, read by client: in seq order from 1
//  with no holes, each one of the count sent (cmids, tokens) from alice;
//  found [i] counts the copies of the i-th
static void
s_read_back (msclient_t *client, uint8_t *id, uint8_t (*cmids) [16], char **tokens,
             int count, int *found)
{
    Chat__MainReply *reply = NULL;
    uint64_t after = 0, expected_seq = 1;
    bool more = true;
    while (more) {
        Chat__MainRequest get_request = CHAT__MAIN_REQUEST__INIT;
        Chat__GetMessagesRequest get = CHAT__GET_MESSAGES_REQUEST__INIT;
        get.conversation_id.data = id;
        get.conversation_id.len = 16;
        get.after_seq = after;
        get_request.body_case = CHAT__MAIN_REQUEST__BODY_GET_MESSAGES;
        get_request.get_messages = &get;
        assert_int_equal (msclient_request (client, &get_request, &reply), CHAT_OK);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        Chat__MessagePage *page = reply->messages;
        for (size_t i = 0; i < page->n_messages; i++) {
            Chat__StoredMessage *msg = page->messages [i];
            assert_int_equal (msg->seq, expected_seq++);       //  no holes
            int index = -1;
            for (int j = 0; j < count && index < 0; j++)
                if (memcmp (cmids [j], msg->client_message_id.data, 16) == 0)
                    index = j;
            assert_true (index >= 0);
            assert_string_equal (msg->token, tokens [index]);
            assert_string_equal (msg->sender, "alice");
            found [index]++;
            after = msg->seq;
        }
        more = page->more;
        chat__main_reply__free_unpacked (reply, NULL);
    }
}

static void
test_kill_and_restart (void **state)
{
    (void) state;
    proc_t proc;
    uint8_t id [16];
    msclient_t *client = s_start_alice (&proc, id);
    Chat__MainReply *reply = NULL;

    //  Pipeline every send, then kill -9 as soon as some of the acks are in:
    //  the rest may or may not have been stored, but every ack must hold.
    uint8_t conv_key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (conv_key), 0);
    uint8_t cmids [MESSAGES][16];
    char *tokens [MESSAGES];
    for (int i = 0; i < MESSAGES; i++) {
        secret_random (cmids [i], 16);
        char text [32];
        snprintf (text, sizeof text, "message %d", i);
        assert_int_equal (fernet_encrypt (conv_key, (uint8_t *) text, strlen (text),
                                          wire_now (), &tokens [i]), CHAT_OK);
        Chat__MainRequest send_request = CHAT__MAIN_REQUEST__INIT;
        Chat__SendMessageRequest send = CHAT__SEND_MESSAGE_REQUEST__INIT;
        s_send_init (&send_request, &send, id, cmids [i], tokens [i]);
        send_request.request_id = (uint64_t) i + 1;
        assert_true (msclient_send (client, &send_request) > 0);
    }
    uint64_t acked_seq [MESSAGES] = { 0 };
    int acked = 0;
    while (acked < ACKED_BEFORE_KILL) {
        assert_int_equal (msclient_recv (client, &reply), CHAT_OK);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        uint64_t index = reply->request_id - 1;
        assert_true (index < MESSAGES);
        acked_seq [index] = reply->sent->seq;
        chat__main_reply__free_unpacked (reply, NULL);
        acked++;
    }
    assert_int_equal (kill (proc.pid, SIGKILL), 0);
    int status;
    assert_int_equal (waitpid (proc.pid, &status, 0), proc.pid);
    assert_true (WIFSIGNALED (status));
    //  Acks that were already on their way count too.
    while (zsock_events (msclient_dealer (client)) & ZMQ_POLLIN) {
        if (msclient_recv (client, &reply) != CHAT_OK)
            break;
        if (msclient_code (reply) == CHAT_OK && reply->request_id >= 1
        &&  reply->request_id <= MESSAGES) {
            acked_seq [reply->request_id - 1] = reply->sent->seq;
            acked++;
        }
        chat__main_reply__free_unpacked (reply, NULL);
    }
    msclient_destroy (&client);
    s_proc_free (&proc);

    //  Restarted on the same data.
    client = s_start_as (&proc, 2, CREDENTIAL_LOGGED_IN, "bob");
    int found [MESSAGES] = { 0 };
    s_read_back (client, id, cmids, tokens, MESSAGES, found);
    int stored = 0;
    for (int i = 0; i < MESSAGES; i++) {
        assert_true (found [i] <= 1);               //  never twice
        if (acked_seq [i]) {
            assert_int_equal (found [i], 1);        //  every ack holds
        }
        stored += found [i];
    }
    assert_true (stored >= acked);
    fprintf (stderr, "# %d acknowledged before kill -9, %d stored\n", acked, stored);

    //  A retry of the whole lot after the crash stores nothing twice.
    assert_int_equal (s_cert_request (client, CREDENTIAL_LOGGED_IN, "alice"), CHAT_OK);
    for (int i = 0; i < MESSAGES; i++) {
        Chat__MainRequest send_request = CHAT__MAIN_REQUEST__INIT;
        Chat__SendMessageRequest send = CHAT__SEND_MESSAGE_REQUEST__INIT;
        s_send_init (&send_request, &send, id, cmids [i], tokens [i]);
        assert_int_equal (msclient_request (client, &send_request, &reply), CHAT_OK);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        assert_int_equal (reply->sent->duplicate, found [i] == 1);
        if (acked_seq [i])
            assert_int_equal (reply->sent->seq, acked_seq [i]);
        chat__main_reply__free_unpacked (reply, NULL);
    }
    msclient_destroy (&client);
    for (int i = 0; i < MESSAGES; i++)
        free (tokens [i]);

    s_stop (&proc);
    s_proc_free (&proc);
}

//  Run a shell command; its exit status, its stdout and stderr in files
static int
s_run (const char *command, const char *out, const char *err)
{
    char *line = zsys_sprintf ("%s >'%s/%s' 2>'%s/%s'", command, F.dir, out, F.dir, err);
    int status = system (line);
    free (line);
    assert_true (WIFEXITED (status));
    return WEXITSTATUS (status);
}

//  A file of the test directory as text (at most size - 1 bytes)
static void
s_read (const char *name, char *text, size_t size)
{
    char *path = zsys_sprintf ("%s/%s", F.dir, name);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    size_t got = fread (text, 1, size - 1, file);
    text [got] = 0;
    fclose (file);
    free (path);
}

static void
test_init (void **state)
{
    (void) state;
    s_need_binary ();
    char *command = zsys_sprintf ("'%s' --init --data '%s/init'", F.binary, F.dir);
    assert_int_equal (s_run (command, "init.out", "init.err"), 0);
    //  One line: the public file's path and the key's fingerprint
    char out [4096], err [4096], expect [256];
    s_read ("init.out", out, sizeof out);
    s_read ("init.err", err, sizeof err);
    snprintf (expect, sizeof expect, "%s/init/mainserver.pub SHA256:", F.dir);
    assert_true (strncmp (out, expect, strlen (expect)) == 0);
    assert_int_equal (strlen (out), strlen (expect) + 43 + 1);
    assert_int_equal (out [strlen (out) - 1], '\n');
    assert_non_null (strstr (err, "--mainserver-key"));
    //  Modes: the directory and key the owner's only, the public file not
    struct stat st;
    char *path = zsys_sprintf ("%s/init", F.dir);
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0700);
    free (path);
    path = zsys_sprintf ("%s/init/server.key", F.dir);
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    free (path);
    path = zsys_sprintf ("%s/init/mainserver.pub", F.dir);
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0644);
    //  The file is the key it names
    rsakey_t *key = rsakey_load_public (path);
    assert_non_null (key);
    assert_non_null (strstr (out, rsakey_fingerprint_text (key)));
    rsakey_destroy (&key);
    free (path);
    //  Again: nothing replaced, the same line
    char again [4096];
    assert_int_equal (s_run (command, "init2.out", "init2.err"), 0);
    s_read ("init2.out", again, sizeof again);
    assert_string_equal (again, out);
    free (command);
}

static void
test_refusals_and_options (void **state)
{
    (void) state;
    s_need_binary ();
    //  No key server key: usage error, naming the file to copy
    char *command = zsys_sprintf ("'%s' --data '%s/empty' --bind 'tcp://127.0.0.1:*'"
                                  " --push-bind 'tcp://127.0.0.1:*'", F.binary, F.dir);
    assert_int_equal (s_run (command, "refused.out", "refused.log"), 2);
    free (command);
    char text [16384];          //  --help with the limits table
    s_read ("refused.log", text, sizeof text);
    assert_non_null (strstr (text, "keyserver.pub"));
    assert_non_null (strstr (text, "--keyserver-key"));
    //  A key server key that is not there: a failure, naming it
    command = zsys_sprintf ("'%s' --data '%s/empty' --keyserver-key '%s/nothing.pub'"
                            " --bind 'tcp://127.0.0.1:*' --push-bind 'tcp://127.0.0.1:*'",
                            F.binary, F.dir, F.dir);
    assert_int_equal (s_run (command, "refused.out", "refused.log"), 1);
    free (command);
    s_read ("refused.log", text, sizeof text);
    assert_non_null (strstr (text, "nothing.pub"));
    //  The shared secret is gone for good
    command = zsys_sprintf ("'%s' --shared-secret x", F.binary);
    assert_int_equal (s_run (command, "refused.out", "refused.log"), 2);
    free (command);
    //  Limits: unknown, out of range, or the key server's: usage errors
    const char *bad_limits [] = { "bogus=1", "sessions=-1", "login_tracked=5", "push_hwm=x",
                                  "sessions" };
    for (size_t i = 0; i < sizeof bad_limits / sizeof bad_limits [0]; i++) {
        command = zsys_sprintf ("'%s' --keyserver-key '%s' --limit %s", F.binary,
                                F.keyserver_pub, bad_limits [i]);
        assert_int_equal (s_run (command, "refused.out", "refused.log"), 2);
        free (command);
    }
    s_read ("refused.log", text, sizeof text);
    assert_non_null (strstr (text, "sessions"));
    command = zsys_sprintf ("'%s' --no-such-option", F.binary);
    assert_int_equal (s_run (command, "refused.out", "refused.log"), 2);
    free (command);
    command = zsys_sprintf ("'%s' --help", F.binary);
    assert_int_equal (s_run (command, "help.out", "help.err"), 0);
    free (command);
    s_read ("help.out", text, sizeof text);
    assert_non_null (strstr (text, "--keyserver-key"));
    assert_non_null (strstr (text, "--push-public"));
    assert_non_null (strstr (text, "--limit"));
    assert_non_null (strstr (text, "sessions_per_user"));
    assert_null (strstr (text, "shared"));
    command = zsys_sprintf ("'%s' --version", F.binary);
    assert_int_equal (s_run (command, "version.out", "version.err"), 0);
    free (command);
    s_read ("version.out", text, sizeof text);
    assert_true (strncmp (text, "chat-mainserver ", 16) == 0);
}

//  What the signed Welcome names as the push endpoint: the bound one by
//  default, --push-public's, or the config file's
static void
test_push_public (void **state)
{
    (void) state;
    s_need_binary ();
    for (int run = 0; run < 3; run++) {
        proc_t proc;
        if (run == 0)
            s_start_with (&proc, 10 + run, NULL, NULL, false);
        else
        if (run == 1)
            s_start_with (&proc, 10 + run, "--push-public", "tcp://chat.example.org:7000",
                          false);
        else
            s_start_with (&proc, 10 + run, NULL, NULL, true);
        msclient_t *client = msclient_new (F.key, proc.endpoint, NULL);
        assert_non_null (client);
        const char *named = channel_peer_push_endpoint (msclient_channel (client));
        const char *expect [] = { proc.push_endpoint, "tcp://chat.example.org:7000",
                                  "tcp://config.example.org:7001" };
        assert_string_equal (named, expect [run]);
        assert_string_equal (channel_peer_role (msclient_channel (client)), "mainserver");
        msclient_destroy (&client);
        s_stop (&proc);
        s_proc_free (&proc);
    }
}

static void
test_oversized_frame (void **state)
{
    (void) state;
    proc_t proc;
    msclient_t *good = s_start_registered (&proc, 3, "oscar");
    //  The big frame is never read: only the small one behind it answered
    testclient_t *bad = testclient_new (proc.endpoint, F.key);
    assert_non_null (bad);
    assert_int_equal (testclient_oversized (bad, 1000), CHAT_ERR_MALFORMED);
    testclient_destroy (&bad);
    //  and everybody else carries on
    assert_int_equal (s_cert_request (good, CREDENTIAL_LOGGED_IN, "oscar"), CHAT_OK);
    msclient_destroy (&good);
    assert_int_equal (kill (proc.pid, SIGTERM), 0);
    int status;
    assert_int_equal (waitpid (proc.pid, &status, 0), proc.pid);
    s_proc_free (&proc);
}

//  ---------------------------------------------------------------- disk full

#define FULL_SENDS 200          //  a bound: the disk is full long before
#define FULL_PLAIN 50000        //  bytes of text a message: about 67 kB a token
#define FULL_REFUSALS 3         //  sends refused before space comes back

//  The data directory as a tmpfs of size (mount), or that tmpfs grown to
//  size (remount). Only ever inside the test's own mount namespace
//  (tests/support/mountns.sh): nothing of it reaches the host.
static void
s_tmpfs (const char *dir, const char *size, bool remount)
{
    char *options = zsys_sprintf ("size=%s,mode=0700", size);
    if (mount ("tmpfs", dir, "tmpfs", (remount? MS_REMOUNT: 0) | MS_NOSUID | MS_NODEV,
               options))
        fail_msg ("mount -t tmpfs -o %s%s %s: %s", remount? "remount,": "", options, dir,
                  strerror (errno));
    free (options);
}

//  A send of message index (made here) by alice: its reply's code; the seq
//  when it was stored, and whether as a duplicate
static int
s_full_send (msclient_t *client, uint8_t *id, uint8_t (*cmids) [16], char **tokens,
             const uint8_t *conv_key, int index, uint64_t *seq, bool *duplicate)
{
    if (!tokens [index]) {
        secret_random (cmids [index], 16);
        uint8_t *text = (uint8_t *) zmalloc (FULL_PLAIN);
        snprintf ((char *) text, FULL_PLAIN, "message %d", index);
        assert_int_equal (fernet_encrypt (conv_key, text, FULL_PLAIN, wire_now (),
                                          &tokens [index]), CHAT_OK);
        free (text);
    }
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__SendMessageRequest send = CHAT__SEND_MESSAGE_REQUEST__INIT;
    s_send_init (&request, &send, id, cmids [index], tokens [index]);
    Chat__MainReply *reply = NULL;
    assert_int_equal (msclient_request (client, &request, &reply), CHAT_OK);
    int code = msclient_code (reply);
    if (code == CHAT_OK) {
        assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_SENT);
        *seq = reply->sent->seq;
        *duplicate = reply->sent->duplicate;
    }
    else
        assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_ERROR);
    chat__main_reply__free_unpacked (reply, NULL);
    return code;
}

//  The real server on a small tmpfs, sent to until the disk is full: each
//  send it cannot store is answered ERR_INTERNAL (nothing stored), the
//  server keeps serving (reads are answered), and every acknowledged
//  message is there after a restart. Once the tmpfs is grown, the refused
//  sends, retried with the same ids, are stored as first copies.
static void
test_disk_full (void **state)
{
    (void) state;
    s_need_binary ();
    char *data = zsys_sprintf ("%s/data", F.dir);
    s_tmpfs (data, "768k", false);
    proc_t proc;
    uint8_t id [16];
    msclient_t *client = s_start_alice (&proc, id);
    msclient_t *reader = msclient_new (F.key, proc.endpoint, NULL);
    assert_non_null (reader);
    assert_int_equal (s_cert_request (reader, CREDENTIAL_LOGGED_IN, "bob"), CHAT_OK);

    uint8_t conv_key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (conv_key), 0);
    uint8_t cmids [FULL_SENDS][16];
    char *tokens [FULL_SENDS] = { NULL };
    bool refused [FULL_SENDS] = { false };
    int sent = 0, acked = 0, refusals = 0;
    while (sent < FULL_SENDS && refusals < FULL_REFUSALS) {
        uint64_t seq = 0;
        bool duplicate = true;
        int code = s_full_send (client, id, cmids, tokens, conv_key, sent, &seq, &duplicate);
        if (code == CHAT_OK) {
            assert_false (duplicate);
            assert_int_equal (seq, ++acked);
        }
        else {
            assert_int_equal (code, CHAT_ERR_INTERNAL);
            refused [sent] = true;
            refusals++;
            //  Still serving: bob reads exactly what was acknowledged
            int found [FULL_SENDS] = { 0 };
            s_read_back (reader, id, cmids, tokens, sent + 1, found);
            for (int index = 0; index <= sent; index++)
                assert_int_equal (found [index], !refused [index]);
        }
        sent++;
    }
    if (refusals < FULL_REFUSALS)
        fail_msg ("%d sends of %d bytes and the %s tmpfs was never full", sent, FULL_PLAIN,
                  "768k");
    assert_true (acked > 0);
    fprintf (stderr, "# %d acknowledged, then the disk was full\n", acked);

    //  Space comes back: the refused sends were never stored
    s_tmpfs (data, "16m", true);
    for (int index = 0; index < sent; index++)
        if (refused [index]) {
            uint64_t seq = 0;
            bool duplicate = true;
            assert_int_equal (s_full_send (client, id, cmids, tokens, conv_key, index, &seq,
                                           &duplicate), CHAT_OK);
            assert_false (duplicate);
            assert_int_equal (seq, ++acked);
        }
    msclient_destroy (&client);
    msclient_destroy (&reader);
    s_stop (&proc);
    s_proc_free (&proc);

    //  Restarted: every one of them, once, in order
    reader = s_start_as (&proc, 2, CREDENTIAL_LOGGED_IN, "bob");
    int found [FULL_SENDS] = { 0 };
    s_read_back (reader, id, cmids, tokens, sent, found);
    for (int index = 0; index < sent; index++)
        assert_int_equal (found [index], 1);
    msclient_destroy (&reader);
    s_stop (&proc);
    s_proc_free (&proc);
    for (int index = 0; index < sent; index++)
        free (tokens [index]);
    assert_int_equal (umount (data), 0);
    free (data);
}

//  After the disk-full test: its server gone, its tmpfs too (a failure
//  leaves both)
static int
s_disk_full_done (void **state)
{
    s_kill_leftover (state);
    char *data = zsys_sprintf ("%s/data", F.dir);
    umount2 (data, MNT_DETACH);         //  gone already when the test passed
    free (data);
    return 0;
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_teardown (test_kill_and_restart, s_kill_leftover),
        cmocka_unit_test (test_init),
        cmocka_unit_test (test_refusals_and_options),
        cmocka_unit_test_teardown (test_push_public, s_kill_leftover),
        cmocka_unit_test_teardown (test_oversized_frame, s_kill_leftover),
    };
    //  In a mount namespace of its own (ctest's mainserver.diskfull, through
    //  tests/support/mountns.sh), the disk-full test and only it
    const char *mountns = getenv ("CHAT_TEST_MOUNTNS");
    if (mountns && streq (mountns, "1")) {
        const struct CMUnitTest disk_full [] = {
            cmocka_unit_test_teardown (test_disk_full, s_disk_full_done),
        };
        return cmocka_run_group_tests (disk_full, s_setup, s_teardown);
    }
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
