/*  cl_reply - what each server reply and push does to the client; see
    cl_reply.h

    A reply is matched to its request by id; an error reply fails the
    request (or, for a session the server lost, renews it and sends the
    request again). Each request kind expects one reply body; any other
    fails the request as malformed.
*/
#include <stdlib.h>
#include <string.h>
#include "cl_client.h"
#include "chaterror.h"
#include "secret.h"

//  The request a reply answers, taken off the queue; NULL when there is
//  none, or when the reply was an error, which is dealt with here.
static request_t *
s_answered (chatclient_t *self, link_t *link, uint64_t request_id, Chat__Error *error)
{
    request_t *req = cl_request_find (self, link, request_id);
    if (!req)
        return NULL;
    zlistx_detach (self->requests, zlistx_find (self->requests, req));
    if (!error)
        return req;
    if ((int) error->code == CHAT_ERR_NOT_LOGGED_IN && req->auth && self->logged_in) {
        //  the server lost our login: log in again, then retry
        link->authed = false;
        req->sent = false;
        zlistx_add_end (self->requests, req);
        cl_session_reauth (self);
    }
    else
        cl_request_fail (self, req, error->code ? (int) error->code : CHAT_ERR_INTERNAL,
                         error->message, error->retry_after_ms);
    return NULL;
}

//  The request's reply was dealt with; one that did not fit fails it.
static void
s_answer_done (chatclient_t *self, request_t *req, bool handled, const char *unexpected)
{
    if (handled)
        cl_request_free (&req);
    else
        cl_request_fail (self, req, CHAT_ERR_MALFORMED, unexpected, 0);
}

//  ---------------------------------------------------------------- key server

static bool
s_on_register_params (chatclient_t *self, flow_t *flow, Chat__RegisterParams *params)
{
    if (!flow)
        return false;
    if (params->salt.len == 0
    ||  params->salt.len > sizeof (flow->salt)
    ||  params->iterations < SCRAM_MIN_ITERATIONS
    ||  params->iterations > SCRAM_MAX_ITERATIONS) {
        cl_flow_fail (self, flow, CHAT_ERR_MALFORMED,
                      "The key server sent unusable registration parameters", 0);
        return true;
    }
    memcpy (flow->salt, params->salt.data, params->salt.len);
    flow->salt_len = params->salt.len;
    flow->iterations = params->iterations;
    cl_flow_to_worker (self, flow);
    return true;
}

static bool
s_on_registered (chatclient_t *self, flow_t *flow, Chat__Registered *registered)
{
    if (!flow)
        return false;
    //  the key server's certificate registers the user with the main server
    Chat__RegisterUserRequest body = CHAT__REGISTER_USER_REQUEST__INIT;
    body.certificate = registered->certificate;
    Chat__MainRequest out = CHAT__MAIN_REQUEST__INIT;
    out.body_case = CHAT__MAIN_REQUEST__BODY_REGISTER;
    out.register_ = &body;
    request_t *r = cl_request_submit (self, CHATCLIENT_MAINSERVER, RQ_MAIN_REGISTER,
                                      flow->cmd, (ProtobufCMessage *) &out, false, true);
    if (r)
        r->flow = flow;
    return true;
}

static bool
s_on_challenge (chatclient_t *self, flow_t *flow, Chat__LoginChallenge *challenge)
{
    if (!flow || !challenge->server_first
    ||  strlen (challenge->server_first) > SCRAM_MAX_MESSAGE)
        return false;
    free (flow->server_first);
    flow->server_first = strdup (challenge->server_first);
    cl_flow_to_worker (self, flow);
    return true;
}

//  The reply body a key server request expects; NOT_SET: any.
static Chat__KeyReply__BodyCase
s_key_expects (rq_kind_t kind)
{
    switch (kind) {
        case RQ_REG_PARAMS:     return CHAT__KEY_REPLY__BODY_REGISTER_PARAMS;
        case RQ_REGISTER:       return CHAT__KEY_REPLY__BODY_REGISTERED;
        case RQ_LOGIN_START:    return CHAT__KEY_REPLY__BODY_LOGIN_CHALLENGE;
        case RQ_LOGIN_FINISH:
        case RQ_RESUME:         return CHAT__KEY_REPLY__BODY_LOGGED_IN;
        case RQ_GET_KEY:
        case RQ_CREATE_KEY:     return CHAT__KEY_REPLY__BODY_CONVERSATION_KEY;
        default:                return CHAT__KEY_REPLY__BODY__NOT_SET;
    }
}

