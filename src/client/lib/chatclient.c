/*  chatclient - the client library; see chatclient.h

    The top of the stack described in cl_event.h: this file makes the
    layers (two links, their request queues, the session, the contacts,
    the conversations), checks each command's arguments and hands it to
    the layer that carries it out, keeps the queue of public events the
    layers publish, and turns the links' events into the public connection,
    pin and role events. It also keeps the main server session alive (ping)
    and the last user list.
*/
#include <stdlib.h>
#include <string.h>
#include "chatclient.h"
#include "cl_contacts.h"
#include "cl_convs.h"
#include "cl_event.h"
#include "cl_link.h"
#include "cl_requests.h"
#include "cl_session.h"
#include "chain.h"
#include "chaterror.h"
#include "codec.h"
#include "credential.h"
#include "pinstore.h"
#include "rsakey.h"
#include "wire.h"

//  After a reconnect, the push subscription of the new session reaches the
//  server some time after the session is back (PUB/SUB: nothing says
//  when); a message pushed before it arrives is dropped there. A list this
//  long after the session is back catches such a message.
#define CATCH_UP_MS 1000

struct _chatclient_t {
    chatclient_config_t config;
    rsakey_t *client_key;
    pinstore_t *pins;
    cl_link_t *links [2];           //  by chatclient_server_t
    cl_requests_t *requests [2];
    cl_session_t *session;
    cl_contacts_t *contacts;
    cl_convs_t *convs;
    zlist_t *events;                //  chatclient_event_t, for the caller
    zlist_t *users;                 //  char *, the last list
    uint32_t next_cmd;
    int64_t next_ping;
    int64_t next_refresh;           //  0: not scheduled yet
    int64_t catch_up_at;            //  a list after a reconnect, or 0
};

//  ---------------------------------------------------------------- events

static void
s_queue (chatclient_t *self, chatclient_event_t *event)
{
    zlist_append (self->events, event);
}

//  A link event as the caller reads it.
static void
s_link_event (chatclient_t *self, cl_event_t *event, chatclient_event_type_t type)
{
    cl_link_t *link = self->links [event->server];
    chatclient_event_t *pub = cl_event_new (type, 0);
    pub->server = event->server;
    pub->code = event->code;
    pub->retry_ms = event->retry_ms;
    pub->text = cl_strdup (event->text);
    //  the endpoint the event is about (a list's: the one that failed,
    //  was refused, or is connected now)
    pub->endpoint = cl_strdup (event->endpoint? event->endpoint: cl_link_endpoint (link));
    pub->from = cl_strdup (event->from);
    if (type == CHATCLIENT_EV_CONNECTED)
        pub->fingerprint = cl_strdup (cl_link_fingerprint (link));
    else
        pub->fingerprint = cl_strdup (event->fingerprint);
    if (type == CHATCLIENT_EV_PIN_NEW || type == CHATCLIENT_EV_PIN_MISMATCH
    ||  type == CHATCLIENT_EV_PIN_MOVED)
        pub->name = cl_strdup (cl_link_pin_name (link));
    pub->pinned = cl_strdup (event->pinned);
    s_queue (self, pub);
}

static void
s_users_clear (chatclient_t *self)
{
    char *user;
    while ((user = (char *) zlist_pop (self->users)))
        free (user);
}

