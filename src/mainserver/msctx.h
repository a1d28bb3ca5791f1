/*  msctx - what the main server's request handlers share: the store, the
    keys, the sessions, who is online, the limits and the users' quotas

    Owned by the actor (mainserver.c), borrowed by every handler; one
    thread only.
*/
#ifndef MSCTX_H_INCLUDED
#define MSCTX_H_INCLUDED

#include <stdbool.h>
#include "chanserver.h"
#include "msbell.h"
#include "metrics.h"
#include "msgstore.h"
#include "msonline.h"
#include "msquota.h"
#include "pusher.h"
#include "peerkeys.h"
#include "rsakey.h"
#include "serverlimits.h"

//  Sends held for the batch's pipeline (msmessage.h)
typedef struct _msmessage_batch_t msmessage_batch_t;

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
    //  PostgreSQL (a cluster) only, else NULL:
    msmessage_batch_t *sends;           //  a batch's sends, stored in one pipeline
    msbell_t *bell;                     //  what a batch changed, rung after COMMIT
    char *cluster_id;                   //  this server's row in table servers,
                                        //  once registered
} msctx_t;

#endif
