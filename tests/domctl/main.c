/* Guest test: domctl from a control domain, on itself and on a plain
 * domain found by id (a spinner): getdomaininfo, pause/unpause (the
 * spinner's cpu_time stands still while paused), max_mem, max_vcpus,
 * vCPU context and affinity, credit weight and cap, I/O permissions,
 * set_target, createdomain/destroydomain, and the errors Xen 4.17 gives
 * for bad versions, domains, vCPUs and arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/time.h>
#include "report.h"
#include "ctl.h"
#include <minios/gnttab.h>

#define MS 1000000ULL

static domid_t self, peer;

static uint64_t cpu_time(domid_t d)
{
    struct xen_domctl_getdomaininfo info;
    if (getdomaininfo(d, &info) || info.domain != d) {
        test_fail("getdomaininfo d%u failed", d);
        return 0;
    }
    return info.cpu_time;
}

static long vcpuinfo(domid_t d, unsigned vcpu, struct xen_domctl_getvcpuinfo *vi)
{
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_getvcpuinfo, d);
    op.u.getvcpuinfo.vcpu = vcpu;
    long rc = do_domctl(&op);
    *vi = op.u.getvcpuinfo;
    return rc;
}

/* Waits until vCPU 0 of d is off every pCPU (a pause takes effect when
 * the pCPU running it next enters the hypervisor). */
static void wait_not_running(domid_t d)
{
    struct xen_domctl_getvcpuinfo vi;
    for (int i = 0; i < 100; i++) {
        if (vcpuinfo(d, 0, &vi) == 0 && !vi.running)
            return;
        minios_sleep_ns(1 * MS);
    }
    test_fail("d%u vCPU 0 still running after a pause", d);
}

/* Waits (up to 5 s of guest time) for d's cpu_time to pass t0: a busy
 * host may leave the other pCPU's thread unscheduled for a while. */
static uint64_t wait_progress(domid_t d, uint64_t t0, const char *what)
{
    for (int i = 0; i < 500; i++) {
        minios_sleep_ns(10 * MS);
        uint64_t t = cpu_time(d);
        if (t > t0)
            return t;
    }
    test_fail("%s: cpu_time stayed at %lu", what, (unsigned long)t0);
    return t0;
}

static void test_versions_and_lookup(void)
{
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_getdomaininfo, self);
    op.interface_version = XEN_DOMCTL_INTERFACE_VERSION - 1;
    CHECK_EQ(do_domctl(&op), -XEN_EACCES);
    op.interface_version = 0;
    CHECK_EQ(do_domctl(&op), -XEN_EACCES);
    CHECK_EQ(_hypercall1(__HYPERVISOR_domctl, 0xFFFF830000100000UL), -XEN_EFAULT);

    /* A domain that does not exist: -ESRCH before anything else. */
    CHECK_EQ(domctl_simple(XEN_DOMCTL_pausedomain, 999), -XEN_ESRCH);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_destroydomain, 999), -XEN_ESRCH);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_pausedomain, DOMID_SELF), -XEN_ESRCH);
    CHECK_EQ(domctl_simple(12345, 999), -XEN_ESRCH);
    /* getdomaininfo: the first domain at or above the id (Xen 4.17). */
    struct xen_domctl_getdomaininfo info;
    CHECK_EQ(getdomaininfo(999, &info), -XEN_ESRCH);
    CHECK_EQ(getdomaininfo(DOMID_SELF, &info), -XEN_EINVAL);
    CHECK_EQ(getdomaininfo(0, &info), 0);
    CHECK_EQ(info.domain, 1);
    CHECK_EQ(getdomaininfo(peer + 1, &info), 0);
    CHECK_EQ(info.domain, self);
    /* Unknown commands. */
    CHECK_EQ(domctl_simple(12345, self), -XEN_ENOSYS);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_shadow_op, self), -XEN_ENOSYS);
}

