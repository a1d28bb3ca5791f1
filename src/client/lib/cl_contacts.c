/*  cl_contacts - other users' identity keys; see cl_contacts.h

    A need asks the directory for its uncached names in chunks of at most
    GET_IDENTITIES_MAX; each chunk is a request whose data is the chunk.
    The chunk's destructor is where the need learns how it went: when the
    last chunk of a need goes, its callback is called if every chunk was
    answered, and quietly dropped if the session took them away.
*/
#include <stdlib.h>
#include <string.h>
#include "cl_contacts.h"
#include "chaterror.h"
#include "credential.h"
#include "identity.h"
#include "pinstore.h"

#define GET_IDENTITIES_MAX 256

typedef struct {
    char *name;                     //  canonical, as the directory spells it
    rsakey_t *key;                  //  the directory's (public)
    chatclient_identity_t state;
    char *pinned;                   //  the pin on file
    bool shown;                     //  a safety number was shown for this key
} contact_t;

//  One cl_contacts_need.
typedef struct {
    cl_contacts_done_fn *done;
    void *arg;
    void *data;
    czmq_destructor *destroy;
    size_t chunks;                  //  requests still out
    int code;                       //  the first failure
    bool dropped;                   //  a chunk went without an answer
} need_t;

//  One get_identities request of a need.
typedef struct {
    need_t *need;
    char **names;                   //  lower case, as asked
    size_t count;
    bool answered;
} chunk_t;

//  What a command waits for.
typedef struct {
    uint32_t cmd;
    char lower [USERNAME_MAX + 1];
    char *fingerprint;              //  verify: the one shown, or NULL
    bool verify;
} command_t;

struct _cl_contacts_t {
    cl_session_t *session;          //  borrowed
    cl_requests_t *key;             //  borrowed
    pinstore_t *pins;
    cl_listener_t listener;
    zhashx_t *contacts;             //  lower-case name -> contact_t
    zhashx_t *missing;              //  lower-case names the directory lacks
};

static bool
    s_on_outcome (void *arg, cl_outcome_t *outcome);

//  ---------------------------------------------------------------- parts

static void
s_contact_destroy (void **item_p)
{
    contact_t *contact = (contact_t *) *item_p;
    if (contact) {
        free (contact->name);
        rsakey_destroy (&contact->key);
        free (contact->pinned);
        free (contact);
        *item_p = NULL;
    }
}

static void
s_lower (const char *name, char lower [USERNAME_MAX + 1])
{
    credential_username_fold (name, lower, USERNAME_MAX + 1);
}

static contact_t *
s_contact (cl_contacts_t *self, const char *name)
{
    if (!name || !credential_username_valid (name))
        return NULL;
    char lower [USERNAME_MAX + 1];
    s_lower (name, lower);
    return (contact_t *) zhashx_lookup (self->contacts, lower);
}

//  name is the logged-in user.
static bool
s_is_me (cl_contacts_t *self, const char *name)
{
    const char *me = cl_session_username (self->session);
    return me && name && credential_username_compare (me, name) == 0;
}

static void
s_need_finish (need_t *need)
{
    if (!need->dropped && need->done)
        need->done (need->arg, need->data, need->code);
    if (need->data && need->destroy)
        need->destroy (&need->data);
    free (need);
}

//  The request of a chunk went: the need ends with its last chunk.
static void
s_chunk_destroy (void **item_p)
{
    chunk_t *chunk = (chunk_t *) *item_p;
    if (!chunk)
        return;
    need_t *need = chunk->need;
    if (!chunk->answered)
        need->dropped = true;
    for (size_t i = 0; i < chunk->count; i++)
        free (chunk->names [i]);
    free (chunk->names);
    free (chunk);
    *item_p = NULL;
    if (--need->chunks == 0)
        s_need_finish (need);
}

//  ---------------------------------------------------------------- pins

