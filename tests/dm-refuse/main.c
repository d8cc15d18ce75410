/* Guest test: what the hypervisor refuses around ioreq servers
 * (docs/hvm.md, "The device model and ioreq servers").
 *
 * As the device model of d1 (role=dm target=1): dm_op's buffers, ops and
 * targets (self, another domain, none); ISA IRQ levels (bad IRQ, bad
 * level, a PVH target without PICs) and a remote shutdown with an unknown
 * reason or of another domain; create_ioreq_server's arguments
 * and its limit of 8; get_ioreq_server_info without no_gfns; ranges that
 * are empty, past 0xffff, of another type, overlapping or unmapped
 * differently; XENMEM_acquire_resource's frames, types, servers and
 * domains.  Then, hostile, it leaves garbage in vCPU 0's ioreq slot and
 * lets d1 run: d1's first COM1 access crashes d1 alone; the device model
 * may not pause it afterwards, nor unpause a domain it does not serve.
 *
 * With mode=plain (no role): dm_op and acquire_resource on d1 are -EPERM.
 */
#include "ctl.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/mm.h>
#include <minios/time.h>
#include <minios/events.h>
#include "report.h"
#include <xen/memory.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

#define MS 1000000ULL
#define BAD_VA 0x00007f0000000000UL   /* canonical, mapped by nothing */

static long dm_op_bufs(domid_t dom, xen_dm_op_buf_t *b, unsigned n)
{
    return _hypercall3(__HYPERVISOR_dm_op, dom, n, b);
}

static long dm_op(domid_t dom, struct xen_dm_op *op, size_t size)
{
    xen_dm_op_buf_t b = { .size = size };
    set_xen_guest_handle(b.h, op);
    return dm_op_bufs(dom, &b, 1);
}

static long create(domid_t dom, uint8_t bufioreq, ioservid_t *id)
{
    struct xen_dm_op op = { .op = XEN_DMOP_create_ioreq_server };
    op.u.create_ioreq_server.handle_bufioreq = bufioreq;
    long rc = dm_op(dom, &op, sizeof(op));
    if (!rc && id)
        *id = op.u.create_ioreq_server.id;
    return rc;
}

static long destroy(domid_t dom, ioservid_t id)
{
    struct xen_dm_op op = { .op = XEN_DMOP_destroy_ioreq_server };
    op.u.destroy_ioreq_server.id = id;
    return dm_op(dom, &op, sizeof(op));
}

static long range(domid_t dom, uint32_t cmd, ioservid_t id, uint32_t type, uint64_t s,
                  uint64_t e)
{
    struct xen_dm_op op = { .op = cmd };
    op.u.map_io_range_to_ioreq_server = (struct xen_dm_op_ioreq_server_range){
        .id = id, .type = type, .start = s, .end = e };
    return dm_op(dom, &op, sizeof(op));
}

static long info(domid_t dom, ioservid_t id, uint16_t flags)
{
    struct xen_dm_op op = { .op = XEN_DMOP_get_ioreq_server_info };
    op.u.get_ioreq_server_info.id = id;
    op.u.get_ioreq_server_info.flags = flags;
    return dm_op(dom, &op, sizeof(op));
}

static long acquire(domid_t dom, uint16_t type, uint32_t id, uint64_t frame, uint32_t nr,
                    xen_pfn_t *list, uint32_t *nr_out)
{
    struct xen_mem_acquire_resource a = { .domid = dom, .type = type, .id = id,
                                          .nr_frames = nr, .frame = frame };
    set_xen_guest_handle(a.frame_list, list);
    long rc = HYPERVISOR_memory_op(XENMEM_acquire_resource, &a);
    if (nr_out)
        *nr_out = a.nr_frames;
    return rc;
}

/* HVMOP_get_param / set_param on another domain's params (value out). */
static long param(unsigned op, domid_t dom, unsigned idx, uint64_t *val)
{
    struct xen_hvm_param p = { .domid = dom, .index = idx, .value = val ? *val : 0 };
    long rc = _hypercall2(__HYPERVISOR_hvm_op, op, &p);
    if (val)
        *val = p.value;
    return rc;
}

