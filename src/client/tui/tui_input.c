/*  tui_input - the one-line editor of the TUI (input line, login fields)

    The line is kept as wide characters so that the cursor moves by
    characters, never into the middle of a UTF-8 sequence; it is encoded
    to UTF-8 only when the caller asks for the text.
*/
#define NCURSES_WIDECHAR 1     //  the wide-character API (get_wch, addnwstr)
#include <assert.h>
#include <curses.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "tui_input.h"
#include "tui_text.h"

#define HISTORY_MAX 100

#ifndef CTRL
#   define CTRL(c) ((c) & 0x1F)
#endif

struct _tui_input_t {
    wchar_t *line;                  //  max + 1, NUL-terminated
    size_t len;
    size_t cursor;
    size_t max;
    bool masked;
    int scroll;                     //  first character drawn
    int row_scroll;                 //  first row drawn (several rows)
    wchar_t *kill;                  //  Ctrl-Y yanks this back
    size_t kill_len;
    char *history [HISTORY_MAX];    //  oldest first
    size_t history_size;
    size_t history_pos;             //  == history_size: the live line
    char *draft;                    //  the live line while browsing
};

static void
s_wipe_free (void *data, size_t size)
{
    if (data) {
        OPENSSL_cleanse (data, size);
        free (data);
    }
}

tui_input_t *
tui_input_new (size_t max_chars, bool masked)
{
    assert (max_chars > 0);
    tui_input_t *self = (tui_input_t *) calloc (1, sizeof (tui_input_t));
    if (!self)
        return NULL;
    self->line = (wchar_t *) calloc (max_chars + 1, sizeof (wchar_t));
    if (!self->line) {
        free (self);
        return NULL;
    }
    self->max = max_chars;
    self->masked = masked;
    return self;
}

void
tui_input_destroy (tui_input_t **self_p)
{
    assert (self_p);
    tui_input_t *self = *self_p;
    if (!self)
        return;
    s_wipe_free (self->line, (self->max + 1) * sizeof (wchar_t));
    if (self->kill)
        s_wipe_free (self->kill, self->kill_len * sizeof (wchar_t));
    for (size_t i = 0; i < self->history_size; i++)
        free (self->history [i]);
    free (self->draft);
    free (self);
    *self_p = NULL;
}

static void
s_insert (tui_input_t *self, const wchar_t *chars, size_t count)
{
    if (count > self->max - self->len)
        count = self->max - self->len;
    if (count == 0)
        return;
    memmove (self->line + self->cursor + count, self->line + self->cursor,
             (self->len - self->cursor) * sizeof (wchar_t));
    memcpy (self->line + self->cursor, chars, count * sizeof (wchar_t));
    self->len += count;
    self->cursor += count;
    self->line [self->len] = 0;
}

//  Removes [from, to); saves it for Ctrl-Y when `kill` (never when masked)
static void
s_delete (tui_input_t *self, size_t from, size_t to, bool kill)
{
    if (from >= to)
        return;
    if (kill && !self->masked) {
        wchar_t *saved = (wchar_t *) malloc ((to - from) * sizeof (wchar_t));
        if (saved) {
            memcpy (saved, self->line + from, (to - from) * sizeof (wchar_t));
            free (self->kill);
            self->kill = saved;
            self->kill_len = to - from;
        }
    }
    memmove (self->line + from, self->line + to,
             (self->len - to) * sizeof (wchar_t));
    OPENSSL_cleanse (self->line + self->len - (to - from),
                     (to - from) * sizeof (wchar_t));
    self->len -= to - from;
    self->line [self->len] = 0;
    if (self->cursor > to)
        self->cursor -= to - from;
    else
    if (self->cursor > from)
        self->cursor = from;
}

static bool
s_is_word (wchar_t c)
{
    return c != L' ';
}

//  Where the line holding pos starts and ends (a message may hold
//  newlines: Alt-Enter, or a paste)
static size_t
s_line_start (tui_input_t *self, size_t pos)
{
    while (pos > 0 && self->line [pos - 1] != L'\n')
        pos--;
    return pos;
}

static size_t
s_line_end (tui_input_t *self, size_t pos)
{
    while (pos < self->len && self->line [pos] != L'\n')
        pos++;
    return pos;
}

//  Up/Down inside a message of several lines: the same column of the
//  line above or below, or as far as that line goes
static void
s_line_move (tui_input_t *self, int step)
{
    size_t start = s_line_start (self, self->cursor);
    size_t column = self->cursor - start;
    size_t target;
    if (step < 0)
        target = s_line_start (self, start - 1);
    else
        target = s_line_end (self, self->cursor) + 1;
    size_t end = s_line_end (self, target);
    self->cursor = target + column < end? target + column: end;
}