static void test_getdomaininfo(void)
{
    struct xen_domctl_getdomaininfo info;
    CHECK_EQ(getdomaininfo(self, &info), 0);
    CHECK_EQ(info.domain, self);
    CHECK_EQ(info.flags & (XEN_DOMINF_running | XEN_DOMINF_paused | XEN_DOMINF_dying |
                           XEN_DOMINF_shutdown | XEN_DOMINF_hvm_guest),
             XEN_DOMINF_running);
    CHECK_EQ((info.flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask, 255);
    CHECK_EQ(info.tot_pages, 4096);          /* mem=16M */
    CHECK_EQ(info.max_pages, 4096);
    CHECK_EQ(info.nr_online_vcpus, 1);
    CHECK_EQ(info.max_vcpu_id, 0);
    CHECK_EQ(info.ssidref, 0);
    if (!info.shared_info_frame)
        test_fail("no shared_info_frame");
    if (info.cpu_time == 0)
        test_fail("own cpu_time is 0");
    printf("self d%u: flags %#x tot %lu max %lu si %#lx cpu %lu ns\n", info.domain,
           info.flags, (unsigned long)info.tot_pages, (unsigned long)info.max_pages,
           (unsigned long)info.shared_info_frame, (unsigned long)info.cpu_time);

    CHECK_EQ(getdomaininfo(peer, &info), 0);
    CHECK_EQ(info.domain, peer);
    CHECK_EQ(info.tot_pages, 1024);          /* mem=4M */
    CHECK_EQ(info.nr_online_vcpus, 1);
    CHECK_EQ(info.flags & (XEN_DOMINF_paused | XEN_DOMINF_blocked), 0);  /* it spins */
}

/* The spinner's counter page, mapped from its grant (the only one it
 * makes; tried until it exists). */
static volatile uint64_t *spin_counter;

static void map_spin_counter(void)
{
    for (int tries = 0; tries < 200 && !spin_counter; tries++) {
        for (grant_ref_t ref = 0; ref < 64 && !spin_counter; ref++) {
            grant_handle_t h;
            spin_counter = minios_gnttab_map(peer, ref, 1, &h);
        }
        if (!spin_counter)
            minios_sleep_ns(10 * MS);
    }
    if (!spin_counter)
        test_fail("the spinner's counter page could not be mapped");
}

/* After a pause or destroy has returned, the counter must not move:
 * the vCPU executes no instruction after the call (it may have been on
 * another pCPU, mid-loop, when the call came). */
static void expect_still(const char *what)
{
    if (!spin_counter)
        return;
    uint64_t c0 = *spin_counter;
    minios_sleep_ns(20 * MS);
    uint64_t c1 = *spin_counter;
    if (c1 != c0)
        test_fail("%s returned, yet the spinner counted on: %lu -> %lu", what,
                  (unsigned long)c0, (unsigned long)c1);
}

static void test_pause(void)
{
    /* Not oneself; unpause of a domain nobody paused. */
    CHECK_EQ(domctl_simple(XEN_DOMCTL_pausedomain, self), -XEN_EINVAL);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_destroydomain, self), -XEN_EINVAL);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, peer), -XEN_EINVAL);

    /* The spinner runs while we sleep... */
    wait_progress(peer, cpu_time(peer), "spinner did not run");

    /* ...and not while paused: 20 rounds, each seen in its memory. */
    map_spin_counter();
    for (int round = 0; round < 20 && spin_counter; round++) {
        uint64_t before = *spin_counter;
        for (int i = 0; i < 200 && *spin_counter == before; i++)
            minios_sleep_ns(1 * MS);
        if (*spin_counter == before)
            test_fail("round %d: the spinner does not count", round);
        CHECK_EQ(domctl_simple(XEN_DOMCTL_pausedomain, peer), 0);
        expect_still("pausedomain");
        CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, peer), 0);
    }
    if (spin_counter)
        printf("pause: 20 rounds, the spinner's counter still each time\n");
    CHECK_EQ(domctl_simple(XEN_DOMCTL_pausedomain, peer), 0);
    /* Synchronous, as Xen's vcpu_sleep_sync: off its pCPU on return. */
    struct xen_domctl_getvcpuinfo v0;
    CHECK_EQ(vcpuinfo(peer, 0, &v0), 0);
    if (v0.running)
        test_fail("the spinner still runs when pausedomain has returned");
    wait_not_running(peer);
    struct xen_domctl_getdomaininfo info;
    CHECK_EQ(getdomaininfo(peer, &info), 0);
    CHECK_EQ(info.flags & (XEN_DOMINF_paused | XEN_DOMINF_running), XEN_DOMINF_paused);
    uint64_t p0 = cpu_time(peer);
    minios_sleep_ns(50 * MS);
    uint64_t p1 = cpu_time(peer);
    CHECK_EQ(p1, p0);
    struct xen_domctl_getvcpuinfo vi;
    CHECK_EQ(vcpuinfo(peer, 0, &vi), 0);
    CHECK_EQ(vi.online, 1);
    CHECK_EQ(vi.running, 0);
    CHECK_EQ(vi.cpu_time, p1);
    printf("paused: cpu_time %lu -> %lu over 50 ms\n", (unsigned long)p0, (unsigned long)p1);

    /* Pauses nest. */
    CHECK_EQ(domctl_simple(XEN_DOMCTL_pausedomain, peer), 0);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, peer), 0);
    CHECK_EQ(getdomaininfo(peer, &info), 0);
    if (!(info.flags & XEN_DOMINF_paused))
        test_fail("one unpause of two pauses unpaused");
    minios_sleep_ns(20 * MS);
    CHECK_EQ(cpu_time(peer), p1);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, peer), 0);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, peer), -XEN_EINVAL);
    wait_progress(peer, p1, "unpaused spinner did not run");
    CHECK_EQ(getdomaininfo(peer, &info), 0);
    CHECK_EQ(info.flags & XEN_DOMINF_paused, 0);
}

