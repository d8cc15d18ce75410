/* time.c: minios's PV clock (vcpu_time_info, the shared_info wallclock) and timer sleeps. */
#include <minios/console.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/sched.h>
#include <minios/thread.h>
#include <minios/time.h>
#include "kernel.h"

static evtchn_port_t timer_port;
static volatile uint64_t timer_events;
static uint64_t last_ns;

static void timer_handler(evtchn_port_t port, void *data)
{
    (void)port;
    (void)data;
    timer_events++;
}

void minios_time_init(void)
{
    evtchn_port_t port;

    if (!minios_events_available())
        return;
    /* Xen starts a PV vCPU with a 10 ms periodic timer; minios sets its
     * own deadlines (a hypervisor without one may say -ENOSYS). */
    HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);
    if (minios_evtchn_bind_virq(VIRQ_TIMER, 0, &port) == 0 &&
        minios_evtchn_bind(port, timer_handler, NULL) == 0)
        timer_port = port;
}

uint32_t minios_timer_port(void)
{
    return timer_port;
}

uint64_t minios_timer_events(void)
{
    return timer_events;
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;

    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/*
 * system_time + ((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul >> 32,
 * read under the version seqlock: retry while an update is in progress
 * (odd version) or the version changed while we read.
 */
uint64_t minios_monotonic_ns(void)
{
    vcpu_info_t *v = minios_vcpu_info();
    volatile vcpu_time_info_t *t;
    uint32_t version, mul;
    uint64_t ts, sys, delta, ns;
    int8_t shift;

    if (!v)
        return 0;
    t = &v->time;
    do {
        version = t->version;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        ts = t->tsc_timestamp;
        sys = t->system_time;
        mul = t->tsc_to_system_mul;
        shift = t->tsc_shift;
        delta = rdtsc() - ts;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((version & 1) || version != t->version);

    if (shift < 0)
        delta >>= -shift;
    else
        delta <<= shift;
    ns = sys + (uint64_t)(((unsigned __int128)delta * mul) >> 32);

    /* Per-vCPU time records can step back by a little when the
     * hypervisor recalibrates; never report that. */
    if (ns < last_ns)
        ns = last_ns;
    last_ns = ns;
    return ns;
}

int minios_wallclock(uint64_t *sec, uint32_t *nsec)
{
    shared_info_t *s = minios_shared_info;
    volatile shared_info_t *vs = s;
    uint32_t version, wsec, wnsec, whi;
    uint64_t now, total;

    if (!s)
        return -XEN_ENOSYS;
    do {
        version = vs->wc_version;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        wsec = vs->wc_sec;
        wnsec = vs->wc_nsec;
        whi = vs->xen_wc_sec_hi;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
    } while ((version & 1) || version != vs->wc_version);

    now = minios_monotonic_ns();
    total = (uint64_t)wnsec + now % 1000000000u;
    *sec = (((uint64_t)whi << 32) | wsec) + now / 1000000000u + total / 1000000000u;
    *nsec = (uint32_t)(total % 1000000000u);
    return 0;
}

/* Sleeping is a thread's: the others run meanwhile (thread.c). */
void minios_sleep_ns(uint64_t ns)
{
    minios_thread_sleep_ns(ns);
}