//  Say loudly that name's key changed.
static void
s_publish_changed (cl_contacts_t *self, contact_t *contact, bool was_verified)
{
    chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_IDENTITY_CHANGED, 0);
    event->username = strdup (contact->name);
    event->fingerprint = strdup (rsakey_fingerprint_text (contact->key));
    event->pinned = cl_strdup (contact->pinned);
    event->identity = CHATCLIENT_IDENTITY_CHANGED;
    event->text = cl_format (
        "%s's identity key changed: the key server now names %s, but %s is pinned%s. "
        "Anything signed with the new key is shown with this warning; compare "
        "safety numbers with %s (verify %s) before you trust it",
        contact->name, rsakey_fingerprint_text (contact->key), contact->pinned,
        was_verified? " (you had verified it: it is unverified now)": "",
        contact->name, contact->name);
    cl_listener_publish (&self->listener, event);
}

//  A contact's state changed: the layer above recounts its warnings.
static void
s_signal_contact (cl_contacts_t *self, const char *name)
{
    cl_event_t event = { .kind = CL_EV_CONTACT, .server = CHATCLIENT_KEYSERVER,
                         .text = name };
    cl_listener_emit (&self->listener, &event);
}

//  The directory named key for name: check it against the pin (pinning it
//  on first sight), then keep it for the session.
static void
s_learn (cl_contacts_t *self, const char *name, rsakey_t *key)
{
    char lower [USERNAME_MAX + 1];
    s_lower (name, lower);
    zhashx_delete (self->missing, lower);
    contact_t *contact = (contact_t *) calloc (1, sizeof (contact_t));
    assert (contact);
    contact->name = strdup (name);
    contact->key = key;
    const char *fingerprint = rsakey_fingerprint_text (key);
    const char *pinned = NULL;
    bool was_verified = false;
    switch (pinstore_check (self->pins, lower, fingerprint, &pinned)) {
        case PIN_UNKNOWN:
            pinstore_add (self->pins, lower, fingerprint);
            contact->state = CHATCLIENT_IDENTITY_UNVERIFIED;
            contact->pinned = strdup (fingerprint);
            break;
        case PIN_MATCH:
            contact->state = pinstore_verified (self->pins, lower)
                           ? CHATCLIENT_IDENTITY_VERIFIED: CHATCLIENT_IDENTITY_UNVERIFIED;
            contact->pinned = strdup (fingerprint);
            break;
        case PIN_MISMATCH:
            contact->state = CHATCLIENT_IDENTITY_CHANGED;
            contact->pinned = strdup (pinned? pinned: "?");
            //  the pin stays; a verified mark does not survive a change
            was_verified = pinstore_verified (self->pins, lower);
            if (was_verified)
                pinstore_set (self->pins, lower, contact->pinned, false);
            break;
    }
    zhashx_update (self->contacts, lower, contact);
    if (contact->state == CHATCLIENT_IDENTITY_CHANGED)
        s_publish_changed (self, contact, was_verified);
    s_signal_contact (self, contact->name);
}

//  The directory's entry for ourselves: never used (our key is the one our
//  password opened), but a directory that names another is worth saying.
static void
s_check_self (cl_contacts_t *self, rsakey_t *key)
{
    rsakey_t *identity = cl_session_identity (self->session);
    if (!identity || streq (rsakey_fingerprint_text (identity), rsakey_fingerprint_text (key)))
        return;
    chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_ERROR, 0);
    event->code = CHAT_ERR_BAD_KEY;
    event->text = cl_format (
        "the key server's directory names %s as your identity key, but yours is %s: "
        "others may be shown someone else as you",
        rsakey_fingerprint_text (key), rsakey_fingerprint_text (identity));
    cl_listener_publish (&self->listener, event);
}

//  ---------------------------------------------------------------- requests

static bool
s_asked (chunk_t *chunk, const char *lower)
{
    for (size_t i = 0; i < chunk->count; i++)
        if (streq (chunk->names [i], lower))
            return true;
    return false;
}

