/*  test_chain - the membership chain: every rule of proto/README.md section
    11, allowed and refused

    A refused change is tried twice: chain_make_* must refuse to make it, and
    the same statement made by hand and signed with the actor's real key (a
    modified client) must be refused by chain_append. Refusals change
    nothing: the chain takes the right link afterwards.
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include "chain.h"
#include "chaterror.h"
#include "epochkey.h"
#include "rsakey.h"
#include "secret.h"
#include "testlocale.h"
#include "wire.h"

#define NOW_MS 1700000000000LL
#define USERS 5

//  alice creates; bob, carol, dave are members or not as a test needs;
//  erin never is
static const char *s_users [USERS] = { "alice", "bob", "carol", "dave", "erin" };
static rsakey_t *s_keys [USERS];
static uint8_t s_id [CONVERSATION_ID_SIZE];

static int
s_group_setup (void **state)
{
    (void) state;
    for (int i = 0; i < USERS; i++)
        if (!(s_keys [i] = rsakey_generate (2048)))
            return -1;
    return secret_random (s_id, sizeof s_id) ? -1 : 0;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    for (int i = 0; i < USERS; i++)
        rsakey_destroy (&s_keys [i]);
    return 0;
}

static rsakey_t *
s_key (const char *name)
{
    for (int i = 0; i < USERS; i++)
        if (credential_username_compare (s_users [i], name) == 0)
            return s_keys [i];
    fail_msg ("no key for %s", name);
    return NULL;
}

//  ---------------------------------------------------------------- helpers

static void
s_check_of (chain_t *chain, uint64_t epoch, uint8_t check [32])
{
    uint8_t key [EPOCHKEY_SIZE];
    assert_int_equal (epochkey_generate (key), CHAT_OK);
    const uint8_t *id = chain && chain_head (chain)
                      ? chain_head (chain)->conversation_id.data : s_id;
    assert_int_equal (epochkey_check_value (key, id, epoch, check), CHAT_OK);
}

static int
s_append (chain_t *chain, const chain_link_t *link, rsakey_t *key)
{
    Chat__SignedStatement view;
    chain_link_view (link, &view);
    return chain_append (chain, &view, key);
}

static int
s_make_create (const char *actor, const char **members, size_t count, bool direct,
               const char *title, chain_link_t *link)
{
    uint8_t check [32];
    s_check_of (NULL, 1, check);
    return chain_make_create (s_id, actor, members, count, direct, title, check,
                              s_key (actor), NOW_MS, link);
}

//  A new chain holding the CREATE (which must be allowed)
static chain_t *
s_created (const char *actor, const char **members, size_t count, bool direct,
           const char *title)
{
    chain_link_t link;
    assert_int_equal (s_make_create (actor, members, count, direct, title, &link), CHAT_OK);
    chain_t *chain = chain_new ();
    assert_non_null (chain);
    assert_int_equal (s_append (chain, &link, s_key (actor)), CHAT_OK);
    chain_link_free (&link);
    return chain;
}

//  The usual group: alice (creator, admin), bob, carol; title "team"
static chain_t *
s_group (void)
{
    const char *members [] = { "carol", "alice", "bob" };
    return s_created ("alice", members, 3, false, "team");
}

static chain_t *
s_direct (void)
{
    const char *members [] = { "bob", "alice" };
    return s_created ("alice", members, 2, true, NULL);
}

static int
s_make_change (chain_t *chain, int action, const char *actor, const char **subjects,
               size_t count, const char *title, chain_link_t *link)
{
    uint8_t check [32];
    s_check_of (chain, chain_epoch (chain) + 1, check);
    rsakey_t *key = credential_username_valid (actor) ? s_key (actor) : s_keys [0];
    return chain_make_change (chain, action, actor, subjects, count, title,
                              action == CHAIN_LEAVE ? NULL : check, key, NOW_MS, link);
}

//  Make and append a change that must be allowed
static void
s_change (chain_t *chain, int action, const char *actor, const char **subjects,
          size_t count, const char *title)
{
    chain_link_t link;
    uint64_t epoch = chain_epoch (chain);
    assert_int_equal (s_make_change (chain, action, actor, subjects, count, title, &link),
                      CHAT_OK);
    assert_int_equal (s_append (chain, &link, s_key (actor)), CHAT_OK);
    assert_int_equal (chain_epoch (chain), epoch + 1);
    chain_link_free (&link);
}

//  The statement of a link, parsed (chat__membership_statement__free_unpacked)
static Chat__MembershipStatement *
s_parse (const chain_link_t *link)
{
    Chat__MembershipStatement *st = chat__membership_statement__unpack (
        NULL, link->statement_len, link->statement);
    assert_non_null (st);
    return st;
}

//  Pack st and sign it with key: what a modified client would send
static void
s_sign (const Chat__MembershipStatement *st, rsakey_t *key, chain_link_t *out)
{
    memset (out, 0, sizeof *out);
    assert_int_equal (wire_pack (&st->base, &out->statement, &out->statement_len), CHAT_OK);
    assert_int_equal (rsakey_sign_labelled (key, CHAIN_LABEL, out->statement,
                                            out->statement_len, &out->signature,
                                            &out->signature_len), CHAT_OK);
}

//  Sign st as its actor and offer it to the chain: the code, and nothing
//  changed when refused
static int
s_offer (chain_t *chain, const Chat__MembershipStatement *st)
{
    chain_link_t link;
    s_sign (st, s_key (st->actor), &link);
    uint64_t epoch = chain_epoch (chain);
    uint8_t hash [CHAIN_HASH_SIZE] = { 0 };
    if (chain_head_hash (chain))
        memcpy (hash, chain_head_hash (chain), sizeof hash);
    const Chat__MembershipStatement *head = chain_head (chain);
    int rc = s_append (chain, &link, s_key (st->actor));
    if (rc != CHAT_OK) {
        assert_int_equal (chain_epoch (chain), epoch);
        assert_ptr_equal (chain_head (chain), head);
        if (head)
            assert_memory_equal (chain_head_hash (chain), hash, sizeof hash);
    }
    chain_link_free (&link);
    return rc;
}

//  A valid next link of the given kind, by an allowed actor, parsed: the
//  base a test alters into what the rules refuse
static Chat__MembershipStatement *
s_base (chain_t *chain, int action, const char *actor, const char **subjects, size_t count,
        const char *title)
{
    chain_link_t link;
    assert_int_equal (s_make_change (chain, action, actor, subjects, count, title, &link),
                      CHAT_OK);
    Chat__MembershipStatement *st = s_parse (&link);
    chain_link_free (&link);
    return st;
}

static void
s_assert_list (char **names, size_t count, const char **expected, size_t expected_count)
{
    assert_int_equal (count, expected_count);
    for (size_t i = 0; i < count; i++)
        assert_string_equal (names [i], expected [i]);
}

//  In a direct conversation (alice and bob) the action is refused: by the
//  maker, and made by hand from a REKEY turned into it, with the state
//  after it as the action would leave it
static void
s_direct_refuses (int action, const char **subjects, size_t subject_count,
                  const char **members, size_t member_count, const char **admins,
                  size_t admin_count, const char *title)
{
    chain_t *chain = s_direct ();
    chain_link_t link;
    assert_int_equal (s_make_change (chain, action, "alice", subjects, subject_count, title,
                                     &link), CHAT_ERR_BAD_STATEMENT);
    Chat__MembershipStatement *st = s_base (chain, CHAIN_REKEY, "alice", NULL, 0, NULL);
    Chat__MembershipStatement copy = *st;
    copy.action = (Chat__StatementAction) action;
    copy.subjects = (char **) subjects;
    copy.n_subjects = subject_count;
    copy.members = (char **) members;
    copy.n_members = member_count;
    copy.admins = (char **) admins;
    copy.n_admins = admin_count;
    copy.title = (char *) (title ? title : "");
    assert_int_equal (s_offer (chain, &copy), CHAT_ERR_BAD_STATEMENT);
    chat__membership_statement__free_unpacked (st, NULL);
    chain_destroy (&chain);
}

//  ---------------------------------------------------------------- CREATE

static void
test_create (void **state)
{
    (void) state;
    chain_link_t link;
    const char *members [] = { "carol", "alice", "bob" };
    assert_int_equal (s_make_create ("alice", members, 3, false, "team", &link), CHAT_OK);
    //  The statement says what the text says, and is signed as a statement
    Chat__MembershipStatement *st = s_parse (&link);
    assert_int_equal (st->conversation_id.len, CONVERSATION_ID_SIZE);
    assert_memory_equal (st->conversation_id.data, s_id, CONVERSATION_ID_SIZE);
    assert_int_equal (st->epoch, 1);
    assert_int_equal (st->previous_hash.len, 0);
    assert_string_equal (st->actor, "alice");
    assert_int_equal (st->action, CHAT__STATEMENT_ACTION__ACTION_CREATE);
    assert_int_equal (st->n_subjects, 0);
    const char *sorted [] = { "alice", "bob", "carol" };
    s_assert_list (st->members, st->n_members, sorted, 3);
    const char *admins [] = { "alice" };
    s_assert_list (st->admins, st->n_admins, admins, 1);
    assert_string_equal (st->title, "team");
    assert_false (st->direct);
    assert_int_equal (st->key_check.len, 32);
    assert_int_equal (st->made_at, NOW_MS);
    chat__membership_statement__free_unpacked (st, NULL);
    assert_int_equal (rsakey_verify_labelled (s_key ("alice"), "chat/2 statement",
                                              link.statement, link.statement_len,
                                              link.signature, link.signature_len), CHAT_OK);

    chain_t *chain = chain_new ();
    assert_int_equal (chain_epoch (chain), 0);
    assert_null (chain_head (chain));
    assert_null (chain_head_hash (chain));
    assert_null (chain_creator (chain));
    assert_false (chain_is_member (chain, "alice"));
    assert_int_equal (s_append (chain, &link, s_key ("alice")), CHAT_OK);
    assert_int_equal (chain_epoch (chain), 1);
    assert_string_equal (chain_creator (chain), "alice");
    assert_true (chain_is_member (chain, "bob"));
    assert_true (chain_is_member (chain, "BOB"));
    assert_false (chain_is_member (chain, "dave"));
    assert_true (chain_is_admin (chain, "alice"));
    assert_false (chain_is_admin (chain, "bob"));
    //  The head hash is SHA-256 of the statement's bytes
    uint8_t hash [32];
    assert_true (EVP_Digest (link.statement, link.statement_len, hash, NULL, EVP_sha256 (),
                             NULL));
    assert_memory_equal (chain_head_hash (chain), hash, 32);
    //  The same link again is no CREATE of this chain any more
    assert_int_equal (s_append (chain, &link, s_key ("alice")), CHAT_ERR_CHAIN_CONFLICT);
    chain_link_free (&link);
    chain_destroy (&chain);
    assert_null (chain);

    //  A direct conversation: exactly two, no title
    chain = s_direct ();
    assert_true (chain_head (chain)->direct);
    chain_destroy (&chain);
}

static void
test_create_refused (void **state)
{
    (void) state;
    chain_link_t link;
    //  The actor not among the members; one member; direct of three or titled
    const char *others [] = { "bob", "carol" };
    assert_int_equal (s_make_create ("alice", others, 2, false, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    const char *alone [] = { "alice" };
    assert_int_equal (s_make_create ("alice", alone, 1, false, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    const char *three [] = { "alice", "bob", "carol" };
    assert_int_equal (s_make_create ("alice", three, 3, true, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_make_create ("alice", three, 2, true, "hi", &link),
                      CHAT_ERR_BAD_STATEMENT);
    //  Repeats, in any case; invalid names; the actor spelled otherwise
    const char *twice [] = { "alice", "bob", "Bob" };
    assert_int_equal (s_make_create ("alice", twice, 3, false, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    const char *invalid [] = { "alice", "b b" };
    assert_int_equal (s_make_create ("alice", invalid, 2, false, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_make_create ("ALICE", three, 3, false, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    //  Titles: 128 bytes of UTF-8 at most
    char title [CHAIN_MAX_TITLE + 2];
    memset (title, 't', sizeof title);
    title [CHAIN_MAX_TITLE + 1] = 0;
    assert_int_equal (s_make_create ("alice", three, 3, false, title, &link),
                      CHAT_ERR_BAD_STATEMENT);
    title [CHAIN_MAX_TITLE] = 0;
    assert_int_equal (s_make_create ("alice", three, 3, false, title, &link), CHAT_OK);
    chain_link_free (&link);
    assert_int_equal (s_make_create ("alice", three, 3, false, "caf\xc3\xa9", &link), CHAT_OK);
    chain_link_free (&link);
    assert_int_equal (s_make_create ("alice", three, 3, false, "caf\xc3", &link),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_make_create ("alice", three, 3, false, "\xed\xa0\x80", &link),
                      CHAT_ERR_BAD_STATEMENT);    //  a UTF-16 surrogate

    //  Hand-made CREATE links a modified client might sign
    assert_int_equal (s_make_create ("alice", three, 3, false, NULL, &link), CHAT_OK);
    Chat__MembershipStatement *st = s_parse (&link);
    chain_link_free (&link);
    const char *admins2 [] = { "alice", "bob" };
    const char *admins_bob [] = { "bob" };
    const char *unsorted [] = { "bob", "alice", "carol" };
    const char *without_erin [] = { "bob", "carol", "dave" };
    const char *subjects [] = { "bob" };
    uint8_t prev [32] = { 1 };
    uint8_t short_id [15] = { 0 };
    for (int variant = 0; variant < 17; variant++) {
        Chat__MembershipStatement copy = *st;
        int expected = CHAT_ERR_BAD_STATEMENT;
        switch (variant) {
            case 0: copy.admins = (char **) admins2; copy.n_admins = 2; break;
            case 1: copy.admins = (char **) admins_bob; break;
            case 2: copy.n_admins = 0; break;
            case 3: copy.members = (char **) unsorted; break;
            case 4: copy.members = (char **) without_erin; copy.actor = (char *) "erin";
                    copy.admins = (char **) &copy.actor; break;  //  actor not a member
            case 5: copy.subjects = (char **) subjects; copy.n_subjects = 1; break;
            case 6: copy.epoch = 2; expected = CHAT_ERR_CHAIN_CONFLICT; break;
            case 7: copy.epoch = 0; break;
            case 8: copy.previous_hash.data = prev; copy.previous_hash.len = 32; break;
            case 9: copy.conversation_id.data = short_id; copy.conversation_id.len = 15; break;
            case 10: copy.key_check.len = 31; break;
            case 11: copy.key_check.len = 0; break;
            case 12: copy.action = CHAT__STATEMENT_ACTION__ACTION_NONE; break;
            case 13: copy.action = (Chat__StatementAction) 8; break;
            case 14: copy.action = CHAT__STATEMENT_ACTION__ACTION_REKEY; break;
            case 15: expected = CHAT_OK; break;                  //  the control
            case 16: copy.members = (char **) alone; copy.n_members = 1; break;
        }
        chain_t *chain = chain_new ();
        assert_int_equal (s_offer (chain, &copy), expected);
        chain_destroy (&chain);
    }
    chat__membership_statement__free_unpacked (st, NULL);
}

static int
s_strcmp (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

//  256 members at most, when created and when added
static void
test_member_cap (void **state)
{
    (void) state;
    static char names [CHAIN_MAX_MEMBERS + 2][8];
    const char *list [CHAIN_MAX_MEMBERS + 2];
    list [0] = "alice";
    for (int i = 1; i < CHAIN_MAX_MEMBERS + 2; i++) {
        snprintf (names [i], sizeof names [i], "m%03d", i);
        list [i] = names [i];
    }
    chain_link_t link;
    //  257: refused by the maker, and by the checker when signed anyway
    assert_int_equal (s_make_create ("alice", list, CHAIN_MAX_MEMBERS + 1, false, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_make_create ("alice", list, CHAIN_MAX_MEMBERS, false, NULL, &link),
                      CHAT_OK);
    Chat__MembershipStatement *st = s_parse (&link);
    chain_link_free (&link);
    Chat__MembershipStatement copy = *st;
    const char *sorted [CHAIN_MAX_MEMBERS + 1];
    memcpy (sorted, list, sizeof sorted);       //  "alice" < "m001" < ...: sorted
    copy.members = (char **) sorted;
    copy.n_members = CHAIN_MAX_MEMBERS + 1;
    chain_t *chain = chain_new ();
    assert_int_equal (s_offer (chain, &copy), CHAT_ERR_BAD_STATEMENT);
    chat__membership_statement__free_unpacked (st, NULL);
    chain_destroy (&chain);

    //  255 + 1 = 256 is fine; one more is not
    chain = s_created ("alice", list, CHAIN_MAX_MEMBERS - 1, false, NULL);
    const char *bob [] = { "bob" }, *carol [] = { "carol" };
    s_change (chain, CHAIN_ADD, "alice", bob, 1, NULL);
    assert_int_equal (chain_head (chain)->n_members, CHAIN_MAX_MEMBERS);
    assert_int_equal (s_make_change (chain, CHAIN_ADD, "bob", carol, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    //  signed anyway, with the 257 names listed
    st = s_base (chain, CHAIN_REKEY, "bob", NULL, 0, NULL);
    copy = *st;
    copy.action = CHAT__STATEMENT_ACTION__ACTION_ADD;
    copy.subjects = (char **) carol;
    copy.n_subjects = 1;
    const char *all [CHAIN_MAX_MEMBERS + 1];
    memcpy (all, st->members, CHAIN_MAX_MEMBERS * sizeof (char *));
    all [CHAIN_MAX_MEMBERS] = "carol";
    //  All lower case here, so bytewise order is the lower-case order
    qsort (all, CHAIN_MAX_MEMBERS + 1, sizeof (char *), s_strcmp);
    copy.members = (char **) all;
    copy.n_members = CHAIN_MAX_MEMBERS + 1;
    assert_int_equal (s_offer (chain, &copy), CHAT_ERR_BAD_STATEMENT);
    chat__membership_statement__free_unpacked (st, NULL);
    chain_destroy (&chain);
}

//  The largest statements the rules allow (256 members of 32-character
//  names, a change naming 255 of them) are made and taken
static void
test_largest (void **state)
{
    (void) state;
    static char names [CHAIN_MAX_MEMBERS][USERNAME_MAX + 1];
    const char *list [CHAIN_MAX_MEMBERS];
    list [0] = "alice";
    for (int i = 1; i < CHAIN_MAX_MEMBERS; i++) {
        snprintf (names [i], sizeof names [i], "m%03d", i);
        memset (names [i] + 4, 'x', USERNAME_MAX - 4);
        names [i][USERNAME_MAX] = 0;
        list [i] = names [i];
    }
    chain_t *chain = s_created ("alice", list, 2, false, NULL);
    chain_link_t link;
    //  ADD 254: subjects and members, ~17 KB
    assert_int_equal (s_make_change (chain, CHAIN_ADD, "alice", list + 2,
                                     CHAIN_MAX_MEMBERS - 2, NULL, &link), CHAT_OK);
    assert_true (link.statement_len > 16384);
    assert_int_equal (s_append (chain, &link, s_key ("alice")), CHAT_OK);
    chain_link_free (&link);
    assert_int_equal (chain_head (chain)->n_members, CHAIN_MAX_MEMBERS);
    //  ADMIN 255: subjects, members and admins, ~26 KB
    assert_int_equal (s_make_change (chain, CHAIN_ADMIN, "alice", list + 1,
                                     CHAIN_MAX_MEMBERS - 1, NULL, &link), CHAT_OK);
    assert_true (link.statement_len > 24000 && link.statement_len <= CHAIN_MAX_STATEMENT);
    assert_int_equal (s_append (chain, &link, s_key ("alice")), CHAT_OK);
    chain_link_free (&link);
    assert_int_equal (chain_head (chain)->n_admins, CHAIN_MAX_MEMBERS);
    chain_destroy (&chain);
}

//  ---------------------------------------------------------------- ADD

static void
test_add (void **state)
{
    (void) state;
    chain_t *chain = s_group ();
    //  Any member, not only an admin
    const char *dave [] = { "dave" };
    s_change (chain, CHAIN_ADD, "bob", dave, 1, NULL);
    const Chat__MembershipStatement *head = chain_head (chain);
    const char *members [] = { "alice", "bob", "carol", "dave" };
    s_assert_list (head->members, head->n_members, members, 4);
    const char *admins [] = { "alice" };
    s_assert_list (head->admins, head->n_admins, admins, 1);
    assert_string_equal (head->title, "team");
    assert_int_equal (head->epoch, 2);
    //  The previous hash names epoch 1's statement
    assert_int_equal (head->previous_hash.len, 32);

    chain_link_t link;
    //  Refused: by a non-member, of a member (in any case), of nobody
    assert_int_equal (s_make_change (chain, CHAIN_ADD, "erin", dave, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    const char *bob_upper [] = { "BOB" };
    assert_int_equal (s_make_change (chain, CHAIN_ADD, "alice", bob_upper, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_make_change (chain, CHAIN_ADD, "alice", NULL, 0, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);

    //  The same, signed anyway, and other lies about the state after
    const char *erin [] = { "erin" };
    Chat__MembershipStatement *st = s_base (chain, CHAIN_ADD, "alice", erin, 1, NULL);
    const char *no_dave [] = { "alice", "bob", "carol", "erin" };
    const char *two_admins [] = { "alice", "erin" };
    const char *bob_again [] = { "bob", "erin" };
    const char *with_bob_upper [] = { "alice", "BOB", "bob", "carol", "dave", "erin" };
    for (int variant = 0; variant < 9; variant++) {
        Chat__MembershipStatement copy = *st;
        int expected = CHAT_ERR_BAD_STATEMENT;
        switch (variant) {
            case 0: copy.actor = (char *) "erin"; break;                 //  non-member
            case 1: copy.members = (char **) no_dave; break;             //  drops dave
            case 8: copy.actor = (char *) "ALICE"; break;   //  a member in another spelling
            case 2: copy.admins = (char **) two_admins; copy.n_admins = 2; break;
            case 3: copy.title = (char *) "other"; break;
            case 4: copy.subjects = (char **) bob_again; copy.n_subjects = 2; break;
            case 5: copy.subjects = (char **) bob_upper;
                    copy.members = (char **) with_bob_upper; copy.n_members = 6; break;
            case 6: copy.direct = true; break;
            case 7: continue;                                   //  the control, below
        }
        assert_int_equal (s_offer (chain, &copy), expected);
    }
    assert_int_equal (s_offer (chain, st), CHAT_OK);
    chat__membership_statement__free_unpacked (st, NULL);
    chain_destroy (&chain);

    //  Never in a direct conversation
    const char *carol [] = { "carol" };
    const char *three [] = { "alice", "bob", "carol" };
    s_direct_refuses (CHAIN_ADD, carol, 1, three, 3, admins, 1, NULL);
}

//  ---------------------------------------------------------------- REMOVE

static void
test_remove (void **state)
{
    (void) state;
    chain_t *chain = s_group ();
    const char *dave [] = { "dave" }, *carol [] = { "carol" }, *bob [] = { "bob" };
    s_change (chain, CHAIN_ADD, "alice", dave, 1, NULL);
    s_change (chain, CHAIN_ADMIN, "alice", carol, 1, NULL);
    //  An admin removes a member; another admin removes an admin
    s_change (chain, CHAIN_REMOVE, "carol", dave, 1, NULL);
    const char *after [] = { "alice", "bob", "carol" };
    s_assert_list (chain_head (chain)->members, chain_head (chain)->n_members, after, 3);
    s_change (chain, CHAIN_REMOVE, "alice", carol, 1, NULL);
    const char *left [] = { "alice", "bob" };
    const char *admins [] = { "alice" };
    s_assert_list (chain_head (chain)->members, chain_head (chain)->n_members, left, 2);
    s_assert_list (chain_head (chain)->admins, chain_head (chain)->n_admins, admins, 1);
    assert_false (chain_is_member (chain, "carol"));
    assert_false (chain_is_admin (chain, "carol"));
    s_change (chain, CHAIN_ADD, "bob", carol, 1, NULL);
    assert_false (chain_is_admin (chain, "carol"));      //  back as a member only

    chain_link_t link;
    //  Refused: by a non-admin, of oneself, of a non-member, of nobody, of a
    //  member named in another spelling, by a non-member
    assert_int_equal (s_make_change (chain, CHAIN_REMOVE, "bob", carol, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    const char *alice [] = { "alice" };
    assert_int_equal (s_make_change (chain, CHAIN_REMOVE, "alice", alice, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_make_change (chain, CHAIN_REMOVE, "alice", dave, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_make_change (chain, CHAIN_REMOVE, "alice", NULL, 0, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    const char *carol_upper [] = { "CAROL" };
    assert_int_equal (s_make_change (chain, CHAIN_REMOVE, "alice", carol_upper, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_make_change (chain, CHAIN_REMOVE, "erin", carol, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);

    //  Signed anyway
    Chat__MembershipStatement *st = s_base (chain, CHAIN_REMOVE, "alice", carol, 1, NULL);
    const char *kept_carol [] = { "alice", "bob", "carol" };
    const char *both [] = { "alice", "bob" };
    for (int variant = 0; variant < 6; variant++) {
        Chat__MembershipStatement copy = *st;
        int expected = CHAT_ERR_BAD_STATEMENT;
        switch (variant) {
            case 0: copy.actor = (char *) "bob"; break;                  //  non-admin
            case 1: copy.subjects = (char **) alice;                     //  oneself
                    copy.members = (char **) bob; copy.n_members = 1;
                    copy.n_admins = 0; break;
            case 2: copy.members = (char **) kept_carol; copy.n_members = 3; break;
            case 3: copy.subjects = (char **) carol_upper; break;
            case 4: copy.subjects = (char **) both; copy.n_subjects = 2;
                    copy.members = (char **) alice; copy.n_members = 1; break;
            case 5: expected = CHAT_OK; break;
        }
        assert_int_equal (s_offer (chain, &copy), expected);
    }
    chat__membership_statement__free_unpacked (st, NULL);
    chain_destroy (&chain);

    //  Never in a direct conversation
    s_direct_refuses (CHAIN_REMOVE, bob, 1, alice, 1, alice, 1, NULL);
}

//  ---------------------------------------------------------------- LEAVE, REKEY

static void
test_leave_and_rekey (void **state)
{
    (void) state;
    chain_t *chain = s_group ();
    chain_link_t link;
    //  LEAVE carries no key check
    assert_int_equal (s_make_change (chain, CHAIN_LEAVE, "bob", NULL, 0, NULL, &link), CHAT_OK);
    Chat__MembershipStatement *st = s_parse (&link);
    assert_int_equal (st->key_check.len, 0);
    chat__membership_statement__free_unpacked (st, NULL);
    assert_int_equal (s_append (chain, &link, s_key ("bob")), CHAT_OK);
    chain_link_free (&link);
    assert_false (chain_is_member (chain, "bob"));
    assert_int_equal (chain_head (chain)->key_check.len, 0);
    //  A remaining member re-keys the keyless epoch
    s_change (chain, CHAIN_REKEY, "carol", NULL, 0, NULL);
    assert_int_equal (chain_head (chain)->key_check.len, 32);
    //  The creator and only admin leaves: no admin remains
    s_change (chain, CHAIN_LEAVE, "alice", NULL, 0, NULL);
    const char *carol_only [] = { "carol" };
    s_assert_list (chain_head (chain)->members, chain_head (chain)->n_members, carol_only, 1);
    assert_int_equal (chain_head (chain)->n_admins, 0);
    assert_string_equal (chain_creator (chain), "alice");
    //  who can no longer act, not even as the creator
    assert_int_equal (s_make_change (chain, CHAIN_REKEY, "alice", NULL, 0, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_make_change (chain, CHAIN_ADMIN, "alice", carol_only, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    chain_destroy (&chain);

    //  Refused: a LEAVE with a key check, with subjects, by a non-member;
    //  a REKEY without a key check, with subjects, by a non-member
    chain = s_group ();
    assert_int_equal (s_make_change (chain, CHAIN_LEAVE, "erin", NULL, 0, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    const char *bob [] = { "bob" };
    assert_int_equal (s_make_change (chain, CHAIN_LEAVE, "alice", bob, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_make_change (chain, CHAIN_REKEY, "erin", NULL, 0, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_make_change (chain, CHAIN_REKEY, "bob", bob, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (chain_make_change (chain, CHAIN_REKEY, "bob", NULL, 0, NULL, NULL,
                                         s_key ("bob"), NOW_MS, &link),
                      CHAT_ERR_BAD_STATEMENT);
    st = s_base (chain, CHAIN_LEAVE, "bob", NULL, 0, NULL);
    uint8_t check [32] = { 7 };
    const char *all [] = { "alice", "bob", "carol" };
    for (int variant = 0; variant < 5; variant++) {
        Chat__MembershipStatement copy = *st;
        int expected = CHAT_ERR_BAD_STATEMENT;
        switch (variant) {
            case 0: copy.key_check.data = check; copy.key_check.len = 32; break;
            case 1: copy.subjects = (char **) bob; copy.n_subjects = 1; break;
            case 2: copy.members = (char **) all; copy.n_members = 3; break;   //  stays
            case 3: copy.action = CHAT__STATEMENT_ACTION__ACTION_REKEY; break;  //  no check
            case 4: expected = CHAT_OK; break;
        }
        assert_int_equal (s_offer (chain, &copy), expected);
    }
    chat__membership_statement__free_unpacked (st, NULL);
    //  A REKEY changes nothing but the key
    st = s_base (chain, CHAIN_REKEY, "alice", NULL, 0, NULL);
    const char *others [] = { "alice", "carol" };
    for (int variant = 0; variant < 4; variant++) {
        Chat__MembershipStatement copy = *st;
        int expected = CHAT_ERR_BAD_STATEMENT;
        switch (variant) {
            case 0: copy.members = (char **) others; copy.n_members = 1; break;
            case 1: copy.title = (char *) "renamed"; break;
            case 2: copy.n_admins = 0; break;
            case 3: expected = CHAT_OK; break;
        }
        assert_int_equal (s_offer (chain, &copy), expected);
    }
    chat__membership_statement__free_unpacked (st, NULL);
    chain_destroy (&chain);

    //  In a direct conversation both are allowed
    chain = s_direct ();
    s_change (chain, CHAIN_REKEY, "bob", NULL, 0, NULL);
    s_change (chain, CHAIN_LEAVE, "bob", NULL, 0, NULL);
    s_change (chain, CHAIN_REKEY, "alice", NULL, 0, NULL);
    assert_true (chain_head (chain)->direct);
    chain_destroy (&chain);
}

//  ---------------------------------------------------------------- TITLE, ADMIN

static void
test_title (void **state)
{
    (void) state;
    chain_t *chain = s_group ();
    s_change (chain, CHAIN_TITLE, "carol", NULL, 0, "new name");
    assert_string_equal (chain_head (chain)->title, "new name");
    s_change (chain, CHAIN_TITLE, "bob", NULL, 0, NULL);            //  no title
    assert_string_equal (chain_head (chain)->title, "");
    //  A later change keeps it
    s_change (chain, CHAIN_TITLE, "bob", NULL, 0, "kept");
    s_change (chain, CHAIN_REKEY, "bob", NULL, 0, NULL);
    assert_string_equal (chain_head (chain)->title, "kept");

    chain_link_t link;
    assert_int_equal (s_make_change (chain, CHAIN_TITLE, "erin", NULL, 0, "x", &link),
                      CHAT_ERR_BAD_STATEMENT);
    char title [CHAIN_MAX_TITLE + 2];
    memset (title, 'x', sizeof title);
    title [CHAIN_MAX_TITLE + 1] = 0;
    assert_int_equal (s_make_change (chain, CHAIN_TITLE, "bob", NULL, 0, title, &link),
                      CHAT_ERR_BAD_STATEMENT);
    const char *bob [] = { "bob" };
    assert_int_equal (s_make_change (chain, CHAIN_TITLE, "bob", bob, 1, "x", &link),
                      CHAT_ERR_BAD_STATEMENT);
    Chat__MembershipStatement *st = s_base (chain, CHAIN_TITLE, "bob", NULL, 0, "fine");
    for (int variant = 0; variant < 5; variant++) {
        Chat__MembershipStatement copy = *st;
        int expected = CHAT_ERR_BAD_STATEMENT;
        switch (variant) {
            case 0: copy.title = title; break;
            case 1: copy.title = (char *) "bad \xff"; break;
            case 2: copy.actor = (char *) "erin"; break;
            case 3: copy.n_admins = 0; break;
            case 4: expected = CHAT_OK; break;
        }
        assert_int_equal (s_offer (chain, &copy), expected);
    }
    chat__membership_statement__free_unpacked (st, NULL);
    chain_destroy (&chain);

    //  Never in a direct conversation, not even to the same (no) title
    const char *pair [] = { "alice", "bob" };
    const char *alice [] = { "alice" };
    s_direct_refuses (CHAIN_TITLE, NULL, 0, pair, 2, alice, 1, "x");
    s_direct_refuses (CHAIN_TITLE, NULL, 0, pair, 2, alice, 1, "");
}

static void
test_admin (void **state)
{
    (void) state;
    chain_t *chain = s_group ();
    const char *bob [] = { "bob" }, *carol [] = { "carol" }, *dave [] = { "dave" };
    //  Only the creator
    s_change (chain, CHAIN_ADMIN, "alice", bob, 1, NULL);
    const char *admins [] = { "alice", "bob" };
    s_assert_list (chain_head (chain)->admins, chain_head (chain)->n_admins, admins, 2);
    chain_link_t link;
    assert_int_equal (s_make_change (chain, CHAIN_ADMIN, "bob", carol, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);                 //  an admin, not creator
    assert_int_equal (s_make_change (chain, CHAIN_ADMIN, "alice", bob, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);                 //  admin already
    assert_int_equal (s_make_change (chain, CHAIN_ADMIN, "alice", dave, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);                 //  not a member
    assert_int_equal (s_make_change (chain, CHAIN_ADMIN, "alice", NULL, 0, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);
    const char *carol_upper [] = { "Carol" };
    assert_int_equal (s_make_change (chain, CHAIN_ADMIN, "alice", carol_upper, 1, NULL, &link),
                      CHAT_ERR_BAD_STATEMENT);                 //  another spelling
    Chat__MembershipStatement *st = s_base (chain, CHAIN_ADMIN, "alice", carol, 1, NULL);
    const char *carol_both [] = { "alice", "bob", "Carol" };
    const char *three [] = { "alice", "bob", "carol" };
    for (int variant = 0; variant < 5; variant++) {
        Chat__MembershipStatement copy = *st;
        int expected = CHAT_ERR_BAD_STATEMENT;
        switch (variant) {
            case 0: copy.actor = (char *) "bob"; break;
            case 1: copy.subjects = (char **) carol_upper;
                    copy.admins = (char **) carol_both; break;
            case 2: copy.admins = (char **) admins; copy.n_admins = 2; break;   //  not added
            case 3: copy.members = (char **) three; copy.admins = (char **) three;
                    copy.subjects = (char **) dave; break;      //  dave is not a member
            case 4: expected = CHAT_OK; break;
        }
        assert_int_equal (s_offer (chain, &copy), expected);
    }
    chat__membership_statement__free_unpacked (st, NULL);
    chain_destroy (&chain);

    //  Not in a direct conversation
    const char *pair [] = { "alice", "bob" };
    s_direct_refuses (CHAIN_ADMIN, bob, 1, pair, 2, pair, 2, NULL);
}

//  ---------------------------------------------------------------- chain mechanics

static void
test_conflicts (void **state)
{
    (void) state;
    chain_t *chain = s_group ();
    //  Two members build on the same head: the first wins
    chain_link_t first, second;
    const char *dave [] = { "dave" };
    assert_int_equal (s_make_change (chain, CHAIN_ADD, "alice", dave, 1, NULL, &first), CHAT_OK);
    assert_int_equal (s_make_change (chain, CHAIN_TITLE, "bob", NULL, 0, "x", &second), CHAT_OK);
    assert_int_equal (s_append (chain, &first, s_key ("alice")), CHAT_OK);
    assert_int_equal (s_append (chain, &second, s_key ("bob")), CHAT_ERR_CHAIN_CONFLICT);
    //  The same link twice
    assert_int_equal (s_append (chain, &first, s_key ("alice")), CHAT_ERR_CHAIN_CONFLICT);
    chain_link_free (&first);
    chain_link_free (&second);

    //  Stale previous hash, wrong epochs, another conversation
    Chat__MembershipStatement *st = s_base (chain, CHAIN_REKEY, "bob", NULL, 0, NULL);
    uint8_t stale [32];
    memcpy (stale, chain_head_hash (chain), 32);
    stale [0] ^= 1;
    uint8_t other_id [CONVERSATION_ID_SIZE];
    memcpy (other_id, s_id, sizeof other_id);
    other_id [3] ^= 4;
    for (int variant = 0; variant < 9; variant++) {
        Chat__MembershipStatement copy = *st;
        int expected = CHAT_ERR_CHAIN_CONFLICT;
        switch (variant) {
            case 0: copy.previous_hash.data = stale; break;
            case 1: copy.previous_hash.len = 31; break;
            case 2: copy.previous_hash.len = 0; break;
            case 3: copy.epoch = st->epoch - 1; break;
            case 4: copy.epoch = st->epoch + 1; break;
            case 5: copy.epoch = 1; break;
            case 6: copy.conversation_id.data = other_id; break;
            case 7: copy.conversation_id.len = 15; expected = CHAT_ERR_BAD_STATEMENT; break;
            case 8: expected = CHAT_OK; break;
        }
        assert_int_equal (s_offer (chain, &copy), expected);
    }
    chat__membership_statement__free_unpacked (st, NULL);
    chain_destroy (&chain);
}

//  Altered after signing, signed by another key, a flipped signature bit,
//  no key: ERR_BAD_STATEMENT, and the chain unchanged
static void
test_signatures (void **state)
{
    (void) state;
    chain_t *chain = s_group ();
    chain_link_t link;
    const char *dave [] = { "dave" };
    assert_int_equal (s_make_change (chain, CHAIN_ADD, "bob", dave, 1, NULL, &link), CHAT_OK);
    const Chat__MembershipStatement *head = chain_head (chain);
    //  Every byte of the statement altered
    for (size_t i = 0; i < link.statement_len; i++) {
        link.statement [i] ^= 0x01;
        int rc = s_append (chain, &link, s_key ("bob"));
        assert_true (rc == CHAT_ERR_BAD_STATEMENT || rc == CHAT_ERR_CHAIN_CONFLICT);
        link.statement [i] ^= 0x01;
    }
    for (size_t bit = 0; bit < link.signature_len * 8; bit += 13) {
        link.signature [bit / 8] ^= (uint8_t) (1 << (bit % 8));
        assert_int_equal (s_append (chain, &link, s_key ("bob")), CHAT_ERR_BAD_STATEMENT);
        link.signature [bit / 8] ^= (uint8_t) (1 << (bit % 8));
    }
    //  Checked with another member's key (the actor is bob), or none
    assert_int_equal (s_append (chain, &link, s_key ("alice")), CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_append (chain, &link, NULL), CHAT_ERR_BAD_STATEMENT);
    //  Truncated signature, truncated statement
    size_t sig_len = link.signature_len;
    link.signature_len = sig_len - 1;
    assert_int_equal (s_append (chain, &link, s_key ("bob")), CHAT_ERR_BAD_STATEMENT);
    link.signature_len = sig_len;
    for (size_t cut = 0; cut < link.statement_len; cut += 5) {
        size_t len = link.statement_len;
        link.statement_len = cut;
        int rc = s_append (chain, &link, s_key ("bob"));
        assert_true (rc == CHAT_ERR_BAD_STATEMENT || rc == CHAT_ERR_CHAIN_CONFLICT);
        link.statement_len = len;
    }
    assert_ptr_equal (chain_head (chain), head);
    assert_int_equal (chain_epoch (chain), 1);
    //  The right link still goes in
    assert_int_equal (s_append (chain, &link, s_key ("bob")), CHAT_OK);
    chain_link_free (&link);

    //  A statement signed as something else (no label, another label)
    Chat__MembershipStatement *st = s_base (chain, CHAIN_REKEY, "carol", NULL, 0, NULL);
    uint8_t *packed;
    size_t packed_len;
    assert_int_equal (wire_pack (&st->base, &packed, &packed_len), CHAT_OK);
    const char *labels [] = { NULL, "chat/2 message", "chat/2 ticket" };
    for (size_t i = 0; i < 3; i++) {
        chain_link_t other = { packed, packed_len, NULL, 0 };
        assert_int_equal (rsakey_sign_labelled (s_key ("carol"), labels [i], packed, packed_len,
                                                &other.signature, &other.signature_len),
                          CHAT_OK);
        assert_int_equal (s_append (chain, &other, s_key ("carol")), CHAT_ERR_BAD_STATEMENT);
        free (other.signature);
    }
    free (packed);
    chat__membership_statement__free_unpacked (st, NULL);
    chain_destroy (&chain);
}

//  Signed bytes must be the canonical encoding: a name with a NUL inside
//  (which C would read as the part before it), a field given twice, fields
//  out of order
static void
test_canonical (void **state)
{
    (void) state;
    chain_t *chain = s_group ();
    chain_link_t link;
    const char *dave [] = { "dave" };
    assert_int_equal (s_make_change (chain, CHAIN_ADD, "bob", dave, 1, NULL, &link), CHAT_OK);
    //  The subject "dave" (field 6) becomes "dave\0x": same length of the
    //  statement grows by 2
    uint8_t *p = memmem (link.statement, link.statement_len, "\x32\x04" "dave", 6);
    assert_non_null (p);
    size_t at = (size_t) (p - link.statement);
    size_t len = link.statement_len + 2;
    uint8_t *nul = malloc (len);
    assert_non_null (nul);
    memcpy (nul, link.statement, at);
    memcpy (nul + at, "\x32\x06" "dave\0x", 8);
    memcpy (nul + at + 8, link.statement + at + 6, link.statement_len - at - 6);
    //  protobuf-c reads it fine, and reads the subject as "dave"
    Chat__MembershipStatement *parsed = chat__membership_statement__unpack (NULL, len, nul);
    assert_non_null (parsed);
    assert_string_equal (parsed->subjects [0], "dave");
    chat__membership_statement__free_unpacked (parsed, NULL);
    chain_link_t forged = { nul, len, NULL, 0 };
    assert_int_equal (rsakey_sign_labelled (s_key ("bob"), CHAIN_LABEL, nul, len,
                                            &forged.signature, &forged.signature_len), CHAT_OK);
    assert_int_equal (s_append (chain, &forged, s_key ("bob")), CHAT_ERR_BAD_STATEMENT);
    char actor [USERNAME_MAX + 1];
    Chat__SignedStatement view;
    chain_link_view (&forged, &view);
    assert_int_equal (chain_link_actor (&view, actor), CHAT_ERR_BAD_STATEMENT);
    chain_link_free (&forged);

    //  The actor field (4) given twice: protobuf-c keeps the last
    len = link.statement_len + 7;
    uint8_t *twice = malloc (len);
    assert_non_null (twice);
    memcpy (twice, "\x22\x05" "alice", 7);
    memcpy (twice + 7, link.statement, link.statement_len);
    forged = (chain_link_t) { twice, len, NULL, 0 };
    assert_int_equal (rsakey_sign_labelled (s_key ("bob"), CHAIN_LABEL, twice, len,
                                            &forged.signature, &forged.signature_len), CHAT_OK);
    assert_int_equal (s_append (chain, &forged, s_key ("bob")), CHAT_ERR_BAD_STATEMENT);
    chain_link_free (&forged);

    //  The same fields in another order (made_at, field 12, first)
    Chat__MembershipStatement *st = s_parse (&link);
    Chat__MembershipStatement only_time = CHAT__MEMBERSHIP_STATEMENT__INIT;
    only_time.made_at = st->made_at;
    Chat__MembershipStatement rest = *st;
    rest.made_at = 0;
    uint8_t *a, *b;
    size_t a_len, b_len;
    assert_int_equal (wire_pack (&only_time.base, &a, &a_len), CHAT_OK);
    assert_int_equal (wire_pack (&rest.base, &b, &b_len), CHAT_OK);
    uint8_t *reordered = malloc (a_len + b_len);
    assert_non_null (reordered);
    memcpy (reordered, a, a_len);
    memcpy (reordered + a_len, b, b_len);
    forged = (chain_link_t) { reordered, a_len + b_len, NULL, 0 };
    assert_int_equal (rsakey_sign_labelled (s_key ("bob"), CHAIN_LABEL, reordered,
                                            a_len + b_len, &forged.signature,
                                            &forged.signature_len), CHAT_OK);
    assert_int_equal (s_append (chain, &forged, s_key ("bob")), CHAT_ERR_BAD_STATEMENT);
    chain_link_free (&forged);
    free (a);
    free (b);
    chat__membership_statement__free_unpacked (st, NULL);

    //  The canonical original goes in
    assert_int_equal (s_append (chain, &link, s_key ("bob")), CHAT_OK);
    chain_link_free (&link);
    chain_destroy (&chain);
}

//  The main server keeps the head only; restored, it goes on as before
static void
test_restore (void **state)
{
    (void) state;
    chain_t *chain = s_group ();
    const char *dave [] = { "dave" };
    chain_link_t link;
    assert_int_equal (s_make_change (chain, CHAIN_ADD, "carol", dave, 1, NULL, &link), CHAT_OK);
    assert_int_equal (s_append (chain, &link, s_key ("carol")), CHAT_OK);
    Chat__SignedStatement head;
    chain_link_view (&link, &head);

    chain_t *restored = chain_restore ("alice", &head);
    assert_non_null (restored);
    assert_int_equal (chain_epoch (restored), 2);
    assert_memory_equal (chain_head_hash (restored), chain_head_hash (chain), 32);
    assert_string_equal (chain_creator (restored), "alice");
    assert_true (chain_is_member (restored, "dave"));
    //  A link made on the original appends to the restored chain, and the
    //  creator-only rule holds
    chain_link_t next;
    assert_int_equal (s_make_change (chain, CHAIN_ADMIN, "alice", dave, 1, NULL, &next), CHAT_OK);
    assert_int_equal (s_append (restored, &next, s_key ("alice")), CHAT_OK);
    assert_int_equal (s_append (chain, &next, s_key ("alice")), CHAT_OK);
    assert_memory_equal (chain_head_hash (restored), chain_head_hash (chain), 32);
    chain_link_free (&next);
    //  and one made on the restored chain to the original
    const char *bob [] = { "bob" };
    assert_int_equal (s_make_change (restored, CHAIN_REMOVE, "dave", bob, 1, NULL, &next),
                      CHAT_OK);
    assert_int_equal (s_append (chain, &next, s_key ("dave")), CHAT_OK);
    chain_link_free (&next);
    //  Restored under another creator, the creator's rule follows that name
    chain_t *other = chain_restore ("bob", &head);
    assert_non_null (other);
    assert_int_equal (s_make_change (other, CHAIN_ADMIN, "alice", dave, 1, NULL, &next),
                      CHAT_ERR_BAD_STATEMENT);
    chain_destroy (&other);
    //  Nothing to restore from
    assert_null (chain_restore (NULL, &head));
    assert_null (chain_restore ("alice", NULL));
    Chat__SignedStatement junk = CHAT__SIGNED_STATEMENT__INIT;
    junk.statement.data = (uint8_t *) "\xff\xff";
    junk.statement.len = 2;
    assert_null (chain_restore ("alice", &junk));
    junk.statement.len = 0;
    assert_null (chain_restore ("alice", &junk));

    //  The actor of a link, read before its signature can be checked
    char actor [USERNAME_MAX + 1];
    assert_int_equal (chain_link_actor (&head, actor), CHAT_OK);
    assert_string_equal (actor, "carol");
    junk.statement.len = 2;
    assert_int_equal (chain_link_actor (&junk, actor), CHAT_ERR_BAD_STATEMENT);
    assert_string_equal (actor, "");
    assert_int_equal (chain_link_actor (NULL, actor), CHAT_ERR_BAD_STATEMENT);
    chain_link_free (&link);
    chain_destroy (&restored);
    chain_destroy (&chain);
}

static void
test_garbage (void **state)
{
    (void) state;
    chain_t *chain = s_group ();
    uint64_t epoch = chain_epoch (chain);
    srand (5);
    uint8_t bytes [600], sig [256];
    for (int round = 0; round < 300; round++) {
        size_t len = (size_t) (rand () % (int) sizeof bytes);
        for (size_t i = 0; i < len; i++)
            bytes [i] = (uint8_t) rand ();
        for (size_t i = 0; i < sizeof sig; i++)
            sig [i] = (uint8_t) rand ();
        Chat__SignedStatement link = CHAT__SIGNED_STATEMENT__INIT;
        link.statement.data = bytes;
        link.statement.len = len;
        link.signature.data = sig;
        link.signature.len = sizeof sig;
        int rc = chain_append (chain, &link, s_key ("alice"));
        assert_true (rc == CHAT_ERR_BAD_STATEMENT || rc == CHAT_ERR_CHAIN_CONFLICT);
    }
    //  Oversized statements are refused unread
    uint8_t *big = calloc (1, CHAIN_MAX_STATEMENT + 1);
    assert_non_null (big);
    Chat__SignedStatement link = CHAT__SIGNED_STATEMENT__INIT;
    link.statement.data = big;
    link.statement.len = CHAIN_MAX_STATEMENT + 1;
    assert_int_equal (chain_append (chain, &link, s_key ("alice")), CHAT_ERR_BAD_STATEMENT);
    free (big);
    assert_int_equal (chain_epoch (chain), epoch);
    //  No head: no change can be made
    chain_t *empty = chain_new ();
    chain_link_t out;
    assert_int_equal (s_make_change (empty, CHAIN_REKEY, "alice", NULL, 0, NULL, &out),
                      CHAT_ERR_BAD_STATEMENT);
    assert_null (out.statement);
    assert_int_equal (s_make_change (chain, 99, "alice", NULL, 0, NULL, &out),
                      CHAT_ERR_BAD_STATEMENT);
    assert_int_equal (s_make_change (chain, CHAIN_CREATE, "alice", NULL, 0, NULL, &out),
                      CHAT_ERR_BAD_STATEMENT);
    chain_destroy (&empty);
    chain_destroy (&chain);
}

//  Lists are ordered by lower-case form in every locale: a chain made in
//  "C" is accepted by a checker running in tr_TR.UTF-8 (testlocale.h),
//  where strcasecmp puts "Ivo" before "ivan"
static void
test_locale (void **state)
{
    (void) state;
    chain_link_t link;
    const char *members [] = { "alice", "Ivo", "ivan" };
    assert_int_equal (s_make_create ("alice", members, 3, false, NULL, &link), CHAT_OK);
    Chat__MembershipStatement *st = s_parse (&link);
    const char *sorted [] = { "alice", "ivan", "Ivo" };
    s_assert_list (st->members, st->n_members, sorted, 3);
    chat__membership_statement__free_unpacked (st, NULL);
    if (!testlocale_turkish ()) {
        chain_link_free (&link);
        fprintf (stderr, "test_locale: skipped: no tr_TR.UTF-8 locale to test in\n");
        skip ();
    }
    chain_t *chain = chain_new ();
    int rc = s_append (chain, &link, s_key ("alice"));
    bool member = chain_is_member (chain, "IVO");
    chain_link_t again;
    int made = s_make_create ("alice", members, 3, false, NULL, &again);
    testlocale_reset ();
    assert_int_equal (rc, CHAT_OK);
    assert_true (member);
    assert_int_equal (made, CHAT_OK);
    st = s_parse (&again);
    s_assert_list (st->members, st->n_members, sorted, 3);
    chat__membership_statement__free_unpacked (st, NULL);
    chain_link_free (&again);
    chain_link_free (&link);
    chain_destroy (&chain);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_create),
        cmocka_unit_test (test_create_refused),
        cmocka_unit_test (test_member_cap),
        cmocka_unit_test (test_largest),
        cmocka_unit_test (test_add),
        cmocka_unit_test (test_remove),
        cmocka_unit_test (test_leave_and_rekey),
        cmocka_unit_test (test_title),
        cmocka_unit_test (test_admin),
        cmocka_unit_test (test_conflicts),
        cmocka_unit_test (test_signatures),
        cmocka_unit_test (test_canonical),
        cmocka_unit_test (test_restore),
        cmocka_unit_test (test_garbage),
        cmocka_unit_test (test_locale),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
