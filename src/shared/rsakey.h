/*  rsakey - an RSA key pair or public key, and the only two ways it is used
    here: RSA-OAEP-SHA256 (MGF1-SHA256) and RSA-PSS-SHA256 (salt = 32 bytes)

    Keys are OpenSSL EVP_PKEYs. A public key crosses the wire as DER
    (SubjectPublicKeyInfo); its fingerprint is SHA-256 over that DER, printed
    like OpenSSH: "SHA256:" + base64 without padding.
*/
#ifndef RSAKEY_H_INCLUDED
#define RSAKEY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RSAKEY_MIN_BITS 2048
#define RSAKEY_MAX_BITS 4096
#define RSAKEY_FINGERPRINT_SIZE 32
#define RSAKEY_EXPONENT 65537           //  the only public exponent made or taken
//  The longest DER SubjectPublicKeyInfo of an RSA-4096 key with exponent
//  65537 is 550 bytes; anything longer is refused before it is parsed
#define RSAKEY_MAX_DER 600

typedef struct _rsakey_t rsakey_t;

//  A new key pair of the given size (2048..4096). NULL on failure.
rsakey_t *
    rsakey_generate (int bits);

//  Load a PEM private key (PKCS#8). NULL if missing, unreadable, not RSA,
//  outside RSAKEY_MIN_BITS..RSAKEY_MAX_BITS, or its exponent is not 65537.
rsakey_t *
    rsakey_load (const char *path);

//  Save the private key as PEM PKCS#8, mode 0600, atomically. Returns 0/-1.
int
    rsakey_save (rsakey_t *self, const char *path);

//  Load the key at path, or generate one of `bits` and save it there when
//  the file does not exist. NULL on failure.
rsakey_t *
    rsakey_load_or_create (const char *path, int bits);

//  A public key from DER. NULL unless it is RSA with
//  RSAKEY_MIN_BITS..RSAKEY_MAX_BITS bits and the exponent 65537 (the only
//  one the protocol allows), in at most RSAKEY_MAX_DER bytes with nothing
//  after it.
rsakey_t *
    rsakey_from_der (const uint8_t *der, size_t len);

void
    rsakey_destroy (rsakey_t **self_p);

bool
    rsakey_has_private (rsakey_t *self);

int
    rsakey_bits (rsakey_t *self);

//  The public key as DER. The buffer belongs to the key.
const uint8_t *
    rsakey_der (rsakey_t *self, size_t *len);

//  SHA-256 of the DER public key (RSAKEY_FINGERPRINT_SIZE bytes), owned by
//  the key.
const uint8_t *
    rsakey_fingerprint (rsakey_t *self);

//  "SHA256:..." text of the fingerprint, owned by the key.
const char *
    rsakey_fingerprint_text (rsakey_t *self);

//  "SHA256:..." text for any 32-byte digest; malloc'd.
char *
    rsakey_fingerprint_format (const uint8_t digest [RSAKEY_FINGERPRINT_SIZE]);

//  RSA-OAEP-SHA256. Returns CHAT_OK and a malloc'd buffer, or an error
//  (CHAT_ERR_INTERNAL to encrypt; CHAT_ERR_MALFORMED when decryption fails).
int
    rsakey_encrypt (rsakey_t *self, const uint8_t *in, size_t in_len,
                    uint8_t **out, size_t *out_len);
int
    rsakey_decrypt (rsakey_t *self, const uint8_t *in, size_t in_len,
                    uint8_t **out, size_t *out_len);

//  RSA-PSS-SHA256 over msg. sign: CHAT_OK and a malloc'd signature;
//  verify: CHAT_OK or CHAT_ERR_BAD_SIGNATURE.
int
    rsakey_sign (rsakey_t *self, const uint8_t *msg, size_t msg_len,
                 uint8_t **sig, size_t *sig_len);
int
    rsakey_verify (rsakey_t *self, const uint8_t *msg, size_t msg_len,
                   const uint8_t *sig, size_t sig_len);

//  The same over label || 0x00 || msg: every signature of protocol 2 names
//  what it is ("chat/2 certificate", "chat/2 statement", ...), so one kind
//  can never be passed off as another. label NULL: as rsakey_sign/verify.
int
    rsakey_sign_labelled (rsakey_t *self, const char *label,
                          const uint8_t *msg, size_t msg_len,
                          uint8_t **sig, size_t *sig_len);
int
    rsakey_verify_labelled (rsakey_t *self, const char *label,
                            const uint8_t *msg, size_t msg_len,
                            const uint8_t *sig, size_t sig_len);

//  The private key as DER PKCS#8, malloc'd: the caller wipes and frees it.
//  CHAT_OK, or CHAT_ERR_INTERNAL (also for a public-only key).
int
    rsakey_private_der (rsakey_t *self, uint8_t **der, size_t *len);
//  A key pair from DER PKCS#8 (nothing may trail it). NULL unless it is RSA
//  of an allowed size with the exponent 65537.
rsakey_t *
    rsakey_from_private_der (const uint8_t *der, size_t len);

//  The public key as PEM ("BEGIN PUBLIC KEY"), mode 0644, atomically: the
//  file an operator copies to the other server. Returns 0/-1.
int
    rsakey_save_public (rsakey_t *self, const char *path);
//  A public key from such a file (its first). NULL if missing, unreadable,
//  not RSA, of a size outside RSAKEY_MIN_BITS..RSAKEY_MAX_BITS, or an
//  exponent other than 65537.
rsakey_t *
    rsakey_load_public (const char *path);

//  Several public keys in one such file, one PEM block after the other
//  (a server's changeover file: its new key, then its old one). 0/-1.
int
    rsakey_save_public_many (rsakey_t **keys, size_t count, const char *path);
//  Every public key of such a file, in order, into keys (count of them).
//  0, or -1 (nothing kept) when the file is missing or unreadable, holds
//  no key, more than max, or anything that is not an acceptable public key.
int
    rsakey_load_public_many (const char *path, rsakey_t **keys, size_t max,
                             size_t *count);

#endif
