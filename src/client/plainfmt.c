/*  plainfmt - see plainfmt.h  */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

//  Length of the valid UTF-8 sequence at text (1..4), or 0 if invalid.
static size_t
s_utf8_len (const unsigned char *text, size_t avail)
{
    unsigned char c = text [0];
    size_t need;
    uint32_t cp;
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
    return need;
}

char *
plainfmt_escape (const char *text, size_t len, bool field)
{
    buf_t buf = { NULL, 0, 0 };
    s_put (&buf, "", 0);
    const unsigned char *p = (const unsigned char *) text;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p [i];
        char hex [5];
        if (c == '\\')
            s_put (&buf, "\\\\", 2);
        else
        if (c == '\n')
            s_put (&buf, "\\n", 2);
        else
        if (c == '\r')
            s_put (&buf, "\\r", 2);
        else
        if (c == '\t')
            s_put (&buf, "\\t", 2);
        else
        if (c < 0x20 || c == 0x7F || (field && c == ' ')) {
            snprintf (hex, sizeof (hex), "\\x%02x", c);
            s_put (&buf, hex, 4);
        }
        else {
            size_t n = s_utf8_len (p + i, len - i);
            if (n == 0) {
                snprintf (hex, sizeof (hex), "\\x%02x", c);
                s_put (&buf, hex, 4);
            }
            else {
                s_put (&buf, (const char *) p + i, n);
                i += n;
                continue;
            }
        }
        i++;
    }
    return buf.data;
}

char *
plainfmt_json (const char *text, size_t len)
{
    buf_t buf = { NULL, 0, 0 };
    s_putc (&buf, '"');
    const unsigned char *p = (const unsigned char *) (text ? text : "");
    size_t i = 0;
    while (i < len) {
        unsigned char c = p [i];
        char esc [8];
        if (c == '"')
            s_put (&buf, "\\\"", 2);
        else
        if (c == '\\')
            s_put (&buf, "\\\\", 2);
        else
        if (c == '\n')
            s_put (&buf, "\\n", 2);
        else
        if (c == '\r')
            s_put (&buf, "\\r", 2);
        else
        if (c == '\t')
            s_put (&buf, "\\t", 2);
        else
        if (c == '\b')
            s_put (&buf, "\\b", 2);
        else
        if (c == '\f')
            s_put (&buf, "\\f", 2);
        else
        if (c < 0x20 || c == 0x7F) {
            snprintf (esc, sizeof (esc), "\\u%04x", c);
            s_put (&buf, esc, 6);
        }
        else {
            size_t n = s_utf8_len (p + i, len - i);
            if (n == 0)
                s_put (&buf, "\\ufffd", 6);
            else {
                s_put (&buf, (const char *) p + i, n);
                i += n;
                continue;
            }
        }
        i++;
    }
    s_putc (&buf, '"');
    return buf.data;
}

static int
s_hexval (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
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
                int hi = p [1] ? s_hexval (p [1]) : -1;
                int lo = hi >= 0 && p [2] ? s_hexval (p [2]) : -1;
                if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                    free (buf.data);
                    return NULL;
                }
                s_putc (&buf, (char) (hi * 16 + lo));
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