static long sched(domid_t d, unsigned cmd, unsigned id, uint16_t *weight, uint16_t *cap)
{
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_scheduler_op, d);
    op.u.scheduler_op.sched_id = id;
    op.u.scheduler_op.cmd = cmd;
    op.u.scheduler_op.u.credit.weight = *weight;
    op.u.scheduler_op.u.credit.cap = *cap;
    long rc = do_domctl(&op);
    *weight = op.u.scheduler_op.u.credit.weight;
    *cap = op.u.scheduler_op.u.credit.cap;
    return rc;
}

static void test_scheduler(void)
{
    uint16_t w = 0, c = 0;
    CHECK_EQ(sched(peer, XEN_DOMCTL_SCHEDOP_getinfo, XEN_SCHEDULER_CREDIT, &w, &c), 0);
    CHECK_EQ(w, 256);
    CHECK_EQ(c, 0);
    w = 512, c = 50;
    CHECK_EQ(sched(peer, XEN_DOMCTL_SCHEDOP_putinfo, XEN_SCHEDULER_CREDIT, &w, &c), 0);
    w = c = 0;
    CHECK_EQ(sched(peer, XEN_DOMCTL_SCHEDOP_getinfo, XEN_SCHEDULER_CREDIT, &w, &c), 0);
    CHECK_EQ(w, 512);
    CHECK_EQ(c, 50);
    /* weight 0 and cap 0xffff leave things as they are. */
    w = 0, c = 0xffff;
    CHECK_EQ(sched(peer, XEN_DOMCTL_SCHEDOP_putinfo, XEN_SCHEDULER_CREDIT, &w, &c), 0);
    CHECK_EQ(sched(peer, XEN_DOMCTL_SCHEDOP_getinfo, XEN_SCHEDULER_CREDIT, &w, &c), 0);
    CHECK_EQ(w, 512);
    CHECK_EQ(c, 50);
    /* Wrong scheduler, per-vCPU commands, unknown commands. */
    CHECK_EQ(sched(peer, XEN_DOMCTL_SCHEDOP_getinfo, XEN_SCHEDULER_CREDIT2, &w, &c), -XEN_EINVAL);
    CHECK_EQ(sched(peer, XEN_DOMCTL_SCHEDOP_getvcpuinfo, XEN_SCHEDULER_CREDIT, &w, &c), -XEN_EINVAL);
    CHECK_EQ(sched(peer, 7, XEN_SCHEDULER_CREDIT, &w, &c), -XEN_EINVAL);
    w = 256, c = 0;
    CHECK_EQ(sched(peer, XEN_DOMCTL_SCHEDOP_putinfo, XEN_SCHEDULER_CREDIT, &w, &c), 0);
    /* And on oneself. */
    CHECK_EQ(sched(self, XEN_DOMCTL_SCHEDOP_getinfo, XEN_SCHEDULER_CREDIT, &w, &c), 0);
    CHECK_EQ(w, 256);
}

