/*  test_codec - base64, base64url and hex  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "codec.h"

//  RFC 4648 section 10 vectors.
static const char *s_plain [] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
static const char *s_b64 [] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
static const char *s_nopad [] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };

static void
test_rfc4648 (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof s_plain / sizeof s_plain [0]; i++) {
        const uint8_t *in = (const uint8_t *) s_plain [i];
        size_t in_len = strlen (s_plain [i]);
        char *b64 = codec_b64_encode (in, in_len);
        assert_non_null (b64);
        assert_string_equal (b64, s_b64 [i]);
        free (b64);

        char *url = codec_b64url_encode (in, in_len);
        assert_non_null (url);
        assert_string_equal (url, s_b64 [i]);   //  no '+' or '/' in these

        uint8_t *out = NULL;
        size_t out_len = 99;
        assert_int_equal (codec_b64url_decode (url, strlen (url), &out, &out_len), 0);
        assert_non_null (out);
        assert_int_equal (out_len, in_len);
        assert_memory_equal (out, in, in_len);
        free (out);
        free (url);

        char *nopad = codec_b64_nopad (in, in_len);
        assert_non_null (nopad);
        assert_string_equal (nopad, s_nopad [i]);
        free (nopad);
    }
}

static void
test_url_alphabet (void **state)
{
    (void) state;
    //  These bytes are all 62s: "++++" in the standard alphabet.
    const uint8_t data [] = { 0xfb, 0xef, 0xbe, 0xfb, 0xef, 0xbe };
    char *std = codec_b64_encode (data, sizeof data);
    char *url = codec_b64url_encode (data, sizeof data);
    assert_string_equal (std, "++++++++");
    assert_string_equal (url, "--------");
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal (codec_b64url_decode (url, strlen (url), &out, &out_len), 0);
    assert_int_equal (out_len, sizeof data);
    assert_memory_equal (out, data, sizeof data);
    free (out);
    //  The standard alphabet's '+' is not url-safe base64.
    out = (uint8_t *) 1;
    assert_int_equal (codec_b64url_decode (std, strlen (std), &out, &out_len), -1);
    assert_null (out);
    free (std);
    free (url);

    const uint8_t slash [] = { 0xff, 0xff, 0xff };
    url = codec_b64url_encode (slash, sizeof slash);
    assert_string_equal (url, "____");
    free (url);
}

static void
test_all_bytes_round_trip (void **state)
{
    (void) state;
    uint8_t data [256 + 2];
    for (size_t i = 0; i < sizeof data; i++)
        data [i] = (uint8_t) (i * 7 + 3);
    for (size_t len = 0; len <= sizeof data; len++) {
        char *url = codec_b64url_encode (data, len);
        assert_non_null (url);
        assert_int_equal (strlen (url), 4 * ((len + 2) / 3));
        assert_null (strpbrk (url, "+/"));
        uint8_t *out = NULL;
        size_t out_len = 0;
        assert_int_equal (codec_b64url_decode (url, strlen (url), &out, &out_len), 0);
        assert_int_equal (out_len, len);
        if (len)
            assert_memory_equal (out, data, len);
        free (out);
        free (url);
    }
}

static void
test_decode_rejects (void **state)
{
    (void) state;
    static const char *bad [] = {
        "Zg",           //  padding missing
        "Zg=",          //  length not a multiple of 4
        "Zm9",
        "Z===",         //  three '='
        "====",
        "Zg==Zg==",     //  padding in the middle
        "Z=g=",
        "Zm9v Zm9v",
        "Zm9v\n",
        " Zm9v",
        "Zm9vYg==\n",
        "Zm+v",         //  standard alphabet
        "Zm/v",
        "Zm%v",
        "Zm.v",
        "Zh==",         //  non-zero bits under the padding
        "Zm9=",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        uint8_t *out = (uint8_t *) 1;
        size_t out_len = 77;
        int rc = codec_b64url_decode (bad [i], strlen (bad [i]), &out, &out_len);
        if (rc != -1)
            fail_msg ("accepted '%s'", bad [i]);
        assert_null (out);
        assert_int_equal (out_len, 0);
    }
    //  An embedded NUL is not part of the alphabet either.
    uint8_t *out = NULL;
    size_t out_len = 0;
    assert_int_equal (codec_b64url_decode ("Zm\0v", 4, &out, &out_len), -1);
    //  text_len is honoured: the first four characters alone are fine.
    assert_int_equal (codec_b64url_decode ("Zm9vXXX", 4, &out, &out_len), 0);
    assert_int_equal (out_len, 3);
    assert_memory_equal (out, "foo", 3);
    free (out);
}

static void
test_hex (void **state)
{
    (void) state;
    const uint8_t data [] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
    char *hex = codec_hex (data, sizeof data);
    assert_string_equal (hex, "00017f80abff");
    uint8_t out [sizeof data];
    assert_int_equal (codec_unhex (hex, out, sizeof out), 0);
    assert_memory_equal (out, data, sizeof data);
    free (hex);
    assert_int_equal (codec_unhex ("00017F80ABFF", out, sizeof out), 0);
    assert_memory_equal (out, data, sizeof data);

    char *empty = codec_hex (data, 0);
    assert_string_equal (empty, "");
    free (empty);

    assert_int_equal (codec_unhex ("00017f80abf", out, sizeof out), -1);     //  short
    assert_int_equal (codec_unhex ("00017f80abff0", out, sizeof out), -1);   //  long
    assert_int_equal (codec_unhex ("00017f80abfg", out, sizeof out), -1);
    assert_int_equal (codec_unhex ("0x017f80abff", out, sizeof out), -1);
    assert_int_equal (codec_unhex (" 0017f80abff", out, sizeof out), -1);
    assert_int_equal (codec_unhex ("", out, 0), 0);
}

//  A code point as UTF-8 (RFC 3629 section 3), for the test below
static size_t
s_utf8_encode (uint32_t cp, uint8_t out [4])
{
    if (cp < 0x80) {
        out [0] = (uint8_t) cp;
        return 1;
    }
    if (cp < 0x800) {
        out [0] = (uint8_t) (0xC0 | cp >> 6);
        out [1] = (uint8_t) (0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out [0] = (uint8_t) (0xE0 | cp >> 12);
        out [1] = (uint8_t) (0x80 | (cp >> 6 & 0x3F));
        out [2] = (uint8_t) (0x80 | (cp & 0x3F));
        return 3;
    }
    out [0] = (uint8_t) (0xF0 | cp >> 18);
    out [1] = (uint8_t) (0x80 | (cp >> 12 & 0x3F));
    out [2] = (uint8_t) (0x80 | (cp >> 6 & 0x3F));
    out [3] = (uint8_t) (0x80 | (cp & 0x3F));
    return 4;
}

static void
test_utf8 (void **state)
{
    (void) state;
    //  Every code point but NUL and the surrogates, alone and after text
    uint8_t buf [8] = "ab";
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        size_t len = s_utf8_encode (cp, buf + 2);
        int expected = cp != 0 && (cp < 0xD800 || cp > 0xDFFF);
        assert_int_equal (codec_utf8_valid (buf + 2, len), expected);
        assert_int_equal (codec_utf8_valid (buf, len + 2), expected);
        //  cut short: never valid (a lone lead byte)
        if (len > 1)
            assert_false (codec_utf8_valid (buf + 2, len - 1));
    }
    const char *bad [] = {
        "\x80", "\xbf", "\xc0\x80", "\xc1\xbf",           //  continuation, overlong
        "\xe0\x80\x80", "\xe0\x9f\xbf",                   //  overlong 3-byte
        "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf",         //  overlong 4-byte
        "\xed\xa0\x80", "\xed\xbf\xbf",                   //  surrogates
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",         //  above U+10FFFF
        "\xf8\x88\x80\x80\x80", "\xfe", "\xff",
        "\xc3\x28", "\xe2\x28\xa1", "\xe2\x82\x28", "\xf0\x28\x8c\xbc",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++)
        assert_false (codec_utf8_valid ((const uint8_t *) bad [i], strlen (bad [i])));
    assert_false (codec_utf8_valid ((const uint8_t *) "a\0b", 3));
    assert_true (codec_utf8_valid ((const uint8_t *) "", 0));
    const char *good = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
    assert_true (codec_utf8_valid ((const uint8_t *) good, strlen (good)));
    assert_false (codec_utf8_valid ((const uint8_t *) good, strlen (good) - 1));
}

//  The caller's-buffer forms against the malloc'd ones, across the decoder's
//  1024-character chunks, with every padding; a prefix decodes alone.
static void
test_into_buffers (void **state)
{
    (void) state;
    static uint8_t data [3100];
    for (size_t i = 0; i < sizeof data; i++)
        data [i] = (uint8_t) (i * 151 + (i >> 3));
    static char text [4 * (sizeof data + 2) / 3 + 8];
    static uint8_t back [sizeof data];
    //  Every length near a chunk boundary (768, 1536, 2304 bytes), some
    //  in between.
    for (size_t len = 0; len <= sizeof data; len++) {
        size_t near = len % 768;
        if (len > 20 && near > 8 && near < 760 && len % 97 != 0)
            continue;
        size_t text_len = 4 * ((len + 2) / 3);
        //  One byte short of room: refused, nothing written past it.
        assert_int_equal (codec_b64url_encode_into (data, len, text, text_len), -1);
        assert_int_equal (codec_b64url_encode_into (data, len, text, text_len + 1), 0);
        char *url = codec_b64url_encode (data, len);
        assert_string_equal (text, url);
        free (url);
        size_t out_len = 0;
        assert_int_equal (codec_b64url_check (text, text_len, &out_len), 0);
        assert_int_equal (out_len, len);
        if (len > 0)
            assert_int_equal (codec_b64url_decode_into (text, text_len, back, len - 1,
                                                        &out_len), -1);
        assert_int_equal (codec_b64url_decode_into (text, text_len, back, len, &out_len), 0);
        assert_int_equal (out_len, len);
        if (len)
            assert_memory_equal (back, data, len);
        if (len >= 9) {             //  12 characters, no padding among them
            uint8_t head [9];
            assert_int_equal (codec_b64url_decode_into (text, 12, head, sizeof head,
                                                        &out_len), 0);
            assert_int_equal (out_len, 9);
            assert_memory_equal (head, data, 9);
        }
        //  A bad character anywhere, even in a later chunk, is refused.
        if (text_len > 4) {
            char saved = text [text_len - 5];
            text [text_len - 5] = '+';
            assert_int_equal (codec_b64url_check (text, text_len, &out_len), -1);
            assert_int_equal (codec_b64url_decode_into (text, text_len, back, sizeof back,
                                                        &out_len), -1);
            text [text_len - 5] = saved;
        }
    }
    size_t out_len = 0;
    assert_int_equal (codec_b64url_check ("Zg=", 3, &out_len), -1);
    assert_int_equal (codec_b64url_check ("Zh==", 4, &out_len), -1);
    assert_int_equal (codec_b64url_check (NULL, 0, &out_len), -1);
    assert_int_equal (codec_b64url_decode_into ("Zm9v", 4, NULL, 3, &out_len), -1);
    assert_int_equal (codec_b64url_encode_into (NULL, 1, text, sizeof text), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_rfc4648),
        cmocka_unit_test (test_url_alphabet),
        cmocka_unit_test (test_all_bytes_round_trip),
        cmocka_unit_test (test_decode_rejects),
        cmocka_unit_test (test_into_buffers),
        cmocka_unit_test (test_hex),
        cmocka_unit_test (test_utf8),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
