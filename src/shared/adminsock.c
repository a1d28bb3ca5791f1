/*  adminsock - the servers' owner-only admin socket  */
#include "adminsock.h"
#include <sys/stat.h>

//  sun_path holds 108 bytes on Linux
#define ADMINSOCK_PATH_MAX 100

zsock_t *
adminsock_bind (const char *data_dir, char **path_out)
{
    assert (data_dir);
    if (path_out)
        *path_out = NULL;
    char *path = zsys_sprintf ("%s/%s", data_dir, ADMINSOCK_NAME);
    if (!path)
        return NULL;
    if (strlen (path) > ADMINSOCK_PATH_MAX) {
        zsys_warning ("%s is too long a path for ipc://, no admin socket", path);
        zstr_free (&path);
        return NULL;
    }
    zsock_t *admin = zsock_new (ZMQ_REP);
    //  The file is created by the bind: no moment with a wider mode
    mode_t old_mask = umask (0177);
    int rc = admin ? zsock_bind (admin, "ipc://%s", path) : -1;
    umask (old_mask);
    if (rc != 0) {
        zsys_warning ("cannot bind ipc://%s (%s), no admin socket", path,
                      zmq_strerror (zmq_errno ()));
        zsock_destroy (&admin);
        zstr_free (&path);
        return NULL;
    }
    //  umask is process-wide: another thread's files made meanwhile kept
    //  their own explicit modes (every key file is written with fchmod)
    chmod (path, 0600);
    if (path_out)
        *path_out = path;
    else
        zstr_free (&path);
    return admin;
}
