/*  tui_main - the conversation screen

    The report's conversation window (figure 8), titled with the user's
    name: conversations on the left (the members other than me, unread
    counts), the open conversation on the right (tui_convview), the input
    below it. Its buttons are commands here: /new, /refresh, /logout, plus
    /open, /notify, /quit and /help, and F1/F2/F5/F10 for some of them;
    /add, /remove, /leave, /title, /admin change the open conversation and
    /accept takes a message request; /verify, /members and /password are
    tui_identity's panels.

    A conversation with a member whose identity key changed shows a warning
    line above its messages for as long as it lasts (tui_convview), and
    '!' before its number in the list.

    The input grows to a few rows when the message holds several lines
    (Alt-Enter, a paste); a message of more than CONFIRM_LINES lines is sent
    only after a second Enter. Nothing typed is thrown away: a line that
    cannot go (no conversation open, only spaces) stays in the input.
*/
#include "tui_main.h"
#include "tui_convview.h"
#include "tui_identity.h"
#include "tui_notify.h"
#include "wire.h"

#define INPUT_MAX (WIRE_MAX_TEXT / 4)
#ifndef CTRL
#   define CTRL(c) ((c) & 0x1F)
#endif
#define CONFIRM_LINES 4         //  longer messages are sent after a second Enter
#define INPUT_ROWS_MAX 8

static const char *s_commands [] = {
    "/accept", "/add", "/admin", "/help", "/leave", "/logout", "/members", "/new", "/notify",
    "/open", "/password", "/quit", "/refresh", "/remove", "/title", "/verify"
};
#define COMMAND_COUNT (sizeof s_commands / sizeof s_commands [0])

struct _tui_main_t {
    chatclient_t *client;       //  borrowed
    tui_input_t *input;
    tui_convview_t *view;
    tui_notify_t *notify;
    bool has_open;
    uint8_t open_id [CHATCLIENT_ID_SIZE];
    uint32_t open_cmd;
    char *open_problem;         //  why the last open failed (tried again
                                //  when the servers are back)
    uint32_t refresh_cmd;
    bool refresh_announce;      //  the user asked: say when it is done
    uint32_t logout_cmd;
    uint32_t accept_cmd;
    bool auto_open;             //  open the first conversation when listed
    bool confirm;               //  a long message waits for a second Enter
    int list_top;
    tui_identity_t *identity;   //  /verify, /members, /password
};

tui_main_t *
tui_main_new (chatclient_t *client)
{
    tui_main_t *self = (tui_main_t *) zmalloc (sizeof (tui_main_t));
    self->client = client;
    self->input = tui_input_new (INPUT_MAX, false);
    self->view = tui_convview_new (client);
    self->notify = tui_notify_new ();
    self->identity = tui_identity_new (client);
    if (!self->input || !self->view || !self->notify || !self->identity) {
        tui_main_destroy (&self);
        return NULL;
    }
    return self;
}

void
tui_main_destroy (tui_main_t **self_p)
{
    assert (self_p);
    tui_main_t *self = *self_p;
    if (!self)
        return;
    tui_input_destroy (&self->input);
    tui_convview_destroy (&self->view);
    tui_notify_destroy (&self->notify);
    tui_identity_destroy (&self->identity);
    zstr_free (&self->open_problem);
    free (self);
    *self_p = NULL;
}

void
tui_main_reset (tui_main_t *self)
{
    //  What was typed belongs to the user who typed it
    tui_input_t *fresh = tui_input_new (INPUT_MAX, false);
    if (fresh) {
        tui_input_destroy (&self->input);
        self->input = fresh;
    }
    else
        tui_input_clear (self->input);
    tui_convview_reset (self->view);
    self->has_open = false;
    self->open_cmd = 0;
    zstr_free (&self->open_problem);
    self->refresh_cmd = 0;
    self->logout_cmd = 0;
    self->auto_open = false;
    self->confirm = false;
    self->list_top = 0;
    tui_identity_reset (self->identity);
}

