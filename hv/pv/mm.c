/* The PV MMU: guest page-table updates, each entry validated.  For now
 * update_va_mapping on the domain's own frames; page-table frames are
 * typed and may never be mapped writable. */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "hypercall.h"
#include "pv.h"
#include "apic.h"

/* Flags a guest may set in an L1 entry; the rest (bits 52-62) must be 0. */
#define L1_ALLOWED (PTE_P | PTE_W | PTE_U | PTE_PWT | PTE_PCD | PTE_A | PTE_D | \
                    PTE_PS /* PAT in an L1 */ | PTE_G | (7UL << 9) | PTE_NX | PTE_ADDR)

/* Finds the L1 entry that maps va in d's tables; NULL if there is none. */
static uint64_t *find_l1e(struct domain *d, unsigned long va)
{
    uint64_t *t = pfn_to_virt(d->cr3 >> PAGE_SHIFT);
    for (int level = 3; level >= 1; level--) {
        uint64_t e = t[(va >> (12 + 9 * level)) & 511];
        if (!(e & PTE_P) || (e & PTE_PS))
            return NULL;
        uint64_t mfn = (e & PTE_ADDR) >> PAGE_SHIFT;
        if (mfn >= max_pfn || frame_table[mfn].owner != d->id)
            return NULL;
        t = pfn_to_virt(mfn);
    }
    return &t[(va >> 12) & 511];
}

/* Checks a new L1 entry for d: the frame must be d's own, and a page
 * table (or anything typed) may only be mapped read-only. */
static long check_l1e(struct domain *d, uint64_t e)
{
    if (!(e & PTE_P))
        return 0;
    if (e & ~L1_ALLOWED)
        return -XEN_EINVAL;
    uint64_t mfn = (e & PTE_ADDR) >> PAGE_SHIFT;
    if (mfn >= max_pfn || frame_table[mfn].owner != d->id)
        return -XEN_EINVAL;
    if ((e & PTE_W) && (frame_table[mfn].type_info & PGT_TYPE_MASK) != PGT_NONE)
        return -XEN_EINVAL;
    return 0;
}

long do_update_va_mapping(unsigned long va, unsigned long val, unsigned long flags,
                          unsigned long a4, unsigned long a5)
{
    (void)a4, (void)a5;
    struct domain *d = current_domain();
    if (!guest_range_ok(va, 1))
        return -XEN_EINVAL;
    if ((flags & UVMF_FLUSHTYPE_MASK) > UVMF_INVLPG)
        return -XEN_EINVAL;
    uint64_t *l1e = find_l1e(d, va);
    if (!l1e)
        return -XEN_EINVAL;
    long rc = check_l1e(d, val);
    if (rc)
        return rc;
    if (val & PTE_P)
        val |= PTE_U;            /* 64-bit PV guests run in ring 3 */
    __atomic_store_n(l1e, val, __ATOMIC_RELEASE);
    switch (flags & UVMF_FLUSHTYPE_MASK) {
    case UVMF_INVLPG:
        invlpg(va);
        break;
    case UVMF_TLB_FLUSH:
        write_cr3(read_cr3());
        break;
    default:
        return 0;
    }
    /* UVMF_ALL, or UVMF_MULTI with a vCPU mask: the domain's vCPUs on
     * other pCPUs flush too (UVMF_LOCAL is MULTI with a NULL mask). */
    if (flags & ~UVMF_FLUSHTYPE_MASK)
        flush_tlb_domain(d);
    return 0;
}
