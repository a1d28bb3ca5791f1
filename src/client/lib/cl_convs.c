/*  cl_convs - the client's conversations; see cl_convs.h

    Each conversation moves forward by s_settle, called after anything
    changed: it opens the messages it holds once their epoch is verified,
    its key is there and their sender's identity key is known (asking for
    whatever is missing), sends what waits for the current epoch's key, and
    completes the commands waiting on it.

    The chain: get_chain pages (after the verified head) are kept as
    links, the identity keys of their actors and members are asked for,
    then each link is appended in order (convstate_append: chain_append
    with the actor's key). The keys: get_keys from the lowest epoch still
    missing one; a needed key that is not there yet (the creator uploads it
    just after creating) is asked for again after a back-off.
*/
#include <stdlib.h>
#include <string.h>
#include "cl_convs.h"
#include "chaterror.h"
#include "codec.h"
#include "convlog.h"
#include "convstate.h"
#include "credential.h"
#include "msgseal.h"
#include "secret.h"

#define KEY_ATTEMPTS        8       //  get_keys while a needed key is missing
#define KEY_RETRY_MIN_MS    100     //  ... doubling to
#define KEY_RETRY_MAX_MS    3000
#define UPLOAD_ATTEMPTS     3       //  put_keys, with a fresh ticket each time
#define STALE_ATTEMPTS      3       //  a send under an epoch gone stale
#define CHANGE_ATTEMPTS     5       //  a change that lost the race for the head
#define LIST_CURSOR_MAX     256     //  bytes of a list cursor we send back

typedef enum { WAIT_OPEN, WAIT_HISTORY, WAIT_MEMBERS, WAIT_SHOWN } wait_kind_t;

//  A command completed once the conversation settles.
typedef struct {
    uint32_t cmd;
    wait_kind_t kind;
    uint64_t after;
} waiter_t;

//  A stored message as the server sent it, held until it can be checked.
typedef struct {
    uint64_t seq;
    uint64_t epoch;
    bool chain_asked;           //  a chain fetch was made for its epoch
    bool sender_asked;          //  its sender's identity key was asked for
    char *sender;
    int64_t server_time;
    char *token;
    size_t token_len;
} raw_t;

//  A message to send, from the command until the server stored it.
typedef struct {
    uint32_t cmd;
    uint8_t conv [CHATCLIENT_ID_SIZE];
    uint8_t cmid [CHATCLIENT_ID_SIZE];
    int64_t sent_at;
    uint64_t epoch;             //  sealed for
    int stale;                  //  times the server said the epoch was stale
    char *text;
    size_t len;
} sendjob_t;

//  Several changes made by one command (leave every request): the command
//  completes when the last of them does.
typedef struct {
    cl_convs_t *self;
    uint32_t cmd;
    size_t pending;
} bulk_t;

//  A conversation being made, from the command until its keys are stored;
//  also a change of one (change true), from the command until the new
//  epoch's keys are stored: then names are the members after it.
typedef struct {
    uint32_t cmd;
    bool change;
    uint64_t epoch;             //  the epoch being keyed (1 for a creation)
    int action;                 //  a change: CHAIN_ADD ...
    char **subjects;            //  ... whom it names, as asked
    size_t subject_count;
    char *title;                //  ... TITLE: the new one
    int conflicts;              //  times another change won the head
    bulk_t *bulk;               //  the command it is one of, or NULL
    char **names;               //  the others as asked, then every member
    size_t count;               //  as the directory spells them
    bool direct;
    uint8_t id [CHATCLIENT_ID_SIZE];
    uint8_t key [EPOCHKEY_SIZE];
    chain_link_t link;
    Chat__WrappedKey *wrapped;  //  one per member, made once: a retried
    Chat__WrappedKey **wrapped_p;   //  upload is the very same set
    uint8_t *ticket;
    size_t ticket_len;
    int attempts;
} create_t;

typedef struct {
    chatclient_conversation_t pub;
    bool shown;                 //  the caller sees it (its chain verified)
    bool ready;                 //  its chain verified: shown in its turn
    bool announce;              //  publish CONVERSATION when shown
    convlog_t *log;
    convstate_t *state;
    //  the chain
    uint64_t server_epoch;      //  what the server says the epoch is
    bool chain_busy;            //  a fetch (or its check) is under way
    bool chain_again;           //  fetch again once this one is done
    bool chain_failed;          //  the last fetch failed (transport)
    bool chain_bad;             //  it does not verify: never believed
    zlist_t *links;             //  chain_link_t, fetched, not yet checked
    //  the keys
    bool keys_busy;
    bool want_key;              //  fetch the current epoch's key anyway
    int key_attempts;
    int64_t key_retry_at;       //  0: no retry planned
    bool keys_gave_up;
    bool senders_busy;          //  identity keys of senders asked for
    //  messages
    zlist_t *raw;               //  raw_t: fetched or pushed, not yet checked
    bool fetching;
    bool fetch_from_zero;       //  the fetch in flight started at seq 0
    bool fetch_progress;        //  the fetch in flight returned something
    bool history_loaded;
    bool want_history;
    int fetch_error;
    zlist_t *waiters;           //  waiter_t
    zlist_t *sends;             //  sendjob_t, waiting for the key
    zlist_t *changes;           //  create_t (changes) waiting for the chain
    uint64_t counted_seq;       //  unread counts the messages up to here
    uint64_t read_told;         //  the marker the server was told (or is)
    bool read_inflight;         //  a mark_read waits for its answer
} conv_t;

//  What each request of ours is, for the outcome.
typedef enum {
    C_LIST = 1,                 //  cmd, or news only
    C_LIST_FIRST,               //  the first after login: all is history
    C_CREATE,
    C_MESSAGES,                 //  a page of a fetch
    C_SEND,
    C_CHAIN,                    //  a page of the chain
    C_KEYS,                     //  a page of our wrapped keys
    C_PUT_KEYS,                 //  a creation's (or change's) keys
    C_KEY_TICKET,               //  a fresh ticket for them
    C_MARK_READ,                //  the user's read marker, to the server
    C_CHANGE,                   //  a change of the membership chain
    C_ACCEPT                    //  a message request accepted
} c_tag_t;

//  What a request (or a contacts need) is about, kept with it.
typedef struct {
    uint8_t conv [CHATCLIENT_ID_SIZE];
    uint64_t after;             //  C_MESSAGES: after this seq
    sendjob_t *send;            //  C_SEND: owned
    create_t *create;           //  C_CREATE, C_PUT_KEYS, C_KEY_TICKET: owned
} c_about_t;

//  A list command (or the first list) waiting for its chains.
typedef struct {
    uint32_t cmd;
    bool first;
} listwait_t;

struct _cl_convs_t {
    cl_session_t *session;      //  borrowed
    cl_contacts_t *contacts;    //  borrowed
    cl_requests_t *key;         //  borrowed
    cl_requests_t *main;        //  borrowed
    cl_listener_t listener;
    conv_t **convs;             //  all we heard of
    size_t count, alloc;
    conv_t **shown;             //  those the caller sees, in order shown
    size_t shown_count;
    bool first_list_done;
    zlist_t *list_waiters;      //  listwait_t
};

static bool
    s_on_outcome (void *arg, cl_outcome_t *outcome);
static void
    s_settle (cl_convs_t *self, conv_t *conv);
static void
    s_fetch (cl_convs_t *self, conv_t *conv, bool from_zero);
static void
    s_list (cl_convs_t *self, uint32_t cmd, bool first);
static void
    s_list_page (cl_convs_t *self, uint32_t cmd, bool first,
                 const ProtobufCBinaryData *cursor);
static void
    s_fetch_chain (cl_convs_t *self, conv_t *conv);
static void
    s_settle_lists (cl_convs_t *self);
static void
    s_changes_resume (cl_convs_t *self, conv_t *conv);
static void
    s_fail_changes (cl_convs_t *self, conv_t *conv, int code, const char *text);
static void
    s_change_line (cl_convs_t *self, conv_t *conv);
static void
    s_left (cl_convs_t *self, conv_t *conv, const char *why);

//  ---------------------------------------------------------------- parts

static void
s_sendjob_free (sendjob_t **job_p)
{
    if (job_p && *job_p) {
        sendjob_t *job = *job_p;
        if (job->text) {
            secret_wipe (job->text, job->len);
            free (job->text);
        }
        free (job);
        *job_p = NULL;
    }
}

static void
    s_bulk_done (bulk_t *bulk);

static void
s_create_free (create_t **create_p)
{
    if (!create_p || !*create_p)
        return;
    create_t *create = *create_p;
    for (size_t i = 0; i < create->subject_count; i++)
        free (create->subjects [i]);
    free (create->subjects);
    free (create->title);
    for (size_t i = 0; i < create->count; i++) {
        free (create->names [i]);
        if (create->wrapped)
            free (create->wrapped [i].wrapped_key.data);
    }
    free (create->names);
    free (create->wrapped);
    free (create->wrapped_p);
    secret_wipe (create->key, sizeof (create->key));
    chain_link_free (&create->link);
    free (create->ticket);
    bulk_t *bulk = create->bulk;
    free (create);
    *create_p = NULL;
    if (bulk && --bulk->pending == 0)
        s_bulk_done (bulk);
}

static void
s_about_destroy (void **about_p)
{
    if (about_p && *about_p) {
        c_about_t *about = (c_about_t *) *about_p;
        s_sendjob_free (&about->send);
        s_create_free (&about->create);
        free (about);
        *about_p = NULL;
    }
}

static void
s_raw_free (raw_t **raw_p)
{
    if (raw_p && *raw_p) {
        free ((*raw_p)->sender);
        free ((*raw_p)->token);
        free (*raw_p);
        *raw_p = NULL;
    }
}

static void
s_links_clear (conv_t *conv)
{
    chain_link_t *link;
    while ((link = (chain_link_t *) zlist_pop (conv->links))) {
        chain_link_free (link);
        free (link);
    }
}

static void
s_conv_destroy (conv_t **conv_p)
{
    if (!conv_p || !*conv_p)
        return;
    conv_t *conv = *conv_p;
    cl_conversation_clear (&conv->pub);
    convlog_destroy (&conv->log);
    convstate_destroy (&conv->state);
    s_links_clear (conv);
    zlist_destroy (&conv->links);
    raw_t *raw;
    while ((raw = (raw_t *) zlist_pop (conv->raw)))
        s_raw_free (&raw);
    zlist_destroy (&conv->raw);
    waiter_t *waiter;
    while ((waiter = (waiter_t *) zlist_pop (conv->waiters)))
        free (waiter);
    zlist_destroy (&conv->waiters);
    sendjob_t *job;
    while ((job = (sendjob_t *) zlist_pop (conv->sends)))
        s_sendjob_free (&job);
    zlist_destroy (&conv->sends);
    create_t *change;
    while ((change = (create_t *) zlist_pop (conv->changes)))
        s_create_free (&change);
    zlist_destroy (&conv->changes);
    free (conv);
    *conv_p = NULL;
}

//  The conversation with this id (shown or not), or NULL.
static conv_t *
s_find (cl_convs_t *self, const uint8_t *id, size_t len)
{
    if (len != CHATCLIENT_ID_SIZE || !id)
        return NULL;
    for (size_t i = 0; i < self->count; i++)
        if (memcmp (self->convs [i]->pub.id, id, CHATCLIENT_ID_SIZE) == 0)
            return self->convs [i];
    return NULL;
}

//  What a request is about: conv (NULL: none).
static c_about_t *
s_about_new (conv_t *conv)
{
    c_about_t *about = calloc (1, sizeof (c_about_t));
    assert (about);
    if (conv)
        memcpy (about->conv, conv->pub.id, CHATCLIENT_ID_SIZE);
    return about;
}

static c_about_t *
s_about_id (const uint8_t *id)
{
    c_about_t *about = s_about_new (NULL);
    memcpy (about->conv, id, CHATCLIENT_ID_SIZE);
    return about;
}

