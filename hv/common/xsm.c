/* The access-control module: the one place that decides, by role, whether
 * a domain may control, inspect or map another (docs/roles.md).  Modelled
 * on Xen's XSM dummy (default) policy, with dom0's privileges split into
 * the roles control, xenstore, hardware and dm. */
#define __XEN_TOOLS__ 1
#include "lib.h"
#include "domain.h"
#include "xsm.h"
#include <xen/errno.h>
#include <xen/domctl.h>
#include <xen/sysctl.h>

/* The domain d serves as device model: boot target= (an id, or a name
 * resolved the first time it is needed, under d's lock), or
 * DOMCTL_set_target.  Only compared with, never used: no reference. */
struct domain *xsm_dm_target(struct domain *d)
{
    if (__atomic_load_n(&d->target, __ATOMIC_ACQUIRE) == DOMID_INVALID &&
        d->target_name[0]) {
        domain_lock(d);
        for (unsigned id = 1; id < DOMID_FIRST_RESERVED && d->target_name[0]; id++) {
            struct domain *t = domain_get(id);
            if (t && t != d && !strcmp(t->name, d->target_name)) {
                __atomic_store_n(&d->target, t->id, __ATOMIC_RELEASE);
                d->target_name[0] = 0;
            }
            if (t)
                domain_put(t);
        }
        domain_unlock(d);
    }
    domid_t t = __atomic_load_n(&d->target, __ATOMIC_ACQUIRE);
    return t == DOMID_INVALID ? NULL : domain_by_id(t);
}

/* Xen's xsm_default_action (xsm/dummy.h), with roles for dom0's powers. */
int xsm_default_action(enum xsm_action action, struct domain *src, struct domain *tgt)
{
    switch (action) {
    case XSM_HOOK:
        return 0;
    case XSM_TARGET:
        if (src == tgt)
            return 0;
        break;
    case XSM_XS_PRIV:
        if (src->roles & ROLE_XENSTORE)
            return 0;
        break;
    case XSM_DM_PRIV:
    case XSM_PRIV:
        break;
    }
    if (action != XSM_PRIV && tgt && xsm_dm_target(src) == tgt)
        return 0;
    return xsm_is_control(src) ? 0 : -XEN_EPERM;
}

int xsm_domctl(struct domain *cur, struct domain *tgt, unsigned cmd)
{
    switch (cmd) {
    case XEN_DOMCTL_ioport_mapping:
    case XEN_DOMCTL_memory_mapping:
    case XEN_DOMCTL_bind_pt_irq:
    case XEN_DOMCTL_unbind_pt_irq:
        return xsm_default_action(XSM_DM_PRIV, cur, tgt);
    case XEN_DOMCTL_getdomaininfo:
        return xsm_default_action(XSM_XS_PRIV, cur, tgt);
    case XEN_DOMCTL_unpausedomain:
        /* Keel: the xenstore domain lets a boot domain run once it has
         * introduced it (docs/roles.md); nothing else. */
        if (tgt && tgt->xs_held && (cur->roles & ROLE_XENSTORE))
            return 0;
        /* ... and a device model its target, held at boot for it. */
        if (tgt && tgt->dm_held && (cur->roles & ROLE_DM) && xsm_dm_target(cur) == tgt)
            return 0;
        return xsm_default_action(XSM_PRIV, cur, tgt);
    default:
        return xsm_default_action(XSM_PRIV, cur, tgt);
    }
}

int xsm_sysctl(struct domain *cur, unsigned cmd)
{
    (void)cmd;
    return xsm_default_action(XSM_PRIV, cur, NULL);
}

int xsm_map_foreign(struct domain *cur, struct domain *tgt)
{
    if (cur == tgt)
        return 0;
    /* A PVH domain's memory is mapped by guest frame through its p2m
     * (hv/pv/mm.c); its reservation is refused in memory.c. */
    return xsm_default_action(XSM_DM_PRIV, cur, tgt);
}

int xsm_evtchn_target(struct domain *cur, struct domain *tgt)
{
    return xsm_default_action(XSM_TARGET, cur, tgt);
}