void
tui_main_start (tui_main_t *self, tui_frame_t *frame)
{
    tui_main_reset (self);
    self->auto_open = true;
    self->refresh_cmd = chatclient_refresh (self->client);
    chatclient_list_users (self->client);
    tui_frame_status (frame, false, "Logged in as %s", chatclient_username (self->client));
}

//  Up to where the user had read a conversation before opening it (the
//  main server's marker): a line marks the first message after it
static uint64_t
s_read_seq (tui_main_t *self, const uint8_t id [CHATCLIENT_ID_SIZE])
{
    size_t count = chatclient_conversation_count (self->client);
    for (size_t i = 0; i < count; i++) {
        const chatclient_conversation_t *conv = chatclient_conversation (self->client, i);
        if (conv && memcmp (conv->id, id, CHATCLIENT_ID_SIZE) == 0)
            return conv->read_seq;
    }
    return 0;
}

void
tui_main_open (tui_main_t *self, const uint8_t id [CHATCLIENT_ID_SIZE])
{
    bool again = self->has_open && memcmp (self->open_id, id, CHATCLIENT_ID_SIZE) == 0;
    if (!again)
        tui_convview_open (self->view, id, s_read_seq (self, id));
    memcpy (self->open_id, id, CHATCLIENT_ID_SIZE);
    self->has_open = true;
    self->auto_open = false;
    zstr_free (&self->open_problem);
    self->open_cmd = chatclient_open (self->client, id);
    chatclient_mark_read (self->client, id);
}

bool
tui_main_unsent (tui_main_t *self)
{
    return !tui_input_empty (self->input) || tui_convview_sending (self->view) > 0;
}

//  Index (0-based) of the open conversation in the list, or -1
static int
s_open_index (tui_main_t *self)
{
    if (!self->has_open)
        return -1;
    size_t count = chatclient_conversation_count (self->client);
    for (size_t i = 0; i < count; i++) {
        const chatclient_conversation_t *conv = chatclient_conversation (self->client, i);
        if (conv && memcmp (conv->id, self->open_id, CHATCLIENT_ID_SIZE) == 0)
            return (int) i;
    }
    return -1;
}

static void
s_open_index_at (tui_main_t *self, tui_frame_t *frame, size_t index)
{
    const chatclient_conversation_t *conv = chatclient_conversation (self->client, index);
    if (!conv) {
        tui_frame_status (frame, true, "There is no conversation %zu", index + 1);
        return;
    }
    tui_frame_status_clear (frame);
    tui_main_open (self, conv->id);
}

static void
s_switch (tui_main_t *self, tui_frame_t *frame, int step)
{
    int count = (int) chatclient_conversation_count (self->client);
    if (count == 0) {
        tui_frame_status (frame, false, "No conversations yet: /new starts one");
        return;
    }
    int current = s_open_index (self);
    int next = current < 0? 0: (current + step + count) % count;
    s_open_index_at (self, frame, (size_t) next);
}

//  /add NAME..., /remove NAME, /admin NAME, /leave, /title TEXT on the open
//  conversation; the library says how it went (CONVERSATION or ERROR)
static void
s_change (tui_main_t *self, tui_frame_t *frame, const char *word, const char *arg,
          const char *line)
{
    if (!self->has_open) {
        tui_frame_status (frame, true, "No conversation is open");
        return;
    }
    if (streq (word, "/leave"))
        chatclient_leave (self->client, self->open_id);
    else
    if (streq (word, "/title")) {
        //  the rest of the line, spaces kept
        const char *title = line + strlen ("/title");
        while (*title == ' ')
            title++;
        chatclient_set_title (self->client, self->open_id, title);
    }
    else
    if (!arg)
        tui_frame_status (frame, true, "%s NAME: whom?", word);
    else
    if (streq (word, "/remove"))
        chatclient_remove_member (self->client, self->open_id, arg);
    else
    if (streq (word, "/admin"))
        chatclient_make_admin (self->client, self->open_id, arg);
    else {
        //  /add: every name on the line
        char *copy = strdup (line + strlen ("/add"));
        const char *names [256];       //  a group has at most 256 members
        size_t count = 0;
        char *saveptr = NULL;
        for (char *name = copy? strtok_r (copy, " ", &saveptr): NULL;
             name && count < sizeof names / sizeof names [0];
             name = strtok_r (NULL, " ", &saveptr))
            names [count++] = name;
        chatclient_add_members (self->client, self->open_id, names, count);
        free (copy);
    }
    tui_frame_status (frame, false, "Changing the conversation...");
}

