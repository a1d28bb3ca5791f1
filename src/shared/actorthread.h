/*  actorthread - run a CZMQ actor on a thread that is joined when it stops

    zactor_destroy returns as soon as the actor has signalled that it is
    done, a moment before its thread closes the pipe; a program that exits
    right then finds a socket still open, and CZMQ's exit handler waits
    200 ms for it. The servers' main() uses this instead, so that a stop
    returns only when every socket of the actor is closed.

    The actor function is the same as for zactor_new: it signals once when
    ready and returns on "$TERM".
*/
#ifndef ACTORTHREAD_H_INCLUDED
#define ACTORTHREAD_H_INCLUDED

#include <czmq.h>

typedef struct _actorthread_t actorthread_t;

//  Start the actor and wait until it is ready. NULL on failure.
actorthread_t *
    actorthread_new (zactor_fn *actor, void *args);

//  Send "$TERM" and join the thread.
void
    actorthread_destroy (actorthread_t **self_p);

//  Our end of the actor's pipe: send commands, read answers, poll it.
zsock_t *
    actorthread_sock (actorthread_t *self);

#endif
