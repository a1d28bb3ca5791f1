/*  msarena - allocations that live until a reply is packed  */
#include <assert.h>
#include <string.h>
#include <czmq.h>
#include "msarena.h"

struct _msarena_t {
    zlistx_t *allocs;
};

msarena_t *
msarena_new (void)
{
    msarena_t *self = (msarena_t *) zmalloc (sizeof *self);
    assert (self);
    self->allocs = zlistx_new ();
    assert (self->allocs);
    zlistx_set_destructor (self->allocs, (zlistx_destructor_fn *) zstr_free);
    return self;
}

void
msarena_destroy (msarena_t **self_p)
{
    assert (self_p);
    msarena_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->allocs);
        free (self);
        *self_p = NULL;
    }
}

void *
msarena_keep (msarena_t *self, void *ptr)
{
    assert (ptr);
    zlistx_add_end (self->allocs, ptr);
    return ptr;
}

void *
msarena_alloc (msarena_t *self, size_t size)
{
    void *ptr = zmalloc (size? size: 1);
    assert (ptr);
    return msarena_keep (self, ptr);
}

char *
msarena_strdup (msarena_t *self, const char *text)
{
    char *copy = strdup (text? text: "");
    assert (copy);
    return (char *) msarena_keep (self, copy);
}

void *
msarena_memdup (msarena_t *self, const void *data, size_t size)
{
    void *copy = msarena_alloc (self, size);
    if (size)
        memcpy (copy, data, size);
    return copy;
}
