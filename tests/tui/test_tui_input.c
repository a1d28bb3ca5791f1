/*  test_tui_input - the TUI's line editor and text helpers, headless:
    every key binding, UTF-8 multi-byte text, history, completion,
    sanitising of untrusted text, wrapping, messages of several lines
    (Alt-Enter, Up/Down between lines, rows) and pasted text
*/
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tui_input.h"
#include "tui_text.h"

#define CTRL(c) ((c) & 0x1F)

static void
s_type (tui_input_t *input, const char *utf8)
{
    size_t len = 0;
    wchar_t *wide = tui_text_decode (utf8, strlen (utf8), false, &len);
    assert_non_null (wide);
    for (size_t i = 0; i < len; i++)
        assert_int_equal (tui_input_key (input, false, (wint_t) wide [i]),
                          TUI_INPUT_CHANGED);
    free (wide);
}

static void
s_expect (tui_input_t *input, const char *text, size_t cursor)
{
    char *got = tui_input_text (input);
    assert_non_null (got);
    assert_string_equal (got, text);
    free (got);
    assert_int_equal (tui_input_cursor (input), cursor);
}

static void
s_key (tui_input_t *input, wint_t key)
{
    assert_int_not_equal (tui_input_key (input, false, key), TUI_INPUT_SUBMIT);
}

static void
s_code (tui_input_t *input, wint_t key)
{
    tui_input_key (input, true, key);
}

static void
test_insert_and_move (void **state)
{
    (void) state;
    tui_input_t *input = tui_input_new (100, false);
    assert_non_null (input);
    s_type (input, "hello world");
    s_expect (input, "hello world", 11);
    s_key (input, CTRL ('A'));
    s_expect (input, "hello world", 0);
    s_key (input, CTRL ('E'));
    s_expect (input, "hello world", 11);
    s_code (input, KEY_LEFT);
    s_code (input, KEY_LEFT);
    s_expect (input, "hello world", 9);
    s_type (input, "X");
    s_expect (input, "hello worXld", 10);
    s_code (input, KEY_RIGHT);
    s_code (input, KEY_RIGHT);
    s_code (input, KEY_RIGHT);          //  past the end: stays
    s_expect (input, "hello worXld", 12);
    s_code (input, KEY_HOME);
    s_expect (input, "hello worXld", 0);
    s_code (input, KEY_LEFT);           //  before the start: stays
    s_expect (input, "hello worXld", 0);
    s_code (input, KEY_END);
    s_expect (input, "hello worXld", 12);
    s_key (input, CTRL ('B'));
    s_expect (input, "hello worXld", 11);
    s_key (input, CTRL ('F'));
    s_expect (input, "hello worXld", 12);
    tui_input_word_left (input);
    s_expect (input, "hello worXld", 6);
    tui_input_word_left (input);
    s_expect (input, "hello worXld", 0);
    tui_input_word_right (input);
    s_expect (input, "hello worXld", 5);
    tui_input_destroy (&input);
    assert_null (input);
}

static void
test_delete_keys (void **state)
{
    (void) state;
    tui_input_t *input = tui_input_new (100, false);
    s_type (input, "abcdef");
    s_code (input, KEY_BACKSPACE);
    s_expect (input, "abcde", 5);
    s_key (input, 0x7F);                //  DEL as backspace
    s_expect (input, "abcd", 4);
    s_key (input, CTRL ('H'));
    s_expect (input, "abc", 3);
    s_key (input, CTRL ('A'));
    s_code (input, KEY_BACKSPACE);      //  at the start: nothing
    s_expect (input, "abc", 0);
    s_code (input, KEY_DC);
    s_expect (input, "bc", 0);
    s_key (input, CTRL ('D'));
    s_expect (input, "c", 0);
    s_key (input, CTRL ('E'));
    s_code (input, KEY_DC);             //  at the end: nothing
    s_expect (input, "c", 1);
    tui_input_destroy (&input);
}

