/*  rsakey - an RSA key pair or public key, and the only two ways it is used
    here: RSA-OAEP-SHA256 (MGF1-SHA256) and RSA-PSS-SHA256 (salt = 32 bytes)

    The padding parameters are fixed on both sides, never negotiated or taken
    from the key: a PSS signature with any other salt length or digest fails
    to verify, so there is nothing for an attacker to downgrade.
*/
#include "rsakey.h"
#include "chaterror.h"
#include "codec.h"
#include "secret.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#define RSAKEY_PSS_SALT_LEN 32          //  = SHA-256 digest length

struct _rsakey_t {
    EVP_PKEY *pkey;
    bool has_private;
    uint8_t *der;                       //  SubjectPublicKeyInfo
    size_t der_len;
    uint8_t fingerprint [RSAKEY_FINGERPRINT_SIZE];
    char *fingerprint_text;
};


//  Only plain RSA keys of an allowed size. "RSA-PSS" typed keys are refused
//  too: their own restrictions could silently override ours.
static bool
s_acceptable (EVP_PKEY *pkey)
{
    if (!pkey || EVP_PKEY_get_base_id (pkey) != EVP_PKEY_RSA)
        return false;
    int bits = EVP_PKEY_get_bits (pkey);
    return bits >= RSAKEY_MIN_BITS && bits <= RSAKEY_MAX_BITS;
}


//  OpenSSL 3 builds a decoder for every d2i_PUBKEY call, which costs more
//  than the RSA signature of a handshake; one decoder, reused under a lock,
//  costs a twentieth of that. Freed at exit.
static pthread_once_t s_decoder_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t s_decoder_lock = PTHREAD_MUTEX_INITIALIZER;
static OSSL_DECODER_CTX *s_decoder;
static EVP_PKEY *s_decoded;              //  where s_decoder puts its result

static void
s_decoder_free (void)
{
    OSSL_DECODER_CTX_free (s_decoder);
    s_decoder = NULL;
}

static void
s_decoder_init (void)
{
    s_decoder = OSSL_DECODER_CTX_new_for_pkey (&s_decoded, "DER", "SubjectPublicKeyInfo",
                                               "RSA", EVP_PKEY_PUBLIC_KEY, NULL, NULL);
    if (s_decoder)
        atexit (s_decoder_free);
}

//  A public key from SubjectPublicKeyInfo DER; *whole says whether every
//  byte was used. NULL when it does not decode.
static EVP_PKEY *
s_decode_public (const uint8_t *der, size_t len, bool *whole)
{
    pthread_once (&s_decoder_once, s_decoder_init);
    if (!s_decoder)
        return NULL;
    pthread_mutex_lock (&s_decoder_lock);
    const unsigned char *p = der;
    size_t left = len;
    s_decoded = NULL;
    EVP_PKEY *pkey = NULL;
    if (OSSL_DECODER_from_data (s_decoder, &p, &left))
        pkey = s_decoded;
    else
        EVP_PKEY_free (s_decoded);
    s_decoded = NULL;
    pthread_mutex_unlock (&s_decoder_lock);
    ERR_clear_error ();
    *whole = left == 0;
    return pkey;
}


//  What the protocol allows (proto/README.md section 2: "exponent other than
//  65537" is ERR_BAD_KEY) and what keeps a key from the network as cheap as
//  a normal one (a 3071-bit exponent made one OAEP encryption 20 times
//  dearer): the exponent 65537 exactly, and an odd modulus, which OAEP
//  needs. (EVP_PKEY_public_check proves more, but runs a primality test on
//  the modulus that costs more than the handshake itself.)
static bool
s_usable_public (EVP_PKEY *pkey)
{
    BIGNUM *n = NULL, *e = NULL;
    bool usable = EVP_PKEY_get_bn_param (pkey, OSSL_PKEY_PARAM_RSA_N, &n)
               && EVP_PKEY_get_bn_param (pkey, OSSL_PKEY_PARAM_RSA_E, &e)
               && BN_is_odd (n) && BN_is_word (e, RSAKEY_EXPONENT);
    BN_free (n);
    BN_free (e);
    ERR_clear_error ();
    return usable;
}


