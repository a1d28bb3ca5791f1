/*  chatclient - the client library; see chatclient.h

    Layout of this file:
    - links: one per server (DEALER, channel, handshake, pin, back-off)
    - requests: a queue of packed requests with ids, gates and deadlines;
      a request waits until its link is open (and logged in, if it needs
      that), is sealed and sent, and is answered, failed or re-sent
    - flows: register and login, whose PBKDF2 runs on the worker thread
    - conversations: keys, tickets, message logs, fetches, waiting commands
    - events
*/
#include <stdarg.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include "chatclient.h"
#include "cl_client.h"
#include "cl_event.h"
#include "convlog.h"
#include "msgseal.h"
#include "channel.h"
#include "chaterror.h"
#include "codec.h"
#include "credential.h"
#include "pinstore.h"
#include "rsakey.h"
#include "scram.h"
#include "secret.h"
#include "wire.h"

//  ---------------------------------------------------------------- conversations

conv_t *
cl_conv_find (chatclient_t *self, const uint8_t *id, size_t len)
{
    if (len != CHATCLIENT_ID_SIZE || !id)
        return NULL;
    for (size_t i = 0; i < self->conv_count; i++)
        if (memcmp (self->convs [i]->pub.id, id, CHATCLIENT_ID_SIZE) == 0)
            return self->convs [i];
    return NULL;
}

static void
s_raw_free (raw_t **raw_p)
{
    if (raw_p && *raw_p) {
        free ((*raw_p)->sender);
        free ((*raw_p)->token);
        free (*raw_p);
        *raw_p = NULL;
    }
}

void
cl_conv_destroy (conv_t **conv_p)
{
    if (!conv_p || !*conv_p)
        return;
    conv_t *conv = *conv_p;
    cl_conversation_clear (&conv->pub);
    convlog_destroy (&conv->log);
    free (conv->ticket);
    secret_wipe (conv->key, sizeof (conv->key));
    raw_t *raw;
    while ((raw = (raw_t *) zlist_pop (conv->raw)))
        s_raw_free (&raw);
    zlist_destroy (&conv->raw);
    waiter_t *waiter;
    while ((waiter = (waiter_t *) zlist_pop (conv->waiters)))
        free (waiter);
    zlist_destroy (&conv->waiters);
    sendjob_t *job;
    while ((job = (sendjob_t *) zlist_pop (conv->sends)))
        cl_sendjob_free (&job);
    zlist_destroy (&conv->sends);
    free (conv);
    *conv_p = NULL;
}

void
cl_conv_set_members (conv_t *conv, Chat__ConversationSummary *summary)
{
    cl_conversation_clear (&conv->pub);
    conv->pub.members = calloc (summary->n_members + 1, sizeof (char *));
    assert (conv->pub.members);
    for (size_t i = 0; i < summary->n_members; i++)
        conv->pub.members [i] = strdup (summary->members [i] ? summary->members [i] : "");
    conv->pub.member_count = summary->n_members;
    if (summary->ticket.len > 0 && summary->ticket.len <= CREDENTIAL_MAX_TOKEN) {
        free (conv->ticket);
        conv->ticket = malloc (summary->ticket.len);
        assert (conv->ticket);
        memcpy (conv->ticket, summary->ticket.data, summary->ticket.len);
        conv->ticket_len = summary->ticket.len;
    }
}

//  Add or update a conversation from a summary. base_known: the
//  conversation existed when the session began (its older messages are
//  history, not news).
conv_t *
cl_conv_merge (chatclient_t *self, Chat__ConversationSummary *summary,
              bool base_known, bool *created)
{
    if (created)
        *created = false;
    if (summary->conversation_id.len != CHATCLIENT_ID_SIZE)
        return NULL;
    conv_t *conv = cl_conv_find (self, summary->conversation_id.data,
                                summary->conversation_id.len);
    if (!conv) {
        conv = calloc (1, sizeof (conv_t));
        assert (conv);
        memcpy (conv->pub.id, summary->conversation_id.data, CHATCLIENT_ID_SIZE);
        char *hex = codec_hex (conv->pub.id, CHATCLIENT_ID_SIZE);
        assert (hex);
        memcpy (conv->pub.hex, hex, CHATCLIENT_HEX_SIZE);
        free (hex);
        conv->log = convlog_new (base_known ? summary->last_seq : 0);
        conv->history_loaded = !base_known || summary->last_seq == 0;
        conv->raw = zlist_new ();
        conv->waiters = zlist_new ();
        conv->sends = zlist_new ();
        if (self->conv_count == self->conv_alloc) {
            self->conv_alloc = self->conv_alloc ? self->conv_alloc * 2 : 16;
            self->convs = realloc (self->convs, self->conv_alloc * sizeof (conv_t *));
            assert (self->convs);
        }
        self->convs [self->conv_count++] = conv;
        conv->pub.index = self->conv_count;
        conv->pub.last_seq = base_known ? summary->last_seq : 0;
        conv->pub.last_time = base_known ? summary->last_time : 0;
        if (created)
            *created = true;
    }
    cl_conv_set_members (conv, summary);
    //  anything the server has that we have not seen is fetched
    if (summary->last_seq > convlog_seen (conv->log))
        cl_conv_fetch (self, conv, false);
    return conv;
}

