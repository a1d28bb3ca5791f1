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

//  Value of a url-safe base64 character, or -1.
static int
s_b64url_value (char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int
codec_b64url_check (const char *text, size_t text_len, size_t *len)
{
    if (!text || !len)
        return -1;
    *len = 0;
    if (text_len % 4 != 0 || text_len > 4 * (CODEC_MAX_BINARY / 3))
        return -1;

    //  At most two '=' and only at the very end.
    size_t pad = 0;
    if (text_len > 0 && text [text_len - 1] == '=') {
        pad = 1;
        if (text [text_len - 2] == '=')
            pad = 2;
    }
    size_t body = text_len - pad;
    for (size_t i = 0; i < body; i++)
        if (s_b64url_value (text [i]) < 0)
            return -1;

    //  The bits the padding drops must be zero, so each byte string has
    //  exactly one encoding (a token cannot be altered without a trace).
    if (pad == 1 && (s_b64url_value (text [body - 1]) & 0x03))
        return -1;
    if (pad == 2 && (s_b64url_value (text [body - 1]) & 0x0F))
        return -1;
    *len = text_len / 4 * 3 - pad;
    return 0;
}

//  Checked url-safe text to standard base64, a stack chunk at a time,
//  decoded straight into out: no copy of the whole text is ever made. The
//  last quartet goes through a small buffer so that out need hold only the
//  real bytes, not the padding's.
#define CODEC_CHUNK 1024        //  characters, a multiple of 4

static int
s_decode_checked (const char *text, size_t text_len, uint8_t *out)
{
    char std [CODEC_CHUNK];
    size_t done = 0;
    int rc = 0;
    while (rc == 0 && done < text_len) {
        size_t n = text_len - done < CODEC_CHUNK? text_len - done: CODEC_CHUNK;
        bool last = done + n == text_len;
        for (size_t i = 0; i < n; i++) {
            char c = text [done + i];
            std [i] = c == '-'? '+': c == '_'? '/': c;
        }
        size_t whole = last? n - 4: n;      //  the last quartet apart
        if (whole > 0
        &&  EVP_DecodeBlock (out, (const unsigned char *) std, (int) whole)
            != (int) (whole / 4 * 3))
            rc = -1;
        out += whole / 4 * 3;
        if (rc == 0 && last) {
            uint8_t tail [3];
            size_t pad = (std [n - 1] == '=') + (std [n - 2] == '=');
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
    size_t out_len = 0;
    if (codec_b64url_check (text, text_len, &out_len) || !out || out_size < out_len)
        return -1;
    if (s_decode_checked (text, text_len, out)) {
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
    size_t out_len = 0;
    if (codec_b64url_check (text, text_len, &out_len))
        return -1;
    uint8_t *out = (uint8_t *) malloc (out_len + 1);
    if (!out)
        return -1;
    if (s_decode_checked (text, text_len, out)) {
        OPENSSL_cleanse (out, out_len);
        free (out);
        return -1;
    }
    *data = out;
    *len = out_len;
    return 0;
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
