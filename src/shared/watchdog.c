/*  watchdog - systemd's watchdog, kept by a server's actor loop  */
#include "watchdog.h"
#include <czmq.h>
#include <systemd/sd-daemon.h>

struct _watchdog_t {
    int64_t interval_ms;            //  0: no watchdog
    int64_t next;                   //  zclock_mono of the next ping
};

watchdog_t *
watchdog_new (void)
{
    watchdog_t *self = (watchdog_t *) zmalloc (sizeof *self);
    uint64_t usec = 0;
    //  Checks WATCHDOG_PID too: the variable may be meant for a parent
    if (sd_watchdog_enabled (0, &usec) > 0 && usec > 0) {
        self->interval_ms = (int64_t) (usec / 2000);
        if (self->interval_ms < 1)
            self->interval_ms = 1;
        self->next = zclock_mono ();
    }
    return self;
}

void
watchdog_destroy (watchdog_t **self_p)
{
    assert (self_p);
    free (*self_p);
    *self_p = NULL;
}

int
watchdog_timeout (watchdog_t *self, int timeout)
{
    if (!self || !self->interval_ms)
        return timeout;
    int64_t left = self->next - zclock_mono ();
    if (left < 0)
        left = 0;
    return timeout < 0 || left < timeout ? (int) left : timeout;
}

void
watchdog_kick (watchdog_t *self)
{
    if (!self || !self->interval_ms)
        return;
    int64_t now = zclock_mono ();
    if (now < self->next)
        return;
    sd_notify (0, "WATCHDOG=1");
    self->next = now + self->interval_ms;
}