void
tui_input_word_left (tui_input_t *self)
{
    while (self->cursor > 0 && !s_is_word (self->line [self->cursor - 1]))
        self->cursor--;
    while (self->cursor > 0 && s_is_word (self->line [self->cursor - 1]))
        self->cursor--;
}

void
tui_input_word_right (tui_input_t *self)
{
    while (self->cursor < self->len && !s_is_word (self->line [self->cursor]))
        self->cursor++;
    while (self->cursor < self->len && s_is_word (self->line [self->cursor]))
        self->cursor++;
}

//  Replaces the text without touching history browsing
static void
s_replace (tui_input_t *self, const char *utf8)
{
    OPENSSL_cleanse (self->line, (self->max + 1) * sizeof (wchar_t));
    self->len = 0;
    self->cursor = 0;
    self->scroll = 0;
    self->row_scroll = 0;
    size_t len = 0;
    wchar_t *wide = tui_text_decode (utf8, strlen (utf8), !self->masked, &len);
    if (wide) {
        s_insert (self, wide, len);
        s_wipe_free (wide, (len + 1) * sizeof (wchar_t));
    }
}

static void
s_history_show (tui_input_t *self, size_t pos)
{
    const char *text = pos < self->history_size? self->history [pos]: self->draft;
    s_replace (self, text? text: "");
    self->history_pos = pos;
}

static tui_input_result_t
s_history_move (tui_input_t *self, int step)
{
    if (self->masked || self->history_size == 0)
        return TUI_INPUT_IGNORED;
    if (step < 0) {
        if (self->history_pos == 0)
            return TUI_INPUT_CHANGED;       //  at the oldest: stay
        if (self->history_pos == self->history_size) {
            free (self->draft);
            self->draft = tui_input_text (self);
        }
        s_history_show (self, self->history_pos - 1);
    }
    else {
        if (self->history_pos >= self->history_size)
            return TUI_INPUT_CHANGED;
        s_history_show (self, self->history_pos + 1);
        if (self->history_pos == self->history_size) {
            free (self->draft);
            self->draft = NULL;
        }
    }
    return TUI_INPUT_CHANGED;
}

tui_input_result_t
tui_input_key (tui_input_t *self, bool keycode, wint_t key)
{
    assert (self);
    if (keycode) {
        switch (key) {
            case KEY_LEFT:
                if (self->cursor > 0)
                    self->cursor--;
                return TUI_INPUT_CHANGED;
            case KEY_RIGHT:
                if (self->cursor < self->len)
                    self->cursor++;
                return TUI_INPUT_CHANGED;
            case KEY_HOME:
                self->cursor = s_line_start (self, self->cursor);
                return TUI_INPUT_CHANGED;
            case KEY_END:
                self->cursor = s_line_end (self, self->cursor);
                return TUI_INPUT_CHANGED;
            case KEY_BACKSPACE:
                if (self->cursor > 0)
                    s_delete (self, self->cursor - 1, self->cursor, false);
                return TUI_INPUT_CHANGED;
            case KEY_DC:
                if (self->cursor < self->len)
                    s_delete (self, self->cursor, self->cursor + 1, false);
                return TUI_INPUT_CHANGED;
            case KEY_UP:
                if (s_line_start (self, self->cursor) > 0) {
                    s_line_move (self, -1);
                    return TUI_INPUT_CHANGED;
                }
                return s_history_move (self, -1);
            case KEY_DOWN:
                if (s_line_end (self, self->cursor) < self->len) {
                    s_line_move (self, 1);
                    return TUI_INPUT_CHANGED;
                }
                return s_history_move (self, 1);
            case KEY_ENTER:
                return TUI_INPUT_SUBMIT;
            default:
                return TUI_INPUT_IGNORED;
        }
    }
    switch (key) {
        case L'\n':
        case L'\r':
            return TUI_INPUT_SUBMIT;
        case CTRL ('A'):
            return tui_input_key (self, true, KEY_HOME);
        case CTRL ('E'):
            return tui_input_key (self, true, KEY_END);
        case CTRL ('B'):
            return tui_input_key (self, true, KEY_LEFT);
        case CTRL ('F'):
            return tui_input_key (self, true, KEY_RIGHT);
        case CTRL ('H'):
        case 0x7F:
            return tui_input_key (self, true, KEY_BACKSPACE);
        case CTRL ('D'):
            return tui_input_key (self, true, KEY_DC);
        case CTRL ('K'): {
            //  to the end of the line; at its end, the newline itself
            size_t end = s_line_end (self, self->cursor);
            if (end == self->cursor && end < self->len)
                end++;
            s_delete (self, self->cursor, end, true);
            return TUI_INPUT_CHANGED;
        }
        case CTRL ('U'):
            s_delete (self, s_line_start (self, self->cursor), self->cursor, true);
            return TUI_INPUT_CHANGED;
        case CTRL ('W'): {
            size_t end = self->cursor;
            tui_input_word_left (self);
            s_delete (self, self->cursor, end, true);
            return TUI_INPUT_CHANGED;
        }
        case CTRL ('Y'):
            if (self->kill && !self->masked)
                s_insert (self, self->kill, self->kill_len);
            return TUI_INPUT_CHANGED;
        default:
            break;
    }
    wchar_t c = (wchar_t) key;
    if (c == L'\t')
        return TUI_INPUT_IGNORED;
    if (!tui_text_printable (c))
        return TUI_INPUT_IGNORED;
    s_insert (self, &c, 1);
    return TUI_INPUT_CHANGED;
}

