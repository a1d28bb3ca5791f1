/*  codec - text encodings of binary data (OpenSSL's base64 underneath)  */
#ifndef CODEC_H_INCLUDED
#define CODEC_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  Standard base64 with padding; malloc'd NUL-terminated string, NULL on OOM.
char *
    codec_b64_encode (const uint8_t *data, size_t len);

//  URL-safe base64 ('-' and '_') with padding, as Fernet uses.
char *
    codec_b64url_encode (const uint8_t *data, size_t len);

//  The same into out (out_size >= 4 * ceil(len / 3) + 1, NUL-terminated),
//  for callers that own the buffer. Returns 0 or -1.
int
    codec_b64url_encode_into (const uint8_t *data, size_t len,
                              char *out, size_t out_size);

//  Decode URL-safe base64 (padding required when the length needs it).
//  Any character outside the alphabet is an error. Returns 0 and a malloc'd
//  buffer, or -1 (nothing allocated).
int
    codec_b64url_decode (const char *text, size_t text_len,
                         uint8_t **data, size_t *len);

//  Whether text is URL-safe base64 as codec_b64url_decode accepts it, and
//  how many bytes it decodes to. Returns 0 and *len, or -1.
int
    codec_b64url_check (const char *text, size_t text_len, size_t *len);

//  The decoded length from the text's length and padding alone (the
//  alphabet is not looked at: decoding checks it). Returns 0 and *len, or
//  -1 when no base64 text has that length or padding.
int
    codec_b64url_decoded_len (const char *text, size_t text_len, size_t *len);

//  Decode text (checked as codec_b64url_decode does, in the same pass) into
//  out, which must hold the decoded length. A prefix of a longer text may
//  be decoded alone when its length is a multiple of 4. Nothing is
//  allocated. Returns 0 and *len, or -1.
int
    codec_b64url_decode_into (const char *text, size_t text_len,
                              uint8_t *out, size_t out_size, size_t *len);

//  Standard base64 without padding (OpenSSH fingerprint style).
char *
    codec_b64_nopad (const uint8_t *data, size_t len);

//  Lower-case hex; malloc'd.
char *
    codec_hex (const uint8_t *data, size_t len);

//  Lower-case hex into out (len * 2 + 1 bytes, NUL-terminated): for keys
//  made often, with no allocation.
void
    codec_hex_into (const uint8_t *data, size_t len, char *out);

//  Parse exactly len*2 hex digits into out. Returns 0 or -1.
int
    codec_unhex (const char *text, uint8_t *out, size_t len);

//  Whether len bytes are well-formed UTF-8 (RFC 3629: no overlong forms, no
//  surrogates, nothing above U+10FFFF), as a protobuf string must be; NUL
//  bytes are refused too (a C reader would stop at them). 1 or 0.
int
    codec_utf8_valid (const uint8_t *text, size_t len);

#endif
