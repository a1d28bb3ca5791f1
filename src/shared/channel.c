/*  channel - the secure channel of DESIGN.md section 3, both sides

    The handshake gives both sides one 32-byte channel key. It is never used
    as is: three Fernet keys are derived from it, one per direction, so that
    a frame captured in one direction is meaningless in the other.
*/
#include "channel.h"
#include "chaterror.h"
#include "fernet.h"
#include "secret.h"
#include <assert.h>
#include <stdio.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

//  Accepted sequence numbers, per receiving direction. high is the newest
//  accepted; bit i of seen says high - i was accepted too. Only numbers
//  above high are taken; seen just tells a replay from a reordering.
typedef struct {
    uint64_t high;
    uint64_t seen;
} seqwindow_t;

struct _channel_t {
    bool server;                         //  which side we are
    bool open;                           //  handshake completed
    rsakey_t *client_key;                //  client side only, borrowed
    uint8_t client_nonce [CHANNEL_NONCE_SIZE];
    uint8_t send_key [FERNET_KEY_SIZE];  //  c2s on the client, s2c on the server
    uint8_t recv_key [FERNET_KEY_SIZE];
    uint8_t push_key [FERNET_KEY_SIZE];
    //  The three keys made ready once, for every token of the session
    fernet_key_t *send_ready;
    fernet_key_t *recv_ready;
    fernet_key_t *push_ready;
    uint8_t session_id [CHANNEL_SESSION_ID_SIZE];
    uint8_t session_token [CHANNEL_SESSION_TOKEN_SIZE];
    uint8_t peer_fingerprint [RSAKEY_FINGERPRINT_SIZE];
    char peer_fingerprint_text [64];
    uint64_t send_seq;                   //  last number sealed (requests/replies)
    uint64_t push_seq;                   //  last push sealed (server)
    seqwindow_t recv_window;
    seqwindow_t push_window;             //  pushes received (client)
    int64_t clock_offset;                //  tests only
    char expected_role [CHANNEL_ROLE_MAX + 1];   //  client: "" = any
    char peer_role [CHANNEL_ROLE_MAX + 1];
    char peer_push [CHANNEL_ENDPOINT_MAX + 1];
    uint8_t *peer_rotation;              //  serialized KeyRotation, or NULL
    size_t peer_rotation_len;
};

static int64_t
s_now (channel_t *self)
{
    return wire_now () + self->clock_offset;
}

//  The three direction keys from the channel key; the secret is wiped here.
static int
s_derive_keys (channel_t *self, uint8_t channel_key [CHANNEL_KEY_SIZE])
{
    uint8_t c2s [FERNET_KEY_SIZE], s2c [FERNET_KEY_SIZE];
    int rc = secret_hkdf (channel_key, CHANNEL_KEY_SIZE, "chat/2 c2s", c2s, sizeof c2s)
          || secret_hkdf (channel_key, CHANNEL_KEY_SIZE, "chat/2 s2c", s2c, sizeof s2c)
          || secret_hkdf (channel_key, CHANNEL_KEY_SIZE, "chat/2 push",
                          self->push_key, sizeof self->push_key);
    if (rc == 0) {
        memcpy (self->send_key, self->server ? s2c : c2s, FERNET_KEY_SIZE);
        memcpy (self->recv_key, self->server ? c2s : s2c, FERNET_KEY_SIZE);
        fernet_key_destroy (&self->send_ready);
        fernet_key_destroy (&self->recv_ready);
        fernet_key_destroy (&self->push_ready);
        self->send_ready = fernet_key_new (self->send_key);
        self->recv_ready = fernet_key_new (self->recv_key);
        self->push_ready = fernet_key_new (self->push_key);
        if (!self->send_ready || !self->recv_ready || !self->push_ready)
            rc = -1;
    }
    secret_wipe (c2s, sizeof c2s);
    secret_wipe (s2c, sizeof s2c);
    secret_wipe (channel_key, CHANNEL_KEY_SIZE);
    return rc == 0 ? CHAT_OK : CHAT_ERR_INTERNAL;
}

