/*  scen_raw - the scenarios driven by raw clients (rawclient.h): handshake,
    fanout, messages-raw, history, sessions, shutdown, cluster

    Raw clients share one client key and one identity key, and are logged
    in with certificates signed with the key server's own key (what the key
    server would issue after a SCRAM login; chat-bench made that key, or was
    given it), so that thousands of sessions cost handshakes only. The main
    server cannot tell: it checks the same signature. Conversations are made
    from real signed CREATE statements.
*/
#include <string.h>
#include <sqlite3.h>
#include <czmq.h>
#include "chain.h"
#include "chaterror.h"
#include "credential.h"
#include "epochkey.h"
#include "fernet.h"
#include "msgseal.h"
#include "msgstore.h"
#include "secret.h"
#include "bench.h"
#include "benchprogress.h"
#include "benchrows.h"
#include "benchserver.h"
#include "benchstats.h"
#include "benchstore.h"
#include "rawclient.h"

#define SETUP_TIMEOUT_MS 120000
#define HISTORY_TEXT 120                //  bytes of text in each filled message

//  What the reply and push handlers collect.
typedef struct {
    size_t replies;
    size_t reply_errors;
    int last_error;
    uint8_t conversation_id [16];
    bool have_conversation;
    //  sending
    int64_t *send_ns;                   //  by request id (one sending session)
    size_t send_cap;
    size_t acks;
    benchstats_t *ack_us;
    benchstats_t *push_us;
    size_t pushes;                      //  message pushes
    size_t other_pushes;                //  conversation pushes
    int64_t last_push_ns;
    size_t *pushes_by_session;
    //  history
    size_t page_messages;
    bool page_more;
} ctx_t;

static void
s_on_reply (rawpool_t *pool, rawsess_t *sess, Chat__MainReply *reply, void *arg)
{
    (void) pool;
    ctx_t *ctx = (ctx_t *) arg;
    ctx->replies++;
    switch (reply->body_case) {
        case CHAT__MAIN_REPLY__BODY_ERROR:
            ctx->reply_errors++;
            ctx->last_error = reply->error? (int) reply->error->code: -1;
            break;
        case CHAT__MAIN_REPLY__BODY_CREATED:
            if (reply->created && reply->created->conversation
            &&  reply->created->conversation->conversation_id.len == 16) {
                memcpy (ctx->conversation_id,
                        reply->created->conversation->conversation_id.data, 16);
                ctx->have_conversation = true;
            }
            break;
        case CHAT__MAIN_REPLY__BODY_SENT:
            ctx->acks++;
            if (ctx->send_ns && reply->request_id < ctx->send_cap
            &&  ctx->send_ns [reply->request_id] && sess->index == 0)
                benchstats_add (ctx->ack_us, (double) (bench_now_ns ()
                                - ctx->send_ns [reply->request_id]) / 1000.0);
            break;
        case CHAT__MAIN_REPLY__BODY_MESSAGES:
            if (reply->messages) {
                ctx->page_messages = reply->messages->n_messages;
                ctx->page_more = reply->messages->more;
            }
            break;
        default:
            break;
    }
}

static void
s_on_push (rawpool_t *pool, rawsess_t *sess, Chat__Push *push, void *arg)
{
    (void) pool;
    ctx_t *ctx = (ctx_t *) arg;
    if (push->body_case != CHAT__PUSH__BODY_MESSAGE || !push->message) {
        ctx->other_pushes++;
        return;
    }
    int64_t now = bench_now_ns ();
    ctx->pushes++;
    ctx->last_push_ns = now;
    if (ctx->pushes_by_session)
        ctx->pushes_by_session [sess->index]++;
    //  The sender wrote its clock into the client message id
    if (push->message->client_message_id.len == 16 && ctx->push_us) {
        int64_t sent;
        memcpy (&sent, push->message->client_message_id.data, sizeof sent);
        if (sent > 0 && sent <= now)
            benchstats_add (ctx->push_us, (double) (now - sent) / 1000.0);
    }
}

//  Poll until *counter reaches target (or timeout). true when it did.
static bool
s_wait (rawpool_t *pool, size_t *counter, size_t target, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (*counter < target && !zsys_interrupted && zclock_mono () < deadline)
        if (rawpool_poll (pool, 50) < 0)
            break;
    return *counter >= target;
}

static void
s_progress (size_t done, void *arg)
{
    benchprogress_update ((benchprogress_t *) arg, done);
}

//  Open count sessions, at most window Hellos in flight per socket (the
//  pool fills its sockets in turn: window 1 on count sockets gives one
//  session each), and log each in as <prefix><index> (registering first
//  when asked). Returns 0 when all are in.
static int
s_open_logged_in (bench_t *bench, rawpool_t *pool, ctx_t *ctx, const char *scenario,
                  const char *prefix, size_t count, bool do_register, size_t window)
{
    char label [64];
    snprintf (label, sizeof label, "%s: handshakes", scenario);
    benchprogress_t *bar = benchprogress_new (label, count);
    size_t opened = rawpool_open (pool, count, window, SETUP_TIMEOUT_MS, s_progress, bar);
    benchprogress_destroy (&bar);
    if (opened != count) {
        benchreport_note (bench->report, scenario, "only %zu of %zu handshakes succeeded",
                          opened, count);
        return -1;
    }
    snprintf (label, sizeof label, "%s: logins", scenario);
    bar = benchprogress_new (label, count);
    size_t base = rawpool_size (pool) - count;
    size_t expected = ctx->replies;
    size_t errors = ctx->reply_errors;
    //  In chunks, so that the server's queue stays reasonable
    for (size_t first = 0; first < count; first += 500) {
        size_t last = first + 500 < count? first + 500: count;
        for (size_t i = first; i < last; i++) {
            rawsess_t *sess = rawpool_session (pool, base + i);
            free (sess->username);
            sess->username = zsys_sprintf ("%s%zu", prefix, i);
            uint8_t *cert = NULL;
            size_t len = 0;
            if (do_register) {
                if (bench_certificate (bench, CREDENTIAL_REGISTERED, sess->username,
                                       &cert, &len) != CHAT_OK
                ||  !rawsess_register (pool, sess, cert, len)) {
                    free (cert);
                    benchprogress_destroy (&bar);
                    return -1;
                }
                free (cert);
                expected++;
            }
            if (bench_certificate (bench, CREDENTIAL_LOGGED_IN, sess->username,
                                   &cert, &len) != CHAT_OK
            ||  !rawsess_login (pool, sess, cert, len)) {
                free (cert);
                benchprogress_destroy (&bar);
                return -1;
            }
            free (cert);
            expected++;
        }
        if (!s_wait (pool, &ctx->replies, expected, SETUP_TIMEOUT_MS))
            break;
        benchprogress_update (bar, last);
    }
    benchprogress_destroy (&bar);
    if (ctx->replies < expected || ctx->reply_errors > errors) {
        benchreport_note (bench->report, scenario, "logins: %zu of %zu replies, %zu errors "
                          "(last %s)", ctx->replies, expected, ctx->reply_errors - errors,
                          chat_errname (ctx->last_error));
        return -1;
    }
    return 0;
}

//  A client message id carrying the send time (and a counter, to keep it
//  unique): the receiver measures send->push without opening the token.
static void
s_message_id (uint8_t id [16], int64_t now_ns, uint64_t counter)
{
    memcpy (id, &now_ns, 8);
    memcpy (id + 8, &counter, 8);
}

