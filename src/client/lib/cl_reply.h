/*  cl_reply - what each server reply and push does to the client

    Internal to libchatclient (see cl_client.h).
*/
#ifndef CL_REPLY_H_INCLUDED
#define CL_REPLY_H_INCLUDED

#include "chatclient.h"
#include "cl_link.h"

//  A sealed reply from the key server, opened.
void
    cl_reply_key (chatclient_t *self, link_t *link, const uint8_t *payload, size_t len);
//  A sealed reply from the main server, opened.
void
    cl_reply_main (chatclient_t *self, link_t *link, const uint8_t *payload, size_t len);
//  A frame from the main server's push socket.
void
    cl_reply_push (chatclient_t *self, const uint8_t *data, size_t size);

#endif
