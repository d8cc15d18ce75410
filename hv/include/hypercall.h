/* Hypercall handlers and their preemption. */
#ifndef KEEL_HYPERCALL_H
#define KEEL_HYPERCALL_H

#include "lib.h"
#include "memlayout.h"
#include <xen/xen.h>

#include <xen/errno.h>

typedef long (*hypercall_fn)(unsigned long, unsigned long, unsigned long,
                             unsigned long, unsigned long);

/* Preemption of long batches (common/hypercall.c): whether to stop now,
 * and the continuation that makes the guest call again with new
 * arguments (returned by the handler; the guest never sees it). */
bool hypercall_preempt_check(void);
long hypercall_create_continuation(unsigned nr, unsigned long a1, unsigned long a2,
                                   unsigned long a3, unsigned long a4, unsigned long a5);
/* Items a batch handles between two checks. */
#define HCALL_PREEMPT_EVERY 32

/* The check every batch makes before item n of this piece (n counted
 * from the piece's start, so that each piece makes progress). */
static inline bool hypercall_preempt_due(unsigned long n)
{
    return n && !(n % HCALL_PREEMPT_EVERY) && hypercall_preempt_check();
}
/* Internal to the hypervisor, as in Xen (neither is in the public
 * headers): a handler's "stop here and continue" (Xen's ERESTART, never
 * returned to a guest), and the top bit of an mmu_update/mmuext_op count
 * that marks a continuation (Xen's MMU_UPDATE_PREEMPTED). */
#define HV_ERESTART          85
#define MMU_UPDATE_PREEMPTED (1u << 31)

#include "guest_access.h"

long do_console_io(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_xen_version(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_sched_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_domctl(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_sysctl(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_multicall(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_vm_assist(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
/* hv/common/refused.c: Xen's answers where Keel has nothing behind. */
long do_platform_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_kexec_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_hypfs_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_mca(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_xenpmu_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_xenoprof_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_dm_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_hvm_op(unsigned long, unsigned long, unsigned long, unsigned long, unsigned long);
long do_paging_domctl_cont(unsigned long, unsigned long, unsigned long, unsigned long,
                           unsigned long);

/* Hypercall nr with these arguments (hv/pv/hypercall.c; multicall's
 * entries): each family takes the locks it needs. */
long hypercall_call(unsigned long nr, unsigned long a1, unsigned long a2, unsigned long a3,
                    unsigned long a4, unsigned long a5);


#endif
