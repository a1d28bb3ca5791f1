/*  adminview - a server's admin reply as the report's overview windows  */
#include "adminview.h"
#include "jsonout.h"
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_COLUMNS 6

//  A table is built in memory, measured, then printed with aligned columns.
typedef struct {
    size_t columns;
    const char *headers [MAX_COLUMNS];
    char **cells;                   //  rows * columns, each malloc'd
    size_t rows;
    size_t capacity;
} table_t;

//  A copy of text fit for a terminal: control bytes and DEL become '?'.
//  UTF-8 passes as is (a username may well be "Jos\u00e9").
static char *
s_printable (const char *text)
{
    char *copy = strdup (text? text: "");
    if (copy)
        for (unsigned char *s = (unsigned char *) copy; *s; s++)
            if (*s < 0x20 || *s == 0x7f)
                *s = '?';
    return copy;
}

static void
s_table_init (table_t *table, size_t columns, ...)
{
    memset (table, 0, sizeof *table);
    table->columns = columns;
    va_list args;
    va_start (args, columns);
    for (size_t i = 0; i < columns; i++)
        table->headers [i] = va_arg (args, const char *);
    va_end (args);
}

//  Add a row of `columns` strings (copied).
static void
s_table_row (table_t *table, ...)
{
    if (table->rows == table->capacity) {
        size_t capacity = table->capacity? table->capacity * 2: 16;
        char **cells = realloc (table->cells, capacity * table->columns * sizeof *cells);
        if (!cells)
            return;             //  out of memory: the row is left out
        table->cells = cells;
        table->capacity = capacity;
    }
    va_list args;
    va_start (args, table);
    for (size_t i = 0; i < table->columns; i++)
        table->cells [table->rows * table->columns + i] =
            s_printable (va_arg (args, const char *));
    va_end (args);
    table->rows++;
}

//  Display width of UTF-8 text: one per character (good enough for names).
static size_t
s_width (const char *text)
{
    size_t width = 0;
    for (const unsigned char *s = (const unsigned char *) text; *s; s++)
        if ((*s & 0xc0) != 0x80)
            width++;
    return width;
}

static void
s_table_print (FILE *out, table_t *table, const char *title, const char *note)
{
    fprintf (out, "%s (%zu%s%s)\n", title, table->rows, note? ", ": "", note? note: "");
    if (table->rows == 0) {
        fputs ("  (none)\n", out);
        return;
    }
    size_t widths [MAX_COLUMNS];
    for (size_t c = 0; c < table->columns; c++) {
        widths [c] = strlen (table->headers [c]);
        for (size_t r = 0; r < table->rows; r++) {
            const char *cell = table->cells [r * table->columns + c];
            size_t width = s_width (cell? cell: "");
            if (width > widths [c])
                widths [c] = width;
        }
    }
    for (size_t r = 0; r <= table->rows; r++) {
        fputs (" ", out);
        for (size_t c = 0; c < table->columns; c++) {
            const char *cell = r == 0? table->headers [c]
                                     : table->cells [(r - 1) * table->columns + c];
            if (!cell)
                cell = "";
            bool last = c + 1 == table->columns;
            fprintf (out, " %s", cell);
            if (!last)
                for (size_t pad = s_width (cell); pad < widths [c] + 1; pad++)
                    fputc (' ', out);
        }
        fputc ('\n', out);
    }
}

static void
s_table_destroy (table_t *table)
{
    for (size_t i = 0; i < table->rows * table->columns; i++)
        free (table->cells [i]);
    free (table->cells);
    memset (table, 0, sizeof *table);
}