static void
s_on_identities (cl_contacts_t *self, chunk_t *chunk, Chat__Identities *identities)
{
    //  every new pin of this answer saved at once, below
    pinstore_begin (self->pins);
    for (size_t i = 0; i < identities->n_identities; i++) {
        Chat__Identity *identity = identities->identities [i];
        if (!identity->username || !credential_username_valid (identity->username))
            continue;
        char lower [USERNAME_MAX + 1];
        s_lower (identity->username, lower);
        //  only what was asked, once: a directory cannot slip in others
        if (!s_asked (chunk, lower) || zhashx_lookup (self->contacts, lower))
            continue;
        rsakey_t *key = rsakey_from_der (identity->public_key.data, identity->public_key.len);
        if (!key)
            continue;           //  an unusable key is no key
        if (s_is_me (self, identity->username)) {
            s_check_self (self, key);
            rsakey_destroy (&key);
            continue;
        }
        s_learn (self, identity->username, key);
    }
    if (pinstore_commit (self->pins) != 0)
        zsys_warning ("chat: could not save identity pins to %s", pinstore_path (self->pins));
    //  asked and not named: the directory does not know them
    for (size_t i = 0; i < chunk->count; i++)
        if (!zhashx_lookup (self->contacts, chunk->names [i]) && !s_is_me (self, chunk->names [i]))
            zhashx_update (self->missing, chunk->names [i], (void *) 1);
}

static bool
s_on_outcome (void *arg, cl_outcome_t *outcome)
{
    cl_contacts_t *self = (cl_contacts_t *) arg;
    chunk_t *chunk = (chunk_t *) outcome->data;
    if (outcome->code == CHAT_OK)
        s_on_identities (self, chunk, ((Chat__KeyReply *) outcome->reply)->identities);
    else
    if (!chunk->need->code)
        chunk->need->code = outcome->code;
    chunk->answered = true;
    return true;
}

static void
s_submit_chunk (cl_contacts_t *self, chunk_t *chunk)
{
    Chat__GetIdentitiesRequest body = CHAT__GET_IDENTITIES_REQUEST__INIT;
    body.usernames = chunk->names;
    body.n_usernames = chunk->count;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_GET_IDENTITIES;
    req.get_identities = &body;
    cl_request_spec_t spec = {
        .auth = true, .retry_ok = true, .expects = CHAT__KEY_REPLY__BODY_IDENTITIES,
        .done = s_on_outcome, .arg = self, .data = chunk, .destroy_data = s_chunk_destroy
    };
    cl_requests_submit (self->key, (ProtobufCMessage *) &req, &spec);
}

void
cl_contacts_need (cl_contacts_t *self, const char *const *names, size_t count,
                  cl_contacts_done_fn *done, void *arg, void *data,
                  czmq_destructor *destroy_data)
{
    need_t *need = (need_t *) calloc (1, sizeof (need_t));
    assert (need);
    need->done = done;
    need->arg = arg;
    need->data = data;
    need->destroy = destroy_data;
    //  one extra hold while the chunks are made, so none can finish it early
    need->chunks = 1;
    zhashx_t *asking = zhashx_new ();       //  each name once
    chunk_t *chunk = NULL;
    for (size_t i = 0; i < count; i++) {
        char lower [USERNAME_MAX + 1];
        if (!names [i] || !credential_username_valid (names [i]) || s_is_me (self, names [i]))
            continue;
        s_lower (names [i], lower);
        if (zhashx_lookup (self->contacts, lower) || zhashx_lookup (asking, lower))
            continue;
        zhashx_insert (asking, lower, (void *) 1);
        if (!chunk) {
            chunk = (chunk_t *) calloc (1, sizeof (chunk_t));
            assert (chunk);
            chunk->need = need;
            chunk->names = (char **) calloc (GET_IDENTITIES_MAX, sizeof (char *));
            assert (chunk->names);
            need->chunks++;
        }
        chunk->names [chunk->count++] = strdup (lower);
        if (chunk->count == GET_IDENTITIES_MAX) {
            s_submit_chunk (self, chunk);
            chunk = NULL;
        }
    }
    if (chunk)
        s_submit_chunk (self, chunk);
    zhashx_destroy (&asking);
    if (--need->chunks == 0)
        s_need_finish (need);
}

//  ---------------------------------------------------------------- views

