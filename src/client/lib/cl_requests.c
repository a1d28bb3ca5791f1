/*  cl_requests - the requests of one server link; see cl_requests.h
*/
#include <stdlib.h>
#include <string.h>
#include "cl_requests.h"
#include "chaterror.h"
#include "secret.h"

typedef struct {
    uint64_t id;
    cl_request_spec_t spec;
    uint8_t *payload;           //  the packed request
    size_t len;
    bool sent;
    int64_t deadline;           //  of the attempt in flight
    int64_t expires;            //  of the whole command
} request_t;

struct _cl_requests_t {
    cl_link_t *link;            //  borrowed
    cl_listener_t listener;
    zlistx_t *queue;            //  request_t, in submission order
    uint64_t next_id;
    int request_timeout_ms;
    int command_timeout_ms;
    bool authed;
    bool renewable;
};

static void
s_request_free (request_t **req_p)
{
    if (req_p && *req_p) {
        request_t *req = *req_p;
        if (req->payload) {
            secret_wipe (req->payload, req->len);
            free (req->payload);
        }
        if (req->spec.data && req->spec.destroy_data)
            req->spec.destroy_data (&req->spec.data);
        free (req);
        *req_p = NULL;
    }
}

//  ---------------------------------------------------------------- endings

static const char *
s_unexpected (cl_requests_t *self)
{
    return cl_link_server (self->link) == CHATCLIENT_KEYSERVER
         ? "unexpected reply from the key server"
         : "unexpected reply from the main server";
}

//  Tell the submitter and free the request (detached from the queue).
static void
s_fail (request_t *req, int code, const char *text, uint32_t retry_ms)
{
    if (req->spec.done) {
        cl_outcome_t outcome = { .tag = req->spec.tag, .cmd = req->spec.cmd,
                                 .data = req->spec.data, .code = code ? code : CHAT_ERR_INTERNAL,
                                 .text = text, .retry_ms = retry_ms };
        req->spec.done (req->spec.arg, &outcome);
        req->spec.data = outcome.data;
    }
    s_request_free (&req);
}

static void
s_answer (cl_requests_t *self, request_t *req, ProtobufCMessage *reply)
{
    bool fits = true;
    if (req->spec.done) {
        cl_outcome_t outcome = { .tag = req->spec.tag, .cmd = req->spec.cmd,
                                 .data = req->spec.data, .code = CHAT_OK, .reply = reply };
        fits = req->spec.done (req->spec.arg, &outcome);
        req->spec.data = outcome.data;
    }
    if (fits)
        s_request_free (&req);
    else {
        s_fail (req, CHAT_ERR_MALFORMED, s_unexpected (self), 0);
    }
}

//  A request the link will never carry: it fails with the link's reason
//  (a pin mismatch, or a server of the other role).
static void
s_fail_refused (cl_requests_t *self, request_t *req)
{
    const char *why = NULL;
    int code = cl_link_refusal (self->link, &why);
    s_fail (req, code? code: CHAT_ERR_PIN_MISMATCH,
            why? why: "the server's key does not match its pin", 0);
}

//  ---------------------------------------------------------------- queue

//  A test on one request, for s_take.
typedef bool (s_match_fn) (cl_requests_t *self, request_t *req, void *arg);

//  The first request that match accepts, the queue's cursor on it; or NULL.
static request_t *
s_first (cl_requests_t *self, s_match_fn *match, void *arg)
{
    request_t *req = (request_t *) zlistx_first (self->queue);
    while (req && !match (self, req, arg))
        req = (request_t *) zlistx_next (self->queue);
    return req;
}

//  Detach and return the first request that match accepts, or NULL. Taking
//  one at a time lets the caller end each, which may change the queue.
static request_t *
s_take (cl_requests_t *self, s_match_fn *match, void *arg)
{
    request_t *req = s_first (self, match, arg);
    if (req)
        zlistx_detach_cur (self->queue);
    return req;
}

//  Seal and send every queued request the link is ready for.
static void
s_pump (cl_requests_t *self)
{
    if (cl_link_state (self->link) != CL_LINK_OPEN)
        return;
    int64_t now = zclock_mono ();
    request_t *req = (request_t *) zlistx_first (self->queue);
    while (req) {
        if (!req->sent && (!req->spec.auth || self->authed)
        &&  cl_link_send (self->link, req->payload, req->len) == 0) {
            req->sent = true;
            req->deadline = now + self->request_timeout_ms;
        }
        req = (request_t *) zlistx_next (self->queue);
    }
}

