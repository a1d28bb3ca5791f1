/*  tapframe - what a frame on the wire says to someone who holds no key

    chat-tap sees the same bytes as anyone on the network. This module reads
    as much as can be read without a key: the Envelope's kind, the protocol
    version and public key fingerprints of the handshake, what a Welcome's
    signed info says in clear (role, push endpoint, a key rotation), the
    session id and Fernet timestamp of a sealed frame, the code of a clear
    error, the topic and timestamp of a push, and the topic of a
    subscription. Nothing here can open a token: which request a sealed
    frame carries (put_keys, get_chain ...) is sealed with it.
*/
#ifndef TAPFRAME_H_INCLUDED
#define TAPFRAME_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef enum {
    TAPFRAME_HELLO = 0,
    TAPFRAME_WELCOME,
    TAPFRAME_SEALED,
    TAPFRAME_ERROR,
    TAPFRAME_PUSH,
    TAPFRAME_SUBSCRIBE,
    TAPFRAME_UNSUBSCRIBE,
    TAPFRAME_GARBAGE,
    TAPFRAME_KINDS                  //  number of kinds, not a kind
} tapframe_kind_t;

//  Hex of at most this many bytes is kept (session ids are 16, topics 16).
#define TAPFRAME_ID_MAX 32

typedef struct {
    tapframe_kind_t kind;
    size_t size;                    //  bytes of all the message's frames
    size_t parts;                   //  ZMQ frames in the message
    char key [64];                  //  hello/welcome: "SHA256:..." or ""
    char session [TAPFRAME_ID_MAX * 2 + 1];   //  welcome/sealed/push: hex, or ""
    char topic [TAPFRAME_ID_MAX * 2 + 1];     //  push/(un)subscribe: hex, or ""
    int64_t fernet_ts;              //  sealed/push: unix seconds, -1 if unreadable
    int error_code;                 //  error: the ErrorCode
    uint32_t version;               //  hello/welcome: protocol version (0: none)
    char role [17];                 //  welcome: "keyserver", "mainserver", or ""
    char push [128];                //  welcome: the push endpoint named, or ""
                                    //  (printable ASCII only; others become '?')
    int rotation;                   //  welcome: 1 when a key rotation is presented
} tapframe_t;

//  A message on the request channel (either direction). frames/sizes are
//  the message's ZMQ frames without the tap's own routing id; the last one
//  is read as an Envelope. Never fails: what cannot be read is garbage.
void
    tapframe_request (const uint8_t *const *frames, const size_t *sizes,
                      size_t count, tapframe_t *out);

//  A message from the server's PUB: frame 1 the topic, frame 2 a PushFrame.
void
    tapframe_push (const uint8_t *const *frames, const size_t *sizes,
                   size_t count, tapframe_t *out);

//  A message from a subscriber (XPUB side): 1 or 0, then the topic.
void
    tapframe_subscription (const uint8_t *const *frames, const size_t *sizes,
                           size_t count, tapframe_t *out);

//  "hello", "welcome", ... ; "?" for a value out of range.
const char *
    tapframe_kind_name (tapframe_kind_t kind);

#endif
