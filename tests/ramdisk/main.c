/* Guest test: a domain's ramdisk (the boot module after it whose command
 * line is "ramdisk") arrives as Xen gives dom0 its initrd: at
 * start_info.mod_start, a virtual address, or with the MOD_START_PFN note
 * (this image rewritten by mkxenimg) a pfn with SIF_MOD_START_PFN set;
 * mod_len bytes.  The guest checks the flag against pfn=0|1 and the
 * bytes against len= and crc=, the POSIX cksum the test computed. */
#include <minios/startinfo.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"

/* POSIX cksum: CRC-32 (0x04c11db7, MSB first) over the data and then its
 * length, least significant byte first, complemented. */
static uint32_t table[256];

static uint32_t cksum(const unsigned char *p, unsigned long n)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i << 24;
        for (int k = 0; k < 8; k++)
            c = (c & 0x80000000u) ? (c << 1) ^ 0x04c11db7u : c << 1;
        table[i] = c;
    }
    uint32_t crc = 0;
    for (unsigned long i = 0; i < n; i++)
        crc = (crc << 8) ^ table[(crc >> 24) ^ p[i]];
    for (unsigned long len = n; len; len >>= 8)
        crc = (crc << 8) ^ table[(crc >> 24) ^ (len & 0xff)];
    return ~crc;
}

static const char *arg(int argc, char **argv, const char *key)
{
    size_t k = strlen(key);
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], key, k) && argv[i][k] == '=')
            return argv[i] + k + 1;
    return NULL;
}

int main(int argc, char **argv)
{
    const start_info_t *si = minios_start_info;
    const char *want_len = arg(argc, argv, "len"), *want_crc = arg(argc, argv, "crc");
    const char *want_pfn = arg(argc, argv, "pfn");
    if (!want_len || !want_crc || !want_pfn) {
        test_fail("usage: len=N crc=N pfn=0|1");
        return test_finish();
    }
    bool by_pfn = (si->flags & SIF_MOD_START_PFN) != 0;
    unsigned long len = strtoul(want_len, NULL, 0);
    if (by_pfn != (atoi(want_pfn) != 0))
        test_fail("SIF_MOD_START_PFN is %s, expected %s", by_pfn ? "set" : "clear",
                  atoi(want_pfn) ? "set" : "clear");
    if (si->mod_len != len)
        test_fail("mod_len %lu, expected %lu", (unsigned long)si->mod_len, len);
    if (!len) {
        if (si->mod_start)
            test_fail("no ramdisk but mod_start %#lx", (unsigned long)si->mod_start);
        printf("ramdisk: none (mod_start 0, mod_len 0)\n");
        return test_finish();
    }
    /* minios maps pseudo-physical page p at p << 12 (VIRT_BASE 0). */
    unsigned long va = by_pfn ? si->mod_start << 12 : si->mod_start;
    if (!si->mod_start || (va & 4095))
        test_fail("mod_start %#lx is not a page", (unsigned long)si->mod_start);
    else if (va + len > si->nr_pages << 12)
        test_fail("ramdisk %#lx+%lu past the reservation", va, len);
    else {
        uint32_t c = cksum((const unsigned char *)va, si->mod_len);
        if (c != strtoul(want_crc, NULL, 0))
            test_fail("cksum %u, expected %s", c, want_crc);
        printf("ramdisk: %lu bytes at %s %#lx, cksum %u\n", (unsigned long)si->mod_len,
               by_pfn ? "pfn" : "va", (unsigned long)si->mod_start, c);
    }
    return test_finish();
}
