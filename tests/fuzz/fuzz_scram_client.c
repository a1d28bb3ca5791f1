/*  fuzz_scram_client - the client's side of a SCRAM login: server-first
    from the key server, then server-final (RFC 7677's user and nonce)

    Input: server-first, a NUL, server-final (no NUL: server-first only).
    An iteration count above FUZZ_MAX_ITERATIONS is skipped: the client does
    that many PBKDF2 rounds by design, which would only slow the fuzzer.
*/
#include <ctype.h>
#include <stdbool.h>
#include "chaterror.h"
#include "scram.h"
#include "wire.h"
#include "fuzz_util.h"

#define FUZZ_MAX_ITERATIONS 8192

//  True when some "i=<digits>" in text asks for more rounds than we spend.
static bool
s_too_slow (const char *text)
{
    for (const char *p = strstr (text, "i="); p; p = strstr (p + 1, "i=")) {
        uint64_t value = 0;
        for (const char *d = p + 2; isdigit ((unsigned char) *d); d++) {
            value = value * 10 + (uint64_t) (*d - '0');
            if (value > SCRAM_MAX_ITERATIONS)
                break;          //  refused unread by the client: cheap
        }
        if (value > FUZZ_MAX_ITERATIONS && value <= SCRAM_MAX_ITERATIONS)
            return true;
    }
    return false;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr (data, 0, size);
    size_t first_len = nul ? (size_t) (nul - data) : size;
    char *server_first = fuzz_strndup (data, first_len);
    char *server_final = nul ? fuzz_strndup (nul + 1, size - first_len - 1) : NULL;
    FUZZ_CHECK (server_first);
    if (s_too_slow (server_first)) {
        free (server_first);
        free (server_final);
        return 0;
    }
    scram_client_t *client = scram_client_new (FUZZ_SCRAM_USER, FUZZ_SCRAM_PASSWORD,
                                               FUZZ_SCRAM_CNONCE);
    FUZZ_CHECK (client);
    FUZZ_CHECK (strcmp (scram_client_first (client),
                        "n,,n=" FUZZ_SCRAM_USER ",r=" FUZZ_SCRAM_CNONCE) == 0);
    const char *client_final = NULL;
    int rc = scram_client_final (client, server_first, &client_final);
    FUZZ_CHECK_RC (rc, rc == CHAT_OK || rc == CHAT_ERR_MALFORMED);
    if (rc == CHAT_OK) {
        //  The server's nonce must extend ours
        FUZZ_CHECK (client_final && strstr (client_final, ",r=" FUZZ_SCRAM_CNONCE));
        if (server_final) {
            rc = scram_client_verify (client, server_final);
            FUZZ_CHECK_RC (rc, rc == CHAT_OK || rc == CHAT_ERR_AUTH_FAILED);
        }
    }
    else
    if (server_final)
        //  No verifying a server we never answered
        FUZZ_CHECK (scram_client_verify (client, server_final) != CHAT_OK);
    scram_client_destroy (&client);
    free (server_first);
    free (server_final);
    return 0;
}
