/*  hostile - what an attacker can send, sent: raw ZMQ frames against both
    servers, run in-process as their actors (the code chat-keyserver and
    chat-mainserver run; in-process so that ASan sees the servers' leaks
    too), each case checked for its error code or for being dropped, and a
    well-behaved client (registered and logged in at the start) checked
    after every case to still complete a request round trip on both.

        hostile [keyserver | mainserver | flood | all]
        hostile attack NAME [--OPTION VALUE]...

    Prints one PASS/FAIL line per case and a table at the end; exits 0 only
    when every case passed. `attack` runs one of issue 12's attacks against
    servers someone else runs (see "attacks" below, and abuse.py).
*/
#include <czmq.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include "chain.h"
#include "codec.h"
#include "channel.h"
#include "chaterror.h"
#include "credential.h"
#include "epochkey.h"
#include "fernet.h"
#include "identity.h"
#include "keyserver.h"
#include "mainserver.h"
#include "rsakey.h"
#include "scram.h"
#include "secret.h"
#include "testclient.h"
#include "testkeys.h"
#include "wire.h"

//  A step of the test's own machinery that must work (not assert: the
//  build defines NDEBUG, and these calls have effects)
#define REQUIRE(cond) do { \
    if (!(cond)) { \
        fprintf (stderr, "hostile: %s:%d: %s failed\n", __FILE__, __LINE__, #cond); \
        exit (1); \
    } \
} while (0)

#define WAIT_MS     10000       //  for an answer that must come
#define QUIET_MS    400         //  given to a dropped frame to show otherwise
#define RC_NONE     TESTCLIENT_NONE     //  nothing came back
#define RC_GARBAGE  TESTCLIENT_GARBAGE  //  something came back we could not read
#define PASSWORD    "correct horse battery staple"
#define FLOOD_DEALERS 100
#define FLOOD_PER_DEALER 3

//  ---------------------------------------------------------------- peers

//  A raw channel client and the request ids it gives.
typedef struct {
    testclient_t *client;
    uint64_t next_id;
} peer_t;

static peer_t *
peer_new (const char *endpoint)
{
    peer_t *self = (peer_t *) zmalloc (sizeof *self);
    self->client = testclient_new (endpoint, NULL);
    REQUIRE (self->client);
    testclient_set_timeout (self->client, WAIT_MS);
    self->next_id = 1000;
    return self;
}

static void
peer_destroy (peer_t **self_p)
{
    peer_t *self = *self_p;
    if (self) {
        testclient_destroy (&self->client);
        free (self);
        *self_p = NULL;
    }
}

static channel_t *
peer_channel (peer_t *self)
{
    return testclient_channel (self->client);
}

static void
peer_send (peer_t *self, const void *data, size_t size)
{
    int rc = testclient_send (self->client, data, size);
    REQUIRE (rc == 0);
}

//  Several frames as one multipart message
static void
peer_send_multi (peer_t *self, const void *a, size_t a_size, const void *b, size_t b_size)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, a, a_size);
    zmsg_addmem (msg, b, b_size);
    int rc = zmsg_send (&msg, testclient_dealer (self->client));
    REQUIRE (rc == 0);
}

//  One answer: RC_NONE, RC_GARBAGE, or 0 and a malloc'd frame.
static int
peer_recv (peer_t *self, int timeout_ms, uint8_t **data, size_t *size)
{
    testclient_set_timeout (self->client, timeout_ms);
    return testclient_recv (self->client, data, size);
}

//  Read an answer as a client reads it: the code of a clear refusal, or
//  CHAT_OK and the opened payload of a sealed reply, or RC_NONE/RC_GARBAGE.
static int
peer_answer (peer_t *self, int timeout_ms, uint8_t **payload, size_t *len)
{
    testclient_set_timeout (self->client, timeout_ms);
    return testclient_answer (self->client, payload, len);
}

//  Handshake with key; CHAT_OK or what the server (or the check) said.
static int
peer_handshake (peer_t *self, rsakey_t *key)
{
    testclient_set_key (self->client, key);
    testclient_set_timeout (self->client, WAIT_MS);
    return testclient_handshake (self->client);
}

//  A new peer with an open channel (asserts: setup, not a case).
static peer_t *
peer_open (const char *endpoint, rsakey_t *key)
{
    peer_t *self = peer_new (endpoint);
    int rc = peer_handshake (self, key);
    if (rc != CHAT_OK) {
        fprintf (stderr, "hostile: handshake with %s failed: %s\n", endpoint,
                 chat_errname (rc));
        exit (1);
    }
    return self;
}

//  Seal a payload into a frame (malloc'd) without sending it.
static void
peer_seal (peer_t *self, const uint8_t *payload, size_t len, uint8_t **frame, size_t *size)
{
    int rc = testclient_seal (self->client, payload, len, frame, size);
    REQUIRE (rc == CHAT_OK);
}

static void
peer_send_sealed (peer_t *self, const uint8_t *payload, size_t len)
{
    int rc = testclient_send_sealed (self->client, payload, len);
    REQUIRE (rc == CHAT_OK);
}

//  ---------------------------------------------------------------- requests

static void
s_pack (const ProtobufCMessage *msg, uint8_t **data, size_t *size)
{
    int rc = wire_pack (msg, data, size);
    REQUIRE (rc == CHAT_OK);
}

//  The request id a reply echoes and the code of its error body (CHAT_OK
//  for any other body).
typedef void (reply_fields_fn) (const ProtobufCMessage *reply, uint64_t *id, int *code);

static void
s_key_fields (const ProtobufCMessage *message, uint64_t *id, int *code)
{
    const Chat__KeyReply *reply = (const Chat__KeyReply *) message;
    *id = reply->request_id;
    *code = reply->body_case == CHAT__KEY_REPLY__BODY_ERROR? (int) reply->error->code: CHAT_OK;
}

static void
s_main_fields (const ProtobufCMessage *message, uint64_t *id, int *code)
{
    const Chat__MainReply *reply = (const Chat__MainReply *) message;
    *id = reply->request_id;
    *code = reply->body_case == CHAT__MAIN_REPLY__BODY_ERROR? (int) reply->error->code: CHAT_OK;
}

//  A reply: CHAT_OK or its error code, or a channel-layer code, RC_NONE,
//  RC_GARBAGE (also for a reply that does not echo expect_id).
static int
s_reply (peer_t *peer, const ProtobufCMessageDescriptor *descriptor, reply_fields_fn *fields,
         uint64_t expect_id, ProtobufCMessage **reply_p)
{
    ProtobufCMessage *reply = NULL;
    testclient_set_timeout (peer->client, WAIT_MS);
    int rc = testclient_reply (peer->client, descriptor, &reply);
    if (rc != CHAT_OK)
        return rc;
    uint64_t id;
    fields (reply, &id, &rc);
    if (id != expect_id)
        rc = RC_GARBAGE;
    if (reply_p && rc != RC_GARBAGE)
        *reply_p = reply;
    else
        protobuf_c_message_free_unpacked (reply, NULL);
    return rc;
}

//  Send request under the peer's next id (set in *request_id) and read
//  the reply.
static int
s_call (peer_t *peer, const ProtobufCMessage *request, uint64_t *request_id,
        const ProtobufCMessageDescriptor *descriptor, reply_fields_fn *fields,
        ProtobufCMessage **reply_p)
{
    *request_id = ++peer->next_id;
    uint8_t *payload;
    size_t len;
    s_pack (request, &payload, &len);
    peer_send_sealed (peer, payload, len);
    free (payload);
    return s_reply (peer, descriptor, fields, *request_id, reply_p);
}

static int
s_key_answer (peer_t *peer, uint64_t expect_id, Chat__KeyReply **reply_p)
{
    return s_reply (peer, &chat__key_reply__descriptor, s_key_fields, expect_id,
                    (ProtobufCMessage **) reply_p);
}

static int
s_key_call (peer_t *peer, Chat__KeyRequest *request, Chat__KeyReply **reply_p)
{
    return s_call (peer, &request->base, &request->request_id, &chat__key_reply__descriptor,
                   s_key_fields, (ProtobufCMessage **) reply_p);
}

static int
s_main_answer (peer_t *peer, uint64_t expect_id, Chat__MainReply **reply_p)
{
    return s_reply (peer, &chat__main_reply__descriptor, s_main_fields, expect_id,
                    (ProtobufCMessage **) reply_p);
}

static int
s_main_call (peer_t *peer, Chat__MainRequest *request, Chat__MainReply **reply_p)
{
    return s_call (peer, &request->base, &request->request_id, &chat__main_reply__descriptor,
                   s_main_fields, (ProtobufCMessage **) reply_p);
}

//  ---------------------------------------------------------------- servers

typedef struct {
    const char *name;           //  "keyserver" / "mainserver"
    const char *endpoint;
    bool is_key;
} target_t;

//  The cheapest request each server answers without a login: the key
//  server's register-params, the main server's ping.
static void
s_probe_pack (const target_t *target, uint64_t id, uint8_t **data, size_t *size)
{
    if (target->is_key) {
        Chat__RegisterParamsRequest params = CHAT__REGISTER_PARAMS_REQUEST__INIT;
        params.username = "probe";
        Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
        request.request_id = id;
        request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS;
        request.register_params = &params;
        s_pack (&request.base, data, size);
    }
    else {
        Chat__PingRequest ping = CHAT__PING_REQUEST__INIT;
        Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
        request.request_id = id;
        request.body_case = CHAT__MAIN_REQUEST__BODY_PING;
        request.ping = &ping;
        s_pack (&request.base, data, size);
    }
}

static int
s_answer (const target_t *target, peer_t *peer, uint64_t expect_id)
{
    return target->is_key ? s_key_answer (peer, expect_id, NULL)
                          : s_main_answer (peer, expect_id, NULL);
}

//  Seal a probe request into a frame; returns its request id.
static uint64_t
s_probe_frame (const target_t *target, peer_t *peer, uint8_t **frame, size_t *size)
{
    uint64_t id = ++peer->next_id;
    uint8_t *payload;
    size_t len;
    s_probe_pack (target, id, &payload, &len);
    peer_seal (peer, payload, len, frame, size);
    free (payload);
    return id;
}

//  Send a probe and read its answer.
static int
s_probe (const target_t *target, peer_t *peer)
{
    uint8_t *frame;
    size_t size;
    uint64_t id = s_probe_frame (target, peer, &frame, &size);
    peer_send (peer, frame, size);
    free (frame);
    return s_answer (target, peer, id);
}

//  ---------------------------------------------------------------- the world

typedef struct {
    char dir [64];
    zactor_t *keyserver;
    zactor_t *mainserver;
    char *ks_endpoint;
    char *ms_endpoint;
    char *push_endpoint;
    target_t ks;
    target_t ms;
    rsakey_t *good_key;
    rsakey_t *mallory_key;
    rsakey_t *attacker_key;
    rsakey_t *good_identity;            //  identity keys
    rsakey_t *other_identity;
    rsakey_t *mallory_identity;
    rsakey_t *ks_own_key;               //  what a stolen data directory gives
    rsakey_t *ms_own_key;
    //  The well-behaved client: its sessions, its conversation with
    //  "other" (its CREATE link and ticket), epoch 1's key and good's
    //  wrapped copy of it
    peer_t *good_ks;
    peer_t *good_ms;
    uint8_t conversation [CONVERSATION_ID_SIZE];
    chain_link_t link;
    uint8_t *ticket;
    size_t ticket_len;
    uint8_t conversation_key [32];
    uint8_t *good_login_cert;
    size_t good_login_cert_len;
    uint8_t *good_register_cert;
    size_t good_register_cert_len;
    uint8_t *good_resume;
    size_t good_resume_len;
    //  Mallory: registered, logged in on both, in a conversation with good
    peer_t *mallory_ks;
    peer_t *mallory_ms;
    uint8_t mallory_conversation [CONVERSATION_ID_SIZE];
    uint8_t *mallory_ticket;
    size_t mallory_ticket_len;
} world_t;

static void
s_copy (uint8_t **dest, size_t *dest_len, const ProtobufCBinaryData *src)
{
    free (*dest);
    *dest = (uint8_t *) malloc (src->len ? src->len : 1);
    REQUIRE (*dest);
    memcpy (*dest, src->data, src->len);
    *dest_len = src->len;
}

//  Register on the key server with identity (a key pair): the REGISTERED
//  certificate (or NULL).
static int
s_ks_register (peer_t *peer, const char *username, const char *password,
               rsakey_t *identity, uint8_t **cert, size_t *cert_len)
{
    Chat__RegisterParamsRequest params = CHAT__REGISTER_PARAMS_REQUEST__INIT;
    params.username = (char *) username;
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS;
    request.register_params = &params;
    Chat__KeyReply *reply = NULL;
    int rc = s_key_call (peer, &request, &reply);
    if (rc != CHAT_OK)
        return rc;
    uint8_t salted [SCRAM_KEY_SIZE], stored [SCRAM_KEY_SIZE], server [SCRAM_KEY_SIZE];
    char *sealed = NULL;
    int ok = scram_salted_password (password, reply->register_params->salt.data,
                                    reply->register_params->salt.len,
                                    reply->register_params->iterations, salted) == 0
          && scram_verifier_from_salted (salted, stored, server) == 0
          && identity_seal (identity, username, salted, wire_now (), &sealed) == CHAT_OK;
    REQUIRE (ok);
    Chat__RegisterRequest reg = CHAT__REGISTER_REQUEST__INIT;
    reg.username = (char *) username;
    reg.salt = reply->register_params->salt;
    reg.iterations = reply->register_params->iterations;
    reg.stored_key.data = stored;
    reg.stored_key.len = sizeof stored;
    reg.server_key.data = server;
    reg.server_key.len = sizeof server;
    reg.identity_public_key.data = (uint8_t *) rsakey_der (identity,
                                                           &reg.identity_public_key.len);
    reg.sealed_identity.data = (uint8_t *) sealed;
    reg.sealed_identity.len = strlen (sealed);
    chat__key_request__init (&request);
    request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER;
    request.register_ = &reg;
    Chat__KeyReply *done = NULL;
    rc = s_key_call (peer, &request, &done);
    chat__key_reply__free_unpacked (reply, NULL);
    if (rc == CHAT_OK && cert)
        s_copy (cert, cert_len, &done->registered->certificate);
    if (done)
        chat__key_reply__free_unpacked (done, NULL);
    secret_wipe (salted, sizeof salted);
    free (sealed);
    return rc;
}

//  SCRAM login_start for scram's user: the reply (challenge or error) in
//  *reply, and its code
static int
s_ks_login_start (peer_t *peer, scram_client_t *scram, Chat__KeyReply **reply)
{
    Chat__LoginStart start = CHAT__LOGIN_START__INIT;
    start.client_first = (char *) scram_client_first (scram);
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    request.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_START;
    request.login_start = &start;
    *reply = NULL;
    return s_key_call (peer, &request, reply);
}

