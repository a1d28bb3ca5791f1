/*  msmessage - message requests; see msmessage.h  */
#include <string.h>
#include "chaterror.h"
#include "fernet.h"
#include "msconv.h"
#include "msmessage.h"
#include "msoutbox.h"
#include "msquota.h"

#define CHAT_XSTR(x) #x
#define CHAT_STR(x) CHAT_XSTR(x)

int
msmessage_send (msreq_t *req, Chat__SendMessageRequest *body)
{
    msgstore_conv_t conv;
    int rc = msconv_of_member (req, body->conversation_id, &conv);
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
    uint64_t seq;
    int64_t server_time;
    bool duplicate;
    rc = msgstore_msg_add (req->ctx->store, conv.id, req->session->username,
                           body->client_message_id.data, body->client_message_id.len,
                           body->token, token_len, body->epoch, wire_now_ms (),
                           &seq, &server_time, &duplicate);
    if (rc == CHAT_ERR_BAD_REQUEST)
        req->text = "client_message_id used by another sender";
    else
    if (rc == CHAT_ERR_STALE_EPOCH) {
        char *text = (char *) msarena_alloc (req->arena, 96);
        snprintf (text, 96, "epoch %llu is not the conversation's current epoch %llu",
                  (unsigned long long) body->epoch, (unsigned long long) conv.epoch);
        req->text = text;
    }
    if (rc != CHAT_OK)
        return rc;

    Chat__SendMessageReply *sent = (Chat__SendMessageReply *)
        msarena_alloc (req->arena, sizeof *sent);
    chat__send_message_reply__init (sent);
    sent->conversation_id.data = (uint8_t *) msarena_memdup (req->arena, conv.id,
                                                             MSGSTORE_ID_SIZE);
    sent->conversation_id.len = MSGSTORE_ID_SIZE;
    sent->seq = seq;
    sent->server_time = server_time;
    sent->duplicate = duplicate;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_SENT;
    req->reply->sent = sent;
    if (duplicate)
        return CHAT_OK;         //  pushed, and counted, the first time
    msquota_message_take (req->ctx->quotas, req->session->username, token_len);

    msoutbox_target_t *targets;
    size_t target_count;
    rc = msonline_targets (req->ctx->online, req->ctx->store, conv.id, req->session,
                           &targets, &target_count);
    if (rc != CHAT_OK)
        return rc;
    Chat__StoredMessage stored = CHAT__STORED_MESSAGE__INIT;
    stored.conversation_id = sent->conversation_id;
    stored.seq = seq;
    stored.epoch = body->epoch;
    stored.sender = req->session->username;
    stored.server_time = server_time;
    stored.token = body->token;
    stored.client_message_id = body->client_message_id;
    Chat__Push push = CHAT__PUSH__INIT;
    push.body_case = CHAT__PUSH__BODY_MESSAGE;
    push.message = &stored;
    msoutbox_push (req->pushes, req->session->username, targets, target_count, &push.base);
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
