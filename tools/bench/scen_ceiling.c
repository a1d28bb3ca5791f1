/*  scen_ceiling - this machine's limits, measured in the same run: what no
    server built on these libraries can beat on one core
*/
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <czmq.h>
#include "chaterror.h"
#include "fernet.h"
#include "mainserver.pb-c.h"
#include "msgstore.h"
#include "wire.h"
#include "scram.h"
#include "rsakey.h"
#include "bench.h"
#include "benchfloor.h"
#include "benchstats.h"
#include "benchstore.h"

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
    uint8_t *sig;
    size_t len;
} verify_arg_t;

static int
s_verify (void *arg)
{
    static uint8_t transcript [16 + 32 + 32 + 32 + 16 + 256];
    verify_arg_t *v = (verify_arg_t *) arg;
    return rsakey_verify (v->key, transcript, sizeof transcript, v->sig, v->len);
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
//  keeps it; and opening such a token. Any size up to 2 KiB.
typedef struct {
    fernet_key_t *ready;
    uint8_t plain [2048];
    size_t len;
    char *token;
} fernet_ready_arg_t;

static int
s_fernet_ready (void *arg)
{
    fernet_ready_arg_t *f = (fernet_ready_arg_t *) arg;
    char *token = NULL;
    int rc = fernet_key_encrypt (f->ready, f->plain, f->len, wire_now (), &token);
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

//  Seal and open rates of len bytes with the key kept; -1 when either failed.
static int
s_fernet_kept (double seconds, const uint8_t key [FERNET_KEY_SIZE], size_t len,
               double *seal_per_s, double *open_per_s)
{
    fernet_ready_arg_t *f = (fernet_ready_arg_t *) zmalloc (sizeof *f);
    f->ready = fernet_key_new (key);
    f->len = len < sizeof f->plain? len: sizeof f->plain;
    memset (f->plain, 'a', f->len);
    *seal_per_s = *open_per_s = -1;
    if (f->ready
    &&  fernet_key_encrypt (f->ready, f->plain, f->len, wire_now (), &f->token) == CHAT_OK) {
        *seal_per_s = s_rate (seconds, s_fernet_ready, f);
        *open_per_s = s_rate (seconds, s_fernet_open, f);
    }
    free (f->token);
    fernet_key_destroy (&f->ready);
    free (f);
    return *seal_per_s > 0 && *open_per_s > 0? 0: -1;
}

//  What a seal worker seals per push of a messages-scenario message: a
//  Push holding the StoredMessage of a real token (BENCH_TEXT_SIZE bytes
//  of text, signed and sealed as a client does). 0 when it cannot be made.
static size_t
s_message_size (bench_t *bench)
{
    uint8_t id [16] = { 1 }, client_id [16] = { 2 };
    char sender [] = "msg10";
    char *token = bench_message_token (id, sender, BENCH_TEXT_SIZE, bench->identity);
    if (!token)
        return 0;
    Chat__StoredMessage stored = CHAT__STORED_MESSAGE__INIT;
    stored.conversation_id.data = id;
    stored.conversation_id.len = sizeof id;
    stored.seq = 1000000;
    stored.sender = sender;
    stored.server_time = wire_now_ms ();
    stored.token = token;
    stored.client_message_id.data = client_id;
    stored.client_message_id.len = sizeof client_id;
    stored.epoch = 1;
    Chat__Push push = CHAT__PUSH__INIT;
    push.body_case = CHAT__PUSH__BODY_MESSAGE;
    push.message = &stored;
    size_t size = chat__push__get_packed_size (&push);
    free (token);
    return size;
}

static double
s_thread_cpu_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double) ts.tv_sec * 1e6 + (double) ts.tv_nsec / 1e3;
}

