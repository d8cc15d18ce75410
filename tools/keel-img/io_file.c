/* A host file as an img_io (POSIX pread/pwrite/fdatasync/ftruncate). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_host.h"

struct file_io {
    struct img_io io;
    int fd;
    bool nosync;                        /* flush is a no-op (cache=unsafe) */
    char *path;
};

static struct file_io *F(struct img_io *io) { return (struct file_io *)io; }

static int f_pread(struct img_io *io, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(F(io)->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0) {                   /* past the end: zeros */
            memset(p, 0, len);
            return 0;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int f_pwrite(struct img_io *io, const void *buf, size_t len, uint64_t off)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(F(io)->fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int f_flush(struct img_io *io)
{
    if (F(io)->nosync)
        return 0;
    return fdatasync(F(io)->fd) < 0 ? -errno : 0;
}

static int64_t f_size(struct img_io *io)
{
    struct stat st;
    if (fstat(F(io)->fd, &st) < 0)
        return -errno;
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(F(io)->fd, 0, SEEK_END);
        return end < 0 ? -errno : end;
    }
    return st.st_size;
}

static int f_truncate(struct img_io *io, uint64_t size)
{
    return ftruncate(F(io)->fd, (off_t)size) < 0 ? -errno : 0;
}

static int open_flags(const char *path, int flags, struct img_io **out);

static int f_open_related(struct img_io *io, const char *name, bool writable,
                          struct img_io **out)
{
    const char *base = F(io)->path;
    const char *slash = strrchr(base, '/');
    if (name[0] == '/' || !slash)
        return open_flags(name, writable ? O_RDWR : O_RDONLY, out);
    size_t dl = (size_t)(slash - base) + 1, nl = strlen(name);
    char *p = malloc(dl + nl + 1);
    if (!p)
        return -ENOMEM;
    memcpy(p, base, dl);
    memcpy(p + dl, name, nl + 1);
    int r = open_flags(p, writable ? O_RDWR : O_RDONLY, out);
    free(p);
    return r;
}

static void f_close(struct img_io *io)
{
    close(F(io)->fd);
    free(F(io)->path);
    free(io);
}

static const struct img_io_ops file_ops = {
    .pread = f_pread,
    .pwrite = f_pwrite,
    .flush = f_flush,
    .size = f_size,
    .truncate = f_truncate,
    .open_related = f_open_related,
    .close = f_close,
};

static int open_flags(const char *path, int flags, struct img_io **out)
{
    struct file_io *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->path = strdup(path);
    f->fd = open(path, flags | O_CLOEXEC, 0644);
    if (!f->path || f->fd < 0) {
        int e = f->path ? -errno : -ENOMEM;
        if (f->fd >= 0)
            close(f->fd);
        free(f->path);
        free(f);
        return e;
    }
    f->io.ops = &file_ops;
    f->io.priv = f;
    *out = &f->io;
    return 0;
}

int img_io_file_open(const char *path, bool writable, struct img_io **out)
{
    return open_flags(path, writable ? O_RDWR : O_RDONLY, out);
}

int img_io_file_create(const char *path, struct img_io **out)
{
    return open_flags(path, O_RDWR | O_CREAT | O_TRUNC, out);
}

void img_io_file_set_nosync(struct img_io *io, bool on)
{
    F(io)->nosync = on;
}
