/*  cl_link - one server connection of the client: its DEALER, the secure
    channel over it, the handshake, the pin check and the reconnect back-off

    Internal to libchatclient (see cl_client.h).
*/
#ifndef CL_LINK_H_INCLUDED
#define CL_LINK_H_INCLUDED

#include "chatclient.h"
#include "channel.h"

typedef enum { LINK_DOWN, LINK_HELLO, LINK_OPEN, LINK_REFUSED } link_state_t;

typedef struct {
    chatclient_t *client;
    chatclient_server_t role;
    const char *role_name;
    char *endpoint;
    char *pin_name;
    char *pin;                  //  --pin fingerprint, or NULL
    zsock_t *sock;
    bool connected;             //  zsock_connect done
    channel_t *channel;
    link_state_t state;
    int64_t deadline;           //  HELLO: give up waiting at
    int64_t retry_at;           //  DOWN: next attempt at
    int backoff;
    bool authed;                //  this session is logged in on the server
    bool authing;               //  main: a login is in flight
    char *fingerprint;
} link_t;

#endif
