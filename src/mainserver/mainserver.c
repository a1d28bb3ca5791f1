/*  mainserver - the main server actor; see mainserver.h

    One thread owns every socket. The loop waits on the pipe, the ROUTER,
    the admin REP socket and a timer for idle sessions. When the ROUTER is
    readable it drains what is already waiting (up to MAINSERVER_BATCH
    requests) inside one transaction; replies and pushes are queued in an
    outbox and only leave after the COMMIT. If the commit fails, every
    reply of the batch becomes ERR_INTERNAL and no push leaves.
*/
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <openssl/crypto.h>
#include "beacon.h"
#include "channel.h"
#include "chanserver.h"
#include "chaterror.h"
#include "codec.h"
#include "credential.h"
#include "fernet.h"
#include "rsakey.h"
#include "secret.h"
#include "wire.h"
#include "msgstore.h"
#include "adminsock.h"
#include "bucket.h"
#include "lrumap.h"
#include "serverlimits.h"
#include "pusher.h"
#include "metrics.h"
#include "metricshttp.h"
#include "watchdog.h"
#include "mainserver.h"

#ifndef CHAT_VERSION
#   define CHAT_VERSION "0.0.0"
#endif

#define CHAT_XSTR(x) #x
#define CHAT_STR(x) CHAT_XSTR(x)
#define ADMIN_MAX_CONVERSATIONS 1000
#define ADMIN_MAX_USERS 10000
//  Member names held in the member cache, at most (about 40 bytes each)
#define MEMBER_CACHE_NAMES 100000
//  Gauges that need this thread (sessions by state, store size) are
//  published this often; the loop never sleeps longer
#define METRICS_PUBLISH_MS 1000

//  What the server keeps for each session, beside chansession_t.
typedef struct {
    char *user_key;             //  lower-case username while logged in
} msession_t;

//  What one user has left of its quotas (token buckets)
typedef struct {
    bucket_t messages;
    bucket_t bytes;
    bucket_t conversations;
} quota_t;

//  A reply or a push waiting for the batch's commit.
typedef struct {
    bool is_push;
    uint64_t request_id;        //  reply: to rewrite it as ERR_INTERNAL
    uint8_t session_id [CHANNEL_SESSION_ID_SIZE];   //  reply: to whom
    uint8_t (*targets) [CHANNEL_SESSION_ID_SIZE];   //  push: to whom
    size_t target_count;
    uint8_t *payload;
    size_t len;
} outgoing_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *router;
    pusher_t *pusher;           //  pushes: the XPUB and the threads that seal
    char *push_endpoint;        //  bound, for the beacon
    zsock_t *admin;
    zpoller_t *poller;
    chanserver_t *chanserver;
    rsakey_t *key;
    msgstore_t *store;
    credential_keys_t keys;
    bool have_keys;
    zhashx_t *online;           //  user_key -> zlistx_t of chansession_t *
    zlistx_t *outbox;           //  outgoing_t, for the batch in hand
    zhashx_t *members;          //  conversation id (hex) -> members_t
    size_t member_names;        //  names held in members
    zactor_t *beacon;
    metrics_t *metrics;         //  read by the HTTP thread and the admin socket
    metricshttp_t *http;        //  --metrics-bind, or NULL
    watchdog_t *watchdog;
    int64_t next_publish;       //  zclock_mono of the next gauge update
    char *data_dir;
    char *secret_path;
    char *admin_path;
    int lock_fd;                //  flock on <data>/mainserver.lock, or -1
    serverlimits_t limits;      //  applied by s_apply_limits
    lrumap_t *quotas;           //  lower-case username -> quota_t
    int64_t started_at;
    int64_t next_expire;
    bool verbose;
    bool started;
    bool router_bound;
    bool terminated;
} server_t;

//  A conversation's members, lower-case. Membership never changes after a
//  conversation is made, so a message need not ask the database for it.
typedef struct {
    size_t count;
    char *names [];
} members_t;

static void
s_members_destroy (members_t **self_p)
{
    members_t *self = *self_p;
    if (self) {
        for (size_t index = 0; index < self->count; index++)
            free (self->names [index]);
        free (self);
        *self_p = NULL;
    }
}

//  Allocations that live until a reply is packed.
typedef struct {
    zlistx_t *allocs;
} arena_t;

static void *
s_keep (arena_t *arena, void *ptr)
{
    assert (ptr);
    zlistx_add_end (arena->allocs, ptr);
    return ptr;
}

static void *
s_alloc (arena_t *arena, size_t size)
{
    void *ptr = zmalloc (size);
    assert (ptr);
    return s_keep (arena, ptr);
}

static char *
s_strdup (arena_t *arena, const char *text)
{
    char *copy = strdup (text);
    assert (copy);
    return (char *) s_keep (arena, copy);
}

static void
s_outgoing_destroy (outgoing_t **self_p)
{
    outgoing_t *self = *self_p;
    if (self) {
        free (self->targets);
        free (self->payload);
        free (self);
        *self_p = NULL;
    }
}

//  ---------------------------------------------------------------- the online index

static void
s_online_remove (server_t *self, chansession_t *session)
{
    msession_t *app = (msession_t *) session->app;
    if (!app || !app->user_key)
        return;
    zlistx_t *sessions = (zlistx_t *) zhashx_lookup (self->online, app->user_key);
    if (sessions) {
        void *handle = zlistx_find (sessions, session);
        if (handle)
            zlistx_delete (sessions, handle);
        if (zlistx_size (sessions) == 0)
            zhashx_delete (self->online, app->user_key);
    }
    zstr_free (&app->user_key);
}

static void
s_online_add (server_t *self, chansession_t *session, const char *user_key)
{
    msession_t *app = (msession_t *) session->app;
    assert (app && !app->user_key);
    app->user_key = strdup (user_key);
    zlistx_t *sessions = (zlistx_t *) zhashx_lookup (self->online, user_key);
    if (!sessions) {
        sessions = zlistx_new ();
        zhashx_insert (self->online, user_key, sessions);
    }
    zlistx_add_end (sessions, session);
}

static void
s_session_open (chansession_t *session, void *arg)
{
    server_t *self = (server_t *) arg;
    if (self->pusher)
        pusher_session_open (self->pusher, session->channel);
}

static void
s_session_free (chansession_t *session, void *arg)
{
    server_t *self = (server_t *) arg;
    if (self->pusher)
        pusher_session_close (self->pusher, session->channel);
    if (session->app) {
        s_online_remove (self, session);
        free (session->app);
        session->app = NULL;
    }
}

static msession_t *
s_app (chansession_t *session)
{
    if (!session->app)
        session->app = zmalloc (sizeof (msession_t));
    return (msession_t *) session->app;
}

//  The session stops being its user; the channel stays.
static void
s_logout (server_t *self, chansession_t *session)
{
    s_online_remove (self, session);
    chanserver_set_username (self->chanserver, session, NULL);
}

//  ---------------------------------------------------------------- server object

