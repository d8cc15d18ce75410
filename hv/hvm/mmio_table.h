/* The MMIO dispatcher's table of guest-physical ranges (mmio_table.c):
 * freestanding, so the host unit test test_mmio_table builds it too. */
#ifndef KEEL_MMIO_TABLE_H
#define KEEL_MMIO_TABLE_H
#include <stdint.h>

#define MMIO_TABLE_MAX 8

struct mmio_table {
    struct {
        uint64_t start, end;           /* [start, end) */
        const void *handler;
    } r[MMIO_TABLE_MAX];
    unsigned n;
};

/* -XEN_EINVAL: empty, wrapping past 2^64, overlapping one already there,
 * or no handler; -XEN_ENOSPC: full.  0: added. */
int mmio_table_add(struct mmio_table *t, uint64_t start, uint64_t len, const void *handler);

/* The handler of the range holding all of [gpa, gpa+size), or NULL. */
const void *mmio_table_find(const struct mmio_table *t, uint64_t gpa, unsigned size);

#endif
