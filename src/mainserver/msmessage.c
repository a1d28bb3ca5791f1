/*  msmessage - message requests; see msmessage.h  */
#include <assert.h>
#include <string.h>
#include "chaterror.h"
#include "fernet.h"
#include "msbell.h"
#include "msconv.h"
#include "msmessage.h"
#include "msonline.h"
#include "msoutbox.h"
#include "msquota.h"

#define CHAT_XSTR(x) #x
#define CHAT_STR(x) CHAT_XSTR(x)

//  The text of a refused send
static int
s_refusal (msreq_t *req, int rc, uint64_t epoch, uint64_t current)
{
    if (rc == CHAT_ERR_BAD_REQUEST)
        req->text = "client_message_id used by another sender";
    else
    if (rc == CHAT_ERR_STALE_EPOCH) {
        char *text = (char *) msarena_alloc (req->arena, 96);
        snprintf (text, 96, "epoch %llu is not the conversation's current epoch %llu",
                  (unsigned long long) epoch, (unsigned long long) current);
        req->text = text;
    }
    return rc;
}

//  A stored message: the reply, and (the first time) the quota charged,
//  the push to every other session of every member, the doorbell noted
static void
s_sent (msreq_t *req, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t epoch,
        const char *token, size_t token_len, ProtobufCBinaryData client_message_id,
        uint64_t seq, int64_t server_time, bool duplicate)
{
    Chat__SendMessageReply *sent = (Chat__SendMessageReply *)
        msarena_alloc (req->arena, sizeof *sent);
    chat__send_message_reply__init (sent);
    sent->conversation_id.data = (uint8_t *) msarena_memdup (req->arena, id,
                                                             MSGSTORE_ID_SIZE);
    sent->conversation_id.len = MSGSTORE_ID_SIZE;
    sent->seq = seq;
    sent->server_time = server_time;
    sent->duplicate = duplicate;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_SENT;
    req->reply->sent = sent;
    if (duplicate)
        return;                 //  pushed, and counted, the first time
    msquota_message_take (req->ctx->quotas, req->sender, token_len);
    if (req->ctx->bell)
        msbell_message (req->ctx->bell, id, seq);

    msoutbox_target_t *targets;
    size_t target_count;
    //  The store failing here costs the push (the client fetches the gap),
    //  not the message: it is committed
    if (msonline_targets (req->ctx->online, req->ctx->store, id, req->session,
                          &targets, &target_count) != CHAT_OK)
        return;
    msgstore_msg_t msg = {
        .conversation_id = id, .seq = seq, .epoch = epoch, .sender = req->sender,
        .server_time = server_time, .token = token, .token_len = token_len,
        .client_message_id = client_message_id.data,
        .client_message_id_len = client_message_id.len
    };
    msmessage_push (req, &msg, targets, target_count);
}

void
msmessage_push (msreq_t *req, const msgstore_msg_t *msg, msoutbox_target_t *targets,
                size_t count)
{
    Chat__StoredMessage stored = CHAT__STORED_MESSAGE__INIT;
    stored.conversation_id.data = (uint8_t *) msg->conversation_id;
    stored.conversation_id.len = MSGSTORE_ID_SIZE;
    stored.seq = msg->seq;
    stored.epoch = msg->epoch;
    stored.sender = (char *) msg->sender;
    stored.server_time = msg->server_time;
    //  The token as stored: a terminated copy
    stored.token = (char *) msarena_keep (req->arena, strndup (msg->token, msg->token_len));
    stored.client_message_id.data = (uint8_t *) msg->client_message_id;
    stored.client_message_id.len = msg->client_message_id_len;
    Chat__Push push = CHAT__PUSH__INIT;
    push.body_case = CHAT__PUSH__BODY_MESSAGE;
    push.message = &stored;
    msoutbox_push (req->pushes, msg->sender, targets, count, &push.base);
}

//  ---------------------------------------------------------------- deferred sends

