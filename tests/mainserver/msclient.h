/*  msclient - a bare test client of the main server, built straight from
    libchat (channel, wire): a DEALER for requests, a SUB for pushes

    Tests only. It speaks the protocol and nothing more, so that a test can
    also send what a real client never would.
*/
#ifndef MSCLIENT_H_INCLUDED
#define MSCLIENT_H_INCLUDED

#include <czmq.h>
#include "channel.h"
#include "credential.h"
#include "rsakey.h"
#include "testclient.h"
#include "wire.h"

#define MSCLIENT_TIMEOUT 5000       //  ms to wait for a reply

typedef struct {
    testclient_t *client;           //  the DEALER and the channel
    zsock_t *sub;
    rsakey_t *key;                  //  borrowed
    uint64_t next_request_id;
    bool subscribed;
} msclient_t;

//  Connect and shake hands (the Welcome must name the main server's
//  role); subscribes to this session's pushes. NULL on failure (a message
//  says why).
msclient_t *
    msclient_new (rsakey_t *key, const char *endpoint, const char *push_endpoint);
void
    msclient_destroy (msclient_t **self_p);

void
    msclient_subscribe (msclient_t *self, bool on);
zsock_t *
    msclient_dealer (msclient_t *self);
channel_t *
    msclient_channel (msclient_t *self);
//  Come back on a new connection (a new routing id), same session.
int
    msclient_reconnect (msclient_t *self);

//  Raw frames on the DEALER. recv: 0 and a malloc'd frame, -1 on timeout.
int
    msclient_send_frame (msclient_t *self, const uint8_t *data, size_t size);
int
    msclient_recv_frame (msclient_t *self, uint8_t **data, size_t *size);

//  Seal and send a request (request_id assigned here unless set). Returns
//  the request id, 0 on failure.
uint64_t
    msclient_send (msclient_t *self, Chat__MainRequest *request);
//  Seal and send raw bytes as the payload (for malformed requests).
int
    msclient_send_payload (msclient_t *self, const uint8_t *payload, size_t len);
//  Read one reply: CHAT_OK and the reply (free with
//  chat__main_reply__free_unpacked), a channel-layer code when the server
//  answered with Envelope{error}, or -1 on timeout / garbage.
int
    msclient_recv (msclient_t *self, Chat__MainReply **reply);
//  Both.
int
    msclient_request (msclient_t *self, Chat__MainRequest *request,
                      Chat__MainReply **reply);

//  Register (purpose CREDENTIAL_REGISTERED) or log in (CREDENTIAL_LOGGED_IN)
//  as name, with identity's public key, with a certificate signed by issuer
//  (the key server's key, or a forger's) for fingerprint at now: as
//  msclient_request; CHAT_ERR_INTERNAL when no certificate is issued.
int
    msclient_cert_request (msclient_t *self, rsakey_t *issuer, int purpose,
                           const char *name, rsakey_t *identity,
                           const uint8_t *fingerprint, int64_t now,
                           Chat__MainReply **reply);
//  Send a certificate (any bytes) as register or login: as msclient_request.
int
    msclient_cert_send (msclient_t *self, int purpose, const uint8_t *cert, size_t len,
                        Chat__MainReply **reply);

//  Wait up to timeout_ms for a push: CHAT_OK and the push, -1 otherwise.
int
    msclient_recv_push (msclient_t *self, int timeout_ms, Chat__Push **push);

//  The code a reply carries: CHAT_OK, or its error code.
int
    msclient_code (const Chat__MainReply *reply);

#endif
