/* mm.c: minios's memory: maps the whole reservation at start, a page allocator, the malloc heap, and empty areas for foreign mappings. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/mm.h>
#include <minios/sched.h>
#include "kernel.h"

/*
 * The Xen PV start-of-day layout (<xen/xen.h>, "Start-of-day memory
 * layout") maps, from VIRT_BASE (0 for minios, so virtual address =
 * pseudo-physical address):
 *
 *   kernel image | [module] | p2m list | start_info | page tables | stack
 *   ^ 0                                      pt_base ^   nr_pt_frames ^ 1 page
 *
 * and at least 512 KiB more, to a 4 MiB boundary. minios maps every other
 * page of its reservation the same way (virtual = pseudo-physical) with
 * mmu_update, taking the page-table pages it needs from the free pages
 * right after the bootstrap stack, as it goes: each new L1 maps 2 MiB,
 * so the next table always comes from memory that is already mapped.
 *
 * The free pages then belong to two users that grow towards each other:
 * the malloc heap (sbrk) from the low end and the page allocator from the
 * high end, with one bitmap saying which pages are taken.
 *
 * The PVH build (MINIOS_PVH) has the same layout with guest frames for
 * machine frames: frame = pfn, no p2m list, no M2P, and page tables of
 * its own that it writes directly. _start (entry-pvh.S) runs on 2 MiB
 * tables that map the first 4 GiB; map_reservation makes 4 KiB tables
 * for what the memory map names below 4 GiB (pvh.c), in the pages after
 * the image and its module, and loads them.
 */
#define PAGE_SIZE        4096ul
#define PAGE_SHIFT       12
#define PTE_PRESENT      0x001ul
#define PTE_RW           0x002ul
#define PTE_USER         0x004ul
#define PTE_ACCESSED     0x020ul
#define PTE_DIRTY        0x040ul
#define PTE_ADDR         0x000ffffffffff000ul
#define PTE_TABLE        (PTE_PRESENT | PTE_RW | PTE_USER | PTE_ACCESSED)
#define PTE_PAGE         (PTE_TABLE | PTE_DIRTY)
#define PTE_PAGE_RO      (PTE_PRESENT | PTE_USER | PTE_ACCESSED)

/* Foreign mappings (grants, other domains' pages) live in empty areas
 * from here: far above any reservation, below the hypervisor's half. */
#define AREA_BASE        0x0000100000000000ul
#define AREA_CHUNK       (512ul * PAGE_SIZE)     /* one L1 table's worth */
#define AREA_MAX_CHUNKS  (1ul << 16)

static const xen_pfn_t *p2m;
static unsigned long nr_pages;
static unsigned long pt_next;            /* next pfn for a page table */
static unsigned long l4_mfn;

static unsigned long heap_start, heap_brk;   /* [heap_start, heap_brk) */
static unsigned long page_low;           /* lowest pfn the allocator has used */
static uint64_t *used;                   /* bit per pfn: not free */
static unsigned long pages_free;
static unsigned long area_chunks;

#ifndef MINIOS_PVH
static struct mmu_update batch[32];
static unsigned nbatch;
#endif

#ifdef MINIOS_PVH
static inline unsigned long frame_to_pfn(unsigned long frame)
{
    return frame;
}

static inline unsigned long pfn_to_frame(unsigned long pfn)
{
    return pfn;
}
#else
static inline unsigned long frame_to_pfn(unsigned long mfn)
{
    return machine_to_phys_mapping[mfn];
}

static inline unsigned long pfn_to_frame(unsigned long pfn)
{
    return p2m[pfn];
}
#endif

static inline uint64_t *table_va(uint64_t entry)
{
    return (uint64_t *)(frame_to_pfn((entry & PTE_ADDR) >> PAGE_SHIFT) << PAGE_SHIFT);
}

static void fatal(const char *what, long rc)
{
    minios_printk("minios: mm: %s failed: %ld\n", what, rc);
    minios_shutdown(SHUTDOWN_crash);
}

#ifdef MINIOS_PVH
/* The tables are ours: an entry is written in place (its machine address
 * is its guest-physical one, mapped one to one). */
static void flush_batch(void)
{
}

static void queue_update(uint64_t ptr, uint64_t val)
{
    __atomic_store_n((uint64_t *)(uintptr_t)ptr, val, __ATOMIC_RELEASE);
}

static uint64_t new_table_frame(unsigned long pfn)
{
    memset((void *)(pfn << PAGE_SHIFT), 0, PAGE_SIZE);
    return pfn;
}
#else
static void flush_batch(void)
{
    unsigned done = 0;

    if (!nbatch)
        return;
    long rc = HYPERVISOR_mmu_update(batch, nbatch, &done, DOMID_SELF);
    if (rc < 0 || done != nbatch)
        fatal("mmu_update", rc);
    nbatch = 0;
}

