/* domctl: the control domain's operations on domains (<xen/domctl.h>),
 * with Xen 4.17's order of checks: copy in, interface version (-EACCES),
 * look the domain up (-ESRCH), ask the access-control module (-EPERM),
 * then the operation on our copy, copied back where Xen copies back. */
#define __XEN_TOOLS__ 1
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "hvm.h"
#include "sched.h"
#include "time.h"
#include "timer.h"
#include "hypercall.h"
#include "xsm.h"
#include "pv.h"
#include <xen/domctl.h>
#include <xen/vcpu.h>

#define MAX_IOPORTS 0x10000
#define NR_PIRQS    256          /* IRQs a control domain may hand out */

static uint64_t vcpu_cpu_time(struct vcpu *v)
{
    struct vcpu_runstate_info ri;
    vcpu_get_runstate(v, &ri);   /* includes the running period so far */
    return ri.time[RUNSTATE_running];
}

/* Xen's getdomaininfo() (common/domctl.c). */
void domctl_getdomaininfo(struct domain *d, struct xen_domctl_getdomaininfo *info)
{
    uint32_t flags = XEN_DOMINF_blocked;
    uint64_t cpu_time = 0;
    memset(info, 0, sizeof(*info));
    info->domain = d->id;
    info->max_vcpu_id = XEN_INVALID_MAX_VCPU_ID;
    /* Blocked only if all its online vCPUs are; running if any is. */
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = d->vcpu[i];
        if (!v)
            continue;
        cpu_time += vcpu_cpu_time(v);
        info->max_vcpu_id = v->id;
        if (!vcpu_down(v)) {
            if (v->state != VCPU_BLOCKED)
                flags &= ~XEN_DOMINF_blocked;
            if (v->running)
                flags |= XEN_DOMINF_running;
            info->nr_online_vcpus++;
        }
    }
    info->cpu_time = cpu_time;
    bool shut = d->shutdown && !d->killed;
    /* As Xen: the shutdown code reads SHUTDOWN_CODE_INVALID (~0) until the
     * domain shuts down. */
    uint32_t code = shut ? d->shutdown_reason : ~0u;
    info->flags = (info->nr_online_vcpus ? flags : 0) |
                  (d->killed ? XEN_DOMINF_dying : 0) |
                  (shut ? XEN_DOMINF_shutdown : 0) |
                  (d->pause_count ? XEN_DOMINF_paused : 0) |
                  (d->arch.type != GUEST_PV ? XEN_DOMINF_hvm_guest : 0) |   /* PVH too, as Xen */
                  ((d->roles & ROLE_XENSTORE) ? XEN_DOMINF_xs_domain : 0) |
                  code << XEN_DOMINF_shutdownshift;
    info->tot_pages = d->nr_pages;
    info->max_pages = d->max_pages;
    /* PV: the frame's machine number. */
    info->shared_info_frame = d->shared_info ? virt_to_pfn(d->shared_info) : 0;
    info->ssidref = 0;
    memcpy(info->handle, d->handle, sizeof(info->handle));
    info->cpupool = 0;
    info->gpaddr_bits = 52;
}

/* XEN_DOMCTL_createdomain: an empty PV domain, or with CDF_hvm|CDF_hap
 * and the LAPIC as its only emulator an empty PVH domain (docs/hvm.md,
 * "PVH built at run time"), paused by its creator (controller pause
 * count 1, as Xen), vCPUs allocated but down. */
