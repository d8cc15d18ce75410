/*
 * Sets of physical CPUs, sized by the build constant NR_CPUS (default
 * 256; `make NR_CPUS=n`).  Used for hard affinity, flush and IPI
 * targets, and anything else that names several pCPUs.  The plain
 * operations are for a set one CPU owns or that a lock protects; the
 * _atomic ones for a set several CPUs change at once.
 */
#ifndef KEEL_CPUMASK_H
#define KEEL_CPUMASK_H

#include "lib.h"

#ifndef NR_CPUS
#define NR_CPUS 256
#endif
#define CPUMASK_WORDS ((NR_CPUS + 63) / 64)

typedef struct cpumask { uint64_t bits[CPUMASK_WORDS]; } cpumask_t;

static inline void cpumask_clear(cpumask_t *m)
{
    for (unsigned i = 0; i < CPUMASK_WORDS; i++)
        m->bits[i] = 0;
}

/* Every CPU the type can name (0 to NR_CPUS - 1). */
static inline void cpumask_setall(cpumask_t *m)
{
    for (unsigned i = 0; i < CPUMASK_WORDS; i++)
        m->bits[i] = ~0ULL;
    if (NR_CPUS % 64)
        m->bits[CPUMASK_WORDS - 1] = (1ULL << (NR_CPUS % 64)) - 1;
}

static inline void cpumask_set_cpu(unsigned cpu, cpumask_t *m)
{
    if (cpu < NR_CPUS)
        m->bits[cpu / 64] |= 1ULL << (cpu % 64);
}

static inline void cpumask_clear_cpu(unsigned cpu, cpumask_t *m)
{
    if (cpu < NR_CPUS)
        m->bits[cpu / 64] &= ~(1ULL << (cpu % 64));
}

static inline bool cpumask_test_cpu(unsigned cpu, const cpumask_t *m)
{
    return cpu < NR_CPUS && (m->bits[cpu / 64] >> (cpu % 64) & 1);
}

static inline void cpumask_set_cpu_atomic(unsigned cpu, cpumask_t *m)
{
    if (cpu < NR_CPUS)
        __atomic_fetch_or(&m->bits[cpu / 64], 1ULL << (cpu % 64), __ATOMIC_ACQ_REL);
}

static inline void cpumask_clear_cpu_atomic(unsigned cpu, cpumask_t *m)
{
    if (cpu < NR_CPUS)
        __atomic_fetch_and(&m->bits[cpu / 64], ~(1ULL << (cpu % 64)), __ATOMIC_ACQ_REL);
}

static inline bool cpumask_empty(const cpumask_t *m)
{
    for (unsigned i = 0; i < CPUMASK_WORDS; i++)
        if (m->bits[i])
            return false;
    return true;
}

static inline void cpumask_and(cpumask_t *d, const cpumask_t *a, const cpumask_t *b)
{
    for (unsigned i = 0; i < CPUMASK_WORDS; i++)
        d->bits[i] = a->bits[i] & b->bits[i];
}

static inline bool cpumask_intersects(const cpumask_t *a, const cpumask_t *b)
{
    for (unsigned i = 0; i < CPUMASK_WORDS; i++)
        if (a->bits[i] & b->bits[i])
            return true;
    return false;
}

static inline bool cpumask_equal(const cpumask_t *a, const cpumask_t *b)
{
    for (unsigned i = 0; i < CPUMASK_WORDS; i++)
        if (a->bits[i] != b->bits[i])
            return false;
    return true;
}

/* The first CPU in m at or after n, or NR_CPUS. */
static inline unsigned cpumask_next_from(unsigned n, const cpumask_t *m)
{
    while (n < NR_CPUS) {
        uint64_t w = m->bits[n / 64] >> (n % 64);
        if (w)
            return n + (unsigned)__builtin_ctzll(w);
        n = (n / 64 + 1) * 64;
    }
    return NR_CPUS;
}

#define for_each_cpu(c, m) \
    for (unsigned c = cpumask_next_from(0, (m)); c < NR_CPUS; \
         c = cpumask_next_from(c + 1, (m)))

/* The CPUs 0 to n - 1. */
static inline void cpumask_first_n(cpumask_t *m, unsigned n)
{
    cpumask_clear(m);
    for (unsigned c = 0; c < n && c < NR_CPUS; c++)
        cpumask_set_cpu(c, m);
}

#endif
