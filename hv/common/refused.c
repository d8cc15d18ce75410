/* Hypercalls Keel has nothing behind, answered as Xen 4.17 (Debian's build:
 * dummy XSM policy, vPMU off, no HVM domains) answers a 64-bit PV caller
 * that could not use them either: the same argument checks in the same
 * order, then the permission check, then what Keel lacks.  Each names the
 * Xen function it follows; docs/abi.md lists them. */
#define __XEN_TOOLS__ 1
#include "lib.h"
#include "domain.h"
#include "hvm.h"
#include "hypercall.h"
#include "xsm.h"
#include <xen/platform.h>
#include <xen/domctl.h>
#include <xen/hvm/dm_op.h>
#include <xen/xenoprof.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/trace.h>
#include "time.h"

/* What Keel answers where Xen's dummy policy wants XSM_PRIV before
 * anything and Keel has nothing behind the call: -EPERM, or -ENOSYS for a
 * control domain. */
static long priv_else_enosys(void)
{
    long rc = xsm_default_action(XSM_PRIV, current_domain(), NULL);
    return rc ? rc : -XEN_ENOSYS;
}

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
    return priv_else_enosys();
}

/* kexec_op (do_kexec_op_internal): XSM_PRIV before anything; Keel cannot
 * load or run a crash kernel. */
long do_kexec_op(unsigned long op, unsigned long arg, unsigned long a3, unsigned long a4,
                 unsigned long a5)
{
    (void)op, (void)arg, (void)a3, (void)a4, (void)a5;
    return priv_else_enosys();
}

/* hypfs_op (do_hypfs_op): XSM_PRIV first; Keel has no hypervisor file
 * system (Xen built without CONFIG_HYPFS answers -ENOSYS). */
long do_hypfs_op(unsigned long cmd, unsigned long a2, unsigned long a3, unsigned long a4,
                 unsigned long a5)
{
    (void)cmd, (void)a2, (void)a3, (void)a4, (void)a5;
    return priv_else_enosys();
}

/* mca, __HYPERVISOR_arch_0 (do_mca): XSM_PRIV before the argument is
 * read; Keel reports no machine checks to guests. */
long do_mca(unsigned long arg, unsigned long a2, unsigned long a3, unsigned long a4,
            unsigned long a5)
{
    (void)arg, (void)a2, (void)a3, (void)a4, (void)a5;
    return priv_else_enosys();
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

/* hvm_op (do_hvm_op) as Xen 4.17 answers a PV caller: each operation on
 * a PV domain ends where Xen's finds no HVM domain, after the same
 * argument checks; an HVM/PVH domain's params may be read by its device
 * model.  get_time works for anyone; xentrace
 * and guest_request_vm_event have nothing to record. */
static struct domain *hvm_op_domain(domid_t id)
{
    return id == DOMID_SELF || id == current_domain()->id ? current_domain() : domain_get(id);
}

long do_hvm_op(unsigned long op, unsigned long arg, unsigned long a3, unsigned long a4,
               unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    switch (op) {
    case HVMOP_set_evtchn_upcall_vector:
    case HVMOP_set_param:
    case HVMOP_get_param: {
        if (op == HVMOP_set_evtchn_upcall_vector)
            return -XEN_EINVAL;  /* hvmop_set_evtchn_upcall_vector: not HVM */
        struct xen_hvm_param p;  /* hvmop_set/get_param */
        if (copy_from_guest(&p, arg, sizeof(p)))
            return -XEN_EFAULT;
        if (p.index >= HVM_NR_PARAMS)
            return -XEN_EINVAL;
        struct domain *d = hvm_op_domain(p.domid);
        if (!d)
            return -XEN_ESRCH;
        long rc = -XEN_EINVAL;   /* not an HVM domain */
        if (d->arch.type == GUEST_PVH && d != current_domain()) {
            /* An HVM/PVH domain's params, to its device model (dm for
             * that target) or control, as Xen's hvmop_get_param
             * (XSM_TARGET); setting them from outside only as the
             * run-time builder does (hvm_builder_param), else -EPERM. */
            rc = xsm_default_action(XSM_TARGET, current_domain(), d);
            if (!rc && op == HVMOP_set_param) {
                rc = hvm_builder_param(d, p.index, p.value);
                domain_put_named(d);
                return rc;
            }
            if (!rc) {
                p.value = __atomic_load_n(&d->arch.hvm.params[p.index], __ATOMIC_ACQUIRE);
                if (copy_to_guest(arg, &p, sizeof(p)))
                    rc = -XEN_EFAULT;
            }
        }
        domain_put_named(d);
        return rc;
    }
    case HVMOP_flush_tlbs:
        return -XEN_EINVAL;      /* a non-null argument, or not HVM */
    case HVMOP_get_mem_type: {
        struct xen_hvm_get_mem_type m;
        if (copy_from_guest(&m, arg, sizeof(m)))
            return -XEN_EFAULT;
        struct domain *d = hvm_op_domain(m.domid);
        if (!d)
            return -XEN_ESRCH;
        long rc = xsm_default_action(XSM_TARGET, current_domain(), d);
        domain_put_named(d);
        return rc ? rc : -XEN_EINVAL;
    }
    case HVMOP_pagetable_dying: {
        struct xen_hvm_pagetable_dying pd;
        if (copy_from_guest(&pd, arg, sizeof(pd)))
            return -XEN_EFAULT;
        struct domain *d = hvm_op_domain(pd.domid);
        if (!d)
            return -XEN_ESRCH;
        bool self = d == current_domain();
        domain_put_named(d);
        return self ? -XEN_EINVAL : -XEN_EOPNOTSUPP;
    }
    case HVMOP_get_time: {
        xen_hvm_get_time_t t = { .now = now_ns() };
        return copy_to_guest(arg, &t, sizeof(t)) ? -XEN_EFAULT : 0;
    }
    case HVMOP_xentrace: {
        xen_hvm_xentrace_t tr;
        if (copy_from_guest(&tr, arg, sizeof(tr)))
            return -XEN_EFAULT;
        if (tr.extra_bytes > sizeof(tr.extra) || (tr.event & ~((1u << TRC_SUBCLS_SHIFT) - 1)))
            return -XEN_EINVAL;
        return 0;                /* no trace buffers */
    }
    case HVMOP_guest_request_vm_event:
        return arg ? -XEN_EINVAL : 0;   /* no monitor to tell */
    case HVMOP_altp2m:
        return -XEN_EOPNOTSUPP;  /* do_altp2m_op: no altp2m (hvm_altp2m_supported) */
    default:
        return -XEN_ENOSYS;
    }
}
