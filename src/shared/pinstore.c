/*  pinstore - the client's pin files: trust on first use

    The file is kept line by line, so that comments and blank lines a person
    wrote survive when the client adds a pin and rewrites the file. Both
    files share everything but the third field of known_users.
*/
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <czmq.h>
#include "pinstore.h"
#include "secret.h"

//  One line of the file: an entry (name and fingerprint set) or text kept
//  as it was (comment or blank, name NULL).
typedef struct {
    char *text;
    char *name;
    char *fingerprint;
    bool verified;          //  known_users only
} pin_line_t;

struct _pinstore_t {
    char *path;
    bool users;             //  known_users: a third field, verified or not
    zlistx_t *lines;        //  pin_line_t, in file order
    bool batch;             //  between begin and commit: save at commit
    bool dirty;             //  changed since the last save (in a batch)
};

#define S_VERIFIED   "verified"
#define S_UNVERIFIED "unverified"

static void
s_line_destroy (void **item_p)
{
    pin_line_t *line = (pin_line_t *) *item_p;
    if (line) {
        free (line->text);
        free (line->name);
        free (line->fingerprint);
        free (line);
        *item_p = NULL;
    }
}

//  A name or fingerprint: printable, no whitespace, no '#' (which would
//  start a comment when read back).
static bool
s_token_valid (const char *token)
{
    if (!token || !*token)
        return false;
    for (const unsigned char *c = (const unsigned char *) token; *c; c++)
        if (*c <= ' ' || *c == 0x7f || *c == '#')
            return false;
    return true;
}

static char *
s_default_path (const char *file)
{
    const char *xdg = getenv ("XDG_CONFIG_HOME");
    //  The XDG spec says a relative value is invalid and must be ignored
    if (xdg && *xdg == '/')
        return zsys_sprintf ("%s/chat/%s", xdg, file);
    const char *home = getenv ("HOME");
    if (home && *home)
        return zsys_sprintf ("%s/.config/chat/%s", home, file);
    return NULL;
}

static pin_line_t *
s_find (pinstore_t *self, const char *name)
{
    for (pin_line_t *line = (pin_line_t *) zlistx_first (self->lines); line;
         line = (pin_line_t *) zlistx_next (self->lines))
        if (line->name && strcmp (line->name, name) == 0)
            return line;
    return NULL;
}

//  Parse one line (without its newline). Returns 0 and appends to the
//  store, or -1 with why set.
static int
s_parse_line (pinstore_t *self, const char *text, size_t len, const char **why)
{
    if (strlen (text) != len) {
        *why = "contains a NUL byte";
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) text [i];
        if ((c < ' ' && c != '\t') || c == 0x7f) {
            *why = "contains a control character";
            return -1;
        }
    }
    pin_line_t *line = (pin_line_t *) zmalloc (sizeof *line);
    line->text = strdup (text);
    if (!line->text) {
        free (line);
        *why = "out of memory";
        return -1;
    }
    //  Fields end at whitespace or at a '#' that starts a comment
    char *fields [4] = { NULL, NULL, NULL, NULL };
    int count = 0;
    char *copy = strdup (text);
    char *hash = copy? strchr (copy, '#'): NULL;
    if (hash)
        *hash = 0;
    char *save = NULL;
    for (char *field = copy? strtok_r (copy, " \t", &save): NULL;
         field && count < 4; field = strtok_r (NULL, " \t", &save))
        fields [count++] = field;

    int rc = 0;
    if (!copy) {
        *why = "out of memory";
        rc = -1;
    }
    else
    if (count == 0)
        ;   //  blank or comment: kept as text
    else
    if (count != (self->users? 3: 2)) {
        *why = self->users? "expected '<name> <fingerprint> <verified|unverified>'"
                          : "expected '<name> <fingerprint>'";
        rc = -1;
    }
    else
    if (self->users && strcmp (fields [2], S_VERIFIED) != 0
                    && strcmp (fields [2], S_UNVERIFIED) != 0) {
        *why = "the third field is neither 'verified' nor 'unverified'";
        rc = -1;
    }
    else {
        bool verified = self->users && strcmp (fields [2], S_VERIFIED) == 0;
        pin_line_t *earlier = s_find (self, fields [0]);
        if (earlier && (strcmp (earlier->fingerprint, fields [1]) != 0
                     || earlier->verified != verified)) {
            //  which line to believe is not ours to guess
            *why = "a second, different pin for a name already pinned";
            rc = -1;
        }
        else {
            line->name = strdup (fields [0]);
            line->fingerprint = strdup (fields [1]);
            line->verified = verified;
            if (!line->name || !line->fingerprint) {
                *why = "out of memory";
                rc = -1;
            }
        }
    }
    free (copy);
    if (rc == 0)
        zlistx_add_end (self->lines, line);
    else {
        void *item = line;
        s_line_destroy (&item);
    }
    return rc;
}

