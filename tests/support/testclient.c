/*  testclient - a raw channel client for tests; see testclient.h  */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include "chaterror.h"
#include "testclient.h"

struct _testclient_t {
    zsock_t *dealer;
    bool owns_dealer;               //  false for a session on another's DEALER
    char *endpoint;
    channel_t *channel;
    rsakey_t *key;                  //  borrowed
    int timeout;
    char *role;                     //  the role Welcomes must name, or NULL
};

static zsock_t *
s_dealer_new (const char *endpoint, int timeout_ms)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    assert (dealer);
    zsock_set_linger (dealer, 0);
    zsock_set_rcvtimeo (dealer, timeout_ms);
    zsock_set_sndtimeo (dealer, timeout_ms);
    if (zsock_connect (dealer, "%s", endpoint) != 0)
        zsock_destroy (&dealer);
    return dealer;
}

testclient_t *
testclient_new (const char *endpoint, rsakey_t *key)
{
    assert (endpoint);
    testclient_t *self = (testclient_t *) zmalloc (sizeof *self);
    assert (self);
    self->key = key;
    self->timeout = TESTCLIENT_TIMEOUT;
    self->endpoint = strdup (endpoint);
    assert (self->endpoint);
    self->owns_dealer = true;
    self->dealer = s_dealer_new (endpoint, self->timeout);
    if (!self->dealer)
        testclient_destroy (&self);
    return self;
}

testclient_t *
testclient_new_on (testclient_t *connection, rsakey_t *key)
{
    assert (connection);
    testclient_t *self = (testclient_t *) zmalloc (sizeof *self);
    assert (self);
    self->key = key;
    self->timeout = connection->timeout;
    self->endpoint = strdup (connection->endpoint);
    assert (self->endpoint);
    self->dealer = connection->dealer;
    return self;
}

