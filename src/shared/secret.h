/*  secret - what every secret needs: randomness, wiping, derivation, and
    32-byte secret files

    A secret file holds 32 random bytes (64 hex digits and a newline, mode
    0600): the key server's own secret, from which it derives, with
    HKDF-SHA256 and one label per purpose, the key of its resume tokens and
    that of its fake salts. The servers share no secret (protocol 2).
*/
#ifndef SECRET_H_INCLUDED
#define SECRET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SECRET_FILE_SIZE 32

//  Fill buf with len bytes from OpenSSL's CSPRNG. Returns 0, or -1 if the
//  generator failed (the caller must not go on with an unfilled buffer).
int
    secret_random (void *buf, size_t len);

//  Overwrite a buffer that held a secret (OPENSSL_cleanse).
void
    secret_wipe (void *buf, size_t len);

//  HKDF-SHA256 with no salt: out_len bytes for the purpose named by info
//  (e.g. "chat/1 certificate"). Returns 0, or -1 on failure.
int
    secret_hkdf (const uint8_t *ikm, size_t ikm_len, const char *info,
                 uint8_t *out, size_t out_len);

//  Create a new secret file at path with mode 0600. Refuses (-1) when
//  the file exists already, so nothing made under the old secret is
//  orphaned by accident.
int
    secret_file_create (const char *path);

//  Load a secret file. Returns 0, or -1 when the file is missing, is not
//  exactly 32 bytes (stored as 64 hex digits plus newline), or can be read
//  by group or others (a message on stderr says which).
int
    secret_file_load (const char *path, uint8_t out [SECRET_FILE_SIZE]);

//  Create the folder path and any missing parents, each new one mode 0700
//  (a folder that holds keys, or the folders above it). Existing folders
//  are left as they are. Returns 0, or -1 with errno set (ENOTDIR when path
//  exists but is not a folder).
int
    secret_dir_create (const char *path);

//  Warn (zsys_warning, naming the server) when a folder that holds keys
//  or a database can be read or entered by group or others. Returns 1 when
//  it warned, 0 when the mode is fine, -1 when path cannot be looked at.
int
    secret_dir_check (const char *path, const char *server);

//  Make sure path is a private file: create it empty with mode 0600 when
//  it does not exist (when create), and take group and other access away
//  from it when it exists with them (saying so on the log). For database
//  files, whose library would make them with 0644: SQLite gives its -wal
//  and -shm files the mode of the database. Returns 0, or -1 with errno.
int
    secret_file_private (const char *path, bool create);

//  A SQLite database's files private: the database as secret_file_private
//  with create, its -wal and -shm files (if there) without.
int
    secret_database_private (const char *path);

//  Write data to path atomically (temporary file, fsync, rename) with the
//  given mode. Used for every key file. Returns 0 or -1.
int
    secret_write_file (const char *path, const void *data, size_t len, int mode);

#endif
