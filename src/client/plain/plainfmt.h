/*  plainfmt - the text of plain mode: escaping fields for one-line output,
    JSON strings, and splitting command lines

    Plain-mode text escapes: backslash as \\, newline \n, carriage return
    \r, tab \t, any other control byte, DEL and every byte that is not part
    of valid UTF-8 as \xHH; in a field that is not the last one of its line
    a space is \x20 too, so fields never contain spaces. Command words
    are unescaped the same way, so "\x20" puts a space in a password.
*/
#ifndef PLAINFMT_H_INCLUDED
#define PLAINFMT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

//  Escape len bytes; malloc'd. field: also escape spaces.
char *
    plainfmt_escape (const char *text, size_t len, bool field);

//  A JSON string literal, quotes included; invalid UTF-8 becomes U+FFFD,
//  control characters \uXXXX (or their short forms). malloc'd.
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
