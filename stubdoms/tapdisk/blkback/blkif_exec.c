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

int blkif_exec(struct img *img, const struct blkif_req *q, blkif_copy_fn copy, void *ctx,
               uint8_t *bounce, char *why, size_t whylen)
{
    int rc;
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
