/* sched.h: minios's scheduling requests to the hypervisor (yield, shutdown). */
#ifndef MINIOS_SCHED_H
#define MINIOS_SCHED_H

/* Shuts the domain down with reason SHUTDOWN_* (<xen/sched.h>); never
 * returns. exit(0) ends in SHUTDOWN_poweroff, any other status and
 * abort() in SHUTDOWN_crash. */
void minios_shutdown(unsigned int reason) __attribute__((noreturn));

/* Gives up the CPU (SCHEDOP_yield). */
void minios_yield(void);

#endif /* MINIOS_SCHED_H */
