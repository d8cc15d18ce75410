/* Guest test: the access-control module.  One domain per role (op=):
 *   victim   a plain domain the others aim at (d1); sleeps until destroyed
 *   plain    no role: every domctl and sysctl is -EPERM, on itself and on
 *            d1, and so is mapping d1's memory or its event channels
 *   hardware the hardware role alone gives no control either
 *   dm       role=dm target=victim (by name) / target=1 (by id): may look at
 *            and map its target only
 *   xs       role=xenstore: getdomaininfo of anyone, nothing else
 *   reaper   role=control: waits for the others, then destroys d1 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/time.h>
#include "report.h"
#include "../domctl/ctl.h"

#define MS 1000000ULL
#define VICTIM 1

static const unsigned domctls[] = {
    XEN_DOMCTL_createdomain, XEN_DOMCTL_destroydomain, XEN_DOMCTL_pausedomain,
    XEN_DOMCTL_unpausedomain, XEN_DOMCTL_getdomaininfo, XEN_DOMCTL_max_mem,
    XEN_DOMCTL_max_vcpus, XEN_DOMCTL_setvcpucontext, XEN_DOMCTL_getvcpucontext,
    XEN_DOMCTL_getvcpuinfo, XEN_DOMCTL_setvcpuaffinity, XEN_DOMCTL_getvcpuaffinity,
    XEN_DOMCTL_scheduler_op, XEN_DOMCTL_ioport_permission, XEN_DOMCTL_iomem_permission,
    XEN_DOMCTL_irq_permission, XEN_DOMCTL_set_target, XEN_DOMCTL_shadow_op, 12345,
};
static const char *const domctl_names[] = {
    "createdomain", "destroydomain", "pausedomain", "unpausedomain", "getdomaininfo",
    "max_mem", "max_vcpus", "setvcpucontext", "getvcpucontext", "getvcpuinfo",
    "setvcpuaffinity", "getvcpuaffinity", "scheduler_op", "ioport_permission",
    "iomem_permission", "irq_permission", "set_target", "shadow_op", "unknown",
};
static const unsigned sysctls[] = {
    XEN_SYSCTL_physinfo, XEN_SYSCTL_getdomaininfolist, XEN_SYSCTL_readconsole,
    XEN_SYSCTL_sched_id, 12345,
};

static struct vcpu_guest_context ctx;
static char buf[256];
static uint8_t cpumap[8] = { 0xff };

/* A plausible argument for each command, so that only the permission
 * check can refuse it. */
static void fill(struct xen_domctl *op)
{
    switch (op->cmd) {
    case XEN_DOMCTL_createdomain:
        op->u.createdomain.max_vcpus = 1;
        op->u.createdomain.grant_opts = 1;
        op->u.createdomain.max_grant_frames = -1;
        op->u.createdomain.max_maptrack_frames = -1;
        break;
    case XEN_DOMCTL_max_mem:
        op->u.max_mem.max_memkb = 4096;
        break;
    case XEN_DOMCTL_max_vcpus:
        op->u.max_vcpus.max = 1;
        break;
    case XEN_DOMCTL_setvcpucontext:
    case XEN_DOMCTL_getvcpucontext:
        set_xen_guest_handle(op->u.vcpucontext.ctxt, &ctx);
        break;
    case XEN_DOMCTL_setvcpuaffinity:
    case XEN_DOMCTL_getvcpuaffinity:
        op->u.vcpuaffinity.flags = XEN_VCPUAFFINITY_HARD;
        set_xen_guest_handle(op->u.vcpuaffinity.cpumap_hard.bitmap, cpumap);
        op->u.vcpuaffinity.cpumap_hard.nr_bits = 64;
        break;
    case XEN_DOMCTL_scheduler_op:
        op->u.scheduler_op.sched_id = XEN_SCHEDULER_CREDIT;
        op->u.scheduler_op.cmd = XEN_DOMCTL_SCHEDOP_getinfo;
        break;
    case XEN_DOMCTL_ioport_permission:
        op->u.ioport_permission.first_port = 0x3f8;
        op->u.ioport_permission.nr_ports = 8;
        op->u.ioport_permission.allow_access = 1;
        break;
    case XEN_DOMCTL_iomem_permission:
        op->u.iomem_permission.first_mfn = 0xfebc0;
        op->u.iomem_permission.nr_mfns = 1;
        op->u.iomem_permission.allow_access = 1;
        break;
    case XEN_DOMCTL_irq_permission:
        op->u.irq_permission.pirq = 4;
        op->u.irq_permission.allow_access = 1;
        break;
    case XEN_DOMCTL_set_target:
        op->u.set_target.target = VICTIM;
        break;
    }
}

