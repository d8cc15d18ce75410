/* disk-powercut guest (docs/disk-tests.md): writes stamped sectors and flushes in a loop on n= disks at once, printing each acknowledged flush, until the host kills QEMU. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <minios/blkfront.h>
#include <minios/gnttab.h>
#include <minios/thread.h>

#include "args.h"
#include "report.h"
#include "rng.h"

/*
 * seed=S gen=G n=N rounds=R: one thread per disk xvda.. (N of them).
 * Round r (1, 2, ...) of disk d writes EXTENTS extents, one after the
 * other, each at a pseudo-random sector (any sector, so partial clusters
 * and blocks) of 1..MAX_LEN sectors, then flushes; once the flush is
 * acknowledged it prints "flushed d=D round=R".  The extents come from
 * rng_seed_for(S ^ G << 32 ^ d << 48, r); run.sh draws the same ones.
 * Each written sector holds its stamp (stamp()), which names the boot
 * (G), the disk, the round and the sector, so that the host can tell a
 * flushed round's data from a later round's and from garbage.  The
 * guest stops after R rounds (the host means to cut it long before).
 */
#define EXTENTS  4u
#define MAX_LEN  32u
#define MAX_DISKS 4u
#define MAGIC    0x7475636b65656bull /* "keekcut" */

struct disk {
    unsigned d;
    struct minios_blkfront *f;
    uint64_t key, gen, sectors;
    unsigned rounds, done;
    int failed;
};

static unsigned nthreads_left;
static uint8_t bufs[MAX_DISKS][MAX_LEN * 512];

/* Sector contents: 64 words; the first five say what it is, the rest
 * are rng_mix64 of their index and those five. */
static void stamp(uint8_t *p, uint64_t gen, uint64_t d, uint64_t round, uint64_t sector)
{
    uint64_t w[64] = { MAGIC, gen, d, round, sector };
    uint64_t k = rng_mix64(gen ^ rng_mix64(d ^ rng_mix64(round ^ rng_mix64(sector))));
    for (unsigned i = 5; i < 64; i++)
        w[i] = rng_mix64(k + i);
    memcpy(p, w, 512);
}

static void writer(void *arg)
{
    struct disk *k = arg;
    uint8_t *buf = bufs[k->d];
    for (unsigned r = 1; r <= k->rounds && !k->failed; r++) {
        uint64_t s = rng_seed_for(k->key, r);
        for (unsigned e = 0; e < EXTENTS; e++) {
            uint64_t first = rng_next(&s) % k->sectors;
            uint64_t len = 1 + rng_next(&s) % MAX_LEN;
            if (len > k->sectors - first)
                len = k->sectors - first;
            for (uint64_t i = 0; i < len; i++)
                stamp(buf + i * 512, k->gen, k->d, r, first + i);
            int rc = minios_blkfront_write(k->f, first, buf, len);
            if (rc) {
                test_fail("xvd%c: round %u: write of %llu sectors at %llu: %d", 'a' + k->d,
                          r, (unsigned long long)len, (unsigned long long)first, rc);
                k->failed = 1;
                break;
            }
        }
        if (k->failed)
            break;
        int rc = minios_blkfront_flush(k->f);
        if (rc) {
            test_fail("xvd%c: round %u: flush: %d", 'a' + k->d, r, rc);
            k->failed = 1;
            break;
        }
        printf("flushed d=%u round=%u\n", k->d, r);
        k->done = r;
    }
    nthreads_left--;
}

static uint64_t u64arg(int argc, char **argv, const char *key, uint64_t max)
{
    const char *v = test_arg(argc, argv, key);
    char *end;
    unsigned long long n = v ? strtoull(v, &end, 0) : 0;
    if (!v || !*v || *end || n > max) {
        test_error("needs %s=0..%llu", key, (unsigned long long)max);
        exit(test_finish());
    }
    return n;
}

int main(int argc, char **argv)
{
    if (minios_gnttab_init()) {
        test_error("no grant table");
        return test_finish();
    }
    uint64_t seed = u64arg(argc, argv, "seed", 0xffffffffull);
    uint64_t gen = u64arg(argc, argv, "gen", 0xffff);
    unsigned n = (unsigned)u64arg(argc, argv, "n", MAX_DISKS);
    unsigned rounds = (unsigned)u64arg(argc, argv, "rounds", 1000000);
    static struct disk disks[MAX_DISKS];
    for (unsigned d = 0; d < n; d++) {
        char node[64], err[MINIOS_BLKFRONT_ERRLEN];
        snprintf(node, sizeof(node), "device/vbd/%u", 51712 + 16 * d);
        struct disk *k = &disks[d];
        k->d = d;
        k->key = seed ^ gen << 32 ^ (uint64_t)d << 48;
        k->gen = gen;
        k->rounds = rounds;
        int rc = minios_blkfront_attach(node, &k->f, err);
        if (rc) {
            test_fail("xvd%c: attach: %d: %s", 'a' + d, rc, err);
            return test_finish();
        }
        k->sectors = minios_blkfront_sectors(k->f);
        if (!k->sectors) {
            test_fail("xvd%c: empty disk", 'a' + d);
            return test_finish();
        }
    }
    printf("powercut: seed=%llu gen=%llu: writing to %u disks\n", (unsigned long long)seed,
           (unsigned long long)gen, n);
    nthreads_left = n;
    for (unsigned d = 0; d < n; d++)
        if (!minios_thread_create("writer", writer, &disks[d], 0)) {
            test_error("no memory for a thread");
            return test_finish();
        }
    while (nthreads_left)
        minios_thread_sleep_ns(10000000);
    for (unsigned d = 0; d < n; d++) {
        printf("xvd%c: %u rounds flushed, not cut\n", 'a' + d, disks[d].done);
        CHECK_EQ(minios_blkfront_detach(disks[d].f), 0);
    }
    return test_finish();
}
