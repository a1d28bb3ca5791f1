/*  benchserver - a chat server run by chat-bench as a child process, on
    127.0.0.1 with free ports and its own data directory, or a server given
    by its endpoints (then there is no process to measure or stop)

    The child's stdout and stderr go to <dir>/server.log; the bound
    endpoints are read from there (the key server prints its endpoint, the
    main server logs "requests on" and "pushes on"). The child is killed if
    chat-bench dies.
*/
#ifndef BENCHSERVER_H_INCLUDED
#define BENCHSERVER_H_INCLUDED

#include <stdbool.h>
#include <sys/types.h>
#include "rsakey.h"

typedef struct _benchserver_t benchserver_t;

typedef enum {
    BENCHSERVER_KEYSERVER,
    BENCHSERVER_MAINSERVER,
    BENCHSERVER_PEER            //  another system's server (chat-bench peers)
} benchserver_role_t;

//  Start bin with data directory dir (created 0700). key: written there as
//  server.key first (saves the server a key generation). other_public: the
//  other server's public key file (the main server's --keyserver-key, the
//  key server's --mainserver-key). iterations: the key server's
//  --iterations (0: its default). extra: more arguments (NULL-terminated;
//  may be NULL), e.g. --limit.
//  NULL with a message on stderr when the server did not come up.
benchserver_t *
    benchserver_start (benchserver_role_t role, const char *bin, const char *dir,
                       rsakey_t *key, const char *other_public, int iterations,
                       const char *const *extra);

//  Run argv (argv [0] a path, NULL-terminated) as a BENCHSERVER_PEER child,
//  its output in <dir>/server.log; nothing is waited for (the caller
//  knows when it is up). NULL with a message on stderr when it cannot run.
benchserver_t *
    benchserver_spawn (const char *const *argv, const char *dir);
//  Whether the child is still running (false once it has exited).
bool
    benchserver_running (benchserver_t *self);

//  A server somebody else runs.
benchserver_t *
    benchserver_external (benchserver_role_t role, const char *endpoint,
                          const char *push_endpoint);

//  Stop it (SIGTERM, then SIGKILL after 10 s) and free.
void
    benchserver_destroy (benchserver_t **self_p);

const char *
    benchserver_endpoint (benchserver_t *self);
//  The main server's PUB endpoint, else NULL.
const char *
    benchserver_push_endpoint (benchserver_t *self);
//  0 for an external server.
pid_t
    benchserver_pid (benchserver_t *self);
//  The server key's fingerprint ("SHA256:..."), when we gave the key.
const char *
    benchserver_fingerprint (benchserver_t *self);
//  VmRSS in KiB from /proc/<pid>/status; -1 when unknown.
long
    benchserver_rss_kib (benchserver_t *self);
//  CPU time the server has used so far (user + system, all threads), in
//  ms from /proc/<pid>/stat; -1 when unknown.
double
    benchserver_cpu_ms (benchserver_t *self);
//  Send SIGTERM and wait for the exit. Returns the exit status (-1 when
//  killed by a signal or not ours) and the time it took in ms.
int
    benchserver_terminate (benchserver_t *self, double *elapsed_ms);
//  Print the last lines of the server's log on stderr (after a failure).
void
    benchserver_dump_log (benchserver_t *self);

#endif
