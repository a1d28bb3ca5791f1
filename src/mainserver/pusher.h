/*  pusher - the main server's live pushes, sealed and sent off its request
    thread, to subscribers it has admitted

    Three kinds of thread, each owning its own sockets:

    - the caller (the main server's request thread) says which session
      tokens are live (pusher_session_open / _close) and hands over each
      push with its targets (pusher_push). For each target it only takes the
      session's next push number and a copy of its push key, the one part
      that must happen in order; nothing is sealed there, so a push to 300
      sessions of one user costs the request thread microseconds, not the
      0.2 s of sealing 300 copies of a 100 KB message.
    - seal workers (one per core by default): each seals the pushes of the
      targets given to it under their push keys. Targets go to workers by
      session id, so one session's pushes are sealed, and sent, in order.
    - the publisher owns the XPUB socket. It publishes what the workers
      sealed, and admits subscriptions itself (ZMQ_XPUB_MANUAL): a
      subscription is applied only when its topic is the token of a live
      session, so a stranger on the push port receives nothing at all. Each
      subscriber has a small high-water mark (push_hwm): a subscriber that
      never reads holds at most that many pushes, the rest are dropped
      (pushes are notifications; clients fetch what they miss).

    Pushes waiting to be sealed are bounded in bytes (queue_bytes): past it
    a push is dropped at once, counted, and never queued. Each sender also
    has a share of the sealing work (PUSHER_SENDER_WORK bytes of payload
    times targets waiting): past it that sender's pushes are dropped while
    everyone else's still go, so one user fanning big messages out to many
    sessions that never read cannot fill the queue, or the workers' time,
    for all. A sender with nothing waiting always gets one push in.

    libzmq's XPUB can only change the subscriptions of the subscriber whose
    subscription message was read last, so a session that ends is not
    unsubscribed by the server: its token just never carries anything again.
    The subscription itself goes when the subscriber unsubscribes (the
    client does so on its next handshake) or disconnects.
*/
#ifndef PUSHER_H_INCLUDED
#define PUSHER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include "channel.h"

typedef struct _pusher_t pusher_t;

//  Bytes of sealing (payload x targets) one sender may have waiting
#define PUSHER_SENDER_WORK (8 * 1024 * 1024)

//  workers 0: one per online core, at most 8. hwm: pushes queued per
//  subscriber (set before pusher_bind: it applies to each subscriber as it
//  connects). queue_bytes 0: no bound. NULL when threads cannot start.
pusher_t *
    pusher_new (size_t workers, int hwm, size_t queue_bytes);
void
    pusher_destroy (pusher_t **self_p);

//  Bind the XPUB. 0 and the bound endpoint (malloc'd) in *bound, or -1.
int
    pusher_bind (pusher_t *self, const char *endpoint, char **bound);

//  The bound of bytes waiting to be sealed, from now on. (The subscribers'
//  high-water mark is pusher_new's only: libzmq 4.3.4 frees a going
//  subscriber's pipe while a new mark may still be on its way to it.)
void
    pusher_set_queue_bytes (pusher_t *self, size_t queue_bytes);

//  A session's token may be subscribed from now on / not any more.
void
    pusher_session_open (pusher_t *self, channel_t *channel);
void
    pusher_session_close (pusher_t *self, channel_t *channel);

//  Push payload to each of the count channels (server side, open), on
//  behalf of sender (the user whose request made it). CHAT_OK;
//  CHAT_ERR_BUSY when the queue, or the sender's share, was full and the
//  push was dropped.
int
    pusher_push (pusher_t *self, const char *sender, channel_t **channels, size_t count,
                 const uint8_t *payload, size_t len);

//  Pushes dropped because the queue was full, since the start.
size_t
    pusher_dropped (pusher_t *self);

//  Tokens retired since the start: a subscriber hung up before its
//  subscription was read (libzmq 4.3.4; see pusher.c), so its session gets
//  no more pushes.
size_t
    pusher_retired (pusher_t *self);

//  Tests: the publisher stands still for ms, then lets libzmq take in what
//  happened meanwhile before it reads anything.
void
    pusher_hold (pusher_t *self, int ms);

//  Tests: wait until everything handed over so far has been published (or
//  timeout_ms passed). true when it has.
bool
    pusher_flush (pusher_t *self, int timeout_ms);

#endif
