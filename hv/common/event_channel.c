/* Event channels (<xen/event_channel.h>): ports, their states and
 * bindings, the 2-level ABI's pending and mask bits in shared_info and
 * vcpu_info set exactly as Xen sets them, virtual IRQs and upcall kicks.
 * A domain that registered a FIFO control block (event_fifo.c) has
 * d->fifo set: setting, clearing, testing and unmasking dispatch on it,
 * once, at their start. */
#include "lib.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "event.h"
#include "pci.h"
#include "timer.h"
#include "time.h"
#include "hypercall.h"
#include "xsm.h"
#include "hvm.h"
#include <xen/event_channel.h>

#define BITS_PER_WORD (sizeof(xen_ulong_t) * 8)
#define ABI_MAX_PORTS (BITS_PER_WORD * BITS_PER_WORD)   /* 4096 */

static bool test_and_set(xen_ulong_t *w, unsigned bit)
{
    xen_ulong_t m = (xen_ulong_t)1 << (bit % BITS_PER_WORD);
    return __atomic_fetch_or(&w[bit / BITS_PER_WORD], m, __ATOMIC_SEQ_CST) & m;
}

static bool test_and_clear(xen_ulong_t *w, unsigned bit)
{
    xen_ulong_t m = (xen_ulong_t)1 << (bit % BITS_PER_WORD);
    return __atomic_fetch_and(&w[bit / BITS_PER_WORD], ~m, __ATOMIC_SEQ_CST) & m;
}

static bool test(const xen_ulong_t *w, unsigned bit)
{
    return (__atomic_load_n(&w[bit / BITS_PER_WORD], __ATOMIC_SEQ_CST) >> (bit % BITS_PER_WORD)) & 1;
}

static bool virq_is_global(unsigned virq)
{
    return !(virq == VIRQ_TIMER || virq == VIRQ_DEBUG || virq == VIRQ_XENOPROF ||
             virq == VIRQ_XENPMU);
}

/*
 * Locking (docs/locking.md): a domain's event_lock covers its channel
 * table, valid_evtchns and its vCPUs' virq_to_evtchn; two domains' locks
 * are taken lower id first.  Pending, mask and selector bits are set with
 * atomic operations.  evtchn_set_pending(d, port) needs d's lock, or the
 * lock of the domain at the other end of a live interdomain channel to
 * port: d cannot close that channel (nor die, which closes it) without
 * that lock.  Operations that name another domain by id (alloc_unbound
 * for another, bind_interdomain, close, status of another, reset) hold a
 * reference to it (domain_get), and look again under its lock whether it
 * died meanwhile.
 */
static void ev_lock(struct domain *d)
{
    spin_lock_key(&d->event_lock, d->id);
}

static void ev_unlock(struct domain *d)
{
    spin_unlock(&d->event_lock);
}

static void ev_lock2(struct domain *a, struct domain *b)
{
    if (a == b) {
        ev_lock(a);
    } else if (a->id < b->id) {
        ev_lock(a);
        ev_lock(b);
    } else {
        ev_lock(b);
        ev_lock(a);
    }
}

static void ev_unlock2(struct domain *a, struct domain *b)
{
    ev_unlock(a);
    if (b != a)
        ev_unlock(b);
}

/* As Xen: a port is valid once the bucket holding it exists; buckets of
 * EVTCHNS_PER_BUCKET ports come into being as ports are allocated. */
#define EVTCHNS_PER_BUCKET 64

bool evtchn_port_valid(struct domain *d, unsigned port)
{
    return port < d->valid_evtchns;
}

/* A valid port's channel: valid ports exist only once the table does
 * (valid_evtchns is 0 before), so callers check evtchn_port_valid. */
static struct evtchn *chn(struct domain *d, unsigned port)
{
    if (!d->evtchn || port >= d->valid_evtchns)
        panic("evtchn: d%u port %u used without a check", d->id, port);
    return &d->evtchn[port];
}

static int ensure_table(struct domain *d)
{
    if (d->evtchn)
        return 0;
    unsigned order = 0;
    while (((uint64_t)PAGE_SIZE << order) < d->max_evtchns * sizeof(struct evtchn))
        order++;
    d->evtchn = alloc_hv_pages(order);
    if (!d->evtchn)
        return -XEN_ENOMEM;
    d->evtchn_order = order;
    return 0;
}

