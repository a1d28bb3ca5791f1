/*  test_ratelimit - the login back-off policy, on a clock the test holds  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include "ratelimit.h"

#define T0 1000000000000LL
#define GUESSER "192.0.2.66"
#define OWNER   "198.51.100.7"

//  Per (address, username): 1, 2, 4 ... s after the fifth failure, at most
//  300 s; other addresses and other names are not touched
static void
test_pair_backoff (void **state)
{
    (void) state;
    ratelimit_t *limit = ratelimit_new ();
    //  Four failures: no wait at all
    for (int i = 0; i < 4; i++) {
        assert_int_equal (ratelimit_check (limit, GUESSER, "Alice", T0), 0);
        ratelimit_failure (limit, GUESSER, "Alice", T0);
    }
    assert_int_equal (ratelimit_check (limit, GUESSER, "alice", T0), 0);
    //  The 5th: 1 s from the last failure, in any case of the name
    ratelimit_failure (limit, GUESSER, "ALICE", T0);
    assert_int_equal (ratelimit_check (limit, GUESSER, "alice", T0), 1000);
    assert_int_equal (ratelimit_check (limit, GUESSER, "alice", T0 + 400), 600);
    assert_int_equal (ratelimit_check (limit, GUESSER, "alice", T0 + 1000), 0);
    //  Then 2, 4, 8 ... s
    int64_t expected = 2000;
    for (int n = 6; n <= 12; n++, expected *= 2) {
        ratelimit_failure (limit, GUESSER, "alice", T0);
        assert_int_equal (ratelimit_check (limit, GUESSER, "alice", T0), expected);
    }
    //  ...at most 300 s, however many failures (the address's own bucket
    //  of 300 an hour is empty by now too, but owes less than that)
    for (int n = 0; n < 100; n++)
        ratelimit_failure (limit, GUESSER, "alice", T0);
    assert_int_equal (ratelimit_check (limit, GUESSER, "alice", T0), 300000);
    //  The owner, elsewhere, is not slowed at all: the attack of issue 12
    //  (one wrong guess each time the back-off ends) no longer locks it out
    assert_int_equal (ratelimit_check (limit, OWNER, "alice", T0), 0);
    //  Success clears the pair, not the address
    ratelimit_success (limit, GUESSER, "Alice");
    assert_true (ratelimit_check (limit, GUESSER, "alice", T0) < 300000);
    ratelimit_destroy (&limit);
    assert_null (limit);
}

//  Per address: failures with any names, and with names that cannot
//  exist, empty a bucket of per_hour; a success does not refill it
static void
test_address_bucket (void **state)
{
    (void) state;
    ratelimit_t *limit = ratelimit_new ();
    ratelimit_set_policy (limit, 5, 1000, 300000, 10, 1000);
    char name [32];
    for (int i = 0; i < 9; i++) {
        snprintf (name, sizeof name, "sprayed%d", i);
        assert_int_equal (ratelimit_check (limit, GUESSER, name, T0), 0);
        ratelimit_failure (limit, GUESSER, name, T0);
    }
    ratelimit_failure (limit, GUESSER, "no such name!", T0);
    ratelimit_failure (limit, GUESSER, NULL, T0);
    //  Eleven failures against ten an hour: one owed, so two tokens (12
    //  minutes) to wait, for any name, from this address only
    assert_int_equal (ratelimit_check (limit, GUESSER, "fresh", T0), 720000);
    assert_int_equal (ratelimit_check (limit, GUESSER, NULL, T0), 720000);
    assert_int_equal (ratelimit_check (limit, OWNER, "fresh", T0), 0);
    ratelimit_success (limit, GUESSER, "sprayed0");
    assert_int_equal (ratelimit_check (limit, GUESSER, "fresh", T0), 720000);
    assert_int_equal (ratelimit_check (limit, GUESSER, "fresh", T0 + 720000), 0);
    //  per_hour 0: no per-address limit
    ratelimit_set_policy (limit, 5, 1000, 300000, 0, 1000);
    assert_int_equal (ratelimit_check (limit, GUESSER, "fresh", T0), 0);
    ratelimit_destroy (&limit);
}

//  At capacity the least recently used entry is forgotten, never the new
//  one: a guesser who has made the table full is still slowed, and its
//  own address (used by every attempt) is the last entry to go
static void
test_capacity (void **state)
{
    (void) state;
    ratelimit_t *limit = ratelimit_new ();
    ratelimit_set_policy (limit, 5, 1000, 300000, 1000, 100);
    char name [32];
    for (int i = 0; i < 1000; i++) {
        snprintf (name, sizeof name, "name%d", i);
        ratelimit_failure (limit, GUESSER, name, T0);
    }
    assert_int_equal (ratelimit_size (limit), 100);
    assert_true (ratelimit_evicted (limit) >= 900);
    //  A new name, after the table filled: its failures still count
    for (int i = 0; i < 5; i++)
        ratelimit_failure (limit, OWNER, "victim", T0);
    assert_int_equal (ratelimit_check (limit, OWNER, "victim", T0), 1000);
    //  The guesser's address is still remembered (1000 failures of 1000
    //  an hour: it waits)
    assert_true (ratelimit_check (limit, GUESSER, "anything", T0) > 0);
    ratelimit_destroy (&limit);
}

static void
test_prune_and_policy (void **state)
{
    (void) state;
    ratelimit_t *limit = ratelimit_new ();
    ratelimit_failure (limit, GUESSER, "old", T0);
    ratelimit_failure (limit, OWNER, "new", T0 + RATELIMIT_FORGET_MS);
    //  Two pairs and two addresses
    assert_int_equal (ratelimit_size (limit), 4);
    //  An hour on: the old pair is forgotten, and the old address, whose
    //  bucket has refilled; the new ones stay
    assert_int_equal (ratelimit_prune (limit, T0 + RATELIMIT_FORGET_MS + 1), 2);
    assert_int_equal (ratelimit_size (limit), 2);
    //  A changed policy applies at once
    for (int i = 0; i < 4; i++)
        ratelimit_failure (limit, OWNER, "new", T0 + RATELIMIT_FORGET_MS);
    ratelimit_set_policy (limit, 5, 60000, 300000, RATELIMIT_PER_HOUR, RATELIMIT_CAPACITY);
    assert_int_equal (ratelimit_check (limit, OWNER, "new", T0 + RATELIMIT_FORGET_MS), 60000);
    ratelimit_destroy (&limit);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pair_backoff),
        cmocka_unit_test (test_address_bucket),
        cmocka_unit_test (test_capacity),
        cmocka_unit_test (test_prune_and_policy),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
