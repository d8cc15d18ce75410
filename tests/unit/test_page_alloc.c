/* Unit test of the buddy page allocator (hv/mm/page_alloc.c) on a fake
 * frame table: owners, splitting, coalescing, misuse, exact counts. */
#include "mm.h"
#include "unit.h"
#include <string.h>

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
    UNIT_DONE();
}
