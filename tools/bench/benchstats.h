/*  benchstats - latency samples and their percentiles  */
#ifndef BENCHSTATS_H_INCLUDED
#define BENCHSTATS_H_INCLUDED

#include <stddef.h>

typedef struct _benchstats_t benchstats_t;

benchstats_t *
    benchstats_new (void);
void
    benchstats_destroy (benchstats_t **self_p);

//  One sample (any unit; the caller keeps to one).
void
    benchstats_add (benchstats_t *self, double value);
size_t
    benchstats_count (benchstats_t *self);
//  p in 0..100; NAN when there are no samples. Sorts once, lazily.
double
    benchstats_percentile (benchstats_t *self, double p);
double
    benchstats_max (benchstats_t *self);
double
    benchstats_mean (benchstats_t *self);

#endif
