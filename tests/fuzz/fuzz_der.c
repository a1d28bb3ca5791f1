/*  fuzz_der - a public key as DER, as both sides read the other's key in
    the handshake (rsakey_from_der); a key that is taken must work for what
    the server does with a client's key: fingerprint and OAEP encryption
*/
#include "chaterror.h"
#include "rsakey.h"
#include "wire.h"
#include "fuzz_util.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    rsakey_t *key = rsakey_from_der (data, size);
    if (!key)
        return 0;
    FUZZ_CHECK (!rsakey_has_private (key));
    int bits = rsakey_bits (key);
    FUZZ_CHECK (bits >= RSAKEY_MIN_BITS && bits <= RSAKEY_MAX_BITS);
    FUZZ_CHECK (rsakey_fingerprint (key));
    FUZZ_CHECK (strncmp (rsakey_fingerprint_text (key), "SHA256:", 7) == 0);
    size_t der_len = 0;
    const uint8_t *der = rsakey_der (key, &der_len);
    FUZZ_CHECK (der && der_len > 0);
    rsakey_t *again = rsakey_from_der (der, der_len);
    FUZZ_CHECK (again);
    FUZZ_CHECK (memcmp (rsakey_fingerprint (again), rsakey_fingerprint (key), 32) == 0);
    rsakey_destroy (&again);
    uint8_t secrets [48] = { 0 };
    uint8_t *out = NULL;
    size_t out_len = 0;
    int rc = rsakey_encrypt (key, secrets, sizeof secrets, &out, &out_len);
    //  Every key rsakey_from_der accepts (odd n, e = 65537, 2048-4096 bits)
    //  can be encrypted to
    FUZZ_CHECK_RC (rc, rc == CHAT_OK);
    free (out);
    rsakey_destroy (&key);
    FUZZ_CHECK (key == NULL);
    return 0;
}
