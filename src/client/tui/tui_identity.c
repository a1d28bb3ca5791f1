/*  tui_identity - the conversation screen's identity panels; see
    tui_identity.h

    /verify shows the safety number the library computed (12 groups of 5
    digits, the same on both sides) with the key it is for, and asks
    whether the two people's numbers match: 'y' pins that very key as
    verified (for a contact whose key changed, that accepts the new key);
    anything else leaves it as it was. /password asks for the current
    password and the new one twice in a masked field, then hands all three
    to the library at once and wipes them.
*/
#include "tui_identity.h"

#define PASSWORD_MAX 256

typedef enum { PANEL_NONE, PANEL_VERIFY, PANEL_MEMBERS } panel_t;

struct _tui_identity_t {
    chatclient_t *client;           //  borrowed
    panel_t panel;
    uint32_t cmd;                   //  the command the panel waits for
    //  /verify
    char *name;
    char *number;                   //  the safety number, once here
    char *fingerprint;              //  their key's
    char *pinned;
    chatclient_identity_t identity;
    uint32_t verify_cmd;            //  the 'y' sent
    //  /members
    chatclient_conversation_t *members;
    //  /password
    int stage;                      //  0 none, 1 current, 2 new, 3 again
    tui_input_t *prompt;
    char *typed [2];                //  current, new (wiped)
    uint32_t password_cmd;
    char title [96];
};

static void
s_wipe_free (char **text_p)
{
    if (*text_p) {
        memset (*text_p, 0, strlen (*text_p));
        free (*text_p);
        *text_p = NULL;
    }
}

static void
s_close_panel (tui_identity_t *self)
{
    self->panel = PANEL_NONE;
    self->cmd = 0;
    zstr_free (&self->name);
    zstr_free (&self->number);
    zstr_free (&self->fingerprint);
    zstr_free (&self->pinned);
    if (self->members) {
        for (size_t i = 0; i < self->members->member_count; i++)
            free (self->members->members [i]);
        free (self->members->members);
        free (self->members->title);
        free (self->members);
        self->members = NULL;
    }
}

static void
s_close_prompt (tui_identity_t *self)
{
    self->stage = 0;
    tui_input_destroy (&self->prompt);
    s_wipe_free (&self->typed [0]);
    s_wipe_free (&self->typed [1]);
}

tui_identity_t *
tui_identity_new (chatclient_t *client)
{
    tui_identity_t *self = (tui_identity_t *) zmalloc (sizeof (tui_identity_t));
    if (self)
        self->client = client;
    return self;
}

void
tui_identity_destroy (tui_identity_t **self_p)
{
    assert (self_p);
    tui_identity_t *self = *self_p;
    if (!self)
        return;
    s_close_panel (self);
    s_close_prompt (self);
    free (self);
    *self_p = NULL;
}

void
tui_identity_reset (tui_identity_t *self)
{
    s_close_panel (self);
    s_close_prompt (self);
    self->verify_cmd = self->password_cmd = 0;
}

//  ---------------------------------------------------------------- commands

void
tui_identity_verify (tui_identity_t *self, tui_frame_t *frame, const char *name)
{
    s_close_panel (self);
    if (!name || !*name) {
        tui_frame_status (frame, true, "/verify NAME: whose safety number?");
        return;
    }
    self->panel = PANEL_VERIFY;
    self->name = strdup (name);
    self->cmd = chatclient_safety_number (self->client, name);
    tui_frame_status (frame, false, "Looking up %s's identity key...", name);
}

void
tui_identity_members (tui_identity_t *self, tui_frame_t *frame,
                      const uint8_t id [CHATCLIENT_ID_SIZE])
{
    s_close_panel (self);
    if (!id) {
        tui_frame_status (frame, true, "No conversation is open: /members lists its members");
        return;
    }
    self->panel = PANEL_MEMBERS;
    self->cmd = chatclient_members (self->client, id);
}

void
tui_identity_password (tui_identity_t *self, tui_frame_t *frame)
{
    s_close_prompt (self);
    self->prompt = tui_input_new (PASSWORD_MAX, true);
    if (!self->prompt)
        return;
    self->stage = 1;
    tui_frame_status (frame, false, "Changing your password (Esc cancels)");
}

bool
tui_identity_active (tui_identity_t *self)
{
    return self->stage > 0 || self->panel != PANEL_NONE;
}

//  ---------------------------------------------------------------- keys

