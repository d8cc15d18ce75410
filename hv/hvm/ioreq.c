/*
 * ioreq servers: the device model's side of an HVM/PVH domain's I/O, as
 * Xen 4.17's (xen/common/ioreq.c, xen/arch/x86/hvm/dm.c): a device-model
 * domain (role=dm for this target, or control) makes a server with
 * dm_op, maps its ioreq page with XENMEM_acquire_resource, binds each
 * vCPU's event channel, claims port (and later MMIO) ranges and enables
 * it.  A guest access in a claimed range is written into the vCPU's slot
 * of that page (STATE_IOREQ_READY), the device model is notified, and the
 * vCPU does not run again until the slot says STATE_IORESP_READY.
 * docs/hvm.md, "The device model and ioreq servers".
 */
#define __XEN_TOOLS__ 1
#include "lib.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "event.h"
#include "xsm.h"
#include "hvm.h"
#include "guest_access.h"
#include "hvm_internal.h"
#include <xen/errno.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/hvm/hvm_op.h>

/* As Xen's MAX_NR_IOREQ_SERVERS; ranges per server (Xen: 256 of each
 * type, MAX_NR_IO_RANGES); vCPUs one ioreq page serves. */
#define HVM_IOREQ_SERVERS 8
#define HVM_IOREQ_RANGES 32
#define HVM_IOREQ_VCPUS (PAGE_SIZE / sizeof(ioreq_t))

struct hvm_ioreq_server {
    bool used, enabled;
    domid_t emulator;                   /* the domain that made it */
    uint64_t ioreq_mfn;                 /* the target's frame, outside its p2m */
    unsigned nr_ranges;
    struct { uint64_t s, e; uint32_t type; } r[HVM_IOREQ_RANGES];
    uint32_t port[HVM_IOREQ_VCPUS];     /* each vCPU's channel (the target's port) */
};

struct hvm_ioreq {
    struct hvm_ioreq_server s[HVM_IOREQ_SERVERS];
};

static unsigned ioreq_order(void)
{
    unsigned o = 0;
    while (((uint64_t)PAGE_SIZE << o) < sizeof(struct hvm_ioreq))
        o++;
    return o;
}

static ioreq_t *slot(const struct hvm_ioreq_server *s, unsigned vcpu)
{
    return &((shared_iopage_t *)pfn_to_virt(s->ioreq_mfn))->vcpu_ioreq[vcpu];
}

/* The state nibble shares its byte with data_is_ptr, dir and df: read and
 * written as that whole byte (offset 30 of the 32-byte ioreq_t). */
#define IOREQ_STATE_BYTE 30
_Static_assert(sizeof(ioreq_t) == 32, "ioreq_t layout");

static uint8_t *state_byte(ioreq_t *p)
{
    return (uint8_t *)p + IOREQ_STATE_BYTE;
}

static unsigned slot_state(ioreq_t *p)
{
    return __atomic_load_n(state_byte(p), __ATOMIC_ACQUIRE) & 0xf;
}

/* A hypervisor frame shared with d that goes back while d lives (a
 * destroyed server's page): the writable type it was given, then the
 * allocation's reference; a device model's mapping keeps it until unmapped. */
static void shared_page_release(struct domain *d, uint64_t mfn)
{
    if (d->shutdown)
        return;                          /* the reaper frees it with d */
    frame_table[mfn].flags &= (uint8_t)~PGF_HV_SHARED;
    put_page_type(mfn);
    put_page(mfn);
}

/* ---- dm_op ----------------------------------------------------------- */

static struct hvm_ioreq_server *server_of(struct domain *d, unsigned id, struct domain *cur,
                                          long *rc)
{
    struct hvm_ioreq *st = d->arch.hvm.ioreq;
    if (!st || id >= HVM_IOREQ_SERVERS || !st->s[id].used) {
        *rc = -XEN_ENOENT;
        return NULL;
    }
    if (st->s[id].emulator != cur->id) {
        *rc = -XEN_EPERM;                /* Xen: only the server's own emulator */
        return NULL;
    }
    return &st->s[id];
}