//  Wrap pkey (taking ownership) and cache its DER form and fingerprint.
//  der NULL: encode the key; else these are the bytes it came from.
static rsakey_t *
s_wrap (EVP_PKEY *pkey, bool has_private, const uint8_t *given, size_t given_len)
{
    rsakey_t *self = (rsakey_t *) calloc (1, sizeof (rsakey_t));
    if (!self) {
        EVP_PKEY_free (pkey);
        return NULL;
    }
    self->pkey = pkey;
    self->has_private = has_private;

    uint8_t *der = NULL;
    int der_len = given ? (int) given_len : i2d_PUBKEY (pkey, &der);
    if (der_len <= 0)
        goto fail;
    self->der = (uint8_t *) malloc ((size_t) der_len);
    if (!self->der) {
        OPENSSL_free (der);
        goto fail;
    }
    memcpy (self->der, given ? given : der, (size_t) der_len);
    OPENSSL_free (der);
    self->der_len = (size_t) der_len;

    if (!EVP_Digest (self->der, self->der_len, self->fingerprint, NULL,
                     EVP_sha256 (), NULL))
        goto fail;
    self->fingerprint_text = rsakey_fingerprint_format (self->fingerprint);
    if (!self->fingerprint_text)
        goto fail;
    return self;

fail:
    rsakey_destroy (&self);
    return NULL;
}


rsakey_t *
rsakey_generate (int bits)
{
    if (bits < RSAKEY_MIN_BITS || bits > RSAKEY_MAX_BITS)
        return NULL;

    EVP_PKEY *pkey = NULL;
    BIGNUM *e = BN_new ();
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id (EVP_PKEY_RSA, NULL);
    if (!e || !ctx
    ||  !BN_set_word (e, RSAKEY_EXPONENT)
    ||  EVP_PKEY_keygen_init (ctx) <= 0
    ||  EVP_PKEY_CTX_set_rsa_keygen_bits (ctx, bits) <= 0
    ||  EVP_PKEY_CTX_set1_rsa_keygen_pubexp (ctx, e) <= 0
    ||  EVP_PKEY_keygen (ctx, &pkey) <= 0) {
        EVP_PKEY_free (pkey);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free (ctx);
    BN_free (e);
    if (!pkey) {
        ERR_clear_error ();
        return NULL;
    }
    return s_wrap (pkey, true, NULL, 0);
}


//  An encrypted PEM must fail, not stop and prompt on the terminal (which
//  OpenSSL's default callback would do).
static int
s_no_passphrase (char *buf, int size, int rwflag, void *u)
{
    (void) buf; (void) size; (void) rwflag; (void) u;
    return -1;
}


rsakey_t *
rsakey_load (const char *path)
{
    if (!path)
        return NULL;
    BIO *bio = BIO_new_file (path, "r");
    if (!bio) {
        ERR_clear_error ();
        return NULL;
    }
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey (bio, NULL, s_no_passphrase, NULL);
    BIO_free (bio);
    ERR_clear_error ();
    if (!pkey)
        return NULL;
    //  A server key clients would refuse in every Welcome is refused here,
    //  at start-up, instead
    if (!s_acceptable (pkey) || !s_usable_public (pkey)) {
        EVP_PKEY_free (pkey);
        return NULL;
    }
    return s_wrap (pkey, true, NULL, 0);
}


int
rsakey_save (rsakey_t *self, const char *path)
{
    if (!self || !path || !self->has_private)
        return -1;
    BIO *bio = BIO_new (BIO_s_mem ());
    if (!bio)
        return -1;
    int rc = -1;
    //  PEM_write_bio_PrivateKey writes PKCS#8 ("BEGIN PRIVATE KEY")
    if (PEM_write_bio_PrivateKey (bio, self->pkey, NULL, NULL, 0, NULL, NULL)) {
        char *data = NULL;
        long len = BIO_get_mem_data (bio, &data);
        if (len > 0 && data) {
            rc = secret_write_file (path, data, (size_t) len, 0600);
            secret_wipe (data, (size_t) len);
        }
    }
    //  The memory BIO's buffer is freed with OPENSSL_clear_free
    BIO_free (bio);
    ERR_clear_error ();
    return rc;
}


rsakey_t *
rsakey_load_or_create (const char *path, int bits)
{
    if (!path)
        return NULL;
    if (access (path, F_OK) == 0)
        return rsakey_load (path);
    if (errno != ENOENT)
        return NULL;
    rsakey_t *self = rsakey_generate (bits);
    if (self && rsakey_save (self, path) != 0)
        rsakey_destroy (&self);
    return self;
}


rsakey_t *
rsakey_from_der (const uint8_t *der, size_t len)
{
    if (!der || len == 0 || len > RSAKEY_MAX_DER)
        return NULL;
    bool whole;
    EVP_PKEY *pkey = s_decode_public (der, len, &whole);
    if (!pkey)
        return NULL;
    //  Trailing bytes would let two different blobs carry one key; an even
    //  modulus or exponent parses fine but cannot be encrypted to
    if (!whole || !s_acceptable (pkey) || !s_usable_public (pkey)) {
        EVP_PKEY_free (pkey);
        return NULL;
    }
    //  The fingerprint is that of the bytes received. OpenSSL tolerates a
    //  few non-canonical encodings (a mangled NULL parameter), so one key
    //  may arrive under more than one fingerprint; that only ever fails a
    //  pin or a certificate binding, never passes one, and re-encoding to
    //  refuse it would cost more than the handshake's own decoding.
    return s_wrap (pkey, false, der, len);
}


void
rsakey_destroy (rsakey_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        rsakey_t *self = *self_p;
        EVP_PKEY_free (self->pkey);
        free (self->der);
        free (self->fingerprint_text);
        free (self);
        *self_p = NULL;
    }
}