static void test_limits(void)
{
    struct xen_domctl op;
    struct xen_domctl_getdomaininfo info;
    domctl_init(&op, XEN_DOMCTL_max_mem, peer);
    op.u.max_mem.max_memkb = 8192;
    CHECK_EQ(do_domctl(&op), 0);
    CHECK_EQ(getdomaininfo(peer, &info), 0);
    CHECK_EQ(info.max_pages, 2048);
    op.u.max_mem.max_memkb = 4096;
    CHECK_EQ(do_domctl(&op), 0);
    CHECK_EQ(getdomaininfo(peer, &info), 0);
    CHECK_EQ(info.max_pages, 1024);
    domctl_init(&op, XEN_DOMCTL_max_mem, self);
    op.u.max_mem.max_memkb = 16384;
    CHECK_EQ(do_domctl(&op), 0);

    domctl_init(&op, XEN_DOMCTL_max_vcpus, peer);
    op.u.max_vcpus.max = 1;
    CHECK_EQ(do_domctl(&op), 0);
    op.u.max_vcpus.max = 2;
    CHECK_EQ(do_domctl(&op), -XEN_EINVAL);   /* must match createdomain's */
    domctl_init(&op, XEN_DOMCTL_max_vcpus, self);
    op.u.max_vcpus.max = 1;
    CHECK_EQ(do_domctl(&op), -XEN_EINVAL);   /* not oneself */
}

static long affinity(domid_t d, unsigned cmd, unsigned vcpu, unsigned flags, uint8_t *map,
                     unsigned nbits)
{
    struct xen_domctl op;
    domctl_init(&op, cmd, d);
    op.u.vcpuaffinity.vcpu = vcpu;
    op.u.vcpuaffinity.flags = flags;
    set_xen_guest_handle(op.u.vcpuaffinity.cpumap_hard.bitmap, map);
    op.u.vcpuaffinity.cpumap_hard.nr_bits = nbits;
    set_xen_guest_handle(op.u.vcpuaffinity.cpumap_soft.bitmap, map);
    op.u.vcpuaffinity.cpumap_soft.nr_bits = nbits;
    return do_domctl(&op);
}

static void test_affinity(void)
{
    uint8_t map[8];
    memset(map, 0, sizeof(map));
    map[0] = 0x02;                           /* CPU 1 only */
    CHECK_EQ(affinity(peer, XEN_DOMCTL_setvcpuaffinity, 0, XEN_VCPUAFFINITY_HARD, map, 64), 0);
    CHECK_EQ(map[0], 0x02);                  /* the effective map comes back */
    memset(map, 0xff, sizeof(map));
    CHECK_EQ(affinity(peer, XEN_DOMCTL_getvcpuaffinity, 0, XEN_VCPUAFFINITY_HARD, map, 64), 0);
    CHECK_EQ(map[0], 0x02);
    CHECK_EQ(map[1], 0);                     /* beyond the host's CPUs: zeros */
    /* The spinner still runs, now on CPU 1. */
    wait_progress(peer, cpu_time(peer), "spinner pinned to CPU 1 did not run");
    struct xen_domctl_getvcpuinfo vi;
    CHECK_EQ(vcpuinfo(peer, 0, &vi), 0);
    CHECK_EQ(vi.cpu, 1);
    /* No online CPU in the map; bad vCPU; no flags. */
    memset(map, 0, sizeof(map));
    map[0] = 0x80;
    CHECK_EQ(affinity(peer, XEN_DOMCTL_setvcpuaffinity, 0, XEN_VCPUAFFINITY_HARD, map, 64),
             -XEN_EINVAL);
    CHECK_EQ(affinity(peer, XEN_DOMCTL_setvcpuaffinity, 1, XEN_VCPUAFFINITY_HARD, map, 64),
             -XEN_EINVAL);
    CHECK_EQ(affinity(peer, XEN_DOMCTL_setvcpuaffinity, 0, 0, map, 64), -XEN_EINVAL);
    CHECK_EQ(affinity(peer, XEN_DOMCTL_setvcpuaffinity, 0, XEN_VCPUAFFINITY_HARD,
                      (uint8_t *)0xFFFF830000100000UL, 64), -XEN_EFAULT);
    /* nr_bits cuts the map: bits 1.. of a 1-bit map are ignored. */
    memset(map, 0xff, sizeof(map));
    CHECK_EQ(affinity(peer, XEN_DOMCTL_setvcpuaffinity, 0, XEN_VCPUAFFINITY_HARD, map, 1), 0);
    CHECK_EQ(map[0] & 1, 1);
    memset(map, 0, sizeof(map));
    CHECK_EQ(affinity(peer, XEN_DOMCTL_getvcpuaffinity, 0, XEN_VCPUAFFINITY_HARD, map, 64), 0);
    CHECK_EQ(map[0], 0x01);
    /* Back to every CPU; oneself too. */
    memset(map, 0xff, sizeof(map));
    CHECK_EQ(affinity(peer, XEN_DOMCTL_setvcpuaffinity, 0, XEN_VCPUAFFINITY_HARD, map, 64), 0);
    CHECK_EQ(map[0], 0x03);                  /* SMP=2 */
    memset(map, 0, sizeof(map));
    CHECK_EQ(affinity(self, XEN_DOMCTL_getvcpuaffinity, 0, XEN_VCPUAFFINITY_HARD, map, 64), 0);
    CHECK_EQ(map[0], 0x03);
}

