/*  msarena - allocations that live until a reply (or a push) is packed

    A handler builds its reply out of pieces it allocates here; one
    msarena_destroy frees them all.
*/
#ifndef MSARENA_H_INCLUDED
#define MSARENA_H_INCLUDED

#include <stddef.h>

typedef struct _msarena_t msarena_t;

msarena_t *
    msarena_new (void);
void
    msarena_destroy (msarena_t **self_p);

//  Take ptr (malloc'd, not NULL) into the arena; returns it.
void *
    msarena_keep (msarena_t *self, void *ptr);
//  Zeroed memory (size 0 gives a valid pointer too).
void *
    msarena_alloc (msarena_t *self, size_t size);
char *
    msarena_strdup (msarena_t *self, const char *text);
void *
    msarena_memdup (msarena_t *self, const void *data, size_t size);

#endif