//  The reply body that answers a request of ours.
static int
s_expects (c_tag_t tag)
{
    switch (tag) {
        case C_LIST:
        case C_LIST_FIRST:      return CHAT__MAIN_REPLY__BODY_CONVERSATIONS;
        case C_CREATE:          return CHAT__MAIN_REPLY__BODY_CREATED;
        case C_MESSAGES:        return CHAT__MAIN_REPLY__BODY_MESSAGES;
        case C_SEND:            return CHAT__MAIN_REPLY__BODY_SENT;
        case C_CHAIN:           return CHAT__MAIN_REPLY__BODY_CHAIN;
        case C_KEY_TICKET:      return CHAT__MAIN_REPLY__BODY_KEY_TICKET;
        case C_KEYS:            return CHAT__KEY_REPLY__BODY_EPOCH_KEYS;
        case C_PUT_KEYS:        return CHAT__KEY_REPLY__BODY_KEYS_STORED;
        case C_MARK_READ:       return CHAT__MAIN_REPLY__BODY_READ;
        case C_CHANGE:          return CHAT__MAIN_REPLY__BODY_CHANGED;
        case C_ACCEPT:          return CHAT__MAIN_REPLY__BODY_ACCEPTED;
    }
    return 0;
}

//  A request of ours, about (owned now) kept with it; every one needs the
//  login. False when it could not be packed (about is gone then too).
static bool
s_submit (cl_convs_t *self, c_tag_t tag, uint32_t cmd, ProtobufCMessage *request,
          c_about_t *about)
{
    bool key = tag == C_KEYS || tag == C_PUT_KEYS;
    cl_request_spec_t spec = {
        .tag = tag, .cmd = cmd, .auth = true,
        //  not repeated after a lost link: the statement would be refused
        //  (a creation as a second conversation with its id, a change as
        //  not built on the head). The rest may: a send with the same
        //  client_message_id and the same key set are stored once
        .retry_ok = tag != C_CREATE && tag != C_CHANGE,
        .expects = s_expects (tag), .done = s_on_outcome, .arg = self,
        .data = about, .destroy_data = s_about_destroy
    };
    return cl_requests_submit (key ? self->key : self->main, request, &spec) == 0;
}

//  A line for the caller, outside any command.
static void
s_say (cl_convs_t *self, int code, char *text)
{
    chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_ERROR, 0);
    event->code = code;
    event->text = text;
    cl_listener_publish (&self->listener, event);
}

//  The members of the conversation whose identity key changed.
static void
s_recount (cl_convs_t *self, conv_t *conv)
{
    size_t changed = 0;
    for (size_t i = 0; i < conv->pub.member_count; i++)
        if (cl_contacts_state (self->contacts, conv->pub.members [i])
            == CHATCLIENT_IDENTITY_CHANGED)
            changed++;
    conv->pub.changed = changed;
}

//  The caller sees it from now on, as number shown_count + 1.
static void
s_show_one (cl_convs_t *self, conv_t *conv)
{
    if (conv->shown)
        return;
    conv->shown = true;
    conv->ready = true;
    //  shown has the capacity of convs, of which it is a part
    self->shown [self->shown_count++] = conv;
    conv->pub.index = self->shown_count;
    if (conv->announce)
        cl_listener_publish (&self->listener, cl_event_conversation (
            CHATCLIENT_EV_CONVERSATION, 0, &conv->pub));
    conv->announce = false;
}

//  Its chain verified: the caller may see it, in the order the server
//  listed the conversations (so numbers do not depend on which chain was
//  checked first); one still being checked holds back those after it.
static void
s_show_ready (cl_convs_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        conv_t *next = self->convs [i];
        if (next->shown || next->chain_bad || next->chain_failed)
            continue;
        if (!next->ready)
            break;
        s_show_one (self, next);
    }
}

static void
s_show (cl_convs_t *self, conv_t *conv)
{
    conv->ready = true;
    s_show_ready (self);
}

//  ---------------------------------------------------------------- the chain

//  The public view from the verified head: members, epoch, title, direct.
static void
s_from_head (cl_convs_t *self, conv_t *conv)
{
    const Chat__MembershipStatement *head = convstate_head (conv->state);
    if (!head)
        return;
    for (size_t i = 0; i < conv->pub.member_count; i++)
        free (conv->pub.members [i]);
    free (conv->pub.members);
    conv->pub.members = calloc (head->n_members + 1, sizeof (char *));
    assert (conv->pub.members);
    for (size_t i = 0; i < head->n_members; i++)
        conv->pub.members [i] = strdup (head->members [i]);
    conv->pub.member_count = head->n_members;
    free (conv->pub.title);
    conv->pub.title = strdup (head->title? head->title: "");
    conv->pub.direct = head->direct;
    conv->pub.epoch = convstate_epoch (conv->state);
    conv->pub.verified = true;
    if (conv->server_epoch < conv->pub.epoch)
        conv->server_epoch = conv->pub.epoch;
    s_recount (self, conv);
}

static void
s_fail_waiters (cl_convs_t *self, conv_t *conv, int code, const char *text)
{
    waiter_t *waiter;
    while ((waiter = (waiter_t *) zlist_pop (conv->waiters))) {
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, waiter->cmd, code, text, 0);
        free (waiter);
    }
}

static void
s_fail_sends (cl_convs_t *self, conv_t *conv, int code, const char *text)
{
    sendjob_t *job;
    while ((job = (sendjob_t *) zlist_pop (conv->sends))) {
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, job->cmd, code, text, 0);
        s_sendjob_free (&job);
    }
}

//  The chain does not verify: nothing more of it is believed, and the
//  commands waiting on it fail.
static void
s_chain_bad (cl_convs_t *self, conv_t *conv, int code, char *why)
{
    conv->chain_bad = true;
    conv->chain_busy = false;
    s_links_clear (conv);
    s_say (self, code, cl_format (
        "conversation %s: its membership chain does not verify (%s); %s",
        conv->pub.hex, why, conv->shown
        ? "nothing after its last good link is believed"
        : "it is not shown"));
    s_fail_waiters (self, conv, code, why);
    s_fail_sends (self, conv, code, why);
    s_fail_changes (self, conv, code, why);
    free (why);
}

//  The links fetched are checked, or none came: what next.
static void
s_chain_done (cl_convs_t *self, conv_t *conv, bool progress)
{
    conv->chain_busy = false;
    if (convstate_epoch (conv->state) > 0) {
        s_from_head (self, conv);
        s_show (self, conv);
    }
    //  a server that claims a later epoch but sends no links is not asked
    //  again and again
    if (!progress && conv->server_epoch > convstate_epoch (conv->state))
        conv->server_epoch = convstate_epoch (conv->state);
    if (conv->chain_again || conv->server_epoch > convstate_epoch (conv->state)) {
        conv->chain_again = false;
        s_fetch_chain (self, conv);
        return;
    }
    s_changes_resume (self, conv);
    //  The head is a LEAVE: its epoch has no key, so nobody can send until
    //  a remaining member re-keys. Every client that sees it tries; the
    //  first to reach the server wins, the others find the epoch keyed
    uint64_t epoch = convstate_epoch (conv->state);
    const char *me = cl_session_username (self->session);
    if (progress && epoch > 1 && !convstate_keyed (conv->state, epoch) && me
    &&  convstate_member (conv->state, epoch, me) && conv->shown && !conv->pub.left)
        cl_convs_change (self, 0, conv->pub.id, CHAIN_REKEY, NULL, 0, NULL);
}

//  Append the fetched links in order, each checked with its actor's key.
static void
s_chain_verify (cl_convs_t *self, conv_t *conv)
{
    //  The links of a conversation not shown yet in this session are its
    //  history: of them only the head is told, and only when the
    //  conversation is news ("bob added carol: earlier history is closed
    //  to you"), not every change since it was made at each login
    bool history = !conv->shown;
    bool progress = false;
    chain_link_t *link;
    while ((link = (chain_link_t *) zlist_pop (conv->links))) {
        Chat__SignedStatement view;
        chain_link_view (link, &view);
        char actor [USERNAME_MAX + 1] = "";
        int rc = chain_link_actor (&view, actor);
        bool changed = false;
        rsakey_t *key = rc == CHAT_OK? cl_contacts_key (self->contacts, actor, &changed): NULL;
        if (rc == CHAT_OK && !key) {
            chain_link_free (link);
            free (link);
            s_chain_bad (self, conv, CHAT_ERR_BAD_STATEMENT, cl_format (
                "a link is signed by \"%s\", whom the key server does not know", actor));
            return;
        }
        if (rc == CHAT_OK)
            rc = convstate_append (conv->state, &view, key, changed);
        chain_link_free (link);
        free (link);
        if (rc != CHAT_OK) {
            s_chain_bad (self, conv, rc, cl_format (
                "link %llu: %s", (unsigned long long) convstate_epoch (conv->state) + 1,
                rc == CHAT_ERR_CHAIN_CONFLICT
                ? "not built on the link before it"
                : "badly signed, malformed, or a change its actor may not make"));
            return;
        }
        progress = true;
        if (!history)
            s_change_line (self, conv);
    }
    if (history && progress && conv->announce)
        s_change_line (self, conv);
    s_chain_done (self, conv, progress);
}

//  The directory answered for the chain's signers and members.
static void
s_on_chain_contacts (void *arg, void *data, int code)
{
    cl_convs_t *self = (cl_convs_t *) arg;
    conv_t *conv = s_find (self, ((c_about_t *) data)->conv, CHATCLIENT_ID_SIZE);
    if (!conv)
        return;
    if (code != CHAT_OK) {
        //  the key server did not answer: try again with the next list
        s_links_clear (conv);
        conv->chain_busy = false;
        conv->chain_failed = true;
        s_settle (self, conv);
        s_settle_lists (self);
        return;
    }
    s_chain_verify (self, conv);
    s_settle (self, conv);
    s_settle_lists (self);
}

//  Every link is fetched: ask for the identity keys of whoever they name
//  (read before they are believed: only to know whom to ask), then check.
static void
s_chain_check (cl_convs_t *self, conv_t *conv)
{
    size_t total = 0;
    for (chain_link_t *link = (chain_link_t *) zlist_first (conv->links); link;
         link = (chain_link_t *) zlist_next (conv->links))
        total += 1 + CHAIN_MAX_MEMBERS;
    const char **names = (const char **) calloc (total + 1, sizeof (char *));
    assert (names);
    zlist_t *parsed = zlist_new ();
    size_t count = 0;
    for (chain_link_t *link = (chain_link_t *) zlist_first (conv->links); link;
         link = (chain_link_t *) zlist_next (conv->links)) {
        Chat__MembershipStatement *statement = NULL;
        if (wire_unpack (&chat__membership_statement__descriptor, link->statement,
                         link->statement_len, (ProtobufCMessage **) &statement) != CHAT_OK)
            continue;
        zlist_append (parsed, statement);
        if (statement->actor)
            names [count++] = statement->actor;
        for (size_t i = 0; i < statement->n_members && i < CHAIN_MAX_MEMBERS; i++)
            names [count++] = statement->members [i];
    }
    cl_contacts_need (self->contacts, names, count, s_on_chain_contacts, self,
                      s_about_new (conv), s_about_destroy);
    Chat__MembershipStatement *statement;
    while ((statement = (Chat__MembershipStatement *) zlist_pop (parsed)))
        protobuf_c_message_free_unpacked ((ProtobufCMessage *) statement, NULL);
    zlist_destroy (&parsed);
    free (names);
}

static void
s_get_chain (cl_convs_t *self, conv_t *conv)
{
    Chat__GetChainRequest body = CHAT__GET_CHAIN_REQUEST__INIT;
    body.conversation_id.data = conv->pub.id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.after_epoch = convstate_epoch (conv->state) + zlist_size (conv->links);
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_GET_CHAIN;
    req.get_chain = &body;
    if (!s_submit (self, C_CHAIN, 0, (ProtobufCMessage *) &req, s_about_new (conv))) {
        conv->chain_busy = false;
        conv->chain_failed = true;
    }
}

//  Bring the verified chain up to the server's head.
static void
s_fetch_chain (cl_convs_t *self, conv_t *conv)
{
    if (conv->chain_bad)
        return;
    if (conv->chain_busy) {
        conv->chain_again = true;
        return;
    }
    conv->chain_busy = true;
    conv->chain_failed = false;
    s_get_chain (self, conv);
}

static void
s_on_chain (cl_convs_t *self, conv_t *conv, Chat__Chain *chain)
{
    if (!conv || !conv->chain_busy)
        return;
    for (size_t i = 0; i < chain->n_statements; i++) {
        Chat__SignedStatement *statement = chain->statements [i];
        chain_link_t *link = calloc (1, sizeof (chain_link_t));
        assert (link);
        link->statement = malloc (statement->statement.len + 1);
        link->signature = malloc (statement->signature.len + 1);
        assert (link->statement && link->signature);
        memcpy (link->statement, statement->statement.data, statement->statement.len);
        link->statement_len = statement->statement.len;
        memcpy (link->signature, statement->signature.data, statement->signature.len);
        link->signature_len = statement->signature.len;
        zlist_append (conv->links, link);
    }
    if (chain->more && chain->n_statements > 0)
        s_get_chain (self, conv);
    else
    if (zlist_size (conv->links) == 0) {
        s_chain_done (self, conv, false);
        s_settle (self, conv);
        s_settle_lists (self);
    }
    else
        s_chain_check (self, conv);
}

