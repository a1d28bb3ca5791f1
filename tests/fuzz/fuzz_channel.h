/*  fuzz_channel - an open channel pair, made once when a target starts,
    for the targets that fuzz what lies behind the handshake
*/
#ifndef FUZZ_CHANNEL_H_INCLUDED
#define FUZZ_CHANNEL_H_INCLUDED

#include "channel.h"
#include "chaterror.h"
#include "wire.h"
#include "fuzz_util.h"

//  Fresh keys and a completed handshake: *server and *client are open.
static inline void
fuzz_channel_pair (rsakey_t **server_key, rsakey_t **client_key,
                   channel_t **server, channel_t **client)
{
    *server_key = rsakey_generate (2048);
    *client_key = rsakey_generate (2048);
    FUZZ_CHECK (*server_key && *client_key);
    *client = channel_client_new (*client_key);
    uint8_t *hello_frame, *welcome;
    size_t hello_size, welcome_size;
    FUZZ_CHECK (channel_client_hello (*client, &hello_frame, &hello_size) == CHAT_OK);
    Chat__Envelope *hello = NULL;
    FUZZ_CHECK (wire_envelope_unpack (hello_frame, hello_size, &hello) == CHAT_OK);
    uint8_t *info;
    size_t info_len;
    fuzz_welcome_info (&info, &info_len);
    FUZZ_CHECK (channel_server_accept (*server_key, info, info_len, hello->hello, server,
                                       &welcome, &welcome_size) == CHAT_OK);
    free (info);
    FUZZ_CHECK (channel_client_accept (*client, welcome, welcome_size) == CHAT_OK);
    chat__envelope__free_unpacked (hello, NULL);
    free (hello_frame);
    free (welcome);
}

#endif