/* Port 0 is reserved, as in Xen; returns the lowest free port. */
static long get_free_port(struct domain *d)
{
    if (ensure_table(d))
        return -XEN_ENOMEM;
    for (unsigned p = 1; p < d->max_evtchns && p < ABI_MAX_PORTS; p++) {
        if (d->evtchn[p].state == EVTCHNSTAT_closed) {
            /* FIFO: a port still on a queue is busy (Xen skips it). */
            if (d->fifo && evtchn_fifo_is_busy(d, p))
                continue;
            if (p >= d->valid_evtchns)
                d->valid_evtchns = MIN(ROUNDUP(p + 1, EVTCHNS_PER_BUCKET), d->max_evtchns);
            if (d->fifo)
                evtchn_fifo_port_init(d, p);
            return p;
        }
    }
    return -XEN_ENOSPC;
}

void vcpu_mark_events_pending(struct vcpu *v)
{
    if (__atomic_exchange_n(&v->vcpu_info->evtchn_upcall_pending, 1, __ATOMIC_SEQ_CST))
        return;
    if (v->state == VCPU_BLOCKED)
        vcpu_wake(v);
    else
        vcpu_kick(v);            /* running elsewhere: deliver it now */
}

/* Wake vCPUs in SCHEDOP_poll on this port (or on several ports). */
static inline void wake_pollers(struct domain *d, unsigned port)
{
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *p = d->vcpu[i];
        if (p && p->polling && p->state == VCPU_BLOCKED &&
            (p->poll_port < 0 || (unsigned)p->poll_port == port))
            vcpu_wake(p);
    }
}

void evtchn_wake_pollers(struct domain *d, unsigned port)
{
    wake_pollers(d, port);
}

/* The send path: 2-level inline, FIFO (a pointer seldom set) out of line. */
void evtchn_set_pending(struct domain *d, unsigned port)
{
    shared_info_t *s = d->shared_info;
    if (d->shutdown || !s)
        return;
    if (__builtin_expect(__atomic_load_n(&d->fifo, __ATOMIC_ACQUIRE) != NULL, 0)) {
        evtchn_fifo_set_pending(d, port);
        return;
    }
    struct vcpu *v = d->vcpu[d->evtchn[port].notify_vcpu];
    if (test_and_set(s->evtchn_pending, port))
        return;
    if (!test(s->evtchn_mask, port) &&
        !test_and_set(&v->vcpu_info->evtchn_pending_sel, port / BITS_PER_WORD))
        vcpu_mark_events_pending(v);
    wake_pollers(d, port);
}

/* SCHEDOP_poll, holding no lock: a FIFO domain's words are looked at
 * under its event lock (EVTCHNOP_reset may take them away). */
bool evtchn_port_pending(struct domain *d, unsigned port)
{
    if (__builtin_expect(d->fifo != NULL, 0)) {
        ev_lock(d);
        bool r = d->fifo ? evtchn_fifo_is_pending(d, port)
                         : d->shared_info && test(d->shared_info->evtchn_pending, port);
        ev_unlock(d);
        return r;
    }
    return d->shared_info && test(d->shared_info->evtchn_pending, port);
}

void send_guest_vcpu_virq(struct vcpu *v, unsigned virq)
{
    struct domain *d = v->domain;
    ev_lock(d);
    unsigned port = v->virq_to_evtchn[virq];
    if (port)
        evtchn_set_pending(d, port);
    ev_unlock(d);
}

void send_guest_global_virq(struct domain *d, unsigned virq)
{
    if (!d->vcpu[0])
        return;
    ev_lock(d);
    unsigned port = d->vcpu[0]->virq_to_evtchn[virq];
    if (port)
        evtchn_set_pending(d, port);
    ev_unlock(d);
}

static void clear_pending(struct domain *d, unsigned port)
{
    if (d->fifo)
        evtchn_fifo_clear_pending(d, port);
    else if (d->shared_info)
        test_and_clear(d->shared_info->evtchn_pending, port);
}

/* Frees a port; the peer of an interdomain channel becomes unbound again,
 * waiting for this domain.  Called with d's lock, and for an interdomain
 * channel the peer's (close_port finds and takes it). */
