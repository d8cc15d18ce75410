/* Guest test: 2-level event channels: loopback pairs, upcalls, masking, status, close, limits and bad arguments. */
#include <stdio.h>
#include <string.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/time.h>
#include "report.h"

#define HV_ADDR   0xFFFF830000100000UL
#define NR_PORTS  EVTCHN_2L_NR_CHANNELS
#define BITS      (sizeof(xen_ulong_t) * 8)

static volatile unsigned long hits[NR_PORTS];

static void count(evtchn_port_t port, void *data)
{
    (void)data;
    hits[port]++;
}

static int pending(evtchn_port_t p)
{
    return (minios_shared_info->evtchn_pending[p / BITS] >> (p % BITS)) & 1;
}

static long status(evtchn_port_t port, struct evtchn_status *st)
{
    memset(st, 0xff, sizeof(*st));
    st->dom = DOMID_SELF;
    st->port = port;
    return HYPERVISOR_event_channel_op(EVTCHNOP_status, st);
}

static long op(int cmd, evtchn_port_t port)
{
    struct { evtchn_port_t port; } arg = { port };   /* send, close, unmask take just a port */
    return HYPERVISOR_event_channel_op(cmd, &arg);
}

/* Our domain id, as the status of an unbound port names it. */
static domid_t self_id;

