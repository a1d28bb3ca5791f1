/*  benchrows - the rows of the messages shape; see benchrows.h  */
#include <stdio.h>
#include "benchrows.h"

double
benchrows_max (bench_t *bench, const char *name, const char *figure, size_t acks,
               double elapsed_s, size_t pushes, double push_elapsed_s,
               benchstats_t *ack_us, benchstats_t *push_us)
{
    double rate = elapsed_s > 0? (double) acks / elapsed_s: 0;
    benchreport_add (bench->report, name, figure, rate, "/s", "zmq-msg", bench->zmq_msgs_per_s,
                     BENCH_AT_LEAST, TARGET_MESSAGES_PER_S, ">= 50000/s");
    benchreport_add (bench->report, name, "pushes delivered/s (same run)",
                     push_elapsed_s > 0? (double) pushes / push_elapsed_s: 0, "/s",
                     NULL, 0, BENCH_NO_TARGET, 0, NULL);
    double rtt = bench->zmq_rtt_p50_us / 1000;
    benchreport_add (bench->report, name, "send->ack p50 (max rate)",
                     benchstats_percentile (ack_us, 50) / 1000, "ms", "zmq-rtt", rtt,
                     BENCH_NO_TARGET, 0, NULL);
    benchreport_add (bench->report, name, "send->ack p99 (max rate)",
                     benchstats_percentile (ack_us, 99) / 1000, "ms", "zmq-rtt", rtt,
                     BENCH_NO_TARGET, 0, NULL);
    benchreport_add (bench->report, name, "send->push p99 (max rate)",
                     benchstats_percentile (push_us, 99) / 1000, "ms", "zmq-rtt", rtt,
                     BENCH_NO_TARGET, 0, NULL);
    return rate;
}

void
benchrows_rate (bench_t *bench, const char *name, int rate, size_t sent,
                double send_elapsed_s, benchstats_t *ack_us, benchstats_t *push_us,
                double target_ms, const char *target_text)
{
    char figure [64];
    snprintf (figure, sizeof figure, "messages/s sent (asked %d/s)", rate);
    benchreport_add (bench->report, name, figure,
                     send_elapsed_s > 0? (double) sent / send_elapsed_s: 0, "/s",
                     NULL, 0, BENCH_NO_TARGET, 0, NULL);
    double rtt = bench->zmq_rtt_p50_us / 1000;
    static const double points [] = { 50, 90, 99 };
    for (int i = 0; i < 3; i++) {
        snprintf (figure, sizeof figure, "send->ack p%.0f at %d/s", points [i], rate);
        benchreport_add (bench->report, name, figure,
                         benchstats_percentile (ack_us, points [i]) / 1000, "ms",
                         "zmq-rtt", rtt, BENCH_NO_TARGET, 0, NULL);
    }
    snprintf (figure, sizeof figure, "send->ack max at %d/s", rate);
    benchreport_add (bench->report, name, figure, benchstats_max (ack_us) / 1000, "ms",
                     "zmq-rtt", rtt, BENCH_NO_TARGET, 0, NULL);
    for (int i = 0; i < 3; i++) {
        snprintf (figure, sizeof figure, "send->push p%.0f at %d/s", points [i], rate);
        bool target = points [i] == 99 && rate == (int) TARGET_PUSH_RATE;
        benchreport_add (bench->report, name, figure,
                         benchstats_percentile (push_us, points [i]) / 1000, "ms",
                         "fsync-p99", bench->fsync_p99_ms,
                         target? BENCH_AT_MOST: BENCH_NO_TARGET, target_ms,
                         target? target_text: NULL);
    }
    snprintf (figure, sizeof figure, "send->push max at %d/s", rate);
    benchreport_add (bench->report, name, figure, benchstats_max (push_us) / 1000, "ms",
                     "zmq-rtt", rtt, BENCH_NO_TARGET, 0, NULL);
}

void
benchrows_server_cpu (bench_t *bench, const char *name, const char *phase, double server_ms,
                      size_t messages)
{
    if (server_ms <= 0 || !messages)
        return;
    double per_us = server_ms * 1000 / (double) messages;
    char figure [64], target [32];
    snprintf (figure, sizeof figure, "main server CPU per message (%s)", phase);
    snprintf (target, sizeof target, "<= %.0fx floor", TARGET_SERVER_FLOOR);
    benchreport_add (bench->report, name, figure, per_us, "us", "floor",
                     bench->floor_server_us, BENCH_AT_MOST,
                     TARGET_SERVER_FLOOR * bench->floor_server_us, target);
    snprintf (figure, sizeof figure, "messages/s per busy server core (%s)", phase);
    benchreport_add (bench->report, name, figure, 1e6 / per_us, "/s", "zmq-msg",
                     bench->zmq_msgs_per_s, BENCH_NO_TARGET, 0, NULL);
}
