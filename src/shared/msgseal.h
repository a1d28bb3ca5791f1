/*  msgseal - one chat message as protocol 2 seals it (proto/README.md
    section 12), and the checks a receiver makes before believing it

    The plaintext of a message token is a SignedMessage: a serialized
    MessageBody {conversation_id, sender, sent_at, client_message_id, text,
    epoch} and the sender's labelled signature over it ("chat/2 message",
    with their identity key), sealed as a Fernet token under the key of
    that epoch. Neither server holds an epoch key or an identity key, so
    neither can read a message or make one a client believes.

    msgseal_open makes checks 1, 2 and 4 of section 12: the token opens
    with the epoch's key, the body names the conversation, epoch and
    sender the server says it came with, and the signature verifies with
    the key the caller believes is the sender's. Checks 3 (the sender was a
    member of that epoch) and 5 (no repeated client_message_id) need the
    conversation's verified chain and history: the caller makes them.
*/
#ifndef MSGSEAL_H_INCLUDED
#define MSGSEAL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "epochkey.h"
#include "rsakey.h"

#define MSGSEAL_ID_SIZE 16
#define MSGSEAL_LABEL   "chat/2 message"

typedef struct {
    int64_t sent_at;                    //  unix ms, sender's clock
    uint8_t client_message_id [MSGSEAL_ID_SIZE];
    char *text;                         //  malloc'd, NUL-terminated
    size_t text_len;
} msgseal_body_t;

//  Seal a message of sender (a canonical name) for epoch of a conversation,
//  signed with the sender's identity key pair. No NUL inside the text.
//  CHAT_OK and a malloc'd token of at most WIRE_MAX_TOKEN bytes;
//  CHAT_ERR_MESSAGE_TOO_LARGE (a longer token: any text of up to
//  WIRE_MAX_TEXT bytes fits, signed by an identity key of up to 4096 bits),
//  CHAT_ERR_BAD_REQUEST (empty text, a NUL, no sender, epoch 0, a key
//  without its private half) or CHAT_ERR_INTERNAL.
int
    msgseal_seal (const uint8_t key [EPOCHKEY_SIZE],
                  const uint8_t conversation_id [MSGSEAL_ID_SIZE], uint64_t epoch,
                  const char *sender, rsakey_t *identity, int64_t sent_at,
                  const uint8_t client_message_id [MSGSEAL_ID_SIZE],
                  const char *text, size_t text_len, char **token);

//  Open a stored token (no age limit) of the conversation and epoch the
//  server names, from sender, whose identity key the caller believes is
//  sender_key. CHAT_OK and body filled (free with msgseal_body_free);
//  CHAT_ERR_BAD_MAC (not sealed under this key, or tampered);
//  CHAT_ERR_MALFORMED (garbage inside, or signed bytes that are not the
//  canonical encoding of a MessageBody); CHAT_ERR_BAD_SIGNATURE (not signed
//  by sender_key as a message); CHAT_ERR_BAD_REQUEST (the body names
//  another conversation, epoch or sender, has no 16-byte message id or an
//  empty text); CHAT_ERR_MESSAGE_TOO_LARGE (token over WIRE_MAX_TOKEN
//  bytes: not even opened).
int
    msgseal_open (const uint8_t key [EPOCHKEY_SIZE], const char *token, size_t token_len,
                  const uint8_t conversation_id [MSGSEAL_ID_SIZE], uint64_t epoch,
                  const char *sender, rsakey_t *sender_key, msgseal_body_t *body);

void
    msgseal_body_free (msgseal_body_t *body);

#endif
