/*  tui_picker - the new-conversation screen

    The report's "Create new conversation" window (figure 9): the client
    asks for every registered user, shows them all but me, and lets the
    user pick one (a 1:1) or several (a group). Typing filters the list
    (the names holding the text, in any case); Space selects or unselects
    and nothing else. Selections are kept by name, so a user list that
    arrives again, or a filter that hides a selected user, does not lose
    them.
*/
#include <ctype.h>

#include "tui_picker.h"

struct _tui_picker_t {
    chatclient_t *client;       //  borrowed
    uint32_t users_cmd;
    uint32_t create_cmd;
    zlistx_t *selected;         //  usernames (strings, owned)
    size_t cursor;              //  index among the shown users
    int top;
    char *message;
    bool message_error;
    char filter [64];           //  lower case; the users shown hold it
};

tui_picker_t *
tui_picker_new (chatclient_t *client)
{
    tui_picker_t *self = (tui_picker_t *) zmalloc (sizeof (tui_picker_t));
    self->client = client;
    self->selected = zlistx_new ();
    if (!self->selected) {
        free (self);
        return NULL;
    }
    zlistx_set_destructor (self->selected, (czmq_destructor *) zstr_free);
    zlistx_set_duplicator (self->selected, (czmq_duplicator *) strdup);
    zlistx_set_comparator (self->selected, (czmq_comparator *) strcmp);
    return self;
}

void
tui_picker_destroy (tui_picker_t **self_p)
{
    assert (self_p);
    tui_picker_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->selected);
    zstr_free (&self->message);
    free (self);
    *self_p = NULL;
}

static void
s_message (tui_picker_t *self, bool error, const char *text)
{
    zstr_free (&self->message);
    if (text)
        self->message = strdup (text);
    self->message_error = error;
}

//  name holds the filter, in any case (names are ASCII)
static bool
s_matches (tui_picker_t *self, const char *name)
{
    size_t want = strlen (self->filter), len = strlen (name);
    for (size_t at = 0; at + want <= len; at++) {
        size_t i = 0;
        while (i < want && tolower ((unsigned char) name [at + i]) == self->filter [i])
            i++;
        if (i == want)
            return true;
    }
    return false;
}

//  The users shown: everyone but me who matches the filter, in the
//  library's (sorted) order
static size_t
s_users (tui_picker_t *self, const char **names, size_t max)
{
    const char *me = chatclient_username (self->client);
    size_t count = chatclient_user_count (self->client), shown = 0;
    for (size_t i = 0; i < count; i++) {
        const char *name = chatclient_user (self->client, i);
        if (!name || (me && streq (name, me)) || !s_matches (self, name))
            continue;
        if (names && shown < max)
            names [shown] = name;
        shown++;
    }
    return shown;
}

void
tui_picker_enter (tui_picker_t *self)
{
    zlistx_purge (self->selected);
    self->cursor = 0;
    self->top = 0;
    self->create_cmd = 0;
    self->filter [0] = 0;
    s_message (self, false, NULL);
    self->users_cmd = chatclient_list_users (self->client);
}

static const char *
s_cursor_name (tui_picker_t *self)
{
    size_t count = s_users (self, NULL, 0);
    if (count == 0)
        return NULL;
    const char **names = (const char **) calloc (count, sizeof (char *));
    if (!names)
        return NULL;
    s_users (self, names, count);
    if (self->cursor >= count)
        self->cursor = count - 1;
    const char *name = names [self->cursor];
    free (names);
    return name;
}

static void
s_toggle (tui_picker_t *self, const char *name)
{
    void *handle = zlistx_find (self->selected, (void *) name);
    if (handle)
        zlistx_delete (self->selected, handle);
    else
        zlistx_add_end (self->selected, (void *) name);
}

