/* Unit tests of block_status (qcow2, vhd, vmdk): holes, data, backing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/image.h>
#include "io_host.h"
#include "unit.h"

#define SIZE (8u << 20)

/* The backing image, a memory device shared by name "base". */
static struct img_io *base_io;

static int related(void *ctx, const char *name, bool writable, struct img_io **out)
{
    (void)ctx;
    (void)writable;
    if (strcmp(name, "base") || !base_io)
        return -ENOENT;
    uint64_t sz;
    const uint8_t *d = img_io_mem_data(base_io, &sz);
    int r = img_io_mem_new(out);
    if (r == 0)
        r = img_io_mem_load(*out, d, (size_t)sz);
    return r;
}

static struct img *make(const char *fmt, const char *backing, const char *sub)
{
    struct img_io *io;
    struct img *img;
    char err[IMG_ERR_LEN];
    struct img_create_opts o = { .size = SIZE, .backing = backing, .subformat = sub,
                                 .backing_format = backing ? "qcow2" : NULL };
    EXPECT(img_io_mem_new(&io) == 0);
    img_io_mem_set_related(io, related, NULL);
    if (img_create(io, fmt, &o, err) < 0) {
        fprintf(stderr, "create %s: %s\n", fmt, err);
        exit(1);
    }
    if (img_open(io, fmt, IMG_OPEN_RDWR, NULL, &img, err) < 0) {
        fprintf(stderr, "open %s: %s\n", fmt, err);
        exit(1);
    }
    return img;
}

/* Walks the whole image: ZERO ranges must read as zeros, and every
 * non-zero byte must lie in a DATA range.  Returns the bytes of DATA. */
static uint64_t walk(struct img *img)
{
    static uint8_t buf[1 << 20];
    uint64_t off = 0, data = 0;
    while (off < SIZE) {
        uint64_t len = SIZE - off < sizeof buf ? SIZE - off : sizeof buf, pnum;
        int st = img_block_status(img, off, len, &pnum);
        EXPECT(st == IMG_BS_DATA || st == IMG_BS_ZERO);
        EXPECT(pnum > 0 && pnum <= len);
        if (st < 0 || !pnum)
            return data;
        if (st == IMG_BS_ZERO) {
            EXPECT(img_read(img, off, buf, pnum) == 0);
            for (uint64_t i = 0; i < pnum; i++)
                if (buf[i]) {
                    fprintf(stderr, "non-zero byte at %llu in a ZERO range\n",
                            (unsigned long long)(off + i));
                    unit_failures++;
                    break;
                }
        } else {
            data += pnum;
        }
        off += pnum;
    }
    return data;
}

static void fill(struct img *img, uint64_t off, size_t len, uint8_t v)
{
    uint8_t *b = malloc(len);
    memset(b, v, len);
    EXPECT(img_write(img, off, b, len) == 0);
    free(b);
}

static void test_fmt(const char *fmt, const char *sub, uint64_t unit)
{
    struct img *img = make(fmt, NULL, sub);
    uint64_t pnum;
    EXPECT(img_block_status(img, 0, SIZE, &pnum) == IMG_BS_ZERO && pnum == SIZE);
    EXPECT(walk(img) == 0);
    fill(img, 1u << 20, 4096, 0x11);
    fill(img, 5u << 20, 3 * 512, 0x22);
    fill(img, SIZE - 512, 512, 0x33);
    /* Allocation is per unit (a whole VHD block reads as data). */
    uint64_t hole = (1u << 20) / unit * unit;
    if (hole)
        EXPECT(img_block_status(img, 0, SIZE, &pnum) == IMG_BS_ZERO && pnum == hole);
    EXPECT(img_block_status(img, 1u << 20, SIZE - (1u << 20), &pnum) == IMG_BS_DATA &&
           pnum >= 4096 && pnum <= unit);
    uint64_t d = walk(img);
    EXPECT(d >= 3 * 512 + 4096 + 512 && d <= 3 * unit);
    img_close(img);
}

/* qcow2 over a qcow2 backing file: unallocated clusters take the
 * backing file's status; zero clusters over backing data are ZERO. */
static void test_qcow2_backing(void)
{
    struct img *b = make("qcow2", NULL, NULL);
    fill(b, 2u << 20, 65536, 0x44);
    EXPECT(img_flush(b) == 0);
    /* Keep base's device: closing the image would free it. */
    uint64_t sz;
    const uint8_t *d = img_io_mem_data(b->io, &sz);
    EXPECT(img_io_mem_new(&base_io) == 0 && img_io_mem_load(base_io, d, (size_t)sz) == 0);
    img_close(b);

    struct img *t = make("qcow2", "base", NULL);
    uint64_t pnum;
    EXPECT(img_block_status(t, 0, SIZE, &pnum) == IMG_BS_ZERO && pnum == 2u << 20);
    EXPECT(img_block_status(t, 2u << 20, SIZE - (2u << 20), &pnum) == IMG_BS_DATA &&
           pnum == 65536);
    fill(t, 6u << 20, 100, 0x55);
    EXPECT(walk(t) == 2 * 65536);
    img_close(t);
    base_io->ops->close(base_io);
    base_io = NULL;
}

int main(void)
{
    test_fmt("qcow2", NULL, 65536);
    test_fmt("vhd", "dynamic", 2u << 20);
    test_fmt("vmdk", NULL, 65536);
    test_qcow2_backing();
    UNIT_DONE();
}
