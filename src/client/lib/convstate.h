/*  convstate - what a client has verified of one conversation: its
    membership chain, link by link; each epoch's members and key check; the
    epoch keys it accepted; and the (sender, client message id) pairs of the
    messages it showed

    proto/README.md sections 11 and 12, the client's side. A link is
    appended only when chain_append accepts it (built on the head, the rules
    of its action, signed by its actor's identity key as the caller believes
    it). An epoch key is accepted only when it opens (RSA-OAEP with our
    identity key) and matches its epoch's key_check. No requests, no events:
    cl_convs asks for what is missing and decides what to do.
*/
#ifndef CONVSTATE_H_INCLUDED
#define CONVSTATE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "chain.h"
#include "epochkey.h"
#include "rsakey.h"

typedef struct _convstate_t convstate_t;

convstate_t *
    convstate_new (const uint8_t id [CONVERSATION_ID_SIZE]);
//  Keys wiped.
void
    convstate_destroy (convstate_t **self_p);

//  ---------------------------------------------------------------- chain

//  Check link against the head and its rules, signed by actor_key (the
//  actor's identity key as the caller believes it; changed: that key is
//  not the actor's pinned one), and append it. CHAT_OK, or chain_append's
//  refusal (CHAT_ERR_CHAIN_CONFLICT, CHAT_ERR_BAD_STATEMENT); a refused
//  link changes nothing.
int
    convstate_append (convstate_t *self, const Chat__SignedStatement *link,
                      rsakey_t *actor_key, bool changed);
//  The verified head's epoch (0: nothing verified yet), and the head.
uint64_t
    convstate_epoch (convstate_t *self);
const Chat__MembershipStatement *
    convstate_head (convstate_t *self);
//  The verified chain (borrowed): to make the next link on its head.
chain_t *
    convstate_chain (convstate_t *self);
//  name (any case) was a member of epoch by the verified chain.
bool
    convstate_member (convstate_t *self, uint64_t epoch, const char *name);
//  Epoch's statement has a key check (all but a LEAVE's).
bool
    convstate_keyed (convstate_t *self, uint64_t epoch);
//  Some link was accepted only with a key that is not its actor's pin.
bool
    convstate_changed (convstate_t *self);

//  ---------------------------------------------------------------- keys

//  A wrapped key for epoch, from the key server: unwrapped with identity
//  and accepted when it matches the epoch's key check. CHAT_OK (also when
//  the epoch's key is already there), CHAT_ERR_NOT_FOUND (the epoch is not
//  verified yet), CHAT_ERR_MALFORMED (does not unwrap), CHAT_ERR_BAD_MAC
//  (not the key the statement binds).
int
    convstate_take_key (convstate_t *self, uint64_t epoch, rsakey_t *identity,
                        const uint8_t *wrapped, size_t wrapped_len);
//  A key made here (the epoch's actor is us): accepted when it matches the
//  key check, like any other. Same returns.
int
    convstate_put_key (convstate_t *self, uint64_t epoch, const uint8_t key [EPOCHKEY_SIZE]);
//  Epoch's key (borrowed), or NULL.
const uint8_t *
    convstate_key (convstate_t *self, uint64_t epoch);
//  The lowest verified epoch with a key check but no key yet, or 0.
uint64_t
    convstate_first_missing_key (convstate_t *self);

//  ---------------------------------------------------------------- messages

//  Note that message seq came from sender with client_message_id: CHAT_OK
//  when the pair is new, or was seen with this same seq (the same message
//  fetched again); CHAT_ERR_REPLAYED when another seq had it (section 12,
//  check 5).
int
    convstate_note_message (convstate_t *self, const char *sender,
                            const uint8_t client_message_id [16], uint64_t seq);

#endif
