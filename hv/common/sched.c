/* The vCPU scheduler, credit-style: per-pCPU run queues ordered by
 * weighted virtual time (shares by weight), caps in % of a pCPU, hard
 * affinity, idle pCPUs stealing work, blocked vCPUs costing nothing, idle
 * pCPUs halting.  Also sched_op. */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "sched.h"
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
static spinlock_t sched_lock = SPINLOCK_INIT("sched", LOCK_ORDER_SCHED);

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
    return v->state == VCPU_RUNNABLE && !v->domain->parked && !v->domain->pause_count;
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

/* Picks the next vCPU for pc: its own queue first, else steal from the
 * busiest other queue (idle pCPUs take work from busy ones). */
static struct vcpu *pick_next(struct pcpu *pc)
{
    struct vcpu *v = rq_best(pc, pc->id);
    if (v)
        return v;
    struct pcpu *victim = NULL;
    for (unsigned i = 0; i < nr_cpus; i++) {
        struct pcpu *o = pcpus[i];
        if (o && o != pc && o->nr_queued && (!victim || o->nr_queued > victim->nr_queued))
            if (rq_best(o, pc->id))
                victim = o;
    }
    return victim ? rq_best(victim, pc->id) : NULL;
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
    spin_lock(&sched_lock);
    rq_remove(v);
    spin_unlock(&sched_lock);
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
    idle->state = VCPU_RUNNABLE;
    idle->running = true;
    idle->processor = pc->id;
    pc->idle = pc->curr = idle;
}

bool sched_work_pending(void)
{
    spin_lock(&sched_lock);
    bool more = pick_next(this_cpu()) != NULL;
    spin_unlock(&sched_lock);
    return more;
}

