/*  keyrotation - server key rotation statements; see keyrotation.h  */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <czmq.h>
#include "chaterror.h"
#include "keyrotation.h"
#include "secret.h"
#include "wire.h"

//  ---------------------------------------------------------------- statement

int
keyrotation_make (rsakey_t *signer, const uint8_t *old_der, size_t old_len,
                  const uint8_t new_fingerprint [RSAKEY_FINGERPRINT_SIZE],
                  int64_t made_at, uint8_t **out, size_t *out_len)
{
    assert (signer && old_der && new_fingerprint && out && out_len);
    *out = NULL;
    *out_len = 0;
    if (!rsakey_has_private (signer))
        return CHAT_ERR_BAD_KEY;
    Chat__KeyRotationBody body = CHAT__KEY_ROTATION_BODY__INIT;
    body.old_public_key.data = (uint8_t *) old_der;
    body.old_public_key.len = old_len;
    body.new_key_fingerprint.data = (uint8_t *) new_fingerprint;
    body.new_key_fingerprint.len = RSAKEY_FINGERPRINT_SIZE;
    body.made_at = made_at;
    uint8_t *body_bytes = NULL;
    size_t body_len = 0;
    int rc = wire_pack (&body.base, &body_bytes, &body_len);
    uint8_t *signature = NULL;
    size_t signature_len = 0;
    if (rc == CHAT_OK)
        rc = rsakey_sign_labelled (signer, KEYROTATION_LABEL, body_bytes, body_len,
                                   &signature, &signature_len);
    if (rc == CHAT_OK) {
        Chat__KeyRotation statement = CHAT__KEY_ROTATION__INIT;
        statement.body.data = body_bytes;
        statement.body.len = body_len;
        statement.signature.data = signature;
        statement.signature.len = signature_len;
        rc = wire_pack (&statement.base, out, out_len);
    }
    free (body_bytes);
    free (signature);
    return rc == CHAT_OK ? CHAT_OK : CHAT_ERR_INTERNAL;
}

//  The statement and its body, parsed (canonical: what is signed is what
//  every reader sees). NULLs when it is not one.
static void
s_parse (const uint8_t *data, size_t len, Chat__KeyRotation **statement,
         Chat__KeyRotationBody **body)
{
    *statement = NULL;
    *body = NULL;
    if (!data || len == 0 || len > KEYROTATION_MAX_SIZE
    ||  wire_unpack (&chat__key_rotation__descriptor, data, len,
                     (ProtobufCMessage **) statement) != CHAT_OK)
        return;
    if (wire_unpack_canonical (&chat__key_rotation_body__descriptor,
                               (*statement)->body.data, (*statement)->body.len,
                               (ProtobufCMessage **) body) != CHAT_OK) {
        protobuf_c_message_free_unpacked (&(*statement)->base, NULL);
        *statement = NULL;
    }
}

static void
s_free (Chat__KeyRotation *statement, Chat__KeyRotationBody *body)
{
    if (body)
        protobuf_c_message_free_unpacked (&body->base, NULL);
    if (statement)
        protobuf_c_message_free_unpacked (&statement->base, NULL);
}

keyrotation_result_t
keyrotation_check (const uint8_t *data, size_t len, const char *pinned,
                   const char *offered, int64_t *made_at)
{
    Chat__KeyRotation *statement;
    Chat__KeyRotationBody *body;
    s_parse (data, len, &statement, &body);
    if (!body)
        return KEYROTATION_MALFORMED;
    keyrotation_result_t result = KEYROTATION_OK;
    rsakey_t *old_key = rsakey_from_der (body->old_public_key.data,
                                         body->old_public_key.len);
    char *new_text = NULL;
    if (!old_key || body->new_key_fingerprint.len != RSAKEY_FINGERPRINT_SIZE)
        result = KEYROTATION_MALFORMED;
    else
    if (pinned && strcmp (rsakey_fingerprint_text (old_key), pinned) != 0)
        result = KEYROTATION_OTHER_OLD_KEY;
    else {
        new_text = rsakey_fingerprint_format (body->new_key_fingerprint.data);
        if (!new_text || !offered || strcmp (new_text, offered) != 0)
            result = KEYROTATION_OTHER_NEW_KEY;
        else
        if (rsakey_verify_labelled (old_key, KEYROTATION_LABEL,
                                    statement->body.data, statement->body.len,
                                    statement->signature.data,
                                    statement->signature.len) != CHAT_OK)
            result = KEYROTATION_BAD_SIGNATURE;
    }
    if (result == KEYROTATION_OK && made_at)
        *made_at = body->made_at;
    free (new_text);
    rsakey_destroy (&old_key);
    s_free (statement, body);
    return result;
}

