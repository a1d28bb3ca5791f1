/*  scram - SCRAM-SHA-256 (RFC 5802, RFC 7677), both sides, no channel binding

    Both parsers are strict: they accept exactly the attributes this system
    sends, in the RFC's order, and nothing else (no extensions, no authzid,
    no channel binding). A step called out of order, or after a failed step,
    fails: each object does one exchange.

    Not done: SASLprep (RFC 4013) of names and passwords. Both are used as
    the UTF-8 bytes they arrive as, on both sides, so the two sides always
    agree; the key server restricts usernames to a safe ASCII set anyway.
*/
#include "scram.h"
#include "chaterror.h"
#include "codec.h"
#include "secret.h"

#include <assert.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define SCRAM_NONCE_BYTES 24            //  random bytes in a generated nonce
#define GS2_HEADER "n,,"
#define GS2_HEADER_B64 "biws"           //  base64 ("n,,"), the c= attribute

typedef enum {
    STATE_START,                        //  client: first made; server: new
    STATE_FIRST,                        //  server: client-first parsed
    STATE_CHALLENGED,                   //  client: final sent; server: first sent
    STATE_DONE,
    STATE_FAILED
} state_t;


//  ---------------------------------------------------------------- crypto

static int
s_hmac (const uint8_t *key, size_t key_len, const void *data, size_t data_len,
        uint8_t out [SCRAM_KEY_SIZE])
{
    size_t out_len = 0;
    if (!EVP_Q_mac (NULL, "HMAC", NULL, "SHA256", NULL, key, key_len,
                    (const unsigned char *) data, data_len,
                    out, SCRAM_KEY_SIZE, &out_len)
    ||  out_len != SCRAM_KEY_SIZE)
        return -1;
    return 0;
}


static int
s_sha256 (const uint8_t *data, size_t len, uint8_t out [SCRAM_KEY_SIZE])
{
    return EVP_Digest (data, len, out, NULL, EVP_sha256 (), NULL)? 0: -1;
}


int
scram_salted_password (const char *password, const uint8_t *salt, size_t salt_len,
                       uint32_t iterations, uint8_t salted [SCRAM_KEY_SIZE])
{
    if (!password || !salt || salt_len == 0 || !salted
    ||  strlen (password) > INT_MAX || salt_len > INT_MAX || iterations > INT_MAX
    ||  iterations < SCRAM_MIN_ITERATIONS || iterations > SCRAM_MAX_ITERATIONS)
        return -1;
    if (!PKCS5_PBKDF2_HMAC (password, (int) strlen (password),
                            salt, (int) salt_len, (int) iterations,
                            EVP_sha256 (), SCRAM_KEY_SIZE, salted)) {
        secret_wipe (salted, SCRAM_KEY_SIZE);
        return -1;
    }
    return 0;
}


//  ClientKey and ServerKey from SaltedPassword
static int
s_keys_from_salted (const uint8_t salted [SCRAM_KEY_SIZE],
                    uint8_t client_key [SCRAM_KEY_SIZE],
                    uint8_t server_key [SCRAM_KEY_SIZE])
{
    return s_hmac (salted, SCRAM_KEY_SIZE, "Client Key", 10, client_key) == 0
        && s_hmac (salted, SCRAM_KEY_SIZE, "Server Key", 10, server_key) == 0 ? 0 : -1;
}


static bool
s_iterations_ok (uint32_t iterations)
{
    return iterations >= SCRAM_MIN_ITERATIONS && iterations <= SCRAM_MAX_ITERATIONS;
}


