/*  cl_flow - register and login in progress, and the worker thread; see
    cl_flow.h
*/
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include "cl_client.h"
#include "chaterror.h"
#include "secret.h"

void
cl_flow_destroy (flow_t **flow_p)
{
    if (!flow_p || !*flow_p)
        return;
    flow_t *flow = *flow_p;
    free (flow->username);
    if (flow->password) {
        secret_wipe (flow->password, strlen (flow->password));
        free (flow->password);
    }
    scram_client_destroy (&flow->scram);
    free (flow->server_first);
    secret_wipe (flow->stored_key, sizeof (flow->stored_key));
    secret_wipe (flow->server_key, sizeof (flow->server_key));
    free (flow);
    *flow_p = NULL;
}

void
cl_flow_end (chatclient_t *self, flow_t *flow)
{
    //  requests that still point at the flow forget it
    request_t *req = (request_t *) zlistx_first (self->requests);
    while (req) {
        if (req->flow == flow)
            req->flow = NULL;
        req = (request_t *) zlistx_next (self->requests);
    }
    if (flow->at_worker) {
        flow->dead = true;      //  freed when the worker hands it back
        return;
    }
    zlist_remove (self->flows, flow);
    cl_flow_destroy (&flow);
}

void
cl_flow_fail (chatclient_t *self, flow_t *flow, int code, const char *text,
              uint32_t retry_ms)
{
    cl_event_error (self, flow->kind == FLOW_REGISTER
                   ? CHATCLIENT_EV_REGISTER_FAILED : CHATCLIENT_EV_LOGIN_FAILED,
                   flow->cmd, code, text, retry_ms);
    cl_flow_end (self, flow);
}

flow_t *
cl_flow_new (chatclient_t *self, flow_kind_t kind, uint32_t cmd,
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

//  A key server request on the flow's behalf; the flow fails when it
//  cannot be queued.
static void
s_flow_submit (chatclient_t *self, flow_t *flow, rq_kind_t kind,
               Chat__KeyRequest *req, bool retry_ok)
{
    request_t *r = cl_request_submit (self, CHATCLIENT_KEYSERVER, kind, flow->cmd,
                                      (ProtobufCMessage *) req, false, retry_ok);
    if (r)
        r->flow = flow;
    else
        cl_flow_fail (self, flow, CHAT_ERR_INTERNAL, NULL, 0);
}

void
cl_flow_start (chatclient_t *self, flow_t *flow, Chat__KeyRequest *req)
{
    s_flow_submit (self, flow, flow->kind == FLOW_REGISTER ? RQ_REG_PARAMS : RQ_LOGIN_START,
                   req, true);
    cl_request_pump (self);
}

//  The worker: PBKDF2 off the caller's thread. Takes a flow pointer, does
//  its slow step, hands it back.
void
cl_flow_worker (zsock_t *pipe, void *args)
{
    (void) args;
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        char *command = zmsg_popstr (msg);
        bool term = command && streq (command, "$TERM");
        if (!term && command && streq (command, "JOB")) {
            zframe_t *frame = zmsg_pop (msg);
            flow_t *flow = NULL;
            if (frame && zframe_size (frame) == sizeof (flow))
                memcpy (&flow, zframe_data (frame), sizeof (flow));
            zframe_destroy (&frame);
            if (flow) {
                if (flow->kind == FLOW_REGISTER)
                    flow->rc = scram_make_verifier (flow->password, flow->salt,
                                                    flow->salt_len, flow->iterations,
                                                    flow->stored_key, flow->server_key)
                               == 0 ? CHAT_OK : CHAT_ERR_INTERNAL;
                else
                    flow->rc = scram_client_final (flow->scram, flow->server_first,
                                                   &flow->client_final);
                zsock_send (pipe, "p", flow);
            }
        }
        free (command);
        zmsg_destroy (&msg);
        if (term)
            break;
    }
    //  this thread's OpenSSL state, which would otherwise outlive it
    OPENSSL_thread_stop ();
}

void
cl_flow_to_worker (chatclient_t *self, flow_t *flow)
{
    flow->at_worker = true;
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "JOB");
    zmsg_addmem (msg, &flow, sizeof (flow));
    zmsg_send (&msg, self->worker);
}

static void
s_register_step (chatclient_t *self, flow_t *flow)
{
    //  verifiers are ready: send them
    Chat__RegisterRequest body = CHAT__REGISTER_REQUEST__INIT;
    body.username = flow->username;
    body.salt.data = flow->salt;
    body.salt.len = flow->salt_len;
    body.iterations = flow->iterations;
    body.stored_key.data = flow->stored_key;
    body.stored_key.len = SCRAM_KEY_SIZE;
    body.server_key.data = flow->server_key;
    body.server_key.len = SCRAM_KEY_SIZE;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_REGISTER;
    req.register_ = &body;
    s_flow_submit (self, flow, RQ_REGISTER, &req, false);
}

static void
s_login_step (chatclient_t *self, flow_t *flow)
{
    Chat__LoginFinish body = CHAT__LOGIN_FINISH__INIT;
    body.client_final = (char *) flow->client_final;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_FINISH;
    req.login_finish = &body;
    s_flow_submit (self, flow, RQ_LOGIN_FINISH, &req, false);
}

void
cl_flow_worker_done (chatclient_t *self)
{
    flow_t *flow = NULL;
    if (zsock_recv (self->worker, "p", &flow) != 0 || !flow)
        return;
    flow->at_worker = false;
    if (flow->dead) {
        zlist_remove (self->flows, flow);
        cl_flow_destroy (&flow);
        return;
    }
    //  the password is no longer needed by either flow
    if (flow->password) {
        secret_wipe (flow->password, strlen (flow->password));
        free (flow->password);
        flow->password = NULL;
    }
    if (flow->rc != CHAT_OK) {
        cl_flow_fail (self, flow, flow->rc,
                      flow->kind == FLOW_LOGIN
                      ? "The key server sent an unusable login challenge"
                      : "Could not derive the password verifier", 0);
        return;
    }
    if (flow->kind == FLOW_REGISTER)
        s_register_step (self, flow);
    else
        s_login_step (self, flow);
    cl_request_pump (self);
}

bool
cl_flow_login_busy (chatclient_t *self)
{
    flow_t *flow = (flow_t *) zlist_first (self->flows);
    while (flow) {
        if (flow->kind == FLOW_LOGIN && !flow->dead)
            return true;
        flow = (flow_t *) zlist_next (self->flows);
    }
    return false;
}
