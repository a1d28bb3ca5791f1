/*  chanserver - the server side of the secure channel on a ROUTER socket

    Both servers put everything that is the same for them here: handshakes,
    the session table, refusals, sealing replies and pushes. What arrives on
    the ROUTER is [routing id][one frame]; anything else is refused.
*/
#include "chanserver.h"
#include "chaterror.h"
#include <openssl/crypto.h>
#include <unistd.h>

struct _chanserver_t {
    zsock_t *router;               //  borrowed
    rsakey_t *server_key;          //  borrowed
    zhashx_t *sessions;            //  id_hex -> chansession_t
    chansession_free_fn *free_fn;
    void *free_arg;
    size_t max_sessions;
    int64_t idle_ms;
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
    static const char digits [] = "0123456789abcdef";
    for (size_t i = 0; i < CHANNEL_SESSION_ID_SIZE; i++) {
        hex [2 * i] = digits [id [i] >> 4];
        hex [2 * i + 1] = digits [id [i] & 15];
    }
    hex [CHANNEL_SESSION_ID_SIZE * 2] = 0;
}

static void
    s_workers_destroy (chanserver_t *self);

static void
s_session_destroy (chanserver_t *self, chansession_t **session_p)
{
    chansession_t *session = *session_p;
    if (!session)
        return;
    if (self->free_fn)
        self->free_fn (session, self->free_arg);
    channel_destroy (&session->channel);
    zframe_destroy (&session->routing_id);
    free (session->username);
    free (session);
    *session_p = NULL;
}

chanserver_t *
chanserver_new (zsock_t *router, rsakey_t *server_key)
{
    assert (router && server_key);
    chanserver_t *self = (chanserver_t *) zmalloc (sizeof *self);
    self->router = router;
    self->server_key = server_key;
    self->sessions = zhashx_new ();
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
chanserver_set_limits (chanserver_t *self, size_t max_sessions, int64_t idle_ms)
{
    self->max_sessions = max_sessions;
    self->idle_ms = idle_ms;
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
s_handshake_finish (chanserver_t *self, zframe_t *routing_id, channel_t *channel,
                    const uint8_t *welcome, size_t size)
{
    chansession_t *session = (chansession_t *) zmalloc (sizeof *session);
    session->channel = channel;
    session->connected_since = session->last_activity = wire_now_ms ();
    session->routing_id = zframe_dup (routing_id);
    s_id_hex (channel_session_id (channel), session->id_hex);
    zhashx_insert (self->sessions, session->id_hex, session);
    metrics_handshake (self->metrics, CHAT_OK);
    zsys_info ("handshake: session %.8s client key %s (%zu sessions)",
               session->id_hex, channel_peer_fingerprint_text (channel),
               zhashx_size (self->sessions));
    s_send (self, routing_id, welcome, size);
}

static void
s_handshake (chanserver_t *self, zframe_t *routing_id, const uint8_t *frame,
             size_t frame_size, const Chat__Hello *hello)
{
    if (self->max_sessions
    &&  zhashx_size (self->sessions) + self->pending >= self->max_sessions) {
        metrics_handshake (self->metrics, CHAT_ERR_BUSY);
        s_refuse (self, routing_id, CHAT_ERR_BUSY, 1000);
        return;
    }
    if (self->workers) {
        //  The worker decodes the frame again: cheaper than copying the Hello
        zframe_t *to = zframe_dup (routing_id);
        if (zsock_send (self->hellos, "fb", to, frame, frame_size) == 0)
            self->pending++;
        else {
            metrics_handshake (self->metrics, CHAT_ERR_BUSY);
            s_refuse (self, routing_id, CHAT_ERR_BUSY, 1000);
        }
        zframe_destroy (&to);
        return;
    }
    channel_t *channel;
    uint8_t *welcome;
    size_t size;
    int rc = channel_server_accept (self->server_key, self->info, self->info_len,
                                    hello, &channel, &welcome, &size);
    if (rc != CHAT_OK) {
        metrics_handshake (self->metrics, rc);
        s_refuse (self, routing_id, rc, 0);
        return;
    }
    s_handshake_finish (self, routing_id, channel, welcome, size);
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
        if (zsock_recv (hellos, "fb", &routing_id, &frame, &size) != 0)
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
        zsock_send (done, "fibp", routing_id, rc, welcome, welcome_size, channel);
        free (welcome);
        free (frame);
        zframe_destroy (&routing_id);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&hellos);
    zsock_destroy (&done);
    free (config);
    //  This thread's OpenSSL state (DRBGs) goes with it, not at exit
    OPENSSL_thread_stop ();
}

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
    snprintf (hellos, sizeof hellos, "inproc://chanserver-%p-hellos", (void *) self);
    snprintf (done, sizeof done, "inproc://chanserver-%p-done", (void *) self);
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
        if (zsock_recv (self->done, "fibp", &routing_id, &rc, &welcome, &size,
                        &channel) != 0)
            return;
        assert (self->pending > 0);
        self->pending--;
        if (rc == CHAT_OK && channel)
            s_handshake_finish (self, routing_id, (channel_t *) channel, welcome, size);
        else {
            metrics_handshake (self->metrics, rc == CHAT_OK ? CHAT_ERR_INTERNAL : rc);
            s_refuse (self, routing_id, rc, 0);
        }
        free (welcome);
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
    while (zsock_recv (self->done, "fibp", &routing_id, &rc, &welcome, &size, &channel) == 0) {
        channel_t *orphan = (channel_t *) channel;
        channel_destroy (&orphan);
        free (welcome);
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
        if (env->kind_case == CHAT__ENVELOPE__KIND_HELLO)
            s_handshake (self, routing_id, zframe_data (frame), zframe_size (frame),
                         env->hello);
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
    int rc = channel_seal (session->channel, payload, len, &frame, &size);
    if (rc != CHAT_OK)
        return rc;
    rc = s_send (self, session->routing_id, frame, size);
    free (frame);
    return rc;
}

int
chanserver_push (chanserver_t *self, zsock_t *pub, chansession_t *session,
                 const uint8_t *payload, size_t len)
{
    (void) self;
    uint8_t *frame;
    size_t size;
    int rc = channel_seal_push (session->channel, payload, len, &frame, &size);
    if (rc != CHAT_OK)
        return rc;
    zframe_t *topic = zframe_new (channel_session_token (session->channel),
                                  CHANNEL_SESSION_TOKEN_SIZE);
    zframe_t *body = zframe_new (frame, size);
    free (frame);
    if (zframe_send (&topic, pub, ZFRAME_MORE) == -1
    ||  zframe_send (&body, pub, 0) == -1) {
        zframe_destroy (&topic);
        zframe_destroy (&body);
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

size_t
chanserver_expire (chanserver_t *self, int64_t now_ms)
{
    if (self->idle_ms <= 0)
        return 0;
    //  Collect first: the hash must not change under its own iterator
    zlistx_t *stale = zlistx_new ();
    chansession_t *session = (chansession_t *) zhashx_first (self->sessions);
    while (session) {
        if (now_ms - session->last_activity > self->idle_ms)
            zlistx_add_end (stale, session);
        session = (chansession_t *) zhashx_next (self->sessions);
    }
    size_t dropped = zlistx_size (stale);
    session = (chansession_t *) zlistx_first (stale);
    while (session) {
        zsys_info ("session %.8s idle, dropped", session->id_hex);
        chanserver_drop (self, session);
        session = (chansession_t *) zlistx_next (stale);
    }
    zlistx_destroy (&stale);
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
