/* diskfs.c: an appliance's own ext4 disk as minios's mounted filesystem: newlib's file calls over the store (libext2fs) over blkfront. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ext2fs/ext2_fs.h>
#include <keel/diskfs.h>
#include <keel/store.h>
#include <keel/store_fs.h>
#include <minios/blkfront.h>
#include <minios/events.h>
#include <minios/fs.h>
#include <minios/gnttab.h>
#include <minios/thread.h>

/*
 * libext2fs is not reentrant and blkfront requests block the calling
 * thread (others run meanwhile), so every call takes one lock.
 */
static struct {
    struct minios_blkfront *bf;
    struct store *st;
    bool writable;
    char prefix[MINIOS_FS_PREFIX_MAX];
} fs;

static bool busy;
static struct minios_waitq lockq = MINIOS_WAITQ_INIT;

static void lock(void)
{
    MINIOS_WAIT_EVENT(&lockq, !busy);
    busy = true;
}

static void unlock(void)
{
    busy = false;
    minios_waitq_wake_one(&lockq);
}

struct dfile {
    struct img_io *io;
    uint64_t off;
    int flags;
    char *path;             /* as opened (for reopen) */
};

static void to_stat(const struct store_stat *s, struct stat *st)
{
    *st = (struct stat){
        .st_dev = 1, .st_ino = s->ino, .st_mode = s->mode, .st_nlink = s->nlink,
        .st_size = (off_t)s->size, .st_blksize = (blksize_t)s->blksize,
        .st_blocks = (blkcnt_t)s->blocks,
    };
    st->st_atime = s->atime;
    st->st_mtime = s->mtime;
    st->st_ctime = s->ctime;
}

static int do_open(void *ctx, const char *path, int flags, mode_t mode, void **out)
{
    (void)ctx;
    int acc = flags & O_ACCMODE;
    if (acc != O_RDONLY && acc != O_WRONLY && acc != O_RDWR)
        return -EINVAL;
    bool wr = acc != O_RDONLY;
    struct store_stat ss;
    int rc;
    lock();
    rc = store_stat(fs.st, path, true, &ss);
    if (rc == 0 && (flags & O_CREAT) && (flags & O_EXCL)) {
        rc = -EEXIST;
        goto out;
    }
    if (rc == -ENOENT && (flags & O_CREAT)) {
        size_t n = strlen(path);
        if (path[n - 1] == '/') {
            rc = -EISDIR;
            goto out;
        }
        rc = store_create(fs.st, path, (uint16_t)(mode & 07777));
        if (rc)
            goto out;
        rc = store_stat(fs.st, path, true, &ss);
    }
    if (rc)
        goto out;
    if ((ss.mode & S_IFMT) == S_IFDIR) {
        rc = -EISDIR;
        goto out;
    }
    if ((ss.mode & S_IFMT) != S_IFREG) {
        rc = -EINVAL;
        goto out;
    }
    struct dfile *f = calloc(1, sizeof(*f));
    if (!f) {
        rc = -ENOMEM;
        goto out;
    }
    rc = store_file_open(fs.st, path, wr, &f->io, NULL);
    if (rc) {
        free(f);
        goto out;
    }
    if (wr && (flags & O_TRUNC)) {
        rc = f->io->ops->truncate(f->io, 0);
        if (rc) {
            f->io->ops->close(f->io);
            free(f);
            goto out;
        }
    }
    f->flags = flags;
    if (wr) {
        f->path = strdup(path);
        if (!f->path) {
            f->io->ops->close(f->io);
            free(f);
            rc = -ENOMEM;
            goto out;
        }
    }
    *out = f;
out:
    unlock();
    return rc;
}

#define MAX_IO (1u << 30)

static ssize_t do_read(void *file, void *buf, size_t n)
{
    struct dfile *f = file;
    if ((f->flags & O_ACCMODE) == O_WRONLY)
        return -EBADF;
    lock();
    int64_t size = f->io ? f->io->ops->size(f->io) : -EIO;
    ssize_t r;
    if (size < 0) {
        r = size;
    } else {
        uint64_t left = f->off >= (uint64_t)size ? 0 : (uint64_t)size - f->off;
        size_t want = n > MAX_IO ? MAX_IO : n;
        if (want > left)
            want = (size_t)left;
        int rc = want ? f->io->ops->pread(f->io, buf, want, f->off) : 0;
        if (rc) {
            r = rc;
        } else {
            f->off += want;
            r = (ssize_t)want;
        }
    }
    unlock();
    return r;
}

/*
 * After a failed write libext2fs keeps the block it could not place
 * (ENOSPC) as a dirty buffer without a disk block: every later read,
 * write or flush of that open file tries to place it again and fails, and
 * once space is free it would land past the end of the file.  Closing the
 * store's file drops that buffer; the file is opened again by its path
 * (it cannot have been unlinked or renamed while open: EBUSY).  On
 * failure the descriptor is left without a file: its calls give EIO.
 */