//  One send waiting for the batch's pipeline: copies of what it needs
typedef struct {
    uint8_t session_id [CHANNEL_SESSION_ID_SIZE];
    uint64_t request_id;
    char sender [USERNAME_MAX + 1];
    uint8_t id [MSGSTORE_ID_SIZE];
    uint64_t current_epoch;             //  the conversation's, when checked
    uint64_t epoch;
    uint8_t client_message_id [16];
    char *token;
    size_t token_len;
} deferred_t;

struct _msmessage_batch_t {
    deferred_t sends [MAINSERVER_BATCH];
    size_t count;
};

msmessage_batch_t *
msmessage_batch_new (void)
{
    msmessage_batch_t *self = (msmessage_batch_t *) zmalloc (sizeof *self);
    assert (self);
    return self;
}

static void
s_batch_purge (msmessage_batch_t *self)
{
    for (size_t index = 0; index < self->count; index++)
        free (self->sends [index].token);
    self->count = 0;
}

void
msmessage_batch_destroy (msmessage_batch_t **self_p)
{
    assert (self_p);
    msmessage_batch_t *self = *self_p;
    if (self) {
        s_batch_purge (self);
        free (self);
        *self_p = NULL;
    }
}

static int
s_defer (msmessage_batch_t *self, msreq_t *req, const msgstore_conv_t *conv,
         Chat__SendMessageRequest *body, size_t token_len)
{
    //  A batch holds at most MAINSERVER_BATCH requests
    assert (self->count < MAINSERVER_BATCH);
    deferred_t *send = &self->sends [self->count];
    memset (send, 0, sizeof *send);
    send->token = (char *) malloc (token_len + 1);
    assert (send->token);
    memcpy (send->token, body->token, token_len + 1);
    send->token_len = token_len;
    memcpy (send->session_id, channel_session_id (req->session->channel),
            CHANNEL_SESSION_ID_SIZE);
    send->request_id = req->reply->request_id;
    snprintf (send->sender, sizeof send->sender, "%s", req->session->username);
    memcpy (send->id, conv->id, MSGSTORE_ID_SIZE);
    send->current_epoch = conv->epoch;
    send->epoch = body->epoch;
    memcpy (send->client_message_id, body->client_message_id.data, 16);
    self->count++;
    return MSREQ_DEFERRED;
}

//  Answer one deferred send as the store answered it (status), its reply
//  and pushes queued in outbox
static void
s_complete (msctx_t *ctx, msoutbox_t *outbox, deferred_t *send, const msgstore_add_t *add,
            int status)
{
    chansession_t *session = chanserver_lookup (ctx->chanserver, send->session_id);
    Chat__MainReply reply = CHAT__MAIN_REPLY__INIT;
    reply.request_id = send->request_id;
    msreq_t req = { ctx, session, msarena_new (), &reply, NULL, 0,
                    msoutbox_pending_new (), send->sender };
    ProtobufCBinaryData client_message_id = { 16, send->client_message_id };
    if (status == CHAT_OK)
        s_sent (&req, send->id, send->epoch, send->token, send->token_len,
                client_message_id, add->seq, add->server_time, add->duplicate);
    else
    if (status == CHAT_ERR_INTERNAL)
        req.text = "storage failed, nothing was stored";
    else
        s_refusal (&req, status, send->epoch, send->current_epoch);
    metrics_request (ctx->metrics, "send-message", status);
    if (status != CHAT_OK)
        zsys_info ("user %s: send-message refused: %s%s%s", send->sender,
                   chat_errname (status), req.text? " - ": "", req.text? req.text: "");
    //  The session may be gone: its reply with it, not the others' pushes
    if (session) {
        if (status == CHAT_OK)
            msoutbox_reply (outbox, session, send->request_id, &reply);
        else
            msoutbox_error (outbox, session, send->request_id, status, req.text);
    }
    msoutbox_take (outbox, req.pushes);
    zlistx_destroy (&req.pushes);
    msarena_destroy (&req.arena);
}

