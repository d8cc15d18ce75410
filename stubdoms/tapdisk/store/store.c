/* store.c: the image store: the ext4 filesystem on a device this domain owns (libext2fs), its files as img_io devices. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ext2fs/ext2_err.h>
#include <keel/store_fs.h>
#include <minios/blk.h>

#include "journal.h"
#include "store_int.h"

#define STORE_PATH_MAX 4096

struct store {
    ext2_filsys fs;
    bool writable;
    bool was_valid;         /* the superblock said "cleanly unmounted" */
    unsigned files;         /* open files */
    struct store_file *open_files;
    struct sj *j;           /* the metadata journal (store_journal.c), if the store has one */
};

struct store_file {
    struct img_io io;       /* first: the img_io handed out */
    struct store *s;
    ext2_file_t f;
    bool writable;
    char *dir;              /* the file's directory, "/..." without the final '/' */
    ext2_ino_t ino;
    struct store_file *next;   /* the store's open files */
    /* The extent that mapped the last whole-block read: logical blocks
     * map_lblk.. map_lblk+map_len-1 at physical map_pblk.  Dropped by
     * every write and truncation through this file (the only writer:
     * store_file_open allows one writer or only readers). */
    bool map_valid;
    blk64_t map_lblk, map_pblk;
    __u32 map_len;
};

static void seterr(char *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, STORE_ERRLEN, fmt, ap);
    va_end(ap);
}

/* A libext2fs error code (an errno or one of its table's) as a negative errno. */
static int to_errno(errcode_t e)
{
    if (e > 0 && e < 4096)
        return -(int)e;
    switch (e) {
    case EXT2_ET_FILE_NOT_FOUND: return -ENOENT;
    case EXT2_ET_NO_DIRECTORY: return -ENOTDIR;
    case EXT2_ET_RO_FILSYS:
    case EXT2_ET_FILE_RO: return -EROFS;
    case EXT2_ET_NO_MEMORY: return -ENOMEM;
    case EXT2_ET_BLOCK_ALLOC_FAIL:
    case EXT2_ET_INODE_ALLOC_FAIL:
    case EXT2_ET_DIR_NO_SPACE: return -ENOSPC;
    case EXT2_ET_FILE_TOO_BIG: return -EFBIG;
    case EXT2_ET_SYMLINK_LOOP: return -ELOOP;
    case EXT2_ET_LLSEEK_FAILED: return -EINVAL;
    default: return -EIO;
    }
}

static void init_messages(void)
{
    static bool done;
    if (!done) {
        initialize_ext2_error_table();
        done = true;
    }
}

/*
 * A store that was not closed cleanly (a crash, a power cut) may hold
 * files whose extent trees name blocks that its bitmap on disk still
 * calls free: libext2fs writes a file's extents and inode as it
 * allocates, the bitmaps and group descriptors at the next flush.
 * Allocating from that bitmap would hand those blocks out again and
 * two files would share them (seen: one image's flushed sectors
 * overwritten by another's).  So before writing to such a store, every
 * block an in-use inode names (data, extent tree, extended attributes)
 * is marked in use.  Nothing is unmarked: a block marked but named by
 * no inode stays allocated (leaked space, not shared data).  A block
 * number outside the filesystem or an unreadable inode or extent tree
 * means more damage than a crash of this writer leaves: -ENOTRECOVERABLE
 * (run e2fsck).
 */
struct mark_ctx {
    blk64_t first, end;     /* the filesystem's block range */
    unsigned long marked;
    bool bad;
};

static int mark_block(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
                      blk64_t ref_blk, int ref_offset, void *priv)
{
    struct mark_ctx *c = priv;
    (void)blockcnt, (void)ref_blk, (void)ref_offset;
    if (*blocknr < c->first || *blocknr >= c->end) {
        c->bad = true;
        return BLOCK_ABORT;
    }
    if (!ext2fs_test_block_bitmap2(fs->block_map, *blocknr)) {
        ext2fs_block_alloc_stats2(fs, *blocknr, +1);
        c->marked++;
    }
    return 0;
}

