/*  chain - a conversation's membership chain: signed statements, one per
    epoch, each naming the hash of the one before

    The rules are written once, as "what the next link must say given the
    head": s_expect works out the membership and admins a link of each action
    must carry, and s_check compares a link with that, field by field. Making
    a link (chain_make_*) runs the same check before signing, so a client can
    never send what every other client would refuse.
*/
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "chain.h"
#include "chaterror.h"
#include "codec.h"
#include "secret.h"

struct _chain_t {
    Chat__MembershipStatement *head;    //  NULL before the CREATE
    uint8_t head_hash [CHAIN_HASH_SIZE];
    char *creator;
};

//  A list of borrowed names, sorted by lower-case form
typedef struct {
    const char *names [CHAIN_MAX_MEMBERS + 1];
    size_t count;
} names_t;

//  Names compare by their lower-case form, in every locale alike (never
//  strcasecmp: see credential_username_fold)
static int
s_compare_names (const void *a, const void *b)
{
    return credential_username_compare (*(const char *const *) a,
                                        *(const char *const *) b);
}

//  Whether name is in the list, regardless of case
static bool
s_in (char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (credential_username_compare (names [i], name) == 0)
            return true;
    return false;
}

//  Whether name is in the list spelled exactly so: names in statements are
//  canonical, so an actor or subject that is a member is spelled as the
//  member list spells it (else "ALICE" could act for "alice", and an ADMIN
//  could put a second spelling of a member into the admins)
static bool
s_in_exact (char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp (names [i], name) == 0)
            return true;
    return false;
}

//  Names valid, strictly ascending by lower-case form (so distinct), at most max
static bool
s_sorted_valid (char *const *names, size_t count, size_t max)
{
    if (count > max)
        return false;
    for (size_t i = 0; i < count; i++)
        if (!credential_username_valid (names [i])
        ||  (i > 0 && credential_username_compare (names [i - 1], names [i]) >= 0))
            return false;
    return true;
}

static bool
s_add (names_t *set, const char *name)
{
    if (set->count >= CHAIN_MAX_MEMBERS + 1)
        return false;
    set->names [set->count++] = name;
    return true;
}

//  The list a link must carry equals set, spelled exactly alike
static bool
s_equal (names_t *set, char *const *names, size_t count)
{
    qsort (set->names, set->count, sizeof (char *), s_compare_names);
    if (set->count != count)
        return false;
    for (size_t i = 0; i < count; i++)
        if (strcmp (set->names [i], names [i]) != 0)
            return false;
    return true;
}

static void
s_sha256 (const uint8_t *data, size_t len, uint8_t out [CHAIN_HASH_SIZE])
{
    if (!EVP_Digest (data, len, out, NULL, EVP_sha256 (), NULL))
        memset (out, 0, CHAIN_HASH_SIZE);     //  never matches a real hash
}

//  ---------------------------------------------------------------- rules

