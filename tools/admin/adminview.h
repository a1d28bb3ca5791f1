/*  adminview - a server's admin reply as the report's overview windows
    (figures 14 and 15), as text tables or one JSON object

    It prints only what the reply holds, and the reply never holds a secret:
    keys as fingerprints, StoredKey and tokens as short prefixes. Text that
    came from a server is printed with anything unprintable replaced, so a
    strange username cannot drive the terminal.
*/
#ifndef ADMINVIEW_H_INCLUDED
#define ADMINVIEW_H_INCLUDED

#include <stdio.h>
#include "wire.h"

//  Text: a header (role, version, start time, server key), then the tables:
//  key server: registered users (username, iterations, StoredKey, registered)
//  and sessions; main server: saved conversations (id, members, messages,
//  last token, last time), connected sessions, known users.
void
    adminview_text (FILE *out, const Chat__AdminReply *reply);

//  The whole reply as one JSON object on one line.
void
    adminview_json (FILE *out, const Chat__AdminReply *reply);

//  Unix ms as local "YYYY-MM-DD HH:MM:SS", "-" for 0. buf >= 20 bytes.
void
    adminview_time (int64_t unix_ms, char *buf, size_t size);

#endif
