/*  ksbatch - group commit: drain what waits on the ROUTER into one
    transaction, and let the replies leave only after its COMMIT

    When the ROUTER is readable the server takes what is already waiting
    (up to KSBATCH_MAX frames; handshakes and refusals count too), handles
    each request (each write under a savepoint of its own) and commits
    once: one fsync for the lot (DESIGN.md section 6). Replies wait in an
    outbox, in request order; nothing the server says "done" to is still in
    memory only. If the commit fails, every reply of the batch becomes
    ERR_INTERNAL (a read may have seen a write of the batch), and the logins
    made in the batch are undone (they may rest on a user registered in it).
*/
#ifndef KSBATCH_H_INCLUDED
#define KSBATCH_H_INCLUDED

#include <czmq.h>
#include "chanserver.h"
#include "ksctx.h"

#define KSBATCH_MAX 256                 //  frames drained into one commit

typedef struct _ksbatch_t ksbatch_t;

ksbatch_t *
    ksbatch_new (void);
void
    ksbatch_destroy (ksbatch_t **self_p);

//  Drain router (wrapped by chanserver) once, as above.
void
    ksbatch_run (ksbatch_t *self, ksctx_t *ctx, chanserver_t *chanserver, zsock_t *router);

#endif
