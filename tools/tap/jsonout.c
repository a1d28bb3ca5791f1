/*  jsonout - the little JSON the tools write  */
#include "jsonout.h"
#include <stdint.h>

//  Length of the valid UTF-8 sequence at s, or 0.
static size_t
s_utf8_length (const unsigned char *s)
{
    size_t len;
    uint32_t cp;
    if (s [0] >= 0xc2 && s [0] <= 0xdf) { len = 2; cp = s [0] & 0x1f; }
    else
    if (s [0] >= 0xe0 && s [0] <= 0xef) { len = 3; cp = s [0] & 0x0f; }
    else
    if (s [0] >= 0xf0 && s [0] <= 0xf4) { len = 4; cp = s [0] & 0x07; }
    else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s [i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s [i] & 0x3f);
    }
    //  Overlong forms, surrogates, beyond U+10FFFF
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))
    ||  (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void
jsonout_string (FILE *out, const char *text)
{
    fputc ('"', out);
    const unsigned char *s = (const unsigned char *) (text? text: "");
    while (*s) {
        if (*s == '"' || *s == '\\') {
            fputc ('\\', out);
            fputc (*s++, out);
        }
        else
        if (*s < 0x20 || *s == 0x7f) {
            fprintf (out, "\\u%04x", *s++);
        }
        else
        if (*s < 0x80)
            fputc (*s++, out);
        else {
            size_t len = s_utf8_length (s);
            if (len == 0)
                fprintf (out, "\\u%04x", *s++);     //  a stray byte, as Latin-1
            else {
                fwrite (s, 1, len, out);
                s += len;
            }
        }
    }
    fputc ('"', out);
}