bool
rsakey_has_private (rsakey_t *self)
{
    assert (self);
    return self->has_private;
}


int
rsakey_bits (rsakey_t *self)
{
    assert (self);
    return EVP_PKEY_get_bits (self->pkey);
}


const uint8_t *
rsakey_der (rsakey_t *self, size_t *len)
{
    assert (self);
    if (len)
        *len = self->der_len;
    return self->der;
}


const uint8_t *
rsakey_fingerprint (rsakey_t *self)
{
    assert (self);
    return self->fingerprint;
}


const char *
rsakey_fingerprint_text (rsakey_t *self)
{
    assert (self);
    return self->fingerprint_text;
}


char *
rsakey_fingerprint_format (const uint8_t digest [RSAKEY_FINGERPRINT_SIZE])
{
    assert (digest);
    char *b64 = codec_b64_nopad (digest, RSAKEY_FINGERPRINT_SIZE);
    if (!b64)
        return NULL;
    char *text = NULL;
    if (asprintf (&text, "SHA256:%s", b64) < 0)
        text = NULL;
    free (b64);
    return text;
}


//  OAEP with SHA-256 for both the label hash and MGF1
static EVP_PKEY_CTX *
s_oaep_ctx (rsakey_t *self, bool encrypt)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new (self->pkey, NULL);
    if (!ctx)
        return NULL;
    if ((encrypt? EVP_PKEY_encrypt_init (ctx): EVP_PKEY_decrypt_init (ctx)) <= 0
    ||  EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_OAEP_PADDING) <= 0
    ||  EVP_PKEY_CTX_set_rsa_oaep_md (ctx, EVP_sha256 ()) <= 0
    ||  EVP_PKEY_CTX_set_rsa_mgf1_md (ctx, EVP_sha256 ()) <= 0) {
        EVP_PKEY_CTX_free (ctx);
        return NULL;
    }
    return ctx;
}