tui_input_result_t
tui_input_newline (tui_input_t *self)
{
    assert (self);
    if (self->masked)
        return TUI_INPUT_IGNORED;
    wchar_t c = L'\n';
    s_insert (self, &c, 1);
    return TUI_INPUT_CHANGED;
}

tui_input_result_t
tui_input_paste (tui_input_t *self, wint_t key)
{
    assert (self);
    if (key == L'\r' || key == L'\n')
        return self->masked? TUI_INPUT_IGNORED: tui_input_newline (self);
    wchar_t c = (wchar_t) key;
    if (c != L'\t' && !tui_text_printable (c))
        return TUI_INPUT_IGNORED;
    if (c == L'\t' && self->masked)
        return TUI_INPUT_IGNORED;
    s_insert (self, &c, 1);
    return TUI_INPUT_CHANGED;
}

size_t
tui_input_lines (tui_input_t *self)
{
    assert (self);
    size_t lines = 1;
    for (size_t i = 0; i < self->len; i++)
        if (self->line [i] == L'\n')
            lines++;
    return lines;
}

char *
tui_input_text (tui_input_t *self)
{
    assert (self);
    return tui_text_encode (self->line, self->len);
}

void
tui_input_set_text (tui_input_t *self, const char *utf8)
{
    assert (self);
    tui_input_clear (self);
    s_replace (self, utf8);
}

void
tui_input_clear (tui_input_t *self)
{
    assert (self);
    OPENSSL_cleanse (self->line, (self->max + 1) * sizeof (wchar_t));
    self->len = 0;
    self->cursor = 0;
    self->scroll = 0;
    self->row_scroll = 0;
    self->history_pos = self->history_size;
    free (self->draft);
    self->draft = NULL;
}

size_t
tui_input_length (tui_input_t *self)
{
    assert (self);
    return self->len;
}

size_t
tui_input_cursor (tui_input_t *self)
{
    assert (self);
    return self->cursor;
}

bool
tui_input_empty (tui_input_t *self)
{
    assert (self);
    return self->len == 0;
}

void
tui_input_history_add (tui_input_t *self, const char *utf8)
{
    assert (self);
    if (self->masked || !utf8 || !*utf8)
        return;
    if (self->history_size > 0
    &&  strcmp (self->history [self->history_size - 1], utf8) == 0)
        return;
    char *copy = strdup (utf8);
    if (!copy)
        return;
    if (self->history_size == HISTORY_MAX) {
        free (self->history [0]);
        memmove (self->history, self->history + 1,
                 (HISTORY_MAX - 1) * sizeof (char *));
        self->history_size--;
    }
    self->history [self->history_size++] = copy;
    self->history_pos = self->history_size;
}

size_t
tui_input_history_size (tui_input_t *self)
{
    assert (self);
    return self->history_size;
}

static size_t
s_word_start (tui_input_t *self)
{
    size_t start = self->cursor;
    while (start > 0 && s_is_word (self->line [start - 1]))
        start--;
    return start;
}

char *
tui_input_word (tui_input_t *self, bool *first)
{
    assert (self);
    size_t start = s_word_start (self);
    if (first) {
        size_t i = 0;
        while (i < start && self->line [i] == L' ')
            i++;
        *first = (i == start);
    }
    return tui_text_encode (self->line + start, self->cursor - start);
}

size_t
tui_input_complete (tui_input_t *self, const char **candidates, size_t count,
                    const char *suffix)
{
    assert (self);
    if (self->masked)
        return 0;
    size_t start = s_word_start (self);
    size_t word_len = self->cursor - start;
    wchar_t *common = NULL;
    size_t common_len = 0, matches = 0;
    for (size_t i = 0; i < count; i++) {
        size_t len = 0;
        wchar_t *cand = tui_text_decode (candidates [i], strlen (candidates [i]),
                                         false, &len);
        if (!cand)
            continue;
        if (len < word_len
        ||  wmemcmp (cand, self->line + start, word_len) != 0) {
            free (cand);
            continue;
        }
        matches++;
        if (!common) {
            common = cand;
            common_len = len;
            continue;
        }
        size_t n = 0;
        while (n < common_len && n < len && common [n] == cand [n])
            n++;
        common_len = n;
        free (cand);
    }
    if (matches > 0 && common_len > word_len) {
        s_insert (self, common + word_len, common_len - word_len);
    }
    if (matches == 1 && suffix) {
        size_t len = 0;
        wchar_t *wide = tui_text_decode (suffix, strlen (suffix), false, &len);
        //  Only when the next character is not already the suffix
        if (wide && !(self->cursor < self->len && len > 0
                      && self->line [self->cursor] == wide [0]))
            s_insert (self, wide, len);
        else
        if (wide && len > 0)
            self->cursor++;
        free (wide);
    }
    free (common);
    return matches;
}

