/*  secret - what every secret needs: randomness, wiping, derivation, and
    32-byte secret files (the key server's own secret)

    Files are written to a temporary name in the target's directory, synced,
    then moved into place, so a crash leaves either the old file or the new
    one, never half of one. A secret file is linked into place instead of
    renamed: link(2) fails when the name exists, so creating it can never
    replace a secret that tokens already in use were made under, even in a
    race.
*/
#include "secret.h"
#include "codec.h"
#include <czmq.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  64 hex digits and a newline; one more byte to notice a longer file.
#define SECRET_FILE_TEXT (SECRET_FILE_SIZE * 2 + 1)

int
secret_random (void *buf, size_t len)
{
    if (!buf && len > 0)
        return -1;
    if (len == 0)
        return 0;
    //  RAND_bytes takes an int; fill larger buffers in pieces.
    uint8_t *p = (uint8_t *) buf;
    while (len > 0) {
        int chunk = len > 0x40000000? 0x40000000: (int) len;
        if (RAND_bytes (p, chunk) != 1)
            return -1;
        p += chunk;
        len -= (size_t) chunk;
    }
    return 0;
}

void
secret_wipe (void *buf, size_t len)
{
    if (buf && len > 0)
        OPENSSL_cleanse (buf, len);
}

int
secret_hkdf (const uint8_t *ikm, size_t ikm_len, const char *info,
             uint8_t *out, size_t out_len)
{
    if (!ikm || !out || out_len == 0)
        return -1;
    if (!info)
        info = "";
    EVP_KDF *kdf = EVP_KDF_fetch (NULL, "HKDF", NULL);
    if (!kdf)
        return -1;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new (kdf);
    EVP_KDF_free (kdf);
    if (!ctx)
        return -1;
    //  No salt: HKDF then uses HashLen zero bytes, as RFC 5869 says.
    OSSL_PARAM params [] = {
        OSSL_PARAM_construct_utf8_string (OSSL_KDF_PARAM_DIGEST, (char *) "SHA256", 0),
        OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_KEY, (void *) ikm, ikm_len),
        OSSL_PARAM_construct_octet_string (OSSL_KDF_PARAM_INFO, (void *) info, strlen (info)),
        OSSL_PARAM_construct_end ()
    };
    int rc = EVP_KDF_derive (ctx, out, out_len, params) == 1? 0: -1;
    EVP_KDF_CTX_free (ctx);
    if (rc)
        OPENSSL_cleanse (out, out_len);
    return rc;
}

