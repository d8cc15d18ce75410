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
#define PGF_NEED_FLUSH  0x02     /* free, and CPUs may cache translations
                                    to it older than tlbflush_timestamp */
#define PGF_HV_SHARED   0x04     /* a hypervisor frame shared with its owner
                                    (shared_info, grant-table frames): a
                                    permanent writable type, never the
                                    guest's to free (docs/memory.md) */

#define PFN_NONE        0xFFFFFFFFu
#define MAX_ORDER       20       /* 4 GiB blocks at most */

struct page_info {
    uint32_t next, prev;         /* free-list / owner's list links */
    uint16_t owner;
    uint8_t  order;              /* block order, valid on a free head */
    uint8_t  flags;
    uint32_t type_info;          /* type | PGT_PINNED | type count << 8 */
    uint32_t count;              /* general references (1 = allocated) */
    uint32_t tlbflush_timestamp; /* flush clock when it was last reachable
                                    by a guest (include/flushtlb.h) */
};

/*
 * Page types (pv/mm.c), as in Xen: a frame is used as one type at a time.
 * A page-table type (L1..L4) is validated when its type count goes from
 * 0 to 1 (every entry checked, references taken) and devalidated when it
 * returns to 0; a frame mapped writable holds PGT_WRITABLE.  So a page
 * table is never writable by its guest, and a writable page never a table.
 */
#define PGT_NONE        0
#define PGT_L1          1
#define PGT_L2          2
#define PGT_L3          3
#define PGT_L4          4
#define PGT_WRITABLE    5
#define PGT_SEG_DESC    6        /* a GDT frame (hv/pv/descriptor.c) */
#define PGT_TYPE_MASK   0x7
#define PGT_PINNED      0x8
#define PGT_COUNT_SHIFT 8
#define PGT_COUNT(ti)   ((ti) >> PGT_COUNT_SHIFT)
#define OWNER_ORPHAN    0xFFFC   /* of a destroyed domain, still referenced */
#define OWNER_SHARED    0xFFFB   /* read-only image pages shared by domains */

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
/* Frame references (pv/mm.c). */
struct domain;
bool get_page(uint64_t mfn, const struct domain *d);
void put_page(uint64_t mfn);
long get_page_type(uint64_t mfn, unsigned type, struct domain *d);
void put_page_type(uint64_t mfn);
bool get_page_and_type_any(uint64_t mfn, bool writable, struct domain *d);
void put_page_and_type(uint64_t mfn, bool writable);
extern uint64_t *m2p;            /* machine-to-phys, read-only to guests */

static inline uint64_t virt_to_pfn(const void *va) { return PA(va) >> PAGE_SHIFT; }
static inline void *pfn_to_virt(uint64_t pfn) { return VA(pfn << PAGE_SHIFT); }

#endif
