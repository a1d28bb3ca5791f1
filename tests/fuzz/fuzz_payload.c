/*  fuzz_payload - one request, reply or push payload as a server or client
    unpacks it after the channel opened it (FUZZ_DESCRIPTOR names which);
    whatever unpacks must pack again
*/
#include "chaterror.h"
#include "wire.h"
#include "fuzz_util.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    ProtobufCMessage *msg = NULL;
    int rc = wire_unpack (&FUZZ_DESCRIPTOR, data, size, &msg);
    if (rc != CHAT_OK) {
        FUZZ_CHECK (msg == NULL);
        FUZZ_CHECK_RC (rc, rc == CHAT_ERR_MALFORMED || rc == CHAT_ERR_TOO_LARGE);
        return 0;
    }
    uint8_t *packed = NULL;
    size_t packed_size = 0;
    FUZZ_CHECK (wire_pack (msg, &packed, &packed_size) == CHAT_OK);
    //  protobuf-c keeps unknown fields and packs them again canonically;
    //  it takes a field number 0 only in a long tag, so what it wrote may
    //  not unpack. Where it does, a second pack must change nothing.
    ProtobufCMessage *again = NULL;
    if (wire_unpack (&FUZZ_DESCRIPTOR, packed, packed_size, &again) == CHAT_OK) {
        uint8_t *repacked = NULL;
        size_t repacked_size = 0;
        FUZZ_CHECK (wire_pack (again, &repacked, &repacked_size) == CHAT_OK);
        FUZZ_CHECK (repacked_size == packed_size);
        FUZZ_CHECK (packed_size == 0 || memcmp (packed, repacked, packed_size) == 0);
        free (repacked);
        protobuf_c_message_free_unpacked (again, NULL);
    }
    free (packed);
    protobuf_c_message_free_unpacked (msg, NULL);
    return 0;
}