bool
msmessage_batch_commit (msmessage_batch_t *self, msctx_t *ctx, msoutbox_t *outbox,
                        bool may_commit)
{
    assert (self && ctx && outbox);
    if (self->count == 0)
        return true;
    msgstore_add_t *adds = (msgstore_add_t *) calloc (self->count, sizeof *adds);
    assert (adds);
    int64_t now = wire_now_ms ();
    for (size_t index = 0; index < self->count; index++) {
        deferred_t *send = &self->sends [index];
        adds [index] = (msgstore_add_t) {
            .conversation_id = send->id, .sender = send->sender,
            .client_message_id = send->client_message_id, .client_message_id_len = 16,
            .token = send->token, .token_len = send->token_len,
            .epoch = send->epoch, .now_ms = now
        };
    }
    int rc = CHAT_ERR_INTERNAL;
    if (may_commit) {
        int64_t start = zclock_usecs ();
        rc = msgstore_msg_add_batch (ctx->store, adds, self->count);
        metrics_commit (ctx->metrics, zclock_usecs () - start, self->count, rc == CHAT_OK);
        if (rc != CHAT_OK)
            zsys_error ("mainserver: the commit of %zu messages failed, each answered "
                        "ERR_INTERNAL", self->count);
    }
    for (size_t index = 0; index < self->count; index++)
        s_complete (ctx, outbox, &self->sends [index], &adds [index],
                    rc == CHAT_OK? adds [index].status: CHAT_ERR_INTERNAL);
    free (adds);
    s_batch_purge (self);
    return rc == CHAT_OK;
}

//  Whether the sender may send here. On one server's own store (SQLite)
//  from the member cache, which every membership change and rollback on
//  this server keeps exact; conv then holds the id only. Servers sharing
//  a store (PostgreSQL) ask it: another may have changed the members.
static int
s_sender_member (msreq_t *req, ProtobufCBinaryData id, msgstore_conv_t *conv)
{
    if (req->ctx->sends)
        return msconv_of_member (req, id, conv);
    int rc = msonline_member (req->ctx->online, req->ctx->store, id.data, id.len,
                              req->session->username);
    if (rc == CHAT_ERR_NOT_FOUND)
        req->text = "no such conversation";
    if (rc == CHAT_OK) {
        memset (conv, 0, sizeof *conv);
        memcpy (conv->id, id.data, MSGSTORE_ID_SIZE);
    }
    return rc;
}

int
msmessage_send (msreq_t *req, Chat__SendMessageRequest *body)
{
    msgstore_conv_t conv;
    int rc = s_sender_member (req, body->conversation_id, &conv);
    if (rc != CHAT_OK)
        return rc;
    size_t token_len = body->token? strlen (body->token): 0;
    if (token_len > WIRE_MAX_TOKEN) {
        req->text = "message token over " CHAT_STR (WIRE_MAX_TOKEN) " bytes";
        return CHAT_ERR_MESSAGE_TOO_LARGE;
    }
    if (token_len == 0 || fernet_token_timestamp (body->token, token_len) < 0) {
        req->text = "token is not a Fernet token";
        return CHAT_ERR_BAD_REQUEST;
    }
    if (body->client_message_id.len != 16) {
        req->text = "client_message_id must be 16 bytes";
        return CHAT_ERR_BAD_REQUEST;
    }
    //  Checked before the store, charged after a new message only: a retry
    //  of a stored one costs nothing (but is refused like a send while
    //  over a quota)
    msquota_refusal_t refusal;
    if (msquota_message_check (req->ctx->quotas, req->session->username, token_len,
                               &refusal) != CHAT_OK) {
        req->text = msarena_strdup (req->arena, refusal.text);
        req->retry_ms = refusal.retry_ms;
        return refusal.code;
    }
    //  On PostgreSQL the sends of a batch are stored together, in one
    //  pipeline, after the batch's other requests committed
    if (req->ctx->sends)
        return s_defer (req->ctx->sends, req, &conv, body, token_len);
    uint64_t seq;
    int64_t server_time;
    bool duplicate;
    //  One INSERT (msgstore.h), atomic on its own: no savepoint around it
    rc = msgstore_msg_add (req->ctx->store, conv.id, req->session->username,
                           body->client_message_id.data, body->client_message_id.len,
                           body->token, token_len, body->epoch, wire_now_ms (),
                           &seq, &server_time, &duplicate);
    if (rc == CHAT_ERR_STALE_EPOCH) {
        //  The current epoch for the refusal's text: read on this rare path only
        if (msgstore_conv_get (req->ctx->store, conv.id, MSGSTORE_ID_SIZE,
                               &conv) != CHAT_OK)
            conv.epoch = 0;
        return s_refusal (req, rc, body->epoch, conv.epoch);
    }
    if (rc == CHAT_ERR_NOT_FOUND)
        req->text = "no such conversation";
    if (rc == CHAT_ERR_INTERNAL)
        req->text = "storage failed, nothing was stored";
    if (rc != CHAT_OK)
        return s_refusal (req, rc, body->epoch, conv.epoch);
    s_sent (req, conv.id, body->epoch, body->token, token_len,
            body->client_message_id, seq, server_time, duplicate);
    return CHAT_OK;
}