static void
s_online_list_destroy (void **item)
{
    zlistx_t *list = (zlistx_t *) *item;
    zlistx_destroy (&list);
    *item = NULL;
}

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
    self->online = zhashx_new ();
    zhashx_set_destructor (self->online, s_online_list_destroy);
    self->outbox = zlistx_new ();
    self->members = zhashx_new ();
    assert (self->members);
    zhashx_set_destructor (self->members, (zhashx_destructor_fn *) s_members_destroy);
    zlistx_set_destructor (self->outbox, (zlistx_destructor_fn *) s_outgoing_destroy);
    serverlimits_defaults (&self->limits, SERVERLIMITS_MAINSERVER);
    self->quotas = lrumap_new ((size_t) self->limits.quota_users, sizeof (quota_t));
    self->lock_fd = -1;
    self->metrics = metrics_new ("mainserver", CHAT_VERSION);
    self->watchdog = watchdog_new ();
    assert (self->metrics && self->watchdog);
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
    chanserver_destroy (&self->chanserver);
    pusher_destroy (&self->pusher);
    free (self->push_endpoint);
    lrumap_destroy (&self->quotas);
    zhashx_destroy (&self->online);
    zlistx_destroy (&self->outbox);
    zhashx_destroy (&self->members);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->router);
    zsock_destroy (&self->admin);
    if (self->admin_path)
        unlink (self->admin_path);
    msgstore_destroy (&self->store);
    rsakey_destroy (&self->key);
    if (self->have_keys)
        credential_keys_wipe (&self->keys);
    free (self->data_dir);
    free (self->secret_path);
    free (self->admin_path);
    if (self->lock_fd >= 0)
        close (self->lock_fd);
    metrics_destroy (&self->metrics);
    watchdog_destroy (&self->watchdog);
    free (self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------- replies

static void
s_queue_reply (server_t *self, chansession_t *session, uint64_t request_id,
               Chat__MainReply *reply)
{
    outgoing_t *out = (outgoing_t *) zmalloc (sizeof (outgoing_t));
    assert (out);
    out->request_id = request_id;
    memcpy (out->session_id, channel_session_id (session->channel),
            CHANNEL_SESSION_ID_SIZE);
    if (wire_pack (&reply->base, &out->payload, &out->len) != CHAT_OK) {
        //  Only a failed allocation gets here: answer something small.
        Chat__MainReply fallback = CHAT__MAIN_REPLY__INIT;
        Chat__Error error = CHAT__ERROR__INIT;
        wire_error_init (&error, CHAT_ERR_INTERNAL, "reply could not be built");
        fallback.request_id = request_id;
        fallback.body_case = CHAT__MAIN_REPLY__BODY_ERROR;
        fallback.error = &error;
        if (wire_pack (&fallback.base, &out->payload, &out->len) != CHAT_OK) {
            free (out);
            return;
        }
    }
    zlistx_add_end (self->outbox, out);
}

static void
s_queue_error_retry (server_t *self, chansession_t *session, uint64_t request_id,
                     int code, const char *text, uint32_t retry_ms)
{
    Chat__MainReply reply = CHAT__MAIN_REPLY__INIT;
    Chat__Error error = CHAT__ERROR__INIT;
    wire_error_init (&error, code, text? text: chat_strerror (code));
    error.retry_after_ms = retry_ms;
    reply.request_id = request_id;
    reply.body_case = CHAT__MAIN_REPLY__BODY_ERROR;
    reply.error = &error;
    s_queue_reply (self, session, request_id, &reply);
}

static void
s_queue_error (server_t *self, chansession_t *session, uint64_t request_id,
               int code, const char *text)
{
    s_queue_error_retry (self, session, request_id, code, text, 0);
}

//  Pushes wait in the request's own list until it succeeded. The payload
//  is packed once; each target gets it sealed under its own push key as
//  the batch is flushed. Takes the targets array.
static void
s_queue_push (zlistx_t *pushes, uint8_t (*targets) [CHANNEL_SESSION_ID_SIZE],
              size_t target_count, const ProtobufCMessage *push)
{
    if (target_count == 0) {
        free (targets);
        return;
    }
    outgoing_t *out = (outgoing_t *) zmalloc (sizeof (outgoing_t));
    assert (out);
    out->is_push = true;
    if (wire_pack (push, &out->payload, &out->len) != CHAT_OK) {
        free (targets);
        free (out);
        return;
    }
    out->targets = targets;
    out->target_count = target_count;
    zlistx_add_end (pushes, out);
}

//  Hand a push to the pusher for the sessions of its targets still there;
//  the sealing happens on the pusher's threads. Counts pushes handed over
//  (sent) and dropped because the pusher's queue was full (failed).
static void
s_push (server_t *self, outgoing_t *out, size_t *sent, size_t *failed)
{
    channel_t **channels = (channel_t **) malloc (out->target_count * sizeof (channel_t *));
    assert (channels);
    size_t count = 0;
    for (size_t index = 0; index < out->target_count; index++) {
        chansession_t *session = chanserver_lookup (self->chanserver, out->targets [index]);
        if (session)
            channels [count++] = session->channel;
    }
    if (self->pusher
    &&  pusher_push (self->pusher, channels, count, out->payload, out->len) == CHAT_OK)
        *sent += count;
    else
        *failed += count;
    free (channels);
}

//  Send what the batch produced: after a good commit as it is; after a
//  failed one, every reply as ERR_INTERNAL and no push at all.
static void
s_flush (server_t *self, bool committed)
{
    size_t queued = 0, sent = 0, failed = 0;
    outgoing_t *out = (outgoing_t *) zlistx_first (self->outbox);
    while (committed && out) {
        if (out->is_push)
            queued += out->target_count;
        out = (outgoing_t *) zlistx_next (self->outbox);
    }
    metrics_push_queue (self->metrics, queued);
    out = (outgoing_t *) zlistx_first (self->outbox);
    while (out) {
        if (out->is_push) {
            if (committed)
                s_push (self, out, &sent, &failed);
        }
        else {
            chansession_t *session = chanserver_lookup (self->chanserver, out->session_id);
            if (session && !committed) {
                Chat__MainReply reply = CHAT__MAIN_REPLY__INIT;
                Chat__Error error = CHAT__ERROR__INIT;
                wire_error_init (&error, CHAT_ERR_INTERNAL, "storage failed, nothing was stored");
                reply.request_id = out->request_id;
                reply.body_case = CHAT__MAIN_REPLY__BODY_ERROR;
                reply.error = &error;
                free (out->payload);
                out->payload = NULL;
                if (wire_pack (&reply.base, &out->payload, &out->len) != CHAT_OK)
                    session = NULL;
            }
            if (session
            &&  chanserver_reply (self->chanserver, session, out->payload, out->len) != CHAT_OK)
                zsys_warning ("mainserver: reply to session %.8s failed", session->id_hex);
        }
        out = (outgoing_t *) zlistx_next (self->outbox);
    }
    zlistx_purge (self->outbox);
    metrics_pushes (self->metrics, sent, true);
    metrics_pushes (self->metrics, failed, false);
    metrics_push_queue (self->metrics, 0);
}

//  ---------------------------------------------------------------- summaries

//  Fill a ConversationSummary for `username` on `channel`'s client key.
static int
s_summary_fill (server_t *self, arena_t *arena, Chat__ConversationSummary *summary,
                const msgstore_conv_t *conv, const char *username, channel_t *channel)
{
    chat__conversation_summary__init (summary);
    summary->conversation_id.data = (uint8_t *) s_alloc (arena, MSGSTORE_ID_SIZE);
    memcpy (summary->conversation_id.data, conv->id, MSGSTORE_ID_SIZE);
    summary->conversation_id.len = MSGSTORE_ID_SIZE;
    summary->last_seq = conv->last_seq;
    summary->last_time = conv->last_time;

    zlistx_t *names;
    int rc = msgstore_conv_members (self->store, conv->id, &names);
    if (rc != CHAT_OK)
        return rc;
    summary->n_members = zlistx_size (names);
    summary->members = (char **) s_alloc (arena, sizeof (char *) * (summary->n_members + 1));
    size_t index = 0;
    const char *name = (const char *) zlistx_first (names);
    while (name) {
        summary->members [index++] = s_strdup (arena, name);
        name = (const char *) zlistx_next (names);
    }
    zlistx_destroy (&names);

    uint8_t *ticket = NULL;
    size_t ticket_len = 0;
    rc = credential_ticket_issue (&self->keys, username, conv->id,
                                  channel_peer_fingerprint (channel), wire_now (),
                                  &ticket, &ticket_len);
    if (rc != CHAT_OK) {
        zsys_error ("mainserver: could not issue a ticket: %s", chat_strerror (rc));
        return CHAT_ERR_INTERNAL;
    }
    summary->ticket.data = (uint8_t *) s_keep (arena, ticket);
    summary->ticket.len = ticket_len;
    return CHAT_OK;
}

//  A conversation's members, from the cache or else the database (then
//  kept). The answer is borrowed: it lives until the cache is cleared.
static int
s_members (server_t *self, const uint8_t id [MSGSTORE_ID_SIZE], members_t **members_p)
{
    char key [MSGSTORE_ID_SIZE * 2 + 1];
    codec_hex_into (id, MSGSTORE_ID_SIZE, key);
    members_t *members = (members_t *) zhashx_lookup (self->members, key);
    if (members) {
        *members_p = members;
        return CHAT_OK;
    }
    zlistx_t *names;
    int rc = msgstore_conv_members (self->store, id, &names);
    if (rc != CHAT_OK)
        return rc;
    size_t count = zlistx_size (names);
    members = (members_t *) zmalloc (sizeof (members_t) + count * sizeof (char *));
    assert (members);
    const char *name = (const char *) zlistx_first (names);
    while (name) {
        char lower [USERNAME_MAX + 1];
        credential_username_fold (name, lower, sizeof lower);
        members->names [members->count] = strdup (lower);
        assert (members->names [members->count]);
        members->count++;
        name = (const char *) zlistx_next (names);
    }
    zlistx_destroy (&names);
    //  A bound on memory: past it, start again from an empty cache
    if (self->member_names + count > MEMBER_CACHE_NAMES) {
        zhashx_purge (self->members);
        self->member_names = 0;
    }
    zhashx_insert (self->members, key, members);
    self->member_names += count;
    *members_p = members;
    return CHAT_OK;
}

//  The ids of the logged-in sessions of a conversation's members, but
//  `except`'s: a malloc'd array (NULL when there are none) and its size.
static int
s_member_targets (server_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                  chansession_t *except,
                  uint8_t (**targets_p) [CHANNEL_SESSION_ID_SIZE], size_t *count_p)
{
    *targets_p = NULL;
    *count_p = 0;
    members_t *members;
    int rc = s_members (self, id, &members);
    if (rc != CHAT_OK)
        return rc;
    uint8_t (*targets) [CHANNEL_SESSION_ID_SIZE] = NULL;
    size_t count = 0, size = 0;
    for (size_t index = 0; index < members->count; index++) {
        zlistx_t *online = (zlistx_t *) zhashx_lookup (self->online, members->names [index]);
        chansession_t *session = online? (chansession_t *) zlistx_first (online): NULL;
        while (session) {
            if (session != except) {
                if (count == size) {
                    size = size? size * 2: members->count;
                    targets = realloc (targets, size * CHANNEL_SESSION_ID_SIZE);
                    assert (targets);
                }
                memcpy (targets [count++], channel_session_id (session->channel),
                        CHANNEL_SESSION_ID_SIZE);
            }
            session = (chansession_t *) zlistx_next (online);
        }
    }
    *targets_p = targets;
    *count_p = count;
    return CHAT_OK;
}

//  ---------------------------------------------------------------- requests

//  Each handler fills `reply` (allocating in arena) and returns CHAT_OK, or
//  returns an error code with *text pointing at a message (static or in
//  arena). CHAT_ERR_INTERNAL rolls the request's savepoint back.

typedef struct {
    server_t *server;
    chansession_t *session;
    arena_t *arena;
    Chat__MainReply *reply;
    const char *text;
    uint32_t retry_ms;          //  with an error: when trying again may work
    zlistx_t *pushes;           //  outgoing_t, sent only if the request succeeds
} request_t;

//  ---------------------------------------------------------------- quotas

//  The user's quota record, made on first use; the least recently active
//  user's is forgotten when quota_users are remembered (a restart forgets
//  all: quotas bound a rate, they are not an account)
static quota_t *
s_quota (server_t *self, const char *username)
{
    char key [USERNAME_MAX + 1];
    credential_username_fold (username, key, sizeof key);
    return (quota_t *) lrumap_get (self->quotas, key);
}

//  A quota says wait: the error, its text and retry time into req
static int
s_quota_refuse (request_t *req, const char *quota, int code, int64_t wait,
                const char *format, long long n)
{
    metrics_quota_refusal (req->server->metrics, quota);
    char *text = (char *) s_alloc (req->arena, 96);
    snprintf (text, 96, format, n);
    req->text = text;
    req->retry_ms = wait > UINT32_MAX ? UINT32_MAX : (uint32_t) wait;
    return code;
}

//  Whether the user may store one more message of len bytes now (take
//  false), or count one that was stored (take true: after the store, so
//  that a retry of a stored message costs nothing)
static int
s_quota_message (request_t *req, size_t len, bool take)
{
    const serverlimits_t *limits = &req->server->limits;
    quota_t *quota = s_quota (req->server, req->session->username);
    int64_t now = wire_now_ms ();
    double rate = (double) limits->messages_per_second, burst = (double) limits->message_burst;
    double bytes_rate = (double) limits->bytes_per_day / 86400.0;
    double bytes_burst = (double) limits->bytes_per_day;
    if (take) {
        bucket_take (&quota->messages, rate, burst, 1, now);
        bucket_take (&quota->bytes, bytes_rate, bytes_burst, (double) len, now);
        return CHAT_OK;
    }
    int64_t wait = bucket_wait (&quota->messages, rate, burst, 1, now);
    if (wait > 0)
        return s_quota_refuse (req, "messages_per_second", CHAT_ERR_RATE_LIMITED, wait,
                               "more than %lld messages a second", limits->messages_per_second);
    wait = bucket_wait (&quota->bytes, bytes_rate, bytes_burst, (double) len, now);
    if (wait > 0)
        return s_quota_refuse (req, "bytes_per_day", CHAT_ERR_QUOTA, wait,
                               "more than %lld bytes of messages a day", limits->bytes_per_day);
    return CHAT_OK;
}

//  Conversations created: checked before, taken after a new one is made
static int
s_quota_conversation (request_t *req, bool take)
{
    const serverlimits_t *limits = &req->server->limits;
    quota_t *quota = s_quota (req->server, req->session->username);
    double rate = (double) limits->conversations_per_hour / 3600.0;
    double burst = (double) limits->conversations_per_hour;
    int64_t now = wire_now_ms ();
    if (take) {
        bucket_take (&quota->conversations, rate, burst, 1, now);
        return CHAT_OK;
    }
    int64_t wait = bucket_wait (&quota->conversations, rate, burst, 1, now);
    if (wait > 0)
        return s_quota_refuse (req, "conversations_per_hour", CHAT_ERR_QUOTA, wait,
                               "more than %lld new conversations an hour",
                               limits->conversations_per_hour);
    return CHAT_OK;
}

static int
s_check_cert (request_t *req, ProtobufCBinaryData cert, int purpose, char **username)
{
    int rc = credential_cert_check (&req->server->keys, cert.data, cert.len, purpose,
                                    channel_peer_fingerprint (req->session->channel),
                                    wire_now (), username);
    if (rc != CHAT_OK) {
        req->text = purpose == CREDENTIAL_REGISTERED
                  ? "registration certificate refused"
                  : "login certificate refused";
        return CHAT_ERR_BAD_CERTIFICATE;
    }
    if (!credential_username_valid (*username)) {
        zstr_free (username);
        req->text = "certificate names an invalid username";
        return CHAT_ERR_BAD_CERTIFICATE;
    }
    return CHAT_OK;
}

static int
s_do_register (request_t *req, Chat__RegisterUserRequest *body)
{
    server_t *self = req->server;
    char *username = NULL;
    int rc = s_check_cert (req, body->certificate, CREDENTIAL_REGISTERED, &username);
    if (rc != CHAT_OK)
        return rc;
    bool added = false;
    rc = msgstore_user_add (self->store, username, wire_now_ms (), &added);
    if (rc == CHAT_OK) {
        if (added)
            zsys_info ("register: user %s (session %.8s)", username, req->session->id_hex);
        static Chat__Ack ack = CHAT__ACK__INIT;
        req->reply->body_case = CHAT__MAIN_REPLY__BODY_REGISTERED;
        req->reply->registered = &ack;
    }
    zstr_free (&username);
    return rc;
}

static int
s_do_login (request_t *req, Chat__LoginRequest *body)
{
    server_t *self = req->server;
    char *username = NULL;
    int rc = s_check_cert (req, body->certificate, CREDENTIAL_LOGGED_IN, &username);
    if (rc != CHAT_OK)
        return rc;
    char *canonical = NULL;
    rc = msgstore_user_find (self->store, username, &canonical);
    zstr_free (&username);
    if (rc == CHAT_ERR_UNKNOWN_USER)
        req->text = "this user has not registered here";
    if (rc != CHAT_OK)
        return rc;

    chansession_t *session = req->session;
    s_logout (self, session);
    rc = chanserver_set_username (self->chanserver, session, canonical);
    if (rc != CHAT_OK) {
        metrics_quota_refusal (self->metrics, "sessions_per_user");
        char *text = (char *) s_alloc (req->arena, 96);
        snprintf (text, 96, "%s has %lld sessions already", canonical,
                  (long long) self->limits.sessions_per_user);
        req->text = text;
        zstr_free (&canonical);
        return rc;
    }
    zstr_free (&canonical);
    canonical = session->username;
    char key [USERNAME_MAX + 1];
    credential_username_fold (canonical, key, sizeof key);
    s_app (session);
    s_online_add (self, session, key);
    zsys_info ("login: %s on session %.8s, client key %s", canonical, session->id_hex,
               channel_peer_fingerprint_text (session->channel));

    Chat__LoginReply *logged_in = (Chat__LoginReply *) s_alloc (req->arena, sizeof *logged_in);
    chat__login_reply__init (logged_in);
    logged_in->username = s_strdup (req->arena, canonical);
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_LOGGED_IN;
    req->reply->logged_in = logged_in;
    return CHAT_OK;
}

typedef struct {
    request_t *req;
    zlistx_t *convs;            //  msgstore_conv_t copies
} conv_collect_t;

static int
s_collect_conv (const msgstore_conv_t *conv, void *arg)
{
    conv_collect_t *collect = (conv_collect_t *) arg;
    msgstore_conv_t *copy = (msgstore_conv_t *) s_alloc (collect->req->arena, sizeof *copy);
    *copy = *conv;
    zlistx_add_end (collect->convs, copy);
    return 0;
}

static int
s_do_list_conversations (request_t *req)
{
    server_t *self = req->server;
    conv_collect_t collect = { req, zlistx_new () };
    int rc = msgstore_conv_each_of (self->store, req->session->username,
                                    s_collect_conv, &collect);
    Chat__ConversationList *list = (Chat__ConversationList *) s_alloc (req->arena, sizeof *list);
    chat__conversation_list__init (list);
    size_t count = zlistx_size (collect.convs);
    list->conversations = (Chat__ConversationSummary **)
        s_alloc (req->arena, sizeof (void *) * (count + 1));
    msgstore_conv_t *conv = (msgstore_conv_t *) zlistx_first (collect.convs);
    while (rc == CHAT_OK && conv) {
        Chat__ConversationSummary *summary = (Chat__ConversationSummary *)
            s_alloc (req->arena, sizeof *summary);
        rc = s_summary_fill (self, req->arena, summary, conv,
                             req->session->username, req->session->channel);
        //  where the user stopped reading, so unread counts survive a
        //  logout and agree across the user's sessions
        if (rc == CHAT_OK)
            rc = msgstore_read_state (self->store, conv->id, req->session->username,
                                      &summary->read_seq, &summary->unread);
        list->conversations [list->n_conversations++] = summary;
        conv = (msgstore_conv_t *) zlistx_next (collect.convs);
    }
    zlistx_destroy (&collect.convs);
    if (rc != CHAT_OK)
        return rc;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_CONVERSATIONS;
    req->reply->conversations = list;
    return CHAT_OK;
}

typedef struct {
    request_t *req;
    Chat__MessagePage *page;
    size_t wanted;
    size_t bytes;
    bool more;
} page_collect_t;

static int
s_collect_message (const msgstore_msg_t *msg, void *arg)
{
    page_collect_t *collect = (page_collect_t *) arg;
    Chat__MessagePage *page = collect->page;
    if (page->n_messages == collect->wanted
    || (page->n_messages > 0 && collect->bytes + msg->token_len > WIRE_PAGE_BYTES)) {
        collect->more = true;
        return 1;
    }
    arena_t *arena = collect->req->arena;
    Chat__StoredMessage *stored = (Chat__StoredMessage *) s_alloc (arena, sizeof *stored);
    chat__stored_message__init (stored);
    stored->conversation_id = page->conversation_id;
    stored->seq = msg->seq;
    stored->sender = s_strdup (arena, msg->sender);
    stored->server_time = msg->server_time;
    stored->token = (char *) s_keep (arena, strndup (msg->token, msg->token_len));
    if (msg->client_message_id_len) {
        stored->client_message_id.data = (uint8_t *) s_alloc (arena, msg->client_message_id_len);
        memcpy (stored->client_message_id.data, msg->client_message_id,
                msg->client_message_id_len);
        stored->client_message_id.len = msg->client_message_id_len;
    }
    page->messages [page->n_messages++] = stored;
    collect->bytes += msg->token_len;
    return 0;
}

//  The conversation named in a request, if the session's user is a member.
//  A non-member gets the same answer as for an unknown id.
static int
s_conv_of_member (request_t *req, ProtobufCBinaryData id, msgstore_conv_t *conv)
{
    int rc = msgstore_conv_get_as_member (req->server->store, id.data, id.len,
                                          req->session->username, conv);
    if (rc == CHAT_ERR_NOT_FOUND)
        req->text = "no such conversation";
    return rc;
}

static int
s_do_get_messages (request_t *req, Chat__GetMessagesRequest *body)
{
    server_t *self = req->server;
    msgstore_conv_t conv;
    int rc = s_conv_of_member (req, body->conversation_id, &conv);
    if (rc != CHAT_OK)
        return rc;
    size_t limit = body->limit == 0? MAINSERVER_PAGE_DEFAULT: body->limit;
    if (limit > MAINSERVER_PAGE_MAX)
        limit = MAINSERVER_PAGE_MAX;

    Chat__MessagePage *page = (Chat__MessagePage *) s_alloc (req->arena, sizeof *page);
    chat__message_page__init (page);
    page->conversation_id.data = (uint8_t *) s_alloc (req->arena, MSGSTORE_ID_SIZE);
    memcpy (page->conversation_id.data, conv.id, MSGSTORE_ID_SIZE);
    page->conversation_id.len = MSGSTORE_ID_SIZE;
    page->last_seq = conv.last_seq;
    page->messages = (Chat__StoredMessage **) s_alloc (req->arena, sizeof (void *) * limit);
    page_collect_t collect = { req, page, limit, 0, false };
    //  One row more than wanted tells whether there is more.
    rc = msgstore_msg_each (self->store, conv.id, body->after_seq,
                            (uint32_t) limit + 1, s_collect_message, &collect);
    if (rc != CHAT_OK)
        return rc;
    page->more = collect.more;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_MESSAGES;
    req->reply->messages = page;
    return CHAT_OK;
}

typedef struct {
    arena_t *arena;
    Chat__UserList *list;
    size_t size;
} user_collect_t;

static int
s_collect_user (const char *name, int64_t created_at, void *arg)
{
    (void) created_at;
    user_collect_t *collect = (user_collect_t *) arg;
    Chat__UserList *list = collect->list;
    if (list->n_usernames == collect->size) {
        size_t size = collect->size? collect->size * 2: 64;
        char **names = (char **) realloc (list->usernames, sizeof (char *) * size);
        assert (names);
        list->usernames = names;
        collect->size = size;
    }
    list->usernames [list->n_usernames++] = s_strdup (collect->arena, name);
    return 0;
}

static int
s_do_list_users (request_t *req)
{
    Chat__UserList *list = (Chat__UserList *) s_alloc (req->arena, sizeof *list);
    chat__user_list__init (list);
    user_collect_t collect = { req->arena, list, 0 };
    int rc = msgstore_user_each (req->server->store, s_collect_user, &collect);
    if (list->usernames)
        s_keep (req->arena, list->usernames);
    if (rc != CHAT_OK)
        return rc;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_USERS;
    req->reply->users = list;
    return CHAT_OK;
}

static int
s_compare_lower (const void *a, const void *b)
{
    return strcasecmp (*(const char **) a, *(const char **) b);
}

static int
s_do_create_conversation (request_t *req, Chat__CreateConversationRequest *body)
{
    server_t *self = req->server;
    chansession_t *session = req->session;
    arena_t *arena = req->arena;

    //  Distinct members by lower-case name, the caller first.
    zhashx_t *seen = zhashx_new ();
    assert (seen);
    char key [USERNAME_MAX + 1];
    credential_username_fold (session->username, key, sizeof key);
    zhashx_insert (seen, key, session->username);
    int rc = CHAT_OK;
    for (size_t index = 0; rc == CHAT_OK && index < body->n_members; index++) {
        const char *name = body->members [index];
        if (!credential_username_valid (name)) {
            req->text = "unknown user (not a valid username)";
            rc = CHAT_ERR_UNKNOWN_USER;
            break;
        }
        credential_username_fold (name, key, sizeof key);
        zhashx_insert (seen, key, (void *) name);
        if (zhashx_size (seen) > MSGSTORE_MAX_MEMBERS) {
            req->text = s_strdup (arena, "more than 256 members");
            rc = CHAT_ERR_TOO_MANY_MEMBERS;
        }
    }
    if (rc == CHAT_OK && zhashx_size (seen) < 2) {
        req->text = "a conversation needs at least one other member";
        rc = CHAT_ERR_BAD_REQUEST;
    }
    size_t count = 0;
    const char **names = NULL;
    if (rc == CHAT_OK) {
        names = (const char **) s_alloc (arena, sizeof (char *) * zhashx_size (seen));
        const char *name = (const char *) zhashx_first (seen);
        while (name && rc == CHAT_OK) {
            char *canonical = NULL;
            rc = msgstore_user_find (self->store, name, &canonical);
            if (rc == CHAT_OK)
                names [count++] = (const char *) s_keep (arena, canonical);
            else
            if (rc == CHAT_ERR_UNKNOWN_USER) {
                char *text = (char *) s_alloc (arena, 64);
                snprintf (text, 64, "unknown user: %s", name);
                req->text = text;
            }
            name = (const char *) zhashx_next (seen);
        }
    }
    zhashx_destroy (&seen);
    if (rc == CHAT_OK)
        rc = s_quota_conversation (req, false);
    if (rc != CHAT_OK)
        return rc;
    qsort (names, count, sizeof (char *), s_compare_lower);

    msgstore_conv_t conv;
    bool created = false;
    rc = msgstore_conv_open (self->store, names, count, wire_now_ms (), &conv, &created);
    if (rc != CHAT_OK)
        return rc;
    if (created)
        s_quota_conversation (req, true);
    Chat__ConversationSummary *summary = (Chat__ConversationSummary *)
        s_alloc (arena, sizeof *summary);
    rc = s_summary_fill (self, arena, summary, &conv, session->username, session->channel);
    if (rc != CHAT_OK)
        return rc;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_CONVERSATION;
    req->reply->conversation = summary;
    if (!created)
        return CHAT_OK;

    char *hex = codec_hex (conv.id, 8);
    zsys_info ("create: conversation %s.. of %zu members by %s", hex? hex: "?",
               count, session->username);
    free (hex);
    //  Every other session of every member hears of it, each with a ticket
    //  bound to its own client key.
    uint8_t (*targets) [CHANNEL_SESSION_ID_SIZE];
    size_t target_count;
    rc = s_member_targets (self, conv.id, session, &targets, &target_count);
    if (rc != CHAT_OK)
        return rc;
    for (size_t index = 0; index < target_count && rc == CHAT_OK; index++) {
        chansession_t *other = chanserver_lookup (self->chanserver, targets [index]);
        if (!other)
            continue;
        arena_t push_arena = { zlistx_new () };
        zlistx_set_destructor (push_arena.allocs, (zlistx_destructor_fn *) zstr_free);
        Chat__ConversationSummary their = CHAT__CONVERSATION_SUMMARY__INIT;
        rc = s_summary_fill (self, &push_arena, &their, &conv, other->username,
                             other->channel);
        if (rc == CHAT_OK) {
            Chat__Push push = CHAT__PUSH__INIT;
            push.body_case = CHAT__PUSH__BODY_CONVERSATION;
            push.conversation = &their;
            uint8_t (*target) [CHANNEL_SESSION_ID_SIZE] = malloc (CHANNEL_SESSION_ID_SIZE);
            assert (target);
            memcpy (target [0], targets [index], CHANNEL_SESSION_ID_SIZE);
            s_queue_push (req->pushes, target, 1, &push.base);
        }
        zlistx_destroy (&push_arena.allocs);
    }
    free (targets);
    return rc;
}

static int
s_do_send_message (request_t *req, Chat__SendMessageRequest *body)
{
    server_t *self = req->server;
    chansession_t *session = req->session;
    msgstore_conv_t conv;
    int rc = s_conv_of_member (req, body->conversation_id, &conv);
    if (rc != CHAT_OK)
        return rc;
    size_t token_len = body->token? strlen (body->token): 0;
    if (token_len > WIRE_MAX_TOKEN) {
        req->text = "message token over " CHAT_STR (WIRE_MAX_TOKEN) " bytes";
        return CHAT_ERR_MESSAGE_TOO_LARGE;
    }
    if (token_len == 0 || fernet_token_timestamp (body->token, token_len) < 0) {
        req->text = "token is not a Fernet token";
        return CHAT_ERR_BAD_REQUEST;
    }
    if (body->client_message_id.len != 16) {
        req->text = "client_message_id must be 16 bytes";
        return CHAT_ERR_BAD_REQUEST;
    }
    rc = s_quota_message (req, token_len, false);
    if (rc != CHAT_OK)
        return rc;
    uint64_t seq;
    int64_t server_time;
    bool duplicate;
    rc = msgstore_msg_add (self->store, conv.id, session->username,
                           body->client_message_id.data, body->client_message_id.len,
                           body->token, token_len, wire_now_ms (),
                           &seq, &server_time, &duplicate);
    if (rc == CHAT_ERR_BAD_REQUEST)
        req->text = "client_message_id used by another sender";
    if (rc != CHAT_OK)
        return rc;

    Chat__SendMessageReply *sent = (Chat__SendMessageReply *)
        s_alloc (req->arena, sizeof *sent);
    chat__send_message_reply__init (sent);
    sent->conversation_id.data = (uint8_t *) s_alloc (req->arena, MSGSTORE_ID_SIZE);
    memcpy (sent->conversation_id.data, conv.id, MSGSTORE_ID_SIZE);
    sent->conversation_id.len = MSGSTORE_ID_SIZE;
    sent->seq = seq;
    sent->server_time = server_time;
    sent->duplicate = duplicate;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_SENT;
    req->reply->sent = sent;
    if (duplicate)
        return CHAT_OK;         //  pushed, and counted, the first time
    s_quota_message (req, token_len, true);

    uint8_t (*targets) [CHANNEL_SESSION_ID_SIZE];
    size_t target_count;
    rc = s_member_targets (self, conv.id, session, &targets, &target_count);
    if (rc != CHAT_OK)
        return rc;
    Chat__StoredMessage stored = CHAT__STORED_MESSAGE__INIT;
    stored.conversation_id = sent->conversation_id;
    stored.seq = seq;
    stored.sender = session->username;
    stored.server_time = server_time;
    stored.token = body->token;
    stored.client_message_id = body->client_message_id;
    Chat__Push push = CHAT__PUSH__INIT;
    push.body_case = CHAT__PUSH__BODY_MESSAGE;
    push.message = &stored;
    s_queue_push (req->pushes, targets, target_count, &push.base);
    return CHAT_OK;
}

static int
s_do_get_members (request_t *req, Chat__GetMembersRequest *body)
{
    server_t *self = req->server;
    msgstore_conv_t conv;
    int rc = s_conv_of_member (req, body->conversation_id, &conv);
    if (rc != CHAT_OK)
        return rc;
    Chat__ConversationSummary *summary = (Chat__ConversationSummary *)
        s_alloc (req->arena, sizeof *summary);
    rc = s_summary_fill (self, req->arena, summary, &conv, req->session->username,
                         req->session->channel);
    if (rc != CHAT_OK)
        return rc;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_MEMBERS;
    req->reply->members = summary;
    return CHAT_OK;
}

//  The ids of the other logged-in sessions of session's user: a malloc'd
//  array (NULL when there are none) and its size.
static void
s_user_targets (server_t *self, chansession_t *session,
                uint8_t (**targets_p) [CHANNEL_SESSION_ID_SIZE], size_t *count_p)
{
    *targets_p = NULL;
    *count_p = 0;
    char lower [USERNAME_MAX + 1];
    credential_username_fold (session->username, lower, sizeof lower);
    zlistx_t *online = (zlistx_t *) zhashx_lookup (self->online, lower);
    size_t size = online? zlistx_size (online): 0;
    if (size == 0)
        return;
    uint8_t (*targets) [CHANNEL_SESSION_ID_SIZE] = malloc (size * CHANNEL_SESSION_ID_SIZE);
    assert (targets);
    size_t count = 0;
    for (chansession_t *other = (chansession_t *) zlistx_first (online); other;
         other = (chansession_t *) zlistx_next (online))
        if (other != session && count < size)
            memcpy (targets [count++], channel_session_id (other->channel),
                    CHANNEL_SESSION_ID_SIZE);
    *targets_p = targets;
    *count_p = count;
}

//  The user read a conversation up to read_seq: the marker moves forward
//  (never past the last message, never back) and the user's other
//  sessions hear where it is now
static int
s_do_mark_read (request_t *req, Chat__MarkReadRequest *body)
{
    server_t *self = req->server;
    msgstore_conv_t conv;
    int rc = s_conv_of_member (req, body->conversation_id, &conv);
    if (rc != CHAT_OK)
        return rc;
    uint64_t wanted = body->read_seq < conv.last_seq? body->read_seq: conv.last_seq;
    bool moved = false;
    rc = msgstore_read_set (self->store, conv.id, req->session->username, wanted, &moved);
    Chat__ReadState *state = (Chat__ReadState *) s_alloc (req->arena, sizeof *state);
    chat__read_state__init (state);
    if (rc == CHAT_OK)
        rc = msgstore_read_state (self->store, conv.id, req->session->username,
                                  &state->read_seq, &state->unread);
    if (rc != CHAT_OK)
        return rc;
    state->conversation_id.data = (uint8_t *) s_alloc (req->arena, MSGSTORE_ID_SIZE);
    memcpy (state->conversation_id.data, conv.id, MSGSTORE_ID_SIZE);
    state->conversation_id.len = MSGSTORE_ID_SIZE;
    state->last_seq = conv.last_seq;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_READ;
    req->reply->read = state;
    if (!moved)
        return CHAT_OK;
    uint8_t (*targets) [CHANNEL_SESSION_ID_SIZE];
    size_t target_count;
    s_user_targets (self, req->session, &targets, &target_count);
    Chat__Push push = CHAT__PUSH__INIT;
    push.body_case = CHAT__PUSH__BODY_READ;
    push.read = state;
    s_queue_push (req->pushes, targets, target_count, &push.base);
    return CHAT_OK;
}

static const char *
s_request_name (Chat__MainRequest__BodyCase body)
{
    switch (body) {
        case CHAT__MAIN_REQUEST__BODY_REGISTER:            return "register";
        case CHAT__MAIN_REQUEST__BODY_LOGIN:               return "login";
        case CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS:  return "list-conversations";
        case CHAT__MAIN_REQUEST__BODY_GET_MESSAGES:        return "get-messages";
        case CHAT__MAIN_REQUEST__BODY_LIST_USERS:          return "list-users";
        case CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION: return "create-conversation";
        case CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE:        return "send-message";
        case CHAT__MAIN_REQUEST__BODY_GET_MEMBERS:         return "get-members";
        case CHAT__MAIN_REQUEST__BODY_LOGOUT:              return "logout";
        case CHAT__MAIN_REQUEST__BODY_PING:                return "ping";
        case CHAT__MAIN_REQUEST__BODY_MARK_READ:           return "mark-read";
        default:                                           return "unknown";
    }
}

//  Handle one request of the batch; its reply goes to the outbox.
static void
s_handle_request (server_t *self, chansession_t *session,
                  const uint8_t *payload, size_t len)
{
    Chat__MainRequest *request = NULL;
    if (wire_unpack (&chat__main_request__descriptor, payload, len,
                     (ProtobufCMessage **) &request) != CHAT_OK) {
        zsys_info ("session %.8s: request refused: ERR_MALFORMED", session->id_hex);
        metrics_request (self->metrics, "undecodable", CHAT_ERR_MALFORMED);
        s_queue_error (self, session, 0, CHAT_ERR_MALFORMED, "request could not be decoded");
        return;
    }
    arena_t arena = { zlistx_new () };
    assert (arena.allocs);
    zlistx_set_destructor (arena.allocs, (zlistx_destructor_fn *) zstr_free);
    Chat__MainReply reply = CHAT__MAIN_REPLY__INIT;
    reply.request_id = request->request_id;
    zlistx_t *pushes = zlistx_new ();
    assert (pushes);
    zlistx_set_destructor (pushes, (zlistx_destructor_fn *) s_outgoing_destroy);
    request_t req = { self, session, &arena, &reply, NULL, 0, pushes };

    bool needs_login = request->body_case != CHAT__MAIN_REQUEST__BODY_REGISTER
                    && request->body_case != CHAT__MAIN_REQUEST__BODY_LOGIN
                    && request->body_case != CHAT__MAIN_REQUEST__BODY_PING
                    && request->body_case != CHAT__MAIN_REQUEST__BODY__NOT_SET;
    int rc = CHAT_OK;
    if (needs_login && !session->username)
        rc = CHAT_ERR_NOT_LOGGED_IN;
    else
    if (msgstore_savepoint (self->store) != CHAT_OK)
        rc = CHAT_ERR_INTERNAL;
    else {
        switch (request->body_case) {
            case CHAT__MAIN_REQUEST__BODY_REGISTER:
                rc = s_do_register (&req, request->register_);
                break;
            case CHAT__MAIN_REQUEST__BODY_LOGIN:
                rc = s_do_login (&req, request->login);
                break;
            case CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS:
                rc = s_do_list_conversations (&req);
                break;
            case CHAT__MAIN_REQUEST__BODY_GET_MESSAGES:
                rc = s_do_get_messages (&req, request->get_messages);
                break;
            case CHAT__MAIN_REQUEST__BODY_LIST_USERS:
                rc = s_do_list_users (&req);
                break;
            case CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION:
                rc = s_do_create_conversation (&req, request->create_conversation);
                break;
            case CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE:
                rc = s_do_send_message (&req, request->send_message);
                break;
            case CHAT__MAIN_REQUEST__BODY_GET_MEMBERS:
                rc = s_do_get_members (&req, request->get_members);
                break;
            case CHAT__MAIN_REQUEST__BODY_MARK_READ:
                rc = s_do_mark_read (&req, request->mark_read);
                break;
            case CHAT__MAIN_REQUEST__BODY_LOGOUT: {
                zsys_info ("logout: %s on session %.8s", session->username, session->id_hex);
                s_logout (self, session);
                static Chat__Ack ack = CHAT__ACK__INIT;
                reply.body_case = CHAT__MAIN_REPLY__BODY_LOGGED_OUT;
                reply.logged_out = &ack;
                break;
            }
            case CHAT__MAIN_REQUEST__BODY_PING: {
                static Chat__Ack ack = CHAT__ACK__INIT;
                reply.body_case = CHAT__MAIN_REPLY__BODY_PONG;
                reply.pong = &ack;
                break;
            }
            default:
                rc = CHAT_ERR_BAD_REQUEST;
                req.text = "unknown request";
                break;
        }
        if (rc == CHAT_ERR_INTERNAL) {
            //  Take back what this request wrote, and its pushes.
            msgstore_savepoint_rollback (self->store);
            req.text = "storage failed, nothing was stored";
        }
        else
        if (msgstore_savepoint_release (self->store) != CHAT_OK)
            rc = CHAT_ERR_INTERNAL;
    }
    metrics_request (self->metrics, s_request_name (request->body_case), rc);
    //  A quota turns a flood into a flood of refusals: those are counted
    //  in the metrics, not logged
    bool quiet = (rc == CHAT_ERR_RATE_LIMITED || rc == CHAT_ERR_QUOTA) && !self->verbose;
    if (rc != CHAT_OK && !quiet)
        zsys_info ("session %.8s%s%s: %s refused: %s%s%s", session->id_hex,
                   session->username? " user ": "",
                   session->username? session->username: "",
                   s_request_name (request->body_case), chat_errname (rc),
                   req.text? " - ": "", req.text? req.text: "");
    if (rc != CHAT_OK) {
        s_queue_error_retry (self, session, request->request_id, rc, req.text, req.retry_ms);
    }
    else {
        if (self->verbose)
            zsys_info ("session %.8s%s%s: %s", session->id_hex,
                       session->username? " user ": "",
                       session->username? session->username: "",
                       s_request_name (request->body_case));
        s_queue_reply (self, session, request->request_id, &reply);
        //  The reply leaves before the pushes it caused.
        outgoing_t *out = (outgoing_t *) zlistx_first (pushes);
        while (out) {
            zlistx_detach_cur (pushes);
            zlistx_add_end (self->outbox, out);
            out = (outgoing_t *) zlistx_first (pushes);
        }
    }
    zlistx_destroy (&pushes);
    zlistx_destroy (&arena.allocs);
    chat__main_request__free_unpacked (request, NULL);
}

//  Drain what is waiting on the ROUTER, in one transaction.
static void
s_handle_batch (server_t *self)
{
    bool in_transaction = msgstore_begin (self->store) == CHAT_OK;
    size_t handled = 0, requests = 0;
    while (handled < MAINSERVER_BATCH) {
        if (handled > 0 && !(zsock_events (self->router) & ZMQ_POLLIN))
            break;
        uint8_t *payload = NULL;
        size_t len = 0;
        chansession_t *session = chanserver_recv (self->chanserver, &payload, &len);
        handled++;              //  handshakes count too: they cost the most
        if (!session)
            continue;
        requests++;
        if (in_transaction)
            s_handle_request (self, session, payload, len);
        else
            s_queue_error (self, session, 0, CHAT_ERR_INTERNAL, "storage unavailable");
        free (payload);
    }
    int64_t commit_start = zclock_usecs ();
    bool committed = in_transaction && msgstore_commit (self->store) == CHAT_OK;
    if (in_transaction)
        metrics_commit (self->metrics, zclock_usecs () - commit_start, requests, committed);
    if (in_transaction && !committed) {
        zsys_error ("mainserver: commit failed, a batch was answered ERR_INTERNAL");
        //  It may have cached the members of a conversation that is not there
        zhashx_purge (self->members);
        self->member_names = 0;
    }
    s_flush (self, committed);
}

//  ---------------------------------------------------------------- admin socket

typedef struct {
    Chat__AdminReply *reply;
    arena_t *arena;
    server_t *server;
    size_t size;
} admin_collect_t;

static int
s_admin_user (const char *name, int64_t created_at, void *arg)
{
    admin_collect_t *collect = (admin_collect_t *) arg;
    Chat__AdminReply *reply = collect->reply;
    if (reply->n_users >= ADMIN_MAX_USERS)
        return 1;
    if (reply->n_users == collect->size) {
        collect->size = collect->size? collect->size * 2: 64;
        Chat__AdminUser **users = (Chat__AdminUser **)
            realloc (reply->users, sizeof (void *) * collect->size);
        assert (users);
        reply->users = users;
    }
    Chat__AdminUser *user = (Chat__AdminUser *) s_alloc (collect->arena, sizeof *user);
    chat__admin_user__init (user);
    user->username = s_strdup (collect->arena, name);
    user->created_at = created_at;
    reply->users [reply->n_users++] = user;
    return 0;
}

static int
s_admin_conv (const msgstore_conv_t *conv, void *arg)
{
    admin_collect_t *collect = (admin_collect_t *) arg;
    Chat__AdminReply *reply = collect->reply;
    arena_t *arena = collect->arena;
    if (reply->n_conversations >= ADMIN_MAX_CONVERSATIONS)
        return 1;
    if (reply->n_conversations == collect->size) {
        collect->size = collect->size? collect->size * 2: 64;
        Chat__AdminConversation **convs = (Chat__AdminConversation **)
            realloc (reply->conversations, sizeof (void *) * collect->size);
        assert (convs);
        reply->conversations = convs;
    }
    Chat__AdminConversation *item = (Chat__AdminConversation *) s_alloc (arena, sizeof *item);
    chat__admin_conversation__init (item);
    item->conversation_id = (char *) s_keep (arena, codec_hex (conv->id, MSGSTORE_ID_SIZE));
    item->message_count = conv->last_seq;
    item->last_time = conv->last_time;
    zlistx_t *names;
    if (msgstore_conv_members (collect->server->store, conv->id, &names) == CHAT_OK) {
        item->members = (char **) s_alloc (arena, sizeof (char *) * (zlistx_size (names) + 1));
        const char *name = (const char *) zlistx_first (names);
        while (name) {
            item->members [item->n_members++] = s_strdup (arena, name);
            name = (const char *) zlistx_next (names);
        }
        zlistx_destroy (&names);
    }
    char *token = NULL;
    if (msgstore_msg_last_token (collect->server->store, conv->id, &token) == CHAT_OK) {
        //  A prefix only: version, timestamp and a little of the IV.
        if (strlen (token) > 16)
            token [16] = 0;
        item->last_token_short = (char *) s_keep (arena, token);
    }
    reply->conversations [reply->n_conversations++] = item;
    return 0;
}

static void
s_handle_admin (server_t *self)
{
    zmsg_t *msg = zmsg_recv (self->admin);
    if (!msg)
        return;
    zframe_t *frame = zmsg_first (msg);
    Chat__AdminRequest *request = NULL;
    bool good = frame
        && wire_unpack (&chat__admin_request__descriptor, zframe_data (frame),
                        zframe_size (frame), (ProtobufCMessage **) &request) == CHAT_OK;
    zmsg_destroy (&msg);

    //  REP must answer every request: garbage gets a bare reply.
    arena_t arena = { zlistx_new () };
    zlistx_set_destructor (arena.allocs, (zlistx_destructor_fn *) zstr_free);
    Chat__AdminReply reply = CHAT__ADMIN_REPLY__INIT;
    reply.role = "mainserver";
    reply.version = CHAT_VERSION;
    reply.server_key_fingerprint = (char *) rsakey_fingerprint_text (self->key);
    reply.started_at = self->started_at;
    char *metrics_text = NULL;
    if (good && request->metrics && (metrics_text = metrics_render (self->metrics)))
        reply.metrics = metrics_text;
    else
    if (good) {
        reply.n_sessions = chanserver_admin_sessions (self->chanserver, &reply.sessions);
        admin_collect_t collect = { &reply, &arena, self, 0 };
        msgstore_user_each (self->store, s_admin_user, &collect);
        collect.size = 0;
        msgstore_conv_each (self->store, s_admin_conv, &collect);
    }
    uint8_t *data = NULL;
    size_t size = 0;
    if (wire_pack (&reply.base, &data, &size) != CHAT_OK) {
        data = NULL;
        size = 0;
    }
    zframe_t *out = zframe_new (data, size);
    zframe_send (&out, self->admin, 0);
    free (data);
    chanserver_admin_sessions_free (&reply.sessions);
    free (reply.users);
    free (reply.conversations);
    free (metrics_text);
    zlistx_destroy (&arena.allocs);
    if (request)
        chat__admin_request__free_unpacked (request, NULL);
}

//  ---------------------------------------------------------------- start and pipe

//  Every limit to where it is enforced; again whenever one changes. The
//  push threads and a subscriber's high-water mark are fixed as they start.
static void
s_apply_limits (server_t *self)
{
    if (self->chanserver)
        chanserver_set_limits (self->chanserver, &self->limits);
    if (self->pusher) {
        pusher_set_hwm (self->pusher, (int) self->limits.push_hwm);
        pusher_set_queue_bytes (self->pusher, (size_t) self->limits.push_queue_bytes);
    }
    lrumap_set_capacity (self->quotas, (size_t) self->limits.quota_users);
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
    if (secret_dir_create (self->data_dir) != 0) {
        snprintf (error, error_size, "cannot create %s: %s", self->data_dir,
                  strerror (errno));
        return -1;
    }
    secret_dir_check (self->data_dir, "mainserver");
    //  One server per data directory: a second would take over the admin
    //  socket and interleave its writes with ours.
    if (self->lock_fd < 0) {
        char *lock_path = zsys_sprintf ("%s/mainserver.lock", self->data_dir);
        self->lock_fd = open (lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        free (lock_path);
        if (self->lock_fd < 0 || flock (self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            snprintf (error, error_size, "%s is in use by another chat-mainserver (%s)",
                      self->data_dir, strerror (errno));
            if (self->lock_fd >= 0)
                close (self->lock_fd);
            self->lock_fd = -1;
            return -1;
        }
    }
    char *secret_path = self->secret_path
                      ? strdup (self->secret_path)
                      : zsys_sprintf ("%s/shared.secret", self->data_dir);
    uint8_t shared [SECRET_SHARED_SIZE];
    int rc = secret_shared_load (secret_path, shared);
    if (rc == 0) {
        rc = credential_keys_derive (shared, &self->keys);
        secret_wipe (shared, sizeof shared);
    }
    if (rc != 0) {
        snprintf (error, error_size, "cannot use the shared secret %s (missing, malformed, "
                  "or readable by others: it must be mode 0600)", secret_path);
        free (secret_path);
        return -1;
    }
    free (secret_path);
    self->have_keys = true;

    char *path = zsys_sprintf ("%s/server.key", self->data_dir);
    self->key = rsakey_load_or_create (path, MAINSERVER_KEY_BITS);
    if (!self->key) {
        snprintf (error, error_size, "cannot load or create the server key %s", path);
        free (path);
        return -1;
    }
    free (path);

    path = zsys_sprintf ("%s/mainserver.db", self->data_dir);
    self->store = msgstore_open (path);
    if (!self->store) {
        snprintf (error, error_size, "cannot open the database %s", path);
        free (path);
        return -1;
    }
    free (path);

    self->pusher = pusher_new ((size_t) self->limits.push_workers,
                               (int) self->limits.push_hwm,
                               (size_t) self->limits.push_queue_bytes);
    if (!self->pusher) {
        snprintf (error, error_size, "cannot start the push threads");
        return -1;
    }
    self->chanserver = chanserver_new (self->router, self->key);
    chanserver_set_free_fn (self->chanserver, s_session_free, self);
    chanserver_set_open_fn (self->chanserver, s_session_open, self);
    chanserver_set_metrics (self->chanserver, self->metrics);
    //  RSA signatures are the cost of a handshake: they run on one worker
    //  per core, and only the finished sessions come back to this thread
    if (chanserver_set_workers (self->chanserver, CHANSERVER_WORKERS_PER_CORE) == CHAT_OK)
        zpoller_add (self->poller, chanserver_handshakes (self->chanserver));
    chanserver_set_verbose (self->chanserver, self->verbose);
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
               rsakey_fingerprint_text (self->key));
    char *limits = serverlimits_summary (&self->limits, SERVERLIMITS_MAINSERVER);
    zsys_info ("mainserver: limits %s", limits);
    free (limits);
    return 0;
}

static int
s_announce (server_t *self, const char *iface, char *error, size_t error_size)
{
    const char *endpoint = zsock_endpoint (self->router);
    const char *push_endpoint = self->push_endpoint;
    if (!self->started || !endpoint || !push_endpoint) {
        snprintf (error, error_size, "ANNOUNCE needs START, BIND and PUSH-BIND first");
        return -1;
    }
    char payload [BEACON_MAX + 1];
    if (beacon_format (payload, sizeof payload, "mainserver", endpoint, push_endpoint,
                       rsakey_fingerprint_text (self->key)) < 0) {
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
        self->verbose = !arg || !streq (arg, "0");
        if (self->chanserver)
            chanserver_set_verbose (self->chanserver, self->verbose);
    }
    else
    if (streq (command, "DATA") && arg) {
        free (self->data_dir);
        self->data_dir = strdup (arg);
    }
    else
    if (streq (command, "SHARED-SECRET") && arg) {
        free (self->secret_path);
        self->secret_path = strdup (arg);
    }
    else
    if (streq (command, "LIMIT") && arg) {
        char *value = zmsg_popstr (msg);
        rc = serverlimits_set (&self->limits, SERVERLIMITS_MAINSERVER, arg, value,
                               error, sizeof error);
        if (rc == 0)
            s_apply_limits (self);
        zstr_free (&value);
    }
    else
    if ((streq (command, "IDLE-TIMEOUT") || streq (command, "MAX-SESSIONS")) && arg) {
        //  The older names of two limits
        rc = serverlimits_set (&self->limits, SERVERLIMITS_MAINSERVER,
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
            if (!self->router_bound)
                zpoller_add (self->poller, self->router);
            self->router_bound = true;
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
        if (!arg || pusher_bind (self->pusher, arg, &bound) != 0) {
            snprintf (error, sizeof error, "cannot bind %s", arg? arg: "(none)");
            rc = -1;
        }
        else {
            free (self->push_endpoint);
            self->push_endpoint = bound;
            answer = self->push_endpoint;
            zsys_info ("mainserver: pushes on %s", answer);
        }
    }
    else
    if (streq (command, "ANNOUNCE") && arg)
        rc = s_announce (self, arg, error, sizeof error);
    else
    if (streq (command, "METRICS-BIND") && arg) {
        metricshttp_destroy (&self->http);
        self->http = metricshttp_new (self->metrics, arg, error, sizeof error);
        rc = self->http ? 0 : -1;
        if (self->http) {
            answer = metricshttp_address (self->http);
            zsys_info ("mainserver: metrics on http://%s/metrics", answer);
        }
    }
    else
    if (streq (command, "FINGERPRINT")) {
        if (self->key)
            answer = rsakey_fingerprint_text (self->key);
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
    chanserver_census (self->chanserver, &handshaking, &anonymous, &logged_in);
    metrics_sessions (self->metrics, handshaking, anonymous, logged_in);
    char *path = zsys_sprintf ("%s/mainserver.db", self->data_dir);
    metrics_store_bytes (self->metrics, metrics_db_bytes (path));
    zstr_free (&path);
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
        int64_t shortest = self->limits.idle_timeout_ms;
        if (self->limits.login_timeout_ms > 0
        &&  (shortest <= 0 || self->limits.login_timeout_ms < shortest))
            shortest = self->limits.login_timeout_ms;
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
        timeout = watchdog_timeout (self->watchdog, timeout);
        void *which = zpoller_wait (self->poller, timeout);
        if (which == self->pipe)
            s_handle_pipe (self);
        else
        if (which && which == self->router)
            s_handle_batch (self);
        else
        if (which && self->chanserver && which == chanserver_handshakes (self->chanserver))
            chanserver_handshake_done (self->chanserver);
        else
        if (which && which == self->admin)
            s_handle_admin (self);
        else
        if (!which && zpoller_terminated (self->poller))
            break;              //  the context is going away
        if (self->started && zclock_mono () >= self->next_expire) {
            chanserver_expire (self->chanserver, wire_now_ms ());
            self->next_expire = zclock_mono () + tick;
        }
        s_metrics_publish (self);
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
