/* vcpu_op: bringing vCPUs up and down with a validated context, runstate,
 * vcpu_info placement, and the per-vCPU singleshot and periodic timers. */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "timer.h"
#include "time.h"
#include "event.h"
#include "hypercall.h"
#include "pv.h"
#include <xen/vcpu.h>

void vcpu_set_runstate(struct vcpu *v, int state)
{
    vcpu_set_runstate_at(v, state, now_ns());
}

void vcpu_set_runstate_at(struct vcpu *v, int state, uint64_t now)
{
    if (v->runstate_entry)
        v->runstate_time[v->runstate & 3] += now - v->runstate_entry;
    v->runstate = state;
    v->runstate_entry = now;
}

/* DOMCTL_setvcpucontext (domctl.c): the same checks and loading. */
long vcpu_set_context(struct vcpu *v, const struct vcpu_guest_context *c)
{
    long rc = arch_set_info_guest(v, c);
    if (!rc)
        v->initialised = true;
    return rc;
}

/* Drops the references a registered vcpu_info holds (domain death). */
void vcpu_info_release(struct vcpu *v)
{
    if (!v->vcpu_info_registered)
        return;
    v->vcpu_info = vcpu_info_default(v);
    v->vcpu_info_registered = false;
    put_page_type(v->vcpu_info_mfn);
    put_page(v->vcpu_info_mfn);
}

static long vcpu_op(unsigned long cmd, unsigned long vcpuid, unsigned long arg);
static long register_vcpu_info_locked(struct vcpu *v, struct vcpu *curr,
                                      const struct vcpu_register_vcpu_info *rp);

/*
 * The runstate area, as Xen's update_runstate_area: the runstate noted at
 * the last switch-in (or registration), written at the guest's address in
 * its own address space.  With VMASST_TYPE_runstate_update_flag,
 * state_entry_time carries XEN_RUNSTATE_UPDATE while the rest is written.
 * Called on the way out to the guest, holding no lock.
 */
void runstate_area_update(struct vcpu *v)
{
    unsigned long p = v->runstate_guest;
    v->runstate_pending = false;
    if (!p)
        return;
    struct vcpu_runstate_info ri = { .state = v->runstate_snap,
                                     .state_entry_time = v->runstate_snap_entry };
    memcpy(ri.time, v->runstate_snap_time, sizeof(ri.time));
    unsigned long t = p + offsetof(struct vcpu_runstate_info, state_entry_time);
    bool flag = v->domain->vm_assist & (1UL << VMASST_TYPE_runstate_update_flag);
    if (flag) {
        uint64_t e = ri.state_entry_time | XEN_RUNSTATE_UPDATE;
        (void)copy_to_guest(t, &e, sizeof(e));
        __atomic_thread_fence(__ATOMIC_RELEASE);
        ri.state_entry_time |= XEN_RUNSTATE_UPDATE;
    }
    (void)copy_to_guest(p, &ri, sizeof(ri));
    if (flag) {
        __atomic_thread_fence(__ATOMIC_RELEASE);
        uint64_t e = v->runstate_snap_entry;
        (void)copy_to_guest(t, &e, sizeof(e));
    }
}

/* Each operation takes what it needs: the timer operations, is_up and the
 * runstate their own locks; bringing a vCPU up or down, its context and
 * its vcpu_info the domain lock (docs/locking.md). */
long do_vcpu_op(unsigned long cmd, unsigned long vcpuid, unsigned long arg,
                unsigned long a4, unsigned long a5)
{
    (void)a4, (void)a5;
    return vcpu_op(cmd, vcpuid, arg);
}

