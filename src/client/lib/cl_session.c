/*  cl_session - who the client is on both servers; see cl_session.h

    A register, login or password change in progress is a flow, found by
    its command id.
    Register: RegisterParams -> (worker: identity key, SaltedPassword,
    verifiers, sealed identity) -> Register -> main server RegisterUser.
    Login: LoginStart -> (worker: SCRAM client final) -> LoginFinish
    (server proof checked, identity opened) -> main server Login with the
    certificate. Password: RegisterParams (new salt) -> PasswordStart ->
    (worker: client final of the current password, SaltedPassword and
    verifiers of the new one) -> identity sealed again -> PasswordFinish
    (server proof checked). After a reconnect: ResumeRequest with the
    resume token for a fresh certificate (when needed), then the main
    server Login.
*/
#include <stdlib.h>
#include <string.h>
#include "cl_session.h"
#include "cl_worker.h"
#include "chaterror.h"
#include "credential.h"
#include "identity.h"
#include "scram.h"
#include "secret.h"
#include "wire.h"

typedef enum { FLOW_REGISTER, FLOW_LOGIN, FLOW_PASSWORD } flow_kind_t;

//  A register, login or password change in progress; also the worker's job.
typedef struct {
    flow_kind_t kind;
    uint32_t cmd;
    char *username;
    char *password;             //  until the worker derived from it (for a
                                //  password change: the current one)
    char *new_password;         //  a password change's new one, likewise
    scram_client_t *scram;      //  login, password change
    char *server_first;
    const char *client_final;   //  owned by scram
    uint8_t salt [64];          //  register: the salt; password: the new one
    size_t salt_len;
    uint32_t iterations;
    uint8_t salted [SCRAM_KEY_SIZE];    //  password: the new SaltedPassword,
                                        //  from the worker until sealed
    uint8_t stored_key [SCRAM_KEY_SIZE];
    uint8_t server_key [SCRAM_KEY_SIZE];
    rsakey_t *identity;         //  register: made by the worker
    char *sealed;               //  the sealed identity to send
    int rc;                     //  worker's result
    bool at_worker;             //  the worker owns it right now
    bool dead;                  //  ended while at the worker: free on return
} flow_t;

//  What each request of ours is, for the outcome.
typedef enum {
    S_REG_PARAMS = 1, S_REGISTER, S_MAIN_REGISTER,
    S_LOGIN_START, S_LOGIN_FINISH, S_MAIN_LOGIN,
    S_RESUME, S_MAIN_RELOGIN,
    S_PW_PARAMS, S_PW_START, S_PW_FINISH
} s_tag_t;

struct _cl_session_t {
    cl_requests_t *key;         //  borrowed
    cl_requests_t *main;        //  borrowed
    cl_worker_t *worker;
    cl_listener_t listener;
    zlist_t *flows;             //  flow_t, every live one
    bool logged_in;
    char *username;
    rsakey_t *identity;         //  the user's identity key pair
    uint8_t *certificate;
    size_t certificate_len;
    int64_t certificate_at;
    uint8_t *resume_token;
    size_t resume_len;
    bool resume_inflight;
    bool resume_failed;
    bool authing;               //  a main server login is in flight
    int relogin_failures;
};

static bool
    s_on_outcome (void *arg, cl_outcome_t *outcome);
static void
    s_reauth (cl_session_t *self);

//  ---------------------------------------------------------------- secrets

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

static void
s_password_free (char **password_p)
{
    if (*password_p) {
        secret_wipe (*password_p, strlen (*password_p));
        free (*password_p);
        *password_p = NULL;
    }
}

//  ---------------------------------------------------------------- flows

static void
s_flow_destroy (flow_t **flow_p)
{
    if (!flow_p || !*flow_p)
        return;
    flow_t *flow = *flow_p;
    free (flow->username);
    s_password_free (&flow->password);
    s_password_free (&flow->new_password);
    scram_client_destroy (&flow->scram);
    free (flow->server_first);
    secret_wipe (flow->salted, sizeof (flow->salted));
    secret_wipe (flow->stored_key, sizeof (flow->stored_key));
    secret_wipe (flow->server_key, sizeof (flow->server_key));
    rsakey_destroy (&flow->identity);
    s_password_free (&flow->sealed);
    free (flow);
    *flow_p = NULL;
}

static flow_t *
s_flow_new (cl_session_t *self, flow_kind_t kind, uint32_t cmd,
            const char *username, const char *password)
{
    flow_t *flow = calloc (1, sizeof (flow_t));
    assert (flow);
    flow->kind = kind;
    flow->cmd = cmd;
    flow->username = strdup (username);
    flow->password = strdup (password);
    zlist_append (self->flows, flow);
    return flow;
}

