/* Timers for vCPUs (singleshot, periodic, SCHEDOP_poll timeouts) kept in
 * one list sorted by expiry and driven by the local APIC in one-shot mode;
 * PV time (vcpu_time_info, the wallclock) for guests; set_timer_op. */
#include "lib.h"
#include "x86.h"
#include "domain.h"
#include "sched.h"
#include "event.h"
#include "time.h"
#include "timer.h"
#include "hypercall.h"

/* timer_lock covers the list, each vCPU's place in it (timer_expiry,
 * timer_next, on_timer_list), the times it is computed from (singleshot,
 * periodic_period, periodic_next, poll_deadline, unpark_at: written only
 * through the functions below) and the vCPU's time area (update_vcpu_time,
 * which two pCPUs may otherwise write at once).  timers_run takes no
 * other lock while it holds it: it takes each expired vCPU off the list,
 * notes what is due, lets the lock go and then acts (VIRQ, wake-up,
 * unpark), with the vCPU marked as being handled on this pCPU so that
 * vcpu_timer_kill can wait for it. */
static struct vcpu *timer_head;
static uint64_t head_expiry;     /* timer_head's expiry (0: none), for
                                    timer_reprogram without the lock */
static spinlock_t timer_lock = SPINLOCK_INIT("timer", LOCK_ORDER_TIMER);

static void head_changed(void)
{
    __atomic_store_n(&head_expiry, timer_head ? timer_head->timer_expiry : 0,
                     __ATOMIC_RELAXED);
}
/* For the NMI state dump: the earliest vCPU timer (0: none). */
uint64_t timer_head_expiry(void)
{
    return __atomic_load_n(&head_expiry, __ATOMIC_RELAXED);
}

uint32_t tsc_mul;
int8_t tsc_shift;
static uint64_t boot_wallclock_sec;      /* Unix time at system time 0 */

static void remove_locked(struct vcpu *v)
{
    if (!v->on_timer_list)
        return;
    for (struct vcpu **pp = &timer_head; *pp; pp = &(*pp)->timer_next) {
        if (*pp == v) {
            *pp = v->timer_next;
            break;
        }
    }
    v->on_timer_list = false;
    head_changed();
}

void vcpu_timer_remove(struct vcpu *v)
{
    spin_lock(&timer_lock);
    remove_locked(v);
    spin_unlock(&timer_lock);
}

/* v's timer is off the list and no pCPU is handling it: before v or its
 * domain's event channels and vcpu_info go (v is dead, so it is not put
 * back). */
static bool handling(unsigned cpu, const struct vcpu *v, const struct domain *d)
{
    struct vcpu *h = pcpus[cpu] ? __atomic_load_n(&pcpus[cpu]->timer_vcpu, __ATOMIC_ACQUIRE) : NULL;
    return h && (h == v || (d && h->domain == d));
}

static void wait_handlers(const struct vcpu *v, const struct domain *d)
{
    for (unsigned i = 0; i < nr_cpus; i++)
        while (handling(i, v, d)) {
            tlb_flush_poll();
            __builtin_ia32_pause();
        }
}

void vcpu_timer_kill(struct vcpu *v)
{
    vcpu_timer_remove(v);
    wait_handlers(v, NULL);
}

/* The same for every vCPU of a dead domain (destruction, before its event
 * channels and vcpu_info go). */
void domain_timers_kill(struct domain *d)
{
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i])
            vcpu_timer_remove(d->vcpu[i]);
    wait_handlers(NULL, d);
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    return MIN(a, b);
}

/* Recomputes v's expiry and its place in the list (timer_lock held);
 * whether the APIC may need reprogramming. */
