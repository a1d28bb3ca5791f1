/*  ratelimit - back-off after failed logins, per username and per session

    Policy (defaults): a counter of consecutive failed logins is kept per
    username (case-insensitive) and per session. Once a counter reaches 5,
    each further attempt must wait 2^(n-5) seconds after the last failure,
    n being the counter (1 s, 2 s, 4 s, ... capped at 300 s). A login
    attempt is refused while either counter says wait; the longer wait is
    the one reported. A successful login resets the username's counter; the
    session's counter is never reset (a session that guessed wrong cannot
    clear its record by logging in to an account of its own).

    Counters live in memory only: a restart forgets them. A username's
    counter is forgotten an hour after its last failure; at most
    RATELIMIT_MAX_NAMES usernames are tracked (beyond that, only the
    session counter limits a new name).
*/
#ifndef RATELIMIT_H_INCLUDED
#define RATELIMIT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_THRESHOLD 5            //  failures before any wait
#define RATELIMIT_BASE_MS   1000         //  wait after the threshold-th failure
#define RATELIMIT_CAP_MS    300000       //  longest wait
#define RATELIMIT_FORGET_MS 3600000      //  a name's counter lives this long
#define RATELIMIT_MAX_NAMES 100000

typedef struct _ratelimit_t ratelimit_t;

//  A failure counter; the per-session one lives in the session's state.
typedef struct {
    uint32_t failures;
    int64_t last_failure;                //  unix ms
} ratelimit_counter_t;

ratelimit_t *
    ratelimit_new (void);
void
    ratelimit_destroy (ratelimit_t **self_p);

//  Change the policy (tests make the base long so that no test depends on
//  how fast the machine is).
void
    ratelimit_set_policy (ratelimit_t *self, uint32_t threshold,
                          int64_t base_ms, int64_t cap_ms);

//  How long (ms) an attempt for username on the session with counter
//  session (may be NULL) must still wait; 0: go ahead.
int64_t
    ratelimit_check (ratelimit_t *self, const char *username,
                     const ratelimit_counter_t *session, int64_t now_ms);

//  Record a failed attempt for username and the session's counter.
void
    ratelimit_failure (ratelimit_t *self, const char *username,
                       ratelimit_counter_t *session, int64_t now_ms);

//  Record a success: forget the username's failures.
void
    ratelimit_success (ratelimit_t *self, const char *username);

//  Forget usernames whose last failure is older than RATELIMIT_FORGET_MS.
//  Returns how many were forgotten.
size_t
    ratelimit_prune (ratelimit_t *self, int64_t now_ms);

//  How many usernames are tracked.
size_t
    ratelimit_size (ratelimit_t *self);

#endif
