/*  cl_convs - the client's conversations; see cl_convs.h
*/
#include <stdlib.h>
#include <string.h>
#include "cl_convs.h"
#include "chaterror.h"
#include "codec.h"
#include "convlog.h"
#include "credential.h"
#include "fernet.h"
#include "msgseal.h"
#include "secret.h"

#define KEY_ATTEMPTS 3

typedef enum { KEY_NONE, KEY_FETCHING, KEY_READY } key_state_t;
typedef enum { WAIT_OPEN, WAIT_HISTORY } wait_kind_t;

//  An open or history command, completed once the conversation settles.
typedef struct {
    uint32_t cmd;
    wait_kind_t kind;
    uint64_t after;
} waiter_t;

//  A stored message as the server sent it, awaiting the key.
typedef struct {
    uint64_t seq;
    char *sender;
    int64_t server_time;
    char *token;
    size_t token_len;
} raw_t;

//  A message to send, from the command until the server stored it.
typedef struct {
    uint32_t cmd;
    uint8_t conv [CHATCLIENT_ID_SIZE];
    uint8_t cmid [CHATCLIENT_ID_SIZE];
    int64_t sent_at;
    char *text;
    size_t len;
} sendjob_t;

typedef struct {
    chatclient_conversation_t pub;
    convlog_t *log;
    uint8_t *ticket;
    size_t ticket_len;
    key_state_t key_state;
    int key_attempts;
    int key_error;              //  last failure, reported to waiters
    uint8_t key [FERNET_KEY_SIZE];
    zlist_t *raw;               //  raw_t: fetched or pushed, awaiting the key
    bool fetching;
    bool fetch_from_zero;       //  the fetch in flight started at seq 0
    bool fetch_progress;        //  the fetch in flight returned something
    bool history_loaded;
    bool want_history;
    int fetch_error;
    zlist_t *waiters;           //  waiter_t
    zlist_t *sends;             //  sendjob_t, awaiting the key
    uint64_t counted_seq;       //  unread counts the messages up to here
    uint64_t read_told;         //  the marker the server was told (or is)
    bool read_inflight;         //  a mark_read waits for its answer
} conv_t;

//  What each request of ours is, for the outcome.
typedef enum {
    C_LIST = 1,                 //  cmd, or news only
    C_LIST_FIRST,               //  the first after login: all is history
    C_CREATE,
    C_MESSAGES,                 //  a page of a fetch
    C_SEND,
    C_MEMBERS,                  //  for a command
    C_MEMBERS_FOR_KEY,          //  for a fresh ticket
    C_GET_KEY,
    C_CREATE_KEY,
    C_MARK_READ                 //  the user's read marker, to the server
} c_tag_t;

//  What a request is about, kept with it.
typedef struct {
    uint8_t conv [CHATCLIENT_ID_SIZE];
    uint64_t after_seq;         //  C_MESSAGES: the page asked after this
    sendjob_t *send;            //  C_SEND: owned
} c_about_t;

struct _cl_convs_t {
    cl_session_t *session;      //  borrowed
    cl_requests_t *key;         //  borrowed
    cl_requests_t *main;        //  borrowed
    cl_listener_t listener;
    conv_t **convs;
    size_t count, alloc;
    bool first_list_done;
};

static bool
    s_on_outcome (void *arg, cl_outcome_t *outcome);
static void
    s_settle (cl_convs_t *self, conv_t *conv);

//  ---------------------------------------------------------------- parts

static void
s_sendjob_free (sendjob_t **job_p)
{
    if (job_p && *job_p) {
        sendjob_t *job = *job_p;
        if (job->text) {
            secret_wipe (job->text, job->len);
            free (job->text);
        }
        free (job);
        *job_p = NULL;
    }
}

static void
s_about_destroy (void **about_p)
{
    if (about_p && *about_p) {
        c_about_t *about = (c_about_t *) *about_p;
        s_sendjob_free (&about->send);
        free (about);
        *about_p = NULL;
    }
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

static void
s_conv_destroy (conv_t **conv_p)
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
        s_sendjob_free (&job);
    zlist_destroy (&conv->sends);
    free (conv);
    *conv_p = NULL;
}

//  The conversation with this id, or NULL.
static conv_t *
s_find (cl_convs_t *self, const uint8_t *id, size_t len)
{
    if (len != CHATCLIENT_ID_SIZE || !id)
        return NULL;
    for (size_t i = 0; i < self->count; i++)
        if (memcmp (self->convs [i]->pub.id, id, CHATCLIENT_ID_SIZE) == 0)
            return self->convs [i];
    return NULL;
}

