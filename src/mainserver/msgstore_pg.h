/*  msgstore_pg - msgstore on PostgreSQL through libpq, opened by a
    postgresql:// (or postgres://) URL: the server creates and migrates
    its own schema (table schema_version, under an advisory lock so that
    servers starting together do not race), writes through PL/pgSQL
    functions that take the conversation's row lock, and commits a batch
    of messages as one pipeline (BEGIN, one call per message in
    conversation order, COMMIT). Every failure of the database or the
    connection is CHAT_ERR_INTERNAL, logged; a broken connection is made
    again at the next transaction. The connection, the migrations and the
    COMMIT check are pgconn's (src/pgstore), shared with the key server's
    store.
*/
#ifndef MSGSTORE_PG_H_INCLUDED
#define MSGSTORE_PG_H_INCLUDED

#include "msgstore_backend.h"

extern const msgstore_backend_t msgstore_pg_backend;

#endif
