/*  test_epochkey - epoch keys: the key check, wrapping for identity keys

    Known answers come from tests/vectors/v2/compute.py (the spec's text,
    python3-cryptography): two key checks, and a key wrapped there with
    RSA-OAEP-SHA-256 for alice.pem that unwraps here.

    This binary is linked with -Wl,--wrap=CRYPTO_memcmp (tests/CMakeLists.txt)
    so that the test can see the key check compared with OpenSSL's
    constant-time compare, over the whole check, whatever the mismatch.
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
#include "epochkey.h"
#include "rsakey.h"
#include "testvectors.h"

//  compute.py: key 00 01 .. 1f, conversation a0 a1 .. af
#define KAT_CHECK_EPOCH_1 \
    "2bfde590029eca45b0c5548cd10f238ce889e5abf1245d4615a4c0fed3fba34a"
#define KAT_CHECK_EPOCH_0102030405060708 \
    "0436253caa3d42192cac35139fbc14f9464bf0ecc9e12abeeb39bda4e563c607"

//  ---------------------------------------------------------------- the wrap

static int s_memcmp_calls;
static size_t s_memcmp_len;

int __real_CRYPTO_memcmp (const void *a, const void *b, size_t len);
int __wrap_CRYPTO_memcmp (const void *a, const void *b, size_t len);

int
__wrap_CRYPTO_memcmp (const void *a, const void *b, size_t len)
{
    s_memcmp_calls++;
    s_memcmp_len = len;
    return __real_CRYPTO_memcmp (a, b, len);
}

//  ---------------------------------------------------------------- fixture

static struct {
    rsakey_t *member;                   //  an identity key pair made here
    rsakey_t *other;
    rsakey_t *alice;                    //  tests/vectors/v2/alice.pem
    uint8_t key [EPOCHKEY_SIZE];        //  00 01 .. 1f
    uint8_t id [CONVERSATION_ID_SIZE];  //  a0 a1 .. af
} s;

static int
s_group_setup (void **state)
{
    (void) state;
    s.member = rsakey_generate (2048);
    s.other = rsakey_generate (2048);
    s.alice = rsakey_load (testvectors_path ("v2/alice.pem"));
    for (int i = 0; i < EPOCHKEY_SIZE; i++)
        s.key [i] = (uint8_t) i;
    for (int i = 0; i < CONVERSATION_ID_SIZE; i++)
        s.id [i] = (uint8_t) (0xa0 + i);
    return s.member && s.other && s.alice ? 0 : -1;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    rsakey_destroy (&s.member);
    rsakey_destroy (&s.other);
    rsakey_destroy (&s.alice);
    return 0;
}

//  ---------------------------------------------------------------- key check

static void
test_kat_check_value (void **state)
{
    (void) state;
    uint8_t check [EPOCHKEY_CHECK_SIZE], expected [EPOCHKEY_CHECK_SIZE];
    assert_int_equal (epochkey_check_value (s.key, s.id, 1, check), CHAT_OK);
    assert_int_equal (codec_unhex (KAT_CHECK_EPOCH_1, expected, sizeof expected), 0);
    assert_memory_equal (check, expected, sizeof check);
    //  The epoch is 8 bytes big-endian: every byte of it counts
    assert_int_equal (epochkey_check_value (s.key, s.id, 0x0102030405060708ULL, check), CHAT_OK);
    assert_int_equal (codec_unhex (KAT_CHECK_EPOCH_0102030405060708, expected, sizeof expected),
                      0);
    assert_memory_equal (check, expected, sizeof check);
}

static void
test_verify (void **state)
{
    (void) state;
    uint8_t check [EPOCHKEY_CHECK_SIZE];
    assert_int_equal (epochkey_check_value (s.key, s.id, 5, check), CHAT_OK);
    assert_int_equal (epochkey_verify (s.key, s.id, 5, check, sizeof check), CHAT_OK);
    //  Another epoch, conversation or key
    assert_int_equal (epochkey_verify (s.key, s.id, 4, check, sizeof check), CHAT_ERR_BAD_MAC);
    assert_int_equal (epochkey_verify (s.key, s.id, 5 | (1ULL << 63), check, sizeof check),
                      CHAT_ERR_BAD_MAC);
    uint8_t other_id [CONVERSATION_ID_SIZE];
    memcpy (other_id, s.id, sizeof other_id);
    other_id [15] ^= 1;
    assert_int_equal (epochkey_verify (s.key, other_id, 5, check, sizeof check),
                      CHAT_ERR_BAD_MAC);
    uint8_t other_key [EPOCHKEY_SIZE];
    memcpy (other_key, s.key, sizeof other_key);
    other_key [31] ^= 0x80;
    assert_int_equal (epochkey_verify (other_key, s.id, 5, check, sizeof check),
                      CHAT_ERR_BAD_MAC);
    //  Wrong lengths, none at all (a LEAVE's empty check)
    uint8_t longer [EPOCHKEY_CHECK_SIZE + 1];
    memcpy (longer, check, sizeof check);
    longer [EPOCHKEY_CHECK_SIZE] = 0;
    assert_int_equal (epochkey_verify (s.key, s.id, 5, longer, sizeof longer), CHAT_ERR_BAD_MAC);
    assert_int_equal (epochkey_verify (s.key, s.id, 5, check, sizeof check - 1),
                      CHAT_ERR_BAD_MAC);
    assert_int_equal (epochkey_verify (s.key, s.id, 5, check, 0), CHAT_ERR_BAD_MAC);
    assert_int_equal (epochkey_verify (s.key, s.id, 5, NULL, 32), CHAT_ERR_BAD_MAC);
    //  Every single bit of the check
    for (size_t bit = 0; bit < EPOCHKEY_CHECK_SIZE * 8; bit++) {
        check [bit / 8] ^= (uint8_t) (1 << (bit % 8));
        assert_int_equal (epochkey_verify (s.key, s.id, 5, check, sizeof check),
                          CHAT_ERR_BAD_MAC);
        check [bit / 8] ^= (uint8_t) (1 << (bit % 8));
    }
    assert_int_equal (epochkey_verify (s.key, s.id, 5, check, sizeof check), CHAT_OK);
}

//  The check is compared by CRYPTO_memcmp over all 32 bytes, whether the
//  first or the last byte differs (a compare that stops at the first
//  difference tells an attacker how much of a guess was right)
static void
test_verify_constant_time (void **state)
{
    (void) state;
    uint8_t check [EPOCHKEY_CHECK_SIZE];
    assert_int_equal (epochkey_check_value (s.key, s.id, 9, check), CHAT_OK);
    size_t positions [] = { 0, 15, 31 };
    for (size_t i = 0; i < 3; i++) {
        check [positions [i]] ^= 0xff;
        s_memcmp_calls = 0;
        s_memcmp_len = 0;
        assert_int_equal (epochkey_verify (s.key, s.id, 9, check, sizeof check),
                          CHAT_ERR_BAD_MAC);
        assert_int_equal (s_memcmp_calls, 1);
        assert_int_equal (s_memcmp_len, EPOCHKEY_CHECK_SIZE);
        check [positions [i]] ^= 0xff;
    }
    s_memcmp_calls = 0;
    assert_int_equal (epochkey_verify (s.key, s.id, 9, check, sizeof check), CHAT_OK);
    assert_int_equal (s_memcmp_calls, 1);
    assert_int_equal (s_memcmp_len, EPOCHKEY_CHECK_SIZE);
}

//  ---------------------------------------------------------------- wrapping

static void
test_generate (void **state)
{
    (void) state;
    uint8_t a [EPOCHKEY_SIZE], b [EPOCHKEY_SIZE], zero [EPOCHKEY_SIZE] = { 0 };
    assert_int_equal (epochkey_generate (a), CHAT_OK);
    assert_int_equal (epochkey_generate (b), CHAT_OK);
    assert_memory_not_equal (a, b, sizeof a);
    assert_memory_not_equal (a, zero, sizeof a);
}

static void
test_wrap_round_trip (void **state)
{
    (void) state;
    uint8_t key [EPOCHKEY_SIZE], out [EPOCHKEY_SIZE];
    assert_int_equal (epochkey_generate (key), CHAT_OK);
    uint8_t *wrapped, *again;
    size_t wrapped_len, again_len;
    assert_int_equal (epochkey_wrap (s.member, key, &wrapped, &wrapped_len), CHAT_OK);
    assert_int_equal (wrapped_len, 256);        //  the modulus size
    assert_int_equal (epochkey_unwrap (s.member, wrapped, wrapped_len, out), CHAT_OK);
    assert_memory_equal (out, key, sizeof key);
    //  Randomized: wrapping again gives other bytes, the same key
    assert_int_equal (epochkey_wrap (s.member, key, &again, &again_len), CHAT_OK);
    assert_memory_not_equal (wrapped, again, wrapped_len);
    memset (out, 0, sizeof out);
    assert_int_equal (epochkey_unwrap (s.member, again, again_len, out), CHAT_OK);
    assert_memory_equal (out, key, sizeof key);
    free (again);
    //  Wrapping needs only the public half
    size_t der_len;
    const uint8_t *der = rsakey_der (s.member, &der_len);
    rsakey_t *public_only = rsakey_from_der (der, der_len);
    assert_non_null (public_only);
    assert_int_equal (epochkey_wrap (public_only, key, &again, &again_len), CHAT_OK);
    assert_int_equal (epochkey_unwrap (s.member, again, again_len, out), CHAT_OK);
    assert_memory_equal (out, key, sizeof key);
    //  and unwrapping the private one
    assert_int_equal (epochkey_unwrap (public_only, again, again_len, out), CHAT_ERR_MALFORMED);
    free (again);
    rsakey_destroy (&public_only);
    free (wrapped);

    //  A 4096-bit identity: 512 bytes, the most put_keys takes
    rsakey_t *big = rsakey_generate (4096);
    assert_non_null (big);
    assert_int_equal (epochkey_wrap (big, key, &wrapped, &wrapped_len), CHAT_OK);
    assert_int_equal (wrapped_len, 512);
    assert_int_equal (epochkey_unwrap (big, wrapped, wrapped_len, out), CHAT_OK);
    assert_memory_equal (out, key, sizeof key);
    free (wrapped);
    rsakey_destroy (&big);
}

static void
test_unwrap_refusals (void **state)
{
    (void) state;
    uint8_t key [EPOCHKEY_SIZE], out [EPOCHKEY_SIZE], untouched [EPOCHKEY_SIZE];
    assert_int_equal (epochkey_generate (key), CHAT_OK);
    memset (out, 0x5a, sizeof out);
    memcpy (untouched, out, sizeof out);
    uint8_t *wrapped;
    size_t wrapped_len;
    assert_int_equal (epochkey_wrap (s.member, key, &wrapped, &wrapped_len), CHAT_OK);
    //  Another member's key
    assert_int_equal (epochkey_unwrap (s.other, wrapped, wrapped_len, out), CHAT_ERR_MALFORMED);
    //  Wrong lengths
    assert_int_equal (epochkey_unwrap (s.member, wrapped, wrapped_len - 1, out),
                      CHAT_ERR_MALFORMED);
    uint8_t *longer = calloc (1, wrapped_len + 1);
    assert_non_null (longer);
    memcpy (longer, wrapped, wrapped_len);
    assert_int_equal (epochkey_unwrap (s.member, longer, wrapped_len + 1, out),
                      CHAT_ERR_MALFORMED);
    memcpy (longer + 1, wrapped, wrapped_len);
    assert_int_equal (epochkey_unwrap (s.member, longer, wrapped_len + 1, out),
                      CHAT_ERR_MALFORMED);
    free (longer);
    assert_int_equal (epochkey_unwrap (s.member, wrapped, 0, out), CHAT_ERR_MALFORMED);
    assert_int_equal (epochkey_unwrap (s.member, NULL, wrapped_len, out), CHAT_ERR_MALFORMED);
    //  Bits flipped anywhere
    for (size_t i = 0; i < wrapped_len; i += 17) {
        wrapped [i] ^= 0x01;
        assert_int_equal (epochkey_unwrap (s.member, wrapped, wrapped_len, out),
                          CHAT_ERR_MALFORMED);
        wrapped [i] ^= 0x01;
    }
    free (wrapped);
    //  Genuine OAEP of something that is not 32 bytes
    size_t sizes [] = { 0, 1, 31, 33, 64 };
    uint8_t plain [64] = { 0 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes [0]; i++) {
        assert_int_equal (rsakey_encrypt (s.member, plain, sizes [i], &wrapped, &wrapped_len),
                          CHAT_OK);
        assert_int_equal (epochkey_unwrap (s.member, wrapped, wrapped_len, out),
                          CHAT_ERR_MALFORMED);
        free (wrapped);
    }
    //  Nothing refused ever wrote the output
    assert_memory_equal (out, untouched, sizeof out);
}

//  Wrapped by compute.py (python3-cryptography, OAEP SHA-256/MGF1-SHA-256,
//  no label) for alice.pem: unwraps to 00 01 .. 1f, whose key check is the
//  known one
static void
test_kat_unwrap_python (void **state)
{
    (void) state;
    size_t len;
    uint8_t *wrapped = testvectors_read_hex ("v2/wrapped_alice.hex", &len);
    assert_non_null (wrapped);
    assert_int_equal (len, 256);
    uint8_t out [EPOCHKEY_SIZE];
    assert_int_equal (epochkey_unwrap (s.alice, wrapped, len, out), CHAT_OK);
    assert_memory_equal (out, s.key, sizeof out);
    uint8_t expected [EPOCHKEY_CHECK_SIZE];
    assert_int_equal (codec_unhex (KAT_CHECK_EPOCH_1, expected, sizeof expected), 0);
    assert_int_equal (epochkey_verify (out, s.id, 1, expected, sizeof expected), CHAT_OK);
    assert_int_equal (epochkey_unwrap (s.member, wrapped, len, out), CHAT_ERR_MALFORMED);
    free (wrapped);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_kat_check_value),
        cmocka_unit_test (test_verify),
        cmocka_unit_test (test_verify_constant_time),
        cmocka_unit_test (test_generate),
        cmocka_unit_test (test_wrap_round_trip),
        cmocka_unit_test (test_unwrap_refusals),
        cmocka_unit_test (test_kat_unwrap_python),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
