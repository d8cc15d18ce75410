/* Unit tests of the image library core, the raw driver and the host I/O. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <keel/image.h>
#include "io_host.h"
#include "unit.h"

static int related_mem(void *ctx, const char *name, bool writable, struct img_io **out)
{
    (void)writable;
    (void)name;
    int r = img_io_mem_new(out);
    if (r == 0)
        r = img_io_mem_load(*out, ctx, 8192);
    if (r == 0)
        img_io_mem_set_related(*out, related_mem, ctx);
    return r;
}

static void test_mem_io(void)
{
    struct img_io *io;
    uint8_t buf[64];
    uint64_t sz, w, f;

    EXPECT(img_io_mem_new(&io) == 0);
    EXPECT(io->ops->size(io) == 0);
    memset(buf, 0xaa, sizeof buf);
    EXPECT(io->ops->pwrite(io, buf, 16, 100) == 0);
    EXPECT(io->ops->size(io) == 116);
    memset(buf, 0x55, sizeof buf);
    EXPECT(io->ops->pread(io, buf, 64, 90) == 0);       /* spans the end */
    EXPECT(buf[0] == 0 && buf[9] == 0 && buf[10] == 0xaa && buf[25] == 0xaa && buf[26] == 0);
    EXPECT(io->ops->truncate(io, 104) == 0);
    EXPECT(io->ops->pread(io, buf, 8, 100) == 0);
    EXPECT(buf[3] == 0xaa && buf[4] == 0);
    EXPECT(io->ops->truncate(io, 200) == 0);
    EXPECT(io->ops->pread(io, buf, 8, 100) == 0);
    EXPECT(buf[3] == 0xaa && buf[4] == 0);             /* grown with zeros */
    EXPECT(io->ops->flush(io) == 0);
    img_io_mem_stats(io, &w, &f);
    EXPECT(w == 1 && f == 1);
    EXPECT(img_io_mem_data(io, &sz) != NULL && sz == 200);
    EXPECT(io->ops->pwrite(io, buf, 1, UINT64_MAX - 1) < 0);
    struct img_io *rel;
    EXPECT(io->ops->open_related(io, "x", false, &rel) == -ENOENT);
    io->ops->close(io);
}

static void test_raw(void)
{
    struct img_io *io;
    struct img *img;
    char err[IMG_ERR_LEN];
    struct img_create_opts o = { .size = 1 << 20 };
    uint8_t buf[8192], back[8192];

    EXPECT(img_io_mem_new(&io) == 0);
    EXPECT(img_create(io, "raw", &o, err) == 0);
    EXPECT(io->ops->size(io) == 1 << 20);
    EXPECT(img_create(io, "nosuch", &o, err) == -EINVAL && strstr(err, "nosuch"));
    o.backing = "b";
    EXPECT(img_create(io, "raw", &o, err) == -EINVAL && strstr(err, "backing"));
    EXPECT(img_open(io, NULL, IMG_OPEN_RDWR, NULL, &img, err) == 0);
    EXPECT(strcmp(img->drv->name, "raw") == 0 && img->size == 1 << 20);
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    EXPECT(img_write(img, 4096, buf, sizeof buf) == 0);
    EXPECT(img_read(img, 4096, back, sizeof back) == 0);
    EXPECT(memcmp(buf, back, sizeof buf) == 0);
    /* Bounds: the last byte is fine, one past is not, nor wrap-around. */
    EXPECT(img_read(img, (1 << 20) - 1, back, 1) == 0);
    EXPECT(img_read(img, (1 << 20) - 1, back, 2) == -EINVAL);
    EXPECT(img_read(img, UINT64_MAX, back, 2) == -EINVAL);
    EXPECT(img_write(img, 1 << 20, buf, 1) == -EINVAL);
    EXPECT(img_read(img, 1 << 20, back, 0) == 0);
    EXPECT(img_discard(img, 4096, 4096) == 0);
    EXPECT(img_read(img, 4096, back, 8192) == 0);
    EXPECT(back[0] == 0 && back[4095] == 0 && back[4096] == buf[4096]);
    EXPECT(img_flush(img) == 0);
    struct img_info in;
    EXPECT(img_info(img, &in) == 0 && strcmp(in.format, "raw") == 0 &&
           in.virtual_size == 1 << 20);
    struct img_check ck;
    EXPECT(img_check(img, &ck, false) == 0 && ck.corruptions == 0 && ck.leaks == 0);
    uint64_t pnum;
    EXPECT(img_block_status(img, 0, 4096, &pnum) == IMG_BS_DATA && pnum == 4096);
    img_close(img);
}