//  The first live flow of command cmd (0: any) and kind (-1: any), or NULL.
static flow_t *
s_flow_first (cl_session_t *self, uint32_t cmd, int kind)
{
    for (flow_t *flow = (flow_t *) zlist_first (self->flows); flow;
         flow = (flow_t *) zlist_next (self->flows))
        if (!flow->dead && (!cmd || flow->cmd == cmd) && (kind < 0 || (int) flow->kind == kind))
            return flow;
    return NULL;
}

//  The live flow of command cmd, or NULL.
static flow_t *
s_flow_find (cl_session_t *self, uint32_t cmd)
{
    return s_flow_first (self, cmd, -1);
}

//  A live flow of this kind, or NULL.
static flow_t *
s_flow_of_kind (cl_session_t *self, flow_kind_t kind)
{
    return s_flow_first (self, 0, (int) kind);
}

//  The flow is over: forget it (freed now, or when the worker returns it).
static void
s_flow_end (cl_session_t *self, flow_t *flow)
{
    if (flow->at_worker) {
        flow->dead = true;
        return;
    }
    zlist_remove (self->flows, flow);
    s_flow_destroy (&flow);
}

//  The flow failed: REGISTER_FAILED or LOGIN_FAILED, then end it.
static void
s_flow_fail (cl_session_t *self, flow_t *flow, int code, const char *text,
             uint32_t retry_ms)
{
    chatclient_event_type_t type = flow->kind == FLOW_REGISTER
                                 ? CHATCLIENT_EV_REGISTER_FAILED
                                 : flow->kind == FLOW_LOGIN
                                 ? CHATCLIENT_EV_LOGIN_FAILED : CHATCLIENT_EV_ERROR;
    chatclient_event_t *event = cl_event_failure (type, flow->cmd, code, text, retry_ms);
    if (flow->kind == FLOW_PASSWORD && code == CHAT_ERR_AUTH_FAILED) {
        //  the report's "Wrong username or password" would mislead here
        free (event->text);
        event->text = strdup (text? text: "The current password is wrong; nothing was changed");
    }
    s_flow_end (self, flow);
    cl_listener_publish (&self->listener, event);
}

//  The key server's reply body that answers a flow's request.
static int
s_flow_expects (s_tag_t tag)
{
    switch (tag) {
        case S_REG_PARAMS:      return CHAT__KEY_REPLY__BODY_REGISTER_PARAMS;
        case S_REGISTER:        return CHAT__KEY_REPLY__BODY_REGISTERED;
        case S_LOGIN_START:     return CHAT__KEY_REPLY__BODY_LOGIN_CHALLENGE;
        case S_LOGIN_FINISH:    return CHAT__KEY_REPLY__BODY_LOGGED_IN;
        case S_PW_PARAMS:       return CHAT__KEY_REPLY__BODY_REGISTER_PARAMS;
        case S_PW_START:        return CHAT__KEY_REPLY__BODY_LOGIN_CHALLENGE;
        case S_PW_FINISH:       return CHAT__KEY_REPLY__BODY_PASSWORD_CHANGED;
        default:                return 0;
    }
}

//  A key server request on the flow's behalf; the flow fails when it
//  cannot be queued.
static void
s_flow_submit (cl_session_t *self, flow_t *flow, s_tag_t tag,
               Chat__KeyRequest *req, bool retry_ok)
{
    cl_request_spec_t spec = {
        .tag = tag, .cmd = flow->cmd, .retry_ok = retry_ok, .fail_fast = true,
        //  a registration carries all it needs: on a new session it is the
        //  same request (a login's second step is not: its challenge was
        //  the old session's)
        .unseen_ok = tag == S_REGISTER,
        //  a password change belongs to the session it changes
        .session = flow->kind == FLOW_PASSWORD,
        .expects = s_flow_expects (tag), .done = s_on_outcome, .arg = self
    };
    if (cl_requests_submit (self->key, (ProtobufCMessage *) req, &spec) != 0)
        s_flow_fail (self, flow, CHAT_ERR_INTERNAL, NULL, 0);
}

//  Registration's slow part: the identity key, SaltedPassword, the
//  verifiers from it and the identity sealed under it. SaltedPassword is
//  wiped before the flow goes back.
static int
s_derive_register (flow_t *flow)
{
    uint8_t salted [SCRAM_KEY_SIZE];
    flow->identity = rsakey_generate (IDENTITY_KEY_BITS);
    int rc = CHAT_ERR_INTERNAL;
    if (flow->identity
    &&  scram_salted_password (flow->password, flow->salt, flow->salt_len,
                               flow->iterations, salted) == 0) {
        if (scram_verifier_from_salted (salted, flow->stored_key, flow->server_key) == 0)
            rc = identity_seal (flow->identity, flow->username, salted, wire_now (),
                                &flow->sealed);
        secret_wipe (salted, sizeof (salted));
    }
    return rc;
}

