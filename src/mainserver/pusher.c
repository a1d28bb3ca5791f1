/*  pusher - the main server's live pushes; see pusher.h

    request thread --jobs (PUSH, one per worker)--> seal workers
    request thread --control (PUSH)--> publisher        live/dead tokens
    seal workers --frames (PUSH)--> publisher --XPUB--> subscribers

    On frames, a worker sends a job's sealed pushes in bursts: one multipart
    message of [token][sealed] pairs, at most BURST_PUSHES of them, and an
    empty last part, which the publisher sends on one by one as the 2-frame
    messages subscribers get. Handing them over one at a time woke the
    publisher between two seals. Each part is a message of its own
    (zmq_msg_t) from the worker to the subscriber's pipe: a push is sealed
    into the worker's one buffer and copied once, into its message.

    A job is three frames: the payload, the targets (target_t each: token,
    session id, push key, push number), and its charges (charge_t: bytes
    against the queue bound, sealing work against its sender's share). The
    push keys in it are wiped once sealed; each worker keeps the keys of the
    sessions it seals for made ready (pushkeys.h), wiped when their slot is
    taken and when the worker ends.
*/
#include <stdatomic.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "actorthread.h"
#include "bucket.h"
#include "chanserver.h"
#include "chaterror.h"
#include "codec.h"
#include "lrumap.h"
#include "pushkeys.h"
#include "secret.h"
#include "wire.h"
#include "pusher.h"

#define MAX_WORKERS      8
//  Bursts of sealed pushes a worker may have handed to the publisher and
//  not yet seen published: past it the worker waits (the publisher never
//  does)
#define FRAMES_HWM       100
//  Sealed pushes in one burst at most: a group's pushes leave together,
//  and a worker never holds more than this many unsent
#define BURST_PUSHES     32
//  The largest subscription message taken: a token is 16 bytes
#define SUBSCRIPTION_MAX 256
#define REPORT_MS        10000
//  Refused subscriptions an address may send: a burst, then one a second.
//  A client sends one subscription per handshake, for its own token, so it
//  is never refused; libzmq keeps every subscription it is sent until the
//  subscriber goes, refused or not, so a flood of them is memory. Past the
//  budget, the address's push connections are closed (which frees it).
#define REFUSALS_BURST   32
#define REFUSALS_RATE    1.0
#define REFUSAL_ADDRESSES 10000
//  Senders are counted in this many slots, by a keyed hash of the name
//  (the key is random per process, so nobody can pick a name that shares
//  a victim's slot on purpose)
#define SENDER_SLOTS     1024
//  Sessions whose push key a seal worker keeps made ready (pushkeys.h):
//  a context pair of about 1 KiB each
#define PUSH_KEY_SLOTS   4096

typedef struct {
    uint8_t token [CHANNEL_SESSION_TOKEN_SIZE];
    uint8_t session_id [CHANNEL_SESSION_ID_SIZE];
    uint8_t key [FERNET_KEY_SIZE];
    uint64_t seq;
} target_t;

//  What a job took from the bounds, given back once it is sealed
typedef struct {
    size_t bytes;               //  against queued
    size_t work;                //  against its sender's slot
    size_t slot;
} charge_t;

typedef struct {
    char jobs [64];
    char frames [64];
    atomic_size_t *queued;
    atomic_size_t *senders;     //  SENDER_SLOTS of them
} worker_args_t;

typedef struct {
    char control [64];
    char frames [64];
    char monitor [64];
    int hwm;
} publisher_args_t;

//  Each pusher's inproc endpoints carry a number of its own, never an
//  address: a pusher made right after another was destroyed may get the
//  same address while libzmq is still closing the old sockets, and its
//  threads would then connect to those
static atomic_uint s_instances;

//  Threads that are joined when stopped (actorthread): a program that ends
//  right after pusher_destroy finds none of them still on their way out
struct _pusher_t {
    actorthread_t *publisher;
    zsock_t *control;
    actorthread_t *workers [MAX_WORKERS];
    zsock_t *jobs [MAX_WORKERS];
    size_t worker_count;
    atomic_size_t queued;       //  bytes of jobs not yet sealed
    size_t queue_bytes;
    size_t dropped;
    //  Per sender slot: bytes still to be sealed (payload x targets)
    atomic_size_t senders [SENDER_SLOTS];
    //  SipHash keyed once in pusher_new (the key is in the context only);
    //  each name is hashed on a copy of it, so SipHash is never fetched
    //  by name per push and no state carries from one name to the next
    EVP_MAC_CTX *sender_mac;
};

//  ---------------------------------------------------------------- publisher

