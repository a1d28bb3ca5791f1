/*  cl_requests - the requests of one server link: ids, gates, deadlines,
    retries

    A request is packed at once with a fresh request id, waits until its
    link is open (and logged in, if it needs that), is sealed and sent, and
    ends exactly once: answered, failed, or dropped with the session. Its
    end goes to the callback its submitter gave (cl_request_spec_t), never
    anywhere else, so this module knows nothing of what the requests are
    for. What happens to the link itself goes up as events (cl_event.h):
    every event of the link is passed on, then acted on, and
    CL_EV_AUTH_LOST says the server forgot our login.

    Timers: a request unanswered within the request timeout means the link
    is dead (it is reset); a request that waited longer than the command
    timeout for its server fails with CHATCLIENT_ERR_TIMEOUT. A fail_fast
    request does not wait for a server that cannot be reached (see
    cl_link_problem): it fails with the link's reason as soon as that is
    known. After a reset
    a sent request is sent again when that is safe (retry_ok, or unseen_ok
    when the server had forgotten the session), else it fails with
    CHATCLIENT_ERR_CONNECTION.
*/
#ifndef CL_REQUESTS_H_INCLUDED
#define CL_REQUESTS_H_INCLUDED

#include "chatclient.h"
#include "cl_event.h"
#include "cl_link.h"
#include "wire.h"

typedef struct _cl_requests_t cl_requests_t;

//  How a request ended, for its submitter.
typedef struct {
    int tag;                    //  the submitter's, as given
    uint32_t cmd;               //  as given
    void *data;                 //  as given; still the request's (freed
                                //  after the callback unless set to NULL)
    int code;                   //  CHAT_OK with a reply, else the failure
    const char *text;           //  the failure in words (may be NULL)
    uint32_t retry_ms;          //  a rate-limited failure: wait this long
    //  The reply: Chat__KeyReply on the key server's link, Chat__MainReply
    //  on the main server's, its body the one the spec expects. NULL on
    //  failure.
    ProtobufCMessage *reply;
} cl_outcome_t;

//  A request ended. For a reply: return false when it does not fit the
//  request after all; the request then fails (called again) with
//  CHAT_ERR_MALFORMED. The return value of a failure is ignored.
typedef bool (cl_requests_done_fn) (void *arg, cl_outcome_t *outcome);

typedef struct {
    int tag;                    //  the submitter's, passed back
    uint32_t cmd;               //  the command it serves (0: none), passed back
    bool auth;                  //  wait for a logged-in session on the link
    bool retry_ok;              //  safe to send again after a reconnect
    bool unseen_ok;             //  safe to send again on a new session
                                //  when the server said it did not know
                                //  ours (so it did nothing with it)
    bool session;               //  ends with the session (auth ones always do)
    bool fail_fast;             //  fail at once (with the link's reason)
                                //  while the server cannot be reached,
                                //  rather than wait for it
    int expects;                //  the reply body case that answers it
                                //  (Chat__KeyReply__BodyCase or
                                //  Chat__MainReply__BodyCase); 0: any
    cl_requests_done_fn *done;  //  NULL: nobody waits for the answer
    void *arg;
    void *data;                 //  the submitter's, owned by the request
    czmq_destructor *destroy_data;
} cl_request_spec_t;

//  The requests of link (borrowed; the requests set themselves as its
//  listener). Timeouts in ms: one attempt, and the whole command.
cl_requests_t *
    cl_requests_new (cl_link_t *link, int request_timeout_ms, int command_timeout_ms);
//  Requests still queued are freed without a word to their submitters.
void
    cl_requests_destroy (cl_requests_t **self_p);

//  Where the events go: the link's, then CL_EV_AUTH_LOST.
void
    cl_requests_set_listener (cl_requests_t *self, cl_listener_fn *fn, void *arg);

cl_link_t *
    cl_requests_link (cl_requests_t *self);

//  Pack request (a Chat__KeyRequest or Chat__MainRequest, by the link's
//  server; its request_id is set here), queue it and send it when the link
//  is ready. 0, or -1 when it cannot be packed (its data is then freed and
//  done is not called). A fail_fast request for a server that cannot be
//  reached ends (done called) before this returns 0.
int
    cl_requests_submit (cl_requests_t *self, ProtobufCMessage *request,
                        const cl_request_spec_t *spec);

//  The session on the link is logged in: requests that need that go. A
//  reset link is not logged in until told again.
void
    cl_requests_set_authed (cl_requests_t *self, bool authed);
bool
    cl_requests_authed (cl_requests_t *self);
//  The link is open (handshake done, pin accepted).
bool
    cl_requests_open (cl_requests_t *self);
//  A login can be renewed: a NOT_LOGGED_IN answer to a request that needs
//  the login then sends CL_EV_AUTH_LOST and keeps the request for the
//  renewed session, instead of failing it.
void
    cl_requests_set_renewable (cl_requests_t *self, bool renewable);

//  The session ended: drop the first request that belongs to it, without
//  calling its submitter. True while there was one, with its command in
//  *cmd (0: none), for the caller to fail.
bool
    cl_requests_drop_session (cl_requests_t *self, uint32_t *cmd);

//  Requests waiting: queued or sent and not answered yet.
size_t
    cl_requests_waiting (cl_requests_t *self);

//  Timers: unanswered requests reset the link, stale ones fail.
void
    cl_requests_tick (cl_requests_t *self, int64_t now);
//  The earlier of due and the next request deadline.
int64_t
    cl_requests_due (cl_requests_t *self, int64_t due);

#endif
