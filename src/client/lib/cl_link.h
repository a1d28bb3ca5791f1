/*  cl_link - one server connection of the client: its DEALER, the secure
    channel over it, the handshake, the role and pin checks, the reconnect
    back-off, a socket monitor and ZMTP heartbeats that say what the
    connection is really doing, and for the main server the push socket

    The bottom of libchatclient (see cl_event.h). A link never calls up: it
    tells its listener (the link's cl_requests) what happened:
    CL_EV_LINK_OPEN, _DOWN, _PIN_NEW, _PIN_MOVED, _REFUSED, _REPLY (a
    sealed frame, opened), _PUSH (a push, opened) and _PEER_GONE (the
    monitor saw the TCP connection drop).

    A key that differs from the pin is taken only with a key rotation
    statement in the Welcome's signed info (keyrotation.h) that the pinned
    key signed and that names the key offered: the pin moves to it
    (CL_EV_LINK_PIN_MOVED). Without one the server is refused as before.

        DOWN --attempt--> HELLO --Welcome, role and pin ok--> OPEN
          ^                 |  \--pin mismatch, wrong role--> REFUSED (for good)
          +-- back-off <----+-- timeout, refusal, unknown session, reset,
                                connection lost or refused (the monitor)

    The monitor makes the link truthful at once: a connection refused
    (nothing listening at the endpoint) ends the attempt with
    CHATCLIENT_ERR_UNREACHABLE, an open connection that drops (the server
    went away, or stopped answering the heartbeats) ends it with
    CHATCLIENT_ERR_CONNECTION; each is a DOWN event and a fresh handshake
    after the back-off. Until an attempt succeeds the link keeps the
    reason (cl_link_problem), so that a command can fail at once instead of
    waiting for a server that is not there.

    The Welcome's signed info names the server's role: a link refuses a
    server of the other role for good (CHAT_ERR_WRONG_ROLE: the endpoints
    were given the wrong way round). The main server's push endpoint comes
    from the same signed info (a wildcard host standing for the host of the
    request endpoint), unless the link was given one explicitly; a beacon's
    push endpoint is never used.
*/
#ifndef CL_LINK_H_INCLUDED
#define CL_LINK_H_INCLUDED

#include "chatclient.h"
#include "cl_event.h"
#include "pinstore.h"
#include "rsakey.h"

typedef enum {
    CL_LINK_DOWN,               //  waiting to try again
    CL_LINK_HELLO,              //  handshake under way
    CL_LINK_OPEN,               //  channel up, pin accepted
    CL_LINK_REFUSED             //  the server's key does not match its pin
} cl_link_state_t;

#define CL_LINK_BACKOFF_MIN_MS 100
#define CL_LINK_BACKOFF_MAX_MS 5000
#define CL_LINK_ENDPOINTS_MAX 16     //  a cluster's endpoints, at most
#define CL_LINK_BACKOFF_REFUSED_MS 2000  //  at most, after a refused connection
                                         //  (cheap to try, and quick to see)
//  ZMTP heartbeats: a PING every interval; no answer within the timeout
//  closes the connection (the monitor then says so); the server drops
//  ours when it hears nothing for the TTL
#define CL_LINK_HEARTBEAT_IVL_MS 2000
#define CL_LINK_HEARTBEAT_TIMEOUT_MS 6000
#define CL_LINK_HEARTBEAT_TTL_MS 20000


typedef struct {
    chatclient_server_t server;
    const char *endpoint;       //  request endpoint (one server), or
    const char *const *endpoints;   //  ... a list of endpoint_count (one
    size_t endpoint_count;          //  cluster); endpoint is then ignored
    bool in_order;              //  start at the list's first, not at random
                                //  (tests)
    const char *push;           //  push endpoint the user named, or NULL
    bool push_from_welcome;     //  without one: the Welcome's (main server)
    const char *pin_name;       //  name in the pin file; NULL: the endpoint
    const char *pin;            //  "SHA256:..." to accept only that key;
                                //  NULL: the pin file decides
    int hello_timeout_ms;       //  give up on a handshake after this
    bool monitor;               //  watch the connection (refused, dropped)
    bool verbose;               //  zsys_info lines, never a secret
} cl_link_config_t;