static void reopen(struct dfile *f)
{
    f->io->ops->close(f->io);
    f->io = NULL;
    if (store_file_open(fs.st, f->path, true, &f->io, NULL))
        f->io = NULL;
}

static ssize_t do_write(void *file, const void *buf, size_t n)
{
    struct dfile *f = file;
    if ((f->flags & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    size_t want = n > MAX_IO ? MAX_IO : n;
    ssize_t r;
    lock();
    if (!f->io) {
        r = -EIO;
        goto out;
    }
    int64_t before = f->io->ops->size(f->io);
    if (before < 0) {
        r = before;
        goto out;
    }
    if (f->flags & O_APPEND)
        f->off = (uint64_t)before;
    if (f->off + want < f->off || f->off + want > (uint64_t)INT64_MAX) {
        r = -EFBIG;
        goto out;
    }
    int rc = want ? f->io->ops->pwrite(f->io, buf, want, f->off) : 0;
    if (!rc) {
        f->off += want;
        r = (ssize_t)want;
        goto out;
    }
    r = rc;
    reopen(f);
    /* A write that extended the file and stopped part way (the disk is
     * full) counts what it wrote, as write(2) does; the next one gets
     * the error.  libext2fs sets the size to the end of the last block
     * it placed. */
    int64_t after = f->io ? f->io->ops->size(f->io) : -1;
    if ((uint64_t)before <= f->off && after > (int64_t)f->off) {
        uint64_t done = (uint64_t)after - f->off;
        if (done > want)
            done = want;
        f->off += done;
        r = (ssize_t)done;
    }
out:
    unlock();
    return r;
}

static off_t do_lseek(void *file, off_t off, int whence)
{
    struct dfile *f = file;
    int64_t base;
    lock();
    switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = (int64_t)f->off; break;
    case SEEK_END: base = f->io ? f->io->ops->size(f->io) : -EIO; break;
    default: base = -EINVAL; break;
    }
    unlock();
    if (base < 0)
        return (off_t)base;
    if ((off > 0 && base > INT64_MAX - off) || base + off < 0)
        return -EINVAL;
    f->off = (uint64_t)(base + off);
    return (off_t)f->off;
}

static int do_fstat(void *file, struct stat *st)
{
    struct dfile *f = file;
    struct store_stat ss;
    lock();
    int rc = f->io ? store_file_stat(f->io, &ss) : -EIO;
    unlock();
    if (!rc)
        to_stat(&ss, st);
    return rc;
}

static int do_fsync(void *file)
{
    struct dfile *f = file;
    lock();
    int rc = f->io ? f->io->ops->flush(f->io) : -EIO;
    unlock();
    return rc;
}

static int do_ftruncate(void *file, off_t len)
{
    struct dfile *f = file;
    if ((f->flags & O_ACCMODE) == O_RDONLY)
        return -EINVAL;
    lock();
    int rc = f->io ? f->io->ops->truncate(f->io, (uint64_t)len) : -EIO;
    unlock();
    return rc;
}

static int do_close(void *file)
{
    struct dfile *f = file;
    lock();
    /* The store's close writes the file's block, inode and metadata back. */
    if (f->io)
        f->io->ops->close(f->io);
    unlock();
    free(f->path);
    free(f);
    return 0;
}

static int do_stat(void *ctx, const char *path, struct stat *st, int follow)
{
    (void)ctx;
    struct store_stat ss;
    lock();
    int rc = store_stat(fs.st, path, follow != 0, &ss);
    unlock();
    if (!rc)
        to_stat(&ss, st);
    return rc;
}

static int do_unlink(void *ctx, const char *path)
{
    (void)ctx;
    lock();
    int rc = store_unlink(fs.st, path);
    unlock();
    return rc;
}

static int do_mkdir(void *ctx, const char *path, mode_t mode)
{
    (void)ctx;
    lock();
    int rc = store_mkdir(fs.st, path, (uint16_t)(mode & 07777));
    unlock();
    return rc;
}

static int do_rmdir(void *ctx, const char *path)
{
    (void)ctx;
    lock();
    int rc = store_rmdir(fs.st, path);
    unlock();
    return rc;
}

static int do_link(void *ctx, const char *oldpath, const char *newpath)
{
    (void)ctx;
    lock();
    int rc = store_link(fs.st, oldpath, newpath);
    unlock();
    return rc;
}

/* A directory is listed whole at opendir (a snapshot). */
struct ddir {
    struct dirent *ents;
    size_t n, cap, next;
    int err;
};

static int add_ent(void *arg, const char *name, uint32_t ino, int type)
{
    struct ddir *d = arg;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 16;
        struct dirent *e = realloc(d->ents, cap * sizeof(*e));
        if (!e) {
            d->err = -ENOMEM;
            return 1;
        }
        d->ents = e;
        d->cap = cap;
    }
    struct dirent *e = &d->ents[d->n++];
    e->d_ino = ino;
    e->d_type = (unsigned char)type;
    snprintf(e->d_name, sizeof(e->d_name), "%s", name);
    return 0;
}

