/* disk-64m guest (docs/disk-tests.md): for each of n= disks (xvda..),
 * write MB= MiB of a per-sector pattern from sector 0, flush, read it all
 * back and compare.  Sector s of disk d holds the 16 bytes
 * (uint64 LE s, uint64 LE 0x6b65656c00000000 + d) repeated 32 times; the
 * host (run.sh) builds the same bytes to qemu-img compare the images. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <minios/blkfront.h>
#include <minios/gnttab.h>

#include "args.h"
#include "report.h"

#define CHUNK_SECTORS 2048u /* 1 MiB per request batch */

static uint8_t buf[CHUNK_SECTORS * 512];

static void fill(uint64_t first, unsigned d)
{
    for (unsigned s = 0; s < CHUNK_SECTORS; s++) {
        uint64_t w[2] = { first + s, 0x6b65656c00000000ull + d };
        for (unsigned k = 0; k < 32; k++)
            memcpy(buf + s * 512 + k * 16, w, 16);
    }
}

static unsigned uarg(int argc, char **argv, const char *k, unsigned max)
{
    const char *v = test_arg(argc, argv, k);
    char *end;
    unsigned long n = v ? strtoul(v, &end, 10) : 0;
    if (!v || !*v || *end || n == 0 || n > max) {
        test_error("needs %s=1..%u", k, max);
        exit(test_finish());
    }
    return (unsigned)n;
}

int main(int argc, char **argv)
{
    if (minios_gnttab_init()) {
        test_error("no grant table");
        return test_finish();
    }
    unsigned n = uarg(argc, argv, "n", 16), mb = uarg(argc, argv, "MB", 4096);
    static uint8_t want[CHUNK_SECTORS * 512];
    for (unsigned d = 0; d < n; d++) {
        char node[64], err[MINIOS_BLKFRONT_ERRLEN];
        snprintf(node, sizeof(node), "device/vbd/%u", 51712 + 16 * d);
        struct minios_blkfront *f;
        int rc = minios_blkfront_attach(node, &f, err);
        if (rc) {
            test_fail("xvd%c: attach: %d: %s", 'a' + d, rc, err);
            continue;
        }
        uint64_t total = (uint64_t)mb * 2048;
        if (minios_blkfront_sectors(f) < total) {
            test_fail("xvd%c: %llu sectors, fewer than %u MiB", 'a' + d,
                      (unsigned long long)minios_blkfront_sectors(f), mb);
            minios_blkfront_detach(f);
            continue;
        }
        unsigned bad = 0, ioerr = 0;
        for (uint64_t s = 0; s < total && !ioerr; s += CHUNK_SECTORS) {
            fill(s, d);
            ioerr = minios_blkfront_write(f, s, buf, CHUNK_SECTORS) != 0;
        }
        if (!ioerr)
            ioerr = minios_blkfront_flush(f) != 0;
        for (uint64_t s = 0; s < total && !ioerr; s += CHUNK_SECTORS) {
            fill(s, d);
            memcpy(want, buf, sizeof(want));
            memset(buf, 0, sizeof(buf));
            ioerr = minios_blkfront_read(f, s, buf, CHUNK_SECTORS) != 0;
            if (!ioerr && memcmp(buf, want, sizeof(buf)))
                bad++;
        }
        if (ioerr)
            test_fail("xvd%c: an I/O request failed", 'a' + d);
        else if (bad)
            test_fail("xvd%c: %u MiB chunks read back wrong", 'a' + d, bad);
        else
            printf("xvd%c: %u MiB written, flushed, read back: byte-exact\n", 'a' + d, mb);
        CHECK_EQ(minios_blkfront_detach(f), 0);
    }
    return test_finish();
}
