/* serve.h: how the device model answers one ioreq (stubdoms/dm, docs/hvm.md):
 * a table of its devices' regions (ports, MMIO, PCI functions) with their
 * handlers, and, for a request whose data is a pointer (a REP INS/OUTS the
 * hypervisor sends as one ioreq, as Xen does), the copies to and from the
 * guest's memory through a callback.  Freestanding of minios, so the host
 * unit test (tests/unit/test_dm_serve.c) runs it under ASan/UBSan. */
#ifndef KEEL_DM_SERVE_H
#define KEEL_DM_SERVE_H
#include <stdint.h>
#include <stdbool.h>
#include <xen/hvm/ioreq.h>

/* Most elements one request by pointer may name (a page of bytes). */
#define DM_PTR_COUNT_MAX 4096

struct dm_region {
    const char *name;
    uint8_t type;                /* IOREQ_TYPE_PIO, _COPY (MMIO) or _PCI_CONFIG */
    uint64_t start, end;         /* inclusive: ports, addresses, or SBDFs */
    unsigned sizes;              /* the access sizes it takes: bit n for n bytes */
    bool nested;                 /* inside another region's claim: not claimed itself */
    void *ctx;
    /* off: from start; for PCI_CONFIG the request's address (SBDF << 32 | reg) */
    uint64_t (*read)(void *ctx, uint64_t off, unsigned size);
    void (*write)(void *ctx, uint64_t off, unsigned size, uint64_t val);
};

struct dm_guest {
    /* Copies len bytes to (to_guest) or from guest-physical gpa: 0, or
     * -1 where the guest has no RAM the device model can map. */
    int (*copy)(void *ctx, uint64_t gpa, void *buf, unsigned len, bool to_guest);
    void *ctx;
};

struct dm_serve_stats {
    unsigned long refused;       /* requests no region takes, or malformed */
    unsigned long by_ptr;        /* requests by pointer served */
    unsigned long ptr_bad;       /* ... stopped at memory it could not copy */
};

/* Answers p (its data, for a read of one element) from the first region
 * that holds all of the access and takes its size; a request no region
 * takes, of another type, or malformed (size not 1/2/4/8, count 0 or past
 * DM_PTR_COUNT_MAX, or a count above 1 with the data not a pointer) is
 * refused: a read gets all ones, and it is counted.  The region served,
 * or NULL. */
/* The region dm_serve would answer p from (can_copy: it has a way to
 * the guest's memory), or NULL if it would refuse p. */
const struct dm_region *dm_find(const struct dm_region *tab, unsigned n, const ioreq_t *p,
                                bool can_copy);
const struct dm_region *dm_serve(const struct dm_region *tab, unsigned n, ioreq_t *p,
                                 const struct dm_guest *g, struct dm_serve_stats *st);

#endif