static long close_port_locked(struct domain *d, unsigned port)
{
    if (!evtchn_port_valid(d, port))
        return -XEN_EINVAL;
    struct evtchn *c = chn(d, port);
    switch (c->state) {
    case EVTCHNSTAT_closed:
        return -XEN_EINVAL;
    case EVTCHNSTAT_unbound:
    case EVTCHNSTAT_ipi:
        break;
    case EVTCHNSTAT_virq:
        for (unsigned i = 0; i < d->nr_vcpus; i++)
            if (d->vcpu[i] && d->vcpu[i]->virq_to_evtchn[c->u] == port)
                d->vcpu[i]->virq_to_evtchn[c->u] = 0;
        break;
    case EVTCHNSTAT_pirq:
        if (c->u < NR_PIRQS && d->pirq_port[c->u] == port) {
            d->pirq_port[c->u] = 0;
            pci_pirq_mask(d, c->u, true);
        }
        break;
    case EVTCHNSTAT_interdomain: {
        struct domain *rd = domain_by_id(c->remote_dom);
        if (rd && rd->evtchn && evtchn_port_valid(rd, c->u)) {
            struct evtchn *rc = &rd->evtchn[c->u];
            if (rc->state == EVTCHNSTAT_interdomain && rc->remote_dom == d->id &&
                rc->u == port) {
                rc->state = EVTCHNSTAT_unbound;
                rc->remote_dom = d->id;
                rc->u = 0;
            }
        }
        break;
    }
    default:
        return -XEN_EINVAL;
    }
    clear_pending(d, port);
    *c = (struct evtchn){ 0 };
    return 0;
}

/* The peer of an interdomain channel is named with a reference, then
 * both locks are taken in order and the channel looked at again. */
static long close_port(struct domain *d, unsigned port)
{
    for (;;) {
        ev_lock(d);
        if (!evtchn_port_valid(d, port) || chn(d, port)->state != EVTCHNSTAT_interdomain) {
            long rc = close_port_locked(d, port);
            ev_unlock(d);
            return rc;
        }
        domid_t remote = chn(d, port)->remote_dom;
        ev_unlock(d);
        struct domain *ref = domain_get(remote);
        struct domain *rd = ref ? ref : d;   /* peer gone: its end needs no lock */
        ev_lock2(d, rd);
        if (evtchn_port_valid(d, port) && chn(d, port)->state == EVTCHNSTAT_interdomain &&
            chn(d, port)->remote_dom == remote) {
            long rc = close_port_locked(d, port);
            ev_unlock2(d, rd);
            if (ref)
                domain_put(ref);
            return rc;
        }
        ev_unlock2(d, rd);       /* changed meanwhile: look again */
        if (ref)
            domain_put(ref);
    }
}

void evtchn_destroy(struct domain *d)
{
    if (!d->evtchn) {
        ev_lock(d);
        evtchn_fifo_destroy(d);  /* a control block without any port */
        ev_unlock(d);
        return;
    }
    for (unsigned p = 1; p < d->max_evtchns; p++)
        if (d->evtchn[p].state != EVTCHNSTAT_closed)
            close_port(d, p);
    ev_lock(d);
    evtchn_fifo_destroy(d);      /* control blocks and array pages let go */
    free_hv_pages(d->evtchn, d->evtchn_order);
    d->evtchn = NULL;
    d->valid_evtchns = 0;
    ev_unlock(d);
}

/* The domain an operation names: DOMID_SELF or our own id, or another
 * domain if the access-control module allows (XSM_TARGET: a control
 * domain, or the domain's device model).  With a reference
 * (domain_put_named). */
static struct domain *target_domain(domid_t dom, long *err)
{
    struct domain *cd = current_domain();
    if (dom == DOMID_SELF || dom == cd->id)
        return cd;
    struct domain *d = domain_get(dom);
    if (!d || d->shutdown) {
        if (d)
            domain_put(d);
        *err = -XEN_ESRCH;       /* as Xen: existence before permission */
        return NULL;
    }
    long rc = xsm_evtchn_target(cd, d);
    if (rc) {
        domain_put(d);
        *err = rc;
        return NULL;
    }
    return d;
}


/* A new port of d, unbound, that domain remote may bind: the port, or a
 * negative errno.  Also the hypervisor's own way of offering a boot
 * domain's store and console channels to the xenstore domain. */
