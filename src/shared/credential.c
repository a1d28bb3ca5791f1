/*  credential - certificates, key tickets and resume tokens

    Certificates (key server) and key tickets (main server) are a protobuf
    body signed with the issuer's long-term RSA key; the other server checks
    them with a copy of the issuer's public key, so the servers share no
    secret and a stolen data directory cannot mint what the other server
    vouches for. Resume tokens are the key server's alone: sealed (Fernet)
    under a key only it holds. Every refusal is reported with the one code of
    its kind (CHAT_ERR_BAD_CERTIFICATE or CHAT_ERR_BAD_TICKET) so that someone
    probing with forged credentials cannot tell which check failed; for the
    same reason nothing is logged here.
*/
#include <assert.h>
#include <string.h>
#include <stdlib.h>
#include <openssl/crypto.h>
#include "chaterror.h"
#include "credential.h"
#include "fernet.h"
#include "rsakey.h"
#include "secret.h"
#include "wire.h"

#define FINGERPRINT_SIZE 32

//  A token issued a little in the future by a server whose clock runs ahead
//  is still accepted, as far as Fernet itself accepts it.
#define CREDENTIAL_CLOCK_SKEW FERNET_MAX_CLOCK_SKEW

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

//  One character's folded form: ASCII letters only (see
//  credential_username_fold)
static unsigned char
s_fold (char ch)
{
    unsigned char c = (unsigned char) ch;
    return c >= 'A' && c <= 'Z' ? (unsigned char) (c - 'A' + 'a') : c;
}

int
credential_username_compare (const char *a, const char *b)
{
    assert (a && b);
    for (;; a++, b++) {
        unsigned char ca = s_fold (*a), cb = s_fold (*b);
        if (ca != cb || !ca)
            return (int) ca - (int) cb;
    }
}

void
credential_username_fold (const char *username, char *out, size_t out_size)
{
    assert (username && out && out_size > 0);
    //  ASCII only, never tolower() or strcasecmp(): after setlocale (the
    //  TUI's) in tr_TR.UTF-8 they leave 'I' as it is (its lower case, a
    //  dotless i, is not one byte), in tr_TR.ISO-8859-9 they make it 0xFD;
    //  and folded names go into safety numbers and chain checks that every
    //  client must compute alike
    size_t i;
    for (i = 0; username [i] && i + 1 < out_size; i++)
        out [i] = (char) s_fold (username [i]);
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

//  Not expired, not issued too far ahead, and valid for at most lifetime
//  seconds. Written so that no field value overflows: issued_at and
//  expires_at come off the wire (expires_at - issued_at with issued_at near
//  INT64_MIN is undefined behaviour); expires_at >= now bounds the
//  subtraction below.
static int
s_times_valid (int64_t issued_at, int64_t expires_at, int64_t lifetime, int64_t now)
{
    return expires_at >= now && issued_at <= now + CREDENTIAL_CLOCK_SKEW
        && issued_at <= expires_at && issued_at >= expires_at - lifetime;
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
    &&  s_times_valid (cert->issued_at, cert->expires_at, lifetime, now)
    &&  credential_username_valid (cert->username)) {
        *username = strdup (cert->username);
        rc = *username? CHAT_OK: CHAT_ERR_INTERNAL;
    }
    protobuf_c_message_free_unpacked (&cert->base, NULL);
    return rc;
}

//  ---------------------------------------------------------------- signed

//  Pack body and sign it as label: a SignedCredential, malloc'd.
static int
s_sign (rsakey_t *key, const char *label, const ProtobufCMessage *body,
        uint8_t **out, size_t *len)
{
    uint8_t *packed = NULL, *sig = NULL;
    size_t packed_len = 0, sig_len = 0;
    int rc = wire_pack (body, &packed, &packed_len);
    if (rc == CHAT_OK)
        rc = rsakey_sign_labelled (key, label, packed, packed_len, &sig, &sig_len);
    if (rc == CHAT_OK) {
        Chat__SignedCredential signed_ = CHAT__SIGNED_CREDENTIAL__INIT;
        signed_.body.data = packed;
        signed_.body.len = packed_len;
        signed_.signature.data = sig;
        signed_.signature.len = sig_len;
        rc = wire_pack (&signed_.base, out, len);
    }
    if (rc == CHAT_OK && *len > CREDENTIAL_MAX_SIZE) {
        //  Only absurd input gets here: refuse rather than hand out a
        //  credential every checker would reject
        free (*out);
        *out = NULL;
        *len = 0;
        rc = CHAT_ERR_BAD_REQUEST;
    }
    free (packed);
    free (sig);
    return rc;
}

