/*  cl_link - one server connection of the client; see cl_link.h
*/
#include <stdlib.h>
#include <string.h>
#include "cl_client.h"
#include "chaterror.h"
#include "secret.h"

int
cl_link_send (link_t *link, const uint8_t *frame, size_t size)
{
    int rc = zmq_send (zsock_resolve (link->sock), frame, size, ZMQ_DONTWAIT);
    return rc < 0 ? -1 : 0;
}

void
cl_link_disconnect (link_t *link)
{
    if (link->connected) {
        zsock_disconnect (link->sock, "%s", link->endpoint);
        link->connected = false;
    }
}

void
cl_link_attempt (chatclient_t *self, link_t *link)
{
    channel_destroy (&link->channel);
    link->channel = channel_client_new (self->client_key);
    uint8_t *frame = NULL;
    size_t size = 0;
    //  a fresh connection drops whatever the old one still had queued
    cl_link_disconnect (link);
    if (zsock_connect (link->sock, "%s", link->endpoint) == 0)
        link->connected = true;
    if (!link->channel || !link->connected
    ||  channel_client_hello (link->channel, &frame, &size) != CHAT_OK
    ||  cl_link_send (link, frame, size) != 0) {
        free (frame);
        link->state = LINK_DOWN;
        link->retry_at = zclock_mono () + link->backoff;
        return;
    }
    free (frame);
    link->state = LINK_HELLO;
    link->deadline = zclock_mono () + self->config.request_timeout_ms;
    if (self->config.verbose)
        zsys_info ("chat: handshake with %s %s", link->role_name, link->endpoint);
}

//  The link broke: back off and try again. Requests in flight are sent
//  again if that is safe, else they fail.
void
cl_link_reset (chatclient_t *self, link_t *link, int code, const char *why)
{
    if (link->state == LINK_REFUSED)
        return;
    channel_destroy (&link->channel);
    link->state = LINK_DOWN;
    link->authed = false;
    link->authing = false;
    if (link->role == CHATCLIENT_KEYSERVER)
        self->resume_inflight = false;
    link->retry_at = zclock_mono () + link->backoff;
    chatclient_event_t *event = cl_event_add (self, CHATCLIENT_EV_DISCONNECTED, 0);
    event->server = link->role;
    event->code = code;
    event->endpoint = cl_strdup (link->endpoint);
    event->retry_ms = link->backoff;
    event->text = cl_strdup (why);
    if (self->config.verbose)
        zsys_info ("chat: %s %s: %s; retrying in %d ms", link->role_name,
                   link->endpoint, why, link->backoff);
    link->backoff = link->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : link->backoff * 2;
    cl_request_link_lost (self, link);
}

static void
s_link_opened (chatclient_t *self, link_t *link)
{
    link->state = LINK_OPEN;
    link->backoff = BACKOFF_MIN_MS;
    link->authed = false;
    link->authing = false;
    free (link->fingerprint);
    link->fingerprint = strdup (channel_peer_fingerprint_text (link->channel));
    chatclient_event_t *event = cl_event_add (self, CHATCLIENT_EV_CONNECTED, 0);
    event->server = link->role;
    event->endpoint = cl_strdup (link->endpoint);
    event->fingerprint = cl_strdup (link->fingerprint);
    if (link->role == CHATCLIENT_MAINSERVER) {
        void *sub = zsock_resolve (self->push);
        if (self->push_subscribed)
            zmq_setsockopt (sub, ZMQ_UNSUBSCRIBE, self->push_topic,
                            CHANNEL_SESSION_TOKEN_SIZE);
        memcpy (self->push_topic, channel_session_token (link->channel),
                CHANNEL_SESSION_TOKEN_SIZE);
        zmq_setsockopt (sub, ZMQ_SUBSCRIBE, self->push_topic,
                        CHANNEL_SESSION_TOKEN_SIZE);
        self->push_subscribed = true;
        self->next_ping = zclock_mono () + self->config.ping_interval_ms;
    }
    if (self->config.verbose)
        zsys_info ("chat: connected to %s %s, key %s", link->role_name,
                   link->endpoint, link->fingerprint);
    cl_session_reauth (self);
    cl_request_pump (self);
}

