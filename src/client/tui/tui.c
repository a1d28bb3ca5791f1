/*  tui - the full-screen client: event loop, screen dispatch

    One thread, one loop: zmq_poll over stdin (fd 0) and the client's
    sockets with the client's own timeout, then the client's timers, its
    events, and every key waiting on stdin (non-blocking reads). Nothing in
    the loop waits for the network. The screen is redrawn from state after
    any change, so a resize (KEY_RESIZE) needs nothing but a redraw.
*/
#include <locale.h>
#include <termios.h>
#include <unistd.h>
#include <zmq.h>

#include "tui.h"
#include "tui_frame.h"
#include "tui_help.h"
#include "tui_login.h"
#include "tui_main.h"
#include "tui_picker.h"

#define QUIT_WAIT_MS 1500       //  for the servers to hear the logout
#define CTRL_C_ARMED_MS 3000    //  a second Ctrl-C within this quits
#define PASTE_IDLE_MS 1000      //  a paste whose end mark never came ends

typedef enum {
    TUI_SCREEN_LOGIN = 0,
    TUI_SCREEN_MAIN,
    TUI_SCREEN_PICKER,
    TUI_SCREEN_HELP
} tui_screen_t;

typedef struct {
    chatclient_t *client;
    bool running;
    bool dirty;                 //  redraw at the end of this loop turn
    int exit_code;
    tui_screen_t screen;
    tui_screen_t before_help;   //  where the help goes back to
    bool quitting;              //  logged out on the way out: wait for the
    int64_t quit_deadline;      //  servers to hear it, not longer than this
    int64_t ctrl_c_armed;       //  a Ctrl-C asked "again to quit" until then
    bool pasting;               //  between the terminal's paste marks
    int64_t paste_last;
    tui_frame_t *frame;
    tui_login_t *login;
    tui_main_t *main;
    tui_picker_t *picker;
    tui_help_t *help;
} tui_t;

//  Leave: log out first when logged in, and give the servers a moment to
//  hear it (a session left behind shows in their overviews for minutes)
static void
s_quit (tui_t *self)
{
    self->dirty = true;
    if (self->quitting)
        return;
    self->quitting = true;
    self->quit_deadline = zclock_mono () + QUIT_WAIT_MS;
    if (chatclient_username (self->client)) {
        chatclient_logout (self->client);
        tui_frame_status (self->frame, false, "Logging out...");
    }
    else
        self->running = false;
}

//  Ctrl-C: leave, unless that loses something typed or on its way; then
//  only when pressed again
static void
s_ctrl_c (tui_t *self)
{
    int64_t now = zclock_mono ();
    bool unsent = self->screen != TUI_SCREEN_LOGIN && tui_main_unsent (self->main);
    if (!unsent || (self->ctrl_c_armed && now < self->ctrl_c_armed)) {
        s_quit (self);
        return;
    }
    self->ctrl_c_armed = now + CTRL_C_ARMED_MS;
    tui_frame_status (self->frame, true, "Ctrl-C again quits: a message is typed or "
                      "still sending and would be lost");
}

static void
s_to_login (tui_t *self, const char *message, bool error)
{
    tui_main_reset (self->main);
    tui_login_enter (self->login, message, error);
    tui_frame_status_clear (self->frame);
    self->screen = TUI_SCREEN_LOGIN;
}

//  What a screen asked for after a key or an event.
static void
s_act (tui_t *self, tui_action_t action)
{
    switch (action.kind) {
        case TUI_STAY:
            break;
        case TUI_TO_MAIN:
            self->screen = TUI_SCREEN_MAIN;
            break;
        case TUI_TO_PICKER:
            self->screen = TUI_SCREEN_PICKER;
            tui_picker_enter (self->picker);
            break;
        case TUI_LOGGED_IN:
            self->screen = TUI_SCREEN_MAIN;
            tui_frame_status_clear (self->frame);
            tui_main_start (self->main, self->frame);
            break;
        case TUI_LOGGED_OUT:
            s_to_login (self, action.text, action.error);
            break;
        case TUI_OPEN:
            self->screen = TUI_SCREEN_MAIN;
            tui_frame_status_clear (self->frame);
            tui_main_open (self->main, action.id);
            break;
        case TUI_HELP:
            tui_frame_status_clear (self->frame);
            if (self->screen != TUI_SCREEN_HELP)
                self->before_help = self->screen;
            self->screen = TUI_SCREEN_HELP;
            tui_help_enter (self->help);
            break;
        case TUI_BACK:
            self->screen = self->before_help;
            break;
        case TUI_QUIT:
            s_quit (self);
            break;
    }
}