long evtchn_alloc_unbound_port(struct domain *d, domid_t remote)
{
    ev_lock(d);
    /* A dying domain's table is gone, or about to go, for good. */
    long port = d->shutdown ? -XEN_ESRCH : get_free_port(d);
    if (port >= 0)
        d->evtchn[port] = (struct evtchn){ .state = EVTCHNSTAT_unbound, .remote_dom = remote };
    ev_unlock(d);
    return port;
}

long evtchn_close_port(struct domain *d, unsigned port)
{
    return close_port(d, port);
}

long evtchn_alloc_xen_port(struct domain *d, unsigned vcpu, domid_t remote)
{
    ev_lock(d);
    long port = d->shutdown ? -XEN_ESRCH : get_free_port(d);
    if (port >= 0)
        d->evtchn[port] = (struct evtchn){ .state = EVTCHNSTAT_unbound, .remote_dom = remote,
                                           .notify_vcpu = (uint16_t)vcpu, .xen = 1 };
    ev_unlock(d);
    return port;
}

void evtchn_send_xen(struct domain *d, unsigned port)
{
    ev_lock(d);
    if (evtchn_port_valid(d, port) && chn(d, port)->xen &&
        chn(d, port)->state == EVTCHNSTAT_interdomain) {
        struct domain *rd = domain_by_id(chn(d, port)->remote_dom);
        if (rd && rd->evtchn)
            evtchn_set_pending(rd, chn(d, port)->u);
    }
    ev_unlock(d);
}

/* The guest's own operations on a port the hypervisor consumes: refused
 * (Xen: consumer_is_xen, -EINVAL). */
static bool xen_port(struct domain *d, unsigned port)
{
    return evtchn_port_valid(d, port) && chn(d, port)->xen;
}

static long evtchn_alloc_unbound(struct evtchn_alloc_unbound *a)
{
    long err = 0;
    struct domain *d = target_domain(a->dom, &err);
    if (!d)
        return err;
    domid_t remote = a->remote_dom == DOMID_SELF ? current_domain()->id : a->remote_dom;
    long port = evtchn_alloc_unbound_port(d, remote);
    domain_put_named(d);
    if (port < 0)
        return port;
    a->port = (evtchn_port_t)port;
    return 0;
}

static long bind_interdomain_locked(struct domain *ld, struct domain *rd,
                                    struct evtchn_bind_interdomain *b);

static long evtchn_bind_interdomain(struct evtchn_bind_interdomain *b)
{
    struct domain *ld = current_domain();
    domid_t rid = b->remote_dom == DOMID_SELF ? ld->id : b->remote_dom;
    struct domain *rd = domain_get(rid);
    if (!rd)
        return -XEN_ESRCH;
    long ret = rd->shutdown ? -XEN_ESRCH : xsm_evtchn_interdomain(ld, rd);
    if (!ret) {
        ev_lock2(ld, rd);
        /* A peer that died meanwhile has no channels left to bind. */
        ret = rd->shutdown || !rd->evtchn ? -XEN_ESRCH : bind_interdomain_locked(ld, rd, b);
        ev_unlock2(ld, rd);
    }
    domain_put(rd);
    return ret;
}

static long bind_interdomain_locked(struct domain *ld, struct domain *rd,
                                    struct evtchn_bind_interdomain *b)
{
    if (!evtchn_port_valid(rd, b->remote_port))
        return -XEN_EINVAL;
    struct evtchn *rc = chn(rd, b->remote_port);
    if (rc->state != EVTCHNSTAT_unbound || rc->remote_dom != ld->id)
        return -XEN_EINVAL;
    long lport = get_free_port(ld);
    if (lport < 0)
        return lport;
    ld->evtchn[lport] = (struct evtchn){ .state = EVTCHNSTAT_interdomain,
                                         .remote_dom = rd->id, .u = b->remote_port };
    rc->state = EVTCHNSTAT_interdomain;
    rc->remote_dom = ld->id;
    rc->u = (uint32_t)lport;
    b->local_port = (evtchn_port_t)lport;
    /* As Xen: the bind may have raced with a send, so notify locally. */
    evtchn_set_pending(ld, (unsigned)lport);
    return 0;
}

