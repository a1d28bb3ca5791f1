/*  kslogin - SCRAM exchanges, login and password change; see kslogin.h

    A login and a password change run the same exchange: the client-first
    names a user, the server answers with the user's salt and count (a fake
    pair, stable per name, for one that does not exist, so that the two
    cannot be told apart), the client-final carries the proof. Only its end
    differs.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include "channel.h"
#include "chaterror.h"
#include "credential.h"
#include "keystore.h"
#include "kslogin.h"
#include "kssession.h"
#include "ksverifier.h"
#include "resume.h"
#include "rsakey.h"
#include "scram.h"
#include "secret.h"

//  The salt an unknown user gets: stable per (lower-case) name, so asking
//  twice shows nothing, and unpredictable without the server's own secret.
static int
s_fake_salt (ksctx_t *ctx, const char *username, uint8_t *salt, size_t salt_len)
{
    size_t len = strlen (username);
    char *lower = (char *) malloc (len + 1);
    if (!lower)
        return -1;
    credential_username_fold (username, lower, len + 1);
    uint8_t mac [EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    int rc = -1;
    if (EVP_Q_mac (NULL, "HMAC", NULL, "SHA256", NULL,
                   ctx->fake_salt_key, sizeof ctx->fake_salt_key,
                   (const uint8_t *) lower, len, mac, sizeof mac, &mac_len)
    &&  mac_len >= salt_len) {
        memcpy (salt, mac, salt_len);
        rc = 0;
    }
    secret_wipe (mac, sizeof mac);
    free (lower);
    return rc;
}

//  Fill r with LoggedIn for user on this session: a LOGGED_IN certificate
//  naming the identity key, a resume token, the identity key, and the
//  sealed identity when with_sealed (a password login; never on resume).
//  CHAT_ERR_QUOTA when the user has all the sessions it may have.
static int
s_logged_in (ksctx_t *ctx, chansession_t *session, const keystore_user_t *user,
             bool with_sealed, ksreply_t *r)
{
    rsakey_t *identity = rsakey_from_der (user->identity, user->identity_len);
    if (!identity)
        return CHAT_ERR_INTERNAL;
    const uint8_t *fingerprint = channel_peer_fingerprint (session->channel);
    int64_t now = wire_now ();
    uint8_t *certificate = NULL, *token = NULL;
    size_t certificate_len = 0, token_len = 0;
    int rc = credential_cert_issue (ctx->server_key, CREDENTIAL_LOGGED_IN, user->username,
                                    fingerprint, identity, now,
                                    &certificate, &certificate_len);
    rsakey_destroy (&identity);
    if (rc != CHAT_OK)
        return CHAT_ERR_INTERNAL;
    ksreply_keep (r, certificate);
    if (resume_issue (ctx->resume_key, user->username, fingerprint, now,
                      &token, &token_len) != CHAT_OK)
        return CHAT_ERR_INTERNAL;
    ksreply_keep (r, token);
    Chat__LoggedIn *logged_in = &r->logged_in;
    if (with_sealed) {
        uint8_t *sealed = NULL;
        size_t sealed_len = 0;
        if (keystore_user_sealed (ctx->store, user->username, &sealed, &sealed_len) != CHAT_OK)
            return CHAT_ERR_INTERNAL;
        logged_in->sealed_identity.data = (uint8_t *) ksreply_keep (r, sealed);
        logged_in->sealed_identity.len = sealed_len;
    }
    logged_in->identity_public_key.data = (uint8_t *) ksreply_alloc (r, user->identity_len);
    memcpy (logged_in->identity_public_key.data, user->identity, user->identity_len);
    logged_in->identity_public_key.len = user->identity_len;
    rc = kssession_set_username (ctx->chanserver, session, user->username);
    if (rc != CHAT_OK) {
        metrics_quota_refusal (ctx->metrics, "sessions_per_user");
        zsys_info ("keyserver: %s has %lld sessions already; login refused (session %.8s)",
                   user->username, (long long) ctx->limits.sessions_per_user,
                   session->id_hex);
        return rc;
    }
    logged_in->server_final = r->text? r->text: (char *) "";
    logged_in->certificate.data = certificate;
    logged_in->certificate.len = certificate_len;
    logged_in->username = session->username;
    logged_in->resume_token.data = token;
    logged_in->resume_token.len = token_len;
    r->reply.body_case = CHAT__KEY_REPLY__BODY_LOGGED_IN;
    r->reply.logged_in = logged_in;
    return CHAT_OK;
}

//  ---------------------------------------------------------------- the exchange

//  Start an exchange on client_first; expect: the name it must carry (a
//  password change: the session's user), or NULL (a login).
static void
s_exchange_start (ksctx_t *ctx, chansession_t *session, const char *client_first,
                  const char *expect, ksreply_t *r)
{
    kssession_t *state = kssession_state (session);
    const char *username = NULL;
    state->scram = scram_server_new ();
    assert (state->scram);
    if (!client_first
    ||  scram_server_first (state->scram, client_first, &username) != CHAT_OK) {
        kssession_clear_exchange (state);
        ksreply_error (r, CHAT_ERR_MALFORMED, "bad SCRAM client-first message");
        return;
    }
    if (expect && strcasecmp (username, expect) != 0) {
        kssession_clear_exchange (state);
        ksreply_error (r, CHAT_ERR_BAD_REQUEST,
                       "a password change names the logged-in user");
        return;
    }
    //  A name that cannot exist goes the unknown user's way, so the client
    //  shows the one "Wrong username or password"; it is never tracked by
    //  name nor logged (it may hold anything).
    bool valid = credential_username_valid (username);
    int64_t wait = ratelimit_check (ctx->ratelimit, session->address,
                                    valid? username: NULL, wire_now_ms ());
    if (wait > 0) {
        zsys_info ("keyserver: %s for %s from %s refused for %lld ms (back-off, "
                   "session %.8s)", expect? "password change": "login",
                   valid? username: "(invalid name)", session->address,
                   (long long) wait, session->id_hex);
        kssession_clear_exchange (state);
        ksreply_rate_limited (r, wait);
        return;
    }
    keystore_user_t user;
    int rc = valid? keystore_user_lookup (ctx->store, username, &user)
                  : CHAT_ERR_NOT_FOUND;
    if (rc == CHAT_ERR_NOT_FOUND) {
        //  Same steps, same shapes: a salt stable for the name, the
        //  current count, and verifiers no proof can match
        memset (&user, 0, sizeof user);
        if (valid)
            snprintf (user.username, sizeof user.username, "%s", username);
        user.salt_len = KSREPLY_SALT_SIZE;
        user.iterations = ctx->iterations;
        if (s_fake_salt (ctx, username, user.salt, user.salt_len)
        ||  secret_random (user.stored_key, sizeof user.stored_key)
        ||  secret_random (user.server_key, sizeof user.server_key))
            rc = CHAT_ERR_INTERNAL;
        else
            state->exchange_known = false;
    }
    else
    if (rc == CHAT_OK)
        state->exchange_known = true;

    const char *server_first = NULL;
    if (rc != CHAT_ERR_INTERNAL)
        //  MALFORMED here: a client nonce too long to answer
        rc = scram_server_challenge (state->scram, user.salt, user.salt_len,
                                     user.iterations, user.stored_key,
                                     user.server_key, NULL, &server_first);
    if (rc != CHAT_OK) {
        secret_wipe (&user, sizeof user);
        kssession_clear_exchange (state);
        ksreply_error (r, rc == CHAT_ERR_MALFORMED? rc: CHAT_ERR_INTERNAL, NULL);
        return;
    }
    //  The canonical spelling for a real user, the name as asked for an
    //  unknown one, "" for an impossible one
    snprintf (state->exchange_name, sizeof state->exchange_name, "%s", user.username);
    state->password_change = expect != NULL;
    secret_wipe (&user, sizeof user);
    r->login_challenge.server_first = (char *) ksreply_set_text (r, server_first);
    r->reply.body_case = CHAT__KEY_REPLY__BODY_LOGIN_CHALLENGE;
    r->reply.login_challenge = &r->login_challenge;
}

//  Check the client-final of the exchange in hand. CHAT_OK when the proof
//  holds for a real user: r->text is then the server-final, name the user
//  and the exchange is over. Else r holds the error to answer.
static int
s_exchange_finish (ksctx_t *ctx, chansession_t *session, const char *client_final,
                   bool password_change, char name [USERNAME_MAX + 1], ksreply_t *r)
{
    kssession_t *state = kssession_state (session);
    if (!state->scram || state->password_change != password_change) {
        ksreply_error (r, CHAT_ERR_OUT_OF_ORDER, password_change
                       ? "password-finish without password-start"
                       : "login-finish without login-start");
        return CHAT_ERR_OUT_OF_ORDER;
    }
    snprintf (name, USERNAME_MAX + 1, "%s", state->exchange_name);
    const char *what = password_change? "password change": "login";
    int64_t now = wire_now_ms ();
    //  Checked again here: many sessions could start at once, before any
    //  of them failed, and would otherwise all get to guess
    int64_t wait = ratelimit_check (ctx->ratelimit, session->address, name, now);
    if (wait > 0) {
        kssession_clear_exchange (state);
        ksreply_rate_limited (r, wait);
        return CHAT_ERR_RATE_LIMITED;
    }
    const char *server_final = NULL;
    int rc = scram_server_final (state->scram, client_final? client_final: "",
                                 &server_final);
    const char *shown = name [0]? name: "(invalid name)";
    bool known = state->exchange_known;
    if (rc == CHAT_OK && known)
        ksreply_set_text (r, server_final);
    kssession_clear_exchange (state);
    if (rc == CHAT_OK && known) {
        //  The password was right, whatever else refuses what follows
        ratelimit_success (ctx->ratelimit, session->address, name);
        return CHAT_OK;
    }
    if (rc == CHAT_ERR_MALFORMED) {
        //  Not a guess at all (parsing comes before any check, for real and
        //  unknown users alike); the exchange must start again
        zsys_info ("keyserver: %s for %s abandoned: bad client-final (session %.8s)",
                   what, shown, session->id_hex);
        ksreply_error (r, CHAT_ERR_MALFORMED, "bad SCRAM client-final message");
        return CHAT_ERR_MALFORMED;
    }
    //  Wrong password, unknown user, wrong nonce: one answer for all
    ratelimit_failure (ctx->ratelimit, session->address, name [0]? name: NULL, now);
    zsys_info ("keyserver: %s failed for %s from %s (session %.8s)", what, shown,
               session->address, session->id_hex);
    ksreply_error (r, CHAT_ERR_AUTH_FAILED, NULL);
    return CHAT_ERR_AUTH_FAILED;
}

//  ---------------------------------------------------------------- login

void
kslogin_start (ksctx_t *ctx, chansession_t *session, const Chat__LoginStart *req,
               ksreply_t *r)
{
    //  A new login replaces whatever this session was logged in as
    if (session->username)
        zsys_info ("keyserver: %s logged out by a new login (session %.8s)",
                   session->username, session->id_hex);
    kssession_logout (ctx->chanserver, session);    //  its login timeout starts again
    s_exchange_start (ctx, session, req->client_first, NULL, r);
}

void
kslogin_finish (ksctx_t *ctx, chansession_t *session, const Chat__LoginFinish *req,
                ksreply_t *r)
{
    char name [USERNAME_MAX + 1];
    if (s_exchange_finish (ctx, session, req->client_final, false, name, r) != CHAT_OK)
        return;
    keystore_user_t user;
    int rc = keystore_user_lookup (ctx->store, name, &user);
    if (rc == CHAT_OK)
        rc = s_logged_in (ctx, session, &user, true, r);
    secret_wipe (&user, sizeof user);
    if (rc != CHAT_OK) {
        kssession_set_username (ctx->chanserver, session, NULL);
        ksreply_error (r, rc == CHAT_ERR_QUOTA? rc: CHAT_ERR_INTERNAL,
                       rc == CHAT_ERR_QUOTA? "too many sessions of this user": NULL);
        return;
    }
    zsys_info ("keyserver: login ok for %s (session %.8s, client %s)", name,
               session->id_hex, channel_peer_fingerprint_text (session->channel));
}

void
kslogin_resume (ksctx_t *ctx, chansession_t *session, const Chat__ResumeRequest *req,
                ksreply_t *r)
{
    kssession_logout (ctx->chanserver, session);
    char *username = NULL;
    if (resume_check (ctx->resume_key, req->resume_token.data, req->resume_token.len,
                      channel_peer_fingerprint (session->channel),
                      wire_now (), &username) != CHAT_OK) {
        zsys_info ("keyserver: resume refused (session %.8s)", session->id_hex);
        ksreply_error (r, CHAT_ERR_BAD_CERTIFICATE, NULL);
        return;
    }
    //  The user must still exist; the stored spelling is the one given out
    keystore_user_t user;
    int rc = keystore_user_lookup (ctx->store, username, &user);
    free (username);
    if (rc == CHAT_OK)
        rc = s_logged_in (ctx, session, &user, false, r);
    else
    if (rc == CHAT_ERR_NOT_FOUND)
        rc = CHAT_ERR_BAD_CERTIFICATE;
    if (rc != CHAT_OK) {
        kssession_set_username (ctx->chanserver, session, NULL);
        ksreply_error (r, rc == CHAT_ERR_BAD_CERTIFICATE || rc == CHAT_ERR_QUOTA? rc
                                                                : CHAT_ERR_INTERNAL,
                       rc == CHAT_ERR_QUOTA? "too many sessions of this user": NULL);
    }
    else
        zsys_info ("keyserver: login resumed for %s (session %.8s)", user.username,
                   session->id_hex);
    secret_wipe (&user, sizeof user);
}

void
kslogin_logout (ksctx_t *ctx, chansession_t *session, ksreply_t *r)
{
    if (session->username)
        zsys_info ("keyserver: %s logged out (session %.8s)",
                   session->username, session->id_hex);
    kssession_logout (ctx->chanserver, session);
    r->reply.body_case = CHAT__KEY_REPLY__BODY_LOGGED_OUT;
    r->reply.logged_out = &r->logged_out;
}

//  ---------------------------------------------------------------- password change

void
kslogin_password_start (ksctx_t *ctx, chansession_t *session,
                        const Chat__LoginStart *req, ksreply_t *r)
{
    if (!session->username) {
        ksreply_error (r, CHAT_ERR_NOT_LOGGED_IN, NULL);
        return;
    }
    kssession_clear_exchange (kssession_state (session));
    s_exchange_start (ctx, session, req->client_first, session->username, r);
}

void
kslogin_password_finish (ksctx_t *ctx, chansession_t *session,
                         const Chat__PasswordFinish *req, ksreply_t *r)
{
    kssession_t *state = kssession_state (session);
    if (!session->username || !state->scram || !state->password_change) {
        ksreply_error (r, CHAT_ERR_OUT_OF_ORDER, "password-finish without password-start");
        return;
    }
    //  The new material first: a mistake in it costs no guess, and the
    //  exchange starts again
    keystore_user_t user;
    memset (&user, 0, sizeof user);
    const char *why = NULL;
    if (ksverifier_take (req->salt, req->iterations, req->stored_key, req->server_key,
                         req->sealed_identity, &user, &why) != CHAT_OK) {
        kssession_clear_exchange (state);
        ksreply_error (r, CHAT_ERR_BAD_REQUEST, why);
        return;
    }
    char name [USERNAME_MAX + 1];
    if (s_exchange_finish (ctx, session, req->client_final, true, name, r) != CHAT_OK) {
        secret_wipe (&user, sizeof user);
        return;
    }
    //  Salt, count, verifiers and sealed identity in one statement, inside
    //  this request's savepoint: all of it is stored, or nothing
    snprintf (user.username, sizeof user.username, "%s", name);
    int rc = strcasecmp (name, session->username) == 0
           ? keystore_user_update_password (ctx->store, &user, req->sealed_identity.data,
                                            req->sealed_identity.len)
           : CHAT_ERR_INTERNAL;
    secret_wipe (&user, sizeof user);
    if (rc != CHAT_OK) {
        ksreply_error (r, rc == CHAT_ERR_BAD_REQUEST? rc: CHAT_ERR_INTERNAL, NULL);
        return;
    }
    zsys_info ("keyserver: password changed for %s (session %.8s)", name, session->id_hex);
    r->password_changed.server_final = r->text;
    r->reply.body_case = CHAT__KEY_REPLY__BODY_PASSWORD_CHANGED;
    r->reply.password_changed = &r->password_changed;
}