//  Everything the layers say reaches here, last.
static void
s_on_event (void *arg, cl_event_t *event)
{
    chatclient_t *self = (chatclient_t *) arg;
    switch (event->kind) {
        case CL_EV_PUBLIC:
            s_queue (self, event->pub);
            event->pub = NULL;
            break;
        case CL_EV_LINK_OPEN:
            s_link_event (self, event, CHATCLIENT_EV_CONNECTED);
            if (event->server == CHATCLIENT_MAINSERVER)
                self->next_ping = zclock_mono () + self->config.ping_interval_ms;
            break;
        case CL_EV_LINK_DOWN:
            s_link_event (self, event, CHATCLIENT_EV_DISCONNECTED);
            break;
        case CL_EV_LINK_PIN_NEW:
            s_link_event (self, event, CHATCLIENT_EV_PIN_NEW);
            break;
        case CL_EV_LINK_PIN_MOVED:
            s_link_event (self, event, CHATCLIENT_EV_PIN_MOVED);
            break;
        case CL_EV_LINK_FAILOVER:
            s_link_event (self, event, CHATCLIENT_EV_FAILOVER);
            break;
        case CL_EV_LINK_SKIPPED:
        case CL_EV_LINK_REFUSED:
            s_link_event (self, event, event->code == CHAT_ERR_WRONG_ROLE
                                       ? CHATCLIENT_EV_WRONG_ROLE
                                       : CHATCLIENT_EV_PIN_MISMATCH);
            break;
        case CL_EV_SESSION_RENEWED:
            self->catch_up_at = zclock_mono () + CATCH_UP_MS;
            break;
        case CL_EV_SESSION_DOWN:
            s_users_clear (self);
            break;
        default:
            break;
    }
}

bool
chatclient_settled (chatclient_t *self)
{
    return zlist_size (self->events) == 0
        && cl_requests_waiting (self->requests [CHATCLIENT_KEYSERVER]) == 0
        && cl_requests_waiting (self->requests [CHATCLIENT_MAINSERVER]) == 0;
}

chatclient_event_t *
chatclient_next_event (chatclient_t *self)
{
    return (chatclient_event_t *) zlist_pop (self->events);
}

//  ---------------------------------------------------------------- life

//  The layers, bottom up; each sets itself as the listener of the one
//  below. 0, or -1 with a message on stderr.
static int
s_make_layers (chatclient_t *self, const chatclient_config_t *config)
{
    //  both connections are watched: what the client says about a server
    //  is what its connection does now
    cl_link_config_t link_config [2] = {
        { .server = CHATCLIENT_KEYSERVER, .endpoint = config->keyserver,
          .pin_name = config->keyserver_pin_name, .pin = config->keyserver_pin,
          .hello_timeout_ms = self->config.request_timeout_ms, .monitor = true,
          .verbose = config->verbose },
        //  the main server's pushes come from where its signed Welcome
        //  says, unless the user named the place
        { .server = CHATCLIENT_MAINSERVER, .endpoint = config->mainserver,
          .endpoints = config->mainservers, .endpoint_count = config->mainserver_count,
          .push = config->push, .push_from_welcome = true,
          .pin_name = config->mainserver_pin_name, .pin = config->mainserver_pin,
          .hello_timeout_ms = self->config.request_timeout_ms, .monitor = true,
          .verbose = config->verbose }
    };
    for (int i = 0; i < 2; i++) {
        self->links [i] = cl_link_new (&link_config [i], self->client_key, self->pins);
        if (!self->links [i])
            return -1;
        self->requests [i] = cl_requests_new (self->links [i], self->config.request_timeout_ms,
                                              self->config.command_timeout_ms);
    }
    self->session = cl_session_new (self->requests [CHATCLIENT_KEYSERVER],
                                    self->requests [CHATCLIENT_MAINSERVER]);
    if (!self->session) {
        fprintf (stderr, "chat: cannot start the client's worker thread\n");
        return -1;
    }
    char *users = config->known_users? strdup (config->known_users)
                : config->known_servers? pinstore_users_beside (config->known_servers)
                : NULL;
    self->contacts = cl_contacts_new (self->session, self->requests [CHATCLIENT_KEYSERVER],
                                      users);
    free (users);
    if (!self->contacts) {
        fprintf (stderr, "chat: cannot read the known users file\n");
        return -1;
    }
    self->convs = cl_convs_new (self->session, self->contacts,
                                self->requests [CHATCLIENT_KEYSERVER],
                                self->requests [CHATCLIENT_MAINSERVER]);
    cl_convs_set_listener (self->convs, s_on_event, self);
    return 0;
}

