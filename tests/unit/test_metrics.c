/*  test_metrics - metrics' Prometheus text, its histograms, reading while
    another thread writes, and metricshttp over a real socket  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chaterror.h"
#include "metrics.h"
#include "metricshttp.h"

//  The value of one sample line "name{labels} value", or -1 if absent
static double
s_sample (const char *text, const char *series)
{
    size_t len = strlen (series);
    const char *at = text;
    while ((at = strstr (at, series))) {
        if ((at == text || at [-1] == '\n') && at [len] == ' ')
            return atof (at + len + 1);
        at += len;
    }
    return -1;
}

static void
test_render (void **state)
{
    (void) state;
    metrics_t *metrics = metrics_new ("mainserver", "9.9.9");
    assert_non_null (metrics);
    metrics_request (metrics, "send-message", CHAT_OK);
    metrics_request (metrics, "send-message", CHAT_OK);
    metrics_request (metrics, "send-message", CHAT_ERR_NOT_FOUND);
    metrics_request (metrics, "login", CHAT_ERR_BAD_CERTIFICATE);
    metrics_handshake (metrics, CHAT_OK);
    metrics_handshake (metrics, CHAT_ERR_BUSY);
    metrics_refusal (metrics, CHAT_ERR_REPLAYED);
    metrics_quota_refusal (metrics, "messages-per-second");
    metrics_commit (metrics, 300, 3, true);            //  0.3 ms, 3 requests
    metrics_commit (metrics, 20000, 200, false);       //  20 ms, 200 requests
    metrics_pushes (metrics, 7, true);
    metrics_push_queue (metrics, 5);
    metrics_push_queue (metrics, 0);
    metrics_sessions (metrics, 1, 2, 3);
    metrics_store_bytes (metrics, 4096);
    assert_int_equal (metrics_requests (metrics, "send-message", -1), 3);
    assert_int_equal (metrics_requests (metrics, "send-message", CHAT_OK), 2);
    assert_int_equal (metrics_requests (metrics, "nothing", -1), 0);

    char *text = metrics_render (metrics);
    assert_non_null (text);
    assert_non_null (strstr (text, "# TYPE chat_requests_total counter\n"));
    assert_non_null (strstr (text, "# TYPE chat_commit_seconds histogram\n"));
    assert_true (s_sample (text, "chat_build_info{role=\"mainserver\",version=\"9.9.9\"}") == 1);
    assert_true (s_sample (text, "chat_requests_total{role=\"mainserver\",kind=\"send-message\","
                                 "code=\"OK\"}") == 2);
    assert_true (s_sample (text, "chat_requests_total{role=\"mainserver\",kind=\"send-message\","
                                 "code=\"ERR_NOT_FOUND\"}") == 1);
    assert_true (s_sample (text, "chat_requests_total{role=\"mainserver\",kind=\"login\","
                                 "code=\"ERR_BAD_CERTIFICATE\"}") == 1);
    assert_true (s_sample (text, "chat_handshakes_total{role=\"mainserver\",result=\"ERR_BUSY\"}") == 1);
    assert_true (s_sample (text, "chat_channel_refusals_total{role=\"mainserver\","
                                 "code=\"ERR_REPLAYED\"}") == 1);
    assert_true (s_sample (text, "chat_quota_refusals_total{role=\"mainserver\","
                                 "quota=\"messages-per-second\"}") == 1);
    //  Cumulative buckets: 0.3 ms is under 0.0005, 20 ms under 0.025
    assert_true (s_sample (text, "chat_commit_seconds_bucket{role=\"mainserver\",le=\"0.00025\"}") == 0);
    assert_true (s_sample (text, "chat_commit_seconds_bucket{role=\"mainserver\",le=\"0.0005\"}") == 1);
    assert_true (s_sample (text, "chat_commit_seconds_bucket{role=\"mainserver\",le=\"0.01\"}") == 1);
    assert_true (s_sample (text, "chat_commit_seconds_bucket{role=\"mainserver\",le=\"0.025\"}") == 2);
    assert_true (s_sample (text, "chat_commit_seconds_bucket{role=\"mainserver\",le=\"+Inf\"}") == 2);
    assert_true (s_sample (text, "chat_commit_seconds_count{role=\"mainserver\"}") == 2);
    assert_true (s_sample (text, "chat_commit_seconds_sum{role=\"mainserver\"}") > 0.0202);
    assert_true (s_sample (text, "chat_commit_batch_requests_bucket{role=\"mainserver\",le=\"4\"}") == 1);
    assert_true (s_sample (text, "chat_commit_batch_requests_bucket{role=\"mainserver\",le=\"256\"}") == 2);
    assert_true (s_sample (text, "chat_commit_batch_requests_sum{role=\"mainserver\"}") == 203);
    assert_true (s_sample (text, "chat_commit_failures_total{role=\"mainserver\"}") == 1);
    assert_true (s_sample (text, "chat_pushes_total{role=\"mainserver\",result=\"sent\"}") == 7);
    assert_true (s_sample (text, "chat_push_queue_depth{role=\"mainserver\"}") == 0);
    assert_true (s_sample (text, "chat_push_queue_depth_max{role=\"mainserver\"}") == 5);
    assert_true (s_sample (text, "chat_sessions{role=\"mainserver\",state=\"anonymous\"}") == 2);
    assert_true (s_sample (text, "chat_sessions{role=\"mainserver\",state=\"logged_in\"}") == 3);
    assert_true (s_sample (text, "chat_store_bytes{role=\"mainserver\"}") == 4096);
    //  Every line is a comment or "series value"
    char *line = text;
    while (*line) {
        char *end = strchr (line, '\n');
        assert_non_null (end);
        if (*line != '#')
            assert_non_null (memchr (line, ' ', (size_t) (end - line)));
        line = end + 1;
    }
    free (text);

    //  The key server shows no pushes; NULL objects are no-ops
    metrics_t *keys = metrics_new ("keyserver", "1");
    text = metrics_render (keys);
    assert_null (strstr (text, "chat_pushes_total"));
    free (text);
    metrics_destroy (&keys);
    metrics_request (NULL, "x", 0);
    metrics_commit (NULL, 1, 1, true);
    metrics_destroy (&metrics);
    assert_null (metrics);
}

//  Kinds past the table share "other"; codes past it share "other" too
static void
test_overflow (void **state)
{
    (void) state;
    metrics_t *metrics = metrics_new ("keyserver", "1");
    char kind [32];
    for (int index = 0; index < METRICS_MAX_KINDS + 5; index++) {
        snprintf (kind, sizeof kind, "kind-%d", index);
        metrics_request (metrics, kind, 1000 + index);
    }
    char *text = metrics_render (metrics);
    assert_true (s_sample (text, "chat_requests_total{role=\"keyserver\",kind=\"other\","
                                 "code=\"other\"}") == 5);
    free (text);
    metrics_destroy (&metrics);
}

//  One thread adds while another renders: every rendering is well formed
//  and counts never go backwards (run under TSan/ASan/valgrind too)
typedef struct {
    metrics_t *metrics;
    volatile int stop;
} writer_t;

static void *
s_writer (void *arg)
{
    writer_t *writer = (writer_t *) arg;
    static const char *kinds [] = { "a", "b", "c", "d" };
    size_t turn = 0;
    while (!writer->stop) {
        metrics_request (writer->metrics, kinds [turn % 4], (int) (turn % 3));
        metrics_commit (writer->metrics, (int64_t) (turn % 5000), turn % 300, true);
        metrics_sessions (writer->metrics, turn % 3, turn % 5, turn % 7);
        turn++;
    }
    return NULL;
}

static void
test_concurrent (void **state)
{
    (void) state;
    writer_t writer = { metrics_new ("mainserver", "1"), 0 };
    pthread_t thread;
    assert_int_equal (pthread_create (&thread, NULL, s_writer, &writer), 0);
    double last = 0;
    for (int round = 0; round < 200; round++) {
        char *text = metrics_render (writer.metrics);
        assert_non_null (text);
        double count = s_sample (text, "chat_commit_seconds_count{role=\"mainserver\"}");
        double inf = s_sample (text, "chat_commit_seconds_bucket{role=\"mainserver\",le=\"+Inf\"}");
        assert_true (count >= last);
        assert_true (count == inf);
        last = count;
        free (text);
    }
    writer.stop = 1;
    pthread_join (thread, NULL);
    metrics_destroy (&writer.metrics);
}

//  GET over a plain socket (the test's, not the server's)
static char *
s_get (int port, const char *request)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (fd >= 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
    assert_int_equal (connect (fd, (struct sockaddr *) &addr, sizeof addr), 0);
    assert_true (write (fd, request, strlen (request)) == (ssize_t) strlen (request));
    size_t size = 0, cap = 65536;
    char *answer = malloc (cap);
    ssize_t got;
    while ((got = read (fd, answer + size, cap - size - 1)) > 0)
        size += (size_t) got;
    answer [size] = 0;
    close (fd);
    return answer;
}

static void
test_http (void **state)
{
    (void) state;
    char error [256] = "";
    metrics_t *metrics = metrics_new ("keyserver", "1");
    metrics_request (metrics, "register", CHAT_OK);
    assert_null (metricshttp_new (metrics, "localhost:80", error, sizeof error));
    assert_non_null (strstr (error, "not HOST:PORT"));
    assert_null (metricshttp_new (metrics, "127.0.0.1:99999", error, sizeof error));
    assert_null (metricshttp_new (metrics, "[::1:5", error, sizeof error));

    metricshttp_t *http = metricshttp_new (metrics, "127.0.0.1:0", error, sizeof error);
    assert_non_null (http);
    const char *address = metricshttp_address (http);
    assert_true (strncmp (address, "127.0.0.1:", 10) == 0);
    int port = atoi (address + 10);
    assert_true (port > 0);

    char *answer = s_get (port, "GET /metrics HTTP/1.0\r\n\r\n");
    assert_non_null (strstr (answer, "HTTP/1.0 200") ? strstr (answer, "HTTP/1.0 200")
                                                      : strstr (answer, "HTTP/1.1 200"));
    assert_non_null (strstr (answer, "text/plain; version=0.0.4"));
    assert_non_null (strstr (answer, "chat_requests_total{role=\"keyserver\",kind=\"register\","
                                     "code=\"OK\"} 1"));
    free (answer);
    answer = s_get (port, "GET /other HTTP/1.0\r\n\r\n");
    assert_non_null (strstr (answer, " 404 "));
    free (answer);
    answer = s_get (port, "DELETE /metrics HTTP/1.0\r\n\r\n");
    assert_non_null (strstr (answer, " 405 "));
    free (answer);

    //  The same port twice: refused with a reason
    char taken [64];
    snprintf (taken, sizeof taken, "127.0.0.1:%d", port);
    assert_null (metricshttp_new (metrics, taken, error, sizeof error));
    assert_non_null (strstr (error, "cannot serve metrics"));
    metricshttp_destroy (&http);
    assert_null (http);
    metrics_destroy (&metrics);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_render),
        cmocka_unit_test (test_overflow),
        cmocka_unit_test (test_concurrent),
        cmocka_unit_test (test_http),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
