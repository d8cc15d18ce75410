/* ext2io.c: a libext2fs io_manager over a block device (store_dev: minios's virtio-blk driver or blkfront): the filesystem's blocks read and written by the driver. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ext2fs/ext2fs.h>
#include <minios/blk.h>
#include <xen/errno.h>

#include "journal.h"
#include "store_int.h"

/*
 * libext2fs names its device by a string; ours is "minios-blk:N", N an
 * index into a small table that store_blk_name fills.  A channel reads
 * and writes whole device blocks: a request that does not start and end
 * on them (libext2fs's byte-counted superblock reads, write_byte) goes
 * through a bounce buffer, read-modify-write for writes.  libext2fs
 * caches bitmaps and descriptors itself, but not the blocks it reads
 * to map a file's offsets: an extent tree block (a file of more than
 * four extents, e.g. a sparse qcow2) was read from the disk for every
 * block of the file read.  So the last CACHE_N single-block reads are
 * kept (least recently used replaced), as unix_io's cache does; writes
 * go to the device first (write-through) and drop the cached blocks
 * they touch, so a flush still reaches the device at once and nothing
 * cached is ever newer than the disk.
 */
#define EXT2IO_PREFIX "minios-blk:"
#define EXT2IO_MAX    8

static struct store_dev devices[EXT2IO_MAX];
static bool used[EXT2IO_MAX];

#define CACHE_N 8

struct cached {
    bool valid;
    unsigned long long block;
    uint64_t used;          /* the tick of its last use */
    uint8_t *data;          /* one block of cache_bs bytes */
};

struct ext2io {
    struct store_dev dev;
    uint64_t bytes;         /* capacity */
    uint32_t unit;          /* device block size */
    bool writable;
    struct struct_io_stats stats;   /* bytes to and from the device */
    struct cached cache[CACHE_N];
    uint32_t cache_bs;      /* the block size the entries hold */
    uint64_t tick, gen;     /* gen: writes so far (a read racing one is not cached) */
    uint64_t hits;
    struct sj *j;           /* the metadata journal, when the store has one (store_io_set_journal) */
    bool allocating;        /* store_io_allocating */
};

static void cache_drop_all(struct ext2io *d)
{
    for (unsigned i = 0; i < CACHE_N; i++) {
        free(d->cache[i].data);
        d->cache[i].data = NULL;
        d->cache[i].valid = false;
    }
}

/* Forgets the cached blocks that [off, off+len) touches. */
static void cache_drop(struct ext2io *d, uint64_t off, uint64_t len)
{
    d->gen++;
    for (unsigned i = 0; i < CACHE_N; i++) {
        struct cached *c = &d->cache[i];
        uint64_t lo = (uint64_t)c->block * d->cache_bs;
        if (c->valid && lo < off + len && off < lo + d->cache_bs)
            c->valid = false;
    }
}

int store_dev_name(const struct store_dev *dev, char *name, size_t len)
{
    int i, free_slot = -1;
    for (i = 0; i < EXT2IO_MAX; i++) {
        if (used[i] && devices[i].ctx == dev->ctx)
            break;
        if (!used[i] && free_slot < 0)
            free_slot = i;
    }
    if (i == EXT2IO_MAX) {
        if (free_slot < 0)
            return -ENOSPC;
        i = free_slot;
        used[i] = true;
    }
    devices[i] = *dev;
    snprintf(name, len, EXT2IO_PREFIX "%d", i);
    return 0;
}

/* virtio-blk (<minios/blk.h>) as a store_dev. */
static int vb_read(void *c, uint64_t s, void *b, size_t n) { return minios_blk_read(c, s, b, n); }
static int vb_write(void *c, uint64_t s, const void *b, size_t n) { return minios_blk_write(c, s, b, n); }
static int vb_flush(void *c) { return minios_blk_flush(c); }

void store_dev_virtio(struct minios_blk *b, struct store_dev *out)
{
    *out = (struct store_dev){
        .ctx = b, .sectors = minios_blk_sectors(b), .block_size = minios_blk_block_size(b),
        .read_only = minios_blk_read_only(b), .read = vb_read, .write = vb_write,
        .flush = vb_flush,
    };
}

int store_blk_name(struct minios_blk *dev, char *name, size_t len)
{
    struct store_dev d;
    store_dev_virtio(dev, &d);
    return store_dev_name(&d, name, len);
}

/* A minios_blk error as an errcode_t (plain errnos are valid ones). */
static errcode_t blk_err(int rc)
{
    switch (rc) {
    case -XEN_EROFS: return EROFS;
    case -XEN_EINVAL: return EINVAL;
    case -XEN_ETIMEDOUT: return ETIMEDOUT;
    default: return EIO;
    }
}