int
rsakey_encrypt (rsakey_t *self, const uint8_t *in, size_t in_len,
                uint8_t **out, size_t *out_len)
{
    assert (self);
    assert (out);
    assert (out_len);
    *out = NULL;
    *out_len = 0;
    if (!in && in_len)
        return CHAT_ERR_INTERNAL;

    int rc = CHAT_ERR_INTERNAL;
    uint8_t *buf = NULL;
    size_t len = 0;
    EVP_PKEY_CTX *ctx = s_oaep_ctx (self, true);
    if (ctx
    &&  EVP_PKEY_encrypt (ctx, NULL, &len, in, in_len) > 0
    &&  (buf = (uint8_t *) malloc (len)) != NULL
    &&  EVP_PKEY_encrypt (ctx, buf, &len, in, in_len) > 0) {
        *out = buf;
        *out_len = len;
        buf = NULL;
        rc = CHAT_OK;
    }
    free (buf);
    EVP_PKEY_CTX_free (ctx);
    ERR_clear_error ();
    return rc;
}


int
rsakey_decrypt (rsakey_t *self, const uint8_t *in, size_t in_len,
                uint8_t **out, size_t *out_len)
{
    assert (self);
    assert (out);
    assert (out_len);
    *out = NULL;
    *out_len = 0;
    if (!self->has_private)
        return CHAT_ERR_INTERNAL;
    //  Only a ciphertext of exactly the modulus size can be genuine
    if (!in || in_len != (size_t) EVP_PKEY_get_size (self->pkey))
        return CHAT_ERR_MALFORMED;

    EVP_PKEY_CTX *ctx = s_oaep_ctx (self, false);
    if (!ctx) {
        ERR_clear_error ();
        return CHAT_ERR_INTERNAL;
    }
    int rc = CHAT_ERR_MALFORMED;
    size_t cap = 0;
    uint8_t *buf = NULL;
    if (EVP_PKEY_decrypt (ctx, NULL, &cap, in, in_len) > 0
    &&  (buf = (uint8_t *) malloc (cap)) != NULL) {
        size_t len = cap;
        if (EVP_PKEY_decrypt (ctx, buf, &len, in, in_len) > 0) {
            *out = buf;
            *out_len = len;
            rc = CHAT_OK;
        }
        else {
            //  Whatever the failed padding check left behind is secret
            secret_wipe (buf, cap);
            free (buf);
        }
    }
    else
    if (cap > 0 && !buf)
        rc = CHAT_ERR_INTERNAL;
    EVP_PKEY_CTX_free (ctx);
    ERR_clear_error ();
    return rc;
}


//  PSS, SHA-256 for the message and MGF1, salt of exactly 32 bytes
static int
s_pss_setup (EVP_PKEY_CTX *pctx)
{
    if (EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PSS_PADDING) <= 0
    ||  EVP_PKEY_CTX_set_rsa_pss_saltlen (pctx, RSAKEY_PSS_SALT_LEN) <= 0
    ||  EVP_PKEY_CTX_set_rsa_mgf1_md (pctx, EVP_sha256 ()) <= 0)
        return -1;
    return 0;
}


int
rsakey_sign (rsakey_t *self, const uint8_t *msg, size_t msg_len,
             uint8_t **sig, size_t *sig_len)
{
    return rsakey_sign_labelled (self, NULL, msg, msg_len, sig, sig_len);
}


int
rsakey_verify (rsakey_t *self, const uint8_t *msg, size_t msg_len,
               const uint8_t *sig, size_t sig_len)
{
    return rsakey_verify_labelled (self, NULL, msg, msg_len, sig, sig_len);
}


