/* Guest test: a vCPU taken down on another pCPU stops at once.  vCPU 1
 * spins incrementing a counter on the other pCPU; vCPU 0 takes it down
 * with VCPUOP_down.  From the moment the call returns the counter must not
 * move (the hypervisor interrupted vCPU 1's pCPU and waited until it was
 * off, as Xen's vcpu_sleep_sync).  Brought up again it goes on counting;
 * repeated a number of times, and also while vCPU 1 is in hypercalls. */
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <stdio.h>
#include <string.h>
#include "report.h"
#include "vcpuctx.h"

#define ROUNDS 20

static char vcpu1_stack[16384] __attribute__((aligned(16)));
static struct vcpu_guest_context ctxt;
static volatile unsigned long counter;
static volatile int in_hypercalls;

static void vcpu1_main(void)
{
    for (;;) {
        counter++;
        if (in_hypercalls)
            HYPERVISOR_xen_version(XENVER_version, NULL);
    }
}

/* Waits up to ns for the counter to pass `from`; whether it did. */
static int moves(unsigned long from, uint64_t ns)
{
    uint64_t end = minios_monotonic_ns() + ns;
    while (minios_monotonic_ns() < end)
        if (counter != from)
            return 1;
    return 0;
}

int main(void)
{
    vcpu_ctx_init(&ctxt, vcpu1_main, vcpu1_stack, sizeof(vcpu1_stack));
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &ctxt), 0);
    unsigned late_total = 0;
    for (unsigned r = 0; r < ROUNDS; r++) {
        in_hypercalls = r & 1;
        CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), 0);
        if (!moves(counter, 2000000000ULL)) {
            test_error("round %u: vCPU 1 never ran after VCPUOP_up", r);
            return test_finish();
        }
        /* Let it run a little, then take it down while it spins. */
        unsigned long t0 = counter;
        while (counter - t0 < 1000)
            ;
        CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_down, 1, NULL), 0);
        unsigned long at_return = counter;
        CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_is_up, 1, NULL), 0);
        /* 20 ms: on the old code vCPU 1 goes on for a full slice or more. */
        uint64_t end = minios_monotonic_ns() + 20000000ULL;
        while (minios_monotonic_ns() < end)
            ;
        unsigned long late = counter - at_return;
        if (late) {
            late_total++;
            test_fail("round %u: vCPU 1 counted %lu more times after VCPUOP_down returned%s",
                      r, late, in_hypercalls ? " (in hypercalls)" : "");
        }
    }
    printf("vcpu-down: %u rounds, vCPU 1 stopped at once in %u\n", ROUNDS, ROUNDS - late_total);
    return test_finish();
}
