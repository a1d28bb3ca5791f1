/*  tui_login - the login and registration screen

    The report's window (figure 3): "Login:" with a username and a password,
    "Or make a new account:" with a username and the password three times.
    Enter submits the section the cursor is in; the answer appears under
    that section's button in the report's words (figures 4-7). Passwords
    are masked, and wiped from memory as soon as they are handed over.
*/
#include "tui_login.h"

#include <openssl/crypto.h>

#include "chaterror.h"

#define FIELD_COUNT 6
#define FIELD_MAX 256
#define LOGIN_FIRST 0
#define REGISTER_FIRST 2

static const char *s_labels [FIELD_COUNT] = {
    "Username:", "Password:",
    "Username:", "Password:", "Confirm Password:", "Confirm Password again:"
};

struct _tui_login_t {
    chatclient_t *client;       //  borrowed
    tui_input_t *fields [FIELD_COUNT];
    int focus;
    uint32_t login_cmd;
    uint32_t register_cmd;
    char *login_message;
    bool login_error;
    char *register_message;
    bool register_error;
};

tui_login_t *
tui_login_new (chatclient_t *client)
{
    tui_login_t *self = (tui_login_t *) zmalloc (sizeof (tui_login_t));
    self->client = client;
    for (int i = 0; i < FIELD_COUNT; i++) {
        bool masked = !(i == 0 || i == REGISTER_FIRST);
        self->fields [i] = tui_input_new (FIELD_MAX, masked);
        if (!self->fields [i]) {
            tui_login_destroy (&self);
            return NULL;
        }
    }
    return self;
}

void
tui_login_destroy (tui_login_t **self_p)
{
    assert (self_p);
    tui_login_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < FIELD_COUNT; i++)
        tui_input_destroy (&self->fields [i]);
    zstr_free (&self->login_message);
    zstr_free (&self->register_message);
    free (self);
    *self_p = NULL;
}

static void
s_message (char **field, bool *error_field, bool error, const char *text)
{
    zstr_free (field);
    if (text)
        *field = strdup (text);
    *error_field = error;
}

void
tui_login_enter (tui_login_t *self, const char *message, bool error)
{
    for (int i = 0; i < FIELD_COUNT; i++)
        tui_input_clear (self->fields [i]);
    self->focus = 0;
    self->login_cmd = 0;
    self->register_cmd = 0;
    s_message (&self->login_message, &self->login_error, error, message);
    s_message (&self->register_message, &self->register_error, false, NULL);
}

//  Takes a field's text and wipes the field
static char *
s_take (tui_input_t *field)
{
    char *text = tui_input_text (field);
    tui_input_clear (field);
    return text? text: strdup ("");
}

static void
s_free_secret (char **text_p)
{
    if (*text_p) {
        OPENSSL_cleanse (*text_p, strlen (*text_p));
        free (*text_p);
        *text_p = NULL;
    }
}

static void
s_submit_login (tui_login_t *self)
{
    if (self->login_cmd)
        return;                     //  one at a time
    if (tui_input_empty (self->fields [0]) || tui_input_empty (self->fields [1])) {
        s_message (&self->login_message, &self->login_error, true,
                   "Enter a username and a password");
        return;
    }
    char *username = tui_input_text (self->fields [0]);
    char *password = s_take (self->fields [1]);
    if (username && password) {
        self->login_cmd = chatclient_login (self->client, username, password);
        s_message (&self->login_message, &self->login_error, false, "Logging in...");
    }
    free (username);
    s_free_secret (&password);
    self->focus = 1;
}

static void
s_submit_register (tui_login_t *self)
{
    if (self->register_cmd)
        return;
    if (tui_input_empty (self->fields [REGISTER_FIRST])) {
        s_message (&self->register_message, &self->register_error, true,
                   "Enter a username");
        return;
    }
    char *username = tui_input_text (self->fields [REGISTER_FIRST]);
    char *passwords [3];
    for (int i = 0; i < 3; i++)
        passwords [i] = s_take (self->fields [REGISTER_FIRST + 1 + i]);
    if (username && passwords [0] && passwords [1] && passwords [2]) {
        self->register_cmd = chatclient_register (self->client, username, passwords [0],
                                                  passwords [1], passwords [2]);
        s_message (&self->register_message, &self->register_error, false,
                   "Registering...");
    }
    free (username);
    for (int i = 0; i < 3; i++)
        s_free_secret (&passwords [i]);
    self->focus = REGISTER_FIRST + 1;
}

