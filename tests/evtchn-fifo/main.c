/* Guest test: FIFO event channels (EVTCHNOP_init_control, expand_array, set_priority): Xen 4.17's
 * errors for bad vCPUs, offsets, frames, ports and priorities; delivery into per-priority queues
 * (head, links, READY, upcall) for IPIs, loopback interdomain channels, VIRQ_TIMER and unmask;
 * busy ports; poll; a pending 2-level event carried over; EVTCHNOP_reset back to 2-level.
 * op=fifo peer=N / op=twolevel peer=N: a FIFO domain and a 2-level one talk over a channel.
 *
 * The test keeps event delivery disabled while it is FIFO (minios's handler knows 2-level only)
 * and reads the control block and event words itself, consuming queues as a guest does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include "report.h"
#include "args.h"

#define PG        4096
#define PENDING   (1u << EVTCHN_FIFO_PENDING)
#define MASKED    (1u << EVTCHN_FIFO_MASKED)
#define LINKED    (1u << EVTCHN_FIFO_LINKED)
#define BUSY      (1u << EVTCHN_FIFO_BUSY)
#define LINK(w)   ((w) & EVTCHN_FIFO_LINK_MASK)
#define BITS      (sizeof(xen_ulong_t) * 8)

static char cb_page[PG] __attribute__((aligned(PG)));
static char array_page[PG] __attribute__((aligned(PG)));
static evtchn_fifo_control_block_t *cb;
static volatile event_word_t *words = (volatile event_word_t *)array_page;
static uint32_t local_head[EVTCHN_FIFO_MAX_QUEUES];   /* a guest's own head per queue */

static long op(int cmd, evtchn_port_t port)
{
    struct { evtchn_port_t port; } arg = { port };
    return HYPERVISOR_event_channel_op(cmd, &arg);
}

static long init_control(uint64_t gfn, uint32_t offset, uint32_t vcpu, uint8_t *link_bits)
{
    struct evtchn_init_control ic = { .control_gfn = gfn, .offset = offset, .vcpu = vcpu };
    ic.link_bits = 0xee;
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_init_control, &ic);
    if (link_bits)
        *link_bits = ic.link_bits;
    return rc;
}

static long expand(uint64_t gfn)
{
    struct evtchn_expand_array ea = { .array_gfn = gfn };
    return HYPERVISOR_event_channel_op(EVTCHNOP_expand_array, &ea);
}

static long set_priority(evtchn_port_t port, uint32_t prio)
{
    struct evtchn_set_priority sp = { .port = port, .priority = prio };
    return HYPERVISOR_event_channel_op(EVTCHNOP_set_priority, &sp);
}

static evtchn_port_t ipi(void)
{
    struct evtchn_bind_ipi b = { .vcpu = 0 };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &b), 0);
    return b.port;
}

static uint32_t ready(void)
{
    return __atomic_load_n(&cb->ready, __ATOMIC_SEQ_CST);
}

/* One event off the highest-priority ready queue, as a guest consumes:
 * the head (ours, else the control block's), its link taken and LINKED
 * cleared together, READY cleared when the queue empties.  Returns the
 * port if it is pending and unmasked, 0 if it was not, -1 if none ready. */
