/*  plain - chat's line mode: one command per line on stdin, one event per
    line on stdout (text, or JSON with --json). The format is in PLAIN.md.
*/
#ifndef PLAIN_H_INCLUDED
#define PLAIN_H_INCLUDED

#include <stdbool.h>
#include <stdio.h>
#include "chatclient.h"

typedef struct {
    bool json;
    int in_fd;                  //  commands come from here (0: stdin)
    FILE *out;                  //  events go here (NULL: stdout)
} plain_options_t;

//  Run until quit or end of input. Returns the exit code: 0 when every
//  command succeeded, 1 when one failed or the run was interrupted.
int
    plain_run (chatclient_t *client, const plain_options_t *options);

//  The help text, one command per line (also for chat --help).
extern const char *plain_help [];

#endif
