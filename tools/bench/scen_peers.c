/*  scen_peers - chat beside a peer system in the same run: Mosquitto with
    TLS at QoS 1 (persistence on, TCP_NODELAY at both ends), in the shape of
    the messages and fanout scenarios, and chat's figures over Mosquitto's

    MQTT shape: client i is in group i % conversations and subscribes (QoS
    1, MQTT 5 no-local: it does not get its own messages back, as a chat
    sender gets no push of its own) to its group's topic, and publishes
    there at QoS 1: a message counts when its PUBACK is in (the broker has
    it), a delivery when a member receives it. Every client is a libmosquitto
    client on one poll loop here (mosquitto_loop_read / _write / _misc), as
    chat's clients are on one loop in the messages scenario. Payloads carry
    their send time, so send->receive is timed without a clock of the
    broker's.
*/
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <openssl/ssl.h>
#include <czmq.h>
#include "bench.h"
#include "benchprogress.h"
#include "benchstats.h"

#ifdef BENCH_HAVE_MOSQUITTO

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include "benchmosq.h"

#define PEER_PAYLOAD     256            //  bytes per MQTT message
#define SETUP_TIMEOUT_MS 120000
#define MAX_BEHIND       2048           //  a client this far behind is skipped at a fixed rate
#define FANOUT_WINDOW    16             //  as the fanout scenario

typedef struct _run_t run_t;

typedef struct {
    run_t *run;
    struct mosquitto *mosq;
    char topic [32];
    bool connected;
    int connect_rc;
    bool subscribed;
    bool asked;                         //  its subscription was sent
    size_t in_flight;
    size_t received;
} peer_t;

struct _run_t {
    peer_t *peers;
    size_t count;
    struct pollfd *fds;
    int64_t misc_at;
    //  measured
    bool measuring;
    size_t acks;
    size_t deliveries;
    int64_t last_ack_ns;
    int64_t last_delivery_ns;
    benchstats_t *delivery_us;
};

static void
s_on_connect (struct mosquitto *mosq, void *obj, int rc)
{
    (void) mosq;
    peer_t *peer = (peer_t *) obj;
    peer->connect_rc = rc;
    peer->connected = rc == 0;
}

static void
s_on_subscribe (struct mosquitto *mosq, void *obj, int mid, int count, const int *granted)
{
    (void) mosq; (void) mid;
    peer_t *peer = (peer_t *) obj;
    peer->subscribed = count == 1 && granted [0] == 1;
}

static void
s_on_publish (struct mosquitto *mosq, void *obj, int mid)
{
    (void) mosq; (void) mid;
    peer_t *peer = (peer_t *) obj;
    if (peer->in_flight)
        peer->in_flight--;
    run_t *run = peer->run;
    if (run->measuring) {
        run->acks++;
        run->last_ack_ns = bench_now_ns ();
    }
}

static void
s_on_message (struct mosquitto *mosq, void *obj, const struct mosquitto_message *message)
{
    (void) mosq;
    peer_t *peer = (peer_t *) obj;
    run_t *run = peer->run;
    peer->received++;
    if (!run->measuring || message->payloadlen < 8)
        return;
    int64_t now = bench_now_ns (), sent;
    memcpy (&sent, message->payload, sizeof sent);
    run->deliveries++;
    run->last_delivery_ns = now;
    if (sent > 0 && sent <= now)
        benchstats_add (run->delivery_us, (double) (now - sent) / 1000.0);
}

//  Read what a client's socket has, and what TLS holds already decrypted
//  (which poll cannot see: libmosquitto may stop after one packet). errno
//  is cleared first: libmosquitto reads a stale EAGAIN as "nothing more".
static int
s_read (struct mosquitto *mosq)
{
    SSL *ssl = (SSL *) mosquitto_ssl_get (mosq);
    int rounds = 0;
    do {
        errno = 0;
        if (mosquitto_loop_read (mosq, 1) != MOSQ_ERR_SUCCESS)
            return -1;
    } while (ssl && SSL_pending (ssl) > 0 && ++rounds < 1000);
    return 0;
}

