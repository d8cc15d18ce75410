/* hypercall.h: minios's calls into the hypervisor through the hypercall page. */
#ifndef MINIOS_HYPERCALL_H
#define MINIOS_HYPERCALL_H

/* minios speaks the newest interface of the headers it is built with. */
#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ __XEN_LATEST_INTERFACE_VERSION__
#endif

#include <stdint.h>
#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/sched.h>
#include <xen/version.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>
#include <xen/callback.h>

/*
 * The hypervisor fills this 4 KiB page (named by the HYPERCALL_PAGE ELF
 * note) with one 32-byte stub per hypercall: entry i is at
 * hypercall_page + i * 32 and is entered with `call`.
 */
extern char hypercall_page[4096];

#define MINIOS_HYPERCALL_STUB_SIZE 32

/*
 * Hypercall `nr` with up to five arguments in rdi, rsi, rdx, r10, r8.
 * Returns rax: >= 0 on success, a negative Xen errno (<xen/errno.h>) on
 * error. All argument registers, rcx and r11 are treated as clobbered.
 */
static inline long minios_hypercall(unsigned int nr, unsigned long a1,
                                    unsigned long a2, unsigned long a3,
                                    unsigned long a4, unsigned long a5)
{
    register unsigned long rdi __asm__("rdi") = a1;
    register unsigned long rsi __asm__("rsi") = a2;
    register unsigned long rdx __asm__("rdx") = a3;
    register unsigned long r10 __asm__("r10") = a4;
    register unsigned long r8 __asm__("r8") = a5;
    unsigned long stub = (unsigned long)hypercall_page +
                         (unsigned long)nr * MINIOS_HYPERCALL_STUB_SIZE;
    long ret;

    __asm__ __volatile__("call *%[stub]"
                         : "=a"(ret), "+r"(rdi), "+r"(rsi), "+r"(rdx),
                           "+r"(r10), "+r"(r8)
                         : [stub] "a"(stub)
                         : "rcx", "r11", "memory", "cc");
    return ret;
}

/* The same with 0..5 arguments of any integer or pointer type. */
#define _hypercall0(nr) minios_hypercall((nr), 0, 0, 0, 0, 0)
#define _hypercall1(nr, a1) \
    minios_hypercall((nr), (unsigned long)(a1), 0, 0, 0, 0)
#define _hypercall2(nr, a1, a2) \
    minios_hypercall((nr), (unsigned long)(a1), (unsigned long)(a2), 0, 0, 0)
#define _hypercall3(nr, a1, a2, a3) \
    minios_hypercall((nr), (unsigned long)(a1), (unsigned long)(a2), \
                     (unsigned long)(a3), 0, 0)
#define _hypercall4(nr, a1, a2, a3, a4) \
    minios_hypercall((nr), (unsigned long)(a1), (unsigned long)(a2), \
                     (unsigned long)(a3), (unsigned long)(a4), 0)
#define _hypercall5(nr, a1, a2, a3, a4, a5) \
    minios_hypercall((nr), (unsigned long)(a1), (unsigned long)(a2), \
                     (unsigned long)(a3), (unsigned long)(a4), \
                     (unsigned long)(a5))

/* Typed wrappers, one per hypercall, named as Xen's guests name them. */

/* cmd: CONSOLEIO_write or CONSOLEIO_read. */
static inline long HYPERVISOR_console_io(int cmd, int count, char *str)
{
    return _hypercall3(__HYPERVISOR_console_io, cmd, count, str);
}

/* cmd: XENVER_*; arg: the structure that cmd names, or NULL. */
static inline long HYPERVISOR_xen_version(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_xen_version, cmd, arg);
}

/* cmd: SCHEDOP_*; arg: the structure that cmd names, or NULL. */
static inline long HYPERVISOR_sched_op(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_sched_op, cmd, arg);
}

/* traps: an array of trap_info ended by an entry with address 0; NULL
 * clears the whole table. */
static inline long HYPERVISOR_set_trap_table(const struct trap_info *traps)
{
    return _hypercall1(__HYPERVISOR_set_trap_table, traps);
}

