/*  msbus - a cluster's doorbell, listening; see msbus.h  */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include "chaterror.h"
#include "codec.h"
#include "msbell.h"
#include "msbus.h"
#include "msconv.h"
#include "msmessage.h"
#include "msonline.h"
#include "wire.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_POLL_MS 20

typedef enum { BUS_DOWN, BUS_CONNECTING, BUS_SUBSCRIBING, BUS_LISTENING } bus_state_t;

//  What the poller is given for the socket: CZMQ's zpoller takes a pointer
//  to a file descriptor, but first probes it as a libzmq socket, which
//  reads a tag more than 1 KiB into it (valgrind showed it): the fd heads
//  a zeroed block that large, so that the probe reads our own zeros
#define READER_BYTES 4096

struct _msbus_t {
    int *fd;                    //  heads a READER_BYTES block; -1 when none
    PGconn *conn;
    char *url;
    zpoller_t *poller;
    bool polled;                //  fd is in poller
    bus_state_t state;
    int64_t next_attempt;       //  zclock_mono
    int64_t backoff;
    bool was_listening;         //  a catch-up is due when it listens again
    int64_t down_since;         //  wire_now_ms when it stopped listening
};

msbus_t *
msbus_new (const char *url, zpoller_t *poller)
{
    assert (url && poller);
    msbus_t *self = (msbus_t *) zmalloc (sizeof *self);
    assert (self);
    self->fd = (int *) zmalloc (READER_BYTES);
    assert (self->fd);
    *self->fd = -1;
    self->url = strdup (url);
    assert (self->url);
    self->poller = poller;
    self->backoff = BACKOFF_MIN_MS;
    self->next_attempt = zclock_mono ();
    return self;
}

static void
s_drop (msbus_t *self)
{
    if (self->polled)
        zpoller_remove (self->poller, self->fd);
    self->polled = false;
    PQfinish (self->conn);
    self->conn = NULL;
    *self->fd = -1;
    if (self->state == BUS_LISTENING) {
        self->was_listening = true;
        self->down_since = wire_now_ms ();
    }
    self->state = BUS_DOWN;
    self->next_attempt = zclock_mono () + self->backoff;
    self->backoff = self->backoff * 2 > BACKOFF_MAX_MS? BACKOFF_MAX_MS: self->backoff * 2;
}

void
msbus_destroy (msbus_t **self_p)
{
    assert (self_p);
    msbus_t *self = *self_p;
    if (self) {
        if (self->polled)
            zpoller_remove (self->poller, self->fd);
        PQfinish (self->conn);
        free (self->fd);
        free (self->url);
        free (self);
        *self_p = NULL;
    }
}

bool
msbus_is (msbus_t *self, void *which)
{
    return self && which == self->fd;
}

bool
msbus_listening (msbus_t *self)
{
    return self && self->state == BUS_LISTENING;
}

//  ---------------------------------------------------------------- pushing

//  What one conversation's read pushes
typedef struct {
    msreq_t *req;
    msoutbox_target_t *targets;
    size_t count;
    int64_t not_before;         //  server_time: older ones are not pushed
    uint64_t last;
} deliver_t;

static int
s_deliver_one (const msgstore_msg_t *msg, void *arg)
{
    deliver_t *deliver = (deliver_t *) arg;
    deliver->last = msg->seq;
    if (msg->server_time < deliver->not_before)
        return 0;
    msoutbox_target_t *copy = (msoutbox_target_t *) malloc (deliver->count
                                                            * sizeof (msoutbox_target_t));
    assert (copy);
    memcpy (copy, deliver->targets, deliver->count * sizeof (msoutbox_target_t));
    msmessage_push (deliver->req, msg, copy, deliver->count);
    return 0;
}

//  Push the messages of one conversation after `after` (up to last, if
//  rung; more if there are) to the sessions of its members here
static void
s_deliver (msreq_t *req, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t after,
           uint64_t last, int64_t not_before)
{
    msctx_t *ctx = req->ctx;
    deliver_t deliver = { req, NULL, 0, not_before, after };
    if (msonline_targets (ctx->online, ctx->store, id, NULL, &deliver.targets,
                          &deliver.count) != CHAT_OK)
        return;                 //  logged by the store; clients fetch the gap
    //  Nobody here to tell: only remember where it is
    if (deliver.count > 0
    &&  msgstore_msg_each (ctx->store, id, after, MSBUS_READ_MAX, s_deliver_one,
                           &deliver) != CHAT_OK)
        deliver.last = after;
    free (deliver.targets);
    msbell_set_pushed (ctx->bell, id, deliver.count > 0? deliver.last: last);
}