chatclient_t *
chatclient_new (const chatclient_config_t *config)
{
    assert (config);
    if (!config->keyserver || (!config->mainserver && config->mainserver_count == 0)) {
        fprintf (stderr, "chat: both server endpoints are needed\n");
        return NULL;
    }
    if (config->mainserver_count > CHATCLIENT_MAINSERVERS_MAX) {
        fprintf (stderr, "chat: at most %d main server endpoints\n",
                 CHATCLIENT_MAINSERVERS_MAX);
        return NULL;
    }
    for (size_t i = 0; i < config->mainserver_count; i++)
        if (!config->mainservers [i]) {
            fprintf (stderr, "chat: main server endpoint %zu is missing\n", i + 1);
            return NULL;
        }
    chatclient_t *self = calloc (1, sizeof (chatclient_t));
    assert (self);
    self->config = *config;
    if (self->config.request_timeout_ms <= 0)
        self->config.request_timeout_ms = 5000;
    if (self->config.command_timeout_ms <= 0)
        self->config.command_timeout_ms = 30000;
    if (self->config.ping_interval_ms <= 0)
        self->config.ping_interval_ms = 30000;
    if (self->config.refresh_interval_ms <= 0)
        self->config.refresh_interval_ms = 30000;
    //  the config's strings are borrowed by the caller: keep none of them
    self->config.keyserver = self->config.mainserver = self->config.push = NULL;
    self->config.mainservers = NULL;
    self->config.keyserver_pin_name = self->config.mainserver_pin_name = NULL;
    self->config.keyserver_pin = self->config.mainserver_pin = NULL;
    self->config.known_servers = self->config.known_users = NULL;

    self->events = zlist_new ();
    self->users = zlist_new ();
    self->pins = pinstore_new (config->known_servers);
    if (!self->pins) {
        fprintf (stderr, "chat: cannot read the known servers file\n");
        chatclient_destroy (&self);
        return NULL;
    }
    self->client_key = rsakey_generate (2048);
    if (!self->client_key || s_make_layers (self, config) != 0) {
        fprintf (stderr, "chat: cannot set up the client\n");
        chatclient_destroy (&self);
        return NULL;
    }
    cl_link_attempt (self->links [CHATCLIENT_KEYSERVER]);
    cl_link_attempt (self->links [CHATCLIENT_MAINSERVER]);
    return self;
}

