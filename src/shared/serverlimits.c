/*  serverlimits - the abuse limits of both servers; see limits.h

    One table says everything about a limit: its name, where it lives in
    serverlimits_t, which server has it, its default there, its range and what it
    counts. Everything else (defaults, parsing, --help, the start log) walks
    the table, so adding a limit is adding a row.
*/
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "serverlimits.h"
#include "service.h"

#define KEY  SERVERLIMITS_KEYSERVER
#define MAIN SERVERLIMITS_MAINSERVER
#define BOTH (SERVERLIMITS_KEYSERVER | SERVERLIMITS_MAINSERVER)
#define MIB  (1024LL * 1024)

typedef struct {
    const char *name;
    size_t offset;
    int roles;
    int64_t key_default;
    int64_t main_default;
    int64_t min;
    int64_t max;
    const char *help;
} limit_def_t;

#define AT(field) offsetof (serverlimits_t, field)

static const limit_def_t s_limits [] = {
    { "handshakes_per_second", AT (handshakes_per_second), BOTH, 1000, 1000, 0, 1000000,
      "handshakes started per second, all addresses together" },
    { "handshake_burst", AT (handshake_burst), BOTH, 2000, 2000, 1, 10000000,
      "handshakes that may start at once, all addresses together" },
    { "handshakes_per_second_per_address", AT (handshakes_per_second_per_address), BOTH,
      50, 50, 0, 1000000, "handshakes started per second from one address (IPv6: /64)" },
    { "handshake_burst_per_address", AT (handshake_burst_per_address), BOTH, 200, 200,
      1, 10000000, "handshakes that may start at once from one address" },
    { "handshakes_pending", AT (handshakes_pending), BOTH, 1000, 1000, 0, 1000000,
      "handshakes waiting for an RSA worker" },
    { "sessions", AT (sessions), BOTH, 20000, 50000, 0, 100000000,
      "sessions in all" },
    { "sessions_per_address", AT (sessions_per_address), BOTH, 2000, 2000, 0, 100000000,
      "sessions whose handshake came from one address" },
    { "sessions_per_user", AT (sessions_per_user), BOTH, 32, 32, 0, 100000000,
      "sessions logged in as one user" },
    { "login_timeout_ms", AT (login_timeout_ms), BOTH, 30000, 30000, 0, 86400000,
      "a session not logged in is dropped this long after its handshake or its last "
      "step towards a login" },
    { "idle_timeout_ms", AT (idle_timeout_ms), BOTH, 3600000, 300000, 0, 31536000000LL,
      "a logged-in session that sends nothing this long is dropped" },
    { "login_failures_per_user", AT (login_failures_per_user), KEY, 5, 0, 1, 1000000,
      "failed logins for one username from one address before each attempt must wait" },
    { "login_backoff_ms", AT (login_backoff_ms), KEY, 1000, 0, 0, 86400000,
      "the first such wait; it doubles with each further failure" },
    { "login_backoff_max_ms", AT (login_backoff_max_ms), KEY, 300000, 0, 0, 86400000,
      "the longest such wait" },
    { "login_failures_per_address_per_hour", AT (login_failures_per_address_per_hour), KEY,
      300, 0, 0, 100000000, "failed logins from one address, any usernames, per hour" },
    { "login_tracked", AT (login_tracked), KEY, 100000, 0, 1, 100000000,
      "(address, username) pairs and addresses the back-off remembers; the least "
      "recently used is forgotten first" },
    { "push_hwm", AT (push_hwm), MAIN, 0, 32, 1, 1000000,
      "pushes queued for one subscriber that does not read; more are dropped (also a "
      "burst of more than this to one session at once)" },
    { "push_queue_bytes", AT (push_queue_bytes), MAIN, 0, 64 * MIB, 0, 1024 * 1024 * MIB,
      "bytes of pushes waiting to be sealed; more are dropped" },
    { "push_workers", AT (push_workers), MAIN, 0, 0, 0, 64,
      "threads that seal pushes (0: one per core, at most 8)" },
    { "messages_per_second", AT (messages_per_second), MAIN, 0, 20, 0, 1000000,
      "messages one user sends per second" },
    { "message_burst", AT (message_burst), MAIN, 0, 200, 1, 100000000,
      "messages one user may send at once" },
    { "bytes_per_day", AT (bytes_per_day), MAIN, 0, 256 * MIB, 0, 1024 * 1024 * MIB,
      "bytes of message tokens one user stores per day (at most this much at once)" },
    { "conversations_per_hour", AT (conversations_per_hour), MAIN, 0, 120, 0, 100000000,
      "conversations one user creates per hour (at most this many at once)" },
    { "added_per_hour", AT (added_per_hour), MAIN, 0, 100, 0, 100000000,
      "conversations others put one user in per hour, by creating or adding (at most "
      "this many at once)" },
    { "quota_users", AT (quota_users), MAIN, 0, 100000, 1, 100000000,
      "users whose quotas are remembered; the least recently active is forgotten first" },
};

#define LIMIT_COUNT (sizeof s_limits / sizeof s_limits [0])

static int64_t *
s_field (serverlimits_t *self, const limit_def_t *def)
{
    return (int64_t *) ((char *) self + def->offset);
}

