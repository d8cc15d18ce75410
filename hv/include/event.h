/* Event channels (2-level ABI) and virtual IRQs. */
#ifndef KEEL_EVENT_H
#define KEEL_EVENT_H
#include "domain.h"

struct evtchn {
    uint8_t state;               /* EVTCHNSTAT_* */
    uint8_t notify_vcpu;
    uint16_t remote_dom;         /* unbound: who may bind; interdomain: peer */
    uint32_t u;                  /* interdomain: peer port; virq: the virq */
};

long do_event_channel_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
void evtchn_destroy(struct domain *d);
/* EVTCHNOP_alloc_unbound and EVTCHNOP_close done by the hypervisor on d's
 * behalf (boot-time wiring to the xenstore domain). */
long evtchn_alloc_unbound_port(struct domain *d, domid_t remote);
long evtchn_close_port(struct domain *d, unsigned port);
void evtchn_set_pending(struct domain *d, unsigned port);
void send_guest_vcpu_virq(struct vcpu *v, unsigned virq);
void send_guest_global_virq(struct domain *d, unsigned virq);
void send_global_virq_privileged(unsigned virq);
bool evtchn_port_pending(struct domain *d, unsigned port);
bool evtchn_port_valid(struct domain *d, unsigned port);
void vcpu_mark_events_pending(struct vcpu *v);

#endif