void
chatclient_destroy (chatclient_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    chatclient_t *self = *self_p;
    //  top down: each layer lets go of the one below it
    cl_convs_destroy (&self->convs);
    cl_contacts_destroy (&self->contacts);
    cl_session_destroy (&self->session);
    for (int i = 0; i < 2; i++) {
        cl_requests_destroy (&self->requests [i]);
        cl_link_destroy (&self->links [i]);
    }
    chatclient_event_t *event;
    while (self->events && (event = (chatclient_event_t *) zlist_pop (self->events)))
        chatclient_event_destroy (&event);
    zlist_destroy (&self->events);
    if (self->users)
        s_users_clear (self);
    zlist_destroy (&self->users);
    rsakey_destroy (&self->client_key);
    pinstore_destroy (&self->pins);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------- loop

size_t
chatclient_sockets (chatclient_t *self, zsock_t **socks, size_t max)
{
    size_t count = 0;
    for (int i = 0; i < 2; i++)
        count += cl_link_sockets (self->links [i], socks + count, max - count);
    count += cl_session_sockets (self->session, socks + count, max - count);
    return count;
}

bool
chatclient_handle (chatclient_t *self, void *which)
{
    return cl_link_handle (self->links [CHATCLIENT_KEYSERVER], which)
        || cl_link_handle (self->links [CHATCLIENT_MAINSERVER], which)
        || cl_session_handle (self->session, which);
}

//  Keep an idle session alive.
static void
s_ping (chatclient_t *self, int64_t now)
{
    self->next_ping = now + self->config.ping_interval_ms;
    Chat__PingRequest body = CHAT__PING_REQUEST__INIT;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_PING;
    req.ping = &body;
    cl_request_spec_t spec = { 0 };
    cl_requests_submit (self->requests [CHATCLIENT_MAINSERVER], (ProtobufCMessage *) &req,
                        &spec);
}

//  Now and then catch anything a lost push missed: list the conversations
//  again (their last seqs show what to fetch). The first call only sets
//  the timer.
static void
s_refresh (chatclient_t *self, int64_t now)
{
    if (self->next_refresh)
        cl_convs_list (self->convs, 0);
    self->next_refresh = now + self->config.refresh_interval_ms;
}

void
chatclient_tick (chatclient_t *self)
{
    int64_t now = zclock_mono ();
    for (int i = 0; i < 2; i++)
        cl_link_tick (self->links [i], now);
    for (int i = 0; i < 2; i++)
        cl_requests_tick (self->requests [i], now);
    if (cl_link_state (self->links [CHATCLIENT_MAINSERVER]) == CL_LINK_OPEN
    &&  now >= self->next_ping)
        s_ping (self, now);
    if (cl_link_state (self->links [CHATCLIENT_MAINSERVER]) == CL_LINK_OPEN
    &&  cl_session_logged_in (self->session)
    &&  cl_requests_authed (self->requests [CHATCLIENT_MAINSERVER])
    &&  now >= self->next_refresh)
        s_refresh (self, now);
    if (self->catch_up_at && now >= self->catch_up_at
    &&  cl_session_logged_in (self->session)
    &&  cl_requests_authed (self->requests [CHATCLIENT_MAINSERVER])) {
        self->catch_up_at = 0;
        cl_convs_list (self->convs, 0);
    }
    cl_session_tick (self->session);
    cl_convs_tick (self->convs, now);
}

int
chatclient_timeout (chatclient_t *self)
{
    if (zlist_size (self->events))
        return 0;
    int64_t now = zclock_mono ();
    int64_t due = now + 1000;
    for (int i = 0; i < 2; i++) {
        due = cl_link_due (self->links [i], due);
        due = cl_requests_due (self->requests [i], due);
    }
    due = cl_convs_due (self->convs, due);
    if (cl_link_state (self->links [CHATCLIENT_MAINSERVER]) == CL_LINK_OPEN
    &&  self->next_ping < due)
        due = self->next_ping;
    if (self->catch_up_at && self->catch_up_at < due)
        due = self->catch_up_at;
    return due <= now ? 0 : (int) (due - now);
}

int
chatclient_run_once (chatclient_t *self, int timeout_ms)
{
    zsock_t *socks [CHATCLIENT_MAX_SOCKETS];
    size_t count = chatclient_sockets (self, socks, CHATCLIENT_MAX_SOCKETS);
    zmq_pollitem_t items [CHATCLIENT_MAX_SOCKETS];
    for (size_t i = 0; i < count; i++) {
        items [i].socket = zsock_resolve (socks [i]);
        items [i].fd = 0;
        items [i].events = ZMQ_POLLIN;
        items [i].revents = 0;
    }
    int wait = chatclient_timeout (self);
    if (timeout_ms >= 0 && timeout_ms < wait)
        wait = timeout_ms;
    int rc = zmq_poll (items, (int) count, wait);
    if (rc < 0)
        return -1;
    for (size_t i = 0; i < count; i++)
        if (items [i].revents & ZMQ_POLLIN)
            chatclient_handle (self, socks [i]);
    chatclient_tick (self);
    return 0;
}

//  ---------------------------------------------------------------- commands

static uint32_t
s_new_cmd (chatclient_t *self)
{
    if (++self->next_cmd == 0)
        self->next_cmd = 1;
    return self->next_cmd;
}

//  A command refused here: it completes at once with a failure.
static uint32_t
s_refuse (chatclient_t *self, chatclient_event_type_t type, int code, const char *text)
{
    uint32_t cmd = s_new_cmd (self);
    s_queue (self, cl_event_failure (type, cmd, code, text, 0));
    return cmd;
}

//  A conversation command's checks: 0 when it may go, else the id of the
//  command, refused.
static uint32_t
s_refuse_conv (chatclient_t *self, const uint8_t *conversation_id)
{
    if (!cl_session_logged_in (self->session))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    if (!cl_convs_find (self->convs, conversation_id))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_FOUND,
                         "No such conversation");
    return 0;
}

