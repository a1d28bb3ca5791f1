/*  tui_notify - telling the user of a message they cannot see: the
    terminal's bell, and a desktop notification where the terminal is known
    to show one (OSC 9, OSC 99 or OSC 777, chosen from TERM_PROGRAM and
    TERM)

    A notification names the sender and the conversation, never the text:
    what a desktop notification shows is kept by programs outside the
    client (the notification daemon, its history), and a message's text
    stays in the client's memory only. At most one per second: a burst of
    messages rings once.
*/
#ifndef TUI_NOTIFY_H_INCLUDED
#define TUI_NOTIFY_H_INCLUDED

#include <stdbool.h>

typedef struct _tui_notify_t tui_notify_t;

//  On, with the escape the environment's terminal understands (if any).
tui_notify_t *
    tui_notify_new (void);
void
    tui_notify_destroy (tui_notify_t **self_p);

void
    tui_notify_set (tui_notify_t *self, bool on);
bool
    tui_notify_on (tui_notify_t *self);
//  What a notification does here, in words ("the bell", "the bell and a
//  desktop notification (OSC 777)").
const char *
    tui_notify_how (tui_notify_t *self);

//  A message from sender in the conversation called where, not on the
//  screen: ring (when on, and not rung within the last second).
void
    tui_notify_message (tui_notify_t *self, const char *sender, const char *where);

#endif
