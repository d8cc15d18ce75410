/* The raw image driver: the device is the disk, byte for byte. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/image.h>

#define ZERO_CHUNK 65536

static int raw_probe(const uint8_t *buf, size_t len)
{
    (void)buf;
    (void)len;
    return 1;                           /* anything is a raw image */
}

static int raw_open(struct img *img, char *err)
{
    int64_t sz = img->io->ops->size(img->io);
    if (sz < 0) {
        snprintf(err, IMG_ERR_LEN, "raw: cannot get the device size (error %d)",
                 (int)sz);
        return (int)sz;
    }
    img->size = (uint64_t)sz;
    return 0;
}

static void raw_close(struct img *img)
{
    (void)img;
}

static int raw_read(struct img *img, uint64_t off, void *buf, size_t len)
{
    return img->io->ops->pread(img->io, buf, len, off);
}

static int raw_write(struct img *img, uint64_t off, const void *buf, size_t len)
{
    return img->io->ops->pwrite(img->io, buf, len, off);
}

static int raw_flush(struct img *img)
{
    return img->io->ops->flush(img->io);
}

/* Writes zeros: the range must read back as zeros after a discard. */
static int raw_discard(struct img *img, uint64_t off, uint64_t len)
{
    uint8_t *z = calloc(1, ZERO_CHUNK);
    int r = 0;

    if (!z)
        return -ENOMEM;
    while (len && r == 0) {
        size_t n = len < ZERO_CHUNK ? (size_t)len : ZERO_CHUNK;
        r = img->io->ops->pwrite(img->io, z, n, off);
        off += n;
        len -= n;
    }
    free(z);
    return r;
}

static int raw_info(struct img *img, struct img_info *info)
{
    (void)img;
    info->format = "raw";
    return 0;
}

static int raw_check(struct img *img, struct img_check *res, bool repair)
{
    (void)img;
    (void)res;
    (void)repair;
    return 0;                           /* no metadata to check */
}

static int raw_create(struct img_io *io, const struct img_create_opts *o, char *err)
{
    if (o->backing) {
        snprintf(err, IMG_ERR_LEN, "raw: the format has no backing files");
        return -EINVAL;
    }
    if (o->encrypt_format) {
        snprintf(err, IMG_ERR_LEN, "raw: the format has no encryption");
        return -EINVAL;
    }
    int r = io->ops->truncate(io, o->size);
    if (r < 0) {
        snprintf(err, IMG_ERR_LEN, "raw: cannot set the size to %llu (error %d)",
                 (unsigned long long)o->size, r);
        return r;
    }
    return io->ops->flush(io);
}

const struct img_driver img_driver_raw = {
    .name = "raw",
    .probe = raw_probe,
    .open = raw_open,
    .close = raw_close,
    .read = raw_read,
    .write = raw_write,
    .flush = raw_flush,
    .discard = raw_discard,
    .info = raw_info,
    .check = raw_check,
    .create = raw_create,
};