static bool update_locked(struct vcpu *v)
{
    /* The periodic ticker only matters once VIRQ_TIMER is bound: until then
     * Xen's tick would raise nothing, so we do not run it (a thousand idle
     * domains must not cost a thousand timers). */
    bool ticking = v->periodic_period && v->virq_to_evtchn[VIRQ_TIMER];
    uint64_t e = earliest(v->singleshot, ticking ? v->periodic_next : 0);
    e = earliest(e, v->unpark_at);
    e = earliest(e, v->hvm_timer_at);
    if (v->polling)
        e = earliest(e, v->poll_deadline);
    /* Unchanged (a poll without a timeout, say): the list and the APIC
     * are right already. */
    if (e == v->timer_expiry && v->on_timer_list == (e && v->state != VCPU_DEAD))
        return false;
    remove_locked(v);
    v->timer_expiry = e;
    if (e && v->state != VCPU_DEAD) {
        struct vcpu **pp = &timer_head;
        while (*pp && (*pp)->timer_expiry <= e)
            pp = &(*pp)->timer_next;
        v->timer_next = *pp;
        *pp = v;
        v->on_timer_list = true;
        head_changed();
    }
    return true;
}

void vcpu_timer_update(struct vcpu *v)
{
    spin_lock(&timer_lock);
    bool changed = update_locked(v);
    spin_unlock(&timer_lock);
    if (changed)
        timer_reprogram();
}

enum { T_SINGLESHOT, T_PERIOD, T_PERIODIC_RESTART, T_POLL, T_UNPARK, T_HVM };

static void timer_set(struct vcpu *v, unsigned which, uint64_t val)
{
    spin_lock(&timer_lock);
    switch (which) {
    case T_SINGLESHOT:
        v->singleshot = val;
        break;
    case T_PERIOD:
        v->periodic_period = val;
        /* fall through: the first tick one period from now */
    case T_PERIODIC_RESTART:
        if (v->periodic_period)
            v->periodic_next = now_ns() + v->periodic_period;
        break;
    case T_POLL:
        v->poll_deadline = val;
        break;
    case T_UNPARK:
        v->unpark_at = val;
        break;
    case T_HVM:
        v->hvm_timer_at = val;
        break;
    }
    bool changed = update_locked(v);
    spin_unlock(&timer_lock);
    if (changed)
        timer_reprogram();
}

/* Absolute system time, 0 = stopped. */
void vcpu_set_singleshot(struct vcpu *v, uint64_t deadline) { timer_set(v, T_SINGLESHOT, deadline); }
/* Period in ns (0 = stopped); the next tick one period from now. */
void vcpu_set_periodic(struct vcpu *v, uint64_t period) { timer_set(v, T_PERIOD, period); }
/* The ticker restarts one period from now (a vCPU coming up, VIRQ_TIMER bound). */
void vcpu_restart_periodic(struct vcpu *v) { timer_set(v, T_PERIODIC_RESTART, 0); }
void vcpu_set_poll_deadline(struct vcpu *v, uint64_t t) { timer_set(v, T_POLL, t); }
void vcpu_set_unpark(struct vcpu *v, uint64_t t) { timer_set(v, T_UNPARK, t); }
void vcpu_set_hvm_timer(struct vcpu *v, uint64_t t) { timer_set(v, T_HVM, t); }

/* Runs the expired vCPU timers; takes no lock on entry (the timer
 * interrupt, set_timer_op). */
void timers_run(void)
{
    struct pcpu *pc = this_cpu();
    uint64_t now = now_ns();
    for (;;) {
        spin_lock(&timer_lock);
        struct vcpu *v = timer_head;
        if (!v || v->timer_expiry > now) {
            spin_unlock(&timer_lock);
            break;
        }
        timer_head = v->timer_next;
        v->on_timer_list = false;
        head_changed();
        bool fire = false, unpark = false, wake = false, tick = false;
        if (v->singleshot && v->singleshot <= now) {
            v->singleshot = 0;
            fire = true;
        }
        if (v->periodic_period && v->virq_to_evtchn[VIRQ_TIMER] && v->periodic_next <= now) {
            while (v->periodic_next <= now)
                v->periodic_next += v->periodic_period;
            fire = true;
        }
        if (v->unpark_at && v->unpark_at <= now)
            unpark = true;
        if (v->hvm_timer_at && v->hvm_timer_at <= now) {
            v->hvm_timer_at = 0;
            tick = true;             /* an emulated timer's tick: isa.c, vlapic.c raise it */
        }
        if (v->polling && v->poll_deadline && v->poll_deadline <= now) {
            v->poll_deadline = 0;
            wake = true;
        }
        __atomic_store_n(&pc->timer_vcpu, v, __ATOMIC_RELEASE);
        spin_unlock(&timer_lock);
        if (unpark)
            sched_unpark(v);
        if ((wake || tick) && v->state == VCPU_BLOCKED)
            vcpu_wake(v);
        else if (tick)
            vcpu_kick(v);            /* running: it looks at its timers before the next entry */
        if (fire) {
            update_vcpu_time(v);
            send_guest_vcpu_virq(v, VIRQ_TIMER);
        }
        vcpu_timer_update(v);
        __atomic_store_n(&pc->timer_vcpu, NULL, __ATOMIC_RELEASE);
    }
}

