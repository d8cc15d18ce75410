/* mm.c: minios's heap: the free tail of the bootstrap region the domain builder mapped. */
#include <errno.h>
#include <stdint.h>
#include <minios/mm.h>
#include "kernel.h"

/*
 * Without a PV MMU (mmu_update) minios can use only memory that the domain
 * builder has already mapped. The Xen PV start-of-day convention
 * (<xen/xen.h>, "Start-of-day memory layout") lays the bootstrap region out
 * from VIRT_BASE (0 for minios) as
 *
 *   kernel image | [module] | p2m list | start_info | page tables | stack
 *   ^ 0                                      pt_base ^   nr_pt_frames ^ 1 page
 *
 * and guarantees that the mapping extends to a 4 MiB boundary, at least
 * 512 KiB past the last bootstrap element (the stack). So the heap is
 *
 *   start = pt_base + (nr_pt_frames + 1) * 4 KiB     (end of the stack page)
 *   end   = min(roundup(start + 512 KiB, 4 MiB), nr_pages * 4 KiB)
 *
 * (nr_pages * 4 KiB bounds it because VIRT_BASE is 0: virtual address =
 * pseudo-physical address). Later minios will map all of the domain's
 * memory and grow the heap beyond this.
 */
#define PAGE_SIZE        4096ul
#define BOOT_PADDING     (512ul << 10)
#define BOOT_ALIGN       (4ul << 20)

static unsigned long heap_start, heap_end, heap_brk;

void minios_mm_init(const start_info_t *si)
{
    unsigned long start = si->pt_base + (si->nr_pt_frames + 1) * PAGE_SIZE;
    unsigned long end = (start + BOOT_PADDING + BOOT_ALIGN - 1) & ~(BOOT_ALIGN - 1);
    unsigned long mem = si->nr_pages * PAGE_SIZE;

    if (end > mem)
        end = mem;
    if (start > end)
        start = end;
    heap_start = heap_brk = start;
    heap_end = end;
}

unsigned long minios_heap_start(void)
{
    return heap_start;
}

unsigned long minios_heap_end(void)
{
    return heap_end;
}

void *minios_sbrk(ptrdiff_t incr)
{
    unsigned long old = heap_brk;

    if ((incr > 0 && (unsigned long)incr > heap_end - heap_brk) ||
        (incr < 0 && (unsigned long)-incr > heap_brk - heap_start)) {
        errno = ENOMEM;
        return (void *)-1;
    }
    heap_brk += incr;
    return (void *)old;
}
