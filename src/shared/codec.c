/*  codec - text encodings of binary data (OpenSSL's base64 underneath)

    OpenSSL's EVP_DecodeBlock is lenient (it skips white space and does not
    care where '=' sits), so every input is checked against the alphabet and
    the padding rules here first; only text that passed is handed to it.
*/
#include "codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

//  Largest input we encode: EVP_EncodeBlock takes an int.
#define CODEC_MAX_BINARY ((size_t) 0x5FFFFFFF)

static char *
s_b64_encode (const uint8_t *data, size_t len)
{
    if (len > CODEC_MAX_BINARY)
        return NULL;
    size_t out_len = 4 * ((len + 2) / 3);
    char *out = (char *) malloc (out_len + 1);
    if (!out)
        return NULL;
    if (len == 0) {
        out [0] = '\0';
        return out;
    }
    int written = EVP_EncodeBlock ((unsigned char *) out, data, (int) len);
    if (written < 0 || (size_t) written != out_len) {
        free (out);
        return NULL;
    }
    out [out_len] = '\0';
    return out;
}

char *
codec_b64_encode (const uint8_t *data, size_t len)
{
    return s_b64_encode (data, len);
}

//  '+' and '/' to '-' and '_', in place.
static void
s_to_url (char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = text [i];
        text [i] = c == '+'? '-': c == '/'? '_': c;
    }
}

int
codec_b64url_encode_into (const uint8_t *data, size_t len, char *out, size_t out_size)
{
    if (!out || (!data && len) || len > CODEC_MAX_BINARY)
        return -1;
    size_t out_len = 4 * ((len + 2) / 3);
    if (out_size < out_len + 1)
        return -1;
    if (len > 0) {
        int written = EVP_EncodeBlock ((unsigned char *) out, data, (int) len);
        if (written < 0 || (size_t) written != out_len)
            return -1;
    }
    out [out_len] = '\0';
    s_to_url (out, out_len);
    return 0;
}

char *
codec_b64url_encode (const uint8_t *data, size_t len)
{
    if (len > CODEC_MAX_BINARY)
        return NULL;
    size_t out_size = 4 * ((len + 2) / 3) + 1;
    char *out = (char *) malloc (out_size);
    if (out && codec_b64url_encode_into (data, len, out, out_size)) {
        free (out);
        out = NULL;
    }
    return out;
}

char *
codec_b64_nopad (const uint8_t *data, size_t len)
{
    char *out = s_b64_encode (data, len);
    if (out) {
        char *pad = strchr (out, '=');
        if (pad)
            *pad = '\0';
    }
    return out;
}

//  Each url-safe base64 character's value plus one; 0 for the rest. A table:
//  the range tests it replaces ran for every character of every token.
static const uint8_t s_b64url_values [256] = {
    ['A'] = 1, ['B'] = 2, ['C'] = 3, ['D'] = 4, ['E'] = 5, ['F'] = 6, ['G'] = 7, ['H'] = 8,
    ['I'] = 9, ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
};

//  Value of a url-safe base64 character, or -1.
static int
s_b64url_value (char c)
{
    return (int) s_b64url_values [(unsigned char) c] - 1;
}

//  The length and padding rules, which need no look at the body: a length
//  that is a multiple of 4, at most two '=' and only at the very end, and
//  zero bits under the padding (so each byte string has exactly one
//  encoding: a token cannot be altered without a trace). Gives the padding
//  and the decoded length.
static int
s_b64url_shape (const char *text, size_t text_len, size_t *pad, size_t *len)
{
    if (!text || text_len % 4 != 0 || text_len > 4 * (CODEC_MAX_BINARY / 3))
        return -1;
    *pad = 0;
    if (text_len > 0 && text [text_len - 1] == '=') {
        *pad = 1;
        if (text [text_len - 2] == '=')
            *pad = 2;
    }
    if (*pad > 0) {
        int last = s_b64url_value (text [text_len - *pad - 1]);
        if (last < 0 || (last & (*pad == 1 ? 0x03 : 0x0F)))
            return -1;
    }
    *len = text_len / 4 * 3 - *pad;
    return 0;
}

int
codec_b64url_check (const char *text, size_t text_len, size_t *len)
{
    if (!len)
        return -1;
    *len = 0;
    size_t pad, out_len;
    if (s_b64url_shape (text, text_len, &pad, &out_len))
        return -1;
    for (size_t i = 0; i < text_len - pad; i++)
        if (s_b64url_value (text [i]) < 0)
            return -1;
    *len = out_len;
    return 0;
}

//  Url-safe text (its shape checked) to standard base64 a stack chunk at a
//  time, each character checked against the alphabet on the way, decoded
//  straight into out: one pass, no copy of the whole text. The last
//  quartet goes through a small buffer so that out need hold only the real
//  bytes, not the padding's.
#define CODEC_CHUNK 1024        //  characters, a multiple of 4

