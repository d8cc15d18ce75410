/* memory_op: reservations (increase, decrease, populate), what a domain
 * may know of memory (current/maximum reservation, maximum_ram_page, its
 * memory map).  For PV guests frame numbers are machine frames. */
#include "lib.h"
#include "mm.h"
#include "domain.h"
#include "hvm.h"
#include "hypercall.h"
#include "pv.h"
#include <xen/memory.h>

#define MAX_EXTENT_ORDER 9       /* 2 MiB, as Xen allows a PV domU */
/* Xen keeps a continuation's start extent above the command bits; the
 * split is internal to Xen (not in the public headers): bits 0-5 command. */
#define MEMOP_CMD_BITS   6

/* The domain a memory op names: ourselves, or (control) another, with a
 * reference (domain_put_named).  A PVH domain only if pvh_ok. */
static struct domain *memop_domain(domid_t id, long *err, bool pvh_ok)
{
    struct domain *cd = current_domain();
    if (id == DOMID_SELF || id == cd->id)
        return cd;
    struct domain *d = domain_get(id);
    if (!d || d->shutdown) {
        if (d)
            domain_put(d);
        *err = -XEN_ESRCH;
        return NULL;
    }
    long rc = xsm_map_foreign(cd, d);
    /* A PVH domain's reservation lives in its p2m, which from outside
     * only its builder's populate_physmap grows (docs/hvm.md): other
     * changes are refused to the privileged. */
    if (!rc && d->arch.type != GUEST_PV && !pvh_ok)
        rc = -XEN_EOPNOTSUPP;
    if (rc) {
        domain_put(d);
        *err = rc;
        return NULL;
    }
    return d;
}


/* Gives d 2^order new zeroed contiguous frames (mapped nowhere yet) from
 * *base on, or fails.  Under d's lock (its reservation). */
static long grow(struct domain *d, unsigned order, uint64_t *base)
{
    uint64_t n = 1ULL << order;
    if (d->nr_pages + n > d->max_pages)
        return -XEN_ENOMEM;
    if (domain_alloc_pages(d, order, base))
        return -XEN_ENOMEM;
    d->nr_pages += n;
    return 0;
}

/* Removes a frame from d if nothing but its allocation references it.
 * Hypervisor frames shared with d (shared_info, grant-table frames) are
 * never d's to give back. */
static long shrink_one(struct domain *d, uint64_t mfn)
{
    if (mfn >= max_pfn || frame_table[mfn].owner != d->id ||
        (frame_table[mfn].flags & PGF_HV_SHARED))
        return -XEN_EINVAL;
    /* Still mapped or typed: unmap it first.  Its owner's lock is held,
     * so no new table use comes; a new mapping by another domain (a
     * grant) may, and is then what frees the frame, after this put. */
    if (__atomic_load_n(&frame_table[mfn].count, __ATOMIC_ACQUIRE) != 1 ||
        PGT_COUNT(__atomic_load_n(&frame_table[mfn].type_info, __ATOMIC_ACQUIRE)))
        return -XEN_EBUSY;
    put_page(mfn);               /* frees it, unless taken meanwhile */
    d->nr_pages--;
    return 0;
}

static long reservation_of(struct domain *d, unsigned op, unsigned long arg,
                           unsigned long start, const struct xen_memory_reservation *rp);

static long reservation(unsigned op, unsigned long arg, unsigned long start)
{
    /* As Xen: these ops return the number of extents done, so a bad
     * pointer to the reservation or in extent_start gives the count done
     * so far (0 at first), not -EFAULT. */
    struct xen_memory_reservation r;
    if (copy_from_guest(&r, arg, sizeof(r)))
        return (long)start;
    long err = 0;
    struct domain *d = memop_domain(r.domid, &err, op == XENMEM_populate_physmap);
    if (!d)
        return err;
    long rc = reservation_of(d, op, arg, start, &r);
    domain_put_named(d);
    return rc;
}