//  What a labelled signature covers: label || 0x00 || msg, fed to the
//  digest in pieces so that a large message is never copied.
static bool
s_digest_update (EVP_MD_CTX *mdctx, bool sign, const char *label,
                 const uint8_t *msg, size_t msg_len)
{
    int (*update) (EVP_MD_CTX *, const void *, size_t) =
        sign ? EVP_DigestSignUpdate : EVP_DigestVerifyUpdate;
    static const uint8_t zero = 0;
    if (label && (update (mdctx, label, strlen (label)) <= 0
              ||  update (mdctx, &zero, 1) <= 0))
        return false;
    return msg_len == 0 || update (mdctx, msg, msg_len) > 0;
}


int
rsakey_sign_labelled (rsakey_t *self, const char *label,
                      const uint8_t *msg, size_t msg_len,
                      uint8_t **sig, size_t *sig_len)
{
    assert (self);
    assert (sig);
    assert (sig_len);
    *sig = NULL;
    *sig_len = 0;
    if (!self->has_private || (!msg && msg_len))
        return CHAT_ERR_INTERNAL;

    int rc = CHAT_ERR_INTERNAL;
    EVP_PKEY_CTX *pctx = NULL;          //  owned by mdctx
    EVP_MD_CTX *mdctx = EVP_MD_CTX_new ();
    size_t len = (size_t) EVP_PKEY_get_size (self->pkey);
    uint8_t *buf = (uint8_t *) malloc (len);
    if (mdctx && buf
    &&  EVP_DigestSignInit (mdctx, &pctx, EVP_sha256 (), NULL, self->pkey) > 0
    &&  s_pss_setup (pctx) == 0
    &&  s_digest_update (mdctx, true, label, msg, msg_len)
    &&  EVP_DigestSignFinal (mdctx, buf, &len) > 0) {
        *sig = buf;
        *sig_len = len;
        buf = NULL;
        rc = CHAT_OK;
    }
    free (buf);
    EVP_MD_CTX_free (mdctx);
    ERR_clear_error ();
    return rc;
}


int
rsakey_verify_labelled (rsakey_t *self, const char *label,
                        const uint8_t *msg, size_t msg_len,
                        const uint8_t *sig, size_t sig_len)
{
    assert (self);
    if ((!msg && msg_len) || !sig
    ||  sig_len != (size_t) EVP_PKEY_get_size (self->pkey))
        return CHAT_ERR_BAD_SIGNATURE;

    int rc = CHAT_ERR_BAD_SIGNATURE;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *mdctx = EVP_MD_CTX_new ();
    if (mdctx
    &&  EVP_DigestVerifyInit (mdctx, &pctx, EVP_sha256 (), NULL, self->pkey) > 0
    &&  s_pss_setup (pctx) == 0
    &&  s_digest_update (mdctx, false, label, msg, msg_len)
    &&  EVP_DigestVerifyFinal (mdctx, sig, sig_len) == 1)
        rc = CHAT_OK;
    EVP_MD_CTX_free (mdctx);
    ERR_clear_error ();
    return rc;
}


//  ---------------------------------------------------------------- files
//  and private DER

int
rsakey_private_der (rsakey_t *self, uint8_t **der, size_t *len)
{
    assert (self && der && len);
    *der = NULL;
    *len = 0;
    if (!self->has_private)
        return CHAT_ERR_INTERNAL;
    //  i2d_PrivateKey writes PKCS#1 for RSA; PKCS#8 is what every other
    //  toolkit reads, so go through the PKCS8 structure
    PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8 (self->pkey);
    uint8_t *out = NULL;
    int out_len = p8 ? i2d_PKCS8_PRIV_KEY_INFO (p8, &out) : -1;
    PKCS8_PRIV_KEY_INFO_free (p8);
    ERR_clear_error ();
    if (out_len <= 0)
        return CHAT_ERR_INTERNAL;
    //  Hand out malloc'd memory, so callers wipe and free it like any other
    uint8_t *copy = (uint8_t *) malloc ((size_t) out_len);
    if (copy)
        memcpy (copy, out, (size_t) out_len);
    OPENSSL_clear_free (out, (size_t) out_len);
    if (!copy)
        return CHAT_ERR_INTERNAL;
    *der = copy;
    *len = (size_t) out_len;
    return CHAT_OK;
}


