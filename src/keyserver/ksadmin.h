/*  ksadmin - the key server's admin socket: one AdminRequest, one
    AdminReply with the sessions, the users (identity key fingerprints and
    how many wrapped keys each has, never a key) and the key counts
*/
#ifndef KSADMIN_H_INCLUDED
#define KSADMIN_H_INCLUDED

#include <stdint.h>
#include <czmq.h>
#include "chanserver.h"
#include "ksctx.h"

#define KSADMIN_MAX_USERS 1000          //  users listed, at most

//  Answer the request waiting on admin (a REP socket).
void
    ksadmin_handle (ksctx_t *ctx, chanserver_t *chanserver, zsock_t *admin,
                    int64_t started_at);

#endif