static long consume(unsigned *prio_out)
{
    uint32_t r = ready();
    if (!r)
        return -1;
    unsigned q = (unsigned)__builtin_ctz(r);
    uint32_t port = local_head[q];
    if (!port)
        port = __atomic_load_n(&cb->head[q], __ATOMIC_SEQ_CST);
    if (prio_out)
        *prio_out = q;
    if (!port || port >= PG / sizeof(event_word_t)) {
        test_fail("queue %u ready with head %u", q, port);
        __atomic_fetch_and(&cb->ready, ~(1u << q), __ATOMIC_SEQ_CST);
        return 0;
    }
    volatile event_word_t *w = &words[port];
    uint32_t old = *w, new;
    do
        new = old & ~(LINKED | EVTCHN_FIFO_LINK_MASK);
    while (!__atomic_compare_exchange_n(w, &old, new, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
    uint32_t next = LINK(old);
    if (!next)
        __atomic_fetch_and(&cb->ready, ~(1u << q), __ATOMIC_SEQ_CST);
    local_head[q] = next;
    if ((old & PENDING) && !(old & MASKED)) {
        __atomic_fetch_and(w, ~PENDING, __ATOMIC_SEQ_CST);
        return port;
    }
    return 0;
}

static int two_vcpus;                        /* vCPU 1 exists (vcpus=2) */

static unsigned long mfn(const void *p)
{
    return minios_virt_to_mfn(p);
}

/* Before the switch: what a 2-level domain gets, and init_control's refusals. */
static void test_before(evtchn_port_t carried)
{
    uint8_t lb = 0;
    CHECK_EQ(set_priority(carried, 3), -XEN_ENOSYS);        /* 2-level: no priorities */
    CHECK_EQ(set_priority(1000, 3), -XEN_EINVAL);           /* not a valid port first */
    CHECK_EQ(expand(mfn(array_page)), -XEN_EOPNOTSUPP);     /* no control block yet */
    CHECK_EQ(init_control(mfn(cb_page), 0, 100, &lb), -XEN_ENOENT);
    if (!two_vcpus)
        CHECK_EQ(init_control(mfn(cb_page), 0, 1, NULL), -XEN_ENOENT);  /* one vCPU */
    CHECK_EQ(init_control(mfn(cb_page), PG - sizeof(*cb) + 1, 0, NULL), -XEN_EINVAL);
    CHECK_EQ(init_control(mfn(cb_page), PG, 0, NULL), -XEN_EINVAL);
    CHECK_EQ(init_control(mfn(cb_page), 0xffffffffu, 0, NULL), -XEN_EINVAL);
    CHECK_EQ(init_control(mfn(cb_page), 4, 0, NULL), -XEN_EINVAL);  /* 8-byte aligned */
    CHECK_EQ(init_control(~0ull, 0, 0, NULL), -XEN_EINVAL);
    CHECK_EQ(init_control(1ull << 40, 0, 0, NULL), -XEN_EINVAL);    /* no such frame */
    /* A page table of ours cannot take the writable type. */
    CHECK_EQ(init_control(mfn((void *)minios_start_info->pt_base), 0, 0, NULL), -XEN_EINVAL);
    CHECK_EQ(set_priority(carried, 3), -XEN_ENOSYS);        /* still 2-level after refusals */
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_init_control, (void *)0xFFFF830000100000UL),
             -XEN_EFAULT);
}

static void test_switch(evtchn_port_t carried)
{
    uint8_t lb = 0;
    /* The control block at an offset: the largest 8-byte aligned one that fits. */
    unsigned off = (PG - sizeof(*cb)) & ~7u;
    cb = (evtchn_fifo_control_block_t *)(cb_page + off);
    CHECK_EQ(init_control(mfn(cb_page), off, 0, &lb), 0);
    CHECK_EQ(lb, EVTCHN_FIFO_LINK_BITS);
    CHECK_EQ(init_control(mfn(cb_page), off, 0, NULL), -XEN_EINVAL);  /* vCPU 0 has one */
    CHECK_EQ(init_control(mfn(cb_page), 0, 100, NULL), -XEN_ENOENT);
    /* FIFO now: set_priority on a closed port of a valid bucket, bad priorities. */
    CHECK_EQ(set_priority(carried, EVTCHN_FIFO_PRIORITY_MIN + 1), -XEN_EINVAL);
    CHECK_EQ(set_priority(carried, 0xffffffffu), -XEN_EINVAL);
    CHECK_EQ(set_priority(5000, 1), -XEN_EINVAL);
    CHECK_EQ(set_priority(0, 1), -XEN_EACCES);              /* port 0: reserved, closed */
    /* Array pages: refusals first (no page is added). */
    CHECK_EQ(expand(~0ull), -XEN_EINVAL);
    CHECK_EQ(expand(1ull << 40), -XEN_EINVAL);
    CHECK_EQ(expand(mfn((void *)minios_start_info->pt_base)), -XEN_EINVAL);
    /* Every word masked, as a guest (Linux) sets up a page before it gives it. */
    for (unsigned i = 0; i < PG / sizeof(event_word_t); i++)
        words[i] = MASKED;
    CHECK_EQ(expand(mfn(array_page)), 0);
    /* The 2-level event pending at the switch is pending on its word now;
     * masked, so not linked, and nothing is ready. */
    CHECK_EQ(words[carried], MASKED | PENDING);
    CHECK_EQ(ready(), 0);
    /* Unmask links it: the head of the default queue, READY, an upcall. */
    minios_vcpu_info()->evtchn_upcall_pending = 0;
    CHECK_EQ(op(EVTCHNOP_unmask, carried), 0);
    CHECK_EQ(words[carried], PENDING | LINKED);
    CHECK_EQ(ready(), 1u << EVTCHN_FIFO_PRIORITY_DEFAULT);
    CHECK_EQ(cb->head[EVTCHN_FIFO_PRIORITY_DEFAULT], carried);
    CHECK_EQ(minios_vcpu_info()->evtchn_upcall_pending, 1);
    unsigned q = 99;
    CHECK_EQ(consume(&q), carried);
    CHECK_EQ(q, EVTCHN_FIFO_PRIORITY_DEFAULT);
    CHECK_EQ(ready(), 0);
    CHECK_EQ(words[carried], 0);
}

