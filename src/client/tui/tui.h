/*  tui - the full-screen client's shared state and the calls its screens
    make back into the main loop (tui.c)

    Three screens, one module each, mapped to the report's figures:
      figure 2 (welcome window, N clients)   tools/demo --clients N, --add
      figures 3-7 (login / register, the     tui_login: "Login:" and "Or make
        answers under each button)             a new account:", same messages
      figure 8 (conversation window titled   tui_main: "User: <name>", list
        with the user, buttons, textbox)       left, messages right, input
      figure 9 (create new conversation)     tui_picker: Space selects, Enter
                                               creates, Esc = "Back"
      figures 10-13 (1:1 and group chats)    tui_main, live by push
      figures 14-15 (server overviews)       chat-admin, the demo's "servers"
                                               window
    tui.c owns the
    event loop (zmq_poll over stdin and the client's sockets), routes keys
    to the current screen and client events to all of them, and redraws the
    whole screen from state whenever something changed, which is also all a
    terminal resize needs.
*/
#ifndef TUI_H_INCLUDED
#define TUI_H_INCLUDED

#define NCURSES_WIDECHAR 1
#include <curses.h>

#include "chatclient.h"
#include "tui_input.h"
#include "tui_text.h"

typedef enum {
    TUI_SCREEN_LOGIN = 0,
    TUI_SCREEN_MAIN,
    TUI_SCREEN_PICKER
} tui_screen_t;

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

//  One key as the loop read it: Alt-x arrives as ESC then x
typedef struct {
    bool keycode;               //  ncurses KEY_* code
    bool alt;
    wint_t key;
} tui_key_t;

typedef struct {
    bool connected;
    bool refused;               //  pin mismatch: never used again
    char *endpoint;
    char *fingerprint;          //  offered key
    char *pinned;               //  the pin on file, on mismatch
    char *problem;              //  last disconnect reason
    uint32_t retry_ms;
} tui_server_state_t;

typedef struct _tui_login_t tui_login_t;
typedef struct _tui_main_t tui_main_t;
typedef struct _tui_picker_t tui_picker_t;

typedef struct {
    chatclient_t *client;
    bool verbose;
    bool running;
    bool dirty;                 //  redraw at the end of this loop turn
    int exit_code;
    tui_screen_t screen;
    tui_server_state_t servers [2];
    char *status;               //  the status line's message
    bool status_error;
    int64_t status_until;       //  zclock_mono: hints again after this
    bool colors;
    uint32_t quit_cmd;          //  logout on the way out
    int64_t quit_deadline;
    tui_login_t *login;
    tui_main_t *main;
    tui_picker_t *picker;
} tui_t;

//  The status line: a message for a few seconds (errors longer).
void
    tui_status (tui_t *self, bool error, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Switch screen (enters it: the screen may send commands).
void
    tui_goto (tui_t *self, tui_screen_t screen);
//  Leave: logout first when logged in, then exit.
void
    tui_quit (tui_t *self);

//  Drawing helpers shared by the screens
int
    tui_attr (tui_t *self, int pair);
//  The top bar: title left, server states right.
void
    tui_draw_title (tui_t *self, const char *title);
//  The bottom line: the status message if fresh, else the hints.
void
    tui_draw_status (tui_t *self, const char *hints);
//  A pin mismatch warning box if any server was refused; returns the
//  number of lines drawn starting at row y (0 when none).
int
    tui_draw_pin_warning (tui_t *self, int y);
//  A display name for a conversation: the members other than me.
char *
    tui_conversation_name (tui_t *self, const chatclient_conversation_t *conv);
//  Draws a string, clipped to width, with attributes.
void
    tui_put (int y, int x, int width, int attr, const char *utf8);

#define TUI_MIN_COLS 40
#define TUI_MIN_LINES 12

#endif