//  A reply of the expected body: false when it does not fit the request.
static bool
s_key_handle (chatclient_t *self, request_t *req, Chat__KeyReply *reply)
{
    switch (req->kind) {
        case RQ_REG_PARAMS:
            return s_on_register_params (self, req->flow, reply->register_params);
        case RQ_REGISTER:
            return s_on_registered (self, req->flow, reply->registered);
        case RQ_LOGIN_START:
            return s_on_challenge (self, req->flow, reply->login_challenge);
        case RQ_LOGIN_FINISH:
        case RQ_RESUME:
            cl_session_on_logged_in (self, req, reply->logged_in);
            return true;
        case RQ_GET_KEY:
        case RQ_CREATE_KEY:
            cl_conv_on_key (self, req, reply->conversation_key);
            return true;
        default:
            return true;
    }
}

void
cl_reply_key (chatclient_t *self, link_t *link, const uint8_t *payload, size_t len)
{
    Chat__KeyReply *reply = NULL;
    if (wire_unpack (&chat__key_reply__descriptor, payload, len,
                     (ProtobufCMessage **) &reply) != CHAT_OK)
        return;
    request_t *req = s_answered (self, link, reply->request_id,
                                 reply->body_case == CHAT__KEY_REPLY__BODY_ERROR
                                 ? reply->error : NULL);
    if (req) {
        Chat__KeyReply__BodyCase expects = s_key_expects (req->kind);
        bool handled = (expects == CHAT__KEY_REPLY__BODY__NOT_SET
                        || reply->body_case == expects)
                    && s_key_handle (self, req, reply);
        s_answer_done (self, req, handled, "unexpected reply from the key server");
    }
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) reply, NULL);
}

//  ---------------------------------------------------------------- main server

static bool
s_on_main_registered (chatclient_t *self, request_t *req)
{
    if (!req->flow)
        return false;
    chatclient_event_t *event = cl_event_add (self, CHATCLIENT_EV_REGISTERED, req->cmd);
    event->username = cl_strdup (req->flow->username);
    event->text = strdup ("Success!");
    cl_flow_end (self, req->flow);
    return true;
}

static bool
s_on_users (chatclient_t *self, request_t *req, Chat__UserList *list)
{
    char *user;
    while ((user = (char *) zlist_pop (self->users)))
        free (user);
    for (size_t i = 0; i < list->n_usernames; i++)
        if (list->usernames [i])
            zlist_append (self->users, strdup (list->usernames [i]));
    chatclient_event_t *event = cl_event_add (self, CHATCLIENT_EV_USERS, req->cmd);
    event->users = calloc (list->n_usernames + 1, sizeof (char *));
    assert (event->users);
    for (user = (char *) zlist_first (self->users); user;
         user = (char *) zlist_next (self->users))
        event->users [event->user_count++] = strdup (user);
    return true;
}

static bool
s_on_created (chatclient_t *self, request_t *req, Chat__ConversationSummary *summary)
{
    bool created = false;
    conv_t *made = cl_conv_merge (self, summary, false, &created);
    if (!made)
        return false;
    cl_event_conversation (self, CHATCLIENT_EV_CONVERSATION, req->cmd, &made->pub);
    //  make the key now, before another member asks for it
    cl_conv_need_key (self, made);
    return true;
}

static bool
s_on_members (chatclient_t *self, request_t *req, Chat__ConversationSummary *members)
{
    conv_t *conv = cl_conv_find (self, req->conv, CHATCLIENT_ID_SIZE);
    if (!conv)
        return false;
    cl_conv_set_members (conv, members);
    if (req->purpose == 1) {
        if (conv->ticket)
            cl_conv_key_request (self, conv, false);
        else
            cl_conv_key_failed (self, conv, CHAT_ERR_BAD_TICKET);
    }
    else
        cl_event_conversation (self, CHATCLIENT_EV_MEMBERS, req->cmd, &conv->pub);
    return true;
}

