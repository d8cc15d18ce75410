/*
 * The x86 side of vCPUs (arch_domain.h): the hypervisor stack with the
 * guest frame at its top, the FPU image and debug registers every x86
 * vCPU has.  The context-switch hooks are inline, on the hot path, in
 * arch_switch.h.  What depends on the guest type (PV today) is in
 * hv/pv/domain.c.
 */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "pv.h"
#include "xstate.h"
#include "hvm.h"
#include <xen/errno.h>

int arch_vcpu_create(struct vcpu *v)
{
    struct arch_vcpu *a = &v->arch;
    a->stack = alloc_hv_pages(STACK_ORDER);
    if (!a->stack)
        return -XEN_ENOMEM;
    /* The guest frame sits at the top, with room for the (unused in
     * 64-bit mode) es/ds/fs/gs fields above ss. */
    unsigned long top = (unsigned long)a->stack + STACK_SIZE;
    a->regs = (struct cpu_user_regs *)(top - sizeof(struct cpu_user_regs));
    a->frame_top = (unsigned long)&a->regs->es;
    /* First switch: pop six callee-saved registers, "return" into
     * vcpu_first_entry, which releases the lock and leaves to the guest. */
    unsigned long *sp = (unsigned long *)a->regs;
    *--sp = (unsigned long)vcpu_first_entry;
    for (int i = 0; i < 6; i++)
        *--sp = 0;
    a->ctx_rsp = (unsigned long)sp;
    /* Clean FPU/SSE state (FCW 0x37f, MXCSR 0x1f80) in its own page,
     * XCR0 x87|SSE as Xen starts a vCPU (0 on a host without XSAVE). */
    a->fpu = alloc_hv_pages(0);
    if (!a->fpu) {
        free_hv_pages(a->stack, STACK_ORDER);
        a->stack = NULL;
        return -XEN_ENOMEM;
    }
    xstate_area_init_zeroed(a->fpu);       /* alloc_hv_pages zeroed it */
    a->xcr0 = xstate_on ? XSTATE_FP_SSE : 0;
    int rc;
    if (v->domain->arch.type == GUEST_PVH) {
        /* Its hypervisor stack runs the VMRUN loop (hv/hvm/svm.c). */
        sp[6] = (unsigned long)hvm_first_entry;
        rc = hvm_vcpu_create(v);
    } else {
        rc = pv_vcpu_create(v);
    }
    if (rc) {
        free_hv_pages(a->fpu, 0);
        free_hv_pages(a->stack, STACK_ORDER);
        a->fpu = NULL;
        a->stack = NULL;
    }
    return rc;
}

void arch_vcpu_destroy(struct vcpu *v)
{
    if (v->domain->arch.type == GUEST_PVH)
        hvm_vcpu_destroy(v);
    else
        pv_vcpu_destroy(v);
    free_hv_pages(v->arch.fpu, 0);
    free_hv_pages(v->arch.stack, STACK_ORDER);
}

/* A PVH vCPU's state is its VMCB: the PV context does not describe it
 * (Xen uses the HVM context records for it; not here yet). */
long arch_set_info_guest(struct vcpu *v, const struct vcpu_guest_context *c)
{
    if (v->domain->arch.type == GUEST_PVH)
        return -XEN_EOPNOTSUPP;
    return pv_set_info_guest(v, c);
}

void arch_get_info_guest(struct vcpu *v, struct vcpu_guest_context *c)
{
    if (v->domain->arch.type == GUEST_PVH) {
        memset(c, 0, sizeof(*c));
        return;
    }
    pv_get_info_guest(v, c);
}
