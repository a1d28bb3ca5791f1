/*  msctx - what the main server's request handlers share: the store, the
    keys, the sessions, who is online, the limits and the users' quotas

    Owned by the actor (mainserver.c), borrowed by every handler; one
    thread only.
*/
#ifndef MSCTX_H_INCLUDED
#define MSCTX_H_INCLUDED

#include <stdbool.h>
#include "chanserver.h"
#include "metrics.h"
#include "msgstore.h"
#include "msonline.h"
#include "msquota.h"
#include "pusher.h"
#include "peerkeys.h"
#include "rsakey.h"
#include "serverlimits.h"

typedef struct {
    msgstore_t *store;
    rsakey_t *server_key;               //  signs handshakes and key tickets
    peerkeys_t *keyserver_keys;         //  public: check certificates (SIGHUP
                                        //  reads them again)
    chanserver_t *chanserver;
    msonline_t *online;
    pusher_t *pusher;                   //  pushes: the XPUB and the threads that seal
    serverlimits_t limits;              //  in force (LIMIT); applied by the actor
    msquota_t *quotas;                  //  per user, on these limits
    bool verbose;
    metrics_t *metrics;                 //  counters the HTTP thread and admin read
} msctx_t;

#endif
