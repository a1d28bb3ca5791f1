/*  msoutbox - what a batch of requests says, held until its commit

    Replies and pushes wait here, in order, and leave only after the
    batch's COMMIT (group commit, DESIGN.md section 6). A request's pushes
    wait in a list of its own until the request succeeded, then follow its
    reply. If the commit fails, every reply becomes ERR_INTERNAL and no
    push leaves. Sessions are named by id, not pointer: one may be dropped
    before its reply leaves. Pushes are handed to the pusher (pusher.h),
    which seals them on its own threads and publishes them on the XPUB.
*/
#ifndef MSOUTBOX_H_INCLUDED
#define MSOUTBOX_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include "channel.h"
#include "chanserver.h"
#include "metrics.h"
#include "pusher.h"
#include "wire.h"

typedef struct _msoutbox_t msoutbox_t;
typedef uint8_t msoutbox_target_t [CHANNEL_SESSION_ID_SIZE];

msoutbox_t *
    msoutbox_new (void);
void
    msoutbox_destroy (msoutbox_t **self_p);

//  Queue a reply (packed now).
void
    msoutbox_reply (msoutbox_t *self, chansession_t *session, uint64_t request_id,
                    Chat__MainReply *reply);
//  Queue an error reply; text NULL: the code's standard text.
void
    msoutbox_error (msoutbox_t *self, chansession_t *session, uint64_t request_id,
                    int code, const char *text);
//  The same with retry_after_ms (0: none).
void
    msoutbox_error_retry (msoutbox_t *self, chansession_t *session, uint64_t request_id,
                          int code, const char *text, uint32_t retry_ms);

//  A list for one request's pushes, and a push into it: packed once, sealed
//  for each target as the batch is flushed. Takes targets (malloc'd); sender
//  is the user whose request made the push (the pusher's fairness).
zlistx_t *
    msoutbox_pending_new (void);
void
    msoutbox_push (zlistx_t *pending, const char *sender, msoutbox_target_t *targets,
                   size_t target_count, const ProtobufCMessage *push);
//  Move a request's pushes to the end of the outbox (after its reply).
void
    msoutbox_take (msoutbox_t *self, zlistx_t *pending);

//  Send everything: as it is after a good commit; after a failed one,
//  every reply as ERR_INTERNAL and no push. Pushes go to pusher (NULL:
//  they fail) for the targets still connected; counted in metrics (may be
//  NULL): handed over as sent, dropped for a full pusher queue as failed.
void
    msoutbox_flush (msoutbox_t *self, chanserver_t *chanserver, pusher_t *pusher,
                    bool committed, metrics_t *metrics);

#endif
