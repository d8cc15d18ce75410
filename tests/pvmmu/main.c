/* Guest test: the validated PV MMU and memory_op.  The machine-to-phys
 * table is readable; update_va_mapping, mmu_update and mmuext_op accept
 * valid changes and refuse writable page tables, frames of others,
 * hypervisor slots and double pins; ballooning works both ways. */
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <stdio.h>
#include <string.h>
#include <xen/memory.h>
#include <minios/mm.h>
#include "report.h"
#include "ptwalk.h"

#define PTE_P 1UL
#define PTE_W 2UL
#define PTE_U 4UL
#define PTE_A 0x20UL
#define PTE_D 0x40UL
#define ADDR  0x000FFFFFFFFFF000UL

static char scratch[4096] __attribute__((aligned(4096)));

static unsigned long *p2m(void)
{
    return (unsigned long *)minios_start_info->mfn_list;
}

static unsigned long mfn_of(const void *va)
{
    return p2m()[(unsigned long)va >> 12];
}

static long pt_update(unsigned long maddr, unsigned long val)
{
    struct mmu_update u = { .ptr = maddr | MMU_NORMAL_PT_UPDATE, .val = val };
    unsigned int done = 0;
    return _hypercall4(__HYPERVISOR_mmu_update, &u, 1, &done, DOMID_SELF);
}

static long ext(unsigned cmd, unsigned long mfn)
{
    struct mmuext_op op = { .cmd = cmd };
    op.arg1.mfn = mfn;
    return _hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF);
}

static long uvm(void *va, unsigned long val)
{
    return _hypercall3(__HYPERVISOR_update_va_mapping, va, val, UVMF_INVLPG);
}

static long memop(unsigned cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_memory_op, cmd, arg);
}

