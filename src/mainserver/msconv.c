/*  msconv - conversation requests; see msconv.h  */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "chaterror.h"
#include "codec.h"
#include "msbell.h"
#include "msconv.h"
#include "mschain.h"
#include "msonline.h"
#include "msoutbox.h"

int
msconv_of_member (msreq_t *req, ProtobufCBinaryData id, msgstore_conv_t *conv)
{
    int rc = msgstore_conv_get_as_member (req->ctx->store, id.data, id.len,
                                          req->session->username, conv);
    if (rc == CHAT_ERR_NOT_FOUND)
        req->text = "no such conversation";
    return rc;
}

//  A ConversationSummary of conv, in the arena
static int
s_summary (msreq_t *req, const msgstore_conv_t *conv, Chat__ConversationSummary **out)
{
    Chat__ConversationSummary *summary = (Chat__ConversationSummary *)
        msarena_alloc (req->arena, sizeof *summary);
    chat__conversation_summary__init (summary);
    summary->conversation_id.data = (uint8_t *) msarena_memdup (req->arena, conv->id,
                                                                MSGSTORE_ID_SIZE);
    summary->conversation_id.len = MSGSTORE_ID_SIZE;
    summary->last_seq = conv->last_seq;
    summary->last_time = conv->last_time;
    summary->epoch = conv->epoch;
    summary->title = msarena_strdup (req->arena, conv->title);
    summary->direct = conv->direct;
    summary->request = conv->request;
    zlistx_t *names;
    int rc = msgstore_conv_members (req->ctx->store, conv->id, &names);
    if (rc != CHAT_OK)
        return rc;
    summary->members = (char **) msarena_alloc (req->arena,
                                                sizeof (char *) * (zlistx_size (names) + 1));
    const char *name = (const char *) zlistx_first (names);
    while (name) {
        summary->members [summary->n_members++] = msarena_strdup (req->arena, name);
        name = (const char *) zlistx_next (names);
    }
    zlistx_destroy (&names);
    *out = summary;
    return CHAT_OK;
}

static void
s_reply_created (msreq_t *req, Chat__ConversationSummary *summary, uint8_t *ticket,
                 size_t ticket_len, bool existing)
{
    Chat__ConversationCreated *created = (Chat__ConversationCreated *)
        msarena_alloc (req->arena, sizeof *created);
    chat__conversation_created__init (created);
    created->conversation = summary;
    created->ticket.data = ticket;
    created->ticket.len = ticket_len;
    created->existing = existing;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_CREATED;
    req->reply->created = created;
}

//  summary goes to targets (malloc'd, taken), each session told whether
//  the conversation is a request for its user: one push for the sessions
//  of users it is no request for, another (request set) for the rest. The
//  reply may share summary: its request flag is as it was after.
static void
s_push_summary_to (msreq_t *req, Chat__ConversationSummary *summary,
                   msoutbox_target_t *targets, size_t count)
{
    msoutbox_target_t *asked = NULL;
    size_t asked_count = 0, kept = 0;
    //  One store read per user, not per session: a member's sessions come
    //  one after another (msonline_targets)
    const char *last_name = NULL;
    bool request = false;
    for (size_t index = 0; index < count; index++) {
        chansession_t *session = chanserver_lookup (req->ctx->chanserver, targets [index]);
        const char *name = session? session->username: NULL;
        if (!name)
            request = false;
        else
        if (!last_name || strcmp (name, last_name) != 0) {
            msgstore_conv_t as;
            request = msgstore_conv_get_as_member (req->ctx->store,
                                                   summary->conversation_id.data,
                                                   summary->conversation_id.len,
                                                   name, &as) == CHAT_OK
                   && as.request;
        }
        last_name = name;
        if (request) {
            if (!asked) {
                asked = (msoutbox_target_t *) malloc (count * sizeof (msoutbox_target_t));
                assert (asked);
            }
            memcpy (asked [asked_count++], targets [index], sizeof (msoutbox_target_t));
        }
        else
            memmove (targets [kept++], targets [index], sizeof (msoutbox_target_t));
    }
    bool was = summary->request;
    Chat__Push push = CHAT__PUSH__INIT;
    push.body_case = CHAT__PUSH__BODY_CONVERSATION;
    push.conversation = summary;
    summary->request = false;
    msoutbox_push (req->pushes, req->sender, targets, kept, &push.base);
    summary->request = true;
    msoutbox_push (req->pushes, req->sender, asked, asked_count, &push.base);
    summary->request = was;
}

