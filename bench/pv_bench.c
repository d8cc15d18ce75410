/* Benchmark guest for the PV core, in guest TSC ticks under -icount:
 *   op=ping / op=pong  event-channel round trip between two domains
 *                      (pong offers port, ping binds it; SCHEDOP_poll waits)
 *   op=yield           SCHEDOP_yield between two domains on one pCPU: the
 *                      cost of one domain context switch
 *   op=timer           singleshot timer deadline to the guest's upcall */
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 20000

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static void wait_port(evtchn_port_t port)
{
    struct sched_poll p = { .nr_ports = 1, .timeout = 0 };
    set_xen_guest_handle(p.ports, &port);
    shared_info_t *s = minios_shared_info;
    for (;;) {
        xen_ulong_t bit = (xen_ulong_t)1 << (port % 64);
        if (__atomic_fetch_and(&s->evtchn_pending[port / 64], ~bit, __ATOMIC_SEQ_CST) & bit)
            return;
        HYPERVISOR_sched_op(SCHEDOP_poll, &p);
    }
}

static void pingpong(int ping, domid_t peer, const char *tag)
{
    evtchn_port_t port;
    shared_info_t *sh = minios_shared_info;
    /* No upcalls from here on: events are seen through SCHEDOP_poll. */
    minios_events_disable();
    if (ping) {
        /* The peer offers its first free port after its timer's: retry. */
        struct evtchn_bind_interdomain b = { .remote_dom = peer };
        long rc = -1;
        while (rc) {
            for (b.remote_port = 1; b.remote_port < 8; b.remote_port++)
                if ((rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b)) == 0)
                    break;
            if (rc)
                HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        }
        port = b.local_port;
    } else {
        struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = peer };
        if (HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a)) {
            printf("alloc_unbound failed\n");
            return;
        }
        port = a.port;
    }
    minios_evtchn_mask(port);
    /* Binding notifies the local end; that is not a message. */
    __atomic_fetch_and(&sh->evtchn_pending[port / 64], ~((xen_ulong_t)1 << (port % 64)),
                       __ATOMIC_SEQ_CST);
    struct evtchn_send s = { .port = port };
    uint64_t t0 = 0;
    for (int i = 0; i < ROUNDS + 100; i++) {
        if (i == 100)
            t0 = rdtsc();
        if (ping) {
            HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
            wait_port(port);
        } else {
            wait_port(port);
            HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
        }
    }
    if (ping)
        printf("bench: evtchn_round_trip_%s_tsc=%llu\n", tag,
               (unsigned long long)((rdtsc() - t0) / ROUNDS));
    minios_events_enable();
}

static void yield(void)
{
    for (int i = 0; i < 100; i++)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    uint64_t t0 = rdtsc();
    for (int i = 0; i < ROUNDS; i++)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    uint64_t t1 = rdtsc();
    printf("bench: yield_switch_tsc=%llu\n", (unsigned long long)((t1 - t0) / ROUNDS));
}

static void timer(void)
{
    uint64_t total = 0;
    const int n = 1000;
    for (int i = 0; i < n; i++) {
        uint64_t ev = minios_timer_events();
        uint64_t deadline = minios_monotonic_ns() + 50000;
        HYPERVISOR_set_timer_op(deadline);
        while (minios_timer_events() == ev)
            ;
        total += minios_monotonic_ns() - deadline;
    }
    printf("bench: timer_to_upcall_ns=%llu\n", (unsigned long long)(total / n));
}

int main(int argc, char **argv)
{
    const char *op = "", *tag = "same_cpu";
    unsigned peer = 0;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "op=", 3))
            op = argv[i] + 3;
        else if (!strncmp(argv[i], "peer=", 5))
            peer = (unsigned)atoi(argv[i] + 5);
        else if (!strncmp(argv[i], "tag=", 4))
            tag = argv[i] + 4;
    }
    if (!strcmp(op, "ping") || !strcmp(op, "pong"))
        pingpong(!strcmp(op, "ping"), (domid_t)peer, tag);
    else if (!strcmp(op, "yield"))
        yield();
    else if (!strcmp(op, "timer"))
        timer();
    return 0;
}
