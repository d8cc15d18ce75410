/* mm.h: minios's memory: the heap that sbrk() (and so malloc()) hands out. */
#ifndef MINIOS_MM_H
#define MINIOS_MM_H

#include <stddef.h>

/* The heap's bounds [start, end) as virtual addresses; see kernel/mm.c. */
unsigned long minios_heap_start(void);
unsigned long minios_heap_end(void);

/* Moves the break by incr bytes; returns the old break, or (void *)-1 with
 * errno ENOMEM if the heap would leave its bounds. */
void *minios_sbrk(ptrdiff_t incr);

#endif /* MINIOS_MM_H */
