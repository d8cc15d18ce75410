/* Helpers for the control-interface guest tests (domctl, sysctl, xsm):
 * domctl and sysctl hypercalls with the interface version filled in. */
#ifndef KEEL_TEST_CTL_H
#define KEEL_TEST_CTL_H

#define __XEN_TOOLS__ 1
#include <string.h>
#include <minios/events.h>
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

/* The caller's own domain id. */
static inline domid_t self_domid(void)
{
    return minios_domid();
}

#endif
