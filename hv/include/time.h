/* Time: the TSC calibrated against the PIT; hypervisor time in ns. */
#ifndef KEEL_TIME_H
#define KEEL_TIME_H
#include "lib.h"

extern uint64_t boot_tsc;        /* TSC at the first hypervisor instruction */
extern uint64_t tsc_khz;
#define CALIBRATE_US 10000
#define CALIBRATE_ROUNDS 5
/* Sets tsc_khz; returns how far the caller's down-counter went in the
 * same CALIBRATE_US (a checked round, or the median of CALIBRATE_ROUNDS). */
uint32_t time_calibrate(uint32_t (*sample)(void));
uint64_t now_ns(void);           /* ns since boot (0 before calibration) */
/* TSC ticks to ns as <xen/xen.h>'s vcpu_time_info scales them, once
 * pvtime_init has set the scale (common/timer.c): the hypervisor's clock
 * and what guests compute from vcpu_time_info agree exactly. */
extern uint32_t tsc_mul;
extern int8_t tsc_shift;
static inline uint64_t tsc_to_ns(uint64_t d)
{
    d = tsc_shift >= 0 ? d << tsc_shift : d >> -tsc_shift;
    return (uint64_t)(((unsigned __int128)d * tsc_mul) >> 32);
}
void pit_wait_begin(unsigned us);
bool pit_wait_done(void);
#endif
