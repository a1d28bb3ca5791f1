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

//  The key server's resume key in targets and corpus: 32 bytes of 0x42.
//  (Certificates and tickets are signed with RSA keys each target makes
//  when it starts: the corpus shows their shape, FUZZ_MODE_SEAL bodies
//  are signed by the target itself.)
#define FUZZ_SHARED_BYTE 0x42
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
//  ... or to seal it as a resume token (fuzz_certificate)
#define FUZZ_MODE_RESUME 0x02

//  The same, naming the code that broke it
#define FUZZ_CHECK_RC(rc, cond) do { \
    if (!(cond)) { \
        fprintf (stderr, "%s:%d: unexpected code %d: %s\n", __FILE__, __LINE__, \
                 (int) (rc), #cond); \
        abort (); \
    } \
} while (0)

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
