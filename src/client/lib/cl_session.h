/*  cl_session - the client's logged-in session: the certificate and resume
    token, logging in again without the password after a reconnect, and the
    end of a session

    Internal to libchatclient (see cl_client.h).
*/
#ifndef CL_SESSION_H_INCLUDED
#define CL_SESSION_H_INCLUDED

#include "chatclient.h"
#include "cl_request.h"
#include "wire.h"

#define CERT_FRESH_MS (240 * 1000)      //  certificates live 300 s

//  Forget the session: secrets wiped, conversations gone, commands that
//  need it failed with NOT_LOGGED_IN.
void
    cl_session_clear (chatclient_t *self);
//  The session ended by itself: clear it and say so (LOGGED_OUT, cmd 0).
void
    cl_session_lost (chatclient_t *self, const char *why);
//  Log in again after a reconnect, without the password, where needed.
void
    cl_session_reauth (chatclient_t *self);
//  Log in on the main server with the certificate we hold; purpose 1: a
//  silent re-login.
void
    cl_session_main_login (chatclient_t *self, uint32_t cmd, flow_t *flow, int purpose);

//  Ask the key server to end our session there (no answer awaited).
void
    cl_session_key_logout (chatclient_t *self);

//  The key server logged us in (LoginFinish or Resume).
void
    cl_session_on_logged_in (chatclient_t *self, request_t *req, Chat__LoggedIn *logged);
//  The main server logged us in.
void
    cl_session_on_main_logged_in (chatclient_t *self, request_t *req,
                                  Chat__LoginReply *reply);

#endif
