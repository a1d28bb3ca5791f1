/*  beacon - what servers announce over UDP for discovery, and how it is read

    Payload (ASCII, at most 255 bytes, the zbeacon limit):
        CHAT/1 <role> <request endpoint> <push endpoint or -> <fingerprint>
    role is "keyserver" or "mainserver". An endpoint bound to a wildcard
    host ("*" or "0.0.0.0", e.g. tcp://0.0.0.0:5556) is announced as is; the listener
    replaces the host with the address the beacon came from. A beacon is a
    hint, never trust: the client's key pin decides.
*/
#ifndef BEACON_H_INCLUDED
#define BEACON_H_INCLUDED

#include <czmq.h>

#define BEACON_PORT 5670
#define BEACON_MAX 255

typedef struct {
    char role [16];
    char endpoint [128];
    char push_endpoint [128];    //  "" when none ("-")
    char fingerprint [64];
} beacon_info_t;

//  Format a payload; returns its length, or -1 if it would not fit.
int
    beacon_format (char *out, size_t out_size, const char *role,
                   const char *endpoint, const char *push_endpoint,
                   const char *fingerprint);

//  Parse a received payload; sender_ip (may be NULL) replaces a wildcard
//  host. Returns 0, or -1 for anything not exactly of the format above.
int
    beacon_parse (const void *data, size_t size, const char *sender_ip,
                  beacon_info_t *info);

//  Start announcing on the named interface (sets ZSYS_INTERFACE for the
//  beacon: never call this without an interface the operator named).
//  interval_ms between announcements. NULL on failure.
zactor_t *
    beacon_announce (const char *iface, int port, const char *payload,
                     int interval_ms);

//  Listen for CHAT/1 beacons until both a keyserver and a mainserver were
//  heard or timeout_ms passed. Returns 0 when both were found, -1 otherwise
//  (whatever was found is filled in; role[0] == 0 marks a missing one).
int
    beacon_discover (int port, int timeout_ms,
                     beacon_info_t *keyserver, beacon_info_t *mainserver);

//  The same, keeping every main server heard (the servers of a cluster,
//  DESIGN.md section 11), up to max distinct request endpoints in
//  mainservers, their number in *count: once both roles were heard it
//  listens linger_ms longer (a little more than the servers' beacon
//  interval), so that every main server announcing has been heard once.
//  0 when a key server and at least one main server were found, else -1.
#define BEACON_LINGER_MS 1500
int
    beacon_discover_all (int port, int timeout_ms, int linger_ms,
                         beacon_info_t *keyserver, beacon_info_t *mainservers,
                         size_t max, size_t *count);

#endif
