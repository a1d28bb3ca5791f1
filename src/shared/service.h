/*  service - what a server's main() owes systemd, and its wait for signals

    With Type=notify, systemd waits for READY=1 before it calls the service
    started: main() sends it once the sockets are bound. SIGHUP asks for a
    reload (ExecReload= sends it): service_run calls the server's reload
    function between RELOADING=1 and READY=1, and the sessions stay.
    SIGINT or SIGTERM ends the run with STOPPING=1. Outside systemd
    (no NOTIFY_SOCKET) the notifications are silently nothing.

    The watchdog is not here: it is the actor's loop that must prove it is
    alive (watchdog.h).
*/
#ifndef SERVICE_H_INCLUDED
#define SERVICE_H_INCLUDED

#include <czmq.h>

//  Catch SIGHUP from now on (its default would end the process). Call
//  early in main(), before a reload could be asked for.
void
    service_init (void);

//  READY=1, with a STATUS line for `systemctl status`.
void
    service_ready (const char *status);

//  Reread config_path (may be NULL) and apply to the actor what may change
//  at run time; arg is the caller's (its command line options). 0 when it
//  took; on -1 the server goes on with what it had, and says why in the log.
typedef int (service_reload_fn) (zsock_t *actor, const char *config_path, void *arg);

//  Wait for SIGINT/SIGTERM (returns 0) or for the actor to stop by itself
//  (anything readable on its pipe: returns 1). SIGHUP calls
//  reload (actor, config_path, arg).
int
    service_run (zsock_t *actor, const char *config_path, service_reload_fn *reload,
                 void *arg);

//  One string from the actor, waiting through a signal that does not stop
//  the server (a SIGHUP during start). NULL when SIGINT/SIGTERM came or
//  the actor is gone.
char *
    service_recv (zsock_t *actor);

//  Say what is wrong with the options or the config file: before the run
//  as "prog: text" on stderr (a person at a terminal reads it), during a
//  run (a reload) as a warning in the log, where the journal has it.
void
    service_complain (const char *prog, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

//  How many reloads SIGHUP has asked for so far (tests).
int
    service_reloads (void);

#endif