tui_action_t
tui_login_key (tui_login_t *self, tui_frame_t *frame, tui_key_t key)
{
    (void) frame;               //  the form needs nothing shared to edit
    if (key.alt) {
        //  Accelerators, like a dialog's underlined letters
        if (key.key == L'l' || key.key == L'L')
            self->focus = LOGIN_FIRST;
        else
        if (key.key == L'r' || key.key == L'R')
            self->focus = REGISTER_FIRST;
        return TUI_ACTION (TUI_STAY);
    }
    if (key.keycode) {
        switch (key.key) {
            case KEY_BTAB:
            case KEY_UP:
                self->focus = (self->focus + FIELD_COUNT - 1) % FIELD_COUNT;
                return TUI_ACTION (TUI_STAY);
            case KEY_DOWN:
                self->focus = (self->focus + 1) % FIELD_COUNT;
                return TUI_ACTION (TUI_STAY);
            case KEY_F (1):
                return TUI_ACTION (TUI_HELP);
            case KEY_F (10):
                return TUI_ACTION (TUI_QUIT);
            case TUI_KEY_PASTE_BEGIN:
            case TUI_KEY_PASTE_END:
                return TUI_ACTION (TUI_STAY);
            default:
                break;
        }
    }
    else
    if (key.paste) {
        //  a pasted name or password, without its newline
        tui_input_paste (self->fields [self->focus], key.key == L'\n' || key.key == L'\r'
                                                     ? 0: key.key);
        return TUI_ACTION (TUI_STAY);
    }
    else
    if (key.key == L'\t') {
        self->focus = (self->focus + 1) % FIELD_COUNT;
        return TUI_ACTION (TUI_STAY);
    }
    tui_input_result_t result = tui_input_key (self->fields [self->focus],
                                               key.keycode, key.key);
    if (result == TUI_INPUT_CHANGED) {
        //  The last answer is stale once the user edits its section
        if (self->focus < REGISTER_FIRST && !self->login_cmd)
            s_message (&self->login_message, &self->login_error, false, NULL);
        if (self->focus >= REGISTER_FIRST && !self->register_cmd)
            s_message (&self->register_message, &self->register_error, false, NULL);
    }
    if (result == TUI_INPUT_SUBMIT) {
        //  Enter on a section with an empty field goes to that field first
        int first = self->focus < REGISTER_FIRST? LOGIN_FIRST: REGISTER_FIRST;
        int last = self->focus < REGISTER_FIRST? REGISTER_FIRST: FIELD_COUNT;
        for (int f = first; f < last; f++)
            if (f != self->focus && tui_input_empty (self->fields [f])
            &&  !tui_input_empty (self->fields [self->focus])) {
                self->focus = f;
                //  and says why the cursor moved
                char *text = zsys_sprintf ("Enter the %s first", f == first? "username"
                                           : f == first + 1? "password": "password again");
                if (first == LOGIN_FIRST)
                    s_message (&self->login_message, &self->login_error, true, text);
                else
                    s_message (&self->register_message, &self->register_error, true, text);
                zstr_free (&text);
                return TUI_ACTION (TUI_STAY);
            }
        if (first == LOGIN_FIRST)
            s_submit_login (self);
        else
            s_submit_register (self);
    }
    return TUI_ACTION (TUI_STAY);
}

tui_action_t
tui_login_event (tui_login_t *self, tui_frame_t *frame, chatclient_event_t *event)
{
    (void) frame;               //  answers go under the form's own buttons
    if (event->cmd == 0)
        return TUI_ACTION (TUI_STAY);
    if (event->cmd == self->login_cmd) {
        self->login_cmd = 0;
        if (event->type == CHATCLIENT_EV_LOGGED_IN) {
            for (int i = 0; i < FIELD_COUNT; i++)
                tui_input_clear (self->fields [i]);
            s_message (&self->login_message, &self->login_error, false, NULL);
            s_message (&self->register_message, &self->register_error, false, NULL);
            return TUI_ACTION (TUI_LOGGED_IN);
        }
        const char *text = event->text? event->text
                         : event->type == CHATCLIENT_EV_LOGIN_FAILED
                         ? "Wrong username or password"
                         : chatclient_errname (event->code);
        //  (a rate limit's text says how long to wait already)
        s_message (&self->login_message, &self->login_error, true, text);
    }
    else
    if (event->cmd == self->register_cmd) {
        self->register_cmd = 0;
        if (event->type == CHATCLIENT_EV_REGISTERED) {
            s_message (&self->register_message, &self->register_error, false,
                       event->text? event->text: "Success!");
            //  The form stays, as in the report, ready for another account
            tui_input_clear (self->fields [REGISTER_FIRST]);
            self->focus = REGISTER_FIRST;
        }
        else {
            const char *text = event->text? event->text: chatclient_errname (event->code);
            s_message (&self->register_message, &self->register_error, true, text);
            //  Back to what needs changing: the name, or the passwords
            self->focus = event->code == CHAT_ERR_USERNAME_TAKEN
                       || event->code == CHAT_ERR_INVALID_USERNAME
                        ? REGISTER_FIRST: REGISTER_FIRST + 1;
        }
    }
    return TUI_ACTION (TUI_STAY);
}

static void
s_draw_field (tui_login_t *self, tui_frame_t *frame, int field, int y, int x, int label_width,
              int width, int *cursor_y, int *cursor_x)
{
    bool focus = self->focus == field;
    tui_frame_put (y, x, label_width, focus? A_BOLD: A_NORMAL, s_labels [field]);
    int attr = tui_frame_attr (frame, focus? TUI_PAIR_SELECT: TUI_PAIR_FIELD);
    if (!tui_frame_colors (frame))
        attr = focus? A_REVERSE: A_UNDERLINE;
    attron (attr);
    int col = tui_input_draw (self->fields [field], y, x + label_width, width);
    attroff (attr);
    if (focus) {
        *cursor_y = y;
        *cursor_x = col;
    }
}

