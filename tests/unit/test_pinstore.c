/*  test_pinstore - known_servers and known_users: trust on first use,
    mismatch, the verified mark, file modes  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <czmq.h>
#include "pinstore.h"

#define FP_A "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
#define FP_B "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"

typedef struct {
    char root [64];         //  mkdtemp folder, removed at teardown
    char path [128];        //  root/sub/chat/known_servers (folders not made)
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    const char *tmp = getenv ("TMPDIR");
    snprintf (f->root, sizeof f->root, "%s/pinXXXXXX", tmp && *tmp? tmp: "/tmp");
    assert_non_null (mkdtemp (f->root));
    snprintf (f->path, sizeof f->path, "%s/sub/chat/known_servers", f->root);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    char *command = zsys_sprintf ("rm -rf '%s'", f->root);
    assert_int_equal (system (command), 0);
    free (command);
    free (f);
    return 0;
}

static void
s_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_int_equal (fputs (text, file) >= 0, 1);
    assert_int_equal (fclose (file), 0);
}

static char *
s_read (const char *path)
{
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    static char buffer [4096];
    size_t n = fread (buffer, 1, sizeof buffer - 1, file);
    buffer [n] = 0;
    fclose (file);
    return buffer;
}

static void
test_tofu (void **state)
{
    fixture_t *f = *state;
    pinstore_t *pins = pinstore_new (f->path);
    assert_non_null (pins);
    assert_string_equal (pinstore_path (pins), f->path);

    const char *pinned = "junk";
    assert_int_equal (pinstore_check (pins, "tcp://127.0.0.1:5555", FP_A, &pinned),
                      PIN_UNKNOWN);
    assert_null (pinned);
    assert_int_equal (pinstore_add (pins, "tcp://127.0.0.1:5555", FP_A), 0);
    assert_int_equal (pinstore_check (pins, "tcp://127.0.0.1:5555", FP_A, &pinned),
                      PIN_MATCH);
    assert_int_equal (pinstore_check (pins, "tcp://127.0.0.1:5555", FP_B, &pinned),
                      PIN_MISMATCH);
    assert_non_null (pinned);
    assert_string_equal (pinned, FP_A);
    assert_int_equal (pinstore_check (pins, "tcp://127.0.0.1:5555", FP_B, NULL),
                      PIN_MISMATCH);
    //  Another name is still unknown; names compare exactly
    assert_int_equal (pinstore_check (pins, "tcp://127.0.0.1:5556", FP_A, NULL),
                      PIN_UNKNOWN);
    assert_int_equal (pinstore_check (pins, "tcp://127.0.0.1:555", FP_A, NULL),
                      PIN_UNKNOWN);
    assert_int_equal (pinstore_add (pins, "mainserver@discovery", FP_B), 0);

    //  File 0600, folder 0700, both created
    struct stat st;
    assert_int_equal (stat (f->path, &st), 0);
    assert_int_equal (st.st_mode & 07777, 0600);
    char *folder = strdup (f->path);
    *strrchr (folder, '/') = 0;
    assert_int_equal (stat (folder, &st), 0);
    assert_true (S_ISDIR (st.st_mode));
    assert_int_equal (st.st_mode & 07777, 0700);
    free (folder);
    pinstore_destroy (&pins);
    assert_null (pins);

    //  Reload from disk
    pins = pinstore_new (f->path);
    assert_non_null (pins);
    assert_int_equal (pinstore_check (pins, "tcp://127.0.0.1:5555", FP_A, NULL), PIN_MATCH);
    assert_int_equal (pinstore_check (pins, "mainserver@discovery", FP_B, NULL), PIN_MATCH);
    pinned = NULL;
    assert_int_equal (pinstore_check (pins, "mainserver@discovery", FP_A, &pinned),
                      PIN_MISMATCH);
    assert_string_equal (pinned, FP_B);

    //  Replacing a pin (the user accepted a new key) keeps one line
    assert_int_equal (pinstore_add (pins, "mainserver@discovery", FP_A), 0);
    pinstore_destroy (&pins);
    pins = pinstore_new (f->path);
    assert_non_null (pins);
    assert_int_equal (pinstore_check (pins, "mainserver@discovery", FP_A, NULL), PIN_MATCH);
    const char *text = s_read (f->path);
    assert_string_equal (text, "tcp://127.0.0.1:5555 " FP_A "\n"
                               "mainserver@discovery " FP_A "\n");
    pinstore_destroy (&pins);
}

static void
test_missing_file_is_empty (void **state)
{
    fixture_t *f = *state;
    pinstore_t *pins = pinstore_new (f->path);
    assert_non_null (pins);
    assert_int_equal (pinstore_check (pins, "x", FP_A, NULL), PIN_UNKNOWN);
    pinstore_destroy (&pins);
    //  Nothing is written until something is pinned
    assert_int_equal (access (f->path, F_OK), -1);
}

static void
test_add_refuses_bad_tokens (void **state)
{
    fixture_t *f = *state;
    pinstore_t *pins = pinstore_new (f->path);
    assert_non_null (pins);
    const char *bad [] = { "", "a b", "a\tb", "a\nb", "#name", "na#me", "a\x01" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        assert_int_equal (pinstore_add (pins, bad [i], FP_A), -1);
        assert_int_equal (pinstore_add (pins, "tcp://h:1", bad [i]), -1);
    }
    assert_int_equal (pinstore_add (pins, NULL, FP_A), -1);
    assert_int_equal (pinstore_add (pins, "tcp://h:1", NULL), -1);
    //  Nothing pinned, nothing written
    assert_int_equal (pinstore_check (pins, "tcp://h:1", FP_A, NULL), PIN_UNKNOWN);
    assert_int_equal (access (f->path, F_OK), -1);
    pinstore_destroy (&pins);
}

static void
test_comments_and_blanks (void **state)
{
    fixture_t *f = *state;
    char *path = zsys_sprintf ("%s/known_servers", f->root);
    s_write (path,
             "# servers I trust\n"
             "\n"
             "   \t \n"
             "tcp://10.0.0.1:5555 " FP_A "\n"
             "  # indented comment\n"
             "keyserver@discovery\t" FP_B "   # trailing comment\r\n");
    pinstore_t *pins = pinstore_new (path);
    assert_non_null (pins);
    assert_int_equal (pinstore_check (pins, "tcp://10.0.0.1:5555", FP_A, NULL), PIN_MATCH);
    assert_int_equal (pinstore_check (pins, "keyserver@discovery", FP_B, NULL), PIN_MATCH);
    assert_int_equal (pinstore_check (pins, "# servers", FP_A, NULL), PIN_UNKNOWN);
    assert_int_equal (pinstore_add (pins, "tcp://10.0.0.2:5555", FP_B), 0);
    pinstore_destroy (&pins);

    //  The comments survive a rewrite, and the new pin is appended
    const char *text = s_read (path);
    assert_non_null (strstr (text, "# servers I trust\n\n"));
    assert_non_null (strstr (text, "  # indented comment\n"));
    assert_non_null (strstr (text, "tcp://10.0.0.2:5555 " FP_B "\n"));
    pins = pinstore_new (path);
    assert_non_null (pins);
    assert_int_equal (pinstore_check (pins, "tcp://10.0.0.2:5555", FP_B, NULL), PIN_MATCH);
    assert_int_equal (pinstore_check (pins, "keyserver@discovery", FP_B, NULL), PIN_MATCH);
    pinstore_destroy (&pins);
    free (path);
}

static void
test_malformed (void **state)
{
    fixture_t *f = *state;
    char *path = zsys_sprintf ("%s/known_servers", f->root);
    const char *bad [] = {
        "tcp://10.0.0.1:5555\n",                                    //  one field
        "tcp://10.0.0.1:5555 " FP_A " extra\n",                     //  three
        "# fine\ntcp://a:1 " FP_A "\nname\x01 " FP_B "\n",          //  control char
        "tcp://a:1 " FP_A "\ntcp://a:1 " FP_B "\n",                 //  conflicting pin
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        s_write (path, bad [i]);
        fprintf (stderr, "(expect a complaint about a malformed line:)\n");
        pinstore_t *pins = pinstore_new (path);
        assert_null (pins);
    }
    //  A NUL byte inside a line
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    assert_int_equal (fwrite ("tcp://a:1\0 x\n", 1, 13, file), 13);
    fclose (file);
    assert_null (pinstore_new (path));
    //  The same pin twice is harmless
    s_write (path, "tcp://a:1 " FP_A "\ntcp://a:1 " FP_A "\n");
    pinstore_t *pins = pinstore_new (path);
    assert_non_null (pins);
    assert_int_equal (pinstore_check (pins, "tcp://a:1", FP_A, NULL), PIN_MATCH);
    pinstore_destroy (&pins);
    //  A folder where the file should be cannot be read
    char *dir = zsys_sprintf ("%s/adir", f->root);
    assert_int_equal (mkdir (dir, 0700), 0);
    assert_null (pinstore_new (dir));
    free (dir);
    free (path);
}

static void
test_default_path (void **state)
{
    fixture_t *f = *state;
    char *saved_xdg = getenv ("XDG_CONFIG_HOME")? strdup (getenv ("XDG_CONFIG_HOME")): NULL;
    char *saved_home = getenv ("HOME")? strdup (getenv ("HOME")): NULL;

    char *xdg = zsys_sprintf ("%s/xdg", f->root);
    assert_int_equal (setenv ("XDG_CONFIG_HOME", xdg, 1), 0);
    pinstore_t *pins = pinstore_new (NULL);
    assert_non_null (pins);
    char *expect = zsys_sprintf ("%s/chat/known_servers", xdg);
    assert_string_equal (pinstore_path (pins), expect);
    assert_int_equal (pinstore_add (pins, "keyserver@discovery", FP_A), 0);
    struct stat st;
    assert_int_equal (stat (expect, &st), 0);
    assert_int_equal (st.st_mode & 07777, 0600);
    free (expect);
    pinstore_destroy (&pins);

    //  Without XDG_CONFIG_HOME: $HOME/.config
    assert_int_equal (unsetenv ("XDG_CONFIG_HOME"), 0);
    char *home = zsys_sprintf ("%s/home", f->root);
    assert_int_equal (setenv ("HOME", home, 1), 0);
    pins = pinstore_new (NULL);
    assert_non_null (pins);
    expect = zsys_sprintf ("%s/.config/chat/known_servers", home);
    assert_string_equal (pinstore_path (pins), expect);
    free (expect);
    pinstore_destroy (&pins);

    if (saved_xdg)
        setenv ("XDG_CONFIG_HOME", saved_xdg, 1);
    if (saved_home)
        setenv ("HOME", saved_home, 1);
    else
        unsetenv ("HOME");
    free (saved_xdg);
    free (saved_home);
    free (xdg);
    free (home);
}

//  known_users: a third field, verified or not (proto/README.md section 10)
static void
test_users (void **state)
{
    fixture_t *f = *state;
    char *path = pinstore_users_beside (f->path);
    assert_non_null (strstr (path, "/sub/chat/known_users"));
    assert_int_equal (strlen (path), strlen (f->path) - strlen ("known_servers")
                                     + strlen ("known_users"));
    pinstore_t *pins = pinstore_new_users (path);
    assert_non_null (pins);
    assert_int_equal (pinstore_check (pins, "bob", FP_A, NULL), PIN_UNKNOWN);
    assert_false (pinstore_verified (pins, "bob"));
    //  first sight: unverified
    assert_int_equal (pinstore_add (pins, "bob", FP_A), 0);
    assert_int_equal (pinstore_check (pins, "bob", FP_A, NULL), PIN_MATCH);
    assert_false (pinstore_verified (pins, "bob"));
    assert_string_equal (s_read (path), "bob " FP_A " unverified\n");
    //  compared: verified, in place
    assert_int_equal (pinstore_set (pins, "bob", FP_A, true), 0);
    assert_true (pinstore_verified (pins, "bob"));
    assert_int_equal (pinstore_add (pins, "carol", FP_B), 0);
    assert_string_equal (s_read (path), "bob " FP_A " verified\n"
                                        "carol " FP_B " unverified\n");
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 07777, 0600);
    pinstore_destroy (&pins);

    //  reloaded: marks kept; a changed key is a mismatch naming the pin
    pins = pinstore_new_users (path);
    assert_non_null (pins);
    assert_true (pinstore_verified (pins, "bob"));
    assert_false (pinstore_verified (pins, "carol"));
    const char *pinned = NULL;
    assert_int_equal (pinstore_check (pins, "bob", FP_B, &pinned), PIN_MISMATCH);
    assert_string_equal (pinned, FP_A);
    //  the mark goes, the pin stays (what the client does on a change)
    assert_int_equal (pinstore_set (pins, "bob", FP_A, false), 0);
    assert_false (pinstore_verified (pins, "bob"));
    //  accepting the new key re-pins it
    assert_int_equal (pinstore_set (pins, "bob", FP_B, true), 0);
    assert_int_equal (pinstore_check (pins, "bob", FP_B, NULL), PIN_MATCH);

    //  a batch: nothing written until commit, then all of it at once
    pinstore_begin (pins);
    assert_int_equal (pinstore_add (pins, "dave", FP_A), 0);
    assert_int_equal (pinstore_add (pins, "erin", FP_B), 0);
    assert_null (strstr (s_read (path), "dave"));
    assert_int_equal (pinstore_check (pins, "dave", FP_A, NULL), PIN_MATCH);
    assert_int_equal (pinstore_commit (pins), 0);
    assert_non_null (strstr (s_read (path), "dave " FP_A " unverified\nerin " FP_B));
    pinstore_destroy (&pins);

    //  a known_servers store has no marks to set
    pins = pinstore_new (f->path);
    assert_non_null (pins);
    assert_int_equal (pinstore_set (pins, "bob", FP_A, true), -1);
    pinstore_destroy (&pins);

    //  malformed known_users lines are refused, naming the line
    const char *bad [] = {
        "bob " FP_A "\n",                         //  no mark
        "bob " FP_A " trusted\n",                 //  not a mark
        "bob " FP_A " verified extra\n",
        "bob " FP_A " verified\nbob " FP_B " verified\n",     //  two pins
        "bob " FP_A " verified\nbob " FP_A " unverified\n",   //  two marks
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        s_write (path, bad [i]);
        assert_null (pinstore_new_users (path));
    }
    //  and a known_servers line is not a known_users line
    s_write (path, "# contacts\n\nbob " FP_A " verified # compared in person\n");
    pins = pinstore_new_users (path);
    assert_non_null (pins);
    assert_true (pinstore_verified (pins, "bob"));
    pinstore_destroy (&pins);
    free (path);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_tofu, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_missing_file_is_empty, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_add_refuses_bad_tokens, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_comments_and_blanks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_malformed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_default_path, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_users, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