//  A password change's slow part: the proof of the current password, and
//  the new SaltedPassword and verifiers (sealing needs the session's
//  identity key, which stays on the caller's thread).
static int
s_derive_password (flow_t *flow)
{
    int rc = scram_client_final (flow->scram, flow->server_first, &flow->client_final);
    if (rc != CHAT_OK)
        return rc;
    if (scram_salted_password (flow->new_password, flow->salt, flow->salt_len,
                               flow->iterations, flow->salted) != 0
    ||  scram_verifier_from_salted (flow->salted, flow->stored_key, flow->server_key) != 0)
        return CHAT_ERR_INTERNAL;
    return CHAT_OK;
}

//  The worker's job: PBKDF2 and key generation, off the caller's thread.
static void
s_flow_derive (void *job)
{
    flow_t *flow = (flow_t *) job;
    if (flow->kind == FLOW_REGISTER)
        flow->rc = s_derive_register (flow);
    else
    if (flow->kind == FLOW_LOGIN)
        flow->rc = scram_client_final (flow->scram, flow->server_first,
                                       &flow->client_final);
    else
        flow->rc = s_derive_password (flow);
}

static void
s_flow_to_worker (cl_session_t *self, flow_t *flow)
{
    if (cl_worker_submit (self->worker, s_flow_derive, flow) == 0)
        flow->at_worker = true;
    else
        s_flow_fail (self, flow, CHAT_ERR_INTERNAL, NULL, 0);
}

//  The verifiers and the sealed identity are ready: send them.
static void
s_register_step (cl_session_t *self, flow_t *flow)
{
    Chat__RegisterRequest body = CHAT__REGISTER_REQUEST__INIT;
    body.username = flow->username;
    body.salt.data = flow->salt;
    body.salt.len = flow->salt_len;
    body.iterations = flow->iterations;
    body.stored_key.data = flow->stored_key;
    body.stored_key.len = SCRAM_KEY_SIZE;
    body.server_key.data = flow->server_key;
    body.server_key.len = SCRAM_KEY_SIZE;
    size_t der_len = 0;
    body.identity_public_key.data = (uint8_t *) rsakey_der (flow->identity, &der_len);
    body.identity_public_key.len = der_len;
    body.sealed_identity.data = (uint8_t *) flow->sealed;
    body.sealed_identity.len = strlen (flow->sealed);
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_REGISTER;
    req.register_ = &body;
    s_flow_submit (self, flow, S_REGISTER, &req, false);
    //  the key server has it now (or the flow failed): nothing kept here
    rsakey_destroy (&flow->identity);
}

//  The client proof is ready: send it.
static void
s_login_step (cl_session_t *self, flow_t *flow)
{
    Chat__LoginFinish body = CHAT__LOGIN_FINISH__INIT;
    body.client_final = (char *) flow->client_final;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_FINISH;
    req.login_finish = &body;
    s_flow_submit (self, flow, S_LOGIN_FINISH, &req, false);
}

//  The proof and the new verifiers are ready: seal the identity under the
//  new SaltedPassword (then wiped) and send it all at once.
static void
s_password_step (cl_session_t *self, flow_t *flow)
{
    if (!self->identity) {
        secret_wipe (flow->salted, sizeof (flow->salted));
        s_flow_fail (self, flow, CHAT_ERR_NOT_LOGGED_IN, NULL, 0);
        return;
    }
    int rc = identity_seal (self->identity, self->username, flow->salted, wire_now (),
                            &flow->sealed);
    secret_wipe (flow->salted, sizeof (flow->salted));
    if (rc != CHAT_OK) {
        s_flow_fail (self, flow, rc, "Could not seal the identity key", 0);
        return;
    }
    Chat__PasswordFinish body = CHAT__PASSWORD_FINISH__INIT;
    body.client_final = (char *) flow->client_final;
    body.salt.data = flow->salt;
    body.salt.len = flow->salt_len;
    body.iterations = flow->iterations;
    body.stored_key.data = flow->stored_key;
    body.stored_key.len = SCRAM_KEY_SIZE;
    body.server_key.data = flow->server_key;
    body.server_key.len = SCRAM_KEY_SIZE;
    body.sealed_identity.data = (uint8_t *) flow->sealed;
    body.sealed_identity.len = strlen (flow->sealed);
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_PASSWORD_FINISH;
    req.password_finish = &body;
    //  not repeated after a lost link: the exchange ends with any answer
    s_flow_submit (self, flow, S_PW_FINISH, &req, false);
}

//  The worker handed a flow back: its next step.
static void
s_worker_done (cl_session_t *self, flow_t *flow)
{
    flow->at_worker = false;
    if (flow->dead) {
        zlist_remove (self->flows, flow);
        s_flow_destroy (&flow);
        return;
    }
    //  the passwords are no longer needed by any flow
    s_password_free (&flow->password);
    s_password_free (&flow->new_password);
    if (flow->rc != CHAT_OK)
        s_flow_fail (self, flow, flow->rc,
                     flow->kind == FLOW_REGISTER
                     ? "Could not make the identity key or the password verifier"
                     : "The key server sent an unusable challenge", 0);
    else
    if (flow->kind == FLOW_REGISTER)
        s_register_step (self, flow);
    else
    if (flow->kind == FLOW_LOGIN)
        s_login_step (self, flow);
    else
        s_password_step (self, flow);
}