//  What the server signs: label || 0 || SHA256(client DER) || client nonce
//  || server nonce || session id || SHA256(ciphertext) || SHA256(info).
//  Binding the client's key and nonce makes a Welcome useless to anyone but
//  the client that asked; hashing the variable parts gives every piece a
//  fixed place, so no two Welcomes sign the same bytes.
#define TRANSCRIPT_SIZE (sizeof CHANNEL_LABEL + 32 + 2 * CHANNEL_NONCE_SIZE \
                         + CHANNEL_SESSION_ID_SIZE + 32 + 32)

static int
s_transcript (const uint8_t *client_der, size_t client_der_len,
              const uint8_t *client_nonce, const uint8_t *server_nonce,
              const uint8_t *session_id, const uint8_t *ciphertext,
              size_t ciphertext_len, const uint8_t *info, size_t info_len,
              uint8_t out [TRANSCRIPT_SIZE])
{
    uint8_t *p = out;
    memcpy (p, CHANNEL_LABEL, sizeof CHANNEL_LABEL);   p += sizeof CHANNEL_LABEL;
    if (!EVP_Digest (client_der, client_der_len, p, NULL, EVP_sha256 (), NULL))
        return CHAT_ERR_INTERNAL;
    p += 32;
    memcpy (p, client_nonce, CHANNEL_NONCE_SIZE);      p += CHANNEL_NONCE_SIZE;
    memcpy (p, server_nonce, CHANNEL_NONCE_SIZE);      p += CHANNEL_NONCE_SIZE;
    memcpy (p, session_id, CHANNEL_SESSION_ID_SIZE);   p += CHANNEL_SESSION_ID_SIZE;
    if (!EVP_Digest (ciphertext, ciphertext_len, p, NULL, EVP_sha256 (), NULL))
        return CHAT_ERR_INTERNAL;
    p += 32;
    if (!EVP_Digest (info_len ? info : (const uint8_t *) "", info_len, p, NULL,
                     EVP_sha256 (), NULL))
        return CHAT_ERR_INTERNAL;
    assert (p + 32 == out + TRANSCRIPT_SIZE);
    return CHAT_OK;
}

//  Forget what a Welcome said about its server: a refused Welcome leaves
//  nothing behind for the next one (or for channel_peer_*) to find
static void
s_clear_info (channel_t *self)
{
    self->peer_role [0] = 0;
    self->peer_push [0] = 0;
    free (self->peer_rotation);
    self->peer_rotation = NULL;
    self->peer_rotation_len = 0;
}

//  Take in what the server says about itself (already under its signature)
static int
s_client_take_info (channel_t *self, ProtobufCBinaryData info)
{
    Chat__WelcomeInfo *parsed = NULL;
    if (wire_unpack (&chat__welcome_info__descriptor, info.data, info.len,
                     (ProtobufCMessage **) &parsed) != CHAT_OK)
        return CHAT_ERR_MALFORMED;
    int rc = CHAT_OK;
    if (strlen (parsed->role) > CHANNEL_ROLE_MAX
    ||  strlen (parsed->push_endpoint) > CHANNEL_ENDPOINT_MAX)
        rc = CHAT_ERR_MALFORMED;
    else
    if (*self->expected_role && strcmp (parsed->role, self->expected_role) != 0)
        rc = CHAT_ERR_WRONG_ROLE;
    if (rc == CHAT_OK) {
        strcpy (self->peer_role, parsed->role);
        strcpy (self->peer_push, parsed->push_endpoint);
        if (parsed->rotation) {
            rc = wire_pack (&parsed->rotation->base, &self->peer_rotation,
                            &self->peer_rotation_len);
        }
    }
    protobuf_c_message_free_unpacked (&parsed->base, NULL);
    return rc;
}

static void
s_set_peer (channel_t *self, rsakey_t *peer)
{
    memcpy (self->peer_fingerprint, rsakey_fingerprint (peer), RSAKEY_FINGERPRINT_SIZE);
    snprintf (self->peer_fingerprint_text, sizeof self->peer_fingerprint_text,
              "%s", rsakey_fingerprint_text (peer));
}

static channel_t *
s_new (bool server)
{
    channel_t *self = calloc (1, sizeof *self);
    if (self)
        self->server = server;
    return self;
}

//  ---------------------------------------------------------------- client

