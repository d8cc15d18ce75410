/* guest.c: the make bench-disk guest (ci/bench-disk.sh): 4 KiB reads and writes through minios blkfront -> tapdisk -> image -> store -> virtio-blk, timed in guest time (PV clock, under QEMU -icount). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/bench_disk.h>
#include <minios/blkfront.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/thread.h>
#include <minios/time.h>

/*
 * Command line: names=raw+qcow2+... (QEMU splits -initrd at commas) labels disks xvda, xvdb, ... (at
 * most 8); op=all runs, on each disk, BENCH_DISK_OPS 4 KiB sequential
 * reads, random reads, sequential writes, random writes (then a flush,
 * not timed), and on xvda random reads at queue depth 1 and 32; op=qd
 * only the queue-depth runs on xvda; op=grow, on each disk (empty
 * images that grow as they are written), BENCH_DISK_OPS 4 KiB
 * sequential writes from block 0, timed once (every write is a first
 * one: the store and the image allocate), then a flush, also timed
 * (PATTERN grow_write and grow_flush).  Every 4 KiB block of the host's
 * images starts with its block number (64-bit little-endian), and every
 * write here keeps it so: each read is checked against it.  Lines:
 *   bench-disk: first_read tsc=T ns=N      (machine start / hypervisor entry)
 *   bench-disk: NAME PATTERN ops=N ns=T iops=I kib_s=K
 *   bench-disk: qdD ops=N ns=T iops=I max_inflight=M ring_pages=P
 *   bench-disk: done
 * A failure prints "bench-disk: FAILED ..." and no figures after it.
 */
#define MAX_DISKS 8
#define QD_MAX    32

static struct minios_blkfront *disk[MAX_DISKS];
static char names[MAX_DISKS][16];
static unsigned ndisks;
static uint8_t buf[BENCH_DISK_BLOCK];
static int failed;

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static void fail(const char *what, int rc)
{
    if (!failed)
        printf("bench-disk: FAILED %s (%d)\n", what, rc);
    failed = 1;
}

/* One 4 KiB read of block b into p, checked. */
static int read_block(struct minios_blkfront *f, uint64_t b, uint8_t *p)
{
    int rc = minios_blkfront_read(f, b * 8, p, 8);
    if (rc)
        return rc;
    uint64_t got;
    memcpy(&got, p, 8);
    return got == b ? 0 : -1000;
}

static void print_rate(const char *name, const char *pat, unsigned ops, uint64_t ns)
{
    if (!ns)
        ns = 1;
    uint64_t iops = (uint64_t)ops * 1000000000ull / ns;
    uint64_t kib_s = (uint64_t)ops * (BENCH_DISK_BLOCK / 1024) * 1000000000ull / ns;
    printf("bench-disk: %s %s ops=%u ns=%llu iops=%llu kib_s=%llu\n", name, pat, ops,
           (unsigned long long)ns, (unsigned long long)iops, (unsigned long long)kib_s);
}

static uint64_t pattern_once(unsigned d, const char *pat, bool write, bool random)
{
    struct minios_blkfront *f = disk[d];
    uint64_t nblocks = minios_blkfront_sectors(f) / 8;
    uint64_t t0 = minios_monotonic_ns();
    for (unsigned i = 0; i < BENCH_DISK_OPS && !failed; i++) {
        uint64_t b = random ? bench_disk_rand_block(i, nblocks) : i % nblocks;
        int rc;
        if (write) {
            memset(buf, (int)(i & 0xff), sizeof(buf));
            memcpy(buf, &b, 8);
            rc = minios_blkfront_write(f, b * 8, buf, 8);
        } else {
            rc = read_block(f, b, buf);
        }
        if (rc) {
            char what[64];
            snprintf(what, sizeof(what), "%s %s op %u block %llu", names[d], pat, i,
                     (unsigned long long)b);
            fail(what, rc);
        }
    }
    uint64_t ns = minios_monotonic_ns() - t0;
    if (write && !failed) {
        int rc = minios_blkfront_flush(f);
        if (rc)
            fail("flush", rc);
    }
    return ns;
}

/* Each figure is the fastest of BENCH_DISK_ROUNDS rounds: the disk's
 * waits are host time (see ci/bench-disk.sh), the least disturbed round
 * is the one that repeats. */
static void pattern(unsigned d, const char *pat, bool write, bool random)
{
    uint64_t best = UINT64_MAX;
    for (unsigned r = 0; r < BENCH_DISK_ROUNDS && !failed; r++) {
        uint64_t ns = pattern_once(d, pat, write, random);
        if (ns < best)
            best = ns;
    }
    if (!failed)
        print_rate(names[d], pat, BENCH_DISK_OPS, best);
}

/* Queue depth: qd threads each take every qd-th operation of the random
 * pattern on xvda. */
static struct minios_waitq qd_wq = MINIOS_WAITQ_INIT;
static unsigned qd_depth, qd_done;
static uint8_t qd_buf[QD_MAX][BENCH_DISK_BLOCK];

