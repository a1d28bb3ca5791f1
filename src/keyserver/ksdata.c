/*  ksdata - the key server's data directory; see ksdata.h  */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <czmq.h>
#include "chaterror.h"
#include "keyserver.h"
#include "keystore.h"
#include "ksdata.h"
#include "rsakey.h"
#include "secret.h"

int
ksdata_prepare (const char *data_dir)
{
    assert (data_dir);
    if (secret_dir_create (data_dir)) {
        zsys_error ("keyserver: cannot create %s: %s", data_dir, strerror (errno));
        return -1;
    }
    struct stat st;
    if (stat (data_dir, &st) || !S_ISDIR (st.st_mode)) {
        zsys_error ("keyserver: %s is not a directory", data_dir);
        return -1;
    }
    secret_dir_check (data_dir, "keyserver");
    char *key_path = zsys_sprintf ("%s/%s", data_dir, KEYSERVER_KEY_FILE);
    char *public_path = zsys_sprintf ("%s/%s", data_dir, KEYSERVER_PUBLIC_FILE);
    char *secret_path = zsys_sprintf ("%s/%s", data_dir, KEYSERVER_SECRET);
    assert (key_path && public_path && secret_path);
    int rc = 0;
    rsakey_t *key = rsakey_load_or_create (key_path, KEYSERVER_KEY_BITS);
    if (!key) {
        zsys_error ("keyserver: cannot load or create %s", key_path);
        rc = -1;
    }
    //  From the key every time: the file can never name another key
    if (rc == 0 && rsakey_save_public (key, public_path)) {
        zsys_error ("keyserver: cannot write %s", public_path);
        rc = -1;
    }
    rsakey_destroy (&key);
    if (rc == 0 && stat (secret_path, &st) && errno == ENOENT
    &&  secret_file_create (secret_path)) {
        zsys_error ("keyserver: cannot create %s", secret_path);
        rc = -1;
    }
    zstr_free (&key_path);
    zstr_free (&public_path);
    zstr_free (&secret_path);
    return rc;
}

//  The keys the server derives from its own secret, and the mark of it a
//  shared store records
static int
s_load_secret (const char *data_dir, ksctx_t *ctx, uint8_t mark [32])
{
    char *path = zsys_sprintf ("%s/%s", data_dir, KEYSERVER_SECRET);
    uint8_t secret [SECRET_FILE_SIZE];
    int rc = secret_file_load (path, secret);
    if (rc == 0)
        rc = secret_hkdf (secret, sizeof secret, KSDATA_RESUME_INFO,
                          ctx->resume_key, sizeof ctx->resume_key)
          || secret_hkdf (secret, sizeof secret, KSDATA_FAKE_SALT_INFO,
                          ctx->fake_salt_key, sizeof ctx->fake_salt_key)
          || secret_hkdf (secret, sizeof secret, KSDATA_CLUSTER_INFO, mark, 32)? -1: 0;
    secret_wipe (secret, sizeof secret);
    if (rc)
        zsys_error ("keyserver: cannot use the server's own secret %s", path);
    zstr_free (&path);
    return rc;
}

int
ksdata_mainserver_keys (const char *path, ksctx_t *ctx)
{
    char error [512];
    peerkeys_t *keys = peerkeys_load_for (path, "keyserver", "mainserver",
                                          error, sizeof error);
    if (!keys) {
        zsys_error ("keyserver: %s", error);
        return -1;
    }
    peerkeys_destroy (&ctx->mainserver_keys);
    ctx->mainserver_keys = keys;
    return 0;
}

int
ksdata_load (const char *data_dir, const char *store_url,
             const char *mainserver_key_path, ksctx_t *ctx)
{
    assert (data_dir && ctx);
    //  The other server's key first: without it nothing else is worth doing
    if (ksdata_mainserver_keys (mainserver_key_path, ctx) || ksdata_prepare (data_dir))
        return -1;
    char *path = zsys_sprintf ("%s/%s", data_dir, KEYSERVER_KEY_FILE);
    ctx->server_key = rsakey_load (path);
    zstr_free (&path);
    if (!ctx->server_key) {
        zsys_error ("keyserver: cannot load the server key");
        return -1;
    }
    uint8_t mark [32];
    if (s_load_secret (data_dir, ctx, mark))
        return -1;
    if (store_url)
        ctx->store = keystore_open (store_url);
    else {
        path = zsys_sprintf ("%s/%s", data_dir, KEYSERVER_DB);
        ctx->store = keystore_open (path);
        zstr_free (&path);
    }
    if (!ctx->store)
        return -1;
    int rc = keystore_cluster_mark (ctx->store, mark);
    if (rc == CHAT_ERR_KEY_EXISTS)
        zsys_error ("keyserver: the store is shared with key servers that hold another "
                    "keyserver.secret: every key server of one store must hold the same "
                    "one (and the same server.key); copy both from one of them into %s. "
                    "(If the whole cluster's secret was replaced on purpose, empty the "
                    "table ks_cluster once.)", data_dir);
    else
    if (rc != CHAT_OK)
        zsys_error ("keyserver: cannot check the store's cluster mark");
    return rc == CHAT_OK? 0: -1;
}

void
ksdata_unload (ksctx_t *ctx)
{
    assert (ctx);
    keystore_destroy (&ctx->store);
    rsakey_destroy (&ctx->server_key);
    peerkeys_destroy (&ctx->mainserver_keys);
    secret_wipe (ctx->fake_salt_key, sizeof ctx->fake_salt_key);
    secret_wipe (ctx->resume_key, sizeof ctx->resume_key);
}
