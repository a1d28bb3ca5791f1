/*  tui_frame - what every screen of the full-screen client shares: the
    client, the title bar with both servers' states, the status line, the
    pin warning, colours; and the words screens and the screen manager
    speak (keys in, actions out)

    The screen manager (tui.c) owns one frame and hands it to the screens
    (tui_login, tui_main, tui_picker). Screens draw through it and put
    messages on its status line; they never switch screens themselves:
    a key or an event handler returns an action, and the manager carries
    it out by calling down into the screen concerned. So no screen calls
    another, and none calls the manager.
*/
#ifndef TUI_FRAME_H_INCLUDED
#define TUI_FRAME_H_INCLUDED

#define NCURSES_WIDECHAR 1
#include <curses.h>

#include "chatclient.h"
#include "tui_input.h"
#include "tui_text.h"

//  Colour pairs (attributes only when the terminal has no colours)
enum {
    TUI_PAIR_TITLE = 1,
    TUI_PAIR_ERROR,
    TUI_PAIR_OK,
    TUI_PAIR_OWN,
    TUI_PAIR_DIM,
    TUI_PAIR_WARN,
    TUI_PAIR_SELECT,
    TUI_PAIR_FIELD,
    TUI_PAIR_NAME1,             //  four colours for other senders' names
    TUI_PAIR_NAME2,
    TUI_PAIR_NAME3,
    TUI_PAIR_NAME4
};

//  One key as the loop read it: Alt-x arrives as ESC then x; between the
//  terminal's bracketed-paste marks every character is text (paste)
typedef struct {
    bool keycode;               //  ncurses KEY_* code
    bool alt;
    wint_t key;
    bool paste;                 //  part of a paste: insert it, never act on it
} tui_key_t;

//  Key codes of the manager's own (beyond ncurses' KEY_MAX)
#define TUI_KEY_PASTE_BEGIN (KEY_MAX + 0x100)
#define TUI_KEY_PASTE_END   (KEY_MAX + 0x101)

//  What a screen asks the manager to do after a key or an event
typedef enum {
    TUI_STAY = 0,               //  nothing
    TUI_TO_MAIN,                //  show the conversation screen
    TUI_TO_PICKER,              //  show the new-conversation screen
    TUI_LOGGED_IN,              //  login done: start the conversation screen
    TUI_LOGGED_OUT,             //  back to the login screen, saying text
    TUI_OPEN,                   //  show the conversation screen with id open
    TUI_HELP,                   //  show the help screen
    TUI_BACK,                   //  back to the screen before the help
    TUI_QUIT                    //  log out (when logged in) and leave
} tui_action_kind_t;

typedef struct {
    tui_action_kind_t kind;
    uint8_t id [CHATCLIENT_ID_SIZE];    //  TUI_OPEN
    const char *text;                   //  TUI_LOGGED_OUT (a literal)
    bool error;                         //  TUI_LOGGED_OUT: say it as an error
} tui_action_t;

#define TUI_ACTION(k) ((tui_action_t) { .kind = (k) })

//  One server as the frame knows it from the client's events
typedef struct {
    bool connected;
    bool ever;                  //  was connected once (else it is not "lost")
    bool refused;               //  pin mismatch or wrong role: never used again
    bool wrong_role;            //  refused: the endpoint is the other server
    bool moved;                 //  FAILOVER said; its CONNECTED is quiet
    char *endpoint;
    char *fingerprint;          //  offered key
    char *pinned;               //  the pin on file, on mismatch
    char *problem;              //  last disconnect reason
    int code;                   //  and its code
    uint32_t retry_ms;
} tui_server_state_t;

//  A server's state in a word or two, as the title bar says it: "ok",
//  "connecting", "not running", "no answer", "reconnecting", "wrong
//  server", "REFUSED"
const char *
    tui_server_state_word (const tui_server_state_t *server);

typedef struct _tui_frame_t tui_frame_t;

#define TUI_MIN_COLS 40
#define TUI_MIN_LINES 12

//  A frame for client (borrowed). NULL when out of memory.
tui_frame_t *
    tui_frame_new (chatclient_t *client);
void
    tui_frame_destroy (tui_frame_t **self_p);

chatclient_t *
    tui_frame_client (tui_frame_t *self);

//  Set up the colour pairs (after initscr); attributes only without colours.
void
    tui_frame_start_colors (tui_frame_t *self);
bool
    tui_frame_colors (tui_frame_t *self);

//  A client event every screen cares about: connections, pins, a session
//  resumed, errors nobody asked for. Updates the server states and the
//  status line.
void
    tui_frame_event (tui_frame_t *self, chatclient_event_t *event);
const tui_server_state_t *
    tui_frame_server (tui_frame_t *self, chatclient_server_t server);

//  The status line: a message for a few seconds (errors longer).
void
    tui_frame_status (tui_frame_t *self, bool error, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  No status message (what it said is no longer true).
void
    tui_frame_status_clear (tui_frame_t *self);
//  The status message timed out just now (the screen needs a redraw).
bool
    tui_frame_status_expired (tui_frame_t *self);
//  A status message is showing (the loop wakes up to expire it).
bool
    tui_frame_status_showing (tui_frame_t *self);

//  Drawing helpers shared by the screens
int
    tui_frame_attr (tui_frame_t *self, int pair);
//  The top bar: title left, server states right.
void
    tui_frame_draw_title (tui_frame_t *self, const char *title);
//  The bottom line: the status message if fresh, else the hints.
void
    tui_frame_draw_status (tui_frame_t *self, const char *hints);
//  A pin mismatch warning box if any server was refused; returns the
//  number of lines drawn starting at row y (0 when none).
int
    tui_frame_draw_pin_warning (tui_frame_t *self, int y);
//  A display name for a conversation: the members other than me.
char *
    tui_frame_conversation_name (tui_frame_t *self, const chatclient_conversation_t *conv);
//  Draws a string, clipped to width, with attributes.
void
    tui_frame_put (int y, int x, int width, int attr, const char *utf8);
//  Draws a string wrapped at spaces over at most max_lines rows of width
//  columns (the last one cut with an ellipsis if it is still too long);
//  returns the rows used.
int
    tui_frame_put_wrapped (int y, int x, int width, int max_lines, int attr,
                           const char *utf8);
//  Draws text and then suffix (may be NULL) in width columns; when they do
//  not fit, text is cut with an ellipsis and the suffix kept.
void
    tui_frame_put_fit (int y, int x, int width, int attr, const char *utf8,
                       const char *suffix);

#endif
