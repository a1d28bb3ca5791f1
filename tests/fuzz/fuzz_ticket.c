/*  fuzz_ticket - a key ticket as the key server checks it (signed by the
    main server), under fixed keys and clock

    Input: a SignedCredential (or anything) as sent; or FUZZ_MODE_SEAL then
    a KeyTicket body that is signed here with the issuer's key, to reach
    what lies behind the signature.
*/
#include "chaterror.h"
#include "credential.h"
#include "wire.h"
#include "fuzz_util.h"

static rsakey_t *s_issuer;          //  the main server's key
static rsakey_t *s_other;
static uint8_t s_fingerprint [32];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_issuer = rsakey_generate (2048);
    s_other = rsakey_generate (2048);
    FUZZ_CHECK (s_issuer && s_other);
    memset (s_fingerprint, FUZZ_FINGERPRINT_BYTE, sizeof s_fingerprint);
    return 0;
}

static void
s_check (const uint8_t *data, size_t len)
{
    credential_ticket_t *ticket = NULL;
    int rc = credential_ticket_check (s_issuer, data, len, FUZZ_USERNAME, s_fingerprint,
                                      FUZZ_NOW + 1, &ticket);
    FUZZ_CHECK_RC (rc, rc == CHAT_OK || rc == CHAT_ERR_BAD_TICKET);
    if (rc == CHAT_OK) {
        //  What the key server relies on: an epoch, 1..256 valid members,
        //  the uploader it asked for
        FUZZ_CHECK (ticket && ticket->epoch > 0);
        FUZZ_CHECK (ticket->member_count >= 1
                 && ticket->member_count <= CREDENTIAL_TICKET_MAX_MEMBERS);
        for (size_t i = 0; i < ticket->member_count; i++)
            FUZZ_CHECK (credential_username_valid (ticket->members [i]));
        FUZZ_CHECK (strcmp (ticket->uploader, FUZZ_USERNAME) == 0);
        credential_ticket_destroy (&ticket);
        //  It names alice on this client key, for its lifetime, signed by
        //  this issuer: never anyone or anything else
        credential_ticket_t *other = NULL;
        FUZZ_CHECK (credential_ticket_check (s_issuer, data, len, "ALICE", s_fingerprint,
                                             FUZZ_NOW + 1, &other) == CHAT_ERR_BAD_TICKET);
        uint8_t other_key [32];
        memset (other_key, FUZZ_FINGERPRINT_BYTE + 1, sizeof other_key);
        FUZZ_CHECK (credential_ticket_check (s_issuer, data, len, FUZZ_USERNAME, other_key,
                                             FUZZ_NOW + 1, &other) == CHAT_ERR_BAD_TICKET);
        FUZZ_CHECK (credential_ticket_check (s_issuer, data, len, FUZZ_USERNAME,
                                             s_fingerprint,
                                             FUZZ_NOW + CREDENTIAL_TICKET_LIFETIME + 2,
                                             &other) == CHAT_ERR_BAD_TICKET);
        FUZZ_CHECK (credential_ticket_check (s_other, data, len, FUZZ_USERNAME, s_fingerprint,
                                             FUZZ_NOW + 1, &other) == CHAT_ERR_BAD_TICKET);
        FUZZ_CHECK (other == NULL);
    }
    else
        FUZZ_CHECK (ticket == NULL);
    //  Nor as a certificate
    char *username = NULL;
    rsakey_t *identity = NULL;
    FUZZ_CHECK (credential_cert_check (s_issuer, data, len, CREDENTIAL_LOGGED_IN,
                                       s_fingerprint, FUZZ_NOW + 1, &username,
                                       &identity) == CHAT_ERR_BAD_CERTIFICATE);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 1 && data [0] == FUZZ_MODE_SEAL) {
        uint8_t *signature = NULL;
        size_t signature_len = 0;
        FUZZ_CHECK (rsakey_sign_labelled (s_issuer, CREDENTIAL_TICKET_LABEL, data + 1,
                                          size - 1, &signature, &signature_len) == CHAT_OK);
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
        s_check (data, size);
    return 0;
}
