/*  chat-tap - a relay between clients and one server that shows every
    frame crossing it, as anyone on the wire could read it

    Request channel: a ROUTER faces the clients; each distinct client routing
    id gets its own DEALER to the server, so the server still sees one peer
    per client and replies find their way back. Push channel: an XSUB
    connected to the server's PUB and an XPUB bound for the clients, with
    subscriptions passed through. The tap holds no key: what it prints is
    what the wire shows.
*/
#include <czmq.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tapframe.h"
#include "taplog.h"
#include "wire.h"

#define DEFAULT_MAX_CLIENTS 256
//  Sessions remembered to name the client of a push; forgotten in bulk
//  past this (a name is only a convenience).
#define MAX_SESSIONS 65536

typedef struct {
    zsock_t *dealer;                //  to the server, for this client only
    zframe_t *routing_id;           //  the client's id on our ROUTER
    char label [16];                //  "c1", "c2", ...
    int64_t last_active;            //  ms, to evict the quietest at the cap
} peer_t;

typedef struct {
    const char *to;                 //  server request endpoint
    zsock_t *router;                //  clients' side
    zsock_t *xpub;                  //  clients' side of the push channel
    zsock_t *xsub;                  //  server's side of the push channel
    zhashx_t *peers;                //  routing id hex -> peer_t (owned)
    zhashx_t *sessions;             //  session id hex -> client label
    unsigned int next_client;
    size_t max_clients;
    taplog_t *log;
    //  What we poll: rebuilt when the set of peers changes.
    zmq_pollitem_t *items;
    peer_t **item_peers;            //  parallel to items, NULL for our sockets
    size_t item_count;
    bool dirty;
} tap_t;

static void
s_peer_destroy (peer_t **self_p)
{
    if (*self_p) {
        peer_t *self = *self_p;
        zsock_destroy (&self->dealer);
        zframe_destroy (&self->routing_id);
        free (self);
        *self_p = NULL;
    }
}

static void
s_peer_free (void **item)
{
    s_peer_destroy ((peer_t **) item);
}

static void
s_string_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  Options every socket of the tap gets: never block a send (a slow or
//  gone peer loses the message, the tap goes on), never linger at exit,
//  never take a frame the servers would refuse.
static void
s_socket_options (zsock_t *sock)
{
    zsock_set_linger (sock, 0);
    zsock_set_sndtimeo (sock, 0);
    zsock_set_maxmsgsize (sock, WIRE_MAX_FRAME);
}

static int
s_rebuild (tap_t *self)
{
    size_t count = 3 + zhashx_size (self->peers);
    zmq_pollitem_t *items = calloc (count, sizeof *items);
    peer_t **item_peers = calloc (count, sizeof *item_peers);
    if (!items || !item_peers) {
        free (items);
        free (item_peers);
        return -1;
    }
    size_t n = 0;
    zsock_t *own [] = { self->router, self->xpub, self->xsub };
    for (size_t i = 0; i < 3; i++)
        if (own [i])
            items [n++] = (zmq_pollitem_t) { zsock_resolve (own [i]), 0, ZMQ_POLLIN, 0 };
    for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
         peer = (peer_t *) zhashx_next (self->peers)) {
        item_peers [n] = peer;
        items [n++] = (zmq_pollitem_t) { zsock_resolve (peer->dealer), 0, ZMQ_POLLIN, 0 };
    }
    free (self->items);
    free (self->item_peers);
    self->items = items;
    self->item_peers = item_peers;
    self->item_count = n;
    self->dirty = false;
    return 0;
}

//  Frames of a message as arrays, for tapframe and taplog (borrowed from
//  msg). Returns the count; the arrays are malloc'd.
static size_t
s_frames (zmsg_t *msg, const uint8_t ***frames, size_t **sizes)
{
    size_t count = zmsg_size (msg);
    *frames = calloc (count? count: 1, sizeof **frames);
    *sizes = calloc (count? count: 1, sizeof **sizes);
    if (!*frames || !*sizes) {
        free (*frames);
        free (*sizes);
        *frames = NULL;
        *sizes = NULL;
        return 0;
    }
    size_t i = 0;
    for (zframe_t *frame = zmsg_first (msg); frame; frame = zmsg_next (msg), i++) {
        (*frames) [i] = zframe_data (frame);
        (*sizes) [i] = zframe_size (frame);
    }
    return count;
}

