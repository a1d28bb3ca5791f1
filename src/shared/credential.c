/*  credential - certificates and membership tickets

    Both are a protobuf sealed as a Fernet token under a purpose key derived
    from the servers' shared secret. Every refusal is reported with the one
    code of its kind (CHAT_ERR_BAD_CERTIFICATE or CHAT_ERR_BAD_TICKET) so that
    someone probing with forged tokens cannot tell which check failed; for the
    same reason nothing is logged here.
*/
#include <assert.h>
#include <ctype.h>
#include <string.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include "chaterror.h"
#include "credential.h"
#include "fernet.h"
#include "secret.h"
#include "wire.h"

#define FINGERPRINT_SIZE 32

//  A token issued a little in the future by a server whose clock runs ahead
//  is still accepted, as far as Fernet itself accepts it.
#define CREDENTIAL_CLOCK_SKEW FERNET_MAX_CLOCK_SKEW

int
credential_keys_derive (const uint8_t shared [SECRET_SHARED_SIZE],
                        credential_keys_t *keys)
{
    assert (shared);
    assert (keys);
    if (secret_hkdf (shared, SECRET_SHARED_SIZE, "chat/1 certificate",
                     keys->cert_key, sizeof keys->cert_key)
    ||  secret_hkdf (shared, SECRET_SHARED_SIZE, "chat/1 ticket",
                     keys->ticket_key, sizeof keys->ticket_key)) {
        credential_keys_wipe (keys);
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

void
credential_keys_wipe (credential_keys_t *keys)
{
    if (keys)
        secret_wipe (keys, sizeof *keys);
}

int
credential_username_valid (const char *username)
{
    if (!username)
        return 0;
    size_t len = 0;
    for (const char *c = username; *c; c++, len++) {
        if (len >= USERNAME_MAX)
            return 0;
        //  Spelled out rather than isalnum(): no locale may widen the set
        char ch = *c;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
            return 0;
    }
    return len > 0;
}

void
credential_username_fold (const char *username, char *out, size_t out_size)
{
    assert (username && out && out_size > 0);
    size_t i;
    for (i = 0; username [i] && i + 1 < out_size; i++)
        out [i] = (char) tolower ((unsigned char) username [i]);
    out [i] = 0;
}

//  Pack a message and seal it. The packed plaintext holds the username and
//  fingerprint only, but it is wiped anyway: it is what the key protects.
static int
s_seal (const uint8_t key [FERNET_KEY_SIZE], const ProtobufCMessage *msg,
        int64_t now, uint8_t **token, size_t *len)
{
    uint8_t *packed = NULL;
    size_t packed_size = 0;
    if (wire_pack (msg, &packed, &packed_size) != CHAT_OK)
        return CHAT_ERR_INTERNAL;
    char *text = NULL;
    int rc = fernet_encrypt (key, packed, packed_size, now, &text);
    secret_wipe (packed, packed_size);
    free (packed);
    if (rc != CHAT_OK || !text)
        return CHAT_ERR_INTERNAL;
    size_t text_len = strlen (text);
    if (text_len > CREDENTIAL_MAX_TOKEN) {
        //  Only a caller passing absurd input gets here; refuse rather than
        //  hand out a token every checker will reject.
        free (text);
        return CHAT_ERR_INTERNAL;
    }
    *token = (uint8_t *) text;
    *len = text_len;
    return CHAT_OK;
}

//  Open a token under key and unpack it as desc. Returns the message or NULL.
static ProtobufCMessage *
s_open (const uint8_t key [FERNET_KEY_SIZE], const uint8_t *token, size_t len,
        int64_t ttl, int64_t now, const ProtobufCMessageDescriptor *desc)
{
    if (!token || len == 0 || len > CREDENTIAL_MAX_TOKEN)
        return NULL;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    if (fernet_decrypt (key, (const char *) token, len, ttl, now,
                        &plain, &plain_len) != CHAT_OK)
        return NULL;
    ProtobufCMessage *msg = NULL;
    int rc = wire_unpack (desc, plain, plain_len, &msg);
    secret_wipe (plain, plain_len);
    free (plain);
    return rc == CHAT_OK? msg: NULL;
}

static int
s_fingerprint_equal (ProtobufCBinaryData field, const uint8_t fingerprint [32])
{
    return field.len == FINGERPRINT_SIZE && field.data
        && CRYPTO_memcmp (field.data, fingerprint, FINGERPRINT_SIZE) == 0;
}

static int
s_times_valid (int64_t issued_at, int64_t expires_at, int64_t now)
{
    return expires_at >= now && issued_at <= now + CREDENTIAL_CLOCK_SKEW
        && issued_at <= expires_at;
}

//  The purposes there are; PURPOSE_NONE is what an empty field decodes to
static int
s_purpose_valid (int purpose)
{
    return purpose == CREDENTIAL_REGISTERED || purpose == CREDENTIAL_LOGGED_IN
        || purpose == CREDENTIAL_RESUME;
}

int
credential_cert_seal (const uint8_t key [FERNET_KEY_SIZE], int purpose,
                      const char *username, const uint8_t fingerprint [32],
                      int64_t now, int64_t lifetime, uint8_t **token, size_t *len)
{
    assert (key);
    assert (token);
    assert (len);
    *token = NULL;
    *len = 0;
    if (!s_purpose_valid (purpose) || !credential_username_valid (username)
    ||  !fingerprint || lifetime <= 0)
        return CHAT_ERR_BAD_REQUEST;

    Chat__Certificate cert = CHAT__CERTIFICATE__INIT;
    cert.purpose = (Chat__CertificatePurpose) purpose;
    cert.username = (char *) username;
    cert.client_key_fingerprint.data = (uint8_t *) fingerprint;
    cert.client_key_fingerprint.len = FINGERPRINT_SIZE;
    cert.issued_at = now;
    cert.expires_at = now + lifetime;
    return s_seal (key, &cert.base, now, token, len);
}

int
credential_cert_issue (const credential_keys_t *keys, int purpose,
                       const char *username, const uint8_t fingerprint [32],
                       int64_t now, uint8_t **token, size_t *len)
{
    assert (keys);
    //  Resume tokens are never sealed under the shared key
    if (purpose == CREDENTIAL_RESUME) {
        *token = NULL;
        *len = 0;
        return CHAT_ERR_BAD_REQUEST;
    }
    return credential_cert_seal (keys->cert_key, purpose, username, fingerprint, now,
                                 CREDENTIAL_CERT_LIFETIME, token, len);
}

int
credential_cert_check (const credential_keys_t *keys,
                       const uint8_t *token, size_t len, int purpose,
                       const uint8_t fingerprint [32], int64_t now,
                       char **username)
{
    assert (keys);
    if (purpose == CREDENTIAL_RESUME) {
        *username = NULL;
        return CHAT_ERR_BAD_CERTIFICATE;
    }
    return credential_cert_open (keys->cert_key, token, len, purpose, fingerprint, now,
                                 CREDENTIAL_CERT_LIFETIME, username);
}

int
credential_cert_open (const uint8_t key [FERNET_KEY_SIZE],
                      const uint8_t *token, size_t len, int purpose,
                      const uint8_t fingerprint [32], int64_t now,
                      int64_t lifetime, char **username)
{
    assert (key);
    assert (username);
    *username = NULL;
    if (!fingerprint || !s_purpose_valid (purpose) || lifetime <= 0)
        return CHAT_ERR_BAD_CERTIFICATE;

    Chat__Certificate *cert = (Chat__Certificate *)
        s_open (key, token, len, lifetime, now, &chat__certificate__descriptor);
    if (!cert)
        return CHAT_ERR_BAD_CERTIFICATE;

    int rc = CHAT_ERR_BAD_CERTIFICATE;
    if ((int) cert->purpose == purpose
    &&  s_fingerprint_equal (cert->client_key_fingerprint, fingerprint)
    &&  s_times_valid (cert->issued_at, cert->expires_at, now)
    &&  credential_username_valid (cert->username)) {
        *username = strdup (cert->username);
        rc = *username? CHAT_OK: CHAT_ERR_INTERNAL;
    }
    protobuf_c_message_free_unpacked (&cert->base, NULL);
    return rc;
}

int
credential_ticket_issue (const credential_keys_t *keys, const char *username,
                         const uint8_t conversation_id [CONVERSATION_ID_SIZE],
                         const uint8_t fingerprint [32], int64_t now,
                         uint8_t **token, size_t *len)
{
    assert (keys);
    assert (token);
    assert (len);
    *token = NULL;
    *len = 0;
    if (!credential_username_valid (username) || !conversation_id || !fingerprint)
        return CHAT_ERR_BAD_REQUEST;

    Chat__MembershipTicket ticket = CHAT__MEMBERSHIP_TICKET__INIT;
    ticket.username = (char *) username;
    ticket.conversation_id.data = (uint8_t *) conversation_id;
    ticket.conversation_id.len = CONVERSATION_ID_SIZE;
    ticket.client_key_fingerprint.data = (uint8_t *) fingerprint;
    ticket.client_key_fingerprint.len = FINGERPRINT_SIZE;
    ticket.issued_at = now;
    ticket.expires_at = now + CREDENTIAL_TICKET_LIFETIME;
    return s_seal (keys->ticket_key, &ticket.base, now, token, len);
}

int
credential_ticket_check (const credential_keys_t *keys,
                         const uint8_t *token, size_t len,
                         const char *username,
                         const uint8_t conversation_id [CONVERSATION_ID_SIZE],
                         const uint8_t fingerprint [32], int64_t now)
{
    assert (keys);
    if (!username || !conversation_id || !fingerprint)
        return CHAT_ERR_BAD_TICKET;

    Chat__MembershipTicket *ticket = (Chat__MembershipTicket *)
        s_open (keys->ticket_key, token, len, CREDENTIAL_TICKET_LIFETIME, now,
                &chat__membership_ticket__descriptor);
    if (!ticket)
        return CHAT_ERR_BAD_TICKET;

    int rc = CHAT_ERR_BAD_TICKET;
    if (credential_username_valid (ticket->username)
    &&  strcmp (ticket->username, username) == 0
    &&  ticket->conversation_id.len == CONVERSATION_ID_SIZE
    &&  ticket->conversation_id.data
    &&  memcmp (ticket->conversation_id.data, conversation_id,
                CONVERSATION_ID_SIZE) == 0
    &&  s_fingerprint_equal (ticket->client_key_fingerprint, fingerprint)
    &&  s_times_valid (ticket->issued_at, ticket->expires_at, now))
        rc = CHAT_OK;
    protobuf_c_message_free_unpacked (&ticket->base, NULL);
    return rc;
}
