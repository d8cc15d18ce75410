/* zlib inflate for the vmdk driver's compressed grains (see vmdk_zlib.h). */
#include <errno.h>
#include <zlib.h>

#include "td_zlib.h"
#include "vmdk_zlib.h"

static long inflate_with(int window_bits, const void *in, size_t in_len,
                         void *out, size_t out_len)
{
    size_t got;
    int r = td_inflate(window_bits, in, in_len, out, out_len, &got);
    if (r == Z_MEM_ERROR)
        return -ENOMEM;
    return r == Z_STREAM_END ? (long)got : -EINVAL;
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
