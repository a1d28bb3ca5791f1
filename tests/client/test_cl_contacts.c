/*  test_cl_contacts - cl_contacts alone over a real session and both
    servers in-process: identity keys from the key directory, pinned on
    first sight in known_users, a user the directory lacks, our own key
    never taken from it; safety numbers equal on both sides and what
    libchat computes for the two keys; verify (only for a number shown,
    only for that key); a key changed in the key server's database: a new
    session marks the contact changed, says so (both fingerprints), drops
    the verified mark, and verifying accepts the new key

    The layer above is the test: its recorder is the contacts' listener.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sqlite3.h>
#include "cltest.h"
#include "chaterror.h"
#include "identity.h"
#include "keyserver.h"
#include "pinstore.h"
#include "testkeys.h"

//  ---------------------------------------------------------------- helpers

static cltest_stack_t *
s_user (cltest_servers_t *servers, const char *name)
{
    return cltest_user (servers, CLTEST_CONTACTS, name, true);
}

static void
s_relogin (cltest_stack_t *stack, const char *name)
{
    cl_session_logout (stack->session, cltest_stack_cmd (stack));
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_session_login (stack->session, cmd, name, "pw");
    assert_non_null (cltest_stack_wait_public (stack, CHATCLIENT_EV_LOGGED_IN, cmd, 0,
                                               CLTEST_WAIT));
}

typedef struct {
    bool called;
    int code;
} s_done_t;

static void
s_done (void *arg, void *data, int code)
{
    (void) arg;
    s_done_t *done = (s_done_t *) data;
    done->called = true;
    done->code = code;
}

static bool
s_is_done (cltest_stack_t *stack, void *arg)
{
    (void) stack;
    return ((s_done_t *) arg)->called;
}

//  Ask for names; CHAT_OK when the directory answered.
static int
s_need (cltest_stack_t *stack, const char **names, size_t count)
{
    s_done_t done = { false, -1 };
    cl_contacts_need (stack->contacts, names, count, s_done, NULL, &done, NULL);
    assert_true (cltest_stack_run (stack, CLTEST_WAIT, s_is_done, &done));
    return done.code;
}

static chatclient_event_t *
s_safety (cltest_stack_t *stack, const char *name)
{
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_contacts_safety_number (stack->contacts, cmd, name);
    chatclient_event_t *event = cltest_stack_wait_public (stack, CHATCLIENT_EV_SAFETY_NUMBER,
                                                          cmd, 0, CLTEST_WAIT);
    assert_non_null (event);
    return event;
}

static chatclient_event_t *
s_verify (cltest_stack_t *stack, const char *name, const char *fingerprint,
          chatclient_event_type_t expected)
{
    uint32_t cmd = cltest_stack_cmd (stack);
    cl_contacts_verify (stack->contacts, cmd, name, fingerprint);
    chatclient_event_t *event = cltest_stack_wait_public (stack, expected, cmd, 0, CLTEST_WAIT);
    assert_non_null (event);
    return event;
}

//  What a lying key server does: name's identity key is now key's.
static void
s_replace (cltest_servers_t *servers, const char *name, rsakey_t *key)
{
    char *path = zsys_sprintf ("%s/%s", servers->ks_dir, KEYSERVER_DB);
    sqlite3 *db = NULL;
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    zstr_free (&path);
    sqlite3_busy_timeout (db, 10000);
    sqlite3_stmt *update = NULL;
    assert_int_equal (sqlite3_prepare_v2 (db, "UPDATE users SET identity_public_key = ? "
                                          "WHERE username = ?", -1, &update, NULL), SQLITE_OK);
    size_t len = 0;
    const uint8_t *der = rsakey_der (key, &len);
    sqlite3_bind_blob (update, 1, der, (int) len, SQLITE_STATIC);
    sqlite3_bind_text (update, 2, name, -1, SQLITE_STATIC);
    assert_int_equal (sqlite3_step (update), SQLITE_DONE);
    assert_int_equal (sqlite3_changes (db), 1);
    sqlite3_finalize (update);
    sqlite3_close (db);
}

//  ---------------------------------------------------------------- tests

static void
test_directory_and_pins (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *ann = s_user (servers, "Ann");
    cltest_stack_t *ben = s_user (servers, "ben");
    rsakey_t *ben_identity = cl_session_identity (ben->session);
    assert_null (cl_contacts_key (ann->contacts, "ben", NULL));
    assert_int_equal (cl_contacts_state (ann->contacts, "ben"), CHATCLIENT_IDENTITY_UNKNOWN);

    //  asked for (in any case), given, pinned on first sight
    const char *names [] = { "BEN", "nobody", "ann", "not a name!" };
    size_t mark = cltest_recorder_size (ann->recorder);
    assert_int_equal (s_need (ann, names, 4), CHAT_OK);
    bool changed = true;
    rsakey_t *key = cl_contacts_key (ann->contacts, "Ben", &changed);
    assert_non_null (key);
    assert_false (changed);
    assert_false (rsakey_has_private (key));
    assert_string_equal (rsakey_fingerprint_text (key), rsakey_fingerprint_text (ben_identity));
    assert_string_equal (cl_contacts_canonical (ann->contacts, "BEN"), "ben");
    assert_int_equal (cl_contacts_state (ann->contacts, "ben"), CHATCLIENT_IDENTITY_UNVERIFIED);
    assert_non_null (cltest_recorder_find (ann->recorder, CL_EV_CONTACT, -1, mark));
    pinstore_t *pins = pinstore_new_users (ann->users_path);
    assert_int_equal (pinstore_check (pins, "ben", rsakey_fingerprint_text (ben_identity),
                                      NULL), PIN_MATCH);
    assert_false (pinstore_verified (pins, "ben"));
    //  ourselves: never pinned, our own identity, not the directory's
    assert_int_equal (pinstore_check (pins, "ann", "x", NULL), PIN_UNKNOWN);
    pinstore_destroy (&pins);
    assert_ptr_equal (cl_contacts_key (ann->contacts, "ANN", NULL),
                      cl_session_identity (ann->session));
    assert_int_equal (cl_contacts_state (ann->contacts, "ann"), CHATCLIENT_IDENTITY_SELF);
    //  the directory knows no "nobody"
    assert_true (cl_contacts_missing (ann->contacts, "nobody"));
    assert_null (cl_contacts_key (ann->contacts, "nobody", NULL));
    assert_false (cl_contacts_missing (ann->contacts, "ben"));
    //  known ones are not asked again: done at once
    assert_int_equal (s_need (ann, names, 1), CHAT_OK);

    //  the session ends: what it learnt goes, the pins stay
    cl_session_logout (ann->session, cltest_stack_cmd (ann));
    assert_int_equal (cl_contacts_state (ann->contacts, "ben"), CHATCLIENT_IDENTITY_UNKNOWN);
    cltest_stack_destroy (&ben);
    cltest_stack_destroy (&ann);
}

static void
test_safety_and_verify (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *cy = s_user (servers, "cy");
    cltest_stack_t *di = s_user (servers, "di");
    rsakey_t *cy_key = cl_session_identity (cy->session);
    rsakey_t *di_key = cl_session_identity (di->session);

    //  the same number on both sides: libchat's for the two keys
    chatclient_event_t *of_di = s_safety (cy, "di");
    chatclient_event_t *of_cy = s_safety (di, "CY");
    assert_string_equal (of_di->text, of_cy->text);
    char expected [IDENTITY_SAFETY_SIZE];
    assert_int_equal (identity_safety_number ("cy", cy_key, "di", di_key, expected), CHAT_OK);
    assert_string_equal (of_di->text, expected);
    assert_string_equal (of_di->username, "di");
    assert_string_equal (of_di->fingerprint, rsakey_fingerprint_text (di_key));
    assert_string_equal (of_di->pinned, rsakey_fingerprint_text (di_key));
    assert_int_equal (of_di->identity, CHATCLIENT_IDENTITY_UNVERIFIED);

    //  not for oneself, nor for nobody
    uint32_t cmd = cltest_stack_cmd (cy);
    cl_contacts_safety_number (cy->contacts, cmd, "cy");
    chatclient_event_t *error = cltest_stack_wait_public (cy, CHATCLIENT_EV_ERROR, cmd, 0,
                                                          CLTEST_WAIT);
    assert_non_null (error);
    assert_int_equal (error->code, CHAT_ERR_BAD_REQUEST);
    error = s_verify (cy, "nobody", NULL, CHATCLIENT_EV_ERROR);
    assert_int_equal (error->code, CHAT_ERR_UNKNOWN_USER);

    //  verify: only the key whose number was shown
    error = s_verify (cy, "di", "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                      CHATCLIENT_EV_ERROR);
    assert_int_equal (error->code, CHAT_ERR_BAD_REQUEST);
    size_t mark = cltest_recorder_size (cy->recorder);
    chatclient_event_t *verified = s_verify (cy, "di", NULL, CHATCLIENT_EV_VERIFIED);
    assert_string_equal (verified->fingerprint, rsakey_fingerprint_text (di_key));
    assert_int_equal (cl_contacts_state (cy->contacts, "di"), CHATCLIENT_IDENTITY_VERIFIED);
    assert_non_null (cltest_recorder_find (cy->recorder, CL_EV_CONTACT, -1, mark));
    pinstore_t *pins = pinstore_new_users (cy->users_path);
    assert_true (pinstore_verified (pins, "di"));
    pinstore_destroy (&pins);
    //  no number shown in a session: no verify
    s_relogin (cy, "cy");
    error = s_verify (cy, "di", NULL, CHATCLIENT_EV_ERROR);
    assert_int_equal (error->code, CHAT_ERR_BAD_REQUEST);
    //  the mark survives the session: the pin file has it
    assert_int_equal (cl_contacts_state (cy->contacts, "di"), CHATCLIENT_IDENTITY_VERIFIED);
    cltest_stack_destroy (&di);
    cltest_stack_destroy (&cy);
}

static void
test_changed_key (void **state)
{
    cltest_servers_t *servers = (cltest_servers_t *) *state;
    cltest_stack_t *ed = s_user (servers, "ed");
    cltest_stack_t *flo = s_user (servers, "flo");
    char *real = strdup (rsakey_fingerprint_text (cl_session_identity (flo->session)));
    chatclient_event_t *before = s_safety (ed, "flo");
    char *number_before = strdup (before->text);
    s_verify (ed, "flo", NULL, CHATCLIENT_EV_VERIFIED);

    //  the key server now names another key for flo; ed's next session
    rsakey_t *impostor = testkeys_key (3);
    s_replace (servers, "flo", impostor);
    s_relogin (ed, "ed");
    size_t mark = cltest_recorder_size (ed->recorder);
    const char *names [] = { "flo" };
    assert_int_equal (s_need (ed, names, 1), CHAT_OK);
    chatclient_event_t *changed_event = cltest_recorder_public (
        ed->recorder, CHATCLIENT_EV_IDENTITY_CHANGED, 0, mark);
    assert_non_null (changed_event);
    assert_string_equal (changed_event->username, "flo");
    assert_string_equal (changed_event->fingerprint, rsakey_fingerprint_text (impostor));
    assert_string_equal (changed_event->pinned, real);
    assert_non_null (strstr (changed_event->text, "you had verified it"));
    assert_int_equal (cl_contacts_state (ed->contacts, "flo"), CHATCLIENT_IDENTITY_CHANGED);
    bool changed = false;
    assert_ptr_equal (cl_contacts_key (ed->contacts, "flo", &changed),
                      cl_contacts_key (ed->contacts, "flo", NULL));
    assert_true (changed);
    //  the pin stays, unverified
    pinstore_t *pins = pinstore_new_users (ed->users_path);
    assert_int_equal (pinstore_check (pins, "flo", real, NULL), PIN_MATCH);
    assert_false (pinstore_verified (pins, "flo"));
    pinstore_destroy (&pins);
    //  another safety number, for the new key; verifying accepts it
    chatclient_event_t *after = s_safety (ed, "flo");
    assert_string_not_equal (after->text, number_before);
    assert_int_equal (after->identity, CHATCLIENT_IDENTITY_CHANGED);
    assert_string_equal (after->pinned, real);
    s_verify (ed, "flo", after->fingerprint, CHATCLIENT_EV_VERIFIED);
    assert_int_equal (cl_contacts_state (ed->contacts, "flo"), CHATCLIENT_IDENTITY_VERIFIED);
    pins = pinstore_new_users (ed->users_path);
    assert_int_equal (pinstore_check (pins, "flo", rsakey_fingerprint_text (impostor), NULL),
                      PIN_MATCH);
    assert_true (pinstore_verified (pins, "flo"));
    pinstore_destroy (&pins);
    free (real);
    free (number_before);
    cltest_stack_destroy (&flo);
    cltest_stack_destroy (&ed);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup (test_directory_and_pins, cltest_test_setup),
        cmocka_unit_test_setup (test_safety_and_verify, cltest_test_setup),
        cmocka_unit_test_setup (test_changed_key, cltest_test_setup),
    };
    int rc = cmocka_run_group_tests (tests, cltest_group_setup, cltest_group_teardown);
    testkeys_free ();
    return rc;
}
