/*  fuzz_certificate - a certificate as the main server checks it (signed
    by the key server), and a resume token as the key server opens it
    (sealed under its own key), under fixed keys and clock

    Input: a SignedCredential (or anything) as sent; or FUZZ_MODE_SEAL then
    a Certificate body that is signed here with the issuer's key, to reach
    what lies behind the signature; or FUZZ_MODE_RESUME then a Certificate
    body that is sealed here as a resume token.
*/
#include "chaterror.h"
#include "credential.h"
#include "wire.h"
#include "fuzz_util.h"

static rsakey_t *s_issuer;          //  the key server's key
static rsakey_t *s_other;           //  anyone else's
static uint8_t s_resume_key [FERNET_KEY_SIZE];
static uint8_t s_fingerprint [32];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_issuer = rsakey_generate (2048);
    s_other = rsakey_generate (2048);
    FUZZ_CHECK (s_issuer && s_other);
    memset (s_resume_key, FUZZ_SHARED_BYTE, sizeof s_resume_key);
    memset (s_fingerprint, FUZZ_FINGERPRINT_BYTE, sizeof s_fingerprint);
    return 0;
}

static void
s_check (const uint8_t *data, size_t len)
{
    static const int purposes [] = { CREDENTIAL_REGISTERED, CREDENTIAL_LOGGED_IN, 0, 3 };
    bool passed = false;
    for (size_t i = 0; i < sizeof purposes / sizeof purposes [0]; i++) {
        char *username = NULL;
        rsakey_t *identity = NULL;
        int rc = credential_cert_check (s_issuer, data, len, purposes [i], s_fingerprint,
                                        FUZZ_NOW + 1, &username, &identity);
        if (rc == CHAT_OK) {
            passed = true;
            FUZZ_CHECK (purposes [i] == CREDENTIAL_REGISTERED
                     || purposes [i] == CREDENTIAL_LOGGED_IN);
            FUZZ_CHECK (username && credential_username_valid (username));
            FUZZ_CHECK (identity && !rsakey_has_private (identity));
            free (username);
            rsakey_destroy (&identity);
            //  Not for another client key, nor past its lifetime, nor
            //  checked with any other key
            uint8_t other_key [32];
            memset (other_key, FUZZ_FINGERPRINT_BYTE + 1, sizeof other_key);
            FUZZ_CHECK (credential_cert_check (s_issuer, data, len, purposes [i], other_key,
                                               FUZZ_NOW + 1, &username, &identity)
                        == CHAT_ERR_BAD_CERTIFICATE);
            FUZZ_CHECK (credential_cert_check (s_issuer, data, len, purposes [i],
                                               s_fingerprint,
                                               FUZZ_NOW + CREDENTIAL_CERT_LIFETIME + 2,
                                               &username, &identity)
                        == CHAT_ERR_BAD_CERTIFICATE);
            FUZZ_CHECK (credential_cert_check (s_other, data, len, purposes [i],
                                               s_fingerprint, FUZZ_NOW + 1, &username,
                                               &identity) == CHAT_ERR_BAD_CERTIFICATE);
        }
        else {
            FUZZ_CHECK_RC (rc, rc == CHAT_ERR_BAD_CERTIFICATE);
            FUZZ_CHECK (username == NULL && identity == NULL);
        }
    }
    if (passed) {
        //  A certificate is never a ticket
        credential_ticket_t *ticket = NULL;
        FUZZ_CHECK (credential_ticket_check (s_issuer, data, len, FUZZ_USERNAME,
                                             s_fingerprint, FUZZ_NOW + 1,
                                             &ticket) == CHAT_ERR_BAD_TICKET);
        FUZZ_CHECK (ticket == NULL);
    }
    //  The same bytes as a resume token
    char *username = NULL;
    int rc = credential_cert_open (s_resume_key, data, len, CREDENTIAL_RESUME, s_fingerprint,
                                   FUZZ_NOW + 1, 24 * 3600, &username);
    FUZZ_CHECK_RC (rc, rc == CHAT_OK || rc == CHAT_ERR_BAD_CERTIFICATE);
    if (rc == CHAT_OK) {
        FUZZ_CHECK (username && credential_username_valid (username));
        free (username);
        uint8_t other_key [32];
        memset (other_key, FUZZ_FINGERPRINT_BYTE + 1, sizeof other_key);
        FUZZ_CHECK (credential_cert_open (s_resume_key, data, len, CREDENTIAL_RESUME,
                                          other_key, FUZZ_NOW + 1, 24 * 3600, &username)
                    == CHAT_ERR_BAD_CERTIFICATE);
    }
    else
        FUZZ_CHECK (username == NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 1 && data [0] == FUZZ_MODE_SEAL) {
        //  Signed as the key server signs: whatever the body says
        uint8_t *signature = NULL;
        size_t signature_len = 0;
        FUZZ_CHECK (rsakey_sign_labelled (s_issuer, CREDENTIAL_CERT_LABEL, data + 1, size - 1,
                                          &signature, &signature_len) == CHAT_OK);
        Chat__SignedCredential signed_ = CHAT__SIGNED_CREDENTIAL__INIT;
        signed_.body.data = (uint8_t *) data + 1;
        signed_.body.len = size - 1;
        signed_.signature.data = signature;
        signed_.signature.len = signature_len;
        uint8_t *packed = NULL;
        size_t packed_len = 0;
        FUZZ_CHECK (wire_pack (&signed_.base, &packed, &packed_len) == CHAT_OK);
        s_check (packed, packed_len);
        free (packed);
        free (signature);
    }
    else
    if (size >= 1 && data [0] == FUZZ_MODE_RESUME) {
        char *token = NULL;
        FUZZ_CHECK (fernet_encrypt (s_resume_key, data + 1, size - 1, FUZZ_NOW,
                                    &token) == CHAT_OK);
        s_check ((const uint8_t *) token, strlen (token));
        free (token);
    }
    else
        s_check (data, size);
    return 0;
}