int
scram_verifier_from_salted (const uint8_t salted [SCRAM_KEY_SIZE],
                            uint8_t stored_key [SCRAM_KEY_SIZE],
                            uint8_t server_key [SCRAM_KEY_SIZE])
{
    if (!salted || !stored_key || !server_key)
        return -1;
    uint8_t client_key [SCRAM_KEY_SIZE];
    int rc = -1;
    if (s_keys_from_salted (salted, client_key, server_key) == 0
    &&  s_sha256 (client_key, sizeof client_key, stored_key) == 0)
        rc = 0;
    secret_wipe (client_key, sizeof client_key);
    if (rc) {
        secret_wipe (stored_key, SCRAM_KEY_SIZE);
        secret_wipe (server_key, SCRAM_KEY_SIZE);
    }
    return rc;
}


int
scram_make_verifier (const char *password,
                     const uint8_t *salt, size_t salt_len,
                     uint32_t iterations,
                     uint8_t stored_key [SCRAM_KEY_SIZE],
                     uint8_t server_key [SCRAM_KEY_SIZE])
{
    if (!stored_key || !server_key)
        return -1;
    uint8_t salted [SCRAM_KEY_SIZE];
    int rc = scram_salted_password (password, salt, salt_len, iterations, salted) == 0
          && scram_verifier_from_salted (salted, stored_key, server_key) == 0 ? 0 : -1;
    secret_wipe (salted, sizeof salted);
    return rc;
}


//  ---------------------------------------------------------------- text

//  RFC 5802 "printable": a nonce is %x21-7E except ','
static bool
s_nonce_ok (const char *nonce, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) nonce [i];
        if (c < 0x21 || c > 0x7e || c == ',')
            return false;
    }
    return true;
}


//  Standard base64 with padding, canonical, non-empty. Reuses the strict
//  url-safe decoder by translating the two characters that differ.
static int
s_b64_decode (const char *text, size_t len, uint8_t **data, size_t *data_len)
{
    *data = NULL;
    *data_len = 0;
    if (len == 0 || len > SCRAM_MAX_MESSAGE)
        return -1;
    char *url = (char *) malloc (len);
    if (!url)
        return -1;
    for (size_t i = 0; i < len; i++) {
        char c = text [i];
        if (c == '-' || c == '_') {
            free (url);
            return -1;
        }
        url [i] = c == '+'? '-': c == '/'? '_': c;
    }
    int rc = codec_b64url_decode (url, len, data, data_len);
    free (url);
    if (rc == 0 && *data_len == 0) {
        free (*data);
        *data = NULL;
        rc = -1;
    }
    return rc;
}


//  Decimal, no sign, no leading zero, fits in uint32_t
static int
s_parse_uint (const char *text, size_t len, uint32_t *value)
{
    if (len == 0 || len > 10 || (text [0] == '0' && len > 1))
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text [i] < '0' || text [i] > '9')
            return -1;
        v = v * 10 + (uint64_t) (text [i] - '0');
    }
    if (v > UINT32_MAX)
        return -1;
    *value = (uint32_t) v;
    return 0;
}


//  Split off the next attribute "k=value" from *cursor (which ends at end).
//  On success *value/*value_len is the value, and *cursor moves past the
//  following ',' (or to end).
static int
s_attribute (const char **cursor, const char *end, char key,
             const char **value, size_t *value_len)
{
    const char *p = *cursor;
    if (end - p < 2 || p [0] != key || p [1] != '=')
        return -1;
    p += 2;
    const char *comma = (const char *) memchr (p, ',', (size_t) (end - p));
    const char *stop = comma? comma: end;
    *value = p;
    *value_len = (size_t) (stop - p);
    *cursor = comma? comma + 1: end;
    return 0;
}


//  Escape a username for n= (RFC 5802 saslname): ',' -> =2C, '=' -> =3D
static char *
s_saslname_escape (const char *name)
{
    size_t len = 0;
    for (const char *p = name; *p; p++)
        len += (*p == ',' || *p == '=')? 3: 1;
    char *out = (char *) malloc (len + 1);
    if (!out)
        return NULL;
    char *q = out;
    for (const char *p = name; *p; p++) {
        if (*p == ',') {
            memcpy (q, "=2C", 3);
            q += 3;
        }
        else
        if (*p == '=') {
            memcpy (q, "=3D", 3);
            q += 3;
        }
        else
            *q++ = *p;
    }
    *q = '\0';
    return out;
}


