/*  test_msgseal - a protocol 2 message (proto/README.md section 12): a
    MessageBody signed by its sender's identity key, sealed under the key of
    its epoch; and every check of section 12 that msgseal_open makes (the
    key, the body's conversation, epoch and sender, the signature)  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "msgseal.h"
#include "chaterror.h"
#include "testkeys.h"
#include "wire.h"

static uint8_t key [EPOCHKEY_SIZE];
static uint8_t other_key [EPOCHKEY_SIZE];
static const uint8_t conv [16] = "conversation-one";
static const uint8_t conv2 [16] = "conversation-two";
static const uint8_t cmid [16] = "client-msg-id-01";

#define ALICE (testkeys_key (0))
#define BOB   (testkeys_key (1))

static int
s_setup (void **state)
{
    (void) state;
    fernet_key_generate (key);
    fernet_key_generate (other_key);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    testkeys_free ();
    return 0;
}

//  A token of alice's for epoch 3 of conv.
static char *
s_seal (const char *text)
{
    char *token = NULL;
    assert_int_equal (msgseal_seal (key, conv, 3, "alice", ALICE, 1234567, cmid, text,
                                    strlen (text), &token), CHAT_OK);
    assert_non_null (token);
    return token;
}

static int
s_open (const uint8_t *with, const char *token, const uint8_t *id, uint64_t epoch,
        const char *sender, rsakey_t *sender_key)
{
    msgseal_body_t body;
    int rc = msgseal_open (with, token, strlen (token), id, epoch, sender, sender_key, &body);
    if (rc != CHAT_OK)
        assert_null (body.text);
    msgseal_body_free (&body);
    return rc;
}

static void
test_round_trip (void **state)
{
    (void) state;
    const char *text = "hello\nwörld ✓";
    char *token = s_seal (text);
    msgseal_body_t body;
    assert_int_equal (msgseal_open (key, token, strlen (token), conv, 3, "alice", ALICE,
                                    &body), CHAT_OK);
    assert_string_equal (body.text, text);
    assert_int_equal (body.text_len, strlen (text));
    assert_int_equal (body.sent_at, 1234567);
    assert_memory_equal (body.client_message_id, cmid, 16);
    msgseal_body_free (&body);
    assert_null (body.text);
    free (token);
}

//  What is inside is section 12's format exactly: a SignedMessage whose
//  signature is alice's over "chat/2 message" || 0 || body.
static void
test_format (void **state)
{
    (void) state;
    char *token = s_seal ("hi");
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    assert_int_equal (fernet_decrypt (key, token, strlen (token), 0, wire_now (), &plain,
                                      &plain_len), CHAT_OK);
    Chat__SignedMessage *signed_ = NULL;
    assert_int_equal (wire_unpack (&chat__signed_message__descriptor, plain, plain_len,
                                   (ProtobufCMessage **) &signed_), CHAT_OK);
    assert_int_equal (rsakey_verify_labelled (ALICE, "chat/2 message", signed_->body.data,
                                              signed_->body.len, signed_->signature.data,
                                              signed_->signature.len), CHAT_OK);
    Chat__MessageBody *body = NULL;
    assert_int_equal (wire_unpack_canonical (&chat__message_body__descriptor,
                                             signed_->body.data, signed_->body.len,
                                             (ProtobufCMessage **) &body), CHAT_OK);
    assert_memory_equal (body->conversation_id.data, conv, 16);
    assert_int_equal (body->epoch, 3);
    assert_string_equal (body->sender, "alice");
    assert_string_equal (body->text, "hi");
    assert_int_equal (body->sent_at, 1234567);
    protobuf_c_message_free_unpacked (&body->base, NULL);
    protobuf_c_message_free_unpacked (&signed_->base, NULL);
    free (plain);
    free (token);
}

//  Checks 1, 2 and 4: every claim the server makes is compared.
static void
test_refusals (void **state)
{
    (void) state;
    char *token = s_seal ("hi");
    assert_int_equal (s_open (key, token, conv, 3, "alice", ALICE), CHAT_OK);
    //  another conversation, epoch or sender than the body names
    assert_int_equal (s_open (key, token, conv2, 3, "alice", ALICE), CHAT_ERR_BAD_REQUEST);
    assert_int_equal (s_open (key, token, conv, 2, "alice", ALICE), CHAT_ERR_BAD_REQUEST);
    assert_int_equal (s_open (key, token, conv, 4, "alice", ALICE), CHAT_ERR_BAD_REQUEST);
    assert_int_equal (s_open (key, token, conv, 3, "alicE", ALICE), CHAT_ERR_BAD_REQUEST);
    //  claimed for bob with bob's key: alice's signature is not his
    assert_int_equal (s_open (key, token, conv, 3, "bob", BOB), CHAT_ERR_BAD_SIGNATURE);
    //  alice's name but another key (a directory that lies): refused
    assert_int_equal (s_open (key, token, conv, 3, "alice", BOB), CHAT_ERR_BAD_SIGNATURE);
    //  another epoch's key: the MAC fails
    assert_int_equal (s_open (other_key, token, conv, 3, "alice", ALICE), CHAT_ERR_BAD_MAC);
    //  tampered, garbage
    token [strlen (token) / 2] ^= 1;
    int rc = s_open (key, token, conv, 3, "alice", ALICE);
    assert_true (rc == CHAT_ERR_BAD_MAC || rc == CHAT_ERR_MALFORMED);
    assert_int_equal (s_open (key, "garbage", conv, 3, "alice", ALICE), CHAT_ERR_MALFORMED);
    free (token);
}

//  A token under the right key whose body bob signed but which claims
//  alice (a member forging another): the signature check catches it.
static void
test_member_forging_another (void **state)
{
    (void) state;
    char *token = NULL;
    assert_int_equal (msgseal_seal (key, conv, 3, "alice", BOB, 1, cmid, "i am alice", 10,
                                    &token), CHAT_OK);
    assert_int_equal (s_open (key, token, conv, 3, "alice", ALICE), CHAT_ERR_BAD_SIGNATURE);
    free (token);
}

//  Valid tokens under the right key holding something else.
static void
test_not_a_signed_message (void **state)
{
    (void) state;
    char *token = NULL;
    const uint8_t junk [] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
    assert_int_equal (fernet_encrypt (key, junk, sizeof junk, wire_now (), &token), CHAT_OK);
    assert_int_equal (s_open (key, token, conv, 3, "alice", ALICE), CHAT_ERR_MALFORMED);
    free (token);

    //  a protocol 1 body (a bare MessageBody, unsigned) is not a message
    Chat__MessageBody body = CHAT__MESSAGE_BODY__INIT;
    body.conversation_id.data = (uint8_t *) conv;
    body.conversation_id.len = 16;
    body.sender = "alice";
    body.text = "old";
    body.epoch = 3;
    body.client_message_id.data = (uint8_t *) cmid;
    body.client_message_id.len = 16;
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    assert_int_equal (wire_pack (&body.base, &packed, &packed_len), CHAT_OK);
    assert_int_equal (fernet_encrypt (key, packed, packed_len, wire_now (), &token), CHAT_OK);
    int rc = s_open (key, token, conv, 3, "alice", ALICE);
    assert_true (rc == CHAT_ERR_MALFORMED || rc == CHAT_ERR_BAD_SIGNATURE);
    free (token);

    //  signed bytes that are not canonical (the sender field twice: a C
    //  reader would take the last, another reader might not) are refused
    //  even when the signature over them is good
    uint8_t twice [512];
    size_t n = 0;
    twice [n++] = 0x12;             //  field 2 (sender), length-delimited
    twice [n++] = 3;
    memcpy (twice + n, "bob", 3);
    n += 3;
    memcpy (twice + n, packed, packed_len);
    n += packed_len;
    Chat__SignedMessage signed_ = CHAT__SIGNED_MESSAGE__INIT;
    signed_.body.data = twice;
    signed_.body.len = n;
    assert_int_equal (rsakey_sign_labelled (ALICE, MSGSEAL_LABEL, twice, n,
                                            &signed_.signature.data, &signed_.signature.len),
                      CHAT_OK);
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    assert_int_equal (wire_pack (&signed_.base, &plain, &plain_len), CHAT_OK);
    assert_int_equal (fernet_encrypt (key, plain, plain_len, wire_now (), &token), CHAT_OK);
    assert_int_equal (s_open (key, token, conv, 3, "alice", ALICE), CHAT_ERR_MALFORMED);
    free (token);
    free (plain);
    free (signed_.signature.data);
    free (packed);
}

static void
test_limits (void **state)
{
    (void) state;
    //  One size limit, the token's (WIRE_MAX_TOKEN), on both sides
    char *token = NULL;
    size_t big = WIRE_MAX_TOKEN + 1;
    char *text = malloc (big);
    memset (text, 'x', big);
    assert_int_equal (msgseal_seal (key, conv, 1, "alice", ALICE, 1, cmid, text, big, &token),
                      CHAT_ERR_MESSAGE_TOO_LARGE);
    assert_null (token);
    //  Text that fits the limit only before it is sealed
    assert_int_equal (msgseal_seal (key, conv, 1, "alice", ALICE, 1, cmid, text, 76000,
                                    &token), CHAT_ERR_MESSAGE_TOO_LARGE);
    assert_null (token);
    //  WIRE_MAX_TEXT always fits: the longest sender, the largest numbers
    //  and a 4096-bit identity key (the longest signature), and it opens
    const char *longest = "abcdefghijklmnopqrstuvwxyz012345";
    rsakey_t *largest = rsakey_generate (RSAKEY_MAX_BITS);
    assert_non_null (largest);
    assert_int_equal (msgseal_seal (key, conv, UINT64_MAX, longest, largest, INT64_MAX, cmid,
                                    text, WIRE_MAX_TEXT, &token), CHAT_OK);
    assert_true (strlen (token) <= WIRE_MAX_TOKEN);
    msgseal_body_t body;
    assert_int_equal (msgseal_open (key, token, strlen (token), conv, UINT64_MAX, longest,
                                    largest, &body), CHAT_OK);
    assert_int_equal (body.text_len, WIRE_MAX_TEXT);
    msgseal_body_free (&body);
    free (token);
    token = NULL;
    rsakey_destroy (&largest);
    //  A longer text whose token fits is sent and taken too: what the
    //  server stores, a client shows
    assert_int_equal (msgseal_seal (key, conv, 1, "alice", ALICE, 1, cmid, text, 73000,
                                    &token), CHAT_OK);
    assert_true (strlen (token) <= WIRE_MAX_TOKEN);
    assert_int_equal (msgseal_open (key, token, strlen (token), conv, 1, "alice", ALICE,
                                    &body), CHAT_OK);
    assert_int_equal (body.text_len, 73000);
    msgseal_body_free (&body);
    free (token);
    token = NULL;
    //  A token over the limit is not even opened
    char *long_token = malloc (WIRE_MAX_TOKEN + 2);
    memset (long_token, 'A', WIRE_MAX_TOKEN + 1);
    long_token [WIRE_MAX_TOKEN + 1] = 0;
    assert_int_equal (msgseal_open (key, long_token, WIRE_MAX_TOKEN + 1, conv, 1, "alice",
                                    ALICE, &body), CHAT_ERR_MESSAGE_TOO_LARGE);
    free (long_token);
    assert_int_equal (msgseal_seal (key, conv, 1, "alice", ALICE, 1, cmid, "", 0, &token),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (msgseal_seal (key, conv, 1, "alice", ALICE, 1, cmid, "a\0b", 3, &token),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (msgseal_seal (key, conv, 1, "", ALICE, 1, cmid, "a", 1, &token),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (msgseal_seal (key, conv, 0, "alice", ALICE, 1, cmid, "a", 1, &token),
                      CHAT_ERR_BAD_REQUEST);
    //  a public key cannot sign
    size_t der_len = 0;
    const uint8_t *der = rsakey_der (ALICE, &der_len);
    rsakey_t *public = rsakey_from_der (der, der_len);
    assert_non_null (public);
    assert_int_equal (msgseal_seal (key, conv, 1, "alice", public, 1, cmid, "a", 1, &token),
                      CHAT_ERR_BAD_REQUEST);
    assert_null (token);
    rsakey_destroy (&public);
    free (text);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_format),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_member_forging_another),
        cmocka_unit_test (test_not_a_signed_message),
        cmocka_unit_test (test_limits),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