static void
s_get_messages (chatclient_t *self, conv_t *conv, uint64_t after)
{
    Chat__GetMessagesRequest body = CHAT__GET_MESSAGES_REQUEST__INIT;
    body.conversation_id.data = conv->pub.id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.after_seq = after;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_GET_MESSAGES;
    req.get_messages = &body;
    request_t *r = cl_request_submit (self, CHATCLIENT_MAINSERVER, RQ_GET_MESSAGES, 0,
                             (ProtobufCMessage *) &req, true, true);
    if (r) {
        memcpy (r->conv, conv->pub.id, CHATCLIENT_ID_SIZE);
        r->after_seq = after;
    }
    else
        conv->fetching = false;
}

void
cl_conv_fetch (chatclient_t *self, conv_t *conv, bool from_zero)
{
    if (conv->fetching) {
        if (from_zero && !conv->history_loaded)
            conv->want_history = true;
        return;
    }
    conv->fetching = true;
    conv->fetch_from_zero = from_zero;
    conv->fetch_progress = false;
    s_get_messages (self, conv, from_zero ? 0 : convlog_seen (conv->log));
}

void
cl_conv_raw_add (conv_t *conv, Chat__StoredMessage *stored)
{
    if (!stored->sender || !stored->token || stored->seq == 0)
        return;
    raw_t *raw = calloc (1, sizeof (raw_t));
    assert (raw);
    raw->seq = stored->seq;
    raw->sender = strdup (stored->sender);
    raw->server_time = stored->server_time;
    raw->token_len = strlen (stored->token);
    raw->token = strdup (stored->token);
    zlist_append (conv->raw, raw);
}

static void
s_emit_message (chatclient_t *self, conv_t *conv, chatclient_message_t *msg)
{
    if (msg->seq > conv->pub.last_seq) {
        conv->pub.last_seq = msg->seq;
        conv->pub.last_time = msg->server_time;
    }
    if (msg->live && !msg->local)
        conv->pub.unread++;
    cl_event_message (self, CHATCLIENT_EV_MESSAGE, 0, msg);
}

static void
s_drain_ready (chatclient_t *self, conv_t *conv)
{
    chatclient_message_t *msg;
    while ((msg = convlog_next_ready (conv->log)))
        s_emit_message (self, conv, msg);
}

//  Offer a message to the log and emit whatever became ready.
static void
s_conv_offer (chatclient_t *self, conv_t *conv, uint64_t seq, chatclient_message_t *msg)
{
    chatclient_message_t *held = msg;
    convlog_result_t result = convlog_offer (conv->log, seq, msg);
    if (result == CONVLOG_HISTORY && held) {
        cl_event_message (self, CHATCLIENT_EV_MESSAGE, 0, held);
    }
    s_drain_ready (self, conv);
}

static void
s_conv_open_raw (chatclient_t *self, conv_t *conv)
{
    raw_t *raw;
    while ((raw = (raw_t *) zlist_pop (conv->raw))) {
        msgseal_body_t body;
        int rc = msgseal_open (conv->key, raw->token, raw->token_len,
                               conv->pub.id, raw->sender, &body);
        if (rc == CHAT_OK) {
            chatclient_message_t *msg = calloc (1, sizeof (chatclient_message_t));
            assert (msg);
            memcpy (msg->conversation_id, conv->pub.id, CHATCLIENT_ID_SIZE);
            memcpy (msg->conversation_hex, conv->pub.hex, CHATCLIENT_HEX_SIZE);
            msg->sender = raw->sender;
            raw->sender = NULL;
            msg->sent_at = body.sent_at;
            msg->server_time = raw->server_time;
            msg->text = body.text;
            msg->text_len = body.text_len;
            msg->live = true;
            s_conv_offer (self, conv, raw->seq, msg);
        }
        else {
            //  a message we cannot believe is dropped, loudly, and its
            //  number used up so it does not look like a gap forever
            if (raw->seq > convlog_base (conv->log)
            &&  raw->seq > convlog_seen (conv->log)) {
                chatclient_event_t *event = cl_event_add (self, CHATCLIENT_EV_ERROR, 0);
                event->code = rc;
                event->text = cl_format (
                    "message %llu in conversation %s from %s dropped: %s",
                    (unsigned long long) raw->seq, conv->pub.hex, raw->sender,
                    rc == CHAT_ERR_BAD_REQUEST
                    ? "it names another conversation or sender than the server says"
                    : chat_strerror (rc));
            }
            s_conv_offer (self, conv, raw->seq, NULL);
        }
        s_raw_free (&raw);
    }
}

