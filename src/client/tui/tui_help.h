/*  tui_help - the help screen: every key and command of the full-screen
    client, laid out for the terminal's width (40 columns and up) and
    scrolled with the usual keys
*/
#ifndef TUI_HELP_H_INCLUDED
#define TUI_HELP_H_INCLUDED

#include "tui_frame.h"

typedef struct _tui_help_t tui_help_t;

tui_help_t *
    tui_help_new (void);
void
    tui_help_destroy (tui_help_t **self_p);
//  Becoming the current screen: from the top.
void
    tui_help_enter (tui_help_t *self);
//  A key; TUI_BACK on Esc, q, F1 or Enter.
tui_action_t
    tui_help_key (tui_help_t *self, tui_frame_t *frame, tui_key_t key);
void
    tui_help_draw (tui_help_t *self, tui_frame_t *frame);

//  The help's entries, for tests and the manual: pairs of keys and what
//  they do; a section starts where the keys are NULL (its title in text).
typedef struct {
    const char *keys;
    const char *text;
} tui_help_entry_t;

extern const tui_help_entry_t tui_help_entries [];

#endif
