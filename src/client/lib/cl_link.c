/*  cl_link - one server connection of the client; see cl_link.h
*/
#include <stdlib.h>
#include <string.h>
#include "cl_link.h"
#include "channel.h"
#include "chaterror.h"
#include "keyrotation.h"
#include "secret.h"
#include "wire.h"

//  A random number below limit (> 0), for the start of a list and for
//  jitter: not a secret, but secret_random is what the client has.
static size_t
s_random_below (size_t limit)
{
    uint32_t value = 0;
    if (secret_random (&value, sizeof (value)) != 0)
        value = (uint32_t) zclock_mono ();
    return (size_t) value % limit;
}

struct _cl_link_t {
    chatclient_server_t server;
    const char *role;
    char **endpoints;           //  the list (one, or a cluster's)
    size_t count;
    size_t current;             //  the endpoint in use
    bool *skipped;              //  refused for good (key, role), by index
    int connected_to;           //  index zsock_connect'ed, or -1
    int last_open;              //  index the link was last open on, or -1
    size_t round_failed;        //  endpoints failed in a row since the last
                                //  open or the last full round
    bool round_unreachable;     //  ... and all of them were unreachable
    char *pin_name;             //  one name for all (discovery), or NULL:
                                //  each endpoint is its own name
    char *pin;                  //  --pin fingerprint, or NULL
    bool verbose;
    int hello_timeout_ms;
    rsakey_t *key;              //  borrowed: the client's key
    pinstore_t *pins;           //  borrowed
    cl_listener_t listener;
    zsock_t *sock;              //  DEALER
    channel_t *channel;
    cl_link_state_t state;
    int64_t deadline;           //  HELLO: give up waiting at
    int64_t retry_at;           //  DOWN: next attempt at
    int backoff;
    char *fingerprint;
    zsock_t *push;              //  SUB, main server only
    char *push_endpoint;        //  what it is connected to, or NULL
    bool push_fixed;            //  the user named it: the Welcome's is not used
    uint8_t push_topic [CHANNEL_SESSION_TOKEN_SIZE];
    bool push_subscribed;
    zsock_t *monitor;           //  PAIR: the DEALER's connection events
    int problem_code;           //  why the last attempt failed, while it
    char *problem;              //  says the server cannot be reached, or
                                //  why it was refused (REFUSED)
};

//  ---------------------------------------------------------------- life

//  Know at once what the connection does: refused (nothing listening),
//  dropped (the server went, or stopped answering the heartbeats), or up
//  (the ZMTP handshake done).
static void
s_monitor_start (cl_link_t *self)
{
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://cl-link-%p", (void *) self);
    if (zmq_socket_monitor (zsock_resolve (self->sock), endpoint,
                            ZMQ_EVENT_CLOSED | ZMQ_EVENT_DISCONNECTED) != 0)
        return;
    self->monitor = zsock_new_pair (endpoint);
    if (self->monitor)
        zsock_connect (self->monitor, "%s", endpoint);
    else
        zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
}

//  A server that dies without closing its connections (its host gone, or
//  the process stopped) is noticed within the heartbeat timeout
static void
s_heartbeats (zsock_t *sock)
{
    zsock_set_heartbeat_ivl (sock, CL_LINK_HEARTBEAT_IVL_MS);
    zsock_set_heartbeat_timeout (sock, CL_LINK_HEARTBEAT_TIMEOUT_MS);
    zsock_set_heartbeat_ttl (sock, CL_LINK_HEARTBEAT_TTL_MS);
}

