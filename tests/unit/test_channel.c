/*  test_channel - the handshake and sealed frames, and every refusal  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "channel.h"
#include "chaterror.h"
#include "fernet.h"
#include "secret.h"
#include "wire.h"

#define PUSH_ENDPOINT "tcp://*:5557"

static rsakey_t *s_server_key;
static rsakey_t *s_client_key;
//  What the server says about itself in every Welcome of these tests: the
//  main server, its push endpoint, and a key rotation statement
static uint8_t *s_info;
static size_t s_info_len;
static uint8_t *s_rotation;
static size_t s_rotation_len;

//  A KeyRotation as a server whose key was replaced presents it (section 7)
static int
s_make_rotation (void)
{
    rsakey_t *old = rsakey_generate (2048);
    if (!old)
        return -1;
    size_t old_len;
    const uint8_t *old_der = rsakey_der (old, &old_len);
    Chat__KeyRotationBody body = CHAT__KEY_ROTATION_BODY__INIT;
    body.old_public_key.data = (uint8_t *) old_der;
    body.old_public_key.len = old_len;
    body.new_key_fingerprint.data = (uint8_t *) rsakey_fingerprint (s_server_key);
    body.new_key_fingerprint.len = RSAKEY_FINGERPRINT_SIZE;
    body.made_at = 1700000000;
    Chat__KeyRotation rotation = CHAT__KEY_ROTATION__INIT;
    int rc = wire_pack (&body.base, &rotation.body.data, &rotation.body.len);
    if (rc == CHAT_OK)
        rc = rsakey_sign_labelled (old, "chat/2 key rotation", rotation.body.data,
                                   rotation.body.len, &rotation.signature.data,
                                   &rotation.signature.len);
    if (rc == CHAT_OK)
        rc = wire_pack (&rotation.base, &s_rotation, &s_rotation_len);
    free (rotation.body.data);
    free (rotation.signature.data);
    rsakey_destroy (&old);
    return rc == CHAT_OK ? 0 : -1;
}

typedef struct {
    channel_t *client;
    channel_t *server;
} pair_t;

static int
s_group_setup (void **state)
{
    (void) state;
    s_server_key = rsakey_generate (2048);
    s_client_key = rsakey_generate (2048);
    if (!s_server_key || !s_client_key || s_make_rotation () != 0)
        return -1;
    return channel_welcome_info (CHANNEL_ROLE_MAINSERVER, PUSH_ENDPOINT, s_rotation,
                                 s_rotation_len, &s_info, &s_info_len) == CHAT_OK ? 0 : -1;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    rsakey_destroy (&s_server_key);
    rsakey_destroy (&s_client_key);
    free (s_info);
    free (s_rotation);
    return 0;
}

//  Runs the server side of a handshake on a Hello frame.
static int
s_server_answer (const uint8_t *hello_frame, size_t hello_size,
                 channel_t **server, uint8_t **welcome, size_t *welcome_size)
{
    Chat__Envelope *env;
    int rc = wire_envelope_unpack (hello_frame, hello_size, &env);
    if (rc != CHAT_OK)
        return rc;
    if (env->kind_case != CHAT__ENVELOPE__KIND_HELLO)
        rc = CHAT_ERR_MALFORMED;
    else
        rc = channel_server_accept (s_server_key, s_info, s_info_len, env->hello, server,
                                    welcome, welcome_size);
    chat__envelope__free_unpacked (env, NULL);
    return rc;
}

static int
s_pair_setup (void **state)
{
    pair_t *pair = calloc (1, sizeof *pair);
    pair->client = channel_client_new (s_client_key);
    uint8_t *hello, *welcome;
    size_t hello_size, welcome_size;
    assert_int_equal (channel_client_hello (pair->client, &hello, &hello_size), CHAT_OK);
    assert_int_equal (s_server_answer (hello, hello_size, &pair->server,
                                       &welcome, &welcome_size), CHAT_OK);
    assert_int_equal (channel_client_accept (pair->client, welcome, welcome_size), CHAT_OK);
    free (hello);
    free (welcome);
    *state = pair;
    return 0;
}

static int
s_pair_teardown (void **state)
{
    pair_t *pair = *state;
    channel_destroy (&pair->client);
    channel_destroy (&pair->server);
    free (pair);
    return 0;
}

//  The token inside an Envelope{sealed} frame (malloc'd copy).
static char *
s_token_of (const uint8_t *frame, size_t size, uint8_t session_id [16])
{
    Chat__Envelope *env;
    assert_int_equal (wire_envelope_unpack (frame, size, &env), CHAT_OK);
    assert_int_equal (env->kind_case, CHAT__ENVELOPE__KIND_SEALED);
    assert_int_equal (env->sealed->session_id.len, 16);
    if (session_id)
        memcpy (session_id, env->sealed->session_id.data, 16);
    char *token = strdup (env->sealed->token);
    chat__envelope__free_unpacked (env, NULL);
    return token;
}

//  Seal text on `from`, return its token.
static char *
s_seal (channel_t *from, const char *text)
{
    uint8_t *frame;
    size_t size;
    assert_int_equal (channel_seal (from, (const uint8_t *) text, strlen (text),
                                    &frame, &size), CHAT_OK);
    char *token = s_token_of (frame, size, NULL);
    free (frame);
    return token;
}

static int
s_open (channel_t *to, const char *token, char *out, size_t out_size)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    int rc = channel_open (to, token, strlen (token), &payload, &len);
    if (rc == CHAT_OK) {
        assert_true (len < out_size);
        memcpy (out, payload, len);
        out [len] = 0;
        free (payload);
    }
    return rc;
}

static void
test_handshake_agrees (void **state)
{
    pair_t *pair = *state;
    assert_true (channel_is_open (pair->client));
    assert_true (channel_is_open (pair->server));
    assert_memory_equal (channel_session_id (pair->client),
                         channel_session_id (pair->server), CHANNEL_SESSION_ID_SIZE);
    assert_memory_equal (channel_session_token (pair->client),
                         channel_session_token (pair->server), CHANNEL_SESSION_TOKEN_SIZE);
    //  Each side knows the other's key
    assert_memory_equal (channel_peer_fingerprint (pair->client),
                         rsakey_fingerprint (s_server_key), 32);
    assert_memory_equal (channel_peer_fingerprint (pair->server),
                         rsakey_fingerprint (s_client_key), 32);
    assert_string_equal (channel_peer_fingerprint_text (pair->client),
                         rsakey_fingerprint_text (s_server_key));
}

static void
test_seal_both_ways (void **state)
{
    pair_t *pair = *state;
    char out [64];
    for (int i = 0; i < 3; i++) {
        char *token = s_seal (pair->client, "request");
        assert_int_equal (s_open (pair->server, token, out, sizeof out), CHAT_OK);
        assert_string_equal (out, "request");
        free (token);
        token = s_seal (pair->server, "reply");
        assert_int_equal (s_open (pair->client, token, out, sizeof out), CHAT_OK);
        assert_string_equal (out, "reply");
        free (token);
    }
}

//  A frame sealed for one direction does not open in the other
static void
test_reflection_refused (void **state)
{
    pair_t *pair = *state;
    char out [64];
    char *token = s_seal (pair->client, "request");
    assert_int_equal (s_open (pair->client, token, out, sizeof out), CHAT_ERR_BAD_MAC);
    free (token);
}

static void
test_replay_refused (void **state)
{
    pair_t *pair = *state;
    char out [64];
    char *token = s_seal (pair->client, "once");
    assert_int_equal (s_open (pair->server, token, out, sizeof out), CHAT_OK);
    assert_int_equal (s_open (pair->server, token, out, sizeof out), CHAT_ERR_REPLAYED);
    //  The session survives
    char *next = s_seal (pair->client, "twice");
    assert_int_equal (s_open (pair->server, next, out, sizeof out), CHAT_OK);
    free (token);
    free (next);
}

static void
test_reorder_refused (void **state)
{
    pair_t *pair = *state;
    char out [64];
    char *first = s_seal (pair->client, "first");
    char *second = s_seal (pair->client, "second");
    assert_int_equal (s_open (pair->server, second, out, sizeof out), CHAT_OK);
    assert_int_equal (s_open (pair->server, first, out, sizeof out), CHAT_ERR_REORDERED);
    //  and a replay of the newer one is still a replay
    assert_int_equal (s_open (pair->server, second, out, sizeof out), CHAT_ERR_REPLAYED);
    char *third = s_seal (pair->client, "third");
    assert_int_equal (s_open (pair->server, third, out, sizeof out), CHAT_OK);
    free (first);
    free (second);
    free (third);
}

static void
test_expired_and_future_refused (void **state)
{
    pair_t *pair = *state;
    char out [64];
    channel_set_clock_offset (pair->client, -(CHANNEL_TTL + 5));
    char *old = s_seal (pair->client, "old");
    assert_int_equal (s_open (pair->server, old, out, sizeof out), CHAT_ERR_EXPIRED);
    channel_set_clock_offset (pair->client, FERNET_MAX_CLOCK_SKEW + 30);
    char *future = s_seal (pair->client, "future");
    assert_int_equal (s_open (pair->server, future, out, sizeof out), CHAT_ERR_FUTURE);
    //  Within the skew is fine
    channel_set_clock_offset (pair->client, 20);
    char *near = s_seal (pair->client, "near");
    assert_int_equal (s_open (pair->server, near, out, sizeof out), CHAT_OK);
    free (old);
    free (future);
    free (near);
}

static void
test_tampered_refused (void **state)
{
    pair_t *pair = *state;
    char out [64];
    char *token = s_seal (pair->client, "tamper with me");
    size_t len = strlen (token);
    //  Flip a character in every region: version, timestamp, IV, ciphertext, MAC
    size_t spots [] = { 1, 5, 15, 40, len / 2, len - 8 };
    for (size_t i = 0; i < sizeof spots / sizeof spots [0]; i++) {
        char *bad = strdup (token);
        bad [spots [i]] = bad [spots [i]] == 'A' ? 'B' : 'A';
        int rc = s_open (pair->server, bad, out, sizeof out);
        //  Characters 1 to 11 hold the stamp: read before the HMAC, a
        //  stamp moved out of the ttl is refused for its time.
        if (spots [i] >= 1 && spots [i] <= 11)
            assert_true (rc == CHAT_ERR_BAD_MAC || rc == CHAT_ERR_MALFORMED
                      || rc == CHAT_ERR_EXPIRED || rc == CHAT_ERR_FUTURE);
        else
            assert_true (rc == CHAT_ERR_BAD_MAC || rc == CHAT_ERR_MALFORMED);
        free (bad);
    }
    //  The untouched token still opens: nothing was consumed by the refusals
    assert_int_equal (s_open (pair->server, token, out, sizeof out), CHAT_OK);
    free (token);
}

static void
test_truncated_refused (void **state)
{
    pair_t *pair = *state;
    char out [64];
    char *token = s_seal (pair->client, "cut short");
    size_t len = strlen (token);
    for (size_t cut = 0; cut < len; cut++) {
        char *bad = strndup (token, cut);
        int rc = s_open (pair->server, bad, out, sizeof out);
        assert_true (rc == CHAT_ERR_MALFORMED || rc == CHAT_ERR_BAD_MAC);
        free (bad);
    }
    assert_int_equal (s_open (pair->server, token, out, sizeof out), CHAT_OK);
    free (token);
}

static void
test_push (void **state)
{
    pair_t *pair = *state;
    uint8_t *frame, *payload;
    size_t size, len;
    assert_int_equal (channel_seal_push (pair->server, (const uint8_t *) "push", 4,
                                         &frame, &size), CHAT_OK);
    assert_int_equal (channel_open_push (pair->client, frame, size, &payload, &len), CHAT_OK);
    assert_int_equal (len, 4);
    assert_memory_equal (payload, "push", 4);
    free (payload);
    //  Replayed push
    assert_int_equal (channel_open_push (pair->client, frame, size, &payload, &len),
                      CHAT_ERR_REPLAYED);
    //  A push is not a reply: the request/reply key does not open it
    Chat__PushFrame *push;
    assert_int_equal (wire_unpack (&chat__push_frame__descriptor, frame, size,
                                   (ProtobufCMessage **) &push), CHAT_OK);
    char out [16];
    assert_int_equal (s_open (pair->client, push->token, out, sizeof out), CHAT_ERR_BAD_MAC);
    chat__push_frame__free_unpacked (push, NULL);
    //  Truncated push frames
    for (size_t cut = 0; cut < size; cut += 7)
        assert_int_not_equal (channel_open_push (pair->client, frame, cut, &payload, &len),
                              CHAT_OK);
    free (frame);
}

//  Pushes sealed into a caller's buffer (as seal workers do) open as any
//  push, for payloads on both sides of the stack buffers' sizes; the
//  buffer's size bound holds for each, and a buffer too small is refused
static void
test_push_into (void **state)
{
    pair_t *pair = *state;
    uint8_t key [FERNET_KEY_SIZE];
    static uint8_t data [9000];
    for (size_t i = 0; i < sizeof data; i++)
        data [i] = (uint8_t) (i * 11 + 3);
    const size_t lengths [] = { 0, 1, 100, 700, 2000, 2100, 3000, 3100, 6000, 9000 };
    for (size_t i = 0; i < sizeof lengths / sizeof lengths [0]; i++) {
        size_t len = lengths [i];
        uint64_t seq = channel_push_reserve (pair->server, key);
        fernet_key_t *ready = fernet_key_new (key);
        assert_non_null (ready);
        size_t capacity = channel_push_frame_max (len);
        uint8_t *frame = malloc (capacity);
        assert_non_null (frame);
        size_t size = 0;
        assert_int_equal (channel_seal_push_into (ready, seq, channel_session_id (pair->server),
                                                  data, len, wire_now (), frame, capacity,
                                                  &size), CHAT_OK);
        assert_true (size <= capacity);
        uint8_t *payload;
        size_t payload_len;
        assert_int_equal (channel_open_push (pair->client, frame, size, &payload,
                                             &payload_len), CHAT_OK);
        assert_int_equal (payload_len, len);
        if (len)
            assert_memory_equal (payload, data, len);
        free (payload);
        assert_int_equal (channel_seal_push_into (ready, seq + 1,
                                                  channel_session_id (pair->server),
                                                  data, len, wire_now (), frame, size - 1,
                                                  &size), CHAT_ERR_INTERNAL);
        free (frame);
        fernet_key_destroy (&ready);
        secret_wipe (key, sizeof key);
    }
}

//  A push for another session is refused before any crypto
static void
test_push_other_session (void **state)
{
    pair_t *pair = *state;
    pair_t other;
    void *other_state;
    s_pair_setup (&other_state);
    other = *(pair_t *) other_state;
    uint8_t *frame, *payload;
    size_t size, len;
    assert_int_equal (channel_seal_push (other.server, (const uint8_t *) "x", 1,
                                         &frame, &size), CHAT_OK);
    assert_int_equal (channel_open_push (pair->client, frame, size, &payload, &len),
                      CHAT_ERR_UNKNOWN_SESSION);
    free (frame);
    s_pair_teardown (&other_state);
}

//  Another session's token does not open here
static void
test_cross_session_refused (void **state)
{
    pair_t *pair = *state;
    void *other_state;
    s_pair_setup (&other_state);
    pair_t *other = other_state;
    char out [16];
    char *token = s_seal (other->client, "elsewhere");
    assert_int_equal (s_open (pair->server, token, out, sizeof out), CHAT_ERR_BAD_MAC);
    free (token);
    s_pair_teardown (&other_state);
}

static void
test_bad_hello (void **state)
{
    (void) state;
    channel_t *server = NULL;
    uint8_t *welcome;
    size_t size;
    size_t der_len;
    const uint8_t *der = rsakey_der (s_client_key, &der_len);
    uint8_t nonce [CHANNEL_NONCE_SIZE] = { 1 };

    Chat__Hello hello = CHAT__HELLO__INIT;
    hello.client_public_key.data = (uint8_t *) der;
    hello.client_public_key.len = der_len;
    hello.client_nonce.data = nonce;
    hello.client_nonce.len = sizeof nonce;
    //  Protocol 1 (and anything but 2) is refused
    assert_int_equal (CHANNEL_VERSION, 2);
    uint32_t versions [] = { 1, 0, 3, 0xffffffffu };
    for (size_t i = 0; i < sizeof versions / sizeof versions [0]; i++) {
        hello.version = versions [i];
        assert_int_equal (channel_server_accept (s_server_key, s_info, s_info_len, &hello,
                                                 &server, &welcome, &size),
                          CHAT_ERR_BAD_VERSION);
    }
    hello.version = CHANNEL_VERSION;
    hello.client_nonce.len = 5;
    assert_int_equal (channel_server_accept (s_server_key, s_info, s_info_len, &hello, &server,
                                             &welcome, &size),
                      CHAT_ERR_MALFORMED);
    hello.client_nonce.len = sizeof nonce;
    hello.client_public_key.len = der_len - 10;
    assert_int_equal (channel_server_accept (s_server_key, s_info, s_info_len, &hello, &server,
                                             &welcome, &size),
                      CHAT_ERR_BAD_KEY);
    hello.client_public_key.data = (uint8_t *) "not a key";
    hello.client_public_key.len = 9;
    assert_int_equal (channel_server_accept (s_server_key, s_info, s_info_len, &hello, &server,
                                             &welcome, &size),
                      CHAT_ERR_BAD_KEY);
    //  An RSA key of a good size, but an exponent other than 65537
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id (EVP_PKEY_RSA, NULL);
    EVP_PKEY *three = NULL;
    BIGNUM *e = BN_new ();
    assert_true (ctx && e && BN_set_word (e, 3) && EVP_PKEY_keygen_init (ctx) > 0
              && EVP_PKEY_CTX_set_rsa_keygen_bits (ctx, 2048) > 0
              && EVP_PKEY_CTX_set1_rsa_keygen_pubexp (ctx, e) > 0
              && EVP_PKEY_keygen (ctx, &three) > 0);
    uint8_t *three_der = NULL;
    int three_len = i2d_PUBKEY (three, &three_der);
    assert_true (three_len > 0);
    hello.client_public_key.data = three_der;
    hello.client_public_key.len = (size_t) three_len;
    assert_int_equal (channel_server_accept (s_server_key, s_info, s_info_len, &hello, &server,
                                             &welcome, &size),
                      CHAT_ERR_BAD_KEY);
    OPENSSL_free (three_der);
    EVP_PKEY_free (three);
    EVP_PKEY_CTX_free (ctx);
    BN_free (e);
    assert_null (server);
}

//  The client refuses a Welcome whose signature does not verify, one signed
//  by a key other than the one it carries, and a refusal passes its code on.
static void
test_bad_welcome (void **state)
{
    (void) state;
    channel_t *client = channel_client_new (s_client_key);
    channel_t *server = NULL;
    uint8_t *hello, *welcome;
    size_t hello_size, welcome_size;
    assert_int_equal (channel_client_hello (client, &hello, &hello_size), CHAT_OK);
    assert_int_equal (s_server_answer (hello, hello_size, &server, &welcome, &welcome_size),
                      CHAT_OK);

    Chat__Envelope *env;
    assert_int_equal (wire_envelope_unpack (welcome, welcome_size, &env), CHAT_OK);
    //  Tamper with the signature
    env->welcome->signature.data [10] ^= 1;
    uint8_t *bad;
    size_t bad_size;
    assert_int_equal (wire_pack (&env->base, &bad, &bad_size), CHAT_OK);
    assert_int_equal (channel_client_accept (client, bad, bad_size), CHAT_ERR_BAD_SIGNATURE);
    free (bad);
    env->welcome->signature.data [10] ^= 1;
    //  Swap in another server key: the signature no longer matches it
    size_t other_len;
    const uint8_t *other_der = rsakey_der (s_client_key, &other_len);
    ProtobufCBinaryData saved = env->welcome->server_public_key;
    env->welcome->server_public_key.data = (uint8_t *) other_der;
    env->welcome->server_public_key.len = other_len;
    assert_int_equal (wire_pack (&env->base, &bad, &bad_size), CHAT_OK);
    assert_int_equal (channel_client_accept (client, bad, bad_size), CHAT_ERR_BAD_SIGNATURE);
    free (bad);
    env->welcome->server_public_key = saved;
    //  Wrong version
    env->welcome->version = 9;
    assert_int_equal (wire_pack (&env->base, &bad, &bad_size), CHAT_OK);
    assert_int_equal (channel_client_accept (client, bad, bad_size), CHAT_ERR_BAD_VERSION);
    free (bad);
    env->welcome->version = CHANNEL_VERSION;
    chat__envelope__free_unpacked (env, NULL);
    assert_false (channel_is_open (client));

    //  Truncations of the real Welcome never open the channel
    for (size_t cut = 0; cut < welcome_size; cut += 13)
        assert_int_not_equal (channel_client_accept (client, welcome, cut), CHAT_OK);

    //  A refusal carries its code
    uint8_t *refusal;
    size_t refusal_size;
    assert_int_equal (wire_error_frame (CHAT_ERR_BUSY, NULL, 100, &refusal, &refusal_size),
                      CHAT_OK);
    assert_int_equal (channel_client_accept (client, refusal, refusal_size), CHAT_ERR_BUSY);
    free (refusal);

    //  And the genuine one still works
    assert_int_equal (channel_client_accept (client, welcome, welcome_size), CHAT_OK);
    assert_int_equal (channel_client_accept (client, welcome, welcome_size),
                      CHAT_ERR_OUT_OF_ORDER);
    free (hello);
    free (welcome);
    channel_destroy (&client);
    channel_destroy (&server);
}

//  A Welcome made for another client's Hello does not open ours
static void
test_welcome_for_other_client (void **state)
{
    (void) state;
    channel_t *mine = channel_client_new (s_client_key);
    channel_t *theirs = channel_client_new (s_client_key);
    channel_t *server = NULL;
    uint8_t *hello, *welcome;
    size_t hello_size, welcome_size;
    assert_int_equal (channel_client_hello (theirs, &hello, &hello_size), CHAT_OK);
    assert_int_equal (s_server_answer (hello, hello_size, &server, &welcome, &welcome_size),
                      CHAT_OK);
    //  Same key, other nonce: the transcript differs
    assert_int_equal (channel_client_accept (mine, welcome, welcome_size),
                      CHAT_ERR_BAD_SIGNATURE);
    free (hello);
    free (welcome);
    channel_destroy (&mine);
    channel_destroy (&theirs);
    channel_destroy (&server);
}

static void
test_not_open (void **state)
{
    (void) state;
    channel_t *client = channel_client_new (s_client_key);
    uint8_t *frame, *payload;
    size_t size, len;
    assert_int_equal (channel_seal (client, (const uint8_t *) "x", 1, &frame, &size),
                      CHAT_ERR_OUT_OF_ORDER);
    assert_int_equal (channel_open (client, "x", 1, &payload, &len), CHAT_ERR_OUT_OF_ORDER);
    channel_destroy (&client);
    assert_null (client);
}

//  Random bytes as tokens and frames never open and never crash
static void
test_garbage (void **state)
{
    pair_t *pair = *state;
    channel_t *fresh = channel_client_new (s_client_key);
    srand (7);
    uint8_t buf [512];
    char text [512];
    for (int round = 0; round < 300; round++) {
        size_t len = (size_t) (rand () % (int) sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf [i] = (uint8_t) rand ();
        for (size_t i = 0; i < len; i++)
            text [i] = (char) (32 + rand () % 95);
        text [len ? len - 1 : 0] = 0;
        uint8_t *payload;
        size_t plen;
        assert_int_not_equal (channel_open (pair->server, text, strlen (text),
                                            &payload, &plen), CHAT_OK);
        assert_int_not_equal (channel_open_push (pair->client, buf, len, &payload, &plen),
                              CHAT_OK);
        assert_int_not_equal (channel_client_accept (fresh, buf, len), CHAT_OK);
    }
    assert_false (channel_is_open (fresh));
    channel_destroy (&fresh);
}

//  ---------------------------------------------------------------- protocol 2

//  client's Hello and the server's Welcome for it (both malloc'd); the
//  server's channel
static channel_t *
s_welcome_for (channel_t *client, uint8_t **hello, size_t *hello_size,
               uint8_t **welcome, size_t *welcome_size)
{
    channel_t *server = NULL;
    assert_int_equal (channel_client_hello (client, hello, hello_size), CHAT_OK);
    assert_int_equal (s_server_answer (*hello, *hello_size, &server, welcome, welcome_size),
                      CHAT_OK);
    return server;
}

//  What the server's signed WelcomeInfo says reaches the client as it was
//  made: role, push endpoint, rotation statement
static void
test_welcome_info (void **state)
{
    pair_t *pair = *state;
    assert_string_equal (channel_peer_role (pair->client), CHANNEL_ROLE_MAINSERVER);
    assert_string_equal (channel_peer_push_endpoint (pair->client), PUSH_ENDPOINT);
    size_t len = 0;
    const uint8_t *rotation = channel_peer_rotation (pair->client, &len);
    assert_non_null (rotation);
    assert_int_equal (len, s_rotation_len);
    assert_memory_equal (rotation, s_rotation, len);
    //  and it still parses as the statement it was
    Chat__KeyRotation *parsed = chat__key_rotation__unpack (NULL, len, rotation);
    assert_non_null (parsed);
    chat__key_rotation__free_unpacked (parsed, NULL);

    //  The key server: no push endpoint, no rotation
    uint8_t *info;
    size_t info_len;
    assert_int_equal (channel_welcome_info (CHANNEL_ROLE_KEYSERVER, NULL, NULL, 0,
                                            &info, &info_len), CHAT_OK);
    channel_t *client = channel_client_new (s_client_key);
    assert_int_equal (channel_client_expect_role (client, CHANNEL_ROLE_KEYSERVER), CHAT_OK);
    uint8_t *hello, *welcome;
    size_t hello_size, welcome_size;
    assert_int_equal (channel_client_hello (client, &hello, &hello_size), CHAT_OK);
    Chat__Envelope *env;
    assert_int_equal (wire_envelope_unpack (hello, hello_size, &env), CHAT_OK);
    channel_t *server = NULL;
    assert_int_equal (channel_server_accept (s_server_key, info, info_len, env->hello, &server,
                                             &welcome, &welcome_size), CHAT_OK);
    chat__envelope__free_unpacked (env, NULL);
    assert_int_equal (channel_client_accept (client, welcome, welcome_size), CHAT_OK);
    assert_string_equal (channel_peer_role (client), CHANNEL_ROLE_KEYSERVER);
    assert_string_equal (channel_peer_push_endpoint (client), "");
    assert_null (channel_peer_rotation (client, &len));
    assert_int_equal (len, 0);
    free (hello);
    free (welcome);
    free (info);
    channel_destroy (&client);
    channel_destroy (&server);

    //  What no WelcomeInfo can say
    char long_role [CHANNEL_ROLE_MAX + 2];
    memset (long_role, 'r', sizeof long_role);
    long_role [CHANNEL_ROLE_MAX + 1] = 0;
    assert_int_equal (channel_welcome_info (long_role, NULL, NULL, 0, &info, &info_len),
                      CHAT_ERR_BAD_REQUEST);
    char long_push [CHANNEL_ENDPOINT_MAX + 2];
    memset (long_push, 'p', sizeof long_push);
    long_push [CHANNEL_ENDPOINT_MAX + 1] = 0;
    assert_int_equal (channel_welcome_info ("keyserver", long_push, NULL, 0, &info, &info_len),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (channel_welcome_info ("keyserver", NULL, (const uint8_t *) "\xff\xff", 2,
                                            &info, &info_len), CHAT_ERR_BAD_REQUEST);
    assert_null (info);
    client = channel_client_new (s_client_key);
    assert_int_equal (channel_client_expect_role (client, long_role), CHAT_ERR_BAD_REQUEST);
    channel_destroy (&client);
}

//  A client that meant to reach the key server but got the main server
//  stops at the Welcome, and keeps nothing of it
static void
test_wrong_role (void **state)
{
    (void) state;
    channel_t *client = channel_client_new (s_client_key);
    assert_int_equal (channel_client_expect_role (client, CHANNEL_ROLE_KEYSERVER), CHAT_OK);
    uint8_t *hello, *welcome;
    size_t hello_size, welcome_size;
    channel_t *server = s_welcome_for (client, &hello, &hello_size, &welcome, &welcome_size);
    assert_int_equal (channel_client_accept (client, welcome, welcome_size),
                      CHAT_ERR_WRONG_ROLE);
    assert_false (channel_is_open (client));
    size_t len = 7;
    assert_null (channel_peer_rotation (client, &len));
    assert_int_equal (len, 0);
    assert_string_equal (channel_peer_role (client), "");
    assert_string_equal (channel_peer_push_endpoint (client), "");
    uint8_t *frame;
    size_t size;
    assert_int_equal (channel_seal (client, (const uint8_t *) "x", 1, &frame, &size),
                      CHAT_ERR_OUT_OF_ORDER);
    //  The role it expected takes it
    assert_int_equal (channel_client_expect_role (client, CHANNEL_ROLE_MAINSERVER), CHAT_OK);
    assert_int_equal (channel_client_accept (client, welcome, welcome_size), CHAT_OK);
    free (hello);
    free (welcome);
    channel_destroy (&client);
    channel_destroy (&server);
}

//  The info is under the signature: any change to it is a bad signature
static void
test_tampered_info (void **state)
{
    (void) state;
    channel_t *client = channel_client_new (s_client_key);
    uint8_t *hello, *welcome;
    size_t hello_size, welcome_size;
    channel_t *server = s_welcome_for (client, &hello, &hello_size, &welcome, &welcome_size);
    Chat__Envelope *env;
    assert_int_equal (wire_envelope_unpack (welcome, welcome_size, &env), CHAT_OK);
    ProtobufCBinaryData saved = env->welcome->info;
    //  Another push endpoint (a beacon's, say), another role, none at all
    uint8_t *infos [3];
    size_t lens [3];
    assert_int_equal (channel_welcome_info (CHANNEL_ROLE_MAINSERVER, "tcp://10.0.0.9:5557",
                                            s_rotation, s_rotation_len, &infos [0], &lens [0]),
                      CHAT_OK);
    assert_int_equal (channel_welcome_info (CHANNEL_ROLE_KEYSERVER, PUSH_ENDPOINT,
                                            s_rotation, s_rotation_len, &infos [1], &lens [1]),
                      CHAT_OK);
    assert_int_equal (channel_welcome_info (CHANNEL_ROLE_MAINSERVER, PUSH_ENDPOINT, NULL, 0,
                                            &infos [2], &lens [2]), CHAT_OK);
    for (size_t i = 0; i < 4; i++) {
        env->welcome->info.data = i < 3 ? infos [i] : NULL;
        env->welcome->info.len = i < 3 ? lens [i] : 0;
        uint8_t *bad;
        size_t bad_size;
        assert_int_equal (wire_pack (&env->base, &bad, &bad_size), CHAT_OK);
        assert_int_equal (channel_client_accept (client, bad, bad_size), CHAT_ERR_BAD_SIGNATURE);
        free (bad);
    }
    //  Every bit of the real info
    uint8_t *copy = malloc (saved.len);
    assert_non_null (copy);
    for (size_t bit = 0; bit < saved.len * 8; bit += 11) {
        memcpy (copy, saved.data, saved.len);
        copy [bit / 8] ^= (uint8_t) (1 << (bit % 8));
        env->welcome->info.data = copy;
        env->welcome->info.len = saved.len;
        uint8_t *bad;
        size_t bad_size;
        assert_int_equal (wire_pack (&env->base, &bad, &bad_size), CHAT_OK);
        assert_int_equal (channel_client_accept (client, bad, bad_size), CHAT_ERR_BAD_SIGNATURE);
        free (bad);
    }
    free (copy);
    env->welcome->info = saved;
    chat__envelope__free_unpacked (env, NULL);
    for (size_t i = 0; i < 3; i++)
        free (infos [i]);
    assert_string_equal (channel_peer_push_endpoint (client), "");
    assert_int_equal (channel_client_accept (client, welcome, welcome_size), CHAT_OK);
    assert_string_equal (channel_peer_push_endpoint (client), PUSH_ENDPOINT);
    free (hello);
    free (welcome);
    channel_destroy (&client);
    channel_destroy (&server);
}

//  A Welcome made here from the text of proto/README.md sections 2 and 3
//  alone, with a channel key K of the test's choosing: the client takes it,
//  and its frames open under HKDF(K, "chat/2 c2s"); frames sealed under
//  "chat/2 s2c" and "chat/2 push" open at the client. With a ciphertext
//  that does not decrypt (but a valid signature) the client refuses, and
//  keeps nothing of the info.
static void
s_hand_welcome (const uint8_t *hello_frame, size_t hello_size, const uint8_t secrets [48],
                bool garbage_ciphertext, uint8_t **out, size_t *out_size,
                uint8_t session_id [16])
{
    Chat__Envelope *env;
    assert_int_equal (wire_envelope_unpack (hello_frame, hello_size, &env), CHAT_OK);
    Chat__Hello *hello = env->hello;
    assert_int_equal (hello->version, 2);
    assert_int_equal (hello->client_nonce.len, 32);
    uint8_t server_nonce [32];
    assert_int_equal (secret_random (server_nonce, sizeof server_nonce), 0);
    assert_int_equal (secret_random (session_id, 16), 0);
    uint8_t *ciphertext;
    size_t ciphertext_len;
    if (garbage_ciphertext) {
        ciphertext_len = 256;
        ciphertext = malloc (ciphertext_len);
        assert_non_null (ciphertext);
        assert_int_equal (secret_random (ciphertext, ciphertext_len), 0);
        ciphertext [0] = 0xff;          //  above any 2048-bit modulus
    }
    else {
        rsakey_t *client_key = rsakey_from_der (hello->client_public_key.data,
                                                hello->client_public_key.len);
        assert_non_null (client_key);
        assert_int_equal (rsakey_encrypt (client_key, secrets, 48, &ciphertext,
                                          &ciphertext_len), CHAT_OK);
        rsakey_destroy (&client_key);
    }
    //  transcript = "chat/2 handshake" || 0x00 || SHA-256(client DER) ||
    //  client_nonce || server_nonce || session_id || SHA-256(ciphertext) ||
    //  SHA-256(info): 193 bytes
    uint8_t transcript [193], *p = transcript;
    memcpy (p, "chat/2 handshake", 16);                                 p += 16;
    *p++ = 0;
    assert_true (EVP_Digest (hello->client_public_key.data, hello->client_public_key.len,
                             p, NULL, EVP_sha256 (), NULL));            p += 32;
    memcpy (p, hello->client_nonce.data, 32);                           p += 32;
    memcpy (p, server_nonce, 32);                                       p += 32;
    memcpy (p, session_id, 16);                                         p += 16;
    assert_true (EVP_Digest (ciphertext, ciphertext_len, p, NULL, EVP_sha256 (), NULL));
    p += 32;
    assert_true (EVP_Digest (s_info, s_info_len, p, NULL, EVP_sha256 (), NULL));
    p += 32;
    assert_int_equal (p - transcript, 193);
    uint8_t *signature;
    size_t signature_len;
    assert_int_equal (rsakey_sign (s_server_key, transcript, sizeof transcript,
                                   &signature, &signature_len), CHAT_OK);
    size_t der_len;
    const uint8_t *der = rsakey_der (s_server_key, &der_len);
    Chat__Welcome welcome = CHAT__WELCOME__INIT;
    welcome.version = 2;
    welcome.server_public_key.data = (uint8_t *) der;
    welcome.server_public_key.len = der_len;
    welcome.server_nonce.data = server_nonce;
    welcome.server_nonce.len = 32;
    welcome.session_id.data = session_id;
    welcome.session_id.len = 16;
    welcome.ciphertext.data = ciphertext;
    welcome.ciphertext.len = ciphertext_len;
    welcome.signature.data = signature;
    welcome.signature.len = signature_len;
    welcome.info.data = s_info;
    welcome.info.len = s_info_len;
    Chat__Envelope reply = CHAT__ENVELOPE__INIT;
    reply.kind_case = CHAT__ENVELOPE__KIND_WELCOME;
    reply.welcome = &welcome;
    assert_int_equal (wire_pack (&reply.base, out, out_size), CHAT_OK);
    free (ciphertext);
    free (signature);
    chat__envelope__free_unpacked (env, NULL);
}

//  A ChannelBody{seq, payload} sealed under key, as a Fernet token
static char *
s_hand_seal (const uint8_t key [32], uint64_t seq, const char *payload)
{
    Chat__ChannelBody body = CHAT__CHANNEL_BODY__INIT;
    body.seq = seq;
    body.payload.data = (uint8_t *) payload;
    body.payload.len = strlen (payload);
    uint8_t *plain;
    size_t plain_len;
    assert_int_equal (wire_pack (&body.base, &plain, &plain_len), CHAT_OK);
    char *token;
    assert_int_equal (fernet_encrypt (key, plain, plain_len, wire_now (), &token), CHAT_OK);
    free (plain);
    return token;
}

static void
test_handshake_from_the_text (void **state)
{
    (void) state;
    channel_t *client = channel_client_new (s_client_key);
    assert_int_equal (channel_client_expect_role (client, CHANNEL_ROLE_MAINSERVER), CHAT_OK);
    uint8_t *hello;
    size_t hello_size;
    assert_int_equal (channel_client_hello (client, &hello, &hello_size), CHAT_OK);
    uint8_t secrets [48];                       //  K || T
    assert_int_equal (secret_random (secrets, sizeof secrets), 0);
    uint8_t session_id [16];

    //  First a Welcome whose ciphertext does not decrypt
    uint8_t *welcome;
    size_t welcome_size;
    s_hand_welcome (hello, hello_size, secrets, true, &welcome, &welcome_size, session_id);
    assert_int_equal (channel_client_accept (client, welcome, welcome_size), CHAT_ERR_MALFORMED);
    free (welcome);
    size_t len = 7;
    assert_null (channel_peer_rotation (client, &len));
    assert_int_equal (len, 0);
    assert_string_equal (channel_peer_role (client), "");
    assert_false (channel_is_open (client));

    //  Then the real one
    s_hand_welcome (hello, hello_size, secrets, false, &welcome, &welcome_size, session_id);
    assert_int_equal (channel_client_accept (client, welcome, welcome_size), CHAT_OK);
    free (welcome);
    free (hello);
    assert_memory_equal (channel_session_id (client), session_id, 16);
    assert_memory_equal (channel_session_token (client), secrets + 32, 16);
    assert_string_equal (channel_peer_push_endpoint (client), PUSH_ENDPOINT);
    assert_non_null (channel_peer_rotation (client, &len));
    assert_int_equal (len, s_rotation_len);

    //  The three keys are HKDF-SHA-256(K, no salt, info) of section 3
    uint8_t c2s [32], s2c [32], push [32];
    assert_int_equal (secret_hkdf (secrets, 32, "chat/2 c2s", c2s, 32), 0);
    assert_int_equal (secret_hkdf (secrets, 32, "chat/2 s2c", s2c, 32), 0);
    assert_int_equal (secret_hkdf (secrets, 32, "chat/2 push", push, 32), 0);
    uint8_t *frame;
    size_t size;
    assert_int_equal (channel_seal (client, (const uint8_t *) "request", 7, &frame, &size),
                      CHAT_OK);
    Chat__Envelope *env;
    assert_int_equal (wire_envelope_unpack (frame, size, &env), CHAT_OK);
    assert_int_equal (env->kind_case, CHAT__ENVELOPE__KIND_SEALED);
    assert_memory_equal (env->sealed->session_id.data, session_id, 16);
    uint8_t *plain;
    size_t plain_len;
    assert_int_equal (fernet_decrypt (c2s, env->sealed->token, strlen (env->sealed->token),
                                      60, wire_now (), &plain, &plain_len), CHAT_OK);
    Chat__ChannelBody *body = chat__channel_body__unpack (NULL, plain_len, plain);
    assert_non_null (body);
    assert_int_equal (body->seq, 1);            //  the first frame of its direction
    assert_int_equal (body->payload.len, 7);
    assert_memory_equal (body->payload.data, "request", 7);
    chat__channel_body__free_unpacked (body, NULL);
    free (plain);
    chat__envelope__free_unpacked (env, NULL);
    free (frame);

    char *token = s_hand_seal (s2c, 1, "reply");
    uint8_t *payload;
    assert_int_equal (channel_open (client, token, strlen (token), &payload, &len), CHAT_OK);
    assert_int_equal (len, 5);
    assert_memory_equal (payload, "reply", 5);
    free (payload);
    free (token);
    //  Under the c2s key (a reflected request) it does not open
    token = s_hand_seal (c2s, 2, "reflected");
    assert_int_equal (channel_open (client, token, strlen (token), &payload, &len),
                      CHAT_ERR_BAD_MAC);
    free (token);

    token = s_hand_seal (push, 1, "pushed");
    Chat__PushFrame push_frame = CHAT__PUSH_FRAME__INIT;
    push_frame.session_id.data = session_id;
    push_frame.session_id.len = 16;
    push_frame.token = token;
    assert_int_equal (wire_pack (&push_frame.base, &frame, &size), CHAT_OK);
    assert_int_equal (channel_open_push (client, frame, size, &payload, &len), CHAT_OK);
    assert_int_equal (len, 6);
    assert_memory_equal (payload, "pushed", 6);
    free (payload);
    free (frame);
    free (token);
    secret_wipe (secrets, sizeof secrets);
    channel_destroy (&client);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_handshake_agrees, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown (test_seal_both_ways, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown (test_reflection_refused, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown (test_replay_refused, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown (test_reorder_refused, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown (test_expired_and_future_refused, s_pair_setup,
                                         s_pair_teardown),
        cmocka_unit_test_setup_teardown (test_tampered_refused, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown (test_truncated_refused, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown (test_push, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown (test_push_other_session, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown (test_push_into, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown (test_cross_session_refused, s_pair_setup,
                                         s_pair_teardown),
        cmocka_unit_test (test_bad_hello),
        cmocka_unit_test (test_bad_welcome),
        cmocka_unit_test (test_welcome_for_other_client),
        cmocka_unit_test (test_not_open),
        cmocka_unit_test_setup_teardown (test_garbage, s_pair_setup, s_pair_teardown),
        cmocka_unit_test_setup_teardown (test_welcome_info, s_pair_setup, s_pair_teardown),
        cmocka_unit_test (test_wrong_role),
        cmocka_unit_test (test_tampered_info),
        cmocka_unit_test (test_handshake_from_the_text),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
