/*  keyserver - chat-keyserver as a CZMQ actor: registration, SCRAM login,
    signed certificates, password change, the key directory and the
    wrapped epoch keys (protocol 2)

    Start it with zactor_new (keyserver_actor, NULL) and drive it over its
    pipe with string commands, as zeromq/malamute's mlm_server is driven:

        VERBOSE [0|1]           log one line per request too (or no more)
        DATA <dir>              the data directory (required before START)
        STORE <url>             the store (keystore.h): a path, sqlite:PATH
                                or postgresql://...; before START (default
                                <data>/keyserver.db). Key servers sharing
                                one PostgreSQL database must share
                                server.key and keyserver.secret too
        MAINSERVER-KEY <path>   the main server's public key file (PEM, its
                                mainserver.pub, or while its key changes
                                its mainserver-changeover.pub with two
                                keys); required before START: key tickets
                                are checked with it. Once started it reads
                                the file again (SIGHUP) and replies "OK" or
                                "ERROR" (the keys in force kept)
        ROTATION-WINDOW <days>  present this server's key rotation statement
                                for this long after it was made (default
                                KEYROTATION_WINDOW_DAYS; 0: never); before
                                START
        ITERATIONS <n>          PBKDF2 count for new registrations (default
                                KEYSERVER_ITERATIONS); may be sent later too
        ANNOUNCE <iface>        announce on this interface once started
                                (never by default)
        LIMIT <name> <value>    set one abuse limit (serverlimits.h: the
                                names of SERVERLIMITS_KEYSERVER); applied at
                                once, also while serving; replies "OK" or
                                "ERROR <reason>"
        START                   prepare the data directory (as
                                keyserver_prepare), load the keys, open the
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
#define KEYSERVER_DB          "keyserver.db"
#define KEYSERVER_KEY_FILE    "server.key"
#define KEYSERVER_PUBLIC_FILE "keyserver.pub"     //  for the main server's operator
#define KEYSERVER_SECRET      "keyserver.secret"  //  this server's own, never copied

void
    keyserver_actor (zsock_t *pipe, void *args);

//  Make the data directory (mode 0700) and create what is missing in it:
//  the server key (RSA 2048, mode 0600), its public key file (PEM, 0644,
//  rewritten from the key) and the server's own secret (mode 0600).
//  Nothing existing is replaced. Returns 0, or -1 with the reason logged.
int
    keyserver_prepare (const char *data_dir);

#endif
