/* Guest test: PV time: the vcpu_time_info clock, the secondary time area, the wallclock, set_timer_op, singleshot timers, VIRQ_TIMER, SCHEDOP_block and SCHEDOP_poll. */
/* newlib declares clock_gettime() and nanosleep(), and names
 * CLOCK_MONOTONIC, only where the target says it has them; minios does. */
#define _POSIX_TIMERS 1
#define _POSIX_MONOTONIC_CLOCK 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/sched.h>
#include <minios/time.h>
#include "report.h"

#define MS        1000000ull
#define HV_ADDR   0xFFFF830000100000UL
#define BITS      (sizeof(xen_ulong_t) * 8)

static int pending(evtchn_port_t p)
{
    return (minios_shared_info->evtchn_pending[p / BITS] >> (p % BITS)) & 1;
}

static void test_clock(void)
{
    vcpu_time_info_t *t = &minios_vcpu_info()->time;
    uint64_t prev = minios_monotonic_ns(), first = prev;

    if (t->version & 1)
        test_fail("vcpu_time_info version %u is odd", t->version);
    if (t->tsc_to_system_mul == 0)
        test_fail("tsc_to_system_mul is 0");
    printf("time: system_time %lu tsc_to_system_mul %u tsc_shift %d flags %#x\n",
           (unsigned long)t->system_time, t->tsc_to_system_mul, t->tsc_shift, t->flags);
    for (int i = 0; i < 1000; i++) {
        uint64_t now = minios_monotonic_ns();
        if (now < prev) {
            test_fail("clock went back: %lu after %lu", (unsigned long)now, (unsigned long)prev);
            break;
        }
        prev = now;
    }
    if (prev == first)
        test_fail("clock did not advance over 1000 reads");
    if (first == 0)
        test_fail("system time is 0");

    struct timespec ts;
    CHECK_EQ(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
    uint64_t c = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    if (c < prev || c > minios_monotonic_ns())
        test_fail("CLOCK_MONOTONIC %lu outside minios_monotonic_ns", (unsigned long)c);
}

/* VCPUOP_register_vcpu_time_memory_area (Linux's pvclock vDSO page): a
 * second vcpu_time_info written at once and at every update of the
 * vCPU's time (Keel updates it at every switch-in, Xen when the record
 * changes: at its once-a-second calibration), with Xen's errors; 0 stops
 * it. */
static vcpu_time_info_t time_area __attribute__((aligned(64)));

/* Waits (at most 3 s) for vcpu_info's time to change from version v. */
static uint32_t next_time_update(uint32_t v)
{
    vcpu_time_info_t *t = &minios_vcpu_info()->time;
    uint64_t end = minios_monotonic_ns() + 3000 * MS;
    while (t->version == v && minios_monotonic_ns() < end)
        usleep(5000);
    return t->version;
}

static void test_time_area(void)
{
    struct vcpu_register_time_memory_area a = { .addr.v = &time_area };
    vcpu_time_info_t *t = &minios_vcpu_info()->time;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_time_memory_area, 0, &a), 0);
    uint32_t v1 = time_area.version;
    uint64_t s1 = time_area.system_time;
    if (!v1 || (v1 & 1))
        test_fail("time area version %u after registering", v1);
    CHECK_EQ(time_area.tsc_to_system_mul, t->tsc_to_system_mul);
    CHECK_EQ(time_area.tsc_shift, t->tsc_shift);
    CHECK_EQ(time_area.flags, t->flags);
    if (s1 == 0 || s1 > minios_monotonic_ns())
        test_fail("time area system_time %lu", (unsigned long)s1);
    /* The next update of the vCPU's time reaches the area too. */
    uint32_t v = next_time_update(t->version);
    usleep(1000);                /* an exit to the guest kernel since */
    if (time_area.version == v1 || time_area.system_time <= s1)
        test_fail("time area not updated with vcpu_info (version %u, system_time %lu; "
                  "vcpu_info's version %u)", time_area.version,
                  (unsigned long)time_area.system_time, v);
    /* Refused: the record in the hypervisor's range, the argument
     * unreadable, a vCPU that is not.  As Xen's access_ok, only the
     * record's start is checked: one running into the non-canonical hole
     * is accepted (and its writes fail). */
    a.addr.v = (vcpu_time_info_t *)HV_ADDR;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_time_memory_area, 0, &a), -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_time_memory_area, 0, (void *)HV_ADDR),
             -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_time_memory_area, 100, &a), -XEN_ENOENT);
    uint32_t v2 = time_area.version;
    a.addr.v = (vcpu_time_info_t *)0x00007ffffffffff0UL;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_time_memory_area, 0, &a), 0);
    next_time_update(t->version);
    usleep(1000);
    CHECK_EQ(time_area.version, v2);
    /* Registered again, then stopped with 0. */
    a.addr.v = &time_area;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_time_memory_area, 0, &a), 0);
    if (time_area.version == v2)
        test_fail("time area not written when registered again");
    a.addr.v = NULL;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_register_vcpu_time_memory_area, 0, &a), 0);
    uint32_t v3 = time_area.version;
    next_time_update(t->version);
    usleep(1000);
    CHECK_EQ(time_area.version, v3);
    printf("time area: version %u -> %u, updates stop at 0\n", v1, v3);
}

