/*
 * TLB flushes and the TLB-flush clock (include/flushtlb.h).  Every full
 * flush on a CPU goes through here: it ticks the clock and stamps the
 * CPU, and it drops global translations too (CR4.PGE toggled), so that a
 * stamp means "nothing cached from before".
 */
#include "lib.h"
#include "x86.h"
#include "domain.h"
#include "apic.h"
#include "flushtlb.h"

volatile uint32_t tlbflush_clock = 1;
static volatile int wrap_owner;

/* Ticks the clock for a flush about to happen; the value to stamp the CPU
 * with.  While the clock is 0 (wrapped, the global flush pending) it stays
 * 0 and so does the stamp. */
static uint32_t pre_flush(void)
{
    uint32_t t = tlbflush_current_time(), t2;
    do {
        if (t == 0)
            return 0;
        t2 = t + 1;
    } while (!__atomic_compare_exchange_n(&tlbflush_clock, &t, t2, false,
                                          __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    return t2;                   /* 0 if this tick wrapped it */
}

static void post_flush(uint32_t t)
{
    __atomic_store_n(&this_cpu()->tlbflush_time, t, __ATOMIC_RELEASE);
}

/* Loads cr3 and drops every translation, global ones included. */
static void flush_with_cr3(uint64_t cr3)
{
    unsigned long f = irq_save();
    uint32_t t = pre_flush();
    uint64_t cr4 = read_cr4();
    if (cr4 & X86_CR4_PGE) {
        write_cr4(cr4 & ~X86_CR4_PGE);
#ifdef KEEL_DEBUG
        if (read_cr4() & X86_CR4_PGE)
            panic("tlb: CR4.PGE still set during a global flush");
#endif
        write_cr3(cr3);
        write_cr4(cr4);
    } else {
        write_cr3(cr3);          /* no global entries exist */
    }
    this_cpu()->global_flushes++;
    post_flush(t);
    irq_restore(f);
}

void flush_tlb_local(void)
{
    flush_with_cr3(read_cr3());
}

void switch_cr3(uint64_t cr3)
{
    flush_with_cr3(cr3);
}

/* Flushes the CPUs in mask and waits until each has: a remote CPU takes
 * the request in its flush IPI, or while it waits for any lock
 * (tlb_flush_poll), so the caller may hold locks. */
void flush_tlb_mask(const cpumask_t *mask)
{
    struct pcpu *self = this_cpu();
    uint32_t *seen = self->flush_seen;
    cpumask_t sent;
    cpumask_clear(&sent);
    for_each_cpu(i, mask) {
        struct pcpu *o = i < nr_cpus ? pcpus[i] : NULL;
        if (!o || o == self || !o->online)
            continue;
        seen[i] = (uint32_t)__atomic_load_n(&o->tlb_flushes, __ATOMIC_ACQUIRE);
        __atomic_store_n(&o->tlb_flush_req, 1, __ATOMIC_RELEASE);
        send_ipi(i, VEC_TLB_FLUSH);
        cpumask_set_cpu(i, &sent);
    }
    if (cpumask_test_cpu(self->id, mask))
        flush_tlb_local();
    for_each_cpu(i, &sent)
        while ((uint32_t)__atomic_load_n(&pcpus[i]->tlb_flushes, __ATOMIC_ACQUIRE) == seen[i])
            tlb_flush_poll();    /* and answer anyone flushing us */
}

/* Flushes the TLB of every other pCPU that runs a vCPU of d (whose page
 * tables it may have cached), and waits until each has done so.  A CPU
 * that ran d before does not count: its switch away was a full flush. */
void flush_tlb_domain(struct domain *d)
{
    struct pcpu *self = this_cpu();
    cpumask_t mask;
    cpumask_clear(&mask);
    for (unsigned i = 0; i < nr_cpus; i++) {
        struct pcpu *o = pcpus[i];
        if (o && o != self && o->online && o->curr->domain == d)
            cpumask_set_cpu(i, &mask);
    }
    if (!cpumask_empty(&mask))
        flush_tlb_mask(&mask);
}

/*
 * A pCPU on its idle vCPU holds no guest translation: switching to the
 * idle page tables was a full flush, and they map only the hypervisor.
 * It is skipped, so that halted pCPUs are not woken for nothing; one that
 * leaves idle meanwhile flushes on its way to a guest (switch_cr3), and
 * the frame is no longer mapped by then.
 */
void flush_tlb_filtered(uint32_t stamp)
{
    uint32_t now = tlbflush_current_time();
    cpumask_t mask;
    cpumask_clear(&mask);
    for (unsigned i = 0; i < nr_cpus; i++) {
        struct pcpu *o = pcpus[i];
        if (!o || !(o->online || o == this_cpu()))
            continue;
        const struct vcpu *c = __atomic_load_n(&o->curr, __ATOMIC_ACQUIRE);
        if (c == o->idle && now)
            continue;
        if (tlbflush_need(__atomic_load_n(&o->tlbflush_time, __ATOMIC_ACQUIRE), stamp, now))
            cpumask_set_cpu(i, &mask);
    }
    if (!cpumask_empty(&mask))
        flush_tlb_mask(&mask);
    if (!now)
        tlbflush_new_period();
}

/* The clock wrapped to 0: flush every CPU, then start again at 1.  Until
 * then every filter says "flush", which is safe. */
void tlbflush_new_period(void)
{
    if (tlbflush_current_time() != 0)
        return;
    int zero = 0;
    if (!__atomic_compare_exchange_n(&wrap_owner, &zero, 1, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE))
        return;                  /* another CPU leads it */
    cpumask_t all;
    cpumask_clear(&all);
    for (unsigned i = 0; i < nr_cpus; i++)
        if (pcpus[i] && (pcpus[i]->online || pcpus[i] == this_cpu()))
            cpumask_set_cpu(i, &all);
    flush_tlb_mask(&all);
    __atomic_store_n(&tlbflush_clock, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&wrap_owner, 0, __ATOMIC_RELEASE);
    printk("tlb: flush clock wrapped; every CPU flushed, a new period begins\n");
}