//  The members' other sessions hear of a conversation
static int
s_push_summary (msreq_t *req, const msgstore_conv_t *conv,
                Chat__ConversationSummary *summary)
{
    msoutbox_target_t *targets;
    size_t count;
    int rc = msonline_targets (req->ctx->online, req->ctx->store, conv->id, req->session,
                               &targets, &count);
    if (rc != CHAT_OK)
        return rc;
    s_push_summary_to (req, summary, targets, count);
    return CHAT_OK;
}

//  Store the conversation a checked CREATE makes
static int
s_store (msreq_t *req, const Chat__SignedStatement *link,
         const Chat__MembershipStatement *statement, msgstore_conv_t *conv)
{
    memset (conv, 0, sizeof *conv);
    memcpy (conv->id, statement->conversation_id.data, MSGSTORE_ID_SIZE);
    conv->created_at = wire_now_ms ();
    conv->direct = statement->direct;
    snprintf (conv->title, sizeof conv->title, "%s", statement->title);
    snprintf (conv->creator, sizeof conv->creator, "%s", statement->actor);
    msgstore_link_t stored = {
        .conversation_id = conv->id,
        .epoch = 1,
        .statement = link->statement.data,
        .statement_len = link->statement.len,
        .signature = link->signature.data,
        .signature_len = link->signature.len,
        .actor = statement->actor,
        .action = CHAIN_CREATE
    };
    int rc = msgstore_conv_create (req->ctx->store, conv,
                                   (const char *const *) statement->members,
                                   statement->n_members, &stored);
    if (rc == CHAT_ERR_BAD_REQUEST)
        req->text = "conversation id in use";
    if (rc == CHAT_OK)
        rc = msgstore_conv_get (req->ctx->store, conv->id, MSGSTORE_ID_SIZE, conv);
    return rc;
}

//  The quota of conversations others put each of names in
static int
s_added_check (msreq_t *req, char **names, size_t count)
{
    msquota_refusal_t refusal;
    int rc = msquota_added_check (req->ctx->quotas, req->session->username, names, count,
                                  &refusal);
    if (rc != CHAT_OK) {
        req->text = msarena_strdup (req->arena, refusal.text);
        req->retry_ms = refusal.retry_ms;
    }
    return rc;
}

