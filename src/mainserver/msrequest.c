/*  msrequest - one main server request; see msrequest.h  */
#include <assert.h>
#include "chaterror.h"
#include "msaccount.h"
#include "msconv.h"
#include "msmessage.h"
#include "msread.h"
#include "msonline.h"
#include "msrequest.h"

static const char *
s_request_name (Chat__MainRequest__BodyCase body)
{
    switch (body) {
        case CHAT__MAIN_REQUEST__BODY_REGISTER:            return "register";
        case CHAT__MAIN_REQUEST__BODY_LOGIN:               return "login";
        case CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS:  return "list-conversations";
        case CHAT__MAIN_REQUEST__BODY_GET_MESSAGES:        return "get-messages";
        case CHAT__MAIN_REQUEST__BODY_LIST_USERS:          return "list-users";
        case CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION: return "create-conversation";
        case CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE:        return "send-message";
        case CHAT__MAIN_REQUEST__BODY_GET_MEMBERS:         return "get-members";
        case CHAT__MAIN_REQUEST__BODY_LOGOUT:              return "logout";
        case CHAT__MAIN_REQUEST__BODY_PING:                return "ping";
        case CHAT__MAIN_REQUEST__BODY_GET_CHAIN:           return "get-chain";
        case CHAT__MAIN_REQUEST__BODY_KEY_TICKET:          return "key-ticket";
        case CHAT__MAIN_REQUEST__BODY_MARK_READ:           return "mark-read";
        case CHAT__MAIN_REQUEST__BODY_CHANGE_CONVERSATION: return "change-conversation";
        case CHAT__MAIN_REQUEST__BODY_ACCEPT_CONVERSATION: return "accept-conversation";
        default:                                           return "unknown";
    }
}

static int
s_dispatch (msreq_t *req, Chat__MainRequest *request)
{
    switch (request->body_case) {
        case CHAT__MAIN_REQUEST__BODY_REGISTER:
            return msaccount_register (req, request->register_);
        case CHAT__MAIN_REQUEST__BODY_LOGIN:
            return msaccount_login (req, request->login);
        case CHAT__MAIN_REQUEST__BODY_LOGOUT:
            return msaccount_logout (req);
        case CHAT__MAIN_REQUEST__BODY_LIST_USERS:
            return msaccount_users (req);
        case CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS:
            return msconv_list (req, request->list_conversations);
        case CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION:
            return msconv_create (req, request->create_conversation);
        case CHAT__MAIN_REQUEST__BODY_GET_MEMBERS:
            return msconv_members (req, request->get_members);
        case CHAT__MAIN_REQUEST__BODY_GET_CHAIN:
            return msconv_chain (req, request->get_chain);
        case CHAT__MAIN_REQUEST__BODY_KEY_TICKET:
            return msconv_key_ticket (req, request->key_ticket);
        case CHAT__MAIN_REQUEST__BODY_CHANGE_CONVERSATION:
            return msconv_change (req, request->change_conversation);
        case CHAT__MAIN_REQUEST__BODY_ACCEPT_CONVERSATION:
            return msconv_accept (req, request->accept_conversation);
        case CHAT__MAIN_REQUEST__BODY_GET_MESSAGES:
            return msmessage_page (req, request->get_messages);
        case CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE:
            return msmessage_send (req, request->send_message);
        case CHAT__MAIN_REQUEST__BODY_MARK_READ:
            return msread_mark (req, request->mark_read);
        case CHAT__MAIN_REQUEST__BODY_PING: {
            static Chat__Ack ack = CHAT__ACK__INIT;
            req->reply->body_case = CHAT__MAIN_REPLY__BODY_PONG;
            req->reply->pong = &ack;
            return CHAT_OK;
        }
        default:
            req->text = "unknown request";
            return CHAT_ERR_BAD_REQUEST;
    }
}

