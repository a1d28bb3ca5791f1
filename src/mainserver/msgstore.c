/*  msgstore - the store opened by URL, calling through to its engine
    (msgstore_backend.h); see msgstore.h  */
#include <stdlib.h>
#include <string.h>
#include "chaterror.h"
#include "msgstore.h"
#include "msgstore_backend.h"
#include "msgstore_pg.h"
#include "msgstore_sqlite.h"

struct _msgstore_t {
    const msgstore_backend_t *backend;
    msgstore_db_t *db;
};

//  The engine a URL names and where, in the URL, its location starts
static const msgstore_backend_t *
s_backend (const char *url, const char **location)
{
    if (strncmp (url, "postgresql://", 13) == 0 || strncmp (url, "postgres://", 11) == 0) {
        *location = url;
        return &msgstore_pg_backend;
    }
    *location = strncmp (url, "sqlite:", 7) == 0? url + 7: url;
    return &msgstore_sqlite_backend;
}

msgstore_t *
msgstore_open (const char *url)
{
    assert (url);
    const char *location;
    const msgstore_backend_t *backend = s_backend (url, &location);
    if (!*location) {
        zsys_error ("msgstore: %s names no database", url);
        return NULL;
    }
    msgstore_db_t *db = backend->open (location);
    if (!db)
        return NULL;
    msgstore_t *self = (msgstore_t *) zmalloc (sizeof (msgstore_t));
    assert (self);
    self->backend = backend;
    self->db = db;
    return self;
}

void
msgstore_destroy (msgstore_t **self_p)
{
    assert (self_p);
    msgstore_t *self = *self_p;
    if (self) {
        self->backend->destroy (&self->db);
        free (self);
        *self_p = NULL;
    }
}

const char *
msgstore_engine (msgstore_t *self)
{
    assert (self);
    return self->backend->name;
}

int
msgstore_begin (msgstore_t *self)
{
    assert (self);
    return self->backend->begin (self->db);
}

int
msgstore_commit (msgstore_t *self)
{
    assert (self);
    return self->backend->commit (self->db);
}

int
msgstore_rollback (msgstore_t *self)
{
    assert (self);
    return self->backend->rollback (self->db);
}

int
msgstore_savepoint (msgstore_t *self)
{
    assert (self);
    return self->backend->savepoint (self->db);
}

int
msgstore_savepoint_release (msgstore_t *self)
{
    assert (self);
    return self->backend->savepoint_release (self->db);
}

int
msgstore_savepoint_rollback (msgstore_t *self)
{
    assert (self);
    return self->backend->savepoint_rollback (self->db);
}

//  ---------------------------------------------------------------- users

int
msgstore_user_add (msgstore_t *self, const char *name, const uint8_t *identity,
                   size_t identity_len, int64_t now_ms, bool *added)
{
    assert (self);
    return self->backend->user_add (self->db, name, identity, identity_len, now_ms, added);
}

int
msgstore_user_get (msgstore_t *self, const char *name, msgstore_user_t *user)
{
    assert (self);
    return self->backend->user_get (self->db, name, user);
}

int
msgstore_user_find (msgstore_t *self, const char *name, char **canonical)
{
    assert (self);
    assert (canonical);
    *canonical = NULL;
    msgstore_user_t *user = (msgstore_user_t *) malloc (sizeof *user);
    if (!user)
        return CHAT_ERR_INTERNAL;
    int rc = self->backend->user_get (self->db, name, user);
    if (rc == CHAT_OK) {
        *canonical = strdup (user->name);
        if (!*canonical)
            rc = CHAT_ERR_INTERNAL;
    }
    free (user);
    return rc;
}

int
msgstore_user_each (msgstore_t *self, msgstore_user_fn *fn, void *arg)
{
    assert (self);
    return self->backend->user_each (self->db, fn, arg);
}

//  ---------------------------------------------------------------- conversations