cl_link_t *
cl_link_new (const cl_link_config_t *config, rsakey_t *key, pinstore_t *pins)
{
    assert (config && key && pins);
    assert (config->endpoint_count > 0 || config->endpoint);
    assert (config->endpoint_count <= CL_LINK_ENDPOINTS_MAX);
    cl_link_t *self = calloc (1, sizeof (cl_link_t));
    assert (self);
    self->server = config->server;
    self->role = config->server == CHATCLIENT_KEYSERVER ? "keyserver" : "mainserver";
    self->count = config->endpoint_count > 0? config->endpoint_count: 1;
    self->endpoints = calloc (self->count, sizeof (char *));
    self->skipped = calloc (self->count, sizeof (bool));
    assert (self->endpoints && self->skipped);
    for (size_t i = 0; i < self->count; i++) {
        const char *endpoint = config->endpoint_count > 0? config->endpoints [i]
                                                         : config->endpoint;
        assert (endpoint);
        self->endpoints [i] = strdup (endpoint);
    }
    //  one cluster's clients spread over its servers
    self->current = self->count > 1 && !config->in_order? s_random_below (self->count): 0;
    self->connected_to = -1;
    self->last_open = -1;
    self->round_unreachable = true;
    self->pin_name = cl_strdup (config->pin_name);
    self->pin = cl_strdup (config->pin);
    self->verbose = config->verbose;
    self->hello_timeout_ms = config->hello_timeout_ms;
    self->key = key;
    self->pins = pins;
    self->backoff = CL_LINK_BACKOFF_MIN_MS;
    self->sock = zsock_new (ZMQ_DEALER);
    if (!self->sock) {
        fprintf (stderr, "chat: cannot make a socket for the %s\n", self->role);
        cl_link_destroy (&self);
        return NULL;
    }
    zsock_set_linger (self->sock, 0);
    zsock_set_maxmsgsize (self->sock, WIRE_MAX_FRAME);
    zsock_set_sndhwm (self->sock, 10000);
    s_heartbeats (self->sock);
    if (config->push || config->push_from_welcome) {
        //  made now, connected when known: the caller's socket set is fixed
        self->push = zsock_new (ZMQ_SUB);
        assert (self->push);
        zsock_set_linger (self->push, 0);
        zsock_set_maxmsgsize (self->push, WIRE_MAX_FRAME);
        s_heartbeats (self->push);
    }
    if (config->push) {
        self->push_fixed = true;
        if (zsock_connect (self->push, "%s", config->push) != 0) {
            fprintf (stderr, "chat: invalid push endpoint %s\n", config->push);
            cl_link_destroy (&self);
            return NULL;
        }
        self->push_endpoint = strdup (config->push);
    }
    if (config->monitor)
        s_monitor_start (self);
    return self;
}

void
cl_link_destroy (cl_link_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cl_link_t *self = *self_p;
    if (self->monitor)
        zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->push);
    channel_destroy (&self->channel);
    zsock_destroy (&self->sock);
    for (size_t i = 0; i < self->count; i++)
        free (self->endpoints [i]);
    free (self->endpoints);
    free (self->skipped);
    free (self->pin_name);
    free (self->pin);
    free (self->fingerprint);
    free (self->problem);
    free (self->push_endpoint);
    free (self);
    *self_p = NULL;
}

void
cl_link_set_listener (cl_link_t *self, cl_listener_fn *fn, void *arg)
{
    self->listener.fn = fn;
    self->listener.arg = arg;
}

//  ---------------------------------------------------------------- state

static void
s_disconnect (cl_link_t *self)
{
    if (self->connected_to >= 0) {
        zsock_disconnect (self->sock, "%s", self->endpoints [self->connected_to]);
        self->connected_to = -1;
    }
}

//  The endpoint in use, and the name its pin is filed under
static const char *
s_endpoint (cl_link_t *self)
{
    return self->endpoints [self->current];
}

static const char *
s_pin_name_at (cl_link_t *self, size_t index)
{
    return self->pin_name? self->pin_name: self->endpoints [index];
}

static int
s_send_frame (cl_link_t *self, const uint8_t *frame, size_t size)
{
    int rc = zmq_send (zsock_resolve (self->sock), frame, size, ZMQ_DONTWAIT);
    return rc < 0 ? -1 : 0;
}

//  Forget what the monitor said about connections gone by
static void
s_monitor_drain (cl_link_t *self)
{
    while (self->monitor && (zsock_events (self->monitor) & ZMQ_POLLIN)) {
        zmsg_t *msg = zmsg_recv (self->monitor);
        if (!msg)
            break;
        zmsg_destroy (&msg);
    }
}

//  Whether a failure says the server cannot be reached now (and commands
//  may fail at once), rather than that it is coming back
static bool
s_unreachable (int code)
{
    return code == CHATCLIENT_ERR_UNREACHABLE || code == CHATCLIENT_ERR_TIMEOUT
        || code == CHAT_ERR_BAD_VERSION;
}