static struct vcpu_guest_context ctx;

static long vcpucontext(domid_t d, unsigned cmd, unsigned vcpu, struct vcpu_guest_context *c)
{
    struct xen_domctl op;
    domctl_init(&op, cmd, d);
    op.u.vcpucontext.vcpu = vcpu;
    set_xen_guest_handle(op.u.vcpucontext.ctxt, c);
    return do_domctl(&op);
}

static void test_vcpucontext(void)
{
    CHECK_EQ(vcpucontext(self, XEN_DOMCTL_getvcpucontext, 0, &ctx), -XEN_EINVAL);
    CHECK_EQ(vcpucontext(self, XEN_DOMCTL_setvcpucontext, 0, &ctx), -XEN_EINVAL);
    CHECK_EQ(vcpucontext(peer, XEN_DOMCTL_getvcpucontext, 1, &ctx), -XEN_EINVAL);
    CHECK_EQ(vcpucontext(peer, XEN_DOMCTL_setvcpucontext, 1, &ctx), -XEN_EINVAL);

    /* Round trip on the paused spinner: it carries on afterwards. */
    CHECK_EQ(domctl_simple(XEN_DOMCTL_pausedomain, peer), 0);
    wait_not_running(peer);
    memset(&ctx, 0, sizeof(ctx));
    CHECK_EQ(vcpucontext(peer, XEN_DOMCTL_getvcpucontext, 0, &ctx), 0);
    if (!(ctx.flags & VGCF_online) || !(ctx.flags & VGCF_in_kernel))
        test_fail("context flags %#lx", (unsigned long)ctx.flags);
    if (!ctx.ctrlreg[3] || !ctx.user_regs.rip || !ctx.event_callback_eip)
        test_fail("context: cr3 %#lx rip %#lx callback %#lx", (unsigned long)ctx.ctrlreg[3],
                  (unsigned long)ctx.user_regs.rip, (unsigned long)ctx.event_callback_eip);
    CHECK_EQ(ctx.user_regs.cs, FLAT_KERNEL_CS);
    printf("spinner context: rip %#lx rsp %#lx cr3 %#lx\n", (unsigned long)ctx.user_regs.rip,
           (unsigned long)ctx.user_regs.rsp, (unsigned long)ctx.ctrlreg[3]);
    CHECK_EQ(vcpucontext(peer, XEN_DOMCTL_getvcpucontext, 0,
                         (struct vcpu_guest_context *)0xFFFF830000100000UL), -XEN_EFAULT);
    CHECK_EQ(vcpucontext(peer, XEN_DOMCTL_setvcpucontext, 0, &ctx), 0);
    /* A cr3 that is not the domain's. */
    static struct vcpu_guest_context bad;
    bad = ctx;
    bad.ctrlreg[3] = 0;
    CHECK_EQ(vcpucontext(peer, XEN_DOMCTL_setvcpucontext, 0, &bad), -XEN_EINVAL);
    bad = ctx;
    bad.user_regs.rip = 0x0000900000000000UL;   /* not canonical (as Xen, any canonical rip
                                                 * is taken, the hypervisor's range too) */
    CHECK_EQ(vcpucontext(peer, XEN_DOMCTL_setvcpucontext, 0, &bad), -XEN_EINVAL);
    bad = ctx;
    bad.ldt_base = 0xFFFF830000000000UL;        /* in the hypervisor, even with no entries */
    CHECK_EQ(vcpucontext(peer, XEN_DOMCTL_setvcpucontext, 0, &bad), -XEN_EINVAL);
    bad = ctx;
    bad.vm_assist = 1UL << 40;                  /* not a 64-bit PV VMASST type (vCPU 0) */
    CHECK_EQ(vcpucontext(peer, XEN_DOMCTL_setvcpucontext, 0, &bad), -XEN_EINVAL);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, peer), 0);
    wait_progress(peer, cpu_time(peer), "spinner did not run after setvcpucontext");
}