static long bind_virq_locked(struct evtchn_bind_virq *b)
{
    struct domain *d = current_domain();
    if (b->virq >= NR_VIRQS)
        return -XEN_EINVAL;
    if (virq_is_global(b->virq) && b->vcpu != 0)
        return -XEN_EINVAL;
    if (b->vcpu >= d->nr_vcpus || !d->vcpu[b->vcpu])
        return -XEN_ENOENT;
    struct vcpu *v = d->vcpu[b->vcpu];
    if (v->virq_to_evtchn[b->virq])
        return -XEN_EEXIST;
    long port = get_free_port(d);
    if (port < 0)
        return port;
    d->evtchn[port] = (struct evtchn){ .state = EVTCHNSTAT_virq,
                                       .notify_vcpu = (uint16_t)b->vcpu, .u = b->virq };
    v->virq_to_evtchn[b->virq] = (uint16_t)port;
    b->port = (evtchn_port_t)port;
    if (b->virq == VIRQ_TIMER)
        vcpu_restart_periodic(v);  /* the ticker matters now (vcpu_timer_update) */
    return 0;
}

static long bind_ipi_locked(struct evtchn_bind_ipi *b)
{
    struct domain *d = current_domain();
    if (b->vcpu >= d->nr_vcpus || !d->vcpu[b->vcpu])
        return -XEN_ENOENT;
    long port = get_free_port(d);
    if (port < 0)
        return port;
    d->evtchn[port] = (struct evtchn){ .state = EVTCHNSTAT_ipi,
                                       .notify_vcpu = (uint16_t)b->vcpu };
    b->port = (evtchn_port_t)port;
    return 0;
}

static long send_locked(unsigned port)
{
    struct domain *d = current_domain();
    if (!evtchn_port_valid(d, port))
        return -XEN_EINVAL;
    struct evtchn *c = chn(d, port);
    switch (c->state) {
    case EVTCHNSTAT_interdomain: {
        if (c->xen)
            return -XEN_EINVAL;
        struct domain *rd = domain_by_id(c->remote_dom);
        if (rd && rd->evtchn && evtchn_port_valid(rd, c->u)) {
            if (__builtin_expect(rd->evtchn[c->u].xen, 0))
                hvm_ioreq_notify(rd, c->u);      /* an ioreq server's (hv/hvm/ioreq.c) */
            else
                evtchn_set_pending(rd, c->u);
        }
        return 0;
    }
    case EVTCHNSTAT_ipi:
        evtchn_set_pending(d, port);
        return 0;
    case EVTCHNSTAT_unbound:
        return c->xen ? -XEN_EINVAL : 0;   /* silently dropped, as in Xen */
    default:
        return -XEN_EINVAL;
    }
}

static long status_locked(struct domain *d, struct evtchn_status *st);

static long evtchn_status(struct evtchn_status *st)
{
    long err = 0;
    struct domain *d = target_domain(st->dom, &err);
    if (!d)
        return err;
    ev_lock(d);
    long rc = d->evtchn ? status_locked(d, st) : -XEN_EINVAL;
    ev_unlock(d);
    domain_put_named(d);
    return rc;
}

static long status_locked(struct domain *d, struct evtchn_status *st)
{
    if (!evtchn_port_valid(d, st->port))
        return -XEN_EINVAL;
    struct evtchn *c = chn(d, st->port);
    memset(&st->u, 0, sizeof(st->u));
    st->status = c->state;
    st->vcpu = c->notify_vcpu;
    switch (c->state) {
    case EVTCHNSTAT_unbound:
        st->u.unbound.dom = c->remote_dom;
        break;
    case EVTCHNSTAT_interdomain:
        st->u.interdomain.dom = c->remote_dom;
        st->u.interdomain.port = c->u;
        break;
    case EVTCHNSTAT_virq:
        st->u.virq = c->u;
        break;
    case EVTCHNSTAT_pirq:
        st->u.pirq = c->u;
        break;
    default:
        break;
    }
    return 0;
}

/* EVTCHNOP_bind_pirq: a PIRQ the domain mapped (PHYSDEVOP_map_pirq, for
 * its own device's MSI or MSI-X vector) to a new port on vCPU 0, as Xen;
 * one port per PIRQ (-EEXIST); a PIRQ it has not mapped -EPERM (Xen's
 * pirq_access_permitted).  Binding unmasks an MSI-X vector. */
