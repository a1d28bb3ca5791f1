/*  tui_login - the login and registration screen (report figures 3-7)
*/
#ifndef TUI_LOGIN_H_INCLUDED
#define TUI_LOGIN_H_INCLUDED

#include "tui_frame.h"

typedef struct _tui_login_t tui_login_t;

//  A screen of client (borrowed).
tui_login_t *
    tui_login_new (chatclient_t *client);
void
    tui_login_destroy (tui_login_t **self_p);
//  Becoming the current screen (after start or logout): the form empty,
//  message (may be NULL) under the login button.
void
    tui_login_enter (tui_login_t *self, const char *message, bool error);
//  A key; TUI_QUIT on F10.
tui_action_t
    tui_login_key (tui_login_t *self, tui_frame_t *frame, tui_key_t key);
//  A client event; TUI_LOGGED_IN when our login completed.
tui_action_t
    tui_login_event (tui_login_t *self, tui_frame_t *frame, chatclient_event_t *event);
void
    tui_login_draw (tui_login_t *self, tui_frame_t *frame);

#endif