static void test_wallclock(void)
{
    uint64_t s1, s2;
    uint32_t n1, n2;
    struct timeval tv;

    CHECK_EQ(minios_wallclock(&s1, &n1), 0);
    printf("wallclock %lu.%09u (wc_sec %u wc_nsec %u wc_sec_hi %u)\n", (unsigned long)s1, n1,
           minios_shared_info->wc_sec, minios_shared_info->wc_nsec,
           minios_shared_info->wc_sec_hi);
    if (s1 < 1577836800)                 /* 2020-01-01 */
        test_fail("wallclock %lu is before 2020", (unsigned long)s1);
    if (n1 >= 1000000000u)
        test_fail("wallclock nanoseconds %u", n1);
    minios_sleep_ns(20 * MS);
    CHECK_EQ(minios_wallclock(&s2, &n2), 0);
    int64_t d = (int64_t)(s2 - s1) * 1000000000 + ((int64_t)n2 - (int64_t)n1);
    if (d < (int64_t)(20 * MS) || d > (int64_t)(1000 * MS))
        test_fail("wallclock advanced %ld ns over a 20 ms sleep", (long)d);
    time_t now = time(NULL);
    if (now < (time_t)s2 || now > (time_t)s2 + 2)
        test_fail("time() = %ld, wallclock %lu", (long)now, (unsigned long)s2);
    CHECK_EQ(gettimeofday(&tv, NULL), 0);
    if ((uint64_t)tv.tv_sec < s2)
        test_fail("gettimeofday %ld < wallclock %lu", (long)tv.tv_sec, (unsigned long)s2);
}

/* Sleeps of 10 ms through the timer and SCHEDOP_block: each wakes after
 * 10 ms and not much later. */
static uint64_t sleep_slack = 1 * MS;

static void test_sleep(void)
{
    uint64_t worst = 0, best = ~0ull;

    for (int i = 0; i < 5; i++) {
        uint64_t t0 = minios_monotonic_ns(), ev = minios_timer_events();
        minios_sleep_ns(10 * MS);
        uint64_t d = minios_monotonic_ns() - t0;
        if (d > worst)
            worst = d;
        if (d < best)
            best = d;
        if (minios_timer_events() == ev)
            test_fail("sleep: no VIRQ_TIMER event");
    }
    printf("10 ms sleeps took %lu .. %lu ns\n", (unsigned long)best, (unsigned long)worst);
    if (best < 10 * MS)
        test_fail("a 10 ms sleep took only %lu ns", (unsigned long)best);
    if (worst > 10 * MS + sleep_slack)
        test_fail("a 10 ms sleep took %lu ns (more than 10 ms + %lu ns)",
                  (unsigned long)worst, (unsigned long)sleep_slack);

    uint64_t t0 = minios_monotonic_ns();
    CHECK_EQ(usleep(3000), 0);
    struct timespec rq = { 0, 2 * MS };
    CHECK_EQ(nanosleep(&rq, NULL), 0);
    if (minios_monotonic_ns() - t0 < 5 * MS)
        test_fail("usleep(3 ms) + nanosleep(2 ms) took %lu ns",
                  (unsigned long)(minios_monotonic_ns() - t0));
}

