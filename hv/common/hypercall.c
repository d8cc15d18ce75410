/* What every hypercall shares whatever the guest type: when a long batch
 * stops to let others run.  (The PV entry, table and hypercall page are
 * in hv/pv/hypercall.c.) */
#include "lib.h"
#include "domain.h"
#include "hypercall.h"
#include "sched.h"
#include "time.h"

/*
 * Preemptible hypercalls, as Xen's: a long batch checks every few dozen
 * items whether to stop, and if so rewinds the guest to the syscall with
 * the progress encoded in the arguments (hypercall_create_continuation).
 * The guest sees one call that completes with Xen's result; meanwhile
 * the batch's locks are let go and the pCPU takes its pending interrupts
 * (hypercalls run with interrupts off), so a due timer or a rescheduling
 * runs first.  Stop when this pCPU must reschedule or its next timer is
 * due (at most a time slice: a CPU waiting for a domain's lock meanwhile
 * waits no longer).
 */
bool hypercall_preempt_check(void)
{
    struct pcpu *pc = this_cpu();
    return pc->need_resched || now_ns() >= pc->timer_deadline;
}
