/*  rawclient - many light main-server sessions; see rawclient.h  */
#include <string.h>
#include <czmq.h>
#include "chain.h"
#include "chaterror.h"
#include "epochkey.h"
#include "rawclient.h"
#include "secret.h"

#define RAW_HWM 200000              //  never drop on our side
#define RAW_DRAIN 512               //  messages per socket per poll turn

typedef struct {
    zsock_t *dealer;
    zsock_t *sub;
    zlistx_t *pending;              //  channel_t * waiting for a Welcome, FIFO
} rawsock_t;

typedef enum {
    MODE_NONE,
    MODE_OPEN,                      //  Welcomes become sessions
    MODE_RATE                       //  Welcomes are counted
} mode_t_;

struct _rawpool_t {
    rsakey_t *key;
    rawsock_t *socks;
    size_t nsocks;
    rawsess_t **sessions;
    size_t count;
    size_t cap;
    zhashx_t *by_id;                //  session id hex -> rawsess_t
    zhashx_t *by_token;             //  session token hex -> rawsess_t
    zmq_pollitem_t *items;
    size_t nitems;
    rawpool_reply_fn *reply_fn;
    rawpool_push_fn *push_fn;
    void *arg;
    size_t errors;
    size_t bad_pushes;
    mode_t_ mode;
    size_t hs_welcomes;             //  Welcomes taken in this run
    size_t hs_failed;
    size_t hs_verify_every;
};

static void
s_hex (const uint8_t *bytes, size_t len, char *out)
{
    static const char digits [] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out [2 * i] = digits [bytes [i] >> 4];
        out [2 * i + 1] = digits [bytes [i] & 15];
    }
    out [2 * len] = 0;
}

static void
s_channel_destructor (void **item)
{
    channel_destroy ((channel_t **) item);
}

rawpool_t *
rawpool_new (const char *endpoint, const char *push_endpoint,
             rsakey_t *client_key, size_t sockets)
{
    assert (endpoint && client_key && sockets > 0);
    rawpool_t *self = (rawpool_t *) zmalloc (sizeof *self);
    self->key = client_key;
    self->nsocks = sockets;
    self->socks = (rawsock_t *) zmalloc (sockets * sizeof (rawsock_t));
    self->items = (zmq_pollitem_t *) zmalloc (2 * sockets * sizeof (zmq_pollitem_t));
    self->by_id = zhashx_new ();
    self->by_token = zhashx_new ();
    for (size_t i = 0; i < sockets; i++) {
        rawsock_t *sock = &self->socks [i];
        sock->dealer = zsock_new (ZMQ_DEALER);
        assert (sock->dealer);
        zsock_set_sndhwm (sock->dealer, RAW_HWM);
        zsock_set_rcvhwm (sock->dealer, RAW_HWM);
        zsock_set_linger (sock->dealer, 0);
        if (zsock_connect (sock->dealer, "%s", endpoint) != 0) {
            rawpool_destroy (&self);
            return NULL;
        }
        sock->pending = zlistx_new ();
        zlistx_set_destructor (sock->pending, s_channel_destructor);
        self->items [self->nitems].socket = zsock_resolve (sock->dealer);
        self->items [self->nitems].events = ZMQ_POLLIN;
        self->nitems++;
        if (push_endpoint) {
            sock->sub = zsock_new (ZMQ_SUB);
            assert (sock->sub);
            zsock_set_rcvhwm (sock->sub, RAW_HWM);
            zsock_set_linger (sock->sub, 0);
            if (zsock_connect (sock->sub, "%s", push_endpoint) != 0) {
                rawpool_destroy (&self);
                return NULL;
            }
            self->items [self->nitems].socket = zsock_resolve (sock->sub);
            self->items [self->nitems].events = ZMQ_POLLIN;
            self->nitems++;
        }
    }
    return self;
}

