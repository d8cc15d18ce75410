/* Guest test: global PTEs, read back from the page table the hypervisor
 * installed them in, as Xen's adjust_guest_l1e leaves them: a kernel
 * mapping (the guest did not set _PAGE_USER) gets _PAGE_USER and bit 52
 * and keeps a _PAGE_GLOBAL the guest set (Xen only warns); a user mapping
 * keeps it too.  Both through mmu_update and update_va_mapping.  Global
 * entries are safe because every switch of address space flushes them.  The test boots
 * the debug hypervisor, which checks at every switch between domains that
 * the flush dropped global entries too, with several of these guests on
 * two pCPUs so that such switches happen. */
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <stdio.h>
#include <string.h>
#include "report.h"
#include "ptwalk.h"

#define PTE_P 0x1UL
#define PTE_U 0x4UL
#define PTE_G 0x100UL

static volatile char page[4096] __attribute__((aligned(4096)));

/* The entry as installed: the L1 table is mapped read-only at its pfn. */
static unsigned long installed(unsigned long maddr)
{
    unsigned long mfn = maddr >> 12;
    return *(volatile unsigned long *)((m2p[mfn] << 12) + (maddr & 0xfff));
}

static long set_mmu(unsigned long maddr, unsigned long val)
{
    struct mmu_update u = { .ptr = maddr, .val = val };
    return HYPERVISOR_mmu_update(&u, 1, NULL, DOMID_SELF);
}

static long set_va(unsigned long va, unsigned long val)
{
    return _hypercall3(__HYPERVISOR_update_va_mapping, va, val, UVMF_INVLPG);
}

int main(void)
{
    unsigned long va = (unsigned long)page;
    page[0] = 1;
    unsigned long maddr = l1e_maddr(va);
    unsigned long orig = installed(maddr);
    if (!(orig & PTE_P)) {
        test_error("no mapping of the test page (entry %#lx)", orig);
        return test_finish();
    }
    unsigned long base = orig & ~(PTE_U | PTE_G);
    for (int how = 0; how < 2; how++) {
        const char *what = how ? "update_va_mapping" : "mmu_update";
        long rc = how ? set_va(va, base | PTE_G) : set_mmu(maddr, base | PTE_G);
        CHECK_EQ(rc, 0);
        unsigned long e = installed(maddr);
        if (e != (base | PTE_G | PTE_U | (1UL << 52)))
            test_fail("%s: kernel mapping installed as %#lx, Xen's is %#lx", what, e,
                      base | PTE_G | PTE_U | (1UL << 52));
        rc = how ? set_va(va, base | PTE_U | PTE_G) : set_mmu(maddr, base | PTE_U | PTE_G);
        CHECK_EQ(rc, 0);
        e = installed(maddr);
        if (!(e & PTE_G))
            test_fail("%s: a user mapping lost _PAGE_GLOBAL (%#lx)", what, e);
        page[1] = 2;                     /* still usable */
        CHECK_EQ(page[1], 2);
    }
    CHECK_EQ(set_mmu(maddr, orig), 0);
    /* Give the other domains time to switch in and out. */
    for (int i = 0; i < 20; i++)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    printf("tlb-global: global kernel and user mappings as Xen installs them\n");
    return test_finish();
}
