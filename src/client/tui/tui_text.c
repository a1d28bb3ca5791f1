/*  tui_text - UTF-8 <-> wide text, widths and wrapping for the TUI

    The decoder is written out rather than left to mbrtowc because the wire
    text is UTF-8 whatever the user's locale says, and because it must
    refuse overlong forms and surrogates rather than pass them on.
*/
#define NCURSES_WIDECHAR 1     //  the wide-character API (get_wch, addnwstr)
#include <assert.h>
#include <curses.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tui_text.h"

bool
tui_text_printable (wchar_t c)
{
    uint32_t u = (uint32_t) c;
    if (u < 0x20 || u == 0x7F)
        return false;
    if (u >= 0x80 && u < 0xA0)
        return false;               //  C1 controls (0x9B is a CSI)
    if ((u >= 0x202A && u <= 0x202E) || (u >= 0x2066 && u <= 0x2069))
        return false;               //  bidi overrides and isolates
    if (u >= 0xD800 && u <= 0xDFFF)
        return false;
    if (u > 0x10FFFF)
        return false;
    return true;
}

//  Decodes one UTF-8 sequence at s (n bytes left); returns bytes used (at
//  least 1) and the character, or U+FFFD for anything malformed.
static size_t
s_decode_one (const unsigned char *s, size_t n, uint32_t *out)
{
    unsigned char b = s [0];
    size_t need;
    uint32_t u, min;
    if (b < 0x80) {
        *out = b;
        return 1;
    }
    if ((b & 0xE0) == 0xC0) { need = 1; u = b & 0x1F; min = 0x80; }
    else
    if ((b & 0xF0) == 0xE0) { need = 2; u = b & 0x0F; min = 0x800; }
    else
    if ((b & 0xF8) == 0xF0) { need = 3; u = b & 0x07; min = 0x10000; }
    else {
        *out = TUI_TEXT_REPLACEMENT;
        return 1;
    }
    size_t i;
    for (i = 1; i <= need; i++) {
        if (i >= n || (s [i] & 0xC0) != 0x80) {
            *out = TUI_TEXT_REPLACEMENT;
            return i;               //  resynchronise on the bad byte
        }
        u = (u << 6) | (s [i] & 0x3F);
    }
    if (u < min || u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF))
        u = TUI_TEXT_REPLACEMENT;
    *out = u;
    return need + 1;
}

wchar_t *
tui_text_decode (const char *utf8, size_t len, bool keep_newlines,
                 size_t *wide_len)
{
    wchar_t *wide = (wchar_t *) calloc (len + 1, sizeof (wchar_t));
    if (!wide)
        return NULL;
    const unsigned char *s = (const unsigned char *) utf8;
    size_t pos = 0, count = 0;
    while (pos < len) {
        uint32_t u;
        pos += s_decode_one (s + pos, len - pos, &u);
        if (u == '\t')
            u = ' ';
        if (!(keep_newlines && u == '\n') && !tui_text_printable ((wchar_t) u))
            u = TUI_TEXT_REPLACEMENT;
        wide [count++] = (wchar_t) u;
    }
    wide [count] = 0;
    if (wide_len)
        *wide_len = count;
    return wide;
}

wchar_t *
tui_text_decode_str (const char *utf8)
{
    if (!utf8)
        utf8 = "";
    return tui_text_decode (utf8, strlen (utf8), false, NULL);
}

char *
tui_text_encode (const wchar_t *wide, size_t len)
{
    char *out = (char *) malloc (len * 4 + 1);
    if (!out)
        return NULL;
    size_t pos = 0;
    for (size_t i = 0; i < len; i++) {
        uint32_t u = (uint32_t) wide [i];
        if (u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF))
            u = TUI_TEXT_REPLACEMENT;
        if (u < 0x80)
            out [pos++] = (char) u;
        else
        if (u < 0x800) {
            out [pos++] = (char) (0xC0 | (u >> 6));
            out [pos++] = (char) (0x80 | (u & 0x3F));
        }
        else
        if (u < 0x10000) {
            out [pos++] = (char) (0xE0 | (u >> 12));
            out [pos++] = (char) (0x80 | ((u >> 6) & 0x3F));
            out [pos++] = (char) (0x80 | (u & 0x3F));
        }
        else {
            out [pos++] = (char) (0xF0 | (u >> 18));
            out [pos++] = (char) (0x80 | ((u >> 12) & 0x3F));
            out [pos++] = (char) (0x80 | ((u >> 6) & 0x3F));
            out [pos++] = (char) (0x80 | (u & 0x3F));
        }
    }
    out [pos] = 0;
    return out;
}

int
tui_text_char_width (wchar_t c)
{
    int w = wcwidth (c);
    if (w < 0)
        return 1;
    return w > 2? 2: w;
}

int
tui_text_width (const wchar_t *text, size_t len)
{
    int width = 0;
    for (size_t i = 0; i < len; i++)
        width += tui_text_char_width (text [i]);
    return width;
}

size_t
tui_text_wrap (const wchar_t *text, size_t len, size_t start, int width,
               size_t *line_len)
{
    if (width < 1)
        width = 1;
    size_t pos = start;
    int used = 0;
    size_t last_space = 0;          //  index after which to break, 0: none
    bool have_space = false;
    while (pos < len && text [pos] != L'\n') {
        int w = tui_text_char_width (text [pos]);
        if (used + w > width && pos > start)
            break;
        if (text [pos] == L' ') {
            last_space = pos;
            have_space = true;
        }
        used += w;
        pos++;
    }
    if (pos >= len) {
        *line_len = len - start;
        return len;
    }
    if (text [pos] == L'\n') {
        *line_len = pos - start;
        return pos + 1;
    }
    //  Over the width: break after the last space if the line has one
    //  (the space itself is dropped), else mid-word
    if (text [pos] == L' ') {
        *line_len = pos - start;
        return pos + 1;
    }
    if (have_space && last_space > start) {
        *line_len = last_space - start;
        return last_space + 1;
    }
    *line_len = pos - start;
    return pos;
}

size_t
tui_text_line_count (const wchar_t *text, size_t len, int width)
{
    size_t lines = 0, pos = 0, line_len;
    if (len == 0)
        return 1;
    while (pos < len) {
        pos = tui_text_wrap (text, len, pos, width, &line_len);
        lines++;
    }
    return lines;
}

int
tui_text_draw (int y, int x, const wchar_t *text, size_t len, int width)
{
    int used = 0;
    move (y, x);
    for (size_t i = 0; i < len; i++) {
        wchar_t c = text [i];
        if (!tui_text_printable (c))
            c = TUI_TEXT_REPLACEMENT;
        int w = tui_text_char_width (c);
        if (used + w > width)
            break;
        if (w == 0 && used == 0)
            continue;               //  a combining mark with nothing to sit on
        wchar_t pair [2] = { c, 0 };
        addnwstr (pair, 1);
        used += w;
    }
    return used;
}

int
tui_text_draw_utf8 (int y, int x, const char *utf8, int width)
{
    wchar_t *wide = tui_text_decode_str (utf8);
    if (!wide)
        return 0;
    int used = tui_text_draw (y, x, wide, wcslen (wide), width);
    free (wide);
    return used;
}