void
rawpool_destroy (rawpool_t **self_p)
{
    assert (self_p);
    rawpool_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        rawsess_t *sess = self->sessions [i];
        channel_destroy (&sess->channel);
        free (sess->username);
        free (sess);
    }
    free (self->sessions);
    for (size_t i = 0; i < self->nsocks; i++) {
        zsock_destroy (&self->socks [i].dealer);
        zsock_destroy (&self->socks [i].sub);
        zlistx_destroy (&self->socks [i].pending);
    }
    free (self->socks);
    free (self->items);
    zhashx_destroy (&self->by_id);
    zhashx_destroy (&self->by_token);
    free (self);
    *self_p = NULL;
}

void
rawpool_set_handlers (rawpool_t *self, rawpool_reply_fn *reply_fn,
                      rawpool_push_fn *push_fn, void *arg)
{
    self->reply_fn = reply_fn;
    self->push_fn = push_fn;
    self->arg = arg;
}

size_t
rawpool_size (rawpool_t *self)
{
    return self->count;
}

rawsess_t *
rawpool_session (rawpool_t *self, size_t index)
{
    return index < self->count? self->sessions [index]: NULL;
}

size_t
rawpool_errors (rawpool_t *self)
{
    return self->errors;
}

size_t
rawpool_bad_pushes (rawpool_t *self)
{
    return self->bad_pushes;
}

//  A channel whose Welcome arrived and was accepted: keep it as a session.
static void
s_session_add (rawpool_t *self, channel_t *channel, size_t socket)
{
    rawsess_t *sess = (rawsess_t *) zmalloc (sizeof *sess);
    sess->channel = channel;
    sess->index = self->count;
    sess->socket = socket;
    if (self->count == self->cap) {
        self->cap = self->cap? self->cap * 2: 256;
        self->sessions = (rawsess_t **) realloc (self->sessions,
                                                 self->cap * sizeof (rawsess_t *));
        assert (self->sessions);
    }
    self->sessions [self->count++] = sess;
    char hex [CHANNEL_SESSION_ID_SIZE * 2 + 1];
    s_hex (channel_session_id (channel), CHANNEL_SESSION_ID_SIZE, hex);
    zhashx_insert (self->by_id, hex, sess);
    s_hex (channel_session_token (channel), CHANNEL_SESSION_TOKEN_SIZE, hex);
    zhashx_insert (self->by_token, hex, sess);
    zsock_t *sub = self->socks [socket].sub;
    if (sub)
        zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE,
                        channel_session_token (channel), CHANNEL_SESSION_TOKEN_SIZE);
}

//  The oldest Hello on this socket got its answer.
static void
s_handshake_answer (rawpool_t *self, size_t socket, const uint8_t *data, size_t size,
                    Chat__Envelope *env)
{
    rawsock_t *sock = &self->socks [socket];
    channel_t *channel = (channel_t *) zlistx_first (sock->pending);
    assert (channel);
    zlistx_detach_cur (sock->pending);
    bool welcome = env->kind_case == CHAT__ENVELOPE__KIND_WELCOME;
    self->hs_welcomes++;
    if (self->mode == MODE_RATE) {
        //  Count it; accept one in hs_verify_every in full, so that a
        //  server sending junk Welcomes cannot look fast
        if (!welcome)
            self->hs_failed++;
        else
        if (self->hs_welcomes % self->hs_verify_every == 0
        &&  channel_client_accept (channel, data, size) != CHAT_OK)
            self->hs_failed++;
        channel_destroy (&channel);
    }
    else {
        if (welcome && channel_client_accept (channel, data, size) == CHAT_OK)
            s_session_add (self, channel, socket);
        else {
            self->hs_failed++;
            self->errors++;
            channel_destroy (&channel);
        }
    }
}

