/*  msgseal - see msgseal.h  */
#include <stdlib.h>
#include <string.h>
#include "msgseal.h"
#include "chaterror.h"
#include "secret.h"
#include "wire.h"

int
msgseal_seal (const uint8_t key [FERNET_KEY_SIZE],
              const uint8_t conversation_id [MSGSEAL_ID_SIZE],
              const char *sender, int64_t sent_at,
              const uint8_t client_message_id [MSGSEAL_ID_SIZE],
              const char *text, size_t text_len, char **token)
{
    if (!sender || !*sender || !text || text_len == 0)
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

    uint8_t *packed = NULL;
    size_t packed_len = 0;
    int rc = wire_pack ((const ProtobufCMessage *) &body, &packed, &packed_len);
    secret_wipe (copy, text_len);
    free (copy);
    if (rc != CHAT_OK)
        return rc;
    rc = fernet_encrypt (key, packed, packed_len, wire_now (), token);
    secret_wipe (packed, packed_len);
    free (packed);
    //  The one message size limit is the token's: what the server takes
    if (rc == CHAT_OK && strlen (*token) > WIRE_MAX_TOKEN) {
        free (*token);
        *token = NULL;
        rc = CHAT_ERR_MESSAGE_TOO_LARGE;
    }
    return rc;
}

int
msgseal_open (const uint8_t key [FERNET_KEY_SIZE], const char *token,
              size_t token_len,
              const uint8_t conversation_id [MSGSEAL_ID_SIZE],
              const char *sender, msgseal_body_t *body)
{
    memset (body, 0, sizeof (*body));
    if (!token || !sender)
        return CHAT_ERR_MALFORMED;
    if (token_len > WIRE_MAX_TOKEN)
        return CHAT_ERR_MESSAGE_TOO_LARGE;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    //  ttl 0: a stored message is as good years later as it was when sent
    int rc = fernet_decrypt (key, token, token_len, 0, wire_now (),
                             &plain, &plain_len);
    if (rc == CHAT_ERR_FUTURE) {
        //  a sender's clock running ahead must not hide its message forever
        rc = fernet_decrypt (key, token, token_len, 0, INT64_MAX / 2,
                             &plain, &plain_len);
    }
    if (rc != CHAT_OK)
        return rc;

    Chat__MessageBody *msg = NULL;
    rc = wire_unpack (&chat__message_body__descriptor, plain, plain_len,
                      (ProtobufCMessage **) &msg);
    secret_wipe (plain, plain_len);
    free (plain);
    if (rc != CHAT_OK)
        return CHAT_ERR_MALFORMED;

    if (msg->conversation_id.len != MSGSEAL_ID_SIZE
    ||  memcmp (msg->conversation_id.data, conversation_id, MSGSEAL_ID_SIZE) != 0
    ||  !msg->sender || strcmp (msg->sender, sender) != 0)
        rc = CHAT_ERR_BAD_REQUEST;
    else
    if (!msg->text)
        rc = CHAT_ERR_MALFORMED;
    else {
        body->sent_at = msg->sent_at;
        if (msg->client_message_id.len == MSGSEAL_ID_SIZE)
            memcpy (body->client_message_id, msg->client_message_id.data,
                    MSGSEAL_ID_SIZE);
        body->text_len = strlen (msg->text);
        body->text = strdup (msg->text);
        if (!body->text)
            rc = CHAT_ERR_INTERNAL;
    }
    if (msg->text)
        secret_wipe (msg->text, strlen (msg->text));
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) msg, NULL);
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
