/* Host shims for hypervisor code under unit test: what hv/common/lib.c
 * provides in the hypervisor and the host libc lacks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t strlcpy(char *d, const char *s, size_t n)
{
    size_t len = strlen(s);
    if (n) {
        size_t c = len < n - 1 ? len : n - 1;
        memcpy(d, s, c);
        d[c] = 0;
    }
    return len;
}

void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    abort();
}

/* The TLB-flush clock (hv/arch/x86_64/flushtlb.c): the host has no TLB;
 * the unit tests read which filtered flushes the code under test asked
 * for and with which stamp. */
volatile unsigned int tlbflush_clock = 1;
unsigned long host_filtered_flushes;
unsigned int host_last_flush_stamp;

void flush_tlb_filtered(unsigned int stamp)
{
    host_filtered_flushes++;
    host_last_flush_stamp = stamp;
}

void flush_tlb_local(void)
{
    tlbflush_clock++;
}

void switch_cr3(unsigned long cr3)
{
    (void)cr3;
    tlbflush_clock++;
}

/* Hypercall preemption (hv/common/hypercall.c): unit tests run batches
 * whole; a test may ask for preemption at every check. */
#include <stdbool.h>
bool host_preempt;
unsigned long host_continuation[6];

bool hypercall_preempt_check(void)
{
    return host_preempt;
}

long hypercall_create_continuation(unsigned nr, unsigned long a1, unsigned long a2,
                                   unsigned long a3, unsigned long a4, unsigned long a5)
{
    unsigned long c[6] = { nr, a1, a2, a3, a4, a5 };
    memcpy(host_continuation, c, sizeof(c));
    return nr;
}

/* A CPU waiting for a lock answers flush requests: none on the host. */
void tlb_flush_poll(void)
{
}
