/*  chatclient - the client library; see chatclient.h

    This file holds the client's life cycle, the event loop hooks, the
    commands and the state views; the rest is in the cl_*.c modules listed
    in cl_client.h.
*/
#include <stdlib.h>
#include <string.h>
#include "chatclient.h"
#include "cl_client.h"
#include "chaterror.h"
#include "credential.h"
#include "pinstore.h"
#include "rsakey.h"
#include "scram.h"
#include "secret.h"
#include "wire.h"

//  ---------------------------------------------------------------- life

static char *
s_default_push (const char *mainserver)
{
    //  tcp://host:port -> tcp://host:port+1
    const char *colon = strrchr (mainserver, ':');
    if (!colon || strncmp (mainserver, "tcp://", 6) != 0)
        return NULL;
    char *end = NULL;
    long port = strtol (colon + 1, &end, 10);
    if (!end || *end || port <= 0 || port >= 65535)
        return NULL;
    return cl_format ("%.*s:%ld", (int) (colon - mainserver), mainserver, port + 1);
}

chatclient_t *
chatclient_new (const chatclient_config_t *config)
{
    assert (config);
    if (!config->keyserver || !config->mainserver) {
        fprintf (stderr, "chat: both server endpoints are needed\n");
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
    //  the config's strings are borrowed by the caller: keep none of them
    self->config.keyserver = self->config.mainserver = self->config.push = NULL;
    self->config.keyserver_pin_name = self->config.mainserver_pin_name = NULL;
    self->config.keyserver_pin = self->config.mainserver_pin = NULL;
    self->config.known_servers = NULL;

    self->requests = zlistx_new ();
    self->events = zlist_new ();
    self->flows = zlist_new ();
    self->users = zlist_new ();
    self->push_endpoint = config->push ? strdup (config->push)
                                       : s_default_push (config->mainserver);
    if (!self->push_endpoint) {
        fprintf (stderr, "chat: cannot derive the push endpoint from %s; give it\n",
                 config->mainserver);
        chatclient_destroy (&self);
        return NULL;
    }
    self->pins = pinstore_new (config->known_servers);
    if (!self->pins) {
        fprintf (stderr, "chat: cannot read the known servers file\n");
        chatclient_destroy (&self);
        return NULL;
    }
    self->client_key = rsakey_generate (2048);
    if (!self->client_key
    ||  cl_link_init (self, &self->links [0], CHATCLIENT_KEYSERVER, config->keyserver,
                      config->keyserver_pin_name, config->keyserver_pin)
    ||  cl_link_init (self, &self->links [1], CHATCLIENT_MAINSERVER, config->mainserver,
                      config->mainserver_pin_name, config->mainserver_pin)) {
        fprintf (stderr, "chat: cannot set up the client\n");
        chatclient_destroy (&self);
        return NULL;
    }
    self->push = zsock_new (ZMQ_SUB);
    assert (self->push);
    zsock_set_linger (self->push, 0);
    zsock_set_maxmsgsize (self->push, WIRE_MAX_FRAME);
    if (zsock_connect (self->push, "%s", self->push_endpoint) != 0) {
        fprintf (stderr, "chat: invalid push endpoint %s\n", self->push_endpoint);
        chatclient_destroy (&self);
        return NULL;
    }
    //  notice at once when the main server goes away, so an idle client
    //  probes it (and learns it restarted) instead of waiting for a ping
    char monitor_ep [64];
    snprintf (monitor_ep, sizeof (monitor_ep), "inproc://chatclient-%p", (void *) self);
    if (zmq_socket_monitor (zsock_resolve (self->links [1].sock), monitor_ep,
                            ZMQ_EVENT_DISCONNECTED) == 0)
        self->monitor = zsock_new_pair (monitor_ep);
    if (self->monitor)
        zsock_connect (self->monitor, "%s", monitor_ep);

    self->worker = zactor_new (cl_flow_worker, NULL);
    assert (self->worker);
    cl_link_attempt (self, &self->links [0]);
    cl_link_attempt (self, &self->links [1]);
    return self;
}

void
chatclient_destroy (chatclient_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    chatclient_t *self = *self_p;
    //  the worker is joined first: then every flow is ours to free
    zactor_destroy (&self->worker);
    if (self->users)
        cl_session_clear (self);
    request_t *req;
    while (self->requests && (req = (request_t *) zlistx_detach (self->requests, NULL)))
        cl_request_free (&req);
    zlistx_destroy (&self->requests);
    flow_t *flow;
    while (self->flows && (flow = (flow_t *) zlist_pop (self->flows)))
        cl_flow_destroy (&flow);
    zlist_destroy (&self->flows);
    chatclient_event_t *event;
    while (self->events && (event = (chatclient_event_t *) zlist_pop (self->events)))
        chatclient_event_destroy (&event);
    zlist_destroy (&self->events);
    zlist_destroy (&self->users);
    free (self->convs);
    if (self->monitor)
        zmq_socket_monitor (zsock_resolve (self->links [1].sock), NULL, 0);
    cl_link_destroy (&self->links [0]);
    cl_link_destroy (&self->links [1]);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->push);
    free (self->push_endpoint);
    rsakey_destroy (&self->client_key);
    pinstore_destroy (&self->pins);
    free (self);
    *self_p = NULL;
}

