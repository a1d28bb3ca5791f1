/*  metricshttp - serve a metrics_t over HTTP for Prometheus, with
    libmicrohttpd

    GET /metrics answers metrics_render (); anything else is 404 (405 for
    another method). The HTTP thread is libmicrohttpd's own; it reads only
    the metrics object's atomics, never a server's tables. Nothing is
    secret in the answer, but nothing authenticates the reader either: bind
    it to a loopback address (or one only the scraper reaches).
*/
#ifndef METRICSHTTP_H_INCLUDED
#define METRICSHTTP_H_INCLUDED

#include "metrics.h"

typedef struct _metricshttp_t metricshttp_t;

//  Listen on bind, "HOST:PORT" with HOST an IPv4 literal or an IPv6 one in
//  brackets ("127.0.0.1:9101", "[::1]:9101"); port 0 takes a free one.
//  metrics is borrowed and must outlive the object. NULL with a reason in
//  error when the address is bad or cannot be bound.
metricshttp_t *
    metricshttp_new (metrics_t *metrics, const char *bind, char *error, size_t error_size);
void
    metricshttp_destroy (metricshttp_t **self_p);

//  Where it listens, as "HOST:PORT" with the port resolved.
const char *
    metricshttp_address (metricshttp_t *self);

#endif
