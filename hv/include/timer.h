/* vCPU timers (singleshot, periodic, poll timeouts) on the APIC one-shot
 * timer, and PV time for guests. */
#ifndef KEEL_TIMER_H
#define KEEL_TIMER_H
#include "domain.h"

void vcpu_timer_update(struct vcpu *v);
void vcpu_timer_remove(struct vcpu *v);
void vcpu_timer_kill(struct vcpu *v);
void domain_timers_kill(struct domain *d);
void vcpu_set_singleshot(struct vcpu *v, uint64_t deadline);
void vcpu_set_periodic(struct vcpu *v, uint64_t period);
void vcpu_restart_periodic(struct vcpu *v);
void vcpu_set_poll_deadline(struct vcpu *v, uint64_t t);
void vcpu_set_unpark(struct vcpu *v, uint64_t t);
/* An HVM vCPU is woken at t (0: never) if blocked: its PIT's next tick. */
void vcpu_set_hvm_timer(struct vcpu *v, uint64_t t);
void timers_run(void);
void timer_reprogram(void);
void apic_oneshot_ns(uint64_t ns);          /* 0: stop */
void pvtime_init(void);
void update_vcpu_time(struct vcpu *v);
/* Writes v's secondary time area (VCPUOP_register_vcpu_time_memory_area). */
void time_area_update(struct vcpu *v);
void domain_init_wallclock(struct domain *d);
/* Unix time now (the boot wallclock plus system time), in seconds. */
uint64_t wallclock_now_sec(void);
long do_set_timer_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
#endif