char *
keyrotation_old_fingerprint (const uint8_t *data, size_t len)
{
    Chat__KeyRotation *statement;
    Chat__KeyRotationBody *body;
    s_parse (data, len, &statement, &body);
    rsakey_t *old_key = body ? rsakey_from_der (body->old_public_key.data,
                                                body->old_public_key.len)
                             : NULL;
    char *text = old_key ? strdup (rsakey_fingerprint_text (old_key)) : NULL;
    rsakey_destroy (&old_key);
    s_free (statement, body);
    return text;
}

const char *
keyrotation_strerror (keyrotation_result_t result)
{
    switch (result) {
        case KEYROTATION_OK:            return "valid";
        case KEYROTATION_MALFORMED:     return "not a key rotation statement";
        case KEYROTATION_OTHER_OLD_KEY: return "it replaces another key than the pinned one";
        case KEYROTATION_OTHER_NEW_KEY: return "it names another new key than the one offered";
        case KEYROTATION_BAD_SIGNATURE: return "it is not signed by the key it replaces";
    }
    return "unknown";
}

//  ---------------------------------------------------------------- servers

void
keyrotation_report_clear (keyrotation_report_t *report)
{
    free (report->public_path);
    free (report->changeover_path);
    free (report->retired_path);
    free (report->new_fingerprint);
    free (report->old_fingerprint);
    memset (report, 0, sizeof *report);
}

//  The statement file's bytes, or NULL (errno ENOENT when there is none).
static uint8_t *
s_read_statement (const char *path, size_t *len)
{
    FILE *file = fopen (path, "rb");
    if (!file)
        return NULL;
    uint8_t *data = malloc (KEYROTATION_MAX_SIZE + 1);
    size_t got = data ? fread (data, 1, KEYROTATION_MAX_SIZE + 1, file) : 0;
    fclose (file);
    if (!data || got == 0 || got > KEYROTATION_MAX_SIZE) {
        free (data);
        errno = EINVAL;
        return NULL;
    }
    *len = got;
    return data;
}

//  When the statement a directory holds now was made; 0 when none.
static int64_t
s_previous_made_at (const char *path)
{
    size_t len = 0;
    uint8_t *data = s_read_statement (path, &len);
    Chat__KeyRotation *statement;
    Chat__KeyRotationBody *body;
    s_parse (data, len, &statement, &body);
    int64_t made_at = body ? body->made_at : 0;
    s_free (statement, body);
    free (data);
    return made_at;
}

int
keyrotation_rotate (const char *data_dir, const char *role, int bits,
                    int64_t now, keyrotation_report_t *report,
                    char *error, size_t error_size)
{
    assert (data_dir && role && report && error);
    memset (report, 0, sizeof *report);
    char *key_path = zsys_sprintf ("%s/%s", data_dir, KEYROTATION_KEY_FILE);
    char *statement_path = zsys_sprintf ("%s/%s", data_dir, KEYROTATION_FILE);
    report->retired_path = zsys_sprintf ("%s/%s.old-%lld", data_dir, KEYROTATION_KEY_FILE,
                                         (long long) now);
    report->public_path = zsys_sprintf ("%s/%s.pub", data_dir, role);
    report->changeover_path = zsys_sprintf ("%s/%s-changeover.pub", data_dir, role);
    assert (key_path && statement_path && report->retired_path && report->public_path
            && report->changeover_path);
    int rc = -1;
    uint8_t *statement = NULL;
    size_t statement_len = 0;
    rsakey_t *old_key = rsakey_load (key_path);
    rsakey_t *new_key = old_key ? rsakey_generate (bits) : NULL;
    if (!old_key)
        snprintf (error, error_size, "cannot load the server key %s (make one with --init)",
                  key_path);
    else
    if (!new_key)
        snprintf (error, error_size, "cannot make a new key");
    else {
        size_t old_len = 0;
        const uint8_t *old_der = rsakey_der (old_key, &old_len);
        if (keyrotation_make (old_key, old_der, old_len, rsakey_fingerprint (new_key),
                              now, &statement, &statement_len) != CHAT_OK)
            snprintf (error, error_size, "cannot sign the rotation statement");
        else
        //  The old key is kept under another name first (a hard link:
        //  never overwritten, never lost), then the statement, then the
        //  new key replaces the old one atomically
        if (link (key_path, report->retired_path) != 0)
            snprintf (error, error_size, "cannot keep the old key as %s: %s",
                      report->retired_path, strerror (errno));
        else {
            report->previous_made_at = s_previous_made_at (statement_path);
            rsakey_t *both [2] = { new_key, old_key };
            if (secret_write_file (statement_path, statement, statement_len, 0600))
                snprintf (error, error_size, "cannot write %s", statement_path);
            else
            if (rsakey_save (new_key, key_path))
                snprintf (error, error_size, "cannot write the new key to %s", key_path);
            else
            if (rsakey_save_public (new_key, report->public_path)
            ||  rsakey_save_public_many (both, 2, report->changeover_path))
                snprintf (error, error_size, "cannot write %s or %s (the new key is in "
                          "place: run the command's --init to write them)",
                          report->public_path, report->changeover_path);
            else
                rc = 0;
        }
    }
    if (rc == 0) {
        report->new_fingerprint = strdup (rsakey_fingerprint_text (new_key));
        report->old_fingerprint = strdup (rsakey_fingerprint_text (old_key));
    }
    free (statement);
    rsakey_destroy (&old_key);
    rsakey_destroy (&new_key);
    zstr_free (&key_path);
    zstr_free (&statement_path);
    return rc;
}