static int do_opendir(void *ctx, const char *path, void **out)
{
    (void)ctx;
    struct ddir *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    lock();
    int rc = store_readdir(fs.st, path, add_ent, d);
    unlock();
    if (!rc)
        rc = d->err;
    if (rc) {
        free(d->ents);
        free(d);
        return rc;
    }
    *out = d;
    return 0;
}

static int do_readdir(void *dir, struct dirent *ent)
{
    struct ddir *d = dir;
    if (d->next == d->n)
        return 0;
    *ent = d->ents[d->next++];
    return 1;
}

static void do_closedir(void *dir)
{
    struct ddir *d = dir;
    free(d->ents);
    free(d);
}

static void seterr(char *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, DISKFS_ERRLEN, fmt, ap);
    va_end(ap);
}

static const struct minios_fs_ops ops = {
    .open = do_open, .read = do_read, .write = do_write, .lseek = do_lseek,
    .fstat = do_fstat, .fsync = do_fsync, .ftruncate = do_ftruncate, .close = do_close,
    .stat = do_stat, .unlink = do_unlink, .mkdir = do_mkdir, .rmdir = do_rmdir,
    .link = do_link, .opendir = do_opendir, .readdir = do_readdir, .closedir = do_closedir,
};

static int bf_read(void *c, uint64_t s, void *b, size_t n) { return minios_blkfront_read(c, s, b, n); }
static int bf_write(void *c, uint64_t s, const void *b, size_t n) { return minios_blkfront_write(c, s, b, n); }
static int bf_flush(void *c) { return minios_blkfront_flush(c); }

/*
 * Before libext2fs opens the filesystem: its superblock (bytes 1024 to
 * 2047) must have ext2/3/4's magic and a sane block size, and the disk
 * must hold every block the superblock counts (an image cut short would
 * otherwise mount and fail, or read zeros, only where it ends).  0, or a
 * negative errno with the reason in e.
 */
static int check_super(struct minios_blkfront *bf, char *e, size_t elen)
{
    uint64_t sectors = minios_blkfront_sectors(bf);
    if (sectors < 4) {
        snprintf(e, elen, "the disk has %llu sectors: too small to hold an ext2/3/4 superblock",
                 (unsigned long long)sectors);
        return -EINVAL;
    }
    static struct ext2_super_block sb;
    _Static_assert(sizeof(sb) == 1024, "ext2_super_block is 1024 bytes");
    int rc = minios_blkfront_read(bf, 2, &sb, 2);
    if (rc) {
        snprintf(e, elen, "reading the superblock (bytes 1024..2047) failed: %d", rc);
        return -EIO;
    }
    if (sb.s_magic != EXT2_SUPER_MAGIC) {
        snprintf(e, elen, "bad superblock magic 0x%04x (ext2/3/4: 0x%04x): "
                 "no ext2/3/4 filesystem, or its superblock is corrupt",
                 (unsigned)sb.s_magic, (unsigned)EXT2_SUPER_MAGIC);
        return -EINVAL;
    }
    if (sb.s_log_block_size > EXT2_MAX_BLOCK_LOG_SIZE - EXT2_MIN_BLOCK_LOG_SIZE) {
        snprintf(e, elen, "corrupt superblock: block size 2^%u is not one of ext4's",
                 (unsigned)sb.s_log_block_size + EXT2_MIN_BLOCK_LOG_SIZE);
        return -EINVAL;
    }
    uint64_t bsize = (uint64_t)EXT2_MIN_BLOCK_SIZE << sb.s_log_block_size;
    uint64_t blocks = sb.s_blocks_count;
    if (sb.s_feature_incompat & EXT4_FEATURE_INCOMPAT_64BIT)
        blocks |= (uint64_t)sb.s_blocks_count_hi << 32;
    uint64_t have = sectors * 512 / bsize;
    if (blocks > have) {
        snprintf(e, elen, "truncated: the superblock counts %llu blocks of %llu bytes "
                 "(%llu bytes) but the disk holds %llu bytes",
                 (unsigned long long)blocks, (unsigned long long)bsize,
                 (unsigned long long)(blocks * bsize), (unsigned long long)(sectors * 512));
        return -EINVAL;
    }
    return 0;
}

