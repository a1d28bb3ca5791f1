/*  fuzz_sealed - the token of a Sealed frame, opened by an open channel
    (server side, c2s; and client side, s2c)

    Input: the token text; or FUZZ_MODE_SEAL, a clock offset byte, then a
    payload the client seals with its clock shifted, which the server must
    open exactly when the shift is inside the TTL and skew.
*/
#include "channel.h"
#include "chaterror.h"
#include "fernet.h"
#include "wire.h"
#include "fuzz_channel.h"

static rsakey_t *s_server_key;
static rsakey_t *s_client_key;
static channel_t *s_server;
static channel_t *s_client;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    fuzz_channel_pair (&s_server_key, &s_client_key, &s_server, &s_client);
    return 0;
}

static void
s_expect_refused (int rc)
{
    FUZZ_CHECK_RC (rc, rc == CHAT_ERR_MALFORMED || rc == CHAT_ERR_BAD_MAC
         || rc == CHAT_ERR_EXPIRED || rc == CHAT_ERR_FUTURE
         || rc == CHAT_ERR_REPLAYED || rc == CHAT_ERR_REORDERED
         || rc == CHAT_ERR_TOO_LARGE);
}

static void
s_seal_and_open (const uint8_t *data, size_t size)
{
    int64_t offset = (int64_t) (int8_t) data [0];     //  -128..127 s
    channel_set_clock_offset (s_client, offset);
    uint8_t *frame;
    size_t frame_size;
    FUZZ_CHECK (channel_seal (s_client, data + 1, size - 1, &frame, &frame_size) == CHAT_OK);
    channel_set_clock_offset (s_client, 0);
    Chat__Envelope *env = NULL;
    FUZZ_CHECK (wire_envelope_unpack (frame, frame_size, &env) == CHAT_OK);
    FUZZ_CHECK (env->kind_case == CHAT__ENVELOPE__KIND_SEALED);
    uint8_t *payload = NULL;
    size_t len = 0;
    int rc = channel_open (s_server, env->sealed->token, strlen (env->sealed->token),
                           &payload, &len);
    //  The clock may tick between sealing and opening: leave a margin
    if (offset > -CHANNEL_TTL + 2 && offset < FERNET_MAX_CLOCK_SKEW - 2) {
        FUZZ_CHECK_RC (rc, rc == CHAT_OK);
        FUZZ_CHECK (len == size - 1);
        FUZZ_CHECK (len == 0 || memcmp (payload, data + 1, len) == 0);
        free (payload);
    }
    else
    if (offset < -CHANNEL_TTL - 2)
        FUZZ_CHECK_RC (rc, rc == CHAT_ERR_EXPIRED);
    else
    if (offset > FERNET_MAX_CLOCK_SKEW + 2)
        FUZZ_CHECK_RC (rc, rc == CHAT_ERR_FUTURE);
    else
    if (rc == CHAT_OK)
        free (payload);
    chat__envelope__free_unpacked (env, NULL);
    free (frame);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size >= 1 && data [0] == FUZZ_MODE_SEAL) {
        if (size >= 2)
            s_seal_and_open (data + 1, size - 1);
        return 0;
    }
    uint8_t *payload = NULL;
    size_t len = 0;
    //  Both directions: a token forged for one side must fail on either
    s_expect_refused (channel_open (s_server, (const char *) data, size, &payload, &len));
    s_expect_refused (channel_open (s_client, (const char *) data, size, &payload, &len));
    FUZZ_CHECK (payload == NULL);
    return 0;
}
