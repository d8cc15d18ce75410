/* events.c: shared_info, event delivery on vCPU 0 and the 2-level event channel API. */
#include <stddef.h>
#include <minios/console.h>
#include <stdlib.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/startinfo.h>
#include <xen/memory.h>
#include "kernel.h"

/*
 * shared_info is mapped over this page of minios's .bss (the domain
 * builder mapped the whole image, so its L1 entry exists): the page's own
 * frame stays ours, unused.
 */
#define PAGE_SIZE    4096ul
#define PAGE_MASK    (~(PAGE_SIZE - 1))
/* x86 page-table entry bits (architecture, not Xen ABI). */
#define PTE_PRESENT  0x001ul
#define PTE_RW       0x002ul
#define PTE_USER     0x004ul
#define PTE_ACCESSED 0x020ul
#define PTE_DIRTY    0x040ul

static char shared_info_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

shared_info_t *minios_shared_info;
static int events_ok;

#define NR_PORTS     EVTCHN_2L_NR_CHANNELS
#define BITS_PER_WORD (sizeof(xen_ulong_t) * 8)

/* Handlers, in groups of 64 ports: the first group is static, the others
 * are allocated when a port in them is first bound (a domain uses a few
 * ports; a full table would cost every appliance 64 KiB). */
#define GROUP 64
struct handler {
    minios_evtchn_handler fn;
    void *data;
};
static struct handler first_group[GROUP];
static struct handler *groups[NR_PORTS / GROUP] = { first_group };

static struct handler *handler_of(evtchn_port_t port)
{
    struct handler *g = groups[port / GROUP];
    return g ? &g[port % GROUP] : NULL;
}

static uint64_t upcalls, unhandled_events;

/* vCPU 0's vcpu_info: in shared_info, or where VCPUOP_register_vcpu_info
 * moved it (a page of ours). */
static vcpu_info_t *vcpu0;
static char vcpu_info_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

vcpu_info_t *minios_vcpu_info(void)
{
    return vcpu0;
}

int minios_vcpu_info_register(void)
{
    unsigned long va = (unsigned long)vcpu_info_page;
    struct vcpu_register_vcpu_info r = {
        .mfn = minios_virt_to_mfn(vcpu_info_page),
        .offset = (uint32_t)(va % PAGE_SIZE),
    };
    unsigned long flags;
    long rc;

    if (!vcpu0)
        return -XEN_ENOSYS;
    if (vcpu0 == (vcpu_info_t *)vcpu_info_page)
        return -XEN_EEXIST;
    flags = minios_events_save();
    rc = HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_info, 0, &r);
    if (rc == 0)
        vcpu0 = (vcpu_info_t *)vcpu_info_page;   /* the hypervisor copied it */
    minios_events_restore(flags);
    return (int)rc;
}

int minios_events_available(void)
{
    return events_ok;
}

uint64_t minios_upcall_count(void)
{
    return upcalls;
}

uint64_t minios_unhandled_events(void)
{
    return unhandled_events;
}

void minios_events_init(const start_info_t *si)
{
    unsigned long va = (unsigned long)shared_info_page;
#ifdef MINIOS_PVH
    /* A PVH domain puts shared_info at a guest frame of its choice: the
     * page's own, which then reads as shared_info (virtual = physical). */
    struct xen_add_to_physmap xatp = {
        .domid = DOMID_SELF,
        .space = XENMAPSPACE_shared_info,
        .idx = 0,
        .gpfn = va / PAGE_SIZE,
    };
    long rc = _hypercall2(__HYPERVISOR_memory_op, XENMEM_add_to_physmap, &xatp);
    (void)si;
#else
    uint64_t pte = (si->shared_info & PAGE_MASK) | PTE_PRESENT | PTE_RW |
                   PTE_USER | PTE_ACCESSED | PTE_DIRTY;
    long rc = HYPERVISOR_update_va_mapping(va, pte, UVMF_INVLPG);
#endif

    /*
     * A hypervisor without update_va_mapping says -ENOSYS: run on quietly
     * without events and time (a line here would be noise on every boot).
     */
    if (rc < 0) {
        if (rc != -XEN_ENOSYS)
            minios_printk("minios: warning: cannot map shared_info (%ld): "
                          "no events or time\n", rc);
        return;
    }
    minios_shared_info = (shared_info_t *)va;
    vcpu0 = &minios_shared_info->vcpu_info[0];
    rc = minios_callbacks_init();
    if (rc < 0) {
        if (rc != -XEN_ENOSYS)
            minios_printk("minios: warning: cannot register callbacks (%ld): "
                          "no events\n", rc);
        return;
    }
    events_ok = 1;
    minios_events_enable();
}

