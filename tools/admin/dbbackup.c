/*  dbbackup - chat-admin's backup and restore; see dbbackup.h  */
#include "dbbackup.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

#define BUSY_TIMEOUT_MS 10000

//  The two kinds of database, told apart by a table only one of them has
static const struct {
    const char *role;
    const char *file;
    const char *table;              //  only this role's database has it
    const char *count;              //  what the summary counts
} s_roles [] = {
    { "mainserver", "mainserver.db", "messages", "SELECT count(*) FROM messages" },
    { "keyserver", "keyserver.db", "key_sets", "SELECT count(*) FROM users" },
};
#define ROLES (sizeof s_roles / sizeof s_roles [0])

//  The data directory must be ours: SQLite may make files in it
static int
s_owner_check (const char *data_dir, char *error, size_t size)
{
    struct stat st;
    if (stat (data_dir, &st) != 0 || !S_ISDIR (st.st_mode)) {
        snprintf (error, size, "%s is not a data directory (%s)", data_dir,
                  errno ? strerror (errno) : "not a directory");
        return -1;
    }
    if (st.st_uid != geteuid ()) {
        struct passwd *owner = getpwuid (st.st_uid);
        snprintf (error, size, "%s belongs to %s: run this as that user "
                  "(e.g. sudo -u %s chat-admin ...), so that the files SQLite makes "
                  "there stay the server's", data_dir,
                  owner ? owner->pw_name : "another user", owner ? owner->pw_name : "USER");
        return -1;
    }
    return 0;
}

//  The role whose database is in data_dir (-1: none, -2: both)
static int
s_role_of_dir (const char *data_dir)
{
    int found = -1;
    for (size_t index = 0; index < ROLES; index++) {
        char path [4096];
        snprintf (path, sizeof path, "%s/%s", data_dir, s_roles [index].file);
        if (access (path, F_OK) == 0)
            found = found == -1 ? (int) index : -2;
    }
    return found;
}

static bool
s_has_table (sqlite3 *db, const char *table)
{
    sqlite3_stmt *stmt = NULL;
    bool found = false;
    if (sqlite3_prepare_v2 (db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                            -1, &stmt, NULL) == SQLITE_OK
    &&  sqlite3_bind_text (stmt, 1, table, -1, SQLITE_STATIC) == SQLITE_OK)
        found = sqlite3_step (stmt) == SQLITE_ROW;
    sqlite3_finalize (stmt);
    return found;
}

static int64_t
s_count (sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt = NULL;
    int64_t count = -1;
    if (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL) == SQLITE_OK
    &&  sqlite3_step (stmt) == SQLITE_ROW)
        count = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    return count;
}

//  "ok" from PRAGMA quick_check
static bool
s_sound (sqlite3 *db)
{
    sqlite3_stmt *stmt = NULL;
    bool ok = false;
    if (sqlite3_prepare_v2 (db, "PRAGMA quick_check", -1, &stmt, NULL) == SQLITE_OK
    &&  sqlite3_step (stmt) == SQLITE_ROW) {
        const char *answer = (const char *) sqlite3_column_text (stmt, 0);
        ok = answer && strcmp (answer, "ok") == 0;
    }
    sqlite3_finalize (stmt);
    return ok;
}