static long ioperm(unsigned cmd, domid_t d, uint64_t first, uint64_t nr, int allow)
{
    struct xen_domctl op;
    domctl_init(&op, cmd, d);
    switch (cmd) {
    case XEN_DOMCTL_ioport_permission:
        op.u.ioport_permission.first_port = (uint32_t)first;
        op.u.ioport_permission.nr_ports = (uint32_t)nr;
        op.u.ioport_permission.allow_access = allow;
        break;
    case XEN_DOMCTL_iomem_permission:
        op.u.iomem_permission.first_mfn = first;
        op.u.iomem_permission.nr_mfns = nr;
        op.u.iomem_permission.allow_access = allow;
        break;
    default:
        op.u.irq_permission.pirq = (uint32_t)first;
        op.u.irq_permission.allow_access = allow;
    }
    return do_domctl(&op);
}

static void test_io_permissions(void)
{
    CHECK_EQ(ioperm(XEN_DOMCTL_ioport_permission, peer, 0x3f8, 8, 1), 0);
    CHECK_EQ(ioperm(XEN_DOMCTL_ioport_permission, peer, 0x3fa, 2, 0), 0);   /* split */
    CHECK_EQ(ioperm(XEN_DOMCTL_ioport_permission, peer, 0x3f8, 0, 1), -XEN_EINVAL);
    CHECK_EQ(ioperm(XEN_DOMCTL_ioport_permission, peer, 0xffff, 2, 1), -XEN_EINVAL);
    CHECK_EQ(ioperm(XEN_DOMCTL_ioport_permission, peer, 0xfff0, 0x10, 1), 0);
    CHECK_EQ(ioperm(XEN_DOMCTL_ioport_permission, self, 0x60, 1, 1), 0);
    CHECK_EQ(ioperm(XEN_DOMCTL_iomem_permission, peer, 0xfebc0, 16, 1), 0);
    CHECK_EQ(ioperm(XEN_DOMCTL_iomem_permission, peer, 0xfebc0, 16, 0), 0);
    CHECK_EQ(ioperm(XEN_DOMCTL_iomem_permission, peer, 5, 0, 1), -XEN_EINVAL);
    CHECK_EQ(ioperm(XEN_DOMCTL_iomem_permission, peer, ~0ULL - 2, 8, 1), -XEN_EINVAL);
    CHECK_EQ(ioperm(XEN_DOMCTL_irq_permission, peer, 4, 0, 1), 0);
    CHECK_EQ(ioperm(XEN_DOMCTL_irq_permission, peer, 4, 0, 0), 0);
    CHECK_EQ(ioperm(XEN_DOMCTL_irq_permission, peer, 300, 0, 1), -XEN_EINVAL);
    /* Many disjoint ranges: the set is bounded (-ENOMEM past it). */
    long rc = 0;
    int n;
    for (n = 0; n < 64 && rc == 0; n++)
        rc = ioperm(XEN_DOMCTL_irq_permission, peer, (uint64_t)n * 2, 0, 1);
    CHECK_EQ(rc, -XEN_ENOMEM);
    printf("irq permission ranges before -ENOMEM: %d\n", n - 1);
}

static long createdomain(domid_t want, uint32_t flags, uint32_t max_vcpus, uint32_t grant_opts,
                         domid_t *out)
{
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_createdomain, want);
    op.u.createdomain.flags = flags;
    op.u.createdomain.max_vcpus = max_vcpus;
    op.u.createdomain.max_evtchn_port = 1023;
    op.u.createdomain.max_grant_frames = -1;
    op.u.createdomain.max_maptrack_frames = -1;
    op.u.createdomain.grant_opts = grant_opts;
    memcpy(op.u.createdomain.handle, "keel-domctl-test", 16);
    long rc = do_domctl(&op);
    *out = op.domain;
    return rc;
}

