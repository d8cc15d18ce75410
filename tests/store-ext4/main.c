/* Guest test: the image store: libext2fs on the virtio-blk disk this domain owns reads and writes files of an ext4 filesystem the host made. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/store.h>
#include <minios/blk.h>
#include <minios/pci.h>

#include "args.h"
#include "report.h"

/*
 * run.sh made the store (mkfs.ext4 -d) with /data/in.bin and
 * /data/out.bin, IN_SIZE bytes each of pat_host.  The store is the
 * device at store=, a disk of zeros is at junk=.  The guest reads
 * in.bin byte-exact, rewrites out.bin's bytes [OVER_OFF, OVER_OFF +
 * OVER_LEN) and appends APPEND_LEN bytes, both with pat_guest (the
 * file's persist holds nothing after the rewrite, commits once after
 * the append), flushes, closes the store, opens it again read-only and reads out.bin back;
 * run.sh then checks out.bin with debugfs and the store with e2fsck -fn.
 * Refused: relative, missing and non-file paths, writes to a file or a
 * store opened read-only, closing a store with files open, and a disk
 * without a filesystem.
 */
#define IN_SIZE    300000u
#define OVER_OFF   5000u
#define OVER_LEN   20000u
#define APPEND_LEN 70000u

static uint8_t pat_host(uint64_t i) { return (uint8_t)(i * 131 + (i >> 12) * 7 + 1); }
static uint8_t pat_guest(uint64_t i) { return (uint8_t)(i * 37 + (i >> 9) + 0x5a); }

static uint8_t want_out(uint64_t i)
{
    if (i >= OVER_OFF && i < OVER_OFF + OVER_LEN)
        return pat_guest(i);
    return i < IN_SIZE ? pat_host(i) : pat_guest(i);
}

static uint16_t bdf_arg(int argc, char **argv, const char *key)
{
    uint16_t bdf = 0xffff;
    const char *s = test_arg(argc, argv, key);
    if (!s || minios_pci_parse_bdf(s, &bdf))
        test_error("needs %s=BB:DD.F", key);
    return bdf;
}

/* Reads the whole of io (size bytes) in odd-sized pieces and compares it with want. */
static int check_file(struct img_io *io, uint64_t size, uint8_t (*want)(uint64_t), const char *what)
{
    int64_t got = io->ops->size(io);
    if (got != (int64_t)size) {
        test_fail("%s: size %lld, expected %llu", what, (long long)got, (unsigned long long)size);
        return -1;
    }
    static uint8_t buf[40000];
    for (uint64_t off = 0; off < size;) {
        size_t n = size - off < 37717 ? (size_t)(size - off) : 37717;
        int rc = io->ops->pread(io, buf, n, off);
        if (rc) {
            test_fail("%s: read at %llu: %d", what, (unsigned long long)off, rc);
            return -1;
        }
        for (size_t j = 0; j < n; j++)
            if (buf[j] != want(off + j)) {
                test_fail("%s: byte %llu is %#x, expected %#x", what,
                          (unsigned long long)(off + j), buf[j], want(off + j));
                return -1;
            }
        off += n;
    }
    /* Past the end: zeros. */
    memset(buf, 0xee, 100);
    CHECK_EQ(io->ops->pread(io, buf, 100, size + 1000), 0);
    for (int j = 0; j < 100; j++)
        if (buf[j]) {
            test_fail("%s: a read past the end is not zeros", what);
            return -1;
        }
    return 0;
}

static void refusals(struct store *s, struct img_io *in)
{
    struct img_io *io;
    char err[STORE_ERRLEN];
    CHECK_EQ(store_file_open(s, "data/in.bin", false, &io, err), -EINVAL);
    printf("refused: data/in.bin: %s\n", err);
    CHECK_EQ(store_file_open(s, "/data/nope.img", false, &io, err), -ENOENT);
    printf("refused: %s\n", err);
    CHECK_EQ(store_file_open(s, "/data", false, &io, err), -EISDIR);
    printf("refused: %s\n", err);
    CHECK_EQ(store_file_open(s, "/data/in.bin/x", false, &io, err), -ENOTDIR);
    printf("refused: %s\n", err);
    uint8_t b[512] = { 0 };
    CHECK_EQ(in->ops->pwrite(in, b, sizeof(b), 0), -EBADF);
    CHECK_EQ(in->ops->truncate(in, 0), -EBADF);
    CHECK_EQ(store_close(s, err), -EBUSY);
    printf("refused: store_close: %s\n", err);
    /* One writer or many readers. */
    struct img_io *again;
    CHECK_EQ(store_file_open(s, "/data/in.bin", true, &again, err), -EBUSY);
    printf("refused: %s\n", err);
    CHECK_EQ(store_file_open(s, "/data/in.bin", false, &again, err), 0);
    again->ops->close(again);
    printf("a second reader of /data/in.bin: opened\n");
}

