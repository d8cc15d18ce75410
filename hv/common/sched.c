/* The vCPU scheduler, credit-style: per-pCPU run queues ordered by
 * weighted virtual time (shares by weight), caps in % of a pCPU, hard
 * affinity, idle pCPUs stealing work, blocked vCPUs costing nothing, idle
 * pCPUs halting.  Also sched_op. */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "sched.h"
#include "pci.h"
#include "apic.h"
#include "time.h"
#include "hypercall.h"
#include "pv.h"
#include "timer.h"
#include <xen/sched.h>
#include <xen/vcpu.h>
#include "event.h"
#include "flushtlb.h"
#include "arch_switch.h"

extern uint64_t idle_cr3;
extern char ret_from_trap[];
extern uint64_t boot_tsc;
uint64_t first_guest_tsc;

/*
 * The scheduler lock: run queues, each vCPU's state, on_rq, running,
 * processor and virtual time, each domain's pause count and cap budget,
 * and pCPUs' current vCPU.  schedule() holds it across the switch of
 * stacks; the vCPU switched to lets it go (below, or in
 * sched_first_entry for a vCPU's first run), on the same pCPU.
 */
/*
 * Run-queue locks, one per pCPU (pc->sched_lock, order 4, keyed by CPU
 * id), as Xen's per-CPU schedule locks: a pCPU's lock covers its queue
 * (rq, nr_queued, min_vruntime, curr) and the scheduling state of every
 * vCPU whose `processor` it is (state, on_rq, running, virtual time,
 * runstate, affinity).  A vCPU changes `processor` only with both pCPUs'
 * locks held, so vcpu_lock() finds its lock by looking again after
 * taking it.  Two run-queue locks are taken lower id first, or the other
 * one with a try-lock (stealing work, placing a woken vCPU): a try-lock
 * never waits, so it cannot deadlock.  schedule() holds its pCPU's lock
 * across the switch of stacks; the vCPU switched to lets it go.  A vCPU
 * switched away that must go to another pCPU's queue (its affinity
 * changed) is queued there once the switch is complete (pc->migrate).
 * A domain's cap accounting has its own lock (d->cap_lock, order 5);
 * its pause count is atomic.
 */
static void pcpu_lock(struct pcpu *pc)
{
    spin_lock_key(&pc->sched_lock, pc->id);
}

static void pcpu_unlock(struct pcpu *pc)
{
    spin_unlock(&pc->sched_lock);
}

static bool pcpu_trylock(struct pcpu *pc)
{
    return spin_trylock_key(&pc->sched_lock, pc->id);
}

/* Locks the run queue v belongs to; returns its pCPU. */
static struct pcpu *vcpu_lock(struct vcpu *v)
{
    for (;;) {
        struct pcpu *pc = pcpus[__atomic_load_n(&v->processor, __ATOMIC_ACQUIRE)];
        pcpu_lock(pc);
        if (v->processor == pc->id)
            return pc;
        pcpu_unlock(pc);         /* it moved meanwhile */
    }
}

/* ---- Run queues: one per pCPU, picked by least weighted virtual time. */

static bool allowed(const struct vcpu *v, unsigned cpu)
{
    return cpumask_test_cpu(cpu, &v->affinity);
}

static void rq_insert(struct pcpu *pc, struct vcpu *v)
{
    if (v->on_rq)
        return;
    v->on_rq = true;
    v->processor = pc->id;
    v->rq_next = pc->rq;
    pc->rq = v;
    pc->nr_queued++;
}

static void rq_remove(struct vcpu *v)
{
    if (!v->on_rq)
        return;
    struct pcpu *pc = pcpus[v->processor];
    for (struct vcpu **pp = &pc->rq; *pp; pp = &(*pp)->rq_next) {
        if (*pp == v) {
            *pp = v->rq_next;
            pc->nr_queued--;
            break;
        }
    }
    v->on_rq = false;
}

static bool eligible(const struct vcpu *v)
{
    return v->state == VCPU_RUNNABLE && !__atomic_load_n(&v->domain->parked, __ATOMIC_ACQUIRE) &&
           !__atomic_load_n(&v->domain->pause_count, __ATOMIC_ACQUIRE);
}

/* The queued vCPU of pc with the least virtual time that may run on cpu. */
static struct vcpu *rq_best(struct pcpu *pc, unsigned cpu)
{
    struct vcpu *best = NULL;
    for (struct vcpu *v = pc->rq; v; v = v->rq_next)
        if (eligible(v) && allowed(v, cpu) && (!best || v->vruntime < best->vruntime))
            best = v;
    return best;
}

