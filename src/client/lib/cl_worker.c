/*  cl_worker - a thread for the client's slow work; see cl_worker.h
*/
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include "cl_worker.h"

struct _cl_worker_t {
    zactor_t *actor;
};

static void
s_actor (zsock_t *pipe, void *args)
{
    (void) args;
    zsock_signal (pipe, 0);
    while (true) {
        zmsg_t *msg = zmsg_recv (pipe);
        if (!msg)
            break;
        char *command = zmsg_popstr (msg);
        bool term = !command || streq (command, "$TERM");
        if (!term && streq (command, "JOB")) {
            //  the function and the pointer, each as its own bytes
            zframe_t *fn_frame = zmsg_pop (msg);
            zframe_t *job_frame = zmsg_pop (msg);
            cl_worker_fn *fn = NULL;
            void *job = NULL;
            if (fn_frame && zframe_size (fn_frame) == sizeof (fn)
            &&  job_frame && zframe_size (job_frame) == sizeof (job)) {
                memcpy (&fn, zframe_data (fn_frame), sizeof (fn));
                memcpy (&job, zframe_data (job_frame), sizeof (job));
            }
            zframe_destroy (&fn_frame);
            zframe_destroy (&job_frame);
            if (fn) {
                fn (job);
                zsock_send (pipe, "p", job);
            }
        }
        free (command);
        zmsg_destroy (&msg);
        if (term)
            break;
    }
    //  this thread's OpenSSL state, which would otherwise outlive it
    OPENSSL_thread_stop ();
}

cl_worker_t *
cl_worker_new (void)
{
    cl_worker_t *self = calloc (1, sizeof (cl_worker_t));
    assert (self);
    self->actor = zactor_new (s_actor, NULL);
    if (!self->actor) {
        free (self);
        return NULL;
    }
    return self;
}

void
cl_worker_destroy (cl_worker_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cl_worker_t *self = *self_p;
    zactor_destroy (&self->actor);
    free (self);
    *self_p = NULL;
}

int
cl_worker_submit (cl_worker_t *self, cl_worker_fn *fn, void *job)
{
    assert (fn);
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "JOB");
    zmsg_addmem (msg, &fn, sizeof (fn));
    zmsg_addmem (msg, &job, sizeof (job));
    if (zmsg_send (&msg, self->actor) != 0) {
        zmsg_destroy (&msg);
        return -1;
    }
    return 0;
}

zsock_t *
cl_worker_sock (cl_worker_t *self)
{
    return zactor_sock (self->actor);
}

void *
cl_worker_recv (cl_worker_t *self)
{
    if (!(zsock_events (zactor_sock (self->actor)) & ZMQ_POLLIN))
        return NULL;
    void *job = NULL;
    if (zsock_recv (self->actor, "p", &job) != 0)
        return NULL;
    return job;
}
