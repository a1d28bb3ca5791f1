/*  tui_convview - the open conversation's messages on the conversation
    screen: wrapped, with day lines, a "new" line before the first message
    not read yet, messages still on their way ("sending...") or refused
    ("not sent"), and scrollback that stays where the reader put it

    Scrolling keeps the line at the top of the view on the same message
    while others arrive (an anchor: a message's sequence number and a line
    inside it), so nothing moves under the reader's eyes; at the bottom it
    follows the newest. What lies below the view is counted afresh at every
    draw and said on the rule under the messages, never over them.

    Messages are drawn from the client library's memory each time (what is
    on the screen is what it holds); the view keeps only its anchor and the
    sends it was told about.
*/
#ifndef TUI_CONVVIEW_H_INCLUDED
#define TUI_CONVVIEW_H_INCLUDED

#include "tui_frame.h"

typedef struct _tui_convview_t tui_convview_t;

//  A view of client's conversations (borrowed).
tui_convview_t *
    tui_convview_new (chatclient_t *client);
void
    tui_convview_destroy (tui_convview_t **self_p);

//  Show conversation id from its newest message. read_seq: the user had
//  read up to there; a "new" line goes before the first later message from
//  someone else (0 and nothing newer: no line).
void
    tui_convview_open (tui_convview_t *self, const uint8_t id [CHATCLIENT_ID_SIZE],
                       uint64_t read_seq);
//  Nothing open; every send it was told about forgotten.
void
    tui_convview_reset (tui_convview_t *self);

//  Scrolling, carried out at the next draw (it needs the width): pages up
//  (negative) or down, the first line, the newest.
void
    tui_convview_page (tui_convview_t *self, int pages);
void
    tui_convview_home (tui_convview_t *self);
void
    tui_convview_end (tui_convview_t *self);
//  At the newest (not scrolled back).
bool
    tui_convview_following (tui_convview_t *self);

//  A message the user sent (command cmd) to conversation id: shown as
//  "sending..." until the library has it with its number, or as "not
//  sent" with the reason when the command fails.
void
    tui_convview_pending (tui_convview_t *self, uint32_t cmd,
                          const uint8_t id [CHATCLIENT_ID_SIZE],
                          const char *text, size_t len);
//  A client event: the completions of those sends.
void
    tui_convview_event (tui_convview_t *self, chatclient_event_t *event);
//  Sends of this conversation still on their way.
size_t
    tui_convview_sending (tui_convview_t *self);

//  Draw the messages in the rectangle (top, x, height, width); what is
//  below the view goes on the rule at row rule_y. empty: what to say when
//  there is nothing to show.
void
    tui_convview_draw (tui_convview_t *self, tui_frame_t *frame, int top, int x,
                       int height, int width, int rule_y, const char *empty);

#endif
