/*  tui_picker - the new-conversation screen (report figure 9): every known
    user but me, Space selects several (a group), Enter creates, Esc goes
    back
*/
#ifndef TUI_PICKER_H_INCLUDED
#define TUI_PICKER_H_INCLUDED

#include "tui.h"

tui_picker_t *
    tui_picker_new (void);
void
    tui_picker_destroy (tui_picker_t **self_p);
//  Becoming the current screen: asks for a fresh user list
void
    tui_picker_enter (tui_picker_t *self, tui_t *tui);
void
    tui_picker_key (tui_picker_t *self, tui_t *tui, tui_key_t key);
void
    tui_picker_event (tui_picker_t *self, tui_t *tui, chatclient_event_t *event);
void
    tui_picker_draw (tui_picker_t *self, tui_t *tui);

#endif
