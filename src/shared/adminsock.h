/*  adminsock - the servers' owner-only admin socket

    A REP socket at ipc://<data dir>/admin.sock, read by chat-admin: one
    AdminRequest, one AdminReply (proto/admin.proto), never a secret. The
    socket file is made mode 0600 from the start (umask during the bind),
    inside a data directory that is 0700, so only the server's own user can
    connect.
*/
#ifndef ADMINSOCK_H_INCLUDED
#define ADMINSOCK_H_INCLUDED

#include <czmq.h>

#define ADMINSOCK_NAME "admin.sock"

//  Bind the admin socket in data_dir. NULL (with a warning logged) when it
//  cannot be had: the path is too long for ipc://, or the bind failed; the
//  server then serves without it. *path (if not NULL) gets the socket
//  file's path, malloc'd, for unlinking at exit.
zsock_t *
    adminsock_bind (const char *data_dir, char **path);

#endif
