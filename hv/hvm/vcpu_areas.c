/*
 * The per-vCPU areas a PVH guest names (docs/hvm.md, "vCPU areas"):
 * VCPUOP_register_vcpu_info names its frame by GFN (as Xen's for a
 * translated guest), looked up in the p2m and then registered as a PV
 * guest's machine frame is (the same checks and references: a frame that
 * is not the domain's RAM, shared_info's or a grant frame included, is
 * -EINVAL); and the runstate and time areas, at guest virtual addresses,
 * are written before a VMRUN into its kernel (CPL 0), as on a PV guest's
 * way out to its kernel.
 */
#include "lib.h"
#include "domain.h"
#include "sched.h"
#include "timer.h"
#include "hvm.h"
#include "hvm_internal.h"
#include "guest_access.h"
#include "vmcb.h"
#include <xen/vcpu.h>

long hvm_register_vcpu_info(struct vcpu *curr, unsigned long vcpuid, unsigned long arg)
{
    struct domain *d = curr->domain;
    if (vcpuid >= d->nr_vcpus || !d->vcpu[vcpuid])
        return -XEN_ENOENT;
    struct vcpu_register_vcpu_info r;
    if (hvm_copy_from_guest(&r, arg, sizeof(r)))
        return -XEN_EFAULT;
    if (r.mfn >= d->arch.hvm.nr_gfns)
        return -XEN_EINVAL;
    /* Its RAM only: not where add_to_physmap put shared_info or a grant
     * frame (as Xen wants a writable RAM page there). */
    const struct hvm_domain *h = &d->arch.hvm;
    if (h->si_ram_mfn && h->si_gfn == r.mfn)
        return -XEN_EINVAL;
    for (unsigned i = 0; i < HVM_GT_FRAMES; i++)
        if (h->gt_ram_mfn[i] && h->gt_gfn[i] == r.mfn)
            return -XEN_EINVAL;
    uint64_t mfn = hvm_p2m_lookup(d, r.mfn);
    if (mfn == ~0ULL)
        return -XEN_EINVAL;
    r.mfn = mfn;
    return vcpu_register_vcpu_info(d->vcpu[vcpuid], &r);
}

void hvm_guest_areas(struct vcpu *v)
{
    if (v->arch.hvm.vmcb[VMCB_CPL] != 0)
        return;
    if (v->runstate_pending)
        runstate_area_update(v);
    if (__atomic_load_n(&v->time_pending, __ATOMIC_ACQUIRE))
        time_area_update(v);
}
