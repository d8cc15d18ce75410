/* FIFO event channels (<xen/event_channel.h>: EVTCHNOP_init_control,
 * expand_array, set_priority): per-vCPU control blocks and event-array
 * pages on guest frames, linked queues per priority per vCPU, as Xen 4.17
 * behaves for a 64-bit PV guest.  A domain uses the 2-level ABI until its
 * first init_control; event_channel.c then dispatches here, once, on
 * d->fifo. */
#include "lib.h"
#include "mm.h"
#include "domain.h"
#include "event.h"
#include "hypercall.h"
#include "hvm.h"
#include <xen/event_channel.h>

#define WORDS_PER_PAGE  (PAGE_SIZE / sizeof(event_word_t))                 /* 1024 */
#define MAX_ARRAY_PAGES (EVTCHN_FIFO_NR_CHANNELS / WORDS_PER_PAGE)         /* 128 */

#define W_PENDING (1u << EVTCHN_FIFO_PENDING)
#define W_MASKED  (1u << EVTCHN_FIFO_MASKED)
#define W_LINKED  (1u << EVTCHN_FIFO_LINKED)
#define W_BUSY    (1u << EVTCHN_FIFO_BUSY)

/* What the hypervisor keeps per port: its priority, the queue it was last
 * linked on (so that a move empties the old tail), and an event raised
 * while the port had no event word yet (re-raised by expand_array). */
struct fifo_port {
    uint8_t priority;
    uint8_t last_priority;
    bool pending;
    uint16_t last_vcpu;
};

struct fifo_vcpu {
    evtchn_fifo_control_block_t *cb;     /* in the guest's frame, or NULL */
    uint64_t cb_mfn;                     /* general + writable reference */
    uint32_t tail[EVTCHN_FIFO_MAX_QUEUES];
};

/*
 * Locking (docs/locking.md): init_control, expand_array, set_priority,
 * unmask, close and destruction run under the domain's event lock.  A
 * send holds the sender's event lock only, so the queues (tails, each
 * port's last queue, nr_words) have their own lock, f->lock: order 3 as
 * the event locks, keyed 0x10000 + domain id, so it comes after every
 * event lock and no other lock of order 3 is taken under it.  Bits in the
 * event words and the control block are changed atomically: the guest
 * writes them too.  The hypervisor never follows a link the guest wrote;
 * it only writes the tail's link, a head and a READY bit.
 */
struct evtchn_fifo {
    spinlock_t lock;
    unsigned nr_words;                   /* ports that have an event word */
    unsigned nr_ports, nr_vcpus;
    unsigned port_order, vcpu_order;
    struct fifo_port *port;
    struct fifo_vcpu *vcpu;
    event_word_t *array[MAX_ARRAY_PAGES];  /* each a referenced guest frame */
};

_Static_assert(sizeof(struct evtchn_fifo) <= PAGE_SIZE, "struct evtchn_fifo fits a page");

static unsigned order_for(size_t bytes)
{
    unsigned o = 0;
    while (((size_t)PAGE_SIZE << o) < bytes)
        o++;
    return o;
}

static void q_lock(struct domain *d, struct evtchn_fifo *f)
{
    spin_lock_key(&f->lock, 0x10000u + d->id);
}

static event_word_t *word(struct evtchn_fifo *f, unsigned port)
{
    if (port >= __atomic_load_n(&f->nr_words, __ATOMIC_ACQUIRE))
        return NULL;
    return &f->array[port / WORDS_PER_PAGE][port % WORDS_PER_PAGE];
}

static uint32_t w_load(event_word_t *w)
{
    return __atomic_load_n(w, __ATOMIC_SEQ_CST);
}

static uint32_t w_or(event_word_t *w, uint32_t m)
{
    return __atomic_fetch_or(w, m, __ATOMIC_SEQ_CST);
}

static uint32_t w_and(event_word_t *w, uint32_t m)
{
    return __atomic_fetch_and(w, m, __ATOMIC_SEQ_CST);
}

/* The machine frame behind a PVH (translated) domain's gfn: RAM of its
 * p2m only, as Xen's map_guest_page takes only p2m_ram_rw pages; a gfn
 * past its RAM, or holding shared_info or a grant frame, is ~0. */
static uint64_t pvh_frame(struct domain *d, uint64_t gfn)
{
    return hvm_p2m_ram(d, gfn);
}