void
cl_link_attempt (cl_link_t *self)
{
    if (self->state == CL_LINK_REFUSED)
        return;
    channel_destroy (&self->channel);
    self->channel = channel_client_new (self->key);
    //  a server of the other role is refused before anything is sealed
    if (self->channel)
        channel_client_expect_role (self->channel, self->role);
    uint8_t *frame = NULL;
    size_t size = 0;
    //  a fresh connection drops whatever the old one still had queued,
    //  and what the monitor still says is about the old one
    s_disconnect (self);
    s_monitor_drain (self);
    if (zsock_connect (self->sock, "%s", s_endpoint (self)) == 0)
        self->connected_to = (int) self->current;
    if (!self->channel || self->connected_to < 0
    ||  channel_client_hello (self->channel, &frame, &size) != CHAT_OK
    ||  s_send_frame (self, frame, size) != 0) {
        free (frame);
        if (self->count > 1) {
            //  a list goes on to its next endpoint, as on any failure
            char *why = cl_format ("cannot connect to %s", s_endpoint (self));
            cl_link_reset (self, CHATCLIENT_ERR_UNREACHABLE, why);
            free (why);
            return;
        }
        self->state = CL_LINK_DOWN;
        self->retry_at = zclock_mono () + self->backoff;
        return;
    }
    free (frame);
    self->state = CL_LINK_HELLO;
    self->deadline = zclock_mono () + self->hello_timeout_ms;
    if (self->verbose)
        zsys_info ("chat: handshake with %s %s", self->role, s_endpoint (self));
}

void
cl_link_hurry (cl_link_t *self)
{
    if (self->state == CL_LINK_DOWN)
        cl_link_attempt (self);
}

//  The next endpoint of the list that is not refused (the current one
//  when it is the only one left)
static void
s_advance (cl_link_t *self)
{
    for (size_t step = 1; step <= self->count; step++) {
        size_t next = (self->current + step) % self->count;
        if (!self->skipped [next]) {
            self->current = next;
            return;
        }
    }
}

static size_t
s_live_count (cl_link_t *self)
{
    size_t live = 0;
    for (size_t i = 0; i < self->count; i++)
        live += self->skipped [i]? 0: 1;
    return live;
}

//  Half the delay to all of it, at random: the clients of a server that
//  went away do not all arrive at the next one in the same instant
static int
s_jitter (int delay_ms)
{
    int half = delay_ms / 2;
    return half + (int) s_random_below ((size_t) (delay_ms - half) + 1);
}

static void
s_set_problem (cl_link_t *self, int code, const char *why)
{
    free (self->problem);
    self->problem = why? strdup (why): NULL;
    self->problem_code = self->problem? code: 0;
}

//  One server: back-off doubling from the minimum, as it always was.
//  Returns the delay until the next attempt.
static int
s_backoff_single (cl_link_t *self, int code, const char *why)
{
    if (code == CHATCLIENT_ERR_UNREACHABLE && self->backoff > CL_LINK_BACKOFF_REFUSED_MS)
        self->backoff = CL_LINK_BACKOFF_REFUSED_MS;
    int delay = self->backoff;
    s_set_problem (self, code, s_unreachable (code)? why: NULL);
    int most = code == CHATCLIENT_ERR_UNREACHABLE? CL_LINK_BACKOFF_REFUSED_MS
                                                  : CL_LINK_BACKOFF_MAX_MS;
    self->backoff = self->backoff * 2 > most? most: self->backoff * 2;
    return delay;
}

//  A list: on to the next endpoint at once (a short jittered pause); the
//  back-off grows only when the whole list failed in a row, and only then
//  is there a problem to tell (every endpoint unreachable).
static int
s_backoff_list (cl_link_t *self, int code, const char *why)
{
    self->round_failed++;
    if (!s_unreachable (code))
        self->round_unreachable = false;
    int delay;
    if (self->round_failed >= s_live_count (self)) {
        bool unreachable = self->round_unreachable;
        if (unreachable && self->backoff > CL_LINK_BACKOFF_REFUSED_MS)
            self->backoff = CL_LINK_BACKOFF_REFUSED_MS;
        delay = s_jitter (self->backoff);
        s_set_problem (self, code, unreachable? why: NULL);
        int most = unreachable? CL_LINK_BACKOFF_REFUSED_MS: CL_LINK_BACKOFF_MAX_MS;
        self->backoff = self->backoff * 2 > most? most: self->backoff * 2;
        self->round_failed = 0;
        self->round_unreachable = true;
    }
    else
        delay = s_jitter (CL_LINK_BACKOFF_MIN_MS);
    return delay;
}

