/* Time: the TSC calibrated against the PIT; hypervisor time in ns. */
#ifndef KEEL_TIME_H
#define KEEL_TIME_H
#include "lib.h"

extern uint64_t boot_tsc;        /* TSC at the first hypervisor instruction */
extern uint64_t tsc_khz;
#define CALIBRATE_US 10000
void time_calibrate(void (*sample)(bool end));   /* TSC (+ caller's timer) */
uint64_t now_ns(void);           /* ns since boot (0 before calibration) */
void pit_wait_begin(unsigned us);
bool pit_wait_done(void);
#endif
