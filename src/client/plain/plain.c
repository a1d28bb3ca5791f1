/*  plain - see plain.h and PLAIN.md

    Commands run one at a time: the next line is read only when the one
    before completed with its `ok` or `error` line, so a script can write
    everything at once and still get answers in order. Events (messages
    pushed by the server, reconnects) are printed as they happen, between
    command answers.
*/
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "plain.h"
#include "plainfmt.h"
#include "chaterror.h"

#define MAX_WORDS 64
#define LOGIN_LIST_WAIT_MS 10000
#define LEAVE_WAIT_MS 2000      //  for the servers to hear the logout

const char *plain_help [] = {
    "register USER PASSWORD CONFIRM CONFIRM2   make an account",
    "login USER PASSWORD                       log in",
    "users                                     list every registered user",
    "list                                      list your conversations (the refresh button)",
    "new USER [USER...]                        start a conversation (a group with several)",
    "open CONV                                 show a conversation's messages, mark it read",
    "send CONV TEXT...                         send a message (\\n for a new line, \\\\ for \\)",
    "history CONV [AFTER_SEQ]                  messages of a conversation after a number",
    "members CONV                              who is in a conversation (and whom you verified)",
    "add CONV USER [USER...]                   add people to a group (a new key for everyone)",
    "remove CONV USER                          remove someone from a group (creator and admins)",
    "leave CONV                                leave a conversation (1:1 too)",
    "title CONV [TEXT...]                      set a group's title (none: clear it)",
    "admin CONV USER                           make a member an admin (the creator only)",
    "accept CONV                               accept a message request",
    "leave-requests                            leave every message request at once",
    "verify USER                               show the safety number you and USER compare",
    "verify USER yes                           it matched: mark USER verified (or accept a changed key)",
    "password CURRENT NEW NEW_AGAIN            change your password",
    "logout                                    log out",
    "wait SECONDS                              just print events for a while",
    "help                                      this list",
    "quit                                      leave",
    "CONV is a number from `list`, a conversation id, or a unique start of one.",
    NULL
};

typedef struct {
    chatclient_t *client;
    bool json;
    int in_fd;
    FILE *out;
    char *input;                //  unread input
    size_t input_len, input_alloc;
    bool eof;
    bool quit;
    int failures;
    //  the command in progress
    bool busy;
    uint32_t cmd;
    char name [16];
    int64_t wait_until;         //  wait: done at; login: give up on the list at
    bool login_listing;         //  logged in, waiting for the first list
    char *login_user;
    char *down_reason [2];      //  per server: the reconnecting line said last
    char *login_identity;       //  the identity key's fingerprint
} plain_t;

//  ---------------------------------------------------------------- output lines

typedef struct {
    plain_t *plain;
    char *text;
    size_t text_len;
    FILE *tf;
    char *json;
    size_t json_len;
    FILE *jf;
} line_t;

static void
s_line_begin (line_t *line, plain_t *plain, const char *type)
{
    memset (line, 0, sizeof (*line));
    line->plain = plain;
    line->tf = open_memstream (&line->text, &line->text_len);
    line->jf = open_memstream (&line->json, &line->json_len);
    if (!line->tf || !line->jf)
        abort ();
    fputs (type, line->tf);
    char *quoted = plainfmt_json (type, strlen (type));
    fprintf (line->jf, "{\"type\":%s", quoted);
    free (quoted);
}

//  A word: one field, spaces escaped.
static void
s_line_word (line_t *line, const char *key, const char *value)
{
    if (!value)
        value = "";
    char *escaped = plainfmt_escape (value, strlen (value), true);
    fprintf (line->tf, " %s", *escaped ? escaped : "-");
    free (escaped);
    char *quoted = plainfmt_json (value, strlen (value));
    fprintf (line->jf, ",\"%s\":%s", key, quoted);
    free (quoted);
}

//  key=value in text, "key":value in JSON.
static void
s_line_kv (line_t *line, const char *key, const char *value)
{
    if (!value)
        value = "";
    char *escaped = plainfmt_escape (value, strlen (value), true);
    fprintf (line->tf, " %s=%s", key, escaped);
    free (escaped);
    char *quoted = plainfmt_json (value, strlen (value));
    fprintf (line->jf, ",\"%s\":%s", key, quoted);
    free (quoted);
}

static void
s_line_int (line_t *line, const char *key, int64_t value, bool named)
{
    if (named)
        fprintf (line->tf, " %s=%" PRId64, key, value);
    else
        fprintf (line->tf, " %" PRId64, value);
    fprintf (line->jf, ",\"%s\":%" PRId64, key, value);
}

static void
s_line_uint (line_t *line, const char *key, uint64_t value, bool named)
{
    if (named)
        fprintf (line->tf, " %s=%" PRIu64, key, value);
    else
        fprintf (line->tf, " %" PRIu64, value);
    fprintf (line->jf, ",\"%s\":%" PRIu64, key, value);
}

