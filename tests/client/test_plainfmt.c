/*  plainfmt: escaping for plain lines and JSON, and command splitting  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "plainfmt.h"

static void
s_escape (const char *in, size_t len, bool field, const char *expected)
{
    char *out = plainfmt_escape (in, len, field);
    assert_string_equal (out, expected);
    //  and back
    size_t back_len = 0;
    char *back = plainfmt_unescape (out, &back_len);
    if (memchr (in, 0, len) == NULL) {
        assert_non_null (back);
        assert_int_equal (back_len, len);
        assert_memory_equal (back, in, len);
    }
    free (back);
    free (out);
}

static void
test_escape (void **state)
{
    (void) state;
    s_escape ("plain text", 10, false, "plain text");
    s_escape ("plain text", 10, true, "plain\\x20text");
    s_escape ("a\\b", 3, false, "a\\\\b");
    s_escape ("1\n2\r3\t4", 7, false, "1\\n2\\r3\\t4");
    s_escape ("\x01\x1f\x7f", 3, false, "\\x01\\x1f\\x7f");
    s_escape ("caf\xc3\xa9 \xe2\x9c\x93", 9, false, "caf\xc3\xa9 \xe2\x9c\x93");
    //  invalid UTF-8: lone continuation, overlong, truncated, surrogate
    s_escape ("\x80", 1, false, "\\x80");
    s_escape ("\xc0\xaf", 2, false, "\\xc0\\xaf");
    s_escape ("ok\xe2\x9c", 4, false, "ok\\xe2\\x9c");
    s_escape ("\xed\xa0\x80", 3, false, "\\xed\\xa0\\x80");
    s_escape ("", 0, false, "");
}

static void
s_json (const char *in, size_t len, const char *expected)
{
    char *out = plainfmt_json (in, len);
    assert_string_equal (out, expected);
    free (out);
}

static void
test_json (void **state)
{
    (void) state;
    s_json ("hi", 2, "\"hi\"");
    s_json ("say \"x\"", 7, "\"say \\\"x\\\"\"");
    s_json ("a\\b", 3, "\"a\\\\b\"");
    s_json ("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
    s_json ("\x01\x7f", 2, "\"\\u0001\\u007f\"");
    s_json ("\xc3\xa9", 2, "\"\xc3\xa9\"");
    s_json ("bad\xff", 4, "\"bad\\ufffd\"");
    s_json ("</script>", 9, "\"</script>\"");
    s_json ("", 0, "\"\"");
}

//  Nothing that steers a terminal reaches it as it is, in either mode: ESC
//  (and so any CSI or OSC written with it), C1 controls written in UTF-8
//  (U+009B is CSI, U+009D OSC, U+0085 NEL), bidi overrides and isolates.
//  Their neighbours pass untouched.
static void
test_terminal_controls (void **state)
{
    (void) state;
    //  ESC [ 2 J (clear screen), ESC ] 0 ; title BEL
    s_escape ("\x1b[2Jx", 5, false, "\\x1b[2Jx");
    s_escape ("\x1b]0;pwned\x07", 10, false, "\\x1b]0;pwned\\x07");
    s_json ("\x1b[31m", 5, "\"\\u001b[31m\"");
    //  C1 as UTF-8: the first, CSI, OSC, the last; and U+00A0 (kept)
    s_escape ("a\xc2\x80" "b", 4, false, "a\\xc2\\x80b");
    s_escape ("\xc2\x9b" "31m", 5, false, "\\xc2\\x9b31m");
    s_escape ("\xc2\x9d" "0;t", 5, false, "\\xc2\\x9d0;t");
    s_escape ("\xc2\x9f", 2, false, "\\xc2\\x9f");
    s_escape ("\xc2\xa0", 2, false, "\xc2\xa0");
    s_json ("\xc2\x80\xc2\x9b\xc2\x9f", 6, "\"\\u0080\\u009b\\u009f\"");
    s_json ("\xc2\xa0", 2, "\"\xc2\xa0\"");
    //  Bidi: U+202A..U+202E, U+2066..U+2069, each escaped; U+2029, U+202F
    //  and U+206A around them are not controls of this kind and stay
    static const char *bidi [] = {
        "\xe2\x80\xaa", "\xe2\x80\xab", "\xe2\x80\xac", "\xe2\x80\xad", "\xe2\x80\xae",
        "\xe2\x81\xa6", "\xe2\x81\xa7", "\xe2\x81\xa8", "\xe2\x81\xa9"
    };
    static const char *bidi_json [] = {
        "\"\\u202a\"", "\"\\u202b\"", "\"\\u202c\"", "\"\\u202d\"", "\"\\u202e\"",
        "\"\\u2066\"", "\"\\u2067\"", "\"\\u2068\"", "\"\\u2069\""
    };
    for (size_t i = 0; i < sizeof bidi / sizeof bidi [0]; i++) {
        char expected [16];
        snprintf (expected, sizeof expected, "\\x%02x\\x%02x\\x%02x",
                  (unsigned char) bidi [i][0], (unsigned char) bidi [i][1],
                  (unsigned char) bidi [i][2]);
        s_escape (bidi [i], 3, false, expected);
        s_escape (bidi [i], 3, true, expected);
        s_json (bidi [i], 3, bidi_json [i]);
    }
    s_escape ("\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xaa", 9, false,
              "\xe2\x80\xa9\xe2\x80\xaf\xe2\x81\xaa");
    //  "user" RLO "txt.exe": the override cannot reorder what follows
    s_escape ("evil\xe2\x80\xaetxt.exe", 14, false, "evil\\xe2\\x80\\xaetxt.exe");
    s_json ("evil\xe2\x80\xaetxt.exe", 14, "\"evil\\u202etxt.exe\"");
}

static void
test_unescape_refusals (void **state)
{
    (void) state;
    assert_null (plainfmt_unescape ("bad\\q", NULL));
    assert_null (plainfmt_unescape ("trailing\\", NULL));
    assert_null (plainfmt_unescape ("\\x4", NULL));
    assert_null (plainfmt_unescape ("\\xzz", NULL));
    assert_null (plainfmt_unescape ("\\x00", NULL));
    size_t len;
    char *out = plainfmt_unescape ("a\\x20b\\x41", &len);
    assert_string_equal (out, "a bA");
    assert_int_equal (len, 4);
    free (out);
}

static void
test_split (void **state)
{
    (void) state;
    char *words [4];
    const char *rest = NULL;
    int n = plainfmt_split ("  send  3   hello   there  ", words, 4, 2, &rest);
    assert_int_equal (n, 4);
    assert_string_equal (words [0], "send");
    assert_string_equal (words [1], "3");
    assert_string_equal (words [2], "hello");
    assert_string_equal (rest, "hello   there  ");
    plainfmt_free_words (words, 4);
    assert_null (words [0]);

    n = plainfmt_split ("a b c d e f", words, 4, 2, NULL);
    assert_int_equal (n, 6);            //  more words than kept
    plainfmt_free_words (words, 4);

    n = plainfmt_split ("   \t ", words, 4, 2, &rest);
    assert_int_equal (n, 0);
    assert_string_equal (rest, "");

    n = plainfmt_split ("send 1", words, 4, 2, &rest);
    assert_int_equal (n, 2);
    assert_string_equal (rest, "");
    plainfmt_free_words (words, 2);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_escape),
        cmocka_unit_test (test_json),
        cmocka_unit_test (test_terminal_controls),
        cmocka_unit_test (test_unescape_refusals),
        cmocka_unit_test (test_split),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
