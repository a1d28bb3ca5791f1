/*  fuzz_ticket - a membership ticket as the key server checks it, under
    fixed keys and clock

    Input: the token; or FUZZ_MODE_SEAL then a MembershipTicket plaintext
    that is sealed here under the ticket key.
*/
#include "chaterror.h"
#include "credential.h"
#include "wire.h"
#include "fuzz_util.h"

static credential_keys_t s_keys;
static uint8_t s_fingerprint [32];
static uint8_t s_conversation [CONVERSATION_ID_SIZE];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    uint8_t shared [SECRET_SHARED_SIZE];
    memset (shared, FUZZ_SHARED_BYTE, sizeof shared);
    FUZZ_CHECK (credential_keys_derive (shared, &s_keys) == CHAT_OK);
    memset (s_fingerprint, FUZZ_FINGERPRINT_BYTE, sizeof s_fingerprint);
    memset (s_conversation, FUZZ_CONVERSATION_BYTE, sizeof s_conversation);
    return 0;
}

static void
s_check (const uint8_t *token, size_t len)
{
    int rc = credential_ticket_check (&s_keys, token, len, FUZZ_USERNAME,
                                      s_conversation, s_fingerprint, FUZZ_NOW + 1);
    FUZZ_CHECK_RC (rc, rc == CHAT_OK || rc == CHAT_ERR_BAD_TICKET);
    if (rc == CHAT_OK) {
        //  It names alice and this conversation: never anyone or anything else
        uint8_t other [CONVERSATION_ID_SIZE];
        memset (other, FUZZ_CONVERSATION_BYTE + 1, sizeof other);
        FUZZ_CHECK (credential_ticket_check (&s_keys, token, len, FUZZ_USERNAME,
                                             other, s_fingerprint,
                                             FUZZ_NOW + 1) == CHAT_ERR_BAD_TICKET);
        FUZZ_CHECK (credential_ticket_check (&s_keys, token, len, "ALICE",
                                             s_conversation, s_fingerprint,
                                             FUZZ_NOW + 1) == CHAT_ERR_BAD_TICKET);
        uint8_t other_key [32];
        memset (other_key, FUZZ_FINGERPRINT_BYTE + 1, sizeof other_key);
        FUZZ_CHECK (credential_ticket_check (&s_keys, token, len, FUZZ_USERNAME,
                                             s_conversation, other_key,
                                             FUZZ_NOW + 1) == CHAT_ERR_BAD_TICKET);
        //  Tickets live CREDENTIAL_TICKET_LIFETIME at most
        FUZZ_CHECK (credential_ticket_check (&s_keys, token, len, FUZZ_USERNAME,
                                             s_conversation, s_fingerprint,
                                             FUZZ_NOW + CREDENTIAL_TICKET_LIFETIME + 2)
                    == CHAT_ERR_BAD_TICKET);
    }
    //  Nor as a certificate
    char *username = NULL;
    FUZZ_CHECK (credential_cert_check (&s_keys, token, len, CREDENTIAL_LOGGED_IN,
                                       s_fingerprint, FUZZ_NOW + 1,
                                       &username) == CHAT_ERR_BAD_CERTIFICATE);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 1 && data [0] == FUZZ_MODE_SEAL) {
        char *token = NULL;
        FUZZ_CHECK (fernet_encrypt (s_keys.ticket_key, data + 1, size - 1,
                                    FUZZ_NOW, &token) == CHAT_OK);
        s_check ((const uint8_t *) token, strlen (token));
        free (token);
    }
    else
        s_check (data, size);
    return 0;
}
