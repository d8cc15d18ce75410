/* Helpers for the control-interface guest tests (domctl, sysctl, xsm):
 * domctl and sysctl hypercalls with the interface version filled in. */
#ifndef KEEL_TEST_CTL_H
#define KEEL_TEST_CTL_H

#define __XEN_TOOLS__ 1
#include <string.h>
#include <minios/hypercall.h>
#include <xen/domctl.h>
#include <xen/sysctl.h>

static inline long do_domctl(struct xen_domctl *op)
{
    return _hypercall1(__HYPERVISOR_domctl, op);
}

static inline long do_sysctl(struct xen_sysctl *op)
{
    return _hypercall1(__HYPERVISOR_sysctl, op);
}

/* A zeroed domctl for cmd on dom. */
static inline void domctl_init(struct xen_domctl *op, unsigned cmd, domid_t dom)
{
    memset(op, 0, sizeof(*op));
    op->cmd = cmd;
    op->interface_version = XEN_DOMCTL_INTERFACE_VERSION;
    op->domain = dom;
}

static inline long domctl_simple(unsigned cmd, domid_t dom)
{
    struct xen_domctl op;
    domctl_init(&op, cmd, dom);
    return do_domctl(&op);
}

static inline void sysctl_init(struct xen_sysctl *op, unsigned cmd)
{
    memset(op, 0, sizeof(*op));
    op->cmd = cmd;
    op->interface_version = XEN_SYSCTL_INTERFACE_VERSION;
}

static inline long getdomaininfo(domid_t dom, struct xen_domctl_getdomaininfo *info)
{
    struct xen_domctl op;
    domctl_init(&op, XEN_DOMCTL_getdomaininfo, dom);
    long rc = do_domctl(&op);
    if (rc == 0)
        *info = op.u.getdomaininfo;
    return rc;
}

/* mmu_update with a foreign domain (count requests). */
static inline long mmu_update_foreign(struct mmu_update *req, unsigned count, domid_t dom)
{
    return _hypercall4(__HYPERVISOR_mmu_update, req, count, 0, dom);
}

/* The caller's own domain id, from the status of an unbound port. */
static inline domid_t self_domid(void)
{
    struct evtchn_alloc_unbound a = { .dom = DOMID_SELF, .remote_dom = DOMID_SELF };
    if (HYPERVISOR_event_channel_op(EVTCHNOP_alloc_unbound, &a))
        return DOMID_INVALID;
    struct evtchn_status st = { .dom = DOMID_SELF, .port = a.port };
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_status, &st);
    struct evtchn_close c = { .port = a.port };
    HYPERVISOR_event_channel_op(EVTCHNOP_close, &c);
    return rc ? DOMID_INVALID : st.u.unbound.dom;
}

#endif