static long createdomain(struct xen_domctl *op)
{
    struct xen_domctl_createdomain *c = &op->u.createdomain;
    const uint32_t known = XEN_DOMCTL_CDF_hvm | XEN_DOMCTL_CDF_hap |
        XEN_DOMCTL_CDF_s3_integrity | XEN_DOMCTL_CDF_oos_off | XEN_DOMCTL_CDF_xs_domain |
        XEN_DOMCTL_CDF_iommu | XEN_DOMCTL_CDF_nested_virt | XEN_DOMCTL_CDF_vpmu;
    /* sanitise_domain_config(), in Xen's order. */
    if (c->flags & ~known)
        return -XEN_EINVAL;
    if (c->grant_opts & ~XEN_DOMCTL_GRANT_version_mask)
        return -XEN_EINVAL;
    if (c->max_vcpus < 1)
        return -XEN_EINVAL;
    if ((c->flags & XEN_DOMCTL_CDF_hap) && !(c->flags & XEN_DOMCTL_CDF_hvm))
        return -XEN_EINVAL;
    if ((c->flags & XEN_DOMCTL_CDF_iommu) || c->iommu_opts)
        return -XEN_EINVAL;      /* no IOMMU */
    if (c->flags & XEN_DOMCTL_CDF_vpmu)
        return -XEN_EINVAL;      /* no vPMU */
    bool hvm = c->flags & XEN_DOMCTL_CDF_hvm;
    if (hvm && (!svm_usable || !(c->flags & XEN_DOMCTL_CDF_hap)))
        return -XEN_EINVAL;      /* "HVM requested but not available"; no shadow paging */
    if (c->max_vcpus > MAX_VCPUS)
        return -XEN_EINVAL;
    /* As Xen's emulation_flags_ok: PV at most the PIT; HVM all but vPCI
     * (a full PC: its firmware and device model are the boot
     * configuration's only, docs/hvm.md) or the LAPIC alone (PVH). */
    if (!hvm && (c->arch.emulation_flags & ~XEN_X86_EMU_PIT))
        return -XEN_EOPNOTSUPP;
    if (hvm && c->arch.emulation_flags != XEN_X86_EMU_LAPIC)
        return c->arch.emulation_flags == (XEN_X86_EMU_ALL & ~XEN_X86_EMU_VPCI)
               ? -XEN_EOPNOTSUPP : -XEN_EINVAL;
    /* Keel's PVH domains, as its boot ones: one vCPU (the p2m has one
     * writer, hv/hvm/p2m.c), no role. */
    if (hvm && c->max_vcpus != 1)
        return -XEN_EINVAL;
    if (hvm && (c->flags & XEN_DOMCTL_CDF_xs_domain))
        return -XEN_EOPNOTSUPP;
    if (XEN_DOMCTL_GRANT_version(c->grant_opts) != 1)
        return -XEN_EINVAL;      /* grant tables v1 only */

    struct boot_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    strlcpy(cfg.name, "new", sizeof(cfg.name));
    cfg.vcpus = c->max_vcpus;
    cfg.weight = 256;
    cfg.guest_cmdline = "";
    if (op->domain > 0 && op->domain < DOMID_FIRST_RESERVED) {
        if (domain_by_id(op->domain))
            return -XEN_EEXIST;
        cfg.domid = op->domain;
    }
    if (c->flags & XEN_DOMCTL_CDF_xs_domain)
        cfg.roles |= ROLE_XENSTORE;
    if (hvm)
        cfg.type = GUEST_PVH;
    struct domain *d = domain_create(&cfg);
    if (!d)
        return -XEN_ENOMEM;
    snprintf(d->name, sizeof(d->name), "d%u", d->id);
    memcpy(d->handle, c->handle, sizeof(d->handle));
    d->max_evtchns = (unsigned)MIN((uint64_t)c->max_evtchn_port + 1, (uint64_t)d->max_evtchns);
    d->pause_count = 1;
    d->runtime_created = true;
    printk("d%u created by d%u (%s): %s, %u vCPUs, paused\n", d->id, current_domain()->id,
           current_domain()->name, hvm ? "PVH" : "PV", d->nr_vcpus);
    op->domain = d->id;
    return 0;
}

/* Xen 4.17: the given domain, or else the first with a larger id. */
static long getdomaininfo(struct xen_domctl *op, struct domain *d)
{
    if (!d) {
        if (op->domain >= DOMID_FIRST_RESERVED)
            return -XEN_EINVAL;
        for (unsigned id = op->domain; id < DOMID_FIRST_RESERVED && !d; id++)
            d = domain_get(id);
        if (!d)
            return -XEN_ESRCH;
        domctl_getdomaininfo(d, &op->u.getdomaininfo);
        domain_put(d);
    } else {
        domctl_getdomaininfo(d, &op->u.getdomaininfo);
    }
    op->domain = op->u.getdomaininfo.domain;
    return 0;
}

