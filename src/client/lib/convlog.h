/*  convlog - the messages of one conversation held in memory, and the
    sequence bookkeeping that finds gaps

    Messages arrive from pushes (which may be lost or come twice), from
    catch-up fetches and from history pages. The log keeps `seen`, the
    highest sequence number up to which nothing is missing, emits messages
    strictly in sequence order, holds those past a gap until the gap is
    filled, and ignores duplicates. Messages at or below the base (known to
    exist when the conversation was first listed) are history: loaded on
    demand, never counted as new.
*/
#ifndef CONVLOG_H_INCLUDED
#define CONVLOG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "chatclient.h"

typedef struct _convlog_t convlog_t;

typedef enum {
    CONVLOG_DUPLICATE = 0,      //  already had it (the message was freed)
    CONVLOG_READY = 1,          //  in order: take it with convlog_next_ready
    CONVLOG_HELD = 2,           //  past a gap: held until the gap is filled
    CONVLOG_HISTORY = 3         //  at or below the base, stored as history
} convlog_result_t;

//  base: the conversation's last seq when it was first listed (0 for one
//  seen from its creation).
convlog_t *
    convlog_new (uint64_t base);
void
    convlog_destroy (convlog_t **self_p);

//  Take a message (ownership passes to the log; NULL msg with a seq marks
//  a message that failed verification: its number is used up, nothing is
//  stored).
convlog_result_t
    convlog_offer (convlog_t *self, uint64_t seq, chatclient_message_t *msg);

//  The next message that became in-order (stored in the log, borrowed), or
//  NULL. Call until NULL after every offer.
chatclient_message_t *
    convlog_next_ready (convlog_t *self);

uint64_t
    convlog_seen (convlog_t *self);
uint64_t
    convlog_base (convlog_t *self);
//  Messages are held past a gap: fetch after convlog_seen.
bool
    convlog_has_gap (convlog_t *self);

//  Stored messages, ascending seq (history and live alike).
size_t
    convlog_size (convlog_t *self);
const chatclient_message_t *
    convlog_at (convlog_t *self, size_t index);

//  Free a message (and wipe its text).
void
    convlog_message_free (chatclient_message_t **msg_p);
//  Deep copy into dest (for events); CHAT_OK or CHAT_ERR_INTERNAL.
int
    convlog_message_copy (chatclient_message_t *dest, const chatclient_message_t *src);
//  Free the fields of a message struct that is not itself malloc'd.
void
    convlog_message_clear (chatclient_message_t *msg);

#endif
