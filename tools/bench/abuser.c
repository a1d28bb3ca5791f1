/*  abuser - attacks beside a measurement; see abuser.h

    Each attack is a CZMQ actor: its sockets live on its thread, and it
    runs until $TERM, then answers one string (what it did) before it ends.
*/
#include <string.h>
#include <czmq.h>
#include "chaterror.h"
#include "credential.h"
#include "fernet.h"
#include "rawclient.h"
#include "abuser.h"

#define IN_FLIGHT 64            //  Hellos outstanding per DEALER

struct _abuser_t {
    zactor_t *actor;
};

typedef struct {
    char *endpoint;             //  with the source address
    char *push_endpoint;
    size_t dealers;
    size_t sessions;
    size_t token_size;
    int rate;
    bench_t *bench;
} args_t;

//  "tcp://SOURCE:0;HOST:PORT": ZMQ connects from SOURCE
static char *
s_from (const char *source, const char *endpoint)
{
    if (!endpoint || strncmp (endpoint, "tcp://", 6) != 0)
        return NULL;
    return zsys_sprintf ("tcp://%s:0;%s", source, endpoint + 6);
}

static void
s_args_destroy (args_t **args_p)
{
    args_t *args = *args_p;
    if (args) {
        free (args->endpoint);
        free (args->push_endpoint);
        free (args);
        *args_p = NULL;
    }
}

//  $TERM on the pipe: true (and the summary is sent)
static bool
s_term (zsock_t *pipe, const char *summary)
{
    if (!(zsock_events (pipe) & ZMQ_POLLIN))
        return false;
    char *command = zstr_recv (pipe);
    bool term = !command || streq (command, "$TERM");
    zstr_free (&command);
    if (term)
        zstr_send (pipe, summary);
    return term;
}

//  ---------------------------------------------------------------- Hello flood

static void
s_flood (zsock_t *pipe, void *arg)
{
    args_t *args = (args_t *) arg;
    uint8_t *hello = NULL;
    size_t hello_size = 0;
    channel_t *channel = channel_client_new (bench_client_key ());
    zsock_t **dealers = (zsock_t **) zmalloc (args->dealers * sizeof (zsock_t *));
    size_t *in_flight = (size_t *) zmalloc (args->dealers * sizeof (size_t));
    zpoller_t *poller = zpoller_new (pipe, NULL);
    bool ok = channel && channel_client_hello (channel, &hello, &hello_size) == CHAT_OK;
    for (size_t i = 0; ok && i < args->dealers; i++) {
        dealers [i] = zsock_new (ZMQ_DEALER);
        zsock_set_linger (dealers [i], 0);
        ok = zsock_connect (dealers [i], "%s", args->endpoint) == 0;
        if (ok)
            zpoller_add (poller, dealers [i]);
    }
    zsock_signal (pipe, 0);
    size_t sent = 0, welcome = 0, refused = 0;
    char summary [160] = "could not start";
    while (true) {
        if (ok)
            snprintf (summary, sizeof summary, "%zu Hellos from one address, %zu served, "
                      "%zu refused as busy", sent, welcome, refused);
        if (s_term (pipe, summary))
            break;
        if (!ok) {
            zpoller_wait (poller, 100);
            continue;
        }
        for (size_t i = 0; i < args->dealers; i++)
            while (in_flight [i] < IN_FLIGHT
            &&     zmq_send (zsock_resolve (dealers [i]), hello, hello_size, ZMQ_DONTWAIT) >= 0) {
                in_flight [i]++;
                sent++;
            }
        zpoller_wait (poller, 20);
        for (size_t i = 0; i < args->dealers; i++)
            while (zsock_events (dealers [i]) & ZMQ_POLLIN) {
                zframe_t *frame = zframe_recv (dealers [i]);
                Chat__Envelope *env = NULL;
                if (frame && wire_envelope_unpack (zframe_data (frame), zframe_size (frame),
                                                   &env) == CHAT_OK) {
                    if (env->kind_case == CHAT__ENVELOPE__KIND_WELCOME)
                        welcome++;
                    else
                        refused++;
                    chat__envelope__free_unpacked (env, NULL);
                }
                zframe_destroy (&frame);
                if (in_flight [i])
                    in_flight [i]--;
            }
    }
    for (size_t i = 0; i < args->dealers; i++)
        zsock_destroy (&dealers [i]);
    zpoller_destroy (&poller);
    free (dealers);
    free (in_flight);
    free (hello);
    channel_destroy (&channel);
    s_args_destroy (&args);
}

