/*  test_cl_session - cl_session alone over real request queues and links
    to both servers in-process: register (and a name taken), a wrong
    password, login (SCRAM on the worker thread) and logout with a request
    in flight, a silent re-login after the main server restarts, a resume
    after the key server restarts (the identity kept), a session the key
    server no longer renews; the identity key registration makes and a
    login opens (the key the key server holds, its private half only here),
    a key server naming another one refused; the password change (old
    refused after, new works, same identity; a wrong current one changes
    nothing)

    The layer above is the test: its recorder is the session's listener.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <unistd.h>
#include "cltest.h"
#include "chaterror.h"
#include "identity.h"
#include "keyserver.h"
#include "keystore.h"
#include <sqlite3.h>
#include "wire.h"

//  ---------------------------------------------------------------- helpers

static cltest_stack_t *
s_stack (cltest_servers_t *servers)
{
    cltest_stack_t *stack = cltest_stack_new (servers, CLTEST_SESSION, NULL);
    assert_non_null (stack->session);
    return stack;
}

//  Index of the first recorded public event of type for cmd, or -1.
static int
s_index_of (cltest_stack_t *stack, chatclient_event_type_t type, uint32_t cmd)
{
    for (size_t i = 0; i < cltest_recorder_size (stack->recorder); i++) {
        cltest_event_t *event = cltest_recorder_at (stack->recorder, i);
        if (event->kind == CL_EV_PUBLIC && event->pub->type == type
        &&  (cmd == CLTEST_ANY_CMD || event->pub->cmd == cmd))
            return (int) i;
    }
    return -1;
}

static int
s_index_of_kind (cltest_stack_t *stack, cl_event_kind_t kind)
{
    cltest_event_t *found = cltest_recorder_find (stack->recorder, kind, -1, 0);
    for (size_t i = 0; found && i < cltest_recorder_size (stack->recorder); i++)
        if (cltest_recorder_at (stack->recorder, i) == found)
            return (int) i;
    return -1;
}

static void
s_register (cltest_stack_t *stack, const char *name, const char *password)
{
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_session_register (stack->session, cmd, name, password);
    chatclient_event_t *done = cltest_stack_wait_public (stack, CHATCLIENT_EV_REGISTERED,
                                                         cmd, 0, CLTEST_WAIT);
    assert_non_null (done);
}

static void
s_login (cltest_stack_t *stack, const char *name, const char *password)
{
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_session_login (stack->session, cmd, name, password);
    assert_true (cl_session_login_busy (stack->session));
    chatclient_event_t *done = cltest_stack_wait_public (stack, CHATCLIENT_EV_LOGGED_IN,
                                                         cmd, 0, CLTEST_WAIT);
    assert_non_null (done);
    assert_string_equal (done->username, name);
    assert_true (cl_session_logged_in (stack->session));
    assert_false (cl_session_login_busy (stack->session));
}

//  A request on a server that needs no login (a ping to the main server,
//  registration parameters from the key server): it finds out whether the
//  server still knows our session.
static void
s_probe (cltest_stack_t *stack, chatclient_server_t server)
{
    cl_request_spec_t spec = { 0 };
    if (server == CHATCLIENT_MAINSERVER) {
        Chat__PingRequest body = CHAT__PING_REQUEST__INIT;
        Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
        req.body_case = CHAT__MAIN_REQUEST__BODY_PING;
        req.ping = &body;
        assert_int_equal (cl_requests_submit (stack->requests [server],
                                              (ProtobufCMessage *) &req, &spec), 0);
    }
    else {
        Chat__RegisterParamsRequest body = CHAT__REGISTER_PARAMS_REQUEST__INIT;
        body.username = "probe";
        Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
        req.body_case = CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS;
        req.register_params = &body;
        assert_int_equal (cl_requests_submit (stack->requests [server],
                                              (ProtobufCMessage *) &req, &spec), 0);
    }
}

static bool
s_key_authed (cltest_stack_t *stack, void *arg)
{
    (void) arg;
    return cl_requests_authed (stack->requests [CHATCLIENT_KEYSERVER]);
}

//  The identity key the key server holds for name (DER, malloc'd).
static uint8_t *
s_stored_identity (cltest_servers_t *servers, const char *name, size_t *len)
{
    char *path = zsys_sprintf ("%s/%s", servers->ks_dir, KEYSERVER_DB);
    keystore_t *store = keystore_open (path);
    zstr_free (&path);
    assert_non_null (store);
    keystore_user_t user;
    assert_int_equal (keystore_user_lookup (store, name, &user), CHAT_OK);
    keystore_destroy (&store);
    uint8_t *der = malloc (user.identity_len);
    assert_non_null (der);
    memcpy (der, user.identity, user.identity_len);
    *len = user.identity_len;
    return der;
}

//  Change the password: the command's event.
static chatclient_event_t *
s_change (cltest_stack_t *stack, const char *current, const char *password,
          chatclient_event_type_t expected)
{
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_session_change_password (stack->session, cmd, current, password);
    assert_true (cl_session_password_busy (stack->session));
    chatclient_event_t *done = cltest_stack_wait_public (stack, expected, cmd, 0,
                                                         CLTEST_WAIT);
    assert_non_null (done);
    assert_false (cl_session_password_busy (stack->session));
    return done;
}

//  ---------------------------------------------------------------- tests

static void
test_identity (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *stack = s_stack (servers);
    assert_null (cl_session_identity (stack->session));
    s_register (stack, "ida", "ipw");
    //  registration made a key, kept by the key server (only its public
    //  half and the sealed blob); nothing of it stays here
    assert_null (cl_session_identity (stack->session));
    size_t der_len = 0;
    uint8_t *der = s_stored_identity (servers, "ida", &der_len);
    rsakey_t *stored = rsakey_from_der (der, der_len);
    assert_non_null (stored);
    assert_int_equal (rsakey_bits (stored), IDENTITY_KEY_BITS);

    //  a login opens it: the very key, with its private half
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_session_login (stack->session, cmd, "ida", "ipw");
    chatclient_event_t *done = cltest_stack_wait_public (stack, CHATCLIENT_EV_LOGGED_IN,
                                                         cmd, 0, CLTEST_WAIT);
    assert_non_null (done);
    rsakey_t *identity = cl_session_identity (stack->session);
    assert_non_null (identity);
    assert_true (rsakey_has_private (identity));
    assert_string_equal (rsakey_fingerprint_text (identity), rsakey_fingerprint_text (stored));
    assert_string_equal (done->fingerprint, rsakey_fingerprint_text (stored));
    cl_session_logout (stack->session, cltest_stack_cmd (stack));
    assert_null (cl_session_identity (stack->session));

    //  a key server that names another identity key than the one the
    //  password opens is not believed: the login fails, saying so
    char *path = zsys_sprintf ("%s/%s", servers->ks_dir, KEYSERVER_DB);
    sqlite3 *db = NULL;
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    zstr_free (&path);
    sqlite3_busy_timeout (db, 10000);
    sqlite3_stmt *update = NULL;
    assert_int_equal (sqlite3_prepare_v2 (db, "UPDATE users SET identity_public_key = ? "
                                          "WHERE username = 'ida'", -1, &update, NULL),
                      SQLITE_OK);
    size_t other_len = 0;
    const uint8_t *other = rsakey_der (stack->key, &other_len);
    sqlite3_bind_blob (update, 1, other, (int) other_len, SQLITE_STATIC);
    assert_int_equal (sqlite3_step (update), SQLITE_DONE);
    sqlite3_finalize (update);
    cmd = cltest_stack_cmd (stack);
    cl_session_login (stack->session, cmd, "ida", "ipw");
    chatclient_event_t *failed = cltest_stack_wait_public (stack, CHATCLIENT_EV_LOGIN_FAILED,
                                                           cmd, 0, CLTEST_WAIT);
    assert_non_null (failed);
    assert_int_equal (failed->code, CHAT_ERR_BAD_KEY);
    assert_non_null (strstr (failed->text, "another identity key"));
    assert_false (cl_session_logged_in (stack->session));
    assert_null (cl_session_identity (stack->session));
    //  put back, it works again
    assert_int_equal (sqlite3_prepare_v2 (db, "UPDATE users SET identity_public_key = ? "
                                          "WHERE username = 'ida'", -1, &update, NULL),
                      SQLITE_OK);
    sqlite3_bind_blob (update, 1, der, (int) der_len, SQLITE_STATIC);
    assert_int_equal (sqlite3_step (update), SQLITE_DONE);
    sqlite3_finalize (update);
    sqlite3_close (db);
    s_login (stack, "ida", "ipw");
    free (der);
    rsakey_destroy (&stored);
    cltest_stack_destroy (&stack);
}

static void
test_password_change (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *stack = s_stack (servers);
    s_register (stack, "pat", "old-pw");
    s_login (stack, "pat", "old-pw");
    char *before = strdup (rsakey_fingerprint_text (cl_session_identity (stack->session)));

    //  the wrong current password: nothing changes
    chatclient_event_t *refused = s_change (stack, "not-it", "new-pw", CHATCLIENT_EV_ERROR);
    assert_int_equal (refused->code, CHAT_ERR_AUTH_FAILED);
    assert_string_equal (refused->text, "The current password is wrong; nothing was changed");
    assert_true (cl_session_logged_in (stack->session));

    //  the right one: the key server proves it knew it, then holds the new
    chatclient_event_t *changed = s_change (stack, "old-pw", "new-pw",
                                            CHATCLIENT_EV_PASSWORD_CHANGED);
    assert_string_equal (changed->username, "pat");
    assert_true (cl_session_logged_in (stack->session));
    cl_session_logout (stack->session, cltest_stack_cmd (stack));

    uint32_t cmd = cltest_stack_cmd (stack);
    cl_session_login (stack->session, cmd, "pat", "old-pw");
    chatclient_event_t *failed = cltest_stack_wait_public (stack, CHATCLIENT_EV_LOGIN_FAILED,
                                                           cmd, 0, CLTEST_WAIT);
    assert_non_null (failed);
    assert_int_equal (failed->code, CHAT_ERR_AUTH_FAILED);
    s_login (stack, "pat", "new-pw");
    //  the same identity, sealed again under the new password
    assert_string_equal (rsakey_fingerprint_text (cl_session_identity (stack->session)), before);
    free (before);
    cltest_stack_destroy (&stack);
}

static void
test_register (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *stack = s_stack (servers);
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_session_register (stack->session, cmd, "alice", "apw");
    chatclient_event_t *done = cltest_stack_wait_public (stack, CHATCLIENT_EV_REGISTERED,
                                                         cmd, 0, CLTEST_WAIT);
    assert_non_null (done);
    assert_string_equal (done->username, "alice");
    assert_string_equal (done->text, "Success!");
    assert_false (cl_session_logged_in (stack->session));

    cmd = cltest_stack_cmd (stack);
    cl_session_register (stack->session, cmd, "alice", "other");
    done = cltest_stack_wait_public (stack, CHATCLIENT_EV_REGISTER_FAILED, cmd, 0,
                                     CLTEST_WAIT);
    assert_non_null (done);
    assert_int_equal (done->code, CHAT_ERR_USERNAME_TAKEN);
    assert_string_equal (done->text, "Username already in use");
    cltest_stack_destroy (&stack);
}

static void
test_login_and_logout (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *stack = s_stack (servers);
    s_register (stack, "bob", "bpw");

    //  the wrong password: the report's answer, no session
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_session_login (stack->session, cmd, "bob", "wrong");
    chatclient_event_t *failed = cltest_stack_wait_public (
        stack, CHATCLIENT_EV_LOGIN_FAILED, cmd, 0, CLTEST_WAIT);
    assert_non_null (failed);
    assert_int_equal (failed->code, CHAT_ERR_AUTH_FAILED);
    assert_string_equal (failed->text, "Wrong username or password");
    assert_false (cl_session_logged_in (stack->session));
    assert_null (cl_session_username (stack->session));
    assert_false (cl_session_login_busy (stack->session));

    //  the right one: logged in on both servers, the layer above told
    cltest_recorder_clear (stack->recorder);
    s_login (stack, "bob", "bpw");
    assert_string_equal (cl_session_username (stack->session), "bob");
    assert_true (cl_requests_authed (stack->requests [CHATCLIENT_KEYSERVER]));
    assert_true (cl_requests_authed (stack->requests [CHATCLIENT_MAINSERVER]));
    int logged_in = s_index_of (stack, CHATCLIENT_EV_LOGGED_IN, CLTEST_ANY_CMD);
    int up = s_index_of_kind (stack, CL_EV_SESSION_UP);
    assert_true (logged_in >= 0 && up > logged_in);

    //  a request that needs the session, in flight at the logout: its
    //  command fails with NOT_LOGGED_IN, before the layers above hear the
    //  session is gone, and the logout completes last
    cltest_recorder_clear (stack->recorder);
    Chat__ListUsersRequest body = CHAT__LIST_USERS_REQUEST__INIT;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_LIST_USERS;
    req.list_users = &body;
    cl_request_spec_t spec = { .cmd = 99, .auth = true };
    assert_int_equal (cl_requests_submit (stack->requests [CHATCLIENT_MAINSERVER],
                                          (ProtobufCMessage *) &req, &spec), 0);
    cmd = cltest_stack_cmd (stack);
    cl_session_logout (stack->session, cmd);
    int error = s_index_of (stack, CHATCLIENT_EV_ERROR, 99);
    int down = s_index_of_kind (stack, CL_EV_SESSION_DOWN);
    int out = s_index_of (stack, CHATCLIENT_EV_LOGGED_OUT, cmd);
    assert_true (error >= 0 && down > error && out > down);
    assert_int_equal (cltest_recorder_at (stack->recorder, (size_t) error)->pub->code,
                      CHAT_ERR_NOT_LOGGED_IN);
    assert_false (cl_session_logged_in (stack->session));
    assert_null (cl_session_username (stack->session));
    assert_false (cl_requests_authed (stack->requests [CHATCLIENT_KEYSERVER]));
    assert_false (cl_requests_authed (stack->requests [CHATCLIENT_MAINSERVER]));
    //  and again, for another login on the same stack
    s_login (stack, "bob", "bpw");
    cltest_stack_destroy (&stack);
}

static void
test_relogin_after_main_restart (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *stack = s_stack (servers);
    s_register (stack, "carol", "cpw");
    s_login (stack, "carol", "cpw");
    size_t mark = cltest_recorder_size (stack->recorder);

    cltest_mainserver_stop (servers);
    cltest_mainserver_start (servers);
    //  the server forgot us: the next request finds out, the link comes
    //  back, and the session logs in there again with the certificate
    s_probe (stack, CHATCLIENT_MAINSERVER);
    chatclient_event_t *again = cltest_stack_wait_public (stack, CHATCLIENT_EV_LOGGED_IN, 0,
                                                          mark, CLTEST_WAIT);
    assert_non_null (again);
    assert_string_equal (again->username, "carol");
    assert_string_equal (again->text, "logged in again after a reconnect");
    assert_non_null (cltest_stack_wait (stack, CL_EV_SESSION_RENEWED, -1, mark, CLTEST_WAIT));
    assert_non_null (cltest_recorder_find (stack->recorder, CL_EV_LINK_DOWN,
                                           CHATCLIENT_MAINSERVER, mark));
    assert_true (cl_requests_authed (stack->requests [CHATCLIENT_MAINSERVER]));
    assert_true (cl_session_logged_in (stack->session));
    assert_null (cltest_recorder_public (stack->recorder, CHATCLIENT_EV_LOGGED_OUT,
                                         CLTEST_ANY_CMD, mark));
    cltest_stack_destroy (&stack);
}

static void
test_resume_after_key_restart (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *stack = s_stack (servers);
    s_register (stack, "dave", "dpw");
    s_login (stack, "dave", "dpw");
    size_t mark = cltest_recorder_size (stack->recorder);
    rsakey_t *identity = cl_session_identity (stack->session);
    assert_non_null (identity);

    cltest_keyserver_stop (servers);
    cltest_keyserver_start (servers);
    s_probe (stack, CHATCLIENT_KEYSERVER);
    assert_non_null (cltest_stack_wait (stack, CL_EV_LINK_DOWN, CHATCLIENT_KEYSERVER,
                                        mark, CLTEST_WAIT));
    assert_false (cl_requests_authed (stack->requests [CHATCLIENT_KEYSERVER]));
    //  back in on the key server with the resume token, no password
    assert_true (cltest_stack_run (stack, CLTEST_WAIT, s_key_authed, NULL));
    assert_true (cl_session_logged_in (stack->session));
    assert_null (cltest_recorder_public (stack->recorder, CHATCLIENT_EV_LOGGED_OUT,
                                         CLTEST_ANY_CMD, mark));
    //  a resume brings no sealed identity: the one in memory stays
    assert_ptr_equal (cl_session_identity (stack->session), identity);
    cltest_stack_destroy (&stack);
}

static void
test_session_not_renewed (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *stack = s_stack (servers);
    s_register (stack, "erin", "epw");
    s_login (stack, "erin", "epw");
    size_t mark = cltest_recorder_size (stack->recorder);

    //  the key server comes back with a new secret (its resume key comes
    //  from it): our token is
    //  worthless there, and the session ends
    cltest_keyserver_stop (servers);
    char path [128];
    snprintf (path, sizeof (path), "%s/%s", servers->ks_dir, KEYSERVER_SECRET);
    assert_int_equal (unlink (path), 0);
    cltest_keyserver_start (servers);
    s_probe (stack, CHATCLIENT_KEYSERVER);
    chatclient_event_t *out = cltest_stack_wait_public (stack, CHATCLIENT_EV_LOGGED_OUT, 0,
                                                        mark, CLTEST_WAIT);
    assert_non_null (out);
    assert_int_equal (out->code, CHAT_ERR_NOT_LOGGED_IN);
    assert_non_null (strstr (out->text, "no longer accepts this session"));
    assert_non_null (cltest_recorder_find (stack->recorder, CL_EV_SESSION_DOWN, -1, mark));
    assert_false (cl_session_logged_in (stack->session));
    assert_false (cl_requests_authed (stack->requests [CHATCLIENT_MAINSERVER]));
    cltest_stack_destroy (&stack);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup (test_register, cltest_test_setup),
        cmocka_unit_test_setup (test_identity, cltest_test_setup),
        cmocka_unit_test_setup (test_password_change, cltest_test_setup),
        cmocka_unit_test_setup (test_login_and_logout, cltest_test_setup),
        cmocka_unit_test_setup (test_relogin_after_main_restart, cltest_test_setup),
        cmocka_unit_test_setup (test_resume_after_key_restart, cltest_test_setup),
        cmocka_unit_test_setup (test_session_not_renewed, cltest_test_setup),
    };
    return cmocka_run_group_tests (tests, cltest_group_setup, cltest_group_teardown);
}
