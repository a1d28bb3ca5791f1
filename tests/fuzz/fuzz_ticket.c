/*  fuzz_ticket - a signed key ticket as the key server checks it
    (credential_ticket_check with the main server's public key), under fixed
    keys and clock

    Input: the SignedCredential; or FUZZ_MODE_SEAL then a KeyTicket body
    signed here with the main server's key; or FUZZ_MODE_FORGE then a body
    signed with another key, which must never pass. An accepted ticket is
    compared with its body, read independently: every member copied
    faithfully, in order.
*/
#include "chaterror.h"
#include "credential.h"
#include "wire.h"
#include "fuzz_util.h"

static rsakey_t *s_mainserver;          //  signs tickets
static rsakey_t *s_other;               //  the key server
static uint8_t s_fingerprint [32];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_mainserver = fuzz_load_key (FUZZ_MAINSERVER_KEY);
    s_other = fuzz_load_key (FUZZ_KEYSERVER_KEY);
    memset (s_fingerprint, FUZZ_FINGERPRINT_BYTE, sizeof s_fingerprint);
    return 0;
}

static void
s_check_accepted (const uint8_t *data, size_t len, const credential_ticket_t *ticket)
{
    Chat__SignedCredential *signed_ = chat__signed_credential__unpack (NULL, len, data);
    FUZZ_CHECK (signed_);
    Chat__KeyTicket *body = chat__key_ticket__unpack (NULL, signed_->body.len,
                                                      signed_->body.data);
    FUZZ_CHECK (body);
    FUZZ_CHECK (body->conversation_id.len == CONVERSATION_ID_SIZE
             && memcmp (body->conversation_id.data, ticket->conversation_id,
                        CONVERSATION_ID_SIZE) == 0);
    FUZZ_CHECK (body->epoch == ticket->epoch && ticket->epoch >= 1);
    FUZZ_CHECK (strcmp (body->uploader, FUZZ_USERNAME) == 0);
    FUZZ_CHECK (strcmp (ticket->uploader, FUZZ_USERNAME) == 0);
    FUZZ_CHECK (body->n_members == ticket->member_count);
    FUZZ_CHECK (ticket->member_count >= 1
             && ticket->member_count <= CREDENTIAL_TICKET_MAX_MEMBERS);
    for (size_t i = 0; i < ticket->member_count; i++) {
        FUZZ_CHECK (strcmp (body->members [i], ticket->members [i]) == 0);
        FUZZ_CHECK (credential_username_valid (ticket->members [i]));
        FUZZ_CHECK (i == 0 || credential_username_compare (ticket->members [i - 1],
                                                           ticket->members [i]) < 0);
    }
    FUZZ_CHECK (body->client_key_fingerprint.len == 32
             && memcmp (body->client_key_fingerprint.data, s_fingerprint, 32) == 0);
    FUZZ_CHECK (body->expires_at >= FUZZ_NOW + 1 && body->issued_at <= FUZZ_NOW + 61);
    FUZZ_CHECK (body->issued_at <= body->expires_at);
    FUZZ_CHECK ((uint64_t) body->expires_at - (uint64_t) body->issued_at
                <= CREDENTIAL_TICKET_LIFETIME);
    chat__key_ticket__free_unpacked (body, NULL);
    chat__signed_credential__free_unpacked (signed_, NULL);
}

static void
s_check (const uint8_t *data, size_t len, bool forged)
{
    credential_ticket_t *ticket = NULL;
    int rc = credential_ticket_check (s_mainserver, data, len, FUZZ_USERNAME,
                                      s_fingerprint, FUZZ_NOW + 1, &ticket);
    FUZZ_CHECK_RC (rc, rc == CHAT_OK || rc == CHAT_ERR_BAD_TICKET);
    FUZZ_CHECK ((rc == CHAT_OK) == (ticket != NULL));
    if (rc == CHAT_OK) {
        FUZZ_CHECK (!forged);
        s_check_accepted (data, len, ticket);
        credential_ticket_destroy (&ticket);
        //  It names alice and this client key: never anyone else
        FUZZ_CHECK (credential_ticket_check (s_mainserver, data, len, "ALICE", s_fingerprint,
                                             FUZZ_NOW + 1, &ticket) == CHAT_ERR_BAD_TICKET);
        FUZZ_CHECK (credential_ticket_check (s_mainserver, data, len, "bob", s_fingerprint,
                                             FUZZ_NOW + 1, &ticket) == CHAT_ERR_BAD_TICKET);
        uint8_t other_key [32];
        memset (other_key, FUZZ_FINGERPRINT_BYTE + 1, sizeof other_key);
        FUZZ_CHECK (credential_ticket_check (s_mainserver, data, len, FUZZ_USERNAME,
                                             other_key, FUZZ_NOW + 1, &ticket)
                    == CHAT_ERR_BAD_TICKET);
        //  Tickets live CREDENTIAL_TICKET_LIFETIME at most
        FUZZ_CHECK (credential_ticket_check (s_mainserver, data, len, FUZZ_USERNAME,
                                             s_fingerprint,
                                             FUZZ_NOW + CREDENTIAL_TICKET_LIFETIME + 62,
                                             &ticket) == CHAT_ERR_BAD_TICKET);
        //  and only the main server's key vouches for them
        FUZZ_CHECK (credential_ticket_check (s_other, data, len, FUZZ_USERNAME,
                                             s_fingerprint, FUZZ_NOW + 1, &ticket)
                    == CHAT_ERR_BAD_TICKET);
    }
    //  Never a certificate, even with its signer's key
    char *username = NULL;
    rsakey_t *identity = NULL;
    FUZZ_CHECK (credential_cert_check (s_mainserver, data, len, CREDENTIAL_LOGGED_IN,
                                       s_fingerprint, FUZZ_NOW + 1, &username, &identity)
                == CHAT_ERR_BAD_CERTIFICATE);
    FUZZ_CHECK (!username && !identity);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 1 && (data [0] == FUZZ_MODE_SEAL || data [0] == FUZZ_MODE_FORGE)) {
        bool forged = data [0] == FUZZ_MODE_FORGE;
        uint8_t *sig;
        size_t sig_len;
        FUZZ_CHECK (rsakey_sign_labelled (forged ? s_other : s_mainserver,
                                          CREDENTIAL_TICKET_LABEL, data + 1, size - 1,
                                          &sig, &sig_len) == CHAT_OK);
        Chat__SignedCredential signed_ = CHAT__SIGNED_CREDENTIAL__INIT;
        signed_.body.data = (uint8_t *) data + 1;
        signed_.body.len = size - 1;
        signed_.signature.data = sig;
        signed_.signature.len = sig_len;
        uint8_t *credential;
        size_t len;
        FUZZ_CHECK (wire_pack (&signed_.base, &credential, &len) == CHAT_OK);
        s_check (credential, len, forged);
        free (credential);
        free (sig);
    }
    else
        s_check (data, size, false);
    return 0;
}
