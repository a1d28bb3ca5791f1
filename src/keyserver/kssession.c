/*  kssession - the key server's per-session state; see kssession.h  */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "kssession.h"
#include "secret.h"

kssession_t *
kssession_state (chansession_t *session)
{
    if (!session->app) {
        session->app = zmalloc (sizeof (kssession_t));
        assert (session->app);
    }
    return (kssession_t *) session->app;
}

void
kssession_free (chansession_t *session, void *arg)
{
    (void) arg;
    kssession_t *state = (kssession_t *) session->app;
    if (state) {
        scram_server_destroy (&state->scram);
        secret_wipe (state, sizeof *state);
        free (state);
        session->app = NULL;
    }
}

void
kssession_clear_exchange (kssession_t *state)
{
    scram_server_destroy (&state->scram);
    state->password_change = false;
    state->exchange_name [0] = 0;
    state->exchange_known = false;
}

int
kssession_set_username (chanserver_t *chanserver, chansession_t *session,
                        const char *username)
{
    return chanserver_set_username (chanserver, session, username);
}

void
kssession_logout (chanserver_t *chanserver, chansession_t *session)
{
    kssession_clear_exchange (kssession_state (session));
    kssession_set_username (chanserver, session, NULL);
}
