/*  chatclient - the chat client library: both servers, one event loop,
    never blocking its caller

    Used by the TUI, the plain line mode, chat-bench and the tests. The
    caller owns the event loop:

        chatclient_t *client = chatclient_new (&config);
        zsock_t *socks [CHATCLIENT_MAX_SOCKETS];
        size_t n = chatclient_sockets (client, socks, CHATCLIENT_MAX_SOCKETS);
        //  add socks[0..n-1] to a zpoller (or zmq_poll with zsock_resolve,
        //  beside stdin); the set never changes for the client's lifetime
        uint32_t cmd = chatclient_login (client, "alice", "secret");
        while (running) {
            void *which = zpoller_wait (poller, chatclient_timeout (client));
            if (which)
                chatclient_handle (client, which);
            chatclient_tick (client);            //  cheap; call every turn
            chatclient_event_t *event;
            while ((event = chatclient_next_event (client))) {
                if (event->cmd == cmd) ...       //  the command's completion
                chatclient_event_destroy (&event);
            }
        }

    Commands return at once with a command id (never 0). Every command
    completes with exactly ONE event whose `cmd` is that id (a success type,
    or CHATCLIENT_EV_ERROR / _REGISTER_FAILED / _LOGIN_FAILED); every other
    event has cmd == 0. Local refusals (passwords don't match, text too long,
    not logged in) complete the same way, as an event queued at once.

    One ephemeral RSA-2048 client key per chatclient_t, used for both
    servers, never written anywhere. The user's identity key (protocol 2:
    made at registration, sealed under the password, opened at login),
    conversation keys and decrypted messages live in memory only and are
    wiped on logout and destroy; the only files the client writes are the
    pin files: known_servers (server keys) and known_users (contacts'
    identity keys, and which of them the user verified). Key derivation and
    key generation (PBKDF2, the identity key at registration) run on a
    worker thread whose pipe is one of the client's sockets.

    What the client believes (proto/README.md sections 10-12): a
    conversation's members come from its membership chain, every link
    verified with the signer's identity key; epoch keys are made by
    clients, wrapped to identity keys, and accepted only when they match
    their epoch's signed key check; a message is shown only when it opens
    with its epoch's key, names the conversation, epoch and sender the
    server says, its sender was a member of that epoch, and it is signed
    by the sender's identity key. Identity keys come from the key server's
    directory and are pinned on first sight; a contact whose directory key
    later differs from the pin is marked CHANGED, and whatever only that
    new key vouches for is shown with the warning (key_changed, changed).

    Connections: each server's connection is watched (a ZMQ socket monitor,
    ZMTP heartbeats), so a connection refused or dropped is a DISCONNECTED
    event at once, not when a request times out. While a server cannot be
    reached (nothing listening, no answer), login and register fail at once
    with the reason; the client keeps trying in the background.

    Reconnects: a server that answers ERR_UNKNOWN_SESSION (it restarted),
    drops the connection or lets a request time out gets a fresh handshake
    with the same client key after a back-off (100 ms doubling to 5 s); a logged-in client then logs in
    again without the password (key server: ResumeRequest with the resume
    token of the last login; main server: login with the fresh certificate)
    and fetches whatever it missed. Requests that are safe to repeat (send
    with the same client_message_id, reads) are re-sent; others fail with an
    ERROR event.
*/
#ifndef CHATCLIENT_H_INCLUDED
#define CHATCLIENT_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHATCLIENT_MAX_SOCKETS 6
#define CHATCLIENT_ID_SIZE 16          //  conversation ids, client message ids
#define CHATCLIENT_HEX_SIZE (CHATCLIENT_ID_SIZE * 2 + 1)
#define CHATCLIENT_MAINSERVERS_MAX 16  //  endpoints of one cluster

//  Client-side error codes, beside the protocol's CHAT_ERR_* (chaterror.h).
#define CHATCLIENT_ERR_TIMEOUT 100      //  a server did not answer in time
#define CHATCLIENT_ERR_CONNECTION 101   //  connection lost mid-request (not
                                        //  repeated: it may not be safe to)
