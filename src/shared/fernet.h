/*  fernet - Fernet tokens, exactly as github.com/fernet/spec says

    token = base64url(0x80 || timestamp[8, big-endian] || IV[16] ||
                      AES-128-CBC(PKCS7(plaintext)) || HMAC-SHA256[32])
    key   = signing key[16] || encryption key[16]

    The HMAC is checked in constant time (CRYPTO_memcmp) before anything is
    decrypted. Times are unix seconds, passed in so tests can fix the clock.
*/
#ifndef FERNET_H_INCLUDED
#define FERNET_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define FERNET_KEY_SIZE 32
#define FERNET_MAX_CLOCK_SKEW 60     //  seconds a token may be ahead of us

//  A key made ready once for many tokens: the HMAC context keyed with the
//  signing half, the AES contexts with the encryption half, so no token
//  pays for key setup or an algorithm looked up by name. It holds working
//  contexts: one thread at a time, like the channel or worker that owns it.
typedef struct _fernet_key_t fernet_key_t;

//  NULL when OpenSSL cannot make the contexts (out of memory).
fernet_key_t *
    fernet_key_new (const uint8_t key [FERNET_KEY_SIZE]);

//  Frees the contexts and wipes the key.
void
    fernet_key_destroy (fernet_key_t **self_p);

//  As fernet_encrypt, fernet_encrypt_iv and fernet_decrypt below, with a
//  key made ready: the same tokens, the same errors.
int
    fernet_key_encrypt (fernet_key_t *self, const uint8_t *plain, size_t plain_len,
                        int64_t now, char **token);
int
    fernet_key_encrypt_iv (fernet_key_t *self, const uint8_t *plain, size_t plain_len,
                           int64_t now, const uint8_t iv [16], char **token);
//  The length of the token text (without its NUL) that a plaintext of
//  plain_len bytes makes: the same for every key, IV and time.
size_t
    fernet_token_length (size_t plain_len);

//  As fernet_key_encrypt, the token's text written NUL-terminated into the
//  caller's text [text_size] instead of a malloc'd string (a seal worker
//  makes thousands a second). CHAT_ERR_INTERNAL when text_size is less
//  than fernet_token_length (plain_len) + 1.
int
    fernet_key_encrypt_into (fernet_key_t *self, const uint8_t *plain, size_t plain_len,
                             int64_t now, char *text, size_t text_size);
int
    fernet_key_decrypt (fernet_key_t *self, const char *token, size_t token_len,
                        int64_t ttl, int64_t now, uint8_t **plain, size_t *plain_len);

//  Encrypt with a fresh random IV (drawn from RAND_bytes a few KiB at a
//  time into a buffer of the calling thread, each IV handed out once).
//  Returns CHAT_OK and a malloc'd token string, or CHAT_ERR_INTERNAL.
int
    fernet_encrypt (const uint8_t key [FERNET_KEY_SIZE],
                    const uint8_t *plain, size_t plain_len,
                    int64_t now, char **token);

//  Same with a given IV (the spec's vectors need it; nothing else should).
int
    fernet_encrypt_iv (const uint8_t key [FERNET_KEY_SIZE],
                       const uint8_t *plain, size_t plain_len,
                       int64_t now, const uint8_t iv [16], char **token);

//  Verify and decrypt. ttl <= 0 means no age limit (stored messages).
//  Returns CHAT_OK with a malloc'd plaintext (NUL-terminated for
//  convenience, not counted in plain_len), or, in the order checked:
//    CHAT_ERR_MALFORMED  bad base64, too short, wrong version byte, payload
//                        not a whole number of blocks
//    CHAT_ERR_EXPIRED    timestamp + ttl < now   (ttl > 0 only)
//    CHAT_ERR_FUTURE     timestamp > now + FERNET_MAX_CLOCK_SKEW (ttl > 0)
//    CHAT_ERR_BAD_MAC    the HMAC does not match
//    CHAT_ERR_MALFORMED  bad padding (only once the HMAC has vouched)
//  The clock is read from the header before the HMAC, as the spec's own
//  implementations do, so a stale or far-future token costs no HMAC: a
//  forged token with such a stamp is EXPIRED or FUTURE, never OK.
int
    fernet_decrypt (const uint8_t key [FERNET_KEY_SIZE],
                    const char *token, size_t token_len,
                    int64_t ttl, int64_t now,
                    uint8_t **plain, size_t *plain_len);

//  A token's timestamp, read without the key (for chat-tap). Returns -1
//  when the text is not shaped like a Fernet token.
int64_t
    fernet_token_timestamp (const char *token, size_t token_len);

//  Fernet keys as text: url-safe base64 of the 32 bytes.
int
    fernet_key_decode (const char *text, uint8_t key [FERNET_KEY_SIZE]);
char *
    fernet_key_encode (const uint8_t key [FERNET_KEY_SIZE]);

//  A new random key. Returns 0 or -1.
int
    fernet_key_generate (uint8_t key [FERNET_KEY_SIZE]);

#endif
