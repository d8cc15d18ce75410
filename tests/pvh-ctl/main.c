/* Guest test: a control domain on a running PVH domain (peer=, docs/hvm.md).
 * What works on any domain works on it (getdomaininfo, with
 * XEN_DOMINF_hvm_guest as Xen sets it for PVH; pause, unpause, destroy); what names PV state or its memory by frame is refused until a
 * later slice: setvcpucontext and hypercall_init -EOPNOTSUPP, foreign
 * mappings and reservation changes -EOPNOTSUPP (xsm_map_foreign). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/time.h>
#include "report.h"
#include "ctl.h"
#include <xen/memory.h>

#define MS 1000000ULL

int main(int argc, char **argv)
{
    domid_t peer = 0;
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "peer=", 5))
            peer = (domid_t)atoi(argv[i] + 5);
    if (!peer) {
        test_error("no peer= argument");
        return test_finish();
    }
    /* The PVH domain is built first; wait until it has run. */
    struct xen_domctl_getdomaininfo info;
    for (int i = 0; i < 500; i++) {
        if (getdomaininfo(peer, &info) == 0 && info.domain == peer && info.cpu_time > 0)
            break;
        minios_sleep_ns(10 * MS);
    }
    CHECK_EQ(getdomaininfo(peer, &info), 0);
    CHECK_EQ(info.domain, peer);
    CHECK_EQ(info.max_vcpu_id, 0);
    CHECK_EQ(!!(info.flags & XEN_DOMINF_hvm_guest), 1);   /* PVH is HVM to Xen's tools */
    struct xen_domctl_getdomaininfo self_info;
    CHECK_EQ(getdomaininfo(self_domid(), &self_info), 0);
    CHECK_EQ(self_info.flags & XEN_DOMINF_hvm_guest, 0);
    printf("peer d%u: %lu pages, cpu_time %lu\n", peer, (unsigned long)info.tot_pages,
           (unsigned long)info.cpu_time);

    CHECK_EQ(domctl_simple(XEN_DOMCTL_pausedomain, peer), 0);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, peer), 0);

    /* Its vCPU state is a VMCB: the PV context is refused, read as zeros. */
    static struct vcpu_guest_context ctx;
    struct xen_domctl op;
    memset(&ctx, 0xa5, sizeof(ctx));
    domctl_init(&op, XEN_DOMCTL_getvcpucontext, peer);
    op.u.vcpucontext.vcpu = 0;
    set_xen_guest_handle(op.u.vcpucontext.ctxt, &ctx);
    CHECK_EQ(do_domctl(&op), 0);
    CHECK_EQ(ctx.user_regs.rip, 0);
    CHECK_EQ(ctx.ctrlreg[3], 0);
    domctl_init(&op, XEN_DOMCTL_setvcpucontext, peer);
    op.u.vcpucontext.vcpu = 0;
    set_xen_guest_handle(op.u.vcpucontext.ctxt, &ctx);
    CHECK_EQ(do_domctl(&op), -XEN_EOPNOTSUPP);
    domctl_init(&op, XEN_DOMCTL_hypercall_init, peer);
    op.u.hypercall_init.gmfn = 0x100;
    CHECK_EQ(do_domctl(&op), -XEN_EOPNOTSUPP);

    /* Its memory by frame: refused. */
    xen_pfn_t gfn = 0x100;
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0, .domid = peer };
    set_xen_guest_handle(r.extent_start, &gfn);
    CHECK_EQ(_hypercall2(__HYPERVISOR_memory_op, XENMEM_decrease_reservation, &r),
             -XEN_EOPNOTSUPP);
    CHECK_EQ(_hypercall2(__HYPERVISOR_memory_op, XENMEM_populate_physmap, &r),
             -XEN_EOPNOTSUPP);
    struct mmu_update req = { .ptr = 0, .val = 0 };
    CHECK_EQ(mmu_update_foreign(&req, 1, peer), -XEN_EOPNOTSUPP);

    /* And it goes as any domain does. */
    CHECK_EQ(domctl_simple(XEN_DOMCTL_destroydomain, peer), 0);
    printf("peer d%u destroyed\n", peer);
    return test_finish();
}
