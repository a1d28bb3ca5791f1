/*  ksclient - a minimal key server client for tests  */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "chaterror.h"
#include "identity.h"
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
    free (result->sealed_identity);
    rsakey_destroy (&result->identity_public);
    rsakey_destroy (&result->identity);
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
    if (self->client) {
        testclient_set_timeout (self->client, RECV_TIMEOUT);
        testclient_expect_role (self->client, CHANNEL_ROLE_KEYSERVER);
    }
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

int
ksclient_call_for (ksclient_t *self, Chat__KeyRequest *request, int expected,
                   Chat__KeyReply **reply)
{
    int rc = ksclient_call (self, request, reply);
    if (rc != CHAT_OK)
        return rc;
    if ((int) (*reply)->body_case == expected)
        return CHAT_OK;
    rc = (*reply)->body_case == CHAT__KEY_REPLY__BODY_ERROR? (int) (*reply)->error->code
                                                          : CHAT_ERR_MALFORMED;
    chat__key_reply__free_unpacked (*reply, NULL);
    *reply = NULL;
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

//  A salt and count from register_params for username: CHAT_OK or the code
static int
s_register_params (ksclient_t *self, const char *username, uint8_t salt [64],
                   size_t *salt_len, uint32_t *iterations, ksresult_t *result)
{
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__RegisterParamsRequest params = CHAT__REGISTER_PARAMS_REQUEST__INIT;
    params.username = (char *) username;
    request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS;
    request.register_params = &params;
    Chat__KeyReply *reply = NULL;
    if (s_call (self, &request, CHAT__KEY_REPLY__BODY_REGISTER_PARAMS, result, &reply))
        return result->code;
    *salt_len = reply->register_params->salt.len;
    *iterations = reply->register_params->iterations;
    if (*salt_len > 64)
        result->code = CHAT_ERR_MALFORMED;
    else
        memcpy (salt, reply->register_params->salt.data, *salt_len);
    chat__key_reply__free_unpacked (reply, NULL);
    return result->code;
}

//  What a password sets: verifiers and the identity sealed, from
//  SaltedPassword. CHAT_OK or CHAT_ERR_INTERNAL.
typedef struct {
    uint8_t stored_key [SCRAM_KEY_SIZE];
    uint8_t server_key [SCRAM_KEY_SIZE];
    char *sealed;
} password_set_t;

static int
s_password_set (const char *username, const char *password, const uint8_t *salt,
                size_t salt_len, uint32_t iterations, rsakey_t *identity,
                password_set_t *set)
{
    memset (set, 0, sizeof *set);
    uint8_t salted [SCRAM_KEY_SIZE];
    int rc = scram_salted_password (password, salt, salt_len, iterations, salted) == 0
          && scram_verifier_from_salted (salted, set->stored_key, set->server_key) == 0
          && identity_seal (identity, username, salted, wire_now (), &set->sealed) == CHAT_OK
           ? CHAT_OK: CHAT_ERR_INTERNAL;
    secret_wipe (salted, sizeof salted);
    return rc;
}

static void
s_password_set_wipe (password_set_t *set)
{
    if (set->sealed)
        secret_wipe (set->sealed, strlen (set->sealed));
    free (set->sealed);
    secret_wipe (set, sizeof *set);
}

int
ksclient_register (ksclient_t *self, const char *username, const char *password,
                   rsakey_t *identity, ksresult_t *result)
{
    assert (identity);
    uint8_t salt [64];
    size_t salt_len = 0;
    uint32_t iterations = 0;
    if (s_register_params (self, username, salt, &salt_len, &iterations, result))
        return result->code;
    password_set_t set;
    if (s_password_set (username, password, salt, salt_len, iterations, identity, &set)) {
        s_password_set_wipe (&set);
        return result->code = CHAT_ERR_INTERNAL;
    }
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__RegisterRequest reg = CHAT__REGISTER_REQUEST__INIT;
    reg.username = (char *) username;
    reg.salt.data = salt;
    reg.salt.len = salt_len;
    reg.iterations = iterations;
    reg.stored_key.data = set.stored_key;
    reg.stored_key.len = SCRAM_KEY_SIZE;
    reg.server_key.data = set.server_key;
    reg.server_key.len = SCRAM_KEY_SIZE;
    reg.identity_public_key.data = (uint8_t *) rsakey_der (identity,
                                                           &reg.identity_public_key.len);
    reg.sealed_identity.data = (uint8_t *) set.sealed;
    reg.sealed_identity.len = strlen (set.sealed);
    request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER;
    request.register_ = &reg;
    Chat__KeyReply *reply = NULL;
    if (s_call (self, &request, CHAT__KEY_REPLY__BODY_REGISTERED, result, &reply) == CHAT_OK) {
        result->certificate = s_copy (reply->registered->certificate,
                                      &result->certificate_len);
        chat__key_reply__free_unpacked (reply, NULL);
    }
    s_password_set_wipe (&set);
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

//  Fill result from a LoggedIn reply; with salted (a password login),
//  open the sealed identity and check it is the key named beside it.
static void
s_logged_in (Chat__KeyReply *reply, const uint8_t *salted, ksresult_t *result)
{
    Chat__LoggedIn *logged_in = reply->logged_in;
    result->certificate = s_copy (logged_in->certificate, &result->certificate_len);
    result->resume_token = s_copy (logged_in->resume_token, &result->resume_token_len);
    snprintf (result->username, sizeof result->username, "%s", logged_in->username);
    result->identity_public = rsakey_from_der (logged_in->identity_public_key.data,
                                               logged_in->identity_public_key.len);
    if (!result->identity_public)
        result->code = CHAT_ERR_BAD_KEY;
    if (!salted || result->code != CHAT_OK)
        return;
    result->sealed_identity = s_copy (logged_in->sealed_identity,
                                      &result->sealed_identity_len);
    if (identity_open ((const char *) result->sealed_identity, result->sealed_identity_len,
                       result->username, logged_in->identity_public_key.data,
                       logged_in->identity_public_key.len, salted,
                       &result->identity) != CHAT_OK)
        result->code = CHAT_ERR_BAD_KEY;
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
            s_logged_in (reply, scram_client_salted_password (scram), result);
        chat__key_reply__free_unpacked (reply, NULL);
    }
    scram_client_destroy (&scram);
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
        s_logged_in (reply, NULL, result);
        chat__key_reply__free_unpacked (reply, NULL);
    }
    return result->code;
}

