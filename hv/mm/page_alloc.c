/* Buddy page allocator over the frame table; owners tracked per frame. */
#include "mm.h"
#include "spinlock.h"
#include "flushtlb.h"

struct page_info *frame_table;
uint64_t max_pfn;

static uint32_t free_head[MAX_ORDER + 1];
static uint64_t nr_free;
static spinlock_t heap_lock = SPINLOCK_INIT("heap", LOCK_ORDER_HEAP);

static void list_add(unsigned order, uint32_t pfn)
{
    struct page_info *pg = &frame_table[pfn];
    pg->prev = PFN_NONE;
    pg->next = free_head[order];
    if (free_head[order] != PFN_NONE)
        frame_table[free_head[order]].prev = pfn;
    free_head[order] = pfn;
    pg->order = (uint8_t)order;
    pg->flags |= PGF_FREE_HEAD;
}

static void list_del(unsigned order, uint32_t pfn)
{
    struct page_info *pg = &frame_table[pfn];
    if (pg->prev != PFN_NONE)
        frame_table[pg->prev].next = pg->next;
    else
        free_head[order] = pg->next;
    if (pg->next != PFN_NONE)
        frame_table[pg->next].prev = pg->prev;
    pg->flags &= (uint8_t)~PGF_FREE_HEAD;
    pg->next = pg->prev = PFN_NONE;
}

void page_alloc_init(struct page_info *table, uint64_t nr_frames)
{
    frame_table = table;
    max_pfn = nr_frames;
    for (uint64_t i = 0; i < nr_frames; i++) {
        table[i] = (struct page_info){ .next = PFN_NONE, .prev = PFN_NONE,
                                       .owner = OWNER_RESERVED };
    }
    for (unsigned o = 0; o <= MAX_ORDER; o++)
        free_head[o] = PFN_NONE;
    nr_free = 0;
}

/* Inserts a block whose frames are already marked free, merging buddies. */
static void insert_block(uint64_t pfn, unsigned order)
{
    while (order < MAX_ORDER) {
        uint64_t buddy = pfn ^ (1ULL << order);
        if (buddy + (1ULL << order) > max_pfn)
            break;
        struct page_info *b = &frame_table[buddy];
        if (!(b->flags & PGF_FREE_HEAD) || b->order != order)
            break;
        list_del(order, (uint32_t)buddy);
        pfn &= ~(1ULL << order);
        order++;
    }
    list_add(order, (uint32_t)pfn);
}

void page_free_range(uint64_t pfn, uint64_t n)
{
    spin_lock(&heap_lock);
    uint64_t end = MIN(pfn + n, max_pfn);
    while (pfn < end) {
        unsigned order = 0;
        while (order < MAX_ORDER && !(pfn & (1ULL << order)) &&
               pfn + (2ULL << order) <= end)
            order++;
        for (uint64_t i = 0; i < (1ULL << order); i++)
            frame_table[pfn + i].owner = OWNER_FREE;
        insert_block(pfn, order);
        nr_free += 1ULL << order;
        pfn += 1ULL << order;
    }
    spin_unlock(&heap_lock);
}

int64_t alloc_pages(unsigned order, uint16_t owner)
{
    if (order > MAX_ORDER || owner == OWNER_FREE)
        return -1;
    spin_lock(&heap_lock);
    unsigned o = order;
    while (o <= MAX_ORDER && free_head[o] == PFN_NONE)
        o++;
    if (o > MAX_ORDER) {
        spin_unlock(&heap_lock);
        return -1;
    }
    uint32_t pfn = free_head[o];
    list_del(o, pfn);
    while (o > order) {          /* split: give back the upper halves */
        o--;
        list_add(o, pfn + (1u << o));
    }
    /* Frames a guest could reach before they were freed: the newest stamp
     * among them says which CPUs must flush before anyone reuses them. */
    bool need_flush = false;
    uint32_t stamp = 0, now = tlbflush_current_time();
    for (uint64_t i = 0; i < (1ULL << order); i++) {
        struct page_info *p = &frame_table[pfn + i];
        p->owner = owner;
        if (p->flags & PGF_NEED_FLUSH) {
            p->flags &= (uint8_t)~PGF_NEED_FLUSH;
            /* A stamp above the clock predates its last wrap, whose
             * global flush covers it. */
            if (p->tlbflush_timestamp <= now &&
                (!need_flush || p->tlbflush_timestamp > stamp)) {
                stamp = p->tlbflush_timestamp;
                need_flush = true;
            }
        }
    }
    nr_free -= 1ULL << order;
    spin_unlock(&heap_lock);
    if (need_flush || !now)
        flush_tlb_filtered(stamp);
    return pfn;
}

int free_pages(uint64_t pfn, unsigned order)
{
    if (order > MAX_ORDER || (pfn & ((1ULL << order) - 1)) ||
        pfn + (1ULL << order) > max_pfn)
        return -1;
    spin_lock(&heap_lock);
    for (uint64_t i = 0; i < (1ULL << order); i++) {
        uint16_t ow = frame_table[pfn + i].owner;
        if (ow == OWNER_FREE || ow == OWNER_RESERVED) {
            spin_unlock(&heap_lock);
            return -1;           /* double free or not heap memory */
        }
    }
    for (uint64_t i = 0; i < (1ULL << order); i++) {
        frame_table[pfn + i].owner = OWNER_FREE;
        frame_table[pfn + i].type_info = 0;
        frame_table[pfn + i].count = 0;
    }
    insert_block(pfn, order);
    nr_free += 1ULL << order;
    spin_unlock(&heap_lock);
    return 0;
}

uint64_t free_page_count(void)
{
    return nr_free;
}

uint64_t page_count_owned_by(uint16_t owner)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < max_pfn; i++)
        n += frame_table[i].owner == owner;
    return n;
}
