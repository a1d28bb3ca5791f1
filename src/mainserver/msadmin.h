/*  msadmin - the main server's admin socket: one AdminRequest, one
    AdminReply with the sessions, the users (with their identity key
    fingerprints) and the conversations (members, epoch, message count, a
    prefix of the last token); never a key, never a whole token
*/
#ifndef MSADMIN_H_INCLUDED
#define MSADMIN_H_INCLUDED

#include <stdint.h>
#include <czmq.h>
#include "msctx.h"

#define MSADMIN_MAX_CONVERSATIONS 1000
#define MSADMIN_MAX_SERVERS 256
#define MSADMIN_MAX_USERS 10000

//  Answer the request waiting on admin (a REP socket).
void
    msadmin_handle (msctx_t *ctx, zsock_t *admin, int64_t started_at);

#endif
