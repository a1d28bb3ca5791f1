/*  msbatch - group commit for the main server; see msbatch.h  */
#include "chaterror.h"
#include "mainserver.h"
#include "msbatch.h"
#include "msbell.h"
#include "msmessage.h"
#include "msrequest.h"

void
msbatch_run (msctx_t *ctx, msoutbox_t *outbox, zsock_t *router)
{
    bool in_transaction = msgstore_begin (ctx->store) == CHAT_OK;
    size_t handled = 0, requests = 0;
    while (handled < MAINSERVER_BATCH) {
        if (handled > 0 && !(zsock_events (router) & ZMQ_POLLIN))
            break;
        uint8_t *payload = NULL;
        size_t len = 0;
        chansession_t *session = chanserver_recv (ctx->chanserver, &payload, &len);
        handled++;              //  handshakes count too: they cost the most
        if (!session)
            continue;
        requests++;
        if (in_transaction)
            msrequest_handle (ctx, outbox, session, payload, len);
        else
            msoutbox_error (outbox, session, 0, CHAT_ERR_INTERNAL, "storage unavailable");
        free (payload);
    }
    int64_t commit_start = zclock_usecs ();
    bool committed = in_transaction && msgstore_commit (ctx->store) == CHAT_OK;
    if (in_transaction)
        metrics_commit (ctx->metrics, zclock_usecs () - commit_start, requests, committed);
    if (in_transaction && !committed) {
        zsys_error ("mainserver: commit failed, a batch was answered ERR_INTERNAL");
        //  It may have cached the members of a conversation that is not there
        msonline_members_changed (ctx->online, NULL);
    }
    //  PostgreSQL: the batch's sends now, in one pipeline of their own
    //  (their replies say stored only after its COMMIT; none is tried when
    //  the rest failed, since a send may need what the rest created)
    if (ctx->sends)
        msmessage_batch_commit (ctx->sends, ctx, outbox, committed);
    msoutbox_flush (outbox, ctx->chanserver, ctx->pusher, committed, ctx->metrics);
    //  The other servers hear of it after our own sessions did, in a
    //  transaction of its own
    if (ctx->bell) {
        if (committed)
            msbell_ring (ctx->bell, ctx->store);
        else
            msbell_clear (ctx->bell);
    }
}