//  A subscriber's connection, from the XPUB's monitor
typedef struct {
    int fd;
    struct sockaddr_storage peer, local;
    socklen_t peer_len, local_len;
    char address [CHANSERVER_ADDRESS_SIZE];
} connection_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *xpub;
    zsock_t *control;
    zsock_t *frames;
    zsock_t *monitor;           //  the XPUB's connection events
    zhashx_t *live;             //  token (hex) -> itself
    zhashx_t *connections;      //  fd (text) -> connection_t
    lrumap_t *refusals;         //  address -> bucket_t
    size_t refused;             //  subscriptions refused since the last report
    size_t retired;             //  tokens retired since the start (see below)
    size_t closed;              //  connections closed since the last report
    int64_t reported_at;
} publisher_t;

//  Take every live/dead word waiting: "L" or "D" then the token.
static void
s_publisher_control (publisher_t *self)
{
    while (zsock_events (self->control) & ZMQ_POLLIN) {
        zframe_t *frame = zframe_recv (self->control);
        if (!frame)
            break;
        if (zframe_size (frame) == 1 + CHANNEL_SESSION_TOKEN_SIZE) {
            char hex [CHANNEL_SESSION_TOKEN_SIZE * 2 + 1];
            codec_hex_into (zframe_data (frame) + 1, CHANNEL_SESSION_TOKEN_SIZE, hex);
            if (zframe_data (frame) [0] == 'L')
                zhashx_update (self->live, hex, self);
            else
                zhashx_delete (self->live, hex);
        }
        zframe_destroy (&frame);
    }
}

//  ---------------------------------------------------------------- connections

static void
s_connection_add (publisher_t *self, int fd)
{
    connection_t *connection = (connection_t *) zmalloc (sizeof (connection_t));
    connection->fd = fd;
    connection->peer_len = sizeof connection->peer;
    connection->local_len = sizeof connection->local;
    if (getpeername (fd, (struct sockaddr *) &connection->peer, &connection->peer_len) != 0
    ||  getsockname (fd, (struct sockaddr *) &connection->local, &connection->local_len) != 0) {
        free (connection);
        return;
    }
    char text [INET6_ADDRSTRLEN] = "";
    if (connection->peer.ss_family == AF_INET)
        inet_ntop (AF_INET, &((struct sockaddr_in *) &connection->peer)->sin_addr,
                   text, sizeof text);
    else
    if (connection->peer.ss_family == AF_INET6)
        inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &connection->peer)->sin6_addr,
                   text, sizeof text);
    chanserver_address_key (text, connection->address);
    char key [16];
    snprintf (key, sizeof key, "%d", fd);
    zhashx_update (self->connections, key, connection);
}

//  Close every push connection from address (the subscriptions libzmq
//  holds for them go with them). The fd is checked to be the connection
//  the monitor named (same two ends), never another that took its number.
static void
s_close_address (publisher_t *self, const char *address)
{
    connection_t *connection = (connection_t *) zhashx_first (self->connections);
    while (connection) {
        struct sockaddr_storage peer, local;
        socklen_t peer_len = sizeof peer, local_len = sizeof local;
        if (streq (connection->address, address)
        &&  getpeername (connection->fd, (struct sockaddr *) &peer, &peer_len) == 0
        &&  getsockname (connection->fd, (struct sockaddr *) &local, &local_len) == 0
        &&  peer_len == connection->peer_len && local_len == connection->local_len
        &&  memcmp (&peer, &connection->peer, peer_len) == 0
        &&  memcmp (&local, &connection->local, local_len) == 0) {
            shutdown (connection->fd, SHUT_RDWR);
            self->closed++;
        }
        connection = (connection_t *) zhashx_next (self->connections);
    }
}

//  The monitor's events: [event (2 bytes), value (4 bytes)][endpoint]
static void
s_publisher_monitor (publisher_t *self)
{
    while (zsock_events (self->monitor) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (self->monitor);
        if (!msg)
            break;
        zframe_t *frame = zmsg_first (msg);
        if (frame && zframe_size (frame) == 6) {
            uint16_t event;
            int32_t value;
            memcpy (&event, zframe_data (frame), 2);
            memcpy (&value, zframe_data (frame) + 2, 4);
            char key [16];
            snprintf (key, sizeof key, "%d", value);
            if (event == ZMQ_EVENT_ACCEPTED)
                s_connection_add (self, value);
            else
                zhashx_delete (self->connections, key);
        }
        zmsg_destroy (&msg);
    }
}

//  A subscription was refused: past its address's budget, the address's
//  push connections are closed
static void
s_refused (publisher_t *self, zmq_msg_t *msg)
{
    self->refused++;
    char address [CHANSERVER_ADDRESS_SIZE];
    chanserver_address_key (zmq_msg_gets (msg, "Peer-Address"), address);
    bucket_t *bucket = (bucket_t *) lrumap_get (self->refusals, address);
    if (bucket_take (bucket, REFUSALS_RATE, REFUSALS_BURST, 1, zclock_mono ()) > 0) {
        //  Events not yet read may name connections that are open
        s_publisher_monitor (self);
        s_close_address (self, address);
    }
}