void
cl_link_reset (cl_link_t *self, int code, const char *why)
{
    if (self->state == CL_LINK_REFUSED)
        return;
    channel_destroy (&self->channel);
    //  no more tries by libzmq on its own: the back-off decides when
    s_disconnect (self);
    self->state = CL_LINK_DOWN;
    const char *failed = s_endpoint (self);
    int delay = self->count == 1? s_backoff_single (self, code, why)
                                : s_backoff_list (self, code, why);
    self->retry_at = zclock_mono () + delay;
    if (self->count > 1)
        s_advance (self);
    if (self->verbose)
        zsys_info ("chat: %s %s: %s; %s in %d ms", self->role, failed, why,
                   streq (failed, s_endpoint (self))? "retrying": "trying the next",
                   delay);
    cl_event_t event = { .kind = CL_EV_LINK_DOWN, .server = self->server, .code = code,
                         .text = why, .retry_ms = (uint32_t) delay, .endpoint = failed };
    cl_listener_emit (&self->listener, &event);
}

//  The push socket follows the session token of the channel just opened.
static void
s_push_subscribe (cl_link_t *self)
{
    void *sub = zsock_resolve (self->push);
    if (self->push_subscribed)
        zmq_setsockopt (sub, ZMQ_UNSUBSCRIBE, self->push_topic, CHANNEL_SESSION_TOKEN_SIZE);
    memcpy (self->push_topic, channel_session_token (self->channel),
            CHANNEL_SESSION_TOKEN_SIZE);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, self->push_topic, CHANNEL_SESSION_TOKEN_SIZE);
    self->push_subscribed = true;
}

char *
cl_link_push_resolve (const char *request_endpoint, const char *announced)
{
    if (!announced || !*announced || strlen (announced) > CHANNEL_ENDPOINT_MAX)
        return NULL;
    const char *tcp = "tcp://";
    if (strncmp (announced, tcp, 6) != 0)
        return strdup (announced);          //  ipc:// and the like: as named
    const char *host = announced + 6;
    const char *colon = strrchr (host, ':');
    if (!colon || colon == host)
        return NULL;
    size_t host_len = (size_t) (colon - host);
    bool wildcard = (host_len == 1 && *host == '*')
                 || (host_len == 7 && strncmp (host, "0.0.0.0", 7) == 0)
                 || (host_len == 2 && strncmp (host, "::", 2) == 0)
                 || (host_len == 4 && strncmp (host, "[::]", 4) == 0);
    if (!wildcard)
        return strdup (announced);
    //  the host the client reached the request endpoint at
    if (!request_endpoint || strncmp (request_endpoint, tcp, 6) != 0)
        return NULL;
    const char *rhost = request_endpoint + 6;
    const char *rcolon = strrchr (rhost, ':');
    if (!rcolon || rcolon == rhost)
        return NULL;
    return cl_format ("tcp://%.*s%s", (int) (rcolon - rhost), rhost, colon);
}

//  Connect the push socket to the endpoint the signed Welcome names (when
//  the user named none): a restarted server may announce another one.
static void
s_push_follow (cl_link_t *self)
{
    if (self->push_fixed)
        return;
    char *endpoint = cl_link_push_resolve (s_endpoint (self),
                                           channel_peer_push_endpoint (self->channel));
    if (!endpoint) {
        if (self->verbose)
            zsys_info ("chat: the %s names no usable push endpoint; messages come "
                       "with the next ping instead of at once", self->role);
        return;
    }
    if (self->push_endpoint && streq (self->push_endpoint, endpoint)) {
        free (endpoint);
        return;
    }
    if (self->push_endpoint)
        zsock_disconnect (self->push, "%s", self->push_endpoint);
    free (self->push_endpoint);
    self->push_endpoint = NULL;
    if (zsock_connect (self->push, "%s", endpoint) == 0) {
        self->push_endpoint = endpoint;
        if (self->verbose)
            zsys_info ("chat: pushes from %s", endpoint);
    }
    else {
        zsys_warning ("chat: the %s names a push endpoint that cannot be used: %s",
                      self->role, endpoint);
        free (endpoint);
    }
}

