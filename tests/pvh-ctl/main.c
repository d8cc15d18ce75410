/* Guest test: a control domain on a running PVH domain (peer=, docs/hvm.md).
 * What works on any domain works on it (getdomaininfo, with
 * XEN_DOMINF_hvm_guest as Xen sets it for PVH; pause, unpause, destroy);
 * its memory is mapped by guest frame through its p2m (mmu_update and
 * update_va_mapping_otherdomain with it as the foreign domain: its start
 * info read and written there), with a GFN past its RAM, its frames by
 * machine address and M2P updates refused (-EINVAL); what names PV state
 * or changes its reservation is refused until a later slice:
 * setvcpucontext, hypercall_init and memory_op reservations -EOPNOTSUPP.
 * With mode=plain (no role) the same mappings are refused (-EPERM);
 * wait=N makes the control domain wait for domain N to finish first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/time.h>
#include "report.h"
#include "ctl.h"
#include <xen/memory.h>
#include <xen/arch-x86/hvm/start_info.h>
#include "ctlwin.h"

#define MS 1000000ULL

/* A one-page window onto a frame (mmu_update with a foreign domain, as
 * libxc's foreign mappings), and its L1 entry read back. */
static char window[4096] __attribute__((aligned(4096)));

static unsigned long read_entry(unsigned long ma)
{
    return *(volatile unsigned long *)((m2p[ma >> 12] << 12) + (ma & 4095));
}

static unsigned long own_frame(void)
{
    return ((unsigned long *)minios_start_info->mfn_list)[(unsigned long)window >> 12];
}

static long show(unsigned long frame, unsigned long flags, domid_t dom)
{
    return ctlwin_show(window, frame, flags, dom);
}

/* mode=plain: a domain without a role may not map the PVH domain. */
static int plain(domid_t peer)
{
    /* Built before us (boot order), so it exists: only the role is missing. */
    CHECK_EQ(show(0, 0x67, peer), -XEN_EPERM);
    CHECK_EQ(show(0x100, 0x65, peer), -XEN_EPERM);
    CHECK_EQ(_hypercall4(__HYPERVISOR_update_va_mapping_otherdomain, window, 0x100UL << 12 | 0x65,
                         UVMF_INVLPG, peer), -XEN_EPERM);
    xen_pfn_t gfn = 0x100;
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0, .domid = peer };
    set_xen_guest_handle(r.extent_start, &gfn);
    CHECK_EQ(_hypercall2(__HYPERVISOR_memory_op, XENMEM_decrease_reservation, &r), -XEN_EPERM);
    CHECK_EQ(window[0], 0);             /* still our own zeroed page */
    printf("plain: PVH peer d%u refused\n", peer);
    return test_finish();
}

/* The control domain waits until domain `dom` has gone (or shut down). */
static void wait_done(domid_t dom)
{
    struct xen_domctl_getdomaininfo info;
    for (int i = 0; i < 3000; i++) {
        if (getdomaininfo(dom, &info) != 0 || info.domain != dom ||
            (info.flags & XEN_DOMINF_shutdown))
            return;
        minios_sleep_ns(10 * MS);
    }
    test_error("domain did not finish");
}

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
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "mode=plain"))
            return plain(peer);
        if (!strncmp(argv[i], "wait=", 5))
            wait_done((domid_t)atoi(argv[i] + 5));
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

    /* Its memory by frame: refused; populate_physmap is its builder's
     * before its vCPU has a state (docs/hvm.md): none done now. */
    xen_pfn_t gfn = 0x100;
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0, .domid = peer };
    set_xen_guest_handle(r.extent_start, &gfn);
    CHECK_EQ(_hypercall2(__HYPERVISOR_memory_op, XENMEM_decrease_reservation, &r),
             -XEN_EOPNOTSUPP);
    CHECK_EQ(_hypercall2(__HYPERVISOR_memory_op, XENMEM_populate_physmap, &r), 0);
    gfn = info.tot_pages;                /* the next frame of its RAM: too late too */
    CHECK_EQ(_hypercall2(__HYPERVISOR_memory_op, XENMEM_populate_physmap, &r), 0);

    /* Its memory by guest frame: the start info page at the top of its
     * RAM (the builder's), mapped writable, then read-only by
     * update_va_mapping_otherdomain, shows the same frame. */
    uint64_t si_gfn = info.tot_pages - 1;
    CHECK_EQ(show(si_gfn, 0x67, peer), 0);
    const struct hvm_start_info *si = (const struct hvm_start_info *)window;
    CHECK_EQ(si->magic, XEN_HVM_START_MAGIC_VALUE);
    CHECK_EQ(si->cmdline_paddr >> 12, si_gfn);
    const char *cl = window + (si->cmdline_paddr & 4095);
    CHECK_EQ(strstr(cl, "greeting=hi") != NULL, 1);
    printf("peer d%u start info at gfn %lx: command line \"%s\"\n", peer,
           (unsigned long)si_gfn, cl);
    unsigned long e = read_entry(l1e_maddr((unsigned long)window));
    unsigned long si_mfn = (e & 0x000FFFFFFFFFF000UL) >> 12;
    CHECK_EQ(si_mfn != si_gfn, 1);      /* the entry holds the machine frame */
    window[4095] = 0x5a;
    CHECK_EQ(_hypercall4(__HYPERVISOR_update_va_mapping_otherdomain, window,
                         si_gfn << 12 | 0x65, UVMF_INVLPG, peer), 0);
    CHECK_EQ(si->magic, XEN_HVM_START_MAGIC_VALUE);
    CHECK_EQ((unsigned char)window[4095], 0x5a);
    CHECK_EQ(read_entry(l1e_maddr((unsigned long)window)) >> 12 & 0xFFFFFFFFFFUL, si_mfn);

    /* Refused: a GFN past its RAM (and far past), its frame by machine
     * address as a table to write, an M2P update of its frame. */
    CHECK_EQ(show(info.tot_pages, 0x67, peer), -XEN_EINVAL);
    CHECK_EQ(show(1UL << 30, 0x67, peer), -XEN_EINVAL);
    CHECK_EQ(_hypercall4(__HYPERVISOR_update_va_mapping_otherdomain, window,
                         info.tot_pages << 12 | 0x65, UVMF_INVLPG, peer), -XEN_EINVAL);
    struct mmu_update req = { .ptr = si_mfn << 12 | MMU_NORMAL_PT_UPDATE, .val = 0 };
    CHECK_EQ(mmu_update_foreign(&req, 1, peer), -XEN_EINVAL);
    req.ptr = si_mfn << 12 | MMU_MACHPHYS_UPDATE;
    req.val = si_gfn;
    CHECK_EQ(mmu_update_foreign(&req, 1, peer), -XEN_EINVAL);
    /* The refused mappings left the read-only one in place; our own
     * frame goes back (its reference on the peer's frame dropped). */
    CHECK_EQ(read_entry(l1e_maddr((unsigned long)window)) >> 12 & 0xFFFFFFFFFFUL, si_mfn);
    CHECK_EQ(show(own_frame(), 0x67, DOMID_SELF), 0);
    CHECK_EQ(window[0], 0);

    /* And it goes as any domain does. */
    CHECK_EQ(domctl_simple(XEN_DOMCTL_destroydomain, peer), 0);
    printf("peer d%u destroyed\n", peer);
    return test_finish();
}
