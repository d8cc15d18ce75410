/* store_fs.h: names on a store: stat, create, unlink, mkdir, rmdir, link, directory listings (libext2fs), beside store.h's files. */
#ifndef KEEL_STORE_FS_H
#define KEEL_STORE_FS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <keel/store.h>

/*
 * Paths are absolute ('/'-separated, shorter than 4096 bytes, each name
 * at most 255 bytes); symbolic links in the directories on the way are
 * followed inside the store, as store_file_open does.  Errors are
 * negative errnos: -EINVAL (a bad path), -ENAMETOOLONG, -ENOENT,
 * -ENOTDIR, -EISDIR, -EEXIST, -ENOTEMPTY, -EPERM (hard link to a
 * directory), -EROFS (a store opened read-only), -EBUSY (a file that is
 * open), -ENOSPC, -EIO.  One thread at a time per store.
 */
struct store_stat {
    uint32_t ino;
    uint16_t mode;          /* S_IFMT type and permission bits, as stat(2) */
    uint16_t nlink;
    uint64_t size;
    uint64_t blocks;        /* 512-byte units */
    uint32_t blksize;
    uint32_t atime, mtime, ctime;
};

/* follow: the last name's symbolic link is followed (stat), or not (lstat). */
int store_stat(struct store *s, const char *path, bool follow, struct store_stat *st);
/* The inode of a file from store_file_open. */
int store_file_stat(struct img_io *io, struct store_stat *st);
/* A new empty regular file (perm: the low 12 bits); -EEXIST if the name is taken. */
int store_create(struct store *s, const char *path, uint16_t perm);
/* Removes a name of a non-directory (-EISDIR); the inode and its blocks
 * are freed with its last name.  -EBUSY if the file is open. */
int store_unlink(struct store *s, const char *path);
int store_mkdir(struct store *s, const char *path, uint16_t perm);
/* An empty directory (-ENOTEMPTY otherwise; "/" is -EBUSY). */
int store_rmdir(struct store *s, const char *path);
/* A second name for a non-directory (-EPERM for a directory). */
int store_link(struct store *s, const char *oldpath, const char *newpath);

/*
 * What a mount checks beyond libext2fs's open: the block group
 * descriptors (ext2fs_check_desc: bitmaps and inode tables inside their
 * groups) and the root directory's inode (it reads, its checksum holds,
 * it is a directory).  0, or a negative errno and the reason in err
 * (len bytes), naming the inode table block for a bad root inode.
 */
int store_check(struct store *s, char *err, size_t len);

/*
 * From now on libext2fs never allocates the filesystem's last block (a
 * writable store without bigalloc; one block of capacity).  libext2fs
 * 1.47.0 (Debian 12) cannot free an extent that ends at that block
 * (punch_extent_blocks, an off-by-one fixed upstream in 2025): a file
 * holding it could not be truncated (EIO, half done).  store_unlink frees
 * such files by other means; files the host placed there still cannot be
 * truncated.
 */
void store_keep_last_block(struct store *s);

/* DT_* values, as <dirent.h> names them. */
enum { STORE_DT_UNKNOWN = 0, STORE_DT_REG = 8, STORE_DT_DIR = 4, STORE_DT_LNK = 10 };
/* Calls fn for each entry of the directory ("." and ".." too) until fn
 * returns non-zero. */
int store_readdir(struct store *s, const char *path,
                  int (*fn)(void *arg, const char *name, uint32_t ino, int type), void *arg);

#endif /* KEEL_STORE_FS_H */
