/* blkif_core.c: the blkif backend's ring handling and request checks (io/blkif.h, 64-bit layout), as Linux's xen-blkback applies them. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blkif_core.h"

static int refuse(char *why, size_t whylen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>
static int refuse(char *why, size_t whylen, int status, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return status;
}

/* [sector, sector + n) inside the disk, without overflow. */
static bool in_disk(const struct blkif_disk *d, uint64_t sector, uint64_t n)
{
    return sector <= d->sectors && n <= d->sectors - sector;
}

/* nseg segments and the range they cover from sector, into q. */
static int check_segs(const struct blkif_disk *d, struct blkif_req *q, uint64_t sector,
                      const struct blkif_request_segment *segs, unsigned nseg, char *why,
                      size_t whylen)
{
    uint64_t sectors = 0;
    for (unsigned i = 0; i < nseg; i++) {
        const struct blkif_request_segment *s = &segs[i];
        if (s->first_sect > s->last_sect || s->last_sect >= BLKIF_PAGE_SECTORS)
            return refuse(why, whylen, BLKIF_RSP_ERROR, "segment %u: sectors %u-%u of a page",
                          i, s->first_sect, s->last_sect);
        q->seg[i].gref = s->gref;
        q->seg[i].off = (uint16_t)(s->first_sect * 512u);
        q->seg[i].len = (uint16_t)((s->last_sect - s->first_sect + 1u) * 512u);
        sectors += s->last_sect - s->first_sect + 1u;
    }
    if (nseg && !in_disk(d, sector, sectors))
        return refuse(why, whylen, BLKIF_RSP_ERROR,
                      "sectors %llu+%llu past the end (%llu)",
                      (unsigned long long)sector, (unsigned long long)sectors,
                      (unsigned long long)d->sectors);
    q->nseg = nseg;
    q->off = nseg ? sector * 512 : 0;
    q->bytes = sectors * 512;
    return BLKIF_RSP_OKAY;
}

/* An indirect request's header: its segments come later. */
static int check_indirect_head(const struct blkif_disk *d, const blkif_request_t *r,
                               struct blkif_req *out, char *why, size_t whylen)
{
    const struct blkif_request_indirect *ir = (const void *)r;
    if (!d->max_indirect)
        return refuse(why, whylen, BLKIF_RSP_EOPNOTSUPP, "indirect descriptors: not advertised");
    out->id = ir->id;
    if (ir->indirect_op != BLKIF_OP_READ && ir->indirect_op != BLKIF_OP_WRITE)
        return refuse(why, whylen, BLKIF_RSP_ERROR, "indirect request with operation %u",
                      ir->indirect_op);
    out->op = ir->indirect_op;
    if (ir->indirect_op == BLKIF_OP_WRITE && d->read_only)
        return refuse(why, whylen, BLKIF_RSP_ERROR, "write on a read-only disk");
    unsigned nseg = ir->nr_segments;
    if (nseg == 0 || nseg > d->max_indirect || nseg > BLKIF_MAX_SEGS)
        return refuse(why, whylen, BLKIF_RSP_ERROR, "indirect request of %u segments (1-%u)",
                      nseg, d->max_indirect);
    out->nseg = nseg;
    out->sector = ir->sector_number;
    out->nind = (nseg + BLKIF_SEGS_PER_INDIRECT_PAGE - 1) / BLKIF_SEGS_PER_INDIRECT_PAGE;
    for (unsigned i = 0; i < out->nind; i++)
        out->ind[i] = ir->indirect_grefs[i];
    return BLKIF_RSP_OKAY;
}

int blkif_check_indirect(const struct blkif_disk *d, struct blkif_req *q,
                         const struct blkif_request_segment *segs, char *why, size_t whylen)
{
    if (q->nseg == 0 || q->nseg > BLKIF_MAX_SEGS)
        return refuse(why, whylen, BLKIF_RSP_ERROR, "%u segments", q->nseg);
    int st = check_segs(d, q, q->sector, segs, q->nseg, why, whylen);
    if (st == BLKIF_RSP_OKAY)
        q->nind = 0;
    return st;
}