static void
s_handle_dealer (rawpool_t *self, size_t socket, const uint8_t *data, size_t size)
{
    Chat__Envelope *env = NULL;
    if (wire_envelope_unpack (data, size, &env) != CHAT_OK) {
        self->errors++;
        return;
    }
    rawsock_t *sock = &self->socks [socket];
    if ((env->kind_case == CHAT__ENVELOPE__KIND_WELCOME
      || env->kind_case == CHAT__ENVELOPE__KIND_ERROR)
    &&  zlistx_size (sock->pending) > 0)
        s_handshake_answer (self, socket, data, size, env);
    else
    if (env->kind_case == CHAT__ENVELOPE__KIND_SEALED
    &&  env->sealed->session_id.len == CHANNEL_SESSION_ID_SIZE) {
        char hex [CHANNEL_SESSION_ID_SIZE * 2 + 1];
        s_hex (env->sealed->session_id.data, CHANNEL_SESSION_ID_SIZE, hex);
        rawsess_t *sess = (rawsess_t *) zhashx_lookup (self->by_id, hex);
        uint8_t *payload = NULL;
        size_t len = 0;
        const char *token = env->sealed->token;
        if (sess && token
        &&  channel_open (sess->channel, token, strlen (token), &payload, &len) == CHAT_OK) {
            Chat__MainReply *reply = NULL;
            if (wire_unpack (&chat__main_reply__descriptor, payload, len,
                             (ProtobufCMessage **) &reply) == CHAT_OK) {
                if (self->reply_fn)
                    self->reply_fn (self, sess, reply, self->arg);
                chat__main_reply__free_unpacked (reply, NULL);
            }
            else
                self->errors++;
            free (payload);
        }
        else
            self->errors++;
    }
    else
        self->errors++;
    chat__envelope__free_unpacked (env, NULL);
}

static void
s_handle_push (rawpool_t *self, const uint8_t *topic, size_t topic_size,
               const uint8_t *data, size_t size)
{
    if (topic_size != CHANNEL_SESSION_TOKEN_SIZE) {
        self->bad_pushes++;
        return;
    }
    char hex [CHANNEL_SESSION_TOKEN_SIZE * 2 + 1];
    s_hex (topic, CHANNEL_SESSION_TOKEN_SIZE, hex);
    rawsess_t *sess = (rawsess_t *) zhashx_lookup (self->by_token, hex);
    uint8_t *payload = NULL;
    size_t len = 0;
    if (!sess || channel_open_push (sess->channel, data, size, &payload, &len) != CHAT_OK) {
        self->bad_pushes++;
        return;
    }
    Chat__Push *push = NULL;
    if (wire_unpack (&chat__push__descriptor, payload, len,
                     (ProtobufCMessage **) &push) == CHAT_OK) {
        if (self->push_fn)
            self->push_fn (self, sess, push, self->arg);
        chat__push__free_unpacked (push, NULL);
    }
    else
        self->bad_pushes++;
    free (payload);
}

//  Drain one socket (at most RAW_DRAIN messages). Returns messages read.
static int
s_drain (rawpool_t *self, size_t socket, bool is_sub)
{
    rawsock_t *sock = &self->socks [socket];
    void *handle = zsock_resolve (is_sub? sock->sub: sock->dealer);
    int handled = 0;
    zmq_msg_t part1, part2;
    while (handled < RAW_DRAIN) {
        zmq_msg_init (&part1);
        if (zmq_msg_recv (&part1, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part1);
            break;
        }
        handled++;
        if (!is_sub) {
            if (zmq_msg_more (&part1)) {
                //  Multipart on a request socket: not the protocol
                self->errors++;
                while (zmq_msg_more (&part1)) {
                    zmq_msg_close (&part1);
                    zmq_msg_init (&part1);
                    if (zmq_msg_recv (&part1, handle, 0) < 0)
                        break;
                }
            }
            else
                s_handle_dealer (self, socket, (const uint8_t *) zmq_msg_data (&part1),
                                 zmq_msg_size (&part1));
            zmq_msg_close (&part1);
            continue;
        }
        zmq_msg_init (&part2);
        if (!zmq_msg_more (&part1) || zmq_msg_recv (&part2, handle, 0) < 0) {
            self->bad_pushes++;
            zmq_msg_close (&part1);
            zmq_msg_close (&part2);
            continue;
        }
        //  Swallow any further frames (not the protocol)
        bool extra = zmq_msg_more (&part2);
        while (extra) {
            zmq_msg_t more;
            zmq_msg_init (&more);
            if (zmq_msg_recv (&more, handle, 0) < 0)
                extra = false;
            else
                extra = zmq_msg_more (&more);
            zmq_msg_close (&more);
        }
        s_handle_push (self, (const uint8_t *) zmq_msg_data (&part1), zmq_msg_size (&part1),
                       (const uint8_t *) zmq_msg_data (&part2), zmq_msg_size (&part2));
        zmq_msg_close (&part1);
        zmq_msg_close (&part2);
    }
    return handled;
}

