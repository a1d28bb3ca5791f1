/*  faultvfs - tests only: a SQLite VFS that wraps the default one, counts
    the syncs of commit logs (WAL and rollback journals) and makes writes or
    syncs fail on command; and a watch on every SQLite connection the
    process opens that reads its PRAGMA synchronous as it closes

    The test binary installs it as the process's default VFS, so the code
    under test opens its databases exactly as in production (no switch, no
    VFS name passed in): what it does to its files goes through here.

    Faults and counts only touch files whose path begins with the prefix
    given to faultvfs_watch (a test's own data directory), so other
    databases in the same process are left alone.
*/
#ifndef FAULTVFS_H_INCLUDED
#define FAULTVFS_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef enum {
    FAULTVFS_NONE,          //  every call goes through
    FAULTVFS_SYNC,          //  xSync of a watched file fails (SQLITE_IOERR_FSYNC)
    FAULTVFS_WRITE,         //  xWrite to a watched WAL or journal fails (SQLITE_FULL)
} faultvfs_fault_t;

//  Register the VFS as the default and the connection watch; once per
//  process (again: no-op). 0, or -1 when SQLite refused (a message says why).
int
    faultvfs_install (void);

//  Watch the files under this path prefix (copied; NULL: none), and start
//  its counts at zero.
void
    faultvfs_watch (const char *prefix);

//  Make this kind of call fail from now on (FAULTVFS_NONE: none).
void
    faultvfs_fail (faultvfs_fault_t fault);

//  Syncs of a watched WAL or rollback journal that succeeded: one at least
//  per commit when synchronous is FULL (NORMAL in WAL mode syncs only at
//  checkpoints, OFF never).
uint64_t
    faultvfs_log_syncs (void);

//  Calls failed on command so far (proves a fault was met).
uint64_t
    faultvfs_failed (void);

//  Connections to the database file path closed since install: how many,
//  and the lowest PRAGMA synchronous any of them had as it closed (0 OFF,
//  1 NORMAL, 2 FULL, 3 EXTRA; -1 when none closed or it could not be read).
int
    faultvfs_closed (const char *path, int *min_synchronous);

#endif
