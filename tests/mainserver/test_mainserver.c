/*  test_mainserver - the main server actor in-process, talked to over real
    sockets on 127.0.0.1 by test clients built straight from libchat

    The test plays the key server: it holds a key server key pair, starts
    the main server with its public half (as an operator copies
    keyserver.pub), and signs the certificates a client would have brought
    from there. Clients sign their conversations' CREATE statements with
    identity keys of their own; tickets are checked with the main server's
    mainserver.pub.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <ctype.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include "actorthread.h"
#include "chain.h"
#include "chaterror.h"
#include "codec.h"
#include "faultvfs.h"
#include "credential.h"
#include "epochkey.h"
#include "fernet.h"
#include "secret.h"
#include "wire.h"
#include "msclient.h"
#include "mainserver.h"
#include "mschain.h"
#include "msgstore.h"
#include "testkeys.h"

//  Long enough for a push on loopback, and only ever waited when a push is
//  expected or its absence is the point.
#define PUSH_WAIT 2000
#define NO_PUSH_WAIT 200

#define CLIENT_KEY     0                //  testkeys
#define OTHER_KEY      1
#define IDENTITIES     2                //  identity keys 2 .. 9, given out in turn
#define IDENTITY_COUNT 8
#define KEYSERVER      20               //  the key server's key pair
#define STRANGER       21

static struct {
    char dir [64];
    actorthread_t *server;
    char *endpoint;
    char *push_endpoint;
    char *keyserver_pub;        //  the copy the server is started with
    rsakey_t *ks_key;           //  the key server's key pair: signs certificates
    rsakey_t *ms_public;        //  the main server's mainserver.pub
    rsakey_t *key;              //  every client's ephemeral key ...
    rsakey_t *other_key;        //  ... but the one that needs another
    uint8_t conv_key [FERNET_KEY_SIZE];
    zhashx_t *identities;       //  lower-case name -> identity key
    size_t next_identity;
    int names;
} F;

//  PostgreSQL's URL when the servers run on it (CHAT_TEST_PG_URL, set by
//  tests/support/pgtemp.sh: ctest's mainserver.actor.pg), else NULL: each
//  server's SQLite file in its data directory
static const char *s_pg_url;

//  ---------------------------------------------------------------- helpers

//  The store a server on dir opens (malloc'd)
static char *
s_store_path (const char *dir)
{
    return s_pg_url? strdup (s_pg_url): zsys_sprintf ("%s/%s", dir, MAINSERVER_DB);
}

//  A server on dir, started as main() starts it; idle_ms NULL: the default
static actorthread_t *
s_server_start (const char *dir, const char *idle_ms, char **endpoint, char **push_endpoint)
{
    actorthread_t *server = actorthread_new (mainserver_actor, NULL);
    assert_non_null (server);
    zstr_sendx (actorthread_sock (server), "DATA", dir, NULL);
    char *answer = zstr_recv (actorthread_sock (server));
    assert_string_equal (answer, "OK");
    zstr_free (&answer);
    if (s_pg_url) {
        zstr_sendx (actorthread_sock (server), "STORE", s_pg_url, NULL);
        answer = zstr_recv (actorthread_sock (server));
        assert_string_equal (answer, "OK");
        zstr_free (&answer);
    }
    zstr_sendx (actorthread_sock (server), "KEYSERVER-KEY", F.keyserver_pub, NULL);
    answer = zstr_recv (actorthread_sock (server));
    assert_string_equal (answer, "OK");
    zstr_free (&answer);
    if (idle_ms) {
        zstr_sendx (actorthread_sock (server), "IDLE-TIMEOUT", idle_ms, NULL);
        answer = zstr_recv (actorthread_sock (server));
        assert_string_equal (answer, "OK");
        zstr_free (&answer);
    }
    //  test_paging pipelines 250 sends, past the default burst of 200
    zstr_sendx (actorthread_sock (server), "LIMIT", "message_burst", "1000", NULL);
    answer = zstr_recv (actorthread_sock (server));
    assert_string_equal (answer, "OK");
    zstr_free (&answer);
    zstr_send (actorthread_sock (server), "START");
    answer = zstr_recv (actorthread_sock (server));
    assert_string_equal (answer, "OK");
    zstr_free (&answer);
    zstr_sendx (actorthread_sock (server), "BIND", "tcp://127.0.0.1:*", NULL);
    *endpoint = zstr_recv (actorthread_sock (server));
    assert_non_null (strstr (*endpoint, "tcp://127.0.0.1:"));
    zstr_sendx (actorthread_sock (server), "PUSH-BIND", "tcp://127.0.0.1:*", NULL);
    *push_endpoint = zstr_recv (actorthread_sock (server));
    assert_non_null (strstr (*push_endpoint, "tcp://127.0.0.1:"));
    return server;
}

//  A fresh username for this test run: base plus a number.
static void
s_name (char *out, const char *base)
{
    snprintf (out, 32, "%s%d", base, ++F.names);
}

//  The identity key of a user (made up on first sight, in turn)
static rsakey_t *
s_identity (const char *name)
{
    char lower [USERNAME_MAX + 1];
    credential_username_fold (name, lower, sizeof lower);
    rsakey_t *key = (rsakey_t *) zhashx_lookup (F.identities, lower);
    if (!key) {
        key = testkeys_key (IDENTITIES + F.next_identity++ % IDENTITY_COUNT);
        zhashx_insert (F.identities, lower, key);
    }
    return key;
}

static char *
s_token (size_t plain_len)
{
    uint8_t *plain = (uint8_t *) zmalloc (plain_len + 1);
    char *token = NULL;
    assert_int_equal (fernet_encrypt (F.conv_key, plain, plain_len, wire_now (), &token),
                      CHAT_OK);
    free (plain);
    return token;
}

static msclient_t *
s_client (rsakey_t *key)
{
    msclient_t *client = msclient_new (key, F.endpoint, F.push_endpoint);
    assert_non_null (client);
    return client;
}

//  A request that must get a sealed reply; the reply comes back.
static Chat__MainReply *
s_call (msclient_t *client, Chat__MainRequest *request)
{
    Chat__MainReply *reply = NULL;
    uint64_t id = request->request_id;
    assert_int_equal (msclient_request (client, request, &reply), CHAT_OK);
    assert_non_null (reply);
    if (id)
        assert_int_equal (reply->request_id, id);
    return reply;
}

//  A request whose reply must carry this code.
static void
s_expect (msclient_t *client, Chat__MainRequest *request, int code)
{
    Chat__MainReply *reply = s_call (client, request);
    assert_int_equal (msclient_code (reply), code);
    chat__main_reply__free_unpacked (reply, NULL);
}

//  The code a certificate's answer carries
static int
s_cert_answer (int purpose, const char *name, Chat__MainReply *reply)
{
    assert_non_null (reply);
    int code = msclient_code (reply);
    if (code == CHAT_OK && purpose == CREDENTIAL_LOGGED_IN) {
        assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_LOGGED_IN);
        assert_int_equal (strcasecmp (reply->logged_in->username, name), 0);
    }
    if (code == CHAT_OK && purpose == CREDENTIAL_REGISTERED)
        assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_REGISTERED);
    chat__main_reply__free_unpacked (reply, NULL);
    return code;
}

//  A certificate of purpose for name: signed by issuer (NULL: the key
//  server), naming identity (NULL: the user's own), for fingerprint (NULL:
//  the client's key), issued at now (0: now)
static int
s_cert_call (msclient_t *client, int purpose, const char *name, rsakey_t *issuer,
             rsakey_t *identity, const uint8_t *fingerprint, int64_t now)
{
    Chat__MainReply *reply = NULL;
    assert_int_equal (msclient_cert_request (client, issuer? issuer: F.ks_key, purpose, name,
                                             identity? identity: s_identity (name),
                                             fingerprint? fingerprint
                                                        : rsakey_fingerprint (client->key),
                                             now? now: wire_now (), &reply), CHAT_OK);
    return s_cert_answer (purpose, name, reply);
}

static int
s_register (msclient_t *client, const char *name)
{
    return s_cert_call (client, CREDENTIAL_REGISTERED, name, NULL, NULL, NULL, 0);
}

static int
s_login (msclient_t *client, const char *name)
{
    return s_cert_call (client, CREDENTIAL_LOGGED_IN, name, NULL, NULL, NULL, 0);
}

static void
s_ping (msclient_t *client)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__PingRequest ping = CHAT__PING_REQUEST__INIT;
    request.body_case = CHAT__MAIN_REQUEST__BODY_PING;
    request.ping = &ping;
    Chat__MainReply *reply = s_call (client, &request);
    assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_PONG);
    chat__main_reply__free_unpacked (reply, NULL);
}

//  PUB/SUB has no acknowledgement: the subscription went out with the
//  handshake's first frames, a round-trip on the request socket follows
//  it across, and a short settle covers the rest. Nothing the tests prove
//  depends on it (gap recovery goes by sequence numbers).
static void
s_sync (msclient_t *client)
{
    s_ping (client);
    zclock_sleep (50);
}

//  A client of a user, registered (when asked) and logged in.
static msclient_t *
s_user (const char *name, bool do_register, rsakey_t *key)
{
    msclient_t *client = s_client (key? key: F.key);
    if (do_register)
        assert_int_equal (s_register (client, name), CHAT_OK);
    assert_int_equal (s_login (client, name), CHAT_OK);
    s_sync (client);
    return client;
}

//  Sign a statement as it stands (whatever the rules say) with key
static void
s_sign (const Chat__MembershipStatement *statement, rsakey_t *key, chain_link_t *link)
{
    memset (link, 0, sizeof *link);
    assert_int_equal (wire_pack (&statement->base, &link->statement, &link->statement_len),
                      CHAT_OK);
    assert_int_equal (rsakey_sign_labelled (key, CHAIN_LABEL, link->statement,
                                            link->statement_len, &link->signature,
                                            &link->signature_len), CHAT_OK);
}

//  The CREATE link of a new conversation (id made here) of creator and
//  others, signed with signer (NULL: the creator's identity)
static void
s_statement (const char *creator, const char *const *others, size_t count, bool direct,
             const char *title, rsakey_t *signer, uint8_t id [16], chain_link_t *link)
{
    assert_int_equal (secret_random (id, 16), 0);
    const char *members [CHAIN_MAX_MEMBERS];
    members [0] = creator;
    for (size_t i = 0; i < count; i++)
        members [i + 1] = others [i];
    uint8_t key [EPOCHKEY_SIZE], check [EPOCHKEY_CHECK_SIZE];
    assert_int_equal (epochkey_generate (key), CHAT_OK);
    assert_int_equal (epochkey_check_value (key, id, 1, check), CHAT_OK);
    assert_int_equal (chain_make_create (id, creator, members, count + 1, direct, title,
                                         check, signer? signer: s_identity (creator),
                                         wire_now_ms (), link), CHAT_OK);
}

//  A create_conversation (change false) or change_conversation of link
//  (NULL: none)
static Chat__MainReply *
s_link_request (msclient_t *client, const chain_link_t *link, bool change)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__CreateConversationRequest create = CHAT__CREATE_CONVERSATION_REQUEST__INIT;
    Chat__ChangeConversationRequest changing = CHAT__CHANGE_CONVERSATION_REQUEST__INIT;
    Chat__SignedStatement view;
    if (link)
        chain_link_view (link, &view);
    if (change) {
        changing.statement = link? &view: NULL;
        request.body_case = CHAT__MAIN_REQUEST__BODY_CHANGE_CONVERSATION;
        request.change_conversation = &changing;
    }
    else {
        create.statement = link? &view: NULL;
        request.body_case = CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION;
        request.create_conversation = &create;
    }
    return s_call (client, &request);
}

static Chat__MainReply *
s_create_link (msclient_t *client, const chain_link_t *link)
{
    return s_link_request (client, link, false);
}

//  Create a conversation of creator (the client's user) and others;
//  direct: a 1:1 conversation. The reply (caller frees); id filled with
//  the statement's id.
static Chat__MainReply *
s_create (msclient_t *client, const char *creator, const char *const *others, size_t count,
          bool direct, uint8_t id [16])
{
    chain_link_t link;
    uint8_t own [16];
    s_statement (creator, others, count, direct, NULL, NULL, id? id: own, &link);
    Chat__MainReply *reply = s_create_link (client, &link);
    chain_link_free (&link);
    return reply;
}

//  Create and check the answer: a new conversation, its id in id.
static void
s_create_ok (msclient_t *client, const char *creator, const char *const *others,
             size_t count, bool direct, uint8_t *id)
{
    uint8_t asked [16];
    Chat__MainReply *reply = s_create (client, creator, others, count, direct, asked);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_CREATED);
    assert_false (reply->created->existing);
    assert_true (reply->created->ticket.len > 0);
    assert_int_equal (reply->created->conversation->conversation_id.len, 16);
    assert_memory_equal (reply->created->conversation->conversation_id.data, asked, 16);
    assert_int_equal (reply->created->conversation->epoch, 1);
    assert_int_equal (reply->created->conversation->direct, direct);
    memcpy (id, asked, 16);
    chat__main_reply__free_unpacked (reply, NULL);
}

//  Alice and bob (fresh names), registered and logged in, in a new direct
//  conversation (id) whose push bob has taken.
static void
s_pair (char *alice, char *bob, msclient_t **a, msclient_t **b, uint8_t *id)
{
    s_name (alice, "alice");
    s_name (bob, "bob");
    *a = s_user (alice, true, NULL);
    *b = s_user (bob, true, NULL);
    const char *others [] = { bob };
    s_create_ok (*a, alice, others, 1, true, id);
    Chat__Push *push = NULL;
    assert_int_equal (msclient_recv_push (*b, PUSH_WAIT, &push), CHAT_OK);
    chat__push__free_unpacked (push, NULL);
}

static void
s_send_request (Chat__MainRequest *request, Chat__SendMessageRequest *send,
                const uint8_t *id, const uint8_t *cmid, char *token, uint64_t epoch)
{
    chat__main_request__init (request);
    chat__send_message_request__init (send);
    send->conversation_id.data = (uint8_t *) id;
    send->conversation_id.len = 16;
    send->client_message_id.data = (uint8_t *) cmid;
    send->client_message_id.len = 16;
    send->token = token;
    send->epoch = epoch;
    request->body_case = CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE;
    request->send_message = send;
}

//  Send one message under epoch 1; returns the reply (caller frees).
static Chat__MainReply *
s_send (msclient_t *client, const uint8_t *id, const uint8_t *cmid, char *token)
{
    Chat__MainRequest request;
    Chat__SendMessageRequest send;
    s_send_request (&request, &send, id, cmid, token, 1);
    return s_call (client, &request);
}

static uint64_t
s_send_ok (msclient_t *client, const uint8_t *id, char **token_p)
{
    uint8_t cmid [16];
    secret_random (cmid, sizeof cmid);
    char *token = s_token (20);
    Chat__MainReply *reply = s_send (client, id, cmid, token);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_SENT);
    assert_false (reply->sent->duplicate);
    assert_memory_equal (reply->sent->conversation_id.data, id, 16);
    uint64_t seq = reply->sent->seq;
    chat__main_reply__free_unpacked (reply, NULL);
    if (token_p)
        *token_p = token;
    else
        free (token);
    return seq;
}

static Chat__MainReply *
s_get_messages (msclient_t *client, const uint8_t *id, size_t id_len,
                uint64_t after, uint32_t limit)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__GetMessagesRequest get = CHAT__GET_MESSAGES_REQUEST__INIT;
    get.conversation_id.data = (uint8_t *) id;
    get.conversation_id.len = id_len;
    get.after_seq = after;
    get.limit = limit;
    request.body_case = CHAT__MAIN_REQUEST__BODY_GET_MESSAGES;
    request.get_messages = &get;
    return s_call (client, &request);
}

static Chat__MainReply *
s_get_members (msclient_t *client, const uint8_t *id, size_t id_len)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__GetMembersRequest get = CHAT__GET_MEMBERS_REQUEST__INIT;
    get.conversation_id.data = (uint8_t *) id;
    get.conversation_id.len = id_len;
    request.body_case = CHAT__MAIN_REQUEST__BODY_GET_MEMBERS;
    request.get_members = &get;
    return s_call (client, &request);
}

static Chat__MainReply *
s_get_chain (msclient_t *client, const uint8_t *id, size_t id_len, uint64_t after)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__GetChainRequest get = CHAT__GET_CHAIN_REQUEST__INIT;
    get.conversation_id.data = (uint8_t *) id;
    get.conversation_id.len = id_len;
    get.after_epoch = after;
    request.body_case = CHAT__MAIN_REQUEST__BODY_GET_CHAIN;
    request.get_chain = &get;
    return s_call (client, &request);
}

static Chat__MainReply *
s_key_ticket (msclient_t *client, const uint8_t *id, size_t id_len, uint64_t epoch)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__KeyTicketRequest get = CHAT__KEY_TICKET_REQUEST__INIT;
    get.conversation_id.data = (uint8_t *) id;
    get.conversation_id.len = id_len;
    get.epoch = epoch;
    request.body_case = CHAT__MAIN_REQUEST__BODY_KEY_TICKET;
    request.key_ticket = &get;
    return s_call (client, &request);
}

static Chat__MainReply *
s_simple (msclient_t *client, Chat__MainRequest__BodyCase body)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__ListConversationsRequest list = CHAT__LIST_CONVERSATIONS_REQUEST__INIT;
    Chat__ListUsersRequest users = CHAT__LIST_USERS_REQUEST__INIT;
    Chat__LogoutRequestMain logout = CHAT__LOGOUT_REQUEST_MAIN__INIT;
    request.body_case = body;
    if (body == CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS)
        request.list_conversations = &list;
    else
    if (body == CHAT__MAIN_REQUEST__BODY_LIST_USERS)
        request.list_users = &users;
    else
    if (body == CHAT__MAIN_REQUEST__BODY_LOGOUT)
        request.logout = &logout;
    return s_call (client, &request);
}

//  The next push for this client, which must be a stored message.
static Chat__StoredMessage *
s_push_message (msclient_t *client, Chat__Push **push)
{
    assert_int_equal (msclient_recv_push (client, PUSH_WAIT, push), CHAT_OK);
    assert_int_equal ((*push)->body_case, CHAT__PUSH__BODY_MESSAGE);
    return (*push)->message;
}

static void
s_no_push (msclient_t *client)
{
    Chat__Push *push = NULL;
    assert_int_equal (msclient_recv_push (client, NO_PUSH_WAIT, &push), -1);
    assert_null (push);
}

//  The ticket is the main server's, for uploader on key, epoch 1 of id,
//  naming these members (in this order)
static void
s_ticket_ok (const ProtobufCBinaryData *ticket, const char *uploader, const uint8_t *id,
             uint64_t epoch, rsakey_t *key, const char *const *members, size_t count)
{
    credential_ticket_t *body = NULL;
    assert_int_equal (credential_ticket_check (F.ms_public, ticket->data, ticket->len,
                                               uploader, rsakey_fingerprint (key),
                                               wire_now (), &body), CHAT_OK);
    assert_memory_equal (body->conversation_id, id, 16);
    assert_int_equal (body->epoch, epoch);
    assert_int_equal (body->member_count, count);
    for (size_t i = 0; i < count; i++)
        assert_string_equal (body->members [i], members [i]);
    credential_ticket_destroy (&body);
}

static bool
s_ticket_valid (const ProtobufCBinaryData *ticket, const char *uploader, rsakey_t *key)
{
    credential_ticket_t *body = NULL;
    int rc = credential_ticket_check (F.ms_public, ticket->data, ticket->len, uploader,
                                      rsakey_fingerprint (key), wire_now (), &body);
    credential_ticket_destroy (&body);
    return rc == CHAT_OK;
}

static rsakey_t *
s_load_public (const char *dir)
{
    char *path = zsys_sprintf ("%s/%s", dir, MAINSERVER_PUBLIC_FILE);
    rsakey_t *key = rsakey_load_public (path);
    assert_non_null (key);
    free (path);
    return key;
}

//  ---------------------------------------------------------------- fixture

static int
s_setup (void **state)
{
    (void) state;
    strcpy (F.dir, "/tmp/test_mainserver.XXXXXX");
    assert_non_null (mkdtemp (F.dir));
    F.ks_key = testkeys_key (KEYSERVER);
    F.keyserver_pub = testkeys_save_public (F.ks_key, F.dir, "copied-keyserver.pub");
    assert_non_null (F.keyserver_pub);
    F.key = testkeys_key (CLIENT_KEY);
    F.other_key = testkeys_key (OTHER_KEY);
    F.identities = zhashx_new ();
    assert_int_equal (fernet_key_generate (F.conv_key), 0);
    F.server = s_server_start (F.dir, NULL, &F.endpoint, &F.push_endpoint);
    F.ms_public = s_load_public (F.dir);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    actorthread_destroy (&F.server);
    zstr_free (&F.endpoint);
    zstr_free (&F.push_endpoint);
    zstr_free (&F.keyserver_pub);
    rsakey_destroy (&F.ms_public);
    zhashx_destroy (&F.identities);
    testkeys_free ();
    char *command = zsys_sprintf ("rm -rf '%s'", F.dir);
    assert_int_equal (system (command), 0);
    free (command);
    return 0;
}

//  ---------------------------------------------------------------- tests

static void
test_register_and_login (void **state)
{
    (void) state;
    char name [32], upper [32];
    s_name (name, "Alice");
    msclient_t *client = s_client (F.key);
    //  The Welcome named the server's role and push endpoint, signed
    assert_string_equal (channel_peer_role (msclient_channel (client)), "mainserver");
    assert_string_equal (channel_peer_push_endpoint (msclient_channel (client)),
                         F.push_endpoint);
    //  Login before registration: the user is not known here.
    assert_int_equal (s_login (client, name), CHAT_ERR_UNKNOWN_USER);
    assert_int_equal (s_register (client, name), CHAT_OK);
    //  Registering again is harmless, with the same identity
    assert_int_equal (s_register (client, name), CHAT_OK);
    //  Registration does not log in.
    Chat__MainReply *reply = s_simple (client, CHAT__MAIN_REQUEST__BODY_LIST_USERS);
    assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_LOGGED_IN);
    chat__main_reply__free_unpacked (reply, NULL);

    //  Any case logs in; the registered spelling comes back.
    for (size_t i = 0; i <= strlen (name); i++)
        upper [i] = (char) toupper ((unsigned char) name [i]);
    uint8_t *cert = NULL;
    size_t len = 0;
    assert_int_equal (credential_cert_issue (F.ks_key, CREDENTIAL_LOGGED_IN, upper,
                                             rsakey_fingerprint (F.key), s_identity (name),
                                             wire_now (), &cert, &len), CHAT_OK);
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__LoginRequest login = CHAT__LOGIN_REQUEST__INIT;
    login.certificate.data = cert;
    login.certificate.len = len;
    request.body_case = CHAT__MAIN_REQUEST__BODY_LOGIN;
    request.login = &login;
    request.request_id = 777;
    reply = s_call (client, &request);
    assert_int_equal (reply->request_id, 777);
    assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_LOGGED_IN);
    assert_string_equal (reply->logged_in->username, name);
    chat__main_reply__free_unpacked (reply, NULL);
    free (cert);

    reply = s_simple (client, CHAT__MAIN_REQUEST__BODY_LIST_USERS);
    assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_USERS);
    bool found = false;
    for (size_t i = 0; i < reply->users->n_usernames; i++) {
        found |= streq (reply->users->usernames [i], name);
        if (i > 0)
            assert_true (strcasecmp (reply->users->usernames [i - 1],
                                     reply->users->usernames [i]) < 0);
    }
    assert_true (found);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&client);
}

//  A certificate as signed, with one field of its body changed afterwards
typedef enum {
    ALTER_PURPOSE, ALTER_USERNAME, ALTER_FINGERPRINT, ALTER_ISSUED, ALTER_EXPIRES,
    ALTER_IDENTITY, ALTER_COUNT
} alter_t;

static void
s_alter (const uint8_t *cert, size_t len, alter_t what, uint8_t **out, size_t *out_len)
{
    Chat__SignedCredential *signed_ = NULL;
    assert_int_equal (wire_unpack (&chat__signed_credential__descriptor, cert, len,
                                   (ProtobufCMessage **) &signed_), CHAT_OK);
    Chat__Certificate *body = NULL;
    assert_int_equal (wire_unpack (&chat__certificate__descriptor, signed_->body.data,
                                   signed_->body.len, (ProtobufCMessage **) &body), CHAT_OK);
    ProtobufCBinaryData identity = body->identity_public_key;
    size_t other_len = 0;
    const uint8_t *other = rsakey_der (testkeys_key (STRANGER), &other_len);
    switch (what) {
        case ALTER_PURPOSE: body->purpose = CHAT__CERTIFICATE_PURPOSE__PURPOSE_REGISTERED; break;
        case ALTER_USERNAME: body->username [0] ^= 1; break;
        case ALTER_FINGERPRINT: body->client_key_fingerprint.data [0] ^= 1; break;
        case ALTER_ISSUED: body->issued_at -= 100; break;
        case ALTER_EXPIRES: body->expires_at += 100; break;
        case ALTER_IDENTITY:
            body->identity_public_key.data = (uint8_t *) other;
            body->identity_public_key.len = other_len;
            break;
        default: break;
    }
    assert_int_equal (testkeys_swap_body (cert, len, &body->base, out, out_len), 0);
    body->identity_public_key = identity;
    chat__certificate__free_unpacked (body, NULL);
    chat__signed_credential__free_unpacked (signed_, NULL);
}

static void
test_certificate_refusals (void **state)
{
    (void) state;
    char name [32];
    s_name (name, "mallory");
    msclient_t *client = s_client (F.key);
    //  Signed by another key than the key server's: a stranger's, or the
    //  main server's own (in its data directory: stealing it mints nothing)
    char *path = zsys_sprintf ("%s/%s", F.dir, MAINSERVER_KEY_FILE);
    rsakey_t *own = rsakey_load (path);
    assert_non_null (own);
    free (path);
    rsakey_t *forgers [] = { testkeys_key (STRANGER), own };
    for (int i = 0; i < 2; i++) {
        assert_int_equal (s_cert_call (client, CREDENTIAL_REGISTERED, name, forgers [i],
                                       NULL, NULL, 0), CHAT_ERR_BAD_CERTIFICATE);
        assert_int_equal (s_cert_call (client, CREDENTIAL_LOGGED_IN, name, forgers [i],
                                       NULL, NULL, 0), CHAT_ERR_BAD_CERTIFICATE);
    }
    //  Expired, or from the future.
    assert_int_equal (s_cert_call (client, CREDENTIAL_REGISTERED, name, NULL, NULL, NULL,
                                   wire_now () - 2 * CREDENTIAL_CERT_LIFETIME),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_call (client, CREDENTIAL_REGISTERED, name, NULL, NULL, NULL,
                                   wire_now () + 3600), CHAT_ERR_BAD_CERTIFICATE);
    //  Bound to another client's key.
    assert_int_equal (s_cert_call (client, CREDENTIAL_REGISTERED, name, NULL, NULL,
                                   rsakey_fingerprint (F.other_key), 0),
                      CHAT_ERR_BAD_CERTIFICATE);
    //  The other purpose: a login certificate does not register ...
    assert_int_equal (s_cert_call (client, CREDENTIAL_LOGGED_IN, name, NULL, NULL, NULL, 0),
                      CHAT_ERR_UNKNOWN_USER);
    uint8_t *cert = NULL;
    size_t len = 0;
    assert_int_equal (credential_cert_issue (F.ks_key, CREDENTIAL_LOGGED_IN, name,
                                             rsakey_fingerprint (F.key), s_identity (name),
                                             wire_now (), &cert, &len), CHAT_OK);
    Chat__MainReply *reply = NULL;
    assert_int_equal (msclient_cert_send (client, CREDENTIAL_REGISTERED, cert, len, &reply),
                      CHAT_OK);
    assert_int_equal (s_cert_answer (CREDENTIAL_REGISTERED, name, reply),
                      CHAT_ERR_BAD_CERTIFICATE);
    free (cert);
    //  ... and garbage is no certificate.
    assert_int_equal (msclient_cert_send (client, CREDENTIAL_REGISTERED,
                                          (const uint8_t *) "not a certificate", 17, &reply),
                      CHAT_OK);
    assert_int_equal (s_cert_answer (CREDENTIAL_REGISTERED, name, reply),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (msclient_cert_send (client, CREDENTIAL_REGISTERED, NULL, 0, &reply),
                      CHAT_OK);
    assert_int_equal (s_cert_answer (CREDENTIAL_REGISTERED, name, reply),
                      CHAT_ERR_BAD_CERTIFICATE);

    //  A registration certificate does not log in.
    assert_int_equal (s_register (client, name), CHAT_OK);
    assert_int_equal (credential_cert_issue (F.ks_key, CREDENTIAL_REGISTERED, name,
                                             rsakey_fingerprint (F.key), s_identity (name),
                                             wire_now (), &cert, &len), CHAT_OK);
    assert_int_equal (msclient_cert_send (client, CREDENTIAL_LOGGED_IN, cert, len, &reply),
                      CHAT_OK);
    assert_int_equal (s_cert_answer (CREDENTIAL_LOGGED_IN, name, reply),
                      CHAT_ERR_BAD_CERTIFICATE);
    free (cert);
    //  Nor does a login certificate for another key, or an expired one.
    assert_int_equal (s_cert_call (client, CREDENTIAL_LOGGED_IN, name, NULL, NULL,
                                   rsakey_fingerprint (F.other_key), 0),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_call (client, CREDENTIAL_LOGGED_IN, name, NULL, NULL, NULL,
                                   wire_now () - 2 * CREDENTIAL_CERT_LIFETIME),
                      CHAT_ERR_BAD_CERTIFICATE);
    //  Nor one naming another identity key than the one registered, and a
    //  registration cannot replace it
    rsakey_t *stranger = testkeys_key (STRANGER);
    assert_int_equal (s_cert_call (client, CREDENTIAL_LOGGED_IN, name, NULL, stranger, NULL,
                                   0), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_call (client, CREDENTIAL_REGISTERED, name, NULL, stranger, NULL,
                                   0), CHAT_ERR_BAD_CERTIFICATE);
    //  A good certificate altered in any field after signing
    assert_int_equal (credential_cert_issue (F.ks_key, CREDENTIAL_LOGGED_IN, name,
                                             rsakey_fingerprint (F.key), s_identity (name),
                                             wire_now (), &cert, &len), CHAT_OK);
    for (int what = 0; what < ALTER_COUNT; what++) {
        uint8_t *altered = NULL;
        size_t altered_len = 0;
        s_alter (cert, len, (alter_t) what, &altered, &altered_len);
        int purpose = what == ALTER_PURPOSE? CREDENTIAL_REGISTERED: CREDENTIAL_LOGGED_IN;
        assert_int_equal (msclient_cert_send (client, purpose, altered, altered_len, &reply),
                          CHAT_OK);
        int code = s_cert_answer (purpose, name, reply);
        if (code != CHAT_ERR_BAD_CERTIFICATE)
            fail_msg ("certificate altered in field %d: got %s", what, chat_errname (code));
        free (altered);
    }
    //  Still not logged in after all that; the good one does it
    reply = s_simple (client, CHAT__MAIN_REQUEST__BODY_LIST_USERS);
    assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_LOGGED_IN);
    chat__main_reply__free_unpacked (reply, NULL);
    assert_int_equal (msclient_cert_send (client, CREDENTIAL_LOGGED_IN, cert, len, &reply),
                      CHAT_OK);
    assert_int_equal (s_cert_answer (CREDENTIAL_LOGGED_IN, name, reply), CHAT_OK);
    free (cert);
    rsakey_destroy (&own);
    msclient_destroy (&client);
}

static void
test_not_logged_in (void **state)
{
    (void) state;
    msclient_t *client = s_client (F.key);
    uint8_t id [16] = { 0 };
    Chat__MainReply *reply;
    Chat__MainRequest__BodyCase simple [] = {
        CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS,
        CHAT__MAIN_REQUEST__BODY_LIST_USERS,
        CHAT__MAIN_REQUEST__BODY_LOGOUT
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple [0]; i++) {
        reply = s_simple (client, simple [i]);
        assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_LOGGED_IN);
        chat__main_reply__free_unpacked (reply, NULL);
    }
    Chat__MainReply *replies [] = {
        s_get_messages (client, id, 16, 0, 0),
        s_get_members (client, id, 16),
        s_get_chain (client, id, 16, 0),
        s_key_ticket (client, id, 16, 1),
    };
    for (size_t i = 0; i < sizeof replies / sizeof replies [0]; i++) {
        assert_int_equal (msclient_code (replies [i]), CHAT_ERR_NOT_LOGGED_IN);
        chat__main_reply__free_unpacked (replies [i], NULL);
    }
    const char *others [] = { "someone" };
    reply = s_create (client, "nobody", others, 1, false, NULL);
    assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_LOGGED_IN);
    chat__main_reply__free_unpacked (reply, NULL);
    char *token = s_token (5);
    reply = s_send (client, id, id, token);
    assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_LOGGED_IN);
    chat__main_reply__free_unpacked (reply, NULL);
    free (token);
    //  Ping needs no login.
    s_ping (client);

    //  No body at all: a bad request.
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    request.request_id = 42;
    s_expect (client, &request, CHAT_ERR_BAD_REQUEST);
    //  A payload that is not a MainRequest: malformed, request id 0.
    uint8_t garbage [] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01 };
    assert_int_equal (msclient_send_payload (client, garbage, sizeof garbage), CHAT_OK);
    assert_int_equal (msclient_recv (client, &reply), CHAT_OK);
    assert_int_equal (msclient_code (reply), CHAT_ERR_MALFORMED);
    assert_int_equal (reply->request_id, 0);
    chat__main_reply__free_unpacked (reply, NULL);
    s_ping (client);
    msclient_destroy (&client);
}

static void
test_direct_dedupe (void **state)
{
    (void) state;
    char alice [32], bob [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    msclient_t *a = s_user (alice, true, NULL);
    msclient_t *b = s_user (bob, true, F.other_key);
    uint8_t first [16], again [16];
    const char *to_bob [] = { bob };
    const char *to_alice [] = { alice };
    s_create_ok (a, alice, to_bob, 1, true, first);
    //  Bob took the push; the ticket is for alice on her key, for epoch 1
    Chat__Push *push = NULL;
    assert_int_equal (msclient_recv_push (b, PUSH_WAIT, &push), CHAT_OK);
    assert_int_equal (push->body_case, CHAT__PUSH__BODY_CONVERSATION);
    assert_true (push->conversation->direct);
    chat__push__free_unpacked (push, NULL);

    //  A second direct creation of the pair, by either: the existing one,
    //  no ticket, nothing stored, no news for anyone
    msclient_t *creators [] = { a, b };
    const char *names [] = { alice, bob };
    const char *const *others [] = { to_bob, to_alice };
    for (int i = 0; i < 2; i++) {
        Chat__MainReply *reply = s_create (creators [i], names [i], others [i], 1, true,
                                           again);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        assert_true (reply->created->existing);
        assert_int_equal (reply->created->ticket.len, 0);
        Chat__ConversationSummary *summary = reply->created->conversation;
        assert_memory_equal (summary->conversation_id.data, first, 16);
        assert_memory_not_equal (again, first, 16);
        assert_int_equal (summary->n_members, 2);
        assert_string_equal (summary->members [0], alice);
        assert_string_equal (summary->members [1], bob);
        assert_int_equal (summary->last_seq, 0);
        assert_int_equal (summary->epoch, 1);
        assert_true (summary->direct);
        chat__main_reply__free_unpacked (reply, NULL);
        Chat__MainReply *members = s_get_members (a, again, 16);
        assert_int_equal (msclient_code (members), CHAT_ERR_NOT_FOUND);
        chat__main_reply__free_unpacked (members, NULL);
    }
    s_no_push (a);
    s_no_push (b);
    //  A group of the same two people is a conversation of its own
    uint8_t group [16];
    s_create_ok (a, alice, to_bob, 1, false, group);
    assert_memory_not_equal (group, first, 16);
    msclient_destroy (&a);
    msclient_destroy (&b);
}

static void
test_created (void **state)
{
    (void) state;
    char alice [32], bob [32], carol [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    s_name (carol, "carol");
    msclient_t *a = s_user (alice, true, F.other_key);
    msclient_t *b = s_user (bob, true, NULL);
    assert_int_equal (s_register (b, carol), CHAT_OK);
    const char *others [] = { carol, bob };
    chain_link_t link;
    uint8_t id [16];
    s_statement (alice, others, 2, false, "Plans", NULL, id, &link);
    Chat__MainReply *reply = s_create_link (a, &link);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    Chat__ConversationCreated *created = reply->created;
    assert_false (created->existing);
    assert_string_equal (created->conversation->title, "Plans");
    assert_false (created->conversation->direct);
    assert_int_equal (created->conversation->epoch, 1);
    assert_int_equal (created->conversation->n_members, 3);
    //  The ticket: the main server's, for epoch 1, the members in order,
    //  for alice on her own client key only
    const char *sorted [3];
    sorted [0] = alice;
    sorted [1] = bob;
    sorted [2] = carol;
    s_ticket_ok (&created->ticket, alice, id, 1, F.other_key, sorted, 3);
    assert_false (s_ticket_valid (&created->ticket, alice, F.key));
    assert_false (s_ticket_valid (&created->ticket, bob, F.other_key));
    chat__main_reply__free_unpacked (reply, NULL);

    //  The chain is the statement as signed, byte for byte
    reply = s_get_chain (b, id, 16, 0);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    Chat__Chain *chain = reply->chain;
    assert_memory_equal (chain->conversation_id.data, id, 16);
    assert_int_equal (chain->n_statements, 1);
    assert_false (chain->more);
    assert_int_equal (chain->statements [0]->statement.len, link.statement_len);
    assert_memory_equal (chain->statements [0]->statement.data, link.statement,
                         link.statement_len);
    assert_memory_equal (chain->statements [0]->signature.data, link.signature,
                         link.signature_len);
    //  ... and a client verifies it with alice's identity key
    chain_t *verified = chain_new ();
    assert_int_equal (chain_append (verified, chain->statements [0], s_identity (alice)),
                      CHAT_OK);
    chain_destroy (&verified);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_get_chain (b, id, 16, 1);
    assert_int_equal (reply->chain->n_statements, 0);
    assert_false (reply->chain->more);
    chat__main_reply__free_unpacked (reply, NULL);
    chain_link_free (&link);

    //  A fresh ticket for epoch 1: to its actor only, bound to the asking
    //  session's key; not for an epoch that does not exist
    reply = s_key_ticket (a, id, 16, 1);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_memory_equal (reply->key_ticket->conversation_id.data, id, 16);
    assert_int_equal (reply->key_ticket->epoch, 1);
    s_ticket_ok (&reply->key_ticket->ticket, alice, id, 1, F.other_key, sorted, 3);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_t *a2 = s_user (alice, false, F.key);
    reply = s_key_ticket (a2, id, 16, 1);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    s_ticket_ok (&reply->key_ticket->ticket, alice, id, 1, F.key, sorted, 3);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&a2);
    reply = s_key_ticket (b, id, 16, 1);
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_REQUEST);
    chat__main_reply__free_unpacked (reply, NULL);
    uint64_t epochs [] = { 0, 2, UINT64_MAX };
    for (int i = 0; i < 3; i++) {
        reply = s_key_ticket (a, id, 16, epochs [i]);
        assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_FOUND);
        chat__main_reply__free_unpacked (reply, NULL);
    }
    //  The listing carries epoch, title and members, no ticket
    reply = s_simple (b, CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS);
    assert_int_equal (reply->conversations->n_conversations, 1);
    Chat__ConversationSummary *summary = reply->conversations->conversations [0];
    assert_int_equal (summary->epoch, 1);
    assert_string_equal (summary->title, "Plans");
    assert_int_equal (summary->n_members, 3);
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    assert_int_equal (wire_pack (&summary->base, &packed, &packed_len), CHAT_OK);
    assert_true (packed_len < 200);
    free (packed);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&a);
    msclient_destroy (&b);
}

static void
test_create_refusals (void **state)
{
    (void) state;
    char alice [32], bob [32], ghost [32], mallory [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    s_name (ghost, "ghost");
    s_name (mallory, "mallory");
    msclient_t *a = s_user (alice, true, NULL);
    msclient_t *m = s_user (mallory, true, F.other_key);
    assert_int_equal (s_register (a, bob), CHAT_OK);
    const char *to_bob [] = { bob };
    chain_link_t link;
    uint8_t id [16];
    Chat__MainReply *reply;

    //  No statement, or one that does not parse
    reply = s_create_link (a, NULL);
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_STATEMENT);
    chat__main_reply__free_unpacked (reply, NULL);
    chain_link_t junk = { (uint8_t *) "\xff\xff\xff", 3, (uint8_t *) "sig", 3 };
    reply = s_create_link (a, &junk);
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_STATEMENT);
    chat__main_reply__free_unpacked (reply, NULL);

    //  Alice's creation signed by mallory's key, as mallory would forge it
    s_statement (alice, to_bob, 1, true, NULL, s_identity (mallory), id, &link);
    reply = s_create_link (a, &link);
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_STATEMENT);
    chat__main_reply__free_unpacked (reply, NULL);
    //  ... nor can mallory send alice's own, properly signed statement
    chain_link_free (&link);
    s_statement (alice, to_bob, 1, true, NULL, NULL, id, &link);
    reply = s_create_link (m, &link);
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_STATEMENT);
    chat__main_reply__free_unpacked (reply, NULL);
    //  ... nor a statement altered after signing
    link.statement [link.statement_len - 1] ^= 1;
    reply = s_create_link (a, &link);
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_STATEMENT);
    chat__main_reply__free_unpacked (reply, NULL);
    link.statement [link.statement_len - 1] ^= 1;
    link.signature [0] ^= 1;
    reply = s_create_link (a, &link);
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_STATEMENT);
    chat__main_reply__free_unpacked (reply, NULL);
    chain_link_free (&link);
    //  None of it made anything
    reply = s_get_chain (a, id, 16, 0);
    assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_FOUND);
    chat__main_reply__free_unpacked (reply, NULL);

    //  An unknown user, named in the answer; a name not as registered
    const char *to_ghost [] = { ghost };
    reply = s_create (a, alice, to_ghost, 1, false, NULL);
    assert_int_equal (msclient_code (reply), CHAT_ERR_UNKNOWN_USER);
    assert_non_null (strstr (reply->error->message, ghost));
    chat__main_reply__free_unpacked (reply, NULL);
    char bob_upper [32];
    for (size_t i = 0; i <= strlen (bob); i++)
        bob_upper [i] = (char) toupper ((unsigned char) bob [i]);
    const char *misspelled [] = { bob_upper };
    reply = s_create (a, alice, misspelled, 1, false, NULL);
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_STATEMENT);
    chat__main_reply__free_unpacked (reply, NULL);

    //  Statements the rules refuse, signed as they are
    uint8_t check [32] = { 0 };
    Chat__MembershipStatement st = CHAT__MEMBERSHIP_STATEMENT__INIT;
    const char *pair [] = { alice, bob };
    const char *admins [] = { alice };
    assert_int_equal (secret_random (id, 16), 0);
    st.conversation_id.data = id;
    st.conversation_id.len = 16;
    st.epoch = 1;
    st.actor = alice;
    st.action = CHAT__STATEMENT_ACTION__ACTION_CREATE;
    st.members = (char **) pair;
    st.n_members = 2;
    st.admins = (char **) admins;
    st.n_admins = 1;
    st.title = (char *) "";
    st.key_check.data = check;
    st.key_check.len = 32;
    struct { const char *what; int code; } cases [] = {
        { "not a CREATE", CHAT_ERR_BAD_STATEMENT },
        { "epoch 2", CHAT_ERR_CHAIN_CONFLICT },
        { "a previous hash", CHAT_ERR_BAD_STATEMENT },
        { "alone", CHAT_ERR_BAD_STATEMENT },
        { "members out of order", CHAT_ERR_BAD_STATEMENT },
        { "no key check", CHAT_ERR_BAD_STATEMENT },
        { "another admin", CHAT_ERR_BAD_STATEMENT },
        { "id of 15 bytes", CHAT_ERR_BAD_STATEMENT },
        { "direct with a title", CHAT_ERR_BAD_STATEMENT },
    };
    const char *reversed [] = { bob, alice };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        Chat__MembershipStatement bad = st;
        switch (i) {
            case 0: bad.action = CHAT__STATEMENT_ACTION__ACTION_REKEY; break;
            case 1: bad.epoch = 2; break;
            case 2: bad.previous_hash.data = check; bad.previous_hash.len = 32; break;
            case 3: bad.n_members = 1; break;
            case 4: bad.members = (char **) reversed; break;
            case 5: bad.key_check.len = 0; break;
            case 6: bad.admins = (char **) to_bob; break;
            case 7: bad.conversation_id.len = 15; break;
            case 8: bad.direct = true; bad.title = (char *) "hi"; break;
        }
        s_sign (&bad, s_identity (alice), &link);
        reply = s_create_link (a, &link);
        if (msclient_code (reply) != cases [i].code)
            fail_msg ("%s: got %s", cases [i].what, chat_errname (msclient_code (reply)));
        chat__main_reply__free_unpacked (reply, NULL);
        chain_link_free (&link);
    }
    //  The same statement, as the rules want it, goes in; its id then is
    //  taken for anything else
    s_sign (&st, s_identity (alice), &link);
    reply = s_create_link (a, &link);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_create_link (a, &link);
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_REQUEST);
    chat__main_reply__free_unpacked (reply, NULL);
    chain_link_free (&link);

    //  256 members in all is fine, 257 is not.
    static char names [257][32];
    const char *list [257];
    uint64_t ids [257];
    for (int i = 0; i < 257; i++) {
        s_name (names [i], "crowd");
        list [i] = names [i];
        uint8_t *cert = NULL;
        size_t len = 0;
        //  One identity for the crowd: only the creator signs here
        assert_int_equal (credential_cert_issue (F.ks_key, CREDENTIAL_REGISTERED, names [i],
                                                 rsakey_fingerprint (F.key), F.other_key,
                                                 wire_now (), &cert, &len), CHAT_OK);
        Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
        Chat__RegisterUserRequest reg = CHAT__REGISTER_USER_REQUEST__INIT;
        reg.certificate.data = cert;
        reg.certificate.len = len;
        request.body_case = CHAT__MAIN_REQUEST__BODY_REGISTER;
        request.register_ = &reg;
        ids [i] = msclient_send (a, &request);
        assert_true (ids [i] > 0);
        free (cert);
    }
    for (int i = 0; i < 257; i++) {
        assert_int_equal (msclient_recv (a, &reply), CHAT_OK);
        assert_int_equal (reply->request_id, ids [i]);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        chat__main_reply__free_unpacked (reply, NULL);
    }
    //  (sorted as the rules want: the names are crowdNNN, all one case)
    qsort (list, 257, sizeof (char *), (int (*) (const void *, const void *)) strcmp);
    const char *with_alice [258];
    with_alice [0] = alice;
    memcpy (with_alice + 1, list, sizeof list);
    qsort (with_alice, 257, sizeof (char *),
           (int (*) (const void *, const void *)) strcasecmp);
    Chat__MembershipStatement crowd = st;
    assert_int_equal (secret_random (id, 16), 0);
    crowd.members = (char **) with_alice;
    crowd.n_members = 257;
    s_sign (&crowd, s_identity (alice), &link);
    reply = s_create_link (a, &link);
    assert_int_equal (msclient_code (reply), CHAT_ERR_TOO_MANY_MEMBERS);
    chat__main_reply__free_unpacked (reply, NULL);
    chain_link_free (&link);
    reply = s_create (a, alice, list, 255, false, NULL);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_int_equal (reply->created->conversation->n_members, 256);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&a);
    msclient_destroy (&m);
}

static void
test_group_and_lists (void **state)
{
    (void) state;
    char alice [32], bob [32], carol [32], dave [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    s_name (carol, "carol");
    s_name (dave, "dave");
    msclient_t *a = s_user (alice, true, NULL);
    msclient_t *b = s_user (bob, true, NULL);
    msclient_t *c = s_user (carol, true, NULL);
    msclient_t *d = s_user (dave, true, NULL);
    uint8_t g1 [16], g2 [16];
    const char *others [] = { carol, bob };
    s_create_ok (a, alice, others, 2, false, g1);
    zclock_sleep (5);           //  (made in the same millisecond: by id)
    s_create_ok (a, alice, others, 2, false, g2);
    assert_memory_not_equal (g1, g2, 16);
    s_send_ok (b, g2, NULL);
    s_send_ok (c, g2, NULL);

    //  Carol sees both, the oldest first (not the busiest: every session
    //  numbers them alike), with members.
    Chat__MainReply *reply = s_simple (c, CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS);
    assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_CONVERSATIONS);
    Chat__ConversationList *list = reply->conversations;
    assert_int_equal (list->n_conversations, 2);
    assert_memory_equal (list->conversations [0]->conversation_id.data, g1, 16);
    assert_int_equal (list->conversations [0]->last_seq, 0);
    assert_int_equal (list->conversations [0]->last_time, 0);
    assert_memory_equal (list->conversations [1]->conversation_id.data, g2, 16);
    assert_int_equal (list->conversations [1]->last_seq, 2);
    assert_true (list->conversations [1]->last_time > 0);
    for (size_t i = 0; i < 2; i++) {
        Chat__ConversationSummary *summary = list->conversations [i];
        assert_int_equal (summary->n_members, 3);
        assert_string_equal (summary->members [0], alice);
        assert_string_equal (summary->members [1], bob);
        assert_string_equal (summary->members [2], carol);
        assert_int_equal (summary->epoch, 1);
        assert_false (summary->direct);
    }
    chat__main_reply__free_unpacked (reply, NULL);
    //  Dave is in none.
    reply = s_simple (d, CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS);
    assert_int_equal (reply->conversations->n_conversations, 0);
    chat__main_reply__free_unpacked (reply, NULL);

    //  Members: for members only.
    reply = s_get_members (b, g2, 16);
    assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_MEMBERS);
    assert_int_equal (reply->members->n_members, 3);
    assert_int_equal (reply->members->last_seq, 2);
    assert_int_equal (reply->members->epoch, 1);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&a);
    msclient_destroy (&b);
    msclient_destroy (&c);
    msclient_destroy (&d);
}

static void
test_not_a_member (void **state)
{
    (void) state;
    char alice [32], bob [32], eve [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    s_name (eve, "eve");
    msclient_t *a = s_user (alice, true, NULL);
    msclient_t *b = s_user (bob, true, NULL);
    msclient_t *e = s_user (eve, true, NULL);
    uint8_t id [16], unknown [16];
    const char *others [] = { bob };
    s_create_ok (a, alice, others, 1, true, id);
    s_send_ok (a, id, NULL);
    secret_random (unknown, sizeof unknown);
    Chat__Push *push = NULL;
    assert_int_equal (msclient_recv_push (b, PUSH_WAIT, &push), CHAT_OK);
    assert_int_equal (push->body_case, CHAT__PUSH__BODY_CONVERSATION);
    chat__push__free_unpacked (push, NULL);
    s_push_message (b, &push);
    chat__push__free_unpacked (push, NULL);

    //  A conversation eve is not in looks exactly like one that does not
    //  exist, for every request that names one.
    const uint8_t *ids [] = { id, unknown };
    char *messages [2][5];
    for (int i = 0; i < 2; i++) {
        uint8_t cmid [16];
        secret_random (cmid, sizeof cmid);
        char *token = s_token (10);
        Chat__MainReply *replies [] = {
            s_get_messages (e, ids [i], 16, 0, 0),
            s_get_members (e, ids [i], 16),
            s_send (e, ids [i], cmid, token),
            s_get_chain (e, ids [i], 16, 0),
            s_key_ticket (e, ids [i], 16, 1),
        };
        for (int j = 0; j < 5; j++) {
            assert_int_equal (msclient_code (replies [j]), CHAT_ERR_NOT_FOUND);
            messages [i][j] = strdup (replies [j]->error->message);
            chat__main_reply__free_unpacked (replies [j], NULL);
        }
        free (token);
    }
    for (int j = 0; j < 5; j++) {
        assert_string_equal (messages [0][j], messages [1][j]);
        free (messages [0][j]);
        free (messages [1][j]);
    }
    //  A short id is just as unknown.
    Chat__MainReply *reply = s_get_messages (e, id, 8, 0, 0);
    assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_FOUND);
    chat__main_reply__free_unpacked (reply, NULL);
    //  Nothing eve tried reached the conversation or its members.
    s_no_push (a);
    s_no_push (b);
    reply = s_get_messages (b, id, 16, 0, 0);
    assert_int_equal (reply->messages->n_messages, 1);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&a);
    msclient_destroy (&b);
    msclient_destroy (&e);
}

static void
test_send_refusals (void **state)
{
    (void) state;
    char alice [32], bob [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    msclient_t *a = s_user (alice, true, NULL);
    msclient_t *b = s_user (bob, true, NULL);
    uint8_t id [16], cmid [16];
    const char *others [] = { bob };
    s_create_ok (a, alice, others, 1, true, id);
    secret_random (cmid, sizeof cmid);
    //  Just over the limit (a 64 KiB message sealed is about 87 KB).
    char *big = (char *) malloc (WIRE_MAX_TOKEN + 2);
    memset (big, 'A', WIRE_MAX_TOKEN + 1);
    big [WIRE_MAX_TOKEN + 1] = 0;
    Chat__MainReply *reply = s_send (a, id, cmid, big);
    assert_int_equal (msclient_code (reply), CHAT_ERR_MESSAGE_TOO_LARGE);
    chat__main_reply__free_unpacked (reply, NULL);
    free (big);
    //  Not a Fernet token.
    reply = s_send (a, id, cmid, "hello in clear");
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_REQUEST);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_send (a, id, cmid, "");
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_REQUEST);
    chat__main_reply__free_unpacked (reply, NULL);
    //  A client_message_id of the wrong size.
    char *token = s_token (10);
    Chat__MainRequest request;
    Chat__SendMessageRequest send;
    s_send_request (&request, &send, id, cmid, token, 1);
    send.client_message_id.len = 4;
    s_expect (a, &request, CHAT_ERR_BAD_REQUEST);
    //  Another epoch than the current one: stale, and nothing stored
    uint64_t stale [] = { 0, 2, 99 };
    for (int i = 0; i < 3; i++) {
        s_send_request (&request, &send, id, cmid, token, stale [i]);
        reply = s_call (a, &request);
        assert_int_equal (msclient_code (reply), CHAT_ERR_STALE_EPOCH);
        chat__main_reply__free_unpacked (reply, NULL);
    }
    //  Bob cannot claim alice's client_message_id.
    reply = s_send (a, id, cmid, token);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_send (b, id, cmid, token);
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_REQUEST);
    chat__main_reply__free_unpacked (reply, NULL);
    //  A retry of the stored one is a duplicate, whatever epoch it names
    s_send_request (&request, &send, id, cmid, token, 5);
    reply = s_call (a, &request);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_true (reply->sent->duplicate);
    assert_int_equal (reply->sent->seq, 1);
    chat__main_reply__free_unpacked (reply, NULL);
    free (token);
    //  Only the one good message was stored, with its epoch.
    reply = s_get_messages (b, id, 16, 0, 0);
    assert_int_equal (reply->messages->n_messages, 1);
    assert_int_equal (reply->messages->last_seq, 1);
    assert_int_equal (reply->messages->messages [0]->epoch, 1);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&a);
    msclient_destroy (&b);
}

static void
test_push_to_every_other_session (void **state)
{
    (void) state;
    char alice [32], bob [32], carol [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    s_name (carol, "carol");
    msclient_t *a1 = s_user (alice, true, NULL);
    msclient_t *a2 = s_user (alice, false, F.other_key);
    msclient_t *b1 = s_user (bob, true, NULL);
    msclient_t *c1 = s_user (carol, true, NULL);     //  not a member

    uint8_t id [16];
    const char *others [] = { bob };
    s_create_ok (a1, alice, others, 1, false, id);
    //  Alice's other session and bob hear of the new conversation: its
    //  summary, no ticket (only the creator uploads keys)
    msclient_t *told [] = { a2, b1 };
    Chat__Push *push = NULL;
    for (int i = 0; i < 2; i++) {
        assert_int_equal (msclient_recv_push (told [i], PUSH_WAIT, &push), CHAT_OK);
        assert_int_equal (push->body_case, CHAT__PUSH__BODY_CONVERSATION);
        assert_memory_equal (push->conversation->conversation_id.data, id, 16);
        assert_int_equal (push->conversation->n_members, 2);
        assert_int_equal (push->conversation->epoch, 1);
        chat__push__free_unpacked (push, NULL);
    }

    char *token = NULL;
    uint64_t seq = s_send_ok (a1, id, &token);
    assert_int_equal (seq, 1);
    msclient_t *receivers [] = { a2, b1 };
    for (int i = 0; i < 2; i++) {
        Chat__StoredMessage *msg = s_push_message (receivers [i], &push);
        assert_memory_equal (msg->conversation_id.data, id, 16);
        assert_int_equal (msg->seq, 1);
        assert_int_equal (msg->epoch, 1);
        assert_string_equal (msg->sender, alice);
        assert_string_equal (msg->token, token);
        assert_int_equal (msg->client_message_id.len, 16);
        assert_true (msg->server_time > 0);
        chat__push__free_unpacked (push, NULL);
    }
    free (token);
    //  Not to the sending session, nor to anyone outside.
    s_no_push (a1);
    s_no_push (c1);

    //  Bob answers: both of alice's sessions hear it.
    seq = s_send_ok (b1, id, NULL);
    assert_int_equal (seq, 2);
    msclient_t *alices [] = { a1, a2 };
    for (int i = 0; i < 2; i++) {
        Chat__StoredMessage *msg = s_push_message (alices [i], &push);
        assert_int_equal (msg->seq, 2);
        assert_string_equal (msg->sender, bob);
        chat__push__free_unpacked (push, NULL);
    }
    s_no_push (b1);
    msclient_destroy (&a1);
    msclient_destroy (&a2);
    msclient_destroy (&b1);
    msclient_destroy (&c1);
}

static Chat__MainReply *
s_mark_read (msclient_t *client, const uint8_t *id, size_t id_len, uint64_t read_seq)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__MarkReadRequest mark = CHAT__MARK_READ_REQUEST__INIT;
    mark.conversation_id.data = (uint8_t *) id;
    mark.conversation_id.len = id_len;
    mark.read_seq = read_seq;
    request.body_case = CHAT__MAIN_REQUEST__BODY_MARK_READ;
    request.mark_read = &mark;
    return s_call (client, &request);
}

//  A read marker as mark_read answered it
static void
s_mark_read_ok (msclient_t *client, const uint8_t *id, uint64_t read_seq,
                uint64_t want_seq, uint64_t want_unread)
{
    Chat__MainReply *reply = s_mark_read (client, id, 16, read_seq);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_READ);
    assert_memory_equal (reply->read->conversation_id.data, id, 16);
    assert_int_equal (reply->read->read_seq, want_seq);
    assert_int_equal (reply->read->unread, want_unread);
    assert_true (reply->read->last_seq >= reply->read->read_seq);
    chat__main_reply__free_unpacked (reply, NULL);
}

//  The list's read marker and unread count of conversation id
static void
s_listed_read (msclient_t *client, const uint8_t *id, uint64_t want_seq, uint64_t want_unread)
{
    Chat__MainReply *reply = s_simple (client, CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS);
    assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_CONVERSATIONS);
    bool found = false;
    for (size_t i = 0; i < reply->conversations->n_conversations; i++) {
        Chat__ConversationSummary *summary = reply->conversations->conversations [i];
        if (memcmp (summary->conversation_id.data, id, 16) == 0) {
            found = true;
            assert_int_equal (summary->read_seq, want_seq);
            assert_int_equal (summary->unread, want_unread);
        }
    }
    assert_true (found);
    chat__main_reply__free_unpacked (reply, NULL);
}

static void
test_read_markers (void **state)
{
    (void) state;
    char alice [32], bob [32], carol [32];
    msclient_t *a1, *b1;
    uint8_t id [16];
    s_pair (alice, bob, &a1, &b1, id);
    msclient_t *a2 = s_user (alice, false, F.other_key);
    s_name (carol, "carol");
    msclient_t *c1 = s_user (carol, true, NULL);

    //  nothing read yet: every message from someone else is unread, none
    //  of one's own
    s_listed_read (a1, id, 0, 0);
    for (int i = 0; i < 3; i++)
        s_send_ok (b1, id, NULL);
    s_send_ok (a2, id, NULL);           //  alice's own, from her other session
    s_send_ok (b1, id, NULL);
    s_listed_read (a1, id, 0, 4);
    s_listed_read (b1, id, 0, 1);
    Chat__Push *push = NULL;
    for (msclient_t **c = (msclient_t *[]) { a1, a2, b1, NULL }; *c; c++)
        while (msclient_recv_push (*c, NO_PUSH_WAIT, &push) == CHAT_OK)
            chat__push__free_unpacked (push, NULL);

    //  alice reads up to 3: kept, told to her other session, not to bob
    s_mark_read_ok (a1, id, 3, 3, 1);
    assert_int_equal (msclient_recv_push (a2, PUSH_WAIT, &push), CHAT_OK);
    assert_int_equal (push->body_case, CHAT__PUSH__BODY_READ);
    assert_memory_equal (push->read->conversation_id.data, id, 16);
    assert_int_equal (push->read->read_seq, 3);
    assert_int_equal (push->read->unread, 1);
    assert_int_equal (push->read->last_seq, 5);
    chat__push__free_unpacked (push, NULL);
    s_no_push (a1);
    s_no_push (b1);
    s_listed_read (a2, id, 3, 1);
    //  never back, and nothing pushed for a marker that did not move
    s_mark_read_ok (a2, id, 1, 3, 1);
    s_no_push (a1);
    //  never past the last message
    s_mark_read_ok (a1, id, 1000, 5, 0);
    assert_int_equal (msclient_recv_push (a2, PUSH_WAIT, &push), CHAT_OK);
    assert_int_equal (push->read->read_seq, 5);
    chat__push__free_unpacked (push, NULL);
    //  kept across sessions: a new session after a logout sees it
    msclient_destroy (&a2);
    msclient_t *a3 = s_user (alice, false, F.other_key);
    s_listed_read (a3, id, 5, 0);
    s_send_ok (b1, id, NULL);
    s_listed_read (a3, id, 5, 1);
    //  bob's own marker is his alone
    s_listed_read (b1, id, 0, 1);

    //  not a member, no such conversation, a bad id: the same answer
    Chat__MainReply *reply = s_mark_read (c1, id, 16, 1);
    assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_FOUND);
    chat__main_reply__free_unpacked (reply, NULL);
    uint8_t other [16];
    secret_random (other, sizeof other);
    reply = s_mark_read (a1, other, 16, 1);
    assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_FOUND);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_mark_read (a1, id, 3, 1);
    assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_FOUND);
    chat__main_reply__free_unpacked (reply, NULL);
    s_listed_read (a1, id, 5, 1);
    //  and it needs a login
    msclient_t *stranger = s_client (F.key);
    reply = s_mark_read (stranger, id, 16, 1);
    assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_LOGGED_IN);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&stranger);
    msclient_destroy (&a1);
    msclient_destroy (&a3);
    msclient_destroy (&b1);
    msclient_destroy (&c1);
}

static void
test_idempotent_retry (void **state)
{
    (void) state;
    char alice [32], bob [32];
    msclient_t *a, *b;
    uint8_t id [16], cmid [16];
    s_pair (alice, bob, &a, &b, id);
    Chat__Push *push = NULL;

    secret_random (cmid, sizeof cmid);
    char *token = s_token (30);
    Chat__MainReply *first = s_send (a, id, cmid, token);
    assert_int_equal (msclient_code (first), CHAT_OK);
    assert_false (first->sent->duplicate);
    Chat__MainReply *again = s_send (a, id, cmid, token);
    assert_int_equal (msclient_code (again), CHAT_OK);
    assert_true (again->sent->duplicate);
    assert_int_equal (again->sent->seq, first->sent->seq);
    assert_int_equal (again->sent->server_time, first->sent->server_time);
    chat__main_reply__free_unpacked (first, NULL);
    chat__main_reply__free_unpacked (again, NULL);
    //  The retry in the same batch as the original: still stored once.
    uint8_t cmid2 [16];
    secret_random (cmid2, sizeof cmid2);
    Chat__MainRequest request;
    Chat__SendMessageRequest send;
    s_send_request (&request, &send, id, cmid2, token, 1);
    uint64_t r1 = msclient_send (a, &request);
    request.request_id = 0;
    uint64_t r2 = msclient_send (a, &request);
    Chat__MainReply *reply1, *reply2;
    assert_int_equal (msclient_recv (a, &reply1), CHAT_OK);
    assert_int_equal (msclient_recv (a, &reply2), CHAT_OK);
    assert_int_equal (reply1->request_id, r1);
    assert_int_equal (reply2->request_id, r2);
    assert_int_equal (reply1->sent->seq, 2);
    assert_int_equal (reply2->sent->seq, 2);
    assert_false (reply1->sent->duplicate);
    assert_true (reply2->sent->duplicate);
    chat__main_reply__free_unpacked (reply1, NULL);
    chat__main_reply__free_unpacked (reply2, NULL);
    free (token);

    //  Bob got each message once, and the store has each once.
    for (uint64_t seq = 1; seq <= 2; seq++) {
        Chat__StoredMessage *msg = s_push_message (b, &push);
        assert_int_equal (msg->seq, seq);
        chat__push__free_unpacked (push, NULL);
    }
    s_no_push (b);
    Chat__MainReply *reply = s_get_messages (b, id, 16, 0, 0);
    assert_int_equal (reply->messages->n_messages, 2);
    assert_memory_equal (reply->messages->messages [0]->client_message_id.data, cmid, 16);
    assert_memory_equal (reply->messages->messages [1]->client_message_id.data, cmid2, 16);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&a);
    msclient_destroy (&b);
}

static void
test_gap_recovery (void **state)
{
    (void) state;
    char alice [32], bob [32];
    msclient_t *a, *b;
    uint8_t id [16];
    s_pair (alice, bob, &a, &b, id);
    Chat__Push *push = NULL;

    //  Bob's push for message 1 is dropped on purpose.
    msclient_subscribe (b, false);
    s_sync (b);
    char *token1 = NULL;
    assert_int_equal (s_send_ok (a, id, &token1), 1);
    s_no_push (b);
    msclient_subscribe (b, true);
    s_sync (b);
    char *token2 = NULL;
    assert_int_equal (s_send_ok (a, id, &token2), 2);

    //  What bob's client does: it knew up to 0, hears of 2, fetches the gap.
    uint64_t known = 0;
    Chat__StoredMessage *msg = s_push_message (b, &push);
    assert_int_equal (msg->seq, 2);
    assert_true (msg->seq > known + 1);
    chat__push__free_unpacked (push, NULL);
    Chat__MainReply *reply = s_get_messages (b, id, 16, known, 0);
    assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_MESSAGES);
    assert_int_equal (reply->messages->n_messages, 2);
    assert_false (reply->messages->more);
    assert_int_equal (reply->messages->last_seq, 2);
    assert_int_equal (reply->messages->messages [0]->seq, 1);
    assert_string_equal (reply->messages->messages [0]->token, token1);
    assert_string_equal (reply->messages->messages [0]->sender, alice);
    assert_int_equal (reply->messages->messages [1]->seq, 2);
    assert_string_equal (reply->messages->messages [1]->token, token2);
    chat__main_reply__free_unpacked (reply, NULL);
    free (token1);
    free (token2);
    msclient_destroy (&a);
    msclient_destroy (&b);
}

static void
test_paging (void **state)
{
    (void) state;
    char alice [32], bob [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    msclient_t *a = s_client (F.key);       //  no pushes wanted here
    assert_int_equal (s_register (a, alice), CHAT_OK);
    assert_int_equal (s_login (a, alice), CHAT_OK);
    msclient_t *b = s_client (F.key);
    assert_int_equal (s_register (b, bob), CHAT_OK);
    assert_int_equal (s_login (b, bob), CHAT_OK);
    msclient_subscribe (b, false);
    uint8_t id [16];
    const char *members [] = { bob };
    s_create_ok (a, alice, members, 1, true, id);

    //  250 sends, pipelined: they arrive in batches and commit together.
    char *token = s_token (40);
    for (int i = 0; i < 250; i++) {
        uint8_t cmid [16];
        secret_random (cmid, sizeof cmid);
        Chat__MainRequest request;
        Chat__SendMessageRequest send;
        s_send_request (&request, &send, id, cmid, token, 1);
        assert_true (msclient_send (a, &request) > 0);
    }
    for (int i = 0; i < 250; i++) {
        Chat__MainReply *reply;
        assert_int_equal (msclient_recv (a, &reply), CHAT_OK);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        assert_int_equal (reply->sent->seq, i + 1);
        chat__main_reply__free_unpacked (reply, NULL);
    }
    free (token);

    uint64_t after = 0;
    size_t sizes [] = { 100, 100, 50 };
    bool more [] = { true, true, false };
    for (int page = 0; page < 3; page++) {
        Chat__MainReply *reply = s_get_messages (b, id, 16, after, 100);
        Chat__MessagePage *messages = reply->messages;
        assert_int_equal (messages->n_messages, sizes [page]);
        assert_int_equal (messages->more, more [page]);
        assert_int_equal (messages->last_seq, 250);
        for (size_t i = 0; i < messages->n_messages; i++)
            assert_int_equal (messages->messages [i]->seq, after + i + 1);
        after += messages->n_messages;
        chat__main_reply__free_unpacked (reply, NULL);
    }
    //  The default page is 100, and past the end is empty.
    Chat__MainReply *reply = s_get_messages (b, id, 16, 0, 0);
    assert_int_equal (reply->messages->n_messages, 100);
    assert_true (reply->messages->more);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_get_messages (b, id, 16, 250, 0);
    assert_int_equal (reply->messages->n_messages, 0);
    assert_false (reply->messages->more);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_get_messages (b, id, 16, UINT64_MAX, 0);
    assert_int_equal (reply->messages->n_messages, 0);
    chat__main_reply__free_unpacked (reply, NULL);
    //  A big limit is capped, not refused.
    reply = s_get_messages (b, id, 16, 0, 5000);
    assert_int_equal (reply->messages->n_messages, 250);
    assert_false (reply->messages->more);
    chat__main_reply__free_unpacked (reply, NULL);

    //  Big tokens: a page stops at WIRE_PAGE_BYTES of them.
    uint8_t big_id [16];
    char carol [32];
    s_name (carol, "carol");
    assert_int_equal (s_register (a, carol), CHAT_OK);
    const char *big_members [] = { carol };
    s_create_ok (a, alice, big_members, 1, true, big_id);
    char *big = s_token (72000);
    size_t big_len = strlen (big);
    assert_true (big_len < WIRE_MAX_TOKEN);
    size_t fit = WIRE_PAGE_BYTES / big_len;
    for (size_t i = 0; i < fit + 3; i++) {
        uint8_t cmid [16];
        secret_random (cmid, sizeof cmid);
        reply = s_send (a, big_id, cmid, big);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        chat__main_reply__free_unpacked (reply, NULL);
    }
    free (big);
    reply = s_get_messages (a, big_id, 16, 0, 0);
    assert_int_equal (reply->messages->n_messages, fit);
    assert_true (reply->messages->more);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_get_messages (a, big_id, 16, fit, 0);
    assert_int_equal (reply->messages->n_messages, 3);
    assert_false (reply->messages->more);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&a);
    msclient_destroy (&b);
}

static void
test_logout (void **state)
{
    (void) state;
    char alice [32], bob [32];
    msclient_t *a, *b;
    uint8_t id [16];
    s_pair (alice, bob, &a, &b, id);
    Chat__Push *push = NULL;

    Chat__MainReply *reply = s_simple (b, CHAT__MAIN_REQUEST__BODY_LOGOUT);
    assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_LOGGED_OUT);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_simple (b, CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS);
    assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_LOGGED_IN);
    chat__main_reply__free_unpacked (reply, NULL);
    //  A logged-out session hears nothing, but the channel still works.
    s_send_ok (a, id, NULL);
    s_no_push (b);
    s_ping (b);
    //  Log in again on the same channel: pushes resume.
    assert_int_equal (s_login (b, bob), CHAT_OK);
    s_sync (b);
    s_send_ok (a, id, NULL);
    Chat__StoredMessage *msg = s_push_message (b, &push);
    assert_int_equal (msg->seq, 2);
    chat__push__free_unpacked (push, NULL);
    msclient_destroy (&a);
    msclient_destroy (&b);
}

static void
test_bad_frames (void **state)
{
    (void) state;
    char alice [32];
    s_name (alice, "alice");
    msclient_t *good = s_user (alice, true, NULL);
    msclient_t *bad = s_user (alice, false, NULL);

    //  Garbage: refused in clear, the session lives on.
    uint8_t garbage [64];
    secret_random (garbage, sizeof garbage);
    garbage [0] = 0xff;
    assert_int_equal (msclient_send_frame (bad, garbage, sizeof garbage), 0);
    Chat__MainReply *reply = NULL;
    assert_int_equal (msclient_recv (bad, &reply), CHAT_ERR_MALFORMED);
    s_ping (bad);

    //  A replayed frame: refused, and not handled twice.
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__PingRequest ping = CHAT__PING_REQUEST__INIT;
    request.body_case = CHAT__MAIN_REQUEST__BODY_PING;
    request.ping = &ping;
    request.request_id = 99;
    uint8_t *payload = NULL, *frame = NULL;
    size_t len = 0, size = 0;
    assert_int_equal (wire_pack (&request.base, &payload, &len), CHAT_OK);
    assert_int_equal (channel_seal (msclient_channel (bad), payload, len, &frame, &size), CHAT_OK);
    assert_int_equal (msclient_send_frame (bad, frame, size), 0);
    assert_int_equal (msclient_recv (bad, &reply), CHAT_OK);
    assert_int_equal (reply->request_id, 99);
    chat__main_reply__free_unpacked (reply, NULL);
    assert_int_equal (msclient_send_frame (bad, frame, size), 0);
    assert_int_equal (msclient_recv (bad, &reply), CHAT_ERR_REPLAYED);
    free (payload);
    free (frame);

    //  Multipart is not ours either.
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "one");
    zmsg_addstr (msg, "two");
    zmsg_send (&msg, msclient_dealer (bad));
    assert_int_equal (msclient_recv (bad, &reply), CHAT_ERR_MALFORMED);

    //  An oversized frame: libzmq drops that connection, nothing else.
    size = WIRE_MAX_FRAME + 1024;
    frame = (uint8_t *) zmalloc (size);
    assert_int_equal (msclient_send_frame (bad, frame, size), 0);
    free (frame);
    s_ping (good);
    s_ping (good);
    //  The bad client comes back on a new connection (a new routing id):
    //  its session carries on.
    assert_int_equal (msclient_reconnect (bad), 0);
    s_ping (bad);
    msclient_destroy (&bad);
    s_ping (good);
    msclient_destroy (&good);
}

static void
test_admin_socket (void **state)
{
    (void) state;
    char alice [32], bob [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    msclient_t *a = s_user (alice, true, NULL);
    msclient_t *b = s_user (bob, true, NULL);
    uint8_t id [16];
    const char *members [] = { bob };
    s_create_ok (a, alice, members, 1, true, id);
    char *token = NULL;
    s_send_ok (a, id, &token);

    char *path = zsys_sprintf ("%s/admin.sock", F.dir);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    zsock_t *admin = zsock_new_req (NULL);
    zsock_set_rcvtimeo (admin, MSCLIENT_TIMEOUT);
    assert_int_equal (zsock_connect (admin, "ipc://%s", path), 0);
    free (path);

    Chat__AdminRequest request = CHAT__ADMIN_REQUEST__INIT;
    request.version = 1;
    uint8_t *data = NULL;
    size_t size = 0;
    assert_int_equal (wire_pack (&request.base, &data, &size), CHAT_OK);
    zframe_t *frame = zframe_new (data, size);
    free (data);
    assert_int_equal (zframe_send (&frame, admin, 0), 0);
    frame = zframe_recv (admin);
    assert_non_null (frame);
    Chat__AdminReply *reply = NULL;
    assert_int_equal (wire_unpack (&chat__admin_reply__descriptor, zframe_data (frame),
                                   zframe_size (frame), (ProtobufCMessage **) &reply),
                      CHAT_OK);
    zframe_destroy (&frame);
    assert_string_equal (reply->role, "mainserver");
    assert_non_null (strstr (reply->server_key_fingerprint, "SHA256:"));
    assert_true (reply->started_at > 0);
    bool user_seen = false, session_seen = false, conv_seen = false;
    for (size_t i = 0; i < reply->n_users; i++)
        if (streq (reply->users [i]->username, alice)) {
            user_seen = true;
            //  The identity as a fingerprint, never the key
            assert_string_equal (reply->users [i]->identity_fingerprint,
                                 rsakey_fingerprint_text (s_identity (alice)));
        }
    for (size_t i = 0; i < reply->n_sessions; i++)
        if (streq (reply->sessions [i]->username, bob)) {
            session_seen = true;
            assert_string_equal (reply->sessions [i]->client_key_fingerprint,
                                 rsakey_fingerprint_text (F.key));
        }
    char *hex = codec_hex (id, 16);
    for (size_t i = 0; i < reply->n_conversations; i++)
        if (streq (reply->conversations [i]->conversation_id, hex)) {
            conv_seen = true;
            Chat__AdminConversation *conv = reply->conversations [i];
            assert_int_equal (conv->message_count, 1);
            assert_int_equal (conv->n_members, 2);
            assert_int_equal (conv->epoch, 1);
            assert_true (conv->direct);
            assert_int_equal (strlen (conv->last_token_short), 16);
            assert_memory_equal (conv->last_token_short, token, 16);
        }
    free (hex);
    assert_true (user_seen);
    assert_true (session_seen);
    assert_true (conv_seen);
    chat__admin_reply__free_unpacked (reply, NULL);
    free (token);

    //  Garbage still gets an answer, so the REP socket never sticks.
    zstr_send (admin, "garbage");
    frame = zframe_recv (admin);
    assert_non_null (frame);
    zframe_destroy (&frame);
    zsock_destroy (&admin);
    msclient_destroy (&a);
    msclient_destroy (&b);
}

//  START refused: no key server key, or none at the path given; a second
//  server on the same directory
static void
s_start_refused (const char *dir, const char *keyserver_key, const char *expect)
{
    actorthread_t *server = actorthread_new (mainserver_actor, NULL);
    zstr_sendx (actorthread_sock (server), "DATA", dir, NULL);
    char *answer = zstr_recv (actorthread_sock (server));
    zstr_free (&answer);
    if (keyserver_key) {
        zstr_sendx (actorthread_sock (server), "KEYSERVER-KEY", keyserver_key, NULL);
        answer = zstr_recv (actorthread_sock (server));
        zstr_free (&answer);
    }
    zstr_send (actorthread_sock (server), "START");
    answer = zstr_recv (actorthread_sock (server));
    assert_non_null (strstr (answer, "ERROR"));
    if (!strstr (answer, expect))
        fail_msg ("'%s' does not say %s", answer, expect);
    zstr_free (&answer);
    actorthread_destroy (&server);
}

//  A second server on its own data directory: restart and idle sessions.
static void
test_restart_and_idle (void **state)
{
    (void) state;
    char dir [64];
    strcpy (dir, "/tmp/test_mainserver2.XXXXXX");
    assert_non_null (mkdtemp (dir));

    //  Without the key server's public key it does not start, and says
    //  which file to copy from where
    s_start_refused (dir, NULL, "keyserver.pub");
    s_start_refused (dir, "/nonexistent/keyserver.pub", "/nonexistent/keyserver.pub");

    char *endpoint, *push_endpoint;
    actorthread_t *server = s_server_start (dir, NULL, &endpoint, &push_endpoint);
    struct stat st;
    char *key_path = zsys_sprintf ("%s/server.key", dir);
    assert_int_equal (stat (key_path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    free (key_path);
    key_path = zsys_sprintf ("%s/%s", dir, MAINSERVER_PUBLIC_FILE);
    assert_int_equal (stat (key_path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0644);
    free (key_path);
    zstr_send (actorthread_sock (server), "FINGERPRINT");
    char *fingerprint = zstr_recv (actorthread_sock (server));
    rsakey_t *published = s_load_public (dir);
    assert_string_equal (fingerprint, rsakey_fingerprint_text (published));
    rsakey_destroy (&published);
    //  One server per data directory.
    s_start_refused (dir, F.keyserver_pub, "in use");

    char alice [32], bob [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    msclient_t *a = msclient_new (F.key, endpoint, push_endpoint);
    assert_int_equal (s_register (a, alice), CHAT_OK);
    assert_int_equal (s_register (a, bob), CHAT_OK);
    assert_int_equal (s_login (a, alice), CHAT_OK);
    uint8_t id [16];
    const char *members [] = { bob };
    s_create_ok (a, alice, members, 1, true, id);
    char *tokens [5];
    for (int i = 0; i < 5; i++)
        assert_int_equal (s_send_ok (a, id, &tokens [i]), i + 1);
    msclient_destroy (&a);
    actorthread_destroy (&server);
    zstr_free (&endpoint);
    zstr_free (&push_endpoint);

    //  Restarted: same key, same users, same conversation and messages;
    //  the next message carries on from 5.
    server = s_server_start (dir, "500", &endpoint, &push_endpoint);
    zstr_send (actorthread_sock (server), "FINGERPRINT");
    char *again = zstr_recv (actorthread_sock (server));
    assert_string_equal (again, fingerprint);
    zstr_free (&again);
    zstr_free (&fingerprint);
    msclient_t *b = msclient_new (F.key, endpoint, push_endpoint);
    assert_int_equal (s_login (b, bob), CHAT_OK);
    Chat__MainReply *reply = s_simple (b, CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS);
    assert_int_equal (reply->conversations->n_conversations, 1);
    assert_memory_equal (reply->conversations->conversations [0]->conversation_id.data, id, 16);
    assert_int_equal (reply->conversations->conversations [0]->last_seq, 5);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_get_messages (b, id, 16, 0, 0);
    assert_int_equal (reply->messages->n_messages, 5);
    for (int i = 0; i < 5; i++) {
        assert_string_equal (reply->messages->messages [i]->token, tokens [i]);
        free (tokens [i]);
    }
    chat__main_reply__free_unpacked (reply, NULL);
    assert_int_equal (s_send_ok (b, id, NULL), 6);

    //  Idle for longer than 500 ms: the session is gone (and with it bob's
    //  place in the online index: the push below must not touch it).
    msclient_t *a2 = msclient_new (F.key, endpoint, push_endpoint);
    assert_int_equal (s_login (a2, alice), CHAT_OK);
    for (int i = 0; i < 15; i++) {
        zclock_sleep (100);
        s_ping (a2);            //  alice stays active
    }
    reply = NULL;
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__PingRequest ping = CHAT__PING_REQUEST__INIT;
    request.body_case = CHAT__MAIN_REQUEST__BODY_PING;
    request.ping = &ping;
    assert_int_equal (msclient_request (b, &request, &reply), CHAT_ERR_UNKNOWN_SESSION);
    assert_int_equal (s_send_ok (a2, id, NULL), 7);
    msclient_destroy (&b);
    //  A new channel and a fresh certificate: back in.
    b = msclient_new (F.key, endpoint, push_endpoint);
    assert_int_equal (s_login (b, bob), CHAT_OK);
    reply = s_get_messages (b, id, 16, 5, 0);
    assert_int_equal (reply->messages->n_messages, 2);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&b);
    msclient_destroy (&a2);
    actorthread_destroy (&server);
    zstr_free (&endpoint);
    zstr_free (&push_endpoint);
    char *command = zsys_sprintf ("rm -rf '%s'", dir);
    assert_int_equal (system (command), 0);
    free (command);
}

//  A conversation of alice and bob (names made unique) made through a
//  server in a fresh directory, which is then stopped so that a test can
//  write into its store; with token, alice sent one message (its token
//  returned). Remove o->dir with s_dir_remove.
typedef struct {
    char dir [64];
    char alice [32];
    char bob [32];
    uint8_t id [16];
} offline_t;

static void
s_offline_conversation (offline_t *o, char **token)
{
    strcpy (o->dir, "/tmp/test_mainserver3.XXXXXX");
    assert_non_null (mkdtemp (o->dir));
    char *endpoint, *push_endpoint;
    actorthread_t *server = s_server_start (o->dir, NULL, &endpoint, &push_endpoint);
    s_name (o->alice, "alice");
    s_name (o->bob, "bob");
    msclient_t *a = msclient_new (F.key, endpoint, push_endpoint);
    assert_int_equal (s_register (a, o->alice), CHAT_OK);
    assert_int_equal (s_register (a, o->bob), CHAT_OK);
    assert_int_equal (s_login (a, o->alice), CHAT_OK);
    const char *members [] = { o->bob };
    s_create_ok (a, o->alice, members, 1, false, o->id);
    if (token)
        assert_int_equal (s_send_ok (a, o->id, token), 1);
    msclient_destroy (&a);
    actorthread_destroy (&server);
    zstr_free (&endpoint);
    zstr_free (&push_endpoint);
}

static void
s_dir_remove (const char *dir)
{
    char *command = zsys_sprintf ("rm -rf '%s'", dir);
    assert_int_equal (system (command), 0);
    free (command);
}

//  A chain longer than its first link, as the next issue's membership
//  changes will make them: written into a stopped server's store (checked
//  by the chain rules on the way, as that server will), then served
static void
test_longer_chain (void **state)
{
    (void) state;
    offline_t o;
    char *token = NULL;
    s_offline_conversation (&o, &token);
    char *dir = o.dir, *alice = o.alice, *bob = o.bob;
    uint8_t *id = o.id;
    char *endpoint, *push_endpoint;

    //  149 links after the first: re-keys by bob, then bob leaves
    char *path = s_store_path (dir);
    msgstore_t *store = msgstore_open (path);
    free (path);
    assert_non_null (store);
    msgstore_conv_t conv;
    assert_int_equal (msgstore_conv_get (store, id, 16, &conv), CHAT_OK);
    chain_t *chain = NULL;
    msctx_t ctx = { .store = store };
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    for (uint64_t epoch = 2; epoch <= 150; epoch++) {
        //  Checked as the server will: on the stored head, with the
        //  actor's key
        uint8_t key [EPOCHKEY_SIZE], check [EPOCHKEY_CHECK_SIZE];
        assert_int_equal (epochkey_generate (key), CHAT_OK);
        assert_int_equal (epochkey_check_value (key, id, epoch, check), CHAT_OK);
        chain_destroy (&chain);
        assert_int_equal (msgstore_conv_get (store, id, 16, &conv), CHAT_OK);
        chain = mschain_load (&ctx, &conv);
        assert_non_null (chain);
        bool leave = epoch == 150;
        chain_link_t link;
        assert_int_equal (chain_make_change (chain, leave? CHAIN_LEAVE: CHAIN_REKEY, bob,
                                             NULL, 0, NULL, leave? NULL: check,
                                             s_identity (bob), wire_now_ms (), &link),
                          CHAT_OK);
        Chat__SignedStatement view;
        chain_link_view (&link, &view);
        assert_int_equal (chain_append (chain, &view, s_identity (bob)), CHAT_OK);
        const Chat__MembershipStatement *head = chain_head (chain);
        msgstore_link_t stored = { id, epoch, link.statement, link.statement_len,
                                   link.signature, link.signature_len, bob,
                                   leave? CHAIN_LEAVE: CHAIN_REKEY };
        assert_int_equal (msgstore_conv_append (store, &stored, head->title,
                                                (const char *const *) head->members,
                                                head->n_members), CHAT_OK);
        chain_link_free (&link);
    }
    chain_destroy (&chain);
    assert_int_equal (msgstore_commit (store), CHAT_OK);
    msgstore_destroy (&store);

    actorthread_t *server = s_server_start (dir, NULL, &endpoint, &push_endpoint);
    msclient_t *a = msclient_new (F.key, endpoint, push_endpoint);
    assert_int_equal (s_login (a, alice), CHAT_OK);
    //  The chain in pages of 100, each link as signed, verifiable in order
    chain = chain_new ();
    uint64_t after = 0;
    size_t pages = 0;
    bool more = true;
    while (more) {
        Chat__MainReply *reply = s_get_chain (a, id, 16, after);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        more = reply->chain->more;
        assert_true (reply->chain->n_statements <= 100);
        for (size_t i = 0; i < reply->chain->n_statements; i++) {
            char actor [USERNAME_MAX + 1];
            assert_int_equal (chain_link_actor (reply->chain->statements [i], actor),
                              CHAT_OK);
            assert_int_equal (chain_append (chain, reply->chain->statements [i],
                                            s_identity (actor)), CHAT_OK);
            after++;
        }
        pages++;
        chat__main_reply__free_unpacked (reply, NULL);
    }
    assert_int_equal (pages, 2);
    assert_int_equal (after, 150);
    assert_int_equal (chain_epoch (chain), 150);
    assert_false (chain_is_member (chain, bob));
    chain_destroy (&chain);
    //  The summary says what the head says
    Chat__MainReply *reply = s_get_members (a, id, 16);
    assert_int_equal (reply->members->epoch, 150);
    assert_int_equal (reply->members->n_members, 1);
    chat__main_reply__free_unpacked (reply, NULL);
    //  Tickets: none for a LEAVE epoch, none for another's epoch, the
    //  creator's own epoch 1 still (for alice, now the only member)
    reply = s_key_ticket (a, id, 16, 150);
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_REQUEST);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_key_ticket (a, id, 16, 77);
    assert_int_equal (msclient_code (reply), CHAT_ERR_BAD_REQUEST);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_key_ticket (a, id, 16, 1);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    chat__main_reply__free_unpacked (reply, NULL);
    //  Bob left: the conversation is gone for him
    msclient_t *b = msclient_new (F.key, endpoint, push_endpoint);
    assert_int_equal (s_login (b, bob), CHAT_OK);
    reply = s_get_chain (b, id, 16, 0);
    assert_int_equal (msclient_code (reply), CHAT_ERR_NOT_FOUND);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&b);
    //  Messages go under epoch 150 only; a retry of one sent under epoch 1
    //  is still a duplicate
    reply = s_get_messages (a, id, 16, 0, 0);
    uint8_t cmid [16];
    memcpy (cmid, reply->messages->messages [0]->client_message_id.data, 16);
    assert_int_equal (reply->messages->messages [0]->epoch, 1);
    chat__main_reply__free_unpacked (reply, NULL);
    reply = s_send (a, id, cmid, token);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_true (reply->sent->duplicate);
    chat__main_reply__free_unpacked (reply, NULL);
    cmid [0] ^= 1;
    reply = s_send (a, id, cmid, token);
    assert_int_equal (msclient_code (reply), CHAT_ERR_STALE_EPOCH);
    chat__main_reply__free_unpacked (reply, NULL);
    Chat__MainRequest request;
    Chat__SendMessageRequest send;
    s_send_request (&request, &send, id, cmid, token, 150);
    reply = s_call (a, &request);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_int_equal (reply->sent->seq, 2);
    chat__main_reply__free_unpacked (reply, NULL);
    free (token);
    msclient_destroy (&a);
    actorthread_destroy (&server);
    zstr_free (&endpoint);
    zstr_free (&push_endpoint);
    s_dir_remove (dir);
}

//  get_chain cuts its pages by bytes too: a page of the largest links
//  would not fit a frame once sealed. The links here are stored straight
//  into the database as opaque bytes (get_chain hands out what is stored
//  and reads none of it).
static void
test_chain_pages_by_bytes (void **state)
{
    (void) state;
    offline_t o;
    s_offline_conversation (&o, NULL);
    char *dir = o.dir, *alice = o.alice, *bob = o.bob;
    uint8_t *id = o.id;
    char *endpoint, *push_endpoint;

    enum { LINKS = 200, STATEMENT = 12000, SIGNATURE = 256 };
    char *path = s_store_path (dir);
    msgstore_t *store = msgstore_open (path);
    free (path);
    assert_non_null (store);
    const char *both [] = { alice, bob };
    uint8_t statement [STATEMENT], signature [SIGNATURE];
    assert_int_equal (msgstore_begin (store), CHAT_OK);
    for (uint64_t epoch = 2; epoch <= LINKS; epoch++) {
        memset (statement, (int) epoch, sizeof statement);
        memset (signature, (int) ~epoch, sizeof signature);
        msgstore_link_t stored = { id, epoch, statement, sizeof statement,
                                   signature, sizeof signature, alice, CHAIN_REKEY };
        assert_int_equal (msgstore_conv_append (store, &stored, "", both, 2), CHAT_OK);
    }
    assert_int_equal (msgstore_commit (store), CHAT_OK);
    msgstore_destroy (&store);

    actorthread_t *server = s_server_start (dir, NULL, &endpoint, &push_endpoint);
    msclient_t *a = msclient_new (F.key, endpoint, push_endpoint);
    assert_int_equal (s_login (a, alice), CHAT_OK);
    uint64_t after = 0;
    size_t pages = 0;
    bool more = true;
    while (more) {
        Chat__MainReply *reply = s_get_chain (a, id, 16, after);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        more = reply->chain->more;
        size_t bytes = 0;
        assert_true (reply->chain->n_statements > 0);
        for (size_t i = 0; i < reply->chain->n_statements; i++) {
            const Chat__SignedStatement *link = reply->chain->statements [i];
            bytes += link->statement.len + link->signature.len;
            after++;
            if (after > 1) {
                //  Each link as stored, in order
                assert_int_equal (link->statement.len, STATEMENT);
                assert_int_equal (link->statement.data [0], (uint8_t) after);
                assert_int_equal (link->signature.data [0], (uint8_t) ~after);
            }
        }
        assert_true (bytes <= WIRE_PAGE_BYTES);
        //  Full pages hold as many links as fit, fewer than 100
        if (more)
            assert_true (bytes + STATEMENT + SIGNATURE > WIRE_PAGE_BYTES);
        pages++;
        chat__main_reply__free_unpacked (reply, NULL);
    }
    assert_int_equal (after, LINKS);
    assert_int_equal (pages, 3);
    msclient_destroy (&a);
    actorthread_destroy (&server);
    zstr_free (&endpoint);
    zstr_free (&push_endpoint);
    s_dir_remove (dir);
}

//  A Hello of protocol version 1 (or any but 2) is refused in clear
static void
test_version_1_hello (void **state)
{
    (void) state;
    testclient_t *client = testclient_new (F.endpoint, F.key);
    assert_non_null (client);
    assert_int_equal (testclient_hello_version (client, 1), 0);
    assert_int_equal (testclient_refusal (client), CHAT_ERR_BAD_VERSION);
    testclient_destroy (&client);
}

//  The push endpoint the Welcome names when the bound one is not what
//  clients reach: given before the binds, never after
static void
test_push_public (void **state)
{
    (void) state;
    char dir [64];
    strcpy (dir, "/tmp/test_mainserver4.XXXXXX");
    assert_non_null (mkdtemp (dir));
    actorthread_t *server = actorthread_new (mainserver_actor, NULL);
    const char *setup [][2] = {
        { "DATA", dir }, { "KEYSERVER-KEY", F.keyserver_pub },
        { "PUSH-PUBLIC", "tcp://chat.example.org:6000" }, { "START", NULL }
    };
    char *answer;
    for (int i = 0; i < 4; i++) {
        if (setup [i][1])
            zstr_sendx (actorthread_sock (server), setup [i][0], setup [i][1], NULL);
        else
            zstr_send (actorthread_sock (server), setup [i][0]);
        answer = zstr_recv (actorthread_sock (server));
        assert_string_equal (answer, "OK");
        zstr_free (&answer);
    }
    zstr_sendx (actorthread_sock (server), "BIND", "tcp://127.0.0.1:*", NULL);
    char *endpoint = zstr_recv (actorthread_sock (server));
    zstr_sendx (actorthread_sock (server), "PUSH-BIND", "tcp://127.0.0.1:*", NULL);
    char *push_endpoint = zstr_recv (actorthread_sock (server));
    zstr_sendx (actorthread_sock (server), "PUSH-PUBLIC", "tcp://other.example.org:6000", NULL);
    answer = zstr_recv (actorthread_sock (server));
    assert_non_null (strstr (answer, "ERROR"));
    zstr_free (&answer);
    msclient_t *client = msclient_new (F.key, endpoint, NULL);
    assert_non_null (client);
    assert_string_equal (channel_peer_push_endpoint (msclient_channel (client)),
                         "tcp://chat.example.org:6000");
    msclient_destroy (&client);
    actorthread_destroy (&server);
    zstr_free (&endpoint);
    zstr_free (&push_endpoint);

    //  A wildcard bind is named as it is: the client puts in the host it
    //  reached (proto/README.md section 2)
    server = actorthread_new (mainserver_actor, NULL);
    for (int i = 0; i < 4; i++) {
        if (i == 2)
            continue;
        if (setup [i][1])
            zstr_sendx (actorthread_sock (server), setup [i][0], setup [i][1], NULL);
        else
            zstr_send (actorthread_sock (server), setup [i][0]);
        answer = zstr_recv (actorthread_sock (server));
        assert_string_equal (answer, "OK");
        zstr_free (&answer);
    }
    zstr_sendx (actorthread_sock (server), "BIND", "tcp://127.0.0.1:*", NULL);
    endpoint = zstr_recv (actorthread_sock (server));
    zstr_sendx (actorthread_sock (server), "PUSH-BIND", "tcp://*:*", NULL);
    push_endpoint = zstr_recv (actorthread_sock (server));
    client = msclient_new (F.key, endpoint, NULL);
    assert_non_null (client);
    const char *named = channel_peer_push_endpoint (msclient_channel (client));
    assert_true (strncmp (named, "tcp://*:", 8) == 0 || strncmp (named, "tcp://0.0.0.0:", 14) == 0);
    assert_string_equal (strrchr (named, ':'), strrchr (push_endpoint, ':'));
    msclient_destroy (&client);
    actorthread_destroy (&server);
    zstr_free (&endpoint);
    zstr_free (&push_endpoint);
    char *command = zsys_sprintf ("rm -rf '%s'", dir);
    assert_int_equal (system (command), 0);
    free (command);
}

static void
s_limit (const char *name, const char *value)
{
    zstr_sendx (actorthread_sock (F.server), "LIMIT", name, value, NULL);
    char *answer = zstr_recv (actorthread_sock (F.server));
    assert_non_null (answer);
    assert_string_equal (answer, "OK");
    zstr_free (&answer);
}

//  The reply must be this refusal, with a wait of at most max_ms
static void
s_refused (Chat__MainReply *reply, int code, uint32_t max_ms)
{
    assert_int_equal (msclient_code (reply), code);
    assert_true (reply->error->retry_after_ms > 0);
    assert_true (reply->error->retry_after_ms <= max_ms);
    chat__main_reply__free_unpacked (reply, NULL);
}

//  Per-user quotas and the per-user session cap, set low while serving
//  (the LIMIT command applies at once)
static void
test_quotas (void **state)
{
    (void) state;
    char alice [32], bob [32];
    msclient_t *a, *b;
    uint8_t id [16], cmid [16];
    s_pair (alice, bob, &a, &b, id);

    //  Messages a second: 3 at once, then one a second
    s_limit ("messages_per_second", "1");
    s_limit ("message_burst", "3");
    char *token = s_token (20);
    for (int i = 0; i < 3; i++) {
        secret_random (cmid, sizeof cmid);
        Chat__MainReply *reply = s_send (a, id, cmid, token);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        chat__main_reply__free_unpacked (reply, NULL);
    }
    secret_random (cmid, sizeof cmid);
    s_refused (s_send (a, id, cmid, token), CHAT_ERR_RATE_LIMITED, 1000);
    //  bob is another user: not slowed
    secret_random (cmid, sizeof cmid);
    Chat__MainReply *reply = s_send (b, id, cmid, token);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    chat__main_reply__free_unpacked (reply, NULL);
    free (token);
    s_limit ("messages_per_second", "0");

    //  Bytes a day: 10,000 bytes of tokens at once
    s_limit ("bytes_per_day", "10000");
    token = s_token (2500);
    assert_true (strlen (token) > 3333 && strlen (token) < 5000);
    for (int i = 0; i < 2; i++) {
        secret_random (cmid, sizeof cmid);
        reply = s_send (b, id, cmid, token);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        chat__main_reply__free_unpacked (reply, NULL);
    }
    secret_random (cmid, sizeof cmid);
    s_refused (s_send (b, id, cmid, token), CHAT_ERR_QUOTA, 86400000);
    free (token);
    s_limit ("bytes_per_day", "0");

    //  Conversations an hour: 2, then one each half hour; opening the
    //  existing 1:1 is refused too while over (documented)
    s_limit ("conversations_per_hour", "2");
    char carol [32];
    s_name (carol, "carol");
    msclient_t *c = s_user (carol, true, NULL);
    const char *members [] = { alice, bob };
    uint8_t group [16];
    s_create_ok (c, carol, members, 2, false, group);
    s_create_ok (c, carol, members, 2, false, group);
    s_refused (s_create (c, carol, members, 2, false, NULL), CHAT_ERR_QUOTA, 1800000);
    s_limit ("conversations_per_hour", "120");

    //  Sessions per user: 2 of carol's (c and one more), then no third
    s_limit ("sessions_per_user", "2");
    msclient_t *c2 = s_client (F.key);
    assert_int_equal (s_login (c2, carol), CHAT_OK);
    msclient_t *c3 = s_client (F.key);
    assert_int_equal (s_login (c3, carol), CHAT_ERR_QUOTA);
    //  One logs out: the third gets its place
    Chat__MainReply *out = s_simple (c2, CHAT__MAIN_REQUEST__BODY_LOGOUT);
    assert_int_equal (msclient_code (out), CHAT_OK);
    chat__main_reply__free_unpacked (out, NULL);
    assert_int_equal (s_login (c3, carol), CHAT_OK);
    s_limit ("sessions_per_user", "32");
    msclient_destroy (&c3);
    msclient_destroy (&c2);
    msclient_destroy (&c);
    msclient_destroy (&a);
    msclient_destroy (&b);
}

//  ---------------------------------------------------------------- changes

//  The conversation's chain as the server has it, each link verified
static chain_t *
s_chain_of (msclient_t *client, const uint8_t *id)
{
    chain_t *chain = chain_new ();
    assert_non_null (chain);
    bool more = true;
    while (more) {
        Chat__MainReply *reply = s_get_chain (client, id, 16, chain_epoch (chain));
        assert_int_equal (msclient_code (reply), CHAT_OK);
        more = reply->chain->more;
        for (size_t i = 0; i < reply->chain->n_statements; i++) {
            char actor [USERNAME_MAX + 1];
            assert_int_equal (chain_link_actor (reply->chain->statements [i], actor),
                              CHAT_OK);
            assert_int_equal (chain_append (chain, reply->chain->statements [i],
                                            s_identity (actor)), CHAT_OK);
        }
        chat__main_reply__free_unpacked (reply, NULL);
    }
    return chain;
}

//  A change made on chain's head by actor (signed with signer, NULL: the
//  actor's identity), with a fresh key check but for a LEAVE
static void
s_change_link (chain_t *chain, int action, const char *actor, const char *const *subjects,
               size_t count, const char *title, rsakey_t *signer, chain_link_t *link)
{
    const Chat__MembershipStatement *head = chain_head (chain);
    uint8_t key [EPOCHKEY_SIZE], check [EPOCHKEY_CHECK_SIZE];
    assert_int_equal (epochkey_generate (key), CHAT_OK);
    assert_int_equal (epochkey_check_value (key, head->conversation_id.data,
                                            head->epoch + 1, check), CHAT_OK);
    assert_int_equal (chain_make_change (chain, action, actor, subjects, count, title,
                                         action == CHAIN_LEAVE? NULL: check,
                                         signer? signer: s_identity (actor),
                                         wire_now_ms (), link), CHAT_OK);
}

static Chat__MainReply *
s_change_send (msclient_t *client, const chain_link_t *link)
{
    return s_link_request (client, link, true);
}

//  Make a change on the server's current chain and send it; the reply's
//  code
static int
s_change (msclient_t *client, const uint8_t *id, int action, const char *actor,
          const char *const *subjects, size_t count, const char *title)
{
    chain_t *chain = s_chain_of (client, id);
    chain_link_t link;
    s_change_link (chain, action, actor, subjects, count, title, NULL, &link);
    Chat__MainReply *reply = s_change_send (client, &link);
    int code = msclient_code (reply);
    if (code == CHAT_OK) {
        assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_CHANGED);
        assert_int_equal (reply->changed->conversation->epoch, chain_epoch (chain) + 1);
        assert_int_equal (reply->changed->ticket.len == 0, action == CHAIN_LEAVE);
        if (action != CHAIN_LEAVE)
            assert_true (s_ticket_valid (&reply->changed->ticket, actor, F.key));
    }
    chat__main_reply__free_unpacked (reply, NULL);
    chain_link_free (&link);
    chain_destroy (&chain);
    return code;
}

//  The next push for client is a summary of conversation id at epoch
static void
s_push_summary_ok (msclient_t *client, const uint8_t *id, uint64_t epoch, size_t members)
{
    Chat__Push *push = NULL;
    assert_int_equal (msclient_recv_push (client, PUSH_WAIT, &push), CHAT_OK);
    assert_int_equal (push->body_case, CHAT__PUSH__BODY_CONVERSATION);
    assert_memory_equal (push->conversation->conversation_id.data, id, 16);
    assert_int_equal (push->conversation->epoch, epoch);
    assert_int_equal (push->conversation->n_members, members);
    chat__push__free_unpacked (push, NULL);
}

static void
s_code (Chat__MainReply *reply, int code)
{
    assert_int_equal (msclient_code (reply), code);
    chat__main_reply__free_unpacked (reply, NULL);
}

//  Take every push waiting for client
static void
s_drain (msclient_t *client)
{
    Chat__Push *push = NULL;
    while (msclient_recv_push (client, NO_PUSH_WAIT, &push) == CHAT_OK)
        chat__push__free_unpacked (push, NULL);
}

//  Send one message under epoch; the seq
static uint64_t
s_send_epoch (msclient_t *client, const uint8_t *id, uint64_t epoch)
{
    uint8_t cmid [16];
    secret_random (cmid, sizeof cmid);
    char *token = s_token (20);
    Chat__MainRequest request;
    Chat__SendMessageRequest send;
    s_send_request (&request, &send, id, cmid, token, epoch);
    Chat__MainReply *reply = s_call (client, &request);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    uint64_t seq = reply->sent->seq;
    chat__main_reply__free_unpacked (reply, NULL);
    free (token);
    return seq;
}

//  Add, title, admin, remove, leave: who may, what each sees after
static void
test_change_flow (void **state)
{
    (void) state;
    char alice [32], bob [32], carol [32], dave [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    s_name (carol, "carol");
    s_name (dave, "dave");
    msclient_t *a = s_user (alice, true, NULL);
    msclient_t *b = s_user (bob, true, NULL);
    msclient_t *c = s_user (carol, true, NULL);
    msclient_t *d = s_user (dave, true, NULL);
    const char *others [] = { bob };
    uint8_t id [16];
    s_create_ok (a, alice, others, 1, false, id);
    s_push_summary_ok (b, id, 1, 2);
    assert_int_equal (s_send_epoch (a, id, 1), 1);
    Chat__Push *push = NULL;
    chat__push__free_unpacked ((s_push_message (b, &push), push), NULL);

    //  Any member adds: bob adds carol; alice, and carol, hear of it
    const char *add [] = { carol };
    assert_int_equal (s_change (b, id, CHAIN_ADD, bob, add, 1, NULL), CHAT_OK);
    s_push_summary_ok (a, id, 2, 3);
    s_push_summary_ok (c, id, 2, 3);
    //  Carol reads from her joining on: not message 1 (epoch 1)
    Chat__MainReply *reply = s_get_messages (c, id, 16, 0, 0);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_int_equal (reply->messages->n_messages, 0);
    chat__main_reply__free_unpacked (reply, NULL);
    //  A send under epoch 1 is stale now; under 2 carol reads it
    uint8_t cmid [16];
    secret_random (cmid, sizeof cmid);
    char *token = s_token (20);
    Chat__MainRequest request;
    Chat__SendMessageRequest send;
    s_send_request (&request, &send, id, cmid, token, 1);
    s_expect (a, &request, CHAT_ERR_STALE_EPOCH);
    free (token);
    assert_int_equal (s_send_epoch (a, id, 2), 2);
    reply = s_get_messages (c, id, 16, 0, 0);
    assert_int_equal (reply->messages->n_messages, 1);
    assert_int_equal (reply->messages->messages [0]->seq, 2);
    assert_int_equal (reply->messages->messages [0]->epoch, 2);
    chat__main_reply__free_unpacked (reply, NULL);
    //  and her unread count is of those alone (bob's counts both)
    s_listed_read (c, id, 0, 1);
    s_listed_read (b, id, 0, 2);
    //  ... even asking from before her joining
    reply = s_get_messages (c, id, 16, 0, 1);
    assert_int_equal (reply->messages->messages [0]->seq, 2);
    chat__main_reply__free_unpacked (reply, NULL);
    //  The key ticket of epoch 2 is bob's, not carol's
    s_code (s_key_ticket (c, id, 16, 2), CHAT_ERR_BAD_REQUEST);
    s_code (s_key_ticket (b, id, 16, 2), CHAT_OK);
    //  Drain the message pushes
    s_sync (b);
    s_sync (c);
    s_drain (b);
    s_drain (c);

    //  A non-admin may not remove, nor make admins: refused, nothing stored
    const char *remove_carol [] = { carol };
    chain_t *chain = s_chain_of (b, id);
    chain_link_t link;
    assert_int_equal (chain_make_change (chain, CHAIN_REMOVE, bob, remove_carol, 1, NULL,
                                         F.conv_key, s_identity (bob), wire_now_ms (),
                                         &link), CHAT_ERR_BAD_STATEMENT);
    //  (signed anyway, as a forger would)
    Chat__MembershipStatement st = *chain_head (chain);
    char *after [] = { alice, bob };
    if (strcasecmp (alice, bob) > 0) { after [0] = bob; after [1] = alice; }
    uint8_t hash [CHAIN_HASH_SIZE];
    memcpy (hash, chain_head_hash (chain), CHAIN_HASH_SIZE);
    st.epoch = 3;
    st.previous_hash.data = hash;
    st.previous_hash.len = CHAIN_HASH_SIZE;
    st.actor = bob;
    st.action = CHAT__STATEMENT_ACTION__ACTION_REMOVE;
    st.subjects = (char **) remove_carol;
    st.n_subjects = 1;
    st.members = after;
    st.n_members = 2;
    st.key_check.data = F.conv_key;
    st.key_check.len = 32;
    st.made_at = wire_now_ms ();
    s_sign (&st, s_identity (bob), &link);
    s_code (s_change_send (b, &link), CHAT_ERR_BAD_STATEMENT);
    chain_link_free (&link);
    //  A statement signed with another's key, and one altered after signing
    s_change_link (chain, CHAIN_TITLE, bob, NULL, 0, "t", s_identity (carol), &link);
    s_code (s_change_send (b, &link), CHAT_ERR_BAD_STATEMENT);
    chain_link_free (&link);
    s_change_link (chain, CHAIN_TITLE, bob, NULL, 0, "plans", NULL, &link);
    link.statement [link.statement_len - 1] ^= 1;
    s_code (s_change_send (b, &link), CHAT_ERR_BAD_STATEMENT);
    chain_link_free (&link);
    //  Someone else's statement, sent by bob: the actor must be the sender
    s_change_link (chain, CHAIN_TITLE, alice, NULL, 0, "plans", NULL, &link);
    s_code (s_change_send (b, &link), CHAT_ERR_BAD_STATEMENT);
    //  ... and the same statement by alice herself is fine
    s_code (s_change_send (a, &link), CHAT_OK);
    chain_link_free (&link);
    s_push_summary_ok (b, id, 3, 3);
    s_push_summary_ok (c, id, 3, 3);
    //  Bob's chain is one link behind now: a stale head
    s_change_link (chain, CHAIN_TITLE, bob, NULL, 0, "older", NULL, &link);
    s_code (s_change_send (b, &link), CHAT_ERR_CHAIN_CONFLICT);
    chain_link_free (&link);
    chain_destroy (&chain);
    //  A non-member: as for any other request, no such conversation
    chain = s_chain_of (a, id);
    s_change_link (chain, CHAIN_TITLE, alice, NULL, 0, "x", NULL, &link);
    s_code (s_change_send (d, &link), CHAT_ERR_NOT_FOUND);
    chain_link_free (&link);
    chain_destroy (&chain);
    //  No statement, or garbage
    s_code (s_change_send (b, NULL), CHAT_ERR_BAD_STATEMENT);
    uint8_t junk [] = { 0xff, 0xff, 0xff };
    chain_link_t bad = { junk, sizeof junk, junk, sizeof junk };
    s_code (s_change_send (b, &bad), CHAT_ERR_BAD_STATEMENT);
    s_no_push (a);

    //  The creator makes bob an admin; bob removes carol
    const char *admin_bob [] = { bob };
    assert_int_equal (s_change (a, id, CHAIN_ADMIN, alice, admin_bob, 1, NULL), CHAT_OK);
    s_push_summary_ok (b, id, 4, 3);
    s_push_summary_ok (c, id, 4, 3);
    uint64_t before_removal = s_send_epoch (a, id, 4);
    s_sync (b);
    s_sync (c);
    s_drain (b);
    s_drain (c);
    assert_int_equal (s_change (b, id, CHAIN_REMOVE, bob, remove_carol, 1, NULL), CHAT_OK);
    //  Carol hears she is out (a summary without her), then gets nothing
    s_push_summary_ok (c, id, 5, 2);
    s_push_summary_ok (a, id, 5, 2);
    s_send_epoch (a, id, 5);
    s_no_push (c);
    s_code (s_get_messages (c, id, 16, before_removal, 0), CHAT_ERR_NOT_FOUND);
    s_code (s_get_chain (c, id, 16, 0), CHAT_ERR_NOT_FOUND);
    s_code (s_key_ticket (c, id, 16, 2), CHAT_ERR_NOT_FOUND);
    s_code (s_get_members (c, id, 16), CHAT_ERR_NOT_FOUND);
    reply = s_simple (c, CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS);
    assert_int_equal (reply->conversations->n_conversations, 0);
    chat__main_reply__free_unpacked (reply, NULL);

    //  Carol added again reads from her new joining on only
    assert_int_equal (s_change (a, id, CHAIN_ADD, alice, add, 1, NULL), CHAT_OK);
    uint64_t rejoined = s_send_epoch (a, id, 6);
    reply = s_get_messages (c, id, 16, 0, 0);
    assert_int_equal (reply->messages->n_messages, 1);
    assert_int_equal (reply->messages->messages [0]->seq, rejoined);
    chat__main_reply__free_unpacked (reply, NULL);

    //  Anyone leaves: carol; no key for a LEAVE epoch
    assert_int_equal (s_change (c, id, CHAIN_LEAVE, carol, NULL, 0, NULL), CHAT_OK);
    s_code (s_get_messages (c, id, 16, 0, 0), CHAT_ERR_NOT_FOUND);
    s_code (s_key_ticket (c, id, 16, 7), CHAT_ERR_NOT_FOUND);
    s_code (s_key_ticket (a, id, 16, 7), CHAT_ERR_BAD_REQUEST);
    //  A remaining member re-keys
    assert_int_equal (s_change (b, id, CHAIN_REKEY, bob, NULL, 0, NULL), CHAT_OK);
    reply = s_get_members (a, id, 16);
    assert_int_equal (reply->members->epoch, 8);
    assert_int_equal (reply->members->n_members, 2);
    assert_string_equal (reply->members->title, "plans");
    chat__main_reply__free_unpacked (reply, NULL);

    msclient_destroy (&a);
    msclient_destroy (&b);
    msclient_destroy (&c);
    msclient_destroy (&d);
}

//  A direct conversation never gains members; either may leave it
static void
test_change_direct (void **state)
{
    (void) state;
    char alice [32], bob [32], carol [32];
    msclient_t *a, *b;
    uint8_t id [16];
    s_pair (alice, bob, &a, &b, id);
    s_name (carol, "carol");
    msclient_t *c = s_user (carol, true, NULL);
    chain_t *chain = s_chain_of (a, id);
    char *add [] = { carol };
    chain_link_t link;
    uint8_t check [32] = { 0 };
    assert_int_equal (chain_make_change (chain, CHAIN_ADD, alice, (const char **) add, 1,
                                         NULL, check, s_identity (alice), wire_now_ms (),
                                         &link), CHAT_ERR_BAD_STATEMENT);
    //  Signed anyway: the server refuses it too
    Chat__MembershipStatement st = *chain_head (chain);
    char *after [] = { alice, bob, carol };
    uint8_t hash [CHAIN_HASH_SIZE];
    memcpy (hash, chain_head_hash (chain), CHAIN_HASH_SIZE);
    st.epoch = 2;
    st.previous_hash.data = hash;
    st.previous_hash.len = CHAIN_HASH_SIZE;
    st.action = CHAT__STATEMENT_ACTION__ACTION_ADD;
    st.subjects = add;
    st.n_subjects = 1;
    st.members = after;
    st.n_members = 3;
    st.key_check.data = check;
    st.key_check.len = 32;
    s_sign (&st, s_identity (alice), &link);
    s_code (s_change_send (a, &link), CHAT_ERR_BAD_STATEMENT);
    chain_link_free (&link);
    chain_destroy (&chain);
    assert_int_equal (s_change (b, id, CHAIN_LEAVE, bob, NULL, 0, NULL), CHAT_OK);
    s_push_summary_ok (a, id, 2, 1);
    Chat__MainReply *reply = s_simple (b, CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS);
    assert_int_equal (reply->conversations->n_conversations, 0);
    chat__main_reply__free_unpacked (reply, NULL);
    //  The pair's next direct conversation is a new one (bob is back in it)
    const char *with_alice [] = { alice };
    uint8_t again [16];
    s_create_ok (b, bob, with_alice, 1, true, again);
    assert_memory_not_equal (again, id, 16);
    reply = s_simple (b, CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS);
    assert_int_equal (reply->conversations->n_conversations, 1);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&a);
    msclient_destroy (&b);
    msclient_destroy (&c);
}

//  More than 256 members after a change: its own code, nothing stored
static void
test_change_too_many (void **state)
{
    (void) state;
    char alice [32], bob [32];
    msclient_t *a, *b;
    s_name (alice, "alice");
    s_name (bob, "bob");
    a = s_user (alice, true, NULL);
    b = s_user (bob, true, NULL);
    const char *others [] = { bob };
    uint8_t id [16];
    s_create_ok (a, alice, others, 1, false, id);
    chain_t *chain = s_chain_of (a, id);
    Chat__MembershipStatement st = *chain_head (chain);
    char *names [257];
    for (size_t i = 0; i < 257; i++)
        names [i] = zsys_sprintf ("m%03zu", i);
    uint8_t hash [CHAIN_HASH_SIZE];
    memcpy (hash, chain_head_hash (chain), CHAIN_HASH_SIZE);
    st.epoch = 2;
    st.previous_hash.data = hash;
    st.previous_hash.len = CHAIN_HASH_SIZE;
    st.action = CHAT__STATEMENT_ACTION__ACTION_ADD;
    st.subjects = names;
    st.n_subjects = 257;
    st.members = names;
    st.n_members = 257;
    st.key_check.data = F.conv_key;
    st.key_check.len = 32;
    chain_link_t link;
    s_sign (&st, s_identity (alice), &link);
    s_code (s_change_send (a, &link), CHAT_ERR_TOO_MANY_MEMBERS);
    chain_link_free (&link);
    for (size_t i = 0; i < 257; i++)
        free (names [i]);
    chain_destroy (&chain);
    Chat__MainReply *reply = s_get_members (a, id, 16);
    assert_int_equal (reply->members->epoch, 1);
    chat__main_reply__free_unpacked (reply, NULL);
    msclient_destroy (&a);
    msclient_destroy (&b);
}

//  Nobody is put in more than added_per_hour conversations an hour by
//  others, by creating or by adding: the adder hears RATE_LIMITED
static void
test_added_quota (void **state)
{
    (void) state;
    char alice [32], bob [32], victim [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    s_name (victim, "victim");
    msclient_t *a = s_user (alice, true, NULL);
    msclient_t *b = s_user (bob, true, NULL);
    msclient_t *v = s_user (victim, true, NULL);
    s_limit ("added_per_hour", "2");
    const char *others [] = { victim, bob };
    uint8_t id [16];
    s_create_ok (a, alice, others, 2, false, id);
    //  the creator itself is not counted: bob, the victim at 1
    const char *only_bob [] = { bob };
    uint8_t group [16];
    s_create_ok (a, alice, only_bob, 1, false, group);
    const char *add [] = { victim };
    assert_int_equal (s_change (a, group, CHAIN_ADD, alice, add, 1, NULL), CHAT_OK);
    //  the victim is at 2 now: a third conversation by anyone is refused
    Chat__MainReply *reply = s_create (b, bob, add, 1, false, NULL);
    s_refused (reply, CHAT_ERR_RATE_LIMITED, 3600 * 1000);
    s_limit ("added_per_hour", "100");
    msclient_destroy (&a);
    msclient_destroy (&b);
    msclient_destroy (&v);
}

static Chat__MainReply *
s_list_page (msclient_t *client, const ProtobufCBinaryData *cursor)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__ListConversationsRequest list = CHAT__LIST_CONVERSATIONS_REQUEST__INIT;
    if (cursor)
        list.cursor = *cursor;
    request.body_case = CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS;
    request.list_conversations = &list;
    return s_call (client, &request);
}

//  The list comes in pages of 100, oldest first (the order they were
//  made in: activity moves nothing), each conversation once, whatever one
//  is in; one made while the pages are read is on a later page
static void
test_list_pages (void **state)
{
    (void) state;
    char alice [32], bob [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    msclient_t *a = s_user (alice, true, NULL);
    msclient_t *b = s_user (bob, true, NULL);
    s_limit ("conversations_per_hour", "0");
    s_limit ("added_per_hour", "0");
    const char *others [] = { bob };
    uint8_t ids [251][16];
    for (size_t i = 0; i < 250; i++) {
        s_create_ok (a, alice, others, 1, false, ids [i]);
        //  the first alone in its millisecond: the order is then certain
        if (i == 0)
            zclock_sleep (3);
    }
    //  the oldest becomes the most recently active: it stays first
    s_send_ok (a, ids [0], NULL);
    s_drain (b);
    size_t pages = 0, total = 0;
    bool seen [251] = { false };
    ProtobufCBinaryData cursor = { 0, NULL };
    uint8_t *held = NULL;
    uint8_t last [16] = { 0 };
    do {
        Chat__MainReply *reply = s_list_page (b, pages? &cursor: NULL);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        Chat__ConversationList *list = reply->conversations;
        assert_true (list->n_conversations > 0);
        assert_true (list->n_conversations <= 100);
        if (pages == 0)
            assert_memory_equal (list->conversations [0]->conversation_id.data, ids [0], 16);
        for (size_t i = 0; i < list->n_conversations; i++)
            for (size_t j = 0; j < 251; j++)
                if (memcmp (list->conversations [i]->conversation_id.data, ids [j], 16) == 0) {
                    assert_false (seen [j]);
                    seen [j] = true;
                    total++;
                }
        memcpy (last, list->conversations [list->n_conversations - 1]->conversation_id.data,
                16);
        free (held);
        held = NULL;
        cursor.len = list->next_cursor.len;
        if (cursor.len) {
            held = malloc (cursor.len);
            memcpy (held, list->next_cursor.data, cursor.len);
        }
        cursor.data = held;
        pages++;
        chat__main_reply__free_unpacked (reply, NULL);
        if (pages == 1) {
            //  made after the first page: later than every one listed
            zclock_sleep (3);
            s_create_ok (a, alice, others, 1, false, ids [250]);
            s_drain (b);
        }
    } while (cursor.len);
    free (held);
    s_limit ("conversations_per_hour", "120");
    s_limit ("added_per_hour", "100");
    assert_int_equal (pages, 3);
    assert_int_equal (total, 251);
    assert_memory_equal (last, ids [250], 16);
    //  a cursor the server never made
    uint8_t junk [5] = { 1, 2, 3, 4, 5 };
    ProtobufCBinaryData bad = { sizeof junk, junk };
    s_code (s_list_page (b, &bad), CHAT_ERR_BAD_REQUEST);
    msclient_destroy (&a);
    msclient_destroy (&b);
}

static Chat__MainReply *
s_accept (msclient_t *client, const uint8_t *id)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__AcceptConversationRequest accept = CHAT__ACCEPT_CONVERSATION_REQUEST__INIT;
    accept.conversation_id.data = (uint8_t *) id;
    accept.conversation_id.len = 16;
    request.body_case = CHAT__MAIN_REQUEST__BODY_ACCEPT_CONVERSATION;
    request.accept_conversation = &accept;
    return s_call (client, &request);
}

//  Whether conversation id is a request for client, by get_members
static bool
s_is_request (msclient_t *client, const uint8_t *id)
{
    Chat__MainReply *reply = s_get_members (client, id, 16);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    bool request = reply->members->request;
    chat__main_reply__free_unpacked (reply, NULL);
    return request;
}

//  The next push for client is a summary of conversation id that says
//  whether it is a request for client's user
static void
s_push_request (msclient_t *client, const uint8_t *id, bool request)
{
    Chat__Push *push = NULL;
    assert_int_equal (msclient_recv_push (client, PUSH_WAIT, &push), CHAT_OK);
    assert_int_equal (push->body_case, CHAT__PUSH__BODY_CONVERSATION);
    assert_memory_equal (push->conversation->conversation_id.data, id, 16);
    assert_int_equal (push->conversation->request, request);
    chat__push__free_unpacked (push, NULL);
}

//  A conversation made or joined by someone you share no accepted
//  conversation with is a request for you until you accept it; the
//  summary pushed to each member says whether it is one for them
static void
test_requests (void **state)
{
    (void) state;
    char alice [32], bob [32], carol [32];
    s_name (alice, "alice");
    s_name (bob, "bob");
    s_name (carol, "carol");
    msclient_t *a = s_user (alice, true, NULL);
    msclient_t *b = s_user (bob, true, NULL);
    msclient_t *c = s_user (carol, true, NULL);
    const char *with_bob [] = { bob };
    uint8_t first [16], second [16], group [16];
    s_create_ok (a, alice, with_bob, 1, true, first);
    s_push_request (b, first, true);
    assert_false (s_is_request (a, first));
    assert_true (s_is_request (b, first));
    //  a second one from alice: still a request (bob accepted nothing of hers)
    s_create_ok (a, alice, with_bob, 1, false, second);
    s_push_request (b, second, true);
    assert_true (s_is_request (b, second));
    Chat__MainReply *reply = s_simple (b, CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS);
    assert_int_equal (reply->conversations->n_conversations, 2);
    assert_true (reply->conversations->conversations [0]->request);
    assert_true (reply->conversations->conversations [1]->request);
    chat__main_reply__free_unpacked (reply, NULL);
    //  bob accepts the first: the second stays a request
    reply = s_accept (b, first);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_false (reply->accepted->request);
    chat__main_reply__free_unpacked (reply, NULL);
    assert_false (s_is_request (b, first));
    assert_true (s_is_request (b, second));
    //  accepting twice is harmless; a non-member cannot
    s_code (s_accept (b, first), CHAT_OK);
    s_code (s_accept (c, first), CHAT_ERR_NOT_FOUND);
    //  now alice is someone bob knows: her next group is no request for
    //  him; carol, whom nobody knows, gets it as one
    const char *both [] = { bob, carol };
    s_create_ok (a, alice, both, 2, false, group);
    s_push_request (b, group, false);
    s_push_request (c, group, true);
    assert_false (s_is_request (b, group));
    assert_true (s_is_request (c, group));
    //  alice adding carol elsewhere: a request for carol too (she accepted
    //  nothing of alice's); once she accepts one, the next add is not
    const char *add [] = { carol };
    assert_int_equal (s_change (a, second, CHAIN_ADD, alice, add, 1, NULL), CHAT_OK);
    s_push_request (b, second, true);
    s_push_request (c, second, true);
    assert_true (s_is_request (c, second));
    s_code (s_accept (c, group), CHAT_OK);
    uint8_t third [16];
    s_create_ok (a, alice, add, 1, false, third);
    s_push_request (c, third, false);
    assert_false (s_is_request (c, third));
    msclient_destroy (&a);
    msclient_destroy (&b);
    msclient_destroy (&c);
}

//  ---------------------------------------------------------------- durability

//  Run sql on the servers' PostgreSQL database, from a connection of the
//  test's own
static void
s_pg_exec (const char *sql)
{
    PGconn *conn = PQconnectdb (s_pg_url);
    assert_int_equal (PQstatus (conn), CONNECTION_OK);
    PGresult *result = PQexec (conn, sql);
    if (PQresultStatus (result) != PGRES_COMMAND_OK)
        fail_msg ("%s: %s", sql, PQerrorMessage (conn));
    PQclear (result);
    PQfinish (conn);
}

//  Make every commit of the running server's store fail from now on
//  (fault), or no longer (FAULTVFS_NONE). SQLite: the test VFS fails the
//  sync or the write of the WAL under the test's directory. PostgreSQL: a
//  deferred constraint trigger raises at COMMIT, after every statement of
//  the transaction has answered.
static void
s_commit_fault (faultvfs_fault_t fault)
{
    if (!s_pg_url)
        faultvfs_fail (fault);
    else
    if (fault != FAULTVFS_NONE)
        s_pg_exec ("CREATE FUNCTION test_fault () RETURNS trigger LANGUAGE plpgsql AS $$"
                   " BEGIN RAISE EXCEPTION 'test: this commit fails'; END $$;"
                   "CREATE CONSTRAINT TRIGGER test_fault AFTER INSERT ON messages"
                   " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fault ()");
    else
        s_pg_exec ("DROP TRIGGER IF EXISTS test_fault ON messages;"
                   "DROP FUNCTION IF EXISTS test_fault ()");
}

//  After a test that armed a fault: none left, even when it failed midway
static int
s_fault_cleared (void **state)
{
    (void) state;
    s_commit_fault (FAULTVFS_NONE);
    return 0;
}

//  While the store's commits fail: each send of the batch is answered
//  ERR_INTERNAL (proto/README.md section 15: "server fault; nothing was
//  stored"), never sent; no push leaves; nothing is stored; the server
//  keeps serving. Once they succeed again the same sends, retried with
//  the same client_message_ids, are stored as first copies and pushed
//  once each. A server that acknowledges before its commit, or ignores a
//  failed one, fails here.
static void
s_commit_fails (faultvfs_fault_t fault)
{
    char alice [32], bob [32];
    msclient_t *a, *b;
    uint8_t id [16];
    s_pair (alice, bob, &a, &b, id);
    msclient_t *a2 = s_user (alice, false, F.other_key);   //  alice's other session
    enum { COUNT = 3 };
    uint8_t cmids [COUNT][16];
    char *tokens [COUNT];
    uint64_t request_ids [COUNT];
    uint64_t failed_before = faultvfs_failed ();
    s_commit_fault (fault);
    //  All in flight at once: one batch, or a few, each failing alike
    for (size_t index = 0; index < COUNT; index++) {
        assert_int_equal (secret_random (cmids [index], 16), 0);
        tokens [index] = s_token (20 + index);
        Chat__MainRequest request;
        Chat__SendMessageRequest send;
        s_send_request (&request, &send, id, cmids [index], tokens [index], 1);
        request_ids [index] = msclient_send (a, &request);
        assert_true (request_ids [index] != 0);
    }
    for (size_t index = 0; index < COUNT; index++) {
        Chat__MainReply *reply = NULL;
        assert_int_equal (msclient_recv (a, &reply), CHAT_OK);
        assert_int_equal (reply->request_id, request_ids [index]);
        assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_ERROR);
        assert_int_equal (msclient_code (reply), CHAT_ERR_INTERNAL);
        chat__main_reply__free_unpacked (reply, NULL);
    }
    s_no_push (b);
    s_no_push (a2);
    if (!s_pg_url)
        assert_true (faultvfs_failed () > failed_before);   //  the fault was met
    //  Still serving: a request that writes nothing is answered
    s_ping (b);
    s_commit_fault (FAULTVFS_NONE);
    Chat__MainReply *reply = s_get_messages (b, id, 16, 0, 0);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_int_equal (reply->messages->n_messages, 0);
    assert_int_equal (reply->messages->last_seq, 0);
    chat__main_reply__free_unpacked (reply, NULL);

    //  The retries: first copies, in order, each pushed once
    for (size_t index = 0; index < COUNT; index++) {
        reply = s_send (a, id, cmids [index], tokens [index]);
        assert_int_equal (msclient_code (reply), CHAT_OK);
        assert_int_equal (reply->body_case, CHAT__MAIN_REPLY__BODY_SENT);
        assert_false (reply->sent->duplicate);
        assert_int_equal (reply->sent->seq, index + 1);
        chat__main_reply__free_unpacked (reply, NULL);
    }
    msclient_t *members [] = { b, a2 };
    for (size_t member = 0; member < 2; member++) {
        for (size_t index = 0; index < COUNT; index++) {
            Chat__Push *push = NULL;
            Chat__StoredMessage *msg = s_push_message (members [member], &push);
            assert_int_equal (msg->seq, index + 1);
            assert_memory_equal (msg->client_message_id.data, cmids [index], 16);
            assert_string_equal (msg->token, tokens [index]);
            chat__push__free_unpacked (push, NULL);
        }
        s_no_push (members [member]);
    }
    reply = s_get_messages (b, id, 16, 0, 0);
    assert_int_equal (reply->messages->n_messages, COUNT);
    chat__main_reply__free_unpacked (reply, NULL);
    for (size_t index = 0; index < COUNT; index++)
        free (tokens [index]);
    msclient_destroy (&a);
    msclient_destroy (&a2);
    msclient_destroy (&b);
}

//  The commit's sync fails (SQLite: the WAL's fsync; PostgreSQL: COMMIT
//  raises)
static void
test_commit_sync_fails (void **state)
{
    (void) state;
    s_commit_fails (FAULTVFS_SYNC);
}

//  The commit's write fails (SQLite: writing the WAL; disk full, I/O
//  error). PostgreSQL has one way to fail a commit here: the test above.
static void
test_commit_write_fails (void **state)
{
    (void) state;
    if (s_pg_url) {
        fprintf (stderr, "skipped on PostgreSQL: its failing COMMIT is "
                         "test_commit_sync_fails\n");
        skip ();
    }
    s_commit_fails (FAULTVFS_WRITE);
}

//  SQLite only: every acknowledged send was synced to the WAL before its
//  ack (synchronous=FULL: NORMAL in WAL mode syncs only at checkpoints, OFF
//  never); and every connection the store opened had synchronous FULL or
//  EXTRA (read as it closed).
static void
test_commit_synced (void **state)
{
    (void) state;
    if (s_pg_url) {
        fprintf (stderr, "skipped on PostgreSQL: SQLite's sync; a PostgreSQL store "
                         "refuses a server with fsync or synchronous_commit off\n");
        skip ();
    }
    char alice [32], bob [32];
    msclient_t *a, *b;
    uint8_t id [16];
    s_pair (alice, bob, &a, &b, id);
    for (int round = 0; round < 5; round++) {
        uint64_t syncs = faultvfs_log_syncs ();
        s_send_ok (a, id, NULL);
        if (faultvfs_log_syncs () <= syncs)
            fail_msg ("send %d was acknowledged with no sync of the WAL since the one "
                      "before: the store does not sync at commit (synchronous=FULL?)", round);
        Chat__Push *push = NULL;
        s_push_message (b, &push);
        chat__push__free_unpacked (push, NULL);
    }
    msclient_destroy (&a);
    msclient_destroy (&b);

    //  A server of its own, stopped: its store's connections, as they closed
    char dir [96];
    snprintf (dir, sizeof dir, "%s/synced", F.dir);
    assert_int_equal (mkdir (dir, 0700), 0);
    char *endpoint, *push_endpoint;
    actorthread_t *server = s_server_start (dir, NULL, &endpoint, &push_endpoint);
    msclient_t *client = msclient_new (F.key, endpoint, push_endpoint);
    assert_non_null (client);
    char carol [32];
    s_name (carol, "carol");
    uint64_t syncs = faultvfs_log_syncs ();
    assert_int_equal (s_register (client, carol), CHAT_OK);
    assert_true (faultvfs_log_syncs () > syncs);
    msclient_destroy (&client);
    actorthread_destroy (&server);
    zstr_free (&endpoint);
    zstr_free (&push_endpoint);
    char *path = zsys_sprintf ("%s/%s", dir, MAINSERVER_DB);
    int synchronous;
    assert_true (faultvfs_closed (path, &synchronous) >= 1);
    if (synchronous < 2)
        fail_msg ("a connection to %s had PRAGMA synchronous = %d (FULL is 2)", path,
                  synchronous);
    free (path);
    s_dir_remove (dir);
}

//  PostgreSQL: a batch's sends are stored in one pipeline after the rest of
//  the batch; when that COMMIT fails (a test trigger, deferred to the
//  commit, refuses alice's messages), no send is acknowledged and nothing
//  is pushed; the retry, with the same client message id, is then stored
//  as a first copy and pushed
static void
s_pg_run (const char *sql)
{
    PGconn *conn = PQconnectdb (s_pg_url);
    assert_int_equal (PQstatus (conn), CONNECTION_OK);
    PGresult *res = PQexec (conn, sql);
    if (PQresultStatus (res) != PGRES_COMMAND_OK)
        fail_msg ("%s: %s", sql, PQresultErrorMessage (res));
    PQclear (res);
    PQfinish (conn);
}

static void
test_pg_send_commit_fails (void **state)
{
    (void) state;
    if (!s_pg_url) {
        fprintf (stderr, "test_pg_send_commit_fails: PostgreSQL only, skipped\n");
        skip ();
    }
    char alice [32], bob [32];
    msclient_t *a, *b;
    uint8_t id [16];
    s_pair (alice, bob, &a, &b, id);
    char sql [1024];
    snprintf (sql, sizeof sql,
              "CREATE FUNCTION test_refuse_alice () RETURNS trigger LANGUAGE plpgsql AS $$"
              " BEGIN IF NEW.sender = '%s' THEN RAISE EXCEPTION 'refused commit'; END IF;"
              " RETURN NULL; END $$;"
              "CREATE CONSTRAINT TRIGGER test_refuse_alice AFTER INSERT ON messages"
              " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW"
              " EXECUTE FUNCTION test_refuse_alice ()", alice);
    s_pg_run (sql);
    uint8_t cmid [16];
    secret_random (cmid, sizeof cmid);
    char *token = s_token (20);
    Chat__MainReply *reply = s_send (a, id, cmid, token);
    assert_int_equal (msclient_code (reply), CHAT_ERR_INTERNAL);
    chat__main_reply__free_unpacked (reply, NULL);
    s_no_push (b);
    s_pg_run ("DROP TRIGGER test_refuse_alice ON messages;"
              "DROP FUNCTION test_refuse_alice ()");
    reply = s_send (a, id, cmid, token);
    assert_int_equal (msclient_code (reply), CHAT_OK);
    assert_false (reply->sent->duplicate);
    assert_int_equal (reply->sent->seq, 1);
    chat__main_reply__free_unpacked (reply, NULL);
    Chat__Push *push = NULL;
    Chat__StoredMessage *msg = s_push_message (b, &push);
    assert_int_equal (msg->seq, 1);
    assert_string_equal (msg->token, token);
    chat__push__free_unpacked (push, NULL);
    free (token);
    msclient_destroy (&a);
    msclient_destroy (&b);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    s_pg_url = getenv ("CHAT_TEST_PG_URL");
    if (s_pg_url && !*s_pg_url)
        s_pg_url = NULL;
    //  SQLite's files go through the test VFS (faultvfs.h): the store
    //  opens them as in production
    if (!s_pg_url) {
        if (faultvfs_install ())
            return 1;
        faultvfs_watch ("/tmp/test_mainserver.");
    }
    fprintf (stderr, "test_mainserver: servers on %s\n",
             s_pg_url? "PostgreSQL (CHAT_TEST_PG_URL)": "SQLite");
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_register_and_login),
        cmocka_unit_test (test_certificate_refusals),
        cmocka_unit_test (test_not_logged_in),
        cmocka_unit_test (test_direct_dedupe),
        cmocka_unit_test (test_created),
        cmocka_unit_test (test_create_refusals),
        cmocka_unit_test (test_group_and_lists),
        cmocka_unit_test (test_not_a_member),
        cmocka_unit_test (test_send_refusals),
        cmocka_unit_test (test_push_to_every_other_session),
        cmocka_unit_test (test_read_markers),
        cmocka_unit_test (test_idempotent_retry),
        cmocka_unit_test (test_gap_recovery),
        cmocka_unit_test (test_paging),
        cmocka_unit_test (test_logout),
        cmocka_unit_test (test_bad_frames),
        cmocka_unit_test (test_admin_socket),
        cmocka_unit_test (test_restart_and_idle),
        cmocka_unit_test (test_longer_chain),
        cmocka_unit_test (test_chain_pages_by_bytes),
        cmocka_unit_test (test_version_1_hello),
        cmocka_unit_test (test_push_public),
        cmocka_unit_test (test_quotas),
        cmocka_unit_test (test_change_flow),
        cmocka_unit_test (test_change_direct),
        cmocka_unit_test (test_change_too_many),
        cmocka_unit_test (test_added_quota),
        cmocka_unit_test (test_list_pages),
        cmocka_unit_test (test_requests),
        cmocka_unit_test_teardown (test_commit_sync_fails, s_fault_cleared),
        cmocka_unit_test_teardown (test_commit_write_fails, s_fault_cleared),
        cmocka_unit_test (test_commit_synced),
        cmocka_unit_test (test_pg_send_commit_fails),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
