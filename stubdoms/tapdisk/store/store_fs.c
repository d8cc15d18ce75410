/* store_fs.c: names on a store (keel/store_fs.h): stat, create, unlink, mkdir, rmdir, link and listings with libext2fs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ext2fs/ext2_err.h>
#include <keel/store_fs.h>

#include "store_int.h"

#define PATH_MAX_ 4096
#define NAME_MAX_ 255

static int check_path(const char *path)
{
    if (!path || path[0] != '/')
        return -EINVAL;
    if (strnlen(path, PATH_MAX_) >= PATH_MAX_)
        return -ENAMETOOLONG;
    return 0;
}

/* The directory holding path's last name, and that name (copied to
 * name, trailing '/'s dropped).  "/" itself has no parent: -EBUSY. */
static int split(ext2_filsys fs, const char *path, ext2_ino_t *dir, char *name)
{
    int rc = check_path(path);
    if (rc)
        return rc;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && path[b - 1] != '/')
        b--;
    size_t nl = n - b;
    if (nl == 0)
        return -EBUSY;
    if (nl > NAME_MAX_)
        return -ENAMETOOLONG;
    if ((nl == 1 && path[b] == '.') || (nl == 2 && path[b] == '.' && path[b + 1] == '.'))
        return -EINVAL;
    memcpy(name, path + b, nl);
    name[nl] = 0;
    char *parent = strndup(path, b ? b : 1);
    if (!parent)
        return -ENOMEM;
    ext2_ino_t d;
    errcode_t e = ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, parent, &d);
    free(parent);
    if (e)
        return store_errno(e);
    struct ext2_inode in;
    e = ext2fs_read_inode(fs, d, &in);
    if (e)
        return store_errno(e);
    if (!LINUX_S_ISDIR(in.i_mode))
        return -ENOTDIR;
    *dir = d;
    return 0;
}

static void fill(ext2_filsys fs, ext2_ino_t ino, const struct ext2_inode *in, struct store_stat *st)
{
    *st = (struct store_stat){
        .ino = ino, .mode = in->i_mode, .nlink = in->i_links_count,
        .size = EXT2_I_SIZE(in), .blksize = fs->blocksize,
        .atime = in->i_atime, .mtime = in->i_mtime, .ctime = in->i_ctime,
    };
    st->blocks = ext2fs_get_stat_i_blocks(fs, (struct ext2_inode *)in);
}

int store_stat(struct store *s, const char *path, bool follow, struct store_stat *st)
{
    int rc = check_path(path);
    if (rc)
        return rc;
    ext2_filsys fs = store_ext2fs(s);
    ext2_ino_t ino;
    errcode_t e = follow ? ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &ino)
                         : ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &ino);
    if (e)
        return store_errno(e);
    struct ext2_inode in;
    e = ext2fs_read_inode(fs, ino, &in);
    if (e)
        return store_errno(e);
    /* "/a/file/" names a directory that is not one. */
    size_t n = strlen(path);
    if (n > 1 && path[n - 1] == '/' && !LINUX_S_ISDIR(in.i_mode))
        return -ENOTDIR;
    fill(fs, ino, &in, st);
    return 0;
}

int store_file_stat(struct img_io *io, struct store_stat *st)
{
    ext2_filsys fs = store_ext2fs(store_file_store(io));
    ext2_ino_t ino = store_file_ino(io);
    struct ext2_inode in;
    errcode_t e = ext2fs_read_inode(fs, ino, &in);
    if (e)
        return store_errno(e);
    fill(fs, ino, &in, st);
    /* The size as the open file sees it (its last block may be buffered). */
    int64_t size = io->ops->size(io);
    if (size >= 0)
        st->size = (uint64_t)size;
    return 0;
}

static int taken(ext2_filsys fs, ext2_ino_t dir, const char *name)
{
    ext2_ino_t ino;
    errcode_t e = ext2fs_lookup(fs, dir, name, (int)strlen(name), NULL, &ino);
    if (!e)
        return -EEXIST;
    return e == EXT2_ET_FILE_NOT_FOUND ? 0 : store_errno(e);
}

static errcode_t add_name(ext2_filsys fs, ext2_ino_t dir, const char *name, ext2_ino_t ino,
                          int type)
{
    errcode_t e = ext2fs_link(fs, dir, name, ino, type);
    if (e == EXT2_ET_DIR_NO_SPACE) {
        e = ext2fs_expand_dir(fs, dir);
        if (!e)
            e = ext2fs_link(fs, dir, name, ino, type);
    }
    return e;
}