static long domctl_on(unsigned cmd, domid_t dom)
{
    struct xen_domctl op;
    domctl_init(&op, cmd, dom);
    fill(&op);
    return do_domctl(&op);
}

static long sysctl_cmd(unsigned cmd)
{
    struct xen_sysctl op;
    sysctl_init(&op, cmd);
    switch (cmd) {
    case XEN_SYSCTL_getdomaininfolist: {
        static struct xen_domctl_getdomaininfo info[4];
        op.u.getdomaininfolist.max_domains = 4;
        set_xen_guest_handle(op.u.getdomaininfolist.buffer, info);
        break;
    }
    case XEN_SYSCTL_readconsole:
        set_xen_guest_handle(op.u.readconsole.buffer, buf);
        op.u.readconsole.count = sizeof(buf);
        break;
    }
    return do_sysctl(&op);
}

/* Every domctl on dom gives want, except those in the allowed mask. */
static void all_domctls(domid_t dom, long want, unsigned long allowed_mask)
{
    for (unsigned i = 0; i < sizeof(domctls) / sizeof(domctls[0]); i++) {
        if (allowed_mask & (1UL << i))
            continue;
        long rc = domctl_on(domctls[i], dom);
        if (rc != want)
            test_fail("domctl %s on d%u: %ld, expected %ld", domctl_names[i], dom, rc, want);
    }
}

static void all_sysctls(long want)
{
    for (unsigned i = 0; i < sizeof(sysctls) / sizeof(sysctls[0]); i++) {
        long rc = sysctl_cmd(sysctls[i]);
        if (rc != want)
            test_fail("sysctl %u: %ld, expected %ld", sysctls[i], rc, want);
    }
}

static long alloc_unbound_for(domid_t dom)
{
    struct evtchn_alloc_unbound a = { .dom = dom, .remote_dom = DOMID_SELF };
    return HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a);
}

static long evtchn_status_of(domid_t dom)
{
    struct evtchn_status st = { .dom = dom, .port = 0 };
    return HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);
}

/* mmu_update on dom's memory, with a request that is bad in itself: the
 * permission check refuses first (-EPERM) or it fails for another reason. */
static long map_foreign(domid_t dom)
{
    struct mmu_update u = { .ptr = 0xFFFFFFFFF000ULL | MMU_NORMAL_PT_UPDATE, .val = 0 };
    return mmu_update_foreign(&u, 1, dom);
}

static void unprivileged(domid_t self)
{
    /* Checks come in Xen's order: version, existence, permission. */
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_pausedomain, VICTIM);
    op.interface_version = 1;
    CHECK_EQ(do_domctl(&op), -XEN_EACCES);
    CHECK_EQ(domctl_on(XEN_DOMCTL_pausedomain, 999), -XEN_ESRCH);
    struct xen_sysctl sop;
    sysctl_init(&sop, XEN_SYSCTL_physinfo);
    sop.interface_version = 1;
    CHECK_EQ(do_sysctl(&sop), -XEN_EACCES);

    all_domctls(self, -XEN_EPERM, 0);
    all_domctls(VICTIM, -XEN_EPERM, 0);
    all_sysctls(-XEN_EPERM);
    /* getdomaininfo of a missing domain: -EPERM too (no lookup first). */
    CHECK_EQ(domctl_on(XEN_DOMCTL_getdomaininfo, 999), -XEN_EPERM);
    CHECK_EQ(alloc_unbound_for(VICTIM), -XEN_EPERM);
    CHECK_EQ(evtchn_status_of(VICTIM), -XEN_EPERM);
    CHECK_EQ(map_foreign(VICTIM), -XEN_EPERM);
}

static domid_t other;                    /* other=: a live domain, not our target */

