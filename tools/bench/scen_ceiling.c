/*  scen_ceiling - this machine's limits, measured in the same run: what no
    server built on these libraries can beat on one core
*/
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <czmq.h>
#include "chaterror.h"
#include "fernet.h"
#include "scram.h"
#include "rsakey.h"
#include "bench.h"
#include "benchstats.h"

#define ZMQ_PAYLOAD 256

//  Run fn until seconds have passed; returns calls per second.
static double
s_rate (double seconds, int (*fn) (void *), void *arg)
{
    int64_t start = bench_now_ns ();
    long calls = 0;
    double elapsed = 0;
    do {
        for (int i = 0; i < 4; i++)
            if (fn (arg) != 0)
                return -1;
        calls += 4;
        elapsed = bench_seconds_since (start);
    } while (elapsed < seconds);
    return (double) calls / elapsed;
}

static int
s_sign (void *arg)
{
    static uint8_t transcript [16 + 32 + 32 + 32 + 16 + 256];
    uint8_t *sig = NULL;
    size_t len = 0;
    int rc = rsakey_sign ((rsakey_t *) arg, transcript, sizeof transcript, &sig, &len);
    free (sig);
    return rc;
}

typedef struct {
    rsakey_t *key;
    uint8_t *ciphertext;
    size_t len;
} decrypt_arg_t;

static int
s_decrypt (void *arg)
{
    decrypt_arg_t *d = (decrypt_arg_t *) arg;
    uint8_t *plain = NULL;
    size_t len = 0;
    int rc = rsakey_decrypt (d->key, d->ciphertext, d->len, &plain, &len);
    free (plain);
    return rc;
}

typedef struct {
    uint8_t key [FERNET_KEY_SIZE];
    uint8_t plain [1024];
    size_t len;
} fernet_arg_t;

static int
s_fernet (void *arg)
{
    fernet_arg_t *f = (fernet_arg_t *) arg;
    char *token = NULL;
    int rc = fernet_encrypt (f->key, f->plain, f->len, wire_now (), &token);
    free (token);
    return rc;
}

//  The same with the key made ready once, as a channel or a seal worker
//  keeps it; and opening such a token.
typedef struct {
    fernet_key_t *ready;
    uint8_t plain [256];
    char *token;
} fernet_ready_arg_t;

static int
s_fernet_ready (void *arg)
{
    fernet_ready_arg_t *f = (fernet_ready_arg_t *) arg;
    char *token = NULL;
    int rc = fernet_key_encrypt (f->ready, f->plain, sizeof f->plain, wire_now (), &token);
    free (token);
    return rc;
}

static int
s_fernet_open (void *arg)
{
    fernet_ready_arg_t *f = (fernet_ready_arg_t *) arg;
    uint8_t *plain = NULL;
    size_t len = 0;
    int rc = fernet_key_decrypt (f->ready, f->token, strlen (f->token), 60, wire_now (),
                                 &plain, &len);
    free (plain);
    return rc;
}

static int
s_pbkdf2 (void *arg)
{
    (void) arg;
    static const uint8_t salt [16] = { 1, 2, 3 };
    uint8_t stored [SCRAM_KEY_SIZE], server [SCRAM_KEY_SIZE];
    return scram_make_verifier ("pencil", salt, sizeof salt, SCRAM_MIN_ITERATIONS,
                                stored, server);
}