static void wake_locked(struct vcpu *v)
{
    if (v->state == VCPU_DEAD || v->state == VCPU_OFFLINE)
        return;
    if (v->state != VCPU_RUNNABLE) {
        v->state = VCPU_RUNNABLE;
        if (!v->running)         /* woken before it left its pCPU: still running */
            vcpu_set_runstate(v, RUNSTATE_runnable);
    }
    if (v->running || v->on_rq)
        return;
    struct pcpu *pc = place(v);
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

void vcpu_wake(struct vcpu *v)
{
    spin_lock(&sched_lock);
    wake_locked(v);
    spin_unlock(&sched_lock);
}

/* VCPUOP_up, VGCF_online, a domain's start: an offline vCPU comes up
 * (blocked, then woken as if by an event). */
void vcpu_bring_up(struct vcpu *v)
{
    spin_lock(&sched_lock);
    if (v->state == VCPU_OFFLINE) {
        v->state = VCPU_BLOCKED;
        wake_locked(v);
    }
    spin_unlock(&sched_lock);
}

/* VCPUOP_down, a vCPU reset: offline (a dead one stays dead).  If it runs
 * now, its pCPU lets it go on the way out (the caller's own) or when told
 * (vcpu_sleep_sync). */
void vcpu_take_down(struct vcpu *v)
{
    spin_lock(&sched_lock);
    if (v->state != VCPU_DEAD && v->state != VCPU_OFFLINE) {
        v->state = VCPU_OFFLINE;
        vcpu_set_runstate(v, RUNSTATE_offline);
    }
    spin_unlock(&sched_lock);
}

/* A dying domain's vCPU never runs again. */
void vcpu_set_dead(struct vcpu *v)
{
    spin_lock(&sched_lock);
    v->state = VCPU_DEAD;
    spin_unlock(&sched_lock);
}

/* Whether no pCPU runs any of d's vCPUs, their switch away finished
 * (reaping frees their stacks after this). */
bool domain_off_cpus(struct domain *d)
{
    spin_lock(&sched_lock);
    bool off = true;
    for (unsigned i = 0; i < d->nr_vcpus && off; i++)
        if (d->vcpu[i] && d->vcpu[i]->running)
            off = false;
    spin_unlock(&sched_lock);
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
 * another pCPU leaves it as soon as that pCPU takes the lock (the caller
 * holds it, so it cannot wait here as Xen's vcpu_sleep_sync does). */
void sched_pause_domain(struct domain *d)
{
    spin_lock(&sched_lock);
    if (d->pause_count++) {
        spin_unlock(&sched_lock);
        return;
    }
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = d->vcpu[i];
        if (!v)
            continue;
        if (v->running)
            resched_running(v);
        else if (v->state == VCPU_RUNNABLE)
            vcpu_set_runstate(v, RUNSTATE_offline);   /* as Xen: not runnable */
    }
    spin_unlock(&sched_lock);
}

void sched_unpause_domain(struct domain *d)
{
    spin_lock(&sched_lock);
    if (!d->pause_count || --d->pause_count) {
        spin_unlock(&sched_lock);
        return;
    }
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = d->vcpu[i];
        if (!v || v->state != VCPU_RUNNABLE)
            continue;
        if (!v->running)
            vcpu_set_runstate(v, RUNSTATE_runnable);
        if (v->on_rq)
            kick_cpu(pcpus[v->processor]);
        else if (!v->running)
            wake_locked(v);
    }
    spin_unlock(&sched_lock);
}

/* DOMCTL_setvcpuaffinity: a queued vCPU moves to a pCPU it may use; a
 * running one is rescheduled off a pCPU it may no longer use. */
void sched_set_affinity(struct vcpu *v, const cpumask_t *mask)
{
    spin_lock(&sched_lock);
    v->affinity = *mask;
    if (v->on_rq && !allowed(v, v->processor)) {
        rq_remove(v);
        struct pcpu *pc = place(v);
        rq_insert(pc, v);
        kick_cpu(pc);
    } else if (v->running && !allowed(v, v->processor)) {
        resched_running(v);
    }
    spin_unlock(&sched_lock);
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
    spin_lock(&sched_lock);
    struct pcpu *pc = v->running ? pcpus[v->processor] : NULL;
    if (!pc || pc == this_cpu() || pc->curr != v) {
        spin_unlock(&sched_lock);
        return NR_CPUS;
    }
    *seen = __atomic_load_n(&pc->switches, __ATOMIC_ACQUIRE);
    resched_running(v);
    spin_unlock(&sched_lock);
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
    spin_lock(&sched_lock);
    runstate_note(v);
    spin_unlock(&sched_lock);
}

/* A consistent copy of v's runstate (VCPUOP_get_runstate_info). */
void vcpu_get_runstate(struct vcpu *v, struct vcpu_runstate_info *ri)
{
    spin_lock(&sched_lock);
    uint64_t now = now_ns();
    ri->state = v->runstate;
    ri->state_entry_time = v->runstate_entry;
    memcpy(ri->time, v->runstate_time, sizeof(ri->time));
    ri->time[v->runstate & 3] += now - v->runstate_entry;
    spin_unlock(&sched_lock);
}

/* The caller's own vCPU blocks: it leaves its pCPU on the way out of the
 * hypervisor unless woken before (then it just goes on). */
void sched_block(struct vcpu *v)
{
    spin_lock(&sched_lock);
    if (v->state == VCPU_RUNNABLE)
        v->state = VCPU_BLOCKED;
    spin_unlock(&sched_lock);
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
    uint64_t budget = CAP_PERIOD_NS * d->cap / 100;
    if (now - d->cap_period_start >= CAP_PERIOD_NS) {
        d->cap_period_start = now;
        d->cap_used = d->cap_used > budget ? d->cap_used - budget : 0;
    }
    uint64_t left = budget > d->cap_used ? budget - d->cap_used : 0;
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
        uint64_t budget = CAP_PERIOD_NS * d->cap / 100;
        if (now - d->cap_period_start >= CAP_PERIOD_NS) {
            /* New period; an overrun (late timer) is paid back from it. */
            d->cap_period_start = now;
            d->cap_used = d->cap_used > budget ? d->cap_used - budget : 0;
        }
        d->cap_used += ran;
        if (d->cap_used >= CAP_PERIOD_NS * d->cap / 100) {
            /* Out of budget: park the domain until the period ends. */
            d->parked = true;
            for (unsigned i = 0; i < d->nr_vcpus; i++) {
                struct vcpu *o = d->vcpu[i];
                if (o) {
                    vcpu_set_unpark(o, d->cap_period_start + CAP_PERIOD_NS);
                }
            }
        }
    }
}