//  The members and admins a link of st's action must carry after head
//  (NULL for the CREATE). false when the action itself is not allowed to
//  st's actor, or its subjects are wrong.
static bool
s_expect (const chain_t *self, const Chat__MembershipStatement *st,
          names_t *members, names_t *admins)
{
    const Chat__MembershipStatement *head = self->head;
    members->count = admins->count = 0;
    if (st->action == CHAT__STATEMENT_ACTION__ACTION_CREATE) {
        //  The creator names the members; only the creator is admin
        if (head || st->n_subjects || !s_in_exact (st->members, st->n_members, st->actor))
            return false;
        for (size_t i = 0; i < st->n_members; i++)
            s_add (members, st->members [i]);
        return s_add (admins, st->actor);
    }
    if (!head || !s_in_exact (head->members, head->n_members, st->actor))
        return false;
    bool subjects_wanted = st->action == CHAT__STATEMENT_ACTION__ACTION_ADD
                        || st->action == CHAT__STATEMENT_ACTION__ACTION_REMOVE
                        || st->action == CHAT__STATEMENT_ACTION__ACTION_ADMIN;
    if (subjects_wanted != (st->n_subjects > 0)
    ||  !s_sorted_valid (st->subjects, st->n_subjects, CHAIN_MAX_MEMBERS))
        return false;
    bool groups_only = st->action != CHAT__STATEMENT_ACTION__ACTION_LEAVE
                    && st->action != CHAT__STATEMENT_ACTION__ACTION_REKEY;
    if (groups_only && head->direct)
        return false;

    //  Start from the head's lists and apply the action
    for (size_t i = 0; i < st->n_subjects; i++) {
        const char *subject = st->subjects [i];
        //  A new member may be any name not yet in (in any spelling); one
        //  removed or made admin is named as the members list names it
        bool member = s_in (head->members, head->n_members, subject);
        bool named = s_in_exact (head->members, head->n_members, subject);
        bool admin = s_in (head->admins, head->n_admins, subject);
        switch (st->action) {
            case CHAT__STATEMENT_ACTION__ACTION_ADD:
                if (member || !s_add (members, subject))
                    return false;
                break;
            case CHAT__STATEMENT_ACTION__ACTION_REMOVE:
                if (!named || credential_username_compare (subject, st->actor) == 0)
                    return false;
                break;
            case CHAT__STATEMENT_ACTION__ACTION_ADMIN:
                if (!named || admin || !s_add (admins, subject))
                    return false;
                break;
            default:
                return false;
        }
    }
    if (st->action == CHAT__STATEMENT_ACTION__ACTION_REMOVE
    &&  !s_in (head->admins, head->n_admins, st->actor))
        return false;
    if (st->action == CHAT__STATEMENT_ACTION__ACTION_ADMIN
    &&  (!self->creator || credential_username_compare (self->creator, st->actor) != 0))
        return false;

    for (size_t i = 0; i < head->n_members; i++) {
        const char *name = head->members [i];
        bool gone = (st->action == CHAT__STATEMENT_ACTION__ACTION_REMOVE
                     && s_in (st->subjects, st->n_subjects, name))
                 || (st->action == CHAT__STATEMENT_ACTION__ACTION_LEAVE
                     && credential_username_compare (name, st->actor) == 0);
        if (!gone && !s_add (members, name))
            return false;
        if (!gone && s_in (head->admins, head->n_admins, name) && !s_add (admins, name))
            return false;
    }
    return true;
}

//  Everything but the signature: is st the link that may follow head?
static int
s_check (const chain_t *self, const Chat__MembershipStatement *st)
{
    const Chat__MembershipStatement *head = self->head;
    //  Built on the head at all? (else the caller must fetch and rebuild)
    if (st->conversation_id.len != CONVERSATION_ID_SIZE)
        return CHAT_ERR_BAD_STATEMENT;
    if (head) {
        if (st->epoch != head->epoch + 1
        ||  memcmp (st->conversation_id.data, head->conversation_id.data,
                    CONVERSATION_ID_SIZE) != 0
        ||  st->previous_hash.len != CHAIN_HASH_SIZE
        ||  CRYPTO_memcmp (st->previous_hash.data, self->head_hash, CHAIN_HASH_SIZE) != 0)
            return CHAT_ERR_CHAIN_CONFLICT;
    }
    else
    if (st->epoch != 1 || st->previous_hash.len != 0)
        return st->epoch > 1 ? CHAT_ERR_CHAIN_CONFLICT : CHAT_ERR_BAD_STATEMENT;

    //  Well formed
    bool keyless = st->action == CHAT__STATEMENT_ACTION__ACTION_LEAVE;
    if (!credential_username_valid (st->actor)
    ||  st->action < CHAT__STATEMENT_ACTION__ACTION_CREATE
    ||  st->action > CHAT__STATEMENT_ACTION__ACTION_REKEY
    ||  !s_sorted_valid (st->members, st->n_members, CHAIN_MAX_MEMBERS)
    ||  !s_sorted_valid (st->admins, st->n_admins, CHAIN_MAX_MEMBERS)
    ||  !st->title || strlen (st->title) > CHAIN_MAX_TITLE
    ||  !codec_utf8_valid ((const uint8_t *) st->title, strlen (st->title))
    ||  st->key_check.len != (keyless ? 0 : 32))
        return CHAT_ERR_BAD_STATEMENT;

    //  What the action allows, and what it leaves behind
    names_t members, admins;
    if (!s_expect (self, st, &members, &admins)
    ||  !s_equal (&members, st->members, st->n_members)
    ||  !s_equal (&admins, st->admins, st->n_admins))
        return CHAT_ERR_BAD_STATEMENT;
    if (head) {
        bool titled = st->action == CHAT__STATEMENT_ACTION__ACTION_TITLE;
        if (st->direct != head->direct
        ||  (!titled && strcmp (st->title, head->title) != 0))
            return CHAT_ERR_BAD_STATEMENT;
    }
    else
    if (st->n_members < 2
    ||  (st->direct && (st->n_members != 2 || *st->title)))
        return CHAT_ERR_BAD_STATEMENT;
    return CHAT_OK;
}

//  ---------------------------------------------------------------- chain

chain_t *
chain_new (void)
{
    return (chain_t *) calloc (1, sizeof (chain_t));
}


