/*  fuzz_push - a PushFrame off the SUB socket, opened by the client's
    channel (channel_open_push)

    Input: the frame; or FUZZ_MODE_SEAL then a payload the server seals as a
    push, which the client must open to the same bytes.
*/
#include "channel.h"
#include "chaterror.h"
#include "wire.h"
#include "fuzz_util.h"

static rsakey_t *s_server_key;
static rsakey_t *s_client_key;
static channel_t *s_server;
static channel_t *s_client;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_server_key = rsakey_generate (2048);
    s_client_key = rsakey_generate (2048);
    FUZZ_CHECK (s_server_key && s_client_key);
    s_client = channel_client_new (s_client_key);
    uint8_t *hello_frame, *welcome;
    size_t hello_size, welcome_size;
    FUZZ_CHECK (channel_client_hello (s_client, &hello_frame, &hello_size) == CHAT_OK);
    Chat__Envelope *hello = NULL;
    FUZZ_CHECK (wire_envelope_unpack (hello_frame, hello_size, &hello) == CHAT_OK);
    FUZZ_CHECK (channel_server_accept (s_server_key, hello->hello, &s_server,
                                   &welcome, &welcome_size) == CHAT_OK);
    FUZZ_CHECK (channel_client_accept (s_client, welcome, welcome_size) == CHAT_OK);
    chat__envelope__free_unpacked (hello, NULL);
    free (hello_frame);
    free (welcome);
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