//  Check the signature of a SignedCredential and unpack its body as desc.
//  The body is parsed only once its signature holds. NULL when anything is
//  wrong.
static ProtobufCMessage *
s_verify (rsakey_t *issuer, const char *label, const uint8_t *data, size_t len,
          const ProtobufCMessageDescriptor *desc)
{
    if (!issuer || !data || len == 0 || len > CREDENTIAL_MAX_SIZE)
        return NULL;
    Chat__SignedCredential *signed_ = NULL;
    if (wire_unpack (&chat__signed_credential__descriptor, data, len,
                     (ProtobufCMessage **) &signed_) != CHAT_OK)
        return NULL;
    ProtobufCMessage *body = NULL;
    if (rsakey_verify_labelled (issuer, label, signed_->body.data, signed_->body.len,
                                signed_->signature.data, signed_->signature.len) == CHAT_OK)
        wire_unpack (desc, signed_->body.data, signed_->body.len, &body);
    protobuf_c_message_free_unpacked (&signed_->base, NULL);
    return body;
}


int
credential_cert_issue (rsakey_t *server_key, int purpose, const char *username,
                       const uint8_t fingerprint [32], rsakey_t *identity,
                       int64_t now, uint8_t **out, size_t *len)
{
    assert (server_key && out && len);
    *out = NULL;
    *len = 0;
    if ((purpose != CREDENTIAL_REGISTERED && purpose != CREDENTIAL_LOGGED_IN)
    ||  !credential_username_valid (username) || !fingerprint || !identity)
        return CHAT_ERR_BAD_REQUEST;

    size_t identity_len;
    const uint8_t *identity_der = rsakey_der (identity, &identity_len);
    Chat__Certificate cert = CHAT__CERTIFICATE__INIT;
    cert.purpose = (Chat__CertificatePurpose) purpose;
    cert.username = (char *) username;
    cert.client_key_fingerprint.data = (uint8_t *) fingerprint;
    cert.client_key_fingerprint.len = FINGERPRINT_SIZE;
    cert.issued_at = now;
    cert.expires_at = now + CREDENTIAL_CERT_LIFETIME;
    cert.identity_public_key.data = (uint8_t *) identity_der;
    cert.identity_public_key.len = identity_len;
    return s_sign (server_key, CREDENTIAL_CERT_LABEL, &cert.base, out, len);
}


int
credential_cert_check (rsakey_t *issuer, const uint8_t *data, size_t len,
                       int purpose, const uint8_t fingerprint [32], int64_t now,
                       char **username, rsakey_t **identity)
{
    assert (username && identity);
    *username = NULL;
    *identity = NULL;
    if (!fingerprint
    ||  (purpose != CREDENTIAL_REGISTERED && purpose != CREDENTIAL_LOGGED_IN))
        return CHAT_ERR_BAD_CERTIFICATE;

    Chat__Certificate *cert = (Chat__Certificate *)
        s_verify (issuer, CREDENTIAL_CERT_LABEL, data, len, &chat__certificate__descriptor);
    if (!cert)
        return CHAT_ERR_BAD_CERTIFICATE;
    int rc = CHAT_ERR_BAD_CERTIFICATE;
    if ((int) cert->purpose == purpose
    &&  s_fingerprint_equal (cert->client_key_fingerprint, fingerprint)
    &&  s_times_valid (cert->issued_at, cert->expires_at, CREDENTIAL_CERT_LIFETIME, now)
    &&  credential_username_valid (cert->username)) {
        *identity = rsakey_from_der (cert->identity_public_key.data,
                                     cert->identity_public_key.len);
        *username = *identity ? strdup (cert->username) : NULL;
        if (*username)
            rc = CHAT_OK;
        else
            rsakey_destroy (identity);
    }
    protobuf_c_message_free_unpacked (&cert->base, NULL);
    return rc;
}