//  ---------------------------------------------------------------- keys

//  The lowest epoch whose key something here waits for, or 0.
static uint64_t
s_key_needed (conv_t *conv)
{
    uint64_t verified = convstate_epoch (conv->state);
    uint64_t lowest = 0;
    for (raw_t *raw = (raw_t *) zlist_first (conv->raw); raw;
         raw = (raw_t *) zlist_next (conv->raw))
        if (raw->epoch >= 1 && raw->epoch <= verified
        &&  convstate_keyed (conv->state, raw->epoch)
        &&  !convstate_key (conv->state, raw->epoch)
        &&  (!lowest || raw->epoch < lowest))
            lowest = raw->epoch;
    if ((conv->want_key || zlist_size (conv->sends)) && verified
    &&  convstate_keyed (conv->state, verified) && !convstate_key (conv->state, verified)
    &&  (!lowest || verified < lowest))
        lowest = verified;
    return lowest;
}

static void
s_get_keys (cl_convs_t *self, conv_t *conv, uint64_t from)
{
    Chat__GetKeysRequest body = CHAT__GET_KEYS_REQUEST__INIT;
    body.conversation_id.data = conv->pub.id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.from_epoch = from;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_GET_KEYS;
    req.get_keys = &body;
    if (!s_submit (self, C_KEYS, 0, (ProtobufCMessage *) &req, s_about_new (conv)))
        conv->keys_busy = false;
}

//  Ask for the keys something waits for, unless that is under way.
static void
s_fetch_keys (cl_convs_t *self, conv_t *conv)
{
    if (conv->keys_busy || conv->keys_gave_up || conv->key_retry_at)
        return;
    uint64_t from = s_key_needed (conv);
    if (!from)
        return;
    conv->keys_busy = true;
    s_get_keys (self, conv, from);
}

//  A fetch of keys ended: a key still missing is asked for again after a
//  while, a few times, then given up on (until something asks again).
static void
s_keys_done (cl_convs_t *self, conv_t *conv)
{
    conv->keys_busy = false;
    if (!s_key_needed (conv)) {
        conv->key_attempts = 0;
        conv->want_key = false;
        return;
    }
    if (++conv->key_attempts >= KEY_ATTEMPTS) {
        conv->keys_gave_up = true;
        conv->want_key = false;
        return;
    }
    int wait = KEY_RETRY_MIN_MS << (conv->key_attempts - 1);
    conv->key_retry_at = zclock_mono () + (wait > KEY_RETRY_MAX_MS? KEY_RETRY_MAX_MS: wait);
    (void) self;
}

//  Something new wants keys: try again even after giving up.
static void
s_keys_rearm (conv_t *conv)
{
    if (conv->keys_gave_up) {
        conv->keys_gave_up = false;
        conv->key_attempts = 0;
    }
}

static void
s_on_keys (cl_convs_t *self, conv_t *conv, Chat__EpochKeys *keys)
{
    if (!conv)
        return;
    rsakey_t *identity = cl_session_identity (self->session);
    uint64_t last = 0;
    for (size_t i = 0; i < keys->n_keys && identity; i++) {
        Chat__EpochKey *key = keys->keys [i];
        if (key->epoch > last)
            last = key->epoch;
        int rc = convstate_take_key (conv->state, key->epoch, identity,
                                     key->wrapped_key.data, key->wrapped_key.len);
        if (rc != CHAT_OK && rc != CHAT_ERR_NOT_FOUND)
            s_say (self, rc, cl_format (
                "conversation %s: the key of epoch %llu (stored by %s) %s; refused",
                conv->pub.hex, (unsigned long long) key->epoch,
                key->uploader? key->uploader: "?",
                rc == CHAT_ERR_BAD_MAC ? "is not the one its signed statement names"
                                       : "does not open with your identity key"));
    }
    if (keys->more && last > 0 && identity)
        s_get_keys (self, conv, last + 1);
    else
        s_keys_done (self, conv);
    s_settle (self, conv);
}

//  ---------------------------------------------------------------- read markers

//  A message from someone else than the user (own ones from any session
//  are never unread)
static bool
s_from_others (cl_convs_t *self, const char *sender)
{
    const char *me = cl_session_username (self->session);
    return !me || !sender || strcasecmp (me, sender) != 0;
}

//  Tell the server how far the user has read (one request at a time; the
//  answer sends the next if the user read on meanwhile)
static void
s_mark_read_send (cl_convs_t *self, conv_t *conv)
{
    if (conv->read_inflight || conv->pub.read_seq <= conv->read_told)
        return;
    Chat__MarkReadRequest body = CHAT__MARK_READ_REQUEST__INIT;
    body.conversation_id.data = conv->pub.id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.read_seq = conv->pub.read_seq;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_MARK_READ;
    req.mark_read = &body;
    if (s_submit (self, C_MARK_READ, 0, (ProtobufCMessage *) &req, s_about_new (conv))) {
        conv->read_inflight = true;
        conv->read_told = conv->pub.read_seq;
    }
}

//  The user has seen everything up to the newest message
static void
s_read_all (cl_convs_t *self, conv_t *conv)
{
    if (conv->pub.last_seq > conv->pub.read_seq)
        conv->pub.read_seq = conv->pub.last_seq;
    conv->pub.unread = 0;
    if (conv->counted_seq < conv->pub.last_seq)
        conv->counted_seq = conv->pub.last_seq;
    s_mark_read_send (self, conv);
}

//  What the server says of the user's reading: read_seq, and unread
//  counted up to last_seq; messages held here past last_seq count on top
static void
s_read_state (cl_convs_t *self, conv_t *conv, uint64_t read_seq, uint64_t unread,
              uint64_t last_seq)
{
    if (read_seq < conv->pub.read_seq) {
        //  we read further than the server knows: tell it again
        conv->read_told = read_seq;
        s_mark_read_send (self, conv);
        return;
    }
    conv->pub.read_seq = read_seq;
    if (conv->read_told < read_seq)
        conv->read_told = read_seq;
    //  a message request counts no unread
    conv->pub.unread = conv->pub.request? 0: unread;
    conv->counted_seq = last_seq;
    size_t total = convlog_size (conv->log);
    for (size_t i = total; i > 0; i--) {
        const chatclient_message_t *msg = convlog_at (conv->log, i - 1);
        if (msg->seq <= last_seq)
            break;
        if (msg->seq > read_seq && s_from_others (self, msg->sender) && !conv->pub.request)
            conv->pub.unread++;
        if (msg->seq > conv->counted_seq)
            conv->counted_seq = msg->seq;
    }
}

//  A ReadState from the server (an answer, or a push from another session
//  of the user). NULL when it names no conversation of ours.
static conv_t *
s_on_read (cl_convs_t *self, Chat__ReadState *state)
{
    conv_t *conv = state? s_find (self, state->conversation_id.data,
                                  state->conversation_id.len): NULL;
    if (conv)
        s_read_state (self, conv, state->read_seq, state->unread, state->last_seq);
    return conv;
}

//  ---------------------------------------------------------------- the list

//  The server's word for a conversation whose chain is not verified yet
//  (never shown as such: only until the chain replaces it).
static void
s_from_summary (conv_t *conv, Chat__ConversationSummary *summary)
{
    if (summary->epoch > conv->server_epoch)
        conv->server_epoch = summary->epoch;
    if (conv->pub.verified)
        return;
    cl_conversation_clear (&conv->pub);
    conv->pub.members = calloc (summary->n_members + 1, sizeof (char *));
    assert (conv->pub.members);
    for (size_t i = 0; i < summary->n_members; i++)
        conv->pub.members [i] = strdup (summary->members [i] ? summary->members [i] : "");
    conv->pub.member_count = summary->n_members;
    conv->pub.title = strdup (summary->title? summary->title: "");
    conv->pub.direct = summary->direct;
}

//  Add or update a conversation from a summary. base_known: the
//  conversation existed when the session began (its older messages are
//  history, not news). NULL when the summary has no valid id. A new one's
//  chain is not fetched here: the caller says.
static conv_t *
s_merge (cl_convs_t *self, Chat__ConversationSummary *summary, bool base_known,
         bool *created)
{
    if (created)
        *created = false;
    if (summary->conversation_id.len != CHATCLIENT_ID_SIZE)
        return NULL;
    conv_t *conv = s_find (self, summary->conversation_id.data,
                           summary->conversation_id.len);
    if (!conv) {
        conv = calloc (1, sizeof (conv_t));
        assert (conv);
        memcpy (conv->pub.id, summary->conversation_id.data, CHATCLIENT_ID_SIZE);
        char *hex = codec_hex (conv->pub.id, CHATCLIENT_ID_SIZE);
        assert (hex);
        memcpy (conv->pub.hex, hex, CHATCLIENT_HEX_SIZE);
        free (hex);
        conv->log = convlog_new (base_known ? summary->last_seq : 0);
        conv->state = convstate_new (conv->pub.id);
        conv->history_loaded = !base_known || summary->last_seq == 0;
        conv->links = zlist_new ();
        conv->raw = zlist_new ();
        conv->waiters = zlist_new ();
        conv->sends = zlist_new ();
        conv->changes = zlist_new ();
        if (self->count == self->alloc) {
            self->alloc = self->alloc ? self->alloc * 2 : 16;
            self->convs = realloc (self->convs, self->alloc * sizeof (conv_t *));
            self->shown = realloc (self->shown, self->alloc * sizeof (conv_t *));
            assert (self->convs && self->shown);
        }
        self->convs [self->count++] = conv;
        conv->pub.last_seq = base_known ? summary->last_seq : 0;
        conv->pub.last_time = base_known ? summary->last_time : 0;
        if (created)
            *created = true;
    }
    s_from_summary (conv, summary);
    //  anything the server has that we have not seen is fetched
    if (summary->last_seq > convlog_seen (conv->log))
        s_fetch (self, conv, false);
    return conv;
}

//  A list (or the first) whose every new conversation's chain has been
//  checked (or could not be) is answered.
static void
s_settle_lists (cl_convs_t *self)
{
    //  a chain that failed lets those after it be shown
    s_show_ready (self);
    for (size_t i = 0; i < self->count; i++) {
        conv_t *conv = self->convs [i];
        if (!conv->shown && !conv->chain_bad && !conv->chain_failed)
            return;             //  still being checked
    }
    listwait_t *wait;
    while ((wait = (listwait_t *) zlist_pop (self->list_waiters))) {
        chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_CONVERSATIONS, wait->cmd);
        event->conversations = calloc (self->shown_count + 1,
                                       sizeof (chatclient_conversation_t));
        assert (event->conversations);
        for (size_t i = 0; i < self->shown_count; i++)
            cl_conversation_copy (&event->conversations [i], &self->shown [i]->pub);
        event->conversation_count = self->shown_count;
        free (wait);
        cl_listener_publish (&self->listener, event);
    }
}

//  A page of the list; the next is asked for at once, and the list is
//  answered after the last. first: the pages of the first list after login
//  (what they name existed before the session: history, not news).
static void
s_on_list (cl_convs_t *self, uint32_t cmd, Chat__ConversationList *list, bool first)
{
    first = first || !self->first_list_done;
    for (size_t i = 0; i < list->n_conversations; i++) {
        bool created = false;
        Chat__ConversationSummary *summary = list->conversations [i];
        conv_t *conv = s_merge (self, summary, first, &created);
        if (!conv)
            continue;
        conv->pub.request = summary->request;
        s_read_state (self, conv, summary->read_seq, summary->unread, summary->last_seq);
        if (created)
            conv->announce = !first && !cmd;
        //  new ones, later epochs, and ones whose last fetch failed
        if (created || conv->chain_failed
        ||  conv->server_epoch > convstate_epoch (conv->state))
            s_fetch_chain (self, conv);
    }
    if (list->next_cursor.len > 0 && list->next_cursor.len <= LIST_CURSOR_MAX) {
        s_list_page (self, cmd, first, &list->next_cursor);
        return;
    }
    self->first_list_done = true;
    if (cmd || first) {
        listwait_t *wait = calloc (1, sizeof (listwait_t));
        assert (wait);
        wait->cmd = cmd;
        wait->first = first;
        zlist_append (self->list_waiters, wait);
    }
    s_settle_lists (self);
}