static void
s_opened (cl_link_t *self)
{
    self->state = CL_LINK_OPEN;
    self->backoff = CL_LINK_BACKOFF_MIN_MS;
    self->round_failed = 0;
    self->round_unreachable = true;
    int before = self->last_open;
    self->last_open = (int) self->current;
    free (self->problem);
    self->problem = NULL;
    self->problem_code = 0;
    free (self->fingerprint);
    self->fingerprint = strdup (channel_peer_fingerprint_text (self->channel));
    if (self->push) {
        s_push_follow (self);
        s_push_subscribe (self);
    }
    if (self->verbose)
        zsys_info ("chat: connected to %s %s, key %s", self->role,
                   s_endpoint (self), self->fingerprint);
    if (before >= 0 && before != self->last_open) {
        cl_event_t event = { .kind = CL_EV_LINK_FAILOVER, .server = self->server,
                             .endpoint = s_endpoint (self),
                             .from = self->endpoints [before] };
        cl_listener_emit (&self->listener, &event);
    }
    cl_listener_signal (&self->listener, CL_EV_LINK_OPEN, self->server);
}

//  Refuse the server for good: nothing sealed was sent, and nothing will be.
static void
s_refuse (cl_link_t *self, int code, const char *why, const char *offered,
          const char *pinned)
{
    if (s_live_count (self) > 1) {
        //  one endpoint of a cluster: that one is refused, the others
        //  may still be the cluster's
        self->skipped [self->current] = true;
        if (self->verbose)
            zsys_info ("chat: %s", why);
        cl_event_t event = { .kind = CL_EV_LINK_SKIPPED, .server = self->server,
                             .code = code, .text = why, .fingerprint = offered,
                             .pinned = pinned, .endpoint = s_endpoint (self) };
        cl_listener_emit (&self->listener, &event);
        cl_link_reset (self, code, why);
        return;
    }
    channel_destroy (&self->channel);
    s_disconnect (self);
    self->state = CL_LINK_REFUSED;
    self->problem_code = code;
    free (self->problem);
    self->problem = cl_strdup (why);
    if (self->verbose)
        zsys_info ("chat: %s", why);
    cl_event_t event = { .kind = CL_EV_LINK_REFUSED, .server = self->server,
                         .code = code, .text = why,
                         .fingerprint = offered, .pinned = pinned };
    cl_listener_emit (&self->listener, &event);
}

//  The pinned key was replaced: when the Welcome's signed info carries a
//  statement by the pinned key naming the offered one, the pin moves (in
//  the file, or for this run when it came from the command line) and the
//  listener hears of it. True when it did.
static bool
s_pin_move (cl_link_t *self, const char *offered, const char *pinned)
{
    size_t len = 0;
    const uint8_t *rotation = channel_peer_rotation (self->channel, &len);
    if (!rotation)
        return false;
    keyrotation_result_t result = keyrotation_check (rotation, len, pinned, offered, NULL);
    if (result != KEYROTATION_OK) {
        if (self->verbose)
            zsys_info ("chat: the %s's key rotation statement is refused: %s",
                       self->role, keyrotation_strerror (result));
        return false;
    }
    //  pinned may live in the pin store, which the move changes
    char *old = strdup (pinned);
    char *problem = NULL;
    if (self->pin) {
        free (self->pin);
        self->pin = strdup (offered);
        problem = cl_format ("the %s's key given on the command line was replaced: "
                             "give %s from now on", self->role, offered);
    }
    else {
        //  every endpoint of the cluster that was pinned to the old key
        pinstore_begin (self->pins);
        for (size_t i = 0; i < self->count; i++) {
            const char *name = s_pin_name_at (self, i);
            if (i == self->current
            ||  pinstore_check (self->pins, name, old, NULL) == PIN_MATCH)
                pinstore_add (self->pins, name, offered);
        }
        if (pinstore_commit (self->pins) != 0)
            problem = cl_format ("could not save the moved pin to %s",
                                 pinstore_path (self->pins));
    }
    if (self->verbose)
        zsys_info ("chat: the %s's key %s was replaced by %s (signed by the old key): "
                   "pin moved", self->role, old, offered);
    cl_event_t event = { .kind = CL_EV_LINK_PIN_MOVED, .server = self->server,
                         .fingerprint = offered, .pinned = old, .text = problem };
    cl_listener_emit (&self->listener, &event);
    free (problem);
    free (old);
    return true;
}

