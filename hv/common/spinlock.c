/*
 * The debug build's lock checks (spinlock.h, docs/locking.md): each CPU
 * keeps the locks it holds, in the order taken; an acquisition out of
 * order, a recursive one or a release of a lock this CPU does not hold
 * panics, naming the locks; each new longest hold past
 * LOCK_HOLD_REPORT_US is reported.
 */
#include "lib.h"
#include "x86.h"
#include "time.h"
#include "domain.h"
#include "spinlock.h"

#ifdef KEEL_DEBUG

bool lock_debug_off;             /* after a panic began */

uint64_t lock_debug_now(void)
{
    return rdtsc();
}

unsigned lock_debug_cpu(void)
{
    return this_cpu()->id;
}

static void acquire(spinlock_t *l, uint32_t key, bool ordered)
{
    if (lock_debug_off)
        return;
    struct pcpu *pc = this_cpu();
    if (l->holder == (int16_t)(pc->id + 1))
        panic("lock: CPU%u takes %s, which it holds already", pc->id, l->name);
    if (ordered && pc->nr_held) {
        const spinlock_t *top = pc->held[pc->nr_held - 1];
        if (l->order < top->order || (l->order == top->order && key <= top->key))
            panic("lock order: CPU%u takes %s (order %u, key %u) while holding %s "
                  "(order %u, key %u)", pc->id, l->name, l->order, key, top->name,
                  top->order, top->key);
    }
    if (pc->nr_held == ARRAY_SIZE(pc->held))
        panic("lock: CPU%u holds %u locks already, taking %s", pc->id, pc->nr_held, l->name);
    pc->held[pc->nr_held++] = l;
    /* Set before the lock is ours: only this CPU reads them for l while
     * it holds it, and only after taking it. */
    __atomic_store_n(&l->key, key, __ATOMIC_RELAXED);
}

void lock_debug_acquire(spinlock_t *l, uint32_t key)
{
    acquire(l, key, true);
}

/* A try-lock cannot deadlock: no order to check, only recursion. */
void lock_debug_acquire_try(spinlock_t *l, uint32_t key)
{
    acquire(l, key, false);
}

/* A trylock that lost the race: forget it without a hold report. */
void lock_debug_release_untaken(spinlock_t *l)
{
    if (lock_debug_off)
        return;
    struct pcpu *pc = this_cpu();
    if (pc->nr_held && pc->held[pc->nr_held - 1] == l)
        pc->nr_held--;
}

void lock_debug_release(spinlock_t *l)
{
    if (lock_debug_off)
        return;
    struct pcpu *pc = this_cpu();
    unsigned i = pc->nr_held;
    while (i && pc->held[i - 1] != l)
        i--;
    if (!i)
        panic("lock: CPU%u releases %s, which it does not hold", pc->id, l->name);
    for (; i < pc->nr_held; i++)
        pc->held[i - 1] = pc->held[i];
    pc->nr_held--;
    l->holder = 0;
    uint64_t held = rdtsc() - l->since;
    if (tsc_khz && held > l->longest) {
        l->longest = held;
        uint64_t us = held * 1000 / tsc_khz;
        /* Not for the console lock: the report would take it again. */
        if (us > LOCK_HOLD_REPORT_US && l->order != LOCK_ORDER_CONSOLE)
            printk("lock: %s held for %lu us by CPU%u (its longest so far)\n", l->name,
                   (unsigned long)us, pc->id);
    }
}

#endif