//  A command that needs both servers: a link waiting out its back-off
//  tries now, so that the command fails at once with the reason while a
//  server is still away (its fail_fast requests), and goes at once when it
//  is back. Refused here only when a server is refused for good (pin) or
//  could not even be tried. 0 when it may go.
static uint32_t
s_refuse_unreachable (chatclient_t *self, chatclient_event_type_t type)
{
    for (int i = 0; i < 2; i++)
        cl_link_hurry (self->links [i]);
    for (int i = 0; i < 2; i++) {
        int code = 0;
        const char *problem = cl_link_problem (self->links [i], &code);
        if (problem)
            return s_refuse (self, type, code, problem);
    }
    return 0;
}

uint32_t
chatclient_register (chatclient_t *self, const char *username,
                     const char *password, const char *confirm,
                     const char *confirm2)
{
    if (!username || !credential_username_valid (username))
        return s_refuse (self, CHATCLIENT_EV_REGISTER_FAILED,
                         CHAT_ERR_INVALID_USERNAME, NULL);
    if (!password || !confirm || !confirm2
    ||  strcmp (password, confirm) != 0 || strcmp (password, confirm2) != 0)
        return s_refuse (self, CHATCLIENT_EV_REGISTER_FAILED,
                         CHAT_ERR_BAD_REQUEST, "Passwords don't match");
    if (!*password)
        return s_refuse (self, CHATCLIENT_EV_REGISTER_FAILED,
                         CHAT_ERR_BAD_REQUEST, "The password must not be empty");
    uint32_t refused = s_refuse_unreachable (self, CHATCLIENT_EV_REGISTER_FAILED);
    if (refused)
        return refused;
    uint32_t cmd = s_new_cmd (self);
    cl_session_register (self->session, cmd, username, password);
    return cmd;
}

uint32_t
chatclient_login (chatclient_t *self, const char *username, const char *password)
{
    if (cl_session_logged_in (self->session)) {
        char *text = cl_format ("Already logged in as %s; log out first",
                                cl_session_username (self->session));
        uint32_t cmd = s_refuse (self, CHATCLIENT_EV_LOGIN_FAILED,
                                 CHAT_ERR_OUT_OF_ORDER, text);
        free (text);
        return cmd;
    }
    if (cl_session_login_busy (self->session))
        return s_refuse (self, CHATCLIENT_EV_LOGIN_FAILED, CHAT_ERR_OUT_OF_ORDER,
                         "A login is already in progress");
    if (!username || !password || !*username || !*password)
        return s_refuse (self, CHATCLIENT_EV_LOGIN_FAILED, CHAT_ERR_AUTH_FAILED, NULL);
    uint32_t refused = s_refuse_unreachable (self, CHATCLIENT_EV_LOGIN_FAILED);
    if (refused)
        return refused;
    uint32_t cmd = s_new_cmd (self);
    cl_session_login (self->session, cmd, username, password);
    return cmd;
}

uint32_t
chatclient_logout (chatclient_t *self)
{
    if (!cl_session_logged_in (self->session))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    uint32_t cmd = s_new_cmd (self);
    cl_session_logout (self->session, cmd);
    return cmd;
}

uint32_t
chatclient_change_password (chatclient_t *self, const char *current,
                            const char *password, const char *confirm)
{
    if (!cl_session_logged_in (self->session))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    if (cl_session_password_busy (self->session))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_OUT_OF_ORDER,
                         "A password change is already under way");
    if (!current || !*current)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_BAD_REQUEST,
                         "Give the current password");
    if (!password || !confirm || strcmp (password, confirm) != 0)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_BAD_REQUEST,
                         "Passwords don't match");
    if (!*password)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_BAD_REQUEST,
                         "The password must not be empty");
    uint32_t cmd = s_new_cmd (self);
    cl_session_change_password (self->session, cmd, current, password);
    return cmd;
}