static errcode_t ext2io_open(const char *name, int flags, io_channel *out)
{
    if (!name || strncmp(name, EXT2IO_PREFIX, strlen(EXT2IO_PREFIX)))
        return EXT2_ET_BAD_DEVICE_NAME;
    const char *p = name + strlen(EXT2IO_PREFIX);
    if (p[0] < '0' || p[0] >= '0' + EXT2IO_MAX || p[1] || !used[p[0] - '0'])
        return EXT2_ET_BAD_DEVICE_NAME;
    const struct store_dev *dev = &devices[p[0] - '0'];
    if ((flags & IO_FLAG_RW) && dev->read_only)
        return EROFS;

    io_channel ch = calloc(1, sizeof(*ch));
    struct ext2io *d = calloc(1, sizeof(*d));
    char *nm = strdup(name);
    if (!ch || !d || !nm) {
        free(ch);
        free(d);
        free(nm);
        return EXT2_ET_NO_MEMORY;
    }
    d->dev = *dev;
    d->bytes = dev->sectors * MINIOS_BLK_SECTOR;
    d->unit = dev->block_size ? dev->block_size : MINIOS_BLK_SECTOR;
    d->writable = flags & IO_FLAG_RW;
    d->stats.num_fields = 2;
    ch->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    ch->manager = store_ext2io_manager;
    ch->name = nm;
    ch->block_size = 1024;
    ch->refcount = 1;
    ch->flags = CHANNEL_FLAGS_BLOCK_DEVICE;
    ch->private_data = d;
    *out = ch;
    return 0;
}

static errcode_t ext2io_close(io_channel ch)
{
    if (--ch->refcount > 0)
        return 0;
    cache_drop_all(ch->private_data);
    free(ch->private_data);
    free(ch->name);
    free(ch);
    return 0;
}

static errcode_t ext2io_set_blksize(io_channel ch, int blksize)
{
    if (blksize <= 0 || blksize > 65536 || blksize % MINIOS_BLK_SECTOR)
        return EXT2_ET_INVALID_ARGUMENT;
    ch->block_size = blksize;
    cache_drop_all(ch->private_data);
    return 0;
}

/* The byte range of a request: count blocks, or -count bytes. */
static errcode_t range(io_channel ch, unsigned long long block, int count,
                       uint64_t *off, size_t *len)
{
    struct ext2io *d = ch->private_data;
    uint64_t bs = (uint64_t)ch->block_size;
    uint64_t n = count < 0 ? (uint64_t)-(int64_t)count : (uint64_t)count * bs;
    if (block > d->bytes / bs)
        return EXT2_ET_LLSEEK_FAILED;
    *off = block * bs;
    if (n > d->bytes - *off)
        return EXT2_ET_LLSEEK_FAILED;
    *len = n;
    return 0;
}

/* Reads [off, off+len) of the device, any alignment. */
static errcode_t dev_read(struct ext2io *d, uint64_t off, void *buf, size_t len)
{
    if (len == 0)
        return 0;
    uint64_t u = d->unit, lo = off / u * u, hi = (off + len + u - 1) / u * u;
    int rc;
    if (lo == off && hi == off + len) {
        rc = d->dev.read(d->dev.ctx, off / MINIOS_BLK_SECTOR, buf, len / MINIOS_BLK_SECTOR);
    } else {
        uint8_t *tmp = malloc(hi - lo);
        if (!tmp)
            return EXT2_ET_NO_MEMORY;
        rc = d->dev.read(d->dev.ctx, lo / MINIOS_BLK_SECTOR, tmp, (hi - lo) / MINIOS_BLK_SECTOR);
        if (!rc)
            memcpy(buf, tmp + (off - lo), len);
        free(tmp);
    }
    if (rc)
        return blk_err(rc);
    d->stats.bytes_read += len;
    return 0;
}

/* Writes [off, off+len), reading the partial device blocks at its ends first. */
static errcode_t dev_write(struct ext2io *d, uint64_t off, const void *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (!d->writable)
        return EROFS;
    uint64_t u = d->unit, lo = off / u * u, hi = (off + len + u - 1) / u * u;
    int rc;
    if (lo == off && hi == off + len) {
        rc = d->dev.write(d->dev.ctx, off / MINIOS_BLK_SECTOR, buf, len / MINIOS_BLK_SECTOR);
    } else {
        uint8_t *tmp = malloc(hi - lo);
        if (!tmp)
            return EXT2_ET_NO_MEMORY;
        rc = d->dev.read(d->dev.ctx, lo / MINIOS_BLK_SECTOR, tmp, u / MINIOS_BLK_SECTOR);
        if (!rc && hi - lo > u)
            rc = d->dev.read(d->dev.ctx, (hi - u) / MINIOS_BLK_SECTOR, tmp + (hi - u - lo),
                                 u / MINIOS_BLK_SECTOR);
        if (!rc) {
            memcpy(tmp + (off - lo), buf, len);
            rc = d->dev.write(d->dev.ctx, lo / MINIOS_BLK_SECTOR, tmp, (hi - lo) / MINIOS_BLK_SECTOR);
        }
        free(tmp);
    }
    if (rc)
        return blk_err(rc);
    d->stats.bytes_written += len;
    return 0;
}