size_t
chatclient_sockets (chatclient_t *self, zsock_t **socks, size_t max)
{
    zsock_t *all [] = { self->links [0].sock, self->links [1].sock, self->push,
                        zactor_sock (self->worker), self->monitor };
    size_t count = 0;
    for (size_t i = 0; i < sizeof (all) / sizeof (all [0]); i++)
        if (all [i] && count < max)
            socks [count++] = all [i];
    return count;
}

bool
chatclient_handle (chatclient_t *self, void *which)
{
    if (!which)
        return false;
    if (which == self->links [0].sock)
        cl_link_read (self, &self->links [0]);
    else
    if (which == self->links [1].sock)
        cl_link_read (self, &self->links [1]);
    else
    if (which == self->push) {
        while (zsock_events (self->push) & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv (self->push);
            if (!msg)
                break;
            zframe_t *topic = zmsg_first (msg);
            zframe_t *body = zmsg_next (msg);
            if (zmsg_size (msg) == 2 && body)
                cl_reply_push (self, zframe_data (body), zframe_size (body));
            (void) topic;
            zmsg_destroy (&msg);
        }
    }
    else
    if (which == self->worker || which == zactor_sock (self->worker)) {
        while (zsock_events (zactor_sock (self->worker)) & ZMQ_POLLIN)
            cl_flow_worker_done (self);
    }
    else
    if (self->monitor && which == self->monitor) {
        bool gone = false;
        while (zsock_events (self->monitor) & ZMQ_POLLIN) {
            zmsg_t *msg = zmsg_recv (self->monitor);
            gone = true;
            zmsg_destroy (&msg);
        }
        link_t *main = &self->links [CHATCLIENT_MAINSERVER];
        if (gone && main->state == LINK_OPEN)
            //  ping soon: a restarted server answers "unknown session"
            self->next_ping = zclock_mono () + 200;
    }
    else
        return false;
    cl_request_pump (self);
    return true;
}

void
chatclient_tick (chatclient_t *self)
{
    int64_t now = zclock_mono ();
    cl_link_tick (self, &self->links [0], now);
    cl_link_tick (self, &self->links [1], now);
    cl_request_tick (self, now);
    //  keep an idle session alive, and catch anything a push missed
    link_t *main = &self->links [CHATCLIENT_MAINSERVER];
    if (main->state == LINK_OPEN && now >= self->next_ping) {
        self->next_ping = now + self->config.ping_interval_ms;
        Chat__PingRequest body = CHAT__PING_REQUEST__INIT;
        Chat__MainRequest out = CHAT__MAIN_REQUEST__INIT;
        out.body_case = CHAT__MAIN_REQUEST__BODY_PING;
        out.ping = &body;
        cl_request_submit (self, CHATCLIENT_MAINSERVER, RQ_PING, 0,
                           (ProtobufCMessage *) &out, false, false);
        if (self->logged_in && main->authed)
            cl_conv_list (self, 0, 0);
    }
    cl_session_reauth (self);
    cl_request_pump (self);
}

int
chatclient_timeout (chatclient_t *self)
{
    int64_t now = zclock_mono ();
    int64_t due = now + 1000;
    due = cl_link_due (&self->links [0], due);
    due = cl_link_due (&self->links [1], due);
    if (self->links [1].state == LINK_OPEN && self->next_ping < due)
        due = self->next_ping;
    due = cl_request_due (self, due);
    if (zlist_size (self->events))
        return 0;
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

static uint32_t
s_refuse (chatclient_t *self, chatclient_event_type_t type, int code, const char *text)
{
    uint32_t cmd = s_new_cmd (self);
    cl_event_error (self, type, cmd, code, text, 0);
    return cmd;
}

//  A conversation command's checks: 0 with *conv set, or the id of the
//  command, refused.
static uint32_t
s_refuse_conv (chatclient_t *self, const uint8_t *conversation_id, conv_t **conv)
{
    if (!self->logged_in)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    *conv = cl_conv_find (self, conversation_id, CHATCLIENT_ID_SIZE);
    if (!*conv)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_FOUND,
                         "No such conversation");
    return 0;
}

