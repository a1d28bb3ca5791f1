/*  kskeys - the key directory and the wrapped epoch keys

    get_identities hands out identity public keys as registered (clients
    check them against their pins). put_keys stores the copies of one
    epoch's key that its maker wrapped for each member, with the main
    server's key ticket for that epoch: signed by the main server (checked
    with its public key), naming this session's user and client key, and
    naming exactly the members the copies are for. The first set for an
    epoch is final. get_keys gives the caller its own copies only.
*/
#ifndef KSKEYS_H_INCLUDED
#define KSKEYS_H_INCLUDED

#include "chanserver.h"
#include "ksctx.h"
#include "ksreply.h"
#include "wire.h"

#define KSKEYS_MAX_NAMES  256           //  names in one get_identities
#define KSKEYS_PAGE       1000          //  epoch keys in one get_keys reply

void
    kskeys_get_identities (ksctx_t *ctx, chansession_t *session,
                           const Chat__GetIdentitiesRequest *req, ksreply_t *r);
void
    kskeys_put (ksctx_t *ctx, chansession_t *session, const Chat__PutKeysRequest *req,
                ksreply_t *r);
void
    kskeys_get (ksctx_t *ctx, chansession_t *session, const Chat__GetKeysRequest *req,
                ksreply_t *r);

#endif
