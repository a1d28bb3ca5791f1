/*  testkeys - RSA keys for tests, made once per process and kept

    Every protocol 2 test needs keys: client keys, identity keys, and the
    other server's key (to mint certificates or tickets the server under
    test checks). Making 2048-bit keys is slow, so each test program makes
    the few it uses once, on first use, and shares them.

    Tests only. testkeys_free at the end keeps leak checkers quiet.
*/
#ifndef TESTKEYS_H_INCLUDED
#define TESTKEYS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>
#include "rsakey.h"

#define TESTKEYS_MAX 32

//  Key number index (0..TESTKEYS_MAX-1), RSA 2048, borrowed: made on first
//  use, the same pair every later call. Aborts when one cannot be made.
rsakey_t *
    testkeys_key (size_t index);

//  Free every key made.
void
    testkeys_free (void);

//  Write key's public half (PEM) to <dir>/<name>; returns the malloc'd
//  path, or NULL.
char *
    testkeys_save_public (rsakey_t *key, const char *dir, const char *name);

//  A forgery: the SignedCredential credential (len bytes) with its body
//  replaced by body, the signature kept. 0 and *out (malloc'd), or -1.
int
    testkeys_swap_body (const uint8_t *credential, size_t len, const ProtobufCMessage *body,
                        uint8_t **out, size_t *out_len);

#endif
