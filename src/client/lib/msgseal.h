/*  msgseal - one chat message sealed under its conversation key, and the
    checks a receiver makes before believing it

    The body (proto MessageBody) names its conversation and sender inside the
    Fernet token, so a server that moves a token to another conversation or
    claims another sender is caught: msgseal_open compares both with what the
    server says.
*/
#ifndef MSGSEAL_H_INCLUDED
#define MSGSEAL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "fernet.h"

#define MSGSEAL_ID_SIZE 16

typedef struct {
    int64_t sent_at;                    //  unix ms, sender's clock
    uint8_t client_message_id [MSGSEAL_ID_SIZE];
    char *text;                         //  malloc'd, NUL-terminated
    size_t text_len;
} msgseal_body_t;

//  Seal a message. CHAT_OK and a malloc'd token of at most WIRE_MAX_TOKEN
//  bytes, CHAT_ERR_MESSAGE_TOO_LARGE (a longer token: any text of up to
//  WIRE_MAX_TEXT bytes fits), CHAT_ERR_BAD_REQUEST (empty text, no sender)
//  or CHAT_ERR_INTERNAL.
int
    msgseal_seal (const uint8_t key [FERNET_KEY_SIZE],
                  const uint8_t conversation_id [MSGSEAL_ID_SIZE],
                  const char *sender, int64_t sent_at,
                  const uint8_t client_message_id [MSGSEAL_ID_SIZE],
                  const char *text, size_t text_len, char **token);

//  Open a stored token (no age limit) and check it names the conversation
//  and sender the server reported. CHAT_OK and body filled (free with
//  msgseal_body_free), CHAT_ERR_BAD_MAC / CHAT_ERR_MALFORMED (not sealed
//  with this key, or garbage), CHAT_ERR_MESSAGE_TOO_LARGE (token over
//  WIRE_MAX_TOKEN bytes), or
//  CHAT_ERR_BAD_REQUEST (body names another conversation or sender).
int
    msgseal_open (const uint8_t key [FERNET_KEY_SIZE], const char *token,
                  size_t token_len,
                  const uint8_t conversation_id [MSGSEAL_ID_SIZE],
                  const char *sender, msgseal_body_t *body);

void
    msgseal_body_free (msgseal_body_t *body);

#endif