abuser_t *
abuser_hello_flood (const char *endpoint, const char *source, size_t dealers)
{
    args_t *args = (args_t *) zmalloc (sizeof (args_t));
    args->endpoint = s_from (source, endpoint);
    args->dealers = dealers ? dealers : 1;
    if (!args->endpoint) {
        s_args_destroy (&args);
        return NULL;
    }
    abuser_t *self = (abuser_t *) zmalloc (sizeof (abuser_t));
    self->actor = zactor_new (s_flood, args);
    return self;
}

//  ---------------------------------------------------------------- stuck subscribers

typedef struct {
    size_t replies;
    size_t errors;
    uint8_t conversation [16];
    bool have_conversation;
} replies_t;

static void
s_on_reply (rawpool_t *pool, rawsess_t *sess, Chat__MainReply *reply, void *arg)
{
    (void) pool;
    (void) sess;
    replies_t *replies = (replies_t *) arg;
    replies->replies++;
    if (reply->body_case == CHAT__MAIN_REPLY__BODY_ERROR)
        replies->errors++;
    if (reply->body_case == CHAT__MAIN_REPLY__BODY_CREATED && reply->created
    &&  reply->created->conversation
    &&  reply->created->conversation->conversation_id.len == 16) {
        memcpy (replies->conversation, reply->created->conversation->conversation_id.data, 16);
        replies->have_conversation = true;
    }
}

static bool
s_wait (rawpool_t *pool, replies_t *replies, size_t target)
{
    int64_t deadline = zclock_mono () + 30000;
    while (replies->replies < target && zclock_mono () < deadline)
        if (rawpool_poll (pool, 50) < 0)
            return false;
    return replies->replies >= target;
}

//  Registered and logged in as name, by minted certificates
static bool
s_log_in (bench_t *bench, rawpool_t *pool, rawsess_t *sess, const char *name, bool enrol)
{
    uint8_t *cert = NULL;
    size_t len = 0;
    free (sess->username);
    sess->username = strdup (name);
    bool ok = true;
    if (enrol)
        ok = bench_certificate (bench, CREDENTIAL_REGISTERED, name, &cert, &len) == CHAT_OK
          && rawsess_register (pool, sess, cert, len);
    free (cert);
    cert = NULL;
    ok = ok && bench_certificate (bench, CREDENTIAL_LOGGED_IN, name, &cert, &len) == CHAT_OK
            && rawsess_login (pool, sess, cert, len);
    free (cert);
    return ok;
}

//  A SUB that has stopped reading: a queue of one, a small kernel buffer
static zsock_t *
s_stuck_sub (const char *endpoint)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    if (sub) {
        zsock_set_rcvhwm (sub, 1);
        zsock_set_rcvbuf (sub, 4096);
        if (zsock_connect (sub, "%s", endpoint) != 0)
            zsock_destroy (&sub);
    }
    return sub;
}