static void
s_send_sealed (chatclient_t *self, conv_t *conv, sendjob_t *job)
{
    char *token = NULL;
    int rc = msgseal_seal (conv->key, conv->pub.id, self->username, job->sent_at,
                           job->cmid, job->text, job->len, &token);
    if (rc != CHAT_OK) {
        cl_event_error (self, CHATCLIENT_EV_ERROR, job->cmd, rc, NULL, 0);
        cl_sendjob_free (&job);
        return;
    }
    Chat__SendMessageRequest body = CHAT__SEND_MESSAGE_REQUEST__INIT;
    body.conversation_id.data = conv->pub.id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.client_message_id.data = job->cmid;
    body.client_message_id.len = CHATCLIENT_ID_SIZE;
    body.token = token;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE;
    req.send_message = &body;
    //  retry_ok: the same client_message_id is stored once however often
    request_t *r = cl_request_submit (self, CHATCLIENT_MAINSERVER, RQ_SEND, job->cmd,
                             (ProtobufCMessage *) &req, true, true);
    free (token);
    if (!r) {
        cl_event_error (self, CHATCLIENT_EV_ERROR, job->cmd, CHAT_ERR_INTERNAL, NULL, 0);
        cl_sendjob_free (&job);
        return;
    }
    memcpy (r->conv, conv->pub.id, CHATCLIENT_ID_SIZE);
    r->send = job;
}

static void
s_complete_waiter (chatclient_t *self, conv_t *conv, waiter_t *waiter)
{
    if (waiter->kind == WAIT_OPEN) {
        conv->pub.unread = 0;
        chatclient_event_t *event = cl_event_conversation (
            self, CHATCLIENT_EV_OPENED, waiter->cmd, &conv->pub);
        event->message_count = 0;
    }
    else {
        chatclient_event_t *event = cl_event_conversation (
            self, CHATCLIENT_EV_HISTORY, waiter->cmd, &conv->pub);
        size_t total = convlog_size (conv->log), count = 0;
        for (size_t i = 0; i < total; i++)
            if (convlog_at (conv->log, i)->seq > waiter->after)
                count++;
        event->messages = calloc (count + 1, sizeof (chatclient_message_t));
        assert (event->messages);
        for (size_t i = 0; i < total; i++) {
            const chatclient_message_t *msg = convlog_at (conv->log, i);
            if (msg->seq > waiter->after)
                convlog_message_copy (&event->messages [event->message_count++], msg);
        }
    }
}

static void
s_fail_waiters (chatclient_t *self, conv_t *conv, int code, const char *text)
{
    waiter_t *waiter;
    while ((waiter = (waiter_t *) zlist_pop (conv->waiters))) {
        cl_event_error (self, CHATCLIENT_EV_ERROR, waiter->cmd, code, text, 0);
        free (waiter);
    }
}

static void
s_fail_sends (chatclient_t *self, conv_t *conv, int code, const char *text)
{
    sendjob_t *job;
    while ((job = (sendjob_t *) zlist_pop (conv->sends))) {
        cl_event_error (self, CHATCLIENT_EV_ERROR, job->cmd, code, text, 0);
        cl_sendjob_free (&job);
    }
}

void
cl_conv_fail_commands (chatclient_t *self, conv_t *conv, int code)
{
    s_fail_waiters (self, conv, code, NULL);
    s_fail_sends (self, conv, code, NULL);
}

