/*  test_secret - randomness, wiping, HKDF, secret files and the
    atomic file writer
*/
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec.h"
#include "secret.h"

//  Each test gets its own fresh directory, removed afterwards.
static int
s_setup (void **state)
{
    char *dir = strdup ("/tmp/test_secret.XXXXXX");
    if (!dir || !mkdtemp (dir))
        return -1;
    *state = dir;
    return 0;
}

static int
s_teardown (void **state)
{
    char *dir = (char *) *state;
    DIR *handle = opendir (dir);
    if (handle) {
        struct dirent *entry;
        while ((entry = readdir (handle))) {
            if (strcmp (entry->d_name, ".") == 0 || strcmp (entry->d_name, "..") == 0)
                continue;
            char path [512];
            snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
            unlink (path);
        }
        closedir (handle);
    }
    rmdir (dir);
    free (dir);
    return 0;
}

#define PATH_SIZE 512
static void
s_path (void **state, const char *name, char path [PATH_SIZE])
{
    snprintf (path, PATH_SIZE, "%s/%s", (char *) *state, name);
}

static int
s_entries (const char *dir)
{
    DIR *handle = opendir (dir);
    assert_non_null (handle);
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (handle)))
        if (strcmp (entry->d_name, ".") && strcmp (entry->d_name, ".."))
            count++;
    closedir (handle);
    return count;
}

static void
s_write_raw (const char *path, const char *text, mode_t mode)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true (fd >= 0);
    assert_int_equal (fchmod (fd, mode), 0);
    assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    close (fd);
}

static void
test_random (void **state)
{
    (void) state;
    uint8_t one [32] = { 0 }, two [32] = { 0 }, zero [32] = { 0 };
    assert_int_equal (secret_random (one, sizeof one), 0);
    assert_int_equal (secret_random (two, sizeof two), 0);
    assert_memory_not_equal (one, zero, sizeof one);
    assert_memory_not_equal (one, two, sizeof one);
    assert_int_equal (secret_random (NULL, 0), 0);
}

static void
test_wipe (void **state)
{
    (void) state;
    uint8_t buf [40], zero [40] = { 0 };
    memset (buf, 0xA5, sizeof buf);
    secret_wipe (buf, sizeof buf);
    assert_memory_equal (buf, zero, sizeof buf);
    secret_wipe (NULL, 0);
}

//  RFC 5869 test case 3: SHA-256, no salt, no info.
static void
test_hkdf_rfc5869 (void **state)
{
    (void) state;
    uint8_t ikm [22];
    memset (ikm, 0x0b, sizeof ikm);
    uint8_t okm [42];
    assert_int_equal (secret_hkdf (ikm, sizeof ikm, "", okm, sizeof okm), 0);
    char *hex = codec_hex (okm, sizeof okm);
    assert_string_equal (hex,
        "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
        "9d201395faa4b61a96c8");
    free (hex);
}

static void
test_hkdf_purposes (void **state)
{
    (void) state;
    uint8_t ikm [SECRET_FILE_SIZE];
    for (size_t i = 0; i < sizeof ikm; i++)
        ikm [i] = (uint8_t) i;
    uint8_t a [32], b [32], c [32], d [64];
    assert_int_equal (secret_hkdf (ikm, sizeof ikm, "chat/1 certificate", a, sizeof a), 0);
    assert_int_equal (secret_hkdf (ikm, sizeof ikm, "chat/1 ticket", b, sizeof b), 0);
    assert_int_equal (secret_hkdf (ikm, sizeof ikm, "chat/1 certificate", c, sizeof c), 0);
    assert_memory_not_equal (a, b, sizeof a);
    assert_memory_equal (a, c, sizeof a);
    //  HKDF output is a prefix of the longer output for the same purpose.
    assert_int_equal (secret_hkdf (ikm, sizeof ikm, "chat/1 certificate", d, sizeof d), 0);
    assert_memory_equal (a, d, sizeof a);
    //  More than 255 blocks is refused by HKDF itself.
    uint8_t *big = malloc (255 * 32 + 1);
    assert_int_equal (secret_hkdf (ikm, sizeof ikm, "x", big, 255 * 32 + 1), -1);
    free (big);
}

static void
test_write_file (void **state)
{
    char path [PATH_SIZE], nodir [PATH_SIZE];
    s_path (state, "key.pem", path);
    s_path (state, "nodir/key", nodir);
    assert_int_equal (secret_write_file (path, "first\n", 6, 0600), 0);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 07777, 0600);
    assert_int_equal (st.st_size, 6);

    //  Replaces atomically, and the mode asked for wins over the umask.
    mode_t old = umask (0077);
    assert_int_equal (secret_write_file (path, "second line\n", 12, 0644), 0);
    umask (old);
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 07777, 0644);
    FILE *file = fopen (path, "r");
    char text [32] = { 0 };
    assert_non_null (fgets (text, sizeof text, file));
    fclose (file);
    assert_string_equal (text, "second line\n");
    //  No temporary file left beside it.
    assert_int_equal (s_entries ((char *) *state), 1);

    //  Empty data is a valid (empty) file.
    assert_int_equal (secret_write_file (path, NULL, 0, 0600), 0);
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_size, 0);

    //  A directory that does not exist: failure, nothing created.
    assert_int_equal (secret_write_file (nodir, "x", 1, 0600), -1);
    assert_int_equal (s_entries ((char *) *state), 1);
}

