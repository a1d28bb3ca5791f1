/*  fuzz_scram_server - the key server's side of a SCRAM login: client-first,
    a challenge with fixed verifiers (RFC 7677's user), then client-final

    Input: client-first, a NUL, client-final (no NUL: client-first only).
*/
#include "chaterror.h"
#include "scram.h"
#include "wire.h"
#include "fuzz_util.h"

static const uint8_t s_salt [] = {
    91, 109, 153, 104, 157, 18, 53, 142, 236, 160, 75, 20, 18, 54, 250, 129
};
static uint8_t s_stored_key [SCRAM_KEY_SIZE];
static uint8_t s_server_key [SCRAM_KEY_SIZE];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    FUZZ_CHECK (scram_make_verifier (FUZZ_SCRAM_PASSWORD, s_salt, sizeof s_salt,
                                     FUZZ_SCRAM_ITERATIONS,
                                     s_stored_key, s_server_key) == 0);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr (data, 0, size);
    size_t first_len = nul ? (size_t) (nul - data) : size;
    char *client_first = fuzz_strndup (data, first_len);
    char *client_final = nul ? fuzz_strndup (nul + 1, size - first_len - 1) : NULL;
    FUZZ_CHECK (client_first);

    scram_server_t *server = scram_server_new ();
    FUZZ_CHECK (server);
    const char *username = NULL;
    int rc = scram_server_first (server, client_first, &username);
    FUZZ_CHECK_RC (rc, rc == CHAT_OK || rc == CHAT_ERR_MALFORMED);
    if (rc == CHAT_OK) {
        FUZZ_CHECK (username);
        const char *server_first = NULL;
        rc = scram_server_challenge (server, s_salt, sizeof s_salt, FUZZ_SCRAM_ITERATIONS,
                                     s_stored_key, s_server_key, FUZZ_SCRAM_SNONCE,
                                     &server_first);
        FUZZ_CHECK_RC (rc, rc == CHAT_OK || rc == CHAT_ERR_MALFORMED);
        if (rc == CHAT_OK && client_final) {
            FUZZ_CHECK (server_first);
            const char *server_final = NULL;
            rc = scram_server_final (server, client_final, &server_final);
            FUZZ_CHECK_RC (rc, rc == CHAT_OK || rc == CHAT_ERR_AUTH_FAILED
                     || rc == CHAT_ERR_MALFORMED);
            if (rc == CHAT_OK)
                FUZZ_CHECK (server_final && strncmp (server_final, "v=", 2) == 0);
        }
    }
    //  Nothing further is accepted after a refusal or a success
    if (client_final) {
        const char *server_final = NULL;
        FUZZ_CHECK (scram_server_final (server, client_final, &server_final) != CHAT_OK);
    }
    scram_server_destroy (&server);
    FUZZ_CHECK (server == NULL);
    free (client_first);
    free (client_final);
    return 0;
}
