/*  cl_conv - the client's conversations; see cl_conv.h
*/
#include <stdlib.h>
#include <string.h>
#include "cl_client.h"
#include "chaterror.h"
#include "codec.h"
#include "credential.h"
#include "msgseal.h"
#include "secret.h"

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
cl_conv_on_pushed (chatclient_t *self, Chat__StoredMessage *stored)
{
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

void
cl_conv_wait (chatclient_t *self, conv_t *conv, uint32_t cmd, wait_kind_t kind,
              uint64_t after)
{
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
}

void
cl_conv_send (chatclient_t *self, conv_t *conv, sendjob_t *job)
{
    zlist_append (conv->sends, job);
    cl_conv_need_key (self, conv);
    cl_conv_settle (self, conv);
}
