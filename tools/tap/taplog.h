/*  taplog - chat-tap's output: one line (or JSON object) per message, an
    optional Wireshark-style dump, and the counts for --summary

    Text line:
      HH:MM:SS.mmm DIR CLIENT KIND        SIZE  DETAIL
      12:34:56.789 C>S c1     hello        422  key=SHA256:...
    DIR is C>S (client to server) or S>C; CLIENT a small counter per client
    routing id ("c1", "c2", ...) or "-" when the tap cannot tell.
*/
#ifndef TAPLOG_H_INCLUDED
#define TAPLOG_H_INCLUDED

#include <stdint.h>
#include <stdio.h>
#include "tapframe.h"

#define TAPLOG_HEX  1               //  add a dump of every frame
#define TAPLOG_JSON 2               //  one JSON object per message

typedef struct _taplog_t taplog_t;

//  out is borrowed.
taplog_t *
    taplog_new (FILE *out, int flags);
void
    taplog_destroy (taplog_t **self_p);

//  Log one message: channel "request" or "push", dir "C>S" or "S>C".
void
    taplog_message (taplog_t *self, const char *channel, const char *dir,
                    const char *client, const tapframe_t *info,
                    const uint8_t *const *frames, const size_t *sizes);

//  Messages and bytes of one kind so far.
uint64_t
    taplog_count (taplog_t *self, tapframe_kind_t kind);
uint64_t
    taplog_bytes (taplog_t *self, tapframe_kind_t kind);

//  Print counts and bytes per kind (a table, or one JSON object).
void
    taplog_summary (taplog_t *self);

#endif
