/*  tui_input - a one-line editor with readline-style keys, UTF-8 in and
    out, wide characters inside, history and word completion

    Keys come as ncurses' get_wch gives them: a character, or a key code
    (KEY_LEFT, ...) when `keycode` is true. The editor knows nothing about
    windows except in tui_input_draw, so it can be unit-tested headless.

    The text may hold newlines (tui_input_newline, a paste): Home/End,
    Ctrl-A/E/K/U then act on the cursor's line, and Up/Down move between
    lines before they browse the history.

    Bindings: Ctrl-A/Home, Ctrl-E/End, Ctrl-B/Left, Ctrl-F/Right,
    Alt-B/Alt-F (words, via tui_input_word_left/right), Backspace/Ctrl-H,
    Delete/Ctrl-D, Ctrl-K (kill to end), Ctrl-U (kill to start), Ctrl-W
    (kill word before), Ctrl-Y (yank the last kill), Up/Down and
    Ctrl-P/Ctrl-N when the caller lets them through (history), Enter
    (submit). Printable characters insert.

    A masked editor (passwords) keeps no history and no kill buffer, and
    every buffer it frees or clears is wiped first.
*/
#ifndef TUI_INPUT_H_INCLUDED
#define TUI_INPUT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

typedef struct _tui_input_t tui_input_t;

typedef enum {
    TUI_INPUT_IGNORED = 0,      //  not an editing key: the caller's
    TUI_INPUT_CHANGED,          //  text or cursor moved
    TUI_INPUT_SUBMIT            //  Enter
} tui_input_result_t;

//  max_chars: the longest line in characters (not bytes). masked: a
//  password field (shown as '*', no history, wiped).
tui_input_t *
    tui_input_new (size_t max_chars, bool masked);
void
    tui_input_destroy (tui_input_t **self_p);

//  One key. Returns what it did.
tui_input_result_t
    tui_input_key (tui_input_t *self, bool keycode, wint_t key);

//  Alt-Enter: a new line inside the message (not in a masked field).
tui_input_result_t
    tui_input_newline (tui_input_t *self);
//  One character of a bracketed paste: inserted as it is, never acted on
//  (Enter and Tab in a paste are text: a newline, a tab; a masked field
//  takes neither).
tui_input_result_t
    tui_input_paste (tui_input_t *self, wint_t key);
//  Lines of the text (newlines + 1).
size_t
    tui_input_lines (tui_input_t *self);

//  The text as UTF-8 (fresh string; the caller frees it, and wipes it
//  first for a masked field), or NULL when out of memory.
char *
    tui_input_text (tui_input_t *self);
//  Replace the text (UTF-8; invalid bytes become U+FFFD), cursor at end.
void
    tui_input_set_text (tui_input_t *self, const char *utf8);
//  Empty the line (wiping it) and leave history browsing.
void
    tui_input_clear (tui_input_t *self);

size_t
    tui_input_length (tui_input_t *self);
size_t
    tui_input_cursor (tui_input_t *self);
bool
    tui_input_empty (tui_input_t *self);

//  Remember a submitted line (skipped when empty, masked, or the same as
//  the last one). At most 100 lines are kept.
void
    tui_input_history_add (tui_input_t *self, const char *utf8);
size_t
    tui_input_history_size (tui_input_t *self);

//  Complete the word before the cursor against candidates (UTF-8). One
//  match: completed, followed by a space (suffix appended, e.g. " ").
//  Several: extended to their longest common prefix. Returns the number of
//  candidates that matched.
size_t
    tui_input_complete (tui_input_t *self, const char **candidates,
                        size_t count, const char *suffix);
//  The word before the cursor as UTF-8 (fresh string), and whether it is
//  the first word of the line.
char *
    tui_input_word (tui_input_t *self, bool *first);

//  Alt-B / Alt-F: move a word left / right.
void
    tui_input_word_left (tui_input_t *self);
void
    tui_input_word_right (tui_input_t *self);

//  Draw in the current ncurses screen at (y, x), `width` columns wide,
//  scrolled so the cursor shows; returns the cursor's screen column.
int
    tui_input_draw (tui_input_t *self, int y, int x, int width);

//  Several rows: the rows the text needs at width (lines wrap by
//  character), and drawing at most `rows` of them at (y, x), scrolled so
//  the cursor's row shows; the cursor's screen position comes back.
int
    tui_input_rows (tui_input_t *self, int width);
void
    tui_input_draw_rows (tui_input_t *self, int y, int x, int width, int rows,
                         int *cursor_y, int *cursor_x);

#endif
