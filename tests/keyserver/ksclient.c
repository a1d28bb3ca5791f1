/*  ksclient - a minimal key server client for tests  */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "chaterror.h"
#include "ksclient.h"
#include "scram.h"
#include "secret.h"
#include "testclient.h"

#define RECV_TIMEOUT 10000           //  ms; generous, a loaded machine is slow

struct _ksclient_t {
    testclient_t *client;
    rsakey_t *key;
    uint64_t next_id;
};

void
ksresult_clear (ksresult_t *result)
{
    free (result->certificate);
    free (result->resume_token);
    memset (result, 0, sizeof *result);
}

ksclient_t *
ksclient_new (const char *endpoint, rsakey_t *client_key)
{
    ksclient_t *self = (ksclient_t *) zmalloc (sizeof (ksclient_t));
    assert (self);
    self->key = client_key;
    self->next_id = 1;
    self->client = testclient_new (endpoint, client_key);
    if (self->client)
        testclient_set_timeout (self->client, RECV_TIMEOUT);
    if (!self->client || testclient_handshake (self->client) != CHAT_OK)
        ksclient_destroy (&self);
    return self;
}

void
ksclient_destroy (ksclient_t **self_p)
{
    assert (self_p);
    ksclient_t *self = *self_p;
    if (self) {
        testclient_destroy (&self->client);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
ksclient_dealer (ksclient_t *self)
{
    return testclient_dealer (self->client);
}

channel_t *
ksclient_channel (ksclient_t *self)
{
    return testclient_channel (self->client);
}

const uint8_t *
ksclient_fingerprint (ksclient_t *self)
{
    return rsakey_fingerprint (self->key);
}

void
ksclient_send_raw (ksclient_t *self, const uint8_t *frame, size_t size)
{
    testclient_send (self->client, frame, size);
}

//  testclient's codes as this client's: what did not come is a timeout,
//  what came and makes no sense is malformed.
static int
s_code (int rc)
{
    return rc == TESTCLIENT_NONE? KSCLIENT_TIMEOUT
         : rc == TESTCLIENT_GARBAGE? CHAT_ERR_MALFORMED: rc;
}

int
ksclient_recv (ksclient_t *self, Chat__KeyReply **reply)
{
    return s_code (testclient_reply (self->client, &chat__key_reply__descriptor,
                                     (ProtobufCMessage **) reply));
}

int
ksclient_call (ksclient_t *self, Chat__KeyRequest *request, Chat__KeyReply **reply)
{
    request->request_id = self->next_id++;
    int rc = s_code (testclient_call (self->client, &request->base,
                                      &chat__key_reply__descriptor,
                                      (ProtobufCMessage **) reply));
    if (rc == CHAT_OK && (*reply)->request_id != request->request_id) {
        chat__key_reply__free_unpacked (*reply, NULL);
        *reply = NULL;
        rc = CHAT_ERR_MALFORMED;
    }
    return rc;
}

//  Call and sort the answer into result: CHAT_OK with the reply when its
//  body is the expected one, else the error.
static int
s_call (ksclient_t *self, Chat__KeyRequest *request, int expected,
        ksresult_t *result, Chat__KeyReply **reply)
{
    ksresult_clear (result);
    int rc = ksclient_call (self, request, reply);
    if (rc != CHAT_OK)
        result->code = rc;
    else
    if ((int) (*reply)->body_case == expected)
        result->code = CHAT_OK;
    else
    if ((*reply)->body_case == CHAT__KEY_REPLY__BODY_ERROR) {
        result->code = (*reply)->error->code;
        result->retry_after_ms = (*reply)->error->retry_after_ms;
        snprintf (result->message, sizeof result->message, "%s",
                  (*reply)->error->message);
    }
    else
        result->code = CHAT_ERR_MALFORMED;
    if (result->code != CHAT_OK && *reply) {
        chat__key_reply__free_unpacked (*reply, NULL);
        *reply = NULL;
    }
    return result->code;
}

static uint8_t *
s_copy (ProtobufCBinaryData data, size_t *len)
{
    uint8_t *copy = (uint8_t *) malloc (data.len + 1);
    assert (copy);
    if (data.len)
        memcpy (copy, data.data, data.len);
    *len = data.len;
    return copy;
}

int
ksclient_register (ksclient_t *self, const char *username, const char *password,
                   ksresult_t *result)
{
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__RegisterParamsRequest params = CHAT__REGISTER_PARAMS_REQUEST__INIT;
    params.username = (char *) username;
    request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS;
    request.register_params = &params;
    Chat__KeyReply *reply = NULL;
    if (s_call (self, &request, CHAT__KEY_REPLY__BODY_REGISTER_PARAMS, result, &reply))
        return result->code;

    uint8_t salt [64];
    size_t salt_len = reply->register_params->salt.len;
    uint32_t iterations = reply->register_params->iterations;
    if (salt_len > sizeof salt) {
        chat__key_reply__free_unpacked (reply, NULL);
        return result->code = CHAT_ERR_MALFORMED;
    }
    memcpy (salt, reply->register_params->salt.data, salt_len);
    chat__key_reply__free_unpacked (reply, NULL);

    Chat__RegisterRequest reg = CHAT__REGISTER_REQUEST__INIT;
    uint8_t stored_key [SCRAM_KEY_SIZE], server_key [SCRAM_KEY_SIZE];
    if (scram_make_verifier (password, salt, salt_len, iterations,
                             stored_key, server_key))
        return result->code = CHAT_ERR_INTERNAL;
    reg.username = (char *) username;
    reg.salt.data = salt;
    reg.salt.len = salt_len;
    reg.iterations = iterations;
    reg.stored_key.data = stored_key;
    reg.stored_key.len = sizeof stored_key;
    reg.server_key.data = server_key;
    reg.server_key.len = sizeof server_key;
    request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER;
    request.register_ = &reg;
    if (s_call (self, &request, CHAT__KEY_REPLY__BODY_REGISTERED, result, &reply) == CHAT_OK) {
        result->certificate = s_copy (reply->registered->certificate,
                                      &result->certificate_len);
        chat__key_reply__free_unpacked (reply, NULL);
    }
    secret_wipe (stored_key, sizeof stored_key);
    secret_wipe (server_key, sizeof server_key);
    return result->code;
}

int
ksclient_login_start (ksclient_t *self, const char *client_first, ksresult_t *result)
{
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__LoginStart start = CHAT__LOGIN_START__INIT;
    start.client_first = (char *) client_first;
    request.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_START;
    request.login_start = &start;
    Chat__KeyReply *reply = NULL;
    if (s_call (self, &request, CHAT__KEY_REPLY__BODY_LOGIN_CHALLENGE, result, &reply)
        == CHAT_OK) {
        snprintf (result->server_first, sizeof result->server_first, "%s",
                  reply->login_challenge->server_first);
        chat__key_reply__free_unpacked (reply, NULL);
    }
    return result->code;
}

//  Fill result from a LoggedIn reply.
static void
s_logged_in (Chat__KeyReply *reply, ksresult_t *result)
{
    result->certificate = s_copy (reply->logged_in->certificate, &result->certificate_len);
    result->resume_token = s_copy (reply->logged_in->resume_token,
                                   &result->resume_token_len);
    snprintf (result->username, sizeof result->username, "%s",
              reply->logged_in->username);
}

int
ksclient_login (ksclient_t *self, const char *username, const char *password,
                ksresult_t *result)
{
    scram_client_t *scram = scram_client_new (username, password, NULL);
    assert (scram);
    if (ksclient_login_start (self, scram_client_first (scram), result) != CHAT_OK) {
        scram_client_destroy (&scram);
        return result->code;
    }
    const char *client_final = NULL;
    if (scram_client_final (scram, result->server_first, &client_final) != CHAT_OK) {
        scram_client_destroy (&scram);
        return result->code = CHAT_ERR_MALFORMED;
    }
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__LoginFinish finish = CHAT__LOGIN_FINISH__INIT;
    finish.client_final = (char *) client_final;
    request.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_FINISH;
    request.login_finish = &finish;
    Chat__KeyReply *reply = NULL;
    if (s_call (self, &request, CHAT__KEY_REPLY__BODY_LOGGED_IN, result, &reply) == CHAT_OK) {
        if (scram_client_verify (scram, reply->logged_in->server_final) != CHAT_OK)
            result->code = CHAT_ERR_BAD_SIGNATURE;
        else
            s_logged_in (reply, result);
        chat__key_reply__free_unpacked (reply, NULL);
    }
    scram_client_destroy (&scram);
    return result->code;
}

int
ksclient_key (ksclient_t *self, bool create,
              const uint8_t conversation_id [CONVERSATION_ID_SIZE],
              const uint8_t *ticket, size_t ticket_len, ksresult_t *result)
{
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__ConversationKeyRequest body = CHAT__CONVERSATION_KEY_REQUEST__INIT;
    body.conversation_id.data = (uint8_t *) conversation_id;
    body.conversation_id.len = CONVERSATION_ID_SIZE;
    body.ticket.data = (uint8_t *) ticket;
    body.ticket.len = ticket_len;
    if (create) {
        request.body_case = CHAT__KEY_REQUEST__BODY_CREATE_KEY;
        request.create_key = &body;
    }
    else {
        request.body_case = CHAT__KEY_REQUEST__BODY_GET_KEY;
        request.get_key = &body;
    }
    Chat__KeyReply *reply = NULL;
    if (s_call (self, &request, CHAT__KEY_REPLY__BODY_CONVERSATION_KEY, result, &reply)
        == CHAT_OK) {
        Chat__ConversationKey *key = reply->conversation_key;
        if (key->key.len != 32 || key->conversation_id.len != CONVERSATION_ID_SIZE
        ||  memcmp (key->conversation_id.data, conversation_id, CONVERSATION_ID_SIZE))
            result->code = CHAT_ERR_MALFORMED;
        else
            memcpy (result->key, key->key.data, 32);
        chat__key_reply__free_unpacked (reply, NULL);
    }
    return result->code;
}

int
ksclient_logout (ksclient_t *self, ksresult_t *result)
{
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__LogoutRequest body = CHAT__LOGOUT_REQUEST__INIT;
    request.body_case = CHAT__KEY_REQUEST__BODY_LOGOUT;
    request.logout = &body;
    Chat__KeyReply *reply = NULL;
    if (s_call (self, &request, CHAT__KEY_REPLY__BODY_LOGGED_OUT, result, &reply) == CHAT_OK)
        chat__key_reply__free_unpacked (reply, NULL);
    return result->code;
}

int
ksclient_resume (ksclient_t *self, const uint8_t *token, size_t len,
                 ksresult_t *result)
{
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__ResumeRequest body = CHAT__RESUME_REQUEST__INIT;
    body.resume_token.data = (uint8_t *) token;
    body.resume_token.len = len;
    request.body_case = CHAT__KEY_REQUEST__BODY_RESUME;
    request.resume = &body;
    Chat__KeyReply *reply = NULL;
    if (s_call (self, &request, CHAT__KEY_REPLY__BODY_LOGGED_IN, result, &reply) == CHAT_OK) {
        s_logged_in (reply, result);
        chat__key_reply__free_unpacked (reply, NULL);
    }
    return result->code;
}