//  A fresh request frame for what the bus pushes (no session: nobody's
//  request, and no one to leave out)
static msreq_t
s_req (msctx_t *ctx, Chat__MainReply *reply)
{
    msreq_t req = { ctx, NULL, msarena_new (), reply, NULL, 0, msoutbox_pending_new (),
                    "(cluster)" };
    return req;
}

static void
s_send (msreq_t *req, msctx_t *ctx, msoutbox_t *outbox)
{
    msoutbox_take (outbox, req->pushes);
    zlistx_destroy (&req->pushes);
    msarena_destroy (&req->arena);
    msoutbox_flush (outbox, ctx->chanserver, ctx->pusher, true, ctx->metrics);
}

//  One doorbell: "m id:first:last ..." or "c id ..."
static void
s_doorbell (msctx_t *ctx, msoutbox_t *outbox, const char *payload)
{
    char kind = payload [0];
    if (kind != 'm' && kind != 'c') {
        zsys_warning ("mainserver: a doorbell of unknown kind '%c' ignored", kind);
        return;
    }
    Chat__MainReply reply = CHAT__MAIN_REPLY__INIT;
    msreq_t req = s_req (ctx, &reply);
    const char *cursor = payload + 1;
    while (*cursor == ' ') {
        cursor++;
        uint8_t id [MSGSTORE_ID_SIZE];
        char hex [MSGSTORE_ID_SIZE * 2 + 1] = "";
        strncat (hex, cursor, MSGSTORE_ID_SIZE * 2);
        if (codec_unhex (hex, id, MSGSTORE_ID_SIZE) != 0)
            break;
        cursor += MSGSTORE_ID_SIZE * 2;
        if (kind == 'c') {
            msconv_push_changed (&req, id);
            continue;
        }
        char *end;
        if (*cursor != ':')
            break;
        uint64_t first = strtoull (cursor + 1, &end, 10);
        if (*end != ':')
            break;
        uint64_t last = strtoull (end + 1, &end, 10);
        cursor = end;
        if (first == 0 || last < first)
            break;
        uint64_t pushed;
        //  Not heard of before: from this doorbell's first on
        if (!msbell_pushed (ctx->bell, id, &pushed))
            pushed = first - 1;
        if (last > pushed)
            s_deliver (&req, id, pushed, last, 0);
    }
    if (*cursor)
        zsys_warning ("mainserver: a doorbell not understood past %.40s", cursor);
    s_send (&req, ctx, outbox);
}

//  ---------------------------------------------------------------- catch-up

typedef struct {
    msreq_t *req;
    int64_t down_since;
    zhashx_t *seen;             //  conversations done (one per, whoever's)
} catch_up_t;

static int
s_catch_up_conv (const msgstore_conv_t *conv, void *arg)
{
    catch_up_t *catch_up = (catch_up_t *) arg;
    char key [MSGSTORE_ID_SIZE * 2 + 1];
    codec_hex_into (conv->id, MSGSTORE_ID_SIZE, key);
    if (zhashx_lookup (catch_up->seen, key))
        return 0;
    zhashx_insert (catch_up->seen, key, (void *) 1);
    msbell_t *bell = catch_up->req->ctx->bell;
    uint64_t pushed;
    if (msbell_pushed (bell, conv->id, &pushed)) {
        if (conv->last_seq > pushed)
            s_deliver (catch_up->req, conv->id, pushed, conv->last_seq, 0);
    }
    else
    //  Never pushed here: the messages since the bus went down (a second
    //  of slack for clocks), at most a read's worth
    if (conv->last_time >= catch_up->down_since - 1000 && conv->last_seq > 0) {
        uint64_t after = conv->last_seq > MSBUS_READ_MAX? conv->last_seq - MSBUS_READ_MAX: 0;
        s_deliver (catch_up->req, conv->id, after, conv->last_seq,
                   catch_up->down_since - 1000);
    }
    return 0;
}

//  Listening again: what was committed while it did not
static void
s_catch_up (msbus_t *self, msctx_t *ctx, msoutbox_t *outbox)
{
    //  A membership changed meanwhile rang unheard: read members afresh
    msonline_members_changed (ctx->online, NULL);
    Chat__MainReply reply = CHAT__MAIN_REPLY__INIT;
    msreq_t req = s_req (ctx, &reply);
    catch_up_t catch_up = { &req, self->down_since, zhashx_new () };
    assert (catch_up.seen);
    zlistx_t *names = msonline_user_names (ctx->online);
    size_t users = zlistx_size (names);
    const char *name = (const char *) zlistx_first (names);
    while (name) {
        msgstore_conv_each_of (ctx->store, name, s_catch_up_conv, &catch_up);
        name = (const char *) zlistx_next (names);
    }
    zsys_info ("mainserver: the cluster bus listens again; caught up %zu conversations "
               "of %zu users", zhashx_size (catch_up.seen), users);
    zlistx_destroy (&names);
    zhashx_destroy (&catch_up.seen);
    s_send (&req, ctx, outbox);
}

