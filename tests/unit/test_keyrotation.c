/*  test_keyrotation - server key rotation statements (proto/README.md
    section 7): made, checked, forged; --rotate-key's files; what a server
    presents; the other server's key file with several keys  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <czmq.h>

#include "chaterror.h"
#include "keyrotation.h"
#include "peerkeys.h"
#include "rsakey.h"
#include "wire.h"

typedef struct {
    char dir [64];
    rsakey_t *old_key;              //  the key being replaced (the pin)
    rsakey_t *new_key;              //  the key the Welcome offers
    rsakey_t *stranger;             //  neither
} fixture_t;

static fixture_t s_fx;

static int
s_group_setup (void **state)
{
    (void) state;
    snprintf (s_fx.dir, sizeof s_fx.dir, "/tmp/test_keyrotation.XXXXXX");
    if (!mkdtemp (s_fx.dir))
        return -1;
    s_fx.old_key = rsakey_generate (2048);
    s_fx.new_key = rsakey_generate (2048);
    s_fx.stranger = rsakey_generate (2048);
    return s_fx.old_key && s_fx.new_key && s_fx.stranger ? 0 : -1;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    rsakey_destroy (&s_fx.old_key);
    rsakey_destroy (&s_fx.new_key);
    rsakey_destroy (&s_fx.stranger);
    char *command = zsys_sprintf ("rm -rf %s", s_fx.dir);
    int rc = system (command);
    zstr_free (&command);
    return rc == 0 ? 0 : -1;
}

//  A statement by signer that old was replaced by new_key
static uint8_t *
s_statement (rsakey_t *signer, rsakey_t *old, rsakey_t *new_key, int64_t made_at,
             size_t *len)
{
    size_t old_len = 0;
    const uint8_t *old_der = rsakey_der (old, &old_len);
    uint8_t *out = NULL;
    assert_int_equal (keyrotation_make (signer, old_der, old_len,
                                        rsakey_fingerprint (new_key), made_at, &out, len),
                      CHAT_OK);
    return out;
}

static const char *
s_fp (rsakey_t *key)
{
    return rsakey_fingerprint_text (key);
}

//  ---------------------------------------------------------------- statements

static void
test_made_and_verified (void **state)
{
    (void) state;
    size_t len = 0;
    uint8_t *statement = s_statement (s_fx.old_key, s_fx.old_key, s_fx.new_key,
                                      1700000000, &len);
    int64_t made_at = 0;
    assert_int_equal (keyrotation_check (statement, len, s_fp (s_fx.old_key),
                                         s_fp (s_fx.new_key), &made_at), KEYROTATION_OK);
    assert_int_equal (made_at, 1700000000);
    //  without a pin (a server checking its own statement) too
    assert_int_equal (keyrotation_check (statement, len, NULL, s_fp (s_fx.new_key), NULL),
                      KEYROTATION_OK);
    char *old = keyrotation_old_fingerprint (statement, len);
    assert_string_equal (old, s_fp (s_fx.old_key));
    free (old);

    //  The bytes are as proto/README.md spells them, checked here without
    //  keyrotation.c: KeyRotation{body, signature}, body a KeyRotationBody,
    //  signature RSA-PSS(old key, "chat/2 key rotation" || 0x00 || body)
    Chat__KeyRotation *parsed = NULL;
    assert_int_equal (wire_unpack (&chat__key_rotation__descriptor, statement, len,
                                   (ProtobufCMessage **) &parsed), CHAT_OK);
    Chat__KeyRotationBody *body = NULL;
    assert_int_equal (wire_unpack (&chat__key_rotation_body__descriptor,
                                   parsed->body.data, parsed->body.len,
                                   (ProtobufCMessage **) &body), CHAT_OK);
    size_t der_len = 0;
    const uint8_t *der = rsakey_der (s_fx.old_key, &der_len);
    assert_int_equal (body->old_public_key.len, der_len);
    assert_memory_equal (body->old_public_key.data, der, der_len);
    assert_int_equal (body->new_key_fingerprint.len, 32);
    assert_memory_equal (body->new_key_fingerprint.data, rsakey_fingerprint (s_fx.new_key),
                         32);
    const char *label = "chat/2 key rotation";
    size_t signed_len = strlen (label) + 1 + parsed->body.len;
    uint8_t *signed_bytes = malloc (signed_len);
    memcpy (signed_bytes, label, strlen (label));
    signed_bytes [strlen (label)] = 0;
    memcpy (signed_bytes + strlen (label) + 1, parsed->body.data, parsed->body.len);
    assert_int_equal (rsakey_verify (s_fx.old_key, signed_bytes, signed_len,
                                     parsed->signature.data, parsed->signature.len),
                      CHAT_OK);
    free (signed_bytes);
    protobuf_c_message_free_unpacked (&body->base, NULL);
    protobuf_c_message_free_unpacked (&parsed->base, NULL);
    free (statement);
}

static void
test_forged (void **state)
{
    (void) state;
    size_t len = 0;
    //  wrong signer: names the pinned key as old, signed by another
    uint8_t *statement = s_statement (s_fx.stranger, s_fx.old_key, s_fx.new_key, 1, &len);
    assert_int_equal (keyrotation_check (statement, len, s_fp (s_fx.old_key),
                                         s_fp (s_fx.new_key), NULL),
                      KEYROTATION_BAD_SIGNATURE);
    free (statement);

    //  wrong old key: honest, but replaces a key this client never pinned
    statement = s_statement (s_fx.stranger, s_fx.stranger, s_fx.new_key, 1, &len);
    assert_int_equal (keyrotation_check (statement, len, s_fp (s_fx.old_key),
                                         s_fp (s_fx.new_key), NULL),
                      KEYROTATION_OTHER_OLD_KEY);
    free (statement);

    //  wrong new fingerprint: an honest statement shown with another key
    statement = s_statement (s_fx.old_key, s_fx.old_key, s_fx.new_key, 1, &len);
    assert_int_equal (keyrotation_check (statement, len, s_fp (s_fx.old_key),
                                         s_fp (s_fx.stranger), NULL),
                      KEYROTATION_OTHER_NEW_KEY);
    assert_int_equal (keyrotation_check (statement, len, s_fp (s_fx.old_key), NULL, NULL),
                      KEYROTATION_OTHER_NEW_KEY);

    //  truncated: every shorter prefix is refused
    for (size_t cut = 0; cut < len; cut++)
        assert_int_not_equal (keyrotation_check (statement, cut, s_fp (s_fx.old_key),
                                                 s_fp (s_fx.new_key), NULL),
                              KEYROTATION_OK);
    //  altered: any byte flipped is refused
    for (size_t i = 0; i < len; i++) {
        statement [i] ^= 0x01;
        assert_int_not_equal (keyrotation_check (statement, len, s_fp (s_fx.old_key),
                                                 s_fp (s_fx.new_key), NULL),
                              KEYROTATION_OK);
        statement [i] ^= 0x01;
    }
    //  oversized, empty
    assert_int_equal (keyrotation_check (statement, KEYROTATION_MAX_SIZE + 1,
                                         s_fp (s_fx.old_key), s_fp (s_fx.new_key), NULL),
                      KEYROTATION_MALFORMED);
    assert_int_equal (keyrotation_check (NULL, 0, NULL, s_fp (s_fx.new_key), NULL),
                      KEYROTATION_MALFORMED);
    assert_null (keyrotation_old_fingerprint ((const uint8_t *) "x", 1));
    free (statement);

    //  a statement signed as something else (another label) is refused
    Chat__KeyRotationBody body = CHAT__KEY_ROTATION_BODY__INIT;
    size_t der_len = 0;
    body.old_public_key.data = (uint8_t *) rsakey_der (s_fx.old_key, &der_len);
    body.old_public_key.len = der_len;
    body.new_key_fingerprint.data = (uint8_t *) rsakey_fingerprint (s_fx.new_key);
    body.new_key_fingerprint.len = 32;
    uint8_t *body_bytes = NULL;
    size_t body_len = 0;
    assert_int_equal (wire_pack (&body.base, &body_bytes, &body_len), CHAT_OK);
    Chat__KeyRotation other = CHAT__KEY_ROTATION__INIT;
    other.body.data = body_bytes;
    other.body.len = body_len;
    assert_int_equal (rsakey_sign_labelled (s_fx.old_key, "chat/2 certificate", body_bytes,
                                            body_len, &other.signature.data,
                                            &other.signature.len), CHAT_OK);
    assert_int_equal (wire_pack (&other.base, &statement, &len), CHAT_OK);
    assert_int_equal (keyrotation_check (statement, len, s_fp (s_fx.old_key),
                                         s_fp (s_fx.new_key), NULL),
                      KEYROTATION_BAD_SIGNATURE);
    free (statement);
    free (other.signature.data);
    free (body_bytes);
    //  a public key cannot sign one
    rsakey_t *public_only = rsakey_from_der (rsakey_der (s_fx.old_key, &der_len), der_len);
    assert_int_equal (keyrotation_make (public_only, body.old_public_key.data, der_len,
                                        rsakey_fingerprint (s_fx.new_key), 1, &statement,
                                        &len), CHAT_ERR_BAD_KEY);
    rsakey_destroy (&public_only);
}

//  ---------------------------------------------------------------- servers

static void
s_assert_mode (const char *path, unsigned mode)
{
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, mode);
}

static void
test_rotate_directory (void **state)
{
    (void) state;
    char *dir = zsys_sprintf ("%s/ks", s_fx.dir);
    assert_int_equal (mkdir (dir, 0700), 0);
    char *key_path = zsys_sprintf ("%s/server.key", dir);
    assert_int_equal (rsakey_save (s_fx.old_key, key_path), 0);
    char error [512] = "";
    keyrotation_report_t report;
    int64_t now = 1800000000;
    assert_int_equal (keyrotation_rotate (dir, "keyserver", 2048, now, &report, error,
                                          sizeof error), 0);
    assert_string_equal (report.old_fingerprint, s_fp (s_fx.old_key));
    assert_int_equal (report.previous_made_at, 0);

    //  the old key kept, unchanged and private
    rsakey_t *kept = rsakey_load (report.retired_path);
    assert_non_null (kept);
    assert_string_equal (s_fp (kept), s_fp (s_fx.old_key));
    rsakey_destroy (&kept);
    s_assert_mode (report.retired_path, 0600);
    //  the new key in place, private; its public file; the changeover file
    //  with the new key first, then the old one
    rsakey_t *current = rsakey_load (key_path);
    assert_non_null (current);
    assert_string_equal (s_fp (current), report.new_fingerprint);
    assert_string_not_equal (report.new_fingerprint, report.old_fingerprint);
    s_assert_mode (key_path, 0600);
    rsakey_t *public_key = rsakey_load_public (report.public_path);
    assert_string_equal (s_fp (public_key), report.new_fingerprint);
    rsakey_destroy (&public_key);
    s_assert_mode (report.public_path, 0644);
    rsakey_t *both [PEERKEYS_MAX];
    size_t count = 0;
    assert_int_equal (rsakey_load_public_many (report.changeover_path, both, PEERKEYS_MAX,
                                               &count), 0);
    assert_int_equal (count, 2);
    assert_string_equal (s_fp (both [0]), report.new_fingerprint);
    assert_string_equal (s_fp (both [1]), report.old_fingerprint);
    rsakey_destroy (&both [0]);
    rsakey_destroy (&both [1]);
    char *statement_path = zsys_sprintf ("%s/%s", dir, KEYROTATION_FILE);
    s_assert_mode (statement_path, 0600);

    //  presented for the window, for the key in use only
    uint8_t *presented = NULL;
    size_t len = 0;
    assert_int_equal (keyrotation_presented (dir, current, 90, now + 89 * 86400, "test",
                                             &presented, &len), 0);
    assert_non_null (presented);
    int64_t made_at = 0;
    assert_int_equal (keyrotation_check (presented, len, s_fp (s_fx.old_key),
                                         s_fp (current), &made_at), KEYROTATION_OK);
    assert_int_equal (made_at, now);
    free (presented);
    assert_int_equal (keyrotation_presented (dir, current, 90, now + 90 * 86400, "test",
                                             &presented, &len), 0);
    assert_null (presented);
    assert_int_equal (keyrotation_presented (dir, current, 0, now, "test",
                                             &presented, &len), 0);
    assert_null (presented);
    //  a server still on the old key (rotation interrupted) presents nothing
    assert_int_equal (keyrotation_presented (dir, s_fx.old_key, 90, now, "test",
                                             &presented, &len), 0);
    assert_null (presented);
    //  no statement at all: nothing, no error
    char *empty = zsys_sprintf ("%s/ms", s_fx.dir);
    assert_int_equal (mkdir (empty, 0700), 0);
    assert_int_equal (keyrotation_presented (empty, current, 90, now, "test",
                                             &presented, &len), 0);
    assert_null (presented);
    zstr_free (&empty);

    //  a second rotation: says when the first was, keeps both old keys
    keyrotation_report_t second;
    assert_int_equal (keyrotation_rotate (dir, "keyserver", 2048, now + 60, &second, error,
                                          sizeof error), 0);
    assert_int_equal (second.previous_made_at, now);
    assert_string_equal (second.old_fingerprint, report.new_fingerprint);
    assert_int_equal (access (report.retired_path, F_OK), 0);
    assert_int_equal (access (second.retired_path, F_OK), 0);
    //  the same second again cannot overwrite a kept key
    keyrotation_report_t third;
    assert_int_equal (keyrotation_rotate (dir, "keyserver", 2048, now + 60, &third, error,
                                          sizeof error), -1);
    assert_non_null (strstr (error, "cannot keep the old key"));
    keyrotation_report_clear (&third);
    keyrotation_report_clear (&second);
    keyrotation_report_clear (&report);

    //  no key to rotate
    char *none = zsys_sprintf ("%s/none", s_fx.dir);
    assert_int_equal (keyrotation_rotate (none, "mainserver", 2048, now, &third, error,
                                          sizeof error), -1);
    assert_non_null (strstr (error, "--init"));
    keyrotation_report_clear (&third);
    zstr_free (&none);

    //  an unreadable statement is an error at start, not silence
    FILE *file = fopen (statement_path, "wb");
    assert_non_null (file);
    fclose (file);
    assert_int_equal (keyrotation_presented (dir, current, 90, now, "test",
                                             &presented, &len), -1);
    rsakey_destroy (&current);
    zstr_free (&statement_path);
    zstr_free (&key_path);
    zstr_free (&dir);
}

static void
test_window (void **state)
{
    (void) state;
    int64_t days = -1;
    assert_int_equal (keyrotation_parse_window ("90", &days), 0);
    assert_int_equal (days, 90);
    assert_int_equal (keyrotation_parse_window ("0", &days), 0);
    assert_int_equal (days, 0);
    assert_int_equal (keyrotation_parse_window ("3650", &days), 0);
    assert_int_equal (keyrotation_parse_window ("3651", &days), -1);
    assert_int_equal (keyrotation_parse_window ("-1", &days), -1);
    assert_int_equal (keyrotation_parse_window ("9x", &days), -1);
    assert_int_equal (keyrotation_parse_window ("", &days), -1);
    assert_int_equal (keyrotation_parse_window (NULL, &days), -1);
}

//  ---------------------------------------------------------------- key files

static void
test_peer_keys (void **state)
{
    (void) state;
    char *path = zsys_sprintf ("%s/peer.pub", s_fx.dir);
    char error [512] = "";
    //  one key, as --init writes it
    assert_int_equal (rsakey_save_public (s_fx.old_key, path), 0);
    peerkeys_t *keys = peerkeys_load_for (path, "mainserver", "keyserver", error,
                                          sizeof error);
    assert_non_null (keys);
    assert_int_equal (peerkeys_count (keys), 1);
    assert_string_equal (s_fp (peerkeys_key (keys, 0)), s_fp (s_fx.old_key));
    peerkeys_destroy (&keys);
    //  two, in order
    rsakey_t *two [2] = { s_fx.new_key, s_fx.old_key };
    assert_int_equal (rsakey_save_public_many (two, 2, path), 0);
    keys = peerkeys_load (path);
    assert_int_equal (peerkeys_count (keys), 2);
    assert_string_equal (s_fp (peerkeys_key (keys, 0)), s_fp (s_fx.new_key));
    assert_string_equal (s_fp (peerkeys_key (keys, 1)), s_fp (s_fx.old_key));
    char *described = peerkeys_describe (keys);
    assert_non_null (strstr (described, s_fp (s_fx.new_key)));
    assert_non_null (strstr (described, s_fp (s_fx.old_key)));
    free (described);
    peerkeys_destroy (&keys);
    //  the first key of a two-key file is what rsakey_load_public reads
    rsakey_t *first = rsakey_load_public (path);
    assert_string_equal (s_fp (first), s_fp (s_fx.new_key));
    rsakey_destroy (&first);
    //  too many
    rsakey_t *five [5] = { s_fx.new_key, s_fx.old_key, s_fx.stranger, s_fx.new_key,
                           s_fx.old_key };
    assert_int_equal (rsakey_save_public_many (five, 5, path), 0);
    assert_null (peerkeys_load (path));
    //  a private key, a key followed by garbage in a block, an empty file
    assert_int_equal (rsakey_save (s_fx.old_key, path), 0);
    assert_null (peerkeys_load (path));
    FILE *file = fopen (path, "w");
    fputs ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", file);
    fclose (file);
    assert_null (peerkeys_load (path));
    file = fopen (path, "w");
    fclose (file);
    assert_null (peerkeys_load_for (path, "keyserver", "mainserver", error, sizeof error));
    assert_non_null (strstr (error, "mainserver.pub"));
    assert_null (peerkeys_load_for (NULL, "keyserver", "mainserver", error, sizeof error));
    assert_non_null (strstr (error, "--mainserver-key"));
    unlink (path);
    assert_null (peerkeys_load (path));
    zstr_free (&path);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_made_and_verified),
        cmocka_unit_test (test_forged),
        cmocka_unit_test (test_rotate_directory),
        cmocka_unit_test (test_window),
        cmocka_unit_test (test_peer_keys),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
