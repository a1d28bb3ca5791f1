/*  msonline - sessions by user, members by conversation; see msonline.h  */
#include <assert.h>
#include <string.h>
#include "chaterror.h"
#include "credential.h"
#include "msonline.h"

struct _msonline_t {
    zhashx_t *users;            //  lower-case name -> zlistx_t of chansession_t *
    zhashx_t *members;          //  conversation id (hex) -> members_t
    size_t member_names;        //  names held in members
};

//  What the server keeps for each session, beside chansession_t
typedef struct {
    char *user_key;             //  lower-case username while logged in
} msession_t;

//  A conversation's members, lower case
typedef struct {
    size_t count;
    char *names [];
} members_t;

static void
s_members_destroy (members_t **self_p)
{
    members_t *self = *self_p;
    if (self) {
        for (size_t index = 0; index < self->count; index++)
            free (self->names [index]);
        free (self);
        *self_p = NULL;
    }
}

static void
s_session_list_destroy (void **item)
{
    zlistx_t *list = (zlistx_t *) *item;
    zlistx_destroy (&list);
    *item = NULL;
}

msonline_t *
msonline_new (void)
{
    msonline_t *self = (msonline_t *) zmalloc (sizeof *self);
    assert (self);
    self->users = zhashx_new ();
    self->members = zhashx_new ();
    assert (self->users && self->members);
    zhashx_set_destructor (self->users, s_session_list_destroy);
    zhashx_set_destructor (self->members, (zhashx_destructor_fn *) s_members_destroy);
    return self;
}

void
msonline_destroy (msonline_t **self_p)
{
    assert (self_p);
    msonline_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->users);
        zhashx_destroy (&self->members);
        free (self);
        *self_p = NULL;
    }
}

static void
s_unindex (msonline_t *self, chansession_t *session)
{
    msession_t *app = (msession_t *) session->app;
    if (!app || !app->user_key)
        return;
    zlistx_t *sessions = (zlistx_t *) zhashx_lookup (self->users, app->user_key);
    if (sessions) {
        void *handle = zlistx_find (sessions, session);
        if (handle)
            zlistx_delete (sessions, handle);
        if (zlistx_size (sessions) == 0)
            zhashx_delete (self->users, app->user_key);
    }
    zstr_free (&app->user_key);
}

void
msonline_session_free (chansession_t *session, void *arg)
{
    msonline_t *self = (msonline_t *) arg;
    if (session->app) {
        s_unindex (self, session);
        free (session->app);
        session->app = NULL;
    }
}

int
msonline_login (msonline_t *self, chanserver_t *chanserver, chansession_t *session,
                const char *canonical)
{
    assert (canonical);
    msonline_logout (self, chanserver, session);
    int rc = chanserver_set_username (chanserver, session, canonical);
    if (rc != CHAT_OK)
        return rc;
    if (!session->app) {
        session->app = zmalloc (sizeof (msession_t));
        assert (session->app);
    }
    msession_t *app = (msession_t *) session->app;
    char key [USERNAME_MAX + 1];
    credential_username_fold (canonical, key, sizeof key);
    app->user_key = strdup (key);
    assert (app->user_key);
    zlistx_t *sessions = (zlistx_t *) zhashx_lookup (self->users, key);
    if (!sessions) {
        sessions = zlistx_new ();
        assert (sessions);
        zhashx_insert (self->users, key, sessions);
    }
    zlistx_add_end (sessions, session);
    return CHAT_OK;
}

void
msonline_logout (msonline_t *self, chanserver_t *chanserver, chansession_t *session)
{
    s_unindex (self, session);
    chanserver_set_username (chanserver, session, NULL);
}

//  The cache's key of a conversation: its id in hex
static void
s_key (const uint8_t id [MSGSTORE_ID_SIZE], char key [MSGSTORE_ID_SIZE * 2 + 1])
{
    static const char hex [] = "0123456789abcdef";
    for (size_t index = 0; index < MSGSTORE_ID_SIZE; index++) {
        key [2 * index] = hex [id [index] >> 4];
        key [2 * index + 1] = hex [id [index] & 15];
    }
    key [MSGSTORE_ID_SIZE * 2] = 0;
}

