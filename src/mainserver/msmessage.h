/*  msmessage - the main server's message requests: send one (under the
    conversation's current epoch, stored once per client message id, pushed
    to every other session of every member) and fetch them by page

    A message is an opaque Fernet token to this server: sealed by a member
    under the epoch's key, which no server holds.
*/
#ifndef MSMESSAGE_H_INCLUDED
#define MSMESSAGE_H_INCLUDED

#include "mainserver.h"
#include "msreq.h"

int
    msmessage_send (msreq_t *req, Chat__SendMessageRequest *body);
int
    msmessage_page (msreq_t *req, Chat__GetMessagesRequest *body);

#endif
