/* time.h: minios's PV clock (vcpu_time_info, wallclock) and sleeping on the PV timer. */
#ifndef MINIOS_TIME_H
#define MINIOS_TIME_H

#include <stdint.h>

/* Nanoseconds of hypervisor system time (since the host booted); 0 if
 * shared_info is not mapped. Never goes backwards. */
uint64_t minios_monotonic_ns(void);

/* Wall-clock time now as seconds and nanoseconds since the Unix epoch
 * (shared_info's wallclock at system time 0 plus minios_monotonic_ns());
 * returns 0, or -XEN_ENOSYS without shared_info. */
int minios_wallclock(uint64_t *sec, uint32_t *nsec);

/* Sleeps at least ns nanoseconds: arms the PV timer for the deadline and
 * blocks (SCHEDOP_block) until it passed; events that arrive meanwhile are
 * handled. Without events it yields until the deadline. */
void minios_sleep_ns(uint64_t ns);

/* The port VIRQ_TIMER is bound to (0: none), and how many timer events
 * it delivered. */
uint32_t minios_timer_port(void);
uint64_t minios_timer_events(void);

#endif /* MINIOS_TIME_H */