//  What a request is about: conv (NULL: none).
static c_about_t *
s_about_new (conv_t *conv)
{
    c_about_t *about = calloc (1, sizeof (c_about_t));
    assert (about);
    if (conv)
        memcpy (about->conv, conv->pub.id, CHATCLIENT_ID_SIZE);
    return about;
}

//  The reply body that answers a request of ours.
static int
s_expects (c_tag_t tag)
{
    switch (tag) {
        case C_LIST:
        case C_LIST_FIRST:      return CHAT__MAIN_REPLY__BODY_CONVERSATIONS;
        case C_CREATE:          return CHAT__MAIN_REPLY__BODY_CONVERSATION;
        case C_MESSAGES:        return CHAT__MAIN_REPLY__BODY_MESSAGES;
        case C_SEND:            return CHAT__MAIN_REPLY__BODY_SENT;
        case C_MEMBERS:
        case C_MEMBERS_FOR_KEY: return CHAT__MAIN_REPLY__BODY_MEMBERS;
        case C_GET_KEY:
        case C_CREATE_KEY:      return CHAT__KEY_REPLY__BODY_CONVERSATION_KEY;
        case C_MARK_READ:       return CHAT__MAIN_REPLY__BODY_READ;
    }
    return 0;
}

//  A request of ours, about (owned now) kept with it; every one needs the
//  login. False when it could not be packed (about is gone then too).
static bool
s_submit (cl_convs_t *self, c_tag_t tag, uint32_t cmd, ProtobufCMessage *request,
          c_about_t *about)
{
    bool key = tag == C_GET_KEY || tag == C_CREATE_KEY;
    cl_request_spec_t spec = {
        .tag = tag, .cmd = cmd, .auth = true,
        //  not repeated after a lost link: a group made twice would be two
        //  groups. A send is: the same client_message_id is stored once
        .retry_ok = tag != C_CREATE,
        .expects = s_expects (tag), .done = s_on_outcome, .arg = self,
        .data = about, .destroy_data = s_about_destroy
    };
    return cl_requests_submit (key ? self->key : self->main, request, &spec) == 0;
}

//  ---------------------------------------------------------------- requests

static void
s_list (cl_convs_t *self, uint32_t cmd, bool first)
{
    Chat__ListConversationsRequest body = CHAT__LIST_CONVERSATIONS_REQUEST__INIT;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS;
    req.list_conversations = &body;
    s_submit (self, first ? C_LIST_FIRST : C_LIST, cmd, (ProtobufCMessage *) &req,
              s_about_new (NULL));
}

static void
s_get_messages (cl_convs_t *self, conv_t *conv, uint64_t after)
{
    Chat__GetMessagesRequest body = CHAT__GET_MESSAGES_REQUEST__INIT;
    body.conversation_id.data = conv->pub.id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.after_seq = after;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_GET_MESSAGES;
    req.get_messages = &body;
    c_about_t *about = s_about_new (conv);
    about->after_seq = after;
    if (!s_submit (self, C_MESSAGES, 0, (ProtobufCMessage *) &req, about))
        conv->fetching = false;
}

//  Fetch what the server has: from seq 0 (the whole history) or from the
//  last message seen.
static void
s_fetch (cl_convs_t *self, conv_t *conv, bool from_zero)
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

//  The members, for a command (cmd) or for a fresh ticket (for_key).
static void
s_get_members (cl_convs_t *self, conv_t *conv, uint32_t cmd, bool for_key)
{
    Chat__GetMembersRequest body = CHAT__GET_MEMBERS_REQUEST__INIT;
    body.conversation_id.data = conv->pub.id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_GET_MEMBERS;
    req.get_members = &body;
    s_submit (self, for_key ? C_MEMBERS_FOR_KEY : C_MEMBERS, cmd,
              (ProtobufCMessage *) &req, s_about_new (conv));
}

//  Ask the key server for the key (create: make it; someone must).
static void
s_key_request (cl_convs_t *self, conv_t *conv, bool create)
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
    s_submit (self, create ? C_CREATE_KEY : C_GET_KEY, 0,
              (ProtobufCMessage *) &req, s_about_new (conv));
}

//  Get the key (via a fresh ticket when there is none) unless it is there
//  or on its way.
static void
s_need_key (cl_convs_t *self, conv_t *conv)
{
    if (conv->key_state != KEY_NONE)
        return;
    conv->key_state = KEY_FETCHING;
    conv->key_attempts = 0;
    conv->key_error = 0;
    if (conv->ticket)
        s_key_request (self, conv, false);
    else
        s_get_members (self, conv, 0, true);
}

