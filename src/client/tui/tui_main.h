/*  tui_main - the conversation screen (report figures 8, 10-13): the
    conversation list, the open conversation (tui_convview), the input and
    its commands, notifications for what is not on the screen (tui_notify)
*/
#ifndef TUI_MAIN_H_INCLUDED
#define TUI_MAIN_H_INCLUDED

#include "tui_frame.h"

typedef struct _tui_main_t tui_main_t;

//  A screen of client (borrowed).
tui_main_t *
    tui_main_new (chatclient_t *client);
void
    tui_main_destroy (tui_main_t **self_p);
//  Logged in: list conversations and users
void
    tui_main_start (tui_main_t *self, tui_frame_t *frame);
//  Logged out: forget the open conversation, input and its history
void
    tui_main_reset (tui_main_t *self);
//  Open this conversation (the picker created or found it)
void
    tui_main_open (tui_main_t *self, const uint8_t id [CHATCLIENT_ID_SIZE]);
//  Something typed and not sent, or a message still on its way.
bool
    tui_main_unsent (tui_main_t *self);
//  A key; TUI_TO_PICKER for /new, TUI_HELP for /help, TUI_QUIT for /quit.
tui_action_t
    tui_main_key (tui_main_t *self, tui_frame_t *frame, tui_key_t key);
//  A client event; active: this screen is showing. TUI_LOGGED_OUT when
//  our logout completed.
tui_action_t
    tui_main_event (tui_main_t *self, tui_frame_t *frame, chatclient_event_t *event,
                    bool active);
void
    tui_main_draw (tui_main_t *self, tui_frame_t *frame);

#endif