//  SCRAM login on the key server: the LOGGED_IN certificate and resume token.
static int
s_ks_login (peer_t *peer, const char *username, const char *password,
            uint8_t **cert, size_t *cert_len, uint8_t **resume, size_t *resume_len)
{
    scram_client_t *scram = scram_client_new (username, password, NULL);
    REQUIRE (scram);
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__KeyReply *reply = NULL;
    int rc = s_ks_login_start (peer, scram, &reply);
    const char *client_final = NULL;
    if (rc == CHAT_OK
    &&  scram_client_final (scram, reply->login_challenge->server_first,
                            &client_final) != CHAT_OK)
        rc = RC_GARBAGE;
    if (reply)
        chat__key_reply__free_unpacked (reply, NULL);
    reply = NULL;
    if (rc == CHAT_OK) {
        Chat__LoginFinish finish = CHAT__LOGIN_FINISH__INIT;
        finish.client_final = (char *) client_final;
        chat__key_request__init (&request);
        request.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_FINISH;
        request.login_finish = &finish;
        rc = s_key_call (peer, &request, &reply);
    }
    if (rc == CHAT_OK && scram_client_verify (scram, reply->logged_in->server_final) != CHAT_OK)
        rc = CHAT_ERR_BAD_SIGNATURE;
    if (rc == CHAT_OK && cert)
        s_copy (cert, cert_len, &reply->logged_in->certificate);
    if (rc == CHAT_OK && resume)
        s_copy (resume, resume_len, &reply->logged_in->resume_token);
    if (reply)
        chat__key_reply__free_unpacked (reply, NULL);
    scram_client_destroy (&scram);
    return rc;
}

//  Main server register (purpose REGISTERED) or login (LOGGED_IN).
static int
s_ms_cert (peer_t *peer, bool login, const uint8_t *cert, size_t cert_len)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__RegisterUserRequest reg = CHAT__REGISTER_USER_REQUEST__INIT;
    Chat__LoginRequest log = CHAT__LOGIN_REQUEST__INIT;
    if (login) {
        log.certificate.data = (uint8_t *) cert;
        log.certificate.len = cert_len;
        request.body_case = CHAT__MAIN_REQUEST__BODY_LOGIN;
        request.login = &log;
    }
    else {
        reg.certificate.data = (uint8_t *) cert;
        reg.certificate.len = cert_len;
        request.body_case = CHAT__MAIN_REQUEST__BODY_REGISTER;
        request.register_ = &reg;
    }
    return s_main_call (peer, &request, NULL);
}

//  A signed CREATE of actor (identity key signer) and other; id out
static void
s_statement (const char *actor, const char *other, rsakey_t *signer,
             uint8_t id [CONVERSATION_ID_SIZE], const uint8_t key [32], chain_link_t *link)
{
    int rc = secret_random (id, CONVERSATION_ID_SIZE);
    REQUIRE (rc == 0);
    uint8_t check [EPOCHKEY_CHECK_SIZE];
    rc = epochkey_check_value (key, id, 1, check);
    REQUIRE (rc == CHAT_OK);
    const char *members [] = { actor, other };
    rc = chain_make_create (id, actor, members, 2, false, NULL, check, signer,
                            wire_now_ms (), link);
    REQUIRE (rc == CHAT_OK);
}

//  Send a CREATE (link may be NULL: none); the ticket out when asked.
static int
s_ms_create_link (peer_t *peer, const chain_link_t *link, uint8_t **ticket,
                  size_t *ticket_len)
{
    Chat__CreateConversationRequest create = CHAT__CREATE_CONVERSATION_REQUEST__INIT;
    Chat__SignedStatement view;
    if (link) {
        chain_link_view (link, &view);
        create.statement = &view;
    }
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    request.body_case = CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION;
    request.create_conversation = &create;
    Chat__MainReply *reply = NULL;
    int rc = s_main_call (peer, &request, &reply);
    if (rc == CHAT_OK && ticket)
        s_copy (ticket, ticket_len, &reply->created->ticket);
    if (reply)
        chat__main_reply__free_unpacked (reply, NULL);
    return rc;
}

//  A conversation of the caller (actor, with identity) and other; id and
//  ticket out
static int
s_ms_create (peer_t *peer, const char *actor, rsakey_t *identity, const char *other,
             uint8_t id [CONVERSATION_ID_SIZE], uint8_t key [32], chain_link_t *link,
             uint8_t **ticket, size_t *ticket_len)
{
    int rc = epochkey_generate (key);
    REQUIRE (rc == CHAT_OK);
    s_statement (actor, other, identity, id, key, link);
    return s_ms_create_link (peer, link, ticket, ticket_len);
}

//  put_keys: one copy per name given, each the bytes of wrapped (len each)
static int
s_ks_put (peer_t *peer, const uint8_t *ticket, size_t ticket_len, const char *const *names,
          size_t count, uint8_t *const *wrapped, const size_t *len)
{
    Chat__WrappedKey items [4], *item_ptrs [4];
    REQUIRE (count <= 4);
    for (size_t i = 0; i < count; i++) {
        chat__wrapped_key__init (&items [i]);
        items [i].username = (char *) names [i];
        items [i].wrapped_key.data = wrapped [i];
        items [i].wrapped_key.len = len [i];
        item_ptrs [i] = &items [i];
    }
    Chat__PutKeysRequest body = CHAT__PUT_KEYS_REQUEST__INIT;
    body.ticket.data = (uint8_t *) ticket;
    body.ticket.len = ticket_len;
    body.keys = item_ptrs;
    body.n_keys = count;
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    request.body_case = CHAT__KEY_REQUEST__BODY_PUT_KEYS;
    request.put_keys = &body;
    return s_key_call (peer, &request, NULL);
}

//  get_keys: CHAT_OK and how many copies came, or the code
static int
s_ks_get (peer_t *peer, const uint8_t *id, size_t id_len, size_t *count,
          Chat__KeyReply **reply_p)
{
    Chat__GetKeysRequest body = CHAT__GET_KEYS_REQUEST__INIT;
    body.conversation_id.data = (uint8_t *) id;
    body.conversation_id.len = id_len;
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    request.body_case = CHAT__KEY_REQUEST__BODY_GET_KEYS;
    request.get_keys = &body;
    Chat__KeyReply *reply = NULL;
    int rc = s_key_call (peer, &request, &reply);
    if (count)
        *count = rc == CHAT_OK? reply->epoch_keys->n_keys: 0;
    if (reply_p)
        *reply_p = reply;
    else
    if (reply)
        chat__key_reply__free_unpacked (reply, NULL);
    return rc;
}

//  The well-behaved client's round trip on both servers: get-members and
//  a fresh key ticket on the main server, its own copy of epoch 1's key on
//  the key server, which must open to the key.
static bool
s_healthy (world_t *world, char *why, size_t why_size)
{
    Chat__GetMembersRequest members = CHAT__GET_MEMBERS_REQUEST__INIT;
    members.conversation_id.data = world->conversation;
    members.conversation_id.len = CONVERSATION_ID_SIZE;
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    request.body_case = CHAT__MAIN_REQUEST__BODY_GET_MEMBERS;
    request.get_members = &members;
    int rc = s_main_call (world->good_ms, &request, NULL);
    if (rc != CHAT_OK) {
        snprintf (why, why_size, "good client: main server get-members %s", chat_errname (rc));
        return false;
    }
    Chat__KeyTicketRequest ticket = CHAT__KEY_TICKET_REQUEST__INIT;
    ticket.conversation_id = members.conversation_id;
    ticket.epoch = 1;
    chat__main_request__init (&request);
    request.body_case = CHAT__MAIN_REQUEST__BODY_KEY_TICKET;
    request.key_ticket = &ticket;
    rc = s_main_call (world->good_ms, &request, NULL);
    if (rc != CHAT_OK) {
        snprintf (why, why_size, "good client: main server key-ticket %s", chat_errname (rc));
        return false;
    }
    Chat__KeyReply *reply = NULL;
    rc = s_ks_get (world->good_ks, world->conversation, CONVERSATION_ID_SIZE, NULL, &reply);
    if (rc != CHAT_OK) {
        snprintf (why, why_size, "good client: key server get-keys %s", chat_errname (rc));
        return false;
    }
    uint8_t key [32];
    bool opened = reply->epoch_keys->n_keys == 1
               && epochkey_unwrap (world->good_identity,
                                   reply->epoch_keys->keys [0]->wrapped_key.data,
                                   reply->epoch_keys->keys [0]->wrapped_key.len,
                                   key) == CHAT_OK
               && memcmp (key, world->conversation_key, 32) == 0;
    chat__key_reply__free_unpacked (reply, NULL);
    if (!opened) {
        snprintf (why, why_size, "good client: its copy of the key is gone or changed");
        return false;
    }
    return true;
}

//  ---------------------------------------------------------------- results

typedef struct {
    char server [12];
    char name [72];
    char expected [48];
    char got [96];
    bool pass;
} result_t;

static result_t s_results [256];
static size_t s_result_count;
static size_t s_failures;

//  Name of a code as the table shows it
static const char *
s_code_name (int rc)
{
    static char buffer [8][32];
    static int next;
    if (rc == RC_NONE)
        return "no answer";
    if (rc == RC_GARBAGE)
        return "unreadable answer";
    if (rc == CHAT_OK)
        return "OK";
    char *text = buffer [next++ % 8];
    snprintf (text, sizeof buffer [0], "%s", chat_errname (rc));
    return text;
}

//  Record a case: it passes when its own check passed and the good client
//  is still served by both servers.
static void
s_record (world_t *world, const target_t *target, const char *name,
          const char *expected, bool pass, const char *got_format, ...)
{
    REQUIRE (s_result_count < sizeof s_results / sizeof s_results [0]);
    result_t *result = &s_results [s_result_count++];
    snprintf (result->server, sizeof result->server, "%s", target ? target->name : "both");
    snprintf (result->name, sizeof result->name, "%s", name);
    snprintf (result->expected, sizeof result->expected, "%s", expected);
    va_list args;
    va_start (args, got_format);
    vsnprintf (result->got, sizeof result->got, got_format, args);
    va_end (args);
    char why [160] = "";
    bool healthy = s_healthy (world, why, sizeof why);
    result->pass = pass && healthy;
    if (!result->pass)
        s_failures++;
    printf ("%s  %-10s %-46s expected %-24s got %s%s%s\n",
            result->pass ? "PASS" : "FAIL", result->server, result->name,
            result->expected, result->got, healthy ? "" : "; ", why);
    fflush (stdout);
}

//  A case that expects one code
static void
s_expect (world_t *world, const target_t *target, const char *name, int expected, int got)
{
    s_record (world, target, name, s_code_name (expected), got == expected,
              "%s", s_code_name (got));
}

