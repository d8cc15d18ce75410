/*
 * The context-switch hooks (arch_domain.h), inline because every switch
 * runs them: the scheduler (common/sched.c) calls
 * arch_ctxt_switch_from(prev), then arch_ctxt_switch_to(next) or
 * arch_ctxt_switch_to_idle(), then arch_switch_stack(prev, next), with
 * interrupts off.  The x86 part saves and loads what every x86 vCPU has
 * (FPU, debug registers, the TSS stack); the PV part its segment bases,
 * virtual CR0.TS and page tables.  A PVH vCPU (hv/hvm/) has its segments,
 * control registers and page tables in its VMCB (VMLOAD/VMSAVE around
 * each VMRUN): the hypervisor runs on the idle tables meanwhile.
 */
#ifndef KEEL_ARCH_SWITCH_H
#define KEEL_ARCH_SWITCH_H

#include "lib.h"
#include "x86.h"
#include "domain.h"
#include "apic.h"
#include "flushtlb.h"
#include "pv.h"
#include "xstate.h"

extern uint64_t idle_cr3;

/* PV: the hypervisor keeps the bases and CR0.TS current in the vCPU
 * (set_segment_base, fpu_taskswitch), so nothing is read back, except for
 * a vCPU that uses segments of its own (own_segments: selectors and bases
 * saved, descriptor.c). */
static inline void pv_ctxt_switch_from(struct vcpu *prev)
{
    if (prev->arch.pv.own_segments)
        pv_segments_save(prev);
    else
        pv_bases_sync(prev);             /* FSGSBASE: they may have changed */
}

static inline void pv_ctxt_switch_to(struct vcpu *next, struct pcpu *pc)
{
    if (next->arch.pv.fpu_ts)
        write_cr0(read_cr0() | X86_CR0_TS);
    if (next->arch.pv.extra | pc->extra)
        pv_switch_extra(next, pc);     /* TSC_AUX, CR4.FSGSBASE */
    switch_cr3(pv_active_cr3(next));   /* the user table in guest user mode */
    if (next->arch.pv.own_segments | pv_segs_loaded[this_cpu()->id])
        pv_segments_load(next);        /* GDT entries, LDT, selectors, or none */
    wrmsr(MSR_FS_BASE, next->arch.pv.fs_base);
    wrmsr(MSR_KERNEL_GS_BASE, next->arch.pv.user_mode ? next->arch.pv.gs_base_user :
                                                         next->arch.pv.gs_base_kernel);
}

static inline void arch_ctxt_switch_from(struct vcpu *prev)
{
    __asm__ volatile("clts");
    /* XSAVE of the components of prev's XCR0, which the hardware's is;
     * FXSAVE without XSAVE (XCR0 0) or with x87 alone, so that the SSE
     * registers are always kept, as Xen does. */
    if (prev->arch.xcr0 & XSTATE_SSE)
        xsave_mask(prev->arch.fpu, prev->arch.xcr0);
    else
        __asm__ volatile("fxsave64 (%0)" :: "r"(prev->arch.fpu) : "memory");
    if (prev->arch.dr[7] & 0xff)
        __asm__ volatile("mov %0, %%db7" :: "r"(0UL));
    if (prev->domain->arch.type == GUEST_PV) {
        pv_ctxt_switch_from(prev);
    } else {
        /* PVH: VMSAVE after each run holds its segment state and the
         * VMCB its DR6/DR7; DR0-3 are the CPU's, which it writes itself. */
        __asm__ volatile("mov %%db0, %0" : "=r"(prev->arch.dr[0]));
        __asm__ volatile("mov %%db1, %0" : "=r"(prev->arch.dr[1]));
        __asm__ volatile("mov %%db2, %0" : "=r"(prev->arch.dr[2]));
        __asm__ volatile("mov %%db3, %0" : "=r"(prev->arch.dr[3]));
    }
}

static inline void arch_ctxt_switch_to(struct vcpu *next)
{
    struct pcpu *pc = this_cpu();
#ifdef KEEL_DEBUG
    struct domain *from = pc->curr->domain;
    uint64_t flushes = pc->global_flushes;
#endif
    __asm__ volatile("clts");
    uint64_t xcr0 = next->arch.xcr0;
    if (xcr0 && pc->xcr0 != xcr0) {  /* XSAVE: load XCR0 only when it changes */
        pc->xcr0 = xcr0;
        xsetbv0(xcr0);
    }
    if (xcr0 & XSTATE_SSE)          /* as it was saved (arch_ctxt_switch_from) */
        xrstor_mask(next->arch.fpu, xcr0);
    else
        __asm__ volatile("fxrstor64 (%0)" :: "r"(next->arch.fpu) : "memory");
    if (next->arch.dr[7] & 0xff)
        load_debugregs(next);
    if (next->domain->arch.type == GUEST_PV) {
        pv_ctxt_switch_to(next, pc);
    } else {
        switch_cr3(idle_cr3);          /* PVH: the hypervisor's own tables; the guest's are in its VMCB */
        if (pc->tsc_aux) {             /* RDPID is not intercepted: no PV vCPU's TSC_AUX */
            wrmsr(MSR_TSC_AUX, 0);
            pc->tsc_aux = 0;
            pc->extra = pc->fsgsbase;
        }
        __asm__ volatile("mov %0, %%db0" :: "r"(next->arch.dr[0]));
        __asm__ volatile("mov %0, %%db1" :: "r"(next->arch.dr[1]));
        __asm__ volatile("mov %0, %%db2" :: "r"(next->arch.dr[2]));
        __asm__ volatile("mov %0, %%db3" :: "r"(next->arch.dr[3]));
    }
    set_guest_stack(next->arch.frame_top);
#ifdef KEEL_DEBUG
    /* Self-check: a switch between domains drops every translation of
     * the one before, global entries included (docs/memory.md). */
    if (pc->global_flushes != flushes + 1)
        panic("sched: switch from d%d to d%u without a global flush",
              from ? from->id : -1, next->domain->id);
#endif
}

static inline void arch_ctxt_switch_to_idle(void)
{
    switch_cr3(idle_cr3);
}

static inline void arch_switch_stack(struct vcpu *prev, struct vcpu *next)
{
    context_switch(&prev->arch.ctx_rsp, next->arch.ctx_rsp);
}

#endif