typedef struct {
    msreq_t *req;
    Chat__MessagePage *page;
    size_t wanted;
    size_t bytes;
    bool more;
} page_collect_t;

static int
s_collect_message (const msgstore_msg_t *msg, void *arg)
{
    page_collect_t *collect = (page_collect_t *) arg;
    Chat__MessagePage *page = collect->page;
    if (page->n_messages == collect->wanted
    || (page->n_messages > 0 && collect->bytes + msg->token_len > WIRE_PAGE_BYTES)) {
        collect->more = true;
        return 1;
    }
    msarena_t *arena = collect->req->arena;
    Chat__StoredMessage *stored = (Chat__StoredMessage *) msarena_alloc (arena, sizeof *stored);
    chat__stored_message__init (stored);
    stored->conversation_id = page->conversation_id;
    stored->seq = msg->seq;
    stored->epoch = msg->epoch;
    stored->sender = msarena_strdup (arena, msg->sender);
    stored->server_time = msg->server_time;
    stored->token = (char *) msarena_keep (arena, strndup (msg->token, msg->token_len));
    if (msg->client_message_id_len) {
        stored->client_message_id.data = (uint8_t *)
            msarena_memdup (arena, msg->client_message_id, msg->client_message_id_len);
        stored->client_message_id.len = msg->client_message_id_len;
    }
    page->messages [page->n_messages++] = stored;
    collect->bytes += msg->token_len;
    return 0;
}

int
msmessage_page (msreq_t *req, Chat__GetMessagesRequest *body)
{
    msgstore_conv_t conv;
    int rc = msconv_of_member (req, body->conversation_id, &conv);
    if (rc != CHAT_OK)
        return rc;
    size_t limit = body->limit == 0? MAINSERVER_PAGE_DEFAULT: body->limit;
    if (limit > MAINSERVER_PAGE_MAX)
        limit = MAINSERVER_PAGE_MAX;

    Chat__MessagePage *page = (Chat__MessagePage *) msarena_alloc (req->arena, sizeof *page);
    chat__message_page__init (page);
    page->conversation_id.data = (uint8_t *) msarena_memdup (req->arena, conv.id,
                                                             MSGSTORE_ID_SIZE);
    page->conversation_id.len = MSGSTORE_ID_SIZE;
    page->last_seq = conv.last_seq;
    page->messages = (Chat__StoredMessage **) msarena_alloc (req->arena,
                                                             sizeof (void *) * limit);
    page_collect_t collect = { req, page, limit, 0, false };
    //  A member added later reads from its joining on: the messages before
    //  were sealed under keys it never had (and is not to have)
    uint64_t after_seq = body->after_seq > conv.joined_seq? body->after_seq: conv.joined_seq;
    //  One row more than wanted tells whether there is more.
    rc = msgstore_msg_each (req->ctx->store, conv.id, after_seq,
                            (uint32_t) limit + 1, s_collect_message, &collect);
    if (rc != CHAT_OK)
        return rc;
    page->more = collect.more;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_MESSAGES;
    req->reply->messages = page;
    return CHAT_OK;
}
