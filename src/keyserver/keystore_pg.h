/*  keystore_pg - keystore on PostgreSQL (libpq), for several key servers
    on one database: postgresql://... or postgres://...

    The server makes and migrates its own tables (ks_*, beside whatever
    else the database holds: the main servers' tables may share it), one
    version at a time under an advisory lock, and refuses a version it does
    not know. It refuses a PostgreSQL server that runs with fsync or
    synchronous_commit off. Every session of ours runs with
    synchronous_commit on; a COMMIT counts only when PostgreSQL says COMMIT.
    A broken connection is made again at the next statement outside a
    transaction (a batch's BEGIN included); inside one, the statements and
    the commit fail, and nothing of it is stored. The connection, the
    migrations and the COMMIT check are pgconn's (src/pgstore), shared with
    the main server's store.

    Registrations of one name on two servers at once: PostgreSQL's unique
    index makes the second wait for the first's commit, then find the name
    taken (CHAT_ERR_USERNAME_TAKEN, as on one server), or store it if the
    first rolled back. A set of wrapped keys is stored by one server-side
    function (ks_keys_put), the first set of an epoch wins the same way.
    ks_cluster holds the cluster's mark (keystore_cluster_mark).
*/
#ifndef KEYSTORE_PG_H_INCLUDED
#define KEYSTORE_PG_H_INCLUDED

#include "keystore_backend.h"

extern const keystore_backend_t keystore_pg_backend;

#endif
