/*  keystore_sqlite - keystore on SQLite: one file, WAL, synchronous=FULL
    (a commit survives kill -9 and power loss), schema version in PRAGMA
    user_version, forward migrations run at open. The default engine: a
    plain path or sqlite:PATH.
*/
#ifndef KEYSTORE_SQLITE_H_INCLUDED
#define KEYSTORE_SQLITE_H_INCLUDED

#include "keystore_backend.h"

extern const keystore_backend_t keystore_sqlite_backend;

#endif
