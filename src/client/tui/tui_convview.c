/*  tui_convview - the open conversation's messages; see tui_convview.h

    A draw lays the messages out at the current width as entries (one per
    message, then one per send still pending), each some lines tall: a day
    line, the "new" line, the text (the first line after the time and the
    sender, the rest hanging under the text), and for a pending send its
    state. Positions in that layout are (entry, line); entries are decoded
    only when a position walks over them.
*/
#include <time.h>

#include "tui_convview.h"

#define INDENT 6                //  continuation lines when the name is long
#define TEXT_MIN 8              //  fewer columns after the name: text below it

typedef struct {
    uint32_t cmd;
    uint8_t id [CHATCLIENT_ID_SIZE];
    char *text;
    size_t len;
    int64_t time;               //  unix ms, when it was typed
    uint64_t seq;               //  the server's number, once stored
    char *failure;              //  why it was not sent
} pending_t;

struct _tui_convview_t {
    chatclient_t *client;       //  borrowed
    bool has_open;
    uint8_t id [CHATCLIENT_ID_SIZE];
    uint64_t read_seq;
    bool following;             //  at the newest
    uint64_t anchor_seq;        //  else: this message's line anchor_line
    int anchor_line;            //  is at the top of the view
    uint64_t seen_seq;          //  the newest when the reader scrolled away
    int request_pages;          //  scrolling for the next draw
    bool request_home;
    bool request_end;
    zlistx_t *pending;          //  pending_t
};

static void
s_pending_destroy (pending_t **pending_p)
{
    if (pending_p && *pending_p) {
        pending_t *pending = *pending_p;
        free (pending->text);
        free (pending->failure);
        free (pending);
        *pending_p = NULL;
    }
}

tui_convview_t *
tui_convview_new (chatclient_t *client)
{
    tui_convview_t *self = (tui_convview_t *) zmalloc (sizeof (tui_convview_t));
    self->client = client;
    self->following = true;
    self->pending = zlistx_new ();
    if (!self->pending) {
        free (self);
        return NULL;
    }
    zlistx_set_destructor (self->pending, (czmq_destructor *) s_pending_destroy);
    return self;
}

void
tui_convview_destroy (tui_convview_t **self_p)
{
    assert (self_p);
    tui_convview_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy (&self->pending);
    free (self);
    *self_p = NULL;
}

void
tui_convview_open (tui_convview_t *self, const uint8_t id [CHATCLIENT_ID_SIZE],
                   uint64_t read_seq)
{
    memcpy (self->id, id, CHATCLIENT_ID_SIZE);
    self->has_open = true;
    self->read_seq = read_seq;
    self->following = true;
    self->request_pages = 0;
    self->request_home = self->request_end = false;
}

void
tui_convview_reset (tui_convview_t *self)
{
    self->has_open = false;
    self->following = true;
    self->request_pages = 0;
    self->request_home = self->request_end = false;
    zlistx_purge (self->pending);
}

void
tui_convview_page (tui_convview_t *self, int pages)
{
    self->request_pages += pages;
}

void
tui_convview_home (tui_convview_t *self)
{
    self->request_home = true;
    self->request_end = false;
    self->request_pages = 0;
}

void
tui_convview_end (tui_convview_t *self)
{
    self->request_end = true;
    self->request_home = false;
    self->request_pages = 0;
}

bool
tui_convview_following (tui_convview_t *self)
{
    return self->following && !self->request_home && self->request_pages >= 0;
}

//  ---------------------------------------------------------------- sends

void
tui_convview_pending (tui_convview_t *self, uint32_t cmd,
                      const uint8_t id [CHATCLIENT_ID_SIZE], const char *text, size_t len)
{
    //  a new send in a conversation ends the old refusals shown there
    pending_t *old = (pending_t *) zlistx_first (self->pending);
    while (old) {
        pending_t *next = (pending_t *) zlistx_next (self->pending);
        if (old->failure && memcmp (old->id, id, CHATCLIENT_ID_SIZE) == 0)
            zlistx_delete (self->pending, zlistx_find (self->pending, old));
        old = next;
    }
    pending_t *pending = (pending_t *) zmalloc (sizeof (pending_t));
    pending->cmd = cmd;
    memcpy (pending->id, id, CHATCLIENT_ID_SIZE);
    pending->text = (char *) malloc (len + 1);
    if (!pending->text) {
        free (pending);
        return;
    }
    memcpy (pending->text, text, len);
    pending->text [len] = 0;
    pending->len = len;
    pending->time = zclock_time ();
    zlistx_add_end (self->pending, pending);
}