static void
s_create (tui_picker_t *self)
{
    if (self->create_cmd)
        return;
    if (zlistx_size (self->selected) == 0) {
        const char *name = s_cursor_name (self);
        if (!name) {
            s_message (self, true, self->filter [0]
                       ? "Nobody's name holds that: Backspace or Esc changes the filter"
                       : "Nobody to talk to yet: no other user has registered");
            return;
        }
        zlistx_add_end (self->selected, (void *) name);
    }
    size_t count = zlistx_size (self->selected);
    const char **names = (const char **) calloc (count, sizeof (char *));
    if (!names)
        return;
    size_t i = 0;
    for (char *name = (char *) zlistx_first (self->selected); name;
         name = (char *) zlistx_next (self->selected))
        names [i++] = name;
    self->create_cmd = chatclient_create_conversation (self->client, names, count);
    free (names);
    s_message (self, false, "Creating the conversation...");
}

tui_action_t
tui_picker_key (tui_picker_t *self, tui_frame_t *frame, tui_key_t key)
{
    size_t count = s_users (self, NULL, 0);
    if (key.alt)
        return TUI_ACTION (TUI_STAY);
    if (key.keycode) {
        switch (key.key) {
            case KEY_UP:
                if (self->cursor > 0)
                    self->cursor--;
                break;
            case KEY_DOWN:
                if (self->cursor + 1 < count)
                    self->cursor++;
                break;
            case KEY_HOME:
                self->cursor = 0;
                break;
            case KEY_END:
                self->cursor = count? count - 1: 0;
                break;
            case KEY_PPAGE:
                self->cursor = self->cursor > 10? self->cursor - 10: 0;
                break;
            case KEY_NPAGE:
                self->cursor = count && self->cursor + 10 >= count? count - 1
                             : self->cursor + 10;
                break;
            case KEY_ENTER:
                s_create (self);
                break;
            case KEY_BACKSPACE:
                return tui_picker_key (self, frame, (tui_key_t) { false, false, 0x7F, false });
            case KEY_F (1):
                return TUI_ACTION (TUI_HELP);
            case KEY_F (10):
                return TUI_ACTION (TUI_QUIT);
            default:
                break;
        }
        return TUI_ACTION (TUI_STAY);
    }
    size_t filter_len = strlen (self->filter);
    switch (key.paste? 0: key.key) {       //  a paste only types into the filter
        case 0x1B:                  //  Esc: the filter first, then "Back"
            if (filter_len) {
                self->filter [0] = 0;
                self->cursor = 0;
                break;
            }
            self->create_cmd = 0;
            return TUI_ACTION (TUI_TO_MAIN);
        case 0x7F:
        case 0x08:
            if (filter_len) {
                self->filter [filter_len - 1] = 0;
                self->cursor = 0;
            }
            break;
        case L' ': {
            const char *name = s_cursor_name (self);
            if (name)
                s_toggle (self, name);
            break;
        }
        case L'\n':
        case L'\r':
            s_create (self);
            break;
        default:
            //  Usernames are ASCII letters, digits, '_', '-' and '.'
            if (key.key < 0x80 && (isalnum ((int) key.key) || key.key == L'_'
                                   || key.key == L'-' || key.key == L'.')
            &&  filter_len + 1 < sizeof self->filter) {
                self->filter [filter_len] = (char) tolower ((int) key.key);
                self->filter [filter_len + 1] = 0;
                self->cursor = 0;
            }
            break;
    }
    return TUI_ACTION (TUI_STAY);
}

tui_action_t
tui_picker_event (tui_picker_t *self, tui_frame_t *frame, chatclient_event_t *event)
{
    (void) frame;               //  the picker says everything on its own lines
    tui_action_t action = TUI_ACTION (TUI_STAY);
    if (event->cmd == 0)
        return action;
    if (event->cmd == self->users_cmd) {
        self->users_cmd = 0;
        if (event->type == CHATCLIENT_EV_ERROR)
            s_message (self, true, event->text? event->text: chatclient_errname (event->code));
    }
    else
    if (event->cmd == self->create_cmd) {
        self->create_cmd = 0;
        if (event->type == CHATCLIENT_EV_CONVERSATION && event->conversation) {
            zlistx_purge (self->selected);
            s_message (self, false, NULL);
            action.kind = TUI_OPEN;
            memcpy (action.id, event->conversation->id, CHATCLIENT_ID_SIZE);
        }
        else
            s_message (self, true, event->text? event->text
                                 : chatclient_errname (event->code));
    }
    return action;
}