static long reservation_of(struct domain *d, unsigned op, unsigned long arg,
                           unsigned long start, const struct xen_memory_reservation *rp)
{
    struct xen_memory_reservation r = *rp;
    if (r.extent_order > MAX_EXTENT_ORDER)
        return -XEN_EPERM;
    unsigned long list = (unsigned long)r.extent_start.p;
    if ((op != XENMEM_increase_reservation || list) && start < r.nr_extents &&
        !guest_array_ok(list + start * sizeof(xen_pfn_t), r.nr_extents - start,
                        sizeof(xen_pfn_t)))
        return (long)start;
    uint64_t n = 1ULL << r.extent_order;
    unsigned long i;
    for (i = start; i < r.nr_extents; i++) {
        /* Preemptible as Xen's: continue later from extent i. */
        if (hypercall_preempt_due(i - start))
            return hypercall_create_continuation(__HYPERVISOR_memory_op,
                                                 op | (i << MEMOP_CMD_BITS), arg, 0, 0, 0);
        /* increase_reservation only writes the list (as Xen: the extent
         * is allocated before the write, and stays if the write fails). */
        xen_pfn_t v = 0;
        if (op != XENMEM_increase_reservation) {
            if (copy_from_guest(&v, list + i * sizeof(v), sizeof(v)))
                return (long)i;
        }
        domain_lock(d);
        long rc = d->shutdown ? -XEN_ESRCH : 0;
        uint64_t base = 0;
        if (d->arch.type != GUEST_PV) {
            /* A PVH domain's builder (memop_domain): v is a guest frame,
             * and nothing is written back (as Xen for a translated guest). */
            if (!rc)
                rc = hvm_p2m_populate(d, v, r.extent_order);
            domain_unlock(d);
            if (rc)
                return (long)i;
            continue;
        }
        if (op == XENMEM_decrease_reservation) {
            for (uint64_t j = 0; j < n && !rc; j++)
                rc = shrink_one(d, v + j);
        } else if (!rc) {
            rc = grow(d, r.extent_order, &base);
        }
        domain_unlock(d);
        if (rc)
            return (long)i;
        if (op == XENMEM_decrease_reservation)
            continue;
        if (op == XENMEM_populate_physmap)
            for (uint64_t j = 0; j < n; j++)
                m2p[base + j] = v + j;
        /* PV: tell the guest the machine frame (the extent's first). */
        xen_pfn_t out = base;
        if (list && copy_to_guest(list + i * sizeof(out), &out, sizeof(out)))
            return (long)i;
    }
    return (long)i;
}

long do_memory_op(unsigned long cmd, unsigned long arg, unsigned long a3,
                  unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    unsigned op = cmd & ((1u << MEMOP_CMD_BITS) - 1);
    unsigned long start = cmd >> MEMOP_CMD_BITS;
    long err = 0;
    switch (op) {
    case XENMEM_increase_reservation:
    case XENMEM_decrease_reservation:
    case XENMEM_populate_physmap:
        return reservation(op, arg, start);
    case XENMEM_current_reservation:
    case XENMEM_maximum_reservation: {
        domid_t id;
        if (copy_from_guest(&id, arg, sizeof(id)))
            return -XEN_EFAULT;
        struct domain *d = memop_domain(id, &err, true);
        if (!d)
            return err;
        long n = (long)(op == XENMEM_current_reservation ? d->nr_pages : d->max_pages);
        domain_put_named(d);
        return n;
    }
    case XENMEM_maximum_ram_page:
        return (long)(max_pfn - 1);
    case XENMEM_memory_map: {
        struct xen_memory_map m;
        if (copy_from_guest(&m, arg, sizeof(m)))
            return -XEN_EFAULT;
        if (m.nr_entries < 1)
            return -XEN_EINVAL;
        /* One e820 RAM entry: the domain's pseudo-physical memory. */
        struct { uint64_t addr, size; uint32_t type; } __attribute__((packed))
            e = { 0, current_domain()->max_pages << PAGE_SHIFT, 1 };
        if (copy_to_guest((unsigned long)m.buffer.p, &e, sizeof(e)))
            return -XEN_EFAULT;
        m.nr_entries = 1;
        return copy_to_guest(arg, &m, sizeof(m));
    }
    case XENMEM_machphys_mapping:
    case XENMEM_machphys_mfn_list:
        return pv_machphys_op(op, arg);
    case XENMEM_add_to_physmap:
    case XENMEM_add_to_physmap_batch:
        return -XEN_EACCES;      /* as Xen: only for translated guests */
    case XENMEM_acquire_resource:
        return hvm_acquire_resource(arg);   /* ioreq servers (hv/hvm/ioreq.c) */
    default:
        return -XEN_ENOSYS;
    }
}