static int
s_fsync_path (const char *path, bool directory)
{
    int fd = open (path, (directory ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    close (fd);
    return rc;
}

static int
s_fsync_parent (const char *path)
{
    char *copy = strdup (path);
    if (!copy)
        return -1;
    int rc = s_fsync_path (dirname (copy), true);
    free (copy);
    return rc;
}

static void
s_info (dbbackup_info_t *info, size_t role, const char *path, sqlite3 *db, const char *copy)
{
    if (!info)
        return;
    info->role = s_roles [role].role;
    snprintf (info->path, sizeof info->path, "%s", path);
    info->rows = s_count (db, s_roles [role].count);
    struct stat st;
    info->bytes = stat (copy, &st) == 0 ? (uint64_t) st.st_size : 0;
}

//  Every page of source into a new file at target (made 0600 first), in one
//  step: one read transaction on the source, so one consistent state. The
//  copy is one plain file (rollback journal mode; the server turns WAL on
//  again when it opens it). info (if not NULL) describes the copy.
static int
s_copy (sqlite3 *source, const char *target, size_t role, const char *origin,
        dbbackup_info_t *info, char *error, size_t size)
{
    int fd = open (target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf (error, size, "cannot create %s: %s", target, strerror (errno));
        return -1;
    }
    close (fd);
    sqlite3 *copy = NULL;
    int rc = sqlite3_open_v2 (target, &copy, SQLITE_OPEN_READWRITE, NULL);
    sqlite3_backup *backup = rc == SQLITE_OK
                           ? sqlite3_backup_init (copy, "main", source, "main") : NULL;
    if (!backup) {
        snprintf (error, size, "cannot start the copy into %s: %s", target,
                  copy ? sqlite3_errmsg (copy) : "out of memory");
        sqlite3_close (copy);
        unlink (target);
        return -1;
    }
    rc = sqlite3_backup_step (backup, -1);
    sqlite3_backup_finish (backup);
    if (rc != SQLITE_DONE) {
        snprintf (error, size, "copy into %s failed: %s", target, sqlite3_errstr (rc));
        sqlite3_close (copy);
        unlink (target);
        return -1;
    }
    bool sound = sqlite3_exec (copy, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL)
                 == SQLITE_OK && s_sound (copy);
    if (sound)
        s_info (info, role, origin, copy, target);
    sqlite3_close (copy);
    if (!sound) {
        snprintf (error, size, "the copy in %s does not pass SQLite's quick_check", target);
        unlink (target);
        return -1;
    }
    if (s_fsync_path (target, false) != 0) {
        snprintf (error, size, "cannot sync %s: %s", target, strerror (errno));
        unlink (target);
        return -1;
    }
    return 0;
}

static int
s_open_read (const char *path, sqlite3 **db, char *error, size_t size)
{
    *db = NULL;
    if (access (path, R_OK) != 0) {
        snprintf (error, size, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    if (sqlite3_open_v2 (path, db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf (error, size, "cannot open %s: %s", path,
                  *db ? sqlite3_errmsg (*db) : "out of memory");
        sqlite3_close (*db);
        *db = NULL;
        return -1;
    }
    sqlite3_busy_timeout (*db, BUSY_TIMEOUT_MS);
    return 0;
}

int
dbbackup_save (const char *data_dir, const char *file, dbbackup_info_t *info,
               char *error, size_t error_size)
{
    if (s_owner_check (data_dir, error, error_size) != 0)
        return -1;
    int role = s_role_of_dir (data_dir);
    if (role < 0) {
        snprintf (error, error_size, role == -1
                  ? "%s holds no server database (keyserver.db or mainserver.db)"
                  : "%s holds both keyserver.db and mainserver.db: which one?", data_dir);
        return -1;
    }
    char path [4096], temp [4200];
    snprintf (path, sizeof path, "%s/%s", data_dir, s_roles [role].file);
    snprintf (temp, sizeof temp, "%s.tmp-%d", file, (int) getpid ());
    sqlite3 *db;
    if (s_open_read (path, &db, error, error_size) != 0)
        return -1;
    int rc = s_copy (db, temp, (size_t) role, path, info, error, error_size);
    sqlite3_close (db);
    if (rc != 0)
        return -1;
    if (rename (temp, file) != 0 || s_fsync_parent (file) != 0) {
        snprintf (error, error_size, "cannot put the copy at %s: %s", file, strerror (errno));
        unlink (temp);
        return -1;
    }
    return 0;
}

//  A server that runs holds <role>.lock (the main server) exclusively
static int
s_stopped_check (const char *data_dir, const char *role, char *error, size_t size)
{
    char path [4096];
    snprintf (path, sizeof path, "%s/%s.lock", data_dir, role);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    int rc = flock (fd, LOCK_EX | LOCK_NB);
    close (fd);
    if (rc != 0) {
        snprintf (error, size, "a %s is running on %s: stop it first", role, data_dir);
        return -1;
    }
    return 0;
}

int
dbbackup_restore (const char *data_dir, const char *file, dbbackup_info_t *info,
                  char *error, size_t error_size)
{
    if (s_owner_check (data_dir, error, error_size) != 0)
        return -1;
    sqlite3 *db;
    if (s_open_read (file, &db, error, error_size) != 0)
        return -1;
    int role = -1;
    for (size_t index = 0; index < ROLES; index++)
        if (s_has_table (db, s_roles [index].table))
            role = (int) index;
    if (role < 0 || !s_sound (db)) {
        snprintf (error, error_size, "%s is not a sound chat server database", file);
        sqlite3_close (db);
        return -1;
    }
    int other = s_role_of_dir (data_dir);
    if (other == -2 || (other >= 0 && other != role)) {
        snprintf (error, error_size, "%s is a %s backup, but %s is a %s's data directory",
                  file, s_roles [role].role, data_dir,
                  other >= 0 ? s_roles [other].role : "confused server");
        sqlite3_close (db);
        return -1;
    }
    if (s_stopped_check (data_dir, s_roles [role].role, error, error_size) != 0) {
        sqlite3_close (db);
        return -1;
    }
    char path [4096], temp [4200], side [4200];
    snprintf (path, sizeof path, "%s/%s", data_dir, s_roles [role].file);
    snprintf (temp, sizeof temp, "%s.restore-%d", path, (int) getpid ());
    int rc = s_copy (db, temp, (size_t) role, path, info, error, error_size);
    sqlite3_close (db);
    if (rc != 0)
        return -1;
    //  The old file's write-ahead log and index go with it: replayed onto
    //  the restored file they would corrupt it
    static const char *sides [] = { "-wal", "-shm", "-journal" };
    for (size_t index = 0; index < 3; index++) {
        snprintf (side, sizeof side, "%s%s", path, sides [index]);
        if (unlink (side) != 0 && errno != ENOENT) {
            snprintf (error, error_size, "cannot remove %s: %s", side, strerror (errno));
            unlink (temp);
            return -1;
        }
    }
    if (rename (temp, path) != 0 || s_fsync_path (data_dir, true) != 0) {
        snprintf (error, error_size, "cannot put the copy at %s: %s", path, strerror (errno));
        unlink (temp);
        return -1;
    }
    return 0;
}
