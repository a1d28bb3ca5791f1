/*  epochkey - a conversation's key for one epoch: made by a client, wrapped
    for each member's identity key, bound to its epoch by a key check
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "chaterror.h"
#include "epochkey.h"
#include "secret.h"

int
epochkey_generate (uint8_t key [EPOCHKEY_SIZE])
{
    assert (key);
    return secret_random (key, EPOCHKEY_SIZE) ? CHAT_ERR_INTERNAL : CHAT_OK;
}


int
epochkey_check_value (const uint8_t key [EPOCHKEY_SIZE],
                      const uint8_t conversation_id [CONVERSATION_ID_SIZE],
                      uint64_t epoch, uint8_t check [EPOCHKEY_CHECK_SIZE])
{
    assert (key && conversation_id && check);
    size_t label_len = strlen (EPOCHKEY_CHECK_LABEL);
    uint8_t data [64];
    assert (label_len + CONVERSATION_ID_SIZE + 8 <= sizeof data);
    memcpy (data, EPOCHKEY_CHECK_LABEL, label_len);
    memcpy (data + label_len, conversation_id, CONVERSATION_ID_SIZE);
    for (int i = 0; i < 8; i++)
        data [label_len + CONVERSATION_ID_SIZE + i] = (uint8_t) (epoch >> (56 - 8 * i));
    unsigned int len = 0;
    if (!HMAC (EVP_sha256 (), key, EPOCHKEY_SIZE, data,
               label_len + CONVERSATION_ID_SIZE + 8, check, &len)
    ||  len != EPOCHKEY_CHECK_SIZE)
        return CHAT_ERR_INTERNAL;
    return CHAT_OK;
}


int
epochkey_verify (const uint8_t key [EPOCHKEY_SIZE],
                 const uint8_t conversation_id [CONVERSATION_ID_SIZE],
                 uint64_t epoch, const uint8_t *check, size_t check_len)
{
    uint8_t expected [EPOCHKEY_CHECK_SIZE];
    if (!check || check_len != EPOCHKEY_CHECK_SIZE
    ||  epochkey_check_value (key, conversation_id, epoch, expected) != CHAT_OK)
        return CHAT_ERR_BAD_MAC;
    int rc = CRYPTO_memcmp (expected, check, EPOCHKEY_CHECK_SIZE) == 0
           ? CHAT_OK : CHAT_ERR_BAD_MAC;
    secret_wipe (expected, sizeof expected);
    return rc;
}


int
epochkey_wrap (rsakey_t *member, const uint8_t key [EPOCHKEY_SIZE],
               uint8_t **wrapped, size_t *wrapped_len)
{
    assert (member && key && wrapped && wrapped_len);
    return rsakey_encrypt (member, key, EPOCHKEY_SIZE, wrapped, wrapped_len);
}


int
epochkey_unwrap (rsakey_t *identity, const uint8_t *wrapped, size_t wrapped_len,
                 uint8_t key [EPOCHKEY_SIZE])
{
    assert (identity && key);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    if (!wrapped || wrapped_len == 0
    ||  rsakey_decrypt (identity, wrapped, wrapped_len, &plain, &plain_len) != CHAT_OK)
        return CHAT_ERR_MALFORMED;
    int rc = CHAT_ERR_MALFORMED;
    if (plain_len == EPOCHKEY_SIZE) {
        memcpy (key, plain, EPOCHKEY_SIZE);
        rc = CHAT_OK;
    }
    secret_wipe (plain, plain_len);
    free (plain);
    return rc;
}
