/* Guest test: minios's virtio drivers (minios/drivers/).  op=blk: the
 * virtio-blk device at blkdev= holds an image the host filled (sector s,
 * byte j: (s * 31 + j * 7 + 1) & 0xff); every sector reads back as that,
 * sectors 100-399 are rewritten with (s * 13 + j * 3 + 0x55) & 0xff from
 * an unaligned buffer, flushed and read back (run.sh checks the image
 * afterwards); three threads read the whole disk at once; requests past the end, empty or without a buffer are
 * refused with -EINVAL.  The read-only device at ro= with 4 KiB blocks
 * refuses writes (-EROFS) and requests not on its blocks (-EINVAL).
 * op=refuse: with a legacy-only virtio-net device (disable-modern=on) at
 * legacy=, opening it is refused (-ENODEV, message), as is a device of
 * another type.  op=none (no pci=): no device is found, none opens;
 * malformed BDFs and bad configuration accesses are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/blk.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <minios/pci.h>
#include <minios/virtio_net.h>
#include "report.h"
#include "args.h"

#define CHECK(cond) do {                                                 \
        if (!(cond))                                                     \
            test_fail("%s:%d: %s", __FILE__, __LINE__, #cond);          \
    } while (0)

static uint8_t pat_a(uint64_t s, unsigned j) { return (uint8_t)(s * 31 + j * 7 + 1); }
static uint8_t pat_b(uint64_t s, unsigned j) { return (uint8_t)(s * 13 + j * 3 + 0x55); }

static uint16_t bdf_arg(int argc, char **argv, const char *key)
{
    uint16_t bdf = 0xffff;
    const char *s = test_arg(argc, argv, key);
    if (!s || minios_pci_parse_bdf(s, &bdf))
        test_error("needs %s=BB:DD.F", key);
    return bdf;
}

/* Three threads read the whole disk at once, each in pieces of its own
 * size: requests take turns on the device, none sees another's data. */
struct reader {
    struct minios_blk *b;
    unsigned piece;
    unsigned bad;
    int done;
};

static void reader(void *arg)
{
    struct reader *r = arg;
    static uint8_t bufs[3][64 * 512];
    uint8_t *buf = bufs[r->piece % 3];
    uint64_t cap = minios_blk_sectors(r->b);
    for (uint64_t s = 0; s < cap; s += r->piece) {
        unsigned n = cap - s < r->piece ? (unsigned)(cap - s) : r->piece;
        if (minios_blk_read(r->b, s, buf, n) != 0) {
            r->bad++;
            continue;
        }
        for (unsigned i = 0; i < n * 512; i++)
            r->bad += buf[i] != pat_a(s + i / 512, i % 512);
    }
    r->done = 1;
}

static void op_blk(int argc, char **argv)
{
    uint16_t disk = bdf_arg(argc, argv, "blkdev"), rodisk = bdf_arg(argc, argv, "ro"), found;
    CHECK_EQ(minios_blk_find(&found), 0);
    CHECK_EQ(found, disk);
    struct minios_blk *b;
    int rc = minios_blk_open(disk, &b);
    if (rc) {
        test_fail("open: %d", rc);
        return;
    }
    uint64_t cap = minios_blk_sectors(b);
    CHECK_EQ(cap, 8192);
    CHECK_EQ(minios_blk_block_size(b), 512);
    CHECK_EQ(minios_blk_read_only(b), 0);
    CHECK_EQ(minios_blk_has_flush(b), 1);

    /* The host's pattern, 256 sectors (128 KiB, two chains) at a time. */
    uint8_t *buf = malloc(300 * 512 + 1);
    unsigned bad = 0;
    for (uint64_t s = 0; s < cap; s += 256) {
        CHECK_EQ(minios_blk_read(b, s, buf, 256), 0);
        for (unsigned i = 0; i < 256 * 512; i++)
            bad += buf[i] != pat_a(s + i / 512, i % 512);
    }
    CHECK_EQ(bad, 0);
    printf("read %llu sectors: the host's pattern, byte-exact\n", (unsigned long long)cap);

    struct reader rd[3] = { { b, 7, 0, 0 }, { b, 33, 0, 0 }, { b, 64, 0, 0 } };
    for (int i = 0; i < 3; i++)
        CHECK(minios_thread_create("reader", reader, &rd[i], 0) != NULL);
    uint64_t end = minios_monotonic_ns() + 120000000000ull;
    while (!(rd[0].done && rd[1].done && rd[2].done) && minios_monotonic_ns() < end)
        minios_sleep_ns(10000000);
    CHECK(rd[0].done && rd[1].done && rd[2].done);
    CHECK_EQ(rd[0].bad + rd[1].bad + rd[2].bad, 0);
    printf("three threads read the disk at once: byte-exact\n");

    /* Sectors 100-399 rewritten from an odd address, flushed, read back. */
    uint8_t *odd = buf + 1;
    for (unsigned i = 0; i < 300 * 512; i++)
        odd[i] = pat_b(100 + i / 512, i % 512);
    CHECK_EQ(minios_blk_write(b, 100, odd, 300), 0);
    CHECK_EQ(minios_blk_flush(b), 0);
    memset(buf, 0, 300 * 512 + 1);
    CHECK_EQ(minios_blk_read(b, 99, buf, 300), 0);       /* 99-398 */
    for (unsigned i = 0; i < 300 * 512; i++) {
        uint64_t s = 99 + i / 512;
        bad += buf[i] != (s < 100 ? pat_a(s, i % 512) : pat_b(s, i % 512));
    }
    CHECK_EQ(minios_blk_read(b, 399, buf, 2), 0);        /* 399-400 */
    for (unsigned i = 0; i < 1024; i++)
        bad += buf[i] != (i < 512 ? pat_b(399, i) : pat_a(400, i % 512));
    CHECK_EQ(bad, 0);
    printf("wrote sectors 100-399, flushed, read back byte-exact\n");

    /* Refused before the device sees them. */
    CHECK_EQ(minios_blk_read(b, cap, buf, 1), -XEN_EINVAL);
    CHECK_EQ(minios_blk_read(b, cap - 1, buf, 2), -XEN_EINVAL);
    CHECK_EQ(minios_blk_write(b, cap, buf, 1), -XEN_EINVAL);
    CHECK_EQ(minios_blk_read(b, ~0ull - 1, buf, 4), -XEN_EINVAL);
    CHECK_EQ(minios_blk_read(b, 0, buf, 0), -XEN_EINVAL);
    CHECK_EQ(minios_blk_read(b, 0, NULL, 1), -XEN_EINVAL);
    CHECK_EQ(minios_blk_read(b, cap - 1, buf, 1), 0);    /* the last one is fine */
    printf("past the end, empty and NULL requests refused with -EINVAL\n");

    /* The read-only device with 4 KiB logical blocks. */
    struct minios_blk *r;
    rc = minios_blk_open(rodisk, &r);
    if (rc) {
        test_fail("open ro: %d", rc);
        return;
    }
    CHECK_EQ(minios_blk_block_size(r), 4096);
    CHECK_EQ(minios_blk_read_only(r), 1);
    CHECK_EQ(minios_blk_read(r, 8, buf, 8), 0);
    for (unsigned i = 0; i < 4096; i++)
        bad += buf[i] != pat_a(8 + i / 512, i % 512);
    CHECK_EQ(bad, 0);
    CHECK_EQ(minios_blk_read(r, 1, buf, 8), -XEN_EINVAL);
    CHECK_EQ(minios_blk_read(r, 8, buf, 4), -XEN_EINVAL);
    CHECK_EQ(minios_blk_write(r, 8, buf, 8), -XEN_EROFS);
    printf("read-only 4 KiB-block device: misaligned requests -EINVAL, writes -EROFS\n");
    free(buf);
}

