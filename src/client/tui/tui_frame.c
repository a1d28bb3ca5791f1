/*  tui_frame - what every screen shares; see tui_frame.h
*/
#include <ctype.h>
#include <stdarg.h>

#include "tui_frame.h"

#define STATUS_MS 6000
#define STATUS_ERROR_MS 12000

static const char *s_server_label [2] = { "key server", "main server" };

struct _tui_frame_t {
    chatclient_t *client;
    bool colors;
    tui_server_state_t servers [2];
    char *status;               //  the status line's message
    bool status_error;
    int64_t status_until;       //  zclock_mono: hints again after this
};

tui_frame_t *
tui_frame_new (chatclient_t *client)
{
    assert (client);
    tui_frame_t *self = (tui_frame_t *) zmalloc (sizeof (tui_frame_t));
    if (self)
        self->client = client;
    return self;
}

static void
s_server_free (tui_server_state_t *server)
{
    zstr_free (&server->endpoint);
    zstr_free (&server->fingerprint);
    zstr_free (&server->pinned);
    zstr_free (&server->problem);
}

void
tui_frame_destroy (tui_frame_t **self_p)
{
    assert (self_p);
    tui_frame_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < 2; i++)
        s_server_free (&self->servers [i]);
    zstr_free (&self->status);
    free (self);
    *self_p = NULL;
}

chatclient_t *
tui_frame_client (tui_frame_t *self)
{
    return self->client;
}

void
tui_frame_start_colors (tui_frame_t *self)
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

bool
tui_frame_colors (tui_frame_t *self)
{
    return self->colors;
}

//  ---------------------------------------------------------------- status

void
tui_frame_status (tui_frame_t *self, bool error, const char *format, ...)
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
}

void
tui_frame_status_clear (tui_frame_t *self)
{
    zstr_free (&self->status);
}

bool
tui_frame_status_expired (tui_frame_t *self)
{
    if (self->status && zclock_mono () >= self->status_until) {
        zstr_free (&self->status);
        return true;
    }
    return false;
}

bool
tui_frame_status_showing (tui_frame_t *self)
{
    return self->status && self->status_until > zclock_mono ();
}

//  ---------------------------------------------------------------- events

static void
s_replace (char **field, const char *value)
{
    zstr_free (field);
    if (value)
        *field = strdup (value);
}