/* The next vCPU for pc (its lock held): its own queue first, else one
 * to steal from the busiest other queue whose lock it can have without
 * waiting (idle pCPUs take work from busy ones).  A stolen candidate's
 * pCPU stays locked (*victim) until the caller takes it or lets go. */
static struct vcpu *pick_next(struct pcpu *pc, struct pcpu **victim)
{
    *victim = NULL;
    struct vcpu *v = rq_best(pc, pc->id);
    if (v)
        return v;
    struct pcpu *best = NULL;
    for (unsigned i = 0; i < nr_cpus; i++) {
        struct pcpu *o = pcpus[i];
        if (!o || o == pc || !o->online || !__atomic_load_n(&o->nr_queued, __ATOMIC_RELAXED))
            continue;
        if (best && o->nr_queued <= best->nr_queued)
            continue;
        if (!pcpu_trylock(o))
            continue;
        if (rq_best(o, pc->id)) {
            if (best)
                pcpu_unlock(best);
            best = o;
        } else {
            pcpu_unlock(o);
        }
    }
    if (!best)
        return NULL;
    *victim = best;
    return rq_best(best, pc->id);
}

/* Whether pc (its lock held) has something other to run. */
static bool work_for(struct pcpu *pc)
{
    struct pcpu *victim;
    bool any = pick_next(pc, &victim) != NULL;
    if (victim)
        pcpu_unlock(victim);
    return any;
}

/* Where a woken vCPU should wait: its last pCPU if allowed and free, else
 * an idle allowed pCPU, else the allowed pCPU with the shortest queue. */
static struct pcpu *place(struct vcpu *v)
{
    if (nr_cpus == 1)
        return pcpus[0];

    struct pcpu *home = v->processor < nr_cpus && allowed(v, v->processor) ?
                        pcpus[v->processor] : NULL;
    if (home && home->online && !home->curr->domain && !home->nr_queued)
        return home;
    struct pcpu *best = NULL;
    for (unsigned i = 0; i < nr_cpus; i++) {
        struct pcpu *o = pcpus[i];
        if (!o || !o->online || !allowed(v, i))
            continue;
        if (!o->curr->domain && !o->nr_queued)
            return o;
        if (!best || o->nr_queued < best->nr_queued)
            best = o;
    }
    if (home && home->online && home->nr_queued <= (best ? best->nr_queued : ~0u))
        return home;
    return best ? best : pcpus[0];
}


/* Makes sure pCPU pc looks at its queue (or at a vCPU's pending events). */
static void kick_cpu(struct pcpu *pc)
{
    pc->need_resched = true;     /* also stops a long hypercall there */
    if (pc != this_cpu())
        send_ipi(pc->id, VEC_EVENT_CHECK);
}

/* Whether another online pCPU has vCPUs waiting in its queue (read
 * without locks: a hint for idle pCPUs, which check under the lock). */
bool sched_queued_elsewhere(void)
{
    struct pcpu *pc = this_cpu();
    for (unsigned i = 0; i < nr_cpus; i++) {
        struct pcpu *o = pcpus[i];
        if (o && o != pc && o->online && __atomic_load_n(&o->nr_queued, __ATOMIC_RELAXED))
            return true;
    }
    return false;
}

/* v was queued behind another vCPU on pc: wake one idle pCPU it may run
 * on to take it (Xen's credit scheduler tickles idlers the same way).
 * The idle pCPU steals with a try-lock and, if pc's lock is still held
 * by the switch, tries again at its balance tick (timer_reprogram). */
static void tickle_idle(struct pcpu *pc, struct vcpu *v)
{
    for (unsigned i = 0; i < nr_cpus; i++) {
        struct pcpu *o = pcpus[i];
        if (o && o != pc && o->online && allowed(v, i) &&
            !__atomic_load_n(&o->curr, __ATOMIC_ACQUIRE)->domain &&
            !__atomic_load_n(&o->nr_queued, __ATOMIC_RELAXED)) {
            kick_cpu(o);
            return;
        }
    }
}

/* ---- vCPUs. */

/* A vCPU: the generic part here, the stack, FPU and guest-type state in
 * arch_vcpu_create. */
struct vcpu *vcpu_create(struct domain *d, unsigned id)
{
    BUILD_BUG_ON(sizeof(struct vcpu) > PAGE_SIZE);
    struct vcpu *v = alloc_hv_pages(0);
    if (!v)
        return NULL;
    v->domain = d;
    v->id = id;
    if (arch_vcpu_create(v)) {
        free_hv_pages(v, 0);
        return NULL;
    }
    v->state = VCPU_OFFLINE;
    v->runstate = RUNSTATE_offline;
    v->periodic_period = 10000000ULL;    /* PV guests have a 100 Hz ticker */
    v->affinity = d->affinity_default;
    cpumask_setall(&v->soft_affinity);
    v->processor = (d->id + id) % (nr_cpus ? nr_cpus : 1);
    return v;
}