static void server_destroy(struct domain *d, struct hvm_ioreq_server *s)
{
    for (unsigned i = 0; i < d->nr_vcpus && i < HVM_IOREQ_VCPUS; i++)
        if (s->port[i])
            evtchn_close_port(d, s->port[i]);
    uint64_t mfn = s->ioreq_mfn;
    *s = (struct hvm_ioreq_server){ 0 };
    /* A vCPU waiting on it gets the null handler's answer (ioreq_complete). */
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i] && __atomic_load_n(&d->vcpu[i]->arch.hvm.io.wait, __ATOMIC_ACQUIRE))
            vcpu_wake(d->vcpu[i]);
    shared_page_release(d, mfn);
}

static long create_server(struct domain *d, struct domain *cur,
                          struct xen_dm_op_create_ioreq_server *c)
{
    if (c->pad[0] || c->pad[1] || c->pad[2])
        return -XEN_EINVAL;
    if (c->handle_bufioreq > HVM_IOREQSRV_BUFIOREQ_ATOMIC)
        return -XEN_EINVAL;
    /* Keel's hypervisor emulates no device that writes buffered (Xen's
     * only one is its stdvga): a buffered page is not offered. */
    if (c->handle_bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF)
        return -XEN_EOPNOTSUPP;
    if (d->nr_vcpus > HVM_IOREQ_VCPUS)
        return -XEN_EOPNOTSUPP;
    if (!d->arch.hvm.ioreq) {
        struct hvm_ioreq *st = alloc_hv_pages(ioreq_order());
        if (!st)
            return -XEN_ENOMEM;
        memset(st, 0, sizeof(*st));
        __atomic_store_n(&d->arch.hvm.ioreq, st, __ATOMIC_RELEASE);
    }
    struct hvm_ioreq *st = d->arch.hvm.ioreq;
    unsigned id = 0;
    while (id < HVM_IOREQ_SERVERS && st->s[id].used)
        id++;
    if (id == HVM_IOREQ_SERVERS)
        return -XEN_ENOSPC;
    struct hvm_ioreq_server *s = &st->s[id];
    uint64_t mfn;
    if (domain_alloc_shared_page(d, &mfn))
        return -XEN_ENOMEM;
    *s = (struct hvm_ioreq_server){ .used = true, .emulator = (domid_t)cur->id,
                                    .ioreq_mfn = mfn };
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        long port = evtchn_alloc_xen_port(d, i, (domid_t)cur->id);
        if (port < 0) {
            server_destroy(d, s);
            return port;
        }
        s->port[i] = (uint32_t)port;
        slot(s, i)->vp_eport = (uint32_t)port;
    }
    c->id = (ioservid_t)id;
    return 0;
}

static long map_range(struct hvm_ioreq_server *s, const struct xen_dm_op_ioreq_server_range *r,
                      bool map)
{
    if (r->pad || r->start > r->end)
        return -XEN_EINVAL;
    switch (r->type) {
    case XEN_DMOP_IO_RANGE_PORT:
        if (r->end > 0xffff)
            return -XEN_EINVAL;
        break;
    case XEN_DMOP_IO_RANGE_MEMORY:
        break;
    case XEN_DMOP_IO_RANGE_PCI:
        if (r->end > 0xffffffffULL)
            return -XEN_EINVAL;          /* an SBDF is 32 bits (XEN_DMOP_PCI_SBDF) */
        break;
    default:
        return -XEN_EINVAL;
    }
    unsigned i;
    for (i = 0; i < s->nr_ranges; i++)
        if (s->r[i].type == r->type && s->r[i].s <= r->end && r->start <= s->r[i].e)
            break;
    if (map) {
        if (i < s->nr_ranges)
            return -XEN_EEXIST;          /* as Xen: an overlap */
        if (s->nr_ranges == HVM_IOREQ_RANGES)
            return -XEN_ENOSPC;
        s->r[s->nr_ranges].s = r->start;
        s->r[s->nr_ranges].e = r->end;
        s->r[s->nr_ranges].type = r->type;
        __atomic_store_n(&s->nr_ranges, s->nr_ranges + 1, __ATOMIC_RELEASE);
        return 0;
    }
    /* Unmapped only exactly as mapped (Xen: -ENOENT otherwise). */
    if (i == s->nr_ranges || s->r[i].s != r->start || s->r[i].e != r->end)
        return -XEN_ENOENT;
    s->r[i] = s->r[--s->nr_ranges];
    return 0;
}

