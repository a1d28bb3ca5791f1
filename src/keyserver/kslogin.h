/*  kslogin - the key server's SCRAM exchanges and what they lead to: log
    in (login_start, login_finish), resume a login on a new session, log
    out, and change the password (password_start, password_finish)

    A login answers with a certificate signed by this server (bound to the
    session's client key, naming the user's identity key), a resume token,
    and the user's sealed identity and identity public key. A password
    change proves the current password with a fresh SCRAM exchange on the
    logged-in session; only when the proof holds are the new salt, count,
    verifiers and sealed identity stored, in one statement. Wrong passwords
    count against the back-off (ratelimit.h) either way.
*/
#ifndef KSLOGIN_H_INCLUDED
#define KSLOGIN_H_INCLUDED

#include "chanserver.h"
#include "ksctx.h"
#include "ksreply.h"
#include "wire.h"

void
    kslogin_start (ksctx_t *ctx, chansession_t *session, const Chat__LoginStart *req,
                   ksreply_t *r);
void
    kslogin_finish (ksctx_t *ctx, chansession_t *session, const Chat__LoginFinish *req,
                    ksreply_t *r);
void
    kslogin_resume (ksctx_t *ctx, chansession_t *session, const Chat__ResumeRequest *req,
                    ksreply_t *r);
void
    kslogin_logout (ksctx_t *ctx, chansession_t *session, ksreply_t *r);
void
    kslogin_password_start (ksctx_t *ctx, chansession_t *session,
                            const Chat__LoginStart *req, ksreply_t *r);
void
    kslogin_password_finish (ksctx_t *ctx, chansession_t *session,
                             const Chat__PasswordFinish *req, ksreply_t *r);

#endif