static int mark_named_blocks(ext2_filsys fs, char *err)
{
    struct mark_ctx c = { fs->super->s_first_data_block, ext2fs_blocks_count(fs->super), 0, false };
    int isize = EXT2_INODE_SIZE(fs->super);
    struct ext2_inode *inode = malloc(isize);
    ext2_inode_scan scan;
    if (!inode)
        return -ENOMEM;
    errcode_t e = ext2fs_open_inode_scan(fs, 0, &scan);
    if (e) {
        free(inode);
        seterr(err, "scanning the store's inodes: %s", error_message(e));
        return to_errno(e);
    }
    for (;;) {
        ext2_ino_t ino;
        e = ext2fs_get_next_inode_full(scan, &ino, inode, isize);
        if (!e && !ino)
            break;
        if (e && (!ino || ino > fs->super->s_inodes_count)) {
            seterr(err, "scanning the store's inodes: %s", error_message(e));
            break;
        }
        if (!ext2fs_test_inode_bitmap2(fs->inode_map, ino))
            continue;
        if (e) {
            seterr(err, "inode %u of a store left unclean: %s: run e2fsck", ino, error_message(e));
            e = EXT2_ET_INODE_CORRUPTED;
            break;
        }
        blk64_t acl = ext2fs_file_acl_block(fs, inode);
        if (acl && mark_block(fs, &acl, BLOCK_COUNT_TRANSLATOR, 0, 0, &c)) {
            seterr(err, "inode %u names block %llu, outside the store: run e2fsck", ino,
                    (unsigned long long)acl);
            e = EXT2_ET_INODE_CORRUPTED;
            break;
        }
        if (!ext2fs_inode_has_valid_blocks2(fs, inode))
            continue;
        e = ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY, NULL, mark_block, &c);
        if (e || c.bad) {
            seterr(err, "inode %u of a store left unclean: %s: run e2fsck", ino,
                   c.bad ? "a block outside the store" : error_message(e));
            e = EXT2_ET_INODE_CORRUPTED;
            break;
        }
    }
    ext2fs_close_inode_scan(scan);
    free(inode);
    if (e)
        return e == EXT2_ET_INODE_CORRUPTED ? -ENOTRECOVERABLE : to_errno(e);
    if (c.marked)
        printf("store: not closed cleanly: %lu blocks that files use were free in the bitmap: "
               "marked in use\n", c.marked);
    return 0;
}

/* The journal opened; a crash's transactions replayed first, then the
 * filesystem read again (what libext2fs read before is stale). */
static int open_journal(struct store *s, const char *name, int flags, char *err)
{
    bool replayed;
    int rc = store_journal_open(s->fs, &s->j, &replayed, err);
    if (rc || !replayed)
        return rc;
    ext2fs_free(s->fs);     /* nothing written: the replay went below it */
    s->fs = NULL;
    errcode_t e = ext2fs_open2(name, NULL, flags, 0, 0, store_ext2io_manager, &s->fs);
    if (e) {
        s->fs = NULL;
        seterr(err, "reopening the store after its journal's replay: %s", error_message(e));
        return to_errno(e);
    }
    rc = store_journal_open(s->fs, &s->j, &replayed, err);
    if (!rc && replayed) {
        seterr(err, "the store's journal still needs recovery after its replay");
        rc = -EIO;
    }
    return rc;
}

/* The superblock as a mount leaves it, written (through the journal once it is attached). */
static int mark_mounted(struct store *s, char *err)
{
    ext2_filsys fs = s->fs;
    fs->super->s_state &= ~EXT2_VALID_FS;
    fs->super->s_mnt_count++;
    fs->super->s_mtime = (__u32)time(NULL);
    ext2fs_mark_super_dirty(fs);
    errcode_t e = ext2fs_flush(fs);
    if (e) {
        seterr(err, "writing the store's superblock: %s", error_message(e));
        return to_errno(e);
    }
    return 0;
}

/* store_open gave up: nothing more written (ext2fs_free, not ext2fs_close). */
static void close_failed(struct store *s)
{
    store_io_set_journal(s->fs->io, NULL);
    sj_close(s->j);
    ext2fs_free(s->fs);
    free(s);
}

int store_commit(struct store *s)
{
    if (!s->writable)
        return 0;
    errcode_t e = ext2fs_flush(s->fs);
    return e ? to_errno(e) : 0;
}