static void dm(domid_t self)
{
    /* Wait until `other` is built: -ESRCH (missing) turns into -EPERM. */
    for (int i = 0; i < 200 && domctl_on(XEN_DOMCTL_pausedomain, other) == -XEN_ESRCH; i++)
        minios_sleep_ns(10 * MS);
    /* Its target: getdomaininfo, event channels, mapping. */
    struct xen_domctl_getdomaininfo info;
    CHECK_EQ(getdomaininfo(VICTIM, &info), 0);
    CHECK_EQ(info.domain, VICTIM);
    struct evtchn_alloc_unbound a = { .dom = VICTIM, .remote_dom = DOMID_SELF };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a), 0);
    struct evtchn_status st = { .dom = VICTIM, .port = a.port };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_status, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_unbound);
    CHECK_EQ(st.u.unbound.dom, self);
    long rc = map_foreign(VICTIM);
    if (rc == -XEN_EPERM || rc == 0)
        test_fail("dm mapping its target with a bad request: %ld", rc);
    printf("dm d%u: bad request on target's memory: %ld\n", self, rc);
    /* Nothing else on its target: getdomaininfo (bit 4) is the only op. */
    all_domctls(VICTIM, -XEN_EPERM, 1UL << 4);
    /* Nothing on others, or on itself. */
    all_domctls(other, -XEN_EPERM, 0);
    all_domctls(self, -XEN_EPERM, 0);
    all_sysctls(-XEN_EPERM);
    CHECK_EQ(alloc_unbound_for(other), -XEN_EPERM);
    CHECK_EQ(evtchn_status_of(other), -XEN_EPERM);
    CHECK_EQ(map_foreign(other), -XEN_EPERM);
}

static void xs(domid_t self)
{
    struct xen_domctl_getdomaininfo info;
    /* The boot domains wait for us to let them run (the boot hold): that
     * unpause is ours, once; any other is not. */
    for (domid_t d = 1; d < 16; d++) {
        if (d == self || getdomaininfo(d, &info) || info.domain != d)
            continue;
        CHECK_EQ(info.flags & XEN_DOMINF_paused, XEN_DOMINF_paused);
        CHECK_EQ(domctl_on(XEN_DOMCTL_unpausedomain, d), 0);
        CHECK_EQ(domctl_on(XEN_DOMCTL_unpausedomain, d), -XEN_EPERM);
    }
    CHECK_EQ(getdomaininfo(VICTIM, &info), 0);
    CHECK_EQ(getdomaininfo(self, &info), 0);
    CHECK_EQ(info.flags & XEN_DOMINF_xs_domain, XEN_DOMINF_xs_domain);
    CHECK_EQ(getdomaininfo(0, &info), 0);    /* the next domain from 0 */
    CHECK_EQ(info.domain, 1);
    all_domctls(VICTIM, -XEN_EPERM, 1UL << 4);
    all_sysctls(-XEN_EPERM);
    CHECK_EQ(alloc_unbound_for(VICTIM), -XEN_EPERM);
    CHECK_EQ(map_foreign(VICTIM), -XEN_EPERM);
}

/* The control domain ends the test: once d2..d(last) are gone it
 * destroys the victim.  It may do what the others may not. */
static void reaper(domid_t self)
{
    CHECK_EQ(domctl_on(XEN_DOMCTL_pausedomain, VICTIM), 0);
    CHECK_EQ(domctl_on(XEN_DOMCTL_unpausedomain, VICTIM), 0);
    CHECK_EQ(alloc_unbound_for(VICTIM), 0);
    CHECK_EQ(map_foreign(VICTIM) == -XEN_EPERM, 0);
    CHECK_EQ(sysctl_cmd(XEN_SYSCTL_physinfo), 0);
    for (int t = 0; t < 600; t++) {
        bool others = false;
        for (domid_t d = 2; d < self; d++) {
            struct xen_domctl_getdomaininfo info;
            if (getdomaininfo(d, &info) == 0 && info.domain == d &&
                !(info.flags & (XEN_DOMINF_shutdown | XEN_DOMINF_dying)))
                others = true;
        }
        if (!others)
            break;
        minios_sleep_ns(50 * MS);
    }
    CHECK_EQ(domctl_on(XEN_DOMCTL_destroydomain, VICTIM), 0);
}

int main(int argc, char **argv)
{
    const char *op = "";
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "op=", 3))
            op = argv[i] + 3;
        else if (!strncmp(argv[i], "other=", 6))
            other = (domid_t)atoi(argv[i] + 6);
    domid_t self = self_domid();
    if (!strcmp(op, "victim")) {
        minios_sleep_ns(60000 * MS);
        test_fail("victim was never destroyed");
    } else if (!strcmp(op, "plain")) {
        unprivileged(self);
    } else if (!strcmp(op, "dm")) {
        dm(self);
    } else if (!strcmp(op, "xs")) {
        xs(self);
    } else if (!strcmp(op, "reaper")) {
        reaper(self);
    } else {
        test_error("unknown op '%s'", op);
    }
    printf("%s d%u done\n", op, self);
    return test_finish();
}
