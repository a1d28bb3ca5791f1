/*  lrumap - a map from short text keys to fixed-size values that holds at
    most `capacity` entries and, when full, forgets the entry used least
    recently to make room

    For the tables an attacker can make grow by sending new keys (source
    addresses, usernames): they stay bounded, and a full table keeps
    working on what was seen last instead of refusing new keys (which
    would fail open, as the login limiter once did) or growing without end.
    Values are zeroed when made and belong to the map.
*/
#ifndef LRUMAP_H_INCLUDED
#define LRUMAP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

typedef struct _lrumap_t lrumap_t;

//  capacity 0 is taken as 1.
lrumap_t *
    lrumap_new (size_t capacity, size_t value_size);
void
    lrumap_destroy (lrumap_t **self_p);

//  Fewer entries than before forgets the least recently used at once.
void
    lrumap_set_capacity (lrumap_t *self, size_t capacity);

//  The value under key, now the most recently used; NULL if none.
void *
    lrumap_lookup (lrumap_t *self, const char *key);

//  The value under key, made (zeroed) if there is none, forgetting the
//  least recently used entry when the map is full. Never NULL.
void *
    lrumap_get (lrumap_t *self, const char *key);

void
    lrumap_delete (lrumap_t *self, const char *key);

size_t
    lrumap_size (lrumap_t *self);

//  How many entries were forgotten to make room, since the map was made.
size_t
    lrumap_evicted (lrumap_t *self);

//  Forget every entry for which fn returns true (fn sees them least
//  recently used first and must not change the map). Returns how many were
//  forgotten.
typedef bool (lrumap_test_fn) (const char *key, void *value, void *arg);
size_t
    lrumap_purge (lrumap_t *self, lrumap_test_fn *fn, void *arg);

#endif