void
testclient_destroy (testclient_t **self_p)
{
    assert (self_p);
    testclient_t *self = *self_p;
    if (self) {
        channel_destroy (&self->channel);
        if (self->owns_dealer)
            zsock_destroy (&self->dealer);
        free (self->endpoint);
        free (self->role);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
testclient_dealer (testclient_t *self)
{
    return self->dealer;
}

channel_t *
testclient_channel (testclient_t *self)
{
    return self->channel;
}

void
testclient_set_key (testclient_t *self, rsakey_t *key)
{
    self->key = key;
}

void
testclient_expect_role (testclient_t *self, const char *role)
{
    free (self->role);
    self->role = role? strdup (role): NULL;
}

void
testclient_set_timeout (testclient_t *self, int timeout_ms)
{
    self->timeout = timeout_ms;
    zsock_set_rcvtimeo (self->dealer, timeout_ms);
    zsock_set_sndtimeo (self->dealer, timeout_ms);
}

int
testclient_reconnect (testclient_t *self)
{
    if (!self->owns_dealer)
        return -1;
    zsock_t *dealer = s_dealer_new (self->endpoint, self->timeout);
    if (!dealer)
        return -1;
    zsock_destroy (&self->dealer);
    self->dealer = dealer;
    return 0;
}

int
testclient_send (testclient_t *self, const void *data, size_t size)
{
    zframe_t *frame = zframe_new (data, size);
    return zframe_send (&frame, self->dealer, 0) == 0? 0: -1;
}

int
testclient_recv (testclient_t *self, uint8_t **data, size_t *size)
{
    zmsg_t *msg = zmsg_recv (self->dealer);
    if (!msg)
        return TESTCLIENT_NONE;
    int rc = TESTCLIENT_GARBAGE;
    if (zmsg_size (msg) == 1) {
        zframe_t *frame = zmsg_first (msg);
        *size = zframe_size (frame);
        *data = (uint8_t *) malloc (*size + 1);
        assert (*data);
        memcpy (*data, zframe_data (frame), *size);
        rc = 0;
    }
    zmsg_destroy (&msg);
    return rc;
}

int
testclient_hello (testclient_t *self)
{
    channel_destroy (&self->channel);
    self->channel = channel_client_new (self->key);
    if (!self->channel)
        return CHAT_ERR_INTERNAL;
    if (self->role && channel_client_expect_role (self->channel, self->role) != CHAT_OK) {
        channel_destroy (&self->channel);
        return CHAT_ERR_INTERNAL;
    }
    uint8_t *hello = NULL;
    size_t size = 0;
    int rc = channel_client_hello (self->channel, &hello, &size);
    if (rc == CHAT_OK) {
        if (testclient_send (self, hello, size) != 0)
            rc = CHAT_ERR_INTERNAL;
        free (hello);
    }
    if (rc != CHAT_OK)
        channel_destroy (&self->channel);
    return rc;
}

int
testclient_hello_version (testclient_t *self, uint32_t version)
{
    channel_destroy (&self->channel);
    uint8_t nonce [32] = { 1 };
    size_t der_len = 0;
    const uint8_t *der = rsakey_der (self->key, &der_len);
    Chat__Hello hello = CHAT__HELLO__INIT;
    hello.version = version;
    hello.client_public_key.data = (uint8_t *) der;
    hello.client_public_key.len = der_len;
    hello.client_nonce.data = nonce;
    hello.client_nonce.len = sizeof nonce;
    Chat__Envelope envelope = CHAT__ENVELOPE__INIT;
    envelope.kind_case = CHAT__ENVELOPE__KIND_HELLO;
    envelope.hello = &hello;
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    if (wire_pack (&envelope.base, &packed, &packed_len) != CHAT_OK)
        return -1;
    int rc = testclient_send (self, packed, packed_len);
    free (packed);
    return rc;
}

int
testclient_welcome (testclient_t *self)
{
    if (!self->channel)
        return CHAT_ERR_INTERNAL;
    uint8_t *welcome = NULL;
    size_t size = 0;
    int rc = testclient_recv (self, &welcome, &size);
    if (rc == 0) {
        rc = channel_client_accept (self->channel, welcome, size);
        free (welcome);
    }
    if (rc != CHAT_OK)
        channel_destroy (&self->channel);
    return rc;
}

int
testclient_handshake (testclient_t *self)
{
    int rc = testclient_hello (self);
    return rc == CHAT_OK? testclient_welcome (self): rc;
}

int
testclient_seal (testclient_t *self, const void *payload, size_t len,
                 uint8_t **frame, size_t *size)
{
    if (!self->channel)
        return CHAT_ERR_INTERNAL;
    return channel_seal (self->channel, (const uint8_t *) payload, len, frame, size);
}

int
testclient_send_sealed (testclient_t *self, const void *payload, size_t len)
{
    uint8_t *frame = NULL;
    size_t size = 0;
    int rc = testclient_seal (self, payload, len, &frame, &size);
    if (rc == CHAT_OK) {
        if (testclient_send (self, frame, size) != 0)
            rc = CHAT_ERR_INTERNAL;
        free (frame);
    }
    return rc;
}

int
testclient_answer (testclient_t *self, uint8_t **payload, size_t *len)
{
    uint8_t *data = NULL;
    size_t size = 0;
    int rc = testclient_recv (self, &data, &size);
    if (rc != 0)
        return rc;
    Chat__Envelope *env = NULL;
    rc = TESTCLIENT_GARBAGE;
    if (wire_envelope_unpack (data, size, &env) == CHAT_OK) {
        if (env->kind_case == CHAT__ENVELOPE__KIND_ERROR && env->error->code != 0)
            rc = (int) env->error->code;
        else
        if (env->kind_case == CHAT__ENVELOPE__KIND_SEALED && self->channel) {
            uint8_t *opened = NULL;
            size_t opened_len = 0;
            if (channel_open (self->channel, env->sealed->token,
                              strlen (env->sealed->token), &opened, &opened_len) == CHAT_OK) {
                rc = CHAT_OK;
                if (payload) {
                    *payload = opened;
                    *len = opened_len;
                }
                else
                    free (opened);
            }
        }
        chat__envelope__free_unpacked (env, NULL);
    }
    free (data);
    return rc;
}

int
testclient_refusal (testclient_t *self)
{
    return testclient_answer (self, NULL, NULL);
}

int
testclient_oversized (testclient_t *self, int quiet_ms)
{
    uint8_t *big = (uint8_t *) calloc (1, WIRE_MAX_FRAME + 1);
    assert (big);
    int rc = testclient_send (self, big, WIRE_MAX_FRAME + 1);
    free (big);
    if (rc != 0)
        return TESTCLIENT_GARBAGE;
    int timeout = self->timeout;
    testclient_set_timeout (self, quiet_ms);
    rc = testclient_refusal (self);
    testclient_set_timeout (self, timeout);
    if (rc != TESTCLIENT_NONE)
        return rc;
    const uint8_t garbage [] = { 0xff, 0xff, 0xff };
    if (testclient_send (self, garbage, sizeof garbage) != 0)
        return TESTCLIENT_GARBAGE;
    return testclient_refusal (self);
}

int
testclient_reply (testclient_t *self, const ProtobufCMessageDescriptor *descriptor,
                  ProtobufCMessage **reply)
{
    *reply = NULL;
    uint8_t *payload = NULL;
    size_t len = 0;
    int rc = testclient_answer (self, &payload, &len);
    if (rc != CHAT_OK)
        return rc;
    if (wire_unpack (descriptor, payload, len, reply) != CHAT_OK) {
        *reply = NULL;
        rc = TESTCLIENT_GARBAGE;
    }
    free (payload);
    return rc;
}

int
testclient_call (testclient_t *self, const ProtobufCMessage *request,
                 const ProtobufCMessageDescriptor *descriptor, ProtobufCMessage **reply)
{
    *reply = NULL;
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    if (wire_pack (request, &packed, &packed_len) != CHAT_OK)
        return CHAT_ERR_INTERNAL;
    int rc = testclient_send_sealed (self, packed, packed_len);
    free (packed);
    return rc == CHAT_OK? testclient_reply (self, descriptor, reply): rc;
}
