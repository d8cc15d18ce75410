/* blk.h: a block device this domain owns (virtio-blk): capacity, and synchronous reads, writes and flushes of sectors from threads. */
#ifndef MINIOS_BLK_H
#define MINIOS_BLK_H
#include <stddef.h>
#include <stdint.h>
/*
 * Sectors are 512 bytes, as virtio-blk counts them.  A device with a
 * larger logical block (VIRTIO_BLK_F_BLK_SIZE) takes only requests that
 * start and end on its blocks.  Requests are synchronous, one at a time
 * per device (others wait); call from threads, never event handlers.
 * Errors are negative Xen errnos: -XEN_EINVAL for a request past the end,
 * empty, misaligned or with a NULL buffer (refused before the device
 * sees it), -XEN_EROFS for writes to a read-only device, -XEN_EIO for a
 * device error or a broken device (it is reset and refuses everything
 * after that), -XEN_ETIMEDOUT if the device does not answer in 30 s.
 */
#define MINIOS_BLK_SECTOR 512
struct minios_blk;
/* The first virtio-blk device among this domain's (pci=): 0 and *bdf, or -XEN_ENODEV. */
int minios_blk_find(uint16_t *bdf);
/* Opens the device at bdf.  -XEN_ENODEV (not owned, not a modern
 * virtio-blk device), -XEN_EOPNOTSUPP, -XEN_ENOMEM. */
int minios_blk_open(uint16_t bdf, struct minios_blk **out);
/* Capacity in 512-byte sectors; the logical block size in bytes. */
uint64_t minios_blk_sectors(const struct minios_blk *b);
uint32_t minios_blk_block_size(const struct minios_blk *b);
/* 1 if the device is read-only (VIRTIO_BLK_F_RO), 1 if it has a write
 * cache that minios_blk_flush empties (VIRTIO_BLK_F_FLUSH). */
int minios_blk_read_only(const struct minios_blk *b);
int minios_blk_has_flush(const struct minios_blk *b);
int minios_blk_read(struct minios_blk *b, uint64_t sector, void *buf, size_t count);
int minios_blk_write(struct minios_blk *b, uint64_t sector, const void *buf, size_t count);
/* Everything written so far on stable storage (0 at once without
 * VIRTIO_BLK_F_FLUSH: the device then writes through). */
int minios_blk_flush(struct minios_blk *b);
/* While a request is outstanding, look at the device's used ring every
 * ns of PV time as well as on its interrupt (0: only on the interrupt,
 * the default).  For make bench-disk under QEMU -icount sleep=off, where
 * an idle machine's clock jumps to its next timer: a short poll bounds
 * what one wait for the disk costs in guest time (ci/bench-disk.sh). */
void minios_blk_set_poll_ns(struct minios_blk *b, uint64_t ns);
#endif /* MINIOS_BLK_H */