static void
s_print_table (void)
{
    printf ("\n| server | case | expected | got | result |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < s_result_count; i++)
        printf ("| %s | %s | %s | %s | %s |\n", s_results [i].server, s_results [i].name,
                s_results [i].expected, s_results [i].got,
                s_results [i].pass ? "pass" : "FAIL");
    printf ("\nhostile: %zu cases, %zu failed\n", s_result_count, s_failures);
}

//  ---------------------------------------------------------------- setup

static char *
s_actor_ask (zactor_t *actor, const char *command, const char *arg)
{
    if (arg)
        zstr_sendx (actor, command, arg, NULL);
    else
        zstr_send (actor, command);
    char *reply = zstr_recv (actor);
    if (!reply || streq (reply, "ERROR") || strncmp (reply, "ERROR ", 6) == 0) {
        fprintf (stderr, "hostile: server refused %s: %s\n", command, reply ? reply : "-");
        exit (1);
    }
    return reply;
}

static void
s_setup_fail (const char *what, int rc)
{
    fprintf (stderr, "hostile: setup: %s: %s\n", what, s_code_name (rc));
    exit (1);
}

//  Load a server's own key from its data directory, as a thief would
static rsakey_t *
s_own_key (const char *dir)
{
    char *path = zsys_sprintf ("%s/server.key", dir);
    rsakey_t *key = rsakey_load (path);
    REQUIRE (key);
    zstr_free (&path);
    return key;
}

static world_t *
world_new (void)
{
    world_t *world = (world_t *) zmalloc (sizeof *world);
    const char *tmp = getenv ("TMPDIR");
    snprintf (world->dir, sizeof world->dir, "%s/hostile.XXXXXX",
              tmp && strlen (tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp (world->dir)) {
        perror ("hostile: mkdtemp");
        exit (1);
    }
    char *ks_dir = zsys_sprintf ("%s/ks", world->dir);
    char *ms_dir = zsys_sprintf ("%s/ms", world->dir);
    //  Each server's public key file, copied to the other as an operator
    //  would: made first, then each server starts with the other's
    char error [256];
    int rc = keyserver_prepare (ks_dir);
    REQUIRE (rc == 0);
    rc = mainserver_prepare (ms_dir, error, sizeof error);
    REQUIRE (rc == 0);
    char *ks_public = zsys_sprintf ("%s/%s", ks_dir, KEYSERVER_PUBLIC_FILE);
    char *ms_public = zsys_sprintf ("%s/%s", ms_dir, MAINSERVER_PUBLIC_FILE);

    world->keyserver = zactor_new (keyserver_actor, NULL);
    zstr_sendx (world->keyserver, "DATA", ks_dir, NULL);
    zstr_sendx (world->keyserver, "MAINSERVER-KEY", ms_public, NULL);
    zstr_sendx (world->keyserver, "ITERATIONS", "4096", NULL);
    char *reply = s_actor_ask (world->keyserver, "START", NULL);
    zstr_free (&reply);
    world->ks_endpoint = s_actor_ask (world->keyserver, "BIND", "tcp://127.0.0.1:*");

    world->mainserver = zactor_new (mainserver_actor, NULL);
    reply = s_actor_ask (world->mainserver, "DATA", ms_dir);
    zstr_free (&reply);
    reply = s_actor_ask (world->mainserver, "KEYSERVER-KEY", ks_public);
    zstr_free (&reply);
    reply = s_actor_ask (world->mainserver, "START", NULL);
    zstr_free (&reply);
    world->ms_endpoint = s_actor_ask (world->mainserver, "BIND", "tcp://127.0.0.1:*");
    world->push_endpoint = s_actor_ask (world->mainserver, "PUSH-BIND", "tcp://127.0.0.1:*");
    world->ks_own_key = s_own_key (ks_dir);
    world->ms_own_key = s_own_key (ms_dir);
    zstr_free (&ks_dir);
    zstr_free (&ms_dir);
    zstr_free (&ks_public);
    zstr_free (&ms_public);

    world->ks.name = "keyserver";
    world->ks.endpoint = world->ks_endpoint;
    world->ks.is_key = true;
    world->ms.name = "mainserver";
    world->ms.endpoint = world->ms_endpoint;
    world->ms.is_key = false;

    world->good_key = testkeys_key (0);
    world->mallory_key = testkeys_key (1);
    world->attacker_key = testkeys_key (2);
    rsakey_t *other_key = testkeys_key (3);
    world->good_identity = testkeys_key (4);
    world->other_identity = testkeys_key (5);
    world->mallory_identity = testkeys_key (6);

    //  good, other and mallory register on both servers and log in
    world->good_ks = peer_open (world->ks_endpoint, world->good_key);
    world->good_ms = peer_open (world->ms_endpoint, world->good_key);
    world->mallory_ks = peer_open (world->ks_endpoint, world->mallory_key);
    world->mallory_ms = peer_open (world->ms_endpoint, world->mallory_key);
    peer_t *other_ks = peer_open (world->ks_endpoint, other_key);
    peer_t *other_ms = peer_open (world->ms_endpoint, other_key);

    uint8_t *cert = NULL, *login = NULL;
    size_t cert_len = 0, login_len = 0;
    if ((rc = s_ks_register (world->good_ks, "good", PASSWORD, world->good_identity,
                             &world->good_register_cert, &world->good_register_cert_len)))
        s_setup_fail ("register good", rc);
    if ((rc = s_ks_login (world->good_ks, "good", PASSWORD,
                          &world->good_login_cert, &world->good_login_cert_len,
                          &world->good_resume, &world->good_resume_len)))
        s_setup_fail ("login good", rc);
    if ((rc = s_ms_cert (world->good_ms, false, world->good_register_cert,
                         world->good_register_cert_len))
    ||  (rc = s_ms_cert (world->good_ms, true, world->good_login_cert,
                         world->good_login_cert_len)))
        s_setup_fail ("good on the main server", rc);

    if ((rc = s_ks_register (other_ks, "other", PASSWORD, world->other_identity,
                             &cert, &cert_len))
    ||  (rc = s_ms_cert (other_ms, false, cert, cert_len)))
        s_setup_fail ("register other", rc);
    if ((rc = s_ks_register (world->mallory_ks, "mallory", PASSWORD, world->mallory_identity,
                             &cert, &cert_len))
    ||  (rc = s_ks_login (world->mallory_ks, "mallory", PASSWORD, &login, &login_len,
                          NULL, NULL))
    ||  (rc = s_ms_cert (world->mallory_ms, false, cert, cert_len))
    ||  (rc = s_ms_cert (world->mallory_ms, true, login, login_len)))
        s_setup_fail ("mallory", rc);
    free (cert);
    free (login);

    //  good's conversation with other: the signed CREATE, then epoch 1's
    //  key wrapped for both and stored with the ticket
    if ((rc = s_ms_create (world->good_ms, "good", world->good_identity, "other",
                           world->conversation, world->conversation_key, &world->link,
                           &world->ticket, &world->ticket_len)))
        s_setup_fail ("good creates a conversation", rc);
    uint8_t *wrapped [2];
    size_t wrapped_len [2];
    rc = epochkey_wrap (world->good_identity, world->conversation_key, &wrapped [0],
                        &wrapped_len [0]);
    REQUIRE (rc == CHAT_OK);
    rc = epochkey_wrap (world->other_identity, world->conversation_key, &wrapped [1],
                        &wrapped_len [1]);
    REQUIRE (rc == CHAT_OK);
    const char *names [] = { "good", "other" };
    if ((rc = s_ks_put (world->good_ks, world->ticket, world->ticket_len, names, 2,
                        wrapped, wrapped_len)))
        s_setup_fail ("good stores the wrapped keys", rc);
    free (wrapped [0]);
    free (wrapped [1]);
    uint8_t mallory_key [32];
    chain_link_t mallory_link;
    if ((rc = s_ms_create (world->mallory_ms, "mallory", world->mallory_identity, "good",
                           world->mallory_conversation, mallory_key, &mallory_link,
                           &world->mallory_ticket, &world->mallory_ticket_len)))
        s_setup_fail ("mallory creates a conversation", rc);
    chain_link_free (&mallory_link);

    peer_destroy (&other_ks);
    peer_destroy (&other_ms);
    char why [160];
    if (!s_healthy (world, why, sizeof why)) {
        fprintf (stderr, "hostile: setup: %s\n", why);
        exit (1);
    }
    printf ("hostile: keyserver %s, mainserver %s (push %s), data in %s\n",
            world->ks_endpoint, world->ms_endpoint, world->push_endpoint, world->dir);
    return world;
}

static void
world_destroy (world_t **world_p)
{
    world_t *world = *world_p;
    peer_destroy (&world->good_ks);
    peer_destroy (&world->good_ms);
    peer_destroy (&world->mallory_ks);
    peer_destroy (&world->mallory_ms);
    zactor_destroy (&world->keyserver);
    zactor_destroy (&world->mainserver);
    zstr_free (&world->ks_endpoint);
    zstr_free (&world->ms_endpoint);
    zstr_free (&world->push_endpoint);
    rsakey_destroy (&world->ks_own_key);
    rsakey_destroy (&world->ms_own_key);
    chain_link_free (&world->link);
    free (world->ticket);
    free (world->good_login_cert);
    free (world->good_register_cert);
    free (world->good_resume);
    free (world->mallory_ticket);
    zdir_t *dir = zdir_new (world->dir, NULL);
    if (dir) {
        zdir_remove (dir, true);
        zdir_destroy (&dir);
    }
    rmdir (world->dir);
    free (world);
    *world_p = NULL;
    testkeys_free ();
}

//  ---------------------------------------------------------------- channel layer

//  Send one frame on a fresh DEALER and read the clear answer.
static int
s_one_frame (const target_t *target, const void *data, size_t size, int timeout_ms)
{
    peer_t *peer = peer_new (target->endpoint);
    peer_send (peer, data, size);
    int rc = peer_answer (peer, timeout_ms, NULL, NULL);
    peer_destroy (&peer);
    return rc;
}

//  A Hello as a client would make it, with its parts overridden
static void
s_hello (rsakey_t *key, uint32_t version, const uint8_t *der, size_t der_len,
         size_t nonce_len, uint8_t **frame, size_t *size)
{
    size_t own_len;
    const uint8_t *own = rsakey_der (key, &own_len);
    uint8_t nonce [64];
    secret_random (nonce, sizeof nonce);
    Chat__Hello hello = CHAT__HELLO__INIT;
    hello.version = version;
    hello.client_public_key.data = (uint8_t *) (der ? der : own);
    hello.client_public_key.len = der ? der_len : own_len;
    hello.client_nonce.data = nonce;
    hello.client_nonce.len = nonce_len;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_HELLO;
    env.hello = &hello;
    s_pack (&env.base, frame, size);
}

static void
s_bad_hello (world_t *world, const target_t *target, const char *name, int expected,
             uint32_t version, const uint8_t *der, size_t der_len, size_t nonce_len)
{
    uint8_t *frame;
    size_t size;
    s_hello (world->attacker_key, version, der, der_len, nonce_len, &frame, &size);
    int rc = s_one_frame (target, frame, size, WAIT_MS);
    free (frame);
    s_expect (world, target, name, expected, rc);
}

//  DER of any OpenSSL key (malloc'd)
static uint8_t *
s_pkey_der (EVP_PKEY *pkey, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY (pkey, &der);
    REQUIRE (n > 0);
    uint8_t *copy = (uint8_t *) malloc ((size_t) n);
    memcpy (copy, der, (size_t) n);
    OPENSSL_free (der);
    *len = (size_t) n;
    return copy;
}

//  A Hello with pkey as the client key, which must be refused as BAD_KEY
static void
s_bad_key (world_t *world, const target_t *target, const char *name, EVP_PKEY *pkey)
{
    size_t len;
    uint8_t *der = s_pkey_der (pkey, &len);
    s_bad_hello (world, target, name, CHAT_ERR_BAD_KEY, CHANNEL_VERSION, der, len,
                 CHANNEL_NONCE_SIZE);
    free (der);
}

//  The DER of the key of issue 12's attack 2: RSA-3072 (a random odd
//  modulus: the server never gets as far as noticing) whose public exponent
//  has 3071 bits (malloc'd)
static uint8_t *
s_costly_key_der (size_t *len)
{
    BIGNUM *n = BN_new (), *e = BN_new ();
    REQUIRE (n && e && BN_rand (n, 3072, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD));
    REQUIRE (BN_set_bit (e, 3070) && BN_set_bit (e, 0));
    OSSL_PARAM_BLD *build = OSSL_PARAM_BLD_new ();
    REQUIRE (build && OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_N, n)
             && OSSL_PARAM_BLD_push_BN (build, OSSL_PKEY_PARAM_RSA_E, e));
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param (build);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;
    REQUIRE (params && ctx && EVP_PKEY_fromdata_init (ctx) > 0
             && EVP_PKEY_fromdata (ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0);
    uint8_t *der = s_pkey_der (pkey, len);
    EVP_PKEY_free (pkey);
    EVP_PKEY_CTX_free (ctx);
    OSSL_PARAM_free (params);
    OSSL_PARAM_BLD_free (build);
    BN_free (n);
    BN_free (e);
    return der;
}

static void
s_handshake_cases (world_t *world, const target_t *target)
{
    s_bad_hello (world, target, "hello: protocol version 1", CHAT_ERR_BAD_VERSION,
                 1, NULL, 0, CHANNEL_NONCE_SIZE);
    s_bad_hello (world, target, "hello: protocol version 3", CHAT_ERR_BAD_VERSION,
                 3, NULL, 0, CHANNEL_NONCE_SIZE);
    s_bad_hello (world, target, "hello: protocol version 0 (missing)", CHAT_ERR_BAD_VERSION,
                 0, NULL, 0, CHANNEL_NONCE_SIZE);
    s_bad_hello (world, target, "hello: 8-byte nonce", CHAT_ERR_MALFORMED,
                 CHANNEL_VERSION, NULL, 0, 8);
    s_bad_hello (world, target, "hello: no nonce", CHAT_ERR_MALFORMED,
                 CHANNEL_VERSION, NULL, 0, 0);
    s_bad_hello (world, target, "hello: no key", CHAT_ERR_BAD_KEY,
                 CHANNEL_VERSION, (const uint8_t *) "", 0, CHANNEL_NONCE_SIZE);

    EVP_PKEY *small = EVP_RSA_gen (1024);
    EVP_PKEY *ec = EVP_EC_gen ("P-256");
    REQUIRE (small && ec);
    s_bad_key (world, target, "hello: RSA 1024 key", small);
    s_bad_key (world, target, "hello: EC P-256 key", ec);
    EVP_PKEY_free (small);
    EVP_PKEY_free (ec);

    uint8_t junk [294];
    secret_random (junk, sizeof junk);
    s_bad_hello (world, target, "hello: 294 random bytes as key", CHAT_ERR_BAD_KEY,
                 CHANNEL_VERSION, junk, sizeof junk, CHANNEL_NONCE_SIZE);

    //  A real key with a byte after its DER
    size_t len;
    const uint8_t *own = rsakey_der (world->attacker_key, &len);
    uint8_t *longer = (uint8_t *) malloc (len + 1);
    memcpy (longer, own, len);
    longer [len] = 0;
    s_bad_hello (world, target, "hello: RSA 2048 DER + trailing byte", CHAT_ERR_BAD_KEY,
                 CHANNEL_VERSION, longer, len + 1, CHANNEL_NONCE_SIZE);
    //  The same key with an even modulus (its last byte sits just before
    //  the exponent, 02 03 01 00 01): OpenSSL parses it but cannot use it
    memcpy (longer, own, len);
    REQUIRE (len > 6 && longer [len - 5] == 0x02);
    longer [len - 6] &= 0xFE;
    uint8_t *frame;
    size_t size;
    s_hello (world->attacker_key, CHANNEL_VERSION, longer, len, CHANNEL_NONCE_SIZE,
             &frame, &size);
    int rc = s_one_frame (target, frame, size, WAIT_MS);
    free (frame);
    free (longer);
    s_record (world, target, "hello: RSA 2048 key with even modulus", "BAD_KEY",
              rc == CHAT_ERR_BAD_KEY, "%s", s_code_name (rc));

    //  Keys that cost too much to take: exponent 3 (cheap, but not ours),
    //  and RSA-3072 with a 3071-bit exponent (twenty times the work)
    EVP_PKEY *three = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id (EVP_PKEY_RSA, NULL);
    BIGNUM *e = BN_new ();
    REQUIRE (ctx && e && BN_set_word (e, 3) && EVP_PKEY_keygen_init (ctx) > 0
             && EVP_PKEY_CTX_set_rsa_keygen_bits (ctx, 2048) > 0
             && EVP_PKEY_CTX_set1_rsa_keygen_pubexp (ctx, e) > 0
             && EVP_PKEY_keygen (ctx, &three) > 0);
    s_bad_key (world, target, "hello: RSA 2048 key, exponent 3", three);
    EVP_PKEY_free (three);
    EVP_PKEY_CTX_free (ctx);
    BN_free (e);
    uint8_t *der = s_costly_key_der (&len);
    s_bad_hello (world, target, "hello: RSA 3072 key, 3071-bit exponent", CHAT_ERR_BAD_KEY,
                 CHANNEL_VERSION, der, len, CHANNEL_NONCE_SIZE);
    free (der);
}

static void
s_garbage_cases (world_t *world, const target_t *target)
{
    uint8_t ff [64];
    memset (ff, 0xFF, sizeof ff);
    s_expect (world, target, "64 bytes of 0xFF", CHAT_ERR_MALFORMED,
              s_one_frame (target, ff, sizeof ff, WAIT_MS));
    const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    s_expect (world, target, "an HTTP request", CHAT_ERR_MALFORMED,
              s_one_frame (target, http, strlen (http), WAIT_MS));
    s_expect (world, target, "empty frame", CHAT_ERR_MALFORMED,
              s_one_frame (target, "", 0, WAIT_MS));

    //  Envelopes only a server sends
    uint8_t *frame;
    size_t size;
    int rc = wire_error_frame (CHAT_ERR_BUSY, NULL, 0, &frame, &size);
    REQUIRE (rc == CHAT_OK);
    s_expect (world, target, "an Envelope{error} sent to the server", CHAT_ERR_MALFORMED,
              s_one_frame (target, frame, size, WAIT_MS));
    free (frame);
    Chat__Welcome welcome = CHAT__WELCOME__INIT;
    welcome.version = CHANNEL_VERSION;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_WELCOME;
    env.welcome = &welcome;
    s_pack (&env.base, &frame, &size);
    s_expect (world, target, "an Envelope{welcome} sent to the server", CHAT_ERR_MALFORMED,
              s_one_frame (target, frame, size, WAIT_MS));
    free (frame);

    //  Exactly at the limit: read, and refused as garbage
    uint8_t *big = (uint8_t *) calloc (1, WIRE_MAX_FRAME + 1);
    REQUIRE (big);
    s_expect (world, target, "frame of WIRE_MAX_FRAME zero bytes", CHAT_ERR_MALFORMED,
              s_one_frame (target, big, WIRE_MAX_FRAME, WAIT_MS));
    //  One byte over: ZMQ_MAXMSGSIZE drops the connection; the DEALER
    //  reconnects and is served again
    peer_t *peer = peer_new (target->endpoint);
    peer_send (peer, big, WIRE_MAX_FRAME + 1);
    rc = peer_answer (peer, QUIET_MS, NULL, NULL);
    peer_send (peer, ff, sizeof ff);
    int again = peer_answer (peer, WAIT_MS, NULL, NULL);
    peer_destroy (&peer);
    free (big);
    s_record (world, target, "frame of WIRE_MAX_FRAME + 1 bytes",
              "dropped; then MALFORMED", rc == RC_NONE && again == CHAT_ERR_MALFORMED,
              "%s; then %s", rc == RC_NONE ? "dropped" : s_code_name (rc),
              s_code_name (again));

    //  Multipart: a DEALER sends one frame; two are refused whole
    peer = peer_new (target->endpoint);
    s_hello (world->attacker_key, CHANNEL_VERSION, NULL, 0, CHANNEL_NONCE_SIZE, &frame, &size);
    peer_send_multi (peer, frame, size, frame, size);
    rc = peer_answer (peer, WAIT_MS, NULL, NULL);
    int extra = peer_answer (peer, QUIET_MS, NULL, NULL);
    s_record (world, target, "multipart [hello][hello]", "MALFORMED, once",
              rc == CHAT_ERR_MALFORMED && extra == RC_NONE, "%s, then %s",
              s_code_name (rc), s_code_name (extra));
    peer_send_multi (peer, "", 0, frame, size);
    rc = peer_answer (peer, WAIT_MS, NULL, NULL);
    s_expect (world, target, "REQ-style [empty][hello]", CHAT_ERR_MALFORMED, rc);
    free (frame);
    peer_destroy (&peer);

    //  Every truncation of a valid Hello, each on the same DEALER
    s_hello (world->attacker_key, CHANNEL_VERSION, NULL, 0, CHANNEL_NONCE_SIZE, &frame, &size);
    peer = peer_new (target->endpoint);
    for (size_t cut = 1; cut < size; cut++)
        peer_send (peer, frame, cut);
    size_t answered = 0, malformed = 0, bad_key = 0, other = 0;
    for (size_t cut = 1; cut < size; cut++) {
        rc = peer_answer (peer, WAIT_MS, NULL, NULL);
        if (rc == RC_NONE)
            break;
        answered++;
        if (rc == CHAT_ERR_MALFORMED)
            malformed++;
        else
        if (rc == CHAT_ERR_BAD_KEY)
            bad_key++;
        else
            other++;
    }
    peer_destroy (&peer);
    free (frame);
    char expected [48];
    snprintf (expected, sizeof expected, "%zu refusals", size - 1);
    char name [72];
    snprintf (name, sizeof name, "hello truncated at each of 1..%zu bytes", size - 1);
    s_record (world, target, name, expected, answered == size - 1 && other == 0,
              "%zu answered: %zu MALFORMED, %zu BAD_KEY, %zu other",
              answered, malformed, bad_key, other);
}

//  Cases on an open session of the attacker's own
static void
s_sealed_cases (world_t *world, const target_t *target)
{
    peer_t *peer = peer_open (target->endpoint, world->attacker_key);
    uint8_t *frame;
    size_t size;
    int rc;

    //  Every truncation of a valid sealed request; then the whole frame,
    //  which must still be taken (no truncation consumed its number)
    uint64_t id = s_probe_frame (target, peer, &frame, &size);
    for (size_t cut = 1; cut < size; cut++)
        peer_send (peer, frame, cut);
    size_t answered = 0, malformed = 0, bad_mac = 0, other = 0;
    for (size_t cut = 1; cut < size; cut++) {
        rc = peer_answer (peer, WAIT_MS, NULL, NULL);
        if (rc == RC_NONE)
            break;
        answered++;
        if (rc == CHAT_ERR_MALFORMED)
            malformed++;
        else
        if (rc == CHAT_ERR_BAD_MAC)
            bad_mac++;
        else
            other++;
    }
    peer_send (peer, frame, size);
    int whole = s_answer (target, peer, id);
    char name [72];
    snprintf (name, sizeof name, "sealed request truncated at each of 1..%zu bytes", size - 1);
    s_record (world, target, name, "all refused; whole one OK",
              answered == size - 1 && other == 0 && whole == CHAT_OK,
              "%zu answered: %zu MALFORMED, %zu BAD_MAC, %zu other; whole %s",
              answered, malformed, bad_mac, other, s_code_name (whole));

    //  The same frame again, from the same DEALER and from another
    peer_send (peer, frame, size);
    s_expect (world, target, "sealed frame replayed", CHAT_ERR_REPLAYED,
              peer_answer (peer, WAIT_MS, NULL, NULL));
    peer_t *thief = peer_new (target->endpoint);
    peer_send (thief, frame, size);
    rc = peer_answer (thief, WAIT_MS, NULL, NULL);
    //  The replay must not have moved the session's replies to the thief
    int own = s_probe (target, peer);
    int stolen = peer_answer (thief, QUIET_MS, NULL, NULL);
    s_record (world, target, "sealed frame replayed from another DEALER",
              "REPLAYED; session stays put",
              rc == CHAT_ERR_REPLAYED && own == CHAT_OK && stolen == RC_NONE,
              "%s; owner's next request %s, thief got %s", s_code_name (rc),
              s_code_name (own), s_code_name (stolen));
    peer_destroy (&thief);
    free (frame);

    //  Reordered: the later frame first
    uint8_t *first, *second;
    size_t first_size, second_size;
    uint64_t first_id = s_probe_frame (target, peer, &first, &first_size);
    uint64_t second_id = s_probe_frame (target, peer, &second, &second_size);
    peer_send (peer, second, second_size);
    int later = s_answer (target, peer, second_id);
    peer_send (peer, first, first_size);
    rc = s_answer (target, peer, first_id);
    s_record (world, target, "sealed frames reordered (seq n+1 then n)",
              "OK then REORDERED", later == CHAT_OK && rc == CHAT_ERR_REORDERED,
              "%s then %s", s_code_name (later), s_code_name (rc));
    free (first);
    free (second);

    //  Clock games: too old, too new; the session lives on
    channel_set_clock_offset (peer_channel (peer), -(CHANNEL_TTL + 30));
    id = s_probe_frame (target, peer, &frame, &size);
    channel_set_clock_offset (peer_channel (peer), 0);
    peer_send (peer, frame, size);
    free (frame);
    s_expect (world, target, "token 90 s old (expired)", CHAT_ERR_EXPIRED,
              s_answer (target, peer, id));
    channel_set_clock_offset (peer_channel (peer), FERNET_MAX_CLOCK_SKEW + 30);
    id = s_probe_frame (target, peer, &frame, &size);
    channel_set_clock_offset (peer_channel (peer), 0);
    peer_send (peer, frame, size);
    free (frame);
    s_expect (world, target, "token 90 s in the future", CHAT_ERR_FUTURE,
              s_answer (target, peer, id));
    s_expect (world, target, "the same session after the refusals", CHAT_OK,
              s_probe (target, peer));

    //  A well-formed body sealed under a key that is not the session's
    uint8_t *payload;
    size_t len;
    s_probe_pack (target, 77, &payload, &len);
    Chat__ChannelBody body = CHAT__CHANNEL_BODY__INIT;
    body.seq = 1000000;
    body.payload.data = payload;
    body.payload.len = len;
    uint8_t *plain;
    size_t plain_len;
    s_pack (&body.base, &plain, &plain_len);
    uint8_t wrong_key [FERNET_KEY_SIZE];
    fernet_key_generate (wrong_key);
    char *token = NULL;
    rc = fernet_encrypt (wrong_key, plain, plain_len, wire_now (), &token);
    REQUIRE (rc == CHAT_OK);
    Chat__Sealed sealed = CHAT__SEALED__INIT;
    sealed.session_id.data = (uint8_t *) channel_session_id (peer_channel (peer));
    sealed.session_id.len = CHANNEL_SESSION_ID_SIZE;
    sealed.token = token;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_SEALED;
    env.sealed = &sealed;
    s_pack (&env.base, &frame, &size);
    peer_send (peer, frame, size);
    free (frame);
    s_expect (world, target, "body re-sealed under a wrong key", CHAT_ERR_BAD_MAC,
              peer_answer (peer, WAIT_MS, NULL, NULL));

    //  Unknown session, short session id
    uint8_t unknown [CHANNEL_SESSION_ID_SIZE];
    secret_random (unknown, sizeof unknown);
    sealed.session_id.data = unknown;
    s_pack (&env.base, &frame, &size);
    peer_send (peer, frame, size);
    free (frame);
    s_expect (world, target, "unknown session id", CHAT_ERR_UNKNOWN_SESSION,
              peer_answer (peer, WAIT_MS, NULL, NULL));
    sealed.session_id.len = CHANNEL_SESSION_ID_SIZE - 1;
    s_pack (&env.base, &frame, &size);
    peer_send (peer, frame, size);
    free (frame);
    s_expect (world, target, "15-byte session id", CHAT_ERR_MALFORMED,
              peer_answer (peer, WAIT_MS, NULL, NULL));
    free (token);
    free (plain);
    free (payload);

    //  A real token of this session with one character changed
    id = s_probe_frame (target, peer, &frame, &size);
    Chat__Envelope *parsed = NULL;
    rc = wire_envelope_unpack (frame, size, &parsed);
    REQUIRE (rc == CHAT_OK);
    free (frame);
    token = strdup (parsed->sealed->token);
    size_t middle = strlen (token) / 2;
    token [middle] = token [middle] == 'A' ? 'B' : 'A';
    sealed.session_id.data = (uint8_t *) channel_session_id (peer_channel (peer));
    sealed.session_id.len = CHANNEL_SESSION_ID_SIZE;
    sealed.token = token;
    s_pack (&env.base, &frame, &size);
    peer_send (peer, frame, size);
    free (frame);
    s_expect (world, target, "token with one character changed", CHAT_ERR_BAD_MAC,
              peer_answer (peer, WAIT_MS, NULL, NULL));
    free (token);

    //  The untouched token under another session's id
    peer_t *second_peer = peer_open (target->endpoint, world->attacker_key);
    sealed.session_id.data = (uint8_t *) channel_session_id (peer_channel (second_peer));
    sealed.token = parsed->sealed->token;
    s_pack (&env.base, &frame, &size);
    peer_send (peer, frame, size);
    free (frame);
    rc = peer_answer (peer, WAIT_MS, NULL, NULL);
    int first_ok = s_probe (target, peer);
    int second_ok = s_probe (target, second_peer);
    s_record (world, target, "token of session A under session B's id",
              "BAD_MAC; both sessions OK",
              rc == CHAT_ERR_BAD_MAC && first_ok == CHAT_OK && second_ok == CHAT_OK,
              "%s; A %s, B %s", s_code_name (rc), s_code_name (first_ok),
              s_code_name (second_ok));
    chat__envelope__free_unpacked (parsed, NULL);
    peer_destroy (&second_peer);
    (void) id;

    //  A 3 MiB token inside the frame limit
    size_t huge = 3 * 1024 * 1024;
    token = (char *) malloc (huge + 1);
    memset (token, 'A', huge);
    token [huge] = 0;
    sealed.session_id.data = (uint8_t *) channel_session_id (peer_channel (peer));
    sealed.token = token;
    s_pack (&env.base, &frame, &size);
    free (token);
    peer_send (peer, frame, size);
    free (frame);
    rc = peer_answer (peer, WAIT_MS, NULL, NULL);
    s_record (world, target, "3 MiB token of 'A's", "MALFORMED or BAD_MAC",
              rc == CHAT_ERR_MALFORMED || rc == CHAT_ERR_BAD_MAC, "%s", s_code_name (rc));

    //  Payloads that are not requests, well sealed
    peer_send_sealed (peer, (const uint8_t *) "", 0);
    s_expect (world, target, "empty request payload", CHAT_ERR_BAD_REQUEST,
              s_answer (target, peer, 0));
    uint8_t ff [32];
    memset (ff, 0xFF, sizeof ff);
    peer_send_sealed (peer, ff, sizeof ff);
    s_expect (world, target, "request payload of 0xFF bytes", CHAT_ERR_MALFORMED,
              s_answer (target, peer, 0));
    //  request_id 5, then field 99 (not in the oneof) as a varint
    static const uint8_t unknown_field [] = { 0x08, 0x05, 0x98, 0x06, 0x01 };
    peer_send_sealed (peer, unknown_field, sizeof unknown_field);
    s_expect (world, target, "request with an unknown oneof field only", CHAT_ERR_BAD_REQUEST,
              s_answer (target, peer, 5));
    peer_destroy (&peer);
}

//  ---------------------------------------------------------------- key server

static int
s_ks_simple (peer_t *peer, Chat__KeyRequest__BodyCase body_case, void *body)
{
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    request.body_case = body_case;
    //  Every body pointer of the oneof shares one place
    request.register_params = (Chat__RegisterParamsRequest *) body;
    return s_key_call (peer, &request, NULL);
}

//  An RSA public key (DER) of bits and exponent, made here: rsakey makes
//  only what the protocol allows
static uint8_t *
s_rsa_der (int bits, unsigned long exponent, size_t *len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id (EVP_PKEY_RSA, NULL);
    BIGNUM *e = BN_new ();
    EVP_PKEY *pkey = NULL;
    int ok = ctx && e && BN_set_word (e, exponent) && EVP_PKEY_keygen_init (ctx) > 0
          && EVP_PKEY_CTX_set_rsa_keygen_bits (ctx, bits) > 0
          && EVP_PKEY_CTX_set1_rsa_keygen_pubexp (ctx, e) > 0
          && EVP_PKEY_keygen (ctx, &pkey) > 0;
    REQUIRE (ok);
    uint8_t *der = s_pkey_der (pkey, len);
    EVP_PKEY_free (pkey);
    BN_free (e);
    EVP_PKEY_CTX_free (ctx);
    return der;
}

//  A key ticket of the attacker's own making, signed with key
static void
s_forged_ticket (rsakey_t *key, const uint8_t *conversation, const char *uploader,
                 rsakey_t *client_key, uint8_t **ticket, size_t *len)
{
    const char *members [] = { "good", "other" };
    credential_ticket_t body;
    memcpy (body.conversation_id, conversation, CONVERSATION_ID_SIZE);
    body.epoch = 2;
    body.members = (char **) members;
    body.member_count = 2;
    body.uploader = (char *) uploader;
    int rc = credential_ticket_issue (key, &body, rsakey_fingerprint (client_key),
                                      wire_now (), ticket, len);
    REQUIRE (rc == CHAT_OK);
}

static void
s_keyserver_cases (world_t *world)
{
    const target_t *ks = &world->ks;
    peer_t *peer = peer_open (ks->endpoint, world->attacker_key);
    uint8_t bytes [2][256];
    memset (bytes, 0x5a, sizeof bytes);
    uint8_t *wrapped [] = { bytes [0], bytes [1] };
    size_t wrapped_len [] = { 256, 256 };
    const char *both [] = { "good", "other" };

    //  Requests out of order, before any login
    Chat__LoginFinish finish = CHAT__LOGIN_FINISH__INIT;
    finish.client_final = "c=biws,r=abc,p=AAAA";
    s_expect (world, ks, "login_finish before login_start", CHAT_ERR_OUT_OF_ORDER,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_LOGIN_FINISH, &finish));
    s_expect (world, ks, "get_keys before login", CHAT_ERR_NOT_LOGGED_IN,
              s_ks_get (peer, world->conversation, CONVERSATION_ID_SIZE, NULL, NULL));
    s_expect (world, ks, "put_keys before login (good's real ticket)", CHAT_ERR_NOT_LOGGED_IN,
              s_ks_put (peer, world->ticket, world->ticket_len, both, 2, wrapped,
                        wrapped_len));
    Chat__GetIdentitiesRequest identities = CHAT__GET_IDENTITIES_REQUEST__INIT;
    char *good_name [] = { "good" };
    identities.usernames = good_name;
    identities.n_usernames = 1;
    s_expect (world, ks, "get_identities before login", CHAT_ERR_NOT_LOGGED_IN,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_GET_IDENTITIES, &identities));
    Chat__LoginStart start = CHAT__LOGIN_START__INIT;
    start.client_first = "n,,n=good,r=abcdefghijkl";
    s_expect (world, ks, "password_start before login", CHAT_ERR_NOT_LOGGED_IN,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_PASSWORD_START, &start));
    Chat__PasswordFinish pw_finish = CHAT__PASSWORD_FINISH__INIT;
    pw_finish.client_final = "c=biws,r=abc,p=AAAA";
    s_expect (world, ks, "password_finish before password_start", CHAT_ERR_OUT_OF_ORDER,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_PASSWORD_FINISH, &pw_finish));
    start.client_first = "hello";
    s_expect (world, ks, "login_start with garbage client-first", CHAT_ERR_MALFORMED,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_LOGIN_START, &start));
    s_expect (world, ks, "login_finish after a refused login_start", CHAT_ERR_OUT_OF_ORDER,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_LOGIN_FINISH, &finish));
    start.client_first = "p=tls-unique,,n=good,r=abcdef";
    s_expect (world, ks, "login_start asking for channel binding", CHAT_ERR_MALFORMED,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_LOGIN_START, &start));
    start.client_first = "";
    s_expect (world, ks, "login_start with empty client-first", CHAT_ERR_MALFORMED,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_LOGIN_START, &start));

    //  A whole login with a wrong password, for a user of its own
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    int rc = s_ks_register (peer, "victim", PASSWORD, world->attacker_key, &cert, &cert_len);
    REQUIRE (rc == CHAT_OK);
    free (cert);
    cert = NULL;
    s_expect (world, ks, "login with a wrong password", CHAT_ERR_AUTH_FAILED,
              s_ks_login (peer, "victim", "wrong", NULL, NULL, NULL, NULL));
    s_expect (world, ks, "login as a user that does not exist", CHAT_ERR_AUTH_FAILED,
              s_ks_login (peer, "nobody", PASSWORD, NULL, NULL, NULL, NULL));

    //  Registration refusals
    Chat__RegisterParamsRequest params = CHAT__REGISTER_PARAMS_REQUEST__INIT;
    params.username = "bad name!";
    s_expect (world, ks, "register_params for 'bad name!'", CHAT_ERR_INVALID_USERNAME,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS, &params));
    s_expect (world, ks, "register 'good' again", CHAT_ERR_USERNAME_TAKEN,
              s_ks_register (peer, "good", "other password", world->attacker_key,
                             NULL, NULL));
    s_expect (world, ks, "register 'GOOD' (case differs)", CHAT_ERR_USERNAME_TAKEN,
              s_ks_register (peer, "GOOD", "other password", world->attacker_key,
                             NULL, NULL));
    uint8_t salt [16], stored [31];
    memset (salt, 1, sizeof salt);
    memset (stored, 2, sizeof stored);
    char *sealed = NULL;
    uint8_t seal_key [FERNET_KEY_SIZE];
    fernet_key_generate (seal_key);
    rc = fernet_encrypt (seal_key, (const uint8_t *) "identity", 8, wire_now (), &sealed);
    REQUIRE (rc == CHAT_OK);
    Chat__RegisterRequest reg = CHAT__REGISTER_REQUEST__INIT;
    reg.username = "shortkey";
    reg.salt.data = salt;
    reg.salt.len = sizeof salt;
    reg.iterations = 4096;
    reg.stored_key.data = stored;
    reg.stored_key.len = sizeof stored;
    reg.server_key.data = stored;
    reg.server_key.len = sizeof stored;
    reg.identity_public_key.data = (uint8_t *) rsakey_der (world->attacker_key,
                                                           &reg.identity_public_key.len);
    reg.sealed_identity.data = (uint8_t *) sealed;
    reg.sealed_identity.len = strlen (sealed);
    s_expect (world, ks, "register with 31-byte verifiers", CHAT_ERR_BAD_REQUEST,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_REGISTER, &reg));
    uint8_t full [32];
    memset (full, 2, sizeof full);
    reg.stored_key.data = reg.server_key.data = full;
    reg.stored_key.len = reg.server_key.len = sizeof full;
    reg.iterations = 1;
    s_expect (world, ks, "register with 1 PBKDF2 iteration", CHAT_ERR_BAD_REQUEST,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_REGISTER, &reg));
    reg.iterations = 4096;
    reg.sealed_identity.len = 0;
    s_expect (world, ks, "register without a sealed identity", CHAT_ERR_BAD_REQUEST,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_REGISTER, &reg));
    char *huge_sealed = (char *) malloc (8193);
    memset (huge_sealed, 'A', 8193);
    reg.sealed_identity.data = (uint8_t *) huge_sealed;
    reg.sealed_identity.len = 8193;
    s_expect (world, ks, "register with an 8193-byte sealed identity", CHAT_ERR_BAD_REQUEST,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_REGISTER, &reg));
    free (huge_sealed);
    reg.sealed_identity.data = (uint8_t *) sealed;
    reg.sealed_identity.len = strlen (sealed);
    size_t der_len = 0;
    uint8_t *der = s_rsa_der (1024, 65537, &der_len);
    reg.identity_public_key.data = der;
    reg.identity_public_key.len = der_len;
    s_expect (world, ks, "register with an RSA 1024 identity", CHAT_ERR_BAD_KEY,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_REGISTER, &reg));
    free (der);
    der = s_rsa_der (2048, 3, &der_len);
    reg.identity_public_key.data = der;
    reg.identity_public_key.len = der_len;
    s_expect (world, ks, "register with an identity of exponent 3", CHAT_ERR_BAD_KEY,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_REGISTER, &reg));
    free (der);
    reg.identity_public_key.data = (uint8_t *) "identity";
    reg.identity_public_key.len = 8;
    s_expect (world, ks, "register with 8 bytes as identity key", CHAT_ERR_BAD_KEY,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_REGISTER, &reg));
    reg.username = "";
    s_expect (world, ks, "register with an empty username", CHAT_ERR_INVALID_USERNAME,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_REGISTER, &reg));
    free (sealed);

    //  Resume tokens: junk, good's lifted onto another key, a certificate
    Chat__ResumeRequest resume = CHAT__RESUME_REQUEST__INIT;
    resume.resume_token.data = (uint8_t *) "gAAAAABlU_8AAAAAAAAAAAAAAAAAAAAAAAAAAA==";
    resume.resume_token.len = 40;
    s_expect (world, ks, "resume with a junk token", CHAT_ERR_BAD_CERTIFICATE,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_RESUME, &resume));
    resume.resume_token.data = world->good_resume;
    resume.resume_token.len = world->good_resume_len;
    s_expect (world, ks, "resume with good's token from another key", CHAT_ERR_BAD_CERTIFICATE,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_RESUME, &resume));
    resume.resume_token.data = world->good_login_cert;
    resume.resume_token.len = world->good_login_cert_len;
    s_expect (world, ks, "resume with a login certificate", CHAT_ERR_BAD_CERTIFICATE,
              s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_RESUME, &resume));
    peer_destroy (&peer);

    //  Tickets and keys, from mallory's logged-in session
    peer_t *mallory = world->mallory_ks;
    s_expect (world, ks, "put_keys with good's ticket (other user and key)", CHAT_ERR_BAD_TICKET,
              s_ks_put (mallory, world->ticket, world->ticket_len, both, 2, wrapped,
                        wrapped_len));
    uint8_t *forged = NULL;
    size_t forged_len = 0;
    s_forged_ticket (world->ks_own_key, world->conversation, "mallory", world->mallory_key,
                     &forged, &forged_len);
    s_expect (world, ks, "put_keys, ticket signed with the key server's own key",
              CHAT_ERR_BAD_TICKET,
              s_ks_put (mallory, forged, forged_len, both, 2, wrapped, wrapped_len));
    free (forged);
    s_forged_ticket (world->attacker_key, world->conversation, "mallory",
                     world->mallory_key, &forged, &forged_len);
    s_expect (world, ks, "put_keys, ticket signed by a stranger", CHAT_ERR_BAD_TICKET,
              s_ks_put (mallory, forged, forged_len, both, 2, wrapped, wrapped_len));
    free (forged);
    uint8_t random [120];
    secret_random (random, sizeof random);
    s_expect (world, ks, "put_keys with 120 random bytes as ticket", CHAT_ERR_BAD_TICKET,
              s_ks_put (mallory, random, sizeof random, both, 2, wrapped, wrapped_len));
    s_expect (world, ks, "put_keys with an empty ticket", CHAT_ERR_BAD_TICKET,
              s_ks_put (mallory, (const uint8_t *) "", 0, both, 2, wrapped, wrapped_len));
    s_expect (world, ks, "put_keys with good's login certificate as ticket",
              CHAT_ERR_BAD_TICKET,
              s_ks_put (mallory, world->good_login_cert, world->good_login_cert_len, both, 2,
                        wrapped, wrapped_len));
    const char *not_members [] = { "mallory", "other" };
    s_expect (world, ks, "put_keys, own ticket, a set for other names", CHAT_ERR_BAD_REQUEST,
              s_ks_put (mallory, world->mallory_ticket, world->mallory_ticket_len,
                        not_members, 2, wrapped, wrapped_len));
    const char *twice [] = { "mallory", "MALLORY" };
    s_expect (world, ks, "put_keys, own ticket, one member twice", CHAT_ERR_BAD_REQUEST,
              s_ks_put (mallory, world->mallory_ticket, world->mallory_ticket_len,
                        twice, 2, wrapped, wrapped_len));
    size_t short_len [] = { 100, 256 };
    const char *own [] = { "mallory", "good" };
    s_expect (world, ks, "put_keys, own ticket, a 100-byte wrapped key", CHAT_ERR_BAD_REQUEST,
              s_ks_put (mallory, world->mallory_ticket, world->mallory_ticket_len,
                        own, 2, wrapped, short_len));
    size_t count = 99;
    rc = s_ks_get (mallory, world->conversation, CONVERSATION_ID_SIZE, &count, NULL);
    s_record (world, ks, "get_keys for good's conversation", "OK, no copy",
              rc == CHAT_OK && count == 0, "%s, %zu copies", s_code_name (rc), count);
    s_expect (world, ks, "get_keys with a 15-byte conversation id", CHAT_ERR_BAD_REQUEST,
              s_ks_get (mallory, world->conversation, CONVERSATION_ID_SIZE - 1, NULL, NULL));
    //  good's epoch 1 has its set: nobody stores another
    uint8_t *ticket = NULL;
    size_t ticket_len = 0;
    Chat__KeyTicketRequest ticket_request = CHAT__KEY_TICKET_REQUEST__INIT;
    ticket_request.conversation_id.data = world->conversation;
    ticket_request.conversation_id.len = CONVERSATION_ID_SIZE;
    ticket_request.epoch = 1;
    Chat__MainRequest main_request = CHAT__MAIN_REQUEST__INIT;
    main_request.body_case = CHAT__MAIN_REQUEST__BODY_KEY_TICKET;
    main_request.key_ticket = &ticket_request;
    Chat__MainReply *main_reply = NULL;
    rc = s_main_call (world->good_ms, &main_request, &main_reply);
    REQUIRE (rc == CHAT_OK);
    s_copy (&ticket, &ticket_len, &main_reply->key_ticket->ticket);
    chat__main_reply__free_unpacked (main_reply, NULL);
    s_expect (world, ks, "put_keys, a second set for good's epoch 1", CHAT_ERR_KEY_EXISTS,
              s_ks_put (world->good_ks, ticket, ticket_len, both, 2, wrapped, wrapped_len));
    free (ticket);
    //  The key directory: no more than 256 names, at least one
    enum { MANY = 257 };
    char *many [MANY];
    for (int i = 0; i < MANY; i++)
        many [i] = "good";
    identities.usernames = many;
    identities.n_usernames = MANY;
    s_expect (world, ks, "get_identities of 257 names", CHAT_ERR_BAD_REQUEST,
              s_ks_simple (mallory, CHAT__KEY_REQUEST__BODY_GET_IDENTITIES, &identities));
    identities.n_usernames = 0;
    s_expect (world, ks, "get_identities of no name", CHAT_ERR_BAD_REQUEST,
              s_ks_simple (mallory, CHAT__KEY_REQUEST__BODY_GET_IDENTITIES, &identities));
    //  A password change for another user
    start.client_first = "n,,n=good,r=abcdefghijkl";
    s_expect (world, ks, "password_start naming another user", CHAT_ERR_BAD_REQUEST,
              s_ks_simple (mallory, CHAT__KEY_REQUEST__BODY_PASSWORD_START, &start));

    //  good's password on another client key: good's ticket is still bound
    //  to the key it was issued to
    peer = peer_open (ks->endpoint, world->attacker_key);
    rc = s_ks_login (peer, "good", PASSWORD, NULL, NULL, NULL, NULL);
    REQUIRE (rc == CHAT_OK);
    s_expect (world, ks, "good on another key presents good's ticket", CHAT_ERR_BAD_TICKET,
              s_ks_put (peer, world->ticket, world->ticket_len, both, 2, wrapped,
                        wrapped_len));
    Chat__LogoutRequest logout = CHAT__LOGOUT_REQUEST__INIT;
    rc = s_ks_simple (peer, CHAT__KEY_REQUEST__BODY_LOGOUT, &logout);
    s_expect (world, ks, "get_keys after logout", CHAT_ERR_NOT_LOGGED_IN,
              rc != CHAT_OK ? rc
              : s_ks_get (peer, world->conversation, CONVERSATION_ID_SIZE, NULL, NULL));
    peer_destroy (&peer);
}

