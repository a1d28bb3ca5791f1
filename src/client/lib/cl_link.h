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

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

//  Set up a link (socket made, not connected). 0, or -1 when the socket
//  could not be made.
int
    cl_link_init (chatclient_t *self, link_t *link, chatclient_server_t role,
                  const char *endpoint, const char *pin_name, const char *pin);
//  Free what the link holds (not the link itself, which is embedded).
void
    cl_link_destroy (link_t *link);

//  Connect afresh and send the Hello; on failure the link is DOWN and
//  retried after the back-off.
void
    cl_link_attempt (chatclient_t *self, link_t *link);
//  The link broke: back off and try again. Requests in flight are sent
//  again if that is safe, else they fail.
void
    cl_link_reset (chatclient_t *self, link_t *link, int code, const char *why);
void
    cl_link_disconnect (link_t *link);
//  One frame out, never blocking. 0, or -1 when it could not be queued.
int
    cl_link_send (link_t *link, const uint8_t *frame, size_t size);
//  The link's DEALER is readable: handle every frame waiting.
void
    cl_link_read (chatclient_t *self, link_t *link);
//  The link's own timers: retry after back-off, give up on a Hello.
void
    cl_link_tick (chatclient_t *self, link_t *link, int64_t now);
//  The earlier of due and the link's next timer.
int64_t
    cl_link_due (link_t *link, int64_t due);

#endif