/* A single-block read from the cache, or from the device into it. */
static errcode_t cached_read(io_channel ch, unsigned long long block, uint64_t off, void *data)
{
    struct ext2io *d = ch->private_data;
    uint32_t bs = (uint32_t)ch->block_size;
    if (d->cache_bs != bs) {
        cache_drop_all(d);
        d->cache_bs = bs;
    }
    struct cached *victim = &d->cache[0];
    for (unsigned i = 0; i < CACHE_N; i++) {
        struct cached *c = &d->cache[i];
        if (c->valid && c->block == block) {
            c->used = ++d->tick;
            d->hits++;
            memcpy(data, c->data, bs);
            return 0;
        }
        if (!c->valid || (victim->valid && c->used < victim->used))
            victim = c;
    }
    uint64_t gen = d->gen;
    errcode_t e = dev_read(d, off, data, bs);
    if (e || gen != d->gen)
        return e;           /* a write came in while the device read: not cached */
    if (!victim->data && !(victim->data = malloc(bs)))
        return 0;           /* no memory for the cache: uncached, still correct */
    memcpy(victim->data, data, bs);
    victim->block = block;
    victim->used = ++d->tick;
    victim->valid = true;
    return 0;
}

/*
 * With a journal (journal.c), everything libext2fs writes is metadata:
 * image data goes below it (store_io_data_write, from store_data.c).
 * Metadata waits in the journal until the next flush, which commits it
 * as one jbd2 transaction and then writes it in place; reads see it.
 */
static errcode_t sj_err(int rc)
{
    return rc == 0 ? 0 : rc == -ENOMEM ? EXT2_ET_NO_MEMORY : rc == -EROFS ? EROFS
         : rc == -ENOSPC ? EXT2_ET_BLOCK_ALLOC_FAIL : rc < 0 && rc > -4096 ? (errcode_t)-rc : EIO;
}

static bool all_zero(const void *buf, size_t len)
{
    const uint8_t *p = buf;
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return false;
    return true;
}

static errcode_t meta_read(struct ext2io *d, uint64_t off, void *buf, size_t len)
{
    if (!d->j)
        return dev_read(d, off, buf, len);
    return sj_err(sj_read(d->j, off, buf, len));   /* counted by dev_read below it */
}

static errcode_t meta_write(struct ext2io *d, uint64_t off, const void *buf, size_t len)
{
    if (!d->j)
        return dev_write(d, off, buf, len);
    if (!d->writable)
        return EROFS;
    if (d->allocating && all_zero(buf, len))
        return 0;
    /* Counted when the commit writes it (log and checkpoint: device I/O). */
    return sj_err(sj_write(d->j, off, buf, len));
}

static errcode_t ext2io_read_blk64(io_channel ch, unsigned long long block, int count, void *data)
{
    uint64_t off;
    size_t len = 0;
    errcode_t e = range(ch, block, count, &off, &len);
    if (!e)
        e = count == 1 && !((struct ext2io *)ch->private_data)->j
                ? cached_read(ch, block, off, data)     /* no journal: the cache */
                : meta_read(ch->private_data, off, data, len);
    if (e && ch->read_error)
        return ch->read_error(ch, block, count, data, len, 0, e);
    return e;
}

static errcode_t ext2io_write_blk64(io_channel ch, unsigned long long block, int count,
                                    const void *data)
{
    uint64_t off;
    size_t len = 0;
    errcode_t e = range(ch, block, count, &off, &len);
    if (!e) {
        cache_drop(ch->private_data, off, len);
        e = meta_write(ch->private_data, off, data, len);
    }
    if (e && ch->write_error)
        return ch->write_error(ch, block, count, data, len, 0, e);
    return e;
}

static errcode_t ext2io_read_blk(io_channel ch, unsigned long block, int count, void *data)
{
    return ext2io_read_blk64(ch, block, count, data);
}

static errcode_t ext2io_write_blk(io_channel ch, unsigned long block, int count, const void *data)
{
    return ext2io_write_blk64(ch, block, count, data);
}

