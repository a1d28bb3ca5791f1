/*  metrics - a server's counters, gauges and histograms, and their
    Prometheus text form

    The server's state belongs to its actor thread; the metrics endpoint
    (metricshttp) and chat-admin read these figures from other threads. So
    every figure here is a C11 atomic: the actor adds and sets, any thread
    renders, and nobody reads the actor's own tables. Gauges that need a
    walk over the actor's state (sessions by state, store size) are
    published by the actor itself, at most a second old.

    Every call takes a NULL self and then does nothing, so that code which
    runs without metrics (tests, tools) need not ask.

    Labels come from small fixed sets: request kinds (registered on first
    use, at most METRICS_MAX_KINDS, more share "other"), error codes (the
    protocol's, chaterror.h) and quota names (METRICS_MAX_KINDS as well).
    Only one thread may add a new kind or quota name: the actor's.
*/
#ifndef METRICS_H_INCLUDED
#define METRICS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define METRICS_MAX_KINDS 32
#define METRICS_MAX_CODES 64

typedef struct _metrics_t metrics_t;

//  role: "keyserver" or "mainserver" (a label on every series); version
//  goes into chat_build_info. Pushes are shown for the main server only.
metrics_t *
    metrics_new (const char *role, const char *version);
void
    metrics_destroy (metrics_t **self_p);

//  A Hello answered: CHAT_OK (a session was made) or the refusal's code.
void
    metrics_handshake (metrics_t *self, int code);

//  A frame refused by the secure channel layer (any stage), by code.
void
    metrics_refusal (metrics_t *self, int code);

//  A request handled: its kind ("send-message", a static or long-lived
//  string) and the code it was answered with (CHAT_OK or an error).
void
    metrics_request (metrics_t *self, const char *kind, int code);

//  A request refused for a per-user quota, by quota name.
void
    metrics_quota_refusal (metrics_t *self, const char *quota);

//  One transaction committed (or failed to): how long COMMIT took and how
//  many requests it held.
void
    metrics_commit (metrics_t *self, int64_t usec, size_t requests, bool ok);

//  Pushes sent (ok) or lost (not ok), count at a time.
void
    metrics_pushes (metrics_t *self, size_t count, bool ok);

//  Gauges the actor publishes.
void
    metrics_sessions (metrics_t *self, size_t handshaking, size_t anonymous,
                      size_t logged_in);
void
    metrics_push_queue (metrics_t *self, size_t depth);
void
    metrics_store_bytes (metrics_t *self, uint64_t bytes);

//  Bytes a SQLite database takes on disk: the file and its write-ahead log
//  (path-wal). 0 when neither can be read.
uint64_t
    metrics_db_bytes (const char *path);

//  Read back one counter, for tests: requests of kind (any code when code
//  is -1). 0 for an unknown kind.
uint64_t
    metrics_requests (metrics_t *self, const char *kind, int code);

//  The whole set in the Prometheus text exposition format (version 0.0.4).
//  Malloc'd; NULL on a failed allocation. Safe from any thread.
char *
    metrics_render (metrics_t *self);

#endif
