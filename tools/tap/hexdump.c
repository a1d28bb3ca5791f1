/*  hexdump - bytes laid out like Wireshark's bytes pane  */
#include "hexdump.h"

void
hexdump_print (FILE *out, const uint8_t *data, size_t len)
{
    for (size_t row = 0; row < len; row += 16) {
        //  Four digits like Wireshark; wider only for frames past 64 KiB.
        fprintf (out, "%04zx  ", row);
        for (size_t i = 0; i < 16; i++) {
            if (row + i < len)
                fprintf (out, "%02x ", data [row + i]);
            else
                fputs ("   ", out);
            if (i == 7)
                fputc (' ', out);
        }
        fputs ("  ", out);
        for (size_t i = 0; i < 16 && row + i < len; i++) {
            uint8_t c = data [row + i];
            fputc (c >= 0x20 && c < 0x7f? c: '.', out);
            if (i == 7 && row + i + 1 < len)
                fputc (' ', out);
        }
        fputc ('\n', out);
    }
}