static void
s_stuck (zsock_t *pipe, void *arg)
{
    args_t *args = (args_t *) arg;
    size_t count = args->sessions + 1;             //  and abuser1
    rawpool_t *pool = rawpool_new (args->endpoint, NULL, bench_client_key (), 4);
    zsock_t **subs = (zsock_t **) zmalloc ((count + 1) * sizeof (zsock_t *));
    replies_t replies = { 0 };
    char *token = NULL;
    bool ok = pool != NULL;
    if (ok) {
        rawpool_set_handlers (pool, s_on_reply, NULL, &replies);
        ok = rawpool_open (pool, count, 8, 30000, NULL, NULL) == count;
    }
    size_t expected = 0;
    for (size_t i = 0; ok && i < count; i++) {
        ok = s_log_in (args->bench, pool, rawpool_session (pool, i),
                       i < args->sessions ? "abuser0" : "abuser1", i == 0 || i == count - 1);
        expected += i == 0 || i == count - 1 ? 2 : 1;
    }
    ok = ok && s_wait (pool, &replies, expected) && replies.errors == 0;
    //  Each of abuser0's sessions gets a subscriber that never reads; a
    //  stranger subscribes to everything
    for (size_t i = 0; ok && i < args->sessions; i++) {
        subs [i] = s_stuck_sub (args->push_endpoint);
        ok = subs [i] != NULL;
        if (ok)
            zmq_setsockopt (zsock_resolve (subs [i]), ZMQ_SUBSCRIBE,
                            channel_session_token (rawpool_session (pool, i)->channel),
                            CHANNEL_SESSION_TOKEN_SIZE);
    }
    if (ok) {
        subs [args->sessions] = s_stuck_sub (args->push_endpoint);
        ok = subs [args->sessions] != NULL;
        if (ok)
            zmq_setsockopt (zsock_resolve (subs [args->sessions]), ZMQ_SUBSCRIBE, "", 0);
    }
    if (ok) {
        char *members [] = { "abuser1" };
        ok = rawsess_create (pool, rawpool_session (pool, 0), members, 1,
                             args->bench->identity)
          && s_wait (pool, &replies, expected + 1) && replies.have_conversation;
        expected++;
    }
    if (ok) {
        //  A Fernet token of the size asked for: the server checks its form
        uint8_t key [FERNET_KEY_SIZE];
        fernet_key_generate (key);
        size_t plain_len = args->token_size / 4 * 3 - 96;
        uint8_t *plain = (uint8_t *) zmalloc (plain_len);
        ok = fernet_encrypt (key, plain, plain_len, wire_now (), &token) == CHAT_OK;
        free (plain);
    }
    zsock_signal (pipe, 0);
    size_t sent = 0, refused = 0;
    uint64_t counter = 0;
    int64_t next = zclock_mono ();
    char summary [200] = "could not set up the subscribers";
    while (true) {
        if (ok)
            snprintf (summary, sizeof summary, "%zu sessions of one user with subscribers "
                      "that never read, %zu messages of %zu B sent (%zu refused)",
                      args->sessions, sent, strlen (token), refused);
        if (s_term (pipe, summary))
            break;
        if (!ok) {
            zclock_sleep (50);
            continue;
        }
        if (zclock_mono () >= next) {
            uint8_t id [16] = { 0 };
            counter++;
            memcpy (id, &counter, sizeof counter);
            if (rawsess_send (pool, rawpool_session (pool, 0), replies.conversation, id, token))
                sent++;
            next += 1000 / (args->rate > 0 ? args->rate : 1);
        }
        size_t errors = replies.errors;
        rawpool_poll (pool, 10);
        refused += replies.errors - errors;
    }
    for (size_t i = 0; i <= count; i++)
        zsock_destroy (&subs [i]);
    free (subs);
    free (token);
    rawpool_destroy (&pool);
    s_args_destroy (&args);
}

abuser_t *
abuser_stuck_subscribers (bench_t *bench, const char *endpoint, const char *push_endpoint,
                          const char *source, size_t sessions, size_t token_size, int rate)
{
    args_t *args = (args_t *) zmalloc (sizeof (args_t));
    args->endpoint = s_from (source, endpoint);
    args->push_endpoint = s_from (source, push_endpoint);
    args->sessions = sessions ? sessions : 1;
    args->token_size = token_size < 1000 ? 1000 : token_size;
    args->rate = rate;
    args->bench = bench;
    //  Its users log in with certificates minted with the key server's key
    if (!args->endpoint || !args->push_endpoint || !bench->keyserver_key || !bench->identity) {
        s_args_destroy (&args);
        return NULL;
    }
    abuser_t *self = (abuser_t *) zmalloc (sizeof (abuser_t));
    self->actor = zactor_new (s_stuck, args);
    return self;
}

void
abuser_destroy (abuser_t **self_p, char *summary, size_t summary_size)
{
    abuser_t *self = *self_p;
    if (!self)
        return;
    //  $TERM by hand: its answer is what it did
    zstr_send (self->actor, "$TERM");
    char *answer = zstr_recv (self->actor);
    if (summary && summary_size)
        snprintf (summary, summary_size, "%s", answer ? answer : "");
    zstr_free (&answer);
    zactor_destroy (&self->actor);
    free (self);
    *self_p = NULL;
}