//  Connection and pin events, and the session ending on its own, belong to
//  every screen (the frame); the rest goes to the screens.
static void
s_handle_event (tui_t *self, chatclient_event_t *event)
{
    self->dirty = true;
    tui_frame_event (self->frame, event);
    if (event->type == CHATCLIENT_EV_LOGGED_OUT && event->cmd == 0
    &&  self->screen != TUI_SCREEN_LOGIN)
        s_to_login (self, event->text? event->text: "The session has ended", true);
    if (self->quitting)
        return;
    s_act (self, tui_login_event (self->login, self->frame, event));
    s_act (self, tui_main_event (self->main, self->frame, event,
                                 self->screen == TUI_SCREEN_MAIN));
    s_act (self, tui_picker_event (self->picker, self->frame, event));
}

static void
s_handle_key (tui_t *self, tui_key_t key)
{
    self->dirty = true;
    if (key.keycode && key.key == KEY_RESIZE)
        return;                     //  ncurses has the new size: redraw
    if (!key.keycode && !key.alt && !key.paste && key.key == 0x0C) {
        clearok (curscr, TRUE);     //  Ctrl-L: repaint everything
        return;
    }
    if (!key.keycode && !key.alt && !key.paste && key.key == 0x03) {
        s_ctrl_c (self);
        return;
    }
    self->ctrl_c_armed = 0;
    switch (self->screen) {
        case TUI_SCREEN_LOGIN:
            s_act (self, tui_login_key (self->login, self->frame, key));
            break;
        case TUI_SCREEN_MAIN:
            s_act (self, tui_main_key (self->main, self->frame, key));
            break;
        case TUI_SCREEN_PICKER:
            s_act (self, tui_picker_key (self->picker, self->frame, key));
            break;
        case TUI_SCREEN_HELP:
            s_act (self, tui_help_key (self->help, self->frame, key));
            break;
    }
}

//  Every key waiting on stdin; ESC followed at once by a key is Alt+key.
//  Between the paste marks (bracketed paste, turned on at the start) every
//  character is text: a pasted newline must not send.
static void
s_read_keys (tui_t *self)
{
    wint_t ch;
    int rc;
    while ((rc = get_wch (&ch)) != ERR) {
        tui_key_t key = { rc == KEY_CODE_YES, false, ch, false };
        if (key.keycode && (ch == TUI_KEY_PASTE_BEGIN || ch == TUI_KEY_PASTE_END)) {
            self->pasting = ch == TUI_KEY_PASTE_BEGIN;
            self->paste_last = zclock_mono ();
            s_handle_key (self, key);
            continue;
        }
        if (self->pasting && !key.keycode) {
            key.paste = true;
            self->paste_last = zclock_mono ();
            s_handle_key (self, key);
            continue;
        }
        if (!key.keycode && ch == 0x1B) {
            wint_t next;
            int rc2 = get_wch (&next);
            if (rc2 != ERR) {
                if (rc2 == OK && next != 0x1B) {
                    key.alt = true;
                    key.key = next;
                }
                else {
                    //  ESC ESC or ESC + key code: deliver both
                    s_handle_key (self, key);
                    key.keycode = rc2 == KEY_CODE_YES;
                    key.key = next;
                }
            }
        }
        s_handle_key (self, key);
    }
    if (self->pasting && zclock_mono () - self->paste_last > PASTE_IDLE_MS)
        self->pasting = false;
}

static void
s_destroy_screens (tui_t *self)
{
    tui_login_destroy (&self->login);
    tui_main_destroy (&self->main);
    tui_picker_destroy (&self->picker);
    tui_help_destroy (&self->help);
    tui_frame_destroy (&self->frame);
}

static void
s_draw (tui_t *self)
{
    erase ();
    if (COLS < TUI_MIN_COLS || LINES < TUI_MIN_LINES) {
        char text [64];
        snprintf (text, sizeof text, "Terminal too small: need %dx%d",
                  TUI_MIN_COLS, TUI_MIN_LINES);
        tui_frame_put (LINES / 2, 0, COLS, A_BOLD, text);
        refresh ();
        return;
    }
    curs_set (0);
    switch (self->screen) {
        case TUI_SCREEN_LOGIN:
            tui_login_draw (self->login, self->frame);
            break;
        case TUI_SCREEN_MAIN:
            tui_main_draw (self->main, self->frame);
            break;
        case TUI_SCREEN_PICKER:
            tui_picker_draw (self->picker, self->frame);
            break;
        case TUI_SCREEN_HELP:
            tui_help_draw (self->help, self->frame);
            break;
    }
    refresh ();
}

