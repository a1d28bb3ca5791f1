/*  ksreply - one key server reply being built: every body it may carry,
    and what those bodies point at, freed (and wiped where it matters) in
    one call

    A handler fills one ksreply_t; ksrequest packs it for the outbox.
    Buffers a body points at are handed over with ksreply_keep (or made
    with ksreply_alloc) and live until ksreply_free.
*/
#ifndef KSREPLY_H_INCLUDED
#define KSREPLY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>
#include "credential.h"
#include "wire.h"

#define KSREPLY_SALT_SIZE 16

typedef struct {
    Chat__KeyReply reply;
    Chat__Error error;
    Chat__RegisterParams register_params;
    Chat__Registered registered;
    Chat__LoginChallenge login_challenge;
    Chat__LoggedIn logged_in;
    Chat__LoggedOut logged_out;
    Chat__PasswordChanged password_changed;
    Chat__Identities identities;
    Chat__KeysStored keys_stored;
    Chat__EpochKeys epoch_keys;
    uint8_t salt [KSREPLY_SALT_SIZE];
    uint8_t conversation_id [CONVERSATION_ID_SIZE];
    char *text;                         //  owned, wiped: server_first / server_final
    zlistx_t *allocs;                   //  owned buffers the bodies point at
} ksreply_t;

void
    ksreply_init (ksreply_t *self, uint64_t request_id);
void
    ksreply_free (ksreply_t *self);

//  Answer with an error; text NULL: the code's standard text.
void
    ksreply_error (ksreply_t *self, int code, const char *text);
//  ERR_RATE_LIMITED with the wait.
void
    ksreply_rate_limited (ksreply_t *self, int64_t wait_ms);
//  The reply is this error code.
bool
    ksreply_is_error (ksreply_t *self, int code);

//  Take ptr (malloc'd, may not be NULL) into the reply; returns it.
void *
    ksreply_keep (ksreply_t *self, void *ptr);
//  Zeroed memory that lives as long as the reply.
void *
    ksreply_alloc (ksreply_t *self, size_t size);
//  The server's SCRAM text (server-first or server-final), kept and wiped.
const char *
    ksreply_set_text (ksreply_t *self, const char *text);

//  Pack the reply; on a failed pack (memory), a bare ERR_INTERNAL with the
//  request's id. CHAT_OK or CHAT_ERR_INTERNAL.
int
    ksreply_pack (ksreply_t *self, uint8_t **packed, size_t *len);
//  A packed bare ERR_INTERNAL for request_id (text given).
int
    ksreply_pack_internal (uint64_t request_id, const char *text,
                           uint8_t **packed, size_t *len);

#endif