//  The pin file's word on the endpoint in use: its own line, else the
//  first line of another endpoint of the list (one cluster, one key).
//  *from: the name the pin on file is filed under.
static pin_result_t
s_pin_lookup (cl_link_t *self, const char *offered, const char **pinned,
              const char **from)
{
    *from = s_pin_name_at (self, self->current);
    pin_result_t result = pinstore_check (self->pins, *from, offered, pinned);
    for (size_t i = 0; i < self->count && result == PIN_UNKNOWN && !self->pin_name; i++)
        if (i != self->current) {
            *from = s_pin_name_at (self, i);
            result = pinstore_check (self->pins, *from, offered, pinned);
        }
    if (result == PIN_MATCH && !streq (*from, s_pin_name_at (self, self->current)))
        //  the cluster's key, on an endpoint not filed yet: file it too
        pinstore_add (self->pins, s_pin_name_at (self, self->current), offered);
    return result;
}

//  First use: the key is pinned for every endpoint of the list. 0 or -1.
static int
s_pin_all (cl_link_t *self, const char *offered)
{
    pinstore_begin (self->pins);
    for (size_t i = 0; i < self->count; i++)
        if (pinstore_check (self->pins, s_pin_name_at (self, i), offered, NULL) == PIN_UNKNOWN)
            pinstore_add (self->pins, s_pin_name_at (self, i), offered);
    return pinstore_commit (self->pins);
}

//  The server's key against the pin. True when it may be used; a new pin
//  is saved and said, a pin moved by the server's key rotation too.
static bool
s_pin_check (cl_link_t *self)
{
    const char *offered = channel_peer_fingerprint_text (self->channel);
    const char *pinned = NULL;
    const char *from = NULL;
    pin_result_t result;
    if (self->pin) {
        result = streq (offered, self->pin) ? PIN_MATCH : PIN_MISMATCH;
        pinned = self->pin;
    }
    else
        result = s_pin_lookup (self, offered, &pinned, &from);

    if (result == PIN_MATCH)
        return true;
    if (result == PIN_UNKNOWN) {
        char *problem = NULL;
        if (s_pin_all (self, offered) != 0)
            problem = cl_format ("could not save the pin to %s", pinstore_path (self->pins));
        cl_event_t event = { .kind = CL_EV_LINK_PIN_NEW, .server = self->server,
                             .fingerprint = offered, .text = problem };
        cl_listener_emit (&self->listener, &event);
        free (problem);
        return true;
    }
    if (pinned && s_pin_move (self, offered, pinned))
        return true;
    char *why = cl_format (
        "the %s at %s offers key %s but %s was pinned%s%s; refusing it "
        "(if the server's key really changed, remove its line from %s)",
        self->role, s_endpoint (self), offered, pinned ? pinned : "?",
        self->pin ? " on the command line" : " for ", self->pin ? "" : from,
        self->pin ? "the command line" : pinstore_path (self->pins));
    char *offered_copy = strdup (offered);
    char *pinned_copy = cl_strdup (pinned);
    s_refuse (self, CHAT_ERR_PIN_MISMATCH, why, offered_copy, pinned_copy);
    free (offered_copy);
    free (pinned_copy);
    free (why);
    return false;
}

//  ---------------------------------------------------------------- frames

static void
s_on_welcome (cl_link_t *self, const uint8_t *data, size_t size)
{
    int rc = channel_client_accept (self->channel, data, size);
    if (rc == CHAT_ERR_WRONG_ROLE) {
        //  the user's configuration, not the network: retrying cannot help
        char *why = cl_format (
            "the server at %s is not a %s (its signed Welcome names another role): "
            "are the key server and main server endpoints the wrong way round?",
            s_endpoint (self), self->server == CHATCLIENT_KEYSERVER ? "key server"
                                                                 : "main server");
        s_refuse (self, rc, why, NULL, NULL);
        free (why);
    }
    else
    if (rc != CHAT_OK) {
        char *why = cl_format ("handshake failed: %s", chat_strerror (rc));
        cl_link_reset (self, rc, why);
        free (why);
    }
    else
    if (s_pin_check (self))
        s_opened (self);
}

