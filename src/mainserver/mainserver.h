/*  mainserver - the main server as a CZMQ actor: known users and their
    identity keys, conversations and their membership chains, key tickets,
    the encrypted message store, live push (protocol 2)

    Start it with zactor_new (mainserver_actor, NULL) and configure it over
    the pipe. Every command but $TERM answers with exactly one string frame:
    "OK", the bound endpoint (BIND, PUSH-BIND), a fingerprint (FINGERPRINT),
    or "ERROR <reason>".

        VERBOSE [0|1]           log one line per request (0: no more)
        DATA <dir>              data directory (created 0700 on START)
        STORE <url>             the store (msgstore.h), before START: a
                                path, sqlite:PATH or postgresql://...
                                (default: <dir>/mainserver.db)
        KEYSERVER-KEY <path>    the key server's public key file (PEM, its
                                keyserver.pub, or while its key changes
                                its keyserver-changeover.pub with two
                                keys); required before START: certificates
                                are checked with it. Once started it reads
                                the file again (SIGHUP; on an error the
                                keys in force are kept)
        ROTATION-WINDOW <days>  present this server's key rotation statement
                                for this long after it was made (default
                                KEYROTATION_WINDOW_DAYS; 0: never); before
                                START
        LIMIT <name> <value>    set one abuse limit (serverlimits.h: the
                                names of SERVERLIMITS_MAINSERVER); applied
                                at once, also while serving (push_workers
                                and push_hwm: at START only)
        IDLE-TIMEOUT <ms>       the limit idle_timeout_ms (older name)
        MAX-SESSIONS <n>        the limit sessions (older name)
        START                   load or create <dir>/server.key (and write
                                <dir>/mainserver.pub), open the store
                                (STORE, or <dir>/mainserver.db), bind the admin socket
                                ipc://<dir>/admin.sock
        PUSH-PUBLIC <endpoint>  the push endpoint every Welcome names
                                (default: the bound one, a wildcard host
                                left as it is); before the binds
        BIND <endpoint>         request socket (ROUTER); after START
        PUSH-BIND <endpoint>    push socket (XPUB, pusher.h); after START. Requests
                                are served once both are bound: every
                                Welcome names the push endpoint
        ANNOUNCE <iface>        announce both endpoints by UDP beacon on that
                                interface (after both binds); never by
                                default, never in tests
        METRICS-BIND <host:port>
                                serve the metrics over HTTP (metricshttp.h);
                                answers the address with its port resolved
        FINGERPRINT             the server key's "SHA256:..." text
        $TERM                   finish the batch in hand and stop

    Requests arriving together are handled in one transaction and
    committed before any of their replies or pushes leave (group commit):
    an acknowledged message survives kill -9.
*/
#ifndef MAINSERVER_H_INCLUDED
#define MAINSERVER_H_INCLUDED

#include <czmq.h>

#define MAINSERVER_BATCH            256        //  requests per transaction, at most
#define MAINSERVER_BEAT_MS          3000       //  a cluster member's heartbeat (PostgreSQL)
#define MAINSERVER_PAGE_DEFAULT     100
#define MAINSERVER_PAGE_MAX         1000
#define MAINSERVER_KEY_BITS         2048

#define MAINSERVER_DB               "mainserver.db"
#define MAINSERVER_KEY_FILE         "server.key"
#define MAINSERVER_PUBLIC_FILE      "mainserver.pub"   //  for the key server's operator
#define MAINSERVER_LOCK_FILE        "mainserver.lock"

void
    mainserver_actor (zsock_t *pipe, void *args);

//  Make the data directory (0700), the server key when missing (RSA 2048,
//  0600) and its public key file (PEM, 0644, rewritten from the key).
//  0, or -1 with error filled.
int
    mainserver_prepare (const char *data_dir, char *error, size_t error_size);

#endif