//  The rest of the line: free text, spaces kept.
static void
s_line_text (line_t *line, const char *key, const char *value, size_t len)
{
    if (!value) {
        value = "";
        len = 0;
    }
    char *escaped = plainfmt_escape (value, len, false);
    fprintf (line->tf, " %s", escaped);
    free (escaped);
    char *quoted = plainfmt_json (value, len);
    fprintf (line->jf, ",\"%s\":%s", key, quoted);
    free (quoted);
}

static void
s_line_list (line_t *line, const char *key, char **items, size_t count)
{
    fputc (' ', line->tf);
    fprintf (line->jf, ",\"%s\":[", key);
    for (size_t i = 0; i < count; i++) {
        const char *item = items [i] ? items [i] : "";
        char *escaped = plainfmt_escape (item, strlen (item), true);
        //  a comma inside a name would split it: escape it too
        for (char *c = escaped; *c; c++) {
            if (*c == ',')
                fputs ("\\x2c", line->tf);
            else
                fputc (*c, line->tf);
        }
        free (escaped);
        if (i + 1 < count)
            fputc (',', line->tf);
        char *quoted = plainfmt_json (item, strlen (item));
        fprintf (line->jf, "%s%s", i ? "," : "", quoted);
        free (quoted);
    }
    if (count == 0)
        fputc ('-', line->tf);
    fputc (']', line->jf);
}

//  key=a,b in text (key=- when empty), "key":[...] in JSON.
static void
s_line_list_kv (line_t *line, const char *key, char **items, size_t count)
{
    fprintf (line->tf, " %s=", key);
    //  s_line_list writes its own leading space in text: write to a
    //  scratch line and take it from there would be more work than this
    fprintf (line->jf, ",\"%s\":[", key);
    for (size_t i = 0; i < count; i++) {
        char *escaped = plainfmt_escape (items [i], strlen (items [i]), true);
        fprintf (line->tf, "%s%s", i? ",": "", escaped);
        free (escaped);
        char *quoted = plainfmt_json (items [i], strlen (items [i]));
        fprintf (line->jf, "%s%s", i? ",": "", quoted);
        free (quoted);
    }
    if (count == 0)
        fputc ('-', line->tf);
    fputc (']', line->jf);
}

static void
s_line_end (line_t *line)
{
    fputc ('}', line->jf);
    fclose (line->tf);
    fclose (line->jf);
    FILE *out = line->plain->out;
    fputs (line->plain->json ? line->json : line->text, out);
    fputc ('\n', out);
    fflush (out);
    free (line->text);
    free (line->json);
}

//  ---------------------------------------------------------------- completion

static void
s_done (plain_t *self)
{
    self->busy = false;
    self->cmd = 0;
    self->wait_until = 0;
    self->login_listing = false;
    free (self->login_user);
    self->login_user = NULL;
    free (self->login_identity);
    self->login_identity = NULL;
}

static void
s_ok (plain_t *self, line_t *line)
{
    s_line_end (line);
    s_done (self);
}

static void
s_fail (plain_t *self, int code, const char *text)
{
    line_t line;
    s_line_begin (&line, self, "error");
    s_line_word (&line, "code", chatclient_errname (code));
    s_line_word (&line, "command", self->name [0] ? self->name : "-");
    s_line_text (&line, "message", text ? text : chat_strerror (code),
                 strlen (text ? text : chat_strerror (code)));
    s_line_end (&line);
    self->failures++;
    s_done (self);
}

static void
s_ok_begin (line_t *line, plain_t *self)
{
    s_line_begin (line, self, "ok");
    s_line_word (line, "command", self->name);
}

//  ---------------------------------------------------------------- events

static void
s_print_conv (plain_t *self, bool event, const chatclient_conversation_t *conv)
{
    line_t line;
    s_line_begin (&line, self, event ? "event" : "conv");
    if (event)
        s_line_word (&line, "event", "conversation");
    s_line_uint (&line, "index", conv->index, false);
    s_line_word (&line, "conversation", conv->hex);
    s_line_list (&line, "members", conv->members, conv->member_count);
    s_line_uint (&line, "unread", conv->unread, true);
    s_line_uint (&line, "last_seq", conv->last_seq, true);
    s_line_uint (&line, "read_seq", conv->read_seq, true);
    s_line_uint (&line, "epoch", conv->epoch, true);
    char **changed = calloc (conv->member_count + 1, sizeof (char *));
    size_t count = 0;
    for (size_t i = 0; changed && i < conv->member_count; i++)
        if (chatclient_identity (self->client, conv->members [i]) == CHATCLIENT_IDENTITY_CHANGED)
            changed [count++] = conv->members [i];
    s_line_list_kv (&line, "changed", changed, count);
    free (changed);
    //  only when so: lines of accepted conversations are as they were
    if (conv->request) {
        fprintf (line.tf, " request");
        fprintf (line.jf, ",\"request\":true");
    }
    if (conv->left) {
        fprintf (line.tf, " left");
        fprintf (line.jf, ",\"left\":true");
    }
    s_line_end (&line);
}