static void queue_update(uint64_t ptr, uint64_t val)
{
    batch[nbatch].ptr = ptr | MMU_NORMAL_PT_UPDATE;
    batch[nbatch].val = val;
    if (++nbatch == sizeof(batch) / sizeof(batch[0]))
        flush_batch();
}

/* A zeroed page-table page, mapped read-only (so that the hypervisor
 * accepts it as a table), from pfn. */
static uint64_t new_table_frame(unsigned long pfn)
{
    unsigned long va = pfn << PAGE_SHIFT;

    flush_batch();
    memset((void *)va, 0, PAGE_SIZE);
    long rc = HYPERVISOR_update_va_mapping(va, ((uint64_t)p2m[pfn] << PAGE_SHIFT) | PTE_PAGE_RO,
                                           UVMF_INVLPG);
    if (rc < 0)
        fatal("update_va_mapping of a new page table", rc);
    return p2m[pfn];
}
#endif

/*
 * The L1 table that maps va, made (from the page get_pfn() gives) if
 * absent; its machine address, or 0 if get_pfn() had none.
 */
static uint64_t l1_for(unsigned long va, unsigned long (*get_pfn)(void))
{
    uint64_t table_maddr = (uint64_t)l4_mfn << PAGE_SHIFT;
    uint64_t *table = (uint64_t *)(frame_to_pfn(l4_mfn) << PAGE_SHIFT);

    for (int shift = 39; shift > 12; shift -= 9) {
        unsigned idx = (va >> shift) & 511;
        uint64_t e = table[idx];
        if (!(e & PTE_PRESENT)) {
            unsigned long pfn = get_pfn();
            if (!pfn)
                return 0;
            uint64_t mfn = new_table_frame(pfn);
            queue_update(table_maddr + idx * 8, (mfn << PAGE_SHIFT) | PTE_TABLE);
            flush_batch();
            e = table[idx];
        }
        table_maddr = e & PTE_ADDR;
        table = table_va(e);
    }
    return table_maddr;
}

static unsigned long boot_pt_pfn(void)
{
    if (pt_next >= nr_pages)
        fatal("no room for the page tables", -XEN_ENOMEM);
    return pt_next++;
}

#ifdef MINIOS_PVH
static void map_reservation(const start_info_t *si)
{
    (void)si;
    pt_next = minios_pvh_free_pfn;
    l4_mfn = boot_pt_pfn();
    new_table_frame(l4_mfn);
    for (unsigned r = 0; r < minios_pvh_nr_ranges; r++) {
        unsigned long pfn = minios_pvh_ranges[r].start_pfn, end = minios_pvh_ranges[r].end_pfn;
        while (pfn < end) {
            uint64_t *ents = (uint64_t *)(uintptr_t)l1_for(pfn << PAGE_SHIFT, boot_pt_pfn);
            for (unsigned i = pfn % 512; i < 512 && pfn < end; i++, pfn++)
                ents[i] = ((uint64_t)pfn << PAGE_SHIFT) | PTE_PAGE;
        }
    }
    __asm__ __volatile__("mov %0, %%cr3" : : "r"((uint64_t)l4_mfn << PAGE_SHIFT) : "memory");
}
#else
static void map_reservation(const start_info_t *si)
{
    l4_mfn = p2m[si->pt_base >> PAGE_SHIFT];
    pt_next = (si->pt_base >> PAGE_SHIFT) + si->nr_pt_frames + 1;
    for (unsigned long pfn = 0; pfn < nr_pages; pfn += 512) {
        unsigned long va = pfn << PAGE_SHIFT;
        uint64_t l1 = l1_for(va, boot_pt_pfn);
        const uint64_t *ents = (const uint64_t *)(frame_to_pfn(l1 >> PAGE_SHIFT) << PAGE_SHIFT);
        unsigned long n = nr_pages - pfn < 512 ? nr_pages - pfn : 512;
        for (unsigned i = 0; i < n; i++)
            if (!(ents[i] & PTE_PRESENT))
                queue_update(l1 + i * 8, ((uint64_t)p2m[pfn + i] << PAGE_SHIFT) | PTE_PAGE);
    }
    flush_batch();
}
#endif

static inline int is_used(unsigned long pfn)
{
    return (used[pfn / 64] >> (pfn % 64)) & 1;
}

static inline void set_used(unsigned long pfn, int on)
{
    if (on)
        used[pfn / 64] |= 1ull << (pfn % 64);
    else
        used[pfn / 64] &= ~(1ull << (pfn % 64));
}

