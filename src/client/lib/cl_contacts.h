/*  cl_contacts - other users' identity keys: the key server's directory
    (get_identities, cached for the session), the known_users pins that
    keep the directory honest, safety numbers, and "verified"

    proto/README.md section 10: a contact's identity fingerprint is pinned
    the first time the directory names it (trust on first use). When the
    directory later names another key, the pin stays, the contact is
    CHANGED (a verified contact becomes unverified, loudly: IDENTITY_CHANGED
    is published), and whatever only the new key vouches for is shown with
    the warning. The user accepts a new key by verifying it (comparing the
    safety number), which pins it marked verified.

    The identity keys of whoever a conversation names (chain actors,
    members, senders) are asked for with cl_contacts_need; its callback
    tells the asker when the directory has answered. The logged-in user's
    own key is never taken from the directory: it is the identity the
    password opened (a directory that names another one for us is said as
    an ERROR event).

    Sits on the session, whose events it passes on before acting on them
    (CL_EV_SESSION_DOWN forgets the cache); tells the layer above
    CL_EV_CONTACT when a contact's state changes; publishes SAFETY_NUMBER,
    VERIFIED, IDENTITY_CHANGED and the ERRORs of its commands.
*/
#ifndef CL_CONTACTS_H_INCLUDED
#define CL_CONTACTS_H_INCLUDED

#include "chatclient.h"
#include "cl_event.h"
#include "cl_requests.h"
#include "cl_session.h"
#include "rsakey.h"

typedef struct _cl_contacts_t cl_contacts_t;

//  The contacts of session, asked of the key server's requests (both
//  borrowed; sets itself as the session's listener), pinned in the
//  known_users file at pin_path (NULL: its default place). NULL (a message
//  on stderr) when the pin file cannot be read.
cl_contacts_t *
    cl_contacts_new (cl_session_t *session, cl_requests_t *key, const char *pin_path);
void
    cl_contacts_destroy (cl_contacts_t **self_p);

void
    cl_contacts_set_listener (cl_contacts_t *self, cl_listener_fn *fn, void *arg);

//  The directory has answered for the names of a cl_contacts_need (code
//  CHAT_OK; cl_contacts_key then knows whichever exist), or could not
//  (the failure). data is the asker's, destroyed after the call.
typedef void (cl_contacts_done_fn) (void *arg, void *data, int code);

//  Make sure the identity keys of these names are known this session:
//  those not yet asked for are asked for (1..256 names a request). done is
//  called once, at once when nothing needs asking. When the session ends
//  first, done is never called and data is destroyed.
void
    cl_contacts_need (cl_contacts_t *self, const char *const *names, size_t count,
                      cl_contacts_done_fn *done, void *arg, void *data,
                      czmq_destructor *destroy_data);

//  The key to check name's signatures with: the logged-in user's own
//  identity for them, else the directory's key as cached, or NULL (not
//  asked yet, or no such user). *changed: the key is not the pinned one.
rsakey_t *
    cl_contacts_key (cl_contacts_t *self, const char *name, bool *changed);
//  The directory was asked for name this session and does not know it.
bool
    cl_contacts_missing (cl_contacts_t *self, const char *name);
//  The canonical spelling of a known name (the directory's), or NULL.
const char *
    cl_contacts_canonical (cl_contacts_t *self, const char *name);
chatclient_identity_t
    cl_contacts_state (cl_contacts_t *self, const char *name);

//  The commands. The caller has checked that the session is logged in and
//  that name is a valid username.

//  SAFETY_NUMBER for cmd.
void
    cl_contacts_safety_number (cl_contacts_t *self, uint32_t cmd, const char *name);
//  VERIFIED for cmd (fingerprint NULL: the key of the last safety number
//  shown).
void
    cl_contacts_verify (cl_contacts_t *self, uint32_t cmd, const char *name,
                        const char *fingerprint);

#endif
