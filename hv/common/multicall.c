/* multicall: a batch of hypercalls in one entry, as Xen 4.17 runs it. */
#include "lib.h"
#include "domain.h"
#include "hypercall.h"
#include "sched.h"

/*
 * Each entry is called as a hypercall of its own (hypercall_call: it
 * takes the locks it needs; multicall itself holds none) and its result is written back into the entry's `result`.  A
 * failing entry does not stop the batch; what stops it, as in Xen:
 * - a list or entry the guest cannot give or take: -EFAULT;
 * - iret: the batch ends there and returns iret's result;
 * - preemption between entries: a continuation with the rest of the list;
 * - an entry that is itself preempted: its continuation (number and
 *   arguments) is written into the entry, and the multicall continues from
 *   that entry.
 * A multicall inside a multicall gets -EINVAL (Xen refuses reentry).
 * Arguments are Xen's types: the count is 32 bits.
 */
long do_multicall(unsigned long list, unsigned long nr_arg, unsigned long a3,
                  unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    uint32_t nr = (uint32_t)nr_arg;
    struct multicall_entry call;
    uint32_t i;
    long rc = 0;

    if (v->mc.active)
        return -XEN_EINVAL;
    if (!guest_array_ok(list, nr, sizeof(call)))
        return -XEN_EFAULT;
    v->mc.active = true;
    for (i = 0; i < nr; i++) {
        /* Progress first; a vCPU that stopped running (blocked, down,
         * its domain shut down) goes out now and continues later. */
        if (i && (hypercall_preempt_check() || v->state != VCPU_RUNNABLE ||
                  v->domain->shutdown))
            goto preempted;
        if (copy_from_guest(&call, list, sizeof(call))) {
            rc = -XEN_EFAULT;
            break;
        }
        v->mc.preempted = false;
        call.result = (xen_ulong_t)hypercall_call(call.op, call.args[0], call.args[1],
                                                  call.args[2], call.args[3], call.args[4]);
        if (call.op == __HYPERVISOR_iret) {
            /* The guest is where iret put it: the batch is over. */
            (void)copy_to_guest(list + offsetof(struct multicall_entry, result),
                                &call.result, sizeof(call.result));
            rc = (long)call.result;
            break;
        }
        if (copy_to_guest(list + offsetof(struct multicall_entry, result),
                          &call.result, sizeof(call.result))) {
            rc = -XEN_EFAULT;
            break;
        }
        if (v->mc.preempted) {
            call.op = v->mc.op;
            memcpy(call.args, v->mc.args, sizeof(v->mc.args));
            if (!copy_to_guest(list, &call, sizeof(call)))
                goto preempted;
            rc = -XEN_EFAULT;
            break;
        }
        list += sizeof(call);
    }
    v->mc.active = false;
    return rc;

preempted:
    v->mc.active = false;
    return hypercall_create_continuation(__HYPERVISOR_multicall, list, nr - i, 0, 0, 0);
}
