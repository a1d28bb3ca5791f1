/*  fuzz_statement - a link offered to a membership chain (chain_append), as
    the main server checks every link it stores and every client every link
    it receives; against the fixed chain of fuzz_chain.h (head: epoch 2)

    Input: a SignedStatement; or FUZZ_MODE_SEAL then MembershipStatement
    bytes, signed here with the key of the actor they name (to reach the
    rules behind the signature). What is accepted must be what
    chain_make_change makes for the same change, byte for byte: the rules
    have one normal form, and the checker and the maker agree on it.
*/
#include <openssl/evp.h>
#include "chain.h"
#include "chaterror.h"
#include "wire.h"
#include "fuzz_chain.h"

static rsakey_t *s_keys [4];            //  alice, bob (fixed), carol, dave
static const char *s_names [4] = { "alice", "bob", "carol", "dave" };
static chain_link_t s_links [2];
static chain_t *s_ref;                  //  never appended to

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_keys [0] = fuzz_load_key (FUZZ_ALICE_KEY);
    s_keys [1] = fuzz_load_key (FUZZ_BOB_KEY);
    s_keys [2] = rsakey_generate (2048);
    s_keys [3] = rsakey_generate (2048);
    FUZZ_CHECK (s_keys [2] && s_keys [3]);
    s_ref = fuzz_chain_make (s_keys [0], s_keys [1], s_links);
    return 0;
}

//  The key of the user a statement names as actor (alice's for anyone else)
static rsakey_t *
s_key_of (const char *actor)
{
    for (int i = 0; i < 4; i++)
        if (credential_username_compare (actor, s_names [i]) == 0)
            return s_keys [i];
    return s_keys [0];
}

static bool
s_sorted (char **names, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!credential_username_valid (names [i])
        ||  (i && credential_username_compare (names [i - 1], names [i]) >= 0))
            return false;
    return true;
}

//  An accepted link: what the rules promise, and what the maker makes
static void
s_check_accepted (chain_t *chain, const Chat__SignedStatement *link)
{
    const Chat__MembershipStatement *old = chain_head (s_ref);
    const Chat__MembershipStatement *st = chain_head (chain);
    FUZZ_CHECK (chain_epoch (chain) == chain_epoch (s_ref) + 1);
    uint8_t hash [32];
    FUZZ_CHECK (EVP_Digest (link->statement.data, link->statement.len, hash, NULL,
                            EVP_sha256 (), NULL));
    FUZZ_CHECK (memcmp (chain_head_hash (chain), hash, 32) == 0);
    FUZZ_CHECK (st->previous_hash.len == 32
             && memcmp (st->previous_hash.data, chain_head_hash (s_ref), 32) == 0);
    FUZZ_CHECK (st->conversation_id.len == CONVERSATION_ID_SIZE
             && memcmp (st->conversation_id.data, old->conversation_id.data,
                        CONVERSATION_ID_SIZE) == 0);
    FUZZ_CHECK (chain_is_member (s_ref, st->actor));
    FUZZ_CHECK (st->action != CHAT__STATEMENT_ACTION__ACTION_CREATE);
    FUZZ_CHECK (s_sorted (st->members, st->n_members) && st->n_members <= CHAIN_MAX_MEMBERS);
    FUZZ_CHECK (s_sorted (st->admins, st->n_admins));
    for (size_t i = 0; i < st->n_admins; i++)
        FUZZ_CHECK (chain_is_member (chain, st->admins [i]));
    FUZZ_CHECK (st->key_check.len
                == (st->action == CHAT__STATEMENT_ACTION__ACTION_LEAVE ? 0 : 32));
    FUZZ_CHECK (st->direct == old->direct);
    FUZZ_CHECK (strlen (st->title) <= CHAIN_MAX_TITLE);

    //  The maker, asked for the same change on the same head, makes the
    //  same bytes (unknown trailing fields, which the checker keeps and
    //  ignores, left aside)
    Chat__MembershipStatement known = *st;
    known.base.n_unknown_fields = 0;
    known.base.unknown_fields = NULL;
    uint8_t *expected;
    size_t expected_len;
    FUZZ_CHECK (wire_pack (&known.base, &expected, &expected_len) == CHAT_OK);
    chain_link_t made;
    int rc = chain_make_change (s_ref, (int) st->action, st->actor,
                                (const char *const *) st->subjects, st->n_subjects,
                                st->title, st->key_check.len ? st->key_check.data : NULL,
                                s_key_of (st->actor), st->made_at, &made);
    FUZZ_CHECK_RC (rc, rc == CHAT_OK);
    FUZZ_CHECK (made.statement_len == expected_len
             && memcmp (made.statement, expected, expected_len) == 0);
    chain_link_free (&made);
    free (expected);

    //  Once in, the same link again is built on a stale head
    FUZZ_CHECK (chain_append (chain, link, s_key_of (st->actor)) == CHAT_ERR_CHAIN_CONFLICT);
}

static void
s_offer (const Chat__SignedStatement *link)
{
    Chat__SignedStatement head;
    chain_link_view (&s_links [1], &head);
    chain_t *chain = chain_restore ("alice", &head);
    FUZZ_CHECK (chain);
    char actor [USERNAME_MAX + 1];
    rsakey_t *key = chain_link_actor (link, actor) == CHAT_OK ? s_key_of (actor) : s_keys [0];
    int rc = chain_append (chain, link, key);
    if (rc == CHAT_OK)
        s_check_accepted (chain, link);
    else {
        FUZZ_CHECK_RC (rc, rc == CHAT_ERR_BAD_STATEMENT || rc == CHAT_ERR_CHAIN_CONFLICT);
        FUZZ_CHECK (chain_epoch (chain) == chain_epoch (s_ref));
        FUZZ_CHECK (memcmp (chain_head_hash (chain), chain_head_hash (s_ref), 32) == 0);
    }
    chain_destroy (&chain);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 1 && data [0] == FUZZ_MODE_SEAL) {
        Chat__SignedStatement link = CHAT__SIGNED_STATEMENT__INIT;
        link.statement.data = (uint8_t *) data + 1;
        link.statement.len = size - 1;
        char actor [USERNAME_MAX + 1];
        rsakey_t *key = chain_link_actor (&link, actor) == CHAT_OK ? s_key_of (actor)
                                                                  : s_keys [0];
        FUZZ_CHECK (rsakey_sign_labelled (key, CHAIN_LABEL, data + 1, size - 1,
                                          &link.signature.data,
                                          &link.signature.len) == CHAT_OK);
        s_offer (&link);
        free (link.signature.data);
        return 0;
    }
    Chat__SignedStatement *link = NULL;
    if (wire_unpack (&chat__signed_statement__descriptor, data, size,
                     (ProtobufCMessage **) &link) != CHAT_OK)
        return 0;
    s_offer (link);
    chat__signed_statement__free_unpacked (link, NULL);
    return 0;
}
