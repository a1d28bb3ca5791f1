/*  benchprogress - a progress bar on stderr for long runs, drawn only when
    stderr is a terminal (never in logs or under ctest)
*/
#ifndef BENCHPROGRESS_H_INCLUDED
#define BENCHPROGRESS_H_INCLUDED

#include <stdint.h>

typedef struct _benchprogress_t benchprogress_t;

//  A bar for total steps; NULL-safe to use when stderr is not a tty (every
//  call then does nothing).
benchprogress_t *
    benchprogress_new (const char *label, uint64_t total);
//  Redrawn at most ten times a second.
void
    benchprogress_update (benchprogress_t *self, uint64_t done);
//  Clear the line and free.
void
    benchprogress_destroy (benchprogress_t **self_p);

#endif