static long setvcpucontext(struct domain *d, struct xen_domctl_vcpucontext *vc)
{
    if (d == current_domain() || vc->vcpu >= d->nr_vcpus || !d->vcpu[vc->vcpu])
        return -XEN_EINVAL;
    struct vcpu *v = d->vcpu[vc->vcpu];
    if (v->running)
        return -XEN_EBUSY;       /* Xen pauses it; we cannot wait under the lock */
    if (!vc->ctxt.p) {
        /* vcpu_reset: down and uninitialised. */
        vcpu_take_down(v);
        v->initialised = false;
        return 0;
    }
    struct vcpu_guest_context *c = alloc_hv_pages(1);
    if (!c)
        return -XEN_ENOMEM;
    BUILD_BUG_ON(sizeof(*c) > 2 * PAGE_SIZE);
    long rc = copy_from_guest(c, (unsigned long)vc->ctxt.p, sizeof(*c));
    if (!rc) {
        domain_lock(d);          /* its base tables get references */
        rc = vcpu_set_context(v, c);
        domain_unlock(d);
    }
    if (!rc) {
        v->initialised = true;
        /* As Xen's arch_set_info_guest: VGCF_online brings it up. */
        if ((c->flags & VGCF_online) && v->state == VCPU_OFFLINE && v->vcpu_info) {
            vcpu_bring_up(v);
            vcpu_restart_periodic(v);
        } else if (!(c->flags & VGCF_online)) {
            vcpu_take_down(v);
        }
    }
    free_hv_pages(c, 1);
    return rc;
}

/* Xen's hypercall_init: a domain builder asks for the hypercall page in
 * one of d's frames (a PV gmfn is a machine frame), which must be d's and
 * writable: not a page table, not shared with other domains. */
static long hypercall_init(struct domain *d, uint64_t gmfn)
{
    if (d->arch.type != GUEST_PV)   /* a PVH guest sets its own (docs/hvm.md) */
        return -XEN_EOPNOTSUPP;
    if (gmfn >= max_pfn || !get_page(gmfn, d))
        return -XEN_EINVAL;
    long rc = get_page_type(gmfn, PGT_WRITABLE, d);
    if (!rc) {
        hypercall_page_fill(pfn_to_virt(gmfn));
        put_page_type(gmfn);
    } else {
        rc = -XEN_EINVAL;
    }
    put_page(gmfn);
    return rc;
}

static long getvcpucontext(struct domain *d, struct xen_domctl_vcpucontext *vc)
{
    if (vc->vcpu >= d->nr_vcpus || !d->vcpu[vc->vcpu] ||
        d->vcpu[vc->vcpu] == current_vcpu())
        return -XEN_EINVAL;
    struct vcpu *v = d->vcpu[vc->vcpu];
    if (!v->initialised)
        return -XEN_ENODATA;
    struct vcpu_guest_context *c = alloc_hv_pages(1);
    if (!c)
        return -XEN_ENOMEM;
    arch_get_info_guest(v, c);
    long rc = copy_to_guest((unsigned long)vc->ctxt.p, c, sizeof(*c));
    free_hv_pages(c, 1);
    return rc;
}

/* xenctl_bitmap <-> a CPU set of nr_cpus bits (Xen's common/bitmap.c):
 * bits past the guest's nr_bits are clear, bits past nr_cpus ignored. */
static long bitmap_from_guest(cpumask_t *mask, const struct xenctl_bitmap *b)
{
    uint8_t bytes[NR_CPUS / 8 + 1] = { 0 };
    unsigned nbytes = (nr_cpus + 7) / 8;
    unsigned guest_bytes = (b->nr_bits + 7) / 8;
    unsigned copy = MIN(guest_bytes, nbytes);
    if (copy) {
        if (copy_from_guest(bytes, (unsigned long)b->bitmap.p, copy))
            return -XEN_EFAULT;
        if ((b->nr_bits & 7) && guest_bytes == copy)
            bytes[guest_bytes - 1] &= (uint8_t)~(0xff << (b->nr_bits & 7));
    }
    cpumask_clear(mask);
    for (unsigned i = 0; i < nr_cpus; i++)
        if (bytes[i / 8] & (1u << (i % 8)))
            cpumask_set_cpu(i, mask);
    return 0;
}

