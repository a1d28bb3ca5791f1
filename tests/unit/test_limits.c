/*  test_limits - what every abuse limit is built from: token buckets
    (bucket), the bounded map that forgets the least recently used
    (lrumap), and the table of limits (serverlimits)
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include "bucket.h"
#include "lrumap.h"
#include "serverlimits.h"

#define T0 1000000000000LL

static void
test_bucket (void **state)
{
    (void) state;
    bucket_t bucket = { 0, 0 };
    //  New: full (burst 3), then 2 a second
    for (int i = 0; i < 3; i++)
        assert_int_equal (bucket_take (&bucket, 2, 3, 1, T0), 0);
    assert_int_equal (bucket_take (&bucket, 2, 3, 1, T0), 500);
    assert_int_equal (bucket_wait (&bucket, 2, 3, 1, T0 + 200), 300);
    assert_int_equal (bucket_take (&bucket, 2, 3, 1, T0 + 500), 0);
    assert_false (bucket_full (&bucket, 2, 3, T0 + 500));
    assert_true (bucket_full (&bucket, 2, 3, T0 + 2000));
    //  Costs above one; a cost above the burst can never be paid
    assert_int_equal (bucket_take (&bucket, 2, 3, 3, T0 + 2000), 0);
    assert_int_equal (bucket_wait (&bucket, 2, 3, 4, T0 + 10000), INT64_MAX);
    //  Rate 0: no limit at all
    assert_int_equal (bucket_take (&bucket, 0, 3, 1000, T0), 0);
    //  A charge may go below zero (a failure known after the fact), at
    //  most one burst
    bucket_t debt = { 0, 0 };
    for (int i = 0; i < 10; i++)
        bucket_charge (&debt, 1, 2, 1, T0);
    assert_int_equal (bucket_wait (&debt, 1, 2, 1, T0), 3000);
}

static bool
s_odd (const char *key, void *value, void *arg)
{
    (void) key;
    (void) arg;
    return *(int *) value % 2 == 1;
}

static void
test_lrumap (void **state)
{
    (void) state;
    lrumap_t *map = lrumap_new (3, sizeof (int));
    char key [16];
    for (int i = 0; i < 3; i++) {
        snprintf (key, sizeof key, "k%d", i);
        int *value = (int *) lrumap_get (map, key);
        assert_int_equal (*value, 0);
        *value = i;
    }
    //  k0 used again: k1 is now the least recently used, and goes first
    assert_int_equal (*(int *) lrumap_lookup (map, "k0"), 0);
    *(int *) lrumap_get (map, "k3") = 3;
    assert_int_equal (lrumap_size (map), 3);
    assert_int_equal (lrumap_evicted (map), 1);
    assert_null (lrumap_lookup (map, "k1"));
    assert_non_null (lrumap_lookup (map, "k0"));
    //  A new key always gets in, however many come: it is never refused
    for (int i = 100; i < 1000; i++) {
        snprintf (key, sizeof key, "k%d", i);
        *(int *) lrumap_get (map, key) = i;
        assert_non_null (lrumap_lookup (map, key));
    }
    assert_int_equal (lrumap_size (map), 3);
    assert_int_equal (*(int *) lrumap_lookup (map, "k999"), 999);
    //  Purge by test; delete; a smaller capacity forgets at once
    assert_int_equal (lrumap_purge (map, s_odd, NULL), 2);
    assert_int_equal (lrumap_size (map), 1);
    assert_non_null (lrumap_lookup (map, "k998"));
    lrumap_delete (map, "k998");
    assert_int_equal (lrumap_size (map), 0);
    for (int i = 0; i < 3; i++) {
        snprintf (key, sizeof key, "x%d", i);
        lrumap_get (map, key);
    }
    lrumap_set_capacity (map, 1);
    assert_int_equal (lrumap_size (map), 1);
    assert_non_null (lrumap_lookup (map, "x2"));
    lrumap_destroy (&map);
    assert_null (map);
}

static void
test_serverlimits (void **state)
{
    (void) state;
    serverlimits_t limits;
    char error [256];
    serverlimits_defaults (&limits, SERVERLIMITS_MAINSERVER);
    assert_int_equal (limits.idle_timeout_ms, 300000);
    assert_int_equal (limits.messages_per_second, 20);
    assert_int_equal (limits.login_failures_per_user, 0);       //  not the main server's
    serverlimits_defaults (&limits, SERVERLIMITS_KEYSERVER);
    assert_int_equal (limits.idle_timeout_ms, 3600000);
    assert_int_equal (limits.login_failures_per_user, 5);
    assert_int_equal (limits.messages_per_second, 0);

    assert_int_equal (serverlimits_set (&limits, SERVERLIMITS_KEYSERVER, "sessions", "7",
                                        error, sizeof error), 0);
    assert_int_equal (limits.sessions, 7);
    assert_int_equal (serverlimits_set_assignment (&limits, SERVERLIMITS_KEYSERVER,
                                                   "login_timeout_ms=1500", error,
                                                   sizeof error), 0);
    assert_int_equal (limits.login_timeout_ms, 1500);
    //  Refused: another server's limit, no such limit, not a number, out
    //  of range, no '='
    assert_int_equal (serverlimits_set (&limits, SERVERLIMITS_KEYSERVER, "push_hwm", "4",
                                        error, sizeof error), -1);
    assert_non_null (strstr (error, "push_hwm"));
    assert_int_equal (serverlimits_set (&limits, SERVERLIMITS_KEYSERVER, "nonsense", "4",
                                        error, sizeof error), -1);
    assert_int_equal (serverlimits_set (&limits, SERVERLIMITS_KEYSERVER, "sessions", "4x",
                                        error, sizeof error), -1);
    assert_int_equal (serverlimits_set (&limits, SERVERLIMITS_KEYSERVER, "sessions", "-1",
                                        error, sizeof error), -1);
    assert_int_equal (serverlimits_set (&limits, SERVERLIMITS_KEYSERVER, "handshake_burst",
                                        "0", error, sizeof error), -1);
    assert_int_equal (serverlimits_set_assignment (&limits, SERVERLIMITS_KEYSERVER,
                                                   "sessions", error, sizeof error), -1);
    assert_int_equal (limits.sessions, 7);

    //  From a config file: keyserver/limits/NAME = VALUE
    zconfig_t *config = zconfig_str_load ("keyserver\n    limits\n        sessions = 9\n"
                                          "        sessions_per_user = 3\n");
    assert_non_null (config);
    assert_int_equal (serverlimits_load_config (&limits, SERVERLIMITS_KEYSERVER, config,
                                                "keyserver/limits", error, sizeof error), 0);
    assert_int_equal (limits.sessions, 9);
    assert_int_equal (limits.sessions_per_user, 3);
    //  ...and nothing at all when the section is not there
    assert_int_equal (serverlimits_load_config (&limits, SERVERLIMITS_KEYSERVER, config,
                                                "mainserver/limits", error, sizeof error), 0);
    zconfig_destroy (&config);
    config = zconfig_str_load ("keyserver\n    limits\n        bogus = 1\n");
    assert_int_equal (serverlimits_load_config (&limits, SERVERLIMITS_KEYSERVER, config,
                                                "keyserver/limits", error, sizeof error), -1);
    zconfig_destroy (&config);

    char *summary = serverlimits_summary (&limits, SERVERLIMITS_KEYSERVER);
    assert_non_null (strstr (summary, "sessions=9 "));
    assert_null (strstr (summary, "push_hwm"));
    free (summary);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_bucket),
        cmocka_unit_test (test_lrumap),
        cmocka_unit_test (test_serverlimits),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