/* Priorities: the highest (0) first; one queue in the order sent. */
static void test_order(void)
{
    evtchn_port_t p1 = ipi(), p2 = ipi(), p3 = ipi(), a, b;
    CHECK_EQ(minios_evtchn_alloc_unbound(DOMID_SELF, &a), 0);
    CHECK_EQ(minios_evtchn_bind_interdomain(DOMID_SELF, a, &b), 0);
    /* A new port gets its word as it was (masked here): the bind's own
     * notification leaves b pending, not linked. */
    CHECK_EQ(words[b], MASKED | PENDING);
    words[b] = MASKED;
    CHECK_EQ(set_priority(p1, 10), 0);
    CHECK_EQ(set_priority(p2, 3), 0);
    CHECK_EQ(set_priority(p3, 3), 0);
    CHECK_EQ(set_priority(b, EVTCHN_FIFO_PRIORITY_MAX), 0);
    evtchn_port_t ports[] = { p1, p2, p3, a, b };
    for (unsigned i = 0; i < 5; i++)
        CHECK_EQ(op(EVTCHNOP_unmask, ports[i]), 0);
    CHECK_EQ(ready(), 0);                                   /* nothing pending */
    CHECK_EQ(op(EVTCHNOP_send, p1), 0);
    CHECK_EQ(op(EVTCHNOP_send, p2), 0);
    CHECK_EQ(op(EVTCHNOP_send, p3), 0);
    CHECK_EQ(op(EVTCHNOP_send, a), 0);                      /* to b */
    CHECK_EQ(op(EVTCHNOP_send, p2), 0);                     /* pending already: no change */
    CHECK_EQ(ready(), (1u << 10) | (1u << 3) | (1u << 0));
    CHECK_EQ(cb->head[3], p2);
    CHECK_EQ(words[p2], PENDING | LINKED | p3);
    CHECK_EQ(words[p3], PENDING | LINKED);
    CHECK_EQ(cb->head[10], p1);
    CHECK_EQ(cb->head[0], b);
    CHECK_EQ(words[a], 0);
    evtchn_port_t want[] = { b, p2, p3, p1 };
    for (unsigned i = 0; i < 4; i++)
        CHECK_EQ(consume(NULL), want[i]);
    CHECK_EQ(consume(NULL), -1);
    printf("FIFO order: %u (priority 0), %u and %u (3), %u (10)\n", b, p2, p3, p1);

    /* A masked port: PENDING only; unmask links it. */
    words[p1] |= MASKED;
    CHECK_EQ(op(EVTCHNOP_send, p1), 0);
    CHECK_EQ(words[p1], MASKED | PENDING);
    CHECK_EQ(ready(), 0);
    CHECK_EQ(op(EVTCHNOP_unmask, p1), 0);
    CHECK_EQ(words[p1], PENDING | LINKED);
    CHECK_EQ(ready(), 1u << 10);
    CHECK_EQ(consume(NULL), p1);

    /* A priority changed while linked: future events only. */
    CHECK_EQ(op(EVTCHNOP_send, p2), 0);
    CHECK_EQ(set_priority(p2, 12), 0);
    CHECK_EQ(ready(), 1u << 3);
    CHECK_EQ(consume(NULL), p2);
    CHECK_EQ(op(EVTCHNOP_send, p2), 0);
    CHECK_EQ(ready(), 1u << 12);
    CHECK_EQ(cb->head[12], p2);
    CHECK_EQ(consume(NULL), p2);

    /* SCHEDOP_poll returns at once for a pending FIFO port. */
    CHECK_EQ(op(EVTCHNOP_send, p3), 0);
    struct sched_poll sp = { .nr_ports = 1, .timeout = 0 };
    set_xen_guest_handle(sp.ports, &p3);
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_poll, &sp), 0);

    /* Closing a linked port clears PENDING; the port stays busy (not
     * reused) until the guest unlinks it. */
    CHECK_EQ(minios_evtchn_close(p3), 0);
    CHECK_EQ(words[p3], LINKED);
    evtchn_port_t n = ipi();
    if (n == p3)
        test_fail("port %u reused while still linked", p3);
    CHECK_EQ(consume(NULL), 0);                             /* unlinked, not pending */
    CHECK_EQ(ready(), 0);
    evtchn_port_t n2 = ipi();
    if (n2 != p3 && n2 > p3)
        test_fail("port %u not reused once unlinked (got %u)", p3, n2);
    CHECK_EQ(minios_evtchn_close(n), 0);
    CHECK_EQ(minios_evtchn_close(n2), 0);
    CHECK_EQ(minios_evtchn_close(p1), 0);
    CHECK_EQ(minios_evtchn_close(p2), 0);
    CHECK_EQ(minios_evtchn_close(a), 0);
    CHECK_EQ(minios_evtchn_close(b), 0);
}