int
msconv_create (msreq_t *req, Chat__CreateConversationRequest *body)
{
    Chat__MembershipStatement *statement = NULL;
    int rc = mschain_check_create (req, body->statement, &statement);
    if (rc != CHAT_OK)
        return rc;
    //  The quota is checked for any valid CREATE (also one that only opens
    //  an existing direct conversation), charged only for a new one
    msquota_refusal_t refusal;
    if (msquota_conversation_check (req->ctx->quotas, req->session->username,
                                    &refusal) != CHAT_OK) {
        protobuf_c_message_free_unpacked (&statement->base, NULL);
        req->text = msarena_strdup (req->arena, refusal.text);
        req->retry_ms = refusal.retry_ms;
        return refusal.code;
    }
    msgstore_conv_t conv;
    Chat__ConversationSummary *summary = NULL;
    //  Two people have one direct conversation: a second CREATE opens it
    bool existing = statement->direct
                 && msgstore_conv_find_direct (req->ctx->store, statement->members [0],
                                               statement->members [1], &conv) == CHAT_OK;
    if (!existing
    &&  msgstore_conv_get (req->ctx->store, statement->conversation_id.data,
                           statement->conversation_id.len, NULL) == CHAT_OK) {
        req->text = "conversation id in use";
        rc = CHAT_ERR_BAD_REQUEST;
    }
    //  Nobody is put in more conversations an hour than added_per_hour
    if (rc == CHAT_OK && !existing)
        rc = s_added_check (req, statement->members, statement->n_members);
    if (rc == CHAT_OK && !existing) {
        rc = s_store (req, body->statement, statement, &conv);
        if (rc == CHAT_OK) {
            msquota_conversation_take (req->ctx->quotas, req->session->username);
            msquota_added_take (req->ctx->quotas, req->session->username,
                                statement->members, statement->n_members);
        }
    }
    if (rc == CHAT_OK)
        rc = s_summary (req, &conv, &summary);
    uint8_t *ticket = NULL;
    size_t ticket_len = 0;
    if (rc == CHAT_OK && !existing)
        rc = mschain_ticket (req->ctx, conv.id, 1, statement->members, statement->n_members,
                             statement->actor, req->session->channel, &ticket, &ticket_len);
    if (rc == CHAT_OK) {
        if (ticket)
            msarena_keep (req->arena, ticket);
        s_reply_created (req, summary, ticket, ticket_len, existing);
        if (!existing) {
            char *hex = codec_hex (conv.id, 8);
            zsys_info ("create: conversation %s.. of %zu members by %s%s", hex? hex: "?",
                       statement->n_members, req->session->username,
                       conv.direct? " (direct)": "");
            free (hex);
            rc = s_push_summary (req, &conv, summary);
            if (req->ctx->bell)
                msbell_changed (req->ctx->bell, conv.id);
        }
    }
    protobuf_c_message_free_unpacked (&statement->base, NULL);
    return rc;
}

static int
s_target_compare (const void *a, const void *b)
{
    return memcmp (a, b, sizeof (msoutbox_target_t));
}

//  The sessions of the members before a change (before) and after it
//  (the store's now), each once
static int
s_change_targets (msreq_t *req, const uint8_t id [MSGSTORE_ID_SIZE],
                  msoutbox_target_t *before, size_t before_count,
                  msoutbox_target_t **targets_p, size_t *count_p)
{
    msoutbox_target_t *after;
    size_t after_count;
    msonline_members_changed (req->ctx->online, id);
    int rc = msonline_targets (req->ctx->online, req->ctx->store, id, req->session,
                               &after, &after_count);
    if (rc != CHAT_OK)
        return rc;
    size_t count = before_count + after_count;
    msoutbox_target_t *targets = count? (msoutbox_target_t *)
        malloc (count * sizeof (msoutbox_target_t)): NULL;
    assert (targets || count == 0);
    if (before_count)
        memcpy (targets, before, before_count * sizeof (msoutbox_target_t));
    if (after_count)
        memcpy (targets + before_count, after, after_count * sizeof (msoutbox_target_t));
    free (after);
    //  Sorted, then each once
    if (count)
        qsort (targets, count, sizeof (msoutbox_target_t), s_target_compare);
    size_t unique = 0;
    for (size_t index = 0; index < count; index++)
        if (unique == 0 || memcmp (targets [unique - 1], targets [index],
                                   sizeof (msoutbox_target_t)) != 0)
            memmove (targets [unique++], targets [index], sizeof (msoutbox_target_t));
    *targets_p = targets;
    *count_p = unique;
    return CHAT_OK;
}

static const char *
s_action_name (int action)
{
    switch (action) {
        case CHAIN_ADD:     return "add";
        case CHAIN_REMOVE:  return "remove";
        case CHAIN_LEAVE:   return "leave";
        case CHAIN_TITLE:   return "title";
        case CHAIN_ADMIN:   return "admin";
        case CHAIN_REKEY:   return "rekey";
        default:            return "?";
    }
}

