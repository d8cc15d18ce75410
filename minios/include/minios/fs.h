/* fs.h: a filesystem mounted under a path prefix, reached through newlib's open/read/write/stat/opendir and friends. */
#ifndef MINIOS_FS_H
#define MINIOS_FS_H
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <dirent.h>

/*
 * minios has no filesystem of its own: a library that has one (e.g.
 * keel/diskfs.h: ext4 on the domain's disk) mounts it here.  newlib's
 * calls then reach it: a path at or under the prefix is handed to the
 * ops as the rest of the path ("/" for the prefix itself); other paths
 * are ENOENT.  Files get descriptors MINIOS_FS_FD_BASE and up (below
 * them: the console's 0-2 and lwIP's sockets).  Every op returns 0 (or
 * a count) or a negative <errno.h> value, which the system call sets
 * as errno.  Ops run in the calling thread and may block.
 */
#define MINIOS_FS_FD_BASE 256   /* = FD_SETSIZE: lwIP's sockets are 3..255 */
#define MINIOS_FS_MAX_FILES 64
#define MINIOS_FS_PREFIX_MAX 64

struct minios_fs_ops {
    /* flags as open(2)'s; *file is the op's own handle. */
    int (*open)(void *ctx, const char *path, int flags, mode_t mode, void **file);
    ssize_t (*read)(void *file, void *buf, size_t n);
    ssize_t (*write)(void *file, const void *buf, size_t n);
    off_t (*lseek)(void *file, off_t off, int whence);
    int (*fstat)(void *file, struct stat *st);
    int (*fsync)(void *file);
    int (*ftruncate)(void *file, off_t len);
    int (*close)(void *file);
    /* follow: 1 for stat (the last name's symbolic link followed), 0 for lstat. */
    int (*stat)(void *ctx, const char *path, struct stat *st, int follow);
    int (*unlink)(void *ctx, const char *path);
    int (*mkdir)(void *ctx, const char *path, mode_t mode);
    int (*rmdir)(void *ctx, const char *path);
    int (*link)(void *ctx, const char *oldpath, const char *newpath);
    int (*opendir)(void *ctx, const char *path, void **dir);
    /* 1 with *ent filled, 0 at the end, or -errno. */
    int (*readdir)(void *dir, struct dirent *ent);
    void (*closedir)(void *dir);
};

/* Mounts ops at prefix ("/" or "/name[/name...]", no trailing '/').  One
 * mount at a time: -EBUSY if there is one; -EINVAL for a bad prefix. */
int minios_fs_mount(const char *prefix, const struct minios_fs_ops *ops, void *ctx);
/* Unmounts it: -EBUSY while files or directories are open, -ENOENT if
 * nothing is mounted there. */
int minios_fs_umount(const char *prefix);

#endif /* MINIOS_FS_H */
