/*  mainserver - the main server actor; see mainserver.h

    One thread owns the request sockets (the push socket is the pusher's,
    pusher.h). The loop waits on the pipe, the ROUTER, the handshake
    workers, the admin REP socket and a timer for idle sessions and
    sessions that never logged in. Requests are drained in batches, one transaction each
    (msbatch.h), each handled by the module of its area (msrequest.h). This
    file holds the actor's life: pipe commands, start, binds, the loop.
*/
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "adminsock.h"
#include "beacon.h"
#include "channel.h"
#include "chanserver.h"
#include "chaterror.h"
#include "keyrotation.h"
#include "mainserver.h"
#include "metrics.h"
#include "metricshttp.h"
#include "msadmin.h"
#include "msbatch.h"
#include "msbus.h"
#include "msctx.h"
#include "msdata.h"
#include "msonline.h"
#include "msoutbox.h"
#include "msquota.h"
#include "pusher.h"
#include "rsakey.h"
#include "serverlimits.h"
#include "watchdog.h"
#include "wire.h"

//  Gauges that need this thread (sessions by state, store size) are
//  published this often; the loop never sleeps longer
#define METRICS_PUBLISH_MS 1000

typedef struct {
    zsock_t *pipe;
    zsock_t *router;
    char *push_endpoint;        //  bound by the pusher, or NULL
    zsock_t *admin;
    zpoller_t *poller;
    msctx_t ctx;
    msoutbox_t *outbox;
    zactor_t *beacon;
    msbus_t *bus;               //  a PostgreSQL store's doorbell, or NULL
    metricshttp_t *http;        //  METRICS-BIND, or NULL
    watchdog_t *watchdog;
    int64_t next_publish;       //  zclock_mono of the next gauge update
    int64_t next_beat;          //  zclock_mono of the next cluster heartbeat
    bool beat_failed;           //  the last one failed (logged once)
    char *data_dir;
    char *store_url;            //  STORE; NULL: <data_dir>/mainserver.db
    char *keyserver_key_path;
    char *push_public;          //  what Welcomes name, when not the bound one
    int64_t rotation_window;    //  days a key rotation is presented
    uint8_t *rotation;          //  the KeyRotation every Welcome presents, or NULL
    size_t rotation_len;
    char *admin_path;
    int lock_fd;                //  flock on <data>/mainserver.lock, or -1
    int64_t started_at;
    int64_t next_expire;
    bool started;
    bool router_bound;
    bool serving;
    bool terminated;
} server_t;

int
mainserver_prepare (const char *data_dir, char *error, size_t error_size)
{
    return msdata_prepare (data_dir, error, error_size);
}

//  ---------------------------------------------------------------- server object

static server_t *
s_server_new (zsock_t *pipe)
{
    server_t *self = (server_t *) zmalloc (sizeof (server_t));
    assert (self);
    self->pipe = pipe;
    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    //  Refuse oversized frames in libzmq, before they are even buffered.
    zsock_set_maxmsgsize (self->router, WIRE_MAX_FRAME);
    //  Replies already handed to ZMQ get a moment to leave on shutdown
    //  (they are committed: losing one only costs the client a retry).
    zsock_set_linger (self->router, 100);
    self->poller = zpoller_new (pipe, NULL);
    assert (self->poller);
    //  Only $TERM stops us, so that a signal never cuts a batch short.
    zpoller_set_nonstop (self->poller, true);
    self->ctx.online = msonline_new ();
    self->outbox = msoutbox_new ();
    self->lock_fd = -1;
    self->rotation_window = KEYROTATION_WINDOW_DAYS;
    self->ctx.metrics = metrics_new ("mainserver", CHAT_VERSION);
    self->watchdog = watchdog_new ();
    assert (self->ctx.metrics && self->watchdog);
    serverlimits_defaults (&self->ctx.limits, SERVERLIMITS_MAINSERVER);
    self->ctx.quotas = msquota_new (&self->ctx.limits, self->ctx.metrics);
    return self;
}

