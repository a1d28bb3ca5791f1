/*  msgstore_sqlite - msgstore on SQLite: one file, WAL, synchronous=FULL
    (a commit survives kill -9 and power loss), schema version in PRAGMA
    user_version, forward migrations run at open. The default engine: a
    plain path or sqlite:PATH.
*/
#ifndef MSGSTORE_SQLITE_H_INCLUDED
#define MSGSTORE_SQLITE_H_INCLUDED

#include "msgstore_backend.h"

extern const msgstore_backend_t msgstore_sqlite_backend;

#endif
