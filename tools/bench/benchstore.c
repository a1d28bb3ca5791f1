/*  benchstore - users and a conversation written into a store; see
    benchstore.h
*/
#include <string.h>
#include "chain.h"
#include "chaterror.h"
#include "epochkey.h"
#include "secret.h"
#include "wire.h"
#include "benchstore.h"

int
benchstore_conversation (bench_t *bench, msgstore_t *store, const char *const *names,
                         size_t count, uint8_t id [16])
{
    if (count < 2 || !bench->identity)
        return -1;
    size_t der_len = 0;
    const uint8_t *der = rsakey_der (bench->identity, &der_len);
    //  The conversation as a client makes it: a signed CREATE
    uint8_t key [EPOCHKEY_SIZE], check [EPOCHKEY_CHECK_SIZE];
    chain_link_t link = { 0 };
    bool direct = count == 2;
    int rc = secret_random (id, 16) == 0 && epochkey_generate (key) == CHAT_OK
          && epochkey_check_value (key, id, 1, check) == CHAT_OK
          && chain_make_create (id, names [0], names, count, direct, NULL, check,
                                bench->identity, wire_now_ms (), &link) == CHAT_OK?
             CHAT_OK: CHAT_ERR_INTERNAL;
    secret_wipe (key, sizeof key);
    msgstore_conv_t conv = { .created_at = wire_now_ms (), .direct = direct };
    memcpy (conv.id, id, 16);
    snprintf (conv.creator, sizeof conv.creator, "%s", names [0]);
    msgstore_link_t stored = { id, 1, link.statement, link.statement_len, link.signature,
                               link.signature_len, names [0], CHAIN_CREATE };
    if (rc == CHAT_OK)
        rc = msgstore_begin (store);
    for (size_t i = 0; rc == CHAT_OK && i < count; i++)
        rc = msgstore_user_add (store, names [i], der, der_len, wire_now_ms (), NULL);
    if (rc == CHAT_OK)
        rc = msgstore_conv_create (store, &conv, names, count, &stored);
    if (rc == CHAT_OK)
        rc = msgstore_commit (store);
    chain_link_free (&link);
    return rc == CHAT_OK? 0: -1;
}
