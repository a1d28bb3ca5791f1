/*  test_pusher - pushes sealed on worker threads, published through an
    XPUB that admits only the tokens of live sessions

    The channels are real (a client and a server end, from a handshake done
    here), so what arrives is opened exactly as a client opens it.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <czmq.h>
#include "channel.h"
#include "chaterror.h"
#include "pusher.h"
#include "pushkeys.h"

static rsakey_t *s_server_key;
static rsakey_t *s_client_key;

//  A channel pair: [0] the server's end, [1] the client's
static void
s_pair (channel_t *pair [2])
{
    pair [1] = channel_client_new (s_client_key);
    assert_non_null (pair [1]);
    uint8_t *hello, *welcome;
    size_t hello_size, welcome_size;
    assert_int_equal (channel_client_hello (pair [1], &hello, &hello_size), CHAT_OK);
    Chat__Envelope *env = NULL;
    assert_int_equal (wire_envelope_unpack (hello, hello_size, &env), CHAT_OK);
    //  The Welcome names the role and a push endpoint, as the main server's do
    uint8_t *info = NULL;
    size_t info_len = 0;
    assert_int_equal (channel_welcome_info (CHANNEL_ROLE_MAINSERVER, "tcp://127.0.0.1:1",
                                            NULL, 0, &info, &info_len), CHAT_OK);
    assert_int_equal (channel_server_accept (s_server_key, info, info_len, env->hello,
                                             &pair [0], &welcome, &welcome_size), CHAT_OK);
    free (info);
    assert_int_equal (channel_client_accept (pair [1], welcome, welcome_size), CHAT_OK);
    chat__envelope__free_unpacked (env, NULL);
    free (hello);
    free (welcome);
}

static zsock_t *
s_sub (const char *endpoint, const uint8_t *topic, size_t size)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    assert_non_null (sub);
    assert_int_equal (zsock_connect (sub, "%s", endpoint), 0);
    zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE, topic, size);
    zsock_set_rcvtimeo (sub, 200);
    return sub;
}

//  Push text to channel until sub has one (subscriptions travel on their
//  own); that one must open as text
static void
s_push_until_seen (pusher_t *pusher, channel_t *pair [2], zsock_t *sub, const char *text)
{
    for (int attempt = 0; attempt < 50; attempt++) {
        assert_int_equal (pusher_push (pusher, "alice", &pair [0], 1, (const uint8_t *) text,
                                       strlen (text)), CHAT_OK);
        zmsg_t *msg = zmsg_recv (sub);
        if (!msg)
            continue;
        assert_int_equal (zmsg_size (msg), 2);
        zframe_t *topic = zmsg_first (msg);
        assert_memory_equal (zframe_data (topic), channel_session_token (pair [1]),
                             CHANNEL_SESSION_TOKEN_SIZE);
        zframe_t *body = zmsg_next (msg);
        uint8_t *payload = NULL;
        size_t len = 0;
        assert_int_equal (channel_open_push (pair [1], zframe_data (body), zframe_size (body),
                                             &payload, &len), CHAT_OK);
        assert_int_equal (len, strlen (text));
        assert_memory_equal (payload, text, len);
        free (payload);
        zmsg_destroy (&msg);
        return;
    }
    fail_msg ("no push arrived");
}

static void
test_admission (void **state)
{
    (void) state;
    pusher_t *pusher = pusher_new (2, 32, 0);
    assert_non_null (pusher);
    char *endpoint = NULL;
    assert_int_equal (pusher_bind (pusher, "tcp://127.0.0.1:*", &endpoint), 0);
    channel_t *alice [2], *bob [2];
    s_pair (alice);
    s_pair (bob);
    pusher_session_open (pusher, alice [0]);
    pusher_session_open (pusher, bob [0]);
    //  A stranger subscribed to everything, one to bob's token before it
    //  is live (in real life: a guess), alice to her own
    zsock_t *stranger = s_sub (endpoint, (const uint8_t *) "", 0);
    zsock_t *own = s_sub (endpoint, channel_session_token (alice [1]),
                          CHANNEL_SESSION_TOKEN_SIZE);
    s_push_until_seen (pusher, alice, own, "for alice");
    //  A burst within the high-water mark (32): each arrives, in order,
    //  sealed on the workers
    channel_t *both [2] = { alice [0], bob [0] };
    for (int i = 0; i < 30; i++)
        assert_int_equal (pusher_push (pusher, "alice", both, 2, (const uint8_t *) "more", 4), CHAT_OK);
    assert_true (pusher_flush (pusher, 60000));
    int received = 0;
    zmsg_t *msg;
    while ((msg = zmsg_recv (own))) {
        uint8_t *payload = NULL;
        size_t len = 0;
        assert_int_equal (channel_open_push (alice [1], zframe_data (zmsg_last (msg)),
                                             zframe_size (zmsg_last (msg)), &payload, &len),
                          CHAT_OK);
        free (payload);
        zmsg_destroy (&msg);
        received++;
    }
    assert_int_equal (received, 30);
    //  The stranger had none of them
    assert_null (zmsg_recv (stranger));

    //  A closed session's token is not admitted any more
    pusher_session_close (pusher, bob [0]);
    zsock_t *late = s_sub (endpoint, channel_session_token (bob [1]),
                           CHANNEL_SESSION_TOKEN_SIZE);
    zclock_sleep (200);
    for (int i = 0; i < 5; i++)
        assert_int_equal (pusher_push (pusher, "alice", &bob [0], 1, (const uint8_t *) "x", 1), CHAT_OK);
    assert_true (pusher_flush (pusher, 60000));
    assert_null (zmsg_recv (late));
    zsock_destroy (&late);
    zsock_destroy (&stranger);
    zsock_destroy (&own);
    for (int i = 0; i < 2; i++) {
        channel_destroy (&alice [i]);
        channel_destroy (&bob [i]);
    }
    free (endpoint);
    pusher_destroy (&pusher);
    assert_null (pusher);
}

//  Past queue_bytes a push is dropped at once, counted, and refused
static void
test_queue_bound (void **state)
{
    (void) state;
    pusher_t *pusher = pusher_new (1, 8, 100000);
    assert_non_null (pusher);
    channel_t *pair [2];
    s_pair (pair);
    uint8_t *big = (uint8_t *) zmalloc (60000);
    int busy = 0;
    for (int i = 0; i < 200; i++)
        if (pusher_push (pusher, "alice", &pair [0], 1, big, 60000) == CHAT_ERR_BUSY)
            busy++;
    //  At most one 60 KB push waits at a time under a 100 KB bound
    assert_true (busy > 0);
    assert_int_equal (pusher_dropped (pusher), (size_t) busy);
    assert_true (pusher_flush (pusher, 60000));
    //  Once sealed, the queue takes pushes again
    assert_int_equal (pusher_push (pusher, "alice", &pair [0], 1, big, 60000), CHAT_OK);
    free (big);
    channel_destroy (&pair [0]);
    channel_destroy (&pair [1]);
    pusher_destroy (&pusher);
}

//  One sender's backlog past its share refuses that sender's next push and
//  never another's. Each sender is counted in its own slot: with every
//  sender in one slot (the SipHash once failed every time), bob and carol
//  were refused while mallory's backlog was sealed.
static void
test_sender_share (void **state)
{
    (void) state;
    pusher_t *pusher = pusher_new (1, 8, 0);
    assert_non_null (pusher);
    channel_t *pair [2];
    s_pair (pair);
    //  More than a whole share, to four sessions: admitted, as mallory has
    //  nothing waiting, and far more sealing than the next calls take
    size_t size = PUSHER_SENDER_WORK + 1;
    uint8_t *big = (uint8_t *) zmalloc (size);
    channel_t *targets [4] = { pair [0], pair [0], pair [0], pair [0] };
    assert_int_equal (pusher_push (pusher, "mallory", targets, 4, big, size), CHAT_OK);
    //  Still waiting: any push of mallory's is refused...
    assert_int_equal (pusher_push (pusher, "mallory", &pair [0], 1, (const uint8_t *) "hi", 2),
                      CHAT_ERR_BUSY);
    //  ...and another sender's is not. Two names, so that one sharing
    //  mallory's slot (1 in 1024) cannot fail the test.
    bool admitted = pusher_push (pusher, "bob", &pair [0], 1, (const uint8_t *) "hi", 2)
                    == CHAT_OK
                 || pusher_push (pusher, "carol", &pair [0], 1, (const uint8_t *) "hi", 2)
                    == CHAT_OK;
    assert_true (admitted);
    assert_true (pusher_flush (pusher, 60000));
    //  Once sealed, mallory's share is free again
    assert_int_equal (pusher_push (pusher, "mallory", &pair [0], 1, big, size), CHAT_OK);
    assert_true (pusher_flush (pusher, 60000));
    free (big);
    channel_destroy (&pair [0]);
    channel_destroy (&pair [1]);
    pusher_destroy (&pusher);
}

//  A subscriber that subscribes a live token and hangs up before the
//  publisher reads the subscription: libzmq 4.3.4 would put its freed pipe
//  under that token, and the next push there read freed memory (valgrind:
//  "Invalid read" in zmq_send). The token is retired instead: nothing is
//  sent to it again, not even to its session's own subscriber, and it is
//  not admitted again.
static void
test_hangup_before_read (void **state)
{
    (void) state;
    pusher_t *pusher = pusher_new (1, 32, 0);
    assert_non_null (pusher);
    char *endpoint = NULL;
    assert_int_equal (pusher_bind (pusher, "tcp://127.0.0.1:*", &endpoint), 0);
    channel_t *alice [2], *bob [2];
    s_pair (alice);
    s_pair (bob);
    pusher_session_open (pusher, alice [0]);
    pusher_session_open (pusher, bob [0]);
    zsock_t *own = s_sub (endpoint, channel_session_token (alice [1]),
                          CHANNEL_SESSION_TOKEN_SIZE);
    zsock_t *bobs = s_sub (endpoint, channel_session_token (bob [1]),
                           CHANNEL_SESSION_TOKEN_SIZE);
    s_push_until_seen (pusher, alice, own, "before");
    s_push_until_seen (pusher, bob, bobs, "before");
    assert_int_equal (pusher_retired (pusher), 0);

    //  While the publisher stands still, a subscriber comes with alice's
    //  token and goes; then libzmq takes in both before anything is read
    pusher_hold (pusher, 400);
    zsock_t *gone = zsock_new (ZMQ_SUB);
    assert_non_null (gone);
    zsock_set_linger (gone, 0);
    assert_int_equal (zsock_connect (gone, "%s", endpoint), 0);
    zmq_setsockopt (zsock_resolve (gone), ZMQ_SUBSCRIBE, channel_session_token (alice [1]),
                    CHANNEL_SESSION_TOKEN_SIZE);
    zclock_sleep (100);
    zsock_destroy (&gone);
    int64_t until = zclock_mono () + 30000;
    while (pusher_retired (pusher) == 0 && zclock_mono () < until)
        zclock_sleep (20);
    assert_int_equal (pusher_retired (pusher), 1);

    //  Nothing more for alice's token, bob's is untouched
    for (int i = 0; i < 5; i++)
        assert_int_equal (pusher_push (pusher, "bob", &alice [0], 1, (const uint8_t *) "x", 1),
                          CHAT_OK);
    assert_true (pusher_flush (pusher, 60000));
    assert_null (zmsg_recv (own));
    s_push_until_seen (pusher, bob, bobs, "after");
    //  and a new subscription to it is refused like any dead token's
    zsock_t *again = s_sub (endpoint, channel_session_token (alice [1]),
                            CHANNEL_SESSION_TOKEN_SIZE);
    zclock_sleep (200);
    assert_int_equal (pusher_push (pusher, "bob", &alice [0], 1, (const uint8_t *) "y", 1),
                      CHAT_OK);
    assert_true (pusher_flush (pusher, 60000));
    assert_null (zmsg_recv (again));
    assert_int_equal (pusher_retired (pusher), 1);

    zsock_destroy (&again);
    zsock_destroy (&own);
    zsock_destroy (&bobs);
    for (int i = 0; i < 2; i++) {
        channel_destroy (&alice [i]);
        channel_destroy (&bob [i]);
    }
    free (endpoint);
    pusher_destroy (&pusher);
}

static int
s_setup (void **state)
{
    (void) state;
    s_server_key = rsakey_generate (2048);
    s_client_key = rsakey_generate (2048);
    return s_server_key && s_client_key ? 0 : -1;
}

static int
s_teardown (void **state)
{
    (void) state;
    rsakey_destroy (&s_server_key);
    rsakey_destroy (&s_client_key);
    return 0;
}

//  What key a context made ready holds: its token for a fixed IV and time
//  against the one-shot call's with the key expected.
static void
s_assert_holds (fernet_key_t *ready, const uint8_t key [FERNET_KEY_SIZE])
{
    static const uint8_t iv [16] = { 7, 6, 5 };
    char *mine = NULL, *want = NULL;
    assert_int_equal (fernet_key_encrypt_iv (ready, (const uint8_t *) "push", 4, 1000, iv,
                                             &mine), CHAT_OK);
    assert_int_equal (fernet_encrypt_iv (key, (const uint8_t *) "push", 4, 1000, iv,
                                         &want), CHAT_OK);
    assert_string_equal (mine, want);
    free (mine);
    free (want);
}

//  A worker's keys made ready: kept for the same session and key, made
//  again for a new key or when another session took the slot, never the
//  wrong key's context.
static void
test_push_keys (void **state)
{
    (void) state;
    uint8_t one [CHANNEL_SESSION_ID_SIZE] = { 1 }, two [CHANNEL_SESSION_ID_SIZE] = { 2 };
    uint8_t key_a [FERNET_KEY_SIZE], key_b [FERNET_KEY_SIZE];
    assert_int_equal (fernet_key_generate (key_a), 0);
    assert_int_equal (fernet_key_generate (key_b), 0);

    pushkeys_t *keys = pushkeys_new (64);
    assert_non_null (keys);
    fernet_key_t *first = pushkeys_get (keys, one, key_a);
    assert_non_null (first);
    s_assert_holds (first, key_a);
    for (int i = 0; i < 10; i++)
        assert_ptr_equal (pushkeys_get (keys, one, key_a), first);
    assert_int_equal (pushkeys_made (keys), 1);
    assert_int_equal (pushkeys_kept (keys), 10);
    //  The same session with another key (cannot happen today): made again
    fernet_key_t *other = pushkeys_get (keys, one, key_b);
    assert_non_null (other);
    s_assert_holds (other, key_b);
    assert_int_equal (pushkeys_made (keys), 2);
    pushkeys_destroy (&keys);
    assert_null (keys);

    //  One slot, two sessions taking turns: each gets its own key every time
    keys = pushkeys_new (0);
    assert_non_null (keys);
    for (int i = 0; i < 4; i++) {
        s_assert_holds (pushkeys_get (keys, one, key_a), key_a);
        s_assert_holds (pushkeys_get (keys, two, key_b), key_b);
    }
    assert_int_equal (pushkeys_made (keys), 8);
    assert_int_equal (pushkeys_kept (keys), 0);
    pushkeys_destroy (&keys);
}

//  One push to a group larger than two bursts (BURST_PUSHES, 32): every
//  member gets exactly one 2-frame message, its own, which opens; and a
//  second push to the group (keys now kept by the worker) opens too.
#define GROUP 70
static void
test_group_bursts (void **state)
{
    (void) state;
    pusher_t *pusher = pusher_new (1, 1000, 0);
    assert_non_null (pusher);
    char *endpoint = NULL;
    assert_int_equal (pusher_bind (pusher, "tcp://127.0.0.1:*", &endpoint), 0);
    static channel_t *pairs [GROUP][2];
    channel_t *servers [GROUP];
    for (int i = 0; i < GROUP; i++) {
        s_pair (pairs [i]);
        servers [i] = pairs [i][0];
        pusher_session_open (pusher, pairs [i][0]);
    }
    zsock_t *sub = s_sub (endpoint, channel_session_token (pairs [0][1]),
                          CHANNEL_SESSION_TOKEN_SIZE);
    for (int i = 1; i < GROUP; i++)
        zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE,
                        channel_session_token (pairs [i][1]), CHANNEL_SESSION_TOKEN_SIZE);
    //  Subscriptions travel in order: once the last one is in, all are
    s_push_until_seen (pusher, pairs [GROUP - 1], sub, "ready");
    //  Generous: a bound for a loaded machine, not a measurement
    zsock_set_rcvtimeo (sub, 20000);
    for (int round = 0; round < 2; round++) {
        assert_int_equal (pusher_push (pusher, "alice", servers, GROUP,
                                       (const uint8_t *) "to all", 6), CHAT_OK);
        assert_true (pusher_flush (pusher, 60000));
        bool seen [GROUP] = { false };
        for (int n = 0; n < GROUP; ) {
            zmsg_t *msg = zmsg_recv (sub);
            assert_non_null (msg);
            assert_int_equal (zmsg_size (msg), 2);
            zframe_t *topic = zmsg_first (msg);
            int who = -1;
            for (int i = 0; i < GROUP; i++)
                if (zframe_size (topic) == CHANNEL_SESSION_TOKEN_SIZE
                &&  memcmp (zframe_data (topic), channel_session_token (pairs [i][1]),
                            CHANNEL_SESSION_TOKEN_SIZE) == 0)
                    who = i;
            assert_true (who >= 0);
            uint8_t *payload = NULL;
            size_t len = 0;
            zframe_t *body = zmsg_next (msg);
            assert_int_equal (channel_open_push (pairs [who][1], zframe_data (body),
                                                 zframe_size (body), &payload, &len), CHAT_OK);
            //  A late "ready" from the wait above comes first, in order
            if (!(len == 5 && memcmp (payload, "ready", 5) == 0)) {
                assert_int_equal (len, 6);
                assert_memory_equal (payload, "to all", 6);
                assert_false (seen [who]);
                seen [who] = true;
                n++;
            }
            free (payload);
            zmsg_destroy (&msg);
        }
    }
    //  Nothing more: no member twice, no stray frame
    zsock_set_rcvtimeo (sub, 200);
    assert_null (zmsg_recv (sub));
    zsock_destroy (&sub);
    for (int i = 0; i < GROUP; i++) {
        channel_destroy (&pairs [i][0]);
        channel_destroy (&pairs [i][1]);
    }
    free (endpoint);
    pusher_destroy (&pusher);
}

int
main (void)
{
    zsys_set_logstream (NULL);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_admission),
        cmocka_unit_test (test_queue_bound),
        cmocka_unit_test (test_sender_share),
        cmocka_unit_test (test_hangup_before_read),
        cmocka_unit_test (test_push_keys),
        cmocka_unit_test (test_group_bursts),
    };
    int rc = cmocka_run_group_tests (tests, s_setup, s_teardown);
    zsys_shutdown ();
    return rc;
}