#define CHATCLIENT_ERR_USAGE 102        //  bad command (plain mode)
#define CHATCLIENT_ERR_UNREACHABLE 103  //  nothing listening at the endpoint

typedef struct _chatclient_t chatclient_t;

typedef enum {
    CHATCLIENT_KEYSERVER = 0,
    CHATCLIENT_MAINSERVER = 1
} chatclient_server_t;

typedef struct {
    const char *keyserver;          //  request endpoint, "tcp://host:port"
    const char *mainserver;         //  request endpoint, or
    //  the request endpoints of one cluster of main servers (several main
    //  servers on one database, sharing one key): one is chosen at random,
    //  and the client moves to the next when it fails (FAILOVER). When
    //  mainserver_count > 0, mainserver is ignored. At most
    //  CHATCLIENT_MAINSERVERS_MAX.
    const char *const *mainservers;
    size_t mainserver_count;
    const char *push;               //  main server's push (PUB) endpoint
    //  Name under which each server's key is pinned in known_servers; NULL:
    //  the endpoint string (beacon-found servers use "<role>@discovery").
    const char *keyserver_pin_name;
    const char *mainserver_pin_name;
    //  "SHA256:..." to accept only that key (the file is then neither read
    //  nor written for that server); NULL: trust on first use via the file.
    const char *keyserver_pin;
    const char *mainserver_pin;
    const char *known_servers;      //  NULL: pinstore's default path
    const char *known_users;        //  NULL: known_users beside known_servers
    int request_timeout_ms;         //  one attempt; 0: 5000
    int command_timeout_ms;         //  whole command incl. reconnects; 0: 30000
    int ping_interval_ms;           //  main server keep-alive; 0: 30000
    //  Re-list conversations this often while logged in, to catch what a
    //  lost push missed (pushes are the live path); 0: 30000
    int refresh_interval_ms;
    bool verbose;                   //  zsys_info lines, never a secret
} chatclient_config_t;

//  What this client knows of a user's identity key.
typedef enum {
    CHATCLIENT_IDENTITY_UNKNOWN = 0,    //  not looked up this session (or no
                                        //  such user)
    CHATCLIENT_IDENTITY_UNVERIFIED,     //  the key directory's key is the
                                        //  pinned one; safety number not
                                        //  compared
    CHATCLIENT_IDENTITY_VERIFIED,       //  ... and compared ("verify")
    CHATCLIENT_IDENTITY_CHANGED,        //  the directory names another key
                                        //  than the pin: a warning
    CHATCLIENT_IDENTITY_SELF            //  the logged-in user
} chatclient_identity_t;

//  One decrypted, verified message (section 12's five checks held).
typedef struct {
    uint8_t conversation_id [CHATCLIENT_ID_SIZE];
    char conversation_hex [CHATCLIENT_HEX_SIZE];
    uint64_t seq;
    char *sender;
    int64_t sent_at;                //  unix ms, sender's clock (sealed)
    int64_t server_time;            //  unix ms, when the server stored it
    char *text;                     //  NUL-terminated; may hold other NULs
    size_t text_len;
    bool live;                      //  arrived this session (push, catch-up,
                                    //  own send), not loaded as history
    bool local;                     //  sent from this very client
    uint64_t epoch;                 //  the epoch whose key sealed it
    bool key_changed;               //  signed with a key other than the
                                    //  sender's pin (the directory's new
                                    //  one): show it only with a warning
} chatclient_message_t;