static void
s_notify_command (tui_main_t *self, tui_frame_t *frame, const char *arg)
{
    if (arg && (streq (arg, "on") || streq (arg, "off")))
        tui_notify_set (self->notify, streq (arg, "on"));
    else
    if (arg) {
        tui_frame_status (frame, true, "/notify on or /notify off, not '%s'", arg);
        return;
    }
    if (tui_notify_on (self->notify))
        tui_frame_status (frame, false, "Notifications on: %s for a message you cannot see",
                          tui_notify_how (self->notify));
    else
        tui_frame_status (frame, false, "Notifications off (/notify on turns them on)");
}

//  A command line; what the manager is to do about it.
static tui_action_t
s_command (tui_main_t *self, tui_frame_t *frame, const char *line)
{
    tui_action_t action = TUI_ACTION (TUI_STAY);
    char *copy = strdup (line);
    if (!copy)
        return action;
    char *saveptr = NULL;
    char *word = strtok_r (copy, " \n", &saveptr);
    char *arg = strtok_r (NULL, " \n", &saveptr);
    if (!word)
        ;
    else
    if (streq (word, "/new"))
        action.kind = TUI_TO_PICKER;
    else
    if (streq (word, "/refresh")) {
        self->refresh_cmd = chatclient_refresh (self->client);
        self->refresh_announce = true;
        chatclient_list_users (self->client);
        tui_frame_status (frame, false, "Refreshing...");
    }
    else
    if (streq (word, "/logout")) {
        if (!self->logout_cmd) {
            self->logout_cmd = chatclient_logout (self->client);
            tui_frame_status (frame, false, "Logging out...");
        }
    }
    else
    if (streq (word, "/quit"))
        action.kind = TUI_QUIT;
    else
    if (streq (word, "/help"))
        action.kind = TUI_HELP;
    else
    if (streq (word, "/notify"))
        s_notify_command (self, frame, arg);
    else
    if (streq (word, "/verify"))
        tui_identity_verify (self->identity, frame, arg);
    else
    if (streq (word, "/members"))
        tui_identity_members (self->identity, frame, self->has_open? self->open_id: NULL);
    else
    if (streq (word, "/password"))
        tui_identity_password (self->identity, frame);
    else
    if (streq (word, "/accept")) {
        const chatclient_conversation_t *conv = NULL;
        if (arg)
            chatclient_conversation_find (self->client, arg, &conv);
        const uint8_t *id = conv? conv->id: self->has_open? self->open_id: NULL;
        if (!id)
            tui_frame_status (frame, true, "/accept N: no conversation '%s'", arg? arg: "");
        else {
            self->accept_cmd = chatclient_accept (self->client, id);
            tui_frame_status (frame, false, "Accepting...");
        }
    }
    else
    if (streq (word, "/add") || streq (word, "/remove") || streq (word, "/admin")
    ||  streq (word, "/leave") || streq (word, "/title"))
        s_change (self, frame, word, arg, line);
    else
    if (streq (word, "/open")) {
        const chatclient_conversation_t *conv = NULL;
        int rc = arg? chatclient_conversation_find (self->client, arg, &conv): -1;
        if (rc == 0 && conv) {
            tui_frame_status_clear (frame);
            tui_main_open (self, conv->id);
        }
        else
            tui_frame_status (frame, true, "/open N: no conversation '%s'", arg? arg: "");
    }
    else
        tui_frame_status (frame, true, "Unknown command %s (try /help)", word);
    free (copy);
    return action;
}

