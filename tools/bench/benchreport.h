/*  benchreport - the rows chat-bench prints: each figure beside the ceiling
    it is bound by and the target it is held to, as a table or as JSON
*/
#ifndef BENCHREPORT_H_INCLUDED
#define BENCHREPORT_H_INCLUDED

#include <stdbool.h>
#include <stdio.h>

typedef struct _benchreport_t benchreport_t;

typedef enum {
    BENCH_NO_TARGET = 0,
    BENCH_AT_LEAST,             //  value >= target is met
    BENCH_AT_MOST               //  value <= target is met
} bench_target_t;

benchreport_t *
    benchreport_new (void);
void
    benchreport_destroy (benchreport_t **self_p);

//  Add a row. ceiling <= 0 (or ceiling_name NULL): no ceiling. kind
//  BENCH_NO_TARGET: informative row. Strings are copied.
void
    benchreport_add (benchreport_t *self, const char *scenario, const char *figure,
                     double value, const char *unit,
                     const char *ceiling_name, double ceiling,
                     bench_target_t kind, double target, const char *target_text);

//  A scenario that could not run, with the reason.
void
    benchreport_fail (benchreport_t *self, const char *scenario, const char *reason);

//  A scenario that was not run, and why (something it needs is missing
//  here): reported, never a failure, never a figure.
void
    benchreport_skip (benchreport_t *self, const char *scenario, const char *reason);

//  A note under the table (copied), e.g. how a scenario was run.
void
    benchreport_note (benchreport_t *self, const char *scenario, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  How many targets were missed / scenarios failed.
int
    benchreport_missed (benchreport_t *self);
int
    benchreport_failed (benchreport_t *self);

void
    benchreport_print_table (benchreport_t *self, FILE *out);
void
    benchreport_print_json (benchreport_t *self, FILE *out, const char *command);

#endif
