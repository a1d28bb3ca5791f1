/*  test_rsakey - key files, DER, fingerprints, OAEP and PSS  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "rsakey.h"
#include "chaterror.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>

typedef struct {
    char dir [64];
    rsakey_t *key;                  //  2048 bits, made once for the group
    rsakey_t *other;                //  a second key, for cross checks
} fixture_t;

static fixture_t s_fx;


static void
s_path (char *buf, size_t size, const char *name)
{
    int n = snprintf (buf, size, "%s/%s", s_fx.dir, name);
    assert_true (n > 0 && (size_t) n < size);
}


static void
s_write (const char *path, const void *data, size_t len)
{
    FILE *file = fopen (path, "wb");
    assert_non_null (file);
    assert_int_equal (fwrite (data, 1, len, file), len);
    assert_int_equal (fclose (file), 0);
}


//  The file at path has this mode and this first line
static void
s_assert_file (const char *path, unsigned mode, const char *first_line)
{
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, mode);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    char line [64] = "";
    assert_non_null (fgets (line, sizeof line, file));
    fclose (file);
    assert_string_equal (line, first_line);
}


static int
s_group_setup (void **state)
{
    (void) state;
    strcpy (s_fx.dir, "/tmp/test_rsakey.XXXXXX");
    if (!mkdtemp (s_fx.dir))
        return -1;
    s_fx.key = rsakey_generate (2048);
    s_fx.other = rsakey_generate (2048);
    return s_fx.key && s_fx.other? 0: -1;
}


static int
s_group_teardown (void **state)
{
    (void) state;
    rsakey_destroy (&s_fx.key);
    rsakey_destroy (&s_fx.other);
    //  Only the names the tests create live in the directory
    const char *names [] = { "key.pem", "created.pem", "garbage.pem",
                             "small.pem", "ec.pem", "empty.pem", "pub.pem",
                             "three.pem", "three.pub.pem" };
    char path [128];
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++) {
        s_path (path, sizeof path, names [i]);
        unlink (path);
    }
    rmdir (s_fx.dir);
    return 0;
}


static void
test_generate (void **state)
{
    (void) state;
    assert_int_equal (rsakey_bits (s_fx.key), 2048);
    assert_true (rsakey_has_private (s_fx.key));
    //  Sizes outside the allowed range are refused before any work is done
    assert_null (rsakey_generate (1024));
    assert_null (rsakey_generate (2047));
    assert_null (rsakey_generate (4097));
    assert_null (rsakey_generate (0));
    assert_null (rsakey_generate (-1));
}


static void
test_save_load (void **state)
{
    (void) state;
    char path [128];
    s_path (path, sizeof path, "key.pem");
    assert_int_equal (rsakey_save (s_fx.key, path), 0);
    //  0600, PKCS#8 (not the traditional RSA format)
    s_assert_file (path, 0600, "-----BEGIN PRIVATE KEY-----\n");

    rsakey_t *loaded = rsakey_load (path);
    assert_non_null (loaded);
    assert_true (rsakey_has_private (loaded));
    assert_int_equal (rsakey_bits (loaded), 2048);
    size_t len1, len2;
    const uint8_t *der1 = rsakey_der (s_fx.key, &len1);
    const uint8_t *der2 = rsakey_der (loaded, &len2);
    assert_int_equal (len1, len2);
    assert_memory_equal (der1, der2, len1);
    assert_string_equal (rsakey_fingerprint_text (s_fx.key),
                         rsakey_fingerprint_text (loaded));

    //  The loaded private key really is the same key: it signs for it
    uint8_t *sig;
    size_t sig_len;
    const uint8_t msg [] = "loaded";
    assert_int_equal (rsakey_sign (loaded, msg, sizeof msg, &sig, &sig_len), CHAT_OK);
    assert_int_equal (rsakey_verify (s_fx.key, msg, sizeof msg, sig, sig_len), CHAT_OK);
    free (sig);
    rsakey_destroy (&loaded);
    assert_null (loaded);

    //  Saving again replaces the file, still 0600
    assert_int_equal (rsakey_save (s_fx.other, path), 0);
    s_assert_file (path, 0600, "-----BEGIN PRIVATE KEY-----\n");
    loaded = rsakey_load (path);
    assert_non_null (loaded);
    assert_string_equal (rsakey_fingerprint_text (s_fx.other),
                         rsakey_fingerprint_text (loaded));
    rsakey_destroy (&loaded);

    //  A public-only key has nothing to save
    const uint8_t *der = rsakey_der (s_fx.key, &len1);
    rsakey_t *pub = rsakey_from_der (der, len1);
    assert_non_null (pub);
    assert_false (rsakey_has_private (pub));
    assert_int_equal (rsakey_save (pub, path), -1);
    rsakey_destroy (&pub);
}


static void
test_load_or_create (void **state)
{
    (void) state;
    char path [128];
    s_path (path, sizeof path, "created.pem");
    unlink (path);
    rsakey_t *first = rsakey_load_or_create (path, 2048);
    assert_non_null (first);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);

    //  The second call finds the file and must not make a new key
    rsakey_t *second = rsakey_load_or_create (path, 2048);
    assert_non_null (second);
    assert_string_equal (rsakey_fingerprint_text (first),
                         rsakey_fingerprint_text (second));
    rsakey_destroy (&first);
    rsakey_destroy (&second);

    //  A directory that does not exist: no key, no crash
    assert_null (rsakey_load_or_create ("/nonexistent-dir-xyz/key.pem", 2048));
}


static void
test_load_refuses (void **state)
{
    (void) state;
    char path [128];
    s_path (path, sizeof path, "missing.pem");
    assert_null (rsakey_load (path));

    s_path (path, sizeof path, "garbage.pem");
    const char garbage [] =
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n";
    s_write (path, garbage, strlen (garbage));
    assert_null (rsakey_load (path));
    //  load_or_create must not replace a file it cannot read
    assert_null (rsakey_load_or_create (path, 2048));

    s_path (path, sizeof path, "empty.pem");
    s_write (path, "", 0);
    assert_null (rsakey_load (path));

    //  A well-formed key that is too small
    EVP_PKEY *small = EVP_RSA_gen (1024);
    assert_non_null (small);
    s_path (path, sizeof path, "small.pem");
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_true (PEM_write_PrivateKey (file, small, NULL, NULL, 0, NULL, NULL));
    fclose (file);
    EVP_PKEY_free (small);
    assert_null (rsakey_load (path));

    //  A well-formed key that is not RSA
    EVP_PKEY *ec = EVP_EC_gen ("P-256");
    assert_non_null (ec);
    s_path (path, sizeof path, "ec.pem");
    file = fopen (path, "w");
    assert_non_null (file);
    assert_true (PEM_write_PrivateKey (file, ec, NULL, NULL, 0, NULL, NULL));
    fclose (file);
    EVP_PKEY_free (ec);
    assert_null (rsakey_load (path));
}


static void
test_fingerprint (void **state)
{
    (void) state;
    size_t len;
    const uint8_t *der = rsakey_der (s_fx.key, &len);
    assert_non_null (der);
    assert_true (len > 256);

    //  Independently: SHA-256 of the DER, then base64 without padding
    uint8_t digest [32];
    unsigned int digest_len = 0;
    assert_true (EVP_Digest (der, len, digest, &digest_len, EVP_sha256 (), NULL));
    assert_int_equal (digest_len, 32);
    assert_memory_equal (rsakey_fingerprint (s_fx.key), digest, 32);

    char b64 [64];
    int n = EVP_EncodeBlock ((unsigned char *) b64, digest, 32);
    assert_int_equal (n, 44);
    assert_int_equal (b64 [43], '=');
    b64 [43] = 0;
    char expected [80];
    snprintf (expected, sizeof expected, "SHA256:%s", b64);

    const char *text = rsakey_fingerprint_text (s_fx.key);
    assert_int_equal (strlen (text), 7 + 43);
    assert_int_equal (strncmp (text, "SHA256:", 7), 0);
    assert_string_equal (text, expected);

    char *formatted = rsakey_fingerprint_format (digest);
    assert_non_null (formatted);
    assert_string_equal (formatted, expected);
    free (formatted);

    //  The DER is SubjectPublicKeyInfo: OpenSSL reads it back as the same key
    const unsigned char *p = der;
    EVP_PKEY *pkey = d2i_PUBKEY (NULL, &p, (long) len);
    assert_non_null (pkey);
    assert_ptr_equal (p, der + len);
    EVP_PKEY_free (pkey);

    assert_string_not_equal (rsakey_fingerprint_text (s_fx.key),
                             rsakey_fingerprint_text (s_fx.other));
}


static void
test_encrypt_decrypt (void **state)
{
    (void) state;
    uint8_t secret [32];
    for (size_t i = 0; i < sizeof secret; i++)
        secret [i] = (uint8_t) (i * 7 + 1);

    //  Encrypt with the public half only, as the server does
    size_t der_len;
    const uint8_t *der = rsakey_der (s_fx.key, &der_len);
    rsakey_t *pub = rsakey_from_der (der, der_len);
    assert_non_null (pub);

    uint8_t *ct = NULL;
    size_t ct_len = 0;
    assert_int_equal (rsakey_encrypt (pub, secret, sizeof secret, &ct, &ct_len), CHAT_OK);
    assert_int_equal (ct_len, 256);

    //  OAEP is randomised: two encryptions differ
    uint8_t *ct2 = NULL;
    size_t ct2_len = 0;
    assert_int_equal (rsakey_encrypt (pub, secret, sizeof secret, &ct2, &ct2_len), CHAT_OK);
    assert_int_equal (ct2_len, ct_len);
    assert_memory_not_equal (ct, ct2, ct_len);
    free (ct2);

    uint8_t *pt = NULL;
    size_t pt_len = 0;
    assert_int_equal (rsakey_decrypt (s_fx.key, ct, ct_len, &pt, &pt_len), CHAT_OK);
    assert_int_equal (pt_len, sizeof secret);
    assert_memory_equal (pt, secret, sizeof secret);
    free (pt);

    //  The public half cannot decrypt
    assert_int_not_equal (rsakey_decrypt (pub, ct, ct_len, &pt, &pt_len), CHAT_OK);
    assert_null (pt);

    //  The wrong key cannot decrypt
    assert_int_equal (rsakey_decrypt (s_fx.other, ct, ct_len, &pt, &pt_len),
                      CHAT_ERR_MALFORMED);
    assert_null (pt);
    assert_int_equal (pt_len, 0);

    //  Any tampered byte fails the OAEP check
    size_t positions [] = { 0, 1, 100, 128, 254, 255 };
    for (size_t i = 0; i < sizeof positions / sizeof positions [0]; i++) {
        ct [positions [i]] ^= 0x01;
        assert_int_equal (rsakey_decrypt (s_fx.key, ct, ct_len, &pt, &pt_len),
                          CHAT_ERR_MALFORMED);
        assert_null (pt);
        ct [positions [i]] ^= 0x01;
    }
    //  Wrong lengths
    assert_int_equal (rsakey_decrypt (s_fx.key, ct, ct_len - 1, &pt, &pt_len),
                      CHAT_ERR_MALFORMED);
    assert_int_equal (rsakey_decrypt (s_fx.key, ct, 0, &pt, &pt_len),
                      CHAT_ERR_MALFORMED);
    //  And untampered it still works
    assert_int_equal (rsakey_decrypt (s_fx.key, ct, ct_len, &pt, &pt_len), CHAT_OK);
    free (pt);
    free (ct);

    //  Empty plaintext round-trips; too long plaintext is refused
    assert_int_equal (rsakey_encrypt (pub, (const uint8_t *) "", 0, &ct, &ct_len), CHAT_OK);
    assert_int_equal (rsakey_decrypt (s_fx.key, ct, ct_len, &pt, &pt_len), CHAT_OK);
    assert_int_equal (pt_len, 0);
    free (pt);
    free (ct);
    uint8_t big [256] = { 0 };
    //  OAEP-SHA256 on 2048 bits holds at most 256 - 2*32 - 2 = 190 bytes
    assert_int_equal (rsakey_encrypt (pub, big, 190, &ct, &ct_len), CHAT_OK);
    free (ct);
    assert_int_equal (rsakey_encrypt (pub, big, 191, &ct, &ct_len), CHAT_ERR_INTERNAL);
    assert_null (ct);
    rsakey_destroy (&pub);
}


//  Decrypt with OpenSSL directly, naming every OAEP parameter: proves the
//  padding is SHA-256/MGF1-SHA256 and not OpenSSL's SHA-1 default.
static void
test_oaep_parameters (void **state)
{
    (void) state;
    char path [128];
    s_path (path, sizeof path, "key.pem");
    assert_int_equal (rsakey_save (s_fx.key, path), 0);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    EVP_PKEY *pkey = PEM_read_PrivateKey (file, NULL, NULL, NULL);
    fclose (file);
    assert_non_null (pkey);

    const uint8_t msg [] = "oaep sha256";
    uint8_t *ct;
    size_t ct_len;
    assert_int_equal (rsakey_encrypt (s_fx.key, msg, sizeof msg, &ct, &ct_len), CHAT_OK);

    for (int sha1 = 0; sha1 < 2; sha1++) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new (pkey, NULL);
        assert_non_null (ctx);
        assert_true (EVP_PKEY_decrypt_init (ctx) > 0);
        assert_true (EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_PKCS1_OAEP_PADDING) > 0);
        const EVP_MD *md = sha1? EVP_sha1 (): EVP_sha256 ();
        assert_true (EVP_PKEY_CTX_set_rsa_oaep_md (ctx, md) > 0);
        assert_true (EVP_PKEY_CTX_set_rsa_mgf1_md (ctx, md) > 0);
        uint8_t out [256];
        size_t out_len = sizeof out;
        int rc = EVP_PKEY_decrypt (ctx, out, &out_len, ct, ct_len);
        if (sha1)
            assert_true (rc <= 0);
        else {
            assert_true (rc > 0);
            assert_int_equal (out_len, sizeof msg);
            assert_memory_equal (out, msg, sizeof msg);
        }
        EVP_PKEY_CTX_free (ctx);
    }
    free (ct);
    EVP_PKEY_free (pkey);
}


static void
test_sign_verify (void **state)
{
    (void) state;
    uint8_t msg [100];
    for (size_t i = 0; i < sizeof msg; i++)
        msg [i] = (uint8_t) i;

    uint8_t *sig = NULL;
    size_t sig_len = 0;
    assert_int_equal (rsakey_sign (s_fx.key, msg, sizeof msg, &sig, &sig_len), CHAT_OK);
    assert_int_equal (sig_len, 256);

    size_t der_len;
    const uint8_t *der = rsakey_der (s_fx.key, &der_len);
    rsakey_t *pub = rsakey_from_der (der, der_len);
    assert_non_null (pub);
    assert_int_equal (rsakey_verify (pub, msg, sizeof msg, sig, sig_len), CHAT_OK);
    assert_int_equal (rsakey_verify (s_fx.key, msg, sizeof msg, sig, sig_len), CHAT_OK);

    //  A public key cannot sign
    uint8_t *sig2 = NULL;
    size_t sig2_len = 0;
    assert_int_not_equal (rsakey_sign (pub, msg, sizeof msg, &sig2, &sig2_len), CHAT_OK);
    assert_null (sig2);

    //  Tampered message
    msg [50] ^= 0x80;
    assert_int_equal (rsakey_verify (pub, msg, sizeof msg, sig, sig_len),
                      CHAT_ERR_BAD_SIGNATURE);
    msg [50] ^= 0x80;
    //  Shorter message
    assert_int_equal (rsakey_verify (pub, msg, sizeof msg - 1, sig, sig_len),
                      CHAT_ERR_BAD_SIGNATURE);
    //  Tampered signature, at both ends and the middle
    size_t positions [] = { 0, 128, 255 };
    for (size_t i = 0; i < sizeof positions / sizeof positions [0]; i++) {
        sig [positions [i]] ^= 0x01;
        assert_int_equal (rsakey_verify (pub, msg, sizeof msg, sig, sig_len),
                          CHAT_ERR_BAD_SIGNATURE);
        sig [positions [i]] ^= 0x01;
    }
    //  Truncated signature and an empty one
    assert_int_equal (rsakey_verify (pub, msg, sizeof msg, sig, sig_len - 1),
                      CHAT_ERR_BAD_SIGNATURE);
    assert_int_equal (rsakey_verify (pub, msg, sizeof msg, sig, 0),
                      CHAT_ERR_BAD_SIGNATURE);
    //  Another key
    assert_int_equal (rsakey_verify (s_fx.other, msg, sizeof msg, sig, sig_len),
                      CHAT_ERR_BAD_SIGNATURE);
    //  Untampered still good
    assert_int_equal (rsakey_verify (pub, msg, sizeof msg, sig, sig_len), CHAT_OK);

    //  PSS is randomised: a second signature differs and also verifies
    assert_int_equal (rsakey_sign (s_fx.key, msg, sizeof msg, &sig2, &sig2_len), CHAT_OK);
    assert_memory_not_equal (sig, sig2, sig_len);
    assert_int_equal (rsakey_verify (pub, msg, sizeof msg, sig2, sig2_len), CHAT_OK);
    free (sig2);
    free (sig);
    rsakey_destroy (&pub);
}


//  Check the PSS parameters with OpenSSL directly: salt length 32 verifies,
//  another salt length does not, and a PKCS#1 v1.5 signature does not.
static void
test_pss_parameters (void **state)
{
    (void) state;
    char path [128];
    s_path (path, sizeof path, "key.pem");
    assert_int_equal (rsakey_save (s_fx.key, path), 0);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    EVP_PKEY *pkey = PEM_read_PrivateKey (file, NULL, NULL, NULL);
    fclose (file);
    assert_non_null (pkey);

    const uint8_t msg [] = "pss parameters";
    //  padding mode, salt length; expected result of rsakey_verify
    struct { int padding; int salt; int expect; } cases [] = {
        { RSA_PKCS1_PSS_PADDING, 32, CHAT_OK },
        { RSA_PKCS1_PSS_PADDING, 20, CHAT_ERR_BAD_SIGNATURE },
        { RSA_PKCS1_PSS_PADDING, RSA_PSS_SALTLEN_MAX, CHAT_ERR_BAD_SIGNATURE },
        { RSA_PKCS1_PADDING, 0, CHAT_ERR_BAD_SIGNATURE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        EVP_MD_CTX *mdctx = EVP_MD_CTX_new ();
        EVP_PKEY_CTX *pctx = NULL;
        assert_true (EVP_DigestSignInit (mdctx, &pctx, EVP_sha256 (), NULL, pkey) > 0);
        assert_true (EVP_PKEY_CTX_set_rsa_padding (pctx, cases [i].padding) > 0);
        if (cases [i].padding == RSA_PKCS1_PSS_PADDING) {
            assert_true (EVP_PKEY_CTX_set_rsa_pss_saltlen (pctx, cases [i].salt) > 0);
            assert_true (EVP_PKEY_CTX_set_rsa_mgf1_md (pctx, EVP_sha256 ()) > 0);
        }
        uint8_t sig [256];
        size_t sig_len = sizeof sig;
        assert_true (EVP_DigestSign (mdctx, sig, &sig_len, msg, sizeof msg) > 0);
        EVP_MD_CTX_free (mdctx);
        assert_int_equal (rsakey_verify (s_fx.key, msg, sizeof msg, sig, sig_len),
                          cases [i].expect);
    }
    EVP_PKEY_free (pkey);
}


static void
s_assert_der_refused (EVP_PKEY *pkey)
{
    uint8_t *der = NULL;
    int len = i2d_PUBKEY (pkey, &der);
    assert_true (len > 0);
    assert_null (rsakey_from_der (der, (size_t) len));
    OPENSSL_free (der);
}


static void
test_from_der_refuses (void **state)
{
    (void) state;
    size_t len;
    const uint8_t *der = rsakey_der (s_fx.key, &len);

    rsakey_t *pub = rsakey_from_der (der, len);
    assert_non_null (pub);
    assert_int_equal (rsakey_bits (pub), 2048);
    assert_string_equal (rsakey_fingerprint_text (pub), rsakey_fingerprint_text (s_fx.key));
    rsakey_destroy (&pub);

    //  Every truncation
    for (size_t cut = 0; cut < len; cut++)
        assert_null (rsakey_from_der (der, cut));

    //  Trailing garbage
    uint8_t *longer = (uint8_t *) malloc (len + 1);
    assert_non_null (longer);
    memcpy (longer, der, len);
    longer [len] = 0;
    assert_null (rsakey_from_der (longer, len + 1));
    free (longer);

    //  Garbage of many sizes, fixed seed
    srand (20240601);
    uint8_t junk [600];
    for (int round = 0; round < 200; round++) {
        size_t junk_len = (size_t) (rand () % (int) sizeof junk);
        for (size_t i = 0; i < junk_len; i++)
            junk [i] = (uint8_t) rand ();
        //  Half of the rounds start like a real SEQUENCE to get deeper
        if (round % 2 && junk_len > 4)
            memcpy (junk, der, 4);
        assert_null (rsakey_from_der (junk, junk_len));
    }
    //  Single flipped bytes inside the DER: never a crash; if it is still
    //  accepted (a flip inside the modulus), it is a different key. A flip
    //  OpenSSL tolerates (the NULL parameter's tag) must not give the same
    //  key under other bytes.
    uint8_t *copy = (uint8_t *) malloc (len);
    assert_non_null (copy);
    for (size_t i = 0; i < len; i++) {
        memcpy (copy, der, len);
        copy [i] ^= 0xff;
        rsakey_t *key = rsakey_from_der (copy, len);
        if (key) {
            assert_string_not_equal (rsakey_fingerprint_text (key),
                                     rsakey_fingerprint_text (s_fx.key));
            //  and whatever is accepted can be encrypted to
            uint8_t *out = NULL;
            size_t out_len = 0;
            assert_int_equal (rsakey_encrypt (key, (const uint8_t *) "k", 1,
                                              &out, &out_len), CHAT_OK);
            free (out);
            rsakey_destroy (&key);
        }
    }
    //  An even modulus parses but fails OpenSSL's public check: the last
    //  modulus byte sits just before the exponent (02 03 01 00 01)
    memcpy (copy, der, len);
    assert_int_equal (copy [len - 5], 0x02);
    copy [len - 6] &= 0xFE;
    assert_null (rsakey_from_der (copy, len));
    free (copy);
    assert_null (rsakey_from_der (NULL, 10));

    //  Real keys of the wrong kind
    EVP_PKEY *small = EVP_RSA_gen (1024);
    assert_non_null (small);
    s_assert_der_refused (small);
    EVP_PKEY_free (small);

    EVP_PKEY *ec = EVP_EC_gen ("P-256");
    assert_non_null (ec);
    s_assert_der_refused (ec);
    EVP_PKEY_free (ec);
}


//  ---------------------------------------------------------------- protocol 2

//  A 2048-bit RSA key with the public exponent e
static EVP_PKEY *
s_rsa_with_exponent (unsigned long e_value)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id (EVP_PKEY_RSA, NULL);
    EVP_PKEY *pkey = NULL;
    BIGNUM *e = BN_new ();
    assert_true (ctx && e && BN_set_word (e, e_value) && EVP_PKEY_keygen_init (ctx) > 0
              && EVP_PKEY_CTX_set_rsa_keygen_bits (ctx, 2048) > 0
              && EVP_PKEY_CTX_set1_rsa_keygen_pubexp (ctx, e) > 0
              && EVP_PKEY_keygen (ctx, &pkey) > 0);
    EVP_PKEY_CTX_free (ctx);
    BN_free (e);
    return pkey;
}

//  Only e = 65537 (proto/README.md section 2), in every way a key comes in
static void
test_exponent (void **state)
{
    (void) state;
    EVP_PKEY *three = s_rsa_with_exponent (3);
    EVP_PKEY *other = s_rsa_with_exponent (65539);
    s_assert_der_refused (three);
    s_assert_der_refused (other);
    //  As a private key: PKCS#8 DER, a PEM key file; as a public key file
    uint8_t *p8 = NULL;
    PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8 (three);
    int p8_len = i2d_PKCS8_PRIV_KEY_INFO (info, &p8);
    assert_true (p8_len > 0);
    assert_null (rsakey_from_private_der (p8, (size_t) p8_len));
    OPENSSL_free (p8);
    PKCS8_PRIV_KEY_INFO_free (info);
    char path [128], pub_path [128];
    s_path (path, sizeof path, "three.pem");
    s_path (pub_path, sizeof pub_path, "three.pub.pem");
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_true (PEM_write_PrivateKey (file, three, NULL, NULL, 0, NULL, NULL));
    fclose (file);
    assert_null (rsakey_load (path));
    file = fopen (pub_path, "w");
    assert_non_null (file);
    assert_true (PEM_write_PUBKEY (file, three));
    fclose (file);
    assert_null (rsakey_load_public (pub_path));
    EVP_PKEY_free (three);
    EVP_PKEY_free (other);
    //  and the keys made here have it
    EVP_PKEY *f4 = s_rsa_with_exponent (65537);
    uint8_t *der = NULL;
    int len = i2d_PUBKEY (f4, &der);
    rsakey_t *key = rsakey_from_der (der, (size_t) len);
    assert_non_null (key);
    rsakey_destroy (&key);
    OPENSSL_free (der);
    EVP_PKEY_free (f4);
}

//  SIGN(key, label, data) is RSA-PSS over label || 0x00 || data: checked
//  here with OpenSSL directly, and no label or other label verifies
static void
test_labelled (void **state)
{
    (void) state;
    const uint8_t msg [] = { 's', 't', 0, 'x', 0xff };
    uint8_t *sig, *plain_sig;
    size_t sig_len, plain_len;
    assert_int_equal (rsakey_sign_labelled (s_fx.key, "chat/2 statement", msg, sizeof msg,
                                            &sig, &sig_len), CHAT_OK);
    assert_int_equal (sig_len, 256);
    assert_int_equal (rsakey_verify_labelled (s_fx.key, "chat/2 statement", msg, sizeof msg,
                                              sig, sig_len), CHAT_OK);
    //  Another label, a label one byte off, the label's NUL dropped or added
    const char *others [] = { "chat/2 message", "chat/2 statemenT", "chat/2 statement ",
                              "chat/2 statemen", "", "chat/1 statement" };
    for (size_t i = 0; i < sizeof others / sizeof others [0]; i++)
        assert_int_equal (rsakey_verify_labelled (s_fx.key, others [i], msg, sizeof msg,
                                                  sig, sig_len), CHAT_ERR_BAD_SIGNATURE);
    //  Plain and labelled are not interchangeable
    assert_int_equal (rsakey_verify (s_fx.key, msg, sizeof msg, sig, sig_len),
                      CHAT_ERR_BAD_SIGNATURE);
    assert_int_equal (rsakey_sign (s_fx.key, msg, sizeof msg, &plain_sig, &plain_len), CHAT_OK);
    assert_int_equal (rsakey_verify_labelled (s_fx.key, "chat/2 statement", msg, sizeof msg,
                                              plain_sig, plain_len), CHAT_ERR_BAD_SIGNATURE);
    assert_int_equal (rsakey_verify_labelled (s_fx.key, NULL, msg, sizeof msg,
                                              plain_sig, plain_len), CHAT_OK);
    free (plain_sig);
    //  Another key, a flipped bit, the message changed
    assert_int_equal (rsakey_verify_labelled (s_fx.other, "chat/2 statement", msg, sizeof msg,
                                              sig, sig_len), CHAT_ERR_BAD_SIGNATURE);
    sig [100] ^= 0x10;
    assert_int_equal (rsakey_verify_labelled (s_fx.key, "chat/2 statement", msg, sizeof msg,
                                              sig, sig_len), CHAT_ERR_BAD_SIGNATURE);
    sig [100] ^= 0x10;
    assert_int_equal (rsakey_verify_labelled (s_fx.key, "chat/2 statement", msg,
                                              sizeof msg - 1, sig, sig_len),
                      CHAT_ERR_BAD_SIGNATURE);

    //  OpenSSL verifies it as PSS (SHA-256, MGF1-SHA-256, salt 32) over
    //  "chat/2 statement" 0x00 msg, and the labelled check takes a signature
    //  OpenSSL made over those bytes
    uint8_t covered [64];
    size_t covered_len = strlen ("chat/2 statement") + 1 + sizeof msg;
    memcpy (covered, "chat/2 statement", 16);
    covered [16] = 0;
    memcpy (covered + 17, msg, sizeof msg);
    char path [128];
    s_path (path, sizeof path, "key.pem");
    assert_int_equal (rsakey_save (s_fx.key, path), 0);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    EVP_PKEY *pkey = PEM_read_PrivateKey (file, NULL, NULL, NULL);
    fclose (file);
    assert_non_null (pkey);
    EVP_MD_CTX *mdctx = EVP_MD_CTX_new ();
    EVP_PKEY_CTX *pctx = NULL;
    assert_true (EVP_DigestVerifyInit (mdctx, &pctx, EVP_sha256 (), NULL, pkey) > 0);
    assert_true (EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PSS_PADDING) > 0);
    assert_true (EVP_PKEY_CTX_set_rsa_pss_saltlen (pctx, 32) > 0);
    assert_true (EVP_PKEY_CTX_set_rsa_mgf1_md (pctx, EVP_sha256 ()) > 0);
    assert_int_equal (EVP_DigestVerify (mdctx, sig, sig_len, covered, covered_len), 1);
    EVP_MD_CTX_free (mdctx);
    mdctx = EVP_MD_CTX_new ();
    assert_true (EVP_DigestSignInit (mdctx, &pctx, EVP_sha256 (), NULL, pkey) > 0);
    assert_true (EVP_PKEY_CTX_set_rsa_padding (pctx, RSA_PKCS1_PSS_PADDING) > 0);
    assert_true (EVP_PKEY_CTX_set_rsa_pss_saltlen (pctx, 32) > 0);
    assert_true (EVP_PKEY_CTX_set_rsa_mgf1_md (pctx, EVP_sha256 ()) > 0);
    uint8_t theirs [256];
    size_t theirs_len = sizeof theirs;
    assert_true (EVP_DigestSign (mdctx, theirs, &theirs_len, covered, covered_len) > 0);
    EVP_MD_CTX_free (mdctx);
    EVP_PKEY_free (pkey);
    assert_int_equal (rsakey_verify_labelled (s_fx.key, "chat/2 statement", msg, sizeof msg,
                                              theirs, theirs_len), CHAT_OK);
    free (sig);

    //  An empty message is signed as the label and its NUL
    assert_int_equal (rsakey_sign_labelled (s_fx.key, "chat/2 ticket", NULL, 0, &sig, &sig_len),
                      CHAT_OK);
    assert_int_equal (rsakey_verify_labelled (s_fx.key, "chat/2 ticket", NULL, 0, sig, sig_len),
                      CHAT_OK);
    assert_int_equal (rsakey_verify_labelled (s_fx.key, "chat/2 ticket", msg, 1, sig, sig_len),
                      CHAT_ERR_BAD_SIGNATURE);
    free (sig);
    //  A public key cannot sign
    size_t der_len;
    const uint8_t *der = rsakey_der (s_fx.key, &der_len);
    rsakey_t *pub = rsakey_from_der (der, der_len);
    assert_non_null (pub);
    sig = (uint8_t *) "x";
    assert_int_equal (rsakey_sign_labelled (pub, "l", msg, sizeof msg, &sig, &sig_len),
                      CHAT_ERR_INTERNAL);
    assert_null (sig);
    rsakey_destroy (&pub);
}

static void
test_private_der (void **state)
{
    (void) state;
    uint8_t *der = NULL;
    size_t len = 0;
    assert_int_equal (rsakey_private_der (s_fx.key, &der, &len), CHAT_OK);
    //  PKCS#8 as OpenSSL reads it, the very key
    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *info = d2i_PKCS8_PRIV_KEY_INFO (NULL, &p, (long) len);
    assert_non_null (info);
    assert_ptr_equal (p, der + len);
    PKCS8_PRIV_KEY_INFO_free (info);
    rsakey_t *back = rsakey_from_private_der (der, len);
    assert_non_null (back);
    assert_true (rsakey_has_private (back));
    assert_string_equal (rsakey_fingerprint_text (back), rsakey_fingerprint_text (s_fx.key));
    uint8_t *sig;
    size_t sig_len;
    assert_int_equal (rsakey_sign_labelled (back, "l", (const uint8_t *) "m", 1,
                                            &sig, &sig_len), CHAT_OK);
    assert_int_equal (rsakey_verify_labelled (s_fx.key, "l", (const uint8_t *) "m", 1,
                                              sig, sig_len), CHAT_OK);
    free (sig);
    rsakey_destroy (&back);

    //  Every truncation, a byte more, flipped bytes
    for (size_t cut = 0; cut < len; cut += 7)
        assert_null (rsakey_from_private_der (der, cut));
    uint8_t *longer = malloc (len + 1);
    assert_non_null (longer);
    memcpy (longer, der, len);
    longer [len] = 0;
    assert_null (rsakey_from_private_der (longer, len + 1));
    for (size_t i = 0; i < 40; i++) {
        memcpy (longer, der, len);
        longer [i] ^= 0xff;
        rsakey_t *key = rsakey_from_private_der (longer, len);
        if (key)
            rsakey_destroy (&key);      //  a flip OpenSSL tolerates; no crash is the point
    }
    free (longer);
    assert_null (rsakey_from_private_der (NULL, len));
    assert_null (rsakey_from_private_der (der, 0));
    //  The public DER, PKCS#1 (not PKCS#8), other kinds of key
    size_t pub_len;
    const uint8_t *pub_der = rsakey_der (s_fx.key, &pub_len);
    assert_null (rsakey_from_private_der (pub_der, pub_len));
    EVP_PKEY *pkey = NULL;
    p = der;
    info = d2i_PKCS8_PRIV_KEY_INFO (NULL, &p, (long) len);
    pkey = EVP_PKCS82PKEY (info);
    PKCS8_PRIV_KEY_INFO_free (info);
    assert_non_null (pkey);
    uint8_t *pkcs1 = NULL;
    int pkcs1_len = i2d_PrivateKey (pkey, &pkcs1);
    assert_true (pkcs1_len > 0);
    assert_null (rsakey_from_private_der (pkcs1, (size_t) pkcs1_len));
    OPENSSL_free (pkcs1);
    EVP_PKEY_free (pkey);
    EVP_PKEY *ec = EVP_EC_gen ("P-256");
    info = EVP_PKEY2PKCS8 (ec);
    uint8_t *ec_der = NULL;
    int ec_len = i2d_PKCS8_PRIV_KEY_INFO (info, &ec_der);
    assert_true (ec_len > 0);
    assert_null (rsakey_from_private_der (ec_der, (size_t) ec_len));
    OPENSSL_free (ec_der);
    PKCS8_PRIV_KEY_INFO_free (info);
    EVP_PKEY_free (ec);
    EVP_PKEY *small = EVP_RSA_gen (1024);
    info = EVP_PKEY2PKCS8 (small);
    uint8_t *small_der = NULL;
    int small_len = i2d_PKCS8_PRIV_KEY_INFO (info, &small_der);
    assert_null (rsakey_from_private_der (small_der, (size_t) small_len));
    OPENSSL_free (small_der);
    PKCS8_PRIV_KEY_INFO_free (info);
    EVP_PKEY_free (small);
    free (der);

    //  A public-only key has no private DER
    rsakey_t *pub = rsakey_from_der (pub_der, pub_len);
    der = (uint8_t *) "x";
    assert_int_equal (rsakey_private_der (pub, &der, &len), CHAT_ERR_INTERNAL);
    assert_null (der);
    assert_int_equal (len, 0);
    rsakey_destroy (&pub);
}

//  The public key file an operator copies to the other server: PEM,
//  0644 (0600 would hide nothing and stop a service user reading it)
static void
test_public_file (void **state)
{
    (void) state;
    char path [128], private_path [128];
    s_path (path, sizeof path, "pub.pem");
    s_path (private_path, sizeof private_path, "key.pem");
    mode_t old = umask (077);           //  the mode is what is asked, whatever the umask
    assert_int_equal (rsakey_save_public (s_fx.key, path), 0);
    umask (old);
    s_assert_file (path, 0644, "-----BEGIN PUBLIC KEY-----\n");
    rsakey_t *loaded = rsakey_load_public (path);
    assert_non_null (loaded);
    assert_false (rsakey_has_private (loaded));
    assert_string_equal (rsakey_fingerprint_text (loaded), rsakey_fingerprint_text (s_fx.key));
    //  It checks what the key signs
    uint8_t *sig;
    size_t sig_len;
    assert_int_equal (rsakey_sign_labelled (s_fx.key, "chat/2 ticket", (const uint8_t *) "t", 1,
                                            &sig, &sig_len), CHAT_OK);
    assert_int_equal (rsakey_verify_labelled (loaded, "chat/2 ticket", (const uint8_t *) "t", 1,
                                              sig, sig_len), CHAT_OK);
    free (sig);
    rsakey_destroy (&loaded);
    //  Saving a public-only key works the same; saving again replaces
    size_t der_len;
    const uint8_t *der = rsakey_der (s_fx.other, &der_len);
    rsakey_t *pub = rsakey_from_der (der, der_len);
    assert_int_equal (rsakey_save_public (pub, path), 0);
    loaded = rsakey_load_public (path);
    assert_non_null (loaded);
    assert_string_equal (rsakey_fingerprint_text (loaded), rsakey_fingerprint_text (s_fx.other));
    rsakey_destroy (&loaded);
    rsakey_destroy (&pub);
    //  The private key file is no public key file, nor is garbage or nothing
    assert_int_equal (rsakey_save (s_fx.key, private_path), 0);
    assert_null (rsakey_load_public (private_path));
    s_path (path, sizeof path, "garbage.pem");
    s_write (path, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 57);
    assert_null (rsakey_load_public (path));
    s_path (path, sizeof path, "no-such.pem");
    assert_null (rsakey_load_public (path));
    assert_null (rsakey_load_public (NULL));
    assert_int_equal (rsakey_save_public (s_fx.key, NULL), -1);
    assert_int_equal (rsakey_save_public (s_fx.key, "/nonexistent-dir/x.pub"), -1);
    //  A small key's public file
    EVP_PKEY *small = EVP_RSA_gen (1024);
    s_path (path, sizeof path, "small.pem");
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_true (PEM_write_PUBKEY (file, small));
    fclose (file);
    assert_null (rsakey_load_public (path));
    EVP_PKEY_free (small);
}

//  A public key of modulus n and exponent e, as OpenSSL would encode it
static EVP_PKEY *
s_public_key (const BIGNUM *n, const BIGNUM *e)
{
    OSSL_PARAM_BLD *build = OSSL_PARAM_BLD_new ();
    assert_non_null (build);
    assert_true (OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_N, n));
    assert_true (OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_E, e));
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param (build);
    assert_non_null (params);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;
    assert_true (ctx && EVP_PKEY_fromdata_init (ctx) > 0
                 && EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0);
    EVP_PKEY_CTX_free (ctx);
    OSSL_PARAM_free (params);
    OSSL_PARAM_BLD_free (build);
    return pkey;
}

//  Only e = 65537: a client key with a 3071-bit exponent made one OAEP
//  encryption cost the server 20 times as much (issue 12, attack 2)
static void
test_exponent_cost (void **state)
{
    (void) state;
    BIGNUM *n = BN_new (), *e = BN_new ();
    assert_true (n && e);
    size_t len;
    const uint8_t *der = rsakey_der (s_fx.key, &len);
    EVP_PKEY *ours = d2i_PUBKEY (NULL, &der, (long) len);
    assert_non_null (ours);
    assert_true (EVP_PKEY_get_bn_param (ours, OSSL_PKEY_PARAM_RSA_N, &n));
    EVP_PKEY_free (ours);

    //  The same modulus with exponent 65537 is taken (the control) ...
    assert_true (BN_set_word (e, 65537));
    EVP_PKEY *pkey = s_public_key (n, e);
    uint8_t *encoded = NULL;
    int encoded_len = i2d_PUBKEY (pkey, &encoded);
    rsakey_t *key = rsakey_from_der (encoded, (size_t) encoded_len);
    assert_non_null (key);
    rsakey_destroy (&key);
    OPENSSL_free (encoded);
    EVP_PKEY_free (pkey);
    //  ... and with 3, 65539, 2^3070 + 1 it is not
    const unsigned long small [] = { 3, 65539 };
    for (size_t i = 0; i < 2; i++) {
        assert_true (BN_set_word (e, small [i]));
        pkey = s_public_key (n, e);
        s_assert_der_refused (pkey);
        EVP_PKEY_free (pkey);
    }
    BN_zero (e);
    assert_true (BN_set_bit (e, 3070) && BN_set_bit (e, 0));
    pkey = s_public_key (n, e);
    s_assert_der_refused (pkey);
    EVP_PKEY_free (pkey);

    //  The longest key taken (4096 bits) fits RSAKEY_MAX_DER; one bit
    //  more is refused (as too long to parse, or as too large)
    assert_true (BN_rand (n, 4096, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD));
    assert_true (BN_set_word (e, 65537));
    pkey = s_public_key (n, e);
    encoded = NULL;
    encoded_len = i2d_PUBKEY (pkey, &encoded);
    assert_true (encoded_len > 0 && encoded_len <= RSAKEY_MAX_DER);
    key = rsakey_from_der (encoded, (size_t) encoded_len);
    assert_non_null (key);
    assert_int_equal (rsakey_bits (key), 4096);
    rsakey_destroy (&key);
    OPENSSL_free (encoded);
    EVP_PKEY_free (pkey);
    assert_true (BN_rand (n, 4097, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD));
    pkey = s_public_key (n, e);
    s_assert_der_refused (pkey);
    EVP_PKEY_free (pkey);
    BN_free (n);
    BN_free (e);
}


int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_generate),
        cmocka_unit_test (test_save_load),
        cmocka_unit_test (test_load_or_create),
        cmocka_unit_test (test_load_refuses),
        cmocka_unit_test (test_fingerprint),
        cmocka_unit_test (test_encrypt_decrypt),
        cmocka_unit_test (test_oaep_parameters),
        cmocka_unit_test (test_sign_verify),
        cmocka_unit_test (test_pss_parameters),
        cmocka_unit_test (test_from_der_refuses),
        cmocka_unit_test (test_exponent),
        cmocka_unit_test (test_exponent_cost),
        cmocka_unit_test (test_labelled),
        cmocka_unit_test (test_private_der),
        cmocka_unit_test (test_public_file),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