/* Queues are per vCPU: an event for a vCPU without a control block is
 * dropped; with one, it goes on that vCPU's queue and upcall. */
static void test_vcpu1(void)
{
    if (!two_vcpus) {
        printf("one vCPU: per-vCPU queues not checked (give vcpus=2)\n");
        return;
    }
    struct evtchn_bind_ipi b = { .vcpu = 1 };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &b), 0);
    evtchn_port_t p = b.port;
    words[p] = 0;
    CHECK_EQ(op(EVTCHNOP_send, p), 0);
    CHECK_EQ(words[p], 0);                                   /* dropped: not even PENDING */
    evtchn_fifo_control_block_t *cb1 = (evtchn_fifo_control_block_t *)(cb_page + 256);
    CHECK_EQ(init_control(mfn(cb_page), 256, 1, NULL), 0);
    CHECK_EQ(init_control(mfn(cb_page), 256, 1, NULL), -XEN_EINVAL);
    vcpu_info_t *vi1 = &minios_shared_info->vcpu_info[1];
    vi1->evtchn_upcall_pending = 0;
    CHECK_EQ(set_priority(p, 4), 0);
    CHECK_EQ(op(EVTCHNOP_send, p), 0);
    CHECK_EQ(words[p], PENDING | LINKED);
    CHECK_EQ(cb1->ready, 1u << 4);
    CHECK_EQ(cb1->head[4], p);
    CHECK_EQ(ready(), 0);                                    /* not vCPU 0's */
    CHECK_EQ(vi1->evtchn_upcall_pending, 1);
    words[p] = 0;                                            /* consumed, as vCPU 1 would */
    cb1->ready = 0;
    CHECK_EQ(minios_evtchn_close(p), 0);
    printf("vCPU 1: its own queue, head %u\n", p);
}

