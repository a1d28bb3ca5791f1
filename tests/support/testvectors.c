/*  testvectors - the files under tests/vectors; see testvectors.h  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codec.h"
#include "testvectors.h"

const char *
testvectors_path (const char *name)
{
    static char path [1024];
    const char *dir = getenv ("CHAT_VECTORS_DIR");
    if (dir)
        snprintf (path, sizeof path, "%s/%s", dir, name);
    else {
        //  tests/support/testvectors.c -> tests/vectors
        const char *self = __FILE__;
        const char *cut = strstr (self, "/support/testvectors.c");
        int prefix = cut ? (int) (cut - self) : 1;
        snprintf (path, sizeof path, "%.*s/vectors/%s", prefix, cut ? self : ".", name);
    }
    return path;
}

char *
testvectors_read (const char *name, size_t *len)
{
    FILE *file = fopen (testvectors_path (name), "rb");
    if (!file)
        return NULL;
    size_t size = 0, cap = 4096;
    char *text = malloc (cap);
    while (text) {
        size_t got = fread (text + size, 1, cap - size - 1, file);
        size += got;
        if (got == 0)
            break;
        if (size + 1 == cap) {
            char *bigger = realloc (text, cap * 2);
            if (!bigger) {
                free (text);
                text = NULL;
                break;
            }
            text = bigger;
            cap *= 2;
        }
    }
    fclose (file);
    if (!text)
        return NULL;
    while (size > 0 && (text [size - 1] == '\n' || text [size - 1] == '\r'
                     || text [size - 1] == ' '))
        size--;
    text [size] = 0;
    if (len)
        *len = size;
    return text;
}

uint8_t *
testvectors_read_hex (const char *name, size_t *len)
{
    size_t text_len;
    char *text = testvectors_read (name, &text_len);
    if (!text)
        return NULL;
    uint8_t *bytes = NULL;
    if (text_len % 2 == 0 && (bytes = malloc (text_len / 2 + 1)) != NULL
    &&  codec_unhex (text, bytes, text_len / 2) != 0) {
        free (bytes);
        bytes = NULL;
    }
    free (text);
    if (bytes && len)
        *len = text_len / 2;
    return bytes;
}