int diskfs_mount(const char *node, bool writable, const char *prefix, char *err)
{
    char e[MINIOS_BLKFRONT_ERRLEN > STORE_ERRLEN ? MINIOS_BLKFRONT_ERRLEN : STORE_ERRLEN];
    e[0] = 0;
    if (fs.st) {
        seterr(err, "a disk is mounted already (at %s)", fs.prefix);
        return -EBUSY;
    }
    if (!prefix || strlen(prefix) >= sizeof(fs.prefix)) {
        seterr(err, "bad mount point");
        return -EINVAL;
    }
    static bool gnt;
    if (!gnt) {
        int rc = minios_gnttab_init();
        if (rc) {
            seterr(err, "no grant table: %d", rc);
            return -ENODEV;
        }
        gnt = true;
    }
    int rc = minios_blkfront_attach(node, &fs.bf, e);
    if (rc) {
        seterr(err, "%s: %s", node, e);
        return rc;
    }
    rc = check_super(fs.bf, e, sizeof(e));
    if (rc) {
        seterr(err, "%s: %s", node, e);
        minios_blkfront_detach(fs.bf);
        return rc;
    }
    /* The store keeps a pointer to its device description. */
    static struct store_dev dev;
    dev = (struct store_dev){
        .ctx = fs.bf, .sectors = minios_blkfront_sectors(fs.bf), .block_size = 512,
        .read_only = minios_blkfront_read_only(fs.bf), .read = bf_read, .write = bf_write, .flush = bf_flush,
    };
    rc = store_open_dev(&dev, writable, &fs.st, e);
    if (rc) {
        seterr(err, "%s: %s", node, e);
        minios_blkfront_detach(fs.bf);
        fs.st = NULL;
        return rc;
    }
    /* The group descriptors and the root directory's inode (every path
     * starts there): a corrupt inode table block is refused here rather
     * than at the first open. */
    rc = store_check(fs.st, e, sizeof(e));
    if (rc) {
        seterr(err, "%s: %s; run e2fsck", node, e);
        store_close(fs.st, NULL);
        minios_blkfront_detach(fs.bf);
        fs.st = NULL;
        return rc;
    }
    /* A file that fills the disk can then be truncated (store_fs.h). */
    store_keep_last_block(fs.st);
    rc = minios_fs_mount(prefix, &ops, NULL);
    if (rc) {
        seterr(err, "cannot mount at %s: %d", prefix, rc);
        store_close(fs.st, NULL);
        minios_blkfront_detach(fs.bf);
        fs.st = NULL;
        return rc;
    }
    fs.writable = writable;
    snprintf(fs.prefix, sizeof(fs.prefix), "%s", prefix);
    return 0;
}

static int mount_boot(int argc, char **argv, const char *prefix, bool force_ro, char *err);

int diskfs_mount_boot(int argc, char **argv, const char *prefix, char *err)
{
    return mount_boot(argc, argv, prefix, false, err);
}

int diskfs_mount_boot_ro(int argc, char **argv, const char *prefix, char *err)
{
    return mount_boot(argc, argv, prefix, true, err);
}

static int mount_boot(int argc, char **argv, const char *prefix, bool force_ro, char *err)
{
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        if (strncmp(w, "disk=", 5))
            continue;
        w += 5;
        /* xvdX:PATH[:ro], as the hypervisor checked it. */
        if (strncmp(w, "xvd", 3) || w[3] < 'a' || w[3] > 'z' || w[4] != ':') {
            seterr(err, "disk=%s: not xvd[a-z]:PATH[:ro]", w);
            return -EINVAL;
        }
        size_t n = strlen(w);
        bool ro = n >= 3 && !strcmp(w + n - 3, ":ro");
        char node[32];
        snprintf(node, sizeof(node), "device/vbd/%u", 202u * 256u + 16u * (unsigned)(w[3] - 'a'));
        return diskfs_mount(node, !ro && !force_ro, prefix, err);
    }
    seterr(err, "no disk= on the boot line");
    return -ENODEV;
}

int diskfs_umount(char *err)
{
    char e[STORE_ERRLEN];
    if (!fs.st) {
        seterr(err, "nothing mounted");
        return -ENOENT;
    }
    int rc = minios_fs_umount(fs.prefix);
    if (rc) {
        seterr(err, "%s: files or directories still open", fs.prefix);
        return rc;
    }
    lock();
    rc = store_close(fs.st, e);
    unlock();
    if (rc) {
        seterr(err, "%s", e);
        minios_fs_mount(fs.prefix, &ops, NULL);
        return rc;
    }
    fs.st = NULL;
    rc = minios_blkfront_detach(fs.bf);
    if (rc) {
        seterr(err, "detaching the disk: %d", rc);
        return rc;
    }
    return 0;
}