static void wait_ns(uint64_t ns)
{
    uint64_t end = minios_monotonic_ns() + ns;

    while (minios_monotonic_ns() < end)
        ;
}

static void test_timer_ops(void)
{
    uint64_t ev;

    /* A deadline in the past fires at once: the upcall comes as the
     * hypercall returns. */
    ev = minios_timer_events();
    CHECK_EQ(HYPERVISOR_set_timer_op(minios_monotonic_ns() - MS), 0);
    wait_ns(MS);
    if (minios_timer_events() != ev + 1)
        test_fail("set_timer_op(past): %lu timer events, expected 1",
                  (unsigned long)(minios_timer_events() - ev));

    /* set_timer_op(0) cancels a pending deadline. */
    ev = minios_timer_events();
    /* Far enough ahead that a host stall between the two calls cannot let
     * it fire first (TCG on a loaded host can stall a vCPU for ms). */
    CHECK_EQ(HYPERVISOR_set_timer_op(minios_monotonic_ns() + 50 * MS), 0);
    CHECK_EQ(HYPERVISOR_set_timer_op(0), 0);
    wait_ns(60 * MS);
    if (minios_timer_events() != ev)
        test_fail("set_timer_op(0) did not cancel the timer");

    /* A deadline fires once, while we spin (no block needed). */
    ev = minios_timer_events();
    CHECK_EQ(HYPERVISOR_set_timer_op(minios_monotonic_ns() + 2 * MS), 0);
    wait_ns(30 * MS);
    if (minios_timer_events() != ev + 1)
        test_fail("set_timer_op(+2 ms): %lu timer events in 6 ms, expected 1",
                  (unsigned long)(minios_timer_events() - ev));

    /* VCPUOP singleshot timers. */
    struct vcpu_set_singleshot_timer sst = {
        .timeout_abs_ns = minios_monotonic_ns() - MS,
        .flags = VCPU_SSHOTTMR_future,
    };
    /* Xen 4.17 ignores VCPU_SSHOTTMR_future (Linux set it wrongly): a
     * deadline in the past is accepted and fires at once. */
    ev = minios_timer_events();
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &sst), 0);
    wait_ns(MS);
    if (minios_timer_events() != ev + 1)
        test_fail("singleshot(past, future flag): %lu timer events, expected 1",
                  (unsigned long)(minios_timer_events() - ev));
    sst.timeout_abs_ns = minios_monotonic_ns() + 2 * MS;
    sst.flags = 0;
    ev = minios_timer_events();
    sst.timeout_abs_ns = minios_monotonic_ns() + 50 * MS;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &sst), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, 0, NULL), 0);
    wait_ns(60 * MS);
    if (minios_timer_events() != ev)
        test_fail("stop_singleshot_timer did not stop it");
    sst.timeout_abs_ns = minios_monotonic_ns() + 2 * MS;
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &sst), 0);
    wait_ns(30 * MS);
    if (minios_timer_events() != ev + 1)
        test_fail("singleshot timer: %lu events, expected 1",
                  (unsigned long)(minios_timer_events() - ev));
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 100, &sst), -XEN_ENOENT);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_stop_singleshot_timer, 100, NULL), -XEN_ENOENT);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, (void *)HV_ADDR), -XEN_EFAULT);
    /* Periods under 1 ms are refused. */
    struct vcpu_set_periodic_timer pt = { .period_ns = 1000 };
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_set_periodic_timer, 0, &pt), -XEN_EINVAL);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_set_periodic_timer, 0, (void *)HV_ADDR), -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL), 0);
    HYPERVISOR_set_timer_op(0);
}

