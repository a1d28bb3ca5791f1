/*  resume - resume tokens, from the key server to itself  */
#include <assert.h>
#include "chaterror.h"
#include "credential.h"
#include "resume.h"

int
resume_issue (const uint8_t key [FERNET_KEY_SIZE], const char *username,
              const uint8_t fingerprint [32], int64_t now,
              uint8_t **token, size_t *len)
{
    int rc = credential_cert_seal (key, CREDENTIAL_RESUME, username, fingerprint, now,
                                   RESUME_LIFETIME, token, len);
    return rc == CHAT_OK ? CHAT_OK : CHAT_ERR_INTERNAL;
}

int
resume_check (const uint8_t key [FERNET_KEY_SIZE],
              const uint8_t *token, size_t len,
              const uint8_t fingerprint [32], int64_t now,
              char **username)
{
    return credential_cert_open (key, token, len, CREDENTIAL_RESUME, fingerprint, now,
                                 RESUME_LIFETIME, username);
}