/*
 * With a journal, the metadata libext2fs wrote since the last commit (a
 * file's new extents and size, bitmaps, group descriptors, superblock)
 * waits in memory (journal.c): a crash of this domain loses it, and with
 * it the blocks a write placed in a hole or past the end.  A commit
 * makes it survive.  Without a journal, libext2fs writes inodes and
 * extent blocks in place as it goes, and a crash's free-looking blocks
 * are marked in use at the next open (mark_named_blocks): nothing is
 * held back.
 */
int store_persist(struct store *s)
{
    if (!s->writable || !s->j)
        return 0;
    if (!sj_pending(s->j) &&
        !(s->fs->flags & (EXT2_FLAG_DIRTY | EXT2_FLAG_BB_DIRTY | EXT2_FLAG_IB_DIRTY)))
        return 0;
    int rc = store_commit(s);
    return rc ? rc : 1;
}

int store_open(struct minios_blk *dev, bool writable, struct store **out, char *err)
{
    if (!dev || !out) {
        seterr(err, "no device");
        return -EINVAL;
    }
    struct store_dev d;
    store_dev_virtio(dev, &d);
    return store_open_dev(&d, writable, out, err);
}

static int open_dev(const struct store_dev *dev, bool writable, bool journal_checked,
                    struct store **out, char *err);

int store_open_dev(const struct store_dev *dev, bool writable, struct store **out, char *err)
{
    return open_dev(dev, writable, false, out, err);
}

/* Read-only, once the journal is known to need no replay. */
static int open_after_check(const struct store_dev *dev, struct store **out, char *err)
{
    return open_dev(dev, false, true, out, err);
}

static int open_dev(const struct store_dev *dev, bool writable, bool journal_checked,
                    struct store **out, char *err)
{
    char name[32];
    init_messages();
    if (!dev || !out) {
        seterr(err, "no device");
        return -EINVAL;
    }
    if (writable && dev->read_only) {
        seterr(err, "the store's device is read-only: cannot open it writable");
        return -EROFS;
    }
    int rc = store_dev_name(dev, name, sizeof(name));
    if (rc) {
        seterr(err, "too many store devices");
        return rc;
    }
    struct store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    int flags = EXT2_FLAG_64BITS | (writable ? EXT2_FLAG_RW : 0);
    errcode_t e = ext2fs_open2(name, NULL, flags, 0, 0, store_ext2io_manager, &s->fs);
    if (e) {
        seterr(err, "no ext2/3/4 filesystem that libext2fs can open on the store: %s",
               error_message(e));
        free(s);
        /* A device error is an errno; anything of the library's own
         * table says the disk holds nothing it can open. */
        return e > 0 && e < 4096 ? -(int)e : e == EXT2_ET_NO_MEMORY ? -ENOMEM : -EINVAL;
    }
    if (!writable && !journal_checked && ext2fs_has_feature_journal_needs_recovery(s->fs->super)) {
        /* Read-only, but a crash left transactions in the journal: the
         * filesystem in place is older than its last commit.  As Linux's
         * read-only mount does, replay first if the device can be
         * written (a writable open replays, a close leaves it clean),
         * and refuse if it cannot. */
        bool pending = false;
        rc = ext2fs_has_feature_journal(s->fs->super) ? store_check(s, err, STORE_ERRLEN) : 0;
        if (!rc)
            rc = store_journal_pending(s->fs, &pending, err);
        ext2fs_free(s->fs);
        free(s);
        if (rc || !pending)
            return rc ? rc : open_after_check(dev, out, err);
        if (dev->read_only) {
            seterr(err, "the store's journal needs recovery and its device is read-only: run e2fsck");
            return -EROFS;
        }
        struct store *w;
        rc = store_open_dev(dev, true, &w, err);
        if (!rc)
            rc = store_close(w, err);
        if (rc)
            return rc;
        printf("store: %s: replayed its journal before opening it read-only, as a mount does\n", name);
        return open_after_check(dev, out, err);
    }
    if (writable) {
        /* The journal's inode is found through the group descriptors and
         * shares an inode table block with the root's: both checked
         * first, with store_check's words. */
        rc = ext2fs_has_feature_journal(s->fs->super) ? store_check(s, err, STORE_ERRLEN) : 0;
        if (!rc)
            rc = open_journal(s, name, flags, err);
        if (rc) {
            if (s->fs)
                ext2fs_close_free(&s->fs);
            free(s);
            return rc;
        }
    }
    ext2_filsys fs = s->fs;
    if (writable && ext2fs_has_feature_journal_needs_recovery(fs->super) && !s->j) {
        seterr(err, "the store's journal needs recovery (libext2fs does not replay it): run e2fsck");
        close_failed(s);
        return -ENOTRECOVERABLE;
    }
    if (writable && (fs->super->s_state & EXT2_ERROR_FS)) {
        seterr(err, "the store's filesystem has errors recorded: run e2fsck");
        close_failed(s);
        return -ENOTRECOVERABLE;
    }
    s->writable = writable;
    if (writable) {
        e = ext2fs_read_bitmaps(fs);
        if (e) {
            seterr(err, "reading the store's bitmaps: %s", error_message(e));
            close_failed(s);
            return to_errno(e);
        }
        /* As a mount does: "not cleanly unmounted" until store_close, so
         * that a crash leaves a store that fsck will check; with a
         * journal, "needs recovery" from now on (the journal superblock
         * says whether there is anything to replay), written in place
         * before the journal is used. */
        s->was_valid = fs->super->s_state & EXT2_VALID_FS;
        if (s->j) {
            fs->super->s_state &= ~EXT2_VALID_FS;
            ext2fs_set_feature_journal_needs_recovery(fs->super);
            rc = mark_mounted(s, err);
            if (rc) {
                close_failed(s);
                return rc;
            }
            store_io_set_journal(fs->io, s->j);
        }
        rc = s->was_valid ? 0 : mark_named_blocks(fs, err);
        if (rc) {
            close_failed(s);
            return rc;
        }
        if (s->j) {
            e = ext2fs_flush(fs);   /* what mark_named_blocks marked: a commit */
            if (e)
                seterr(err, "writing the store's bitmaps: %s", error_message(e));
            rc = e ? to_errno(e) : 0;
        } else {
            rc = mark_mounted(s, err);
        }
        if (rc) {
            close_failed(s);
            return rc;
        }
    }
    *out = s;
    return 0;
}