//  A warning line: who, and what the user should know about them.
static void
s_print_warning (plain_t *self, const char *conversation_hex, const char *name,
                 const char *text)
{
    line_t line;
    s_line_begin (&line, self, "warning");
    s_line_word (&line, "conversation", conversation_hex);
    s_line_word (&line, "name", name);
    s_line_text (&line, "message", text, strlen (text));
    s_line_end (&line);
}

//  Every member of conv whose identity key changed, said before its
//  messages are shown.
static void
s_print_changed (plain_t *self, const chatclient_conversation_t *conv)
{
    for (size_t i = 0; i < conv->member_count; i++)
        if (chatclient_identity (self->client, conv->members [i])
            == CHATCLIENT_IDENTITY_CHANGED) {
            char *text = NULL;
            if (asprintf (&text, "%s's identity key changed: what it signs may not be "
                          "theirs; compare safety numbers (verify %s)", conv->members [i],
                          conv->members [i]) < 0)
                text = NULL;
            s_print_warning (self, conv->hex, conv->members [i], text? text: "key changed");
            free (text);
        }
}

//  request: a live message in a message request, which notifies nothing: in
//  text a `request` line goes just before it (as a `warning` line does for
//  a changed key: the msg line's text is its last field), in JSON the
//  object says "request":true
static void
s_print_message (plain_t *self, const char *type, const chatclient_message_t *msg,
                 bool request)
{
    line_t line;
    if (msg->key_changed) {
        char *text = NULL;
        if (asprintf (&text, "message %llu is signed with a key %s has not been verified "
                      "with (their identity key changed)",
                      (unsigned long long) msg->seq, msg->sender) < 0)
            text = NULL;
        s_print_warning (self, msg->conversation_hex, msg->sender, text? text: "key changed");
        free (text);
    }
    if (request && !self->json) {
        s_line_begin (&line, self, "request");
        s_line_word (&line, "conversation", msg->conversation_hex);
        s_line_uint (&line, "seq", msg->seq, false);
        s_line_end (&line);
    }
    s_line_begin (&line, self, type);
    s_line_word (&line, "conversation", msg->conversation_hex);
    s_line_uint (&line, "seq", msg->seq, false);
    s_line_word (&line, "sender", msg->sender);
    s_line_int (&line, "time", msg->server_time, false);
    //  JSON only: text mode's text is the last field of its line
    fprintf (line.jf, ",\"epoch\":%llu,\"key_changed\":%s%s",
             (unsigned long long) msg->epoch, msg->key_changed? "true": "false",
             request? ",\"request\":true": "");
    s_line_text (&line, "text", msg->text, msg->text_len);
    s_line_end (&line);
}

//  Whether the message's conversation is a message request (not accepted)
static bool
s_in_request (plain_t *self, const chatclient_message_t *msg)
{
    const chatclient_conversation_t *conv
        = chatclient_conversation_by_id (self->client, msg->conversation_id);
    return conv && conv->request;
}

static const char *
s_server_name (chatclient_server_t server)
{
    return server == CHATCLIENT_KEYSERVER ? "keyserver" : "mainserver";
}

