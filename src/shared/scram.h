/*  scram - SCRAM-SHA-256 (RFC 5802, RFC 7677), both sides, no channel binding

    Messages are the RFC's text exactly ("n,,n=user,r=..." and so on), so the
    RFC 7677 test vector can be replayed through both state machines. The
    server stores only salt, iterations, StoredKey and ServerKey.
*/
#ifndef SCRAM_H_INCLUDED
#define SCRAM_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define SCRAM_KEY_SIZE 32
#define SCRAM_MIN_ITERATIONS 4096
#define SCRAM_MAX_ITERATIONS 10000000
#define SCRAM_MAX_MESSAGE 1024       //  longer SCRAM messages are refused

//  Derive the verifiers a server stores (RFC 5802 section 3). Returns 0/-1.
int
    scram_make_verifier (const char *password,
                         const uint8_t *salt, size_t salt_len,
                         uint32_t iterations,
                         uint8_t stored_key [SCRAM_KEY_SIZE],
                         uint8_t server_key [SCRAM_KEY_SIZE]);

//  SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations), and the
//  verifiers from it. A client keeps SaltedPassword only as long as it needs
//  it: it is also what seals the user's identity key (identity.h), which the
//  server, holding only StoredKey and ServerKey, can never compute. 0 / -1
//  (iterations outside SCRAM_MIN..MAX_ITERATIONS, empty salt).
int
    scram_salted_password (const char *password, const uint8_t *salt, size_t salt_len,
                           uint32_t iterations, uint8_t salted [SCRAM_KEY_SIZE]);
int
    scram_verifier_from_salted (const uint8_t salted [SCRAM_KEY_SIZE],
                                uint8_t stored_key [SCRAM_KEY_SIZE],
                                uint8_t server_key [SCRAM_KEY_SIZE]);

//  ---------------------------------------------------------------- client

typedef struct _scram_client_t scram_client_t;

//  nonce NULL: 24 random bytes, base64. A given nonce is for test vectors.
scram_client_t *
    scram_client_new (const char *username, const char *password,
                      const char *nonce);
void
    scram_client_destroy (scram_client_t **self_p);

//  The client-first message; owned by the object.
const char *
    scram_client_first (scram_client_t *self);

//  Take server-first, produce client-final (owned by the object). Refuses
//  (CHAT_ERR_MALFORMED) a server nonce that does not extend ours, a bad
//  salt, or an iteration count outside SCRAM_MIN..MAX_ITERATIONS.
int
    scram_client_final (scram_client_t *self, const char *server_first,
                        const char **client_final);

//  Check server-final ("v=..."): CHAT_OK or CHAT_ERR_AUTH_FAILED.
int
    scram_client_verify (scram_client_t *self, const char *server_final);

//  SaltedPassword of this login, owned by the object (wiped when it is
//  destroyed): only once server-final was verified, else NULL.
const uint8_t *
    scram_client_salted_password (scram_client_t *self);

//  ---------------------------------------------------------------- server

typedef struct _scram_server_t scram_server_t;

scram_server_t *
    scram_server_new (void);
void
    scram_server_destroy (scram_server_t **self_p);

//  Parse client-first; *username points into the object. CHAT_OK or
//  CHAT_ERR_MALFORMED (channel binding asked for, bad attributes, ...).
int
    scram_server_first (scram_server_t *self, const char *client_first,
                        const char **username);

//  Give the stored verifiers (real, or fake ones for an unknown user) and
//  get server-first (owned by the object). nonce NULL: random.
int
    scram_server_challenge (scram_server_t *self,
                            const uint8_t *salt, size_t salt_len,
                            uint32_t iterations,
                            const uint8_t stored_key [SCRAM_KEY_SIZE],
                            const uint8_t server_key [SCRAM_KEY_SIZE],
                            const char *nonce, const char **server_first);

//  Check client-final. CHAT_OK and server-final (owned by the object), or
//  CHAT_ERR_AUTH_FAILED (wrong proof, nonce mismatch), or CHAT_ERR_MALFORMED.
int
    scram_server_final (scram_server_t *self, const char *client_final,
                        const char **server_final);

#endif
