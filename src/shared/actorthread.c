/*  actorthread - run a CZMQ actor on a thread that is joined when it stops  */
#include "actorthread.h"
#include <pthread.h>

struct _actorthread_t {
    pthread_t thread;
    zsock_t *pipe;            //  our end
    zsock_t *backend;         //  the actor's end, closed by its thread
    zactor_fn *actor;
    void *args;
};

static void *
s_run (void *arg)
{
    actorthread_t *self = (actorthread_t *) arg;
    self->actor (self->backend, self->args);
    zsock_destroy (&self->backend);
    return NULL;
}

actorthread_t *
actorthread_new (zactor_fn *actor, void *args)
{
    assert (actor);
    actorthread_t *self = (actorthread_t *) zmalloc (sizeof *self);
    self->actor = actor;
    self->args = args;
    self->pipe = zsys_create_pipe (&self->backend);
    if (!self->pipe
    ||  pthread_create (&self->thread, NULL, s_run, self) != 0) {
        zsock_destroy (&self->pipe);
        zsock_destroy (&self->backend);
        free (self);
        return NULL;
    }
    zsock_wait (self->pipe);
    return self;
}

void
actorthread_destroy (actorthread_t **self_p)
{
    assert (self_p);
    actorthread_t *self = *self_p;
    if (!self)
        return;
    //  An actor that already died must not block us: never wait to send
    zsock_set_sndtimeo (self->pipe, 0);
    zstr_send (self->pipe, "$TERM");
    pthread_join (self->thread, NULL);
    zsock_destroy (&self->pipe);
    free (self);
    *self_p = NULL;
}

zsock_t *
actorthread_sock (actorthread_t *self)
{
    assert (self);
    return self->pipe;
}