static const limit_def_t *
s_find (const char *name, serverlimits_role_t role)
{
    for (size_t i = 0; i < LIMIT_COUNT; i++)
        if ((s_limits [i].roles & (int) role) && streq (s_limits [i].name, name))
            return &s_limits [i];
    return NULL;
}

void
serverlimits_defaults (serverlimits_t *self, serverlimits_role_t role)
{
    assert (self);
    memset (self, 0, sizeof *self);
    for (size_t i = 0; i < LIMIT_COUNT; i++)
        if (s_limits [i].roles & (int) role)
            *s_field (self, &s_limits [i]) = role == SERVERLIMITS_KEYSERVER
                                           ? s_limits [i].key_default
                                           : s_limits [i].main_default;
}

int
serverlimits_set (serverlimits_t *self, serverlimits_role_t role, const char *name, const char *value,
            char *error, size_t error_size)
{
    assert (self && name);
    const limit_def_t *def = s_find (name, role);
    if (!def) {
        snprintf (error, error_size, "no limit named '%s' here (see --help)", name);
        return -1;
    }
    char *end = NULL;
    errno = 0;
    long long number = value ? strtoll (value, &end, 10) : 0;
    if (!value || !*value || errno || *end) {
        snprintf (error, error_size, "limit %s wants a whole number, not '%s'", name,
                  value ? value : "");
        return -1;
    }
    if (number < def->min || number > def->max) {
        snprintf (error, error_size, "limit %s must be %lld..%lld, not %lld", name,
                  (long long) def->min, (long long) def->max, number);
        return -1;
    }
    *s_field (self, def) = number;
    return 0;
}

int
serverlimits_set_assignment (serverlimits_t *self, serverlimits_role_t role, const char *text,
                       char *error, size_t error_size)
{
    const char *equals = text ? strchr (text, '=') : NULL;
    if (!equals || equals == text || equals - text > 63) {
        snprintf (error, error_size, "--limit wants NAME=VALUE, not '%s'", text ? text : "");
        return -1;
    }
    char name [64];
    memcpy (name, text, (size_t) (equals - text));
    name [equals - text] = 0;
    return serverlimits_set (self, role, name, equals + 1, error, error_size);
}

int
serverlimits_set_assignments (serverlimits_t *self, serverlimits_role_t role,
                              zlist_t *assignments, char *error, size_t error_size)
{
    const char *assignment = assignments ? (const char *) zlist_first (assignments) : NULL;
    while (assignment) {
        if (serverlimits_set_assignment (self, role, assignment, error, error_size) != 0)
            return -1;
        assignment = (const char *) zlist_next (assignments);
    }
    return 0;
}

int
serverlimits_load_config (serverlimits_t *self, serverlimits_role_t role, zconfig_t *config,
                    const char *path, char *error, size_t error_size)
{
    zconfig_t *section = config ? zconfig_locate (config, path) : NULL;
    zconfig_t *item = section ? zconfig_child (section) : NULL;
    while (item) {
        if (serverlimits_set (self, role, zconfig_name (item), zconfig_value (item),
                        error, error_size) != 0)
            return -1;
        item = zconfig_next (item);
    }
    return 0;
}

int
serverlimits_each (const serverlimits_t *self, serverlimits_role_t role,
                   serverlimits_fn *fn, void *arg)
{
    for (size_t i = 0; i < LIMIT_COUNT; i++) {
        if (!(s_limits [i].roles & (int) role))
            continue;
        int rc = fn (s_limits [i].name, *s_field ((serverlimits_t *) self, &s_limits [i]), arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

typedef struct {
    zsock_t *actor;
    const char *prog;
} send_t;

static int
s_send_one (const char *name, int64_t value, void *arg)
{
    send_t *send = (send_t *) arg;
    char text [32];
    snprintf (text, sizeof text, "%lld", (long long) value);
    zstr_sendx (send->actor, "LIMIT", name, text, NULL);
    char *answer = service_recv (send->actor);
    int rc = answer && streq (answer, "OK") ? 0 : -1;
    if (rc != 0)
        service_complain (send->prog, "limit %s refused: %s", name,
                          answer ? answer : "no answer");
    zstr_free (&answer);
    return rc;
}

int
serverlimits_send (const serverlimits_t *self, serverlimits_role_t role, zsock_t *actor,
                   const char *prog)
{
    send_t send = { actor, prog };
    return serverlimits_each (self, role, s_send_one, &send);
}

void
serverlimits_print_help (serverlimits_role_t role, FILE *out)
{
    for (size_t i = 0; i < LIMIT_COUNT; i++) {
        if (!(s_limits [i].roles & (int) role))
            continue;
        long long value = role == SERVERLIMITS_KEYSERVER ? s_limits [i].key_default
                                                   : s_limits [i].main_default;
        fprintf (out, "  %-36s %lld\n      %s\n", s_limits [i].name, value,
                 s_limits [i].help);
    }
}

char *
serverlimits_summary (const serverlimits_t *self, serverlimits_role_t role)
{
    char *text = strdup ("");
    for (size_t i = 0; text && i < LIMIT_COUNT; i++) {
        if (!(s_limits [i].roles & (int) role))
            continue;
        char *longer = zsys_sprintf ("%s%s%s=%lld", text, *text ? " " : "",
                                     s_limits [i].name,
                                     (long long) *s_field ((serverlimits_t *) self, &s_limits [i]));
        free (text);
        text = longer;
    }
    assert (text);
    return text;
}