//  One turn of the loop: wait up to timeout_ms for any client's socket,
//  then read and write what is ready. -1 when a client lost its connection.
static int
s_turn (run_t *run, int timeout_ms)
{
    for (size_t i = 0; i < run->count; i++) {
        struct mosquitto *mosq = run->peers [i].mosq;
        run->fds [i].fd = mosquitto_socket (mosq);
        run->fds [i].events = POLLIN | (mosquitto_want_write (mosq)? POLLOUT: 0);
        run->fds [i].revents = 0;
    }
    if (poll (run->fds, (nfds_t) run->count, timeout_ms) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < run->count; i++) {
        struct mosquitto *mosq = run->peers [i].mosq;
        short events = run->fds [i].revents;
        if (run->fds [i].fd < 0 && run->peers [i].connected)
            rc = -1;                    //  it was connected, and is not now
        if (events & (POLLIN | POLLHUP | POLLERR))
            if (s_read (mosq) != 0)
                rc = -1;
        if (events & POLLOUT)
            if (mosquitto_loop_write (mosq, 1) != MOSQ_ERR_SUCCESS)
                rc = -1;
    }
    if (zclock_mono () >= run->misc_at) {
        for (size_t i = 0; i < run->count; i++)
            mosquitto_loop_misc (run->peers [i].mosq);
        run->misc_at = zclock_mono () + 1000;
    }
    return rc;
}

static void
s_run_destroy (run_t *run)
{
    for (size_t i = 0; i < run->count; i++)
        if (run->peers [i].mosq) {
            if (run->peers [i].connected)
                mosquitto_disconnect (run->peers [i].mosq);
            mosquitto_destroy (run->peers [i].mosq);
        }
    free (run->peers);
    free (run->fds);
    benchstats_destroy (&run->delivery_us);
    memset (run, 0, sizeof *run);
}

//  count clients connected over TLS (the broker's certificate verified,
//  for 127.0.0.1) and subscribed to their topics; topic_of (i) names client
//  i's topic, subscribes (i) whether it subscribes. 0, or -1 with why set.
static int
s_run_new (run_t *run, benchmosq_t *broker, size_t count, const char *label,
           void (*topic_of) (size_t, size_t, char *, size_t), size_t groups,
           bool (*subscribes) (size_t), const char **why)
{
    memset (run, 0, sizeof *run);
    run->peers = (peer_t *) zmalloc (count * sizeof (peer_t));
    run->fds = (struct pollfd *) zmalloc (count * sizeof (struct pollfd));
    run->delivery_us = benchstats_new ();
    benchprogress_t *bar = benchprogress_new (label, count);
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        peer_t *peer = &run->peers [i];
        peer->run = run;
        topic_of (i, groups, peer->topic, sizeof peer->topic);
        char id [32];
        snprintf (id, sizeof id, "bench-%zu", i);
        peer->mosq = mosquitto_new (id, true, peer);
        run->count = i + 1;
        if (!peer->mosq
        ||  mosquitto_int_option (peer->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5)
        ||  mosquitto_int_option (peer->mosq, MOSQ_OPT_TCP_NODELAY, 1)
        ||  mosquitto_tls_set (peer->mosq, benchmosq_cafile (broker), NULL, NULL, NULL, NULL)) {
            *why = "a libmosquitto client could not be made";
            rc = -1;
            break;
        }
        mosquitto_connect_callback_set (peer->mosq, s_on_connect);
        mosquitto_subscribe_callback_set (peer->mosq, s_on_subscribe);
        mosquitto_publish_callback_set (peer->mosq, s_on_publish);
        mosquitto_message_callback_set (peer->mosq, s_on_message);
        if (mosquitto_connect (peer->mosq, "127.0.0.1", benchmosq_port (broker), 600)) {
            *why = "a client could not connect to the broker";
            rc = -1;
        }
        //  Let the TLS handshakes proceed while the others connect
        s_turn (run, 0);
        benchprogress_update (bar, i + 1);
    }
    benchprogress_destroy (&bar);
    int64_t deadline = zclock_mono () + SETUP_TIMEOUT_MS;
    size_t ready = 0;
    while (rc == 0 && ready < count && zclock_mono () < deadline && !zsys_interrupted) {
        if (s_turn (run, 10) != 0) {
            *why = "a client lost its connection while connecting";
            rc = -1;
        }
        ready = 0;
        for (size_t i = 0; i < count; i++) {
            peer_t *peer = &run->peers [i];
            if (peer->connect_rc) {
                *why = "the broker refused a connection";
                rc = -1;
            }
            if (peer->connected && !peer->asked && subscribes (i)) {
                if (mosquitto_subscribe_v5 (peer->mosq, NULL, peer->topic, 1,
                                            MQTT_SUB_OPT_NO_LOCAL, NULL)) {
                    *why = "a subscription could not be sent";
                    rc = -1;
                }
                peer->asked = true;
            }
            if (peer->connected && (peer->subscribed || !subscribes (i)))
                ready++;
        }
    }
    if (rc == 0 && ready < count) {
        *why = "not every client connected and subscribed in time";
        rc = -1;
    }
    return rc;
}