/*
 * Pending ports: for every word that the selector names, the ports that
 * are pending and not masked, lowest first; each one's pending bit is
 * cleared before its handler runs, so an event during the handler is
 * seen again. Loops until no upcall is pending: the hypervisor sets
 * evtchn_upcall_pending before the selector bit, and we clear it first.
 */
void minios_evtchn_upcall(void)
{
    vcpu_info_t *v = minios_vcpu_info();
    shared_info_t *s = minios_shared_info;

    if (!v)
        return;
    upcalls++;
    while (__atomic_load_n(&v->evtchn_upcall_pending, __ATOMIC_ACQUIRE)) {
        v->evtchn_upcall_pending = 0;
        xen_ulong_t sel = __atomic_exchange_n(&v->evtchn_pending_sel, 0,
                                              __ATOMIC_ACQ_REL);
        while (sel) {
            unsigned w = (unsigned)__builtin_ctzl(sel);
            sel &= sel - 1;
            xen_ulong_t pend;
            while ((pend = __atomic_load_n(&s->evtchn_pending[w], __ATOMIC_ACQUIRE) &
                           ~__atomic_load_n(&s->evtchn_mask[w], __ATOMIC_RELAXED))) {
                unsigned b = (unsigned)__builtin_ctzl(pend);
                evtchn_port_t port = w * BITS_PER_WORD + b;

                __atomic_fetch_and(&s->evtchn_pending[w], ~((xen_ulong_t)1 << b),
                                   __ATOMIC_ACQ_REL);
                struct handler *h = handler_of(port);
                if (h && h->fn)
                    h->fn(port, h->data);
                else
                    unhandled_events++;
            }
        }
    }
}

#ifdef MINIOS_PVH
/*
 * A PVH vCPU's events come as the callback vector, an interrupt: the
 * interrupt flag is the mask (Xen ignores evtchn_upcall_mask for HVM).
 * The hypervisor keeps asserting the vector while evtchn_upcall_pending
 * is set, so nothing that arrived while masked is lost by unmasking.
 */
void minios_events_disable(void)
{
    __asm__ __volatile__("cli" : : : "memory");
}

void minios_events_enable(void)
{
    if (events_ok)
        __asm__ __volatile__("sti" : : : "memory");
}

unsigned long minios_events_save(void)
{
    unsigned long rflags;

    __asm__ __volatile__("pushfq; popq %0; cli" : "=r"(rflags) : : "memory");
    return !(rflags & 0x200);                       /* RFLAGS.IF */
}
#else
void minios_events_disable(void)
{
    vcpu_info_t *v = minios_vcpu_info();

    if (!v)
        return;
    v->evtchn_upcall_mask = 1;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/*
 * Unmasking does not make the hypervisor deliver what arrived meanwhile:
 * run those handlers here, with delivery still masked, then unmask and
 * look once more (an event between the two is delivered by the
 * hypervisor, as delivery is then enabled).
 */
void minios_events_enable(void)
{
    vcpu_info_t *v = minios_vcpu_info();

    if (!v || !events_ok)
        return;
    for (;;) {
        v->evtchn_upcall_mask = 1;
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        if (__atomic_load_n(&v->evtchn_upcall_pending, __ATOMIC_ACQUIRE))
            minios_evtchn_upcall();
        __atomic_signal_fence(__ATOMIC_SEQ_CST);
        v->evtchn_upcall_mask = 0;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&v->evtchn_upcall_pending, __ATOMIC_ACQUIRE))
            break;
    }
}