static long bind_pirq_locked(struct evtchn_bind_pirq *b)
{
    struct domain *d = current_domain();
    if (b->pirq >= NR_PIRQS || !pci_pirq_mapped(d, b->pirq))
        return -XEN_EPERM;
    if (d->pirq_port[b->pirq])
        return -XEN_EEXIST;
    long port = get_free_port(d);
    if (port < 0)
        return port;
    d->evtchn[port] = (struct evtchn){ .state = EVTCHNSTAT_pirq, .notify_vcpu = 0,
                                       .u = b->pirq };
    d->pirq_port[b->pirq] = (uint16_t)port;
    b->port = (evtchn_port_t)port;
    pci_pirq_mask(d, b->pirq, false);
    return 0;
}

bool send_guest_pirq(struct domain *d, unsigned pirq)
{
    if (pirq >= NR_PIRQS)
        return false;
    ev_lock(d);
    unsigned port = d->pirq_port[pirq];
    if (port && !d->shutdown)
        evtchn_set_pending(d, port);
    ev_unlock(d);
    return port != 0;
}

static long bind_vcpu_locked(struct evtchn_bind_vcpu *b)
{
    struct domain *d = current_domain();
    if (b->vcpu >= d->nr_vcpus || !d->vcpu[b->vcpu])
        return -XEN_ENOENT;
    if (!evtchn_port_valid(d, b->port) || xen_port(d, b->port))
        return -XEN_EINVAL;
    struct evtchn *c = chn(d, b->port);
    switch (c->state) {
    case EVTCHNSTAT_virq:
        if (!virq_is_global(c->u))
            return -XEN_EINVAL;
        d->vcpu[c->notify_vcpu]->virq_to_evtchn[c->u] = 0;
        d->vcpu[b->vcpu]->virq_to_evtchn[c->u] = (uint16_t)b->port;
        c->notify_vcpu = (uint16_t)b->vcpu;
        return 0;
    case EVTCHNSTAT_unbound:
    case EVTCHNSTAT_interdomain:
        c->notify_vcpu = (uint16_t)b->vcpu;
        return 0;
    default:
        return -XEN_EINVAL;
    }
}

static long unmask_locked(unsigned port)
{
    struct domain *d = current_domain();
    if (!evtchn_port_valid(d, port) || xen_port(d, port))
        return -XEN_EINVAL;
    if (__builtin_expect(d->fifo != NULL, 0)) {
        evtchn_fifo_unmask(d, port);
        return 0;
    }
    shared_info_t *s = d->shared_info;
    struct vcpu *v = d->vcpu[chn(d, port)->notify_vcpu];
    if (test_and_clear(s->evtchn_mask, port) && test(s->evtchn_pending, port) &&
        !test_and_set(&v->vcpu_info->evtchn_pending_sel, port / BITS_PER_WORD))
        vcpu_mark_events_pending(v);
    return 0;
}

static long init_control_locked(struct evtchn_init_control *ic)
{
    return evtchn_fifo_init_control(current_domain(), ic);
}

static long evtchn_reset(domid_t dom)
{
    long err = 0;
    struct domain *d = target_domain(dom, &err);
    if (!d)
        return err;
    for (unsigned p = 1; p < d->max_evtchns; p++) {
        ev_lock(d);
        bool xen = xen_port(d, p);
        ev_unlock(d);
        if (!xen)                /* the hypervisor's stay, as Xen's */
            close_port(d, p);    /* a closed port: -EINVAL, ignored */
    }
    /* As Xen: a FIFO domain goes back to the 2-level ABI, unless a port
     * was bound again meanwhile (-EAGAIN). */
    long rc = 0;
    ev_lock(d);
    if (d->fifo) {
        for (unsigned p = 1; p < d->valid_evtchns && !rc; p++)
            if (d->evtchn[p].state != EVTCHNSTAT_closed)
                rc = -XEN_EAGAIN;
        if (!rc)
            evtchn_fifo_destroy(d);
    }
    ev_unlock(d);
    domain_put_named(d);
    return rc;
}

/* Copy in, operate on our copy, copy out (only if the op succeeded). */
#define OP(type, fn) do {                                                  \
        type a;                                                            \
        if (copy_from_guest(&a, arg, sizeof(a)))                           \
            return -XEN_EFAULT;                                            \
        long rc = fn(&a);                                                  \
        if (rc == 0 && copy_to_guest(arg, &a, sizeof(a)))                  \
            return -XEN_EFAULT;                                            \
        return rc;                                                         \
    } while (0)

