/*  msgstore - the main server's storage: known users, conversations,
    members and the encrypted messages, behind one narrow interface
    (DESIGN.md section 6)

    SQLite is the one implementation today: WAL, synchronous=FULL (a commit
    survives kill -9 and power loss), schema version in PRAGMA user_version
    with forward migrations. Conversation ids and sequence numbers come from
    the store, never from counters held in the server, so several servers
    could one day share one database.

    Usernames are compared case-insensitively (the key server keeps them
    unique that way); the spelling given at registration is what comes back.
    Lists of names are ordered by their lower-case form.

    Every function returns CHAT_OK or a chat_err_t code; CHAT_ERR_INTERNAL
    means the database failed (a message was logged) and nothing of that
    call was written. Callbacks must not call back into the same kind of
    query they are iterating (a different one is fine).
*/
#ifndef MSGSTORE_H_INCLUDED
#define MSGSTORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>

#define MSGSTORE_SCHEMA_VERSION 2
#define MSGSTORE_ID_SIZE 16
#define MSGSTORE_MAX_MEMBERS 256

typedef struct _msgstore_t msgstore_t;

typedef struct {
    uint8_t id [MSGSTORE_ID_SIZE];
    uint64_t last_seq;          //  0 when empty; also the message count
    int64_t last_time;          //  unix ms of the last message, 0 when empty
    int64_t created_at;         //  unix ms
} msgstore_conv_t;

typedef struct {
    const uint8_t *conversation_id;
    uint64_t seq;
    const char *sender;
    int64_t server_time;
    const char *token;
    size_t token_len;
    const uint8_t *client_message_id;
    size_t client_message_id_len;
} msgstore_msg_t;

//  Callbacks return 0 to go on, anything else to stop the iteration.
typedef int (msgstore_user_fn) (const char *name, int64_t created_at, void *arg);
typedef int (msgstore_conv_fn) (const msgstore_conv_t *conv, void *arg);
typedef int (msgstore_msg_fn) (const msgstore_msg_t *msg, void *arg);

//  Open (creating if needed) the database at path and bring its schema up
//  to date. NULL on failure (logged), also when the file was written by a
//  newer schema than this program knows.
msgstore_t *
    msgstore_open (const char *path);
void
    msgstore_destroy (msgstore_t **self_p);

//  One write transaction (BEGIN IMMEDIATE ... COMMIT). Inside it, each
//  request runs under a savepoint so that one failing request does not
//  take the others of its batch with it.
int
    msgstore_begin (msgstore_t *self);
int
    msgstore_commit (msgstore_t *self);
int
    msgstore_rollback (msgstore_t *self);
int
    msgstore_savepoint (msgstore_t *self);
int
    msgstore_savepoint_release (msgstore_t *self);
int
    msgstore_savepoint_rollback (msgstore_t *self);

//  ---------------------------------------------------------------- users

//  Add a user unless one of that name (any case) exists. *added (may be
//  NULL) says whether a row was written.
int
    msgstore_user_add (msgstore_t *self, const char *name, int64_t now_ms,
                       bool *added);
//  CHAT_OK and the malloc'd canonical spelling, or CHAT_ERR_UNKNOWN_USER.
int
    msgstore_user_find (msgstore_t *self, const char *name, char **canonical);
int
    msgstore_user_each (msgstore_t *self, msgstore_user_fn *fn, void *arg);

//  ---------------------------------------------------------------- conversations

//  Open the conversation of exactly these members (canonical names, known
//  users, no duplicates, 2..MSGSTORE_MAX_MEMBERS). Two people have at most
//  one conversation: if it exists it is returned with *created false.
//  Groups are always new.
int
    msgstore_conv_open (msgstore_t *self, const char **names, size_t count,
                        int64_t now_ms, msgstore_conv_t *conv, bool *created);
//  CHAT_OK, or CHAT_ERR_NOT_FOUND for an unknown id (also a wrong length).
int
    msgstore_conv_get (msgstore_t *self, const uint8_t *id, size_t id_len,
                       msgstore_conv_t *conv);
//  CHAT_OK and the conversation when name is a member; CHAT_ERR_NOT_FOUND
//  when the conversation does not exist or name is not in it (the same
//  answer on purpose).
int
    msgstore_conv_get_as_member (msgstore_t *self, const uint8_t *id,
                                 size_t id_len, const char *name,
                                 msgstore_conv_t *conv);
//  The members' canonical names, ordered; a new list the caller destroys.
int
    msgstore_conv_members (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                           zlistx_t **names);
//  The conversations name is in, oldest first (the order they were made
//  in: every session of a user numbers them alike).
int
    msgstore_conv_each_of (msgstore_t *self, const char *name,
                           msgstore_conv_fn *fn, void *arg);
//  Every conversation, most recently active first.
int
    msgstore_conv_each (msgstore_t *self, msgstore_conv_fn *fn, void *arg);

//  ---------------------------------------------------------------- messages

//  Store a message with the conversation's next sequence number. A
//  client_message_id already stored in this conversation by the same
//  sender stores nothing and gives the original seq and time with
//  *duplicate true; one stored by another sender is CHAT_ERR_BAD_REQUEST.
//  CHAT_ERR_NOT_FOUND for an unknown conversation.
int
    msgstore_msg_add (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                      const char *sender, const uint8_t *client_message_id,
                      size_t client_message_id_len, const char *token,
                      size_t token_len, int64_t now_ms,
                      uint64_t *seq, int64_t *server_time, bool *duplicate);
//  Messages with seq > after_seq in ascending order, at most limit of them
//  (read straight off the primary key: a page costs a page).
int
    msgstore_msg_each (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                       uint64_t after_seq, uint32_t limit,
                       msgstore_msg_fn *fn, void *arg);
//  The newest message's token (malloc'd), or CHAT_ERR_NOT_FOUND when none.
int
    msgstore_msg_last_token (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                             char **token);

//  ---------------------------------------------------------------- read markers

//  name's read marker in a conversation (0: none yet) and the number of
//  messages from others after it.
int
    msgstore_read_state (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                         const char *name, uint64_t *read_seq, uint64_t *unread);
//  Move name's read marker forward to read_seq (never back: a lower one
//  writes nothing). *moved (may be NULL) says whether it moved.
int
    msgstore_read_set (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                       const char *name, uint64_t read_seq, bool *moved);

#endif
