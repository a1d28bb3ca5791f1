/*  credential - certificates (key server -> main server) and membership
    tickets (main server -> key server), carried by the client

    Each is a protobuf (proto/credential.proto) sealed as a Fernet token under
    a purpose key derived from the shared secret with HKDF; a certificate key
    cannot open a ticket. Both are bound to the client's ephemeral key
    fingerprint, so one lifted off another session is useless.
*/
#ifndef CREDENTIAL_H_INCLUDED
#define CREDENTIAL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "fernet.h"
#include "secret.h"

#define CREDENTIAL_CERT_LIFETIME   300   //  seconds
#define CREDENTIAL_TICKET_LIFETIME 300
#define CREDENTIAL_MAX_TOKEN       2048  //  bytes; larger input is refused unread
#define CONVERSATION_ID_SIZE       16

//  Certificate purposes (values of proto CertificatePurpose).
#define CREDENTIAL_REGISTERED 1
#define CREDENTIAL_LOGGED_IN  2
#define CREDENTIAL_RESUME     3      //  the key server's resume tokens

typedef struct {
    uint8_t cert_key [FERNET_KEY_SIZE];
    uint8_t ticket_key [FERNET_KEY_SIZE];
} credential_keys_t;

//  Derive both purpose keys ("chat/1 certificate", "chat/1 ticket").
int
    credential_keys_derive (const uint8_t shared [SECRET_SHARED_SIZE],
                            credential_keys_t *keys);
//  Wipe them.
void
    credential_keys_wipe (credential_keys_t *keys);

//  Issue a certificate: CHAT_OK and a malloc'd token (ASCII, not
//  NUL-counted in len).
int
    credential_cert_issue (const credential_keys_t *keys, int purpose,
                           const char *username, const uint8_t fingerprint [32],
                           int64_t now, uint8_t **token, size_t *len);

//  Check a certificate for purpose and fingerprint at time now. CHAT_OK and
//  the malloc'd username, or CHAT_ERR_BAD_CERTIFICATE (forged, expired, other
//  purpose, other key, oversized, malformed).
int
    credential_cert_check (const credential_keys_t *keys,
                           const uint8_t *token, size_t len, int purpose,
                           const uint8_t fingerprint [32], int64_t now,
                           char **username);

//  The same for a certificate of any purpose, under any key, with any
//  lifetime in seconds. The key server's resume tokens are PURPOSE_RESUME
//  certificates under a key of its own, made and checked with these.
int
    credential_cert_seal (const uint8_t key [FERNET_KEY_SIZE], int purpose,
                          const char *username, const uint8_t fingerprint [32],
                          int64_t now, int64_t lifetime, uint8_t **token, size_t *len);
int
    credential_cert_open (const uint8_t key [FERNET_KEY_SIZE],
                          const uint8_t *token, size_t len, int purpose,
                          const uint8_t fingerprint [32], int64_t now,
                          int64_t lifetime, char **username);

int
    credential_ticket_issue (const credential_keys_t *keys, const char *username,
                             const uint8_t conversation_id [CONVERSATION_ID_SIZE],
                             const uint8_t fingerprint [32], int64_t now,
                             uint8_t **token, size_t *len);

//  Check a ticket names this user (compared exactly; callers pass the
//  canonical spelling), this conversation and this client key, and is
//  fresh. CHAT_OK or CHAT_ERR_BAD_TICKET.
int
    credential_ticket_check (const credential_keys_t *keys,
                             const uint8_t *token, size_t len,
                             const char *username,
                             const uint8_t conversation_id [CONVERSATION_ID_SIZE],
                             const uint8_t fingerprint [32], int64_t now);

//  Usernames: 1..32 of [A-Za-z0-9_.-]. Uniqueness is case-insensitive; the
//  spelling given at registration is kept.
#define USERNAME_MAX 32
int
    credential_username_valid (const char *username);

//  The spelling usernames are compared and indexed in: lower case. Writes
//  at most out_size - 1 characters (USERNAME_MAX + 1 bytes hold any valid
//  name) and always terminates out.
void
    credential_username_fold (const char *username, char *out, size_t out_size);

#endif