//  Queue a main server request that completes command cmd, and send it.
static void
s_main_command (chatclient_t *self, rq_kind_t kind, uint32_t cmd,
                Chat__MainRequest *req, bool retry_ok)
{
    if (!cl_request_submit (self, CHATCLIENT_MAINSERVER, kind, cmd,
                            (ProtobufCMessage *) req, true, retry_ok))
        cl_event_error (self, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL, NULL, 0);
    cl_request_pump (self);
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
    uint32_t cmd = s_new_cmd (self);
    flow_t *flow = cl_flow_new (self, FLOW_REGISTER, cmd, username, password);
    Chat__RegisterParamsRequest body = CHAT__REGISTER_PARAMS_REQUEST__INIT;
    body.username = (char *) username;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS;
    req.register_params = &body;
    cl_flow_start (self, flow, &req);
    return cmd;
}

uint32_t
chatclient_login (chatclient_t *self, const char *username, const char *password)
{
    if (self->logged_in) {
        char *text = cl_format ("Already logged in as %s; log out first", self->username);
        uint32_t cmd = s_refuse (self, CHATCLIENT_EV_LOGIN_FAILED,
                                 CHAT_ERR_OUT_OF_ORDER, text);
        free (text);
        return cmd;
    }
    if (cl_flow_login_busy (self))
        return s_refuse (self, CHATCLIENT_EV_LOGIN_FAILED, CHAT_ERR_OUT_OF_ORDER,
                         "A login is already in progress");
    if (!username || !password || !*username || !*password)
        return s_refuse (self, CHATCLIENT_EV_LOGIN_FAILED, CHAT_ERR_AUTH_FAILED, NULL);
    uint32_t cmd = s_new_cmd (self);
    flow_t *flow = cl_flow_new (self, FLOW_LOGIN, cmd, username, password);
    flow->scram = scram_client_new (username, password, NULL);
    if (!flow->scram) {
        //  e.g. a name SCRAM cannot carry: same answer as a wrong password
        cl_flow_fail (self, flow, CHAT_ERR_AUTH_FAILED, NULL, 0);
        return cmd;
    }
    Chat__LoginStart body = CHAT__LOGIN_START__INIT;
    body.client_first = (char *) scram_client_first (flow->scram);
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_START;
    req.login_start = &body;
    cl_flow_start (self, flow, &req);
    return cmd;
}

uint32_t
chatclient_logout (chatclient_t *self)
{
    if (!self->logged_in)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    uint32_t cmd = s_new_cmd (self);
    cl_session_clear (self);
    cl_session_key_logout (self);
    Chat__LogoutRequestMain body = CHAT__LOGOUT_REQUEST_MAIN__INIT;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_LOGOUT;
    req.logout = &body;
    cl_request_submit (self, CHATCLIENT_MAINSERVER, RQ_MAIN_LOGOUT, 0,
                       (ProtobufCMessage *) &req, false, false);
    cl_event_add (self, CHATCLIENT_EV_LOGGED_OUT, cmd);
    cl_request_pump (self);
    return cmd;
}

uint32_t
chatclient_list_users (chatclient_t *self)
{
    if (!self->logged_in)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    uint32_t cmd = s_new_cmd (self);
    Chat__ListUsersRequest body = CHAT__LIST_USERS_REQUEST__INIT;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_LIST_USERS;
    req.list_users = &body;
    s_main_command (self, RQ_LIST_USERS, cmd, &req, true);
    return cmd;
}

uint32_t
chatclient_refresh (chatclient_t *self)
{
    if (!self->logged_in)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    uint32_t cmd = s_new_cmd (self);
    cl_conv_list (self, cmd, 0);
    cl_request_pump (self);
    return cmd;
}

uint32_t
chatclient_create_conversation (chatclient_t *self, const char **usernames, size_t count)
{
    if (!self->logged_in)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    if (count == 0 || !usernames)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_BAD_REQUEST,
                         "Name at least one other user");
    for (size_t i = 0; i < count; i++)
        if (!usernames [i] || !credential_username_valid (usernames [i]))
            return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_INVALID_USERNAME, NULL);
    uint32_t cmd = s_new_cmd (self);
    Chat__CreateConversationRequest body = CHAT__CREATE_CONVERSATION_REQUEST__INIT;
    body.members = (char **) usernames;
    body.n_members = count;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION;
    req.create_conversation = &body;
    //  not repeated after a lost link: a group made twice would be two groups
    s_main_command (self, RQ_CREATE_CONV, cmd, &req, false);
    return cmd;
}

