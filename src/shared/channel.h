/*  channel - the secure channel of DESIGN.md section 3, both sides, as a
    small state machine with no I/O of its own

    Client                              Server
      channel_client_new
      channel_client_hello  -- Hello -->  channel_server_accept
      channel_client_accept <-- Welcome --
      channel_seal / channel_open  <== Sealed ==>  channel_open / channel_seal
                            <== PushFrame ==  channel_seal_push
      channel_open_push

    The 32-byte channel key from the handshake is never used directly: HKDF
    derives one Fernet key per direction ("c2s", "s2c", "push"), so a frame
    cannot be reflected back at its sender. Each direction numbers its
    bodies from 1; a receiver accepts only numbers above the highest it has
    seen (ERR_REPLAYED for one already accepted, ERR_REORDERED for an older
    one never seen), so a refused frame leaves the session usable. Tokens
    older than CHANNEL_TTL seconds are refused (ERR_EXPIRED).
*/
#ifndef CHANNEL_H_INCLUDED
#define CHANNEL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fernet.h"
#include "rsakey.h"
#include "wire.h"

#define CHANNEL_VERSION 2
#define CHANNEL_TTL 60
#define CHANNEL_NONCE_SIZE 32
#define CHANNEL_SESSION_ID_SIZE 16
#define CHANNEL_SESSION_TOKEN_SIZE 16
#define CHANNEL_KEY_SIZE 32
#define CHANNEL_LABEL "chat/2 handshake"
#define CHANNEL_ROLE_MAX 16
#define CHANNEL_ENDPOINT_MAX 255
#define CHANNEL_ROLE_KEYSERVER "keyserver"
#define CHANNEL_ROLE_MAINSERVER "mainserver"

typedef struct _channel_t channel_t;

//  ---------------------------------------------------------------- client

//  A client channel that will use client_key (borrowed: it must outlive the
//  channel; the client makes one ephemeral key and uses it for both servers).
channel_t *
    channel_client_new (rsakey_t *client_key);

//  The Envelope{hello} frame to send. CHAT_OK and a malloc'd frame.
int
    channel_client_hello (channel_t *self, uint8_t **frame, size_t *size);

//  Refuse a Welcome whose signed info names another role than this one
//  (CHANNEL_ROLE_*): a client given the endpoints the wrong way round learns
//  it at once (CHAT_ERR_WRONG_ROLE). Without it any role is taken.
int
    channel_client_expect_role (channel_t *self, const char *role);

//  Take the server's answer: Envelope{welcome} opens the channel (CHAT_OK);
//  a refusal gives its code; otherwise CHAT_ERR_MALFORMED,
//  CHAT_ERR_BAD_VERSION, CHAT_ERR_BAD_KEY, CHAT_ERR_BAD_SIGNATURE or
//  CHAT_ERR_WRONG_ROLE.
//  The caller must check the server's fingerprint against its pin before
//  sending anything sealed.
int
    channel_client_accept (channel_t *self, const uint8_t *frame, size_t size);

//  ---------------------------------------------------------------- server

//  The serialized WelcomeInfo a server hands to channel_server_accept:
//  its role, its push endpoint (main server; NULL: none) and, while its key
//  was recently replaced, the serialized KeyRotation (NULL, 0: none).
//  CHAT_OK and a malloc'd buffer, or CHAT_ERR_BAD_REQUEST.
int
    channel_welcome_info (const char *role, const char *push_endpoint,
                          const uint8_t *rotation, size_t rotation_len,
                          uint8_t **info, size_t *info_len);

//  Answer a Hello with a new open channel and the Envelope{welcome} frame,
//  info (a serialized WelcomeInfo) under the signature.
//  CHAT_OK, or CHAT_ERR_BAD_VERSION / CHAT_ERR_BAD_KEY / CHAT_ERR_MALFORMED /
//  CHAT_ERR_INTERNAL (nothing allocated).
int
    channel_server_accept (rsakey_t *server_key, const uint8_t *info, size_t info_len,
                           const Chat__Hello *hello,
                           channel_t **channel, uint8_t **welcome, size_t *size);