/* The op on d (an HVM domain the caller may serve), under d's lock. */
static long dm_op_locked(struct domain *d, struct domain *cur, struct xen_dm_op *op)
{
    long rc = 0;
    struct hvm_ioreq_server *s;
    switch (op->op) {
    case XEN_DMOP_create_ioreq_server:
        return create_server(d, cur, &op->u.create_ioreq_server);
    case XEN_DMOP_get_ioreq_server_info: {
        struct xen_dm_op_get_ioreq_server_info *g = &op->u.get_ioreq_server_info;
        if (g->flags & ~XEN_DMOP_no_gfns)
            return -XEN_EINVAL;
        if (!(s = server_of(d, g->id, cur, &rc)))
            return rc;
        /* The legacy ioreq pages in the guest's own frames are not made:
         * the page is mapped with XENMEM_acquire_resource. */
        if (!(g->flags & XEN_DMOP_no_gfns))
            return -XEN_EOPNOTSUPP;
        g->bufioreq_port = 0;
        return 0;
    }
    case XEN_DMOP_map_io_range_to_ioreq_server:
    case XEN_DMOP_unmap_io_range_from_ioreq_server: {
        struct xen_dm_op_ioreq_server_range *r = &op->u.map_io_range_to_ioreq_server;
        if (!(s = server_of(d, r->id, cur, &rc)))
            return rc;
        return map_range(s, r, op->op == XEN_DMOP_map_io_range_to_ioreq_server);
    }
    case XEN_DMOP_set_ioreq_server_state: {
        struct xen_dm_op_set_ioreq_server_state *e = &op->u.set_ioreq_server_state;
        if (e->pad)
            return -XEN_EINVAL;
        if (!(s = server_of(d, e->id, cur, &rc)))
            return rc;
        __atomic_store_n(&s->enabled, e->enabled != 0, __ATOMIC_RELEASE);
        return 0;
    }
    case XEN_DMOP_destroy_ioreq_server: {
        struct xen_dm_op_destroy_ioreq_server *x = &op->u.destroy_ioreq_server;
        if (x->pad)
            return -XEN_EINVAL;
        if (!(s = server_of(d, x->id, cur, &rc)))
            return rc;
        server_destroy(d, s);
        return 0;
    }
    default:
        return -XEN_EOPNOTSUPP;
    }
}

/* The size of each op's argument (Xen's op_size table); 0: not offered. */
static size_t op_size(uint32_t op)
{
    switch (op) {
    case XEN_DMOP_create_ioreq_server:
        return sizeof(struct xen_dm_op_create_ioreq_server);
    case XEN_DMOP_get_ioreq_server_info:
        return sizeof(struct xen_dm_op_get_ioreq_server_info);
    case XEN_DMOP_map_io_range_to_ioreq_server:
    case XEN_DMOP_unmap_io_range_from_ioreq_server:
        return sizeof(struct xen_dm_op_ioreq_server_range);
    case XEN_DMOP_set_ioreq_server_state:
        return sizeof(struct xen_dm_op_set_ioreq_server_state);
    case XEN_DMOP_destroy_ioreq_server:
        return sizeof(struct xen_dm_op_destroy_ioreq_server);
    case XEN_DMOP_remote_shutdown:
        return sizeof(struct xen_dm_op_remote_shutdown);
    case XEN_DMOP_set_isa_irq_level:
        return sizeof(struct xen_dm_op_set_isa_irq_level);
    case XEN_DMOP_set_pci_intx_level:
        return sizeof(struct xen_dm_op_set_pci_intx_level);
    default:
        return 0;
    }
}

/*
 * dm_op (Xen's do_dm_op): at most two buffers (-E2BIG), the list read
 * (-EFAULT); the target another existing domain (-ESRCH, the caller itself
 * -EPERM), one the caller may serve (its role=dm target, or a control
 * domain: -EPERM), an HVM/PVH domain (-EINVAL); buffer 0 holds a
 * struct xen_dm_op at least as long as its op needs (-EFAULT), nonzero
 * padding -EINVAL, an op Keel does not offer -EOPNOTSUPP.  The struct is
 * copied back after create and get_info, as Xen does.
 */
