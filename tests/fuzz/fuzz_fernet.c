/*  fuzz_fernet - fernet_decrypt under a fixed key and clock

    Input: token text; or FUZZ_MODE_SEAL then the binary token without its
    HMAC (version, timestamp, IV, ciphertext), which is given a correct HMAC
    here so the fuzzer reaches decryption and padding; or 0x02 then a
    plaintext that must survive encrypt and decrypt.
*/
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include "chaterror.h"
#include "codec.h"
#include "fernet.h"
#include "wire.h"
#include "fuzz_util.h"

#define MODE_ROUNDTRIP 0x02

static uint8_t s_key [FERNET_KEY_SIZE];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    //  The key of the spec's own vectors
    FUZZ_CHECK (fernet_key_decode ("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=", s_key) == 0);
    return 0;
}

static void
s_check_decrypt (const char *token, size_t len, bool mac_ok)
{
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int rc = fernet_decrypt (s_key, token, len, 60, FUZZ_NOW, &plain, &plain_len);
    int64_t stamp = fernet_token_timestamp (token, len);
    if (rc == CHAT_OK) {
        FUZZ_CHECK (plain);
        FUZZ_CHECK (plain [plain_len] == 0);
        FUZZ_CHECK (stamp >= FUZZ_NOW - 60 && stamp <= FUZZ_NOW + FERNET_MAX_CLOCK_SKEW);
        //  Sealing the plaintext again with the token's own IV and time must
        //  give the token back: nothing in it was ignored
        uint8_t *raw = NULL;
        size_t raw_len = 0;
        FUZZ_CHECK (codec_b64url_decode (token, len, &raw, &raw_len) == 0);
        char *again = NULL;
        FUZZ_CHECK (fernet_encrypt_iv (s_key, plain, plain_len, stamp, raw + 9,
                                       &again) == CHAT_OK);
        FUZZ_CHECK (strlen (again) == len && memcmp (again, token, len) == 0);
        free (again);
        free (raw);
        free (plain);
    }
    else {
        FUZZ_CHECK (plain == NULL);
        FUZZ_CHECK_RC (rc, rc == CHAT_ERR_MALFORMED || rc == CHAT_ERR_BAD_MAC
                 || rc == CHAT_ERR_EXPIRED || rc == CHAT_ERR_FUTURE);
        if (mac_ok)
            FUZZ_CHECK (rc != CHAT_ERR_BAD_MAC);
    }
}

static void
s_sign_and_check (const uint8_t *body, size_t len)
{
    uint8_t *raw = malloc (len + 32);
    FUZZ_CHECK (raw);
    memcpy (raw, body, len);
    unsigned int mac_len = 0;
    FUZZ_CHECK (HMAC (EVP_sha256 (), s_key, 16, body, len, raw + len, &mac_len));
    char *token = codec_b64url_encode (raw, len + mac_len);
    FUZZ_CHECK (token);
    //  Too short to hold version, time, IV and one block: no MAC to speak of
    s_check_decrypt (token, strlen (token), len >= 1 + 8 + 16 + 16);
    free (token);
    free (raw);
}

static void
s_roundtrip (const uint8_t *plain, size_t len)
{
    char *token = NULL;
    FUZZ_CHECK (fernet_encrypt (s_key, plain, len, FUZZ_NOW, &token) == CHAT_OK);
    uint8_t *back = NULL;
    size_t back_len = 0;
    FUZZ_CHECK (fernet_decrypt (s_key, token, strlen (token), 60, FUZZ_NOW,
                                &back, &back_len) == CHAT_OK);
    FUZZ_CHECK (back_len == len && (len == 0 || memcmp (back, plain, len) == 0));
    free (back);
    free (token);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 1 && data [0] == FUZZ_MODE_SEAL)
        s_sign_and_check (data + 1, size - 1);
    else
    if (size >= 1 && data [0] == MODE_ROUNDTRIP)
        s_roundtrip (data + 1, size - 1);
    else
        s_check_decrypt ((const char *) data, size, false);
    return 0;
}