channel_t *
channel_client_new (rsakey_t *client_key)
{
    assert (client_key && rsakey_has_private (client_key));
    channel_t *self = s_new (false);
    if (!self)
        return NULL;
    self->client_key = client_key;
    if (secret_random (self->client_nonce, sizeof self->client_nonce)) {
        free (self);
        return NULL;
    }
    return self;
}

int
channel_client_hello (channel_t *self, uint8_t **frame, size_t *size)
{
    assert (self && !self->server);
    size_t der_len;
    const uint8_t *der = rsakey_der (self->client_key, &der_len);
    Chat__Hello hello = CHAT__HELLO__INIT;
    hello.version = CHANNEL_VERSION;
    hello.client_public_key.data = (uint8_t *) der;
    hello.client_public_key.len = der_len;
    hello.client_nonce.data = self->client_nonce;
    hello.client_nonce.len = CHANNEL_NONCE_SIZE;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_HELLO;
    env.hello = &hello;
    return wire_pack (&env.base, frame, size);
}

static int
s_client_check_welcome (channel_t *self, const Chat__Welcome *welcome)
{
    if (welcome->version != CHANNEL_VERSION)
        return CHAT_ERR_BAD_VERSION;
    if (welcome->server_nonce.len != CHANNEL_NONCE_SIZE
    ||  welcome->session_id.len != CHANNEL_SESSION_ID_SIZE
    ||  welcome->ciphertext.len == 0
    ||  welcome->signature.len == 0)
        return CHAT_ERR_MALFORMED;

    rsakey_t *server_key = rsakey_from_der (welcome->server_public_key.data,
                                            welcome->server_public_key.len);
    if (!server_key)
        return CHAT_ERR_BAD_KEY;

    size_t der_len;
    const uint8_t *der = rsakey_der (self->client_key, &der_len);
    uint8_t transcript [TRANSCRIPT_SIZE];
    int rc = s_transcript (der, der_len, self->client_nonce,
                           welcome->server_nonce.data, welcome->session_id.data,
                           welcome->ciphertext.data, welcome->ciphertext.len,
                           welcome->info.data, welcome->info.len, transcript);
    if (rc == CHAT_OK)
        rc = rsakey_verify (server_key, transcript, sizeof transcript,
                            welcome->signature.data, welcome->signature.len);
    if (rc == CHAT_OK)
        rc = s_client_take_info (self, welcome->info);

    uint8_t *secrets = NULL;
    size_t secrets_len = 0;
    if (rc == CHAT_OK)
        rc = rsakey_decrypt (self->client_key, welcome->ciphertext.data,
                             welcome->ciphertext.len, &secrets, &secrets_len);
    if (rc == CHAT_OK && secrets_len != CHANNEL_KEY_SIZE + CHANNEL_SESSION_TOKEN_SIZE)
        rc = CHAT_ERR_MALFORMED;
    if (rc == CHAT_OK) {
        memcpy (self->session_token, secrets + CHANNEL_KEY_SIZE, CHANNEL_SESSION_TOKEN_SIZE);
        memcpy (self->session_id, welcome->session_id.data, CHANNEL_SESSION_ID_SIZE);
        s_set_peer (self, server_key);
        rc = s_derive_keys (self, secrets);     //  wipes the channel key
    }
    if (secrets) {
        secret_wipe (secrets, secrets_len);
        free (secrets);
    }
    rsakey_destroy (&server_key);
    if (rc != CHAT_OK)
        s_clear_info (self);
    return rc;
}

int
channel_client_accept (channel_t *self, const uint8_t *frame, size_t size)
{
    assert (self && !self->server);
    if (self->open)
        return CHAT_ERR_OUT_OF_ORDER;
    Chat__Envelope *env;
    int rc = wire_envelope_unpack (frame, size, &env);
    if (rc != CHAT_OK)
        return rc;
    if (env->kind_case == CHAT__ENVELOPE__KIND_ERROR)
        rc = (int) env->error->code != CHAT_OK ? (int) env->error->code : CHAT_ERR_MALFORMED;
    else
    if (env->kind_case != CHAT__ENVELOPE__KIND_WELCOME)
        rc = CHAT_ERR_MALFORMED;
    else
        rc = s_client_check_welcome (self, env->welcome);
    chat__envelope__free_unpacked (env, NULL);
    if (rc == CHAT_OK)
        self->open = true;
    return rc;
}