void
adminview_time (int64_t unix_ms, char *buf, size_t size)
{
    if (unix_ms <= 0) {
        snprintf (buf, size, "-");
        return;
    }
    time_t seconds = (time_t) (unix_ms / 1000);
    struct tm tm;
    if (!localtime_r (&seconds, &tm) || strftime (buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf (buf, size, "%" PRId64, unix_ms);
}

static void
s_sessions (FILE *out, const Chat__AdminReply *reply, const char *title)
{
    table_t table;
    s_table_init (&table, 4, "USER", "CLIENT KEY", "CONNECTED SINCE", "LAST ACTIVITY");
    size_t logged_in = 0;
    for (size_t i = 0; i < reply->n_sessions; i++) {
        const Chat__AdminSession *session = reply->sessions [i];
        char since [32], last [32];
        adminview_time (session->connected_since, since, sizeof since);
        adminview_time (session->last_activity, last, sizeof last);
        bool named = session->username && *session->username;
        logged_in += named;
        s_table_row (&table, named? session->username: "(not logged in)",
                     session->client_key_fingerprint, since, last);
    }
    char note [48];
    snprintf (note, sizeof note, "%zu logged in", logged_in);
    s_table_print (out, &table, title, note);
    s_table_destroy (&table);
}

static void
s_users (FILE *out, const Chat__AdminReply *reply, bool keyserver)
{
    table_t table;
    if (keyserver)
        s_table_init (&table, 6, "USERNAME", "ITERATIONS", "STOREDKEY", "IDENTITY KEY",
                      "WRAPPED", "REGISTERED");
    else
        s_table_init (&table, 3, "USERNAME", "IDENTITY KEY", "REGISTERED");
    for (size_t i = 0; i < reply->n_users; i++) {
        const Chat__AdminUser *user = reply->users [i];
        char created [32], iterations [16], stored [48], wrapped [24];
        adminview_time (user->created_at, created, sizeof created);
        snprintf (iterations, sizeof iterations, "%" PRIu32, user->iterations);
        //  The server sends a prefix only; "..." says it is one.
        snprintf (stored, sizeof stored, "%.40s%s", user->stored_key_short? user->stored_key_short: "",
                  user->stored_key_short && *user->stored_key_short? "...": "");
        snprintf (wrapped, sizeof wrapped, "%" PRIu64, user->wrapped_key_count);
        //  A fingerprint, never a key: that is all the servers send
        const char *identity = user->identity_fingerprint && *user->identity_fingerprint
                             ? user->identity_fingerprint: "-";
        if (keyserver)
            s_table_row (&table, user->username, iterations, stored, identity, wrapped,
                         created);
        else
            s_table_row (&table, user->username, identity, created);
    }
    s_table_print (out, &table, keyserver? "Registered users": "Known users", NULL);
    s_table_destroy (&table);
}

static void
s_conversations (FILE *out, const Chat__AdminReply *reply)
{
    table_t table;
    s_table_init (&table, 6, "ID", "MEMBERS", "EPOCH", "MESSAGES", "LAST MESSAGE", "TIME");
    for (size_t i = 0; i < reply->n_conversations; i++) {
        const Chat__AdminConversation *conv = reply->conversations [i];
        //  Members joined by ", " (the report's "Joseph, jonathan")
        size_t len = 1;
        for (size_t m = 0; m < conv->n_members; m++)
            len += strlen (conv->members [m]? conv->members [m]: "") + 2;
        char *members = calloc (1, len);
        if (members)
            for (size_t m = 0; m < conv->n_members; m++) {
                if (m)
                    strcat (members, ", ");
                strcat (members, conv->members [m]? conv->members [m]: "");
            }
        char count [24], last [32], token [48], epoch [32];
        snprintf (count, sizeof count, "%" PRIu64, conv->message_count);
        snprintf (epoch, sizeof epoch, "%" PRIu64 "%s", conv->epoch,
                  conv->direct? " (1:1)": "");
        adminview_time (conv->last_time, last, sizeof last);
        snprintf (token, sizeof token, "%.40s%s",
                  conv->last_token_short? conv->last_token_short: "",
                  conv->last_token_short && *conv->last_token_short? "...": "-");
        s_table_row (&table, conv->conversation_id, members? members: "?", epoch, count,
                     token, last);
        free (members);
    }
    s_table_print (out, &table, "Saved conversations", NULL);
    s_table_destroy (&table);
}

//  The main servers sharing the database (a cluster on PostgreSQL)
static void
s_servers (FILE *out, const Chat__AdminReply *reply)
{
    table_t table;
    s_table_init (&table, 6, "SERVER", "CLIENTS", "PUSHES", "SESSIONS", "UP SINCE",
                  "LAST BEAT");
    for (size_t i = 0; i < reply->n_servers; i++) {
        const Chat__AdminServer *server = reply->servers [i];
        char name [300], sessions [24], started [32], beat [48];
        snprintf (name, sizeof name, "%s%s", server->id, server->self? " (this one)": "");
        snprintf (sessions, sizeof sessions, "%" PRIu64, server->sessions);
        adminview_time (server->started_at, started, sizeof started);
        //  Beats come every 3 s: one much older is a server gone (killed)
        snprintf (beat, sizeof beat, "%" PRId64 " s ago%s", server->heartbeat_age_ms / 1000,
                  server->heartbeat_age_ms > 15000? " (gone?)": "");
        //  (each cell made printable by the table)
        s_table_row (&table, name, server->client_endpoint, server->push_endpoint, sessions,
                     started, beat);
    }
    s_table_print (out, &table, "Main servers sharing this database", NULL);
    s_table_destroy (&table);
}

void
adminview_text (FILE *out, const Chat__AdminReply *reply)
{
    bool keyserver = reply->role && strcmp (reply->role, "keyserver") == 0;
    char started [32];
    adminview_time (reply->started_at, started, sizeof started);
    char *role = s_printable (reply->role);
    char *version = s_printable (reply->version);
    char *fingerprint = s_printable (reply->server_key_fingerprint);
    const char *title = keyserver? "Key server"
                      : reply->role && strcmp (reply->role, "mainserver") == 0? "Main server"
                      : role && *role? role: "Server";
    fprintf (out, "%s (version %s), up since %s\n", title,
             version && *version? version: "?", started);
    free (role);
    free (version);
    fprintf (out, "Server key: %s\n", fingerprint && *fingerprint? fingerprint: "-");
    free (fingerprint);
    if (keyserver)
        //  Wrapped for members' identity keys: none of them opens here
        fprintf (out, "Wrapped epoch keys: %" PRIu64 " copies in %" PRIu64 " sets\n",
                 reply->wrapped_key_count, reply->key_set_count);
    fputc ('\n', out);
    if (keyserver) {
        s_users (out, reply, true);
        fputc ('\n', out);
        s_sessions (out, reply, "Sessions");
    }
    else {
        s_conversations (out, reply);
        fputc ('\n', out);
        s_sessions (out, reply, "Connected sessions");
        if (reply->n_servers) {
            fputc ('\n', out);
            s_servers (out, reply);
        }
        if (reply->n_users) {
            fputc ('\n', out);
            s_users (out, reply, false);
        }
    }
}

static void
s_json_field (FILE *out, const char *name, const char *value, bool comma)
{
    if (comma)
        fputc (',', out);
    jsonout_string (out, name);
    fputc (':', out);
    jsonout_string (out, value);
}

void
adminview_json (FILE *out, const Chat__AdminReply *reply)
{
    fputc ('{', out);
    s_json_field (out, "role", reply->role, false);
    s_json_field (out, "version", reply->version, true);
    s_json_field (out, "server_key_fingerprint", reply->server_key_fingerprint, true);
    fprintf (out, ",\"started_at\":%" PRId64 ",\"key_set_count\":%" PRIu64
             ",\"wrapped_key_count\":%" PRIu64, reply->started_at, reply->key_set_count,
             reply->wrapped_key_count);

    fputs (",\"users\":[", out);
    for (size_t i = 0; i < reply->n_users; i++) {
        const Chat__AdminUser *user = reply->users [i];
        fputs (i? ",{": "{", out);
        s_json_field (out, "username", user->username, false);
        fprintf (out, ",\"iterations\":%" PRIu32, user->iterations);
        s_json_field (out, "stored_key_short", user->stored_key_short, true);
        s_json_field (out, "identity_fingerprint", user->identity_fingerprint, true);
        fprintf (out, ",\"wrapped_key_count\":%" PRIu64 ",\"created_at\":%" PRId64 "}",
                 user->wrapped_key_count, user->created_at);
    }
    fputs ("],\"sessions\":[", out);
    for (size_t i = 0; i < reply->n_sessions; i++) {
        const Chat__AdminSession *session = reply->sessions [i];
        fputs (i? ",{": "{", out);
        s_json_field (out, "username", session->username, false);
        s_json_field (out, "client_key_fingerprint", session->client_key_fingerprint, true);
        fprintf (out, ",\"connected_since\":%" PRId64 ",\"last_activity\":%" PRId64 "}",
                 session->connected_since, session->last_activity);
    }
    fputs ("],\"conversations\":[", out);
    for (size_t i = 0; i < reply->n_conversations; i++) {
        const Chat__AdminConversation *conv = reply->conversations [i];
        fputs (i? ",{": "{", out);
        s_json_field (out, "conversation_id", conv->conversation_id, false);
        fputs (",\"members\":[", out);
        for (size_t m = 0; m < conv->n_members; m++) {
            if (m)
                fputc (',', out);
            jsonout_string (out, conv->members [m]);
        }
        fprintf (out, "],\"epoch\":%" PRIu64 ",\"direct\":%s,\"message_count\":%" PRIu64,
                 conv->epoch, conv->direct? "true": "false", conv->message_count);
        s_json_field (out, "last_token_short", conv->last_token_short, true);
        fprintf (out, ",\"last_time\":%" PRId64 "}", conv->last_time);
    }
    fputs ("],\"servers\":[", out);
    for (size_t i = 0; i < reply->n_servers; i++) {
        const Chat__AdminServer *server = reply->servers [i];
        fputs (i? ",{": "{", out);
        s_json_field (out, "id", server->id, false);
        s_json_field (out, "client_endpoint", server->client_endpoint, true);
        s_json_field (out, "push_endpoint", server->push_endpoint, true);
        fprintf (out, ",\"started_at\":%" PRId64 ",\"sessions\":%" PRIu64
                 ",\"heartbeat_age_ms\":%" PRId64 ",\"self\":%s}", server->started_at,
                 server->sessions, server->heartbeat_age_ms, server->self? "true": "false");
    }
    fputs ("]}\n", out);
}