void vcpu_free(struct vcpu *v)
{
    struct pcpu *pc = vcpu_lock(v);
    rq_remove(v);
    pcpu_unlock(pc);
    vcpu_timer_kill(v);
    arch_vcpu_destroy(v);
    free_hv_pages(v, 0);
}

/* Gives pCPU pc its idle vCPU (it runs on the CPU's boot stack). */
void sched_init_cpu(struct pcpu *pc)
{
    struct vcpu *idle = alloc_hv_pages(0);
    if (!idle)
        panic("CPU%u: no memory for the idle vCPU", pc->id);
    pc->sched_lock = (spinlock_t)SPINLOCK_INIT("sched", LOCK_ORDER_SCHED);
    idle->state = VCPU_RUNNABLE;
    idle->running = true;
    idle->processor = pc->id;
    pc->idle = pc->curr = idle;
}

bool sched_work_pending(void)
{
    struct pcpu *pc = this_cpu();
    pcpu_lock(pc);
    bool more = work_for(pc);
    pcpu_unlock(pc);
    return more;
}

/* Puts v (runnable, neither running nor queued; a's lock held, v's
 * processor) on pc's queue, pc's lock held too (or pc == a), with
 * wake-up preemption. */
static void enqueue_woken(struct pcpu *pc, struct vcpu *v)
{
    /* A vCPU that slept does not bank credit: at most one slice behind
     * whoever runs there now. */
    uint64_t floor = pc->curr->domain ? MIN(pc->min_vruntime, pc->curr->vruntime)
                                      : pc->min_vruntime;
    if (v->vruntime + SLICE_NS < floor)
        v->vruntime = floor - SLICE_NS;
    rq_insert(pc, v);
    /* Wake-up preemption: a vCPU that is owed time runs now, as credit's
     * boost does for vCPUs waking from a block. */
    if (!pc->curr->domain || v->vruntime < pc->curr->vruntime)
        kick_cpu(pc);
}

/* Wakes v (blocked: runnable now) and queues it if it is neither running
 * nor queued; a runnable vCPU that is neither (switched away to be moved,
 * its queue removed by an affinity change) is just queued. */
void vcpu_wake(struct vcpu *v)
{
    struct pcpu *a = vcpu_lock(v);
    if (v->state == VCPU_DEAD || v->state == VCPU_OFFLINE) {
        pcpu_unlock(a);
        return;
    }
    if (v->state != VCPU_RUNNABLE) {
        v->state = VCPU_RUNNABLE;
        if (!v->running)         /* woken before it left its pCPU: still running */
            vcpu_set_runstate(v, RUNSTATE_runnable);
    }
    if (v->running || v->on_rq) {
        pcpu_unlock(a);
        return;
    }
    struct pcpu *b = place(v);
    if (b == a || (b->id > a->id && (pcpu_lock(b), true))) {
        enqueue_woken(b, v);
        if (b != a)
            pcpu_unlock(b);
        pcpu_unlock(a);
        return;
    }
    /* b comes first in the order: both again, b first, and look again. */
    pcpu_unlock(a);
    pcpu_lock(b);
    pcpu_lock(a);
    if (v->processor == a->id && v->state == VCPU_RUNNABLE && !v->running && !v->on_rq)
        enqueue_woken(b, v);
    pcpu_unlock(a);
    pcpu_unlock(b);
}

/* VCPUOP_up, VGCF_online, a domain's start: an offline vCPU comes up
 * (blocked, then woken as if by an event). */
void vcpu_bring_up(struct vcpu *v)
{
    struct pcpu *a = vcpu_lock(v);
    bool up = v->state == VCPU_OFFLINE;
    if (up)
        v->state = VCPU_BLOCKED;
    pcpu_unlock(a);
    if (up)
        vcpu_wake(v);
}

/* VCPUOP_down, a vCPU reset: offline (a dead one stays dead).  If it runs
 * now, its pCPU lets it go on the way out (the caller's own) or when told
 * (vcpu_sleep_sync). */
void vcpu_take_down(struct vcpu *v)
{
    struct pcpu *a = vcpu_lock(v);
    if (v->state != VCPU_DEAD && v->state != VCPU_OFFLINE) {
        v->state = VCPU_OFFLINE;
        vcpu_set_runstate(v, RUNSTATE_offline);
    }
    pcpu_unlock(a);
}