long do_dm_op(unsigned long domid, unsigned long nr_bufs, unsigned long bufs,
              unsigned long a4, unsigned long a5)
{
    (void)a4, (void)a5;
    xen_dm_op_buf_t b[2];
    unsigned n = (unsigned)nr_bufs;
    if (n > ARRAY_SIZE(b))
        return -XEN_E2BIG;
    if (n == 0)
        return -XEN_EFAULT;
    if (copy_from_guest(b, bufs, n * sizeof(b[0])))
        return -XEN_EFAULT;
    struct domain *cur = current_domain();
    struct domain *d = domain_get((domid_t)domid);
    if (!d)
        return -XEN_ESRCH;
    long rc;
    struct xen_dm_op op;
    size_t head = offsetof(struct xen_dm_op, u);
    if (d == cur)
        rc = -XEN_EPERM;
    else if ((rc = xsm_default_action(XSM_DM_PRIV, cur, d)))
        ;
    else if (d->arch.type == GUEST_PV)
        rc = -XEN_EINVAL;                /* as Xen's !is_hvm_domain */
    else if (b[0].size < head || b[0].size > sizeof(op))
        rc = -XEN_EFAULT;
    else {
        memset(&op, 0, sizeof(op));
        if (copy_from_guest(&op, (unsigned long)b[0].h.p, b[0].size))
            rc = -XEN_EFAULT;
        else if (op.pad)
            rc = -XEN_EINVAL;
        else if (!op_size(op.op))
            rc = -XEN_EOPNOTSUPP;
        else if (b[0].size < head + op_size(op.op))
            rc = -XEN_EFAULT;
        else if (op.op == XEN_DMOP_remote_shutdown) {
            /* As SCHEDOP_remote_shutdown (the machine's reset or power
             * register): a known reason only (Xen passes any on). */
            if (op.u.remote_shutdown.reason > SHUTDOWN_MAX)
                rc = -XEN_EINVAL;
            else
                domain_shutdown(d, op.u.remote_shutdown.reason);
        } else if (op.op == XEN_DMOP_set_isa_irq_level) {
            /* As Xen: IRQ 0-15, level 0 or 1; only where the PICs are
             * (a type=hvm domain; PVH has none, as on Xen). */
            struct xen_dm_op_set_isa_irq_level *l = &op.u.set_isa_irq_level;
            if (l->isa_irq > 15 || l->level > 1)
                rc = -XEN_EINVAL;
            else if (!d->arch.hvm.firmware)
                rc = -XEN_EOPNOTSUPP;
            else
                hvm_isa_irq_level(d, l->isa_irq, l->level);
        } else if (op.op == XEN_DMOP_set_pci_intx_level) {
            /* As Xen: segment and bus 0, device 0-31, INTA-INTD, level 0
             * or 1; its GSI on the I/O APIC (16-47, the DSDT's _PRT).  No
             * PIIX3 link routing to the PICs (set_pci_link_route is not
             * offered): APIC mode only. */
            struct xen_dm_op_set_pci_intx_level *l = &op.u.set_pci_intx_level;
            if (l->domain || l->bus || l->device > 31 || l->intx > 3 || l->level > 1)
                rc = -XEN_EINVAL;
            else if (!d->arch.hvm.firmware)
                rc = -XEN_EOPNOTSUPP;
            else
                vioapic_pci_intx(d, l->device, l->intx, l->level);
        } else {
            domain_lock(d);
            rc = d->shutdown ? -XEN_ESRCH : dm_op_locked(d, cur, &op);
            domain_unlock(d);
            if (!rc && (op.op == XEN_DMOP_create_ioreq_server ||
                        op.op == XEN_DMOP_get_ioreq_server_info) &&
                copy_to_guest((unsigned long)b[0].h.p, &op, head + op_size(op.op)))
                rc = -XEN_EFAULT;
        }
    }
    domain_put(d);
    return rc;
}

/* ---- XENMEM_acquire_resource ------------------------------------------ */

/*
 * For a PV caller, as Xen's acquire_resource: the machine frames of
 * resource `id` of type `type` of domain domid, from frame `frame` on,
 * written to frame_list; the caller maps them with mmu_update
 * (MMU_PT_UPDATE_NO_TRANSLATE, the target as foreign domain).  With no
 * list and nr_frames 0, the number of frames.  Only ioreq servers, by
 * their emulator: frame 0 is the buffered page (none: -EINVAL), frame 1
 * the ioreq page.  A translated (PVH) caller: -EOPNOTSUPP.
 */
