/*  cltest - what the tests of libchatclient's layers share; see cltest.h
*/
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cltest.h"
#include "keyserver.h"
#include "mainserver.h"

int
cltest_wait_ms (void)
{
    static int wait = 0;
    if (!wait) {
        const char *env = getenv ("CLTEST_WAIT_MS");
        wait = env && atoi (env) > 0 ? atoi (env) : 10000;
    }
    return wait;
}

//  ---------------------------------------------------------------- servers

//  A command to an actor that must answer with something other than an
//  ERROR; the answer.
static char *
s_ask (zactor_t *actor, const char *command, const char *arg)
{
    if (arg)
        zstr_sendx (actor, command, arg, NULL);
    else
        zstr_send (actor, command);
    char *answer = zstr_recv (actor);
    if (!answer || strncmp (answer, "ERROR", 5) == 0) {
        fprintf (stderr, "cltest: %s %s: %s\n", command, arg ? arg : "",
                 answer ? answer : "(interrupted)");
        abort ();
    }
    return answer;
}

static void
s_ask_ok (zactor_t *actor, const char *command, const char *arg)
{
    char *answer = s_ask (actor, command, arg);
    zstr_free (&answer);
}

//  Bind a server: first to a random free port (CZMQ's '!': with '*' every
//  test on the machine takes the lowest free port, so the one a stopped
//  server frees goes to the next test that binds, anywhere), then again to
//  the port it had. libzmq closes the last listener in the background, so
//  the port may take a moment to be free.
static char *
s_bind (zactor_t *actor, const char *command, const char *endpoint)
{
    if (!endpoint)
        return s_ask (actor, command, "tcp://127.0.0.1:!");
    int64_t give_up = zclock_mono () + cltest_wait_ms ();
    while (true) {
        zstr_sendx (actor, command, endpoint, NULL);
        char *answer = zstr_recv (actor);
        if (answer && strncmp (answer, "ERROR", 5) != 0)
            return answer;
        zstr_free (&answer);
        if (zclock_mono () > give_up) {
            fprintf (stderr, "cltest: %s %s: the port stays taken\n", command, endpoint);
            abort ();
        }
        zclock_sleep (100);
    }
}

void
cltest_keyserver_start (cltest_servers_t *self)
{
    assert (!self->keyserver);
    self->keyserver = zactor_new (keyserver_actor, NULL);
    assert (self->keyserver);
    zstr_sendx (self->keyserver, "DATA", self->ks_dir, NULL);
    char *main_key = zsys_sprintf ("%s/%s", self->ms_dir, MAINSERVER_PUBLIC_FILE);
    zstr_sendx (self->keyserver, "MAINSERVER-KEY", main_key, NULL);
    zstr_free (&main_key);
    //  the least SCRAM allows: logins in tests are quick
    zstr_sendx (self->keyserver, "ITERATIONS", "4096", NULL);
    s_ask_ok (self->keyserver, "START", NULL);
    char *endpoint = s_bind (self->keyserver, "BIND", self->ks_endpoint);
    zstr_free (&self->ks_endpoint);
    self->ks_endpoint = endpoint;
}

void
cltest_mainserver_start (cltest_servers_t *self)
{
    assert (!self->mainserver);
    self->mainserver = zactor_new (mainserver_actor, NULL);
    assert (self->mainserver);
    s_ask_ok (self->mainserver, "DATA", self->ms_dir);
    char *key_key = zsys_sprintf ("%s/%s", self->ks_dir, KEYSERVER_PUBLIC_FILE);
    s_ask_ok (self->mainserver, "KEYSERVER-KEY", key_key);
    zstr_free (&key_key);
    s_ask_ok (self->mainserver, "START", NULL);
    char *endpoint = s_bind (self->mainserver, "BIND", self->ms_endpoint);
    zstr_free (&self->ms_endpoint);
    self->ms_endpoint = endpoint;
    endpoint = s_bind (self->mainserver, "PUSH-BIND", self->push_endpoint);
    zstr_free (&self->push_endpoint);
    self->push_endpoint = endpoint;
    zstr_free (&self->ms_fingerprint);
    self->ms_fingerprint = s_ask (self->mainserver, "FINGERPRINT", NULL);
}

