/* fs.c: the mounted filesystem (minios/fs.h) behind newlib's open, stat, unlink, mkdir, link, fsync and opendir; its descriptor table. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <minios/fs.h>

#include "fs_int.h"

/*
 * One mount (a prefix and its ops); files in a table of
 * MINIOS_FS_MAX_FILES slots, fd = MINIOS_FS_FD_BASE + slot.  Threads are
 * cooperative, so the table needs no lock; the ops serialise themselves.
 */
static struct {
    char prefix[MINIOS_FS_PREFIX_MAX];
    size_t plen;
    const struct minios_fs_ops *ops;
    void *ctx;
    unsigned open;          /* files and directories open */
} mnt;

static void *files[MINIOS_FS_MAX_FILES];
/* A slot is taken while its open runs (the op may block). */
static unsigned char taken[MINIOS_FS_MAX_FILES];

struct minios_dir {
    void *h;
    struct dirent ent;
};

static int fail(int e)
{
    errno = e;
    return -1;
}

int minios_fs_mount(const char *prefix, const struct minios_fs_ops *ops, void *ctx)
{
    if (!prefix || !ops || prefix[0] != '/')
        return -EINVAL;
    size_t n = strnlen(prefix, MINIOS_FS_PREFIX_MAX);
    if (n >= MINIOS_FS_PREFIX_MAX || (n > 1 && prefix[n - 1] == '/') || strstr(prefix, "//"))
        return -EINVAL;
    if (mnt.ops)
        return -EBUSY;
    memcpy(mnt.prefix, prefix, n + 1);
    mnt.plen = n == 1 ? 0 : n;      /* "/": every absolute path */
    mnt.ctx = ctx;
    mnt.open = 0;
    mnt.ops = ops;
    return 0;
}

int minios_fs_umount(const char *prefix)
{
    if (!mnt.ops || !prefix || strcmp(prefix, mnt.prefix))
        return -ENOENT;
    if (mnt.open)
        return -EBUSY;
    mnt.ops = NULL;
    return 0;
}

/* The path inside the mount ("/..."), or NULL (errno set). */
static const char *inside(const char *path)
{
    if (!path) {
        errno = EFAULT;
        return NULL;
    }
    if (!*path) {
        errno = ENOENT;
        return NULL;
    }
    if (!mnt.ops || path[0] != '/') {
        errno = ENOENT;         /* no working directory: relative names name nothing */
        return NULL;
    }
    if (mnt.plen == 0)
        return path;
    if (strncmp(path, mnt.prefix, mnt.plen) || (path[mnt.plen] && path[mnt.plen] != '/')) {
        errno = ENOENT;
        return NULL;
    }
    return path[mnt.plen] ? path + mnt.plen : "/";
}

static void *file_of(int fd)
{
    unsigned i = (unsigned)(fd - MINIOS_FS_FD_BASE);
    if (fd < MINIOS_FS_FD_BASE || i >= MINIOS_FS_MAX_FILES || !files[i])
        return NULL;
    return files[i];
}

int minios_fs_fd_valid(int fd)
{
    return file_of(fd) != NULL;
}

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    if (flags & O_CREAT) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    const char *p = inside(path);
    if (!p)
        return -1;
    unsigned i;
    for (i = 0; i < MINIOS_FS_MAX_FILES && taken[i]; i++)
        ;
    if (i == MINIOS_FS_MAX_FILES)
        return fail(EMFILE);
    taken[i] = 1;
    mnt.open++;
    void *f = NULL;
    int rc = mnt.ops->open(mnt.ctx, p, flags, mode, &f);
    if (rc < 0) {
        taken[i] = 0;
        mnt.open--;
        return fail(-rc);
    }
    files[i] = f;
    return MINIOS_FS_FD_BASE + (int)i;
}

ssize_t minios_fs_fd_read(int fd, void *buf, size_t n)
{
    void *f = file_of(fd);
    if (!f)
        return fail(EBADF);
    ssize_t r = mnt.ops->read(f, buf, n);
    return r < 0 ? fail((int)-r) : r;
}

ssize_t minios_fs_fd_write(int fd, const void *buf, size_t n)
{
    void *f = file_of(fd);
    if (!f)
        return fail(EBADF);
    ssize_t r = mnt.ops->write(f, buf, n);
    return r < 0 ? fail((int)-r) : r;
}