static void
s_key_failed (cl_convs_t *self, conv_t *conv, int code)
{
    conv->key_state = KEY_NONE;
    conv->key_error = code ? code : CHAT_ERR_INTERNAL;
    s_settle (self, conv);
    conv->key_error = 0;        //  a later command tries again
}

//  ---------------------------------------------------------------- read markers

//  A message from someone else than the user (own ones from any session
//  are never unread)
static bool
s_from_others (cl_convs_t *self, const char *sender)
{
    const char *me = cl_session_username (self->session);
    return !me || !sender || strcasecmp (me, sender) != 0;
}

//  Tell the server how far the user has read (one request at a time; the
//  answer sends the next if the user read on meanwhile)
static void
s_mark_read_send (cl_convs_t *self, conv_t *conv)
{
    if (conv->read_inflight || conv->pub.read_seq <= conv->read_told)
        return;
    Chat__MarkReadRequest body = CHAT__MARK_READ_REQUEST__INIT;
    body.conversation_id.data = conv->pub.id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.read_seq = conv->pub.read_seq;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_MARK_READ;
    req.mark_read = &body;
    if (s_submit (self, C_MARK_READ, 0, (ProtobufCMessage *) &req, s_about_new (conv))) {
        conv->read_inflight = true;
        conv->read_told = conv->pub.read_seq;
    }
}

//  The user has seen everything up to the newest message
static void
s_read_all (cl_convs_t *self, conv_t *conv)
{
    if (conv->pub.last_seq > conv->pub.read_seq)
        conv->pub.read_seq = conv->pub.last_seq;
    conv->pub.unread = 0;
    if (conv->counted_seq < conv->pub.last_seq)
        conv->counted_seq = conv->pub.last_seq;
    s_mark_read_send (self, conv);
}

//  What the server says of the user's reading: read_seq, and unread
//  counted up to last_seq; messages held here past last_seq count on top
static void
s_read_state (cl_convs_t *self, conv_t *conv, uint64_t read_seq, uint64_t unread,
              uint64_t last_seq)
{
    if (read_seq < conv->pub.read_seq) {
        //  we read further than the server knows: tell it again
        conv->read_told = read_seq;
        s_mark_read_send (self, conv);
        return;
    }
    conv->pub.read_seq = read_seq;
    if (conv->read_told < read_seq)
        conv->read_told = read_seq;
    conv->pub.unread = unread;
    conv->counted_seq = last_seq;
    size_t total = convlog_size (conv->log);
    for (size_t i = total; i > 0; i--) {
        const chatclient_message_t *msg = convlog_at (conv->log, i - 1);
        if (msg->seq <= last_seq)
            break;
        if (msg->seq > read_seq && s_from_others (self, msg->sender))
            conv->pub.unread++;
        if (msg->seq > conv->counted_seq)
            conv->counted_seq = msg->seq;
    }
}

//  A ReadState from the server (an answer, or a push from another session
//  of the user). NULL when it names no conversation of ours.
static conv_t *
s_on_read (cl_convs_t *self, Chat__ReadState *state)
{
    conv_t *conv = state? s_find (self, state->conversation_id.data,
                                  state->conversation_id.len): NULL;
    if (conv)
        s_read_state (self, conv, state->read_seq, state->unread, state->last_seq);
    return conv;
}

//  ---------------------------------------------------------------- the list

static void
s_set_members (conv_t *conv, Chat__ConversationSummary *summary)
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
//  history, not news). NULL when the summary has no valid id.
static conv_t *
s_merge (cl_convs_t *self, Chat__ConversationSummary *summary, bool base_known,
         bool *created)
{
    if (created)
        *created = false;
    if (summary->conversation_id.len != CHATCLIENT_ID_SIZE)
        return NULL;
    conv_t *conv = s_find (self, summary->conversation_id.data,
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
        if (self->count == self->alloc) {
            self->alloc = self->alloc ? self->alloc * 2 : 16;
            self->convs = realloc (self->convs, self->alloc * sizeof (conv_t *));
            assert (self->convs);
        }
        self->convs [self->count++] = conv;
        conv->pub.index = self->count;
        conv->pub.last_seq = base_known ? summary->last_seq : 0;
        conv->pub.last_time = base_known ? summary->last_time : 0;
        if (created)
            *created = true;
    }
    s_set_members (conv, summary);
    //  anything the server has that we have not seen is fetched
    if (summary->last_seq > convlog_seen (conv->log))
        s_fetch (self, conv, false);
    return conv;
}

