/* A sparse in-memory img_io for the unikernel image test. */
#ifndef KEEL_TEST_MEMIO_H
#define KEEL_TEST_MEMIO_H
#include <keel/image.h>

/* A new empty device that refuses to grow past limit bytes.  keep: its
 * close op does nothing (the device outlives img_close; release it with
 * memio_free), so one device can be opened several times. */
struct img_io *memio_new(uint64_t limit, bool keep);
void memio_free(struct img_io *io);
/* Bytes of pages held (the device's memory use). */
uint64_t memio_resident(struct img_io *io);
#endif
