/* The access-control module: who may do what to whom, by the roles of
 * DESIGN.md (control, xenstore, hardware, dm), in the manner of Xen's XSM
 * default policy with a disaggregated dom0.  Every check returns 0 or
 * -XEN_EPERM; callers look a domain up (-XEN_ESRCH) before asking. */
#ifndef KEEL_XSM_H
#define KEEL_XSM_H

#include "domain.h"

/* The actions of Xen's dummy policy (xsm/dummy.h), from weakest to
 * strongest requirement:
 *   XSM_HOOK     anyone
 *   XSM_TARGET   the domain itself, its device model, or a control domain
 *   XSM_XS_PRIV  a xenstore domain, the target's device model, or control
 *   XSM_DM_PRIV  the target's device model, or a control domain
 *   XSM_PRIV     a control domain */
enum xsm_action { XSM_HOOK, XSM_TARGET, XSM_XS_PRIV, XSM_DM_PRIV, XSM_PRIV };

int xsm_default_action(enum xsm_action action, struct domain *src, struct domain *tgt);

static inline bool xsm_is_control(const struct domain *d)
{
    return d && (d->roles & ROLE_CONTROL);
}

/* domctl cmd on tgt (NULL for createdomain, or getdomaininfo of a domain
 * that does not exist); sysctl cmd. */
int xsm_domctl(struct domain *cur, struct domain *tgt, unsigned cmd);
int xsm_sysctl(struct domain *cur, unsigned cmd);

/* Mapping tgt's memory (mmu_update with a foreign domain, as privcmd
 * does): a control domain any domain's, a dm only its target's. */
int xsm_map_foreign(struct domain *cur, struct domain *tgt);

/* Event-channel operations naming another domain (alloc_unbound for it,
 * status, reset): XSM_TARGET. */
int xsm_evtchn_target(struct domain *cur, struct domain *tgt);

/* Binding to a port another domain offered (bind_interdomain): XSM_HOOK,
 * the offer itself (alloc_unbound naming the binder) is the permission. */
int xsm_evtchn_interdomain(struct domain *cur, struct domain *remote);

/* The domain that d serves as device model, or NULL. */
struct domain *xsm_dm_target(struct domain *d);

/* Sets up d's roles-and-control fields at creation (boot target=). */
void xsm_domain_init(struct domain *d, const struct boot_config *cfg);

/* I/O resources granted to a domain (DOMCTL_ioport/iomem/irq_permission).
 * I/O ports are enforced by the PV I/O emulation (pv/emulate.c); MMIO and
 * IRQ access comes with the hardware role's device support. */
enum xsm_io { XSM_IO_PORT, XSM_IO_MEM, XSM_IO_IRQ };
int xsm_io_permit(struct domain *d, enum xsm_io kind, uint64_t first, uint64_t last,
                  bool allow);
bool xsm_io_allowed(struct domain *d, enum xsm_io kind, uint64_t first, uint64_t last);

#endif
