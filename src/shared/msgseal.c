/*  msgseal - see msgseal.h  */
#include <stdlib.h>
#include <string.h>
#include "msgseal.h"
#include "chaterror.h"
#include "fernet.h"
#include "secret.h"
#include "wire.h"

//  The signed, serialized body; CHAT_OK and *signed_ packed.
static int
s_sign (Chat__MessageBody *body, rsakey_t *identity, uint8_t **packed, size_t *packed_len)
{
    Chat__SignedMessage signed_ = CHAT__SIGNED_MESSAGE__INIT;
    int rc = wire_pack (&body->base, &signed_.body.data, &signed_.body.len);
    if (rc == CHAT_OK)
        rc = rsakey_sign_labelled (identity, MSGSEAL_LABEL, signed_.body.data,
                                   signed_.body.len, &signed_.signature.data,
                                   &signed_.signature.len);
    if (rc == CHAT_OK)
        rc = wire_pack (&signed_.base, packed, packed_len);
    if (signed_.body.data) {
        secret_wipe (signed_.body.data, signed_.body.len);
        free (signed_.body.data);
    }
    free (signed_.signature.data);
    return rc == CHAT_OK? CHAT_OK: CHAT_ERR_INTERNAL;
}

int
msgseal_seal (const uint8_t key [EPOCHKEY_SIZE],
              const uint8_t conversation_id [MSGSEAL_ID_SIZE], uint64_t epoch,
              const char *sender, rsakey_t *identity, int64_t sent_at,
              const uint8_t client_message_id [MSGSEAL_ID_SIZE],
              const char *text, size_t text_len, char **token)
{
    *token = NULL;
    if (!sender || !*sender || !text || text_len == 0 || epoch == 0
    ||  !identity || !rsakey_has_private (identity))
        return CHAT_ERR_BAD_REQUEST;
    //  A token is longer than its text: this cannot fit (see below)
    if (text_len > WIRE_MAX_TOKEN)
        return CHAT_ERR_MESSAGE_TOO_LARGE;
    //  protobuf-c strings are NUL-terminated; a NUL inside would cut the text
    if (memchr (text, 0, text_len))
        return CHAT_ERR_BAD_REQUEST;
    char *copy = malloc (text_len + 1);
    if (!copy)
        return CHAT_ERR_INTERNAL;
    memcpy (copy, text, text_len);
    copy [text_len] = 0;

    Chat__MessageBody body = CHAT__MESSAGE_BODY__INIT;
    body.conversation_id.data = (uint8_t *) conversation_id;
    body.conversation_id.len = MSGSEAL_ID_SIZE;
    body.sender = (char *) sender;
    body.sent_at = sent_at;
    body.client_message_id.data = (uint8_t *) client_message_id;
    body.client_message_id.len = MSGSEAL_ID_SIZE;
    body.text = copy;
    body.epoch = epoch;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int rc = s_sign (&body, identity, &plain, &plain_len);
    secret_wipe (copy, text_len);
    free (copy);
    if (rc == CHAT_OK)
        rc = fernet_encrypt (key, plain, plain_len, wire_now (), token);
    if (plain) {
        secret_wipe (plain, plain_len);
        free (plain);
    }
    //  The one message size limit is the token's: what the server takes
    if (rc == CHAT_OK && strlen (*token) > WIRE_MAX_TOKEN) {
        free (*token);
        *token = NULL;
        rc = CHAT_ERR_MESSAGE_TOO_LARGE;
    }
    return rc;
}

//  Decrypt a stored token: no age limit, and a sender's clock running
//  ahead must not hide its message forever.
static int
s_decrypt (const uint8_t key [EPOCHKEY_SIZE], const char *token, size_t token_len,
           uint8_t **plain, size_t *plain_len)
{
    int rc = fernet_decrypt (key, token, token_len, 0, wire_now (), plain, plain_len);
    if (rc == CHAT_ERR_FUTURE)
        rc = fernet_decrypt (key, token, token_len, 0, INT64_MAX / 2, plain, plain_len);
    return rc;
}

//  The body's claims against what the server says (check 2), and its text.
static int
s_check_body (Chat__MessageBody *msg, const uint8_t conversation_id [MSGSEAL_ID_SIZE],
              uint64_t epoch, const char *sender, msgseal_body_t *body)
{
    if (msg->conversation_id.len != MSGSEAL_ID_SIZE
    ||  memcmp (msg->conversation_id.data, conversation_id, MSGSEAL_ID_SIZE) != 0
    ||  msg->epoch != epoch
    ||  !msg->sender || strcmp (msg->sender, sender) != 0
    ||  msg->client_message_id.len != MSGSEAL_ID_SIZE)
        return CHAT_ERR_BAD_REQUEST;
    size_t len = msg->text? strlen (msg->text): 0;
    if (len == 0)
        return CHAT_ERR_BAD_REQUEST;
    body->sent_at = msg->sent_at;
    memcpy (body->client_message_id, msg->client_message_id.data, MSGSEAL_ID_SIZE);
    body->text = strdup (msg->text);
    if (!body->text)
        return CHAT_ERR_INTERNAL;
    body->text_len = len;
    return CHAT_OK;
}

int
msgseal_open (const uint8_t key [EPOCHKEY_SIZE], const char *token, size_t token_len,
              const uint8_t conversation_id [MSGSEAL_ID_SIZE], uint64_t epoch,
              const char *sender, rsakey_t *sender_key, msgseal_body_t *body)
{
    memset (body, 0, sizeof (*body));
    if (!token || !sender || !sender_key)
        return CHAT_ERR_MALFORMED;
    if (token_len > WIRE_MAX_TOKEN)
        return CHAT_ERR_MESSAGE_TOO_LARGE;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int rc = s_decrypt (key, token, token_len, &plain, &plain_len);
    if (rc != CHAT_OK)
        return rc;
    Chat__SignedMessage *signed_ = NULL;
    Chat__MessageBody *msg = NULL;
    if (wire_unpack (&chat__signed_message__descriptor, plain, plain_len,
                     (ProtobufCMessage **) &signed_) != CHAT_OK)
        rc = CHAT_ERR_MALFORMED;
    else
    if (rsakey_verify_labelled (sender_key, MSGSEAL_LABEL, signed_->body.data,
                                signed_->body.len, signed_->signature.data,
                                signed_->signature.len) != CHAT_OK)
        rc = CHAT_ERR_BAD_SIGNATURE;
    else
    //  signed bytes are read canonically, as the chain's are: one meaning
    //  for every reader
    if (wire_unpack_canonical (&chat__message_body__descriptor, signed_->body.data,
                               signed_->body.len, (ProtobufCMessage **) &msg) != CHAT_OK)
        rc = CHAT_ERR_MALFORMED;
    else
        rc = s_check_body (msg, conversation_id, epoch, sender, body);
    if (msg) {
        if (msg->text)
            secret_wipe (msg->text, strlen (msg->text));
        protobuf_c_message_free_unpacked (&msg->base, NULL);
    }
    if (signed_) {
        secret_wipe (signed_->body.data, signed_->body.len);
        protobuf_c_message_free_unpacked (&signed_->base, NULL);
    }
    secret_wipe (plain, plain_len);
    free (plain);
    if (rc != CHAT_OK)
        msgseal_body_free (body);
    return rc;
}

void
msgseal_body_free (msgseal_body_t *body)
{
    if (body && body->text) {
        secret_wipe (body->text, body->text_len);
        free (body->text);
        body->text = NULL;
    }
}
