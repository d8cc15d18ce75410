/* Guest test: a guest disk over xenbus: a control domain writes the nodes as a toolstack does, the tapdisk stub domain serves a qcow2 overlay on its store, minios's blkfront attaches, reads, writes, flushes and detaches. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <minios/blkfront.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/thread.h>
#include <minios/xenbus.h>
#include <xen/errno.h>
#include <xen/io/xenbus.h>

#include "args.h"
#include "report.h"

/*
 * op=ctl back=B front=F: as libxl does for disks xvda (51712) and xvdb
 * (51728, whose image is missing) of F
 * served by B: /local/domain/B/backend/vbd/F/51712 (frontend,
 * frontend-id, params=/images/vm/disk.qcow2, mode=w, online, state=1;
 * owned by B, readable by F) and /local/domain/F/device/vbd/51712
 * (backend, backend-id, virtual-device, device-type, state=1; owned by
 * F, readable by B).
 * op=boot: the same with the disks the boot wiring made from
 * disk=xvda:/images/vm/disk.qcow2 disk=xvdb:/images/base.raw:ro: xvdb
 * reads as the base file, a write to it is refused.
 * op=disks n=N salt=S: tests/disk-formats (see disks() below).
 * op=front: blkfront's attach of xvdb is refused (the backend closes);
 * it attaches to device/vbd/51712, reads the disk's
 * first MiB (the backing file's pattern through the qcow2 overlay),
 * writes 256 KiB, flushes, reads back, detaches.
 */
#define DEV "51712"
#define DEV_MISSING "51728"     /* xvdb: its image does not exist */
#define IMG_PATH "/images/vm/disk.qcow2"
#define WR_SECTOR 512u
#define WR_SECTORS 512u

static uint8_t pat_base(uint64_t i) { return (uint8_t)(i * 151 + (i >> 9) * 3 + 7); }
static uint8_t pat_guest(uint64_t i) { return (uint8_t)(i * 29 + (i >> 10) * 5 + 0xa1); }

static unsigned uarg(int argc, char **argv, const char *k)
{
    const char *v = test_arg(argc, argv, k);
    if (!v) {
        test_error("needs %s=", k);
        exit(test_finish());
    }
    return (unsigned)atoi(v);
}

static void put(const char *dir, const char *name, const char *val)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    if (minios_xs_write(MINIOS_XBT_NIL, p, val))
        test_fail("write %s", p);
}

static void perms(const char *path, unsigned owner, unsigned reader)
{
    char o[16], r[16];
    snprintf(o, sizeof(o), "n%u", owner);
    snprintf(r, sizeof(r), "r%u", reader);
    const char *pl[] = { o, r };
    if (minios_xs_set_perms(MINIOS_XBT_NIL, path, pl, 2))
        test_fail("set_perms %s", path);
}

