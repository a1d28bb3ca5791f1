/*  test_channel - the handshake and sealed frames, and every refusal  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "chaterror.h"
#include "fernet.h"

static rsakey_t *s_server_key;
static rsakey_t *s_client_key;

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
    return s_server_key && s_client_key ? 0 : -1;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    rsakey_destroy (&s_server_key);
    rsakey_destroy (&s_client_key);
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
        rc = channel_server_accept (s_server_key, env->hello, server, welcome, welcome_size);
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
    hello.version = 2;
    hello.client_public_key.data = (uint8_t *) der;
    hello.client_public_key.len = der_len;
    hello.client_nonce.data = nonce;
    hello.client_nonce.len = sizeof nonce;
    assert_int_equal (channel_server_accept (s_server_key, &hello, &server, &welcome, &size),
                      CHAT_ERR_BAD_VERSION);
    hello.version = CHANNEL_VERSION;
    hello.client_nonce.len = 5;
    assert_int_equal (channel_server_accept (s_server_key, &hello, &server, &welcome, &size),
                      CHAT_ERR_MALFORMED);
    hello.client_nonce.len = sizeof nonce;
    hello.client_public_key.len = der_len - 10;
    assert_int_equal (channel_server_accept (s_server_key, &hello, &server, &welcome, &size),
                      CHAT_ERR_BAD_KEY);
    hello.client_public_key.data = (uint8_t *) "not a key";
    hello.client_public_key.len = 9;
    assert_int_equal (channel_server_accept (s_server_key, &hello, &server, &welcome, &size),
                      CHAT_ERR_BAD_KEY);
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
        cmocka_unit_test_setup_teardown (test_cross_session_refused, s_pair_setup,
                                         s_pair_teardown),
        cmocka_unit_test (test_bad_hello),
        cmocka_unit_test (test_bad_welcome),
        cmocka_unit_test (test_welcome_for_other_client),
        cmocka_unit_test (test_not_open),
        cmocka_unit_test_setup_teardown (test_garbage, s_pair_setup, s_pair_teardown),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