static int
s_decode (const char *text, size_t text_len, size_t pad, uint8_t *out)
{
    char std [CODEC_CHUNK];
    size_t done = 0;
    int rc = 0;
    while (rc == 0 && done < text_len) {
        size_t n = text_len - done < CODEC_CHUNK? text_len - done: CODEC_CHUNK;
        bool last = done + n == text_len;
        size_t letters = last? n - pad: n;
        uint8_t absent = 0;
        for (size_t i = 0; i < letters; i++) {
            char c = text [done + i];
            absent |= (uint8_t) (s_b64url_values [(unsigned char) c] == 0);
            std [i] = c == '-'? '+': c == '_'? '/': c;
        }
        for (size_t i = letters; i < n; i++)
            std [i] = '=';
        if (absent)
            rc = -1;
        size_t whole = last? n - 4: n;      //  the last quartet apart
        if (rc == 0 && whole > 0
        &&  EVP_DecodeBlock (out, (const unsigned char *) std, (int) whole)
            != (int) (whole / 4 * 3))
            rc = -1;
        out += whole / 4 * 3;
        if (rc == 0 && last) {
            uint8_t tail [3];
            if (EVP_DecodeBlock (tail, (const unsigned char *) std + whole, 4) != 3)
                rc = -1;
            else
                memcpy (out, tail, 3 - pad);
            OPENSSL_cleanse (tail, sizeof tail);
        }
        //  The text may have been a secret (a key); so is its translation.
        OPENSSL_cleanse (std, n);
        done += n;
    }
    return rc;
}

int
codec_b64url_decode_into (const char *text, size_t text_len,
                          uint8_t *out, size_t out_size, size_t *len)
{
    if (!len)
        return -1;
    size_t pad, out_len;
    if (s_b64url_shape (text, text_len, &pad, &out_len) || !out || out_size < out_len)
        return -1;
    if (s_decode (text, text_len, pad, out)) {
        OPENSSL_cleanse (out, out_len);
        return -1;
    }
    *len = out_len;
    return 0;
}

int
codec_b64url_decode (const char *text, size_t text_len,
                     uint8_t **data, size_t *len)
{
    if (!text || !data || !len)
        return -1;
    *data = NULL;
    *len = 0;
    size_t pad, out_len;
    if (s_b64url_shape (text, text_len, &pad, &out_len))
        return -1;
    uint8_t *out = (uint8_t *) malloc (out_len + 1);
    if (!out)
        return -1;
    if (s_decode (text, text_len, pad, out)) {
        OPENSSL_cleanse (out, out_len);
        free (out);
        return -1;
    }
    *data = out;
    *len = out_len;
    return 0;
}

int
codec_b64url_decoded_len (const char *text, size_t text_len, size_t *len)
{
    if (!len)
        return -1;
    *len = 0;
    size_t pad;
    return s_b64url_shape (text, text_len, &pad, len);
}

char *
codec_hex (const uint8_t *data, size_t len)
{
    if (len > (SIZE_MAX - 1) / 2)
        return NULL;
    char *out = (char *) malloc (len * 2 + 1);
    if (out)
        codec_hex_into (data, len, out);
    return out;
}

void
codec_hex_into (const uint8_t *data, size_t len, char *out)
{
    static const char digits [] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out [2 * i] = digits [data [i] >> 4];
        out [2 * i + 1] = digits [data [i] & 0x0F];
    }
    out [len * 2] = '\0';
}

static int
s_hex_value (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
codec_unhex (const char *text, uint8_t *out, size_t len)
{
    if (!text || !out || len > (SIZE_MAX - 1) / 2)
        return -1;
    //  Exactly len*2 digits: a longer string is as wrong as a shorter one.
    if (strnlen (text, len * 2 + 1) != len * 2)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int high = s_hex_value (text [2 * i]);
        int low = s_hex_value (text [2 * i + 1]);
        if (high < 0 || low < 0) {
            OPENSSL_cleanse (out, len);
            return -1;
        }
        out [i] = (uint8_t) (high << 4 | low);
    }
    return 0;
}


int
codec_utf8_valid (const uint8_t *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = text [i];
        //  The sequence's length, and the range its second byte may take
        //  (which is what excludes overlong forms, surrogates and > U+10FFFF)
        size_t n;
        uint8_t lo = 0x80, hi = 0xBF;
        if (c == 0)
            return 0;
        else
        if (c < 0x80) {
            i++;
            continue;
        }
        else
        if (c >= 0xC2 && c <= 0xDF)
            n = 2;
        else
        if (c >= 0xE0 && c <= 0xEF) {
            n = 3;
            if (c == 0xE0)
                lo = 0xA0;
            if (c == 0xED)
                hi = 0x9F;
        }
        else
        if (c >= 0xF0 && c <= 0xF4) {
            n = 4;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F;
        }
        else
            return 0;
        if (len - i < n || text [i + 1] < lo || text [i + 1] > hi)
            return 0;
        for (size_t k = 2; k < n; k++)
            if ((text [i + k] & 0xC0) != 0x80)
                return 0;
        i += n;
    }
    return 1;
}
