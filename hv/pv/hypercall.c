/* The PV hypercall entry: the table (one entry per number Xen 4.17 gives
 * a 64-bit PV guest, as its hypercall-defs.c with Debian's Kconfig;
 * everything else is -ENOSYS), the continuation that rewinds a PV guest
 * onto its syscall, and the code written into each guest's hypercall
 * page. */
#include "lib.h"
#include "domain.h"
#include "hypercall.h"
#include "pv.h"
#include "event.h"
#include "timer.h"
#include "sched.h"
#include "grant.h"
#include "x86.h"
#include <xen/sched.h>
#include <xen/event_channel.h>
#include <xen/physdev.h>
#include <xen/arch-x86/xen-mca.h>

/* Xen's name for __HYPERVISOR_arch_1 (xen/include/hypercall-defs.c); the
 * public headers give it none. */
#define __HYPERVISOR_paging_domctl_cont __HYPERVISOR_arch_1

/*
 * The legacy hypercalls Xen 4.17 still gives a 64-bit PV guest
 * (xen/arch/x86/compat.c): sched_op_compat takes the command's argument
 * by value (yield, block, shutdown with the reason itself); the
 * event-channel and physdev ones take { cmd, union } and call the new
 * hypercall on the union, for the commands Xen passes on.
 */
static long do_sched_op_compat(unsigned long cmd, unsigned long arg, unsigned long a3,
                               unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    switch ((int)cmd) {
    case SCHEDOP_yield:
    case SCHEDOP_block:
        return do_sched_op(cmd, 0, 0, 0, 0);
    case SCHEDOP_shutdown:
        /* The reasons sched_op's shutdown takes (Keel has no suspend). */
        switch ((uint8_t)arg) {
        case SHUTDOWN_poweroff:
        case SHUTDOWN_reboot:
        case SHUTDOWN_crash:
        case SHUTDOWN_watchdog:
            domain_shutdown(current_domain(), (uint8_t)arg);
            return 0;
        default:
            return -XEN_EINVAL;
        }
    default:
        return -XEN_ENOSYS;
    }
}

static long do_event_channel_op_compat(unsigned long arg, unsigned long a2, unsigned long a3,
                                       unsigned long a4, unsigned long a5)
{
    (void)a2, (void)a3, (void)a4, (void)a5;
    uint32_t cmd;
    if (copy_from_guest(&cmd, arg + offsetof(struct evtchn_op, cmd), sizeof(cmd)))
        return -XEN_EFAULT;
    switch (cmd) {
    case EVTCHNOP_bind_interdomain:
    case EVTCHNOP_bind_virq:
    case EVTCHNOP_bind_pirq:
    case EVTCHNOP_close:
    case EVTCHNOP_send:
    case EVTCHNOP_status:
    case EVTCHNOP_alloc_unbound:
    case EVTCHNOP_bind_ipi:
    case EVTCHNOP_bind_vcpu:
    case EVTCHNOP_unmask:
        return do_event_channel_op(cmd, arg + offsetof(struct evtchn_op, u), 0, 0, 0);
    default:
        return -XEN_ENOSYS;
    }
}

static long do_physdev_op_compat(unsigned long arg, unsigned long a2, unsigned long a3,
                                 unsigned long a4, unsigned long a5)
{
    (void)a2, (void)a3, (void)a4, (void)a5;
    uint32_t cmd;
    if (copy_from_guest(&cmd, arg + offsetof(struct physdev_op, cmd), sizeof(cmd)))
        return -XEN_EFAULT;
    return do_physdev_op(cmd, arg + offsetof(struct physdev_op, u), 0, 0, 0);
}

/* One entry per implemented family; each takes the locks it needs
 * (docs/locking.md): there is no lock around a hypercall. */