void
cl_session_register (cl_session_t *self, uint32_t cmd, const char *username,
                     const char *password)
{
    flow_t *flow = s_flow_new (self, FLOW_REGISTER, cmd, username, password);
    Chat__RegisterParamsRequest body = CHAT__REGISTER_PARAMS_REQUEST__INIT;
    body.username = (char *) username;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS;
    req.register_params = &body;
    s_flow_submit (self, flow, S_REG_PARAMS, &req, true);
}

void
cl_session_login (cl_session_t *self, uint32_t cmd, const char *username,
                  const char *password)
{
    flow_t *flow = s_flow_new (self, FLOW_LOGIN, cmd, username, password);
    flow->scram = scram_client_new (username, password, NULL);
    if (!flow->scram) {
        //  e.g. a name SCRAM cannot carry: same answer as a wrong password
        s_flow_fail (self, flow, CHAT_ERR_AUTH_FAILED, NULL, 0);
        return;
    }
    Chat__LoginStart body = CHAT__LOGIN_START__INIT;
    body.client_first = (char *) scram_client_first (flow->scram);
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_START;
    req.login_start = &body;
    s_flow_submit (self, flow, S_LOGIN_START, &req, true);
}

void
cl_session_change_password (cl_session_t *self, uint32_t cmd, const char *current,
                            const char *password)
{
    flow_t *flow = s_flow_new (self, FLOW_PASSWORD, cmd, self->username, current);
    flow->new_password = strdup (password);
    flow->scram = scram_client_new (self->username, current, NULL);
    if (!flow->scram) {
        s_flow_fail (self, flow, CHAT_ERR_AUTH_FAILED, NULL, 0);
        return;
    }
    //  a fresh salt and count for the new password first
    Chat__RegisterParamsRequest body = CHAT__REGISTER_PARAMS_REQUEST__INIT;
    body.username = self->username;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS;
    req.register_params = &body;
    s_flow_submit (self, flow, S_PW_PARAMS, &req, true);
}

bool
cl_session_login_busy (cl_session_t *self)
{
    return s_flow_of_kind (self, FLOW_LOGIN) != NULL;
}

bool
cl_session_password_busy (cl_session_t *self)
{
    return s_flow_of_kind (self, FLOW_PASSWORD) != NULL;
}

//  ---------------------------------------------------------------- the session

//  Forget the session: secrets wiped, the commands of requests that need
//  it failed with NOT_LOGGED_IN, then the layers above told.
static void
s_clear (cl_session_t *self)
{
    self->logged_in = false;
    free (self->username);
    self->username = NULL;
    //  OpenSSL cleanses the private key's numbers as it frees them
    rsakey_destroy (&self->identity);
    s_secret_free (&self->certificate, self->certificate_len);
    s_secret_free (&self->resume_token, self->resume_len);
    self->certificate_at = 0;
    self->resume_inflight = false;
    self->resume_failed = false;
    self->relogin_failures = 0;
    self->authing = false;
    //  a password change in progress dies with the session it would change
    flow_t *flow;
    while ((flow = s_flow_of_kind (self, FLOW_PASSWORD)))
        s_flow_fail (self, flow, CHAT_ERR_NOT_LOGGED_IN, NULL, 0);
    cl_requests_t *both [] = { self->key, self->main };
    for (int i = 0; i < 2; i++) {
        cl_requests_set_authed (both [i], false);
        cl_requests_set_renewable (both [i], false);
        uint32_t cmd;
        while (cl_requests_drop_session (both [i], &cmd))
            if (cmd)
                cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd,
                                  CHAT_ERR_NOT_LOGGED_IN, NULL, 0);
    }
    cl_listener_signal (&self->listener, CL_EV_SESSION_DOWN, CHATCLIENT_KEYSERVER);
}

//  The session ended by itself: clear it and say so (LOGGED_OUT, cmd 0).
static void
s_lost (cl_session_t *self, const char *why)
{
    if (!self->logged_in)
        return;
    s_clear (self);
    chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_LOGGED_OUT, 0);
    event->code = CHAT_ERR_NOT_LOGGED_IN;
    event->text = cl_format ("session ended: %s; log in again", why);
    cl_listener_publish (&self->listener, event);
}

//  Ask the key server to end our session there (no answer awaited).
static void
s_key_logout (cl_session_t *self)
{
    Chat__LogoutRequest body = CHAT__LOGOUT_REQUEST__INIT;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_LOGOUT;
    req.logout = &body;
    cl_request_spec_t spec = { 0 };
    cl_requests_submit (self->key, (ProtobufCMessage *) &req, &spec);
}

