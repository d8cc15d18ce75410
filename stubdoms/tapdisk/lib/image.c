/* The image library's API: probe, open, backing chains, bounds-checked I/O. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

#define PROBE_LEN 4096

/*
 * Contract with the drivers:
 *  - open(img, err): img->drv, io, flags, depth and secret are set; the
 *    driver sets img->size and img->priv.  To open a backing image it calls
 *    img_open_backing(img, name, fmt, &img->backing, err) (unless flags has
 *    IMG_OPEN_NO_BACKING).  On failure the driver frees what it allocated
 *    itself; the library then closes img->backing (if set) and the io.
 *  - close(img): frees priv (after flushing where needed); the library then
 *    closes img->backing and the io, and frees img.
 *  - read/write are called only for in-bounds ranges with len > 0; write
 *    only on an image opened IMG_OPEN_RDWR.
 *  - write keeps no metadata back: before it returns, every table entry
 *    that finds the data it wrote (qcow2 L2/refcounts, vhd BAT/bitmap,
 *    vmdk GT) has been written to the io, in the driver's safe order
 *    with io flushes between.  So img_persist needs only the io's.
 */

static void __attribute__((format(printf, 2, 3)))
set_err(char *err, const char *fmt, ...)
{
    va_list ap;

    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(err, IMG_ERR_LEN, fmt, ap);
    va_end(ap);
}

const struct img_driver *img_find_driver(const char *name)
{
    if (!name)
        return NULL;
    for (unsigned i = 0; i < IMG_NR_SLOTS; i++) {
        const struct img_driver *d = img_driver_at(i);
        if (d && strcmp(d->name, name) == 0)
            return d;
    }
    return NULL;
}

static int probe(struct img_io *io, const struct img_driver **out, char *err)
{
    uint8_t *buf = malloc(PROBE_LEN);
    if (!buf)
        return -ENOMEM;
    int64_t sz = io->ops->size(io);
    if (sz < 0) {
        free(buf);
        set_err(err, "cannot get the size of the device (error %d)", (int)sz);
        return (int)sz;
    }
    size_t len = sz < PROBE_LEN ? (size_t)sz : PROBE_LEN;
    memset(buf, 0, PROBE_LEN);
    int r = len ? io->ops->pread(io, buf, len, 0) : 0;
    if (r < 0) {
        free(buf);
        set_err(err, "cannot read the image header (error %d)", r);
        return r;
    }
    const struct img_driver *best = NULL;
    int best_score = 0;
    for (unsigned i = 0; i < IMG_NR_SLOTS; i++) {
        const struct img_driver *d = img_driver_at(i);
        if (!d || !d->probe)
            continue;
        int s = d->probe(buf, len);
        if (s > best_score) {
            best_score = s;
            best = d;
        }
    }
    free(buf);
    if (!best)
        best = img_find_driver("raw");
    if (!best) {
        set_err(err, "no driver recognises the image");
        return -EINVAL;
    }
    *out = best;
    return 0;
}

