/*  keyserver - chat-keyserver as a CZMQ actor: registration, SCRAM login,
    certificates, conversation keys

    Start it with zactor_new (keyserver_actor, NULL) and drive it over its
    pipe with string commands, as zeromq/malamute's mlm_server is driven:

        VERBOSE [0|1]           log one line per request too (or no more)
        DATA <dir>              the data directory (required before START)
        ITERATIONS <n>          PBKDF2 count for new registrations (default
                                KEYSERVER_ITERATIONS); may be sent later too
        ANNOUNCE <iface>        announce on this interface once started
                                (never by default)
        LIMIT <name> <value>    set one abuse limit (serverlimits.h: the
                                names of SERVERLIMITS_KEYSERVER); applied at
                                once, also while serving; replies "OK" or
                                "ERROR <reason>"
        START                   prepare the data directory (as
                                keyserver_prepare without init), open the
                                store, bind the admin socket and start
                                serving; replies "OK" or "ERROR"
        BIND <endpoint>         bind the request socket (ROUTER); replies the
                                bound endpoint with its port resolved (for
                                "tcp://127.0.0.1:*"), or "ERROR"
        METRICS-BIND <host:port>
                                serve the metrics over HTTP (metricshttp.h);
                                replies the address with its port resolved,
                                or "ERROR"
        $TERM                   stop (zactor_destroy sends it)

    BIND may come before or after START; requests that arrive before START
    wait in the socket. The admin socket is ipc://<data>/admin.sock (mode
    0600), a REP answering Chat__AdminRequest with Chat__AdminReply.
*/
#ifndef KEYSERVER_H_INCLUDED
#define KEYSERVER_H_INCLUDED

#include <stdbool.h>
#include <czmq.h>

#define KEYSERVER_ITERATIONS 600000      //  OWASP's figure for PBKDF2-SHA256
#define KEYSERVER_KEY_BITS   2048
#define KEYSERVER_DB         "keyserver.db"
#define KEYSERVER_KEY_FILE   "server.key"
#define KEYSERVER_SECRET     "shared.secret"
#define KEYSERVER_RESUME     "resume.secret"

void
    keyserver_actor (zsock_t *pipe, void *args);

//  Make the data directory (mode 0700) and create what is missing in it:
//  the server key (RSA 2048, mode 0600), the shared secret and the resume
//  secret (mode 0600). With init (--init), an existing shared secret is an
//  error: it is never replaced, since the main server holds a copy. Returns
//  0, or -1 with the reason logged.
int
    keyserver_prepare (const char *data_dir, bool init);

#endif