//  The reverse; NULL when '=' is followed by anything but 2C or 3D, or the
//  result is empty
static char *
s_saslname_unescape (const char *text, size_t len)
{
    if (len == 0)
        return NULL;
    char *out = (char *) malloc (len + 1);
    if (!out)
        return NULL;
    char *q = out;
    for (size_t i = 0; i < len; i++) {
        if (text [i] == '=') {
            if (len - i >= 3 && text [i + 1] == '2' && text [i + 2] == 'C')
                *q++ = ',';
            else
            if (len - i >= 3 && text [i + 1] == '3' && text [i + 2] == 'D')
                *q++ = '=';
            else {
                free (out);
                return NULL;
            }
            i += 2;
        }
        else
            *q++ = text [i];
    }
    *q = '\0';
    return out;
}


//  A malloc'd "a,b,c" (the AuthMessage)
static char *
s_join3 (const char *a, size_t a_len, const char *b, size_t b_len,
         const char *c, size_t c_len)
{
    char *out = (char *) malloc (a_len + b_len + c_len + 3);
    if (!out)
        return NULL;
    char *q = out;
    memcpy (q, a, a_len);
    q += a_len;
    *q++ = ',';
    memcpy (q, b, b_len);
    q += b_len;
    *q++ = ',';
    memcpy (q, c, c_len);
    q += c_len;
    *q = '\0';
    return out;
}


//  Free a string that held something secret
static void
s_free_secret (char **text_p)
{
    if (*text_p) {
        secret_wipe (*text_p, strlen (*text_p));
        free (*text_p);
        *text_p = NULL;
    }
}


//  ---------------------------------------------------------------- client

struct _scram_client_t {
    state_t state;
    char *password;                     //  wiped and freed once used
    char *nonce;                        //  our nonce
    char *first;                        //  "n,,n=...,r=..."
    char *final;                        //  client-final
    uint8_t server_signature [SCRAM_KEY_SIZE];
    uint8_t salted [SCRAM_KEY_SIZE];    //  SaltedPassword, once proved
};


scram_client_t *
scram_client_new (const char *username, const char *password, const char *nonce)
{
    if (!username || !*username || !password)
        return NULL;
    scram_client_t *self = (scram_client_t *) calloc (1, sizeof (scram_client_t));
    if (!self)
        return NULL;
    self->state = STATE_START;
    self->password = strdup (password);
    if (!self->password)
        goto fail;

    if (nonce) {
        if (!s_nonce_ok (nonce, strlen (nonce)))
            goto fail;
        self->nonce = strdup (nonce);
    }
    else {
        uint8_t random [SCRAM_NONCE_BYTES];
        if (secret_random (random, sizeof random) != 0)
            goto fail;
        //  24 bytes encode without padding; base64 never contains ','
        self->nonce = codec_b64_encode (random, sizeof random);
    }
    if (!self->nonce)
        goto fail;

    char *saslname = s_saslname_escape (username);
    if (!saslname)
        goto fail;
    int rc = asprintf (&self->first, GS2_HEADER "n=%s,r=%s", saslname, self->nonce);
    free (saslname);
    if (rc < 0) {
        self->first = NULL;
        goto fail;
    }
    if (strlen (self->first) > SCRAM_MAX_MESSAGE)
        goto fail;
    return self;

fail:
    scram_client_destroy (&self);
    return NULL;
}


void
scram_client_destroy (scram_client_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        scram_client_t *self = *self_p;
        s_free_secret (&self->password);
        free (self->nonce);
        free (self->first);
        free (self->final);
        secret_wipe (self->server_signature, sizeof self->server_signature);
        secret_wipe (self->salted, sizeof self->salted);
        free (self);
        *self_p = NULL;
    }
}


const char *
scram_client_first (scram_client_t *self)
{
    assert (self);
    return self->first;
}


