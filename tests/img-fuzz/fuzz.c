/* libFuzzer target: the input is an image for one driver (FUZZ_DRIVER),
 * opened from memory, read, described, checked and written to. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <keel/image.h>
#include "io_host.h"

#define MAX_DEV (64u << 20)             /* a corrupt image may not grow past this */

static void exercise(const uint8_t *data, size_t size, unsigned flags)
{
    struct img_io *io;
    struct img *img;
    char err[IMG_ERR_LEN];
    static uint8_t buf[65536];

    if (img_io_mem_new(&io) < 0)
        return;
    img_io_mem_set_limit(io, MAX_DEV);
    if (img_io_mem_load(io, data, size) < 0) {
        io->ops->close(io);
        return;
    }
    if (img_open(io, FUZZ_DRIVER, flags, "fuzz-secret", &img, err) < 0) {
        if (!err[0])
            abort();                    /* a failure must say why */
        return;
    }
    struct img_info in;
    struct img_check ck;
    img_info(img, &in);
    img_check(img, &ck, false);
    /* Reads spread over the disk, and across its end. */
    uint64_t step = img->size / 16 + 1;
    for (uint64_t off = 0; off < img->size; off += step) {
        size_t n = img->size - off < sizeof buf ? (size_t)(img->size - off) : sizeof buf;
        if (img_read(img, off, buf, n) < 0)
            break;
        uint64_t pnum;
        img_block_status(img, off, n, &pnum);
    }
    if (flags & IMG_OPEN_RDWR && img->size >= 8192) {
        memset(buf, 0xab, 8192);
        img_write(img, 0, buf, 4096);
        img_write(img, img->size / 2 / 512 * 512, buf, 8192 <= img->size / 2 ? 8192 : 512);
        img_flush(img);
        img_read(img, 0, buf, 4096);
    }
    img_close(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    exercise(data, size, 0);
    exercise(data, size, IMG_OPEN_RDWR);
    return 0;
}