int store_close(struct store *s, char *err)
{
    if (s->files) {
        seterr(err, "%u files still open", s->files);
        return -EBUSY;
    }
    if (s->writable) {
        if (s->was_valid)
            s->fs->super->s_state |= EXT2_VALID_FS;
        ext2fs_mark_super_dirty(s->fs);
    }
    if (s->j) {
        /* The last transaction, checkpointed; the journal empty; then
         * "needs recovery" cleared in place, as an unmount does. */
        errcode_t e = ext2fs_flush(s->fs);
        int rc = e ? to_errno(e) : sj_empty(s->j);
        store_io_set_journal(s->fs->io, NULL);
        sj_close(s->j);
        s->j = NULL;
        if (rc) {
            seterr(err, "closing the store: committing its journal: %d", rc);
            ext2fs_free(s->fs);
            free(s);
            return rc;
        }
        ext2fs_clear_feature_journal_needs_recovery(s->fs->super);
        ext2fs_mark_super_dirty(s->fs);
    }
    /* ext2fs_close writes what is dirty and flushes the device. */
    errcode_t e = ext2fs_close_free(&s->fs);
    free(s);
    if (e) {
        seterr(err, "closing the store: %s", error_message(e));
        return to_errno(e);
    }
    return 0;
}

void store_stats(const struct store *s, uint64_t *read, uint64_t *written)
{
    store_io_stats(s->fs->io, read, written);
}

/* ---- files as img_io ---- */

/* Looks up the initialised extent holding logical block lblk into the
 * file's map: 0, or -1 (a hole, an unwritten extent, no extents, an
 * error: the caller reads the ordinary way, which says what is wrong). */
