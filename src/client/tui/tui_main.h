/*  tui_main - the conversation screen (report figures 8, 10-13): the
    conversation list, the open conversation with scrollback, the input line
    and its commands
*/
#ifndef TUI_MAIN_H_INCLUDED
#define TUI_MAIN_H_INCLUDED

#include "tui.h"

tui_main_t *
    tui_main_new (void);
void
    tui_main_destroy (tui_main_t **self_p);
//  Logged in: list conversations and users
void
    tui_main_start (tui_main_t *self, tui_t *tui);
//  Logged out: forget the open conversation, input and its history
void
    tui_main_reset (tui_main_t *self);
//  Open this conversation (the picker created or found it)
void
    tui_main_open (tui_main_t *self, tui_t *tui,
                   const uint8_t id [CHATCLIENT_ID_SIZE]);
void
    tui_main_key (tui_main_t *self, tui_t *tui, tui_key_t key);
void
    tui_main_event (tui_main_t *self, tui_t *tui, chatclient_event_t *event);
void
    tui_main_draw (tui_main_t *self, tui_t *tui);

#endif
