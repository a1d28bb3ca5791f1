/*  plainfmt - see plainfmt.h  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec.h"
#include "plainfmt.h"

typedef struct {
    char *data;
    size_t len, alloc;
} buf_t;

static void
s_put (buf_t *buf, const char *data, size_t len)
{
    if (buf->len + len + 1 > buf->alloc) {
        size_t alloc = buf->alloc ? buf->alloc : 64;
        while (buf->len + len + 1 > alloc)
            alloc *= 2;
        char *grown = realloc (buf->data, alloc);
        if (!grown)
            abort ();           //  out of memory for a line of text
        buf->data = grown;
        buf->alloc = alloc;
    }
    memcpy (buf->data + buf->len, data, len);
    buf->len += len;
    buf->data [buf->len] = 0;
}

static void
s_putc (buf_t *buf, char c)
{
    s_put (buf, &c, 1);
}

//  Length of the valid UTF-8 sequence at text (1..4) and its code point,
//  or 0 if invalid.
static size_t
s_utf8_len (const unsigned char *text, size_t avail, uint32_t *point)
{
    unsigned char c = text [0];
    size_t need;
    uint32_t cp;
    *point = c;
    if (c < 0x80)
        return 1;
    else
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        cp = c & 0x1F;
    }
    else
    if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        cp = c & 0x0F;
    }
    else
    if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        cp = c & 0x07;
    }
    else
        return 0;
    if (avail < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((text [i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (text [i] & 0x3F);
    }
    //  overlong forms, surrogates, beyond U+10FFFF
    if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000)
    ||  (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    *point = cp;
    return need;
}

//  Characters that change how a terminal shows what follows: C1 controls
//  (U+009B is a CSI, U+009D an OSC) and the bidi overrides, embeddings and
//  isolates. The same set the TUI refuses (tui_text_printable).
static bool
s_terminal_control (uint32_t point)
{
    return (point >= 0x80 && point < 0xA0)
        || (point >= 0x202A && point <= 0x202E)
        || (point >= 0x2066 && point <= 0x2069);
}

//  Append len bytes of text to buf escaped: backslash, newline, return and
//  tab by name always; in JSON also the quote, backspace and form feed by
//  name. Other control bytes and DEL (and in a field the space) become
//  \xHH, or \u00HH in JSON; so do C1 controls and bidi controls written in
//  UTF-8 (each byte \xHH, or one \uXXXX in JSON); other valid UTF-8 is kept
//  as it is, and any other byte becomes \xHH, or U+FFFD in JSON.
static void
s_escape (buf_t *buf, const unsigned char *text, size_t len, bool json, bool field)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = text [i];
        char esc [8];
        size_t n = 1;
        uint32_t point = 0;
        if (c == '\\')
            s_put (buf, "\\\\", 2);
        else
        if (c == '\n')
            s_put (buf, "\\n", 2);
        else
        if (c == '\r')
            s_put (buf, "\\r", 2);
        else
        if (c == '\t')
            s_put (buf, "\\t", 2);
        else
        if (json && c == '"')
            s_put (buf, "\\\"", 2);
        else
        if (json && c == '\b')
            s_put (buf, "\\b", 2);
        else
        if (json && c == '\f')
            s_put (buf, "\\f", 2);
        else
        if (c < 0x20 || c == 0x7F || (field && c == ' ')) {
            if (json)
                s_put (buf, esc, (size_t) snprintf (esc, sizeof esc, "\\u%04x", c));
            else
                s_put (buf, esc, (size_t) snprintf (esc, sizeof esc, "\\x%02x", c));
        }
        else
        if ((n = s_utf8_len (text + i, len - i, &point)) > 0 && s_terminal_control (point)) {
            if (json)
                s_put (buf, esc, (size_t) snprintf (esc, sizeof esc, "\\u%04x", point));
            else
                for (size_t byte = 0; byte < n; byte++)
                    s_put (buf, esc, (size_t) snprintf (esc, sizeof esc, "\\x%02x",
                                                        text [i + byte]));
        }
        else
        if (n > 0)
            s_put (buf, (const char *) text + i, n);
        else {
            n = 1;
            if (json)
                s_put (buf, "\\ufffd", 6);
            else
                s_put (buf, esc, (size_t) snprintf (esc, sizeof esc, "\\x%02x", c));
        }
        i += n;
    }
}

char *
plainfmt_escape (const char *text, size_t len, bool field)
{
    buf_t buf = { NULL, 0, 0 };
    s_put (&buf, "", 0);
    s_escape (&buf, (const unsigned char *) text, len, false, field);
    return buf.data;
}

char *
plainfmt_json (const char *text, size_t len)
{
    buf_t buf = { NULL, 0, 0 };
    s_putc (&buf, '"');
    s_escape (&buf, (const unsigned char *) (text ? text : ""), len, true, false);
    s_putc (&buf, '"');
    return buf.data;
}

char *
plainfmt_unescape (const char *text, size_t *len)
{
    buf_t buf = { NULL, 0, 0 };
    s_put (&buf, "", 0);
    for (const char *p = text; *p; p++) {
        if (*p != '\\') {
            s_putc (&buf, *p);
            continue;
        }
        p++;
        switch (*p) {
            case '\\': s_putc (&buf, '\\'); break;
            case 'n':  s_putc (&buf, '\n'); break;
            case 'r':  s_putc (&buf, '\r'); break;
            case 't':  s_putc (&buf, '\t'); break;
            case 'x': {
                //  Exactly two digits, and never a NUL
                const char digits [3] = { p [1], p [1] ? p [2] : 0, 0 };
                uint8_t byte = 0;
                if (codec_unhex (digits, &byte, 1) != 0 || byte == 0) {
                    free (buf.data);
                    return NULL;
                }
                s_putc (&buf, (char) byte);
                p += 2;
                break;
            }
            default:
                free (buf.data);
                return NULL;
        }
    }
    if (len)
        *len = buf.len;
    return buf.data;
}

int
plainfmt_split (const char *line, char **words, int max,
                int rest_at, const char **rest)
{
    int count = 0;
    const char *p = line;
    if (rest)
        *rest = line + strlen (line);
    while (true) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            break;
        if (rest && count == rest_at)
            *rest = p;
        const char *start = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            p++;
        if (count < max) {
            words [count] = strndup (start, (size_t) (p - start));
            if (!words [count])
                abort ();
        }
        count++;
    }
    return count;
}

void
plainfmt_free_words (char **words, int count)
{
    for (int i = 0; i < count; i++) {
        free (words [i]);
        words [i] = NULL;
    }
}
