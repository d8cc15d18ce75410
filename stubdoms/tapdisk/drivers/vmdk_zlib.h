/* The one inflate call the vmdk driver needs, behind a small wrapper so
 * that the unikernel build can link its own zlib (built from Debian's
 * source) in place of the host's. */
#ifndef KEEL_VMDK_ZLIB_H
#define KEEL_VMDK_ZLIB_H
#include <stddef.h>

/* Inflates one compressed grain (a zlib stream, or raw deflate) from in
 * into out.  Returns the number of bytes produced (at most out_len), or
 * -EINVAL if the stream is corrupt or does not end within out_len bytes. */
long vmdk_inflate(const void *in, size_t in_len, void *out, size_t out_len);
#endif
