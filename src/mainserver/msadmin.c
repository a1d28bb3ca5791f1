/*  msadmin - the main server's admin socket; see msadmin.h  */
#include <assert.h>
#include <string.h>
#include <openssl/evp.h>
#include "chaterror.h"
#include "codec.h"
#include "msadmin.h"
#include "msarena.h"
#include "rsakey.h"

#ifndef CHAT_VERSION
#   define CHAT_VERSION "0.0.0"
#endif

typedef struct {
    Chat__AdminReply *reply;
    msarena_t *arena;
    msctx_t *ctx;
    size_t size;
} admin_collect_t;

static int
s_admin_user (const msgstore_user_t *stored, void *arg)
{
    admin_collect_t *collect = (admin_collect_t *) arg;
    Chat__AdminReply *reply = collect->reply;
    if (reply->n_users >= MSADMIN_MAX_USERS)
        return 1;
    if (reply->n_users == collect->size) {
        collect->size = collect->size? collect->size * 2: 64;
        Chat__AdminUser **users = (Chat__AdminUser **)
            realloc (reply->users, sizeof (void *) * collect->size);
        assert (users);
        reply->users = users;
    }
    Chat__AdminUser *user = (Chat__AdminUser *) msarena_alloc (collect->arena, sizeof *user);
    chat__admin_user__init (user);
    user->username = msarena_strdup (collect->arena, stored->name);
    user->created_at = stored->created_at;
    uint8_t digest [RSAKEY_FINGERPRINT_SIZE];
    char *fingerprint = EVP_Digest (stored->identity, stored->identity_len, digest, NULL,
                                    EVP_sha256 (), NULL)
                      ? rsakey_fingerprint_format (digest): NULL;
    user->identity_fingerprint = fingerprint? (char *) msarena_keep (collect->arena, fingerprint)
                                            : (char *) "";
    reply->users [reply->n_users++] = user;
    return 0;
}

static int
s_admin_conv (const msgstore_conv_t *conv, void *arg)
{
    admin_collect_t *collect = (admin_collect_t *) arg;
    Chat__AdminReply *reply = collect->reply;
    msarena_t *arena = collect->arena;
    if (reply->n_conversations >= MSADMIN_MAX_CONVERSATIONS)
        return 1;
    if (reply->n_conversations == collect->size) {
        collect->size = collect->size? collect->size * 2: 64;
        Chat__AdminConversation **convs = (Chat__AdminConversation **)
            realloc (reply->conversations, sizeof (void *) * collect->size);
        assert (convs);
        reply->conversations = convs;
    }
    Chat__AdminConversation *item = (Chat__AdminConversation *)
        msarena_alloc (arena, sizeof *item);
    chat__admin_conversation__init (item);
    item->conversation_id = (char *) msarena_keep (arena, codec_hex (conv->id,
                                                                     MSGSTORE_ID_SIZE));
    item->message_count = conv->last_seq;
    item->last_time = conv->last_time;
    item->epoch = conv->epoch;
    item->direct = conv->direct;
    zlistx_t *names;
    if (msgstore_conv_members (collect->ctx->store, conv->id, &names) == CHAT_OK) {
        item->members = (char **) msarena_alloc (arena, sizeof (char *)
                                                        * (zlistx_size (names) + 1));
        const char *name = (const char *) zlistx_first (names);
        while (name) {
            item->members [item->n_members++] = msarena_strdup (arena, name);
            name = (const char *) zlistx_next (names);
        }
        zlistx_destroy (&names);
    }
    char *token = NULL;
    if (msgstore_msg_last_token (collect->ctx->store, conv->id, &token) == CHAT_OK) {
        //  A prefix only: version, timestamp and a little of the IV.
        if (strlen (token) > 16)
            token [16] = 0;
        item->last_token_short = (char *) msarena_keep (arena, token);
    }
    reply->conversations [reply->n_conversations++] = item;
    return 0;
}

static int
s_admin_server (const msgstore_server_t *stored, void *arg)
{
    admin_collect_t *collect = (admin_collect_t *) arg;
    Chat__AdminReply *reply = collect->reply;
    msarena_t *arena = collect->arena;
    if (reply->n_servers >= MSADMIN_MAX_SERVERS)
        return 1;
    if (reply->n_servers == collect->size) {
        collect->size = collect->size? collect->size * 2: 8;
        Chat__AdminServer **servers = (Chat__AdminServer **)
            realloc (reply->servers, sizeof (void *) * collect->size);
        assert (servers);
        reply->servers = servers;
    }
    Chat__AdminServer *server = (Chat__AdminServer *) msarena_alloc (arena, sizeof *server);
    chat__admin_server__init (server);
    server->id = msarena_strdup (arena, stored->id);
    server->client_endpoint = msarena_strdup (arena, stored->client_endpoint);
    server->push_endpoint = msarena_strdup (arena, stored->push_endpoint);
    server->started_at = stored->started_at;
    server->sessions = stored->sessions;
    server->heartbeat_age_ms = stored->heartbeat_age_ms;
    server->self = collect->ctx->cluster_id && streq (collect->ctx->cluster_id, stored->id);
    reply->servers [reply->n_servers++] = server;
    return 0;
}

void
msadmin_handle (msctx_t *ctx, zsock_t *admin, int64_t started_at)
{
    zmsg_t *msg = zmsg_recv (admin);
    if (!msg)
        return;
    zframe_t *frame = zmsg_first (msg);
    Chat__AdminRequest *request = NULL;
    bool good = frame
        && wire_unpack (&chat__admin_request__descriptor, zframe_data (frame),
                        zframe_size (frame), (ProtobufCMessage **) &request) == CHAT_OK;
    zmsg_destroy (&msg);

    //  REP must answer every request: garbage gets a bare reply.
    msarena_t *arena = msarena_new ();
    Chat__AdminReply reply = CHAT__ADMIN_REPLY__INIT;
    reply.role = "mainserver";
    reply.version = CHAT_VERSION;
    reply.server_key_fingerprint = (char *) rsakey_fingerprint_text (ctx->server_key);
    reply.started_at = started_at;
    char *metrics_text = NULL;
    if (good && request->metrics && (metrics_text = metrics_render (ctx->metrics)))
        reply.metrics = metrics_text;
    else
    if (good) {
        reply.n_sessions = chanserver_admin_sessions (ctx->chanserver, &reply.sessions);
        admin_collect_t collect = { &reply, arena, ctx, 0 };
        msgstore_user_each (ctx->store, s_admin_user, &collect);
        collect.size = 0;
        msgstore_conv_each (ctx->store, s_admin_conv, &collect);
        //  A cluster (PostgreSQL) only: SQLite has one server
        collect.size = 0;
        if (ctx->bell)
            msgstore_server_each (ctx->store, s_admin_server, &collect);
    }
    uint8_t *data = NULL;
    size_t size = 0;
    if (wire_pack (&reply.base, &data, &size) != CHAT_OK) {
        data = NULL;
        size = 0;
    }
    zframe_t *out = zframe_new (data, size);
    zframe_send (&out, admin, 0);
    free (data);
    chanserver_admin_sessions_free (&reply.sessions);
    free (reply.users);
    free (reply.conversations);
    free (reply.servers);
    free (metrics_text);
    msarena_destroy (&arena);
    if (request)
        chat__admin_request__free_unpacked (request, NULL);
}
