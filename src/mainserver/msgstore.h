/*  msgstore - the main server's storage: known users and their identity
    keys, conversations with their membership chains, and the encrypted
    messages, behind one narrow interface (DESIGN.md section 6)

    Opened by URL: a plain path or sqlite:PATH is SQLite (msgstore_sqlite.h:
    WAL, synchronous=FULL, schema version in PRAGMA user_version), a
    postgresql:// or postgres:// URL is PostgreSQL (msgstore_pg.h: schema
    and functions made and migrated by the server, table schema_version).
    Both keep the same tables and answer every call alike. Sequence
    numbers come from the store, never from counters held in the server,
    so several servers can share one PostgreSQL database. (The SQLite
    engine keeps each conversation's last seq in memory between commits,
    and forgets it whenever another connection wrote the file.)

    A conversation is its chain of signed links (one per epoch, each the
    serialized MembershipStatement and its signature, as the actor sent
    them) and, kept beside it for queries, what the head link says: the
    current epoch, members, title, direct, and the creator. The store
    checks no signature: what goes in was checked by the chain rules
    (chain.h) before.

    Usernames are compared case-insensitively (the key server keeps them
    unique that way); the spelling given at registration is what comes back.
    Lists of names are ordered by their lower-case form.

    Every function returns CHAT_OK or a chat_err_t code; CHAT_ERR_INTERNAL
    means the database failed (a message was logged) and nothing of that
    call was written. Callbacks must not call back into the same kind of
    query they are iterating (a different one is fine).

    Schema version 2 (protocol 2), migrated forward to 3 (read markers)
    and 4 (members remember when they joined and whether they accepted).
    A database of schema version 1 (protocol 1: conversations without
    chains, users without identity keys) is refused with a message saying
    why.
*/
#ifndef MSGSTORE_H_INCLUDED
#define MSGSTORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include "chain.h"
#include "credential.h"

#define MSGSTORE_SCHEMA_VERSION 2
#define MSGSTORE_ID_SIZE 16
#define MSGSTORE_MAX_MEMBERS 256
#define MSGSTORE_IDENTITY_MAX 1024      //  DER of an identity public key

typedef struct _msgstore_t msgstore_t;

typedef struct {
    char name [USERNAME_MAX + 1];       //  canonical spelling
    uint8_t identity [MSGSTORE_IDENTITY_MAX];   //  DER SubjectPublicKeyInfo
    size_t identity_len;
    int64_t created_at;                 //  unix ms
} msgstore_user_t;

typedef struct {
    uint8_t id [MSGSTORE_ID_SIZE];
    uint64_t last_seq;          //  0 when empty; also the message count
    int64_t last_time;          //  unix ms of the last message, 0 when empty
    int64_t created_at;         //  unix ms
    uint64_t epoch;             //  the head link's: links in the chain
    bool direct;
    char title [CHAIN_MAX_TITLE + 1];
    char creator [USERNAME_MAX + 1];    //  actor of the CREATE
    //  Read as a member (get_as_member, each_of), else 0: the epoch that
    //  member joined at, and the conversation's last seq just before (the
    //  member may read the messages after it only)
    uint64_t joined_epoch;
    uint64_t joined_seq;
    bool request;               //  ... and whether it is a request for that
                                //  member (put in by someone it shared no
                                //  accepted conversation with; not accepted)
} msgstore_conv_t;

//  One link of a conversation's chain, as stored.
typedef struct {
    const uint8_t *conversation_id;
    uint64_t epoch;
    const uint8_t *statement;           //  serialized MembershipStatement
    size_t statement_len;
    const uint8_t *signature;
    size_t signature_len;
    const char *actor;                  //  canonical
    int action;                         //  CHAIN_CREATE ...
} msgstore_link_t;

typedef struct {
    const uint8_t *conversation_id;
    uint64_t seq;
    uint64_t epoch;
    const char *sender;
    int64_t server_time;
    const char *token;
    size_t token_len;
    const uint8_t *client_message_id;
    size_t client_message_id_len;
} msgstore_msg_t;

//  Callbacks return 0 to go on, anything else to stop the iteration.
typedef int (msgstore_user_fn) (const msgstore_user_t *user, void *arg);
typedef int (msgstore_conv_fn) (const msgstore_conv_t *conv, void *arg);
typedef int (msgstore_link_fn) (const msgstore_link_t *link, void *arg);
typedef int (msgstore_msg_fn) (const msgstore_msg_t *msg, void *arg);

