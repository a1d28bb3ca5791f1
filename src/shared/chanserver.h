/*  chanserver - the server side of the secure channel on a ROUTER socket,
    shared by both servers

    It owns the session table. chanserver_recv reads one message from the
    ROUTER and does all channel work itself: answers a Hello with a Welcome,
    refuses garbage, unknown sessions, replayed/expired/tampered frames with
    a clear Envelope{error}. Only a sealed request that opened cleanly comes
    back to the server, as (session, payload). Sessions are found by their
    session id, never by ZMQ routing id: a client that reconnects keeps its
    session, and replies go to the routing id its latest frame came from.

    It is also where a stranger's cost is bounded (DESIGN.md section 10):
    a Hello is admitted only within the session caps (in total, per source
    address) and the handshake budgets (token buckets, per source address
    and in total), and is otherwise refused at once with ERR_BUSY and
    retry_after_ms; the RSA work happens only after that. The source
    address is the frame's ZMQ "Peer-Address" (an IPv6 address counts by
    its /64, since one host may hold a whole /64). Sessions that have not
    logged in are dropped within seconds (login_timeout_ms), and the
    servers log sessions in through chanserver_set_username, which holds
    the per-user cap.
*/
#ifndef CHANSERVER_H_INCLUDED
#define CHANSERVER_H_INCLUDED

#include <czmq.h>
#include "channel.h"
#include "metrics.h"
#include "serverlimits.h"

//  A source address as sessions are counted by it: text, at most this long
#define CHANSERVER_ADDRESS_SIZE 64

typedef struct _chanserver_t chanserver_t;

typedef struct {
    channel_t *channel;
    char *username;          //  set by the server on login (malloc'd); NULL when not
    int64_t connected_since; //  unix ms
    int64_t last_activity;   //  unix ms, updated on every good frame
    void *app;               //  the server's own per-session state
    char id_hex [CHANNEL_SESSION_ID_SIZE * 2 + 1];
    zframe_t *routing_id;    //  where the latest frame came from (owned)
    //  Where the handshake came from: "127.0.0.1", "2001:db8:1:2::/64",
    //  "local" (no TCP peer address). Limits are counted here.
    char address [CHANSERVER_ADDRESS_SIZE];
    int64_t login_by;        //  unix ms; not logged in by then: dropped
} chansession_t;

//  Called as a session is dropped (idle, limit, shutdown): free app state.
typedef void (chansession_free_fn) (chansession_t *session, void *arg);
//  Called as a session is made, before its Welcome leaves.
typedef void (chansession_open_fn) (chansession_t *session, void *arg);

//  router and server_key are borrowed and must outlive the object.
chanserver_t *
    chanserver_new (zsock_t *router, rsakey_t *server_key);
void
    chanserver_destroy (chanserver_t **self_p);

void
    chanserver_set_free_fn (chanserver_t *self, chansession_free_fn *fn, void *arg);
void
    chanserver_set_open_fn (chanserver_t *self, chansession_open_fn *fn, void *arg);

//  Take the handshake and session limits (handshakes_*, sessions*,
//  login_timeout_ms, idle_timeout_ms); the rest of limits is not ours. A
//  new chanserver has no limits at all until this is called. Applies to
//  sessions that exist too (a lower cap drops none, but admits no more).
void
    chanserver_set_limits (chanserver_t *self, const serverlimits_t *limits);

//  Log a session in as username (NULL: log it out). A session that was
//  logged in as someone else is logged out first. CHAT_OK, or
//  CHAT_ERR_QUOTA when username has sessions_per_user sessions already
//  (the session is then not logged in). Logging out starts the session's
//  login timeout again.
int
    chanserver_set_username (chanserver_t *self, chansession_t *session,
                             const char *username);

//  The session made a step towards a login (asked for a salt, registered,
//  started a login): its login timeout starts again.
void
    chanserver_login_progress (chanserver_t *self, chansession_t *session);

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

//  The same in two steps, for a batch: seal every reply first (*frame is
//  malloc'd), then send them all, so that libzmq's I/O thread is not woken
//  between two seals. Nothing may drop the session in between.
int
    chanserver_seal_reply (chanserver_t *self, chansession_t *session,
                           const uint8_t *payload, size_t len, uint8_t **frame, size_t *size);
int
    chanserver_send_sealed (chanserver_t *self, chansession_t *session,
                            const uint8_t *frame, size_t size);

//  Drop sessions idle past idle_timeout_ms, and sessions not logged in
//  past their login timeout; returns how many. Also forgets handshake
//  budgets that have refilled, and logs how many Hellos were refused as
//  busy since the last call that logged.
size_t
    chanserver_expire (chanserver_t *self, int64_t now_ms);

//  Drop one session now (session is freed).
void
    chanserver_drop (chanserver_t *self, chansession_t *session);

chansession_t *
    chanserver_lookup (chanserver_t *self, const uint8_t id [CHANNEL_SESSION_ID_SIZE]);

//  The sessions as the admin socket shows them: user, client key
//  fingerprint, times; never a key. *list gets n pointers (strings borrowed
//  from the sessions: use before the next recv); free with
//  chanserver_admin_sessions_free.
size_t
    chanserver_admin_sessions (chanserver_t *self, Chat__AdminSession ***list);
void
    chanserver_admin_sessions_free (Chat__AdminSession ***list);

//  Iterate the sessions (do not drop while iterating).
chansession_t *
    chanserver_first (chanserver_t *self);
chansession_t *
    chanserver_next (chanserver_t *self);
size_t
    chanserver_size (chanserver_t *self);

//  Sessions whose handshake came from address (as in chansession_t), and
//  sessions logged in as username (any case).
size_t
    chanserver_address_sessions (chanserver_t *self, const char *address);
size_t
    chanserver_user_sessions (chanserver_t *self, const char *username);

//  The key a Peer-Address is counted under (NULL: "local"): an IPv4
//  address as it is, an IPv6 address as its /64 ("2001:db8:1:2::/64"), an
//  IPv4-mapped IPv6 address as the IPv4 address. out holds
//  CHANSERVER_ADDRESS_SIZE bytes.
void
    chanserver_address_key (const char *peer_address, char *out);

#endif