/* VIRQ_TIMER is delivered the FIFO way. */
static void test_virq(void)
{
    evtchn_port_t t = minios_timer_port();
    if (!t) {
        printf("no timer port: VIRQ not checked\n");
        return;
    }
    CHECK_EQ(set_priority(t, 5), 0);
    words[t] = 0;                                            /* unmasked, not pending */
    CHECK_EQ(HYPERVISOR_set_timer_op(minios_monotonic_ns() + 1000), 0);
    for (unsigned long i = 0; !(words[t] & PENDING) && i < 100000000UL; i++)
        __asm__ volatile("pause");
    CHECK_EQ(words[t], PENDING | LINKED);
    CHECK_EQ(ready(), 1u << 5);
    CHECK_EQ(consume(NULL), t);
    words[t] = MASKED;
}

/* A hostile guest: garbage in the event words and the control block
 * (LINKED and BUSY on idle ports, links to ports that do not exist, heads
 * and READY bits made up) while its ports are sent to, unmasked and
 * reprioritised; every call still succeeds, and the hypervisor follows
 * no link the guest wrote (it writes only a tail's link, a head and READY). */
static void test_hostile(void)
{
    evtchn_port_t p[4];
    for (unsigned i = 0; i < 4; i++)
        p[i] = ipi();
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (unsigned r = 0; r < 300; r++) {
        for (unsigned i = 0; i < 64; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            words[i] = (uint32_t)(x >> 32);
        }
        cb->head[r % EVTCHN_FIFO_MAX_QUEUES] = (uint32_t)(x >> 5);
        cb->ready = (uint32_t)x;
        CHECK_EQ(op(EVTCHNOP_send, p[r % 4]), 0);
        CHECK_EQ(op(EVTCHNOP_unmask, p[(r + 1) % 4]), 0);
        CHECK_EQ(set_priority(p[(r + 2) % 4], r % EVTCHN_FIFO_MAX_QUEUES), 0);
        CHECK_EQ(op(EVTCHNOP_send, p[(r + 3) % 4]), 0);
    }
    for (unsigned i = 0; i < PG / sizeof(event_word_t); i++)
        words[i] = MASKED;
    for (unsigned q = 0; q < EVTCHN_FIFO_MAX_QUEUES; q++)
        cb->head[q] = local_head[q] = 0;
    cb->ready = 0;
    for (unsigned i = 0; i < 4; i++)
        CHECK_EQ(minios_evtchn_close(p[i]), 0);
    printf("hostile words and control block: 1200 calls, all fine\n");
}

/* Array pages: up to 128 (2^17 ports), then -ENOSPC. */
static void test_expand(void)
{
    char *pages = minios_alloc_pages(128);
    if (!pages) {
        test_error("no 128 pages");
        return;
    }
    unsigned n = 1;                                          /* array_page */
    long rc;
    while ((rc = expand(mfn(pages + (n - 1) * PG))) == 0 && n < 200)
        n++;
    CHECK_EQ(rc, -XEN_ENOSPC);
    CHECK_EQ(n, 128);
    printf("event array: %u pages, then %ld\n", n, rc);
}

/* EVTCHNOP_reset: every port closed, back to the 2-level ABI. */
static void test_reset(void)
{
    struct evtchn_reset r = { .dom = DOMID_SELF };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_reset, &r), 0);
    evtchn_port_t a;
    CHECK_EQ(minios_evtchn_alloc_unbound(DOMID_SELF, &a), 0);
    CHECK_EQ(set_priority(a, 3), -XEN_ENOSYS);
    CHECK_EQ(expand(mfn(array_page)), -XEN_EOPNOTSUPP);
    evtchn_port_t b;
    CHECK_EQ(minios_evtchn_bind_interdomain(DOMID_SELF, a, &b), 0);
    /* 2-level again: the bind's notification is in shared_info. */
    CHECK_EQ((minios_shared_info->evtchn_pending[b / BITS] >> (b % BITS)) & 1, 1);
    CHECK_EQ(minios_evtchn_close(a), 0);
}

