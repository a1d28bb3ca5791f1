/*  tui_help - the help screen; see tui_help.h

    The entries are laid out afresh at every draw: on a wide terminal the
    keys in a column and what they do beside them, on a narrow one (under
    60 columns) the keys on a line of their own and the text below; long
    texts wrap at spaces. Nothing is ever cut off: what does not fit the
    height is a scroll away.
*/
#include "tui_help.h"

#define KEY_COLUMN 20           //  the keys' column on a wide terminal
#define WIDE 60

const tui_help_entry_t tui_help_entries [] = {
    { NULL, "Commands (type them in the input line)" },
    { "/new, F2", "start a conversation: pick one user, or several for a group" },
    { "/refresh, F5", "list the conversations again and fetch anything missed" },
    { "/open N, Alt-N", "open conversation N of the list (the numbers are the same "
                        "in plain mode and in every session)" },
    { "/notify off, on", "ring the bell (and show a desktop notification where the "
                        "terminal can) for a message in a conversation you cannot see" },
    { "/members", "who is in the open conversation, and whom you verified" },
    { "/add NAME...", "add people to the open group (everyone gets a new key)" },
    { "/remove NAME", "remove someone from the open group (its creator and admins)" },
    { "/leave", "leave the open conversation (a 1:1 too)" },
    { "/title TEXT", "set the open group's title (no text: clear it)" },
    { "/admin NAME", "make a member an admin (the group's creator only)" },
    { "/accept [N]", "accept a message request (N, or the open conversation)" },
    { "/verify NAME", "the safety number you and NAME compare; y marks NAME verified" },
    { "/password", "change your password (asked for, hidden; Esc cancels)" },
    { "/logout", "log out and go back to the login screen" },
    { "/quit, F10", "log out and leave" },
    { "/help, F1", "this help" },
    { "//text", "send a message that starts with '/'" },
    { NULL, "Writing" },
    { "Enter", "send the message (more than 4 lines: Enter again to confirm)" },
    { "Alt-Enter", "a new line in the message" },
    { "paste", "a pasted text stays in the input line, new lines and all, "
               "and goes as one message" },
    { "Tab", "complete a command or a username" },
    { "Up, Down", "the line above or below in the message; at its first or last "
                  "line, the messages typed before" },
    { "Left, Right", "a character back or forward (also Ctrl-B, Ctrl-F)" },
    { "Alt-B, Alt-F", "a word back or forward" },
    { "Ctrl-A, Ctrl-E", "start or end of the line" },
    { "Backspace, Delete", "delete a character (also Ctrl-H, Ctrl-D)" },
    { "Ctrl-K, Ctrl-U", "delete to the end or to the start of the line" },
    { "Ctrl-W, Ctrl-Y", "delete the word before the cursor; put the last deletion back" },
    { NULL, "Reading" },
    { "Ctrl-N, Ctrl-P", "next or previous conversation" },
    { "Alt-1 .. Alt-9", "conversation 1 to 9" },
    { "PgUp, PgDn", "scroll the conversation back or forward; new messages do not "
                    "move what you are reading" },
    { "Home, End", "the first message; the newest (and follow new ones again)" },
    { "Ctrl-L", "redraw the screen" },
    { "Ctrl-C", "quit; asks first while a message is typed or still sending" },
    { "red line, '!'", "a member's identity key changed: a red line above the "
                       "conversation, '!' before its number and before messages "
                       "signed with the new key; /verify them first" },
    { NULL, "New conversation (/new)" },
    { "letters", "show only the users whose name holds them" },
    { "Backspace", "take a letter off that filter" },
    { "Space", "select or unselect the highlighted user (several: a group)" },
    { "Up, Down", "move (also PgUp, PgDn, Home, End)" },
    { "Enter", "create: with the selected users, or the highlighted one" },
    { "Esc", "clear the filter; with none, go back" },
    { NULL, "Login screen" },
    { "Tab, Down", "next field (Shift-Tab, Up: the one before)" },
    { "Enter", "log in or register, as the section the cursor is in" },
    { "Alt-L, Alt-R", "to the login or the registration section" },
    { "F1, F10", "this help; leave" },
    { NULL, "This help" },
    { "Up, Down, PgUp, PgDn, Home, End", "scroll" },
    { "Esc, q, F1, Enter", "close" },
    { NULL, NULL }
};