//  The far end of the raw ZMQ measurements: a ROUTER that echoes frames
//  starting with 'E', counts the rest, and answers 'C' with the count.
static void
s_router_actor (zsock_t *pipe, void *args)
{
    (void) args;
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert (router);
    zsock_set_rcvhwm (router, 0);
    zsock_set_sndhwm (router, 0);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    zsock_signal (pipe, 0);
    zstr_sendf (pipe, "%d", port);
    void *handle = zsock_resolve (router);
    zpoller_t *poller = zpoller_new (pipe, router, NULL);
    uint64_t count = 0;
    bool running = true;
    while (running) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe || !which)
            break;
        zmq_msg_t id, body;
        while (true) {
            zmq_msg_init (&id);
            if (zmq_msg_recv (&id, handle, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close (&id);
                break;
            }
            zmq_msg_init (&body);
            zmq_msg_recv (&body, handle, 0);
            const char *data = (const char *) zmq_msg_data (&body);
            char kind = zmq_msg_size (&body)? data [0]: 0;
            if (kind == 'E') {
                zmq_msg_send (&id, handle, ZMQ_SNDMORE);
                zmq_msg_send (&body, handle, 0);
            }
            else
            if (kind == 'C') {
                char text [32];
                int len = snprintf (text, sizeof text, "%llu", (unsigned long long) count);
                zmq_msg_send (&id, handle, ZMQ_SNDMORE);
                zmq_send (handle, text, (size_t) len, 0);
                count = 0;
                zmq_msg_close (&body);
            }
            else {
                count++;
                zmq_msg_close (&id);
                zmq_msg_close (&body);
            }
        }
    }
    zpoller_destroy (&poller);
    zsock_destroy (&router);
}

static int
s_zmq (bench_t *bench)
{
    zactor_t *actor = zactor_new (s_router_actor, NULL);
    char *port = zstr_recv (actor);
    if (!port || atoi (port) <= 0) {
        zstr_free (&port);
        zactor_destroy (&actor);
        return -1;
    }
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    zsock_set_sndhwm (dealer, 0);
    zsock_set_rcvhwm (dealer, 0);
    zsock_connect (dealer, "tcp://127.0.0.1:%s", port);
    zstr_free (&port);
    zsock_set_rcvtimeo (dealer, 10000);
    void *handle = zsock_resolve (dealer);
    char payload [ZMQ_PAYLOAD];
    memset (payload, 'x', sizeof payload);

    //  Round trips first (also makes sure the connection is up)
    benchstats_t *rtt = benchstats_new ();
    int trips = bench->quick? 200: 5000;
    payload [0] = 'E';
    char reply [ZMQ_PAYLOAD];
    int rc = 0;
    for (int i = 0; i < trips + 50 && rc == 0; i++) {
        int64_t start = bench_now_ns ();
        zmq_send (handle, payload, sizeof payload, 0);
        if (zmq_recv (handle, reply, sizeof reply, 0) < 0)
            rc = -1;
        else
        if (i >= 50)            //  warm-up
            benchstats_add (rtt, (double) (bench_now_ns () - start) / 1000.0);
    }
    bench->zmq_rtt_p50_us = benchstats_percentile (rtt, 50);
    bench->zmq_rtt_p99_us = benchstats_percentile (rtt, 99);
    benchstats_destroy (&rtt);

    //  Then one-way throughput, counted at the far end
    long sent = 0;
    payload [0] = 'D';
    int64_t start = bench_now_ns ();
    while (rc == 0 && bench_seconds_since (start) < bench->ceiling_seconds) {
        for (int i = 0; i < 1000; i++)
            zmq_send (handle, payload, sizeof payload, 0);
        sent += 1000;
    }
    zmq_send (handle, "C", 1, 0);
    char count [32] = "";
    if (rc == 0 && zmq_recv (handle, count, sizeof count - 1, 0) < 0)
        rc = -1;
    double elapsed = bench_seconds_since (start);
    if (rc == 0 && atol (count) != sent)
        rc = -1;
    bench->zmq_msgs_per_s = (double) sent / elapsed;
    zsock_destroy (&dealer);
    zactor_destroy (&actor);
    return rc;
}

//  What a durable commit waits for at least: one small write made durable
//  (SQLite in WAL mode with synchronous=FULL syncs the log on each commit).
static int
s_fsync (bench_t *bench)
{
    char *path = zsys_sprintf ("%s/fsync.probe", bench->tmpdir);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free (path);
        return -1;
    }
    benchstats_t *stats = benchstats_new ();
    char block [4096];
    memset (block, 'f', sizeof block);
    int rounds = bench->quick? 10: 100;
    int rc = 0;
    for (int i = 0; i < rounds && rc == 0; i++) {
        int64_t start = bench_now_ns ();
        if (write (fd, block, sizeof block) != (ssize_t) sizeof block || fdatasync (fd) != 0)
            rc = -1;
        benchstats_add (stats, (double) (bench_now_ns () - start) / 1e6);
    }
    close (fd);
    unlink (path);
    free (path);
    bench->fsync_p50_ms = benchstats_percentile (stats, 50);
    bench->fsync_p99_ms = benchstats_percentile (stats, 99);
    benchstats_destroy (&stats);
    return rc;
}