static int single(void)
{
    evtchn_port_t a, carried;
    minios_events_disable();
    /* A 2-level event pending (and masked) at the switch. */
    CHECK_EQ(minios_evtchn_alloc_unbound(DOMID_SELF, &a), 0);
    CHECK_EQ(minios_evtchn_bind_interdomain(DOMID_SELF, a, &carried), 0);
    minios_evtchn_mask(carried);
    CHECK_EQ(op(EVTCHNOP_send, a), 0);
    test_before(carried);
    test_switch(carried);
    test_order();
    test_vcpu1();
    test_virq();
    test_hostile();
    CHECK_EQ(minios_evtchn_close(a), 0);
    CHECK_EQ(minios_evtchn_close(carried), 0);
    test_expand();
    test_reset();
    return test_finish();
}

/* ---- two domains: op=fifo and op=twolevel ---- */

static volatile unsigned long hits;

static void count(evtchn_port_t port, void *data)
{
    (void)port, (void)data;
    hits++;
}

static void wait_for(int (*cond)(void), const char *what)
{
    for (unsigned long i = 0; !cond(); i++) {
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        if (i == 5000000) {
            test_error("timed out waiting for %s", what);
            exit(test_finish());
        }
    }
}

static unsigned long want_hits;
static int hits_reached(void) { return hits >= want_hits; }
static evtchn_port_t fifo_port;
static int fifo_ready(void) { return ready() != 0; }

static int twolevel(domid_t peer)
{
    evtchn_port_t p;
    /* Events off until the handler is there: the peer may send as soon
     * as the port exists, and an event without a handler is dropped. */
    minios_events_disable();
    CHECK_EQ(minios_evtchn_alloc_unbound(peer, &p), 0);
    CHECK_EQ(minios_evtchn_bind(p, count, NULL), 0);
    minios_events_enable();
    want_hits = 1;
    wait_for(hits_reached, "the FIFO peer's first event");
    printf("twolevel: event from the FIFO peer on port %u\n", p);
    CHECK_EQ(minios_evtchn_send(p), 0);
    want_hits = 2;
    wait_for(hits_reached, "the FIFO peer's second event");
    printf("twolevel: second event\n");
    return test_finish();
}

static int fifo(domid_t peer)
{
    minios_events_disable();
    unsigned off = 64;
    cb = (evtchn_fifo_control_block_t *)(cb_page + off);
    CHECK_EQ(init_control(mfn(cb_page), off, 0, NULL), 0);
    for (unsigned i = 0; i < PG / sizeof(event_word_t); i++)
        words[i] = MASKED;
    CHECK_EQ(expand(mfn(array_page)), 0);
    /* The peer's port offered to us: the one a bind accepts. */
    evtchn_port_t l = 0;
    for (unsigned long t = 0; !l && t < 2000000; t++) {
        for (evtchn_port_t rp = 1; rp < 64 && !l; rp++)
            if (minios_evtchn_bind_interdomain(peer, rp, &l) != 0)
                l = 0;
        if (!l)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    if (!l) {
        test_error("the 2-level peer offered no port");
        return test_finish();
    }
    fifo_port = l;
    CHECK_EQ(words[l], MASKED | PENDING);                   /* the bind's notification */
    words[l] = MASKED;
    CHECK_EQ(set_priority(l, 2), 0);
    CHECK_EQ(op(EVTCHNOP_unmask, l), 0);
    CHECK_EQ(minios_evtchn_send(l), 0);
    wait_for(fifo_ready, "the 2-level peer's event");
    CHECK_EQ(ready(), 1u << 2);
    CHECK_EQ(cb->head[2], l);
    CHECK_EQ(consume(NULL), l);
    printf("fifo: event from the 2-level peer on port %u, queue 2\n", l);
    CHECK_EQ(minios_evtchn_send(l), 0);
    return test_finish();
}

int main(int argc, char **argv)
{
    if (!minios_events_available()) {
        test_skip("no events (shared_info or callbacks refused)");
        return test_finish();
    }
    const char *o = test_arg(argc, argv, "op"), *pe = test_arg(argc, argv, "peer");
    domid_t peer = pe ? (domid_t)strtoul(pe, NULL, 0) : 0;
    two_vcpus = HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL) >= 0;
    if (o && !strcmp(o, "fifo"))
        return fifo(peer);
    if (o && !strcmp(o, "twolevel"))
        return twolevel(peer);
    return single();
}