static long bitmap_to_guest(const struct xenctl_bitmap *b, const cpumask_t *mask)
{
    uint8_t bytes[NR_CPUS / 8 + 1] = { 0 };
    unsigned nbytes = (nr_cpus + 7) / 8;
    unsigned guest_bytes = (b->nr_bits + 7) / 8;
    unsigned copy = MIN(guest_bytes, nbytes);
    for (unsigned i = 0; i < nr_cpus; i++)
        if (cpumask_test_cpu(i, mask))
            bytes[i / 8] |= (uint8_t)(1u << (i % 8));
    if (copy && copy_to_guest((unsigned long)b->bitmap.p, bytes, copy))
        return -XEN_EFAULT;
    static const uint8_t zero;
    for (unsigned i = copy; i < guest_bytes; i++)
        if (copy_to_guest((unsigned long)b->bitmap.p + i, &zero, 1))
            return -XEN_EFAULT;
    return 0;
}

/* Xen's vcpu_affinity_domctl(). */
static long vcpuaffinity(struct domain *d, unsigned cmd, struct xen_domctl_vcpuaffinity *a)
{
    if (a->vcpu >= d->nr_vcpus)
        return -XEN_EINVAL;
    struct vcpu *v = d->vcpu[a->vcpu];
    if (!v)
        return -XEN_ESRCH;
    if (!(a->flags & (XEN_VCPUAFFINITY_HARD | XEN_VCPUAFFINITY_SOFT)))
        return -XEN_EINVAL;
    cpumask_t online, m, eff;
    cpumask_first_n(&online, nr_cpus);
    long rc = 0;
    if (cmd == XEN_DOMCTL_setvcpuaffinity) {
        if (a->flags & XEN_VCPUAFFINITY_HARD) {
            if ((rc = bitmap_from_guest(&m, &a->cpumap_hard)))
                return rc;
            if (!cpumask_intersects(&m, &online))
                return -XEN_EINVAL;
            sched_set_affinity(v, &m);
            cpumask_and(&eff, &m, &online);
            if ((rc = bitmap_to_guest(&a->cpumap_hard, &eff)))
                return rc;
        }
        if (a->flags & XEN_VCPUAFFINITY_SOFT) {
            if ((rc = bitmap_from_guest(&m, &a->cpumap_soft)))
                return rc;
            v->soft_affinity = m;
            /* Effective soft affinity: soft & hard & online (or hard). */
            cpumask_and(&eff, &m, &v->affinity);
            cpumask_and(&eff, &eff, &online);
            if (cpumask_empty(&eff))
                cpumask_and(&eff, &v->affinity, &online);
            rc = bitmap_to_guest(&a->cpumap_soft, &eff);
        }
        return rc;
    }
    if (a->flags & XEN_VCPUAFFINITY_HARD)
        rc = bitmap_to_guest(&a->cpumap_hard, &v->affinity);
    if (a->flags & XEN_VCPUAFFINITY_SOFT)
        rc = bitmap_to_guest(&a->cpumap_soft, &v->soft_affinity);
    return rc;
}

/* Credit's csched_dom_cntl(), behind sched_adjust()'s checks. */
static long scheduler_op(struct domain *d, struct xen_domctl_scheduler_op *s)
{
    if (s->sched_id != XEN_SCHEDULER_CREDIT)
        return -XEN_EINVAL;
    switch (s->cmd) {
    case XEN_DOMCTL_SCHEDOP_getinfo:
        s->u.credit.weight = (uint16_t)d->weight;
        s->u.credit.cap = (uint16_t)d->cap;
        return 0;
    case XEN_DOMCTL_SCHEDOP_putinfo:
        if (s->u.credit.weight != 0)
            d->weight = s->u.credit.weight;
        if (s->u.credit.cap != (uint16_t)~0U) {
            d->cap = s->u.credit.cap;
            if (d->parked && !d->cap) {
                for (unsigned i = 0; i < d->nr_vcpus; i++)
                    if (d->vcpu[i]) {
                        sched_unpark(d->vcpu[i]);
                        break;
                    }
            }
        }
        return 0;
    default:                     /* per-vCPU parameters: not for credit */
        return -XEN_EINVAL;
    }
}