long hvm_acquire_resource(unsigned long arg)
{
    struct xen_mem_acquire_resource a;
    if (copy_from_guest(&a, arg, sizeof(a)))
        return -XEN_EFAULT;
    struct domain *cur = current_domain();
    if (cur->arch.type != GUEST_PV)
        return -XEN_EOPNOTSUPP;
    if (a.pad)
        return -XEN_EINVAL;
    struct domain *d = domain_get(a.domid == DOMID_SELF ? cur->id : a.domid);
    if (!d)
        return -XEN_ESRCH;
    long rc = xsm_default_action(XSM_DM_PRIV, cur, d);
    if (!rc && a.type != XENMEM_resource_ioreq_server)
        rc = -XEN_EOPNOTSUPP;
    if (!rc && d->arch.type == GUEST_PV)
        rc = -XEN_EINVAL;
    if (!rc && !a.frame_list.p) {
        if (a.nr_frames)
            rc = -XEN_EINVAL;
        else {
            a.nr_frames = 2;             /* the buffered page's slot, the ioreq page */
            rc = copy_to_guest(arg, &a, sizeof(a));
        }
        domain_put(d);
        return rc;
    }
    xen_pfn_t f[2];
    if (!rc && (a.nr_frames == 0 || a.frame > 1 || a.nr_frames > 2 - a.frame))
        rc = -XEN_EINVAL;
    if (!rc) {
        domain_lock(d);
        struct hvm_ioreq_server *s = d->shutdown ? NULL : server_of(d, a.id, cur, &rc);
        if (d->shutdown)
            rc = -XEN_ESRCH;
        else if (s && a.frame == 0)
            rc = -XEN_EINVAL;            /* no buffered page (create_server) */
        else if (s)
            f[0] = s->ioreq_mfn;
        domain_unlock(d);
    }
    if (!rc && copy_to_guest((unsigned long)a.frame_list.p, f, a.nr_frames * sizeof(f[0])))
        rc = -XEN_EFAULT;
    domain_put(d);
    return rc;
}

/* ---- the guest's side ------------------------------------------------- */

/* The enabled server claiming [addr, addr + size - 1] of a type, under
 * d's lock; its index, or -1. */
static int claim(struct hvm_ioreq *st, uint32_t rtype, uint64_t addr, unsigned size)
{
    for (unsigned id = 0; id < HVM_IOREQ_SERVERS; id++) {
        struct hvm_ioreq_server *c = &st->s[id];
        if (!c->used || !c->enabled)
            continue;
        for (unsigned i = 0; i < c->nr_ranges; i++)
            if (c->r[i].type == rtype && c->r[i].s <= addr && addr + size - 1 <= c->r[i].e)
                return (int)id;
    }
    return -1;
}

/* One access as it is sent: a single one carries its data (a write's), one
 * by pointer (a REP INS/OUTS) count elements at guest-physical gpa. */
struct io_acc {
    uint8_t type;
    uint64_t addr;
    unsigned size;
    bool write, ptr, df;
    uint32_t count;
    uint64_t gpa;
};

/* Sends one access to server id for v, which then waits; under d's lock,
 * which it drops.  The access is written into v's slot, the state last. */
static void send(struct vcpu *v, unsigned id, const struct io_acc *a, uint64_t data, bool emul,
                 uint64_t next_rip)
{
    struct domain *d = v->domain;
    struct hvm_ioreq_server *s = &d->arch.hvm.ioreq->s[id];
    ioreq_t *p = slot(s, v->id);
    unsigned state = slot_state(p);
    if (state != STATE_IOREQ_NONE) {
        domain_unlock(d);
        domain_crash(d, "its device model d%u left the ioreq slot of vCPU %u in state %u",
                     s->emulator, v->id, state);
        return;
    }
    p->addr = a->addr;
    p->data = a->ptr ? a->gpa : a->write ? data : 0;
    p->count = a->ptr ? a->count : 1;
    p->size = a->size;
    p->vp_eport = s->port[v->id];
    p->type = a->type;
    struct hvm_io_wait *io = &v->arch.hvm.io;
    io->emul = emul;
    io->srv = (uint8_t)id;
    io->size = (uint8_t)a->size;
    io->dir = a->write ? IOREQ_WRITE : IOREQ_READ;
    io->type = a->type;
    io->addr = a->addr;
    io->ptr = a->ptr;
    io->df = a->ptr && a->df;
    io->count = a->ptr ? a->count : 1;
    io->gpa = a->ptr ? a->gpa : 0;
    io->next_rip = next_rip;
    __atomic_store_n(&io->wait, true, __ATOMIC_RELEASE);
    /* state READY, data_is_ptr, dir, df: one release store. */
    __atomic_store_n(state_byte(p),
                     (uint8_t)(STATE_IOREQ_READY | (io->ptr << 4) | (io->dir << 5) | (io->df << 6)),
                     __ATOMIC_RELEASE);
    unsigned port = s->port[v->id];
    domain_unlock(d);
    evtchn_send_xen(d, port);
}

