/*  plainfmt - the text of plain mode: escaping fields for one-line output,
    JSON strings, and splitting command lines

    Plain-mode text escapes: backslash as \\, newline \n, carriage return
    \r, tab \t, any other control byte, DEL and every byte that is not part
    of valid UTF-8 as \xHH; so are the bytes of characters that would steer
    a terminal (C1 controls U+0080..U+009F, among them CSI and OSC, and the
    bidi controls U+202A..U+202E, U+2066..U+2069: what the TUI filters);
    in a field that is not the last one of its line a space is \x20 too, so
    fields never contain spaces. JSON strings escape the same characters as
    \uXXXX. Command words are unescaped the same way, so "\x20" puts a
    space in a password.
*/
#ifndef PLAINFMT_H_INCLUDED
#define PLAINFMT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  Escape len bytes; malloc'd. field: also escape spaces.
char *
    plainfmt_escape (const char *text, size_t len, bool field);

//  A JSON string literal, quotes included; invalid UTF-8 becomes U+FFFD,
//  control characters (C0, DEL, C1, bidi controls) \uXXXX (or their short
//  forms). malloc'd.
char *
    plainfmt_json (const char *text, size_t len);

//  Undo plainfmt_escape. malloc'd, NUL-terminated, *len (may be NULL) its
//  length (a decoded \x00 is refused: NULL). NULL on a bad escape.
char *
    plainfmt_unescape (const char *text, size_t *len);

//  Split a line into whitespace-separated words (raw, not unescaped):
//  stores malloc'd copies of the first max in words[] and returns how many
//  words the line has (may be more than max: free only max). If rest is not NULL, *rest points into line at the start of
//  word number rest_at (0-based) or at the line's end.
int
    plainfmt_split (const char *line, char **words, int max,
                    int rest_at, const char **rest);
void
    plainfmt_free_words (char **words, int count);

#endif