rsakey_t *
cl_contacts_key (cl_contacts_t *self, const char *name, bool *changed)
{
    if (changed)
        *changed = false;
    if (s_is_me (self, name))
        return cl_session_identity (self->session);
    contact_t *contact = s_contact (self, name);
    if (!contact)
        return NULL;
    if (changed)
        *changed = contact->state == CHATCLIENT_IDENTITY_CHANGED;
    return contact->key;
}

bool
cl_contacts_missing (cl_contacts_t *self, const char *name)
{
    if (!name || !credential_username_valid (name))
        return true;
    char lower [USERNAME_MAX + 1];
    s_lower (name, lower);
    return zhashx_lookup (self->missing, lower) != NULL;
}

const char *
cl_contacts_canonical (cl_contacts_t *self, const char *name)
{
    if (s_is_me (self, name))
        return cl_session_username (self->session);
    contact_t *contact = s_contact (self, name);
    return contact? contact->name: NULL;
}

chatclient_identity_t
cl_contacts_state (cl_contacts_t *self, const char *name)
{
    if (s_is_me (self, name))
        return CHATCLIENT_IDENTITY_SELF;
    contact_t *contact = s_contact (self, name);
    return contact? contact->state: CHATCLIENT_IDENTITY_UNKNOWN;
}

//  ---------------------------------------------------------------- commands

static void
s_command_destroy (void **item_p)
{
    command_t *command = (command_t *) *item_p;
    if (command) {
        free (command->fingerprint);
        free (command);
        *item_p = NULL;
    }
}

static void
s_fail (cl_contacts_t *self, uint32_t cmd, int code, const char *text)
{
    cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, code, text, 0);
}

static void
s_safety_number (cl_contacts_t *self, command_t *command, contact_t *contact)
{
    char number [IDENTITY_SAFETY_SIZE];
    rsakey_t *identity = cl_session_identity (self->session);
    if (!identity
    ||  identity_safety_number (cl_session_username (self->session), identity,
                                contact->name, contact->key, number) != CHAT_OK) {
        s_fail (self, command->cmd, CHAT_ERR_INTERNAL, "Could not compute the safety number");
        return;
    }
    contact->shown = true;
    chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_SAFETY_NUMBER, command->cmd);
    event->username = strdup (contact->name);
    event->text = strdup (number);
    event->fingerprint = strdup (rsakey_fingerprint_text (contact->key));
    event->pinned = cl_strdup (contact->pinned);
    event->identity = contact->state;
    cl_listener_publish (&self->listener, event);
}

static void
s_verify (cl_contacts_t *self, command_t *command, contact_t *contact)
{
    const char *fingerprint = rsakey_fingerprint_text (contact->key);
    if (command->fingerprint? !streq (command->fingerprint, fingerprint): !contact->shown) {
        s_fail (self, command->cmd, CHAT_ERR_BAD_REQUEST, command->fingerprint
                ? "That is not the key whose safety number was shown: look at the "
                  "safety number again and compare it"
                : "Look at the safety number first (verify NAME) and compare it");
        return;
    }
    if (pinstore_set (self->pins, command->lower, fingerprint, true) != 0) {
        char *why = cl_format ("Could not save the pin to %s", pinstore_path (self->pins));
        s_fail (self, command->cmd, CHAT_ERR_INTERNAL, why);
        free (why);
        return;
    }
    contact->state = CHATCLIENT_IDENTITY_VERIFIED;
    free (contact->pinned);
    contact->pinned = strdup (fingerprint);
    chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_VERIFIED, command->cmd);
    event->username = strdup (contact->name);
    event->fingerprint = strdup (fingerprint);
    event->pinned = strdup (fingerprint);
    event->identity = CHATCLIENT_IDENTITY_VERIFIED;
    cl_listener_publish (&self->listener, event);
    s_signal_contact (self, contact->name);
}