//  Make progress on a conversation after anything changed.
void
cl_conv_settle (chatclient_t *self, conv_t *conv)
{
    if (conv->key_state == KEY_READY)
        s_conv_open_raw (self, conv);

    if (!conv->fetching) {
        if (conv->want_history && !conv->history_loaded) {
            conv->want_history = false;
            cl_conv_fetch (self, conv, true);
        }
        else
        if (convlog_has_gap (conv->log) && conv->key_state == KEY_READY
        &&  zlist_size (conv->raw) == 0)
            cl_conv_fetch (self, conv, false);
    }
    //  sends wait only for the key
    if (conv->key_state == KEY_READY) {
        sendjob_t *job;
        while ((job = (sendjob_t *) zlist_pop (conv->sends)))
            s_send_sealed (self, conv, job);
        cl_request_pump (self);
    }
    else
    if (conv->key_state == KEY_NONE && conv->key_error) {
        s_fail_sends (self, conv, conv->key_error, "Could not get the conversation key");
    }
    //  open/history complete once everything is fetched and readable
    if (zlist_size (conv->waiters) == 0)
        return;
    int error = conv->fetch_error
                ? conv->fetch_error
                : (conv->key_state == KEY_NONE && conv->key_error) ? conv->key_error : 0;
    if (error) {
        s_fail_waiters (self, conv, error,
                        conv->fetch_error ? NULL : "Could not get the conversation key");
        conv->fetch_error = 0;
        return;
    }
    if (conv->fetching || conv->want_history || !conv->history_loaded
    ||  conv->key_state != KEY_READY || zlist_size (conv->raw) > 0)
        return;
    waiter_t *waiter;
    while ((waiter = (waiter_t *) zlist_pop (conv->waiters))) {
        s_complete_waiter (self, conv, waiter);
        free (waiter);
    }
}

void
cl_conv_get_members (chatclient_t *self, conv_t *conv, uint32_t cmd, int purpose)
{
    Chat__GetMembersRequest body = CHAT__GET_MEMBERS_REQUEST__INIT;
    body.conversation_id.data = conv->pub.id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_GET_MEMBERS;
    req.get_members = &body;
    request_t *r = cl_request_submit (self, CHATCLIENT_MAINSERVER, RQ_GET_MEMBERS, cmd,
                             (ProtobufCMessage *) &req, true, true);
    if (r) {
        memcpy (r->conv, conv->pub.id, CHATCLIENT_ID_SIZE);
        r->purpose = purpose;
    }
}

void
cl_conv_key_request (chatclient_t *self, conv_t *conv, bool create)
{
    Chat__ConversationKeyRequest body = CHAT__CONVERSATION_KEY_REQUEST__INIT;
    body.conversation_id.data = conv->pub.id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.ticket.data = conv->ticket;
    body.ticket.len = conv->ticket_len;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    if (create) {
        req.body_case = CHAT__KEY_REQUEST__BODY_CREATE_KEY;
        req.create_key = &body;
    }
    else {
        req.body_case = CHAT__KEY_REQUEST__BODY_GET_KEY;
        req.get_key = &body;
    }
    request_t *r = cl_request_submit (self, CHATCLIENT_KEYSERVER,
                             create ? RQ_CREATE_KEY : RQ_GET_KEY, 0,
                             (ProtobufCMessage *) &req, true, true);
    if (r)
        memcpy (r->conv, conv->pub.id, CHATCLIENT_ID_SIZE);
}

void
cl_conv_need_key (chatclient_t *self, conv_t *conv)
{
    if (conv->key_state != KEY_NONE)
        return;
    conv->key_state = KEY_FETCHING;
    conv->key_attempts = 0;
    conv->key_error = 0;
    if (conv->ticket)
        cl_conv_key_request (self, conv, false);
    else
        cl_conv_get_members (self, conv, 0, 1);
}

void
cl_conv_key_failed (chatclient_t *self, conv_t *conv, int code)
{
    conv->key_state = KEY_NONE;
    conv->key_error = code ? code : CHAT_ERR_INTERNAL;
    cl_conv_settle (self, conv);
    conv->key_error = 0;        //  a later command tries again
}

void
cl_conv_list (chatclient_t *self, uint32_t cmd, int purpose)
{
    Chat__ListConversationsRequest body = CHAT__LIST_CONVERSATIONS_REQUEST__INIT;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS;
    req.list_conversations = &body;
    request_t *r = cl_request_submit (self, CHATCLIENT_MAINSERVER, RQ_LIST_CONV, cmd,
                             (ProtobufCMessage *) &req, true, true);
    if (r)
        r->purpose = purpose;
}

//  ---------------------------------------------------------------- replies

static void
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
}