static void
s_on_error (cl_link_t *self, Chat__Error *error)
{
    int code = (int) error->code;
    if (self->state == CL_LINK_HELLO) {
        char *why = cl_format ("server refused the handshake: %s", chat_strerror (code));
        if (error->retry_after_ms > (uint32_t) self->backoff)
            self->backoff = error->retry_after_ms > CL_LINK_BACKOFF_MAX_MS
                          ? CL_LINK_BACKOFF_MAX_MS : (int) error->retry_after_ms;
        cl_link_reset (self, code, why);
        free (why);
    }
    else
    if (self->state == CL_LINK_OPEN && code == CHAT_ERR_UNKNOWN_SESSION) {
        self->backoff = CL_LINK_BACKOFF_MIN_MS;
        cl_link_reset (self, code, "the server does not know our session (restarted?)");
    }
    else
    if (self->state == CL_LINK_OPEN && self->verbose)
        zsys_info ("chat: %s refused a frame: %s", self->role, chat_strerror (code));
}

static void
s_on_sealed (cl_link_t *self, Chat__Sealed *sealed)
{
    if (self->state != CL_LINK_OPEN || !sealed->token
    ||  sealed->session_id.len != CHANNEL_SESSION_ID_SIZE
    ||  memcmp (sealed->session_id.data, channel_session_id (self->channel),
                CHANNEL_SESSION_ID_SIZE) != 0)
        return;
    uint8_t *payload = NULL;
    size_t len = 0;
    if (channel_open (self->channel, sealed->token, strlen (sealed->token),
                      &payload, &len) != CHAT_OK)
        return;
    cl_event_t event = { .kind = CL_EV_LINK_REPLY, .server = self->server,
                         .data = payload, .size = len };
    cl_listener_emit (&self->listener, &event);
    secret_wipe (payload, len);
    free (payload);
}

//  One frame from the server's DEALER.
static void
s_frame (cl_link_t *self, const uint8_t *data, size_t size)
{
    Chat__Envelope *env = NULL;
    if (wire_envelope_unpack (data, size, &env) != CHAT_OK)
        return;
    switch (env->kind_case) {
        case CHAT__ENVELOPE__KIND_WELCOME:
            if (self->state == CL_LINK_HELLO)
                s_on_welcome (self, data, size);
            break;
        case CHAT__ENVELOPE__KIND_ERROR:
            s_on_error (self, env->error);
            break;
        case CHAT__ENVELOPE__KIND_SEALED:
            s_on_sealed (self, env->sealed);
            break;
        case CHAT__ENVELOPE__KIND_HELLO:
            //  our own Hello came back: with no server listening, TCP on
            //  loopback can connect a socket to itself (same port both
            //  ends). Drop that connection at once, which frees the port
            //  for the server coming back.
            if (self->state == CL_LINK_HELLO) {
                self->backoff = CL_LINK_BACKOFF_MIN_MS;
                cl_link_reset (self, CHATCLIENT_ERR_CONNECTION,
                               "connected to itself; the server is not up yet");
                s_disconnect (self);
            }
            break;
        default:
            break;
    }
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) env, NULL);
}

static void
s_read_dealer (cl_link_t *self)
{
    while (zsock_events (self->sock) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (self->sock);
        if (!msg)
            break;
        zframe_t *frame = zmsg_first (msg);
        if (frame && zmsg_size (msg) == 1)
            s_frame (self, zframe_data (frame), zframe_size (frame));
        zmsg_destroy (&msg);
    }
}

//  A push: topic (our session token) and the sealed body.
static void
s_read_push (cl_link_t *self)
{
    while (zsock_events (self->push) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (self->push);
        if (!msg)
            break;
        zmsg_first (msg);
        zframe_t *body = zmsg_next (msg);
        uint8_t *payload = NULL;
        size_t len = 0;
        if (zmsg_size (msg) == 2 && body && self->state == CL_LINK_OPEN
        &&  channel_open_push (self->channel, zframe_data (body), zframe_size (body),
                               &payload, &len) == CHAT_OK) {
            cl_event_t event = { .kind = CL_EV_LINK_PUSH, .server = self->server,
                                 .data = payload, .size = len };
            cl_listener_emit (&self->listener, &event);
            secret_wipe (payload, len);
            free (payload);
        }
        zmsg_destroy (&msg);
    }
}