static void test_readonly_and_fmt(void)
{
    struct img_io *io;
    struct img *img;
    char err[IMG_ERR_LEN];
    uint8_t b[4] = { 1, 2, 3, 4 };

    EXPECT(img_io_mem_new(&io) == 0);
    EXPECT(io->ops->truncate(io, 4096) == 0);
    EXPECT(img_open(io, "raw", 0, NULL, &img, err) == 0);
    EXPECT(img_write(img, 0, b, 4) == -EROFS);
    EXPECT(img_discard(img, 0, 4) == -EROFS);
    img_close(img);
    /* Unknown format: clean error naming it; the io is closed (ASan: no leak). */
    EXPECT(img_io_mem_new(&io) == 0);
    EXPECT(img_open(io, "bogus", 0, NULL, &img, err) == -EINVAL && img == NULL);
    EXPECT(strstr(err, "bogus") != NULL);
    /* An empty device probes as raw of size 0. */
    EXPECT(img_io_mem_new(&io) == 0);
    EXPECT(img_open(io, NULL, 0, "pw", &img, err) == 0 && img->size == 0);
    EXPECT(strcmp(img->secret, "pw") == 0);
    img_close(img);
}

static void test_backing(void)
{
    static uint8_t base[8192];
    struct img_io *io;
    struct img *img, *chain[IMG_MAX_CHAIN + 1];
    char err[IMG_ERR_LEN];
    uint8_t buf[16384];

    for (unsigned i = 0; i < sizeof base; i++)
        base[i] = (uint8_t)(i ^ 0x5a);
    EXPECT(img_io_mem_new(&io) == 0);
    EXPECT(io->ops->truncate(io, 16384) == 0);
    EXPECT(img_open(io, "raw", 0, NULL, &img, err) == 0);
    /* No open_related resolver: a clean error naming the file. */
    struct img *b;
    EXPECT(img_open_backing(img, "base.raw", "raw", &b, err) < 0 && b == NULL);
    EXPECT(strstr(err, "base.raw") != NULL);
    /* No backing: img_read_backing gives zeros. */
    memset(buf, 1, sizeof buf);
    EXPECT(img_read_backing(img, 0, buf, 100) == 0 && buf[0] == 0 && buf[99] == 0);
    img_close(img);

    /* Backing smaller than the image: data, then zeros. */
    EXPECT(img_io_mem_new(&io) == 0);
    EXPECT(io->ops->truncate(io, 16384) == 0);
    img_io_mem_set_related(io, related_mem, base);
    EXPECT(img_open(io, "raw", 0, NULL, &img, err) == 0);
    EXPECT(img_open_backing(img, "base.raw", "raw", &img->backing, err) == 0);
    EXPECT(img->backing->depth == 1);
    memset(buf, 1, sizeof buf);
    EXPECT(img_read_backing(img, 4096, buf, 8192) == 0);
    EXPECT(memcmp(buf, base + 4096, 4096) == 0 && buf[4096] == 0 && buf[8191] == 0);
    EXPECT(img_read_backing(img, 12288, buf, 4096) == 0 && buf[0] == 0);
    img_close(img);                     /* closes the backing too (ASan) */

    /* A chain deeper than IMG_MAX_CHAIN (as a loop would make) is refused. */
    EXPECT(img_io_mem_new(&io) == 0);
    img_io_mem_set_related(io, related_mem, base);
    EXPECT(img_open(io, "raw", 0, NULL, &chain[0], err) == 0);
    unsigned n = 1;
    int r = 0;
    while (n <= IMG_MAX_CHAIN) {
        r = img_open_backing(chain[n - 1], "self.raw", "raw", &chain[n], err);
        if (r < 0)
            break;
        chain[n - 1]->backing = chain[n];
        n++;
    }
    EXPECT(r == -ELOOP && n == IMG_MAX_CHAIN && strstr(err, "too deep or loops"));
    img_close(chain[0]);
}

