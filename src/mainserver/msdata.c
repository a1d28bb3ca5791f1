/*  msdata - the main server's data directory; see msdata.h  */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <czmq.h>
#include "mainserver.h"
#include "msbell.h"
#include "msdata.h"
#include "msmessage.h"
#include "rsakey.h"
#include "secret.h"

int
msdata_prepare (const char *data_dir, char *error, size_t error_size)
{
    assert (data_dir && error);
    if (secret_dir_create (data_dir) != 0) {
        snprintf (error, error_size, "cannot create %s: %s", data_dir, strerror (errno));
        return -1;
    }
    char *path = zsys_sprintf ("%s/%s", data_dir, MAINSERVER_KEY_FILE);
    rsakey_t *key = rsakey_load_or_create (path, MAINSERVER_KEY_BITS);
    if (!key)
        snprintf (error, error_size, "cannot load or create the server key %s", path);
    zstr_free (&path);
    if (!key)
        return -1;
    //  From the key every time: the file can never name another key
    path = zsys_sprintf ("%s/%s", data_dir, MAINSERVER_PUBLIC_FILE);
    int rc = rsakey_save_public (key, path);
    if (rc)
        snprintf (error, error_size, "cannot write %s", path);
    zstr_free (&path);
    rsakey_destroy (&key);
    return rc? -1: 0;
}

//  One server per data directory: a second would take over the admin
//  socket and interleave its writes with ours.
static int
s_lock (const char *data_dir, int *lock_fd, char *error, size_t error_size)
{
    if (*lock_fd >= 0)
        return 0;
    char *path = zsys_sprintf ("%s/%s", data_dir, MAINSERVER_LOCK_FILE);
    *lock_fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    zstr_free (&path);
    if (*lock_fd < 0 || flock (*lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf (error, error_size, "%s is in use by another chat-mainserver (%s)",
                  data_dir, strerror (errno));
        if (*lock_fd >= 0)
            close (*lock_fd);
        *lock_fd = -1;
        return -1;
    }
    return 0;
}

int
msdata_keyserver_keys (const char *path, msctx_t *ctx, char *error, size_t error_size)
{
    peerkeys_t *keys = peerkeys_load_for (path, "mainserver", "keyserver",
                                          error, error_size);
    if (!keys)
        return -1;
    peerkeys_destroy (&ctx->keyserver_keys);
    ctx->keyserver_keys = keys;
    return 0;
}

int
msdata_load (const char *data_dir, const char *store_url, const char *keyserver_key_path,
             msctx_t *ctx, int *lock_fd, char *error, size_t error_size)
{
    assert (data_dir && ctx && lock_fd && error);
    if (msdata_keyserver_keys (keyserver_key_path, ctx, error, error_size))
        return -1;
    if (secret_dir_create (data_dir) != 0) {
        snprintf (error, error_size, "cannot create %s: %s", data_dir, strerror (errno));
        return -1;
    }
    //  Says so when others may enter it (its files are 0600 whatever)
    secret_dir_check (data_dir, "mainserver");
    if (s_lock (data_dir, lock_fd, error, error_size)
    ||  msdata_prepare (data_dir, error, error_size))
        return -1;
    char *path = zsys_sprintf ("%s/%s", data_dir, MAINSERVER_KEY_FILE);
    ctx->server_key = rsakey_load (path);
    if (!ctx->server_key)
        snprintf (error, error_size, "cannot load the server key %s", path);
    zstr_free (&path);
    if (!ctx->server_key)
        return -1;
    path = store_url? strdup (store_url): zsys_sprintf ("%s/%s", data_dir, MAINSERVER_DB);
    ctx->store = msgstore_open (path);
    //  A URL may hold a password: only a file's path goes in the error
    if (!ctx->store)
        snprintf (error, error_size, "cannot open the store %s (the log says why)",
                  strncmp (path, "postgres", 8) == 0? "on postgresql": path);
    zstr_free (&path);
    //  A PostgreSQL store may be shared by several servers (a cluster):
    //  sends go in one pipeline per batch, and a doorbell rings after it
    if (ctx->store && streq (msgstore_engine (ctx->store), "postgresql")) {
        ctx->sends = msmessage_batch_new ();
        ctx->bell = msbell_new ();
    }
    return ctx->store? 0: -1;
}

void
msdata_unload (msctx_t *ctx)
{
    msmessage_batch_destroy (&ctx->sends);
    msbell_destroy (&ctx->bell);
    msgstore_destroy (&ctx->store);
    rsakey_destroy (&ctx->server_key);
    peerkeys_destroy (&ctx->keyserver_keys);
}
