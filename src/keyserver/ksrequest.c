/*  ksrequest - one key server request; see ksrequest.h  */
#include <string.h>
#include "chaterror.h"
#include "keystore.h"
#include "kskeys.h"
#include "kslogin.h"
#include "ksregister.h"
#include "ksreply.h"
#include "ksrequest.h"
#include "wire.h"

static const char *
s_request_name (Chat__KeyRequest__BodyCase body)
{
    switch (body) {
        case CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS: return "register-params";
        case CHAT__KEY_REQUEST__BODY_REGISTER: return "register";
        case CHAT__KEY_REQUEST__BODY_LOGIN_START: return "login-start";
        case CHAT__KEY_REQUEST__BODY_LOGIN_FINISH: return "login-finish";
        case CHAT__KEY_REQUEST__BODY_LOGOUT: return "logout";
        case CHAT__KEY_REQUEST__BODY_RESUME: return "resume";
        case CHAT__KEY_REQUEST__BODY_PASSWORD_START: return "password-start";
        case CHAT__KEY_REQUEST__BODY_PASSWORD_FINISH: return "password-finish";
        case CHAT__KEY_REQUEST__BODY_GET_IDENTITIES: return "get-identities";
        case CHAT__KEY_REQUEST__BODY_PUT_KEYS: return "put-keys";
        case CHAT__KEY_REQUEST__BODY_GET_KEYS: return "get-keys";
        default: return "unknown";
    }
}

static void
s_dispatch (ksctx_t *ctx, chansession_t *session, Chat__KeyRequest *req, ksreply_t *r)
{
    switch (req->body_case) {
        case CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS:
            ksregister_params (ctx, req->register_params, r);
            break;
        case CHAT__KEY_REQUEST__BODY_REGISTER:
            ksregister_user (ctx, session, req->register_, r);
            break;
        case CHAT__KEY_REQUEST__BODY_LOGIN_START:
            kslogin_start (ctx, session, req->login_start, r);
            break;
        case CHAT__KEY_REQUEST__BODY_LOGIN_FINISH:
            kslogin_finish (ctx, session, req->login_finish, r);
            break;
        case CHAT__KEY_REQUEST__BODY_LOGOUT:
            kslogin_logout (ctx, session, r);
            break;
        case CHAT__KEY_REQUEST__BODY_RESUME:
            kslogin_resume (ctx, session, req->resume, r);
            break;
        case CHAT__KEY_REQUEST__BODY_PASSWORD_START:
            kslogin_password_start (ctx, session, req->password_start, r);
            break;
        case CHAT__KEY_REQUEST__BODY_PASSWORD_FINISH:
            kslogin_password_finish (ctx, session, req->password_finish, r);
            break;
        case CHAT__KEY_REQUEST__BODY_GET_IDENTITIES:
            kskeys_get_identities (ctx, session, req->get_identities, r);
            break;
        case CHAT__KEY_REQUEST__BODY_PUT_KEYS:
            kskeys_put (ctx, session, req->put_keys, r);
            break;
        case CHAT__KEY_REQUEST__BODY_GET_KEYS:
            kskeys_get (ctx, session, req->get_keys, r);
            break;
        default:
            ksreply_error (r, CHAT_ERR_BAD_REQUEST, "unknown request");
            break;
    }
}

//  Dispatch a request that writes under its own savepoint: an internal
//  failure takes back what it wrote; a release that fails takes back all
//  of it, and then its reply must not say otherwise.
static void
s_dispatch_write (ksctx_t *ctx, chansession_t *session, Chat__KeyRequest *req,
                  ksreply_t *r)
{
    if (keystore_savepoint (ctx->store) != CHAT_OK) {
        ksreply_error (r, CHAT_ERR_INTERNAL, NULL);
        return;
    }
    s_dispatch (ctx, session, req, r);
    if (ksreply_is_error (r, CHAT_ERR_INTERNAL))
        keystore_savepoint_rollback (ctx->store);
    else
    if (keystore_release (ctx->store) != CHAT_OK) {
        ksreply_free (r);
        ksreply_init (r, req->request_id);
        ksreply_error (r, CHAT_ERR_INTERNAL, NULL);
    }
}

void
ksrequest_handle (ksctx_t *ctx, chansession_t *session,
                  const uint8_t *payload, size_t len, ksanswer_t *answer)
{
    memset (answer, 0, sizeof *answer);
    ksreply_t r;
    Chat__KeyRequest *req = NULL;
    int rc = wire_unpack (&chat__key_request__descriptor, payload, len,
                          (ProtobufCMessage **) &req);
    if (rc != CHAT_OK) {
        ksreply_init (&r, 0);
        ksreply_error (&r, rc, NULL);
        zsys_info ("keyserver: undecodable request (session %.8s)", session->id_hex);
        metrics_request (ctx->metrics, "undecodable", rc);
    }
    else {
        ksreply_init (&r, req->request_id);
        answer->request_id = req->request_id;
        const char *name = s_request_name (req->body_case);
        if (ctx->verbose)
            zsys_info ("keyserver: %s #%llu (session %.8s, user %s)", name,
                       (unsigned long long) req->request_id, session->id_hex,
                       session->username? session->username: "-");
        bool write = req->body_case == CHAT__KEY_REQUEST__BODY_REGISTER
                  || req->body_case == CHAT__KEY_REQUEST__BODY_PASSWORD_FINISH
                  || req->body_case == CHAT__KEY_REQUEST__BODY_PUT_KEYS;
        answer->login = req->body_case == CHAT__KEY_REQUEST__BODY_LOGIN_START
                     || req->body_case == CHAT__KEY_REQUEST__BODY_LOGIN_FINISH
                     || req->body_case == CHAT__KEY_REQUEST__BODY_RESUME;
        //  A client on its way to a login is given its login timeout again
        //  at each step (a person may take a while to type a password)
        if (!session->username
        &&  (req->body_case == CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS
          || req->body_case == CHAT__KEY_REQUEST__BODY_REGISTER
          || req->body_case == CHAT__KEY_REQUEST__BODY_LOGIN_START))
            chanserver_login_progress (ctx->chanserver, session);
        if (write)
            s_dispatch_write (ctx, session, req, &r);
        else
            s_dispatch (ctx, session, req, &r);
        metrics_request (ctx->metrics, name,
                         r.reply.body_case == CHAT__KEY_REPLY__BODY_ERROR
                         ? (int) r.error.code : CHAT_OK);
        if (ctx->verbose && r.reply.body_case == CHAT__KEY_REPLY__BODY_ERROR)
            zsys_info ("keyserver: %s #%llu -> %s", name,
                       (unsigned long long) req->request_id, chat_errname (r.error.code));
    }
    if (ksreply_pack (&r, &answer->payload, &answer->len) != CHAT_OK) {
        zsys_error ("keyserver: cannot pack a reply");
        answer->payload = NULL;
        answer->len = 0;
    }
    ksreply_free (&r);
    if (req)
        protobuf_c_message_free_unpacked (&req->base, NULL);
}