void
cl_session_logout (cl_session_t *self, uint32_t cmd)
{
    s_clear (self);
    s_key_logout (self);
    Chat__LogoutRequestMain body = CHAT__LOGOUT_REQUEST_MAIN__INIT;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_LOGOUT;
    req.logout = &body;
    cl_request_spec_t spec = { 0 };
    cl_requests_submit (self->main, (ProtobufCMessage *) &req, &spec);
    cl_listener_publish (&self->listener, cl_event_new (CHATCLIENT_EV_LOGGED_OUT, cmd));
}

//  Log in on the main server with the certificate we hold: for command
//  cmd (a login), or silently again (relogin).
static void
s_main_login (cl_session_t *self, uint32_t cmd, bool relogin)
{
    Chat__LoginRequest body = CHAT__LOGIN_REQUEST__INIT;
    body.certificate.data = self->certificate;
    body.certificate.len = self->certificate_len;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_LOGIN;
    req.login = &body;
    cl_request_spec_t spec = {
        .tag = relogin ? S_MAIN_RELOGIN : S_MAIN_LOGIN, .cmd = cmd,
        .session = true, .fail_fast = !relogin, .expects = CHAT__MAIN_REPLY__BODY_LOGGED_IN,
        .done = s_on_outcome, .arg = self
    };
    //  (a fail_fast login may fail inside submit: in flight until then)
    self->authing = true;
    if (cl_requests_submit (self->main, (ProtobufCMessage *) &req, &spec) != 0)
        self->authing = false;
}

static void
s_resume (cl_session_t *self)
{
    Chat__ResumeRequest body = CHAT__RESUME_REQUEST__INIT;
    body.resume_token.data = self->resume_token;
    body.resume_token.len = self->resume_len;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_RESUME;
    req.resume = &body;
    cl_request_spec_t spec = {
        .tag = S_RESUME, .session = true,
        .expects = CHAT__KEY_REPLY__BODY_LOGGED_IN, .done = s_on_outcome, .arg = self
    };
    if (cl_requests_submit (self->key, (ProtobufCMessage *) &req, &spec) == 0)
        self->resume_inflight = true;
}

//  Log in again after a reconnect, without the password, where needed: a
//  fresh certificate from the key server (resume) when ours is stale or
//  the key server lost us, then the main server.
static void
s_reauth (cl_session_t *self)
{
    if (!self->logged_in)
        return;
    int64_t now = zclock_time ();
    bool cert_fresh = self->certificate
                   && now - self->certificate_at < CL_SESSION_CERT_FRESH_MS;
    bool key_open = cl_requests_open (self->key);
    bool main_needs = cl_requests_open (self->main) && !cl_requests_authed (self->main)
                   && !self->authing;
    bool key_needs = key_open && !cl_requests_authed (self->key);

    if ((key_needs || (main_needs && !cert_fresh))
    &&  key_open && !self->resume_inflight && !self->resume_failed && self->resume_token)
        s_resume (self);

    if (main_needs) {
        if (cert_fresh)
            s_main_login (self, 0, true);
        else
        if (self->resume_failed || !self->resume_token)
            s_lost (self, "the key server did not renew the session");
    }
}

//  ---------------------------------------------------------------- replies

static bool
s_on_register_params (cl_session_t *self, flow_t *flow, Chat__RegisterParams *params)
{
    if (params->salt.len == 0
    ||  params->salt.len > sizeof (flow->salt)
    ||  params->iterations < SCRAM_MIN_ITERATIONS
    ||  params->iterations > SCRAM_MAX_ITERATIONS) {
        s_flow_fail (self, flow, CHAT_ERR_MALFORMED,
                     "The key server sent unusable registration parameters", 0);
        return true;
    }
    memcpy (flow->salt, params->salt.data, params->salt.len);
    flow->salt_len = params->salt.len;
    flow->iterations = params->iterations;
    if (flow->kind == FLOW_REGISTER) {
        s_flow_to_worker (self, flow);
        return true;
    }
    //  a password change: now prove the current password
    Chat__LoginStart body = CHAT__LOGIN_START__INIT;
    body.client_first = (char *) scram_client_first (flow->scram);
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_PASSWORD_START;
    req.password_start = &body;
    s_flow_submit (self, flow, S_PW_START, &req, false);
    return true;
}

//  The key server's certificate registers the user with the main server.
static bool
s_on_registered (cl_session_t *self, flow_t *flow, Chat__Registered *registered)
{
    Chat__RegisterUserRequest body = CHAT__REGISTER_USER_REQUEST__INIT;
    body.certificate = registered->certificate;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_REGISTER;
    req.register_ = &body;
    cl_request_spec_t spec = {
        .tag = S_MAIN_REGISTER, .cmd = flow->cmd, .retry_ok = true, .fail_fast = true,
        .expects = CHAT__MAIN_REPLY__BODY_REGISTERED, .done = s_on_outcome, .arg = self
    };
    if (cl_requests_submit (self->main, (ProtobufCMessage *) &req, &spec) != 0)
        s_flow_fail (self, flow, CHAT_ERR_INTERNAL, NULL, 0);
    return true;
}

