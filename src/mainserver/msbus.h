/*  msbus - the listening side of a cluster's doorbell (DESIGN.md section
    11): N main servers on one PostgreSQL database serve as one system

    Every server LISTENs on MSBELL_CHANNEL on a connection of its own
    (application_name "chat-mainserver listen"), whose socket is in the
    actor's poller. A doorbell from another server (msbell.h: the messages
    and the conversations a batch committed) makes it read, for the
    conversations that have members logged in here only, the rows after
    the last seq it pushed, and push them to its sessions with the very
    frames a message sent here gets; a created or changed conversation's
    summary goes out as a change made here does. Its own doorbells (same
    backend pid as its store's connection) it ignores.

    NOTIFY is at most once: when the listening connection breaks, it
    connects again (backing off from 100 ms to 5 s, never blocking the
    actor: libpq's non-blocking connect, driven by msbus_tick), and once it
    listens again it catches up: for every conversation of every user
    logged in here, the store's last seq against the last pushed. Clients'
    gap fetching covers the rest (a conversation changed while the bus was
    down reaches them at their next listing).
*/
#ifndef MSBUS_H_INCLUDED
#define MSBUS_H_INCLUDED

#include <czmq.h>
#include "msctx.h"
#include "msoutbox.h"

#define MSBUS_APPLICATION "chat-mainserver listen"
#define MSBUS_READ_MAX 256              //  messages read per conversation and doorbell

typedef struct _msbus_t msbus_t;

//  Start listening on the database url names (connecting in the
//  background); the socket goes into poller while connected.
msbus_t *
    msbus_new (const char *url, zpoller_t *poller);
void
    msbus_destroy (msbus_t **self_p);

//  Whether which (zpoller_wait's answer) is the bus's socket.
bool
    msbus_is (msbus_t *self, void *which);
//  The socket is readable: take the doorbells and push what they ring for.
void
    msbus_readable (msbus_t *self, msctx_t *ctx, msoutbox_t *outbox);
//  Drive a (re)connection; the ms until it wants to be called again, or
//  -1 when connected.
int
    msbus_tick (msbus_t *self, msctx_t *ctx, msoutbox_t *outbox);
//  Whether it listens now (for the admin screens and tests).
bool
    msbus_listening (msbus_t *self);

#endif
