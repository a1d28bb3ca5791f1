/*  ksverifier - password-setting fields; see ksverifier.h  */
#include <assert.h>
#include <string.h>
#include "chaterror.h"
#include "fernet.h"
#include "ksverifier.h"

int
ksverifier_take (ProtobufCBinaryData salt, uint32_t iterations,
                 ProtobufCBinaryData stored_key, ProtobufCBinaryData server_key,
                 ProtobufCBinaryData sealed_identity, keystore_user_t *user,
                 const char **why)
{
    assert (user && why);
    *why = NULL;
    if (!salt.data || salt.len < KEYSTORE_SALT_MIN || salt.len > KEYSTORE_SALT_MAX)
        *why = "salt must be 16 to 64 bytes";
    else
    if (iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS)
        *why = "iteration count out of range";
    else
    if (!stored_key.data || stored_key.len != SCRAM_KEY_SIZE
    ||  !server_key.data || server_key.len != SCRAM_KEY_SIZE)
        *why = "stored_key and server_key must be 32 bytes";
    else
    if (!sealed_identity.data || sealed_identity.len == 0
    ||  sealed_identity.len > KEYSTORE_SEALED_MAX)
        *why = "sealed identity must be 1 to 8192 bytes";
    else
    //  The server can never open it, but it can refuse what no client
    //  could ever open either
    if (fernet_token_timestamp ((const char *) sealed_identity.data,
                                sealed_identity.len) < 0)
        *why = "sealed identity is not a Fernet token";
    if (*why)
        return CHAT_ERR_BAD_REQUEST;
    memcpy (user->salt, salt.data, salt.len);
    user->salt_len = salt.len;
    user->iterations = iterations;
    memcpy (user->stored_key, stored_key.data, SCRAM_KEY_SIZE);
    memcpy (user->server_key, server_key.data, SCRAM_KEY_SIZE);
    return CHAT_OK;
}