static int map_block(struct store_file *sf, blk64_t lblk)
{
    struct ext2_inode *in = ext2fs_file_get_inode(sf->f);
    if (!in || !(in->i_flags & EXT4_EXTENTS_FL))
        return -1;
    ext2_extent_handle_t h;
    struct ext2fs_extent ex;
    errcode_t e = ext2fs_extent_open2(sf->s->fs, sf->ino, in, &h);
    if (e)
        return -1;
    e = ext2fs_extent_goto(h, lblk);
    if (!e)
        e = ext2fs_extent_get(h, EXT2_EXTENT_CURRENT, &ex);
    ext2fs_extent_free(h);
    if (e || (ex.e_flags & EXT2_EXTENT_FLAGS_UNINIT) || lblk < ex.e_lblk ||
        lblk - ex.e_lblk >= ex.e_len)
        return -1;
    sf->map_lblk = ex.e_lblk;
    sf->map_pblk = ex.e_pblk;
    sf->map_len = ex.e_len;
    sf->map_valid = true;
    return 0;
}

/*
 * Whole blocks inside the file read straight from the device through
 * the file's last extent: libext2fs's own read maps every block again,
 * walking the extent tree and checking the checksum of its extent block
 * each time (a sparse qcow2 from qemu-img has more extents than the
 * inode holds: that walk was most of a 4 KiB read's cost, docs/disk.md
 * "Figures").  0, or -1 when the ordinary read must do it.
 */
static int mapped_read(struct store_file *sf, uint64_t off, uint8_t *p, size_t len)
{
    ext2_filsys fs = sf->s->fs;
    uint64_t bs = fs->blocksize;
    if (off % bs || len % bs)
        return -1;
    /* A block this file wrote is buffered in libext2fs until written out. */
    if (sf->writable && ext2fs_file_flush(sf->f))
        return -1;
    for (blk64_t lblk = off / bs, end = (off + len) / bs; lblk < end;) {
        if ((!sf->map_valid || lblk < sf->map_lblk || lblk - sf->map_lblk >= sf->map_len) &&
            map_block(sf, lblk))
            return -1;
        blk64_t n = sf->map_lblk + sf->map_len - lblk;
        if (n > end - lblk)
            n = end - lblk;
        if (n > 256)
            n = 256;
        if (io_channel_read_blk64(fs->io, sf->map_pblk + (lblk - sf->map_lblk), (int)n, p))
            return -1;
        p += n * bs;
        lblk += n;
    }
    return 0;
}

static int file_pread(struct img_io *io, void *buf, size_t len, uint64_t off)
{
    struct store_file *sf = (struct store_file *)io;
    __u64 size;
    errcode_t e = ext2fs_file_get_lsize(sf->f, &size);
    if (e)
        return to_errno(e);
    uint8_t *p = buf;
    size_t have = off >= size ? 0 : (size - off < len ? (size_t)(size - off) : len);
    if (have == len && mapped_read(sf, off, p, len) == 0)
        return 0;
    sf->map_valid = false;
    if (have) {
        int rc = store_data_pread(sf->s->fs, sf->ino, ext2fs_file_get_inode(sf->f), p, have, off);
        if (rc)
            return rc;
    }
    memset(p + have, 0, len - have);
    return 0;
}

/*
 * A file write in pieces: between two, the inode is written and the
 * metadata is consistent, so when the journal holds more than half of
 * what one transaction may, that is a commit point (a guest writing
 * gigabytes without a flush never outgrows the journal).
 */
static int store_file_write(struct store *s, ext2_ino_t ino, struct ext2_inode *inode,
                            const void *buf, size_t len, uint64_t off)
{
    const size_t piece = 1u << 20;
    const uint8_t *p = buf;
    while (len) {
        size_t n = len < piece ? len : piece;
        int rc = store_data_pwrite(s->fs, ino, inode, p, n, off);
        if (rc)
            return rc;
        if (s->j && sj_pending(s->j) > sj_capacity(s->j) / 2) {
            rc = store_commit(s);
            if (rc)
                return rc;
        }
        p += n, off += n, len -= n;
    }
    return 0;
}

static int file_pwrite(struct img_io *io, const void *buf, size_t len, uint64_t off)
{
    struct store_file *sf = (struct store_file *)io;
    if (!sf->writable)
        return -EBADF;
    if (len == 0)
        return 0;
    sf->map_valid = false;      /* the direct-read extent may change */
    return store_file_write(sf->s, sf->ino, ext2fs_file_get_inode(sf->f), buf, len, off);
}

/* The file's buffered block and inode, then the filesystem's metadata,
 * then a device flush. */
