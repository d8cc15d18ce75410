/*
 * The x86 side of vCPUs (arch_domain.h): the hypervisor stack with the
 * guest frame at its top, the FPU image and debug registers every x86
 * vCPU has, and the context-switch hooks the scheduler calls.  What
 * depends on the guest type (PV today) is in hv/pv/domain.c.
 */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "pv.h"
#include "flushtlb.h"
#include "apic.h"
#include <xen/errno.h>

extern uint64_t idle_cr3;

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
    /* Clean FPU/SSE state: FCW 0x37f, MXCSR 0x1f80. */
    a->fpu[0] = 0x7f;
    a->fpu[1] = 0x03;
    uint32_t mxcsr = 0x1f80;
    memcpy(&a->fpu[24], &mxcsr, 4);
    int rc = pv_vcpu_create(v);
    if (rc) {
        free_hv_pages(a->stack, STACK_ORDER);
        a->stack = NULL;
    }
    return rc;
}

void arch_vcpu_destroy(struct vcpu *v)
{
    pv_vcpu_destroy(v);
    free_hv_pages(v->arch.stack, STACK_ORDER);
}

void arch_ctxt_switch_from(struct vcpu *prev)
{
    __asm__ volatile("clts");
    __asm__ volatile("fxsave64 %0" : "=m"(prev->arch.fpu));
    if (prev->arch.dr[7] & 0xff)
        __asm__ volatile("mov %0, %%db7" :: "r"(0UL));
    pv_ctxt_switch_from(prev);
}

void arch_ctxt_switch_to(struct vcpu *next)
{
#ifdef KEEL_DEBUG
    struct pcpu *pc = this_cpu();
    struct domain *from = pc->curr->domain;
    uint64_t flushes = pc->global_flushes;
#endif
    __asm__ volatile("clts");
    __asm__ volatile("fxrstor64 %0" :: "m"(next->arch.fpu));
    if (next->arch.dr[7] & 0xff)
        load_debugregs(next);
    pv_ctxt_switch_to(next);
    set_guest_stack(next->arch.frame_top);
#ifdef KEEL_DEBUG
    /* Self-check: a switch between domains drops every translation of
     * the one before, global entries included (docs/memory.md). */
    if (pc->global_flushes != flushes + 1)
        panic("sched: switch from d%d to d%u without a global flush",
              from ? from->id : -1, next->domain->id);
#endif
}

void arch_ctxt_switch_to_idle(void)
{
    switch_cr3(idle_cr3);
}

void arch_switch_stack(struct vcpu *prev, struct vcpu *next)
{
    context_switch(&prev->arch.ctx_rsp, next->arch.ctx_rsp);
}

long arch_set_info_guest(struct vcpu *v, const struct vcpu_guest_context *c)
{
    return pv_set_info_guest(v, c);
}

void arch_get_info_guest(struct vcpu *v, struct vcpu_guest_context *c)
{
    pv_get_info_guest(v, c);
}
