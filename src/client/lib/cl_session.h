/*  cl_session - who the client is on both servers: registration and login
    with the password (SCRAM, its PBKDF2 on a worker thread), the user's
    identity key, the certificate and resume token a login brings, logging
    in again without the password after a reconnect, the password change,
    logout, and the end of a session

    The session owns every login secret, and holds each only as long as it
    is needed: the password until the worker has derived from it,
    SaltedPassword until it has sealed or opened the identity (wiped at
    once), the certificate, resume token and identity key until the
    session ends (wiped then).

    Registration makes the identity key (IDENTITY_KEY_BITS, on the worker,
    with the PBKDF2), seals it under SaltedPassword and sends the verifiers
    derived from the same SaltedPassword; a login opens the sealed identity
    the key server returns once its SCRAM proof has been checked, and checks
    that its key is the one the key server announces (proto/README.md
    sections 5 and 10). A resume keeps the identity in memory.

    Sits on the two servers' request queues (cl_requests), whose events it
    passes on to its listener before acting on them; publishes REGISTERED,
    REGISTER_FAILED, LOGGED_IN, LOGIN_FAILED, PASSWORD_CHANGED and
    LOGGED_OUT, and tells the layer above CL_EV_SESSION_UP (logged in with
    the password), CL_EV_SESSION_RENEWED (logged in again after a
    reconnect) and CL_EV_SESSION_DOWN (ended: by logout, or because the
    servers would not renew it; the commands of requests that needed it
    have failed with CHAT_ERR_NOT_LOGGED_IN by then).
*/
#ifndef CL_SESSION_H_INCLUDED
#define CL_SESSION_H_INCLUDED

#include "chatclient.h"
#include "cl_event.h"
#include "cl_requests.h"
#include "rsakey.h"

#define CL_SESSION_CERT_FRESH_MS (240 * 1000)  //  certificates live 300 s

typedef struct _cl_session_t cl_session_t;

//  A session over both servers' requests (borrowed; the session sets
//  itself as their listener). NULL when the worker thread cannot start.
cl_session_t *
    cl_session_new (cl_requests_t *key, cl_requests_t *main);
//  Secrets wiped; no event.
void
    cl_session_destroy (cl_session_t **self_p);

void
    cl_session_set_listener (cl_session_t *self, cl_listener_fn *fn, void *arg);

//  The worker's socket, to poll.
size_t
    cl_session_sockets (cl_session_t *self, zsock_t **socks, size_t max);
//  A polled socket is readable: true when it was the session's (handled).
bool
    cl_session_handle (cl_session_t *self, void *which);
//  Log in again where a reconnect needs it. Call on every loop turn.
void
    cl_session_tick (cl_session_t *self);

//  Register username: completes command cmd with REGISTERED or
//  REGISTER_FAILED. The caller has checked the arguments.
void
    cl_session_register (cl_session_t *self, uint32_t cmd, const char *username,
                         const char *password);
//  Log in on both servers: completes cmd with LOGGED_IN or LOGIN_FAILED.
//  The caller has checked that no session or login is under way.
void
    cl_session_login (cl_session_t *self, uint32_t cmd, const char *username,
                      const char *password);
//  End the session here and tell both servers (no answer awaited);
//  completes cmd with LOGGED_OUT. The caller has checked it is logged in.
void
    cl_session_logout (cl_session_t *self, uint32_t cmd);
//  Change the password: a new salt, the current password proven, the same
//  identity sealed under the new one, all replaced at once by the key
//  server. Completes cmd with PASSWORD_CHANGED or ERROR (CHAT_ERR_AUTH_FAILED:
//  the current password is wrong, nothing changed). The caller has checked
//  that it is logged in, no change is under way, and the new password.
void
    cl_session_change_password (cl_session_t *self, uint32_t cmd, const char *current,
                                const char *password);
//  A password change is under way.
bool
    cl_session_password_busy (cl_session_t *self);

bool
    cl_session_logged_in (cl_session_t *self);
//  A login with the password is under way.
bool
    cl_session_login_busy (cl_session_t *self);
//  The logged-in user's canonical name, or NULL.
const char *
    cl_session_username (cl_session_t *self);
//  The logged-in user's identity key pair (borrowed, until the session
//  ends), or NULL.
rsakey_t *
    cl_session_identity (cl_session_t *self);

#endif