//  The server's key against the pin. True when it may be used.
static bool
s_pin_check (chatclient_t *self, link_t *link)
{
    const char *offered = channel_peer_fingerprint_text (link->channel);
    const char *pinned = NULL;
    pin_result_t result;
    if (link->pin)
        result = streq (offered, link->pin) ? PIN_MATCH : PIN_MISMATCH;
    else
        result = pinstore_check (self->pins, link->pin_name, offered, &pinned);
    if (link->pin)
        pinned = link->pin;

    if (result == PIN_MATCH)
        return true;
    if (result == PIN_UNKNOWN) {
        chatclient_event_t *event = cl_event_add (self, CHATCLIENT_EV_PIN_NEW, 0);
        event->server = link->role;
        event->name = cl_strdup (link->pin_name);
        event->endpoint = cl_strdup (link->endpoint);
        event->fingerprint = cl_strdup (offered);
        if (pinstore_add (self->pins, link->pin_name, offered) != 0) {
            event->text = cl_format ("could not save the pin to %s",
                                     pinstore_path (self->pins));
        }
        return true;
    }
    chatclient_event_t *event = cl_event_add (self, CHATCLIENT_EV_PIN_MISMATCH, 0);
    event->server = link->role;
    event->code = CHAT_ERR_PIN_MISMATCH;
    event->name = cl_strdup (link->pin_name);
    event->endpoint = cl_strdup (link->endpoint);
    event->fingerprint = cl_strdup (offered);
    event->pinned = cl_strdup (pinned);
    event->text = cl_format (
        "the %s at %s offers key %s but %s was pinned%s%s; refusing it "
        "(if the server's key really changed, remove its line from %s)",
        link->role_name, link->endpoint, offered, pinned ? pinned : "?",
        link->pin ? " on the command line" : " for ", link->pin ? "" : link->pin_name,
        link->pin ? "the command line" : pinstore_path (self->pins));
    return false;
}

static void
s_link_refuse (chatclient_t *self, link_t *link)
{
    channel_destroy (&link->channel);
    cl_link_disconnect (link);
    link->state = LINK_REFUSED;
    link->authed = false;
    cl_request_fail_link (self, link, CHAT_ERR_PIN_MISMATCH,
                          "the server's key does not match its pin");
}

