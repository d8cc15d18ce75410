/* blkif_pgrant.h: the backend's half of persistent grants (feature-persistent): a frontend's pages kept mapped across requests, bounded, least recently used unmapped first. */
#ifndef KEEL_BLKIF_PGRANT_H
#define KEEL_BLKIF_PGRANT_H
#include <stdbool.h>
#include <stdint.h>
#include <xen/xen.h>
#include <xen/grant_table.h>

/* Xen's blkback keeps at most 1056 (max_persistent_grants: 32 requests
 * of 32 indirect segments plus their indirect pages). */
#define BLKIF_PGRANTS_MAX 1056u

/* Maps the frontend's gref writable: 0 and *va, *handle, or a negative
 * errno (bad grant, granted read-only, no address space).  The stub
 * domain's is GNTTABOP_map_grant_ref; tests give a fake one. */
typedef int (*blkif_map_fn)(void *ctx, grant_ref_t gref, void **va, uint32_t *handle);
typedef void (*blkif_unmap_fn)(void *ctx, void *va, uint32_t handle);

struct blkif_pgrant {
    grant_ref_t gref;
    uint32_t handle;
    void *va;
    uint64_t used;      /* the request (blkif_pgrants_begin's tick) that used it last */
};

struct blkif_pgrants {
    struct blkif_pgrant *e;
    unsigned max, n;
    uint64_t tick;
    blkif_map_fn map;
    blkif_unmap_fn unmap;
    void *ctx;
    uint64_t hits, maps, purged;    /* counts, for the log and tests */
};

/* An empty table of at most max (1..BLKIF_PGRANTS_MAX) mappings: 0 or -EINVAL / -ENOMEM. */
int blkif_pgrants_init(struct blkif_pgrants *t, unsigned max, blkif_map_fn map,
                       blkif_unmap_fn unmap, void *ctx);
/* A new request begins: the grants it uses are pinned until the next
 * begin (never purged while the request needs them). */
void blkif_pgrants_begin(struct blkif_pgrants *t);
/*
 * The page the frontend granted as gref, mapped (kept mapped: a hit
 * costs nothing).  A new gref when the table is full unmaps the least
 * recently used grant that the current request does not use.  0 and
 * *va; -ENOSPC if every mapping is pinned by the current request (the
 * table is full: the caller copies through the grant instead, as Xen's
 * blkback maps such a page for one request only); the map's error if
 * the grant cannot be mapped (nothing is kept).
 */
int blkif_pgrants_get(struct blkif_pgrants *t, grant_ref_t gref, void **va);
/* Unmaps everything (disconnect, cut-off) and frees the table. */
void blkif_pgrants_fini(struct blkif_pgrants *t);

#endif /* KEEL_BLKIF_PGRANT_H */