//  ---------------------------------------------------------------- server

//  Makes the Welcome; on success *channel holds the open channel.
static int
s_server_welcome (rsakey_t *server_key, const uint8_t *info, size_t info_len,
                  rsakey_t *client_key, const Chat__Hello *hello, channel_t *self,
                  uint8_t **welcome_frame, size_t *size)
{
    uint8_t secrets [CHANNEL_KEY_SIZE + CHANNEL_SESSION_TOKEN_SIZE];
    uint8_t server_nonce [CHANNEL_NONCE_SIZE];
    if (secret_random (secrets, sizeof secrets)
    ||  secret_random (server_nonce, sizeof server_nonce)
    ||  secret_random (self->session_id, sizeof self->session_id))
        return CHAT_ERR_INTERNAL;
    memcpy (self->session_token, secrets + CHANNEL_KEY_SIZE, CHANNEL_SESSION_TOKEN_SIZE);

    uint8_t *ciphertext = NULL, *signature = NULL;
    size_t ciphertext_len = 0, signature_len = 0;
    uint8_t transcript [TRANSCRIPT_SIZE];
    int rc = rsakey_encrypt (client_key, secrets, sizeof secrets,
                             &ciphertext, &ciphertext_len);
    if (rc == CHAT_OK)
        rc = s_transcript (hello->client_public_key.data, hello->client_public_key.len,
                           hello->client_nonce.data, server_nonce, self->session_id,
                           ciphertext, ciphertext_len, info, info_len, transcript);
    if (rc == CHAT_OK)
        rc = rsakey_sign (server_key, transcript, sizeof transcript,
                          &signature, &signature_len);
    if (rc == CHAT_OK) {
        size_t der_len;
        const uint8_t *der = rsakey_der (server_key, &der_len);
        Chat__Welcome welcome = CHAT__WELCOME__INIT;
        welcome.version = CHANNEL_VERSION;
        welcome.server_public_key.data = (uint8_t *) der;
        welcome.server_public_key.len = der_len;
        welcome.server_nonce.data = server_nonce;
        welcome.server_nonce.len = sizeof server_nonce;
        welcome.session_id.data = self->session_id;
        welcome.session_id.len = sizeof self->session_id;
        welcome.ciphertext.data = ciphertext;
        welcome.ciphertext.len = ciphertext_len;
        welcome.signature.data = signature;
        welcome.signature.len = signature_len;
        welcome.info.data = (uint8_t *) info;
        welcome.info.len = info_len;
        Chat__Envelope env = CHAT__ENVELOPE__INIT;
        env.kind_case = CHAT__ENVELOPE__KIND_WELCOME;
        env.welcome = &welcome;
        rc = wire_pack (&env.base, welcome_frame, size);
    }
    if (rc == CHAT_OK)
        rc = s_derive_keys (self, secrets);     //  wipes the channel key
    secret_wipe (secrets, sizeof secrets);
    free (ciphertext);
    free (signature);
    return rc;
}

int
channel_server_accept (rsakey_t *server_key, const uint8_t *info, size_t info_len,
                       const Chat__Hello *hello,
                       channel_t **channel, uint8_t **welcome, size_t *size)
{
    assert (server_key && rsakey_has_private (server_key));
    *channel = NULL;
    if (!hello)
        return CHAT_ERR_MALFORMED;
    if (hello->version != CHANNEL_VERSION)
        return CHAT_ERR_BAD_VERSION;
    if (hello->client_nonce.len != CHANNEL_NONCE_SIZE)
        return CHAT_ERR_MALFORMED;
    rsakey_t *client_key = rsakey_from_der (hello->client_public_key.data,
                                            hello->client_public_key.len);
    if (!client_key)
        return CHAT_ERR_BAD_KEY;

    channel_t *self = s_new (true);
    int rc = self ? CHAT_OK : CHAT_ERR_INTERNAL;
    if (rc == CHAT_OK) {
        s_set_peer (self, client_key);
        rc = s_server_welcome (server_key, info, info_len, client_key, hello,
                               self, welcome, size);
    }
    rsakey_destroy (&client_key);
    if (rc != CHAT_OK) {
        channel_destroy (&self);
        return rc;
    }
    self->open = true;
    *channel = self;
    return CHAT_OK;
}