static int file_sync(struct store_file *sf)
{
    if (!sf->writable)
        return 0;
    ext2_filsys fs = sf->s->fs;
    errcode_t e = ext2fs_file_flush(sf->f);
    if (!e)
        e = ext2fs_write_inode(fs, ext2fs_file_get_inode_num(sf->f), ext2fs_file_get_inode(sf->f));
    if (!e)
        e = ext2fs_flush(fs);
    return e ? to_errno(e) : 0;
}

static int file_flush(struct img_io *io)
{
    return file_sync((struct store_file *)io);
}

/* img_io's persist: the file's writes survive tapdisk's crash. */
static int file_persist(struct img_io *io)
{
    struct store_file *sf = (struct store_file *)io;
    if (!sf->writable)
        return 0;
    errcode_t e = ext2fs_file_flush(sf->f);
    return e ? to_errno(e) : store_persist(sf->s);
}

static int64_t file_size(struct img_io *io)
{
    struct store_file *sf = (struct store_file *)io;
    __u64 size;
    errcode_t e = ext2fs_file_get_lsize(sf->f, &size);
    if (e)
        return to_errno(e);
    return size > INT64_MAX ? -EFBIG : (int64_t)size;
}

/*
 * Debian 12's libext2fs (1.47.0) cannot free a range of an extent-mapped
 * file that ends at the filesystem's last block (punch_extent_blocks'
 * off-by-one: "Illegal block number", docs/diskfs.md), so truncating a
 * file that holds that block (one placed by other tools: we never
 * allocate it, store_keep_last_block) failed with EIO.  Before such a
 * truncation the last block, if the file maps it at or past logical
 * block `keep`, is unmapped and freed here; the library then frees the
 * rest, none of which ends at the last block.
 */
static errcode_t release_last_block(ext2_filsys fs, ext2_file_t f, blk64_t keep)
{
    struct ext2_inode *in = ext2fs_file_get_inode(f);
    ext2_ino_t ino = ext2fs_file_get_inode_num(f);
    blk64_t last = ext2fs_blocks_count(fs->super) - 1;
    if (!(in->i_flags & EXT4_EXTENTS_FL))
        return 0;
    errcode_t e = ext2fs_file_flush(f);     /* its buffered block first */
    if (e)
        return e;
    ext2_extent_handle_t h;
    e = ext2fs_extent_open2(fs, ino, in, &h);
    if (e)
        return e;
    struct ext2fs_extent x;
    blk64_t lblk = 0;
    int found = 0;
    for (e = ext2fs_extent_get(h, EXT2_EXTENT_ROOT, &x); !e;
         e = ext2fs_extent_get(h, EXT2_EXTENT_NEXT_LEAF, &x)) {
        if ((x.e_flags & EXT2_EXTENT_FLAGS_LEAF) && x.e_pblk <= last && last - x.e_pblk < x.e_len) {
            lblk = x.e_lblk + (last - x.e_pblk);
            found = 1;
            break;
        }
    }
    if (e == EXT2_ET_EXTENT_NO_NEXT || e == EXT2_ET_NO_CURRENT_NODE)
        e = 0;
    if (!e && found && lblk >= keep) {
        e = ext2fs_extent_set_bmap(h, lblk, 0, 0);     /* unmapped (the tree may shrink) */
        if (!e) {
            ext2fs_block_alloc_stats2(fs, last, -1);
            e = ext2fs_iblk_sub_blocks(fs, in, 1);
        }
        if (!e)
            e = ext2fs_write_inode(fs, ino, in);
    }
    ext2fs_extent_free(h);
    return e;
}

static int file_truncate(struct img_io *io, uint64_t size)
{
    struct store_file *sf = (struct store_file *)io;
    if (!sf->writable)
        return -EBADF;
    sf->map_valid = false;
    ext2_filsys fs = sf->s->fs;
    errcode_t e = release_last_block(fs, sf->f, (size + fs->blocksize - 1) / fs->blocksize);
    if (!e)
        e = ext2fs_file_set_size2(sf->f, size);
    if (e)
        return to_errno(e);
    /* Blocks freed are never reused before the free is committed: a
     * crash would leave them the old file's, holding another's data. */
    return sf->s->j ? store_commit(sf->s) : 0;
}

