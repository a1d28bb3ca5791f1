/*  tui_main - the conversation screen

    The report's conversation window (figure 8), titled with the user's
    name: conversations on the left (the members other than me, unread
    counts), the open conversation on the right (time, sender, text,
    wrapped), an input line below. Its buttons are commands here: /new,
    /refresh, /logout, plus /quit and /help, and F2/F5/F10 for the first
    ones; /verify, /members and /password are tui_identity's panels.
    Messages are never copied: they are drawn from the client library's
    memory each time, so what is on screen is what it holds.

    A conversation with a member whose identity key changed shows a warning
    line above its messages for as long as it lasts, and a message signed
    only by such a changed key is marked with '!' before its sender.
*/
#include <time.h>

#include "tui_main.h"
#include "tui_identity.h"
#include "wire.h"

#define INPUT_MAX (WIRE_MAX_TEXT / 4)
#ifndef CTRL
#   define CTRL(c) ((c) & 0x1F)
#endif
#define INDENT 6

static const char *s_commands [] = {
    "/accept", "/add", "/admin", "/help", "/leave", "/logout", "/members", "/new", "/open",
    "/password", "/quit", "/refresh", "/remove", "/title", "/verify"
};
#define COMMAND_COUNT (sizeof s_commands / sizeof s_commands [0])

static const char *s_help [] = {
    "Commands, typed in the input line:",
    "  /new          start a conversation: pick one user, or several for a group  (F2)",
    "  /refresh      list the conversations again and fetch anything missed       (F5)",
    "  /open N       open conversation N of the list                            (Alt-N)",
    "  /members      who is in the open conversation, and whom you verified",
    "  /add NAME...  add people to the open group (everyone gets a new key)",
    "  /remove NAME  remove someone from the open group (its creator and admins)",
    "  /leave        leave the open conversation (a 1:1 too)",
    "  /title TEXT   set the open group's title (no text: clear it)",
    "  /admin NAME   make a member an admin (the group's creator only)",
    "  /accept [N]   accept a message request (N, or the open conversation)",
    "  /verify NAME  the safety number you and NAME compare; y marks NAME verified",
    "  /password     change your password (asked for, hidden; Esc cancels)",
    "  /logout       log out and go back to the login screen",
    "  /quit         log out and leave                                           (F10)",
    "  /help         this help",
    "  //text        send a message that starts with '/'",
    "",
    "Keys:",
    "  Enter             send the message",
    "  Ctrl-N / Ctrl-P   next / previous conversation (also Alt-1 .. Alt-9)",
    "  PgUp / PgDn       scroll the conversation back / forward",
    "  Up / Down         input history",
    "  Tab               complete a command or a username",
    "  Ctrl-A / Ctrl-E   start / end of line       Left / Right, Alt-B / Alt-F",
    "  Ctrl-K / Ctrl-U   delete to end / to start  Ctrl-W delete a word, Ctrl-Y paste it back",
    "  Backspace, Delete, Ctrl-L redraws the screen",
    "",
    "A red line above a conversation: a member's identity key changed. Their",
    "messages marked '!' are signed with the new key: /verify them first.",
    "",
    "Any key closes this help.",
    NULL
};

struct _tui_main_t {
    chatclient_t *client;       //  borrowed
    tui_input_t *input;
    bool has_open;
    uint8_t open_id [CHATCLIENT_ID_SIZE];
    uint32_t open_cmd;
    uint32_t refresh_cmd;
    bool refresh_announce;      //  the user asked: say when it is done
    uint32_t logout_cmd;
    uint32_t accept_cmd;
    bool auto_open;             //  open the first conversation when listed
    int scroll;                 //  lines back from the newest
    int body_height;            //  as last drawn, for PgUp/PgDn
    int list_top;
    bool help;
    tui_identity_t *identity;   //  /verify, /members, /password
};