static void
s_event_line (plain_t *self, chatclient_event_t *ev)
{
    line_t line;
    switch (ev->type) {
        case CHATCLIENT_EV_CONNECTED:
            free (self->down_reason [ev->server]);
            self->down_reason [ev->server] = NULL;
            s_line_begin (&line, self, "event");
            s_line_word (&line, "event", "connected");
            s_line_word (&line, "server", s_server_name (ev->server));
            s_line_word (&line, "endpoint", ev->endpoint);
            s_line_word (&line, "fingerprint", ev->fingerprint);
            s_line_end (&line);
            break;
        case CHATCLIENT_EV_FAILOVER:
            //  the move itself; the `connected` line follows
            s_line_begin (&line, self, "event");
            s_line_word (&line, "event", "failover");
            s_line_word (&line, "server", s_server_name (ev->server));
            s_line_word (&line, "from", ev->from);
            s_line_word (&line, "endpoint", ev->endpoint);
            s_line_end (&line);
            break;
        case CHATCLIENT_EV_DISCONNECTED:
            //  once per reason: a server that stays down is not a line a
            //  second
            if (self->down_reason [ev->server] && ev->text
            &&  streq (self->down_reason [ev->server], ev->text))
                break;
            free (self->down_reason [ev->server]);
            self->down_reason [ev->server] = ev->text? strdup (ev->text): NULL;
            s_line_begin (&line, self, "event");
            s_line_word (&line, "event", "reconnecting");
            s_line_word (&line, "server", s_server_name (ev->server));
            s_line_word (&line, "endpoint", ev->endpoint);
            s_line_uint (&line, "retry_ms", ev->retry_ms, true);
            s_line_text (&line, "reason", ev->text, ev->text ? strlen (ev->text) : 0);
            s_line_end (&line);
            break;
        case CHATCLIENT_EV_PIN_NEW:
            s_line_begin (&line, self, "event");
            s_line_word (&line, "event", "pin-new");
            s_line_word (&line, "server", s_server_name (ev->server));
            s_line_word (&line, "name", ev->name);
            s_line_word (&line, "fingerprint", ev->fingerprint);
            s_line_end (&line);
            if (ev->text)
                fprintf (stderr, "chat: warning: %s\n", ev->text);
            break;
        case CHATCLIENT_EV_PIN_MOVED:
            s_line_begin (&line, self, "event");
            s_line_word (&line, "event", "pin-moved");
            s_line_word (&line, "server", s_server_name (ev->server));
            s_line_word (&line, "name", ev->name);
            s_line_word (&line, "fingerprint", ev->fingerprint);
            s_line_kv (&line, "old", ev->pinned);
            s_line_end (&line);
            fprintf (stderr, "chat: the %s's key was replaced by its operator (the old key "
                     "signed the change): pin moved from %s to %s\n",
                     s_server_name (ev->server), ev->pinned ? ev->pinned : "?",
                     ev->fingerprint ? ev->fingerprint : "?");
            if (ev->text)
                fprintf (stderr, "chat: warning: %s\n", ev->text);
            break;
        case CHATCLIENT_EV_PIN_MISMATCH:
            s_line_begin (&line, self, "event");
            s_line_word (&line, "event", "pin-mismatch");
            s_line_word (&line, "server", s_server_name (ev->server));
            s_line_word (&line, "name", ev->name);
            s_line_kv (&line, "offered", ev->fingerprint);
            s_line_kv (&line, "pinned", ev->pinned);
            s_line_end (&line);
            fprintf (stderr, "chat: WARNING: %s\n", ev->text ? ev->text : "server key changed");
            break;
        case CHATCLIENT_EV_LOGGED_IN:
            s_line_begin (&line, self, "event");
            s_line_word (&line, "event", "logged-in");
            s_line_word (&line, "user", ev->username);
            s_line_end (&line);
            break;
        case CHATCLIENT_EV_LOGGED_OUT:
            s_line_begin (&line, self, "event");
            s_line_word (&line, "event", "logged-out");
            s_line_text (&line, "reason", ev->text, ev->text ? strlen (ev->text) : 0);
            s_line_end (&line);
            break;
        case CHATCLIENT_EV_WRONG_ROLE:
            s_line_begin (&line, self, "event");
            s_line_word (&line, "event", "wrong-role");
            s_line_word (&line, "server", s_server_name (ev->server));
            s_line_word (&line, "endpoint", ev->endpoint);
            s_line_text (&line, "reason", ev->text, ev->text? strlen (ev->text): 0);
            s_line_end (&line);
            fprintf (stderr, "chat: ERROR: %s\n", ev->text? ev->text: "wrong server role");
            break;
        case CHATCLIENT_EV_IDENTITY_CHANGED:
            s_line_begin (&line, self, "event");
            s_line_word (&line, "event", "identity-changed");
            s_line_word (&line, "name", ev->username);
            s_line_kv (&line, "offered", ev->fingerprint);
            s_line_kv (&line, "pinned", ev->pinned);
            s_line_text (&line, "reason", ev->text, ev->text? strlen (ev->text): 0);
            s_line_end (&line);
            fprintf (stderr, "chat: WARNING: %s\n", ev->text? ev->text: "identity key changed");
            break;
        case CHATCLIENT_EV_CONVERSATION:
            s_print_conv (self, true, ev->conversation);
            break;
        case CHATCLIENT_EV_READ:
            s_line_begin (&line, self, "event");
            s_line_word (&line, "event", "read");
            s_line_uint (&line, "index", ev->conversation->index, false);
            s_line_word (&line, "conversation", ev->conversation->hex);
            s_line_uint (&line, "read_seq", ev->conversation->read_seq, true);
            s_line_uint (&line, "unread", ev->conversation->unread, true);
            s_line_end (&line);
            break;
        case CHATCLIENT_EV_CHANGE:
            s_line_begin (&line, self, "change");
            s_line_word (&line, "conversation", ev->conversation->hex);
            s_line_uint (&line, "epoch", ev->conversation->epoch, false);
            s_line_text (&line, "text", ev->text, ev->text? strlen (ev->text): 0);
            s_line_end (&line);
            break;
        case CHATCLIENT_EV_MESSAGE:
            if (ev->message->live && !ev->message->local)
                s_print_message (self, "msg", ev->message, s_in_request (self, ev->message));
            break;
        case CHATCLIENT_EV_ERROR:
        case CHATCLIENT_EV_REGISTER_FAILED:
        case CHATCLIENT_EV_LOGIN_FAILED:
            s_line_begin (&line, self, "event");
            s_line_word (&line, "event", "error");
            s_line_word (&line, "code", chatclient_errname (ev->code));
            s_line_text (&line, "message", ev->text, ev->text ? strlen (ev->text) : 0);
            s_line_end (&line);
            break;
        default:
            break;
    }
}