int
msconv_change (msreq_t *req, Chat__ChangeConversationRequest *body)
{
    msgstore_conv_t conv;
    Chat__MembershipStatement *statement = NULL;
    int rc = mschain_check_change (req, body->statement, &conv, &statement);
    if (rc != CHAT_OK)
        return rc;
    bool add = statement->action == CHAT__STATEMENT_ACTION__ACTION_ADD;
    if (add && (rc = s_added_check (req, statement->subjects, statement->n_subjects))) {
        protobuf_c_message_free_unpacked (&statement->base, NULL);
        return rc;
    }
    //  Who hears of it: the members before (a leaver's or removed member's
    //  other sessions learn they are out) and after (who was added)
    msoutbox_target_t *before = NULL;
    size_t before_count = 0;
    rc = msonline_targets (req->ctx->online, req->ctx->store, conv.id, req->session,
                           &before, &before_count);
    msgstore_link_t stored = {
        .conversation_id = conv.id,
        .epoch = statement->epoch,
        .statement = body->statement->statement.data,
        .statement_len = body->statement->statement.len,
        .signature = body->statement->signature.data,
        .signature_len = body->statement->signature.len,
        .actor = statement->actor,
        .action = (int) statement->action
    };
    if (rc == CHAT_OK)
        rc = msgstore_conv_append (req->ctx->store, &stored, statement->title,
                                   (const char *const *) statement->members,
                                   statement->n_members);
    //  The member cache answers who may send (msmessage.c): told at once,
    //  whatever fails after
    if (rc == CHAT_OK)
        msonline_members_changed (req->ctx->online, conv.id);
    if (rc == CHAT_ERR_CHAIN_CONFLICT)
        req->text = "not built on the chain's current head: fetch the chain, "
                    "rebuild on its head and send again";
    if (rc == CHAT_OK && add)
        msquota_added_take (req->ctx->quotas, req->session->username, statement->subjects,
                            statement->n_subjects);
    if (rc == CHAT_OK)
        rc = msgstore_conv_get (req->ctx->store, conv.id, MSGSTORE_ID_SIZE, &conv);
    Chat__ConversationSummary *summary = NULL;
    if (rc == CHAT_OK)
        rc = s_summary (req, &conv, &summary);
    uint8_t *ticket = NULL;
    size_t ticket_len = 0;
    if (rc == CHAT_OK && statement->action != CHAT__STATEMENT_ACTION__ACTION_LEAVE)
        rc = mschain_ticket (req->ctx, conv.id, conv.epoch, statement->members,
                             statement->n_members, statement->actor,
                             req->session->channel, &ticket, &ticket_len);
    msoutbox_target_t *targets = NULL;
    size_t count = 0;
    if (rc == CHAT_OK)
        rc = s_change_targets (req, conv.id, before, before_count, &targets, &count);
    free (before);
    if (rc == CHAT_OK) {
        if (ticket)
            msarena_keep (req->arena, ticket);
        Chat__ConversationChanged *changed = (Chat__ConversationChanged *)
            msarena_alloc (req->arena, sizeof *changed);
        chat__conversation_changed__init (changed);
        changed->conversation = summary;
        changed->ticket.data = ticket;
        changed->ticket.len = ticket_len;
        req->reply->body_case = CHAT__MAIN_REPLY__BODY_CHANGED;
        req->reply->changed = changed;
        char *hex = codec_hex (conv.id, 8);
        zsys_info ("change: conversation %s.. epoch %llu: %s by %s, %zu members",
                   hex? hex: "?", (unsigned long long) conv.epoch,
                   s_action_name ((int) statement->action), req->session->username,
                   statement->n_members);
        free (hex);
        s_push_summary_to (req, summary, targets, count);
        if (req->ctx->bell)
            msbell_changed (req->ctx->bell, conv.id);
    }
    else {
        free (ticket);
        free (targets);
    }
    protobuf_c_message_free_unpacked (&statement->base, NULL);
    return rc;
}