static void
s_on_list (cl_convs_t *self, uint32_t cmd, Chat__ConversationList *list)
{
    bool first = !self->first_list_done;
    self->first_list_done = true;
    for (size_t i = 0; i < list->n_conversations; i++) {
        bool created = false;
        Chat__ConversationSummary *summary = list->conversations [i];
        conv_t *conv = s_merge (self, summary, first, &created);
        if (conv)
            s_read_state (self, conv, summary->read_seq, summary->unread, summary->last_seq);
        if (conv && created && !first && !cmd)
            cl_listener_publish (&self->listener, cl_event_conversation (
                CHATCLIENT_EV_CONVERSATION, 0, &conv->pub));
    }
    if (cmd || first) {
        chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_CONVERSATIONS, cmd);
        event->conversations = calloc (self->count + 1, sizeof (chatclient_conversation_t));
        assert (event->conversations);
        for (size_t i = 0; i < self->count; i++)
            cl_conversation_copy (&event->conversations [i], &self->convs [i]->pub);
        event->conversation_count = self->count;
        cl_listener_publish (&self->listener, event);
    }
}

static bool
s_on_created (cl_convs_t *self, uint32_t cmd, Chat__ConversationSummary *summary)
{
    bool created = false;
    conv_t *made = s_merge (self, summary, false, &created);
    if (!made)
        return false;
    cl_listener_publish (&self->listener, cl_event_conversation (
        CHATCLIENT_EV_CONVERSATION, cmd, &made->pub));
    //  make the key now, before another member asks for it
    s_need_key (self, made);
    return true;
}

static bool
s_on_members (cl_convs_t *self, conv_t *conv, c_tag_t tag, uint32_t cmd,
              Chat__ConversationSummary *members)
{
    if (!conv)
        return false;
    s_set_members (conv, members);
    if (tag == C_MEMBERS_FOR_KEY) {
        if (conv->ticket)
            s_key_request (self, conv, false);
        else
            s_key_failed (self, conv, CHAT_ERR_BAD_TICKET);
    }
    else
        cl_listener_publish (&self->listener, cl_event_conversation (
            CHATCLIENT_EV_MEMBERS, cmd, &conv->pub));
    return true;
}

//  ---------------------------------------------------------------- messages

//  Hold a stored message until the key is there.
static void
s_raw_add (conv_t *conv, Chat__StoredMessage *stored)
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
s_emit_message (cl_convs_t *self, conv_t *conv, chatclient_message_t *msg)
{
    if (msg->seq > conv->pub.last_seq) {
        conv->pub.last_seq = msg->seq;
        conv->pub.last_time = msg->server_time;
    }
    //  unread: messages from others past the marker, each counted once
    if (msg->seq > conv->counted_seq) {
        conv->counted_seq = msg->seq;
        if (msg->seq > conv->pub.read_seq && s_from_others (self, msg->sender))
            conv->pub.unread++;
    }
    cl_listener_publish (&self->listener, cl_event_message (CHATCLIENT_EV_MESSAGE, 0, msg));
}

static void
s_drain_ready (cl_convs_t *self, conv_t *conv)
{
    chatclient_message_t *msg;
    while ((msg = convlog_next_ready (conv->log)))
        s_emit_message (self, conv, msg);
}

//  Offer a message to the log and emit whatever became ready.
static void
s_offer (cl_convs_t *self, conv_t *conv, uint64_t seq, chatclient_message_t *msg)
{
    chatclient_message_t *held = msg;
    convlog_result_t result = convlog_offer (conv->log, seq, msg);
    if (result == CONVLOG_HISTORY && held)
        cl_listener_publish (&self->listener, cl_event_message (CHATCLIENT_EV_MESSAGE, 0, held));
    s_drain_ready (self, conv);
}

//  Open the held messages with the key, in the order they came.
static void
s_open_raw (cl_convs_t *self, conv_t *conv)
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
            s_offer (self, conv, raw->seq, msg);
        }
        else {
            //  a message we cannot believe is dropped, loudly, and its
            //  number used up so it does not look like a gap forever
            if (raw->seq > convlog_base (conv->log)
            &&  raw->seq > convlog_seen (conv->log)) {
                chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_ERROR, 0);
                event->code = rc;
                event->text = cl_format (
                    "message %llu in conversation %s from %s dropped: %s",
                    (unsigned long long) raw->seq, conv->pub.hex, raw->sender,
                    rc == CHAT_ERR_BAD_REQUEST
                    ? "it names another conversation or sender than the server says"
                    : chat_strerror (rc));
                cl_listener_publish (&self->listener, event);
            }
            s_offer (self, conv, raw->seq, NULL);
        }
        s_raw_free (&raw);
    }
}

