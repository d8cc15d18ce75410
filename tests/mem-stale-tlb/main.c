/* Guest test: a stale TLB entry must not reach a frame the hypervisor has
 * reused.  We fill a page of our own, read it (so the CPU caches the
 * translation), remove its only mapping with update_va_mapping(va, 0,
 * UVMF_NONE) (no flush), give the frame back with decrease_reservation, and
 * make the hypervisor allocate: the first grant-table operation creates the
 * domain's table, and the buddy allocator is LIFO, so it very likely lands
 * in the frame just freed.  A read through the old address must then fault
 * (#PF): as Xen, the hypervisor flushes a freed frame from every TLB before
 * handing it to anyone else.  If the read goes through and shows something
 * other than our pattern, the guest is reading (and could write) the
 * hypervisor's memory.  If it shows the pattern, the frame was not reused
 * and the test proves nothing (ERROR). */
#include <stdio.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/traps.h>
#include <xen/memory.h>
#include "report.h"
#include "ptwalk.h"

#define PATTERN 0x5eed0fba5eed0fbaUL

/* The victim: a page of .bss of its own, mapped once (at va = pfn << 12,
 * where minios maps its whole reservation), never used after it is freed
 * except by the probe. */
static volatile unsigned long victim[512] __attribute__((aligned(4096)));

static volatile unsigned long faults, fault_cr2, resume_at;

static void pf_handler(struct minios_trap_frame *f)
{
    faults++;
    fault_cr2 = f->cr2;
    f->rip = resume_at;
}

/* One read of *p: 1 with *val if it went through, 0 if it faulted. */
static int probe(volatile unsigned long *p, unsigned long *val)
{
    unsigned long v = 0, before = faults;
    __asm__ volatile("leaq 1f(%%rip), %%rax\n\tmovq %%rax, %1\n\t"
                     "movq (%2), %0\n1:"
                     : "+r"(v), "=m"(resume_at) : "r"(p) : "rax", "memory");
    *val = v;
    return faults == before;
}

int main(void)
{
    const unsigned long *p2m = (const unsigned long *)minios_start_info->mfn_list;
    unsigned long va = (unsigned long)victim, mfn = p2m[va >> 12], val;

    if (m2p[mfn] != va >> 12) {
        test_error("victim page: m2p[%#lx] = %#lx, expected %#lx", mfn, m2p[mfn], va >> 12);
        return test_finish();
    }
    if (minios_set_trap_handler(14, pf_handler)) {
        test_error("no #PF handler");
        return test_finish();
    }
    for (int i = 0; i < 512; i++)
        victim[i] = PATTERN;
    if (!probe(victim, &val) || val != PATTERN) {
        test_error("victim page unreadable before the test");
        return test_finish();
    }

    /* Unmap without a flush, give the frame back, make the hypervisor allocate. */
    long rc = HYPERVISOR_update_va_mapping(va, 0, UVMF_NONE);
    xen_pfn_t f = mfn;
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0, .domid = DOMID_SELF };
    set_xen_guest_handle(r.extent_start, &f);
    long dec = rc ? -1 : HYPERVISOR_memory_op(XENMEM_decrease_reservation, &r);
    struct gnttab_query_size q = { .dom = DOMID_SELF };
    long qrc = dec == 1 ? HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1) : -1;
    int went_through = probe(victim, &val);

    /* Only now print anything (printing touches other memory). */
    if (rc || dec != 1 || qrc || q.status != GNTST_okay) {
        test_error("setup: update_va_mapping %ld, decrease_reservation %ld, query_size %ld/%d",
                   rc, dec, qrc, q.status);
        return test_finish();
    }
    if (!went_through) {
        if (fault_cr2 != va)
            test_fail("#PF at %#lx, expected %#lx", fault_cr2, va);
        else
            printf("stale-tlb: the old address faults once frame %#lx is reused\n", mfn);
    } else if (val != PATTERN) {
        test_fail("stale translation reaches a reused frame: read %#lx through the "
                  "unmapped address (frame %#lx, now the hypervisor's)", val, mfn);
    } else {
        test_error("inconclusive: the old address still reads our pattern "
                   "(frame %#lx not reused)", mfn);
    }
    minios_set_trap_handler(14, NULL);
    return test_finish();
}
