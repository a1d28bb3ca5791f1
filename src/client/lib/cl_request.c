/*  cl_request - the client's pending requests; see cl_request.h
*/
#include <stdlib.h>
#include <string.h>
#include "cl_client.h"
#include "chaterror.h"
#include "secret.h"

void
cl_sendjob_free (sendjob_t **job_p)
{
    if (job_p && *job_p) {
        sendjob_t *job = *job_p;
        if (job->text) {
            secret_wipe (job->text, job->len);
            free (job->text);
        }
        free (job);
        *job_p = NULL;
    }
}

void
cl_request_free (request_t **req_p)
{
    if (req_p && *req_p) {
        request_t *req = *req_p;
        if (req->payload) {
            secret_wipe (req->payload, req->len);
            free (req->payload);
        }
        cl_sendjob_free (&req->send);
        free (req);
        *req_p = NULL;
    }
}

request_t *
cl_request_submit (chatclient_t *self, chatclient_server_t role, rq_kind_t kind,
                   uint32_t cmd, ProtobufCMessage *msg, bool auth, bool retry_ok)
{
    request_t *req = calloc (1, sizeof (request_t));
    assert (req);
    req->id = ++self->next_request_id;
    if (role == CHATCLIENT_KEYSERVER)
        ((Chat__KeyRequest *) msg)->request_id = req->id;
    else
        ((Chat__MainRequest *) msg)->request_id = req->id;
    if (wire_pack (msg, &req->payload, &req->len) != CHAT_OK) {
        free (req);
        return NULL;
    }
    req->kind = kind;
    req->link = &self->links [role];
    req->cmd = cmd;
    req->auth = auth;
    req->retry_ok = retry_ok;
    req->expires = zclock_mono () + self->config.command_timeout_ms;
    zlistx_add_end (self->requests, req);
    return req;
}

request_t *
cl_request_find (chatclient_t *self, link_t *link, uint64_t id)
{
    request_t *req = (request_t *) zlistx_first (self->requests);
    while (req) {
        if (req->id == id && req->link == link && req->sent)
            return req;
        req = (request_t *) zlistx_next (self->requests);
    }
    return NULL;
}

//  The first request that match accepts, the list's cursor on it; or NULL.
static request_t *
s_first (chatclient_t *self, cl_request_match_fn *match, void *arg)
{
    request_t *req = (request_t *) zlistx_first (self->requests);
    while (req && !match (req, arg))
        req = (request_t *) zlistx_next (self->requests);
    return req;
}

request_t *
cl_request_take (chatclient_t *self, cl_request_match_fn *match, void *arg)
{
    request_t *req = s_first (self, match, arg);
    if (req)
        zlistx_detach_cur (self->requests);
    return req;
}

static bool
s_in_flight_on (request_t *req, void *link)
{
    return req->link == link && req->sent;
}

void
cl_request_link_lost (chatclient_t *self, link_t *link)
{
    request_t *req = (request_t *) zlistx_first (self->requests);
    while (req) {
        if (req->link == link && req->sent && req->retry_ok)
            req->sent = false;
        req = (request_t *) zlistx_next (self->requests);
    }
    while ((req = cl_request_take (self, s_in_flight_on, link)))
        cl_request_fail (self, req, CHATCLIENT_ERR_CONNECTION,
                         "connection lost, try again", 0);
}

static bool
s_on_link (request_t *req, void *link)
{
    return req->link == link;
}

void
cl_request_fail_link (chatclient_t *self, link_t *link, int code, const char *text)
{
    request_t *req;
    while ((req = cl_request_take (self, s_on_link, link)))
        cl_request_fail (self, req, code, text, 0);
}

static bool
s_unanswered (request_t *req, void *now)
{
    return req->sent && *(int64_t *) now >= req->deadline
        && req->link->state == LINK_OPEN;
}

static bool
s_given_up (request_t *req, void *now)
{
    return !req->sent && (*(int64_t *) now >= req->expires
                          || req->link->state == LINK_REFUSED);
}

void
cl_request_tick (chatclient_t *self, int64_t now)
{
    //  an unanswered request means the link is dead
    request_t *req;
    while ((req = s_first (self, s_unanswered, &now))) {
        char *why = cl_format ("no answer from %s within %d ms",
                               req->link->endpoint, self->config.request_timeout_ms);
        cl_link_reset (self, req->link, CHATCLIENT_ERR_TIMEOUT, why);
        free (why);
    }
    //  commands that waited too long for their server give up
    while ((req = cl_request_take (self, s_given_up, &now))) {
        bool refused = req->link->state == LINK_REFUSED;
        char *why = refused
                  ? cl_format ("the %s's key does not match its pin", req->link->role_name)
                  : cl_format ("the %s at %s did not answer", req->link->role_name,
                               req->link->endpoint);
        cl_request_fail (self, req,
                         refused ? CHAT_ERR_PIN_MISMATCH : CHATCLIENT_ERR_TIMEOUT, why, 0);
        free (why);
    }
}