//  ---------------------------------------------------------------- main server

static int
s_ms_simple (peer_t *peer, Chat__MainRequest__BodyCase body_case, void *body)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    request.body_case = body_case;
    request.register_ = (Chat__RegisterUserRequest *) body;
    return s_main_call (peer, &request, NULL);
}

static int
s_ms_send (peer_t *peer, const uint8_t *id, size_t id_len, const char *token,
           size_t message_id_len, uint64_t epoch)
{
    uint8_t message_id [16];
    secret_random (message_id, sizeof message_id);
    Chat__SendMessageRequest send = CHAT__SEND_MESSAGE_REQUEST__INIT;
    send.conversation_id.data = (uint8_t *) id;
    send.conversation_id.len = id_len;
    send.client_message_id.data = message_id;
    send.client_message_id.len = message_id_len;
    send.token = (char *) token;
    send.epoch = epoch;
    return s_ms_simple (peer, CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE, &send);
}

//  A LOGGED_IN (or REGISTERED) certificate for name on client_key, naming
//  identity, signed with key
static void
s_forged_cert (rsakey_t *key, int purpose, const char *name, rsakey_t *client_key,
               rsakey_t *identity, uint8_t **cert, size_t *len)
{
    int rc = credential_cert_issue (key, purpose, name, rsakey_fingerprint (client_key),
                                    identity, wire_now (), cert, len);
    REQUIRE (rc == CHAT_OK);
}