//  Enter on a password prompt: the next one, or all three to the library.
static void
s_prompt_next (tui_identity_t *self, tui_frame_t *frame)
{
    char *text = tui_input_text (self->prompt);
    tui_input_clear (self->prompt);
    if (!text)
        return;
    if (self->stage < 3) {
        self->typed [self->stage - 1] = text;
        self->stage++;
        return;
    }
    self->password_cmd = chatclient_change_password (self->client, self->typed [0],
                                                     self->typed [1], text);
    s_wipe_free (&text);
    s_close_prompt (self);
    tui_frame_status (frame, false, "Changing the password...");
}

bool
tui_identity_key (tui_identity_t *self, tui_frame_t *frame, tui_key_t key)
{
    bool escape = !key.keycode && !key.alt && key.key == 27;
    if (self->stage > 0) {
        if (escape) {
            s_close_prompt (self);
            tui_frame_status (frame, false, "Password not changed");
        }
        else
        if (tui_input_key (self->prompt, key.keycode, key.key) == TUI_INPUT_SUBMIT)
            s_prompt_next (self, frame);
        return true;
    }
    if (self->panel == PANEL_VERIFY && self->number) {
        if (!key.keycode && (key.key == L'y' || key.key == L'Y')) {
            self->verify_cmd = chatclient_verify (self->client, self->name, self->fingerprint);
            tui_frame_status (frame, false, "Marking %s verified...", self->name);
        }
        else
            tui_frame_status (frame, false, "%s is not marked verified", self->name);
        s_close_panel (self);
        return true;
    }
    if (self->panel != PANEL_NONE) {
        //  any key closes a panel (one still loading, too)
        s_close_panel (self);
        return true;
    }
    return false;
}

//  ---------------------------------------------------------------- events

void
tui_identity_event (tui_identity_t *self, tui_frame_t *frame, chatclient_event_t *event)
{
    if (!event->cmd)
        return;
    if (event->cmd == self->cmd && event->type == CHATCLIENT_EV_SAFETY_NUMBER) {
        zstr_free (&self->name);
        self->name = strdup (event->username);
        self->number = strdup (event->text? event->text: "");
        self->fingerprint = strdup (event->fingerprint? event->fingerprint: "");
        self->pinned = strdup (event->pinned? event->pinned: "");
        self->identity = event->identity;
        self->cmd = 0;
        tui_frame_status (frame, false, "Compare the number with %s's: y if it matches",
                          self->name);
    }
    else
    if (event->cmd == self->cmd && event->type == CHATCLIENT_EV_MEMBERS && event->conversation) {
        self->members = (chatclient_conversation_t *) zmalloc (sizeof *self->members);
        *self->members = *event->conversation;
        //  taken whole: the event is destroyed without them
        event->conversation->members = NULL;
        event->conversation->member_count = 0;
        event->conversation->title = NULL;
        self->cmd = 0;
    }
    else
    if (event->cmd == self->cmd && event->type == CHATCLIENT_EV_ERROR) {
        tui_frame_status (frame, true, "%s", event->text? event->text
                                                       : chatclient_errname (event->code));
        s_close_panel (self);
    }
    else
    if (event->cmd == self->verify_cmd) {
        self->verify_cmd = 0;
        if (event->type == CHATCLIENT_EV_VERIFIED)
            tui_frame_status (frame, false, "%s is verified (%s)", event->username,
                              event->fingerprint? event->fingerprint: "");
        else
            tui_frame_status (frame, true, "%s", event->text? event->text
                                                           : chatclient_errname (event->code));
    }
    else
    if (event->cmd == self->password_cmd) {
        self->password_cmd = 0;
        if (event->type == CHATCLIENT_EV_PASSWORD_CHANGED)
            tui_frame_status (frame, false, "Password changed: use the new one from now on");
        else
            tui_frame_status (frame, true, "%s", event->text? event->text
                                                           : chatclient_errname (event->code));
    }
}

//  ---------------------------------------------------------------- drawing

const char *
tui_identity_title (tui_identity_t *self)
{
    if (self->panel == PANEL_VERIFY)
        snprintf (self->title, sizeof self->title, "Safety number with %s", self->name);
    else
    if (self->panel == PANEL_MEMBERS)
        snprintf (self->title, sizeof self->title, "Members");
    else
        return NULL;
    return self->title;
}

static int
s_line (int y, int x, int width, int attr, const char *text)
{
    tui_frame_put (y, x, width, attr, text);
    return 1;
}