int
msgstore_conv_create (msgstore_t *self, const msgstore_conv_t *conv,
                      const char *const *members, size_t count,
                      const msgstore_link_t *link)
{
    assert (self);
    return self->backend->conv_create (self->db, conv, members, count, link);
}

int
msgstore_conv_append (msgstore_t *self, const msgstore_link_t *link,
                      const char *title, const char *const *members, size_t count)
{
    assert (self);
    return self->backend->conv_append (self->db, link, title, members, count);
}

int
msgstore_conv_find_direct (msgstore_t *self, const char *a, const char *b,
                           msgstore_conv_t *conv)
{
    assert (self);
    return self->backend->conv_find_direct (self->db, a, b, conv);
}

int
msgstore_conv_get (msgstore_t *self, const uint8_t *id, size_t id_len,
                   msgstore_conv_t *conv)
{
    assert (self);
    return self->backend->conv_get (self->db, id, id_len, conv);
}

int
msgstore_conv_get_as_member (msgstore_t *self, const uint8_t *id, size_t id_len,
                             const char *name, msgstore_conv_t *conv)
{
    assert (self);
    return self->backend->conv_get_as_member (self->db, id, id_len, name, conv);
}

int
msgstore_conv_members (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                       zlistx_t **names)
{
    assert (self);
    return self->backend->conv_members (self->db, id, names);
}

int
msgstore_member_accept (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                        const char *name)
{
    assert (self);
    return self->backend->member_accept (self->db, id, name);
}

int
msgstore_conv_each_of (msgstore_t *self, const char *name,
                       msgstore_conv_fn *fn, void *arg)
{
    assert (self);
    return self->backend->conv_each_of (self->db, name, fn, arg);
}

int
msgstore_conv_page_of (msgstore_t *self, const char *name, const msgstore_conv_t *after,
                       uint32_t limit, msgstore_conv_fn *fn, void *arg)
{
    assert (self);
    return self->backend->conv_page_of (self->db, name, after, limit, fn, arg);
}

int
msgstore_conv_each (msgstore_t *self, msgstore_conv_fn *fn, void *arg)
{
    assert (self);
    return self->backend->conv_each (self->db, fn, arg);
}

//  ---------------------------------------------------------------- chains

int
msgstore_link_each (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                    uint64_t after_epoch, uint32_t limit,
                    msgstore_link_fn *fn, void *arg)
{
    assert (self);
    return self->backend->link_each (self->db, id, after_epoch, limit, fn, arg);
}

//  ---------------------------------------------------------------- messages

int
msgstore_msg_add (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                  const char *sender, const uint8_t *client_message_id,
                  size_t client_message_id_len, const char *token,
                  size_t token_len, uint64_t epoch, int64_t now_ms,
                  uint64_t *seq, int64_t *server_time, bool *duplicate)
{
    assert (self);
    return self->backend->msg_add (self->db, id, sender, client_message_id,
                                   client_message_id_len, token, token_len, epoch,
                                   now_ms, seq, server_time, duplicate);
}

//  Conversation id order; within one conversation, the order given (the
//  adds are compared by address, which is their order in the caller's array)
static int
s_add_compare (const void *a, const void *b)
{
    const msgstore_add_t *x = *(msgstore_add_t *const *) a;
    const msgstore_add_t *y = *(msgstore_add_t *const *) b;
    int order = memcmp (x->conversation_id, y->conversation_id, MSGSTORE_ID_SIZE);
    if (order)
        return order;
    return x < y? -1: x > y;
}

//  The engines' common way: one transaction, a call each, one commit
static int
s_add_batch_each (msgstore_t *self, msgstore_add_t *const *sorted, size_t count)
{
    if (self->backend->begin (self->db) != CHAT_OK)
        return CHAT_ERR_INTERNAL;
    for (size_t index = 0; index < count; index++) {
        msgstore_add_t *add = sorted [index];
        add->status = self->backend->msg_add (
            self->db, add->conversation_id, add->sender, add->client_message_id,
            add->client_message_id_len, add->token, add->token_len, add->epoch,
            add->now_ms, &add->seq, &add->server_time, &add->duplicate);
        if (add->status == CHAT_ERR_INTERNAL) {
            self->backend->rollback (self->db);
            return CHAT_ERR_INTERNAL;
        }
    }
    return self->backend->commit (self->db);
}