static void
s_mainserver_cases (world_t *world)
{
    const target_t *ms = &world->ms;
    peer_t *peer = peer_open (ms->endpoint, world->attacker_key);
    Chat__ListUsersRequest users = CHAT__LIST_USERS_REQUEST__INIT;
    Chat__ListConversationsRequest list = CHAT__LIST_CONVERSATIONS_REQUEST__INIT;
    Chat__GetMessagesRequest get = CHAT__GET_MESSAGES_REQUEST__INIT;
    get.conversation_id.data = world->conversation;
    get.conversation_id.len = CONVERSATION_ID_SIZE;
    Chat__GetMembersRequest members = CHAT__GET_MEMBERS_REQUEST__INIT;
    members.conversation_id = get.conversation_id;
    Chat__GetChainRequest chain = CHAT__GET_CHAIN_REQUEST__INIT;
    chain.conversation_id = get.conversation_id;
    Chat__KeyTicketRequest ticket = CHAT__KEY_TICKET_REQUEST__INIT;
    ticket.conversation_id = get.conversation_id;
    ticket.epoch = 1;
    Chat__CreateConversationRequest create = CHAT__CREATE_CONVERSATION_REQUEST__INIT;
    Chat__SignedStatement view;
    chain_link_view (&world->link, &view);
    create.statement = &view;
    char *token = NULL;
    uint8_t any_key [FERNET_KEY_SIZE];
    fernet_key_generate (any_key);
    int rc = fernet_encrypt (any_key, (const uint8_t *) "hi", 2, wire_now (), &token);
    REQUIRE (rc == CHAT_OK);

    //  Before any login
    s_expect (world, ms, "list_users before login", CHAT_ERR_NOT_LOGGED_IN,
              s_ms_simple (peer, CHAT__MAIN_REQUEST__BODY_LIST_USERS, &users));
    s_expect (world, ms, "list_conversations before login", CHAT_ERR_NOT_LOGGED_IN,
              s_ms_simple (peer, CHAT__MAIN_REQUEST__BODY_LIST_CONVERSATIONS, &list));
    s_expect (world, ms, "get_messages before login", CHAT_ERR_NOT_LOGGED_IN,
              s_ms_simple (peer, CHAT__MAIN_REQUEST__BODY_GET_MESSAGES, &get));
    s_expect (world, ms, "get_members before login", CHAT_ERR_NOT_LOGGED_IN,
              s_ms_simple (peer, CHAT__MAIN_REQUEST__BODY_GET_MEMBERS, &members));
    s_expect (world, ms, "get_chain before login", CHAT_ERR_NOT_LOGGED_IN,
              s_ms_simple (peer, CHAT__MAIN_REQUEST__BODY_GET_CHAIN, &chain));
    s_expect (world, ms, "key_ticket before login", CHAT_ERR_NOT_LOGGED_IN,
              s_ms_simple (peer, CHAT__MAIN_REQUEST__BODY_KEY_TICKET, &ticket));
    s_expect (world, ms, "create_conversation before login (good's statement)",
              CHAT_ERR_NOT_LOGGED_IN,
              s_ms_simple (peer, CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION, &create));
    s_expect (world, ms, "send_message before login", CHAT_ERR_NOT_LOGGED_IN,
              s_ms_send (peer, world->conversation, CONVERSATION_ID_SIZE, token, 16, 1));
    Chat__LogoutRequestMain logout = CHAT__LOGOUT_REQUEST_MAIN__INIT;
    s_expect (world, ms, "logout before login", CHAT_ERR_NOT_LOGGED_IN,
              s_ms_simple (peer, CHAT__MAIN_REQUEST__BODY_LOGOUT, &logout));

    //  Certificates: another key's, the wrong purpose, forged, empty
    s_expect (world, ms, "login with good's certificate (other key)", CHAT_ERR_BAD_CERTIFICATE,
              s_ms_cert (peer, true, world->good_login_cert, world->good_login_cert_len));
    s_expect (world, ms, "register with good's certificate (other key)",
              CHAT_ERR_BAD_CERTIFICATE,
              s_ms_cert (peer, false, world->good_register_cert,
                         world->good_register_cert_len));
    s_expect (world, ms, "login with a registration certificate", CHAT_ERR_BAD_CERTIFICATE,
              s_ms_cert (world->good_ms, true, world->good_register_cert,
                         world->good_register_cert_len));
    s_expect (world, ms, "register with a login certificate", CHAT_ERR_BAD_CERTIFICATE,
              s_ms_cert (world->good_ms, false, world->good_login_cert,
                         world->good_login_cert_len));
    s_expect (world, ms, "login with a key ticket", CHAT_ERR_BAD_CERTIFICATE,
              s_ms_cert (peer, true, world->ticket, world->ticket_len));
    uint8_t random [200];
    secret_random (random, sizeof random);
    s_expect (world, ms, "login with 200 random bytes", CHAT_ERR_BAD_CERTIFICATE,
              s_ms_cert (peer, true, random, sizeof random));
    s_expect (world, ms, "login with an empty certificate", CHAT_ERR_BAD_CERTIFICATE,
              s_ms_cert (peer, true, (const uint8_t *) "", 0));
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    s_forged_cert (world->ms_own_key, CREDENTIAL_LOGGED_IN, "good", world->attacker_key,
                   world->good_identity, &cert, &cert_len);
    s_expect (world, ms, "login as good, signed with the main server's own key",
              CHAT_ERR_BAD_CERTIFICATE, s_ms_cert (peer, true, cert, cert_len));
    free (cert);
    cert = NULL;
    s_forged_cert (world->attacker_key, CREDENTIAL_LOGGED_IN, "good", world->attacker_key,
                   world->good_identity, &cert, &cert_len);
    s_expect (world, ms, "login as good, signed by a stranger", CHAT_ERR_BAD_CERTIFICATE,
              s_ms_cert (peer, true, cert, cert_len));
    free (cert);
    cert = NULL;
    //  What a stolen key server directory can do: log in under any name,
    //  but only with the identity key that name registered
    s_forged_cert (world->ks_own_key, CREDENTIAL_LOGGED_IN, "good", world->attacker_key,
                   world->attacker_key, &cert, &cert_len);
    s_expect (world, ms, "login as good with the key server's key, other identity",
              CHAT_ERR_BAD_CERTIFICATE, s_ms_cert (peer, true, cert, cert_len));
    free (cert);
    cert = NULL;
    s_forged_cert (world->ks_own_key, CREDENTIAL_REGISTERED, "good", world->attacker_key,
                   world->attacker_key, &cert, &cert_len);
    s_expect (world, ms, "register good again with another identity",
              CHAT_ERR_BAD_CERTIFICATE, s_ms_cert (peer, false, cert, cert_len));
    free (cert);
    cert = NULL;

    //  A user the key server knows and this server does not
    peer_t *lurker_ks = peer_open (world->ks_endpoint, world->attacker_key);
    rc = s_ks_register (lurker_ks, "lurker", PASSWORD, world->attacker_key, NULL, NULL);
    if (rc == CHAT_OK)
        rc = s_ks_login (lurker_ks, "lurker", PASSWORD, &cert, &cert_len, NULL, NULL);
    REQUIRE (rc == CHAT_OK);
    s_expect (world, ms, "login as a user never registered here", CHAT_ERR_UNKNOWN_USER,
              s_ms_cert (peer, true, cert, cert_len));
    free (cert);
    cert = NULL;
    peer_destroy (&lurker_ks);
    peer_destroy (&peer);

    //  Mallory, logged in, reaching into good's conversation
    peer_t *mallory = world->mallory_ms;
    s_expect (world, ms, "get_messages of a conversation not a member of", CHAT_ERR_NOT_FOUND,
              s_ms_simple (mallory, CHAT__MAIN_REQUEST__BODY_GET_MESSAGES, &get));
    s_expect (world, ms, "get_members of a conversation not a member of", CHAT_ERR_NOT_FOUND,
              s_ms_simple (mallory, CHAT__MAIN_REQUEST__BODY_GET_MEMBERS, &members));
    s_expect (world, ms, "get_chain of a conversation not a member of", CHAT_ERR_NOT_FOUND,
              s_ms_simple (mallory, CHAT__MAIN_REQUEST__BODY_GET_CHAIN, &chain));
    s_expect (world, ms, "key_ticket of a conversation not a member of", CHAT_ERR_NOT_FOUND,
              s_ms_simple (mallory, CHAT__MAIN_REQUEST__BODY_KEY_TICKET, &ticket));
    s_expect (world, ms, "send_message to a conversation not a member of", CHAT_ERR_NOT_FOUND,
              s_ms_send (mallory, world->conversation, CONVERSATION_ID_SIZE, token, 16, 1));
    s_expect (world, ms, "send_message to a 3-byte conversation id", CHAT_ERR_NOT_FOUND,
              s_ms_send (mallory, (const uint8_t *) "abc", 3, token, 16, 1));

    //  Messages in mallory's own conversation that the server must refuse
    s_expect (world, ms, "send_message with a 15-byte message id", CHAT_ERR_BAD_REQUEST,
              s_ms_send (mallory, world->mallory_conversation, CONVERSATION_ID_SIZE, token,
                         15, 1));
    s_expect (world, ms, "send_message with a token that is not Fernet", CHAT_ERR_BAD_REQUEST,
              s_ms_send (mallory, world->mallory_conversation, CONVERSATION_ID_SIZE,
                         "hello world", 16, 1));
    s_expect (world, ms, "send_message with an empty token", CHAT_ERR_BAD_REQUEST,
              s_ms_send (mallory, world->mallory_conversation, CONVERSATION_ID_SIZE, "", 16, 1));
    s_expect (world, ms, "send_message under epoch 2 (current: 1)", CHAT_ERR_STALE_EPOCH,
              s_ms_send (mallory, world->mallory_conversation, CONVERSATION_ID_SIZE, token,
                         16, 2));
    s_expect (world, ms, "send_message under epoch 0", CHAT_ERR_STALE_EPOCH,
              s_ms_send (mallory, world->mallory_conversation, CONVERSATION_ID_SIZE, token,
                         16, 0));
    size_t huge = WIRE_MAX_TOKEN + 1;
    char *big = (char *) malloc (huge + 1);
    memset (big, 'A', huge);
    big [huge] = 0;
    memcpy (big, token, strlen (token));
    s_expect (world, ms, "send_message with a 100001-byte token", CHAT_ERR_MESSAGE_TOO_LARGE,
              s_ms_send (mallory, world->mallory_conversation, CONVERSATION_ID_SIZE, big,
                         16, 1));
    free (big);
    Chat__KeyTicketRequest own_ticket = CHAT__KEY_TICKET_REQUEST__INIT;
    own_ticket.conversation_id.data = world->mallory_conversation;
    own_ticket.conversation_id.len = CONVERSATION_ID_SIZE;
    own_ticket.epoch = 2;
    s_expect (world, ms, "key_ticket for an epoch that does not exist", CHAT_ERR_NOT_FOUND,
              s_ms_simple (mallory, CHAT__MAIN_REQUEST__BODY_KEY_TICKET, &own_ticket));

    //  Conversations that cannot be made
    uint8_t id [CONVERSATION_ID_SIZE], key [32];
    chain_link_t link;
    s_expect (world, ms, "create_conversation without a statement", CHAT_ERR_BAD_STATEMENT,
              s_ms_create_link (mallory, NULL, NULL, NULL));
    chain_link_t junk = { (uint8_t *) "\x08\x01\x12", 3, (uint8_t *) "sig", 3 };
    s_expect (world, ms, "create_conversation with a truncated statement",
              CHAT_ERR_BAD_STATEMENT, s_ms_create_link (mallory, &junk, NULL, NULL));
    s_expect (world, ms, "create_conversation sending good's own statement",
              CHAT_ERR_BAD_STATEMENT, s_ms_create_link (mallory, &world->link, NULL, NULL));
    rc = epochkey_generate (key);
    REQUIRE (rc == CHAT_OK);
    s_statement ("good", "mallory", world->mallory_identity, id, key, &link);
    s_expect (world, ms, "create_conversation as good, signed by mallory",
              CHAT_ERR_BAD_STATEMENT, s_ms_create_link (mallory, &link, NULL, NULL));
    chain_link_free (&link);
    s_statement ("mallory", "good", world->good_identity, id, key, &link);
    s_expect (world, ms, "create_conversation as mallory, signed by good's key",
              CHAT_ERR_BAD_STATEMENT, s_ms_create_link (mallory, &link, NULL, NULL));
    chain_link_free (&link);
    s_statement ("mallory", "nobody", world->mallory_identity, id, key, &link);
    s_expect (world, ms, "create_conversation with an unknown user", CHAT_ERR_UNKNOWN_USER,
              s_ms_create_link (mallory, &link, NULL, NULL));
    chain_link_free (&link);
    s_statement ("mallory", "GOOD", world->mallory_identity, id, key, &link);
    s_expect (world, ms, "create_conversation naming 'GOOD' (registered 'good')",
              CHAT_ERR_BAD_STATEMENT, s_ms_create_link (mallory, &link, NULL, NULL));
    chain_link_free (&link);
    //  good's conversation id, taken
    uint8_t check [EPOCHKEY_CHECK_SIZE];
    rc = epochkey_check_value (key, world->conversation, 1, check);
    REQUIRE (rc == CHAT_OK);
    const char *pair [] = { "good", "mallory" };
    rc = chain_make_create (world->conversation, "mallory", pair, 2, false, NULL, check,
                            world->mallory_identity, wire_now_ms (), &link);
    REQUIRE (rc == CHAT_OK);
    s_expect (world, ms, "create_conversation with good's conversation id",
              CHAT_ERR_BAD_REQUEST, s_ms_create_link (mallory, &link, NULL, NULL));
    chain_link_free (&link);
    //  300 members, signed as they are (the rules cap at 256)
    enum { MANY = 300 };
    char *many [MANY];
    for (int i = 0; i < MANY; i++)
        many [i] = zsys_sprintf ("user%03d", i);
    Chat__MembershipStatement statement = CHAT__MEMBERSHIP_STATEMENT__INIT;
    statement.conversation_id.data = id;
    statement.conversation_id.len = CONVERSATION_ID_SIZE;
    statement.epoch = 1;
    statement.actor = "mallory";
    statement.action = CHAT__STATEMENT_ACTION__ACTION_CREATE;
    statement.members = many;
    statement.n_members = MANY;
    statement.title = "";
    statement.key_check.data = check;
    statement.key_check.len = sizeof check;
    memset (&link, 0, sizeof link);
    s_pack (&statement.base, &link.statement, &link.statement_len);
    rc = rsakey_sign_labelled (world->mallory_identity, CHAIN_LABEL, link.statement,
                               link.statement_len, &link.signature, &link.signature_len);
    REQUIRE (rc == CHAT_OK);
    s_expect (world, ms, "create_conversation with 300 members", CHAT_ERR_TOO_MANY_MEMBERS,
              s_ms_create_link (mallory, &link, NULL, NULL));
    chain_link_free (&link);
    for (int i = 0; i < MANY; i++)
        zstr_free (&many [i]);

    //  A page far larger than allowed is cut to the limit, not refused
    get.conversation_id.data = world->mallory_conversation;
    get.limit = 4000000000u;
    s_expect (world, ms, "get_messages with limit 4e9 (own conversation)", CHAT_OK,
              s_ms_simple (mallory, CHAT__MAIN_REQUEST__BODY_GET_MESSAGES, &get));

    //  Pushes: a stranger's SUB, subscribed to every topic and to a guessed
    //  token, receives nothing at all, while good's own subscription (its
    //  session's token) gets good's push; and that push, in mallory's
    //  hands, opens under neither session id
    zsock_t *stranger = zsock_new_sub (world->push_endpoint, "");
    REQUIRE (stranger);
    uint8_t guess [CHANNEL_SESSION_TOKEN_SIZE];
    secret_random (guess, sizeof guess);
    zmq_setsockopt (zsock_resolve (stranger), ZMQ_SUBSCRIBE, guess, sizeof guess);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    REQUIRE (sub && zsock_connect (sub, "%s", world->push_endpoint) == 0);
    zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE,
                    channel_session_token (peer_channel (world->good_ms)),
                    CHANNEL_SESSION_TOKEN_SIZE);
    zsock_set_rcvtimeo (sub, 1000);
    zmsg_t *msg = NULL;
    for (int attempt = 0; attempt < 10 && !msg; attempt++) {
        //  The SUB may join late: send until one push is seen
        rc = s_ms_send (mallory, world->mallory_conversation, CONVERSATION_ID_SIZE, token,
                        16, 1);
        REQUIRE (rc == CHAT_OK);
        msg = zmsg_recv (sub);
    }
    //  Had the stranger been let in, it would have had that push too by now
    zsock_set_rcvtimeo (stranger, 500);
    zmsg_t *leaked = zmsg_recv (stranger);
    s_record (world, ms, "SUB to all topics and a guessed token", "nothing; owner gets push",
              msg && !leaked, "stranger %s; good's own SUB %s",
              leaked ? "RECEIVED A PUSH" : "nothing", msg ? "got its push" : "got nothing");
    zmsg_destroy (&leaked);
    zsock_destroy (&stranger);
    int opened = RC_NONE, restamped = RC_NONE;
    bool for_other = false;
    if (msg && zmsg_size (msg) == 2) {
        zframe_t *topic = zmsg_first (msg);
        zframe_t *body = zmsg_next (msg);
        for_other = zframe_size (topic) != CHANNEL_SESSION_TOKEN_SIZE
                 || memcmp (zframe_data (topic),
                            channel_session_token (peer_channel (world->mallory_ms)),
                            CHANNEL_SESSION_TOKEN_SIZE) != 0;
        uint8_t *payload = NULL;
        size_t len = 0;
        opened = channel_open_push (peer_channel (world->mallory_ms), zframe_data (body),
                                    zframe_size (body), &payload, &len);
        free (payload);
        payload = NULL;
        //  The same push claiming mallory's own session: the key decides
        Chat__PushFrame *frame = NULL;
        if (wire_unpack (&chat__push_frame__descriptor, zframe_data (body),
                         zframe_size (body), (ProtobufCMessage **) &frame) == CHAT_OK) {
            ProtobufCBinaryData original = frame->session_id;
            frame->session_id.data = (uint8_t *) channel_session_id (peer_channel (world->mallory_ms));
            frame->session_id.len = CHANNEL_SESSION_ID_SIZE;
            uint8_t *packed;
            size_t packed_len;
            s_pack (&frame->base, &packed, &packed_len);
            restamped = channel_open_push (peer_channel (world->mallory_ms), packed, packed_len,
                                           &payload, &len);
            free (payload);
            free (packed);
            frame->session_id = original;
            chat__push_frame__free_unpacked (frame, NULL);
        }
    }
    s_record (world, ms, "good's push, opened by mallory",
              "UNKNOWN_SESSION; restamped BAD_MAC",
              msg && for_other && opened == CHAT_ERR_UNKNOWN_SESSION
              && restamped == CHAT_ERR_BAD_MAC,
              msg ? "%s%s; restamped %s" : "no push seen%s%s%s",
              msg ? (for_other ? "" : "(own push!) ") : "", msg ? s_code_name (opened) : "",
              msg ? s_code_name (restamped) : "");
    zmsg_destroy (&msg);
    zsock_destroy (&sub);
    free (token);
}