//  ---------------------------------------------------------------- messages

//  Fetch what the server has: from seq 0 (the whole history) or from the
//  last message seen.
static void
s_get_messages (cl_convs_t *self, conv_t *conv, uint64_t after)
{
    Chat__GetMessagesRequest body = CHAT__GET_MESSAGES_REQUEST__INIT;
    body.conversation_id.data = conv->pub.id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.after_seq = after;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_GET_MESSAGES;
    req.get_messages = &body;
    c_about_t *about = s_about_new (conv);
    about->after = after;
    if (!s_submit (self, C_MESSAGES, 0, (ProtobufCMessage *) &req, about))
        conv->fetching = false;
}

static void
s_fetch (cl_convs_t *self, conv_t *conv, bool from_zero)
{
    if (conv->fetching) {
        if (from_zero && !conv->history_loaded)
            conv->want_history = true;
        return;
    }
    conv->fetching = true;
    conv->fetch_from_zero = from_zero;
    conv->fetch_progress = false;
    s_get_messages (self, conv, from_zero ? 0 : convlog_seen (conv->log));
}

//  Hold a stored message until it can be checked.
static void
s_raw_add (conv_t *conv, Chat__StoredMessage *stored)
{
    if (!stored->sender || !stored->token || stored->seq == 0)
        return;
    raw_t *raw = calloc (1, sizeof (raw_t));
    assert (raw);
    raw->seq = stored->seq;
    raw->epoch = stored->epoch;
    raw->sender = strdup (stored->sender);
    raw->server_time = stored->server_time;
    raw->token_len = strlen (stored->token);
    raw->token = strdup (stored->token);
    zlist_append (conv->raw, raw);
}

static void
s_emit_message (cl_convs_t *self, conv_t *conv, chatclient_message_t *msg)
{
    if (msg->seq > conv->pub.last_seq) {
        conv->pub.last_seq = msg->seq;
        conv->pub.last_time = msg->server_time;
    }
    //  unread: messages from others past the marker, each counted once; a
    //  message request counts none (nor does the caller notify)
    if (msg->seq > conv->counted_seq) {
        conv->counted_seq = msg->seq;
        if (msg->seq > conv->pub.read_seq && s_from_others (self, msg->sender)
        &&  !conv->pub.request)
            conv->pub.unread++;
    }
    cl_listener_publish (&self->listener, cl_event_message (CHATCLIENT_EV_MESSAGE, 0, msg));
}

static void
s_drain_ready (cl_convs_t *self, conv_t *conv)
{
    chatclient_message_t *msg;
    while ((msg = convlog_next_ready (conv->log)))
        s_emit_message (self, conv, msg);
}

//  Offer a message to the log and emit whatever became ready.
static void
s_offer (cl_convs_t *self, conv_t *conv, uint64_t seq, chatclient_message_t *msg)
{
    chatclient_message_t *held = msg;
    convlog_result_t result = convlog_offer (conv->log, seq, msg);
    if (result == CONVLOG_HISTORY && held)
        cl_listener_publish (&self->listener, cl_event_message (CHATCLIENT_EV_MESSAGE, 0, held));
    s_drain_ready (self, conv);
}

//  A message we cannot believe is dropped, loudly, and its number used up
//  so that it does not look like a gap forever.
static void
s_drop (cl_convs_t *self, conv_t *conv, raw_t *raw, int code, char *why)
{
    if (raw->seq > convlog_base (conv->log) && raw->seq > convlog_seen (conv->log))
        s_say (self, code, cl_format ("message %llu in conversation %s from %s dropped: %s",
                                      (unsigned long long) raw->seq, conv->pub.hex,
                                      raw->sender, why));
    free (why);
    s_offer (self, conv, raw->seq, NULL);
}

//  Why a message failed section 12's checks, in words.
static char *
s_why (int rc, raw_t *raw)
{
    switch (rc) {
        case CHAT_ERR_BAD_MAC:
            return cl_format ("it does not open with the key of epoch %llu",
                              (unsigned long long) raw->epoch);
        case CHAT_ERR_BAD_SIGNATURE:
            return cl_format ("it is not signed by %s's identity key", raw->sender);
        case CHAT_ERR_BAD_REQUEST:
            return strdup ("it names another conversation, epoch or sender than the server says");
        case CHAT_ERR_REPLAYED:
            return strdup ("it repeats an earlier message (same sender and message id)");
        case CHAT_ERR_NOT_FOUND:
            return cl_format ("%s was not a member of epoch %llu", raw->sender,
                              (unsigned long long) raw->epoch);
        default:
            return cl_format ("it is not a well-formed message (%s)", chat_strerror (rc));
    }
}

//  Section 12's checks of one message whose epoch key and sender's key are
//  here; a message that passes them all goes to the log.
static void
s_check_message (cl_convs_t *self, conv_t *conv, raw_t *raw, rsakey_t *sender_key,
                 bool changed)
{
    msgseal_body_t body;
    int rc = msgseal_open (convstate_key (conv->state, raw->epoch), raw->token,
                           raw->token_len, conv->pub.id, raw->epoch, raw->sender,
                           sender_key, &body);
    if (rc == CHAT_OK && !convstate_member (conv->state, raw->epoch, raw->sender))
        rc = CHAT_ERR_NOT_FOUND;
    if (rc == CHAT_OK)
        rc = convstate_note_message (conv->state, raw->sender, body.client_message_id,
                                     raw->seq);
    if (rc != CHAT_OK) {
        msgseal_body_free (&body);
        s_drop (self, conv, raw, rc, s_why (rc, raw));
        return;
    }
    chatclient_message_t *msg = calloc (1, sizeof (chatclient_message_t));
    assert (msg);
    memcpy (msg->conversation_id, conv->pub.id, CHATCLIENT_ID_SIZE);
    memcpy (msg->conversation_hex, conv->pub.hex, CHATCLIENT_HEX_SIZE);
    msg->seq = raw->seq;
    msg->sender = raw->sender;
    raw->sender = NULL;
    msg->sent_at = body.sent_at;
    msg->server_time = raw->server_time;
    msg->text = body.text;
    msg->text_len = body.text_len;
    msg->live = true;
    msg->epoch = raw->epoch;
    msg->key_changed = changed;
    s_offer (self, conv, msg->seq, msg);
}

//  The identity keys of the senders of held messages came (or not).
static void
s_on_senders (void *arg, void *data, int code)
{
    cl_convs_t *self = (cl_convs_t *) arg;
    conv_t *conv = s_find (self, ((c_about_t *) data)->conv, CHATCLIENT_ID_SIZE);
    if (!conv)
        return;
    conv->senders_busy = false;
    (void) code;                //  whoever is still unknown is dropped, said
    s_settle (self, conv);
}

static void
s_need_senders (cl_convs_t *self, conv_t *conv)
{
    if (conv->senders_busy)
        return;
    conv->senders_busy = true;
    const char **names = (const char **) calloc (zlist_size (conv->raw) + 1, sizeof (char *));
    assert (names);
    size_t count = 0;
    for (raw_t *raw = (raw_t *) zlist_first (conv->raw); raw;
         raw = (raw_t *) zlist_next (conv->raw)) {
        names [count++] = raw->sender;
        raw->sender_asked = true;
    }
    cl_contacts_need (self->contacts, names, count, s_on_senders, self, s_about_new (conv),
                      s_about_destroy);
    free (names);
}

//  Check the held messages, in the order they came, as far as the chain,
//  the keys and the senders' identities allow; ask for what is missing.
static void
s_open_raw (cl_convs_t *self, conv_t *conv)
{
    if (!cl_session_identity (self->session))
        return;
    raw_t *raw;
    while ((raw = (raw_t *) zlist_first (conv->raw))) {
        uint64_t verified = convstate_epoch (conv->state);
        char *why = NULL;
        int code = CHAT_ERR_BAD_REQUEST;
        if (raw->epoch == 0)
            why = strdup ("it names no epoch");
        else
        if (raw->epoch > verified) {
            if (conv->chain_bad || conv->chain_failed || raw->chain_asked) {
                why = cl_format ("epoch %llu is not on a membership chain that verifies",
                                 (unsigned long long) raw->epoch);
                code = CHAT_ERR_BAD_STATEMENT;
            }
            else {
                if (raw->epoch > conv->server_epoch)
                    conv->server_epoch = raw->epoch;
                raw->chain_asked = true;
                s_fetch_chain (self, conv);
                return;
            }
        }
        else
        if (!convstate_keyed (conv->state, raw->epoch))
            why = cl_format ("epoch %llu has no key", (unsigned long long) raw->epoch);
        else
        if (!convstate_key (conv->state, raw->epoch)) {
            if (!conv->keys_gave_up) {
                s_fetch_keys (self, conv);
                return;
            }
            why = cl_format ("no key of epoch %llu was shared with you",
                             (unsigned long long) raw->epoch);
            code = CHAT_ERR_NOT_FOUND;
        }
        bool changed = false;
        rsakey_t *sender_key = NULL;
        if (!why) {
            sender_key = cl_contacts_key (self->contacts, raw->sender, &changed);
            if (!sender_key && cl_contacts_missing (self->contacts, raw->sender))
                why = cl_format ("the key server knows no identity key of %s", raw->sender);
            else
            if (!sender_key && raw->sender_asked)
                why = cl_format ("%s's identity key could not be fetched", raw->sender);
            else
            if (!sender_key) {
                s_need_senders (self, conv);
                return;
            }
        }
        zlist_pop (conv->raw);
        if (why)
            s_drop (self, conv, raw, code, why);
        else
            s_check_message (self, conv, raw, sender_key, changed);
        s_raw_free (&raw);
    }
}

static void
s_send_sealed (cl_convs_t *self, conv_t *conv, sendjob_t *job)
{
    uint64_t epoch = convstate_epoch (conv->state);
    char *token = NULL;
    job->epoch = epoch;
    int rc = msgseal_seal (convstate_key (conv->state, epoch), conv->pub.id, epoch,
                           cl_session_username (self->session),
                           cl_session_identity (self->session), job->sent_at, job->cmid,
                           job->text, job->len, &token);
    if (rc != CHAT_OK) {
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, job->cmd, rc, NULL, 0);
        s_sendjob_free (&job);
        return;
    }
    Chat__SendMessageRequest body = CHAT__SEND_MESSAGE_REQUEST__INIT;
    body.conversation_id.data = conv->pub.id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.client_message_id.data = job->cmid;
    body.client_message_id.len = CHATCLIENT_ID_SIZE;
    body.token = token;
    body.epoch = epoch;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE;
    req.send_message = &body;
    c_about_t *about = s_about_new (conv);
    about->send = job;
    uint32_t cmd = job->cmd;
    if (!s_submit (self, C_SEND, cmd, (ProtobufCMessage *) &req, about))
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL, NULL, 0);
    free (token);
}

static void
s_on_page (cl_convs_t *self, conv_t *conv, uint64_t after_seq, Chat__MessagePage *page)
{
    if (!conv)
        return;
    uint64_t last = after_seq;
    //  A page from what we have seen that starts past the next number: the
    //  numbers between are closed to us (we were added after them)
    if (page->n_messages && after_seq == convlog_seen (conv->log)
    &&  page->messages [0]->seq > after_seq + 1) {
        for (uint64_t seq = after_seq + 1; seq < page->messages [0]->seq; seq++)
            convlog_offer (conv->log, seq, NULL);
        s_drain_ready (self, conv);
    }
    for (size_t i = 0; i < page->n_messages; i++) {
        Chat__StoredMessage *stored = page->messages [i];
        if (stored->seq <= last)
            continue;           //  pages ascend; anything else is noise
        if (stored->conversation_id.len
        &&  (stored->conversation_id.len != CHATCLIENT_ID_SIZE
          || memcmp (stored->conversation_id.data, conv->pub.id, CHATCLIENT_ID_SIZE)))
            continue;
        s_raw_add (conv, stored);
        last = stored->seq;
        conv->fetch_progress = true;
    }
    if (page->more && last > after_seq) {
        s_get_messages (self, conv, last);
        s_settle (self, conv);
        return;
    }
    conv->fetching = false;
    if (conv->fetch_from_zero)
        conv->history_loaded = true;
    s_settle (self, conv);
    //  pages ran dry before the gap closed: the missing numbers do not exist
    if (!conv->fetching && convlog_has_gap (conv->log) && !conv->fetch_progress
    &&  zlist_size (conv->raw) == 0) {
        //  nothing to wait for: let the held messages through
        while (convlog_has_gap (conv->log)) {
            convlog_offer (conv->log, convlog_seen (conv->log) + 1, NULL);
            s_drain_ready (self, conv);
        }
    }
}