static long getvcpuinfo(struct domain *d, struct xen_domctl_getvcpuinfo *gi)
{
    if (gi->vcpu >= d->nr_vcpus)
        return -XEN_EINVAL;
    struct vcpu *v = d->vcpu[gi->vcpu];
    if (!v)
        return -XEN_ESRCH;
    gi->online = !vcpu_down(v);
    gi->blocked = v->state == VCPU_BLOCKED;
    gi->running = v->running;
    gi->cpu_time = vcpu_cpu_time(v);
    gi->cpu = v->processor;
    return 0;
}

static long set_target(struct domain *d, domid_t target)
{
    struct domain *e = domain_get(target);
    if (!e)
        return -XEN_ESRCH;
    domain_put(e);               /* only its id is kept */
    if (d == e || d->target != DOMID_INVALID || d->target_name[0])
        return -XEN_EINVAL;
    /* Xen 4.17 allows only HVM targets (-EOPNOTSUPP otherwise); Keel's dm
     * stub domains may serve PV domains until HVM arrives. */
    d->target = e->id;
    return 0;
}

/* One domctl at a time (Xen's domctl_lock); the domain named is held by
 * a reference.  A pause or destruction waits for the domain's vCPUs to
 * leave their pCPUs only after the lock is let go (they may be waiting
 * for it). */
static spinlock_t control_lock = SPINLOCK_INIT("control", LOCK_ORDER_CONTROL);

void control_lock_acquire(void)
{
    spin_lock(&control_lock);
}

void control_lock_release(void)
{
    spin_unlock(&control_lock);
}

static long domctl_locked(struct xen_domctl *opp, unsigned long arg, struct domain *d,
                          bool *sync);

long do_domctl(unsigned long arg, unsigned long a2, unsigned long a3,
               unsigned long a4, unsigned long a5)
{
    (void)a2, (void)a3, (void)a4, (void)a5;
    struct xen_domctl op;
    if (copy_from_guest(&op, arg, sizeof(op)))
        return -XEN_EFAULT;
    if (op.interface_version != XEN_DOMCTL_INTERFACE_VERSION)
        return -XEN_EACCES;

    struct domain *d = NULL;
    if (op.cmd != XEN_DOMCTL_createdomain) {
        d = domain_get(op.domain);
        if (!d && op.cmd != XEN_DOMCTL_getdomaininfo)
            return -XEN_ESRCH;   /* as Xen: existence before permission */
    }
    bool sync = false;
    control_lock_acquire();
    long rc = domctl_locked(&op, arg, d, &sync);
    control_lock_release();
    if (sync)
        domain_sleep_sync(d);    /* returns once no vCPU of d runs */
    if (d)
        domain_put(d);
    return rc;
}

