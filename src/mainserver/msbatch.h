/*  msbatch - group commit for the main server: drain what waits on the
    ROUTER (up to MAINSERVER_BATCH frames) into one transaction, each
    request under its own savepoint, commit once, and only then send the
    replies and pushes (msoutbox). A failed commit turns every reply of the
    batch into ERR_INTERNAL and drops its pushes: a "sent" reply means the
    message is on disk.
*/
#ifndef MSBATCH_H_INCLUDED
#define MSBATCH_H_INCLUDED

#include <czmq.h>
#include "msctx.h"
#include "msoutbox.h"

void
    msbatch_run (msctx_t *ctx, msoutbox_t *outbox, zsock_t *router);

#endif
