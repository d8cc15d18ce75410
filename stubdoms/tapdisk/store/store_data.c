/* store_data.c: a store file's data read and written below libext2fs: blocks mapped (and allocated) with ext2fs_bmap2, data straight to the device, so the journal holds metadata only. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ext2fs/ext2_err.h>

#include "store_int.h"

/*
 * libext2fs's own file I/O (ext2fs_file_write) writes data through the
 * io_manager, where it could not be told from metadata.  Here the file's
 * blocks are mapped by ext2fs_bmap2 on the open file's inode (the
 * ext2_file's copy: allocation updates it and writes it, through the
 * journal) and the data goes to the device below the journal; a commit
 * flushes the device before its commit block (ordered mode), so metadata
 * never names a block whose data is not on the disk.  A block allocated
 * here, or an unwritten (uninit) one, is written whole: zeros around the
 * caller's bytes, never the disk's old content.
 */

#define RUN_MAX (256u * 1024u)   /* bytes in one device request */

struct run {
    uint64_t off;               /* device byte offset of the run's start */
    size_t len;
    uint8_t *buf;               /* where its bytes are (read: destination) */
};

int store_data_pread(ext2_filsys fs, ext2_ino_t ino, struct ext2_inode *inode, void *buf,
                     size_t len, uint64_t off)
{
    uint32_t bs = fs->blocksize;
    uint8_t *p = buf;
    struct run r = { 0, 0, NULL };
    while (len) {
        blk64_t lblk = off / bs, pblk = 0;
        size_t in = (size_t)(off % bs), n = bs - in < len ? bs - in : len;
        int flags = 0;
        errcode_t e = ext2fs_bmap2(fs, ino, inode, NULL, 0, lblk, &flags, &pblk);
        if (e)
            return store_errno(e);
        bool data = pblk && !(flags & BMAP_RET_UNINIT);
        uint64_t at = (uint64_t)pblk * bs + in;
        if (r.len && (!data || r.off + r.len != at || r.len + n > RUN_MAX)) {
            e = store_io_data_read(fs->io, r.off, r.buf, r.len);
            if (e)
                return store_errno(e);
            r.len = 0;
        }
        if (!data) {
            memset(p, 0, n);        /* a hole or an unwritten extent */
        } else if (r.len) {
            r.len += n;
        } else {
            r = (struct run){ at, n, p };
        }
        p += n, off += n, len -= n;
    }
    if (r.len) {
        errcode_t e = store_io_data_read(fs->io, r.off, r.buf, r.len);
        if (e)
            return store_errno(e);
    }
    return 0;
}

static errcode_t flush_run(ext2_filsys fs, struct run *r)
{
    errcode_t e = r->len ? store_io_data_write(fs->io, r->off, r->buf, r->len) : 0;
    r->len = 0;
    return e;
}

int store_data_pwrite(ext2_filsys fs, ext2_ino_t ino, struct ext2_inode *inode, const void *buf,
                      size_t len, uint64_t off)
{
    uint32_t bs = fs->blocksize;
    const uint8_t *p = buf;
    uint64_t end = off + len, size = EXT2_I_SIZE(inode);
    struct run r = { 0, 0, NULL };
    uint8_t *whole = NULL;
    errcode_t e = 0;
    bool changed = false;       /* a block allocated or converted */
    if (end < off)
        return -EFBIG;
    while (len) {
        blk64_t lblk = off / bs, pblk = 0;
        size_t in = (size_t)(off % bs), n = bs - in < len ? bs - in : len;
        int flags = 0;
        e = ext2fs_bmap2(fs, ino, inode, NULL, 0, lblk, &flags, &pblk);
        if (e)
            break;
        bool fresh = false;
        if (!pblk) {
            /* Allocated now: the extent tree and the inode (i_blocks)
             * through the journal; i_size is set below, before any
             * commit (commits come between two calls). */
            e = flush_run(fs, &r);
            if (!e) {
                store_io_allocating(fs->io, true);
                e = ext2fs_bmap2(fs, ino, inode, NULL, BMAP_ALLOC, lblk, NULL, &pblk);
                store_io_allocating(fs->io, false);
            }
            if (!e && !pblk)
                e = EXT2_ET_BLOCK_ALLOC_FAIL;
            if (e)
                break;
            fresh = changed = true;
        } else if (flags & BMAP_RET_UNINIT) {
            e = flush_run(fs, &r);
            if (!e)
                e = ext2fs_bmap2(fs, ino, inode, NULL, BMAP_SET, lblk, NULL, &pblk);
            if (e)
                break;
            fresh = changed = true;
        }
        uint64_t at = (uint64_t)pblk * bs + in;
        if (fresh && n < bs) {
            /* Zeros around the bytes: the block's old content is not the file's. */
            e = flush_run(fs, &r);
            if (!e && !whole && !(whole = malloc(bs)))
                e = EXT2_ET_NO_MEMORY;
            if (e)
                break;
            memset(whole, 0, bs);
            memcpy(whole + in, p, n);
            e = store_io_data_write(fs->io, (uint64_t)pblk * bs, whole, bs);
            if (e)
                break;
        } else {
            if (r.len && (r.off + r.len != at || r.len + n > RUN_MAX)) {
                e = flush_run(fs, &r);
                if (e)
                    break;
            }
            if (r.len)
                r.len += n;
            else
                r = (struct run){ at, n, (uint8_t *)p };
        }
        p += n, off += n, len -= n;
    }
    errcode_t e2 = flush_run(fs, &r);
    if (!e)
        e = e2;
    free(whole);
    /* The size: the end of the write, or on failure (ENOSPC) the end of
     * what was placed before it, as write(2) counts a short write. */
    uint64_t placed = e ? off : end;
    e2 = placed > size ? ext2fs_inode_size_set(fs, inode, placed) : 0;
    /* An overwrite of blocks the file has changes no metadata: nothing
     * for the journal, so nothing for the next commit (img_persist). */
    if (!e2 && (changed || placed > size))
        e2 = ext2fs_write_inode(fs, ino, inode);
    if (!e)
        e = e2;
    return e ? store_errno(e) : 0;
}