static int prepare(struct store *s, const char *path, ext2_ino_t *dir, char *name)
{
    if (!store_writable(s)) {
        int rc = check_path(path);
        return rc ? rc : -EROFS;
    }
    return split(store_ext2fs(s), path, dir, name);
}

int store_create(struct store *s, const char *path, uint16_t perm)
{
    ext2_ino_t dir, ino;
    char name[NAME_MAX_ + 1];
    int rc = prepare(s, path, &dir, name);
    if (rc)
        return rc;
    ext2_filsys fs = store_ext2fs(s);
    if ((rc = taken(fs, dir, name)))
        return rc;
    errcode_t e = ext2fs_new_inode(fs, dir, LINUX_S_IFREG | 0600, NULL, &ino);
    if (e)
        return store_errno(e);
    e = add_name(fs, dir, name, ino, EXT2_FT_REG_FILE);
    if (e)
        return store_errno(e);
    ext2fs_inode_alloc_stats2(fs, ino, +1, 0);
    struct ext2_inode in;
    memset(&in, 0, sizeof(in));
    in.i_mode = LINUX_S_IFREG | (perm & 07777);
    in.i_atime = in.i_ctime = in.i_mtime = (__u32)time(NULL);
    in.i_links_count = 1;
    if (ext2fs_has_feature_extents(fs->super)) {
        /* An empty extent tree in i_block, as e2fsprogs' create_inode does. */
        ext2_extent_handle_t h;
        e = ext2fs_extent_open2(fs, ino, &in, &h);
        if (e)
            return store_errno(e);
        ext2fs_extent_free(h);
    }
    e = ext2fs_write_new_inode(fs, ino, &in);
    return e ? store_errno(e) : 0;
}

int store_check(struct store *s, char *err, size_t len)
{
    ext2_filsys fs = store_ext2fs(s);
    errcode_t e = ext2fs_check_desc(fs);
    if (e) {
        snprintf(err, len, "the block group descriptors: %s", error_message(e));
        return -EINVAL;
    }
    struct ext2_inode in;
    unsigned long long blk = ext2fs_inode_table_loc(fs, 0) +
        (unsigned long long)(EXT2_ROOT_INO - 1) * EXT2_INODE_SIZE(fs->super) / fs->blocksize;
    e = ext2fs_read_inode(fs, EXT2_ROOT_INO, &in);
    if (e) {
        snprintf(err, len, "the root directory's inode (inode 2, in inode table block %llu): %s",
                 blk, error_message(e));
        return store_errno(e);
    }
    if (!LINUX_S_ISDIR(in.i_mode)) {
        snprintf(err, len, "the root directory's inode (inode 2, in inode table block %llu) "
                 "is not a directory (mode 0%o)", blk, (unsigned)in.i_mode);
        return -EINVAL;
    }
    return 0;
}

/* A free block for libext2fs to allocate, never the filesystem's last
 * (store_keep_last_block). */
static errcode_t alloc_not_last(ext2_filsys fs, blk64_t goal, blk64_t *ret)
{
    blk64_t last = ext2fs_blocks_count(fs->super) - 1, b;
    if (!fs->block_map) {
        errcode_t e = ext2fs_read_block_bitmap(fs);
        if (e)
            return e;
    }
    errcode_t e = ext2fs_new_block2(fs, goal, fs->block_map, &b);
    if (!e && b == last)      /* again from the start: any other free block */
        e = ext2fs_new_block2(fs, fs->super->s_first_data_block, fs->block_map, &b);
    if (!e && b == last)
        e = EXT2_ET_BLOCK_ALLOC_FAIL;
    if (!e)
        *ret = b;
    return e;
}

void store_keep_last_block(struct store *s)
{
    ext2_filsys fs = store_ext2fs(s);
    if (store_writable(s) && EXT2FS_CLUSTER_RATIO(fs) == 1)
        ext2fs_set_alloc_block_callback(fs, alloc_not_last, NULL);
}

struct freeing {
    blk64_t cluster;        /* the last cluster freed (bigalloc: one per cluster) */
    int any;
    int bad;                /* a block number outside the filesystem */
};

static int free_block(ext2_filsys fs, blk64_t *blk, e2_blkcnt_t cnt, blk64_t ref, int off,
                      void *arg)
{
    (void)cnt; (void)ref; (void)off;
    struct freeing *f = arg;
    if (*blk < fs->super->s_first_data_block || *blk >= ext2fs_blocks_count(fs->super)) {
        f->bad = 1;
        return BLOCK_ABORT;
    }
    blk64_t c = EXT2FS_B2C(fs, *blk);
    if (f->any && c == f->cluster)
        return 0;
    ext2fs_block_alloc_stats2(fs, *blk, -1);
    f->cluster = c;
    f->any = 1;
    return 0;
}