//  fsync the directory holding path, so a rename or link in it survives a
//  crash.
static int
s_sync_dir (const char *path)
{
    char *copy = strdup (path);
    if (!copy)
        return -1;
    int fd = open (dirname (copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free (copy);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    close (fd);
    return rc? -1: 0;
}

//  Write data to a fresh temporary file beside path, with mode, synced.
//  Returns its malloc'd name, or NULL (nothing left behind).
static char *
s_write_temp (const char *path, const void *data, size_t len, int mode)
{
    size_t name_size = strlen (path) + 32;
    char *temp = (char *) malloc (name_size);
    if (!temp)
        return NULL;
    int fd = -1;
    for (int attempt = 0; attempt < 16 && fd < 0; attempt++) {
        uint32_t tag;
        if (secret_random (&tag, sizeof tag)) {
            free (temp);
            return NULL;
        }
        snprintf (temp, name_size, "%s.tmp-%08x", path, (unsigned) tag);
        fd = open (temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                   (mode_t) mode);
        if (fd < 0 && errno != EEXIST) {
            free (temp);
            return NULL;
        }
    }
    if (fd < 0) {
        free (temp);
        return NULL;
    }
    //  open() applied the umask; the caller's mode is what it asked for.
    int ok = fchmod (fd, (mode_t) mode) == 0;
    const uint8_t *p = (const uint8_t *) data;
    size_t left = len;
    while (ok && left > 0) {
        ssize_t written = write (fd, p, left);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0)
            ok = 0;
        else {
            p += written;
            left -= (size_t) written;
        }
    }
    if (ok && fsync (fd))
        ok = 0;
    if (close (fd))
        ok = 0;
    if (!ok) {
        unlink (temp);
        free (temp);
        return NULL;
    }
    return temp;
}

int
secret_write_file (const char *path, const void *data, size_t len, int mode)
{
    if (!path || (!data && len > 0))
        return -1;
    char *temp = s_write_temp (path, data, len, mode);
    if (!temp)
        return -1;
    int rc = 0;
    if (rename (temp, path)) {
        unlink (temp);
        rc = -1;
    }
    else
    if (s_sync_dir (path))
        rc = -1;
    free (temp);
    return rc;
}

int
secret_file_create (const char *path)
{
    if (!path)
        return -1;
    uint8_t secret [SECRET_FILE_SIZE];
    if (secret_random (secret, sizeof secret))
        return -1;
    char *hex = codec_hex (secret, sizeof secret);
    secret_wipe (secret, sizeof secret);
    if (!hex)
        return -1;
    char text [SECRET_FILE_TEXT];
    memcpy (text, hex, SECRET_FILE_SIZE * 2);
    text [SECRET_FILE_SIZE * 2] = '\n';
    secret_wipe (hex, SECRET_FILE_SIZE * 2);
    free (hex);

    char *temp = s_write_temp (path, text, sizeof text, 0600);
    secret_wipe (text, sizeof text);
    if (!temp)
        return -1;
    int rc = 0;
    if (link (temp, path)) {
        if (errno == EEXIST)
            fprintf (stderr, "%s: exists already; not replacing a secret\n", path);
        rc = -1;
    }
    unlink (temp);
    free (temp);
    if (rc == 0 && s_sync_dir (path))
        rc = -1;
    return rc;
}

int
secret_file_load (const char *path, uint8_t out [SECRET_FILE_SIZE])
{
    if (!path || !out)
        return -1;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf (stderr, "%s: cannot open secret: %s\n", path, strerror (errno));
        return -1;
    }
    struct stat st;
    if (fstat (fd, &st) || !S_ISREG (st.st_mode)) {
        fprintf (stderr, "%s: secret is not a regular file\n", path);
        close (fd);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        fprintf (stderr, "%s: permissions %04o are too open: group and others must "
                 "have no access to a secret (chmod 600 %s)\n",
                 path, (unsigned) (st.st_mode & 07777), path);
        close (fd);
        return -1;
    }
    //  Read one byte more than a correct file holds, to notice a longer one.
    char text [SECRET_FILE_TEXT + 1];
    size_t got = 0;
    while (got < sizeof text) {
        ssize_t n = read (fd, text + got, sizeof text - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf (stderr, "%s: cannot read secret: %s\n", path, strerror (errno));
            close (fd);
            secret_wipe (text, sizeof text);
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t) n;
    }
    close (fd);
    int rc = -1;
    if (got != SECRET_FILE_TEXT || text [SECRET_FILE_SIZE * 2] != '\n')
        fprintf (stderr, "%s: secret must be %d hex digits and a newline\n",
                 path, SECRET_FILE_SIZE * 2);
    else {
        text [SECRET_FILE_SIZE * 2] = '\0';
        if (codec_unhex (text, out, SECRET_FILE_SIZE))
            fprintf (stderr, "%s: secret holds a character that is not a hex digit\n",
                     path);
        else
            rc = 0;
    }
    secret_wipe (text, sizeof text);
    return rc;
}

int
secret_dir_create (const char *path)
{
    assert (path);
    if (*path == 0) {
        errno = ENOENT;
        return -1;
    }
    char *copy = strdup (path);
    if (!copy)
        return -1;
    //  Every prefix ending at a '/', then the whole path
    int rc = 0;
    for (char *c = copy + 1; rc == 0; c++) {
        if (*c != '/' && *c != 0)
            continue;
        char saved = *c;
        *c = 0;
        if (mkdir (copy, 0700) && errno != EEXIST)
            rc = -1;
        *c = saved;
        if (saved == 0)
            break;
    }
    struct stat st;
    if (rc == 0 && stat (path, &st) == 0 && !S_ISDIR (st.st_mode)) {
        errno = ENOTDIR;
        rc = -1;
    }
    free (copy);
    return rc;
}

int
secret_dir_check (const char *path, const char *server)
{
    assert (path && server);
    struct stat st;
    if (stat (path, &st) != 0)
        return -1;
    if ((st.st_mode & 077) == 0)
        return 0;
    zsys_warning ("%s: %s can be reached by other users (mode %03o); its files are "
                  "made 0600, but 0700 is advised for the folder (chmod 700 %s)",
                  server, path, (unsigned) (st.st_mode & 0777), path);
    return 1;
}

int
secret_file_private (const char *path, bool create)
{
    assert (path);
    int fd = open (path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
    if (fd < 0)
        return create || errno != ENOENT ? -1 : 0;
    struct stat st;
    int rc = fstat (fd, &st);
    if (rc == 0 && (st.st_mode & 077)) {
        zsys_warning ("%s was readable by others (mode %03o): now 0600", path,
                      (unsigned) (st.st_mode & 0777));
        rc = fchmod (fd, st.st_mode & 0700);
    }
    int saved = errno;
    close (fd);
    errno = saved;
    return rc;
}

int
secret_database_private (const char *path)
{
    assert (path);
    char *wal = zsys_sprintf ("%s-wal", path);
    char *shm = zsys_sprintf ("%s-shm", path);
    int rc = secret_file_private (path, true) == 0
          && secret_file_private (wal, false) == 0
          && secret_file_private (shm, false) == 0 ? 0 : -1;
    zstr_free (&wal);
    zstr_free (&shm);
    return rc;
}