//  ---------------------------------------------------------------- both

void
channel_destroy (channel_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->peer_rotation);
        fernet_key_destroy (&(*self_p)->send_ready);
        fernet_key_destroy (&(*self_p)->recv_ready);
        fernet_key_destroy (&(*self_p)->push_ready);
        secret_wipe (*self_p, sizeof **self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

bool
channel_is_open (channel_t *self)
{
    return self && self->open;
}

//  Fernet token over ChannelBody{seq, payload}, stamped now.
static int
s_seal_body_at (fernet_key_t *key, uint64_t seq,
                const uint8_t *payload, size_t len, int64_t now, char **token)
{
    Chat__ChannelBody body = CHAT__CHANNEL_BODY__INIT;
    body.seq = seq;
    body.payload.data = (uint8_t *) payload;
    body.payload.len = len;
    uint8_t *plain;
    size_t plain_len;
    int rc = wire_pack (&body.base, &plain, &plain_len);
    if (rc != CHAT_OK)
        return rc;
    rc = fernet_key_encrypt (key, plain, plain_len, now, token);
    secret_wipe (plain, plain_len);
    free (plain);
    return rc;
}

static int
s_seal_body (channel_t *self, fernet_key_t *key, uint64_t seq,
             const uint8_t *payload, size_t len, char **token)
{
    return s_seal_body_at (key, seq, payload, len, s_now (self), token);
}

static int
s_window_check (const seqwindow_t *window, uint64_t seq)
{
    if (seq == 0)
        return CHAT_ERR_MALFORMED;
    if (seq > window->high)
        return CHAT_OK;
    uint64_t age = window->high - seq;
    if (age >= 64 || (window->seen >> age) & 1)
        return CHAT_ERR_REPLAYED;
    return CHAT_ERR_REORDERED;
}

static void
s_window_accept (seqwindow_t *window, uint64_t seq)
{
    uint64_t shift = seq - window->high;
    window->seen = shift >= 64 ? 0 : window->seen << shift;
    window->seen |= 1;
    window->high = seq;
}

static int
s_open_body (channel_t *self, fernet_key_t *key,
             seqwindow_t *window, const char *token, size_t token_len,
             uint8_t **payload, size_t *len)
{
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int rc = fernet_key_decrypt (key, token, token_len, CHANNEL_TTL, s_now (self),
                                 &plain, &plain_len);
    if (rc != CHAT_OK)
        return rc;
    Chat__ChannelBody *body = NULL;
    rc = wire_unpack (&chat__channel_body__descriptor, plain, plain_len,
                      (ProtobufCMessage **) &body);
    if (rc == CHAT_OK)
        rc = s_window_check (window, body->seq);
    if (rc == CHAT_OK) {
        *payload = malloc (body->payload.len ? body->payload.len : 1);
        if (!*payload)
            rc = CHAT_ERR_INTERNAL;
    }
    if (rc == CHAT_OK) {
        if (body->payload.len)      //  an empty payload has data NULL
            memcpy (*payload, body->payload.data, body->payload.len);
        *len = body->payload.len;
        s_window_accept (window, body->seq);
    }
    if (body) {
        secret_wipe (body->payload.data, body->payload.len);
        chat__channel_body__free_unpacked (body, NULL);
    }
    secret_wipe (plain, plain_len);
    free (plain);
    return rc;
}

int
channel_seal (channel_t *self, const uint8_t *payload, size_t len,
              uint8_t **frame, size_t *size)
{
    assert (self);
    if (!self->open)
        return CHAT_ERR_OUT_OF_ORDER;
    char *token = NULL;
    int rc = s_seal_body (self, self->send_ready, self->send_seq + 1, payload, len, &token);
    if (rc != CHAT_OK)
        return rc;
    Chat__Sealed sealed = CHAT__SEALED__INIT;
    sealed.session_id.data = self->session_id;
    sealed.session_id.len = CHANNEL_SESSION_ID_SIZE;
    sealed.token = token;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_SEALED;
    env.sealed = &sealed;
    rc = wire_pack (&env.base, frame, size);
    free (token);
    if (rc == CHAT_OK)
        self->send_seq++;
    return rc;
}

int
channel_open (channel_t *self, const char *token, size_t token_len,
              uint8_t **payload, size_t *len)
{
    assert (self);
    if (!self->open)
        return CHAT_ERR_OUT_OF_ORDER;
    return s_open_body (self, self->recv_ready, &self->recv_window,
                        token, token_len, payload, len);
}

//  A varint of 64 bits takes at most 10 bytes; a field's tag here, 1
#define VARINT_MAX 10
//  Plaintext and token text sealed on the stack up to these sizes
#define PUSH_STACK_PLAIN 2048
#define PUSH_STACK_TEXT  4096

size_t
channel_push_frame_max (size_t len)
{
    size_t body = (1 + VARINT_MAX) + (1 + VARINT_MAX + len);
    size_t token = fernet_token_length (body);
    return (1 + VARINT_MAX + CHANNEL_SESSION_ID_SIZE) + (1 + VARINT_MAX + token);
}

int
channel_seal_push_into (fernet_key_t *key, uint64_t seq,
                        const uint8_t session_id [CHANNEL_SESSION_ID_SIZE],
                        const uint8_t *payload, size_t len, int64_t now,
                        uint8_t *frame, size_t capacity, size_t *size)
{
    assert (key && frame && size);
    Chat__ChannelBody body = CHAT__CHANNEL_BODY__INIT;
    body.seq = seq;
    body.payload.data = (uint8_t *) payload;
    body.payload.len = len;
    size_t plain_len = protobuf_c_message_get_packed_size (&body.base);
    size_t text_size = fernet_token_length (plain_len) + 1;
    uint8_t plain_stack [PUSH_STACK_PLAIN];
    char text_stack [PUSH_STACK_TEXT];
    uint8_t *plain = plain_len <= sizeof plain_stack? plain_stack: malloc (plain_len);
    char *text = text_size <= sizeof text_stack? text_stack: malloc (text_size);
    int rc = CHAT_ERR_INTERNAL;
    if (plain && text
    &&  protobuf_c_message_pack (&body.base, plain) == plain_len
    &&  (rc = fernet_key_encrypt_into (key, plain, plain_len, now, text, text_size))
        == CHAT_OK) {
        Chat__PushFrame push = CHAT__PUSH_FRAME__INIT;
        push.session_id.data = (uint8_t *) session_id;
        push.session_id.len = CHANNEL_SESSION_ID_SIZE;
        push.token = text;
        *size = protobuf_c_message_get_packed_size (&push.base);
        if (*size > capacity)
            rc = CHAT_ERR_INTERNAL;     //  capacity below channel_push_frame_max
        else
        if (protobuf_c_message_pack (&push.base, frame) != *size)
            rc = CHAT_ERR_INTERNAL;
    }
    if (plain)
        secret_wipe (plain, plain_len);
    if (plain != plain_stack)
        free (plain);
    if (text != text_stack)
        free (text);
    return rc;
}

int
channel_seal_push_ready (fernet_key_t *key, uint64_t seq,
                         const uint8_t session_id [CHANNEL_SESSION_ID_SIZE],
                         const uint8_t *payload, size_t len, int64_t now,
                         uint8_t **frame, size_t *size)
{
    assert (key);
    size_t capacity = channel_push_frame_max (len);
    uint8_t *buffer = (uint8_t *) malloc (capacity);
    if (!buffer)
        return CHAT_ERR_INTERNAL;
    int rc = channel_seal_push_into (key, seq, session_id, payload, len, now,
                                     buffer, capacity, size);
    if (rc == CHAT_OK)
        *frame = buffer;
    else
        free (buffer);
    return rc;
}

int
channel_seal_push_as (const uint8_t key [FERNET_KEY_SIZE], uint64_t seq,
                      const uint8_t session_id [CHANNEL_SESSION_ID_SIZE],
                      const uint8_t *payload, size_t len, int64_t now,
                      uint8_t **frame, size_t *size)
{
    fernet_key_t *ready = fernet_key_new (key);
    if (!ready)
        return CHAT_ERR_INTERNAL;
    int rc = channel_seal_push_ready (ready, seq, session_id, payload, len, now,
                                      frame, size);
    fernet_key_destroy (&ready);
    return rc;
}

uint64_t
channel_push_reserve (channel_t *self, uint8_t key [FERNET_KEY_SIZE])
{
    assert (self && self->server && self->open);
    memcpy (key, self->push_key, FERNET_KEY_SIZE);
    return ++self->push_seq;
}

int
channel_seal_push (channel_t *self, const uint8_t *payload, size_t len,
                   uint8_t **frame, size_t *size)
{
    assert (self && self->server);
    if (!self->open)
        return CHAT_ERR_OUT_OF_ORDER;
    int rc = channel_seal_push_ready (self->push_ready, self->push_seq + 1,
                                      self->session_id, payload, len, s_now (self),
                                      frame, size);
    if (rc == CHAT_OK)
        self->push_seq++;
    return rc;
}

int
channel_open_push (channel_t *self, const uint8_t *frame, size_t size,
                   uint8_t **payload, size_t *len)
{
    assert (self && !self->server);
    if (!self->open)
        return CHAT_ERR_OUT_OF_ORDER;
    Chat__PushFrame *push = NULL;
    int rc = wire_unpack (&chat__push_frame__descriptor, frame, size,
                          (ProtobufCMessage **) &push);
    if (rc != CHAT_OK)
        return rc;
    if (push->session_id.len != CHANNEL_SESSION_ID_SIZE
    ||  memcmp (push->session_id.data, self->session_id, CHANNEL_SESSION_ID_SIZE) != 0)
        rc = CHAT_ERR_UNKNOWN_SESSION;
    else
        rc = s_open_body (self, self->push_ready, &self->push_window,
                          push->token, strlen (push->token), payload, len);
    chat__push_frame__free_unpacked (push, NULL);
    return rc;
}

const uint8_t *
channel_session_id (channel_t *self)
{
    assert (self);
    return self->session_id;
}

const uint8_t *
channel_session_token (channel_t *self)
{
    assert (self);
    return self->session_token;
}

const uint8_t *
channel_peer_fingerprint (channel_t *self)
{
    assert (self);
    return self->peer_fingerprint;
}

const char *
channel_peer_fingerprint_text (channel_t *self)
{
    assert (self);
    return self->peer_fingerprint_text;
}

void
channel_set_clock_offset (channel_t *self, int64_t seconds)
{
    assert (self);
    self->clock_offset = seconds;
}

//  ---------------------------------------------------------------- welcome info

int
channel_client_expect_role (channel_t *self, const char *role)
{
    assert (self && !self->server);
    if (!role || strlen (role) > CHANNEL_ROLE_MAX)
        return CHAT_ERR_BAD_REQUEST;
    strcpy (self->expected_role, role);
    return CHAT_OK;
}

const char *
channel_peer_role (channel_t *self)
{
    assert (self);
    return self->peer_role;
}

const char *
channel_peer_push_endpoint (channel_t *self)
{
    assert (self);
    return self->peer_push;
}

const uint8_t *
channel_peer_rotation (channel_t *self, size_t *len)
{
    assert (self && len);
    *len = self->peer_rotation_len;
    return self->peer_rotation;
}

int
channel_welcome_info (const char *role, const char *push_endpoint,
                      const uint8_t *rotation, size_t rotation_len,
                      uint8_t **info, size_t *info_len)
{
    assert (role && info && info_len);
    *info = NULL;
    *info_len = 0;
    if (strlen (role) > CHANNEL_ROLE_MAX
    ||  (push_endpoint && strlen (push_endpoint) > CHANNEL_ENDPOINT_MAX))
        return CHAT_ERR_BAD_REQUEST;
    Chat__KeyRotation *parsed = NULL;
    if (rotation_len
    &&  wire_unpack (&chat__key_rotation__descriptor, rotation, rotation_len,
                     (ProtobufCMessage **) &parsed) != CHAT_OK)
        return CHAT_ERR_BAD_REQUEST;
    Chat__WelcomeInfo out = CHAT__WELCOME_INFO__INIT;
    out.role = (char *) role;
    out.push_endpoint = (char *) (push_endpoint ? push_endpoint : "");
    out.rotation = parsed;
    int rc = wire_pack (&out.base, info, info_len);
    if (parsed)
        protobuf_c_message_free_unpacked (&parsed->base, NULL);
    return rc;
}