int main(void)
{
    start_info_t *si = minios_start_info;
    /* M2P: readable, consistent with the p2m. */
    for (unsigned long pfn = 0; pfn < si->nr_pages; pfn += 17)
        if (m2p[p2m()[pfn]] != pfn)
            test_fail("m2p[%lx] = %lx, expected %lx", p2m()[pfn], m2p[p2m()[pfn]], pfn);

    domid_t self = DOMID_SELF;
    long cur = memop(XENMEM_current_reservation, &self);
    /* Frames the domain owns: its image's read-only pages may be shared. */
    if (cur <= 0 || cur > (long)si->nr_pages)
        test_fail("current_reservation %ld of %lu pages", cur, si->nr_pages);
    CHECK_EQ(memop(XENMEM_maximum_reservation, &self), (long)si->nr_pages);
    if (memop(XENMEM_maximum_ram_page, NULL) <= 0)
        test_fail("maximum_ram_page");
    struct { uint64_t addr, size; uint32_t type; } __attribute__((packed)) e820[4];
    struct xen_memory_map mm = { .nr_entries = 4 };
    set_xen_guest_handle(mm.buffer, (void *)e820);
    CHECK_EQ(memop(XENMEM_memory_map, &mm), 0);
    CHECK_EQ(mm.nr_entries, 1);
    CHECK_EQ(e820[0].size, si->nr_pages * 4096);
    CHECK_EQ(memop(XENMEM_add_to_physmap, NULL), -XEN_EACCES);
    CHECK_EQ(memop(XENMEM_current_reservation, (void *)0xFFFF830000100000UL), -XEN_EFAULT);

    /* Ballooning: give back a page of ours (unmapped first, as a balloon
     * driver does: minios maps all of its memory), then take one. */
    void *bp = minios_alloc_pages(1);
    unsigned long bpfn = (unsigned long)bp >> 12;
    unsigned long last = p2m()[bpfn];
    CHECK_EQ(uvm(bp, 0), 0);
    unsigned long in_use = mfn_of(scratch);
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0, .domid = DOMID_SELF };
    xen_pfn_t f = in_use;
    set_xen_guest_handle(r.extent_start, &f);
    CHECK_EQ(memop(XENMEM_decrease_reservation, &r), 0);   /* mapped: refused */
    f = last;
    CHECK_EQ(memop(XENMEM_decrease_reservation, &r), 1);
    CHECK_EQ(memop(XENMEM_current_reservation, &self), cur - 1);
    CHECK_EQ(memop(XENMEM_decrease_reservation, &r), 0);   /* already gone */
    f = bpfn;
    CHECK_EQ(memop(XENMEM_populate_physmap, &r), 1);
    unsigned long fresh = f;
    CHECK_EQ(m2p[fresh], bpfn);
    CHECK_EQ(memop(XENMEM_current_reservation, &self), cur);
    CHECK_EQ(memop(XENMEM_increase_reservation, &r), 0);   /* at the maximum */
    r.extent_order = 20;
    CHECK_EQ(memop(XENMEM_populate_physmap, &r), -XEN_EPERM);

    /* update_va_mapping: our fresh frame at scratch, then back. */
    unsigned long old = in_use << 12 | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
    CHECK_EQ(uvm(scratch, fresh << 12 | PTE_P | PTE_W | PTE_A | PTE_D), 0);
    if (scratch[0] != 0 || scratch[4095] != 0)
        test_fail("fresh frame not zeroed");
    memset(scratch, 0x5a, sizeof(scratch));
    unsigned long l4 = mfn_of((void *)si->pt_base);
    CHECK_EQ(uvm(scratch, l4 << 12 | PTE_P | PTE_W), -XEN_EINVAL);   /* PT writable */
    CHECK_EQ(uvm(scratch, l4 << 12 | PTE_P), 0);                     /* PT read-only */
    if (((volatile unsigned long *)scratch)[262] == 0)
        test_fail("L4 read through a read-only mapping lacks the hypervisor slot");
    CHECK_EQ(uvm(scratch, 0x100UL << 12 | PTE_P), -XEN_EINVAL);     /* not ours */
    CHECK_EQ(uvm(scratch, old | (1UL << 4)), -XEN_EINVAL);           /* PCD: no I/O */
    CHECK_EQ(uvm(scratch, fresh << 12 | PTE_P | PTE_W), 0);
    if (scratch[100] != 0x5a)
        test_fail("fresh frame lost its contents");

    /* mmu_update on the L1 entry of scratch. */
    unsigned long ma = l1e_maddr((unsigned long)scratch);
    CHECK_EQ(pt_update(ma, old), 0);
    CHECK_EQ(ext(MMUEXT_TLB_FLUSH_LOCAL, 0), 0);   /* as on Xen: mmu_update does not flush */
    if (scratch[100] == 0x5a)
        test_fail("mmu_update did not restore the mapping");
    CHECK_EQ(pt_update(ma, l4 << 12 | PTE_P | PTE_W), -XEN_EINVAL);
    CHECK_EQ(pt_update(ma | 4, old), -XEN_EINVAL);                  /* unaligned */
    CHECK_EQ(pt_update((l4 << 12) + 262 * 8, 0), -XEN_EPERM);        /* hv slot */
    CHECK_EQ(pt_update(0x100UL << 12, 0), -XEN_EINVAL);              /* not ours */
    struct mmu_update mu = { .ptr = (fresh << 12) | MMU_MACHPHYS_UPDATE, .val = 0x1234 };
    CHECK_EQ(_hypercall4(__HYPERVISOR_mmu_update, &mu, 1, NULL, DOMID_SELF), 0);
    CHECK_EQ(m2p[fresh], 0x1234);
    mu.ptr = (0x100UL << 12) | MMU_MACHPHYS_UPDATE;
    CHECK_EQ(_hypercall4(__HYPERVISOR_mmu_update, &mu, 1, NULL, DOMID_SELF), -XEN_EINVAL);
    CHECK_EQ(_hypercall4(__HYPERVISOR_mmu_update, &mu, 1, NULL, 999), -XEN_ESRCH);

    /* Pins: the fresh frame (now unmapped) can be an L1; not twice; a
     * mapped-writable frame cannot; unpin; then it maps writable again. */
    CHECK_EQ(ext(MMUEXT_PIN_L1_TABLE, in_use), -XEN_EINVAL);
    memset(scratch, 0, sizeof(scratch));
    CHECK_EQ(uvm(scratch, fresh << 12 | PTE_P | PTE_W), 0);
    memset(scratch, 0, sizeof(scratch));                             /* empty L1 */
    CHECK_EQ(pt_update(ma, old), 0);
    CHECK_EQ(ext(MMUEXT_PIN_L1_TABLE, fresh), 0);
    CHECK_EQ(ext(MMUEXT_PIN_L1_TABLE, fresh), -XEN_EINVAL);
    CHECK_EQ(uvm(scratch, fresh << 12 | PTE_P | PTE_W), -XEN_EINVAL);
    CHECK_EQ(ext(MMUEXT_PIN_L2_TABLE, fresh), -XEN_EINVAL);
    CHECK_EQ(ext(MMUEXT_UNPIN_TABLE, fresh), 0);
    CHECK_EQ(ext(MMUEXT_UNPIN_TABLE, fresh), -XEN_EINVAL);
    CHECK_EQ(uvm(scratch, fresh << 12 | PTE_P | PTE_W), 0);
    CHECK_EQ(pt_update(ma, old), 0);
    CHECK_EQ(ext(MMUEXT_NEW_BASEPTR, l4), 0);
    CHECK_EQ(ext(MMUEXT_NEW_BASEPTR, in_use), -XEN_EINVAL);      /* mapped writable */
    CHECK_EQ(ext(MMUEXT_TLB_FLUSH_LOCAL, 0), 0);
    CHECK_EQ(ext(MMUEXT_TLB_FLUSH_ALL, 0), 0);
    CHECK_EQ(ext(99, 0), -XEN_ENOSYS);
    printf("pvmmu: %ld pages, m2p ok, balloon ok\n", cur);
    return test_finish();
}
