/* td_zlib.c: one zlib inflate of a whole buffer (see td_zlib.h). */
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "td_zlib.h"

int td_inflate(int window_bits, const void *in, size_t in_len, void *out, size_t out_len,
               size_t *got)
{
    z_stream z;

    *got = 0;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, window_bits) != Z_OK)
        return Z_MEM_ERROR;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)in_len;
    z.next_out = out;
    z.avail_out = (uInt)out_len;
    int r = inflate(&z, Z_FINISH);
    *got = out_len - z.avail_out;
    inflateEnd(&z);
    return r;
}