typedef struct {
    msreq_t *req;
    zlistx_t *convs;            //  msgstore_conv_t copies
} conv_collect_t;

static int
s_collect_conv (const msgstore_conv_t *conv, void *arg)
{
    conv_collect_t *collect = (conv_collect_t *) arg;
    zlistx_add_end (collect->convs, msarena_memdup (collect->req->arena, conv, sizeof *conv));
    return 0;
}

//  The cursor after conv: its created_at (big-endian) and id
static void
s_cursor (msreq_t *req, const msgstore_conv_t *conv, ProtobufCBinaryData *cursor)
{
    uint8_t *data = (uint8_t *) msarena_alloc (req->arena, MSCONV_CURSOR_SIZE);
    for (int i = 0; i < 8; i++)
        data [i] = (uint8_t) ((uint64_t) conv->created_at >> (56 - 8 * i));
    memcpy (data + 8, conv->id, MSGSTORE_ID_SIZE);
    cursor->data = data;
    cursor->len = MSCONV_CURSOR_SIZE;
}

//  What a cursor says: CHAT_OK, or CHAT_ERR_BAD_REQUEST for one we never made
static int
s_cursor_read (const ProtobufCBinaryData *cursor, msgstore_conv_t *after)
{
    if (cursor->len != MSCONV_CURSOR_SIZE)
        return CHAT_ERR_BAD_REQUEST;
    memset (after, 0, sizeof *after);
    uint64_t created_at = 0;
    for (int i = 0; i < 8; i++)
        created_at = (created_at << 8) | cursor->data [i];
    after->created_at = (int64_t) created_at;
    memcpy (after->id, cursor->data + 8, MSGSTORE_ID_SIZE);
    return CHAT_OK;
}

int
msconv_list (msreq_t *req, Chat__ListConversationsRequest *body)
{
    msgstore_conv_t after;
    bool from_cursor = body && body->cursor.len > 0;
    if (from_cursor && s_cursor_read (&body->cursor, &after) != CHAT_OK) {
        req->text = "not a cursor this server gave";
        return CHAT_ERR_BAD_REQUEST;
    }
    conv_collect_t collect = { req, zlistx_new () };
    assert (collect.convs);
    //  One more than a page tells whether there is more
    int rc = msgstore_conv_page_of (req->ctx->store, req->session->username,
                                    from_cursor? &after: NULL, MSCONV_LIST_PAGE + 1,
                                    s_collect_conv, &collect);
    Chat__ConversationList *list = (Chat__ConversationList *)
        msarena_alloc (req->arena, sizeof *list);
    chat__conversation_list__init (list);
    list->conversations = (Chat__ConversationSummary **)
        msarena_alloc (req->arena, sizeof (void *) * (MSCONV_LIST_PAGE + 1));
    size_t bytes = 0;
    bool more = false;
    const msgstore_conv_t *last = NULL;
    msgstore_conv_t *conv = (msgstore_conv_t *) zlistx_first (collect.convs);
    while (rc == CHAT_OK && conv) {
        Chat__ConversationSummary *summary = NULL;
        if (list->n_conversations == MSCONV_LIST_PAGE) {
            more = true;
            break;
        }
        rc = s_summary (req, conv, &summary);
        //  Where the user stopped reading (msread keeps it), so unread
        //  counts survive a logout and agree across the user's sessions
        if (rc == CHAT_OK)
            rc = msgstore_read_state (req->ctx->store, conv->id, req->session->username,
                                      &summary->read_seq, &summary->unread);
        if (rc != CHAT_OK)
            break;
        //  At most a page of bytes too (256 members of long names make a
        //  summary of about 9 KB); always at least one
        size_t size = protobuf_c_message_get_packed_size (&summary->base) + 8;
        if (list->n_conversations > 0 && bytes + size > WIRE_PAGE_BYTES) {
            more = true;
            break;
        }
        bytes += size;
        list->conversations [list->n_conversations++] = summary;
        last = conv;
        conv = (msgstore_conv_t *) zlistx_next (collect.convs);
    }
    if (rc == CHAT_OK && more && last)
        s_cursor (req, last, &list->next_cursor);
    zlistx_destroy (&collect.convs);
    if (rc != CHAT_OK)
        return rc;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_CONVERSATIONS;
    req->reply->conversations = list;
    return CHAT_OK;
}

