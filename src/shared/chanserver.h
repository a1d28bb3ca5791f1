/*  chanserver - the server side of the secure channel on a ROUTER socket,
    shared by both servers

    It owns the session table. chanserver_recv reads one message from the
    ROUTER and does all channel work itself: answers a Hello with a Welcome,
    refuses garbage, unknown sessions, replayed/expired/tampered frames with
    a clear Envelope{error}. Only a sealed request that opened cleanly comes
    back to the server, as (session, payload). Sessions are found by their
    session id, never by ZMQ routing id: a client that reconnects keeps its
    session, and replies go to the routing id its latest frame came from.
*/
#ifndef CHANSERVER_H_INCLUDED
#define CHANSERVER_H_INCLUDED

#include <czmq.h>
#include "channel.h"
#include "metrics.h"

typedef struct _chanserver_t chanserver_t;

typedef struct {
    channel_t *channel;
    char *username;          //  set by the server on login (malloc'd); NULL when not
    int64_t connected_since; //  unix ms
    int64_t last_activity;   //  unix ms, updated on every good frame
    void *app;               //  the server's own per-session state
    char id_hex [CHANNEL_SESSION_ID_SIZE * 2 + 1];
    zframe_t *routing_id;    //  where the latest frame came from (owned)
} chansession_t;

//  Called as a session is dropped (idle, limit, shutdown): free app state.
typedef void (chansession_free_fn) (chansession_t *session, void *arg);

//  router and server_key are borrowed and must outlive the object.
chanserver_t *
    chanserver_new (zsock_t *router, rsakey_t *server_key);
void
    chanserver_destroy (chanserver_t **self_p);

void
    chanserver_set_free_fn (chanserver_t *self, chansession_free_fn *fn, void *arg);

//  At most max_sessions open sessions (a further Hello gets ERR_BUSY); 0:
//  no limit. Sessions idle for idle_ms are dropped by chanserver_expire;
//  0: never.
void
    chanserver_set_limits (chanserver_t *self, size_t max_sessions, int64_t idle_ms);

//  Do the RSA work of handshakes on n worker threads (0: inline, the
//  default; CHANSERVER_WORKERS_PER_CORE: one per online core, at most 8). The server must then poll chanserver_handshakes () beside its
//  ROUTER and call chanserver_handshake_done () when it is readable: that is
//  where the Welcome leaves and the session is made, on the server's own
//  thread. Call once, before the first chanserver_recv.
#define CHANSERVER_WORKERS_PER_CORE ((size_t) -1)
int
    chanserver_set_workers (chanserver_t *self, size_t n);

//  The socket finished handshakes arrive on; NULL without workers.
zsock_t *
    chanserver_handshakes (chanserver_t *self);

//  Take the finished handshakes waiting: send each Welcome (or refusal),
//  add each session.
void
    chanserver_handshake_done (chanserver_t *self);

//  What every Welcome says about this server, under its signature: role
//  (CHANNEL_ROLE_*), push endpoint (main server; NULL for none) and a key
//  rotation statement (serialized KeyRotation; NULL, 0 for none). Call
//  before chanserver_set_workers. CHAT_OK or CHAT_ERR_BAD_REQUEST.
int
    chanserver_set_welcome_info (chanserver_t *self, const char *role,
                                 const char *push_endpoint,
                                 const uint8_t *rotation, size_t rotation_len);

//  Count handshakes and refusals in metrics (borrowed; NULL: none).
void
    chanserver_set_metrics (chanserver_t *self, metrics_t *metrics);

//  Sessions by state, for the metrics: handshakes at the workers, sessions
//  not logged in, sessions logged in (a walk over the table).
void
    chanserver_census (chanserver_t *self, size_t *handshaking, size_t *anonymous,
                       size_t *logged_in);

//  Log one line per handshake and refusal (zsys_info), never a secret.
void
    chanserver_set_verbose (chanserver_t *self, bool verbose);

//  Read one message. NULL when it was handled here (handshake, refusal,
//  interrupted); else the session and a malloc'd payload to handle.
chansession_t *
    chanserver_recv (chanserver_t *self, uint8_t **payload, size_t *len);

//  Seal a reply to the session and send it. CHAT_OK or an error.
int
    chanserver_reply (chanserver_t *self, chansession_t *session,
                      const uint8_t *payload, size_t len);

//  Seal a push to the session and publish it on pub, topic = session token.
int
    chanserver_push (chanserver_t *self, zsock_t *pub, chansession_t *session,
                     const uint8_t *payload, size_t len);

//  Drop sessions idle past the limit; returns how many.
size_t
    chanserver_expire (chanserver_t *self, int64_t now_ms);

//  Drop one session now (session is freed).
void
    chanserver_drop (chanserver_t *self, chansession_t *session);

chansession_t *
    chanserver_lookup (chanserver_t *self, const uint8_t id [CHANNEL_SESSION_ID_SIZE]);

//  Iterate the sessions (do not drop while iterating).
//  The sessions as the admin socket shows them: user, client key
//  fingerprint, times; never a key. *list gets n pointers (strings borrowed
//  from the sessions: use before the next recv); free with
//  chanserver_admin_sessions_free.
size_t
    chanserver_admin_sessions (chanserver_t *self, Chat__AdminSession ***list);
void
    chanserver_admin_sessions_free (Chat__AdminSession ***list);

chansession_t *
    chanserver_first (chanserver_t *self);
chansession_t *
    chanserver_next (chanserver_t *self);
size_t
    chanserver_size (chanserver_t *self);

#endif
