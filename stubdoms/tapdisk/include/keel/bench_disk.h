/* bench_disk.h: the access pattern of make bench-disk, shared by the guest (bench/disk/guest.c) and tapdisk's selftest=bench-read, so both read the same 4 KiB blocks in the same order. */
#ifndef KEEL_BENCH_DISK_PATTERN_H
#define KEEL_BENCH_DISK_PATTERN_H
#include <stdint.h>

#define BENCH_DISK_BLOCK 4096u
/* Operations per pattern and per queue-depth run. */
#define BENCH_DISK_OPS   512u
/* Rounds of each figure; the fastest is reported. */
#define BENCH_DISK_ROUNDS 5u

/* The i-th block of the random pattern over nblocks blocks: a 64-bit
 * mix of i (splitmix64's finaliser), so any thread can compute its own
 * share of the sequence without shared state. */
static inline uint64_t bench_disk_rand_block(uint64_t i, uint64_t nblocks)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ull + 0x6b65656c;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z % nblocks;
}

#endif