/*
 * Frees an inode that lost its last name: its blocks (data, and the
 * extent tree's or indirect blocks), then itself.  Not with ext2fs_punch:
 * libext2fs 1.47.0 (Debian 12) refuses, as "Illegal block number", to
 * free an extent that ends at the filesystem's last block (an off-by-one
 * in punch_extent_blocks, fixed upstream in 2025), and a file that
 * filled the disk to ENOSPC holds that block: its unlink failed with EIO.
 * The blocks are walked read-only and released, as debugfs's kill_file
 * does; the inode keeps its stale block map, with dtime set.
 */
static errcode_t release(ext2_filsys fs, ext2_ino_t ino, struct ext2_inode *in, int isdir)
{
    errcode_t e = 0;
    if (ext2fs_inode_has_valid_blocks2(fs, in)) {
        struct freeing f = { 0 };
        e = ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY, NULL, free_block, &f);
        if (!e && f.bad)
            e = EXT2_ET_BAD_BLOCK_NUM;
    }
    if (e)
        return e;
    in->i_links_count = 0;
    in->i_dtime = (__u32)time(NULL);
    e = ext2fs_write_inode(fs, ino, in);
    if (e)
        return e;
    ext2fs_inode_alloc_stats2(fs, ino, -1, isdir);
    return 0;
}

/* The existing entry path names: its directory, last name, inode number
 * and inode; 0 or a negative errno. */
static int find_entry(struct store *s, const char *path, ext2_ino_t *dir, char *name,
                      ext2_ino_t *ino, struct ext2_inode *in)
{
    int rc = prepare(s, path, dir, name);
    if (rc)
        return rc;
    ext2_filsys fs = store_ext2fs(s);
    errcode_t e = ext2fs_lookup(fs, *dir, name, (int)strlen(name), NULL, ino);
    if (!e)
        e = ext2fs_read_inode(fs, *ino, in);
    return e ? store_errno(e) : 0;
}

int store_unlink(struct store *s, const char *path)
{
    ext2_ino_t dir, ino;
    char name[NAME_MAX_ + 1];
    struct ext2_inode in;
    int rc = find_entry(s, path, &dir, name, &ino, &in);
    if (rc)
        return rc;
    ext2_filsys fs = store_ext2fs(s);
    errcode_t e;
    if (LINUX_S_ISDIR(in.i_mode))
        return -EISDIR;
    if (path[strlen(path) - 1] == '/')
        return -ENOTDIR;
    if (store_ino_open(s, ino))
        return -EBUSY;
    e = ext2fs_unlink(fs, dir, name, ino, 0);
    if (e)
        return store_errno(e);
    if (in.i_links_count > 1) {
        in.i_links_count--;
        in.i_ctime = (__u32)time(NULL);
        e = ext2fs_write_inode(fs, ino, &in);
    } else {
        e = release(fs, ino, &in, 0);
        /* Freed blocks committed before reuse (store_commit). */
        if (!e)
            return store_commit(s);
    }
    return e ? store_errno(e) : 0;
}

int store_mkdir(struct store *s, const char *path, uint16_t perm)
{
    ext2_ino_t dir, ino;
    char name[NAME_MAX_ + 1];
    int rc = prepare(s, path, &dir, name);
    if (rc)
        return rc;
    ext2_filsys fs = store_ext2fs(s);
    if ((rc = taken(fs, dir, name)))
        return rc;
    errcode_t e = ext2fs_mkdir(fs, dir, 0, name);
    if (e == EXT2_ET_DIR_NO_SPACE) {
        e = ext2fs_expand_dir(fs, dir);
        if (!e)
            e = ext2fs_mkdir(fs, dir, 0, name);
    }
    if (e)
        return store_errno(e);
    e = ext2fs_lookup(fs, dir, name, (int)strlen(name), NULL, &ino);
    struct ext2_inode in;
    if (!e)
        e = ext2fs_read_inode(fs, ino, &in);
    if (!e) {
        in.i_mode = LINUX_S_IFDIR | (perm & 07777);
        e = ext2fs_write_inode(fs, ino, &in);
    }
    return e ? store_errno(e) : 0;
}

static int count_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int off,
                       int bs, char *buf, void *arg)
{
    (void)dir; (void)d; (void)off; (void)bs; (void)buf;
    if (entry != DIRENT_DOT_FILE && entry != DIRENT_DOT_DOT_FILE) {
        *(int *)arg = 1;
        return DIRENT_ABORT;
    }
    return 0;
}

