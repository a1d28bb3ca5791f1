/*  ksbatch - group commit for the key server; see ksbatch.h  */
#include <assert.h>
#include <string.h>
#include "channel.h"
#include "chaterror.h"
#include "keystore.h"
#include "ksbatch.h"
#include "ksreply.h"
#include "ksrequest.h"
#include "kssession.h"
#include "secret.h"

struct _ksbatch_t {
    zlistx_t *outbox;                   //  outgoing_t, for the batch in hand
};

//  A reply waiting for its batch's commit. By session id, not pointer: the
//  session may be dropped before the reply leaves.
typedef struct {
    uint8_t session_id [CHANNEL_SESSION_ID_SIZE];
    ksanswer_t answer;
} outgoing_t;

static void
s_outgoing_destroy (outgoing_t **self_p)
{
    outgoing_t *self = *self_p;
    if (self) {
        //  A reply may hold a certificate or a resume token
        if (self->answer.payload)
            secret_wipe (self->answer.payload, self->answer.len);
        free (self->answer.payload);
        free (self);
        *self_p = NULL;
    }
}

ksbatch_t *
ksbatch_new (void)
{
    ksbatch_t *self = (ksbatch_t *) zmalloc (sizeof *self);
    assert (self);
    self->outbox = zlistx_new ();
    assert (self->outbox);
    zlistx_set_destructor (self->outbox, (zlistx_destructor_fn *) s_outgoing_destroy);
    return self;
}

void
ksbatch_destroy (ksbatch_t **self_p)
{
    assert (self_p);
    ksbatch_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->outbox);
        free (self);
        *self_p = NULL;
    }
}

static void
s_queue (ksbatch_t *self, chansession_t *session, ksanswer_t *answer)
{
    if (!answer->payload)
        return;                         //  nothing could be packed (memory)
    outgoing_t *out = (outgoing_t *) zmalloc (sizeof (outgoing_t));
    assert (out);
    memcpy (out->session_id, channel_session_id (session->channel),
            CHANNEL_SESSION_ID_SIZE);
    out->answer = *answer;
    zlistx_add_end (self->outbox, out);
}

//  Send what the batch produced: after a good commit as it is; after a
//  failed one, every reply as ERR_INTERNAL, and the logins of the batch
//  undone, since they may rest on what was not stored.
static void
s_flush (ksbatch_t *self, chanserver_t *chanserver, bool committed)
{
    outgoing_t *out = (outgoing_t *) zlistx_first (self->outbox);
    while (out) {
        chansession_t *session = chanserver_lookup (chanserver, out->session_id);
        ksanswer_t *answer = &out->answer;
        if (session && !committed) {
            if (answer->login)
                kssession_logout (chanserver, session);
            secret_wipe (answer->payload, answer->len);
            free (answer->payload);
            answer->payload = NULL;
            answer->len = 0;
            if (ksreply_pack_internal (answer->request_id, "storage failed, nothing was stored",
                                       &answer->payload, &answer->len) != CHAT_OK)
                session = NULL;
        }
        if (session) {
            int rc = chanserver_reply (chanserver, session, answer->payload, answer->len);
            if (rc != CHAT_OK)
                zsys_warning ("keyserver: reply to session %.8s failed: %s",
                              session->id_hex, chat_errname (rc));
        }
        out = (outgoing_t *) zlistx_next (self->outbox);
    }
    zlistx_purge (self->outbox);
}

void
ksbatch_run (ksbatch_t *self, ksctx_t *ctx, chanserver_t *chanserver, zsock_t *router)
{
    bool in_transaction = keystore_begin (ctx->store) == CHAT_OK;
    size_t handled = 0, requests = 0;
    while (handled < KSBATCH_MAX) {
        if (handled > 0 && !(zsock_events (router) & ZMQ_POLLIN))
            break;
        uint8_t *payload = NULL;
        size_t len = 0;
        chansession_t *session = chanserver_recv (chanserver, &payload, &len);
        handled++;              //  handshakes and refusals count too
        if (session) {
            requests++;
            ksanswer_t answer;
            if (in_transaction)
                ksrequest_handle (ctx, session, payload, len, &answer);
            else {
                //  Nothing is handled, so nothing in memory changes
                memset (&answer, 0, sizeof answer);
                ksreply_pack_internal (0, "storage unavailable", &answer.payload,
                                       &answer.len);
            }
            s_queue (self, session, &answer);
            secret_wipe (payload, len);
        }
        free (payload);
    }
    int64_t commit_start = zclock_usecs ();
    bool committed = in_transaction && keystore_commit (ctx->store) == CHAT_OK;
    if (in_transaction)
        metrics_commit (ctx->metrics, zclock_usecs () - commit_start, requests, committed);
    if (in_transaction && !committed)
        zsys_error ("keyserver: commit failed, a batch of %zu was answered ERR_INTERNAL",
                    zlistx_size (self->outbox));
    s_flush (self, chanserver, committed);
}
