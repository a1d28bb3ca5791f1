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
    self->dealer = zsock_new_dealer (endpoint);
    assert (self->dealer);
    zsock_set_rcvtimeo (self->dealer, MSCLIENT_TIMEOUT);
    zsock_set_linger (self->dealer, 0);
    if (push_endpoint) {
        //  Connected early so that the subscription rides an open pipe.
        self->sub = zsock_new_sub (push_endpoint, NULL);
        assert (self->sub);
        zsock_set_linger (self->sub, 0);
    }
    self->channel = channel_client_new (key);
    uint8_t *frame = NULL;
    size_t size = 0;
    int rc = channel_client_hello (self->channel, &frame, &size);
    if (rc == CHAT_OK) {
        msclient_send_frame (self, frame, size);
        free (frame);
        frame = NULL;
        if (msclient_recv_frame (self, &frame, &size) == 0) {
            rc = channel_client_accept (self->channel, frame, size);
            free (frame);
        }
        else
            rc = -1;
    }
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
        zsock_destroy (&self->dealer);
        zsock_destroy (&self->sub);
        channel_destroy (&self->channel);
        free (self);
        *self_p = NULL;
    }
}

void
msclient_subscribe (msclient_t *self, bool on)
{
    if (!self->sub || on == self->subscribed)
        return;
    const uint8_t *token = channel_session_token (self->channel);
    int rc = zmq_setsockopt (zsock_resolve (self->sub),
                             on? ZMQ_SUBSCRIBE: ZMQ_UNSUBSCRIBE,
                             token, CHANNEL_SESSION_TOKEN_SIZE);
    if (rc == 0)
        self->subscribed = on;
}

int
msclient_send_frame (msclient_t *self, const uint8_t *data, size_t size)
{
    zframe_t *frame = zframe_new (data, size);
    return zframe_send (&frame, self->dealer, 0);
}

int
msclient_recv_frame (msclient_t *self, uint8_t **data, size_t *size)
{
    zframe_t *frame = zframe_recv (self->dealer);
    if (!frame)
        return -1;
    *size = zframe_size (frame);
    *data = (uint8_t *) malloc (*size + 1);
    assert (*data);
    memcpy (*data, zframe_data (frame), *size);
    zframe_destroy (&frame);
    return 0;
}

int
msclient_send_payload (msclient_t *self, const uint8_t *payload, size_t len)
{
    uint8_t *frame = NULL;
    size_t size = 0;
    int rc = channel_seal (self->channel, payload, len, &frame, &size);
    if (rc != CHAT_OK)
        return rc;
    rc = msclient_send_frame (self, frame, size);
    free (frame);
    return rc == 0? CHAT_OK: -1;
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
    *reply = NULL;
    uint8_t *frame = NULL;
    size_t size = 0;
    if (msclient_recv_frame (self, &frame, &size) != 0)
        return -1;
    Chat__Envelope *env = NULL;
    int rc = wire_envelope_unpack (frame, size, &env);
    free (frame);
    if (rc != CHAT_OK)
        return -1;
    if (env->kind_case == CHAT__ENVELOPE__KIND_ERROR)
        rc = env->error->code;
    else
    if (env->kind_case == CHAT__ENVELOPE__KIND_SEALED) {
        uint8_t *payload = NULL;
        size_t len = 0;
        rc = channel_open (self->channel, env->sealed->token, strlen (env->sealed->token),
                           &payload, &len);
        if (rc == CHAT_OK) {
            rc = wire_unpack (&chat__main_reply__descriptor, payload, len,
                              (ProtobufCMessage **) reply);
            free (payload);
        }
        if (rc != CHAT_OK)
            rc = -1;
    }
    else
        rc = -1;
    chat__envelope__free_unpacked (env, NULL);
    return rc;
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
    &&  memcmp (zframe_data (topic), channel_session_token (self->channel),
                CHANNEL_SESSION_TOKEN_SIZE) == 0) {
        uint8_t *payload = NULL;
        size_t len = 0;
        if (channel_open_push (self->channel, zframe_data (body), zframe_size (body),
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
