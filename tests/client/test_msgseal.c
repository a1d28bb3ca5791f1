/*  msgseal: a message sealed under its conversation key, and every check
    the receiver makes  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "msgseal.h"
#include "chaterror.h"
#include "wire.h"

static uint8_t key [FERNET_KEY_SIZE];
static uint8_t other_key [FERNET_KEY_SIZE];
static const uint8_t conv [16] = "conversation-one";
static const uint8_t conv2 [16] = "conversation-two";
static const uint8_t cmid [16] = "client-msg-id-01";

static int
s_setup (void **state)
{
    (void) state;
    fernet_key_generate (key);
    fernet_key_generate (other_key);
    return 0;
}

static void
test_round_trip (void **state)
{
    (void) state;
    char *token = NULL;
    const char *text = "hello\nwörld ✓";
    assert_int_equal (msgseal_seal (key, conv, "alice", 1234567, cmid, text,
                                    strlen (text), &token), CHAT_OK);
    msgseal_body_t body;
    assert_int_equal (msgseal_open (key, token, strlen (token), conv, "alice", &body),
                      CHAT_OK);
    assert_string_equal (body.text, text);
    assert_int_equal (body.text_len, strlen (text));
    assert_int_equal (body.sent_at, 1234567);
    assert_memory_equal (body.client_message_id, cmid, 16);
    msgseal_body_free (&body);
    assert_null (body.text);
    free (token);
}

static void
test_cut_and_paste_refused (void **state)
{
    (void) state;
    char *token = NULL;
    assert_int_equal (msgseal_seal (key, conv, "alice", 1, cmid, "hi", 2, &token), CHAT_OK);
    msgseal_body_t body;
    //  the server claims another conversation or sender: refused
    assert_int_equal (msgseal_open (key, token, strlen (token), conv2, "alice", &body),
                      CHAT_ERR_BAD_REQUEST);
    assert_null (body.text);
    assert_int_equal (msgseal_open (key, token, strlen (token), conv, "mallory", &body),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (msgseal_open (key, token, strlen (token), conv, "alicE", &body),
                      CHAT_ERR_BAD_REQUEST);
    //  another conversation's key: the MAC fails
    assert_int_equal (msgseal_open (other_key, token, strlen (token), conv, "alice", &body),
                      CHAT_ERR_BAD_MAC);
    //  tampered
    token [strlen (token) / 2] ^= 1;
    int rc = msgseal_open (key, token, strlen (token), conv, "alice", &body);
    assert_true (rc == CHAT_ERR_BAD_MAC || rc == CHAT_ERR_MALFORMED);
    assert_int_equal (msgseal_open (key, "garbage", 7, conv, "alice", &body),
                      CHAT_ERR_MALFORMED);
    free (token);
}

static void
test_not_a_message_body (void **state)
{
    (void) state;
    //  a valid token under the right key that holds something else
    char *token = NULL;
    const uint8_t junk [] = { 0xff, 0xff, 0xff, 0xff, 0x0f };
    assert_int_equal (fernet_encrypt (key, junk, sizeof junk, wire_now (), &token), CHAT_OK);
    msgseal_body_t body;
    assert_int_equal (msgseal_open (key, token, strlen (token), conv, "alice", &body),
                      CHAT_ERR_MALFORMED);
    free (token);
}

//  One size limit, the token's (WIRE_MAX_TOKEN), on both sides
static void
test_limits (void **state)
{
    (void) state;
    char *token = NULL;
    size_t big = WIRE_MAX_TOKEN + 1;
    char *text = malloc (big);
    memset (text, 'x', big);
    assert_int_equal (msgseal_seal (key, conv, "alice", 1, cmid, text, big, &token),
                      CHAT_ERR_MESSAGE_TOO_LARGE);
    assert_null (token);
    //  Text that fits the limit only before it is sealed
    assert_int_equal (msgseal_seal (key, conv, "alice", 1, cmid, text, 76000, &token),
                      CHAT_ERR_MESSAGE_TOO_LARGE);
    assert_null (token);
    //  WIRE_MAX_TEXT always fits, with the longest sender, and opens
    const char *longest = "abcdefghijklmnopqrstuvwxyz012345";
    assert_int_equal (msgseal_seal (key, conv, longest, INT64_MAX, cmid, text,
                                    WIRE_MAX_TEXT, &token), CHAT_OK);
    assert_true (strlen (token) <= WIRE_MAX_TOKEN);
    msgseal_body_t body;
    assert_int_equal (msgseal_open (key, token, strlen (token), conv, longest, &body),
                      CHAT_OK);
    assert_int_equal (body.text_len, WIRE_MAX_TEXT);
    msgseal_body_free (&body);
    free (token);
    token = NULL;
    //  A longer text whose token fits is sent and taken too: what the
    //  server stores, a client shows
    assert_int_equal (msgseal_seal (key, conv, "alice", 1, cmid, text, 74000, &token),
                      CHAT_OK);
    assert_true (strlen (token) <= WIRE_MAX_TOKEN);
    assert_int_equal (msgseal_open (key, token, strlen (token), conv, "alice", &body),
                      CHAT_OK);
    assert_int_equal (body.text_len, 74000);
    msgseal_body_free (&body);
    free (token);
    token = NULL;
    //  A token over the limit is not even opened
    char *long_token = malloc (WIRE_MAX_TOKEN + 2);
    memset (long_token, 'A', WIRE_MAX_TOKEN + 1);
    long_token [WIRE_MAX_TOKEN + 1] = 0;
    assert_int_equal (msgseal_open (key, long_token, WIRE_MAX_TOKEN + 1, conv, "alice",
                                    &body), CHAT_ERR_MESSAGE_TOO_LARGE);
    free (long_token);
    assert_int_equal (msgseal_seal (key, conv, "alice", 1, cmid, "", 0, &token),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (msgseal_seal (key, conv, "alice", 1, cmid, "a\0b", 3, &token),
                      CHAT_ERR_BAD_REQUEST);
    assert_int_equal (msgseal_seal (key, conv, "", 1, cmid, "a", 1, &token),
                      CHAT_ERR_BAD_REQUEST);
    free (text);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_cut_and_paste_refused),
        cmocka_unit_test (test_not_a_message_body),
        cmocka_unit_test (test_limits),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