//  A conversation's members, from the cache or else the store (then kept).
//  Borrowed: lives until the cache forgets it.
static int
s_members (msonline_t *self, msgstore_t *store, const uint8_t id [MSGSTORE_ID_SIZE],
           members_t **members_p)
{
    char key [MSGSTORE_ID_SIZE * 2 + 1];
    s_key (id, key);
    members_t *members = (members_t *) zhashx_lookup (self->members, key);
    if (members) {
        *members_p = members;
        return CHAT_OK;
    }
    zlistx_t *names;
    int rc = msgstore_conv_members (store, id, &names);
    if (rc != CHAT_OK)
        return rc;
    size_t count = zlistx_size (names);
    members = (members_t *) zmalloc (sizeof (members_t) + count * sizeof (char *));
    assert (members);
    const char *name = (const char *) zlistx_first (names);
    while (name) {
        char lower [USERNAME_MAX + 1];
        credential_username_fold (name, lower, sizeof lower);
        members->names [members->count] = strdup (lower);
        assert (members->names [members->count]);
        members->count++;
        name = (const char *) zlistx_next (names);
    }
    zlistx_destroy (&names);
    //  No members: no such conversation (or everyone left). Not kept, so
    //  that ids made up by a client cannot fill the cache
    if (count == 0) {
        s_members_destroy (&members);
        return CHAT_ERR_NOT_FOUND;
    }
    //  A bound on memory: past it, start again from an empty cache
    if (self->member_names + count > MSONLINE_CACHE_NAMES)
        msonline_members_changed (self, NULL);
    zhashx_insert (self->members, key, members);
    self->member_names += count;
    *members_p = members;
    return CHAT_OK;
}

//  Add the logged-in sessions of one user (lower-case key) but except's
//  to a growing array of targets
static void
s_add_sessions (msonline_t *self, const char *key, chansession_t *except,
                msoutbox_target_t **targets_p, size_t *count_p, size_t *size_p)
{
    zlistx_t *online = (zlistx_t *) zhashx_lookup (self->users, key);
    chansession_t *session = online? (chansession_t *) zlistx_first (online): NULL;
    while (session) {
        if (session != except) {
            if (*count_p == *size_p) {
                *size_p = *size_p? *size_p * 2: 4;
                *targets_p = (msoutbox_target_t *) realloc (*targets_p,
                                                            *size_p * sizeof **targets_p);
                assert (*targets_p);
            }
            memcpy ((*targets_p) [(*count_p)++], channel_session_id (session->channel),
                    CHANNEL_SESSION_ID_SIZE);
        }
        session = (chansession_t *) zlistx_next (online);
    }
}

int
msonline_targets (msonline_t *self, msgstore_t *store,
                  const uint8_t id [MSGSTORE_ID_SIZE], chansession_t *except,
                  msoutbox_target_t **targets_p, size_t *count_p)
{
    *targets_p = NULL;
    *count_p = 0;
    members_t *members;
    int rc = s_members (self, store, id, &members);
    if (rc == CHAT_ERR_NOT_FOUND)
        return CHAT_OK;                 //  nobody to tell
    if (rc != CHAT_OK)
        return rc;
    size_t size = 0;
    for (size_t index = 0; index < members->count; index++)
        s_add_sessions (self, members->names [index], except, targets_p, count_p, &size);
    return CHAT_OK;
}

int
msonline_member (msonline_t *self, msgstore_t *store, const uint8_t *id, size_t id_len,
                 const char *name)
{
    assert (self && store && name);
    if (!id || id_len != MSGSTORE_ID_SIZE)
        return CHAT_ERR_NOT_FOUND;
    members_t *members;
    int rc = s_members (self, store, id, &members);
    if (rc != CHAT_OK)
        return rc;
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    for (size_t index = 0; index < members->count; index++)
        if (streq (members->names [index], lower))
            return CHAT_OK;
    return CHAT_ERR_NOT_FOUND;
}

void
msonline_user_targets (msonline_t *self, chansession_t *session,
                       msoutbox_target_t **targets_p, size_t *count_p)
{
    *targets_p = NULL;
    *count_p = 0;
    msession_t *app = (msession_t *) session->app;
    if (app && app->user_key) {
        size_t size = 0;
        s_add_sessions (self, app->user_key, session, targets_p, count_p, &size);
    }
}

void
msonline_members_changed (msonline_t *self, const uint8_t *id)
{
    if (id) {
        char key [MSGSTORE_ID_SIZE * 2 + 1];
        s_key (id, key);
        members_t *members = (members_t *) zhashx_lookup (self->members, key);
        if (members) {
            self->member_names -= members->count;
            zhashx_delete (self->members, key);
        }
    }
    else {
        zhashx_purge (self->members);
        self->member_names = 0;
    }
}

zlistx_t *
msonline_user_names (msonline_t *self)
{
    assert (self);
    return zhashx_keys (self->users);
}
