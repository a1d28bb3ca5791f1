/*  rawclient - many light main-server sessions over a few sockets, built
    straight on libchat's channel, for the scenarios that need thousands of
    sessions (the client library makes an RSA key, four sockets and a
    thread per client)

    All sessions of a pool share one client key (borrowed) and are spread
    over a few DEALER sockets and as many SUB sockets. Replies are matched
    to their session by session id, pushes by their topic (the session
    token), exactly as the protocol names them. Handshakes are pipelined on
    each DEALER: a server answers one connection's Hellos in order.

    Everything runs on the caller's thread: rawpool_poll reads what is
    waiting and calls the pool's handlers.
*/
#ifndef RAWCLIENT_H_INCLUDED
#define RAWCLIENT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "channel.h"
#include "rsakey.h"
#include "wire.h"

typedef struct _rawpool_t rawpool_t;

typedef struct {
    channel_t *channel;         //  open once the handshake is done
    size_t index;               //  0.. in the order sessions were opened
    size_t socket;              //  which DEALER / SUB it uses
    uint64_t last_request;      //  request ids: 1, 2, ...
    char *username;             //  the scenario's (malloc'd, freed with the pool)
    void *user;                 //  the scenario's own (not freed)
} rawsess_t;

//  A reply to a request of sess (reply is freed after the call).
typedef void (rawpool_reply_fn) (rawpool_t *pool, rawsess_t *sess,
                                 Chat__MainReply *reply, void *arg);
//  A push that opened cleanly for sess (freed after the call).
typedef void (rawpool_push_fn) (rawpool_t *pool, rawsess_t *sess,
                                Chat__Push *push, void *arg);

//  sockets DEALERs (and SUBs when push_endpoint is given) connected now.
rawpool_t *
    rawpool_new (const char *endpoint, const char *push_endpoint,
                 rsakey_t *client_key, size_t sockets);
void
    rawpool_destroy (rawpool_t **self_p);

void
    rawpool_set_handlers (rawpool_t *self, rawpool_reply_fn *reply_fn,
                          rawpool_push_fn *push_fn, void *arg);

//  Open count more sessions, at most window Hellos in flight per socket,
//  within timeout_ms. Returns how many opened (refusals are counted in
//  rawpool_errors). progress (may be NULL) is called as they open.
size_t
    rawpool_open (rawpool_t *self, size_t count, size_t window, int timeout_ms,
                  void (*progress) (size_t done, void *arg), void *arg);

//  Handshake rate: send count Hellos (window per socket), count the
//  Welcomes; one in verify_every (>= 1) is accepted in full (signature,
//  decryption), the rest only decoded, and no session is kept. Returns the
//  Welcomes received; *failed counts refusals and bad Welcomes.
size_t
    rawpool_handshakes (rawpool_t *self, size_t count, size_t window,
                        size_t verify_every, int timeout_ms, size_t *failed,
                        void (*progress) (size_t done, void *arg), void *arg);

size_t
    rawpool_size (rawpool_t *self);
rawsess_t *
    rawpool_session (rawpool_t *self, size_t index);
//  Clear errors, undecodable frames and refused tokens seen so far.
size_t
    rawpool_errors (rawpool_t *self);
//  Pushes that arrived but did not open (unknown topic, bad token).
size_t
    rawpool_bad_pushes (rawpool_t *self);

//  Read whatever is waiting (waiting up to timeout_ms for the first),
//  calling the handlers. Returns messages handled, -1 when interrupted.
int
    rawpool_poll (rawpool_t *self, int timeout_ms);

//  Requests: seal and send; the request id (never 0), or 0 on failure.
//  The session's push subscription is made on login.
uint64_t
    rawsess_register (rawpool_t *self, rawsess_t *sess,
                      const uint8_t *certificate, size_t len);
uint64_t
    rawsess_login (rawpool_t *self, rawsess_t *sess,
                   const uint8_t *certificate, size_t len);
//  A new group of the session's user and others, made as a client makes
//  one: a CREATE statement (a random id, the key check of a key made and
//  thrown away) signed with identity. 0 when it cannot be made.
uint64_t
    rawsess_create (rawpool_t *self, rawsess_t *sess, char **others, size_t count,
                    rsakey_t *identity);
//  A message under epoch 1 (groups made here never change)
uint64_t
    rawsess_send (rawpool_t *self, rawsess_t *sess, const uint8_t conversation_id [16],
                  const uint8_t client_message_id [16], const char *token);
uint64_t
    rawsess_get_messages (rawpool_t *self, rawsess_t *sess,
                          const uint8_t conversation_id [16], uint64_t after_seq,
                          uint32_t limit);
uint64_t
    rawsess_request (rawpool_t *self, rawsess_t *sess, Chat__MainRequest *request);

#endif