static void
s_on_event (plain_t *self, chatclient_event_t *ev)
{
    line_t line;
    if (self->busy && self->login_listing
    &&  ev->type == CHATCLIENT_EV_CONVERSATIONS && ev->cmd == 0) {
        s_ok_begin (&line, self);
        s_line_word (&line, "user", self->login_user);
        s_line_uint (&line, "conversations", ev->conversation_count, true);
        if (self->login_identity)
            s_line_kv (&line, "identity", self->login_identity);
        s_ok (self, &line);
        return;
    }
    if (!self->busy || ev->cmd == 0 || ev->cmd != self->cmd) {
        if (ev->cmd == 0)
            s_event_line (self, ev);
        return;
    }
    switch (ev->type) {
        case CHATCLIENT_EV_REGISTERED:
            s_ok_begin (&line, self);
            s_line_word (&line, "user", ev->username);
            s_line_text (&line, "message", ev->text, strlen (ev->text));
            s_ok (self, &line);
            break;
        case CHATCLIENT_EV_LOGGED_IN:
            //  done when the conversation list is in: `list` then works
            self->cmd = 0;
            self->login_listing = true;
            self->login_user = strdup (ev->username ? ev->username : "");
            free (self->login_identity);
            self->login_identity = ev->fingerprint? strdup (ev->fingerprint): NULL;
            self->wait_until = zclock_mono () + LOGIN_LIST_WAIT_MS;
            break;
        case CHATCLIENT_EV_LOGGED_OUT:
            s_ok_begin (&line, self);
            s_ok (self, &line);
            break;
        case CHATCLIENT_EV_USERS:
            for (size_t i = 0; i < ev->user_count; i++) {
                s_line_begin (&line, self, "user");
                s_line_word (&line, "name", ev->users [i]);
                s_line_end (&line);
            }
            s_ok_begin (&line, self);
            s_line_uint (&line, "count", ev->user_count, false);
            s_ok (self, &line);
            break;
        case CHATCLIENT_EV_CONVERSATIONS:
            for (size_t i = 0; i < ev->conversation_count; i++)
                s_print_conv (self, false, &ev->conversations [i]);
            s_ok_begin (&line, self);
            s_line_uint (&line, "count", ev->conversation_count, false);
            s_ok (self, &line);
            break;
        case CHATCLIENT_EV_CONVERSATION:
            s_print_conv (self, false, ev->conversation);
            s_ok_begin (&line, self);
            s_line_uint (&line, "index", ev->conversation->index, false);
            s_line_word (&line, "conversation", ev->conversation->hex);
            s_ok (self, &line);
            break;
        case CHATCLIENT_EV_OPENED: {
            s_print_changed (self, ev->conversation);
            size_t count = chatclient_message_count (self->client, ev->conversation->id);
            for (size_t i = 0; i < count; i++)
                s_print_message (self, "hist",
                                 chatclient_message (self->client, ev->conversation->id, i),
                                 false);
            s_ok_begin (&line, self);
            s_line_uint (&line, "index", ev->conversation->index, false);
            s_line_word (&line, "conversation", ev->conversation->hex);
            s_line_uint (&line, "messages", count, true);
            s_ok (self, &line);
            break;
        }
        case CHATCLIENT_EV_HISTORY:
            s_print_changed (self, ev->conversation);
            for (size_t i = 0; i < ev->message_count; i++)
                s_print_message (self, "hist", &ev->messages [i], false);
            s_ok_begin (&line, self);
            s_line_word (&line, "conversation", ev->conversation->hex);
            s_line_uint (&line, "messages", ev->message_count, true);
            s_ok (self, &line);
            break;
        case CHATCLIENT_EV_MEMBERS:
            for (size_t i = 0; i < ev->conversation->member_count; i++) {
                const char *name = ev->conversation->members [i];
                s_line_begin (&line, self, "member");
                s_line_word (&line, "name", name);
                s_line_word (&line, "identity", chatclient_identity_name (
                             chatclient_identity (self->client, name)));
                s_line_end (&line);
            }
            s_ok_begin (&line, self);
            s_line_word (&line, "conversation", ev->conversation->hex);
            s_line_uint (&line, "count", ev->conversation->member_count, false);
            s_ok (self, &line);
            break;
        case CHATCLIENT_EV_SENT:
            s_ok_begin (&line, self);
            s_line_word (&line, "conversation", ev->message->conversation_hex);
            s_line_uint (&line, "seq", ev->message->seq, false);
            if (ev->duplicate)
                s_line_word (&line, "note", "duplicate");
            s_ok (self, &line);
            break;
        case CHATCLIENT_EV_PASSWORD_CHANGED:
            s_ok_begin (&line, self);
            s_line_text (&line, "message", ev->text, ev->text? strlen (ev->text): 0);
            s_ok (self, &line);
            break;
        case CHATCLIENT_EV_SAFETY_NUMBER:
            s_line_begin (&line, self, "safety");
            s_line_word (&line, "name", ev->username);
            s_line_word (&line, "identity", chatclient_identity_name (ev->identity));
            s_line_word (&line, "fingerprint", ev->fingerprint);
            s_line_kv (&line, "pinned", ev->pinned);
            s_line_text (&line, "number", ev->text, ev->text? strlen (ev->text): 0);
            s_line_end (&line);
            s_ok_begin (&line, self);
            s_line_word (&line, "name", ev->username);
            s_line_word (&line, "identity", chatclient_identity_name (ev->identity));
            s_ok (self, &line);
            break;
        case CHATCLIENT_EV_VERIFIED:
            s_ok_begin (&line, self);
            s_line_word (&line, "name", ev->username);
            s_line_word (&line, "identity", chatclient_identity_name (ev->identity));
            s_line_word (&line, "fingerprint", ev->fingerprint);
            s_ok (self, &line);
            break;
        case CHATCLIENT_EV_ERROR:
        case CHATCLIENT_EV_REGISTER_FAILED:
        case CHATCLIENT_EV_LOGIN_FAILED:
            s_fail (self, ev->code, ev->text);
            break;
        default:
            s_event_line (self, ev);
            break;
    }
}

