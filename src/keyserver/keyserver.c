/*  keyserver - chat-keyserver as a CZMQ actor

    One thread owns every socket here: the pipe, the ROUTER the clients talk
    to (wrapped by chanserver, which does the whole secure channel), and the
    admin REP. Requests are drained in batches, one transaction each
    (ksbatch.h); each is handled by the module of its area (ksrequest.h).
    This file holds the actor's life: its pipe commands, start, the poll
    loop and housekeeping.
*/
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "adminsock.h"
#include "beacon.h"
#include "channel.h"
#include "chanserver.h"
#include "chaterror.h"
#include "keyrotation.h"
#include "keyserver.h"
#include "keystore.h"
#include "secret.h"
#include "ksadmin.h"
#include "ksbatch.h"
#include "ksctx.h"
#include "ksdata.h"
#include "kssession.h"
#include "metrics.h"
#include "metricshttp.h"
#include "ratelimit.h"
#include "rsakey.h"
#include "scram.h"
#include "serverlimits.h"
#include "watchdog.h"
#include "wire.h"

#define HOUSEKEEPING_MS   1000
#define BEACON_INTERVAL   1000

typedef struct {
    zsock_t *pipe;
    zsock_t *router;
    zsock_t *admin;
    zpoller_t *poller;
    ksbatch_t *batch;
    chanserver_t *chanserver;
    ksctx_t ctx;
    char *data_dir;
    char *store_url;                //  NULL: <data>/keyserver.db
    char *mainserver_key_path;
    int64_t rotation_window;            //  days a key rotation is presented
    uint8_t *rotation;                  //  the KeyRotation every Welcome presents, or NULL
    size_t rotation_len;
    char *announce;                     //  interface, or NULL
    zactor_t *beacon;
    metricshttp_t *http;                //  METRICS-BIND, or NULL
    watchdog_t *watchdog;
    char *endpoint;                     //  last bound request endpoint
    bool started;
    bool terminated;
    int64_t started_at;                 //  unix ms
    int64_t next_housekeeping;
} server_t;

int
keyserver_prepare (const char *data_dir)
{
    return ksdata_prepare (data_dir);
}

//  ---------------------------------------------------------------- lifecycle

static void
s_announce (server_t *self)
{
    if (!self->announce || !self->started || !self->endpoint || self->beacon)
        return;
    char payload [BEACON_MAX + 1];
    if (beacon_format (payload, sizeof payload, "keyserver", self->endpoint, NULL,
                       rsakey_fingerprint_text (self->ctx.server_key)) < 0) {
        zsys_error ("keyserver: endpoint too long to announce");
        return;
    }
    self->beacon = beacon_announce (self->announce, BEACON_PORT, payload,
                                    BEACON_INTERVAL);
    if (self->beacon)
        zsys_info ("keyserver: announcing on %s: %s", self->announce, payload);
    else
        zsys_error ("keyserver: cannot announce on %s", self->announce);
}

//  Every limit to where it is enforced; again whenever one changes
static void
s_apply_limits (server_t *self)
{
    const serverlimits_t *limits = &self->ctx.limits;
    if (self->chanserver)
        chanserver_set_limits (self->chanserver, limits);
    ratelimit_set_policy (self->ctx.ratelimit, (uint32_t) limits->login_failures_per_user,
                          limits->login_backoff_ms, limits->login_backoff_max_ms
                          < limits->login_backoff_ms ? limits->login_backoff_ms
                                                     : limits->login_backoff_max_ms,
                          limits->login_failures_per_address_per_hour,
                          (size_t) limits->login_tracked);
}

