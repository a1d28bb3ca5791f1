/*  msreq - one request in the hands of its handler

    A handler fills reply (allocating in arena) and returns CHAT_OK, or
    returns an error code with text pointing at a message (static or in
    arena), and retry_ms when trying again later may work (a quota);
    CHAT_ERR_INTERNAL takes back what the request wrote. Pushes go
    to pushes (msoutbox_push) and leave only if the request succeeded.
*/
#ifndef MSREQ_H_INCLUDED
#define MSREQ_H_INCLUDED

#include <czmq.h>
#include "chanserver.h"
#include "msarena.h"
#include "msctx.h"
#include "wire.h"

typedef struct {
    msctx_t *ctx;
    chansession_t *session;
    msarena_t *arena;
    Chat__MainReply *reply;
    const char *text;
    uint32_t retry_ms;          //  with an error: when trying again may work
    zlistx_t *pushes;
    const char *sender;         //  whose request it is (session's username,
                                //  which a held send outlives)
} msreq_t;

//  A handler's answer for a request it holds to answer later (a send
//  stored with its batch's pipeline): no reply now
#define MSREQ_DEFERRED 1000

#endif