//  ---------------------------------------------------------------- flood

//  FLOOD_DEALERS DEALERs, FLOOD_PER_DEALER Hellos each, all sent before
//  any answer is read; the good client asks in the middle of it.
static void
s_flood (world_t *world, const target_t *target)
{
    size_t total = FLOOD_DEALERS * FLOOD_PER_DEALER;
    peer_t **peers = (peer_t **) calloc (FLOOD_DEALERS, sizeof *peers);
    channel_t **channels = (channel_t **) calloc (total, sizeof *channels);
    REQUIRE (peers && channels);
    for (size_t i = 0; i < FLOOD_DEALERS; i++)
        peers [i] = peer_new (target->endpoint);
    for (size_t n = 0; n < FLOOD_PER_DEALER; n++)
        for (size_t i = 0; i < FLOOD_DEALERS; i++) {
            channel_t *channel = channels [n * FLOOD_DEALERS + i] =
                channel_client_new (world->attacker_key);
            uint8_t *frame;
            size_t size;
            int rc = channel_client_hello (channel, &frame, &size);
            REQUIRE (rc == CHAT_OK);
            peer_send (peers [i], frame, size);
            free (frame);
        }
    char why [160] = "";
    bool during = s_healthy (world, why, sizeof why);

    //  A refusal can overtake a Welcome still at an RSA worker, so the
    //  answers on one DEALER come in any order: a Welcome is matched to the
    //  channel whose Hello it answers (it opens no other)
    size_t welcomed = 0, busy = 0, other = 0, silent = 0;
    for (size_t i = 0; i < FLOOD_DEALERS; i++)
        for (size_t n = 0; n < FLOOD_PER_DEALER; n++) {
            uint8_t *data = NULL;
            size_t size = 0;
            int rc = peer_recv (peers [i], WAIT_MS * 3, &data, &size);
            if (rc != 0) {
                silent++;
                continue;
            }
            Chat__Envelope *env = NULL;
            rc = wire_envelope_unpack (data, size, &env);
            if (rc == CHAT_OK && env->kind_case == CHAT__ENVELOPE__KIND_ERROR)
                rc = (int) env->error->code;
            else
            if (rc == CHAT_OK && env->kind_case == CHAT__ENVELOPE__KIND_WELCOME) {
                rc = CHAT_ERR_BAD_SIGNATURE;
                for (size_t k = 0; k < FLOOD_PER_DEALER && rc != CHAT_OK; k++) {
                    channel_t *channel = channels [k * FLOOD_DEALERS + i];
                    if (!channel_is_open (channel))
                        rc = channel_client_accept (channel, data, size);
                }
            }
            if (env)
                chat__envelope__free_unpacked (env, NULL);
            free (data);
            if (rc == CHAT_OK)
                welcomed++;
            else
            if (rc == CHAT_ERR_BUSY)
                busy++;
            else
                other++;
        }
    for (size_t i = 0; i < total; i++)
        channel_destroy (&channels [i]);
    for (size_t i = 0; i < FLOOD_DEALERS; i++)
        peer_destroy (&peers [i]);
    free (channels);
    free (peers);
    char name [72];
    snprintf (name, sizeof name, "flood: %zu handshakes from %d DEALERs", total, FLOOD_DEALERS);
    s_record (world, target, name, "each Welcome or BUSY",
              welcomed + busy == total && during,
              "%zu Welcome, %zu BUSY, %zu other, %zu unanswered; good client mid-flood %s%s",
              welcomed, busy, other, silent, during ? "OK" : "FAILED: ", why);
}

