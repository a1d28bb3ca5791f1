/*  test_wire - every decoder of network input refuses what it must

    Every message type of every schema goes through wire_unpack with
    truncated, bit-flipped, random and oversized input: the answer is always
    CHAT_OK (protobuf accepts many byte strings) or a refusal code, never a
    crash, and whatever is accepted packs again.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "chaterror.h"
#include "wire.h"

static const ProtobufCMessageDescriptor *s_descriptors [] = {
    &chat__envelope__descriptor, &chat__hello__descriptor, &chat__welcome__descriptor,
    &chat__sealed__descriptor, &chat__error__descriptor, &chat__channel_body__descriptor,
    &chat__push_frame__descriptor, &chat__certificate__descriptor,
    &chat__membership_ticket__descriptor, &chat__message_body__descriptor,
    &chat__key_request__descriptor, &chat__key_reply__descriptor,
    &chat__main_request__descriptor, &chat__main_reply__descriptor, &chat__push__descriptor,
    &chat__admin_request__descriptor, &chat__admin_reply__descriptor,
};
#define DESCRIPTOR_COUNT (sizeof s_descriptors / sizeof s_descriptors [0])

//  A realistic frame: a sealed envelope and a send request, packed
static void
s_samples (uint8_t **envelope, size_t *envelope_size,
           uint8_t **request, size_t *request_size)
{
    uint8_t id [16] = { 1, 2, 3 };
    Chat__Sealed sealed = CHAT__SEALED__INIT;
    sealed.session_id.data = id;
    sealed.session_id.len = sizeof id;
    sealed.token = "gAAAAABhwjYnxxQcF70RxUvRHDIOrqT6pWdilKHIKUjMbYcmHs6zA8yvUgUoGE";
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_SEALED;
    env.sealed = &sealed;
    assert_int_equal (wire_pack (&env.base, envelope, envelope_size), CHAT_OK);

    Chat__SendMessageRequest send = CHAT__SEND_MESSAGE_REQUEST__INIT;
    send.conversation_id.data = id;
    send.conversation_id.len = sizeof id;
    send.client_message_id.data = id;
    send.client_message_id.len = sizeof id;
    send.token = sealed.token;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.request_id = 77;
    req.body_case = CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE;
    req.send_message = &send;
    assert_int_equal (wire_pack (&req.base, request, request_size), CHAT_OK);
}

//  Decode with one descriptor; an accepted message must pack again
static void
s_decode (const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t size)
{
    ProtobufCMessage *msg = NULL;
    int rc = wire_unpack (desc, data, size, &msg);
    assert_true (rc == CHAT_OK || rc == CHAT_ERR_MALFORMED);
    if (rc == CHAT_OK) {
        assert_non_null (msg);
        uint8_t *again;
        size_t again_size;
        assert_int_equal (wire_pack (msg, &again, &again_size), CHAT_OK);
        free (again);
        protobuf_c_message_free_unpacked (msg, NULL);
    }
    else
        assert_null (msg);
}

static void
s_decode_all (const uint8_t *data, size_t size)
{
    for (size_t d = 0; d < DESCRIPTOR_COUNT; d++)
        s_decode (s_descriptors [d], data, size);
    Chat__Envelope *env = NULL;
    int rc = wire_envelope_unpack (data, size, &env);
    assert_true (rc == CHAT_OK || rc == CHAT_ERR_MALFORMED);
    if (env)
        chat__envelope__free_unpacked (env, NULL);
}

static void
test_round_trip (void **state)
{
    (void) state;
    uint8_t *envelope, *request;
    size_t envelope_size, request_size;
    s_samples (&envelope, &envelope_size, &request, &request_size);
    Chat__Envelope *env;
    assert_int_equal (wire_envelope_unpack (envelope, envelope_size, &env), CHAT_OK);
    assert_int_equal (env->kind_case, CHAT__ENVELOPE__KIND_SEALED);
    assert_int_equal (env->sealed->session_id.len, 16);
    chat__envelope__free_unpacked (env, NULL);
    Chat__MainRequest *req;
    assert_int_equal (wire_unpack (&chat__main_request__descriptor, request, request_size,
                                   (ProtobufCMessage **) &req), CHAT_OK);
    assert_int_equal (req->request_id, 77);
    assert_int_equal (req->body_case, CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE);
    chat__main_request__free_unpacked (req, NULL);
    free (envelope);
    free (request);
}

//  An envelope with no kind is not an envelope
static void
test_empty_envelope (void **state)
{
    (void) state;
    Chat__Envelope *env = NULL;
    assert_int_equal (wire_envelope_unpack ((const uint8_t *) "", 0, &env),
                      CHAT_ERR_MALFORMED);
    assert_null (env);
}

static void
test_truncated (void **state)
{
    (void) state;
    uint8_t *envelope, *request;
    size_t envelope_size, request_size;
    s_samples (&envelope, &envelope_size, &request, &request_size);
    //  Every proper prefix of a nested message ends inside a field
    for (size_t cut = 1; cut < envelope_size; cut++) {
        Chat__Envelope *env = NULL;
        assert_int_equal (wire_envelope_unpack (envelope, cut, &env), CHAT_ERR_MALFORMED);
        s_decode_all (envelope, cut);
    }
    for (size_t cut = 0; cut < request_size; cut++)
        s_decode_all (request, cut);
    free (envelope);
    free (request);
}

static void
test_bit_flips (void **state)
{
    (void) state;
    uint8_t *envelope, *request;
    size_t envelope_size, request_size;
    s_samples (&envelope, &envelope_size, &request, &request_size);
    for (size_t i = 0; i < request_size; i++)
        for (int bit = 0; bit < 8; bit++) {
            request [i] ^= (uint8_t) (1 << bit);
            s_decode_all (request, request_size);
            request [i] ^= (uint8_t) (1 << bit);
        }
    free (envelope);
    free (request);
}

static void
test_random (void **state)
{
    (void) state;
    srand (20261129);
    uint8_t buf [300];
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t) (rand () % (int) sizeof buf);
        for (size_t i = 0; i < len; i++)
            buf [i] = (uint8_t) rand ();
        s_decode_all (buf, len);
    }
}

//  Nothing larger than the limit is even parsed
static void
test_oversized (void **state)
{
    (void) state;
    uint8_t *big = calloc (1, WIRE_MAX_FRAME + 1);
    assert_non_null (big);
    for (size_t d = 0; d < DESCRIPTOR_COUNT; d++) {
        ProtobufCMessage *msg = NULL;
        assert_int_equal (wire_unpack (s_descriptors [d], big, WIRE_MAX_FRAME + 1, &msg),
                          CHAT_ERR_TOO_LARGE);
        assert_null (msg);
    }
    Chat__Envelope *env = NULL;
    assert_int_equal (wire_envelope_unpack (big, WIRE_MAX_FRAME + 1, &env), CHAT_ERR_TOO_LARGE);
    free (big);
}

static void
test_error_frame (void **state)
{
    (void) state;
    uint8_t *frame;
    size_t size;
    assert_int_equal (wire_error_frame (CHAT_ERR_RATE_LIMITED, NULL, 4000, &frame, &size),
                      CHAT_OK);
    Chat__Envelope *env;
    assert_int_equal (wire_envelope_unpack (frame, size, &env), CHAT_OK);
    assert_int_equal (env->kind_case, CHAT__ENVELOPE__KIND_ERROR);
    assert_int_equal (env->error->code, CHAT_ERR_RATE_LIMITED);
    assert_int_equal (env->error->retry_after_ms, 4000);
    assert_string_equal (env->error->message, chat_strerror (CHAT_ERR_RATE_LIMITED));
    chat__envelope__free_unpacked (env, NULL);
    free (frame);
    assert_string_equal (chat_errname (CHAT_ERR_REPLAYED), "ERR_REPLAYED");
    assert_string_equal (chat_strerror (CHAT_ERR_AUTH_FAILED), "Wrong username or password");
    assert_string_equal (chat_strerror (999), "unknown error");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_empty_envelope),
        cmocka_unit_test (test_truncated),
        cmocka_unit_test (test_bit_flips),
        cmocka_unit_test (test_random),
        cmocka_unit_test (test_oversized),
        cmocka_unit_test (test_error_frame),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
