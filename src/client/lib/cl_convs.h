/*  cl_convs - the client's conversations: the list, each conversation's
    membership chain (verified link by link), its epoch keys (made here for
    what we create, fetched and checked for the rest), its message log,
    fetching what a push missed, and the commands that wait on them
    (create, open, history, members, send)

    A conversation is shown to the caller (counted, listed, given an index,
    announced) only once its membership chain has verified: until then,
    and for good when it does not verify, it is the server's word and
    nothing of it is believed. Its members, epoch, title and direct flag
    are the verified head's. Messages are shown only when proto/README.md
    section 12's five checks hold; one that fails them is dropped with an
    ERROR event saying why.

    Owns every epoch key and decrypted message (wiped when the session ends
    or the object goes). Sits on the contacts (cl_contacts), whose events it
    passes on before acting on them: CL_EV_SESSION_UP lists the
    conversations for the first time, _RENEWED lists them again, _DOWN
    fails the commands still waiting and forgets everything, CL_EV_CONTACT
    recounts the members whose identity changed, and a CL_EV_LINK_PUSH
    from the main server brings messages, new conversations and read
    markers. Publishes CONVERSATIONS, CONVERSATION, MESSAGE, SENT, OPENED,
    HISTORY, MEMBERS, READ and the ERRORs of its commands.

    Read markers are the main server's: the list brings each
    conversation's marker and unread count, opening or marking read moves
    the marker there (mark_read, one in flight per conversation), and a
    push says when another session of the user moved it (READ). Messages
    from the user, from any session, are never unread.

    Messages come out in sequence order per conversation, each once: a
    push past a gap, or a list showing more than we saw, fetches the
    missing ones (convlog keeps the order).
*/
#ifndef CL_CONVS_H_INCLUDED
#define CL_CONVS_H_INCLUDED

#include "chatclient.h"
#include "cl_event.h"
#include "cl_contacts.h"
#include "cl_requests.h"
#include "cl_session.h"

typedef struct _cl_convs_t cl_convs_t;

//  The conversations of session, with its contacts, over both servers'
//  requests (all borrowed; sets itself as the contacts' listener).
cl_convs_t *
    cl_convs_new (cl_session_t *session, cl_contacts_t *contacts, cl_requests_t *key,
                  cl_requests_t *main);
//  Keys and messages wiped; no event.
void
    cl_convs_destroy (cl_convs_t **self_p);

void
    cl_convs_set_listener (cl_convs_t *self, cl_listener_fn *fn, void *arg);

//  The commands. The caller has checked that the session is logged in,
//  and for those that name a conversation, that it exists (cl_convs_find).

//  List the conversations: CONVERSATIONS for cmd (0: only news, as
//  CONVERSATION events), and whatever was missed fetched.
void
    cl_convs_list (cl_convs_t *self, uint32_t cmd);
//  Create one with these others (or find the 1:1): their identity keys
//  fetched and pinned, the CREATE statement signed, epoch 1's key made,
//  wrapped for every member and stored at the key server. CONVERSATION for
//  cmd once the keys are stored (ERROR when the conversation was made but
//  its keys could not be).
void
    cl_convs_create (cl_convs_t *self, uint32_t cmd, const char **usernames,
                     size_t count);
//  Change a conversation (action CHAIN_ADD, _REMOVE, _LEAVE, _TITLE,
//  _ADMIN, _REKEY; usernames its subjects, title a TITLE's): the statement
//  made on the verified head, a new epoch key wrapped for every member after
//  it and stored at the key server; made again on the new head when
//  another change won the race. CONVERSATION for cmd once done.
void
    cl_convs_change (cl_convs_t *self, uint32_t cmd, const uint8_t *id, int action,
                     const char **usernames, size_t count, const char *title);
//  Leave every conversation that is a message request: CONVERSATIONS for
//  cmd once every leave is done (each failure an ERROR event of its own).
void
    cl_convs_leave_requests (cl_convs_t *self, uint32_t cmd);
//  Accept a message request: CONVERSATION for cmd.
void
    cl_convs_accept (cl_convs_t *self, uint32_t cmd, const uint8_t *id);
//  Load the history, fetch the key, mark read: OPENED for cmd.
void
    cl_convs_open (cl_convs_t *self, uint32_t cmd, const uint8_t *id);
//  As open, without marking read: HISTORY (messages after after_seq).
void
    cl_convs_history (cl_convs_t *self, uint32_t cmd, const uint8_t *id,
                      uint64_t after_seq);
//  The chain brought up to date: MEMBERS for cmd.
void
    cl_convs_members (cl_convs_t *self, uint32_t cmd, const uint8_t *id);
//  Seal and send text (1..WIRE_MAX_TEXT bytes, checked by the caller)
//  once the key is there: SENT for cmd.
void
    cl_convs_send (cl_convs_t *self, uint32_t cmd, const uint8_t *id,
                   const char *text, size_t len);

//  Timers: epoch keys asked for again while one is missing (the creator
//  uploads them just after creating). Call on every loop turn.
void
    cl_convs_tick (cl_convs_t *self, int64_t now);
//  The earlier of due and the next timer.
int64_t
    cl_convs_due (cl_convs_t *self, int64_t due);

//  Views, borrowed until the next call that handles or ticks. Only
//  conversations whose chain verified are there.
size_t
    cl_convs_count (cl_convs_t *self);
//  0-based, in the order first seen.
const chatclient_conversation_t *
    cl_convs_at (cl_convs_t *self, size_t index);
//  The conversation with this id (CHATCLIENT_ID_SIZE bytes), or NULL.
const chatclient_conversation_t *
    cl_convs_find (cl_convs_t *self, const uint8_t *id);
size_t
    cl_convs_message_count (cl_convs_t *self, const uint8_t *id);
const chatclient_message_t *
    cl_convs_message (cl_convs_t *self, const uint8_t *id, size_t index);
//  The user has seen it up to the newest message: unread = 0, and the
//  server told.
void
    cl_convs_mark_read (cl_convs_t *self, const uint8_t *id);

#endif
