/* Host img_io back ends for tools and tests: a file and a memory buffer. */
#ifndef KEEL_IO_HOST_H
#define KEEL_IO_HOST_H
#include <keel/image.h>

/* Opens path (read-only or read-write; never creates).  open_related
 * resolves a relative name against the directory of path.  Returns 0 or a
 * negative errno. */
int img_io_file_open(const char *path, bool writable, struct img_io **out);
/* Creates or truncates path to size 0 and opens it read-write. */
int img_io_file_create(const char *path, struct img_io **out);
/* Makes flush a no-op on a file device (qemu-img's cache=unsafe: the
 * output of a convert that is not needed durable until the OS writes it). */
void img_io_file_set_nosync(struct img_io *io, bool on);

/* A new, empty, growable in-memory device.  open_related is not
 * supported unless a resolver is set with img_io_mem_set_related. */
int img_io_mem_new(struct img_io **out);
/* The buffer and its size (valid until the next write or close). */
const uint8_t *img_io_mem_data(struct img_io *io, uint64_t *size);
/* Replaces the content with a copy of buf. */
int img_io_mem_load(struct img_io *io, const void *buf, size_t len);
/* Counts of calls, for tests (pwrite, flush). */
void img_io_mem_stats(struct img_io *io, uint64_t *writes, uint64_t *flushes);
/* Refuses to grow past max_size bytes (-EFBIG); 0: no limit (1 TiB). */
void img_io_mem_set_limit(struct img_io *io, uint64_t max_size);
/* Lets open_related on this device return other memory devices: fn gets
 * the name and returns a new img_io (or a negative errno). */
typedef int (*img_io_mem_related_fn)(void *ctx, const char *name, bool writable,
                                      struct img_io **out);
void img_io_mem_set_related(struct img_io *io, img_io_mem_related_fn fn, void *ctx);
#endif
