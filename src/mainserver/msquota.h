/*  msquota - what each user may still do on the main server: messages a
    second, bytes of message tokens a day, conversations created an hour,
    conversations others put a user in an hour

    Each is a token bucket (bucket.h) with the rates of the limits in force
    (serverlimits.h: messages_per_second, message_burst, bytes_per_day,
    conversations_per_hour, added_per_hour; 0 turns one off). Users' buckets live in one
    table of at most quota_users users that forgets the least recently
    active (lrumap.h); a restart forgets them all: quotas bound a rate,
    they are not an account. A request is checked before it stores
    anything and charged only once it stored something new, so a retry of
    a stored message costs nothing. Refusals are counted in the metrics
    (metrics_quota_refusal), never logged: a flood of refusals would be a
    flood of log lines.
*/
#ifndef MSQUOTA_H_INCLUDED
#define MSQUOTA_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "metrics.h"
#include "serverlimits.h"

typedef struct _msquota_t msquota_t;

//  Why a request was refused: the code to answer (CHAT_ERR_RATE_LIMITED
//  or CHAT_ERR_QUOTA), when trying again may work, and a text for the
//  client naming the limit.
typedef struct {
    int code;
    uint32_t retry_ms;
    char text [96];
} msquota_refusal_t;

//  limits and metrics are borrowed and must outlive the object (the limits
//  may change in place: call msquota_limits_changed after).
msquota_t *
    msquota_new (const serverlimits_t *limits, metrics_t *metrics);
void
    msquota_destroy (msquota_t **self_p);

//  The limits changed: take the new table size (quota_users).
void
    msquota_limits_changed (msquota_t *self);

//  May username store one more message of len token bytes now? CHAT_OK, or
//  the refusal's code with refusal filled.
int
    msquota_message_check (msquota_t *self, const char *username, size_t len,
                           msquota_refusal_t *refusal);
//  Count a message that was stored.
void
    msquota_message_take (msquota_t *self, const char *username, size_t len);

//  May username create one more conversation now? As above.
int
    msquota_conversation_check (msquota_t *self, const char *username,
                                msquota_refusal_t *refusal);
//  Count a conversation that was created.
void
    msquota_conversation_take (msquota_t *self, const char *username);

//  May actor put each of names (but actor) in one more conversation now?
//  CHAT_OK, or CHAT_ERR_RATE_LIMITED with refusal filled (the wait of the
//  name that waits longest; the text names it).
int
    msquota_added_check (msquota_t *self, const char *actor, char **names, size_t count,
                         msquota_refusal_t *refusal);
//  Count names (but actor) as put in one more conversation.
void
    msquota_added_take (msquota_t *self, const char *actor, char **names, size_t count);

#endif
