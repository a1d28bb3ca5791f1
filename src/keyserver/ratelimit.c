/*  ratelimit - back-off after failed logins, per username and per session  */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "credential.h"
#include "ratelimit.h"

struct _ratelimit_t {
    zhashx_t *names;            //  lower-case username -> ratelimit_counter_t
    uint32_t threshold;
    int64_t base_ms;
    int64_t cap_ms;
    bool full_logged;           //  "table full" said once, not per attempt
};

static void
s_counter_destroy (void **item_p)
{
    free (*item_p);
    *item_p = NULL;
}

ratelimit_t *
ratelimit_new (void)
{
    ratelimit_t *self = (ratelimit_t *) zmalloc (sizeof (ratelimit_t));
    assert (self);
    self->names = zhashx_new ();
    assert (self->names);
    zhashx_set_destructor (self->names, s_counter_destroy);
    self->threshold = RATELIMIT_THRESHOLD;
    self->base_ms = RATELIMIT_BASE_MS;
    self->cap_ms = RATELIMIT_CAP_MS;
    return self;
}

void
ratelimit_destroy (ratelimit_t **self_p)
{
    assert (self_p);
    ratelimit_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->names);
        free (self);
        *self_p = NULL;
    }
}

void
ratelimit_set_policy (ratelimit_t *self, uint32_t threshold,
                      int64_t base_ms, int64_t cap_ms)
{
    assert (self);
    assert (base_ms >= 0 && cap_ms >= base_ms);
    self->threshold = threshold;
    self->base_ms = base_ms;
    self->cap_ms = cap_ms;
}

//  Lower-case copy of a username into key (USERNAME_MAX + 1 bytes); false
//  for anything that is not a valid username (those are never tracked).
static bool
s_key (const char *username, char *key)
{
    if (!username || !credential_username_valid (username))
        return false;
    credential_username_fold (username, key, USERNAME_MAX + 1);
    return true;
}

//  ms the counter says to wait at now; 0 when none.
static int64_t
s_wait (ratelimit_t *self, const ratelimit_counter_t *counter, int64_t now_ms)
{
    if (!counter || counter->failures < self->threshold)
        return 0;
    uint32_t over = counter->failures - self->threshold;
    int64_t delay = self->cap_ms;
    //  base * 2^over, stopping at the cap before it can overflow
    if (over < 40) {
        delay = self->base_ms << over;
        if (delay > self->cap_ms || delay < 0)
            delay = self->cap_ms;
    }
    int64_t until = counter->last_failure + delay;
    return until > now_ms? until - now_ms: 0;
}

int64_t
ratelimit_check (ratelimit_t *self, const char *username,
                 const ratelimit_counter_t *session, int64_t now_ms)
{
    assert (self);
    int64_t wait = s_wait (self, session, now_ms);
    char key [USERNAME_MAX + 1];
    if (s_key (username, key)) {
        int64_t name_wait = s_wait (self, (ratelimit_counter_t *)
                                    zhashx_lookup (self->names, key), now_ms);
        if (name_wait > wait)
            wait = name_wait;
    }
    return wait;
}

void
ratelimit_failure (ratelimit_t *self, const char *username,
                   ratelimit_counter_t *session, int64_t now_ms)
{
    assert (self);
    if (session) {
        session->failures++;
        session->last_failure = now_ms;
    }
    char key [USERNAME_MAX + 1];
    if (!s_key (username, key))
        return;
    ratelimit_counter_t *counter = (ratelimit_counter_t *)
        zhashx_lookup (self->names, key);
    if (!counter) {
        if (zhashx_size (self->names) >= RATELIMIT_MAX_NAMES)
            ratelimit_prune (self, now_ms);
        if (zhashx_size (self->names) >= RATELIMIT_MAX_NAMES) {
            if (!self->full_logged)
                zsys_warning ("ratelimit: %d usernames tracked, not tracking more",
                              RATELIMIT_MAX_NAMES);
            self->full_logged = true;
            return;
        }
        counter = (ratelimit_counter_t *) zmalloc (sizeof (ratelimit_counter_t));
        assert (counter);
        zhashx_insert (self->names, key, counter);
    }
    counter->failures++;
    counter->last_failure = now_ms;
}

void
ratelimit_success (ratelimit_t *self, const char *username)
{
    assert (self);
    char key [USERNAME_MAX + 1];
    if (s_key (username, key))
        zhashx_delete (self->names, key);
}

size_t
ratelimit_prune (ratelimit_t *self, int64_t now_ms)
{
    assert (self);
    zlistx_t *stale = zlistx_new ();
    assert (stale);
    zlistx_set_duplicator (stale, (czmq_duplicator *) strdup);
    zlistx_set_destructor (stale, (czmq_destructor *) zstr_free);
    ratelimit_counter_t *counter = (ratelimit_counter_t *) zhashx_first (self->names);
    while (counter) {
        if (now_ms - counter->last_failure > RATELIMIT_FORGET_MS)
            zlistx_add_end (stale, (void *) zhashx_cursor (self->names));
        counter = (ratelimit_counter_t *) zhashx_next (self->names);
    }
    //  Delete after the walk: the table must not change under its cursor
    size_t count = zlistx_size (stale);
    char *key = (char *) zlistx_first (stale);
    while (key) {
        zhashx_delete (self->names, key);
        key = (char *) zlistx_next (stale);
    }
    zlistx_destroy (&stale);
    if (count)
        self->full_logged = false;
    return count;
}

size_t
ratelimit_size (ratelimit_t *self)
{
    assert (self);
    return zhashx_size (self->names);
}