static uint32_t
s_wait_command (chatclient_t *self, const uint8_t *conversation_id,
                wait_kind_t kind, uint64_t after)
{
    conv_t *conv = NULL;
    uint32_t refused = s_refuse_conv (self, conversation_id, &conv);
    if (refused)
        return refused;
    uint32_t cmd = s_new_cmd (self);
    cl_conv_wait (self, conv, cmd, kind, after);
    cl_request_pump (self);
    return cmd;
}

uint32_t
chatclient_open (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE])
{
    return s_wait_command (self, conversation_id, WAIT_OPEN, 0);
}

uint32_t
chatclient_history (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                    uint64_t after_seq)
{
    return s_wait_command (self, conversation_id, WAIT_HISTORY, after_seq);
}

uint32_t
chatclient_members (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE])
{
    conv_t *conv = NULL;
    uint32_t refused = s_refuse_conv (self, conversation_id, &conv);
    if (refused)
        return refused;
    uint32_t cmd = s_new_cmd (self);
    cl_conv_get_members (self, conv, cmd, 0);
    cl_request_pump (self);
    return cmd;
}

uint32_t
chatclient_send (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                 const char *text, size_t len)
{
    conv_t *conv = NULL;
    uint32_t refused = s_refuse_conv (self, conversation_id, &conv);
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
    sendjob_t *job = calloc (1, sizeof (sendjob_t));
    assert (job);
    job->cmd = cmd;
    memcpy (job->conv, conv->pub.id, CHATCLIENT_ID_SIZE);
    if (secret_random (job->cmid, CHATCLIENT_ID_SIZE) != 0) {
        free (job);
        cl_event_error (self, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL, NULL, 0);
        return cmd;
    }
    job->sent_at = zclock_time ();
    job->text = malloc (len + 1);
    assert (job->text);
    memcpy (job->text, text, len);
    job->text [len] = 0;
    job->len = len;
    cl_conv_send (self, conv, job);
    cl_request_pump (self);
    return cmd;
}

//  ---------------------------------------------------------------- state

const char *
chatclient_username (chatclient_t *self)
{
    return self->logged_in ? self->username : NULL;
}

bool
chatclient_connected (chatclient_t *self, chatclient_server_t server)
{
    return self->links [server].state == LINK_OPEN;
}

const char *
chatclient_server_fingerprint (chatclient_t *self, chatclient_server_t server)
{
    return self->links [server].fingerprint;
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
    return self->conv_count;
}

const chatclient_conversation_t *
chatclient_conversation (chatclient_t *self, size_t index)
{
    return index < self->conv_count ? &self->convs [index]->pub : NULL;
}

int
chatclient_conversation_find (chatclient_t *self, const char *spec,
                              const chatclient_conversation_t **conversation)
{
    *conversation = NULL;
    if (!spec || !*spec)
        return CHAT_ERR_NOT_FOUND;
    size_t len = strlen (spec);
    //  up to four decimal digits is always an index, never an id prefix,
    //  so "send 9" cannot land in some conversation whose id starts with 9
    if (strspn (spec, "0123456789") == len && len <= 4) {
        size_t index = (size_t) strtoul (spec, NULL, 10);
        if (index < 1 || index > self->conv_count)
            return CHAT_ERR_NOT_FOUND;
        *conversation = &self->convs [index - 1]->pub;
        return CHAT_OK;
    }
    if (len > CHATCLIENT_HEX_SIZE - 1)
        return CHAT_ERR_NOT_FOUND;
    const chatclient_conversation_t *found = NULL;
    for (size_t i = 0; i < self->conv_count; i++)
        if (strncasecmp (self->convs [i]->pub.hex, spec, len) == 0) {
            if (found)
                return CHAT_ERR_BAD_REQUEST;
            found = &self->convs [i]->pub;
        }
    if (!found)
        return CHAT_ERR_NOT_FOUND;
    *conversation = found;
    return CHAT_OK;
}

size_t
chatclient_message_count (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE])
{
    conv_t *conv = cl_conv_find (self, conversation_id, CHATCLIENT_ID_SIZE);
    return conv ? convlog_size (conv->log) : 0;
}

const chatclient_message_t *
chatclient_message (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                    size_t index)
{
    conv_t *conv = cl_conv_find (self, conversation_id, CHATCLIENT_ID_SIZE);
    return conv ? convlog_at (conv->log, index) : NULL;
}

void
chatclient_mark_read (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE])
{
    conv_t *conv = cl_conv_find (self, conversation_id, CHATCLIENT_ID_SIZE);
    if (conv)
        conv->pub.unread = 0;
}