static const hypercall_fn hypercall_table[] = {
    [__HYPERVISOR_set_trap_table]    = do_set_trap_table,
    [__HYPERVISOR_set_gdt]           = do_set_gdt,
    [__HYPERVISOR_update_descriptor] = do_update_descriptor,
    [__HYPERVISOR_mmu_update]        = do_mmu_update,
    [__HYPERVISOR_mmuext_op]         = do_mmuext_op,
    [__HYPERVISOR_memory_op]         = do_memory_op,
    [__HYPERVISOR_stack_switch]      = do_stack_switch,
    [__HYPERVISOR_set_callbacks]     = do_set_callbacks,
    [__HYPERVISOR_fpu_taskswitch]    = do_fpu_taskswitch,
    [__HYPERVISOR_set_debugreg]      = do_set_debugreg,
    [__HYPERVISOR_get_debugreg]      = do_get_debugreg,
    [__HYPERVISOR_update_va_mapping] = do_update_va_mapping,
    [__HYPERVISOR_iret]              = do_iret,
    [__HYPERVISOR_set_segment_base]  = do_set_segment_base,
    [__HYPERVISOR_callback_op]       = do_callback_op,
    [__HYPERVISOR_event_channel_op]  = do_event_channel_op,
    [__HYPERVISOR_set_timer_op]      = do_set_timer_op,
    [__HYPERVISOR_vcpu_op]           = do_vcpu_op,
    [__HYPERVISOR_grant_table_op]    = do_grant_table_op,
    [__HYPERVISOR_console_io]        = do_console_io,
    [__HYPERVISOR_xen_version]       = do_xen_version,
    [__HYPERVISOR_sched_op]          = do_sched_op,
    [__HYPERVISOR_domctl]            = do_domctl,
    [__HYPERVISOR_sysctl]            = do_sysctl,
    [__HYPERVISOR_multicall]         = do_multicall,
    [__HYPERVISOR_vm_assist]         = do_vm_assist,
    [__HYPERVISOR_physdev_op]        = do_physdev_op,
    [__HYPERVISOR_sched_op_compat]   = do_sched_op_compat,
    [__HYPERVISOR_event_channel_op_compat] = do_event_channel_op_compat,
    [__HYPERVISOR_physdev_op_compat] = do_physdev_op_compat,
    [__HYPERVISOR_update_va_mapping_otherdomain] = do_update_va_mapping_otherdomain,
    [__HYPERVISOR_nmi_op]            = do_nmi_op,
    /* Nothing behind them: Xen's answers (hv/common/refused.c). */
    [__HYPERVISOR_platform_op]       = do_platform_op,
    [__HYPERVISOR_xenoprof_op]       = do_xenoprof_op,
    [__HYPERVISOR_kexec_op]          = do_kexec_op,
    [__HYPERVISOR_xenpmu_op]         = do_xenpmu_op,
    [__HYPERVISOR_dm_op]             = do_dm_op,
    [__HYPERVISOR_hvm_op]            = do_hvm_op,
    [__HYPERVISOR_hypfs_op]          = do_hypfs_op,
    [__HYPERVISOR_mca]               = do_mca,
    [__HYPERVISOR_paging_domctl_cont] = do_paging_domctl_cont,
};

/* Calls hypercall nr (multicall's entries too).  Unknown: -ENOSYS. */
long hypercall_call(unsigned long nr, unsigned long a1, unsigned long a2, unsigned long a3,
                    unsigned long a4, unsigned long a5)
{
    hypercall_fn fn = nr < ARRAY_SIZE(hypercall_table) ? hypercall_table[nr] : NULL;
    if (!fn)
        return -XEN_ENOSYS;
    return fn(a1, a2, a3, a4, a5);
}

/* A `syscall` from the guest: from its kernel a hypercall, from its user
 * mode an entry into its kernel (user.c). */
void hypercall_dispatch(struct cpu_user_regs *r)
{
    struct vcpu *v = current_vcpu();
    if (v->arch.pv.user_mode) {
        pv_user_syscall(v, r);
        pv_exit_to_guest();
        return;
    }
    r->rax = (unsigned long)hypercall_call(r->rax, r->rdi, r->rsi, r->rdx, r->r10, r->r8);
    pv_exit_to_guest();
}

/* The guest calls again, with the progress in its arguments.  Inside a
 * multicall the continuation is the entry's: multicall writes it back
 * into the guest's list and continues from that entry. */
long hypercall_create_continuation(unsigned nr, unsigned long a1, unsigned long a2,
                                   unsigned long a3, unsigned long a4, unsigned long a5)
{
    struct vcpu *v = current_vcpu();
    if (v->mc.active) {
        v->mc.preempted = true;
        v->mc.op = nr;
        v->mc.args[0] = a1;
        v->mc.args[1] = a2;
        v->mc.args[2] = a3;
        v->mc.args[3] = a4;
        v->mc.args[4] = a5;
        return nr;
    }
    struct cpu_user_regs *r = v->arch.regs;
    /* back onto the syscall (PV) or vmmcall (PVH: hv/hvm/hvm.c) */
    r->rip -= v->domain->arch.type == GUEST_PV ? 2 : 3;
    r->rax = nr;
    r->rdi = a1;
    r->rsi = a2;
    r->rdx = a3;
    r->r10 = a4;
    r->r8 = a5;
    return nr;                   /* what rax must hold: the same call */
}

/*
 * Each 32-byte entry, as Xen lays it out for 64-bit PV guests:
 *   push %rcx; push %r11; mov $nr, %eax; syscall; pop %r11; pop %rcx; ret
 * and for __HYPERVISOR_iret, which does not return:
 *   push %rcx; push %r11; push %rax; mov $nr, %eax; syscall
 */
void hypercall_page_fill(void *page)
{
    uint8_t *p = page;
    memset(p, 0xcc, PAGE_SIZE);          /* int3 padding */
    for (unsigned nr = 0; nr < PAGE_SIZE / 32; nr++, p += 32) {
        unsigned i = 0;
        p[i++] = 0x51;                   /* push %rcx */
        p[i++] = 0x41; p[i++] = 0x53;    /* push %r11 */
        if (nr == __HYPERVISOR_iret)
            p[i++] = 0x50;               /* push %rax */
        p[i++] = 0xb8;                   /* mov $nr, %eax */
        p[i++] = (uint8_t)nr; p[i++] = 0; p[i++] = 0; p[i++] = 0;
        p[i++] = 0x0f; p[i++] = 0x05;    /* syscall */
        if (nr == __HYPERVISOR_iret)
            continue;
        p[i++] = 0x41; p[i++] = 0x5b;    /* pop %r11 */
        p[i++] = 0x59;                   /* pop %rcx */
        p[i++] = 0xc3;                   /* ret */
    }
}
