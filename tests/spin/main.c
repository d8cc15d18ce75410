/* Guest test: a CPU-bound domain that never yields.  Two of them must
 * interleave (checked by check.sh on the console log), which proves that
 * the timer preempts guests.  Also checks that its SSE registers survive
 * preemption. */
#include <stdio.h>
#include <string.h>
#include "report.h"

#define ROUNDS 8
#define SPINS  20000000UL

int main(int argc, char **argv)
{
    const char *me = argc > 1 ? argv[1] : "?";
    for (int r = 0; r < ROUNDS; r++) {
        /* Keep a value in xmm0 across a long spin: another domain runs in
         * between and uses its own SSE state. */
        double seed = 1.0 + r + (me[5] & 0xff);
        double x;
        __asm__ volatile("movsd %1, %%xmm0" :: "m"(seed), "m"(seed) : "xmm0");
        for (volatile unsigned long i = 0; i < SPINS; i++)
            ;
        __asm__ volatile("movsd %%xmm0, %0" : "=m"(x) :: "xmm0");
        if (x != seed)
            test_fail("%s: xmm0 changed across preemption (%f != %f)", me, x, seed);
        printf("%s round %d\n", me, r);
    }
    return test_finish();
}