int store_rmdir(struct store *s, const char *path)
{
    ext2_ino_t dir, ino;
    char name[NAME_MAX_ + 1];
    struct ext2_inode in;
    int rc = find_entry(s, path, &dir, name, &ino, &in);
    if (rc)
        return rc;
    ext2_filsys fs = store_ext2fs(s);
    errcode_t e;
    if (!LINUX_S_ISDIR(in.i_mode))
        return -ENOTDIR;
    int nonempty = 0;
    e = ext2fs_dir_iterate2(fs, ino, 0, NULL, count_entry, &nonempty);
    if (e)
        return store_errno(e);
    if (nonempty)
        return -ENOTEMPTY;
    e = ext2fs_unlink(fs, dir, name, ino, 0);
    if (!e)
        e = release(fs, ino, &in, 1);
    if (e)
        return store_errno(e);
    /* The parent loses the ".." that pointed at it. */
    struct ext2_inode pin;
    e = ext2fs_read_inode(fs, dir, &pin);
    if (!e && pin.i_links_count > 1) {
        pin.i_links_count--;
        e = ext2fs_write_inode(fs, dir, &pin);
    }
    return e ? store_errno(e) : store_commit(s);   /* freed blocks committed before reuse */
}

int store_link(struct store *s, const char *oldpath, const char *newpath)
{
    int rc = check_path(oldpath);
    if (rc)
        return rc;
    ext2_ino_t dir, ino;
    char name[NAME_MAX_ + 1];
    if ((rc = prepare(s, newpath, &dir, name)))
        return rc;
    ext2_filsys fs = store_ext2fs(s);
    errcode_t e = ext2fs_namei(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, oldpath, &ino);
    if (e)
        return store_errno(e);
    struct ext2_inode in;
    e = ext2fs_read_inode(fs, ino, &in);
    if (e)
        return store_errno(e);
    if (LINUX_S_ISDIR(in.i_mode))
        return -EPERM;
    if (in.i_links_count >= EXT2_LINK_MAX)
        return -EMLINK;
    if ((rc = taken(fs, dir, name)))
        return rc;
    int type = LINUX_S_ISREG(in.i_mode) ? EXT2_FT_REG_FILE
             : LINUX_S_ISLNK(in.i_mode) ? EXT2_FT_SYMLINK : EXT2_FT_UNKNOWN;
    e = add_name(fs, dir, name, ino, type);
    if (e)
        return store_errno(e);
    in.i_links_count++;
    in.i_ctime = (__u32)time(NULL);
    e = ext2fs_write_inode(fs, ino, &in);
    return e ? store_errno(e) : 0;
}

struct list {
    int (*fn)(void *arg, const char *name, uint32_t ino, int type);
    void *arg;
};

static int list_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *d, int off,
                      int bs, char *buf, void *arg)
{
    (void)dir; (void)entry; (void)off; (void)bs; (void)buf;
    struct list *l = arg;
    char name[NAME_MAX_ + 1];
    int n = ext2fs_dirent_name_len(d);
    memcpy(name, d->name, (size_t)n);
    name[n] = 0;
    int ft = ext2fs_dirent_file_type(d);
    int type = ft == EXT2_FT_REG_FILE ? STORE_DT_REG : ft == EXT2_FT_DIR ? STORE_DT_DIR
             : ft == EXT2_FT_SYMLINK ? STORE_DT_LNK : STORE_DT_UNKNOWN;
    return l->fn(l->arg, name, d->inode, type) ? DIRENT_ABORT : 0;
}

int store_readdir(struct store *s, const char *path,
                  int (*fn)(void *arg, const char *name, uint32_t ino, int type), void *arg)
{
    int rc = check_path(path);
    if (rc)
        return rc;
    ext2_filsys fs = store_ext2fs(s);
    ext2_ino_t ino;
    errcode_t e = ext2fs_namei_follow(fs, EXT2_ROOT_INO, EXT2_ROOT_INO, path, &ino);
    if (e)
        return store_errno(e);
    struct ext2_inode in;
    e = ext2fs_read_inode(fs, ino, &in);
    if (e)
        return store_errno(e);
    if (!LINUX_S_ISDIR(in.i_mode))
        return -ENOTDIR;
    struct list l = { fn, arg };
    e = ext2fs_dir_iterate2(fs, ino, 0, NULL, list_entry, &l);
    return e ? store_errno(e) : 0;
}