//  Open (creating if needed) the database url names: a path, sqlite:PATH,
//  or postgresql://... NULL on failure (logged): also a protocol 1
//  database, or one written by a newer schema than this program knows.
msgstore_t *
    msgstore_open (const char *url);
//  The engine of an open store: "sqlite" or "postgresql".
const char *
    msgstore_engine (msgstore_t *self);
void
    msgstore_destroy (msgstore_t **self_p);

//  One write transaction (BEGIN IMMEDIATE ... COMMIT). Inside it, each
//  request runs under a savepoint so that one failing request does not
//  take the others of its batch with it; msgstore_msg_add needs none (a
//  failed add writes nothing, and leaves the transaction as it was or,
//  when the database failed, rolled back whole).
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

//  Add a user with its identity key unless one of that name (any case)
//  exists. *added (may be NULL) says whether a row was written.
//  CHAT_ERR_BAD_REQUEST for an invalid name or identity size.
int
    msgstore_user_add (msgstore_t *self, const char *name, const uint8_t *identity,
                       size_t identity_len, int64_t now_ms, bool *added);
//  CHAT_OK and *user filled, or CHAT_ERR_UNKNOWN_USER.
int
    msgstore_user_get (msgstore_t *self, const char *name, msgstore_user_t *user);
//  CHAT_OK and the malloc'd canonical spelling, or CHAT_ERR_UNKNOWN_USER.
int
    msgstore_user_find (msgstore_t *self, const char *name, char **canonical);
//  Every user, by lower-case name.
int
    msgstore_user_each (msgstore_t *self, msgstore_user_fn *fn, void *arg);

//  ---------------------------------------------------------------- conversations

//  A new conversation from its first link: conv gives id, created_at,
//  direct, title and creator (epoch and counters are set here), members
//  the membership the link names (canonical names of known users, no
//  repeats, 2..MSGSTORE_MAX_MEMBERS). A direct one is indexed by its pair.
//  All or nothing. CHAT_OK; CHAT_ERR_BAD_REQUEST when the id (or, for a
//  direct one, the pair) is in use already.
int
    msgstore_conv_create (msgstore_t *self, const msgstore_conv_t *conv,
                          const char *const *members, size_t count,
                          const msgstore_link_t *link);
//  Append the next link to an existing conversation and make what it says
//  current: epoch (link->epoch, which must be the head's + 1), title, and
//  the members (replaced by members: one who stays keeps the epoch and
//  seq it joined at, a new one joins at link->epoch after the last
//  message). A direct conversation left with fewer than two members is no
//  longer the pair's (find_direct no longer finds it). All or nothing. CHAT_OK;
//  CHAT_ERR_CHAIN_CONFLICT when the epoch is not the next one;
//  CHAT_ERR_NOT_FOUND for an unknown conversation.
int
    msgstore_conv_append (msgstore_t *self, const msgstore_link_t *link,
                          const char *title, const char *const *members, size_t count);
//  The direct conversation of these two people (any case), if any:
//  CHAT_OK or CHAT_ERR_NOT_FOUND.
int
    msgstore_conv_find_direct (msgstore_t *self, const char *a, const char *b,
                               msgstore_conv_t *conv);
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
//  name accepts the conversation (it is no longer a request for them).
//  CHAT_OK, or CHAT_ERR_NOT_FOUND when name is not a member.
int
    msgstore_member_accept (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                            const char *name);
//  The conversations name is in, oldest first (the order they were made
//  in: every session of a user numbers them alike).
int
    msgstore_conv_each_of (msgstore_t *self, const char *name,
                           msgstore_conv_fn *fn, void *arg);
//  A page of them: at most limit, in the order (created_at, id) ascending,
//  each after the conversation `after` names by those two (NULL: from the
//  first).
int
    msgstore_conv_page_of (msgstore_t *self, const char *name, const msgstore_conv_t *after,
                           uint32_t limit, msgstore_conv_fn *fn, void *arg);
//  Every conversation, most recently active first.
int
    msgstore_conv_each (msgstore_t *self, msgstore_conv_fn *fn, void *arg);

//  ---------------------------------------------------------------- chains

