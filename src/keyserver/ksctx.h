/*  ksctx - what the key server's request handlers share: the store, the
    keys, the sessions, the login back-off, the limits and the settings

    Owned by the actor (keyserver.c), borrowed by every handler; one thread
    only. Nothing here is ever logged or sent: keys appear in logs and on
    the admin socket as fingerprints at most.
*/
#ifndef KSCTX_H_INCLUDED
#define KSCTX_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include "chanserver.h"
#include "fernet.h"
#include "keystore.h"
#include "metrics.h"
#include "ratelimit.h"
#include "peerkeys.h"
#include "rsakey.h"
#include "serverlimits.h"

typedef struct {
    keystore_t *store;
    rsakey_t *server_key;               //  signs certificates and handshakes
    peerkeys_t *mainserver_keys;        //  public: check key tickets (SIGHUP
                                        //  reads them again)
    ratelimit_t *ratelimit;             //  login back-off per (address, user), per address
    chanserver_t *chanserver;           //  the sessions: per-user cap, login timeout
    serverlimits_t limits;              //  in force (LIMIT); applied by the actor
    uint8_t fake_salt_key [32];         //  from the server's own secret
    uint8_t resume_key [FERNET_KEY_SIZE];
    uint32_t iterations;                //  PBKDF2 count for new registrations
    bool verbose;
    metrics_t *metrics;                 //  counters the HTTP thread and admin read
} ksctx_t;

#endif