static void test_file_io(void)
{
    char dir[] = "/tmp/test_img_core.XXXXXX";
    char path[128], path2[128];
    struct img_io *io, *rel;
    uint8_t b[16];

    EXPECT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/a.img", dir);
    snprintf(path2, sizeof path2, "%s/b.img", dir);
    EXPECT(img_io_file_open(path, false, &io) == -ENOENT);
    EXPECT(img_io_file_create(path2, &io) == 0);
    EXPECT(io->ops->pwrite(io, "hello", 5, 10) == 0);
    EXPECT(io->ops->flush(io) == 0 && io->ops->size(io) == 15);
    io->ops->close(io);
    EXPECT(img_io_file_create(path, &io) == 0);
    EXPECT(io->ops->open_related(io, "b.img", false, &rel) == 0);  /* relative */
    EXPECT(rel->ops->pread(rel, b, 16, 0) == 0);
    EXPECT(b[0] == 0 && memcmp(b + 10, "hello", 5) == 0 && b[15] == 0);
    EXPECT(rel->ops->pwrite(rel, b, 1, 0) < 0);          /* opened read-only */
    rel->ops->close(rel);
    EXPECT(io->ops->open_related(io, path2, true, &rel) == 0);     /* absolute */
    rel->ops->close(rel);
    EXPECT(io->ops->truncate(io, 1 << 20) == 0 && io->ops->size(io) == 1 << 20);
    io->ops->close(io);
    unlink(path);
    unlink(path2);
    rmdir(dir);
}

/* An io that holds writes back until persist (counts the calls). */
struct pio {
    struct img_io io;
    struct img_io *in;
    int persists, ret;
};
static struct img_io *pin(struct img_io *io) { return ((struct pio *)io)->in; }
static int p_pread(struct img_io *io, void *b, size_t l, uint64_t o) { return pin(io)->ops->pread(pin(io), b, l, o); }
static int p_pwrite(struct img_io *io, const void *b, size_t l, uint64_t o) { return pin(io)->ops->pwrite(pin(io), b, l, o); }
static int p_flush(struct img_io *io) { return pin(io)->ops->flush(pin(io)); }
static int64_t p_size(struct img_io *io) { return pin(io)->ops->size(pin(io)); }
static int p_trunc(struct img_io *io, uint64_t s) { return pin(io)->ops->truncate(pin(io), s); }
static void p_close(struct img_io *io) { pin(io)->ops->close(pin(io)); free(io); }
static int p_persist(struct img_io *io)
{
    struct pio *p = (struct pio *)io;
    p->persists++;
    return p->ret;
}
static const struct img_io_ops pio_ops = {
    .pread = p_pread, .pwrite = p_pwrite, .flush = p_flush, .size = p_size,
    .truncate = p_trunc, .close = p_close, .persist = p_persist,
};

/* img_persist: the device's persist on a writable image, its result
 * passed on; nothing on a read-only one or a device without persist. */
static void test_persist(void)
{
    char err[IMG_ERR_LEN];
    struct img *img;
    uint8_t buf[512];
    for (int rw = 0; rw < 2; rw++) {
        struct pio *p = calloc(1, sizeof(*p));
        EXPECT(p && img_io_mem_new(&p->in) == 0 && p->in->ops->truncate(p->in, 65536) == 0);
        p->io.ops = &pio_ops;
        p->ret = 1;
        EXPECT(img_open(&p->io, "raw", rw ? IMG_OPEN_RDWR : 0, NULL, &img, err) == 0);
        if (rw) {
            memset(buf, 0x3c, sizeof buf);
            EXPECT(img_write(img, 512, buf, sizeof buf) == 0);
            EXPECT(img_persist(img) == 1 && p->persists == 1);
            p->ret = 0;
            EXPECT(img_persist(img) == 0 && p->persists == 2);
            p->ret = -EIO;
            EXPECT(img_persist(img) == -EIO && p->persists == 3);
        } else {
            EXPECT(img_persist(img) == 0 && p->persists == 0);
        }
        img_close(img);
    }
    struct img_io *io;
    EXPECT(img_io_mem_new(&io) == 0 && io->ops->truncate(io, 65536) == 0);
    EXPECT(img_open(io, "raw", IMG_OPEN_RDWR, NULL, &img, err) == 0);
    EXPECT(img_persist(img) == 0);          /* no persist: nothing is held */
    img_close(img);
}

int main(void)
{
    test_mem_io();
    test_raw();
    test_readonly_and_fmt();
    test_backing();
    test_file_io();
    test_persist();
    UNIT_DONE();
}