static void
s_remember_session (tap_t *self, const char *session, const char *label)
{
    if (!session [0])
        return;
    if (zhashx_size (self->sessions) >= MAX_SESSIONS)
        zhashx_purge (self->sessions);
    char *copy = strdup (label);
    if (copy)
        zhashx_update (self->sessions, session, copy);
}

//  Classify, log, and count one message; dir is "C>S" or "S>C".
static void
s_show (tap_t *self, const char *channel, const char *dir, const char *client,
        zmsg_t *msg, tapframe_t *info)
{
    const uint8_t **frames;
    size_t *sizes;
    size_t count = s_frames (msg, &frames, &sizes);
    if (streq (channel, "request"))
        tapframe_request (frames, sizes, count, info);
    else
    if (streq (dir, "S>C"))
        tapframe_push (frames, sizes, count, info);
    else
        tapframe_subscription (frames, sizes, count, info);

    if (!client) {
        //  A push names its session in clear; the request channel told us
        //  whose session that is.
        client = info->session [0]?
            (const char *) zhashx_lookup (self->sessions, info->session): NULL;
        if (!client)
            client = "-";
    }
    taplog_message (self->log, channel, dir, client, info, frames, sizes);
    free (frames);
    free (sizes);
}

static void
s_send (zmsg_t **msg_p, zsock_t *dest, const char *what)
{
    if (zmsg_send (msg_p, dest) != 0)
        fprintf (stderr, "chat-tap: could not pass a message %s (%s), dropped\n",
                 what, zmq_strerror (zmq_errno ()));
    zmsg_destroy (msg_p);
}

static peer_t *
s_peer_new (tap_t *self, zframe_t *routing_id)
{
    if (zhashx_size (self->peers) >= self->max_clients) {
        //  At the cap the quietest client loses its server connection; its
        //  session lives on (sessions go by id, not by connection) and a
        //  later frame from it gets a new one.
        peer_t *oldest = NULL;
        const char *oldest_key = NULL;
        for (peer_t *peer = (peer_t *) zhashx_first (self->peers); peer;
             peer = (peer_t *) zhashx_next (self->peers))
            if (!oldest || peer->last_active < oldest->last_active) {
                oldest = peer;
                oldest_key = (const char *) zhashx_cursor (self->peers);
            }
        if (oldest) {
            fprintf (stderr, "chat-tap: %zu clients, closing the quietest (%s)\n",
                     self->max_clients, oldest->label);
            char *key = strdup (oldest_key);
            zhashx_delete (self->peers, key);
            free (key);
        }
    }
    peer_t *peer = calloc (1, sizeof *peer);
    if (!peer)
        return NULL;
    peer->dealer = zsock_new (ZMQ_DEALER);
    if (!peer->dealer) {
        free (peer);
        return NULL;
    }
    s_socket_options (peer->dealer);
    if (zsock_connect (peer->dealer, "%s", self->to) != 0) {
        fprintf (stderr, "chat-tap: cannot connect to %s\n", self->to);
        s_peer_destroy (&peer);
        return NULL;
    }
    peer->routing_id = zframe_dup (routing_id);
    snprintf (peer->label, sizeof peer->label, "c%u", ++self->next_client);
    self->dirty = true;
    return peer;
}

static void
s_from_client (tap_t *self)
{
    zmsg_t *msg = zmsg_recv (self->router);
    if (!msg)
        return;
    zframe_t *routing_id = zmsg_pop (msg);
    if (!routing_id) {
        zmsg_destroy (&msg);
        return;
    }
    char *key = zframe_strhex (routing_id);
    peer_t *peer = key? (peer_t *) zhashx_lookup (self->peers, key): NULL;
    if (key && !peer) {
        peer = s_peer_new (self, routing_id);
        if (peer)
            zhashx_insert (self->peers, key, peer);
    }
    free (key);
    zframe_destroy (&routing_id);
    if (!peer) {
        zmsg_destroy (&msg);
        return;
    }
    peer->last_active = zclock_mono ();
    tapframe_t info;
    s_show (self, "request", "C>S", peer->label, msg, &info);
    if (info.kind == TAPFRAME_SEALED)
        s_remember_session (self, info.session, peer->label);
    s_send (&msg, peer->dealer, "to the server");
}

