/* Guest used by the scheduler tests: spins (never blocks) for secs= seconds
 * of system time after warm= milliseconds, and reports the share of a pCPU
 * it was given over that window, from its own runstate accounting. */
#include <minios/hypercall.h>
#include <minios/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "report.h"

static uint64_t running_ns(void)
{
    struct vcpu_runstate_info ri;
    if (HYPERVISOR_vcpu_op(VCPUOP_get_runstate_info, 0, &ri) < 0) {
        test_error("get_runstate_info failed");
        return 0;
    }
    return ri.time[RUNSTATE_running];
}

static void spin_until(uint64_t t)
{
    while (minios_monotonic_ns() < t)
        ;
}

int main(int argc, char **argv)
{
    const char *name = "?";
    uint64_t secs = 2, warm_ms = 300;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "name=", 5))
            name = argv[i] + 5;
        else if (!strncmp(argv[i], "secs=", 5))
            secs = strtoull(argv[i] + 5, NULL, 10);
        else if (!strncmp(argv[i], "warm=", 5))
            warm_ms = strtoull(argv[i] + 5, NULL, 10);
    }
    spin_until(minios_monotonic_ns() + warm_ms * 1000000ULL);
    uint64_t r0 = running_ns(), t0 = minios_monotonic_ns();
    spin_until(t0 + secs * 1000000000ULL);
    uint64_t r1 = running_ns(), t1 = minios_monotonic_ns();
    printf("share %s %llu permille\n", name,
           (unsigned long long)((r1 - r0) * 1000 / (t1 - t0)));
    return test_finish();
}
