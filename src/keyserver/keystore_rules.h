/*  keystore_rules - what the key store accepts and how it names a set of
    wrapped keys, the same for every engine (keystore.c checks with it
    before an engine is called; the engines check rows they read back)
*/
#ifndef KEYSTORE_RULES_H_INCLUDED
#define KEYSTORE_RULES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "keystore.h"

//  Salt length and iteration count within keystore.h's bounds
bool
    keystore_rules_scram_valid (const keystore_user_t *user);

//  A sealed identity: there, and not over KEYSTORE_SEALED_MAX
bool
    keystore_rules_sealed_valid (const uint8_t *sealed, size_t sealed_len);

//  What makes a set "the very same": SHA-256 over its copies ordered by
//  lower-case name, each as name (lower case) || 0x00 || BE32 (length) ||
//  wrapped key. keys is sorted here (a copy the caller owns). 0, -1 on a
//  name given twice, -2 when hashing failed.
int
    keystore_rules_set_hash (keystore_wrapped_t *keys, size_t count, uint8_t hash [32]);

#endif
