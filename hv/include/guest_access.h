/*
 * The one way into guest memory (Xen's copy_{from,to}_guest and
 * get/put_guest): every hypercall argument that is a guest pointer goes
 * through here.  A bad pointer (unmapped, read-only when written,
 * non-canonical, wrapping, or in the hypervisor's range) gives
 * -XEN_EFAULT, never a hypervisor fault: a PV guest's pointers are
 * linear addresses in its own page tables, checked for range and then
 * copied with a fault fixup (raw_copy in arch/x86_64/entry.S); CR0.WP
 * makes read-only guest mappings fault for the hypervisor too.
 *
 * An HVM/PVH vCPU's pointers are guest-virtual addresses behind its own
 * page tables and the p2m (hv/hvm/hvm.c): a guest-physical address that
 * is not its RAM is -XEN_EFAULT.
 */
#ifndef KEEL_GUEST_ACCESS_H
#define KEEL_GUEST_ACCESS_H

#include "lib.h"
#include "memlayout.h"
#include "domain.h"
#include "hvm.h"
#include <xen/errno.h>

long raw_copy(void *dst, const void *src, size_t n);
long raw_clear(void *dst, size_t n);

/* A PV range is acceptable if it is canonical, does not wrap, and does
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

/* Xen's guest_handle_okay() for an array a handler walks one element at
 * a time: the count must not overflow and the first element must start
 * at a guest address.  Only the start is checked, as Xen does: a later
 * element that runs into the non-canonical hole (and so never reaches
 * the hypervisor's range) fails its own copy, after the elements before
 * it have been processed. */
static inline bool guest_array_ok(unsigned long p, unsigned long count, size_t size)
{
    if (count >= ~0UL / size)
        return false;
    return p < 0x0000800000000000UL || p >= HV_VIRT_END;
}

static inline enum guest_type current_guest_type(void)
{
    return current_domain()->arch.type;
}

static inline long copy_from_guest(void *dst, unsigned long src, size_t n)
{
    switch (current_guest_type()) {
    case GUEST_PV:
        if (!guest_range_ok(src, n))
            return -XEN_EFAULT;
        return raw_copy(dst, (const void *)src, n) ? -XEN_EFAULT : 0;
    case GUEST_PVH:
#ifndef KEEL_HOST_TEST             /* host unit tests have PV domains only */
        return hvm_copy_from_guest(dst, src, n);
#else
        break;
#endif
    }
    return -XEN_EFAULT;
}

static inline long copy_to_guest(unsigned long dst, const void *src, size_t n)
{
    switch (current_guest_type()) {
    case GUEST_PV:
        if (!guest_range_ok(dst, n))
            return -XEN_EFAULT;
        return raw_copy((void *)dst, src, n) ? -XEN_EFAULT : 0;
    case GUEST_PVH:
#ifndef KEEL_HOST_TEST             /* host unit tests have PV domains only */
        return hvm_copy_to_guest(dst, src, n);
#else
        break;
#endif
    }
    return -XEN_EFAULT;
}

static inline long clear_guest(unsigned long dst, size_t n)
{
    switch (current_guest_type()) {
    case GUEST_PV:
        if (!guest_range_ok(dst, n))
            return -XEN_EFAULT;
        return raw_clear((void *)dst, n) ? -XEN_EFAULT : 0;
    case GUEST_PVH:
#ifndef KEEL_HOST_TEST             /* host unit tests have PV domains only */
        return hvm_clear_guest(dst, n);
#else
        break;
#endif
    }
    return -XEN_EFAULT;
}

/* One object of the pointer's type: get_guest(x, gva), put_guest(x, gva). */
#define get_guest(var, gva)  copy_from_guest(&(var), (gva), sizeof(var))
#define put_guest(var, gva)  copy_to_guest((gva), &(var), sizeof(var))

#endif