/* The operations on the caller's own channels (send, unmask, bind_virq,
 * bind_ipi, bind_vcpu) run under its event lock alone; the others, which
 * may name another domain, take a reference to it and the event locks
 * they need. */
static long event_channel_op(unsigned long cmd, unsigned long arg);

long do_event_channel_op(unsigned long cmd, unsigned long arg, unsigned long a3,
                         unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    struct domain *d = current_domain();
    if (__builtin_expect(cmd == EVTCHNOP_send, 1)) {   /* the hot path: straight to it */
        struct evtchn_send sd;
        if (copy_from_guest(&sd, arg, sizeof(sd)))
            return -XEN_EFAULT;
        ev_lock(d);
        long rc = send_locked(sd.port);
        ev_unlock(d);
        return rc;
    }
    switch (cmd) {
    case EVTCHNOP_unmask:
    case EVTCHNOP_bind_virq:
    case EVTCHNOP_bind_ipi:
    case EVTCHNOP_bind_vcpu:
    case EVTCHNOP_init_control:
    case EVTCHNOP_expand_array:
    case EVTCHNOP_set_priority: {
        ev_lock(d);
        long rc = event_channel_op(cmd, arg);
        ev_unlock(d);
        return rc;
    }
    default:
        return event_channel_op(cmd, arg);
    }
}

static long event_channel_op(unsigned long cmd, unsigned long arg)
{
    switch (cmd) {
    case EVTCHNOP_alloc_unbound:
        OP(struct evtchn_alloc_unbound, evtchn_alloc_unbound);
    case EVTCHNOP_bind_interdomain:
        OP(struct evtchn_bind_interdomain, evtchn_bind_interdomain);
    case EVTCHNOP_bind_virq:
        OP(struct evtchn_bind_virq, bind_virq_locked);
    case EVTCHNOP_bind_ipi:
        OP(struct evtchn_bind_ipi, bind_ipi_locked);
    case EVTCHNOP_status:
        OP(struct evtchn_status, evtchn_status);
    case EVTCHNOP_bind_vcpu: {
        struct evtchn_bind_vcpu b;
        if (copy_from_guest(&b, arg, sizeof(b)))
            return -XEN_EFAULT;
        return bind_vcpu_locked(&b);
    }
    case EVTCHNOP_unmask: {
        struct evtchn_unmask u;
        if (copy_from_guest(&u, arg, sizeof(u)))
            return -XEN_EFAULT;
        return unmask_locked(u.port);
    }
    case EVTCHNOP_close: {
        struct evtchn_close c;
        if (copy_from_guest(&c, arg, sizeof(c)))
            return -XEN_EFAULT;
        struct domain *d = current_domain();
        ev_lock(d);
        bool xen = xen_port(d, c.port);
        ev_unlock(d);
        return xen ? -XEN_EINVAL : close_port(d, c.port);
    }
    case EVTCHNOP_reset: {
        struct evtchn_reset r;
        if (copy_from_guest(&r, arg, sizeof(r)))
            return -XEN_EFAULT;
        return evtchn_reset(r.dom);
    }
    case EVTCHNOP_init_control:
        OP(struct evtchn_init_control, init_control_locked);
    case EVTCHNOP_expand_array: {
        struct evtchn_expand_array e;
        if (copy_from_guest(&e, arg, sizeof(e)))
            return -XEN_EFAULT;
        return current_domain()->shutdown ? -XEN_ESRCH
                                          : evtchn_fifo_expand_array(current_domain(), &e);
    }
    case EVTCHNOP_set_priority: {
        struct evtchn_set_priority sp;
        if (copy_from_guest(&sp, arg, sizeof(sp)))
            return -XEN_EFAULT;
        struct domain *d = current_domain();
        if (!evtchn_port_valid(d, sp.port))
            return -XEN_EINVAL;
        return evtchn_fifo_set_priority(d, sp.port, sp.priority);
    }
    case EVTCHNOP_bind_pirq: {
        struct evtchn_bind_pirq b;
        if (copy_from_guest(&b, arg, sizeof(b)))
            return -XEN_EFAULT;
        struct domain *d = current_domain();
        ev_lock(d);
        long rc = bind_pirq_locked(&b);
        ev_unlock(d);
        if (!rc && copy_to_guest(arg, &b, sizeof(b)))
            return -XEN_EFAULT;
        return rc;
    }
    default:
        return -XEN_ENOSYS;
    }
}
