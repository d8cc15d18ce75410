/* Benchmark guest: the round trip of a null hypercall (xen_version
 * XENVER_version), averaged over 100k calls, in guest TSC ticks; and the
 * TSC at the guest's main(), for boot-time figures.  Runs on Keel and on
 * real Xen (as dom0). */
#include <minios/hypercall.h>
#include <stdio.h>

#define CALLS 100000

static inline unsigned long long rdtsc(void)
{
    unsigned lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((unsigned long long)hi << 32) | lo;
}

int main(void)
{
    unsigned long long at_main = rdtsc();
    long v = 0;
    /* Warm up, then measure. */
    for (int i = 0; i < 1000; i++)
        v |= HYPERVISOR_xen_version(XENVER_version, NULL);
    unsigned long long t0 = rdtsc();
    for (int i = 0; i < CALLS; i++)
        v |= HYPERVISOR_xen_version(XENVER_version, NULL);
    unsigned long long t1 = rdtsc();
    unsigned long long empty0 = rdtsc();
    for (volatile int i = 0; i < CALLS; i++)
        ;
    unsigned long long empty1 = rdtsc();
    printf("bench: tsc_at_main=%llu\n", at_main);
    printf("bench: null_hypercall_tsc=%.2f (loop overhead %.2f, version %lx)\n",
           (double)(t1 - t0) / CALLS, (double)(empty1 - empty0) / CALLS, v);
    return 0;
}
