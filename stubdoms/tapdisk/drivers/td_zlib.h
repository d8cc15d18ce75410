/* td_zlib.h: one zlib inflate of a whole buffer, shared by the drivers that read compressed data (qcow2, vmdk). */
#ifndef KEEL_TD_ZLIB_H
#define KEEL_TD_ZLIB_H

#include <stddef.h>

/*
 * Inflates in[0..in_len) into out[0..out_len) in one call. window_bits is
 * inflateInit2's (15: a zlib stream, -15: raw deflate). Returns zlib's
 * result (Z_STREAM_END when the stream ended; Z_BUF_ERROR, Z_DATA_ERROR ...
 * otherwise; Z_MEM_ERROR also when zlib could not start), and the bytes
 * produced in *got. Lengths must fit zlib's uInt (the callers check).
 */
int td_inflate(int window_bits, const void *in, size_t in_len, void *out, size_t out_len,
               size_t *got);

#endif
