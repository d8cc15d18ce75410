/* Frame table and page allocator: every machine frame has one owner. */
#ifndef KEEL_MM_H
#define KEEL_MM_H

#include "lib.h"
#include "memlayout.h"

/* Owners that are not domains (domain ids are below DOMID_FIRST_RESERVED). */
#define OWNER_FREE      0xFFFF
#define OWNER_HV        0xFFFE
#define OWNER_RESERVED  0xFFFD   /* not RAM, firmware, or boot data */

#define PGF_FREE_HEAD   0x01     /* first frame of a free buddy block */

#define PFN_NONE        0xFFFFFFFFu
#define MAX_ORDER       20       /* 4 GiB blocks at most */

struct page_info {
    uint32_t next, prev;         /* free-list links (frame numbers) */
    uint16_t owner;
    uint8_t  order;              /* block order, valid on a free head */
    uint8_t  flags;
    uint32_t type_info;          /* page type and count (PV MMU, later) */
};

/* Page types (type_info): what a frame may be used as (PV MMU). */
#define PGT_NONE        0
#define PGT_L1          1
#define PGT_L2          2
#define PGT_L3          3
#define PGT_L4          4
#define PGT_TYPE_MASK   0x7
#define PGT_PINNED      0x8

extern struct page_info *frame_table;
extern uint64_t max_pfn;

/* Page allocator (mm/page_alloc.c); pure logic, unit-tested on the host. */
void page_alloc_init(struct page_info *table, uint64_t nr_frames);
void page_free_range(uint64_t pfn, uint64_t n);   /* add RAM at boot */
int64_t alloc_pages(unsigned order, uint16_t owner); /* pfn, or -1 */
int free_pages(uint64_t pfn, unsigned order);     /* 0, or -1 on misuse */
uint64_t free_page_count(void);
uint64_t page_count_owned_by(uint16_t owner);

/* Hypervisor helpers built on it (mm/mm.c): zeroed pages in the direct map. */
void *alloc_hv_pages(unsigned order);
void free_hv_pages(void *va, unsigned order);
static inline uint64_t virt_to_pfn(const void *va) { return PA(va) >> PAGE_SHIFT; }
static inline void *pfn_to_virt(uint64_t pfn) { return VA(pfn << PAGE_SHIFT); }

#endif
