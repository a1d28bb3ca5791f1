/*  cl_request - the client's pending requests: a queue of packed requests
    with ids, gates and deadlines. A request waits until its link is open
    (and logged in, if it needs that), is sealed and sent, and is answered,
    failed or re-sent.

    Internal to libchatclient (see cl_client.h).
*/
#ifndef CL_REQUEST_H_INCLUDED
#define CL_REQUEST_H_INCLUDED

#include "chatclient.h"
#include "cl_flow.h"
#include "cl_link.h"
#include "wire.h"

typedef enum {
    RQ_REG_PARAMS, RQ_REGISTER, RQ_MAIN_REGISTER,
    RQ_LOGIN_START, RQ_LOGIN_FINISH, RQ_RESUME, RQ_MAIN_LOGIN,
    RQ_LIST_CONV, RQ_LIST_USERS, RQ_CREATE_CONV, RQ_GET_MESSAGES, RQ_SEND,
    RQ_GET_MEMBERS, RQ_GET_KEY, RQ_CREATE_KEY, RQ_KEY_LOGOUT, RQ_MAIN_LOGOUT,
    RQ_PING
} rq_kind_t;

//  A message to send, from the command until the server stored it.
typedef struct {
    uint32_t cmd;
    uint8_t conv [CHATCLIENT_ID_SIZE];
    uint8_t cmid [CHATCLIENT_ID_SIZE];
    int64_t sent_at;
    char *text;
    size_t len;
} sendjob_t;

typedef struct {
    uint64_t id;
    rq_kind_t kind;
    link_t *link;
    uint32_t cmd;
    uint8_t *payload;
    size_t len;
    bool sent;
    bool auth;                  //  needs a logged-in session on the link
    bool retry_ok;              //  safe to send again after a reconnect
    int64_t deadline;           //  of the attempt in flight
    int64_t expires;            //  of the whole command
    uint8_t conv [CHATCLIENT_ID_SIZE];
    int purpose;                //  GET_MEMBERS: 1 = ticket for the key, 0 = command
                                //  LIST_CONV: 1 = first after login
                                //  MAIN_LOGIN: 1 = silent re-login
                                //  GET_MESSAGES: after_seq of the page
    uint64_t after_seq;
    flow_t *flow;               //  borrowed
    sendjob_t *send;            //  owned
} request_t;

//  Pack msg with a fresh request id and queue it for the role's link. NULL
//  when it cannot be packed. auth: wait for a logged-in session; retry_ok:
//  safe to send again after a reconnect.
request_t *
    cl_request_submit (chatclient_t *self, chatclient_server_t role, rq_kind_t kind,
                       uint32_t cmd, ProtobufCMessage *msg, bool auth, bool retry_ok);
void
    cl_request_free (request_t **req_p);
void
    cl_sendjob_free (sendjob_t **job_p);

//  The sent request on link with this id, or NULL.
request_t *
    cl_request_find (chatclient_t *self, link_t *link, uint64_t id);

//  A test on one request, for cl_request_take.
typedef bool (cl_request_match_fn) (request_t *req, void *arg);
//  Detach and return the first request that match accepts, or NULL. Taking
//  one at a time lets the caller fail each, which may change the queue.
request_t *
    cl_request_take (chatclient_t *self, cl_request_match_fn *match, void *arg);

//  link broke: its requests in flight are sent again once it is back if
//  that is safe (retry_ok), else they fail with CHATCLIENT_ERR_CONNECTION.
void
    cl_request_link_lost (chatclient_t *self, link_t *link);
//  Fail every request for link (sent or not) with code and text.
void
    cl_request_fail_link (chatclient_t *self, link_t *link, int code, const char *text);

//  Request timers: an unanswered request resets its link; a command that
//  waited too long for its server (or whose server is refused) fails.
void
    cl_request_tick (chatclient_t *self, int64_t now);
//  The earlier of due and the next request deadline.
int64_t
    cl_request_due (chatclient_t *self, int64_t due);

//  Seal and send every queued request whose link is ready for it.
void
    cl_request_pump (chatclient_t *self);

//  A request failed (error reply, timeout, lost link): tell whoever waits
//  for it, retry where that is the rule for its kind, and free it.
void
    cl_request_fail (chatclient_t *self, request_t *req, int code, const char *text,
                     uint32_t retry_ms);

#endif