/*
 * Where a port access goes, as Xen's arch_ioreq_server_get_type_addr: a
 * 32-bit write to 0xcf8 is latched (and goes on as a port access); an
 * access to 0xcfc-0xcff while the latch has its enable bit is a config
 * cycle of the device it names, claimed by SBDF (XEN_DMOP_IO_RANGE_PCI)
 * and sent as IOREQ_TYPE_PCI_CONFIG with addr = SBDF << 32 | register;
 * anything else is a port.  Under d's lock; the server or -1.
 */
static int claim_port(struct domain *d, struct hvm_ioreq *st, unsigned port, unsigned size,
                      bool write, uint32_t val, uint8_t *type, uint64_t *addr)
{
    if (port == 0xcf8 && size == 4 && write)
        d->arch.hvm.pci_cf8 = val;
    uint32_t cf8 = d->arch.hvm.pci_cf8;
    if ((port & ~3u) == 0xcfc && (cf8 & 0x80000000u)) {
        uint32_t sbdf = (cf8 >> 8) & 0xffff;                 /* segment 0, bus, dev, fn */
        uint32_t reg = (cf8 & 0xfc) | (port & 3);
        *type = IOREQ_TYPE_PCI_CONFIG;
        *addr = ((uint64_t)sbdf << 32) | reg;
        return claim(st, XEN_DMOP_IO_RANGE_PCI, sbdf, 1);
    }
    *type = IOREQ_TYPE_PIO;
    *addr = port;
    return claim(st, XEN_DMOP_IO_RANGE_PORT, port, size);
}

/* A port access of v (not a string one): sent to the enabled server that
 * claims it (claim_port), if any; then true, and v waits. */
bool hvm_ioreq_pio(struct vcpu *v, unsigned port, unsigned size, bool in, uint32_t val,
                   uint64_t next_rip)
{
    struct domain *d = v->domain;
    struct hvm_ioreq *st = __atomic_load_n(&d->arch.hvm.ioreq, __ATOMIC_ACQUIRE);
    if (!st || v->id >= HVM_IOREQ_VCPUS)
        return false;
    domain_lock(d);
    uint8_t type;
    uint64_t addr;
    int id = claim_port(d, st, port, size, !in, val, &type, &addr);
    if (id < 0) {
        domain_unlock(d);
        return false;
    }
    struct io_acc a = { .type = type, .addr = addr, .size = size, .write = !in };
    send(v, (unsigned)id, &a, val, false, next_rip);
    return true;
}

/*
 * An access the instruction emulator makes (mmio.c).  As Xen's hvmemul
 * cache: the instruction runs again after each answer, so its accesses up
 * to the one sent come back in the same order and are taken from the
 * answers kept (a different one crashes the guest); the answers go when
 * the instruction (or a REP iteration) is done.
 */