/* A guest frame the hypervisor writes: a general and a writable type
 * reference, so it can neither become a page table nor be freed while
 * registered (as vcpu_info).  PV: the gfn is the mfn; PVH: through the
 * p2m (the reference is on the machine frame, which stays the domain's
 * until it dies even if the guest maps something else over the gfn). */
static long take_frame(struct domain *d, uint64_t gfn, uint64_t *mfn)
{
    uint64_t m = d->arch.type == GUEST_PV ? gfn : pvh_frame(d, gfn);
    if (m >= max_pfn || !get_page(m, d))
        return -XEN_EINVAL;
    if (get_page_type(m, PGT_WRITABLE, d)) {
        put_page(m);
        return -XEN_EINVAL;
    }
    *mfn = m;
    return 0;
}

static void drop_frame(uint64_t mfn)
{
    put_page_and_type(mfn, true);
}

/*
 * Links the tail's word to port if the tail is still LINKED (the guest may
 * have consumed it meanwhile: then the queue is empty).  The guest may
 * change a linked word (mask, unmask, clear PENDING or LINKED), so after a
 * first failed exchange BUSY is set, which a guest honours by not
 * unmasking; a guest that keeps changing the word anyway loses its event
 * after a few tries, never the hypervisor's time.
 */
static bool link_tail(event_word_t *tw, uint32_t port)
{
    uint32_t old = w_load(tw);
    for (unsigned i = 0; i < 5; i++) {
        if (!(old & W_LINKED)) {
            if (i)
                w_and(tw, ~W_BUSY);
            return false;
        }
        uint32_t new = (old & ~(W_BUSY | EVTCHN_FIFO_LINK_MASK)) | port;
        if (__atomic_compare_exchange_n(tw, &old, new, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return true;
        if (i == 0) {
            w_or(tw, W_BUSY);
            old = w_load(tw);
        }
    }
    w_and(tw, ~W_BUSY);
    return true;
}

/* Called with d's event lock, or the sender's of a live interdomain
 * channel to port (event_channel.c); port is valid and bound. */
void evtchn_fifo_set_pending(struct domain *d, unsigned port)
{
    struct evtchn_fifo *f = __atomic_load_n(&d->fifo, __ATOMIC_ACQUIRE);
    if (port >= f->nr_ports)
        return;
    struct vcpu *v = d->vcpu[d->evtchn[port].notify_vcpu];
    struct fifo_port *fp = &f->port[port];
    struct fifo_vcpu *fv = &f->vcpu[v->id];
    bool newly = false, linked = true;
    unsigned prio = 0;

    q_lock(d, f);
    event_word_t *w = word(f, port);
    if (!w) {
        fp->pending = true;      /* raised again when its page comes */
        spin_unlock(&f->lock);
        return;
    }
    if (!fv->cb) {               /* no control block: dropped, as Xen */
        spin_unlock(&f->lock);
        return;
    }
    newly = !(w_or(w, W_PENDING) & W_PENDING);
    if (!(w_load(w) & W_MASKED) && !(w_or(w, W_LINKED) & W_LINKED)) {
        /* If it was the tail of the queue it was last on, that queue is
         * empty now: forget the tail so it is not linked from. */
        struct fifo_vcpu *ov = &f->vcpu[fp->last_vcpu];
        if (ov->tail[fp->last_priority] == port)
            ov->tail[fp->last_priority] = 0;
        prio = fp->priority;
        fp->last_vcpu = (uint16_t)v->id;
        fp->last_priority = (uint8_t)prio;
        uint32_t tail = fv->tail[prio];
        event_word_t *tw = tail ? word(f, tail) : NULL;
        linked = tw && link_tail(tw, port);
        if (!linked)
            __atomic_store_n(&fv->cb->head[prio], port, __ATOMIC_SEQ_CST);
        fv->tail[prio] = port;
    }
    spin_unlock(&f->lock);

    if (!linked && !(__atomic_fetch_or(&fv->cb->ready, 1u << prio, __ATOMIC_SEQ_CST) &
                     (1u << prio)))
        vcpu_mark_events_pending(v);
    if (newly)
        evtchn_wake_pollers(d, port);
}

bool evtchn_fifo_is_pending(struct domain *d, unsigned port)
{
    event_word_t *w = word(d->fifo, port);
    return w && (w_load(w) & W_PENDING);
}

/* A port that is still LINKED may not be reused (Xen: -EBUSY, skipped). */
bool evtchn_fifo_is_busy(struct domain *d, unsigned port)
{
    if (port >= d->fifo->nr_ports)
        return false;
    event_word_t *w = word(d->fifo, port);
    return w && (w_load(w) & W_LINKED);
}

/* A port newly allocated (d's event lock): the default priority. */
void evtchn_fifo_port_init(struct domain *d, unsigned port)
{
    if (port >= d->fifo->nr_ports)
        return;
    d->fifo->port[port].priority = EVTCHN_FIFO_PRIORITY_DEFAULT;
    d->fifo->port[port].pending = false;
}

/* Close: PENDING cleared; the guest unlinks it when it meets it. */
void evtchn_fifo_clear_pending(struct domain *d, unsigned port)
{
    if (port >= d->fifo->nr_ports)
        return;
    d->fifo->port[port].pending = false;
    event_word_t *w = word(d->fifo, port);
    if (w)
        w_and(w, ~W_PENDING);
}

void evtchn_fifo_unmask(struct domain *d, unsigned port)
{
    event_word_t *w = word(d->fifo, port);
    if (!w)
        return;
    w_and(w, ~W_MASKED);
    if (w_load(w) & W_PENDING)
        evtchn_fifo_set_pending(d, port);
}

/* d's event lock; the port is valid. */
long evtchn_fifo_set_priority(struct domain *d, unsigned port, uint32_t priority)
{
    if (!d->fifo)
        return -XEN_ENOSYS;      /* the 2-level ABI has no priorities */
    if (d->evtchn[port].state == EVTCHNSTAT_closed)
        return -XEN_EACCES;
    if (priority > EVTCHN_FIFO_PRIORITY_MIN)
        return -XEN_EINVAL;
    if (port >= d->fifo->nr_ports)
        return -XEN_EINVAL;
    /* Future events only: one already linked stays on its queue. */
    d->fifo->port[port].priority = (uint8_t)priority;
    return 0;
}

static void fifo_free(struct evtchn_fifo *f)
{
    if (f->port)
        free_hv_pages(f->port, f->port_order);
    if (f->vcpu)
        free_hv_pages(f->vcpu, f->vcpu_order);
    free_hv_pages(f, 0);
}

static struct evtchn_fifo *fifo_alloc(struct domain *d)
{
    struct evtchn_fifo *f = alloc_hv_pages(0);
    if (!f)
        return NULL;
    f->lock = (spinlock_t)SPINLOCK_INIT("evtchn-queues", LOCK_ORDER_EVENT);
    f->nr_ports = d->max_evtchns;
    f->nr_vcpus = d->nr_vcpus;
    f->port_order = order_for((size_t)f->nr_ports * sizeof(struct fifo_port));
    f->vcpu_order = order_for((size_t)f->nr_vcpus * sizeof(struct fifo_vcpu));
    f->port = alloc_hv_pages(f->port_order);
    f->vcpu = alloc_hv_pages(f->vcpu_order);
    if (!f->port || !f->vcpu) {
        fifo_free(f);
        return NULL;
    }
    return f;
}

/* d's event lock.  The vCPU's control block; the first one switches the
 * domain to the FIFO ABI: ports already bound keep a pending event (raised
 * once their array page exists) and get the default priority. */
long evtchn_fifo_init_control(struct domain *d, struct evtchn_init_control *ic)
{
    ic->link_bits = EVTCHN_FIFO_LINK_BITS;
    if (ic->vcpu >= d->nr_vcpus || !d->vcpu[ic->vcpu])
        return -XEN_ENOENT;
    if (ic->offset > PAGE_SIZE - sizeof(evtchn_fifo_control_block_t))
        return -XEN_EINVAL;      /* it would cross the page */
    if (ic->offset & 7)
        return -XEN_EINVAL;
    if (d->shutdown)
        return -XEN_ESRCH;
    struct evtchn_fifo *f = d->fifo;
    bool fresh = !f;
    if (fresh && !(f = fifo_alloc(d)))
        return -XEN_ENOMEM;
    struct fifo_vcpu *fv = &f->vcpu[ic->vcpu];
    uint64_t mfn = 0;
    long rc = fv->cb ? -XEN_EINVAL : take_frame(d, ic->control_gfn, &mfn);
    if (rc) {
        if (fresh)
            fifo_free(f);
        return rc;
    }
    fv->cb_mfn = mfn;
    q_lock(d, f);                /* a send to this vCPU sees it, or drops the event */
    fv->cb = (evtchn_fifo_control_block_t *)((char *)pfn_to_virt(mfn) + ic->offset);
    spin_unlock(&f->lock);
    if (fresh) {
        for (unsigned p = 1; p < d->valid_evtchns && p < f->nr_ports; p++) {
            f->port[p].priority = EVTCHN_FIFO_PRIORITY_DEFAULT;
            if (d->evtchn[p].state != EVTCHNSTAT_closed && d->shared_info &&
                (d->shared_info->evtchn_pending[p / 64] >> (p % 64) & 1))
                f->port[p].pending = true;
        }
        __atomic_store_n(&d->fifo, f, __ATOMIC_RELEASE);
    }
    return 0;
}

/* d's event lock.  One more page of event words. */
long evtchn_fifo_expand_array(struct domain *d, const struct evtchn_expand_array *ea)
{
    struct evtchn_fifo *f = d->fifo;
    if (!f)
        return -XEN_EOPNOTSUPP;
    unsigned slot = f->nr_words / WORDS_PER_PAGE;
    if (slot >= MAX_ARRAY_PAGES)
        return -XEN_ENOSPC;
    uint64_t mfn = 0;
    long rc = take_frame(d, ea->array_gfn, &mfn);
    if (rc)
        return rc;
    f->array[slot] = pfn_to_virt(mfn);
    unsigned first = f->nr_words;
    q_lock(d, f);                /* a send either saw no word and noted it, or sees this one */
    __atomic_store_n(&f->nr_words, first + WORDS_PER_PAGE, __ATOMIC_RELEASE);
    spin_unlock(&f->lock);
    for (unsigned p = first; p < first + WORDS_PER_PAGE && p < d->valid_evtchns &&
                             p < f->nr_ports; p++) {
        if (f->port[p].pending && d->evtchn[p].state != EVTCHNSTAT_closed) {
            f->port[p].pending = false;
            evtchn_fifo_set_pending(d, p);
        }
    }
    return 0;
}

/* d's event lock, with no channel left that a sender could reach (every
 * port closed): back to the 2-level ABI, every frame reference dropped. */
void evtchn_fifo_destroy(struct domain *d)
{
    struct evtchn_fifo *f = d->fifo;
    if (!f)
        return;
    __atomic_store_n(&d->fifo, NULL, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < f->nr_vcpus; i++)
        if (f->vcpu[i].cb)
            drop_frame(f->vcpu[i].cb_mfn);
    for (unsigned s = 0; s < f->nr_words / WORDS_PER_PAGE; s++)
        drop_frame(virt_to_pfn(f->array[s]));
    fifo_free(f);
}

/* For the NMI state dump (nmi_dump.c), without the lock: v's ready bits,
 * the heads the guest sees and the tails kept here, for queues not empty,
 * and each pending unmasked port that is not linked (an event that can
 * never be delivered). */
int evtchn_fifo_describe(struct domain *d, struct vcpu *v, char *buf, size_t n)
{
    struct evtchn_fifo *f = __atomic_load_n(&d->fifo, __ATOMIC_ACQUIRE);
    if (!f || v->id >= f->nr_vcpus || !f->vcpu[v->id].cb)
        return snprintf(buf, n, " fifo: no control block");
    struct fifo_vcpu *fv = &f->vcpu[v->id];
    int len = snprintf(buf, n, " fifo: ready %#x", fv->cb->ready);
    for (unsigned q = 0; q < EVTCHN_FIFO_MAX_QUEUES && (size_t)len < n; q++)
        if (fv->cb->head[q] || fv->tail[q])
            len += snprintf(buf + len, n - (size_t)len, " q%u head %u tail %u", q,
                            fv->cb->head[q], fv->tail[q]);
    unsigned stuck = 0;
    for (unsigned p = 1; p < f->nr_words && p < f->nr_ports && (size_t)len < n; p++) {
        event_word_t *w = word(f, p);
        uint32_t x = w ? w_load(w) : 0;
        if ((x & W_PENDING) && !(x & W_MASKED) && !(x & W_LINKED) &&
            f->port[p].last_vcpu == v->id && stuck++ < 8)
            len += snprintf(buf + len, n - (size_t)len, " unlinked:%u", p);
    }
    return len;
}
