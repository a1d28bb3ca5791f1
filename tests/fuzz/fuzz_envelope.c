/*  fuzz_envelope - what arrives on a request socket before any key is
    shared: wire_envelope_unpack, then a Hello as a server takes it and
    anything else as a client takes a server's answer
*/
#include "channel.h"
#include "chaterror.h"
#include "wire.h"
#include "fuzz_util.h"

static rsakey_t *s_server_key;
static rsakey_t *s_client_key;
static uint8_t *s_info;
static size_t s_info_len;

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    s_server_key = rsakey_generate (2048);
    s_client_key = rsakey_generate (2048);
    FUZZ_CHECK (s_server_key && s_client_key);
    fuzz_welcome_info (&s_info, &s_info_len);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    Chat__Envelope *env = NULL;
    int rc = wire_envelope_unpack (data, size, &env);
    if (rc != CHAT_OK) {
        FUZZ_CHECK (env == NULL);
        FUZZ_CHECK_RC (rc, rc == CHAT_ERR_MALFORMED || rc == CHAT_ERR_TOO_LARGE);
        return 0;
    }
    if (env->kind_case == CHAT__ENVELOPE__KIND_HELLO) {
        channel_t *channel = NULL;
        uint8_t *welcome = NULL;
        size_t welcome_size = 0;
        rc = channel_server_accept (s_server_key, s_info, s_info_len, env->hello, &channel,
                                    &welcome, &welcome_size);
        if (rc == CHAT_OK) {
            FUZZ_CHECK (channel_is_open (channel));
            //  What we answered must be a Welcome a client can read
            Chat__Envelope *back = NULL;
            FUZZ_CHECK (wire_envelope_unpack (welcome, welcome_size, &back) == CHAT_OK);
            FUZZ_CHECK (back->kind_case == CHAT__ENVELOPE__KIND_WELCOME);
            chat__envelope__free_unpacked (back, NULL);
            free (welcome);
            channel_destroy (&channel);
        }
        else {
            FUZZ_CHECK (channel == NULL);
            FUZZ_CHECK_RC (rc, rc == CHAT_ERR_BAD_VERSION || rc == CHAT_ERR_BAD_KEY
                 || rc == CHAT_ERR_MALFORMED);
        }
    }
    chat__envelope__free_unpacked (env, NULL);

    //  Every frame, Hello included, as a client's answer from a server
    channel_t *client = channel_client_new (s_client_key);
    FUZZ_CHECK (client);
    FUZZ_CHECK (channel_client_expect_role (client, CHANNEL_ROLE_MAINSERVER) == CHAT_OK);
    rc = channel_client_accept (client, data, size);
    //  A Welcome signed for another client's nonce never opens this one,
    //  and a refused one leaves nothing of its info behind
    FUZZ_CHECK (rc != CHAT_OK);
    FUZZ_CHECK (!channel_is_open (client));
    size_t rotation_len = 1;
    FUZZ_CHECK (channel_peer_rotation (client, &rotation_len) == NULL && rotation_len == 0);
    FUZZ_CHECK (*channel_peer_role (client) == 0 && *channel_peer_push_endpoint (client) == 0);
    channel_destroy (&client);
    return 0;
}
