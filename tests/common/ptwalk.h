/* Guest helpers for tests that edit their own page tables: the read-only
 * machine-to-phys table, and the machine address of the L1 entry that maps
 * a virtual address (the bootstrap tables are mapped read-only in the
 * bootstrap region at pfn << 12). */
#ifndef KEEL_TEST_PTWALK_H
#define KEEL_TEST_PTWALK_H

#include <minios/startinfo.h>

static const unsigned long *const m2p = (const unsigned long *)0xFFFF800000000000UL;

static inline unsigned long l1e_maddr(unsigned long va)
{
    unsigned long *t = (unsigned long *)minios_start_info->pt_base;
    unsigned long mfn = 0;
    for (int level = 4; level >= 2; level--) {
        unsigned long e = t[(va >> (12 + 9 * (level - 1))) & 511];
        mfn = (e & 0x000FFFFFFFFFF000UL) >> 12;
        t = (unsigned long *)(m2p[mfn] << 12);
    }
    return (mfn << 12) + ((va >> 12) & 511) * 8;
}

#endif
