/*  faultvfs - tests only: a failing, counting SQLite VFS; see faultvfs.h  */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include "faultvfs.h"

//  What a file is to the commit: only logs and the database itself are
//  watched (temp files never hold anything acknowledged)
typedef enum { KIND_OTHER, KIND_DB, KIND_LOG } kind_t;

typedef struct {
    sqlite3_file base;          //  first: SQLite sees this
    sqlite3_file *real;         //  the default VFS's file, right after us
    kind_t kind;
    bool watched;
} ffile_t;

#define CLOSED_MAX 64

static struct {
    sqlite3_vfs vfs;
    sqlite3_vfs *real;
    pthread_mutex_t lock;       //  prefix and closed
    char *prefix;
    atomic_int fault;
    atomic_uint_fast64_t log_syncs;
    atomic_uint_fast64_t failed;
    struct {
        char *path;
        int count;
        int min_synchronous;
    } closed [CLOSED_MAX];
    bool installed;
} S = { .lock = PTHREAD_MUTEX_INITIALIZER };

//  ---------------------------------------------------------------- files

static sqlite3_file *
s_real (sqlite3_file *file)
{
    return ((ffile_t *) file)->real;
}

static int
s_close (sqlite3_file *file)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods? real->pMethods->xClose (real): SQLITE_OK;
}

static int
s_read (sqlite3_file *file, void *buffer, int amount, sqlite3_int64 offset)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xRead (real, buffer, amount, offset);
}

static int
s_write (sqlite3_file *file, const void *buffer, int amount, sqlite3_int64 offset)
{
    ffile_t *self = (ffile_t *) file;
    if (self->watched && self->kind == KIND_LOG
    &&  atomic_load (&S.fault) == FAULTVFS_WRITE) {
        atomic_fetch_add (&S.failed, 1);
        return SQLITE_FULL;
    }
    return self->real->pMethods->xWrite (self->real, buffer, amount, offset);
}

static int
s_truncate (sqlite3_file *file, sqlite3_int64 size)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xTruncate (real, size);
}

static int
s_sync (sqlite3_file *file, int flags)
{
    ffile_t *self = (ffile_t *) file;
    if (self->watched && self->kind != KIND_OTHER
    &&  atomic_load (&S.fault) == FAULTVFS_SYNC) {
        atomic_fetch_add (&S.failed, 1);
        return SQLITE_IOERR_FSYNC;
    }
    int rc = self->real->pMethods->xSync (self->real, flags);
    if (rc == SQLITE_OK && self->watched && self->kind == KIND_LOG)
        atomic_fetch_add (&S.log_syncs, 1);
    return rc;
}

static int
s_file_size (sqlite3_file *file, sqlite3_int64 *size)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xFileSize (real, size);
}

static int
s_lock (sqlite3_file *file, int level)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xLock (real, level);
}

static int
s_unlock (sqlite3_file *file, int level)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xUnlock (real, level);
}

static int
s_check_lock (sqlite3_file *file, int *out)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xCheckReservedLock (real, out);
}

static int
s_file_control (sqlite3_file *file, int op, void *arg)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xFileControl (real, op, arg);
}

static int
s_sector_size (sqlite3_file *file)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xSectorSize (real);
}

static int
s_device (sqlite3_file *file)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xDeviceCharacteristics (real);
}

static int
s_shm_map (sqlite3_file *file, int page, int size, int extend, void volatile **out)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xShmMap (real, page, size, extend, out);
}

static int
s_shm_lock (sqlite3_file *file, int offset, int n, int flags)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xShmLock (real, offset, n, flags);
}

static void
s_shm_barrier (sqlite3_file *file)
{
    sqlite3_file *real = s_real (file);
    real->pMethods->xShmBarrier (real);
}

static int
s_shm_unmap (sqlite3_file *file, int delete_flag)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xShmUnmap (real, delete_flag);
}

static int
s_fetch (sqlite3_file *file, sqlite3_int64 offset, int amount, void **out)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xFetch (real, offset, amount, out);
}

static int
s_unfetch (sqlite3_file *file, sqlite3_int64 offset, void *page)
{
    sqlite3_file *real = s_real (file);
    return real->pMethods->xUnfetch (real, offset, page);
}

//  Version 3, like the default unix files; the shared-memory and mmap
//  calls are offered only when the real file has them (s_open)
static const sqlite3_io_methods s_methods = {
    3, s_close, s_read, s_write, s_truncate, s_sync, s_file_size, s_lock, s_unlock,
    s_check_lock, s_file_control, s_sector_size, s_device,
    s_shm_map, s_shm_lock, s_shm_barrier, s_shm_unmap, s_fetch, s_unfetch
};
static const sqlite3_io_methods s_methods_v1 = {
    1, s_close, s_read, s_write, s_truncate, s_sync, s_file_size, s_lock, s_unlock,
    s_check_lock, s_file_control, s_sector_size, s_device,
    NULL, NULL, NULL, NULL, NULL, NULL
};