//  ---------------------------------------------------------------- both

void
    channel_destroy (channel_t **self_p);

bool
    channel_is_open (channel_t *self);

//  Seal a payload as an Envelope{sealed} frame (client: c2s; server: s2c).
int
    channel_seal (channel_t *self, const uint8_t *payload, size_t len,
                  uint8_t **frame, size_t *size);

//  Open a sealed token that arrived for this session (client: s2c; server:
//  c2s). CHAT_OK and a malloc'd payload, or CHAT_ERR_MALFORMED,
//  CHAT_ERR_BAD_MAC, CHAT_ERR_EXPIRED, CHAT_ERR_FUTURE, CHAT_ERR_REPLAYED,
//  CHAT_ERR_REORDERED. A refused token changes nothing in the channel.
int
    channel_open (channel_t *self, const char *token, size_t token_len,
                  uint8_t **payload, size_t *len);

//  Server: seal a push as a PushFrame. Client: open one (checks that it
//  names this session, then as channel_open).
int
    channel_seal_push (channel_t *self, const uint8_t *payload, size_t len,
                       uint8_t **frame, size_t *size);
int
    channel_open_push (channel_t *self, const uint8_t *frame, size_t size,
                       uint8_t **payload, size_t *len);

//  Server: sealing a push in two halves, so that the sealing can happen on
//  another thread. reserve takes the session's next push number and copies
//  its push key (a secret: wipe it after use); seal_push_as seals with
//  them and needs no channel. Pushes sealed this way must be sent in the
//  order reserved, or the client refuses the late ones as reordered.
uint64_t
    channel_push_reserve (channel_t *self, uint8_t key [FERNET_KEY_SIZE]);
int
    channel_seal_push_as (const uint8_t key [FERNET_KEY_SIZE], uint64_t seq,
                          const uint8_t session_id [CHANNEL_SESSION_ID_SIZE],
                          const uint8_t *payload, size_t len, int64_t now,
                          uint8_t **frame, size_t *size);

//  The same with the push key made ready (fernet_key_new) by the caller,
//  which may keep it for the session's later pushes.
int
    channel_seal_push_ready (fernet_key_t *key, uint64_t seq,
                             const uint8_t session_id [CHANNEL_SESSION_ID_SIZE],
                             const uint8_t *payload, size_t len, int64_t now,
                             uint8_t **frame, size_t *size);

//  The same into the caller's frame [capacity] (a seal worker keeps one
//  buffer for all its pushes), *size set to the bytes written; a capacity
//  of channel_push_frame_max (len) is always enough.
size_t
    channel_push_frame_max (size_t len);
int
    channel_seal_push_into (fernet_key_t *key, uint64_t seq,
                            const uint8_t session_id [CHANNEL_SESSION_ID_SIZE],
                            const uint8_t *payload, size_t len, int64_t now,
                            uint8_t *frame, size_t capacity, size_t *size);

//  Session id (clear, names the session in every frame) and session token
//  (secret until used as the push topic); CHANNEL_SESSION_*_SIZE bytes.
const uint8_t *
    channel_session_id (channel_t *self);
const uint8_t *
    channel_session_token (channel_t *self);

//  The other side's key fingerprint: on the server the client's key, on the
//  client the server's key. 32 raw bytes / "SHA256:..." text.
const uint8_t *
    channel_peer_fingerprint (channel_t *self);
const char *
    channel_peer_fingerprint_text (channel_t *self);

//  Client: what the server's signed WelcomeInfo said: its role ("" when the
//  server named none), its push endpoint ("" when none; a wildcard host
//  means the host the client reached it at), and the serialized KeyRotation
//  it presented (NULL when none).
const char *
    channel_peer_role (channel_t *self);
const char *
    channel_peer_push_endpoint (channel_t *self);
const uint8_t *
    channel_peer_rotation (channel_t *self, size_t *len);

//  Tests only: shift this channel's clock, to make expired or future tokens.
void
    channel_set_clock_offset (channel_t *self, int64_t seconds);

#endif