int64_t
cl_request_due (chatclient_t *self, int64_t due)
{
    request_t *req = (request_t *) zlistx_first (self->requests);
    while (req) {
        int64_t at = req->sent ? req->deadline : req->expires;
        if (at < due)
            due = at;
        req = (request_t *) zlistx_next (self->requests);
    }
    return due;
}

//  Send every queued request whose link is ready for it.
void
cl_request_pump (chatclient_t *self)
{
    int64_t now = zclock_mono ();
    request_t *req = (request_t *) zlistx_first (self->requests);
    while (req) {
        link_t *link = req->link;
        if (!req->sent && link->state == LINK_OPEN
        &&  (!req->auth || link->authed)) {
            uint8_t *frame = NULL;
            size_t size = 0;
            if (channel_seal (link->channel, req->payload, req->len,
                              &frame, &size) == CHAT_OK) {
                if (cl_link_send (link, frame, size) == 0) {
                    req->sent = true;
                    req->deadline = now + self->config.request_timeout_ms;
                }
                free (frame);
            }
        }
        req = (request_t *) zlistx_next (self->requests);
    }
}

//  A request failed: by an error reply, a timeout, a lost link.
void
cl_request_fail (chatclient_t *self, request_t *req, int code, const char *text,
                 uint32_t retry_ms)
{
    conv_t *conv = cl_conv_find (self, req->conv, CHATCLIENT_ID_SIZE);
    switch (req->kind) {
        case RQ_REG_PARAMS:
        case RQ_REGISTER:
        case RQ_MAIN_REGISTER:
        case RQ_LOGIN_START:
        case RQ_LOGIN_FINISH:
            if (req->flow)
                cl_flow_fail (self, req->flow, code, text, retry_ms);
            break;
        case RQ_MAIN_LOGIN:
            self->links [CHATCLIENT_MAINSERVER].authing = false;
            if (req->purpose == 0) {
                if (req->flow)
                    cl_flow_fail (self, req->flow, code, text, retry_ms);
            }
            else
            if (code == CHAT_ERR_BAD_CERTIFICATE) {
                //  the certificate aged out: a fresh one, once
                self->certificate_at = 0;
                if (++self->relogin_failures > 2)
                    cl_session_lost (self, "the main server refused our certificate");
            }
            break;
        case RQ_RESUME:
            self->resume_inflight = false;
            if (code == CHAT_ERR_BAD_CERTIFICATE || code == CHAT_ERR_AUTH_FAILED) {
                self->resume_failed = true;
                cl_session_lost (self, "the key server no longer accepts this session");
            }
            else
            if (code != CHATCLIENT_ERR_CONNECTION && code != CHATCLIENT_ERR_TIMEOUT) {
                //  a key server without resume: the main server can still
                //  take the certificate we hold while it is fresh
                self->resume_failed = true;
                cl_session_reauth (self);
            }
            break;
        case RQ_GET_KEY:
            if (!conv)
                break;
            if (code == CHAT_ERR_NOT_FOUND && conv->key_attempts < KEY_ATTEMPTS) {
                conv->key_attempts++;
                cl_conv_key_request (self, conv, true);
            }
            else
            if (code == CHAT_ERR_BAD_TICKET && conv->key_attempts < KEY_ATTEMPTS) {
                conv->key_attempts++;
                cl_conv_get_members (self, conv, 0, 1);
            }
            else
                cl_conv_key_failed (self, conv, code);
            break;
        case RQ_CREATE_KEY:
            if (!conv)
                break;
            if (code == CHAT_ERR_BAD_TICKET && conv->key_attempts < KEY_ATTEMPTS) {
                conv->key_attempts++;
                cl_conv_get_members (self, conv, 0, 1);
            }
            else
            if (code != CHATCLIENT_ERR_CONNECTION && code != CHATCLIENT_ERR_TIMEOUT
            &&  conv->key_attempts < KEY_ATTEMPTS) {
                //  someone else created it first
                conv->key_attempts++;
                cl_conv_key_request (self, conv, false);
            }
            else
                cl_conv_key_failed (self, conv, code);
            break;
        case RQ_GET_MEMBERS:
            if (req->purpose == 1) {
                if (conv)
                    cl_conv_key_failed (self, conv, code);
            }
            else
                cl_event_error (self, CHATCLIENT_EV_ERROR, req->cmd, code, text, retry_ms);
            break;
        case RQ_GET_MESSAGES:
            if (conv) {
                conv->fetching = false;
                conv->fetch_error = code;
                cl_conv_settle (self, conv);
                conv->fetch_error = 0;
            }
            break;
        case RQ_LIST_CONV:
        case RQ_LIST_USERS:
        case RQ_CREATE_CONV:
        case RQ_SEND:
            if (req->cmd)
                cl_event_error (self, CHATCLIENT_EV_ERROR, req->cmd, code, text, retry_ms);
            break;
        case RQ_KEY_LOGOUT:
        case RQ_MAIN_LOGOUT:
        case RQ_PING:
            break;
    }
    cl_request_free (&req);
}
