/*  tui - the full-screen client: event loop, screen dispatch, shared
    drawing (title bar, status line, pin warnings)

    One thread, one loop: zmq_poll over stdin (fd 0) and the client's
    sockets with the client's own timeout, then the client's timers, its
    events, and every key waiting on stdin (non-blocking reads). Nothing in
    the loop waits for the network. The screen is redrawn from state after
    any change, so a resize (KEY_RESIZE) needs nothing but a redraw.
*/
#include <locale.h>
#include <stdarg.h>
#include <unistd.h>
#include <zmq.h>

#include "tui.h"
#include "tui_login.h"
#include "tui_main.h"
#include "tui_picker.h"

#define STATUS_MS 6000
#define STATUS_ERROR_MS 12000
#define QUIT_WAIT_MS 1500

static const char *s_server_label [2] = { "key server", "main server" };

void
tui_status (tui_t *self, bool error, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = zsys_vprintf (format, args);
    va_end (args);
    if (!text)
        return;
    zstr_free (&self->status);
    self->status = text;
    self->status_error = error;
    self->status_until = zclock_mono () + (error? STATUS_ERROR_MS: STATUS_MS);
    self->dirty = true;
}

void
tui_goto (tui_t *self, tui_screen_t screen)
{
    self->screen = screen;
    self->dirty = true;
    if (screen == TUI_SCREEN_PICKER)
        tui_picker_enter (self->picker, self);
}

void
tui_quit (tui_t *self)
{
    if (self->quit_cmd)
        return;
    if (chatclient_username (self->client)) {
        //  End the session on the servers, but never wait long for it
        self->quit_cmd = chatclient_logout (self->client);
        self->quit_deadline = zclock_mono () + QUIT_WAIT_MS;
        tui_status (self, false, "Logging out...");
    }
    else
        self->running = false;
}

int
tui_attr (tui_t *self, int pair)
{
    if (self->colors)
        return COLOR_PAIR (pair) | (pair == TUI_PAIR_TITLE || pair == TUI_PAIR_WARN
                                    || pair == TUI_PAIR_ERROR? A_BOLD: 0)
                                 | (pair == TUI_PAIR_FIELD? A_UNDERLINE: 0);
    switch (pair) {
        case TUI_PAIR_TITLE:
        case TUI_PAIR_SELECT:
        case TUI_PAIR_WARN:
            return A_REVERSE;
        case TUI_PAIR_ERROR:
        case TUI_PAIR_OWN:
            return A_BOLD;
        case TUI_PAIR_DIM:
            return A_DIM;
        case TUI_PAIR_FIELD:
            return A_UNDERLINE;
        default:
            return A_NORMAL;
    }
}

void
tui_put (int y, int x, int width, int attr, const char *utf8)
{
    if (width <= 0 || y < 0 || y >= LINES || x >= COLS)
        return;
    attron (attr);
    tui_text_draw_utf8 (y, x, utf8, width);
    attroff (attr);
}

void
tui_draw_title (tui_t *self, const char *title)
{
    int attr = tui_attr (self, TUI_PAIR_TITLE);
    attron (attr);
    mvhline (0, 0, ' ', COLS);
    attroff (attr);
    tui_put (0, 1, COLS - 2, attr, title);
    //  Right: both servers' states, as short as the width allows
    char right [128];
    const char *state [2];
    for (int i = 0; i < 2; i++)
        state [i] = self->servers [i].refused? "REFUSED"
                  : self->servers [i].connected? "ok": "connecting";
    if (COLS >= 70)
        snprintf (right, sizeof right, "key server: %s  main server: %s ",
                  state [0], state [1]);
    else
        snprintf (right, sizeof right, "key:%s main:%s ", state [0], state [1]);
    int width = (int) strlen (right);
    if (width < COLS - 20)
        tui_put (0, COLS - width, width, attr, right);
}

void
tui_draw_status (tui_t *self, const char *hints)
{
    int y = LINES - 1;
    move (y, 0);
    clrtoeol ();
    if (self->status && zclock_mono () < self->status_until)
        tui_put (y, 1, COLS - 2,
                 tui_attr (self, self->status_error? TUI_PAIR_ERROR: TUI_PAIR_OK),
                 self->status);
    else
        tui_put (y, 1, COLS - 2, tui_attr (self, TUI_PAIR_DIM), hints);
}

