/*  testvectors - the files under tests/vectors, for unit tests

    ctest sets CHAT_VECTORS_DIR; a test binary run by hand finds the folder
    from where this file was compiled, so both work.
*/
#ifndef TESTVECTORS_H_INCLUDED
#define TESTVECTORS_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

//  The path of tests/vectors/<name> in a static buffer.
const char *
    testvectors_path (const char *name);

//  The whole file, malloc'd and NUL-terminated (len without the NUL), with
//  trailing white space cut off; NULL when it cannot be read.
char *
    testvectors_read (const char *name, size_t *len);

//  A file of hex digits (one line) as bytes, malloc'd; NULL if it is not.
uint8_t *
    testvectors_read_hex (const char *name, size_t *len);

#endif
