/*
 * Guest user mode for 64-bit PV guests, as Xen 4.17 gives it: the guest
 * kernel and its processes both run in ring 3, told apart by the
 * hypervisor.  Each vCPU has a second base table, the user one
 * (MMUEXT_NEW_USER_BASEPTR), which holds the process's mappings and the
 * hypervisor's slots but not the kernel's; the vCPU toggles between the
 * two, with the GS bases, when it irets to user mode and whenever user
 * mode enters the kernel (a syscall, an exception, an event upcall:
 * bounce() in traps.c).  A syscall from user mode is not a hypercall: it
 * enters the kernel's syscall callback with Xen's bounce frame.
 *
 * Everything here changes the running vCPU's own state only, on its own
 * pCPU, so it needs no lock (docs/locking.md).
 */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "hypercall.h"
#include "flushtlb.h"
#include "pv.h"
#include <xen/errno.h>

/* MMUEXT_NEW_USER_BASEPTR: mfn becomes v's user base table (an L4 of its
 * domain, validated and referenced as the kernel base is), or with 0 v has
 * none.  As Xen: naming the current one again does nothing; a frame that
 * is not the domain's or cannot be an L4 -EINVAL.  Runs in guest kernel
 * mode (a hypercall), so the table is not the one in use. */
long pv_set_user_base(struct vcpu *v, uint64_t mfn)
{
    struct domain *d = v->domain;
    uint64_t old = v->arch.pv.cr3_user >> PAGE_SHIFT;
    if (mfn == old)
        return 0;
    if (mfn) {
        if (mfn >= max_pfn || !get_page(mfn, d))
            return -XEN_EINVAL;
        long rc = get_page_type(mfn, PGT_L4, d);
        if (rc) {
            put_page(mfn);
            return rc;
        }
        pv_ro_m2p_zap(d, mfn);       /* under VMASST_TYPE_m2p_strict, as Xen */
    }
    v->arch.pv.cr3_user = mfn << PAGE_SHIFT;
    if (mfn)
        v->arch.pv.own_segments = true;  /* user code may load selectors */
    if (old) {
        put_page_type(old);
        put_page(old);
    }
    return 0;
}

/* Drops the user bases of d's vCPUs (the domain is being destroyed). */
void pv_drop_user_bases(struct domain *d)
{
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = d->vcpu[i];
        if (v && v->arch.pv.cr3_user) {
            uint64_t m = v->arch.pv.cr3_user >> PAGE_SHIFT;
            v->arch.pv.cr3_user = 0;
            v->arch.pv.user_mode = false;
            put_page_type(m);
            put_page(m);
        }
    }
}

/*
 * Xen's toggle_guest_mode for the running vCPU: the GS base of the mode it
 * leaves is read back (the guest may have changed it by loading %gs), the
 * other mode's is loaded, and the other base table.  In the hypervisor the
 * guest's active GS base is in MSR_KERNEL_GS_BASE (our own %gs is the
 * per-CPU area; the entry path swaps them).  The CR3 load is a plain one,
 * as Xen's: it drops the kernel's non-global mappings and keeps the global
 * user ones, which both tables map alike (pv_adjust_entry).
 */
void pv_toggle_guest_mode(struct vcpu *v)
{
    struct pv_vcpu *pv = &v->arch.pv;
    unsigned long gs = rdmsr(MSR_KERNEL_GS_BASE);
    if (pv->user_mode)
        pv->gs_base_user = gs;
    else
        pv->gs_base_kernel = gs;
    pv->user_mode = !pv->user_mode;
    wrmsr(MSR_KERNEL_GS_BASE, pv->user_mode ? pv->gs_base_user : pv->gs_base_kernel);
    write_cr3(pv_active_cr3(v));
}

/*
 * A `syscall` that enters the guest kernel, as Xen's switch_to_kernel: a
 * 64-bit one from guest user mode (hypercall_dispatch), or any one from
 * compatibility mode (pv_syscall32_dispatch).  The kernel's syscall (or
 * syscall32) callback is entered with the frame { rcx, r11, rip, cs,
 * rflags, rsp, ss } on the kernel stack (rcx and r11 as the instruction
 * left them: the return address and the flags), events masked if the
 * callback was registered so, DF clear.  With no callback: #UD at the
 * syscall instruction, through the trap table.  No lock held.
 */
static void syscall_bounce(struct vcpu *v, struct cpu_user_regs *r, bool compat)
{
    unsigned long cb = compat ? v->arch.pv.syscall32_callback : v->arch.pv.syscall_callback;
    bool mask = compat ? v->arch.pv.syscall32_mask_events : v->arch.pv.syscall_mask_events;
    if (!cb) {
        r->rip -= 2;
        pv_inject_exception(v, 6, 0, 0);
        return;
    }
    if (!pv_bounce(v, cb, false, 0, mask)) {
        domain_crash(v->domain, "syscall: guest kernel stack unusable (kernel_sp %lx)",
                     v->arch.pv.kernel_sp);
        return;
    }
    r->rflags &= ~(1UL << 10);   /* DF */
}

void pv_user_syscall(struct vcpu *v, struct cpu_user_regs *r)
{
    syscall_bounce(v, r, false);
}

/* `syscall` in compatibility mode (MSR_CSTAR, entry.S): never a
 * hypercall, in either guest mode. */
void pv_syscall32_dispatch(struct cpu_user_regs *r)
{
    syscall_bounce(current_vcpu(), r, true);
    pv_exit_to_guest();
}