void minios_mm_init(const start_info_t *si)
{
    p2m = (const xen_pfn_t *)si->mfn_list;
    nr_pages = si->nr_pages;
    map_reservation(si);

    /* The bitmap (in .bss for up to 16 MiB, else in the first free
     * pages), then the heap. A domain may have no free page at all: then
     * malloc fails and newlib's stdio runs unbuffered. */
    static uint64_t small_bitmap[64];
    unsigned long words = (nr_pages + 63) / 64;
    unsigned long start = pt_next << PAGE_SHIFT;
    if (words <= sizeof(small_bitmap) / 8) {
        used = small_bitmap;
    } else {
        if (start + words * 8 > nr_pages * PAGE_SIZE)
            fatal("no room for the page bitmap", -XEN_ENOMEM);
        used = (uint64_t *)start;
        start = (start + words * 8 + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    }
    memset(used, 0, words * 8);
    /* A boot module placed by pfn (SIF_MOD_START_PFN, after the mapped
     * region: the MOD_START_PFN note) is kept: the heap starts after it. */
    if ((si->flags & SIF_MOD_START_PFN) && si->mod_len) {
        unsigned long mod_end = (si->mod_start << PAGE_SHIFT) + si->mod_len;
        mod_end = (mod_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        if (mod_end > start)
            start = mod_end;
    }
    if (start > nr_pages * PAGE_SIZE)
        start = nr_pages * PAGE_SIZE;
    for (unsigned long pfn = 0; pfn < start >> PAGE_SHIFT; pfn++)
        set_used(pfn, 1);
    heap_start = heap_brk = start;
    page_low = nr_pages;
    pages_free = nr_pages - (start >> PAGE_SHIFT);
}

unsigned long minios_heap_start(void)
{
    return heap_start;
}

unsigned long minios_heap_end(void)
{
    return heap_brk;
}

unsigned long minios_pages_total(void)
{
    return nr_pages;
}

unsigned long minios_pages_free(void)
{
    return pages_free;
}

/* The break moves over free pages only, a page at a time. */
void *minios_sbrk(ptrdiff_t incr)
{
    unsigned long old = heap_brk, want = heap_brk + incr;
    unsigned long have = (heap_brk + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);

    if (incr < 0) {
        if ((unsigned long)-incr > heap_brk - heap_start) {
            errno = EINVAL;
            return (void *)-1;
        }
        unsigned long keep = (want + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
        for (unsigned long p = keep; p < have; p += PAGE_SIZE) {
            set_used(p >> PAGE_SHIFT, 0);
            pages_free++;
        }
        heap_brk = want;
        return (void *)old;
    }
    if (want < heap_brk || want > nr_pages * PAGE_SIZE) {
        errno = ENOMEM;
        return (void *)-1;
    }
    for (unsigned long p = have; p < want; p += PAGE_SIZE)
        if (is_used(p >> PAGE_SHIFT)) {
            errno = ENOMEM;
            return (void *)-1;
        }
    for (unsigned long p = have; p < want; p += PAGE_SIZE) {
        set_used(p >> PAGE_SHIFT, 1);
        pages_free--;
    }
    heap_brk = want;
    return (void *)old;
}

/* n contiguous free pages, highest first; not zeroed. */
void *minios_alloc_pages(unsigned long n)
{
    unsigned long f = minios_events_save();
    unsigned long run = 0;

    if (n == 0 || n > pages_free)
        goto fail;
    for (unsigned long pfn = nr_pages; pfn-- > heap_start >> PAGE_SHIFT;) {
        if (is_used(pfn)) {
            run = 0;
            continue;
        }
        if (++run == n) {
            for (unsigned long i = 0; i < n; i++)
                set_used(pfn + i, 1);
            pages_free -= n;
            if (pfn < page_low)
                page_low = pfn;
            minios_events_restore(f);
            return (void *)(pfn << PAGE_SHIFT);
        }
    }
fail:
    minios_events_restore(f);
    return NULL;
}

void minios_free_pages(void *va, unsigned long n)
{
    unsigned long pfn = (unsigned long)va >> PAGE_SHIFT;
    unsigned long f = minios_events_save();

    if ((unsigned long)va % PAGE_SIZE || pfn < heap_start >> PAGE_SHIFT ||
        pfn + n > nr_pages) {
        minios_printk("minios: free_pages(%p, %lu): not allocator pages\n", va, n);
        minios_shutdown(SHUTDOWN_crash);
    }
    for (unsigned long i = 0; i < n; i++) {
        if (!is_used(pfn + i)) {
            minios_printk("minios: free_pages(%p, %lu): page %lu is free\n", va, n, i);
            minios_shutdown(SHUTDOWN_crash);
        }
        set_used(pfn + i, 0);
    }
    pages_free += n;
    minios_events_restore(f);
}

unsigned long minios_virt_to_mfn(const void *va)
{
    return pfn_to_frame((unsigned long)va >> PAGE_SHIFT);
}

void *minios_frame_va(unsigned long frame)
{
#ifdef MINIOS_PVH
    for (unsigned r = 0; r < minios_pvh_nr_ranges; r++)
        if (frame >= minios_pvh_ranges[r].start_pfn && frame < minios_pvh_ranges[r].end_pfn)
            return (void *)(frame << PAGE_SHIFT);
    return NULL;
#else
    /* The builder's frames are ours, so the M2P has them; check anyway. */
    unsigned long pfn = frame_to_pfn(frame);
    return pfn < nr_pages && p2m[pfn] == frame ? (void *)(pfn << PAGE_SHIFT) : NULL;
#endif
}

static unsigned long alloc_pt_pfn(void)
{
    void *p = minios_alloc_pages(1);
    return p ? (unsigned long)p >> PAGE_SHIFT : 0;
}

int minios_mm_guard(void *page, int guard)
{
    unsigned long va = (unsigned long)page;
    uint64_t pte = guard ? 0 : ((uint64_t)minios_virt_to_mfn(page) << PAGE_SHIFT) | PTE_PAGE;

    if (va % PAGE_SIZE || va >> PAGE_SHIFT >= nr_pages)
        return -XEN_EINVAL;
#ifdef MINIOS_PVH
    uint64_t *l1 = (uint64_t *)(uintptr_t)l1_for(va, alloc_pt_pfn);
    if (!l1)
        return -XEN_ENOMEM;
    __atomic_store_n(&l1[(va >> PAGE_SHIFT) % 512], pte, __ATOMIC_RELEASE);
    __asm__ __volatile__("invlpg (%0)" : : "r"(va) : "memory");
    return 0;
#else
    return (int)HYPERVISOR_update_va_mapping(va, pte, UVMF_INVLPG);
#endif
}

unsigned long minios_area_alloc_chunk(void)
{
    if (area_chunks == AREA_MAX_CHUNKS)
        return 0;
    unsigned long va = AREA_BASE + area_chunks * AREA_CHUNK;
    if (!l1_for(va, alloc_pt_pfn))
        return 0;
    area_chunks++;
    return va;
}

void *minios_map_foreign(domid_t dom, const unsigned long *frames, unsigned n, int no_translate,
                         long *err)
{
#ifdef MINIOS_PVH
    /* A PVH domain maps another's frames through its p2m (add_to_physmap
     * of gmfn_foreign), which minios does not do yet. */
    (void)dom, (void)frames, (void)n, (void)no_translate;
    *err = -XEN_EOPNOTSUPP;
    return NULL;
#endif
    if (n == 0 || n > 512) {
        *err = -XEN_EINVAL;
        return NULL;
    }
    unsigned long va = minios_area_alloc_chunk();
    uint64_t l1 = va ? l1_for(va, alloc_pt_pfn) : 0;
    if (!l1) {
        *err = -XEN_ENOMEM;
        return NULL;
    }
    struct mmu_update u[16];
    for (unsigned i = 0; i < n;) {
        unsigned k = 0;
        for (; k < 16 && i + k < n; k++) {
            u[k].ptr = (l1 + (i + k) * 8) |
                       (no_translate ? MMU_PT_UPDATE_NO_TRANSLATE : MMU_NORMAL_PT_UPDATE);
            u[k].val = ((uint64_t)frames[i + k] << PAGE_SHIFT) | PTE_PAGE;
        }
        unsigned done = 0;
        long rc = HYPERVISOR_mmu_update(u, k, &done, dom);
        if (rc < 0) {
            /* what was mapped stays mapped in the (abandoned) chunk */
            *err = rc;
            return NULL;
        }
        i += k;
    }
    *err = 0;
    return (void *)va;
}

long minios_map_foreign_at(unsigned long va, domid_t dom, unsigned long frame)
{
#ifdef MINIOS_PVH
    (void)dom, (void)frame;
    return -XEN_EOPNOTSUPP;
#endif
    if (va < AREA_BASE || va >= AREA_BASE + area_chunks * AREA_CHUNK || va % PAGE_SIZE)
        return -XEN_EINVAL;
    return _hypercall4(__HYPERVISOR_update_va_mapping_otherdomain, va,
                       ((uint64_t)frame << PAGE_SHIFT) | PTE_PAGE, UVMF_INVLPG | UVMF_LOCAL, dom);
}
