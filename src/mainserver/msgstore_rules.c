/*  msgstore_rules - what every store engine checks alike; see msgstore_rules.h  */
#include <stdio.h>
#include <string.h>
#include "msgstore_rules.h"

void
msgstore_rules_pair_key (const char *a, const char *b, char out [MSGSTORE_PAIR_KEY_SIZE])
{
    char la [USERNAME_MAX + 1], lb [USERNAME_MAX + 1];
    credential_username_fold (a, la, sizeof la);
    credential_username_fold (b, lb, sizeof lb);
    bool in_order = strcmp (la, lb) < 0;
    snprintf (out, MSGSTORE_PAIR_KEY_SIZE, "%s\n%s", in_order? la: lb, in_order? lb: la);
}

bool
msgstore_rules_link_valid (const msgstore_link_t *link, const char *const *members,
                           size_t count)
{
    return link && link->conversation_id && link->statement && link->statement_len
        && link->signature && link->signature_len && link->actor && link->epoch >= 1
        && link->epoch <= INT64_MAX && members && count <= MSGSTORE_MAX_MEMBERS;
}
