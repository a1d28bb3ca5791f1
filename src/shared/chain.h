/*  chain - a conversation's membership chain: signed statements, one per
    epoch, each naming the hash of the one before

    Every change to a conversation (create, add, remove, leave, title, admin,
    re-key) is a MembershipStatement signed by the member who makes it with
    their identity key (RSA-PSS, label "chat/2 statement"). Each starts a new
    epoch and carries the whole membership after it, so one link and its
    predecessor are enough to check it. The rules (proto/README.md section
    11) live here once, for both the main server, which refuses a change its
    actor may not make or that is not built on the current head, and every
    client, which verifies the whole chain before it believes a member list
    or wraps a key for anyone.

    A chain_t holds what checking the next link needs: the head link, the
    head's hash and the creator. Names in statements are canonical spellings;
    they are sorted, and told apart, by their lower-case form (ASCII, in any
    locale), and an actor or a REMOVE/ADMIN subject must be spelled exactly
    as the members list spells it. Statement bytes must be the canonical
    encoding of what they say (wire_unpack_canonical).
*/
#ifndef CHAIN_H_INCLUDED
#define CHAIN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "credential.h"
#include "rsakey.h"
#include "wire.h"

#define CHAIN_LABEL          "chat/2 statement"
#define CHAIN_HASH_SIZE      32
#define CHAIN_MAX_MEMBERS    256
#define CHAIN_MAX_TITLE      128              //  bytes of UTF-8
//  Bytes of a serialized statement: the largest the rules allow (an ADMIN
//  naming 255 subjects in a group of 256 with 32-character names, about
//  26 KB) fits; proto/README.md section 11 says so
#define CHAIN_MAX_STATEMENT  32768

//  Statement actions (values of proto StatementAction)
#define CHAIN_CREATE 1
#define CHAIN_ADD    2
#define CHAIN_REMOVE 3
#define CHAIN_LEAVE  4
#define CHAIN_TITLE  5
#define CHAIN_ADMIN  6
#define CHAIN_REKEY  7

typedef struct _chain_t chain_t;

//  A signed link as made here: the serialized statement and its signature.
typedef struct {
    uint8_t *statement;
    size_t statement_len;
    uint8_t *signature;
    size_t signature_len;
} chain_link_t;

//  An empty chain: the next link must be a CREATE.
chain_t *
    chain_new (void);
//  A chain whose head is known good (the main server's own storage): head is
//  parsed, not verified. NULL when it does not parse.
chain_t *
    chain_restore (const char *creator, const Chat__SignedStatement *head);
void
    chain_destroy (chain_t **self_p);

//  The actor a link names, read before its signature can be checked (the
//  caller needs the actor's identity key for that). CHAT_OK or
//  CHAT_ERR_BAD_STATEMENT.
int
    chain_link_actor (const Chat__SignedStatement *link, char actor [USERNAME_MAX + 1]);

//  Check link against the head and the rules, and its signature with the
//  actor's identity key; append it when all hold. CHAT_OK;
//  CHAT_ERR_CHAIN_CONFLICT when it is not built on the head (other epoch,
//  other previous hash, other conversation; a first link of epoch > 1);
//  CHAT_ERR_BAD_STATEMENT when it is malformed (not canonically encoded
//  included), badly signed, or a change its actor may not make. A refused
//  link changes nothing.
int
    chain_append (chain_t *self, const Chat__SignedStatement *link, rsakey_t *actor_key);

//  ---------------------------------------------------------------- state

//  0 before the CREATE.
uint64_t
    chain_epoch (chain_t *self);
//  The head statement (parsed, owned by the chain), or NULL when empty:
//  members, admins, title, direct, actor, action, key_check of the
//  current epoch.
const Chat__MembershipStatement *
    chain_head (chain_t *self);
//  SHA-256 of the head's statement bytes, or NULL when empty.
const uint8_t *
    chain_head_hash (chain_t *self);
//  The creator (actor of the CREATE), or NULL when empty.
const char *
    chain_creator (chain_t *self);
bool
    chain_is_member (chain_t *self, const char *name);
bool
    chain_is_admin (chain_t *self, const char *name);

//  ---------------------------------------------------------------- making links

//  The CREATE link of a new conversation. members: canonical names, the
//  actor among them, in any order (sorted here). direct: a 1:1 conversation
//  (exactly two members, no title). key_check: of epoch 1's key.
//  CHAT_OK and out filled (chain_link_free), CHAT_ERR_BAD_STATEMENT when
//  the rules refuse it, or CHAT_ERR_INTERNAL.
int
    chain_make_create (const uint8_t id [CONVERSATION_ID_SIZE], const char *actor,
                       const char *const *members, size_t member_count, bool direct,
                       const char *title, const uint8_t key_check [32],
                       rsakey_t *identity, int64_t now_ms, chain_link_t *out);

//  A change on the chain's head: ADD or REMOVE (subjects), ADMIN (subjects),
//  LEAVE (the actor; key_check NULL), TITLE (title), REKEY. The membership,
//  admins and title after it are worked out here. Same returns as
//  chain_make_create.
int
    chain_make_change (chain_t *self, int action, const char *actor,
                       const char *const *subjects, size_t subject_count,
                       const char *title, const uint8_t key_check [32],
                       rsakey_t *identity, int64_t now_ms, chain_link_t *out);

void
    chain_link_free (chain_link_t *self);
//  The wire's SignedStatement borrowing link's buffers.
void
    chain_link_view (const chain_link_t *link, Chat__SignedStatement *view);

#endif
