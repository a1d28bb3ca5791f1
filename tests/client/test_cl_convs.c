/*  test_cl_convs - cl_convs alone over real sessions, contacts, request
    queues and links to both servers in-process, two or three users each
    with their own stack: a conversation made and pushed to the other (its
    membership chain verified), its epoch key made and wrapped by one and
    fetched and checked by the other, messages both ways, a lost push (the
    gap is fetched, messages come in order, each once), history, members,
    a latecomer's history, what the end of a session does to commands
    still waiting; keys uploaded only after the creation was pushed (asked
    for again until there); a member's forged messages (another sender
    named inside, another epoch, a replay) dropped with a word each; a send
    under an epoch gone stale sealed again under the new one

    The layer above is the test: its recorder is the conversations'
    listener.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include "cltest.h"
#include "chaterror.h"
#include "epochkey.h"
#include "mainserver.h"
#include "mschain.h"
#include "msgseal.h"
#include "msgstore.h"
#include "secret.h"

//  ---------------------------------------------------------------- helpers

static cltest_stack_t *
s_user (cltest_servers_t *servers, const char *name, bool login)
{
    return cltest_user (servers, CLTEST_CONVS, name, login);
}

static void
s_login (cltest_stack_t *stack, const char *name)
{
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_session_login (stack->session, cmd, name, "pw");
    assert_non_null (cltest_stack_wait_public (stack, CHATCLIENT_EV_LOGGED_IN, cmd, 0,
                                               CLTEST_WAIT));
}

//  Send text and wait until the server stored it; its seq.
static uint64_t
s_send (cltest_stack_t *stack, const uint8_t *id, const char *text)
{
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_convs_send (stack->convs, cmd, id, text, strlen (text));
    chatclient_event_t *sent = cltest_stack_wait_public (stack, CHATCLIENT_EV_SENT, cmd, 0,
                                                         CLTEST_WAIT);
    assert_non_null (sent);
    assert_non_null (sent->message);
    assert_string_equal (sent->message->text, text);
    assert_true (sent->message->local);
    return sent->message->seq;
}

//  The MESSAGE events recorded from index from on, in order.
static size_t
s_messages (cltest_stack_t *stack, size_t from, const chatclient_message_t **out, size_t max)
{
    size_t count = 0;
    for (size_t i = from; i < cltest_recorder_size (stack->recorder); i++) {
        cltest_event_t *event = cltest_recorder_at (stack->recorder, i);
        if (event->kind == CL_EV_PUBLIC && event->pub->type == CHATCLIENT_EV_MESSAGE
        &&  count < max)
            out [count++] = event->pub->message;
    }
    return count;
}

typedef struct {
    size_t from;
    size_t count;
} s_since_t;

//  At least count MESSAGE events since from.
static bool
s_has_messages (cltest_stack_t *stack, void *arg)
{
    s_since_t *since = (s_since_t *) arg;
    const chatclient_message_t *messages [8];
    return s_messages (stack, since->from, messages, 8) >= since->count;
}

//  A request on one of the stack's links, its reply kept (a copy).
typedef struct {
    bool done;
    int code;
    uint8_t *packed;
    size_t len;
} s_call_t;

static bool
s_call_done (void *arg, cl_outcome_t *outcome)
{
    s_call_t *call = (s_call_t *) arg;
    call->done = true;
    call->code = outcome->code;
    if (outcome->reply)
        assert_int_equal (wire_pack (outcome->reply, &call->packed, &call->len), CHAT_OK);
    return true;
}

static bool
s_call_finished (cltest_stack_t *stack, void *arg)
{
    (void) stack;
    return ((s_call_t *) arg)->done;
}

//  Send request to server and wait: the reply (unpacked; free it), or NULL
//  with *code the failure.
static ProtobufCMessage *
s_call (cltest_stack_t *stack, chatclient_server_t server, ProtobufCMessage *request,
        int *code)
{
    s_call_t call = { 0 };
    cl_request_spec_t spec = { .auth = true, .retry_ok = true, .done = s_call_done,
                               .arg = &call };
    assert_int_equal (cl_requests_submit (stack->requests [server], request, &spec), 0);
    assert_true (cltest_stack_run (stack, CLTEST_WAIT, s_call_finished, &call));
    if (code)
        *code = call.code;
    ProtobufCMessage *reply = NULL;
    if (call.code == CHAT_OK)
        assert_int_equal (wire_unpack (server == CHATCLIENT_KEYSERVER
                                       ? &chat__key_reply__descriptor
                                       : &chat__main_reply__descriptor,
                                       call.packed, call.len, &reply), CHAT_OK);
    free (call.packed);
    return reply;
}

//  A token sent as is, filed under epoch, with a fresh outer message id:
//  the seq, or 0 when refused.
static uint64_t
s_send_token (cltest_stack_t *stack, const uint8_t *id, uint64_t epoch, char *token)
{
    uint8_t outer [16];
    assert_int_equal (secret_random (outer, 16), 0);
    Chat__SendMessageRequest body = CHAT__SEND_MESSAGE_REQUEST__INIT;
    body.conversation_id.data = (uint8_t *) id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.client_message_id.data = outer;
    body.client_message_id.len = 16;
    body.token = token;
    body.epoch = epoch;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE;
    req.send_message = &body;
    int code = 0;
    Chat__MainReply *reply = (Chat__MainReply *) s_call (stack, CHATCLIENT_MAINSERVER,
                                                         &req.base, &code);
    uint64_t seq = reply && reply->sent? reply->sent->seq: 0;
    if (reply)
        protobuf_c_message_free_unpacked (&reply->base, NULL);
    return seq;
}

//  A message token of stack's user, sealed under key for epoch of id,
//  naming sender and carrying cmid; sent as is. The seq, or 0 when refused.
static uint64_t
s_send_raw (cltest_stack_t *stack, const uint8_t *id, uint64_t epoch, const uint8_t *key,
            const char *sender, const uint8_t cmid [16], const char *text, char **token_out)
{
    char *token = NULL;
    assert_int_equal (msgseal_seal (key, id, epoch, sender, cl_session_identity (stack->session),
                                    wire_now_ms (), cmid, text, strlen (text), &token), CHAT_OK);
    uint64_t seq = s_send_token (stack, id, epoch, token);
    if (token_out)
        *token_out = token;
    else
        free (token);
    return seq;
}

//  The epoch key of epoch for the stack's user, from the key server.
static void
s_fetch_key (cltest_stack_t *stack, const uint8_t *id, uint64_t epoch, const uint8_t *check,
             uint8_t key [EPOCHKEY_SIZE])
{
    Chat__GetKeysRequest body = CHAT__GET_KEYS_REQUEST__INIT;
    body.conversation_id.data = (uint8_t *) id;
    body.conversation_id.len = CHATCLIENT_ID_SIZE;
    body.from_epoch = epoch;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_GET_KEYS;
    req.get_keys = &body;
    Chat__KeyReply *reply = (Chat__KeyReply *) s_call (stack, CHATCLIENT_KEYSERVER,
                                                       &req.base, NULL);
    assert_non_null (reply);
    assert_true (reply->epoch_keys->n_keys >= 1);
    assert_int_equal (reply->epoch_keys->keys [0]->epoch, epoch);
    assert_int_equal (epochkey_unwrap (cl_session_identity (stack->session),
                                       reply->epoch_keys->keys [0]->wrapped_key.data,
                                       reply->epoch_keys->keys [0]->wrapped_key.len, key),
                      CHAT_OK);
    if (check)
        assert_int_equal (epochkey_verify (key, id, epoch, check, EPOCHKEY_CHECK_SIZE), CHAT_OK);
    protobuf_c_message_free_unpacked (&reply->base, NULL);
}

//  Store epoch's key of id wrapped for every member, with ticket.
static void
s_put_keys (cltest_stack_t *stack, const uint8_t *ticket, size_t ticket_len,
            const char **names, rsakey_t **keys, size_t count, const uint8_t *epoch_key)
{
    Chat__WrappedKey wrapped [8];
    Chat__WrappedKey *wrapped_p [8];
    for (size_t i = 0; i < count; i++) {
        chat__wrapped_key__init (&wrapped [i]);
        wrapped [i].username = (char *) names [i];
        assert_int_equal (epochkey_wrap (keys [i], epoch_key, &wrapped [i].wrapped_key.data,
                                         &wrapped [i].wrapped_key.len), CHAT_OK);
        wrapped_p [i] = &wrapped [i];
    }
    Chat__PutKeysRequest body = CHAT__PUT_KEYS_REQUEST__INIT;
    body.ticket.data = (uint8_t *) ticket;
    body.ticket.len = ticket_len;
    body.keys = wrapped_p;
    body.n_keys = count;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_PUT_KEYS;
    req.put_keys = &body;
    int code = 0;
    Chat__KeyReply *reply = (Chat__KeyReply *) s_call (stack, CHATCLIENT_KEYSERVER,
                                                       &req.base, &code);
    assert_int_equal (code, CHAT_OK);
    protobuf_c_message_free_unpacked (&reply->base, NULL);
    for (size_t i = 0; i < count; i++)
        free (wrapped [i].wrapped_key.data);
}

//  An ERROR event (cmd 0) at or after from whose text holds both words.
static chatclient_event_t *
s_said (cltest_stack_t *stack, size_t from, const char *one, const char *two)
{
    for (size_t i = from; i < cltest_recorder_size (stack->recorder); i++) {
        cltest_event_t *event = cltest_recorder_at (stack->recorder, i);
        if (event->kind == CL_EV_PUBLIC && event->pub->type == CHATCLIENT_EV_ERROR
        &&  event->pub->cmd == 0 && event->pub->text && strstr (event->pub->text, one)
        &&  (!two || strstr (event->pub->text, two)))
            return event->pub;
    }
    return NULL;
}

typedef struct {
    size_t from;
    const char *one, *two;
} s_words_t;

static bool
s_has_said (cltest_stack_t *stack, void *arg)
{
    s_words_t *words = (s_words_t *) arg;
    return s_said (stack, words->from, words->one, words->two) != NULL;
}

//  ---------------------------------------------------------------- tests

static void
test_conversation (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *ann = s_user (servers, "ann", true);
    cltest_stack_t *ben = s_user (servers, "ben", true);
    assert_int_equal (cl_convs_count (ann->convs), 0);

    //  ann makes it; ben hears of it by push
    uint32_t cmd = cltest_stack_cmd (ann);
    const char *others [] = { "ben" };
    cl_convs_create (ann->convs, cmd, others, 1);
    chatclient_event_t *made = cltest_stack_wait_public (ann, CHATCLIENT_EV_CONVERSATION,
                                                         cmd, 0, CLTEST_WAIT);
    assert_non_null (made);
    assert_int_equal (made->conversation->member_count, 2);
    assert_string_equal (made->conversation->members [0], "ann");
    assert_string_equal (made->conversation->members [1], "ben");
    uint8_t id [CHATCLIENT_ID_SIZE];
    memcpy (id, made->conversation->id, CHATCLIENT_ID_SIZE);
    assert_int_equal (cl_convs_count (ann->convs), 1);
    assert_non_null (cl_convs_find (ann->convs, id));
    chatclient_event_t *pushed = cltest_stack_wait_public (ben, CHATCLIENT_EV_CONVERSATION,
                                                           0, 0, CLTEST_WAIT);
    assert_non_null (pushed);
    assert_memory_equal (pushed->conversation->id, id, CHATCLIENT_ID_SIZE);
    assert_non_null (cl_convs_find (ben->convs, id));
    //  from a stranger: a message request (no unread) until ben accepts it
    cmd = cltest_stack_cmd (ben);
    cl_convs_accept (ben->convs, cmd, id);
    chatclient_event_t *accepted = cltest_stack_wait_public (ben, CHATCLIENT_EV_CONVERSATION,
                                                             cmd, 0, CLTEST_WAIT);
    assert_non_null (accepted);
    assert_false (accepted->conversation->request);

    //  a message: sealed under the key ann made, opened with the key ben
    //  fetched with his ticket
    size_t ben_mark = cltest_recorder_size (ben->recorder);
    assert_int_equal (s_send (ann, id, "hello"), 1);
    chatclient_event_t *got = cltest_stack_wait_public (ben, CHATCLIENT_EV_MESSAGE, 0,
                                                        ben_mark, CLTEST_WAIT);
    assert_non_null (got);
    assert_int_equal (got->message->seq, 1);
    assert_string_equal (got->message->sender, "ann");
    assert_string_equal (got->message->text, "hello");
    assert_true (got->message->live);
    assert_false (got->message->local);
    assert_int_equal (cl_convs_find (ben->convs, id)->unread, 1);

    //  two more, and ben loses the first one's push: the second shows the
    //  gap, the missing one is fetched, both come in order, each once
    ben_mark = cltest_recorder_size (ben->recorder);
    size_t pushes_before = cltest_recorder_count (ben->recorder, CL_EV_LINK_PUSH, -1);
    assert_int_equal (s_send (ann, id, "two"), 2);
    assert_int_equal (s_send (ann, id, "three"), 3);
    zsock_t *socks [4];
    assert_int_equal (cl_link_sockets (ben->links [CHATCLIENT_MAINSERVER], socks, 4), 3);
    zsock_t *push = socks [1];
    zsock_set_rcvtimeo (push, CLTEST_WAIT);
    zmsg_t *lost = zmsg_recv (push);
    assert_non_null (lost);
    zmsg_destroy (&lost);
    assert_non_null (cltest_stack_wait (ben, CL_EV_LINK_PUSH, CHATCLIENT_MAINSERVER,
                                        ben_mark, CLTEST_WAIT));
    s_since_t since = { ben_mark, 2 };
    assert_true (cltest_stack_run (ben, CLTEST_WAIT, s_has_messages, &since));
    cltest_stack_run (ben, 300, NULL, NULL);        //  nothing more comes
    const chatclient_message_t *messages [8];
    assert_int_equal (s_messages (ben, ben_mark, messages, 8), 2);
    //  one push arrived: the other message was fetched
    assert_int_equal (cltest_recorder_count (ben->recorder, CL_EV_LINK_PUSH, -1)
                      - pushes_before, 1);
    assert_int_equal (messages [0]->seq, 2);
    assert_string_equal (messages [0]->text, "two");
    assert_int_equal (messages [1]->seq, 3);
    assert_string_equal (messages [1]->text, "three");
    assert_int_equal (cl_convs_message_count (ben->convs, id), 3);
    assert_string_equal (cl_convs_message (ben->convs, id, 0)->text, "hello");

    //  history after seq 1, open (marks read), members
    cmd = cltest_stack_cmd (ben);
    cl_convs_history (ben->convs, cmd, id, 1);
    chatclient_event_t *history = cltest_stack_wait_public (ben, CHATCLIENT_EV_HISTORY, cmd,
                                                            0, CLTEST_WAIT);
    assert_non_null (history);
    assert_int_equal (history->message_count, 2);
    assert_string_equal (history->messages [0].text, "two");
    assert_string_equal (history->messages [1].text, "three");
    assert_int_equal (cl_convs_find (ben->convs, id)->unread, 3);
    cmd = cltest_stack_cmd (ben);
    cl_convs_open (ben->convs, cmd, id);
    assert_non_null (cltest_stack_wait_public (ben, CHATCLIENT_EV_OPENED, cmd, 0,
                                               CLTEST_WAIT));
    assert_int_equal (cl_convs_find (ben->convs, id)->unread, 0);
    cmd = cltest_stack_cmd (ben);
    cl_convs_members (ben->convs, cmd, id);
    chatclient_event_t *members = cltest_stack_wait_public (ben, CHATCLIENT_EV_MEMBERS, cmd,
                                                            0, CLTEST_WAIT);
    assert_non_null (members);
    assert_int_equal (members->conversation->member_count, 2);

    //  and back: ben answers, ann reads it
    size_t ann_mark = cltest_recorder_size (ann->recorder);
    assert_int_equal (s_send (ben, id, "hi ann"), 4);
    got = cltest_stack_wait_public (ann, CHATCLIENT_EV_MESSAGE, 0, ann_mark, CLTEST_WAIT);
    assert_non_null (got);
    while (got && got->message->seq != 4)
        got = cltest_stack_wait_public (ann, CHATCLIENT_EV_MESSAGE, 0, ++ann_mark, CLTEST_WAIT);
    assert_non_null (got);
    assert_string_equal (got->message->text, "hi ann");
    cltest_stack_destroy (&ben);
    cltest_stack_destroy (&ann);
}

static void
test_latecomer_and_session_end (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *fay = s_user (servers, "fay", true);
    cltest_stack_t *gus = s_user (servers, "gus", false);        //  not logged in yet
    cltest_stack_t *hal = s_user (servers, "hal", false);
    uint32_t cmd = cltest_stack_cmd (fay);
    const char *others [] = { "gus", "hal" };
    cl_convs_create (fay->convs, cmd, others, 2);
    chatclient_event_t *made = cltest_stack_wait_public (fay, CHATCLIENT_EV_CONVERSATION,
                                                         cmd, 0, CLTEST_WAIT);
    assert_non_null (made);
    assert_int_equal (made->conversation->member_count, 3);
    uint8_t id [CHATCLIENT_ID_SIZE];
    memcpy (id, made->conversation->id, CHATCLIENT_ID_SIZE);
    s_send (fay, id, "before you came");

    //  gus logs in: the conversation is listed with what it holds, which
    //  is history, not news
    size_t mark = cltest_recorder_size (gus->recorder);
    s_login (gus, "gus");
    chatclient_event_t *list = cltest_stack_wait_public (gus, CHATCLIENT_EV_CONVERSATIONS, 0,
                                                         mark, CLTEST_WAIT);
    assert_non_null (list);
    assert_int_equal (list->conversation_count, 1);
    assert_int_equal (list->conversations [0].last_seq, 1);
    cltest_stack_run (gus, 300, NULL, NULL);
    assert_null (cltest_recorder_public (gus->recorder, CHATCLIENT_EV_MESSAGE, 0, mark));
    assert_int_equal (cl_convs_message_count (gus->convs, id), 0);
    //  opening loads it, as history
    cmd = cltest_stack_cmd (gus);
    cl_convs_open (gus->convs, cmd, id);
    assert_non_null (cltest_stack_wait_public (gus, CHATCLIENT_EV_OPENED, cmd, mark,
                                               CLTEST_WAIT));
    chatclient_event_t *old = cltest_recorder_public (gus->recorder, CHATCLIENT_EV_MESSAGE,
                                                      0, mark);
    assert_non_null (old);
    assert_string_equal (old->message->text, "before you came");
    assert_false (old->message->live);
    assert_int_equal (cl_convs_find (gus->convs, id)->unread, 0);

    //  the session ends under a command still waiting (an open catching
    //  up): it fails with NOT_LOGGED_IN, and nothing of the conversations
    //  stays
    uint32_t waiting = cltest_stack_cmd (gus);
    cl_convs_open (gus->convs, waiting, id);
    assert_null (cltest_recorder_public (gus->recorder, CHATCLIENT_EV_OPENED, waiting, 0));
    cl_session_logout (gus->session, cltest_stack_cmd (gus));
    chatclient_event_t *failed = cltest_recorder_public (gus->recorder, CHATCLIENT_EV_ERROR,
                                                         waiting, 0);
    assert_non_null (failed);
    assert_int_equal (failed->code, CHAT_ERR_NOT_LOGGED_IN);
    assert_int_equal (cl_convs_count (gus->convs), 0);
    assert_null (cl_convs_find (gus->convs, id));
    assert_int_equal (cl_convs_message_count (gus->convs, id), 0);
    cltest_stack_destroy (&hal);
    cltest_stack_destroy (&gus);
    cltest_stack_destroy (&fay);
}

//  The creator stores epoch 1's keys only well after the creation was
//  pushed: the other member asks again until they are there, then reads.
static void
test_keys_after_the_push (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *ivy = s_user (servers, "ivy", true);
    cltest_stack_t *jo = s_user (servers, "jo", true);
    //  ivy makes the conversation by hand: the statement, but no keys yet
    uint8_t id [CHATCLIENT_ID_SIZE], key [EPOCHKEY_SIZE], check [EPOCHKEY_CHECK_SIZE];
    assert_int_equal (secret_random (id, sizeof id), 0);
    assert_int_equal (epochkey_generate (key), CHAT_OK);
    assert_int_equal (epochkey_check_value (key, id, 1, check), CHAT_OK);
    const char *members [] = { "ivy", "jo" };
    chain_link_t link;
    assert_int_equal (chain_make_create (id, "ivy", members, 2, true, NULL, check,
                                         cl_session_identity (ivy->session), wire_now_ms (),
                                         &link), CHAT_OK);
    Chat__SignedStatement view;
    chain_link_view (&link, &view);
    Chat__CreateConversationRequest body = CHAT__CREATE_CONVERSATION_REQUEST__INIT;
    body.statement = &view;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION;
    req.create_conversation = &body;
    size_t jo_mark = cltest_recorder_size (jo->recorder);
    Chat__MainReply *created = (Chat__MainReply *) s_call (ivy, CHATCLIENT_MAINSERVER,
                                                           &req.base, NULL);
    assert_non_null (created);
    //  jo hears of it, checks its chain, shows it, and waits for the key
    chatclient_event_t *pushed = cltest_stack_wait_public (jo, CHATCLIENT_EV_CONVERSATION, 0,
                                                           jo_mark, CLTEST_WAIT);
    assert_non_null (pushed);
    assert_true (pushed->conversation->verified);
    assert_int_equal (pushed->conversation->epoch, 1);
    assert_true (pushed->conversation->direct);
    cltest_stack_run (jo, 700, NULL, NULL);        //  a few tries find nothing
    //  a message already waits for jo
    uint8_t cmid [16] = "late-keys-msg-01";
    assert_int_equal (s_send_raw (ivy, id, 1, key, "ivy", cmid, "before the keys", NULL), 1);
    cltest_stack_run (jo, 300, NULL, NULL);
    assert_null (cltest_recorder_public (jo->recorder, CHATCLIENT_EV_MESSAGE, 0, jo_mark));
    //  now the keys: jo's next try reads the message
    const char *names [] = { "ivy", "jo" };
    //  (wrapping takes the public half of each key)
    rsakey_t *keys [] = { cl_session_identity (ivy->session),
                          cl_session_identity (jo->session) };
    s_put_keys (ivy, created->created->ticket.data, created->created->ticket.len, names, keys,
                2, key);
    chatclient_event_t *got = cltest_stack_wait_public (jo, CHATCLIENT_EV_MESSAGE, 0, jo_mark,
                                                        CLTEST_WAIT);
    assert_non_null (got);
    assert_string_equal (got->message->text, "before the keys");
    assert_int_equal (got->message->epoch, 1);
    assert_false (got->message->key_changed);
    protobuf_c_message_free_unpacked (&created->base, NULL);
    chain_link_free (&link);
    secret_wipe (key, sizeof key);
    cltest_stack_destroy (&jo);
    cltest_stack_destroy (&ivy);
}

//  A member who forges: messages naming another sender, another epoch,
//  another conversation, and a replay of an earlier one under a new id. The others drop each,
//  saying why, and show none.
static void
test_forged_by_a_member (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *kim = s_user (servers, "kim", true);
    cltest_stack_t *lee = s_user (servers, "lee", true);
    cltest_stack_t *max = s_user (servers, "max", true);
    uint32_t cmd = cltest_stack_cmd (kim);
    const char *others [] = { "lee", "max" };
    cl_convs_create (kim->convs, cmd, others, 2);
    chatclient_event_t *made = cltest_stack_wait_public (kim, CHATCLIENT_EV_CONVERSATION, cmd,
                                                         0, CLTEST_WAIT);
    assert_non_null (made);
    uint8_t id [CHATCLIENT_ID_SIZE];
    memcpy (id, made->conversation->id, CHATCLIENT_ID_SIZE);
    s_send (kim, id, "hello both");
    //  max, a member, fetches the key as any member may
    assert_non_null (cltest_stack_wait_public (max, CHATCLIENT_EV_CONVERSATION, 0, 0,
                                               CLTEST_WAIT));
    uint8_t key [EPOCHKEY_SIZE];
    s_fetch_key (max, id, 1, NULL, key);
    //  lee has the first one before the forgeries begin
    s_since_t hello = { 0, 1 };
    assert_true (cltest_stack_run (lee, CLTEST_WAIT, s_has_messages, &hello));
    size_t mark = cltest_recorder_size (lee->recorder);
    uint8_t cmid [16] = "forged-message-1";
    uint64_t as_kim = s_send_raw (max, id, 1, key, "kim", cmid, "i am kim", NULL);
    cmid [15] = '2';
    uint64_t epoch_9 = s_send_raw (max, id, 9, key, "max", cmid, "from epoch 9", NULL);
    assert_int_equal (epoch_9, 0);                  //  the server refuses that one itself
    //  the body says epoch 2 while the server files it under 1
    cmid [15] = '3';
    char *token = NULL;
    assert_int_equal (msgseal_seal (key, id, 2, "max", cl_session_identity (max->session),
                                    wire_now_ms (), cmid, "epoch two inside", 16, &token), CHAT_OK);
    uint64_t inner_epoch = s_send_token (max, id, 1, token);
    free (token);
    //  the body names another conversation (max re-seals what he signed
    //  for elsewhere under this conversation's key)
    cmid [15] = '5';
    uint8_t elsewhere [CHATCLIENT_ID_SIZE];
    memcpy (elsewhere, id, sizeof elsewhere);
    elsewhere [0] ^= 0xFF;
    assert_int_equal (msgseal_seal (key, elsewhere, 1, "max", cl_session_identity (max->session),
                                    wire_now_ms (), cmid, "meant for elsewhere", 19, &token),
                      CHAT_OK);
    uint64_t inner_conversation = s_send_token (max, id, 1, token);
    free (token);
    //  a good one, then the very same token again under a new outer id
    cmid [15] = '4';
    char *good = NULL;
    uint64_t first = s_send_raw (max, id, 1, key, "max", cmid, "said once", &good);
    uint64_t replay = s_send_token (max, id, 1, good);
    free (good);
    assert_true (as_kim && inner_epoch && inner_conversation && first && replay > first);

    //  lee: each forged one dropped and said; the good one shown, once
    char seq [32];
    snprintf (seq, sizeof seq, "message %llu ", (unsigned long long) as_kim);
    s_words_t words = { mark, seq, "names another conversation, epoch or sender" };
    assert_true (cltest_stack_run (lee, CLTEST_WAIT, s_has_said, &words));
    snprintf (seq, sizeof seq, "message %llu ", (unsigned long long) inner_epoch);
    words.one = seq;
    assert_true (cltest_stack_run (lee, CLTEST_WAIT, s_has_said, &words));
    snprintf (seq, sizeof seq, "message %llu ", (unsigned long long) inner_conversation);
    words.one = seq;
    assert_true (cltest_stack_run (lee, CLTEST_WAIT, s_has_said, &words));
    snprintf (seq, sizeof seq, "message %llu ", (unsigned long long) replay);
    words.one = seq;
    words.two = "repeats an earlier message";
    assert_true (cltest_stack_run (lee, CLTEST_WAIT, s_has_said, &words));
    const chatclient_message_t *shown [8];
    size_t count = s_messages (lee, mark, shown, 8);
    assert_int_equal (count, 1);
    assert_string_equal (shown [0]->text, "said once");
    assert_int_equal (shown [0]->seq, first);
    secret_wipe (key, sizeof key);
    cltest_stack_destroy (&max);
    cltest_stack_destroy (&lee);
    cltest_stack_destroy (&kim);
}

//  A second link (a re-key by nan) appears while ote's client still
//  believes epoch 1: ote's send is refused as stale, ote fetches the chain
//  and the new key, and sends again under epoch 2.
static void
test_stale_epoch (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *nan = s_user (servers, "nan", true);
    cltest_stack_t *ote = s_user (servers, "ote", true);
    uint32_t cmd = cltest_stack_cmd (nan);
    const char *others [] = { "ote" };
    cl_convs_create (nan->convs, cmd, others, 1);
    chatclient_event_t *made = cltest_stack_wait_public (nan, CHATCLIENT_EV_CONVERSATION, cmd,
                                                         0, CLTEST_WAIT);
    assert_non_null (made);
    uint8_t id [CHATCLIENT_ID_SIZE];
    memcpy (id, made->conversation->id, CHATCLIENT_ID_SIZE);
    s_send (nan, id, "in epoch one");
    assert_non_null (cltest_stack_wait_public (ote, CHATCLIENT_EV_MESSAGE, 0, 0, CLTEST_WAIT));
    size_t der_len = 0;
    const uint8_t *der = rsakey_der (cl_session_identity (ote->session), &der_len);
    rsakey_t *ote_key = rsakey_from_der (der, der_len);      //  its public half

    //  the re-key, written as the main server will write one (the next
    //  issue's request): checked on the stored head, signed by nan
    cltest_mainserver_stop (servers);
    char *path = zsys_sprintf ("%s/%s", servers->ms_dir, MAINSERVER_DB);
    msgstore_t *store = msgstore_open (path);
    zstr_free (&path);
    assert_non_null (store);
    msgstore_conv_t conv;
    assert_int_equal (msgstore_conv_get (store, id, CHATCLIENT_ID_SIZE, &conv), CHAT_OK);
    msctx_t ctx = { .store = store };
    chain_t *chain = mschain_load (&ctx, &conv);
    assert_non_null (chain);
    uint8_t key2 [EPOCHKEY_SIZE], check2 [EPOCHKEY_CHECK_SIZE];
    assert_int_equal (epochkey_generate (key2), CHAT_OK);
    assert_int_equal (epochkey_check_value (key2, id, 2, check2), CHAT_OK);
    chain_link_t link;
    assert_int_equal (chain_make_change (chain, CHAIN_REKEY, "nan", NULL, 0, NULL, check2,
                                         cl_session_identity (nan->session), wire_now_ms (),
                                         &link), CHAT_OK);
    const Chat__MembershipStatement *head = chain_head (chain);
    msgstore_link_t stored = { id, 2, link.statement, link.statement_len, link.signature,
                               link.signature_len, "nan", CHAIN_REKEY };
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    assert_int_equal (msgstore_conv_append (store, &stored, head->title,
                                            (const char *const *) head->members,
                                            head->n_members), CHAT_OK);
    assert_int_equal (msgstore_commit (store), CHAT_OK);
    msgstore_destroy (&store);
    chain_destroy (&chain);
    chain_link_free (&link);
    cltest_mainserver_start (servers);
    //  nan, the re-key's actor, stores its keys with a ticket for epoch 2
    Chat__KeyTicketRequest tbody = CHAT__KEY_TICKET_REQUEST__INIT;
    tbody.conversation_id.data = id;
    tbody.conversation_id.len = CHATCLIENT_ID_SIZE;
    tbody.epoch = 2;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_KEY_TICKET;
    req.key_ticket = &tbody;
    Chat__MainReply *ticket = (Chat__MainReply *) s_call (nan, CHATCLIENT_MAINSERVER,
                                                          &req.base, NULL);
    assert_non_null (ticket);
    const char *names [] = { "nan", "ote" };
    rsakey_t *keys [] = { cl_session_identity (nan->session), ote_key };
    s_put_keys (nan, ticket->key_ticket->ticket.data, ticket->key_ticket->ticket.len, names,
                keys, 2, key2);
    protobuf_c_message_free_unpacked (&ticket->base, NULL);

    //  ote sends, believing epoch 1: stale, then sealed again under 2
    size_t nan_mark = cltest_recorder_size (nan->recorder);
    //  (ote's stack has not run since: it still believes epoch 1, and seals
    //  the message for it; the server, at epoch 2, refuses that)
    assert_int_equal (cl_convs_find (ote->convs, id)->epoch, 1);
    uint32_t send = cltest_stack_cmd (ote);
    cl_convs_send (ote->convs, send, id, "after the re-key", 16);
    chatclient_event_t *sent = cltest_stack_wait_public (ote, CHATCLIENT_EV_SENT, send, 0,
                                                         CLTEST_WAIT);
    assert_non_null (sent);
    assert_int_equal (sent->message->epoch, 2);
    assert_int_equal (cl_convs_find (ote->convs, id)->epoch, 2);
    //  nan reads it: epoch 2's key, checked against the statement
    chatclient_event_t *got = NULL;
    for (size_t from = nan_mark;
         (got = cltest_stack_wait_public (nan, CHATCLIENT_EV_MESSAGE, 0, from, CLTEST_WAIT))
         && strcmp (got->message->text, "after the re-key") != 0; from++)
        ;
    assert_non_null (got);
    assert_int_equal (got->message->epoch, 2);
    rsakey_destroy (&ote_key);
    secret_wipe (key2, sizeof key2);
    cltest_stack_destroy (&ote);
    cltest_stack_destroy (&nan);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup (test_conversation, cltest_test_setup),
        cmocka_unit_test_setup (test_latecomer_and_session_end, cltest_test_setup),
        cmocka_unit_test_setup (test_keys_after_the_push, cltest_test_setup),
        cmocka_unit_test_setup (test_forged_by_a_member, cltest_test_setup),
        cmocka_unit_test_setup (test_stale_epoch, cltest_test_setup),
    };
    return cmocka_run_group_tests (tests, cltest_group_setup, cltest_group_teardown);
}