static Chat__MembershipStatement *
s_parse (const Chat__SignedStatement *link)
{
    if (!link || !link->statement.data || link->statement.len == 0
    ||  link->statement.len > CHAIN_MAX_STATEMENT)
        return NULL;
    //  Canonical bytes only: what is signed and hashed is what every
    //  reader sees (no name with a NUL inside, read as the part before it)
    Chat__MembershipStatement *st = NULL;
    if (wire_unpack_canonical (&chat__membership_statement__descriptor,
                               link->statement.data, link->statement.len,
                               (ProtobufCMessage **) &st) != CHAT_OK)
        return NULL;
    return st;
}


//  Make st (parsed from link) the head
static void
s_advance (chain_t *self, Chat__MembershipStatement *st, const Chat__SignedStatement *link)
{
    if (self->head)
        protobuf_c_message_free_unpacked (&self->head->base, NULL);
    self->head = st;
    s_sha256 (link->statement.data, link->statement.len, self->head_hash);
}


chain_t *
chain_restore (const char *creator, const Chat__SignedStatement *head)
{
    Chat__MembershipStatement *st = s_parse (head);
    chain_t *self = st && creator ? chain_new () : NULL;
    if (self) {
        self->creator = strdup (creator);
        s_advance (self, st, head);
        if (!self->creator)
            chain_destroy (&self);
    }
    else
    if (st)
        protobuf_c_message_free_unpacked (&st->base, NULL);
    return self;
}


void
chain_destroy (chain_t **self_p)
{
    assert (self_p);
    chain_t *self = *self_p;
    if (self) {
        if (self->head)
            protobuf_c_message_free_unpacked (&self->head->base, NULL);
        free (self->creator);
        free (self);
        *self_p = NULL;
    }
}


int
chain_link_actor (const Chat__SignedStatement *link, char actor [USERNAME_MAX + 1])
{
    assert (actor);
    actor [0] = 0;
    Chat__MembershipStatement *st = s_parse (link);
    int rc = CHAT_ERR_BAD_STATEMENT;
    if (st && credential_username_valid (st->actor)) {
        strcpy (actor, st->actor);
        rc = CHAT_OK;
    }
    if (st)
        protobuf_c_message_free_unpacked (&st->base, NULL);
    return rc;
}


int
chain_append (chain_t *self, const Chat__SignedStatement *link, rsakey_t *actor_key)
{
    assert (self);
    Chat__MembershipStatement *st = s_parse (link);
    if (!st)
        return CHAT_ERR_BAD_STATEMENT;
    int rc = s_check (self, st);
    if (rc == CHAT_OK
    &&  (!actor_key
      || rsakey_verify_labelled (actor_key, CHAIN_LABEL, link->statement.data,
                                 link->statement.len, link->signature.data,
                                 link->signature.len) != CHAT_OK))
        rc = CHAT_ERR_BAD_STATEMENT;
    if (rc == CHAT_OK && !self->head) {
        self->creator = strdup (st->actor);
        if (!self->creator)
            rc = CHAT_ERR_INTERNAL;
    }
    if (rc == CHAT_OK)
        s_advance (self, st, link);
    else
        protobuf_c_message_free_unpacked (&st->base, NULL);
    return rc;
}

//  ---------------------------------------------------------------- state

uint64_t
chain_epoch (chain_t *self)
{
    assert (self);
    return self->head ? self->head->epoch : 0;
}

const Chat__MembershipStatement *
chain_head (chain_t *self)
{
    assert (self);
    return self->head;
}

const uint8_t *
chain_head_hash (chain_t *self)
{
    assert (self);
    return self->head ? self->head_hash : NULL;
}

const char *
chain_creator (chain_t *self)
{
    assert (self);
    return self->creator;
}

bool
chain_is_member (chain_t *self, const char *name)
{
    assert (self);
    return self->head && name && s_in (self->head->members, self->head->n_members, name);
}

bool
chain_is_admin (chain_t *self, const char *name)
{
    assert (self);
    return self->head && name && s_in (self->head->admins, self->head->n_admins, name);
}

//  ---------------------------------------------------------------- making links

void
chain_link_free (chain_link_t *self)
{
    if (self) {
        free (self->statement);
        free (self->signature);
        memset (self, 0, sizeof *self);
    }
}


void
chain_link_view (const chain_link_t *link, Chat__SignedStatement *view)
{
    assert (link && view);
    chat__signed_statement__init (view);
    view->statement.data = link->statement;
    view->statement.len = link->statement_len;
    view->signature.data = link->signature;
    view->signature.len = link->signature_len;
}