//  A realistic message token, as a client makes it (msgseal): a
//  MessageBody of epoch 1, signed with the sender's identity key, sealed
//  under an epoch key of our own (the main server never opens it).
char *
bench_message_token (const uint8_t conversation_id [16], const char *sender, size_t text_len,
                     rsakey_t *identity)
{
    uint8_t key [EPOCHKEY_SIZE];
    fernet_key_generate (key);
    char *text = (char *) malloc (text_len + 1);
    memset (text, 'm', text_len);
    text [text_len] = 0;
    uint8_t client_id [MSGSEAL_ID_SIZE] = { 0 };
    char *token = NULL;
    if (msgseal_seal (key, conversation_id, 1, sender, identity, wire_now_ms (), client_id,
                      text, text_len, &token) != CHAT_OK)
        token = NULL;
    free (text);
    secret_wipe (key, sizeof key);
    return token;
}

static bool
s_need_keys (bench_t *bench, const char *scenario)
{
    if (bench->keyserver_key && bench->identity)
        return true;
    benchreport_fail (bench->report, scenario,
                      "raw clients need the key server's private key (--keyserver-private)");
    return false;
}

//  ---------------------------------------------------------------- handshake

int
bench_handshake (bench_t *bench)
{
    const char *name = "handshake";
    bench_servers_t servers = { 0 };
    if (bench_servers_start (bench, name, &servers, false, true) != 0)
        return -1;
    rawpool_t *pool = rawpool_new (benchserver_endpoint (servers.mainserver), NULL,
                                   bench_client_key (), (size_t) bench->handshake_sockets);
    int rc = -1;
    size_t failed = 0;
    //  Warm-up: connections made, server caches hot
    if (pool && rawpool_handshakes (pool, 20, 4, 1, 30000, &failed, NULL, NULL) == 20
    &&  failed == 0) {
        benchprogress_t *bar = benchprogress_new ("handshake", (uint64_t) bench->handshakes);
        double cpu_before = benchserver_cpu_ms (servers.mainserver);
        int64_t start = bench_now_ns ();
        size_t done = rawpool_handshakes (pool, (size_t) bench->handshakes, 16, 16,
                                          SETUP_TIMEOUT_MS, &failed, s_progress, bar);
        double elapsed = bench_seconds_since (start);
        double cpu = benchserver_cpu_ms (servers.mainserver) - cpu_before;
        benchprogress_destroy (&bar);
        if (done == (size_t) bench->handshakes && failed == 0) {
            double rate = (double) done / elapsed;
            char target [32];
            snprintf (target, sizeof target, ">= %.0f/s", TARGET_HANDSHAKE_RATIO * bench->rsa_sign_per_s);
            benchreport_add (bench->report, name, "handshakes/s, main server", rate, "/s",
                             "rsa-sign", bench->rsa_sign_per_s, BENCH_AT_LEAST,
                             TARGET_HANDSHAKE_RATIO * bench->rsa_sign_per_s, target);
            if (cpu_before >= 0 && cpu > 0) {
                double per_us = cpu * 1000 / (double) done;
                benchreport_add (bench->report, name, "main server CPU per handshake", per_us,
                                 "us", NULL, 0, BENCH_NO_TARGET, 0, NULL);
                benchreport_add (bench->report, name, "handshakes/s per busy server core",
                                 1e6 / per_us, "/s", "rsa-sign", bench->rsa_sign_per_s,
                                 BENCH_NO_TARGET, 0, NULL);
            }
            benchreport_note (bench->report, name, "%d Hellos pipelined over %d connections "
                              "(16 in flight each); one Welcome in 16 fully verified and "
                              "decrypted, the rest decoded only", bench->handshakes,
                              bench->handshake_sockets);
            rc = 0;
        }
        else
            benchreport_fail (bench->report, name, "handshakes were refused or lost");
    }
    else
        benchreport_fail (bench->report, name, "no handshake with the main server");
    rawpool_destroy (&pool);
    bench_servers_stop (&servers);
    return rc;
}

//  ---------------------------------------------------------------- fanout

