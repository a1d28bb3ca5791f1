/*  msconv - the main server's conversation requests: create one from its
    signed CREATE statement, change one by a member's signed statement,
    list them, show one's members, hand out its
    membership chain, and issue key tickets to the actor of an epoch

    A conversation exists from its first link on; its membership is what
    its chain says. Key tickets are issued only where a client needs one:
    with a new conversation (created) and on request for an epoch whose
    statement the caller made (key_ticket), never with a listing.
*/
#ifndef MSCONV_H_INCLUDED
#define MSCONV_H_INCLUDED

#include "msreq.h"

#define MSCONV_CHAIN_PAGE 100           //  links in one get_chain reply, at most
                                        //  (and WIRE_PAGE_BYTES of them)
#define MSCONV_LIST_PAGE 100            //  summaries in one conversations reply
#define MSCONV_CURSOR_SIZE 24           //  created_at, id

int
    msconv_create (msreq_t *req, Chat__CreateConversationRequest *body);
//  Append a member's signed change to a conversation's chain (after
//  mschain_check_change), answer the new summary and, but for a LEAVE, a
//  key ticket for the new epoch; push the summary to the members before
//  and after the change.
int
    msconv_change (msreq_t *req, Chat__ChangeConversationRequest *body);
//  A page of the caller's conversations (MSCONV_LIST_PAGE, and
//  WIRE_PAGE_BYTES of summaries), with the cursor of the next.
int
    msconv_list (msreq_t *req, Chat__ListConversationsRequest *body);
int
    msconv_members (msreq_t *req, Chat__GetMembersRequest *body);
//  The caller accepts a message request (nothing to do for one accepted).
int
    msconv_accept (msreq_t *req, Chat__AcceptConversationRequest *body);
int
    msconv_chain (msreq_t *req, Chat__GetChainRequest *body);
int
    msconv_key_ticket (msreq_t *req, Chat__KeyTicketRequest *body);

//  The conversation named by id if the session's user is a member;
//  CHAT_ERR_NOT_FOUND (req->text set) for a non-member as for an unknown id.
int
    msconv_of_member (msreq_t *req, ProtobufCBinaryData id, msgstore_conv_t *conv);

//  A conversation created or changed by another server of the cluster
//  (its doorbell): the summary pushed to the sessions here of its members
//  before and after, as a change made here is (req->session NULL).
int
    msconv_push_changed (msreq_t *req, const uint8_t id [MSGSTORE_ID_SIZE]);

#endif
