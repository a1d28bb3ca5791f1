/*  chanserver - the server side of the secure channel on a ROUTER socket

    Both servers put everything that is the same for them here: handshakes,
    the session table, refusals, sealing replies, and the limits on what a
    stranger can make them spend. What arrives on the ROUTER is [routing
    id][one frame]; anything else is refused.
*/
#include <stdatomic.h>
#include "chanserver.h"
#include "bucket.h"
#include "chaterror.h"
#include "codec.h"
#include "credential.h"
#include "lrumap.h"
#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <unistd.h>

//  Handshake budgets of addresses remembered at once. A forgotten one
//  starts again with a full burst, so this is far above the number of
//  addresses that can be mid-burst at a time (budgets that have refilled
//  are forgotten by chanserver_expire anyway).
#define BUDGET_ADDRESSES 100000
//  retry_after_ms when a session cap is reached: sessions not logged in go
//  within the login timeout, so asking again soon is reasonable
#define CAP_RETRY_MS 5000

//  What is counted per source address
typedef struct {
    size_t sessions;
    size_t pending;                //  handshakes at the workers
} address_t;

struct _chanserver_t {
    zsock_t *router;               //  borrowed
    rsakey_t *server_key;          //  borrowed
    zhashx_t *sessions;            //  id_hex -> chansession_t
    chansession_free_fn *free_fn;
    void *free_arg;
    chansession_open_fn *open_fn;
    void *open_arg;
    serverlimits_t limits;         //  only the handshake and session fields
    bucket_t budget;               //  handshakes, all addresses
    lrumap_t *budgets;             //  address -> bucket_t
    zhashx_t *addresses;           //  address -> address_t
    zhashx_t *users;               //  folded username -> size_t count
    size_t refused_busy;           //  Hellos refused as busy, not yet logged
    int64_t refused_since;
    bool verbose;
    uint8_t *info;                 //  serialized WelcomeInfo, signed in every Welcome
    size_t info_len;
    metrics_t *metrics;            //  borrowed, may be NULL
    //  Handshake workers: Hellos go out on `hellos` (PUSH, round robin),
    //  finished handshakes come back on `done` (PULL)
    zlistx_t *workers;             //  zactor_t
    zsock_t *hellos;
    zsock_t *done;
    size_t pending;                //  handshakes at the workers
};

//  What a worker is given; the key is only ever read.
typedef struct {
    rsakey_t *server_key;
    const uint8_t *info;           //  the chanserver's, read only
    size_t info_len;
    char hellos [64];
    char done [64];
} worker_args_t;

//  Session ids as hash keys: lower-case hex, fixed size, no allocation
static void
s_id_hex (const uint8_t id [CHANNEL_SESSION_ID_SIZE],
          char hex [CHANNEL_SESSION_ID_SIZE * 2 + 1])
{
    codec_hex_into (id, CHANNEL_SESSION_ID_SIZE, hex);
}

static void
    s_workers_destroy (chanserver_t *self);

//  ---------------------------------------------------------------- counting

//  The count for an address, made when asked to
static address_t *
s_address (chanserver_t *self, const char *address, bool make)
{
    address_t *counts = (address_t *) zhashx_lookup (self->addresses, address);
    if (!counts && make) {
        counts = (address_t *) zmalloc (sizeof (address_t));
        assert (counts);
        zhashx_insert (self->addresses, address, counts);
    }
    return counts;
}

//  Forget an address that has neither sessions nor handshakes
static void
s_address_release (chanserver_t *self, const char *address)
{
    address_t *counts = s_address (self, address, false);
    if (counts && counts->sessions == 0 && counts->pending == 0)
        zhashx_delete (self->addresses, address);
}

static void
s_pending_done (chanserver_t *self, const char *address)
{
    address_t *counts = s_address (self, address, false);
    assert (counts && counts->pending > 0 && self->pending > 0);
    counts->pending--;
    self->pending--;
    s_address_release (self, address);
}