/* A dying domain's vCPU never runs again. */
void vcpu_set_dead(struct vcpu *v)
{
    struct pcpu *a = vcpu_lock(v);
    v->state = VCPU_DEAD;
    pcpu_unlock(a);
}

/* Whether no pCPU runs any of d's vCPUs, their switch away finished
 * (reaping frees their stacks after this): a vCPU's running flag is
 * cleared under its pCPU's lock, which the switch holds until done. */
bool domain_off_cpus(struct domain *d)
{
    bool off = true;
    for (unsigned i = 0; i < d->nr_vcpus && off; i++) {
        struct vcpu *v = d->vcpu[i];
        if (!v)
            continue;
        struct pcpu *a = vcpu_lock(v);
        off = !v->running;
        pcpu_unlock(a);
    }
    return off;
}

/* ---- Control (domctl.c): pausing domains, changing hard affinity. */

/* Makes the pCPU running v (another one) reschedule now. */
static void resched_running(struct vcpu *v)
{
    if (v->running && pcpus[v->processor] != this_cpu()) {
        pcpus[v->processor]->need_resched = true;
        send_ipi(v->processor, VEC_EVENT_CHECK);
    } else if (v->running) {
        this_cpu()->need_resched = true;
    }
}

/* DOMCTL_pausedomain: d's vCPUs stop being eligible; one running now on
 * another pCPU leaves it as soon as that pCPU reschedules (the caller
 * waits for it, holding no lock: domain_sleep_sync). */
void sched_pause_domain(struct domain *d)
{
    if (__atomic_fetch_add(&d->pause_count, 1, __ATOMIC_SEQ_CST))
        return;
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = d->vcpu[i];
        if (!v)
            continue;
        struct pcpu *a = vcpu_lock(v);
        if (v->running)
            resched_running(v);
        else if (v->state == VCPU_RUNNABLE)
            vcpu_set_runstate(v, RUNSTATE_offline);   /* as Xen: not runnable */
        pcpu_unlock(a);
    }
}

void sched_unpause_domain(struct domain *d)
{
    unsigned c = __atomic_load_n(&d->pause_count, __ATOMIC_ACQUIRE);
    do {
        if (!c)
            return;
    } while (!__atomic_compare_exchange_n(&d->pause_count, &c, c - 1, false, __ATOMIC_SEQ_CST,
                                          __ATOMIC_ACQUIRE));
    if (c != 1)
        return;
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = d->vcpu[i];
        if (!v)
            continue;
        struct pcpu *a = vcpu_lock(v);
        bool wake = false;
        if (v->state == VCPU_RUNNABLE) {
            if (!v->running)
                vcpu_set_runstate(v, RUNSTATE_runnable);
            if (v->on_rq)
                kick_cpu(a);
            else if (!v->running)
                wake = true;
        }
        pcpu_unlock(a);
        if (wake)
            vcpu_wake(v);
    }
}

/* DOMCTL_setvcpuaffinity: a queued vCPU moves to a pCPU it may use; a
 * running one is rescheduled off a pCPU it may no longer use. */
void sched_set_affinity(struct vcpu *v, const cpumask_t *mask)
{
    struct pcpu *a = vcpu_lock(v);
    v->affinity = *mask;
    bool requeue = false;
    if (v->on_rq && !allowed(v, v->processor)) {
        rq_remove(v);
        requeue = true;
    } else if (v->running && !allowed(v, v->processor)) {
        resched_running(v);
    }
    pcpu_unlock(a);
    if (requeue)
        vcpu_wake(v);            /* runnable and unqueued: queued where allowed */
}

/*
 * Waiting until vCPUs that were made ineligible (down, paused, dead) are
 * off their pCPUs, as Xen's vcpu_sleep_sync: once it returns, none of them
 * executes another guest instruction.  Their pCPUs are interrupted and
 * reschedule on the way out, which they reach only if nothing they wait
 * for is held: the caller holds no lock (domctl waits after letting the
 * control lock go, VCPUOP_down after the domain lock).  A vCPU is then named only
 * by its pCPU and that pCPU's switch count, since its domain may be
 * destroyed meanwhile: callers touch neither the vCPUs nor their domain
 * after the wait.  The wait ends early if the caller's own vCPU is made
 * ineligible meanwhile (two vCPUs taking each other down); it then leaves
 * its pCPU on the way out, which ends the other wait.
 */
