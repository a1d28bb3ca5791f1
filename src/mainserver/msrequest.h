/*  msrequest - one main server request: decoded, checked for a login where
    one is needed, handed to the handler of its area under a savepoint of
    its own, and its reply (then its pushes) queued in the outbox
*/
#ifndef MSREQUEST_H_INCLUDED
#define MSREQUEST_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "chanserver.h"
#include "msctx.h"
#include "msoutbox.h"

void
    msrequest_handle (msctx_t *ctx, msoutbox_t *outbox, chansession_t *session,
                      const uint8_t *payload, size_t len);

#endif
