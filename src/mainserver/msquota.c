/*  msquota - each user's quotas on the main server; see msquota.h  */
#include <assert.h>
#include <stdio.h>
#include <czmq.h>
#include "bucket.h"
#include "chaterror.h"
#include "credential.h"
#include "lrumap.h"
#include "msquota.h"
#include "wire.h"

struct _msquota_t {
    const serverlimits_t *limits;
    metrics_t *metrics;
    lrumap_t *users;                    //  lower-case username -> user_t
};

//  What one user has left (token buckets)
typedef struct {
    bucket_t messages;
    bucket_t bytes;
    bucket_t conversations;
    bucket_t added;                     //  put in conversations by others
} user_t;

msquota_t *
msquota_new (const serverlimits_t *limits, metrics_t *metrics)
{
    assert (limits);
    msquota_t *self = (msquota_t *) zmalloc (sizeof *self);
    assert (self);
    self->limits = limits;
    self->metrics = metrics;
    self->users = lrumap_new ((size_t) limits->quota_users, sizeof (user_t));
    assert (self->users);
    return self;
}

void
msquota_destroy (msquota_t **self_p)
{
    assert (self_p);
    msquota_t *self = *self_p;
    if (self) {
        lrumap_destroy (&self->users);
        free (self);
        *self_p = NULL;
    }
}

void
msquota_limits_changed (msquota_t *self)
{
    lrumap_set_capacity (self->users, (size_t) self->limits->quota_users);
}

//  The user's record, made on first use (any spelling is the same user)
static user_t *
s_user (msquota_t *self, const char *username)
{
    char key [USERNAME_MAX + 1];
    credential_username_fold (username, key, sizeof key);
    return (user_t *) lrumap_get (self->users, key);
}

static int
s_refuse (msquota_t *self, const char *quota, int code, int64_t wait,
          msquota_refusal_t *refusal, const char *format, long long n)
{
    metrics_quota_refusal (self->metrics, quota);
    refusal->code = code;
    refusal->retry_ms = wait > UINT32_MAX ? UINT32_MAX : (uint32_t) wait;
    snprintf (refusal->text, sizeof refusal->text, format, n);
    return code;
}

int
msquota_message_check (msquota_t *self, const char *username, size_t len,
                       msquota_refusal_t *refusal)
{
    const serverlimits_t *limits = self->limits;
    user_t *user = s_user (self, username);
    int64_t now = wire_now_ms ();
    int64_t wait = bucket_wait (&user->messages, (double) limits->messages_per_second,
                                (double) limits->message_burst, 1, now);
    if (wait > 0)
        return s_refuse (self, "messages_per_second", CHAT_ERR_RATE_LIMITED, wait, refusal,
                         "more than %lld messages a second",
                         (long long) limits->messages_per_second);
    wait = bucket_wait (&user->bytes, (double) limits->bytes_per_day / 86400.0,
                        (double) limits->bytes_per_day, (double) len, now);
    if (wait > 0)
        return s_refuse (self, "bytes_per_day", CHAT_ERR_QUOTA, wait, refusal,
                         "more than %lld bytes of messages a day",
                         (long long) limits->bytes_per_day);
    return CHAT_OK;
}

void
msquota_message_take (msquota_t *self, const char *username, size_t len)
{
    const serverlimits_t *limits = self->limits;
    user_t *user = s_user (self, username);
    int64_t now = wire_now_ms ();
    bucket_take (&user->messages, (double) limits->messages_per_second,
                 (double) limits->message_burst, 1, now);
    bucket_take (&user->bytes, (double) limits->bytes_per_day / 86400.0,
                 (double) limits->bytes_per_day, (double) len, now);
}

int
msquota_conversation_check (msquota_t *self, const char *username,
                            msquota_refusal_t *refusal)
{
    const serverlimits_t *limits = self->limits;
    user_t *user = s_user (self, username);
    int64_t wait = bucket_wait (&user->conversations,
                                (double) limits->conversations_per_hour / 3600.0,
                                (double) limits->conversations_per_hour, 1, wire_now_ms ());
    if (wait > 0)
        return s_refuse (self, "conversations_per_hour", CHAT_ERR_QUOTA, wait, refusal,
                         "more than %lld new conversations an hour",
                         (long long) limits->conversations_per_hour);
    return CHAT_OK;
}

void
msquota_conversation_take (msquota_t *self, const char *username)
{
    const serverlimits_t *limits = self->limits;
    bucket_take (&s_user (self, username)->conversations,
                 (double) limits->conversations_per_hour / 3600.0,
                 (double) limits->conversations_per_hour, 1, wire_now_ms ());
}

int
msquota_added_check (msquota_t *self, const char *actor, char **names, size_t count,
                     msquota_refusal_t *refusal)
{
    const serverlimits_t *limits = self->limits;
    int64_t now = wire_now_ms (), longest = 0;
    const char *who = NULL;
    for (size_t i = 0; i < count; i++) {
        if (credential_username_compare (names [i], actor) == 0)
            continue;
        int64_t wait = bucket_wait (&s_user (self, names [i])->added,
                                    (double) limits->added_per_hour / 3600.0,
                                    (double) limits->added_per_hour, 1, now);
        if (wait > longest) {
            longest = wait;
            who = names [i];
        }
    }
    if (longest == 0)
        return CHAT_OK;
    metrics_quota_refusal (self->metrics, "added_per_hour");
    refusal->code = CHAT_ERR_RATE_LIMITED;
    refusal->retry_ms = longest > UINT32_MAX ? UINT32_MAX : (uint32_t) longest;
    snprintf (refusal->text, sizeof refusal->text,
              "%.32s was put in more than %lld conversations this hour", who,
              (long long) limits->added_per_hour);
    return CHAT_ERR_RATE_LIMITED;
}

void
msquota_added_take (msquota_t *self, const char *actor, char **names, size_t count)
{
    const serverlimits_t *limits = self->limits;
    int64_t now = wire_now_ms ();
    for (size_t i = 0; i < count; i++)
        if (credential_username_compare (names [i], actor) != 0)
            bucket_take (&s_user (self, names [i])->added,
                         (double) limits->added_per_hour / 3600.0,
                         (double) limits->added_per_hour, 1, now);
}