static void
s_on_main_registered (cl_session_t *self, flow_t *flow)
{
    chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_REGISTERED, flow->cmd);
    event->username = cl_strdup (flow->username);
    event->text = strdup ("Success!");
    s_flow_end (self, flow);
    cl_listener_publish (&self->listener, event);
}

static bool
s_on_challenge (cl_session_t *self, flow_t *flow, Chat__LoginChallenge *challenge)
{
    if (!challenge->server_first || strlen (challenge->server_first) > SCRAM_MAX_MESSAGE)
        return false;
    free (flow->server_first);
    flow->server_first = strdup (challenge->server_first);
    s_flow_to_worker (self, flow);
    return true;
}

//  Open the sealed identity a login brought, with the SaltedPassword the
//  verified SCRAM exchange left (then wiped with the exchange), and check
//  it is the key the key server announces. CHAT_OK and flow->identity, or
//  the flow failed.
static int
s_open_identity (cl_session_t *self, flow_t *flow, Chat__LoggedIn *logged)
{
    const uint8_t *salted = scram_client_salted_password (flow->scram);
    int rc = CHAT_ERR_MALFORMED;
    if (salted && logged->sealed_identity.len > 0
    &&  logged->sealed_identity.len <= IDENTITY_SEALED_MAX)
        rc = identity_open ((const char *) logged->sealed_identity.data,
                            logged->sealed_identity.len, flow->username,
                            logged->identity_public_key.data,
                            logged->identity_public_key.len, salted, &flow->identity);
    //  SaltedPassword opens the identity: gone as soon as it has
    scram_client_destroy (&flow->scram);
    if (rc == CHAT_OK)
        return CHAT_OK;
    const char *why =
        rc == CHAT_ERR_BAD_KEY
        ? "The key server announces another identity key for you than the one your "
          "password opens: someone may have tampered with it; refusing to log in"
        : rc == CHAT_ERR_BAD_MAC
        ? "Your sealed identity does not open with your password: the key server's copy "
          "is not the one your client made; refusing to log in"
        : "The key server sent no usable sealed identity; refusing to log in";
    s_flow_fail (self, flow, rc == CHAT_ERR_BAD_KEY? CHAT_ERR_BAD_KEY: CHAT_ERR_MALFORMED,
                 why, 0);
    s_key_logout (self);
    return rc;
}

//  A resume answer must name the identity key we hold: a key server that
//  now names another one is not to be believed about anything else.
static bool
s_same_identity (cl_session_t *self, Chat__LoggedIn *logged)
{
    if (!self->identity || logged->identity_public_key.len == 0)
        return true;            //  nothing to compare (not logged in yet)
    size_t der_len = 0;
    const uint8_t *der = rsakey_der (self->identity, &der_len);
    return der_len == logged->identity_public_key.len
        && memcmp (der, logged->identity_public_key.data, der_len) == 0;
}

//  The key server logged us in: with the password (flow) or by resume.
static void
s_on_key_logged_in (cl_session_t *self, flow_t *flow, Chat__LoggedIn *logged)
{
    if (flow && (!logged->server_final
              || scram_client_verify (flow->scram, logged->server_final) != CHAT_OK)) {
        //  the server does not hold our verifier: an impostor
        s_flow_fail (self, flow, CHAT_ERR_AUTH_FAILED,
                     "The key server could not prove it knows your password; refusing it", 0);
        s_key_logout (self);
        return;
    }
    if (flow && s_open_identity (self, flow, logged) != CHAT_OK)
        return;
    if (!flow && !s_same_identity (self, logged)) {
        s_lost (self, "the key server now names another identity key for you");
        return;
    }
    if (logged->certificate.len == 0 || logged->certificate.len > CREDENTIAL_MAX_TOKEN) {
        if (flow)
            s_flow_fail (self, flow, CHAT_ERR_MALFORMED, "no certificate from the key server", 0);
        return;
    }
    s_secret_set (&self->certificate, &self->certificate_len,
                  logged->certificate.data, logged->certificate.len);
    self->certificate_at = zclock_time ();
    if (logged->resume_token.len > 0 && logged->resume_token.len <= CREDENTIAL_MAX_TOKEN)
        s_secret_set (&self->resume_token, &self->resume_len,
                      logged->resume_token.data, logged->resume_token.len);
    cl_requests_set_authed (self->key, true);
    if (flow) {
        free (self->username);
        self->username = strdup (logged->username && *logged->username
                                 ? logged->username : flow->username);
        s_main_login (self, flow->cmd, false);
    }
    else
        s_reauth (self);
}