void
cl_conv_on_list (chatclient_t *self, request_t *req, Chat__ConversationList *list)
{
    bool first = !self->first_list_done;
    self->first_list_done = true;
    for (size_t i = 0; i < list->n_conversations; i++) {
        bool created = false;
        conv_t *conv = cl_conv_merge (self, list->conversations [i], first, &created);
        if (conv && created && !first && !req->cmd) {
            cl_event_conversation (self, CHATCLIENT_EV_CONVERSATION, 0, &conv->pub);
        }
    }
    if (req->cmd || first) {
        chatclient_event_t *event = cl_event_add (self, CHATCLIENT_EV_CONVERSATIONS, req->cmd);
        event->conversations = calloc (self->conv_count + 1,
                                       sizeof (chatclient_conversation_t));
        assert (event->conversations);
        for (size_t i = 0; i < self->conv_count; i++)
            cl_conversation_copy (&event->conversations [i], &self->convs [i]->pub);
        event->conversation_count = self->conv_count;
    }
}

void
cl_conv_on_page (chatclient_t *self, request_t *req, Chat__MessagePage *page)
{
    conv_t *conv = cl_conv_find (self, req->conv, CHATCLIENT_ID_SIZE);
    if (!conv)
        return;
    uint64_t last = req->after_seq;
    for (size_t i = 0; i < page->n_messages; i++) {
        Chat__StoredMessage *stored = page->messages [i];
        if (stored->seq <= last)
            continue;           //  pages ascend; anything else is noise
        if (stored->conversation_id.len
        &&  (stored->conversation_id.len != CHATCLIENT_ID_SIZE
          || memcmp (stored->conversation_id.data, conv->pub.id, CHATCLIENT_ID_SIZE)))
            continue;
        cl_conv_raw_add (conv, stored);
        last = stored->seq;
        conv->fetch_progress = true;
    }
    if (page->more && last > req->after_seq) {
        s_get_messages (self, conv, last);
        cl_conv_need_key (self, conv);
        cl_conv_settle (self, conv);
        return;
    }
    conv->fetching = false;
    if (conv->fetch_from_zero)
        conv->history_loaded = true;
    if (zlist_size (conv->raw))
        cl_conv_need_key (self, conv);
    cl_conv_settle (self, conv);
    //  pages ran dry before the gap closed: the missing numbers do not exist
    if (!conv->fetching && convlog_has_gap (conv->log) && !conv->fetch_progress
    &&  conv->key_state == KEY_READY) {
        //  nothing to wait for: let the held messages through
        while (convlog_has_gap (conv->log)) {
            convlog_offer (conv->log, convlog_seen (conv->log) + 1, NULL);
            s_drain_ready (self, conv);
        }
    }
}

void
cl_conv_on_sent (chatclient_t *self, request_t *req, Chat__SendMessageReply *sent)
{
    sendjob_t *job = req->send;
    conv_t *conv = cl_conv_find (self, req->conv, CHATCLIENT_ID_SIZE);
    chatclient_message_t *msg = calloc (1, sizeof (chatclient_message_t));
    assert (msg);
    memcpy (msg->conversation_id, job->conv, CHATCLIENT_ID_SIZE);
    char *hex = codec_hex (job->conv, CHATCLIENT_ID_SIZE);
    memcpy (msg->conversation_hex, hex, CHATCLIENT_HEX_SIZE);
    free (hex);
    msg->seq = sent->seq;
    msg->sender = strdup (self->username ? self->username : "");
    msg->sent_at = job->sent_at;
    msg->server_time = sent->server_time;
    msg->text = job->text;
    msg->text_len = job->len;
    job->text = NULL;
    msg->live = true;
    msg->local = true;

    chatclient_event_t *event = cl_event_message (self, CHATCLIENT_EV_SENT, req->cmd, msg);
    event->duplicate = sent->duplicate;
    if (conv) {
        s_conv_offer (self, conv, sent->seq, msg);
        cl_conv_settle (self, conv);
    }
    else
        convlog_message_free (&msg);
}

void
cl_conv_on_key (chatclient_t *self, request_t *req, Chat__ConversationKey *key)
{
    conv_t *conv = cl_conv_find (self, req->conv, CHATCLIENT_ID_SIZE);
    if (!conv)
        return;
    if (key->key.len != FERNET_KEY_SIZE
    ||  key->conversation_id.len != CHATCLIENT_ID_SIZE
    ||  memcmp (key->conversation_id.data, conv->pub.id, CHATCLIENT_ID_SIZE)) {
        cl_conv_key_failed (self, conv, CHAT_ERR_MALFORMED);
        return;
    }
    memcpy (conv->key, key->key.data, FERNET_KEY_SIZE);
    secret_wipe (key->key.data, key->key.len);
    conv->key_state = KEY_READY;
    cl_conv_settle (self, conv);
}

