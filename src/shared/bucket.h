/*  bucket - a token bucket: at most `burst` tokens, refilled at `rate`
    tokens per second; an action that costs n tokens goes ahead only when
    n are there

    Every abuse limit that is a rate (handshakes per address, messages per
    user, failed logins per address, ...) is one of these. A bucket is two
    numbers and no allocation, so tables of them stay small. The clock is
    the caller's (milliseconds, any origin that does not go backwards), so
    tests can hold it.
*/
#ifndef BUCKET_H_INCLUDED
#define BUCKET_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    double tokens;
    int64_t at_ms;          //  when tokens was last brought up to date; 0: new (full)
} bucket_t;

//  How long (ms) until cost tokens are there; 0 when they are there now.
//  rate <= 0 means no limit (always 0). A cost above burst can never be
//  paid: the answer is then INT64_MAX.
int64_t
    bucket_wait (const bucket_t *self, double rate, double burst, double cost,
                 int64_t now_ms);

//  Take cost tokens if they are there: 0. Else nothing is taken and the
//  answer is bucket_wait's.
int64_t
    bucket_take (bucket_t *self, double rate, double burst, double cost, int64_t now_ms);

//  Take cost tokens whatever is there (the bucket may go below zero, and
//  must refill before the next bucket_take succeeds): for costs known only
//  after the fact, such as a failed login.
void
    bucket_charge (bucket_t *self, double rate, double burst, double cost, int64_t now_ms);

//  True when the bucket has refilled completely: it then says nothing a new
//  bucket would not, and a table may forget it.
bool
    bucket_full (const bucket_t *self, double rate, double burst, int64_t now_ms);

#endif
