/*  logsink - where the servers' log lines go, and which of them

    CZMQ logs (zsys_error ... zsys_debug) to one FILE stream with no level
    filter of its own. logsink gives it a stream of ours: a line below the
    current level is dropped, the rest go to stderr. When stderr is the
    systemd journal (JOURNAL_STREAM names it, as systemd sets for a
    service), each line carries its priority as a "<N>" prefix, which the
    journal turns into the entry's PRIORITY, and loses CZMQ's date (the
    journal has its own); in a terminal a line stays as CZMQ writes it.

    The level can change at any time from any thread (SIGHUP reload).
*/
#ifndef LOGSINK_H_INCLUDED
#define LOGSINK_H_INCLUDED

#include <stdbool.h>

//  Levels are syslog's priorities: LOG_ERR, LOG_WARNING, LOG_NOTICE,
//  LOG_INFO (the default), LOG_DEBUG.

//  Route CZMQ's log into the sink, ident naming the program. 0 or -1.
int
    logsink_install (const char *ident);

//  "error", "warning", "notice", "info" or "debug" to its priority; -1 for
//  anything else.
int
    logsink_level_parse (const char *name);

//  The name of a priority ("info" ...).
const char *
    logsink_level_name (int level);

void
    logsink_set_level (int level);
int
    logsink_level (void);

//  True when stderr is the journal (lines carry "<N>" prefixes).
bool
    logsink_journal (void);

#endif
