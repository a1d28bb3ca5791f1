/*  fuzz_push - a PushFrame off the SUB socket, opened by the client's
    channel (channel_open_push)

    Input: the frame; or FUZZ_MODE_SEAL then a payload the server seals as a
    push, which the client must open to the same bytes.
*/
#include "channel.h"
#include "chaterror.h"
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

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    if (size >= 1 && data [0] == FUZZ_MODE_SEAL) {
        uint8_t *frame;
        size_t frame_size;
        FUZZ_CHECK (channel_seal_push (s_server, data + 1, size - 1,
                                   &frame, &frame_size) == CHAT_OK);
        FUZZ_CHECK (channel_open_push (s_client, frame, frame_size,
                                   &payload, &len) == CHAT_OK);
        FUZZ_CHECK (len == size - 1);
        FUZZ_CHECK (len == 0 || memcmp (payload, data + 1, len) == 0);
        free (payload);
        free (frame);
        return 0;
    }
    int rc = channel_open_push (s_client, data, size, &payload, &len);
    //  Nothing but the server holds the push key
    FUZZ_CHECK (rc != CHAT_OK);
    FUZZ_CHECK (payload == NULL);
    return 0;
}