static int
s_start (server_t *self)
{
    if (self->started)
        return 0;
    if (!self->data_dir) {
        zsys_error ("keyserver: START without DATA");
        return -1;
    }
    if (ksdata_load (self->data_dir, self->store_url, self->mainserver_key_path, &self->ctx)
    ||  keyrotation_presented (self->data_dir, self->ctx.server_key, self->rotation_window,
                               wire_now (), "keyserver", &self->rotation,
                               &self->rotation_len)) {
        ksdata_unload (&self->ctx);
        return -1;
    }
    self->chanserver = chanserver_new (self->router, self->ctx.server_key);
    assert (self->chanserver);
    self->ctx.chanserver = self->chanserver;
    chanserver_set_free_fn (self->chanserver, kssession_free, NULL);
    chanserver_set_metrics (self->chanserver, self->ctx.metrics);
    //  Every Welcome says, under its signature, what it is talking to
    if (chanserver_set_welcome_info (self->chanserver, CHANNEL_ROLE_KEYSERVER,
                                     NULL, self->rotation, self->rotation_len) != CHAT_OK) {
        zsys_error ("keyserver: cannot make the Welcome's info");
        return -1;
    }
    //  RSA signatures are the cost of a handshake: they run on one worker
    //  per core, and only the finished sessions come back to this thread
    if (chanserver_set_workers (self->chanserver, CHANSERVER_WORKERS_PER_CORE) == CHAT_OK)
        zpoller_add (self->poller, chanserver_handshakes (self->chanserver));
    chanserver_set_verbose (self->chanserver, self->ctx.verbose);
    s_apply_limits (self);

    //  The admin socket is for the operator only: the directory is 0700
    //  and the socket file 0600. Without it the server still serves.
    self->admin = adminsock_bind (self->data_dir, NULL);
    if (self->admin)
        zpoller_add (self->poller, self->admin);

    zpoller_add (self->poller, self->router);
    self->started = true;
    self->started_at = wire_now_ms ();
    zsys_info ("keyserver: started, data %s, store on %s, key %s, %lld users, "
               "%lld epoch key sets", self->data_dir, keystore_engine (self->ctx.store),
               rsakey_fingerprint_text (self->ctx.server_key),
               (long long) keystore_user_count (self->ctx.store),
               (long long) keystore_key_set_count (self->ctx.store));
    char *limits = serverlimits_summary (&self->ctx.limits, SERVERLIMITS_KEYSERVER);
    zsys_info ("keyserver: limits %s", limits);
    free (limits);
    s_announce (self);
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
    if (!msg) {
        self->terminated = true;
        return;
    }
    char *command = zmsg_popstr (msg);
    char *arg = zmsg_popstr (msg);
    if (!command)
        ;
    else
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "VERBOSE")) {
        self->ctx.verbose = !arg || !streq (arg, "0");
        if (self->chanserver)
            chanserver_set_verbose (self->chanserver, self->ctx.verbose);
    }
    else
    if (streq (command, "DATA") && arg)
        s_set_string (&self->data_dir, arg);
    else
    if (streq (command, "STORE") && arg && !self->started)
        s_set_string (&self->store_url, arg);
    else
    if (streq (command, "MAINSERVER-KEY") && arg) {
        //  Again once started (SIGHUP): the main server's new file, during
        //  and after its key changes. A file that cannot be used changes
        //  nothing (the log says why).
        bool ok = !self->started || ksdata_mainserver_keys (arg, &self->ctx) == 0;
        if (ok)
            s_set_string (&self->mainserver_key_path, arg);
        if (self->started)
            zstr_send (self->pipe, ok ? "OK" : "ERROR");
    }
    else
    if (streq (command, "ROTATION-WINDOW") && arg) {
        if (self->started || keyrotation_parse_window (arg, &self->rotation_window))
            zsys_error ("keyserver: ROTATION-WINDOW %s refused (0..%d days, before START)",
                        arg, KEYROTATION_WINDOW_MAX);
    }
    else
    if (streq (command, "ITERATIONS") && arg) {
        long n = atol (arg);
        if (n >= SCRAM_MIN_ITERATIONS && n <= SCRAM_MAX_ITERATIONS)
            self->ctx.iterations = (uint32_t) n;
        else
            zsys_error ("keyserver: ITERATIONS %s out of range", arg);
    }
    else
    if (streq (command, "ANNOUNCE") && arg) {
        s_set_string (&self->announce, arg);
        s_announce (self);
    }
    else
    if (streq (command, "LIMIT") && arg) {
        char *value = zmsg_popstr (msg);
        char error [256];
        if (serverlimits_set (&self->ctx.limits, SERVERLIMITS_KEYSERVER, arg, value,
                              error, sizeof error) == 0) {
            s_apply_limits (self);
            zstr_send (self->pipe, "OK");
        }
        else
            zstr_sendf (self->pipe, "ERROR %s", error);
        zstr_free (&value);
    }
    else
    if (streq (command, "METRICS-BIND") && arg) {
        char error [256] = "";
        metricshttp_destroy (&self->http);
        self->http = metricshttp_new (self->ctx.metrics, arg, error, sizeof error);
        if (self->http) {
            zsys_info ("keyserver: metrics on http://%s/metrics", metricshttp_address (self->http));
            zstr_send (self->pipe, metricshttp_address (self->http));
        }
        else {
            zsys_error ("keyserver: %s", error);
            zstr_send (self->pipe, "ERROR");
        }
    }
    else
    if (streq (command, "START"))
        zstr_send (self->pipe, s_start (self) == 0? "OK": "ERROR");
    else
    if (streq (command, "BIND") && arg) {
        if (zsock_bind (self->router, "%s", arg) >= 0) {
            s_set_string (&self->endpoint, zsock_endpoint (self->router));
            zsys_info ("keyserver: listening on %s", self->endpoint);
            zstr_send (self->pipe, self->endpoint);
            s_announce (self);
        }
        else {
            zsys_error ("keyserver: cannot bind %s: %s", arg, zmq_strerror (zmq_errno ()));
            zstr_send (self->pipe, "ERROR");
        }
    }
    else
        zsys_error ("keyserver: invalid command %s", command);
    zstr_free (&command);
    zstr_free (&arg);
    zmsg_destroy (&msg);
}

