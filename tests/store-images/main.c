/* Guest test: disk images on the store: raw, qcow2 (over a backing file named relative to its directory), vhd and vmdk files of an ext4 store opened, read, written and flushed by the image library. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/image.h>
#include <keel/store.h>
#include <minios/blk.h>
#include <minios/pci.h>

#include "args.h"
#include "report.h"

/*
 * run.sh made the store (mkfs.ext4 -d) with IMG_SIZE-byte images holding
 * pat_host: /images/raw.img, /images/d.vhd (dynamic), /images/d.vmdk
 * (monolithicSparse), /images/base.raw and /images/vm1/disk.qcow2, an
 * empty overlay whose backing file is "../base.raw" (so it reads as
 * pat_host through it); /images/orphan.qcow2 names a backing file that
 * does not exist.  Each image is opened read-write with its format
 * probed, read whole, written with pat_guest at [W1_OFF, W1_OFF+W1_LEN)
 * and over its last W2_LEN bytes, flushed, read back, closed.  run.sh
 * then extracts the files with debugfs and checks them with qemu-img
 * check and qemu-img compare (base.raw must be untouched).  Refused: an
 * image whose backing file is missing, writes to an image opened
 * read-only, and I/O past the end of an image.
 */
#define IMG_SIZE (2u << 20)
#define W1_OFF   (256u << 10)
#define W1_LEN   (192u << 10)
#define W2_LEN   (64u << 10)

static uint8_t pat_host(uint64_t i) { return (uint8_t)(i * 151 + (i >> 9) * 3 + 7); }
static uint8_t pat_guest(uint64_t i) { return (uint8_t)(i * 29 + (i >> 10) * 5 + 0xa1); }

static uint8_t want_after(uint64_t i)
{
    if ((i >= W1_OFF && i < W1_OFF + W1_LEN) || i >= IMG_SIZE - W2_LEN)
        return pat_guest(i);
    return pat_host(i);
}

static uint16_t bdf_arg(int argc, char **argv, const char *key)
{
    uint16_t bdf = 0xffff;
    const char *s = test_arg(argc, argv, key);
    if (!s || minios_pci_parse_bdf(s, &bdf))
        test_error("needs %s=BB:DD.F", key);
    return bdf;
}

static uint8_t buf[IMG_SIZE];

static int compare(const char *path, uint8_t (*want)(uint64_t), const char *when)
{
    for (uint64_t i = 0; i < IMG_SIZE; i++)
        if (buf[i] != want(i)) {
            test_fail("%s %s: byte %llu is %#x, expected %#x", path, when,
                      (unsigned long long)i, buf[i], want(i));
            return -1;
        }
    return 0;
}

static struct img *open_image(struct store *s, const char *path, bool rw)
{
    struct img_io *io;
    char err[IMG_ERR_LEN > STORE_ERRLEN ? IMG_ERR_LEN : STORE_ERRLEN];
    int rc = store_file_open(s, path, rw, &io, err);
    if (rc) {
        test_fail("%s: %d: %s", path, rc, err);
        return NULL;
    }
    struct img *img;
    rc = img_open(io, NULL, rw ? IMG_OPEN_RDWR : 0, NULL, &img, err);
    if (rc) {
        test_fail("%s: img_open: %d: %s", path, rc, err);
        return NULL;
    }
    return img;
}

static void one(struct store *s, const char *path, const char *fmt)
{
    struct img *img = open_image(s, path, true);
    if (!img)
        return;
    struct img_info info;
    memset(&info, 0, sizeof(info));
    CHECK_EQ(img_info(img, &info), 0);
    if (strcmp(info.format, fmt) || info.virtual_size != IMG_SIZE)
        test_fail("%s: format %s, size %llu; expected %s, %u", path, info.format,
                  (unsigned long long)info.virtual_size, fmt, IMG_SIZE);
    int rc = img_read(img, 0, buf, IMG_SIZE);
    if (rc)
        test_fail("%s: read: %d", path, rc);
    else if (!compare(path, pat_host, "as made"))
        printf("%s (%s%s%s): %u bytes read, byte-exact\n", path, info.format,
               info.backing[0] ? ", backing " : "", info.backing, IMG_SIZE);
    for (uint64_t i = 0; i < W1_LEN; i++)
        buf[i] = pat_guest(W1_OFF + i);
    CHECK_EQ(img_write(img, W1_OFF, buf, W1_LEN), 0);
    for (uint64_t i = 0; i < W2_LEN; i++)
        buf[i] = pat_guest(IMG_SIZE - W2_LEN + i);
    CHECK_EQ(img_write(img, IMG_SIZE - W2_LEN, buf, W2_LEN), 0);
    CHECK_EQ(img_flush(img), 0);
    /* Past the end: refused. */
    if (img_read(img, IMG_SIZE - 512, buf, 1024) >= 0)
        test_fail("%s: a read past the end was not refused", path);
    if (img_write(img, IMG_SIZE, buf, 512) >= 0)
        test_fail("%s: a write past the end was not refused", path);
    img_close(img);

    img = open_image(s, path, false);
    if (!img)
        return;
    rc = img_read(img, 0, buf, IMG_SIZE);
    if (rc)
        test_fail("%s: read again: %d", path, rc);
    else if (!compare(path, want_after, "after writing"))
        printf("%s: wrote %u + %u bytes, flushed, reopened: byte-exact\n", path, W1_LEN, W2_LEN);
    if (img_write(img, 0, buf, 512) >= 0)
        test_fail("%s: a write to an image opened read-only was not refused", path);
    img_close(img);
}

int main(int argc, char **argv)
{
    uint16_t sbdf = bdf_arg(argc, argv, "store");
    struct minios_blk *dev;
    char err[IMG_ERR_LEN > STORE_ERRLEN ? IMG_ERR_LEN : STORE_ERRLEN];
    if (minios_blk_open(sbdf, &dev)) {
        test_error("cannot open the store's disk");
        return test_finish();
    }
    struct store *s;
    int rc = store_open(dev, true, &s, err);
    if (rc) {
        test_fail("store_open: %d: %s", rc, err);
        return test_finish();
    }
    one(s, "/images/raw.img", "raw");
    one(s, "/images/vm1/disk.qcow2", "qcow2");
    one(s, "/images/d.vhd", "vhd");
    one(s, "/images/d.vmdk", "vmdk");

    struct img_io *io;
    struct img *img;
    rc = store_file_open(s, "/images/orphan.qcow2", false, &io, err);
    CHECK_EQ(rc, 0);
    if (!rc) {
        rc = img_open(io, NULL, 0, NULL, &img, err);
        if (rc >= 0) {
            test_fail("orphan.qcow2: opened without its backing file");
            img_close(img);
        } else {
            printf("refused: /images/orphan.qcow2: %d: %s\n", rc, err);
        }
    }
    rc = store_close(s, err);
    if (rc)
        test_fail("store_close: %d: %s", rc, err);
    return test_finish();
}
