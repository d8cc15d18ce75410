/* Hypercalls Keel has nothing behind, answered as Xen 4.17 (Debian's build:
 * dummy XSM policy, vPMU off, no HVM domains) answers a 64-bit PV caller
 * that could not use them either: the same argument checks in the same
 * order, then the permission check, then what Keel lacks.  Each names the
 * Xen function it follows; docs/abi.md lists them. */
#define __XEN_TOOLS__ 1
#include "lib.h"
#include "domain.h"
#include "hypercall.h"
#include "xsm.h"
#include <xen/platform.h>
#include <xen/domctl.h>
#include <xen/hvm/dm_op.h>
#include <xen/xenoprof.h>

/* Xen's platform_op (do_platform_op): the operation read and its
 * interface version checked, then XSM_PRIV; Keel implements no platform
 * operation, so a control domain gets -ENOSYS as Xen's unknown cmd. */
long do_platform_op(unsigned long arg, unsigned long a2, unsigned long a3,
                    unsigned long a4, unsigned long a5)
{
    (void)a2, (void)a3, (void)a4, (void)a5;
    struct xen_platform_op op;
    if (copy_from_guest(&op, arg, sizeof(op)))
        return -XEN_EFAULT;
    if (op.interface_version != XENPF_INTERFACE_VERSION)
        return -XEN_EACCES;
    long rc = xsm_default_action(XSM_PRIV, current_domain(), NULL);
    return rc ? rc : -XEN_ENOSYS;
}

/* kexec_op (do_kexec_op_internal): XSM_PRIV before anything; Keel cannot
 * load or run a crash kernel. */
long do_kexec_op(unsigned long op, unsigned long arg, unsigned long a3, unsigned long a4,
                 unsigned long a5)
{
    (void)op, (void)arg, (void)a3, (void)a4, (void)a5;
    long rc = xsm_default_action(XSM_PRIV, current_domain(), NULL);
    return rc ? rc : -XEN_ENOSYS;
}

/* hypfs_op (do_hypfs_op): XSM_PRIV first; Keel has no hypervisor file
 * system (Xen built without CONFIG_HYPFS answers -ENOSYS). */
long do_hypfs_op(unsigned long cmd, unsigned long a2, unsigned long a3, unsigned long a4,
                 unsigned long a5)
{
    (void)cmd, (void)a2, (void)a3, (void)a4, (void)a5;
    long rc = xsm_default_action(XSM_PRIV, current_domain(), NULL);
    return rc ? rc : -XEN_ENOSYS;
}

/* mca, __HYPERVISOR_arch_0 (do_mca): XSM_PRIV before the argument is
 * read; Keel reports no machine checks to guests. */
long do_mca(unsigned long arg, unsigned long a2, unsigned long a3, unsigned long a4,
            unsigned long a5)
{
    (void)arg, (void)a2, (void)a3, (void)a4, (void)a5;
    long rc = xsm_default_action(XSM_PRIV, current_domain(), NULL);
    return rc ? rc : -XEN_ENOSYS;
}

/* xenpmu_op (do_xenpmu_op): -EOPNOTSUPP for every op while the vPMU is
 * off, which is Xen's default; Keel has none. */
long do_xenpmu_op(unsigned long op, unsigned long arg, unsigned long a3, unsigned long a4,
                  unsigned long a5)
{
    (void)op, (void)arg, (void)a3, (void)a4, (void)a5;
    return -XEN_EOPNOTSUPP;
}

/* xenoprof_op (do_xenoprof_op): an op outside 0..XENOPROF_last_op
 * -EINVAL; the profiler's own ops -EPERM (only the primary profiler may,
 * and there is none); the four any domain may call (init, get_buffer,
 * enable_virq, disable_virq) -ENODEV: Keel has no counters, as Xen's
 * xenoprof_arch_init on a CPU it has no model for. */
long do_xenoprof_op(unsigned long op, unsigned long arg, unsigned long a3, unsigned long a4,
                    unsigned long a5)
{
    (void)arg, (void)a3, (void)a4, (void)a5;
    int o = (int)op;
    if (o < 0 || o > XENOPROF_last_op)
        return -XEN_EINVAL;
    switch (o) {
    case XENOPROF_init:
    case XENOPROF_get_buffer:
    case XENOPROF_enable_virq:
    case XENOPROF_disable_virq:
        return -XEN_ENODEV;
    default:
        return -XEN_EPERM;
    }
}

/* dm_op (do_dm_op, dm_op): at most two buffers (-E2BIG), the buffer
 * list read (-EFAULT), the target another existing domain (-ESRCH, the
 * caller itself -EPERM); every Keel domain is PV, so then -EINVAL as
 * Xen's !is_hvm_domain. */
long do_dm_op(unsigned long domid, unsigned long nr_bufs, unsigned long bufs,
              unsigned long a4, unsigned long a5)
{
    (void)a4, (void)a5;
    xen_dm_op_buf_t b[2];
    unsigned n = (unsigned)nr_bufs;
    if (n > ARRAY_SIZE(b))
        return -XEN_E2BIG;
    if (copy_from_guest(b, bufs, n * sizeof(b[0])))
        return -XEN_EFAULT;
    struct domain *d = domain_get((domid_t)domid);
    if (!d)
        return -XEN_ESRCH;
    long rc = d == current_domain() ? -XEN_EPERM : -XEN_EINVAL;
    domain_put(d);
    return rc;
}

/* paging_domctl_cont, __HYPERVISOR_arch_1 (do_paging_domctl_cont): Xen's
 * continuation of XEN_DOMCTL_shadow_op.  The domctl read (-EFAULT), the
 * interface version and the cmd shadow_op (else -EOPNOTSUPP), the domain
 * (-ESRCH), xsm_domctl (-EPERM); Keel has no paging modes: -EOPNOTSUPP. */
long do_paging_domctl_cont(unsigned long arg, unsigned long a2, unsigned long a3,
                           unsigned long a4, unsigned long a5)
{
    (void)a2, (void)a3, (void)a4, (void)a5;
    struct xen_domctl op;
    if (copy_from_guest(&op, arg, sizeof(op)))
        return -XEN_EFAULT;
    if (op.interface_version != XEN_DOMCTL_INTERFACE_VERSION ||
        op.cmd != XEN_DOMCTL_shadow_op)
        return -XEN_EOPNOTSUPP;
    struct domain *d = domain_get(op.domain);
    if (!d)
        return -XEN_ESRCH;
    long rc = xsm_domctl(current_domain(), d, op.cmd);
    domain_put(d);
    return rc ? rc : -XEN_EOPNOTSUPP;
}