int
tui_input_draw (tui_input_t *self, int y, int x, int width)
{
    assert (self);
    if (width < 2)
        return x;
    //  Keep the cursor inside [scroll, scroll + width), by columns
    if ((size_t) self->scroll > self->cursor)
        self->scroll = (int) self->cursor;
    while (true) {
        int cols = self->masked? (int) (self->cursor - self->scroll)
                 : tui_text_width (self->line + self->scroll,
                                   self->cursor - self->scroll);
        if (cols < width || (size_t) self->scroll >= self->cursor)
            break;
        self->scroll++;
    }
    int used = 0, cursor_col = 0;
    move (y, x);
    for (size_t i = (size_t) self->scroll; i <= self->len; i++) {
        if (i == self->cursor)
            cursor_col = used;
        if (i == self->len)
            break;
        wchar_t c = self->masked? L'*': self->line [i];
        int w = tui_text_char_width (c);
        if (used + w > width)
            break;
        wchar_t pair [2] = { c, 0 };
        addnwstr (pair, 1);
        used += w;
    }
    for (; used < width; used++)
        addch (' ');
    return x + cursor_col;
}

//  The rows the text takes at width, a character never split: each line
//  (between newlines) wraps where the next character would not fit. Calls
//  place (when given) for every character with its row and column, and
//  gives the cursor's row and column.
typedef void (s_place_fn) (void *arg, int row, int col, wchar_t c);

static int
s_layout (tui_input_t *self, int width, s_place_fn *place, void *arg,
          int *cursor_row, int *cursor_col)
{
    int row = 0, col = 0;
    for (size_t i = 0; i <= self->len; i++) {
        wchar_t c = i < self->len? self->line [i]: 0;
        int w = c == L'\n' || c == 0? 0
              : c == L'\t'? 1: tui_text_char_width (c);
        if (col + (w? w: 1) > width && col > 0) {
            row++;
            col = 0;
        }
        if (i == self->cursor) {
            *cursor_row = row;
            *cursor_col = col;
        }
        if (i == self->len)
            break;
        if (c == L'\n') {
            row++;
            col = 0;
            continue;
        }
        if (place)
            place (arg, row, col, c);
        col += w;
    }
    return row + 1;
}

int
tui_input_rows (tui_input_t *self, int width)
{
    assert (self);
    int cursor_row, cursor_col;
    return s_layout (self, width < 2? 2: width, NULL, NULL, &cursor_row, &cursor_col);
}

typedef struct {
    int y, x, first, rows;
    bool masked;
} s_draw_t;

static void
s_place (void *arg, int row, int col, wchar_t c)
{
    s_draw_t *draw = (s_draw_t *) arg;
    if (row < draw->first || row >= draw->first + draw->rows)
        return;
    wchar_t pair [2] = { draw->masked? L'*': c == L'\t'? L' ': c, 0 };
    mvaddnwstr (draw->y + row - draw->first, draw->x + col, pair, 1);
}

void
tui_input_draw_rows (tui_input_t *self, int y, int x, int width, int rows,
                     int *cursor_y, int *cursor_x)
{
    assert (self);
    if (width < 2)
        width = 2;
    if (rows < 1)
        rows = 1;
    int cursor_row = 0, cursor_col = 0;
    int total = s_layout (self, width, NULL, NULL, &cursor_row, &cursor_col);
    //  Keep the cursor's row in view
    if (self->row_scroll > cursor_row)
        self->row_scroll = cursor_row;
    if (cursor_row >= self->row_scroll + rows)
        self->row_scroll = cursor_row - rows + 1;
    if (self->row_scroll > total - rows)
        self->row_scroll = total - rows > 0? total - rows: 0;
    for (int r = 0; r < rows; r++)
        mvhline (y + r, x, ' ', width);
    s_draw_t draw = { y, x, self->row_scroll, rows, self->masked };
    s_layout (self, width, s_place, &draw, &cursor_row, &cursor_col);
    *cursor_y = y + cursor_row - self->row_scroll;
    *cursor_x = x + cursor_col;
}