static int
s_load (pinstore_t *self)
{
    FILE *file = fopen (self->path, "r");
    if (!file) {
        if (errno == ENOENT)
            return 0;
        fprintf (stderr, "chat: cannot read %s: %s\n", self->path, strerror (errno));
        return -1;
    }
    char *buffer = NULL;
    size_t size = 0;
    ssize_t len;
    size_t lineno = 0;
    int rc = 0;
    while ((len = getline (&buffer, &size, file)) != -1) {
        lineno++;
        if (len > 0 && buffer [len - 1] == '\n')
            buffer [--len] = 0;
        if (len > 0 && buffer [len - 1] == '\r')
            buffer [--len] = 0;
        const char *why = NULL;
        if (s_parse_line (self, buffer, (size_t) len, &why)) {
            fprintf (stderr, "chat: %s:%zu: malformed line (%s); fix or remove it\n",
                     self->path, lineno, why);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && ferror (file)) {
        fprintf (stderr, "chat: cannot read %s: %s\n", self->path, strerror (errno));
        rc = -1;
    }
    free (buffer);
    fclose (file);
    return rc;
}

static pinstore_t *
s_new (const char *path, bool users)
{
    const char *file = users? "known_users": "known_servers";
    pinstore_t *self = (pinstore_t *) zmalloc (sizeof (pinstore_t));
    self->users = users;
    self->path = path? strdup (path): s_default_path (file);
    self->lines = zlistx_new ();
    if (!self->path || !self->lines) {
        if (!self->path)
            fprintf (stderr, "chat: no place for %s "
                             "(neither XDG_CONFIG_HOME nor HOME is set)\n", file);
        pinstore_destroy (&self);
        return NULL;
    }
    zlistx_set_destructor (self->lines, s_line_destroy);
    if (s_load (self))
        pinstore_destroy (&self);
    return self;
}

pinstore_t *
pinstore_new (const char *path)
{
    return s_new (path, false);
}

pinstore_t *
pinstore_new_users (const char *path)
{
    return s_new (path, true);
}

char *
pinstore_users_beside (const char *known_servers_path)
{
    assert (known_servers_path);
    const char *slash = strrchr (known_servers_path, '/');
    if (!slash)
        return strdup ("known_users");
    return zsys_sprintf ("%.*s/known_users", (int) (slash - known_servers_path),
                         known_servers_path);
}

void
pinstore_destroy (pinstore_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pinstore_t *self = *self_p;
        zlistx_destroy (&self->lines);
        free (self->path);
        free (self);
        *self_p = NULL;
    }
}

pin_result_t
pinstore_check (pinstore_t *self, const char *name, const char *fingerprint,
                const char **pinned)
{
    assert (self);
    if (pinned)
        *pinned = NULL;
    if (!name || !fingerprint)
        return PIN_MISMATCH;
    pin_line_t *line = s_find (self, name);
    if (!line)
        return PIN_UNKNOWN;
    //  Fingerprints are public; an ordinary comparison is fine here
    if (strcmp (line->fingerprint, fingerprint) == 0)
        return PIN_MATCH;
    if (pinned)
        *pinned = line->fingerprint;
    return PIN_MISMATCH;
}

