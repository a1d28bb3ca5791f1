/*  msaccount - the main server's account requests: register a user and
    log a session in (both on a certificate the key server signed), log
    out, list the known users

    A certificate is checked with the key server's public key and must be
    bound to the session's own client key. The identity key a REGISTERED
    certificate names is recorded; a LOGGED_IN certificate naming another
    identity key is refused, and so is a second registration with another
    one (an identity is never replaced here).
*/
#ifndef MSACCOUNT_H_INCLUDED
#define MSACCOUNT_H_INCLUDED

#include "msreq.h"

int
    msaccount_register (msreq_t *req, Chat__RegisterUserRequest *body);
int
    msaccount_login (msreq_t *req, Chat__LoginRequest *body);
int
    msaccount_logout (msreq_t *req);
int
    msaccount_users (msreq_t *req);

#endif