static void
s_on_sent (cl_convs_t *self, conv_t *conv, uint32_t cmd, sendjob_t *job,
           Chat__SendMessageReply *sent)
{
    chatclient_message_t *msg = calloc (1, sizeof (chatclient_message_t));
    assert (msg);
    memcpy (msg->conversation_id, job->conv, CHATCLIENT_ID_SIZE);
    char *hex = codec_hex (job->conv, CHATCLIENT_ID_SIZE);
    assert (hex);
    memcpy (msg->conversation_hex, hex, CHATCLIENT_HEX_SIZE);
    free (hex);
    msg->seq = sent->seq;
    const char *me = cl_session_username (self->session);
    msg->sender = strdup (me ? me : "");
    msg->sent_at = job->sent_at;
    msg->server_time = sent->server_time;
    msg->text = job->text;
    msg->text_len = job->len;
    job->text = NULL;
    msg->live = true;
    msg->local = true;
    msg->epoch = job->epoch;

    chatclient_event_t *event = cl_event_message (CHATCLIENT_EV_SENT, cmd, msg);
    event->duplicate = sent->duplicate;
    cl_listener_publish (&self->listener, event);
    if (conv && me) {
        //  its id is ours now: the same pair again would be a replay
        convstate_note_message (conv->state, me, job->cmid, sent->seq);
        s_offer (self, conv, sent->seq, msg);
        s_settle (self, conv);
    }
    else
        convlog_message_free (&msg);
}

//  The server says the epoch moved on: fetch the chain and keys, seal the
//  message again under the new epoch.
static bool
s_on_stale (cl_convs_t *self, conv_t *conv, c_about_t *about)
{
    sendjob_t *job = about->send;
    if (!conv || !job || ++job->stale > STALE_ATTEMPTS)
        return false;
    about->send = NULL;
    zlist_push (conv->sends, job);
    if (conv->server_epoch <= job->epoch)
        conv->server_epoch = job->epoch + 1;
    s_fetch_chain (self, conv);
    s_settle (self, conv);
    return true;
}

//  A message the main server pushed.
static void
s_on_pushed (cl_convs_t *self, Chat__StoredMessage *stored)
{
    conv_t *conv = s_find (self, stored->conversation_id.data, stored->conversation_id.len);
    if (!conv)
        //  a conversation we have not heard of: the list brings it
        s_list (self, 0, false);
    else
    if (stored->seq > convlog_seen (conv->log)) {
        if (stored->seq > convlog_seen (conv->log) + 1)
            s_fetch (self, conv, false);        //  we missed some
        else
            s_raw_add (conv, stored);
        s_keys_rearm (conv);
        s_settle (self, conv);
    }
}

//  The summary names the logged-in user among its members
static bool
s_names_me (cl_convs_t *self, const Chat__ConversationSummary *summary)
{
    const char *me = cl_session_username (self->session);
    for (size_t i = 0; me && i < summary->n_members; i++)
        if (summary->members [i]
        &&  credential_username_compare (summary->members [i], me) == 0)
            return true;
    return false;
}

static void
s_on_push (cl_convs_t *self, const uint8_t *data, size_t size)
{
    Chat__Push *push = NULL;
    if (wire_unpack (&chat__push__descriptor, data, size,
                     (ProtobufCMessage **) &push) != CHAT_OK)
        return;
    if (push->body_case == CHAT__PUSH__BODY_MESSAGE)
        s_on_pushed (self, push->message);
    else
    if (push->body_case == CHAT__PUSH__BODY_READ) {
        //  another session of the user read it: so has this one
        conv_t *conv = s_on_read (self, push->read);
        if (conv)
            cl_listener_publish (&self->listener, cl_event_conversation (
                CHATCLIENT_EV_READ, 0, &conv->pub));
    }
    else
    if (push->body_case == CHAT__PUSH__BODY_CONVERSATION && push->conversation
    &&  !s_names_me (self, push->conversation)) {
        //  a summary without us: we were removed (or left from another
        //  session). The chain is no longer ours to fetch: the server's word
        conv_t *conv = s_find (self, push->conversation->conversation_id.data,
                               push->conversation->conversation_id.len);
        if (conv && conv->shown && !conv->pub.left) {
            s_left (self, conv, "You are no longer a member of this conversation");
            chatclient_event_t *event = cl_event_conversation (CHATCLIENT_EV_CHANGE, 0,
                                                               &conv->pub);
            event->text = strdup ("you are no longer a member: nothing new arrives here");
            cl_listener_publish (&self->listener, event);
            cl_listener_publish (&self->listener, cl_event_conversation (
                CHATCLIENT_EV_CONVERSATION, 0, &conv->pub));
        }
    }
    else
    if (push->body_case == CHAT__PUSH__BODY_CONVERSATION) {
        bool created = false;
        conv_t *conv = s_merge (self, push->conversation, false, &created);
        //  The server tells each recipient whether it is a request for them
        if (conv)
            conv->pub.request = push->conversation->request;
        if (conv && created) {
            //  made just now: its keys follow at once, so fetch them early
            //  (asking again while the creator is still uploading)
            conv->announce = true;
            conv->want_key = true;
        }
        if (conv && (created || conv->server_epoch > convstate_epoch (conv->state)))
            s_fetch_chain (self, conv);
    }
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) push, NULL);
}

//  ---------------------------------------------------------------- settling

static void
s_complete_waiter (cl_convs_t *self, conv_t *conv, waiter_t *waiter)
{
    chatclient_event_t *event;
    if (waiter->kind == WAIT_OPEN) {
        s_read_all (self, conv);
        event = cl_event_conversation (CHATCLIENT_EV_OPENED, waiter->cmd, &conv->pub);
    }
    else
    if (waiter->kind == WAIT_MEMBERS)
        event = cl_event_conversation (CHATCLIENT_EV_MEMBERS, waiter->cmd, &conv->pub);
    else
    if (waiter->kind == WAIT_SHOWN)
        event = cl_event_conversation (CHATCLIENT_EV_CONVERSATION, waiter->cmd, &conv->pub);
    else {
        event = cl_event_conversation (CHATCLIENT_EV_HISTORY, waiter->cmd, &conv->pub);
        size_t total = convlog_size (conv->log), count = 0;
        for (size_t i = 0; i < total; i++)
            if (convlog_at (conv->log, i)->seq > waiter->after)
                count++;
        event->messages = calloc (count + 1, sizeof (chatclient_message_t));
        assert (event->messages);
        for (size_t i = 0; i < total; i++) {
            const chatclient_message_t *msg = convlog_at (conv->log, i);
            if (msg->seq > waiter->after)
                convlog_message_copy (&event->messages [event->message_count++], msg);
        }
    }
    cl_listener_publish (&self->listener, event);
}

//  The waiter may complete now.
static bool
s_waiter_ready (conv_t *conv, waiter_t *waiter)
{
    if (!conv->shown || conv->chain_busy)
        return false;
    if (waiter->kind == WAIT_MEMBERS || waiter->kind == WAIT_SHOWN)
        return true;
    return !conv->fetching && !conv->want_history && conv->history_loaded
        && zlist_size (conv->raw) == 0;
}

//  Sends go when the verified chain is current and its epoch's key is here.
static void
s_settle_sends (cl_convs_t *self, conv_t *conv)
{
    if (zlist_size (conv->sends) == 0 || conv->chain_busy || !conv->shown)
        return;
    uint64_t epoch = convstate_epoch (conv->state);
    if (!convstate_keyed (conv->state, epoch)) {
        s_fail_sends (self, conv, CHAT_ERR_NOT_FOUND,
                      "The conversation's current epoch has no key yet");
        return;
    }
    if (!convstate_key (conv->state, epoch)) {
        if (conv->keys_gave_up)
            s_fail_sends (self, conv, CHAT_ERR_NOT_FOUND,
                          "Could not get the conversation's key from the key server");
        else
            s_fetch_keys (self, conv);
        return;
    }
    sendjob_t *job;
    while ((job = (sendjob_t *) zlist_pop (conv->sends)))
        s_send_sealed (self, conv, job);
}

//  Make progress on a conversation after anything changed: check held
//  messages, fetch gaps, send what waits, complete waiters.
static void
s_settle (cl_convs_t *self, conv_t *conv)
{
    if (conv->shown && !conv->chain_busy)
        s_open_raw (self, conv);
    else
    if (conv->chain_bad && zlist_size (conv->raw))
        s_open_raw (self, conv);
    if (!conv->fetching) {
        if (conv->want_history && !conv->history_loaded) {
            conv->want_history = false;
            s_fetch (self, conv, true);
        }
        else
        if (convlog_has_gap (conv->log) && zlist_size (conv->raw) == 0)
            s_fetch (self, conv, false);
    }
    s_settle_sends (self, conv);
    if (conv->shown && conv->want_key)
        s_fetch_keys (self, conv);
    //  commands complete once everything is fetched and checked
    if (zlist_size (conv->waiters) == 0)
        return;
    if (conv->fetch_error) {
        s_fail_waiters (self, conv, conv->fetch_error, NULL);
        conv->fetch_error = 0;
        return;
    }
    if (!conv->shown && (conv->chain_failed || conv->chain_bad)) {
        s_fail_waiters (self, conv, CHAT_ERR_BAD_STATEMENT,
                        "The conversation's membership chain could not be checked");
        return;
    }
    waiter_t *waiter = (waiter_t *) zlist_first (conv->waiters);
    while (waiter) {
        waiter_t *next = (waiter_t *) zlist_next (conv->waiters);
        if (s_waiter_ready (conv, waiter)) {
            zlist_remove (conv->waiters, waiter);
            s_complete_waiter (self, conv, waiter);
            free (waiter);
            //  the list may have changed under the cursor
            next = (waiter_t *) zlist_first (conv->waiters);
        }
        waiter = next;
    }
}

//  ---------------------------------------------------------------- creating

static void
s_create_fail (cl_convs_t *self, create_t *create, int code, char *why)
{
    cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, create->cmd, code, why, 0);
    free (why);
    s_create_free (&create);
}

//  Store the wrapped keys with the ticket we hold.
static void
s_put_keys (cl_convs_t *self, create_t *create)
{
    Chat__PutKeysRequest body = CHAT__PUT_KEYS_REQUEST__INIT;
    body.ticket.data = create->ticket;
    body.ticket.len = create->ticket_len;
    body.keys = create->wrapped_p;
    body.n_keys = create->count;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_PUT_KEYS;
    req.put_keys = &body;
    c_about_t *about = s_about_id (create->id);
    about->create = create;
    s_submit (self, C_PUT_KEYS, create->cmd, (ProtobufCMessage *) &req, about);
}

//  The upload failed: a fresh ticket and again, a few times.
static void
s_upload_retry (cl_convs_t *self, create_t *create, int code, const char *why)
{
    if (++create->attempts >= UPLOAD_ATTEMPTS || code == CHAT_ERR_KEY_EXISTS
    ||  code == CHAT_ERR_NOT_LOGGED_IN) {
        s_create_fail (self, create, code, cl_format (
            "The %s was made, but its keys could not be stored at the key "
            "server (%s): the others cannot read it yet",
            create->change? "change": "conversation", why? why: chat_strerror (code)));
        return;
    }
    Chat__KeyTicketRequest body = CHAT__KEY_TICKET_REQUEST__INIT;
    body.conversation_id.data = create->id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.epoch = create->epoch;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_KEY_TICKET;
    req.key_ticket = &body;
    c_about_t *about = s_about_id (create->id);
    about->create = create;
    s_submit (self, C_KEY_TICKET, create->cmd, (ProtobufCMessage *) &req, about);
}

static void
s_on_key_ticket (cl_convs_t *self, create_t *create, Chat__KeyTicketReply *reply)
{
    if (reply->ticket.len == 0 || reply->ticket.len > CREDENTIAL_MAX_SIZE
    ||  reply->epoch != create->epoch || reply->conversation_id.len != CHATCLIENT_ID_SIZE
    ||  memcmp (reply->conversation_id.data, create->id, CHATCLIENT_ID_SIZE) != 0) {
        s_upload_retry (self, create, CHAT_ERR_MALFORMED, "an unusable ticket");
        return;
    }
    free (create->ticket);
    create->ticket = malloc (reply->ticket.len);
    assert (create->ticket);
    memcpy (create->ticket, reply->ticket.data, reply->ticket.len);
    create->ticket_len = reply->ticket.len;
    s_put_keys (self, create);
}