static void
s_drain (plain_t *self)
{
    chatclient_event_t *ev;
    while ((ev = chatclient_next_event (self->client))) {
        s_on_event (self, ev);
        chatclient_event_destroy (&ev);
    }
}

//  ---------------------------------------------------------------- commands

static int
s_find_conv (plain_t *self, const char *spec, const uint8_t **id)
{
    const chatclient_conversation_t *conv = NULL;
    int rc = chatclient_conversation_find (self->client, spec, &conv);
    if (rc == CHAT_OK) {
        *id = conv->id;
        return 0;
    }
    char *text = NULL;
    if (asprintf (&text, rc == CHAT_ERR_BAD_REQUEST
                  ? "\"%s\" matches several conversations"
                  : "No conversation \"%s\" (see list)", spec) < 0)
        text = NULL;
    s_fail (self, rc, text);
    free (text);
    return -1;
}

static void
s_usage (plain_t *self, const char *text)
{
    s_fail (self, CHATCLIENT_ERR_USAGE, text);
}

static void
s_execute (plain_t *self, const char *line)
{
    char *words [MAX_WORDS];
    const char *rest = NULL;
    int total = plainfmt_split (line, words, MAX_WORDS, 2, &rest);
    int count = total < MAX_WORDS ? total : MAX_WORDS;
    if (count == 0 || words [0][0] == '#') {
        plainfmt_free_words (words, count);
        return;
    }
    //  unescape every argument word (send takes the raw rest instead)
    char *args [MAX_WORDS];
    int nargs = 0;
    bool bad = false;
    for (int i = 1; i < count; i++) {
        args [nargs] = plainfmt_unescape (words [i], NULL);
        if (!args [nargs])
            bad = true;
        else
            nargs++;
    }
    const char *command = words [0];
    self->busy = true;
    self->cmd = 0;
    snprintf (self->name, sizeof (self->name), "%s", command);
    for (char *c = self->name; *c; c++)
        if ((unsigned char) *c < 0x21 || (unsigned char) *c > 0x7e)
            *c = '?';
    line_t out;
    const uint8_t *conv = NULL;

    if (bad || total > MAX_WORDS)
        s_usage (self, bad ? "bad escape in an argument (use \\\\ \\n \\t \\xHH)"
                           : "too many words");
    else
    if (streq (command, "register")) {
        if (nargs != 4)
            s_usage (self, "usage: register USER PASSWORD CONFIRM CONFIRM2");
        else
            self->cmd = chatclient_register (self->client, args [0], args [1],
                                             args [2], args [3]);
    }
    else
    if (streq (command, "login")) {
        if (nargs != 2)
            s_usage (self, "usage: login USER PASSWORD");
        else
            self->cmd = chatclient_login (self->client, args [0], args [1]);
    }
    else
    if (streq (command, "logout")) {
        if (nargs != 0)
            s_usage (self, "usage: logout");
        else
            self->cmd = chatclient_logout (self->client);
    }
    else
    if (streq (command, "users")) {
        if (nargs != 0)
            s_usage (self, "usage: users");
        else
            self->cmd = chatclient_list_users (self->client);
    }
    else
    if (streq (command, "list") || streq (command, "refresh")) {
        if (nargs != 0)
            s_usage (self, "usage: list");
        else
            self->cmd = chatclient_refresh (self->client);
    }
    else
    if (streq (command, "new")) {
        if (nargs < 1)
            s_usage (self, "usage: new USER [USER...]");
        else
            self->cmd = chatclient_create_conversation (self->client,
                                                        (const char **) args, (size_t) nargs);
    }
    else
    if (streq (command, "add")) {
        if (nargs < 2)
            s_usage (self, "usage: add CONV USER [USER...]");
        else
        if (s_find_conv (self, args [0], &conv) == 0)
            self->cmd = chatclient_add_members (self->client, conv,
                                                (const char **) args + 1, (size_t) nargs - 1);
    }
    else
    if (streq (command, "remove") || streq (command, "admin")) {
        bool remove = streq (command, "remove");
        if (nargs != 2)
            s_usage (self, remove? "usage: remove CONV USER": "usage: admin CONV USER");
        else
        if (s_find_conv (self, args [0], &conv) == 0)
            self->cmd = remove? chatclient_remove_member (self->client, conv, args [1])
                              : chatclient_make_admin (self->client, conv, args [1]);
    }
    else
    if (streq (command, "accept")) {
        if (nargs != 1)
            s_usage (self, "usage: accept CONV");
        else
        if (s_find_conv (self, args [0], &conv) == 0)
            self->cmd = chatclient_accept (self->client, conv);
    }
    else
    if (streq (command, "leave-requests")) {
        if (nargs != 0)
            s_usage (self, "usage: leave-requests");
        else
            self->cmd = chatclient_leave_requests (self->client);
    }
    else
    if (streq (command, "leave")) {
        if (nargs != 1)
            s_usage (self, "usage: leave CONV");
        else
        if (s_find_conv (self, args [0], &conv) == 0)
            self->cmd = chatclient_leave (self->client, conv);
    }
    else
    if (streq (command, "title")) {
        size_t len = 0;
        char *text = nargs >= 2 ? plainfmt_unescape (rest, &len) : strdup ("");
        if (nargs < 1)
            s_usage (self, "usage: title CONV [TEXT...]");
        else
        if (!text || strlen (text) != len)
            s_usage (self, "bad escape in the title (use \\\\ \\xHH; no NUL)");
        else
        if (s_find_conv (self, args [0], &conv) == 0)
            self->cmd = chatclient_set_title (self->client, conv, text);
        free (text);
    }
    else
    if (streq (command, "open")) {
        if (nargs != 1)
            s_usage (self, "usage: open CONV");
        else
        if (s_find_conv (self, args [0], &conv) == 0)
            self->cmd = chatclient_open (self->client, conv);
    }
    else
    if (streq (command, "history")) {
        char *end = NULL;
        unsigned long long after = 0;
        if (nargs == 2) {
            errno = 0;
            after = strtoull (args [1], &end, 10);
        }
        if (nargs < 1 || nargs > 2 || (nargs == 2 && (errno || !end || *end || args [1][0] == '-')))
            s_usage (self, "usage: history CONV [AFTER_SEQ]");
        else
        if (s_find_conv (self, args [0], &conv) == 0)
            self->cmd = chatclient_history (self->client, conv, after);
    }
    else
    if (streq (command, "members")) {
        if (nargs != 1)
            s_usage (self, "usage: members CONV");
        else
        if (s_find_conv (self, args [0], &conv) == 0)
            self->cmd = chatclient_members (self->client, conv);
    }
    else
    if (streq (command, "send")) {
        size_t len = 0;
        char *text = nargs >= 2 ? plainfmt_unescape (rest, &len) : NULL;
        if (nargs < 2)
            s_usage (self, "usage: send CONV TEXT...");
        else
        if (!text)
            s_usage (self, "bad escape in the text (use \\\\ \\n \\t \\xHH)");
        else
        if (s_find_conv (self, args [0], &conv) == 0)
            self->cmd = chatclient_send (self->client, conv, text, len);
        free (text);
    }
    else
    if (streq (command, "password")) {
        if (nargs != 3)
            s_usage (self, "usage: password CURRENT NEW NEW_AGAIN");
        else
            self->cmd = chatclient_change_password (self->client, args [0], args [1],
                                                    args [2]);
    }
    else
    if (streq (command, "verify")) {
        if (nargs == 1)
            self->cmd = chatclient_safety_number (self->client, args [0]);
        else
        if (nargs == 2 && streq (args [1], "yes"))
            //  the key whose number this session showed, and no other
            self->cmd = chatclient_verify (self->client, args [0], NULL);
        else
            s_usage (self, "usage: verify USER [yes]");
    }
    else
    if (streq (command, "wait")) {
        char *end = NULL;
        double seconds = nargs == 1 ? strtod (args [0], &end) : -1;
        if (nargs != 1 || !end || *end || !(seconds >= 0 && seconds <= 86400))
            s_usage (self, "usage: wait SECONDS");
        else
            self->wait_until = zclock_mono () + (int64_t) (seconds * 1000);
    }
    else
    if (streq (command, "help")) {
        for (int i = 0; plain_help [i]; i++) {
            s_line_begin (&out, self, "help");
            s_line_text (&out, "text", plain_help [i], strlen (plain_help [i]));
            s_line_end (&out);
        }
        s_ok_begin (&out, self);
        s_ok (self, &out);
    }
    else
    if (streq (command, "quit") || streq (command, "exit")) {
        s_ok_begin (&out, self);
        s_ok (self, &out);
        self->quit = true;
    }
    else {
        char *text = NULL;
        if (asprintf (&text, "unknown command \"%s\" (try help)", self->name) < 0)
            text = NULL;
        s_usage (self, text);
        free (text);
    }
    for (int i = 0; i < nargs; i++) {
        //  passwords were among them
        memset (args [i], 0, strlen (args [i]));
        free (args [i]);
    }
    plainfmt_free_words (words, count);
}

