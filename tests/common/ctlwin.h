/* What the control-domain tests that build or look at other domains
 * share (rtbuild, rtbuild-pvh, pvh-ctl): a one-page window of our own
 * onto a frame of another domain (mmu_update with foreigndom, as
 * libxc's foreign mappings; for a PVH domain the frame is a guest
 * frame), the host's free pages, and waiting for a domain to be reaped.
 * Include after ../domctl/ctl.h. */
#ifndef KEEL_TEST_CTLWIN_H
#define KEEL_TEST_CTLWIN_H
#include <stdbool.h>
#include "ptwalk.h"

/* Points our page at window to frame of dom (DOMID_SELF: our own) with
 * the L1 flags given; as on Xen, mmu_update does not flush: the old
 * translation is dropped here. */
static inline long ctlwin_show(void *window, uint64_t frame, uint64_t flags, domid_t dom)
{
    struct mmu_update u = { .ptr = l1e_maddr((unsigned long)window) | MMU_NORMAL_PT_UPDATE,
                            .val = frame << 12 | flags };
    long rc = mmu_update_foreign(&u, 1, dom);
    struct mmuext_op f = { .cmd = MMUEXT_INVLPG_LOCAL };
    f.arg1.linear_addr = (unsigned long)window;
    if (!rc)
        rc = HYPERVISOR_mmuext_op(&f, 1, NULL, DOMID_SELF);
    return rc;
}

static inline uint64_t ctlwin_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static inline uint64_t ctlwin_host_free_pages(void)
{
    struct xen_sysctl op;
    sysctl_init(&op, XEN_SYSCTL_physinfo);
    if (do_sysctl(&op))
        return 0;
    return op.u.physinfo.free_pages;
}

/* Waits until d is gone (the hypervisor reaps a domain that shut down
 * or was destroyed once no pCPU runs it); false if it never goes. */
static inline bool ctlwin_wait_gone(domid_t d)
{
    for (long i = 0; i < 10000000; i++) {
        struct xen_domctl_getdomaininfo gi;
        if (getdomaininfo(d, &gi) || gi.domain != d)
            return true;
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    return false;
}
#endif
