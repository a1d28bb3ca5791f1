/*  benchstore - what chat-bench writes straight into a main server's store
    (before the server starts, or to time the store alone): users, and a
    conversation made from a real signed CREATE statement
*/
#ifndef BENCHSTORE_H_INCLUDED
#define BENCHSTORE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "msgstore.h"
#include "bench.h"

//  In one transaction of store: the users names [0..count) (each with the
//  bench's identity key) and a conversation of them created by names [0]
//  (direct when count is 2), its id in id. 0, or -1 on failure.
int
    benchstore_conversation (bench_t *bench, msgstore_t *store, const char *const *names,
                             size_t count, uint8_t id [16]);

#endif