//  The work of scram_client_final once server-first parsed
static int
s_client_prove (scram_client_t *self, const char *server_first,
                const char *nonce, size_t nonce_len,
                const uint8_t *salt, size_t salt_len, uint32_t iterations)
{
    int rc = CHAT_ERR_INTERNAL;
    uint8_t client_key [SCRAM_KEY_SIZE];
    uint8_t server_key [SCRAM_KEY_SIZE];
    uint8_t stored_key [SCRAM_KEY_SIZE];
    uint8_t signature [SCRAM_KEY_SIZE];
    char *without_proof = NULL;
    char *auth = NULL;
    char *proof_b64 = NULL;

    if (asprintf (&without_proof, "c=" GS2_HEADER_B64 ",r=%.*s",
                  (int) nonce_len, nonce) < 0) {
        without_proof = NULL;
        goto done;
    }
    const char *bare = self->first + strlen (GS2_HEADER);
    auth = s_join3 (bare, strlen (bare),
                    server_first, strlen (server_first),
                    without_proof, strlen (without_proof));
    if (!auth)
        goto done;

    if (scram_salted_password (self->password, salt, salt_len, iterations,
                               self->salted) != 0
    ||  s_keys_from_salted (self->salted, client_key, server_key) != 0
    ||  s_sha256 (client_key, sizeof client_key, stored_key) != 0
    ||  s_hmac (stored_key, sizeof stored_key, auth, strlen (auth), signature) != 0
    ||  s_hmac (server_key, sizeof server_key, auth, strlen (auth),
                self->server_signature) != 0)
        goto done;

    //  ClientProof = ClientKey XOR ClientSignature, in place
    for (size_t i = 0; i < SCRAM_KEY_SIZE; i++)
        client_key [i] ^= signature [i];
    proof_b64 = codec_b64_encode (client_key, SCRAM_KEY_SIZE);
    if (!proof_b64)
        goto done;
    if (asprintf (&self->final, "%s,p=%s", without_proof, proof_b64) < 0) {
        self->final = NULL;
        goto done;
    }
    if (strlen (self->final) > SCRAM_MAX_MESSAGE) {
        //  Only an overlong server nonce can cause this
        free (self->final);
        self->final = NULL;
        rc = CHAT_ERR_MALFORMED;
        goto done;
    }
    rc = CHAT_OK;

done:
    secret_wipe (client_key, sizeof client_key);
    secret_wipe (server_key, sizeof server_key);
    secret_wipe (stored_key, sizeof stored_key);
    secret_wipe (signature, sizeof signature);
    free (without_proof);
    free (auth);
    free (proof_b64);
    return rc;
}


int
scram_client_final (scram_client_t *self, const char *server_first,
                    const char **client_final)
{
    assert (self);
    if (client_final)
        *client_final = NULL;
    if (self->state != STATE_START || !server_first)
        return CHAT_ERR_MALFORMED;
    //  Whatever happens, this object is used up
    self->state = STATE_FAILED;

    size_t len = strlen (server_first);
    if (len > SCRAM_MAX_MESSAGE)
        return CHAT_ERR_MALFORMED;

    //  r=<nonce>,s=<salt>,i=<iterations> and nothing else
    const char *cursor = server_first;
    const char *end = server_first + len;
    const char *nonce, *salt_b64, *iter_text;
    size_t nonce_len, salt_b64_len, iter_len;
    if (s_attribute (&cursor, end, 'r', &nonce, &nonce_len)
    ||  cursor == end
    ||  s_attribute (&cursor, end, 's', &salt_b64, &salt_b64_len)
    ||  cursor == end
    ||  s_attribute (&cursor, end, 'i', &iter_text, &iter_len)
    ||  cursor != end
    ||  iter_text + iter_len != end)
        return CHAT_ERR_MALFORMED;

    //  The server's nonce must extend ours by at least one character
    size_t ours = strlen (self->nonce);
    if (nonce_len <= ours || memcmp (nonce, self->nonce, ours) != 0
    ||  !s_nonce_ok (nonce, nonce_len))
        return CHAT_ERR_MALFORMED;

    uint32_t iterations;
    if (s_parse_uint (iter_text, iter_len, &iterations) != 0
    ||  !s_iterations_ok (iterations))
        return CHAT_ERR_MALFORMED;

    uint8_t *salt = NULL;
    size_t salt_len = 0;
    if (s_b64_decode (salt_b64, salt_b64_len, &salt, &salt_len) != 0)
        return CHAT_ERR_MALFORMED;

    int rc = s_client_prove (self, server_first, nonce, nonce_len,
                             salt, salt_len, iterations);
    free (salt);
    //  The password is not needed any more
    s_free_secret (&self->password);
    if (rc != CHAT_OK) {
        secret_wipe (self->salted, sizeof self->salted);
        return rc;
    }
    self->state = STATE_CHALLENGED;
    if (client_final)
        *client_final = self->final;
    return CHAT_OK;
}


