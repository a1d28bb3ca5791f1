/*  fuzz_identity - a sealed identity as a client opens it after a login
    (identity_open), for alice, whose identity key is alice.pem

    Input: the sealed identity (a Fernet token, as the key server hands it
    back); or FUZZ_MODE_SEAL then IdentitySecret bytes that are sealed here
    under the key of the fixed SaltedPassword, to reach the parsing and the
    checks behind the MAC. Only alice's own key, under her name in any
    case, ever opens.
*/
#include "chaterror.h"
#include "fernet.h"
#include "identity.h"
#include "secret.h"
#include "wire.h"
#include "fuzz_util.h"

static rsakey_t *s_alice;
static uint8_t s_salted [SCRAM_KEY_SIZE];
static uint8_t s_seal_key [FERNET_KEY_SIZE];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_alice = fuzz_load_key (FUZZ_ALICE_KEY);
    memset (s_salted, FUZZ_SALTED_BYTE, sizeof s_salted);
    FUZZ_CHECK (secret_hkdf (s_salted, sizeof s_salted, IDENTITY_SEAL_INFO,
                             s_seal_key, sizeof s_seal_key) == 0);
    return 0;
}

static void
s_open (const char *sealed, size_t len)
{
    size_t der_len;
    const uint8_t *der = rsakey_der (s_alice, &der_len);
    rsakey_t *identity = NULL;
    int rc = identity_open (sealed, len, FUZZ_USERNAME, der, der_len, s_salted, &identity);
    FUZZ_CHECK_RC (rc, rc == CHAT_OK || rc == CHAT_ERR_MALFORMED || rc == CHAT_ERR_BAD_MAC
                    || rc == CHAT_ERR_BAD_REQUEST || rc == CHAT_ERR_BAD_KEY);
    FUZZ_CHECK ((rc == CHAT_OK) == (identity != NULL));
    if (rc != CHAT_OK)
        return;
    FUZZ_CHECK (rsakey_has_private (identity));
    FUZZ_CHECK (memcmp (rsakey_fingerprint (identity), rsakey_fingerprint (s_alice),
                        RSAKEY_FINGERPRINT_SIZE) == 0);
    rsakey_destroy (&identity);
    //  Under another name, another password, or when another key is
    //  announced, the same blob never opens
    FUZZ_CHECK (identity_open (sealed, len, "mallory", der, der_len, s_salted, &identity)
                == CHAT_ERR_BAD_REQUEST);
    uint8_t other [SCRAM_KEY_SIZE];
    memset (other, FUZZ_SALTED_BYTE + 1, sizeof other);
    FUZZ_CHECK (identity_open (sealed, len, FUZZ_USERNAME, der, der_len, other, &identity)
                == CHAT_ERR_BAD_MAC);
    FUZZ_CHECK (identity_open (sealed, len, FUZZ_USERNAME, der, der_len - 1, s_salted,
                               &identity) == CHAT_ERR_BAD_KEY);
    FUZZ_CHECK (identity == NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 1 && data [0] == FUZZ_MODE_SEAL) {
        char *token = NULL;
        FUZZ_CHECK (fernet_encrypt (s_seal_key, data + 1, size - 1, FUZZ_NOW, &token)
                    == CHAT_OK);
        s_open (token, strlen (token));
        free (token);
    }
    else {
        char *text = fuzz_strndup (data, size);
        FUZZ_CHECK (text);
        s_open (text, size);
        free (text);
    }
    return 0;
}
