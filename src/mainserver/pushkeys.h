/*  pushkeys - a seal worker's push keys made ready, by session

    A push key stays the same for its session's life, and the same sessions
    get push after push: keying an HMAC and an AES context for every push
    cost as much as sealing it. A worker keeps the last key made ready for
    each of a bounded number of sessions (a direct-mapped table: a session
    whose slot another took just has its key made ready again).

    One worker thread owns a table. The keys it holds are wiped when
    replaced and when the table is destroyed.
*/
#ifndef PUSHKEYS_H_INCLUDED
#define PUSHKEYS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "channel.h"
#include "fernet.h"

typedef struct _pushkeys_t pushkeys_t;

//  slots: sessions kept at most (0 is taken as 1). NULL on OOM.
pushkeys_t *
    pushkeys_new (size_t slots);
void
    pushkeys_destroy (pushkeys_t **self_p);

//  The key made ready for this session and key: the one kept when the
//  session's slot holds exactly these, else made now in its place. It
//  belongs to the table and stays valid until the next call. NULL if it
//  cannot be made.
fernet_key_t *
    pushkeys_get (pushkeys_t *self, const uint8_t session_id [CHANNEL_SESSION_ID_SIZE],
                  const uint8_t key [FERNET_KEY_SIZE]);

//  Keys made ready since the table was made, and calls answered from it.
size_t
    pushkeys_made (pushkeys_t *self);
size_t
    pushkeys_kept (pushkeys_t *self);

#endif
