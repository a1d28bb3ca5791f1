/*  fernet - Fernet tokens, exactly as github.com/fernet/spec says

    Order of checks on the way in: size and shape (from the text's length
    and alphabet, then the header alone), then the clock when there is a
    ttl, then the HMAC (constant time), then decryption. Reading the stamp
    before the HMAC is what the spec's reference implementations do: it
    costs a stale token no HMAC, and nothing is ever decrypted or returned
    that the HMAC has not vouched for.

    Where the time goes for a small token, and what is done about it: the
    HMAC and AES contexts are keyed once per fernet_key_t and re-initialised
    per token (no key schedule, no algorithm looked up by name); IVs come
    from RAND_bytes a few KiB at a time; the raw token lives on the stack
    when small; base64 is encoded and decoded straight into its buffer.
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
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FERNET_VERSION   0x80
#define FERNET_KEY_HALF  16
#define FERNET_IV_SIZE   16
#define FERNET_BLOCK     16
#define FERNET_MAC_SIZE  32
#define FERNET_HEADER    (1 + 8 + FERNET_IV_SIZE)
//  Version and stamp: 9 bytes, the first 12 characters of the text.
#define FERNET_STAMP_RAW  9
#define FERNET_STAMP_TEXT 12
//  Smallest token: header, one cipher block, the HMAC.
#define FERNET_MIN_RAW   (FERNET_HEADER + FERNET_BLOCK + FERNET_MAC_SIZE)
//  Twice the largest frame (WIRE_MAX_FRAME): anything longer is refused
//  before a byte of it is decoded.
#define FERNET_MAX_TEXT  (8 * 1024 * 1024)
#define FERNET_MAX_RAW   (FERNET_MAX_TEXT / 4 * 3)
//  Raw tokens up to this size live on the stack (a chat message and its
//  envelope fit); larger ones are malloc'd.
#define FERNET_STACK_RAW 2048
//  IVs drawn per RAND_bytes call (256 IVs).
#define FERNET_IV_POOL   4096

struct _fernet_key_t {
    EVP_MAC_CTX *hmac;                  //  keyed with the signing half
    bool hmac_fresh;                    //  keyed and not used yet
    EVP_CIPHER_CTX *enc;                //  keyed on first use
    EVP_CIPHER_CTX *dec;                //  keyed on first use
    uint8_t aes_key [FERNET_KEY_HALF];  //  for keying enc and dec
};

//  ---------------------------------------------------------------------
//  What is fetched once per process: AES-128-CBC, and an HMAC-SHA256
//  context with its digest set, which every key's context is a copy of (so
//  that "SHA256" is looked up by name once, not per key or per token).

static pthread_once_t s_fetch_once = PTHREAD_ONCE_INIT;
static EVP_MAC *s_hmac_alg;
static EVP_MAC_CTX *s_hmac_template;
static EVP_CIPHER *s_aes_alg;

static void s_ivs_wipe (void);

static void
s_fetch_free (void)
{
    s_ivs_wipe ();
    EVP_MAC_CTX_free (s_hmac_template);
    EVP_MAC_free (s_hmac_alg);
    EVP_CIPHER_free (s_aes_alg);
    s_hmac_template = NULL;
    s_hmac_alg = NULL;
    s_aes_alg = NULL;
}

//  A process that forks must not hand its child the IVs it has not used
//  yet: parent and child would seal with the same ones.
static void
s_after_fork_child (void)
{
    s_ivs_wipe ();
}

static pthread_key_t s_ivs_owner;       //  wipes a thread's IVs as it ends

static void
s_ivs_thread_end (void *unused)
{
    (void) unused;
    s_ivs_wipe ();
}

static void
s_fetch (void)
{
    s_hmac_alg = EVP_MAC_fetch (NULL, "HMAC", NULL);
    s_aes_alg = EVP_CIPHER_fetch (NULL, "AES-128-CBC", NULL);
    if (s_hmac_alg)
        s_hmac_template = EVP_MAC_CTX_new (s_hmac_alg);
    //  The template is keyed (with zeros) only so that it carries the
    //  digest; every real key replaces it.
    static const uint8_t zero [FERNET_KEY_HALF];
    OSSL_PARAM params [] = {
        OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0),
        OSSL_PARAM_construct_end ()
    };
    if (s_hmac_template
    &&  EVP_MAC_init (s_hmac_template, zero, sizeof zero, params) != 1) {
        EVP_MAC_CTX_free (s_hmac_template);
        s_hmac_template = NULL;
    }
    pthread_key_create (&s_ivs_owner, s_ivs_thread_end);
    pthread_atfork (NULL, NULL, s_after_fork_child);
    atexit (s_fetch_free);
}

static bool
s_fetched (void)
{
    pthread_once (&s_fetch_once, s_fetch);
    return s_hmac_template && s_aes_alg;
}

//  ---------------------------------------------------------------------
//  IVs: RAND_bytes in bulk, per thread, so that no lock is taken and no IV
//  is handed out twice. Each IV's bytes are wiped from the pool as they
//  leave it; the rest is wiped when the thread ends, at exit and in a
//  forked child.

static __thread uint8_t s_ivs [FERNET_IV_POOL];
static __thread size_t s_ivs_left;      //  unused bytes, at the pool's end
static __thread bool s_ivs_owned;       //  thread-end wipe registered

static void
s_ivs_wipe (void)
{
    OPENSSL_cleanse (s_ivs, sizeof s_ivs);
    s_ivs_left = 0;
}

static int
s_next_iv (uint8_t iv [FERNET_IV_SIZE])
{
    if (s_ivs_left < FERNET_IV_SIZE) {
        if (!s_fetched ())
            return -1;
        if (!s_ivs_owned) {
            //  Any non-NULL value: it only makes the destructor run.
            if (pthread_setspecific (s_ivs_owner, s_ivs) != 0)
                return -1;
            s_ivs_owned = true;
        }
        if (RAND_bytes (s_ivs, sizeof s_ivs) != 1) {
            s_ivs_wipe ();
            return -1;
        }
        s_ivs_left = sizeof s_ivs;
    }
    uint8_t *next = s_ivs + sizeof s_ivs - s_ivs_left;
    memcpy (iv, next, FERNET_IV_SIZE);
    OPENSSL_cleanse (next, FERNET_IV_SIZE);
    s_ivs_left -= FERNET_IV_SIZE;
    return 0;
}

//  ---------------------------------------------------------------------
//  Keys made ready. fernet_encrypt and friends use one on the stack.

static int
s_key_init (fernet_key_t *self, const uint8_t key [FERNET_KEY_SIZE])
{
    memset (self, 0, sizeof *self);
    if (!s_fetched ())
        return -1;
    self->hmac = EVP_MAC_CTX_dup (s_hmac_template);
    if (!self->hmac || EVP_MAC_init (self->hmac, key, FERNET_KEY_HALF, NULL) != 1)
        return -1;
    self->hmac_fresh = true;
    memcpy (self->aes_key, key + FERNET_KEY_HALF, FERNET_KEY_HALF);
    return 0;
}

//  Freeing a context wipes the key schedule it held.
static void
s_key_clear (fernet_key_t *self)
{
    EVP_MAC_CTX_free (self->hmac);
    EVP_CIPHER_CTX_free (self->enc);
    EVP_CIPHER_CTX_free (self->dec);
    OPENSSL_cleanse (self, sizeof *self);
}

fernet_key_t *
fernet_key_new (const uint8_t key [FERNET_KEY_SIZE])
{
    if (!key)
        return NULL;
    fernet_key_t *self = (fernet_key_t *) malloc (sizeof *self);
    if (self && s_key_init (self, key)) {
        s_key_clear (self);
        free (self);
        self = NULL;
    }
    return self;
}

void
fernet_key_destroy (fernet_key_t **self_p)
{
    if (self_p && *self_p) {
        s_key_clear (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

//  HMAC-SHA256 with the signing half: the keyed context re-initialised
//  (a NULL key keeps the one it has) unless it was just keyed, as it is
//  for the one-shot calls.
static int
s_hmac (fernet_key_t *self, const uint8_t *data, size_t len,
        uint8_t mac [FERNET_MAC_SIZE])
{
    size_t mac_len = 0;
    bool fresh = self->hmac_fresh;
    self->hmac_fresh = false;
    return (fresh || EVP_MAC_init (self->hmac, NULL, 0, NULL) == 1)
        && EVP_MAC_update (self->hmac, data, len) == 1
        && EVP_MAC_final (self->hmac, mac, &mac_len, FERNET_MAC_SIZE) == 1
        && mac_len == FERNET_MAC_SIZE ? 0 : -1;
}

//  The AES context for one direction, keyed the first time and given only
//  a new IV after that (a NULL cipher and key keep the ones it has).
static EVP_CIPHER_CTX *
s_aes (fernet_key_t *self, bool encrypt, const uint8_t iv [FERNET_IV_SIZE])
{
    EVP_CIPHER_CTX **ctx = encrypt? &self->enc: &self->dec;
    if (*ctx)
        return EVP_CipherInit_ex2 (*ctx, NULL, NULL, iv, encrypt, NULL) == 1? *ctx: NULL;
    *ctx = EVP_CIPHER_CTX_new ();
    if (*ctx && EVP_CipherInit_ex2 (*ctx, s_aes_alg, self->aes_key, iv, encrypt, NULL) == 1)
        return *ctx;
    EVP_CIPHER_CTX_free (*ctx);
    *ctx = NULL;
    return NULL;
}

//  A raw token's buffer: the caller's stack space when it fits.
static uint8_t *
s_raw_buffer (uint8_t *stack, size_t size)
{
    return size <= FERNET_STACK_RAW? stack: (uint8_t *) malloc (size);
}

static void
s_raw_release (uint8_t *raw, uint8_t *stack, size_t size)
{
    if (raw) {
        //  The ciphertext is no secret, but wiping costs little and keeps
        //  the rule simple: buffers near a key get cleansed.
        OPENSSL_cleanse (raw, size);
        if (raw != stack)
            free (raw);
    }
}

int
fernet_key_encrypt (fernet_key_t *self, const uint8_t *plain, size_t plain_len,
                    int64_t now, char **token)
{
    uint8_t iv [FERNET_IV_SIZE];
    if (!self || s_next_iv (iv))
        return CHAT_ERR_INTERNAL;
    return fernet_key_encrypt_iv (self, plain, plain_len, now, iv, token);
}

size_t
fernet_token_length (size_t plain_len)
{
    size_t raw_len = FERNET_HEADER + (plain_len / FERNET_BLOCK + 1) * FERNET_BLOCK
                   + FERNET_MAC_SIZE;
    return 4 * ((raw_len + 2) / 3);
}

//  The token for a given IV, its text written into text [text_size]
//  (which fernet_token_length says is enough)
static int
s_encrypt_into (fernet_key_t *self, const uint8_t *plain, size_t plain_len,
                int64_t now, const uint8_t iv [16], char *text, size_t text_size)
{
    //  Tokens we could not read back are not made.
    if (plain_len > FERNET_MAX_RAW - FERNET_MIN_RAW)
        return CHAT_ERR_TOO_LARGE;
    if (text_size < fernet_token_length (plain_len) + 1)
        return CHAT_ERR_INTERNAL;

    size_t raw_max = FERNET_HEADER + plain_len + FERNET_BLOCK + FERNET_MAC_SIZE;
    uint8_t stack [FERNET_STACK_RAW];
    uint8_t *raw = s_raw_buffer (stack, raw_max);
    if (!raw)
        return CHAT_ERR_INTERNAL;

    raw [0] = FERNET_VERSION;
    uint64_t stamp = (uint64_t) now;
    for (int i = 0; i < 8; i++)
        raw [1 + i] = (uint8_t) (stamp >> (56 - 8 * i));
    memcpy (raw + 9, iv, FERNET_IV_SIZE);

    int rc = CHAT_ERR_INTERNAL;
    int part = 0, final = 0;
    EVP_CIPHER_CTX *ctx = s_aes (self, true, iv);
    if (ctx
    &&  EVP_EncryptUpdate (ctx, raw + FERNET_HEADER, &part,
                           plain_len? plain: (const uint8_t *) "", (int) plain_len) == 1
    &&  EVP_EncryptFinal_ex (ctx, raw + FERNET_HEADER + part, &final) == 1) {
        size_t body = FERNET_HEADER + (size_t) part + (size_t) final;
        if (s_hmac (self, raw, body, raw + body) == 0
        &&  codec_b64url_encode_into (raw, body + FERNET_MAC_SIZE, text, text_size) == 0)
            rc = CHAT_OK;
    }
    s_raw_release (raw, stack, raw_max);
    return rc;
}

int
fernet_key_encrypt_into (fernet_key_t *self, const uint8_t *plain, size_t plain_len,
                         int64_t now, char *text, size_t text_size)
{
    uint8_t iv [FERNET_IV_SIZE];
    if (!self || !text || (!plain && plain_len > 0) || s_next_iv (iv))
        return CHAT_ERR_INTERNAL;
    return s_encrypt_into (self, plain, plain_len, now, iv, text, text_size);
}

int
fernet_key_encrypt_iv (fernet_key_t *self, const uint8_t *plain, size_t plain_len,
                       int64_t now, const uint8_t iv [16], char **token)
{
    if (!self || !iv || !token || (!plain && plain_len > 0))
        return CHAT_ERR_INTERNAL;
    *token = NULL;
    if (plain_len > FERNET_MAX_RAW - FERNET_MIN_RAW)
        return CHAT_ERR_TOO_LARGE;
    size_t text_size = fernet_token_length (plain_len) + 1;
    char *text = (char *) malloc (text_size);
    if (!text)
        return CHAT_ERR_INTERNAL;
    int rc = s_encrypt_into (self, plain, plain_len, now, iv, text, text_size);
    if (rc == CHAT_OK)
        *token = text;
    else
        free (text);
    return rc;
}

//  Version byte and stamp from the header alone: the first 12 characters
//  of a text already checked as base64 of a whole token.
static int
s_header_stamp (const char *token, uint64_t *stamp)
{
    uint8_t head [FERNET_STAMP_RAW];
    size_t len = 0;
    if (codec_b64url_decode_into (token, FERNET_STAMP_TEXT, head, sizeof head, &len)
    ||  len != FERNET_STAMP_RAW || head [0] != FERNET_VERSION)
        return -1;
    *stamp = 0;
    for (int i = 0; i < 8; i++)
        *stamp = *stamp << 8 | head [1 + i];
    return 0;
}

//  Shape from the text's length, padding and header alone: long enough,
//  whole blocks, the version byte. Gives the raw length and the stamp. The
//  rest of the alphabet is checked as the token is decoded.
static int
s_check_shape (const char *token, size_t token_len, size_t *raw_len, uint64_t *stamp)
{
    if (!token || token_len > FERNET_MAX_TEXT
    ||  codec_b64url_decoded_len (token, token_len, raw_len)
    ||  *raw_len < FERNET_MIN_RAW
    ||  (*raw_len - FERNET_HEADER - FERNET_MAC_SIZE) % FERNET_BLOCK != 0
    ||  s_header_stamp (token, stamp))
        return -1;
    return 0;
}

//  stamp + ttl < now, and stamp > now + skew, without overflow.
static int
s_check_clock (uint64_t stamp, int64_t ttl, int64_t now)
{
    if (now > ttl && stamp < (uint64_t) (now - ttl))
        return CHAT_ERR_EXPIRED;
    uint64_t limit = now >= 0? (uint64_t) now + FERNET_MAX_CLOCK_SKEW
                   : now >= -FERNET_MAX_CLOCK_SKEW? (uint64_t) (now + FERNET_MAX_CLOCK_SKEW)
                   : 0;
    if (stamp > limit || now < -FERNET_MAX_CLOCK_SKEW)
        return CHAT_ERR_FUTURE;
    return CHAT_OK;
}

//  AES-CBC of a vouched-for token into a malloc'd, NUL-terminated buffer.
static int
s_decrypt_body (fernet_key_t *self, const uint8_t *raw, size_t body,
                uint8_t **plain, size_t *plain_len)
{
    size_t cipher_len = body - FERNET_HEADER;
    uint8_t *out = (uint8_t *) malloc (cipher_len + 1);
    if (!out)
        return CHAT_ERR_INTERNAL;
    int rc = CHAT_OK;
    int part = 0, final = 0;
    EVP_CIPHER_CTX *ctx = s_aes (self, false, raw + 9);
    if (!ctx
    ||  EVP_DecryptUpdate (ctx, out, &part, raw + FERNET_HEADER, (int) cipher_len) != 1)
        rc = CHAT_ERR_INTERNAL;
    else
    if (EVP_DecryptFinal_ex (ctx, out + part, &final) != 1)
        rc = CHAT_ERR_MALFORMED;        //  bad padding
    if (rc != CHAT_OK) {
        OPENSSL_cleanse (out, cipher_len + 1);
        free (out);
        return rc;
    }
    size_t out_len = (size_t) part + (size_t) final;
    out [out_len] = '\0';
    *plain = out;
    *plain_len = out_len;
    return CHAT_OK;
}

int
fernet_key_decrypt (fernet_key_t *self, const char *token, size_t token_len,
                    int64_t ttl, int64_t now, uint8_t **plain, size_t *plain_len)
{
    if (!self || !plain || !plain_len)
        return CHAT_ERR_INTERNAL;
    *plain = NULL;
    *plain_len = 0;
    size_t raw_len = 0;
    uint64_t stamp = 0;
    if (s_check_shape (token, token_len, &raw_len, &stamp))
        return CHAT_ERR_MALFORMED;
    //  Clock checks only when the caller asked for an age limit: stored
    //  messages come from other machines' clocks and must stay readable.
    if (ttl > 0) {
        int rc = s_check_clock (stamp, ttl, now);
        if (rc != CHAT_OK)
            return rc;
    }
    uint8_t stack [FERNET_STACK_RAW];
    uint8_t *raw = s_raw_buffer (stack, raw_len);
    if (!raw)
        return CHAT_ERR_INTERNAL;
    size_t decoded = 0;
    int rc = CHAT_OK;
    if (codec_b64url_decode_into (token, token_len, raw, raw_len, &decoded)
    ||  decoded != raw_len)
        rc = CHAT_ERR_MALFORMED;
    size_t body = raw_len - FERNET_MAC_SIZE;
    uint8_t mac [FERNET_MAC_SIZE];
    if (rc == CHAT_OK && s_hmac (self, raw, body, mac))
        rc = CHAT_ERR_INTERNAL;
    if (rc == CHAT_OK) {
        int mac_differs = CRYPTO_memcmp (mac, raw + body, FERNET_MAC_SIZE);
        if (mac_differs)
            rc = CHAT_ERR_BAD_MAC;
    }
    OPENSSL_cleanse (mac, sizeof mac);
    if (rc == CHAT_OK)
        rc = s_decrypt_body (self, raw, body, plain, plain_len);
    s_raw_release (raw, stack, raw_len);
    return rc;
}

//  ---------------------------------------------------------------------
//  One-shot calls: a key made ready on the stack for one token.

int
fernet_encrypt (const uint8_t key [FERNET_KEY_SIZE],
                const uint8_t *plain, size_t plain_len,
                int64_t now, char **token)
{
    uint8_t iv [FERNET_IV_SIZE];
    if (!key || s_next_iv (iv))
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
    fernet_key_t ready;
    int rc = s_key_init (&ready, key) == 0
           ? fernet_key_encrypt_iv (&ready, plain, plain_len, now, iv, token)
           : CHAT_ERR_INTERNAL;
    s_key_clear (&ready);
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
    fernet_key_t ready;
    int rc = s_key_init (&ready, key) == 0
           ? fernet_key_decrypt (&ready, token, token_len, ttl, now, plain, plain_len)
           : CHAT_ERR_INTERNAL;
    s_key_clear (&ready);
    return rc;
}

//  The shape is checked as fernet_decrypt does before the HMAC, and the
//  whole text against the alphabet; only the header is decoded.
int64_t
fernet_token_timestamp (const char *token, size_t token_len)
{
    size_t raw_len = 0, checked = 0;
    uint64_t stamp = 0;
    if (s_check_shape (token, token_len, &raw_len, &stamp) || stamp >> 63
    ||  codec_b64url_check (token, token_len, &checked))
        return -1;
    return (int64_t) stamp;
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