void
cltest_mainserver_stop (cltest_servers_t *self)
{
    zactor_destroy (&self->mainserver);
}

void
cltest_keyserver_stop (cltest_servers_t *self)
{
    zactor_destroy (&self->keyserver);
}

void
cltest_servers_ensure (cltest_servers_t *self)
{
    if (!self->keyserver)
        cltest_keyserver_start (self);
    if (!self->mainserver)
        cltest_mainserver_start (self);
}

cltest_servers_t *
cltest_servers_new (void)
{
    cltest_servers_t *self = calloc (1, sizeof (cltest_servers_t));
    assert (self);
    snprintf (self->ks_dir, sizeof (self->ks_dir), "/tmp/cltest-ks-XXXXXX");
    snprintf (self->ms_dir, sizeof (self->ms_dir), "/tmp/cltest-ms-XXXXXX");
    if (!mkdtemp (self->ks_dir) || !mkdtemp (self->ms_dir)) {
        perror ("cltest: mkdtemp");
        abort ();
    }
    //  each server's key and public key file first: each starts with the
    //  other's, as an operator copies them (no secret is shared)
    char error [256] = "";
    if (keyserver_prepare (self->ks_dir) != 0
    ||  mainserver_prepare (self->ms_dir, error, sizeof error) != 0) {
        fprintf (stderr, "cltest: cannot prepare the servers' data: %s\n", error);
        abort ();
    }
    cltest_keyserver_start (self);
    cltest_mainserver_start (self);
    return self;
}

static int
s_remove_entry (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) flag;
    (void) ftw;
    remove (path);
    return 0;
}

