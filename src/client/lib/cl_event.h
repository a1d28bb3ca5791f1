/*  cl_event - building the events a chatclient_t queues for its caller

    Internal to libchatclient (see cl_client.h).
*/
#ifndef CL_EVENT_H_INCLUDED
#define CL_EVENT_H_INCLUDED

#include "chatclient.h"

//  Queue a new event; the caller fills in the rest.
chatclient_event_t *
    cl_event_add (chatclient_t *self, chatclient_event_type_t type, uint32_t cmd);

//  Queue a failure (ERROR, REGISTER_FAILED or LOGIN_FAILED) with the
//  report's wording for code where it has one, else server_text.
void
    cl_event_error (chatclient_t *self, chatclient_event_type_t type, uint32_t cmd,
                    int code, const char *server_text, uint32_t retry_ms);

//  Queue an event carrying a copy of a conversation.
chatclient_event_t *
    cl_event_conversation (chatclient_t *self, chatclient_event_type_t type,
                           uint32_t cmd, const chatclient_conversation_t *conversation);

//  Queue an event carrying a copy of a message.
chatclient_event_t *
    cl_event_message (chatclient_t *self, chatclient_event_type_t type,
                      uint32_t cmd, const chatclient_message_t *message);

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
