/*
 * Spinlocks for the hypervisor: ticket locks (no CPU starves), each with
 * a name and a place in the lock order (docs/locking.md).  A CPU that
 * waits for a lock keeps answering TLB-flush requests and remote calls
 * (tlb_flush_poll), since the holder may be waiting for it.
 *
 * The debug build (KEEL_DEBUG: build/hv-debug.elf, and every test under
 * `make DEBUG=1 test`) checks on every acquisition that the lock comes
 * later in the order than every lock this CPU holds (same order: a larger
 * key, e.g. two domains' locks by id, lower first), that it is not held
 * already by this CPU, and on release that this CPU holds it; a violation
 * panics naming both locks.  It reports each new longest hold of a lock
 * past LOCK_HOLD_REPORT_US.
 */
#ifndef KEEL_SPINLOCK_H
#define KEEL_SPINLOCK_H

#include <stdint.h>
#include <stdbool.h>

/* The lock order, outermost first (docs/locking.md). */
enum lock_order {
    LOCK_ORDER_REAP = 0,         /* one reaper at a time (a try-lock) */
    LOCK_ORDER_CONTROL = 1,      /* domctl, sysctl, the boot-time builder */
    LOCK_ORDER_DOMAIN = 2,       /* a domain's lock (page tables and types of
                                    its frames, grant table, maptrack);
                                    two: lower id first */
    LOCK_ORDER_EVENT = 3,        /* a domain's event lock; two: lower id first */
    LOCK_ORDER_SCHED = 4,        /* a pCPU's run queue and its vCPUs' states; two: lower id first */
    LOCK_ORDER_SCHED_DOM = 5,    /* a domain's cap accounting */
    LOCK_ORDER_TIMER = 6,        /* the vCPU timer list */
    LOCK_ORDER_DOMLIST = 7,      /* the domain table and list, dying list, references */
    LOCK_ORDER_PCI = 8,          /* key 0: the PCI device table, owners, config space; key 1: iommu */
    LOCK_ORDER_PAGE_ALLOC = 9,   /* a domain's page list */
    LOCK_ORDER_HEAP = 10,        /* the frame allocator */
    LOCK_ORDER_CONSOLE = 11,     /* the console ring and serial port */
    LOCK_ORDER_TEST = 15,        /* selftest=locks only */
};

#define LOCK_HOLD_REPORT_US 2000

typedef struct spinlock {
    volatile uint32_t next, owner;   /* tickets */
    const char *name;
    uint8_t order;
#ifdef KEEL_DEBUG
    int16_t holder;              /* CPU id + 1, or 0 */
    uint32_t key;
    uint64_t since, longest;     /* TSC */
#endif
} spinlock_t;

#define SPINLOCK_INIT(n, o) { .name = (n), .order = (o) }

void tlb_flush_poll(void);

#ifdef KEEL_DEBUG
void lock_debug_acquire(spinlock_t *l, uint32_t key);
void lock_debug_release(spinlock_t *l);
void lock_debug_release_untaken(spinlock_t *l);
void lock_debug_acquire_try(spinlock_t *l, uint32_t key);
uint64_t lock_debug_now(void);
unsigned lock_debug_cpu(void);
extern bool lock_debug_off;
#else
static inline void lock_debug_acquire(spinlock_t *l, uint32_t key) { (void)l, (void)key; }
static inline void lock_debug_release(spinlock_t *l) { (void)l; }
static inline void lock_debug_release_untaken(spinlock_t *l) { (void)l; }
static inline void lock_debug_acquire_try(spinlock_t *l, uint32_t key) { (void)l, (void)key; }
#endif

/* key orders locks of the same order (a domain's id); 0 otherwise. */
static inline void spin_lock_key(spinlock_t *l, uint32_t key)
{
    lock_debug_acquire(l, key);
    uint32_t t = __atomic_fetch_add(&l->next, 1, __ATOMIC_ACQUIRE);
    while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != t) {
        tlb_flush_poll();
        __builtin_ia32_pause();
    }
#ifdef KEEL_DEBUG
    l->holder = (int16_t)(lock_debug_cpu() + 1);
    l->since = lock_debug_now();
#endif
}

static inline void spin_lock(spinlock_t *l)
{
    spin_lock_key(l, 0);
}

static inline void spin_unlock(spinlock_t *l)
{
    lock_debug_release(l);
    __atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}

/* Panic only: l is free, whoever held it; no more debug checks. */
static inline void spin_lock_break(spinlock_t *l)
{
#ifdef KEEL_DEBUG
    lock_debug_off = true;
    l->holder = 0;
#endif
    __atomic_store_n(&l->owner, __atomic_load_n(&l->next, __ATOMIC_ACQUIRE), __ATOMIC_RELEASE);
}

/* Takes l if it is free; never waits, so it may be taken against the
 * order (the debug build checks no order for it). */
static inline bool spin_trylock_key(spinlock_t *l, uint32_t key)
{
    uint32_t t = __atomic_load_n(&l->owner, __ATOMIC_ACQUIRE);
    uint32_t n = t;
    if (__atomic_load_n(&l->next, __ATOMIC_RELAXED) != t)
        return false;
    lock_debug_acquire_try(l, key);
    if (!__atomic_compare_exchange_n(&l->next, &n, t + 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED)) {
        lock_debug_release_untaken(l);
        return false;
    }
#ifdef KEEL_DEBUG
    l->holder = (int16_t)(lock_debug_cpu() + 1);
    l->since = lock_debug_now();
#endif
    return true;
}

static inline bool spin_trylock(spinlock_t *l)
{
    return spin_trylock_key(l, 0);
}

/* Another CPU waits for l (the caller holds it). */
static inline bool spin_is_contended(const spinlock_t *l)
{
    return __atomic_load_n(&l->next, __ATOMIC_RELAXED) - l->owner > 1;
}

#endif