static int file_open_related(struct img_io *io, const char *name, bool writable,
                             struct img_io **out)
{
    struct store_file *sf = (struct store_file *)io;
    if (!name || !*name)
        return -EINVAL;
    if (name[0] == '/')
        return store_file_open(sf->s, name, writable, out, NULL);
    size_t n = strlen(sf->dir) + 1 + strlen(name) + 1;
    if (n > STORE_PATH_MAX)
        return -ENAMETOOLONG;
    char *path = malloc(n);
    if (!path)
        return -ENOMEM;
    snprintf(path, n, "%s/%s", sf->dir, name);
    int rc = store_file_open(sf->s, path, writable, out, NULL);
    free(path);
    return rc;
}

static void file_close(struct img_io *io)
{
    struct store_file *sf = (struct store_file *)io;
    file_sync(sf);
    ext2fs_file_close(sf->f);
    sf->s->files--;
    for (struct store_file **pp = &sf->s->open_files; *pp; pp = &(*pp)->next)
        if (*pp == sf) {
            *pp = sf->next;
            break;
        }
    free(sf->dir);
    free(sf);
}

static const struct img_io_ops file_ops = {
    .pread = file_pread,
    .pwrite = file_pwrite,
    .flush = file_flush,
    .persist = file_persist,
    .size = file_size,
    .truncate = file_truncate,
    .open_related = file_open_related,
    .close = file_close,
};

int store_file_open(struct store *s, const char *path, bool writable,
                    struct img_io **out, char *err)
{
    if (!s || !path || path[0] != '/' || strnlen(path, STORE_PATH_MAX) >= STORE_PATH_MAX) {
        seterr(err, "a store path is absolute and shorter than %d bytes", STORE_PATH_MAX);
        return -EINVAL;
    }
    if (writable && !s->writable) {
        seterr(err, "%s: the store is open read-only", path);
        return -EROFS;
    }
    ext2_filsys fs = s->fs;
    ext2_ino_t ino;
    errcode_t e = ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &ino);
    if (e) {
        seterr(err, "%s: %s", path, error_message(e));
        return to_errno(e);
    }
    struct ext2_inode inode;
    e = ext2fs_read_inode(fs, ino, &inode);
    if (e) {
        seterr(err, "%s: %s", path, error_message(e));
        return to_errno(e);
    }
    if (!LINUX_S_ISREG(inode.i_mode)) {
        seterr(err, "%s: not a regular file", path);
        return LINUX_S_ISDIR(inode.i_mode) ? -EISDIR : -EINVAL;
    }
    /* One writer and no readers, or readers only (backing files shared
     * by several overlays): two guests never write one image. */
    for (struct store_file *o = s->open_files; o; o = o->next)
        if (o->ino == ino && (writable || o->writable)) {
            seterr(err, "%s: already open%s", path, o->writable ? " for writing" : "");
            return -EBUSY;
        }
    struct store_file *sf = calloc(1, sizeof(*sf));
    const char *slash = strrchr(path, '/');
    char *dir = strndup(path, (size_t)(slash - path));
    if (!sf || !dir) {
        free(sf);
        free(dir);
        return -ENOMEM;
    }
    e = ext2fs_file_open(fs, ino, writable ? EXT2_FILE_WRITE : 0, &sf->f);
    if (e) {
        seterr(err, "%s: %s", path, error_message(e));
        free(sf);
        free(dir);
        return to_errno(e);
    }
    sf->io.ops = &file_ops;
    sf->io.priv = sf;
    sf->s = s;
    sf->writable = writable;
    sf->dir = dir;
    sf->ino = ino;
    sf->next = s->open_files;
    s->open_files = sf;
    s->files++;
    *out = &sf->io;
    return 0;
}

/* ---- for store_fs.c (names: create, remove, list) ---- */

ext2_filsys store_ext2fs(struct store *s)
{
    return s->fs;
}

bool store_writable(const struct store *s)
{
    return s->writable;
}

bool store_ino_open(const struct store *s, ext2_ino_t ino)
{
    for (const struct store_file *o = s->open_files; o; o = o->next)
        if (o->ino == ino)
            return true;
    return false;
}

ext2_ino_t store_file_ino(struct img_io *io)
{
    return ((struct store_file *)io)->ino;
}

struct store *store_file_store(struct img_io *io)
{
    return ((struct store_file *)io)->s;
}

int store_errno(errcode_t e)
{
    return to_errno(e);
}
