/*  msread - the main server's read markers: where each member stopped
    reading each conversation

    A marker only moves forward and never past the conversation's last
    message; the user's other sessions hear where it is now. The list of
    conversations (msconv) carries each marker and the number of messages
    from others after it, so unread counts survive a logout and agree
    across a user's sessions.
*/
#ifndef MSREAD_H_INCLUDED
#define MSREAD_H_INCLUDED

#include "mainserver.h"
#include "msreq.h"

//  mark_read: move the caller's marker, answer read{ReadState}, push it to
//  the caller's other sessions when it moved.
int
    msread_mark (msreq_t *req, Chat__MarkReadRequest *body);

#endif