off_t minios_fs_fd_lseek(int fd, off_t off, int whence)
{
    void *f = file_of(fd);
    if (!f)
        return fail(EBADF);
    off_t r = mnt.ops->lseek(f, off, whence);
    return r < 0 ? fail((int)-r) : r;
}

int minios_fs_fd_fstat(int fd, struct stat *st)
{
    void *f = file_of(fd);
    if (!f)
        return fail(EBADF);
    int r = mnt.ops->fstat(f, st);
    return r < 0 ? fail(-r) : 0;
}

int minios_fs_fd_close(int fd)
{
    void *f = file_of(fd);
    if (!f)
        return fail(EBADF);
    unsigned i = (unsigned)(fd - MINIOS_FS_FD_BASE);
    files[i] = NULL;            /* the descriptor is gone whatever close says */
    int r = mnt.ops->close(f);
    taken[i] = 0;
    mnt.open--;
    return r < 0 ? fail(-r) : 0;
}

int fsync(int fd)
{
    if (fd >= 0 && fd <= 2)
        return 0;
    void *f = file_of(fd);
    if (!f)
        return fail(fd >= MINIOS_FS_FD_BASE || fd < 0 ? EBADF : EINVAL);
    int r = mnt.ops->fsync(f);
    return r < 0 ? fail(-r) : 0;
}

int ftruncate(int fd, off_t len)
{
    void *f = file_of(fd);
    if (!f)
        return fail(fd >= 0 && fd < MINIOS_FS_FD_BASE ? EINVAL : EBADF);
    if (len < 0)
        return fail(EINVAL);
    int r = mnt.ops->ftruncate(f, len);
    return r < 0 ? fail(-r) : 0;
}

static int path_stat(const char *path, struct stat *st, int follow)
{
    const char *p = inside(path);
    if (!p)
        return -1;
    int r = mnt.ops->stat(mnt.ctx, p, st, follow);
    return r < 0 ? fail(-r) : 0;
}

int stat(const char *path, struct stat *st)
{
    return path_stat(path, st, 1);
}

int lstat(const char *path, struct stat *st)
{
    return path_stat(path, st, 0);
}

int unlink(const char *path)
{
    const char *p = inside(path);
    if (!p)
        return -1;
    int r = mnt.ops->unlink(mnt.ctx, p);
    return r < 0 ? fail(-r) : 0;
}

int mkdir(const char *path, mode_t mode)
{
    const char *p = inside(path);
    if (!p)
        return -1;
    int r = mnt.ops->mkdir(mnt.ctx, p, mode);
    return r < 0 ? fail(-r) : 0;
}

int rmdir(const char *path)
{
    const char *p = inside(path);
    if (!p)
        return -1;
    int r = mnt.ops->rmdir(mnt.ctx, p);
    return r < 0 ? fail(-r) : 0;
}

/* newlib's rename() is link() then unlink(). */
int link(const char *oldpath, const char *newpath)
{
    const char *o = inside(oldpath);
    if (!o)
        return -1;
    const char *n = inside(newpath);
    if (!n)
        return -1;
    int r = mnt.ops->link(mnt.ctx, o, n);
    return r < 0 ? fail(-r) : 0;
}

DIR *opendir(const char *path)
{
    const char *p = inside(path);
    if (!p)
        return NULL;
    DIR *d = calloc(1, sizeof(*d));
    if (!d) {
        errno = ENOMEM;
        return NULL;
    }
    mnt.open++;
    int r = mnt.ops->opendir(mnt.ctx, p, &d->h);
    if (r < 0) {
        mnt.open--;
        free(d);
        errno = -r;
        return NULL;
    }
    return d;
}

struct dirent *readdir(DIR *d)
{
    if (!d) {
        errno = EBADF;
        return NULL;
    }
    int r = mnt.ops->readdir(d->h, &d->ent);
    if (r < 0)
        errno = -r;
    return r > 0 ? &d->ent : NULL;
}

int closedir(DIR *d)
{
    if (!d)
        return fail(EBADF);
    mnt.ops->closedir(d->h);
    mnt.open--;
    free(d);
    return 0;
}