void
tui_picker_draw (tui_picker_t *self, tui_frame_t *frame)
{
    const char *me = chatclient_username (self->client);
    char *title = zsys_sprintf ("User: %s - Create new conversation", me? me: "?");
    tui_frame_draw_title (frame, title);
    zstr_free (&title);
    int y = 1 + tui_frame_draw_pin_warning (frame, 1);
    int width = COLS - 4 < 60? COLS - 4: 60;
    int x = (COLS - width) / 2;

    y++;
    tui_frame_put (y++, x, width, A_BOLD,
                   "Pick one person for a conversation, or several for a group:");
    int find_y = y;
    char *find = zsys_sprintf ("Find: %s", self->filter);
    tui_frame_put (y, x, width, A_NORMAL, find);
    int find_x = x + (int) strlen (find);
    zstr_free (&find);
    y++;
    size_t count = s_users (self, NULL, 0);
    const char **names = (const char **) calloc (count + 1, sizeof (char *));
    if (!names)
        return;
    s_users (self, names, count);
    if (count > 0 && self->cursor >= count)
        self->cursor = count - 1;

    int list_height = LINES - y - 6;
    if (list_height > (int) count)
        list_height = (int) count;
    if (list_height < 3)
        list_height = 3;
    if ((int) self->cursor < self->top)
        self->top = (int) self->cursor;
    if ((int) self->cursor >= self->top + list_height)
        self->top = (int) self->cursor - list_height + 1;
    int dim = tui_frame_attr (frame, TUI_PAIR_DIM);
    attron (dim);
    mvhline (y, x, ACS_HLINE, width);
    attroff (dim);
    y++;
    if (count == 0)
        tui_frame_put (y, x + 2, width - 2, dim,
                       self->users_cmd? "Loading the users..."
                     : self->filter [0]? "Nobody's name holds that (Backspace, Esc)"
                                : "No other users yet: register a second account first.");
    for (int row = 0; row < list_height; row++) {
        size_t i = (size_t) (self->top + row);
        if (i >= count)
            break;
        bool selected = zlistx_find (self->selected, (void *) names [i]) != NULL;
        bool at = i == self->cursor;
        int attr = at? tui_frame_attr (frame, TUI_PAIR_SELECT): (int) A_NORMAL;
        attron (attr);
        mvhline (y + row, x, ' ', width);
        attroff (attr);
        tui_frame_put (y + row, x + 1, 4, attr | (selected? (int) A_BOLD: 0),
                       selected? "[x]": "[ ]");
        tui_frame_put (y + row, x + 5, width - 6, attr | (selected? (int) A_BOLD: 0),
                       names [i]);
    }
    y += list_height;
    attron (dim);
    mvhline (y, x, ACS_HLINE, width);
    attroff (dim);
    y++;
    size_t chosen = zlistx_size (self->selected);
    char *summary = chosen == 0
        ? zsys_sprintf ("Enter: talk to the highlighted user; Space: select several")
        : chosen == 1
        ? zsys_sprintf ("1 selected: Enter starts a conversation")
        : zsys_sprintf ("%zu selected: Enter creates a group of %zu", chosen, chosen + 1);
    tui_frame_put (y++, x, width, A_NORMAL, summary);
    zstr_free (&summary);
    tui_frame_put (y, x, 30, A_BOLD | A_REVERSE, "[ Create new conversation ]");
    tui_frame_put (y++, x + 30, 10, A_BOLD, "[ Back ]");
    if (self->message)
        tui_frame_put (y, x, width,
                       tui_frame_attr (frame, self->message_error? TUI_PAIR_ERROR
                                                                 : TUI_PAIR_OK),
                       self->message);
    free (names);
    tui_frame_draw_status (frame, COLS >= 70
        ? "type to find  Up/Down move  Space select  Enter create  Esc back"
        : "type: find  Space select  Enter create  Esc back");
    move (find_y, find_x);
    curs_set (1);
}
