/*  convlog: sequence bookkeeping, gaps, duplicates, history  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "convlog.h"

static chatclient_message_t *
s_msg (const char *text)
{
    chatclient_message_t *msg = calloc (1, sizeof (chatclient_message_t));
    msg->sender = strdup ("alice");
    msg->text = strdup (text);
    msg->text_len = strlen (text);
    msg->live = true;
    return msg;
}

//  Texts of everything next_ready hands out, joined by commas.
static void
s_ready (convlog_t *log, char *out, size_t size)
{
    out [0] = 0;
    chatclient_message_t *msg;
    while ((msg = convlog_next_ready (log))) {
        if (out [0])
            strncat (out, ",", size - strlen (out) - 1);
        strncat (out, msg->text, size - strlen (out) - 1);
    }
}

static void
test_in_order (void **state)
{
    (void) state;
    convlog_t *log = convlog_new (0);
    char got [256];
    assert_int_equal (convlog_offer (log, 1, s_msg ("a")), CONVLOG_READY);
    s_ready (log, got, sizeof got);
    assert_string_equal (got, "a");
    assert_int_equal (convlog_offer (log, 2, s_msg ("b")), CONVLOG_READY);
    s_ready (log, got, sizeof got);
    assert_string_equal (got, "b");
    assert_int_equal (convlog_seen (log), 2);
    assert_false (convlog_has_gap (log));
    assert_int_equal (convlog_size (log), 2);
    assert_string_equal (convlog_at (log, 1)->text, "b");
    convlog_destroy (&log);
    assert_null (log);
}

static void
test_gap_and_duplicates (void **state)
{
    (void) state;
    convlog_t *log = convlog_new (0);
    char got [256];
    convlog_offer (log, 1, s_msg ("a"));
    s_ready (log, got, sizeof got);
    //  3 and 5 arrive, 2 and 4 were lost: held, gap reported
    assert_int_equal (convlog_offer (log, 3, s_msg ("c")), CONVLOG_HELD);
    assert_int_equal (convlog_offer (log, 5, s_msg ("e")), CONVLOG_HELD);
    s_ready (log, got, sizeof got);
    assert_string_equal (got, "");
    assert_true (convlog_has_gap (log));
    assert_int_equal (convlog_seen (log), 1);
    //  duplicates, old and held alike, are ignored
    assert_int_equal (convlog_offer (log, 1, s_msg ("a again")), CONVLOG_DUPLICATE);
    assert_int_equal (convlog_offer (log, 3, s_msg ("c again")), CONVLOG_DUPLICATE);
    //  the fetch fills the gap: everything comes out in order, once
    assert_int_equal (convlog_offer (log, 2, s_msg ("b")), CONVLOG_READY);
    s_ready (log, got, sizeof got);
    assert_string_equal (got, "b,c");
    assert_true (convlog_has_gap (log));
    convlog_offer (log, 4, s_msg ("d"));
    convlog_offer (log, 5, s_msg ("e again"));
    s_ready (log, got, sizeof got);
    assert_string_equal (got, "d,e");
    assert_false (convlog_has_gap (log));
    assert_int_equal (convlog_seen (log), 5);
    assert_int_equal (convlog_size (log), 5);
    convlog_destroy (&log);
}

static void
test_bad_message_uses_its_number (void **state)
{
    (void) state;
    convlog_t *log = convlog_new (0);
    char got [256];
    convlog_offer (log, 2, s_msg ("b"));
    assert_true (convlog_has_gap (log));
    //  message 1 failed its checks: not shown, but no longer a gap
    assert_int_equal (convlog_offer (log, 1, NULL), CONVLOG_READY);
    s_ready (log, got, sizeof got);
    assert_string_equal (got, "b");
    assert_int_equal (convlog_seen (log), 2);
    assert_int_equal (convlog_size (log), 1);
    convlog_destroy (&log);
}

static void
test_history_below_base (void **state)
{
    (void) state;
    //  the conversation had 3 messages when first listed
    convlog_t *log = convlog_new (3);
    char got [256];
    chatclient_message_t *msg = s_msg ("new");
    assert_int_equal (convlog_offer (log, 4, msg), CONVLOG_READY);
    s_ready (log, got, sizeof got);
    assert_string_equal (got, "new");
    //  history pages come later, and are not "new"
    chatclient_message_t *old = s_msg ("two");
    assert_int_equal (convlog_offer (log, 2, old), CONVLOG_HISTORY);
    assert_false (old->live);
    assert_int_equal (convlog_offer (log, 1, s_msg ("one")), CONVLOG_HISTORY);
    assert_int_equal (convlog_offer (log, 2, s_msg ("two again")), CONVLOG_DUPLICATE);
    assert_int_equal (convlog_offer (log, 3, s_msg ("three")), CONVLOG_HISTORY);
    s_ready (log, got, sizeof got);
    assert_string_equal (got, "");
    assert_int_equal (convlog_size (log), 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal (convlog_at (log, i)->seq, i + 1);
    assert_null (convlog_at (log, 4));
    assert_int_equal (convlog_offer (log, 0, s_msg ("zero")), CONVLOG_DUPLICATE);
    convlog_destroy (&log);
}

static void
test_copy (void **state)
{
    (void) state;
    chatclient_message_t *msg = s_msg ("copy me");
    msg->seq = 7;
    chatclient_message_t copy;
    assert_int_equal (convlog_message_copy (&copy, msg), 0);
    assert_int_equal (copy.seq, 7);
    assert_string_equal (copy.text, "copy me");
    assert_ptr_not_equal (copy.text, msg->text);
    convlog_message_clear (&copy);
    convlog_message_free (&msg);
    assert_null (msg);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_in_order),
        cmocka_unit_test (test_gap_and_duplicates),
        cmocka_unit_test (test_bad_message_uses_its_number),
        cmocka_unit_test (test_history_below_base),
        cmocka_unit_test (test_copy),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
