/* PV traps and callbacks: set_trap_table, set_callbacks/callback_op, iret,
 * stack_switch, fpu_taskswitch, set_segment_base, debug registers, and
 * bouncing exceptions and event upcalls into the guest's handlers with the
 * frame layout Xen uses on x86_64. */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "hypercall.h"
#include "pv.h"
#include "timer.h"
#include <xen/callback.h>
#include <xen/xen.h>
#include <xen/nmi.h>

static bool canonical(unsigned long a)
{
    return a < 0x0000800000000000UL || a >= 0xFFFF800000000000UL;
}

/* A code address a guest may name as a handler: any canonical address, as
 * Xen accepts.  A handler in the hypervisor's range is not a pointer we
 * dereference: delivering there makes the guest fault on the fetch, which
 * is bounced (or crashes the guest) like any other fault. */
static bool guest_code_ok(unsigned long a)
{
    return canonical(a);
}

long do_set_trap_table(unsigned long list, unsigned long a2, unsigned long a3,
                       unsigned long a4, unsigned long a5)
{
    (void)a2, (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    if (!list) {
        memset(v->arch.pv.trap_ctxt, 0, PAGE_SIZE);
        return 0;
    }
    /* Decode everything first; nothing changes on an error. */
    struct trap_info t, table[256];
    memcpy(table, v->arch.pv.trap_ctxt, sizeof(table));
    for (unsigned i = 0; ; i++) {
        if (i >= 256 * 4)
            return -XEN_E2BIG;  /* no terminator within a sane length */
        if (copy_from_guest(&t, list + i * sizeof(t), sizeof(t)))
            return -XEN_EFAULT;
        if (t.address == 0)
            break;
        if (!guest_code_ok(t.address))
            return -XEN_EINVAL;
        if ((t.cs & 3) == 0)
            t.cs = FLAT_KERNEL_CS;
        table[t.vector] = t;
    }
    memcpy(v->arch.pv.trap_ctxt, table, sizeof(table));
    return 0;
}

static long register_callback(struct vcpu *v, unsigned type, unsigned flags,
                              unsigned long address)
{
    if (address && !guest_code_ok(address))
        return -XEN_EINVAL;
    bool mask = flags & CALLBACKF_mask_events;
    switch (type) {
    case CALLBACKTYPE_event:
        v->arch.pv.event_callback = address;
        return 0;
    case CALLBACKTYPE_failsafe:
        v->arch.pv.failsafe_callback = address;
        v->arch.pv.failsafe_mask_events = flags & CALLBACKF_mask_events;
        return 0;
    case CALLBACKTYPE_syscall:
        v->arch.pv.syscall_callback = address;
        v->arch.pv.syscall_mask_events = mask;
        return 0;
    case CALLBACKTYPE_syscall32:  /* a `syscall` in compatibility mode */
        v->arch.pv.syscall32_callback = address;
        v->arch.pv.syscall32_mask_events = mask;
        return 0;
    case CALLBACKTYPE_sysenter:   /* recorded: sysenter #GPs, as on Xen without one */
        v->arch.pv.sysenter_callback = address;
        v->arch.pv.sysenter_mask_events = mask;
        return 0;
    case CALLBACKTYPE_nmi: {
        /* As Xen: trap-table entry 2, events masked on entry; address 0
         * (unregister) clears it.  VCPUOP_send_nmi raises a guest NMI
         * (hardware NMIs are never a domU's). */
        struct trap_info *t = &v->arch.pv.trap_ctxt[2];
        memset(t, 0, sizeof(*t));
        if (address) {
            t->vector = 2;
            t->cs = FLAT_KERNEL_CS;
            t->address = address;
            TI_SET_IF(t, 1);
        }
        return 0;
    }
    default:
        return -XEN_ENOSYS;       /* as Xen */
    }
}

long do_set_callbacks(unsigned long event, unsigned long failsafe,
                      unsigned long syscall, unsigned long a4, unsigned long a5)
{
    (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    /* As Xen's do_set_callbacks: each registered on its own, a refused one
     * (not canonical) left as it was, and the call gives 0 whatever. */
    register_callback(v, CALLBACKTYPE_event, 0, event);
    register_callback(v, CALLBACKTYPE_failsafe, 0, failsafe);
    register_callback(v, CALLBACKTYPE_syscall, 0, syscall);
    return 0;
}

long do_callback_op(unsigned long cmd, unsigned long arg, unsigned long a3,
                    unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    switch ((unsigned)cmd) {       /* an int, as Xen's */
    case CALLBACKOP_register: {
        struct callback_register r;
        if (copy_from_guest(&r, arg, sizeof(r)))
            return -XEN_EFAULT;
        return register_callback(v, r.type, r.flags, r.address);
    }
    case CALLBACKOP_unregister: {
        struct callback_unregister u;
        if (copy_from_guest(&u, arg, sizeof(u)))
            return -XEN_EFAULT;
        /* As Xen: only the NMI callback can be removed. */
        if (u.type == CALLBACKTYPE_event || u.type == CALLBACKTYPE_failsafe ||
            u.type == CALLBACKTYPE_syscall || u.type == CALLBACKTYPE_syscall32 ||
            u.type == CALLBACKTYPE_sysenter)
            return -XEN_EINVAL;
        if (u.type == CALLBACKTYPE_nmi)
            return register_callback(v, CALLBACKTYPE_nmi, 0, 0);
        return -XEN_ENOSYS;
    }
    default:
        return -XEN_ENOSYS;
    }
}

/* nmi_op, as Xen's do_nmi_op: the NMI callback of callback_op by its
 * older name (register reads a struct xennmi_callback). */
long do_nmi_op(unsigned long cmd, unsigned long arg, unsigned long a3, unsigned long a4,
               unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    switch ((unsigned)cmd) {
    case XENNMI_register_callback: {
        struct xennmi_callback cb;
        if (copy_from_guest(&cb, arg, sizeof(cb)))
            return -XEN_EFAULT;
        return register_callback(v, CALLBACKTYPE_nmi, 0, cb.handler_address);
    }
    case XENNMI_unregister_callback:
        return register_callback(v, CALLBACKTYPE_nmi, 0, 0);
    default:
        return -XEN_ENOSYS;
    }
}

long do_stack_switch(unsigned long ss, unsigned long sp, unsigned long a3,
                     unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    v->arch.pv.kernel_ss = ss;           /* as Xen: stored, used on user->kernel */
    v->arch.pv.kernel_sp = sp;
    return 0;
}

long do_fpu_taskswitch(unsigned long set, unsigned long a2, unsigned long a3,
                       unsigned long a4, unsigned long a5)
{
    (void)a2, (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    v->arch.pv.fpu_ts = set != 0;
    if (set)
        write_cr0(read_cr0() | X86_CR0_TS);
    else
        __asm__ volatile("clts");
    return 0;
}

long do_set_segment_base(unsigned long which, unsigned long base, unsigned long a3,
                         unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    switch ((unsigned)which) {     /* an unsigned int, as Xen's */
    case SEGBASE_FS:
        if (!canonical(base))
            return -XEN_EINVAL;
        v->arch.pv.fs_base = base;
        wrmsr(MSR_FS_BASE, base);
        return 0;
    case SEGBASE_GS_KERNEL:
        if (!canonical(base))
            return -XEN_EINVAL;
        v->arch.pv.gs_base_kernel = base;
        wrmsr(MSR_KERNEL_GS_BASE, base);   /* becomes GS_BASE after swapgs */
        return 0;
    case SEGBASE_GS_USER:
        if (!canonical(base))
            return -XEN_EINVAL;
        v->arch.pv.gs_base_user = base;    /* loaded on the toggle to user mode */
        return 0;
    case SEGBASE_GS_USER_SEL:
        return pv_set_gs_user_sel(v, base);
    default:
        return -XEN_EINVAL;
    }
}

/* Debug registers: addresses must be guest addresses; DR7 may not enable
 * I/O breakpoints or general detect; reserved bits must be clear. */
long do_set_debugreg(unsigned long reg, unsigned long value, unsigned long a3,
                     unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    /* As Xen's set_debugreg: DR4 and DR5 are DR6 and DR7 while the guest's
     * CR4.DE is clear, else -ENODEV, as is any other number. */
    if ((reg == 4 || reg == 5) && !(v->arch.pv.cr4 & X86_CR4_DE))
        reg += 2;
    switch (reg) {
    case 0: case 1: case 2: case 3:
        if (!guest_range_ok(value, 1))
            return -XEN_EPERM;
        break;
    case 6:
        value = (value & 0xe00f) | 0xffff0ff0;   /* writable bits only */
        break;
    case 7:
        if (value & 0xffffffff00000000UL)
            return -XEN_EINVAL;
        if (value & (1 << 13))                   /* GD */
            return -XEN_EPERM;
        for (unsigned i = 0; i < 4; i++)         /* R/W = 10b: I/O */
            if (((value >> (16 + 4 * i)) & 3) == 2)
                return -XEN_EPERM;
        value = (value & ~0xd800UL) | 0x400;
        break;
    default:
        return -XEN_ENODEV;
    }
    v->arch.dr[reg] = value;
    load_debugregs(v);
    return 0;
}

long do_get_debugreg(unsigned long reg, unsigned long a2, unsigned long a3,
                     unsigned long a4, unsigned long a5)
{
    (void)a2, (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    /* As Xen's x86emul_read_dr: DR4/DR5 alias DR6/DR7 unless CR4.DE;
     * otherwise, and past DR7, -ENODEV. */
    if ((reg == 4 || reg == 5) && !(v->arch.pv.cr4 & X86_CR4_DE))
        reg += 2;
    if (reg > 7 || reg == 4 || reg == 5)
        return -XEN_ENODEV;
    return (long)v->arch.dr[reg];
}

void load_debugregs(struct vcpu *v)
{
    __asm__ volatile("mov %0, %%db7" :: "r"(0UL));
    if (!(v->arch.dr[7] & 0xff))
        return;
    __asm__ volatile("mov %0, %%db0" :: "r"(v->arch.dr[0]));
    __asm__ volatile("mov %0, %%db1" :: "r"(v->arch.dr[1]));
    __asm__ volatile("mov %0, %%db2" :: "r"(v->arch.dr[2]));
    __asm__ volatile("mov %0, %%db3" :: "r"(v->arch.dr[3]));
    __asm__ volatile("mov %0, %%db6" :: "r"(v->arch.dr[6]));
    __asm__ volatile("mov %0, %%db7" :: "r"(v->arch.dr[7]));
}

/*
 * iret: pop the guest's struct iret_context from its stack.  A CS with RPL
 * 3 returns to guest user mode, as Xen: the vCPU toggles to its user page
 * tables and GS base (with no user base table the domain is crashed, as
 * Xen does).  CS and SS are the frame's with RPL 3, as Xen loads them; a
 * pair the return cannot load gets the guest the fault the CPU would
 * raise, on the way out (pv_frame_fault), as on Xen.  With
 * VGCF_in_syscall, rcx and r11 are not restored: the guest gets what
 * Xen's sysret leaves, rcx = rip and r11 = rflags.
 */
long do_iret(unsigned long a1, unsigned long a2, unsigned long a3,
             unsigned long a4, unsigned long a5)
{
    (void)a1, (void)a2, (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    struct cpu_user_regs *r = v->arch.regs;
    struct iret_context c;
    if (copy_from_guest(&c, r->rsp, sizeof(c))) {
        domain_crash(v->domain, "iret with an unreadable frame at rsp=%lx", r->rsp);
        return -XEN_EFAULT;      /* dead: the way out switches away for good */
    }
    if (!canonical(c.rip) || !canonical(c.rsp))
        return -XEN_EINVAL;
    if ((c.cs & 3) == 3) {
        if (!v->arch.pv.cr3_user) {
            domain_crash(v->domain, "iret to user mode with no user page tables");
            return -XEN_EFAULT;  /* dead: the way out switches away for good */
        }
        pv_toggle_guest_mode(v);
    }
    r->rip = c.rip;
    r->cs = (uint16_t)(c.cs | 3);
    r->rflags = (c.rflags & ~(0x3000UL | (1UL << 17))) | X86_EFLAGS_IF;
    r->rsp = c.rsp;
    r->ss = (uint16_t)(c.ss | 3);
    if (r->cs != SEL_GUEST_CS64 || r->ss != SEL_GUEST_DS)
        v->arch.pv.own_segments = true;    /* checked on the way out from now on */
    if (!(c.flags & VGCF_in_syscall)) {
        r->r11 = c.r11;
        r->rcx = c.rcx;
    } else {
        r->rcx = r->rip;
        r->r11 = r->rflags;
    }
    v->vcpu_info->evtchn_upcall_mask = !(c.rflags & X86_EFLAGS_IF);
    v->arch.pv.nmi_masked = false;       /* as Xen: any iret ends the NMI handler */
    return (long)c.rax;
}

/*
 * Builds Xen's x86_64 bounce frame on the guest kernel's stack and points
 * the vCPU at handler:  { RCX, R11, [ERRCODE,] RIP, CS|mask<<32, RFLAGS,
 * RSP, SS }.  From guest kernel mode the frame goes below the interrupted
 * rsp and its CS has RPL 0 (how Xen tells the guest kernel it interrupted
 * itself); from user mode the vCPU enters kernel mode first (kernel page
 * tables and GS base, user.c) and the frame goes at the stack_switch
 * stack, with the user CS as it was (RPL 3).  SS is passed as it was, as
 * Xen does.  Returns false if the stack cannot take the frame.
 */
bool pv_bounce(struct vcpu *v, unsigned long handler, bool has_err,
               uint32_t err, bool mask_events)
{
    struct cpu_user_regs *r = v->arch.regs;
    uint8_t mask = v->vcpu_info->evtchn_upcall_mask;
    unsigned long frame[8], sp = r->rsp, cs = r->cs & ~3UL;
    unsigned n = 0;
    if (v->arch.pv.user_mode) {
        pv_toggle_guest_mode(v);
        sp = v->arch.pv.kernel_sp;
        cs = r->cs;
    }
    frame[n++] = r->rcx;
    frame[n++] = r->r11;
    if (has_err)
        frame[n++] = err;
    frame[n++] = r->rip;
    frame[n++] = (cs & 0xffff) | ((unsigned long)mask << 32);
    frame[n++] = (r->rflags & ~(X86_EFLAGS_IF | 0x3000UL)) |
                 (mask ? 0 : X86_EFLAGS_IF);
    frame[n++] = r->rsp;
    frame[n++] = r->ss & 0xffff;
    sp = (sp & ~0xfUL) - n * 8;
    if (copy_to_guest(sp, frame, n * 8))
        return false;
    r->rsp = sp;
    r->rip = handler;
    r->cs = SEL_GUEST_CS64;
    r->ss = SEL_GUEST_DS;
    /* TF, NT, RF and AC are cleared on delivery, as on hardware. */
    r->rflags &= ~((1UL << 8) | (1UL << 14) | (1UL << 16) | (1UL << 18));
    if (mask_events)
        v->vcpu_info->evtchn_upcall_mask = 1;
    return true;
}

static const char *const exc_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#CSO",
    "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM",
    "#VE", "#CP", "#22", "#23", "#24", "#25", "#26", "#27", "#HV", "#VC",
    "#SX", "#31",
};

static bool has_error_code(unsigned vec)
{
    return vec == 8 || vec == 10 || vec == 11 || vec == 12 || vec == 13 ||
           vec == 14 || vec == 17 || vec == 21;
}

/* Delivers exception vec to the guest, or crashes it if it has no handler
 * or the handler's stack is unusable.  Returns false if crashed. */
bool pv_inject_exception(struct vcpu *v, unsigned vec, uint32_t err, unsigned long cr2)
{
    struct cpu_user_regs *r = v->arch.regs;
    struct trap_info *t = &v->arch.pv.trap_ctxt[vec & 0xff];
    const char *name = vec < 32 ? exc_names[vec] : "int";
    if (!t->address) {
        if (vec == 14)
            domain_crash(v->domain, "#PF at rip=%lx, cr2=%lx, error %x (no guest handler)",
                         r->rip, cr2, err);
        else if (has_error_code(vec))
            domain_crash(v->domain, "%s at rip=%lx, error %x (no guest handler)", name,
                         r->rip, err);
        else
            domain_crash(v->domain, "%s at rip=%lx (no guest handler)", name, r->rip);
        return false;
    }
    if (vec == 14) {
        v->arch.pv.cr2 = cr2;    /* what MOV from CR2 reads (emulate.c) */
        v->vcpu_info->arch.cr2 = cr2;
        /* As Xen: the U bit says whether the guest was in user mode. */
        err = (err & ~4u) | (v->arch.pv.user_mode ? 4u : 0);
    }
    if (!pv_bounce(v, t->address, vec < 32 && has_error_code(vec), err, TI_GET_IF(t))) {
        domain_crash(v->domain, "%s at rip=%lx: guest stack %lx unusable for its handler",
                     name, r->rip, r->rsp);
        return false;
    }
    return true;
}

/* int $n that the guest's trap table allows: no error code, as Xen
 * delivers a software interrupt.  Returns false if that crashed it. */
bool pv_inject_softint(struct vcpu *v, unsigned vec)
{
    struct cpu_user_regs *r = v->arch.regs;
    struct trap_info *t = &v->arch.pv.trap_ctxt[vec & 0xff];
    if (pv_bounce(v, t->address, false, 0, TI_GET_IF(t)))
        return true;
    domain_crash(v->domain, "int $%#x at rip=%lx: guest stack %lx unusable for its handler",
                 vec, r->rip, r->rsp);
    return false;
}

/* An exception raised by a guest instruction. */
void pv_guest_exception(struct cpu_user_regs *r, unsigned vec)
{
    struct vcpu *v = current_vcpu();
    unsigned long cr2 = vec == 14 ? read_cr2() : 0;
    if (vec == 1) {
        /* The guest's view of DR6 gathers the status bits of each #DB until
         * it clears them (set_debugreg), as Xen's; the next #DB starts clean. */
        unsigned long dr6;
        __asm__ volatile("mov %%db6, %0" : "=r"(dr6));
        unsigned long g = v->arch.dr[6] ? v->arch.dr[6] : 0xffff0ff0UL;  /* 0: never set */
        g |= dr6 & ~0xffff0ff0UL;
        g &= dr6 | ~0xffff0ff0UL;
        v->arch.dr[6] = g;
        __asm__ volatile("mov %0, %%db6" :: "r"(0xffff0ff0UL));
    }
    if (vec == 14 && !v->arch.pv.user_mode && pv_ptwr_fault(v, r, cr2, r->error_code))
        return;                  /* a kernel's page-table write, emulated */
    if (vec == 7 && v->arch.pv.fpu_ts) {
        /* #NM from the virtual CR0.TS: clear it and let the guest know. */
        __asm__ volatile("clts");
        v->arch.pv.fpu_ts = false;
    } else if (vec == 13 && (r->error_code & 4) && pv_ldt_fault(v, r->error_code)) {
        return;                  /* an LDT page's first use (descriptor.c) */
    } else if (vec == 13 && pv_emulate_gp(v, r)) {
        return;                  /* int $n or a privileged instruction (emulate.c) */
    } else if (vec == 6 && pv_emulate_ud(v, r)) {
        return;                  /* the forced-emulation prefix (emulate.c) */
    }
    /* On failure the domain is crashed: trap_dispatch switches away for good. */
    pv_inject_exception(v, vec, r->error_code, cr2);
}

/* VCPUOP_send_nmi, as Xen: no argument (else -EINVAL); the NMI waits on
 * v and v is woken or made to look at once.  Any vCPU of the domain may
 * send one to any other (vcpu_op checked v is the caller's domain's). */
long pv_vcpu_send_nmi(struct vcpu *v, unsigned long arg)
{
    if (arg)
        return -XEN_EINVAL;
    if (!__atomic_exchange_n(&v->arch.pv.nmi_pending, true, __ATOMIC_SEQ_CST)) {
        if (v->state == VCPU_BLOCKED)
            vcpu_wake(v);
        else
            vcpu_kick(v);
    }
    return 0;
}

/* A pending NMI, on the way out, before the event upcall (as Xen): taken
 * unless the guest is still in its NMI handler; delivered through the NMI
 * callback (trap-table entry 2, as an exception without error code), or
 * dropped if there is none, as Xen drops it.  False if the bounce crashed
 * the domain. */
static bool deliver_nmi(struct vcpu *v)
{
    if (v->arch.pv.nmi_masked || !v->domain || v->state == VCPU_DEAD)
        return true;
    __atomic_store_n(&v->arch.pv.nmi_pending, false, __ATOMIC_SEQ_CST);
    const struct trap_info *t = &v->arch.pv.trap_ctxt[2];
    if (!t->address)
        return true;
    if (!pv_bounce(v, t->address, false, 0, TI_GET_IF(t))) {
        domain_crash(v->domain, "NMI: guest stack %lx unusable for its handler",
                     v->arch.regs->rsp);
        return false;
    }
    v->arch.pv.nmi_masked = true;
    return true;
}

/* Before returning to a guest: deliver a pending event upcall. */
/* Delivers a pending event upcall; false if that crashed the domain (its
 * stack unusable: the bounce writes it as the guest would). */
static bool deliver_upcall(struct vcpu *v)
{
    if (!v->domain || v->state == VCPU_DEAD)
        return true;
    vcpu_info_t *vi = v->vcpu_info;
    if (!vi || !vi->evtchn_upcall_pending || vi->evtchn_upcall_mask || !v->arch.pv.event_callback)
        return true;
    if (pv_bounce(v, v->arch.pv.event_callback, false, 0, true))
        return true;
    domain_crash(v->domain, "event upcall: guest stack %lx unusable", v->arch.regs->rsp);
    return false;
}

/*
 * The failsafe callback, owed since a data selector of v's did not load at
 * its switch-in (pv_segments_load), as Xen's load_segments delivers it for
 * a 64-bit guest: v enters kernel mode if it was in user mode, and the
 * frame { rcx, r11, ds, es, fs, gs, rip, cs|mask<<32, rflags, rsp, ss }
 * (the selectors as they were before the failed loads; cs with RPL 0 from
 * kernel mode; rflags.IF the inverse of the event mask, and the virtual
 * IOPL under VMASST_TYPE_architectural_iopl) goes 16-byte aligned below
 * the kernel's rsp, or below the stack_switch stack from user mode.  Then
 * the vCPU runs the callback on the flat kernel CS and SS with AC, RF, NT,
 * IOPL and TF cleared, events masked if it was registered so.  As on Xen,
 * with no callback registered it "runs" at address 0; a frame the stack
 * cannot take crashes the domain.  False if crashed.  No lock held.
 */
static bool failsafe_bounce(struct vcpu *v)
{
    struct pv_vcpu *pv = &v->arch.pv;
    struct cpu_user_regs *r = v->arch.regs;
    pv->failsafe_pending = false;
    if (pv_segments_retry(v))
        return true;             /* an LDT page's first use: they load now */
    uint8_t mask = v->vcpu_info->evtchn_upcall_mask;
    unsigned long sp = r->rsp, cs = r->cs & ~3UL;
    if (pv->user_mode) {
        pv_toggle_guest_mode(v);
        sp = pv->kernel_sp;
        cs = r->cs;
    }
    unsigned long rflags = (r->rflags & ~(X86_EFLAGS_IF | 0x3000UL)) | (mask ? 0 : X86_EFLAGS_IF);
    if (__atomic_load_n(&v->domain->vm_assist, __ATOMIC_RELAXED) &
        (1UL << VMASST_TYPE_architectural_iopl))
        rflags |= (unsigned long)pv->iopl << 12;
    unsigned long frame[11] = {
        r->rcx, r->r11, pv->sel[0], pv->sel[1], pv->sel[2], pv->sel[3], r->rip,
        (cs & 0xffff) | ((unsigned long)mask << 32), rflags, r->rsp, r->ss & 0xffff,
    };
    sp = (sp & ~0xfUL) - sizeof(frame);
    if (copy_to_guest(sp, frame, sizeof(frame))) {
        domain_crash(v->domain, "failsafe callback: guest stack %lx unusable for its frame",
                     sp + sizeof(frame));
        return false;
    }
    if (pv->failsafe_mask_events)
        v->vcpu_info->evtchn_upcall_mask = 1;
    /* AC, RF, NT, IOPL and TF. */
    r->rflags &= ~((1UL << 18) | (1UL << 16) | (1UL << 14) | 0x3000UL | (1UL << 8));
    r->rsp = sp;
    r->rip = pv->failsafe_callback;
    r->cs = SEL_GUEST_CS64;
    r->ss = SEL_GUEST_DS;
    return true;
}

/*
 * The rarer work on the way out (pv_exit_to_guest): the runstate area,
 * which is at a kernel address, so that in user mode it waits until the
 * vCPU enters its kernel (Xen retries it then too); and, for a vCPU that
 * has used segments of its own, the check that the return can load the
 * frame's (pv_frame_fault): if not, the guest gets the fault its iretq
 * would raise, on that frame, as Xen gives it (the iretq itself must not
 * fault in the hypervisor).  False if v's domain was crashed.
 */
static bool exit_slow(struct vcpu *v)
{
    if (v->runstate_pending && !v->arch.pv.user_mode)
        runstate_area_update(v);
    if (__atomic_load_n(&v->time_pending, __ATOMIC_ACQUIRE) && !v->arch.pv.user_mode)
        time_area_update(v);
    struct cpu_user_regs *r = v->arch.regs;
    uint32_t err;
    unsigned vec;
    if (!v->arch.pv.own_segments || (r->cs == SEL_GUEST_CS64 && r->ss == SEL_GUEST_DS) ||
        !(vec = pv_frame_fault(r, &err)))
        return true;
    return pv_inject_exception(v, vec, err, 0);
}

/*
 * The way out of the hypervisor to a guest, with no lock held: the
 * scheduler runs if this pCPU must reschedule or its vCPU stopped being
 * runnable (blocked, down, paused, dead); dead domains are reaped a step
 * after each scheduling; then the vCPU that runs here gets its pending
 * event upcall, then the rarer work of exit_slow.
 */
void pv_exit_to_guest(void)
{
    for (;;) {
        struct pcpu *pc = this_cpu();
        if (pc->need_resched || pc->curr->state != VCPU_RUNNABLE) {
            schedule();
            if (reap_pending())
                reap_dead_domains();
            continue;            /* what woke us may want the CPU again */
        }
        struct vcpu *v = pc->curr;
        /* Before the upcall, which then comes on top of its frame, as on
         * Xen (its load_segments runs before the return path's event
         * check). */
        if (__builtin_expect(v->arch.pv.failsafe_pending, 0) && !failsafe_bounce(v))
            continue;
        if (__builtin_expect(v->arch.pv.nmi_pending, 0) && !deliver_nmi(v))
            continue;
        if (!deliver_upcall(v))
            continue;
        if ((v->runstate_pending | v->time_pending | v->arch.pv.own_segments) && !exit_slow(v))
            continue;
        return;
    }
}
