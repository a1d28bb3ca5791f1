/*  test_beacon - beacon payloads: format, parse, hostile input

    Nothing here sends a UDP beacon: the one case that does runs only when
    CHAT_NETNS=1 says the test is inside a network namespace made for it,
    which ctest does (tests/support/netns_run). Run outside one, that case
    is skipped, saying so; under CHAT_TEST_STRICT=1 (CI) it fails instead.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <czmq.h>
#include "beacon.h"
#include "secret.h"

#define FP "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"

static int
s_parse (const char *text, const char *sender, beacon_info_t *info)
{
    //  An exact-size heap copy with no terminator, so ASan catches a parser
    //  that reads past the payload
    size_t len = strlen (text);
    char *copy = malloc (len? len: 1);
    assert_non_null (copy);
    memcpy (copy, text, len);
    int rc = beacon_parse (copy, len, sender, info);
    free (copy);
    return rc;
}

static void
test_round_trip (void **state)
{
    (void) state;
    char payload [BEACON_MAX + 1];
    int len = beacon_format (payload, sizeof payload, "mainserver",
                             "tcp://10.1.2.3:5555", "tcp://10.1.2.3:5556", FP);
    assert_true (len > 0);
    assert_int_equal ((size_t) len, strlen (payload));
    assert_string_equal (payload, "CHAT/1 mainserver tcp://10.1.2.3:5555 "
                                  "tcp://10.1.2.3:5556 " FP);
    beacon_info_t info;
    assert_int_equal (s_parse (payload, "10.9.9.9", &info), 0);
    assert_string_equal (info.role, "mainserver");
    assert_string_equal (info.endpoint, "tcp://10.1.2.3:5555");
    assert_string_equal (info.push_endpoint, "tcp://10.1.2.3:5556");
    assert_string_equal (info.fingerprint, FP);

    //  No push endpoint: "-" on the wire, "" after parsing
    len = beacon_format (payload, sizeof payload, "keyserver", "tcp://h:1", NULL, FP);
    assert_true (len > 0);
    assert_string_equal (payload, "CHAT/1 keyserver tcp://h:1 - " FP);
    assert_int_equal (s_parse (payload, NULL, &info), 0);
    assert_string_equal (info.role, "keyserver");
    assert_string_equal (info.endpoint, "tcp://h:1");
    assert_string_equal (info.push_endpoint, "");
    len = beacon_format (payload, sizeof payload, "keyserver", "tcp://h:1", "", FP);
    assert_string_equal (payload, "CHAT/1 keyserver tcp://h:1 - " FP);
}

static void
test_wildcard (void **state)
{
    (void) state;
    beacon_info_t info;
    assert_int_equal (s_parse ("CHAT/1 mainserver tcp://*:5555 tcp://0.0.0.0:5556 " FP,
                               "192.168.7.20", &info), 0);
    assert_string_equal (info.endpoint, "tcp://192.168.7.20:5555");
    assert_string_equal (info.push_endpoint, "tcp://192.168.7.20:5556");
    //  Without a sender the endpoint stays as announced
    assert_int_equal (s_parse ("CHAT/1 keyserver tcp://*:5557 - " FP, NULL, &info), 0);
    assert_string_equal (info.endpoint, "tcp://*:5557");
    //  A concrete host is never replaced
    assert_int_equal (s_parse ("CHAT/1 keyserver tcp://10.0.0.1:5557 - " FP,
                               "10.0.0.99", &info), 0);
    assert_string_equal (info.endpoint, "tcp://10.0.0.1:5557");
    //  Nor one that only starts like a wildcard
    assert_int_equal (s_parse ("CHAT/1 keyserver tcp://0.0.0.01:5557 - " FP,
                               "10.0.0.99", &info), 0);
    assert_string_equal (info.endpoint, "tcp://0.0.0.01:5557");
    //  IPv6 sender
    assert_int_equal (s_parse ("CHAT/1 keyserver tcp://*:5557 - " FP, "fe80::1", &info), 0);
    assert_string_equal (info.endpoint, "tcp://[fe80::1]:5557");
    //  A hostile sender string
    assert_int_equal (s_parse ("CHAT/1 keyserver tcp://*:5557 - " FP, "a b", &info), -1);
    assert_int_equal (s_parse ("CHAT/1 keyserver tcp://*:5557 - " FP, "", &info), -1);
}

static void
test_too_long (void **state)
{
    (void) state;
    char payload [1024];
    char endpoint [128];
    //  Each endpoint 127 chars (the most that fits): the payload exceeds 255
    snprintf (endpoint, sizeof endpoint, "tcp://%0*d:1", 127 - 8, 0);
    assert_int_equal (strlen (endpoint), 127);
    assert_int_equal (beacon_format (payload, sizeof payload, "mainserver",
                                     endpoint, endpoint, FP), -1);
    //  An endpoint of 128 chars is refused on its own
    char longer [200];
    snprintf (longer, sizeof longer, "tcp://%0*d:1", 128 - 8, 0);
    assert_int_equal (beacon_format (payload, sizeof payload, "keyserver",
                                     longer, NULL, FP), -1);
    //  A buffer too small
    assert_int_equal (beacon_format (payload, 20, "keyserver", "tcp://h:1", NULL, FP), -1);
    //  And the parser refuses more than BEACON_MAX bytes
    char big [BEACON_MAX + 2];
    memset (big, 'A', sizeof big);
    memcpy (big, "CHAT/1 keyserver tcp://h:1 - ", 29);
    beacon_info_t info;
    assert_int_equal (beacon_parse (big, sizeof big, NULL, &info), -1);
    assert_int_equal (beacon_parse (big, 0, NULL, &info), -1);
    assert_int_equal (beacon_parse (NULL, 10, NULL, &info), -1);
}

static void
test_format_refuses (void **state)
{
    (void) state;
    char out [300];
    assert_int_equal (beacon_format (out, sizeof out, "chatserver", "tcp://h:1", NULL, FP), -1);
    assert_int_equal (beacon_format (out, sizeof out, NULL, "tcp://h:1", NULL, FP), -1);
    assert_int_equal (beacon_format (out, sizeof out, "keyserver", "udp://h:1", NULL, FP), -1);
    assert_int_equal (beacon_format (out, sizeof out, "keyserver", "tcp://h 1:1", NULL, FP), -1);
    assert_int_equal (beacon_format (out, sizeof out, "keyserver", "tcp://h:1", "ipc://x", FP), -1);
    assert_int_equal (beacon_format (out, sizeof out, "keyserver", "tcp://h:1", NULL, "MD5:x"), -1);
    assert_int_equal (beacon_format (out, sizeof out, "keyserver", "tcp://h:1", NULL, NULL), -1);
}

static void
test_malformed (void **state)
{
    (void) state;
    const char *bad [] = {
        "CHAT/2 keyserver tcp://h:1 - " FP,                 //  wrong prefix
        "chat/1 keyserver tcp://h:1 - " FP,
        "CHAT/10 keyserver tcp://h:1 - " FP,
        " CHAT/1 keyserver tcp://h:1 - " FP,                //  leading space
        "CHAT/1 keyserver tcp://h:1 - " FP " ",             //  trailing space
        "CHAT/1 keyserver  tcp://h:1 - " FP,                //  two spaces
        "CHAT/1 keyserver tcp://h:1 " FP,                   //  4 fields
        "CHAT/1 keyserver tcp://h:1 - " FP " extra",        //  6 fields
        "CHAT/1 keyserver tcp://h:1 - - " FP,
        "CHAT/1",
        "",
        "CHAT/1 server tcp://h:1 - " FP,                    //  bad role
        "CHAT/1 KEYSERVER tcp://h:1 - " FP,
        "CHAT/1 keyserver udp://h:1 - " FP,                 //  non-tcp endpoint
        "CHAT/1 keyserver ipc:///tmp/x - " FP,
        "CHAT/1 keyserver tcp://h:1 inproc://x " FP,        //  non-tcp push
        "CHAT/1 keyserver tcp://h - " FP,                   //  no port
        "CHAT/1 keyserver tcp://h:0 - " FP,                 //  port 0
        "CHAT/1 keyserver tcp://h:65536 - " FP,             //  port too big
        "CHAT/1 keyserver tcp://h:* - " FP,                 //  ephemeral port
        "CHAT/1 keyserver tcp://h:12a - " FP,
        "CHAT/1 keyserver tcp://:1 - " FP,                  //  no host
        "CHAT/1 keyserver tcp://h:1 - MD5:abcd",            //  not SHA256
        "CHAT/1 keyserver tcp://h:1 - SHA256:",             //  empty fingerprint
        "CHAT/1 keyserver tcp://h:1 - SHA256:a%b",          //  not base64
        "CHAT/1 keyserver tcp://h:1 - " FP "AAAAAAAAAAAAAAAAAAAAAAAA", //  fp too long
        "CHAT/1 keyserver tcp://h:1\t- " FP,                //  tab
        "CHAT/1 keyserver tcp://h:1 - " FP "\n",            //  newline
        "CHAT/1 keyserver tcp://h\x1b[2J:1 - " FP,          //  escape sequence
        "CHAT/1 keyserver tcp://h\x7f:1 - " FP,             //  DEL
        "CHAT/1 keyserver tcp://h\xc3\xa9:1 - " FP,         //  non-ASCII
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        beacon_info_t info;
        memset (&info, 0x55, sizeof info);
        if (s_parse (bad [i], "10.0.0.1", &info) != -1)
            fail_msg ("accepted: \"%s\"", bad [i]);
        //  Nothing half-parsed is left behind
        assert_int_equal (info.role [0], 0);
        assert_int_equal (info.endpoint [0], 0);
    }
    //  An endpoint of 128 characters (one too many)
    char text [300];
    snprintf (text, sizeof text, "CHAT/1 keyserver tcp://%0*d:1 - %s", 128 - 8, 0, FP);
    beacon_info_t info;
    assert_int_equal (s_parse (text, NULL, &info), -1);
    //  ...while 127 is accepted
    snprintf (text, sizeof text, "CHAT/1 keyserver tcp://%0*d:1 - %s", 127 - 8, 0, FP);
    assert_int_equal (s_parse (text, NULL, &info), 0);
    assert_int_equal (strlen (info.endpoint), 127);
    //  Wildcard replacement that would overflow the endpoint is refused
    char ip [120];
    memset (ip, '1', sizeof ip - 1);
    ip [sizeof ip - 1] = 0;
    assert_int_equal (s_parse ("CHAT/1 keyserver tcp://*:5557 - " FP, ip, &info), -1);
}

static void
test_nul_and_unterminated (void **state)
{
    (void) state;
    const char good [] = "CHAT/1 keyserver tcp://h:1 - " FP;
    size_t len = strlen (good);
    beacon_info_t info;
    //  With the terminator counted in, the payload holds a NUL: refused
    assert_int_equal (beacon_parse (good, len + 1, NULL, &info), -1);
    //  A NUL in the middle
    char copy [sizeof good];
    memcpy (copy, good, sizeof good);
    copy [10] = 0;
    assert_int_equal (beacon_parse (copy, len, NULL, &info), -1);
    //  Every prefix (cut short, so never terminated where the parser looks)
    //  is refused, each in an exact-size buffer
    for (size_t cut = 0; cut < len; cut++) {
        char *part = malloc (cut? cut: 1);
        assert_non_null (part);
        memcpy (part, good, cut);
        //  Cuts inside the fingerprint still leave a well-formed beacon
        //  with a shorter fingerprint; everything before it must fail
        int rc = beacon_parse (part, cut, NULL, &info);
        if (cut <= len - strlen (FP) + strlen ("SHA256:"))
            assert_int_equal (rc, -1);
        free (part);
    }
    assert_int_equal (beacon_parse (good, len, NULL, &info), 0);
}

static void
test_random_bytes (void **state)
{
    (void) state;
    uint8_t buffer [BEACON_MAX + 20];
    for (int round = 0; round < 2000; round++) {
        size_t len = (size_t) (round % (BEACON_MAX + 20));
        assert_int_equal (secret_random (buffer, sizeof buffer), 0);
        //  Sometimes start right, to get deeper into the parser
        if (round % 3 == 0 && len > 7)
            memcpy (buffer, "CHAT/1 ", 7);
        uint8_t *copy = malloc (len? len: 1);
        assert_non_null (copy);
        memcpy (copy, buffer, len);
        beacon_info_t info;
        int rc = beacon_parse (copy, len, "10.0.0.1", &info);
        assert_true (rc == 0 || rc == -1);
        if (rc == 0) {
            assert_true (strlen (info.endpoint) < sizeof info.endpoint);
            assert_true (strlen (info.fingerprint) < sizeof info.fingerprint);
        }
        free (copy);
    }
}

static void
test_announce_refuses_without_iface (void **state)
{
    (void) state;
    //  These return before any socket is made
    assert_null (beacon_announce (NULL, BEACON_PORT, "CHAT/1 x", 1000));
    assert_null (beacon_announce ("", BEACON_PORT, "CHAT/1 x", 1000));
    char big [BEACON_MAX + 2];
    memset (big, 'A', sizeof big - 1);
    big [sizeof big - 1] = 0;
    assert_null (beacon_announce ("eth-no-such", BEACON_PORT, big, 1000));
    assert_null (beacon_announce ("eth-no-such", BEACON_PORT, NULL, 1000));
    assert_null (beacon_announce ("eth-no-such", 0, "CHAT/1 x", 1000));
    assert_null (beacon_announce ("eth-no-such", BEACON_PORT, "CHAT/1 x", 0));
}

//  Announce both roles and discover them. Only inside a namespace the
//  caller made (CHAT_NETNS=1, with ZSYS_INTERFACE or "*" meaning all of
//  that namespace's interfaces).
static void
test_discover_in_netns (void **state)
{
    (void) state;
    const char *netns = getenv ("CHAT_NETNS");
    if (!netns || !streq (netns, "1")) {
        const char *strict = getenv ("CHAT_TEST_STRICT");
        if (strict && streq (strict, "1"))
            fail_msg ("CHAT_TEST_STRICT=1 but CHAT_NETNS is not set: discovery "
                      "must run inside a network namespace (tests/support/netns_run)");
        printf ("SKIP: discovery sends UDP broadcasts; runs only inside a "
                "network namespace (set CHAT_NETNS=1 there)\n");
        skip ();
    }
    const char *iface = getenv ("CHAT_NETNS_IFACE");
    if (!iface || !*iface)
        iface = "*";
    int port = BEACON_PORT + 7;
    char ks [BEACON_MAX + 1], ms [BEACON_MAX + 1];
    assert_true (beacon_format (ks, sizeof ks, "keyserver", "tcp://*:6001", NULL, FP) > 0);
    assert_true (beacon_format (ms, sizeof ms, "mainserver", "tcp://*:6002",
                                "tcp://*:6003", FP) > 0);
    zactor_t *a = beacon_announce (iface, port, ks, 100);
    zactor_t *b = beacon_announce (iface, port, ms, 100);
    assert_non_null (a);
    assert_non_null (b);
    beacon_info_t keyserver, mainserver;
    int rc = beacon_discover (port, 5000, &keyserver, &mainserver);
    zstr_sendx (a, "SILENCE", NULL);
    zstr_sendx (b, "SILENCE", NULL);
    zactor_destroy (&a);
    zactor_destroy (&b);
    assert_int_equal (rc, 0);
    assert_string_equal (keyserver.role, "keyserver");
    assert_string_equal (mainserver.role, "mainserver");
    assert_null (strstr (keyserver.endpoint, "*"));
    assert_string_equal (mainserver.fingerprint, FP);
    assert_int_equal (strncmp (mainserver.push_endpoint, "tcp://", 6), 0);
    assert_string_equal (strrchr (mainserver.push_endpoint, ':'), ":6003");

    //  Only one role announced: -1, with what was heard filled in. A raw
    //  listener meanwhile proves the discovering side sends nothing itself.
    zactor_t *spy = zactor_new (zbeacon, NULL);
    assert_non_null (spy);
    zsock_send (spy, "si", "CONFIGURE", port);
    char *hostname = zstr_recv (spy);
    assert_non_null (hostname);
    assert_true (*hostname);
    zstr_free (&hostname);
    zsock_send (spy, "sb", "SUBSCRIBE", "", 0);
    a = beacon_announce (iface, port, ks, 50);
    assert_non_null (a);
    rc = beacon_discover (port, 400, &keyserver, &mainserver);
    zactor_destroy (&a);
    assert_int_equal (rc, -1);
    assert_string_equal (keyserver.role, "keyserver");
    assert_int_equal (mainserver.role [0], 0);
    //  Everything the spy heard is the keyserver announcement
    zsock_set_rcvtimeo (spy, 200);
    int heard = 0;
    zmsg_t *msg;
    while ((msg = zmsg_recv (spy))) {
        assert_int_equal (zmsg_size (msg), 2);
        zframe_t *data = zmsg_last (msg);
        assert_int_equal (zframe_size (data), strlen (ks));
        assert_memory_equal (zframe_data (data), ks, strlen (ks));
        zmsg_destroy (&msg);
        heard++;
    }
    assert_true (heard > 0);
    zactor_destroy (&spy);
}

//  Two main servers of one cluster and a key server announce: discovery
//  with a linger keeps both main servers (each once), and the plain
//  discover still stops at the first. Inside a namespace only, as above.
static void
test_discover_all_in_netns (void **state)
{
    (void) state;
    const char *netns = getenv ("CHAT_NETNS");
    if (!netns || !streq (netns, "1")) {
        printf ("SKIP: discovery sends UDP broadcasts; runs only inside a "
                "network namespace (set CHAT_NETNS=1 there)\n");
        skip ();
    }
    const char *iface = getenv ("CHAT_NETNS_IFACE");
    if (!iface || !*iface)
        iface = "*";
    int port = BEACON_PORT + 8;
    char ks [BEACON_MAX + 1], m1 [BEACON_MAX + 1], m2 [BEACON_MAX + 1];
    assert_true (beacon_format (ks, sizeof ks, "keyserver", "tcp://*:6001", NULL, FP) > 0);
    assert_true (beacon_format (m1, sizeof m1, "mainserver", "tcp://*:6002", NULL, FP) > 0);
    assert_true (beacon_format (m2, sizeof m2, "mainserver", "tcp://*:6012", NULL, FP) > 0);
    zactor_t *a = beacon_announce (iface, port, ks, 100);
    zactor_t *b = beacon_announce (iface, port, m1, 100);
    zactor_t *c = beacon_announce (iface, port, m2, 100);
    assert_true (a && b && c);
    beacon_info_t keyserver, mains [4];
    size_t count = 0;
    int rc = beacon_discover_all (port, 5000, 1000, &keyserver, mains, 4, &count);
    //  room for one: the first heard, without waiting for the others
    size_t one = 0;
    beacon_info_t first;
    int rc_one = beacon_discover_all (port, 5000, 1000, &keyserver, &first, 1, &one);
    zactor_t *all [] = { a, b, c };
    for (int i = 0; i < 3; i++) {
        zstr_sendx (all [i], "SILENCE", NULL);
        zactor_destroy (&all [i]);
    }
    assert_int_equal (rc, 0);
    assert_string_equal (keyserver.role, "keyserver");
    assert_int_equal (count, 2);
    bool seen_1 = false, seen_2 = false;
    for (size_t i = 0; i < count; i++) {
        assert_string_equal (mains [i].role, "mainserver");
        const char *port_text = strrchr (mains [i].endpoint, ':');
        seen_1 = seen_1 || streq (port_text, ":6002");
        seen_2 = seen_2 || streq (port_text, ":6012");
    }
    assert_true (seen_1 && seen_2);
    assert_int_equal (rc_one, 0);
    assert_int_equal (one, 1);
    assert_string_equal (first.role, "mainserver");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_wildcard),
        cmocka_unit_test (test_too_long),
        cmocka_unit_test (test_format_refuses),
        cmocka_unit_test (test_malformed),
        cmocka_unit_test (test_nul_and_unterminated),
        cmocka_unit_test (test_random_bytes),
        cmocka_unit_test (test_announce_refuses_without_iface),
        cmocka_unit_test (test_discover_in_netns),
        cmocka_unit_test (test_discover_all_in_netns),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