//  The reply body a main server request expects; NOT_SET: any.
static Chat__MainReply__BodyCase
s_main_expects (rq_kind_t kind)
{
    switch (kind) {
        case RQ_MAIN_REGISTER:  return CHAT__MAIN_REPLY__BODY_REGISTERED;
        case RQ_MAIN_LOGIN:     return CHAT__MAIN_REPLY__BODY_LOGGED_IN;
        case RQ_LIST_CONV:      return CHAT__MAIN_REPLY__BODY_CONVERSATIONS;
        case RQ_LIST_USERS:     return CHAT__MAIN_REPLY__BODY_USERS;
        case RQ_CREATE_CONV:    return CHAT__MAIN_REPLY__BODY_CONVERSATION;
        case RQ_GET_MESSAGES:   return CHAT__MAIN_REPLY__BODY_MESSAGES;
        case RQ_SEND:           return CHAT__MAIN_REPLY__BODY_SENT;
        case RQ_GET_MEMBERS:    return CHAT__MAIN_REPLY__BODY_MEMBERS;
        default:                return CHAT__MAIN_REPLY__BODY__NOT_SET;
    }
}

//  A reply of the expected body: false when it does not fit the request.
static bool
s_main_handle (chatclient_t *self, request_t *req, Chat__MainReply *reply)
{
    switch (req->kind) {
        case RQ_MAIN_REGISTER:
            return s_on_main_registered (self, req);
        case RQ_MAIN_LOGIN:
            cl_session_on_main_logged_in (self, req, reply->logged_in);
            return true;
        case RQ_LIST_CONV:
            cl_conv_on_list (self, req, reply->conversations);
            return true;
        case RQ_LIST_USERS:
            return s_on_users (self, req, reply->users);
        case RQ_CREATE_CONV:
            return s_on_created (self, req, reply->conversation);
        case RQ_GET_MESSAGES:
            cl_conv_on_page (self, req, reply->messages);
            return true;
        case RQ_SEND:
            if (!req->send)
                return false;
            cl_conv_on_sent (self, req, reply->sent);
            return true;
        case RQ_GET_MEMBERS:
            return s_on_members (self, req, reply->members);
        default:
            return true;
    }
}

void
cl_reply_main (chatclient_t *self, link_t *link, const uint8_t *payload, size_t len)
{
    Chat__MainReply *reply = NULL;
    if (wire_unpack (&chat__main_reply__descriptor, payload, len,
                     (ProtobufCMessage **) &reply) != CHAT_OK)
        return;
    request_t *req = s_answered (self, link, reply->request_id,
                                 reply->body_case == CHAT__MAIN_REPLY__BODY_ERROR
                                 ? reply->error : NULL);
    if (req) {
        Chat__MainReply__BodyCase expects = s_main_expects (req->kind);
        bool handled = (expects == CHAT__MAIN_REPLY__BODY__NOT_SET
                        || reply->body_case == expects)
                    && s_main_handle (self, req, reply);
        s_answer_done (self, req, handled, "unexpected reply from the main server");
    }
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) reply, NULL);
}

//  ---------------------------------------------------------------- push

void
cl_reply_push (chatclient_t *self, const uint8_t *data, size_t size)
{
    link_t *main = &self->links [CHATCLIENT_MAINSERVER];
    if (main->state != LINK_OPEN || !self->logged_in)
        return;
    uint8_t *payload = NULL;
    size_t len = 0;
    if (channel_open_push (main->channel, data, size, &payload, &len) != CHAT_OK)
        return;
    Chat__Push *push = NULL;
    int rc = wire_unpack (&chat__push__descriptor, payload, len,
                          (ProtobufCMessage **) &push);
    secret_wipe (payload, len);
    free (payload);
    if (rc != CHAT_OK)
        return;
    if (push->body_case == CHAT__PUSH__BODY_MESSAGE)
        cl_conv_on_pushed (self, push->message);
    else
    if (push->body_case == CHAT__PUSH__BODY_CONVERSATION) {
        bool created = false;
        conv_t *conv = cl_conv_merge (self, push->conversation, false, &created);
        if (conv)
            cl_event_conversation (self, CHATCLIENT_EV_CONVERSATION, 0, &conv->pub);
    }
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) push, NULL);
    cl_request_pump (self);
}
