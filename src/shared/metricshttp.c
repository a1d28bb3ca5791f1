/*  metricshttp - serve a metrics_t over HTTP; see metricshttp.h  */
#include "metricshttp.h"
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>

#define CONNECTION_LIMIT    16      //  a scraper or two, not the public
#define CONNECTION_TIMEOUT  10      //  seconds of silence before a close

struct _metricshttp_t {
    struct MHD_Daemon *daemon;
    metrics_t *metrics;             //  borrowed
    char address [64];
};

static enum MHD_Result
s_answer (struct MHD_Connection *connection, unsigned int status, const char *text,
          enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (
        strlen (text), (void *) text, mode);
    if (!response) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free ((void *) text);
        return MHD_NO;
    }
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE,
                             "text/plain; version=0.0.4; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response (connection, status, response);
    MHD_destroy_response (response);
    return rc;
}

//  libmicrohttpd's thread: only metrics_render, which reads atomics
static enum MHD_Result
s_handler (void *cls, struct MHD_Connection *connection, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **request_state)
{
    (void) version;
    (void) upload_data;
    metricshttp_t *self = (metricshttp_t *) cls;
    //  The first call for a request only announces its headers
    if (*request_state == NULL) {
        *request_state = self;
        return MHD_YES;
    }
    if (*upload_data_size) {
        *upload_data_size = 0;          //  a body is ignored
        return MHD_YES;
    }
    if (strcmp (method, MHD_HTTP_METHOD_GET) != 0 && strcmp (method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_answer (connection, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET\n",
                         MHD_RESPMEM_PERSISTENT);
    if (strcmp (url, "/metrics") != 0)
        return s_answer (connection, MHD_HTTP_NOT_FOUND, "metrics are at /metrics\n",
                         MHD_RESPMEM_PERSISTENT);
    char *text = metrics_render (self->metrics);
    if (!text)
        return s_answer (connection, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n",
                         MHD_RESPMEM_PERSISTENT);
    return s_answer (connection, MHD_HTTP_OK, text, MHD_RESPMEM_MUST_FREE);
}

//  "HOST:PORT" into a socket address. 0 or -1.
static int
s_parse (const char *bind, struct sockaddr_storage *addr, socklen_t *len, bool *ipv6)
{
    char host [64];
    const char *colon = strrchr (bind, ':');
    if (!colon || colon == bind)
        return -1;
    const char *start = bind, *end = colon;
    *ipv6 = bind [0] == '[';
    if (*ipv6) {
        if (end [-1] != ']')
            return -1;
        start++;
        end--;
    }
    size_t host_len = (size_t) (end - start);
    if (host_len == 0 || host_len >= sizeof host)
        return -1;
    memcpy (host, start, host_len);
    host [host_len] = 0;
    char *stop = NULL;
    errno = 0;
    long port = strtol (colon + 1, &stop, 10);
    if (errno || !stop || *stop || stop == colon + 1 || port < 0 || port > 65535)
        return -1;
    memset (addr, 0, sizeof *addr);
    if (*ipv6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) addr;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons ((uint16_t) port);
        if (inet_pton (AF_INET6, host, &in6->sin6_addr) != 1)
            return -1;
        *len = sizeof *in6;
    }
    else {
        struct sockaddr_in *in4 = (struct sockaddr_in *) addr;
        in4->sin_family = AF_INET;
        in4->sin_port = htons ((uint16_t) port);
        if (inet_pton (AF_INET, host, &in4->sin_addr) != 1)
            return -1;
        *len = sizeof *in4;
    }
    return 0;
}

metricshttp_t *
metricshttp_new (metrics_t *metrics, const char *bind, char *error, size_t error_size)
{
    assert (metrics && bind);
    struct sockaddr_storage addr;
    socklen_t len;
    bool ipv6;
    if (s_parse (bind, &addr, &len, &ipv6) != 0) {
        snprintf (error, error_size, "metrics address '%s' is not HOST:PORT with an IP "
                  "address (e.g. 127.0.0.1:9101 or [::1]:9101)", bind);
        return NULL;
    }
    metricshttp_t *self = (metricshttp_t *) calloc (1, sizeof *self);
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->metrics = metrics;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL
                       | (ipv6 ? MHD_USE_IPv6 : 0);
    uint16_t port = ntohs (ipv6 ? ((struct sockaddr_in6 *) &addr)->sin6_port
                                : ((struct sockaddr_in *) &addr)->sin_port);
    self->daemon = MHD_start_daemon (flags, port, NULL, NULL, s_handler, self,
                                     MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
                                     MHD_OPTION_CONNECTION_LIMIT, (unsigned int) CONNECTION_LIMIT,
                                     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) CONNECTION_TIMEOUT,
                                     MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (error, error_size, "cannot serve metrics on %s (address in use, or not "
                  "one of this machine's)", bind);
        free (self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_BIND_PORT);
    if (info && info->port)
        port = info->port;
    size_t host_len = (size_t) (strrchr (bind, ':') - bind);
    snprintf (self->address, sizeof self->address, "%.*s:%u", (int) host_len, bind,
              (unsigned) port);
    return self;
}

void
metricshttp_destroy (metricshttp_t **self_p)
{
    assert (self_p);
    metricshttp_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    free (self);
    *self_p = NULL;
}

const char *
metricshttp_address (metricshttp_t *self)
{
    assert (self);
    return self->address;
}