static size_t
s_count_lines (const char *text)
{
    size_t lines = 1;
    for (const char *c = text; *c; c++)
        if (*c == '\n')
            lines++;
    return lines;
}

static bool
s_blank (const char *text)
{
    for (const char *c = text; *c; c++)
        if (*c != ' ' && *c != '\n' && *c != '\t')
            return false;
    return true;
}

static tui_action_t
s_submit (tui_main_t *self, tui_frame_t *frame)
{
    tui_action_t action = TUI_ACTION (TUI_STAY);
    char *text = tui_input_text (self->input);
    if (!text)
        return action;
    if (!*text) {
        free (text);
        return action;
    }
    if (text [0] == '/' && text [1] != '/') {
        tui_input_history_add (self->input, text);
        tui_input_clear (self->input);
        action = s_command (self, frame, text);
        free (text);
        return action;
    }
    //  What cannot go stays in the input, for the user to fix or send later
    const char *body = text [0] == '/'? text + 1: text;
    if (s_blank (body))
        tui_frame_status (frame, true, "Nothing to send: the message is only spaces");
    else
    if (!self->has_open)
        tui_frame_status (frame, true,
                          "No conversation is open: /new starts one, Ctrl-N opens one "
                          "(your text stays)");
    else {
        size_t lines = s_count_lines (body);
        if (lines > CONFIRM_LINES && !self->confirm)
            self->confirm = true;
        else {
            self->confirm = false;
            tui_input_history_add (self->input, text);
            tui_input_clear (self->input);
            tui_frame_status_clear (frame);
            uint32_t cmd = chatclient_send (self->client, self->open_id, body, strlen (body));
            tui_convview_pending (self->view, cmd, self->open_id, body, strlen (body));
            tui_convview_end (self->view);
        }
    }
    free (text);
    return action;
}

static void
s_complete (tui_main_t *self, tui_frame_t *frame)
{
    bool first = false;
    char *word = tui_input_word (self->input, &first);
    if (!word)
        return;
    size_t matches;
    if (first && word [0] == '/')
        matches = tui_input_complete (self->input, s_commands, COMMAND_COUNT, " ");
    else {
        size_t count = chatclient_user_count (self->client);
        const char **names = (const char **) calloc (count + 1, sizeof (char *));
        if (!names) {
            free (word);
            return;
        }
        for (size_t i = 0; i < count; i++)
            names [i] = chatclient_user (self->client, i);
        matches = tui_input_complete (self->input, names, count, " ");
        free (names);
    }
    if (matches == 0)
        tui_frame_status (frame, false, "No completion for '%s'", word);
    free (word);
}

//  A key while a long message waits for its second Enter: true when it
//  was the answer
static bool
s_confirm_key (tui_main_t *self, tui_frame_t *frame, tui_key_t key)
{
    self->confirm = false;
    if (!key.keycode && !key.alt && !key.paste && key.key == 0x1B) {
        tui_frame_status (frame, false, "Not sent: the message is still in the input");
        return true;
    }
    //  Enter sends (s_submit sees the confirmation); anything else edits
    if (!key.alt && !key.paste && ((!key.keycode && (key.key == L'\r' || key.key == L'\n'))
                                   || (key.keycode && key.key == KEY_ENTER))) {
        self->confirm = true;
        s_submit (self, frame);
        return true;
    }
    return false;
}

