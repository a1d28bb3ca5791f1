/*  keystore_rules - the key store's checks, for every engine; see
    keystore_rules.h  */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include "keystore_rules.h"

bool
keystore_rules_scram_valid (const keystore_user_t *user)
{
    return user->salt_len >= KEYSTORE_SALT_MIN
        && user->salt_len <= KEYSTORE_SALT_MAX
        && user->iterations >= SCRAM_MIN_ITERATIONS
        && user->iterations <= SCRAM_MAX_ITERATIONS;
}

bool
keystore_rules_sealed_valid (const uint8_t *sealed, size_t sealed_len)
{
    return sealed && sealed_len > 0 && sealed_len <= KEYSTORE_SEALED_MAX;
}

static int
s_compare_wrapped (const void *a, const void *b)
{
    return strcasecmp (((const keystore_wrapped_t *) a)->username,
                       ((const keystore_wrapped_t *) b)->username);
}

int
keystore_rules_set_hash (keystore_wrapped_t *keys, size_t count, uint8_t hash [32])
{
    qsort (keys, count, sizeof keys [0], s_compare_wrapped);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    int rc = ctx && EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL)? 0: -2;
    for (size_t i = 0; rc == 0 && i < count; i++) {
        char lower [USERNAME_MAX + 1];
        credential_username_fold (keys [i].username, lower, sizeof lower);
        uint8_t length [4] = {
            (uint8_t) (keys [i].wrapped_len >> 24), (uint8_t) (keys [i].wrapped_len >> 16),
            (uint8_t) (keys [i].wrapped_len >> 8), (uint8_t) keys [i].wrapped_len
        };
        if (i > 0 && strcasecmp (keys [i - 1].username, keys [i].username) == 0)
            rc = -1;
        else
        if (!EVP_DigestUpdate (ctx, lower, strlen (lower) + 1)
        ||  !EVP_DigestUpdate (ctx, length, sizeof length)
        ||  !EVP_DigestUpdate (ctx, keys [i].wrapped, keys [i].wrapped_len))
            rc = -2;
    }
    if (rc == 0 && !EVP_DigestFinal_ex (ctx, hash, NULL))
        rc = -2;
    EVP_MD_CTX_free (ctx);
    return rc;
}