//  The main server logged us in: the session is up (command cmd, whose
//  flow ends now), or back (relogin).
static void
s_on_main_logged_in (cl_session_t *self, uint32_t cmd, bool relogin,
                     Chat__LoginReply *reply)
{
    self->authing = false;
    self->relogin_failures = 0;
    cl_requests_set_authed (self->main, true);
    if (!relogin) {
        self->logged_in = true;
        cl_requests_set_renewable (self->key, true);
        cl_requests_set_renewable (self->main, true);
        if (reply->username && *reply->username) {
            free (self->username);
            self->username = strdup (reply->username);
        }
        flow_t *flow = s_flow_find (self, cmd);
        if (flow) {
            //  the identity the login opened is the session's now
            rsakey_destroy (&self->identity);
            self->identity = flow->identity;
            flow->identity = NULL;
            s_flow_end (self, flow);
        }
        chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_LOGGED_IN, cmd);
        event->username = cl_strdup (self->username);
        if (self->identity)
            event->fingerprint = strdup (rsakey_fingerprint_text (self->identity));
        cl_listener_publish (&self->listener, event);
        cl_listener_signal (&self->listener, CL_EV_SESSION_UP, CHATCLIENT_MAINSERVER);
    }
    else {
        chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_LOGGED_IN, 0);
        event->username = cl_strdup (self->username);
        event->text = strdup ("logged in again after a reconnect");
        cl_listener_publish (&self->listener, event);
        //  whatever happened while we were away
        cl_listener_signal (&self->listener, CL_EV_SESSION_RENEWED, CHATCLIENT_MAINSERVER);
    }
}

//  The key server stored the new password: its proof of the current one
//  is checked like a login's.
static void
s_on_password_changed (cl_session_t *self, flow_t *flow, Chat__PasswordChanged *changed)
{
    if (!changed->server_final
    ||  scram_client_verify (flow->scram, changed->server_final) != CHAT_OK) {
        s_flow_fail (self, flow, CHAT_ERR_AUTH_FAILED,
                     "The key server answered the password change without proving it "
                     "knew your current password: the change may or may not have been "
                     "made; log in again to find out", 0);
        return;
    }
    chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_PASSWORD_CHANGED, flow->cmd);
    event->username = cl_strdup (self->username);
    event->text = strdup ("Password changed");
    s_flow_end (self, flow);
    cl_listener_publish (&self->listener, event);
}

//  A reply that fits the request: false when it does not after all. A
//  flow's step whose flow has ended finds nobody waiting.
static bool
s_on_reply (cl_session_t *self, flow_t *flow, cl_outcome_t *outcome)
{
    Chat__KeyReply *key = (Chat__KeyReply *) outcome->reply;
    Chat__MainReply *main = (Chat__MainReply *) outcome->reply;
    switch ((s_tag_t) outcome->tag) {
        case S_REG_PARAMS:
            return !flow || s_on_register_params (self, flow, key->register_params);
        case S_REGISTER:
            return !flow || s_on_registered (self, flow, key->registered);
        case S_MAIN_REGISTER:
            if (flow)
                s_on_main_registered (self, flow);
            return true;
        case S_LOGIN_START:
            return !flow || s_on_challenge (self, flow, key->login_challenge);
        case S_LOGIN_FINISH:
            if (flow)
                s_on_key_logged_in (self, flow, key->logged_in);
            return true;
        case S_RESUME:
            self->resume_inflight = false;
            s_on_key_logged_in (self, NULL, key->logged_in);
            return true;
        case S_MAIN_LOGIN:
        case S_MAIN_RELOGIN:
            s_on_main_logged_in (self, outcome->cmd, outcome->tag == S_MAIN_RELOGIN,
                                 main->logged_in);
            return true;
        case S_PW_PARAMS:
            return !flow || s_on_register_params (self, flow, key->register_params);
        case S_PW_START:
            return !flow || s_on_challenge (self, flow, key->login_challenge);
        case S_PW_FINISH:
            if (flow)
                s_on_password_changed (self, flow, key->password_changed);
            return true;
    }
    return true;
}

