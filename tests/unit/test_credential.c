/*  test_credential - certificates and membership tickets  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "chaterror.h"
#include "codec.h"
#include "credential.h"
#include "fernet.h"
#include "secret.h"
#include "wire.h"

#define NOW 1700000000

typedef struct {
    credential_keys_t keys;
    uint8_t fp [32];
    uint8_t other_fp [32];
    uint8_t conv [CONVERSATION_ID_SIZE];
    uint8_t other_conv [CONVERSATION_ID_SIZE];
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    uint8_t shared [SECRET_SHARED_SIZE];
    assert_int_equal (secret_random (shared, sizeof shared), 0);
    assert_int_equal (credential_keys_derive (shared, &f->keys), CHAT_OK);
    secret_wipe (shared, sizeof shared);
    assert_int_equal (secret_random (f->fp, sizeof f->fp), 0);
    memcpy (f->other_fp, f->fp, sizeof f->fp);
    f->other_fp [31] ^= 1;
    assert_int_equal (secret_random (f->conv, sizeof f->conv), 0);
    memcpy (f->other_conv, f->conv, sizeof f->conv);
    f->other_conv [0] ^= 0x80;
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    credential_keys_wipe (&f->keys);
    free (f);
    return 0;
}

static void
s_cert (fixture_t *f, int purpose, const char *user, int64_t now,
        uint8_t **token, size_t *len)
{
    assert_int_equal (credential_cert_issue (&f->keys, purpose, user, f->fp,
                                             now, token, len), CHAT_OK);
    assert_non_null (*token);
    assert_true (*len > 0 && *len <= CREDENTIAL_MAX_TOKEN);
}

static void
s_ticket (fixture_t *f, const char *user, int64_t now,
          uint8_t **token, size_t *len)
{
    assert_int_equal (credential_ticket_issue (&f->keys, user, f->conv, f->fp,
                                               now, token, len), CHAT_OK);
    assert_non_null (*token);
    assert_true (*len > 0 && *len <= CREDENTIAL_MAX_TOKEN);
}

static int
s_cert_check (fixture_t *f, const uint8_t *token, size_t len, int purpose,
              const uint8_t *fp, int64_t now)
{
    char *user = NULL;
    int rc = credential_cert_check (&f->keys, token, len, purpose, fp, now, &user);
    if (rc == CHAT_OK)
        assert_non_null (user);
    else
        assert_null (user);
    free (user);
    return rc;
}

static void
test_keys_differ (void **state)
{
    fixture_t *f = *state;
    assert_memory_not_equal (f->keys.cert_key, f->keys.ticket_key, FERNET_KEY_SIZE);

    //  Derivation is deterministic: both servers get the same keys
    uint8_t shared [SECRET_SHARED_SIZE];
    memset (shared, 7, sizeof shared);
    credential_keys_t a, b;
    assert_int_equal (credential_keys_derive (shared, &a), CHAT_OK);
    assert_int_equal (credential_keys_derive (shared, &b), CHAT_OK);
    assert_memory_equal (&a, &b, sizeof a);
    credential_keys_wipe (&a);
    uint8_t zero [sizeof a];
    memset (zero, 0, sizeof zero);
    assert_memory_equal (&a, zero, sizeof a);
    credential_keys_wipe (&b);
}

static void
test_cert_round_trip (void **state)
{
    fixture_t *f = *state;
    int purposes [] = { CREDENTIAL_REGISTERED, CREDENTIAL_LOGGED_IN };
    for (size_t i = 0; i < 2; i++) {
        uint8_t *token;
        size_t len;
        s_cert (f, purposes [i], "Alice.B-c_9", NOW, &token, &len);
        //  ASCII only: it travels in protobuf bytes and in logs of sizes
        for (size_t j = 0; j < len; j++)
            assert_true (token [j] > 0x20 && token [j] < 0x7f);
        char *user = NULL;
        assert_int_equal (credential_cert_check (&f->keys, token, len, purposes [i],
                                                 f->fp, NOW + 10, &user), CHAT_OK);
        assert_string_equal (user, "Alice.B-c_9");
        free (user);
        //  The other purpose is refused
        assert_int_equal (s_cert_check (f, token, len, purposes [1 - i], f->fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
        free (token);
    }
}

static void
test_cert_refusals (void **state)
{
    fixture_t *f = *state;
    uint8_t *token;
    size_t len;
    s_cert (f, CREDENTIAL_LOGGED_IN, "alice", NOW, &token, &len);

    //  Another client key
    assert_int_equal (s_cert_check (f, token, len, CREDENTIAL_LOGGED_IN, f->other_fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    //  Purposes that do not exist
    assert_int_equal (s_cert_check (f, token, len, 0, f->fp, NOW), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_check (f, token, len, 3, f->fp, NOW), CHAT_ERR_BAD_CERTIFICATE);
    //  Lifetime: valid up to the last second, refused after
    assert_int_equal (s_cert_check (f, token, len, CREDENTIAL_LOGGED_IN, f->fp,
                                    NOW + CREDENTIAL_CERT_LIFETIME), CHAT_OK);
    assert_int_equal (s_cert_check (f, token, len, CREDENTIAL_LOGGED_IN, f->fp,
                                    NOW + CREDENTIAL_CERT_LIFETIME + 1),
                      CHAT_ERR_BAD_CERTIFICATE);
    //  Another server secret
    credential_keys_t other;
    uint8_t shared [SECRET_SHARED_SIZE];
    assert_int_equal (secret_random (shared, sizeof shared), 0);
    assert_int_equal (credential_keys_derive (shared, &other), CHAT_OK);
    char *user = NULL;
    assert_int_equal (credential_cert_check (&other, token, len, CREDENTIAL_LOGGED_IN,
                                             f->fp, NOW, &user),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_null (user);
    credential_keys_wipe (&other);
    //  NULL and empty input
    assert_int_equal (s_cert_check (f, NULL, 0, CREDENTIAL_LOGGED_IN, f->fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_check (f, token, 0, CREDENTIAL_LOGGED_IN, f->fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    free (token);
}

static void
test_cert_expired (void **state)
{
    fixture_t *f = *state;
    uint8_t *token;
    size_t len;
    s_cert (f, CREDENTIAL_REGISTERED, "alice", NOW - 1000, &token, &len);
    assert_int_equal (s_cert_check (f, token, len, CREDENTIAL_REGISTERED, f->fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    //  The same token was good when it was young
    assert_int_equal (s_cert_check (f, token, len, CREDENTIAL_REGISTERED, f->fp,
                                    NOW - 1000 + 5), CHAT_OK);
    free (token);
}

static void
test_cert_future (void **state)
{
    fixture_t *f = *state;
    uint8_t *token;
    size_t len;
    //  A little clock skew between the servers is tolerated...
    s_cert (f, CREDENTIAL_REGISTERED, "alice", NOW + 30, &token, &len);
    assert_int_equal (s_cert_check (f, token, len, CREDENTIAL_REGISTERED, f->fp, NOW),
                      CHAT_OK);
    free (token);
    //  ...more is not
    s_cert (f, CREDENTIAL_REGISTERED, "alice", NOW + 61, &token, &len);
    assert_int_equal (s_cert_check (f, token, len, CREDENTIAL_REGISTERED, f->fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    free (token);
    s_cert (f, CREDENTIAL_REGISTERED, "alice", NOW + 1000, &token, &len);
    assert_int_equal (s_cert_check (f, token, len, CREDENTIAL_REGISTERED, f->fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    free (token);
}

//  Flip every bit position of every decoded byte (one at a time), and every
//  character of the text; nothing may pass.
static void
test_cert_tampered (void **state)
{
    fixture_t *f = *state;
    uint8_t *token;
    size_t len;
    s_cert (f, CREDENTIAL_LOGGED_IN, "alice", NOW, &token, &len);

    uint8_t *raw;
    size_t raw_len;
    assert_int_equal (codec_b64url_decode ((char *) token, len, &raw, &raw_len), 0);
    for (size_t i = 0; i < raw_len; i++) {
        uint8_t bit = (uint8_t) (1u << (i % 8));
        raw [i] ^= bit;
        char *forged = codec_b64url_encode (raw, raw_len);
        assert_non_null (forged);
        assert_int_equal (s_cert_check (f, (uint8_t *) forged, strlen (forged),
                                        CREDENTIAL_LOGGED_IN, f->fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
        free (forged);
        raw [i] ^= bit;
    }
    free (raw);

    uint8_t *copy = malloc (len);
    assert_non_null (copy);
    for (size_t i = 0; i < len; i++) {
        memcpy (copy, token, len);
        copy [i] = copy [i] == '!'? '?': '!';
        assert_int_equal (s_cert_check (f, copy, len, CREDENTIAL_LOGGED_IN, f->fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
    }
    free (copy);
    free (token);
}

static void
test_cert_truncated (void **state)
{
    fixture_t *f = *state;
    uint8_t *token;
    size_t len;
    s_cert (f, CREDENTIAL_LOGGED_IN, "alice", NOW, &token, &len);
    for (size_t cut = 0; cut < len; cut++) {
        //  A fresh heap copy of exactly cut bytes, so ASan sees any overread
        uint8_t *part = malloc (cut? cut: 1);
        assert_non_null (part);
        memcpy (part, token, cut);
        assert_int_equal (s_cert_check (f, part, cut, CREDENTIAL_LOGGED_IN, f->fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
        assert_int_equal (credential_ticket_check (&f->keys, part, cut, "alice",
                                                   f->conv, f->fp, NOW),
                          CHAT_ERR_BAD_TICKET);
        free (part);
    }
    free (token);
}

static void
test_oversize (void **state)
{
    fixture_t *f = *state;
    uint8_t *token;
    size_t len;
    s_cert (f, CREDENTIAL_LOGGED_IN, "alice", NOW, &token, &len);
    //  A valid token followed by padding up to just over the limit
    size_t big = CREDENTIAL_MAX_TOKEN + 1;
    uint8_t *huge = malloc (big);
    assert_non_null (huge);
    memset (huge, 'A', big);
    memcpy (huge, token, len);
    assert_int_equal (s_cert_check (f, huge, big, CREDENTIAL_LOGGED_IN, f->fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (credential_ticket_check (&f->keys, huge, big, "alice",
                                               f->conv, f->fp, NOW),
                      CHAT_ERR_BAD_TICKET);
    //  Even a huge size with short data is refused before any read
    assert_int_equal (s_cert_check (f, token, (size_t) 1 << 40, CREDENTIAL_LOGGED_IN,
                                    f->fp, NOW), CHAT_ERR_BAD_CERTIFICATE);
    free (huge);
    free (token);
}

static void
test_random_bytes (void **state)
{
    fixture_t *f = *state;
    uint8_t buf [300];
    for (int round = 0; round < 200; round++) {
        size_t len = (size_t) (round % 300) + 1;
        assert_int_equal (secret_random (buf, len), 0);
        uint8_t *copy = malloc (len);
        assert_non_null (copy);
        memcpy (copy, buf, len);
        assert_int_equal (s_cert_check (f, copy, len, CREDENTIAL_LOGGED_IN, f->fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
        assert_int_equal (credential_ticket_check (&f->keys, copy, len, "alice",
                                                   f->conv, f->fp, NOW),
                          CHAT_ERR_BAD_TICKET);
        free (copy);
    }
}

static void
test_ticket_round_trip (void **state)
{
    fixture_t *f = *state;
    uint8_t *token;
    size_t len;
    s_ticket (f, "bob", NOW, &token, &len);
    assert_int_equal (credential_ticket_check (&f->keys, token, len, "bob",
                                               f->conv, f->fp, NOW + 1), CHAT_OK);
    assert_int_equal (credential_ticket_check (&f->keys, token, len, "bob", f->conv,
                                               f->fp, NOW + CREDENTIAL_TICKET_LIFETIME),
                      CHAT_OK);
    free (token);
}

static void
test_ticket_refusals (void **state)
{
    fixture_t *f = *state;
    uint8_t *token;
    size_t len;
    s_ticket (f, "bob", NOW, &token, &len);
    //  Other user, including another spelling of the same name
    assert_int_equal (credential_ticket_check (&f->keys, token, len, "carol",
                                               f->conv, f->fp, NOW), CHAT_ERR_BAD_TICKET);
    assert_int_equal (credential_ticket_check (&f->keys, token, len, "Bob",
                                               f->conv, f->fp, NOW), CHAT_ERR_BAD_TICKET);
    assert_int_equal (credential_ticket_check (&f->keys, token, len, "bob2",
                                               f->conv, f->fp, NOW), CHAT_ERR_BAD_TICKET);
    assert_int_equal (credential_ticket_check (&f->keys, token, len, "",
                                               f->conv, f->fp, NOW), CHAT_ERR_BAD_TICKET);
    //  Other conversation, other key
    assert_int_equal (credential_ticket_check (&f->keys, token, len, "bob",
                                               f->other_conv, f->fp, NOW),
                      CHAT_ERR_BAD_TICKET);
    assert_int_equal (credential_ticket_check (&f->keys, token, len, "bob",
                                               f->conv, f->other_fp, NOW),
                      CHAT_ERR_BAD_TICKET);
    //  Expired, and from the future
    assert_int_equal (credential_ticket_check (&f->keys, token, len, "bob", f->conv,
                                               f->fp, NOW + CREDENTIAL_TICKET_LIFETIME + 1),
                      CHAT_ERR_BAD_TICKET);
    assert_int_equal (credential_ticket_check (&f->keys, token, len, "bob", f->conv,
                                               f->fp, NOW - 1000),
                      CHAT_ERR_BAD_TICKET);
    //  Tampered
    token [len / 2] = token [len / 2] == 'A'? 'B': 'A';
    assert_int_equal (credential_ticket_check (&f->keys, token, len, "bob",
                                               f->conv, f->fp, NOW), CHAT_ERR_BAD_TICKET);
    free (token);
}

//  A certificate presented as a ticket and a ticket presented as a
//  certificate: sealed under different keys, so neither opens.
static void
test_cross_purpose (void **state)
{
    fixture_t *f = *state;
    uint8_t *cert, *ticket;
    size_t cert_len, ticket_len;
    s_cert (f, CREDENTIAL_LOGGED_IN, "bob", NOW, &cert, &cert_len);
    s_ticket (f, "bob", NOW, &ticket, &ticket_len);
    assert_int_equal (credential_ticket_check (&f->keys, cert, cert_len, "bob",
                                               f->conv, f->fp, NOW), CHAT_ERR_BAD_TICKET);
    assert_int_equal (s_cert_check (f, ticket, ticket_len, CREDENTIAL_LOGGED_IN, f->fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_check (f, ticket, ticket_len, CREDENTIAL_REGISTERED, f->fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);

    //  Even a ticket sealed under the certificate key by mistake is not a
    //  certificate: the fields do not line up
    uint8_t *packed;
    size_t packed_len;
    Chat__MembershipTicket msg = CHAT__MEMBERSHIP_TICKET__INIT;
    msg.username = "bob";
    msg.conversation_id.data = f->conv;
    msg.conversation_id.len = sizeof f->conv;
    msg.client_key_fingerprint.data = f->fp;
    msg.client_key_fingerprint.len = sizeof f->fp;
    msg.issued_at = NOW;
    msg.expires_at = NOW + 300;
    assert_int_equal (wire_pack (&msg.base, &packed, &packed_len), CHAT_OK);
    char *sealed;
    assert_int_equal (fernet_encrypt (f->keys.cert_key, packed, packed_len, NOW, &sealed),
                      CHAT_OK);
    for (int purpose = 0; purpose <= 2; purpose++)
        assert_int_equal (s_cert_check (f, (uint8_t *) sealed, strlen (sealed), purpose,
                                        f->fp, NOW), CHAT_ERR_BAD_CERTIFICATE);
    free (sealed);
    free (packed);
    free (cert);
    free (ticket);
}

//  Certificates sealed with the right key but with bad contents (what a
//  buggy or compromised issuer could produce) are refused all the same.
static char *
s_seal_cert (fixture_t *f, int purpose, const char *user, const uint8_t *fp,
             size_t fp_len, int64_t issued, int64_t expires)
{
    Chat__Certificate cert = CHAT__CERTIFICATE__INIT;
    cert.purpose = (Chat__CertificatePurpose) purpose;
    cert.username = (char *) user;
    cert.client_key_fingerprint.data = (uint8_t *) fp;
    cert.client_key_fingerprint.len = fp_len;
    cert.issued_at = issued;
    cert.expires_at = expires;
    uint8_t *packed;
    size_t packed_len;
    assert_int_equal (wire_pack (&cert.base, &packed, &packed_len), CHAT_OK);
    char *sealed;
    assert_int_equal (fernet_encrypt (f->keys.cert_key, packed, packed_len, NOW, &sealed),
                      CHAT_OK);
    free (packed);
    return sealed;
}

static void
test_cert_bad_contents (void **state)
{
    fixture_t *f = *state;
    uint8_t long_fp [33];
    memcpy (long_fp, f->fp, 32);
    long_fp [32] = 0;
    struct {
        int purpose;
        const char *user;
        const uint8_t *fp;
        size_t fp_len;
        int64_t issued, expires;
        int ok;
    } cases [] = {
        { 2, "alice", f->fp, 32, NOW, NOW + 300, 1 },     //  the control
        { 2, "alice", f->fp, 31, NOW, NOW + 300, 0 },     //  fingerprint prefix
        { 2, "alice", long_fp, 33, NOW, NOW + 300, 0 },   //  fingerprint + byte
        { 2, "alice", NULL, 0, NOW, NOW + 300, 0 },       //  no fingerprint
        { 2, "", f->fp, 32, NOW, NOW + 300, 0 },          //  empty user
        { 2, "a b", f->fp, 32, NOW, NOW + 300, 0 },       //  invalid user
        { 2, "alice", f->fp, 32, NOW, NOW - 1, 0 },       //  expires_at past
        { 2, "alice", f->fp, 32, NOW + 61, NOW + 300, 0 },//  issued in future
        { 0, "alice", f->fp, 32, NOW, NOW + 300, 0 },     //  PURPOSE_NONE
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        char *sealed = s_seal_cert (f, cases [i].purpose, cases [i].user, cases [i].fp,
                                    cases [i].fp_len, cases [i].issued, cases [i].expires);
        int rc = s_cert_check (f, (uint8_t *) sealed, strlen (sealed),
                               cases [i].purpose? cases [i].purpose: 0, f->fp, NOW);
        if (cases [i].ok)
            assert_int_equal (rc, CHAT_OK);
        else
            assert_int_equal (rc, CHAT_ERR_BAD_CERTIFICATE);
        free (sealed);
    }
}

static void
test_username_fold (void **state)
{
    (void) state;
    char out [USERNAME_MAX + 1];
    credential_username_fold ("Joseph.Van-DE_velde9", out, sizeof out);
    assert_string_equal (out, "joseph.van-de_velde9");
    //  Never past the buffer, always terminated
    char small [4];
    credential_username_fold ("ABCDEFG", small, sizeof small);
    assert_string_equal (small, "abc");
    credential_username_fold ("", out, sizeof out);
    assert_string_equal (out, "");
}

static void
test_username_valid (void **state)
{
    fixture_t *f = *state;
    assert_true (credential_username_valid ("a"));
    assert_true (credential_username_valid ("Az09_.-"));
    char name [40];
    memset (name, 'x', sizeof name);
    name [32] = 0;
    assert_true (credential_username_valid (name));
    name [32] = 'x';
    name [33] = 0;
    assert_false (credential_username_valid (name));

    const char *bad [] = { "", "a b", "a/b", "caf\xc3\xa9", "tab\there", "nl\n",
                           "a:b", "a@b", "\x7f", name };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        assert_false (credential_username_valid (bad [i]));
        uint8_t *token = (uint8_t *) "x";
        size_t len = 99;
        assert_int_not_equal (credential_cert_issue (&f->keys, CREDENTIAL_REGISTERED,
                                                     bad [i], f->fp, NOW, &token, &len),
                              CHAT_OK);
        assert_null (token);
        assert_int_not_equal (credential_ticket_issue (&f->keys, bad [i], f->conv,
                                                       f->fp, NOW, &token, &len),
                              CHAT_OK);
        assert_null (token);
    }
    assert_false (credential_username_valid (NULL));
    uint8_t *token = NULL;
    size_t len;
    assert_int_not_equal (credential_cert_issue (&f->keys, 0, "alice", f->fp, NOW,
                                                 &token, &len), CHAT_OK);
    assert_null (token);
}

//  A certificate under a key of one's own (the key server's resume tokens):
//  it opens only under that key, with its purpose and lifetime, and the
//  shared certificate key neither makes nor takes that purpose
static void
test_own_key_certificates (void **state)
{
    fixture_t *f = *state;
    uint8_t own [FERNET_KEY_SIZE];
    assert_int_equal (secret_random (own, sizeof own), 0);
    uint8_t *token;
    size_t len;
    char *user = NULL;
    assert_int_equal (credential_cert_seal (own, CREDENTIAL_RESUME, "alice", f->fp, NOW,
                                            86400, &token, &len), CHAT_OK);
    assert_int_equal (credential_cert_open (own, token, len, CREDENTIAL_RESUME, f->fp,
                                            NOW + 86000, 86400, &user), CHAT_OK);
    assert_string_equal (user, "alice");
    free (user);
    //  Past its own lifetime, other purpose, other key, other client key
    assert_int_equal (credential_cert_open (own, token, len, CREDENTIAL_RESUME, f->fp,
                                            NOW + 86401, 86400, &user),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (credential_cert_open (own, token, len, CREDENTIAL_LOGGED_IN, f->fp,
                                            NOW, 86400, &user), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (credential_cert_open (f->keys.cert_key, token, len, CREDENTIAL_RESUME,
                                            f->fp, NOW, 86400, &user),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (credential_cert_open (own, token, len, CREDENTIAL_RESUME, f->other_fp,
                                            NOW, 86400, &user), CHAT_ERR_BAD_CERTIFICATE);
    assert_null (user);
    assert_int_equal (credential_cert_check (&f->keys, token, len, CREDENTIAL_RESUME, f->fp,
                                             NOW, &user), CHAT_ERR_BAD_CERTIFICATE);
    free (token);
    uint8_t *shared_token = NULL;
    assert_int_equal (credential_cert_issue (&f->keys, CREDENTIAL_RESUME, "alice", f->fp, NOW,
                                             &shared_token, &len), CHAT_ERR_BAD_REQUEST);
    assert_null (shared_token);
    //  No purpose, no lifetime: refused
    assert_int_equal (credential_cert_seal (own, 0, "alice", f->fp, NOW, 10, &token, &len),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (credential_cert_seal (own, CREDENTIAL_RESUME, "alice", f->fp, NOW, 0,
                                            &token, &len), CHAT_ERR_BAD_REQUEST);
    secret_wipe (own, sizeof own);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_keys_differ, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cert_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cert_refusals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cert_expired, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cert_future, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cert_tampered, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cert_truncated, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_oversize, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_random_bytes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ticket_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_ticket_refusals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cross_purpose, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cert_bad_contents, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_username_valid, s_setup, s_teardown),
        cmocka_unit_test (test_username_fold),
        cmocka_unit_test_setup_teardown (test_own_key_certificates, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
