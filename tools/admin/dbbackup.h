/*  dbbackup - chat-admin's backup and restore of a server's database

    Backup reads the database file directly, beside the running server,
    with SQLite's online backup API copying every page in one step: that
    step is one read transaction, so the copy is the database as of one
    commit (WAL lets the server go on writing meanwhile, and a reader never
    blocks it). Everything the server acknowledged before the backup began
    is in the copy. The server is not asked and need not run.

    Restore puts such a copy in place of a stopped server's database: it
    checks the copy, writes it beside the live file, removes the old
    write-ahead log (it belongs to the old file and would corrupt the new
    one), and renames it into place.

    Both must run as the data directory's owner: a file SQLite makes there
    (the -wal, -shm) must be the server's, and only the owner may read the
    database anyway.
*/
#ifndef DBBACKUP_H_INCLUDED
#define DBBACKUP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *role;               //  "keyserver" or "mainserver"
    char path [4096];               //  the server's database file
    uint64_t bytes;                 //  size of the copy
    int64_t rows;                   //  messages (main server) or users (key server)
} dbbackup_info_t;

//  Copy the database in data_dir into file (mode 0600; replaced atomically
//  if it exists). 0, or -1 with a sentence in error.
int
    dbbackup_save (const char *data_dir, const char *file, dbbackup_info_t *info,
                   char *error, size_t error_size);

//  Replace the database in data_dir by the copy in file. The server must be
//  stopped: refused while its lock is held or its admin socket answers.
int
    dbbackup_restore (const char *data_dir, const char *file, dbbackup_info_t *info,
                      char *error, size_t error_size);

#endif