/* Whether pCPU cpu ran a switch since its count was seen. */
static bool switched(unsigned cpu, uint64_t seen)
{
    return __atomic_load_n(&pcpus[cpu]->switches, __ATOMIC_ACQUIRE) != seen;
}

/* Starts taking v off its pCPU if it runs on another one; returns that
 * pCPU (its switch count in *seen), or NR_CPUS if there is nothing to
 * wait for. */
static unsigned sleep_start(struct vcpu *v, uint64_t *seen)
{
    struct pcpu *a = vcpu_lock(v);
    struct pcpu *pc = v->running ? a : NULL;
    if (!pc || pc == this_cpu() || pc->curr != v) {
        pcpu_unlock(a);
        return NR_CPUS;
    }
    *seen = __atomic_load_n(&pc->switches, __ATOMIC_ACQUIRE);
    resched_running(v);
    pcpu_unlock(a);
    return pc->id;
}

/* Waits for pCPU cpu to switch; false if the caller's own vCPU was made
 * ineligible meanwhile (it must leave its pCPU instead). */
static bool sleep_wait(unsigned cpu, uint64_t seen)
{
    struct vcpu *self = current_vcpu();
    while (!switched(cpu, seen)) {
        if (self->domain && !eligible(self))
            return false;
        for (unsigned k = 0; k < 64 && !switched(cpu, seen); k++) {
            tlb_flush_poll();
            cpu_relax();
        }
    }
    return true;
}

void vcpu_sleep_sync(struct vcpu *v)
{
    uint64_t seen;
    unsigned cpu = sleep_start(v, &seen);
    if (cpu < NR_CPUS)
        sleep_wait(cpu, seen);
}

/* Each pCPU runs at most one of d's vCPUs: one count per pCPU, kept in
 * the caller's per-CPU data (not on its stack, with NR_CPUS of them). */
void domain_sleep_sync(struct domain *d)
{
    struct pcpu *self = this_cpu();
    cpumask_t wait;
    cpumask_clear(&wait);
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        uint64_t seen;
        unsigned cpu = d->vcpu[i] ? sleep_start(d->vcpu[i], &seen) : NR_CPUS;
        if (cpu < NR_CPUS) {
            self->sleep_seen[cpu] = seen;
            cpumask_set_cpu(cpu, &wait);
        }
    }
    for_each_cpu(cpu, &wait)
        if (!sleep_wait(cpu, self->sleep_seen[cpu]))
            return;
}

/* For v's runstate area: its runstate as it stands, as Xen copies it
 * there (the time in the current state not yet added).  Under the lock. */
static void runstate_note(struct vcpu *v)
{
    v->runstate_snap = v->runstate;
    v->runstate_snap_entry = v->runstate_entry;
    memcpy(v->runstate_snap_time, v->runstate_time, sizeof(v->runstate_time));
    v->runstate_pending = true;
}

void vcpu_note_runstate(struct vcpu *v)
{
    struct pcpu *a = vcpu_lock(v);
    runstate_note(v);
    pcpu_unlock(a);
}

/* A consistent copy of v's runstate (VCPUOP_get_runstate_info). */
void vcpu_get_runstate(struct vcpu *v, struct vcpu_runstate_info *ri)
{
    struct pcpu *a = vcpu_lock(v);
    uint64_t now = now_ns();
    ri->state = v->runstate;
    ri->state_entry_time = v->runstate_entry;
    memcpy(ri->time, v->runstate_time, sizeof(ri->time));
    ri->time[v->runstate & 3] += now - v->runstate_entry;
    pcpu_unlock(a);
}

/* The caller's own vCPU blocks: it leaves its pCPU on the way out of the
 * hypervisor unless woken before (then it just goes on). */
