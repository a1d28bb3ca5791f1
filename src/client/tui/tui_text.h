/*  tui_text - UTF-8 <-> wide text for the terminal: strict decoding that
    turns anything a terminal could act on (control characters, C1 codes,
    bidi overrides) into U+FFFD, display widths, and word wrapping

    Text from the network is untrusted: every string the TUI draws goes
    through tui_text_decode first, so no message can move the cursor, change
    colours or retitle the terminal.
*/
#ifndef TUI_TEXT_H_INCLUDED
#define TUI_TEXT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <wchar.h>

#define TUI_TEXT_REPLACEMENT 0xFFFD

//  Fresh NUL-terminated wide string from len bytes of UTF-8 (the text may
//  hold NULs: they are replaced too). keep_newlines: '\n' survives (for
//  wrapping), else it is replaced as well. *wide_len (may be NULL) gets
//  the length. NULL only when out of memory.
wchar_t *
    tui_text_decode (const char *utf8, size_t len, bool keep_newlines,
                     size_t *wide_len);
//  Same for a NUL-terminated string (NULL gives "").
wchar_t *
    tui_text_decode_str (const char *utf8);

//  Fresh UTF-8 string from wide characters; NULL when out of memory.
char *
    tui_text_encode (const wchar_t *wide, size_t len);

//  True for a character the TUI lets through to the terminal.
bool
    tui_text_printable (wchar_t c);

//  Columns a character takes: 0, 1 or 2 (unknown: 1).
int
    tui_text_char_width (wchar_t c);
//  Columns a string takes.
int
    tui_text_width (const wchar_t *text, size_t len);

//  Wrapping: the line starting at `start` that fits `width` columns.
//  Breaks at '\n', else after the last space that fits, else mid-word.
//  Sets *line_len (characters to draw, no trailing newline) and returns
//  where the next line starts (== len at the end).
size_t
    tui_text_wrap (const wchar_t *text, size_t len, size_t start, int width,
                   size_t *line_len);
//  How many lines text takes at width.
size_t
    tui_text_line_count (const wchar_t *text, size_t len, int width);

//  Draw at most `width` columns of a wide string at (y, x) on stdscr;
//  returns columns used.
int
    tui_text_draw (int y, int x, const wchar_t *text, size_t len, int width);
//  Same for UTF-8 (decoded and sanitised).
int
    tui_text_draw_utf8 (int y, int x, const char *utf8, int width);

#endif
