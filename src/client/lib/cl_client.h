/*  cl_client - the state of a chatclient_t, shared by the modules that make
    up libchatclient. Nothing outside src/client/chatclient.c and cl_*.c
    includes this; the public API is chatclient.h.

    The modules, each holding one part of the client:
    - cl_link: one per server (DEALER, channel, handshake, pin, back-off)
    - cl_request: the queue of pending requests (ids, gates, deadlines,
      what a failure means for each kind)
    - cl_flow: register and login, whose PBKDF2 runs on the worker thread
    - cl_session: the logged-in session, its silent renewal after a
      reconnect, and the login replies
    - cl_conv: conversations, keys, tickets, message logs, fetches
    - cl_reply: what each server reply and push does
    - cl_event: building the events the caller reads
    chatclient.c holds the life cycle, the event loop hooks and the commands.
*/
#ifndef CL_CLIENT_H_INCLUDED
#define CL_CLIENT_H_INCLUDED

#include "chatclient.h"
#include "cl_conv.h"
#include "cl_flow.h"
#include "cl_link.h"
#include "cl_request.h"
#include "cl_reply.h"
#include "cl_session.h"
#include "cl_event.h"
#include "pinstore.h"
#include "rsakey.h"

struct _chatclient_t {
    chatclient_config_t config;
    rsakey_t *client_key;
    pinstore_t *pins;
    link_t links [2];
    char *push_endpoint;
    zsock_t *push;
    uint8_t push_topic [CHANNEL_SESSION_TOKEN_SIZE];
    bool push_subscribed;
    zsock_t *monitor;           //  main DEALER's disconnect events
    zactor_t *worker;
    zlist_t *flows;             //  flow_t, all live ones
    zlistx_t *requests;         //  request_t
    zlist_t *events;            //  chatclient_event_t
    uint64_t next_request_id;
    uint32_t next_cmd;
    //  session
    bool logged_in;
    char *username;
    uint8_t *certificate;
    size_t certificate_len;
    int64_t certificate_at;
    uint8_t *resume_token;
    size_t resume_len;
    bool resume_inflight;
    bool resume_failed;
    int relogin_failures;
    bool first_list_done;
    int64_t next_ping;
    zlist_t *users;             //  char *
    conv_t **convs;
    size_t conv_count, conv_alloc;
};

#endif
