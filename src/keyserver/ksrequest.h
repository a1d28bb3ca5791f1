/*  ksrequest - one key server request: decoded, handed to the handler of
    its kind, its writes under a savepoint of their own, its reply packed

    Requests that write (register, password_finish, put_keys) run under a
    savepoint inside the batch's transaction, so that one that fails takes
    back its own writes and nothing else.
*/
#ifndef KSREQUEST_H_INCLUDED
#define KSREQUEST_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "chanserver.h"
#include "ksctx.h"

//  What handling one request came to, for the outbox
typedef struct {
    uint64_t request_id;
    uint8_t *payload;                   //  packed KeyReply (malloc'd)
    size_t len;
    bool login;                         //  it changed the session's login
} ksanswer_t;

//  Handle payload (a KeyRequest) from session. The answer is always
//  filled (a packed error at worst), unless memory ran out: then
//  answer->payload is NULL.
void
    ksrequest_handle (ksctx_t *ctx, chansession_t *session,
                      const uint8_t *payload, size_t len, ksanswer_t *answer);

#endif