static void
s_draw_verify (tui_identity_t *self, tui_frame_t *frame, int top, int x, int height,
               int width)
{
    int y = top;
    int end = top + height;
    if (!self->number) {
        tui_frame_put (y, x, width, tui_frame_attr (frame, TUI_PAIR_DIM), "Loading...");
        return;
    }
    //  two rows of six groups: how people read them out to each other
    char half [2][40];
    snprintf (half [0], sizeof half [0], "%.35s", self->number);
    snprintf (half [1], sizeof half [1], "%s", strlen (self->number) > 36? self->number + 36: "");
    if (self->identity == CHATCLIENT_IDENTITY_CHANGED && y < end) {
        char *warn = zsys_sprintf ("  %s's identity key CHANGED: the pin is %s", self->name,
                                   self->pinned);
        y += s_line (y, x, width, tui_frame_attr (frame, TUI_PAIR_WARN), warn);
        zstr_free (&warn);
    }
    if (y + 1 < end)
        y += s_line (y + 1, x + 2, width - 2, A_BOLD, half [0]) + 1;
    if (y < end)
        y += s_line (y, x + 2, width - 2, A_BOLD, half [1]);
    char *key = zsys_sprintf ("Their key: %s", self->fingerprint);
    if (y + 1 < end)
        y += s_line (y + 1, x, width, tui_frame_attr (frame, TUI_PAIR_DIM), key) + 1;
    zstr_free (&key);
    const char *mine = chatclient_identity_fingerprint (self->client);
    char *own = zsys_sprintf ("Your key:  %s", mine? mine: "?");
    if (y < end)
        y += s_line (y, x, width, tui_frame_attr (frame, TUI_PAIR_DIM), own);
    zstr_free (&own);
    const char *lines [] = {
        "",
        "Compare this number with the one their client shows, in person or on",
        "a call you trust. The same on both sides: nobody stands between you.",
        "",
        "Do the numbers match?  y: yes, mark them verified   any other key: no",
        NULL
    };
    for (int i = 0; lines [i] && y < end; i++)
        y += s_line (y, x, width, i == 4? A_BOLD: A_NORMAL, lines [i]);
}

static void
s_draw_members (tui_identity_t *self, tui_frame_t *frame, int top, int x, int height,
                int width)
{
    if (!self->members) {
        tui_frame_put (top, x, width, tui_frame_attr (frame, TUI_PAIR_DIM), "Loading...");
        return;
    }
    int y = top;
    for (size_t i = 0; i < self->members->member_count && y < top + height - 1; i++) {
        const char *name = self->members->members [i];
        chatclient_identity_t identity = chatclient_identity (self->client, name);
        const char *mark = identity == CHATCLIENT_IDENTITY_VERIFIED? "  \xe2\x9c\x93 "
                         : identity == CHATCLIENT_IDENTITY_CHANGED? "  ! ": "    ";
        char *text = zsys_sprintf ("%s%-20s %s", mark, name,
                                   identity == CHATCLIENT_IDENTITY_VERIFIED? "verified"
                                   : identity == CHATCLIENT_IDENTITY_CHANGED
                                   ? "identity key CHANGED: /verify before trusting"
                                   : identity == CHATCLIENT_IDENTITY_SELF? "you"
                                   : "not verified (/verify to compare safety numbers)");
        int attr = identity == CHATCLIENT_IDENTITY_CHANGED? tui_frame_attr (frame, TUI_PAIR_WARN)
                 : identity == CHATCLIENT_IDENTITY_VERIFIED? tui_frame_attr (frame, TUI_PAIR_OK)
                 : (int) A_NORMAL;
        y += s_line (y, x, width, attr, text);
        zstr_free (&text);
    }
    if (y < top + height)
        tui_frame_put (y + (y + 1 < top + height), x, width,
                       tui_frame_attr (frame, TUI_PAIR_DIM), "Any key closes this list.");
}

bool
tui_identity_draw (tui_identity_t *self, tui_frame_t *frame, int top, int x, int height,
                   int width)
{
    if (self->panel == PANEL_VERIFY)
        s_draw_verify (self, frame, top, x, height, width);
    else
    if (self->panel == PANEL_MEMBERS)
        s_draw_members (self, frame, top, x, height, width);
    else
        return false;
    return true;
}

bool
tui_identity_draw_prompt (tui_identity_t *self, int y, int width, int *col)
{
    if (self->stage == 0)
        return false;
    static const char *labels [] = { "", "Current password: ", "New password: ",
                                     "New password again: " };
    const char *label = labels [self->stage];
    int len = (int) strlen (label);
    tui_frame_put (y, 0, len, A_BOLD, label);
    *col = tui_input_draw (self->prompt, y, len, width - len);
    return true;
}
