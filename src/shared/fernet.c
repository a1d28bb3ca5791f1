/*  fernet - Fernet tokens, exactly as github.com/fernet/spec says

    Order of checks on the way in: size and shape, then the HMAC (constant
    time), then the clock, then decryption. The timestamp is only trusted
    once the HMAC has vouched for it, so a forged token is reported as
    BAD_MAC, never as EXPIRED or FUTURE.
*/
#include "fernet.h"
#include "chaterror.h"
#include "codec.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define FERNET_VERSION   0x80
#define FERNET_KEY_HALF  16
#define FERNET_IV_SIZE   16
#define FERNET_BLOCK     16
#define FERNET_MAC_SIZE  32
#define FERNET_HEADER    (1 + 8 + FERNET_IV_SIZE)
//  Smallest token: header, one cipher block, the HMAC.
#define FERNET_MIN_RAW   (FERNET_HEADER + FERNET_BLOCK + FERNET_MAC_SIZE)
//  Twice the largest frame (WIRE_MAX_FRAME): anything longer is refused
//  before a byte of it is decoded.
#define FERNET_MAX_TEXT  (8 * 1024 * 1024)
#define FERNET_MAX_RAW   (FERNET_MAX_TEXT / 4 * 3)

//  OpenSSL 3 looks algorithms up by name on every one-shot call, which cost
//  as much as the HMAC of a small token; they are fetched once per process
//  and freed at exit.
static pthread_once_t s_fetch_once = PTHREAD_ONCE_INIT;
static EVP_MAC *s_hmac_alg;
static EVP_CIPHER *s_aes_alg;

static void
s_fetch_free (void)
{
    EVP_MAC_free (s_hmac_alg);
    EVP_CIPHER_free (s_aes_alg);
    s_hmac_alg = NULL;
    s_aes_alg = NULL;
}

static void
s_fetch (void)
{
    s_hmac_alg = EVP_MAC_fetch (NULL, "HMAC", NULL);
    s_aes_alg = EVP_CIPHER_fetch (NULL, "AES-128-CBC", NULL);
    atexit (s_fetch_free);
}

static const EVP_CIPHER *
s_aes (void)
{
    pthread_once (&s_fetch_once, s_fetch);
    return s_aes_alg;
}

//  HMAC-SHA256 with the signing half of the key.
static int
s_hmac (const uint8_t key [FERNET_KEY_SIZE], const uint8_t *data, size_t len,
        uint8_t mac [FERNET_MAC_SIZE])
{
    pthread_once (&s_fetch_once, s_fetch);
    if (!s_hmac_alg)
        return -1;
    OSSL_PARAM params [] = {
        OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0),
        OSSL_PARAM_construct_end ()
    };
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new (s_hmac_alg);
    size_t mac_len = 0;
    int ok = ctx
          && EVP_MAC_init (ctx, key, FERNET_KEY_HALF, params)
          && EVP_MAC_update (ctx, data, len)
          && EVP_MAC_final (ctx, mac, &mac_len, FERNET_MAC_SIZE)
          && mac_len == FERNET_MAC_SIZE;
    EVP_MAC_CTX_free (ctx);
    return ok ? 0 : -1;
}

int
fernet_encrypt (const uint8_t key [FERNET_KEY_SIZE],
                const uint8_t *plain, size_t plain_len,
                int64_t now, char **token)
{
    uint8_t iv [FERNET_IV_SIZE];
    if (RAND_bytes (iv, sizeof iv) != 1)
        return CHAT_ERR_INTERNAL;
    return fernet_encrypt_iv (key, plain, plain_len, now, iv, token);
}

int
fernet_encrypt_iv (const uint8_t key [FERNET_KEY_SIZE],
                   const uint8_t *plain, size_t plain_len,
                   int64_t now, const uint8_t iv [16], char **token)
{
    if (!key || !iv || !token || (!plain && plain_len > 0))
        return CHAT_ERR_INTERNAL;
    *token = NULL;
    //  Tokens we could not read back are not made.
    if (plain_len > FERNET_MAX_RAW - FERNET_MIN_RAW)
        return CHAT_ERR_TOO_LARGE;

    size_t cipher_max = plain_len + FERNET_BLOCK;
    size_t raw_max = FERNET_HEADER + cipher_max + FERNET_MAC_SIZE;
    uint8_t *raw = (uint8_t *) malloc (raw_max);
    if (!raw)
        return CHAT_ERR_INTERNAL;

    raw [0] = FERNET_VERSION;
    uint64_t stamp = (uint64_t) now;
    for (int i = 0; i < 8; i++)
        raw [1 + i] = (uint8_t) (stamp >> (56 - 8 * i));
    memcpy (raw + 9, iv, FERNET_IV_SIZE);

    int rc = CHAT_ERR_INTERNAL;
    int part = 0, final = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
    if (ctx
    &&  EVP_EncryptInit_ex (ctx, s_aes (), NULL,
                            key + FERNET_KEY_HALF, iv) == 1
    &&  EVP_EncryptUpdate (ctx, raw + FERNET_HEADER, &part,
                           plain_len? plain: (const uint8_t *) "", (int) plain_len) == 1
    &&  EVP_EncryptFinal_ex (ctx, raw + FERNET_HEADER + part, &final) == 1) {
        size_t body = FERNET_HEADER + (size_t) part + (size_t) final;
        if (s_hmac (key, raw, body, raw + body) == 0) {
            *token = codec_b64url_encode (raw, body + FERNET_MAC_SIZE);
            if (*token)
                rc = CHAT_OK;
        }
    }
    EVP_CIPHER_CTX_free (ctx);
    //  The ciphertext is no secret, but wiping costs nothing and keeps
    //  the rule simple: buffers near a key get cleansed.
    OPENSSL_cleanse (raw, raw_max);
    free (raw);
    return rc;
}