void
cl_reply_key (chatclient_t *self, link_t *link, const uint8_t *payload, size_t len)
{
    Chat__KeyReply *reply = NULL;
    if (wire_unpack (&chat__key_reply__descriptor, payload, len,
                     (ProtobufCMessage **) &reply) != CHAT_OK)
        return;
    request_t *req = cl_request_find (self, link, reply->request_id);
    if (!req) {
        protobuf_c_message_free_unpacked ((ProtobufCMessage *) reply, NULL);
        return;
    }
    zlistx_detach (self->requests, zlistx_find (self->requests, req));
    if (reply->body_case == CHAT__KEY_REPLY__BODY_ERROR) {
        Chat__Error *error = reply->error;
        if ((int) error->code == CHAT_ERR_NOT_LOGGED_IN && req->auth && self->logged_in) {
            //  the key server lost our login: log in again, then retry
            link->authed = false;
            req->sent = false;
            zlistx_add_end (self->requests, req);
            cl_session_reauth (self);
        }
        else
            cl_request_fail (self, req, error->code ? (int) error->code : CHAT_ERR_INTERNAL,
                            error->message, error->retry_after_ms);
        protobuf_c_message_free_unpacked ((ProtobufCMessage *) reply, NULL);
        return;
    }
    flow_t *flow = req->flow;
    bool handled = true;
    switch (req->kind) {
        case RQ_REG_PARAMS:
            if (reply->body_case != CHAT__KEY_REPLY__BODY_REGISTER_PARAMS || !flow) {
                handled = false;
                break;
            }
            if (reply->register_params->salt.len == 0
            ||  reply->register_params->salt.len > sizeof (flow->salt)
            ||  reply->register_params->iterations < SCRAM_MIN_ITERATIONS
            ||  reply->register_params->iterations > SCRAM_MAX_ITERATIONS) {
                cl_flow_fail (self, flow, CHAT_ERR_MALFORMED,
                             "The key server sent unusable registration parameters", 0);
                break;
            }
            memcpy (flow->salt, reply->register_params->salt.data,
                    reply->register_params->salt.len);
            flow->salt_len = reply->register_params->salt.len;
            flow->iterations = reply->register_params->iterations;
            cl_flow_to_worker (self, flow);
            break;
        case RQ_REGISTER:
            if (reply->body_case != CHAT__KEY_REPLY__BODY_REGISTERED || !flow) {
                handled = false;
                break;
            }
            {
                Chat__RegisterUserRequest body = CHAT__REGISTER_USER_REQUEST__INIT;
                body.certificate = reply->registered->certificate;
                Chat__MainRequest out = CHAT__MAIN_REQUEST__INIT;
                out.body_case = CHAT__MAIN_REQUEST__BODY_REGISTER;
                out.register_ = &body;
                request_t *r = cl_request_submit (self, CHATCLIENT_MAINSERVER, RQ_MAIN_REGISTER,
                                         flow->cmd, (ProtobufCMessage *) &out,
                                         false, true);
                if (r)
                    r->flow = flow;
            }
            break;
        case RQ_LOGIN_START:
            if (reply->body_case != CHAT__KEY_REPLY__BODY_LOGIN_CHALLENGE || !flow
            ||  !reply->login_challenge->server_first
            ||  strlen (reply->login_challenge->server_first) > SCRAM_MAX_MESSAGE) {
                handled = false;
                break;
            }
            free (flow->server_first);
            flow->server_first = strdup (reply->login_challenge->server_first);
            cl_flow_to_worker (self, flow);
            break;
        case RQ_LOGIN_FINISH:
        case RQ_RESUME:
            if (reply->body_case != CHAT__KEY_REPLY__BODY_LOGGED_IN) {
                handled = false;
                break;
            }
            cl_session_on_logged_in (self, req, reply->logged_in);
            break;
        case RQ_GET_KEY:
        case RQ_CREATE_KEY:
            if (reply->body_case != CHAT__KEY_REPLY__BODY_CONVERSATION_KEY) {
                handled = false;
                break;
            }
            cl_conv_on_key (self, req, reply->conversation_key);
            break;
        default:
            break;
    }
    if (!handled)
        cl_request_fail (self, req, CHAT_ERR_MALFORMED,
                        "unexpected reply from the key server", 0);
    else
        cl_request_free (&req);
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) reply, NULL);
}