static void
s_server_destroy (server_t **self_p)
{
    server_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->beacon);
    metricshttp_destroy (&self->http);
    //  Sessions first: their free function needs the online index and
    //  the pusher.
    chanserver_destroy (&self->ctx.chanserver);
    pusher_destroy (&self->ctx.pusher);
    free (self->push_endpoint);
    msquota_destroy (&self->ctx.quotas);
    msonline_destroy (&self->ctx.online);
    msoutbox_destroy (&self->outbox);
    msbus_destroy (&self->bus);
    zpoller_destroy (&self->poller);
    //  A clean stop leaves the cluster (a killed server's row just ages)
    if (self->ctx.cluster_id && self->ctx.store)
        msgstore_server_remove (self->ctx.store, self->ctx.cluster_id);
    zstr_free (&self->ctx.cluster_id);
    zsock_destroy (&self->router);
    zsock_destroy (&self->admin);
    if (self->admin_path)
        unlink (self->admin_path);
    msdata_unload (&self->ctx);
    free (self->data_dir);
    free (self->store_url);
    free (self->keyserver_key_path);
    free (self->push_public);
    free (self->rotation);
    free (self->admin_path);
    if (self->lock_fd >= 0)
        close (self->lock_fd);
    metrics_destroy (&self->ctx.metrics);
    watchdog_destroy (&self->watchdog);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------- sessions

//  A session's push token may be subscribed from its Welcome on...
static void
s_session_open (chansession_t *session, void *arg)
{
    server_t *self = (server_t *) arg;
    if (self->ctx.pusher)
        pusher_session_open (self->ctx.pusher, session->channel);
}

//  ...until it is dropped; then it leaves the online index too
static void
s_session_free (chansession_t *session, void *arg)
{
    server_t *self = (server_t *) arg;
    if (self->ctx.pusher)
        pusher_session_close (self->ctx.pusher, session->channel);
    msonline_session_free (session, self->ctx.online);
}

//  ---------------------------------------------------------------- start and pipe

//  Every limit to where it is enforced; again whenever one changes. The
//  push threads and a subscriber's high-water mark are fixed as they start.
static void
s_apply_limits (server_t *self)
{
    if (self->ctx.chanserver)
        chanserver_set_limits (self->ctx.chanserver, &self->ctx.limits);
    //  Not push_hwm: libzmq 4.3.4 hands a new high-water mark to every
    //  connected subscriber's pipe as a command, and one whose subscriber
    //  is going at that moment gets it after it was freed (the I/O thread
    //  crashed in 1 run of ~15 of the actor tests, which change limits)
    if (self->ctx.pusher)
        pusher_set_queue_bytes (self->ctx.pusher, (size_t) self->ctx.limits.push_queue_bytes);
    msquota_limits_changed (self->ctx.quotas);
}

static int
s_start (server_t *self, char *error, size_t error_size)
{
    if (self->started) {
        snprintf (error, error_size, "already started");
        return -1;
    }
    if (!self->data_dir) {
        snprintf (error, error_size, "DATA must come before START");
        return -1;
    }
    if (msdata_load (self->data_dir, self->store_url, self->keyserver_key_path, &self->ctx,
                     &self->lock_fd, error, error_size)) {
        msdata_unload (&self->ctx);
        return -1;
    }
    if (keyrotation_presented (self->data_dir, self->ctx.server_key, self->rotation_window,
                               wire_now (), "mainserver", &self->rotation,
                               &self->rotation_len)) {
        snprintf (error, error_size, "cannot read the key rotation statement in %s",
                  self->data_dir);
        msdata_unload (&self->ctx);
        return -1;
    }
    self->ctx.pusher = pusher_new ((size_t) self->ctx.limits.push_workers,
                                   (int) self->ctx.limits.push_hwm,
                                   (size_t) self->ctx.limits.push_queue_bytes);
    if (!self->ctx.pusher) {
        snprintf (error, error_size, "cannot start the push threads");
        return -1;
    }
    self->ctx.chanserver = chanserver_new (self->router, self->ctx.server_key);
    assert (self->ctx.chanserver);
    //  Other servers on the same PostgreSQL database ring after their
    //  commits: listen (msbus.h)
    if (self->ctx.bell)
        self->bus = msbus_new (self->store_url, self->poller);
    chanserver_set_free_fn (self->ctx.chanserver, s_session_free, self);
    chanserver_set_open_fn (self->ctx.chanserver, s_session_open, self);
    chanserver_set_metrics (self->ctx.chanserver, self->ctx.metrics);
    chanserver_set_verbose (self->ctx.chanserver, self->ctx.verbose);
    s_apply_limits (self);

    //  The admin socket shows who is connected: only our own user may
    //  connect (the data directory is 0700 and the socket 0600).
    self->admin = adminsock_bind (self->data_dir, &self->admin_path);
    if (self->admin)
        zpoller_add (self->poller, self->admin);
    self->started_at = wire_now_ms ();
    self->started = true;
    self->next_expire = zclock_mono ();
    zsys_info ("mainserver: started, data in %s, key %s", self->data_dir,
               rsakey_fingerprint_text (self->ctx.server_key));
    char *limits = serverlimits_summary (&self->ctx.limits, SERVERLIMITS_MAINSERVER);
    zsys_info ("mainserver: limits %s", limits);
    free (limits);
    return 0;
}

