/*
 * The PV side of vCPUs (arch_domain.h): the trap table and callbacks a
 * PV guest registers, its segment bases and virtual CR0.TS, its page
 * tables as CR3, and vcpu_guest_context in and out, as Xen's
 * arch_set_info_guest()/arch_get_info_guest() do for a 64-bit PV vCPU.
 */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "pv.h"
#include "xstate.h"
#include <xen/errno.h>
#include <xen/vcpu.h>

int pv_vcpu_create(struct vcpu *v)
{
    v->arch.pv.trap_ctxt = alloc_hv_pages(0);
    return v->arch.pv.trap_ctxt ? 0 : -XEN_ENOMEM;
}

void pv_vcpu_destroy(struct vcpu *v)
{
    pv_ldt_free(v);
    free_hv_pages(v->arch.pv.trap_ctxt, 0);
    v->arch.pv.trap_ctxt = NULL;
}

static bool canonical(unsigned long a)
{
    return a < 0x0000800000000000UL || a >= 0xFFFF800000000000UL;
}

/* Xen's __addr_ok: an address outside the hypervisor's range. */
static bool addr_ok(unsigned long a)
{
    return a < (1UL << 47) || a >= HV_VIRT_END;
}

/* Xen's fixup_guest_code/stack_selector for a 64-bit guest: an RPL below
 * 3 (the guest kernel's) is raised to 3. */
static uint16_t fixup_sel(uint16_t sel)
{
    return (sel & 3) == 3 ? sel : (uint16_t)(sel | 3);
}

/*
 * Checks a vcpu_guest_context and loads it into v (which is not running),
 * as Xen 4.17's arch_set_info_guest for a 64-bit PV vCPU: -EINVAL for a
 * non-canonical rip, rsp, kernel_sp, FS/GS base, callback or trap-table
 * address (any canonical one is taken: one in the hypervisor's range just
 * faults in the guest), an LDT base in the hypervisor's range (with or
 * without entries), not page aligned or with more than 8192 entries, more
 * than 16 GDT frames, VMASST types a 64-bit guest may not have (vCPU 0),
 * or user mode without a user base table; then the checks of set_gdt,
 * SET_LDT and the base tables.  The vCPU starts on the context's CS and
 * SS (RPL raised to 3) and with its ds, es, fs and gs: a pair the return
 * cannot load gets the guest the fault its iretq would raise, a data
 * selector that does not load the failsafe callback, both on its first
 * way out (traps.c), as on Xen.
 */