void
tui_frame_event (tui_frame_t *self, chatclient_event_t *event)
{
    int which = event->server == CHATCLIENT_MAINSERVER? 1: 0;
    tui_server_state_t *server = &self->servers [which];
    switch (event->type) {
        case CHATCLIENT_EV_FAILOVER:
            //  the CONNECTED that follows names the new one in the title
            tui_frame_status (self, false, "Moved to the %s %s (%s failed)",
                              s_server_label [which],
                              event->endpoint? event->endpoint: "",
                              event->from? event->from: "");
            server->moved = true;
            break;
        case CHATCLIENT_EV_CONNECTED:
            server->connected = true;
            //  one endpoint of a list may have been refused: this one is not
            server->refused = server->wrong_role = false;
            server->code = 0;
            s_replace (&server->endpoint, event->endpoint);
            s_replace (&server->fingerprint, event->fingerprint);
            zstr_free (&server->problem);
            if (server->moved) {
                //  the status line says the move; keep it
                server->moved = false;
                server->ever = true;
                break;
            }
            tui_frame_status (self, false, "%s the %s %s (%s)",
                              server->ever? "Connected again to": "Connected to",
                              s_server_label [which],
                              event->endpoint? event->endpoint: "",
                              event->fingerprint? event->fingerprint: "");
            server->ever = true;
            break;
        case CHATCLIENT_EV_DISCONNECTED: {
            //  Said when the state changes, not at every attempt: a server
            //  that is down stays down quietly (the title bar says so)
            const char *before = tui_server_state_word (server);
            bool same = server->problem && event->text && streq (server->problem, event->text);
            server->connected = false;
            server->retry_ms = event->retry_ms;
            server->code = event->code;
            s_replace (&server->problem, event->text);
            const char *why = event->text? event->text: chatclient_errname (event->code);
            if (same && streq (before, tui_server_state_word (server)))
                break;
            if (event->code == CHATCLIENT_ERR_CONNECTION && server->ever)
                tui_frame_status (self, true, "Lost the %s: %s; reconnecting",
                                  s_server_label [which], why);
            else
            if (event->code == CHATCLIENT_ERR_UNREACHABLE
            ||  event->code == CHATCLIENT_ERR_TIMEOUT)
                tui_frame_status (self, true, "%c%s: %s (trying again)",
                                  toupper (s_server_label [which][0]),
                                  s_server_label [which] + 1, why);
            else
                tui_frame_status (self, true, "The %s: %s; %s",
                                  s_server_label [which], why,
                                  server->ever? "reconnecting": "trying again");
            break;
        }
        case CHATCLIENT_EV_PIN_NEW:
            tui_frame_status (self, false, "New %s key pinned (first use): %s",
                              s_server_label [which],
                              event->fingerprint? event->fingerprint: "");
            break;
        case CHATCLIENT_EV_PIN_MOVED:
            tui_frame_status (self, event->text != NULL,
                              "The %s's key was replaced (signed by its old key): pin "
                              "moved to %s%s%s", s_server_label [which],
                              event->fingerprint? event->fingerprint: "",
                              event->text? "; ": "", event->text? event->text: "");
            break;
        case CHATCLIENT_EV_PIN_MISMATCH:
            server->connected = false;
            server->refused = true;
            s_replace (&server->endpoint, event->name? event->name: event->endpoint);
            s_replace (&server->fingerprint, event->fingerprint);
            s_replace (&server->pinned, event->pinned);
            tui_frame_status (self, true, "The %s's key has changed: refused",
                              s_server_label [which]);
            break;
        case CHATCLIENT_EV_WRONG_ROLE:
            server->connected = false;
            server->refused = true;
            server->wrong_role = true;
            s_replace (&server->endpoint, event->endpoint);
            s_replace (&server->problem, event->text);
            tui_frame_status (self, true, "The %s endpoint is not a %s: refused",
                              s_server_label [which], s_server_label [which]);
            break;
        case CHATCLIENT_EV_IDENTITY_CHANGED:
            tui_frame_status (self, true, "WARNING: %s", event->text? event->text
                              : "a contact's identity key changed");
            break;
        case CHATCLIENT_EV_LOGGED_IN:
            if (event->cmd == 0)
                tui_frame_status (self, false, "Session resumed after reconnecting");
            break;
        case CHATCLIENT_EV_ERROR:
            if (event->cmd == 0)
                tui_frame_status (self, true, "%s",
                                  event->text? event->text: chatclient_errname (event->code));
            break;
        default:
            break;
    }
}

const char *
tui_server_state_word (const tui_server_state_t *server)
{
    if (server->refused)
        return "REFUSED";
    if (server->connected)
        return "ok";
    switch (server->code) {
        case 0:
            return "connecting";
        case CHATCLIENT_ERR_UNREACHABLE:
            return "not running";
        case CHATCLIENT_ERR_TIMEOUT:
            return "no answer";
        default:
            return server->ever? "reconnecting": "connecting";
    }
}

const tui_server_state_t *
tui_frame_server (tui_frame_t *self, chatclient_server_t server)
{
    return &self->servers [server == CHATCLIENT_MAINSERVER? 1: 0];
}

//  ---------------------------------------------------------------- drawing

int
tui_frame_attr (tui_frame_t *self, int pair)
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
tui_frame_put (int y, int x, int width, int attr, const char *utf8)
{
    if (width <= 0 || y < 0 || y >= LINES || x >= COLS)
        return;
    attron (attr);
    tui_text_draw_utf8 (y, x, utf8, width);
    attroff (attr);
}

int
tui_frame_put_wrapped (int y, int x, int width, int max_lines, int attr, const char *utf8)
{
    if (width <= 1 || max_lines < 1)
        return 0;
    wchar_t *text = tui_text_decode_str (utf8);
    if (!text)
        return 0;
    size_t len = wcslen (text), start = 0, span;
    int lines = 0;
    attron (attr);
    while (start < len && lines < max_lines) {
        size_t next = tui_text_wrap (text, len, start, width, &span);
        if (lines == max_lines - 1 && next < len) {
            //  the last row allowed, and more to say: cut it visibly
            int used = tui_text_draw (y + lines, x, text + start, len - start, width - 1);
            mvaddnwstr (y + lines, x + used, L"\x2026", 1);
        }
        else
            tui_text_draw (y + lines, x, text + start, span, width);
        start = next;
        lines++;
    }
    attroff (attr);
    free (text);
    return lines;
}

