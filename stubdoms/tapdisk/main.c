/* main.c: the tapdisk stub domain: owns the disk holding the image store and serves every guest disk that a backend directory under its home names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/bench_disk.h>
#include <keel/image.h>
#include <keel/store.h>
#include <keel/store_fs.h>
#include <minios/blk.h>
#include <minios/events.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <minios/xenbus.h>
#include <xen/io/xenbus.h>

#include "blkback.h"
#include "vbd.h"

/*
 * Command line (docs/boot-config.md, docs/disk.md):
 *   tapdisk.elf name=tapdisk role=hardware pci=BB:DD.F [exit=idle]
 * The store is the first virtio-blk device among pci=.  Every directory
 * /local/domain/<us>/backend/vbd/<frontend-id>/<device> in state
 * Initialising (1) is served by its own thread (vbd.c) until the
 * frontend closes, fails or goes.  exit=idle: once at least one disk was
 * served and none is left, close the store and power off (for tests).
 * selftest=crash-after-writes=N: abort after carrying out the N-th write
 * request of this life, before answering it (test disk-restart).
 * max-ring-page-order=N (0..4), max-indirect-segments=N (0..32): offer
 * frontends less (0: the node is not written, as by a backend without
 * the feature; test blkfront-offers).
 * blk-poll-ns=N: look at the store disk's used ring every N ns while a
 * request is out (make bench-disk under -icount sleep=off).
 * selftest=bench-read=PATH (up to 8; with exit=idle): once every disk is
 * closed, read the image at PATH itself, BENCH_DISK_OPS random 4 KiB
 * blocks through the image library (the pattern of make bench-disk's
 * guest, <keel/bench_disk.h>), and print the rate in PV time: the disk
 * path without the stub-domain boundary (ci/bench-disk.sh).
 */
#define MAX_VBDS 64

static struct store *store;
static char home[64];
static bool exit_idle;
static struct {
    char path[128];
    bool active;
} vbds[MAX_VBDS];
static unsigned active, served;
#define MAX_BENCH 8
static const char *bench_paths[MAX_BENCH];
static unsigned nbench;
static uint64_t blk_poll_ns;

/* One round of the guest's random pattern on img: its time in ns, or 0
 * if a read failed or a block does not start with its number (the
 * bench's images are made so). */
static uint64_t bench_round(const char *path, struct img *img, uint64_t nblocks)
{
    static uint8_t buf[BENCH_DISK_BLOCK];
    uint64_t t0 = minios_monotonic_ns();
    for (unsigned i = 0; i < BENCH_DISK_OPS; i++) {
        uint64_t b = bench_disk_rand_block(i, nblocks), got;
        int rc = img_read(img, b * BENCH_DISK_BLOCK, buf, sizeof(buf));
        memcpy(&got, buf, 8);
        if (rc || got != b) {
            printf("tapdisk: bench-read %s: block %llu: %s (%d)\n", path, (unsigned long long)b,
                   rc ? "read failed" : "not the block's number", rc);
            return 0;
        }
    }
    uint64_t ns = minios_monotonic_ns() - t0;
    return ns ? ns : 1;
}

/* selftest=bench-read=PATH: the guest's random 4 KiB reads, done here
 * on the image itself, the fastest of BENCH_DISK_ROUNDS rounds as the
 * guest reports; and the store's bytes read per operation, what the
 * format's metadata and the filesystem cost in disk reads
 * (deterministic, unlike the time). */
static void bench_read(const char *path)
{
    struct img_io *io;
    struct img *img;
    char err[IMG_ERR_LEN > STORE_ERRLEN ? IMG_ERR_LEN : STORE_ERRLEN];
    int rc = store_file_open(store, path, false, &io, err);
    if (!rc)
        rc = img_open(io, NULL, 0, NULL, &img, err);
    if (rc) {
        printf("tapdisk: bench-read %s: %s (%d)\n", path, err, rc);
        return;
    }
    struct img_info info;
    uint64_t nblocks = img_info(img, &info) ? 0 : info.virtual_size / BENCH_DISK_BLOCK;
    uint64_t rd0, wr0, rd1, wr1, best = UINT64_MAX;
    store_stats(store, &rd0, &wr0);
    for (unsigned r = 0; r < BENCH_DISK_ROUNDS && nblocks; r++) {
        uint64_t ns = bench_round(path, img, nblocks);
        if (!ns)
            nblocks = 0;
        else if (ns < best)
            best = ns;
    }
    store_stats(store, &rd1, &wr1);
    if (nblocks)
        printf("tapdisk: bench-read %s: %s ops=%u ns=%llu iops=%llu store_bytes_per_op=%llu\n",
               path, info.format, BENCH_DISK_OPS, (unsigned long long)best,
               (unsigned long long)((uint64_t)BENCH_DISK_OPS * 1000000000ull / best),
               (unsigned long long)((rd1 - rd0) / BENCH_DISK_OPS / BENCH_DISK_ROUNDS));
    else if (!rc)
        printf("tapdisk: bench-read %s: no figure\n", path);
    img_close(img);
}