//  Links with epoch > after_epoch in ascending order, at most limit.
int
    msgstore_link_each (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                        uint64_t after_epoch, uint32_t limit,
                        msgstore_link_fn *fn, void *arg);

//  ---------------------------------------------------------------- messages

//  Store a message sent under epoch with the conversation's next sequence
//  number. A client_message_id already stored in this conversation by the
//  same sender stores nothing and gives the original seq and time with
//  *duplicate true (whatever the epoch); one stored by another sender is
//  CHAT_ERR_BAD_REQUEST. CHAT_ERR_STALE_EPOCH when epoch is not the
//  conversation's current one; CHAT_ERR_NOT_FOUND for an unknown one.
//  Inside begin ... commit, or on its own (then in a transaction of its
//  own). SQLite: one INSERT per new message; the conversation's last seq
//  and time are kept in memory and its row written once per commit, and
//  before anything reads it.
int
    msgstore_msg_add (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                      const char *sender, const uint8_t *client_message_id,
                      size_t client_message_id_len, const char *token,
                      size_t token_len, uint64_t epoch, int64_t now_ms,
                      uint64_t *seq, int64_t *server_time, bool *duplicate);
//  One message of a batch: what msgstore_msg_add takes, and what it
//  answered (status: CHAT_OK or its error, with seq, server_time and
//  duplicate as it fills them).
typedef struct {
    const uint8_t *conversation_id;     //  MSGSTORE_ID_SIZE bytes
    const char *sender;
    const uint8_t *client_message_id;
    size_t client_message_id_len;
    const char *token;
    size_t token_len;
    uint64_t epoch;
    int64_t now_ms;
    int status;
    uint64_t seq;
    int64_t server_time;
    bool duplicate;
} msgstore_add_t;

#define MSGSTORE_BATCH_MAX 1024

//  Store a batch of messages in one transaction of its own (not inside
//  begin ... commit), in conversation id order (the order given within
//  one conversation: no two writers ever take two conversations' locks in
//  opposite orders). CHAT_OK when the transaction committed: then each
//  add's status says what msgstore_msg_add would have; anything else
//  (CHAT_ERR_INTERNAL) means nothing of the batch was stored and no add
//  may be acknowledged. CHAT_ERR_BAD_REQUEST for more than
//  MSGSTORE_BATCH_MAX adds.
int
    msgstore_msg_add_batch (msgstore_t *self, msgstore_add_t *adds, size_t count);
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

//  ---------------------------------------------------------------- the cluster bus

//  Ring channel with payload (at most MSGSTORE_NOTIFY_MAX bytes) in a
//  transaction of its own: never between begin and commit (NOTIFY inside a
//  transaction holds a cluster-wide lock through its commit).
//  CHAT_ERR_BAD_REQUEST on an engine without a bus (SQLite: one server).
#define MSGSTORE_NOTIFY_MAX 7900
int
    msgstore_notify (msgstore_t *self, const char *channel, const char *payload);
//  The store connection's server process id (PostgreSQL: what a NOTIFY
//  from it carries), 0 when not known or not PostgreSQL.
int
    msgstore_backend_pid (msgstore_t *self);

//  The main servers that share the database (PostgreSQL schema 5: table
//  servers), each registered by itself and beating every few seconds.
typedef struct {
    char id [128];                      //  host/client endpoint
    char client_endpoint [256];
    char push_endpoint [256];
    int64_t started_at;                 //  unix ms
    uint64_t sessions;                  //  logged in, at its last beat
    int64_t heartbeat_age_ms;           //  read: since its last beat (database clock)
} msgstore_server_t;
typedef int (msgstore_server_fn) (const msgstore_server_t *server, void *arg);

//  Register server, or beat: its row written with the database's time.
//  CHAT_ERR_BAD_REQUEST on an engine without a cluster (SQLite).
int
    msgstore_server_beat (msgstore_t *self, const msgstore_server_t *server);
//  The server leaves (a clean stop).
int
    msgstore_server_remove (msgstore_t *self, const char *id);
//  Every registered server, by id.
int
    msgstore_server_each (msgstore_t *self, msgstore_server_fn *fn, void *arg);

//  The statements the engine ran since it was opened (SQLite: every run of
//  its prepared statements, transaction control included), for tests that
//  hold a path to its cost; 0 where the engine does not count them.
uint64_t
    msgstore_statements (msgstore_t *self);

#endif
