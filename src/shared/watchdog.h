/*  watchdog - systemd's watchdog, kept by a server's actor loop

    With WatchdogSec= systemd restarts a service that has not sent
    WATCHDOG=1 within that time. The ping comes from the actor's own loop,
    the thread that serves: a server whose loop is stuck is restarted, one
    whose main thread merely waits for signals is not mistaken for alive.
    The loop bounds its poll timeout with watchdog_timeout and calls
    watchdog_kick on every turn; a ping leaves every half interval.

    Without a watchdog (WATCHDOG_USEC unset or meant for another process,
    as in tests that run the actor in-process) both calls do nothing.
*/
#ifndef WATCHDOG_H_INCLUDED
#define WATCHDOG_H_INCLUDED

typedef struct _watchdog_t watchdog_t;

watchdog_t *
    watchdog_new (void);
void
    watchdog_destroy (watchdog_t **self_p);

//  timeout (ms, -1 forever) cut to the time left before the next ping.
int
    watchdog_timeout (watchdog_t *self, int timeout);

//  Send WATCHDOG=1 if one is due.
void
    watchdog_kick (watchdog_t *self);

#endif
