/*  testclient - a raw channel client for tests: one DEALER and the client
    end of a channel, built from libchat alone (channel, wire)

    Tests only. It speaks the channel protocol and nothing above it, so a
    test can send what a real client never would: raw frames, replays,
    requests sealed on a dropped session. Every step is its own call, so a
    test that runs the server in-process can serve between the Hello and
    the Welcome. Nothing here asserts: each call returns a code for the
    test to check.
*/
#ifndef TESTCLIENT_H_INCLUDED
#define TESTCLIENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include "channel.h"
#include "rsakey.h"
#include "wire.h"

#define TESTCLIENT_NONE     (-1)    //  nothing came within the timeout
#define TESTCLIENT_GARBAGE  (-2)    //  an answer that is neither a clear
                                    //  refusal nor a reply that opens
#define TESTCLIENT_TIMEOUT  5000    //  ms, the default receive timeout

typedef struct _testclient_t testclient_t;

//  A DEALER connected to endpoint, no handshake yet; key (borrowed) is
//  what handshakes use. NULL when the endpoint does not connect.
testclient_t *
    testclient_new (const char *endpoint, rsakey_t *key);
//  A second session over the DEALER of connection (borrowed: destroy this
//  one first), with key (borrowed).
testclient_t *
    testclient_new_on (testclient_t *connection, rsakey_t *key);
void
    testclient_destroy (testclient_t **self_p);

zsock_t *
    testclient_dealer (testclient_t *self);
//  The channel, NULL until a handshake succeeded.
channel_t *
    testclient_channel (testclient_t *self);
//  The key (borrowed) later handshakes use.
void
    testclient_set_key (testclient_t *self, rsakey_t *key);
//  Refuse (CHAT_ERR_WRONG_ROLE) a Welcome whose signed info names another
//  role than this (CHANNEL_ROLE_*) in later handshakes; NULL: any.
void
    testclient_expect_role (testclient_t *self, const char *role);
//  Receive (and send) timeout in ms.
void
    testclient_set_timeout (testclient_t *self, int timeout_ms);
//  Come back on a new DEALER to the same endpoint, keeping the channel.
int
    testclient_reconnect (testclient_t *self);

//  One raw frame: 0, or -1 when it cannot be sent.
int
    testclient_send (testclient_t *self, const void *data, size_t size);
//  One answer as raw bytes: 0 and a malloc'd copy, TESTCLIENT_NONE, or
//  TESTCLIENT_GARBAGE for a multipart message.
int
    testclient_recv (testclient_t *self, uint8_t **data, size_t *size);

//  The handshake in its two halves, or whole. hello drops any channel and
//  sends the Hello of a new one; welcome reads the answer: CHAT_OK, the
//  code the Welcome was refused with (the channel is then dropped), or
//  TESTCLIENT_NONE.
int
    testclient_hello (testclient_t *self);
int
    testclient_welcome (testclient_t *self);
int
    testclient_handshake (testclient_t *self);
//  A Hello naming protocol version (any number, for refusals), with this
//  client's key and a fixed nonce, sent in clear; no channel is made.
//  0, or -1 when it cannot be sent. Read the answer with
//  testclient_refusal.
int
    testclient_hello_version (testclient_t *self, uint32_t version);

//  A frame of WIRE_MAX_FRAME + 1 zero bytes, quiet_ms to answer it, then a
//  small garbage frame: the code of the first answer either gets (as
//  testclient_refusal). A server that cuts the connection at the big frame
//  (ZMQ_MAXMSGSIZE) answers only the small one, on the DEALER's new
//  connection: CHAT_ERR_MALFORMED. One that read the big frame answers it
//  first, early or late (CHAT_ERR_TOO_LARGE, or what it made of it).
int
    testclient_oversized (testclient_t *self, int quiet_ms);

//  Seal payload into a frame (malloc'd), not sent.
int
    testclient_seal (testclient_t *self, const void *payload, size_t len,
                     uint8_t **frame, size_t *size);
//  Seal payload and send it.
int
    testclient_send_sealed (testclient_t *self, const void *payload, size_t len);
//  Read one answer as a client reads it: the code of a clear refusal
//  (Envelope.error), CHAT_OK and the opened payload of a sealed reply
//  (malloc'd; payload may be NULL to drop it), TESTCLIENT_NONE or
//  TESTCLIENT_GARBAGE.
int
    testclient_answer (testclient_t *self, uint8_t **payload, size_t *len);
//  Read one answer expected to be a clear refusal: its code, CHAT_OK for
//  a sealed reply that opened, TESTCLIENT_NONE or TESTCLIENT_GARBAGE.
int
    testclient_refusal (testclient_t *self);

//  Read a reply of type descriptor: CHAT_OK and the message (free with
//  protobuf_c_message_free_unpacked), else as testclient_answer
//  (TESTCLIENT_GARBAGE also for a payload that does not unpack).
int
    testclient_reply (testclient_t *self, const ProtobufCMessageDescriptor *descriptor,
                      ProtobufCMessage **reply);
//  Pack, seal and send request, then testclient_reply. CHAT_ERR_INTERNAL
//  when the request does not pack.
int
    testclient_call (testclient_t *self, const ProtobufCMessage *request,
                     const ProtobufCMessageDescriptor *descriptor,
                     ProtobufCMessage **reply);

#endif
