/* diskfs.h: the ext4 filesystem on an appliance's own disk (blkfront + libext2fs), mounted for newlib's open/read/write/stat/opendir. */
#ifndef KEEL_DISKFS_H
#define KEEL_DISKFS_H
#include <stdbool.h>

/*
 * diskfs_mount attaches the disk whose frontend directory is node
 * ("device/vbd/51712") with blkfront, opens its ext2/3/4 filesystem
 * with the store code (libext2fs, keel/store.h) and mounts it at prefix
 * (minios/fs.h: "/disk", or "/").  Then newlib's open (O_RDONLY,
 * O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND), read, write,
 * lseek, fsync (the file, the filesystem's metadata, then a blkfront
 * flush), ftruncate, fstat, stat, lstat, unlink, mkdir, rmdir, link,
 * rename (newlib: link, then unlink: the new name must not exist) and
 * opendir/readdir/closedir work under prefix.  Limits of the store: one
 * writer or any number of readers per file (EBUSY otherwise); an open
 * file cannot be unlinked (EBUSY).  Writable false mounts read-only
 * (writes: EROFS).  Errors: a negative errno, and the reason in err
 * (DISKFS_ERRLEN bytes).
 */
#define DISKFS_ERRLEN 200

int diskfs_mount(const char *node, bool writable, const char *prefix, char *err);
/* The first disk=xvdX:PATH[:ro] word of argv (the boot line): its
 * frontend device/vbd/N, read-only with :ro.  -ENODEV: no disk= word. */
int diskfs_mount_boot(int argc, char **argv, const char *prefix, char *err);
/* The same, read-only whatever the word says (a server that only reads). */
int diskfs_mount_boot_ro(int argc, char **argv, const char *prefix, char *err);
/* Writes everything back, marks the filesystem clean, detaches the
 * disk.  -EBUSY while files or directories are open. */
int diskfs_umount(char *err);

#endif /* KEEL_DISKFS_H */
