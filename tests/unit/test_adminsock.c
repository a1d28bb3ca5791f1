/*  test_adminsock - the admin socket is the owner's alone from the start  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include "adminsock.h"

static void
test_bind_owner_only (void **state)
{
    (void) state;
    char dir [] = "/tmp/chat-adminsock-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char *path = NULL;
    zsock_t *admin = adminsock_bind (dir, &path);
    assert_non_null (admin);
    assert_non_null (path);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_true (S_ISSOCK (st.st_mode));
    assert_int_equal (st.st_mode & 0777, 0600);
    //  It answers like any REP
    zsock_t *req = zsock_new_req (NULL);
    assert_int_equal (zsock_connect (req, "ipc://%s", path), 0);
    zstr_send (req, "ping");
    char *got = zstr_recv (admin);
    assert_string_equal (got, "ping");
    zstr_free (&got);
    zsock_destroy (&req);
    zsock_destroy (&admin);
    unlink (path);
    zstr_free (&path);
    rmdir (dir);
}

static void
test_refusals (void **state)
{
    (void) state;
    char longdir [200];
    memset (longdir, 'x', sizeof longdir - 1);
    longdir [0] = '/';
    longdir [sizeof longdir - 1] = 0;
    char *path = (char *) "untouched";
    assert_null (adminsock_bind (longdir, &path));
    assert_null (path);
    assert_null (adminsock_bind ("/nonexistent/chat/dir", NULL));
}

int
main (void)
{
    zsys_set_logstream (NULL);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_bind_owner_only),
        cmocka_unit_test (test_refusals),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    zsys_shutdown ();
    return rc;
}
