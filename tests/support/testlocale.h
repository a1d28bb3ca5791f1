/*  testlocale - a Turkish locale for the tests that prove name folding does
    not depend on the locale

    In tr_TR.UTF-8, glibc's tolower ('I') is 'I' (its lower case, a dotless
    i, is not one byte) and strcasecmp ("I", "i") is not 0: what libchat
    would compute after the TUI's setlocale (LC_ALL, "") if it folded names
    with the C library. The locale is compiled with localedef into a
    temporary folder (LOCPATH), so the test needs no system locale set up;
    Debian's `locales` package provides the sources (tools/setup installs it).
*/
#ifndef TESTLOCALE_H_INCLUDED
#define TESTLOCALE_H_INCLUDED

#include <stdbool.h>

//  Switch LC_ALL to tr_TR.UTF-8. true when it is in force and shows the
//  behaviour above; false (with a line on stderr saying why) when it cannot
//  be had here: the caller then skips, and says so.
bool
    testlocale_turkish (void);

//  Back to the "C" locale, the temporary folder removed.
void
    testlocale_reset (void);

#endif