int
bench_fanout (bench_t *bench)
{
    const char *name = "fanout";
    if (!s_need_keys (bench, name))
        return -1;
    bench_servers_t servers = { 0 };
    if (bench_servers_start (bench, name, &servers, false, true) != 0)
        return -1;
    size_t members = (size_t) bench->fanout_members;
    size_t sockets = (members + 63) / 64;
    rawpool_t *pool = rawpool_new (benchserver_endpoint (servers.mainserver),
                                   benchserver_push_endpoint (servers.mainserver),
                                   bench_client_key (), sockets);
    ctx_t ctx = { 0 };
    ctx.pushes_by_session = (size_t *) zmalloc (members * sizeof (size_t));
    int rc = -1;
    const char *why = "setup failed";
    char *token = NULL;
    if (!pool)
        goto done;
    rawpool_set_handlers (pool, s_on_reply, s_on_push, &ctx);
    if (s_open_logged_in (bench, pool, &ctx, name, "fan", members, true, 8) != 0) {
        why = "could not log the members in";
        goto done;
    }
    //  The first member makes the group of all
    char **others = (char **) zmalloc ((members - 1) * sizeof (char *));
    for (size_t i = 1; i < members; i++)
        others [i - 1] = rawpool_session (pool, i)->username;
    rawsess_t *sender = rawpool_session (pool, 0);
    size_t expected = ctx.replies + 1;
    rawsess_create (pool, sender, others, members - 1, bench->identity);
    free (others);
    if (!s_wait (pool, &ctx.replies, expected, 30000) || !ctx.have_conversation) {
        why = "could not create the group";
        goto done;
    }
    token = bench_message_token (ctx.conversation_id, sender->username, BENCH_TEXT_SIZE,
                                 bench->identity);
    if (!token)
        goto done;

    //  Warm up until every member has had a push: subscriptions travel
    //  to the PUB socket asynchronously (the slow joiner)
    uint64_t counter = 0;
    int64_t deadline = zclock_mono () + 10000;
    bool all_in = false;
    while (!all_in && zclock_mono () < deadline && !zsys_interrupted) {
        uint8_t id [16];
        s_message_id (id, 0, ++counter);
        rawsess_send (pool, sender, ctx.conversation_id, id, token);
        int64_t until = zclock_mono () + 100;
        while (zclock_mono () < until)
            rawpool_poll (pool, 10);
        all_in = true;
        for (size_t i = 1; i < members; i++)
            if (ctx.pushes_by_session [i] == 0)
                all_in = false;
    }
    if (!all_in) {
        why = "some members never got a push";
        goto done;
    }
    //  Let the warm-up drain, then measure
    int64_t quiet = zclock_mono () + 300;
    while (zclock_mono () < quiet)
        rawpool_poll (pool, 10);
    size_t messages = (size_t) bench->fanout_messages;
    size_t window = 16;
    ctx.send_cap = sender->last_request + messages + 2;
    ctx.send_ns = (int64_t *) zmalloc (ctx.send_cap * sizeof (int64_t));
    ctx.ack_us = benchstats_new ();
    ctx.push_us = benchstats_new ();
    ctx.acks = 0;
    ctx.pushes = 0;
    size_t want_pushes = messages * (members - 1);
    benchprogress_t *bar = benchprogress_new ("fanout: pushes", want_pushes);
    size_t sent = 0;
    double cpu_before = benchserver_cpu_ms (servers.mainserver);
    int64_t start = bench_now_ns ();
    int64_t last_progress = zclock_mono ();
    size_t last_pushes = 0;
    while (!zsys_interrupted && (ctx.acks < messages || ctx.pushes < want_pushes)) {
        while (sent < messages && sent - ctx.acks < window) {
            uint8_t id [16];
            int64_t now = bench_now_ns ();
            s_message_id (id, now, ++counter);
            uint64_t request = rawsess_send (pool, sender, ctx.conversation_id, id, token);
            if (request && request < ctx.send_cap)
                ctx.send_ns [request] = now;
            sent++;
        }
        rawpool_poll (pool, 10);
        benchprogress_update (bar, ctx.pushes);
        if (ctx.pushes != last_pushes) {
            last_pushes = ctx.pushes;
            last_progress = zclock_mono ();
        }
        else
        if (zclock_mono () - last_progress > 3000)
            break;              //  the rest was dropped
    }
    benchprogress_destroy (&bar);
    if (ctx.acks < messages) {
        why = "not every message was acknowledged";
        goto done;
    }
    double elapsed = (double) ((ctx.last_push_ns > start? ctx.last_push_ns: bench_now_ns ())
                               - start) / 1e9;
    double rate = (double) ctx.pushes / elapsed;
    bench->chat_fanout_per_s = rate;
    char figure [64];
    snprintf (figure, sizeof figure, "pushes delivered/s, %zu members", members);
    benchreport_add (bench->report, name, figure, rate, "/s", "fernet-256",
                     bench->fernet_small_per_s, BENCH_AT_LEAST, TARGET_FANOUT_PER_S,
                     ">= 200000/s");
    double cpu = benchserver_cpu_ms (servers.mainserver) - cpu_before;
    if (cpu_before >= 0 && cpu > 0 && ctx.pushes) {
        double per_us = cpu * 1000 / (double) ctx.pushes;
        char target [32];
        snprintf (target, sizeof target, "<= %.1fx a seal", TARGET_PUSH_FLOOR);
        benchreport_add (bench->report, name, "main server CPU per push", per_us, "us",
                         "floor", bench->floor_push_us, BENCH_AT_MOST,
                         TARGET_PUSH_FLOOR * bench->floor_push_us, target);
        benchreport_add (bench->report, name, "pushes/s per busy server core", 1e6 / per_us,
                         "/s", "fernet-256", bench->fernet_small_per_s, BENCH_NO_TARGET, 0, NULL);
    }
    benchreport_add (bench->report, name, "messages/s into the group",
                     (double) messages / elapsed, "/s", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (bench->report, name, "send->push p50", benchstats_percentile (ctx.push_us, 50) / 1000,
                     "ms", "zmq-rtt", bench->zmq_rtt_p50_us / 1000, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (bench->report, name, "send->push p99", benchstats_percentile (ctx.push_us, 99) / 1000,
                     "ms", "zmq-rtt", bench->zmq_rtt_p50_us / 1000, BENCH_NO_TARGET, 0, NULL);
    benchreport_add (bench->report, name, "pushes lost (PUB drops)",
                     (double) (want_pushes - (ctx.pushes < want_pushes? ctx.pushes: want_pushes)),
                     "", NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_note (bench->report, name, "%zu messages of ~100 B text, %zu in flight, "
                      "every push opened (Fernet) by its raw client; rate = pushes / time "
                      "from first send to last push", messages, window);
    rc = 0;
done:
    free (token);
    free (ctx.send_ns);
    free (ctx.pushes_by_session);
    benchstats_destroy (&ctx.ack_us);
    benchstats_destroy (&ctx.push_us);
    rawpool_destroy (&pool);
    bench_servers_stop (&servers);
    if (rc != 0)
        benchreport_fail (bench->report, name, why);
    return rc;
}

//  ---------------------------------------------------------------- messages-raw

//  The messages scenario's shape (--clients sessions in --conversations
//  groups, --window in flight each, then the fixed rate) with light
//  clients, so that the main server, not its load, is what is measured:
//  real chatclient_t clients sign every message (RSA-PSS) and verify every
//  one they get, on the same two cores, and bound that scenario long before
//  the server. Here the message tokens are made (signed and sealed, as
//  msgseal makes them) before the timed phases; the timed phases only seal
//  each Send on the session's channel and send it, and each receiver opens
//  its push (the channel token) and reads the send time from the client
//  message id in it. Message bodies are not opened, nor signatures checked:
//  that is clients' work, which the messages scenario measures.

#define LOAD_TOKENS       8             //  real tokens per sender, sent in turn
#define LOAD_TOKENS_QUICK 2
#define LOAD_RING         1024          //  send times kept per session, by request id
//  At a fixed rate a session this far behind is skipped: over a second of
//  its share at 5,000/s over 100 sessions. A server that cannot keep up
//  then shows it in the rate sent (and the note), without a backlog that
//  takes minutes to drain
#define LOAD_MAX_BEHIND   64
#define LOAD_STALL_MS     10000         //  draining: nothing for this long, give up

typedef struct {
    size_t group;                       //  its conversation: index % groups
    size_t in_flight;
    char **tokens;                      //  ntokens real message tokens of its own
    size_t next_token;
    size_t pushes_expected;             //  for messages of its group's others, acked
    int64_t send_ns [LOAD_RING];        //  by request id % LOAD_RING
} loadsess_t;

typedef struct {
    bench_t *bench;
    struct _benchserver_t *mainserver;
    rawpool_t *pool;
    ctx_t ctx;                          //  s_on_reply / s_on_push counters
    loadsess_t *sess;                   //  by session index
    size_t count;
    size_t groups;
    uint8_t (*conversation) [16];       //  by group
    size_t ntokens;
    uint64_t counter;                   //  client message ids unique over the run
    //  this phase
    size_t sent, acked, refused, send_failed;
    int64_t last_ack_ns;
    benchstats_t *ack_us;
    benchstats_t *push_us;
} load_t;

static void
s_load_reply (rawpool_t *pool, rawsess_t *sess, Chat__MainReply *reply, void *arg)
{
    load_t *load = (load_t *) arg;
    s_on_reply (pool, sess, reply, &load->ctx);
    if (!load->sess || sess->index >= load->count)
        return;
    loadsess_t *ls = &load->sess [sess->index];
    if (ls->in_flight == 0
    ||  (reply->body_case != CHAT__MAIN_REPLY__BODY_SENT
      && reply->body_case != CHAT__MAIN_REPLY__BODY_ERROR))
        return;                         //  not an answer to a Send of ours
    ls->in_flight--;
    if (reply->body_case == CHAT__MAIN_REPLY__BODY_ERROR) {
        load->refused++;
        return;
    }
    int64_t now = bench_now_ns ();
    load->acked++;
    load->last_ack_ns = now;
    int64_t sent = ls->send_ns [reply->request_id % LOAD_RING];
    if (sent > 0 && load->ack_us)
        benchstats_add (load->ack_us, (double) (now - sent) / 1000.0);
    //  Acknowledged: every other member of the group is owed its push
    for (size_t m = ls->group; m < load->count; m += load->groups)
        if (m != sess->index)
            load->sess [m].pushes_expected++;
}

static void
s_load_push (rawpool_t *pool, rawsess_t *sess, Chat__Push *push, void *arg)
{
    s_on_push (pool, sess, push, &((load_t *) arg)->ctx);
}

//  One Send from session index: the next of its tokens, a fresh client
//  message id carrying the send time. false when it could not go.
static bool
s_load_send (load_t *load, size_t index)
{
    rawsess_t *sess = rawpool_session (load->pool, index);
    loadsess_t *ls = &load->sess [index];
    uint8_t id [16];
    int64_t now = bench_now_ns ();
    s_message_id (id, now, ++load->counter);
    const char *token = ls->tokens [ls->next_token++ % load->ntokens];
    uint64_t request = rawsess_send (load->pool, sess, load->conversation [ls->group], id,
                                     token);
    if (!request) {
        load->send_failed++;
        return false;
    }
    ls->send_ns [request % LOAD_RING] = now;
    ls->in_flight++;
    load->sent++;
    return true;
}

static void
s_load_reset (load_t *load)
{
    load->sent = load->acked = load->refused = load->send_failed = 0;
    load->last_ack_ns = 0;
    load->ctx.pushes = 0;
    for (size_t i = 0; i < load->count; i++) {
        load->sess [i].in_flight = 0;
        load->sess [i].pushes_expected = 0;
        load->ctx.pushes_by_session [i] = 0;
    }
    benchstats_destroy (&load->ack_us);
    benchstats_destroy (&load->push_us);
    load->ack_us = benchstats_new ();
    load->push_us = benchstats_new ();
    load->ctx.push_us = load->push_us;
}

//  Pushes owed and not (yet) in; *extra: pushes beyond what was owed.
static size_t
s_load_missing (load_t *load, size_t *extra)
{
    size_t missing = 0, more = 0;
    for (size_t i = 0; i < load->count; i++) {
        size_t got = load->ctx.pushes_by_session [i];
        size_t owed = load->sess [i].pushes_expected;
        if (got < owed)
            missing += owed - got;
        else
            more += got - owed;
    }
    if (extra)
        *extra = more;
    return missing;
}

//  Until every Send is answered and every push owed is in, or nothing has
//  come for LOAD_STALL_MS.
static void
s_load_drain (load_t *load)
{
    int64_t last = zclock_mono ();
    while (!zsys_interrupted
       &&  (load->acked + load->refused < load->sent || s_load_missing (load, NULL) > 0)) {
        int handled = rawpool_poll (load->pool, 10);
        if (handled < 0)
            break;
        if (handled > 0)
            last = zclock_mono ();
        else
        if (zclock_mono () - last > LOAD_STALL_MS)
            break;
    }
}

//  The phase's pushes missing (must be 0), and what else it saw
static void
s_load_missing_row (load_t *load, const char *name, const char *phase)
{
    size_t extra = 0;
    size_t missing = s_load_missing (load, &extra);
    char figure [64];
    snprintf (figure, sizeof figure, "pushes missing (%s)", phase);
    benchreport_add (load->bench->report, name, figure, (double) missing, "", NULL, 0,
                     BENCH_AT_MOST, 0, "0");
    if (extra || load->refused || load->send_failed || load->acked < load->sent)
        benchreport_note (load->bench->report, name, "%s: %zu sent, %zu acknowledged, %zu "
                          "refused (last: %s), %zu not sent, %zu pushes more than owed",
                          phase, load->sent, load->acked, load->refused,
                          chat_errname (load->ctx.last_error), load->send_failed, extra);
}

//  The main server's CPU per message over the phase, beside its floor, and
//  the load's own CPU (this process: the raw sessions and ZMQ's threads)
static void
s_load_cpu_rows (load_t *load, const char *name, const char *phase, double server_before,
                 double own_before)
{
    bench_t *bench = load->bench;
    if (!load->acked)
        return;
    char figure [64];
    if (server_before >= 0)
        benchrows_server_cpu (bench, name, phase,
                              benchserver_cpu_ms (load->mainserver) - server_before,
                              load->acked);
    snprintf (figure, sizeof figure, "raw load's CPU per message (%s)", phase);
    benchreport_add (bench->report, name, figure,
                     (bench_cpu_ms () - own_before) * 1000 / (double) load->acked, "us",
                     NULL, 0, BENCH_NO_TARGET, 0, NULL);
}

//  As fast as acks allow: every session keeps --window Sends in flight.
static void
s_load_max (load_t *load, const char *name)
{
    bench_t *bench = load->bench;
    s_load_reset (load);
    //  Said when it starts, so that the server can be profiled in it alone
    if (bench->verbose)
        fprintf (stderr, "chat-bench: %s: max rate phase starts (%.1f s)\n", name,
                 bench->duration_ms / 1000.0);
    benchprogress_t *bar = benchprogress_new ("messages-raw: as fast as acks",
                                              (uint64_t) bench->duration_ms);
    double server_before = benchserver_cpu_ms (load->mainserver);
    double own_before = bench_cpu_ms ();
    int64_t start = bench_now_ns ();
    int64_t end = zclock_mono () + bench->duration_ms;
    //  No more in flight than send times are kept
    size_t window = (size_t) bench->window < LOAD_RING? (size_t) bench->window: LOAD_RING;
    while (!zsys_interrupted && zclock_mono () < end) {
        for (size_t i = 0; i < load->count; i++)
            while (load->sess [i].in_flight < window)
                if (!s_load_send (load, i))
                    break;
        if (rawpool_poll (load->pool, 1) < 0)
            break;
        benchprogress_update (bar, (uint64_t) (bench_seconds_since (start) * 1000));
    }
    benchprogress_destroy (&bar);
    s_load_drain (load);
    char figure [64];
    snprintf (figure, sizeof figure, "messages/s, %zu raw sessions, %zu conv", load->count,
              load->groups);
    bench->raw_msgs_per_s = benchrows_max (bench, name, figure, load->acked,
                                           (double) (load->last_ack_ns - start) / 1e9,
                                           load->ctx.pushes,
                                           (double) (load->ctx.last_push_ns - start) / 1e9,
                                           load->ack_us, load->push_us);
    s_load_cpu_rows (load, name, "max", server_before, own_before);
    s_load_missing_row (load, name, "max rate");
}

//  At a fixed rate, spread over the sessions in turn. Due Sends go out
//  together each time the poll returns (at most about a millisecond apart)
//  rather than by spinning: the load shares two cores with the server.
static void
s_load_rate (load_t *load, const char *name, int rate)
{
    bench_t *bench = load->bench;
    s_load_reset (load);
    if (bench->verbose)
        fprintf (stderr, "chat-bench: %s: %d/s phase starts (%.1f s)\n", name, rate,
                 bench->duration_ms / 1000.0);
    char label [64];
    snprintf (label, sizeof label, "messages-raw: %d/s", rate);
    benchprogress_t *bar = benchprogress_new (label, (uint64_t) bench->duration_ms);
    double server_before = benchserver_cpu_ms (load->mainserver);
    double own_before = bench_cpu_ms ();
    int64_t start = bench_now_ns ();
    int64_t end = zclock_mono () + bench->duration_ms;
    size_t skipped = 0, next = 0;
    while (!zsys_interrupted && zclock_mono () < end) {
        double due = (double) rate * bench_seconds_since (start);
        while ((double) (load->sent + skipped) < due) {
            size_t index = next;
            next = (next + 1) % load->count;
            if (load->sess [index].in_flight >= LOAD_MAX_BEHIND || !s_load_send (load, index))
                skipped++;
        }
        if (rawpool_poll (load->pool, 1) < 0)
            break;
        benchprogress_update (bar, (uint64_t) (bench_seconds_since (start) * 1000));
    }
    double send_elapsed = bench_seconds_since (start);
    benchprogress_destroy (&bar);
    s_load_drain (load);
    benchrows_rate (bench, name, rate, load->sent, send_elapsed, load->ack_us, load->push_us,
                    TARGET_RAW_PUSH_P99_MS, "<= 5 ms");
    bench->raw_rate = rate;
    bench->raw_p99_ms = benchstats_percentile (load->push_us, 99) / 1000;
    s_load_cpu_rows (load, name, "rate", server_before, own_before);
    char figure [64];
    snprintf (figure, sizeof figure, "at %d/s", rate);
    s_load_missing_row (load, name, figure);
    if (skipped)
        benchreport_note (bench->report, name, "at %d/s: %zu sends skipped (sessions %d "
                          "behind, or not sent)", rate, skipped, LOAD_MAX_BEHIND);
}

//  Sessions logged in, one DEALER and SUB each (as each real client has
//  its own connections); the groups made from real signed CREATEs; every
//  sender's tokens made. 0, or -1 with *why.
static int
s_load_setup (load_t *load, const char *name, const char **why)
{
    bench_t *bench = load->bench;
    *why = "could not log the sessions in";
    rawpool_set_handlers (load->pool, s_load_reply, s_load_push, load);
    load->ctx.pushes_by_session = (size_t *) zmalloc (load->count * sizeof (size_t));
    if (s_open_logged_in (bench, load->pool, &load->ctx, name, "mraw", load->count, true, 1)
        != 0)
        return -1;
    load->sess = (loadsess_t *) zmalloc (load->count * sizeof (loadsess_t));
    load->conversation = (uint8_t (*) [16]) zmalloc (load->groups * 16);
    //  Group k: the sessions i with i % groups == k; session k makes it
    *why = "could not create the conversations";
    for (size_t k = 0; k < load->groups; k++) {
        char *others [CHAIN_MAX_MEMBERS];
        size_t n = 0;
        for (size_t i = k + load->groups; i < load->count && n < CHAIN_MAX_MEMBERS - 1;
             i += load->groups)
            others [n++] = rawpool_session (load->pool, i)->username;
        load->ctx.have_conversation = false;
        size_t expected = load->ctx.replies + 1;
        if (!rawsess_create (load->pool, rawpool_session (load->pool, k), others, n,
                             bench->identity)
        ||  !s_wait (load->pool, &load->ctx.replies, expected, 30000)
        ||  !load->ctx.have_conversation)
            return -1;
        memcpy (load->conversation [k], load->ctx.conversation_id, 16);
    }
    *why = "could not make the message tokens";
    load->ntokens = bench->quick? LOAD_TOKENS_QUICK: LOAD_TOKENS;
    benchprogress_t *bar = benchprogress_new ("messages-raw: signed tokens",
                                              load->count * load->ntokens);
    for (size_t i = 0; i < load->count; i++) {
        loadsess_t *ls = &load->sess [i];
        ls->group = i % load->groups;
        ls->tokens = (char **) zmalloc (load->ntokens * sizeof (char *));
        for (size_t t = 0; t < load->ntokens; t++) {
            ls->tokens [t] = bench_message_token (load->conversation [ls->group],
                                                  rawpool_session (load->pool, i)->username,
                                                  BENCH_TEXT_SIZE, bench->identity);
            if (!ls->tokens [t]) {
                benchprogress_destroy (&bar);
                return -1;
            }
        }
        benchprogress_update (bar, (i + 1) * load->ntokens);
    }
    benchprogress_destroy (&bar);
    //  Warm up until every session has had a push: subscriptions travel to
    //  the PUB socket asynchronously (the slow joiner)
    *why = "some sessions never got a push";
    int64_t deadline = zclock_mono () + 10000;
    while (zclock_mono () < deadline && !zsys_interrupted) {
        s_load_reset (load);
        for (size_t i = 0; i < load->count; i++)
            s_load_send (load, i);
        s_load_drain (load);
        bool all_in = load->acked == load->count;
        for (size_t i = 0; i < load->count; i++)
            if (load->ctx.pushes_by_session [i] == 0)
                all_in = false;
        if (all_in)
            return 0;
        zclock_sleep (100);
    }
    return -1;
}

static void
s_load_destroy (load_t *load)
{
    for (size_t i = 0; load->sess && i < load->count; i++) {
        for (size_t t = 0; load->sess [i].tokens && t < load->ntokens; t++)
            free (load->sess [i].tokens [t]);
        free (load->sess [i].tokens);
    }
    free (load->sess);
    free (load->conversation);
    free (load->ctx.pushes_by_session);
    benchstats_destroy (&load->ack_us);
    benchstats_destroy (&load->push_us);
    rawpool_destroy (&load->pool);
}

int
bench_messages_raw (bench_t *bench)
{
    const char *name = "messages-raw";
    if (!s_need_keys (bench, name))
        return -1;
    bench_servers_t servers = { 0 };
    if (bench_servers_start (bench, name, &servers, false, true) != 0)
        return -1;
    load_t load = { 0 };
    load.bench = bench;
    load.mainserver = servers.mainserver;
    load.count = (size_t) bench->clients;
    load.groups = (size_t) bench->conversations;
    const char *why = "setup failed";
    int rc = -1;
    load.pool = rawpool_new (benchserver_endpoint (servers.mainserver),
                             benchserver_push_endpoint (servers.mainserver),
                             bench_client_key (), load.count);
    if (load.pool && s_load_setup (&load, name, &why) == 0) {
        if (bench->rate == 0)
            s_load_max (&load, name);
        s_load_rate (&load, name, bench_fixed_rate (bench));
        benchreport_note (bench->report, name, "the messages shape with light clients: %zu "
                          "raw sessions (one connection and subscriber each) in %zu "
                          "conversations of %zu made from real signed CREATEs, %d in flight "
                          "per session at max rate, %.1f s per phase; %zu real message tokens "
                          "per sender (%d B of text, signed and sealed as a client seals "
                          "them), made before the timed phases and sent in turn under "
                          "distinct client message ids: every Send is a new message the "
                          "server stores (synchronous=FULL) before its ack and pushes to the "
                          "%zu others; receivers open each push (its channel token) and take "
                          "the send time from it, but neither open the body nor verify its "
                          "signature: clients' work, which the messages rows measure",
                          load.count, load.groups, load.count / load.groups, bench->window,
                          bench->duration_ms / 1000.0, load.ntokens, BENCH_TEXT_SIZE,
                          load.count / load.groups - 1);
        rc = 0;
    }
    s_load_destroy (&load);
    bench_servers_stop (&servers);
    if (rc != 0)
        benchreport_fail (bench->report, name, why);
    return rc;
}

//  ---------------------------------------------------------------- history

//  Users and one conversation through the store's own interface, then the
//  messages straight into its schema (src/mainserver/msgstore.c) in one
//  transaction: a million sends through the protocol would take minutes.
static int
s_history_fill (bench_t *bench, const char *db_path, size_t count, uint8_t id [16])
{
    msgstore_t *store = msgstore_open (db_path);
    if (!store)
        return -1;
    const char *names [2] = { "hist0", "hist1" };
    int rc = benchstore_conversation (bench, store, names, 2, id);
    msgstore_destroy (&store);
    if (rc != 0)
        return -1;

    char *tokens [16];
    for (int i = 0; i < 16; i++)
        tokens [i] = bench_message_token (id, names [i % 2], HISTORY_TEXT, bench->identity);

    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    rc = sqlite3_open (db_path, &db) == SQLITE_OK
      && sqlite3_exec (db, "PRAGMA synchronous = OFF; BEGIN", NULL, NULL, NULL) == SQLITE_OK
      && sqlite3_prepare_v2 (db, "INSERT INTO messages (conversation_id, seq, epoch, sender,"
                             " server_time, token, client_message_id) VALUES (?1, ?2, 1, ?3,"
                             " ?4, ?5, ?6)", -1, &stmt, NULL) == SQLITE_OK? 0: -1;
    benchprogress_t *bar = benchprogress_new ("history: filling", count);
    int64_t base_ms = wire_now_ms () - (int64_t) count;
    for (size_t seq = 1; rc == 0 && seq <= count; seq++) {
        uint8_t client_id [16] = { 0 };
        memcpy (client_id, &seq, sizeof seq);
        const char *token = tokens [seq % 16];
        sqlite3_bind_blob (stmt, 1, id, 16, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 2, (sqlite3_int64) seq);
        sqlite3_bind_text (stmt, 3, names [seq % 2], -1, SQLITE_STATIC);
        sqlite3_bind_int64 (stmt, 4, base_ms + (int64_t) seq);
        sqlite3_bind_text (stmt, 5, token? token: "x", -1, SQLITE_STATIC);
        sqlite3_bind_blob (stmt, 6, client_id, 16, SQLITE_TRANSIENT);
        if (sqlite3_step (stmt) != SQLITE_DONE)
            rc = -1;
        sqlite3_reset (stmt);
        if (seq % 10000 == 0)
            benchprogress_update (bar, seq);
    }
    benchprogress_destroy (&bar);
    sqlite3_finalize (stmt);
    if (rc == 0) {
        char *sql = sqlite3_mprintf ("UPDATE conversations SET last_seq = %lld,"
                                     " last_time = %lld WHERE id = ?1",
                                     (long long) count, (long long) (base_ms + (int64_t) count));
        rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK? 0: -1;
        sqlite3_free (sql);
        if (rc == 0) {
            sqlite3_bind_blob (stmt, 1, id, 16, SQLITE_STATIC);
            rc = sqlite3_step (stmt) == SQLITE_DONE? 0: -1;
            sqlite3_finalize (stmt);
        }
    }
    if (rc == 0 && sqlite3_exec (db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = -1;
    if (rc != 0 && bench->verbose)
        fprintf (stderr, "chat-bench: history fill: %s\n", db? sqlite3_errmsg (db): "no db");
    sqlite3_close (db);
    for (int i = 0; i < 16; i++)
        free (tokens [i]);
    return rc;
}

//  One page: send, wait for the reply. Returns the time in ms, or -1.
static double
s_fetch_page (rawpool_t *pool, rawsess_t *sess, ctx_t *ctx, const uint8_t id [16],
              uint64_t after, uint32_t limit)
{
    size_t expected = ctx->replies + 1;
    size_t errors = ctx->reply_errors;
    ctx->page_messages = 0;
    int64_t start = bench_now_ns ();
    if (!rawsess_get_messages (pool, sess, id, after, limit))
        return -1;
    if (!s_wait (pool, &ctx->replies, expected, 10000) || ctx->reply_errors > errors)
        return -1;
    double ms = (double) (bench_now_ns () - start) / 1e6;
    return ctx->page_messages == limit? ms: -1;
}

int
bench_history (bench_t *bench)
{
    const char *name = "history";
    if (!s_need_keys (bench, name))
        return -1;
    if (!bench_servers_local (bench)) {
        benchreport_fail (bench->report, name, "needs servers started by chat-bench "
                          "(it fills the database file before the start)");
        return -1;
    }
    bench_servers_t servers = { 0 };
    if (bench_servers_prepare (bench, name, &servers) != 0) {
        benchreport_fail (bench->report, name, "cannot make the data directories");
        return -1;
    }
    size_t count = (size_t) bench->history_size;
    uint32_t page = (uint32_t) bench->history_page;
    if (count < page * 2)
        count = page * 2;
    char *db_path = zsys_sprintf ("%s/mainserver.db", servers.ms_dir);
    uint8_t id [16];
    int64_t start = bench_now_ns ();
    int fill = s_history_fill (bench, db_path, count, id);
    double fill_s = bench_seconds_since (start);
    free (db_path);
    if (fill != 0) {
        benchreport_fail (bench->report, name, "cannot fill the database "
                          "(schema of src/mainserver/msgstore.c changed?)");
        bench_servers_stop (&servers);
        return -1;
    }
    if (bench_servers_start (bench, name, &servers, false, true) != 0) {
        bench_servers_stop (&servers);
        return -1;
    }
    rawpool_t *pool = rawpool_new (benchserver_endpoint (servers.mainserver), NULL,
                                   bench_client_key (), 1);
    ctx_t ctx = { 0 };
    benchstats_t *times = benchstats_new ();
    int rc = -1;
    const char *why = "setup failed";
    if (!pool)
        goto done;
    rawpool_set_handlers (pool, s_on_reply, NULL, &ctx);
    if (s_open_logged_in (bench, pool, &ctx, name, "hist", 1, false, 8) != 0) {
        why = "could not log in";
        goto done;
    }
    rawsess_t *sess = rawpool_session (pool, 0);
    double first = s_fetch_page (pool, sess, &ctx, id, 0, page);
    double newest = s_fetch_page (pool, sess, &ctx, id, count - page, page);
    unsigned seed = 12345;
    bool ok = first >= 0 && newest >= 0;
    for (int i = 0; ok && i < bench->history_fetches; i++) {
        uint64_t after = (uint64_t) rand_r (&seed) % (count - page);
        double ms = s_fetch_page (pool, sess, &ctx, id, after, page);
        if (ms < 0)
            ok = false;
        else
            benchstats_add (times, ms);
    }
    if (!ok) {
        why = "a page fetch failed or came back short";
        goto done;
    }
    char figure [64];
    double rtt_ms = bench->zmq_rtt_p50_us / 1000;
    snprintf (figure, sizeof figure, "page of %u, first (cold)", page);
    benchreport_add (bench->report, name, figure, first, "ms", "zmq-rtt", rtt_ms,
                     BENCH_NO_TARGET, 0, NULL);
    snprintf (figure, sizeof figure, "page of %u, newest", page);
    benchreport_add (bench->report, name, figure, newest, "ms", "zmq-rtt", rtt_ms,
                     BENCH_NO_TARGET, 0, NULL);
    snprintf (figure, sizeof figure, "page of %u at random, p50", page);
    benchreport_add (bench->report, name, figure, benchstats_percentile (times, 50), "ms",
                     "zmq-rtt", rtt_ms, BENCH_NO_TARGET, 0, NULL);
    snprintf (figure, sizeof figure, "page of %u at random, p99", page);
    benchreport_add (bench->report, name, figure, benchstats_percentile (times, 99), "ms",
                     "zmq-rtt", rtt_ms, BENCH_AT_MOST, TARGET_HISTORY_MS, "<= 5 ms");
    benchreport_note (bench->report, name, "conversation of %zu messages (%d B of text each, "
                      "filled in %.1f s straight into the database); %d pages at random "
                      "offsets, timed from send to the reply opened", count, HISTORY_TEXT,
                      fill_s, bench->history_fetches);
    rc = 0;
done:
    benchstats_destroy (&times);
    rawpool_destroy (&pool);
    bench_servers_stop (&servers);
    if (rc != 0)
        benchreport_fail (bench->report, name, why);
    return rc;
}

//  ---------------------------------------------------------------- sessions and shutdown

//  Users made in the database before the start, so that the sessions
//  measured hold nothing but sessions.
static int
s_users_fill (bench_t *bench, const char *db_path, const char *prefix, size_t count)
{
    msgstore_t *store = msgstore_open (db_path);
    if (!store)
        return -1;
    size_t der_len = 0;
    const uint8_t *der = rsakey_der (bench->identity, &der_len);
    int rc = msgstore_begin (store);
    for (size_t i = 0; rc == CHAT_OK && i < count; i++) {
        char name [64];
        snprintf (name, sizeof name, "%s%zu", prefix, i);
        rc = msgstore_user_add (store, name, der, der_len, wire_now_ms (), NULL);
    }
    if (rc == CHAT_OK)
        rc = msgstore_commit (store);
    msgstore_destroy (&store);
    return rc == CHAT_OK? 0: -1;
}

//  Servers with count users made, and count sessions logged in.
static int
s_many_sessions (bench_t *bench, const char *name, size_t count, bench_servers_t *servers,
                 rawpool_t **pool_p, ctx_t *ctx, long *rss_before)
{
    if (bench_servers_prepare (bench, name, servers) != 0) {
        benchreport_fail (bench->report, name, "cannot make the data directories");
        return -1;
    }
    char *db_path = zsys_sprintf ("%s/mainserver.db", servers->ms_dir);
    int rc = s_users_fill (bench, db_path, "idle", count);
    free (db_path);
    if (rc != 0) {
        benchreport_fail (bench->report, name, "cannot add the users to the database");
        return -1;
    }
    if (bench_servers_start (bench, name, servers, false, true) != 0)
        return -1;
    zclock_sleep (300);
    *rss_before = benchserver_rss_kib (servers->mainserver);
    size_t sockets = (count + (size_t) bench->sessions_per_socket - 1)
                   / (size_t) bench->sessions_per_socket;
    *pool_p = rawpool_new (benchserver_endpoint (servers->mainserver), NULL,
                           bench_client_key (), sockets);
    if (!*pool_p)
        return -1;
    rawpool_set_handlers (*pool_p, s_on_reply, NULL, ctx);
    if (s_open_logged_in (bench, *pool_p, ctx, name, "idle", count, false, 8) != 0) {
        benchreport_fail (bench->report, name, "could not open and log in every session");
        return -1;
    }
    return 0;
}

int
bench_sessions (bench_t *bench)
{
    const char *name = "sessions";
    if (!s_need_keys (bench, name))
        return -1;
    if (!bench_servers_local (bench)) {
        benchreport_fail (bench->report, name, "needs a server started by chat-bench");
        return -1;
    }
    bench_servers_t servers = { 0 };
    rawpool_t *pool = NULL;
    ctx_t ctx = { 0 };
    long before = -1;
    size_t count = (size_t) bench->sessions;
    int64_t start = bench_now_ns ();
    int rc = s_many_sessions (bench, name, count, &servers, &pool, &ctx, &before);
    double setup_s = bench_seconds_since (start);
    if (rc == 0) {
        zclock_sleep (500);             //  idle: let the server settle
        long after = benchserver_rss_kib (servers.mainserver);
        if (before < 0 || after < 0) {
            benchreport_fail (bench->report, name, "cannot read the server's VmRSS");
            rc = -1;
        }
        else {
            double per = (double) (after - before) / (double) count;
            benchreport_add (bench->report, name, "server RSS before", (double) before, "KiB",
                             NULL, 0, BENCH_NO_TARGET, 0, NULL);
            char figure [64];
            snprintf (figure, sizeof figure, "server RSS with %zu sessions", count);
            benchreport_add (bench->report, name, figure, (double) after, "KiB",
                             NULL, 0, BENCH_NO_TARGET, 0, NULL);
            benchreport_add (bench->report, name, "RSS per idle session", per, "KiB",
                             NULL, 0, BENCH_AT_MOST, TARGET_SESSION_KIB, "<= 16 KiB");
            benchreport_note (bench->report, name, "%zu sessions over %zu connections, each "
                              "handshaken and logged in, then idle; users were in the "
                              "database before the start; setup took %.1f s", count,
                              (count + (size_t) bench->sessions_per_socket - 1)
                              / (size_t) bench->sessions_per_socket, setup_s);
        }
    }
    rawpool_destroy (&pool);
    bench_servers_stop (&servers);
    return rc;
}

int
bench_shutdown (bench_t *bench)
{
    const char *name = "shutdown";
    if (!s_need_keys (bench, name))
        return -1;
    if (!bench_servers_local (bench)) {
        benchreport_fail (bench->report, name, "needs a server started by chat-bench");
        return -1;
    }
    bench_servers_t servers = { 0 };
    rawpool_t *pool = NULL;
    ctx_t ctx = { 0 };
    long before = -1;
    size_t count = (size_t) bench->shutdown_sessions;
    int rc = s_many_sessions (bench, name, count, &servers, &pool, &ctx, &before);
    if (rc == 0) {
        double ms = 0;
        int status = benchserver_terminate (servers.mainserver, &ms);
        char figure [64];
        snprintf (figure, sizeof figure, "SIGTERM to exit, %zu sessions", count);
        benchreport_add (bench->report, name, figure, ms, "ms", NULL, 0, BENCH_AT_MOST,
                         TARGET_SHUTDOWN_MS, "<= 200 ms");
        if (status != 0) {
            benchreport_note (bench->report, name, "the server's exit status was %d, not 0",
                              status);
            rc = -1;
            benchreport_fail (bench->report, name, "the server did not exit cleanly");
        }
    }
    rawpool_destroy (&pool);
    bench_servers_stop (&servers);
    return rc;
}

//  ---------------------------------------------------------------- cluster

#define CLUSTER_MAX 8

//  Poll every pool once without waiting, then wait a little on one of
//  them when none had anything (so that a push is timed within about a
//  millisecond, without spinning a core the servers need)
static void
s_poll_all (rawpool_t **pools, size_t count, size_t *turn)
{
    int handled = 0;
    for (size_t i = 0; i < count; i++) {
        int n = rawpool_poll (pools [i], 0);
        handled += n > 0? n: 0;
    }
    if (handled == 0)
        rawpool_poll (pools [(*turn)++ % count], 1);
}

//  N main servers on one PostgreSQL database (--mainservers, --store):
//  one sender on server 1, members logged in on every server, one group of
//  all; messages acknowledged per second, and send->push for the members
//  on the sender's server and on the others (the doorbell's way)
int
bench_cluster (bench_t *bench)
{
    const char *name = "cluster";
    //  "--store sqlite": the same shape on one main server with its own
    //  SQLite file, the figures a cluster is compared with
    bool sqlite = bench->store && streq (bench->store, "sqlite");
    if (!bench->store || (!sqlite && strncmp (bench->store, "postgres", 8) != 0)) {
        benchreport_note (bench->report, name, "not run: needs --store postgresql://... "
                          "(or --store sqlite, one main server)");
        return 0;
    }
    if (sqlite && bench->mainservers != 1) {
        benchreport_fail (bench->report, name, "--store sqlite is one main server's store: "
                          "--mainservers 1");
        return -1;
    }
    if (!s_need_keys (bench, name))
        return -1;
    if (!bench_servers_local (bench)) {
        benchreport_fail (bench->report, name, "starts its own servers (no --mainserver)");
        return -1;
    }
    size_t count = (size_t) bench->mainservers;
    size_t per = bench->quick? 2: 8;            //  members on each server
    bench_servers_t servers = { 0 };
    struct _benchserver_t *ms [CLUSTER_MAX] = { NULL };
    rawpool_t *pools [CLUSTER_MAX] = { NULL };
    ctx_t ctx [CLUSTER_MAX];
    memset (ctx, 0, sizeof ctx);
    benchstats_t *local_us = benchstats_new (), *cross_us = benchstats_new ();
    char *token = NULL;
    int rc = -1;
    const char *why = "setup failed";
    if (bench_servers_prepare (bench, name, &servers) != 0)
        goto done;
    //  Names of this run only: the database outlives it
    char tag [9];
    uint8_t random [4];
    secret_random (random, sizeof random);
    snprintf (tag, sizeof tag, "%02x%02x%02x%02x", random [0], random [1], random [2],
              random [3]);
    for (size_t i = 0; i < count; i++) {
        char *dir = zsys_sprintf ("%s/ms%zu", servers.dir, i + 1);
        ms [i] = bench_mainserver_start (bench, dir, sqlite? NULL: bench->store);
        free (dir);
        if (!ms [i]) {
            why = "a main server did not start";
            goto done;
        }
        pools [i] = rawpool_new (benchserver_endpoint (ms [i]), benchserver_push_endpoint (ms [i]),
                                 bench_client_key (), 1);
        if (!pools [i])
            goto done;
        size_t sessions = per + (i == 0? 1: 0);
        ctx [i].pushes_by_session = (size_t *) zmalloc (sessions * sizeof (size_t));
        ctx [i].push_us = i == 0? local_us: cross_us;
        rawpool_set_handlers (pools [i], s_on_reply, s_on_push, &ctx [i]);
        char prefix [32];
        snprintf (prefix, sizeof prefix, "c%s_%zu_", tag, i + 1);
        if (s_open_logged_in (bench, pools [i], &ctx [i], name, prefix, sessions, true, 8) != 0) {
            why = "could not log the members in";
            goto done;
        }
    }
    //  The first session of server 1 sends; everyone else is a member
    rawsess_t *sender = rawpool_session (pools [0], 0);
    size_t members = count * per;
    char **others = (char **) zmalloc (members * sizeof (char *));
    size_t n = 0;
    for (size_t i = 0; i < count; i++)
        for (size_t j = i == 0? 1: 0; j < rawpool_size (pools [i]); j++)
            others [n++] = rawpool_session (pools [i], j)->username;
    size_t expected = ctx [0].replies + 1;
    rawsess_create (pools [0], sender, others, n, bench->identity);
    free (others);
    if (!s_wait (pools [0], &ctx [0].replies, expected, 30000) || !ctx [0].have_conversation) {
        why = "could not create the group";
        goto done;
    }
    token = bench_message_token (ctx [0].conversation_id, sender->username, BENCH_TEXT_SIZE,
                                 bench->identity);
    if (!token)
        goto done;
    //  Warm up until every member on every server has had a push
    uint64_t counter = 0;
    size_t turn = 0;
    int64_t deadline = zclock_mono () + 20000;
    bool all_in = false;
    while (!all_in && zclock_mono () < deadline && !zsys_interrupted) {
        uint8_t id [16];
        s_message_id (id, 0, ++counter);
        rawsess_send (pools [0], sender, ctx [0].conversation_id, id, token);
        int64_t until = zclock_mono () + 100;
        while (zclock_mono () < until)
            s_poll_all (pools, count, &turn);
        all_in = true;
        for (size_t i = 0; i < count; i++)
            for (size_t j = i == 0? 1: 0; j < rawpool_size (pools [i]); j++)
                if (ctx [i].pushes_by_session [j] == 0)
                    all_in = false;
    }
    if (!all_in) {
        why = "some members never got a push";
        goto done;
    }
    int64_t quiet = zclock_mono () + 300;
    while (zclock_mono () < quiet)
        s_poll_all (pools, count, &turn);
    benchstats_destroy (&local_us);
    benchstats_destroy (&cross_us);
    local_us = benchstats_new ();
    cross_us = benchstats_new ();
    size_t acks_before = ctx [0].acks, pushes_before = 0;
    for (size_t i = 0; i < count; i++) {
        ctx [i].push_us = i == 0? local_us: cross_us;
        pushes_before += ctx [i].pushes;
    }
    size_t messages = (size_t) bench->fanout_messages;
    size_t window = 16, sent = 0;
    size_t want_pushes = messages * members;
    int64_t start = bench_now_ns ();
    int64_t last_progress = zclock_mono ();
    size_t pushes = 0, last_pushes = 0;
    while (!zsys_interrupted && (ctx [0].acks - acks_before < messages || pushes < want_pushes)) {
        while (sent < messages && sent - (ctx [0].acks - acks_before) < window) {
            uint8_t id [16];
            s_message_id (id, bench_now_ns (), ++counter);
            rawsess_send (pools [0], sender, ctx [0].conversation_id, id, token);
            sent++;
        }
        s_poll_all (pools, count, &turn);
        pushes = 0;
        for (size_t i = 0; i < count; i++)
            pushes += ctx [i].pushes;
        pushes -= pushes_before;
        if (pushes != last_pushes) {
            last_pushes = pushes;
            last_progress = zclock_mono ();
        }
        else
        if (zclock_mono () - last_progress > 5000)
            break;              //  the rest was dropped
    }
    double elapsed = bench_seconds_since (start);
    size_t acked = ctx [0].acks - acks_before;
    if (acked < messages) {
        why = "not every message was acknowledged";
        goto done;
    }
    char figure [96];
    snprintf (figure, sizeof figure, "messages/s into a group, %zu servers", count);
    benchreport_add (bench->report, name, figure, (double) messages / elapsed, "/s", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);
    benchreport_add (bench->report, name, "send->push p50, sender's server",
                     benchstats_percentile (local_us, 50) / 1000, "ms", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);
    benchreport_add (bench->report, name, "send->push p99, sender's server",
                     benchstats_percentile (local_us, 99) / 1000, "ms", NULL, 0,
                     BENCH_NO_TARGET, 0, NULL);
    if (count > 1) {
        benchreport_add (bench->report, name, "send->push p50, other servers",
                         benchstats_percentile (cross_us, 50) / 1000, "ms", NULL, 0,
                         BENCH_NO_TARGET, 0, NULL);
        benchreport_add (bench->report, name, "send->push p99, other servers",
                         benchstats_percentile (cross_us, 99) / 1000, "ms", NULL, 0,
                         BENCH_NO_TARGET, 0, NULL);
    }
    benchreport_add (bench->report, name, "pushes lost",
                     (double) (want_pushes - (pushes < want_pushes? pushes: want_pushes)), "",
                     NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_note (bench->report, name, "%zu main server%s on %s, %zu "
                      "members on each (the sender's server: %zu more), %zu messages of ~100 B, "
                      "%zu in flight; pushes timed to about 1 ms (the pools are polled in "
                      "turn)", count, count == 1? "": "s",
                      sqlite? "its own SQLite file": "one PostgreSQL database",
                      per, (size_t) 1, messages, window);
    rc = 0;
done:
    free (token);
    for (size_t i = 0; i < CLUSTER_MAX; i++) {
        rawpool_destroy (&pools [i]);
        free (ctx [i].pushes_by_session);
        benchserver_destroy (&ms [i]);
    }
    benchstats_destroy (&local_us);
    benchstats_destroy (&cross_us);
    bench_servers_stop (&servers);
    if (rc != 0)
        benchreport_fail (bench->report, name, why);
    return rc;
}
