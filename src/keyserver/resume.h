/*  resume - resume tokens: "this client key logged in as U", from the key
    server to itself

    A client that lost its session (either server restarted, the network
    dropped) logs in again with the token of an earlier login on the same
    ephemeral client key, without its password. The token is a
    Chat__Certificate with PURPOSE_RESUME sealed as a Fernet token under a
    key derived (HKDF, "chat/2 resume") from <data>/keyserver.secret, a
    secret only the key server holds (ksdata.h): the main server cannot
    forge one.
    It is bound to the client key fingerprint, so a stolen token is useless
    without the client's private key, and lives RESUME_LIFETIME seconds.
*/
#ifndef RESUME_H_INCLUDED
#define RESUME_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "fernet.h"

#define RESUME_LIFETIME (24 * 3600)      //  seconds (proto/README.md section 9)

//  A token for username on the client key fingerprint. CHAT_OK and a
//  malloc'd token (ASCII, len without NUL), or CHAT_ERR_INTERNAL.
int
    resume_issue (const uint8_t key [FERNET_KEY_SIZE], const char *username,
                  const uint8_t fingerprint [32], int64_t now,
                  uint8_t **token, size_t *len);

//  Check a token for this client key at time now. CHAT_OK and the malloc'd
//  username, or CHAT_ERR_BAD_CERTIFICATE for anything wrong with it.
int
    resume_check (const uint8_t key [FERNET_KEY_SIZE],
                  const uint8_t *token, size_t len,
                  const uint8_t fingerprint [32], int64_t now,
                  char **username);

#endif
