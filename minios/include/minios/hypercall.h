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

#endif /* MINIOS_HYPERCALL_H */