static void
s_from_server (tap_t *self, peer_t *peer)
{
    zmsg_t *msg = zmsg_recv (peer->dealer);
    if (!msg)
        return;
    peer->last_active = zclock_mono ();
    tapframe_t info;
    s_show (self, "request", "S>C", peer->label, msg, &info);
    if (info.kind == TAPFRAME_WELCOME)
        s_remember_session (self, info.session, peer->label);
    zframe_t *routing_id = zframe_dup (peer->routing_id);
    zmsg_prepend (msg, &routing_id);
    s_send (&msg, self->router, "to a client");
}

static void
s_relay_push (tap_t *self, zsock_t *from, zsock_t *to, const char *dir)
{
    zmsg_t *msg = zmsg_recv (from);
    if (!msg)
        return;
    tapframe_t info;
    s_show (self, "push", dir, NULL, msg, &info);
    s_send (&msg, to, streq (dir, "S>C")? "to the subscribers": "to the server");
}

static int
s_bind (zsock_t *sock, const char *endpoint, const char *what)
{
    if (zsock_bind (sock, "%s", endpoint) == -1) {
        fprintf (stderr, "chat-tap: cannot listen for %s on %s: %s\n",
                 what, endpoint, zmq_strerror (zmq_errno ()));
        return -1;
    }
    return 0;
}

static int
s_run (tap_t *self)
{
    while (!zsys_interrupted) {
        if (self->dirty && s_rebuild (self) != 0) {
            fprintf (stderr, "chat-tap: out of memory\n");
            return -1;
        }
        int rc = zmq_poll (self->items, (int) self->item_count, 1000);
        if (rc == -1) {
            if (zmq_errno () == EINTR)
                continue;
            fprintf (stderr, "chat-tap: poll failed: %s\n", zmq_strerror (zmq_errno ()));
            return -1;
        }
        for (size_t i = 0; i < self->item_count && !self->dirty; i++) {
            if (!(self->items [i].revents & ZMQ_POLLIN))
                continue;
            void *handle = self->items [i].socket;
            if (self->item_peers [i])
                s_from_server (self, self->item_peers [i]);
            else
            if (self->router && handle == zsock_resolve (self->router))
                s_from_client (self);
            else
            if (self->xpub && handle == zsock_resolve (self->xpub))
                s_relay_push (self, self->xpub, self->xsub, "C>S");
            else
            if (self->xsub && handle == zsock_resolve (self->xsub))
                s_relay_push (self, self->xsub, self->xpub, "S>C");
            //  A new peer changes the poll set: poll again before going on
            //  (zmq_poll is level-triggered, nothing is lost).
        }
    }
    return 0;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "Usage: chat-tap [OPTIONS]\n"
        "Relay between clients and one chat server, showing every frame as\n"
        "anyone on the wire sees it (the tap holds no key).\n"
        "\n"
        "  -l, --listen EP        request channel: endpoint for clients (ROUTER)\n"
        "  -t, --to EP            request channel: the server's endpoint\n"
        "      --push-listen EP   push channel: endpoint for subscribers (XPUB)\n"
        "      --push-to EP       push channel: the server's PUB endpoint (XSUB)\n"
        "  -x, --hex              dump every frame like Wireshark's bytes pane\n"
        "  -j, --json             one JSON object per message\n"
        "  -s, --summary          print frames and bytes per kind on exit\n"
        "      --max-clients N    server connections kept at once (default %d)\n"
        "  -h, --help             this help\n"
        "  -V, --version          print the version\n"
        "\n"
        "Give --listen with --to, --push-listen with --push-to, or both pairs.\n"
        "Endpoints may use a wildcard port (tcp://127.0.0.1:*); the bound ones\n"
        "are printed on stderr. One line per message on stdout:\n"
        "  TIME DIR CLIENT KIND SIZE DETAIL\n"
        "DIR is C>S or S>C; KIND is hello, welcome, sealed, error, push,\n"
        "subscribe, unsubscribe or garbage. Stops on SIGINT or SIGTERM.\n"
        "Exit status: 0 stopped by a signal, 1 failure, 2 usage error.\n",
        DEFAULT_MAX_CLIENTS);
}

