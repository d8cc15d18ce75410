/* Guest test: an appliance's own ext4 filesystem on its disk: libext2fs over minios's blkfront, the disk an image file on the tapdisk domain's store. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/store.h>
#include <minios/blkfront.h>
#include <minios/gnttab.h>
#include <minios/thread.h>
#include <minios/xenbus.h>

#include "report.h"

/*
 * disk=xvda:/images/fs.img is a raw image holding an ext4 filesystem
 * (run.sh: mkfs.ext4 -d) with /www/index.html, SIZE bytes of pat_host.
 * The guest attaches it with blkfront, opens the filesystem with the
 * store code over blkfront, reads the file byte-exact, rewrites 10000
 * bytes at 3000 and appends 50000 (pat_guest), flushes, closes, and
 * detaches; run.sh checks the file with debugfs inside the image
 * extracted from the store, and e2fsck -fn on both filesystems.
 */
#define SIZE 120000u
#define OVER_OFF 3000u
#define OVER_LEN 10000u
#define APPEND 50000u

static uint8_t pat_host(uint64_t i) { return (uint8_t)(i * 71 + (i >> 10) * 3 + 5); }
static uint8_t pat_guest(uint64_t i) { return (uint8_t)(i * 23 + (i >> 8) + 0x77); }

static int bf_read(void *c, uint64_t s, void *b, size_t n) { return minios_blkfront_read(c, s, b, n); }
static int bf_write(void *c, uint64_t s, const void *b, size_t n) { return minios_blkfront_write(c, s, b, n); }
static int bf_flush(void *c) { return minios_blkfront_flush(c); }

static uint8_t buf[SIZE + APPEND];

int main(void)
{
    char err[MINIOS_BLKFRONT_ERRLEN > STORE_ERRLEN ? MINIOS_BLKFRONT_ERRLEN : STORE_ERRLEN];
    if (minios_gnttab_init()) {
        test_error("no grant table");
        return test_finish();
    }
    struct minios_blkfront *f;
    int rc = minios_blkfront_attach("device/vbd/51712", &f, err);
    if (rc) {
        test_fail("attach xvda: %d: %s", rc, err);
        return test_finish();
    }
    struct store_dev dev = {
        .ctx = f, .sectors = minios_blkfront_sectors(f), .block_size = 512,
        .read = bf_read, .write = bf_write, .flush = bf_flush,
    };
    struct store *st;
    rc = store_open_dev(&dev, true, &st, err);
    if (rc) {
        test_fail("store_open_dev: %d: %s", rc, err);
        return test_finish();
    }
    struct img_io *io;
    rc = store_file_open(st, "/www/index.html", true, &io, err);
    if (rc) {
        test_fail("/www/index.html: %d: %s", rc, err);
        return test_finish();
    }
    CHECK_EQ(io->ops->size(io), SIZE);
    CHECK_EQ(io->ops->pread(io, buf, SIZE, 0), 0);
    unsigned bad = 0;
    for (uint32_t i = 0; i < SIZE; i++)
        bad += buf[i] != pat_host(i);
    if (bad)
        test_fail("/www/index.html: %u bytes differ", bad);
    else
        printf("read /www/index.html from the ext4 on xvda: %u bytes, byte-exact\n", SIZE);
    for (uint32_t i = 0; i < OVER_LEN; i++)
        buf[i] = pat_guest(OVER_OFF + i);
    CHECK_EQ(io->ops->pwrite(io, buf, OVER_LEN, OVER_OFF), 0);
    for (uint32_t i = 0; i < APPEND; i++)
        buf[i] = pat_guest(SIZE + i);
    CHECK_EQ(io->ops->pwrite(io, buf, APPEND, SIZE), 0);
    CHECK_EQ(io->ops->flush(io), 0);
    CHECK_EQ(io->ops->pread(io, buf, SIZE + APPEND, 0), 0);
    bad = 0;
    for (uint32_t i = 0; i < SIZE + APPEND; i++) {
        uint8_t want = (i >= OVER_OFF && i < OVER_OFF + OVER_LEN) || i >= SIZE ? pat_guest(i)
                                                                               : pat_host(i);
        bad += buf[i] != want;
    }
    if (bad)
        test_fail("after writing: %u bytes differ", bad);
    else
        printf("rewrote %u bytes, appended %u, flushed, read back: byte-exact\n", OVER_LEN, APPEND);
    io->ops->close(io);
    rc = store_close(st, err);
    if (rc)
        test_fail("store_close: %d: %s", rc, err);
    CHECK_EQ(minios_blkfront_detach(f), 0);
    printf("filesystem closed, xvda detached\n");
    return test_finish();
}