int
msconv_accept (msreq_t *req, Chat__AcceptConversationRequest *body)
{
    msgstore_conv_t conv;
    int rc = msconv_of_member (req, body->conversation_id, &conv);
    if (rc == CHAT_OK && conv.request) {
        rc = msgstore_member_accept (req->ctx->store, conv.id, req->session->username);
        //  Pushes reach the member from now on
        msonline_members_changed (req->ctx->online, conv.id);
        if (rc == CHAT_OK)
            rc = msconv_of_member (req, body->conversation_id, &conv);
    }
    Chat__ConversationSummary *summary = NULL;
    if (rc == CHAT_OK)
        rc = s_summary (req, &conv, &summary);
    if (rc != CHAT_OK)
        return rc == CHAT_ERR_NOT_FOUND? rc: CHAT_ERR_INTERNAL;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_ACCEPTED;
    req->reply->accepted = summary;
    return CHAT_OK;
}

int
msconv_members (msreq_t *req, Chat__GetMembersRequest *body)
{
    msgstore_conv_t conv;
    int rc = msconv_of_member (req, body->conversation_id, &conv);
    Chat__ConversationSummary *summary = NULL;
    if (rc == CHAT_OK)
        rc = s_summary (req, &conv, &summary);
    if (rc != CHAT_OK)
        return rc;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_MEMBERS;
    req->reply->members = summary;
    return CHAT_OK;
}

typedef struct {
    msreq_t *req;
    Chat__Chain *chain;
    size_t bytes;                   //  statements and signatures so far
    bool more;
} link_collect_t;

static int
s_collect_link (const msgstore_link_t *link, void *arg)
{
    link_collect_t *collect = (link_collect_t *) arg;
    Chat__Chain *chain = collect->chain;
    //  At most a page of links, and of bytes (a page of the largest
    //  statements would not fit a frame once sealed); at least one link
    size_t bytes = link->statement_len + link->signature_len;
    if (chain->n_statements == MSCONV_CHAIN_PAGE
    || (chain->n_statements > 0 && collect->bytes + bytes > WIRE_PAGE_BYTES)) {
        collect->more = true;
        return 1;
    }
    collect->bytes += bytes;
    msarena_t *arena = collect->req->arena;
    Chat__SignedStatement *item = (Chat__SignedStatement *) msarena_alloc (arena, sizeof *item);
    chat__signed_statement__init (item);
    item->statement.data = (uint8_t *) msarena_memdup (arena, link->statement,
                                                       link->statement_len);
    item->statement.len = link->statement_len;
    item->signature.data = (uint8_t *) msarena_memdup (arena, link->signature,
                                                       link->signature_len);
    item->signature.len = link->signature_len;
    chain->statements [chain->n_statements++] = item;
    return 0;
}

int
msconv_chain (msreq_t *req, Chat__GetChainRequest *body)
{
    msgstore_conv_t conv;
    int rc = msconv_of_member (req, body->conversation_id, &conv);
    if (rc != CHAT_OK)
        return rc;
    Chat__Chain *chain = (Chat__Chain *) msarena_alloc (req->arena, sizeof *chain);
    chat__chain__init (chain);
    chain->conversation_id.data = (uint8_t *) msarena_memdup (req->arena, conv.id,
                                                              MSGSTORE_ID_SIZE);
    chain->conversation_id.len = MSGSTORE_ID_SIZE;
    chain->statements = (Chat__SignedStatement **)
        msarena_alloc (req->arena, sizeof (void *) * MSCONV_CHAIN_PAGE);
    link_collect_t collect = { req, chain, 0, false };
    //  One link more than a page tells whether there is more
    rc = msgstore_link_each (req->ctx->store, conv.id, body->after_epoch,
                             MSCONV_CHAIN_PAGE + 1, s_collect_link, &collect);
    if (rc != CHAT_OK)
        return rc;
    chain->more = collect.more;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_CHAIN;
    req->reply->chain = chain;
    return CHAT_OK;
}