//  One frame from a server's DEALER.
static void
s_link_frame (chatclient_t *self, link_t *link, const uint8_t *data, size_t size)
{
    Chat__Envelope *env = NULL;
    if (wire_envelope_unpack (data, size, &env) != CHAT_OK)
        return;
    switch (env->kind_case) {
        case CHAT__ENVELOPE__KIND_WELCOME:
            if (link->state == LINK_HELLO) {
                int rc = channel_client_accept (link->channel, data, size);
                if (rc != CHAT_OK) {
                    char *why = cl_format ("handshake failed: %s", chat_strerror (rc));
                    cl_link_reset (self, link, rc, why);
                    free (why);
                }
                else
                if (s_pin_check (self, link))
                    s_link_opened (self, link);
                else
                    s_link_refuse (self, link);
            }
            break;
        case CHAT__ENVELOPE__KIND_ERROR: {
            int code = (int) env->error->code;
            if (link->state == LINK_HELLO) {
                char *why = cl_format ("server refused the handshake: %s",
                                       chat_strerror (code));
                if (env->error->retry_after_ms > (uint32_t) link->backoff)
                    link->backoff = env->error->retry_after_ms > BACKOFF_MAX_MS
                                  ? BACKOFF_MAX_MS : (int) env->error->retry_after_ms;
                cl_link_reset (self, link, code, why);
                free (why);
            }
            else
            if (link->state == LINK_OPEN && code == CHAT_ERR_UNKNOWN_SESSION) {
                link->backoff = BACKOFF_MIN_MS;
                cl_link_reset (self, link, code, "the server does not know our session (restarted?)");
            }
            else
            if (link->state == LINK_OPEN && self->config.verbose)
                zsys_info ("chat: %s refused a frame: %s", link->role_name,
                           chat_strerror (code));
            break;
        }
        case CHAT__ENVELOPE__KIND_SEALED:
            if (link->state == LINK_OPEN && env->sealed->token
            &&  env->sealed->session_id.len == CHANNEL_SESSION_ID_SIZE
            &&  memcmp (env->sealed->session_id.data,
                        channel_session_id (link->channel), CHANNEL_SESSION_ID_SIZE) == 0) {
                uint8_t *payload = NULL;
                size_t len = 0;
                if (channel_open (link->channel, env->sealed->token,
                                  strlen (env->sealed->token), &payload, &len) == CHAT_OK) {
                    if (link->role == CHATCLIENT_KEYSERVER)
                        cl_reply_key (self, link, payload, len);
                    else
                        cl_reply_main (self, link, payload, len);
                    secret_wipe (payload, len);
                    free (payload);
                }
            }
            break;
        case CHAT__ENVELOPE__KIND_HELLO:
            //  our own Hello came back: with no server listening, TCP on
            //  loopback can connect a socket to itself (same port both
            //  ends). Drop that connection at once, which frees the port
            //  for the server coming back.
            if (link->state == LINK_HELLO) {
                link->backoff = BACKOFF_MIN_MS;
                cl_link_reset (self, link, CHATCLIENT_ERR_CONNECTION,
                               "connected to itself; the server is not up yet");
                cl_link_disconnect (link);
            }
            break;
        default:
            break;
    }
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) env, NULL);
}

int
cl_link_init (chatclient_t *self, link_t *link, chatclient_server_t role,
              const char *endpoint, const char *pin_name, const char *pin)
{
    link->client = self;
    link->role = role;
    link->role_name = role == CHATCLIENT_KEYSERVER ? "keyserver" : "mainserver";
    link->endpoint = strdup (endpoint);
    link->pin_name = strdup (pin_name ? pin_name : endpoint);
    link->pin = cl_strdup (pin);
    link->backoff = BACKOFF_MIN_MS;
    link->sock = zsock_new (ZMQ_DEALER);
    if (!link->sock)
        return -1;
    zsock_set_linger (link->sock, 0);
    zsock_set_maxmsgsize (link->sock, WIRE_MAX_FRAME);
    zsock_set_sndhwm (link->sock, 10000);
    return 0;
}

void
cl_link_destroy (link_t *link)
{
    channel_destroy (&link->channel);
    zsock_destroy (&link->sock);
    free (link->endpoint);
    free (link->pin_name);
    free (link->pin);
    free (link->fingerprint);
}

void
cl_link_read (chatclient_t *self, link_t *link)
{
    while (zsock_events (link->sock) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (link->sock);
        if (!msg)
            break;
        zframe_t *frame = zmsg_first (msg);
        if (frame && zmsg_size (msg) == 1)
            s_link_frame (self, link, zframe_data (frame), zframe_size (frame));
        zmsg_destroy (&msg);
    }
}

void
cl_link_tick (chatclient_t *self, link_t *link, int64_t now)
{
    if (link->state == LINK_DOWN && now >= link->retry_at)
        cl_link_attempt (self, link);
    else
    if (link->state == LINK_HELLO && now >= link->deadline) {
        char *why = cl_format ("no answer from %s", link->endpoint);
        cl_link_reset (self, link, CHATCLIENT_ERR_TIMEOUT, why);
        free (why);
    }
}

int64_t
cl_link_due (link_t *link, int64_t due)
{
    if (link->state == LINK_DOWN && link->retry_at < due)
        due = link->retry_at;
    if (link->state == LINK_HELLO && link->deadline < due)
        due = link->deadline;
    return due;
}
