/*  tui_term - whether the terminal can show the full-screen client at all

    Apart from tui.c because <term.h> defines macros (cur_term, lines, bell)
    that clash with names in other headers (CZMQ's).
*/
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <term.h>
#include <unistd.h>

//  Declared beside tui_run in chatclient.h (the library's TUI hook)
bool
    tui_possible (char *why, size_t size);

bool
tui_possible (char *why, size_t size)
{
    //  A terminal that cannot put the cursor anywhere (TERM=dumb, an Emacs
    //  shell buffer, a printer) would show a garbled screen
    const char *term = getenv ("TERM");
    int error = 0;
    if (!term || !*term) {
        snprintf (why, size, "TERM is not set");
        return false;
    }
    if (setupterm (NULL, STDOUT_FILENO, &error) != OK) {
        snprintf (why, size, "the terminal type '%s' is not known here", term);
        return false;
    }
    const char *cup = tigetstr ("cup");
    bool usable = cup && cup != (char *) -1 && tigetflag ("hc") <= 0;
    del_curterm (cur_term);
    if (!usable)
        snprintf (why, size, "this terminal (TERM=%s) cannot show a full-screen interface",
                  term);
    return usable;
}

