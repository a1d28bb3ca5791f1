/*  test_identity - sealed identities and safety numbers

    Known answers come from tests/vectors/v2/compute.py, which computes them
    from proto/README.md's text with python3-cryptography (not from libchat):
    a sealed identity made there opens here, the seal key made here is the
    one the text defines, and the safety numbers match.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "chaterror.h"
#include "codec.h"
#include "fernet.h"
#include "identity.h"
#include "scram.h"
#include "secret.h"
#include "testlocale.h"
#include "testvectors.h"
#include "wire.h"

#define NOW 1700000000

//  RFC 7677 section 3: password "pencil", this salt, 4096 iterations
#define RFC_SALT_B64 "W22ZaJ0SNY7soEsUEjb6gQ=="
//  compute.py: SaltedPassword of the above (it also checks that this gives
//  RFC 7677's ClientProof and ServerSignature), and HKDF-SHA-256 of it with
//  info "chat/2 identity seal"
#define KAT_SALTED "c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d"
#define KAT_SEAL_KEY "2812d449fc52d7d749b64e180bdc2ab0099ea21b5d222359a14a77fc9db32257"
//  compute.py: safety numbers of the vector keys alice.pem and bob.pem
#define KAT_SAFETY_ALICE_BOB \
    "71652 15318 67628 10270 16347 14872 52727 90504 74048 71642 32193 24502"
//  "Zed" sorts before "bob" bytewise but after it in lower case: bob's half
//  (the same as above) comes first
#define KAT_SAFETY_ZED_BOB \
    "52727 90504 74048 71642 32193 24502 73221 22428 76197 75881 31601 66887"

static struct {
    rsakey_t *alice;                    //  tests/vectors/v2/alice.pem
    rsakey_t *bob_public;               //  tests/vectors/v2/bob.pub.pem
    rsakey_t *fresh;                    //  made here
    rsakey_t *other;
    uint8_t salted [SCRAM_KEY_SIZE];    //  RFC 7677's SaltedPassword
    uint8_t other_salted [SCRAM_KEY_SIZE];
} s;

static int
s_group_setup (void **state)
{
    (void) state;
    s.alice = rsakey_load (testvectors_path ("v2/alice.pem"));
    s.bob_public = rsakey_load_public (testvectors_path ("v2/bob.pub.pem"));
    s.fresh = rsakey_generate (2048);
    s.other = rsakey_generate (2048);
    //  RFC_SALT_B64 decoded (test_kat_salted_password decodes it again)
    static const uint8_t salt [16] = {
        0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
        0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81 };
    if (!s.alice || !s.bob_public || !s.fresh || !s.other
    ||  scram_salted_password ("pencil", salt, sizeof salt, 4096, s.salted) != 0
    ||  secret_random (s.other_salted, sizeof s.other_salted))
        return -1;
    return 0;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    rsakey_destroy (&s.alice);
    rsakey_destroy (&s.bob_public);
    rsakey_destroy (&s.fresh);
    rsakey_destroy (&s.other);
    return 0;
}

static void
s_unhex (const char *hex, uint8_t *out, size_t len)
{
    assert_int_equal (codec_unhex (hex, out, len), 0);
}

//  identity_open with the key's own public DER as the announced key
static int
s_open (const char *sealed, size_t len, const char *user, rsakey_t *announced,
        const uint8_t *salted, rsakey_t **identity)
{
    size_t der_len = 0;
    const uint8_t *der = announced ? rsakey_der (announced, &der_len) : NULL;
    *identity = (rsakey_t *) &der_len;          //  must be overwritten
    int rc = identity_open (sealed, len, user, der, der_len, salted, identity);
    if (rc == CHAT_OK)
        assert_non_null (*identity);
    else
        assert_null (*identity);
    return rc;
}

//  ---------------------------------------------------------------- known answers

//  The salt in the fixture is RFC 7677's, and SaltedPassword is compute.py's
static void
test_kat_salted_password (void **state)
{
    (void) state;
    uint8_t *salt = NULL;
    size_t salt_len = 0;
    char *b64url = strdup (RFC_SALT_B64);
    for (char *c = b64url; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    assert_int_equal (codec_b64url_decode (b64url, strlen (b64url), &salt, &salt_len), 0);
    free (b64url);
    uint8_t salted [SCRAM_KEY_SIZE], expected [SCRAM_KEY_SIZE];
    assert_int_equal (scram_salted_password ("pencil", salt, salt_len, 4096, salted), 0);
    s_unhex (KAT_SALTED, expected, sizeof expected);
    assert_memory_equal (salted, expected, sizeof expected);
    assert_memory_equal (s.salted, expected, sizeof expected);
    free (salt);
}

//  A sealed identity made by compute.py from the text opens here, to the
//  very key of alice.pem
static void
test_kat_open_python_sealed (void **state)
{
    (void) state;
    size_t len;
    char *sealed = testvectors_read ("v2/sealed_alice.txt", &len);
    assert_non_null (sealed);
    rsakey_t *announced = rsakey_load_public (testvectors_path ("v2/alice.pub.pem"));
    assert_non_null (announced);
    rsakey_t *identity = NULL;
    assert_int_equal (s_open (sealed, len, "alice", announced, s.salted, &identity), CHAT_OK);
    assert_true (rsakey_has_private (identity));
    assert_string_equal (rsakey_fingerprint_text (identity), rsakey_fingerprint_text (s.alice));
    //  It signs as alice's key
    uint8_t *sig;
    size_t sig_len;
    assert_int_equal (rsakey_sign_labelled (identity, "chat/2 message", (const uint8_t *) "m",
                                            1, &sig, &sig_len), CHAT_OK);
    assert_int_equal (rsakey_verify_labelled (s.alice, "chat/2 message", (const uint8_t *) "m",
                                              1, sig, sig_len), CHAT_OK);
    free (sig);
    rsakey_destroy (&identity);
    //  Any case of the name; never another name, password or key
    assert_int_equal (s_open (sealed, len, "ALICE", announced, s.salted, &identity), CHAT_OK);
    rsakey_destroy (&identity);
    assert_int_equal (s_open (sealed, len, "alicia", announced, s.salted, &identity),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (s_open (sealed, len, "alice", announced, s.other_salted, &identity),
                      CHAT_ERR_BAD_MAC);
    assert_int_equal (s_open (sealed, len, "alice", s.bob_public, s.salted, &identity),
                      CHAT_ERR_BAD_KEY);
    rsakey_destroy (&announced);
    free (sealed);
}

//  What identity_seal makes opens with the seal key compute.py derived
//  from the text, and holds IdentitySecret{username, PKCS#8 DER}
static void
test_kat_seal_key (void **state)
{
    (void) state;
    char *sealed = NULL;
    assert_int_equal (identity_seal (s.alice, "Alice", s.salted, NOW, &sealed), CHAT_OK);
    uint8_t key [FERNET_KEY_SIZE];
    s_unhex (KAT_SEAL_KEY, key, sizeof key);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    assert_int_equal (fernet_decrypt (key, sealed, strlen (sealed), 0, NOW, &plain, &plain_len),
                      CHAT_OK);
    //  The token's own time is the sealing time
    assert_int_equal (fernet_token_timestamp (sealed, strlen (sealed)), NOW);
    Chat__IdentitySecret *secret = chat__identity_secret__unpack (NULL, plain_len, plain);
    assert_non_null (secret);
    assert_string_equal (secret->username, "Alice");
    rsakey_t *inside = rsakey_from_private_der (secret->private_key.data,
                                                secret->private_key.len);
    assert_non_null (inside);
    assert_string_equal (rsakey_fingerprint_text (inside), rsakey_fingerprint_text (s.alice));
    //  PKCS#8: an AlgorithmIdentifier naming rsaEncryption after the version
    static const uint8_t rsa_oid [] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
                                        0x01, 0x01, 0x01 };
    assert_true (secret->private_key.len > 30);
    assert_non_null (memmem (secret->private_key.data, 30, rsa_oid, sizeof rsa_oid));
    rsakey_destroy (&inside);
    chat__identity_secret__free_unpacked (secret, NULL);
    secret_wipe (plain, plain_len);
    free (plain);
    free (sealed);
}

//  ---------------------------------------------------------------- seal and open

static void
test_round_trip (void **state)
{
    (void) state;
    char *sealed = NULL;
    assert_int_equal (identity_seal (s.fresh, "bob.b", s.salted, NOW, &sealed), CHAT_OK);
    size_t len = strlen (sealed);
    assert_true (len > 0 && len <= IDENTITY_SEALED_MAX);
    //  A Fernet token: url-safe base64 text
    for (size_t i = 0; i < len; i++)
        assert_non_null (strchr ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789-_=", sealed [i]));
    rsakey_t *identity = NULL;
    assert_int_equal (s_open (sealed, len, "bob.b", s.fresh, s.salted, &identity), CHAT_OK);
    assert_true (rsakey_has_private (identity));
    assert_string_equal (rsakey_fingerprint_text (identity), rsakey_fingerprint_text (s.fresh));
    //  The key pair works: what is wrapped for the original opens with it
    uint8_t *wrapped, *plain;
    size_t wrapped_len, plain_len;
    assert_int_equal (rsakey_encrypt (s.fresh, (const uint8_t *) "epoch key", 9,
                                      &wrapped, &wrapped_len), CHAT_OK);
    assert_int_equal (rsakey_decrypt (identity, wrapped, wrapped_len, &plain, &plain_len),
                      CHAT_OK);
    assert_memory_equal (plain, "epoch key", 9);
    free (wrapped);
    free (plain);
    rsakey_destroy (&identity);

    //  No age limit: opens however old (or however far ahead) its stamp
    free (sealed);
    int64_t stamps [] = { 0, 1, NOW - 20 * 365 * 86400LL, NOW + 10 * 365 * 86400LL };
    for (size_t i = 0; i < sizeof stamps / sizeof stamps [0]; i++) {
        assert_int_equal (identity_seal (s.fresh, "bob.b", s.salted, stamps [i], &sealed),
                          CHAT_OK);
        assert_int_equal (s_open (sealed, strlen (sealed), "bob.b", s.fresh, s.salted,
                                  &identity), CHAT_OK);
        rsakey_destroy (&identity);
        free (sealed);
    }
    //  A 4096-bit identity fits the limit too
    rsakey_t *big = rsakey_generate (4096);
    assert_non_null (big);
    assert_int_equal (identity_seal (big, "b", s.salted, NOW, &sealed), CHAT_OK);
    assert_true (strlen (sealed) <= IDENTITY_SEALED_MAX);
    assert_int_equal (s_open (sealed, strlen (sealed), "b", big, s.salted, &identity), CHAT_OK);
    rsakey_destroy (&identity);
    rsakey_destroy (&big);
    free (sealed);
}

static void
test_refusals (void **state)
{
    (void) state;
    char *sealed = NULL;
    assert_int_equal (identity_seal (s.fresh, "carol", s.salted, NOW, &sealed), CHAT_OK);
    size_t len = strlen (sealed);
    rsakey_t *identity;
    //  Wrong SaltedPassword: one bit off, or another altogether
    uint8_t off [SCRAM_KEY_SIZE];
    memcpy (off, s.salted, sizeof off);
    off [0] ^= 1;
    assert_int_equal (s_open (sealed, len, "carol", s.fresh, off, &identity), CHAT_ERR_BAD_MAC);
    assert_int_equal (s_open (sealed, len, "carol", s.fresh, s.other_salted, &identity),
                      CHAT_ERR_BAD_MAC);
    //  Another user, an invalid name, a name that only a cut would match
    assert_int_equal (s_open (sealed, len, "carl", s.fresh, s.salted, &identity),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (s_open (sealed, len, "carol ", s.fresh, s.salted, &identity),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (s_open (sealed, len, "", s.fresh, s.salted, &identity),
                      CHAT_ERR_BAD_REQUEST);
    char long_name [40];
    memset (long_name, 'a', 32);
    strcpy (long_name + 32, "b");
    char *sealed_long = NULL;
    long_name [32] = 0;
    assert_int_equal (identity_seal (s.fresh, long_name, s.salted, NOW, &sealed_long), CHAT_OK);
    long_name [32] = 'b';
    assert_int_equal (s_open (sealed_long, strlen (sealed_long), long_name, s.fresh, s.salted,
                              &identity), CHAT_ERR_BAD_REQUEST);
    free (sealed_long);
    //  A key other than the one announced, or none announced
    assert_int_equal (s_open (sealed, len, "carol", s.other, s.salted, &identity),
                      CHAT_ERR_BAD_KEY);
    assert_int_equal (s_open (sealed, len, "carol", NULL, s.salted, &identity),
                      CHAT_ERR_BAD_KEY);
    size_t der_len;
    const uint8_t *der = rsakey_der (s.fresh, &der_len);
    identity = NULL;
    assert_int_equal (identity_open (sealed, len, "carol", der, der_len - 1, s.salted,
                                     &identity), CHAT_ERR_BAD_KEY);
    assert_null (identity);
    //  Every truncation, every flipped character: never opens
    for (size_t cut = 0; cut < len; cut++)
        assert_int_not_equal (s_open (sealed, cut, "carol", s.fresh, s.salted, &identity),
                              CHAT_OK);
    for (size_t i = 0; i < len; i += 3) {
        char saved = sealed [i];
        sealed [i] = saved == 'A' ? 'B' : 'A';
        int rc = s_open (sealed, len, "carol", s.fresh, s.salted, &identity);
        assert_true (rc == CHAT_ERR_BAD_MAC || rc == CHAT_ERR_MALFORMED);
        sealed [i] = saved;
    }
    assert_int_equal (s_open (sealed, len, "carol", s.fresh, s.salted, &identity), CHAT_OK);
    rsakey_destroy (&identity);
    free (sealed);

    //  Sealing refuses what could not be opened
    assert_int_equal (identity_seal (s.fresh, "a b", s.salted, NOW, &sealed),
                      CHAT_ERR_BAD_REQUEST);
    assert_null (sealed);
    rsakey_t *public_only = rsakey_from_der (der, der_len);
    assert_non_null (public_only);
    assert_int_equal (identity_seal (public_only, "carol", s.salted, NOW, &sealed),
                      CHAT_ERR_BAD_REQUEST);
    assert_null (sealed);
    rsakey_destroy (&public_only);
}

//  Sealed correctly under the right key, but with bad contents
static void
test_bad_contents (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    assert_int_equal (secret_hkdf (s.salted, sizeof s.salted, IDENTITY_SEAL_INFO,
                                   key, sizeof key), 0);
    uint8_t *pkcs8;
    size_t pkcs8_len;
    assert_int_equal (rsakey_private_der (s.fresh, &pkcs8, &pkcs8_len), CHAT_OK);
    rsakey_t *identity;
    for (int variant = 0; variant < 6; variant++) {
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        Chat__IdentitySecret secret = CHAT__IDENTITY_SECRET__INIT;
        secret.username = (char *) "dave";
        secret.private_key.data = pkcs8;
        secret.private_key.len = pkcs8_len;
        int expected = CHAT_ERR_BAD_KEY;
        switch (variant) {
            case 0: secret.private_key.len = pkcs8_len - 1; break;
            case 1: secret.private_key.len = 0; break;
            case 2: secret.username = (char *) "da ve"; expected = CHAT_ERR_BAD_REQUEST; break;
            case 3: secret.username = (char *) ""; expected = CHAT_ERR_BAD_REQUEST; break;
            case 4: expected = CHAT_ERR_MALFORMED; break;      //  not a protobuf
            case 5: expected = CHAT_OK; break;                 //  the control
        }
        if (variant == 4) {
            plain = (uint8_t *) strdup ("\xff\xff\xff\xff");
            plain_len = 4;
        }
        else
            assert_int_equal (wire_pack (&secret.base, &plain, &plain_len), CHAT_OK);
        char *token = NULL;
        assert_int_equal (fernet_encrypt (key, plain, plain_len, NOW, &token), CHAT_OK);
        assert_int_equal (s_open (token, strlen (token), "dave", s.fresh, s.salted, &identity),
                          expected);
        rsakey_destroy (&identity);
        free (token);
        free (plain);
    }
    //  A public key where the private one belongs
    size_t der_len;
    const uint8_t *der = rsakey_der (s.fresh, &der_len);
    Chat__IdentitySecret secret = CHAT__IDENTITY_SECRET__INIT;
    secret.username = (char *) "dave";
    secret.private_key.data = (uint8_t *) der;
    secret.private_key.len = der_len;
    uint8_t *plain;
    size_t plain_len;
    assert_int_equal (wire_pack (&secret.base, &plain, &plain_len), CHAT_OK);
    char *token = NULL;
    assert_int_equal (fernet_encrypt (key, plain, plain_len, NOW, &token), CHAT_OK);
    assert_int_equal (s_open (token, strlen (token), "dave", s.fresh, s.salted, &identity),
                      CHAT_ERR_BAD_KEY);
    free (token);
    free (plain);
    secret_wipe (pkcs8, pkcs8_len);
    free (pkcs8);
    secret_wipe (key, sizeof key);
}

static void
test_garbage (void **state)
{
    (void) state;
    rsakey_t *identity;
    assert_int_equal (s_open (NULL, 10, "a", s.fresh, s.salted, &identity), CHAT_ERR_MALFORMED);
    assert_int_equal (s_open ("", 0, "a", s.fresh, s.salted, &identity), CHAT_ERR_MALFORMED);
    //  Over the limit: refused before any work
    char *big = malloc (IDENTITY_SEALED_MAX + 2);
    assert_non_null (big);
    memset (big, 'A', IDENTITY_SEALED_MAX + 1);
    big [IDENTITY_SEALED_MAX + 1] = 0;
    assert_int_equal (s_open (big, IDENTITY_SEALED_MAX + 1, "a", s.fresh, s.salted, &identity),
                      CHAT_ERR_MALFORMED);
    free (big);
    srand (31);
    char junk [700];
    for (int round = 0; round < 300; round++) {
        size_t len = (size_t) (rand () % (int) sizeof junk);
        for (size_t i = 0; i < len; i++)
            junk [i] = (char) (round % 2 ? rand () : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef"
                                                     "ghijklmnopqrstuvwxyz0123456789-_" [rand () % 64]);
        int rc = s_open (junk, len, "a", s.fresh, s.salted, &identity);
        assert_true (rc == CHAT_ERR_MALFORMED || rc == CHAT_ERR_BAD_MAC);
    }
}

//  ---------------------------------------------------------------- safety numbers

static bool
s_safety_shaped (const char *number)
{
    if (strlen (number) != IDENTITY_SAFETY_SIZE - 1)
        return false;
    for (int i = 0; i < IDENTITY_SAFETY_SIZE - 1; i++)
        if (i % 6 == 5 ? number [i] != ' ' : (number [i] < '0' || number [i] > '9'))
            return false;
    return true;
}

static void
test_kat_safety_number (void **state)
{
    (void) state;
    char number [IDENTITY_SAFETY_SIZE];
    assert_int_equal (identity_safety_number ("alice", s.alice, "bob", s.bob_public, number),
                      CHAT_OK);
    assert_string_equal (number, KAT_SAFETY_ALICE_BOB);
    //  Either order, any case of the names
    assert_int_equal (identity_safety_number ("bob", s.bob_public, "alice", s.alice, number),
                      CHAT_OK);
    assert_string_equal (number, KAT_SAFETY_ALICE_BOB);
    assert_int_equal (identity_safety_number ("BOB", s.bob_public, "Alice", s.alice, number),
                      CHAT_OK);
    assert_string_equal (number, KAT_SAFETY_ALICE_BOB);
    //  Ordered by lower-case names, not bytes
    assert_int_equal (identity_safety_number ("Zed", s.alice, "bob", s.bob_public, number),
                      CHAT_OK);
    assert_string_equal (number, KAT_SAFETY_ZED_BOB);
    assert_int_equal (identity_safety_number ("bob", s.bob_public, "Zed", s.alice, number),
                      CHAT_OK);
    assert_string_equal (number, KAT_SAFETY_ZED_BOB);
}

static void
test_safety_number (void **state)
{
    (void) state;
    char ab [IDENTITY_SAFETY_SIZE], ba [IDENTITY_SAFETY_SIZE], changed [IDENTITY_SAFETY_SIZE];
    assert_int_equal (identity_safety_number ("carol", s.fresh, "dave", s.other, ab), CHAT_OK);
    assert_int_equal (identity_safety_number ("dave", s.other, "carol", s.fresh, ba), CHAT_OK);
    assert_string_equal (ab, ba);
    assert_true (s_safety_shaped (ab));
    //  Either key changes it: every half moves
    assert_int_equal (identity_safety_number ("carol", s.alice, "dave", s.other, changed),
                      CHAT_OK);
    assert_true (s_safety_shaped (changed));
    assert_memory_not_equal (ab, changed, 35);
    assert_memory_equal (ab + 36, changed + 36, 35);   //  dave's half stays
    assert_int_equal (identity_safety_number ("carol", s.fresh, "dave", s.alice, changed),
                      CHAT_OK);
    assert_memory_equal (ab, changed, 35);             //  carol's half stays
    assert_memory_not_equal (ab + 36, changed + 36, 35);
    //  So does a name (the name is hashed with the key)
    assert_int_equal (identity_safety_number ("carola", s.fresh, "dave", s.other, changed),
                      CHAT_OK);
    assert_string_not_equal (ab, changed);
    //  One key under two names still gives two different halves
    assert_int_equal (identity_safety_number ("x", s.fresh, "y", s.fresh, changed), CHAT_OK);
    assert_memory_not_equal (changed, changed + 36, 35);
    //  Names that are no usernames are refused, not cut short
    char long_name [40];
    memset (long_name, 'a', 33);
    long_name [33] = 0;
    assert_int_equal (identity_safety_number (long_name, s.fresh, "dave", s.other, changed),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (identity_safety_number ("carol", s.fresh, "da ve", s.other, changed),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (identity_safety_number ("", s.fresh, "dave", s.other, changed),
                      CHAT_ERR_BAD_REQUEST);
}

//  In a Turkish locale (see testlocale.h) names still fold as ASCII: the
//  same safety number, and a sealed identity opens under any case
static void
test_locale (void **state)
{
    (void) state;
    char in_c [IDENTITY_SAFETY_SIZE], in_tr [IDENTITY_SAFETY_SIZE];
    assert_int_equal (identity_safety_number ("IVAN", s.alice, "ilse", s.bob_public, in_c),
                      CHAT_OK);
    char *sealed = NULL;
    assert_int_equal (identity_seal (s.alice, "Ivan", s.salted, NOW, &sealed), CHAT_OK);
    if (!testlocale_turkish ()) {
        free (sealed);
        fprintf (stderr, "test_locale: skipped: no tr_TR.UTF-8 locale to test in\n");
        skip ();
    }
    assert_int_equal (identity_safety_number ("IVAN", s.alice, "ilse", s.bob_public, in_tr),
                      CHAT_OK);
    rsakey_t *identity = NULL;
    int rc = s_open (sealed, strlen (sealed), "ivan", s.alice, s.salted, &identity);
    testlocale_reset ();
    assert_string_equal (in_c, in_tr);
    assert_int_equal (rc, CHAT_OK);
    rsakey_destroy (&identity);
    free (sealed);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_kat_salted_password),
        cmocka_unit_test (test_kat_open_python_sealed),
        cmocka_unit_test (test_kat_seal_key),
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_bad_contents),
        cmocka_unit_test (test_garbage),
        cmocka_unit_test (test_kat_safety_number),
        cmocka_unit_test (test_safety_number),
        cmocka_unit_test (test_locale),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