static int emul_access(struct vcpu *v, const struct io_acc *acc, uint64_t *val)
{
    struct hvm_io_wait *io = &v->arch.hvm.io;
    uint8_t dir = acc->write ? IOREQ_WRITE : IOREQ_READ;
    uint32_t count = acc->ptr ? acc->count : 1;
    if (io->pos < io->nr_done) {
        struct hvm_io_done *a = &io->done[io->pos];
        if (a->type != acc->type || a->addr != acc->addr || a->size != acc->size ||
            a->dir != dir || a->ptr != acc->ptr || a->count != count ||
            (acc->ptr && (a->data != acc->gpa || a->df != acc->df))) {
            domain_crash(v->domain, "an emulated instruction's I/O changed between runs "
                         "(%s %lx/%u x%u, was %s %lx/%u x%u)", acc->write ? "write" : "read",
                         (unsigned long)acc->addr, acc->size, count,
                         a->dir == IOREQ_WRITE ? "write" : "read", (unsigned long)a->addr,
                         a->size, a->count);
            return HVM_IO_FAILED;
        }
        io->pos++;
        if (!acc->write && !acc->ptr)
            *val = a->data;
        return HVM_IO_DONE;
    }
    struct domain *d = v->domain;
    struct hvm_ioreq *st = __atomic_load_n(&d->arch.hvm.ioreq, __ATOMIC_ACQUIRE);
    if (!st || v->id >= HVM_IOREQ_VCPUS)
        return HVM_IO_UNCLAIMED;
    domain_lock(d);
    struct io_acc sent = *acc;
    int id;
    if (acc->type == IOREQ_TYPE_PIO)
        id = claim_port(d, st, (unsigned)acc->addr, acc->size, acc->write,
                        acc->write ? (uint32_t)*val : 0, &sent.type, &sent.addr);
    else
        id = claim(st, XEN_DMOP_IO_RANGE_MEMORY, acc->addr, acc->size);
    if (id < 0 || (acc->ptr && sent.type != IOREQ_TYPE_PIO)) {
        domain_unlock(d);                /* (config cycles go one by one) */
        return HVM_IO_UNCLAIMED;
    }
    if (io->nr_done == ARRAY_SIZE(io->done)) {
        domain_unlock(d);
        domain_crash(d, "an emulated instruction made more than %u device accesses",
                     (unsigned)ARRAY_SIZE(io->done));
        return HVM_IO_FAILED;
    }
    send(v, (unsigned)id, &sent, acc->write ? *val : 0, true, 0);
    /* The answer is kept under the access as the emulator named it. */
    io->type = acc->type;
    io->addr = acc->addr;
    return HVM_IO_SENT;
}

int hvm_ioreq_emul(struct vcpu *v, uint8_t type, uint64_t addr, unsigned size, bool write,
                   uint64_t *val)
{
    struct io_acc a = { .type = type, .addr = addr, .size = size, .write = write };
    return emul_access(v, &a, val);
}

/* A REP INS (in) or OUTS of count elements of size bytes at port, by
 * pointer: the device model moves them between the port and the guest's
 * RAM at gpa (down from it with df) in one ioreq, as Xen sends a REP
 * string I/O whose memory is RAM (hvmemul_do_pio_addr).  The caller has
 * checked that the elements are RAM of one page; a port the device model
 * does not claim, or a PCI config cycle, is HVM_IO_UNCLAIMED. */
int hvm_ioreq_emul_rep(struct vcpu *v, unsigned port, unsigned size, bool in, uint64_t gpa,
                       uint32_t count, bool df)
{
    struct io_acc a = { .type = IOREQ_TYPE_PIO, .addr = port, .size = size, .write = !in,
                        .ptr = true, .df = df, .count = count, .gpa = gpa };
    uint64_t unused = 0;
    return emul_access(v, &a, &unused);
}

/* The emulator finished a run (not a retry) or a REP iteration. */
void hvm_ioreq_emul_done(struct vcpu *v)
{
    v->arch.hvm.io.nr_done = v->arch.hvm.io.pos = 0;
}

/* Before v runs with an I/O outstanding: true once the answer is taken
 * (IN/OUT: RAX for a read, RIP past the instruction; the emulator's: the
 * instruction run again, which may send the next access); false when v
 * must wait (it is blocked, to be woken by hvm_ioreq_notify) or was
 * crashed. */
