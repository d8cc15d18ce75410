/* kernel.h: declarations shared inside minios, not part of its public API. */
#ifndef MINIOS_KERNEL_H
#define MINIOS_KERNEL_H

#include <minios/hypercall.h>

/* Sets the heap's bounds from the bootstrap region's layout. */
void minios_mm_init(const start_info_t *si);

/* Installs the trap table (arch/x86_64/traps.c); failure is remembered,
 * not fatal (minios_traps_available()). */
void minios_traps_init(void);
/* Registers the event and failsafe callbacks; 0 or a negative errno. */
int minios_callbacks_init(void);

/* Maps shared_info, registers the callbacks and enables event delivery
 * (events.c); without them minios runs on, with no events. */
void minios_events_init(const start_info_t *si);
/* The event upcall's C side: runs the handlers of pending ports. Called
 * from the event callback with delivery masked. */
void minios_evtchn_upcall(void);

/* Binds VIRQ_TIMER (time.c). */
void minios_time_init(void);

/* Records main's newlib reentrancy structure (thread.c). */
void minios_threads_init(void);

/* Connects the xenstore client to start_info's store ring, if any
 * (xenbus.c); needs events and threads. */
void minios_xenbus_init(const start_info_t *si);

#endif /* MINIOS_KERNEL_H */