long pv_set_info_guest(struct vcpu *v, const struct vcpu_guest_context *c)
{
    struct domain *d = v->domain;
    uint64_t l4 = xen_cr3_to_pfn(c->ctrlreg[3]);
    if (l4 >= max_pfn || frame_table[l4].owner != d->id)
        return -XEN_EINVAL;      /* cr3 must be one of d's frames */
    const struct cpu_user_regs *u = &c->user_regs;
    if (!canonical(u->rip) || !canonical(u->rsp) || !canonical(c->kernel_sp) ||
        (c->ldt_ents && !canonical(c->ldt_base)) || !canonical(c->fs_base) ||
        !canonical(c->gs_base_kernel) || !canonical(c->gs_base_user) ||
        !canonical(c->event_callback_eip) || !canonical(c->syscall_callback_eip) ||
        !canonical(c->failsafe_callback_eip))
        return -XEN_EINVAL;
    for (unsigned i = 0; i < 256; i++)
        if (!canonical(c->trap_ctxt[i].address))
            return -XEN_EINVAL;
    if (!addr_ok(c->ldt_base) || (c->ldt_base & (PAGE_SIZE - 1)) || c->ldt_ents > 8192)
        return -XEN_EINVAL;
    if (v->id == 0 && (c->vm_assist & ~PV64_VM_ASSIST_MASK))
        return -XEN_EINVAL;
    /* As Xen: the GDT at most its 16 frames (pv_set_gdt checks the rest). */
    if ((c->gdt_ents + 511) / 512 > 16)
        return -XEN_EINVAL;
    /* As Xen: a vCPU may start in guest user mode, on the user base table
     * in ctrlreg[1] (which it must then have). */
    bool in_kernel = c->flags & VGCF_in_kernel;
    uint64_t l4u = c->ctrlreg[1] ? xen_cr3_to_pfn(c->ctrlreg[1]) : 0;
    if (!in_kernel && !l4u)
        return -XEN_EINVAL;
    /* As Xen: vCPU 0's first context sets the domain's VMASST types. */
    if (v->id == 0 && !v->initialised)
        __atomic_store_n(&d->vm_assist, c->vm_assist, __ATOMIC_RELEASE);
    long rc = pv_set_base(v, l4);   /* validates it as an L4, takes refs */
    if (rc)
        return rc;
    rc = pv_set_user_base(v, l4u);
    if (rc)
        return rc;
    rc = pv_set_gdt(v, c->gdt_frames, c->gdt_ents);
    if (rc)
        return rc;
    rc = pv_set_ldt(v, c->ldt_base, c->ldt_ents);
    if (rc)
        return rc;
    v->arch.pv.user_mode = !in_kernel;

    /* All checked: load it. */
    struct cpu_user_regs *r = v->arch.regs;
    uint32_t vec = r->entry_vector;
    memcpy(r, u, offsetof(struct cpu_user_regs, error_code));
    r->entry_vector = vec;
    r->rip = u->rip;
    r->rsp = u->rsp;
    r->rflags = (u->rflags & ~0x3000UL) | X86_EFLAGS_IF | 2;
    r->cs = fixup_sel(u->cs);
    r->ss = fixup_sel(u->ss);
    /* The data selectors, loaded at its switch-in (descriptor.c): a vCPU
     * that names any, or other segments than the flat ones, uses segments
     * of its own from the start. */
    v->arch.pv.sel[0] = u->ds;
    v->arch.pv.sel[1] = u->es;
    v->arch.pv.sel[2] = u->fs;
    v->arch.pv.sel[3] = u->gs;
    v->arch.pv.failsafe_pending = false;
    if (((u->ds | u->es | u->fs | u->gs) & ~3) || r->cs != SEL_GUEST_CS64 ||
        r->ss != SEL_GUEST_DS)
        v->arch.pv.own_segments = true;
    memset(v->arch.pv.trap_ctxt, 0, PAGE_SIZE);
    for (unsigned i = 0; i < 256; i++) {
        if (c->trap_ctxt[i].address) {
            v->arch.pv.trap_ctxt[c->trap_ctxt[i].vector] = c->trap_ctxt[i];
            if ((v->arch.pv.trap_ctxt[c->trap_ctxt[i].vector].cs & 3) == 0)
                v->arch.pv.trap_ctxt[c->trap_ctxt[i].vector].cs = FLAT_KERNEL_CS;
        }
    }
    v->arch.pv.event_callback = c->event_callback_eip;
    v->arch.pv.failsafe_callback = c->failsafe_callback_eip;
    v->arch.pv.syscall_callback = c->syscall_callback_eip;
    v->arch.pv.failsafe_mask_events = c->flags & VGCF_failsafe_disables_events;
    v->arch.pv.syscall_mask_events = c->flags & VGCF_syscall_disables_events;
    v->arch.pv.kernel_ss = fixup_sel((uint16_t)c->kernel_ss);
    v->arch.pv.kernel_sp = c->kernel_sp;
    v->arch.pv.fs_base = c->fs_base;
    v->arch.pv.gs_base_kernel = c->gs_base_kernel;
    v->arch.pv.gs_base_user = c->gs_base_user;
    /* As Xen: the I/O privilege comes in rflags, CR2 and the guest's CR4
     * bits in ctrlreg[] (emulate.c reads them). */
    v->arch.pv.iopl = (u->rflags >> 12) & 3;
    v->arch.pv.cr2 = c->ctrlreg[2];
    v->arch.pv.cr4 = c->ctrlreg[4] & pv_cr4_guest_mask();
    pv_extra_note(v);                    /* loaded at its next switch-in */
    if (c->flags & VGCF_i387_valid) {
        /* As Xen: the FXSAVE image is the x87 and SSE state, every other
         * component at its reset value. */
        memcpy(v->arch.fpu, &c->fpu_ctxt, sizeof(c->fpu_ctxt));
        *xstate_bv(v->arch.fpu) = XSTATE_FP_SSE;
        /* An MXCSR the CPU refuses would make FXRSTOR/XRSTOR fault here:
         * the state Xen falls back to when its restore faults instead,
         * every component at reset and the MXCSR's valid bits. */
        uint32_t mxcsr;
        memcpy(&mxcsr, v->arch.fpu + 24, 4);
        if (mxcsr & ~xstate_mxcsr_mask) {
            xstate_area_init(v->arch.fpu);
            mxcsr &= xstate_mxcsr_mask;
            memcpy(v->arch.fpu + 24, &mxcsr, 4);
        }
    }
    return 0;
}