static long domctl_locked(struct xen_domctl *opp, unsigned long arg, struct domain *d,
                          bool *sync)
{
    struct xen_domctl op = *opp;
    struct domain *cur = current_domain();
    long rc = xsm_domctl(cur, d, op.cmd);
    if (rc)
        return rc;

    bool copyback = false;
    switch (op.cmd) {
    case XEN_DOMCTL_createdomain:
        rc = createdomain(&op);
        copyback = rc == 0;
        break;
    case XEN_DOMCTL_destroydomain:
        if (d == cur)
            rc = -XEN_EINVAL;    /* domain_kill() of oneself */
        else {
            domain_kill(d);
            *sync = true;
        }
        break;
    case XEN_DOMCTL_pausedomain:
        if (d == cur)
            rc = -XEN_EINVAL;
        else if (d->pause_count + 1 >= 255)
            rc = -XEN_EOVERFLOW;
        else {
            sched_pause_domain(d);
            *sync = true;
        }
        break;
    case XEN_DOMCTL_unpausedomain:
        if (d->dm_held && (cur->roles & ROLE_DM) &&
            __atomic_exchange_n(&d->dm_held, false, __ATOMIC_ACQ_REL)) {
            /* the boot hold for its device model (xsm.c) */
            sched_unpause_domain(d);
        } else if (__atomic_exchange_n(&d->xs_held, false, __ATOMIC_ACQ_REL)) {
            /* the boot hold (xsm.c) */
            sched_unpause_domain(d);
        } else if (!d->pause_count) {
            rc = -XEN_EINVAL;
        } else {
            sched_unpause_domain(d);
        }
        break;
    case XEN_DOMCTL_getdomaininfo:
        rc = getdomaininfo(&op, d);
        copyback = rc == 0;
        break;
    case XEN_DOMCTL_max_mem: {
        uint64_t new_max = op.u.max_mem.max_memkb >> (PAGE_SHIFT - 10);
        d->max_pages = MIN(new_max, (uint64_t)UINT32_MAX);
        break;
    }
    case XEN_DOMCTL_max_vcpus:
        /* The vCPUs were made by createdomain; max must match it. */
        if (d == cur || op.u.max_vcpus.max != d->nr_vcpus)
            rc = -XEN_EINVAL;
        break;
    case XEN_DOMCTL_setvcpucontext:
        rc = setvcpucontext(d, &op.u.vcpucontext);
        break;
    case XEN_DOMCTL_getvcpucontext:
        rc = getvcpucontext(d, &op.u.vcpucontext);
        if (copy_to_guest(arg, &op, sizeof(op)))
            rc = -XEN_EFAULT;
        break;
    case XEN_DOMCTL_getvcpuinfo:
        rc = getvcpuinfo(d, &op.u.getvcpuinfo);
        copyback = true;
        break;
    case XEN_DOMCTL_setvcpuaffinity:
    case XEN_DOMCTL_getvcpuaffinity:
        rc = vcpuaffinity(d, op.cmd, &op.u.vcpuaffinity);
        break;
    case XEN_DOMCTL_scheduler_op:
        rc = scheduler_op(d, &op.u.scheduler_op);
        copyback = true;
        break;
    case XEN_DOMCTL_ioport_permission: {
        uint32_t fp = op.u.ioport_permission.first_port;
        uint32_t np = op.u.ioport_permission.nr_ports;
        if (fp + np <= fp || fp + np > MAX_IOPORTS)
            rc = -XEN_EINVAL;
        else
            rc = xsm_io_permit(d, XSM_IO_PORT, fp, fp + np - 1,
                               op.u.ioport_permission.allow_access);
        break;
    }
    case XEN_DOMCTL_iomem_permission: {
        uint64_t mfn = op.u.iomem_permission.first_mfn;
        uint64_t nr = op.u.iomem_permission.nr_mfns;
        if (mfn + nr - 1 < mfn)
            rc = -XEN_EINVAL;    /* wraps (or nr_mfns is 0) */
        else
            rc = xsm_io_permit(d, XSM_IO_MEM, mfn, mfn + nr - 1,
                               op.u.iomem_permission.allow_access);
        break;
    }
    case XEN_DOMCTL_irq_permission: {
        uint32_t pirq = op.u.irq_permission.pirq;
        if (pirq >= NR_PIRQS)
            rc = -XEN_EINVAL;
        else
            rc = xsm_io_permit(d, XSM_IO_IRQ, pirq, pirq,
                               op.u.irq_permission.allow_access);
        break;
    }
    case XEN_DOMCTL_set_target:
        rc = set_target(d, op.u.set_target.target);
        break;
    case XEN_DOMCTL_hypercall_init:
        rc = hypercall_init(d, op.u.hypercall_init.gmfn);
        break;
    case XEN_DOMCTL_sethvmcontext:
        rc = hvm_set_context(d, (unsigned long)op.u.hvmcontext.buffer.p, op.u.hvmcontext.size);
        break;
    case XEN_DOMCTL_gethvmcontext:
        rc = hvm_get_context(d, (unsigned long)op.u.hvmcontext.buffer.p, &op.u.hvmcontext.size);
        copyback = true;                 /* the size, as Xen, even when refused */
        break;
    default:
        rc = -XEN_ENOSYS;
        break;
    }
    if (copyback && copy_to_guest(arg, &op, sizeof(op)))
        rc = -XEN_EFAULT;
    return rc;
}