static void test_loopback(void)
{
    evtchn_port_t a, b;
    struct evtchn_status st;

    CHECK_EQ(minios_evtchn_alloc_unbound(DOMID_SELF, &a), 0);
    CHECK_EQ(status(a, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_unbound);
    self_id = st.u.unbound.dom;
    printf("unbound port %u: remote dom %u, vcpu %u\n", a, st.u.unbound.dom, st.vcpu);
    CHECK_EQ(minios_evtchn_bind_interdomain(DOMID_SELF, a, &b), 0);
    if (a == b || a == 0 || b == 0)
        test_fail("loopback ports %u and %u", a, b);
    CHECK_EQ(status(a, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_interdomain);
    CHECK_EQ(st.u.interdomain.dom, self_id);
    CHECK_EQ(st.u.interdomain.port, b);
    CHECK_EQ(st.vcpu, 0);
    CHECK_EQ(status(b, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_interdomain);
    CHECK_EQ(st.u.interdomain.port, a);

    hits[a] = hits[b] = 0;
    CHECK_EQ(minios_evtchn_bind(a, count, NULL), 0);
    CHECK_EQ(minios_evtchn_bind(b, count, NULL), 0);
    CHECK_EQ(minios_evtchn_bind(b, count, NULL), -XEN_EBUSY);

    /* A send raises an upcall on the other end before the hypercall returns. */
    uint64_t up = minios_upcall_count();
    CHECK_EQ(minios_evtchn_send(a), 0);
    CHECK_EQ(hits[b], 1);
    CHECK_EQ(hits[a], 0);
    if (minios_upcall_count() == up)
        test_fail("send: no upcall");
    CHECK_EQ(minios_evtchn_send(b), 0);
    CHECK_EQ(hits[a], 1);
    CHECK_EQ(pending(a), 0);

    /* Masked: the pending bit is set, no upcall; unmask delivers it. */
    minios_evtchn_mask(b);
    up = minios_upcall_count();
    CHECK_EQ(minios_evtchn_send(a), 0);
    CHECK_EQ(minios_evtchn_send(a), 0);
    CHECK_EQ(hits[b], 1);
    CHECK_EQ(pending(b), 1);
    CHECK_EQ(minios_upcall_count(), up);
    minios_evtchn_unmask(b);
    CHECK_EQ(hits[b], 2);               /* two sends while pending: one event */
    CHECK_EQ(pending(b), 0);

    /* Delivery disabled on the vCPU: upcall pending, handlers run on enable. */
    minios_events_disable();
    CHECK_EQ(minios_evtchn_send(a), 0);
    CHECK_EQ(hits[b], 2);
    CHECK_EQ(minios_vcpu_info()->evtchn_upcall_pending, 1);
    CHECK_EQ(pending(b), 1);
    minios_events_enable();
    CHECK_EQ(hits[b], 3);
    CHECK_EQ(minios_vcpu_info()->evtchn_upcall_pending, 0);

    /* EVTCHNOP_bind_vcpu: an interdomain port may move (to vCPU 0 here). */
    struct evtchn_bind_vcpu bv = { .port = b, .vcpu = 0 };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv), 0);
    bv.vcpu = 100;
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv), -XEN_ENOENT);

    /* Closing one end leaves the other unbound, waiting for us again. */
    CHECK_EQ(minios_evtchn_close(a), 0);
    CHECK_EQ(status(a, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_closed);
    CHECK_EQ(status(b, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_unbound);
    CHECK_EQ(op(EVTCHNOP_send, a), -XEN_EINVAL);       /* closed */
    CHECK_EQ(op(EVTCHNOP_close, a), -XEN_EINVAL);
    CHECK_EQ(op(EVTCHNOP_send, b), 0);                 /* unbound: dropped */
    CHECK_EQ(hits[b], 3);
    CHECK_EQ(minios_evtchn_close(b), 0);
}

static void test_virq_ipi(void)
{
    struct evtchn_status st;
    evtchn_port_t p, t = minios_timer_port();

    if (t) {
        CHECK_EQ(status(t, &st), 0);
        CHECK_EQ(st.status, EVTCHNSTAT_virq);
        CHECK_EQ(st.u.virq, VIRQ_TIMER);
        CHECK_EQ(st.vcpu, 0);
        CHECK_EQ(minios_evtchn_bind_virq(VIRQ_TIMER, 0, &p), -XEN_EEXIST);
        CHECK_EQ(op(EVTCHNOP_send, t), -XEN_EINVAL);  /* no sends to a VIRQ */
    }
    CHECK_EQ(minios_evtchn_bind_virq(NR_VIRQS, 0, &p), -XEN_EINVAL);
    CHECK_EQ(minios_evtchn_bind_virq(100, 0, &p), -XEN_EINVAL);
    CHECK_EQ(minios_evtchn_bind_virq(VIRQ_DEBUG, 100, &p), -XEN_ENOENT);
    CHECK_EQ(minios_evtchn_bind_virq(VIRQ_DEBUG, 1, &p), -XEN_ENOENT);    /* one vCPU */
    CHECK_EQ(minios_evtchn_bind_virq(VIRQ_CONSOLE, 1, &p), -XEN_EINVAL);  /* global: vCPU 0 only */
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_virq, (void *)HV_ADDR), -XEN_EFAULT);
    if (minios_evtchn_bind_virq(VIRQ_DEBUG, 0, &p) == 0) {
        CHECK_EQ(status(p, &st), 0);
        CHECK_EQ(st.status, EVTCHNSTAT_virq);
        CHECK_EQ(st.u.virq, VIRQ_DEBUG);
        CHECK_EQ(minios_evtchn_close(p), 0);
    } else
        test_fail("bind_virq(VIRQ_DEBUG) failed");
    if (minios_evtchn_bind_virq(VIRQ_DOM_EXC, 0, &p) == 0) {
        struct evtchn_bind_vcpu bv = { .port = p, .vcpu = 0 };
        CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv), 0);  /* global VIRQ */
        CHECK_EQ(minios_evtchn_close(p), 0);
    } else
        test_fail("bind_virq(VIRQ_DOM_EXC) failed");

    struct evtchn_bind_ipi ipi = { .vcpu = 0 };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &ipi), 0);
    p = ipi.port;
    CHECK_EQ(status(p, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_ipi);
    CHECK_EQ(st.vcpu, 0);
    hits[p] = 0;
    CHECK_EQ(minios_evtchn_bind(p, count, NULL), 0);
    CHECK_EQ(minios_evtchn_send(p), 0);
    CHECK_EQ(hits[p], 1);
    struct evtchn_bind_vcpu bv = { .port = p, .vcpu = 0 };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv), -XEN_EINVAL);
    CHECK_EQ(minios_evtchn_close(p), 0);
    ipi.vcpu = 100;
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &ipi), -XEN_ENOENT);
}