void
credential_ticket_destroy (credential_ticket_t **self_p)
{
    assert (self_p);
    credential_ticket_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i < self->member_count; i++)
            free (self->members [i]);
        free (self->members);
        free (self->uploader);
        free (self);
        *self_p = NULL;
    }
}


//  A ticket's members: valid names, strictly ascending by lower-case form
//  (so each once, in any spelling), as credential.proto says: the key
//  server's "exactly these members, each once" then has one meaning
static bool
s_members_sorted (char *const *members, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!credential_username_valid (members [i])
        ||  (i && credential_username_compare (members [i - 1], members [i]) >= 0))
            return false;
    return true;
}


int
credential_ticket_issue (rsakey_t *server_key, const credential_ticket_t *ticket,
                         const uint8_t fingerprint [32], int64_t now,
                         uint8_t **out, size_t *len)
{
    assert (server_key && ticket && out && len);
    *out = NULL;
    *len = 0;
    if (!fingerprint || ticket->epoch == 0 || ticket->member_count == 0
    ||  ticket->member_count > CREDENTIAL_TICKET_MAX_MEMBERS
    ||  !credential_username_valid (ticket->uploader))
        return CHAT_ERR_BAD_REQUEST;
    if (!s_members_sorted (ticket->members, ticket->member_count))
        return CHAT_ERR_BAD_REQUEST;

    Chat__KeyTicket body = CHAT__KEY_TICKET__INIT;
    body.conversation_id.data = (uint8_t *) ticket->conversation_id;
    body.conversation_id.len = CONVERSATION_ID_SIZE;
    body.epoch = ticket->epoch;
    body.members = ticket->members;
    body.n_members = ticket->member_count;
    body.uploader = ticket->uploader;
    body.client_key_fingerprint.data = (uint8_t *) fingerprint;
    body.client_key_fingerprint.len = FINGERPRINT_SIZE;
    body.issued_at = now;
    body.expires_at = now + CREDENTIAL_TICKET_LIFETIME;
    return s_sign (server_key, CREDENTIAL_TICKET_LABEL, &body.base, out, len);
}


//  A copy of the ticket's fields, or NULL when one of them is out of range
static credential_ticket_t *
s_ticket_copy (const Chat__KeyTicket *body)
{
    if (body->conversation_id.len != CONVERSATION_ID_SIZE || body->epoch == 0
    ||  body->n_members == 0 || body->n_members > CREDENTIAL_TICKET_MAX_MEMBERS
    ||  !s_members_sorted (body->members, body->n_members)
    ||  !credential_username_valid (body->uploader))
        return NULL;
    credential_ticket_t *self = (credential_ticket_t *) calloc (1, sizeof *self);
    if (!self)
        return NULL;
    memcpy (self->conversation_id, body->conversation_id.data, CONVERSATION_ID_SIZE);
    self->epoch = body->epoch;
    self->uploader = strdup (body->uploader);
    self->members = (char **) calloc (body->n_members, sizeof (char *));
    bool ok = self->uploader && self->members;
    for (size_t i = 0; ok && i < body->n_members; i++) {
        ok = (self->members [i] = strdup (body->members [i])) != NULL;
        if (ok)
            self->member_count++;
    }
    if (!ok)
        credential_ticket_destroy (&self);
    return self;
}


int
credential_ticket_check (rsakey_t *issuer, const uint8_t *data, size_t len,
                         const char *uploader, const uint8_t fingerprint [32],
                         int64_t now, credential_ticket_t **ticket)
{
    assert (ticket);
    *ticket = NULL;
    if (!uploader || !fingerprint)
        return CHAT_ERR_BAD_TICKET;
    Chat__KeyTicket *body = (Chat__KeyTicket *)
        s_verify (issuer, CREDENTIAL_TICKET_LABEL, data, len, &chat__key_ticket__descriptor);
    if (!body)
        return CHAT_ERR_BAD_TICKET;
    if (body->uploader && strcmp (body->uploader, uploader) == 0
    &&  s_fingerprint_equal (body->client_key_fingerprint, fingerprint)
    &&  s_times_valid (body->issued_at, body->expires_at, CREDENTIAL_TICKET_LIFETIME,
                       now))
        *ticket = s_ticket_copy (body);
    protobuf_c_message_free_unpacked (&body->base, NULL);
    return *ticket ? CHAT_OK : CHAT_ERR_BAD_TICKET;
}