//  ---------------------------------------------------------------- subscriptions

//  libzmq 4.3.4 (Debian 12's) in manual mode hands out a subscription
//  together with its subscriber's pipe even when that pipe was closed and
//  freed before the subscription was read; ZMQ_SUBSCRIBE then puts the freed
//  pipe in the subscription tree, and the next send to that token reads
//  freed memory (fixed upstream after 4.3.4, commit 2df7ab6a). A subscriber
//  that subscribes its own token and hangs up at once would crash the
//  server. When a pipe closes, libzmq queues an unsubscription without
//  metadata for each of its topics, behind everything it had sent: so if a
//  subscription applied in this pass is followed, in the same pass, by such
//  an unsubscription of the same token, its pipe may have been closed before
//  we applied it, and that token is retired: never sent to again, never
//  admitted again (its session goes on without pushes, as after a missed
//  subscription, and catches up by fetching). libzmq reads new commands
//  only between passes (and once every 100 messages), so a pipe closed
//  before its subscription was read always shows up in the same pass.
//  An unsubscription: a subscriber's own, or one libzmq made for a pipe
//  that closed (those carry no metadata, so no peer address)
static void
s_unsubscribed (publisher_t *self, void *xpub, zmq_msg_t *msg, zhashx_t *applied)
{
    const uint8_t *data = (const uint8_t *) zmq_msg_data (msg);
    size_t size = zmq_msg_size (msg);
    zmq_setsockopt (xpub, ZMQ_UNSUBSCRIBE, data + 1, size - 1);
    if (size == 1 + CHANNEL_SESSION_TOKEN_SIZE && !zmq_msg_gets (msg, "Peer-Address")) {
        char hex [CHANNEL_SESSION_TOKEN_SIZE * 2 + 1];
        codec_hex_into (data + 1, CHANNEL_SESSION_TOKEN_SIZE, hex);
        if (zhashx_lookup (applied, hex) && zhashx_lookup (self->live, hex)) {
            zhashx_delete (self->live, hex);
            self->retired++;
            zsys_notice ("pusher: a subscriber hung up before its subscription was read; "
                         "its session's token is retired (no more pushes for that session)");
        }
    }
}

//  Subscriptions: applied only for a live session's token. In manual mode
//  ZMQ_SUBSCRIBE / _UNSUBSCRIBE act on the subscriber whose message was
//  read last, so each is answered right after it is read.
static void
s_publisher_subscriptions (publisher_t *self)
{
    //  A subscription may come right after its session was made: the word
    //  that made the token live left before the Welcome did
    s_publisher_control (self);
    void *xpub = zsock_resolve (self->xpub);
    //  The tokens subscribed in this pass (hex -> itself)
    zhashx_t *applied = zhashx_new ();
    assert (applied);
    //  One pass: only zmq_msg_recv until the queue is empty, nothing else
    //  that would make libzmq read its commands (see above)
    while (true) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, xpub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&msg);
            break;
        }
        const uint8_t *data = (const uint8_t *) zmq_msg_data (&msg);
        size_t size = zmq_msg_size (&msg);
        if (size >= 1 && data [0] == 0)
            s_unsubscribed (self, xpub, &msg, applied);
        else
        if (size == 1 + CHANNEL_SESSION_TOKEN_SIZE && data [0] == 1) {
            char hex [CHANNEL_SESSION_TOKEN_SIZE * 2 + 1];
            codec_hex_into (data + 1, CHANNEL_SESSION_TOKEN_SIZE, hex);
            if (zhashx_lookup (self->live, hex)) {
                zmq_setsockopt (xpub, ZMQ_SUBSCRIBE, data + 1, size - 1);
                zhashx_update (applied, hex, self);
            }
            else
                s_refused (self, &msg);
        }
        else
            s_refused (self, &msg);
        zmq_msg_close (&msg);
    }
    zhashx_destroy (&applied);
}

//  Only a live session's token is ever sent to (a retired one may have a
//  freed subscriber behind it; a dead one never carries anything again).
//  A token made live just now may have its word still on its way.
static bool
s_sendable (publisher_t *self, zmq_msg_t *token)
{
    if (zmq_msg_size (token) != CHANNEL_SESSION_TOKEN_SIZE)
        return false;
    char hex [CHANNEL_SESSION_TOKEN_SIZE * 2 + 1];
    codec_hex_into ((const uint8_t *) zmq_msg_data (token), CHANNEL_SESSION_TOKEN_SIZE, hex);
    if (zhashx_lookup (self->live, hex))
        return true;
    s_publisher_control (self);
    return zhashx_lookup (self->live, hex) != NULL;
}

