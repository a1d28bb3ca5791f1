/*  kssession - what the key server keeps per session, beside chanserver's
    chansession_t: the SCRAM exchange in hand (a login or a password
    change). Failed attempts are counted per source address and name
    (ratelimit.h), not per session: a new session starts no count afresh.
*/
#ifndef KSSESSION_H_INCLUDED
#define KSSESSION_H_INCLUDED

#include <stdbool.h>
#include "chanserver.h"
#include "credential.h"
#include "scram.h"

typedef struct {
    scram_server_t *scram;              //  between *_start and *_finish
    bool password_change;               //  the exchange proves a password
                                        //  to change it, not to log in
    char exchange_name [USERNAME_MAX + 1];  //  canonical name in the exchange
                                        //  ("" for one that cannot exist)
    bool exchange_known;                //  it names a registered user
} kssession_t;

//  The session's state, made on first use.
kssession_t *
    kssession_state (chansession_t *session);
//  chanserver's free function for it (arg unused).
void
    kssession_free (chansession_t *session, void *arg);

//  Forget the exchange in hand.
void
    kssession_clear_exchange (kssession_t *state);
//  Set (copy) or clear (NULL) the user the session is logged in as,
//  through chanserver, which holds the per-user session cap and restarts
//  the login timeout of a session logged out. CHAT_OK, or CHAT_ERR_QUOTA
//  (the user has all the sessions it may have; the session is then not
//  logged in).
int
    kssession_set_username (chanserver_t *chanserver, chansession_t *session,
                            const char *username);
//  Not logged in, no exchange in hand.
void
    kssession_logout (chanserver_t *chanserver, chansession_t *session);

#endif
