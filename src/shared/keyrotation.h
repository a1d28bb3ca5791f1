/*  keyrotation - "my key changed from old to new", signed by the old key
    (proto/README.md section 7), and what a server's data directory keeps
    of a rotation

    The statement is a KeyRotation{body, signature} (wire.proto): body a
    serialized KeyRotationBody{old_public_key, new_key_fingerprint,
    made_at}, signature = SIGN(old key, "chat/2 key rotation", body). A
    server presents it in its Welcome for a while after its operator made
    it with --rotate-key; a client whose pin is the old key's fingerprint,
    for which new_key_fingerprint is the Welcome key's and the signature
    verifies with the old key, moves its pin.

    In a data directory, --rotate-key leaves:
        server.key                  the new key (0600)
        server.key.old-<made_at>    the replaced key, kept (0600)
        server.rotation             the statement (0600)
        <role>.pub                  the new public key (0644)
        <role>-changeover.pub       new and old public key, for the other
                                    server while certificates or tickets
                                    signed by the old key are still about
*/
#ifndef KEYROTATION_H_INCLUDED
#define KEYROTATION_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include "rsakey.h"

#define KEYROTATION_LABEL          "chat/2 key rotation"
#define KEYROTATION_FILE           "server.rotation"
#define KEYROTATION_KEY_FILE       "server.key"
#define KEYROTATION_WINDOW_DAYS    90      //  presented this long by default
#define KEYROTATION_WINDOW_MAX     3650    //  days, at most
#define KEYROTATION_MAX_SIZE       4096    //  a statement is ~900 bytes (RSA-4096)

typedef enum {
    KEYROTATION_OK = 0,
    KEYROTATION_MALFORMED,          //  not a statement (truncated, altered
                                    //  encoding, unusable old key)
    KEYROTATION_OTHER_OLD_KEY,      //  replaces a key other than the pinned one
    KEYROTATION_OTHER_NEW_KEY,      //  names a key other than the one offered
    KEYROTATION_BAD_SIGNATURE       //  not signed by the old key it names
} keyrotation_result_t;

//  A statement: signer signs that the key old_der (DER) was replaced by the
//  key whose fingerprint is new_fingerprint, at made_at. Honest statements
//  have signer = the old key; tests forge others. CHAT_OK and a malloc'd
//  serialized KeyRotation, or CHAT_ERR_INTERNAL / CHAT_ERR_BAD_KEY.
int
    keyrotation_make (rsakey_t *signer, const uint8_t *old_der, size_t old_len,
                      const uint8_t new_fingerprint [RSAKEY_FINGERPRINT_SIZE],
                      int64_t made_at, uint8_t **out, size_t *out_len);

//  Check a serialized KeyRotation: it names as old key the one whose
//  fingerprint text is pinned (NULL: any), as new key offered (fingerprint
//  text of the key in hand), and verifies with the old key. KEYROTATION_OK
//  with *made_at (may be NULL), or why not.
keyrotation_result_t
    keyrotation_check (const uint8_t *data, size_t len, const char *pinned,
                       const char *offered, int64_t *made_at);

//  The old key's fingerprint text a statement names (malloc'd), or NULL
//  when it is not a statement.
char *
    keyrotation_old_fingerprint (const uint8_t *data, size_t len);

//  Words for a result.
const char *
    keyrotation_strerror (keyrotation_result_t result);

//  ---------------------------------------------------------------- servers

//  What --rotate-key reports.
typedef struct {
    char *public_path;              //  <dir>/<role>.pub: the new key alone
    char *changeover_path;          //  <dir>/<role>-changeover.pub: new, old
    char *retired_path;             //  where the old private key went
    char *new_fingerprint;
    char *old_fingerprint;
    int64_t previous_made_at;       //  the statement this one replaced, or 0
} keyrotation_report_t;

void
    keyrotation_report_clear (keyrotation_report_t *report);

//  Replace the key of the server in data_dir (role "keyserver" or
//  "mainserver", naming its .pub files) with a new one of bits, at now:
//  keep the old private key, write the statement, the new .pub and the
//  changeover file. The order keeps the directory usable if it stops
//  half-way (a statement naming a key not in use is never presented).
//  0 and the report, or -1 with error filled (nothing replaced then).
int
    keyrotation_rotate (const char *data_dir, const char *role, int bits,
                        int64_t now, keyrotation_report_t *report,
                        char *error, size_t error_size);

//  --rotate-key for a server's main(): rotate, print the new public file's
//  path and fingerprint on stdout and the operator's next steps on stderr.
//  The exit status: 0, or 1 (the reason on stderr).
int
    keyrotation_command (const char *data_dir, const char *role, int bits,
                         int64_t window_days, int64_t now);

//  At start: the statement in data_dir to present in every Welcome, or
//  none (*out NULL): none written, older than window_days, not for
//  server_key, or not valid (logged as a warning, prefixed by who).
//  0, or -1 when a statement is there but cannot be read.
int
    keyrotation_presented (const char *data_dir, rsakey_t *server_key,
                           int64_t window_days, int64_t now, const char *who,
                           uint8_t **out, size_t *out_len);

//  A window in days from text: 0..KEYROTATION_WINDOW_MAX. 0 or -1.
int
    keyrotation_parse_window (const char *text, int64_t *days);

#endif
