/*  cl_session - the client's logged-in session; see cl_session.h
*/
#include <stdlib.h>
#include <string.h>
#include "cl_client.h"
#include "chaterror.h"
#include "credential.h"
#include "secret.h"

static void
s_secret_free (uint8_t **data_p, size_t len)
{
    if (*data_p) {
        secret_wipe (*data_p, len);
        free (*data_p);
        *data_p = NULL;
    }
}

//  The secret buffer becomes a copy of data; the old one is wiped.
static void
s_secret_set (uint8_t **data_p, size_t *len_p, const uint8_t *data, size_t len)
{
    s_secret_free (data_p, *len_p);
    *data_p = malloc (len);
    assert (*data_p);
    memcpy (*data_p, data, len);
    *len_p = len;
}

//  Requests that need the session can no longer be answered without it.
static bool
s_needs_session (request_t *req, void *arg)
{
    (void) arg;
    return req->auth || req->kind == RQ_RESUME || req->kind == RQ_MAIN_LOGIN;
}

void
cl_session_clear (chatclient_t *self)
{
    self->logged_in = false;
    free (self->username);
    self->username = NULL;
    s_secret_free (&self->certificate, self->certificate_len);
    s_secret_free (&self->resume_token, self->resume_len);
    self->certificate_at = 0;
    self->resume_inflight = false;
    self->resume_failed = false;
    self->relogin_failures = 0;
    self->first_list_done = false;
    self->links [0].authed = self->links [1].authed = false;
    self->links [1].authing = false;
    request_t *req;
    while ((req = cl_request_take (self, s_needs_session, NULL))) {
        if (req->cmd)
            cl_event_error (self, CHATCLIENT_EV_ERROR, req->cmd,
                            CHAT_ERR_NOT_LOGGED_IN, NULL, 0);
        cl_request_free (&req);
    }
    for (size_t i = 0; i < self->conv_count; i++) {
        cl_conv_fail_commands (self, self->convs [i], CHAT_ERR_NOT_LOGGED_IN);
        cl_conv_destroy (&self->convs [i]);
    }
    self->conv_count = 0;
    char *user;
    while ((user = (char *) zlist_pop (self->users)))
        free (user);
}

void
cl_session_lost (chatclient_t *self, const char *why)
{
    if (!self->logged_in)
        return;
    cl_session_clear (self);
    chatclient_event_t *event = cl_event_add (self, CHATCLIENT_EV_LOGGED_OUT, 0);
    event->code = CHAT_ERR_NOT_LOGGED_IN;
    event->text = cl_format ("session ended: %s; log in again", why);
}

void
cl_session_key_logout (chatclient_t *self)
{
    Chat__LogoutRequest body = CHAT__LOGOUT_REQUEST__INIT;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_LOGOUT;
    req.logout = &body;
    cl_request_submit (self, CHATCLIENT_KEYSERVER, RQ_KEY_LOGOUT, 0,
                       (ProtobufCMessage *) &req, false, false);
}

void
cl_session_main_login (chatclient_t *self, uint32_t cmd, flow_t *flow, int purpose)
{
    Chat__LoginRequest body = CHAT__LOGIN_REQUEST__INIT;
    body.certificate.data = self->certificate;
    body.certificate.len = self->certificate_len;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_LOGIN;
    req.login = &body;
    request_t *r = cl_request_submit (self, CHATCLIENT_MAINSERVER, RQ_MAIN_LOGIN, cmd,
                                      (ProtobufCMessage *) &req, false, false);
    if (r) {
        r->flow = flow;
        r->purpose = purpose;
        self->links [CHATCLIENT_MAINSERVER].authing = true;
    }
}

static void
s_resume (chatclient_t *self)
{
    Chat__ResumeRequest body = CHAT__RESUME_REQUEST__INIT;
    body.resume_token.data = self->resume_token;
    body.resume_token.len = self->resume_len;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_RESUME;
    req.resume = &body;
    if (cl_request_submit (self, CHATCLIENT_KEYSERVER, RQ_RESUME, 0,
                           (ProtobufCMessage *) &req, false, false))
        self->resume_inflight = true;
}