void sched_block(struct vcpu *v)
{
    struct pcpu *a = vcpu_lock(v);
    if (v->state == VCPU_RUNNABLE)
        v->state = VCPU_BLOCKED;
    pcpu_unlock(a);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Makes a running vCPU on another pCPU notice new pending events. */
void vcpu_kick(struct vcpu *v)
{
    if (v->running && pcpus[v->processor] != this_cpu())
        send_ipi(v->processor, VEC_EVENT_CHECK);
}

/* The slice of a vCPU starting now: shorter if its domain's cap budget
 * runs out first. */
static uint64_t slice_for(struct vcpu *v, uint64_t now)
{
    struct domain *d = v->domain;
    if (!d->cap)
        return SLICE_NS;
    spin_lock_key(&d->cap_lock, d->id);
    uint64_t budget = CAP_PERIOD_NS * d->cap / 100;
    if (now - d->cap_period_start >= CAP_PERIOD_NS) {
        d->cap_period_start = now;
        d->cap_used = d->cap_used > budget ? d->cap_used - budget : 0;
    }
    uint64_t left = budget > d->cap_used ? budget - d->cap_used : 0;
    spin_unlock(&d->cap_lock);
    return MAX(MIN(SLICE_NS, left), 100000ULL);
}

/* Charges prev for the time it ran: virtual time by weight, cap budget. */
static void account(struct vcpu *v, uint64_t now)
{
    uint64_t ran = now - v->slice_start_ns;
    v->slice_start_ns = now;
    v->runtime_ns += ran;
    struct domain *d = v->domain;
    v->vruntime += ran * 256 / (d->weight ? d->weight : 256);
    if (d->cap) {
        spin_lock_key(&d->cap_lock, d->id);
        uint64_t budget = CAP_PERIOD_NS * d->cap / 100;
        if (now - d->cap_period_start >= CAP_PERIOD_NS) {
            /* New period; an overrun (late timer) is paid back from it. */
            d->cap_period_start = now;
            d->cap_used = d->cap_used > budget ? d->cap_used - budget : 0;
        }
        d->cap_used += ran;
        if (d->cap_used >= CAP_PERIOD_NS * d->cap / 100) {
            /* Out of budget: park the domain until the period ends. */
            __atomic_store_n(&d->parked, true, __ATOMIC_RELEASE);
            for (unsigned i = 0; i < d->nr_vcpus; i++) {
                struct vcpu *o = d->vcpu[i];
                if (o) {
                    vcpu_set_unpark(o, d->cap_period_start + CAP_PERIOD_NS);
                }
            }
        }
        spin_unlock(&d->cap_lock);
    }
}

/* From the timer: a parked (capped) domain's new period begins. */
void sched_unpark(struct vcpu *v)
{
    struct domain *d = v->domain;
    spin_lock_key(&d->cap_lock, d->id);
    if (!d->parked) {
        spin_unlock(&d->cap_lock);
        return;
    }
    uint64_t budget = CAP_PERIOD_NS * d->cap / 100;
    __atomic_store_n(&d->parked, false, __ATOMIC_RELEASE);
    d->cap_used = d->cap_used > budget ? d->cap_used - budget : 0;
    d->cap_period_start = now_ns();
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *o = d->vcpu[i];
        if (!o)
            continue;
        vcpu_set_unpark(o, 0);
        if (__atomic_load_n(&o->on_rq, __ATOMIC_ACQUIRE))   /* a hint: kicking is harmless */
            kick_cpu(pcpus[o->processor]);
    }
    spin_unlock(&d->cap_lock);
}

/* The vCPU that schedule() returns to on this pCPU: its SCHEDOP_poll, if
 * it was in one, is over (woken, timed out, or not blocked after all). */
static void poll_end(struct vcpu *v)
{
    if (!v->polling)
        return;
    v->polling = false;
    if (v->poll_deadline)        /* a poll without a timeout set no timer */
        vcpu_set_poll_deadline(v, 0);
}

/* After a switch, on the vCPU switched to: its pCPU's lock goes, then a
 * vCPU switched away that must wait on another pCPU's queue is put
 * there. */
static void switch_done(struct pcpu *pc)
{
    struct vcpu *m = pc->migrate;
    pc->migrate = NULL;
    pcpu_unlock(pc);
    if (m)
        vcpu_wake(m);            /* runnable and unqueued: queued where allowed */
}

/* A new vCPU's first run (entry.S: vcpu_first_entry): the switch to it
 * "returns" there, its pCPU's lock still held. */
void sched_first_entry(void)
{
    switch_done(this_cpu());
}

/*
 * Picks what runs next on this pCPU and switches to it.  Called with no
 * lock held (debug builds check it), from the way out of the hypervisor
 * and from the idle loop, never from inside a hypercall or handler: those
 * change the vCPU's state and return, and the way out calls this.
 */
