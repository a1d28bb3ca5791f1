/*  msonline - who is logged in where: the sessions of each user, and the
    members of the conversations pushes go to

    A user may be logged in on several sessions at once; pushes go to
    every other session of every member. Members are read from the store
    once and kept (at most MSONLINE_CACHE_NAMES names, then the cache starts
    again) until a membership change forgets them
    (msonline_members_changed).
*/
#ifndef MSONLINE_H_INCLUDED
#define MSONLINE_H_INCLUDED

#include <stddef.h>
#include "chanserver.h"
#include "msgstore.h"
#include "msoutbox.h"

#define MSONLINE_CACHE_NAMES 100000     //  member names cached, at most

typedef struct _msonline_t msonline_t;

msonline_t *
    msonline_new (void);
//  Destroy after every session is gone (chanserver_destroy first).
void
    msonline_destroy (msonline_t **self_p);

//  chanserver's free function (arg: the msonline_t).
void
    msonline_session_free (chansession_t *session, void *arg);

//  The session is now canonical's, after whatever it was before: logged in
//  through chanserver, which holds the per-user session cap. CHAT_OK, or
//  CHAT_ERR_QUOTA when canonical has all the sessions it may have (the
//  session is then logged out).
int
    msonline_login (msonline_t *self, chanserver_t *chanserver, chansession_t *session,
                    const char *canonical);
//  The session stops being its user; the channel stays (and its login
//  timeout starts again).
void
    msonline_logout (msonline_t *self, chanserver_t *chanserver, chansession_t *session);

//  The ids of the logged-in sessions of a conversation's members but
//  except's: CHAT_OK and a malloc'd array (NULL when none) and its size.
int
    msonline_targets (msonline_t *self, msgstore_t *store,
                      const uint8_t id [MSGSTORE_ID_SIZE], chansession_t *except,
                      msoutbox_target_t **targets, size_t *count);

//  CHAT_OK when name (any case) is a member of the conversation id names,
//  from the cached members (read from the store on a miss);
//  CHAT_ERR_NOT_FOUND when it is not, or there is no such conversation (or
//  id is not MSGSTORE_ID_SIZE bytes). Exact only while every membership
//  change, and every rollback that may take one back, calls
//  msonline_members_changed: true of one server on its own store
//  (SQLite), not of servers sharing one (PostgreSQL).
int
    msonline_member (msonline_t *self, msgstore_t *store, const uint8_t *id,
                     size_t id_len, const char *name);

//  The ids of the other logged-in sessions of session's user: a malloc'd
//  array (NULL when none) and its size.
void
    msonline_user_targets (msonline_t *self, chansession_t *session,
                           msoutbox_target_t **targets, size_t *count);

//  The lower-case names of the users logged in here: a new list the
//  caller destroys.
zlistx_t *
    msonline_user_names (msonline_t *self);

//  Forget the cached members of one conversation, or of all (id NULL):
//  after a membership change, or a commit that failed.
void
    msonline_members_changed (msonline_t *self, const uint8_t *id);

#endif