static void
test_kill_and_yank (void **state)
{
    (void) state;
    tui_input_t *input = tui_input_new (100, false);
    s_type (input, "one two three");
    s_key (input, CTRL ('W'));
    s_expect (input, "one two ", 8);
    s_key (input, CTRL ('Y'));
    s_expect (input, "one two three", 13);
    //  Ctrl-W skips the spaces before the word, as readline does
    s_type (input, "  ");
    s_key (input, CTRL ('W'));
    s_expect (input, "one two ", 8);
    s_key (input, CTRL ('A'));
    tui_input_word_right (input);
    s_key (input, CTRL ('K'));
    s_expect (input, "one", 3);
    s_key (input, CTRL ('A'));
    s_key (input, CTRL ('Y'));
    s_expect (input, " two one", 5);
    s_key (input, CTRL ('U'));
    s_expect (input, "one", 0);
    s_key (input, CTRL ('E'));
    s_key (input, CTRL ('U'));
    s_expect (input, "", 0);
    assert_true (tui_input_empty (input));
    s_key (input, CTRL ('Y'));
    s_expect (input, "one", 3);
    tui_input_destroy (&input);
}

static void
test_enter_and_ignored (void **state)
{
    (void) state;
    tui_input_t *input = tui_input_new (100, false);
    s_type (input, "x");
    assert_int_equal (tui_input_key (input, false, L'\n'), TUI_INPUT_SUBMIT);
    assert_int_equal (tui_input_key (input, false, L'\r'), TUI_INPUT_SUBMIT);
    assert_int_equal (tui_input_key (input, true, KEY_ENTER), TUI_INPUT_SUBMIT);
    //  Keys the caller handles, and control characters, change nothing
    assert_int_equal (tui_input_key (input, false, L'\t'), TUI_INPUT_IGNORED);
    assert_int_equal (tui_input_key (input, false, 0x1B), TUI_INPUT_IGNORED);
    assert_int_equal (tui_input_key (input, false, 0x9B), TUI_INPUT_IGNORED);
    assert_int_equal (tui_input_key (input, false, 0x202E), TUI_INPUT_IGNORED);
    assert_int_equal (tui_input_key (input, true, KEY_NPAGE), TUI_INPUT_IGNORED);
    assert_int_equal (tui_input_key (input, true, KEY_F (1)), TUI_INPUT_IGNORED);
    s_expect (input, "x", 1);
    tui_input_destroy (&input);
}

