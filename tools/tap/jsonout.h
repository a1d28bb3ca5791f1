/*  jsonout - the little JSON the tools write: strings escaped per RFC 8259

    Shared by chat-tap and chat-admin. Only output: the tools never parse
    JSON.
*/
#ifndef JSONOUT_H_INCLUDED
#define JSONOUT_H_INCLUDED

#include <stdio.h>

//  Write text as a JSON string, quotes included. NULL is written as "".
//  Control characters and bytes that are not valid UTF-8 are escaped
//  (\u00XX), so output from the network can never break the document or
//  reach a terminal as an escape sequence.
void
    jsonout_string (FILE *out, const char *text);

#endif