int
msconv_key_ticket (msreq_t *req, Chat__KeyTicketRequest *body)
{
    msgstore_conv_t conv;
    int rc = msconv_of_member (req, body->conversation_id, &conv);
    if (rc != CHAT_OK)
        return rc;
    if (body->epoch == 0 || body->epoch > conv.epoch) {
        req->text = "no such epoch";
        return CHAT_ERR_NOT_FOUND;
    }
    Chat__MembershipStatement *statement = NULL;
    rc = mschain_statement (req->ctx, conv.id, body->epoch, &statement);
    if (rc != CHAT_OK)
        return rc == CHAT_ERR_NOT_FOUND? CHAT_ERR_INTERNAL: rc;
    uint8_t *ticket = NULL;
    size_t ticket_len = 0;
    if (statement->action == CHAT__STATEMENT_ACTION__ACTION_LEAVE) {
        req->text = "a LEAVE epoch has no key";
        rc = CHAT_ERR_BAD_REQUEST;
    }
    else
    if (strcmp (statement->actor, req->session->username) != 0) {
        req->text = "only the member who made the epoch's statement uploads its keys";
        rc = CHAT_ERR_BAD_REQUEST;
    }
    else
        rc = mschain_ticket (req->ctx, conv.id, body->epoch, statement->members,
                             statement->n_members, statement->actor,
                             req->session->channel, &ticket, &ticket_len);
    protobuf_c_message_free_unpacked (&statement->base, NULL);
    if (rc != CHAT_OK)
        return rc;
    Chat__KeyTicketReply *reply = (Chat__KeyTicketReply *)
        msarena_alloc (req->arena, sizeof *reply);
    chat__key_ticket_reply__init (reply);
    reply->conversation_id.data = (uint8_t *) msarena_memdup (req->arena, conv.id,
                                                              MSGSTORE_ID_SIZE);
    reply->conversation_id.len = MSGSTORE_ID_SIZE;
    reply->epoch = body->epoch;
    reply->ticket.data = (uint8_t *) msarena_keep (req->arena, ticket);
    reply->ticket.len = ticket_len;
    req->reply->body_case = CHAT__MAIN_REPLY__BODY_KEY_TICKET;
    req->reply->key_ticket = reply;
    return CHAT_OK;
}

int
msconv_push_changed (msreq_t *req, const uint8_t id [MSGSTORE_ID_SIZE])
{
    //  Who was a member here before (as far as the cache knows: a removed
    //  member's sessions learn they are out) and who is one now
    msoutbox_target_t *before = NULL;
    size_t before_count = 0;
    int rc = msonline_targets (req->ctx->online, req->ctx->store, id, NULL,
                               &before, &before_count);
    msoutbox_target_t *targets = NULL;
    size_t count = 0;
    if (rc == CHAT_OK)
        rc = s_change_targets (req, id, before, before_count, &targets, &count);
    free (before);
    msgstore_conv_t conv;
    if (rc == CHAT_OK && count > 0)
        rc = msgstore_conv_get (req->ctx->store, id, MSGSTORE_ID_SIZE, &conv);
    Chat__ConversationSummary *summary = NULL;
    if (rc == CHAT_OK && count > 0)
        rc = s_summary (req, &conv, &summary);
    if (rc == CHAT_OK && count > 0)
        s_push_summary_to (req, summary, targets, count);
    else
        free (targets);
    return rc;
}