static void qd_thread(void *arg)
{
    unsigned k = (unsigned)(uintptr_t)arg;
    struct minios_blkfront *f = disk[0];
    uint64_t nblocks = minios_blkfront_sectors(f) / 8;
    for (unsigned i = k; i < BENCH_DISK_OPS && !failed; i += qd_depth) {
        uint64_t b = bench_disk_rand_block(i, nblocks);
        int rc = read_block(f, b, qd_buf[k]);
        if (rc)
            fail("queue-depth read", rc);
    }
    unsigned long fl = minios_events_save();
    qd_done++;
    minios_waitq_wake_all(&qd_wq);
    minios_events_restore(fl);
}

static uint64_t queue_depth_once(unsigned depth)
{
    qd_depth = depth;
    qd_done = 0;
    uint64_t t0 = minios_monotonic_ns();
    unsigned made = 0;
    for (unsigned k = 0; k < depth; k++, made++)
        if (!minios_thread_create("qd", qd_thread, (void *)(uintptr_t)k, 16 << 10)) {
            fail("no thread", -12);
            break;
        }
    MINIOS_WAIT_EVENT(&qd_wq, qd_done == made);
    return minios_monotonic_ns() - t0;
}

static void queue_depth(unsigned depth)
{
    uint64_t ns = UINT64_MAX;
    for (unsigned r = 0; r < BENCH_DISK_ROUNDS && !failed; r++) {
        uint64_t t = queue_depth_once(depth);
        if (t < ns)
            ns = t;
    }
    uint64_t done;
    unsigned maxin;
    minios_blkfront_stats(disk[0], &done, &maxin);
    if (!failed)
        printf("bench-disk: qd%u ops=%u ns=%llu iops=%llu max_inflight=%u ring_pages=%u\n", depth,
               BENCH_DISK_OPS, (unsigned long long)ns,
               (unsigned long long)((uint64_t)BENCH_DISK_OPS * 1000000000ull / (ns ? ns : 1)),
               maxin, minios_blkfront_ring_pages(disk[0]));
}

/* op=grow: the first writes of an empty image, one pass (a second
 * would overwrite what the first allocated). */
static void grow(unsigned d)
{
    uint64_t ns = pattern_once(d, "grow_write", true, false);
    if (failed)
        return;
    print_rate(names[d], "grow_write", BENCH_DISK_OPS, ns);
    uint64_t t0 = minios_monotonic_ns();
    int rc = minios_blkfront_flush(disk[d]);
    if (rc)
        fail("flush", rc);
    else
        print_rate(names[d], "grow_flush", 1, minios_monotonic_ns() - t0);
}

int main(int argc, char **argv)
{
    const char *op = "all", *list = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "op=", 3))
            op = argv[i] + 3;
        else if (!strncmp(argv[i], "names=", 6))
            list = argv[i] + 6;
    }
    if (!list || (strcmp(op, "all") && strcmp(op, "qd") && strcmp(op, "grow"))) {
        printf("bench-disk: FAILED usage: names=A+B+... [op=all|qd|grow]\n");
        return 1;
    }
    for (const char *p = list; *p && ndisks < MAX_DISKS;) {
        size_t n = strcspn(p, "+");
        if (n == 0 || n >= sizeof(names[0])) {
            printf("bench-disk: FAILED bad names=\n");
            return 1;
        }
        memcpy(names[ndisks++], p, n);
        p += n + (p[n] == '+');
    }
    if (minios_gnttab_init()) {
        printf("bench-disk: FAILED no grant table\n");
        return 1;
    }
    for (unsigned d = 0; d < ndisks && !failed; d++) {
        char node[64], err[MINIOS_BLKFRONT_ERRLEN];
        snprintf(node, sizeof(node), "device/vbd/%u", 51712 + 16 * d);
        int rc = minios_blkfront_attach(node, &disk[d], err);
        if (rc) {
            printf("bench-disk: %s\n", err);
            fail("attach", rc);
            break;
        }
        if (minios_blkfront_sectors(disk[d]) < 8 * 64) {
            fail("disk smaller than 256 KiB", -22);
            break;
        }
        if (d == 0) {
            /* The first completed read: ticks since machine start (QEMU
             * counts the TSC from reset), ns of PV time since the
             * hypervisor's entry. */
            rc = read_block(disk[0], 0, buf);
            uint64_t tsc = rdtsc(), ns = minios_monotonic_ns();
            if (rc)
                fail("first read", rc);
            else
                printf("bench-disk: first_read tsc=%llu ns=%llu\n", (unsigned long long)tsc,
                       (unsigned long long)ns);
        }
    }
    if (!strcmp(op, "all"))
        for (unsigned d = 0; d < ndisks && !failed; d++) {
            pattern(d, "seq_read", false, false);
            pattern(d, "rand_read", false, true);
            pattern(d, "seq_write", true, false);
            pattern(d, "rand_write", true, true);
        }
    if (!strcmp(op, "grow"))
        for (unsigned d = 0; d < ndisks && !failed; d++)
            grow(d);
    if (!failed && strcmp(op, "grow"))
        queue_depth(1);
    if (!failed && strcmp(op, "grow"))
        queue_depth(QD_MAX);
    for (unsigned d = 0; d < ndisks; d++)
        if (disk[d])
            minios_blkfront_detach(disk[d]);
    if (!failed)
        printf("bench-disk: done\n");
    return failed;
}
