/* Event channels (2-level and FIFO ABIs) and virtual IRQs. */
#ifndef KEEL_EVENT_H
#define KEEL_EVENT_H
#include "domain.h"
#include <xen/event_channel.h>

struct evtchn {
    uint16_t state : 3;          /* EVTCHNSTAT_* (0 to 5) */
    uint16_t notify_vcpu : 13;   /* 0 to MAX_VCPUS - 1 */
    uint16_t remote_dom;         /* unbound: who may bind; interdomain: peer */
    uint32_t u : 31;             /* interdomain: peer port; virq: the virq */
    uint32_t xen : 1;            /* the hypervisor's end of a channel (an ioreq */
                                 /* server's: Xen's consumer_is_xen), not the guest's */
};

_Static_assert(MAX_VCPUS <= (1 << 13) && EVTCHNSTAT_pirq < 8, "struct evtchn fields");
_Static_assert(sizeof(struct evtchn) == 8, "struct evtchn is 8 bytes");

long do_event_channel_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
void evtchn_destroy(struct domain *d);
/* EVTCHNOP_alloc_unbound and EVTCHNOP_close done by the hypervisor on d's
 * behalf (boot-time wiring to the xenstore domain). */
long evtchn_alloc_unbound_port(struct domain *d, domid_t remote);
long evtchn_close_port(struct domain *d, unsigned port);
/* A port of d that the hypervisor consumes (an ioreq server's, Xen's
 * alloc_unbound_xen_event_channel): unbound for remote, sends to it from
 * remote call hvm_ioreq_notify(d, port) instead of raising it in d, and
 * d itself may not close, send on, rebind or unmask it (-EINVAL).  The
 * port or a negative errno. */
long evtchn_alloc_xen_port(struct domain *d, unsigned vcpu, domid_t remote);
/* The hypervisor sends on such a port: the remote end is raised if it is
 * bound, else nothing happens. */
void evtchn_send_xen(struct domain *d, unsigned port);
void evtchn_set_pending(struct domain *d, unsigned port);
void send_guest_vcpu_virq(struct vcpu *v, unsigned virq);
void send_guest_global_virq(struct domain *d, unsigned virq);
/* Raises the port d bound pirq to; false if it is not bound. */
bool send_guest_pirq(struct domain *d, unsigned pirq);
void send_global_virq_privileged(unsigned virq);
bool evtchn_port_pending(struct domain *d, unsigned port);
bool evtchn_port_valid(struct domain *d, unsigned port);
void vcpu_mark_events_pending(struct vcpu *v);
void evtchn_wake_pollers(struct domain *d, unsigned port);

/* FIFO ABI (event_fifo.c); d->fifo set once the domain switched to it. */
long evtchn_fifo_init_control(struct domain *d, struct evtchn_init_control *ic);
long evtchn_fifo_expand_array(struct domain *d, const struct evtchn_expand_array *ea);
long evtchn_fifo_set_priority(struct domain *d, unsigned port, uint32_t priority);
void evtchn_fifo_destroy(struct domain *d);
void evtchn_fifo_set_pending(struct domain *d, unsigned port);
void evtchn_fifo_clear_pending(struct domain *d, unsigned port);
void evtchn_fifo_unmask(struct domain *d, unsigned port);
bool evtchn_fifo_is_pending(struct domain *d, unsigned port);
bool evtchn_fifo_is_busy(struct domain *d, unsigned port);
int evtchn_fifo_describe(struct domain *d, struct vcpu *v, char *buf, size_t n);
void evtchn_fifo_port_init(struct domain *d, unsigned port);

#endif