int
keyrotation_presented (const char *data_dir, rsakey_t *server_key,
                       int64_t window_days, int64_t now, const char *who,
                       uint8_t **out, size_t *out_len)
{
    assert (data_dir && server_key && who && out && out_len);
    *out = NULL;
    *out_len = 0;
    char *path = zsys_sprintf ("%s/%s", data_dir, KEYROTATION_FILE);
    size_t len = 0;
    uint8_t *data = s_read_statement (path, &len);
    if (!data) {
        int rc = errno == ENOENT ? 0 : -1;
        if (rc)
            zsys_error ("%s: cannot read the key rotation statement %s", who, path);
        zstr_free (&path);
        return rc;
    }
    int64_t made_at = 0;
    keyrotation_result_t result = keyrotation_check (
        data, len, NULL, rsakey_fingerprint_text (server_key), &made_at);
    if (result != KEYROTATION_OK)
        zsys_warning ("%s: the key rotation statement %s is not presented: %s",
                      who, path, result == KEYROTATION_OTHER_NEW_KEY
                      ? "it names another key than this server's (was --rotate-key "
                        "interrupted? run it again)"
                      : keyrotation_strerror (result));
    else
    if (window_days == 0 || made_at + window_days * 86400 <= now)
        zsys_info ("%s: the key rotation of %lld is no longer presented (window %lld days)",
                   who, (long long) made_at, (long long) window_days);
    else {
        char *old = keyrotation_old_fingerprint (data, len);
        zsys_info ("%s: presenting the key rotation from %s, for %lld more days", who,
                   old ? old : "?", (long long) ((made_at + window_days * 86400 - now)
                                                 / 86400));
        free (old);
        *out = data;
        *out_len = len;
        data = NULL;
    }
    free (data);
    zstr_free (&path);
    return 0;
}

int
keyrotation_parse_window (const char *text, int64_t *days)
{
    if (!text || !*text)
        return -1;
    char *end = NULL;
    errno = 0;
    long long value = strtoll (text, &end, 10);
    if (errno || !end || *end || *text == '-' || value < 0
    ||  value > KEYROTATION_WINDOW_MAX)
        return -1;
    *days = value;
    return 0;
}

int
keyrotation_command (const char *data_dir, const char *role, int bits,
                     int64_t window_days, int64_t now)
{
    assert (data_dir && role);
    bool is_main = streq (role, "mainserver");
    const char *program = is_main ? "chat-mainserver" : "chat-keyserver";
    const char *other = is_main ? "key server" : "main server";
    const char *other_program = is_main ? "chat-keyserver" : "chat-mainserver";
    const char *option = is_main ? "--mainserver-key" : "--keyserver-key";
    const char *signs = is_main ? "key tickets" : "certificates";
    keyrotation_report_t report;
    char error [512] = "";
    if (keyrotation_rotate (data_dir, role, bits, now, &report, error, sizeof error)) {
        fprintf (stderr, "%s: %s\n", program, error);
        keyrotation_report_clear (&report);
        return 1;
    }
    //  stdout: what a script reads; stderr: what the operator does
    printf ("%s %s\n", report.public_path, report.new_fingerprint);
    fflush (stdout);
    fprintf (stderr,
        "%s: new key %s replaces %s (kept as %s).\n"
        "A running %s still uses the old key. Now, in this order:\n"
        "  1. copy %s (both keys) to the %s's host, over the file its %s names,\n"
        "     and reload the %s (systemctl reload %s, or SIGHUP): it accepts\n"
        "     %s signed by either key, and drops no session;\n"
        "  2. restart this server (systemctl restart %s): it uses the new key, and its\n"
        "     Welcome shows clients that pinned the old key the statement that moves\n"
        "     their pin, for %lld days (rotation-window);\n"
        "  3. five minutes later (when the old key's last %s have expired), copy\n"
        "     %s (the new key alone) there the same way and reload the %s again.\n"
        "Users who pinned the old key on the command line should pin %s.\n",
        program, report.new_fingerprint, report.old_fingerprint, report.retired_path,
        program, report.changeover_path, other, option, other, other_program, signs,
        program, (long long) window_days, signs, report.public_path, other,
        report.new_fingerprint);
    if (report.previous_made_at && report.previous_made_at + window_days * 86400 > now)
        fprintf (stderr, "%s: warning: the previous rotation (%lld) was still presented; "
                 "clients that pinned the key before it and did not connect since will "
                 "be refused and must pin %s by hand\n", program,
                 (long long) report.previous_made_at, report.new_fingerprint);
    keyrotation_report_clear (&report);
    return 0;
}
