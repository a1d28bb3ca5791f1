/*  ksadmin - the key server's admin socket; see ksadmin.h  */
#include <assert.h>
#include <openssl/evp.h>
#include "chaterror.h"
#include "keystore.h"
#include "ksadmin.h"
#include "rsakey.h"
#include "wire.h"

#ifndef CHAT_VERSION
#   define CHAT_VERSION "0.0.0"
#endif

typedef struct {
    ksctx_t *ctx;
    Chat__AdminUser *users;
    Chat__AdminUser **user_ptrs;
    char (*names) [USERNAME_MAX + 1];
    char (*shorts) [9];
    char **fingerprints;
    size_t count;
} admin_users_t;

static int
s_admin_user (const keystore_user_t *user, void *arg)
{
    admin_users_t *list = (admin_users_t *) arg;
    size_t i = list->count++;
    Chat__AdminUser *item = &list->users [i];
    chat__admin_user__init (item);
    snprintf (list->names [i], sizeof list->names [i], "%s", user->username);
    for (int b = 0; b < 4; b++)
        snprintf (list->shorts [i] + 2 * b, 3, "%02x", user->stored_key [b]);
    uint8_t digest [RSAKEY_FINGERPRINT_SIZE];
    if (EVP_Digest (user->identity, user->identity_len, digest, NULL, EVP_sha256 (), NULL))
        list->fingerprints [i] = rsakey_fingerprint_format (digest);
    int64_t wrapped = keystore_wrapped_count_of (list->ctx->store, user->username);
    item->username = list->names [i];
    item->iterations = user->iterations;
    item->stored_key_short = list->shorts [i];
    item->created_at = user->created_at;
    item->identity_fingerprint = list->fingerprints [i]? list->fingerprints [i]: (char *) "";
    item->wrapped_key_count = wrapped > 0? (uint64_t) wrapped: 0;
    list->user_ptrs [i] = item;
    return 0;
}

static void
s_send_metrics (zsock_t *admin, Chat__AdminReply *reply, metrics_t *metrics)
{
    reply->metrics = metrics_render (metrics);
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    if (reply->metrics && wire_pack (&reply->base, &packed, &packed_len) == CHAT_OK) {
        zsock_send (admin, "b", packed, packed_len);
        free (packed);
    }
    else
        zsock_send (admin, "b", "", (size_t) 0);
    free (reply->metrics);
    reply->metrics = NULL;
}

void
ksadmin_handle (ksctx_t *ctx, chanserver_t *chanserver, zsock_t *admin,
                int64_t started_at)
{
    zframe_t *frame = zframe_recv (admin);
    if (!frame)
        return;
    Chat__AdminRequest *req = NULL;
    int rc = wire_unpack (&chat__admin_request__descriptor, zframe_data (frame),
                          zframe_size (frame), (ProtobufCMessage **) &req);
    zframe_destroy (&frame);
    if (rc != CHAT_OK || req->version != 1) {
        //  REP must answer something; an empty frame means "not understood"
        if (req)
            protobuf_c_message_free_unpacked (&req->base, NULL);
        zsock_send (admin, "b", "", (size_t) 0);
        return;
    }
    bool metrics = req->metrics;
    protobuf_c_message_free_unpacked (&req->base, NULL);

    Chat__AdminReply reply = CHAT__ADMIN_REPLY__INIT;
    reply.role = (char *) "keyserver";
    reply.version = (char *) CHAT_VERSION;
    reply.server_key_fingerprint = (char *) rsakey_fingerprint_text (ctx->server_key);
    reply.started_at = started_at;
    if (metrics) {
        //  The metrics instead of the overview
        s_send_metrics (admin, &reply, ctx->metrics);
        return;
    }
    int64_t sets = keystore_key_set_count (ctx->store);
    int64_t wrapped = keystore_wrapped_count (ctx->store);
    reply.key_set_count = sets > 0? (uint64_t) sets: 0;
    reply.wrapped_key_count = wrapped > 0? (uint64_t) wrapped: 0;

    admin_users_t list = { .ctx = ctx };
    list.users = (Chat__AdminUser *) calloc (KSADMIN_MAX_USERS, sizeof (Chat__AdminUser));
    list.user_ptrs = (Chat__AdminUser **) calloc (KSADMIN_MAX_USERS, sizeof (void *));
    list.names = calloc (KSADMIN_MAX_USERS, sizeof *list.names);
    list.shorts = calloc (KSADMIN_MAX_USERS, sizeof *list.shorts);
    list.fingerprints = (char **) calloc (KSADMIN_MAX_USERS, sizeof (char *));
    assert (list.users && list.user_ptrs && list.names && list.shorts && list.fingerprints);
    keystore_user_each (ctx->store, KSADMIN_MAX_USERS, s_admin_user, &list);
    reply.n_users = list.count;
    reply.users = list.user_ptrs;

    reply.n_sessions = chanserver_admin_sessions (chanserver, &reply.sessions);

    uint8_t *packed = NULL;
    size_t packed_len = 0;
    if (wire_pack (&reply.base, &packed, &packed_len) == CHAT_OK) {
        zsock_send (admin, "b", packed, packed_len);
        free (packed);
    }
    else
        zsock_send (admin, "b", "", (size_t) 0);
    chanserver_admin_sessions_free (&reply.sessions);
    for (size_t i = 0; i < list.count; i++)
        free (list.fingerprints [i]);
    free (list.fingerprints);
    free (list.users);
    free (list.user_ptrs);
    free (list.names);
    free (list.shorts);
}