//  The folder holding path, made (mode 0700) if missing
static int
s_make_folders (const char *path)
{
    char *copy = strdup (path);
    if (!copy)
        return -1;
    char *slash = strrchr (copy, '/');
    int rc = 0;
    if (slash && slash != copy) {
        *slash = 0;
        rc = secret_dir_create (copy);
        if (rc)
            fprintf (stderr, "chat: cannot create %s: %s\n", copy, strerror (errno));
    }
    free (copy);
    return rc;
}

static int
s_save (pinstore_t *self)
{
    size_t total = 0;
    for (pin_line_t *line = (pin_line_t *) zlistx_first (self->lines); line;
         line = (pin_line_t *) zlistx_next (self->lines))
        total += strlen (line->text) + 1;
    char *data = (char *) malloc (total + 1);
    if (!data)
        return -1;
    char *cursor = data;
    for (pin_line_t *line = (pin_line_t *) zlistx_first (self->lines); line;
         line = (pin_line_t *) zlistx_next (self->lines)) {
        size_t len = strlen (line->text);
        memcpy (cursor, line->text, len);
        cursor += len;
        *cursor++ = '\n';
    }
    int rc = s_make_folders (self->path);
    if (rc == 0) {
        rc = secret_write_file (self->path, data, total, 0600);
        if (rc)
            fprintf (stderr, "chat: cannot write %s\n", self->path);
    }
    free (data);
    return rc;
}

//  Pin name (a new line, or the old one replaced in place) and save.
static int
s_pin (pinstore_t *self, const char *name, const char *fingerprint, bool verified)
{
    if (!s_token_valid (name) || !s_token_valid (fingerprint))
        return -1;
    char *text = self->users
               ? zsys_sprintf ("%s %s %s", name, fingerprint,
                               verified? S_VERIFIED: S_UNVERIFIED)
               : zsys_sprintf ("%s %s", name, fingerprint);
    char *fp = strdup (fingerprint);
    if (!text || !fp) {
        free (text);
        free (fp);
        return -1;
    }
    pin_line_t *line = s_find (self, name);
    if (line) {
        //  The user accepted a new key, or changed its mark: in place
        free (line->text);
        free (line->fingerprint);
        line->text = text;
        line->fingerprint = fp;
        line->verified = verified;
    }
    else {
        line = (pin_line_t *) zmalloc (sizeof *line);
        line->text = text;
        line->fingerprint = fp;
        line->verified = verified;
        line->name = strdup (name);
        if (!line->name) {
            void *item = line;
            s_line_destroy (&item);
            return -1;
        }
        zlistx_add_end (self->lines, line);
    }
    if (self->batch) {
        self->dirty = true;
        return 0;
    }
    return s_save (self);
}

void
pinstore_begin (pinstore_t *self)
{
    assert (self);
    self->batch = true;
}

int
pinstore_commit (pinstore_t *self)
{
    assert (self);
    self->batch = false;
    if (!self->dirty)
        return 0;
    self->dirty = false;
    return s_save (self);
}

int
pinstore_add (pinstore_t *self, const char *name, const char *fingerprint)
{
    assert (self);
    return s_pin (self, name, fingerprint, false);
}

int
pinstore_set (pinstore_t *self, const char *name, const char *fingerprint, bool verified)
{
    assert (self);
    return self->users? s_pin (self, name, fingerprint, verified): -1;
}

bool
pinstore_verified (pinstore_t *self, const char *name)
{
    assert (self);
    pin_line_t *line = name? s_find (self, name): NULL;
    return line && line->verified;
}

const char *
pinstore_path (pinstore_t *self)
{
    assert (self);
    return self->path;
}
