/*  identity - a user's long-term identity key: sealed under the password,
    compared by safety number

    Every user has one RSA identity key pair, made by their client at
    registration. The private key never leaves a client in the clear: it is
    sealed (Fernet) under a key derived with HKDF-SHA-256 from the SCRAM
    SaltedPassword (info "chat/2 identity seal"), which the key server,
    holding only StoredKey and ServerKey, cannot compute. The key server keeps
    the sealed blob and hands it back after a login; every session of the
    user then holds the same identity. The identity key signs the user's
    messages and membership statements, and epoch keys are wrapped to it.

    A safety number lets two people check, out of band, that their clients
    see the same two identity keys: 12 groups of 5 digits, the same on both
    sides, changing whenever either key changes (proto/README.md section 10
    gives the computation).
*/
#ifndef IDENTITY_H_INCLUDED
#define IDENTITY_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "rsakey.h"
#include "scram.h"

#define IDENTITY_KEY_BITS       2048     //  what the C client makes
#define IDENTITY_SEALED_MAX     8192     //  bytes of a sealed identity
#define IDENTITY_SEAL_INFO      "chat/2 identity seal"
#define IDENTITY_SAFETY_LABEL   "chat/2 safety number"
#define IDENTITY_SAFETY_ROUNDS  5200
#define IDENTITY_SAFETY_GROUPS  12
//  "12345 67890 ... 12345": 12 groups of 5 digits, 11 spaces, NUL
#define IDENTITY_SAFETY_SIZE    (IDENTITY_SAFETY_GROUPS * 6)

//  Seal the identity's private key for username under SaltedPassword.
//  CHAT_OK and a malloc'd Fernet token (ASCII, NUL-terminated),
//  CHAT_ERR_BAD_REQUEST (not a valid username, or a key without its private
//  half) or CHAT_ERR_INTERNAL.
int
    identity_seal (rsakey_t *identity, const char *username,
                   const uint8_t salted_password [SCRAM_KEY_SIZE], int64_t now,
                   char **sealed);

//  Open a sealed identity for username and check that its key is the one
//  public_der (the identity_public_key of the key server's reply, DER) names,
//  as proto/README.md section 10 asks of every client. CHAT_OK and the key
//  pair (caller destroys); CHAT_ERR_BAD_MAC when salted_password is not the
//  one it was sealed under; CHAT_ERR_MALFORMED for garbage;
//  CHAT_ERR_BAD_REQUEST when it names another user (or username is not a
//  valid name); CHAT_ERR_BAD_KEY when the key inside is unusable or is not
//  the one public_der names.
int
    identity_open (const char *sealed, size_t sealed_len, const char *username,
                   const uint8_t *public_der, size_t public_der_len,
                   const uint8_t salted_password [SCRAM_KEY_SIZE],
                   rsakey_t **identity);

//  The safety number of two users and their identity keys (in either order:
//  the result is the same). CHAT_OK, CHAT_ERR_BAD_REQUEST (a name that is
//  not a valid username: it would be cut short, not hashed whole) or
//  CHAT_ERR_INTERNAL.
int
    identity_safety_number (const char *user_a, rsakey_t *key_a,
                            const char *user_b, rsakey_t *key_b,
                            char out [IDENTITY_SAFETY_SIZE]);

#endif
