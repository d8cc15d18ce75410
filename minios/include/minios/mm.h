/* mm.h: minios's memory: the page allocator, the malloc heap (sbrk) and areas for foreign mappings. */
#ifndef MINIOS_MM_H
#define MINIOS_MM_H

#include <stddef.h>
#include <minios/hypercall.h>

/*
 * At start minios maps all of its reservation at virtual = pseudo-physical
 * addresses (minios is linked at 0). The free pages are shared by the
 * malloc heap, which grows up from the low end, and the page allocator,
 * which takes pages from the high end.
 */

/* The heap's bounds [start, end) as virtual addresses. */
unsigned long minios_heap_start(void);
unsigned long minios_heap_end(void);

/* Moves the break by incr bytes over free pages; returns the old break,
 * or (void *)-1 with errno ENOMEM if it would run into allocated pages
 * or past the reservation. */
void *minios_sbrk(ptrdiff_t incr);

/* n contiguous free pages (not zeroed), or NULL. Callable from threads
 * and from event handlers. */
void *minios_alloc_pages(unsigned long n);
/* Returns pages minios_alloc_pages gave; freeing anything else, or twice,
 * crashes the domain with a message. */
void minios_free_pages(void *va, unsigned long n);

/* Pages in the reservation, and pages neither heap nor allocator hold. */
unsigned long minios_pages_total(void);
unsigned long minios_pages_free(void);

/* The machine frame behind an address of minios's own memory. */
unsigned long minios_virt_to_mfn(const void *va);

/* A new 2 MiB area (512 pages) of virtual addresses with no mappings but
 * with its page table in place, for grant and foreign mappings; its
 * address, or 0 when out of memory or areas. */
unsigned long minios_area_alloc_chunk(void);

/* Maps n (at most 512) frames of domain dom writable at consecutive
 * addresses of a new area (mmu_update with dom as the foreign domain;
 * with no_translate, MMU_PT_UPDATE_NO_TRANSLATE: machine frames of a
 * translated domain, e.g. an ioreq page from XENMEM_acquire_resource).
 * The address, or NULL with the hypervisor's errno in *err. */
void *minios_map_foreign(domid_t dom, const unsigned long *frames, unsigned n, int no_translate,
                         long *err);

/* Maps frame of domain dom (a guest frame of a translated domain) at va,
 * a page of an area from minios_area_alloc_chunk, in place of what was
 * there (update_va_mapping_otherdomain, the TLB entry flushed): 0, or the
 * hypervisor's errno. */
long minios_map_foreign_at(unsigned long va, domid_t dom, unsigned long frame);

#endif /* MINIOS_MM_H */