//  ---------------------------------------------------------------- attacks

//  `hostile attack NAME [--OPTION VALUE]...`: the attacks of issue 12, each
//  bounded in time and count, from a source address of the caller's choice
//  (127.0.0.2 and up; Linux routes all of 127/8 to lo), against servers
//  someone else runs (tests/hostile/abuse.py starts them as processes,
//  measures their memory, and has a real client use them meanwhile). Each
//  prints "attacking" when its flood starts, and at the end one line
//  "result NAME=VALUE ..." for the caller to judge.

typedef struct {
    const char *keyserver;
    const char *mainserver;
    const char *push;
    const char *source;
    const char *target;         //  "key" or "main"
    const char *user;
    const char *password;
    const char *peer;           //  a registered user to talk to
    double seconds;
    int dealers;
    int sessions;
    int messages;
    int names;
    int topics;                 //  guessed tokens a stranger subscribes to
    size_t size;                //  message token bytes
} attack_t;

//  endpoint as seen from the attack's source address
static char *
s_from (const attack_t *attack, const char *endpoint)
{
    REQUIRE (endpoint && strncmp (endpoint, "tcp://", 6) == 0);
    return zsys_sprintf ("tcp://%s:0;%s", attack->source, endpoint + 6);
}

static int64_t
s_deadline (const attack_t *attack)
{
    return zclock_mono () + (int64_t) (attack->seconds * 1000);
}

static void
s_attacking (void)
{
    printf ("attacking\n");
    fflush (stdout);
}

//  A peer from the source address with an open channel; BUSY is waited
//  out (as long as the deadline allows): the attacker is patient
static peer_t *
s_attack_peer (const attack_t *attack, const char *endpoint, rsakey_t *key,
               int64_t deadline)
{
    char *from = s_from (attack, endpoint);
    peer_t *peer = peer_new (from);
    free (from);
    while (true) {
        testclient_set_key (peer->client, key);
        testclient_set_timeout (peer->client, WAIT_MS);
        int rc = testclient_hello (peer->client);
        uint8_t *data = NULL;
        size_t size = 0;
        if (rc == CHAT_OK)
            rc = testclient_recv (peer->client, &data, &size);
        uint32_t retry = 0;
        if (rc == 0) {
            Chat__Envelope *env = NULL;
            if (wire_envelope_unpack (data, size, &env) == CHAT_OK
            &&  env->kind_case == CHAT__ENVELOPE__KIND_ERROR)
                retry = env->error->retry_after_ms;
            if (env)
                chat__envelope__free_unpacked (env, NULL);
            rc = channel_client_accept (testclient_channel (peer->client), data, size);
            free (data);
        }
        if (rc == CHAT_OK)
            return peer;
        if (rc != CHAT_ERR_BUSY || zclock_mono () + retry > deadline) {
            fprintf (stderr, "hostile: no session at %s: %s\n", endpoint, s_code_name (rc));
            peer_destroy (&peer);
            return NULL;
        }
        zclock_sleep (retry ? (int) retry : 100);
    }
}

//  The identity key of the attacker's users: one for all (they are the
//  attacker's; the servers only check that each user keeps its own)
static rsakey_t *
s_attack_identity (void)
{
    return testkeys_key (7);
}

//  A conversation of the attacker's user with other, made by a signed
//  CREATE (protocol 2); its id out. CHAT_OK or the main server's refusal.
static int
s_attack_create (peer_t *peer, const attack_t *attack, const char *other,
                 uint8_t id [CONVERSATION_ID_SIZE])
{
    uint8_t key [32], *ticket = NULL;
    size_t ticket_len = 0;
    chain_link_t link;
    int rc = s_ms_create (peer, attack->user, s_attack_identity (), other, id, key, &link,
                          &ticket, &ticket_len);
    chain_link_free (&link);
    secret_wipe (key, sizeof key);
    free (ticket);
    return rc;
}

//  A user of the attacker's on both servers: registered (when new), logged
//  in on the key server; the LOGGED_IN certificate (bound to key) out
static void
s_attack_user (const attack_t *attack, rsakey_t *key, const char *name,
               uint8_t **cert, size_t *cert_len, int64_t deadline)
{
    peer_t *ks = s_attack_peer (attack, attack->keyserver, key, deadline);
    peer_t *ms = s_attack_peer (attack, attack->mainserver, key, deadline);
    REQUIRE (ks && ms);
    uint8_t *registered = NULL;
    size_t registered_len = 0;
    int rc = s_ks_register (ks, name, attack->password, s_attack_identity (), &registered,
                            &registered_len);
    if (rc == CHAT_OK)
        rc = s_ms_cert (ms, false, registered, registered_len);
    REQUIRE (rc == CHAT_OK || rc == CHAT_ERR_USERNAME_TAKEN);
    rc = s_ks_login (ks, name, attack->password, cert, cert_len, NULL, NULL);
    if (rc != CHAT_OK)
        fprintf (stderr, "hostile: login as %s: %s\n", name, s_code_name (rc));
    REQUIRE (rc == CHAT_OK);
    free (registered);
    peer_destroy (&ks);
    peer_destroy (&ms);
}

//  A Fernet token of about size bytes, under a key nobody keeps: the main
//  server stores tokens it cannot open, and checks only their form
static char *
s_big_token (size_t size)
{
    uint8_t key [FERNET_KEY_SIZE];
    fernet_key_generate (key);
    size_t plain_len = size / 4 * 3 - 96;
    uint8_t *plain = (uint8_t *) zmalloc (plain_len);
    char *token = NULL;
    int rc = fernet_encrypt (key, plain, plain_len, wire_now (), &token);
    REQUIRE (rc == CHAT_OK && strlen (token) <= WIRE_MAX_TOKEN);
    free (plain);
    return token;
}

//  Answers to a Hello flood, by kind
typedef struct {
    size_t sent, welcome, busy, bad_key, other;
} hello_counts_t;

static void
s_count_answer (hello_counts_t *counts, zsock_t *dealer)
{
    zmsg_t *msg = zmsg_recv (dealer);
    if (!msg)
        return;
    zframe_t *frame = zmsg_first (msg);
    Chat__Envelope *env = NULL;
    if (frame && wire_envelope_unpack (zframe_data (frame), zframe_size (frame),
                                       &env) == CHAT_OK) {
        if (env->kind_case == CHAT__ENVELOPE__KIND_WELCOME)
            counts->welcome++;
        else
        if (env->kind_case == CHAT__ENVELOPE__KIND_ERROR
        &&  (int) env->error->code == CHAT_ERR_BUSY)
            counts->busy++;
        else
        if (env->kind_case == CHAT__ENVELOPE__KIND_ERROR
        &&  (int) env->error->code == CHAT_ERR_BAD_KEY)
            counts->bad_key++;
        else
            counts->other++;
        chat__envelope__free_unpacked (env, NULL);
    }
    else
        counts->other++;
    zmsg_destroy (&msg);
}

//  One Hello frame, replayed as fast as the server answers on `dealers`
//  DEALERs (64 in flight on each) until the deadline (attacks 1, 2, 4)
static void
s_hello_flood (const attack_t *attack, const uint8_t *frame, size_t size,
               hello_counts_t *counts)
{
    const char *endpoint = streq (attack->target, "key") ? attack->keyserver
                                                          : attack->mainserver;
    char *from = s_from (attack, endpoint);
    int dealers = attack->dealers > 0 ? attack->dealers : 1;
    zsock_t **socks = (zsock_t **) calloc ((size_t) dealers, sizeof (zsock_t *));
    size_t *in_flight = (size_t *) calloc ((size_t) dealers, sizeof (size_t));
    zpoller_t *poller = zpoller_new (NULL);
    REQUIRE (socks && in_flight && poller);
    for (int i = 0; i < dealers; i++) {
        socks [i] = zsock_new (ZMQ_DEALER);
        zsock_set_linger (socks [i], 0);
        REQUIRE (zsock_connect (socks [i], "%s", from) == 0);
        zpoller_add (poller, socks [i]);
    }
    free (from);
    s_attacking ();
    int64_t deadline = s_deadline (attack);
    while (zclock_mono () < deadline) {
        for (int i = 0; i < dealers; i++)
            while (in_flight [i] < 64
            &&     zmq_send (zsock_resolve (socks [i]), frame, size, ZMQ_DONTWAIT) >= 0) {
                in_flight [i]++;
                counts->sent++;
            }
        zsock_t *which = (zsock_t *) zpoller_wait (poller, 50);
        for (int i = 0; which && i < dealers; i++)
            while (zsock_events (socks [i]) & ZMQ_POLLIN) {
                s_count_answer (counts, socks [i]);
                if (in_flight [i] > 0)
                    in_flight [i]--;
            }
    }
    //  What is still coming, for a while
    int64_t drain = zclock_mono () + 3000;
    for (int i = 0; i < dealers; i++) {
        zsock_set_rcvtimeo (socks [i], 100);
        while (in_flight [i] > 0 && zclock_mono () < drain) {
            size_t before = counts->welcome + counts->busy + counts->bad_key + counts->other;
            s_count_answer (counts, socks [i]);
            if (counts->welcome + counts->busy + counts->bad_key + counts->other > before)
                in_flight [i]--;
        }
        zsock_destroy (&socks [i]);
    }
    zpoller_destroy (&poller);
    free (socks);
    free (in_flight);
}

static void
s_print_hello_counts (const hello_counts_t *counts)
{
    printf ("result sent=%zu welcome=%zu busy=%zu bad_key=%zu other=%zu\n",
            counts->sent, counts->welcome, counts->busy, counts->bad_key, counts->other);
}

//  Attacks 1 and 4: one real Hello, replayed; every copy a new session
//  on a server without limits
static void
s_attack_hellos (const attack_t *attack, rsakey_t *key)
{
    uint8_t *frame;
    size_t size;
    s_hello (key, CHANNEL_VERSION, NULL, 0, CHANNEL_NONCE_SIZE, &frame, &size);
    hello_counts_t counts = { 0 };
    s_hello_flood (attack, frame, size, &counts);
    free (frame);
    s_print_hello_counts (&counts);
}

