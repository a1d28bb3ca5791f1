/*  msclient - a bare test client of the main server; see msclient.h  */
#include "chaterror.h"
#include "msclient.h"

msclient_t *
msclient_new (rsakey_t *key, const char *endpoint, const char *push_endpoint)
{
    msclient_t *self = (msclient_t *) zmalloc (sizeof (msclient_t));
    assert (self);
    self->key = key;
    self->next_request_id = 1;
    self->client = testclient_new (endpoint, key);
    assert (self->client);
    testclient_set_timeout (self->client, MSCLIENT_TIMEOUT);
    testclient_expect_role (self->client, CHANNEL_ROLE_MAINSERVER);
    if (push_endpoint) {
        //  Connected early so that the subscription rides an open pipe.
        self->sub = zsock_new_sub (push_endpoint, NULL);
        assert (self->sub);
        zsock_set_linger (self->sub, 0);
    }
    int rc = testclient_handshake (self->client);
    if (rc != CHAT_OK) {
        fprintf (stderr, "msclient: handshake failed: %d\n", rc);
        msclient_destroy (&self);
        return NULL;
    }
    msclient_subscribe (self, true);
    return self;
}

void
msclient_destroy (msclient_t **self_p)
{
    assert (self_p);
    msclient_t *self = *self_p;
    if (self) {
        testclient_destroy (&self->client);
        zsock_destroy (&self->sub);
        free (self);
        *self_p = NULL;
    }
}

void
msclient_subscribe (msclient_t *self, bool on)
{
    if (!self->sub || on == self->subscribed)
        return;
    const uint8_t *token = channel_session_token (msclient_channel (self));
    int rc = zmq_setsockopt (zsock_resolve (self->sub),
                             on? ZMQ_SUBSCRIBE: ZMQ_UNSUBSCRIBE,
                             token, CHANNEL_SESSION_TOKEN_SIZE);
    if (rc == 0)
        self->subscribed = on;
}

zsock_t *
msclient_dealer (msclient_t *self)
{
    return testclient_dealer (self->client);
}

channel_t *
msclient_channel (msclient_t *self)
{
    return testclient_channel (self->client);
}

int
msclient_reconnect (msclient_t *self)
{
    return testclient_reconnect (self->client);
}

int
msclient_send_frame (msclient_t *self, const uint8_t *data, size_t size)
{
    return testclient_send (self->client, data, size);
}

int
msclient_recv_frame (msclient_t *self, uint8_t **data, size_t *size)
{
    return testclient_recv (self->client, data, size) == 0? 0: -1;
}

int
msclient_send_payload (msclient_t *self, const uint8_t *payload, size_t len)
{
    return testclient_send_sealed (self->client, payload, len) == CHAT_OK? CHAT_OK: -1;
}

uint64_t
msclient_send (msclient_t *self, Chat__MainRequest *request)
{
    if (request->request_id == 0)
        request->request_id = self->next_request_id++;
    uint8_t *payload = NULL;
    size_t len = 0;
    if (wire_pack (&request->base, &payload, &len) != CHAT_OK)
        return 0;
    int rc = msclient_send_payload (self, payload, len);
    free (payload);
    return rc == CHAT_OK? request->request_id: 0;
}

int
msclient_recv (msclient_t *self, Chat__MainReply **reply)
{
    int rc = testclient_reply (self->client, &chat__main_reply__descriptor,
                               (ProtobufCMessage **) reply);
    return rc == TESTCLIENT_GARBAGE || rc == TESTCLIENT_NONE? -1: rc;
}

int
msclient_request (msclient_t *self, Chat__MainRequest *request, Chat__MainReply **reply)
{
    *reply = NULL;
    if (msclient_send (self, request) == 0)
        return -1;
    return msclient_recv (self, reply);
}

int
msclient_cert_send (msclient_t *self, int purpose, const uint8_t *cert, size_t len,
                    Chat__MainReply **reply)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__RegisterUserRequest reg = CHAT__REGISTER_USER_REQUEST__INIT;
    Chat__LoginRequest login = CHAT__LOGIN_REQUEST__INIT;
    if (purpose == CREDENTIAL_REGISTERED) {
        reg.certificate.data = (uint8_t *) cert;
        reg.certificate.len = len;
        request.body_case = CHAT__MAIN_REQUEST__BODY_REGISTER;
        request.register_ = &reg;
    }
    else {
        login.certificate.data = (uint8_t *) cert;
        login.certificate.len = len;
        request.body_case = CHAT__MAIN_REQUEST__BODY_LOGIN;
        request.login = &login;
    }
    return msclient_request (self, &request, reply);
}

int
msclient_cert_request (msclient_t *self, rsakey_t *issuer, int purpose,
                       const char *name, rsakey_t *identity,
                       const uint8_t *fingerprint, int64_t now,
                       Chat__MainReply **reply)
{
    *reply = NULL;
    uint8_t *cert = NULL;
    size_t len = 0;
    if (credential_cert_issue (issuer, purpose, name, fingerprint, identity, now,
                               &cert, &len) != CHAT_OK)
        return CHAT_ERR_INTERNAL;
    int rc = msclient_cert_send (self, purpose, cert, len, reply);
    free (cert);
    return rc;
}

int
msclient_recv_push (msclient_t *self, int timeout_ms, Chat__Push **push)
{
    *push = NULL;
    if (!self->sub)
        return -1;
    zpoller_t *poller = zpoller_new (self->sub, NULL);
    void *which = zpoller_wait (poller, timeout_ms);
    zpoller_destroy (&poller);
    if (which != self->sub)
        return -1;
    zmsg_t *msg = zmsg_recv (self->sub);
    if (!msg)
        return -1;
    int rc = -1;
    zframe_t *topic = zmsg_first (msg);
    zframe_t *body = zmsg_next (msg);
    if (topic && body && zframe_size (topic) == CHANNEL_SESSION_TOKEN_SIZE
    &&  memcmp (zframe_data (topic), channel_session_token (msclient_channel (self)),
                CHANNEL_SESSION_TOKEN_SIZE) == 0) {
        uint8_t *payload = NULL;
        size_t len = 0;
        if (channel_open_push (msclient_channel (self), zframe_data (body), zframe_size (body),
                               &payload, &len) == CHAT_OK) {
            if (wire_unpack (&chat__push__descriptor, payload, len,
                             (ProtobufCMessage **) push) == CHAT_OK)
                rc = CHAT_OK;
            free (payload);
        }
    }
    zmsg_destroy (&msg);
    return rc;
}

int
msclient_code (const Chat__MainReply *reply)
{
    if (!reply)
        return -1;
    if (reply->body_case == CHAT__MAIN_REPLY__BODY_ERROR)
        return reply->error? (int) reply->error->code: -1;
    return CHAT_OK;
}
