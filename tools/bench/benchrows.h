/*  benchrows - the rows the two loads of the messages shape share
    (messages with real clients, messages-raw with raw sessions), so that
    both report the same figures under the same names
*/
#ifndef BENCHROWS_H_INCLUDED
#define BENCHROWS_H_INCLUDED

#include "bench.h"
#include "benchstats.h"

//  As fast as acks allow: messages/s (acks over elapsed_s), pushes/s (over
//  push_elapsed_s), send->ack p50 and p99, send->push p99. Returns the rate.
double
    benchrows_max (bench_t *bench, const char *name, const char *figure, size_t acks,
                   double elapsed_s, size_t pushes, double push_elapsed_s,
                   benchstats_t *ack_us, benchstats_t *push_us);

//  At a fixed rate: messages/s sent, send->ack p50/p90/p99/max,
//  send->push p50/p90/p99/max; the p99 of pushes is held to target_ms
//  (target_text) when rate is TARGET_PUSH_RATE.
void
    benchrows_rate (bench_t *bench, const char *name, int rate, size_t sent,
                    double send_elapsed_s, benchstats_t *ack_us, benchstats_t *push_us,
                    double target_ms, const char *target_text);

//  The main server's CPU per message (server_ms over messages) beside its
//  floor, and what that makes per busy core. Nothing when server_ms <= 0.
void
    benchrows_server_cpu (bench_t *bench, const char *name, const char *phase,
                          double server_ms, size_t messages);

#endif