tui_main_t *
tui_main_new (chatclient_t *client)
{
    tui_main_t *self = (tui_main_t *) zmalloc (sizeof (tui_main_t));
    self->client = client;
    self->input = tui_input_new (INPUT_MAX, false);
    self->identity = tui_identity_new (client);
    if (!self->input || !self->identity) {
        tui_input_destroy (&self->input);
        tui_identity_destroy (&self->identity);
        free (self);
        return NULL;
    }
    self->body_height = 10;
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
    tui_identity_destroy (&self->identity);
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
    self->has_open = false;
    self->open_cmd = 0;
    self->refresh_cmd = 0;
    self->logout_cmd = 0;
    self->auto_open = false;
    self->scroll = 0;
    self->list_top = 0;
    self->help = false;
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

void
tui_main_open (tui_main_t *self, const uint8_t id [CHATCLIENT_ID_SIZE])
{
    memcpy (self->open_id, id, CHATCLIENT_ID_SIZE);
    self->has_open = true;
    self->auto_open = false;
    self->scroll = 0;
    self->open_cmd = chatclient_open (self->client, id);
    chatclient_mark_read (self->client, id);
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

//  A command line; what the manager is to do about it.
static tui_action_t
s_command (tui_main_t *self, tui_frame_t *frame, const char *line)
{
    tui_action_t action = TUI_ACTION (TUI_STAY);
    char *copy = strdup (line);
    if (!copy)
        return action;
    char *saveptr = NULL;
    char *word = strtok_r (copy, " ", &saveptr);
    char *arg = strtok_r (NULL, " ", &saveptr);
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
        self->help = true;
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
        if (rc == 0 && conv)
            tui_main_open (self, conv->id);
        else
            tui_frame_status (frame, true, "/open N: no conversation '%s'", arg? arg: "");
    }
    else
        tui_frame_status (frame, true, "Unknown command %s (try /help)", word);
    free (copy);
    return action;
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
    tui_input_history_add (self->input, text);
    tui_input_clear (self->input);
    if (text [0] == '/' && text [1] != '/')
        action = s_command (self, frame, text);
    else {
        const char *body = text [0] == '/'? text + 1: text;
        if (!self->has_open)
            tui_frame_status (frame, true, "No conversation is open: /new starts one");
        else {
            chatclient_send (self->client, self->open_id, body, strlen (body));
            self->scroll = 0;
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

tui_action_t
tui_main_key (tui_main_t *self, tui_frame_t *frame, tui_key_t key)
{
    tui_action_t stay = TUI_ACTION (TUI_STAY);
    if (tui_identity_active (self->identity)
    &&  tui_identity_key (self->identity, frame, key))
        return stay;
    if (self->help) {
        self->help = false;
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
        return stay;
    }
    int page = self->body_height > 2? self->body_height - 2: 1;
    if (key.keycode) {
        switch (key.key) {
            case KEY_PPAGE:
                self->scroll += page;       //  clamped when drawn
                return stay;
            case KEY_NPAGE:
                self->scroll = self->scroll > page? self->scroll - page: 0;
                return stay;
            case KEY_F (1):
                self->help = true;
                return stay;
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

tui_action_t
tui_main_event (tui_main_t *self, tui_frame_t *frame, chatclient_event_t *event,
                bool active)
{
    tui_action_t action = TUI_ACTION (TUI_STAY);
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
            if (self->auto_open && !self->has_open && active
            &&  chatclient_conversation_count (self->client) > 0)
                s_open_index_at (self, frame, 0);
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
            &&  active)
                tui_main_open (self, event->conversation->id);
            break;
        case CHATCLIENT_EV_MESSAGE:
            if (!self->has_open && event->message && active)
                tui_main_open (self, event->message->conversation_id);
            else
            if (self->has_open && event->message
            &&  memcmp (event->message->conversation_id, self->open_id,
                        CHATCLIENT_ID_SIZE) == 0
            &&  active)
                chatclient_mark_read (self->client, self->open_id);
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

static int
s_name_pair (tui_frame_t *frame, const char *name, bool own)
{
    if (own)
        return tui_frame_attr (frame, TUI_PAIR_OWN) | A_BOLD;
    unsigned hash = 5381;
    for (const char *c = name; *c; c++)
        hash = hash * 33 + (unsigned char) *c;
    return tui_frame_attr (frame, TUI_PAIR_NAME1 + (int) (hash % 4)) | A_BOLD;
}

static void
s_day (int64_t unix_ms, struct tm *tm)
{
    time_t t = (time_t) (unix_ms / 1000);
    localtime_r (&t, tm);
}

static bool
s_same_day (int64_t a, int64_t b)
{
    struct tm ta, tb;
    s_day (a, &ta);
    s_day (b, &tb);
    return ta.tm_year == tb.tm_year && ta.tm_yday == tb.tm_yday;
}

typedef struct {
    const chatclient_message_t *msg;
    wchar_t *text;
    size_t len;
    int prefix;                 //  columns of "HH:MM sender: "
    bool separator;             //  a day line before it
    int lines;
} s_entry_t;

//  The text of line `line` of an entry (not counting its day line): line
//  0 holds the time, the name and the first piece of text, unless the name
//  is too long to leave room, then the text starts on line 1. False when
//  the entry has no such line.
static bool
s_entry_span (s_entry_t *entry, int width, int line, size_t *start, size_t *len)
{
    int first = width - entry->prefix;
    size_t pos = 0, next;
    int current = 1;
    if (first >= 8) {
        next = tui_text_wrap (entry->text, entry->len, 0, first, len);
        *start = 0;
        if (line == 0)
            return true;
        pos = next;
    }
    else
    if (line == 0) {
        *start = 0;
        *len = 0;
        return true;
    }
    while (pos < entry->len) {
        next = tui_text_wrap (entry->text, entry->len, pos, width - INDENT, len);
        if (current == line) {
            *start = pos;
            return true;
        }
        pos = next;
        current++;
    }
    return false;
}

static int
s_entry_lines (s_entry_t *entry, int width)
{
    int first = width - entry->prefix;
    size_t pos = 0, len;
    int lines = 1;
    if (first >= 8)
        pos = tui_text_wrap (entry->text, entry->len, 0, first, &len);
    while (pos < entry->len) {
        pos = tui_text_wrap (entry->text, entry->len, pos, width - INDENT, &len);
        lines++;
    }
    return lines + (entry->separator? 1: 0);
}

//  Draws line `line` (0-based within the entry) of an entry at row y
static void
s_entry_draw (tui_frame_t *frame, s_entry_t *entry, int line, int y, int x, int width,
              const char *me)
{
    if (entry->separator) {
        if (line == 0) {
            struct tm tm;
            char day [64];
            s_day (entry->msg->server_time, &tm);
            strftime (day, sizeof day, " %A %d %B %Y ", &tm);
            int attr = tui_frame_attr (frame, TUI_PAIR_DIM);
            attron (attr);
            mvhline (y, x, ACS_HLINE, width);
            attroff (attr);
            int len = (int) strlen (day);
            tui_frame_put (y, x + (width - len) / 2, len, attr, day);
            return;
        }
        line--;
    }
    size_t start, len;
    if (!s_entry_span (entry, width, line, &start, &len))
        return;
    if (line == 0) {
        struct tm tm;
        char hhmm [8];
        s_day (entry->msg->server_time, &tm);
        strftime (hhmm, sizeof hhmm, "%H:%M", &tm);
        tui_frame_put (y, x, 5, tui_frame_attr (frame, TUI_PAIR_DIM), hhmm);
        bool own = me && streq (entry->msg->sender, me);
        //  signed only by a key that is not the sender's pin: marked
        char *name = zsys_sprintf ("%s%s:", entry->msg->key_changed? "!": "",
                                   entry->msg->sender);
        tui_frame_put (y, x + 6, width - 6, entry->msg->key_changed
                       ? tui_frame_attr (frame, TUI_PAIR_WARN)
                       : s_name_pair (frame, entry->msg->sender, own), name);
        zstr_free (&name);
        if (width - entry->prefix >= 8) {
            int attr = own? tui_frame_attr (frame, TUI_PAIR_OWN): (int) A_NORMAL;
            attron (attr);
            tui_text_draw (y, x + entry->prefix, entry->text + start, len,
                           width - entry->prefix);
            attroff (attr);
        }
        return;
    }
    int attr = me && streq (entry->msg->sender, me)
             ? tui_frame_attr (frame, TUI_PAIR_OWN): (int) A_NORMAL;
    attron (attr);
    tui_text_draw (y, x + INDENT, entry->text + start, len, width - INDENT);
    attroff (attr);
}

static void
s_draw_messages (tui_main_t *self, tui_frame_t *frame, int top, int x, int height, int width)
{
    const char *me = chatclient_username (self->client);
    size_t count = chatclient_message_count (self->client, self->open_id);
    if (count == 0) {
        tui_frame_put (top + 1, x + 2, width - 2, tui_frame_attr (frame, TUI_PAIR_DIM),
                       self->open_cmd? "Loading...": "No messages yet: say something.");
        return;
    }
    //  Decode from the newest back until the screen and the scroll are full
    s_entry_t *entries = (s_entry_t *) calloc (count, sizeof (s_entry_t));
    if (!entries)
        return;
    int need = height + self->scroll;
    int total = 0;
    size_t lo = count;
    while (lo > 0 && total < need) {
        lo--;
        s_entry_t *entry = &entries [lo];
        entry->msg = chatclient_message (self->client, self->open_id, lo);
        if (!entry->msg)
            break;
        size_t text_len = entry->msg->text_len;
        while (text_len > 0 && entry->msg->text [text_len - 1] == '\n')
            text_len--;
        entry->text = tui_text_decode (entry->msg->text, text_len, true, &entry->len);
        if (!entry->text)
            break;
        wchar_t *sender = tui_text_decode_str (entry->msg->sender);
        entry->prefix = 6 + (sender? tui_text_width (sender, wcslen (sender)): 0) + 2
                      + (entry->msg->key_changed? 1: 0);
        free (sender);
        const chatclient_message_t *before = lo > 0
            ? chatclient_message (self->client, self->open_id, lo - 1): NULL;
        entry->separator = !before
            || !s_same_day (before->server_time, entry->msg->server_time);
        entry->lines = s_entry_lines (entry, width);
        total += entry->lines;
    }
    //  At the top of the history: no further back than its first line
    if (lo == 0 && self->scroll > total - height)
        self->scroll = total - height > 0? total - height: 0;
    int first_line = total - self->scroll - height;     //  may be < 0
    int line = 0;
    for (size_t i = lo; i < count; i++) {
        s_entry_t *entry = &entries [i];
        if (!entry->text)
            continue;
        for (int l = 0; l < entry->lines; l++, line++) {
            int row = line - first_line;
            if (row >= 0 && row < height)
                s_entry_draw (frame, entry, l, top + row, x, width, me);
        }
    }
    for (size_t i = lo; i < count; i++)
        free (entries [i].text);
    free (entries);
    if (self->scroll > 0) {
        char more [64];
        snprintf (more, sizeof more, " %d more line%s below: PgDn ", self->scroll,
                  self->scroll == 1? "": "s");
        int len = (int) strlen (more);
        tui_frame_put (top + height - 1, x + width - len, len,
                       tui_frame_attr (frame, TUI_PAIR_SELECT), more);
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
                  : (int) i == open? '>': ' ', i + 1);
        if (conv->unread > 0)
            snprintf (unread, sizeof unread, " %llu", (unsigned long long) conv->unread);
        int attr = (int) i == open? tui_frame_attr (frame, TUI_PAIR_SELECT)
                 : conv->unread > 0? (int) A_BOLD: (int) A_NORMAL;
        attron (attr);
        mvhline (top + row, 0, ' ', width);
        attroff (attr);
        tui_frame_put (top + row, 0, 3, attr, number);
        int unread_width = (int) strlen (unread);
        tui_frame_put (top + row, 3, width - 3 - unread_width - 1, attr, name);
        if (unread_width)
            tui_frame_put (top + row, width - unread_width - 1, unread_width,
                           (int) i == open? attr
                                          : tui_frame_attr (frame, TUI_PAIR_OK)
                                            | (int) (A_BOLD | A_REVERSE),
                           unread);
        zstr_free (&name);
    }
}

static void
s_draw_help (tui_frame_t *frame, int top, int x, int height, int width)
{
    for (int i = 0; s_help [i] && i < height; i++)
    {
        //  headings: a line that starts at the margin and ends with ':'
        size_t len = strlen (s_help [i]);
        bool heading = len && s_help [i][0] != ' ' && s_help [i][len - 1] == ':';
        tui_frame_put (top + i, x, width, heading? A_BOLD: A_NORMAL, s_help [i]);
    }
    (void) frame;
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
    int rule_y = LINES - 3;
    int body_top = top + 2;
    int body_height = rule_y - body_top;
    if (body_height < 1)
        body_height = 1;
    self->body_height = body_height;

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
    if (self->help)
        tui_frame_put (top, right_x, right_width, A_BOLD, "Help");
    else
    if (conv) {
        char *name = tui_frame_conversation_name (frame, conv);
        char *text = conv->member_count > 2
            ? zsys_sprintf ("%s  (group of %zu)", name, conv->member_count)
            : zsys_sprintf ("%s", name);
        tui_frame_put (top, right_x, right_width, A_BOLD, text);
        zstr_free (&text);
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
    if (self->help)
        s_draw_help (frame, body_top, right_x, body_height, right_width);
    else
    if (conv) {
        int warned = s_draw_changed (self, frame, conv, body_top, right_x, right_width);
        s_draw_messages (self, frame, body_top + warned, right_x, body_height - warned,
                         right_width);
    }
    else {
        tui_frame_put (body_top + 1, right_x + 1, right_width - 1, A_NORMAL,
                       chatclient_conversation_count (self->client) > 0
                       ? "Pick a conversation: Ctrl-N / Ctrl-P, Alt-1..9, or /open N."
                       : "No conversations yet. Type /new (or F2) to start one.");
    }

    tui_frame_draw_status (frame, COLS >= 110
        ? "F1 /help  F2 /new  F5 /refresh  /logout  F10 /quit  "
          "Ctrl-N/P switch  PgUp/PgDn scroll  Tab complete"
        : "F1 help  F2 new  F5 refresh  F10 quit  ^N/^P switch  PgUp/PgDn");
    //  The input line last: the cursor stays there
    int col;
    if (!tui_identity_draw_prompt (self->identity, LINES - 2, COLS - 1, &col)) {
        tui_frame_put (LINES - 2, 0, 2, A_BOLD, "> ");
        col = tui_input_draw (self->input, LINES - 2, 2, COLS - 3);
    }
    move (LINES - 2, col);
    curs_set (1);
}