//  The next complete line from the input, or NULL (malloc'd).
static char *
s_next_line (plain_t *self)
{
    char *nl = self->input_len ? memchr (self->input, '\n', self->input_len) : NULL;
    size_t len;
    if (nl)
        len = (size_t) (nl - self->input);
    else
    if (self->eof && self->input_len)
        len = self->input_len;
    else
        return NULL;
    char *line = strndup (self->input, len);
    size_t used = nl ? len + 1 : len;
    memmove (self->input, self->input + used, self->input_len - used);
    self->input_len -= used;
    if (line) {
        size_t n = strlen (line);
        if (n && line [n - 1] == '\r')
            line [n - 1] = 0;
    }
    return line;
}

static void
s_read_input (plain_t *self)
{
    if (self->input_alloc - self->input_len < 4096) {
        self->input_alloc = self->input_alloc ? self->input_alloc * 2 : 8192;
        self->input = realloc (self->input, self->input_alloc);
        if (!self->input)
            abort ();
    }
    ssize_t got = read (self->in_fd, self->input + self->input_len,
                        self->input_alloc - self->input_len);
    if (got > 0)
        self->input_len += (size_t) got;
    else
    if (got == 0 || (errno != EINTR && errno != EAGAIN))
        self->eof = true;
}

//  Leaving (quit, end of input, SIGINT or SIGTERM) while logged in: log out,
//  and give the servers a moment to hear it, so that no session is left
//  behind in their overviews. Nothing more is printed.
static void
s_leave (plain_t *self)
{
    if (!chatclient_username (self->client))
        return;
    chatclient_logout (self->client);
    int64_t deadline = zclock_mono () + LEAVE_WAIT_MS;
    while (zclock_mono () < deadline) {
        chatclient_event_t *ev;
        while ((ev = chatclient_next_event (self->client)))
            chatclient_event_destroy (&ev);
        if (chatclient_settled (self->client))
            break;
        int64_t left = deadline - zclock_mono ();
        chatclient_run_once (self->client, left > 0? (int) left: 0);
    }
}