//  ---------------------------------------------------------------- connection

static void
s_connect_start (msbus_t *self)
{
    const char *keywords [] = { "dbname", "application_name", NULL };
    const char *values [] = { self->url, MSBUS_APPLICATION, NULL };
    self->conn = PQconnectStartParams (keywords, values, 1);
    if (!self->conn || PQstatus (self->conn) == CONNECTION_BAD) {
        zsys_warning ("mainserver: the cluster bus cannot connect: %s",
                      self->conn? PQerrorMessage (self->conn): "out of memory");
        s_drop (self);
        return;
    }
    self->state = BUS_CONNECTING;
}

//  Connected: LISTEN, without waiting for its answer
static void
s_subscribe (msbus_t *self)
{
    *self->fd = PQsocket (self->conn);
    if (*self->fd < 0 || PQsetnonblocking (self->conn, 1) != 0
    ||  !PQsendQuery (self->conn, "LISTEN " MSBELL_CHANNEL)) {
        zsys_warning ("mainserver: the cluster bus cannot listen: %s",
                      PQerrorMessage (self->conn));
        s_drop (self);
        return;
    }
    PQflush (self->conn);
    zpoller_add (self->poller, self->fd);
    self->polled = true;
    self->state = BUS_SUBSCRIBING;
}

int
msbus_tick (msbus_t *self, msctx_t *ctx, msoutbox_t *outbox)
{
    (void) ctx;
    (void) outbox;
    if (!self || self->state == BUS_LISTENING || self->state == BUS_SUBSCRIBING)
        return -1;
    int64_t now = zclock_mono ();
    if (self->state == BUS_DOWN) {
        if (now < self->next_attempt)
            return (int) (self->next_attempt - now);
        s_connect_start (self);
        if (self->state == BUS_DOWN)
            return (int) self->backoff;
    }
    //  Connecting: libpq's steps, a few ms apart (a local server takes one
    //  or two), never waiting in here
    PostgresPollingStatusType status = PQconnectPoll (self->conn);
    if (status == PGRES_POLLING_FAILED) {
        zsys_warning ("mainserver: the cluster bus cannot connect: %s",
                      PQerrorMessage (self->conn));
        s_drop (self);
        return (int) self->backoff;
    }
    if (status == PGRES_POLLING_OK) {
        s_subscribe (self);
        return -1;
    }
    return CONNECT_POLL_MS;
}

void
msbus_readable (msbus_t *self, msctx_t *ctx, msoutbox_t *outbox)
{
    assert (self && ctx && outbox);
    if (!self->conn || !PQconsumeInput (self->conn)) {
        zsys_warning ("mainserver: the cluster bus lost its connection: %s",
                      self->conn? PQerrorMessage (self->conn): "none");
        s_drop (self);
        return;
    }
    //  The LISTEN's answer
    while (!PQisBusy (self->conn)) {
        PGresult *res = PQgetResult (self->conn);
        if (!res)
            break;
        if (self->state == BUS_SUBSCRIBING) {
            if (PQresultStatus (res) == PGRES_COMMAND_OK) {
                self->state = BUS_LISTENING;
                self->backoff = BACKOFF_MIN_MS;
                zsys_info ("mainserver: the cluster bus listens on %s", MSBELL_CHANNEL);
                if (self->was_listening)
                    s_catch_up (self, ctx, outbox);
            }
            else {
                zsys_warning ("mainserver: LISTEN failed: %s", PQresultErrorMessage (res));
                PQclear (res);
                s_drop (self);
                return;
            }
        }
        PQclear (res);
    }
    int own = msgstore_backend_pid (ctx->store);
    PGnotify *notify;
    while ((notify = PQnotifies (self->conn))) {
        if (notify->be_pid != own && streq (notify->relname, MSBELL_CHANNEL))
            s_doorbell (ctx, outbox, notify->extra);
        PQfreemem (notify);
    }
    if (PQstatus (self->conn) == CONNECTION_BAD) {
        zsys_warning ("mainserver: the cluster bus lost its connection");
        s_drop (self);
    }
}