typedef struct {
    uint8_t id [CHATCLIENT_ID_SIZE];
    char hex [CHATCLIENT_HEX_SIZE];
    char **members;                 //  sorted, includes this user
    size_t member_count;
    uint64_t last_seq;
    int64_t last_time;              //  unix ms, 0 when empty
    uint64_t read_seq;              //  the user read up to here: the main
                                    //  server keeps it for all the user's
                                    //  sessions, across logouts
    uint64_t unread;                //  messages from others after read_seq
    size_t index;                   //  1-based, stable: the server's list
                                    //  order (the order they were made in)
    uint64_t epoch;                 //  current epoch (of the verified chain)
    char *title;                    //  "" when none
    bool direct;                    //  a 1:1 conversation
    bool verified;                  //  members, epoch, title and direct come
                                    //  from the membership chain, every link
                                    //  verified; false: the server's word,
                                    //  not yet (or not) checked
    size_t changed;                 //  members whose identity key changed
                                    //  (CHATCLIENT_IDENTITY_CHANGED): show
                                    //  a warning line while > 0
    bool left;                      //  we left or were removed: nothing new
                                    //  arrives; gone from the next login's list
    bool request;                   //  a message request: someone we share no
                                    //  accepted conversation with put us in;
                                    //  list it apart, notify nothing until
                                    //  chatclient_accept (or leave); counts
                                    //  no unread. The server says it for
                                    //  each member, in the list and in the
                                    //  push of a new one
} chatclient_conversation_t;

typedef enum {
    CHATCLIENT_EV_CONNECTED = 1,    //  server, endpoint, fingerprint
    CHATCLIENT_EV_DISCONNECTED,     //  server, code, text (reason), retry_ms:
                                    //  CHATCLIENT_ERR_UNREACHABLE (nothing
                                    //  listening), _TIMEOUT (no answer),
                                    //  _CONNECTION (an open one dropped), a
                                    //  protocol code (the server refused)
    CHATCLIENT_EV_PIN_NEW,          //  server, name, fingerprint: pinned now (TOFU)
    CHATCLIENT_EV_PIN_MISMATCH,     //  server, name, fingerprint (offered),
                                    //  pinned: refused, nothing sealed sent;
                                    //  that server stays refused
    CHATCLIENT_EV_REGISTERED,       //  username, text "Success!"
    CHATCLIENT_EV_REGISTER_FAILED,  //  code, text ("Username already in use",
                                    //  "Passwords don't match", ...)
    CHATCLIENT_EV_LOGGED_IN,        //  username (canonical spelling); also
                                    //  with cmd 0 after a silent re-login
    CHATCLIENT_EV_LOGIN_FAILED,     //  code, text ("Wrong username or
                                    //  password"), retry_ms when rate limited
    CHATCLIENT_EV_LOGGED_OUT,       //  cmd 0 when the session ended by itself
    CHATCLIENT_EV_USERS,            //  users, user_count
    CHATCLIENT_EV_CONVERSATIONS,    //  conversations, conversation_count: all
    CHATCLIENT_EV_CONVERSATION,     //  conversation: new or changed (create's
                                    //  completion; cmd 0 when pushed/updated)
    CHATCLIENT_EV_MESSAGE,          //  message (cmd 0 always; in seq order
                                    //  per conversation, each once)
    CHATCLIENT_EV_SENT,             //  message (the sent one, seq assigned),
                                    //  duplicate flag when a retry was stored before
    CHATCLIENT_EV_OPENED,           //  conversation: history loaded, marked read
    CHATCLIENT_EV_HISTORY,          //  conversation; messages, message_count:
                                    //  every message with seq > after_seq
    CHATCLIENT_EV_MEMBERS,          //  conversation (fresh member list)
    CHATCLIENT_EV_ERROR,            //  code, text; cmd set when a command failed
    CHATCLIENT_EV_PASSWORD_CHANGED, //  username, text: the new password works
                                    //  from now on, the old one no longer
    CHATCLIENT_EV_SAFETY_NUMBER,    //  username, text (the safety number: 12
                                    //  groups of 5 digits), fingerprint
                                    //  (their key as the directory names it),
                                    //  pinned (the pin on file), identity
    CHATCLIENT_EV_VERIFIED,         //  username, fingerprint: pinned and
                                    //  marked verified
    CHATCLIENT_EV_IDENTITY_CHANGED, //  username, fingerprint (the directory's
                                    //  new key), pinned (the old pin), text
                                    //  (the warning); identity CHANGED. cmd 0
    CHATCLIENT_EV_WRONG_ROLE,       //  server, endpoint, code ERR_WRONG_ROLE,
                                    //  text: that endpoint is the other
                                    //  server; refused for good. cmd 0
    CHATCLIENT_EV_PIN_MOVED,        //  server, name, fingerprint (the new
                                    //  key), pinned (the old pin): the
                                    //  server's operator replaced its key and
                                    //  the old key signed the change
                                    //  (proto/README.md section 7); the pin
                                    //  now names the new key. text: a problem
                                    //  (not saved; a command-line pin to
                                    //  update). cmd 0
    CHATCLIENT_EV_READ,             //  conversation: another session of the
                                    //  user read it (read_seq, unread now)
    CHATCLIENT_EV_CHANGE,           //  conversation (its epoch: the change's),
                                    //  text: one verified change of its
                                    //  membership as a line ("alice added
                                    //  carol", "bob left"; "... added you:
                                    //  earlier history is closed to you").
                                    //  cmd 0
    CHATCLIENT_EV_FAILOVER          //  server, from (the endpoint it was
                                    //  connected to), endpoint (the one it
                                    //  is connected to now): it moved to
                                    //  another server of the cluster; a
                                    //  CONNECTED for endpoint follows. cmd 0
} chatclient_event_type_t;