//  The user list: kept for chatclient_user, and a copy in the event.
static bool
s_on_users (void *arg, cl_outcome_t *outcome)
{
    chatclient_t *self = (chatclient_t *) arg;
    if (outcome->code != CHAT_OK) {
        if (outcome->cmd)
            s_queue (self, cl_event_failure (CHATCLIENT_EV_ERROR, outcome->cmd, outcome->code,
                                             outcome->text, outcome->retry_ms));
        return true;
    }
    Chat__UserList *list = ((Chat__MainReply *) outcome->reply)->users;
    s_users_clear (self);
    for (size_t i = 0; i < list->n_usernames; i++)
        if (list->usernames [i])
            zlist_append (self->users, strdup (list->usernames [i]));
    chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_USERS, outcome->cmd);
    event->users = calloc (list->n_usernames + 1, sizeof (char *));
    assert (event->users);
    for (char *user = (char *) zlist_first (self->users); user;
         user = (char *) zlist_next (self->users))
        event->users [event->user_count++] = strdup (user);
    s_queue (self, event);
    return true;
}

uint32_t
chatclient_list_users (chatclient_t *self)
{
    if (!cl_session_logged_in (self->session))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    uint32_t cmd = s_new_cmd (self);
    Chat__ListUsersRequest body = CHAT__LIST_USERS_REQUEST__INIT;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_LIST_USERS;
    req.list_users = &body;
    cl_request_spec_t spec = {
        .cmd = cmd, .auth = true, .retry_ok = true,
        .expects = CHAT__MAIN_REPLY__BODY_USERS, .done = s_on_users, .arg = self
    };
    if (cl_requests_submit (self->requests [CHATCLIENT_MAINSERVER],
                            (ProtobufCMessage *) &req, &spec) != 0)
        s_queue (self, cl_event_failure (CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL, NULL, 0));
    return cmd;
}

uint32_t
chatclient_refresh (chatclient_t *self)
{
    if (!cl_session_logged_in (self->session))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    uint32_t cmd = s_new_cmd (self);
    cl_convs_list (self->convs, cmd);
    return cmd;
}

uint32_t
chatclient_create_conversation (chatclient_t *self, const char **usernames, size_t count)
{
    if (!cl_session_logged_in (self->session))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    if (count == 0 || !usernames)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_BAD_REQUEST,
                         "Name at least one other user");
    for (size_t i = 0; i < count; i++)
        if (!usernames [i] || !credential_username_valid (usernames [i]))
            return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_INVALID_USERNAME, NULL);
    uint32_t cmd = s_new_cmd (self);
    cl_convs_create (self->convs, cmd, usernames, count);
    return cmd;
}

uint32_t
chatclient_open (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE])
{
    uint32_t refused = s_refuse_conv (self, conversation_id);
    if (refused)
        return refused;
    uint32_t cmd = s_new_cmd (self);
    cl_convs_open (self->convs, cmd, conversation_id);
    return cmd;
}

uint32_t
chatclient_history (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                    uint64_t after_seq)
{
    uint32_t refused = s_refuse_conv (self, conversation_id);
    if (refused)
        return refused;
    uint32_t cmd = s_new_cmd (self);
    cl_convs_history (self->convs, cmd, conversation_id, after_seq);
    return cmd;
}

uint32_t
chatclient_members (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE])
{
    uint32_t refused = s_refuse_conv (self, conversation_id);
    if (refused)
        return refused;
    uint32_t cmd = s_new_cmd (self);
    cl_convs_members (self->convs, cmd, conversation_id);
    return cmd;
}

