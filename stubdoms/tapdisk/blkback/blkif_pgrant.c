/* blkif_pgrant.c: a frontend's persistent grants kept mapped, bounded, least recently used unmapped first (as Xen's blkback purges). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blkif_pgrant.h"

int blkif_pgrants_init(struct blkif_pgrants *t, unsigned max, blkif_map_fn map,
                       blkif_unmap_fn unmap, void *ctx)
{
    memset(t, 0, sizeof(*t));
    if (max == 0 || max > BLKIF_PGRANTS_MAX || !map || !unmap)
        return -EINVAL;
    t->e = calloc(max, sizeof(*t->e));
    if (!t->e)
        return -ENOMEM;
    t->max = max;
    t->map = map;
    t->unmap = unmap;
    t->ctx = ctx;
    t->tick = 1;
    return 0;
}

void blkif_pgrants_begin(struct blkif_pgrants *t)
{
    t->tick++;
}

int blkif_pgrants_get(struct blkif_pgrants *t, grant_ref_t gref, void **va)
{
    unsigned lru = t->n;
    for (unsigned i = 0; i < t->n; i++) {
        struct blkif_pgrant *g = &t->e[i];
        if (g->gref == gref) {
            g->used = t->tick;
            t->hits++;
            *va = g->va;
            return 0;
        }
        if (g->used != t->tick && (lru == t->n || g->used < t->e[lru].used))
            lru = i;
    }
    unsigned slot = t->n;
    if (t->n == t->max) {
        if (lru == t->n)
            return -ENOSPC;         /* all pinned by this request */
        slot = lru;
    }
    void *nva;
    uint32_t h;
    int rc = t->map(t->ctx, gref, &nva, &h);
    if (rc)
        return rc < 0 ? rc : -EINVAL;
    if (slot < t->n) {
        t->unmap(t->ctx, t->e[slot].va, t->e[slot].handle);
        t->purged++;
    } else
        t->n++;
    t->e[slot] = (struct blkif_pgrant){ .gref = gref, .handle = h, .va = nva, .used = t->tick };
    t->maps++;
    *va = nva;
    return 0;
}

void blkif_pgrants_fini(struct blkif_pgrants *t)
{
    for (unsigned i = 0; i < t->n; i++)
        t->unmap(t->ctx, t->e[i].va, t->e[i].handle);
    free(t->e);
    t->e = NULL;
    t->n = t->max = 0;
}