rsakey_t *
rsakey_from_private_der (const uint8_t *der, size_t len)
{
    if (!der || len == 0 || len > LONG_MAX)
        return NULL;
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO (NULL, &p, (long) len);
    EVP_PKEY *pkey = NULL;
    if (p8 && p == der + len)
        pkey = EVP_PKCS82PKEY (p8);
    PKCS8_PRIV_KEY_INFO_free (p8);
    ERR_clear_error ();
    if (!pkey)
        return NULL;
    if (!s_acceptable (pkey) || !s_usable_public (pkey)) {
        EVP_PKEY_free (pkey);
        return NULL;
    }
    return s_wrap (pkey, true, NULL, 0);
}


int
rsakey_save_public_many (rsakey_t **keys, size_t count, const char *path)
{
    if (!keys || count == 0 || !path)
        return -1;
    BIO *bio = BIO_new (BIO_s_mem ());
    if (!bio)
        return -1;
    int rc = -1;
    size_t written = 0;
    while (written < count && keys [written]
       &&  PEM_write_bio_PUBKEY (bio, keys [written]->pkey))
        written++;
    if (written == count) {
        char *data = NULL;
        long len = BIO_get_mem_data (bio, &data);
        //  Public keys: readable by anyone who may read the folder
        if (len > 0 && data)
            rc = secret_write_file (path, data, (size_t) len, 0644);
    }
    BIO_free (bio);
    ERR_clear_error ();
    return rc;
}


int
rsakey_save_public (rsakey_t *self, const char *path)
{
    return rsakey_save_public_many (&self, 1, path);
}


//  The next public key of a PEM stream: 1 and *key, 0 at the end, -1 when
//  what comes is not an acceptable public key. Text between the blocks
//  is skipped, as PEM allows.
static int
s_read_public (BIO *bio, rsakey_t **key)
{
    *key = NULL;
    char *name = NULL, *header = NULL;
    unsigned char *der = NULL;
    long len = 0;
    if (!PEM_read_bio (bio, &name, &header, &der, &len)) {
        unsigned long error = ERR_peek_last_error ();
        ERR_clear_error ();
        return ERR_GET_LIB (error) == ERR_LIB_PEM
            && ERR_GET_REASON (error) == PEM_R_NO_START_LINE ? 0 : -1;
    }
    if (strcmp (name, PEM_STRING_PUBLIC) == 0 && len > 0)
        *key = rsakey_from_der (der, (size_t) len);
    OPENSSL_free (name);
    OPENSSL_free (header);
    OPENSSL_free (der);
    return *key ? 1 : -1;
}


int
rsakey_load_public_many (const char *path, rsakey_t **keys, size_t max, size_t *count)
{
    assert (keys && count);
    *count = 0;
    if (!path || max == 0)
        return -1;
    BIO *bio = BIO_new_file (path, "r");
    if (!bio) {
        ERR_clear_error ();
        return -1;
    }
    int rc = 0;
    rsakey_t *key = NULL;
    int got;
    while ((got = s_read_public (bio, &key)) == 1) {
        if (*count == max) {
            rsakey_destroy (&key);
            rc = -1;
            break;
        }
        keys [(*count)++] = key;
    }
    BIO_free (bio);
    ERR_clear_error ();
    if (got < 0 || *count == 0)
        rc = -1;
    if (rc != 0)
        while (*count)
            rsakey_destroy (&keys [--*count]);
    return rc;
}


rsakey_t *
rsakey_load_public (const char *path)
{
    if (!path)
        return NULL;
    BIO *bio = BIO_new_file (path, "r");
    if (!bio) {
        ERR_clear_error ();
        return NULL;
    }
    rsakey_t *key = NULL;
    s_read_public (bio, &key);
    BIO_free (bio);
    ERR_clear_error ();
    return key;
}
