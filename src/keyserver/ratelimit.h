/*  ratelimit - back-off after failed logins, per (source address,
    username) and per source address

    Per (address, username): a counter of consecutive failed logins. Once
    it reaches the threshold (5), each further attempt from that address
    for that name must wait base * 2^(n - threshold) after the last failure,
    n being the counter (1 s, 2 s, 4 s, ... capped at 300 s). A successful
    login from that address for that name clears it. So a guesser slows
    only itself: the account's owner at another address logs in as usual.

    Per address: a token bucket of failures, `per_hour` of them refilling
    over an hour. An address that fails that often, with any names, waits
    until the bucket has a token again (this is what slows a guesser who
    tries many names, and names that cannot exist).

    A login attempt is refused while either says wait; the longer wait is
    the one reported. Both kinds of counter live in one table of at most
    `capacity` entries; when it is full the least recently used entry is
    forgotten to make room (the guesser's own address entry is used by
    every attempt, so it is the last to go). Counters live in memory only:
    a restart forgets them. A pair's counter is forgotten an hour after its
    last failure, an address's when its bucket has refilled.
*/
#ifndef RATELIMIT_H_INCLUDED
#define RATELIMIT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_THRESHOLD 5            //  failures before any wait
#define RATELIMIT_BASE_MS   1000         //  wait after the threshold-th failure
#define RATELIMIT_CAP_MS    300000       //  longest wait
#define RATELIMIT_PER_HOUR  300          //  failures per address per hour
#define RATELIMIT_CAPACITY  100000       //  entries remembered
#define RATELIMIT_FORGET_MS 3600000      //  a pair's counter lives this long

typedef struct _ratelimit_t ratelimit_t;

ratelimit_t *
    ratelimit_new (void);
void
    ratelimit_destroy (ratelimit_t **self_p);

//  Change the policy; applies to what is remembered already. per_hour 0:
//  no per-address limit. A smaller capacity forgets at once.
void
    ratelimit_set_policy (ratelimit_t *self, uint32_t threshold, int64_t base_ms,
                          int64_t cap_ms, int64_t per_hour, size_t capacity);

//  How long (ms) an attempt from address for username must still wait; 0:
//  go ahead. username may be NULL or invalid (then only the address counts).
int64_t
    ratelimit_check (ratelimit_t *self, const char *address, const char *username,
                     int64_t now_ms);

//  Record a failed attempt.
void
    ratelimit_failure (ratelimit_t *self, const char *address, const char *username,
                       int64_t now_ms);

//  Record a success: forget the failures of (address, username). The
//  address's bucket is left as it is.
void
    ratelimit_success (ratelimit_t *self, const char *address, const char *username);

//  Forget what says nothing any more. Returns how many entries went.
size_t
    ratelimit_prune (ratelimit_t *self, int64_t now_ms);

//  Entries remembered, and entries forgotten to make room so far.
size_t
    ratelimit_size (ratelimit_t *self);
size_t
    ratelimit_evicted (ratelimit_t *self);

#endif