int
ksclient_password (ksclient_t *self, const char *username, const char *old_password,
                   const char *new_password, rsakey_t *identity, ksresult_t *result)
{
    uint8_t salt [64];
    size_t salt_len = 0;
    uint32_t iterations = 0;
    if (s_register_params (self, username, salt, &salt_len, &iterations, result))
        return result->code;
    password_set_t set;
    if (s_password_set (username, new_password, salt, salt_len, iterations, identity,
                        &set)) {
        s_password_set_wipe (&set);
        return result->code = CHAT_ERR_INTERNAL;
    }
    scram_client_t *scram = scram_client_new (username, old_password, NULL);
    assert (scram);
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__LoginStart start = CHAT__LOGIN_START__INIT;
    start.client_first = (char *) scram_client_first (scram);
    request.body_case = CHAT__KEY_REQUEST__BODY_PASSWORD_START;
    request.password_start = &start;
    Chat__KeyReply *reply = NULL;
    const char *client_final = NULL;
    if (s_call (self, &request, CHAT__KEY_REPLY__BODY_LOGIN_CHALLENGE, result, &reply)
        == CHAT_OK) {
        if (scram_client_final (scram, reply->login_challenge->server_first,
                                &client_final) != CHAT_OK)
            result->code = CHAT_ERR_MALFORMED;
        chat__key_reply__free_unpacked (reply, NULL);
    }
    if (result->code == CHAT_OK) {
        Chat__PasswordFinish finish = CHAT__PASSWORD_FINISH__INIT;
        finish.client_final = (char *) client_final;
        finish.salt.data = salt;
        finish.salt.len = salt_len;
        finish.iterations = iterations;
        finish.stored_key.data = set.stored_key;
        finish.stored_key.len = SCRAM_KEY_SIZE;
        finish.server_key.data = set.server_key;
        finish.server_key.len = SCRAM_KEY_SIZE;
        finish.sealed_identity.data = (uint8_t *) set.sealed;
        finish.sealed_identity.len = strlen (set.sealed);
        request.body_case = CHAT__KEY_REQUEST__BODY_PASSWORD_FINISH;
        request.password_finish = &finish;
        if (s_call (self, &request, CHAT__KEY_REPLY__BODY_PASSWORD_CHANGED, result, &reply)
            == CHAT_OK) {
            if (scram_client_verify (scram, reply->password_changed->server_final) != CHAT_OK)
                result->code = CHAT_ERR_BAD_SIGNATURE;
            chat__key_reply__free_unpacked (reply, NULL);
        }
    }
    scram_client_destroy (&scram);
    s_password_set_wipe (&set);
    return result->code;
}

int
ksclient_put_keys (ksclient_t *self, const uint8_t *ticket, size_t ticket_len,
                   const char *const *names, uint8_t *const *wrapped,
                   const size_t *wrapped_len, size_t count, ksresult_t *result)
{
    Chat__WrappedKey *items = (Chat__WrappedKey *) calloc (count + 1, sizeof *items);
    Chat__WrappedKey **item_ptrs = (Chat__WrappedKey **) calloc (count + 1, sizeof (void *));
    assert (items && item_ptrs);
    for (size_t i = 0; i < count; i++) {
        chat__wrapped_key__init (&items [i]);
        items [i].username = (char *) names [i];
        items [i].wrapped_key.data = wrapped [i];
        items [i].wrapped_key.len = wrapped_len [i];
        item_ptrs [i] = &items [i];
    }
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__PutKeysRequest body = CHAT__PUT_KEYS_REQUEST__INIT;
    body.ticket.data = (uint8_t *) ticket;
    body.ticket.len = ticket_len;
    body.keys = item_ptrs;
    body.n_keys = count;
    request.body_case = CHAT__KEY_REQUEST__BODY_PUT_KEYS;
    request.put_keys = &body;
    Chat__KeyReply *reply = NULL;
    if (s_call (self, &request, CHAT__KEY_REPLY__BODY_KEYS_STORED, result, &reply)
        == CHAT_OK) {
        result->duplicate = reply->keys_stored->duplicate;
        result->epoch = reply->keys_stored->epoch;
        chat__key_reply__free_unpacked (reply, NULL);
    }
    free (items);
    free (item_ptrs);
    return result->code;
}