typedef struct {
    chatclient_event_type_t type;
    uint32_t cmd;                   //  command this completes, or 0
    int code;                       //  CHAT_ERR_* (chaterror.h), 0 on success
    char *text;                     //  human-readable, or NULL
    chatclient_server_t server;     //  connection and pin events
    char *endpoint;
    char *name;                     //  pin name
    char *fingerprint;              //  the server's key, "SHA256:..."
    char *pinned;                   //  the pin on file (mismatch)
    uint32_t retry_ms;              //  reconnect delay / rate-limit wait
    char *username;
    char **users;
    size_t user_count;
    chatclient_conversation_t *conversation;
    chatclient_conversation_t *conversations;
    size_t conversation_count;
    chatclient_message_t *message;
    chatclient_message_t *messages;
    size_t message_count;
    bool duplicate;
    chatclient_identity_t identity; //  SAFETY_NUMBER, VERIFIED, IDENTITY_CHANGED
    char *from;                     //  FAILOVER: the endpoint it left
} chatclient_event_t;

//  ---------------------------------------------------------------- life

//  Make the client key, the sockets and the worker, and start both
//  handshakes. NULL (message on stderr) when an endpoint is missing or
//  invalid or the pin file cannot be read.
chatclient_t *
    chatclient_new (const chatclient_config_t *config);
void
    chatclient_destroy (chatclient_t **self_p);

//  The sockets to poll (stable for the client's lifetime); returns count.
size_t
    chatclient_sockets (chatclient_t *self, zsock_t **socks, size_t max);

//  A polled socket is readable: read everything waiting on it. Returns true
//  when which is one of the client's sockets.
bool
    chatclient_handle (chatclient_t *self, void *which);

//  Timers: request timeouts, back-off, pings. Call on every loop turn.
void
    chatclient_tick (chatclient_t *self);

//  Milliseconds until the next timer is due (for the poll timeout): 0..1000.
int
    chatclient_timeout (chatclient_t *self);

//  Convenience loop for callers without their own: poll the client's
//  sockets for up to timeout_ms, handle, tick. Returns -1 when interrupted.
int
    chatclient_run_once (chatclient_t *self, int timeout_ms);

//  Nothing waits for a server: every request sent was answered or given
//  up, and no event is queued. A caller leaving after a logout runs the
//  loop until this (or a deadline), so that the servers hear it.
bool
    chatclient_settled (chatclient_t *self);

//  Next queued event (owned by the caller), or NULL.
chatclient_event_t *
    chatclient_next_event (chatclient_t *self);
void
    chatclient_event_destroy (chatclient_event_t **self_p);

//  "ERR_AUTH_FAILED", ... for protocol and client codes alike.
const char *
    chatclient_errname (int code);

//  "connected", "message", ... (stable names, as plain mode prints them).
const char *
    chatclient_event_name (chatclient_event_type_t type);