/* The next APIC interrupt: the earliest timer or the end of the slice. */
void timer_reprogram(void)
{
    struct pcpu *pc = this_cpu();
    uint64_t next = __atomic_load_n(&head_expiry, __ATOMIC_RELAXED);
    if (pc->curr && pc->curr->domain) {
        /* A slice whose end set need_resched is over: schedule() gives
         * the next one.  Arming for that past end meant an interrupt
         * 1 ns after each return from the last until the pCPU reached
         * schedule(); under -icount, where 1 ns is one instruction, it
         * never got there from svm_loop (the interrupt came again on
         * IRET, millions of times, before the CLI after it). */
        if (!pc->need_resched)
            next = earliest(next, pc->slice_end);
    }
    else if (sched_queued_elsewhere())
        /* Idle while vCPUs wait on another pCPU: look again soon (its
         * lock may have been held when this pCPU tried to steal). */
        next = earliest(next, now_ns() + IDLE_BALANCE_NS);
    pc->timer_deadline = next ? next : ~0ULL;
    /* Armed for that deadline already, or for an earlier one (not fired
     * since: the timer interrupt forgets it): leave the APIC alone.  An
     * early interrupt only re-arms it; a context switch pushes the end of
     * the slice later each time, and reprogramming on every switch cost
     * more than one early interrupt per slice. */
    if (pc->apic_armed_for && pc->apic_armed_for <= pc->timer_deadline)
        return;
    pc->apic_armed_for = pc->timer_deadline;
    if (!next) {
        apic_oneshot_ns(0);
        return;
    }
    uint64_t now = now_ns();
    apic_oneshot_ns(next > now ? next - now : 1);
}

/* tsc_to_system_mul and tsc_shift as <xen/xen.h> defines them:
 * ns = ((tsc_delta << shift) * mul) >> 32, with mul < 2^32. */
static void set_time_scale(uint64_t tsc_hz)
{
    uint64_t tps = tsc_hz, ns = 1000000000ULL;
    int shift = 0;
    while (tps > 2 * ns) {
        tps >>= 1;
        shift--;
    }
    while (tps <= ns) {
        tps <<= 1;
        shift++;
    }
    tsc_mul = (uint32_t)((ns << 32) / tps);
    tsc_shift = (int8_t)shift;
}

static unsigned cmos(unsigned reg)
{
    outb(0x70, (uint8_t)reg);
    return inb(0x71);
}