int main(int argc, char **argv)
{
    uint16_t sbdf = bdf_arg(argc, argv, "store"), jbdf = bdf_arg(argc, argv, "junk");
    struct minios_blk *dev, *junk;
    char err[STORE_ERRLEN];
    if (minios_blk_open(sbdf, &dev) || minios_blk_open(jbdf, &junk)) {
        test_error("cannot open the disks");
        return test_finish();
    }

    /* A disk of zeros holds no filesystem. */
    struct store *s;
    CHECK_EQ(store_open(junk, true, &s, err), -EINVAL);
    printf("refused: junk disk: %s\n", err);

    int rc = store_open(dev, true, &s, err);
    if (rc) {
        test_fail("store_open: %d: %s", rc, err);
        return test_finish();
    }
    struct img_io *in, *out;
    rc = store_file_open(s, "/data/in.bin", false, &in, err);
    if (rc) {
        test_fail("open /data/in.bin: %d: %s", rc, err);
        return test_finish();
    }
    if (!check_file(in, IN_SIZE, pat_host, "/data/in.bin"))
        printf("read /data/in.bin: %u bytes, byte-exact\n", IN_SIZE);
    refusals(s, in);

    /* Relative names from a file's directory (as backing files are). */
    struct img_io *rel;
    rc = in->ops->open_related(in, "out.bin", false, &rel);
    CHECK_EQ(rc, 0);
    if (!rc) {
        if (!check_file(rel, IN_SIZE, pat_host, "out.bin relative to /data/in.bin"))
            printf("opened out.bin relative to /data/in.bin\n");
        rel->ops->close(rel);
    }
    in->ops->close(in);

    rc = store_file_open(s, "/data/out.bin", true, &out, err);
    if (rc) {
        test_fail("open /data/out.bin writable: %d: %s", rc, err);
        return test_finish();
    }
    CHECK_EQ(store_file_open(s, "/data/out.bin", false, &rel, err), -EBUSY);
    printf("refused: %s\n", err);
    CHECK_EQ(store_file_open(s, "/data/../data/out.bin", true, &rel, err), -EBUSY);
    printf("refused: %s\n", err);
    static uint8_t buf[APPEND_LEN];
    for (uint32_t j = 0; j < OVER_LEN; j++)
        buf[j] = pat_guest(OVER_OFF + j);
    CHECK_EQ(out->ops->pwrite(out, buf, OVER_LEN, OVER_OFF), 0);
    /* persist (what tapdisk calls before answering writes): an
     * overwrite of the file's blocks holds nothing back; an append
     * (blocks allocated, the size grown) needs a commit, once. */
    int p1 = out->ops->persist(out);
    for (uint32_t j = 0; j < APPEND_LEN; j++)
        buf[j] = pat_guest(IN_SIZE + j);
    CHECK_EQ(out->ops->pwrite(out, buf, APPEND_LEN, IN_SIZE), 0);
    int p2 = out->ops->persist(out), p3 = out->ops->persist(out);
    if (p1 != 0 || p2 != 1 || p3 != 0)
        test_fail("persist after an overwrite %d (want 0), after an append %d (want 1), "
                  "again %d (want 0)", p1, p2, p3);
    else
        printf("persist: nothing held after an overwrite, a commit after an append, then "
               "nothing\n");
    CHECK_EQ(out->ops->flush(out), 0);
    if (!check_file(out, IN_SIZE + APPEND_LEN, want_out, "/data/out.bin"))
        printf("wrote /data/out.bin: %u bytes rewritten, %u appended, flushed, read back byte-exact\n",
               OVER_LEN, APPEND_LEN);
    out->ops->close(out);
    uint64_t rd, wr;
    store_stats(s, &rd, &wr);
    printf("store device I/O: %llu bytes read, %llu written\n",
           (unsigned long long)rd, (unsigned long long)wr);
    rc = store_close(s, err);
    if (rc)
        test_fail("store_close: %d: %s", rc, err);

    /* Again, read-only: what the library wrote is on the disk. */
    rc = store_open(dev, false, &s, err);
    if (rc) {
        test_fail("store_open again: %d: %s", rc, err);
        return test_finish();
    }
    CHECK_EQ(store_file_open(s, "/data/out.bin", true, &out, err), -EROFS);
    printf("refused: %s\n", err);
    rc = store_file_open(s, "/data/out.bin", false, &out, err);
    CHECK_EQ(rc, 0);
    if (!rc) {
        if (!check_file(out, IN_SIZE + APPEND_LEN, want_out, "/data/out.bin after reopening"))
            printf("store reopened read-only: /data/out.bin byte-exact\n");
        out->ops->close(out);
    }
    CHECK_EQ(store_close(s, err), 0);
    return test_finish();
}