tui_action_t
tui_main_key (tui_main_t *self, tui_frame_t *frame, tui_key_t key)
{
    tui_action_t stay = TUI_ACTION (TUI_STAY);
    if (tui_identity_active (self->identity)
    &&  tui_identity_key (self->identity, frame, key))
        return stay;
    if (self->confirm && s_confirm_key (self, frame, key))
        return stay;
    if (key.paste) {
        tui_input_paste (self->input, key.key);
        return stay;
    }
    if (key.keycode && key.key == TUI_KEY_PASTE_END) {
        size_t lines = tui_input_lines (self->input);
        if (lines > 1)
            tui_frame_status (frame, false, "%zu lines in the input: Enter sends them as "
                              "one message", lines);
        return stay;
    }
    if (key.alt) {
        if (key.key >= L'1' && key.key <= L'9')
            s_open_index_at (self, frame, (size_t) (key.key - L'1'));
        else
        if (key.key == L'b' || key.key == L'B')
            tui_input_word_left (self->input);
        else
        if (key.key == L'f' || key.key == L'F')
            tui_input_word_right (self->input);
        else
        if (key.key == L'\r' || key.key == L'\n')
            tui_input_newline (self->input);
        return stay;
    }
    if (key.keycode) {
        switch (key.key) {
            case KEY_PPAGE:
                tui_convview_page (self->view, -1);
                return stay;
            case KEY_NPAGE:
                tui_convview_page (self->view, 1);
                return stay;
            case KEY_HOME:
                tui_convview_home (self->view);
                return stay;
            case KEY_END:
                tui_convview_end (self->view);
                return stay;
            case KEY_F (1):
                return TUI_ACTION (TUI_HELP);
            case KEY_F (2):
                return TUI_ACTION (TUI_TO_PICKER);
            case KEY_F (5):
                return s_command (self, frame, "/refresh");
            case KEY_F (10):
                return TUI_ACTION (TUI_QUIT);
            default:
                break;
        }
    }
    else {
        switch (key.key) {
            case CTRL ('N'):
                s_switch (self, frame, 1);
                return stay;
            case CTRL ('P'):
                s_switch (self, frame, -1);
                return stay;
            case L'\t':
                s_complete (self, frame);
                return stay;
            default:
                break;
        }
    }
    if (tui_input_key (self->input, key.keycode, key.key) == TUI_INPUT_SUBMIT)
        return s_submit (self, frame);
    return stay;
}

//  The open conversation on the screen right now
static bool
s_showing (tui_main_t *self, const uint8_t *id, bool active)
{
    return active && self->has_open && memcmp (id, self->open_id, CHATCLIENT_ID_SIZE) == 0;
}

static void
s_notify (tui_main_t *self, tui_frame_t *frame, const chatclient_message_t *msg)
{
    const char *me = chatclient_username (self->client);
    if (!msg->live || msg->local || (me && streq (msg->sender, me)))
        return;
    const chatclient_conversation_t *conv = NULL;
    char hex [CHATCLIENT_HEX_SIZE];
    memcpy (hex, msg->conversation_hex, CHATCLIENT_HEX_SIZE);
    hex [CHATCLIENT_HEX_SIZE - 1] = 0;
    bool found = chatclient_conversation_find (self->client, hex, &conv) == 0 && conv;
    if (found && conv->request)
        return;                 //  a message request rings nothing until accepted
    char *name = found? tui_frame_conversation_name (frame, conv): strdup ("a conversation");
    tui_notify_message (self->notify, msg->sender, name);
    free (name);
}

