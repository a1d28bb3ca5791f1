/*  test_benchfloor - chat-bench's floors from known ceilings (benchfloor.h)

    The floors are arithmetic on ceilings measured in the same run; here
    they are fed round numbers, so that every formula is checked exactly,
    and each ceiling is moved alone to check that it counts as often as the
    formula says (a seal taken for an open, or a push counted per member
    instead of per other member, would show).
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "benchfloor.h"

#define EPSILON 1e-9

static benchfloor_ceilings_t
s_ceilings (void)
{
    benchfloor_ceilings_t c = {
        .seal_small_us = 2,
        .open_small_us = 3,
        .seal_message_us = 5,
        .open_message_us = 7,
        .store_cpu_us = 11,
        .rsa_sign_per_s = 4000,         //  250 us a signature
        .rsa_verify_per_s = 20000       //  50 us a verification
    };
    return c;
}

static void
test_five_members (void **state)
{
    (void) state;
    benchfloor_ceilings_t c = s_ceilings ();
    benchfloor_t f;
    benchfloor_compute (&c, 5, &f);
    //  open 7 + reply 2 + 4 pushes x 5 + store 11
    assert_true (fabs (f.server_us - 40) < EPSILON);
    assert_true (fabs (f.push_us - 5) < EPSILON);
    //  2 seals x 5 + 250 + reply 3 + 4 x (2 opens x 7 + 50)
    assert_true (fabs (f.client_us - 519) < EPSILON);
}

static void
test_small_groups (void **state)
{
    (void) state;
    benchfloor_ceilings_t c = s_ceilings ();
    benchfloor_t f;
    benchfloor_compute (&c, 1, &f);         //  nobody to push to
    assert_true (fabs (f.server_us - 20) < EPSILON);
    assert_true (fabs (f.client_us - 263) < EPSILON);
    benchfloor_compute (&c, 2, &f);
    assert_true (fabs (f.server_us - 25) < EPSILON);
    assert_true (fabs (f.client_us - 327) < EPSILON);
    benchfloor_compute (&c, 256, &f);
    assert_true (fabs (f.server_us - (20 + 255 * 5)) < EPSILON);
    assert_true (fabs (f.client_us - (263 + 255 * 64)) < EPSILON);
}

//  Each ceiling moved by one microsecond alone: how much each floor moves
typedef struct {
    const char *name;
    size_t offset;
    double server, push, client;        //  per extra us, 5 members
} weight_t;

static void
test_each_ceiling_counts (void **state)
{
    (void) state;
    static const weight_t weights [] = {
        { "seal_small", offsetof (benchfloor_ceilings_t, seal_small_us), 1, 0, 0 },
        { "open_small", offsetof (benchfloor_ceilings_t, open_small_us), 0, 0, 1 },
        { "seal_message", offsetof (benchfloor_ceilings_t, seal_message_us), 4, 1, 2 },
        { "open_message", offsetof (benchfloor_ceilings_t, open_message_us), 1, 0, 8 },
        { "store", offsetof (benchfloor_ceilings_t, store_cpu_us), 1, 0, 0 },
    };
    benchfloor_ceilings_t base = s_ceilings ();
    benchfloor_t before;
    benchfloor_compute (&base, 5, &before);
    for (size_t i = 0; i < sizeof weights / sizeof weights [0]; i++) {
        benchfloor_ceilings_t c = base;
        *(double *) ((char *) &c + weights [i].offset) += 1;
        benchfloor_t after;
        benchfloor_compute (&c, 5, &after);
        print_message ("%s\n", weights [i].name);
        assert_true (fabs (after.server_us - before.server_us - weights [i].server) < EPSILON);
        assert_true (fabs (after.push_us - before.push_us - weights [i].push) < EPSILON);
        assert_true (fabs (after.client_us - before.client_us - weights [i].client) < EPSILON);
    }
    //  The RSA rates: twice the signing rate takes 125 us off the sender,
    //  twice the verifying rate 25 us off each of the 4 receivers
    benchfloor_ceilings_t c = base;
    benchfloor_t after;
    c.rsa_sign_per_s *= 2;
    benchfloor_compute (&c, 5, &after);
    assert_true (fabs (before.client_us - after.client_us - 125) < EPSILON);
    assert_true (fabs (before.server_us - after.server_us) < EPSILON);
    c = base;
    c.rsa_verify_per_s *= 2;
    benchfloor_compute (&c, 5, &after);
    assert_true (fabs (before.client_us - after.client_us - 100) < EPSILON);
}

//  An RSA rate not measured gives no client floor, never an infinite one
static void
test_unmeasured_rates (void **state)
{
    (void) state;
    benchfloor_ceilings_t c = s_ceilings ();
    benchfloor_t f;
    c.rsa_verify_per_s = 0;
    benchfloor_compute (&c, 5, &f);
    assert_true (f.client_us == 0);
    assert_true (fabs (f.server_us - 40) < EPSILON);
    c = s_ceilings ();
    c.rsa_sign_per_s = 0;
    benchfloor_compute (&c, 5, &f);
    assert_true (f.client_us == 0);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_five_members),
        cmocka_unit_test (test_small_groups),
        cmocka_unit_test (test_each_ceiling_counts),
        cmocka_unit_test (test_unmeasured_rates),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