static int
s_client_verify (scram_client_t *self, const char *server_final)
{
    if (self->state != STATE_CHALLENGED || !server_final)
        return CHAT_ERR_AUTH_FAILED;
    self->state = STATE_FAILED;

    //  "v=<base64>" exactly; "e=..." (a server error) is a failure too
    size_t len = strlen (server_final);
    if (len > SCRAM_MAX_MESSAGE || len < 2
    ||  server_final [0] != 'v' || server_final [1] != '=')
        return CHAT_ERR_AUTH_FAILED;
    uint8_t *signature = NULL;
    size_t signature_len = 0;
    if (s_b64_decode (server_final + 2, len - 2, &signature, &signature_len) != 0)
        return CHAT_ERR_AUTH_FAILED;
    int rc = CHAT_ERR_AUTH_FAILED;
    if (signature_len == SCRAM_KEY_SIZE
    &&  CRYPTO_memcmp (signature, self->server_signature, SCRAM_KEY_SIZE) == 0) {
        rc = CHAT_OK;
        self->state = STATE_DONE;
    }
    free (signature);
    return rc;
}


int
scram_client_verify (scram_client_t *self, const char *server_final)
{
    assert (self);
    int rc = s_client_verify (self, server_final);
    //  SaltedPassword opens the user's identity: kept only for a server
    //  that proved it knows the verifiers
    if (rc != CHAT_OK)
        secret_wipe (self->salted, sizeof self->salted);
    return rc;
}


const uint8_t *
scram_client_salted_password (scram_client_t *self)
{
    assert (self);
    return self->state == STATE_DONE ? self->salted : NULL;
}


//  ---------------------------------------------------------------- server

struct _scram_server_t {
    state_t state;
    char *username;                     //  unescaped
    char *first_bare;                   //  client-first without gs2 header
    char *client_nonce;
    char *nonce;                        //  client nonce + server part
    char *first;                        //  server-first
    char *final;                        //  server-final
    uint8_t stored_key [SCRAM_KEY_SIZE];
    uint8_t server_key [SCRAM_KEY_SIZE];
};


scram_server_t *
scram_server_new (void)
{
    scram_server_t *self = (scram_server_t *) calloc (1, sizeof (scram_server_t));
    if (self)
        self->state = STATE_START;
    return self;
}


void
scram_server_destroy (scram_server_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        scram_server_t *self = *self_p;
        free (self->username);
        free (self->first_bare);
        free (self->client_nonce);
        free (self->nonce);
        free (self->first);
        free (self->final);
        secret_wipe (self->stored_key, sizeof self->stored_key);
        secret_wipe (self->server_key, sizeof self->server_key);
        free (self);
        *self_p = NULL;
    }
}


