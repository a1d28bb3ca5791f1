/*  beacon - what servers announce over UDP for discovery, and how it is read

    Parsing is strict: a beacon comes from anyone on the LAN, so anything that
    is not exactly "CHAT/1 <role> <endpoint> <push|-> <fingerprint>" is
    dropped. What passes is still only a hint; the key pin decides.
*/
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "beacon.h"

#define BEACON_PREFIX "CHAT/1"
#define BEACON_FIELDS 5
#define TCP_SCHEME "tcp://"
#define FP_PREFIX "SHA256:"

static bool
s_role_valid (const char *role)
{
    return role && (streq (role, "keyserver") || streq (role, "mainserver"));
}

//  Printable ASCII without spaces: what every field is made of.
static bool
s_field_chars_valid (const char *text)
{
    for (const unsigned char *c = (const unsigned char *) text; *c; c++)
        if (*c <= ' ' || *c >= 0x7f)
            return false;
    return true;
}

//  "tcp://host:port" with a non-empty host and a port 1..65535. On success
//  *port points into endpoint at the digits and host_len is set.
static bool
s_endpoint_split (const char *endpoint, size_t *host_len, const char **port)
{
    if (!endpoint || strlen (endpoint) >= sizeof ((beacon_info_t *) 0)->endpoint
    ||  strncmp (endpoint, TCP_SCHEME, strlen (TCP_SCHEME)) != 0
    ||  !s_field_chars_valid (endpoint))
        return false;
    const char *host = endpoint + strlen (TCP_SCHEME);
    const char *colon = strrchr (host, ':');
    if (!colon || colon == host)
        return false;
    const char *digits = colon + 1;
    size_t ndigits = strlen (digits);
    if (ndigits == 0 || ndigits > 5 || strspn (digits, "0123456789") != ndigits)
        return false;
    long value = strtol (digits, NULL, 10);
    if (value < 1 || value > 65535)
        return false;
    *host_len = (size_t) (colon - host);
    *port = digits;
    return true;
}

static bool
s_endpoint_valid (const char *endpoint)
{
    size_t host_len;
    const char *port;
    return s_endpoint_split (endpoint, &host_len, &port);
}

