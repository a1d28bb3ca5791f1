/*  ksregister - registration at the key server: the salt and count for a
    new user (register_params), and the user itself (register): SCRAM
    verifiers, identity public key and sealed identity, answered with a
    REGISTERED certificate signed by this server
*/
#ifndef KSREGISTER_H_INCLUDED
#define KSREGISTER_H_INCLUDED

#include "chanserver.h"
#include "ksctx.h"
#include "ksreply.h"
#include "wire.h"

void
    ksregister_params (ksctx_t *ctx, const Chat__RegisterParamsRequest *req, ksreply_t *r);
void
    ksregister_user (ksctx_t *ctx, chansession_t *session, const Chat__RegisterRequest *req,
                     ksreply_t *r);

#endif