static size_t *
s_user_count (chanserver_t *self, const char *username, char key [USERNAME_MAX + 1])
{
    credential_username_fold (username, key, USERNAME_MAX + 1);
    return (size_t *) zhashx_lookup (self->users, key);
}

//  The session stops counting for the user it was logged in as
static void
s_user_release (chanserver_t *self, chansession_t *session)
{
    if (!session->username)
        return;
    char key [USERNAME_MAX + 1];
    size_t *count = s_user_count (self, session->username, key);
    if (count && --*count == 0)
        zhashx_delete (self->users, key);
    zstr_free (&session->username);
}

static void
s_session_destroy (chanserver_t *self, chansession_t **session_p)
{
    chansession_t *session = *session_p;
    if (!session)
        return;
    if (self->free_fn)
        self->free_fn (session, self->free_arg);
    s_user_release (self, session);
    address_t *counts = s_address (self, session->address, false);
    if (counts) {
        counts->sessions--;
        s_address_release (self, session->address);
    }
    channel_destroy (&session->channel);
    zframe_destroy (&session->routing_id);
    free (session);
    *session_p = NULL;
}

void
chanserver_address_key (const char *peer_address, char *out)
{
    unsigned char bytes [16];
    if (!peer_address || !*peer_address)
        snprintf (out, CHANSERVER_ADDRESS_SIZE, "local");
    else
    if (inet_pton (AF_INET, peer_address, bytes) == 1)
        snprintf (out, CHANSERVER_ADDRESS_SIZE, "%s", peer_address);
    else
    if (inet_pton (AF_INET6, peer_address, bytes) == 1) {
        static const unsigned char mapped [12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
        char text [INET6_ADDRSTRLEN];
        if (memcmp (bytes, mapped, sizeof mapped) == 0)
            inet_ntop (AF_INET, bytes + 12, out, CHANSERVER_ADDRESS_SIZE);
        else {
            //  One host may hold a whole /64: count the prefix
            memset (bytes + 8, 0, 8);
            inet_ntop (AF_INET6, bytes, text, sizeof text);
            snprintf (out, CHANSERVER_ADDRESS_SIZE, "%s/64", text);
        }
    }
    else    //  not an IP address (another transport): as given, cut
        snprintf (out, CHANSERVER_ADDRESS_SIZE, "%s", peer_address);
}

chanserver_t *
chanserver_new (zsock_t *router, rsakey_t *server_key)
{
    assert (router && server_key);
    chanserver_t *self = (chanserver_t *) zmalloc (sizeof *self);
    self->router = router;
    self->server_key = server_key;
    self->sessions = zhashx_new ();
    self->addresses = zhashx_new ();
    self->users = zhashx_new ();
    assert (self->sessions && self->addresses && self->users);
    zhashx_set_destructor (self->addresses, (zhashx_destructor_fn *) zstr_free);
    zhashx_set_destructor (self->users, (zhashx_destructor_fn *) zstr_free);
    self->budgets = lrumap_new (BUDGET_ADDRESSES, sizeof (bucket_t));
    self->refused_since = wire_now_ms ();
    return self;
}

void
chanserver_destroy (chanserver_t **self_p)
{
    assert (self_p);
    chanserver_t *self = *self_p;
    if (!self)
        return;
    chansession_t *session = (chansession_t *) zhashx_first (self->sessions);
    while (session) {
        s_session_destroy (self, &session);
        session = (chansession_t *) zhashx_next (self->sessions);
    }
    zhashx_destroy (&self->sessions);
    s_workers_destroy (self);
    free (self->info);
    zhashx_destroy (&self->addresses);
    zhashx_destroy (&self->users);
    lrumap_destroy (&self->budgets);
    free (self);
    *self_p = NULL;
}

void
chanserver_set_free_fn (chanserver_t *self, chansession_free_fn *fn, void *arg)
{
    self->free_fn = fn;
    self->free_arg = arg;
}

void
chanserver_set_open_fn (chanserver_t *self, chansession_open_fn *fn, void *arg)
{
    self->open_fn = fn;
    self->open_arg = arg;
}

void
chanserver_set_limits (chanserver_t *self, const serverlimits_t *limits)
{
    assert (self && limits);
    self->limits = *limits;
}

int
chanserver_set_username (chanserver_t *self, chansession_t *session,
                         const char *username)
{
    assert (self && session);
    s_user_release (self, session);
    if (!username) {
        chanserver_login_progress (self, session);
        return CHAT_OK;
    }
    char key [USERNAME_MAX + 1];
    size_t *count = s_user_count (self, username, key);
    if (self->limits.sessions_per_user > 0 && count
    &&  *count >= (size_t) self->limits.sessions_per_user) {
        chanserver_login_progress (self, session);
        return CHAT_ERR_QUOTA;
    }
    if (!count) {
        count = (size_t *) zmalloc (sizeof (size_t));
        assert (count);
        zhashx_insert (self->users, key, count);
    }
    (*count)++;
    session->username = strdup (username);
    assert (session->username);
    return CHAT_OK;
}

void
chanserver_login_progress (chanserver_t *self, chansession_t *session)
{
    assert (self && session);
    session->login_by = wire_now_ms () + self->limits.login_timeout_ms;
}

int
chanserver_set_welcome_info (chanserver_t *self, const char *role,
                             const char *push_endpoint,
                             const uint8_t *rotation, size_t rotation_len)
{
    assert (self && role);
    assert (!self->workers);        //  the workers read it unlocked
    uint8_t *info = NULL;
    size_t info_len = 0;
    int rc = channel_welcome_info (role, push_endpoint, rotation, rotation_len,
                                   &info, &info_len);
    if (rc == CHAT_OK) {
        free (self->info);
        self->info = info;
        self->info_len = info_len;
    }
    return rc;
}

void
chanserver_set_metrics (chanserver_t *self, metrics_t *metrics)
{
    self->metrics = metrics;
}

void
chanserver_census (chanserver_t *self, size_t *handshaking, size_t *anonymous,
                   size_t *logged_in)
{
    size_t named = 0;
    chansession_t *session = (chansession_t *) zhashx_first (self->sessions);
    while (session) {
        if (session->username)
            named++;
        session = (chansession_t *) zhashx_next (self->sessions);
    }
    *handshaking = self->pending;
    *anonymous = zhashx_size (self->sessions) - named;
    *logged_in = named;
}

void
chanserver_set_verbose (chanserver_t *self, bool verbose)
{
    self->verbose = verbose;
}

//  Send one frame to a peer; the routing frame is copied, data is not kept.
static int
s_send (chanserver_t *self, zframe_t *routing_id, const uint8_t *data, size_t size)
{
    zframe_t *to = zframe_dup (routing_id);
    zframe_t *body = zframe_new (data, size);
    if (zframe_send (&to, self->router, ZFRAME_MORE) == -1
    ||  zframe_send (&body, self->router, 0) == -1) {
        zframe_destroy (&to);
        zframe_destroy (&body);
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

static void
s_refuse (chanserver_t *self, zframe_t *routing_id, int code, uint32_t retry_ms)
{
    if (self->verbose)
        zsys_info ("chanserver: refused a frame: %s", chat_errname (code));
    metrics_refusal (self->metrics, code);
    uint8_t *frame;
    size_t size;
    if (wire_error_frame (code, NULL, retry_ms, &frame, &size) == CHAT_OK) {
        s_send (self, routing_id, frame, size);
        free (frame);
    }
}

//  A handshake is done: the session joins the table, the Welcome leaves.
static void
s_handshake_finish (chanserver_t *self, zframe_t *routing_id, const char *address,
                    channel_t *channel, const uint8_t *welcome, size_t size)
{
    chansession_t *session = (chansession_t *) zmalloc (sizeof *session);
    session->channel = channel;
    session->connected_since = session->last_activity = wire_now_ms ();
    session->login_by = session->connected_since + self->limits.login_timeout_ms;
    session->routing_id = zframe_dup (routing_id);
    snprintf (session->address, sizeof session->address, "%s", address);
    s_address (self, address, true)->sessions++;
    s_id_hex (channel_session_id (channel), session->id_hex);
    zhashx_insert (self->sessions, session->id_hex, session);
    metrics_handshake (self->metrics, CHAT_OK);
    zsys_info ("handshake: session %.8s from %s, client key %s (%zu sessions)",
               session->id_hex, address, channel_peer_fingerprint_text (channel),
               zhashx_size (self->sessions));
    if (self->open_fn)
        self->open_fn (session, self->open_arg);
    s_send (self, routing_id, welcome, size);
}

//  Refuse a Hello as busy (caps, budgets); counted, logged in sum
static void
s_busy (chanserver_t *self, zframe_t *routing_id, int64_t retry_ms)
{
    self->refused_busy++;
    metrics_handshake (self->metrics, CHAT_ERR_BUSY);
    s_refuse (self, routing_id, CHAT_ERR_BUSY,
              retry_ms > UINT32_MAX ? UINT32_MAX : (uint32_t) retry_ms);
}

//  What a Hello may cost: 0 when it may be served now, else how long the
//  sender should wait (ms). Takes a token from both budgets when it may.
static int64_t
s_admit (chanserver_t *self, const char *address)
{
    const serverlimits_t *limits = &self->limits;
    address_t *counts = s_address (self, address, false);
    size_t here = counts ? counts->sessions + counts->pending : 0;
    if ((limits->sessions > 0
         && zhashx_size (self->sessions) + self->pending >= (size_t) limits->sessions)
    ||  (limits->sessions_per_address > 0 && here >= (size_t) limits->sessions_per_address))
        return CAP_RETRY_MS;
    if (self->workers && limits->handshakes_pending > 0
    &&  self->pending >= (size_t) limits->handshakes_pending)
        return 1000;
    //  Both budgets must have a token; neither is touched unless both do
    int64_t now = wire_now_ms ();
    double rate = (double) limits->handshakes_per_second_per_address;
    double burst = (double) limits->handshake_burst_per_address;
    bucket_t *mine = rate > 0 ? (bucket_t *) lrumap_lookup (self->budgets, address) : NULL;
    bucket_t fresh = { 0, 0 };
    int64_t wait = bucket_wait (mine ? mine : &fresh, rate, burst, 1, now);
    int64_t wait_all = bucket_wait (&self->budget, (double) limits->handshakes_per_second,
                                    (double) limits->handshake_burst, 1, now);
    if (wait_all > wait)
        wait = wait_all;
    if (wait > 0)
        return wait;
    if (rate > 0) {
        if (!mine)
            mine = (bucket_t *) lrumap_get (self->budgets, address);
        bucket_take (mine, rate, burst, 1, now);
    }
    bucket_take (&self->budget, (double) limits->handshakes_per_second,
                 (double) limits->handshake_burst, 1, now);
    return 0;
}

static void
s_handshake (chanserver_t *self, zframe_t *routing_id, const char *address,
             const uint8_t *frame, size_t frame_size, const Chat__Hello *hello)
{
    //  What costs nothing to check is checked before any budget is spent
    int rc = hello->version != CHANNEL_VERSION ? CHAT_ERR_BAD_VERSION
           : hello->client_nonce.len != CHANNEL_NONCE_SIZE ? CHAT_ERR_MALFORMED
           : hello->client_public_key.len > RSAKEY_MAX_DER ? CHAT_ERR_BAD_KEY
           : CHAT_OK;
    if (rc != CHAT_OK) {
        metrics_handshake (self->metrics, rc);
        s_refuse (self, routing_id, rc, 0);
        return;
    }
    int64_t wait = s_admit (self, address);
    if (wait > 0) {
        if (self->verbose)
            zsys_info ("chanserver: Hello from %s refused as busy (%lld ms)", address,
                       (long long) wait);
        s_busy (self, routing_id, wait);
        return;
    }
    if (self->workers) {
        //  The worker decodes the frame again: cheaper than copying the Hello
        zframe_t *to = zframe_dup (routing_id);
        if (zsock_send (self->hellos, "fbs", to, frame, frame_size, address) == 0) {
            self->pending++;
            s_address (self, address, true)->pending++;
        }
        else
            s_busy (self, routing_id, 1000);
        zframe_destroy (&to);
        return;
    }
    channel_t *channel;
    uint8_t *welcome;
    size_t size;
    rc = channel_server_accept (self->server_key, self->info, self->info_len,
                                hello, &channel, &welcome, &size);
    if (rc != CHAT_OK) {
        metrics_handshake (self->metrics, rc);
        s_refuse (self, routing_id, rc, 0);
        return;
    }
    s_handshake_finish (self, routing_id, address, channel, welcome, size);
    free (welcome);
}

//  ---------------------------------------------------------------- workers

//  One handshake worker: Hello frames in, (routing id, code, Welcome,
//  channel) out. It owns nothing but its two sockets.
static void
s_worker (zsock_t *pipe, void *args)
{
    worker_args_t *config = (worker_args_t *) args;
    zsock_t *hellos = zsock_new_pull (config->hellos);
    zsock_t *done = zsock_new_push (config->done);
    zpoller_t *poller = zpoller_new (pipe, hellos, NULL);
    zsock_signal (pipe, 0);
    while (hellos && done && poller) {
        void *which = zpoller_wait (poller, -1);
        if (which != hellos)
            break;                  //  $TERM, or the context is gone
        zframe_t *routing_id = NULL;
        uint8_t *frame = NULL;
        size_t size = 0;
        char *address = NULL;
        if (zsock_recv (hellos, "fbs", &routing_id, &frame, &size, &address) != 0)
            continue;
        Chat__Envelope *env = NULL;
        channel_t *channel = NULL;
        uint8_t *welcome = NULL;
        size_t welcome_size = 0;
        int rc = wire_envelope_unpack (frame, size, &env);
        if (rc == CHAT_OK)
            rc = channel_server_accept (config->server_key, config->info,
                                        config->info_len, env->hello, &channel,
                                        &welcome, &welcome_size);
        if (env)
            chat__envelope__free_unpacked (env, NULL);
        zsock_send (done, "fibps", routing_id, rc, welcome, welcome_size, channel,
                    address);
        free (welcome);
        free (frame);
        zstr_free (&address);
        zframe_destroy (&routing_id);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&hellos);
    zsock_destroy (&done);
    free (config);
    //  This thread's OpenSSL state (DRBGs) goes with it, not at exit
    OPENSSL_thread_stop ();
}

//  Each chanserver's inproc endpoints carry a number of their own, never
//  an address (one made right after another was destroyed may get the
//  same address while libzmq still closes the old sockets)
static atomic_uint s_instances;

int
chanserver_set_workers (chanserver_t *self, size_t n)
{
    assert (!self->workers);
    if (n == CHANSERVER_WORKERS_PER_CORE) {
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        n = cores < 1 ? 1 : cores > 8 ? 8 : (size_t) cores;
    }
    if (n == 0)
        return CHAT_OK;
    char hellos [64], done [64];
    unsigned instance = atomic_fetch_add (&s_instances, 1);
    snprintf (hellos, sizeof hellos, "inproc://chanserver-%u-hellos", instance);
    snprintf (done, sizeof done, "inproc://chanserver-%u-done", instance);
    self->hellos = zsock_new_push (hellos);
    self->done = zsock_new_pull (done);
    self->workers = zlistx_new ();
    if (!self->hellos || !self->done || !self->workers) {
        s_workers_destroy (self);
        return CHAT_ERR_INTERNAL;
    }
    //  A Hello that cannot be queued is refused as busy, never waited for
    zsock_set_sndtimeo (self->hellos, 0);
    for (size_t i = 0; i < n; i++) {
        worker_args_t *config = (worker_args_t *) zmalloc (sizeof *config);
        config->server_key = self->server_key;
        config->info = self->info;
        config->info_len = self->info_len;
        memcpy (config->hellos, hellos, sizeof hellos);
        memcpy (config->done, done, sizeof done);
        zactor_t *worker = zactor_new (s_worker, config);
        if (!worker) {
            //  Back to handshakes on the server's thread
            free (config);
            s_workers_destroy (self);
            return CHAT_ERR_INTERNAL;
        }
        zlistx_add_end (self->workers, worker);
    }
    return CHAT_OK;
}

zsock_t *
chanserver_handshakes (chanserver_t *self)
{
    return self->done;
}

void
chanserver_handshake_done (chanserver_t *self)
{
    do {
        zframe_t *routing_id = NULL;
        int rc = CHAT_ERR_INTERNAL;
        uint8_t *welcome = NULL;
        size_t size = 0;
        void *channel = NULL;
        char *address = NULL;
        if (zsock_recv (self->done, "fibps", &routing_id, &rc, &welcome, &size,
                        &channel, &address) != 0)
            return;
        s_pending_done (self, address);
        if (rc == CHAT_OK && channel)
            s_handshake_finish (self, routing_id, address, (channel_t *) channel,
                                welcome, size);
        else {
            metrics_handshake (self->metrics, rc == CHAT_OK ? CHAT_ERR_INTERNAL : rc);
            s_refuse (self, routing_id, rc, 0);
        }
        free (welcome);
        zstr_free (&address);
        zframe_destroy (&routing_id);
    } while (zsock_events (self->done) & ZMQ_POLLIN);
}

//  Stop the workers, then close what they may have left half done.
static void
s_workers_destroy (chanserver_t *self)
{
    zactor_t *worker = self->workers ? (zactor_t *) zlistx_first (self->workers) : NULL;
    while (worker) {
        zactor_destroy (&worker);
        worker = (zactor_t *) zlistx_next (self->workers);
    }
    zlistx_destroy (&self->workers);
    if (!self->done) {
        zsock_destroy (&self->hellos);
        return;
    }
    zsock_set_rcvtimeo (self->done, 0);
    zframe_t *routing_id = NULL;
    int rc;
    uint8_t *welcome = NULL;
    size_t size;
    void *channel = NULL;
    char *address = NULL;
    while (zsock_recv (self->done, "fibps", &routing_id, &rc, &welcome, &size, &channel,
                       &address) == 0) {
        channel_t *orphan = (channel_t *) channel;
        channel_destroy (&orphan);
        free (welcome);
        zstr_free (&address);
        zframe_destroy (&routing_id);
        welcome = NULL;
        channel = NULL;
    }
    zsock_destroy (&self->hellos);
    zsock_destroy (&self->done);
}

//  Opens a sealed frame; the session is returned only when it opened.
static chansession_t *
s_sealed (chanserver_t *self, zframe_t *routing_id, const Chat__Sealed *sealed,
          uint8_t **payload, size_t *len)
{
    if (sealed->session_id.len != CHANNEL_SESSION_ID_SIZE || !sealed->token) {
        s_refuse (self, routing_id, CHAT_ERR_MALFORMED, 0);
        return NULL;
    }
    chansession_t *session = chanserver_lookup (self, sealed->session_id.data);
    if (!session) {
        s_refuse (self, routing_id, CHAT_ERR_UNKNOWN_SESSION, 0);
        return NULL;
    }
    int rc = channel_open (session->channel, sealed->token, strlen (sealed->token),
                           payload, len);
    if (rc != CHAT_OK) {
        s_refuse (self, routing_id, rc, 0);
        return NULL;
    }
    //  The client may have reconnected: answer where it is now
    if (!zframe_eq (session->routing_id, routing_id)) {
        zframe_destroy (&session->routing_id);
        session->routing_id = zframe_dup (routing_id);
    }
    session->last_activity = wire_now_ms ();
    return session;
}

chansession_t *
chanserver_recv (chanserver_t *self, uint8_t **payload, size_t *len)
{
    zmsg_t *msg = zmsg_recv (self->router);
    if (!msg)
        return NULL;                //  interrupted
    zframe_t *routing_id = zmsg_pop (msg);
    zframe_t *frame = zmsg_pop (msg);
    chansession_t *session = NULL;
    if (!routing_id || !frame || zmsg_size (msg) != 0) {
        //  A DEALER sends exactly one frame; multipart is not ours
        if (routing_id)
            s_refuse (self, routing_id, CHAT_ERR_MALFORMED, 0);
    }
    else {
        Chat__Envelope *env = NULL;
        int rc = wire_envelope_unpack (zframe_data (frame), zframe_size (frame), &env);
        if (rc != CHAT_OK)
            s_refuse (self, routing_id, rc, 0);
        else
        if (env->kind_case == CHAT__ENVELOPE__KIND_HELLO) {
            char address [CHANSERVER_ADDRESS_SIZE];
            chanserver_address_key (zframe_meta (frame, "Peer-Address"), address);
            s_handshake (self, routing_id, address, zframe_data (frame),
                         zframe_size (frame), env->hello);
        }
        else
        if (env->kind_case == CHAT__ENVELOPE__KIND_SEALED)
            session = s_sealed (self, routing_id, env->sealed, payload, len);
        else
            s_refuse (self, routing_id, CHAT_ERR_MALFORMED, 0);
        if (env)
            chat__envelope__free_unpacked (env, NULL);
    }
    zframe_destroy (&routing_id);
    zframe_destroy (&frame);
    zmsg_destroy (&msg);
    return session;
}

int
chanserver_reply (chanserver_t *self, chansession_t *session,
                  const uint8_t *payload, size_t len)
{
    uint8_t *frame;
    size_t size;
    int rc = chanserver_seal_reply (self, session, payload, len, &frame, &size);
    if (rc != CHAT_OK)
        return rc;
    rc = chanserver_send_sealed (self, session, frame, size);
    free (frame);
    return rc;
}

int
chanserver_seal_reply (chanserver_t *self, chansession_t *session,
                       const uint8_t *payload, size_t len, uint8_t **frame, size_t *size)
{
    (void) self;                //  the channel is the session's own
    assert (session);
    return channel_seal (session->channel, payload, len, frame, size);
}

int
chanserver_send_sealed (chanserver_t *self, chansession_t *session,
                        const uint8_t *frame, size_t size)
{
    assert (self);
    assert (session);
    return s_send (self, session->routing_id, frame, size);
}

//  A budget that has refilled says nothing a new one would not
static bool
s_budget_full (const char *key, void *value, void *arg)
{
    (void) key;
    chanserver_t *self = (chanserver_t *) arg;
    return bucket_full ((bucket_t *) value,
                        (double) self->limits.handshakes_per_second_per_address,
                        (double) self->limits.handshake_burst_per_address, wire_now_ms ());
}

static bool
s_stale (chanserver_t *self, chansession_t *session, int64_t now_ms)
{
    if (session->username)
        return self->limits.idle_timeout_ms > 0
            && now_ms - session->last_activity > self->limits.idle_timeout_ms;
    return self->limits.login_timeout_ms > 0 && now_ms > session->login_by;
}

size_t
chanserver_expire (chanserver_t *self, int64_t now_ms)
{
    //  Collect first: the hash must not change under its own iterator
    zlistx_t *stale = zlistx_new ();
    chansession_t *session = (chansession_t *) zhashx_first (self->sessions);
    while (session) {
        if (s_stale (self, session, now_ms))
            zlistx_add_end (stale, session);
        session = (chansession_t *) zhashx_next (self->sessions);
    }
    size_t dropped = zlistx_size (stale), strangers = 0;
    session = (chansession_t *) zlistx_first (stale);
    while (session) {
        //  Sessions that never logged in may be a flood's: counted, not listed
        if (session->username || self->verbose)
            zsys_info ("session %.8s %s, dropped", session->id_hex,
                       session->username ? "idle" : "not logged in in time");
        else
            strangers++;
        chanserver_drop (self, session);
        session = (chansession_t *) zlistx_next (stale);
    }
    zlistx_destroy (&stale);
    if (strangers)
        zsys_info ("chanserver: dropped %zu sessions not logged in in time", strangers);
    lrumap_purge (self->budgets, s_budget_full, self);
    //  Refusals are many under a flood: one line every ten seconds at most
    if (self->refused_busy && now_ms - self->refused_since >= 10000) {
        zsys_warning ("chanserver: %zu Hellos refused as busy in the last %lld s "
                      "(handshake budget or session caps)", self->refused_busy,
                      (long long) ((now_ms - self->refused_since) / 1000));
        self->refused_busy = 0;
        self->refused_since = now_ms;
    }
    else
    if (!self->refused_busy)
        self->refused_since = now_ms;
    return dropped;
}

void
chanserver_drop (chanserver_t *self, chansession_t *session)
{
    char key [sizeof session->id_hex];
    memcpy (key, session->id_hex, sizeof key);
    zhashx_delete (self->sessions, key);
    s_session_destroy (self, &session);
}

chansession_t *
chanserver_lookup (chanserver_t *self, const uint8_t id [CHANNEL_SESSION_ID_SIZE])
{
    char key [CHANNEL_SESSION_ID_SIZE * 2 + 1];
    s_id_hex (id, key);
    return (chansession_t *) zhashx_lookup (self->sessions, key);
}

size_t
chanserver_admin_sessions (chanserver_t *self, Chat__AdminSession ***list)
{
    //  One block: the pointers, then the entries they point at
    size_t count = zhashx_size (self->sessions);
    void *block = zmalloc ((count + 1) * sizeof (Chat__AdminSession *)
                           + count * sizeof (Chat__AdminSession));
    Chat__AdminSession **pointers = (Chat__AdminSession **) block;
    Chat__AdminSession *entries = (Chat__AdminSession *) (pointers + count + 1);
    size_t n = 0;
    chansession_t *session = (chansession_t *) zhashx_first (self->sessions);
    while (session && n < count) {
        Chat__AdminSession *entry = &entries [n];
        chat__admin_session__init (entry);
        entry->username = session->username ? session->username : (char *) "";
        entry->client_key_fingerprint = (char *) channel_peer_fingerprint_text (session->channel);
        entry->connected_since = session->connected_since;
        entry->last_activity = session->last_activity;
        pointers [n++] = entry;
        session = (chansession_t *) zhashx_next (self->sessions);
    }
    *list = pointers;
    return n;
}

void
chanserver_admin_sessions_free (Chat__AdminSession ***list)
{
    assert (list);
    free (*list);
    *list = NULL;
}

chansession_t *
chanserver_first (chanserver_t *self)
{
    return (chansession_t *) zhashx_first (self->sessions);
}

chansession_t *
chanserver_next (chanserver_t *self)
{
    return (chansession_t *) zhashx_next (self->sessions);
}

size_t
chanserver_size (chanserver_t *self)
{
    return zhashx_size (self->sessions);
}

size_t
chanserver_address_sessions (chanserver_t *self, const char *address)
{
    address_t *counts = s_address (self, address, false);
    return counts ? counts->sessions : 0;
}

size_t
chanserver_user_sessions (chanserver_t *self, const char *username)
{
    char key [USERNAME_MAX + 1];
    size_t *count = s_user_count (self, username, key);
    return count ? *count : 0;
}