int
cl_requests_submit (cl_requests_t *self, ProtobufCMessage *request,
                    const cl_request_spec_t *spec)
{
    request_t *req = calloc (1, sizeof (request_t));
    assert (req);
    req->spec = *spec;
    req->id = ++self->next_id;
    if (cl_link_server (self->link) == CHATCLIENT_KEYSERVER)
        ((Chat__KeyRequest *) request)->request_id = req->id;
    else
        ((Chat__MainRequest *) request)->request_id = req->id;
    if (wire_pack (request, &req->payload, &req->len) != CHAT_OK) {
        s_request_free (&req);
        return -1;
    }
    req->expires = zclock_mono () + self->command_timeout_ms;
    int code = 0;
    const char *problem = cl_link_problem (self->link, &code);
    if (spec->fail_fast && problem) {
        s_fail (req, code, problem, 0);
        return 0;
    }
    zlistx_add_end (self->queue, req);
    s_pump (self);
    return 0;
}

//  ---------------------------------------------------------------- replies

static bool
s_sent_with_id (cl_requests_t *self, request_t *req, void *id)
{
    (void) self;
    return req->sent && req->id == *(uint64_t *) id;
}

//  An error reply to req (detached): a lost login renewed, or a failure.
static void
s_refused (cl_requests_t *self, request_t *req, Chat__Error *error)
{
    if ((int) error->code == CHAT_ERR_NOT_LOGGED_IN && req->spec.auth && self->renewable) {
        //  the server lost our login: wait for the next one, then go again
        self->authed = false;
        req->sent = false;
        zlistx_add_end (self->queue, req);
        cl_listener_signal (&self->listener, CL_EV_AUTH_LOST, cl_link_server (self->link));
    }
    else
        s_fail (req, error->code ? (int) error->code : CHAT_ERR_INTERNAL,
                error->message, error->retry_after_ms);
}

//  A sealed reply from the server, opened: the request it answers ends.
static void
s_on_reply (cl_requests_t *self, const uint8_t *data, size_t size)
{
    bool key = cl_link_server (self->link) == CHATCLIENT_KEYSERVER;
    ProtobufCMessage *reply = NULL;
    if (wire_unpack (key ? &chat__key_reply__descriptor : &chat__main_reply__descriptor,
                     data, size, &reply) != CHAT_OK)
        return;
    uint64_t id = key ? ((Chat__KeyReply *) reply)->request_id
                      : ((Chat__MainReply *) reply)->request_id;
    int body = key ? (int) ((Chat__KeyReply *) reply)->body_case
                   : (int) ((Chat__MainReply *) reply)->body_case;
    Chat__Error *error = key
        ? (body == CHAT__KEY_REPLY__BODY_ERROR ? ((Chat__KeyReply *) reply)->error : NULL)
        : (body == CHAT__MAIN_REPLY__BODY_ERROR ? ((Chat__MainReply *) reply)->error : NULL);
    request_t *req = s_take (self, s_sent_with_id, &id);
    if (!req)
        ;                       //  late, or not ours: nothing waits for it
    else
    if (error)
        s_refused (self, req, error);
    else
    if (req->spec.expects && body != req->spec.expects) {
        s_fail (req, CHAT_ERR_MALFORMED, s_unexpected (self), 0);
    }
    else
        s_answer (self, req, reply);
    protobuf_c_message_free_unpacked (reply, NULL);
}

//  ---------------------------------------------------------------- the link

static bool
s_in_flight (cl_requests_t *self, request_t *req, void *arg)
{
    (void) self;
    (void) arg;
    return req->sent;
}

static bool
s_any (cl_requests_t *self, request_t *req, void *arg)
{
    (void) self;
    (void) req;
    (void) arg;
    return true;
}

static bool
s_fails_fast (cl_requests_t *self, request_t *req, void *arg)
{
    (void) self;
    (void) arg;
    return req->spec.fail_fast;
}

//  The link broke: what is safe to send again waits for it, the rest fails.
//  A server that did not know our session did nothing with what it got
//  (a request answered before the session went was answered first: replies
//  keep their order), so more is safe to send again on the next session.
static void
s_link_lost (cl_requests_t *self, int code)
{
    bool unseen = code == CHAT_ERR_UNKNOWN_SESSION;
    request_t *req = (request_t *) zlistx_first (self->queue);
    while (req) {
        if (req->sent && (req->spec.retry_ok || (unseen && req->spec.unseen_ok)))
            req->sent = false;
        req = (request_t *) zlistx_next (self->queue);
    }
    while ((req = s_take (self, s_in_flight, NULL)))
        s_fail (req, CHATCLIENT_ERR_CONNECTION, "connection lost, try again", 0);
}