void
tui_frame_put_fit (int y, int x, int width, int attr, const char *utf8,
                   const char *suffix)
{
    if (width <= 0)
        return;
    wchar_t *text = tui_text_decode_str (utf8);
    wchar_t *tail = tui_text_decode_str (suffix);
    if (!text || !tail) {
        free (text);
        free (tail);
        return;
    }
    size_t len = wcslen (text), tail_len = wcslen (tail);
    int text_width = tui_text_width (text, len);
    int tail_width = tui_text_width (tail, tail_len);
    attron (attr);
    if (text_width + tail_width <= width) {
        int used = tui_text_draw (y, x, text, len, width);
        tui_text_draw (y, x + used, tail, tail_len, width - used);
    }
    else {
        //  the suffix stays whole while at least a few columns of the
        //  text are left; the ellipsis says where the text was cut
        if (tail_width > width - 4)
            tail_width = 0;
        int room = width - tail_width - 1;
        int used = tui_text_draw (y, x, text, len, room > 0? room: 0);
        mvaddnwstr (y, x + used, L"\x2026", 1);
        if (tail_width)
            tui_text_draw (y, x + used + 1, tail, tail_len, tail_width);
    }
    attroff (attr);
    free (text);
    free (tail);
}

void
tui_frame_draw_title (tui_frame_t *self, const char *title)
{
    int attr = tui_frame_attr (self, TUI_PAIR_TITLE);
    attron (attr);
    mvhline (0, 0, ' ', COLS);
    attroff (attr);
    tui_frame_put (0, 1, COLS - 2, attr, title);
    //  Right: both servers' states, as short as the width allows
    char right [128];
    const char *state [2];
    for (int i = 0; i < 2; i++)
        state [i] = tui_server_state_word (&self->servers [i]);
    if (COLS >= 80)
        snprintf (right, sizeof right, "key server: %s  main server: %s ",
                  state [0], state [1]);
    else
        snprintf (right, sizeof right, "key:%s main:%s ", state [0], state [1]);
    int width = (int) strlen (right);
    if (width < COLS - 20)
        tui_frame_put (0, COLS - width, width, attr, right);
}

void
tui_frame_draw_status (tui_frame_t *self, const char *hints)
{
    int y = LINES - 1;
    move (y, 0);
    clrtoeol ();
    if (self->status && zclock_mono () < self->status_until)
        tui_frame_put (y, 1, COLS - 2,
                       tui_frame_attr (self, self->status_error? TUI_PAIR_ERROR: TUI_PAIR_OK),
                       self->status);
    else
        tui_frame_put (y, 1, COLS - 2, tui_frame_attr (self, TUI_PAIR_DIM), hints);
}

int
tui_frame_draw_pin_warning (tui_frame_t *self, int y)
{
    int lines = 0;
    int attr = tui_frame_attr (self, TUI_PAIR_WARN);
    for (int i = 0; i < 2; i++) {
        tui_server_state_t *server = &self->servers [i];
        if (!server->refused)
            continue;
        char *text [5];
        if (server->wrong_role) {
            text [0] = zsys_sprintf (
                "  ERROR: the endpoint given for the %s is not a %s - refused  ",
                s_server_label [i], s_server_label [i]);
            text [1] = zsys_sprintf ("  endpoint: %s", server->endpoint? server->endpoint: "?");
            text [2] = zsys_sprintf ("  Its signed greeting names the other role.");
            text [3] = zsys_sprintf (
                "  Are the key server and main server endpoints the wrong way round?");
            text [4] = zsys_sprintf ("  (--keyserver is the key server's, --mainserver the main server's)");
        }
        else {
        text [0] = zsys_sprintf (
            "  WARNING: the %s's key has CHANGED - refused, not connecting to it  ",
            s_server_label [i]);
        text [1] = zsys_sprintf ("  server:  %s", server->endpoint? server->endpoint: "?");
        text [2] = zsys_sprintf ("  offered: %s", server->fingerprint? server->fingerprint: "?");
        text [3] = zsys_sprintf ("  pinned:  %s", server->pinned? server->pinned: "?");
        text [4] = zsys_sprintf (
            "  Someone may be impersonating it. If the change is expected, remove its line from known_servers.");
        }
        for (int j = 0; j < 5; j++) {
            if (y + lines < LINES - 1) {
                attron (attr);
                mvhline (y + lines, 0, ' ', COLS);
                attroff (attr);
                tui_frame_put (y + lines, 0, COLS, attr, text [j]);
                lines++;
            }
            zstr_free (&text [j]);
        }
    }
    return lines;
}

char *
tui_frame_conversation_name (tui_frame_t *self, const chatclient_conversation_t *conv)
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
