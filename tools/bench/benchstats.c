/*  benchstats - latency samples and their percentiles; see benchstats.h  */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <czmq.h>
#include "benchstats.h"

struct _benchstats_t {
    double *values;
    size_t count;
    size_t size;
    bool sorted;
    double sum;
};

benchstats_t *
benchstats_new (void)
{
    benchstats_t *self = (benchstats_t *) zmalloc (sizeof *self);
    return self;
}

void
benchstats_destroy (benchstats_t **self_p)
{
    benchstats_t *self = *self_p;
    if (self) {
        free (self->values);
        free (self);
        *self_p = NULL;
    }
}

void
benchstats_add (benchstats_t *self, double value)
{
    if (self->count == self->size) {
        size_t size = self->size? self->size * 2: 1024;
        double *values = (double *) realloc (self->values, size * sizeof (double));
        assert (values);
        self->values = values;
        self->size = size;
    }
    self->values [self->count++] = value;
    self->sum += value;
    self->sorted = false;
}

size_t
benchstats_count (benchstats_t *self)
{
    return self->count;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y? -1: x > y? 1: 0;
}

double
benchstats_percentile (benchstats_t *self, double p)
{
    if (self->count == 0)
        return NAN;
    if (!self->sorted) {
        qsort (self->values, self->count, sizeof (double), s_compare);
        self->sorted = true;
    }
    //  Nearest rank: the smallest value with at least p% at or below it.
    double rank = ceil (p / 100.0 * (double) self->count);
    size_t index = rank < 1? 0: (size_t) rank - 1;
    if (index >= self->count)
        index = self->count - 1;
    return self->values [index];
}

double
benchstats_max (benchstats_t *self)
{
    return benchstats_percentile (self, 100);
}

double
benchstats_mean (benchstats_t *self)
{
    return self->count? self->sum / (double) self->count: NAN;
}