//  One [token][sealed] pair of a burst, sent on as the 2-frame message a
//  subscriber gets, each part's message handed on without a copy.
//  1: a pair was read; 0: the burst has ended (its empty last part, or
//  it was not whole pairs, which cannot happen: the workers make them;
//  either way its last part has been read, so no part is ever taken for
//  the start of a message); -1: no burst waiting (ZMQ_DONTWAIT).
static int
s_publisher_pair (publisher_t *self, void *frames, void *xpub, int flags)
{
    zmq_msg_t token, sealed;
    zmq_msg_init (&token);
    zmq_msg_init (&sealed);
    int rc = -1;
    if (zmq_msg_recv (&token, frames, flags) != -1) {
        rc = zmq_msg_more (&token)
          && zmq_msg_recv (&sealed, frames, 0) != -1
          && zmq_msg_more (&sealed);
        if (rc == 1 && s_sendable (self, &token)
        &&  zmq_msg_send (&token, xpub, ZMQ_SNDMORE) != -1)
            zmq_msg_send (&sealed, xpub, 0);
    }
    zmq_msg_close (&token);
    zmq_msg_close (&sealed);
    return rc;
}

//  Sealed pushes from the workers go out, each burst split into its
//  [token][sealed] pairs; a subscriber whose queue is full (its high-water
//  mark) just misses them.
static void
s_publisher_frames (publisher_t *self)
{
    void *frames = zsock_resolve (self->frames);
    void *xpub = zsock_resolve (self->xpub);
    for (int count = 0; count < 1000; count++) {
        int rc = s_publisher_pair (self, frames, xpub, ZMQ_DONTWAIT);
        if (rc == -1)
            break;
        //  The rest of a burst is there already: a multipart message
        //  arrives whole
        while (rc == 1)
            rc = s_publisher_pair (self, frames, xpub, 0);
    }
}

static void
s_publisher_pipe (publisher_t *self, bool *done)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    char *command = msg ? zmsg_popstr (msg) : NULL;
    if (!command || streq (command, "$TERM"))
        *done = true;
    else
    if (streq (command, "BIND")) {
        char *endpoint = zmsg_popstr (msg);
        if (endpoint && zsock_bind (self->xpub, "%s", endpoint) != -1)
            zstr_send (self->pipe, zsock_endpoint (self->xpub));
        else
            zstr_sendf (self->pipe, "ERROR %s", zmq_strerror (zmq_errno ()));
        zstr_free (&endpoint);
    }
    else
    if (streq (command, "RETIRED"))
        zstr_sendf (self->pipe, "%zu", self->retired);
    else
    if (streq (command, "HOLD")) {
        //  Tests: stand still while a subscriber comes and goes, then let
        //  libzmq read its commands (the pipe's close among them) before
        //  anything on the XPUB is read, as a busy publisher would
        char *ms = zmsg_popstr (msg);
        zstr_send (self->pipe, "OK");
        zclock_sleep (ms ? atoi (ms) : 0);
        for (int round = 0; round < 10; round++) {
            zsock_events (self->xpub);
            zclock_sleep (10);
        }
        zstr_free (&ms);
    }
    else
    if (streq (command, "SYNC")) {
        //  Everything sealed before SYNC was sent is out after this
        s_publisher_control (self);
        while (zsock_events (self->frames) & ZMQ_POLLIN)
            s_publisher_frames (self);
        zstr_send (self->pipe, "OK");
    }
    zstr_free (&command);
    zmsg_destroy (&msg);
}