typedef struct _cl_link_t cl_link_t;

//  A link (socket made, not connected). key and pins are borrowed and
//  outlive it. NULL with a message on stderr when an endpoint is invalid
//  or a socket cannot be made.
cl_link_t *
    cl_link_new (const cl_link_config_t *config, rsakey_t *key, pinstore_t *pins);
void
    cl_link_destroy (cl_link_t **self_p);

//  Where the link's events go.
void
    cl_link_set_listener (cl_link_t *self, cl_listener_fn *fn, void *arg);

//  Connect afresh and send the Hello; when that cannot be done the link is
//  DOWN and tries again after the back-off.
void
    cl_link_attempt (cl_link_t *self);
//  Someone waits for this server: a link waiting out its back-off tries
//  now (a server that came back is found at once, one still away is said
//  at once, in a DOWN event).
void
    cl_link_hurry (cl_link_t *self);
//  The link is broken (no answer, the server forgot us): DOWN, tell the
//  listener, try again after the back-off. Nothing on a refused link.
void
    cl_link_reset (cl_link_t *self, int code, const char *why);

//  Seal payload and send it, never blocking. 0, or -1 when the link is not
//  open or the frame could not be queued.
int
    cl_link_send (cl_link_t *self, const uint8_t *payload, size_t len);

//  The sockets to poll (stable for the link's lifetime); returns count.
size_t
    cl_link_sockets (cl_link_t *self, zsock_t **socks, size_t max);
//  One of the link's sockets is readable: handle everything waiting on
//  it. False when which is not the link's.
bool
    cl_link_handle (cl_link_t *self, void *which);
//  The link's timers: retry after back-off, give up on a Hello.
void
    cl_link_tick (cl_link_t *self, int64_t now);
//  The earlier of due and the link's next timer.
int64_t
    cl_link_due (cl_link_t *self, int64_t due);

cl_link_state_t
    cl_link_state (cl_link_t *self);
chatclient_server_t
    cl_link_server (cl_link_t *self);
//  "keyserver" or "mainserver"
const char *
    cl_link_role (cl_link_t *self);
//  The endpoint in use (being tried, or open).
const char *
    cl_link_endpoint (cl_link_t *self);
//  The pin name of the endpoint in use.
const char *
    cl_link_pin_name (cl_link_t *self);
//  How many endpoints the link was given, and each.
size_t
    cl_link_endpoint_count (cl_link_t *self);
const char *
    cl_link_endpoint_at (cl_link_t *self, size_t index);
//  The server's key fingerprint once accepted, else NULL.
const char *
    cl_link_fingerprint (cl_link_t *self);
//  Why the link is not open, when its last attempt failed in a way that
//  says the server cannot be reached now (nothing listening, no answer)
//  or for good (refused: its key does not match the pin, or it is the
//  other server): the text, and the code in *code. NULL while the link
//  is open or trying again (an attempt under way), has never failed, or is
//  only reconnecting after a restart or a dropped connection.
const char *
    cl_link_problem (cl_link_t *self, int *code);
//  The push endpoint the SUB socket is connected to, or NULL.
const char *
    cl_link_push_endpoint (cl_link_t *self);
//  A refused link: why (CHAT_ERR_PIN_MISMATCH or CHAT_ERR_WRONG_ROLE, and
//  the words), else 0 and NULL.
int
    cl_link_refusal (cl_link_t *self, const char **text);

//  The push endpoint a Welcome announced, as a client connects to it: a
//  wildcard host ("*", "0.0.0.0", "::") becomes the host of the request
//  endpoint. malloc'd; NULL when nothing usable was announced.
char *
    cl_link_push_resolve (const char *request_endpoint, const char *announced);

#endif
