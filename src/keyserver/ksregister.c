/*  ksregister - registration; see ksregister.h  */
#include <string.h>
#include "channel.h"
#include "chaterror.h"
#include "credential.h"
#include "keystore.h"
#include "ksregister.h"
#include "ksverifier.h"
#include "rsakey.h"
#include "secret.h"

void
ksregister_params (ksctx_t *ctx, const Chat__RegisterParamsRequest *req, ksreply_t *r)
{
    if (!credential_username_valid (req->username)) {
        ksreply_error (r, CHAT_ERR_INVALID_USERNAME, NULL);
        return;
    }
    //  Whether the name is taken is for the register request to say
    if (secret_random (r->salt, sizeof r->salt)) {
        ksreply_error (r, CHAT_ERR_INTERNAL, NULL);
        return;
    }
    r->register_params.salt.data = r->salt;
    r->register_params.salt.len = sizeof r->salt;
    r->register_params.iterations = ctx->iterations;
    r->reply.body_case = CHAT__KEY_REPLY__BODY_REGISTER_PARAMS;
    r->reply.register_params = &r->register_params;
}

//  The identity key a user may register: RSA 2048..4096 with the exponent
//  65537 (rsakey_from_der checks both). NULL otherwise.
static rsakey_t *
s_identity (ProtobufCBinaryData der)
{
    if (!der.data || der.len == 0 || der.len > KEYSTORE_IDENTITY_MAX)
        return NULL;
    return rsakey_from_der (der.data, der.len);
}

void
ksregister_user (ksctx_t *ctx, chansession_t *session, const Chat__RegisterRequest *req,
                 ksreply_t *r)
{
    if (!credential_username_valid (req->username)) {
        ksreply_error (r, CHAT_ERR_INVALID_USERNAME, NULL);
        return;
    }
    keystore_user_t user;
    memset (&user, 0, sizeof user);
    const char *why = NULL;
    if (ksverifier_take (req->salt, req->iterations, req->stored_key, req->server_key,
                         req->sealed_identity, &user, &why) != CHAT_OK) {
        ksreply_error (r, CHAT_ERR_BAD_REQUEST, why);
        return;
    }
    rsakey_t *identity = s_identity (req->identity_public_key);
    if (!identity) {
        secret_wipe (&user, sizeof user);
        ksreply_error (r, CHAT_ERR_BAD_KEY,
                       "identity key must be RSA 2048 to 4096 bits with exponent 65537");
        return;
    }
    //  Certificate first, so that a stored user always got its reply
    uint8_t *certificate = NULL;
    size_t certificate_len = 0;
    int rc = credential_cert_issue (ctx->server_key, CREDENTIAL_REGISTERED, req->username,
                                    channel_peer_fingerprint (session->channel), identity,
                                    wire_now (), &certificate, &certificate_len);
    if (rc == CHAT_OK) {
        ksreply_keep (r, certificate);
        snprintf (user.username, sizeof user.username, "%s", req->username);
        //  The DER as received: what certificates and the directory hand out
        memcpy (user.identity, req->identity_public_key.data, req->identity_public_key.len);
        user.identity_len = req->identity_public_key.len;
        user.created_at = wire_now_ms ();
        rc = keystore_user_insert (ctx->store, &user, req->sealed_identity.data,
                                   req->sealed_identity.len);
    }
    else
        rc = CHAT_ERR_INTERNAL;
    secret_wipe (&user, sizeof user);
    if (rc != CHAT_OK) {
        if (rc == CHAT_ERR_USERNAME_TAKEN)
            zsys_info ("keyserver: registration refused, %s is taken", req->username);
        rsakey_destroy (&identity);
        ksreply_error (r, rc, NULL);
        return;
    }
    zsys_info ("keyserver: registered %s (%u iterations, identity %s, session %.8s)",
               req->username, req->iterations, rsakey_fingerprint_text (identity),
               session->id_hex);
    rsakey_destroy (&identity);
    r->registered.certificate.data = certificate;
    r->registered.certificate.len = certificate_len;
    r->reply.body_case = CHAT__KEY_REPLY__BODY_REGISTERED;
    r->reply.registered = &r->registered;
}
