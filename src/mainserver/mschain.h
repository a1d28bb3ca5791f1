/*  mschain - the main server's side of membership chains: checking a
    conversation's first link before it is stored, reading a stored link,
    loading a stored chain as far as checking its next link needs, and key
    tickets for an epoch

    The rules themselves live in libchat (chain.h), once for the server and
    every client. What the main server adds is what only it knows: who is
    logged in, which users exist and how their names are spelled, and the
    identity key each registered with (the key a statement's signature is
    checked with).
*/
#ifndef MSCHAIN_H_INCLUDED
#define MSCHAIN_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "chain.h"
#include "channel.h"
#include "msgstore.h"
#include "msreq.h"

//  Check a CREATE sent by the session's user: a statement that parses, of
//  action CREATE, whose actor is the session's user, whose members (at
//  most CHAIN_MAX_MEMBERS) are known users spelled as registered, that
//  follows the chain rules and is signed by the actor's registered
//  identity key. CHAT_OK and the parsed statement (free with
//  protobuf_c_message_free_unpacked); else CHAT_ERR_BAD_STATEMENT,
//  CHAT_ERR_CHAIN_CONFLICT, CHAT_ERR_TOO_MANY_MEMBERS,
//  CHAT_ERR_UNKNOWN_USER or CHAT_ERR_INTERNAL, with req->text saying why.
int
    mschain_check_create (msreq_t *req, const Chat__SignedStatement *link,
                          Chat__MembershipStatement **statement);

//  Check a change (ADD, REMOVE, LEAVE, TITLE, ADMIN, REKEY) sent by the
//  session's user: a statement that parses, naming a conversation the
//  user is a member of (conv filled), whose actor is the session's user,
//  built on the stored head, whose members are known users spelled as
//  registered, that follows the chain rules and is signed by the actor's
//  registered identity key. CHAT_OK and the parsed statement; else
//  CHAT_ERR_NOT_FOUND, CHAT_ERR_CHAIN_CONFLICT, CHAT_ERR_BAD_STATEMENT,
//  CHAT_ERR_TOO_MANY_MEMBERS, CHAT_ERR_UNKNOWN_USER or CHAT_ERR_INTERNAL,
//  with req->text saying why.
int
    mschain_check_change (msreq_t *req, const Chat__SignedStatement *link,
                          msgstore_conv_t *conv, Chat__MembershipStatement **statement);

//  The statement of epoch `epoch` of a stored conversation, parsed.
//  CHAT_OK, CHAT_ERR_NOT_FOUND (no such link) or CHAT_ERR_INTERNAL.
int
    mschain_statement (msctx_t *ctx, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t epoch,
                       Chat__MembershipStatement **statement);

//  A stored conversation's chain, as far as checking its next link needs:
//  its head link and creator (chain_restore). NULL when it cannot be read.
chain_t *
    mschain_load (msctx_t *ctx, const msgstore_conv_t *conv);

//  A key ticket (signed with the server's key) letting uploader, on the
//  client key of channel, store the keys of epoch `epoch` wrapped for
//  exactly these members. CHAT_OK and a malloc'd SignedCredential, or
//  CHAT_ERR_INTERNAL.
int
    mschain_ticket (msctx_t *ctx, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t epoch,
                    char **members, size_t count, const char *uploader,
                    channel_t *channel, uint8_t **ticket, size_t *len);

#endif
