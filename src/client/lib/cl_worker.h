/*  cl_worker - a thread for the client's slow work (the PBKDF2 of
    registration and of a SCRAM login), so that the caller's loop never
    waits for it

    A job is a function and a pointer: the function runs on the worker's
    thread with the pointer, which then comes back on the worker's socket,
    in the order the jobs went. While a job is at the worker, only the
    worker touches what its pointer points to.
*/
#ifndef CL_WORKER_H_INCLUDED
#define CL_WORKER_H_INCLUDED

#include <czmq.h>

typedef struct _cl_worker_t cl_worker_t;

//  The slow step, run on the worker's thread.
typedef void (cl_worker_fn) (void *job);

//  Start the thread. NULL when it cannot be started.
cl_worker_t *
    cl_worker_new (void);
//  Stop and join the thread; jobs not yet handed back stay the caller's
//  (the thread is gone, nothing touches them any more).
void
    cl_worker_destroy (cl_worker_t **self_p);

//  Hand a job over. 0, or -1 when it could not be (it stays the caller's).
int
    cl_worker_submit (cl_worker_t *self, cl_worker_fn *fn, void *job);

//  The socket to poll: readable when a job is done.
zsock_t *
    cl_worker_sock (cl_worker_t *self);
//  A finished job (the caller's again), or NULL when none is waiting.
void *
    cl_worker_recv (cl_worker_t *self);

#endif
