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
    &chat__push_frame__descriptor, &chat__welcome_info__descriptor,
    &chat__key_rotation__descriptor, &chat__key_rotation_body__descriptor,
    &chat__certificate__descriptor, &chat__key_ticket__descriptor,
    &chat__signed_credential__descriptor, &chat__identity_secret__descriptor,
    &chat__membership_statement__descriptor, &chat__signed_statement__descriptor,
    &chat__message_body__descriptor, &chat__signed_message__descriptor,
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

//  wire_unpack_canonical takes what protobuf writes and nothing else that
//  parses to the same message
static void
test_canonical (void **state)
{
    (void) state;
    uint8_t id [16] = { 9 };
    const char *members [] = { "alice", "bob" };
    Chat__MembershipStatement st = CHAT__MEMBERSHIP_STATEMENT__INIT;
    st.conversation_id.data = id;
    st.conversation_id.len = sizeof id;
    st.epoch = 300;
    st.actor = (char *) "alice";
    st.action = CHAT__STATEMENT_ACTION__ACTION_CREATE;
    st.members = (char **) members;
    st.n_members = 2;
    st.title = (char *) "t";
    uint8_t *data;
    size_t size;
    assert_int_equal (wire_pack (&st.base, &data, &size), CHAT_OK);
    ProtobufCMessage *msg = NULL;
    assert_int_equal (wire_unpack_canonical (&chat__membership_statement__descriptor,
                                             data, size, &msg), CHAT_OK);
    assert_non_null (msg);
    protobuf_c_message_free_unpacked (msg, NULL);
    //  An empty message is canonical too
    assert_int_equal (wire_unpack_canonical (&chat__membership_statement__descriptor,
                                             (const uint8_t *) "", 0, &msg), CHAT_OK);
    protobuf_c_message_free_unpacked (msg, NULL);

    uint8_t buf [256];
    //  Each variant parses with wire_unpack, and is refused canonically
    for (int variant = 0; variant < 6; variant++) {
        size_t len = 0;
        switch (variant) {
            case 0:                     //  a field given twice (actor, field 4)
                memcpy (buf, "\x22\x03" "eve", 5);
                memcpy (buf + 5, data, size);
                len = size + 5;
                break;
            case 1:                     //  fields out of order (title first)
                memcpy (buf, "\x4a\x01t", 3);
                memcpy (buf + 3, data, size - 3);
                assert_memory_equal (data + size - 3, "\x4a\x01t", 3);
                len = size;
                break;
            case 2:                     //  a NUL inside a string: "t\0x"
                memcpy (buf, data, size - 3);
                memcpy (buf + size - 3, "\x4a\x03t\0x", 5);
                len = size + 2;
                break;
            case 3:                     //  a default written out (direct = false)
                memcpy (buf, data, size);
                memcpy (buf + size, "\x50\x00", 2);
                len = size + 2;
                break;
            case 4:                     //  a varint longer than it needs (epoch 300)
                memcpy (buf, data, size);
                {
                    uint8_t *epoch = memmem (buf, size, "\x10\xac\x02", 3);
                    assert_non_null (epoch);
                    size_t at = (size_t) (epoch - buf);
                    memmove (buf + at + 4, buf + at + 3, size - at - 3);
                    memcpy (buf + at, "\x10\xac\x82\x00", 4);
                }
                len = size + 1;
                break;
            case 5:                     //  trailing garbage that is still a field (99)
                memcpy (buf, data, size);
                memcpy (buf + size, "\x98\x06\x01", 3);
                len = size + 3;
                break;
        }
        assert_int_equal (wire_unpack (&chat__membership_statement__descriptor, buf, len, &msg),
                          CHAT_OK);
        protobuf_c_message_free_unpacked (msg, NULL);
        if (variant == 5) {
            //  An unknown field after the known ones is kept and packed
            //  again in place: canonical
            assert_int_equal (wire_unpack_canonical (&chat__membership_statement__descriptor,
                                                     buf, len, &msg), CHAT_OK);
            protobuf_c_message_free_unpacked (msg, NULL);
            continue;
        }
        msg = (ProtobufCMessage *) buf;
        assert_int_equal (wire_unpack_canonical (&chat__membership_statement__descriptor,
                                                 buf, len, &msg), CHAT_ERR_MALFORMED);
        assert_null (msg);
    }
    //  Not a message at all, too large
    assert_int_equal (wire_unpack_canonical (&chat__membership_statement__descriptor,
                                             (const uint8_t *) "\xff", 1, &msg),
                      CHAT_ERR_MALFORMED);
    free (data);
}

static void
test_error_names (void **state)
{
    (void) state;
    struct { int code; const char *name; } v2 [] = {
        { CHAT_ERR_QUOTA, "ERR_QUOTA" }, { CHAT_ERR_STALE_EPOCH, "ERR_STALE_EPOCH" },
        { CHAT_ERR_KEY_EXISTS, "ERR_KEY_EXISTS" },
        { CHAT_ERR_CHAIN_CONFLICT, "ERR_CHAIN_CONFLICT" },
        { CHAT_ERR_BAD_STATEMENT, "ERR_BAD_STATEMENT" },
        { CHAT_ERR_WRONG_ROLE, "ERR_WRONG_ROLE" },
    };
    for (size_t i = 0; i < sizeof v2 / sizeof v2 [0]; i++) {
        //  The numbers of proto/README.md section 15 and of wire.proto
        assert_int_equal (v2 [i].code, 34 + (int) i);
        assert_string_equal (chat_errname (v2 [i].code), v2 [i].name);
        assert_string_not_equal (chat_strerror (v2 [i].code), "unknown error");
        const ProtobufCEnumValue *value = protobuf_c_enum_descriptor_get_value (
            &chat__error_code__descriptor, v2 [i].code);
        assert_non_null (value);
        assert_string_equal (value->name, v2 [i].name);
    }
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
        cmocka_unit_test (test_canonical),
        cmocka_unit_test (test_error_names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
