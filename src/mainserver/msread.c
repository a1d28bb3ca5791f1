/*  msread - read markers; see msread.h  */
#include <assert.h>
#include <string.h>
#include "chaterror.h"
#include "msconv.h"
#include "msonline.h"
#include "msoutbox.h"
#include "msread.h"

//  The caller's other sessions hear where the marker is now
static void
s_push_state (msreq_t *req, Chat__ReadState *state)
{
    msoutbox_target_t *targets;
    size_t count;
    msonline_user_targets (req->ctx->online, req->session, &targets, &count);
    Chat__Push push = CHAT__PUSH__INIT;
    push.body_case = CHAT__PUSH__BODY_READ;
    push.read = state;
    msoutbox_push (req->pushes, req->session->username, targets, count, &push.base);
}

int
msread_mark (msreq_t *req, Chat__MarkReadRequest *body)
{
    msgstore_conv_t conv;
    int rc = msconv_of_member (req, body->conversation_id, &conv);
    if (rc != CHAT_OK)
        return rc;
    //  A marker past the last message would hide messages still to come
    uint64_t wanted = body->read_seq < conv.last_seq? body->read_seq: conv.last_seq;
    bool moved = false;
    rc = msgstore_read_set (req->ctx->store, conv.id, req->session->username, wanted, &moved);
    Chat__ReadState *state = (Chat__ReadState *) msarena_alloc (req->arena, sizeof *state);
    chat__read_state__init (state);
    if (rc == CHAT_OK)
        rc = msgstore_read_state (req->ctx->store, conv.id, req->session->username,
                                  &state->read_seq, &state->unread);
    if (rc != CHAT_OK)
        return rc;
    state->conversation_id.data = (uint8_t *) msarena_memdup (req->arena, conv.id,
                                                              MSGSTORE_ID_SIZE);
    state->conversation_id.len = MSGSTORE_ID_SIZE;
    state->last_seq = conv.last_seq;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_READ;
    req->reply->read = state;
    if (moved)
        s_push_state (req, state);
    return CHAT_OK;
}
