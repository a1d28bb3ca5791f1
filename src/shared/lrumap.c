/*  lrumap - a bounded map that forgets the least recently used entry;
    see lrumap.h

    A zhashx finds an entry by key; a zlistx keeps the entries in order of
    use, the least recent first, and each entry holds its own place in it
    so that a use moves it to the end without a search.
*/
#include <czmq.h>
#include "lrumap.h"

//  One allocation: the entry, its value, then its key (the hash uses
//  this copy of the key, so it never copies keys itself)
typedef struct {
    void *handle;               //  place in the order list
    char *key;                  //  after the value
    max_align_t value [];       //  value_size bytes
} entry_t;

struct _lrumap_t {
    zhashx_t *entries;          //  key -> entry_t (owns them)
    zlistx_t *order;            //  entry_t, least recently used first
    size_t capacity;
    size_t value_size;
    size_t evicted;
};

static void
s_entry_destroy (void **item)
{
    free (*item);
    *item = NULL;
}

lrumap_t *
lrumap_new (size_t capacity, size_t value_size)
{
    lrumap_t *self = (lrumap_t *) zmalloc (sizeof (lrumap_t));
    assert (self);
    self->entries = zhashx_new ();
    self->order = zlistx_new ();
    assert (self->entries && self->order);
    zhashx_set_destructor (self->entries, s_entry_destroy);
    zhashx_set_key_duplicator (self->entries, NULL);
    zhashx_set_key_destructor (self->entries, NULL);
    self->capacity = capacity ? capacity : 1;
    self->value_size = value_size;
    return self;
}

void
lrumap_destroy (lrumap_t **self_p)
{
    assert (self_p);
    lrumap_t *self = *self_p;
    if (self) {
        zlistx_destroy (&self->order);
        zhashx_destroy (&self->entries);
        free (self);
        *self_p = NULL;
    }
}

static void
s_forget (lrumap_t *self, entry_t *entry)
{
    zlistx_delete (self->order, entry->handle);
    zhashx_delete (self->entries, entry->key);     //  frees the entry, key too
}

static void
s_trim (lrumap_t *self, size_t room)
{
    while (zhashx_size (self->entries) + room > self->capacity
    &&     zlistx_size (self->order) > 0) {
        s_forget (self, (entry_t *) zlistx_first (self->order));
        self->evicted++;
    }
}

void
lrumap_set_capacity (lrumap_t *self, size_t capacity)
{
    assert (self);
    self->capacity = capacity ? capacity : 1;
    s_trim (self, 0);
}

void *
lrumap_lookup (lrumap_t *self, const char *key)
{
    assert (self && key);
    entry_t *entry = (entry_t *) zhashx_lookup (self->entries, key);
    if (!entry)
        return NULL;
    zlistx_move_end (self->order, entry->handle);
    return entry->value;
}

void *
lrumap_get (lrumap_t *self, const char *key)
{
    void *value = lrumap_lookup (self, key);
    if (value)
        return value;
    s_trim (self, 1);
    size_t key_size = strlen (key) + 1;
    entry_t *entry = (entry_t *) zmalloc (sizeof (entry_t) + self->value_size + key_size);
    assert (entry);
    entry->key = (char *) entry->value + self->value_size;
    memcpy (entry->key, key, key_size);
    //  Cannot be there already: lrumap_lookup found nothing
    zhashx_insert (self->entries, entry->key, entry);
    entry->handle = zlistx_add_end (self->order, entry);
    return entry->value;
}

void
lrumap_delete (lrumap_t *self, const char *key)
{
    assert (self && key);
    entry_t *entry = (entry_t *) zhashx_lookup (self->entries, key);
    if (entry)
        s_forget (self, entry);
}

size_t
lrumap_size (lrumap_t *self)
{
    assert (self);
    return zhashx_size (self->entries);
}

size_t
lrumap_evicted (lrumap_t *self)
{
    assert (self);
    return self->evicted;
}

size_t
lrumap_purge (lrumap_t *self, lrumap_test_fn *fn, void *arg)
{
    assert (self && fn);
    size_t count = 0;
    entry_t *entry = (entry_t *) zlistx_first (self->order);
    while (entry) {
        entry_t *next = (entry_t *) zlistx_next (self->order);
        if (fn (entry->key, entry->value, arg)) {
            s_forget (self, entry);
            count++;
        }
        entry = next;
    }
    return count;
}