static unsigned bcd(unsigned v, bool binary)
{
    return binary ? v : (v & 15) + (v >> 4) * 10;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static uint64_t days_from_civil(unsigned y, unsigned m, unsigned d)
{
    y -= m <= 2;
    unsigned era = y / 400, yoe = y - era * 400;
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (uint64_t)era * 146097 + doe - 719468;
}

static uint64_t read_rtc(void)
{
    while (cmos(0x0a) & 0x80)            /* update in progress */
        ;
    bool bin = cmos(0x0b) & 4;
    unsigned s = bcd(cmos(0x00), bin), mi = bcd(cmos(0x02), bin);
    unsigned h = bcd(cmos(0x04) & 0x7f, bin), d = bcd(cmos(0x07), bin);
    unsigned mo = bcd(cmos(0x08), bin), y = bcd(cmos(0x09), bin);
    unsigned cent = bcd(cmos(0x32), bin);
    y += (cent >= 19 && cent <= 30) ? cent * 100 : 2000;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return 0;
    return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
}

void pvtime_init(void)
{
    set_time_scale(tsc_khz * 1000);
    uint64_t rtc = read_rtc();
    uint64_t up = now_ns() / 1000000000ULL;
    boot_wallclock_sec = rtc > up ? rtc - up : rtc;
    printk("time: wallclock at boot %lu, tsc_to_system_mul %u shift %d\n",
           (unsigned long)boot_wallclock_sec, tsc_mul, tsc_shift);
}

static uint64_t write_time(struct vcpu_time_info *t);

void update_vcpu_time(struct vcpu *v)
{
    spin_lock(&timer_lock);
    if (v->vcpu_info) {
        v->time_written_ns = write_time(&v->vcpu_info->time);
        if (v->time_guest) {
            v->time_snap = v->vcpu_info->time;
            __atomic_store_n(&v->time_pending, true, __ATOMIC_RELEASE);
        }
    }
    spin_unlock(&timer_lock);
}

/*
 * The secondary time area (VCPUOP_register_vcpu_time_memory_area), as
 * Xen's update_secondary_system_time: the last time noted for v, written
 * at the guest's address in its own address space with the version
 * protocol (the version, odd, first; then the whole record; then the
 * version, even).  Called for the running vCPU in its kernel (on the way
 * out, or from the hypercall), holding no lock: a write that fails is
 * dropped, and the record written next time (Xen keeps it pending until
 * its kernel runs; Keel only writes from the kernel, where Linux maps
 * it).
 */
void time_area_update(struct vcpu *v)
{
    spin_lock(&timer_lock);
    struct vcpu_time_info t = v->time_snap;
    unsigned long p = v->time_guest;
    __atomic_store_n(&v->time_pending, false, __ATOMIC_RELAXED);
    spin_unlock(&timer_lock);
    if (!p)
        return;
    uint32_t end = t.version;
    t.version = end - 1;         /* write_time leaves it even */
    if (copy_to_guest(p + offsetof(struct vcpu_time_info, version), &t.version,
                      sizeof(t.version)))
        return;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    (void)copy_to_guest(p, &t, sizeof(t));
    __atomic_thread_fence(__ATOMIC_RELEASE);
    (void)copy_to_guest(p + offsetof(struct vcpu_time_info, version), &end, sizeof(end));
}

/* Returns the system time it wrote. */
static uint64_t write_time(struct vcpu_time_info *t)
{
    uint64_t tsc = rdtsc();
    uint64_t sys = tsc_to_ns(tsc - boot_tsc);
    t->version++;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    t->tsc_timestamp = tsc;
    t->system_time = sys;
    t->tsc_to_system_mul = tsc_mul;
    t->tsc_shift = tsc_shift;
    t->flags = XEN_PVCLOCK_TSC_STABLE_BIT;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    t->version++;
    return sys;
}

uint64_t wallclock_now_sec(void)
{
    return boot_wallclock_sec + now_ns() / 1000000000ULL;
}

void domain_init_wallclock(struct domain *d)
{
    shared_info_t *s = d->shared_info;
    s->wc_version++;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    s->wc_sec = (uint32_t)boot_wallclock_sec;
    s->xen_wc_sec_hi = (uint32_t)(boot_wallclock_sec >> 32);
    s->wc_nsec = 0;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    s->wc_version++;
}

/* set_timer_op(deadline): the singleshot timer at an absolute system time;
 * 0 stops it; a deadline in the past fires at once. */
long do_set_timer_op(unsigned long deadline, unsigned long a2, unsigned long a3,
                     unsigned long a4, unsigned long a5)
{
    (void)a2, (void)a3, (void)a4, (void)a5;
    struct vcpu *v = current_vcpu();
    vcpu_set_singleshot(v, deadline ? MAX(deadline, 1UL) : 0);
    timers_run();
    return 0;
}
