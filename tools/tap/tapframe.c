/*  tapframe - what a frame on the wire says to someone who holds no key  */
#include "tapframe.h"
#include "chaterror.h"
#include "fernet.h"
#include "rsakey.h"
#include "wire.h"
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *s_kind_names [TAPFRAME_KINDS] = {
    "hello", "welcome", "sealed", "error", "push",
    "subscribe", "unsubscribe", "garbage"
};

const char *
tapframe_kind_name (tapframe_kind_t kind)
{
    if ((int) kind < 0 || kind >= TAPFRAME_KINDS)
        return "?";
    return s_kind_names [kind];
}

static void
s_reset (tapframe_t *out, const size_t *sizes, size_t count)
{
    memset (out, 0, sizeof *out);
    out->kind = TAPFRAME_GARBAGE;
    out->parts = count;
    out->fernet_ts = -1;
    for (size_t i = 0; i < count; i++)
        out->size += sizes [i];
}

//  Hex of an id, cut at TAPFRAME_ID_MAX bytes (ids on this wire are 16).
static void
s_hex (char *dest, const uint8_t *data, size_t len)
{
    static const char digits [] = "0123456789abcdef";
    if (len > TAPFRAME_ID_MAX)
        len = TAPFRAME_ID_MAX;
    for (size_t i = 0; i < len; i++) {
        dest [2 * i] = digits [data [i] >> 4];
        dest [2 * i + 1] = digits [data [i] & 15];
    }
    dest [2 * len] = 0;
}

//  The fingerprint of a public key is SHA-256 over its DER, the same digest
//  rsakey and the pin files use, so the tap's line can be compared with a
//  pin or a server's log without parsing the key.
static void
s_key_fingerprint (char *dest, size_t dest_size, const uint8_t *der, size_t len)
{
    dest [0] = 0;
    if (len == 0)
        return;
    uint8_t digest [RSAKEY_FINGERPRINT_SIZE];
    unsigned int digest_len = 0;
    if (EVP_Digest (der, len, digest, &digest_len, EVP_sha256 (), NULL) != 1
    ||  digest_len != sizeof digest)
        return;
    char *text = rsakey_fingerprint_format (digest);
    if (text) {
        snprintf (dest, dest_size, "%s", text);
        free (text);
    }
}

//  A string from the wire, cut to size and kept to printable ASCII: it may
//  end up on a terminal
static void
s_printable (char *dest, size_t dest_size, const char *text)
{
    size_t i = 0;
    for (; text && text [i] && i + 1 < dest_size; i++) {
        unsigned char c = (unsigned char) text [i];
        dest [i] = c >= 0x20 && c < 0x7f? (char) c: '?';
    }
    dest [i] = 0;
}

//  What the Welcome's signed info says (it is not secret: the server
//  signs it so that it cannot be changed, not to hide it)
static void
s_welcome_info (const ProtobufCBinaryData *info, tapframe_t *out)
{
    Chat__WelcomeInfo *welcome_info = NULL;
    if (!info->len
    ||  wire_unpack (&chat__welcome_info__descriptor, info->data, info->len,
                     (ProtobufCMessage **) &welcome_info) != CHAT_OK)
        return;
    s_printable (out->role, sizeof out->role, welcome_info->role);
    s_printable (out->push, sizeof out->push, welcome_info->push_endpoint);
    out->rotation = welcome_info->rotation != NULL;
    protobuf_c_message_free_unpacked (&welcome_info->base, NULL);
}

static int64_t
s_token_ts (const char *token)
{
    if (!token || !*token)
        return -1;
    return fernet_token_timestamp (token, strlen (token));
}

void
tapframe_request (const uint8_t *const *frames, const size_t *sizes,
                  size_t count, tapframe_t *out)
{
    s_reset (out, sizes, count);
    if (count == 0)
        return;
    Chat__Envelope *env = NULL;
    if (wire_envelope_unpack (frames [count - 1], sizes [count - 1], &env) != CHAT_OK)
        return;

    switch (env->kind_case) {
        case CHAT__ENVELOPE__KIND_HELLO:
            out->kind = TAPFRAME_HELLO;
            out->version = env->hello->version;
            s_key_fingerprint (out->key, sizeof out->key,
                               env->hello->client_public_key.data,
                               env->hello->client_public_key.len);
            break;
        case CHAT__ENVELOPE__KIND_WELCOME:
            out->kind = TAPFRAME_WELCOME;
            s_key_fingerprint (out->key, sizeof out->key,
                               env->welcome->server_public_key.data,
                               env->welcome->server_public_key.len);
            s_hex (out->session, env->welcome->session_id.data,
                   env->welcome->session_id.len);
            out->version = env->welcome->version;
            s_welcome_info (&env->welcome->info, out);
            break;
        case CHAT__ENVELOPE__KIND_SEALED:
            out->kind = TAPFRAME_SEALED;
            s_hex (out->session, env->sealed->session_id.data,
                   env->sealed->session_id.len);
            out->fernet_ts = s_token_ts (env->sealed->token);
            break;
        case CHAT__ENVELOPE__KIND_ERROR:
            out->kind = TAPFRAME_ERROR;
            out->error_code = (int) env->error->code;
            break;
        default:
            break;                  //  an empty envelope says nothing: garbage
    }
    protobuf_c_message_free_unpacked (&env->base, NULL);
}

void
tapframe_push (const uint8_t *const *frames, const size_t *sizes,
               size_t count, tapframe_t *out)
{
    s_reset (out, sizes, count);
    if (count != 2)
        return;
    Chat__PushFrame *push = NULL;
    if (wire_unpack (&chat__push_frame__descriptor, frames [1], sizes [1],
                     (ProtobufCMessage **) &push) != CHAT_OK)
        return;
    out->kind = TAPFRAME_PUSH;
    s_hex (out->topic, frames [0], sizes [0]);
    s_hex (out->session, push->session_id.data, push->session_id.len);
    out->fernet_ts = s_token_ts (push->token);
    protobuf_c_message_free_unpacked (&push->base, NULL);
}

void
tapframe_subscription (const uint8_t *const *frames, const size_t *sizes,
                       size_t count, tapframe_t *out)
{
    s_reset (out, sizes, count);
    if (count != 1 || sizes [0] < 1 || frames [0][0] > 1)
        return;
    out->kind = frames [0][0] == 1? TAPFRAME_SUBSCRIBE: TAPFRAME_UNSUBSCRIBE;
    s_hex (out->topic, frames [0] + 1, sizes [0] - 1);
}
