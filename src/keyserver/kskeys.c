/*  kskeys - key directory and wrapped epoch keys; see kskeys.h  */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "channel.h"
#include "chaterror.h"
#include "credential.h"
#include "keystore.h"
#include "kskeys.h"

void
kskeys_get_identities (ksctx_t *ctx, chansession_t *session,
                       const Chat__GetIdentitiesRequest *req, ksreply_t *r)
{
    if (!session->username) {
        ksreply_error (r, CHAT_ERR_NOT_LOGGED_IN, NULL);
        return;
    }
    if (req->n_usernames == 0 || req->n_usernames > KSKEYS_MAX_NAMES) {
        ksreply_error (r, CHAT_ERR_BAD_REQUEST, "ask for 1 to 256 names");
        return;
    }
    Chat__Identities *list = &r->identities;
    list->identities = (Chat__Identity **)
        ksreply_alloc (r, req->n_usernames * sizeof (Chat__Identity *));
    keystore_user_t *user = (keystore_user_t *) malloc (sizeof *user);
    if (!user) {
        ksreply_error (r, CHAT_ERR_INTERNAL, NULL);
        return;
    }
    for (size_t i = 0; i < req->n_usernames; i++) {
        //  Names that cannot exist are unknown names: left out
        if (!credential_username_valid (req->usernames [i]))
            continue;
        int rc = keystore_user_lookup (ctx->store, req->usernames [i], user);
        if (rc == CHAT_ERR_NOT_FOUND)
            continue;
        if (rc != CHAT_OK) {
            free (user);
            ksreply_error (r, CHAT_ERR_INTERNAL, NULL);
            return;
        }
        Chat__Identity *identity = (Chat__Identity *) ksreply_alloc (r, sizeof *identity);
        chat__identity__init (identity);
        identity->username = (char *) ksreply_keep (r, strdup (user->username));
        identity->public_key.data = (uint8_t *) ksreply_alloc (r, user->identity_len);
        memcpy (identity->public_key.data, user->identity, user->identity_len);
        identity->public_key.len = user->identity_len;
        list->identities [list->n_identities++] = identity;
    }
    free (user);
    r->reply.body_case = CHAT__KEY_REPLY__BODY_IDENTITIES;
    r->reply.identities = list;
}

//  The copies of req in the ticket's spelling, one per member of the
//  ticket, each member once (names compared regardless of case). NULL and
//  *why when they are not exactly the ticket's members.
static keystore_wrapped_t *
s_match_members (const Chat__PutKeysRequest *req, const credential_ticket_t *ticket,
                 const char **why)
{
    if (req->n_keys != ticket->member_count) {
        *why = "the keys must be exactly one per member the ticket names";
        return NULL;
    }
    keystore_wrapped_t *keys = (keystore_wrapped_t *) calloc (req->n_keys, sizeof *keys);
    bool *taken = (bool *) calloc (ticket->member_count, sizeof (bool));
    bool ok = keys && taken;
    if (!ok)
        *why = "out of memory";
    for (size_t i = 0; ok && i < req->n_keys; i++) {
        const Chat__WrappedKey *key = req->keys [i];
        size_t member = 0;
        while (member < ticket->member_count
           &&  (!key->username || strcasecmp (key->username, ticket->members [member])))
            member++;
        if (member == ticket->member_count || taken [member]) {
            *why = "the keys must be exactly one per member the ticket names";
            ok = false;
        }
        else
        if (!key->wrapped_key.data || key->wrapped_key.len < KEYSTORE_WRAPPED_MIN
        ||  key->wrapped_key.len > KEYSTORE_WRAPPED_MAX) {
            *why = "a wrapped key must be 256 to 512 bytes";
            ok = false;
        }
        else {
            taken [member] = true;
            keys [i].username = ticket->members [member];
            keys [i].wrapped = key->wrapped_key.data;
            keys [i].wrapped_len = key->wrapped_key.len;
        }
    }
    free (taken);
    if (!ok) {
        free (keys);
        keys = NULL;
    }
    return keys;
}