//  Log in again after a reconnect, without the password.
void
cl_session_reauth (chatclient_t *self)
{
    if (!self->logged_in)
        return;
    link_t *key = &self->links [CHATCLIENT_KEYSERVER];
    link_t *main = &self->links [CHATCLIENT_MAINSERVER];
    int64_t now = zclock_time ();
    bool cert_fresh = self->certificate
                   && now - self->certificate_at < CERT_FRESH_MS;
    bool main_needs = main->state == LINK_OPEN && !main->authed && !main->authing;
    bool key_needs = key->state == LINK_OPEN && !key->authed;

    if ((key_needs || (main_needs && !cert_fresh))
    &&  key->state == LINK_OPEN && !self->resume_inflight && !self->resume_failed
    &&  self->resume_token)
        s_resume (self);

    if (main_needs) {
        if (cert_fresh)
            cl_session_main_login (self, 0, NULL, 1);
        else
        if (self->resume_failed || !self->resume_token)
            cl_session_lost (self, "the key server did not renew the session");
    }
}

void
cl_session_on_logged_in (chatclient_t *self, request_t *req, Chat__LoggedIn *logged)
{
    link_t *key = &self->links [CHATCLIENT_KEYSERVER];
    flow_t *flow = req->flow;
    if (req->kind == RQ_LOGIN_FINISH) {
        if (!flow)
            return;
        if (!logged->server_final
        ||  scram_client_verify (flow->scram, logged->server_final) != CHAT_OK) {
            //  the server does not hold our verifier: an impostor
            cl_flow_fail (self, flow, CHAT_ERR_AUTH_FAILED,
                          "The key server could not prove it knows your password; refusing it", 0);
            cl_session_key_logout (self);
            return;
        }
    }
    if (logged->certificate.len == 0 || logged->certificate.len > CREDENTIAL_MAX_TOKEN) {
        if (flow)
            cl_flow_fail (self, flow, CHAT_ERR_MALFORMED, "no certificate from the key server", 0);
        return;
    }
    s_secret_set (&self->certificate, &self->certificate_len,
                  logged->certificate.data, logged->certificate.len);
    self->certificate_at = zclock_time ();
    if (logged->resume_token.len > 0 && logged->resume_token.len <= CREDENTIAL_MAX_TOKEN)
        s_secret_set (&self->resume_token, &self->resume_len,
                      logged->resume_token.data, logged->resume_token.len);
    key->authed = true;
    if (req->kind == RQ_LOGIN_FINISH) {
        free (self->username);
        self->username = strdup (logged->username && *logged->username
                                 ? logged->username : flow->username);
        cl_session_main_login (self, flow->cmd, flow, 0);
    }
    else {
        self->resume_inflight = false;
        cl_session_reauth (self);
    }
}

void
cl_session_on_main_logged_in (chatclient_t *self, request_t *req, Chat__LoginReply *reply)
{
    link_t *main = &self->links [CHATCLIENT_MAINSERVER];
    main->authing = false;
    main->authed = true;
    self->relogin_failures = 0;
    if (req->purpose == 0) {
        flow_t *flow = req->flow;
        self->logged_in = true;
        if (reply->username && *reply->username) {
            free (self->username);
            self->username = strdup (reply->username);
        }
        chatclient_event_t *event = cl_event_add (self, CHATCLIENT_EV_LOGGED_IN, req->cmd);
        event->username = cl_strdup (self->username);
        if (flow)
            cl_flow_end (self, flow);
        cl_conv_list (self, 0, 1);
    }
    else {
        chatclient_event_t *event = cl_event_add (self, CHATCLIENT_EV_LOGGED_IN, 0);
        event->username = cl_strdup (self->username);
        event->text = strdup ("logged in again after a reconnect");
        //  whatever happened while we were away
        cl_conv_list (self, 0, 0);
    }
}