static void
s_publisher (zsock_t *pipe, void *args)
{
    publisher_args_t *config = (publisher_args_t *) args;
    publisher_t self;
    memset (&self, 0, sizeof self);
    self.pipe = pipe;
    self.live = zhashx_new ();
    self.connections = zhashx_new ();
    self.refusals = lrumap_new (REFUSAL_ADDRESSES, sizeof (bucket_t));
    self.reported_at = zclock_mono ();
    self.xpub = zsock_new (ZMQ_XPUB);
    self.control = zsock_new_pull (config->control);
    self.frames = zsock_new_pull (config->frames);
    if (self.xpub
    &&  zmq_socket_monitor (zsock_resolve (self.xpub), config->monitor, ZMQ_EVENT_ACCEPTED
                            | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED) == 0)
        self.monitor = zsock_new_pair (config->monitor);
    zpoller_t *poller = NULL;
    if (!self.xpub || !self.control || !self.frames || !self.live || !self.connections
    ||  !self.monitor) {
        zsock_signal (pipe, 1);
        goto done;
    }
    zhashx_set_destructor (self.connections, (zhashx_destructor_fn *) zstr_free);
    zsock_set_xpub_manual (self.xpub, 1);
    zsock_set_sndhwm (self.xpub, config->hwm);
    zsock_set_maxmsgsize (self.xpub, SUBSCRIPTION_MAX);
    zsock_set_linger (self.xpub, 0);
    poller = zpoller_new (pipe, self.control, self.frames, self.xpub, self.monitor, NULL);
    //  A signal is the owner's to act on: the publisher stops at its $TERM,
    //  after the sessions have said their last dead tokens
    if (poller)
        zpoller_set_nonstop (poller, true);
    zsock_signal (pipe, 0);
    bool finished = false;
    while (!finished && poller) {
        void *which = zpoller_wait (poller, REPORT_MS);
        if (which == pipe)
            s_publisher_pipe (&self, &finished);
        else
        if (which == self.control)
            s_publisher_control (&self);
        else
        if (which == self.xpub)
            s_publisher_subscriptions (&self);
        else
        if (which == self.frames)
            s_publisher_frames (&self);
        else
        if (which == self.monitor)
            s_publisher_monitor (&self);
        else
        if (zpoller_terminated (poller))
            break;
        if (self.refused && zclock_mono () - self.reported_at >= REPORT_MS) {
            zsys_info ("pusher: %zu subscriptions refused (not a live session's token), "
                       "%zu subscriber connections closed for sending too many",
                       self.refused, self.closed);
            self.refused = self.closed = 0;
        }
        if (!self.refused)
            self.reported_at = zclock_mono ();
    }
done:
    zpoller_destroy (&poller);
    if (self.xpub)
        zmq_socket_monitor (zsock_resolve (self.xpub), NULL, 0);
    zsock_destroy (&self.monitor);
    zsock_destroy (&self.xpub);
    zsock_destroy (&self.control);
    zsock_destroy (&self.frames);
    zhashx_destroy (&self.live);
    zhashx_destroy (&self.connections);
    lrumap_destroy (&self.refusals);
    free (config);
}

//  ---------------------------------------------------------------- workers

//  A worker's buffer for one sealed push, grown to the largest a job needs
typedef struct {
    uint8_t *data;
    size_t capacity;
} sealbuf_t;

static bool
s_sealbuf_fit (sealbuf_t *buffer, size_t capacity)
{
    if (buffer->capacity >= capacity)
        return true;
    uint8_t *data = (uint8_t *) realloc (buffer->data, capacity);
    if (!data)
        return false;
    buffer->data = data;
    buffer->capacity = capacity;
    return true;
}

//  One part of a burst: a copy of data in a message of its own, which
//  libzmq hands to the publisher (inproc) and then to the subscriber's
//  pipe without copying it again. false when the frames socket is gone.
static bool
s_burst_part (void *frames, const uint8_t *data, size_t size, bool more)
{
    zmq_msg_t part;
    if (zmq_msg_init_size (&part, size) != 0)
        return false;
    if (size)
        memcpy (zmq_msg_data (&part), data, size);
    if (zmq_msg_send (&part, frames, more? ZMQ_SNDMORE: 0) == -1) {
        zmq_msg_close (&part);
        return false;
    }
    return true;
}

static void
s_seal_job (zsock_t *frames, zmsg_t *job, pushkeys_t *keys, sealbuf_t *buffer,
            worker_args_t *config)
{
    zframe_t *payload = zmsg_first (job);
    zframe_t *targets = zmsg_next (job);
    zframe_t *charge = zmsg_next (job);
    if (!payload || !targets || !charge || zframe_size (charge) != sizeof (charge_t)
    ||  zframe_size (targets) % sizeof (target_t) != 0)
        return;                 //  cannot happen: we made it
    size_t count = zframe_size (targets) / sizeof (target_t);
    int64_t now = wire_now ();
    void *socket = zsock_resolve (frames);
    bool sending = s_sealbuf_fit (buffer, channel_push_frame_max (zframe_size (payload)));
    size_t in_burst = 0;
    for (size_t index = 0; sending && index < count; index++) {
        target_t target;
        memcpy (&target, zframe_data (targets) + index * sizeof target, sizeof target);
        fernet_key_t *key = pushkeys_get (keys, target.session_id, target.key);
        size_t size = 0;
        if (key
        &&  channel_seal_push_into (key, target.seq, target.session_id,
                                    zframe_data (payload), zframe_size (payload), now,
                                    buffer->data, buffer->capacity, &size) == CHAT_OK) {
            sending = s_burst_part (socket, target.token, sizeof target.token, true)
                   && s_burst_part (socket, buffer->data, size, true);
            in_burst++;
        }
        secret_wipe (&target, sizeof target);
        if (sending && in_burst > 0 && (in_burst == BURST_PUSHES || index + 1 == count)) {
            sending = s_burst_part (socket, NULL, 0, false);
            in_burst = 0;
        }
    }
    secret_wipe (zframe_data (targets), zframe_size (targets));
    charge_t charged;
    memcpy (&charged, zframe_data (charge), sizeof charged);
    atomic_fetch_sub (config->queued, charged.bytes);
    atomic_fetch_sub (&config->senders [charged.slot], charged.work);
}