static bool
s_is_watched (const char *name)
{
    pthread_mutex_lock (&S.lock);
    bool watched = name && S.prefix && strncmp (name, S.prefix, strlen (S.prefix)) == 0;
    pthread_mutex_unlock (&S.lock);
    return watched;
}

static int
s_open (sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    (void) vfs;
    ffile_t *self = (ffile_t *) file;
    self->real = (sqlite3_file *) (self + 1);
    self->kind = (flags & SQLITE_OPEN_MAIN_DB)? KIND_DB
               : (flags & (SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL))? KIND_LOG
               : KIND_OTHER;
    self->watched = s_is_watched (name);
    int rc = S.real->xOpen (S.real, name, self->real, flags, out_flags);
    //  No methods: SQLite will not call xClose on us either
    if (!self->real->pMethods)
        self->base.pMethods = NULL;
    else
        self->base.pMethods = self->real->pMethods->iVersion >= 3? &s_methods: &s_methods_v1;
    return rc;
}

//  ---------------------------------------------------------------- connections

//  As a connection closes (on the thread that owns it): what its
//  synchronous setting was, by database file
static int
s_on_close (unsigned type, void *arg, void *p, void *x)
{
    (void) arg;
    (void) x;
    if (type != SQLITE_TRACE_CLOSE)
        return 0;
    sqlite3 *db = (sqlite3 *) p;
    const char *path = sqlite3_db_filename (db, "main");
    if (!path || !*path)
        return 0;
    int level = -1;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_prepare_v2 (db, "PRAGMA synchronous", -1, &stmt, NULL) == SQLITE_OK
    &&  sqlite3_step (stmt) == SQLITE_ROW)
        level = sqlite3_column_int (stmt, 0);
    sqlite3_finalize (stmt);
    pthread_mutex_lock (&S.lock);
    int slot = 0;
    while (slot < CLOSED_MAX && S.closed [slot].path && strcmp (S.closed [slot].path, path))
        slot++;
    if (slot < CLOSED_MAX) {
        if (!S.closed [slot].path) {
            S.closed [slot].path = strdup (path);
            S.closed [slot].min_synchronous = level;
        }
        S.closed [slot].count++;
        if (level < S.closed [slot].min_synchronous)
            S.closed [slot].min_synchronous = level;
    }
    else
        fprintf (stderr, "faultvfs: more than %d databases closed, %s not recorded\n",
                 CLOSED_MAX, path);
    pthread_mutex_unlock (&S.lock);
    return 0;
}

//  Every connection opened from now on, as it opens
static int
s_on_open (sqlite3 *db, char **error, const sqlite3_api_routines *api)
{
    (void) error;
    (void) api;
    return sqlite3_trace_v2 (db, SQLITE_TRACE_CLOSE, s_on_close, NULL);
}

int
faultvfs_install (void)
{
    if (S.installed)
        return 0;
    S.real = sqlite3_vfs_find (NULL);
    if (!S.real) {
        fprintf (stderr, "faultvfs: SQLite has no default VFS\n");
        return -1;
    }
    //  What we do not wrap is the default's own (they use nothing of the
    //  VFS object but its sizes)
    S.vfs = *S.real;
    S.vfs.zName = "faultvfs";
    S.vfs.pNext = NULL;
    S.vfs.szOsFile = (int) sizeof (ffile_t) + S.real->szOsFile;
    S.vfs.xOpen = s_open;
    S.vfs.pAppData = NULL;
    int rc = sqlite3_vfs_register (&S.vfs, 1);
    if (rc == SQLITE_OK)
        rc = sqlite3_auto_extension ((void (*) (void)) s_on_open);
    if (rc != SQLITE_OK) {
        fprintf (stderr, "faultvfs: cannot install: %s\n", sqlite3_errstr (rc));
        return -1;
    }
    S.installed = true;
    return 0;
}

void
faultvfs_watch (const char *prefix)
{
    pthread_mutex_lock (&S.lock);
    free (S.prefix);
    S.prefix = prefix? strdup (prefix): NULL;
    atomic_store (&S.log_syncs, 0);
    atomic_store (&S.failed, 0);
    pthread_mutex_unlock (&S.lock);
}

void
faultvfs_fail (faultvfs_fault_t fault)
{
    atomic_store (&S.fault, (int) fault);
}

uint64_t
faultvfs_log_syncs (void)
{
    return atomic_load (&S.log_syncs);
}

uint64_t
faultvfs_failed (void)
{
    return atomic_load (&S.failed);
}

int
faultvfs_closed (const char *path, int *min_synchronous)
{
    int count = 0;
    *min_synchronous = -1;
    pthread_mutex_lock (&S.lock);
    for (int slot = 0; slot < CLOSED_MAX && S.closed [slot].path; slot++)
        if (strcmp (S.closed [slot].path, path) == 0) {
            count = S.closed [slot].count;
            *min_synchronous = S.closed [slot].min_synchronous;
        }
    pthread_mutex_unlock (&S.lock);
    return count;
}