static void test_bad(void)
{
    struct evtchn_status st;
    evtchn_port_t p, unbound, other;
    /* Port 1000 lies past the ports Xen has made valid so far (it grows
     * them in buckets of 64 as they are allocated); the others are past
     * the 2-level ABI's 4096. */
    static const evtchn_port_t bad[] = { 1000, NR_PORTS, 0x7fffffff, 0xffffffff };

    /* Port 0 is reserved: it reads as closed and can be unmasked, but not
     * used. */
    CHECK_EQ(op(EVTCHNOP_send, 0), -XEN_EINVAL);
    CHECK_EQ(op(EVTCHNOP_close, 0), -XEN_EINVAL);
    CHECK_EQ(op(EVTCHNOP_unmask, 0), 0);
    CHECK_EQ(status(0, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_closed);
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(op(EVTCHNOP_send, bad[i]), -XEN_EINVAL);
        CHECK_EQ(op(EVTCHNOP_close, bad[i]), -XEN_EINVAL);
        CHECK_EQ(op(EVTCHNOP_unmask, bad[i]), -XEN_EINVAL);
        CHECK_EQ(status(bad[i], &st), -XEN_EINVAL);
        struct evtchn_bind_vcpu bv = { .port = bad[i], .vcpu = 0 };
        CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_vcpu, &bv), -XEN_EINVAL);
    }

    /* An unbound port: a send is dropped silently; it can be closed. */
    CHECK_EQ(minios_evtchn_alloc_unbound(DOMID_SELF, &unbound), 0);
    CHECK_EQ(op(EVTCHNOP_send, unbound), 0);
    CHECK_EQ(op(EVTCHNOP_unmask, unbound), 0);
    CHECK_EQ(status(unbound, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_unbound);

    st.dom = 1234;
    st.port = unbound;
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_status, &st), -XEN_ESRCH);
    st.dom = self_id;
    st.port = unbound;
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_status, &st), 0);   /* by our id */

    CHECK_EQ(minios_evtchn_bind_interdomain(1234, unbound, &p), -XEN_ESRCH);
    CHECK_EQ(minios_evtchn_bind_interdomain(DOMID_SELF, 0, &p), -XEN_EINVAL);
    CHECK_EQ(minios_evtchn_bind_interdomain(DOMID_SELF, 1000, &p), -XEN_EINVAL);
    CHECK_EQ(minios_evtchn_bind_interdomain(DOMID_SELF, NR_PORTS, &p), -XEN_EINVAL);
    if (minios_timer_port())
        CHECK_EQ(minios_evtchn_bind_interdomain(DOMID_SELF, minios_timer_port(), &p),
                 -XEN_EINVAL);
    /* A port offered to domain 1234 may not be taken by anyone else. */
    CHECK_EQ(minios_evtchn_alloc_unbound(1234, &other), 0);
    CHECK_EQ(minios_evtchn_bind_interdomain(DOMID_SELF, other, &p), -XEN_EINVAL);
    CHECK_EQ(minios_evtchn_close(other), 0);

    struct evtchn_alloc_unbound au = { .dom = 1234, .remote_dom = DOMID_SELF };
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &au), -XEN_ESRCH);

    CHECK_EQ(HYPERVISOR_event_channel_op(99, &st), -XEN_ENOSYS);
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_send, (void *)HV_ADDR), -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_status, (void *)HV_ADDR), -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, (void *)HV_ADDR), -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, (void *)HV_ADDR), -XEN_EFAULT);
    CHECK_EQ(minios_evtchn_close(unbound), 0);
}

/* The per-domain limit: allocate until refused, then free them all. */
static evtchn_port_t many[NR_PORTS];

static void test_limit(void)
{
    unsigned n = 0;
    int rc = 0;

    while (n < NR_PORTS && (rc = minios_evtchn_alloc_unbound(DOMID_SELF, &many[n])) == 0)
        n++;
    printf("allocated %u more ports, then %d; highest %u\n", n, rc, n ? many[n - 1] : 0);
    /* Xen's dom0 gets ports up to 4095 (the 2-level ABI's limit), a domU
     * up to max_event_channels (default 1023); past it, -ENOSPC. */
    CHECK_EQ(rc, -XEN_ENOSPC);
    if (n == 0 || many[n - 1] < 1023)
        test_fail("highest port %u, expected at least 1023", n ? many[n - 1] : 0);
    for (unsigned i = 0; i < n; i++)
        if (minios_evtchn_close(many[i]) != 0) {
            test_fail("close(%u) failed", many[i]);
            break;
        }
}

int main(void)
{
    if (!minios_events_available()) {
        test_skip("no events (shared_info or callbacks refused)");
        return test_finish();
    }
    test_loopback();
    test_virq_ipi();
    test_bad();
    test_limit();
    return test_finish();
}
