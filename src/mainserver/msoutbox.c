/*  msoutbox - replies and pushes held until the commit; see msoutbox.h  */
#include <assert.h>
#include <string.h>
#include "chaterror.h"
#include "msoutbox.h"

struct _msoutbox_t {
    zlistx_t *items;                    //  outgoing_t
};

typedef struct {
    bool is_push;
    uint64_t request_id;                //  reply: to rewrite it as ERR_INTERNAL
    uint8_t session_id [CHANNEL_SESSION_ID_SIZE];   //  reply: to whom
    msoutbox_target_t *targets;         //  push: to whom
    size_t target_count;
    char *sender;                       //  push: whose request made it
    uint8_t *payload;
    size_t len;
    chansession_t *session;             //  reply: sealed for it, in a flush
    uint8_t *sealed;
    size_t sealed_len;
} outgoing_t;

static void
s_outgoing_destroy (outgoing_t **self_p)
{
    outgoing_t *self = *self_p;
    if (self) {
        free (self->targets);
        free (self->sender);
        free (self->payload);
        free (self->sealed);
        free (self);
        *self_p = NULL;
    }
}

msoutbox_t *
msoutbox_new (void)
{
    msoutbox_t *self = (msoutbox_t *) zmalloc (sizeof *self);
    assert (self);
    self->items = msoutbox_pending_new ();
    return self;
}

void
msoutbox_destroy (msoutbox_t **self_p)
{
    assert (self_p);
    msoutbox_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->items);
        free (self);
        *self_p = NULL;
    }
}

zlistx_t *
msoutbox_pending_new (void)
{
    zlistx_t *list = zlistx_new ();
    assert (list);
    zlistx_set_destructor (list, (zlistx_destructor_fn *) s_outgoing_destroy);
    return list;
}

//  A bare ERR_INTERNAL for request_id, packed
static int
s_pack_internal (uint64_t request_id, const char *text, uint8_t **payload, size_t *len)
{
    Chat__MainReply reply = CHAT__MAIN_REPLY__INIT;
    Chat__Error error = CHAT__ERROR__INIT;
    wire_error_init (&error, CHAT_ERR_INTERNAL, text);
    reply.request_id = request_id;
    reply.body_case = CHAT__MAIN_REPLY__BODY_ERROR;
    reply.error = &error;
    return wire_pack (&reply.base, payload, len);
}

void
msoutbox_reply (msoutbox_t *self, chansession_t *session, uint64_t request_id,
                Chat__MainReply *reply)
{
    outgoing_t *out = (outgoing_t *) zmalloc (sizeof (outgoing_t));
    assert (out);
    out->request_id = request_id;
    memcpy (out->session_id, channel_session_id (session->channel),
            CHANNEL_SESSION_ID_SIZE);
    //  Only a failed allocation fails to pack: answer something small
    if (wire_pack (&reply->base, &out->payload, &out->len) != CHAT_OK
    &&  s_pack_internal (request_id, "reply could not be built",
                         &out->payload, &out->len) != CHAT_OK) {
        free (out);
        return;
    }
    zlistx_add_end (self->items, out);
}

void
msoutbox_error (msoutbox_t *self, chansession_t *session, uint64_t request_id,
                int code, const char *text)
{
    msoutbox_error_retry (self, session, request_id, code, text, 0);
}

void
msoutbox_error_retry (msoutbox_t *self, chansession_t *session, uint64_t request_id,
                      int code, const char *text, uint32_t retry_ms)
{
    Chat__MainReply reply = CHAT__MAIN_REPLY__INIT;
    Chat__Error error = CHAT__ERROR__INIT;
    wire_error_init (&error, code, text? text: chat_strerror (code));
    error.retry_after_ms = retry_ms;
    reply.request_id = request_id;
    reply.body_case = CHAT__MAIN_REPLY__BODY_ERROR;
    reply.error = &error;
    msoutbox_reply (self, session, request_id, &reply);
}

void
msoutbox_push (zlistx_t *pending, const char *sender, msoutbox_target_t *targets,
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
    out->sender = strdup (sender);
    assert (out->sender);
    zlistx_add_end (pending, out);
}

void
msoutbox_take (msoutbox_t *self, zlistx_t *pending)
{
    outgoing_t *out = (outgoing_t *) zlistx_first (pending);
    while (out) {
        zlistx_detach_cur (pending);
        zlistx_add_end (self->items, out);
        out = (outgoing_t *) zlistx_first (pending);
    }
}

//  Hand a push to the pusher for the targets still connected: the sealing
//  happens on the pusher's threads. Counts pushes handed over (sent) and
//  dropped because the pusher's queue was full (failed).
static void
s_send_push (outgoing_t *out, chanserver_t *chanserver, pusher_t *pusher,
             size_t *sent, size_t *failed)
{
    channel_t **channels = (channel_t **) malloc (out->target_count * sizeof (channel_t *));
    assert (channels);
    size_t count = 0;
    for (size_t index = 0; index < out->target_count; index++) {
        chansession_t *session = chanserver_lookup (chanserver, out->targets [index]);
        if (session)
            channels [count++] = session->channel;
    }
    if (pusher && pusher_push (pusher, out->sender, channels, count, out->payload,
                                         out->len) == CHAT_OK)
        *sent += count;
    else
        *failed += count;
    free (channels);
}

//  Seal a reply for its session if it is still there; after a failed
//  commit, the reply says so instead
static void
s_seal_reply (outgoing_t *out, chanserver_t *chanserver, bool committed)
{
    chansession_t *session = chanserver_lookup (chanserver, out->session_id);
    if (session && !committed) {
        free (out->payload);
        out->payload = NULL;
        if (s_pack_internal (out->request_id, "storage failed, nothing was stored",
                             &out->payload, &out->len) != CHAT_OK)
            session = NULL;
    }
    if (session
    &&  chanserver_seal_reply (chanserver, session, out->payload, out->len, &out->sealed,
                               &out->sealed_len) != CHAT_OK) {
        zsys_warning ("mainserver: reply to session %.8s could not be sealed", session->id_hex);
        session = NULL;
    }
    out->session = session;
}

void
msoutbox_flush (msoutbox_t *self, chanserver_t *chanserver, pusher_t *pusher,
                bool committed, metrics_t *metrics)
{
    size_t queued = 0, sent = 0, failed = 0;
    outgoing_t *out = (outgoing_t *) zlistx_first (self->items);
    while (committed && out) {
        if (out->is_push)
            queued += out->target_count;
        out = (outgoing_t *) zlistx_next (self->items);
    }
    metrics_push_queue (metrics, queued);
    //  The pushes go to the pusher's threads first, to be sealed there
    //  while this one seals the replies; then every reply leaves at once
    out = (outgoing_t *) zlistx_first (self->items);
    while (out) {
        if (out->is_push) {
            if (committed)
                s_send_push (out, chanserver, pusher, &sent, &failed);
        }
        else
            s_seal_reply (out, chanserver, committed);
        out = (outgoing_t *) zlistx_next (self->items);
    }
    out = (outgoing_t *) zlistx_first (self->items);
    while (out) {
        if (out->sealed
        &&  chanserver_send_sealed (chanserver, out->session, out->sealed,
                                    out->sealed_len) != CHAT_OK)
            zsys_warning ("mainserver: reply to session %.8s failed", out->session->id_hex);
        out = (outgoing_t *) zlistx_next (self->items);
    }
    zlistx_purge (self->items);
    metrics_pushes (metrics, sent, true);
    metrics_pushes (metrics, failed, false);
    metrics_push_queue (metrics, 0);
}
