/*  fuzz_certificate - a signed certificate as the main server checks it
    (credential_cert_check with the key server's public key), under fixed
    keys and clock

    Input: the SignedCredential; or FUZZ_MODE_SEAL then a Certificate body
    that is signed here with the key server's key (to reach what lies behind
    the signature); or FUZZ_MODE_FORGE then a body signed with another key,
    which must never pass. Whatever passes is checked against the rules of
    proto/README.md section 9, read from the body independently.

    The same raw input is also a server key rotation statement as a client
    checks it (keyrotation_check: the key server's key pinned, the main
    server's offered): what passes must be, read independently, the key
    server's DER, the main server's fingerprint and a signature by the key
    server's key under "chat/2 key rotation" (proto/README.md section 7).
*/
#include "chaterror.h"
#include "credential.h"
#include "keyrotation.h"
#include "wire.h"
#include "fuzz_util.h"

static rsakey_t *s_keyserver;           //  signs certificates
static rsakey_t *s_other;               //  the main server: signs nothing here
static uint8_t s_fingerprint [32];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_keyserver = fuzz_load_key (FUZZ_KEYSERVER_KEY);
    s_other = fuzz_load_key (FUZZ_MAINSERVER_KEY);
    memset (s_fingerprint, FUZZ_FINGERPRINT_BYTE, sizeof s_fingerprint);
    return 0;
}

//  What an accepted certificate must say, read from its body without
//  credential.c
static void
s_check_accepted (const uint8_t *data, size_t len, int purpose, const char *username,
                  rsakey_t *identity)
{
    Chat__SignedCredential *signed_ = chat__signed_credential__unpack (NULL, len, data);
    FUZZ_CHECK (signed_);
    FUZZ_CHECK (rsakey_verify_labelled (s_keyserver, "chat/2 certificate", signed_->body.data,
                                        signed_->body.len, signed_->signature.data,
                                        signed_->signature.len) == CHAT_OK);
    Chat__Certificate *cert = chat__certificate__unpack (NULL, signed_->body.len,
                                                         signed_->body.data);
    FUZZ_CHECK (cert);
    FUZZ_CHECK ((int) cert->purpose == purpose);
    FUZZ_CHECK (strcmp (cert->username, username) == 0);
    FUZZ_CHECK (credential_username_valid (username));
    FUZZ_CHECK (cert->client_key_fingerprint.len == 32
             && memcmp (cert->client_key_fingerprint.data, s_fingerprint, 32) == 0);
    FUZZ_CHECK (cert->expires_at >= FUZZ_NOW + 1);
    FUZZ_CHECK (cert->issued_at <= FUZZ_NOW + 1 + 60);
    FUZZ_CHECK (cert->issued_at <= cert->expires_at);
    FUZZ_CHECK ((uint64_t) cert->expires_at - (uint64_t) cert->issued_at
                <= CREDENTIAL_CERT_LIFETIME);
    size_t der_len;
    const uint8_t *der = rsakey_der (identity, &der_len);
    FUZZ_CHECK (der_len == cert->identity_public_key.len
             && memcmp (der, cert->identity_public_key.data, der_len) == 0);
    chat__certificate__free_unpacked (cert, NULL);
    chat__signed_credential__free_unpacked (signed_, NULL);
}

static void
s_check (const uint8_t *data, size_t len, bool forged)
{
    static const int purposes [] = { CREDENTIAL_REGISTERED, CREDENTIAL_LOGGED_IN,
                                     0, CREDENTIAL_RESUME };
    bool passed = false;
    for (size_t i = 0; i < sizeof purposes / sizeof purposes [0]; i++) {
        char *username = NULL;
        rsakey_t *identity = NULL;
        int rc = credential_cert_check (s_keyserver, data, len, purposes [i],
                                        s_fingerprint, FUZZ_NOW + 1, &username, &identity);
        if (rc != CHAT_OK) {
            FUZZ_CHECK_RC (rc, rc == CHAT_ERR_BAD_CERTIFICATE);
            FUZZ_CHECK (username == NULL && identity == NULL);
            continue;
        }
        passed = true;
        FUZZ_CHECK (!forged);
        FUZZ_CHECK (purposes [i] == CREDENTIAL_REGISTERED
                 || purposes [i] == CREDENTIAL_LOGGED_IN);
        FUZZ_CHECK (username && identity && !rsakey_has_private (identity));
        s_check_accepted (data, len, purposes [i], username, identity);
        free (username);
        rsakey_destroy (&identity);
        //  Not for another client key, past its lifetime, or with another key
        uint8_t other_fp [32];
        memset (other_fp, FUZZ_FINGERPRINT_BYTE + 1, sizeof other_fp);
        FUZZ_CHECK (credential_cert_check (s_keyserver, data, len, purposes [i], other_fp,
                                           FUZZ_NOW + 1, &username, &identity)
                    == CHAT_ERR_BAD_CERTIFICATE);
        FUZZ_CHECK (credential_cert_check (s_keyserver, data, len, purposes [i],
                                           s_fingerprint,
                                           FUZZ_NOW + CREDENTIAL_CERT_LIFETIME + 62,
                                           &username, &identity)
                    == CHAT_ERR_BAD_CERTIFICATE);
        FUZZ_CHECK (credential_cert_check (s_other, data, len, purposes [i], s_fingerprint,
                                           FUZZ_NOW + 1, &username, &identity)
                    == CHAT_ERR_BAD_CERTIFICATE);
    }
    if (passed) {
        //  A certificate is never a ticket, even checked with its signer's key
        credential_ticket_t *ticket = NULL;
        FUZZ_CHECK (credential_ticket_check (s_keyserver, data, len, FUZZ_USERNAME,
                                             s_fingerprint, FUZZ_NOW + 1, &ticket)
                    == CHAT_ERR_BAD_TICKET);
        FUZZ_CHECK (ticket == NULL);
    }
}