int
rawpool_poll (rawpool_t *self, int timeout_ms)
{
    int rc = zmq_poll (self->items, (int) self->nitems, timeout_ms);
    if (rc < 0)
        return zmq_errno () == EINTR && !zsys_interrupted? 0: -1;
    int handled = 0;
    size_t item = 0;
    for (size_t i = 0; i < self->nsocks; i++) {
        if (self->items [item++].revents & ZMQ_POLLIN)
            handled += s_drain (self, i, false);
        if (self->socks [i].sub && (self->items [item++].revents & ZMQ_POLLIN))
            handled += s_drain (self, i, true);
    }
    return handled;
}

//  Send Hellos while under the window on every socket; returns how many.
static size_t
s_send_hellos (rawpool_t *self, size_t *to_send, size_t window)
{
    size_t sent = 0;
    for (size_t i = 0; i < self->nsocks && *to_send > 0; i++) {
        rawsock_t *sock = &self->socks [i];
        while (*to_send > 0 && zlistx_size (sock->pending) < window) {
            channel_t *channel = channel_client_new (self->key);
            uint8_t *frame = NULL;
            size_t size = 0;
            if (!channel || channel_client_hello (channel, &frame, &size) != CHAT_OK) {
                channel_destroy (&channel);
                self->hs_failed++;
                (*to_send)--;
                continue;
            }
            zlistx_add_end (sock->pending, channel);
            if (zmq_send (zsock_resolve (sock->dealer), frame, size, 0) < 0) {
                zlistx_last (sock->pending);
                zlistx_delete (sock->pending, zlistx_cursor (sock->pending));
                self->hs_failed++;
            }
            free (frame);
            (*to_send)--;
            sent++;
        }
    }
    return sent;
}

static size_t
s_handshake_run (rawpool_t *self, mode_t_ mode, size_t count, size_t window,
                 int timeout_ms, void (*progress) (size_t, void *), void *arg)
{
    self->mode = mode;
    self->hs_welcomes = 0;
    self->hs_failed = 0;
    size_t to_send = count;
    int64_t deadline = zclock_mono () + timeout_ms;
    while (self->hs_welcomes + self->hs_failed < count && !zsys_interrupted
       &&  zclock_mono () < deadline) {
        s_send_hellos (self, &to_send, window? window: 1);
        if (rawpool_poll (self, 100) < 0)
            break;
        if (progress)
            progress (self->hs_welcomes, arg);
    }
    //  Hellos never answered stay pending; forget them
    for (size_t i = 0; i < self->nsocks; i++)
        zlistx_purge (self->socks [i].pending);
    self->mode = MODE_NONE;
    return self->hs_welcomes;
}

size_t
rawpool_open (rawpool_t *self, size_t count, size_t window, int timeout_ms,
              void (*progress) (size_t done, void *arg), void *arg)
{
    size_t before = self->count;
    s_handshake_run (self, MODE_OPEN, count, window, timeout_ms, progress, arg);
    return self->count - before;
}

size_t
rawpool_handshakes (rawpool_t *self, size_t count, size_t window,
                    size_t verify_every, int timeout_ms, size_t *failed,
                    void (*progress) (size_t done, void *arg), void *arg)
{
    self->hs_verify_every = verify_every? verify_every: 1;
    size_t welcomes = s_handshake_run (self, MODE_RATE, count, window, timeout_ms,
                                       progress, arg);
    if (failed)
        *failed = self->hs_failed;
    return welcomes;
}