static void
s_on_failure (cl_session_t *self, flow_t *flow, cl_outcome_t *outcome)
{
    int code = outcome->code;
    switch ((s_tag_t) outcome->tag) {
        case S_REG_PARAMS:
        case S_REGISTER:
        case S_MAIN_REGISTER:
        case S_LOGIN_START:
        case S_LOGIN_FINISH:
            if (flow)
                s_flow_fail (self, flow, code, outcome->text, outcome->retry_ms);
            break;
        case S_PW_PARAMS:
        case S_PW_START:
        case S_PW_FINISH:
            //  a wrong current password is said in our words
            if (flow)
                s_flow_fail (self, flow, code,
                             code == CHAT_ERR_AUTH_FAILED? NULL: outcome->text,
                             outcome->retry_ms);
            break;
        case S_MAIN_LOGIN:
            self->authing = false;
            if (flow) {
                s_flow_fail (self, flow, code, outcome->text, outcome->retry_ms);
                //  no session left behind at the key server
                s_key_logout (self);
            }
            break;
        case S_MAIN_RELOGIN:
            self->authing = false;
            if (code == CHAT_ERR_BAD_CERTIFICATE) {
                //  the certificate aged out: a fresh one, once
                self->certificate_at = 0;
                if (++self->relogin_failures > 2)
                    s_lost (self, "the main server refused our certificate");
            }
            break;
        case S_RESUME:
            self->resume_inflight = false;
            if (code == CHAT_ERR_BAD_CERTIFICATE || code == CHAT_ERR_AUTH_FAILED) {
                self->resume_failed = true;
                s_lost (self, "the key server no longer accepts this session");
            }
            else
            if (code != CHATCLIENT_ERR_CONNECTION && code != CHATCLIENT_ERR_TIMEOUT) {
                //  a key server without resume: the main server can still
                //  take the certificate we hold while it is fresh
                self->resume_failed = true;
                s_reauth (self);
            }
            break;
    }
}

static bool
s_on_outcome (void *arg, cl_outcome_t *outcome)
{
    cl_session_t *self = (cl_session_t *) arg;
    flow_t *flow = outcome->cmd ? s_flow_find (self, outcome->cmd) : NULL;
    if (outcome->code != CHAT_OK) {
        s_on_failure (self, flow, outcome);
        return true;
    }
    return s_on_reply (self, flow, outcome);
}

//  ---------------------------------------------------------------- events

//  An event of either server's requests (the link's, or a lost login).
static void
s_on_requests (void *arg, cl_event_t *event)
{
    cl_session_t *self = (cl_session_t *) arg;
    cl_listener_emit (&self->listener, event);
    bool main = event->server == CHATCLIENT_MAINSERVER;
    switch (event->kind) {
        case CL_EV_LINK_OPEN:
            if (main)
                self->authing = false;
            s_reauth (self);
            break;
        case CL_EV_LINK_DOWN:
        case CL_EV_LINK_REFUSED:
            if (main)
                self->authing = false;
            else
                self->resume_inflight = false;
            break;
        case CL_EV_AUTH_LOST:
            s_reauth (self);
            break;
        default:
            break;
    }
}

//  ---------------------------------------------------------------- life

cl_session_t *
cl_session_new (cl_requests_t *key, cl_requests_t *main)
{
    assert (key && main);
    cl_session_t *self = calloc (1, sizeof (cl_session_t));
    assert (self);
    self->key = key;
    self->main = main;
    self->flows = zlist_new ();
    assert (self->flows);
    self->worker = cl_worker_new ();
    if (!self->worker) {
        cl_session_destroy (&self);
        return NULL;
    }
    cl_requests_set_listener (key, s_on_requests, self);
    cl_requests_set_listener (main, s_on_requests, self);
    return self;
}

void
cl_session_destroy (cl_session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cl_session_t *self = *self_p;
    //  the worker is joined first: then every flow is ours to free
    cl_worker_destroy (&self->worker);
    flow_t *flow;
    while ((flow = (flow_t *) zlist_pop (self->flows)))
        s_flow_destroy (&flow);
    zlist_destroy (&self->flows);
    free (self->username);
    rsakey_destroy (&self->identity);
    s_secret_free (&self->certificate, self->certificate_len);
    s_secret_free (&self->resume_token, self->resume_len);
    cl_requests_set_listener (self->key, NULL, NULL);
    cl_requests_set_listener (self->main, NULL, NULL);
    free (self);
    *self_p = NULL;
}

void
cl_session_set_listener (cl_session_t *self, cl_listener_fn *fn, void *arg)
{
    self->listener.fn = fn;
    self->listener.arg = arg;
}

size_t
cl_session_sockets (cl_session_t *self, zsock_t **socks, size_t max)
{
    if (max == 0)
        return 0;
    socks [0] = cl_worker_sock (self->worker);
    return 1;
}

bool
cl_session_handle (cl_session_t *self, void *which)
{
    if (!which || which != cl_worker_sock (self->worker))
        return false;
    flow_t *flow;
    while ((flow = (flow_t *) cl_worker_recv (self->worker)))
        s_worker_done (self, flow);
    return true;
}

void
cl_session_tick (cl_session_t *self)
{
    s_reauth (self);
}

bool
cl_session_logged_in (cl_session_t *self)
{
    return self->logged_in;
}

const char *
cl_session_username (cl_session_t *self)
{
    return self->logged_in ? self->username : NULL;
}

rsakey_t *
cl_session_identity (cl_session_t *self)
{
    return self->logged_in ? self->identity : NULL;
}
