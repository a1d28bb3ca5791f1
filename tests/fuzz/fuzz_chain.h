/*  fuzz_chain - the fixed membership chain fuzz_statement appends to and
    make_corpus makes seeds for: the same statement bytes every time (fixed
    id, keys, clock and epoch keys), so seeds built on its head stay built
    on it

    epoch 1: alice creates {alice, bob, carol}, title "fuzz"
    epoch 2: bob adds dave
*/
#ifndef FUZZ_CHAIN_H_INCLUDED
#define FUZZ_CHAIN_H_INCLUDED

#include "chain.h"
#include "chaterror.h"
#include "epochkey.h"
#include "fuzz_util.h"

#define FUZZ_EPOCH_KEY_BYTE 0x55

//  The key check of the fixed epoch key for epoch
static inline void
fuzz_chain_check (uint64_t epoch, uint8_t check [32])
{
    uint8_t key [EPOCHKEY_SIZE], id [CONVERSATION_ID_SIZE];
    memset (key, FUZZ_EPOCH_KEY_BYTE, sizeof key);
    memset (id, FUZZ_CONVERSATION_BYTE, sizeof id);
    FUZZ_CHECK (epochkey_check_value (key, id, epoch, check) == CHAT_OK);
}

//  The chain, and its two links (chain_link_free each)
static inline chain_t *
fuzz_chain_make (rsakey_t *alice, rsakey_t *bob, chain_link_t links [2])
{
    uint8_t id [CONVERSATION_ID_SIZE], check [32];
    memset (id, FUZZ_CONVERSATION_BYTE, sizeof id);
    const char *members [] = { "alice", "bob", "carol" };
    fuzz_chain_check (1, check);
    FUZZ_CHECK (chain_make_create (id, "alice", members, 3, false, "fuzz", check, alice,
                                   (int64_t) FUZZ_NOW * 1000, &links [0]) == CHAT_OK);
    chain_t *chain = chain_new ();
    FUZZ_CHECK (chain);
    Chat__SignedStatement view;
    chain_link_view (&links [0], &view);
    FUZZ_CHECK (chain_append (chain, &view, alice) == CHAT_OK);
    const char *dave [] = { "dave" };
    fuzz_chain_check (2, check);
    FUZZ_CHECK (chain_make_change (chain, CHAIN_ADD, "bob", dave, 1, NULL, check, bob,
                                   (int64_t) FUZZ_NOW * 1000 + 1, &links [1]) == CHAT_OK);
    chain_link_view (&links [1], &view);
    FUZZ_CHECK (chain_append (chain, &view, bob) == CHAT_OK);
    return chain;
}

#endif