//  The store alone: real message tokens added BENCH_STORE_BATCH at a time
//  (msgstore_msg_add_batch: one transaction, one durable commit each) to a
//  conversation of the messages scenario's size, in a SQLite store in the
//  scratch directory, as the main server opens it by default. CPU (this
//  thread: SQLite and the commit's write and sync) and wall time per
//  message. -1 on failure.
static int
s_store (bench_t *bench, double *cpu_us, double *wall_us)
{
    size_t members = (size_t) (bench->clients / bench->conversations);
    if (members < 2)
        members = 2;
    char *path = zsys_sprintf ("%s/floor.db", bench->tmpdir);
    msgstore_t *store = msgstore_open (path);
    char **names = (char **) zmalloc (members * sizeof (char *));
    for (size_t i = 0; i < members; i++)
        names [i] = zsys_sprintf ("floor%zu", i);
    uint8_t id [16];
    char *token = NULL;
    int rc = store
          && benchstore_conversation (bench, store, (const char *const *) names, members,
                                      id) == 0? 0: -1;
    if (rc == 0) {
        token = bench_message_token (id, names [0], BENCH_TEXT_SIZE, bench->identity);
        rc = token? 0: -1;
    }
    msgstore_add_t adds [BENCH_STORE_BATCH];
    uint8_t client_ids [BENCH_STORE_BATCH][16];
    uint64_t counter = 0;
    long messages = 0;
    double cpu = 0;
    int64_t start = bench_now_ns ();
    while (rc == 0 && (messages < 3 * BENCH_STORE_BATCH
                   ||  bench_seconds_since (start) < bench->ceiling_seconds)) {
        for (size_t i = 0; i < BENCH_STORE_BATCH; i++) {
            counter++;
            memset (client_ids [i], 0, 16);
            memcpy (client_ids [i], &counter, sizeof counter);
            adds [i] = (msgstore_add_t) {
                .conversation_id = id, .sender = names [counter % members],
                .client_message_id = client_ids [i], .client_message_id_len = 16,
                .token = token, .token_len = strlen (token), .epoch = 1,
                .now_ms = wire_now_ms ()
            };
        }
        double before = s_thread_cpu_us ();
        if (msgstore_msg_add_batch (store, adds, BENCH_STORE_BATCH) != CHAT_OK)
            rc = -1;
        cpu += s_thread_cpu_us () - before;
        for (size_t i = 0; rc == 0 && i < BENCH_STORE_BATCH; i++)
            if (adds [i].status != CHAT_OK || adds [i].duplicate)
                rc = -1;
        messages += BENCH_STORE_BATCH;
    }
    double elapsed = bench_seconds_since (start);
    free (token);
    for (size_t i = 0; i < members; i++)
        free (names [i]);
    free (names);
    msgstore_destroy (&store);
    static const char *const suffixes [] = { "", "-wal", "-shm", "-journal" };
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes [0]; i++) {
        char *file = zsys_sprintf ("%s%s", path, suffixes [i]);
        unlink (file);
        free (file);
    }
    free (path);
    if (rc != 0 || messages == 0)
        return -1;
    *cpu_us = cpu / (double) messages;
    *wall_us = elapsed * 1e6 / (double) messages;
    return 0;
}