int
tui_draw_pin_warning (tui_t *self, int y)
{
    int lines = 0;
    int attr = tui_attr (self, TUI_PAIR_WARN);
    for (int i = 0; i < 2; i++) {
        tui_server_state_t *server = &self->servers [i];
        if (!server->refused)
            continue;
        char *text [5];
        text [0] = zsys_sprintf (
            "  WARNING: the %s's key has CHANGED - refused, not connecting to it  ",
            s_server_label [i]);
        text [1] = zsys_sprintf ("  server:  %s", server->endpoint? server->endpoint: "?");
        text [2] = zsys_sprintf ("  offered: %s", server->fingerprint? server->fingerprint: "?");
        text [3] = zsys_sprintf ("  pinned:  %s", server->pinned? server->pinned: "?");
        text [4] = zsys_sprintf (
            "  Someone may be impersonating it. If the change is expected, remove its line from known_servers.");
        for (int j = 0; j < 5; j++) {
            if (y + lines < LINES - 1) {
                attron (attr);
                mvhline (y + lines, 0, ' ', COLS);
                attroff (attr);
                tui_put (y + lines, 0, COLS, attr, text [j]);
                lines++;
            }
            zstr_free (&text [j]);
        }
    }
    return lines;
}

char *
tui_conversation_name (tui_t *self, const chatclient_conversation_t *conv)
{
    const char *me = chatclient_username (self->client);
    size_t size = 1;
    for (size_t i = 0; i < conv->member_count; i++)
        size += strlen (conv->members [i]) + 2;
    char *name = (char *) zmalloc (size + 16);
    bool self_seen = false;
    for (size_t i = 0; i < conv->member_count; i++) {
        //  Me once; a group may name me again, and shows it
        if (me && streq (conv->members [i], me) && !self_seen) {
            self_seen = true;
            continue;
        }
        if (*name)
            strcat (name, ", ");
        strcat (name, conv->members [i]);
    }
    if (!*name)
        strcpy (name, "(just you)");
    return name;
}

static void
s_server_free (tui_server_state_t *server)
{
    zstr_free (&server->endpoint);
    zstr_free (&server->fingerprint);
    zstr_free (&server->pinned);
    zstr_free (&server->problem);
}

static void
s_replace (char **field, const char *value)
{
    zstr_free (field);
    if (value)
        *field = strdup (value);
}

//  Connection and pin events, and the session ending on its own, belong to
//  every screen; the rest goes to the screens.
static void
s_handle_event (tui_t *self, chatclient_event_t *event)
{
    int which = event->server == CHATCLIENT_MAINSERVER? 1: 0;
    tui_server_state_t *server = &self->servers [which];
    self->dirty = true;
    switch (event->type) {
        case CHATCLIENT_EV_CONNECTED:
            server->connected = true;
            s_replace (&server->endpoint, event->endpoint);
            s_replace (&server->fingerprint, event->fingerprint);
            zstr_free (&server->problem);
            tui_status (self, false, "Connected to the %s %s (%s)", s_server_label [which],
                        event->endpoint? event->endpoint: "",
                        event->fingerprint? event->fingerprint: "");
            break;
        case CHATCLIENT_EV_DISCONNECTED:
            server->connected = false;
            server->retry_ms = event->retry_ms;
            s_replace (&server->problem, event->text);
            tui_status (self, true, "Lost the %s: %s; retrying in %.1f s",
                        s_server_label [which],
                        event->text? event->text: chatclient_errname (event->code),
                        event->retry_ms / 1000.0);
            break;
        case CHATCLIENT_EV_PIN_NEW:
            tui_status (self, false, "New %s key pinned (first use): %s",
                        s_server_label [which],
                        event->fingerprint? event->fingerprint: "");
            break;
        case CHATCLIENT_EV_PIN_MISMATCH:
            server->connected = false;
            server->refused = true;
            s_replace (&server->endpoint, event->name? event->name: event->endpoint);
            s_replace (&server->fingerprint, event->fingerprint);
            s_replace (&server->pinned, event->pinned);
            tui_status (self, true, "The %s's key has changed: refused", s_server_label [which]);
            break;
        case CHATCLIENT_EV_LOGGED_OUT:
            if (event->cmd == 0 && self->screen != TUI_SCREEN_LOGIN) {
                tui_main_reset (self->main);
                self->screen = TUI_SCREEN_LOGIN;
                tui_login_enter (self->login, self,
                                 event->text? event->text: "The session has ended", true);
            }
            break;
        case CHATCLIENT_EV_LOGGED_IN:
            if (event->cmd == 0)
                tui_status (self, false, "Session resumed after reconnecting");
            break;
        case CHATCLIENT_EV_ERROR:
            if (event->cmd == 0)
                tui_status (self, true, "%s",
                            event->text? event->text: chatclient_errname (event->code));
            break;
        default:
            break;
    }
    if (self->quit_cmd && event->cmd == self->quit_cmd) {
        self->running = false;
        return;
    }
    tui_login_event (self->login, self, event);
    tui_main_event (self->main, self, event);
    tui_picker_event (self->picker, self, event);
}