static void
s_housekeeping (server_t *self)
{
    int64_t now = wire_now_ms ();
    if (now < self->next_housekeeping)
        return;
    self->next_housekeeping = now + HOUSEKEEPING_MS;
    if (self->chanserver) {
        size_t dropped = chanserver_expire (self->chanserver, now);
        if (dropped && self->ctx.verbose)
            zsys_info ("keyserver: dropped %zu idle sessions", dropped);
    }
    ratelimit_prune (self->ctx.ratelimit, now);
    //  The gauges only this thread may compute, for the metrics' readers
    if (self->chanserver) {
        size_t handshaking, anonymous, logged_in;
        chanserver_census (self->chanserver, &handshaking, &anonymous, &logged_in);
        metrics_sessions (self->ctx.metrics, handshaking, anonymous, logged_in);
        //  A file's size: SQLite's in the data directory only
        if (!self->store_url && self->ctx.store) {
            char *path = zsys_sprintf ("%s/%s", self->data_dir, KEYSERVER_DB);
            metrics_store_bytes (self->ctx.metrics, metrics_db_bytes (path));
            zstr_free (&path);
        }
    }
}

static server_t *
s_server_new (zsock_t *pipe)
{
    server_t *self = (server_t *) zmalloc (sizeof (server_t));
    assert (self);
    self->pipe = pipe;
    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    zsock_set_maxmsgsize (self->router, WIRE_MAX_FRAME);
    self->poller = zpoller_new (pipe, NULL);
    assert (self->poller);
    //  Only $TERM stops the actor; main() decides what a signal means
    zpoller_set_nonstop (self->poller, true);
    self->ctx.ratelimit = ratelimit_new ();
    serverlimits_defaults (&self->ctx.limits, SERVERLIMITS_KEYSERVER);
    s_apply_limits (self);
    self->ctx.iterations = KEYSERVER_ITERATIONS;
    self->rotation_window = KEYROTATION_WINDOW_DAYS;
    self->batch = ksbatch_new ();
    self->ctx.metrics = metrics_new ("keyserver", CHAT_VERSION);
    self->watchdog = watchdog_new ();
    assert (self->ctx.metrics && self->watchdog);
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
    ksbatch_destroy (&self->batch);
    chanserver_destroy (&self->chanserver);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->admin);
    zsock_destroy (&self->router);
    ksdata_unload (&self->ctx);
    ratelimit_destroy (&self->ctx.ratelimit);
    free (self->data_dir);
    if (self->store_url) {
        //  It may hold a password
        secret_wipe (self->store_url, strlen (self->store_url));
        free (self->store_url);
    }
    free (self->mainserver_key_path);
    free (self->rotation);
    free (self->announce);
    free (self->endpoint);
    metrics_destroy (&self->ctx.metrics);
    watchdog_destroy (&self->watchdog);
    free (self);
    *self_p = NULL;
}

void
keyserver_actor (zsock_t *pipe, void *args)
{
    (void) args;
    server_t *self = s_server_new (pipe);
    zsock_signal (pipe, 0);

    while (!self->terminated) {
        void *which = zpoller_wait (self->poller,
                                    watchdog_timeout (self->watchdog, HOUSEKEEPING_MS));
        if (which == self->pipe)
            s_handle_pipe (self);
        else
        if (which && which == self->router)
            ksbatch_run (self->batch, &self->ctx, self->chanserver, self->router);
        else
        if (which && self->chanserver && which == chanserver_handshakes (self->chanserver))
            chanserver_handshake_done (self->chanserver);
        else
        if (which && which == self->admin)
            ksadmin_handle (&self->ctx, self->chanserver, self->admin, self->started_at);
        else
        if (!which && !zpoller_expired (self->poller) && zmq_errno () == ETERM)
            break;              //  context gone: nothing more can be done
        s_housekeeping (self);
        watchdog_kick (self->watchdog);
    }
    if (self->started)
        zsys_info ("keyserver: stopped");
    s_server_destroy (&self);
    //  Free this thread's OpenSSL state (its DRBGs) now: CZMQ's actor
    //  threads are detached, so main() may exit before the thread-exit
    //  handlers would have run, and the state would show up as a leak
    OPENSSL_thread_stop ();
}
