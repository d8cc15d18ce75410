/* Unit test of the buddy page allocator (hv/mm/page_alloc.c) on a fake
 * frame table: owners, splitting, coalescing, misuse, exact counts, and
 * the TLB flush asked for before a frame a guest could reach is reused
 * (include/flushtlb.h: the filter and the clock's wrap). */
#include "mm.h"
#include "flushtlb.h"
#include "unit.h"
#include <string.h>

extern unsigned long host_filtered_flushes;
extern unsigned int host_last_flush_stamp;

/* A frame freed the way pv/mm.c's release_frame frees it. */
static void free_reachable(uint64_t pfn, uint32_t stamp)
{
    frame_table[pfn].tlbflush_timestamp = stamp;
    frame_table[pfn].flags |= PGF_NEED_FLUSH;
    EXPECT(free_pages(pfn, 0) == 0);
}

static void test_filter(void)
{
    /* A CPU that flushed at or before the stamp may cache the frame. */
    EXPECT(tlbflush_need(5, 5, 9));
    EXPECT(tlbflush_need(4, 5, 9));
    EXPECT(!tlbflush_need(6, 5, 9));
    /* A stamp above the clock predates the last wrap: no one need. */
    EXPECT(!tlbflush_need(2, 0xfffffff0u, 9));
    /* A CPU that flushed during the wrap (stamp 0), a frame after it. */
    EXPECT(tlbflush_need(0, 3, 9));       /* flushed during the wrap */
    /* While the clock is 0 (wrap's flush pending), everyone may. */
    EXPECT(tlbflush_need(100, 5, 0));
    EXPECT(tlbflush_need(0, 0xffffffffu, 0));
}

static void test_flush_on_reuse(uint64_t total)
{
    /* Frames that never reached a guest: no flush. */
    unsigned long before = host_filtered_flushes;
    int64_t a = alloc_pages(0, 5);
    EXPECT(a >= 0 && host_filtered_flushes == before);
    /* Freed while reachable: the next allocation of it asks for a flush
     * with its stamp, once. */
    tlbflush_clock = 40;
    free_reachable((uint64_t)a, 37);
    int64_t b = alloc_pages(0, 5);
    EXPECT(b == a);                       /* LIFO: the same frame */
    EXPECT(host_filtered_flushes == before + 1 && host_last_flush_stamp == 37);
    EXPECT(!(frame_table[b].flags & PGF_NEED_FLUSH));
    EXPECT(free_pages((uint64_t)b, 0) == 0);
    b = alloc_pages(0, 5);
    EXPECT(host_filtered_flushes == before + 1);   /* flushed already */
    EXPECT(free_pages((uint64_t)b, 0) == 0);
    /* A block: the newest stamp of its frames. */
    int64_t blk = alloc_pages(2, 5);
    EXPECT(blk >= 0);
    free_reachable((uint64_t)blk, 12);
    free_reachable((uint64_t)blk + 1, 39);
    free_reachable((uint64_t)blk + 2, 20);
    EXPECT(free_pages((uint64_t)blk + 3, 0) == 0);
    int64_t blk2 = alloc_pages(2, 5);
    EXPECT(blk2 == blk);
    EXPECT(host_filtered_flushes == before + 2 && host_last_flush_stamp == 39);
    EXPECT(free_pages((uint64_t)blk2, 2) == 0);
    /* A stamp from before the clock wrapped: the wrap's flush covered it. */
    a = alloc_pages(0, 5);
    free_reachable((uint64_t)a, 0xfffffff0u);
    tlbflush_clock = 3;
    b = alloc_pages(0, 5);
    EXPECT(b == a && host_filtered_flushes == before + 2);
    EXPECT(free_pages((uint64_t)b, 0) == 0);
    /* During a wrap (clock 0) every allocation flushes. */
    tlbflush_clock = 0;
    b = alloc_pages(0, 5);
    EXPECT(host_filtered_flushes == before + 3);
    EXPECT(free_pages((uint64_t)b, 0) == 0);
    tlbflush_clock = 1;
    EXPECT(free_page_count() == total);
}

#define FRAMES 4096
static struct page_info table[FRAMES];

static unsigned long long rng = 88172645463325252ULL;
static unsigned long long next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(void)
{
    page_alloc_init(table, FRAMES);
    EXPECT(free_page_count() == 0);
    EXPECT(alloc_pages(0, 1) == -1);

    /* Two RAM ranges with a hole, odd boundaries. */
    page_free_range(3, 1000);
    page_free_range(1500, FRAMES - 1500);
    uint64_t total = 1000 + FRAMES - 1500;
    EXPECT(free_page_count() == total);
    EXPECT(table[2].owner == OWNER_RESERVED);
    EXPECT(table[1003].owner == OWNER_RESERVED);
    EXPECT(page_count_owned_by(OWNER_FREE) == total);

    /* Aligned blocks of each order. */
    int64_t big = alloc_pages(9, 7);
    EXPECT(big >= 0 && (big & 511) == 0);
    EXPECT(page_count_owned_by(7) == 512);
    EXPECT(free_page_count() == total - 512);
    EXPECT(free_pages((uint64_t)big + 1, 0) == 0);   /* single frame of a block */
    EXPECT(free_pages((uint64_t)big + 1, 0) == -1);  /* double free */
    EXPECT(free_pages(2, 0) == -1);                  /* never RAM */
    EXPECT(free_pages((uint64_t)big, 3) == -1);      /* contains a free frame */
    EXPECT(free_pages((uint64_t)big + 3, 1) == -1);  /* misaligned */
    EXPECT(free_pages(FRAMES, 0) == -1);             /* out of range */
    EXPECT(alloc_pages(MAX_ORDER + 1, 7) == -1);
    EXPECT(alloc_pages(0, OWNER_FREE) == -1);
    /* Give back the rest of the block frame by frame. */
    for (int i = 0; i < 512; i++)
        if (i != 1)
            EXPECT(free_pages((uint64_t)big + i, 0) == 0);
    EXPECT(free_page_count() == total);

    /* Random alloc/free; at the end everything is free and coalesced. */
    static int64_t held[2000];
    static unsigned order[2000];
    int n = 0;
    for (int step = 0; step < 20000; step++) {
        if (n < 2000 && (next_rand() & 1)) {
            unsigned o = next_rand() % 4;
            int64_t p = alloc_pages(o, 9);
            if (p >= 0) {
                EXPECT((p & ((1 << o) - 1)) == 0);
                for (unsigned i = 0; i < (1u << o); i++)
                    EXPECT(table[p + i].owner == 9);
                held[n] = p;
                order[n++] = o;
            }
        } else if (n) {
            int i = (int)(next_rand() % (unsigned)n);
            EXPECT(free_pages((uint64_t)held[i], order[i]) == 0);
            held[i] = held[--n];
            order[i] = order[n];
        }
        uint64_t owned = 0;
        for (int i = 0; i < n; i++)
            owned += 1ull << order[i];
        if (step % 1000 == 0)
            EXPECT(free_page_count() + owned == total);
    }
    while (n--)
        EXPECT(free_pages((uint64_t)held[n], order[n]) == 0);
    EXPECT(free_page_count() == total);
    EXPECT(page_count_owned_by(OWNER_FREE) == total);
    /* Coalesced again: a 1024-frame block exists in [2048, 3072). */
    int64_t b = alloc_pages(10, 3);
    EXPECT(b >= 0);
    EXPECT(free_pages((uint64_t)b, 10) == 0);
    test_filter();
    test_flush_on_reuse(total);
    UNIT_DONE();
}