static void
test_file_create_load (void **state)
{
    char path [PATH_SIZE], other [PATH_SIZE];
    s_path (state, "own.secret", path);
    s_path (state, "other.secret", other);
    assert_int_equal (secret_file_create (path), 0);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 07777, 0600);
    assert_int_equal (st.st_size, 65);
    assert_int_equal (s_entries ((char *) *state), 1);

    //  The file is 64 lowercase hex digits and a newline.
    char text [80] = { 0 };
    FILE *file = fopen (path, "r");
    assert_non_null (fgets (text, sizeof text, file));
    fclose (file);
    assert_int_equal (strlen (text), 65);
    assert_int_equal (text [64], '\n');
    assert_int_equal (strspn (text, "0123456789abcdef"), 64);

    uint8_t secret [SECRET_FILE_SIZE], expect [SECRET_FILE_SIZE];
    assert_int_equal (secret_file_load (path, secret), 0);
    text [64] = '\0';
    assert_int_equal (codec_unhex (text, expect, sizeof expect), 0);
    assert_memory_equal (secret, expect, sizeof secret);

    //  A second create refuses, and the first secret is untouched.
    assert_int_equal (secret_file_create (path), -1);
    uint8_t again [SECRET_FILE_SIZE];
    assert_int_equal (secret_file_load (path, again), 0);
    assert_memory_equal (secret, again, sizeof secret);
    assert_int_equal (s_entries ((char *) *state), 1);

    //  Two fresh secrets differ.
    assert_int_equal (secret_file_create (other), 0);
    assert_int_equal (secret_file_load (other, again), 0);
    assert_memory_not_equal (secret, again, sizeof secret);
}

static void
test_file_load_refusals (void **state)
{
    uint8_t secret [SECRET_FILE_SIZE];
    const char *good = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    char path [PATH_SIZE], missing [PATH_SIZE];
    s_path (state, "s", path);
    s_path (state, "missing", missing);

    s_write_raw (path, good, 0600);
    assert_int_equal (secret_file_load (path, secret), 0);
    for (int i = 0; i < SECRET_FILE_SIZE; i++)
        assert_int_equal (secret [i], i);
    s_write_raw (path, good, 0400);
    assert_int_equal (secret_file_load (path, secret), 0);

    //  Readable (or writable) by anyone else: refused.
    static const mode_t open_modes [] = { 0644, 0640, 0604, 0620, 0602, 0660 };
    for (size_t i = 0; i < sizeof open_modes / sizeof open_modes [0]; i++) {
        s_write_raw (path, good, open_modes [i]);
        assert_int_equal (secret_file_load (path, secret), -1);
    }

    static const char *bad [] = {
        "",
        "\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1\n",      //  63
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0\n",    //  65
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g\n",     //  not hex
        "000102030405060708090a0b0c0d0e0f 01112131415161718191a1b1c1d1e1f\n",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        s_write_raw (path, bad [i], 0600);
        if (secret_file_load (path, secret) != -1)
            fail_msg ("accepted bad file %zu", i);
    }

    assert_int_equal (secret_file_load (missing, secret), -1);
    //  A directory is not a secret file.
    assert_int_equal (secret_file_load ((char *) *state, secret), -1);
}

//  Folders for keys: parents made too, each new one 0700; an existing one
//  kept as it is; a file in the way refused
static void
test_dir_create (void **state)
{
    const char *dir = (const char *) *state;
    char deep [512], middle [512], file [512];
    snprintf (middle, sizeof middle, "%s/a", dir);
    snprintf (deep, sizeof deep, "%s/a/b/c", dir);
    assert_int_equal (secret_dir_create (deep), 0);
    struct stat st;
    assert_int_equal (stat (deep, &st), 0);
    assert_true (S_ISDIR (st.st_mode));
    assert_int_equal (st.st_mode & 0777, 0700);
    assert_int_equal (stat (middle, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0700);
    //  Again: nothing to do
    assert_int_equal (secret_dir_create (deep), 0);
    //  An existing folder's mode is the operator's business
    assert_int_equal (chmod (deep, 0750), 0);
    assert_int_equal (secret_dir_create (deep), 0);
    assert_int_equal (stat (deep, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0750);
    //  A file where a folder should be
    snprintf (file, sizeof file, "%s/plain", dir);
    assert_int_equal (secret_write_file (file, "x", 1, 0600), 0);
    errno = 0;
    assert_int_equal (secret_dir_create (file), -1);
    assert_int_equal (errno, ENOTDIR);
    char below [600];
    snprintf (below, sizeof below, "%s/sub", file);
    assert_int_equal (secret_dir_create (below), -1);
    assert_int_equal (secret_dir_create (""), -1);
    rmdir (deep);
    snprintf (deep, sizeof deep, "%s/a/b", dir);
    rmdir (deep);
    rmdir (middle);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_random),
        cmocka_unit_test_setup_teardown (test_dir_create, s_setup, s_teardown),
        cmocka_unit_test (test_wipe),
        cmocka_unit_test (test_hkdf_rfc5869),
        cmocka_unit_test (test_hkdf_purposes),
        cmocka_unit_test_setup_teardown (test_write_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_file_create_load, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_file_load_refusals, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