unsigned long minios_events_save(void)
{
    vcpu_info_t *v = minios_vcpu_info();
    unsigned long flags;

    if (!v)
        return 1;
    flags = v->evtchn_upcall_mask;
    minios_events_disable();
    return flags;
}
#endif

void minios_events_restore(unsigned long flags)
{
    if (!flags)
        minios_events_enable();
}

static int port_ok(evtchn_port_t port)
{
    return port < NR_PORTS;
}

void minios_evtchn_mask(evtchn_port_t port)
{
    if (!minios_shared_info || !port_ok(port))
        return;
    __atomic_fetch_or(&minios_shared_info->evtchn_mask[port / BITS_PER_WORD],
                      (xen_ulong_t)1 << (port % BITS_PER_WORD), __ATOMIC_SEQ_CST);
}

void minios_evtchn_unmask(evtchn_port_t port)
{
    struct evtchn_unmask op = { .port = port };

    HYPERVISOR_event_channel_op(EVTCHNOP_unmask, &op);
}

int minios_evtchn_bind(evtchn_port_t port, minios_evtchn_handler h, void *data)
{
    unsigned long flags;

    if (!events_ok)
        return -XEN_ENOSYS;
    if (!port_ok(port) || !h)
        return -XEN_EINVAL;
    if (!groups[port / GROUP]) {
        struct handler *g = calloc(GROUP, sizeof(*g));
        if (!g)
            return -XEN_ENOMEM;
        flags = minios_events_save();
        if (!groups[port / GROUP]) {
            groups[port / GROUP] = g;
            g = NULL;
        }
        minios_events_restore(flags);
        free(g);
    }
    flags = minios_events_save();
    struct handler *slot = handler_of(port);
    if (slot->fn) {
        minios_events_restore(flags);
        return -XEN_EBUSY;
    }
    slot->fn = h;
    slot->data = data;
    minios_events_restore(flags);
    minios_evtchn_unmask(port);
    return 0;
}

void minios_evtchn_unbind(evtchn_port_t port)
{
    unsigned long flags;

    if (!port_ok(port))
        return;
    minios_evtchn_mask(port);
    flags = minios_events_save();
    struct handler *slot = handler_of(port);
    if (slot) {
        slot->fn = NULL;
        slot->data = NULL;
    }
    minios_events_restore(flags);
}

int minios_evtchn_alloc_unbound(domid_t remote, evtchn_port_t *port)
{
    struct evtchn_alloc_unbound op = { .dom = DOMID_SELF, .remote_dom = remote };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &op);

    if (rc == 0)
        *port = op.port;
    return (int)rc;
}

int minios_evtchn_bind_interdomain(domid_t remote, evtchn_port_t rport,
                                   evtchn_port_t *lport)
{
    struct evtchn_bind_interdomain op = { .remote_dom = remote, .remote_port = rport };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &op);

    if (rc == 0)
        *lport = op.local_port;
    return (int)rc;
}

int minios_evtchn_bind_virq(uint32_t virq, unsigned vcpu, evtchn_port_t *port)
{
    struct evtchn_bind_virq op = { .virq = virq, .vcpu = vcpu };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, &op);

    if (rc == 0)
        *port = op.port;
    return (int)rc;
}

int minios_evtchn_send(evtchn_port_t port)
{
    struct evtchn_send op = { .port = port };

    return (int)HYPERVISOR_event_channel_op(EVTCHNOP_send, &op);
}

int minios_evtchn_close(evtchn_port_t port)
{
    struct evtchn_close op = { .port = port };
    long rc;

    minios_evtchn_unbind(port);
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_close, &op);
    return (int)rc;
}

domid_t minios_domid(void)
{
    static domid_t self = DOMID_INVALID;
    if (self != DOMID_INVALID || !events_ok)
        return self;
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
    if (HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a))
        return DOMID_INVALID;
    struct evtchn_status st = { .dom = DOMID_SELF, .port = a.port };
    if (HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) == 0)
        self = st.u.unbound.dom;
    struct evtchn_close c = { .port = a.port };
    HYPERVISOR_event_channel_op(EVTCHNOP_close, &c);
    return self;
}
