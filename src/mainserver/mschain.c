/*  mschain - checking and reading membership chains; see mschain.h  */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "chaterror.h"
#include "credential.h"
#include "mschain.h"
#include "rsakey.h"

//  The statement of link, parsed; NULL when it does not parse
static Chat__MembershipStatement *
s_parse (const uint8_t *data, size_t len)
{
    if (!data || len == 0 || len > CHAIN_MAX_STATEMENT)
        return NULL;
    Chat__MembershipStatement *statement = NULL;
    if (wire_unpack (&chat__membership_statement__descriptor, data, len,
                     (ProtobufCMessage **) &statement) != CHAT_OK)
        return NULL;
    return statement;
}

//  Every member known and spelled as registered
static int
s_check_members (msreq_t *req, const Chat__MembershipStatement *statement)
{
    msgstore_user_t *user = (msgstore_user_t *) malloc (sizeof *user);
    if (!user)
        return CHAT_ERR_INTERNAL;
    int rc = CHAT_OK;
    for (size_t i = 0; rc == CHAT_OK && i < statement->n_members; i++) {
        const char *name = statement->members [i];
        rc = msgstore_user_get (req->ctx->store, name, user);
        if (rc == CHAT_ERR_UNKNOWN_USER) {
            char *text = (char *) msarena_alloc (req->arena, 80);
            snprintf (text, 80, "unknown user: %.32s", credential_username_valid (name)
                                                       ? name: "(not a valid name)");
            req->text = text;
        }
        else
        if (rc == CHAT_OK && strcmp (user->name, name) != 0) {
            char *text = (char *) msarena_alloc (req->arena, 120);
            snprintf (text, 120, "member %s is spelled %s here", name, user->name);
            req->text = text;
            rc = CHAT_ERR_BAD_STATEMENT;
        }
    }
    free (user);
    return rc;
}

//  The chain rules, and the signature with the actor's registered key:
//  link appended to chain (an empty one for a CREATE)
static int
s_check_signed (msreq_t *req, chain_t *chain, const Chat__SignedStatement *link,
                const char *actor)
{
    msgstore_user_t *user = (msgstore_user_t *) malloc (sizeof *user);
    if (!user)
        return CHAT_ERR_INTERNAL;
    int rc = msgstore_user_get (req->ctx->store, actor, user);
    rsakey_t *key = rc == CHAT_OK? rsakey_from_der (user->identity, user->identity_len): NULL;
    free (user);
    if (!key)
        return rc == CHAT_OK || rc == CHAT_ERR_UNKNOWN_USER? CHAT_ERR_INTERNAL: rc;
    bool first = chain_epoch (chain) == 0;
    rc = chain_append (chain, link, key);
    rsakey_destroy (&key);
    if (rc == CHAT_ERR_BAD_STATEMENT)
        req->text = first? "statement badly signed, or not a valid creation"
                         : "statement badly signed, or a change its actor may not make";
    else
    if (rc == CHAT_ERR_CHAIN_CONFLICT)
        req->text = first? "a conversation's first link is epoch 1, with no previous hash"
                         : "not built on the chain's current head: fetch the chain, "
                           "rebuild on its head and send again";
    return rc;
}

//  The session's user, as the store spells it, is the actor (nobody acts in
//  another's name, even with a statement that other signed), and the
//  membership is at most CHAIN_MAX_MEMBERS
static int
s_check_actor (msreq_t *req, const Chat__MembershipStatement *statement)
{
    if (!statement->actor || strcmp (statement->actor, req->session->username) != 0) {
        req->text = "the statement's actor must be the logged-in user";
        return CHAT_ERR_BAD_STATEMENT;
    }
    if (statement->n_members > CHAIN_MAX_MEMBERS) {
        req->text = "more than 256 members";
        return CHAT_ERR_TOO_MANY_MEMBERS;
    }
    return CHAT_OK;
}

int
mschain_check_create (msreq_t *req, const Chat__SignedStatement *link,
                      Chat__MembershipStatement **statement_p)
{
    assert (req && statement_p);
    *statement_p = NULL;
    Chat__MembershipStatement *statement = link? s_parse (link->statement.data,
                                                          link->statement.len): NULL;
    int rc = CHAT_OK;
    if (!statement) {
        req->text = "no statement, or one that does not parse";
        rc = CHAT_ERR_BAD_STATEMENT;
    }
    else
    if (statement->action != CHAT__STATEMENT_ACTION__ACTION_CREATE) {
        req->text = "a conversation starts with a CREATE statement";
        rc = CHAT_ERR_BAD_STATEMENT;
    }
    else
        rc = s_check_actor (req, statement);
    if (rc == CHAT_OK)
        rc = s_check_members (req, statement);
    chain_t *chain = NULL;
    if (rc == CHAT_OK) {
        chain = chain_new ();
        rc = chain? s_check_signed (req, chain, link, statement->actor): CHAT_ERR_INTERNAL;
    }
    chain_destroy (&chain);
    if (rc == CHAT_OK)
        *statement_p = statement;
    else
    if (statement)
        protobuf_c_message_free_unpacked (&statement->base, NULL);
    return rc;
}

