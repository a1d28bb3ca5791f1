/*  resume - resume tokens, from the key server to itself  */
#include <assert.h>
#include <errno.h>
#include <sys/stat.h>
#include "chaterror.h"
#include "credential.h"
#include "resume.h"
#include "secret.h"

int
resume_key_load (const char *path, uint8_t key [FERNET_KEY_SIZE])
{
    assert (path);
    assert (key);
    struct stat st;
    if (stat (path, &st) && errno == ENOENT && secret_shared_create (path))
        return CHAT_ERR_INTERNAL;
    uint8_t secret [SECRET_SHARED_SIZE];
    if (secret_shared_load (path, secret))
        return CHAT_ERR_INTERNAL;
    int rc = secret_hkdf (secret, sizeof secret, RESUME_INFO, key, FERNET_KEY_SIZE);
    secret_wipe (secret, sizeof secret);
    return rc? CHAT_ERR_INTERNAL: CHAT_OK;
}

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
