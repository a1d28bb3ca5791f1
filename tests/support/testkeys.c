/*  testkeys - RSA keys for tests; see testkeys.h  */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <czmq.h>
#include "chaterror.h"
#include "testkeys.h"
#include "wire.h"

static rsakey_t *s_keys [TESTKEYS_MAX];

rsakey_t *
testkeys_key (size_t index)
{
    assert (index < TESTKEYS_MAX);
    if (!s_keys [index]) {
        s_keys [index] = rsakey_generate (2048);
        if (!s_keys [index]) {
            fprintf (stderr, "testkeys: cannot make an RSA key\n");
            abort ();
        }
    }
    return s_keys [index];
}

void
testkeys_free (void)
{
    for (size_t index = 0; index < TESTKEYS_MAX; index++)
        rsakey_destroy (&s_keys [index]);
}

char *
testkeys_save_public (rsakey_t *key, const char *dir, const char *name)
{
    char *path = zsys_sprintf ("%s/%s", dir, name);
    if (path && rsakey_save_public (key, path) != 0)
        zstr_free (&path);
    return path;
}

int
testkeys_swap_body (const uint8_t *credential, size_t len, const ProtobufCMessage *body,
                    uint8_t **out, size_t *out_len)
{
    Chat__SignedCredential *signed_ = NULL;
    if (wire_unpack (&chat__signed_credential__descriptor, credential, len,
                     (ProtobufCMessage **) &signed_) != CHAT_OK)
        return -1;
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    int rc = -1;
    if (wire_pack (body, &packed, &packed_len) == CHAT_OK) {
        Chat__SignedCredential swapped = CHAT__SIGNED_CREDENTIAL__INIT;
        swapped.body.data = packed;
        swapped.body.len = packed_len;
        swapped.signature = signed_->signature;
        rc = wire_pack (&swapped.base, out, out_len) == CHAT_OK? 0: -1;
        free (packed);
    }
    chat__signed_credential__free_unpacked (signed_, NULL);
    return rc;
}
