/*  test_ratelimit - the login back-off policy, on a clock the test holds  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "ratelimit.h"

#define T0 1000000000000LL

static void
test_policy (void **state)
{
    (void) state;
    ratelimit_t *limit = ratelimit_new ();
    ratelimit_counter_t session = { 0 };
    //  Four failures: no wait at all
    for (int i = 0; i < 4; i++) {
        assert_int_equal (ratelimit_check (limit, "Alice", &session, T0), 0);
        ratelimit_failure (limit, "Alice", &session, T0);
    }
    assert_int_equal (ratelimit_check (limit, "alice", NULL, T0), 0);
    //  The 5th: 1 s from the last failure, in any case of the name
    ratelimit_failure (limit, "ALICE", NULL, T0);
    assert_int_equal (ratelimit_check (limit, "alice", NULL, T0), 1000);
    assert_int_equal (ratelimit_check (limit, "alice", NULL, T0 + 400), 600);
    assert_int_equal (ratelimit_check (limit, "alice", NULL, T0 + 1000), 0);
    //  Then 2, 4, 8 ... s
    int64_t expected = 2000;
    for (int n = 6; n <= 12; n++, expected *= 2) {
        ratelimit_failure (limit, "alice", NULL, T0);
        assert_int_equal (ratelimit_check (limit, "alice", NULL, T0), expected);
    }
    //  ...at most 300 s, however many failures
    for (int n = 0; n < 100; n++)
        ratelimit_failure (limit, "alice", NULL, T0);
    assert_int_equal (ratelimit_check (limit, "alice", NULL, T0), 300000);
    //  Other names are free; success clears the name
    assert_int_equal (ratelimit_check (limit, "bob", NULL, T0), 0);
    ratelimit_success (limit, "Alice");
    assert_int_equal (ratelimit_check (limit, "alice", NULL, T0), 0);
    //  The session counter (4 failures) is its own
    assert_int_equal (session.failures, 4);
    ratelimit_failure (limit, "carol", &session, T0);
    assert_int_equal (ratelimit_check (limit, "dave", &session, T0 + 10), 990);
    ratelimit_destroy (&limit);
    assert_null (limit);
}

static void
test_prune_and_invalid (void **state)
{
    (void) state;
    ratelimit_t *limit = ratelimit_new ();
    ratelimit_failure (limit, "old", NULL, T0);
    ratelimit_failure (limit, "new", NULL, T0 + RATELIMIT_FORGET_MS);
    //  Names that cannot exist are never tracked
    ratelimit_failure (limit, "no such name", NULL, T0);
    ratelimit_failure (limit, NULL, NULL, T0);
    assert_int_equal (ratelimit_size (limit), 2);
    assert_int_equal (ratelimit_prune (limit, T0 + RATELIMIT_FORGET_MS + 1), 1);
    assert_int_equal (ratelimit_size (limit), 1);
    //  A changed policy applies at once
    for (int i = 0; i < 4; i++)
        ratelimit_failure (limit, "new", NULL, T0 + RATELIMIT_FORGET_MS);
    ratelimit_set_policy (limit, 5, 60000, 300000);
    assert_int_equal (ratelimit_check (limit, "new", NULL, T0 + RATELIMIT_FORGET_MS), 60000);
    ratelimit_destroy (&limit);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_policy),
        cmocka_unit_test (test_prune_and_invalid),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
