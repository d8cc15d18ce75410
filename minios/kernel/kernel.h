/* kernel.h: declarations shared inside minios, not part of its public API. */
#ifndef MINIOS_KERNEL_H
#define MINIOS_KERNEL_H

#include <minios/hypercall.h>

/* Sets the heap's bounds from the bootstrap region's layout. */
void minios_mm_init(const start_info_t *si);

#endif /* MINIOS_KERNEL_H */