static char *dupstr(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static int open_at(struct img_io *io, const char *fmt, unsigned flags,
                   const char *secret, unsigned depth, struct img **out,
                   char *err)
{
    const struct img_driver *drv = NULL;
    struct img *img = NULL;
    int r;

    *out = NULL;
    if (err)
        err[0] = '\0';
    if (fmt) {
        drv = img_find_driver(fmt);
        if (!drv) {
            set_err(err, "unknown or unsupported image format '%s'", fmt);
            r = -EINVAL;
            goto fail;
        }
    } else if ((r = probe(io, &drv, err)) < 0) {
        goto fail;
    }
    img = calloc(1, sizeof *img);
    if (!img) {
        r = -ENOMEM;
        goto fail;
    }
    img->drv = drv;
    img->io = io;
    img->flags = flags;
    img->depth = depth;
    if (secret && !(img->secret = dupstr(secret))) {
        r = -ENOMEM;
        goto fail;
    }
    r = drv->open(img, err);
    if (r < 0) {
        if (img->backing)
            img_close(img->backing);
        goto fail;
    }
    *out = img;
    return 0;

fail:
    if (r >= 0)
        r = -EIO;
    if (err && !err[0])
        snprintf(err, IMG_ERR_LEN, "cannot open the image as %s (error %d)",
                 drv ? drv->name : "any format", r);
    if (img) {
        free((void *)img->secret);
        free(img);
    }
    if (io)
        io->ops->close(io);
    return r;
}

int img_open(struct img_io *io, const char *fmt, unsigned flags,
             const char *secret, struct img **out, char *err)
{
    return open_at(io, fmt, flags, secret, 0, out, err);
}

int img_open_backing(struct img *parent, const char *name, const char *fmt,
                     struct img **out, char *err)
{
    struct img_io *io = NULL;
    char sub[IMG_ERR_LEN];
    int r;

    *out = NULL;
    if (!name || !name[0]) {
        set_err(err, "empty backing file name");
        return -EINVAL;
    }
    if (parent->depth + 1 >= IMG_MAX_CHAIN) {
        if (err)
            snprintf(err, IMG_ERR_LEN, "backing chain too deep or loops "
                     "(more than %d images) at '%s'", IMG_MAX_CHAIN, name);
        return -ELOOP;
    }
    if (!parent->io->ops->open_related) {
        set_err(err, "cannot open backing file '%s': the device cannot open "
                "related files", name);
        return -ENOTSUP;
    }
    r = parent->io->ops->open_related(parent->io, name, false, &io);
    if (r < 0) {
        set_err(err, "cannot open backing file '%s' (error %d)", name, r);
        return r;
    }
    r = open_at(io, fmt, 0, parent->secret, parent->depth + 1, out, sub);
    if (r < 0 && err) {
        /* A loop reports once, at the deepest point. */
        if (r == -ELOOP)
            snprintf(err, IMG_ERR_LEN, "%s", sub);
        else
            snprintf(err, IMG_ERR_LEN, "backing file '%s': %s", name, sub);
    }
    return r;
}

void img_close(struct img *img)
{
    if (!img)
        return;
    if (img->drv->close)
        img->drv->close(img);
    if (img->backing)
        img_close(img->backing);
    if (img->io)
        img->io->ops->close(img->io);
    free((void *)img->secret);
    free(img);
}

static int in_bounds(const struct img *img, uint64_t off, uint64_t len)
{
    return off <= img->size && len <= img->size - off;
}

int img_read(struct img *img, uint64_t off, void *buf, size_t len)
{
    if (!in_bounds(img, off, len))
        return -EINVAL;
    if (!len)
        return 0;
    return img->drv->read(img, off, buf, len);
}

int img_write(struct img *img, uint64_t off, const void *buf, size_t len)
{
    if (!(img->flags & IMG_OPEN_RDWR))
        return -EROFS;
    if (!in_bounds(img, off, len))
        return -EINVAL;
    if (!len)
        return 0;
    if (!img->drv->write)
        return -ENOTSUP;
    return img->drv->write(img, off, buf, len);
}

int img_flush(struct img *img)
{
    if (!(img->flags & IMG_OPEN_RDWR))
        return 0;
    if (img->drv->flush)
        return img->drv->flush(img);
    return img->io->ops->flush(img->io);
}

int img_persist(struct img *img)
{
    if (!(img->flags & IMG_OPEN_RDWR))
        return 0;
    if (img->drv->persist)
        return img->drv->persist(img);
    return img->io->ops->persist ? img->io->ops->persist(img->io) : 0;
}

int img_discard(struct img *img, uint64_t off, uint64_t len)
{
    if (!(img->flags & IMG_OPEN_RDWR))
        return -EROFS;
    if (!in_bounds(img, off, len))
        return -EINVAL;
    if (!len || !img->drv->discard)
        return 0;       /* discard is advisory */
    return img->drv->discard(img, off, len);
}

int img_info(struct img *img, struct img_info *info)
{
    memset(info, 0, sizeof *info);
    info->format = img->drv->name;
    info->virtual_size = img->size;
    int64_t sz = img->io->ops->size(img->io);
    if (sz > 0)
        info->allocated = (uint64_t)sz;
    int r = img->drv->info ? img->drv->info(img, info) : 0;
    if (!info->format)
        info->format = img->drv->name;
    return r;
}

int img_check(struct img *img, struct img_check *res, bool repair)
{
    memset(res, 0, sizeof *res);
    if (repair && !(img->flags & IMG_OPEN_RDWR))
        return -EROFS;
    if (!img->drv->check)
        return 0;
    return img->drv->check(img, res, repair);
}

int img_create(struct img_io *io, const char *fmt,
               const struct img_create_opts *o, char *err)
{
    if (err)
        err[0] = '\0';
    const struct img_driver *drv = img_find_driver(fmt);
    if (!drv) {
        set_err(err, "unknown or unsupported image format '%s'",
                fmt ? fmt : "(none)");
        return -EINVAL;
    }
    if (!drv->create) {
        set_err(err, "format '%s' cannot create images", fmt);
        return -ENOTSUP;
    }
    int r = drv->create(io, o, err);
    if (r < 0 && err && !err[0])
        snprintf(err, IMG_ERR_LEN, "cannot create %s image (error %d)", fmt, r);
    return r;
}

int img_read_backing(struct img *img, uint64_t off, void *buf, size_t len)
{
    struct img *b = img->backing;
    size_t n = 0;

    if (b && off < b->size) {
        n = b->size - off < len ? (size_t)(b->size - off) : len;
        int r = img_read(b, off, buf, n);
        if (r < 0)
            return r;
    }
    if (n < len)
        memset((uint8_t *)buf + n, 0, len - n);
    return 0;
}

int img_block_status(struct img *img, uint64_t off, uint64_t len,
                     uint64_t *pnum)
{
    *pnum = len;
    if (!in_bounds(img, off, len))
        return -EINVAL;
    if (!len || !img->drv->block_status)
        return IMG_BS_DATA;
    int r = img->drv->block_status(img, off, len, pnum);
    if (r < 0)
        return r;
    if (*pnum == 0 || *pnum > len)          /* a driver bug: be safe */
        *pnum = len, r = IMG_BS_DATA;
    return r;
}

int img_backing_status(struct img *img, uint64_t off, uint64_t len,
                       uint64_t *pnum)
{
    struct img *b = img->backing;

    *pnum = len;
    if (!b || off >= b->size)
        return IMG_BS_ZERO;
    return img_block_status(b, off, b->size - off < len ? b->size - off : len, pnum);
}

static img_entropy_fn entropy_fn;
static void *entropy_ctx;

void img_set_entropy(img_entropy_fn fn, void *ctx)
{
    entropy_fn = fn;
    entropy_ctx = ctx;
}

bool img_have_entropy(void)
{
    return entropy_fn != NULL;
}

int img_get_entropy(void *buf, size_t len)
{
    return entropy_fn ? entropy_fn(entropy_ctx, buf, len) : -ENOSYS;
}
