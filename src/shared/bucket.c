/*  bucket - a token bucket; see bucket.h  */
#include <math.h>
#include "bucket.h"

//  The tokens there at now_ms.
static double
s_level (const bucket_t *self, double rate, double burst, int64_t now_ms)
{
    if (self->at_ms == 0)
        return burst;
    double elapsed = now_ms > self->at_ms ? (double) (now_ms - self->at_ms) : 0.0;
    double level = self->tokens + elapsed * rate / 1000.0;
    return level > burst ? burst : level;
}

int64_t
bucket_wait (const bucket_t *self, double rate, double burst, double cost, int64_t now_ms)
{
    if (rate <= 0)
        return 0;
    if (cost > burst)
        return INT64_MAX;
    double level = s_level (self, rate, burst, now_ms);
    if (level >= cost)
        return 0;
    double wait = ceil ((cost - level) * 1000.0 / rate);
    return wait < 1 ? 1 : wait > 1e15 ? (int64_t) 1e15 : (int64_t) wait;
}

int64_t
bucket_take (bucket_t *self, double rate, double burst, double cost, int64_t now_ms)
{
    int64_t wait = bucket_wait (self, rate, burst, cost, now_ms);
    if (wait == 0 && rate > 0) {
        self->tokens = s_level (self, rate, burst, now_ms) - cost;
        self->at_ms = now_ms;
    }
    return wait;
}

void
bucket_charge (bucket_t *self, double rate, double burst, double cost, int64_t now_ms)
{
    if (rate <= 0)
        return;
    double level = s_level (self, rate, burst, now_ms) - cost;
    //  Never owe more than one burst: a debt is paid off in burst / rate
    self->tokens = level < -burst ? -burst : level;
    self->at_ms = now_ms;
}

bool
bucket_full (const bucket_t *self, double rate, double burst, int64_t now_ms)
{
    return rate <= 0 || s_level (self, rate, burst, now_ms) >= burst;
}
