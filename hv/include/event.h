/* Event channels (2-level ABI) and virtual IRQs. */
#ifndef KEEL_EVENT_H
#define KEEL_EVENT_H
#include "domain.h"
#include <xen/event_channel.h>

struct evtchn {
    uint16_t state : 3;          /* EVTCHNSTAT_* (0 to 5) */
    uint16_t notify_vcpu : 13;   /* 0 to MAX_VCPUS - 1 */
    uint16_t remote_dom;         /* unbound: who may bind; interdomain: peer */
    uint32_t u;                  /* interdomain: peer port; virq: the virq */
};

_Static_assert(MAX_VCPUS <= (1 << 13) && EVTCHNSTAT_pirq < 8, "struct evtchn fields");
_Static_assert(sizeof(struct evtchn) == 8, "struct evtchn is 8 bytes");

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