int
plain_run (chatclient_t *client, const plain_options_t *options)
{
    plain_t self_s, *self = &self_s;
    memset (self, 0, sizeof (*self));
    self->client = client;
    self->json = options->json;
    self->in_fd = options->in_fd;
    self->out = options->out ? options->out : stdout;
    bool interrupted = false;

    while (true) {
        s_drain (self);
        while (!self->busy && !self->quit) {
            char *line = s_next_line (self);
            if (!line)
                break;
            s_execute (self, line);
            if (line) {
                memset (line, 0, strlen (line));
                free (line);
            }
            s_drain (self);
        }
        if (self->quit || (!self->busy && self->eof && self->input_len == 0))
            break;

        zsock_t *socks [CHATCLIENT_MAX_SOCKETS];
        size_t count = chatclient_sockets (client, socks, CHATCLIENT_MAX_SOCKETS);
        zmq_pollitem_t items [CHATCLIENT_MAX_SOCKETS + 1];
        for (size_t i = 0; i < count; i++) {
            items [i].socket = zsock_resolve (socks [i]);
            items [i].fd = 0;
            items [i].events = ZMQ_POLLIN;
            items [i].revents = 0;
        }
        size_t nitems = count;
        if (!self->eof) {
            items [nitems].socket = NULL;
            items [nitems].fd = self->in_fd;
            items [nitems].events = ZMQ_POLLIN;
            items [nitems].revents = 0;
            nitems++;
        }
        int timeout = chatclient_timeout (client);
        int64_t now = zclock_mono ();
        if (self->busy && self->wait_until) {
            int64_t left = self->wait_until - now;
            if (left < timeout)
                timeout = left < 0 ? 0 : (int) left;
        }
        int rc = zmq_poll (items, (int) nitems, timeout);
        if (rc < 0 && (errno != EINTR || zsys_interrupted)) {
            interrupted = true;
            break;
        }
        if (rc > 0) {
            for (size_t i = 0; i < count; i++)
                if (items [i].revents & ZMQ_POLLIN)
                    chatclient_handle (client, socks [i]);
            if (!self->eof && (items [count].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
                s_read_input (self);
        }
        chatclient_tick (client);
        s_drain (self);
        if (self->busy && self->wait_until && zclock_mono () >= self->wait_until) {
            line_t line;
            s_ok_begin (&line, self);
            if (self->login_listing)
                s_line_word (&line, "user", self->login_user);
            s_ok (self, &line);
        }
    }
    s_drain (self);
    s_leave (self);
    free (self->input);
    free (self->login_user);
    free (self->down_reason [0]);
    free (self->down_reason [1]);
    free (self->login_identity);
    if (interrupted && self->busy)
        self->failures++;
    return self->failures ? 1 : 0;
}