//  The directory answered for a command's name.
static void
s_on_command (void *arg, void *data, int code)
{
    cl_contacts_t *self = (cl_contacts_t *) arg;
    command_t *command = (command_t *) data;
    if (code != CHAT_OK) {
        s_fail (self, command->cmd, code, NULL);
        return;
    }
    contact_t *contact = (contact_t *) zhashx_lookup (self->contacts, command->lower);
    if (!contact) {
        char *why = cl_format ("The key server knows no user \"%s\"", command->lower);
        s_fail (self, command->cmd, CHAT_ERR_UNKNOWN_USER, why);
        free (why);
    }
    else
    if (command->verify)
        s_verify (self, command, contact);
    else
        s_safety_number (self, command, contact);
}

static void
s_command (cl_contacts_t *self, uint32_t cmd, const char *name, const char *fingerprint,
           bool verify)
{
    if (s_is_me (self, name)) {
        s_fail (self, cmd, CHAT_ERR_BAD_REQUEST,
                "That is you: a safety number is for you and someone else");
        return;
    }
    command_t *command = (command_t *) calloc (1, sizeof (command_t));
    assert (command);
    command->cmd = cmd;
    command->verify = verify;
    command->fingerprint = cl_strdup (fingerprint);
    s_lower (name, command->lower);
    const char *names [] = { name };
    cl_contacts_need (self, names, 1, s_on_command, self, command, s_command_destroy);
}

void
cl_contacts_safety_number (cl_contacts_t *self, uint32_t cmd, const char *name)
{
    s_command (self, cmd, name, NULL, false);
}

void
cl_contacts_verify (cl_contacts_t *self, uint32_t cmd, const char *name,
                    const char *fingerprint)
{
    s_command (self, cmd, name, fingerprint, true);
}

//  ---------------------------------------------------------------- events

//  Ask the directory what it says our own key is (s_check_self).
static void
s_ask_self (cl_contacts_t *self)
{
    const char *me = cl_session_username (self->session);
    if (!me)
        return;
    need_t *need = (need_t *) calloc (1, sizeof (need_t));
    assert (need);
    chunk_t *chunk = (chunk_t *) calloc (1, sizeof (chunk_t));
    assert (chunk);
    chunk->need = need;
    chunk->names = (char **) calloc (1, sizeof (char *));
    assert (chunk->names);
    char lower [USERNAME_MAX + 1];
    s_lower (me, lower);
    chunk->names [chunk->count++] = strdup (lower);
    need->chunks = 1;
    s_submit_chunk (self, chunk);
}

static void
s_on_session (void *arg, cl_event_t *event)
{
    cl_contacts_t *self = (cl_contacts_t *) arg;
    cl_listener_emit (&self->listener, event);
    if (event->kind == CL_EV_SESSION_UP)
        s_ask_self (self);
    else
    if (event->kind == CL_EV_SESSION_DOWN) {
        //  keys are cached per session: the next one asks again
        zhashx_purge (self->contacts);
        zhashx_purge (self->missing);
    }
}

//  ---------------------------------------------------------------- life

cl_contacts_t *
cl_contacts_new (cl_session_t *session, cl_requests_t *key, const char *pin_path)
{
    assert (session && key);
    cl_contacts_t *self = (cl_contacts_t *) calloc (1, sizeof (cl_contacts_t));
    assert (self);
    self->session = session;
    self->key = key;
    self->pins = pinstore_new_users (pin_path);
    if (!self->pins) {
        free (self);
        return NULL;
    }
    self->contacts = zhashx_new ();
    assert (self->contacts);
    zhashx_set_destructor (self->contacts, s_contact_destroy);
    self->missing = zhashx_new ();
    assert (self->missing);
    cl_session_set_listener (session, s_on_session, self);
    return self;
}

void
cl_contacts_destroy (cl_contacts_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cl_contacts_t *self = *self_p;
    zhashx_destroy (&self->contacts);
    zhashx_destroy (&self->missing);
    pinstore_destroy (&self->pins);
    cl_session_set_listener (self->session, NULL, NULL);
    free (self);
    *self_p = NULL;
}

void
cl_contacts_set_listener (cl_contacts_t *self, cl_listener_fn *fn, void *arg)
{
    self->listener.fn = fn;
    self->listener.arg = arg;
}