static void
s_group_topic (size_t i, size_t groups, char *topic, size_t size)
{
    snprintf (topic, size, "chat/g%zu", i % groups);
}

static bool
s_everyone (size_t i)
{
    (void) i;
    return true;
}

static void
s_fan_topic (size_t i, size_t groups, char *topic, size_t size)
{
    (void) i; (void) groups;
    snprintf (topic, size, "chat/fan");
}

//  Client 0 publishes into the fan-out topic; the others receive.
static bool
s_receivers (size_t i)
{
    return i > 0;
}

static bool
s_publish (run_t *run, size_t index)
{
    peer_t *peer = &run->peers [index];
    uint8_t payload [PEER_PAYLOAD];
    memset (payload, 'm', sizeof payload);
    int64_t now = bench_now_ns ();
    memcpy (payload, &now, sizeof now);
    if (mosquitto_publish_v5 (peer->mosq, NULL, peer->topic, sizeof payload, payload, 1,
                              false, NULL) != MOSQ_ERR_SUCCESS)
        return false;
    peer->in_flight++;
    return true;
}

static void
s_measure_reset (run_t *run)
{
    run->acks = run->deliveries = 0;
    run->last_ack_ns = run->last_delivery_ns = 0;
    benchstats_destroy (&run->delivery_us);
    run->delivery_us = benchstats_new ();
    run->measuring = true;
}

//  Until nothing is in flight and no delivery came for 300 ms.
static void
s_drain (run_t *run, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    size_t last = run->deliveries;
    int64_t quiet_since = zclock_mono ();
    while (!zsys_interrupted && zclock_mono () < deadline) {
        s_turn (run, 5);
        bool idle = true;
        for (size_t i = 0; i < run->count && idle; i++)
            if (run->peers [i].in_flight)
                idle = false;
        if (run->deliveries != last) {
            last = run->deliveries;
            quiet_since = zclock_mono ();
        }
        if (idle && zclock_mono () - quiet_since > 300)
            break;
    }
    run->measuring = false;
}

