/*  test_fernet - the spec's vectors, read from $CHAT_VECTORS_DIR/fernet, and
    everything a hostile peer could send
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chaterror.h"
#include "codec.h"
#include "fernet.h"

//  ---------------------------------------------------------------------
//  A reader for the vector files: a JSON array of flat objects whose
//  values are strings, integers or arrays of integers. Nothing else is
//  needed, so nothing else is accepted.

#define VEC_MAX 32
#define VEC_TEXT 512

typedef struct {
    char desc [VEC_TEXT];
    char token [VEC_TEXT];
    char now [VEC_TEXT];
    char src [VEC_TEXT];
    char secret [VEC_TEXT];
    long ttl_sec;
    int has_ttl;
    uint8_t iv [16];
    int iv_len;
} vector_t;

typedef struct {
    const char *p;
    const char *end;
} reader_t;

static void
s_skip_ws (reader_t *r)
{
    while (r->p < r->end && isspace ((unsigned char) *r->p))
        r->p++;
}

static int
s_expect (reader_t *r, char c)
{
    s_skip_ws (r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return 0;
    }
    return -1;
}

static int
s_peek (reader_t *r)
{
    s_skip_ws (r);
    return r->p < r->end? (unsigned char) *r->p: -1;
}

//  A string into out (simple escapes only; \u for ASCII).
static int
s_string (reader_t *r, char *out, size_t size)
{
    if (s_expect (r, '"'))
        return -1;
    size_t n = 0;
    while (r->p < r->end && *r->p != '"') {
        char c = *r->p++;
        if (c == '\\') {
            if (r->p >= r->end)
                return -1;
            char e = *r->p++;
            switch (e) {
                case '"': case '\\': case '/': c = e; break;
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case 'u': {
                    unsigned v;
                    if (r->end - r->p < 4 || sscanf (r->p, "%4x", &v) != 1 || v > 0x7f)
                        return -1;
                    r->p += 4;
                    c = (char) v;
                    break;
                }
                default: return -1;
            }
        }
        if (n + 1 >= size)
            return -1;
        out [n++] = c;
    }
    if (r->p >= r->end)
        return -1;
    r->p++;
    out [n] = '\0';
    return 0;
}

static int
s_integer (reader_t *r, long *value)
{
    s_skip_ws (r);
    char *end = NULL;
    long v = strtol (r->p, &end, 10);
    if (end == r->p || end > r->end)
        return -1;
    r->p = end;
    *value = v;
    return 0;
}

//  Reads the file at $CHAT_VECTORS_DIR/fernet/name; returns the count.
static int
s_load_vectors (const char *name, vector_t *vec, int max)
{
    const char *dir = getenv ("CHAT_VECTORS_DIR");
    if (!dir)
        fail_msg ("CHAT_VECTORS_DIR is not set (ctest sets it)");
    char path [1024];
    snprintf (path, sizeof path, "%s/fernet/%s", dir, name);
    FILE *file = fopen (path, "rb");
    if (!file)
        fail_msg ("cannot open %s", path);
    static char text [1 << 16];
    size_t len = fread (text, 1, sizeof text - 1, file);
    fclose (file);
    text [len] = '\0';

    reader_t r = { text, text + len };
    int count = 0;
    assert_int_equal (s_expect (&r, '['), 0);
    while (s_peek (&r) == '{') {
        assert_true (count < max);
        vector_t *v = &vec [count++];
        memset (v, 0, sizeof *v);
        r.p++;
        while (s_peek (&r) == '"') {
            char key [64];
            assert_int_equal (s_string (&r, key, sizeof key), 0);
            assert_int_equal (s_expect (&r, ':'), 0);
            char *field = strcmp (key, "desc") == 0? v->desc
                        : strcmp (key, "token") == 0? v->token
                        : strcmp (key, "now") == 0? v->now
                        : strcmp (key, "src") == 0? v->src
                        : strcmp (key, "secret") == 0? v->secret
                        : NULL;
            if (field)
                assert_int_equal (s_string (&r, field, VEC_TEXT), 0);
            else
            if (strcmp (key, "ttl_sec") == 0) {
                assert_int_equal (s_integer (&r, &v->ttl_sec), 0);
                v->has_ttl = 1;
            }
            else
            if (strcmp (key, "iv") == 0) {
                assert_int_equal (s_expect (&r, '['), 0);
                while (s_peek (&r) != ']') {
                    long byte = -1;
                    assert_int_equal (s_integer (&r, &byte), 0);
                    assert_true (byte >= 0 && byte <= 255 && v->iv_len < 16);
                    v->iv [v->iv_len++] = (uint8_t) byte;
                    if (s_peek (&r) == ',')
                        r.p++;
                }
                r.p++;
            }
            else
                fail_msg ("%s: unexpected field '%s'", name, key);
            if (s_peek (&r) == ',')
                r.p++;
        }
        assert_int_equal (s_expect (&r, '}'), 0);
        if (s_peek (&r) == ',')
            r.p++;
    }
    assert_int_equal (s_expect (&r, ']'), 0);
    s_skip_ws (&r);
    assert_true (r.p == r.end);
    assert_true (count > 0);
    return count;
}

//  RFC 3339 with a numeric offset or Z, to unix seconds.
static int64_t
s_rfc3339 (const char *text)
{
    int year, mon, day, hour, min, sec, consumed = 0;
    if (sscanf (text, "%4d-%2d-%2dT%2d:%2d:%2d%n",
                &year, &mon, &day, &hour, &min, &sec, &consumed) != 6)
        fail_msg ("bad time '%s'", text);
    const char *zone = text + consumed;
    int offset = 0;
    if (strcmp (zone, "Z") != 0) {
        int oh, om;
        char sign;
        if (sscanf (zone, "%c%2d:%2d", &sign, &oh, &om) != 3 || (sign != '+' && sign != '-'))
            fail_msg ("bad offset '%s'", text);
        offset = (sign == '-'? -1: 1) * (oh * 3600 + om * 60);
    }
    struct tm tm = { .tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                     .tm_hour = hour, .tm_min = min, .tm_sec = sec };
    //  Local time at +offset is UTC plus offset.
    return (int64_t) timegm (&tm) - offset;
}

static void
s_key (const char *text, uint8_t key [FERNET_KEY_SIZE])
{
    assert_int_equal (fernet_key_decode (text, key), 0);
}

//  ---------------------------------------------------------------------

static void
test_time_parser (void **state)
{
    (void) state;
    assert_int_equal (s_rfc3339 ("1970-01-01T00:00:00Z"), 0);
    assert_int_equal (s_rfc3339 ("1985-10-26T01:20:00-07:00"), 499162800);
    assert_int_equal (s_rfc3339 ("1985-10-26T10:20:00+02:00"), 499162800);
}

static void
test_spec_generate (void **state)
{
    (void) state;
    vector_t vec [VEC_MAX];
    int count = s_load_vectors ("generate.json", vec, VEC_MAX);
    for (int i = 0; i < count; i++) {
        uint8_t key [FERNET_KEY_SIZE];
        s_key (vec [i].secret, key);
        assert_int_equal (vec [i].iv_len, 16);
        char *token = NULL;
        assert_int_equal (fernet_encrypt_iv (key, (const uint8_t *) vec [i].src,
                                             strlen (vec [i].src), s_rfc3339 (vec [i].now),
                                             vec [i].iv, &token), CHAT_OK);
        assert_string_equal (token, vec [i].token);
        assert_int_equal (fernet_token_timestamp (token, strlen (token)),
                          s_rfc3339 (vec [i].now));
        free (token);
    }
}

static void
test_spec_verify (void **state)
{
    (void) state;
    vector_t vec [VEC_MAX];
    int count = s_load_vectors ("verify.json", vec, VEC_MAX);
    for (int i = 0; i < count; i++) {
        uint8_t key [FERNET_KEY_SIZE];
        s_key (vec [i].secret, key);
        assert_true (vec [i].has_ttl);
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        assert_int_equal (fernet_decrypt (key, vec [i].token, strlen (vec [i].token),
                                          vec [i].ttl_sec, s_rfc3339 (vec [i].now),
                                          &plain, &plain_len), CHAT_OK);
        assert_int_equal (plain_len, strlen (vec [i].src));
        assert_memory_equal (plain, vec [i].src, plain_len);
        assert_int_equal (plain [plain_len], '\0');
        free (plain);
    }
}

static void
test_spec_invalid (void **state)
{
    (void) state;
    static const struct {
        const char *desc;
        int code;
    } expect [] = {
        { "incorrect mac", CHAT_ERR_BAD_MAC },
        { "too short", CHAT_ERR_MALFORMED },
        { "invalid base64", CHAT_ERR_MALFORMED },
        { "payload size not multiple of block size", CHAT_ERR_MALFORMED },
        { "payload padding error", CHAT_ERR_MALFORMED },
        { "far-future TS (unacceptable clock skew)", CHAT_ERR_FUTURE },
        { "expired TTL", CHAT_ERR_EXPIRED },
        { "incorrect IV (causes padding error)", CHAT_ERR_MALFORMED },
    };
    const int cases = (int) (sizeof expect / sizeof expect [0]);
    int seen [sizeof expect / sizeof expect [0]] = { 0 };

    vector_t vec [VEC_MAX];
    int count = s_load_vectors ("invalid.json", vec, VEC_MAX);
    assert_int_equal (count, cases);
    for (int i = 0; i < count; i++) {
        int which = -1;
        for (int j = 0; j < cases; j++)
            if (strcmp (vec [i].desc, expect [j].desc) == 0)
                which = j;
        if (which < 0)
            fail_msg ("no expected code for '%s'", vec [i].desc);
        seen [which]++;

        uint8_t key [FERNET_KEY_SIZE];
        s_key (vec [i].secret, key);
        assert_true (vec [i].has_ttl);
        uint8_t *plain = (uint8_t *) 1;
        size_t plain_len = 5;
        int rc = fernet_decrypt (key, vec [i].token, strlen (vec [i].token),
                                 vec [i].ttl_sec, s_rfc3339 (vec [i].now),
                                 &plain, &plain_len);
        if (rc != expect [which].code)
            fail_msg ("'%s': got %s, want %s", vec [i].desc,
                      chat_errname (rc), chat_errname (expect [which].code));
        assert_null (plain);
        assert_int_equal (plain_len, 0);
    }
    for (int j = 0; j < cases; j++)
        assert_int_equal (seen [j], 1);
}

static void
test_round_trip (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    uint8_t data [100];
    for (size_t i = 0; i < sizeof data; i++)
        data [i] = (uint8_t) (255 - i);
    const int64_t now = 1700000000;
    for (size_t len = 0; len <= sizeof data; len++) {
        char *token = NULL;
        assert_int_equal (fernet_encrypt (key, data, len, now, &token), CHAT_OK);
        //  Version, stamp, IV, whole blocks of PKCS7, HMAC.
        size_t raw = 1 + 8 + 16 + (len / 16 + 1) * 16 + 32;
        assert_int_equal (strlen (token), 4 * ((raw + 2) / 3));
        assert_int_equal (fernet_token_timestamp (token, strlen (token)), now);
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        assert_int_equal (fernet_decrypt (key, token, strlen (token), 60, now + 5,
                                          &plain, &plain_len), CHAT_OK);
        assert_int_equal (plain_len, len);
        if (len)
            assert_memory_equal (plain, data, len);
        free (plain);
        free (token);
    }
}

static void
test_fresh_iv (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    char *one = NULL, *two = NULL;
    assert_int_equal (fernet_encrypt (key, (const uint8_t *) "same", 4, 1, &one), CHAT_OK);
    assert_int_equal (fernet_encrypt (key, (const uint8_t *) "same", 4, 1, &two), CHAT_OK);
    assert_string_not_equal (one, two);
    free (one);
    free (two);
}

static void
test_empty_plaintext (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    char *token = NULL;
    assert_int_equal (fernet_encrypt (key, NULL, 0, 1000, &token), CHAT_OK);
    uint8_t *plain = NULL;
    size_t plain_len = 9;
    assert_int_equal (fernet_decrypt (key, token, strlen (token), 0, 1000,
                                      &plain, &plain_len), CHAT_OK);
    assert_non_null (plain);
    assert_int_equal (plain_len, 0);
    assert_int_equal (plain [0], '\0');
    free (plain);
    free (token);
}

static void
test_large_plaintext (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    size_t len = 200 * 1024;
    uint8_t *data = malloc (len);
    assert_non_null (data);
    for (size_t i = 0; i < len; i++)
        data [i] = (uint8_t) (i * 31 + (i >> 8));
    char *token = NULL;
    assert_int_equal (fernet_encrypt (key, data, len, 5000, &token), CHAT_OK);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    assert_int_equal (fernet_decrypt (key, token, strlen (token), 0, 5000,
                                      &plain, &plain_len), CHAT_OK);
    assert_int_equal (plain_len, len);
    assert_memory_equal (plain, data, len);
    free (plain);
    free (token);
    free (data);
}

static void
test_wrong_key (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE], other [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    memcpy (other, key, sizeof key);
    char *token = NULL;
    assert_int_equal (fernet_encrypt (key, (const uint8_t *) "hi", 2, 10, &token), CHAT_OK);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    //  Either half of the key wrong: the signing half fails the HMAC;
    //  the encryption half alone cannot be detected before decryption,
    //  but it is never reported as success with the right plaintext.
    other [0] ^= 1;
    assert_int_equal (fernet_decrypt (other, token, strlen (token), 0, 10,
                                      &plain, &plain_len), CHAT_ERR_BAD_MAC);
    assert_null (plain);
    memcpy (other, key, sizeof key);
    other [FERNET_KEY_SIZE - 1] ^= 1;
    int rc = fernet_decrypt (other, token, strlen (token), 0, 10, &plain, &plain_len);
    if (rc == CHAT_OK) {
        assert_false (plain_len == 2 && memcmp (plain, "hi", 2) == 0);
        free (plain);
    }
    else
        assert_int_equal (rc, CHAT_ERR_MALFORMED);
    free (token);
}

static void
test_clock (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    const int64_t stamp = 1600000000;
    char *token = NULL;
    assert_int_equal (fernet_encrypt (key, (const uint8_t *) "t", 1, stamp, &token), CHAT_OK);
    size_t len = strlen (token);
    static const struct {
        int64_t ttl;
        int64_t now;
        int code;
    } cases [] = {
        { 60, stamp, CHAT_OK },
        { 60, stamp + 60, CHAT_OK },                //  stamp + ttl == now
        { 60, stamp + 61, CHAT_ERR_EXPIRED },
        { 1, stamp + 100000, CHAT_ERR_EXPIRED },
        { INT64_MAX, stamp + 1, CHAT_OK },          //  no overflow
        { 60, stamp - FERNET_MAX_CLOCK_SKEW, CHAT_OK },
        { 60, stamp - FERNET_MAX_CLOCK_SKEW - 1, CHAT_ERR_FUTURE },
        { 60, 0, CHAT_ERR_FUTURE },
        { 60, INT64_MIN, CHAT_ERR_FUTURE },
        { 60, INT64_MAX, CHAT_ERR_EXPIRED },
        //  No ttl: stored messages stay readable whatever the clocks say.
        { 0, stamp + 100000000, CHAT_OK },
        { -1, stamp + 100000000, CHAT_OK },
        { 0, 0, CHAT_OK },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        int rc = fernet_decrypt (key, token, len, cases [i].ttl, cases [i].now,
                                 &plain, &plain_len);
        if (rc != cases [i].code)
            fail_msg ("case %zu: got %s, want %s", i, chat_errname (rc),
                      chat_errname (cases [i].code));
        free (plain);
    }
    free (token);
}

//  Flip one bit in every byte of the decoded token: the version byte is
//  malformed, everything else is caught by the HMAC.
static void
test_tamper_every_byte (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    char *token = NULL;
    assert_int_equal (fernet_encrypt (key, (const uint8_t *) "attack at dawn!!!", 17,
                                      777, &token), CHAT_OK);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    assert_int_equal (codec_b64url_decode (token, strlen (token), &raw, &raw_len), 0);
    assert_int_equal (raw_len, 1 + 8 + 16 + 32 + 32);
    for (size_t i = 0; i < raw_len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            raw [i] ^= (uint8_t) (1 << bit);
            char *bad = codec_b64url_encode (raw, raw_len);
            raw [i] ^= (uint8_t) (1 << bit);
            uint8_t *plain = NULL;
            size_t plain_len = 0;
            int rc = fernet_decrypt (key, bad, strlen (bad), 0, 777, &plain, &plain_len);
            int want = i == 0? CHAT_ERR_MALFORMED: CHAT_ERR_BAD_MAC;
            if (rc != want)
                fail_msg ("byte %zu bit %d: got %s", i, bit, chat_errname (rc));
            assert_null (plain);
            free (bad);
        }
    }
    free (raw);
    free (token);
}

static void
test_truncated (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    char *token = NULL;
    assert_int_equal (fernet_encrypt (key, (const uint8_t *) "0123456789abcdef0123", 20,
                                      42, &token), CHAT_OK);
    size_t len = strlen (token);
    //  Every prefix of the text.
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        int rc = fernet_decrypt (key, token, cut, 0, 42, &plain, &plain_len);
        if (rc != CHAT_ERR_MALFORMED && rc != CHAT_ERR_BAD_MAC)
            fail_msg ("prefix %zu: got %s", cut, chat_errname (rc));
        assert_null (plain);
        fernet_token_timestamp (token, cut);
    }
    //  Every prefix of the bytes, re-encoded (so the base64 is valid).
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    assert_int_equal (codec_b64url_decode (token, len, &raw, &raw_len), 0);
    for (size_t cut = 0; cut < raw_len; cut++) {
        char *bad = codec_b64url_encode (raw, cut);
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        int rc = fernet_decrypt (key, bad, strlen (bad), 0, 42, &plain, &plain_len);
        //  Too short or not whole blocks is malformed; a cut that leaves
        //  whole blocks fails the HMAC.
        if (rc != CHAT_ERR_MALFORMED && rc != CHAT_ERR_BAD_MAC)
            fail_msg ("raw prefix %zu: got %s", cut, chat_errname (rc));
        if (cut < 1 + 8 + 16 + 16 + 32)
            assert_int_equal (rc, CHAT_ERR_MALFORMED);
        assert_null (plain);
        free (bad);
    }
    free (raw);
    free (token);
}

static void
test_oversized (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE] = { 0 };
    size_t len = 8 * 1024 * 1024 + 4;
    char *huge = malloc (len + 1);
    assert_non_null (huge);
    memset (huge, 'A', len);
    huge [0] = 'g';
    huge [len] = '\0';
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    assert_int_equal (fernet_decrypt (key, huge, len, 0, 0, &plain, &plain_len),
                      CHAT_ERR_MALFORMED);
    assert_null (plain);
    assert_int_equal (fernet_token_timestamp (huge, len), -1);
    free (huge);
    assert_int_equal (fernet_decrypt (key, NULL, 0, 0, 0, &plain, &plain_len),
                      CHAT_ERR_MALFORMED);
}

//  xorshift64*: a fixed seed so a failure can be reproduced.
static uint64_t s_rng = 0x9E3779B97F4A7C15ull;
static uint64_t
s_next (void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 0x2545F4914F6CDD1Dull;
}

static void
test_random_garbage (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    for (size_t i = 0; i < sizeof key; i++)
        key [i] = (uint8_t) s_next ();
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ %\n";
    char text [400];
    uint8_t raw [300];
    for (int round = 0; round < 3000; round++) {
        //  Text drawn mostly from the alphabet, any length.
        size_t len = (size_t) (s_next () % sizeof text);
        for (size_t i = 0; i < len; i++) {
            uint64_t r = s_next ();
            text [i] = (r & 0xF0) == 0? (char) (r >> 8): alphabet [(r >> 8) % (sizeof alphabet - 1)];
        }
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        int rc = fernet_decrypt (key, text, len, 60, 1000, &plain, &plain_len);
        assert_int_not_equal (rc, CHAT_OK);
        assert_null (plain);
        fernet_token_timestamp (text, len);

        //  Valid base64 of random bytes that start like a token.
        size_t raw_len = (size_t) (s_next () % sizeof raw);
        for (size_t i = 0; i < raw_len; i++)
            raw [i] = (uint8_t) s_next ();
        if (raw_len > 0)
            raw [0] = 0x80;
        char *token = codec_b64url_encode (raw, raw_len);
        rc = fernet_decrypt (key, token, strlen (token), 60, 1000, &plain, &plain_len);
        //  A random stamp is mostly outside the ttl: refused before the HMAC.
        if (rc != CHAT_ERR_MALFORMED && rc != CHAT_ERR_BAD_MAC
        &&  rc != CHAT_ERR_EXPIRED && rc != CHAT_ERR_FUTURE)
            fail_msg ("round %d: got %s", round, chat_errname (rc));
        assert_null (plain);
        //  With no ttl the stamp is not looked at: the HMAC refuses.
        rc = fernet_decrypt (key, token, strlen (token), 0, 1000, &plain, &plain_len);
        if (rc != CHAT_ERR_MALFORMED && rc != CHAT_ERR_BAD_MAC)
            fail_msg ("round %d, no ttl: got %s", round, chat_errname (rc));
        assert_null (plain);
        fernet_token_timestamp (token, strlen (token));
        free (token);
    }
}

static void
test_token_timestamp (void **state)
{
    (void) state;
    assert_int_equal (fernet_token_timestamp ("", 0), -1);
    assert_int_equal (fernet_token_timestamp ("hello", 5), -1);
    assert_int_equal (fernet_token_timestamp (NULL, 0), -1);
    uint8_t key [FERNET_KEY_SIZE] = { 1 };
    char *token = NULL;
    assert_int_equal (fernet_encrypt (key, (const uint8_t *) "x", 1, 0, &token), CHAT_OK);
    assert_int_equal (fernet_token_timestamp (token, strlen (token)), 0);
    free (token);
    assert_int_equal (fernet_encrypt (key, (const uint8_t *) "x", 1, INT64_MAX, &token), CHAT_OK);
    assert_int_equal (fernet_token_timestamp (token, strlen (token)), INT64_MAX);
    //  Not a token: wrong version byte.
    token [0] = 'A';
    assert_int_equal (fernet_token_timestamp (token, strlen (token)), -1);
    free (token);
}

static void
test_key_text (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE], back [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    char *text = fernet_key_encode (key);
    assert_non_null (text);
    assert_int_equal (strlen (text), 44);
    assert_int_equal (fernet_key_decode (text, back), 0);
    assert_memory_equal (key, back, sizeof key);
    free (text);

    //  The spec's key decodes; near misses do not.
    assert_int_equal (fernet_key_decode ("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=", back), 0);
    assert_int_equal (fernet_key_decode ("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4", back), -1);
    assert_int_equal (fernet_key_decode ("cw/0x689RpI+jtRR7oE8h/eQsKImvJapLeSbXpwF4e4=", back), -1);
    assert_int_equal (fernet_key_decode ("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=\n", back), -1);
    assert_int_equal (fernet_key_decode ("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=AAAA", back), -1);
    assert_int_equal (fernet_key_decode ("AAAA", back), -1);
    assert_int_equal (fernet_key_decode ("", back), -1);
}

//  ---------------------------------------------------------------------
//  Keys made ready (fernet_key_t): the same tokens as the one-shot calls
//  and the spec, however many tokens one context has made before.

static void
test_key_spec_vectors (void **state)
{
    (void) state;
    vector_t gen [VEC_MAX], ver [VEC_MAX];
    int gen_count = s_load_vectors ("generate.json", gen, VEC_MAX);
    int ver_count = s_load_vectors ("verify.json", ver, VEC_MAX);
    for (int i = 0; i < gen_count; i++) {
        uint8_t key [FERNET_KEY_SIZE];
        s_key (gen [i].secret, key);
        fernet_key_t *ready = fernet_key_new (key);
        assert_non_null (ready);
        //  Sealing, opening and sealing again through one context: each
        //  token must still be the spec's, byte for byte.
        for (int round = 0; round < 300; round++) {
            char *token = NULL;
            assert_int_equal (fernet_key_encrypt_iv (ready, (const uint8_t *) gen [i].src,
                                                     strlen (gen [i].src),
                                                     s_rfc3339 (gen [i].now),
                                                     gen [i].iv, &token), CHAT_OK);
            assert_string_equal (token, gen [i].token);
            free (token);
            for (int j = 0; j < ver_count; j++) {
                if (strcmp (ver [j].secret, gen [i].secret) != 0)
                    continue;
                uint8_t *plain = NULL;
                size_t plain_len = 0;
                assert_int_equal (fernet_key_decrypt (ready, ver [j].token,
                                                      strlen (ver [j].token), ver [j].ttl_sec,
                                                      s_rfc3339 (ver [j].now),
                                                      &plain, &plain_len), CHAT_OK);
                assert_int_equal (plain_len, strlen (ver [j].src));
                assert_memory_equal (plain, ver [j].src, plain_len);
                free (plain);
            }
            //  A refused token in between leaves the context as it was.
            uint8_t *plain = NULL;
            size_t plain_len = 0;
            assert_int_equal (fernet_key_decrypt (ready, "gAAAAAAdwJ6x", 12, 0, 0,
                                                  &plain, &plain_len), CHAT_ERR_MALFORMED);
        }
        fernet_key_destroy (&ready);
        assert_null (ready);
    }
    fernet_key_destroy (NULL);
    assert_null (fernet_key_new (NULL));
}

//  One context against fresh one-shot calls, every length around the
//  block size and the stack buffer's limit, with a fixed IV and time; and
//  each side opens what the other sealed.
static void
test_key_matches_one_shot (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    fernet_key_t *ready = fernet_key_new (key);
    assert_non_null (ready);
    static uint8_t data [2200];
    for (size_t i = 0; i < sizeof data; i++)
        data [i] = (uint8_t) (i * 13 + 5);
    uint8_t iv [16];
    for (size_t len = 0; len <= sizeof data; len += len < 40? 1: len < 1900? 97: 17) {
        for (size_t i = 0; i < sizeof iv; i++)
            iv [i] = (uint8_t) (len + i);
        int64_t now = 1700000000 + (int64_t) len;
        char *mine = NULL, *fresh = NULL;
        assert_int_equal (fernet_key_encrypt_iv (ready, data, len, now, iv, &mine), CHAT_OK);
        assert_int_equal (fernet_encrypt_iv (key, data, len, now, iv, &fresh), CHAT_OK);
        assert_string_equal (mine, fresh);

        char *random_iv = NULL;
        assert_int_equal (fernet_key_encrypt (ready, data, len, now, &random_iv), CHAT_OK);
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        assert_int_equal (fernet_decrypt (key, random_iv, strlen (random_iv), 60, now,
                                          &plain, &plain_len), CHAT_OK);
        assert_int_equal (plain_len, len);
        if (len)
            assert_memory_equal (plain, data, len);
        free (plain);
        assert_int_equal (fernet_key_decrypt (ready, fresh, strlen (fresh), 60, now,
                                              &plain, &plain_len), CHAT_OK);
        assert_int_equal (plain_len, len);
        if (len)
            assert_memory_equal (plain, data, len);
        free (plain);
        free (random_iv);
        free (mine);
        free (fresh);
    }
    fernet_key_destroy (&ready);
}

//  A token written into the caller's buffer: exactly fernet_token_length
//  characters, opened by the one-shot call; a buffer one short is refused
//  without writing past it
static void
test_key_encrypt_into (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    fernet_key_t *ready = fernet_key_new (key);
    assert_non_null (ready);
    static uint8_t data [5000];
    for (size_t i = 0; i < sizeof data; i++)
        data [i] = (uint8_t) (i * 7 + 1);
    static char text [8000];
    for (size_t len = 0; len <= sizeof data; len += len < 40? 1: 331) {
        int64_t now = 1700000000;
        size_t length = fernet_token_length (len);
        memset (text, '#', sizeof text);
        assert_int_equal (fernet_key_encrypt_into (ready, data, len, now, text, length + 1),
                          CHAT_OK);
        assert_int_equal (strlen (text), length);
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        assert_int_equal (fernet_decrypt (key, text, length, 60, now, &plain, &plain_len),
                          CHAT_OK);
        assert_int_equal (plain_len, len);
        if (len)
            assert_memory_equal (plain, data, len);
        free (plain);
        //  And the malloc'd token of the same plaintext is as long
        char *token = NULL;
        assert_int_equal (fernet_key_encrypt (ready, data, len, now, &token), CHAT_OK);
        assert_int_equal (strlen (token), length);
        free (token);
        memset (text, '#', sizeof text);
        assert_int_equal (fernet_key_encrypt_into (ready, data, len, now, text, length),
                          CHAT_ERR_INTERNAL);
        assert_int_equal (text [length], '#');
    }
    fernet_key_destroy (&ready);
}

static int
s_iv_order (const void *a, const void *b)
{
    return memcmp (a, b, 16);
}

#define IV_TOKENS 1500          //  several refills of the IV buffer

typedef struct {
    uint8_t key [FERNET_KEY_SIZE];
    uint8_t (*ivs) [16];        //  IV_TOKENS of them
    int failures;               //  cmocka asserts only on the main thread
} iv_job_t;

//  Seals back to back, half through a context and half one-shot, taking
//  each token's IV.
static void *
s_seal_many (void *arg)
{
    iv_job_t *job = (iv_job_t *) arg;
    fernet_key_t *ready = fernet_key_new (job->key);
    for (int i = 0; ready && i < IV_TOKENS; i++) {
        char *token = NULL;
        int rc = i % 2? fernet_key_encrypt (ready, (const uint8_t *) "same", 4, 1, &token)
                      : fernet_encrypt (job->key, (const uint8_t *) "same", 4, 1, &token);
        uint8_t *raw = NULL;
        size_t raw_len = 0;
        if (rc != CHAT_OK
        ||  codec_b64url_decode (token, strlen (token), &raw, &raw_len) || raw_len < 9 + 16)
            job->failures++;
        else
            memcpy (job->ivs [i], raw + 9, 16);
        free (raw);
        free (token);
    }
    if (!ready)
        job->failures++;
    fernet_key_destroy (&ready);
    return NULL;
}

//  No two tokens share an IV: not back to back, not across refills of the
//  IV buffer, not between threads sealing at once.
static void
test_ivs_never_repeat (void **state)
{
    (void) state;
    static uint8_t ivs [3 * IV_TOKENS][16];
    iv_job_t jobs [3];
    for (int t = 0; t < 3; t++) {
        assert_int_equal (fernet_key_generate (jobs [t].key), 0);
        jobs [t].ivs = ivs + t * IV_TOKENS;
        jobs [t].failures = 0;
    }
    //  This thread first (its buffer may be part used), then two at once.
    s_seal_many (&jobs [0]);
    pthread_t one, two;
    assert_int_equal (pthread_create (&one, NULL, s_seal_many, &jobs [1]), 0);
    assert_int_equal (pthread_create (&two, NULL, s_seal_many, &jobs [2]), 0);
    pthread_join (one, NULL);
    pthread_join (two, NULL);
    for (int t = 0; t < 3; t++)
        assert_int_equal (jobs [t].failures, 0);
    qsort (ivs, 3 * IV_TOKENS, 16, s_iv_order);
    for (int i = 1; i < 3 * IV_TOKENS; i++)
        if (memcmp (ivs [i - 1], ivs [i], 16) == 0)
            fail_msg ("two tokens share an IV");
}

//  The stamp is read from the header before the HMAC: a forged token
//  outside the ttl is refused as EXPIRED or FUTURE without one; inside it,
//  or with no ttl, a forged stamp fails the HMAC. Nothing forged opens.
static void
test_clock_before_mac (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    fernet_key_t *ready = fernet_key_new (key);
    assert_non_null (ready);
    const int64_t now = 1700000000;
    static const struct {
        int64_t stamp;
        int64_t ttl;
        int code;
    } cases [] = {
        { now - 1000, 60, CHAT_ERR_EXPIRED },
        { now + 1000, 60, CHAT_ERR_FUTURE },
        { now - 1, 60, CHAT_ERR_BAD_MAC },
        { now - 1000, 0, CHAT_ERR_BAD_MAC },
        { now + 1000, 0, CHAT_ERR_BAD_MAC },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char *token = NULL;
        assert_int_equal (fernet_key_encrypt (ready, (const uint8_t *) "forged?", 7,
                                              cases [i].stamp, &token), CHAT_OK);
        uint8_t *raw = NULL;
        size_t raw_len = 0;
        assert_int_equal (codec_b64url_decode (token, strlen (token), &raw, &raw_len), 0);
        raw [raw_len - 1] ^= 1;                 //  the HMAC no longer matches
        char *forged = codec_b64url_encode (raw, raw_len);
        uint8_t *plain = (uint8_t *) 1;
        size_t plain_len = 3;
        int rc = fernet_key_decrypt (ready, forged, strlen (forged), cases [i].ttl, now,
                                     &plain, &plain_len);
        if (rc != cases [i].code)
            fail_msg ("case %zu: got %s, want %s", i, chat_errname (rc),
                      chat_errname (cases [i].code));
        assert_null (plain);
        assert_int_equal (plain_len, 0);
        assert_int_equal (fernet_decrypt (key, forged, strlen (forged), cases [i].ttl, now,
                                          &plain, &plain_len), cases [i].code);
        //  Unforged, the same token opens whenever its stamp is acceptable.
        rc = fernet_key_decrypt (ready, token, strlen (token), cases [i].ttl, now,
                                 &plain, &plain_len);
        assert_int_equal (rc, cases [i].code == CHAT_ERR_BAD_MAC? CHAT_OK: cases [i].code);
        free (plain);
        free (forged);
        free (raw);
        free (token);
    }
    fernet_key_destroy (&ready);
}

//  Every byte of a token tampered with, through one context: the version
//  byte is malformed, everything else fails the HMAC (no ttl), and the
//  context still opens the real token after every refusal.
static void
test_key_tamper (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key), 0);
    fernet_key_t *ready = fernet_key_new (key);
    assert_non_null (ready);
    char *token = NULL;
    assert_int_equal (fernet_key_encrypt (ready, (const uint8_t *) "attack at dawn!!!", 17,
                                          777, &token), CHAT_OK);
    uint8_t *raw = NULL;
    size_t raw_len = 0;
    assert_int_equal (codec_b64url_decode (token, strlen (token), &raw, &raw_len), 0);
    for (size_t i = 0; i < raw_len; i++) {
        raw [i] ^= 0x80;
        char *bad = codec_b64url_encode (raw, raw_len);
        raw [i] ^= 0x80;
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        int rc = fernet_key_decrypt (ready, bad, strlen (bad), 0, 777, &plain, &plain_len);
        assert_int_equal (rc, i == 0? CHAT_ERR_MALFORMED: CHAT_ERR_BAD_MAC);
        assert_null (plain);
        free (bad);
        assert_int_equal (fernet_key_decrypt (ready, token, strlen (token), 60, 777,
                                              &plain, &plain_len), CHAT_OK);
        assert_int_equal (plain_len, 17);
        free (plain);
    }
    free (raw);
    free (token);
    fernet_key_destroy (&ready);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_time_parser),
        cmocka_unit_test (test_spec_generate),
        cmocka_unit_test (test_spec_verify),
        cmocka_unit_test (test_spec_invalid),
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_fresh_iv),
        cmocka_unit_test (test_empty_plaintext),
        cmocka_unit_test (test_large_plaintext),
        cmocka_unit_test (test_wrong_key),
        cmocka_unit_test (test_clock),
        cmocka_unit_test (test_tamper_every_byte),
        cmocka_unit_test (test_truncated),
        cmocka_unit_test (test_oversized),
        cmocka_unit_test (test_random_garbage),
        cmocka_unit_test (test_token_timestamp),
        cmocka_unit_test (test_key_text),
        cmocka_unit_test (test_key_spec_vectors),
        cmocka_unit_test (test_key_matches_one_shot),
        cmocka_unit_test (test_ivs_never_repeat),
        cmocka_unit_test (test_clock_before_mac),
        cmocka_unit_test (test_key_tamper),
        cmocka_unit_test (test_key_encrypt_into),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