//  Epoch 1's keys (or a change's) are stored: the command is done.
static void
s_on_keys_stored (cl_convs_t *self, create_t *create)
{
    conv_t *conv = s_find (self, create->id, CHATCLIENT_ID_SIZE);
    if (conv)
        cl_listener_publish (&self->listener, cl_event_conversation (
            CHATCLIENT_EV_CONVERSATION, create->cmd, &conv->pub));
    else
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, create->cmd,
                          CHAT_ERR_NOT_FOUND, NULL, 0);
    s_create_free (&create);
}

//  The main server took the statement: the conversation is ours to key.
static bool
s_on_created (cl_convs_t *self, create_t *create, Chat__ConversationCreated *created)
{
    conv_t *conv = created->conversation
                 ? s_find (self, created->conversation->conversation_id.data,
                           created->conversation->conversation_id.len)
                 : NULL;
    if (!created->conversation || created->conversation->conversation_id.len
                                  != CHATCLIENT_ID_SIZE) {
        s_create_fail (self, create, CHAT_ERR_MALFORMED,
                       strdup ("The main server's answer names no conversation"));
        return true;
    }
    if (created->existing) {
        //  the 1:1 of these two: it, once its chain verifies
        conv = s_merge (self, created->conversation, false, NULL);
        waiter_t *waiter = calloc (1, sizeof (waiter_t));
        assert (waiter);
        waiter->cmd = create->cmd;
        waiter->kind = WAIT_SHOWN;
        zlist_append (conv->waiters, waiter);
        if (!conv->shown)
            s_fetch_chain (self, conv);
        s_settle (self, conv);
        s_create_free (&create);
        return true;
    }
    if (created->conversation->conversation_id.len != CHATCLIENT_ID_SIZE
    ||  memcmp (created->conversation->conversation_id.data, create->id,
                CHATCLIENT_ID_SIZE) != 0
    ||  created->ticket.len == 0 || created->ticket.len > CREDENTIAL_MAX_SIZE) {
        s_create_fail (self, create, CHAT_ERR_MALFORMED, strdup (
            "The main server answered with another conversation than the one made"));
        return true;
    }
    bool fresh = false;
    if (!conv)
        conv = s_merge (self, created->conversation, false, &fresh);
    if (!conv || !fresh) {
        s_create_fail (self, create, CHAT_ERR_BAD_REQUEST,
                       strdup ("That conversation id is already known here"));
        return true;
    }
    //  our own link is the chain: verified here like any other
    Chat__SignedStatement view;
    chain_link_view (&create->link, &view);
    int rc = convstate_append (conv->state, &view, cl_session_identity (self->session), false);
    if (rc == CHAT_OK)
        rc = convstate_put_key (conv->state, 1, create->key);
    if (rc != CHAT_OK) {
        s_create_fail (self, create, rc, strdup ("Could not keep the conversation's key"));
        return true;
    }
    s_from_head (self, conv);
    s_show_one (self, conv);            //  ours: at once, whatever else is pending
    create->ticket = malloc (created->ticket.len);
    assert (create->ticket);
    memcpy (create->ticket, created->ticket.data, created->ticket.len);
    create->ticket_len = created->ticket.len;
    s_put_keys (self, create);
    s_settle (self, conv);
    return true;
}

//  Wrap epoch 1's key for every member, once.
static int
s_wrap_all (cl_convs_t *self, create_t *create)
{
    create->wrapped = calloc (create->count, sizeof (Chat__WrappedKey));
    create->wrapped_p = calloc (create->count, sizeof (Chat__WrappedKey *));
    assert (create->wrapped && create->wrapped_p);
    for (size_t i = 0; i < create->count; i++) {
        Chat__WrappedKey *wrapped = &create->wrapped [i];
        chat__wrapped_key__init (wrapped);
        create->wrapped_p [i] = wrapped;
        wrapped->username = create->names [i];
        rsakey_t *key = cl_contacts_key (self->contacts, create->names [i], NULL);
        if (!key
        ||  epochkey_wrap (key, create->key, &wrapped->wrapped_key.data,
                           &wrapped->wrapped_key.len) != CHAT_OK)
            return CHAT_ERR_INTERNAL;
    }
    return CHAT_OK;
}

//  The others' identity keys are known: make the conversation.
static void
s_on_create_contacts (void *arg, void *data, int code)
{
    cl_convs_t *self = (cl_convs_t *) arg;
    c_about_t *about = (c_about_t *) data;
    create_t *create = about->create;
    about->create = NULL;
    if (code != CHAT_OK) {
        s_create_fail (self, create, code, NULL);
        return;
    }
    const char *me = cl_session_username (self->session);
    rsakey_t *identity = cl_session_identity (self->session);
    if (!me || !identity) {
        s_create_fail (self, create, CHAT_ERR_NOT_LOGGED_IN, NULL);
        return;
    }
    for (size_t i = 0; i < create->count; i++) {
        const char *name = cl_contacts_canonical (self->contacts, create->names [i]);
        if (!name) {
            s_create_fail (self, create, CHAT_ERR_UNKNOWN_USER,
                           cl_format ("No user \"%s\"", create->names [i]));
            return;
        }
        if (cl_contacts_state (self->contacts, name) == CHATCLIENT_IDENTITY_CHANGED) {
            //  its key would be wrapped to a key nobody vouched for
            s_create_fail (self, create, CHAT_ERR_BAD_KEY, cl_format (
                "%s's identity key changed: compare safety numbers with them "
                "(verify %s) before starting a conversation", name, name));
            return;
        }
        free (create->names [i]);
        create->names [i] = strdup (name);
    }
    //  and ourselves: every member gets the key
    create->names [create->count++] = strdup (me);
    uint8_t check [EPOCHKEY_CHECK_SIZE];
    int rc = CHAT_ERR_INTERNAL;
    if (secret_random (create->id, CHATCLIENT_ID_SIZE) == 0
    &&  epochkey_generate (create->key) == CHAT_OK
    &&  epochkey_check_value (create->key, create->id, 1, check) == CHAT_OK)
        rc = chain_make_create (create->id, me, (const char *const *) create->names,
                                create->count, create->direct, NULL, check, identity,
                                wire_now_ms (), &create->link);
    if (rc == CHAT_OK)
        rc = s_wrap_all (self, create);
    if (rc != CHAT_OK) {
        s_create_fail (self, create, rc, strdup ("Could not make the conversation"));
        return;
    }
    Chat__SignedStatement statement;
    chain_link_view (&create->link, &statement);
    Chat__CreateConversationRequest body = CHAT__CREATE_CONVERSATION_REQUEST__INIT;
    body.statement = &statement;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION;
    req.create_conversation = &body;
    c_about_t *next = s_about_new (NULL);
    next->create = create;
    uint32_t cmd = create->cmd;
    if (!s_submit (self, C_CREATE, cmd, (ProtobufCMessage *) &req, next))
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL,
                          NULL, 0);
}

//  ---------------------------------------------------------------- changing

//  The line a verified link shows in its conversation, or NULL (a CREATE)
static char *
s_change_text (const Chat__MembershipStatement *head, const char *me)
{
    char subjects [CHAIN_MAX_MEMBERS * (USERNAME_MAX + 2) + 1] = "";
    bool me_subject = false;
    for (size_t i = 0; i < head->n_subjects; i++) {
        if (i)
            strcat (subjects, ", ");
        strncat (subjects, head->subjects [i], USERNAME_MAX);
        if (me && credential_username_compare (head->subjects [i], me) == 0)
            me_subject = true;
    }
    const char *actor = head->actor? head->actor: "?";
    switch ((int) head->action) {
        case CHAIN_ADD:
            return cl_format ("%s added %s%s", actor, subjects, me_subject
                              ? head->epoch > 1
                                ? ": earlier history is closed to you" : ""
                              : "");
        case CHAIN_REMOVE:
            return cl_format ("%s removed %s", actor, subjects);
        case CHAIN_LEAVE:
            return cl_format ("%s left", actor);
        case CHAIN_TITLE:
            return head->title && *head->title
                 ? cl_format ("%s set the title to \"%s\"", actor, head->title)
                 : cl_format ("%s cleared the title", actor);
        case CHAIN_ADMIN:
            return cl_format ("%s made %s %s", actor, subjects,
                              head->n_subjects > 1? "admins": "an admin");
        case CHAIN_REKEY:
            return cl_format ("%s changed the key", actor);
        default:
            return NULL;
    }
}

//  The head just verified is a change: say so, as a line of its own
static void
s_change_line (cl_convs_t *self, conv_t *conv)
{
    const Chat__MembershipStatement *head = convstate_head (conv->state);
    char *text = head? s_change_text (head, cl_session_username (self->session)): NULL;
    if (!text)
        return;
    chatclient_conversation_t view = conv->pub;
    view.epoch = head->epoch;
    chatclient_event_t *event = cl_event_conversation (CHATCLIENT_EV_CHANGE, 0, &view);
    event->text = text;
    cl_listener_publish (&self->listener, event);
}

static void
s_change_fail (cl_convs_t *self, create_t *change, int code, char *why)
{
    s_create_fail (self, change, code, why);
}

static void
s_fail_changes (cl_convs_t *self, conv_t *conv, int code, const char *text)
{
    create_t *change;
    while ((change = (create_t *) zlist_pop (conv->changes)))
        s_change_fail (self, change, code, text? strdup (text): NULL);
}

//  Free what one attempt of a change made, for the next
static void
s_change_reset (create_t *change)
{
    for (size_t i = 0; i < change->count; i++) {
        free (change->names [i]);
        if (change->wrapped)
            free (change->wrapped [i].wrapped_key.data);
    }
    free (change->names);
    free (change->wrapped);
    free (change->wrapped_p);
    change->names = NULL;
    change->wrapped = NULL;
    change->wrapped_p = NULL;
    change->count = 0;
    chain_link_free (&change->link);
    free (change->ticket);
    change->ticket = NULL;
    change->ticket_len = 0;
    change->attempts = 0;
    secret_wipe (change->key, sizeof (change->key));
}

static const char *
s_change_refusal (int action)
{
    switch (action) {
        case CHAIN_ADD:
            return "Cannot add them: a 1:1 conversation never gains members (start a group), "
                   "someone named is a member already, or the group would pass 256";
        case CHAIN_REMOVE:
            return "Cannot remove them: only the creator and admins remove, someone named is "
                   "not a member, or you named yourself (leave instead)";
        case CHAIN_ADMIN:
            return "Cannot make them admins: only the creator does, in a group, of members "
                   "who are not admins yet";
        case CHAIN_TITLE:
            return "Cannot set a title: a 1:1 conversation has none, and a title is at most "
                   "128 bytes";
        default:
            return "That change is not allowed";
    }
}