void schedule(void)
{
#ifdef KEEL_DEBUG
    if (this_cpu()->nr_held && !lock_debug_off)
        panic("schedule: CPU%u holds %s", this_cpu()->id,
              this_cpu()->held[this_cpu()->nr_held - 1]->name);
#endif
    struct pcpu *pc = this_cpu();
    pcpu_lock(pc);
    struct vcpu *prev = pc->curr;
    uint64_t now = now_ns();
    pc->need_resched = false;
    if (prev->domain)
        account(prev, now);
    struct pcpu *victim;
    struct vcpu *next = pick_next(pc, &victim);
    bool yielded = prev->yielded;
    prev->yielded = false;
    if (prev->domain && eligible(prev) && allowed(prev, pc->id) &&
        (!next || (!yielded && prev->vruntime <= next->vruntime))) {
        /* prev keeps the CPU for another slice (dead domains' destruction
         * goes on a step at a time meanwhile). */
        if (victim)
            pcpu_unlock(victim);
        pc->slice_end = now + slice_for(prev, now);
        timer_reprogram();
        poll_end(prev);
        pcpu_unlock(pc);
        return;
    }
    if (!next) {
        next = pc->idle;
    } else {
        rq_remove(next);
        if (victim) {            /* stolen: it is ours now (both locks held) */
            __atomic_store_n(&next->processor, pc->id, __ATOMIC_RELEASE);
            pcpu_unlock(victim);
        }
    }
    if (next == prev) {
        /* The idle vCPU, with nothing to run (what woke it was taken by
         * another pCPU): no switch, its saved context is stale. */
        timer_reprogram();
        pcpu_unlock(pc);
        return;
    }
    if (prev->domain && prev->state == VCPU_RUNNABLE) {
        if (allowed(prev, pc->id)) {
            rq_insert(pc, prev);
            tickle_idle(pc, prev);
        } else                     /* its hard affinity changed (domctl) */
            pc->migrate = prev;  /* queued elsewhere once switched away */
    }
    if (pc->rq) {
        uint64_t m = ~0ULL;
        for (struct vcpu *v = pc->rq; v; v = v->rq_next)
            m = MIN(m, v->vruntime);
        pc->min_vruntime = MAX(pc->min_vruntime, m);
    }

    if (prev->domain) {
        vcpu_set_runstate_at(prev, prev->state == VCPU_RUNNABLE ?
                                (prev->domain->pause_count ? RUNSTATE_offline :
                                 RUNSTATE_runnable) :
                                prev->state == VCPU_BLOCKED ? RUNSTATE_blocked :
                                RUNSTATE_offline, now);
        arch_ctxt_switch_from(prev);
    }
    prev->running = false;
    next->running = true;
    if (next->domain) {
        vcpu_set_runstate_at(next, RUNSTATE_running, now);
        arch_ctxt_switch_to(next);
        if (prev->domain != next->domain)
            pc->domain_switches++;
        next->slice_start_ns = now;
        pc->slice_end = now + slice_for(next, now);
        /* One TSC and one scale for every pCPU (TSC_STABLE): a record
         * extrapolates to exactly the system time, wherever the vCPU ran.
         * Rewritten only once it is TIME_REFRESH_NS old, as Xen's guests
         * expect a record no older than Xen's one-second calibration. */
        if (!next->time_written_ns || now - next->time_written_ns >= TIME_REFRESH_NS)
            update_vcpu_time(next);
        if (next->runstate_guest)
            runstate_note(next);     /* its runstate area, on the way out */
        if (!first_guest_tsc) {
            first_guest_tsc = rdtsc();
            printk("bench: hv_entry_to_first_guest_tsc=%lu\n",
                   (unsigned long)(first_guest_tsc - boot_tsc));
        }
        if (!next->domain->has_run) {
            /* For the run-time build figure (ci/bench.sh): the TSC as a
             * domain a control domain built is about to run its first
             * instruction. */
            uint64_t t = rdtsc();
            next->domain->has_run = true;
            if (next->domain->runtime_created)
                printk("bench: d%u first_instruction_tsc=%lu\n", next->domain->id,
                       (unsigned long)t);
        }
    } else {
        arch_ctxt_switch_to_idle();
    }
    __atomic_store_n(&pc->curr, next, __ATOMIC_RELEASE);
    __atomic_fetch_add(&pc->switches, 1, __ATOMIC_RELEASE);
    timer_reprogram();
    arch_switch_stack(prev, next);
    /* Back on prev's stack, now running again (maybe on another pCPU,
     * whose lock the switch to it holds). */
    poll_end(prev);
    switch_done(this_cpu());
}

/* From the timer interrupt: end the slice if someone else can run. */
void sched_tick(void)
{
    struct pcpu *pc = this_cpu();
    pcpu_lock(pc);
    if (!pc->curr->domain) {
        if (work_for(pc))
            pc->need_resched = true;
        pcpu_unlock(pc);
        return;
    }
    uint64_t now = now_ns();
    struct domain *d = pc->curr->domain;
    if (d->cap && d->cap_used + (now - pc->curr->slice_start_ns) >=
                  CAP_PERIOD_NS * d->cap / 100)
        pc->need_resched = true;
    if (now >= pc->slice_end) {
        if (work_for(pc))
            pc->need_resched = true;
        else
            pc->slice_end = now + SLICE_NS;
    }
    pcpu_unlock(pc);
}