int
mschain_check_change (msreq_t *req, const Chat__SignedStatement *link,
                      msgstore_conv_t *conv, Chat__MembershipStatement **statement_p)
{
    assert (req && conv && statement_p);
    *statement_p = NULL;
    Chat__MembershipStatement *statement = link? s_parse (link->statement.data,
                                                          link->statement.len): NULL;
    int rc = CHAT_OK;
    if (!statement) {
        req->text = "no statement, or one that does not parse";
        rc = CHAT_ERR_BAD_STATEMENT;
    }
    else
    //  Not a member (or no such conversation): the same answer as for
    //  every other request about it
    if ((rc = msgstore_conv_get_as_member (req->ctx->store, statement->conversation_id.data,
                                           statement->conversation_id.len,
                                           req->session->username, conv)) != CHAT_OK) {
        if (rc == CHAT_ERR_NOT_FOUND)
            req->text = "no such conversation";
    }
    else
    if (statement->action == CHAT__STATEMENT_ACTION__ACTION_CREATE) {
        req->text = "a CREATE starts a conversation (create_conversation)";
        rc = CHAT_ERR_BAD_STATEMENT;
    }
    else
        rc = s_check_actor (req, statement);
    //  Whether it follows the head first: a client that lost a race learns
    //  that before anything its rebuilt change may no longer say
    chain_t *chain = NULL;
    if (rc == CHAT_OK) {
        chain = mschain_load (req->ctx, conv);
        if (!chain)
            rc = CHAT_ERR_INTERNAL;
        else
        if (statement->epoch != chain_epoch (chain) + 1
        ||  statement->previous_hash.len != CHAIN_HASH_SIZE
        ||  memcmp (statement->previous_hash.data, chain_head_hash (chain),
                    CHAIN_HASH_SIZE) != 0) {
            req->text = "not built on the chain's current head: fetch the chain, "
                        "rebuild on its head and send again";
            rc = CHAT_ERR_CHAIN_CONFLICT;
        }
    }
    if (rc == CHAT_OK)
        rc = s_check_members (req, statement);
    if (rc == CHAT_OK)
        rc = s_check_signed (req, chain, link, statement->actor);
    chain_destroy (&chain);
    if (rc == CHAT_OK)
        *statement_p = statement;
    else
    if (statement)
        protobuf_c_message_free_unpacked (&statement->base, NULL);
    return rc;
}

typedef struct {
    uint8_t *statement;
    size_t statement_len;
    uint8_t *signature;
    size_t signature_len;
    bool found;
} link_copy_t;

static int
s_copy_link (const msgstore_link_t *link, void *arg)
{
    link_copy_t *copy = (link_copy_t *) arg;
    copy->statement = (uint8_t *) malloc (link->statement_len);
    copy->signature = (uint8_t *) malloc (link->signature_len);
    if (copy->statement && copy->signature) {
        memcpy (copy->statement, link->statement, link->statement_len);
        memcpy (copy->signature, link->signature, link->signature_len);
        copy->statement_len = link->statement_len;
        copy->signature_len = link->signature_len;
        copy->found = true;
    }
    return 1;
}

//  The stored link of one epoch, copied
static int
s_link (msctx_t *ctx, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t epoch, link_copy_t *copy)
{
    memset (copy, 0, sizeof *copy);
    if (epoch == 0)
        return CHAT_ERR_NOT_FOUND;
    int rc = msgstore_link_each (ctx->store, id, epoch - 1, 1, s_copy_link, copy);
    if (rc == CHAT_OK && !copy->found) {
        free (copy->statement);
        free (copy->signature);
        memset (copy, 0, sizeof *copy);
        rc = CHAT_ERR_NOT_FOUND;
    }
    return rc;
}

int
mschain_statement (msctx_t *ctx, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t epoch,
                   Chat__MembershipStatement **statement)
{
    assert (ctx && id && statement);
    link_copy_t copy;
    int rc = s_link (ctx, id, epoch, &copy);
    *statement = rc == CHAT_OK? s_parse (copy.statement, copy.statement_len): NULL;
    if (rc == CHAT_OK && (!*statement || (*statement)->epoch != epoch)) {
        zsys_error ("mainserver: a stored link does not parse (epoch %llu)",
                    (unsigned long long) epoch);
        if (*statement)
            protobuf_c_message_free_unpacked (&(*statement)->base, NULL);
        *statement = NULL;
        rc = CHAT_ERR_INTERNAL;
    }
    free (copy.statement);
    free (copy.signature);
    return rc;
}

chain_t *
mschain_load (msctx_t *ctx, const msgstore_conv_t *conv)
{
    assert (ctx && conv);
    link_copy_t copy;
    if (s_link (ctx, conv->id, conv->epoch, &copy) != CHAT_OK)
        return NULL;
    Chat__SignedStatement head = CHAT__SIGNED_STATEMENT__INIT;
    head.statement.data = copy.statement;
    head.statement.len = copy.statement_len;
    head.signature.data = copy.signature;
    head.signature.len = copy.signature_len;
    //  Stored links were checked on the way in: the head is taken as good
    chain_t *chain = chain_restore (conv->creator, &head);
    free (copy.statement);
    free (copy.signature);
    return chain;
}

int
mschain_ticket (msctx_t *ctx, const uint8_t id [MSGSTORE_ID_SIZE], uint64_t epoch,
                char **members, size_t count, const char *uploader,
                channel_t *channel, uint8_t **ticket, size_t *len)
{
    assert (ctx && id && members && uploader && channel && ticket && len);
    credential_ticket_t body;
    memcpy (body.conversation_id, id, CONVERSATION_ID_SIZE);
    body.epoch = epoch;
    body.members = members;
    body.member_count = count;
    body.uploader = (char *) uploader;
    int rc = credential_ticket_issue (ctx->server_key, &body,
                                      channel_peer_fingerprint (channel), wire_now (),
                                      ticket, len);
    if (rc != CHAT_OK) {
        zsys_error ("mainserver: could not issue a key ticket: %s", chat_strerror (rc));
        return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}