uint64_t
rawsess_request (rawpool_t *self, rawsess_t *sess, Chat__MainRequest *request)
{
    request->request_id = ++sess->last_request;
    uint8_t *payload = NULL, *frame = NULL;
    size_t len = 0, size = 0;
    if (wire_pack (&request->base, &payload, &len) != CHAT_OK)
        return 0;
    int rc = channel_seal (sess->channel, payload, len, &frame, &size);
    free (payload);
    if (rc != CHAT_OK)
        return 0;
    rc = zmq_send (zsock_resolve (self->socks [sess->socket].dealer), frame, size, 0);
    free (frame);
    return rc < 0? 0: request->request_id;
}

uint64_t
rawsess_register (rawpool_t *self, rawsess_t *sess, const uint8_t *certificate, size_t len)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__RegisterUserRequest body = CHAT__REGISTER_USER_REQUEST__INIT;
    body.certificate.data = (uint8_t *) certificate;
    body.certificate.len = len;
    request.body_case = CHAT__MAIN_REQUEST__BODY_REGISTER;
    request.register_ = &body;
    return rawsess_request (self, sess, &request);
}

uint64_t
rawsess_login (rawpool_t *self, rawsess_t *sess, const uint8_t *certificate, size_t len)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__LoginRequest body = CHAT__LOGIN_REQUEST__INIT;
    body.certificate.data = (uint8_t *) certificate;
    body.certificate.len = len;
    request.body_case = CHAT__MAIN_REQUEST__BODY_LOGIN;
    request.login = &body;
    return rawsess_request (self, sess, &request);
}

uint64_t
rawsess_create (rawpool_t *self, rawsess_t *sess, char **others, size_t count,
                rsakey_t *identity)
{
    if (!sess->username || count + 1 > CHAIN_MAX_MEMBERS)
        return 0;
    uint8_t id [16], key [EPOCHKEY_SIZE], check [EPOCHKEY_CHECK_SIZE];
    const char *members [CHAIN_MAX_MEMBERS];
    members [0] = sess->username;
    for (size_t i = 0; i < count; i++)
        members [i + 1] = others [i];
    chain_link_t link;
    if (secret_random (id, sizeof id) || epochkey_generate (key) != CHAT_OK
    ||  epochkey_check_value (key, id, 1, check) != CHAT_OK
    ||  chain_make_create (id, sess->username, members, count + 1, false, NULL, check,
                           identity, wire_now_ms (), &link) != CHAT_OK)
        return 0;
    secret_wipe (key, sizeof key);
    Chat__SignedStatement statement;
    chain_link_view (&link, &statement);
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__CreateConversationRequest body = CHAT__CREATE_CONVERSATION_REQUEST__INIT;
    body.statement = &statement;
    request.body_case = CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION;
    request.create_conversation = &body;
    uint64_t request_id = rawsess_request (self, sess, &request);
    chain_link_free (&link);
    return request_id;
}

uint64_t
rawsess_send (rawpool_t *self, rawsess_t *sess, const uint8_t conversation_id [16],
              const uint8_t client_message_id [16], const char *token)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__SendMessageRequest body = CHAT__SEND_MESSAGE_REQUEST__INIT;
    body.conversation_id.data = (uint8_t *) conversation_id;
    body.conversation_id.len = 16;
    body.client_message_id.data = (uint8_t *) client_message_id;
    body.client_message_id.len = 16;
    body.token = (char *) token;
    body.epoch = 1;
    request.body_case = CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE;
    request.send_message = &body;
    return rawsess_request (self, sess, &request);
}

uint64_t
rawsess_get_messages (rawpool_t *self, rawsess_t *sess,
                      const uint8_t conversation_id [16], uint64_t after_seq,
                      uint32_t limit)
{
    Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
    Chat__GetMessagesRequest body = CHAT__GET_MESSAGES_REQUEST__INIT;
    body.conversation_id.data = (uint8_t *) conversation_id;
    body.conversation_id.len = 16;
    body.after_seq = after_seq;
    body.limit = limit;
    request.body_case = CHAT__MAIN_REQUEST__BODY_GET_MESSAGES;
    request.get_messages = &body;
    return rawsess_request (self, sess, &request);
}
