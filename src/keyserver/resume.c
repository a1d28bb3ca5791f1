/*  resume - resume tokens, from the key server to itself  */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include "chaterror.h"
#include "credential.h"
#include "resume.h"
#include "secret.h"
#include "wire.h"

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
    assert (key);
    assert (token);
    assert (len);
    *token = NULL;
    *len = 0;
    if (!credential_username_valid (username) || !fingerprint)
        return CHAT_ERR_INTERNAL;

    Chat__Certificate cert = CHAT__CERTIFICATE__INIT;
    cert.purpose = CHAT__CERTIFICATE_PURPOSE__PURPOSE_RESUME;
    cert.username = (char *) username;
    cert.client_key_fingerprint.data = (uint8_t *) fingerprint;
    cert.client_key_fingerprint.len = 32;
    cert.issued_at = now;
    cert.expires_at = now + RESUME_LIFETIME;
    uint8_t *packed = NULL;
    size_t packed_size = 0;
    if (wire_pack (&cert.base, &packed, &packed_size) != CHAT_OK)
        return CHAT_ERR_INTERNAL;
    char *text = NULL;
    int rc = fernet_encrypt (key, packed, packed_size, now, &text);
    secret_wipe (packed, packed_size);
    free (packed);
    if (rc != CHAT_OK || !text)
        return CHAT_ERR_INTERNAL;
    *token = (uint8_t *) text;
    *len = strlen (text);
    return CHAT_OK;
}

int
resume_check (const uint8_t key [FERNET_KEY_SIZE],
              const uint8_t *token, size_t len,
              const uint8_t fingerprint [32], int64_t now,
              char **username)
{
    assert (key);
    assert (username);
    *username = NULL;
    if (!token || len == 0 || len > CREDENTIAL_MAX_TOKEN || !fingerprint)
        return CHAT_ERR_BAD_CERTIFICATE;

    uint8_t *plain = NULL;
    size_t plain_len = 0;
    if (fernet_decrypt (key, (const char *) token, len, RESUME_LIFETIME, now,
                        &plain, &plain_len) != CHAT_OK)
        return CHAT_ERR_BAD_CERTIFICATE;
    Chat__Certificate *cert = NULL;
    int rc = wire_unpack (&chat__certificate__descriptor, plain, plain_len,
                          (ProtobufCMessage **) &cert);
    secret_wipe (plain, plain_len);
    free (plain);
    if (rc != CHAT_OK)
        return CHAT_ERR_BAD_CERTIFICATE;

    rc = CHAT_ERR_BAD_CERTIFICATE;
    if (cert->purpose == CHAT__CERTIFICATE_PURPOSE__PURPOSE_RESUME
    &&  cert->client_key_fingerprint.len == 32
    &&  cert->client_key_fingerprint.data
    &&  CRYPTO_memcmp (cert->client_key_fingerprint.data, fingerprint, 32) == 0
    &&  cert->expires_at >= now
    &&  cert->issued_at <= now + FERNET_MAX_CLOCK_SKEW
    &&  credential_username_valid (cert->username)) {
        *username = strdup (cert->username);
        rc = *username? CHAT_OK: CHAT_ERR_INTERNAL;
    }
    protobuf_c_message_free_unpacked (&cert->base, NULL);
    return rc;
}