int
msgstore_msg_add_batch (msgstore_t *self, msgstore_add_t *adds, size_t count)
{
    assert (self);
    assert (adds || count == 0);
    if (count > MSGSTORE_BATCH_MAX)
        return CHAT_ERR_BAD_REQUEST;
    if (count == 0)
        return CHAT_OK;
    msgstore_add_t **sorted = (msgstore_add_t **) malloc (count * sizeof *sorted);
    if (!sorted)
        return CHAT_ERR_INTERNAL;
    for (size_t index = 0; index < count; index++) {
        assert (adds [index].conversation_id && adds [index].sender
                && adds [index].client_message_id && adds [index].token);
        adds [index].status = CHAT_ERR_INTERNAL;
        adds [index].seq = 0;
        adds [index].server_time = 0;
        adds [index].duplicate = false;
        sorted [index] = &adds [index];
    }
    qsort (sorted, count, sizeof *sorted, s_add_compare);
    int rc = self->backend->msg_add_batch
           ? self->backend->msg_add_batch (self->db, sorted, count)
           : s_add_batch_each (self, sorted, count);
    free (sorted);
    if (rc != CHAT_OK)
        //  Nothing may be acknowledged: say so in every add too
        for (size_t index = 0; index < count; index++) {
            adds [index].status = CHAT_ERR_INTERNAL;
            adds [index].duplicate = false;
        }
    return rc == CHAT_OK? CHAT_OK: CHAT_ERR_INTERNAL;
}

int
msgstore_msg_each (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                   uint64_t after_seq, uint32_t limit,
                   msgstore_msg_fn *fn, void *arg)
{
    assert (self);
    return self->backend->msg_each (self->db, id, after_seq, limit, fn, arg);
}

int
msgstore_msg_last_token (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                         char **token)
{
    assert (self);
    return self->backend->msg_last_token (self->db, id, token);
}

//  ---------------------------------------------------------------- read markers

int
msgstore_read_state (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                     const char *name, uint64_t *read_seq, uint64_t *unread)
{
    assert (self);
    return self->backend->read_state (self->db, id, name, read_seq, unread);
}

int
msgstore_read_set (msgstore_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                   const char *name, uint64_t read_seq, bool *moved)
{
    assert (self);
    return self->backend->read_set (self->db, id, name, read_seq, moved);
}

int
msgstore_notify (msgstore_t *self, const char *channel, const char *payload)
{
    assert (self && channel && payload);
    if (!self->backend->notify || strlen (payload) > MSGSTORE_NOTIFY_MAX)
        return CHAT_ERR_BAD_REQUEST;
    return self->backend->notify (self->db, channel, payload);
}

int
msgstore_backend_pid (msgstore_t *self)
{
    assert (self);
    return self->backend->backend_pid? self->backend->backend_pid (self->db): 0;
}

int
msgstore_server_beat (msgstore_t *self, const msgstore_server_t *server)
{
    assert (self && server);
    return self->backend->server_beat? self->backend->server_beat (self->db, server)
                                     : CHAT_ERR_BAD_REQUEST;
}

int
msgstore_server_remove (msgstore_t *self, const char *id)
{
    assert (self && id);
    return self->backend->server_remove? self->backend->server_remove (self->db, id)
                                       : CHAT_ERR_BAD_REQUEST;
}

int
msgstore_server_each (msgstore_t *self, msgstore_server_fn *fn, void *arg)
{
    assert (self && fn);
    return self->backend->server_each? self->backend->server_each (self->db, fn, arg)
                                     : CHAT_ERR_BAD_REQUEST;
}

uint64_t
msgstore_statements (msgstore_t *self)
{
    assert (self);
    return self->backend->statements? self->backend->statements (self->db): 0;
}