//  The floors from this run's ceilings (benchfloor.h says what is in each);
//  members per conversation = clients / conversations, as messages makes them.
static void
s_floors (bench_t *bench)
{
    benchfloor_ceilings_t ceilings = {
        .seal_small_us = bench->seal_small_us,
        .open_small_us = bench->open_small_us,
        .seal_message_us = bench->seal_message_us,
        .open_message_us = bench->open_message_us,
        .store_cpu_us = bench->store_cpu_us,
        .rsa_sign_per_s = bench->rsa_sign_per_s,
        .rsa_verify_per_s = bench->rsa_verify_per_s
    };
    benchfloor_t floor;
    benchfloor_compute (&ceilings, bench->clients / bench->conversations, &floor);
    bench->floor_server_us = floor.server_us;
    bench->floor_push_us = floor.push_us;
    bench->floor_client_us = floor.client_us;
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

    verify_arg_t v = { key, NULL, 0 };
    static uint8_t transcript [16 + 32 + 32 + 32 + 16 + 256];
    if (rsakey_sign (key, transcript, sizeof transcript, &v.sig, &v.len) == CHAT_OK)
        bench->rsa_verify_per_s = s_rate (seconds, s_verify, &v);
    free (v.sig);

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
    double ready_seal = -1, ready_open = -1, message_seal = -1, message_open = -1;
    bench->message_size = s_message_size (bench);
    int kept = s_fernet_kept (seconds, f.key, 256, &ready_seal, &ready_open);
    if (kept == 0 && bench->message_size)
        kept = s_fernet_kept (seconds, f.key, bench->message_size, &message_seal,
                              &message_open);
    if (kept == 0 && bench->message_size) {
        bench->seal_small_us = 1e6 / ready_seal;
        bench->open_small_us = 1e6 / ready_open;
        bench->seal_message_us = 1e6 / message_seal;
        bench->open_message_us = 1e6 / message_open;
    }
    bench->pbkdf2_iter_per_s = s_rate (seconds, s_pbkdf2, NULL) * SCRAM_MIN_ITERATIONS;

    double store_wall_us = 0;
    int rc = s_zmq (bench);
    if (rc == 0)
        rc = s_fsync (bench);
    if (rc == 0)
        rc = s_store (bench, &bench->store_cpu_us, &store_wall_us);
    if (bench->rsa_sign_per_s <= 0 || bench->rsa_verify_per_s <= 0
    ||  bench->fernet_1k_per_s <= 0 || kept != 0 || !bench->message_size
    ||  bench->pbkdf2_iter_per_s <= 0 || rc != 0) {
        benchreport_fail (bench->report, "ceiling", "a measurement failed");
        return -1;
    }
    benchreport_t *r = bench->report;
    benchreport_add (r, "ceiling", "RSA-2048 PSS signatures, one core", bench->rsa_sign_per_s,
                     "/s", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "ceiling", "RSA-2048 PSS verifications, one core",
                     bench->rsa_verify_per_s, "/s", NULL, 0, BENCH_NO_TARGET, 0, NULL);
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
    char figure [64];
    snprintf (figure, sizeof figure, "fernet_key_encrypt %zu B (a push), kept",
              bench->message_size);
    benchreport_add (r, "ceiling", figure, message_seal, "tokens/s", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);
    snprintf (figure, sizeof figure, "fernet_key_decrypt %zu B (a push), kept",
              bench->message_size);
    benchreport_add (r, "ceiling", figure, message_open, "tokens/s", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);
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
    snprintf (figure, sizeof figure, "store: 1 message of a commit of %d, CPU",
              BENCH_STORE_BATCH);
    benchreport_add (r, "ceiling", figure, bench->store_cpu_us, "us", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);
    snprintf (figure, sizeof figure, "store: 1 message of a commit of %d, wall",
              BENCH_STORE_BATCH);
    benchreport_add (r, "ceiling", figure, store_wall_us, "us", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);

    s_floors (bench);
    int members = bench->clients / bench->conversations;
    snprintf (figure, sizeof figure, "main server per message (%d members)", members);
    benchreport_add (r, "floor", figure, bench->floor_server_us, "us", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);
    benchreport_add (r, "floor", "main server per push (one seal)",
                     bench->floor_push_us, "us", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    snprintf (figure, sizeof figure, "clients per message (%d members)", members);
    benchreport_add (r, "floor", figure, bench->floor_client_us, "us", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);
    benchreport_note (r, "floor", "from this run's ceilings, keys kept, a push of %zu B "
                      "(%d B of text, signed and sealed), %d members: main server = open the "
                      "Send + seal the reply (256 B) + %d push seals + the store's share "
                      "(CPU of one message in a commit of %d); per push = one seal; clients "
                      "= seal the body and the Send + one RSA-PSS signature + open the reply, "
                      "and per receiver (%d) open the push and the body + one RSA-PSS "
                      "verification. The cost rows beside a floor print cost / floor as "
                      "their ratio", bench->message_size, BENCH_TEXT_SIZE, members,
                      members - 1, BENCH_STORE_BATCH, members - 1);
    return 0;
}
