/*  test_tapframe - what chat-tap reads from a frame without keys, its
    Wireshark-style dump and its JSON strings
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "channel.h"
#include "chaterror.h"
#include "fernet.h"
#include "hexdump.h"
#include "jsonout.h"
#include "rsakey.h"
#include "tapframe.h"
#include "taplog.h"
#include "wire.h"

static rsakey_t *s_key;

static int
s_group_setup (void **state)
{
    (void) state;
    s_key = rsakey_generate (2048);
    return s_key? 0: -1;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    rsakey_destroy (&s_key);
    return 0;
}

static void
s_request (const uint8_t *data, size_t size, tapframe_t *info)
{
    const uint8_t *frames [1] = { data };
    size_t sizes [1] = { size };
    tapframe_request (frames, sizes, 1, info);
}

//  Pack an envelope and classify it.
static void
s_classify (Chat__Envelope *env, tapframe_t *info, size_t *packed)
{
    uint8_t *data;
    size_t size;
    assert_int_equal (wire_pack (&env->base, &data, &size), CHAT_OK);
    s_request (data, size, info);
    assert_int_equal (info->size, size);
    if (packed)
        *packed = size;
    free (data);
}

static void
test_hello_and_welcome (void **state)
{
    (void) state;
    size_t der_len;
    const uint8_t *der = rsakey_der (s_key, &der_len);
    uint8_t nonce [32] = { 1 };

    Chat__Hello hello = CHAT__HELLO__INIT;
    hello.version = 2;
    hello.client_public_key.data = (uint8_t *) der;
    hello.client_public_key.len = der_len;
    hello.client_nonce.data = nonce;
    hello.client_nonce.len = sizeof nonce;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_HELLO;
    env.hello = &hello;
    tapframe_t info;
    s_classify (&env, &info, NULL);
    assert_int_equal (info.kind, TAPFRAME_HELLO);
    assert_string_equal (info.key, rsakey_fingerprint_text (s_key));
    assert_string_equal (info.session, "");
    assert_int_equal (info.fernet_ts, -1);
    assert_int_equal (info.version, 2);
    assert_string_equal (info.role, "");

    uint8_t session_id [16];
    for (int i = 0; i < 16; i++)
        session_id [i] = (uint8_t) (0xa0 + i);
    //  The Welcome's info is signed, not sealed: role, push endpoint and a
    //  key rotation show (a control character in it does not reach a
    //  terminal)
    uint8_t *info_bytes = NULL;
    size_t info_len = 0;
    assert_int_equal (channel_welcome_info ("mainserver", "tcp://*:5557\x1b[2J", NULL, 0,
                                            &info_bytes, &info_len), CHAT_OK);
    Chat__Welcome welcome = CHAT__WELCOME__INIT;
    welcome.version = 2;
    welcome.server_public_key.data = (uint8_t *) der;
    welcome.server_public_key.len = der_len;
    welcome.session_id.data = session_id;
    welcome.session_id.len = sizeof session_id;
    welcome.info.data = info_bytes;
    welcome.info.len = info_len;
    env.kind_case = CHAT__ENVELOPE__KIND_WELCOME;
    env.welcome = &welcome;
    s_classify (&env, &info, NULL);
    assert_int_equal (info.kind, TAPFRAME_WELCOME);
    assert_string_equal (info.key, rsakey_fingerprint_text (s_key));
    assert_string_equal (info.session, "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    assert_int_equal (info.version, 2);
    assert_string_equal (info.role, "mainserver");
    assert_string_equal (info.push, "tcp://*:5557?[2J");
    assert_int_equal (info.rotation, 0);
    free (info_bytes);
    //  A rotation statement is named, not opened
    uint8_t rotation [] = { 0x0a, 0x01, 0x41, 0x12, 0x01, 0x42 };
    assert_int_equal (channel_welcome_info ("keyserver", NULL, rotation, sizeof rotation,
                                            &info_bytes, &info_len), CHAT_OK);
    welcome.info.data = info_bytes;
    welcome.info.len = info_len;
    s_classify (&env, &info, NULL);
    assert_string_equal (info.role, "keyserver");
    assert_string_equal (info.push, "");
    assert_int_equal (info.rotation, 1);
    free (info_bytes);
    //  Garbage as info: the rest still shows
    welcome.info.data = (uint8_t *) "\xff\xff";
    welcome.info.len = 2;
    s_classify (&env, &info, NULL);
    assert_int_equal (info.kind, TAPFRAME_WELCOME);
    assert_string_equal (info.role, "");
}

static void
test_sealed_and_error (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE] = { 7 };
    char *token;
    assert_int_equal (fernet_encrypt (key, (const uint8_t *) "x", 1, 1700000123, &token),
                      CHAT_OK);
    uint8_t session_id [16] = { 0x12, 0x34 };
    Chat__Sealed sealed = CHAT__SEALED__INIT;
    sealed.session_id.data = session_id;
    sealed.session_id.len = sizeof session_id;
    sealed.token = token;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_SEALED;
    env.sealed = &sealed;
    tapframe_t info;
    s_classify (&env, &info, NULL);
    assert_int_equal (info.kind, TAPFRAME_SEALED);
    assert_int_equal (info.fernet_ts, 1700000123);
    assert_string_equal (info.session, "12340000000000000000000000000000");

    //  A token that is not Fernet-shaped still gives a sealed frame, no time
    sealed.token = "not a token";
    s_classify (&env, &info, NULL);
    assert_int_equal (info.kind, TAPFRAME_SEALED);
    assert_int_equal (info.fernet_ts, -1);
    free (token);

    Chat__Error error = CHAT__ERROR__INIT;
    wire_error_init (&error, CHAT_ERR_REPLAYED, "replayed");
    env.kind_case = CHAT__ENVELOPE__KIND_ERROR;
    env.error = &error;
    s_classify (&env, &info, NULL);
    assert_int_equal (info.kind, TAPFRAME_ERROR);
    assert_int_equal (info.error_code, CHAT_ERR_REPLAYED);
}

static void
test_garbage (void **state)
{
    (void) state;
    tapframe_t info;
    //  Not protobuf at all
    const uint8_t junk [] = { 0xff, 0xff, 0xff, 0xff, 0x01, 0x02 };
    s_request (junk, sizeof junk, &info);
    assert_int_equal (info.kind, TAPFRAME_GARBAGE);
    assert_int_equal (info.size, sizeof junk);
    //  Empty frame: a valid but empty Envelope says nothing
    s_request ((const uint8_t *) "", 0, &info);
    assert_int_equal (info.kind, TAPFRAME_GARBAGE);
    //  No frames at all
    tapframe_request (NULL, NULL, 0, &info);
    assert_int_equal (info.kind, TAPFRAME_GARBAGE);
    assert_int_equal (info.parts, 0);
    //  Two frames: the last one is read, sizes add up
    Chat__Error error = CHAT__ERROR__INIT;
    wire_error_init (&error, CHAT_ERR_BUSY, "busy");
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_ERROR;
    env.error = &error;
    uint8_t *data;
    size_t size;
    assert_int_equal (wire_pack (&env.base, &data, &size), CHAT_OK);
    const uint8_t *frames [2] = { (const uint8_t *) "", data };
    size_t sizes [2] = { 0, size };
    tapframe_request (frames, sizes, 2, &info);
    assert_int_equal (info.kind, TAPFRAME_ERROR);
    assert_int_equal (info.parts, 2);
    assert_int_equal (info.size, size);
    free (data);
}

static void
test_push_and_subscriptions (void **state)
{
    (void) state;
    uint8_t key [FERNET_KEY_SIZE] = { 9 };
    char *token;
    assert_int_equal (fernet_encrypt (key, (const uint8_t *) "p", 1, 1700000999, &token),
                      CHAT_OK);
    uint8_t session_id [16] = { 0xbe, 0xef };
    Chat__PushFrame push = CHAT__PUSH_FRAME__INIT;
    push.session_id.data = session_id;
    push.session_id.len = sizeof session_id;
    push.token = token;
    uint8_t *body;
    size_t body_size;
    assert_int_equal (wire_pack (&push.base, &body, &body_size), CHAT_OK);
    const uint8_t topic [16] = { 0xca, 0xfe, 0x01 };
    const uint8_t *frames [2] = { topic, body };
    size_t sizes [2] = { sizeof topic, body_size };
    tapframe_t info;
    tapframe_push (frames, sizes, 2, &info);
    assert_int_equal (info.kind, TAPFRAME_PUSH);
    assert_string_equal (info.topic, "cafe0100000000000000000000000000");
    assert_string_equal (info.session, "beef0000000000000000000000000000");
    assert_int_equal (info.fernet_ts, 1700000999);
    assert_int_equal (info.size, sizeof topic + body_size);
    //  One frame only is not a push
    tapframe_push (frames, sizes, 1, &info);
    assert_int_equal (info.kind, TAPFRAME_GARBAGE);
    free (body);
    free (token);

    const uint8_t sub [] = { 1, 0xca, 0xfe };
    const uint8_t *sub_frames [1] = { sub };
    size_t sub_sizes [1] = { sizeof sub };
    tapframe_subscription (sub_frames, sub_sizes, 1, &info);
    assert_int_equal (info.kind, TAPFRAME_SUBSCRIBE);
    assert_string_equal (info.topic, "cafe");
    const uint8_t unsub [] = { 0, 0xca };
    sub_frames [0] = unsub;
    sub_sizes [0] = sizeof unsub;
    tapframe_subscription (sub_frames, sub_sizes, 1, &info);
    assert_int_equal (info.kind, TAPFRAME_UNSUBSCRIBE);
    assert_string_equal (info.topic, "ca");
    const uint8_t other [] = { 2, 0xca };
    sub_frames [0] = other;
    tapframe_subscription (sub_frames, sub_sizes, 1, &info);
    assert_int_equal (info.kind, TAPFRAME_GARBAGE);
    assert_string_equal (tapframe_kind_name (TAPFRAME_UNSUBSCRIBE), "unsubscribe");
    assert_string_equal (tapframe_kind_name (TAPFRAME_KINDS), "?");
}

//  Read what a function wrote into a memory stream.
static char *
s_capture_hexdump (const uint8_t *data, size_t len)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert_non_null (out);
    hexdump_print (out, data, len);
    fclose (out);
    return text;
}

static void
test_hexdump_layout (void **state)
{
    (void) state;
    const char *input = "gAAAAABhwjYnxxQcF70R\n";
    char *text = s_capture_hexdump ((const uint8_t *) input, strlen (input));
    assert_string_equal (text,
        "0000  67 41 41 41 41 41 42 68  77 6a 59 6e 78 78 51 63   gAAAAABh wjYnxxQc\n"
        "0010  46 37 30 52 0a                                     F70R.\n");
    free (text);
    text = s_capture_hexdump ((const uint8_t *) "", 0);
    assert_string_equal (text, "");
    free (text);
    //  Exactly one row: no stray separator after the last byte
    text = s_capture_hexdump ((const uint8_t *) "01234567", 8);
    assert_string_equal (text,
        "0000  30 31 32 33 34 35 36 37                            01234567\n");
    free (text);
}

static void
test_json_strings (void **state)
{
    (void) state;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    jsonout_string (out, "a\"b\\c\n\x1b[2J\xc3\xa9\xff");
    fputc (' ', out);
    jsonout_string (out, NULL);
    fclose (out);
    assert_string_equal (text, "\"a\\\"b\\\\c\\u000a\\u001b[2J\xc3\xa9\\u00ff\" \"\"");
    free (text);
}

static void
test_taplog_counts (void **state)
{
    (void) state;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    taplog_t *log = taplog_new (out, TAPLOG_JSON);
    const uint8_t junk [] = { 0xff, 0xfe };
    const uint8_t *frames [1] = { junk };
    size_t sizes [1] = { sizeof junk };
    tapframe_t info;
    tapframe_request (frames, sizes, 1, &info);
    taplog_message (log, "request", "C>S", "c1", &info, frames, sizes);
    taplog_message (log, "request", "C>S", "c1", &info, frames, sizes);
    assert_int_equal (taplog_count (log, TAPFRAME_GARBAGE), 2);
    assert_int_equal (taplog_bytes (log, TAPFRAME_GARBAGE), 4);
    assert_int_equal (taplog_count (log, TAPFRAME_HELLO), 0);
    taplog_summary (log);
    taplog_destroy (&log);
    assert_null (log);
    fclose (out);
    assert_non_null (strstr (text, "\"kind\":\"garbage\",\"size\":2"));
    assert_non_null (strstr (text, "{\"summary\":{\"garbage\":{\"frames\":2,\"bytes\":4},"
                                   "\"total\":{\"frames\":2,\"bytes\":4}}}"));
    free (text);
}

//  A Welcome's line names what its signed info says; so does its JSON
static void
test_taplog_welcome (void **state)
{
    (void) state;
    uint8_t *info_bytes = NULL;
    size_t info_len = 0;
    assert_int_equal (channel_welcome_info ("mainserver", "tcp://chat.example.org:5557", NULL,
                                            0, &info_bytes, &info_len), CHAT_OK);
    uint8_t session_id [16] = { 0xab };
    Chat__Welcome welcome = CHAT__WELCOME__INIT;
    welcome.version = 2;
    welcome.session_id.data = session_id;
    welcome.session_id.len = sizeof session_id;
    welcome.info.data = info_bytes;
    welcome.info.len = info_len;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_WELCOME;
    env.welcome = &welcome;
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    assert_int_equal (wire_pack (&env.base, &packed, &packed_len), CHAT_OK);
    const uint8_t *frames [1] = { packed };
    size_t sizes [1] = { packed_len };
    tapframe_t info;
    tapframe_request (frames, sizes, 1, &info);
    for (int json = 0; json < 2; json++) {
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream (&text, &size);
        taplog_t *log = taplog_new (out, json? TAPLOG_JSON: 0);
        taplog_message (log, "request", "S>C", "c1", &info, frames, sizes);
        taplog_destroy (&log);
        fclose (out);
        if (json) {
            assert_non_null (strstr (text, "\"version\":2,\"role\":\"mainserver\","
                                           "\"push\":\"tcp://chat.example.org:5557\""));
        }
        else {
            assert_non_null (strstr (text, "welcome"));
            assert_non_null (strstr (text, "v=2 role=mainserver push=tcp://chat.example.org:5557"));
        }
        free (text);
    }
    free (packed);
    free (info_bytes);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_hello_and_welcome),
        cmocka_unit_test (test_sealed_and_error),
        cmocka_unit_test (test_garbage),
        cmocka_unit_test (test_push_and_subscriptions),
        cmocka_unit_test (test_hexdump_layout),
        cmocka_unit_test (test_json_strings),
        cmocka_unit_test (test_taplog_counts),
        cmocka_unit_test (test_taplog_welcome),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
