/*  msdata - the main server's data directory: what is in it, made when
    missing, and loaded at start

    <dir>/server.key        the server's RSA key (0600): signs handshakes
                            and key tickets
    <dir>/mainserver.pub    its public half (PEM, 0644), the file the key
                            server's operator copies (--mainserver-key)
    <dir>/mainserver.db     the store (msgstore.h), unless the operator
                            named another (STORE: a path, sqlite:PATH or
                            a postgresql:// URL)
    <dir>/mainserver.lock   one server per directory

    and, from wherever the operator put it, the key server's public key
    (--keyserver-key), which checks certificates.
*/
#ifndef MSDATA_H_INCLUDED
#define MSDATA_H_INCLUDED

#include <stddef.h>
#include "msctx.h"

//  Make the data directory (0700), the server key when missing, and the
//  public key file (rewritten from the key). 0, or -1 with error filled.
int
    msdata_prepare (const char *data_dir, char *error, size_t error_size);

//  Take the directory's lock (*lock_fd, kept until the caller closes it),
//  prepare, and load into ctx the key server's public key from
//  keyserver_key_path, the server key and the store. 0, or -1 with error
//  filled (a missing key server key says which file to copy from where);
//  what was loaded stays in ctx for msdata_unload.
//  The key server's public keys from path (its keyserver.pub, or during
//  its changeover its keyserver-changeover.pub), replacing those in
//  force: at start and on SIGHUP. 0, or -1 with error filled and the keys
//  in force unchanged.
int
    msdata_keyserver_keys (const char *path, msctx_t *ctx, char *error,
                           size_t error_size);

//  store_url: the store's URL, NULL for <data_dir>/mainserver.db
int
    msdata_load (const char *data_dir, const char *store_url,
                 const char *keyserver_key_path, msctx_t *ctx,
                 int *lock_fd, char *error, size_t error_size);

void
    msdata_unload (msctx_t *ctx);

#endif