static void
s_remove_tree (const char *path)
{
    nftw (path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void
cltest_servers_destroy (cltest_servers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cltest_servers_t *self = *self_p;
    cltest_mainserver_stop (self);
    cltest_keyserver_stop (self);
    s_remove_tree (self->ks_dir);
    s_remove_tree (self->ms_dir);
    zstr_free (&self->ks_endpoint);
    zstr_free (&self->ms_endpoint);
    zstr_free (&self->push_endpoint);
    zstr_free (&self->ms_fingerprint);
    free (self);
    *self_p = NULL;
}

int
cltest_group_setup (void **state)
{
    *state = cltest_servers_new ();
    return 0;
}

int
cltest_group_teardown (void **state)
{
    cltest_servers_destroy ((cltest_servers_t **) state);
    return 0;
}

int
cltest_test_setup (void **state)
{
    cltest_servers_ensure ((cltest_servers_t *) *state);
    return 0;
}

//  ---------------------------------------------------------------- recorder

struct _cltest_recorder_t {
    zlistx_t *events;           //  cltest_event_t
};

static void
s_event_destroy (cltest_event_t **event_p)
{
    if (event_p && *event_p) {
        cltest_event_t *event = *event_p;
        free (event->text);
        free (event->fingerprint);
        free (event->pinned);
        free (event->endpoint);
        free (event->from);
        free (event->data);
        chatclient_event_destroy (&event->pub);
        free (event);
        *event_p = NULL;
    }
}

cltest_recorder_t *
cltest_recorder_new (void)
{
    cltest_recorder_t *self = calloc (1, sizeof (cltest_recorder_t));
    assert (self);
    self->events = zlistx_new ();
    assert (self->events);
    zlistx_set_destructor (self->events, (czmq_destructor *) s_event_destroy);
    return self;
}

void
cltest_recorder_destroy (cltest_recorder_t **self_p)
{
    if (self_p && *self_p) {
        zlistx_destroy (&(*self_p)->events);
        free (*self_p);
        *self_p = NULL;
    }
}

void
cltest_recorder_listen (void *recorder, cl_event_t *event)
{
    cltest_recorder_t *self = (cltest_recorder_t *) recorder;
    cltest_event_t *copy = calloc (1, sizeof (cltest_event_t));
    assert (copy);
    copy->kind = event->kind;
    copy->server = event->server;
    copy->code = event->code;
    copy->text = event->text ? strdup (event->text) : NULL;
    copy->retry_ms = event->retry_ms;
    copy->fingerprint = event->fingerprint ? strdup (event->fingerprint) : NULL;
    copy->pinned = event->pinned ? strdup (event->pinned) : NULL;
    copy->endpoint = event->endpoint ? strdup (event->endpoint) : NULL;
    copy->from = event->from ? strdup (event->from) : NULL;
    if (event->data) {
        copy->data = malloc (event->size + 1);
        assert (copy->data);
        memcpy (copy->data, event->data, event->size);
        copy->size = event->size;
    }
    copy->pub = event->pub;         //  taken, as the top of the stack does
    event->pub = NULL;
    zlistx_add_end (self->events, copy);
}

size_t
cltest_recorder_size (cltest_recorder_t *self)
{
    return zlistx_size (self->events);
}

cltest_event_t *
cltest_recorder_at (cltest_recorder_t *self, size_t index)
{
    size_t i = 0;
    for (cltest_event_t *event = (cltest_event_t *) zlistx_first (self->events); event;
         event = (cltest_event_t *) zlistx_next (self->events), i++)
        if (i == index)
            return event;
    return NULL;
}

size_t
cltest_recorder_count (cltest_recorder_t *self, cl_event_kind_t kind, int server)
{
    size_t count = 0;
    for (cltest_event_t *event = (cltest_event_t *) zlistx_first (self->events); event;
         event = (cltest_event_t *) zlistx_next (self->events))
        if (event->kind == kind && (server < 0 || (int) event->server == server))
            count++;
    return count;
}

cltest_event_t *
cltest_recorder_find (cltest_recorder_t *self, cl_event_kind_t kind, int server,
                      size_t from)
{
    size_t i = 0;
    for (cltest_event_t *event = (cltest_event_t *) zlistx_first (self->events); event;
         event = (cltest_event_t *) zlistx_next (self->events), i++)
        if (i >= from && event->kind == kind
        &&  (server < 0 || (int) event->server == server))
            return event;
    return NULL;
}

chatclient_event_t *
cltest_recorder_public (cltest_recorder_t *self, chatclient_event_type_t type,
                        uint32_t cmd, size_t from)
{
    size_t i = 0;
    for (cltest_event_t *event = (cltest_event_t *) zlistx_first (self->events); event;
         event = (cltest_event_t *) zlistx_next (self->events), i++)
        if (i >= from && event->kind == CL_EV_PUBLIC && event->pub
        &&  event->pub->type == type && (cmd == CLTEST_ANY_CMD || event->pub->cmd == cmd))
            return event->pub;
    return NULL;
}

void
cltest_recorder_clear (cltest_recorder_t *self)
{
    zlistx_purge (self->events);
}

//  ---------------------------------------------------------------- stack

cltest_stack_t *
cltest_stack_new (cltest_servers_t *servers, cltest_top_t top,
                  const cltest_options_t *options)
{
    const cl_link_config_t *link_config = options ? options->link : NULL;
    //  1 s and 10 s, longer when the test's waits are (slow runs)
    int request_ms = options && options->request_timeout_ms
                   ? options->request_timeout_ms : cltest_wait_ms () / 10;
    int command_ms = options && options->command_timeout_ms
                   ? options->command_timeout_ms : cltest_wait_ms ();
    cltest_stack_t *self = calloc (1, sizeof (cltest_stack_t));
    assert (self);
    self->key = rsakey_generate (2048);
    assert (self->key);
    snprintf (self->pin_path, sizeof (self->pin_path), "/tmp/cltest-pins-XXXXXX");
    int fd = mkstemp (self->pin_path);
    assert (fd >= 0);
    close (fd);
    snprintf (self->users_path, sizeof (self->users_path), "/tmp/cltest-users-XXXXXX");
    fd = mkstemp (self->users_path);
    assert (fd >= 0);
    close (fd);
    self->pins = pinstore_new (self->pin_path);
    assert (self->pins);
    self->recorder = cltest_recorder_new ();

    for (int i = 0; i < 2; i++) {
        cl_link_config_t config = {
            .server = (chatclient_server_t) i,
            .endpoint = i == CHATCLIENT_KEYSERVER ? servers->ks_endpoint
                                                  : servers->ms_endpoint,
            //  the main server's pushes come from where its Welcome says
            .push_from_welcome = i == CHATCLIENT_MAINSERVER,
            .hello_timeout_ms = request_ms,
            .monitor = true
        };
        if (link_config && i == (int) link_config->server) {
            config.pin = link_config->pin;
            config.pin_name = link_config->pin_name;
            if (link_config->hello_timeout_ms)
                config.hello_timeout_ms = link_config->hello_timeout_ms;
            if (link_config->endpoint)
                config.endpoint = link_config->endpoint;
            config.endpoints = link_config->endpoints;
            config.endpoint_count = link_config->endpoint_count;
            config.in_order = link_config->in_order;
            if (link_config->push)
                config.push = link_config->push;
        }
        self->links [i] = cl_link_new (&config, self->key, self->pins);
        assert (self->links [i]);
        if (top == CLTEST_LINKS)
            cl_link_set_listener (self->links [i], cltest_recorder_listen, self->recorder);
        else {
            self->requests [i] = cl_requests_new (self->links [i], request_ms, command_ms);
            if (top == CLTEST_REQUESTS)
                cl_requests_set_listener (self->requests [i], cltest_recorder_listen,
                                          self->recorder);
        }
    }
    if (top >= CLTEST_SESSION) {
        self->session = cl_session_new (self->requests [0], self->requests [1]);
        assert (self->session);
        if (top == CLTEST_SESSION)
            cl_session_set_listener (self->session, cltest_recorder_listen, self->recorder);
    }
    if (top >= CLTEST_CONTACTS) {
        self->contacts = cl_contacts_new (self->session, self->requests [0], self->users_path);
        assert (self->contacts);
        if (top == CLTEST_CONTACTS)
            cl_contacts_set_listener (self->contacts, cltest_recorder_listen, self->recorder);
    }
    if (top == CLTEST_CONVS) {
        self->convs = cl_convs_new (self->session, self->contacts, self->requests [0],
                                    self->requests [1]);
        cl_convs_set_listener (self->convs, cltest_recorder_listen, self->recorder);
    }
    for (int i = 0; i < 2; i++)
        cl_link_attempt (self->links [i]);
    return self;
}

void
cltest_stack_destroy (cltest_stack_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cltest_stack_t *self = *self_p;
    cl_convs_destroy (&self->convs);
    cl_contacts_destroy (&self->contacts);
    cl_session_destroy (&self->session);
    for (int i = 0; i < 2; i++) {
        cl_requests_destroy (&self->requests [i]);
        cl_link_destroy (&self->links [i]);
    }
    cltest_recorder_destroy (&self->recorder);
    pinstore_destroy (&self->pins);
    unlink (self->pin_path);
    unlink (self->users_path);
    rsakey_destroy (&self->key);
    free (self);
    *self_p = NULL;
}

uint32_t
cltest_stack_cmd (cltest_stack_t *self)
{
    return ++self->next_cmd;
}

//  Abort (the test cannot go on) unless the wait found the event.
static void
s_expect (chatclient_event_t *event, const char *what, const char *name)
{
    if (!event) {
        fprintf (stderr, "cltest: %s %s did not complete\n", what, name);
        abort ();
    }
}

void
cltest_dead_endpoint (char *endpoint, size_t size)
{
    zsock_t *probe = zsock_new (ZMQ_ROUTER);
    assert (probe);
    int port = zsock_bind (probe, "tcp://127.0.0.1:!");
    assert (port > 0);
    zsock_destroy (&probe);
    snprintf (endpoint, size, "tcp://127.0.0.1:%d", port);
}

cltest_stack_t *
cltest_user (cltest_servers_t *servers, cltest_top_t top, const char *name, bool login)
{
    cltest_stack_t *stack = cltest_stack_new (servers, top, NULL);
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_session_register (stack->session, cmd, name, "pw");
    s_expect (cltest_stack_wait_public (stack, CHATCLIENT_EV_REGISTERED, cmd, 0,
                                        cltest_wait_ms ()), "registering", name);
    if (login) {
        cmd = cltest_stack_cmd (stack);
        cl_session_login (stack->session, cmd, name, "pw");
        s_expect (cltest_stack_wait_public (stack, CHATCLIENT_EV_LOGGED_IN, cmd, 0,
                                            cltest_wait_ms ()), "logging in", name);
        //  the first list comes by itself, as the session comes up
        if (top == CLTEST_CONVS)
            s_expect (cltest_stack_wait_public (stack, CHATCLIENT_EV_CONVERSATIONS, 0, 0,
                                                cltest_wait_ms ()), "the first list of", name);
    }
    return stack;
}

//  One turn: poll up to wait ms, handle what is readable, tick.
static void
s_turn (cltest_stack_t *self, int wait)
{
    zsock_t *socks [8];
    size_t count = 0;
    for (int i = 0; i < 2; i++)
        count += cl_link_sockets (self->links [i], socks + count, 8 - count);
    if (self->session)
        count += cl_session_sockets (self->session, socks + count, 8 - count);
    zmq_pollitem_t items [8];
    for (size_t i = 0; i < count; i++)
        items [i] = (zmq_pollitem_t) { .socket = zsock_resolve (socks [i]),
                                       .events = ZMQ_POLLIN };
    int64_t now = zclock_mono ();
    int64_t due = now + wait;
    for (int i = 0; i < 2; i++) {
        due = cl_link_due (self->links [i], due);
        if (self->requests [i])
            due = cl_requests_due (self->requests [i], due);
    }
    if (self->convs)
        due = cl_convs_due (self->convs, due);
    if (zmq_poll (items, (int) count, due > now ? (long) (due - now) : 0) > 0)
        for (size_t i = 0; i < count; i++)
            if (items [i].revents & ZMQ_POLLIN) {
                bool handled = cl_link_handle (self->links [0], socks [i])
                            || cl_link_handle (self->links [1], socks [i]);
                if (!handled && self->session)
                    cl_session_handle (self->session, socks [i]);
            }
    now = zclock_mono ();
    for (int i = 0; i < 2; i++)
        cl_link_tick (self->links [i], now);
    for (int i = 0; i < 2; i++)
        if (self->requests [i])
            cl_requests_tick (self->requests [i], now);
    if (self->session)
        cl_session_tick (self->session);
    if (self->convs)
        cl_convs_tick (self->convs, now);
}

bool
cltest_stack_run (cltest_stack_t *self, int timeout_ms, cltest_until_fn *until, void *arg)
{
    int64_t end = zclock_mono () + timeout_ms;
    while (true) {
        if (until && until (self, arg))
            return true;
        int64_t left = end - zclock_mono ();
        if (left <= 0 || zsys_interrupted)
            return false;
        s_turn (self, left < 50 ? (int) left : 50);
    }
}

typedef struct {
    cl_event_kind_t kind;
    int server;
    size_t from;
    chatclient_event_type_t type;
    uint32_t cmd;
} s_wanted_t;

static bool
s_has_kind (cltest_stack_t *stack, void *arg)
{
    s_wanted_t *wanted = (s_wanted_t *) arg;
    return cltest_recorder_find (stack->recorder, wanted->kind, wanted->server,
                                 wanted->from) != NULL;
}

cltest_event_t *
cltest_stack_wait (cltest_stack_t *self, cl_event_kind_t kind, int server,
                   size_t from, int timeout_ms)
{
    s_wanted_t wanted = { .kind = kind, .server = server, .from = from };
    cltest_stack_run (self, timeout_ms, s_has_kind, &wanted);
    return cltest_recorder_find (self->recorder, kind, server, from);
}

static bool
s_has_public (cltest_stack_t *stack, void *arg)
{
    s_wanted_t *wanted = (s_wanted_t *) arg;
    return cltest_recorder_public (stack->recorder, wanted->type, wanted->cmd,
                                   wanted->from) != NULL;
}

chatclient_event_t *
cltest_stack_wait_public (cltest_stack_t *self, chatclient_event_type_t type,
                          uint32_t cmd, size_t from, int timeout_ms)
{
    s_wanted_t wanted = { .type = type, .cmd = cmd, .from = from };
    cltest_stack_run (self, timeout_ms, s_has_public, &wanted);
    return cltest_recorder_public (self->recorder, type, cmd, from);
}
