/*  msbell - the doorbell of a cluster of main servers (DESIGN.md section
    11): what a batch changed, rung for the other servers after its COMMIT

    During a batch, the handlers note the messages they stored
    (msbell_message) and the conversations they created or changed
    (msbell_changed); after the COMMIT and this server's own pushes,
    msbell_ring sends it as NOTIFY on MSBELL_CHANNEL in a transaction of
    its own; after a failed commit msbell_clear forgets it. The payloads are
    text, each under PostgreSQL's 8000 bytes (a batch over that is split):

        m <conversation hex>:<first seq>:<last seq> ...     messages
        c <conversation hex> ...                            created/changed

    It also remembers, per conversation, the last seq this server pushed
    to its sessions (its own messages, and those msbus read after a
    doorbell), so that a doorbell or a catch-up pushes each message once.
    At most MSBELL_PUSHED_MAX conversations are remembered; past it the
    memory starts again (a message may then be pushed twice, never lost).
*/
#ifndef MSBELL_H_INCLUDED
#define MSBELL_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include "msgstore.h"

#define MSBELL_CHANNEL "chat_commit"
#define MSBELL_PUSHED_MAX 100000

typedef struct _msbell_t msbell_t;

msbell_t *
    msbell_new (void);
void
    msbell_destroy (msbell_t **self_p);

//  A message stored by this batch (and pushed to this server's sessions).
void
    msbell_message (msbell_t *self, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t seq);
//  A conversation this batch created or changed.
void
    msbell_changed (msbell_t *self, const uint8_t id [MSGSTORE_ID_SIZE]);
//  Ring what the batch noted (after its COMMIT), then forget it. A failed
//  NOTIFY is logged: the others catch up at their next doorbell for that
//  conversation, and clients fetch gaps.
void
    msbell_ring (msbell_t *self, msgstore_t *store);
//  Forget what the batch noted (its commit failed).
void
    msbell_clear (msbell_t *self);

//  The last seq pushed here in a conversation; false when not known.
bool
    msbell_pushed (msbell_t *self, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t *seq);
//  It is now seq (kept only if higher).
void
    msbell_set_pushed (msbell_t *self, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t seq);

#endif