static void
s_send_sealed (cl_convs_t *self, conv_t *conv, sendjob_t *job)
{
    char *token = NULL;
    int rc = msgseal_seal (conv->key, conv->pub.id, cl_session_username (self->session),
                           job->sent_at, job->cmid, job->text, job->len, &token);
    if (rc != CHAT_OK) {
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, job->cmd, rc, NULL, 0);
        s_sendjob_free (&job);
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
    c_about_t *about = s_about_new (conv);
    about->send = job;
    uint32_t cmd = job->cmd;
    if (!s_submit (self, C_SEND, cmd, (ProtobufCMessage *) &req, about))
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL, NULL, 0);
    free (token);
}

static void
s_on_page (cl_convs_t *self, conv_t *conv, uint64_t after_seq, Chat__MessagePage *page)
{
    if (!conv)
        return;
    uint64_t last = after_seq;
    for (size_t i = 0; i < page->n_messages; i++) {
        Chat__StoredMessage *stored = page->messages [i];
        if (stored->seq <= last)
            continue;           //  pages ascend; anything else is noise
        if (stored->conversation_id.len
        &&  (stored->conversation_id.len != CHATCLIENT_ID_SIZE
          || memcmp (stored->conversation_id.data, conv->pub.id, CHATCLIENT_ID_SIZE)))
            continue;
        s_raw_add (conv, stored);
        last = stored->seq;
        conv->fetch_progress = true;
    }
    if (page->more && last > after_seq) {
        s_get_messages (self, conv, last);
        s_need_key (self, conv);
        s_settle (self, conv);
        return;
    }
    conv->fetching = false;
    if (conv->fetch_from_zero)
        conv->history_loaded = true;
    if (zlist_size (conv->raw))
        s_need_key (self, conv);
    s_settle (self, conv);
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

static void
s_on_sent (cl_convs_t *self, conv_t *conv, uint32_t cmd, sendjob_t *job,
           Chat__SendMessageReply *sent)
{
    chatclient_message_t *msg = calloc (1, sizeof (chatclient_message_t));
    assert (msg);
    memcpy (msg->conversation_id, job->conv, CHATCLIENT_ID_SIZE);
    char *hex = codec_hex (job->conv, CHATCLIENT_ID_SIZE);
    assert (hex);
    memcpy (msg->conversation_hex, hex, CHATCLIENT_HEX_SIZE);
    free (hex);
    msg->seq = sent->seq;
    const char *me = cl_session_username (self->session);
    msg->sender = strdup (me ? me : "");
    msg->sent_at = job->sent_at;
    msg->server_time = sent->server_time;
    msg->text = job->text;
    msg->text_len = job->len;
    job->text = NULL;
    msg->live = true;
    msg->local = true;

    chatclient_event_t *event = cl_event_message (CHATCLIENT_EV_SENT, cmd, msg);
    event->duplicate = sent->duplicate;
    cl_listener_publish (&self->listener, event);
    if (conv) {
        s_offer (self, conv, sent->seq, msg);
        s_settle (self, conv);
    }
    else
        convlog_message_free (&msg);
}

static void
s_on_key (cl_convs_t *self, conv_t *conv, Chat__ConversationKey *key)
{
    if (!conv)
        return;
    if (key->key.len != FERNET_KEY_SIZE
    ||  key->conversation_id.len != CHATCLIENT_ID_SIZE
    ||  memcmp (key->conversation_id.data, conv->pub.id, CHATCLIENT_ID_SIZE)) {
        s_key_failed (self, conv, CHAT_ERR_MALFORMED);
        return;
    }
    memcpy (conv->key, key->key.data, FERNET_KEY_SIZE);
    secret_wipe (key->key.data, key->key.len);
    conv->key_state = KEY_READY;
    s_settle (self, conv);
}

//  A message the main server pushed.
static void
s_on_pushed (cl_convs_t *self, Chat__StoredMessage *stored)
{
    conv_t *conv = s_find (self, stored->conversation_id.data, stored->conversation_id.len);
    if (!conv)
        //  a conversation we have not heard of: the list brings it
        s_list (self, 0, false);
    else
    if (stored->seq > convlog_seen (conv->log)) {
        if (stored->seq > convlog_seen (conv->log) + 1)
            s_fetch (self, conv, false);        //  we missed some
        else
            s_raw_add (conv, stored);
        s_need_key (self, conv);
        s_settle (self, conv);
    }
}

static void
s_on_push (cl_convs_t *self, const uint8_t *data, size_t size)
{
    Chat__Push *push = NULL;
    if (wire_unpack (&chat__push__descriptor, data, size,
                     (ProtobufCMessage **) &push) != CHAT_OK)
        return;
    if (push->body_case == CHAT__PUSH__BODY_MESSAGE)
        s_on_pushed (self, push->message);
    else
    if (push->body_case == CHAT__PUSH__BODY_READ) {
        //  another session of the user read it: so has this one
        conv_t *conv = s_on_read (self, push->read);
        if (conv)
            cl_listener_publish (&self->listener, cl_event_conversation (
                CHATCLIENT_EV_READ, 0, &conv->pub));
    }
    else
    if (push->body_case == CHAT__PUSH__BODY_CONVERSATION) {
        bool created = false;
        conv_t *conv = s_merge (self, push->conversation, false, &created);
        if (conv)
            cl_listener_publish (&self->listener, cl_event_conversation (
                CHATCLIENT_EV_CONVERSATION, 0, &conv->pub));
    }
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) push, NULL);
}

