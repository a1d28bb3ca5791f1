/*  cl_event - the events of libchatclient: those its caller reads
    (chatclient_event_t, built here), and those its layers pass up to the
    layer above (cl_event_t)

    The library is a stack of objects, each calling only down:

        chatclient  the public API: composes the rest, queues public events
        cl_convs    conversations: list, membership chains, epoch keys,
                    message logs, gap fetching
        cl_contacts identity keys from the key directory, the known_users
                    pins, safety numbers
        cl_session  register, login, identity, certificate, resume,
                    re-login, password change
        cl_requests one per server: request ids, deadlines, retries
        cl_link     one per server: socket, channel, handshake, pin, push,
                    socket monitor and heartbeats, back-off

    Nothing goes up by a call. Each object has one listener, set by the
    object above it, and tells it what happened through a cl_event_t. An
    object passes every event it receives on to its own listener, before
    acting on it itself, so the top sees everything in the order it
    happened, and a new kind of event needs no new path: only a new
    CL_EV_ value and the layers that care about it. What the API's caller
    should read travels as CL_EV_PUBLIC with a chatclient_event_t that
    chatclient takes and queues.

    A reply to a request goes straight to whoever sent it: see
    cl_requests.h.
*/
#ifndef CL_EVENT_H_INCLUDED
#define CL_EVENT_H_INCLUDED

#include "chatclient.h"

typedef enum {
    //  for the API's caller: pub (owned; whoever keeps it sets it NULL)
    CL_EV_PUBLIC = 1,
    //  from cl_link
    CL_EV_LINK_OPEN,            //  handshake done, pin accepted
    CL_EV_LINK_DOWN,            //  code, text: lost; retried in retry_ms
    CL_EV_LINK_PIN_NEW,         //  fingerprint pinned now (text: when it
                                //  could not be saved)
    CL_EV_LINK_PIN_MOVED,       //  fingerprint (the new key), pinned (the
                                //  old pin): the server's key was replaced
                                //  and the statement signed by the pinned
                                //  key moved the pin (text: when it could
                                //  not be saved, or the pin came from the
                                //  command line)
    CL_EV_LINK_REFUSED,         //  code, text, fingerprint (offered),
                                //  pinned: the key does not match its pin;
                                //  the link stays refused
    CL_EV_LINK_SKIPPED,         //  as REFUSED, for one endpoint of a list
                                //  (endpoint): refused for good, the link
                                //  moves on to the others
    CL_EV_LINK_FAILOVER,        //  endpoint (now), from (before): the link
                                //  was open on from, and is on endpoint
                                //  now (LINK_OPEN follows)
    CL_EV_LINK_REPLY,           //  data, size: a sealed frame, opened
    CL_EV_LINK_PUSH,            //  data, size: a push, opened
    //  from cl_requests
    CL_EV_AUTH_LOST,            //  the server forgot our login; the request
                                //  waits for a new one
    //  from cl_session
    CL_EV_SESSION_UP,           //  logged in on both servers, with the password
    CL_EV_SESSION_RENEWED,      //  logged in again without it, after a reconnect
    CL_EV_SESSION_DOWN,         //  the session ended (logout, or lost)
    //  from cl_contacts
    CL_EV_CONTACT               //  text: a contact whose identity state
                                //  changed (pinned anew, changed, verified)
} cl_event_kind_t;

typedef struct {
    cl_event_kind_t kind;
    chatclient_server_t server;     //  link and request events
    int code;
    const char *text;
    uint32_t retry_ms;
    const char *fingerprint;
    const char *pinned;
    const char *endpoint;           //  SKIPPED, FAILOVER; else NULL: the
    const char *from;               //  link's endpoint now
    const uint8_t *data;            //  REPLY, PUSH: borrowed, wiped after
    size_t size;
    chatclient_event_t *pub;        //  PUBLIC
} cl_event_t;

typedef void (cl_listener_fn) (void *arg, cl_event_t *event);

//  Where an object's events go: set by the object above it.
typedef struct {
    cl_listener_fn *fn;
    void *arg;
} cl_listener_t;

//  Tell the listener (if any).
void
    cl_listener_emit (const cl_listener_t *self, cl_event_t *event);
//  An event of this kind with nothing else to say.
void
    cl_listener_signal (const cl_listener_t *self, cl_event_kind_t kind,
                        chatclient_server_t server);
//  Pass a public event up (ownership passes too); destroyed when nobody
//  above keeps it.
void
    cl_listener_publish (const cl_listener_t *self, chatclient_event_t *pub);
//  Publish a failure (ERROR, REGISTER_FAILED or LOGIN_FAILED), worded as
//  cl_event_failure does.
void
    cl_listener_fail (const cl_listener_t *self, chatclient_event_type_t type,
                      uint32_t cmd, int code, const char *server_text,
                      uint32_t retry_ms);

//  ---------------------------------------------------------------- public

//  A new public event; the caller fills in the rest.
chatclient_event_t *
    cl_event_new (chatclient_event_type_t type, uint32_t cmd);
//  A failure with the report's wording for code where it has one, else
//  server_text.
chatclient_event_t *
    cl_event_failure (chatclient_event_type_t type, uint32_t cmd, int code,
                      const char *server_text, uint32_t retry_ms);
//  An event carrying a copy of a conversation.
chatclient_event_t *
    cl_event_conversation (chatclient_event_type_t type, uint32_t cmd,
                           const chatclient_conversation_t *conversation);
//  An event carrying a copy of a message.
chatclient_event_t *
    cl_event_message (chatclient_event_type_t type, uint32_t cmd,
                      const chatclient_message_t *message);

//  Deep copy of a conversation's public view, and its release.
void
    cl_conversation_copy (chatclient_conversation_t *dest,
                          const chatclient_conversation_t *src);
void
    cl_conversation_clear (chatclient_conversation_t *conversation);

//  strdup that passes NULL through.
char *
    cl_strdup (const char *text);

//  A new formatted string (NULL when out of memory).
char *
    cl_format (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

#endif
