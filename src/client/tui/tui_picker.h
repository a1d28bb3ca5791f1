/*  tui_picker - the new-conversation screen (report figure 9): every known
    user but me, Space selects several (a group), Enter creates, Esc goes
    back
*/
#ifndef TUI_PICKER_H_INCLUDED
#define TUI_PICKER_H_INCLUDED

#include "tui_frame.h"

typedef struct _tui_picker_t tui_picker_t;

//  A screen of client (borrowed).
tui_picker_t *
    tui_picker_new (chatclient_t *client);
void
    tui_picker_destroy (tui_picker_t **self_p);
//  Becoming the current screen: asks for a fresh user list
void
    tui_picker_enter (tui_picker_t *self);
//  A key; TUI_TO_MAIN on Esc, TUI_QUIT on F10.
tui_action_t
    tui_picker_key (tui_picker_t *self, tui_frame_t *frame, tui_key_t key);
//  A client event; TUI_OPEN with the conversation our create made.
tui_action_t
    tui_picker_event (tui_picker_t *self, tui_frame_t *frame, chatclient_event_t *event);
void
    tui_picker_draw (tui_picker_t *self, tui_frame_t *frame);

#endif
