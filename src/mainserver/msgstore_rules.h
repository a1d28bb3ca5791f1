/*  msgstore_rules - what every store engine checks and derives alike, so
    that the engines answer the same: the key that indexes a direct
    conversation by its pair, and the shape of a link to store.
*/
#ifndef MSGSTORE_RULES_H_INCLUDED
#define MSGSTORE_RULES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "credential.h"
#include "msgstore.h"

#define MSGSTORE_PAIR_KEY_SIZE (2 * USERNAME_MAX + 2)

//  The pair key of two names: 'a\nb', lower case, sorted.
void
    msgstore_rules_pair_key (const char *a, const char *b,
                             char out [MSGSTORE_PAIR_KEY_SIZE]);
//  A link with all its parts, an epoch a row can hold, and at most
//  MSGSTORE_MAX_MEMBERS members.
bool
    msgstore_rules_link_valid (const msgstore_link_t *link, const char *const *members,
                               size_t count);

#endif