//  ---------------------------------------------------------------- settling

static void
s_complete_waiter (cl_convs_t *self, conv_t *conv, waiter_t *waiter)
{
    chatclient_event_t *event;
    if (waiter->kind == WAIT_OPEN) {
        s_read_all (self, conv);
        event = cl_event_conversation (CHATCLIENT_EV_OPENED, waiter->cmd, &conv->pub);
    }
    else {
        event = cl_event_conversation (CHATCLIENT_EV_HISTORY, waiter->cmd, &conv->pub);
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
    cl_listener_publish (&self->listener, event);
}

static void
s_fail_waiters (cl_convs_t *self, conv_t *conv, int code, const char *text)
{
    waiter_t *waiter;
    while ((waiter = (waiter_t *) zlist_pop (conv->waiters))) {
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, waiter->cmd, code, text, 0);
        free (waiter);
    }
}

static void
s_fail_sends (cl_convs_t *self, conv_t *conv, int code, const char *text)
{
    sendjob_t *job;
    while ((job = (sendjob_t *) zlist_pop (conv->sends))) {
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, job->cmd, code, text, 0);
        s_sendjob_free (&job);
    }
}

//  Make progress on a conversation after anything changed: open held
//  messages, fetch gaps, send what waits for the key, complete waiters.
static void
s_settle (cl_convs_t *self, conv_t *conv)
{
    if (conv->key_state == KEY_READY)
        s_open_raw (self, conv);

    if (!conv->fetching) {
        if (conv->want_history && !conv->history_loaded) {
            conv->want_history = false;
            s_fetch (self, conv, true);
        }
        else
        if (convlog_has_gap (conv->log) && conv->key_state == KEY_READY
        &&  zlist_size (conv->raw) == 0)
            s_fetch (self, conv, false);
    }
    //  sends wait only for the key
    if (conv->key_state == KEY_READY) {
        sendjob_t *job;
        while ((job = (sendjob_t *) zlist_pop (conv->sends)))
            s_send_sealed (self, conv, job);
    }
    else
    if (conv->key_state == KEY_NONE && conv->key_error)
        s_fail_sends (self, conv, conv->key_error, "Could not get the conversation key");
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

//  ---------------------------------------------------------------- outcomes

//  A reply that fits: false when it does not after all.
static bool
s_on_reply (cl_convs_t *self, conv_t *conv, cl_outcome_t *outcome)
{
    Chat__MainReply *main = (Chat__MainReply *) outcome->reply;
    Chat__KeyReply *key = (Chat__KeyReply *) outcome->reply;
    c_about_t *about = (c_about_t *) outcome->data;
    switch ((c_tag_t) outcome->tag) {
        case C_LIST:
        case C_LIST_FIRST:
            s_on_list (self, outcome->cmd, main->conversations);
            return true;
        case C_CREATE:
            return s_on_created (self, outcome->cmd, main->conversation);
        case C_MESSAGES:
            s_on_page (self, conv, about->after_seq, main->messages);
            return true;
        case C_SEND:
            if (!about->send)
                return false;
            s_on_sent (self, conv, outcome->cmd, about->send, main->sent);
            return true;
        case C_MEMBERS:
        case C_MEMBERS_FOR_KEY:
            return s_on_members (self, conv, (c_tag_t) outcome->tag, outcome->cmd,
                                 main->members);
        case C_GET_KEY:
        case C_CREATE_KEY:
            s_on_key (self, conv, key->conversation_key);
            return true;
        case C_MARK_READ:
            if (conv) {
                conv->read_inflight = false;
                s_on_read (self, main->read);
                s_mark_read_send (self, conv);      //  read on meanwhile?
            }
            return true;
    }
    return true;
}

static void
s_on_failure (cl_convs_t *self, conv_t *conv, cl_outcome_t *outcome)
{
    int code = outcome->code;
    bool gone = code == CHATCLIENT_ERR_CONNECTION || code == CHATCLIENT_ERR_TIMEOUT;
    switch ((c_tag_t) outcome->tag) {
        case C_GET_KEY:
            if (!conv)
                break;
            if (code == CHAT_ERR_NOT_FOUND && conv->key_attempts < KEY_ATTEMPTS) {
                //  nobody made it yet: we do
                conv->key_attempts++;
                s_key_request (self, conv, true);
            }
            else
            if (code == CHAT_ERR_BAD_TICKET && conv->key_attempts < KEY_ATTEMPTS) {
                conv->key_attempts++;
                s_get_members (self, conv, 0, true);
            }
            else
                s_key_failed (self, conv, code);
            break;
        case C_CREATE_KEY:
            if (!conv)
                break;
            if (code == CHAT_ERR_BAD_TICKET && conv->key_attempts < KEY_ATTEMPTS) {
                conv->key_attempts++;
                s_get_members (self, conv, 0, true);
            }
            else
            if (!gone && conv->key_attempts < KEY_ATTEMPTS) {
                //  someone else created it first
                conv->key_attempts++;
                s_key_request (self, conv, false);
            }
            else
                s_key_failed (self, conv, code);
            break;
        case C_MEMBERS_FOR_KEY:
            if (conv)
                s_key_failed (self, conv, code);
            break;
        case C_MESSAGES:
            if (conv) {
                conv->fetching = false;
                conv->fetch_error = code;
                s_settle (self, conv);
                conv->fetch_error = 0;
            }
            break;
        case C_MARK_READ:
            //  told again with the next mark or list
            if (conv) {
                conv->read_inflight = false;
                conv->read_told = 0;
            }
            break;
        case C_MEMBERS:
        case C_LIST:
        case C_LIST_FIRST:
        case C_CREATE:
        case C_SEND:
            if (outcome->cmd)
                cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, outcome->cmd, code,
                                  outcome->text, outcome->retry_ms);
            break;
    }
}

