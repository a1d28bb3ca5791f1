/*  benchmosq - a Mosquitto broker run by chat-bench peers: on a free
    loopback port (127.0.0.1 only), TLS with a throwaway self-signed
    certificate, persistence on, TCP_NODELAY, a throwaway configuration, all
    in a directory of the bench's scratch directory; stopped (SIGTERM) and
    forgotten after
*/
#ifndef BENCHMOSQ_H_INCLUDED
#define BENCHMOSQ_H_INCLUDED

#include <stdbool.h>

typedef struct _benchmosq_t benchmosq_t;

//  The broker binary to run: path when given (NULL: /usr/sbin/mosquitto,
//  then mosquitto on PATH). A malloc'd path, or NULL when there is none.
char *
    benchmosq_find (const char *path);

//  Start bin with everything made in dir (created 0700). NULL with the
//  reason on stderr (and the broker's log) when it did not come up.
benchmosq_t *
    benchmosq_start (const char *bin, const char *dir);
//  Stop it (SIGTERM, then SIGKILL after 10 s) and free.
void
    benchmosq_destroy (benchmosq_t **self_p);

int
    benchmosq_port (benchmosq_t *self);
//  The broker's certificate (PEM): what clients verify it against.
const char *
    benchmosq_cafile (benchmosq_t *self);
//  CPU time the broker has used so far, ms; -1 when unknown.
double
    benchmosq_cpu_ms (benchmosq_t *self);
//  The broker's version from its log ("mosquitto 2.0.11"), or "mosquitto".
const char *
    benchmosq_version (benchmosq_t *self);

#endif
