/*  msmessage - the main server's message requests: send one (under the
    conversation's current epoch, stored once per client message id, pushed
    to every other session of every member) and fetch them by page

    A message is an opaque Fernet token to this server: sealed by a member
    under the epoch's key, which no server holds.
*/
#ifndef MSMESSAGE_H_INCLUDED
#define MSMESSAGE_H_INCLUDED

#include "mainserver.h"
#include "msoutbox.h"
#include "msreq.h"

//  With ctx->sends (PostgreSQL), a send that passes the checks is held
//  (MSREQ_DEFERRED, nothing answered yet) for msmessage_batch_commit.
int
    msmessage_send (msreq_t *req, Chat__SendMessageRequest *body);

//  The sends of one batch, stored together by msgstore_msg_add_batch (one
//  pipeline, sorted by conversation) after the batch's other requests
//  committed.
msmessage_batch_t *
    msmessage_batch_new (void);
void
    msmessage_batch_destroy (msmessage_batch_t **self_p);
//  Store the held sends (may_commit false: the batch's other requests did
//  not commit, so they are not tried) and queue each one's reply and
//  pushes in outbox: a reply says stored only after the COMMIT. False
//  when they were not stored.
bool
    msmessage_batch_commit (msmessage_batch_t *self, msctx_t *ctx, msoutbox_t *outbox,
                            bool may_commit);
//  Push a stored message to targets (malloc'd, taken): the frames a send's
//  push has, whoever stored it (this server, or another of its cluster).
void
    msmessage_push (msreq_t *req, const msgstore_msg_t *msg, msoutbox_target_t *targets,
                    size_t count);
int
    msmessage_page (msreq_t *req, Chat__GetMessagesRequest *body);

#endif