//  Once both sockets are bound: every Welcome names, under the server's
//  signature, its role and the push endpoint; then handshakes start.
static int
s_serve (server_t *self, char *error, size_t error_size)
{
    if (self->serving || !self->router_bound || !self->push_endpoint)
        return 0;
    const char *push = self->push_public? self->push_public: self->push_endpoint;
    if (chanserver_set_welcome_info (self->ctx.chanserver, CHANNEL_ROLE_MAINSERVER, push,
                                     self->rotation, self->rotation_len) != CHAT_OK) {
        snprintf (error, error_size, "push endpoint %s cannot be named in a Welcome", push);
        return -1;
    }
    //  RSA signatures are the cost of a handshake: they run on one worker
    //  per core, and only the finished sessions come back to this thread
    if (chanserver_set_workers (self->ctx.chanserver, CHANSERVER_WORKERS_PER_CORE) == CHAT_OK)
        zpoller_add (self->poller, chanserver_handshakes (self->ctx.chanserver));
    zpoller_add (self->poller, self->router);
    self->serving = true;
    zsys_info ("mainserver: serving; Welcomes name the push endpoint %s", push);
    return 0;
}

static int
s_announce (server_t *self, const char *iface, char *error, size_t error_size)
{
    const char *endpoint = zsock_endpoint (self->router);
    const char *push_endpoint = self->push_public? self->push_public
                                                 : self->push_endpoint;
    if (!self->started || !endpoint || !push_endpoint) {
        snprintf (error, error_size, "ANNOUNCE needs START, BIND and PUSH-BIND first");
        return -1;
    }
    char payload [BEACON_MAX + 1];
    if (beacon_format (payload, sizeof payload, "mainserver", endpoint, push_endpoint,
                       rsakey_fingerprint_text (self->ctx.server_key)) < 0) {
        snprintf (error, error_size, "endpoints too long to announce");
        return -1;
    }
    zactor_destroy (&self->beacon);
    self->beacon = beacon_announce (iface, BEACON_PORT, payload, 1000);
    if (!self->beacon) {
        snprintf (error, error_size, "cannot announce on %s", iface);
        return -1;
    }
    zsys_info ("mainserver: announcing on %s: %s", iface, payload);
    return 0;
}