static void
s_draw_button (tui_frame_t *frame, int y, int x, const char *label, bool active)
{
    int attr = active? tui_frame_attr (frame, TUI_PAIR_SELECT) | A_BOLD: A_BOLD;
    tui_frame_put (y, x, (int) strlen (label), attr, label);
}

//  A server's line (two when its state needs them); returns rows used
static int
s_draw_server (tui_frame_t *frame, chatclient_server_t which, int y, int x, int width)
{
    const tui_server_state_t *server = tui_frame_server (frame, which);
    const char *label = which == CHATCLIENT_KEYSERVER? "Key server: ": "Main server:";
    tui_frame_put (y, x, 13, A_BOLD, label);
    char *state;
    int pair;
    if (server->refused) {
        state = strdup ("REFUSED: its key changed (see above)");
        pair = TUI_PAIR_ERROR;
    }
    else
    if (server->connected) {
        state = zsys_sprintf ("connected %s  %s", server->endpoint? server->endpoint: "",
                              server->fingerprint? server->fingerprint: "");
        pair = TUI_PAIR_OK;
    }
    else
    if (server->problem) {
        state = zsys_sprintf ("%s: %s", tui_server_state_word (server), server->problem);
        pair = TUI_PAIR_ERROR;
    }
    else {
        state = strdup ("connecting...");
        pair = TUI_PAIR_DIM;
    }
    int rows = tui_frame_put_wrapped (y, x + 13, width - 13, 2, tui_frame_attr (frame, pair),
                                      state);
    zstr_free (&state);
    return rows > 0? rows: 1;
}

void
tui_login_draw (tui_login_t *self, tui_frame_t *frame)
{
    tui_frame_draw_title (frame, "chat - log in or make a new account");
    int y = 1 + tui_frame_draw_pin_warning (frame, 1);
    int width = COLS - 4 < 76? COLS - 4: 76;
    int x = (COLS - width) / 2;
    int label_width = 25;
    int field_width = width - label_width - 4;
    if (field_width > 32)
        field_width = 32;
    if (field_width < 8) {
        label_width = 18;
        field_width = width - label_width - 2;
    }
    //  Compact when the terminal is short, centred when it is tall
    int gap = LINES - y >= 22? 1: 0;
    int block = 16 + 4 * gap;
    if (LINES - 1 - y > block + 2)
        y += (LINES - 1 - y - block) / 3;
    int cursor_y = -1, cursor_x = -1;

    y += gap;
    tui_frame_put (y++, x, width, A_BOLD | A_UNDERLINE, "Login:");
    for (int f = LOGIN_FIRST; f < REGISTER_FIRST; f++)
        s_draw_field (self, frame, f, y++, x + 2, label_width, field_width,
                      &cursor_y, &cursor_x);
    s_draw_button (frame, y++, x + 2 + label_width, "[ Login ]", self->focus < REGISTER_FIRST);
    //  answers may be long (a server's address and what to do): the whole
    //  width, and a second row when needed
    int answer_width = COLS - x - 3;
    if (self->login_message)
        y += tui_frame_put_wrapped (y, x + 2, answer_width, 2,
                                    tui_frame_attr (frame, self->login_error? TUI_PAIR_ERROR
                                                                            : TUI_PAIR_OK),
                                    self->login_message) - 1;
    y++;
    y += gap;
    tui_frame_put (y++, x, width, A_BOLD | A_UNDERLINE, "Or make a new account:");
    for (int f = REGISTER_FIRST; f < FIELD_COUNT; f++)
        s_draw_field (self, frame, f, y++, x + 2, label_width, field_width,
                      &cursor_y, &cursor_x);
    s_draw_button (frame, y++, x + 2 + label_width, "[ Register ]",
                   self->focus >= REGISTER_FIRST);
    if (self->register_message)
        y += tui_frame_put_wrapped (y, x + 2, answer_width, 2,
                                    tui_frame_attr (frame, self->register_error? TUI_PAIR_ERROR
                                                                               : TUI_PAIR_OK),
                                    self->register_message) - 1;
    y++;
    y += gap;
    if (y + 2 < LINES - 1) {
        y += s_draw_server (frame, CHATCLIENT_KEYSERVER, y, x, COLS - x - 1);
        if (y < LINES - 1)
            y += s_draw_server (frame, CHATCLIENT_MAINSERVER, y, x, COLS - x - 1);
    }
    tui_frame_draw_status (frame, COLS >= 100
        ? "Tab/Down next field  Shift-Tab/Up previous  Enter submit this section  "
          "Alt-L login  Alt-R register  F1 help  F10 quit"
        : COLS >= 70? "Tab/S-Tab field  Enter submit  Alt-L login  Alt-R register  F10 quit"
        : "Tab field  Enter submit  F1 help  F10 quit");
    if (cursor_y >= 0 && cursor_y < LINES) {
        move (cursor_y, cursor_x);
        curs_set (1);
    }
}
