/* kernel.h: declarations shared inside minios, not part of its public API. */
#ifndef MINIOS_KERNEL_H
#define MINIOS_KERNEL_H

#include <minios/hypercall.h>

/* start.c: from a start_info to main() and exit(). The PV build's
 * _start passes the builder's; the PVH build's makes one (pvh.c). */
void minios_start(start_info_t *si) __attribute__((noreturn));

/* Sets the heap's bounds from the bootstrap region's layout. */
void minios_mm_init(const start_info_t *si);
/* The virtual address of one of the domain's own frames (its RAM or the
 * pages the builder gave it), or NULL if the frame is not one of them. */
void *minios_frame_va(unsigned long frame);
/* Unmaps (guard != 0) or maps back one page of the domain's memory; 0 or
 * a negative errno. */
int minios_mm_guard(void *page, int guard);

/* Blocks the vCPU until an event is pending or the system time reaches
 * deadline (0: none); called with events masked, returns with them
 * masked (sched.c). */
void minios_block(uint64_t deadline);

#ifdef MINIOS_PVH
/* What pvh.c found in hvm_start_info for mm.c: the memory-map ranges
 * below 4 GiB (all mapped), and the first page after the image and its
 * module (mm.c's page tables go there). */
#define MINIOS_PVH_MAX_RANGES 16
struct minios_pvh_range {
    unsigned long start_pfn, end_pfn;
};
extern struct minios_pvh_range minios_pvh_ranges[MINIOS_PVH_MAX_RANGES];
extern unsigned minios_pvh_nr_ranges;
extern unsigned long minios_pvh_free_pfn;
/* The IDT vector of the event callback (HVM_PARAM_CALLBACK_IRQ). */
#define MINIOS_PVH_EVENT_VECTOR 0xf3
#endif

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
