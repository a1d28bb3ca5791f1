/*  peerkeys - the other server's public keys, from the file its operator
    copied here (--keyserver-key / --mainserver-key)

    Usually one key. While the other server changes its key, its changeover
    file holds two: the new one first, then the old one, and what either of
    them signed is accepted (a certificate or ticket the old key signed
    lives a few minutes more). The file is read again on SIGHUP.
*/
#ifndef PEERKEYS_H_INCLUDED
#define PEERKEYS_H_INCLUDED

#include <stddef.h>
#include "rsakey.h"

#define PEERKEYS_MAX 4                  //  keys one file may hold

typedef struct _peerkeys_t peerkeys_t;

//  The keys in the file at path. NULL when it is missing, unreadable, holds
//  no key, more than PEERKEYS_MAX, or anything that is not an RSA public
//  key of an acceptable size.
peerkeys_t *
    peerkeys_load (const char *path);
void
    peerkeys_destroy (peerkeys_t **self_p);

size_t
    peerkeys_count (peerkeys_t *self);
//  The index'th key (0: the file's first, the current one), borrowed.
rsakey_t *
    peerkeys_key (peerkeys_t *self, size_t index);

//  The same for a server (self_role "keyserver" or "mainserver") reading
//  the other's (peer_role) file: NULL with error filled, saying what to
//  copy from where; the keys' fingerprints logged, and a notice while the
//  file holds more than one.
peerkeys_t *
    peerkeys_load_for (const char *path, const char *self_role, const char *peer_role,
                       char *error, size_t error_size);

//  "SHA256:... (and SHA256:..., ...)": the fingerprints, for a log line.
//  malloc'd.
char *
    peerkeys_describe (peerkeys_t *self);

#endif
