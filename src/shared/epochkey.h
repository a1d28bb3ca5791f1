/*  epochkey - a conversation's key for one epoch: made by a client, wrapped
    for each member's identity key, bound to its epoch by a key check

    Every epoch of a conversation (DESIGN.md section 5) has its own 32-byte
    key, a Fernet key that seals the epoch's messages. The client that starts
    the epoch makes it, wraps it for each member with RSA-OAEP-SHA-256 under
    the member's identity key, and puts
        key_check = HMAC-SHA-256(key, "chat/2 key check" || id || epoch[8, BE])
    into the epoch's signed membership statement. A member who unwraps a key
    checks it against the statement: a server that stores or hands out a key
    of its own making is caught, since it cannot sign the statement.
*/
#ifndef EPOCHKEY_H_INCLUDED
#define EPOCHKEY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "credential.h"
#include "fernet.h"
#include "rsakey.h"

#define EPOCHKEY_SIZE       FERNET_KEY_SIZE
#define EPOCHKEY_CHECK_SIZE 32
#define EPOCHKEY_CHECK_LABEL "chat/2 key check"

//  A new random key. CHAT_OK or CHAT_ERR_INTERNAL.
int
    epochkey_generate (uint8_t key [EPOCHKEY_SIZE]);

//  The key check of key for (conversation, epoch). CHAT_OK or
//  CHAT_ERR_INTERNAL.
int
    epochkey_check_value (const uint8_t key [EPOCHKEY_SIZE],
                          const uint8_t conversation_id [CONVERSATION_ID_SIZE],
                          uint64_t epoch, uint8_t check [EPOCHKEY_CHECK_SIZE]);

//  CHAT_OK when check (check_len bytes, as found in a statement) is the
//  check of key for (conversation, epoch), compared in constant time; else
//  CHAT_ERR_BAD_MAC.
int
    epochkey_verify (const uint8_t key [EPOCHKEY_SIZE],
                     const uint8_t conversation_id [CONVERSATION_ID_SIZE],
                     uint64_t epoch, const uint8_t *check, size_t check_len);

//  Wrap key for a member's identity key (RSA-OAEP-SHA-256): CHAT_OK and a
//  malloc'd blob of the key's modulus size, or CHAT_ERR_INTERNAL.
int
    epochkey_wrap (rsakey_t *member, const uint8_t key [EPOCHKEY_SIZE],
                   uint8_t **wrapped, size_t *wrapped_len);

//  Unwrap with one's own identity key pair. CHAT_OK, or CHAT_ERR_MALFORMED
//  when it does not open or does not hold exactly EPOCHKEY_SIZE bytes.
int
    epochkey_unwrap (rsakey_t *identity, const uint8_t *wrapped, size_t wrapped_len,
                     uint8_t key [EPOCHKEY_SIZE]);

#endif
