/* blkif_exec.c: carrying out a checked blkif request on an image through grant copies. */
#include <stdarg.h>
#include <stdio.h>

#include "blkif_exec.h"

static int fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return BLKIF_RSP_ERROR;
}

/* Every segment between the guest's pages and bounce, in order. */
static int copy_segs(const struct blkif_req *q, blkif_copy_fn copy, void *ctx, uint8_t *bounce,
                     bool to_guest, char *why, size_t whylen)
{
    size_t pos = 0;
    for (unsigned i = 0; i < q->nseg; i++) {
        const struct blkif_seg *s = &q->seg[i];
        int rc = copy(ctx, s->gref, s->off, bounce + pos, s->len, to_guest);
        if (rc)
            return fail(why, whylen, "segment %u: grant %u: %s (%d)", i, s->gref,
                        to_guest ? "cannot write the guest's page" : "cannot read the guest's page",
                        rc);
        pos += s->len;
    }
    return BLKIF_RSP_OKAY;
}

int blkif_fetch_indirect(const struct blkif_disk *d, struct blkif_req *q, blkif_copy_fn copy,
                         void *ctx, char *why, size_t whylen)
{
    if (q->nind == 0)
        return BLKIF_RSP_OKAY;
    struct blkif_request_segment segs[BLKIF_MAX_SEGS];
    if (q->nseg == 0 || q->nseg > BLKIF_MAX_SEGS ||
        q->nind != (q->nseg + BLKIF_SEGS_PER_INDIRECT_PAGE - 1) / BLKIF_SEGS_PER_INDIRECT_PAGE)
        return fail(why, whylen, "indirect request of %u segments in %u pages", q->nseg, q->nind);
    for (unsigned i = 0, done = 0; i < q->nind; i++) {
        unsigned n = q->nseg - done;
        if (n > BLKIF_SEGS_PER_INDIRECT_PAGE)
            n = BLKIF_SEGS_PER_INDIRECT_PAGE;
        int rc = copy(ctx, q->ind[i], 0, &segs[done], (uint16_t)(n * sizeof(segs[0])), false);
        if (rc)
            return fail(why, whylen, "indirect page %u: grant %u: cannot read the guest's page (%d)",
                        i, q->ind[i], rc);
        done += n;
    }
    return blkif_check_indirect(d, q, segs, why, whylen);
}

int blkif_exec(struct img *img, const struct blkif_req *q, blkif_copy_fn copy, void *ctx,
               uint8_t *bounce, char *why, size_t whylen)
{
    int rc;
    if (q->nind)
        return fail(why, whylen, "indirect segments not read");
    if (q->bytes > BLKIF_EXEC_BOUNCE && q->op != BLKIF_OP_DISCARD)
        return fail(why, whylen, "request of %llu bytes", (unsigned long long)q->bytes);
    switch (q->op) {
    case BLKIF_OP_READ:
        rc = img_read(img, q->off, bounce, q->bytes);
        if (rc)
            return fail(why, whylen, "image read at %llu: %d", (unsigned long long)q->off, rc);
        return copy_segs(q, copy, ctx, bounce, true, why, whylen);
    case BLKIF_OP_WRITE:
    case BLKIF_OP_FLUSH_DISKCACHE:
        if (q->nseg) {
            rc = copy_segs(q, copy, ctx, bounce, false, why, whylen);
            if (rc != BLKIF_RSP_OKAY)
                return rc;
            rc = img_write(img, q->off, bounce, q->bytes);
            if (rc)
                return fail(why, whylen, "image write at %llu: %d", (unsigned long long)q->off, rc);
        }
        if (q->op == BLKIF_OP_FLUSH_DISKCACHE && (rc = img_flush(img)))
            return fail(why, whylen, "image flush: %d", rc);
        return BLKIF_RSP_OKAY;
    case BLKIF_OP_DISCARD:
        rc = img_discard(img, q->off, q->bytes);
        if (rc)
            return fail(why, whylen, "image discard at %llu: %d", (unsigned long long)q->off, rc);
        return BLKIF_RSP_OKAY;
    default:
        return fail(why, whylen, "operation %u", q->op);
    }
}
