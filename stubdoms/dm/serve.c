/*
 * The device model's answer to one ioreq, as QEMU's cpu_ioreq_pio and
 * cpu_ioreq_move under Xen (serve.h).  A request by pointer (data_is_ptr)
 * names count elements of size bytes in the guest's memory starting at
 * data, going down when df is set; a port request reads or writes the same
 * port for each, an MMIO one steps its address as the memory does.
 */
#include <stddef.h>
#include "serve.h"

static const struct dm_region *find(const struct dm_region *tab, unsigned n, const ioreq_t *p)
{
    for (unsigned i = 0; i < n; i++) {
        const struct dm_region *r = &tab[i];
        if (r->type != p->type || !(r->sizes & (1u << p->size)))
            continue;
        if (p->type == IOREQ_TYPE_PCI_CONFIG) {
            uint64_t sbdf = p->addr >> 32;
            if (sbdf >= r->start && sbdf <= r->end)
                return r;
            continue;
        }
        /* the whole access, and (MMIO by pointer) every element's */
        uint64_t span = (uint64_t)p->size * (p->type == IOREQ_TYPE_COPY ? p->count : 1);
        uint64_t lo = p->addr, hi = p->addr + span - 1;
        if (p->type == IOREQ_TYPE_COPY && p->df)
            lo = p->addr - span + p->size, hi = p->addr + p->size - 1;
        if (lo <= hi && lo >= r->start && hi <= r->end)
            return r;
    }
    return NULL;
}

static uint64_t off_of(const struct dm_region *r, const ioreq_t *p, uint64_t addr)
{
    return p->type == IOREQ_TYPE_PCI_CONFIG ? addr : addr - r->start;
}

const struct dm_region *dm_find(const struct dm_region *tab, unsigned n, const ioreq_t *p,
                                bool can_copy)
{
    bool sane = p->size && p->size <= 8 && !(p->size & (p->size - 1)) && p->count &&
                (p->data_is_ptr ? p->count <= DM_PTR_COUNT_MAX && can_copy &&
                                      p->type != IOREQ_TYPE_PCI_CONFIG
                                : p->count == 1);
    return sane ? find(tab, n, p) : NULL;
}

const struct dm_region *dm_serve(const struct dm_region *tab, unsigned n, ioreq_t *p,
                                 const struct dm_guest *g, struct dm_serve_stats *st)
{
    bool read = p->dir == IOREQ_READ;
    const struct dm_region *r = dm_find(tab, n, p, g != NULL);
    if (!r) {
        st->refused++;
        if (read && !p->data_is_ptr)
            p->data = ~0ULL;
        return NULL;
    }
    if (!p->data_is_ptr) {
        uint64_t off = off_of(r, p, p->addr);
        if (read)
            p->data = r->read(r->ctx, off, p->size);
        else
            r->write(r->ctx, off, p->size, p->data);
        return r;
    }
    st->by_ptr++;
    for (uint32_t i = 0; i < p->count; i++) {
        uint64_t step = (uint64_t)i * p->size;
        uint64_t gpa = p->df ? p->data - step : p->data + step;
        uint64_t addr = p->type == IOREQ_TYPE_COPY ? (p->df ? p->addr - step : p->addr + step)
                                                   : p->addr;
        uint64_t v = 0;
        if (read) {
            v = r->read(r->ctx, off_of(r, p, addr), p->size);
            if (g->copy(g->ctx, gpa, &v, p->size, true)) {
                st->ptr_bad++;
                break;
            }
        } else {
            if (g->copy(g->ctx, gpa, &v, p->size, false)) {
                st->ptr_bad++;
                break;
            }
            r->write(r->ctx, off_of(r, p, addr), p->size, v);
        }
    }
    return r;
}