void pv_switch_extra(struct vcpu *next, struct pcpu *pc)
{
    if (cpu_has_tsc_aux && pc->tsc_aux != next->arch.pv.tsc_aux) {
        pc->tsc_aux = next->arch.pv.tsc_aux;
        wrmsr(MSR_TSC_AUX, next->arch.pv.tsc_aux);
    }
    bool want = next->arch.pv.cr4 & X86_CR4_FSGSBASE;
    if (pc->fsgsbase != want) {
        pc->fsgsbase = want;
        write_cr4(want ? read_cr4() | X86_CR4_FSGSBASE : read_cr4() & ~X86_CR4_FSGSBASE);
    }
    pc->extra = pc->tsc_aux || pc->fsgsbase;
}

/* Xen's arch_get_info_guest() for a 64-bit PV vCPU. */
void pv_get_info_guest(struct vcpu *v, struct vcpu_guest_context *c)
{
    struct domain *d = v->domain;
    if (v == current_vcpu())
        pv_bases_sync(v);                /* FSGSBASE: the live ones */
    memset(c, 0, sizeof(*c));
    memcpy(&c->fpu_ctxt, v->arch.fpu, sizeof(c->fpu_ctxt));
    if (v->arch.xcr0 & XSTATE_SSE) {
        /* Saved with XSAVE (arch_switch.h): a component XSAVE found at its
         * reset value may not have been written; give the reset value. */
        uint64_t bv = *xstate_bv(v->arch.fpu);
        uint8_t *f = (uint8_t *)&c->fpu_ctxt;
        if (!(bv & XSTATE_FP)) {
            memset(f, 0, 24);
            memset(f + 32, 0, 128);
            f[0] = 0x7f;
            f[1] = 0x03;
        }
        if (!(bv & XSTATE_SSE))
            memset(f + 160, 0, 256);
    }
    c->flags = VGCF_i387_valid | (v->arch.pv.user_mode ? 0 : VGCF_in_kernel) |
               (vcpu_down(v) ? 0 : VGCF_online) |
               (v->arch.pv.failsafe_mask_events ? VGCF_failsafe_disables_events : 0) |
               (v->arch.pv.syscall_mask_events ? VGCF_syscall_disables_events : 0);
    c->user_regs = *v->arch.regs;
    if (v->arch.pv.own_segments) {   /* as saved at its switch-out */
        c->user_regs.ds = v->arch.pv.sel[0];
        c->user_regs.es = v->arch.pv.sel[1];
        c->user_regs.fs = v->arch.pv.sel[2];
        c->user_regs.gs = v->arch.pv.sel[3];
    } else {
        c->user_regs.ds = c->user_regs.es = c->user_regs.fs = c->user_regs.gs = 0;
    }
    c->vm_assist = __atomic_load_n(&d->vm_assist, __ATOMIC_ACQUIRE);
    memcpy(c->trap_ctxt, v->arch.pv.trap_ctxt, sizeof(c->trap_ctxt));
    c->kernel_ss = v->arch.pv.kernel_ss;
    c->kernel_sp = v->arch.pv.kernel_sp;
    c->ctrlreg[0] = (read_cr0() & ~X86_CR0_TS) | (v->arch.pv.fpu_ts ? X86_CR0_TS : 0);
    uint64_t cr3 = v->arch.pv.cr3 ? v->arch.pv.cr3 : d->arch.pv.cr3;
    c->ctrlreg[3] = xen_pfn_to_cr3(cr3 >> PAGE_SHIFT);
    c->gdt_ents = v->arch.pv.gdt_ents;
    c->ldt_base = v->arch.pv.ldt_base;
    c->ldt_ents = v->arch.pv.ldt_ents;
    for (unsigned i = 0; i * 512 < v->arch.pv.gdt_ents; i++)
        c->gdt_frames[i] = v->arch.pv.gdt_frames[i];
    c->ctrlreg[1] = v->arch.pv.cr3_user ? xen_pfn_to_cr3(v->arch.pv.cr3_user >> PAGE_SHIFT) : 0;
    c->ctrlreg[4] = (read_cr4() & (X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT | (1UL << 5) /* PAE */)) |
                    v->arch.pv.cr4;
    c->ctrlreg[2] = v->arch.pv.cr2;
    c->user_regs.rflags |= (unsigned long)v->arch.pv.iopl << 12;
    for (unsigned i = 0; i < 8; i++)
        c->debugreg[i] = v->arch.dr[i];
    c->event_callback_eip = v->arch.pv.event_callback;
    c->failsafe_callback_eip = v->arch.pv.failsafe_callback;
    c->syscall_callback_eip = v->arch.pv.syscall_callback;
    c->fs_base = v->arch.pv.fs_base;
    c->gs_base_kernel = v->arch.pv.gs_base_kernel;
    c->gs_base_user = v->arch.pv.gs_base_user;
}