/* x86_64: event callback, failsafe callback, syscall entry (0: none). */
static inline long HYPERVISOR_set_callbacks(unsigned long event,
                                            unsigned long failsafe,
                                            unsigned long syscall)
{
    return _hypercall3(__HYPERVISOR_set_callbacks, event, failsafe, syscall);
}

/* cmd: CALLBACKOP_*; arg: struct callback_register or callback_unregister. */
static inline long HYPERVISOR_callback_op(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_callback_op, cmd, arg);
}

/* Replaces the L1 entry that maps va with pte; flags: UVMF_*. */
static inline long HYPERVISOR_update_va_mapping(unsigned long va, uint64_t pte,
                                                unsigned long flags)
{
    return _hypercall3(__HYPERVISOR_update_va_mapping, va, pte, flags);
}

/* count page-table updates (MMU_NORMAL_PT_UPDATE, MMU_MACHPHYS_UPDATE) on
 * domain dom's tables; *done gets how many were applied. */
static inline long HYPERVISOR_mmu_update(struct mmu_update *req, unsigned int count,
                                         unsigned int *done, domid_t dom)
{
    return _hypercall4(__HYPERVISOR_mmu_update, req, count, done, dom);
}

/* count extended MMU operations (pin, unpin, new base, TLB flushes). */
static inline long HYPERVISOR_mmuext_op(struct mmuext_op *op, unsigned int count,
                                        unsigned int *done, domid_t dom)
{
    return _hypercall4(__HYPERVISOR_mmuext_op, op, count, done, dom);
}

/* cmd: XENMEM_*; arg: the structure that cmd names. */
static inline long HYPERVISOR_memory_op(unsigned int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_memory_op, cmd, arg);
}

/* Arms this vCPU's timer for system time `timeout` ns (0 cancels it);
 * VIRQ_TIMER fires when it passes. */
static inline long HYPERVISOR_set_timer_op(uint64_t timeout)
{
    return _hypercall1(__HYPERVISOR_set_timer_op, timeout);
}

/* cmd: EVTCHNOP_*; arg: the structure that cmd names. */
static inline long HYPERVISOR_event_channel_op(int cmd, void *arg)
{
    return _hypercall2(__HYPERVISOR_event_channel_op, cmd, arg);
}

/* cmd: VCPUOP_*; vcpu: its id; arg: the structure that cmd names, or NULL. */
static inline long HYPERVISOR_vcpu_op(int cmd, unsigned int vcpu, void *arg)
{
    return _hypercall3(__HYPERVISOR_vcpu_op, cmd, vcpu, arg);
}

/* The kernel stack (ss:rsp) that the hypervisor switches to on a trap or
 * event taken in guest user mode. */
static inline long HYPERVISOR_stack_switch(unsigned long ss, unsigned long rsp)
{
    return _hypercall2(__HYPERVISOR_stack_switch, ss, rsp);
}

/* set != 0 sets CR0.TS (the next FPU/SSE instruction raises #NM), 0 clears it. */
static inline long HYPERVISOR_fpu_taskswitch(int set)
{
    return _hypercall1(__HYPERVISOR_fpu_taskswitch, set);
}

/* which: SEGBASE_FS, SEGBASE_GS_USER, SEGBASE_GS_KERNEL, SEGBASE_GS_USER_SEL. */
static inline long HYPERVISOR_set_segment_base(int which, unsigned long base)
{
    return _hypercall2(__HYPERVISOR_set_segment_base, which, base);
}

/*
 * HYPERVISOR_iret is not called: it is jumped to (hypercall_page +
 * __HYPERVISOR_iret * 32) with rsp at the frame
 *     flags, rip, cs, rflags, rsp, ss
 * (flags 0 or VGCF_in_syscall); the stub pushes rcx, r11 and rax itself.
 * minios's exception and event entry code does this (arch/x86_64/trapentry.S).
 */

#endif /* MINIOS_HYPERCALL_H */
