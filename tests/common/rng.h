/* The seeded generator the fuzzers share: each operation i starts from
 * rng_seed_for(key, i), so any one of them replays from (seed, i). */
#ifndef KEEL_TEST_RNG_H
#define KEEL_TEST_RNG_H

#include <stdint.h>

/* splitmix64's finaliser: spreads a key over all 64 bits. */
static inline uint64_t rng_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* The state for operation i under key (the seed, mixed with whatever
 * else tells runs apart); never 0, which xorshift cannot leave. */
static inline uint64_t rng_seed_for(uint64_t key, uint64_t i)
{
    uint64_t s = rng_mix64(key ^ ((i + 1) * 0x9e3779b97f4a7c15ULL));
    return s ? s : 1;
}

/* xorshift64. */
static inline uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#endif
