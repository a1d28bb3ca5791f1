/*  msaccount - account requests; see msaccount.h  */
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "chaterror.h"
#include "credential.h"
#include "msaccount.h"
#include "rsakey.h"

//  Check a certificate of purpose for this session: CHAT_OK, the user it
//  names (malloc'd) and their identity key (the caller destroys it).
static int
s_check_cert (msreq_t *req, ProtobufCBinaryData cert, int purpose, char **username,
              rsakey_t **identity)
{
    //  Any key of the key server's file: its new one, and during a
    //  changeover its old one too
    int rc = CHAT_ERR_BAD_CERTIFICATE;
    peerkeys_t *keys = req->ctx->keyserver_keys;
    for (size_t i = 0; rc != CHAT_OK && i < peerkeys_count (keys); i++)
        rc = credential_cert_check (peerkeys_key (keys, i), cert.data, cert.len, purpose,
                                    channel_peer_fingerprint (req->session->channel),
                                    wire_now (), username, identity);
    if (rc != CHAT_OK) {
        req->text = purpose == CREDENTIAL_REGISTERED
                  ? "registration certificate refused"
                  : "login certificate refused";
        return CHAT_ERR_BAD_CERTIFICATE;
    }
    return CHAT_OK;
}

//  The identity DER recorded for user equals key's
static bool
s_same_identity (const msgstore_user_t *user, rsakey_t *key)
{
    size_t len = 0;
    const uint8_t *der = rsakey_der (key, &len);
    return user->identity_len == len && memcmp (user->identity, der, len) == 0;
}

int
msaccount_register (msreq_t *req, Chat__RegisterUserRequest *body)
{
    char *username = NULL;
    rsakey_t *identity = NULL;
    int rc = s_check_cert (req, body->certificate, CREDENTIAL_REGISTERED, &username,
                           &identity);
    if (rc != CHAT_OK)
        return rc;
    size_t len = 0;
    const uint8_t *der = rsakey_der (identity, &len);
    bool added = false;
    rc = msgstore_user_add (req->ctx->store, username, der, len, wire_now_ms (), &added);
    msgstore_user_t *user = rc == CHAT_OK && !added
                          ? (msgstore_user_t *) malloc (sizeof *user): NULL;
    if (user) {
        //  Registering again is fine, with the same identity only
        rc = msgstore_user_get (req->ctx->store, username, user);
        if (rc == CHAT_OK && !s_same_identity (user, identity)) {
            req->text = "this user is registered here with another identity key";
            rc = CHAT_ERR_BAD_CERTIFICATE;
        }
        free (user);
    }
    if (rc == CHAT_OK) {
        if (added)
            zsys_info ("register: user %s, identity %s (session %.8s)", username,
                       rsakey_fingerprint_text (identity), req->session->id_hex);
        static Chat__Ack ack = CHAT__ACK__INIT;
        req->reply->body_case = CHAT__MAIN_REPLY__BODY_REGISTERED;
        req->reply->registered = &ack;
    }
    rsakey_destroy (&identity);
    zstr_free (&username);
    return rc;
}

int
msaccount_login (msreq_t *req, Chat__LoginRequest *body)
{
    char *username = NULL;
    rsakey_t *identity = NULL;
    int rc = s_check_cert (req, body->certificate, CREDENTIAL_LOGGED_IN, &username,
                           &identity);
    if (rc != CHAT_OK)
        return rc;
    msgstore_user_t *user = (msgstore_user_t *) malloc (sizeof *user);
    rc = user? msgstore_user_get (req->ctx->store, username, user): CHAT_ERR_INTERNAL;
    zstr_free (&username);
    if (rc == CHAT_ERR_UNKNOWN_USER)
        req->text = "this user has not registered here";
    else
    if (rc == CHAT_OK && !s_same_identity (user, identity)) {
        req->text = "the certificate names another identity key than this user registered";
        rc = CHAT_ERR_BAD_CERTIFICATE;
    }
    rsakey_destroy (&identity);
    chansession_t *session = req->session;
    if (rc == CHAT_OK) {
        rc = msonline_login (req->ctx->online, req->ctx->chanserver, session, user->name);
        if (rc == CHAT_ERR_QUOTA) {
            metrics_quota_refusal (req->ctx->metrics, "sessions_per_user");
            char *text = (char *) msarena_alloc (req->arena, 96);
            snprintf (text, 96, "%s has %lld sessions already", user->name,
                      (long long) req->ctx->limits.sessions_per_user);
            req->text = text;
        }
    }
    if (rc == CHAT_OK) {
        zsys_info ("login: %s on session %.8s, client key %s", session->username,
                   session->id_hex, channel_peer_fingerprint_text (session->channel));
        Chat__LoginReply *logged_in = (Chat__LoginReply *)
            msarena_alloc (req->arena, sizeof *logged_in);
        chat__login_reply__init (logged_in);
        logged_in->username = msarena_strdup (req->arena, session->username);
        req->reply->body_case = CHAT__MAIN_REPLY__BODY_LOGGED_IN;
        req->reply->logged_in = logged_in;
    }
    free (user);
    return rc;
}

int
msaccount_logout (msreq_t *req)
{
    chansession_t *session = req->session;
    zsys_info ("logout: %s on session %.8s", session->username, session->id_hex);
    msonline_logout (req->ctx->online, req->ctx->chanserver, session);
    static Chat__Ack ack = CHAT__ACK__INIT;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_LOGGED_OUT;
    req->reply->logged_out = &ack;
    return CHAT_OK;
}

typedef struct {
    msarena_t *arena;
    Chat__UserList *list;
    size_t size;
} user_collect_t;

static int
s_collect_user (const msgstore_user_t *user, void *arg)
{
    user_collect_t *collect = (user_collect_t *) arg;
    Chat__UserList *list = collect->list;
    if (list->n_usernames == collect->size) {
        size_t size = collect->size? collect->size * 2: 64;
        char **names = (char **) realloc (list->usernames, sizeof (char *) * size);
        if (!names)
            return 1;
        list->usernames = names;
        collect->size = size;
    }
    list->usernames [list->n_usernames++] = msarena_strdup (collect->arena, user->name);
    return 0;
}

int
msaccount_users (msreq_t *req)
{
    Chat__UserList *list = (Chat__UserList *) msarena_alloc (req->arena, sizeof *list);
    chat__user_list__init (list);
    user_collect_t collect = { req->arena, list, 0 };
    int rc = msgstore_user_each (req->ctx->store, s_collect_user, &collect);
    if (list->usernames)
        msarena_keep (req->arena, list->usernames);
    if (rc != CHAT_OK)
        return rc;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_USERS;
    req->reply->users = list;
    return CHAT_OK;
}
