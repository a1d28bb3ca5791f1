/*  wire - protobuf frames in and out, size limits first  */
#include "wire.h"
#include "chaterror.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
wire_pack (const ProtobufCMessage *msg, uint8_t **data, size_t *size)
{
    if (!msg || !data || !size)
        return CHAT_ERR_INTERNAL;
    size_t len = protobuf_c_message_get_packed_size (msg);
    //  malloc (0) may return NULL; an empty message is still a valid frame
    uint8_t *buf = malloc (len ? len : 1);
    if (!buf)
        return CHAT_ERR_INTERNAL;
    size_t written = protobuf_c_message_pack (msg, buf);
    if (written != len) {
        free (buf);
        return CHAT_ERR_INTERNAL;
    }
    *data = buf;
    *size = len;
    return CHAT_OK;
}

int
wire_unpack (const ProtobufCMessageDescriptor *desc,
             const uint8_t *data, size_t size, ProtobufCMessage **msg)
{
    *msg = NULL;
    if (size > WIRE_MAX_FRAME)
        return CHAT_ERR_TOO_LARGE;
    if (!data && size)
        return CHAT_ERR_MALFORMED;
    //  protobuf-c rejects truncated varints and fields running past the end;
    //  what it accepts is a well-formed message of this type
    ProtobufCMessage *m = protobuf_c_message_unpack (desc, NULL, size,
                                                     data ? data : (const uint8_t *) "");
    if (!m)
        return CHAT_ERR_MALFORMED;
    *msg = m;
    return CHAT_OK;
}

int
wire_unpack_canonical (const ProtobufCMessageDescriptor *desc,
                       const uint8_t *data, size_t size, ProtobufCMessage **msg)
{
    int rc = wire_unpack (desc, data, size, msg);
    if (rc != CHAT_OK)
        return rc;
    //  Packing again gives the canonical bytes: compare them
    uint8_t *again = NULL;
    size_t again_size = 0;
    if (protobuf_c_message_get_packed_size (*msg) != size
    ||  wire_pack (*msg, &again, &again_size) != CHAT_OK
    ||  again_size != size || (size && memcmp (again, data, size) != 0)) {
        protobuf_c_message_free_unpacked (*msg, NULL);
        *msg = NULL;
        rc = CHAT_ERR_MALFORMED;
    }
    free (again);
    return rc;
}

int
wire_envelope_unpack (const uint8_t *data, size_t size, Chat__Envelope **env)
{
    ProtobufCMessage *m = NULL;
    int rc = wire_unpack (&chat__envelope__descriptor, data, size, &m);
    *env = (Chat__Envelope *) m;
    if (rc == CHAT_OK && (*env)->kind_case == CHAT__ENVELOPE__KIND__NOT_SET) {
        chat__envelope__free_unpacked (*env, NULL);
        *env = NULL;
        rc = CHAT_ERR_MALFORMED;
    }
    return rc;
}

void
wire_error_init (Chat__Error *error, int code, const char *text)
{
    chat__error__init (error);
    error->code = (Chat__ErrorCode) code;
    error->message = (char *) (text ? text : chat_strerror (code));
}

int
wire_error_frame (int code, const char *text, uint32_t retry_after_ms,
                  uint8_t **data, size_t *size)
{
    Chat__Error error;
    wire_error_init (&error, code, text);
    error.retry_after_ms = retry_after_ms;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_ERROR;
    env.error = &error;
    return wire_pack (&env.base, data, size);
}

int64_t
wire_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
wire_now (void)
{
    return (int64_t) time (NULL);
}
