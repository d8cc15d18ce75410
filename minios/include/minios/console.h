/* console.h: minios's console: console_io at start of day, then the console ring to the backend. */
#ifndef MINIOS_CONSOLE_H
#define MINIOS_CONSOLE_H

#include <stddef.h>

/*
 * Where output goes (docs/console.md has the whole story):
 * - console_io (CONSOLEIO_write) until minios_console_init has run, and
 *   for good when start_info has no console channel (console.domU.evtchn
 *   0: no xenstore domain, or this is it, or we are dom0 on Xen) or there
 *   are no events;
 * - otherwise the console ring (<xen/io/console.h> out[]) that the
 *   xenstore domain's backend reads. A writer waits while the ring is
 *   full: a thread with events enabled sleeps on a wait queue that the
 *   console port's events wake; event and trap handlers, and code with
 *   events masked, poll (SCHEDOP_poll, 1 ms at a time). Nothing is dropped.
 * - Once the backend is known to have gone (our port was connected and
 *   is no more) or it broke the ring (out_cons beyond out_prod), whatever
 *   it did not take, and all later output, goes to console_io.
 */

/* Writes len bytes to the console. Returns 0, or a negative Xen errno if
 * the hypervisor refused console_io. */
long minios_console_write(const char *buf, size_t len);

/* printf to the console; output longer than 512 bytes is truncated.
 * Returns the number of characters written. */
int minios_printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Switches to the console ring if start_info offers one (called once by
 * minios_start, after events, time and threads are up). */
void minios_console_init(void);

/* 1 while output goes to the console ring, 0 while it goes to console_io. */
int minios_console_uses_ring(void);

/* Waits up to timeout_ns of PV time (polling, so callable anywhere) for
 * the backend to take everything written so far: 0 when it has (or there
 * is no ring), -XEN_ETIMEDOUT otherwise. */
int minios_console_flush(unsigned long long timeout_ns);

/* The domain's last words (minios_shutdown calls it): flushes the ring
 * for up to 2 s; what the backend did not take by then is written with
 * console_io, and so is everything after. */
void minios_console_shutdown(void);

#endif /* MINIOS_CONSOLE_H */
