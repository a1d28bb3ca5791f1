/*  test_credential - signed certificates and key tickets, resume tokens,
    usernames

    Certificates are signed by the key server and checked with its public
    key; key tickets are signed by the main server and checked with its
    public key (proto/README.md section 9). Every refusal the section names
    is made here: other signer, any field altered, signature flipped,
    expired, issued too far ahead, valid too long, other purpose, other
    client key, other uploader, truncated, oversized, garbage.
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
#include "credential.h"
#include "fernet.h"
#include "rsakey.h"
#include "secret.h"
#include "testlocale.h"
#include "wire.h"

#define NOW 1700000000

//  Made once: RSA key generation is the slow part
static struct {
    rsakey_t *keyserver;                //  signs certificates
    rsakey_t *mainserver;               //  signs tickets
    rsakey_t *stranger;                 //  signs what it should not
    rsakey_t *identity;                 //  alice's identity key
    rsakey_t *other_identity;
    uint8_t fp [32];                    //  the session's client key fingerprint
    uint8_t other_fp [32];
    uint8_t conv [CONVERSATION_ID_SIZE];
} s;

static int
s_group_setup (void **state)
{
    (void) state;
    s.keyserver = rsakey_generate (2048);
    s.mainserver = rsakey_generate (2048);
    s.stranger = rsakey_generate (2048);
    s.identity = rsakey_generate (2048);
    s.other_identity = rsakey_generate (2048);
    if (!s.keyserver || !s.mainserver || !s.stranger || !s.identity || !s.other_identity
    ||  secret_random (s.fp, sizeof s.fp) || secret_random (s.conv, sizeof s.conv))
        return -1;
    memcpy (s.other_fp, s.fp, sizeof s.fp);
    s.other_fp [31] ^= 1;
    return 0;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    rsakey_destroy (&s.keyserver);
    rsakey_destroy (&s.mainserver);
    rsakey_destroy (&s.stranger);
    rsakey_destroy (&s.identity);
    rsakey_destroy (&s.other_identity);
    return 0;
}

//  ---------------------------------------------------------------- helpers

//  A SignedCredential over the packed body, signed by key under label: how
//  a test makes what an issuer never would (too long a lifetime, an epoch
//  0, ...) yet signed correctly, so that only the rule under test refuses it.
static void
s_sign_body (rsakey_t *key, const char *label, const ProtobufCMessage *body,
             uint8_t **out, size_t *len)
{
    uint8_t *packed, *sig;
    size_t packed_len, sig_len;
    assert_int_equal (wire_pack (body, &packed, &packed_len), CHAT_OK);
    assert_int_equal (rsakey_sign_labelled (key, label, packed, packed_len,
                                            &sig, &sig_len), CHAT_OK);
    Chat__SignedCredential signed_ = CHAT__SIGNED_CREDENTIAL__INIT;
    signed_.body.data = packed;
    signed_.body.len = packed_len;
    signed_.signature.data = sig;
    signed_.signature.len = sig_len;
    assert_int_equal (wire_pack (&signed_.base, out, len), CHAT_OK);
    free (packed);
    free (sig);
}

//  The credential with its body replaced by body (the signature kept)
static void
s_swap_body (const uint8_t *data, size_t len, const ProtobufCMessage *body,
             uint8_t **out, size_t *out_len)
{
    Chat__SignedCredential *signed_ = chat__signed_credential__unpack (NULL, len, data);
    assert_non_null (signed_);
    uint8_t *packed;
    size_t packed_len;
    assert_int_equal (wire_pack (body, &packed, &packed_len), CHAT_OK);
    ProtobufCBinaryData saved = signed_->body;
    signed_->body.data = packed;
    signed_->body.len = packed_len;
    assert_int_equal (wire_pack (&signed_->base, out, out_len), CHAT_OK);
    signed_->body = saved;
    chat__signed_credential__free_unpacked (signed_, NULL);
    free (packed);
}

//  The body of a signed credential, parsed (free_unpacked by the caller)
static ProtobufCMessage *
s_body_of (const uint8_t *data, size_t len, const ProtobufCMessageDescriptor *desc)
{
    Chat__SignedCredential *signed_ = chat__signed_credential__unpack (NULL, len, data);
    assert_non_null (signed_);
    ProtobufCMessage *body = protobuf_c_message_unpack (desc, NULL, signed_->body.len,
                                                        signed_->body.data);
    assert_non_null (body);
    chat__signed_credential__free_unpacked (signed_, NULL);
    return body;
}

//  The body of a credential that must verify as SIGN(key, label, body),
//  checked with rsakey directly and parsed (free_unpacked by the caller)
static ProtobufCMessage *
s_signed_body (rsakey_t *key, const char *label, const uint8_t *data, size_t len,
               const ProtobufCMessageDescriptor *desc)
{
    Chat__SignedCredential *signed_ = chat__signed_credential__unpack (NULL, len, data);
    assert_non_null (signed_);
    assert_int_equal (rsakey_verify_labelled (key, label, signed_->body.data,
                                              signed_->body.len, signed_->signature.data,
                                              signed_->signature.len), CHAT_OK);
    chat__signed_credential__free_unpacked (signed_, NULL);
    return s_body_of (data, len, desc);
}

static void
s_cert (int purpose, const char *user, int64_t now, uint8_t **out, size_t *len)
{
    assert_int_equal (credential_cert_issue (s.keyserver, purpose, user, s.fp,
                                             s.identity, now, out, len), CHAT_OK);
    assert_non_null (*out);
    assert_true (*len > 0 && *len <= CREDENTIAL_MAX_SIZE);
}

//  Check a certificate with the key server's key; outputs NULL unless OK
static int
s_cert_check_with (rsakey_t *issuer, const uint8_t *data, size_t len, int purpose,
                   const uint8_t *fp, int64_t now)
{
    char *user = (char *) "x";
    rsakey_t *identity = (rsakey_t *) &user;   //  not NULL: the call must clear it
    int rc = credential_cert_check (issuer, data, len, purpose, fp, now, &user, &identity);
    if (rc == CHAT_OK) {
        assert_non_null (user);
        assert_non_null (identity);
    }
    else {
        assert_null (user);
        assert_null (identity);
    }
    free (user);
    rsakey_destroy (&identity);
    return rc;
}

static int
s_cert_check (const uint8_t *data, size_t len, int purpose, const uint8_t *fp, int64_t now)
{
    return s_cert_check_with (s.keyserver, data, len, purpose, fp, now);
}

static const char *s_members [] = { "alice", "Bob", "carol.x" };

static void
s_ticket_init (credential_ticket_t *ticket, uint64_t epoch)
{
    memset (ticket, 0, sizeof *ticket);
    memcpy (ticket->conversation_id, s.conv, CONVERSATION_ID_SIZE);
    ticket->epoch = epoch;
    ticket->members = (char **) s_members;
    ticket->member_count = 3;
    ticket->uploader = (char *) "alice";
}

static void
s_ticket (int64_t now, uint8_t **out, size_t *len)
{
    credential_ticket_t ticket;
    s_ticket_init (&ticket, 7);
    assert_int_equal (credential_ticket_issue (s.mainserver, &ticket, s.fp, now, out, len),
                      CHAT_OK);
    assert_non_null (*out);
    assert_true (*len > 0 && *len <= CREDENTIAL_MAX_SIZE);
}

static int
s_ticket_check_with (rsakey_t *issuer, const uint8_t *data, size_t len,
                     const char *uploader, const uint8_t *fp, int64_t now)
{
    credential_ticket_t *ticket = (credential_ticket_t *) &len;   //  must be cleared
    int rc = credential_ticket_check (issuer, data, len, uploader, fp, now, &ticket);
    if (rc == CHAT_OK)
        assert_non_null (ticket);
    else
        assert_null (ticket);
    credential_ticket_destroy (&ticket);
    return rc;
}

static int
s_ticket_check (const uint8_t *data, size_t len, const char *uploader, const uint8_t *fp,
                int64_t now)
{
    return s_ticket_check_with (s.mainserver, data, len, uploader, fp, now);
}

//  A body made by hand and signed by the key server: only its contents can
//  make it fail
static Chat__Certificate
s_cert_body (int purpose, const char *user, int64_t issued, int64_t expires)
{
    Chat__Certificate cert = CHAT__CERTIFICATE__INIT;
    size_t der_len;
    const uint8_t *der = rsakey_der (s.identity, &der_len);
    cert.purpose = (Chat__CertificatePurpose) purpose;
    cert.username = (char *) user;
    cert.client_key_fingerprint.data = s.fp;
    cert.client_key_fingerprint.len = 32;
    cert.issued_at = issued;
    cert.expires_at = expires;
    cert.identity_public_key.data = (uint8_t *) der;
    cert.identity_public_key.len = der_len;
    return cert;
}

static int
s_cert_body_check (const Chat__Certificate *cert, int purpose, int64_t now)
{
    uint8_t *data;
    size_t len;
    s_sign_body (s.keyserver, CREDENTIAL_CERT_LABEL, &cert->base, &data, &len);
    int rc = s_cert_check (data, len, purpose, s.fp, now);
    free (data);
    return rc;
}

static Chat__KeyTicket
s_ticket_body (int64_t issued, int64_t expires)
{
    Chat__KeyTicket body = CHAT__KEY_TICKET__INIT;
    body.conversation_id.data = s.conv;
    body.conversation_id.len = CONVERSATION_ID_SIZE;
    body.epoch = 3;
    body.members = (char **) s_members;
    body.n_members = 3;
    body.uploader = (char *) "alice";
    body.client_key_fingerprint.data = s.fp;
    body.client_key_fingerprint.len = 32;
    body.issued_at = issued;
    body.expires_at = expires;
    return body;
}

static int
s_ticket_body_check (const Chat__KeyTicket *body, int64_t now)
{
    uint8_t *data;
    size_t len;
    s_sign_body (s.mainserver, CREDENTIAL_TICKET_LABEL, &body->base, &data, &len);
    int rc = s_ticket_check (data, len, "alice", s.fp, now);
    free (data);
    return rc;
}

//  ---------------------------------------------------------------- certificates

static void
test_cert_round_trip (void **state)
{
    (void) state;
    int purposes [] = { CREDENTIAL_REGISTERED, CREDENTIAL_LOGGED_IN };
    for (size_t i = 0; i < 2; i++) {
        uint8_t *data;
        size_t len;
        s_cert (purposes [i], "Alice.B-c_9", NOW, &data, &len);
        char *user = NULL;
        rsakey_t *identity = NULL;
        assert_int_equal (credential_cert_check (s.keyserver, data, len, purposes [i],
                                                 s.fp, NOW + 10, &user, &identity),
                          CHAT_OK);
        assert_string_equal (user, "Alice.B-c_9");
        //  The identity key comes out as it went in, public half only
        assert_non_null (identity);
        assert_false (rsakey_has_private (identity));
        assert_string_equal (rsakey_fingerprint_text (identity),
                             rsakey_fingerprint_text (s.identity));
        free (user);
        rsakey_destroy (&identity);

        //  What it signs is the body, under its label, with the issuer's key
        Chat__Certificate *cert = (Chat__Certificate *) s_signed_body (
            s.keyserver, "chat/2 certificate", data, len, &chat__certificate__descriptor);
        assert_int_equal (cert->issued_at, NOW);
        assert_int_equal (cert->expires_at, NOW + CREDENTIAL_CERT_LIFETIME);
        assert_int_equal (cert->client_key_fingerprint.len, 32);
        assert_memory_equal (cert->client_key_fingerprint.data, s.fp, 32);
        chat__certificate__free_unpacked (cert, NULL);

        //  The other purpose is refused
        assert_int_equal (s_cert_check (data, len, purposes [1 - i], s.fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
        free (data);
    }
}

static void
test_cert_wrong_signer (void **state)
{
    (void) state;
    uint8_t *data;
    size_t len;
    s_cert (CREDENTIAL_LOGGED_IN, "alice", NOW, &data, &len);
    //  Checked with any key but the key server's
    assert_int_equal (s_cert_check_with (s.mainserver, data, len, CREDENTIAL_LOGGED_IN,
                                         s.fp, NOW), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_check_with (s.stranger, data, len, CREDENTIAL_LOGGED_IN,
                                         s.fp, NOW), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_check_with (NULL, data, len, CREDENTIAL_LOGGED_IN,
                                         s.fp, NOW), CHAT_ERR_BAD_CERTIFICATE);
    free (data);

    //  Made with another key: a stolen main server data directory, say
    assert_int_equal (credential_cert_issue (s.stranger, CREDENTIAL_LOGGED_IN, "alice", s.fp,
                                             s.identity, NOW, &data, &len), CHAT_OK);
    assert_int_equal (s_cert_check (data, len, CREDENTIAL_LOGGED_IN, s.fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    free (data);

    //  The right key but another label: a ticket's, none, a statement's
    Chat__Certificate cert = s_cert_body (CREDENTIAL_LOGGED_IN, "alice", NOW,
                                          NOW + CREDENTIAL_CERT_LIFETIME);
    const char *labels [] = { CREDENTIAL_TICKET_LABEL, NULL, "chat/2 statement",
                              "chat/2 certificat", "chat/2 certificate " };
    for (size_t i = 0; i < sizeof labels / sizeof labels [0]; i++) {
        s_sign_body (s.keyserver, labels [i], &cert.base, &data, &len);
        assert_int_equal (s_cert_check (data, len, CREDENTIAL_LOGGED_IN, s.fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
        free (data);
    }
    //  and the same body under the right label passes: the test can fail
    assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW), CHAT_OK);
}

//  Every field of the body altered, the signature kept: refused
static void
test_cert_fields_altered (void **state)
{
    (void) state;
    uint8_t *data;
    size_t len;
    s_cert (CREDENTIAL_LOGGED_IN, "alice", NOW, &data, &len);
    assert_int_equal (s_cert_check (data, len, CREDENTIAL_LOGGED_IN, s.fp, NOW), CHAT_OK);

    size_t other_len;
    const uint8_t *other_der = rsakey_der (s.other_identity, &other_len);
    for (int field = 0; field < 7; field++) {
        Chat__Certificate *cert = (Chat__Certificate *)
            s_body_of (data, len, &chat__certificate__descriptor);
        char *saved_user = cert->username;
        ProtobufCBinaryData saved_fp = cert->client_key_fingerprint;
        ProtobufCBinaryData saved_identity = cert->identity_public_key;
        int check_purpose = CREDENTIAL_LOGGED_IN;
        switch (field) {
            case 0: cert->purpose = CHAT__CERTIFICATE_PURPOSE__PURPOSE_REGISTERED;
                    check_purpose = CREDENTIAL_REGISTERED; break;
            case 1: cert->username = (char *) "alicf"; break;
            case 2: cert->client_key_fingerprint.data = s.other_fp;
                    check_purpose = CREDENTIAL_LOGGED_IN; break;
            case 3: cert->issued_at -= 1; break;
            case 4: cert->expires_at += 1; break;
            case 5: cert->identity_public_key.data = (uint8_t *) other_der;
                    cert->identity_public_key.len = other_len; break;
            case 6: cert->username = (char *) "ALICE"; break;
        }
        uint8_t *forged;
        size_t forged_len;
        s_swap_body (data, len, &cert->base, &forged, &forged_len);
        const uint8_t *fp = field == 2 ? s.other_fp : s.fp;
        assert_int_equal (s_cert_check (forged, forged_len, check_purpose, fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
        free (forged);
        cert->username = saved_user;
        cert->client_key_fingerprint = saved_fp;
        cert->identity_public_key = saved_identity;
        chat__certificate__free_unpacked (cert, NULL);
    }
    free (data);
}

//  Any single bit of the signature, or of the whole credential, flipped
static void
test_cert_bits_flipped (void **state)
{
    (void) state;
    uint8_t *data;
    size_t len;
    s_cert (CREDENTIAL_REGISTERED, "alice", NOW, &data, &len);
    Chat__SignedCredential *signed_ = chat__signed_credential__unpack (NULL, len, data);
    assert_non_null (signed_);
    for (size_t bit = 0; bit < signed_->signature.len * 8; bit += 61) {
        signed_->signature.data [bit / 8] ^= (uint8_t) (1 << (bit % 8));
        uint8_t *forged;
        size_t forged_len;
        assert_int_equal (wire_pack (&signed_->base, &forged, &forged_len), CHAT_OK);
        assert_int_equal (s_cert_check (forged, forged_len, CREDENTIAL_REGISTERED, s.fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
        free (forged);
        signed_->signature.data [bit / 8] ^= (uint8_t) (1 << (bit % 8));
    }
    //  The signature shortened, lengthened, emptied
    size_t sig_len = signed_->signature.len;
    size_t lengths [] = { sig_len - 1, 0, 1 };
    for (size_t i = 0; i < 3; i++) {
        signed_->signature.len = lengths [i];
        uint8_t *forged;
        size_t forged_len;
        assert_int_equal (wire_pack (&signed_->base, &forged, &forged_len), CHAT_OK);
        assert_int_equal (s_cert_check (forged, forged_len, CREDENTIAL_REGISTERED, s.fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
        free (forged);
    }
    signed_->signature.len = sig_len;
    chat__signed_credential__free_unpacked (signed_, NULL);

    //  Whole-credential bit flips: whatever still parses fails the signature
    uint8_t *copy = malloc (len);
    assert_non_null (copy);
    for (size_t bit = 0; bit < len * 8; bit += 7) {
        memcpy (copy, data, len);
        copy [bit / 8] ^= (uint8_t) (1 << (bit % 8));
        assert_int_equal (s_cert_check (copy, len, CREDENTIAL_REGISTERED, s.fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
    }
    free (copy);
    free (data);
}

//  expires_at < now is expired; issued_at > now + 60 is too far ahead
static void
test_cert_times (void **state)
{
    (void) state;
    uint8_t *data;
    size_t len;
    s_cert (CREDENTIAL_LOGGED_IN, "alice", NOW, &data, &len);
    int64_t expires = NOW + CREDENTIAL_CERT_LIFETIME;
    assert_int_equal (s_cert_check (data, len, CREDENTIAL_LOGGED_IN, s.fp, expires), CHAT_OK);
    assert_int_equal (s_cert_check (data, len, CREDENTIAL_LOGGED_IN, s.fp, expires + 1),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_check (data, len, CREDENTIAL_LOGGED_IN, s.fp, NOW + 86400),
                      CHAT_ERR_BAD_CERTIFICATE);
    //  A checker whose clock is behind the issuer's, by up to 60 s
    assert_int_equal (s_cert_check (data, len, CREDENTIAL_LOGGED_IN, s.fp, NOW - 60), CHAT_OK);
    assert_int_equal (s_cert_check (data, len, CREDENTIAL_LOGGED_IN, s.fp, NOW - 61),
                      CHAT_ERR_BAD_CERTIFICATE);
    free (data);
}

//  Signed correctly, but valid longer than 300 s, or with times no issuer
//  makes: refused, and never an overflow (UBSan watches the INT64 ends)
static void
test_cert_lifetime (void **state)
{
    (void) state;
    Chat__Certificate cert = s_cert_body (CREDENTIAL_LOGGED_IN, "alice", NOW,
                                          NOW + CREDENTIAL_CERT_LIFETIME);
    assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW), CHAT_OK);
    cert.expires_at = NOW + CREDENTIAL_CERT_LIFETIME + 1;
    assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    cert.issued_at = NOW + 1;           //  300 s in all again
    assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW), CHAT_OK);
    cert.issued_at = NOW - 10;          //  310 s
    assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    //  Expiry before issue
    cert.issued_at = NOW;
    cert.expires_at = NOW - 1;
    assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW - 2),
                      CHAT_ERR_BAD_CERTIFICATE);
    //  The ends of int64
    int64_t extremes [][2] = {
        { INT64_MIN, INT64_MAX }, { INT64_MIN, NOW }, { NOW, INT64_MAX },
        { INT64_MAX, INT64_MAX }, { INT64_MIN, INT64_MIN }, { 0, INT64_MAX },
    };
    for (size_t i = 0; i < sizeof extremes / sizeof extremes [0]; i++) {
        cert.issued_at = extremes [i][0];
        cert.expires_at = extremes [i][1];
        assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
    }
}

static void
test_cert_other_purpose_and_key (void **state)
{
    (void) state;
    uint8_t *data;
    size_t len;
    s_cert (CREDENTIAL_REGISTERED, "alice", NOW, &data, &len);
    assert_int_equal (s_cert_check (data, len, CREDENTIAL_REGISTERED, s.other_fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_check (data, len, CREDENTIAL_LOGGED_IN, s.fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_check (data, len, CREDENTIAL_RESUME, s.fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_check (data, len, 0, s.fp, NOW), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_check (data, len, CREDENTIAL_REGISTERED, NULL, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    free (data);

    //  Purposes no certificate is issued for, even signed correctly
    int purposes [] = { 0, CREDENTIAL_RESUME, 4, -1 };
    for (size_t i = 0; i < 4; i++) {
        Chat__Certificate cert = s_cert_body (purposes [i], "alice", NOW,
                                              NOW + CREDENTIAL_CERT_LIFETIME);
        assert_int_equal (s_cert_body_check (&cert, purposes [i], NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
        uint8_t *out = (uint8_t *) "x";
        assert_int_equal (credential_cert_issue (s.keyserver, purposes [i], "alice", s.fp,
                                                 s.identity, NOW, &out, &len),
                          CHAT_ERR_BAD_REQUEST);
        assert_null (out);
    }
}

//  Signed bodies whose contents are out of range
static void
test_cert_bad_contents (void **state)
{
    (void) state;
    Chat__Certificate cert = s_cert_body (CREDENTIAL_LOGGED_IN, "alice", NOW,
                                          NOW + CREDENTIAL_CERT_LIFETIME);
    //  Invalid usernames
    const char *names [] = { "", "a b", "caf\xc3\xa9", "123456789012345678901234567890123" };
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++) {
        cert.username = (char *) names [i];
        assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
    }
    cert.username = (char *) "alice";
    //  A fingerprint of another length
    cert.client_key_fingerprint.len = 31;
    assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    cert.client_key_fingerprint.len = 32;
    //  No identity key, or one that is not a usable key
    ProtobufCBinaryData identity = cert.identity_public_key;
    cert.identity_public_key.len = 0;
    assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    cert.identity_public_key.data = (uint8_t *) "not a key";
    cert.identity_public_key.len = 9;
    assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    cert.identity_public_key = identity;
    cert.identity_public_key.len -= 1;
    assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    cert.identity_public_key = identity;
    assert_int_equal (s_cert_body_check (&cert, CREDENTIAL_LOGGED_IN, NOW), CHAT_OK);
    //  A body that is not a Certificate at all, signed
    Chat__SignedCredential junk = CHAT__SIGNED_CREDENTIAL__INIT;
    uint8_t bytes [] = { 0xff, 0xff, 0xff };
    uint8_t *sig, *data;
    size_t sig_len, len;
    assert_int_equal (rsakey_sign_labelled (s.keyserver, CREDENTIAL_CERT_LABEL, bytes, 3,
                                            &sig, &sig_len), CHAT_OK);
    junk.body.data = bytes;
    junk.body.len = 3;
    junk.signature.data = sig;
    junk.signature.len = sig_len;
    assert_int_equal (wire_pack (&junk.base, &data, &len), CHAT_OK);
    assert_int_equal (s_cert_check (data, len, CREDENTIAL_LOGGED_IN, s.fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    free (data);
    free (sig);
}

static void
test_cert_truncated_oversized_garbage (void **state)
{
    (void) state;
    uint8_t *data;
    size_t len;
    s_cert (CREDENTIAL_LOGGED_IN, "alice", NOW, &data, &len);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal (s_cert_check (data, cut, CREDENTIAL_LOGGED_IN, s.fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_check (NULL, len, CREDENTIAL_LOGGED_IN, s.fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    //  Trailing bytes: protobuf reads an appended field as part of the
    //  credential; a junk tail does not parse
    uint8_t *longer = malloc (len + 3);
    assert_non_null (longer);
    memcpy (longer, data, len);
    memcpy (longer + len, "\xff\xff\xff", 3);
    assert_int_equal (s_cert_check (longer, len + 3, CREDENTIAL_LOGGED_IN, s.fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    free (longer);

    //  Over CREDENTIAL_MAX_SIZE, even correctly signed: refused unread
    Chat__Certificate cert = s_cert_body (CREDENTIAL_LOGGED_IN, "alice", NOW,
                                          NOW + CREDENTIAL_CERT_LIFETIME);
    static uint8_t padding [CREDENTIAL_MAX_SIZE];
    memset (padding, 'p', sizeof padding);
    ProtobufCBinaryData identity = cert.identity_public_key;
    uint8_t *big_identity = malloc (identity.len + sizeof padding);
    assert_non_null (big_identity);
    memcpy (big_identity, identity.data, identity.len);
    memcpy (big_identity + identity.len, padding, sizeof padding);
    cert.identity_public_key.data = big_identity;
    cert.identity_public_key.len = identity.len + sizeof padding;
    uint8_t *big;
    size_t big_len;
    s_sign_body (s.keyserver, CREDENTIAL_CERT_LABEL, &cert.base, &big, &big_len);
    assert_true (big_len > CREDENTIAL_MAX_SIZE);
    assert_int_equal (s_cert_check (big, big_len, CREDENTIAL_LOGGED_IN, s.fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    free (big);
    free (big_identity);

    //  Random bytes, and random bytes after a real start
    srand (11);
    uint8_t junk [2048];
    for (int round = 0; round < 300; round++) {
        size_t junk_len = (size_t) (rand () % (int) sizeof junk);
        for (size_t i = 0; i < junk_len; i++)
            junk [i] = (uint8_t) rand ();
        if (round % 2 && junk_len > 8)
            memcpy (junk, data, 8);
        assert_int_equal (s_cert_check (junk, junk_len, CREDENTIAL_LOGGED_IN, s.fp, NOW),
                          CHAT_ERR_BAD_CERTIFICATE);
    }
    free (data);
}

//  ---------------------------------------------------------------- key tickets

static void
test_ticket_round_trip (void **state)
{
    (void) state;
    uint8_t *data;
    size_t len;
    s_ticket (NOW, &data, &len);
    credential_ticket_t *ticket = NULL;
    assert_int_equal (credential_ticket_check (s.mainserver, data, len, "alice", s.fp,
                                               NOW + 5, &ticket), CHAT_OK);
    //  Every member copied faithfully: order and spelling as issued
    assert_memory_equal (ticket->conversation_id, s.conv, CONVERSATION_ID_SIZE);
    assert_int_equal (ticket->epoch, 7);
    assert_int_equal (ticket->member_count, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal (ticket->members [i], s_members [i]);
        assert_ptr_not_equal (ticket->members [i], s_members [i]);
    }
    assert_string_equal (ticket->uploader, "alice");
    credential_ticket_destroy (&ticket);
    assert_null (ticket);

    //  Signed over the body with the main server's key, labelled
    Chat__KeyTicket *body = (Chat__KeyTicket *) s_signed_body (
        s.mainserver, "chat/2 ticket", data, len, &chat__key_ticket__descriptor);
    assert_int_equal (body->issued_at, NOW);
    assert_int_equal (body->expires_at, NOW + CREDENTIAL_TICKET_LIFETIME);
    assert_memory_equal (body->client_key_fingerprint.data, s.fp, 32);
    chat__key_ticket__free_unpacked (body, NULL);

    //  256 members, each copied
    char names [CREDENTIAL_TICKET_MAX_MEMBERS][8];
    char *many [CREDENTIAL_TICKET_MAX_MEMBERS];
    for (int i = 0; i < CREDENTIAL_TICKET_MAX_MEMBERS; i++) {
        snprintf (names [i], sizeof names [i], "u%03d", i);
        many [i] = names [i];
    }
    credential_ticket_t big;
    s_ticket_init (&big, 1);
    big.members = many;
    big.member_count = CREDENTIAL_TICKET_MAX_MEMBERS;
    uint8_t *big_data;
    size_t big_len;
    assert_int_equal (credential_ticket_issue (s.mainserver, &big, s.fp, NOW,
                                               &big_data, &big_len), CHAT_OK);
    assert_int_equal (credential_ticket_check (s.mainserver, big_data, big_len, "alice",
                                               s.fp, NOW, &ticket), CHAT_OK);
    assert_int_equal (ticket->member_count, CREDENTIAL_TICKET_MAX_MEMBERS);
    for (int i = 0; i < CREDENTIAL_TICKET_MAX_MEMBERS; i++)
        assert_string_equal (ticket->members [i], names [i]);
    credential_ticket_destroy (&ticket);
    free (big_data);
    free (data);
}

static void
test_ticket_refusals (void **state)
{
    (void) state;
    uint8_t *data;
    size_t len;
    s_ticket (NOW, &data, &len);
    assert_int_equal (s_ticket_check (data, len, "alice", s.fp, NOW), CHAT_OK);
    //  Other uploader: another member, another spelling, nobody
    assert_int_equal (s_ticket_check (data, len, "Bob", s.fp, NOW), CHAT_ERR_BAD_TICKET);
    assert_int_equal (s_ticket_check (data, len, "ALICE", s.fp, NOW), CHAT_ERR_BAD_TICKET);
    assert_int_equal (s_ticket_check (data, len, "", s.fp, NOW), CHAT_ERR_BAD_TICKET);
    assert_int_equal (s_ticket_check (data, len, NULL, s.fp, NOW), CHAT_ERR_BAD_TICKET);
    //  Other client key
    assert_int_equal (s_ticket_check (data, len, "alice", s.other_fp, NOW), CHAT_ERR_BAD_TICKET);
    assert_int_equal (s_ticket_check (data, len, "alice", NULL, NOW), CHAT_ERR_BAD_TICKET);
    //  Other signer: the key server's own key, a stranger's
    assert_int_equal (s_ticket_check_with (s.keyserver, data, len, "alice", s.fp, NOW),
                      CHAT_ERR_BAD_TICKET);
    assert_int_equal (s_ticket_check_with (s.stranger, data, len, "alice", s.fp, NOW),
                      CHAT_ERR_BAD_TICKET);
    //  Expired, too far ahead
    assert_int_equal (s_ticket_check (data, len, "alice", s.fp,
                                      NOW + CREDENTIAL_TICKET_LIFETIME), CHAT_OK);
    assert_int_equal (s_ticket_check (data, len, "alice", s.fp,
                                      NOW + CREDENTIAL_TICKET_LIFETIME + 1), CHAT_ERR_BAD_TICKET);
    assert_int_equal (s_ticket_check (data, len, "alice", s.fp, NOW - 60), CHAT_OK);
    assert_int_equal (s_ticket_check (data, len, "alice", s.fp, NOW - 61), CHAT_ERR_BAD_TICKET);
    //  A certificate is no ticket, a ticket no certificate
    uint8_t *cert;
    size_t cert_len;
    s_cert (CREDENTIAL_LOGGED_IN, "alice", NOW, &cert, &cert_len);
    assert_int_equal (s_ticket_check_with (s.keyserver, cert, cert_len, "alice", s.fp, NOW),
                      CHAT_ERR_BAD_TICKET);
    assert_int_equal (s_cert_check_with (s.mainserver, data, len, CREDENTIAL_LOGGED_IN,
                                         s.fp, NOW), CHAT_ERR_BAD_CERTIFICATE);
    free (cert);
    //  Made by a stranger with the same contents
    credential_ticket_t ticket;
    s_ticket_init (&ticket, 7);
    uint8_t *forged;
    size_t forged_len;
    assert_int_equal (credential_ticket_issue (s.stranger, &ticket, s.fp, NOW,
                                               &forged, &forged_len), CHAT_OK);
    assert_int_equal (s_ticket_check (forged, forged_len, "alice", s.fp, NOW),
                      CHAT_ERR_BAD_TICKET);
    free (forged);
    free (data);
}

static void
test_ticket_fields_altered (void **state)
{
    (void) state;
    uint8_t *data;
    size_t len;
    s_ticket (NOW, &data, &len);
    const char *fewer [] = { "alice", "Bob" };
    const char *more [] = { "alice", "Bob", "carol.x", "mallory" };
    const char *respelled [] = { "alice", "bob", "carol.x" };
    uint8_t other_conv [CONVERSATION_ID_SIZE];
    memcpy (other_conv, s.conv, sizeof other_conv);
    other_conv [5] ^= 0x20;
    for (int field = 0; field < 10; field++) {
        Chat__KeyTicket *body = (Chat__KeyTicket *)
            s_body_of (data, len, &chat__key_ticket__descriptor);
        Chat__KeyTicket copy = *body;
        switch (field) {
            case 0: copy.conversation_id.data = other_conv; break;
            case 1: copy.epoch = 8; break;
            case 2: copy.members = (char **) fewer; copy.n_members = 2; break;
            case 3: copy.members = (char **) more; copy.n_members = 4; break;
            case 4: copy.members = (char **) respelled; break;
            case 5: copy.uploader = (char *) "Bob"; break;
            case 6: copy.client_key_fingerprint.data = s.other_fp; break;
            case 7: copy.issued_at += 1; break;
            case 8: copy.expires_at += 1; break;
            case 9: copy.epoch = 6; break;
        }
        uint8_t *forged;
        size_t forged_len;
        s_swap_body (data, len, &copy.base, &forged, &forged_len);
        const char *uploader = field == 5 ? "Bob" : "alice";
        const uint8_t *fp = field == 6 ? s.other_fp : s.fp;
        assert_int_equal (s_ticket_check (forged, forged_len, uploader, fp, NOW),
                          CHAT_ERR_BAD_TICKET);
        free (forged);
        chat__key_ticket__free_unpacked (body, NULL);
    }
    //  Signature bits
    Chat__SignedCredential *signed_ = chat__signed_credential__unpack (NULL, len, data);
    assert_non_null (signed_);
    for (size_t bit = 0; bit < signed_->signature.len * 8; bit += 97) {
        signed_->signature.data [bit / 8] ^= (uint8_t) (1 << (bit % 8));
        uint8_t *forged;
        size_t forged_len;
        assert_int_equal (wire_pack (&signed_->base, &forged, &forged_len), CHAT_OK);
        assert_int_equal (s_ticket_check (forged, forged_len, "alice", s.fp, NOW),
                          CHAT_ERR_BAD_TICKET);
        free (forged);
        signed_->signature.data [bit / 8] ^= (uint8_t) (1 << (bit % 8));
    }
    chat__signed_credential__free_unpacked (signed_, NULL);
    free (data);
}

//  Signed by the main server, but out of range: refused
static void
test_ticket_bad_contents (void **state)
{
    (void) state;
    Chat__KeyTicket body = s_ticket_body (NOW, NOW + CREDENTIAL_TICKET_LIFETIME);
    assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_OK);
    //  Lifetime over 300 s, times no issuer makes
    body.expires_at += 1;
    assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_ERR_BAD_TICKET);
    int64_t extremes [][2] = { { INT64_MIN, INT64_MAX }, { INT64_MIN, NOW },
                               { NOW, INT64_MAX }, { NOW, NOW - 1 } };
    for (size_t i = 0; i < sizeof extremes / sizeof extremes [0]; i++) {
        body.issued_at = extremes [i][0];
        body.expires_at = extremes [i][1];
        assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_ERR_BAD_TICKET);
    }
    body = s_ticket_body (NOW, NOW + CREDENTIAL_TICKET_LIFETIME);
    //  Epoch 0
    body.epoch = 0;
    assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_ERR_BAD_TICKET);
    body.epoch = 3;
    //  A conversation id of another length
    body.conversation_id.len = 15;
    assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_ERR_BAD_TICKET);
    body.conversation_id.len = 0;
    assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_ERR_BAD_TICKET);
    body.conversation_id.len = CONVERSATION_ID_SIZE;
    //  No members, an invalid member, 257 members
    body.n_members = 0;
    assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_ERR_BAD_TICKET);
    const char *bad [] = { "alice", "b o b" };
    body.members = (char **) bad;
    body.n_members = 2;
    assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_ERR_BAD_TICKET);
    char names [CREDENTIAL_TICKET_MAX_MEMBERS + 1][8];
    char *many [CREDENTIAL_TICKET_MAX_MEMBERS + 1];
    for (int i = 0; i <= CREDENTIAL_TICKET_MAX_MEMBERS; i++) {
        snprintf (names [i], sizeof names [i], "u%03d", i);
        many [i] = names [i];
    }
    body.members = many;
    body.n_members = CREDENTIAL_TICKET_MAX_MEMBERS + 1;
    assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_ERR_BAD_TICKET);
    body.n_members = CREDENTIAL_TICKET_MAX_MEMBERS;
    assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_OK);
    //  Members out of order, or one twice (in any spelling)
    const char *unsorted [] = { "Bob", "alice" };
    const char *twice [] = { "alice", "bob", "Bob" };
    const char *same [] = { "alice", "alice" };
    body.members = (char **) unsorted;
    body.n_members = 2;
    assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_ERR_BAD_TICKET);
    body.members = (char **) twice;
    body.n_members = 3;
    assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_ERR_BAD_TICKET);
    body.members = (char **) same;
    body.n_members = 2;
    assert_int_equal (s_ticket_body_check (&body, NOW), CHAT_ERR_BAD_TICKET);
    //  An invalid uploader name, even one the caller passes
    body = s_ticket_body (NOW, NOW + CREDENTIAL_TICKET_LIFETIME);
    body.uploader = (char *) "al ice";
    uint8_t *data;
    size_t len;
    s_sign_body (s.mainserver, CREDENTIAL_TICKET_LABEL, &body.base, &data, &len);
    assert_int_equal (s_ticket_check (data, len, "al ice", s.fp, NOW), CHAT_ERR_BAD_TICKET);
    free (data);
}

static void
test_ticket_issue_refusals (void **state)
{
    (void) state;
    credential_ticket_t ticket;
    uint8_t *out = (uint8_t *) "x";
    size_t len = 9;
    s_ticket_init (&ticket, 0);
    assert_int_equal (credential_ticket_issue (s.mainserver, &ticket, s.fp, NOW, &out, &len),
                      CHAT_ERR_BAD_REQUEST);
    assert_null (out);
    s_ticket_init (&ticket, 1);
    ticket.member_count = 0;
    assert_int_equal (credential_ticket_issue (s.mainserver, &ticket, s.fp, NOW, &out, &len),
                      CHAT_ERR_BAD_REQUEST);
    ticket.member_count = CREDENTIAL_TICKET_MAX_MEMBERS + 1;
    assert_int_equal (credential_ticket_issue (s.mainserver, &ticket, s.fp, NOW, &out, &len),
                      CHAT_ERR_BAD_REQUEST);
    s_ticket_init (&ticket, 1);
    ticket.uploader = (char *) "a/b";
    assert_int_equal (credential_ticket_issue (s.mainserver, &ticket, s.fp, NOW, &out, &len),
                      CHAT_ERR_BAD_REQUEST);
    s_ticket_init (&ticket, 1);
    const char *bad [] = { "alice", "" };
    ticket.members = (char **) bad;
    ticket.member_count = 2;
    assert_int_equal (credential_ticket_issue (s.mainserver, &ticket, s.fp, NOW, &out, &len),
                      CHAT_ERR_BAD_REQUEST);
    const char *unsorted [] = { "carol", "alice" };
    ticket.members = (char **) unsorted;
    assert_int_equal (credential_ticket_issue (s.mainserver, &ticket, s.fp, NOW, &out, &len),
                      CHAT_ERR_BAD_REQUEST);
    const char *twice [] = { "alice", "ALICE" };
    ticket.members = (char **) twice;
    assert_int_equal (credential_ticket_issue (s.mainserver, &ticket, s.fp, NOW, &out, &len),
                      CHAT_ERR_BAD_REQUEST);
    s_ticket_init (&ticket, 1);
    assert_int_equal (credential_ticket_issue (s.mainserver, &ticket, NULL, NOW, &out, &len),
                      CHAT_ERR_BAD_REQUEST);
    assert_null (out);
    assert_int_equal (len, 0);
    //  The public half of a key cannot sign
    const uint8_t *der = rsakey_der (s.mainserver, &len);
    rsakey_t *public_only = rsakey_from_der (der, len);
    assert_non_null (public_only);
    assert_int_not_equal (credential_ticket_issue (public_only, &ticket, s.fp, NOW, &out, &len),
                          CHAT_OK);
    assert_null (out);
    rsakey_destroy (&public_only);
}

static void
test_ticket_truncated_garbage (void **state)
{
    (void) state;
    uint8_t *data;
    size_t len;
    s_ticket (NOW, &data, &len);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal (s_ticket_check (data, cut, "alice", s.fp, NOW), CHAT_ERR_BAD_TICKET);
    uint8_t *copy = malloc (len);
    assert_non_null (copy);
    for (size_t bit = 0; bit < len * 8; bit += 5) {
        memcpy (copy, data, len);
        copy [bit / 8] ^= (uint8_t) (1 << (bit % 8));
        assert_int_equal (s_ticket_check (copy, len, "alice", s.fp, NOW), CHAT_ERR_BAD_TICKET);
    }
    free (copy);
    //  Oversized is refused before anything is read
    uint8_t *big = calloc (1, CREDENTIAL_MAX_SIZE + 1);
    assert_non_null (big);
    memcpy (big, data, len);
    assert_int_equal (s_ticket_check (big, CREDENTIAL_MAX_SIZE + 1, "alice", s.fp, NOW),
                      CHAT_ERR_BAD_TICKET);
    free (big);
    srand (12);
    uint8_t junk [1024];
    for (int round = 0; round < 300; round++) {
        size_t junk_len = (size_t) (rand () % (int) sizeof junk);
        for (size_t i = 0; i < junk_len; i++)
            junk [i] = (uint8_t) rand ();
        if (round % 2 && junk_len > 6)
            memcpy (junk, data, 6);
        assert_int_equal (s_ticket_check (junk, junk_len, "alice", s.fp, NOW),
                          CHAT_ERR_BAD_TICKET);
    }
    free (data);
}

//  ---------------------------------------------------------------- resume tokens

//  A certificate sealed under a key of one's own (the key server's resume
//  tokens): it opens only under that key, with its purpose and lifetime
static void
test_resume_tokens (void **state)
{
    (void) state;
    uint8_t own [FERNET_KEY_SIZE], other [FERNET_KEY_SIZE];
    assert_int_equal (secret_random (own, sizeof own), 0);
    assert_int_equal (secret_random (other, sizeof other), 0);
    uint8_t *token;
    size_t len;
    char *user = NULL;
    assert_int_equal (credential_cert_seal (own, CREDENTIAL_RESUME, "alice", s.fp, NOW,
                                            86400, &token, &len), CHAT_OK);
    assert_true (len <= CREDENTIAL_MAX_TOKEN);
    assert_int_equal (credential_cert_open (own, token, len, CREDENTIAL_RESUME, s.fp,
                                            NOW + 86000, 86400, &user), CHAT_OK);
    assert_string_equal (user, "alice");
    free (user);
    //  Past its lifetime, other purpose, other key, other client key
    assert_int_equal (credential_cert_open (own, token, len, CREDENTIAL_RESUME, s.fp,
                                            NOW + 86401, 86400, &user),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (credential_cert_open (own, token, len, CREDENTIAL_LOGGED_IN, s.fp,
                                            NOW, 86400, &user), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (credential_cert_open (other, token, len, CREDENTIAL_RESUME,
                                            s.fp, NOW, 86400, &user),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (credential_cert_open (own, token, len, CREDENTIAL_RESUME, s.other_fp,
                                            NOW, 86400, &user), CHAT_ERR_BAD_CERTIFICATE);
    //  Opened by a checker that allows less than it was sealed for
    assert_int_equal (credential_cert_open (own, token, len, CREDENTIAL_RESUME, s.fp,
                                            NOW, 3600, &user), CHAT_ERR_BAD_CERTIFICATE);
    assert_null (user);
    //  A resume token is not a signed certificate
    assert_int_equal (s_cert_check (token, len, CREDENTIAL_LOGGED_IN, s.fp, NOW),
                      CHAT_ERR_BAD_CERTIFICATE);
    for (size_t cut = 0; cut < len; cut += 3)
        assert_int_equal (credential_cert_open (own, token, cut, CREDENTIAL_RESUME, s.fp,
                                                NOW, 86400, &user), CHAT_ERR_BAD_CERTIFICATE);
    free (token);
    //  No purpose, no lifetime, no valid name: refused
    assert_int_equal (credential_cert_seal (own, 0, "alice", s.fp, NOW, 10, &token, &len),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (credential_cert_seal (own, CREDENTIAL_RESUME, "alice", s.fp, NOW, 0,
                                            &token, &len), CHAT_ERR_BAD_REQUEST);
    assert_int_equal (credential_cert_seal (own, CREDENTIAL_RESUME, "a b", s.fp, NOW, 10,
                                            &token, &len), CHAT_ERR_BAD_REQUEST);
    assert_null (token);
    secret_wipe (own, sizeof own);
    secret_wipe (other, sizeof other);
}

//  ---------------------------------------------------------------- usernames

static void
test_username_valid (void **state)
{
    (void) state;
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
                           "a:b", "a@b", "\x7f", "\xff", name };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        assert_false (credential_username_valid (bad [i]));
        uint8_t *out = (uint8_t *) "x";
        size_t len = 99;
        assert_int_equal (credential_cert_issue (s.keyserver, CREDENTIAL_REGISTERED,
                                                 bad [i], s.fp, s.identity, NOW, &out, &len),
                          CHAT_ERR_BAD_REQUEST);
        assert_null (out);
    }
    assert_false (credential_username_valid (NULL));
}

static void
test_username_fold_compare (void **state)
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
    //  Bytes above ASCII are left as they are
    credential_username_fold ("\xc4\xb0I", out, sizeof out);
    assert_string_equal (out, "\xc4\xb0i");

    assert_int_equal (credential_username_compare ("Alice", "aLICE"), 0);
    assert_true (credential_username_compare ("alice", "bob") < 0);
    assert_true (credential_username_compare ("Bob", "alice") > 0);
    assert_true (credential_username_compare ("al", "alice") < 0);
    //  The lower-case form decides: '_' (0x5F) sorts before 'a' even
    //  against 'A' (0x41), and '.' (0x2E) before digits
    assert_true (credential_username_compare ("_x", "Ax") < 0);
    assert_true (credential_username_compare ("a.b", "a0b") < 0);
}

//  After setlocale in a Turkish locale, where the C library's tolower and
//  strcasecmp leave 'I' alone, names still fold and compare as in "C"
static void
test_username_locale (void **state)
{
    (void) state;
    if (!testlocale_turkish ()) {
        fprintf (stderr, "test_username_locale: skipped: no tr_TR.UTF-8 locale to test in\n");
        skip ();
    }
    char out [USERNAME_MAX + 1];
    credential_username_fold ("IVAN.Iz", out, sizeof out);
    assert_string_equal (out, "ivan.iz");
    assert_int_equal (credential_username_compare ("Ivan", "ivan"), 0);
    assert_true (credential_username_compare ("Ivo", "ivan") > 0);
    testlocale_reset ();
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_cert_round_trip),
        cmocka_unit_test (test_cert_wrong_signer),
        cmocka_unit_test (test_cert_fields_altered),
        cmocka_unit_test (test_cert_bits_flipped),
        cmocka_unit_test (test_cert_times),
        cmocka_unit_test (test_cert_lifetime),
        cmocka_unit_test (test_cert_other_purpose_and_key),
        cmocka_unit_test (test_cert_bad_contents),
        cmocka_unit_test (test_cert_truncated_oversized_garbage),
        cmocka_unit_test (test_ticket_round_trip),
        cmocka_unit_test (test_ticket_refusals),
        cmocka_unit_test (test_ticket_fields_altered),
        cmocka_unit_test (test_ticket_bad_contents),
        cmocka_unit_test (test_ticket_issue_refusals),
        cmocka_unit_test (test_ticket_truncated_garbage),
        cmocka_unit_test (test_resume_tokens),
        cmocka_unit_test (test_username_valid),
        cmocka_unit_test (test_username_fold_compare),
        cmocka_unit_test (test_username_locale),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