void
cl_reply_main (chatclient_t *self, link_t *link, const uint8_t *payload, size_t len)
{
    Chat__MainReply *reply = NULL;
    if (wire_unpack (&chat__main_reply__descriptor, payload, len,
                     (ProtobufCMessage **) &reply) != CHAT_OK)
        return;
    request_t *req = cl_request_find (self, link, reply->request_id);
    if (!req) {
        protobuf_c_message_free_unpacked ((ProtobufCMessage *) reply, NULL);
        return;
    }
    zlistx_detach (self->requests, zlistx_find (self->requests, req));
    if (reply->body_case == CHAT__MAIN_REPLY__BODY_ERROR) {
        Chat__Error *error = reply->error;
        if ((int) error->code == CHAT_ERR_NOT_LOGGED_IN && req->auth && self->logged_in) {
            link->authed = false;
            req->sent = false;
            zlistx_add_end (self->requests, req);
            cl_session_reauth (self);
        }
        else
            cl_request_fail (self, req, error->code ? (int) error->code : CHAT_ERR_INTERNAL,
                            error->message, error->retry_after_ms);
        protobuf_c_message_free_unpacked ((ProtobufCMessage *) reply, NULL);
        return;
    }
    conv_t *conv = cl_conv_find (self, req->conv, CHATCLIENT_ID_SIZE);
    bool handled = true;
    switch (req->kind) {
        case RQ_MAIN_REGISTER:
            if (reply->body_case != CHAT__MAIN_REPLY__BODY_REGISTERED || !req->flow) {
                handled = false;
                break;
            }
            {
                chatclient_event_t *event = cl_event_add (self, CHATCLIENT_EV_REGISTERED, req->cmd);
                event->username = cl_strdup (req->flow->username);
                event->text = strdup ("Success!");
                cl_flow_end (self, req->flow);
            }
            break;
        case RQ_MAIN_LOGIN:
            if (reply->body_case != CHAT__MAIN_REPLY__BODY_LOGGED_IN) {
                handled = false;
                break;
            }
            cl_session_on_main_logged_in (self, req, reply->logged_in);
            break;
        case RQ_LIST_CONV:
            if (reply->body_case != CHAT__MAIN_REPLY__BODY_CONVERSATIONS) {
                handled = false;
                break;
            }
            cl_conv_on_list (self, req, reply->conversations);
            break;
        case RQ_LIST_USERS:
            if (reply->body_case != CHAT__MAIN_REPLY__BODY_USERS) {
                handled = false;
                break;
            }
            s_on_users (self, req, reply->users);
            break;
        case RQ_CREATE_CONV:
            if (reply->body_case != CHAT__MAIN_REPLY__BODY_CONVERSATION) {
                handled = false;
                break;
            }
            {
                bool created = false;
                conv_t *made = cl_conv_merge (self, reply->conversation,
                                             false, &created);
                if (!made) {
                    handled = false;
                    break;
                }
                cl_event_conversation (self, CHATCLIENT_EV_CONVERSATION, req->cmd,
                                       &made->pub);
                //  make the key now, before another member asks for it
                cl_conv_need_key (self, made);
            }
            break;
        case RQ_GET_MESSAGES:
            if (reply->body_case != CHAT__MAIN_REPLY__BODY_MESSAGES) {
                handled = false;
                break;
            }
            cl_conv_on_page (self, req, reply->messages);
            break;
        case RQ_SEND:
            if (reply->body_case != CHAT__MAIN_REPLY__BODY_SENT || !req->send) {
                handled = false;
                break;
            }
            cl_conv_on_sent (self, req, reply->sent);
            break;
        case RQ_GET_MEMBERS:
            if (reply->body_case != CHAT__MAIN_REPLY__BODY_MEMBERS || !conv) {
                handled = false;
                break;
            }
            cl_conv_set_members (conv, reply->members);
            if (req->purpose == 1) {
                if (conv->ticket)
                    cl_conv_key_request (self, conv, false);
                else
                    cl_conv_key_failed (self, conv, CHAT_ERR_BAD_TICKET);
            }
            else {
                cl_event_conversation (self, CHATCLIENT_EV_MEMBERS, req->cmd, &conv->pub);
            }
            break;
        default:
            break;
    }
    if (!handled)
        cl_request_fail (self, req, CHAT_ERR_MALFORMED,
                        "unexpected reply from the main server", 0);
    else
        cl_request_free (&req);
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) reply, NULL);
}

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
    if (push->body_case == CHAT__PUSH__BODY_MESSAGE) {
        Chat__StoredMessage *stored = push->message;
        conv_t *conv = cl_conv_find (self, stored->conversation_id.data,
                                    stored->conversation_id.len);
        if (!conv)
            //  a conversation we have not heard of: the list brings it
            cl_conv_list (self, 0, 0);
        else
        if (stored->seq > convlog_seen (conv->log)) {
            if (stored->seq > convlog_seen (conv->log) + 1)
                cl_conv_fetch (self, conv, false);      //  we missed some
            else
                cl_conv_raw_add (conv, stored);
            cl_conv_need_key (self, conv);
            cl_conv_settle (self, conv);
        }
    }
    else
    if (push->body_case == CHAT__PUSH__BODY_CONVERSATION) {
        bool created = false;
        conv_t *conv = cl_conv_merge (self, push->conversation, false, &created);
        if (conv) {
            cl_event_conversation (self, CHATCLIENT_EV_CONVERSATION, 0, &conv->pub);
        }
    }
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) push, NULL);
    cl_request_pump (self);
}

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
    Chat__LogoutRequest kbody = CHAT__LOGOUT_REQUEST__INIT;
    Chat__KeyRequest kreq = CHAT__KEY_REQUEST__INIT;
    kreq.body_case = CHAT__KEY_REQUEST__BODY_LOGOUT;
    kreq.logout = &kbody;
    cl_request_submit (self, CHATCLIENT_KEYSERVER, RQ_KEY_LOGOUT, 0,
              (ProtobufCMessage *) &kreq, false, false);
    Chat__LogoutRequestMain mbody = CHAT__LOGOUT_REQUEST_MAIN__INIT;
    Chat__MainRequest mreq = CHAT__MAIN_REQUEST__INIT;
    mreq.body_case = CHAT__MAIN_REQUEST__BODY_LOGOUT;
    mreq.logout = &mbody;
    cl_request_submit (self, CHATCLIENT_MAINSERVER, RQ_MAIN_LOGOUT, 0,
              (ProtobufCMessage *) &mreq, false, false);
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
    if (!cl_request_submit (self, CHATCLIENT_MAINSERVER, RQ_LIST_USERS, cmd,
                   (ProtobufCMessage *) &req, true, true))
        cl_event_error (self, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL, NULL, 0);
    cl_request_pump (self);
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
    if (!cl_request_submit (self, CHATCLIENT_MAINSERVER, RQ_CREATE_CONV, cmd,
                   (ProtobufCMessage *) &req, true, false))
        cl_event_error (self, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL, NULL, 0);
    cl_request_pump (self);
    return cmd;
}