//  A change of a conversation we are in, subjects checked here
static uint32_t
s_change (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE], int action,
          const char **usernames, size_t count, const char *title)
{
    uint32_t refused = s_refuse_conv (self, conversation_id);
    if (refused)
        return refused;
    bool needs_subjects = action == CHAIN_ADD || action == CHAIN_REMOVE
                       || action == CHAIN_ADMIN;
    if (needs_subjects && (count == 0 || !usernames))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_BAD_REQUEST,
                         "Name at least one user");
    if (count > CHAIN_MAX_MEMBERS)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_TOO_MANY_MEMBERS, NULL);
    for (size_t i = 0; i < count; i++)
        if (!usernames [i] || !credential_username_valid (usernames [i]))
            return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_INVALID_USERNAME, NULL);
    if (title && (strlen (title) > CHAIN_MAX_TITLE
               || !codec_utf8_valid ((const uint8_t *) title, strlen (title))))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_BAD_REQUEST,
                         "A title is at most 128 bytes of UTF-8");
    uint32_t cmd = s_new_cmd (self);
    cl_convs_change (self->convs, cmd, conversation_id, action, usernames, count, title);
    return cmd;
}

uint32_t
chatclient_add_members (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                        const char **usernames, size_t count)
{
    return s_change (self, conversation_id, CHAIN_ADD, usernames, count, NULL);
}

uint32_t
chatclient_remove_member (chatclient_t *self,
                          const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                          const char *username)
{
    return s_change (self, conversation_id, CHAIN_REMOVE, &username, username? 1: 0, NULL);
}

uint32_t
chatclient_leave (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE])
{
    return s_change (self, conversation_id, CHAIN_LEAVE, NULL, 0, NULL);
}

uint32_t
chatclient_set_title (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                      const char *title)
{
    return s_change (self, conversation_id, CHAIN_TITLE, NULL, 0, title? title: "");
}

uint32_t
chatclient_make_admin (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                       const char *username)
{
    return s_change (self, conversation_id, CHAIN_ADMIN, &username, username? 1: 0, NULL);
}

uint32_t
chatclient_accept (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE])
{
    uint32_t refused = s_refuse_conv (self, conversation_id);
    if (refused)
        return refused;
    uint32_t cmd = s_new_cmd (self);
    cl_convs_accept (self->convs, cmd, conversation_id);
    return cmd;
}

uint32_t
chatclient_leave_requests (chatclient_t *self)
{
    if (!cl_session_logged_in (self->session))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    uint32_t cmd = s_new_cmd (self);
    cl_convs_leave_requests (self->convs, cmd);
    return cmd;
}

uint32_t
chatclient_send (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                 const char *text, size_t len)
{
    uint32_t refused = s_refuse_conv (self, conversation_id);
    if (refused)
        return refused;
    if (!text || len == 0)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_BAD_REQUEST,
                         "Empty message");
    if (len > WIRE_MAX_TOKEN) {
        char *why = cl_format ("Message too long (%zu bytes; sealed, a message is at "
                               "most %d bytes)", len, WIRE_MAX_TOKEN);
        uint32_t cmd = s_refuse (self, CHATCLIENT_EV_ERROR,
                                 CHAT_ERR_MESSAGE_TOO_LARGE, why);
        free (why);
        return cmd;
    }
    if (memchr (text, 0, len))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_BAD_REQUEST,
                         "A message cannot hold a NUL character");
    uint32_t cmd = s_new_cmd (self);
    cl_convs_send (self->convs, cmd, conversation_id, text, len);
    return cmd;
}

//  ---------------------------------------------------------------- identities

//  A command naming a user: 0 when it may go, else the refused command.
static uint32_t
s_refuse_user (chatclient_t *self, const char *username)
{
    if (!cl_session_logged_in (self->session))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    if (!username || !credential_username_valid (username))
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_INVALID_USERNAME, NULL);
    return 0;
}

uint32_t
chatclient_safety_number (chatclient_t *self, const char *username)
{
    uint32_t refused = s_refuse_user (self, username);
    if (refused)
        return refused;
    uint32_t cmd = s_new_cmd (self);
    cl_contacts_safety_number (self->contacts, cmd, username);
    return cmd;
}