//  Attack 2: a 3072-bit key whose public exponent has 3071 bits: twenty
//  times the cost of an OAEP encryption, if the server took it
static void
s_attack_costly (const attack_t *attack)
{
    size_t der_len;
    uint8_t *der = s_costly_key_der (&der_len);
    uint8_t *frame;
    size_t size;
    rsakey_t *any = rsakey_generate (2048);
    REQUIRE (any);
    s_hello (any, CHANNEL_VERSION, der, der_len, CHANNEL_NONCE_SIZE, &frame, &size);
    hello_counts_t counts = { 0 };
    s_hello_flood (attack, frame, size, &counts);
    s_print_hello_counts (&counts);
    free (frame);
    free (der);
    rsakey_destroy (&any);
}

//  A SUB that never reads, and stops its own libzmq reading too (a queue
//  of one message, a small kernel buffer): what is sent to it piles up at
//  the sender, as with a peer that stopped reading its TCP socket
static zsock_t *
s_stuck_sub (const char *endpoint)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    REQUIRE (sub);
    zsock_set_rcvhwm (sub, 1);
    zsock_set_rcvbuf (sub, 4096);
    REQUIRE (zsock_connect (sub, "%s", endpoint) == 0);
    return sub;
}

//  Attack 3: a stranger subscribes to everything and to `topics` guessed
//  tokens (each one memory in libzmq until the subscriber goes), and never
//  reads
static void
s_attack_subscribe (const attack_t *attack)
{
    char *from = s_from (attack, attack->push);
    zsock_t *sub = s_stuck_sub (from);
    free (from);
    zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE, "", 0);
    zsock_set_sndhwm (sub, 0);
    for (int i = 0; i < attack->topics; i++) {
        uint8_t guess [CHANNEL_SESSION_TOKEN_SIZE];
        secret_random (guess, sizeof guess);
        zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE, guess, sizeof guess);
    }
    s_attacking ();
    zclock_sleep ((int) (attack->seconds * 1000));
    //  Only now: whatever came is counted
    size_t received = 0;
    while (zsock_events (sub) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (sub);
        zmsg_destroy (&msg);
        received++;
    }
    zsock_destroy (&sub);
    printf ("result received=%zu\n", received);
}

//  The attacker's own sessions of one user on the main server, logged in
//  with one certificate (bound to key): as many as the server lets it
//  have; the refusals counted by code
typedef struct {
    peer_t **peers;
    size_t count;
    size_t refused_quota;
    size_t refused_other;
} sessions_t;

static void
s_attack_sessions (const attack_t *attack, rsakey_t *key, const uint8_t *cert,
                   size_t cert_len, int64_t deadline, sessions_t *out)
{
    out->peers = (peer_t **) calloc ((size_t) attack->sessions, sizeof (peer_t *));
    REQUIRE (out->peers);
    for (int i = 0; i < attack->sessions && zclock_mono () < deadline; i++) {
        peer_t *peer = s_attack_peer (attack, attack->mainserver, key, deadline);
        if (!peer)
            break;
        int rc = s_ms_cert (peer, true, cert, cert_len);
        if (rc == CHAT_OK)
            out->peers [out->count++] = peer;
        else {
            if (rc == CHAT_ERR_QUOTA)
                out->refused_quota++;
            else
                out->refused_other++;
            peer_destroy (&peer);
        }
    }
}

static void
s_sessions_destroy (sessions_t *sessions)
{
    for (size_t i = 0; i < sessions->count; i++)
        peer_destroy (&sessions->peers [i]);
    free (sessions->peers);
}

//  Send messages of the attack's size into conversation id from peer,
//  counting the answers by code, until count are sent (0: no count) or the
//  deadline
typedef struct {
    size_t ok, rate_limited, quota, other;
} send_counts_t;

static void
s_send_messages (peer_t *peer, const uint8_t id [CONVERSATION_ID_SIZE], const char *token,
                 int count, int64_t deadline, send_counts_t *counts)
{
    for (int i = 0; (count <= 0 || i < count) && zclock_mono () < deadline; i++) {
        int rc = s_ms_send (peer, id, CONVERSATION_ID_SIZE, token, 16, 1);
        if (rc == CHAT_OK)
            counts->ok++;
        else
        if (rc == CHAT_ERR_RATE_LIMITED)
            counts->rate_limited++;
        else
        if (rc == CHAT_ERR_QUOTA)
            counts->quota++;
        else
            counts->other++;
    }
}

//  Attacks 3 (hoarding) and 5 (fan-out): a user with many sessions, one
//  big message or many to a conversation with attack->peer. hoard: each
//  session's token subscribed by its own SUB that never reads.
static void
s_attack_user_sessions (const attack_t *attack, rsakey_t *key, bool hoard)
{
    int64_t deadline = s_deadline (attack);
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    s_attack_user (attack, key, attack->user, &cert, &cert_len, deadline);
    sessions_t sessions = { 0 };
    s_attack_sessions (attack, key, cert, cert_len, deadline, &sessions);
    REQUIRE (sessions.count > 0);
    zsock_t **subs = (zsock_t **) calloc (sessions.count, sizeof (zsock_t *));
    REQUIRE (subs);
    if (hoard) {
        char *from = s_from (attack, attack->push);
        for (size_t i = 0; i < sessions.count; i++) {
            subs [i] = s_stuck_sub (from);
            zmq_setsockopt (zsock_resolve (subs [i]), ZMQ_SUBSCRIBE,
                            channel_session_token (peer_channel (sessions.peers [i])),
                            CHANNEL_SESSION_TOKEN_SIZE);
        }
        free (from);
        //  A round trip for the subscriptions to be there
        zclock_sleep (500);
    }
    uint8_t id [CONVERSATION_ID_SIZE];
    int rc = s_attack_create (sessions.peers [0], attack, attack->peer, id);
    REQUIRE (rc == CHAT_OK);
    char *token = s_big_token (attack->size);
    s_attacking ();
    send_counts_t counts = { 0 };
    s_send_messages (sessions.peers [0], id, token, attack->messages, deadline, &counts);
    free (token);
    //  Held, never read, until the end
    int64_t left = deadline - zclock_mono ();
    if (left > 0)
        zclock_sleep ((int) left);
    printf ("result sessions=%zu quota_refused=%zu other_refused=%zu sent=%zu "
            "rate_limited=%zu quota=%zu other=%zu\n", sessions.count,
            sessions.refused_quota, sessions.refused_other, counts.ok,
            counts.rate_limited, counts.quota, counts.other);
    for (size_t i = 0; i < sessions.count; i++)
        zsock_destroy (&subs [i]);
    free (subs);
    s_sessions_destroy (&sessions);
    free (cert);
}

//  One login attempt for name with a made-up proof: ERR_AUTH_FAILED, or
//  ERR_RATE_LIMITED with its wait in *retry_ms
static int
s_guess (peer_t *peer, const char *name, uint32_t *retry_ms)
{
    scram_client_t *scram = scram_client_new (name, "not the password", NULL);
    REQUIRE (scram);
    Chat__KeyReply *reply = NULL;
    *retry_ms = 0;
    int rc = s_ks_login_start (peer, scram, &reply);
    if (rc == CHAT_OK) {
        //  Any proof of the right form will do: it is a guess
        const char *server_first = reply->login_challenge->server_first;
        const char *nonce = strstr (server_first, "r=");
        const char *end = nonce ? strchr (nonce, ',') : NULL;
        REQUIRE (nonce && end);
        uint8_t proof [32];
        secret_random (proof, sizeof proof);
        char *proof_b64 = codec_b64_encode (proof, sizeof proof);
        char *final = zsys_sprintf ("c=biws,%.*s,p=%s", (int) (end - nonce), nonce,
                                    proof_b64);
        Chat__LoginFinish finish = CHAT__LOGIN_FINISH__INIT;
        finish.client_final = final;
        Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
        request.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_FINISH;
        request.login_finish = &finish;
        chat__key_reply__free_unpacked (reply, NULL);
        reply = NULL;
        rc = s_key_call (peer, &request, &reply);
        free (proof_b64);
        free (final);
    }
    if (reply && reply->body_case == CHAT__KEY_REPLY__BODY_ERROR)
        *retry_ms = reply->error->retry_after_ms;
    if (reply)
        chat__key_reply__free_unpacked (reply, NULL);
    scram_client_destroy (&scram);
    return rc;
}

//  Attack 6: guess the user's password from the source address, once
//  each time the back-off ends, until the deadline
static void
s_attack_guess (const attack_t *attack, rsakey_t *key)
{
    int64_t deadline = s_deadline (attack);
    peer_t *peer = s_attack_peer (attack, attack->keyserver, key, deadline);
    REQUIRE (peer);
    size_t failed = 0, limited = 0, other = 0;
    s_attacking ();
    while (zclock_mono () < deadline) {
        uint32_t retry = 0;
        int rc = s_guess (peer, attack->user, &retry);
        if (rc == CHAT_ERR_AUTH_FAILED)
            failed++;
        else
        if (rc == CHAT_ERR_RATE_LIMITED) {
            limited++;
            int64_t left = deadline - zclock_mono ();
            zclock_sleep ((int) (retry < left ? retry : left > 0 ? left : 0));
        }
        else
            other++;
    }
    printf ("result failed=%zu limited=%zu other=%zu\n", failed, limited, other);
    peer_destroy (&peer);
}

//  Attack 6, second part: fail with `names` names the server has never
//  seen, then guess at attack->user: its sixth guess must still wait
static void
s_attack_spray (const attack_t *attack, rsakey_t *key)
{
    int64_t deadline = s_deadline (attack);
    peer_t *peer = s_attack_peer (attack, attack->keyserver, key, deadline);
    REQUIRE (peer);
    s_attacking ();
    size_t sprayed = 0;
    for (int i = 0; i < attack->names && zclock_mono () < deadline; i++) {
        char name [32];
        snprintf (name, sizeof name, "sprayed%d", i);
        uint32_t retry;
        if (s_guess (peer, name, &retry) == CHAT_ERR_AUTH_FAILED)
            sprayed++;
    }
    char codes [256] = "";
    for (int i = 0; i < 6; i++) {
        uint32_t retry;
        int rc = s_guess (peer, attack->user, &retry);
        snprintf (codes + strlen (codes), sizeof codes - strlen (codes), "%s%s",
                  i ? "," : "", s_code_name (rc));
    }
    printf ("result sprayed=%zu guesses=%s\n", sprayed, codes);
    peer_destroy (&peer);
}

//  Attack 7: a user stores big tokens as fast as the server takes them
static void
s_attack_store (const attack_t *attack, rsakey_t *key)
{
    int64_t deadline = s_deadline (attack);
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    s_attack_user (attack, key, attack->user, &cert, &cert_len, deadline);
    peer_t *peer = s_attack_peer (attack, attack->mainserver, key, deadline);
    REQUIRE (peer && s_ms_cert (peer, true, cert, cert_len) == CHAT_OK);
    uint8_t id [CONVERSATION_ID_SIZE];
    REQUIRE (s_attack_create (peer, attack, attack->peer, id) == CHAT_OK);
    char *token = s_big_token (attack->size);
    s_attacking ();
    send_counts_t counts = { 0 };
    s_send_messages (peer, id, token, 0, deadline, &counts);
    printf ("result stored=%zu bytes=%zu rate_limited=%zu quota=%zu other=%zu\n",
            counts.ok, counts.ok * strlen (token), counts.rate_limited, counts.quota,
            counts.other);
    free (token);
    free (cert);
    peer_destroy (&peer);
}

static int
s_attack_main (int argc, char *argv [])
{
    attack_t attack = { NULL, NULL, NULL, "127.0.0.2", "key", "mallory",
                        "mallory's password", NULL, 10, 8, 300, 1, 300, 100, 100000 };
    if (argc < 3) {
        fprintf (stderr, "usage: hostile attack NAME [--OPTION VALUE]...\n");
        return 2;
    }
    const char *name = argv [2];
    for (int i = 3; i + 1 < argc; i += 2) {
        const char *option = argv [i], *value = argv [i + 1];
        if (streq (option, "--keyserver"))  attack.keyserver = value;
        else if (streq (option, "--mainserver")) attack.mainserver = value;
        else if (streq (option, "--push"))  attack.push = value;
        else if (streq (option, "--source")) attack.source = value;
        else if (streq (option, "--target")) attack.target = value;
        else if (streq (option, "--user"))  attack.user = value;
        else if (streq (option, "--peer"))  attack.peer = value;
        else if (streq (option, "--seconds")) attack.seconds = atof (value);
        else if (streq (option, "--dealers")) attack.dealers = atoi (value);
        else if (streq (option, "--sessions")) attack.sessions = atoi (value);
        else if (streq (option, "--messages")) attack.messages = atoi (value);
        else if (streq (option, "--names")) attack.names = atoi (value);
        else if (streq (option, "--topics")) attack.topics = atoi (value);
        else if (streq (option, "--size"))  attack.size = (size_t) atol (value);
        else {
            fprintf (stderr, "hostile attack: unknown option %s\n", option);
            return 2;
        }
    }
    rsakey_t *key = rsakey_generate (2048);
    REQUIRE (key);
    int rc = 0;
    if (streq (name, "hellos"))
        s_attack_hellos (&attack, key);
    else
    if (streq (name, "costly"))
        s_attack_costly (&attack);
    else
    if (streq (name, "subscribe"))
        s_attack_subscribe (&attack);
    else
    if (streq (name, "hoard") || streq (name, "fanout"))
        s_attack_user_sessions (&attack, key, streq (name, "hoard"));
    else
    if (streq (name, "guess"))
        s_attack_guess (&attack, key);
    else
    if (streq (name, "spray"))
        s_attack_spray (&attack, key);
    else
    if (streq (name, "store"))
        s_attack_store (&attack, key);
    else {
        fprintf (stderr, "hostile attack: no attack named %s\n", name);
        rc = 2;
    }
    fflush (stdout);
    rsakey_destroy (&key);
    return rc;
}

//  ---------------------------------------------------------------- main

int
main (int argc, char *argv [])
{
    const char *what = argc > 1 ? argv [1] : "all";
    if (streq (what, "attack")) {
        zsys_init ();
        zsys_set_logstream (stderr);
        return s_attack_main (argc, argv);
    }
    if (argc > 2 || streq (what, "-h") || streq (what, "--help")) {
        printf ("usage: hostile [keyserver | mainserver | flood | all]\n"
                "       hostile attack NAME [--OPTION VALUE]...\n");
        return argc > 2 ? 2 : 0;
    }
    bool all = streq (what, "all");
    if (!all && !streq (what, "keyserver") && !streq (what, "mainserver")
    &&  !streq (what, "flood")) {
        fprintf (stderr, "hostile: unknown part '%s'\n", what);
        return 2;
    }
    zsys_init ();
    zsys_set_logstream (stderr);
    world_t *world = world_new ();
    if (all || streq (what, "keyserver")) {
        s_garbage_cases (world, &world->ks);
        s_handshake_cases (world, &world->ks);
        s_sealed_cases (world, &world->ks);
        s_keyserver_cases (world);
    }
    if (all || streq (what, "mainserver")) {
        s_garbage_cases (world, &world->ms);
        s_handshake_cases (world, &world->ms);
        s_sealed_cases (world, &world->ms);
        s_mainserver_cases (world);
    }
    if (all || streq (what, "flood")) {
        s_flood (world, &world->ks);
        s_flood (world, &world->ms);
    }
    world_destroy (&world);
    s_print_table ();
    return s_failures ? 1 : 0;
}