static void
s_worker (zsock_t *pipe, void *args)
{
    worker_args_t *config = (worker_args_t *) args;
    zsock_t *jobs = zsock_new_pull (config->jobs);
    zsock_t *frames = zsock_new (ZMQ_PUSH);
    if (frames) {
        zsock_set_sndhwm (frames, FRAMES_HWM);
        if (zsock_connect (frames, "%s", config->frames) != 0)
            zsock_destroy (&frames);
    }
    pushkeys_t *keys = pushkeys_new (PUSH_KEY_SLOTS);
    sealbuf_t buffer = { NULL, 0 };
    zpoller_t *poller = jobs && frames && keys ? zpoller_new (pipe, jobs, NULL) : NULL;
    //  As the publisher: stopped by $TERM, not by a signal
    if (poller)
        zpoller_set_nonstop (poller, true);
    zsock_signal (pipe, poller ? 0 : 1);
    while (poller) {
        void *which = zpoller_wait (poller, -1);
        if (which != jobs)
            break;              //  $TERM, or the context is gone
        zmsg_t *job = zmsg_recv (jobs);
        if (job)
            s_seal_job (frames, job, keys, &buffer, config);
        zmsg_destroy (&job);
    }
    zpoller_destroy (&poller);
    pushkeys_destroy (&keys);
    free (buffer.data);
    zsock_destroy (&jobs);
    zsock_destroy (&frames);
    free (config);
    //  This thread's OpenSSL state goes with it, not at exit
    OPENSSL_thread_stop ();
}

//  ---------------------------------------------------------------- pusher

//  SipHash of a sender's name under this process's key, on a copy of the
//  keyed context (copying is cheaper than fetching SipHash by name, which
//  EVP_Q_mac did on every push). The output is SipHash's whole default
//  (16 bytes): with 8 asked of EVP_Q_mac it failed every time, which put
//  every sender in one slot and let one sender's backlog refuse
//  everybody's pushes.
static bool
s_sender_hash (pusher_t *self, const char *sender, uint64_t *value)
{
    uint8_t hash [16];
    size_t hash_len = 0;
    EVP_MAC_CTX *mac = EVP_MAC_CTX_dup (self->sender_mac);
    bool ok = mac
           && EVP_MAC_update (mac, (const uint8_t *) sender, strlen (sender))
           && EVP_MAC_final (mac, hash, &hash_len, sizeof hash)
           && hash_len >= sizeof *value;
    EVP_MAC_CTX_free (mac);
    if (ok)
        memcpy (value, hash, sizeof *value);
    return ok;
}

//  A SipHash context keyed with a fresh random key (wiped here once the
//  context holds it), or NULL.
static EVP_MAC_CTX *
s_sender_mac_new (void)
{
    uint8_t key [16];
    EVP_MAC *siphash = EVP_MAC_fetch (NULL, "SIPHASH", NULL);
    EVP_MAC_CTX *mac = siphash? EVP_MAC_CTX_new (siphash): NULL;
    EVP_MAC_free (siphash);             //  the context keeps its own reference
    if (mac && (secret_random (key, sizeof key) != 0
            ||  !EVP_MAC_init (mac, key, sizeof key, NULL))) {
        EVP_MAC_CTX_free (mac);
        mac = NULL;
    }
    secret_wipe (key, sizeof key);
    return mac;
}

//  The slot a sender's pushes are counted in. pusher_new proved that the
//  hash works, so a failure here is the library out of memory: all such
//  pushes share slot 0, fair to nobody and unfair to none.
static size_t
s_sender_slot (pusher_t *self, const char *sender)
{
    uint64_t value;
    if (!s_sender_hash (self, sender, &value))
        return 0;
    return (size_t) (value % SENDER_SLOTS);
}