static errcode_t ext2io_write_byte(io_channel ch, unsigned long offset, int size, const void *data)
{
    struct ext2io *d = ch->private_data;
    if (size < 0 || offset > d->bytes || (uint64_t)size > d->bytes - offset)
        return EXT2_ET_LLSEEK_FAILED;
    cache_drop(d, offset, (uint64_t)size);
    return meta_write(d, offset, data, (size_t)size);
}

static errcode_t ext2io_flush(io_channel ch)
{
    struct ext2io *d = ch->private_data;
    if (d->j)
        return sj_err(sj_commit(d->j));
    int rc = d->writable ? d->dev.flush(d->dev.ctx) : 0;
    return rc ? blk_err(rc) : 0;
}

static errcode_t ext2io_set_option(io_channel ch, const char *option, const char *arg)
{
    (void)ch;
    (void)option;
    (void)arg;
    return EXT2_ET_INVALID_ARGUMENT;
}

static errcode_t ext2io_get_stats(io_channel ch, io_stats *out)
{
    struct ext2io *d = ch->private_data;
    *out = &d->stats;
    return 0;
}

static struct struct_io_manager manager = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER,
    .name = "Keel minios virtio-blk I/O manager",
    .open = ext2io_open,
    .close = ext2io_close,
    .set_blksize = ext2io_set_blksize,
    .read_blk = ext2io_read_blk,
    .write_blk = ext2io_write_blk,
    .flush = ext2io_flush,
    .write_byte = ext2io_write_byte,
    .set_option = ext2io_set_option,
    .get_stats = ext2io_get_stats,
    .read_blk64 = ext2io_read_blk64,
    .write_blk64 = ext2io_write_blk64,
};
io_manager store_ext2io_manager = &manager;

void store_io_stats(io_channel ch, uint64_t *read, uint64_t *written)
{
    struct ext2io *d = ch->private_data;
    *read = d->stats.bytes_read;
    *written = d->stats.bytes_written;
}

/* ---- for the journal (journal.c) and the data path (store_data.c) ---- */

static int raw_read(void *c, uint64_t off, void *buf, size_t len)
{
    errcode_t e = dev_read(c, off, buf, len);
    return e ? -(int)(e < 4096 ? e : EIO) : 0;
}

static int raw_write(void *c, uint64_t off, const void *buf, size_t len)
{
    errcode_t e = dev_write(c, off, buf, len);
    return e ? -(int)(e < 4096 ? e : EIO) : 0;
}

static int raw_flush(void *c)
{
    struct ext2io *d = c;
    int rc = d->writable ? d->dev.flush(d->dev.ctx) : 0;
    return rc ? -(int)blk_err(rc) : 0;
}

void store_io_sjdev(io_channel ch, struct sj_dev *out)
{
    *out = (struct sj_dev){ ch->private_data, raw_read, raw_write, raw_flush };
}

void store_io_set_journal(io_channel ch, struct sj *j)
{
    ((struct ext2io *)ch->private_data)->j = j;
}

/*
 * libext2fs zeroes every block it allocates (ext2fs_alloc_block3) with a
 * write through the io_manager: for an image's data block that would
 * put it in the journal, and its data after it, and the checkpoint
 * would write it twice more.  While store_data.c allocates, all-zero
 * writes are dropped: such a block is new (nothing libext2fs keeps in
 * a block it allocates is all zeros: an extent block has a header),
 * an extent block gets its content written next, and a data block is
 * written whole by store_data.c (zeros around the caller's bytes).
 */
void store_io_allocating(io_channel ch, bool on)
{
    ((struct ext2io *)ch->private_data)->allocating = on;
}

struct sj *store_io_journal(io_channel ch)
{
    return ((struct ext2io *)ch->private_data)->j;
}

errcode_t store_io_data_read(io_channel ch, uint64_t off, void *buf, size_t len)
{
    struct ext2io *d = ch->private_data;
    if (off > d->bytes || len > d->bytes - off)
        return EXT2_ET_LLSEEK_FAILED;
    return meta_read(d, off, buf, len);
}

errcode_t store_io_data_write(io_channel ch, uint64_t off, const void *buf, size_t len)
{
    struct ext2io *d = ch->private_data;
    if (off > d->bytes || len > d->bytes - off)
        return EXT2_ET_LLSEEK_FAILED;
    cache_drop(d, off, len);
    /* A block the journal holds (libext2fs wrote it since the last commit)
     * stays there, or its checkpoint would overwrite this. */
    if (d->j && sj_holds(d->j, off, len))
        return meta_write(d, off, buf, len);
    return dev_write(d, off, buf, len);
}
