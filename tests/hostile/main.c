/* Guest test: hostile guests.  Each op= hammers the hypervisor; the
 * witness domain must keep running and the hypervisor must stay up.
 *   evtsend  sends to bad, closed, unbound and other domains' ports
 *   timers   reprograms its timers at a high rate with events enabled
 *   updown   brings its second vCPU down and up in a loop
 *   badtraps points its trap table at the hypervisor and at unmapped
 *            memory, then faults (it ends crashed; nothing else does)
 *   witness  spins, reports progress, and reports the result */
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"
#include "vcpuctx.h"

#define HV_ADDR  0xFFFF830000100000UL
#define UNMAPPED 0x0000000040000000UL

static uint32_t rng = 12345;
static uint32_t next_rand(void)
{
    rng = rng * 1103515245 + 12345;
    return rng >> 8;
}

static void evtsend(void)
{
    unsigned ok = 0, inval = 0;
    for (unsigned i = 0; i < 100000; i++) {
        uint32_t port;
        switch (i % 4) {
        case 0: port = next_rand() % 8192; break;
        case 1: port = 0xffffffffu - (next_rand() % 16); break;
        case 2: port = 1 + next_rand() % 64; break;
        default: port = 0; break;
        }
        struct evtchn_send s = { .port = port };
        long rc = HYPERVISOR_event_channel_op(EVTCHNOP_send, &s);
        if (rc == 0)
            ok++;
        else if (rc == -XEN_EINVAL)
            inval++;
        else
            test_fail("send to port %u: %ld", port, rc);
        /* Try to bind other domains' ports, which were not offered to us. */
        struct evtchn_bind_interdomain b = { .remote_dom = (domid_t)(1 + i % 4),
                                             .remote_port = next_rand() % 64 };
        rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_interdomain, &b);
        if (rc == 0)
            test_fail("bound d%u port %u without an offer", b.remote_dom, b.remote_port);
    }
    printf("evtsend: 100000 sends, %u accepted, %u -EINVAL\n", ok, inval);
}

static void timers(void)
{
    for (unsigned i = 0; i < 100000; i++) {
        uint64_t now = minios_monotonic_ns();
        switch (i % 3) {
        case 0:
            HYPERVISOR_set_timer_op(now + next_rand() % 20000);
            break;
        case 1: {
            struct vcpu_set_singleshot_timer s = { .timeout_abs_ns = now - 1000 + next_rand() % 3000 };
            HYPERVISOR_vcpu_op(VCPUOP_set_singleshot_timer, 0, &s);
            break;
        }
        default: {
            struct vcpu_set_periodic_timer p = { .period_ns = 1000000 };
            HYPERVISOR_vcpu_op(VCPUOP_set_periodic_timer, 0, &p);
            HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);
        }
        }
    }
    HYPERVISOR_set_timer_op(0);
    printf("timers: 100000 reprogrammings, %llu timer events\n",
           (unsigned long long)minios_timer_events());
}

static char vcpu1_stack[16384] __attribute__((aligned(16)));
static struct vcpu_guest_context ctxt;
static volatile unsigned long spins;

static void vcpu1_main(void)
{
    for (;;)
        spins++;
}

static void updown(void)
{
    vcpu_ctx_init(&ctxt, vcpu1_main, vcpu1_stack, sizeof(vcpu1_stack));
    long rc = HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &ctxt);
    if (rc) {
        test_fail("initialise vCPU 1: %ld", rc);
        return;
    }
    for (unsigned i = 0; i < 2000; i++) {
        if (HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL) || HYPERVISOR_vcpu_op(VCPUOP_down, 1, NULL))
            test_fail("up/down %u failed", i);
        if (HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL) != 0)
            test_fail("vCPU 1 up after down");
    }
    printf("updown: 2000 cycles, vCPU 1 spun %lu times\n", spins);
}

static void badtraps(void)
{
    struct trap_info t[32];
    memset(t, 0, sizeof(t));
    for (unsigned v = 0; v < 20; v++)
        t[v] = (struct trap_info){ .vector = (uint8_t)v, .cs = FLAT_KERNEL_CS,
                                   .address = (v & 1) ? HV_ADDR : UNMAPPED };
    long rc = HYPERVISOR_set_trap_table(t);
    printf("badtraps: set_trap_table = %ld, now faulting\n", rc);
    fflush(stdout);
    __asm__ volatile("ud2");
    test_fail("survived ud2 with a broken trap table");
}

int main(int argc, char **argv)
{
    const char *op = "";
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "op=", 3))
            op = argv[i] + 3;
    if (!strcmp(op, "witness")) {
        uint64_t t0 = minios_monotonic_ns();
        for (int r = 0; r < 5; r++) {
            while (minios_monotonic_ns() < t0 + (uint64_t)(r + 1) * 200000000ULL)
                ;
            printf("witness alive, round %d\n", r);
        }
    } else if (!strcmp(op, "evtsend"))
        evtsend();
    else if (!strcmp(op, "timers"))
        timers();
    else if (!strcmp(op, "updown"))
        updown();
    else if (!strcmp(op, "badtraps"))
        badtraps();
    else
        test_error("unknown op '%s'", op);
    return test_finish();
}