/* A watch on our backend/vbd directory (set by main) wakes main's scan
 * whenever a node below it is written or removed; so does a vbd thread's
 * end. */
static unsigned backend_fires;
static struct minios_waitq backend_wq = MINIOS_WAITQ_INIT;

static void backends_changed(const char *path, const char *token, void *data)
{
    (void)path, (void)token, (void)data;
    backend_fires++;
    minios_waitq_wake_all(&backend_wq);
}

static void serve_vbd(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    struct vbd *v;
    char err[VBD_ERRLEN];
    int rc = vbd_connect(vbds[i].path, store, &v, err);
    if (rc) {
        printf("tapdisk: %s: %s (%d)\n", vbds[i].path, err, rc);
    } else {
        printf("tapdisk: %s: connected\n", vbds[i].path);
        int fs = vbd_wait_frontend_closing(v);
        vbd_close(v);
        printf("tapdisk: %s: closed (frontend state %d)\n", vbds[i].path, fs);
    }
    served++;
    active--;
    vbds[i].active = false;                 /* a restarted frontend is served again */
    backends_changed(NULL, NULL, NULL);     /* exit=idle: main looks again */
    minios_thread_exit();
}

/* Starts a thread for each backend directory in state 1 not served yet. */
static void scan(void)
{
    char dir[96], **fes, **devs;
    unsigned nfe, ndev;
    snprintf(dir, sizeof(dir), "%s/backend/vbd", home);
    if (minios_xs_directory(MINIOS_XBT_NIL, dir, &fes, &nfe))
        return;
    for (unsigned a = 0; a < nfe; a++) {
        char fdir[128];
        snprintf(fdir, sizeof(fdir), "%s/%s", dir, fes[a]);
        if (minios_xs_directory(MINIOS_XBT_NIL, fdir, &devs, &ndev))
            continue;
        for (unsigned b = 0; b < ndev; b++) {
            char path[128], sp[160], *st;
            size_t n;
            if ((size_t)snprintf(path, sizeof(path), "%s/%s", fdir, devs[b]) >= sizeof(path))
                continue;
            snprintf(sp, sizeof(sp), "%s/state", path);
            if (minios_xs_read(MINIOS_XBT_NIL, sp, &st, &n))
                continue;
            bool init = n == 1 && st[0] == '1';
            free(st);
            if (!init)
                continue;
            unsigned i, fr = MAX_VBDS;
            for (i = 0; i < MAX_VBDS; i++) {
                if (vbds[i].active && !strcmp(vbds[i].path, path))
                    break;
                if (!vbds[i].active && fr == MAX_VBDS)
                    fr = i;
            }
            if (i < MAX_VBDS)
                continue;           /* being served */
            if (fr == MAX_VBDS) {
                printf("tapdisk: %s: more than %u disks, not served\n", path, MAX_VBDS);
                continue;
            }
            snprintf(vbds[fr].path, sizeof(vbds[fr].path), "%s", path);
            vbds[fr].active = true;
            active++;
            if (!minios_thread_create("vbd", serve_vbd, (void *)(uintptr_t)fr, 64 << 10)) {
                vbds[fr].active = false;
                active--;
            }
        }
        free(devs);
    }
    free(fes);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "exit=idle"))
            exit_idle = true;
        else if (!strcmp(argv[i], "persistent=0"))
            vbd_offer_persistent = false;
        else if (!strncmp(argv[i], "selftest=crash-after-writes=", 28)) {
            char *end;
            unsigned long n = strtoul(argv[i] + 28, &end, 10);
            if (end == argv[i] + 28 || *end || !n)
                printf("tapdisk: %s: not a positive number: ignored\n", argv[i]);
            else
                blkback_selftest_crash_after_writes(n);
        } else if (!strncmp(argv[i], "max-ring-page-order=", 20) ||
                   !strncmp(argv[i], "max-indirect-segments=", 22)) {
            bool ring = argv[i][4] == 'r';
            const char *v = argv[i] + (ring ? 20 : 22);
            char *end;
            unsigned long n = strtoul(v, &end, 10);
            unsigned long max = ring ? vbd_max_ring_order : vbd_max_indirect;
            if (end == v || *end || n > max)
                printf("tapdisk: %s: not 0..%lu: ignored\n", argv[i], max);
            else if (ring)
                vbd_max_ring_order = (unsigned)n;
            else
                vbd_max_indirect = (unsigned)n;
        } else if (!strncmp(argv[i], "blk-poll-ns=", 12)) {
            char *end;
            unsigned long n = strtoul(argv[i] + 12, &end, 10);
            if (end == argv[i] + 12 || *end || !n || n > 1000000)
                printf("tapdisk: %s: not 1..1000000: ignored\n", argv[i]);
            else
                blk_poll_ns = n;
        } else if (!strncmp(argv[i], "selftest=bench-read=", 20)) {
            if (nbench < MAX_BENCH)
                bench_paths[nbench++] = argv[i] + 20;
            else
                printf("tapdisk: %s: more than %u bench-read paths: ignored\n", argv[i], MAX_BENCH);
        }
    }
    if (nbench && !exit_idle)
        printf("tapdisk: selftest=bench-read needs exit=idle (it runs once every disk is closed)\n");
    uint16_t bdf;
    struct minios_blk *dev;
    char err[STORE_ERRLEN];
    if (minios_blk_find(&bdf) || minios_blk_open(bdf, &dev)) {
        printf("tapdisk: no virtio-blk device among pci=: nothing to serve from\n");
        return 1;
    }
    if (blk_poll_ns)
        minios_blk_set_poll_ns(dev, blk_poll_ns);
    int rc = store_open(dev, true, &store, err);
    if (rc) {
        printf("tapdisk: store on %02x:%02x.%x: %s (%d)\n", bdf >> 8, (bdf >> 3) & 31, bdf & 7,
               err, rc);
        return 1;
    }
    /* Debian 12's libext2fs (1.47.0) cannot free a range that ends at the
     * filesystem's last block (EIO: docs/diskfs.md): a growing image
     * file never gets it, so truncating or deleting one always works. */
    store_keep_last_block(store);
    printf("tapdisk: store on %02x:%02x.%x: %llu MiB\n", bdf >> 8, (bdf >> 3) & 31, bdf & 7,
           (unsigned long long)(minios_blk_sectors(dev) >> 11));
    snprintf(home, sizeof(home), "/local/domain/%u", minios_domid());
    /* New backend directories are found by a scan whenever the watch on
     * backend/vbd fires (xenstored fires it once when it is set, then for
     * every change below it), and once a second as well (an event the
     * xenbus thread had no memory for is lost); every 20 ms if the watch
     * cannot be set. */
    char bdir[96];
    snprintf(bdir, sizeof(bdir), "%s/backend/vbd", home);
    bool watched = minios_xs_watch(bdir, "tapdisk", backends_changed, NULL) == 0;
    if (!watched)
        printf("tapdisk: cannot watch %s: looking every 20 ms instead\n", bdir);
    for (;;) {
        unsigned seen = backend_fires;
        scan();
        if (exit_idle && served && !active)
            break;
        uint64_t until = minios_monotonic_ns() + (watched ? 1000000000ull : 20000000ull);
        unsigned long fl = minios_events_save();
        while (backend_fires == seen && minios_waitq_wait(&backend_wq, until) >= 0)
            ;
        minios_events_restore(fl);
    }
    if (watched)
        minios_xs_unwatch(bdir, "tapdisk");
    for (unsigned i = 0; i < nbench; i++)
        bench_read(bench_paths[i]);
    rc = store_close(store, err);
    if (rc) {
        printf("tapdisk: closing the store: %s (%d)\n", err, rc);
        return 1;
    }
    printf("tapdisk: every disk closed (exit=idle): store closed\n");
    return 0;
}
