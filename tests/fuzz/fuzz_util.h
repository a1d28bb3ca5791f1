/*  fuzz_util - what several fuzz targets share: fixed keys and clock, and
    NUL-terminated copies of the input (the decoders take C strings)
*/
#ifndef FUZZ_UTIL_H_INCLUDED
#define FUZZ_UTIL_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  An invariant the code under test must keep. Not assert(): the build is
//  RelWithDebInfo (NDEBUG), and the checked calls have side effects.
#define FUZZ_CHECK(cond) do { \
    if (!(cond)) { \
        fprintf (stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        abort (); \
    } \
} while (0)

//  The clock every fixed-time target (and make_corpus) uses: 2023-11-14.
#define FUZZ_NOW 1700000000

//  The fixed RSA keys of targets and corpus (tests/vectors/v2, test keys
//  only), so that what make_corpus signs verifies in the targets: alice.pem
//  signs as the key server and is alice's identity; bob.pem signs as the
//  main server and is bob's identity. FUZZ_VECTORS_DIR comes from CMake.
#define FUZZ_KEYSERVER_KEY FUZZ_VECTORS_DIR "/v2/alice.pem"
#define FUZZ_MAINSERVER_KEY FUZZ_VECTORS_DIR "/v2/bob.pem"
#define FUZZ_ALICE_KEY FUZZ_KEYSERVER_KEY
#define FUZZ_BOB_KEY FUZZ_MAINSERVER_KEY
//  The SaltedPassword identities are sealed under: 32 bytes of 0x42.
#define FUZZ_SALTED_BYTE 0x42
//  First byte of an input that asks a target to sign the rest with the
//  wrong key (a credential target's way to show forged bodies never pass)
#define FUZZ_MODE_FORGE 0x02
//  The client key fingerprint certificates and tickets are bound to.
#define FUZZ_FINGERPRINT_BYTE 0x11
#define FUZZ_USERNAME "alice"
#define FUZZ_CONVERSATION_BYTE 0x33

//  The SCRAM exchange of RFC 7677 section 3.
#define FUZZ_SCRAM_USER "user"
#define FUZZ_SCRAM_PASSWORD "pencil"
#define FUZZ_SCRAM_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define FUZZ_SCRAM_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define FUZZ_SCRAM_SALT_B64 "W22ZaJ0SNY7soEsUEjb6gQ=="
#define FUZZ_SCRAM_ITERATIONS 4096

//  First byte of an input that asks a target to seal (or sign) the rest
//  itself (so the fuzzer reaches what lies behind the MAC or signature).
#define FUZZ_MODE_SEAL 0x01

//  The same, naming the code that broke it
#define FUZZ_CHECK_RC(rc, cond) do { \
    if (!(cond)) { \
        fprintf (stderr, "%s:%d: unexpected code %d: %s\n", __FILE__, __LINE__, \
                 (int) (rc), #cond); \
        abort (); \
    } \
} while (0)

//  One of the fixed keys above; aborts when it cannot be read
#include "rsakey.h"
static inline rsakey_t *
fuzz_load_key (const char *path)
{
    rsakey_t *key = rsakey_load (path);
    if (!key) {
        fprintf (stderr, "fuzz: cannot load the fixed key %s\n", path);
        abort ();
    }
    return key;
}

//  The WelcomeInfo the fuzzed servers present
#include "channel.h"
static inline void
fuzz_welcome_info (uint8_t **info, size_t *len)
{
    FUZZ_CHECK (channel_welcome_info (CHANNEL_ROLE_MAINSERVER, "tcp://*:5557", NULL, 0,
                                      info, len) == 0);
}

//  A malloc'd NUL-terminated copy (the input may hold NULs: the decoder
//  then sees a shorter string, which is what a C server would see too).
static inline char *
fuzz_strndup (const uint8_t *data, size_t size)
{
    char *text = malloc (size + 1);
    if (text) {
        memcpy (text, data, size);
        text [size] = 0;
    }
    return text;
}

#endif