//  Make the change on the verified head and send it: the statement, and
//  but for a LEAVE a new epoch key wrapped for every member after it.
static void
s_change_make (cl_convs_t *self, conv_t *conv, create_t *change)
{
    const char *me = cl_session_username (self->session);
    rsakey_t *identity = cl_session_identity (self->session);
    if (!me || !identity) {
        s_change_fail (self, change, CHAT_ERR_NOT_LOGGED_IN, NULL);
        return;
    }
    for (size_t i = 0; i < change->subject_count; i++) {
        const char *name = cl_contacts_canonical (self->contacts, change->subjects [i]);
        if (!name) {
            s_change_fail (self, change, CHAT_ERR_UNKNOWN_USER,
                           cl_format ("No user \"%s\"", change->subjects [i]));
            return;
        }
        free (change->subjects [i]);
        change->subjects [i] = strdup (name);
    }
    bool keyed = change->action != CHAIN_LEAVE;
    //  Our own re-key after a LEAVE: someone else's came first
    if (change->action == CHAIN_REKEY && change->cmd == 0
    &&  (convstate_keyed (conv->state, convstate_epoch (conv->state))
      || !convstate_member (conv->state, convstate_epoch (conv->state), me))) {
        s_create_free (&change);
        return;
    }
    change->epoch = convstate_epoch (conv->state) + 1;
    uint8_t check [EPOCHKEY_CHECK_SIZE];
    int rc = CHAT_OK;
    if (keyed
    &&  (epochkey_generate (change->key) != CHAT_OK
      || epochkey_check_value (change->key, conv->pub.id, change->epoch, check) != CHAT_OK))
        rc = CHAT_ERR_INTERNAL;
    if (rc == CHAT_OK)
        rc = chain_make_change (convstate_chain (conv->state), change->action, me,
                                (const char *const *) change->subjects,
                                change->subject_count, change->title, keyed? check: NULL,
                                identity, wire_now_ms (), &change->link);
    if (rc == CHAT_ERR_BAD_STATEMENT) {
        s_change_fail (self, change, rc, strdup (s_change_refusal (change->action)));
        return;
    }
    //  Whom the new key is for: the members after it, as it says
    Chat__MembershipStatement *after = NULL;
    if (rc == CHAT_OK)
        rc = wire_unpack (&chat__membership_statement__descriptor, change->link.statement,
                          change->link.statement_len, (ProtobufCMessage **) &after);
    if (rc == CHAT_OK) {
        change->names = calloc (after->n_members + 1, sizeof (char *));
        assert (change->names);
        for (size_t i = 0; i < after->n_members; i++) {
            if (cl_contacts_state (self->contacts, after->members [i])
                == CHATCLIENT_IDENTITY_CHANGED && keyed) {
                //  its key would be wrapped to a key nobody vouched for
                char *why = cl_format (
                    "%s's identity key changed: compare safety numbers with them "
                    "(verify %s) before changing this conversation",
                    after->members [i], after->members [i]);
                protobuf_c_message_free_unpacked (&after->base, NULL);
                s_change_fail (self, change, CHAT_ERR_BAD_KEY, why);
                return;
            }
            change->names [change->count++] = strdup (after->members [i]);
        }
        protobuf_c_message_free_unpacked (&after->base, NULL);
    }
    if (rc == CHAT_OK && keyed)
        rc = s_wrap_all (self, change);
    if (rc != CHAT_OK) {
        s_change_fail (self, change, rc, strdup ("Could not make the change"));
        return;
    }
    Chat__SignedStatement statement;
    chain_link_view (&change->link, &statement);
    Chat__ChangeConversationRequest body = CHAT__CHANGE_CONVERSATION_REQUEST__INIT;
    body.statement = &statement;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_CHANGE_CONVERSATION;
    req.change_conversation = &body;
    c_about_t *about = s_about_new (conv);
    about->create = change;
    uint32_t cmd = change->cmd;
    if (!s_submit (self, C_CHANGE, cmd, (ProtobufCMessage *) &req, about))
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL,
                          NULL, 0);
}

//  The identity keys of the members and subjects are known: make it.
static void
s_on_change_contacts (void *arg, void *data, int code)
{
    cl_convs_t *self = (cl_convs_t *) arg;
    c_about_t *about = (c_about_t *) data;
    create_t *change = about->create;
    about->create = NULL;
    conv_t *conv = s_find (self, about->conv, CHATCLIENT_ID_SIZE);
    if (code != CHAT_OK)
        s_change_fail (self, change, code, NULL);
    else
    if (!conv || !conv->shown || conv->pub.left)
        s_change_fail (self, change, CHAT_ERR_NOT_FOUND, strdup ("No such conversation"));
    else
    if (conv->chain_busy)
        //  the chain moves: build on its head once it is checked
        zlist_append (conv->changes, change);
    else
        s_change_make (self, conv, change);
}

//  Ask for the identity keys the change needs (the members', the
//  subjects'), then make it.
static void
s_change_start (cl_convs_t *self, conv_t *conv, create_t *change)
{
    size_t total = conv->pub.member_count + change->subject_count;
    const char **names = (const char **) calloc (total + 1, sizeof (char *));
    assert (names);
    size_t count = 0;
    for (size_t i = 0; i < conv->pub.member_count; i++)
        names [count++] = conv->pub.members [i];
    for (size_t i = 0; i < change->subject_count; i++)
        names [count++] = change->subjects [i];
    c_about_t *about = s_about_new (conv);
    about->create = change;
    cl_contacts_need (self->contacts, names, count, s_on_change_contacts, self, about,
                      s_about_destroy);
    free (names);
}

//  The chain is checked up to the server's head: the changes that lost a
//  race are made again on it.
static void
s_changes_resume (cl_convs_t *self, conv_t *conv)
{
    zlist_t *waiting = conv->changes;
    if (zlist_size (waiting) == 0)
        return;
    conv->changes = zlist_new ();
    create_t *change;
    while ((change = (create_t *) zlist_pop (waiting)))
        s_change_start (self, conv, change);
    zlist_destroy (&waiting);
}

//  Another change won the head: fetch the chain, then make ours again on
//  it (a few times); any other refusal ends the command.
static void
s_change_refused (cl_convs_t *self, conv_t *conv, create_t *change, int code,
                  const char *text)
{
    if (code == CHAT_ERR_CHAIN_CONFLICT && conv && !conv->chain_bad
    &&  ++change->conflicts < CHANGE_ATTEMPTS) {
        s_change_reset (change);
        zlist_append (conv->changes, change);
        s_fetch_chain (self, conv);
        return;
    }
    s_change_fail (self, change, code, text? strdup (text): NULL);
}

//  Forget a conversation we are no longer in: nothing more of it arrives
static void
s_left (cl_convs_t *self, conv_t *conv, const char *why)
{
    if (conv->pub.left)
        return;
    conv->pub.left = true;
    conv->pub.unread = 0;
    s_fail_waiters (self, conv, CHAT_ERR_NOT_FOUND, why);
    s_fail_sends (self, conv, CHAT_ERR_NOT_FOUND, why);
    s_fail_changes (self, conv, CHAT_ERR_NOT_FOUND, why);
}

//  The main server stored our change: it is our chain's head, its key
//  ours; the keys go to the key server (not for a LEAVE: we are out).
static void
s_on_changed (cl_convs_t *self, conv_t *conv, create_t *change,
              Chat__ConversationChanged *changed)
{
    bool keyed = change->action != CHAIN_LEAVE;
    if (!conv) {
        s_change_fail (self, change, CHAT_ERR_NOT_FOUND, NULL);
        return;
    }
    if (!changed->conversation || changed->conversation->conversation_id.len
                                  != CHATCLIENT_ID_SIZE
    ||  memcmp (changed->conversation->conversation_id.data, conv->pub.id,
                CHATCLIENT_ID_SIZE) != 0
    ||  changed->conversation->epoch != change->epoch
    ||  (keyed && (changed->ticket.len == 0 || changed->ticket.len > CREDENTIAL_MAX_SIZE))) {
        s_change_fail (self, change, CHAT_ERR_MALFORMED, strdup (
            "The main server's answer does not fit the change made"));
        return;
    }
    if (convstate_epoch (conv->state) + 1 == change->epoch) {
        Chat__SignedStatement view;
        chain_link_view (&change->link, &view);
        int rc = convstate_append (conv->state, &view, cl_session_identity (self->session),
                                   false);
        if (rc == CHAT_OK && keyed)
            rc = convstate_put_key (conv->state, change->epoch, change->key);
        if (rc != CHAT_OK) {
            s_change_fail (self, change, rc, strdup ("Could not keep the change's key"));
            return;
        }
        s_from_head (self, conv);
        s_change_line (self, conv);
    }
    if (!keyed) {
        s_left (self, conv, "You left this conversation");
        cl_listener_publish (&self->listener, cl_event_conversation (
            CHATCLIENT_EV_CONVERSATION, change->cmd, &conv->pub));
        s_create_free (&change);
        return;
    }
    change->ticket = malloc (changed->ticket.len);
    assert (change->ticket);
    memcpy (change->ticket, changed->ticket.data, changed->ticket.len);
    change->ticket_len = changed->ticket.len;
    s_put_keys (self, change);
    s_settle (self, conv);
}

//  ---------------------------------------------------------------- outcomes

//  A reply that fits: false when it does not after all.
static bool
s_on_reply (cl_convs_t *self, conv_t *conv, cl_outcome_t *outcome)
{
    Chat__MainReply *main = (Chat__MainReply *) outcome->reply;
    Chat__KeyReply *key = (Chat__KeyReply *) outcome->reply;
    c_about_t *about = (c_about_t *) outcome->data;
    create_t *create = about->create;
    switch ((c_tag_t) outcome->tag) {
        case C_LIST:
        case C_LIST_FIRST:
            s_on_list (self, outcome->cmd, main->conversations,
                       outcome->tag == C_LIST_FIRST);
            return true;
        case C_CREATE:
            about->create = NULL;
            return s_on_created (self, create, main->created);
        case C_MESSAGES:
            s_on_page (self, conv, about->after, main->messages);
            return true;
        case C_SEND:
            if (!about->send)
                return false;
            s_on_sent (self, conv, outcome->cmd, about->send, main->sent);
            return true;
        case C_CHAIN:
            s_on_chain (self, conv, main->chain);
            return true;
        case C_KEYS:
            s_on_keys (self, conv, key->epoch_keys);
            return true;
        case C_PUT_KEYS:
            about->create = NULL;
            s_on_keys_stored (self, create);
            return true;
        case C_KEY_TICKET:
            about->create = NULL;
            s_on_key_ticket (self, create, main->key_ticket);
            return true;
        case C_MARK_READ:
            if (conv) {
                conv->read_inflight = false;
                s_on_read (self, main->read);
                s_mark_read_send (self, conv);      //  read on meanwhile?
            }
            return true;
        case C_CHANGE:
            about->create = NULL;
            s_on_changed (self, conv, create, main->changed);
            return true;
        case C_ACCEPT:
            if (conv) {
                conv->pub.request = main->accepted->request;
                cl_listener_publish (&self->listener, cl_event_conversation (
                    CHATCLIENT_EV_CONVERSATION, outcome->cmd, &conv->pub));
            }
            else
                cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, outcome->cmd,
                                  CHAT_ERR_NOT_FOUND, NULL, 0);
            return true;
    }
    return true;
}

static void
s_on_failure (cl_convs_t *self, conv_t *conv, cl_outcome_t *outcome)
{
    int code = outcome->code;
    c_about_t *about = (c_about_t *) outcome->data;
    switch ((c_tag_t) outcome->tag) {
        case C_MESSAGES:
            if (conv) {
                conv->fetching = false;
                conv->fetch_error = code;
                s_settle (self, conv);
                conv->fetch_error = 0;
            }
            break;
        case C_MARK_READ:
            //  told again with the next mark or list
            if (conv) {
                conv->read_inflight = false;
                conv->read_told = 0;
            }
            break;
        case C_CHAIN:
            if (conv) {
                s_links_clear (conv);
                conv->chain_busy = false;
                conv->chain_failed = true;
                s_fail_changes (self, conv, code, outcome->text);
                s_settle (self, conv);
                s_settle_lists (self);
            }
            break;
        case C_KEYS:
            if (conv) {
                s_keys_done (self, conv);
                s_settle (self, conv);
            }
            break;
        case C_PUT_KEYS:
        case C_KEY_TICKET:
            if (about && about->create) {
                create_t *create = about->create;
                about->create = NULL;
                s_upload_retry (self, create, code, outcome->text);
            }
            break;
        case C_SEND:
            if (code == CHAT_ERR_STALE_EPOCH && s_on_stale (self, conv, about))
                break;
            if (outcome->cmd)
                cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, outcome->cmd, code,
                                  outcome->text, outcome->retry_ms);
            break;
        case C_CHANGE:
            if (about && about->create) {
                create_t *change = about->create;
                about->create = NULL;
                s_change_refused (self, conv, change, code, outcome->text);
            }
            break;
        case C_LIST:
        case C_LIST_FIRST:
        case C_CREATE:
        case C_ACCEPT:
            if (outcome->cmd)
                cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, outcome->cmd, code,
                                  outcome->text, outcome->retry_ms);
            break;
    }
}

static bool
s_on_outcome (void *arg, cl_outcome_t *outcome)
{
    cl_convs_t *self = (cl_convs_t *) arg;
    c_about_t *about = (c_about_t *) outcome->data;
    conv_t *conv = about ? s_find (self, about->conv, CHATCLIENT_ID_SIZE) : NULL;
    if (outcome->code != CHAT_OK) {
        s_on_failure (self, conv, outcome);
        return true;
    }
    return s_on_reply (self, conv, outcome);
}

//  ---------------------------------------------------------------- events