//  Ctrl-C is a key here, not a signal: it must not throw away what is
//  typed (s_ctrl_c asks first). SIGINT and SIGTERM from elsewhere still
//  end the client, after a logout.
static void
s_ctrl_c_as_key (void)
{
    struct termios mode;
    if (tcgetattr (STDIN_FILENO, &mode) == 0) {
        mode.c_cc [VINTR] = _POSIX_VDISABLE;
        if (tcsetattr (STDIN_FILENO, TCSANOW, &mode) == 0)
            def_prog_mode ();
    }
}

int
tui_run (chatclient_t *client, bool verbose)
{
    assert (client);
    setlocale (LC_ALL, "");
    //  Log lines would land on the screen: keep them only when asked for
    //  and stderr goes elsewhere (chat -v 2>chat.log)
    if (!(verbose && !isatty (STDERR_FILENO)))
        zsys_set_logstream (NULL);
    zsys_set_logsystem (false);

    tui_t self_s, *self = &self_s;
    memset (self, 0, sizeof *self);
    self->client = client;
    self->running = true;
    self->dirty = true;
    self->frame = tui_frame_new (client);
    self->login = tui_login_new (client);
    self->main = tui_main_new (client);
    self->picker = tui_picker_new (client);
    self->help = tui_help_new ();
    if (!self->frame || !self->login || !self->main || !self->picker || !self->help) {
        fprintf (stderr, "chat: out of memory\n");
        s_destroy_screens (self);
        return 1;
    }

    zsock_t *socks [CHATCLIENT_MAX_SOCKETS];
    size_t nsocks = chatclient_sockets (client, socks, CHATCLIENT_MAX_SOCKETS);
    zmq_pollitem_t items [CHATCLIENT_MAX_SOCKETS + 1];
    memset (items, 0, sizeof items);
    items [0].fd = STDIN_FILENO;
    items [0].events = ZMQ_POLLIN;
    for (size_t i = 0; i < nsocks; i++) {
        items [i + 1].socket = zsock_resolve (socks [i]);
        items [i + 1].events = ZMQ_POLLIN;
    }

    if (!initscr ()) {
        fprintf (stderr, "chat: cannot start the terminal (TERM=%s); try --plain\n",
                 getenv ("TERM")? getenv ("TERM"): "");
        s_destroy_screens (self);
        return 1;
    }
    cbreak ();
    noecho ();
    nonl ();
    keypad (stdscr, TRUE);
    nodelay (stdscr, TRUE);
    set_escdelay (25);
    s_ctrl_c_as_key ();
    //  Bracketed paste: the terminal marks a paste's start and end
    define_key ("\033[200~", TUI_KEY_PASTE_BEGIN);
    define_key ("\033[201~", TUI_KEY_PASTE_END);
    printf ("\033[?2004h");
    fflush (stdout);
    tui_frame_start_colors (self->frame);
    s_to_login (self, NULL, false);

    while (self->running) {
        int timeout = chatclient_timeout (client);
        if (self->quitting)
            timeout = 50;
        //  Keep the status line's expiry honest
        if (tui_frame_status_showing (self->frame))
            timeout = timeout > 500? 500: timeout;
        int rc = zmq_poll (items, (int) nsocks + 1, timeout);
        if (rc == -1 && errno != EINTR)
            break;
        for (size_t i = 0; rc > 0 && i < nsocks; i++)
            if (items [i + 1].revents & ZMQ_POLLIN)
                chatclient_handle (client, socks [i]);
        chatclient_tick (client);
        chatclient_event_t *event;
        while ((event = chatclient_next_event (client))) {
            s_handle_event (self, event);
            chatclient_event_destroy (&event);
        }
        //  Always read: a resize interrupts the poll without input
        s_read_keys (self);
        if (zsys_interrupted)
            s_quit (self);
        //  Leaving once the servers heard the logout (or it is too late)
        if (self->quitting && (chatclient_settled (client)
                               || zclock_mono () > self->quit_deadline))
            break;
        if (tui_frame_status_expired (self->frame))
            self->dirty = true;
        if (self->dirty) {
            s_draw (self);
            self->dirty = false;
        }
    }
    printf ("\033[?2004l");
    fflush (stdout);
    endwin ();
    s_destroy_screens (self);
    return self->exit_code;
}