static int plain(domid_t peer)
{
    uint64_t v = 0;
    CHECK_EQ(param(HVMOP_get_param, peer, HVM_PARAM_STORE_PFN, &v), -XEN_EPERM);
    CHECK_EQ(create(peer, 0, NULL), -XEN_EPERM);
    xen_pfn_t f;
    CHECK_EQ(acquire(peer, XENMEM_resource_ioreq_server, 0, 1, 1, &f, NULL), -XEN_EPERM);
    CHECK_EQ(info(peer, 0, XEN_DMOP_no_gfns), -XEN_EPERM);
    printf("plain: dm_op, acquire_resource and HVM params of d%u refused\n", peer);
    return test_finish();
}

int main(int argc, char **argv)
{
    domid_t peer = 0, other = 0;
    bool is_plain = false;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "peer=", 5))
            peer = (domid_t)atoi(argv[i] + 5);
        else if (!strncmp(argv[i], "other=", 6))
            other = (domid_t)atoi(argv[i] + 6);
        else if (!strcmp(argv[i], "mode=plain"))
            is_plain = true;
    }
    if (!peer) {
        test_error("no peer= argument");
        return test_finish();
    }
    if (is_plain)
        return plain(peer);

    /* dm_op itself: buffers, ops, targets. */
    struct xen_dm_op op = { .op = XEN_DMOP_create_ioreq_server };
    xen_dm_op_buf_t b[3] = { { .size = sizeof(op) } };
    set_xen_guest_handle(b[0].h, &op);
    CHECK_EQ(dm_op_bufs(peer, b, 3), -XEN_E2BIG);
    CHECK_EQ(dm_op_bufs(peer, b, 0), -XEN_EFAULT);
    CHECK_EQ(_hypercall3(__HYPERVISOR_dm_op, peer, 1, (void *)BAD_VA), -XEN_EFAULT);
    b[0].size = offsetof(struct xen_dm_op, u) + 1;            /* shorter than its op */
    CHECK_EQ(dm_op_bufs(peer, b, 1), -XEN_EFAULT);
    b[0].size = 4;
    CHECK_EQ(dm_op_bufs(peer, b, 1), -XEN_EFAULT);
    set_xen_guest_handle(b[0].h, (void *)BAD_VA);
    b[0].size = sizeof(op);
    CHECK_EQ(dm_op_bufs(peer, b, 1), -XEN_EFAULT);             /* unmapped */
    op.op = 99;
    CHECK_EQ(dm_op(peer, &op, sizeof(op)), -XEN_EOPNOTSUPP);
    op.op = XEN_DMOP_create_ioreq_server;
    op.pad = 1;
    CHECK_EQ(dm_op(peer, &op, sizeof(op)), -XEN_EINVAL);
    op.pad = 0;
    CHECK_EQ(dm_op(self_domid(), &op, sizeof(op)), -XEN_EPERM);
    CHECK_EQ(dm_op(other, &op, sizeof(op)), -XEN_EPERM);       /* not its target */
    CHECK_EQ(dm_op(1000, &op, sizeof(op)), -XEN_ESRCH);
    /* ISA IRQ levels: bad IRQ or level; a PVH target has no PICs.  A
     * remote shutdown with an unknown reason (after the PCI INTx levels). */
    struct xen_dm_op il = { .op = XEN_DMOP_set_isa_irq_level };
    il.u.set_isa_irq_level.isa_irq = 16;
    il.u.set_isa_irq_level.level = 1;
    CHECK_EQ(dm_op(peer, &il, sizeof(il)), -XEN_EINVAL);
    il.u.set_isa_irq_level.isa_irq = 4;
    il.u.set_isa_irq_level.level = 2;
    CHECK_EQ(dm_op(peer, &il, sizeof(il)), -XEN_EINVAL);
    il.u.set_isa_irq_level.level = 1;
    CHECK_EQ(dm_op(peer, &il, sizeof(il)), -XEN_EOPNOTSUPP);
    /* PCI INTx levels: another segment or bus, a device past 31, INTx
     * past D, a level past 1; a PVH target has no I/O APIC. */
    struct xen_dm_op px = { .op = XEN_DMOP_set_pci_intx_level };
    struct xen_dm_op_set_pci_intx_level *pl = &px.u.set_pci_intx_level;
    pl->device = 2;
    pl->level = 1;
    pl->domain = 1;
    CHECK_EQ(dm_op(peer, &px, sizeof(px)), -XEN_EINVAL);
    pl->domain = 0;
    pl->bus = 1;
    CHECK_EQ(dm_op(peer, &px, sizeof(px)), -XEN_EINVAL);
    pl->bus = 0;
    pl->device = 32;
    CHECK_EQ(dm_op(peer, &px, sizeof(px)), -XEN_EINVAL);
    pl->device = 2;
    pl->intx = 4;
    CHECK_EQ(dm_op(peer, &px, sizeof(px)), -XEN_EINVAL);
    pl->intx = 0;
    pl->level = 2;
    CHECK_EQ(dm_op(peer, &px, sizeof(px)), -XEN_EINVAL);
    pl->level = 1;
    CHECK_EQ(dm_op(peer, &px, sizeof(px)), -XEN_EOPNOTSUPP);
    struct xen_dm_op rs = { .op = XEN_DMOP_remote_shutdown };
    rs.u.remote_shutdown.reason = 99;
    CHECK_EQ(dm_op(peer, &rs, sizeof(rs)), -XEN_EINVAL);
    CHECK_EQ(dm_op(other, &rs, sizeof(rs)), -XEN_EPERM);
    printf("dm_op: buffers, ops and targets refused\n");

    /* create: arguments and the limit. */
    CHECK_EQ(create(peer, HVM_IOREQSRV_BUFIOREQ_ATOMIC, NULL), -XEN_EOPNOTSUPP);
    CHECK_EQ(create(peer, 3, NULL), -XEN_EINVAL);
    op.u.create_ioreq_server.pad[1] = 1;
    CHECK_EQ(dm_op(peer, &op, sizeof(op)), -XEN_EINVAL);
    ioservid_t id = 99, more;
    CHECK_EQ(create(peer, HVM_IOREQSRV_BUFIOREQ_OFF, &id), 0);
    CHECK_EQ(id, 0);
    for (unsigned i = 1; i < 8; i++) {
        CHECK_EQ(create(peer, 0, &more), 0);
        CHECK_EQ(more, i);
    }
    CHECK_EQ(create(peer, 0, &more), -XEN_ENOSPC);
    for (unsigned i = 1; i < 8; i++)
        CHECK_EQ(destroy(peer, (ioservid_t)i), 0);
    CHECK_EQ(destroy(peer, 1), -XEN_ENOENT);
    CHECK_EQ(destroy(peer, 8), -XEN_ENOENT);
    printf("create_ioreq_server: arguments refused, 8 at most, destroyed\n");

    /* get_ioreq_server_info. */
    CHECK_EQ(info(peer, id, 0), -XEN_EOPNOTSUPP);             /* no legacy GFNs */
    CHECK_EQ(info(peer, id, 2), -XEN_EINVAL);
    CHECK_EQ(info(peer, 9, XEN_DMOP_no_gfns), -XEN_ENOENT);
    CHECK_EQ(info(peer, id, XEN_DMOP_no_gfns), 0);

    /* ranges */
    uint32_t map = XEN_DMOP_map_io_range_to_ioreq_server;
    uint32_t unmap = XEN_DMOP_unmap_io_range_from_ioreq_server;
    CHECK_EQ(range(peer, map, id, XEN_DMOP_IO_RANGE_PORT, 0x3ff, 0x3f8), -XEN_EINVAL);
    CHECK_EQ(range(peer, map, id, XEN_DMOP_IO_RANGE_PORT, 0xfff0, 0x10000), -XEN_EINVAL);
    CHECK_EQ(range(peer, map, id, 7, 0, 1), -XEN_EINVAL);
    CHECK_EQ(range(peer, map, 5, XEN_DMOP_IO_RANGE_PORT, 0x3f8, 0x3ff), -XEN_ENOENT);
    CHECK_EQ(range(peer, map, id, XEN_DMOP_IO_RANGE_PORT, 0x3f8, 0x3ff), 0);
    CHECK_EQ(range(peer, map, id, XEN_DMOP_IO_RANGE_PORT, 0x3fc, 0x400), -XEN_EEXIST);
    CHECK_EQ(range(peer, unmap, id, XEN_DMOP_IO_RANGE_PORT, 0x3f8, 0x3fb), -XEN_ENOENT);
    CHECK_EQ(range(peer, map, id, XEN_DMOP_IO_RANGE_PORT, 0x2f8, 0x2ff), 0);
    CHECK_EQ(range(peer, unmap, id, XEN_DMOP_IO_RANGE_PORT, 0x2f8, 0x2ff), 0);
    printf("ranges: empty, past 0xffff, unknown, overlapping, unmapped differently: refused\n");

    /* HVM params: its target's readable (the builder's store ring at the
     * top of its 4 MiB), not writable; a bad index; a PV domain's none. */
    uint64_t pv = 0;
    CHECK_EQ(param(HVMOP_get_param, peer, HVM_PARAM_STORE_PFN, &pv), 0);
    CHECK_EQ(pv, 1021);
    pv = 5;
    CHECK_EQ(param(HVMOP_set_param, peer, HVM_PARAM_STORE_PFN, &pv), -XEN_EPERM);
    CHECK_EQ(param(HVMOP_get_param, peer, HVM_NR_PARAMS, &pv), -XEN_EINVAL);
    CHECK_EQ(param(HVMOP_get_param, other, HVM_PARAM_STORE_PFN, &pv), -XEN_EINVAL);
    CHECK_EQ(param(HVMOP_get_param, peer, HVM_PARAM_STORE_PFN, &pv), 0);
    CHECK_EQ(pv, 1021);
    printf("hvm params: the target's read, set refused\n");

    /* acquire_resource */
    xen_pfn_t f[4];
    uint32_t n = 0;
    CHECK_EQ(acquire(peer, XENMEM_resource_ioreq_server, id, 0, 0, NULL, &n), 0);
    CHECK_EQ(n, 2);
    CHECK_EQ(acquire(peer, XENMEM_resource_ioreq_server, id, 0, 1, NULL, NULL), -XEN_EINVAL);
    CHECK_EQ(acquire(peer, XENMEM_resource_ioreq_server, id, 0, 1, f, NULL), -XEN_EINVAL);
    CHECK_EQ(acquire(peer, XENMEM_resource_ioreq_server, id, 2, 1, f, NULL), -XEN_EINVAL);
    CHECK_EQ(acquire(peer, XENMEM_resource_ioreq_server, id, 1, 2, f, NULL), -XEN_EINVAL);
    CHECK_EQ(acquire(peer, XENMEM_resource_ioreq_server, id, 1, 0, f, NULL), -XEN_EINVAL);
    CHECK_EQ(acquire(peer, XENMEM_resource_ioreq_server, 5, 1, 1, f, NULL), -XEN_ENOENT);
    CHECK_EQ(acquire(peer, XENMEM_resource_grant_table, 0, 0, 1, f, NULL), -XEN_EOPNOTSUPP);
    CHECK_EQ(acquire(other, XENMEM_resource_ioreq_server, 0, 1, 1, f, NULL), -XEN_EPERM);
    CHECK_EQ(acquire(peer, XENMEM_resource_ioreq_server, id, 1, 1, (xen_pfn_t *)BAD_VA, NULL),
             -XEN_EFAULT);
    CHECK_EQ(acquire(peer, XENMEM_resource_ioreq_server, id, 1, 1, f, NULL), 0);
    printf("acquire_resource: frames, types, servers and domains refused\n");

    long err;
    unsigned long mfn = f[0];
    shared_iopage_t *page = minios_map_foreign(peer, &mfn, 1, 1, &err);
    CHECK_EQ(err, 0);
    if (!page)
        return test_finish();
    evtchn_port_t lp;
    CHECK_EQ(minios_evtchn_bind_interdomain(peer, page->vcpu_ioreq[0].vp_eport, &lp), 0);
    struct xen_dm_op en = { .op = XEN_DMOP_set_ioreq_server_state };
    en.u.set_ioreq_server_state.id = id;
    en.u.set_ioreq_server_state.enabled = 1;
    CHECK_EQ(dm_op(peer, &en, sizeof(en)), 0);

    /* Hostile: garbage in vCPU 0's slot, then let d1 run. */
    *((volatile uint8_t *)&page->vcpu_ioreq[0] + 30) = 0xff;
    CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, other), -XEN_EPERM);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, peer), 0);
    CHECK_EQ(domctl_simple(XEN_DOMCTL_pausedomain, peer), -XEN_EPERM);
    struct xen_domctl_getdomaininfo di;
    for (int i = 0; i < 500; i++) {
        if (getdomaininfo(peer, &di) != 0 || di.domain != peer ||
            (di.flags & XEN_DOMINF_shutdown))
            break;
        minios_sleep_ns(10 * MS);
    }
    printf("hostile slot: d%u stopped\n", peer);
    return test_finish();
}