int
scram_server_first (scram_server_t *self, const char *client_first,
                    const char **username)
{
    assert (self);
    if (username)
        *username = NULL;
    if (self->state != STATE_START || !client_first)
        return CHAT_ERR_MALFORMED;
    self->state = STATE_FAILED;

    size_t len = strlen (client_first);
    //  "n,," only: no channel binding ("y", "p=") and no authzid ("a=")
    size_t header_len = strlen (GS2_HEADER);
    if (len > SCRAM_MAX_MESSAGE || len < header_len
    ||  memcmp (client_first, GS2_HEADER, header_len) != 0)
        return CHAT_ERR_MALFORMED;

    //  n=<saslname>,r=<nonce> and nothing else (so no "m=" either)
    const char *bare = client_first + header_len;
    const char *end = client_first + len;
    const char *cursor = bare;
    const char *name, *nonce;
    size_t name_len, nonce_len;
    if (s_attribute (&cursor, end, 'n', &name, &name_len)
    ||  cursor == end
    ||  s_attribute (&cursor, end, 'r', &nonce, &nonce_len)
    ||  cursor != end
    ||  nonce + nonce_len != end
    ||  !s_nonce_ok (nonce, nonce_len))
        return CHAT_ERR_MALFORMED;

    self->username = s_saslname_unescape (name, name_len);
    self->first_bare = strdup (bare);
    self->client_nonce = strndup (nonce, nonce_len);
    if (!self->username || !self->first_bare || !self->client_nonce)
        return CHAT_ERR_MALFORMED;

    self->state = STATE_FIRST;
    if (username)
        *username = self->username;
    return CHAT_OK;
}


int
scram_server_challenge (scram_server_t *self,
                        const uint8_t *salt, size_t salt_len,
                        uint32_t iterations,
                        const uint8_t stored_key [SCRAM_KEY_SIZE],
                        const uint8_t server_key [SCRAM_KEY_SIZE],
                        const char *nonce, const char **server_first)
{
    assert (self);
    if (server_first)
        *server_first = NULL;
    if (self->state != STATE_FIRST)
        return CHAT_ERR_MALFORMED;
    self->state = STATE_FAILED;
    //  These come from our own store: bad ones are our bug
    if (!salt || salt_len == 0 || salt_len > SCRAM_MAX_MESSAGE / 2
    ||  !s_iterations_ok (iterations) || !stored_key || !server_key
    ||  (nonce && !s_nonce_ok (nonce, strlen (nonce))))
        return CHAT_ERR_INTERNAL;

    char *server_nonce = NULL;
    if (nonce)
        server_nonce = strdup (nonce);
    else {
        uint8_t random [SCRAM_NONCE_BYTES];
        if (secret_random (random, sizeof random) == 0)
            server_nonce = codec_b64_encode (random, sizeof random);
    }
    char *salt_b64 = codec_b64_encode (salt, salt_len);
    int rc = CHAT_ERR_INTERNAL;
    if (server_nonce && salt_b64
    &&  asprintf (&self->nonce, "%s%s", self->client_nonce, server_nonce) >= 0) {
        if (asprintf (&self->first, "r=%s,s=%s,i=%u",
                      self->nonce, salt_b64, (unsigned) iterations) < 0)
            self->first = NULL;
        else
        if (strlen (self->first) > SCRAM_MAX_MESSAGE)
            rc = CHAT_ERR_MALFORMED;        //  client nonce too long to answer
        else
            rc = CHAT_OK;
    }
    else
        self->nonce = NULL;
    free (server_nonce);
    free (salt_b64);
    if (rc != CHAT_OK)
        return rc;

    memcpy (self->stored_key, stored_key, SCRAM_KEY_SIZE);
    memcpy (self->server_key, server_key, SCRAM_KEY_SIZE);
    self->state = STATE_CHALLENGED;
    if (server_first)
        *server_first = self->first;
    return CHAT_OK;
}