//  The input as a key rotation statement: "the key server's key was
//  replaced by the main server's"
static void
s_check_rotation (const uint8_t *data, size_t len)
{
    const char *pinned = rsakey_fingerprint_text (s_keyserver);
    const char *offered = rsakey_fingerprint_text (s_other);
    int64_t made_at = 0;
    keyrotation_result_t result = keyrotation_check (data, len, pinned, offered, &made_at);
    FUZZ_CHECK (result >= KEYROTATION_OK && result <= KEYROTATION_BAD_SIGNATURE);
    if (result != KEYROTATION_OK)
        return;
    Chat__KeyRotation *statement = chat__key_rotation__unpack (NULL, len, data);
    FUZZ_CHECK (statement);
    Chat__KeyRotationBody *body = chat__key_rotation_body__unpack (
        NULL, statement->body.len, statement->body.data);
    FUZZ_CHECK (body);
    size_t der_len;
    const uint8_t *der = rsakey_der (s_keyserver, &der_len);
    FUZZ_CHECK (body->old_public_key.len == der_len
             && memcmp (body->old_public_key.data, der, der_len) == 0);
    FUZZ_CHECK (body->new_key_fingerprint.len == 32
             && memcmp (body->new_key_fingerprint.data, rsakey_fingerprint (s_other), 32) == 0);
    FUZZ_CHECK (body->made_at == made_at);
    FUZZ_CHECK (rsakey_verify_labelled (s_keyserver, KEYROTATION_LABEL, statement->body.data,
                                        statement->body.len, statement->signature.data,
                                        statement->signature.len) == CHAT_OK);
    //  the same statement speaks for no other pin, and for no other new key
    FUZZ_CHECK (keyrotation_check (data, len, offered, offered, NULL)
                == KEYROTATION_OTHER_OLD_KEY);
    FUZZ_CHECK (keyrotation_check (data, len, pinned, pinned, NULL)
                == KEYROTATION_OTHER_NEW_KEY);
    chat__key_rotation_body__free_unpacked (body, NULL);
    chat__key_rotation__free_unpacked (statement, NULL);
}

//  A SignedCredential over body, signed by key as a certificate
static void
s_signed (rsakey_t *key, const uint8_t *body, size_t body_len, uint8_t **out, size_t *len)
{
    uint8_t *sig;
    size_t sig_len;
    FUZZ_CHECK (rsakey_sign_labelled (key, CREDENTIAL_CERT_LABEL, body, body_len,
                                      &sig, &sig_len) == CHAT_OK);
    Chat__SignedCredential signed_ = CHAT__SIGNED_CREDENTIAL__INIT;
    signed_.body.data = (uint8_t *) body;
    signed_.body.len = body_len;
    signed_.signature.data = sig;
    signed_.signature.len = sig_len;
    FUZZ_CHECK (wire_pack (&signed_.base, out, len) == CHAT_OK);
    free (sig);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 1 && (data [0] == FUZZ_MODE_SEAL || data [0] == FUZZ_MODE_FORGE)) {
        bool forged = data [0] == FUZZ_MODE_FORGE;
        uint8_t *credential;
        size_t len;
        s_signed (forged ? s_other : s_keyserver, data + 1, size - 1, &credential, &len);
        s_check (credential, len, forged);
        free (credential);
    }
    else {
        s_check (data, size, false);
        s_check_rotation (data, size);
    }
    return 0;
}