static bool
s_fingerprint_valid (const char *fingerprint)
{
    size_t prefix = strlen (FP_PREFIX);
    if (!fingerprint || strlen (fingerprint) >= sizeof ((beacon_info_t *) 0)->fingerprint
    ||  strncmp (fingerprint, FP_PREFIX, prefix) != 0)
        return false;
    const char *body = fingerprint + prefix;
    size_t len = strlen (body);
    return len > 0
        && strspn (body, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789+/=") == len;
}

int
beacon_format (char *out, size_t out_size, const char *role,
               const char *endpoint, const char *push_endpoint,
               const char *fingerprint)
{
    assert (out);
    if (push_endpoint && !*push_endpoint)
        push_endpoint = NULL;
    if (!s_role_valid (role) || !s_endpoint_valid (endpoint)
    ||  (push_endpoint && !s_endpoint_valid (push_endpoint))
    ||  !s_fingerprint_valid (fingerprint))
        return -1;
    int len = snprintf (out, out_size, "%s %s %s %s %s", BEACON_PREFIX, role,
                        endpoint, push_endpoint? push_endpoint: "-", fingerprint);
    if (len < 0 || (size_t) len >= out_size || len > BEACON_MAX) {
        if (out_size)
            *out = 0;
        return -1;
    }
    return len;
}

//  Copy an endpoint into dest, putting sender_ip in place of a wildcard host.
static int
s_endpoint_copy (char *dest, size_t dest_size, const char *endpoint,
                 const char *sender_ip)
{
    size_t host_len;
    const char *port;
    if (!s_endpoint_split (endpoint, &host_len, &port))
        return -1;
    const char *host = endpoint + strlen (TCP_SCHEME);
    bool wildcard = (host_len == 1 && *host == '*')
                 || (host_len == 7 && strncmp (host, "0.0.0.0", 7) == 0);
    int len;
    if (wildcard && sender_ip) {
        if (!*sender_ip || !s_field_chars_valid (sender_ip))
            return -1;
        //  An IPv6 sender needs brackets in a ZMQ endpoint
        bool ipv6 = strchr (sender_ip, ':') != NULL;
        len = snprintf (dest, dest_size, "%s%s%s%s:%s", TCP_SCHEME,
                        ipv6? "[": "", sender_ip, ipv6? "]": "", port);
    }
    else
        len = snprintf (dest, dest_size, "%s", endpoint);
    return len < 0 || (size_t) len >= dest_size? -1: 0;
}

int
beacon_parse (const void *data, size_t size, const char *sender_ip,
              beacon_info_t *info)
{
    assert (info);
    memset (info, 0, sizeof *info);
    if (!data || size == 0 || size > BEACON_MAX)
        return -1;

    //  Work on a terminated copy: the payload itself is not terminated,
    //  and must hold no NUL or control byte of its own
    char text [BEACON_MAX + 1];
    memcpy (text, data, size);
    text [size] = 0;
    for (size_t i = 0; i < size; i++)
        if ((unsigned char) text [i] < ' ' || (unsigned char) text [i] >= 0x7f)
            return -1;

    //  Exactly five fields separated by single spaces
    char *fields [BEACON_FIELDS];
    int count = 0;
    char *cursor = text;
    while (true) {
        if (count == BEACON_FIELDS)
            return -1;
        fields [count++] = cursor;
        char *space = strchr (cursor, ' ');
        if (!space)
            break;
        *space = 0;
        cursor = space + 1;
    }
    if (count != BEACON_FIELDS)
        return -1;
    for (int i = 0; i < count; i++)
        if (!*fields [i])
            return -1;

    if (!streq (fields [0], BEACON_PREFIX)
    ||  !s_role_valid (fields [1])
    ||  !s_fingerprint_valid (fields [4]))
        goto refuse;
    if (s_endpoint_copy (info->endpoint, sizeof info->endpoint, fields [2], sender_ip))
        goto refuse;
    if (!streq (fields [3], "-")
    &&  s_endpoint_copy (info->push_endpoint, sizeof info->push_endpoint,
                         fields [3], sender_ip))
        goto refuse;
    snprintf (info->role, sizeof info->role, "%s", fields [1]);
    snprintf (info->fingerprint, sizeof info->fingerprint, "%s", fields [4]);
    return 0;

refuse:
    memset (info, 0, sizeof *info);
    return -1;
}

zactor_t *
beacon_announce (const char *iface, int port, const char *payload,
                 int interval_ms)
{
    //  Broadcasting on an interface nobody named would put traffic on a
    //  real network: refuse rather than let CZMQ pick the first one
    if (!iface || !*iface || !payload || port < 1 || port > 65535 || interval_ms <= 0)
        return NULL;
    size_t size = strlen (payload);
    if (size == 0 || size > BEACON_MAX)
        return NULL;

    //  CZMQ reads the interface when it (re)opens its UDP socket, which it
    //  also does after a failed send, so the setting stays in place
    zsys_set_interface (iface);
    zactor_t *beacon = zactor_new (zbeacon, NULL);
    if (!beacon)
        return NULL;
    zsock_send (beacon, "si", "CONFIGURE", port);
    char *hostname = zstr_recv (beacon);
    if (!hostname || !*hostname) {
        zstr_free (&hostname);
        zactor_destroy (&beacon);
        return NULL;
    }
    zstr_free (&hostname);
    zsock_send (beacon, "sbi", "PUBLISH", payload, size, interval_ms);
    return beacon;
}

int
beacon_discover (int port, int timeout_ms,
                 beacon_info_t *keyserver, beacon_info_t *mainserver)
{
    assert (mainserver);
    size_t count = 0;
    return beacon_discover_all (port, timeout_ms, 0, keyserver, mainserver, 1, &count);
}

//  Keep a main server's beacon unless its endpoint is already kept
static void
s_keep_main (const beacon_info_t *info, beacon_info_t *mainservers, size_t max,
             size_t *count)
{
    for (size_t i = 0; i < *count; i++)
        if (streq (mainservers [i].endpoint, info->endpoint))
            return;
    if (*count < max)
        mainservers [(*count)++] = *info;
}

int
beacon_discover_all (int port, int timeout_ms, int linger_ms,
                     beacon_info_t *keyserver, beacon_info_t *mainservers,
                     size_t max, size_t *count)
{
    assert (keyserver);
    assert (mainservers && max > 0 && count);
    memset (keyserver, 0, sizeof *keyserver);
    memset (mainservers, 0, max * sizeof *mainservers);
    *count = 0;
    if (port < 1 || port > 65535 || timeout_ms < 0 || linger_ms < 0)
        return -1;

    //  A listener only: nothing is ever published on it
    zactor_t *beacon = zactor_new (zbeacon, NULL);
    if (!beacon)
        return -1;
    zsock_send (beacon, "si", "CONFIGURE", port);
    char *hostname = zstr_recv (beacon);
    if (!hostname || !*hostname) {
        zstr_free (&hostname);
        zactor_destroy (&beacon);
        return -1;
    }
    zstr_free (&hostname);
    zsock_send (beacon, "sb", "SUBSCRIBE", BEACON_PREFIX, strlen (BEACON_PREFIX));

    zpoller_t *poller = zpoller_new (beacon, NULL);
    int64_t deadline = zclock_mono () + timeout_ms;
    bool lingering = false;
    while (poller) {
        if (keyserver->role [0] && *count > 0 && !lingering) {
            //  both found: listen a little longer for the other main servers
            if (linger_ms == 0 || *count >= max)
                break;
            lingering = true;
            if (zclock_mono () + linger_ms < deadline)
                deadline = zclock_mono () + linger_ms;
        }
        int64_t remaining = deadline - zclock_mono ();
        if (remaining <= 0)
            break;
        void *which = zpoller_wait (poller, (int) remaining);
        if (!which)
            break;          //  timed out or interrupted
        zmsg_t *msg = zmsg_recv (beacon);
        if (!msg)
            break;
        char *sender = zmsg_size (msg) == 2? zmsg_popstr (msg): NULL;
        zframe_t *frame = sender? zmsg_pop (msg): NULL;
        beacon_info_t info;
        if (frame && beacon_parse (zframe_data (frame), zframe_size (frame),
                                   sender, &info) == 0) {
            //  The first key server is kept; a later (perhaps spoofed)
            //  one does not replace it. Every main server is kept: a
            //  spoofed one is refused by the pin (one cluster, one key)
            if (streq (info.role, "keyserver")) {
                if (!keyserver->role [0])
                    *keyserver = info;
            }
            else
                s_keep_main (&info, mainservers, max, count);
        }
        zframe_destroy (&frame);
        zstr_free (&sender);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zstr_sendx (beacon, "UNSUBSCRIBE", NULL);
    zstr_sendx (beacon, "SILENCE", NULL);
    zactor_destroy (&beacon);
    return keyserver->role [0] && *count > 0? 0: -1;
}
