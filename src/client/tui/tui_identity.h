/*  tui_identity - the conversation screen's identity panels: /verify's
    safety number and its question, /members with what this client knows
    of each member's identity key, and /password's three masked prompts

    The conversation screen (tui_main) hands a command here, then, while a
    panel or a prompt is up, its keys and the client's events; it draws the
    panel in the right pane and the prompt on the input line.
*/
#ifndef TUI_IDENTITY_H_INCLUDED
#define TUI_IDENTITY_H_INCLUDED

#include "tui_frame.h"

typedef struct _tui_identity_t tui_identity_t;

tui_identity_t *
    tui_identity_new (chatclient_t *client);
void
    tui_identity_destroy (tui_identity_t **self_p);
//  Logged out: close everything, wipe what was typed.
void
    tui_identity_reset (tui_identity_t *self);

//  /verify NAME: the safety number, then "do they match? y/n".
void
    tui_identity_verify (tui_identity_t *self, tui_frame_t *frame, const char *name);
//  /members of a conversation, marked verified, unverified, changed, you.
void
    tui_identity_members (tui_identity_t *self, tui_frame_t *frame,
                          const uint8_t id [CHATCLIENT_ID_SIZE]);
//  /password: current, new, new again; Esc cancels.
void
    tui_identity_password (tui_identity_t *self, tui_frame_t *frame);

//  A panel or a prompt wants the keys.
bool
    tui_identity_active (tui_identity_t *self);
//  A key while active. True when it was taken.
bool
    tui_identity_key (tui_identity_t *self, tui_frame_t *frame, tui_key_t key);
//  A client event (completions of the commands given here).
void
    tui_identity_event (tui_identity_t *self, tui_frame_t *frame, chatclient_event_t *event);

//  The panel's title for the pane's header, or NULL when no panel shows.
const char *
    tui_identity_title (tui_identity_t *self);
//  Draw the panel in the pane (false when none shows).
bool
    tui_identity_draw (tui_identity_t *self, tui_frame_t *frame, int top, int x, int height,
                       int width);
//  Draw the password prompt on line y (false when none is up); *col: the
//  cursor's column.
bool
    tui_identity_draw_prompt (tui_identity_t *self, int y, int width, int *col);

#endif
