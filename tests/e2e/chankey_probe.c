/*  chankey_probe - a client that knows its own channel key, for e2e.nosecrets

    Usage: chankey_probe keyserver|mainserver ENDPOINT [OUT]

    A real client cannot tell anyone its channel key (it lives inside the
    channel and is forgotten after HKDF). This probe does the handshake with
    libchat's channel like any client, but first opens the Welcome's
    ciphertext with its own ephemeral key, so it learns K (channel key) and
    T (session token); it derives the three Fernet keys as proto/README.md
    section 3 says, then sends sealed requests (a register_params to the key
    server, pings to the main server) and checks the answers open. It writes
    the key material, hex, one "name hex" line each, to OUT (or stdout), so
    the test can look for it in a packet capture of the same run.
    Exit 0 when the sealed exchange worked, 1 otherwise, 2 usage.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "channel.h"
#include "chaterror.h"
#include "codec.h"
#include "rsakey.h"
#include "secret.h"
#include "wire.h"

#define PROBE_TIMEOUT_MS 10000
#define PROBE_REQUESTS 3

//  Wait for one frame on the dealer; NULL on timeout.
static zframe_t *
s_recv (zsock_t *dealer)
{
    zpoller_t *poller = zpoller_new (dealer, NULL);
    zframe_t *frame = NULL;
    if (poller && zpoller_wait (poller, PROBE_TIMEOUT_MS) == dealer)
        frame = zframe_recv (dealer);
    zpoller_destroy (&poller);
    return frame;
}

static void
s_print_hex (FILE *out, const char *name, const uint8_t *data, size_t len)
{
    char *hex = codec_hex (data, len);
    fprintf (out, "%s %s\n", name, hex? hex: "");
    free (hex);
}

//  One sealed request and its answer; 0 when the answer opened and carried
//  the request id back.
static int
s_exchange (zsock_t *dealer, channel_t *channel, bool keyserver, uint64_t request_id)
{
    uint8_t *payload = NULL;
    size_t payload_len = 0;
    int rc;
    if (keyserver) {
        Chat__RegisterParamsRequest params = CHAT__REGISTER_PARAMS_REQUEST__INIT;
        params.username = "chankey_probe";
        Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
        request.request_id = request_id;
        request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS;
        request.register_params = &params;
        rc = wire_pack (&request.base, &payload, &payload_len);
    }
    else {
        Chat__PingRequest ping = CHAT__PING_REQUEST__INIT;
        Chat__MainRequest request = CHAT__MAIN_REQUEST__INIT;
        request.request_id = request_id;
        request.body_case = CHAT__MAIN_REQUEST__BODY_PING;
        request.ping = &ping;
        rc = wire_pack (&request.base, &payload, &payload_len);
    }
    if (rc != CHAT_OK)
        return -1;
    uint8_t *frame = NULL;
    size_t size = 0;
    rc = channel_seal (channel, payload, payload_len, &frame, &size);
    free (payload);
    if (rc != CHAT_OK)
        return -1;
    zframe_t *out = zframe_new (frame, size);
    free (frame);
    if (zframe_send (&out, dealer, 0))
        return -1;

    zframe_t *in = s_recv (dealer);
    if (!in) {
        fprintf (stderr, "chankey_probe: no answer to request %llu\n",
                 (unsigned long long) request_id);
        return -1;
    }
    Chat__Envelope *env = NULL;
    rc = wire_envelope_unpack (zframe_data (in), zframe_size (in), &env);
    zframe_destroy (&in);
    if (rc != CHAT_OK || env->kind_case != CHAT__ENVELOPE__KIND_SEALED) {
        fprintf (stderr, "chankey_probe: answer is not sealed\n");
        if (env)
            protobuf_c_message_free_unpacked (&env->base, NULL);
        return -1;
    }
    uint8_t *reply = NULL;
    size_t reply_len = 0;
    rc = channel_open (channel, env->sealed->token, strlen (env->sealed->token),
                       &reply, &reply_len);
    protobuf_c_message_free_unpacked (&env->base, NULL);
    if (rc != CHAT_OK) {
        fprintf (stderr, "chankey_probe: answer does not open: %d\n", rc);
        return -1;
    }
    ProtobufCMessage *msg = NULL;
    uint64_t echoed = 0;
    rc = wire_unpack (keyserver? &chat__key_reply__descriptor: &chat__main_reply__descriptor,
                      reply, reply_len, &msg);
    free (reply);
    if (rc != CHAT_OK)
        return -1;
    echoed = keyserver? ((Chat__KeyReply *) msg)->request_id
                      : ((Chat__MainReply *) msg)->request_id;
    protobuf_c_message_free_unpacked (msg, NULL);
    return echoed == request_id? 0: -1;
}

int
main (int argc, char *argv [])
{
    if (argc < 3 || argc > 4
    ||  (!streq (argv [1], "keyserver") && !streq (argv [1], "mainserver"))) {
        fprintf (stderr, "usage: chankey_probe keyserver|mainserver ENDPOINT [OUT]\n");
        return 2;
    }
    bool keyserver = streq (argv [1], "keyserver");
    FILE *out = argc == 4? fopen (argv [3], "w"): stdout;
    if (!out) {
        fprintf (stderr, "chankey_probe: cannot write %s\n", argv [3]);
        return 1;
    }
    int status = 1;
    rsakey_t *key = rsakey_generate (2048);
    channel_t *channel = key? channel_client_new (key): NULL;
    zsock_t *dealer = zsock_new_dealer (argv [2]);
    uint8_t *hello = NULL;
    size_t hello_len = 0;
    zframe_t *welcome = NULL;
    Chat__Envelope *env = NULL;
    uint8_t *secret = NULL;
    size_t secret_len = 0;
    if (!channel || !dealer
    ||  channel_client_hello (channel, &hello, &hello_len) != CHAT_OK)
        goto done;
    zframe_t *frame = zframe_new (hello, hello_len);
    if (zframe_send (&frame, dealer, 0))
        goto done;
    welcome = s_recv (dealer);
    if (!welcome) {
        fprintf (stderr, "chankey_probe: no Welcome from %s\n", argv [2]);
        goto done;
    }
    //  What the channel will decrypt, opened here first: K || T
    if (wire_envelope_unpack (zframe_data (welcome), zframe_size (welcome), &env) != CHAT_OK
    ||  env->kind_case != CHAT__ENVELOPE__KIND_WELCOME
    ||  rsakey_decrypt (key, env->welcome->ciphertext.data, env->welcome->ciphertext.len,
                        &secret, &secret_len) != CHAT_OK
    ||  secret_len != CHANNEL_KEY_SIZE + CHANNEL_SESSION_TOKEN_SIZE) {
        fprintf (stderr, "chankey_probe: Welcome unreadable\n");
        goto done;
    }
    if (channel_client_accept (channel, zframe_data (welcome), zframe_size (welcome)) != CHAT_OK) {
        fprintf (stderr, "chankey_probe: handshake refused\n");
        goto done;
    }
    s_print_hex (out, "channel_key", secret, CHANNEL_KEY_SIZE);
    s_print_hex (out, "session_token", secret + CHANNEL_KEY_SIZE, CHANNEL_SESSION_TOKEN_SIZE);
    const char *infos [] = { "chat/1 c2s", "chat/1 s2c", "chat/1 push" };
    const char *names [] = { "c2s_key", "s2c_key", "push_key" };
    for (int i = 0; i < 3; i++) {
        uint8_t derived [32];
        if (secret_hkdf (secret, CHANNEL_KEY_SIZE, infos [i], derived, sizeof derived))
            goto done;
        s_print_hex (out, names [i], derived, sizeof derived);
        //  A Fernet key is two halves: signing, then encryption
        s_print_hex (out, i == 0? "c2s_sign": i == 1? "s2c_sign": "push_sign", derived, 16);
        s_print_hex (out, i == 0? "c2s_enc": i == 1? "s2c_enc": "push_enc", derived + 16, 16);
        secret_wipe (derived, sizeof derived);
    }
    fflush (out);
    for (uint64_t id = 1; id <= PROBE_REQUESTS; id++)
        if (s_exchange (dealer, channel, keyserver, id))
            goto done;
    status = 0;

done:
    if (secret) {
        secret_wipe (secret, secret_len);
        free (secret);
    }
    if (env)
        protobuf_c_message_free_unpacked (&env->base, NULL);
    zframe_destroy (&welcome);
    free (hello);
    zsock_destroy (&dealer);
    channel_destroy (&channel);
    rsakey_destroy (&key);
    if (out != stdout)
        fclose (out);
    return status;
}