//  Forget every conversation; the commands waiting on them fail.
static void
s_clear (cl_convs_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        s_fail_waiters (self, self->convs [i], CHAT_ERR_NOT_LOGGED_IN, NULL);
        s_fail_sends (self, self->convs [i], CHAT_ERR_NOT_LOGGED_IN, NULL);
        s_conv_destroy (&self->convs [i]);
    }
    self->count = 0;
    self->shown_count = 0;
    self->first_list_done = false;
    listwait_t *wait;
    while ((wait = (listwait_t *) zlist_pop (self->list_waiters))) {
        if (wait->cmd)
            cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, wait->cmd,
                              CHAT_ERR_NOT_LOGGED_IN, NULL, 0);
        free (wait);
    }
}

static void
s_on_contacts (void *arg, cl_event_t *event)
{
    cl_convs_t *self = (cl_convs_t *) arg;
    cl_listener_emit (&self->listener, event);
    switch (event->kind) {
        case CL_EV_SESSION_UP:
            s_list (self, 0, true);
            break;
        case CL_EV_SESSION_RENEWED:
            s_list (self, 0, false);
            break;
        case CL_EV_SESSION_DOWN:
            s_clear (self);
            break;
        case CL_EV_CONTACT:
            for (size_t i = 0; i < self->count; i++)
                s_recount (self, self->convs [i]);
            break;
        case CL_EV_LINK_PUSH:
            if (event->server == CHATCLIENT_MAINSERVER && cl_session_logged_in (self->session))
                s_on_push (self, event->data, event->size);
            break;
        default:
            break;
    }
}

//  ---------------------------------------------------------------- commands

static void
s_list (cl_convs_t *self, uint32_t cmd, bool first)
{
    s_list_page (self, cmd, first, NULL);
}

//  One page of the list: from the start, or after cursor
static void
s_list_page (cl_convs_t *self, uint32_t cmd, bool first, const ProtobufCBinaryData *cursor)
{
    Chat__ListConversationsRequest body = CHAT__LIST_CONVERSATIONS_REQUEST__INIT;
    if (cursor)
        body.cursor = *cursor;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS;
    req.list_conversations = &body;
    s_submit (self, first ? C_LIST_FIRST : C_LIST, cmd, (ProtobufCMessage *) &req,
              s_about_new (NULL));
}

void
cl_convs_list (cl_convs_t *self, uint32_t cmd)
{
    s_list (self, cmd, false);
}

void
cl_convs_create (cl_convs_t *self, uint32_t cmd, const char **usernames, size_t count)
{
    create_t *create = calloc (1, sizeof (create_t));
    assert (create);
    create->cmd = cmd;
    create->epoch = 1;
    //  room for every other and ourselves
    create->names = calloc (count + 2, sizeof (char *));
    assert (create->names);
    const char *me = cl_session_username (self->session);
    for (size_t i = 0; i < count; i++) {
        bool seen = me && credential_username_compare (usernames [i], me) == 0;
        for (size_t j = 0; j < create->count && !seen; j++)
            seen = credential_username_compare (usernames [i], create->names [j]) == 0;
        if (!seen)
            create->names [create->count++] = strdup (usernames [i]);
    }
    if (create->count == 0) {
        s_create_fail (self, create, CHAT_ERR_BAD_REQUEST,
                       strdup ("Name at least one other user"));
        return;
    }
    if (create->count + 1 > CHAIN_MAX_MEMBERS) {
        s_create_fail (self, create, CHAT_ERR_TOO_MANY_MEMBERS, cl_format (
            "At most %d members", CHAIN_MAX_MEMBERS));
        return;
    }
    create->direct = create->count == 1;
    c_about_t *about = s_about_new (NULL);
    about->create = create;
    cl_contacts_need (self->contacts, (const char *const *) create->names, create->count,
                      s_on_create_contacts, self, about, s_about_destroy);
}

//  A command that completes once the conversation settles.
static void
s_wait (cl_convs_t *self, uint32_t cmd, const uint8_t *id, wait_kind_t kind,
        uint64_t after)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    if (!conv) {
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_NOT_FOUND,
                          "No such conversation", 0);
        return;
    }
    waiter_t *waiter = calloc (1, sizeof (waiter_t));
    assert (waiter);
    waiter->cmd = cmd;
    waiter->kind = kind;
    waiter->after = after;
    zlist_append (conv->waiters, waiter);
    s_keys_rearm (conv);
    if (kind == WAIT_MEMBERS)
        s_fetch_chain (self, conv);
    else
    if (!conv->history_loaded)
        s_fetch (self, conv, true);
    else
        s_fetch (self, conv, false);        //  catch up, cheaply
    s_settle (self, conv);
}

//  Every shown conversation: CONVERSATIONS for cmd
static void
s_publish_list (cl_convs_t *self, uint32_t cmd)
{
    chatclient_event_t *event = cl_event_new (CHATCLIENT_EV_CONVERSATIONS, cmd);
    event->conversations = calloc (self->shown_count + 1, sizeof (chatclient_conversation_t));
    assert (event->conversations);
    for (size_t i = 0; i < self->shown_count; i++)
        cl_conversation_copy (&event->conversations [i], &self->shown [i]->pub);
    event->conversation_count = self->shown_count;
    cl_listener_publish (&self->listener, event);
}

static void
s_bulk_done (bulk_t *bulk)
{
    s_publish_list (bulk->self, bulk->cmd);
    free (bulk);
}

static void
    s_change_begin (cl_convs_t *self, uint32_t cmd, const uint8_t *id, int action,
                    const char **usernames, size_t count, const char *title, bulk_t *bulk);

void
cl_convs_change (cl_convs_t *self, uint32_t cmd, const uint8_t *id, int action,
                 const char **usernames, size_t count, const char *title)
{
    s_change_begin (self, cmd, id, action, usernames, count, title, NULL);
}

void
cl_convs_leave_requests (cl_convs_t *self, uint32_t cmd)
{
    bulk_t *bulk = calloc (1, sizeof (bulk_t));
    assert (bulk);
    bulk->self = self;
    bulk->cmd = cmd;
    bulk->pending = 1;          //  held until every leave is under way
    for (size_t i = 0; i < self->shown_count; i++) {
        conv_t *conv = self->shown [i];
        if (conv->pub.request && !conv->pub.left) {
            bulk->pending++;
            s_change_begin (self, 0, conv->pub.id, CHAIN_LEAVE, NULL, 0, NULL, bulk);
        }
    }
    if (--bulk->pending == 0)
        s_bulk_done (bulk);
}

void
cl_convs_accept (cl_convs_t *self, uint32_t cmd, const uint8_t *id)
{
    Chat__AcceptConversationRequest body = CHAT__ACCEPT_CONVERSATION_REQUEST__INIT;
    body.conversation_id.data = (uint8_t *) id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_ACCEPT_CONVERSATION;
    req.accept_conversation = &body;
    if (!s_submit (self, C_ACCEPT, cmd, (ProtobufCMessage *) &req, s_about_id (id)))
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL,
                          NULL, 0);
}

static void
s_change_begin (cl_convs_t *self, uint32_t cmd, const uint8_t *id, int action,
                const char **usernames, size_t count, const char *title, bulk_t *bulk)
{
    create_t *change = calloc (1, sizeof (create_t));
    assert (change);
    change->bulk = bulk;
    change->cmd = cmd;
    change->change = true;
    memcpy (change->id, id, CHATCLIENT_ID_SIZE);
    change->action = action;
    change->title = title? strdup (title): NULL;
    change->subjects = calloc (count + 1, sizeof (char *));
    assert (change->subjects);
    for (size_t i = 0; i < count; i++) {
        bool seen = false;
        for (size_t j = 0; j < change->subject_count && !seen; j++)
            seen = credential_username_compare (usernames [i], change->subjects [j]) == 0;
        if (!seen)
            change->subjects [change->subject_count++] = strdup (usernames [i]);
    }
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    if (!conv || !conv->shown || conv->pub.left) {
        s_change_fail (self, change, CHAT_ERR_NOT_FOUND, strdup ("No such conversation"));
        return;
    }
    if (action == CHAIN_TITLE && !change->title)
        change->title = strdup ("");
    //  a TITLE keeps the title it names; every other change keeps the head's
    if (action != CHAIN_TITLE) {
        free (change->title);
        change->title = NULL;
    }
    s_change_start (self, conv, change);
}

void
cl_convs_open (cl_convs_t *self, uint32_t cmd, const uint8_t *id)
{
    s_wait (self, cmd, id, WAIT_OPEN, 0);
}

void
cl_convs_history (cl_convs_t *self, uint32_t cmd, const uint8_t *id, uint64_t after_seq)
{
    s_wait (self, cmd, id, WAIT_HISTORY, after_seq);
}

void
cl_convs_members (cl_convs_t *self, uint32_t cmd, const uint8_t *id)
{
    s_wait (self, cmd, id, WAIT_MEMBERS, 0);
}

void
cl_convs_send (cl_convs_t *self, uint32_t cmd, const uint8_t *id, const char *text,
               size_t len)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    if (!conv) {
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_NOT_FOUND,
                          "No such conversation", 0);
        return;
    }
    sendjob_t *job = calloc (1, sizeof (sendjob_t));
    assert (job);
    job->cmd = cmd;
    memcpy (job->conv, conv->pub.id, CHATCLIENT_ID_SIZE);
    if (secret_random (job->cmid, CHATCLIENT_ID_SIZE) != 0) {
        free (job);
        cl_listener_fail (&self->listener, CHATCLIENT_EV_ERROR, cmd, CHAT_ERR_INTERNAL, NULL, 0);
        return;
    }
    job->sent_at = zclock_time ();
    job->text = malloc (len + 1);
    assert (job->text);
    memcpy (job->text, text, len);
    job->text [len] = 0;
    job->len = len;
    zlist_append (conv->sends, job);
    s_keys_rearm (conv);
    s_settle (self, conv);
}

//  ---------------------------------------------------------------- timers

void
cl_convs_tick (cl_convs_t *self, int64_t now)
{
    for (size_t i = 0; i < self->count; i++) {
        conv_t *conv = self->convs [i];
        if (conv->key_retry_at && now >= conv->key_retry_at) {
            conv->key_retry_at = 0;
            s_fetch_keys (self, conv);
            if (!conv->keys_busy)
                conv->key_attempts = 0;     //  nothing needed any more
        }
    }
}

int64_t
cl_convs_due (cl_convs_t *self, int64_t due)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->convs [i]->key_retry_at && self->convs [i]->key_retry_at < due)
            due = self->convs [i]->key_retry_at;
    return due;
}

//  ---------------------------------------------------------------- views

size_t
cl_convs_count (cl_convs_t *self)
{
    return self->shown_count;
}

const chatclient_conversation_t *
cl_convs_at (cl_convs_t *self, size_t index)
{
    return index < self->shown_count ? &self->shown [index]->pub : NULL;
}

const chatclient_conversation_t *
cl_convs_find (cl_convs_t *self, const uint8_t *id)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    return conv && conv->shown ? &conv->pub : NULL;
}

size_t
cl_convs_message_count (cl_convs_t *self, const uint8_t *id)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    return conv && conv->shown ? convlog_size (conv->log) : 0;
}

const chatclient_message_t *
cl_convs_message (cl_convs_t *self, const uint8_t *id, size_t index)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    return conv && conv->shown ? convlog_at (conv->log, index) : NULL;
}

void
cl_convs_mark_read (cl_convs_t *self, const uint8_t *id)
{
    conv_t *conv = s_find (self, id, CHATCLIENT_ID_SIZE);
    if (conv)
        s_read_all (self, conv);
}

//  ---------------------------------------------------------------- life

cl_convs_t *
cl_convs_new (cl_session_t *session, cl_contacts_t *contacts, cl_requests_t *key,
              cl_requests_t *main)
{
    assert (session && contacts && key && main);
    cl_convs_t *self = calloc (1, sizeof (cl_convs_t));
    assert (self);
    self->session = session;
    self->contacts = contacts;
    self->key = key;
    self->main = main;
    self->list_waiters = zlist_new ();
    assert (self->list_waiters);
    cl_contacts_set_listener (contacts, s_on_contacts, self);
    return self;
}

void
cl_convs_destroy (cl_convs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cl_convs_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        s_conv_destroy (&self->convs [i]);
    free (self->convs);
    free (self->shown);
    listwait_t *wait;
    while ((wait = (listwait_t *) zlist_pop (self->list_waiters)))
        free (wait);
    zlist_destroy (&self->list_waiters);
    cl_contacts_set_listener (self->contacts, NULL, NULL);
    free (self);
    *self_p = NULL;
}

void
cl_convs_set_listener (cl_convs_t *self, cl_listener_fn *fn, void *arg)
{
    self->listener.fn = fn;
    self->listener.arg = arg;
}