static void
s_handle_key (tui_t *self, tui_key_t key)
{
    self->dirty = true;
    if (key.keycode && key.key == KEY_RESIZE)
        return;                     //  ncurses has the new size: redraw
    if (!key.keycode && !key.alt && key.key == 0x0C) {
        clearok (curscr, TRUE);     //  Ctrl-L: repaint everything
        return;
    }
    switch (self->screen) {
        case TUI_SCREEN_LOGIN:
            tui_login_key (self->login, self, key);
            break;
        case TUI_SCREEN_MAIN:
            tui_main_key (self->main, self, key);
            break;
        case TUI_SCREEN_PICKER:
            tui_picker_key (self->picker, self, key);
            break;
    }
}

//  Every key waiting on stdin; ESC followed at once by a key is Alt+key
static void
s_read_keys (tui_t *self)
{
    wint_t ch;
    int rc;
    while ((rc = get_wch (&ch)) != ERR) {
        tui_key_t key = { rc == KEY_CODE_YES, false, ch };
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
}

static void
s_draw (tui_t *self)
{
    erase ();
    if (COLS < TUI_MIN_COLS || LINES < TUI_MIN_LINES) {
        char text [64];
        snprintf (text, sizeof text, "Terminal too small: need %dx%d",
                  TUI_MIN_COLS, TUI_MIN_LINES);
        tui_put (LINES / 2, 0, COLS, A_BOLD, text);
        refresh ();
        return;
    }
    curs_set (0);
    switch (self->screen) {
        case TUI_SCREEN_LOGIN:
            tui_login_draw (self->login, self);
            break;
        case TUI_SCREEN_MAIN:
            tui_main_draw (self->main, self);
            break;
        case TUI_SCREEN_PICKER:
            tui_picker_draw (self->picker, self);
            break;
    }
    refresh ();
}

static void
s_colors (tui_t *self)
{
    if (!has_colors () || start_color () != OK)
        return;
    use_default_colors ();
    init_pair (TUI_PAIR_TITLE, COLOR_WHITE, COLOR_BLUE);
    init_pair (TUI_PAIR_ERROR, COLOR_RED, -1);
    init_pair (TUI_PAIR_OK, COLOR_GREEN, -1);
    init_pair (TUI_PAIR_OWN, COLOR_CYAN, -1);
    init_pair (TUI_PAIR_DIM, COLOR_BLUE, -1);
    init_pair (TUI_PAIR_WARN, COLOR_WHITE, COLOR_RED);
    init_pair (TUI_PAIR_SELECT, COLOR_BLACK, COLOR_CYAN);
    init_pair (TUI_PAIR_FIELD, -1, -1);
    init_pair (TUI_PAIR_NAME1, COLOR_YELLOW, -1);
    init_pair (TUI_PAIR_NAME2, COLOR_MAGENTA, -1);
    init_pair (TUI_PAIR_NAME3, COLOR_GREEN, -1);
    init_pair (TUI_PAIR_NAME4, COLOR_RED, -1);
    self->colors = true;
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
    self->verbose = verbose;
    self->running = true;
    self->dirty = true;
    self->login = tui_login_new ();
    self->main = tui_main_new ();
    self->picker = tui_picker_new ();
    if (!self->login || !self->main || !self->picker) {
        fprintf (stderr, "chat: out of memory\n");
        tui_login_destroy (&self->login);
        tui_main_destroy (&self->main);
        tui_picker_destroy (&self->picker);
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
        return 1;
    }
    cbreak ();
    noecho ();
    nonl ();
    keypad (stdscr, TRUE);
    nodelay (stdscr, TRUE);
    set_escdelay (25);
    s_colors (self);
    tui_login_enter (self->login, self, NULL, false);

    while (self->running) {
        int timeout = chatclient_timeout (client);
        if (self->quit_cmd)
            timeout = 50;
        //  Keep the status line's expiry honest
        if (self->status && self->status_until > zclock_mono ())
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
            tui_quit (self);
        if (zsys_interrupted && self->quit_cmd == 0)
            break;
        if (self->quit_cmd && zclock_mono () > self->quit_deadline)
            break;
        if (self->status && zclock_mono () >= self->status_until) {
            zstr_free (&self->status);
            self->dirty = true;
        }
        if (self->dirty) {
            s_draw (self);
            self->dirty = false;
        }
    }
    endwin ();
    tui_login_destroy (&self->login);
    tui_main_destroy (&self->main);
    tui_picker_destroy (&self->picker);
    for (int i = 0; i < 2; i++)
        s_server_free (&self->servers [i]);
    zstr_free (&self->status);
    return self->exit_code;
}