static bool
s_on_outcome (void *arg, cl_outcome_t *outcome)
{
    cl_convs_t *self = (cl_convs_t *) arg;
    c_about_t *about = (c_about_t *) outcome->data;
    conv_t *conv = about ? s_find (self, about->conv, CHATCLIENT_ID_SIZE) : NULL;
    if (outcome->code != CHAT_OK) {
        s_on_failure (self, conv, outcome);
        return true;
    }
    return s_on_reply (self, conv, outcome);
}

//  ---------------------------------------------------------------- events

//  Forget every conversation; the commands waiting on them fail.
static void
s_clear (cl_convs_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        s_fail_waiters (self, self->convs [i], CHAT_ERR_NOT_LOGGED_IN, NULL);
        s_fail_sends (self, self->convs [i], CHAT_ERR_NOT_LOGGED_IN, NULL);
        s_conv_destroy (&self->convs [i]);
    }
    self->count = 0;
    self->first_list_done = false;
}

static void
s_on_session (void *arg, cl_event_t *event)
{
    cl_convs_t *self = (cl_convs_t *) arg;
    cl_listener_emit (&self->listener, event);
    switch (event->kind) {
        case CL_EV_SESSION_UP:
            s_list (self, 0, true);
            break;
        case CL_EV_SESSION_RENEWED:
            s_list (self, 0, false);
            break;
        case CL_EV_SESSION_DOWN:
            s_clear (self);
            break;
        case CL_EV_LINK_PUSH:
            if (event->server == CHATCLIENT_MAINSERVER && cl_session_logged_in (self->session))
                s_on_push (self, event->data, event->size);
            break;
        default:
            break;
    }
}

//  ---------------------------------------------------------------- commands

void
cl_convs_list (cl_convs_t *self, uint32_t cmd)
{
    s_list (self, cmd, false);
}