pusher_t *
pusher_new (size_t workers, int hwm, size_t queue_bytes)
{
    if (workers == 0) {
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        workers = cores < 1 ? 1 : (size_t) cores;
    }
    if (workers > MAX_WORKERS)
        workers = MAX_WORKERS;
    pusher_t *self = (pusher_t *) zmalloc (sizeof (pusher_t));
    assert (self);
    atomic_init (&self->queued, 0);
    self->queue_bytes = queue_bytes;
    for (size_t slot = 0; slot < SENDER_SLOTS; slot++)
        atomic_init (&self->senders [slot], 0);
    //  Refuse to start unkeyed: every sender in one slot would let one
    //  sender's backlog refuse everybody's pushes
    uint64_t probe;
    self->sender_mac = s_sender_mac_new ();
    if (!self->sender_mac || !s_sender_hash (self, "", &probe)) {
        zsys_error ("pusher: cannot key the senders' SipHash (OpenSSL)");
        EVP_MAC_CTX_free (self->sender_mac);
        free (self);
        return NULL;
    }

    publisher_args_t *publisher = (publisher_args_t *) zmalloc (sizeof *publisher);
    assert (publisher);
    unsigned instance = atomic_fetch_add (&s_instances, 1);
    snprintf (publisher->control, sizeof publisher->control, "inproc://pusher-%u-control",
              instance);
    snprintf (publisher->frames, sizeof publisher->frames, "inproc://pusher-%u-frames",
              instance);
    snprintf (publisher->monitor, sizeof publisher->monitor, "inproc://pusher-%u-monitor",
              instance);
    publisher->hwm = hwm;
    char frames [64];
    memcpy (frames, publisher->frames, sizeof frames);
    char control [64];
    memcpy (control, publisher->control, sizeof control);
    self->publisher = actorthread_new (s_publisher, publisher);
    //  Session churn is bounded by the handshake budget: no HWM here, so
    //  that a live token is never lost
    self->control = zsock_new (ZMQ_PUSH);
    if (!self->publisher || !self->control) {
        pusher_destroy (&self);
        return NULL;
    }
    zsock_set_sndhwm (self->control, 0);
    zsock_connect (self->control, "%s", control);
    for (size_t index = 0; index < workers; index++) {
        worker_args_t *worker = (worker_args_t *) zmalloc (sizeof *worker);
        assert (worker);
        snprintf (worker->jobs, sizeof worker->jobs, "inproc://pusher-%u-jobs-%zu",
                  instance, index);
        memcpy (worker->frames, frames, sizeof frames);
        worker->queued = &self->queued;
        worker->senders = self->senders;
        char jobs [64];
        memcpy (jobs, worker->jobs, sizeof jobs);
        self->workers [index] = actorthread_new (s_worker, worker);
        //  Jobs are bounded in bytes by queue_bytes, not here
        self->jobs [index] = zsock_new (ZMQ_PUSH);
        if (!self->workers [index] || !self->jobs [index]) {
            self->worker_count = index + 1;
            pusher_destroy (&self);
            return NULL;
        }
        zsock_set_sndhwm (self->jobs [index], 0);
        zsock_set_linger (self->jobs [index], 0);
        zsock_connect (self->jobs [index], "%s", jobs);
        self->worker_count = index + 1;
    }
    return self;
}

void
pusher_destroy (pusher_t **self_p)
{
    assert (self_p);
    pusher_t *self = *self_p;
    if (!self)
        return;
    //  Jobs not yet taken are dropped; workers finish the one in hand,
    //  which the publisher (stopped last) still takes
    for (size_t index = 0; index < self->worker_count; index++)
        zsock_destroy (&self->jobs [index]);
    for (size_t index = 0; index < self->worker_count; index++)
        actorthread_destroy (&self->workers [index]);
    zsock_destroy (&self->control);
    actorthread_destroy (&self->publisher);
    EVP_MAC_CTX_free (self->sender_mac);
    free (self);
    *self_p = NULL;
}

int
pusher_bind (pusher_t *self, const char *endpoint, char **bound)
{
    assert (self && endpoint && bound);
    zsock_t *publisher = actorthread_sock (self->publisher);
    zstr_sendx (publisher, "BIND", endpoint, NULL);
    char *answer = zstr_recv (publisher);
    if (!answer || strncmp (answer, "ERROR", 5) == 0) {
        if (answer)
            zsys_error ("pusher: cannot bind %s: %s", endpoint, answer + 5);
        zstr_free (&answer);
        return -1;
    }
    *bound = answer;
    return 0;
}

void
pusher_set_queue_bytes (pusher_t *self, size_t queue_bytes)
{
    assert (self);
    self->queue_bytes = queue_bytes;
}

static void
s_token_word (pusher_t *self, char word, channel_t *channel)
{
    uint8_t data [1 + CHANNEL_SESSION_TOKEN_SIZE];
    data [0] = (uint8_t) word;
    memcpy (data + 1, channel_session_token (channel), CHANNEL_SESSION_TOKEN_SIZE);
    zframe_t *frame = zframe_new (data, sizeof data);
    if (zframe_send (&frame, self->control, ZFRAME_DONTWAIT) != 0) {
        zframe_destroy (&frame);
        zsys_error ("pusher: could not pass a session's token on");
    }
    secret_wipe (data, sizeof data);
}

void
pusher_session_open (pusher_t *self, channel_t *channel)
{
    assert (self && channel);
    s_token_word (self, 'L', channel);
}

void
pusher_session_close (pusher_t *self, channel_t *channel)
{
    assert (self && channel);
    s_token_word (self, 'D', channel);
}

