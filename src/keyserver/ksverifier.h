/*  ksverifier - what a client sends to set a password: a salt, an
    iteration count, the SCRAM verifiers (StoredKey, ServerKey) and the
    user's identity sealed under the new SaltedPassword

    Registration and password change take the same fields and refuse the
    same mistakes (proto/README.md section 5).
*/
#ifndef KSVERIFIER_H_INCLUDED
#define KSVERIFIER_H_INCLUDED

#include <protobuf-c/protobuf-c.h>
#include "keystore.h"

//  Check the fields and copy salt, iterations and verifiers into user.
//  CHAT_OK, or CHAT_ERR_BAD_REQUEST with *why naming what is wrong (salt
//  not 16..64 bytes, iterations outside SCRAM_MIN..MAX_ITERATIONS, a
//  verifier not 32 bytes, sealed identity empty, over 8192 bytes or not a
//  Fernet token).
int
    ksverifier_take (ProtobufCBinaryData salt, uint32_t iterations,
                     ProtobufCBinaryData stored_key, ProtobufCBinaryData server_key,
                     ProtobufCBinaryData sealed_identity, keystore_user_t *user,
                     const char **why);

#endif