//  Check st as the link after self's head, then pack and sign it
static int
s_sign (chain_t *self, Chat__MembershipStatement *st, rsakey_t *identity,
        chain_link_t *out)
{
    memset (out, 0, sizeof *out);
    int rc = s_check (self, st);
    if (rc == CHAT_OK)
        rc = wire_pack (&st->base, &out->statement, &out->statement_len);
    if (rc == CHAT_OK && out->statement_len > CHAIN_MAX_STATEMENT)
        rc = CHAT_ERR_BAD_STATEMENT;
    if (rc == CHAT_OK)
        rc = rsakey_sign_labelled (identity, CHAIN_LABEL, out->statement,
                                   out->statement_len, &out->signature,
                                   &out->signature_len);
    if (rc != CHAT_OK)
        chain_link_free (out);
    return rc;
}


int
chain_make_create (const uint8_t id [CONVERSATION_ID_SIZE], const char *actor,
                   const char *const *members, size_t member_count, bool direct,
                   const char *title, const uint8_t key_check [32],
                   rsakey_t *identity, int64_t now_ms, chain_link_t *out)
{
    assert (id && actor && members && key_check && identity && out);
    memset (out, 0, sizeof *out);
    if (member_count < 2 || member_count > CHAIN_MAX_MEMBERS)
        return CHAT_ERR_BAD_STATEMENT;
    const char *sorted [CHAIN_MAX_MEMBERS];
    memcpy (sorted, members, member_count * sizeof (char *));
    qsort (sorted, member_count, sizeof (char *), s_compare_names);
    const char *admins [1] = { actor };

    Chat__MembershipStatement st = CHAT__MEMBERSHIP_STATEMENT__INIT;
    st.conversation_id.data = (uint8_t *) id;
    st.conversation_id.len = CONVERSATION_ID_SIZE;
    st.epoch = 1;
    st.actor = (char *) actor;
    st.action = CHAT__STATEMENT_ACTION__ACTION_CREATE;
    st.members = (char **) sorted;
    st.n_members = member_count;
    st.admins = (char **) admins;
    st.n_admins = 1;
    st.title = (char *) (title ? title : "");
    st.direct = direct;
    st.key_check.data = (uint8_t *) key_check;
    st.key_check.len = 32;
    st.made_at = now_ms;
    chain_t empty = { NULL, { 0 }, NULL };
    return s_sign (&empty, &st, identity, out);
}


int
chain_make_change (chain_t *self, int action, const char *actor,
                   const char *const *subjects, size_t subject_count,
                   const char *title, const uint8_t key_check [32],
                   rsakey_t *identity, int64_t now_ms, chain_link_t *out)
{
    assert (self && actor && identity && out);
    memset (out, 0, sizeof *out);
    const Chat__MembershipStatement *head = self->head;
    if (!head || subject_count > CHAIN_MAX_MEMBERS || (subject_count && !subjects))
        return CHAT_ERR_BAD_STATEMENT;
    const char *sorted [CHAIN_MAX_MEMBERS];
    if (subject_count)
        memcpy (sorted, subjects, subject_count * sizeof (char *));
    qsort (sorted, subject_count, sizeof (char *), s_compare_names);

    Chat__MembershipStatement st = CHAT__MEMBERSHIP_STATEMENT__INIT;
    st.conversation_id = head->conversation_id;
    st.epoch = head->epoch + 1;
    st.previous_hash.data = self->head_hash;
    st.previous_hash.len = CHAIN_HASH_SIZE;
    st.actor = (char *) actor;
    st.action = (Chat__StatementAction) action;
    st.subjects = (char **) sorted;
    st.n_subjects = subject_count;
    st.title = action == CHAIN_TITLE ? (char *) (title ? title : "") : head->title;
    st.direct = head->direct;
    if (action != CHAIN_LEAVE) {
        if (!key_check)
            return CHAT_ERR_BAD_STATEMENT;
        st.key_check.data = (uint8_t *) key_check;
        st.key_check.len = 32;
    }
    st.made_at = now_ms;
    //  The lists after the change, as the rules work them out
    names_t members, admins;
    if (!s_expect (self, &st, &members, &admins))
        return CHAT_ERR_BAD_STATEMENT;
    qsort (members.names, members.count, sizeof (char *), s_compare_names);
    qsort (admins.names, admins.count, sizeof (char *), s_compare_names);
    st.members = (char **) members.names;
    st.n_members = members.count;
    st.admins = (char **) admins.names;
    st.n_admins = admins.count;
    return s_sign (self, &st, identity, out);
}