tui_action_t
tui_main_event (tui_main_t *self, tui_frame_t *frame, chatclient_event_t *event,
                bool active)
{
    tui_action_t action = TUI_ACTION (TUI_STAY);
    tui_convview_event (self->view, event);
    tui_identity_event (self->identity, frame, event);
    switch (event->type) {
        case CHATCLIENT_EV_CONVERSATIONS:
            if (event->cmd && event->cmd == self->refresh_cmd) {
                self->refresh_cmd = 0;
                if (self->refresh_announce)
                    tui_frame_status (frame, false, "%zu conversation%s",
                                      event->conversation_count,
                                      event->conversation_count == 1? "": "s");
                self->refresh_announce = false;
            }
            //  (the status line stays: a warning from the login, say a
            //  contact's changed identity key, must not vanish with it)
            if (self->auto_open && !self->has_open && active
            &&  chatclient_conversation_count (self->client) > 0)
                tui_main_open (self, chatclient_conversation (self->client, 0)->id);
            self->auto_open = false;
            break;
        case CHATCLIENT_EV_CONVERSATION:
            if (event->cmd && event->cmd == self->accept_cmd) {
                self->accept_cmd = 0;
                tui_frame_status (frame, false, "Accepted");
            }
            //  Someone started a conversation with me while none is open:
            //  show it, as the report's window shows its only textbox
            if (event->cmd == 0 && !self->has_open && event->conversation
            &&  active) {
                tui_frame_status_clear (frame);
                tui_main_open (self, event->conversation->id);
            }
            break;
        case CHATCLIENT_EV_MESSAGE:
            if (!event->message)
                break;
            if (!self->has_open && active) {
                tui_frame_status_clear (frame);
                tui_main_open (self, event->message->conversation_id);
            }
            else
            if (s_showing (self, event->message->conversation_id, active))
                chatclient_mark_read (self->client, self->open_id);
            else
                s_notify (self, frame, event->message);
            break;
        case CHATCLIENT_EV_CHANGE:
            //  A change of the open conversation: said on the status line
            if (self->has_open && event->conversation && event->text && active
            &&  memcmp (event->conversation->id, self->open_id, CHATCLIENT_ID_SIZE) == 0)
                tui_frame_status (frame, false, "%s", event->text);
            break;
        case CHATCLIENT_EV_OPENED:
            if (event->cmd == self->open_cmd)
                self->open_cmd = 0;
            break;
        case CHATCLIENT_EV_LOGGED_IN:
        case CHATCLIENT_EV_CONNECTED:
            //  the servers are back: what could not load tries again
            if (event->cmd == 0 && self->open_problem && self->has_open && !self->open_cmd
            &&  chatclient_username (self->client)) {
                zstr_free (&self->open_problem);
                self->open_cmd = chatclient_open (self->client, self->open_id);
            }
            break;
        case CHATCLIENT_EV_LOGGED_OUT:
            if (event->cmd && event->cmd == self->logout_cmd) {
                action.kind = TUI_LOGGED_OUT;
                action.text = "Logged out";
            }
            break;
        case CHATCLIENT_EV_ERROR:
            if (event->cmd && event->cmd == self->logout_cmd) {
                //  The servers may not have heard it; locally it is over
                action.kind = TUI_LOGGED_OUT;
                action.text = "Logged out";
            }
            else
            if (event->cmd && event->cmd == self->open_cmd) {
                self->open_cmd = 0;
                zstr_free (&self->open_problem);
                self->open_problem = strdup (event->text? event->text
                                                        : chatclient_errname (event->code));
            }
            else
            if (event->cmd && active)
                tui_frame_status (frame, true, "%s",
                                  event->text? event->text: chatclient_errname (event->code));
            break;
        default:
            break;
    }
    return action;
}

//  ---------------------------------------------------------------- drawing

static void
s_draw_list (tui_main_t *self, tui_frame_t *frame, int top, int height, int width)
{
    size_t count = chatclient_conversation_count (self->client);
    int open = s_open_index (self);
    if (count == 0) {
        tui_frame_put (top, 1, width - 1, tui_frame_attr (frame, TUI_PAIR_DIM),
                       self->refresh_cmd? "Loading...": "None yet");
        tui_frame_put (top + 1, 1, width - 1, tui_frame_attr (frame, TUI_PAIR_DIM),
                       "/new or F2");
        return;
    }
    if (open >= 0) {
        if (open < self->list_top)
            self->list_top = open;
        if (open >= self->list_top + height)
            self->list_top = open - height + 1;
    }
    if (self->list_top > (int) count - 1)
        self->list_top = 0;
    for (int row = 0; row < height; row++) {
        size_t i = (size_t) (self->list_top + row);
        if (i >= count)
            break;
        const chatclient_conversation_t *conv = chatclient_conversation (self->client, i);
        if (!conv)
            break;
        char *name = tui_frame_conversation_name (frame, conv);
        char number [24], unread [24] = "";
        //  '!': a member's identity key changed
        snprintf (number, sizeof number, "%c%zu", conv->changed? '!'
                  : (int) i == open? '>': ' ', conv->index);
        if (conv->unread > 0)
            snprintf (unread, sizeof unread, " %llu", (unsigned long long) conv->unread);
        int attr = (int) i == open? tui_frame_attr (frame, TUI_PAIR_SELECT)
                 : conv->unread > 0? (int) A_BOLD: (int) A_NORMAL;
        attron (attr);
        mvhline (top + row, 0, ' ', width);
        attroff (attr);
        int number_width = (int) strlen (number) + 1;
        if (number_width < 3)
            number_width = 3;
        tui_frame_put (top + row, 0, number_width, attr, number);
        int unread_width = (int) strlen (unread);
        tui_frame_put_fit (top + row, number_width, width - number_width - unread_width - 1,
                           attr, name, NULL);
        if (unread_width)
            tui_frame_put (top + row, width - unread_width - 1, unread_width,
                           (int) i == open? attr
                                          : tui_frame_attr (frame, TUI_PAIR_OK)
                                            | (int) (A_BOLD | A_REVERSE),
                           unread);
        zstr_free (&name);
    }
}