static long vcpu_op(unsigned long cmd, unsigned long vcpuid, unsigned long arg)
{
    struct domain *d = current_domain();
    if (vcpuid >= d->nr_vcpus || !d->vcpu[vcpuid])
        return -XEN_ENOENT;
    struct vcpu *v = d->vcpu[vcpuid];
    struct vcpu *curr = current_vcpu();

    switch (cmd) {
    case VCPUOP_initialise: {
        /* As Xen: the context is copied in before the vCPU's state is
         * looked at, so a bad pointer is -EFAULT even for a running one. */
        struct vcpu_guest_context *c = alloc_hv_pages(1);
        if (!c)
            return -XEN_ENOMEM;
        BUILD_BUG_ON(sizeof(*c) > 2 * PAGE_SIZE);
        long rc = copy_from_guest(c, arg, sizeof(*c));
        if (!rc) {
            domain_lock(d);
            rc = v->initialised ? -XEN_EEXIST : vcpu_set_context(v, c);
            domain_unlock(d);
        }
        free_hv_pages(c, 1);
        return rc;
    }
    case VCPUOP_up: {
        domain_lock(d);
        long rc = v->initialised ? 0 : -XEN_EINVAL;
        if (!rc && v->state == VCPU_OFFLINE) {
            vcpu_bring_up(v);
            vcpu_restart_periodic(v);
        }
        domain_unlock(d);
        return rc;
    }
    case VCPUOP_down: {
        domain_lock(d);
        bool was_up = v->state != VCPU_OFFLINE;
        if (was_up) {
            vcpu_take_down(v);
            vcpu_timer_remove(v);
        }
        domain_unlock(d);
        /* Off its pCPU before we return, waiting with no lock held (it may
         * be spinning for one); the caller's own leaves on the way out. */
        if (was_up && v != curr)
            vcpu_sleep_sync(v);
        return 0;
    }
    case VCPUOP_is_up:
        return v->state != VCPU_OFFLINE && v->initialised;
    case VCPUOP_get_runstate_info: {
        struct vcpu_runstate_info ri;
        vcpu_get_runstate(v, &ri);
        return copy_to_guest(arg, &ri, sizeof(ri));
    }
    case VCPUOP_set_periodic_timer: {
        struct vcpu_set_periodic_timer p;
        if (copy_from_guest(&p, arg, sizeof(p)))
            return -XEN_EFAULT;
        if (p.period_ns < 1000000ULL)
            return -XEN_EINVAL;
        vcpu_set_periodic(v, p.period_ns);
        return 0;
    }
    case VCPUOP_stop_periodic_timer:
        vcpu_set_periodic(v, 0);
        return 0;
    case VCPUOP_set_singleshot_timer: {
        struct vcpu_set_singleshot_timer s;
        if (v != curr)
            return -XEN_EINVAL;  /* as Xen: only for the calling vCPU */
        if (copy_from_guest(&s, arg, sizeof(s)))
            return -XEN_EFAULT;
        /* VCPU_SSHOTTMR_future "can be ignored by the hypervisor", and Xen
         * does: a deadline in the past fires at once. */
        vcpu_set_singleshot(v, MAX(s.timeout_abs_ns, 1UL));
        timers_run();
        return 0;
    }
    case VCPUOP_stop_singleshot_timer:
        if (v != curr)
            return -XEN_EINVAL;
        vcpu_set_singleshot(v, 0);
        return 0;
    case VCPUOP_register_runstate_memory_area: {
        /* As Xen: any address a guest may use (0 stops the updates; as
         * Xen's access_ok, only where it starts is checked); the runstate
         * is written there at once and at every switch-in, each write
         * fully checked, and one that fails is not an error. */
        struct vcpu_register_runstate_memory_area a;
        if (copy_from_guest(&a, arg, sizeof(a)))
            return -XEN_EFAULT;
        if (!guest_range_ok(a.addr.p, 1))
            return -XEN_EFAULT;
        v->runstate_guest = a.addr.p;
        if (v == curr) {
            vcpu_note_runstate(v);
            runstate_area_update(v);
        } else {
            struct vcpu_runstate_info ri;
            vcpu_get_runstate(v, &ri);
            (void)copy_to_guest(a.addr.p, &ri, sizeof(ri));
        }
        return 0;
    }
    case VCPUOP_register_vcpu_time_memory_area: {
        /* As Xen 4.17: the record must start at a guest address (as its
         * access_ok, only the start is checked; -EFAULT; 0 stops the
         * updates), then it is written at once and at every update of the
         * vCPU's time, each write fully checked. */
        struct vcpu_register_time_memory_area a;
        if (copy_from_guest(&a, arg, sizeof(a)))
            return -XEN_EFAULT;
        if (!guest_range_ok(a.addr.p, 1))
            return -XEN_EFAULT;
        __atomic_store_n(&v->time_guest, a.addr.p, __ATOMIC_RELAXED);
        update_vcpu_time(v);
        if (v == curr)
            time_area_update(v);
        return 0;
    }
    case VCPUOP_register_vcpu_info: {
        struct vcpu_register_vcpu_info r;
        if (copy_from_guest(&r, arg, sizeof(r)))
            return -XEN_EFAULT;
        return vcpu_register_vcpu_info(v, &r);
    }
    case VCPUOP_send_nmi:
        return pv_vcpu_send_nmi(v, arg);
    default:
        return -XEN_ENOSYS;
    }
}

/* VCPUOP_register_vcpu_info with r->mfn a machine frame (a PVH guest's
 * GFN is looked up in its p2m first: hv/hvm/vcpu_areas.c). */
long vcpu_register_vcpu_info(struct vcpu *v, const struct vcpu_register_vcpu_info *r)
{
    if (r->offset > PAGE_SIZE - sizeof(vcpu_info_t))
        return -XEN_ENXIO;   /* as Xen: it would cross the page */
    struct domain *d = v->domain;
    domain_lock(d);
    long rc = register_vcpu_info_locked(v, current_vcpu(), r);
    domain_unlock(d);
    return rc;
}

static long register_vcpu_info_locked(struct vcpu *v, struct vcpu *curr,
                                      const struct vcpu_register_vcpu_info *rp)
{
    struct domain *d = v->domain;
    struct vcpu_register_vcpu_info r = *rp;
    {
        if (v->vcpu_info_registered || (r.offset & 7))
            return -XEN_EINVAL;
        if (v != curr && v->state != VCPU_OFFLINE)
            return -XEN_EINVAL;  /* yourself, or a vCPU that is down */
        /* As Xen: a general and a writable type reference for as long as
         * it is registered, so the frame can neither become a page table
         * nor go back to the allocator while the hypervisor writes it. */
        if (r.mfn >= max_pfn || !get_page(r.mfn, d))
            return -XEN_EINVAL;
        if (get_page_type(r.mfn, PGT_WRITABLE, d)) {
            put_page(r.mfn);
            return -XEN_EINVAL;  /* a page table, or otherwise typed */
        }
        v->vcpu_info_mfn = r.mfn;
        vcpu_info_t *n = (vcpu_info_t *)((char *)pfn_to_virt(r.mfn) + r.offset);
        memcpy(n, v->vcpu_info, sizeof(*n));
        v->vcpu_info = n;
        v->vcpu_info_registered = true;
        /* As Xen: mark everything pending so no event is lost in the move. */
        n->evtchn_upcall_pending = 1;
        n->evtchn_pending_sel = ~(xen_ulong_t)0;
        update_vcpu_time(v);
        return 0;
    }
}
