/*  ksdata - the key server's data directory: what is in it, made when
    missing, and loaded at start

    <dir>/server.key        the server's RSA key (0600): signs handshakes
                            and certificates
    <dir>/keyserver.pub     its public half (PEM, 0644), the file the main
                            server's operator copies (--keyserver-key)
    <dir>/keyserver.secret  32 random bytes (0600) only this server holds:
                            the keys of its resume tokens and of its fake
                            salts are derived from it (HKDF, one label each)
    <dir>/keyserver.db      the store (keystore.h), unless another is given
                            by URL (a PostgreSQL database shared by several
                            key servers: they must all hold the same
                            server.key and keyserver.secret, so that any of
                            them accepts the resume tokens of the others
                            and gives an unknown name the same fake salt)

    and, from wherever the operator put it, the main server's public key
    (--mainserver-key), which checks key tickets.
*/
#ifndef KSDATA_H_INCLUDED
#define KSDATA_H_INCLUDED

#include <stdbool.h>
#include "ksctx.h"

#define KSDATA_RESUME_INFO    "chat/2 resume"       //  HKDF info of the resume key
#define KSDATA_FAKE_SALT_INFO "chat/2 fake salt"    //  HKDF info of the fake salt key
#define KSDATA_CLUSTER_INFO   "chat/2 cluster mark" //  HKDF info of the mark a shared
                                                    //  store records (keystore.h)

//  Make the data directory (0700) and what is missing in it: server key,
//  public key file (rewritten from the key every time), own secret.
//  Returns 0, or -1 with the reason logged.
int
    ksdata_prepare (const char *data_dir);

//  Prepare, then load into ctx: the server key, the keys derived from the
//  own secret, the main server's public key from mainserver_key_path, and
//  the store at store_url (NULL: <dir>/keyserver.db). Returns 0, or -1
//  with the reason logged (a missing or unreadable main server key says
//  which file to copy from where; never the store's URL, which may hold a
//  password); what was loaded stays in ctx for ksdata_unload.
int
    ksdata_load (const char *data_dir, const char *store_url,
                 const char *mainserver_key_path, ksctx_t *ctx);

//  The main server's public keys from path (its mainserver.pub, or during
//  its changeover its mainserver-changeover.pub), replacing those in force:
//  at start and on SIGHUP. 0, or -1 with the reason logged and the keys in
//  force unchanged.
int
    ksdata_mainserver_keys (const char *path, ksctx_t *ctx);

//  Free and wipe what ksdata_load put in ctx.
void
    ksdata_unload (ksctx_t *ctx);

#endif