void
msrequest_handle (msctx_t *ctx, msoutbox_t *outbox, chansession_t *session,
                  const uint8_t *payload, size_t len)
{
    Chat__MainRequest *request = NULL;
    if (wire_unpack (&chat__main_request__descriptor, payload, len,
                     (ProtobufCMessage **) &request) != CHAT_OK) {
        zsys_info ("session %.8s: request refused: ERR_MALFORMED", session->id_hex);
        metrics_request (ctx->metrics, "undecodable", CHAT_ERR_MALFORMED);
        msoutbox_error (outbox, session, 0, CHAT_ERR_MALFORMED, "request could not be decoded");
        return;
    }
    Chat__MainReply reply = CHAT__MAIN_REPLY__INIT;
    reply.request_id = request->request_id;
    msreq_t req = { ctx, session, msarena_new (), &reply, NULL, 0, msoutbox_pending_new (),
                    session->username };

    bool needs_login = request->body_case != CHAT__MAIN_REQUEST__BODY_REGISTER
                    && request->body_case != CHAT__MAIN_REQUEST__BODY_LOGIN
                    && request->body_case != CHAT__MAIN_REQUEST__BODY_PING
                    && request->body_case != CHAT__MAIN_REQUEST__BODY__NOT_SET;
    //  A send needs no savepoint: held for the batch's pipeline
    //  (msmessage.h) it only reads here; stored here, it writes one row,
    //  which a failure takes back by itself (msgstore.h)
    bool is_send = request->body_case == CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE;
    int rc = CHAT_OK;
    if (needs_login && !session->username)
        rc = CHAT_ERR_NOT_LOGGED_IN;
    else
    if (is_send)
        rc = s_dispatch (&req, request);
    else
    if (msgstore_savepoint (ctx->store) != CHAT_OK)
        rc = CHAT_ERR_INTERNAL;
    else {
        rc = s_dispatch (&req, request);
        if (rc == CHAT_ERR_INTERNAL) {
            //  Take back what this request wrote, and its pushes; the
            //  member cache may hold what it wrote
            msgstore_savepoint_rollback (ctx->store);
            msonline_members_changed (ctx->online, NULL);
            req.text = "storage failed, nothing was stored";
        }
        else
        if (msgstore_savepoint_release (ctx->store) != CHAT_OK)
            rc = CHAT_ERR_INTERNAL;
    }
    if (rc == MSREQ_DEFERRED) {
        //  Answered, counted and logged when its batch is stored
        zlistx_destroy (&req.pushes);
        msarena_destroy (&req.arena);
        chat__main_request__free_unpacked (request, NULL);
        return;
    }
    metrics_request (ctx->metrics, s_request_name (request->body_case), rc);
    //  A quota turns a flood into a flood of refusals: those are counted
    //  in the metrics, not logged
    bool quiet = (rc == CHAT_ERR_RATE_LIMITED || rc == CHAT_ERR_QUOTA) && !ctx->verbose;
    if (rc != CHAT_OK && !quiet)
        zsys_info ("session %.8s%s%s: %s refused: %s%s%s", session->id_hex,
                   session->username? " user ": "",
                   session->username? session->username: "",
                   s_request_name (request->body_case), chat_errname (rc),
                   req.text? " - ": "", req.text? req.text: "");
    if (rc != CHAT_OK)
        msoutbox_error_retry (outbox, session, request->request_id, rc, req.text,
                              req.retry_ms);
    else {
        if (ctx->verbose)
            zsys_info ("session %.8s%s%s: %s", session->id_hex,
                       session->username? " user ": "",
                       session->username? session->username: "",
                       s_request_name (request->body_case));
        msoutbox_reply (outbox, session, request->request_id, &reply);
        //  The reply leaves before the pushes it caused.
        msoutbox_take (outbox, req.pushes);
    }
    zlistx_destroy (&req.pushes);
    msarena_destroy (&req.arena);
    chat__main_request__free_unpacked (request, NULL);
}