int
scram_server_final (scram_server_t *self, const char *client_final,
                    const char **server_final)
{
    assert (self);
    if (server_final)
        *server_final = NULL;
    if (self->state != STATE_CHALLENGED || !client_final)
        return CHAT_ERR_MALFORMED;
    self->state = STATE_FAILED;

    size_t len = strlen (client_final);
    if (len > SCRAM_MAX_MESSAGE)
        return CHAT_ERR_MALFORMED;

    //  c=biws,r=<nonce>,p=<proof> and nothing else
    const char *end = client_final + len;
    const char *cursor = client_final;
    const char *binding, *nonce, *proof_b64;
    size_t binding_len, nonce_len, proof_b64_len;
    if (s_attribute (&cursor, end, 'c', &binding, &binding_len)
    ||  cursor == end
    ||  s_attribute (&cursor, end, 'r', &nonce, &nonce_len)
    ||  cursor == end)
        return CHAT_ERR_MALFORMED;
    //  client-final-without-proof ends before ",p="
    size_t without_proof_len = (size_t) (cursor - 1 - client_final);
    if (s_attribute (&cursor, end, 'p', &proof_b64, &proof_b64_len)
    ||  cursor != end
    ||  proof_b64 + proof_b64_len != end)
        return CHAT_ERR_MALFORMED;
    if (binding_len != strlen (GS2_HEADER_B64)
    ||  memcmp (binding, GS2_HEADER_B64, binding_len) != 0)
        return CHAT_ERR_MALFORMED;

    uint8_t *proof = NULL;
    size_t proof_len = 0;
    if (s_b64_decode (proof_b64, proof_b64_len, &proof, &proof_len) != 0)
        return CHAT_ERR_MALFORMED;
    if (proof_len != SCRAM_KEY_SIZE) {
        free (proof);
        return CHAT_ERR_MALFORMED;
    }
    //  The nonce is not secret: a plain comparison is fine
    if (nonce_len != strlen (self->nonce)
    ||  memcmp (nonce, self->nonce, nonce_len) != 0) {
        free (proof);
        return CHAT_ERR_AUTH_FAILED;
    }

    int rc = CHAT_ERR_INTERNAL;
    uint8_t signature [SCRAM_KEY_SIZE];
    uint8_t stored_key [SCRAM_KEY_SIZE];
    uint8_t server_signature [SCRAM_KEY_SIZE];
    char *server_signature_b64 = NULL;
    char *auth = s_join3 (self->first_bare, strlen (self->first_bare),
                          self->first, strlen (self->first),
                          client_final, without_proof_len);
    if (!auth
    ||  s_hmac (self->stored_key, SCRAM_KEY_SIZE, auth, strlen (auth), signature) != 0)
        goto done;
    //  ClientKey = ClientProof XOR ClientSignature, in place in proof
    for (size_t i = 0; i < SCRAM_KEY_SIZE; i++)
        proof [i] ^= signature [i];
    if (s_sha256 (proof, SCRAM_KEY_SIZE, stored_key) != 0)
        goto done;
    if (CRYPTO_memcmp (stored_key, self->stored_key, SCRAM_KEY_SIZE) != 0) {
        rc = CHAT_ERR_AUTH_FAILED;
        goto done;
    }
    if (s_hmac (self->server_key, SCRAM_KEY_SIZE, auth, strlen (auth),
                server_signature) != 0
    ||  (server_signature_b64 = codec_b64_encode (server_signature,
                                                  SCRAM_KEY_SIZE)) == NULL
    ||  asprintf (&self->final, "v=%s", server_signature_b64) < 0) {
        self->final = NULL;
        goto done;
    }
    rc = CHAT_OK;
    self->state = STATE_DONE;
    if (server_final)
        *server_final = self->final;

done:
    secret_wipe (proof, SCRAM_KEY_SIZE);
    free (proof);
    secret_wipe (signature, sizeof signature);
    secret_wipe (stored_key, sizeof stored_key);
    secret_wipe (server_signature, sizeof server_signature);
    free (server_signature_b64);
    free (auth);
    return rc;
}