static void test_create_destroy(void)
{
    domid_t d = 0, e = 0;
    CHECK_EQ(createdomain(0, XEN_DOMCTL_CDF_hvm | XEN_DOMCTL_CDF_hap, 1, 1, &d), -XEN_EINVAL);   /* no LAPIC */
    CHECK_EQ(createdomain(0, XEN_DOMCTL_CDF_hap, 1, 1, &d), -XEN_EINVAL);
    CHECK_EQ(createdomain(0, 1u << 20, 1, 1, &d), -XEN_EINVAL);
    CHECK_EQ(createdomain(0, 0, 0, 1, &d), -XEN_EINVAL);
    CHECK_EQ(createdomain(0, 0, 8193, 1, &d), -XEN_EINVAL);   /* Xen's PV limit: 8,192 */
    /* Past shared_info's 32 vcpu_info slots: 1,000 vCPUs, then gone. */
    CHECK_EQ(createdomain(0, 0, 1000, 1, &d), 0);
    {
        struct xen_domctl_getdomaininfo big;
        CHECK_EQ(getdomaininfo(d, &big), 0);
        CHECK_EQ(big.max_vcpu_id, 999);
        CHECK_EQ(domctl_simple(XEN_DOMCTL_destroydomain, d), 0);
    }
    CHECK_EQ(createdomain(0, 0, 1, 0, &d), -XEN_EINVAL);       /* grant version 0 */
    CHECK_EQ(createdomain(0, 0, 1, 0x10, &d), -XEN_EINVAL);    /* unknown grant option */
    CHECK_EQ(createdomain(peer, 0, 1, 1, &d), -XEN_EEXIST);

    CHECK_EQ(createdomain(0, 0, 2, 1, &d), 0);
    printf("created d%u\n", d);
    if (d == 0 || d == self || d == peer || d >= DOMID_FIRST_RESERVED)
        test_fail("createdomain returned d%u", d);
    struct xen_domctl_getdomaininfo info;
    CHECK_EQ(getdomaininfo(d, &info), 0);
    CHECK_EQ(info.domain, d);
    CHECK_EQ(info.flags & 0xffff, XEN_DOMINF_paused);         /* no vCPU online */
    CHECK_EQ(info.tot_pages, 0);
    CHECK_EQ(info.max_pages, 0);
    CHECK_EQ(info.nr_online_vcpus, 0);
    CHECK_EQ(info.max_vcpu_id, 1);
    CHECK_EQ(info.cpu_time, 0);
    if (info.shared_info_frame == 0)         /* made with the domain, as in Xen */
        test_fail("new domain has no shared_info frame");
    CHECK_EQ(memcmp(info.handle, "keel-domctl-test", 16), 0);

    /* An id of our choosing; an id in use. */
    CHECK_EQ(createdomain(200, 0, 1, 1, &e), 0);
    CHECK_EQ(e, 200);
    CHECK_EQ(createdomain(200, 0, 1, 1, &e), -XEN_EEXIST);

    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_max_vcpus, d);
    op.u.max_vcpus.max = 2;
    CHECK_EQ(do_domctl(&op), 0);
    domctl_init(&op, XEN_DOMCTL_max_mem, d);
    op.u.max_mem.max_memkb = 1024;
    CHECK_EQ(do_domctl(&op), 0);
    CHECK_EQ(getdomaininfo(d, &info), 0);
    CHECK_EQ(info.max_pages, 256);
    /* No memory yet: no context can name one of its page tables. */
    CHECK_EQ(vcpucontext(d, XEN_DOMCTL_getvcpucontext, 0, &ctx), -XEN_ENODATA);
    CHECK_EQ(vcpucontext(d, XEN_DOMCTL_setvcpucontext, 0, &ctx), -XEN_EINVAL);
    CHECK_EQ(vcpucontext(d, XEN_DOMCTL_setvcpucontext, 2, &ctx), -XEN_EINVAL);
    struct xen_domctl_getvcpuinfo vi;
    CHECK_EQ(vcpuinfo(d, 1, &vi), 0);
    CHECK_EQ(vi.online, 0);
    CHECK_EQ(vcpuinfo(d, 2, &vi), -XEN_EINVAL);

    /* set_target: d serves e; once only; not itself; an existing target. */
    domctl_init(&op, XEN_DOMCTL_set_target, d);
    op.u.set_target.target = 999;
    CHECK_EQ(do_domctl(&op), -XEN_ESRCH);
    op.u.set_target.target = d;
    CHECK_EQ(do_domctl(&op), -XEN_EINVAL);
    op.u.set_target.target = e;
    CHECK_EQ(do_domctl(&op), 0);
    CHECK_EQ(do_domctl(&op), -XEN_EINVAL);
    domctl_init(&op, XEN_DOMCTL_set_target, self);
    op.u.set_target.target = self;
    CHECK_EQ(do_domctl(&op), -XEN_EINVAL);

    /* The creator's pause: one unpause releases it, a second is refused. */
    CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, d), 0);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, d), -XEN_EINVAL);
    CHECK_EQ(getdomaininfo(d, &info), 0);
    CHECK_EQ(info.flags & XEN_DOMINF_paused, 0);

    CHECK_EQ(domctl_simple(XEN_DOMCTL_destroydomain, d), 0);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_destroydomain, e), 0);
    minios_sleep_ns(5 * MS);
    /* Gone (or dying until reaped): getdomaininfo skips to a later id. */
    long rc = getdomaininfo(d, &info);
    if (rc == 0 && info.domain == d && !(info.flags & XEN_DOMINF_dying))
        test_fail("d%u still there after destroydomain", d);
    rc = getdomaininfo(e, &info);
    if (rc == 0 && info.domain == e && !(info.flags & XEN_DOMINF_dying))
        test_fail("d%u still there after destroydomain", e);

    /* Many create/destroy cycles leave nothing behind (the hypervisor's
     * frame accounting at exit checks the rest). */
    for (int i = 0; i < 50; i++) {
        if (createdomain(0, 0, 1, 1, &d)) {
            test_fail("createdomain #%d failed", i);
            break;
        }
        if (domctl_simple(XEN_DOMCTL_destroydomain, d)) {
            test_fail("destroydomain #%d failed", i);
            break;
        }
        if (i % 10 == 9)
            minios_sleep_ns(1 * MS);
    }
}