static uint32_t
s_wait_command (chatclient_t *self, const uint8_t *conversation_id,
                wait_kind_t kind, uint64_t after)
{
    if (!self->logged_in)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    conv_t *conv = cl_conv_find (self, conversation_id, CHATCLIENT_ID_SIZE);
    if (!conv)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_FOUND,
                         "No such conversation");
    uint32_t cmd = s_new_cmd (self);
    waiter_t *waiter = calloc (1, sizeof (waiter_t));
    assert (waiter);
    waiter->cmd = cmd;
    waiter->kind = kind;
    waiter->after = after;
    zlist_append (conv->waiters, waiter);
    if (!conv->history_loaded)
        cl_conv_fetch (self, conv, true);
    else
        cl_conv_fetch (self, conv, false);       //  catch up, cheaply
    cl_conv_need_key (self, conv);
    cl_conv_settle (self, conv);
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
    if (!self->logged_in)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    conv_t *conv = cl_conv_find (self, conversation_id, CHATCLIENT_ID_SIZE);
    if (!conv)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_FOUND,
                         "No such conversation");
    uint32_t cmd = s_new_cmd (self);
    cl_conv_get_members (self, conv, cmd, 0);
    cl_request_pump (self);
    return cmd;
}

uint32_t
chatclient_send (chatclient_t *self, const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                 const char *text, size_t len)
{
    if (!self->logged_in)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_LOGGED_IN, NULL);
    conv_t *conv = cl_conv_find (self, conversation_id, CHATCLIENT_ID_SIZE);
    if (!conv)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_NOT_FOUND,
                         "No such conversation");
    if (!text || len == 0)
        return s_refuse (self, CHATCLIENT_EV_ERROR, CHAT_ERR_BAD_REQUEST,
                         "Empty message");
    if (len > WIRE_MAX_TEXT) {
        char *why = cl_format ("Message too long (%zu bytes, at most %d)",
                              len, WIRE_MAX_TEXT);
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
    zlist_append (conv->sends, job);
    cl_conv_need_key (self, conv);
    cl_conv_settle (self, conv);
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
