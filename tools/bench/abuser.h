/*  abuser - attacks that run beside a measurement, each on a thread of its
    own, from another loopback address (127.0.0.2 and up: Linux routes all
    of 127/8 to lo), for the abuse scenario

    - a Hello flood: one Hello replayed on a few DEALERs as fast as the
      server answers (64 in flight on each), every answer read;
    - never-reading subscribers: a user of the attacker's with many
      sessions, each session's push subscribed by a SUB that has stopped
      reading, while the user sends big messages to a second user of its
      own (so that every message is pushed to all of them), and a stranger
      subscribed to everything (which the server must not admit).

    Each stops when destroyed, and says what it did in one line.
*/
#ifndef ABUSER_H_INCLUDED
#define ABUSER_H_INCLUDED

#include <stddef.h>
#include "bench.h"

typedef struct _abuser_t abuser_t;

//  Flood endpoint (a server's request endpoint) from source.
abuser_t *
    abuser_hello_flood (const char *endpoint, const char *source, size_t dealers);

//  sessions of user "abuser0" on the main server at endpoint, each with a
//  stuck subscriber on push_endpoint, sending messages of token_size bytes
//  at rate a second to "abuser1"; logged in with certificates minted from
//  the bench's shared secret. NULL when it cannot be set up.
abuser_t *
    abuser_stuck_subscribers (bench_t *bench, const char *endpoint, const char *push_endpoint,
                              const char *source, size_t sessions, size_t token_size,
                              int rate);

//  Stop it; what it did into summary (may be NULL).
void
    abuser_destroy (abuser_t **self_p, char *summary, size_t summary_size);

#endif
