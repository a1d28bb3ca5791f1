/*  test_chatclient - the top layer, chatclient_t, through its public API
    alone (chatclient.h), against both servers in-process: every command
    completes with exactly one event carrying its id, local refusals
    included; the connection and pin events the links' events become; the
    user list; finding a conversation by index or id prefix; the ping that
    keeps an idle session alive; logout; login and register failing at
    once while a server cannot be reached, and working once it is back;
    settled after a logout
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>
#include "cltest.h"
#include "chaterror.h"
#include "wire.h"

//  ---------------------------------------------------------------- helpers

typedef struct {
    chatclient_t *client;
    char pin_path [64];
    char users_path [80];       //  known_users: each client its own
    zlistx_t *events;           //  chatclient_event_t, every one read
} s_client_t;

static void
s_event_free (chatclient_event_t **event_p)
{
    chatclient_event_destroy (event_p);
}

static s_client_t *
s_client_new (cltest_servers_t *servers, int ping_ms)
{
    s_client_t *self = calloc (1, sizeof (s_client_t));
    assert_non_null (self);
    snprintf (self->pin_path, sizeof (self->pin_path), "/tmp/cltest-pins-XXXXXX");
    int fd = mkstemp (self->pin_path);
    assert_true (fd >= 0);
    close (fd);
    snprintf (self->users_path, sizeof (self->users_path), "%s-users", self->pin_path);
    chatclient_config_t config = {
        .keyserver = servers->ks_endpoint, .mainserver = servers->ms_endpoint,
        .push = servers->push_endpoint, .known_servers = self->pin_path,
        .known_users = self->users_path, .ping_interval_ms = ping_ms
    };
    self->client = chatclient_new (&config);
    assert_non_null (self->client);
    self->events = zlistx_new ();
    zlistx_set_destructor (self->events, (czmq_destructor *) s_event_free);
    return self;
}

static void
s_client_destroy (s_client_t **self_p)
{
    s_client_t *self = *self_p;
    chatclient_destroy (&self->client);
    zlistx_destroy (&self->events);
    unlink (self->pin_path);
    unlink (self->users_path);
    free (self);
    *self_p = NULL;
}

//  The first event read of type for cmd (CLTEST_ANY_CMD: any) at or after
//  index from, or NULL.
static chatclient_event_t *
s_find (s_client_t *self, chatclient_event_type_t type, uint32_t cmd, size_t from)
{
    size_t i = 0;
    for (chatclient_event_t *event = (chatclient_event_t *) zlistx_first (self->events);
         event; event = (chatclient_event_t *) zlistx_next (self->events), i++)
        if (i >= from && event->type == type && (cmd == CLTEST_ANY_CMD || event->cmd == cmd))
            return event;
    return NULL;
}

//  How many events read so far complete cmd.
static size_t
s_completions (s_client_t *self, uint32_t cmd)
{
    size_t count = 0;
    for (chatclient_event_t *event = (chatclient_event_t *) zlistx_first (self->events);
         event; event = (chatclient_event_t *) zlistx_next (self->events))
        if (event->cmd == cmd)
            count++;
    return count;
}

//  Run the client's loop until an event of type for cmd has been read at
//  or after index from; it, or NULL after the wait.
static chatclient_event_t *
s_wait (s_client_t *self, chatclient_event_type_t type, uint32_t cmd, size_t from)
{
    int64_t end = zclock_mono () + CLTEST_WAIT;
    while (!s_find (self, type, cmd, from) && zclock_mono () < end) {
        if (chatclient_run_once (self->client, 100) < 0)
            break;
        chatclient_event_t *event;
        while ((event = chatclient_next_event (self->client)))
            zlistx_add_end (self->events, event);
    }
    return s_find (self, type, cmd, from);
}

//  Read what is queued now, without running the loop.
static void
s_drain (s_client_t *self)
{
    chatclient_event_t *event;
    while ((event = chatclient_next_event (self->client)))
        zlistx_add_end (self->events, event);
}

static void
s_login (s_client_t *self, const char *name)
{
    uint32_t cmd = chatclient_register (self->client, name, "pw", "pw", "pw");
    assert_non_null (s_wait (self, CHATCLIENT_EV_REGISTERED, cmd, 0));
    cmd = chatclient_login (self->client, name, "pw");
    chatclient_event_t *done = s_wait (self, CHATCLIENT_EV_LOGGED_IN, cmd, 0);
    assert_non_null (done);
    assert_string_equal (done->username, name);
    assert_string_equal (chatclient_username (self->client), name);
}

//  ---------------------------------------------------------------- tests

static void
test_connect_and_refusals (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    s_client_t *c = s_client_new (servers, 0);
    zsock_t *socks [CHATCLIENT_MAX_SOCKETS];
    size_t count = chatclient_sockets (c->client, socks, CHATCLIENT_MAX_SOCKETS);
    assert_true (count >= 4 && count <= CHATCLIENT_MAX_SOCKETS);

    //  both servers: a new pin each, then connected, with the key shown
    chatclient_event_t *connected = s_wait (c, CHATCLIENT_EV_CONNECTED, 0, 0);
    assert_non_null (connected);
    assert_non_null (s_find (c, CHATCLIENT_EV_PIN_NEW, 0, 0));
    while (!(chatclient_connected (c->client, CHATCLIENT_KEYSERVER)
          && chatclient_connected (c->client, CHATCLIENT_MAINSERVER)))
        assert_non_null (s_wait (c, CHATCLIENT_EV_CONNECTED, 0, zlistx_size (c->events)));
    assert_string_equal (chatclient_server_fingerprint (c->client, CHATCLIENT_MAINSERVER),
                         servers->ms_fingerprint);
    chatclient_event_t *pin = s_find (c, CHATCLIENT_EV_PIN_NEW, 0, 0);
    assert_non_null (pin->name);
    assert_non_null (pin->fingerprint);

    //  refused here: each completes at once, with one event
    size_t mark = zlistx_size (c->events);
    uint32_t cmds [] = {
        chatclient_register (c->client, "ann", "a", "b", "a"),
        chatclient_register (c->client, "no spaces", "a", "a", "a"),
        chatclient_login (c->client, "ann", ""),
        chatclient_logout (c->client),
        chatclient_list_users (c->client),
        chatclient_refresh (c->client),
        chatclient_create_conversation (c->client, NULL, 0),
        chatclient_change_password (c->client, "a", "b", "b"),
        chatclient_safety_number (c->client, "bo"),
        chatclient_verify (c->client, "bo", NULL),
    };
    s_drain (c);
    assert_int_equal (zlistx_size (c->events) - mark, 10);
    for (size_t i = 0; i < sizeof (cmds) / sizeof (cmds [0]); i++) {
        assert_true (cmds [i] != 0);
        assert_int_equal (s_completions (c, cmds [i]), 1);
    }
    chatclient_event_t *event = s_find (c, CHATCLIENT_EV_REGISTER_FAILED, cmds [0], mark);
    assert_string_equal (event->text, "Passwords don't match");
    event = s_find (c, CHATCLIENT_EV_REGISTER_FAILED, cmds [1], mark);
    assert_int_equal (event->code, CHAT_ERR_INVALID_USERNAME);
    event = s_find (c, CHATCLIENT_EV_LOGIN_FAILED, cmds [2], mark);
    assert_string_equal (event->text, "Wrong username or password");
    for (size_t i = 3; i < 10; i++) {
        event = s_find (c, CHATCLIENT_EV_ERROR, cmds [i], mark);
        assert_non_null (event);
        assert_int_equal (event->code, CHAT_ERR_NOT_LOGGED_IN);
    }
    s_client_destroy (&c);
}

static void
test_commands (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    s_client_t *a = s_client_new (servers, 0);
    s_client_t *b = s_client_new (servers, 0);
    s_login (a, "amy");
    s_login (b, "bo");

    //  logged in: a second login is refused
    uint32_t cmd = chatclient_login (a->client, "amy", "pw");
    s_drain (a);
    chatclient_event_t *event = s_find (a, CHATCLIENT_EV_LOGIN_FAILED, cmd, 0);
    assert_non_null (event);
    assert_int_equal (event->code, CHAT_ERR_OUT_OF_ORDER);

    //  the user list, kept for the views too
    cmd = chatclient_list_users (a->client);
    event = s_wait (a, CHATCLIENT_EV_USERS, cmd, 0);
    assert_non_null (event);
    assert_true (event->user_count >= 2);
    assert_int_equal (chatclient_user_count (a->client), event->user_count);
    bool seen_bo = false;
    for (size_t i = 0; i < chatclient_user_count (a->client); i++)
        seen_bo |= streq (chatclient_user (a->client, i), "bo");
    assert_true (seen_bo);

    //  a conversation, found by index and by an id prefix
    const char *others [] = { "bo" };
    cmd = chatclient_create_conversation (a->client, others, 1);
    event = s_wait (a, CHATCLIENT_EV_CONVERSATION, cmd, 0);
    assert_non_null (event);
    uint8_t id [CHATCLIENT_ID_SIZE];
    memcpy (id, event->conversation->id, CHATCLIENT_ID_SIZE);
    assert_int_equal (chatclient_conversation_count (a->client), 1);
    const chatclient_conversation_t *found = NULL;
    assert_int_equal (chatclient_conversation_find (a->client, "1", &found), CHAT_OK);
    assert_memory_equal (found->id, id, CHATCLIENT_ID_SIZE);
    char prefix [9];
    memcpy (prefix, found->hex, 8);
    prefix [8] = 0;
    assert_int_equal (chatclient_conversation_find (a->client, prefix, &found), CHAT_OK);
    assert_int_equal (chatclient_conversation_find (a->client, "2", &found),
                      CHAT_ERR_NOT_FOUND);

    //  sends refused here, then one that goes
    size_t mark = zlistx_size (a->events);
    //  (one size limit, the sealed token's: a text longer than that
    //  cannot fit, whatever it holds)
    char *huge = malloc (WIRE_MAX_TOKEN + 2);
    memset (huge, 'x', WIRE_MAX_TOKEN + 1);
    huge [WIRE_MAX_TOKEN + 1] = 0;
    uint32_t too_long = chatclient_send (a->client, id, huge, WIRE_MAX_TOKEN + 1);
    free (huge);
    uint32_t with_nul = chatclient_send (a->client, id, "a\0b", 3);
    uint8_t nowhere [CHATCLIENT_ID_SIZE] = { 0 };
    uint32_t no_conv = chatclient_send (a->client, nowhere, "hi", 2);
    s_drain (a);
    assert_int_equal (s_find (a, CHATCLIENT_EV_ERROR, too_long, mark)->code,
                      CHAT_ERR_MESSAGE_TOO_LARGE);
    assert_int_equal (s_find (a, CHATCLIENT_EV_ERROR, with_nul, mark)->code,
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (s_find (a, CHATCLIENT_EV_ERROR, no_conv, mark)->code,
                      CHAT_ERR_NOT_FOUND);
    //  bo: a stranger's conversation is a message request for him (no
    //  unread) until he accepts it
    assert_non_null (s_wait (b, CHATCLIENT_EV_CONVERSATION, 0, 0));
    cmd = chatclient_accept (b->client, id);
    assert_non_null (s_wait (b, CHATCLIENT_EV_CONVERSATION, cmd, 0));
    assert_false (chatclient_conversation (b->client, 0)->request);
    cmd = chatclient_send (a->client, id, "hello bo", 8);
    event = s_wait (a, CHATCLIENT_EV_SENT, cmd, 0);
    assert_non_null (event);
    assert_int_equal (event->message->seq, 1);
    assert_int_equal (s_completions (a, cmd), 1);

    //  bo: the conversation and the message arrive; open marks it read
    event = s_wait (b, CHATCLIENT_EV_MESSAGE, 0, 0);
    assert_non_null (event);
    assert_string_equal (event->message->text, "hello bo");
    assert_int_equal (chatclient_conversation_count (b->client), 1);
    assert_int_equal (chatclient_conversation (b->client, 0)->unread, 1);
    cmd = chatclient_open (b->client, id);
    assert_non_null (s_wait (b, CHATCLIENT_EV_OPENED, cmd, 0));
    assert_int_equal (chatclient_conversation (b->client, 0)->unread, 0);
    assert_int_equal (chatclient_message_count (b->client, id), 1);
    assert_string_equal (chatclient_message (b->client, id, 0)->sender, "amy");
    cmd = chatclient_members (b->client, id);
    event = s_wait (b, CHATCLIENT_EV_MEMBERS, cmd, 0);
    assert_non_null (event);
    assert_int_equal (event->conversation->member_count, 2);

    //  the identities, through the public API: the safety number the same
    //  on both sides, verified, the members' states, the own fingerprint
    assert_non_null (chatclient_identity_fingerprint (a->client));
    assert_int_equal (chatclient_identity (b->client, "amy"), CHATCLIENT_IDENTITY_UNVERIFIED);
    assert_int_equal (chatclient_identity (b->client, "bo"), CHATCLIENT_IDENTITY_SELF);
    assert_int_equal (chatclient_identity (b->client, "nobody"), CHATCLIENT_IDENTITY_UNKNOWN);
    uint32_t na = chatclient_safety_number (a->client, "bo");
    uint32_t nb = chatclient_safety_number (b->client, "amy");
    chatclient_event_t *of_bo = s_wait (a, CHATCLIENT_EV_SAFETY_NUMBER, na, 0);
    chatclient_event_t *of_amy = s_wait (b, CHATCLIENT_EV_SAFETY_NUMBER, nb, 0);
    assert_non_null (of_bo);
    assert_non_null (of_amy);
    assert_string_equal (of_bo->text, of_amy->text);
    assert_string_equal (of_amy->fingerprint, chatclient_identity_fingerprint (a->client));
    mark = zlistx_size (b->events);
    uint32_t refusals [] = {
        chatclient_verify (b->client, "no such name!", NULL),
        chatclient_change_password (b->client, "pw", "new", "other"),
        chatclient_change_password (b->client, "pw", "", ""),
        chatclient_change_password (b->client, "", "new", "new"),
    };
    s_drain (b);
    for (size_t i = 0; i < sizeof (refusals) / sizeof (refusals [0]); i++)
        assert_int_equal (s_completions (b, refusals [i]), 1);
    assert_int_equal (s_find (b, CHATCLIENT_EV_ERROR, refusals [0], mark)->code,
                      CHAT_ERR_INVALID_USERNAME);
    assert_string_equal (s_find (b, CHATCLIENT_EV_ERROR, refusals [1], mark)->text,
                         "Passwords don't match");
    cmd = chatclient_verify (b->client, "amy", of_amy->fingerprint);
    event = s_wait (b, CHATCLIENT_EV_VERIFIED, cmd, 0);
    assert_non_null (event);
    assert_int_equal (chatclient_identity (b->client, "amy"), CHATCLIENT_IDENTITY_VERIFIED);
    assert_string_equal (chatclient_identity_name (CHATCLIENT_IDENTITY_VERIFIED), "verified");
    assert_int_equal (chatclient_conversation (b->client, 0)->changed, 0);
    assert_true (chatclient_conversation (b->client, 0)->verified);
    assert_int_equal (chatclient_conversation (b->client, 0)->epoch, 1);
    assert_true (chatclient_conversation (b->client, 0)->direct);
    assert_string_equal (chatclient_conversation (b->client, 0)->title, "");
    //  the password, changed through the API
    cmd = chatclient_change_password (b->client, "pw", "new-pw", "new-pw");
    event = s_wait (b, CHATCLIENT_EV_PASSWORD_CHANGED, cmd, 0);
    assert_non_null (event);
    assert_int_equal (s_completions (b, cmd), 1);

    //  logout: LOGGED_OUT for the command, and nothing of the session left
    cmd = chatclient_logout (a->client);
    s_drain (a);
    assert_non_null (s_find (a, CHATCLIENT_EV_LOGGED_OUT, cmd, 0));
    assert_null (chatclient_username (a->client));
    assert_null (chatclient_identity_fingerprint (a->client));
    assert_int_equal (chatclient_identity (a->client, "bo"), CHATCLIENT_IDENTITY_UNKNOWN);
    assert_int_equal (chatclient_conversation_count (a->client), 0);
    assert_int_equal (chatclient_user_count (a->client), 0);
    s_client_destroy (&b);
    s_client_destroy (&a);
}

static void
test_ping_notices_restart (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    //  a short ping: an idle client finds out by itself that the main
    //  server restarted, and logs in there again
    s_client_t *c = s_client_new (servers, 300);
    s_login (c, "cy");
    size_t mark = zlistx_size (c->events);
    cltest_mainserver_stop (servers);
    cltest_mainserver_start (servers);
    chatclient_event_t *lost = s_wait (c, CHATCLIENT_EV_DISCONNECTED, 0, mark);
    assert_non_null (lost);
    assert_int_equal (lost->server, CHATCLIENT_MAINSERVER);
    assert_non_null (lost->endpoint);
    chatclient_event_t *again = s_wait (c, CHATCLIENT_EV_LOGGED_IN, 0, mark);
    assert_non_null (again);
    assert_string_equal (again->username, "cy");
    assert_string_equal (chatclient_username (c->client), "cy");
    s_client_destroy (&c);
}

static void
test_unreachable (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    s_client_t *c = s_client_new (servers, 0);
    s_login (c, "dee");
    uint32_t cmd = chatclient_logout (c->client);
    assert_non_null (s_wait (c, CHATCLIENT_EV_LOGGED_OUT, cmd, 0));
    //  the logout requests are answered: nothing waits any more
    int64_t end = zclock_mono () + CLTEST_WAIT;
    while (!chatclient_settled (c->client) && zclock_mono () < end) {
        chatclient_run_once (c->client, 100);
        s_drain (c);
    }
    assert_true (chatclient_settled (c->client));

    //  the key server goes: said at once, and said right
    size_t mark = zlistx_size (c->events);
    cltest_keyserver_stop (servers);
    chatclient_event_t *lost = s_wait (c, CHATCLIENT_EV_DISCONNECTED, 0, mark);
    assert_non_null (lost);
    assert_int_equal (lost->server, CHATCLIENT_KEYSERVER);
    assert_int_equal (lost->code, CHATCLIENT_ERR_CONNECTION);
    //  once an attempt was refused, login and register fail with the
    //  reason
    chatclient_event_t *refused = NULL;
    end = zclock_mono () + CLTEST_WAIT;
    while (!refused && zclock_mono () < end) {
        refused = s_wait (c, CHATCLIENT_EV_DISCONNECTED, 0, mark);
        if (refused && refused->code != CHATCLIENT_ERR_UNREACHABLE) {
            mark = zlistx_size (c->events);
            refused = NULL;
        }
    }
    assert_non_null (refused);
    assert_non_null (strstr (refused->text, "is chat-keyserver running?"));
    //  (the link tries again at once: the refusal, not a timeout, ends it)
    cmd = chatclient_login (c->client, "dee", "pw");
    chatclient_event_t *failed = s_wait (c, CHATCLIENT_EV_LOGIN_FAILED, cmd, 0);
    assert_non_null (failed);
    assert_int_equal (failed->code, CHATCLIENT_ERR_UNREACHABLE);
    assert_string_equal (failed->text, refused->text);
    assert_string_equal (chatclient_errname (failed->code), "ERR_UNREACHABLE");
    cmd = chatclient_register (c->client, "eve", "pw", "pw", "pw");
    failed = s_wait (c, CHATCLIENT_EV_REGISTER_FAILED, cmd, 0);
    assert_non_null (failed);
    assert_int_equal (failed->code, CHATCLIENT_ERR_UNREACHABLE);

    //  back: connected, and the same login works
    mark = zlistx_size (c->events);
    cltest_keyserver_start (servers);
    chatclient_event_t *back = NULL;
    end = zclock_mono () + CLTEST_WAIT;
    while (!back && zclock_mono () < end) {
        back = s_wait (c, CHATCLIENT_EV_CONNECTED, 0, mark);
        if (back && back->server != CHATCLIENT_KEYSERVER) {
            mark = zlistx_size (c->events);
            back = NULL;
        }
    }
    assert_non_null (back);
    cmd = chatclient_login (c->client, "dee", "pw");
    assert_non_null (s_wait (c, CHATCLIENT_EV_LOGGED_IN, cmd, 0));
    s_client_destroy (&c);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup (test_connect_and_refusals, cltest_test_setup),
        cmocka_unit_test_setup (test_commands, cltest_test_setup),
        cmocka_unit_test_setup (test_ping_notices_restart, cltest_test_setup),
        cmocka_unit_test_setup (test_unreachable, cltest_test_setup),
    };
    return cmocka_run_group_tests (tests, cltest_group_setup, cltest_group_teardown);
}