int blkif_check(const struct blkif_disk *d, const blkif_request_t *r,
                struct blkif_req *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof(*out));
    out->id = r->id;
    out->op = r->operation;
    if (why && whylen)
        why[0] = 0;

    switch (r->operation) {
    case BLKIF_OP_READ:
    case BLKIF_OP_WRITE:
    case BLKIF_OP_FLUSH_DISKCACHE:
        break;
    case BLKIF_OP_DISCARD: {
        const struct blkif_request_discard *dr = (const void *)r;
        if (!d->discard)
            return refuse(why, whylen, BLKIF_RSP_EOPNOTSUPP, "discard: not advertised");
        if (d->read_only)
            return refuse(why, whylen, BLKIF_RSP_ERROR, "discard on a read-only disk");
        if (!in_disk(d, dr->sector_number, dr->nr_sectors))
            return refuse(why, whylen, BLKIF_RSP_ERROR,
                          "discard of sectors %llu+%llu past the end (%llu)",
                          (unsigned long long)dr->sector_number,
                          (unsigned long long)dr->nr_sectors, (unsigned long long)d->sectors);
        out->off = dr->sector_number * 512;
        out->bytes = dr->nr_sectors * 512;
        return BLKIF_RSP_OKAY;
    }
    case BLKIF_OP_WRITE_BARRIER:
        return refuse(why, whylen, BLKIF_RSP_EOPNOTSUPP, "write barrier: not advertised");
    case BLKIF_OP_INDIRECT:
        return check_indirect_head(d, r, out, why, whylen);
    default:
        return refuse(why, whylen, BLKIF_RSP_ERROR, "unknown operation %u", r->operation);
    }

    bool writes = r->operation != BLKIF_OP_READ;
    if (r->operation == BLKIF_OP_FLUSH_DISKCACHE && !d->flush)
        return refuse(why, whylen, BLKIF_RSP_EOPNOTSUPP, "flush: not advertised");
    if (writes && d->read_only)
        return refuse(why, whylen, BLKIF_RSP_ERROR, "%s on a read-only disk",
                      r->operation == BLKIF_OP_WRITE ? "write" : "flush");
    unsigned nseg = r->nr_segments;
    if ((nseg == 0 && r->operation != BLKIF_OP_FLUSH_DISKCACHE) ||
        nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST)
        return refuse(why, whylen, BLKIF_RSP_ERROR, "%u segments", nseg);
    return check_segs(d, out, r->sector_number, r->seg, nseg, why, whylen);
}

int blkif_ring_pages(const char *order, unsigned max_order, char *why, size_t whylen)
{
    if (why && whylen)
        why[0] = 0;
    if (!order)
        return 1;
    unsigned long v = 0;
    const char *p = order;
    if (!*p)
        return refuse(why, whylen, -EINVAL, "ring-page-order is empty");
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || v > 1000)
            return refuse(why, whylen, -EINVAL, "ring-page-order \"%.20s\" is not a number", order);
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > max_order || max_order > BLKIF_MAX_RING_ORDER)
        return refuse(why, whylen, -EINVAL, "ring-page-order %lu above max-ring-page-order %u",
                      v, max_order);
    return 1 << v;
}

int blkif_ring_next(blkif_back_ring_t *ring, blkif_request_t *out)
{
    RING_IDX rp = ring->sring->req_prod;
    rmb();  /* the requests after the index that announced them */
    if (RING_REQUEST_PROD_OVERFLOW(ring, rp))
        return -EPROTO;
    RING_IDX rc = ring->req_cons;
    if (rc == rp || RING_REQUEST_CONS_OVERFLOW(ring, rc))
        return 0;
    /* One copy: every later check looks at it, never at the shared page. */
    memcpy(out, RING_GET_REQUEST(ring, rc), sizeof(*out));
    __asm__ volatile("" ::: "memory");
    ring->req_cons = rc + 1;
    return 1;
}

int blkif_ring_respond(blkif_back_ring_t *ring, uint64_t id, uint8_t op, int16_t status)
{
    blkif_response_t *rsp = RING_GET_RESPONSE(ring, ring->rsp_prod_pvt);
    rsp->id = id;
    rsp->operation = op;
    rsp->status = status;
    ring->rsp_prod_pvt++;
    int notify;
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(ring, notify);
    return notify;
}

int blkif_ring_final_check(blkif_back_ring_t *ring)
{
    int more;
    RING_FINAL_CHECK_FOR_REQUESTS(ring, more);
    return more;
}
