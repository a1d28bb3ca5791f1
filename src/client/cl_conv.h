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

#endif
