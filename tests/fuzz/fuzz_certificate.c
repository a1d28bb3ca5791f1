/*  fuzz_certificate - a certificate as the main server (and the key server,
    for resume) checks it, under fixed keys and clock

    Input: the token; or FUZZ_MODE_SEAL then a Certificate plaintext that is
    sealed here under the certificate key, to reach what lies behind the MAC.
*/
#include "chaterror.h"
#include "credential.h"
#include "wire.h"
#include "fuzz_util.h"

static credential_keys_t s_keys;
static uint8_t s_fingerprint [32];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    uint8_t shared [SECRET_SHARED_SIZE];
    memset (shared, FUZZ_SHARED_BYTE, sizeof shared);
    FUZZ_CHECK (credential_keys_derive (shared, &s_keys) == CHAT_OK);
    memset (s_fingerprint, FUZZ_FINGERPRINT_BYTE, sizeof s_fingerprint);
    return 0;
}

static void
s_check (const uint8_t *token, size_t len)
{
    static const int purposes [] = { CREDENTIAL_REGISTERED, CREDENTIAL_LOGGED_IN, 0, 3 };
    bool passed = false;
    for (size_t i = 0; i < sizeof purposes / sizeof purposes [0]; i++) {
        char *username = NULL;
        int rc = credential_cert_check (&s_keys, token, len, purposes [i],
                                        s_fingerprint, FUZZ_NOW + 1, &username);
        if (rc == CHAT_OK) {
            passed = true;
            FUZZ_CHECK (purposes [i] == CREDENTIAL_REGISTERED
                     || purposes [i] == CREDENTIAL_LOGGED_IN);
            FUZZ_CHECK (username && credential_username_valid (username));
            free (username);
            //  Not for another client key, nor past its lifetime
            uint8_t other_key [32];
            memset (other_key, FUZZ_FINGERPRINT_BYTE + 1, sizeof other_key);
            FUZZ_CHECK (credential_cert_check (&s_keys, token, len, purposes [i],
                                               other_key, FUZZ_NOW + 1, &username)
                        == CHAT_ERR_BAD_CERTIFICATE);
            FUZZ_CHECK (credential_cert_check (&s_keys, token, len, purposes [i],
                                               s_fingerprint,
                                               FUZZ_NOW + CREDENTIAL_CERT_LIFETIME + 2,
                                               &username) == CHAT_ERR_BAD_CERTIFICATE);
        }
        else {
            FUZZ_CHECK_RC (rc, rc == CHAT_ERR_BAD_CERTIFICATE);
            FUZZ_CHECK (username == NULL);
        }
    }
    if (passed) {
        //  A certificate is never a ticket
        uint8_t conversation [CONVERSATION_ID_SIZE];
        memset (conversation, FUZZ_CONVERSATION_BYTE, sizeof conversation);
        FUZZ_CHECK (credential_ticket_check (&s_keys, token, len, FUZZ_USERNAME,
                                             conversation, s_fingerprint,
                                             FUZZ_NOW + 1) == CHAT_ERR_BAD_TICKET);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 1 && data [0] == FUZZ_MODE_SEAL) {
        char *token = NULL;
        FUZZ_CHECK (fernet_encrypt (s_keys.cert_key, data + 1, size - 1,
                                    FUZZ_NOW, &token) == CHAT_OK);
        s_check ((const uint8_t *) token, strlen (token));
        free (token);
    }
    else
        s_check (data, size);
    return 0;
}