void
kskeys_put (ksctx_t *ctx, chansession_t *session, const Chat__PutKeysRequest *req,
            ksreply_t *r)
{
    if (!session->username) {
        ksreply_error (r, CHAT_ERR_NOT_LOGGED_IN, NULL);
        return;
    }
    credential_ticket_t *ticket = NULL;
    //  Any key of the main server's file: its new one, and during a
    //  changeover its old one too
    int rc = CHAT_ERR_BAD_TICKET;
    for (size_t i = 0; rc != CHAT_OK && i < peerkeys_count (ctx->mainserver_keys); i++)
        rc = credential_ticket_check (peerkeys_key (ctx->mainserver_keys, i),
                                      req->ticket.data, req->ticket.len, session->username,
                                      channel_peer_fingerprint (session->channel),
                                      wire_now (), &ticket);
    if (rc != CHAT_OK) {
        zsys_info ("keyserver: keys from %s refused: bad ticket (session %.8s)",
                   session->username, session->id_hex);
        ksreply_error (r, CHAT_ERR_BAD_TICKET, NULL);
        return;
    }
    char id_hex [9];
    for (int i = 0; i < 4; i++)
        snprintf (id_hex + 2 * i, 3, "%02x", ticket->conversation_id [i]);
    const char *why = NULL;
    keystore_wrapped_t *keys = s_match_members (req, ticket, &why);
    bool duplicate = false;
    rc = keys? keystore_keys_put (ctx->store, ticket->conversation_id, ticket->epoch,
                                     ticket->uploader, keys, req->n_keys,
                                     wire_now_ms (), &duplicate)
                : CHAT_ERR_BAD_REQUEST;
    free (keys);
    if (rc != CHAT_OK) {
        zsys_info ("keyserver: keys of %s.. epoch %llu from %s refused: %s",
                   id_hex, (unsigned long long) ticket->epoch, session->username,
                   chat_errname (rc));
        ksreply_error (r, rc, why);
        credential_ticket_destroy (&ticket);
        return;
    }
    zsys_info ("keyserver: keys of %s.. epoch %llu from %s: %zu copies%s", id_hex,
               (unsigned long long) ticket->epoch, session->username, req->n_keys,
               duplicate? " (sent again)": "");
    memcpy (r->conversation_id, ticket->conversation_id, CONVERSATION_ID_SIZE);
    r->keys_stored.conversation_id.data = r->conversation_id;
    r->keys_stored.conversation_id.len = CONVERSATION_ID_SIZE;
    r->keys_stored.epoch = ticket->epoch;
    r->keys_stored.duplicate = duplicate;
    r->reply.body_case = CHAT__KEY_REPLY__BODY_KEYS_STORED;
    r->reply.keys_stored = &r->keys_stored;
    credential_ticket_destroy (&ticket);
}

typedef struct {
    ksreply_t *reply;
    Chat__EpochKeys *page;
    bool more;
} key_collect_t;

static int
s_collect_key (uint64_t epoch, const uint8_t *wrapped, size_t len, const char *uploader,
               void *arg)
{
    key_collect_t *collect = (key_collect_t *) arg;
    Chat__EpochKeys *page = collect->page;
    if (page->n_keys == KSKEYS_PAGE) {
        collect->more = true;
        return 1;
    }
    ksreply_t *r = collect->reply;
    Chat__EpochKey *key = (Chat__EpochKey *) ksreply_alloc (r, sizeof *key);
    chat__epoch_key__init (key);
    key->epoch = epoch;
    key->wrapped_key.data = (uint8_t *) ksreply_alloc (r, len);
    memcpy (key->wrapped_key.data, wrapped, len);
    key->wrapped_key.len = len;
    key->uploader = (char *) ksreply_keep (r, strdup (uploader));
    page->keys [page->n_keys++] = key;
    return 0;
}

void
kskeys_get (ksctx_t *ctx, chansession_t *session, const Chat__GetKeysRequest *req,
            ksreply_t *r)
{
    if (!session->username) {
        ksreply_error (r, CHAT_ERR_NOT_LOGGED_IN, NULL);
        return;
    }
    if (!req->conversation_id.data || req->conversation_id.len != CONVERSATION_ID_SIZE) {
        ksreply_error (r, CHAT_ERR_BAD_REQUEST, "conversation id must be 16 bytes");
        return;
    }
    memcpy (r->conversation_id, req->conversation_id.data, CONVERSATION_ID_SIZE);
    Chat__EpochKeys *page = &r->epoch_keys;
    page->conversation_id.data = r->conversation_id;
    page->conversation_id.len = CONVERSATION_ID_SIZE;
    page->keys = (Chat__EpochKey **) ksreply_alloc (r, KSKEYS_PAGE * sizeof (void *));
    key_collect_t collect = { r, page, false };
    //  One row more than a page tells whether there is more
    int rc = keystore_keys_of (ctx->store, r->conversation_id, session->username,
                               req->from_epoch > 1? req->from_epoch: 1, KSKEYS_PAGE + 1,
                               s_collect_key, &collect);
    if (rc != CHAT_OK) {
        ksreply_error (r, CHAT_ERR_INTERNAL, NULL);
        return;
    }
    page->more = collect.more;
    r->reply.body_case = CHAT__KEY_REPLY__BODY_EPOCH_KEYS;
    r->reply.epoch_keys = page;
}