struct _tui_help_t {
    int top;                    //  first line shown
    int lines;                  //  as last laid out
    int height;
};

tui_help_t *
tui_help_new (void)
{
    return (tui_help_t *) zmalloc (sizeof (tui_help_t));
}

void
tui_help_destroy (tui_help_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

void
tui_help_enter (tui_help_t *self)
{
    self->top = 0;
}

tui_action_t
tui_help_key (tui_help_t *self, tui_frame_t *frame, tui_key_t key)
{
    (void) frame;
    int page = self->height > 2? self->height - 1: 1;
    if (key.keycode) {
        switch (key.key) {
            case KEY_UP:    self->top--; break;
            case KEY_DOWN:  self->top++; break;
            case KEY_PPAGE: self->top -= page; break;
            case KEY_NPAGE: self->top += page; break;
            case KEY_HOME:  self->top = 0; break;
            case KEY_END:   self->top = self->lines; break;
            case KEY_F (1):
            case KEY_ENTER:
                return TUI_ACTION (TUI_BACK);
            default:
                break;
        }
        return TUI_ACTION (TUI_STAY);
    }
    if (key.key == 0x1B || key.key == L'q' || key.key == L'\r' || key.key == L'\n')
        return TUI_ACTION (TUI_BACK);
    if (key.key == L' ')
        self->top += page;
    return TUI_ACTION (TUI_STAY);
}

//  Lays the help out at width, drawing the lines from first (of at most
//  height rows starting at row y); returns the number of lines in all.
static int
s_layout (int width, int y, int first, int height, int bold)
{
    bool wide = width >= WIDE;
    int line = 0;
    for (const tui_help_entry_t *entry = tui_help_entries; entry->text; entry++) {
        if (!entry->keys) {
            if (line > 0)
                line++;             //  a blank line between sections
            if (line >= first && line < first + height)
                tui_frame_put (y + line - first, 0, width, bold | A_UNDERLINE, entry->text);
            line++;
            continue;
        }
        wchar_t *text = tui_text_decode_str (entry->text);
        if (!text)
            continue;
        size_t len = wcslen (text), start = 0, span;
        int indent = wide? KEY_COLUMN + 2: 4;
        //  keys too long for their column get a line of their own
        if (!wide || (int) strlen (entry->keys) > KEY_COLUMN - 1) {
            if (line >= first && line < first + height)
                tui_frame_put (y + line - first, 2, width - 2, bold, entry->keys);
            line++;
        }
        else
        if (line >= first && line < first + height)
            tui_frame_put (y + line - first, 2, KEY_COLUMN - 1, bold, entry->keys);
        do {
            size_t next = tui_text_wrap (text, len, start, width - indent - 1, &span);
            if (line >= first && line < first + height)
                tui_text_draw (y + line - first, indent, text + start, span,
                               width - indent);
            start = next;
            line++;
        } while (start < len);
        free (text);
    }
    return line;
}

void
tui_help_draw (tui_help_t *self, tui_frame_t *frame)
{
    tui_frame_draw_title (frame, "Help");
    int top = 1;
    int height = LINES - 2 - top;
    if (height < 1)
        height = 1;
    self->height = height;
    self->lines = s_layout (COLS, 0, 0, 0, A_BOLD);
    if (self->top > self->lines - height)
        self->top = self->lines - height;
    if (self->top < 0)
        self->top = 0;
    s_layout (COLS, top, self->top, height, A_BOLD);
    int last = self->top + height < self->lines? self->top + height: self->lines;
    char hints [96];
    snprintf (hints, sizeof hints, "lines %d-%d of %d  %s", self->top + 1, last,
              self->lines, COLS >= 60? "Up/Down/PgUp/PgDn scroll  Esc close"
                                      : "PgUp/PgDn, Esc");
    tui_frame_draw_status (frame, hints);
}
