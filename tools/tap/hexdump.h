/*  hexdump - bytes laid out like Wireshark's bytes pane

    0000  67 41 41 41 41 41 42 68  77 6a 59 6e 78 78 51 63   gAAAAABh wjYnxxQc

    offset, sixteen bytes in two groups of eight, then the same bytes as
    ASCII (a dot for anything not printable), also in two groups.
*/
#ifndef HEXDUMP_H_INCLUDED
#define HEXDUMP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

void
    hexdump_print (FILE *out, const uint8_t *data, size_t len);

#endif