//  What the monitor saw: a connection that closed before it was made
//  (refused: nothing listening there), or one that dropped
static void
s_read_monitor (cl_link_t *self)
{
    bool refused = false, dropped = false;
    while (zsock_events (self->monitor) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (self->monitor);
        if (!msg)
            break;
        zframe_t *frame = zmsg_first (msg);
        uint16_t event = 0;
        if (frame && zframe_size (frame) >= 2)
            memcpy (&event, zframe_data (frame), 2);
        if (event == ZMQ_EVENT_CLOSED)
            refused = true;
        if (event == ZMQ_EVENT_DISCONNECTED)
            dropped = true;
        zmsg_destroy (&msg);
    }
    if (dropped && (self->state == CL_LINK_OPEN || self->state == CL_LINK_HELLO)) {
        char *why = cl_format ("lost the connection to %s", s_endpoint (self));
        self->backoff = CL_LINK_BACKOFF_MIN_MS;
        cl_link_reset (self, CHATCLIENT_ERR_CONNECTION, why);
        free (why);
    }
    else
    if (refused && self->state == CL_LINK_HELLO) {
        char *why = cl_format ("nothing is listening at %s: is chat-%s running?",
                               s_endpoint (self), self->role);
        cl_link_reset (self, CHATCLIENT_ERR_UNREACHABLE, why);
        free (why);
    }
}

//  ---------------------------------------------------------------- loop

int
cl_link_send (cl_link_t *self, const uint8_t *payload, size_t len)
{
    if (self->state != CL_LINK_OPEN)
        return -1;
    uint8_t *frame = NULL;
    size_t size = 0;
    if (channel_seal (self->channel, payload, len, &frame, &size) != CHAT_OK)
        return -1;
    int rc = s_send_frame (self, frame, size);
    free (frame);
    return rc;
}

size_t
cl_link_sockets (cl_link_t *self, zsock_t **socks, size_t max)
{
    zsock_t *all [] = { self->sock, self->push, self->monitor };
    size_t count = 0;
    for (size_t i = 0; i < sizeof (all) / sizeof (all [0]); i++)
        if (all [i] && count < max)
            socks [count++] = all [i];
    return count;
}

bool
cl_link_handle (cl_link_t *self, void *which)
{
    if (!which)
        return false;
    if (which == self->sock)
        s_read_dealer (self);
    else
    if (self->push && which == self->push)
        s_read_push (self);
    else
    if (self->monitor && which == self->monitor)
        s_read_monitor (self);
    else
        return false;
    return true;
}

void
cl_link_tick (cl_link_t *self, int64_t now)
{
    if (self->state == CL_LINK_DOWN && now >= self->retry_at)
        cl_link_attempt (self);
    else
    if (self->state == CL_LINK_HELLO && now >= self->deadline) {
        char *why = cl_format ("no answer from %s: is chat-%s running there?",
                               s_endpoint (self), self->role);
        cl_link_reset (self, CHATCLIENT_ERR_TIMEOUT, why);
        free (why);
    }
}

int64_t
cl_link_due (cl_link_t *self, int64_t due)
{
    if (self->state == CL_LINK_DOWN && self->retry_at < due)
        due = self->retry_at;
    if (self->state == CL_LINK_HELLO && self->deadline < due)
        due = self->deadline;
    return due;
}

//  ---------------------------------------------------------------- views

cl_link_state_t
cl_link_state (cl_link_t *self)
{
    return self->state;
}

chatclient_server_t
cl_link_server (cl_link_t *self)
{
    return self->server;
}

const char *
cl_link_role (cl_link_t *self)
{
    return self->role;
}

const char *
cl_link_endpoint (cl_link_t *self)
{
    return s_endpoint (self);
}

const char *
cl_link_pin_name (cl_link_t *self)
{
    return s_pin_name_at (self, self->current);
}

size_t
cl_link_endpoint_count (cl_link_t *self)
{
    return self->count;
}

const char *
cl_link_endpoint_at (cl_link_t *self, size_t index)
{
    return index < self->count? self->endpoints [index]: NULL;
}

const char *
cl_link_fingerprint (cl_link_t *self)
{
    return self->fingerprint;
}

const char *
cl_link_problem (cl_link_t *self, int *code)
{
    //  while an attempt is under way, what the last one met is old news
    if (!self->problem || (self->state != CL_LINK_DOWN && self->state != CL_LINK_REFUSED))
        return NULL;
    if (code)
        *code = self->problem_code;
    return self->problem;
}

const char *
cl_link_push_endpoint (cl_link_t *self)
{
    return self->push_endpoint;
}

int
cl_link_refusal (cl_link_t *self, const char **text)
{
    if (text)
        *text = self->state == CL_LINK_REFUSED? self->problem: NULL;
    return self->state == CL_LINK_REFUSED? self->problem_code: 0;
}