int
bench_ceiling (bench_t *bench)
{
    rsakey_t *key = bench_client_key ();
    if (!key) {
        benchreport_fail (bench->report, "ceiling", "cannot generate an RSA key");
        return -1;
    }
    double seconds = bench->ceiling_seconds;
    bench->rsa_sign_per_s = s_rate (seconds, s_sign, key);

    decrypt_arg_t d = { key, NULL, 0 };
    uint8_t secrets [48] = { 0 };
    if (rsakey_encrypt (key, secrets, sizeof secrets, &d.ciphertext, &d.len) == CHAT_OK)
        bench->rsa_decrypt_per_s = s_rate (seconds, s_decrypt, &d);
    free (d.ciphertext);

    fernet_arg_t f;
    fernet_key_generate (f.key);
    memset (f.plain, 'a', sizeof f.plain);
    f.len = 1024;
    bench->fernet_1k_per_s = s_rate (seconds, s_fernet, &f);
    bench->fernet_1k_mb_s = bench->fernet_1k_per_s * 1024 / 1e6;
    f.len = 256;
    bench->fernet_small_per_s = s_rate (seconds, s_fernet, &f);
    fernet_ready_arg_t ready = { fernet_key_new (f.key), { 0 }, NULL };
    memset (ready.plain, 'a', sizeof ready.plain);
    double ready_seal = -1, ready_open = -1;
    if (ready.ready
    &&  fernet_key_encrypt (ready.ready, ready.plain, sizeof ready.plain, wire_now (),
                            &ready.token) == CHAT_OK) {
        ready_seal = s_rate (seconds, s_fernet_ready, &ready);
        ready_open = s_rate (seconds, s_fernet_open, &ready);
    }
    free (ready.token);
    fernet_key_destroy (&ready.ready);
    bench->pbkdf2_iter_per_s = s_rate (seconds, s_pbkdf2, NULL) * SCRAM_MIN_ITERATIONS;

    int rc = s_zmq (bench);
    if (rc == 0)
        rc = s_fsync (bench);
    if (bench->rsa_sign_per_s <= 0 || bench->fernet_1k_per_s <= 0
    ||  ready_seal <= 0 || ready_open <= 0
    ||  bench->pbkdf2_iter_per_s <= 0 || rc != 0) {
        benchreport_fail (bench->report, "ceiling", "a measurement failed");
        return -1;
    }
    benchreport_t *r = bench->report;
    benchreport_add (r, "ceiling", "RSA-2048 PSS signatures, one core", bench->rsa_sign_per_s,
                     "/s", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "RSA-2048 OAEP decryptions, one core",
                     bench->rsa_decrypt_per_s, "/s", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "fernet_encrypt 1 KiB (AES-CBC+HMAC)",
                     bench->fernet_1k_per_s, "tokens/s", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "fernet_encrypt 1 KiB, plaintext", bench->fernet_1k_mb_s,
                     "MB/s", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "fernet_encrypt 256 B", bench->fernet_small_per_s,
                     "tokens/s", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "fernet_key_encrypt 256 B, key kept", ready_seal,
                     "tokens/s", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "fernet_key_decrypt 256 B, key kept", ready_open,
                     "tokens/s", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "PBKDF2-HMAC-SHA256, one core", bench->pbkdf2_iter_per_s,
                     "iter/s", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "ZMQ DEALER->ROUTER 256 B, no crypto",
                     bench->zmq_msgs_per_s, "msgs/s", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "ZMQ round trip p50, no crypto", bench->zmq_rtt_p50_us,
                     "us", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "ZMQ round trip p99, no crypto", bench->zmq_rtt_p99_us,
                     "us", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "4 KiB write + fdatasync p50", bench->fsync_p50_ms,
                     "ms", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "4 KiB write + fdatasync p99", bench->fsync_p99_ms,
                     "ms", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    return 0;
}
