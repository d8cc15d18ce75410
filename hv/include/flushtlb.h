/*
 * The TLB-flush clock, as Xen keeps it (xen/arch/x86/flushtlb.c): a global
 * 32-bit clock that ticks at every full TLB flush on any CPU; each CPU
 * records the clock value of its last full flush, and a frame records the
 * clock value when it stopped being reachable (freed, or its last type
 * reference went).  A CPU whose last flush is no later than a frame's
 * stamp may still cache a translation to that frame, and is flushed
 * before the frame is used again: freeing stays cheap, reuse is safe.
 *
 * "Full" means every translation a guest may have caused, global ones
 * included (CR4.PGE is toggled): see docs/memory.md.
 */
#ifndef KEEL_FLUSHTLB_H
#define KEEL_FLUSHTLB_H

#include "lib.h"
#include "cpumask.h"

extern volatile uint32_t tlbflush_clock;

static inline uint32_t tlbflush_current_time(void)
{
    return __atomic_load_n(&tlbflush_clock, __ATOMIC_ACQUIRE);
}

/*
 * Whether a CPU whose last full flush was at cpu_stamp may hold a
 * translation made before lastuse_stamp, with the clock now at curr.
 * While the clock is 0 it has wrapped and the wrap's global flush is not
 * done yet: every CPU may.  Otherwise a CPU may if it flushed no later
 * than the stamp; a stamp above the clock is from before the last wrap,
 * whose global flush every CPU has done since.
 */
static inline bool tlbflush_need(uint32_t cpu_stamp, uint32_t lastuse_stamp, uint32_t curr)
{
    return curr == 0 || (cpu_stamp <= lastuse_stamp && lastuse_stamp <= curr);
}

/* arch/x86_64/flushtlb.c */
/* A full flush of this CPU (global entries too), stamped. */
void flush_tlb_local(void);
/* Loads a new base table: a full flush of this CPU, stamped. */
void switch_cr3(uint64_t cr3);
/* Flushes every CPU that may cache a translation older than stamp, and
 * waits until each has. */
void flush_tlb_filtered(uint32_t stamp);
/* Flushes the CPUs in mask (bit n: pCPU n), this one included if set, and
 * waits until each has. */
void flush_tlb_mask(const cpumask_t *mask);
/* The clock wrapped: the global flush that starts its next period.  Safe
 * to call at any time outside interrupt context. */
void tlbflush_new_period(void);

#endif
