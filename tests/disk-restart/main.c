/* Guest test: a disk whose tapdisk domain crashes and restarts under it: writes and flushes in a loop, blkfront reconnects and issues the unanswered requests again, the longest stall is measured in guest time. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <minios/blkfront.h>
#include <minios/gnttab.h>
#include <minios/time.h>
#include <xen/errno.h>

#include "args.h"
#include "report.h"

/*
 * op=loop rounds=R flush=K: xvda (disk=): each round writes 352 KiB (704
 * sectors: three requests in flight, indirect ones of up to 256
 * sectors) of pat_round at sector 2048 + 704 * round; every K-th round
 * (and the last) is followed by a flush, so most writes are answered
 * long before any flush covers them.  tapdisk crashes part-way
 * (selftest=crash-after-writes=) and is restarted; every write and
 * flush must still succeed (no EIO: an answered write survives the
 * backend's crash), and requests may go without any response for less
 * than a second (guest time: blkfront's longest stall).  Then
 * everything is read back byte-exact, and the disk detached; the host
 * then checks the image holds every round (tests/disk-restart/run.sh).
 * op=limit: tapdisk crashes on every life's first write; after its
 * fifth restart within 10 s the hypervisor gives up: the blocked write
 * must fail with ENOTCONN (not hang), and so must the next calls.
 */
#define DEV        "device/vbd/51712"
#define FIRST      2048u
#define PER_ROUND  704u
#define STALL_MAX_NS 1000000000ull

static uint8_t buf[PER_ROUND * 512];

static uint8_t pat_round(uint64_t i) { return (uint8_t)(i * 7 + (i >> 9) * 11 + 0x35); }

static unsigned uarg(int argc, char **argv, const char *k)
{
    const char *v = test_arg(argc, argv, k);
    if (!v) {
        test_error("needs %s=", k);
        exit(test_finish());
    }
    return (unsigned)atoi(v);
}

static struct minios_blkfront *attach(void)
{
    char err[MINIOS_BLKFRONT_ERRLEN];
    struct minios_blkfront *f;
    int rc = minios_blkfront_attach(DEV, &f, err);
    if (rc) {
        test_fail("attach: %d: %s", rc, err);
        return NULL;
    }
    return f;
}

static int loop(unsigned rounds, unsigned every)
{
    struct minios_blkfront *f = attach();
    if (!f)
        return test_finish();
    if (minios_blkfront_sectors(f) < FIRST + (uint64_t)rounds * PER_ROUND) {
        test_error("the disk is too small for %u rounds", rounds);
        return test_finish();
    }
    uint64_t longest = 0, writes = 0, flushes = 0;
    const char *longest_op = "-";
    for (unsigned r = 0; r < rounds; r++) {
        uint64_t sector = FIRST + (uint64_t)r * PER_ROUND;
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = pat_round(sector * 512 + i);
        uint64_t t0 = minios_monotonic_ns();
        int rc = minios_blkfront_write(f, sector, buf, PER_ROUND);
        uint64_t t1 = minios_monotonic_ns();
        if (rc) {
            test_fail("round %u: write: %d", r, rc);
            break;
        }
        writes++;
        if (t1 - t0 > longest) {
            longest = t1 - t0;
            longest_op = "write";
        }
        if ((every == 0 || (r + 1) % every) && r + 1 < rounds)
            continue;
        rc = minios_blkfront_flush(f);
        uint64_t t2 = minios_monotonic_ns();
        if (rc) {
            test_fail("round %u: flush: %d", r, rc);
            break;
        }
        flushes++;
        if (t2 - t1 > longest) {
            longest = t2 - t1;
            longest_op = "flush";
        }
    }
    unsigned conns = minios_blkfront_connections(f);
    uint64_t stall = minios_blkfront_longest_stall_ns(f);
    printf("%llu writes and %llu flushes acknowledged, %u connections, longest stall %llu.%03llu ms "
           "(no response with requests outstanding), longest call %llu ms (a %s)\n",
           (unsigned long long)writes, (unsigned long long)flushes, conns,
           (unsigned long long)(stall / 1000000), (unsigned long long)(stall / 1000 % 1000),
           (unsigned long long)(longest / 1000000), longest_op);
    if (conns < 2)
        test_fail("the backend never went: %u connection(s)", conns);
    if (stall >= STALL_MAX_NS)
        test_fail("I/O stalled for %llu ms: 1 s or more", (unsigned long long)(stall / 1000000));
    unsigned bad = 0;
    for (unsigned r = 0; r < rounds; r++) {
        uint64_t sector = FIRST + (uint64_t)r * PER_ROUND;
        memset(buf, 0, sizeof(buf));
        int rc = minios_blkfront_read(f, sector, buf, PER_ROUND);
        if (rc) {
            test_fail("round %u: read back: %d", r, rc);
            break;
        }
        for (size_t i = 0; i < sizeof(buf); i++)
            bad += buf[i] != pat_round(sector * 512 + i);
    }
    if (bad)
        test_fail("%u bytes read back wrong", bad);
    else
        printf("%u rounds read back: byte-exact\n", rounds);
    CHECK_EQ(minios_blkfront_detach(f), 0);
    return test_finish();
}

static int limit(void)
{
    struct minios_blkfront *f = attach();
    if (!f)
        return test_finish();
    memset(buf, 0x5a, sizeof(buf));
    int rc = 0;
    unsigned n = 0;
    uint64_t t0 = minios_monotonic_ns();
    /* Each life of tapdisk crashes on its first write: at most 5
     * restarts, then the frontend gives up on it. */
    while (n < 100 && !(rc = minios_blkfront_write(f, 8, buf, 8)))
        n++;
    uint64_t ms = (minios_monotonic_ns() - t0) / 1000000;
    printf("%u writes succeeded, then %d after %llu ms, %u connections\n", n, rc,
           (unsigned long long)ms, minios_blkfront_connections(f));
    int r = minios_blkfront_read(f, 0, buf, 8), fl = minios_blkfront_flush(f);
    int w = minios_blkfront_write(f, 8, buf, 8), d = minios_blkfront_detach(f);
    if (rc != -XEN_ENOTCONN || r != -XEN_ENOTCONN || fl != -XEN_ENOTCONN || w != -XEN_ENOTCONN ||
        d >= 0)
        test_fail("after the backend was given up: write %d, read %d, flush %d, write %d, "
                  "detach %d; expected -ENOTCONN (%d) for the four and an error for detach",
                  rc, r, fl, w, d, -XEN_ENOTCONN);
    else
        printf("gave up cleanly: the blocked write, then read, flush and write refused with "
               "ENOTCONN, detach %d\n", d);
    return test_finish();
}

int main(int argc, char **argv)
{
    const char *op = test_arg(argc, argv, "op");
    if (minios_gnttab_init()) {
        test_error("no grant table");
        return test_finish();
    }
    if (op && !strcmp(op, "loop"))
        return loop(uarg(argc, argv, "rounds"), uarg(argc, argv, "flush"));
    if (op && !strcmp(op, "limit"))
        return limit();
    test_error("op=loop|limit");
    return test_finish();
}