void
tui_convview_event (tui_convview_t *self, chatclient_event_t *event)
{
    if (!event->cmd)
        return;
    for (pending_t *pending = (pending_t *) zlistx_first (self->pending); pending;
         pending = (pending_t *) zlistx_next (self->pending)) {
        if (pending->cmd != event->cmd)
            continue;
        if (event->type == CHATCLIENT_EV_SENT && event->message)
            pending->seq = event->message->seq;
        else
        if (event->type == CHATCLIENT_EV_ERROR)
            pending->failure = strdup (event->text? event->text
                                                  : chatclient_errname (event->code));
        return;
    }
}

size_t
tui_convview_sending (tui_convview_t *self)
{
    size_t count = 0;
    for (pending_t *pending = (pending_t *) zlistx_first (self->pending); pending;
         pending = (pending_t *) zlistx_next (self->pending))
        if (!pending->failure && !pending->seq)
            count++;
    return count;
}

//  ---------------------------------------------------------------- layout

typedef struct {
    const chatclient_message_t *msg;    //  or pending
    pending_t *pending;
    const char *sender;
    int64_t time;
    wchar_t *text;
    size_t len;
    int prefix;                 //  columns of "HH:MM sender: "
    int hang;                   //  column of the text's later lines
    bool text_first;            //  the text starts on the name's line
    int extra;                  //  day line and "new" line before the text
    bool day;
    bool mark_new;
    int text_lines;
    int lines;
    bool built;
} entry_t;

typedef struct {
    tui_convview_t *self;
    const char *me;
    int width;
    size_t count;               //  messages
    size_t total;               //  messages and the pending sends shown
    pending_t **pendings;       //  total - count of them
    entry_t *entries;
    uint64_t new_seq;           //  the message with the "new" line, or 0
} layout_t;

typedef struct {
    size_t entry;
    int line;
} pos_t;

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

static const chatclient_message_t *
s_message (layout_t *layout, size_t index)
{
    return chatclient_message (layout->self->client, layout->self->id, index);
}

