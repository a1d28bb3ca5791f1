/*  service - what a server's main() owes systemd; see service.h  */
#include "service.h"
#include <signal.h>
#include <stdarg.h>
#include <time.h>
#include <systemd/sd-daemon.h>

//  Poll the pipe this often: a signal may land on any of libzmq's threads
//  and leave the poll itself uninterrupted
#define TICK_MS 50

static volatile sig_atomic_t s_hangups;
static int s_reloads;
static bool s_running;              //  inside service_run

static void
s_on_hangup (int signum)
{
    (void) signum;
    s_hangups = s_hangups + 1;
}

void
service_init (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof action);
    action.sa_handler = s_on_hangup;
    sigemptyset (&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction (SIGHUP, &action, NULL);
}

void
service_ready (const char *status)
{
    sd_notifyf (0, "READY=1\nSTATUS=%s", status ? status : "serving");
}

static void
s_reload (zsock_t *actor, const char *config_path, service_reload_fn *reload, void *arg)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    //  MONOTONIC_USEC lets a newer systemd (Type=notify-reload) match the
    //  READY=1 that ends this reload to the signal that asked for it
    sd_notifyf (0, "RELOADING=1\nSTATUS=reloading\nMONOTONIC_USEC=%llu",
                (unsigned long long) now.tv_sec * 1000000ULL
                + (unsigned long long) now.tv_nsec / 1000ULL);
    s_reloads++;
    int rc = reload ? reload (actor, config_path, arg) : 0;
    if (rc == 0)
        zsys_notice ("configuration reloaded");
    else
        zsys_warning ("reload failed: going on with the settings in force");
    sd_notify (0, rc == 0 ? "READY=1\nSTATUS=serving (reloaded)"
                          : "READY=1\nSTATUS=serving (last reload failed)");
}

int
service_run (zsock_t *actor, const char *config_path, service_reload_fn *reload, void *arg)
{
    int status = 0;
    int handled = s_hangups;
    s_running = true;
    zpoller_t *poller = zpoller_new (actor, NULL);
    assert (poller);
    while (!zsys_interrupted) {
        void *which = zpoller_wait (poller, TICK_MS);
        if (which == actor) {
            zsys_error ("the server stopped by itself");
            status = 1;
            break;
        }
        //  A signal interrupts the poll too (SIGHUP): only a context that
        //  is going away ends the run
        if (!which && zpoller_terminated (poller) && !zsys_interrupted
        &&  zmq_errno () == ETERM) {
            status = 1;
            break;
        }
        while (handled != s_hangups) {
            handled = s_hangups;
            s_reload (actor, config_path, reload, arg);
        }
    }
    zpoller_destroy (&poller);
    s_running = false;
    sd_notify (0, "STOPPING=1\nSTATUS=stopping");
    return status;
}

char *
service_recv (zsock_t *actor)
{
    char *reply = zstr_recv (actor);
    while (!reply && !zsys_interrupted && zmq_errno () == EINTR)
        reply = zstr_recv (actor);
    return reply;
}

void
service_complain (const char *prog, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = zsys_vprintf (format, args);
    va_end (args);
    if (s_running)
        zsys_warning ("%s", text ? text : format);
    else
        fprintf (stderr, "%s: %s\n", prog, text ? text : format);
    zstr_free (&text);
}

int
service_reloads (void)
{
    return s_reloads;
}
