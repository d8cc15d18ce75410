/* nmi=dump on the hypervisor's command line: an NMI (QEMU's monitor
 * command `nmi`, a BMC's) makes every pCPU print what it runs and what
 * its APIC timer waits for, then one of them every domain's vCPUs:
 * scheduling state, timers and event delivery.  A tool for a machine that
 * has gone silent (all vCPUs blocked, a timer or an event lost), as Xen's
 * debug keys are.  It takes no lock (an NMI may come while any is held):
 * what it reads may be changing, and it writes to the serial port
 * directly.  Without nmi=dump an NMI is counted and ignored. */
#include "lib.h"
#include "x86.h"
#include "domain.h"
#include "event.h"
#include "time.h"
#include "boot.h"
#include "apic.h"

void console_puts_raw(const char *s, size_t n);
struct domain *domain_list_unlocked(void);
uint64_t timer_head_expiry(void);

static int nmi_mode = -1;        /* -1: not looked up; 0: ignore; 1: dump */
static unsigned dump_turn = ~0u;  /* the pCPU whose turn it is to print */
static unsigned dump_round;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    console_puts_raw(buf, n < 0 ? 0 : MIN((size_t)n, sizeof(buf) - 1));
}

/* Times relative to now, in µs (0: none). */
static long rel_us(uint64_t t, uint64_t now)
{
    return t ? (long)(t - now) / 1000 : 0;
}

static const char *state_name(enum vcpu_state s)
{
    switch (s) {
    case VCPU_RUNNABLE: return "runnable";
    case VCPU_BLOCKED: return "blocked";
    case VCPU_OFFLINE: return "offline";
    default: return "dead";
    }
}

static void dump_domains(uint64_t now)
{
    for (struct domain *d = domain_list_unlocked(); d; d = d->next) {
        out("nmi: d%u (%s) pause %u parked %d shutdown %d%s\n", d->id, d->name,
            d->pause_count, d->parked, d->shutdown, d->fifo ? " fifo" : "");
        for (unsigned i = 0; i < d->nr_vcpus; i++) {
            struct vcpu *v = d->vcpu[i];
            if (!v)
                continue;
            char ev[256] = "";
            if (d->fifo)
                evtchn_fifo_describe(d, v, ev, sizeof(ev));
            vcpu_info_t *vi = v->vcpu_info;
            out("nmi:   v%u %s%s%s cpu%u timer %ldus (oneshot %ldus, tick %ldus%s) "
                "poll %d/%d upcall pending %u mask %u sel %#lx%s\n",
                i, state_name(v->state), v->running ? " running" : "",
                v->on_rq ? " queued" : "", v->processor,
                v->on_timer_list ? rel_us(v->timer_expiry, now) : 0,
                rel_us(v->singleshot, now),
                v->periodic_period ? rel_us(v->periodic_next, now) : 0,
                v->virq_to_evtchn[VIRQ_TIMER] ? "" : " unbound",
                v->polling, v->poll_port,
                vi ? vi->evtchn_upcall_pending : 0, vi ? vi->evtchn_upcall_mask : 0,
                vi ? (unsigned long)vi->evtchn_pending_sel : 0UL, ev);
        }
    }
}

static void dump_cpu(struct pcpu *pc, uint64_t now)
{
    struct vcpu *c = pc->curr;
    char who[32], timer[48];
    if (c->domain)
        snprintf(who, sizeof(who), "d%u v%u", c->domain->id, c->id);
    else
        snprintf(who, sizeof(who), "idle");
    if (pc->timer_deadline == ~0ULL)
        snprintf(timer, sizeof(timer), "none");
    else
        snprintf(timer, sizeof(timer), "in %ldus (armed for %ldus)",
                 rel_us(pc->timer_deadline, now),
                 pc->apic_armed_for == ~0ULL ? 0L : rel_us(pc->apic_armed_for, now));
    out("nmi: cpu%u runs %s, %u queued, need_resched %d, timer %s, slice ends in %ldus, "
        "%lu timer irqs, %lu switches\n",
        pc->id, who, pc->nr_queued, pc->need_resched, timer, rel_us(pc->slice_end, now),
        (unsigned long)pc->apic_timer_irqs, (unsigned long)pc->switches);
}

/* Spins until *p == want, for at most about a second of QEMU time. */
static bool wait_for(unsigned *p, unsigned want)
{
    for (unsigned long spin = 0; spin < 100000000UL; spin++) {
        if (__atomic_load_n(p, __ATOMIC_ACQUIRE) == want)
            return true;
        __builtin_ia32_pause();
    }
    return false;
}

#define TURN_NONE ~0u

/* From the NMI vector.  The pCPU that gets the NMI first (QEMU delivers
 * an external one through LINT1, which only the boot CPU has unmasked)
 * prints itself, then sends an NMI to each other pCPU in turn and waits
 * for its line, then prints the domains. */
void nmi_dump(void)
{
    static bool dumping;
    if (nmi_mode < 0) {
        const char *v;
        size_t n;
        nmi_mode = hv_option("nmi", &v, &n) && n == 4 && !memcmp(v, "dump", 4);
    }
    if (!nmi_mode)
        return;
    struct pcpu *pc = this_cpu();
    uint64_t now = now_ns();
    if (__atomic_exchange_n(&dumping, true, __ATOMIC_ACQ_REL)) {
        /* Asked by the initiator: our line when it is our turn. */
        if (wait_for(&dump_turn, pc->id)) {
            dump_cpu(pc, now);
            __atomic_store_n(&dump_turn, TURN_NONE, __ATOMIC_RELEASE);
        }
        return;
    }
    out("nmi: state dump %u at %lu ns, first vCPU timer in %ldus\n", dump_round++,
        (unsigned long)now, rel_us(timer_head_expiry(), now));
    dump_cpu(pc, now);
    for (unsigned i = 0; i < nr_cpus; i++) {
        if (i == pc->id || !pcpus[i] || !pcpus[i]->online)
            continue;
        __atomic_store_n(&dump_turn, i, __ATOMIC_RELEASE);
        apic_send_nmi(pcpus[i]->apic_id);
        if (!wait_for(&dump_turn, TURN_NONE))
            out("nmi: cpu%u did not answer\n", i);
    }
    __atomic_store_n(&dump_turn, TURN_NONE, __ATOMIC_RELEASE);
    dump_domains(now);
    __atomic_store_n(&dumping, false, __ATOMIC_RELEASE);
}
