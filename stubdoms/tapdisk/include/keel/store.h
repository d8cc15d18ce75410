/* store.h: the image store: an ext4 filesystem (libext2fs) on a block device this domain owns, its files as img_io devices. */
#ifndef KEEL_STORE_H
#define KEEL_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/image.h>

/*
 * The store is read by Debian's libext2fs (e2fsprogs) through an
 * io_manager over <minios/blk.h> (ext2io.c): no ext4 code of our own.
 * Writes go through the library's allocation and ordering; a file's
 * flush (img_io ops->flush) writes its buffered block, the inode, the
 * bitmaps, group descriptors and superblock, then flushes the device
 * (virtio-blk flush).  libext2fs keeps no journal: writes are not
 * journalled, and a store whose journal needs recovery is refused (run
 * e2fsck on it).  One thread at a time per store: the library has no
 * locks (callers serialise).
 *
 * Errors are negative errnos (<errno.h>); err, if not NULL, receives a
 * message of up to STORE_ERRLEN bytes naming what was wrong.
 */
#define STORE_ERRLEN 160

struct minios_blk;
struct store;

/* A block device under a store: 512-byte sectors, requests on whole
 * block_size blocks, errors as negative Xen errnos (as <minios/blk.h>
 * and <minios/blkfront.h> give them). */
struct store_dev {
    void *ctx;
    uint64_t sectors;
    uint32_t block_size;
    bool read_only;
    int (*read)(void *ctx, uint64_t sector, void *buf, size_t count);
    int (*write)(void *ctx, uint64_t sector, const void *buf, size_t count);
    int (*flush)(void *ctx);
};
/* A virtio-blk device as a store_dev. */
void store_dev_virtio(struct minios_blk *b, struct store_dev *out);

/* The io_manager's name for a device ("minios-blk:N"): registers it (up
 * to 8 devices, by ctx).  0, or -ENOSPC (table full). */
int store_dev_name(const struct store_dev *dev, char *name, size_t len);
int store_blk_name(struct minios_blk *dev, char *name, size_t len);

/* Opens the ext4 filesystem on dev, read-write if writable (-EROFS if
 * the device is read-only).  -EINVAL: no ext2/3/4 filesystem or one the
 * library cannot handle; -ENOTRECOVERABLE: its journal needs recovery. */
int store_open(struct minios_blk *dev, bool writable, struct store **out, char *err);
/* The same on any store_dev (e.g. a blkfront disk: an appliance's own). */
int store_open_dev(const struct store_dev *dev, bool writable, struct store **out, char *err);
/* Writes everything back (bitmaps, descriptors, superblock), flushes the
 * device and releases the store.  Every file must be closed first
 * (-EBUSY otherwise, and nothing is released). */
int store_close(struct store *s, char *err);

/* Opens the regular file at path (absolute, '/'-separated, symbolic
 * links followed inside the store) as an img_io device.  -EINVAL (not
 * absolute, empty or too long), -ENOENT, -ENOTDIR, -EISDIR / -EINVAL
 * (not a regular file), -EROFS (writable on a read-only store), -EBUSY
 * (the file, by any name, is open for writing, or is open at all and
 * writable is asked: one writer or any number of readers).  Reads
 * past the end return zeros; writes past it grow the file; truncate
 * sets the size; open_related opens a name relative to the file's
 * directory (an absolute name from the store's root).  Writes to a file
 * opened read-only: -EBADF. */
int store_file_open(struct store *s, const char *path, bool writable,
                    struct img_io **out, char *err);

/* Every completed write to the store's files survives a crash of this
 * domain (the device lives on): the metadata held since the last commit
 * is committed (the journal's commit, with its device flushes).  1 if
 * there was something to commit, 0 if nothing was held (no I/O), or a
 * negative errno.  A file's img_io persist is this. */
int store_persist(struct store *s);

/* Bytes read from and written to the device since store_open. */
void store_stats(const struct store *s, uint64_t *read, uint64_t *written);

#endif /* KEEL_STORE_H */