//  The index of the message with this number, or -1 (the log ascends)
static ssize_t
s_find_seq (layout_t *layout, uint64_t seq)
{
    size_t lo = 0, hi = layout->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const chatclient_message_t *msg = s_message (layout, mid);
        if (!msg)
            return -1;
        if (msg->seq == seq)
            return (ssize_t) mid;
        if (msg->seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

//  Line `line` of the text part (0: the name's line): where its text
//  starts and how long it is. False past the end.
static bool
s_span (entry_t *entry, int width, int line, size_t *start, size_t *len)
{
    int current = 0;
    if (!entry->text_first) {
        if (line == 0) {
            *start = *len = 0;
            return true;
        }
        current = 1;
    }
    size_t pos = 0;
    int room = entry->text_first? width - entry->prefix: width - entry->hang;
    do {
        size_t next = tui_text_wrap (entry->text, entry->len, pos, room, len);
        if (current == line) {
            *start = pos;
            return true;
        }
        pos = next;
        current++;
        room = width - entry->hang;
    } while (pos < entry->len);
    return false;
}

static entry_t *
s_entry (layout_t *layout, size_t index)
{
    entry_t *entry = &layout->entries [index];
    if (entry->built)
        return entry;
    entry->built = true;
    const char *text;
    size_t len;
    if (index < layout->count) {
        entry->msg = s_message (layout, index);
        if (!entry->msg) {
            entry->lines = 0;
            return entry;
        }
        entry->sender = entry->msg->sender;
        entry->time = entry->msg->server_time;
        text = entry->msg->text;
        len = entry->msg->text_len;
        entry->mark_new = layout->new_seq && entry->msg->seq == layout->new_seq;
    }
    else {
        entry->pending = layout->pendings [index - layout->count];
        entry->sender = layout->me? layout->me: "";
        entry->time = entry->pending->time;
        text = entry->pending->text;
        len = entry->pending->len;
    }
    while (len > 0 && text [len - 1] == '\n')
        len--;
    entry->text = tui_text_decode (text, len, true, &entry->len);
    if (!entry->text) {
        entry->lines = 0;
        return entry;
    }
    int64_t before = 0;
    bool has_before = false;
    if (index > 0) {
        if (index - 1 < layout->count) {
            const chatclient_message_t *msg = s_message (layout, index - 1);
            if (msg) {
                before = msg->server_time;
                has_before = true;
            }
        }
        else {
            before = layout->pendings [index - 1 - layout->count]->time;
            has_before = true;
        }
    }
    entry->day = !has_before || !s_same_day (before, entry->time);
    entry->extra = (entry->day? 1: 0) + (entry->mark_new? 1: 0);
    wchar_t *sender = tui_text_decode_str (entry->sender);
    entry->prefix = 6 + (sender? tui_text_width (sender, wcslen (sender)): 0) + 2
                  + (entry->msg && entry->msg->key_changed? 1: 0);
    free (sender);
    int width = layout->width;
    entry->text_first = width - entry->prefix >= TEXT_MIN;
    //  later lines hang under the text while that leaves half the width
    entry->hang = entry->text_first && entry->prefix <= width / 2? entry->prefix: INDENT;
    size_t start, span;
    entry->text_lines = 0;
    while (s_span (entry, width, entry->text_lines, &start, &span))
        entry->text_lines++;
    entry->lines = entry->extra + entry->text_lines + (entry->pending? 1: 0);
    return entry;
}

static int
s_lines (layout_t *layout, size_t index)
{
    return s_entry (layout, index)->lines;
}

//  n lines up from pos, or as far as the first line
static pos_t
s_back (layout_t *layout, pos_t pos, int n)
{
    while (n > 0) {
        if (pos.line == 0) {
            if (pos.entry == 0)
                break;
            pos.entry--;
            pos.line = s_lines (layout, pos.entry);
            continue;
        }
        int take = n < pos.line? n: pos.line;
        pos.line -= take;
        n -= take;
    }
    return pos;
}

//  n lines down from pos, or as far as the end
static pos_t
s_forward (layout_t *layout, pos_t pos, int n)
{
    while (n > 0 && pos.entry < layout->total) {
        int rest = s_lines (layout, pos.entry) - pos.line;
        if (n < rest) {
            pos.line += n;
            n = 0;
        }
        else {
            n -= rest;
            pos.entry++;
            pos.line = 0;
        }
    }
    return pos;
}

//  Lines from pos to the end
static int
s_lines_from (layout_t *layout, pos_t pos)
{
    int lines = 0;
    for (size_t i = pos.entry; i < layout->total; i++)
        lines += s_lines (layout, i) - (i == pos.entry? pos.line: 0);
    return lines;
}

//  ---------------------------------------------------------------- drawing

static int
s_name_attr (tui_frame_t *frame, const char *name, bool own)
{
    if (own)
        return tui_frame_attr (frame, TUI_PAIR_OWN) | A_BOLD;
    unsigned hash = 5381;
    for (const char *c = name; *c; c++)
        hash = hash * 33 + (unsigned char) *c;
    return tui_frame_attr (frame, TUI_PAIR_NAME1 + (int) (hash % 4)) | A_BOLD;
}

static void
s_rule_text (tui_frame_t *frame, int y, int x, int width, int pair, const char *text)
{
    int attr = tui_frame_attr (frame, pair);
    attron (attr);
    mvhline (y, x, ACS_HLINE, width);
    attroff (attr);
    int len = (int) strlen (text);
    tui_frame_put (y, x + (width - len) / 2, len, attr, text);
}

//  Line `line` of an entry at row y
static void
s_draw_line (layout_t *layout, tui_frame_t *frame, entry_t *entry, int line, int y,
             int x)
{
    int width = layout->width;
    if (entry->day && line == 0) {
        struct tm tm;
        char day [64];
        s_day (entry->time, &tm);
        strftime (day, sizeof day, " %A %d %B %Y ", &tm);
        s_rule_text (frame, y, x, width, TUI_PAIR_DIM, day);
        return;
    }
    if (entry->day)
        line--;
    if (entry->mark_new && line == 0) {
        s_rule_text (frame, y, x, width, TUI_PAIR_OK, " new ");
        return;
    }
    if (entry->mark_new)
        line--;
    bool own = entry->pending
            || (layout->me && streq (entry->sender, layout->me));
    int dim = tui_frame_attr (frame, TUI_PAIR_DIM);
    int text_attr = entry->pending? dim
                  : own? tui_frame_attr (frame, TUI_PAIR_OWN): (int) A_NORMAL;
    if (line == entry->text_lines) {
        //  the state of a send
        pending_t *pending = entry->pending;
        if (pending->failure) {
            char *text = zsys_sprintf ("not sent: %s (Up recalls it)", pending->failure);
            tui_frame_put (y, x + entry->hang, width - entry->hang,
                           tui_frame_attr (frame, TUI_PAIR_ERROR), text);
            zstr_free (&text);
        }
        else
            tui_frame_put (y, x + entry->hang, width - entry->hang, dim,
                           "sending\xe2\x80\xa6");
        return;
    }
    size_t start, len;
    if (!s_span (entry, width, line, &start, &len))
        return;
    if (line == 0) {
        struct tm tm;
        char hhmm [8];
        s_day (entry->time, &tm);
        strftime (hhmm, sizeof hhmm, "%H:%M", &tm);
        tui_frame_put (y, x, 5, dim, hhmm);
        //  signed only by a key that is not the sender's pin: marked
        bool changed = entry->msg && entry->msg->key_changed;
        char *name = zsys_sprintf ("%s%s:", changed? "!": "", entry->sender);
        tui_frame_put (y, x + 6, width - 6,
                       entry->pending? dim | (int) A_BOLD
                       : changed? tui_frame_attr (frame, TUI_PAIR_WARN)
                       : s_name_attr (frame, entry->sender, own),
                       name);
        zstr_free (&name);
        if (!entry->text_first)
            return;
        attron (text_attr);
        tui_text_draw (y, x + entry->prefix, entry->text + start, len,
                       width - entry->prefix);
        attroff (text_attr);
        return;
    }
    attron (text_attr);
    tui_text_draw (y, x + entry->hang, entry->text + start, len, width - entry->hang);
    attroff (text_attr);
}

//  The sends to show (of the open conversation): those the library does
//  not hold yet; the others are done and go
static size_t
s_collect_pending (tui_convview_t *self, layout_t *layout, pending_t **out, size_t max)
{
    size_t count = 0;
    pending_t *pending = (pending_t *) zlistx_first (self->pending);
    while (pending) {
        pending_t *next = (pending_t *) zlistx_next (self->pending);
        if (memcmp (pending->id, self->id, CHATCLIENT_ID_SIZE) == 0) {
            if (pending->seq && s_find_seq (layout, pending->seq) >= 0)
                zlistx_delete (self->pending, zlistx_find (self->pending, pending));
            else {
                if (out && count < max)
                    out [count] = pending;
                count++;
            }
        }
        pending = next;
    }
    return count;
}

//  The message that gets the "new" line: the first after read_seq from
//  someone else
static uint64_t
s_new_seq (tui_convview_t *self, layout_t *layout)
{
    if (!layout->me)
        return 0;
    for (size_t i = layout->count; i > 0; i--) {
        const chatclient_message_t *msg = s_message (layout, i - 1);
        if (!msg || msg->seq <= self->read_seq)
            break;
        if (!streq (msg->sender, layout->me))
            layout->new_seq = msg->seq;
    }
    return layout->new_seq;
}

//  Where the view's top line is once the scrolling asked for is done
static pos_t
s_top (tui_convview_t *self, layout_t *layout, int height)
{
    pos_t end = { layout->total, 0 };
    pos_t top = s_back (layout, end, height);
    bool was_following = self->following;
    if (self->request_end)
        self->following = true;
    else
    if (self->request_home) {
        self->following = false;
        top.entry = 0;
        top.line = 0;
    }
    else
    if (!self->following) {
        ssize_t index = s_find_seq (layout, self->anchor_seq);
        if (index < 0)
            self->following = true;
        else {
            top.entry = (size_t) index;
            top.line = self->anchor_line;
            int lines = s_lines (layout, top.entry);
            if (top.line >= lines)
                top.line = lines > 0? lines - 1: 0;
        }
    }
    int page = height > 2? height - 2: 1;
    int delta = self->request_pages * page;
    if (delta < 0)
        top = s_back (layout, top, -delta);
    else
    if (delta > 0)
        top = s_forward (layout, top, delta);
    self->request_pages = 0;
    self->request_home = self->request_end = false;
    //  Everything from here fits: that is following
    if (s_lines_from (layout, top) <= height || top.entry >= layout->count) {
        self->following = true;
        return s_back (layout, end, height);
    }
    if (was_following) {
        const chatclient_message_t *newest = layout->count
            ? s_message (layout, layout->count - 1): NULL;
        self->seen_seq = newest? newest->seq: 0;
    }
    self->following = false;
    self->anchor_seq = s_entry (layout, top.entry)->msg->seq;
    self->anchor_line = top.line;
    return top;
}

//  What lies below the view, on the rule under it
static void
s_draw_below (tui_convview_t *self, layout_t *layout, tui_frame_t *frame, pos_t bottom,
              int x, int width, int rule_y)
{
    int below = s_lines_from (layout, bottom);
    if (self->following || below <= 0)
        return;
    size_t fresh = 0;
    for (size_t i = layout->count; i > 0; i--) {
        const chatclient_message_t *msg = s_message (layout, i - 1);
        if (!msg || msg->seq <= self->seen_seq)
            break;
        fresh++;
    }
    char news [48] = "";
    if (fresh)
        snprintf (news, sizeof news, ", %zu new", fresh);
    char text [96];
    snprintf (text, sizeof text, " %d more line%s below%s: PgDn, End ", below,
              below == 1? "": "s", news);
    int len = (int) strlen (text);
    if (len > width)
        len = width;
    tui_frame_put (rule_y, x + width - len, len, tui_frame_attr (frame, TUI_PAIR_SELECT),
                   text);
}

void
tui_convview_draw (tui_convview_t *self, tui_frame_t *frame, int top, int x, int height,
                   int width, int rule_y, const char *empty)
{
    if (!self->has_open || height < 1 || width < 2)
        return;
    layout_t layout = { .self = self, .me = chatclient_username (self->client),
                        .width = width };
    layout.count = chatclient_message_count (self->client, self->id);
    size_t shown = s_collect_pending (self, &layout, NULL, 0);
    layout.pendings = (pending_t **) calloc (shown + 1, sizeof (pending_t *));
    layout.entries = (entry_t *) calloc (layout.count + shown + 1, sizeof (entry_t));
    if (!layout.pendings || !layout.entries) {
        free (layout.pendings);
        free (layout.entries);
        return;
    }
    size_t collected = s_collect_pending (self, &layout, layout.pendings, shown);
    shown = collected < shown? collected: shown;
    layout.total = layout.count + shown;
    if (layout.total == 0) {
        self->following = true;
        if (empty)
            tui_frame_put (top + 1, x + 2, width - 2, tui_frame_attr (frame, TUI_PAIR_DIM),
                           empty);
    }
    else {
        s_new_seq (self, &layout);
        pos_t pos = s_top (self, &layout, height);
        for (int row = 0; row < height && pos.entry < layout.total; row++) {
            entry_t *entry = s_entry (&layout, pos.entry);
            if (pos.line < entry->lines)
                s_draw_line (&layout, frame, entry, pos.line, top + row, x);
            pos = s_forward (&layout, pos, 1);
        }
        s_draw_below (self, &layout, frame, pos, x, width, rule_y);
    }
    for (size_t i = 0; i < layout.total; i++)
        free (layout.entries [i].text);
    free (layout.entries);
    free (layout.pendings);
}