/* SCHEDOP_block with delivery masked: returns once the timer's event came
 * (delivered as it returns). */
static void test_block(void)
{
    uint64_t ev = minios_timer_events(), t0 = minios_monotonic_ns();

    minios_events_disable();
    CHECK_EQ(HYPERVISOR_set_timer_op(t0 + 3 * MS), 0);
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_block, NULL), 0);
    uint64_t d = minios_monotonic_ns() - t0;
    if (minios_vcpu_info()->evtchn_upcall_mask)
        test_fail("SCHEDOP_block left delivery masked");
    minios_events_disable();
    if (minios_timer_events() != ev + 1)
        test_fail("block: %lu timer events, expected 1", (unsigned long)(minios_timer_events() - ev));
    if (d < 3 * MS)
        test_fail("block returned after %lu ns, before the 3 ms timer", (unsigned long)d);
    minios_events_enable();
}

/* SCHEDOP_poll: returns when a polled port is (or becomes) pending, or at
 * the timeout; the port stays masked and pending. */
static void test_poll(void)
{
    evtchn_port_t tp = minios_timer_port(), ports[2];
    struct sched_poll poll = { .nr_ports = 1, .timeout = 0 };
    uint64_t t0;

    set_xen_guest_handle(poll.ports, ports);
    ports[0] = tp;
    minios_evtchn_mask(tp);

    /* Becomes pending while we wait. */
    t0 = minios_monotonic_ns();
    CHECK_EQ(HYPERVISOR_set_timer_op(t0 + 3 * MS), 0);
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_poll, &poll), 0);
    if (minios_monotonic_ns() - t0 < 3 * MS)
        test_fail("poll returned after %lu ns, before the timer",
                  (unsigned long)(minios_monotonic_ns() - t0));
    CHECK_EQ(pending(tp), 1);

    /* Already pending: at once. */
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_poll, &poll), 0);

    /* Nothing pending: the timeout (absolute system time) ends it. */
    uint64_t ev = minios_timer_events();
    minios_evtchn_unmask(tp);
    if (minios_timer_events() != ev + 1)
        test_fail("unmask after poll did not deliver the timer event");
    minios_evtchn_mask(tp);
    t0 = minios_monotonic_ns();
    poll.timeout = t0 + 2 * MS;
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_poll, &poll), 0);
    if (minios_monotonic_ns() - t0 < 2 * MS)
        test_fail("poll with a 2 ms timeout returned after %lu ns",
                  (unsigned long)(minios_monotonic_ns() - t0));
    CHECK_EQ(pending(tp), 0);
    minios_evtchn_unmask(tp);
    poll.timeout = 0;

    ports[0] = EVTCHN_2L_NR_CHANNELS;
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_poll, &poll), -XEN_EINVAL);
    ports[0] = tp;
    poll.nr_ports = 129;                 /* more than Xen polls at once */
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_poll, &poll), -XEN_EINVAL);
    poll.nr_ports = 1;
    set_xen_guest_handle(poll.ports, (evtchn_port_t *)HV_ADDR);
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_poll, &poll), -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_sched_op(SCHEDOP_poll, (void *)HV_ADDR), -XEN_EFAULT);
}

/*
 * argv: "slack_us=N" allows sleeps to overshoot by N us (default 1000).
 * Guest time is exact only under QEMU -icount; without it a loaded host
 * delays timer interrupts by milliseconds.
 */
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "slack_us=", 9) == 0)
            sleep_slack = strtoull(argv[i] + 9, NULL, 10) * 1000;
    if (!minios_events_available() || !minios_timer_port()) {
        test_skip("no events or no VIRQ_TIMER port");
        return test_finish();
    }
    test_clock();
    test_time_area();
    test_wallclock();
    test_sleep();
    test_timer_ops();
    test_block();
    test_poll();
    return test_finish();
}
