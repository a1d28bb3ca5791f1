/*  tui_notify - the bell and desktop notifications; see tui_notify.h

    Terminals that show a desktop notification for an escape sequence, as
    far as they say who they are: iTerm2 (OSC 9), kitty (OSC 99), WezTerm,
    Ghostty and foot (OSC 777). Any other terminal, and any multiplexer in
    between (tmux, screen: they drop what they do not know), gets the bell
    only. The sequences go straight to the terminal after ncurses' output
    of the last redraw, never into the middle of it.
*/
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui_notify.h"

#define QUIET_MS 1000

typedef enum { ESC_NONE, ESC_OSC9, ESC_OSC99, ESC_OSC777 } escape_t;

struct _tui_notify_t {
    bool on;
    escape_t escape;
    int64_t last;               //  zclock_mono of the last notification
};

static escape_t
s_escape (void)
{
    const char *program = getenv ("TERM_PROGRAM");
    const char *term = getenv ("TERM");
    if (program) {
        if (streq (program, "iTerm.app"))
            return ESC_OSC9;
        if (streq (program, "WezTerm") || streq (program, "ghostty"))
            return ESC_OSC777;
        return ESC_NONE;            //  tmux and others say who they are too
    }
    if (term && strncmp (term, "foot", 4) == 0)
        return ESC_OSC777;
    if (term && streq (term, "xterm-kitty"))
        return ESC_OSC99;
    return ESC_NONE;
}

tui_notify_t *
tui_notify_new (void)
{
    tui_notify_t *self = (tui_notify_t *) zmalloc (sizeof (tui_notify_t));
    self->on = true;
    self->escape = s_escape ();
    return self;
}

void
tui_notify_destroy (tui_notify_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

void
tui_notify_set (tui_notify_t *self, bool on)
{
    self->on = on;
}

bool
tui_notify_on (tui_notify_t *self)
{
    return self->on;
}

const char *
tui_notify_how (tui_notify_t *self)
{
    switch (self->escape) {
        case ESC_OSC9:   return "the bell and a desktop notification (OSC 9)";
        case ESC_OSC99:  return "the bell and a desktop notification (OSC 99)";
        case ESC_OSC777: return "the bell and a desktop notification (OSC 777)";
        default:         return "the bell";
    }
}

//  Only what cannot end or split an escape sequence: usernames are
//  letters, digits, '_', '-' and '.' anyway
static void
s_clean (char *out, size_t size, const char *text)
{
    size_t n = 0;
    for (const char *c = text? text: ""; *c && n + 1 < size; c++)
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')
        ||  strchr (" _-.,()", *c))
            out [n++] = *c;
    out [n] = 0;
}

static void
s_write (const char *text)
{
    size_t len = strlen (text);
    while (len > 0) {
        ssize_t done = write (STDOUT_FILENO, text, len);
        if (done <= 0)
            return;
        text += done;
        len -= (size_t) done;
    }
}

void
tui_notify_message (tui_notify_t *self, const char *sender, const char *where)
{
    int64_t now = zclock_mono ();
    if (!self->on || (self->last && now - self->last < QUIET_MS))
        return;
    self->last = now;
    beep ();
    if (self->escape == ESC_NONE)
        return;
    char who [64], conv [128];
    s_clean (who, sizeof who, sender);
    s_clean (conv, sizeof conv, where);
    char *body = zsys_sprintf ("%s in %s", who, conv);
    char *sequence = NULL;
    switch (self->escape) {
        case ESC_OSC9:
            sequence = zsys_sprintf ("\033]9;chat: new message from %s\007", body);
            break;
        case ESC_OSC99:
            sequence = zsys_sprintf ("\033]99;;chat: new message from %s\033\\", body);
            break;
        case ESC_OSC777:
            sequence = zsys_sprintf ("\033]777;notify;chat: new message;from %s\033\\", body);
            break;
        default:
            break;
    }
    fflush (stdout);
    if (sequence)
        s_write (sequence);
    zstr_free (&sequence);
    zstr_free (&body);
}
