/*  ksclient - a minimal key server client for tests, built from libchat
    alone (channel, scram, identity, wire) and a DEALER: no client library
    involved, so the server is tested against the protocol, not against a
    peer that shares its mistakes.
*/
#ifndef KSCLIENT_H_INCLUDED
#define KSCLIENT_H_INCLUDED

#include <stdbool.h>
#include <czmq.h>
#include "channel.h"
#include "credential.h"
#include "rsakey.h"
#include "wire.h"

#define KSCLIENT_TIMEOUT (-1)        //  no answer within the receive timeout

typedef struct _ksclient_t ksclient_t;

//  What a request came to. code: CHAT_OK, the reply's error code, a clear
//  refusal's code, or KSCLIENT_TIMEOUT.
typedef struct {
    int code;
    char message [128];
    uint32_t retry_after_ms;
    uint8_t *certificate;            //  registered / logged_in (malloc'd)
    size_t certificate_len;
    uint8_t *resume_token;           //  logged_in (malloc'd)
    size_t resume_token_len;
    char username [USERNAME_MAX + 1];
    uint8_t *sealed_identity;        //  logged_in after a password (malloc'd)
    size_t sealed_identity_len;
    rsakey_t *identity_public;       //  logged_in: the key the server named
    rsakey_t *identity;              //  logged_in after a password: the key
                                     //  pair opened from sealed_identity,
                                     //  checked against identity_public
    char server_first [1100];        //  login_challenge
    bool duplicate;                  //  keys_stored
    uint64_t epoch;                  //  keys_stored
} ksresult_t;

void
    ksresult_clear (ksresult_t *result);

//  Connect to endpoint and complete the handshake with client_key
//  (borrowed); the Welcome must name the key server's role. NULL on failure.
ksclient_t *
    ksclient_new (const char *endpoint, rsakey_t *client_key);
void
    ksclient_destroy (ksclient_t **self_p);

zsock_t *
    ksclient_dealer (ksclient_t *self);
channel_t *
    ksclient_channel (ksclient_t *self);
//  This client's key fingerprint (what the server binds credentials to).
const uint8_t *
    ksclient_fingerprint (ksclient_t *self);

//  Send a request (its request_id is set here) and read the answer.
//  CHAT_OK and the reply (free with chat__key_reply__free_unpacked), or a
//  refusal code / KSCLIENT_TIMEOUT. Checks the reply echoes the id.
int
    ksclient_call (ksclient_t *self, Chat__KeyRequest *request,
                   Chat__KeyReply **reply);
//  The same, sorted: CHAT_OK with the reply when its body is `expected`
//  (a Chat__KeyReply__BodyCase), else its error code (reply NULL).
int
    ksclient_call_for (ksclient_t *self, Chat__KeyRequest *request, int expected,
                       Chat__KeyReply **reply);

//  Send an already sealed frame as is.
void
    ksclient_send_raw (ksclient_t *self, const uint8_t *frame, size_t size);

//  Read one answer: CHAT_OK and the opened reply, or the code of a clear
//  refusal, or KSCLIENT_TIMEOUT.
int
    ksclient_recv (ksclient_t *self, Chat__KeyReply **reply);

//  Whole exchanges; each returns result->code.

//  Register as the protocol says: register_params, then verifiers from
//  SaltedPassword and identity (a key pair, borrowed) sealed under it.
int
    ksclient_register (ksclient_t *self, const char *username, const char *password,
                       rsakey_t *identity, ksresult_t *result);
//  Full SCRAM; the server's final signature is checked (else
//  CHAT_ERR_BAD_SIGNATURE), then the sealed identity is opened with the
//  SaltedPassword and checked against the identity key named beside it
//  (else CHAT_ERR_BAD_KEY).
int
    ksclient_login (ksclient_t *self, const char *username,
                    const char *password, ksresult_t *result);
int
    ksclient_login_start (ksclient_t *self, const char *client_first,
                          ksresult_t *result);
int
    ksclient_logout (ksclient_t *self, ksresult_t *result);
int
    ksclient_resume (ksclient_t *self, const uint8_t *token, size_t len,
                     ksresult_t *result);
//  Change the logged-in user's password from old to new, re-sealing
//  identity: register_params, password_start, password_finish; the
//  server's final signature is checked (else CHAT_ERR_BAD_SIGNATURE).
int
    ksclient_password (ksclient_t *self, const char *username, const char *old_password,
                       const char *new_password, rsakey_t *identity, ksresult_t *result);
//  Store wrapped keys with a ticket: names[i] gets wrapped[i] (wrapped_len
//  bytes each). result->duplicate and ->epoch from keys_stored.
int
    ksclient_put_keys (ksclient_t *self, const uint8_t *ticket, size_t ticket_len,
                       const char *const *names, uint8_t *const *wrapped,
                       const size_t *wrapped_len, size_t count, ksresult_t *result);

#endif
