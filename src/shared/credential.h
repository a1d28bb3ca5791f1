/*  credential - what one server vouches for to the other, carried by the
    client: certificates (key server -> main server) and key tickets (main
    server -> key server); and the key server's own resume tokens

    Certificates and tickets are a protobuf body signed (RSA-PSS-SHA-256,
    labelled "chat/2 certificate" / "chat/2 ticket") with the issuing
    server's long-term key and checked with a copy of its PUBLIC key: the
    servers share no secret, so neither's data directory can mint what the
    other vouches for. Both are bound to the client's ephemeral key
    fingerprint, so one lifted off another session is useless, and live
    CREDENTIAL_*_LIFETIME seconds. Resume tokens are certificates of purpose
    RESUME sealed (Fernet) under a key only the key server holds.
*/
#ifndef CREDENTIAL_H_INCLUDED
#define CREDENTIAL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "fernet.h"
#include "rsakey.h"

#define CREDENTIAL_CERT_LIFETIME   300   //  seconds
#define CREDENTIAL_TICKET_LIFETIME 300
#define CREDENTIAL_MAX_SIZE        16384 //  a signed credential, bytes; larger is refused unread
#define CREDENTIAL_MAX_TOKEN       2048  //  a resume token, bytes
#define CREDENTIAL_TICKET_MAX_MEMBERS 256
#define CONVERSATION_ID_SIZE       16

#define CREDENTIAL_CERT_LABEL      "chat/2 certificate"
#define CREDENTIAL_TICKET_LABEL    "chat/2 ticket"

//  Certificate purposes (values of proto CertificatePurpose).
#define CREDENTIAL_REGISTERED 1
#define CREDENTIAL_LOGGED_IN  2
#define CREDENTIAL_RESUME     3      //  the key server's resume tokens

//  ---------------------------------------------------------------- certificates

//  Issue a certificate (REGISTERED or LOGGED_IN) naming the user, the
//  session's client key and the user's identity public key, signed with
//  server_key. CHAT_OK and a malloc'd SignedCredential, CHAT_ERR_BAD_REQUEST
//  (other purpose, invalid name) or CHAT_ERR_INTERNAL.
int
    credential_cert_issue (rsakey_t *server_key, int purpose, const char *username,
                           const uint8_t fingerprint [32], rsakey_t *identity,
                           int64_t now, uint8_t **out, size_t *len);

//  Check a certificate signed by issuer for purpose and client key at time
//  now. CHAT_OK with the malloc'd username and the user's identity key (a
//  new public key the caller destroys), or CHAT_ERR_BAD_CERTIFICATE (other
//  signer, altered, expired, other purpose or client key, oversized,
//  malformed, identity key unusable).
int
    credential_cert_check (rsakey_t *issuer, const uint8_t *data, size_t len,
                           int purpose, const uint8_t fingerprint [32], int64_t now,
                           char **username, rsakey_t **identity);

//  ---------------------------------------------------------------- key tickets

//  "uploader may store the key of epoch `epoch` of this conversation,
//  wrapped for exactly these members".
typedef struct {
    uint8_t conversation_id [CONVERSATION_ID_SIZE];
    uint64_t epoch;
    char **members;                  //  canonical names, sorted by lower-case
                                     //  form, each once (as a chain lists them)
    size_t member_count;             //  1..CREDENTIAL_TICKET_MAX_MEMBERS
    char *uploader;
} credential_ticket_t;

int
    credential_ticket_issue (rsakey_t *server_key, const credential_ticket_t *ticket,
                             const uint8_t fingerprint [32], int64_t now,
                             uint8_t **out, size_t *len);

//  Check a ticket signed by issuer names this uploader (compared exactly:
//  callers pass the canonical spelling) and this client key, and is fresh.
//  CHAT_OK and a new ticket (credential_ticket_destroy), or
//  CHAT_ERR_BAD_TICKET.
int
    credential_ticket_check (rsakey_t *issuer, const uint8_t *data, size_t len,
                             const char *uploader, const uint8_t fingerprint [32],
                             int64_t now, credential_ticket_t **ticket);
void
    credential_ticket_destroy (credential_ticket_t **self_p);

//  ---------------------------------------------------------------- resume tokens

//  A certificate of any purpose sealed (Fernet) under key, with any lifetime
//  in seconds: the key server's resume tokens (PURPOSE_RESUME under a key of
//  its own). cert_open: CHAT_OK and the malloc'd username, or
//  CHAT_ERR_BAD_CERTIFICATE.
int
    credential_cert_seal (const uint8_t key [FERNET_KEY_SIZE], int purpose,
                          const char *username, const uint8_t fingerprint [32],
                          int64_t now, int64_t lifetime, uint8_t **token, size_t *len);
int
    credential_cert_open (const uint8_t key [FERNET_KEY_SIZE],
                          const uint8_t *token, size_t len, int purpose,
                          const uint8_t fingerprint [32], int64_t now,
                          int64_t lifetime, char **username);

//  ---------------------------------------------------------------- usernames

//  Usernames: 1..32 of [A-Za-z0-9_.-]. Uniqueness is case-insensitive; the
//  spelling given at registration is kept.
#define USERNAME_MAX 32

int
    credential_username_valid (const char *username);

//  The spelling usernames are compared and indexed in: lower case (ASCII
//  only, whatever the locale). Writes at most out_size - 1 characters
//  (USERNAME_MAX + 1 bytes hold any valid name) and always terminates out.
void
    credential_username_fold (const char *username, char *out, size_t out_size);

//  Compare two names by their lower-case forms, bytewise (<0, 0, >0): the
//  order of member lists and the one equality of names. Unlike strcasecmp,
//  the same in every locale.
int
    credential_username_compare (const char *a, const char *b);

#endif