//  The warning line of a conversation with members whose identity key
//  changed; the number of lines it took (0 or 1).
static int
s_draw_changed (tui_main_t *self, tui_frame_t *frame, const chatclient_conversation_t *conv,
                int y, int x, int width)
{
    if (conv->changed == 0)
        return 0;
    char names [256] = "";
    const char *first = NULL;
    for (size_t i = 0; i < conv->member_count; i++)
        if (chatclient_identity (self->client, conv->members [i])
            == CHATCLIENT_IDENTITY_CHANGED) {
            if (!first)
                first = conv->members [i];
            if (strlen (names) + strlen (conv->members [i]) + 3 < sizeof names) {
                if (*names)
                    strcat (names, ", ");
                strcat (names, conv->members [i]);
            }
        }
    char *text = zsys_sprintf (" ! Identity key CHANGED: %s. What they sign now may not be "
                               "from them: /verify %s ", names, first? first: "");
    int attr = tui_frame_attr (frame, TUI_PAIR_WARN);
    attron (attr);
    mvhline (y, x, ' ', width);
    attroff (attr);
    tui_frame_put (y, x, width, attr, text);
    zstr_free (&text);
    return 1;
}

//  What the message area says while it has nothing to show
static const char *
s_empty_text (tui_main_t *self, tui_frame_t *frame, char *buffer, size_t size)
{
    const tui_server_state_t *key = tui_frame_server (frame, CHATCLIENT_KEYSERVER);
    const tui_server_state_t *main = tui_frame_server (frame, CHATCLIENT_MAINSERVER);
    if (self->open_problem) {
        snprintf (buffer, size, "Could not load this conversation: %s. It loads when "
                  "the servers are back.", self->open_problem);
        return buffer;
    }
    if (self->open_cmd) {
        if (!main->connected)
            return "Waiting for the main server to load this conversation...";
        if (!key->connected)
            return "Waiting for the key server for this conversation's key...";
        return "Loading...";
    }
    return "No messages yet: say something.";
}

