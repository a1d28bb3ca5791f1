/*  cl_conv - the client's conversations: members, tickets, the conversation
    key, the message log, fetches, and the commands waiting on them

    Internal to libchatclient (see cl_client.h).
*/
#ifndef CL_CONV_H_INCLUDED
#define CL_CONV_H_INCLUDED

#include "chatclient.h"
#include "cl_request.h"
#include "convlog.h"
#include "fernet.h"
#include "wire.h"

typedef enum { KEY_NONE, KEY_FETCHING, KEY_READY } key_state_t;
typedef enum { WAIT_OPEN, WAIT_HISTORY } wait_kind_t;

//  An open or history command, completed once the conversation settles.
typedef struct {
    uint32_t cmd;
    wait_kind_t kind;
    uint64_t after;
} waiter_t;

//  A stored message as the server sent it, awaiting the key.
typedef struct {
    uint64_t seq;
    char *sender;
    int64_t server_time;
    char *token;
    size_t token_len;
} raw_t;

typedef struct {
    chatclient_conversation_t pub;
    convlog_t *log;
    uint8_t *ticket;
    size_t ticket_len;
    key_state_t key_state;
    int key_attempts;
    int key_error;              //  last failure, reported to waiters
    uint8_t key [FERNET_KEY_SIZE];
    zlist_t *raw;               //  raw_t: fetched or pushed, awaiting the key
    bool fetching;
    bool fetch_from_zero;       //  the fetch in flight started at seq 0
    bool fetch_progress;        //  the fetch in flight returned something
    bool history_loaded;
    bool want_history;
    int fetch_error;
    zlist_t *waiters;           //  waiter_t
    zlist_t *sends;             //  sendjob_t, awaiting the key
} conv_t;

#define KEY_ATTEMPTS 3

//  The conversation with this id, or NULL.
conv_t *
    cl_conv_find (chatclient_t *self, const uint8_t *id, size_t len);
void
    cl_conv_destroy (conv_t **conv_p);
//  Add or update a conversation from a summary. base_known: the
//  conversation existed when the session began (its older messages are
//  history, not news). NULL when the summary has no valid id.
conv_t *
    cl_conv_merge (chatclient_t *self, Chat__ConversationSummary *summary,
                   bool base_known, bool *created);
void
    cl_conv_set_members (conv_t *conv, Chat__ConversationSummary *summary);

//  Fetch what the server has: from seq 0 (the whole history) or from the
//  last message seen.
void
    cl_conv_fetch (chatclient_t *self, conv_t *conv, bool from_zero);
//  Hold a stored message until the key is there.
void
    cl_conv_raw_add (conv_t *conv, Chat__StoredMessage *stored);
//  Make progress on a conversation after anything changed: open held
//  messages, fetch gaps, send what waits for the key, complete waiters.
void
    cl_conv_settle (chatclient_t *self, conv_t *conv);
//  An open or history command: complete cmd once the history is loaded and
//  readable.
void
    cl_conv_wait (chatclient_t *self, conv_t *conv, uint32_t cmd, wait_kind_t kind,
                  uint64_t after);
//  A send command: seal and send job (owned now) once the key is there.
void
    cl_conv_send (chatclient_t *self, conv_t *conv, sendjob_t *job);
//  Fail the commands waiting on the conversation with code.
void
    cl_conv_fail_commands (chatclient_t *self, conv_t *conv, int code);

//  Get the key (via a fresh ticket when there is none) unless it is there
//  or on its way.
void
    cl_conv_need_key (chatclient_t *self, conv_t *conv);
void
    cl_conv_key_failed (chatclient_t *self, conv_t *conv, int code);
void
    cl_conv_key_request (chatclient_t *self, conv_t *conv, bool create);
//  purpose 1: the members are fetched for a ticket (the key), 0: for the
//  command cmd.
void
    cl_conv_get_members (chatclient_t *self, conv_t *conv, uint32_t cmd, int purpose);
//  List the conversations; purpose 1: the first list after login.
void
    cl_conv_list (chatclient_t *self, uint32_t cmd, int purpose);

//  Replies about conversations.
void
    cl_conv_on_list (chatclient_t *self, request_t *req, Chat__ConversationList *list);
void
    cl_conv_on_page (chatclient_t *self, request_t *req, Chat__MessagePage *page);
void
    cl_conv_on_sent (chatclient_t *self, request_t *req, Chat__SendMessageReply *sent);
void
    cl_conv_on_key (chatclient_t *self, request_t *req, Chat__ConversationKey *key);
//  A message the main server pushed.
void
    cl_conv_on_pushed (chatclient_t *self, Chat__StoredMessage *stored);

#endif