int xsm_evtchn_interdomain(struct domain *cur, struct domain *remote)
{
    return xsm_default_action(XSM_HOOK, cur, remote);
}

void xsm_domain_init(struct domain *d, const struct boot_config *cfg)
{
    d->target = DOMID_INVALID;
    d->target_name[0] = 0;
    if (!cfg->target[0])
        return;
    uint64_t id;
    if (parse_size(cfg->target, strlen(cfg->target), &id) && id < DOMID_FIRST_RESERVED &&
        cfg->target[strlen(cfg->target) - 1] >= '0' &&
        cfg->target[strlen(cfg->target) - 1] <= '9')
        d->target = (uint16_t)id;
    else
        strlcpy(d->target_name, cfg->target, sizeof(d->target_name));
}

/* ---- I/O resource permissions: small sets of inclusive ranges. */

static struct xsm_rangeset *io_set(struct domain *d, enum xsm_io kind)
{
    return kind == XSM_IO_PORT ? &d->io_ports : kind == XSM_IO_MEM ? &d->io_mem
                                                                   : &d->io_irqs;
}

static void rs_del_at(struct xsm_rangeset *rs, unsigned i)
{
    memmove(&rs->r[i], &rs->r[i + 1], (rs->nr - i - 1) * sizeof(rs->r[0]));
    rs->nr--;
}

/* Adds [s, e], merging with ranges it overlaps or touches; kept sorted. */
static int rs_add(struct xsm_rangeset *rs, uint64_t s, uint64_t e)
{
    unsigned i = 0;
    while (i < rs->nr) {
        bool touches = rs->r[i].s <= (e == ~0ULL ? e : e + 1) &&
                       (rs->r[i].e == ~0ULL ? true : rs->r[i].e + 1 >= s);
        if (touches) {
            s = MIN(s, rs->r[i].s);
            e = MAX(e, rs->r[i].e);
            rs_del_at(rs, i);
        } else {
            i++;
        }
    }
    if (rs->nr == ARRAY_SIZE(rs->r))
        return -XEN_ENOMEM;
    for (i = 0; i < rs->nr && rs->r[i].s < s; i++)
        ;
    memmove(&rs->r[i + 1], &rs->r[i], (rs->nr - i) * sizeof(rs->r[0]));
    rs->r[i].s = s;
    rs->r[i].e = e;
    rs->nr++;
    return 0;
}

/* Removes [s, e]; a range that contains it splits in two. */
static int rs_remove(struct xsm_rangeset *rs, uint64_t s, uint64_t e)
{
    for (unsigned i = 0; i < rs->nr; ) {
        uint64_t rs_s = rs->r[i].s, rs_e = rs->r[i].e;
        if (rs_e < s || rs_s > e) {
            i++;
            continue;
        }
        if (rs_s < s && rs_e > e) {          /* split */
            if (rs->nr == ARRAY_SIZE(rs->r))
                return -XEN_ENOMEM;
            memmove(&rs->r[i + 1], &rs->r[i], (rs->nr - i) * sizeof(rs->r[0]));
            rs->nr++;
            rs->r[i].e = s - 1;
            rs->r[i + 1].s = e + 1;
            return 0;
        }
        if (rs_s < s) {
            rs->r[i++].e = s - 1;
        } else if (rs_e > e) {
            rs->r[i++].s = e + 1;
        } else {
            rs_del_at(rs, i);
        }
    }
    return 0;
}

int xsm_io_permit(struct domain *d, enum xsm_io kind, uint64_t first, uint64_t last,
                  bool allow)
{
    struct xsm_rangeset *rs = io_set(d, kind);
    return allow ? rs_add(rs, first, last) : rs_remove(rs, first, last);
}

bool xsm_io_allowed(struct domain *d, enum xsm_io kind, uint64_t first, uint64_t last)
{
    const struct xsm_rangeset *rs = io_set(d, kind);
    for (unsigned i = 0; i < rs->nr; i++)
        if (rs->r[i].s <= first && last <= rs->r[i].e)
            return true;
    return false;
}