/* The nodes of one disk (device dev, image params, mode), as libxl writes them. */
static void ctl_disk(unsigned back, unsigned front, const char *dev, const char *params,
                     const char *mode)
{
    char be[128], fe[128], v[128], p[160];
    snprintf(be, sizeof(be), "/local/domain/%u/backend/vbd/%u/%s", back, front, dev);
    snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/%s", front, dev);
    /* The parents, then each directory with its owner, then the nodes. */
    snprintf(p, sizeof(p), "/local/domain/%u/backend", back);
    minios_xs_mkdir(MINIOS_XBT_NIL, p);
    perms(p, back, back);
    snprintf(p, sizeof(p), "/local/domain/%u/backend/vbd/%u", back, front);
    minios_xs_mkdir(MINIOS_XBT_NIL, p);
    perms(p, back, back);
    CHECK_EQ(minios_xs_mkdir(MINIOS_XBT_NIL, be), 0);
    perms(be, back, front);
    CHECK_EQ(minios_xs_mkdir(MINIOS_XBT_NIL, fe), 0);
    perms(fe, front, back);
    put(be, "frontend", fe);
    snprintf(v, sizeof(v), "%u", front);
    put(be, "frontend-id", v);
    put(be, "params", params);
    put(be, "mode", mode);
    put(be, "online", "1");
    put(fe, "backend", be);
    snprintf(v, sizeof(v), "%u", back);
    put(fe, "backend-id", v);
    put(fe, "virtual-device", dev);
    put(fe, "device-type", "disk");
    put(fe, "state", "1");
    put(be, "state", "1");          /* last: the backend starts on it */
    /* Each node as its owner's. */
    static const char *const bn[] = { "frontend", "frontend-id", "params", "mode", "online", "state" };
    static const char *const fn[] = { "backend", "backend-id", "virtual-device", "device-type", "state" };
    for (unsigned i = 0; i < sizeof(bn) / sizeof(bn[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", be, bn[i]);
        perms(p, back, front);
    }
    for (unsigned i = 0; i < sizeof(fn) / sizeof(fn[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", fe, fn[i]);
        perms(p, front, back);
    }
}

static int ctl(unsigned back, unsigned front)
{
    ctl_disk(back, front, DEV, IMG_PATH, "w");
    ctl_disk(back, front, DEV_MISSING, "/images/missing.qcow2", "w");
    printf("wrote the nodes of d%u's xvda and xvdb, served by d%u\n", front, back);
    return test_finish();
}

static uint8_t buf[1 << 20];

static int front(bool boot)
{
    struct minios_blkfront *f;
    char err[MINIOS_BLKFRONT_ERRLEN], *val;
    size_t n;
    /* The toolstack (op=ctl) writes the device's nodes after we start. */
    for (unsigned i = 0; minios_xs_read(MINIOS_XBT_NIL, "device/vbd/" DEV "/state", &val, &n); i++) {
        if (i == 6000) {
            test_error("no device/vbd/" DEV);
            return test_finish();
        }
        minios_thread_sleep_ns(5000000);
    }
    free(val);
    int rc = minios_blkfront_attach("device/vbd/" DEV, &f, err);
    if (rc) {
        test_fail("attach: %d: %s", rc, err);
        return test_finish();
    }
    printf("attached: %llu sectors\n", (unsigned long long)minios_blkfront_sectors(f));
    struct minios_blkfront *f2;
    rc = minios_blkfront_attach("device/vbd/" DEV_MISSING, &f2, err);
    if (!boot) {
        /* xvdb names an image the store does not have: the backend closes. */
        if (rc != -ECONNREFUSED)
            test_fail("attaching xvdb: %d, expected -ECONNREFUSED", rc);
        else
            printf("refused: %s\n", err);
    } else if (rc) {
        test_fail("attaching xvdb: %d: %s", rc, err);
    } else {
        /* disk=xvdb:/images/base.raw:ro: the backing file itself, read-only. */
        CHECK_EQ(minios_blkfront_read(f2, 0, buf, 2048), 0);
        unsigned bad2 = 0;
        for (size_t i = 0; i < 2048 * 512; i++)
            bad2 += buf[i] != pat_base(i);
        CHECK_EQ(bad2, 0);
        CHECK_EQ(minios_blkfront_write(f2, 0, buf, 1), -XEN_EROFS);
        printf("xvdb: read-only, %llu sectors, the base file's bytes; a write refused\n",
               (unsigned long long)minios_blkfront_sectors(f2));
        CHECK_EQ(minios_blkfront_detach(f2), 0);
    }
    CHECK_EQ(minios_blkfront_read(f, 0, buf, sizeof(buf) / 512), 0);
    unsigned bad = 0;
    for (size_t i = 0; i < sizeof(buf); i++)
        bad += buf[i] != pat_base(i);
    if (bad)
        test_fail("first MiB: %u bytes differ from the backing file", bad);
    else
        printf("read 1 MiB through the qcow2 overlay: the backing file's bytes\n");
    for (size_t i = 0; i < WR_SECTORS * 512; i++)
        buf[i] = pat_guest((uint64_t)WR_SECTOR * 512 + i);
    CHECK_EQ(minios_blkfront_write(f, WR_SECTOR, buf, WR_SECTORS), 0);
    CHECK_EQ(minios_blkfront_flush(f), 0);
    memset(buf, 0, sizeof(buf));
    CHECK_EQ(minios_blkfront_read(f, WR_SECTOR, buf, WR_SECTORS), 0);
    bad = 0;
    for (size_t i = 0; i < WR_SECTORS * 512; i++)
        bad += buf[i] != pat_guest((uint64_t)WR_SECTOR * 512 + i);
    if (bad)
        test_fail("read back: %u bad", bad);
    else
        printf("wrote 256 KiB, flushed, read back: byte-exact\n");
    rc = minios_blkfront_detach(f);
    if (rc)
        test_fail("detach: %d", rc);
    else
        printf("detached: the backend closed\n");
    return test_finish();
}

/* op=disks n=N salt=S: for each of xvda.. (N disks from disk=): attach,
 * read the first MiB (the base pattern), write 2 MiB of pat_disk from
 * sector 2048, flush, read it back, detach. */
static uint8_t pat_disk(uint64_t i, unsigned d, unsigned salt)
{
    return (uint8_t)(i * 13 + (i >> 11) * 7 + d * 31 + salt * 57 + 1);
}

static int disks(unsigned n, unsigned salt)
{
    for (unsigned d = 0; d < n; d++) {
        char node[64], err[MINIOS_BLKFRONT_ERRLEN];
        snprintf(node, sizeof(node), "device/vbd/%u", 51712 + 16 * d);
        struct minios_blkfront *f;
        int rc = minios_blkfront_attach(node, &f, err);
        if (rc) {
            test_fail("xvd%c: attach: %d: %s", 'a' + d, rc, err);
            continue;
        }
        CHECK_EQ(minios_blkfront_read(f, 0, buf, 2048), 0);
        unsigned bad = 0;
        for (size_t i = 0; i < sizeof(buf); i++)
            bad += buf[i] != pat_base(i);
        for (unsigned half = 0; half < 2; half++) {
            uint64_t base = (2048 + half * 2048ull) * 512;
            for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = pat_disk(base + i, d, salt);
            CHECK_EQ(minios_blkfront_write(f, 2048 + half * 2048, buf, 2048), 0);
        }
        CHECK_EQ(minios_blkfront_flush(f), 0);
        for (unsigned half = 0; half < 2; half++) {
            uint64_t base = (2048 + half * 2048ull) * 512;
            memset(buf, 0, sizeof(buf));
            CHECK_EQ(minios_blkfront_read(f, 2048 + half * 2048, buf, 2048), 0);
            for (size_t i = 0; i < sizeof(buf); i++)
                bad += buf[i] != pat_disk(base + i, d, salt);
        }
        if (bad)
            test_fail("xvd%c: %u bytes wrong", 'a' + d, bad);
        else
            printf("xvd%c: %llu sectors: base read, 2 MiB written, flushed, read back: byte-exact\n",
                   'a' + d, (unsigned long long)minios_blkfront_sectors(f));
        CHECK_EQ(minios_blkfront_detach(f), 0);
    }
    return test_finish();
}

/* op=hostile: three disks connected wrongly by hand: xvda with protocol
 * x86_32-abi, xvdb with a ring-ref that grants nothing, xvdc with a
 * ring-page-order (5) above tapdisk's max-ring-page-order; tapdisk must
 * close each (state 6) and serve the other guests on. */
static int wait_backend_closed(const char *node)
{
    char p[160], be[128], *v;
    size_t n;
    snprintf(p, sizeof(p), "%s/backend", node);
    if (minios_xs_read(MINIOS_XBT_NIL, p, &v, &n) || n >= sizeof(be))
        return -1;
    memcpy(be, v, n);
    be[n] = 0;
    free(v);
    snprintf(p, sizeof(p), "%s/state", be);
    for (unsigned i = 0; i < 6000; i++) {
        if (!minios_xs_read(MINIOS_XBT_NIL, p, &v, &n)) {
            bool closed = n == 1 && v[0] == '6';
            free(v);
            if (closed)
                return 0;
        }
        minios_thread_sleep_ns(5000000);
    }
    return -1;
}

static int hostile(void)
{
    static const struct { const char *node, *ring, *proto, *order, *what; } bad[] = {
        { "device/vbd/51712", "8", "x86_32-abi", NULL, "protocol x86_32-abi" },
        { "device/vbd/51728", "4000", "x86_64-abi", NULL, "a ring-ref that grants nothing" },
        { "device/vbd/51744", "8", "x86_64-abi", "5", "ring-page-order 5" },
    };
    for (unsigned i = 0; i < 3; i++) {
        char p[160], *v;
        size_t n;
        snprintf(p, sizeof(p), "%s/state", bad[i].node);
        for (unsigned k = 0; minios_xs_read(MINIOS_XBT_NIL, p, &v, &n); k++) {
            if (k == 6000) {
                test_error("no %s", bad[i].node);
                return test_finish();
            }
            minios_thread_sleep_ns(5000000);
        }
        free(v);
        evtchn_port_t port;
        CHECK_EQ(minios_evtchn_alloc_unbound(2, &port), 0);
        char val[16];
        snprintf(val, sizeof(val), "%u", port);
        put(bad[i].node, "ring-ref", bad[i].ring);
        if (bad[i].order) {
            put(bad[i].node, "ring-page-order", bad[i].order);
            for (unsigned r = 0; r < 32; r++) {
                char name[16];
                snprintf(name, sizeof(name), "ring-ref%u", r);
                put(bad[i].node, name, bad[i].ring);
            }
        }
        put(bad[i].node, "event-channel", val);
        put(bad[i].node, "protocol", bad[i].proto);
        put(bad[i].node, "state", "3");
        if (wait_backend_closed(bad[i].node))
            test_fail("%s: the backend did not close", bad[i].what);
        else
            printf("refused: %s: the backend closed\n", bad[i].what);
        put(bad[i].node, "state", "6");
    }
    return test_finish();
}

/* op=crash: attaches xvda, reads from it, and crashes without closing:
 * tapdisk must notice the frontend is gone and close the disk. */
static int crash(void)
{
    struct minios_blkfront *f;
    char err[MINIOS_BLKFRONT_ERRLEN], *val;
    size_t n;
    for (unsigned i = 0; minios_xs_read(MINIOS_XBT_NIL, "device/vbd/" DEV "/state", &val, &n); i++) {
        if (i == 6000) {
            test_error("no device/vbd/" DEV);
            return test_finish();
        }
        minios_thread_sleep_ns(5000000);
    }
    free(val);
    int rc = minios_blkfront_attach("device/vbd/" DEV, &f, err);
    if (rc) {
        test_fail("attach: %d: %s", rc, err);
        return test_finish();
    }
    CHECK_EQ(minios_blkfront_read(f, 0, buf, 64), 0);
    printf("attached and read; crashing without closing\n");
    abort();
}

int main(int argc, char **argv)
{
    const char *op = test_arg(argc, argv, "op");
    if (minios_gnttab_init()) {
        test_error("no grant table");
        return test_finish();
    }
    if (op && !strcmp(op, "ctl"))
        return ctl(uarg(argc, argv, "back"), uarg(argc, argv, "front"));
    if (op && !strcmp(op, "front"))
        return front(false);
    if (op && !strcmp(op, "boot"))
        return front(true);
    if (op && !strcmp(op, "crash"))
        return crash();
    if (op && !strcmp(op, "hostile"))
        return hostile();
    if (op && !strcmp(op, "disks"))
        return disks(uarg(argc, argv, "n"), uarg(argc, argv, "salt"));
    test_error("op=ctl|front|boot|disks|hostile|crash");
    return test_finish();
}
