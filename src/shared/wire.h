/*  wire - protobuf frames in and out, with the size limits applied before
    anything is parsed

    Every frame is a protobuf-c message (the schemas in proto/); nothing is packed by
    hand. Generated types are Chat__Envelope, Chat__KeyRequest and so on.
*/
#ifndef WIRE_H_INCLUDED
#define WIRE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "wire.pb-c.h"
#include "credential.pb-c.h"
#include "keyserver.pb-c.h"
#include "mainserver.pb-c.h"
#include "admin.pb-c.h"

//  The largest frame either side accepts (ZMQ_MAXMSGSIZE is set to this,
//  and every decoder checks it again). A largest message sealed twice and
//  wrapped is about 180 KiB; a history page is capped at 1 MiB of tokens.
#define WIRE_MAX_FRAME (4 * 1024 * 1024)
//  The message size limit, the one there is: a message token (a sealed
//  MessageBody) of at most this many bytes. The main server refuses a
//  longer one, a client refuses to send one and takes any shorter one.
#define WIRE_MAX_TOKEN 100000
//  Text of at most this many bytes always fits in WIRE_MAX_TOKEN (signed
//  with a 4096-bit identity key, its token is about 88,300 bytes); somewhat
//  longer text may fit too
#define WIRE_MAX_TEXT  65536
#define WIRE_PAGE_BYTES (1024 * 1024) //  tokens per history page, at most

//  Serialize any message into a malloc'd buffer. CHAT_OK or CHAT_ERR_INTERNAL.
int
    wire_pack (const ProtobufCMessage *msg, uint8_t **data, size_t *size);

//  Unpack with the size check first: CHAT_OK, CHAT_ERR_TOO_LARGE or
//  CHAT_ERR_MALFORMED. Free with protobuf_c_message_free_unpacked.
int
    wire_unpack (const ProtobufCMessageDescriptor *desc,
                 const uint8_t *data, size_t size, ProtobufCMessage **msg);

//  The same, refusing (CHAT_ERR_MALFORMED) bytes that are not the one
//  canonical encoding of what they parse to: fields in ascending number
//  order, each once, defaults left out; which is what every protobuf library
//  writes. For what is signed: protobuf-c reads a string with a NUL inside
//  as the part before it, and a field given twice as its last value, so two
//  readers of the same signed bytes could otherwise see different things.
int
    wire_unpack_canonical (const ProtobufCMessageDescriptor *desc,
                           const uint8_t *data, size_t size, ProtobufCMessage **msg);

//  Shorthands for the envelope every request socket carries.
int
    wire_envelope_unpack (const uint8_t *data, size_t size, Chat__Envelope **env);

//  A clear Envelope{error} frame. CHAT_OK or CHAT_ERR_INTERNAL.
int
    wire_error_frame (int code, const char *text, uint32_t retry_after_ms,
                      uint8_t **data, size_t *size);

//  Fill an Error message (text is borrowed, must outlive the message).
void
    wire_error_init (Chat__Error *error, int code, const char *text);

//  Unix time in milliseconds and seconds (wall clock).
int64_t
    wire_now_ms (void);
int64_t
    wire_now (void);

#endif