static void
s_on_link (void *arg, cl_event_t *event)
{
    cl_requests_t *self = (cl_requests_t *) arg;
    if (event->kind == CL_EV_LINK_REPLY) {
        s_on_reply (self, event->data, event->size);
        return;                 //  a reply is ours alone
    }
    //  a new or lost connection is not logged in
    if (event->kind == CL_EV_LINK_OPEN || event->kind == CL_EV_LINK_DOWN
    ||  event->kind == CL_EV_LINK_REFUSED)
        self->authed = false;
    cl_listener_emit (&self->listener, event);
    request_t *req;
    switch (event->kind) {
        case CL_EV_LINK_OPEN:
            s_pump (self);
            break;
        case CL_EV_LINK_DOWN:
            s_link_lost (self, event->code);
            //  and what must not wait for a server that is not there fails
            if (cl_link_problem (self->link, NULL))
                while ((req = s_take (self, s_fails_fast, NULL)))
                    s_fail (req, event->code, event->text, 0);
            break;
        case CL_EV_LINK_REFUSED:
            while ((req = s_take (self, s_any, NULL)))
                s_fail_refused (self, req);
            break;
        default:
            break;
    }
}

//  ---------------------------------------------------------------- life

cl_requests_t *
cl_requests_new (cl_link_t *link, int request_timeout_ms, int command_timeout_ms)
{
    assert (link);
    cl_requests_t *self = calloc (1, sizeof (cl_requests_t));
    assert (self);
    self->link = link;
    self->queue = zlistx_new ();
    assert (self->queue);
    self->request_timeout_ms = request_timeout_ms;
    self->command_timeout_ms = command_timeout_ms;
    cl_link_set_listener (link, s_on_link, self);
    return self;
}

void
cl_requests_destroy (cl_requests_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cl_requests_t *self = *self_p;
    request_t *req;
    while ((req = (request_t *) zlistx_detach (self->queue, NULL)))
        s_request_free (&req);
    zlistx_destroy (&self->queue);
    cl_link_set_listener (self->link, NULL, NULL);
    free (self);
    *self_p = NULL;
}

void
cl_requests_set_listener (cl_requests_t *self, cl_listener_fn *fn, void *arg)
{
    self->listener.fn = fn;
    self->listener.arg = arg;
}

cl_link_t *
cl_requests_link (cl_requests_t *self)
{
    return self->link;
}

void
cl_requests_set_authed (cl_requests_t *self, bool authed)
{
    self->authed = authed;
    if (authed)
        s_pump (self);
}

bool
cl_requests_authed (cl_requests_t *self)
{
    return self->authed;
}

bool
cl_requests_open (cl_requests_t *self)
{
    return cl_link_state (self->link) == CL_LINK_OPEN;
}

void
cl_requests_set_renewable (cl_requests_t *self, bool renewable)
{
    self->renewable = renewable;
}

static bool
s_of_session (cl_requests_t *self, request_t *req, void *arg)
{
    (void) self;
    (void) arg;
    return req->spec.auth || req->spec.session;
}

bool
cl_requests_drop_session (cl_requests_t *self, uint32_t *cmd)
{
    request_t *req = s_take (self, s_of_session, NULL);
    if (!req)
        return false;
    *cmd = req->spec.cmd;
    s_request_free (&req);
    return true;
}

size_t
cl_requests_waiting (cl_requests_t *self)
{
    return zlistx_size (self->queue);
}

//  ---------------------------------------------------------------- timers

static bool
s_unanswered (cl_requests_t *self, request_t *req, void *now)
{
    return req->sent && *(int64_t *) now >= req->deadline
        && cl_link_state (self->link) == CL_LINK_OPEN;
}

static bool
s_given_up (cl_requests_t *self, request_t *req, void *now)
{
    return !req->sent && (*(int64_t *) now >= req->expires
                          || cl_link_state (self->link) == CL_LINK_REFUSED);
}

void
cl_requests_tick (cl_requests_t *self, int64_t now)
{
    //  an unanswered request means the link is dead
    if (s_first (self, s_unanswered, &now)) {
        char *why = cl_format ("no answer from %s within %d ms",
                               cl_link_endpoint (self->link), self->request_timeout_ms);
        cl_link_reset (self->link, CHATCLIENT_ERR_TIMEOUT, why);
        free (why);
    }
    //  commands that waited too long for their server give up
    request_t *req;
    while ((req = s_take (self, s_given_up, &now))) {
        if (cl_link_state (self->link) == CL_LINK_REFUSED) {
            s_fail_refused (self, req);
            continue;
        }
        char *why = cl_format ("the %s at %s did not answer", cl_link_role (self->link),
                               cl_link_endpoint (self->link));
        s_fail (req, CHATCLIENT_ERR_TIMEOUT, why, 0);
        free (why);
    }
    //  and whatever could not be queued before goes now
    s_pump (self);
}

int64_t
cl_requests_due (cl_requests_t *self, int64_t due)
{
    request_t *req = (request_t *) zlistx_first (self->queue);
    while (req) {
        int64_t at = req->sent ? req->deadline : req->expires;
        if (at < due)
            due = at;
        req = (request_t *) zlistx_next (self->queue);
    }
    return due;
}