void
cl_convs_create (cl_convs_t *self, uint32_t cmd, const char **usernames, size_t count)
{
    Chat__CreateConversationRequest body = CHAT__CREATE_CONVERSATION_REQUEST__INIT;
    body.members = (char **) usernames;
    body.n_members = count;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION;
    req.create_conversation = &body;
    if (!s_submit (self, C_CREATE, cmd, (ProtobufCMessage *) &req, s_about_new (NULL)))
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL, NULL, 0);
}

//  An open or history command: complete cmd once the history is loaded
//  and readable.
static void
s_wait (cl_convs_t *self, uint32_t cmd, const uint8_t *id, wait_kind_t kind,
        uint64_t after)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    if (!conv) {
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_NOT_FOUND,
                          "No such conversation", 0);
        return;
    }
    waiter_t *waiter = calloc (1, sizeof (waiter_t));
    assert (waiter);
    waiter->cmd = cmd;
    waiter->kind = kind;
    waiter->after = after;
    zlist_append (conv->waiters, waiter);
    if (!conv->history_loaded)
        s_fetch (self, conv, true);
    else
        s_fetch (self, conv, false);        //  catch up, cheaply
    s_need_key (self, conv);
    s_settle (self, conv);
}

void
cl_convs_open (cl_convs_t *self, uint32_t cmd, const uint8_t *id)
{
    s_wait (self, cmd, id, WAIT_OPEN, 0);
}

void
cl_convs_history (cl_convs_t *self, uint32_t cmd, const uint8_t *id, uint64_t after_seq)
{
    s_wait (self, cmd, id, WAIT_HISTORY, after_seq);
}

void
cl_convs_members (cl_convs_t *self, uint32_t cmd, const uint8_t *id)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    if (conv)
        s_get_members (self, conv, cmd, false);
    else
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_NOT_FOUND,
                          "No such conversation", 0);
}

void
cl_convs_send (cl_convs_t *self, uint32_t cmd, const uint8_t *id, const char *text,
               size_t len)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    if (!conv) {
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_NOT_FOUND,
                          "No such conversation", 0);
        return;
    }
    sendjob_t *job = calloc (1, sizeof (sendjob_t));
    assert (job);
    job->cmd = cmd;
    memcpy (job->conv, conv->pub.id, CHATCLIENT_ID_SIZE);
    if (secret_random (job->cmid, CHATCLIENT_ID_SIZE) != 0) {
        free (job);
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL, NULL, 0);
        return;
    }
    job->sent_at = zclock_time ();
    job->text = malloc (len + 1);
    assert (job->text);
    memcpy (job->text, text, len);
    job->text [len] = 0;
    job->len = len;
    zlist_append (conv->sends, job);
    s_need_key (self, conv);
    s_settle (self, conv);
}

//  ---------------------------------------------------------------- views

size_t
cl_convs_count (cl_convs_t *self)
{
    return self->count;
}

const chatclient_conversation_t *
cl_convs_at (cl_convs_t *self, size_t index)
{
    return index < self->count ? &self->convs [index]->pub : NULL;
}

const chatclient_conversation_t *
cl_convs_find (cl_convs_t *self, const uint8_t *id)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    return conv ? &conv->pub : NULL;
}

size_t
cl_convs_message_count (cl_convs_t *self, const uint8_t *id)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    return conv ? convlog_size (conv->log) : 0;
}

const chatclient_message_t *
cl_convs_message (cl_convs_t *self, const uint8_t *id, size_t index)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    return conv ? convlog_at (conv->log, index) : NULL;
}

void
cl_convs_mark_read (cl_convs_t *self, const uint8_t *id)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    if (conv)
        s_read_all (self, conv);
}

//  ---------------------------------------------------------------- life

cl_convs_t *
cl_convs_new (cl_session_t *session, cl_requests_t *key, cl_requests_t *main)
{
    assert (session && key && main);
    cl_convs_t *self = calloc (1, sizeof (cl_convs_t));
    assert (self);
    self->session = session;
    self->key = key;
    self->main = main;
    cl_session_set_listener (session, s_on_session, self);
    return self;
}

void
cl_convs_destroy (cl_convs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cl_convs_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        s_conv_destroy (&self->convs [i]);
    free (self->convs);
    cl_session_set_listener (self->session, NULL, NULL);
    free (self);
    *self_p = NULL;
}

void
cl_convs_set_listener (cl_convs_t *self, cl_listener_fn *fn, void *arg)
{
    self->listener.fn = fn;
    self->listener.arg = arg;
}