int
fernet_decrypt (const uint8_t key [FERNET_KEY_SIZE],
                const char *token, size_t token_len,
                int64_t ttl, int64_t now,
                uint8_t **plain, size_t *plain_len)
{
    if (!key || !plain || !plain_len)
        return CHAT_ERR_INTERNAL;
    *plain = NULL;
    *plain_len = 0;
    if (!token || token_len > FERNET_MAX_TEXT)
        return CHAT_ERR_MALFORMED;

    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if (codec_b64url_decode (token, token_len, &raw, &raw_len))
        return CHAT_ERR_MALFORMED;

    int rc = CHAT_OK;
    if (raw_len < FERNET_MIN_RAW || raw [0] != FERNET_VERSION
    ||  (raw_len - FERNET_HEADER - FERNET_MAC_SIZE) % FERNET_BLOCK != 0) {
        rc = CHAT_ERR_MALFORMED;
        goto done;
    }
    size_t body = raw_len - FERNET_MAC_SIZE;
    uint8_t mac [FERNET_MAC_SIZE];
    if (s_hmac (key, raw, body, mac)) {
        rc = CHAT_ERR_INTERNAL;
        goto done;
    }
    int mac_differs = CRYPTO_memcmp (mac, raw + body, FERNET_MAC_SIZE);
    OPENSSL_cleanse (mac, sizeof mac);
    if (mac_differs) {
        rc = CHAT_ERR_BAD_MAC;
        goto done;
    }

    //  Clock checks only when the caller asked for an age limit: stored
    //  messages come from other machines' clocks and must stay readable.
    if (ttl > 0) {
        uint64_t stamp = 0;
        for (int i = 0; i < 8; i++)
            stamp = stamp << 8 | raw [1 + i];
        //  stamp + ttl < now, and stamp > now + skew, without overflow.
        if (now > ttl && stamp < (uint64_t) (now - ttl)) {
            rc = CHAT_ERR_EXPIRED;
            goto done;
        }
        uint64_t limit = now >= 0? (uint64_t) now + FERNET_MAX_CLOCK_SKEW
                       : now >= -FERNET_MAX_CLOCK_SKEW? (uint64_t) (now + FERNET_MAX_CLOCK_SKEW)
                       : 0;
        if (stamp > limit || now < -FERNET_MAX_CLOCK_SKEW) {
            rc = CHAT_ERR_FUTURE;
            goto done;
        }
    }

    size_t cipher_len = body - FERNET_HEADER;
    uint8_t *out = (uint8_t *) malloc (cipher_len + 1);
    if (!out) {
        rc = CHAT_ERR_INTERNAL;
        goto done;
    }
    int part = 0, final = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new ();
    if (!ctx
    ||  EVP_DecryptInit_ex (ctx, s_aes (), NULL,
                            key + FERNET_KEY_HALF, raw + 9) != 1
    ||  EVP_DecryptUpdate (ctx, out, &part,
                           raw + FERNET_HEADER, (int) cipher_len) != 1)
        rc = CHAT_ERR_INTERNAL;
    else
    if (EVP_DecryptFinal_ex (ctx, out + part, &final) != 1)
        rc = CHAT_ERR_MALFORMED;        //  bad padding
    EVP_CIPHER_CTX_free (ctx);
    if (rc != CHAT_OK) {
        OPENSSL_cleanse (out, cipher_len + 1);
        free (out);
        goto done;
    }
    size_t out_len = (size_t) part + (size_t) final;
    out [out_len] = '\0';
    *plain = out;
    *plain_len = out_len;

done:
    OPENSSL_cleanse (raw, raw_len);
    free (raw);
    return rc;
}

//  The shape is checked as fernet_decrypt would before the HMAC; the whole
//  token is decoded, which costs little next to the tap's other work.
int64_t
fernet_token_timestamp (const char *token, size_t token_len)
{
    if (!token || token_len > FERNET_MAX_TEXT)
        return -1;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    if (codec_b64url_decode (token, token_len, &raw, &raw_len))
        return -1;
    int64_t rc = -1;
    if (raw_len >= FERNET_MIN_RAW && raw [0] == FERNET_VERSION
    &&  (raw_len - FERNET_HEADER - FERNET_MAC_SIZE) % FERNET_BLOCK == 0
    &&  raw [1] < 0x80) {
        uint64_t stamp = 0;
        for (int i = 0; i < 8; i++)
            stamp = stamp << 8 | raw [1 + i];
        rc = (int64_t) stamp;
    }
    free (raw);
    return rc;
}

int
fernet_key_decode (const char *text, uint8_t key [FERNET_KEY_SIZE])
{
    if (!text || !key)
        return -1;
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    size_t text_len = strnlen (text, 4 * ((FERNET_KEY_SIZE + 2) / 3) + 1);
    if (codec_b64url_decode (text, text_len, &raw, &raw_len))
        return -1;
    int rc = -1;
    if (raw_len == FERNET_KEY_SIZE) {
        memcpy (key, raw, FERNET_KEY_SIZE);
        rc = 0;
    }
    OPENSSL_cleanse (raw, raw_len);
    free (raw);
    return rc;
}

char *
fernet_key_encode (const uint8_t key [FERNET_KEY_SIZE])
{
    if (!key)
        return NULL;
    return codec_b64url_encode (key, FERNET_KEY_SIZE);
}

int
fernet_key_generate (uint8_t key [FERNET_KEY_SIZE])
{
    if (!key || RAND_bytes (key, FERNET_KEY_SIZE) != 1)
        return -1;
    return 0;
}
