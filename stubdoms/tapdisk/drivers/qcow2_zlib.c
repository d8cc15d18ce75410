/* qcow2 compressed clusters: raw deflate (zlib) as qemu writes them. */
#include <zlib.h>
#include "qcow2_int.h"
#include "td_zlib.h"

int qc_inflate(const void *in, size_t in_len, void *out, size_t out_len)
{
    size_t got;
    int r = td_inflate(-15, in, in_len, out, out_len, &got);
    if (r == Z_MEM_ERROR)
        return -ENOMEM;
    /* The descriptor rounds to sectors, so trailing input is normal; a
     * stream that ends early or is malformed is not. */
    if ((r != Z_STREAM_END && r != Z_BUF_ERROR && r != Z_OK) || got != out_len)
        return -EIO;
    return 0;
}

long qc_deflate(const void *in, size_t in_len, void *out, size_t out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return -ENOMEM;
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)in_len;
    z.next_out = out;
    z.avail_out = (uInt)out_len;
    int r = deflate(&z, Z_FINISH);
    long n = (long)(out_len - z.avail_out);
    deflateEnd(&z);
    return r == Z_STREAM_END ? n : -ENOSPC;
}