//  Whether a push of this charge may wait: within the queue's bound, and
//  within its sender's share of the sealing work unless the sender has
//  nothing waiting (so one push of any size always goes when idle)
static bool
s_admit (pusher_t *self, size_t bytes, size_t slot, size_t work)
{
    if (self->queue_bytes && atomic_load (&self->queued) + bytes > self->queue_bytes)
        return false;
    size_t waiting = atomic_load (&self->senders [slot]);
    return waiting == 0 || waiting + work <= PUSHER_SENDER_WORK;
}

int
pusher_push (pusher_t *self, const char *sender, channel_t **channels, size_t count,
             const uint8_t *payload, size_t len)
{
    assert (self && sender);
    if (count == 0)
        return CHAT_OK;
    size_t charge = len * self->worker_count + count * sizeof (target_t);
    size_t slot = s_sender_slot (self, sender);
    if (!s_admit (self, charge, slot, len * count)) {
        if (self->dropped++ % 1000 == 0)
            zsys_warning ("pusher: queue full (%zu bytes, or a sender's share of %d), "
                          "%zu pushes dropped so far",
                          self->queue_bytes, PUSHER_SENDER_WORK, self->dropped);
        return CHAT_ERR_BUSY;
    }
    //  Each worker's targets, in the order given
    target_t *targets = (target_t *) malloc (count * sizeof (target_t));
    size_t *index = (size_t *) calloc (self->worker_count + 1, sizeof (size_t));
    assert (targets && index);
    for (size_t n = 0; n < count; n++)
        index [channel_session_id (channels [n]) [0] % self->worker_count + 1]++;
    for (size_t worker = 1; worker <= self->worker_count; worker++)
        index [worker] += index [worker - 1];
    //  index [w] is now where worker w's targets start
    size_t *fill = (size_t *) malloc ((self->worker_count + 1) * sizeof (size_t));
    assert (fill);
    memcpy (fill, index, (self->worker_count + 1) * sizeof (size_t));
    for (size_t n = 0; n < count; n++) {
        size_t worker = channel_session_id (channels [n]) [0] % self->worker_count;
        target_t *target = &targets [fill [worker]++];
        memcpy (target->token, channel_session_token (channels [n]),
                CHANNEL_SESSION_TOKEN_SIZE);
        memcpy (target->session_id, channel_session_id (channels [n]),
                CHANNEL_SESSION_ID_SIZE);
        target->seq = channel_push_reserve (channels [n], target->key);
    }
    for (size_t worker = 0; worker < self->worker_count; worker++) {
        size_t first = index [worker], many = index [worker + 1] - first;
        if (many == 0)
            continue;
        charge_t job_charge = { len + many * sizeof (target_t), len * many, slot };
        atomic_fetch_add (&self->queued, job_charge.bytes);
        atomic_fetch_add (&self->senders [slot], job_charge.work);
        zmsg_t *job = zmsg_new ();
        zmsg_addmem (job, payload, len);
        zmsg_addmem (job, targets + first, many * sizeof (target_t));
        zmsg_addmem (job, &job_charge, sizeof job_charge);
        if (zmsg_send (&job, self->jobs [worker]) != 0) {
            zmsg_destroy (&job);
            atomic_fetch_sub (&self->queued, job_charge.bytes);
            atomic_fetch_sub (&self->senders [slot], job_charge.work);
        }
    }
    secret_wipe (targets, count * sizeof (target_t));
    free (targets);
    free (index);
    free (fill);
    return CHAT_OK;
}

size_t
pusher_dropped (pusher_t *self)
{
    assert (self);
    return self->dropped;
}

bool
pusher_flush (pusher_t *self, int timeout_ms)
{
    assert (self);
    int64_t until = zclock_mono () + timeout_ms;
    while (atomic_load (&self->queued) > 0) {
        if (zclock_mono () >= until)
            return false;
        zclock_sleep (1);
    }
    zsock_t *publisher = actorthread_sock (self->publisher);
    zstr_send (publisher, "SYNC");
    char *answer = zstr_recv (publisher);
    bool synced = answer && streq (answer, "OK");
    zstr_free (&answer);
    return synced;
}

size_t
pusher_retired (pusher_t *self)
{
    assert (self);
    zsock_t *publisher = actorthread_sock (self->publisher);
    zstr_send (publisher, "RETIRED");
    char *answer = zstr_recv (publisher);
    size_t retired = answer ? (size_t) strtoull (answer, NULL, 10) : 0;
    zstr_free (&answer);
    return retired;
}

void
pusher_hold (pusher_t *self, int ms)
{
    assert (self);
    zsock_t *publisher = actorthread_sock (self->publisher);
    char text [16];
    snprintf (text, sizeof text, "%d", ms);
    zstr_sendx (publisher, "HOLD", text, NULL);
    char *answer = zstr_recv (publisher);
    zstr_free (&answer);
}