//  ---------------------------------------------------------------- commands

uint32_t
    chatclient_register (chatclient_t *self, const char *username,
                         const char *password, const char *confirm,
                         const char *confirm2);
uint32_t
    chatclient_login (chatclient_t *self, const char *username,
                      const char *password);
uint32_t
    chatclient_logout (chatclient_t *self);
//  Change the logged-in user's password: completes with PASSWORD_CHANGED,
//  or ERROR (ERR_AUTH_FAILED: current is wrong, nothing changed;
//  ERR_BAD_REQUEST: the new ones differ or are empty). The identity key is
//  sealed again under the new password, so every conversation and old
//  message still opens.
uint32_t
    chatclient_change_password (chatclient_t *self, const char *current,
                                const char *password, const char *confirm);
uint32_t
    chatclient_list_users (chatclient_t *self);
//  Re-list conversations (the report's refresh button): CONVERSATIONS, and
//  missed messages fetched.
uint32_t
    chatclient_refresh (chatclient_t *self);
//  The others; the caller is added. One other: the existing 1:1 if any.
uint32_t
    chatclient_create_conversation (chatclient_t *self,
                                    const char **usernames, size_t count);
//  Load the whole history (MESSAGE events for what was not seen yet, live
//  false), fetch the key, mark read; completes with OPENED.
uint32_t
    chatclient_open (chatclient_t *self,
                     const uint8_t conversation_id [CHATCLIENT_ID_SIZE]);
//  As open (without marking read), completes with HISTORY holding every
//  message with seq > after_seq.
uint32_t
    chatclient_history (chatclient_t *self,
                        const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                        uint64_t after_seq);
uint32_t
    chatclient_members (chatclient_t *self,
                        const uint8_t conversation_id [CHATCLIENT_ID_SIZE]);
//  UTF-8 text of 1 byte or more; up to WIRE_MAX_TEXT bytes always fits
//  (a text whose sealed token would pass WIRE_MAX_TOKEN bytes is refused
//  locally with CHAT_ERR_MESSAGE_TOO_LARGE). Completes with SENT.
uint32_t
    chatclient_send (chatclient_t *self,
                     const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                     const char *text, size_t len);

//  Membership changes (proto/README.md section 11). Each is a statement
//  signed with our identity key on the conversation's verified chain and a
//  new epoch key wrapped for every member after it (none for leave); when
//  another member's change reached the server first, the chain is fetched
//  and the change made again on it, by itself (a few times). Completes
//  with CONVERSATION (the conversation after it; `left` for leave) once
//  the new epoch's keys are stored, or ERROR: ERR_BAD_STATEMENT when the
//  change is not allowed (a 1:1 never gains members; only the creator and
//  admins remove; only the creator makes admins), ERR_UNKNOWN_USER,
//  ERR_TOO_MANY_MEMBERS, ERR_BAD_KEY (a member's identity key changed:
//  verify first). Every client shows each change as a CHANGE event.
uint32_t
    chatclient_add_members (chatclient_t *self,
                            const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                            const char **usernames, size_t count);
uint32_t
    chatclient_remove_member (chatclient_t *self,
                              const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                              const char *username);
//  Any conversation, 1:1 included.
uint32_t
    chatclient_leave (chatclient_t *self,
                      const uint8_t conversation_id [CHATCLIENT_ID_SIZE]);
//  title: UTF-8, at most 128 bytes; "" clears it. Groups only.
uint32_t
    chatclient_set_title (chatclient_t *self,
                          const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                          const char *title);
uint32_t
    chatclient_make_admin (chatclient_t *self,
                           const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                           const char *username);

//  Accept a message request: CONVERSATION (request false), or ERROR.
uint32_t
    chatclient_accept (chatclient_t *self,
                       const uint8_t conversation_id [CHATCLIENT_ID_SIZE]);
//  Leave every message request at once: CONVERSATIONS (the list after)
//  once every leave is done; a leave that fails is an ERROR event (cmd 0).
uint32_t
    chatclient_leave_requests (chatclient_t *self);

