/* The MMIO dispatcher's table (mmio_table.h, docs/hvm.md). */
#include "mmio_table.h"
#include <stddef.h>
#include <xen/errno.h>

int mmio_table_add(struct mmio_table *t, uint64_t start, uint64_t len, const void *handler)
{
    if (!len || start + len < start || !handler)
        return -XEN_EINVAL;
    for (unsigned i = 0; i < t->n; i++)
        if (start < t->r[i].end && t->r[i].start < start + len)
            return -XEN_EINVAL;
    if (t->n == MMIO_TABLE_MAX)
        return -XEN_ENOSPC;
    t->r[t->n].start = start;
    t->r[t->n].end = start + len;
    t->r[t->n].handler = handler;
    __atomic_store_n(&t->n, t->n + 1, __ATOMIC_RELEASE);   /* readers take no lock */
    return 0;
}

const void *mmio_table_find(const struct mmio_table *t, uint64_t gpa, unsigned size)
{
    unsigned n = __atomic_load_n(&t->n, __ATOMIC_ACQUIRE);
    for (unsigned i = 0; i < n; i++)
        if (gpa >= t->r[i].start && gpa < t->r[i].end && size <= t->r[i].end - gpa)
            return t->r[i].handler;
    return NULL;
}