void
tui_main_draw (tui_main_t *self, tui_frame_t *frame)
{
    const char *me = chatclient_username (self->client);
    char *title = zsys_sprintf ("User: %s", me? me: "?");
    tui_frame_draw_title (frame, title);
    zstr_free (&title);

    int top = 1 + tui_frame_draw_pin_warning (frame, 1);
    int list_width = COLS / 4;
    if (list_width < 18)
        list_width = 18;
    if (list_width > 32)
        list_width = 32;
    int right_x = list_width + 2;
    int right_width = COLS - right_x - 1;
    //  The input grows with the message, up to a third of the screen
    int rows_max = (LINES - top - 6) / 3;
    if (rows_max > INPUT_ROWS_MAX)
        rows_max = INPUT_ROWS_MAX;
    if (rows_max < 1)
        rows_max = 1;
    int rows = tui_input_rows (self->input, COLS - 3);
    if (rows > rows_max)
        rows = rows_max;
    int rule_y = LINES - 2 - rows;
    int body_top = top + 2;
    int body_height = rule_y - body_top;
    if (body_height < 1)
        body_height = 1;

    //  Headers and rules
    int dim = tui_frame_attr (frame, TUI_PAIR_DIM);
    char header [64];
    snprintf (header, sizeof header, "Conversations (%zu)",
              chatclient_conversation_count (self->client));
    tui_frame_put (top, 1, list_width - 1, A_BOLD, header);
    const chatclient_conversation_t *conv = NULL;
    int open = s_open_index (self);
    if (open >= 0)
        conv = chatclient_conversation (self->client, (size_t) open);
    const char *panel = tui_identity_title (self->identity);
    if (panel)
        tui_frame_put (top, right_x, right_width, A_BOLD, panel);
    else
    if (conv) {
        char *name = tui_frame_conversation_name (frame, conv);
        char *group = conv->member_count > 2
                    ? zsys_sprintf ("  (group of %zu)", conv->member_count): NULL;
        tui_frame_put_fit (top, right_x, right_width, A_BOLD, name, group);
        zstr_free (&group);
        zstr_free (&name);
    }
    else
        tui_frame_put (top, right_x, right_width, dim, "No conversation open");
    attron (dim);
    mvhline (top + 1, 0, ACS_HLINE, COLS);
    mvvline (top, list_width, ACS_VLINE, rule_y - top);
    mvaddch (top + 1, list_width, ACS_PLUS);
    mvhline (rule_y, 0, ACS_HLINE, COLS);
    mvaddch (rule_y, list_width, ACS_BTEE);
    attroff (dim);

    s_draw_list (self, frame, body_top, body_height, list_width);
    if (tui_identity_draw (self->identity, frame, body_top, right_x, body_height, right_width))
        ;
    else
    if (conv) {
        char buffer [256];
        int warned = s_draw_changed (self, frame, conv, body_top, right_x, right_width);
        tui_convview_draw (self->view, frame, body_top + warned, right_x,
                           body_height - warned, right_width, rule_y,
                           s_empty_text (self, frame, buffer, sizeof buffer));
    }
    else {
        tui_frame_put (body_top + 1, right_x + 1, right_width - 1, A_NORMAL,
                       chatclient_conversation_count (self->client) > 0
                       ? "Pick a conversation: Ctrl-N / Ctrl-P, Alt-1..9, or /open N."
                       : "No conversations yet. Type /new (or F2) to start one.");
    }

    if (self->confirm) {
        char *text = zsys_sprintf ("Send these %zu lines as one message? Enter: send  "
                                   "Esc: keep editing", tui_input_lines (self->input));
        move (LINES - 1, 0);
        clrtoeol ();
        tui_frame_put (LINES - 1, 1, COLS - 2, tui_frame_attr (frame, TUI_PAIR_WARN), text);
        zstr_free (&text);
    }
    else
        tui_frame_draw_status (frame, COLS >= 110
            ? "F1 help  F2 /new  F5 /refresh  /logout  F10 /quit  "
              "Ctrl-N/P switch  PgUp/PgDn Home/End scroll  Alt-Enter new line"
            : COLS >= 60? "F1 help  F2 new  F5 refresh  F10 quit  ^N/^P switch  PgUp/PgDn"
            : "F1 help  F2 new  F10 quit");
    //  The input last: the cursor stays there (a password prompt hides it)
    int cursor_y = rule_y + 1, cursor_x;
    if (!tui_identity_draw_prompt (self->identity, rule_y + 1, COLS - 1, &cursor_x)) {
        tui_frame_put (rule_y + 1, 0, 2, A_BOLD, "> ");
        tui_input_draw_rows (self->input, rule_y + 1, 2, COLS - 3, rows, &cursor_y,
                             &cursor_x);
    }
    move (cursor_y, cursor_x);
    curs_set (1);
}
