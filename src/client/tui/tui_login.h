/*  tui_login - the login and registration screen (report figures 3-7)
*/
#ifndef TUI_LOGIN_H_INCLUDED
#define TUI_LOGIN_H_INCLUDED

#include "tui.h"

tui_login_t *
    tui_login_new (void);
void
    tui_login_destroy (tui_login_t **self_p);
//  Becoming the current screen (after start or logout)
void
    tui_login_enter (tui_login_t *self, tui_t *tui, const char *message,
                     bool error);
void
    tui_login_key (tui_login_t *self, tui_t *tui, tui_key_t key);
void
    tui_login_event (tui_login_t *self, tui_t *tui, chatclient_event_t *event);
void
    tui_login_draw (tui_login_t *self, tui_t *tui);

#endif