static void op_refuse(int argc, char **argv)
{
    uint16_t legacy = bdf_arg(argc, argv, "legacy"), disk = bdf_arg(argc, argv, "blkdev"), found;
    CHECK_EQ(minios_vnet_find(&found), 0);              /* transitional IDs: virtio-net */
    CHECK_EQ(found, legacy);
    struct minios_vnet *n;
    CHECK_EQ(minios_vnet_open(legacy, &n), -XEN_ENODEV);
    struct minios_blk *b;
    CHECK_EQ(minios_blk_open(legacy, &b), -XEN_ENODEV);  /* not a block device */
    CHECK_EQ(minios_vnet_open(disk, &n), -XEN_ENODEV);   /* not a NIC */
    CHECK_EQ(minios_blk_open(0x0100, &b), -XEN_ENODEV);  /* 01:00.0: not its own */
    printf("legacy-only device and wrong types refused\n");
}

static void op_none(int argc, char **argv)
{
    uint16_t dev = bdf_arg(argc, argv, "dev"), bdfs[MINIOS_PCI_MAX_OWNED], found;
    CHECK_EQ(minios_pci_owned(bdfs, MINIOS_PCI_MAX_OWNED), 0);
    CHECK_EQ(minios_vnet_find(&found), -XEN_ENODEV);
    CHECK_EQ(minios_blk_find(&found), -XEN_ENODEV);
    struct minios_blk *b;
    CHECK_EQ(minios_blk_open(dev, &b), -XEN_ENODEV);
    CHECK_EQ(minios_pci_read(dev, 0, 4), 0xffffffffu);   /* not its own: absent */
    uint16_t x = 0x1234;
    CHECK_EQ(minios_pci_parse_bdf("00:1f.7", &x), 0);
    CHECK_EQ(x, 0x00ff);
    const char *bad[] = { "0:3.0", "00:20.0", "00:03.8", "00:03.0x", "00-03.0", "g0:03.0", "" };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_EQ(minios_pci_parse_bdf(bad[i], &x), -XEN_EINVAL);
    CHECK_EQ(x, 0x00ff);
    CHECK_EQ(minios_pci_read(dev, 1, 2), 0xffff);         /* misaligned */
    CHECK_EQ(minios_pci_read(dev, 256, 4), 0xffffffffu);  /* past the legacy space */
    CHECK_EQ(minios_pci_read(dev, 0, 3), 0xffffffffu);    /* no such size */
    printf("no pci=: no device found, none opened\n");
}

int main(int argc, char **argv)
{
    const char *op = test_arg(argc, argv, "op");
    if (op && !strcmp(op, "blk"))
        op_blk(argc, argv);
    else if (op && !strcmp(op, "refuse"))
        op_refuse(argc, argv);
    else if (op && !strcmp(op, "none"))
        op_none(argc, argv);
    else
        test_error("op=blk|refuse|none");
    return test_finish();
}
