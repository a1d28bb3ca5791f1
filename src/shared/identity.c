/*  identity - a user's long-term identity key: sealed under the password,
    compared by safety number
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "chaterror.h"
#include "credential.h"
#include "fernet.h"
#include "identity.h"
#include "secret.h"
#include "wire.h"

//  The Fernet key a sealed identity is made with, from SaltedPassword
static int
s_seal_key (const uint8_t salted [SCRAM_KEY_SIZE], uint8_t key [FERNET_KEY_SIZE])
{
    return secret_hkdf (salted, SCRAM_KEY_SIZE, IDENTITY_SEAL_INFO, key, FERNET_KEY_SIZE)
         ? CHAT_ERR_INTERNAL : CHAT_OK;
}


int
identity_seal (rsakey_t *identity, const char *username,
               const uint8_t salted_password [SCRAM_KEY_SIZE], int64_t now,
               char **sealed)
{
    assert (identity && username && salted_password && sealed);
    *sealed = NULL;
    if (!credential_username_valid (username) || !rsakey_has_private (identity))
        return CHAT_ERR_BAD_REQUEST;
    uint8_t key [FERNET_KEY_SIZE];
    uint8_t *der = NULL, *packed = NULL;
    size_t der_len = 0, packed_len = 0;
    int rc = s_seal_key (salted_password, key);
    if (rc == CHAT_OK)
        rc = rsakey_private_der (identity, &der, &der_len);
    if (rc == CHAT_OK) {
        Chat__IdentitySecret secret = CHAT__IDENTITY_SECRET__INIT;
        secret.username = (char *) username;
        secret.private_key.data = der;
        secret.private_key.len = der_len;
        rc = wire_pack (&secret.base, &packed, &packed_len);
    }
    if (rc == CHAT_OK)
        rc = fernet_encrypt (key, packed, packed_len, now, sealed);
    if (rc == CHAT_OK && strlen (*sealed) > IDENTITY_SEALED_MAX) {
        free (*sealed);
        *sealed = NULL;
        rc = CHAT_ERR_INTERNAL;
    }
    secret_wipe (key, sizeof key);
    if (der)
        secret_wipe (der, der_len);
    if (packed)
        secret_wipe (packed, packed_len);
    free (der);
    free (packed);
    return rc;
}


//  The key pair is the one der names: the same public key, byte for byte
static bool
s_is_key (rsakey_t *key, const uint8_t *der, size_t der_len)
{
    size_t own_len;
    const uint8_t *own = rsakey_der (key, &own_len);
    return der && der_len == own_len && memcmp (der, own, own_len) == 0;
}


int
identity_open (const char *sealed, size_t sealed_len, const char *username,
               const uint8_t *public_der, size_t public_der_len,
               const uint8_t salted_password [SCRAM_KEY_SIZE], rsakey_t **identity)
{
    assert (username && salted_password && identity);
    *identity = NULL;
    //  An overlong name would be cut short by the fold and could then
    //  match another
    if (!credential_username_valid (username))
        return CHAT_ERR_BAD_REQUEST;
    if (!sealed || sealed_len == 0 || sealed_len > IDENTITY_SEALED_MAX)
        return CHAT_ERR_MALFORMED;
    uint8_t key [FERNET_KEY_SIZE];
    int rc = s_seal_key (salted_password, key);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    if (rc == CHAT_OK)      //  no age limit: the blob lives as long as the password
        rc = fernet_decrypt (key, sealed, sealed_len, 0, wire_now (), &plain, &plain_len);
    secret_wipe (key, sizeof key);
    Chat__IdentitySecret *secret = NULL;
    if (rc == CHAT_OK
    &&  wire_unpack (&chat__identity_secret__descriptor, plain, plain_len,
                     (ProtobufCMessage **) &secret) != CHAT_OK)
        rc = CHAT_ERR_MALFORMED;
    if (rc == CHAT_OK) {
        char a [USERNAME_MAX + 1], b [USERNAME_MAX + 1];
        credential_username_fold (username, a, sizeof a);
        credential_username_fold (secret->username ? secret->username : "", b, sizeof b);
        if (!credential_username_valid (secret->username) || strcmp (a, b) != 0)
            rc = CHAT_ERR_BAD_REQUEST;
    }
    if (rc == CHAT_OK) {
        *identity = rsakey_from_private_der (secret->private_key.data,
                                             secret->private_key.len);
        //  A key the key server does not announce for this user would sign
        //  what nobody can check, and take keys wrapped for another
        if (!*identity || !s_is_key (*identity, public_der, public_der_len)) {
            rsakey_destroy (identity);
            rc = CHAT_ERR_BAD_KEY;
        }
    }
    if (secret) {
        secret_wipe (secret->private_key.data, secret->private_key.len);
        protobuf_c_message_free_unpacked (&secret->base, NULL);
    }
    if (plain) {
        secret_wipe (plain, plain_len);
        free (plain);
    }
    return rc;
}


//  One user's half of a safety number: 30 digits from
//  h = SHA-256(label || 0 || folded name || 0 || DER), then
//  IDENTITY_SAFETY_ROUNDS - 1 times h = SHA-256(h || DER); each of the
//  first six 5-byte pieces of h, big-endian, mod 100000.
static int
s_half (const char *username, rsakey_t *key, uint32_t groups [6])
{
    char folded [USERNAME_MAX + 1];
    credential_username_fold (username, folded, sizeof folded);
    size_t der_len;
    const uint8_t *der = rsakey_der (key, &der_len);
    static const uint8_t zero = 0;
    uint8_t h [32];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    bool ok = ctx
           && EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL)
           && EVP_DigestUpdate (ctx, IDENTITY_SAFETY_LABEL, strlen (IDENTITY_SAFETY_LABEL))
           && EVP_DigestUpdate (ctx, &zero, 1)
           && EVP_DigestUpdate (ctx, folded, strlen (folded))
           && EVP_DigestUpdate (ctx, &zero, 1)
           && EVP_DigestUpdate (ctx, der, der_len)
           && EVP_DigestFinal_ex (ctx, h, NULL);
    for (int round = 1; ok && round < IDENTITY_SAFETY_ROUNDS; round++)
        ok = EVP_DigestInit_ex (ctx, EVP_sha256 (), NULL)
          && EVP_DigestUpdate (ctx, h, sizeof h)
          && EVP_DigestUpdate (ctx, der, der_len)
          && EVP_DigestFinal_ex (ctx, h, NULL);
    EVP_MD_CTX_free (ctx);
    if (!ok)
        return CHAT_ERR_INTERNAL;
    for (int i = 0; i < 6; i++) {
        uint64_t piece = 0;
        for (int j = 0; j < 5; j++)
            piece = (piece << 8) | h [5 * i + j];
        groups [i] = (uint32_t) (piece % 100000);
    }
    return CHAT_OK;
}


int
identity_safety_number (const char *user_a, rsakey_t *key_a,
                        const char *user_b, rsakey_t *key_b,
                        char out [IDENTITY_SAFETY_SIZE])
{
    assert (user_a && key_a && user_b && key_b && out);
    out [0] = 0;
    if (!credential_username_valid (user_a) || !credential_username_valid (user_b))
        return CHAT_ERR_BAD_REQUEST;
    //  A fixed order both sides agree on: the folded names, bytewise
    char a [USERNAME_MAX + 1], b [USERNAME_MAX + 1];
    credential_username_fold (user_a, a, sizeof a);
    credential_username_fold (user_b, b, sizeof b);
    bool swap = strcmp (a, b) > 0;
    uint32_t groups [IDENTITY_SAFETY_GROUPS];
    if (s_half (swap ? user_b : user_a, swap ? key_b : key_a, groups) != CHAT_OK
    ||  s_half (swap ? user_a : user_b, swap ? key_a : key_b, groups + 6) != CHAT_OK)
        return CHAT_ERR_INTERNAL;
    char *p = out;
    for (int i = 0; i < IDENTITY_SAFETY_GROUPS; i++)
        p += snprintf (p, 7, i ? " %05u" : "%05u", (unsigned) groups [i]);
    return CHAT_OK;
}
