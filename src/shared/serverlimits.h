/*  serverlimits - every abuse limit of a server in one place: the names, the
    defaults, the ranges, and setting them from a command line
    (--limit NAME=VALUE) or a zconfig file (<role>/limits/NAME)

    Each server keeps one serverlimits_t and applies all of it whenever any value
    changes (the LIMIT pipe command), so that a configuration reloaded later
    is applied the same way as the one read at start. A value of 0 turns a
    rate or cap off (tests, benchmarks); what a limit counts is in its name
    and in `--help`. Defaults are meant never to be met by a person using
    the system, nor by an office of people behind one NAT address; what
    they are chosen against is in proto/README.md ("Limits").
*/
#ifndef SERVERLIMITS_H_INCLUDED
#define SERVERLIMITS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <czmq.h>

typedef enum {
    SERVERLIMITS_KEYSERVER = 1,
    SERVERLIMITS_MAINSERVER = 2
} serverlimits_role_t;

typedef struct {
    //  Handshakes and sessions (both servers; chanserver applies them)
    int64_t handshakes_per_second;              //  all addresses together
    int64_t handshake_burst;
    int64_t handshakes_per_second_per_address;
    int64_t handshake_burst_per_address;
    int64_t handshakes_pending;                 //  queued for the RSA workers
    int64_t sessions;                           //  in the table, in total
    int64_t sessions_per_address;
    int64_t sessions_per_user;                  //  logged in as one user
    int64_t login_timeout_ms;                   //  a session not logged in
    int64_t idle_timeout_ms;                    //  a session silent this long
    //  Key server: failed logins
    int64_t login_failures_per_user;            //  per (address, user) before back-off
    int64_t login_backoff_ms;                   //  first wait; doubles
    int64_t login_backoff_max_ms;
    int64_t login_failures_per_address_per_hour;
    int64_t login_tracked;                      //  entries the back-off remembers
    //  Main server: pushes and per-user quotas
    int64_t push_hwm;                           //  pushes queued per subscriber
    int64_t push_queue_bytes;                   //  pushes waiting to be sealed
    int64_t push_workers;                       //  sealing threads (0: one per core)
    int64_t messages_per_second;                //  per user
    int64_t message_burst;
    int64_t bytes_per_day;                      //  message tokens stored, per user
    int64_t conversations_per_hour;             //  created, per user
    int64_t added_per_hour;                     //  others add one user to, per hour
    int64_t quota_users;                        //  users the quotas remember
} serverlimits_t;

//  The defaults for a role.
void
    serverlimits_defaults (serverlimits_t *self, serverlimits_role_t role);

//  Set one limit by name. 0 ok; -1 with the reason in error (unknown for
//  this role, not a number, out of range).
int
    serverlimits_set (serverlimits_t *self, serverlimits_role_t role, const char *name,
                const char *value, char *error, size_t error_size);

//  "NAME=VALUE", as --limit takes it.
int
    serverlimits_set_assignment (serverlimits_t *self, serverlimits_role_t role, const char *text,
                           char *error, size_t error_size);

//  Each "NAME=VALUE" of a list (zlist of char *, e.g. every --limit given),
//  in order. 0, or -1 at the first bad one.
int
    serverlimits_set_assignments (serverlimits_t *self, serverlimits_role_t role,
                                  zlist_t *assignments, char *error, size_t error_size);

//  Every child of the config path (e.g. "keyserver/limits") as NAME = VALUE.
//  0, or -1 at the first bad one.
int
    serverlimits_load_config (serverlimits_t *self, serverlimits_role_t role, zconfig_t *config,
                        const char *path, char *error, size_t error_size);

//  Call fn for every limit of the role, in the table's order, with its
//  name and value: to hand them to a server (LIMIT commands). Stops at the
//  first fn that returns non-zero, and returns that; else 0.
typedef int (serverlimits_fn) (const char *name, int64_t value, void *arg);
int
    serverlimits_each (const serverlimits_t *self, serverlimits_role_t role,
                       serverlimits_fn *fn, void *arg);

//  Every limit of the role to a server actor as LIMIT NAME VALUE commands,
//  each answered "OK" (read with service_recv, so that a SIGHUP on the way
//  costs nothing). 0, or -1 at the first refused, said with
//  service_complain under prog's name.
int
    serverlimits_send (const serverlimits_t *self, serverlimits_role_t role,
                       zsock_t *actor, const char *prog);

//  The table for --help: name, default, what it counts.
void
    serverlimits_print_help (serverlimits_role_t role, FILE *out);

//  One line: every limit of the role as NAME=VALUE (for the start log).
char *
    serverlimits_summary (const serverlimits_t *self, serverlimits_role_t role);

#endif
