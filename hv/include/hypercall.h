/* Hypercall dispatch and guest-memory access. */
#ifndef KEEL_HYPERCALL_H
#define KEEL_HYPERCALL_H

#include "lib.h"
#include "memlayout.h"
#include <xen/xen.h>

#include <xen/errno.h>

typedef long (*hypercall_fn)(unsigned long, unsigned long, unsigned long,
                             unsigned long, unsigned long);

/* A guest range is acceptable if it is canonical, does not wrap, and does
 * not touch the range reserved for the hypervisor. */
static inline bool guest_range_ok(unsigned long p, unsigned long len)
{
    if (len == 0)
        return true;
    unsigned long end = p + len;
    if (end < p)
        return false;
    if (end <= 0x0000800000000000UL)
        return true;
    return p >= HV_VIRT_END;
}

long raw_copy(void *dst, const void *src, size_t n);
long raw_clear(void *dst, size_t n);

static inline long copy_from_guest(void *dst, unsigned long src, size_t n)
{
    if (!guest_range_ok(src, n))
        return -XEN_EFAULT;
    return raw_copy(dst, (const void *)src, n) ? -XEN_EFAULT : 0;
}

static inline long copy_to_guest(unsigned long dst, const void *src, size_t n)
{
    if (!guest_range_ok(dst, n))
        return -XEN_EFAULT;
    return raw_copy((void *)dst, src, n) ? -XEN_EFAULT : 0;
}

long do_console_io(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_xen_version(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_sched_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_domctl(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_sysctl(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);

void hypercall_dispatch(struct cpu_user_regs *regs);
void hypercall_page_fill(void *page);

#endif