noreturn void idle_loop(void)
{
    for (;;) {
        cli();
        bool more = false;
        if (reap_pending())
            more = reap_dead_domains();
        if (pci_work_pending())
            pci_irq_poll();      /* resets and storm limits that are due */
        if (restart_pending()) {
            /* With interrupts off, as the reaper: an interrupt here would
             * schedule under the control lock.  Waits for other CPUs
             * (flushes, remote calls) poll, so they cannot deadlock. */
            restart_domains();
            continue;
        }
        if (domains_booted && nr_live_domains() == 0) {
            static bool finishing;   /* one CPU prints the summary and exits */
            if (!__atomic_exchange_n(&finishing, true, __ATOMIC_ACQ_REL))
                domains_finish();
            for (;;) {
                tlb_flush_poll();
                cpu_relax();
            }
        }
        if (sched_work_pending()) {
            schedule();
            continue;
        }
        if (more || pci_work_pending()) {   /* destruction, or PCI work that comes due */
            sti();
            continue;
        }
        __asm__ volatile("sti; hlt" ::: "memory");
    }
}

static long sched_shutdown(unsigned long arg)
{
    struct sched_shutdown s;
    if (copy_from_guest(&s, arg, sizeof(s)))
        return -XEN_EFAULT;
    switch (s.reason) {
    case SHUTDOWN_poweroff:
    case SHUTDOWN_reboot:
    case SHUTDOWN_crash:
    case SHUTDOWN_watchdog:
        break;
    default:
        return -XEN_EINVAL;
    }
    domain_shutdown(current_domain(), s.reason);
    return 0;                    /* dead: the way out switches away for good */
}

/* SCHEDOP_poll, as Xen does it: return at once if a polled port is
 * pending; otherwise block once, until a polled port becomes pending, an
 * event upcall is raised, or the timeout (absolute system time, 0 = none)
 * passes. */
static long sched_poll(unsigned long arg)
{
    struct vcpu *v = current_vcpu();
    struct domain *d = v->domain;
    struct sched_poll p;
    evtchn_port_t port = 0;
    if (copy_from_guest(&p, arg, sizeof(p)))
        return -XEN_EFAULT;
    if (p.nr_ports > 128)
        return -XEN_EINVAL;
    /* As Xen: the list's start is checked, then each port is read in
     * turn, so a pending or bad port ends the call before the rest of
     * the list is read. */
    unsigned long list = (unsigned long)p.ports.p;
    if (!guest_array_ok(list, p.nr_ports, sizeof(port)))
        return -XEN_EFAULT;
    /* As Xen: blocked and polling first, then the ports looked at, so a
     * port made pending meanwhile either is seen here or wakes it. */
    v->poll_port = -1;
    v->polling = true;
    sched_block(v);
    long rc = 0;
    for (unsigned i = 0; i < p.nr_ports; i++) {
        if (copy_from_guest(&port, list + i * sizeof(port), sizeof(port)))
            rc = -XEN_EFAULT;
        else if (port >= d->max_evtchns)
            rc = -XEN_EINVAL;
        else if (!evtchn_port_pending(d, port))
            continue;
        goto done;
    }
    if (p.timeout && now_ns() >= p.timeout)
        goto done;
    if (p.nr_ports == 1)
        v->poll_port = (int)port;
    if (p.timeout)
        vcpu_set_poll_deadline(v, p.timeout);
    return 0;                    /* the way out blocks; poll_end cleans up */
done:
    v->polling = false;
    vcpu_wake(v);
    return rc;
}

long do_sched_op(unsigned long cmd, unsigned long arg, unsigned long a3,
                 unsigned long a4, unsigned long a5)
{
    (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    switch (cmd) {
    case SCHEDOP_yield:
        v->yielded = true;       /* let any other runnable vCPU go first */
        this_cpu()->need_resched = true;
        return 0;
    case SCHEDOP_block:
        /* Enable event delivery and sleep until an event is pending: as
         * Xen, blocked first, then the pending flag looked at (an event
         * sent meanwhile either is seen here or wakes it). */
        v->vcpu_info->evtchn_upcall_mask = 0;
        sched_block(v);
        if (__atomic_load_n(&v->vcpu_info->evtchn_upcall_pending, __ATOMIC_SEQ_CST))
            vcpu_wake(v);
        return 0;
    case SCHEDOP_shutdown:
        return sched_shutdown(arg);
    case SCHEDOP_poll:
        return sched_poll(arg);
    default:
        return -XEN_ENOSYS;
    }
}
