/* zlib inflate for the vmdk driver's compressed grains (see vmdk_zlib.h). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "vmdk_zlib.h"

static long inflate_with(int window_bits, const void *in, size_t in_len,
                         void *out, size_t out_len)
{
    z_stream z;

    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, window_bits) != Z_OK)
        return -ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)in_len;
    z.next_out = out;
    z.avail_out = (uInt)out_len;
    int r = inflate(&z, Z_FINISH);
    long n = (long)(out_len - z.avail_out);
    inflateEnd(&z);
    return r == Z_STREAM_END ? n : -EINVAL;
}

long vmdk_inflate(const void *in, size_t in_len, void *out, size_t out_len)
{
    if (in_len > 0xffffffffu || out_len > 0xffffffffu)
        return -EINVAL;
    /* qemu and VMware write zlib streams (RFC 1950); accept raw deflate. */
    long n = inflate_with(15, in, in_len, out, out_len);
    if (n == -EINVAL)
        n = inflate_with(-15, in, in_len, out, out_len);
    return n;
}
