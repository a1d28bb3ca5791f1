/*  benchprogress - a progress bar on stderr; see benchprogress.h  */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <czmq.h>
#include "benchprogress.h"

#define BAR_WIDTH 30

struct _benchprogress_t {
    char label [40];
    uint64_t total;
    int64_t last_draw;
};

benchprogress_t *
benchprogress_new (const char *label, uint64_t total)
{
    if (!isatty (STDERR_FILENO))
        return NULL;
    benchprogress_t *self = (benchprogress_t *) zmalloc (sizeof *self);
    snprintf (self->label, sizeof self->label, "%s", label);
    self->total = total? total: 1;
    benchprogress_update (self, 0);
    return self;
}

void
benchprogress_update (benchprogress_t *self, uint64_t done)
{
    if (!self)
        return;
    int64_t now = zclock_mono ();
    if (done < self->total && self->last_draw && now - self->last_draw < 100)
        return;
    self->last_draw = now;
    if (done > self->total)
        done = self->total;
    int filled = (int) (done * BAR_WIDTH / self->total);
    char bar [BAR_WIDTH + 1];
    memset (bar, '#', (size_t) filled);
    memset (bar + filled, '.', (size_t) (BAR_WIDTH - filled));
    bar [BAR_WIDTH] = 0;
    fprintf (stderr, "\r%-24s [%s] %3d%% %llu/%llu", self->label, bar,
             (int) (done * 100 / self->total), (unsigned long long) done,
             (unsigned long long) self->total);
    fflush (stderr);
}

void
benchprogress_destroy (benchprogress_t **self_p)
{
    benchprogress_t *self = *self_p;
    if (self) {
        fprintf (stderr, "\r%*s\r", 100, "");
        fflush (stderr);
        free (self);
        *self_p = NULL;
    }
}
