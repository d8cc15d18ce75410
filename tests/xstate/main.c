/* Guest test: extended state (XSAVE) and TSC_AUX survive preemption.  Two domains
 * that never yield each enable XSAVE (CR4.OSXSAVE, XSETBV), fill the
 * sixteen YMM registers (with AVX), the x87 stack top and MXCSR with
 * values of their own, spin in a loop that touches none of them while
 * the other domain runs and does the same with different values, and
 * check every value afterwards.  Domain b switches its XCR0 between
 * x87|SSE|YMM and x87|SSE (then only the SSE halves are checked) and, one
 * round in four, x87 alone (the XMM registers must survive that too), so
 * that switches between vCPUs with different XCR0s are exercised.  With
 * RDTSCP each also sets TSC_AUX to a value of its own and reads it back
 * with RDTSCP after every round; with FSGSBASE each enables it in its CR4
 * and keeps an FS base of its own (WRFSBASE) through each spin.  The
 * console check (check.sh) proves the two interleaved. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include "report.h"

#define ROUNDS 8
#define SPINS  40000000UL

struct leaf { uint32_t a, b, c, d; };

static struct leaf xen_cpuid(uint32_t leaf, uint32_t sub)
{
    struct leaf l;
    __asm__ volatile(".byte 0x0f, 0x0b\n\t.ascii \"xen\"\n\tcpuid"
                     : "=a"(l.a), "=b"(l.b), "=c"(l.c), "=d"(l.d) : "a"(leaf), "c"(sub));
    return l;
}

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void xsetbv0(uint64_t v)
{
    __asm__ volatile("xsetbv" :: "c"(0), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static uint8_t in[16][32] __attribute__((aligned(32)));
static uint8_t out[16][32] __attribute__((aligned(32)));

#define YMM_ALL(op, base)                                                    \
    op " 0*32(%" base "), %%ymm0\n\t" op " 1*32(%" base "), %%ymm1\n\t"       \
    op " 2*32(%" base "), %%ymm2\n\t" op " 3*32(%" base "), %%ymm3\n\t"       \
    op " 4*32(%" base "), %%ymm4\n\t" op " 5*32(%" base "), %%ymm5\n\t"       \
    op " 6*32(%" base "), %%ymm6\n\t" op " 7*32(%" base "), %%ymm7\n\t"       \
    op " 8*32(%" base "), %%ymm8\n\t" op " 9*32(%" base "), %%ymm9\n\t"       \
    op " 10*32(%" base "), %%ymm10\n\t" op " 11*32(%" base "), %%ymm11\n\t"   \
    op " 12*32(%" base "), %%ymm12\n\t" op " 13*32(%" base "), %%ymm13\n\t"   \
    op " 14*32(%" base "), %%ymm14\n\t" op " 15*32(%" base "), %%ymm15\n\t"
#define YMM_STORE(base)                                                      \
    "vmovdqu %%ymm0, 0*32(%" base ")\n\tvmovdqu %%ymm1, 1*32(%" base ")\n\t"  \
    "vmovdqu %%ymm2, 2*32(%" base ")\n\tvmovdqu %%ymm3, 3*32(%" base ")\n\t"  \
    "vmovdqu %%ymm4, 4*32(%" base ")\n\tvmovdqu %%ymm5, 5*32(%" base ")\n\t"  \
    "vmovdqu %%ymm6, 6*32(%" base ")\n\tvmovdqu %%ymm7, 7*32(%" base ")\n\t"  \
    "vmovdqu %%ymm8, 8*32(%" base ")\n\tvmovdqu %%ymm9, 9*32(%" base ")\n\t"  \
    "vmovdqu %%ymm10, 10*32(%" base ")\n\tvmovdqu %%ymm11, 11*32(%" base ")\n\t" \
    "vmovdqu %%ymm12, 12*32(%" base ")\n\tvmovdqu %%ymm13, 13*32(%" base ")\n\t" \
    "vmovdqu %%ymm14, 14*32(%" base ")\n\tvmovdqu %%ymm15, 15*32(%" base ")\n\t"
#define XMM_ALL(op, base)                                                    \
    op " 0*32(%" base "), %%xmm0\n\t" op " 1*32(%" base "), %%xmm1\n\t"       \
    op " 2*32(%" base "), %%xmm2\n\t" op " 3*32(%" base "), %%xmm3\n\t"       \
    op " 4*32(%" base "), %%xmm4\n\t" op " 5*32(%" base "), %%xmm5\n\t"       \
    op " 6*32(%" base "), %%xmm6\n\t" op " 7*32(%" base "), %%xmm7\n\t"       \
    op " 8*32(%" base "), %%xmm8\n\t" op " 9*32(%" base "), %%xmm9\n\t"       \
    op " 10*32(%" base "), %%xmm10\n\t" op " 11*32(%" base "), %%xmm11\n\t"   \
    op " 12*32(%" base "), %%xmm12\n\t" op " 13*32(%" base "), %%xmm13\n\t"   \
    op " 14*32(%" base "), %%xmm14\n\t" op " 15*32(%" base "), %%xmm15\n\t"
#define XMM_STORE(base)                                                      \
    "movdqu %%xmm0, 0*32(%" base ")\n\tmovdqu %%xmm1, 1*32(%" base ")\n\t"    \
    "movdqu %%xmm2, 2*32(%" base ")\n\tmovdqu %%xmm3, 3*32(%" base ")\n\t"    \
    "movdqu %%xmm4, 4*32(%" base ")\n\tmovdqu %%xmm5, 5*32(%" base ")\n\t"    \
    "movdqu %%xmm6, 6*32(%" base ")\n\tmovdqu %%xmm7, 7*32(%" base ")\n\t"    \
    "movdqu %%xmm8, 8*32(%" base ")\n\tmovdqu %%xmm9, 9*32(%" base ")\n\t"    \
    "movdqu %%xmm10, 10*32(%" base ")\n\tmovdqu %%xmm11, 11*32(%" base ")\n\t" \
    "movdqu %%xmm12, 12*32(%" base ")\n\tmovdqu %%xmm13, 13*32(%" base ")\n\t" \
    "movdqu %%xmm14, 14*32(%" base ")\n\tmovdqu %%xmm15, 15*32(%" base ")\n\t"
#define VCLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
    "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

int main(int argc, char **argv)
{
    const char *me = argc > 1 ? argv[1] : "?";
    bool b = strcmp(me, "name=b") == 0;
    struct leaf l1 = xen_cpuid(1, 0);
    if (!(l1.c & (1u << 26))) {
        test_skip("no XSAVE offered");
        return test_finish();
    }
    bool avx = l1.c & (1u << 28);
    unsigned long cr4;
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | (1UL << 18)));
    uint64_t full = avx ? 7 : 3;
    bool rdtscp = xen_cpuid(0x80000001, 0).d & (1u << 27);
    bool fsgsbase = xen_cpuid(7, 0).b & 1;
    if (fsgsbase) {
        __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
        __asm__ volatile("mov %0, %%cr4" :: "r"(cr4 | (1UL << 16)));
    }
    uint32_t aux = b ? 0xb0b : 0xa0a;
    if (rdtscp)
        __asm__ volatile("wrmsr" :: "c"(0xc0000103), "a"(aux), "d"(0));
    printf("%s: XCR0 %#lx, AVX %s\n", me, (unsigned long)xgetbv0(), avx ? "yes" : "no");

    for (int r = 0; r < ROUNDS; r++) {
        uint64_t xcr0 = b && (r & 1) ? (r & 2 ? 1 : 3) : full;
        bool ymm = xcr0 & 4;
        xsetbv0(xcr0);
        if (xgetbv0() != xcr0)
            test_fail("%s: XCR0 %#lx after XSETBV %#lx", me, (unsigned long)xgetbv0(),
                      (unsigned long)xcr0);
        for (unsigned i = 0; i < 16; i++)
            for (unsigned k = 0; k < 32; k++)
                in[i][k] = (uint8_t)((b ? 0x80 : 0) + 31 * r + 7 * i + k);
        memset(out, 0, sizeof(out));
        double x87_in = 1.5 + r + (b ? 1000 : 0), x87_out = 0;
        uint32_t mxcsr_in = 0x1f80 | ((b ? 1u : 2u) << 13), mxcsr_out = 0, mxcsr_old;
        unsigned long n = SPINS;
        unsigned long fs_in = (b ? 0x0000700000000000UL : 0x0000600000000000UL) + 0x1000UL * r;
        unsigned long fs_out = fsgsbase ? fs_in : 0;
        __asm__ volatile("stmxcsr %0" : "=m"(mxcsr_old));
        if (ymm)
            __asm__ volatile(YMM_ALL("vmovdqu", "4")
                             "fldl %6\n\tldmxcsr %7\n\t"
                             "test %3, %3\n\tjz 2f\n\t"
                             "rdfsbase %%r8\n\twrfsbase %3\n\t"
                             "1: dec %0\n\tjnz 1b\n\t"
                             "rdfsbase %3\n\twrfsbase %%r8\n\tjmp 3f\n\t"
                             "2: dec %0\n\tjnz 2b\n\t"
                             "3:\n\t"
                             YMM_STORE("5")
                             "fstpl %1\n\tstmxcsr %2\n\tvzeroupper"
                             : "+r"(n), "=m"(x87_out), "=m"(mxcsr_out), "+r"(fs_out)
                             : "r"(in), "r"(out), "m"(x87_in), "m"(mxcsr_in)
                             : "memory", "r8", VCLOBBERS);
        else
            __asm__ volatile(XMM_ALL("movdqu", "4")
                             "fldl %6\n\tldmxcsr %7\n\t"
                             "test %3, %3\n\tjz 2f\n\t"
                             "rdfsbase %%r8\n\twrfsbase %3\n\t"
                             "1: dec %0\n\tjnz 1b\n\t"
                             "rdfsbase %3\n\twrfsbase %%r8\n\tjmp 3f\n\t"
                             "2: dec %0\n\tjnz 2b\n\t"
                             "3:\n\t"
                             XMM_STORE("5")
                             "fstpl %1\n\tstmxcsr %2"
                             : "+r"(n), "=m"(x87_out), "=m"(mxcsr_out), "+r"(fs_out)
                             : "r"(in), "r"(out), "m"(x87_in), "m"(mxcsr_in)
                             : "memory", "r8", VCLOBBERS);
        __asm__ volatile("ldmxcsr %0" :: "m"(mxcsr_old));
        for (unsigned i = 0; i < 16; i++)
            if (memcmp(in[i], out[i], ymm ? 32 : 16))
                test_fail("%s round %d: %cmm%u changed across preemption (XCR0 %#lx)",
                          me, r, ymm ? 'y' : 'x', i, (unsigned long)xcr0);
        if (x87_out != x87_in)
            test_fail("%s round %d: st0 changed across preemption", me, r);
        if (mxcsr_out != mxcsr_in)
            test_fail("%s round %d: MXCSR %#x, expected %#x", me, r, mxcsr_out, mxcsr_in);
        if (fsgsbase && fs_out != fs_in)
            test_fail("%s round %d: FS base %#lx, expected %#lx", me, r, fs_out, fs_in);
        if (rdtscp) {
            uint32_t lo, hi, got;
            __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(got));
            if (got != aux)
                test_fail("%s round %d: RDTSCP's TSC_AUX %#x, expected %#x", me, r, got, aux);
        }
        printf("%s round %d\n", me, r);
    }
    xsetbv0(3);
    return test_finish();
}
