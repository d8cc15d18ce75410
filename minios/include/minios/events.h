/* events.h: minios's event channels (2-level ABI), event delivery masking and the shared_info page. */
#ifndef MINIOS_EVENTS_H
#define MINIOS_EVENTS_H

#include <stdint.h>
#include <minios/hypercall.h>

/*
 * The hypervisor's shared_info page, mapped at start of day at a fixed
 * address inside minios's image; NULL if the hypervisor refused the
 * mapping (then there are no events and no PV time).
 */
extern shared_info_t *minios_shared_info;

/* This vCPU's vcpu_info (vCPU 0: minios runs on one vCPU), or NULL. */
vcpu_info_t *minios_vcpu_info(void);

/* Moves vCPU 0's vcpu_info out of shared_info into a page of minios's
 * (VCPUOP_register_vcpu_info); 0 or a negative errno (-XEN_EEXIST if it
 * was moved already). Events and time carry on through it. */
int minios_vcpu_info_register(void);

/* 1 if upcalls work (shared_info mapped and callbacks registered). */
int minios_events_available(void);

/* Handler for a port; called with event delivery masked, after the port's
 * pending bit was cleared. */
typedef void (*minios_evtchn_handler)(evtchn_port_t port, void *data);

/*
 * All return 0 (or a port through *port) on success, a negative errno
 * (<xen/errno.h> values: -XEN_EINVAL ...) on failure: the hypervisor's, or
 * -XEN_ENOSYS when events are unavailable, -XEN_EINVAL for a port outside
 * the 2-level ABI's range.
 */

/* Calls h(port, data) for every event on port and unmasks the port.
 * A port that already has a handler: -XEN_EBUSY. */
int minios_evtchn_bind(evtchn_port_t port, minios_evtchn_handler h, void *data);
/* Masks port and forgets its handler. */
void minios_evtchn_unbind(evtchn_port_t port);

/* EVTCHNOP_alloc_unbound: a new port of ours that domain remote may bind. */
int minios_evtchn_alloc_unbound(domid_t remote, evtchn_port_t *port);
/* EVTCHNOP_bind_interdomain: connects a new local port to remote's rport. */
int minios_evtchn_bind_interdomain(domid_t remote, evtchn_port_t rport,
                                   evtchn_port_t *lport);
/* EVTCHNOP_bind_virq: a port for virq (VIRQ_*) on vCPU vcpu. */
int minios_evtchn_bind_virq(uint32_t virq, unsigned vcpu, evtchn_port_t *port);
/* EVTCHNOP_send. */
int minios_evtchn_send(evtchn_port_t port);
/* EVTCHNOP_close; also forgets the port's handler. */
int minios_evtchn_close(evtchn_port_t port);

/* Sets the port's mask bit in shared_info. */
void minios_evtchn_mask(evtchn_port_t port);
/* Clears the mask bit through EVTCHNOP_unmask, so that an event that
 * became pending while masked is delivered (as an upcall) now. */
void minios_evtchn_unmask(evtchn_port_t port);

/*
 * Event delivery on this vCPU (vcpu_info->evtchn_upcall_mask), the
 * equivalents of local_irq_disable/enable/save/restore. Enabling runs the
 * handlers of events that arrived while delivery was masked.
 */
void minios_events_disable(void);
void minios_events_enable(void);
unsigned long minios_events_save(void);   /* disables; returns the old mask */
void minios_events_restore(unsigned long flags);

/* This domain's id (a domain is not told it at start; minios asks the
 * hypervisor who may bind a port offered to DOMID_SELF), or DOMID_INVALID
 * without events. Asked once, then remembered. */
domid_t minios_domid(void);

/* Upcalls taken so far, and events that arrived on ports without a handler. */
uint64_t minios_upcall_count(void);
uint64_t minios_unhandled_events(void);

#endif /* MINIOS_EVENTS_H */