/* The spinner counts in a page it grants to the control domain (ctl=),
 * so that the control domain sees, in memory, whether it still executes
 * after pausedomain or destroydomain has returned. */
static volatile uint64_t spin_page[512] __attribute__((aligned(4096)));

static int spin(domid_t ctl)
{
    /* A plain domain that only computes, until the control domain
     * destroys it (or 60 s pass: the control domain failed). */
    if (ctl && minios_gnttab_init() == 0) {
        grant_ref_t ref = minios_gnttab_grant_access(ctl, minios_gnttab_virt_to_mfn((const void *)spin_page), 0);
        printf("spinner: counter page granted to d%u as ref %u\n", ctl, ref);
    }
    uint64_t end = minios_monotonic_ns() + 60000 * MS;
    while (minios_monotonic_ns() < end)
        for (int i = 0; i < 100000; i++)
            spin_page[0]++;
    test_fail("spinner was never destroyed");
    return test_finish();
}

int main(int argc, char **argv)
{
    domid_t ctl = 0;
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "ctl=", 4))
            ctl = (domid_t)atoi(argv[i] + 4);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "op=spin"))
            return spin(ctl);
        if (!strncmp(argv[i], "peer=", 5))
            peer = (domid_t)atoi(argv[i] + 5);
    }
    self = self_domid();
    printf("control domain d%u, peer d%u\n", self, peer);
    if (!peer || self == DOMID_INVALID) {
        test_error("no peer= argument or no own id");
        return test_finish();
    }
    /* Boot modules are built one after another while earlier ones run:
     * wait until the spinner is built and running. */
    struct xen_domctl_getdomaininfo info;
    for (int i = 0; i < 500; i++) {
        if (getdomaininfo(peer, &info) == 0 && info.domain == peer &&
            info.nr_online_vcpus == 1 && info.cpu_time > 0)
            break;
        minios_sleep_ns(10 * MS);
    }
    test_versions_and_lookup();
    test_getdomaininfo();
    test_pause();
    test_scheduler();
    test_limits();
    test_affinity();
    test_vcpucontext();
    test_io_permissions();
    test_create_destroy();
    CHECK_EQ(domctl_simple(XEN_DOMCTL_destroydomain, peer), 0);
    expect_still("destroydomain");   /* our mapping keeps the page */
    /* Synchronous: the spinner is off its pCPU (or already reaped). */
    struct xen_domctl_getvcpuinfo v0;
    long rc = vcpuinfo(peer, 0, &v0);
    if (rc == 0 && v0.running)
        test_fail("the spinner still runs when destroydomain has returned");
    else if (rc && rc != -XEN_ESRCH)
        test_fail("getvcpuinfo of the destroyed spinner: %ld", rc);
    return test_finish();
}