bool hvm_ioreq_complete(struct vcpu *v, struct cpu_user_regs *r)
{
    struct domain *d = v->domain;
    struct hvm_io_wait *io = &v->arch.hvm.io;
    struct hvm_ioreq *st = d->arch.hvm.ioreq;
    uint64_t data = ~0ULL;                 /* the null handler's, if the server went */
    domain_lock(d);
    struct hvm_ioreq_server *s = &st->s[io->srv];
    if (s->used) {
        ioreq_t *p = slot(s, v->id);
        unsigned state = slot_state(p);
        if (state == STATE_IOREQ_READY || state == STATE_IOREQ_INPROCESS) {
            sched_block(v);
            if (slot_state(p) == STATE_IORESP_READY)
                vcpu_wake(v);                /* answered meanwhile */
            domain_unlock(d);
            return false;
        }
        if (state != STATE_IORESP_READY) {
            domain_unlock(d);
            domain_crash(d, "its device model d%u answered vCPU %u's ioreq with state %u",
                         s->emulator, v->id, state);
            return false;
        }
        data = p->data;
        __atomic_store_n(state_byte(p), STATE_IOREQ_NONE, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&io->wait, false, __ATOMIC_RELEASE);
    domain_unlock(d);
    uint64_t mask = io->size >= 8 ? ~0ULL : (1ULL << (io->size * 8)) - 1;
    if (io->emul) {
        io->done[io->nr_done++] = (struct hvm_io_done){
            .addr = io->addr, .data = io->ptr ? io->gpa : data & mask, .count = io->count,
            .type = io->type, .size = io->size, .dir = io->dir, .ptr = io->ptr, .df = io->df };
        hvm_emulate_insn(v, r, io->type == IOREQ_TYPE_COPY ? "MMIO" : "string I/O");
        return true;
    }
    if (io->dir == IOREQ_READ) {
        if (io->size == 4)
            r->rax = (uint32_t)data;                  /* 32-bit writes zero-extend */
        else
            r->rax = (r->rax & ~mask) | (data & mask);
    }
    r->rip = io->next_rip;
    return true;
}

/* The device model sent on its end of port (a channel of d the hypervisor
 * consumes), under its own event lock: the vCPU waiting on it may run. */
void hvm_ioreq_notify(struct domain *d, unsigned port)
{
    unsigned vcpu = d->evtchn[port].notify_vcpu;
    struct vcpu *v = vcpu < d->nr_vcpus ? d->vcpu[vcpu] : NULL;
    if (v && __atomic_load_n(&v->arch.hvm.io.wait, __ATOMIC_ACQUIRE))
        vcpu_wake(v);
}

/* The reaper, d dead: its ioreq state (pages and ports go with d). */
void hvm_ioreq_free(struct domain *d)
{
    if (d->arch.hvm.ioreq)
        free_hv_pages(d->arch.hvm.ioreq, ioreq_order());
    d->arch.hvm.ioreq = NULL;
}

static bool alive(unsigned id)
{
    struct domain *e = domain_get(id);
    bool a = e && !e->shutdown;
    if (e)
        domain_put(e);
    return a;
}

/* Whether a live role=dm domain names t as its target. */
static bool has_live_dm(struct domain *t)
{
    bool any = false;
    for (unsigned k = 1; k < DOMID_FIRST_RESERVED && !any; k++) {
        struct domain *m = domain_get(k);
        if (m && !m->shutdown && (m->roles & ROLE_DM) && xsm_dm_target(m) == t)
            any = true;
        if (m)
            domain_put(m);
    }
    return any;
}

/*
 * A device-model domain died (the reaper, no lock held): each HVM domain
 * one of whose servers it made dies too, since its devices are gone, and
 * so does one held at boot for a device model when none is left to let
 * it run.  "A crash of the device model kills only its guest."
 */
void hvm_ioreq_emulators_check(void)
{
    for (unsigned id = 1; id < DOMID_FIRST_RESERVED; id++) {
        struct domain *t = domain_get(id);
        if (!t)
            continue;
        if (t->arch.type != GUEST_PV && !t->shutdown) {
            domid_t ids[HVM_IOREQ_SERVERS];
            unsigned n = 0;
            domain_lock(t);
            struct hvm_ioreq *st = t->arch.hvm.ioreq;
            for (unsigned i = 0; st && i < HVM_IOREQ_SERVERS; i++)
                if (st->s[i].used)
                    ids[n++] = st->s[i].emulator;
            domain_unlock(t);
            for (unsigned i = 0; i < n; i++)
                if (!alive(ids[i])) {
                    domain_crash(t, "its device model d%u died", ids[i]);
                    break;
                }
            if (!t->shutdown && __atomic_load_n(&t->dm_held, __ATOMIC_ACQUIRE) &&
                !has_live_dm(t))
                domain_crash(t, "its device model died before letting it run");
        }
        domain_put(t);
    }
}