//  ---------------------------------------------------------------- identities

//  The safety number of the logged-in user and username (looked up in the
//  key directory if this session has not yet): SAFETY_NUMBER, or ERROR
//  (ERR_UNKNOWN_USER; ERR_BAD_REQUEST for oneself). Compare it with theirs
//  out of band before chatclient_verify.
uint32_t
    chatclient_safety_number (chatclient_t *self, const char *username);
//  The user compared the safety number of username and it matched: pin the
//  key whose number was shown, marked verified (for a CHANGED contact this
//  accepts the new key). fingerprint: that key's ("SHA256:..." of the
//  SAFETY_NUMBER event), or NULL for the last one shown this session.
//  VERIFIED, or ERROR (ERR_BAD_REQUEST when no number was shown for it, or
//  the key is no longer the one shown).
uint32_t
    chatclient_verify (chatclient_t *self, const char *username,
                       const char *fingerprint);
//  What this session knows of username's identity key (no request).
chatclient_identity_t
    chatclient_identity (chatclient_t *self, const char *username);
//  "unknown", "unverified", "verified", "changed", "you".
const char *
    chatclient_identity_name (chatclient_identity_t identity);
//  The logged-in user's own identity key fingerprint, or NULL.
const char *
    chatclient_identity_fingerprint (chatclient_t *self);

//  ---------------------------------------------------------------- state
//  Borrowed views, valid until the next handle/tick/command call.

//  Logged-in username, or NULL.
const char *
    chatclient_username (chatclient_t *self);
//  Handshake done and pin accepted.
bool
    chatclient_connected (chatclient_t *self, chatclient_server_t server);
//  The server's key fingerprint once seen, else NULL.
const char *
    chatclient_server_fingerprint (chatclient_t *self, chatclient_server_t server);

//  The last user list received (chatclient_list_users), sorted.
size_t
    chatclient_user_count (chatclient_t *self);
const char *
    chatclient_user (chatclient_t *self, size_t index);

size_t
    chatclient_conversation_count (chatclient_t *self);
//  index is 0-based here (the struct's index field is 1-based).
const chatclient_conversation_t *
    chatclient_conversation (chatclient_t *self, size_t index);
//  By id: the conversation this session shows, or NULL.
const chatclient_conversation_t *
    chatclient_conversation_by_id (chatclient_t *self,
                                   const uint8_t conversation_id [CHATCLIENT_ID_SIZE]);
//  By 1-based index ("2": one to four decimal digits are always an index),
//  full hex id, or a unique hex prefix. CHAT_OK,
//  CHAT_ERR_NOT_FOUND, or CHAT_ERR_BAD_REQUEST when a prefix is ambiguous.
int
    chatclient_conversation_find (chatclient_t *self, const char *spec,
                                  const chatclient_conversation_t **conversation);

//  Messages of a conversation held in memory, ascending seq.
size_t
    chatclient_message_count (chatclient_t *self,
                              const uint8_t conversation_id [CHATCLIENT_ID_SIZE]);
const chatclient_message_t *
    chatclient_message (chatclient_t *self,
                        const uint8_t conversation_id [CHATCLIENT_ID_SIZE],
                        size_t index);

//  The user has seen this conversation up to its newest message: unread =
//  0, and the main server is told (it keeps the marker and tells the
//  user's other sessions).
void
    chatclient_mark_read (chatclient_t *self,
                          const uint8_t conversation_id [CHATCLIENT_ID_SIZE]);

//  ---------------------------------------------------------------- TUI hook
//  src/client/tui/tui.c (when present; CMake then defines CHAT_HAVE_TUI for
//  main.c) provides the full-screen client. It is given a started client
//  (handshakes under way, not logged in) and returns chat's exit code
//  (0 ok, 1 failed).
int
    tui_run (chatclient_t *client, bool verbose);
//  Whether this terminal can show it (it must address the cursor: not
//  TERM=dumb); false with the reason in why.
bool
    tui_possible (char *why, size_t size);

#endif