static void
test_utf8 (void **state)
{
    (void) state;
    tui_input_t *input = tui_input_new (100, false);
    //  2-, 3- and 4-byte sequences, and a double-width character
    s_type (input, "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 \xE4\xB8\xAD");
    s_expect (input, "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 \xE4\xB8\xAD", 11);
    assert_int_equal (tui_input_length (input), 11);
    s_code (input, KEY_BACKSPACE);                  //  one character, 3 bytes
    s_expect (input, "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80 ", 10);
    s_code (input, KEY_LEFT);
    s_code (input, KEY_BACKSPACE);                  //  the emoji, 4 bytes
    s_expect (input, "h\xC3\xA9llo \xE2\x82\xAC  ", 8);
    s_key (input, CTRL ('A'));
    s_code (input, KEY_RIGHT);
    s_code (input, KEY_DC);                         //  the é
    s_expect (input, "hllo \xE2\x82\xAC  ", 1);
    s_type (input, "\xC3\xBC");
    s_expect (input, "h\xC3\xBCllo \xE2\x82\xAC  ", 2);
    //  set_text decodes, and replaces invalid bytes
    tui_input_set_text (input, "a\xFF" "b\xC3");
    s_expect (input, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD", 4);
    tui_input_destroy (&input);
}

static void
test_max_length (void **state)
{
    (void) state;
    tui_input_t *input = tui_input_new (4, false);
    s_type (input, "abcd");
    tui_input_key (input, false, L'e');
    s_expect (input, "abcd", 4);
    tui_input_set_text (input, "\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC\xE2\x82\xAC");
    assert_int_equal (tui_input_length (input), 4);
    tui_input_destroy (&input);
}

static void
test_history (void **state)
{
    (void) state;
    tui_input_t *input = tui_input_new (100, false);
    //  No history yet: Up is not the editor's
    assert_int_equal (tui_input_key (input, true, KEY_UP), TUI_INPUT_IGNORED);
    tui_input_history_add (input, "first");
    tui_input_history_add (input, "second");
    tui_input_history_add (input, "second");        //  repeat: kept once
    tui_input_history_add (input, "");              //  empty: not kept
    assert_int_equal (tui_input_history_size (input), 2);
    s_type (input, "draft");
    s_code (input, KEY_UP);
    s_expect (input, "second", 6);
    s_code (input, KEY_UP);
    s_expect (input, "first", 5);
    s_code (input, KEY_UP);                         //  oldest: stays
    s_expect (input, "first", 5);
    s_code (input, KEY_DOWN);
    s_expect (input, "second", 6);
    s_code (input, KEY_DOWN);                       //  back to the draft
    s_expect (input, "draft", 5);
    s_code (input, KEY_DOWN);
    s_expect (input, "draft", 5);
    //  Editing a recalled line, then submitting it
    s_code (input, KEY_UP);
    s_type (input, "!");
    char *text = tui_input_text (input);
    tui_input_history_add (input, text);
    free (text);
    tui_input_clear (input);
    s_expect (input, "", 0);
    s_code (input, KEY_UP);
    s_expect (input, "second!", 7);
    s_code (input, KEY_UP);
    s_expect (input, "second", 6);
    //  The oldest falls out past 100 lines
    for (int i = 0; i < 120; i++) {
        char line [16];
        snprintf (line, sizeof line, "line %d", i);
        tui_input_history_add (input, line);
    }
    assert_int_equal (tui_input_history_size (input), 100);
    tui_input_clear (input);
    for (int i = 0; i < 100; i++)
        s_code (input, KEY_UP);
    s_expect (input, "line 20", 7);
    tui_input_destroy (&input);
}

static void
test_masked (void **state)
{
    (void) state;
    tui_input_t *input = tui_input_new (64, true);
    s_type (input, "s3cr\xC3\xA9t");
    s_expect (input, "s3cr\xC3\xA9t", 6);
    tui_input_history_add (input, "s3cr\xC3\xA9t");
    assert_int_equal (tui_input_history_size (input), 0);
    assert_int_equal (tui_input_key (input, true, KEY_UP), TUI_INPUT_IGNORED);
    //  No kill buffer: Ctrl-U then Ctrl-Y gives nothing back
    s_key (input, CTRL ('U'));
    s_key (input, CTRL ('Y'));
    s_expect (input, "", 0);
    const char *names [] = { "alice" };
    s_type (input, "al");
    assert_int_equal (tui_input_complete (input, names, 1, " "), 0);
    s_expect (input, "al", 2);
    tui_input_destroy (&input);
}

static void
test_complete (void **state)
{
    (void) state;
    const char *names [] = { "jonathan", "joseph", "j\xC3\xB6rg", "wannes" };
    tui_input_t *input = tui_input_new (100, false);
    s_type (input, "hi wa");
    assert_int_equal (tui_input_complete (input, names, 4, " "), 1);
    s_expect (input, "hi wannes ", 10);
    s_type (input, "jo");
    assert_int_equal (tui_input_complete (input, names, 4, " "), 2);
    s_expect (input, "hi wannes jo", 12);
    s_type (input, "n");
    assert_int_equal (tui_input_complete (input, names, 4, " "), 1);
    s_expect (input, "hi wannes jonathan ", 19);
    s_type (input, "j");
    assert_int_equal (tui_input_complete (input, names, 4, " "), 3);
    s_expect (input, "hi wannes jonathan j", 20);
    s_type (input, "\xC3\xB6");
    assert_int_equal (tui_input_complete (input, names, 4, " "), 1);
    s_expect (input, "hi wannes jonathan j\xC3\xB6rg ", 24);
    s_type (input, "x");
    assert_int_equal (tui_input_complete (input, names, 4, " "), 0);

    //  The first word, for commands
    const char *commands [] = { "/help", "/logout", "/new", "/quit", "/refresh" };
    tui_input_clear (input);
    s_type (input, "/l");
    bool first = false;
    char *word = tui_input_word (input, &first);
    assert_string_equal (word, "/l");
    assert_true (first);
    free (word);
    assert_int_equal (tui_input_complete (input, commands, 5, " "), 1);
    s_expect (input, "/logout ", 8);
    word = tui_input_word (input, &first);
    assert_string_equal (word, "");
    assert_false (first);
    free (word);
    tui_input_destroy (&input);
}

static void
test_text_decode (void **state)
{
    (void) state;
    size_t len = 0;
    //  Escape sequences, C1 CSI, bidi override, NUL, overlong, surrogate
    const char evil [] = "a\x1b[2Jb\xC2\x9B" "c\xE2\x80\xAE" "d\0e\xC0\xAF" "f\xED\xA0\x80" "g\nh\ti";
    wchar_t *wide = tui_text_decode (evil, sizeof evil - 1, true, &len);
    assert_non_null (wide);
    const wchar_t expected [] = L"a\xFFFD[2Jb\xFFFD" L"c\xFFFD" L"d\xFFFD" L"e\xFFFD" L"f\xFFFD" L"g\nh i";
    assert_int_equal (len, wcslen (expected));
    assert_memory_equal (wide, expected, len * sizeof (wchar_t));
    free (wide);
    wide = tui_text_decode ("x\ny", 3, false, &len);
    assert_int_equal (wide [1], TUI_TEXT_REPLACEMENT);
    free (wide);
    //  Round trip of valid text
    const char *good = "\xF0\x9F\x98\x80 \xE4\xB8\xAD \xC3\xA9";
    wide = tui_text_decode (good, strlen (good), false, &len);
    assert_int_equal (len, 5);
    char *back = tui_text_encode (wide, len);
    assert_string_equal (back, good);
    free (back);
    free (wide);
}

static void
s_wrap_expect (const wchar_t *text, int width, const wchar_t **lines, size_t count)
{
    size_t len = wcslen (text), pos = 0, n = 0, line_len;
    while (pos < len) {
        size_t start = pos;
        pos = tui_text_wrap (text, len, pos, width, &line_len);
        assert_true (n < count);
        assert_int_equal (line_len, wcslen (lines [n]));
        assert_memory_equal (text + start, lines [n], line_len * sizeof (wchar_t));
        assert_true (tui_text_width (text + start, line_len) <= width);
        n++;
    }
    assert_int_equal (n, count);
    assert_int_equal (tui_text_line_count (text, len, width), count);
}

static void
test_wrap (void **state)
{
    (void) state;
    const wchar_t *a [] = { L"the quick", L"brown fox", L"jumps" };
    s_wrap_expect (L"the quick brown fox jumps", 10, a, 3);
    const wchar_t *b [] = { L"abcdefghij", L"klm" };
    s_wrap_expect (L"abcdefghijklm", 10, b, 2);
    const wchar_t *c [] = { L"one", L"two three" };
    s_wrap_expect (L"one\ntwo three", 10, c, 2);
    //  Double-width characters count two columns
    const wchar_t *d [] = { L"\x4E2D\x6587\x4E2D", L"\x6587" };
    s_wrap_expect (L"\x4E2D\x6587\x4E2D\x6587", 7, d, 2);
    assert_int_equal (tui_text_width (L"\x4E2D" L"a", 2), 3);
    assert_int_equal (tui_text_line_count (L"", 0, 10), 1);
}

static void
test_several_lines (void **state)
{
    (void) state;
    tui_input_t *input = tui_input_new (100, false);
    //  Alt-Enter: a newline in the text, never a submit
    s_type (input, "first");
    assert_int_equal (tui_input_newline (input), TUI_INPUT_CHANGED);
    s_type (input, "second line");
    s_expect (input, "first\nsecond line", 17);
    assert_int_equal (tui_input_lines (input), 2);
    //  Home/End and Ctrl-A/E act on the cursor's line
    s_code (input, KEY_HOME);
    s_expect (input, "first\nsecond line", 6);
    s_key (input, CTRL ('E'));
    s_expect (input, "first\nsecond line", 17);
    //  Up/Down move between lines (same column, or the line's end) before
    //  they browse the history
    tui_input_history_add (input, "older");
    s_code (input, KEY_UP);
    s_expect (input, "first\nsecond line", 5);
    s_code (input, KEY_DOWN);
    s_expect (input, "first\nsecond line", 11);
    s_code (input, KEY_DOWN);               //  the last line: the history's turn
    s_expect (input, "first\nsecond line", 11);
    s_code (input, KEY_HOME);
    s_code (input, KEY_UP);
    s_expect (input, "first\nsecond line", 0);
    //  Ctrl-K at a line's end joins the next line; Ctrl-U clears to the
    //  start of the line only
    s_key (input, CTRL ('E'));
    s_key (input, CTRL ('K'));
    s_expect (input, "firstsecond line", 5);
    s_key (input, CTRL ('Y'));
    s_expect (input, "first\nsecond line", 6);
    s_code (input, KEY_END);
    s_key (input, CTRL ('U'));
    s_expect (input, "first\n", 6);
    //  a recalled message keeps its lines
    tui_input_history_add (input, "one\ntwo");
    tui_input_clear (input);
    s_code (input, KEY_UP);
    s_expect (input, "one\ntwo", 7);
    //  rows: wrapped at the width, a character never split
    tui_input_set_text (input, "abcdefgh\nij");
    assert_int_equal (tui_input_rows (input, 5), 3);
    assert_int_equal (tui_input_rows (input, 10), 2);
    tui_input_destroy (&input);
    //  a password field takes no newline
    tui_input_t *secret = tui_input_new (100, true);
    assert_int_equal (tui_input_newline (secret), TUI_INPUT_IGNORED);
    assert_int_equal (tui_input_paste (secret, L'\r'), TUI_INPUT_IGNORED);
    assert_int_equal (tui_input_lines (secret), 1);
    tui_input_destroy (&secret);
}

static void
test_paste (void **state)
{
    (void) state;
    tui_input_t *input = tui_input_new (100, false);
    //  in a paste, Enter and Tab are text, control characters are dropped
    const wint_t keys [] = { L'a', L'\r', L'b', L'\n', L'\t', L'c', 0x1B, 0x07, 0x202E };
    for (size_t i = 0; i < sizeof keys / sizeof keys [0]; i++)
        assert_int_not_equal (tui_input_paste (input, keys [i]), TUI_INPUT_SUBMIT);
    s_expect (input, "a\nb\n\tc", 6);
    assert_int_equal (tui_input_lines (input), 3);
    tui_input_destroy (&input);
}

int
main (void)
{
    //  Widths of non-ASCII characters need a UTF-8 locale
    if (!setlocale (LC_ALL, "C.UTF-8"))
        setlocale (LC_ALL, "en_US.UTF-8");
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_insert_and_move),
        cmocka_unit_test (test_delete_keys),
        cmocka_unit_test (test_kill_and_yank),
        cmocka_unit_test (test_enter_and_ignored),
        cmocka_unit_test (test_utf8),
        cmocka_unit_test (test_max_length),
        cmocka_unit_test (test_history),
        cmocka_unit_test (test_masked),
        cmocka_unit_test (test_complete),
        cmocka_unit_test (test_text_decode),
        cmocka_unit_test (test_wrap),
        cmocka_unit_test (test_several_lines),
        cmocka_unit_test (test_paste),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
