/* sysctl: host-wide queries for the control domain (<xen/sysctl.h>):
 * physinfo, getdomaininfolist and readconsole, checked as Xen 4.17 does
 * (interface version -EACCES, then the access-control module). */
#define __XEN_TOOLS__ 1
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "time.h"
#include "hypercall.h"
#include "xsm.h"
#include <xen/domctl.h>
#include <xen/sysctl.h>

void domctl_getdomaininfo(struct domain *d, struct xen_domctl_getdomaininfo *info);
const char *console_ring(uint32_t *size, uint32_t *c, uint32_t *p);
void console_ring_clear(uint32_t c);

/* RAM frames: everything the allocator ever managed (counted once, after
 * the boot modules were given back). */
static uint64_t total_pages(void)
{
    static uint64_t total;
    if (total && domains_booted)
        return total;
    uint64_t n = 0;
    for (uint64_t pfn = 0; pfn < max_pfn; pfn++)
        if (frame_table[pfn].owner != OWNER_RESERVED)
            n++;
    total = n;
    return n;
}

static void physinfo(struct xen_sysctl_physinfo *pi)
{
    memset(pi, 0, sizeof(*pi));
    pi->threads_per_core = 1;    /* every CPU is counted as its own core */
    pi->cores_per_socket = nr_cpus;
    pi->nr_cpus = nr_cpus;
    pi->max_cpu_id = nr_cpus - 1;
    pi->nr_nodes = 1;
    pi->max_node_id = 0;
    pi->cpu_khz = (uint32_t)tsc_khz;
    pi->capabilities = XEN_SYSCTL_PHYSCAP_pv;
    pi->total_pages = total_pages();
    pi->free_pages = free_page_count();
    pi->max_mfn = max_pfn - 1;
    /* hw_cap as Xen's x86_capability words 0-7. */
    uint32_t a, b, c, d, max, emax;
    cpuid(0, 0, &max, &b, &c, &d);
    cpuid(0x80000000, 0, &emax, &b, &c, &d);
    cpuid(1, 0, &a, &b, &c, &d);
    pi->hw_cap[0] = d;
    pi->hw_cap[1] = c;
    if (emax >= 0x80000001) {
        cpuid(0x80000001, 0, &a, &b, &c, &d);
        pi->hw_cap[2] = d;
        pi->hw_cap[3] = c;
    }
    if (max >= 0xd) {
        cpuid(0xd, 1, &a, &b, &c, &d);
        pi->hw_cap[4] = a;
    }
    if (max >= 7) {
        cpuid(7, 0, &a, &b, &c, &d);
        pi->hw_cap[5] = b;
        pi->hw_cap[6] = c;
    }
    if (emax >= 0x80000007) {
        cpuid(0x80000007, 0, &a, &b, &c, &d);
        pi->hw_cap[7] = d;
    }
}

static long getdomaininfolist(struct xen_sysctl_getdomaininfolist *l)
{
    struct xen_domctl_getdomaininfo info;
    uint32_t num = 0;
    for (unsigned id = l->first_domain; id < DOMID_FIRST_RESERVED; id++) {
        struct domain *d = domain_get(id);
        if (!d)
            continue;
        if (num == l->max_domains) {
            domain_put(d);
            break;
        }
        domctl_getdomaininfo(d, &info);
        domain_put(d);
        if (copy_to_guest((unsigned long)l->buffer.p + num * sizeof(info), &info,
                          sizeof(info)))
            return -XEN_EFAULT;
        num++;
    }
    l->num_domains = num;
    return 0;
}

/* Xen's read_console_ring(): from the consumer index (or the caller's,
 * if incremental and inside the ring) up to the producer. */
static long readconsole(struct xen_sysctl_readconsole *op)
{
    uint32_t size, c, p, sofar = 0, max = op->count;
    const char *ring = console_ring(&size, &c, &p);
    if (op->incremental &&
        (c <= p ? c < op->index && op->index <= p : c < op->index || op->index <= p))
        c = op->index;
    while (c != p && sofar < max) {
        uint32_t idx = c & (size - 1), len = p - c;
        if (idx + len > size)
            len = size - idx;
        if (sofar + len > max)
            len = max - sofar;
        if (copy_to_guest((unsigned long)op->buffer.p + sofar, ring + idx, len))
            return -XEN_EFAULT;
        sofar += len;
        c += len;
    }
    if (op->clear)
        console_ring_clear(c);
    op->count = sofar;
    op->index = c;
    return 0;
}

long do_sysctl(unsigned long arg, unsigned long a2, unsigned long a3,
               unsigned long a4, unsigned long a5)
{
    (void)a2, (void)a3, (void)a4, (void)a5;
    struct xen_sysctl op;
    if (copy_from_guest(&op, arg, sizeof(op)))
        return -XEN_EFAULT;
    if (op.interface_version != XEN_SYSCTL_INTERFACE_VERSION)
        return -XEN_EACCES;
    long rc = xsm_sysctl(current_domain(), op.cmd);
    if (rc)
        return rc;
    control_lock_acquire();      /* one at a time, as Xen's sysctl_lock */
    switch (op.cmd) {
    case XEN_SYSCTL_readconsole:
        rc = readconsole(&op.u.readconsole);
        break;
    case XEN_SYSCTL_physinfo:
        physinfo(&op.u.physinfo);
        break;
    case XEN_SYSCTL_getdomaininfolist:
        rc = getdomaininfolist(&op.u.getdomaininfolist);
        break;
    default:
        rc = -XEN_ENOSYS;
        break;
    }
    control_lock_release();
    if (rc == -XEN_ENOSYS)
        return rc;
    /* As Xen (copyback > 0): copied back even when the op failed. */
    if (copy_to_guest(arg, &op, sizeof(op)))
        rc = -XEN_EFAULT;
    return rc;
}