static int
s_bind (server_t *self, zsock_t *sock, const char *endpoint, const char *what,
        char *error, size_t error_size)
{
    if (!self->started) {
        snprintf (error, error_size, "START must come before %s", what);
        return -1;
    }
    if (!endpoint || zsock_bind (sock, "%s", endpoint) == -1) {
        snprintf (error, error_size, "cannot bind %s: %s", endpoint? endpoint: "(none)",
                  zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

static void
s_set_string (char **slot, const char *value)
{
    free (*slot);
    *slot = value? strdup (value): NULL;
}

static void
s_handle_pipe (server_t *self)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg)
        return;
    char *command = zmsg_popstr (msg);
    char *arg = zmsg_popstr (msg);
    char error [512] = "";
    const char *answer = "OK";
    int rc = 0;
    if (!command)
        rc = -1;
    else
    if (streq (command, "$TERM")) {
        self->terminated = true;
        answer = NULL;
    }
    else
    if (streq (command, "VERBOSE")) {
        self->ctx.verbose = !arg || !streq (arg, "0");
        if (self->ctx.chanserver)
            chanserver_set_verbose (self->ctx.chanserver, self->ctx.verbose);
    }
    else
    if (streq (command, "DATA") && arg)
        s_set_string (&self->data_dir, arg);
    else
    if (streq (command, "STORE") && arg) {
        if (self->started)
            answer = "ERROR STORE must come before START";
        else
            s_set_string (&self->store_url, arg);
    }
    else
    if (streq (command, "KEYSERVER-KEY") && arg) {
        //  Again once started (SIGHUP): the key server's new file, during
        //  and after its key changes. A file that cannot be used changes
        //  nothing.
        if (self->started)
            rc = msdata_keyserver_keys (arg, &self->ctx, error, sizeof error);
        if (rc == 0)
            s_set_string (&self->keyserver_key_path, arg);
    }
    else
    if (streq (command, "ROTATION-WINDOW") && arg) {
        if (self->started) {
            snprintf (error, sizeof error, "ROTATION-WINDOW must come before START");
            rc = -1;
        }
        else
        if (keyrotation_parse_window (arg, &self->rotation_window)) {
            snprintf (error, sizeof error, "ROTATION-WINDOW wants 0..%d days, not %s",
                      KEYROTATION_WINDOW_MAX, arg);
            rc = -1;
        }
    }
    else
    if (streq (command, "PUSH-PUBLIC") && arg) {
        if (self->serving) {
            snprintf (error, sizeof error, "PUSH-PUBLIC must come before BIND and PUSH-BIND");
            rc = -1;
        }
        else
            s_set_string (&self->push_public, arg);
    }
    else
    if (streq (command, "LIMIT") && arg) {
        char *value = zmsg_popstr (msg);
        rc = serverlimits_set (&self->ctx.limits, SERVERLIMITS_MAINSERVER, arg, value,
                               error, sizeof error);
        if (rc == 0)
            s_apply_limits (self);
        zstr_free (&value);
    }
    else
    if ((streq (command, "IDLE-TIMEOUT") || streq (command, "MAX-SESSIONS")) && arg) {
        //  The older names of two limits
        rc = serverlimits_set (&self->ctx.limits, SERVERLIMITS_MAINSERVER,
                               streq (command, "MAX-SESSIONS") ? "sessions"
                                                               : "idle_timeout_ms",
                               arg, error, sizeof error);
        if (rc == 0)
            s_apply_limits (self);
    }
    else
    if (streq (command, "START"))
        rc = s_start (self, error, sizeof error);
    else
    if (streq (command, "BIND")) {
        rc = s_bind (self, self->router, arg, "BIND", error, sizeof error);
        if (rc == 0) {
            answer = zsock_endpoint (self->router);
            zsys_info ("mainserver: requests on %s", answer);
            self->router_bound = true;
            rc = s_serve (self, error, sizeof error);
        }
    }
    else
    if (streq (command, "PUSH-BIND")) {
        char *bound = NULL;
        if (!self->started) {
            snprintf (error, sizeof error, "START must come before PUSH-BIND");
            rc = -1;
        }
        else
        if (!arg || pusher_bind (self->ctx.pusher, arg, &bound) != 0) {
            snprintf (error, sizeof error, "cannot bind %s", arg? arg: "(none)");
            rc = -1;
        }
        else {
            free (self->push_endpoint);
            self->push_endpoint = bound;
            answer = self->push_endpoint;
            zsys_info ("mainserver: pushes on %s", answer);
            rc = s_serve (self, error, sizeof error);
        }
    }
    else
    if (streq (command, "ANNOUNCE") && arg)
        rc = s_announce (self, arg, error, sizeof error);
    else
    if (streq (command, "METRICS-BIND") && arg) {
        metricshttp_destroy (&self->http);
        self->http = metricshttp_new (self->ctx.metrics, arg, error, sizeof error);
        rc = self->http ? 0 : -1;
        if (self->http) {
            answer = metricshttp_address (self->http);
            zsys_info ("mainserver: metrics on http://%s/metrics", answer);
        }
    }
    else
    if (streq (command, "FINGERPRINT")) {
        if (self->ctx.server_key)
            answer = rsakey_fingerprint_text (self->ctx.server_key);
        else {
            snprintf (error, sizeof error, "no key before START");
            rc = -1;
        }
    }
    else {
        snprintf (error, sizeof error, "unknown command %s", command);
        rc = -1;
    }
    if (rc != 0)
        zstr_sendf (self->pipe, "ERROR %s", error [0]? error: "bad command");
    else
    if (answer)
        zstr_send (self->pipe, answer);
    zstr_free (&command);
    zstr_free (&arg);
    zmsg_destroy (&msg);
}

//  ---------------------------------------------------------------- metrics

//  The gauges only this thread may compute, for the metrics' readers
static void
s_metrics_publish (server_t *self)
{
    int64_t now = zclock_mono ();
    if (!self->started || now < self->next_publish)
        return;
    self->next_publish = now + METRICS_PUBLISH_MS;
    size_t handshaking, anonymous, logged_in;
    chanserver_census (self->ctx.chanserver, &handshaking, &anonymous, &logged_in);
    metrics_sessions (self->ctx.metrics, handshaking, anonymous, logged_in);
    //  The size of a SQLite file; a PostgreSQL store's is the database's
    //  business (0: not known here)
    if (!self->store_url || !streq (msgstore_engine (self->ctx.store), "postgresql")) {
        char *path = self->store_url
                   ? strdup (strncmp (self->store_url, "sqlite:", 7) == 0
                             ? self->store_url + 7: self->store_url)
                   : zsys_sprintf ("%s/mainserver.db", self->data_dir);
        metrics_store_bytes (self->ctx.metrics, metrics_db_bytes (path));
        zstr_free (&path);
    }
}

//  ---------------------------------------------------------------- the cluster

//  On PostgreSQL: register in table servers, and beat every few seconds
//  with the sessions logged in here (chat-admin shows the cluster)
static void
s_cluster_beat (server_t *self)
{
    int64_t now = zclock_mono ();
    if (!self->ctx.bell || !self->serving || now < self->next_beat)
        return;
    self->next_beat = now + MAINSERVER_BEAT_MS;
    msgstore_server_t server = { 0 };
    const char *endpoint = zsock_endpoint (self->router);
    const char *push = self->push_public? self->push_public: self->push_endpoint;
    if (!self->ctx.cluster_id) {
        char host [64] = "";
        gethostname (host, sizeof host - 1);
        self->ctx.cluster_id = zsys_sprintf ("%s/%s", host, endpoint? endpoint: "?");
    }
    snprintf (server.id, sizeof server.id, "%s", self->ctx.cluster_id);
    snprintf (server.client_endpoint, sizeof server.client_endpoint, "%s",
              endpoint? endpoint: "");
    snprintf (server.push_endpoint, sizeof server.push_endpoint, "%s", push? push: "");
    server.started_at = self->started_at;
    size_t handshaking, anonymous, logged_in;
    chanserver_census (self->ctx.chanserver, &handshaking, &anonymous, &logged_in);
    server.sessions = logged_in;
    bool failed = msgstore_server_beat (self->ctx.store, &server) != CHAT_OK;
    if (failed && !self->beat_failed)
        zsys_warning ("mainserver: the cluster heartbeat failed (trying again every %d ms)",
                      MAINSERVER_BEAT_MS);
    self->beat_failed = failed;
}

//  ---------------------------------------------------------------- the actor

void
mainserver_actor (zsock_t *pipe, void *args)
{
    (void) args;
    server_t *self = s_server_new (pipe);
    zsock_signal (pipe, 0);

    while (!self->terminated) {
        int timeout = -1;
        //  Timeouts are checked four times within the shortest of them, at
        //  most once a second: a session goes at most a second late
        const serverlimits_t *limits = &self->ctx.limits;
        int64_t shortest = limits->idle_timeout_ms;
        if (limits->login_timeout_ms > 0
        &&  (shortest <= 0 || limits->login_timeout_ms < shortest))
            shortest = limits->login_timeout_ms;
        int64_t tick = shortest > 0? shortest / 4: 1000;
        if (tick < 10)
            tick = 10;
        if (tick > 1000)
            tick = 1000;
        if (self->started) {
            int64_t wait = self->next_expire - zclock_mono ();
            timeout = wait < 0? 0: (int) wait;
        }
        if (self->started && (timeout < 0 || timeout > METRICS_PUBLISH_MS))
            timeout = METRICS_PUBLISH_MS;
        int bus_wait = msbus_tick (self->bus, &self->ctx, self->outbox);
        if (bus_wait >= 0 && (timeout < 0 || bus_wait < timeout))
            timeout = bus_wait;
        timeout = watchdog_timeout (self->watchdog, timeout);
        void *which = zpoller_wait (self->poller, timeout);
        chanserver_t *chanserver = self->ctx.chanserver;
        if (which == self->pipe)
            s_handle_pipe (self);
        else
        if (which && which == self->router)
            msbatch_run (&self->ctx, self->outbox, self->router);
        else
        if (which && chanserver && which == chanserver_handshakes (chanserver))
            chanserver_handshake_done (chanserver);
        else
        if (which && msbus_is (self->bus, which))
            msbus_readable (self->bus, &self->ctx, self->outbox);
        else
        if (which && which == self->admin)
            msadmin_handle (&self->ctx, self->admin, self->started_at);
        else
        if (!which && zpoller_terminated (self->poller))
            break;              //  the context is going away
        if (self->started && zclock_mono () >= self->next_expire) {
            chanserver_expire (self->ctx.chanserver, wire_now_ms ());
            self->next_expire = zclock_mono () + tick;
        }
        s_metrics_publish (self);
        s_cluster_beat (self);
        watchdog_kick (self->watchdog);
    }
    if (self->started)
        zsys_info ("mainserver: stopped");
    s_server_destroy (&self);
    //  Free this thread's OpenSSL state (its DRBGs) now: CZMQ's actor
    //  threads are detached, so main() may exit before the thread-exit
    //  handlers run, and valgrind then reports the DRBGs as lost
    OPENSSL_thread_stop ();
}
