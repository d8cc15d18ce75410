/*
 * Extended processor state (XSAVE): what the host has, and the per-vCPU
 * save area the context switch fills and reloads (arch_switch.h).
 *
 * Every vCPU has one page for its FPU/SSE/AVX... state: the first 512
 * bytes are the FXSAVE image (vcpu_guest_context's fpu_ctxt), then the
 * XSAVE header and the extended components at the offsets CPUID 0xd
 * gives (the standard, uncompacted form).  With XSAVE the hardware XCR0
 * always holds the running vCPU's XCR0 (and the last one's while idle),
 * cached per pCPU so that a switch between vCPUs with the same XCR0 does
 * no XSETBV.  A vCPU whose XCR0 lacks SSE (x87 alone), like every vCPU
 * on a host without XSAVE (XCR0 0 then), is switched with FXSAVE and
 * FXRSTOR, so that its SSE registers are kept as Xen keeps them.  The
 * hypervisor itself never touches FPU or vector state
 * (it is built without SSE), so it has no XCR0 of its own.
 */
#ifndef KEEL_XSTATE_H
#define KEEL_XSTATE_H

#include "lib.h"

#define XSTATE_FP        (1UL << 0)
#define XSTATE_SSE       (1UL << 1)
#define XSTATE_YMM       (1UL << 2)
#define XSTATE_BNDREGS   (1UL << 3)
#define XSTATE_BNDCSR    (1UL << 4)
#define XSTATE_OPMASK    (1UL << 5)
#define XSTATE_ZMM       (1UL << 6)
#define XSTATE_HI_ZMM    (1UL << 7)
#define XSTATE_PKRU      (1UL << 9)
#define XSTATE_FP_SSE    (XSTATE_FP | XSTATE_SSE)

#define XSTATE_AREA_SIZE 4096       /* one page per vCPU */
#define XSTATE_HDR       512        /* the XSAVE header's offset */
#define X86_CR4_OSXSAVE  (1UL << 18)

/* Set once on the boot CPU (xstate_cpu_init), read-only afterwards. */
extern bool xstate_on;              /* the host has XSAVE: CR4.OSXSAVE is set */
extern uint64_t xstate_host_xcr0;   /* the XCR0 bits the host supports */
extern uint32_t xstate_mxcsr_mask;  /* the MXCSR bits the CPU accepts */

/* Each CPU: CR4.OSXSAVE and XCR0 = x87|SSE (cpu_features_init). */
void xstate_cpu_init(void);

/* The standard-form offset and size of component i (0 if the host lacks it). */
void xstate_component(unsigned i, uint32_t *offset, uint32_t *size);

/* A clean area: x87 and SSE at their reset values, an empty header. */
void xstate_area_init(uint8_t *area);
/* The same for an area known to be all zeroes (a fresh alloc_hv_pages page). */
void xstate_area_init_zeroed(uint8_t *area);

/* The XSAVE header's XSTATE_BV of an area. */
static inline uint64_t *xstate_bv(uint8_t *area)
{
    return (uint64_t *)(area + XSTATE_HDR);
}

static inline void xsetbv0(uint64_t v)
{
    __asm__ volatile("xsetbv" :: "c"(0), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Save and load the components of mask (and of the hardware XCR0). */
static inline void xsave_mask(uint8_t *area, uint64_t mask)
{
    __asm__ volatile("xsave64 (%0)" :: "r"(area), "a"((uint32_t)mask),
                     "d"((uint32_t)(mask >> 32)) : "memory");
}

static inline void xrstor_mask(const uint8_t *area, uint64_t mask)
{
    __asm__ volatile("xrstor64 (%0)" :: "r"(area), "a"((uint32_t)mask),
                     "d"((uint32_t)(mask >> 32)) : "memory");
}

#endif
