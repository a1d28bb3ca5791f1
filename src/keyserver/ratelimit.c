/*  ratelimit - back-off after failed logins; see ratelimit.h

    One lrumap holds both kinds of entry, told apart by their keys:
    "a <address>" for an address, "u <address> <lower-case name>" for a
    pair. An address is at most CHANSERVER_ADDRESS_SIZE bytes, a name
    USERNAME_MAX, so a key fits in KEY_SIZE.
*/
#include <czmq.h>
#include "bucket.h"
#include "chanserver.h"
#include "credential.h"
#include "lrumap.h"
#include "ratelimit.h"

#define KEY_SIZE (CHANSERVER_ADDRESS_SIZE + USERNAME_MAX + 4)
#define HOUR_MS  3600000.0

typedef struct {
    uint32_t failures;          //  pair: consecutive failures
    int64_t last_failure;       //  pair: unix ms
    bucket_t bucket;            //  address: failures left
} entry_t;

struct _ratelimit_t {
    lrumap_t *entries;
    uint32_t threshold;
    int64_t base_ms;
    int64_t cap_ms;
    int64_t per_hour;
};

ratelimit_t *
ratelimit_new (void)
{
    ratelimit_t *self = (ratelimit_t *) zmalloc (sizeof (ratelimit_t));
    assert (self);
    self->entries = lrumap_new (RATELIMIT_CAPACITY, sizeof (entry_t));
    self->threshold = RATELIMIT_THRESHOLD;
    self->base_ms = RATELIMIT_BASE_MS;
    self->cap_ms = RATELIMIT_CAP_MS;
    self->per_hour = RATELIMIT_PER_HOUR;
    return self;
}

void
ratelimit_destroy (ratelimit_t **self_p)
{
    assert (self_p);
    ratelimit_t *self = *self_p;
    if (self) {
        lrumap_destroy (&self->entries);
        free (self);
        *self_p = NULL;
    }
}

void
ratelimit_set_policy (ratelimit_t *self, uint32_t threshold, int64_t base_ms,
                      int64_t cap_ms, int64_t per_hour, size_t capacity)
{
    assert (self);
    assert (base_ms >= 0 && cap_ms >= base_ms && per_hour >= 0);
    self->threshold = threshold ? threshold : 1;
    self->base_ms = base_ms;
    self->cap_ms = cap_ms;
    self->per_hour = per_hour;
    lrumap_set_capacity (self->entries, capacity);
}

static void
s_address_key (const char *address, char key [KEY_SIZE])
{
    snprintf (key, KEY_SIZE, "a %s", address ? address : "local");
}

//  The pair's key; false for a name that cannot exist (never tracked)
static bool
s_pair_key (const char *address, const char *username, char key [KEY_SIZE])
{
    if (!username || !credential_username_valid (username))
        return false;
    char lower [USERNAME_MAX + 1];
    credential_username_fold (username, lower, sizeof lower);
    snprintf (key, KEY_SIZE, "u %s %s", address ? address : "local", lower);
    return true;
}

static double
s_rate (ratelimit_t *self)
{
    return (double) self->per_hour * 1000.0 / HOUR_MS;
}

//  ms a pair's counter says to wait at now; 0 when none.
static int64_t
s_pair_wait (ratelimit_t *self, const entry_t *entry, int64_t now_ms)
{
    if (!entry || entry->failures < self->threshold)
        return 0;
    uint32_t over = entry->failures - self->threshold;
    int64_t delay = self->cap_ms;
    //  base * 2^over, stopping at the cap before it can overflow
    if (over < 40) {
        delay = self->base_ms << over;
        if (delay > self->cap_ms || delay < 0)
            delay = self->cap_ms;
    }
    int64_t until = entry->last_failure + delay;
    return until > now_ms ? until - now_ms : 0;
}

int64_t
ratelimit_check (ratelimit_t *self, const char *address, const char *username,
                 int64_t now_ms)
{
    assert (self);
    char key [KEY_SIZE];
    int64_t wait = 0;
    if (s_pair_key (address, username, key))
        wait = s_pair_wait (self, (entry_t *) lrumap_lookup (self->entries, key), now_ms);
    s_address_key (address, key);
    entry_t *entry = (entry_t *) lrumap_lookup (self->entries, key);
    if (entry && self->per_hour > 0) {
        //  Waiting for one token: the bucket may owe some after a burst
        int64_t address_wait = bucket_wait (&entry->bucket, s_rate (self),
                                            (double) self->per_hour, 1, now_ms);
        if (address_wait > wait)
            wait = address_wait;
    }
    return wait;
}

void
ratelimit_failure (ratelimit_t *self, const char *address, const char *username,
                   int64_t now_ms)
{
    assert (self);
    char key [KEY_SIZE];
    if (s_pair_key (address, username, key)) {
        entry_t *entry = (entry_t *) lrumap_get (self->entries, key);
        entry->failures++;
        entry->last_failure = now_ms;
    }
    //  The address last, so that it is the most recently used of the two
    s_address_key (address, key);
    entry_t *entry = (entry_t *) lrumap_get (self->entries, key);
    entry->last_failure = now_ms;
    if (self->per_hour > 0)
        bucket_charge (&entry->bucket, s_rate (self), (double) self->per_hour, 1, now_ms);
}

void
ratelimit_success (ratelimit_t *self, const char *address, const char *username)
{
    assert (self);
    char key [KEY_SIZE];
    if (s_pair_key (address, username, key))
        lrumap_delete (self->entries, key);
}

typedef struct {
    ratelimit_t *self;
    int64_t now_ms;
} prune_t;

static bool
s_forgettable (const char *key, void *value, void *arg)
{
    prune_t *prune = (prune_t *) arg;
    entry_t *entry = (entry_t *) value;
    if (key [0] == 'u')
        return prune->now_ms - entry->last_failure > RATELIMIT_FORGET_MS;
    return bucket_full (&entry->bucket, s_rate (prune->self),
                        (double) prune->self->per_hour, prune->now_ms);
}

size_t
ratelimit_prune (ratelimit_t *self, int64_t now_ms)
{
    assert (self);
    prune_t prune = { self, now_ms };
    return lrumap_purge (self->entries, s_forgettable, &prune);
}

size_t
ratelimit_size (ratelimit_t *self)
{
    assert (self);
    return lrumap_size (self->entries);
}

size_t
ratelimit_evicted (ratelimit_t *self)
{
    assert (self);
    return lrumap_evicted (self->entries);
}