/* From the timer: a parked (capped) domain's new period begins. */
void sched_unpark(struct vcpu *v)
{
    struct domain *d = v->domain;
    spin_lock(&sched_lock);
    if (!d->parked) {
        spin_unlock(&sched_lock);
        return;
    }
    uint64_t budget = CAP_PERIOD_NS * d->cap / 100;
    d->parked = false;
    d->cap_used = d->cap_used > budget ? d->cap_used - budget : 0;
    d->cap_period_start = now_ns();
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *o = d->vcpu[i];
        if (!o)
            continue;
        vcpu_set_unpark(o, 0);
        if (o->on_rq)
            kick_cpu(pcpus[o->processor]);
    }
    spin_unlock(&sched_lock);
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

/* A new vCPU's first run (entry.S: vcpu_first_entry): the switch to it
 * "returns" there, the scheduler lock still held. */
void sched_first_entry(void)
{
    spin_unlock(&sched_lock);
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
    spin_lock(&sched_lock);
    struct pcpu *pc = this_cpu();
    struct vcpu *prev = pc->curr;
    uint64_t now = now_ns();
    pc->need_resched = false;
    if (prev->domain)
        account(prev, now);
    struct vcpu *next = pick_next(pc);
    bool yielded = prev->yielded;
    prev->yielded = false;
    if (prev->domain && eligible(prev) && allowed(prev, pc->id) &&
        (!next || (!yielded && prev->vruntime <= next->vruntime))) {
        /* prev keeps the CPU for another slice (dead domains' destruction
         * goes on a step at a time meanwhile). */
        pc->slice_end = now + slice_for(prev, now);
        timer_reprogram();
        poll_end(prev);
        spin_unlock(&sched_lock);
        return;
    }
    if (!next)
        next = pc->idle;
    else
        rq_remove(next);
    if (next == prev) {
        /* The idle vCPU, with nothing to run (what woke it was taken by
         * another pCPU): no switch, its saved context is stale. */
        timer_reprogram();
        spin_unlock(&sched_lock);
        return;
    }
    if (prev->domain && prev->state == VCPU_RUNNABLE) {
        if (allowed(prev, pc->id)) {
            rq_insert(pc, prev);
        } else {                 /* its hard affinity changed (domctl) */
            struct pcpu *o = place(prev);
            rq_insert(o, prev);
            kick_cpu(o);
        }
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
    next->processor = pc->id;
    if (next->domain) {
        vcpu_set_runstate_at(next, RUNSTATE_running, now);
        arch_ctxt_switch_to(next);
        if (prev->domain != next->domain)
            pc->domain_switches++;
        next->slice_start_ns = now;
        pc->slice_end = now + slice_for(next, now);
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
    /* Back on prev's stack, now running again (maybe on another pCPU). */
    poll_end(prev);
    spin_unlock(&sched_lock);
}

/* From the timer interrupt: end the slice if someone else can run. */
void sched_tick(void)
{
    struct pcpu *pc = this_cpu();
    spin_lock(&sched_lock);
    if (!pc->curr->domain) {
        if (pick_next(pc))
            pc->need_resched = true;
        spin_unlock(&sched_lock);
        return;
    }
    uint64_t now = now_ns();
    struct domain *d = pc->curr->domain;
    if (d->cap && d->cap_used + (now - pc->curr->slice_start_ns) >=
                  CAP_PERIOD_NS * d->cap / 100)
        pc->need_resched = true;
    if (now >= pc->slice_end) {
        if (pick_next(pc))
            pc->need_resched = true;
        else
            pc->slice_end = now + SLICE_NS;
    }
    spin_unlock(&sched_lock);
}

noreturn void idle_loop(void)
{
    for (;;) {
        cli();
        bool more = false;
        if (reap_pending())
            more = reap_dead_domains();
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
        if (more) {              /* destruction goes on while idle */
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