//  The messages shape, as fast as PUBACKs allow: messages/s, broker CPU
//  per message. Then at a fixed rate: send->receive p99.
static int
s_messages (bench_t *bench, benchmosq_t *broker, const char **why)
{
    const char *name = "peers";
    run_t run;
    size_t clients = (size_t) bench->clients;
    size_t groups = (size_t) bench->conversations;
    if (s_run_new (&run, broker, clients, "peers: mosquitto clients", s_group_topic, groups,
                   s_everyone, why) != 0) {
        s_run_destroy (&run);
        return -1;
    }
    //  Warm-up: one message from everyone, all delivered
    for (size_t i = 0; i < clients; i++)
        s_publish (&run, i);
    s_drain (&run, 10000);

    //  As fast as acks allow
    s_measure_reset (&run);
    double broker_before = benchmosq_cpu_ms (broker);
    double own_before = bench_cpu_ms ();
    benchprogress_t *bar = benchprogress_new ("peers: as fast as acks",
                                              (uint64_t) bench->duration_ms);
    int64_t start = bench_now_ns ();
    int64_t end = zclock_mono () + bench->duration_ms;
    int rc = 0;
    while (rc == 0 && !zsys_interrupted && zclock_mono () < end) {
        for (size_t i = 0; i < clients; i++)
            while (run.peers [i].in_flight < (size_t) bench->window)
                if (!s_publish (&run, i))
                    break;
        rc = s_turn (&run, 1);
        benchprogress_update (bar, (uint64_t) (bench_seconds_since (start) * 1000));
    }
    benchprogress_destroy (&bar);
    s_drain (&run, 10000);
    double broker_ms = benchmosq_cpu_ms (broker) - broker_before;
    double own_ms = bench_cpu_ms () - own_before;
    double elapsed = (double) (run.last_ack_ns - start) / 1e9;
    double delivery_elapsed = (double) (run.last_delivery_ns - start) / 1e9;
    if (rc != 0 || run.acks == 0 || elapsed <= 0) {
        *why = "the broker dropped a client or acknowledged nothing (max rate)";
        s_run_destroy (&run);
        return -1;
    }
    bench->peer_msgs_per_s = (double) run.acks / elapsed;
    benchreport_t *r = bench->report;
    char figure [64];
    snprintf (figure, sizeof figure, "mosquitto msgs/s, %zu clients, %zu groups", clients,
              groups);
    benchreport_add (r, name, figure, bench->peer_msgs_per_s, "/s", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, name, "mosquitto deliveries/s (same run)",
                     delivery_elapsed > 0? (double) run.deliveries / delivery_elapsed: 0, "/s",
                     NULL, 0, BENCH_NO_TARGET, 0, NULL);
    if (broker_before >= 0 && broker_ms > 0)
        benchreport_add (r, name, "mosquitto CPU per message (max)",
                         broker_ms * 1000 / (double) run.acks, "us", NULL, 0,
                         BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, name, "mosquitto clients' CPU per message",
                     own_ms * 1000 / (double) run.acks, "us", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    size_t want = run.acks * (clients / groups - 1);
    benchreport_add (r, name, "mosquitto deliveries missing (max)",
                     (double) (want > run.deliveries? want - run.deliveries: 0), "",
                     NULL, 0, BENCH_NO_TARGET, 0, NULL);

    //  At a fixed rate, spread over the clients in turn
    int rate = bench->rate? bench->rate: bench->quick? 500: (int) TARGET_PUSH_RATE;
    s_measure_reset (&run);
    char label [64];
    snprintf (label, sizeof label, "peers: %d/s", rate);
    bar = benchprogress_new (label, (uint64_t) bench->duration_ms);
    start = bench_now_ns ();
    end = zclock_mono () + bench->duration_ms;
    size_t sent = 0, skipped = 0, next = 0;
    while (rc == 0 && !zsys_interrupted && zclock_mono () < end) {
        double due = (double) rate * bench_seconds_since (start);
        while ((double) sent + (double) skipped < due) {
            size_t index = next;
            next = (next + 1) % clients;
            if (run.peers [index].in_flight >= MAX_BEHIND || !s_publish (&run, index))
                skipped++;
            else
                sent++;
        }
        double next_due = ((double) sent + (double) skipped + 1) / (double) rate;
        rc = s_turn (&run, next_due - bench_seconds_since (start) >= 0.001? 1: 0);
        benchprogress_update (bar, (uint64_t) (bench_seconds_since (start) * 1000));
    }
    double send_elapsed = bench_seconds_since (start);
    benchprogress_destroy (&bar);
    s_drain (&run, 10000);
    if (rc != 0 || benchstats_count (run.delivery_us) == 0) {
        *why = "the broker dropped a client or delivered nothing (fixed rate)";
        s_run_destroy (&run);
        return -1;
    }
    bench->peer_rate = rate;
    bench->peer_p99_ms = benchstats_percentile (run.delivery_us, 99) / 1000;
    snprintf (figure, sizeof figure, "mosquitto msgs/s sent (asked %d/s)", rate);
    benchreport_add (r, name, figure, (double) sent / send_elapsed, "/s", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);
    snprintf (figure, sizeof figure, "mosquitto send->receive p50 at %d/s", rate);
    benchreport_add (r, name, figure, benchstats_percentile (run.delivery_us, 50) / 1000, "ms",
                     NULL, 0, BENCH_NO_TARGET, 0, NULL);
    snprintf (figure, sizeof figure, "mosquitto send->receive p99 at %d/s", rate);
    benchreport_add (r, name, figure, bench->peer_p99_ms, "ms", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);
    if (skipped)
        benchreport_note (r, name, "mosquitto at %d/s: %zu sends skipped (clients too far "
                          "behind)", rate, skipped);
    s_run_destroy (&run);
    return 0;
}

//  The fanout shape: one publisher, members - 1 receivers on one topic.
static int
s_fanout (bench_t *bench, benchmosq_t *broker, const char **why)
{
    const char *name = "peers";
    run_t run;
    size_t members = (size_t) bench->fanout_members;
    if (s_run_new (&run, broker, members, "peers: mosquitto fan-out", s_fan_topic, 1,
                   s_receivers, why) != 0) {
        s_run_destroy (&run);
        return -1;
    }
    //  Warm-up: one message to everybody
    s_publish (&run, 0);
    s_drain (&run, 10000);
    for (size_t i = 1; i < members; i++)
        if (run.peers [i].received == 0) {
            *why = "a fan-out receiver never got the warm-up message";
            s_run_destroy (&run);
            return -1;
        }
    size_t messages = (size_t) bench->fanout_messages;
    size_t want = messages * (members - 1);
    s_measure_reset (&run);
    double broker_before = benchmosq_cpu_ms (broker);
    benchprogress_t *bar = benchprogress_new ("peers: fan-out deliveries", want);
    size_t sent = 0;
    int64_t start = bench_now_ns ();
    int64_t last_progress = zclock_mono ();
    size_t last = 0;
    int rc = 0;
    while (rc == 0 && !zsys_interrupted && (run.acks < messages || run.deliveries < want)) {
        while (sent < messages && run.peers [0].in_flight < FANOUT_WINDOW && s_publish (&run, 0))
            sent++;
        rc = s_turn (&run, 10);
        benchprogress_update (bar, run.deliveries);
        if (run.deliveries != last) {
            last = run.deliveries;
            last_progress = zclock_mono ();
        }
        else
        if (zclock_mono () - last_progress > 3000)
            break;
    }
    benchprogress_destroy (&bar);
    double broker_ms = benchmosq_cpu_ms (broker) - broker_before;
    run.measuring = false;
    double elapsed = (double) (run.last_delivery_ns - start) / 1e9;
    if (rc != 0 || run.acks < messages || run.deliveries == 0 || elapsed <= 0) {
        *why = "the broker dropped a client or did not acknowledge every fan-out message";
        s_run_destroy (&run);
        return -1;
    }
    bench->peer_fanout_per_s = (double) run.deliveries / elapsed;
    char figure [64];
    snprintf (figure, sizeof figure, "mosquitto deliveries/s, %zu members", members);
    benchreport_add (bench->report, name, figure, bench->peer_fanout_per_s, "/s", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);
    if (broker_before >= 0 && broker_ms > 0)
        benchreport_add (bench->report, name, "mosquitto CPU per delivery",
                         broker_ms * 1000 / (double) run.deliveries, "us", NULL, 0,
                         BENCH_NO_TARGET, 0, NULL);
    benchreport_add (bench->report, name, "mosquitto fan-out deliveries missing",
                     (double) (want - (run.deliveries < want? run.deliveries: want)), "",
                     NULL, 0, BENCH_NO_TARGET, 0, NULL);
    s_run_destroy (&run);
    return 0;
}

//  chat / Mosquitto, where both were measured in this run: msgs/s and
//  send->push p99 under the raw load (light clients, as Mosquitto's are:
//  its msgs/s row is held to issue 19's target) and under real clients (each
//  signing and verifying every message on the same cores).
static void
s_ratios (bench_t *bench)
{
    benchreport_t *r = bench->report;
    const char *name = "peers";
    const struct {
        const char *load;
        double msgs_per_s, p99_ms;
        int rate;
        bool target;
    } loads [] = {
        { "raw load", bench->raw_msgs_per_s, bench->raw_p99_ms, bench->raw_rate, true },
        { "real clients", bench->chat_msgs_per_s, bench->chat_p99_ms, bench->chat_rate, false },
    };
    for (size_t i = 0; i < sizeof loads / sizeof loads [0]; i++) {
        char figure [80];
        if (loads [i].msgs_per_s > 0 && bench->peer_msgs_per_s > 0) {
            char target [32];
            snprintf (target, sizeof target, ">= %.1fx mosquitto", TARGET_PEER_RATIO);
            snprintf (figure, sizeof figure, "chat msgs/s over mosquitto's (%s)",
                      loads [i].load);
            benchreport_add (r, name, figure, loads [i].msgs_per_s, "/s", "mosquitto",
                             bench->peer_msgs_per_s,
                             loads [i].target? BENCH_AT_LEAST: BENCH_NO_TARGET,
                             TARGET_PEER_RATIO * bench->peer_msgs_per_s,
                             loads [i].target? target: NULL);
        }
        else
            benchreport_note (r, name, "no msgs/s ratio (%s): %s", loads [i].load,
                              loads [i].msgs_per_s > 0? "Mosquitto's figure is missing":
                              "chat gave none (its scenario failed, or with --rate "
                              "only the fixed rate ran)");
        if (loads [i].p99_ms > 0 && bench->peer_p99_ms > 0
        &&  loads [i].rate == bench->peer_rate) {
            snprintf (figure, sizeof figure, "chat send->push p99 at %d/s over mosq.'s (%s)",
                      loads [i].rate, loads [i].load);
            benchreport_add (r, name, figure, loads [i].p99_ms, "ms", "mosquitto",
                             bench->peer_p99_ms, BENCH_NO_TARGET, 0, NULL);
        }
        else
            benchreport_note (r, name, "no p99 ratio (%s): chat at %d/s, mosquitto at %d/s",
                              loads [i].load, loads [i].rate, bench->peer_rate);
    }
    if (bench->chat_fanout_per_s > 0 && bench->peer_fanout_per_s > 0)
        benchreport_add (r, name, "chat fan-out deliveries/s over mosquitto's",
                         bench->chat_fanout_per_s, "/s", "mosquitto",
                         bench->peer_fanout_per_s, BENCH_NO_TARGET, 0, NULL);
}

int
bench_peers (bench_t *bench)
{
    const char *name = "peers";
    char *bin = benchmosq_find (bench->mosquitto_bin);
    if (!bin) {
        benchreport_skip (bench->report, name, bench->mosquitto_bin?
                          "no mosquitto at the path given (--mosquitto-bin)":
                          "mosquitto is not installed (Debian: apt-get install mosquitto; "
                          "tools/setup installs it)");
        return 0;
    }
    char *dir = zsys_sprintf ("%s/peers", bench->tmpdir);
    benchmosq_t *broker = benchmosq_start (bin, dir);
    free (dir);
    int rc = -1;
    const char *why = "the broker did not start (its log is on stderr)";
    if (broker) {
        mosquitto_lib_init ();
        rc = s_messages (bench, broker, &why);
        if (rc == 0)
            rc = s_fanout (bench, broker, &why);
        mosquitto_lib_cleanup ();
    }
    if (rc == 0) {
        s_ratios (bench);
        benchreport_note (bench->report, name, "%s (%s) on 127.0.0.1, TLS (self-signed "
                          "RSA-2048 certificate, verified by the clients), persistence on "
                          "(saved at exit and every 30 min: it acks before any fsync), "
                          "set_tcp_nodelay and MOSQ_OPT_TCP_NODELAY, no queue bound; MQTT 5, "
                          "QoS 1, no-local subscriptions, %d B payloads; libmosquitto clients "
                          "on one poll loop, %d in flight per client at max rate; chat's "
                          "messages carry %d B of text (a push of %zu B). Chat's side: "
                          "'raw load' rows are messages-raw (light sessions, tokens signed "
                          "beforehand, pushes opened but bodies not: like the libmosquitto "
                          "clients, the load does little beside the server; its msgs/s "
                          "row is held to the target), 'real clients' rows are messages (chatclient_t, "
                          "signing and verifying every message on the same cores); fan-out "
                          "is the fanout scenario's raw members",
                          benchmosq_version (broker), bin, PEER_PAYLOAD, bench->window,
                          BENCH_TEXT_SIZE, bench->message_size);
    }
    else
        benchreport_fail (bench->report, name, why);
    benchmosq_destroy (&broker);
    free (bin);
    return rc;
}

#else

int
bench_peers (bench_t *bench)
{
    benchreport_skip (bench->report, "peers", "this chat-bench was built without libmosquitto "
                      "(Debian: libmosquitto-dev; tools/setup installs it)");
    return 0;
}

#endif