uint32_t
chatclient_verify (chatclient_t *self, const char *username, const char *fingerprint)
{
    uint32_t refused = s_refuse_user (self, username);
    if (refused)
        return refused;
    uint32_t cmd = s_new_cmd (self);
    cl_contacts_verify (self->contacts, cmd, username, fingerprint);
    return cmd;
}

chatclient_identity_t
chatclient_identity (chatclient_t *self, const char *username)
{
    if (!cl_session_logged_in (self->session))
        return CHATCLIENT_IDENTITY_UNKNOWN;
    return cl_contacts_state (self->contacts, username);
}

const char *
chatclient_identity_fingerprint (chatclient_t *self)
{
    rsakey_t *identity = cl_session_identity (self->session);
    return identity? rsakey_fingerprint_text (identity): NULL;
}

//  ---------------------------------------------------------------- state

const char *
chatclient_username (chatclient_t *self)
{
    return cl_session_username (self->session);
}

bool
chatclient_connected (chatclient_t *self, chatclient_server_t server)
{
    return cl_link_state (self->links [server]) == CL_LINK_OPEN;
}

const char *
chatclient_server_fingerprint (chatclient_t *self, chatclient_server_t server)
{
    return cl_link_fingerprint (self->links [server]);
}

size_t
chatclient_user_count (chatclient_t *self)
{
    return zlist_size (self->users);
}

const char *
chatclient_user (chatclient_t *self, size_t index)
{
    size_t i = 0;
    for (char *user = (char *) zlist_first (self->users); user;
         user = (char *) zlist_next (self->users), i++)
        if (i == index)
            return user;
    return NULL;
}

size_t
chatclient_conversation_count (chatclient_t *self)
{
    return cl_convs_count (self->convs);
}

const chatclient_conversation_t *
chatclient_conversation (chatclient_t *self, size_t index)
{
    return cl_convs_at (self->convs, index);
}

const chatclient_conversation_t *
chatclient_conversation_by_id (chatclient_t *self,
                               const uint8_t conversation_id [CHATCLIENT_ID_SIZE])
{
    size_t count = cl_convs_count (self->convs);
    for (size_t i = 0; i < count; i++) {
        const chatclient_conversation_t *conv = cl_convs_at (self->convs, i);
        if (memcmp (conv->id, conversation_id, CHATCLIENT_ID_SIZE) == 0)
            return conv;
    }
    return NULL;
}

int
chatclient_conversation_find (chatclient_t *self, const char *spec,
                              const chatclient_conversation_t **conversation)
{
    *conversation = NULL;
    if (!spec || !*spec)
        return CHAT_ERR_NOT_FOUND;
    size_t len = strlen (spec);
    size_t count = cl_convs_count (self->convs);
    //  up to four decimal digits is always an index, never an id prefix,
    //  so "send 9" cannot land in some conversation whose id starts with 9
    if (strspn (spec, "0123456789") == len && len <= 4) {
        size_t index = (size_t) strtoul (spec, NULL, 10);
        if (index < 1 || index > count)
            return CHAT_ERR_NOT_FOUND;
        *conversation = cl_convs_at (self->convs, index - 1);
        return CHAT_OK;
    }
    if (len > CHATCLIENT_HEX_SIZE - 1)
        return CHAT_ERR_NOT_FOUND;
    const chatclient_conversation_t *found = NULL;
    for (size_t i = 0; i < count; i++) {
        const chatclient_conversation_t *conv = cl_convs_at (self->convs, i);
        if (strncasecmp (conv->hex, spec, len) == 0) {
            if (found)
                return CHAT_ERR_BAD_REQUEST;
            found = conv;
        }
    }
    if (!found)
        return CHAT_ERR_NOT_FOUND;
    *conversation = found;
    return CHAT_OK;
}

size_t
chatclient_message_count (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE])
{
    return cl_convs_message_count (self->convs, conversation_id);
}

const chatclient_message_t *
chatclient_message (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                    size_t index)
{
    return cl_convs_message (self->convs, conversation_id, index);
}

void
chatclient_mark_read (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE])
{
    cl_convs_mark_read (self->convs, conversation_id);
}