int
main (int argc, char *argv [])
{
    const char *listen = NULL, *to = NULL, *push_listen = NULL, *push_to = NULL;
    int flags = 0;
    bool summary = false;
    long max_clients = DEFAULT_MAX_CLIENTS;
    enum { OPT_PUSH_LISTEN = 256, OPT_PUSH_TO, OPT_MAX_CLIENTS };
    static const struct option options [] = {
        { "listen", required_argument, NULL, 'l' },
        { "to", required_argument, NULL, 't' },
        { "push-listen", required_argument, NULL, OPT_PUSH_LISTEN },
        { "push-to", required_argument, NULL, OPT_PUSH_TO },
        { "hex", no_argument, NULL, 'x' },
        { "json", no_argument, NULL, 'j' },
        { "summary", no_argument, NULL, 's' },
        { "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "l:t:xjshV", options, NULL)) != -1) {
        switch (opt) {
            case 'l': listen = optarg; break;
            case 't': to = optarg; break;
            case OPT_PUSH_LISTEN: push_listen = optarg; break;
            case OPT_PUSH_TO: push_to = optarg; break;
            case 'x': flags |= TAPLOG_HEX; break;
            case 'j': flags |= TAPLOG_JSON; break;
            case 's': summary = true; break;
            case OPT_MAX_CLIENTS: {
                char *end;
                max_clients = strtol (optarg, &end, 10);
                if (*end || max_clients < 1 || max_clients > 100000) {
                    fprintf (stderr, "chat-tap: --max-clients wants 1..100000\n");
                    return 2;
                }
                break;
            }
            case 'h': s_usage (stdout); return 0;
            case 'V': printf ("chat-tap %s\n", CHAT_VERSION); return 0;
            default:
                fprintf (stderr, "Try 'chat-tap --help'.\n");
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "chat-tap: unexpected argument '%s'\nTry 'chat-tap --help'.\n",
                 argv [optind]);
        return 2;
    }
    if (!!listen != !!to || !!push_listen != !!push_to || (!listen && !push_listen)) {
        fprintf (stderr, "chat-tap: give --listen with --to, --push-listen with "
                         "--push-to, or both\nTry 'chat-tap --help'.\n");
        return 2;
    }

    //  Leave the default signal handling to CZMQ: SIGINT and SIGTERM set
    //  zsys_interrupted and interrupt the poll.
    zsys_init ();
    zsys_set_max_sockets ((size_t) max_clients + 16);

    tap_t tap = { 0 };
    tap.to = to;
    tap.max_clients = (size_t) max_clients;
    tap.dirty = true;
    tap.peers = zhashx_new ();
    tap.sessions = zhashx_new ();
    tap.log = taplog_new (stdout, flags);
    int rc = 1;
    if (!tap.peers || !tap.sessions || !tap.log)
        goto done;
    zhashx_set_destructor (tap.peers, s_peer_free);
    zhashx_set_destructor (tap.sessions, s_string_free);

    if (listen) {
        tap.router = zsock_new (ZMQ_ROUTER);
        if (!tap.router)
            goto done;
        s_socket_options (tap.router);
        if (s_bind (tap.router, listen, "clients") != 0)
            goto done;
        fprintf (stderr, "chat-tap: request listen=%s to=%s\n",
                 zsock_endpoint (tap.router), to);
    }
    if (push_listen) {
        tap.xpub = zsock_new (ZMQ_XPUB);
        tap.xsub = zsock_new (ZMQ_XSUB);
        if (!tap.xpub || !tap.xsub)
            goto done;
        s_socket_options (tap.xpub);
        s_socket_options (tap.xsub);
        //  Pass every subscribe and unsubscribe, one per subscriber, so the
        //  server's own counting stays right and each one is shown.
        int on = 1;
        zmq_setsockopt (zsock_resolve (tap.xpub), ZMQ_XPUB_VERBOSER, &on, sizeof on);
        if (s_bind (tap.xpub, push_listen, "subscribers") != 0)
            goto done;
        if (zsock_connect (tap.xsub, "%s", push_to) != 0) {
            fprintf (stderr, "chat-tap: cannot connect to %s\n", push_to);
            goto done;
        }
        fprintf (stderr, "chat-tap: push listen=%s to=%s\n",
                 zsock_endpoint (tap.xpub), push_to);
    }
    fprintf (stderr, "chat-tap: ready\n");
    if (s_run (&tap) == 0) {
        rc = 0;
        if (summary)
            taplog_summary (tap.log);
    }
done:
    zhashx_destroy (&tap.peers);
    zhashx_destroy (&tap.sessions);
    zsock_destroy (&tap.router);
    zsock_destroy (&tap.xpub);
    zsock_destroy (&tap.xsub);
    taplog_destroy (&tap.log);
    free (tap.items);
    free (tap.item_peers);
    return rc;
}
