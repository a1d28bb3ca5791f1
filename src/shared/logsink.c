/*  logsink - where the servers' log lines go; see logsink.h  */
#include "logsink.h"
#include <czmq.h>
#include <stdatomic.h>
#include <stdio.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINE_MAX_BYTES 4096

static _Atomic int s_level = LOG_INFO;
static bool s_journal;
//  The line being assembled. The cookie's write runs under the stream's
//  own lock (stdio locks a FILE for each call), so one writer at a time.
static char s_line [LINE_MAX_BYTES];
static size_t s_line_len;

static const struct {
    const char *name;
    int level;
    char letter;                    //  CZMQ's mark at the start of a line
} s_levels [] = {
    { "error",   LOG_ERR,     'E' },
    { "warning", LOG_WARNING, 'W' },
    { "notice",  LOG_NOTICE,  'N' },
    { "info",    LOG_INFO,    'I' },
    { "debug",   LOG_DEBUG,   'D' },
};
#define LEVELS (sizeof s_levels / sizeof s_levels [0])

int
logsink_level_parse (const char *name)
{
    for (size_t index = 0; name && index < LEVELS; index++)
        if (streq (name, s_levels [index].name))
            return s_levels [index].level;
    return -1;
}

const char *
logsink_level_name (int level)
{
    for (size_t index = 0; index < LEVELS; index++)
        if (s_levels [index].level == level)
            return s_levels [index].name;
    return "info";
}

void
logsink_set_level (int level)
{
    if (level < LOG_ERR)
        level = LOG_ERR;
    if (level > LOG_DEBUG)
        level = LOG_DEBUG;
    atomic_store (&s_level, level);
}

int
logsink_level (void)
{
    return atomic_load (&s_level);
}

bool
logsink_journal (void)
{
    return s_journal;
}

static void
s_write_all (const char *data, size_t size)
{
    while (size > 0) {
        ssize_t done = write (STDERR_FILENO, data, size);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            return;                 //  nowhere left to complain to
        }
        data += done;
        size -= (size_t) done;
    }
}

//  "X: (ident) yy-mm-dd HH:MM:SS text": the text after CZMQ's marks
static const char *
s_message (const char *line)
{
    const char *text = line + 3;
    if (*text == '(') {
        const char *close = strstr (text, ") ");
        if (!close)
            return line;
        text = close + 2;
    }
    //  The date: 17 characters, digits where digits belong
    static const char shape [] = "dd-dd-dd dd:dd:dd ";
    for (size_t index = 0; index < sizeof shape - 1; index++) {
        char c = text [index];
        if (shape [index] == 'd' ? (c < '0' || c > '9') : c != shape [index])
            return text;
    }
    return text + sizeof shape - 1;
}

static void
s_emit (const char *line, size_t len)
{
    int level = LOG_INFO;
    bool marked = len >= 3 && line [1] == ':' && line [2] == ' ';
    for (size_t index = 0; marked && index < LEVELS; index++)
        if (s_levels [index].letter == line [0])
            level = s_levels [index].level;
    if (level > atomic_load (&s_level))
        return;
    if (s_journal) {
        char prefix [8];
        int prefix_len = snprintf (prefix, sizeof prefix, "<%d>", level);
        const char *text = marked ? s_message (line) : line;
        s_write_all (prefix, (size_t) prefix_len);
        s_write_all (text, len - (size_t) (text - line));
    }
    else
        s_write_all (line, len);
    s_write_all ("\n", 1);
}

static ssize_t
s_cookie_write (void *cookie, const char *data, size_t size)
{
    (void) cookie;
    for (size_t index = 0; index < size; index++) {
        char c = data [index];
        if (c == '\n' || s_line_len == LINE_MAX_BYTES - 1) {
            s_line [s_line_len] = 0;
            s_emit (s_line, s_line_len);
            s_line_len = 0;
            if (c == '\n')
                continue;
        }
        s_line [s_line_len++] = c;
    }
    return (ssize_t) size;
}

//  JOURNAL_STREAM is "device:inode" of the journal's stream; it counts only
//  when stderr is still that very stream (not redirected by a child's shell)
static bool
s_stderr_is_journal (void)
{
    const char *stream = getenv ("JOURNAL_STREAM");
    if (!stream)
        return false;
    unsigned long long device, inode;
    if (sscanf (stream, "%llu:%llu", &device, &inode) != 2)
        return false;
    struct stat st;
    return fstat (STDERR_FILENO, &st) == 0
        && (unsigned long long) st.st_dev == device
        && (unsigned long long) st.st_ino == inode;
}

int
logsink_install (const char *ident)
{
    static FILE *stream;
    s_journal = s_stderr_is_journal ();
    if (!stream) {
        cookie_io_functions_t functions = { NULL, s_cookie_write, NULL, NULL };
        stream = fopencookie (NULL, "w", functions);
        if (!stream)
            return -1;
        //  Whole lines: CZMQ flushes after each one
        setvbuf (stream, NULL, _IOFBF, LINE_MAX_BYTES);
    }
    zsys_init ();
    zsys_set_logident (ident);
    zsys_set_logstream (stream);
    return 0;
}
