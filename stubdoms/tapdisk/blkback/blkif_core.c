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
        return refuse(why, whylen, BLKIF_RSP_EOPNOTSUPP, "indirect descriptors: not advertised");
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
    uint64_t sectors = 0;
    for (unsigned i = 0; i < nseg; i++) {
        const struct blkif_request_segment *s = &r->seg[i];
        if (s->first_sect > s->last_sect || s->last_sect >= BLKIF_PAGE_SECTORS)
            return refuse(why, whylen, BLKIF_RSP_ERROR, "segment %u: sectors %u-%u of a page",
                          i, s->first_sect, s->last_sect);
        out->seg[i].gref = s->gref;
        out->seg[i].off = (uint16_t)(s->first_sect * 512u);
        out->seg[i].len = (uint16_t)((s->last_sect - s->first_sect + 1u) * 512u);
        sectors += s->last_sect - s->first_sect + 1u;
    }
    if (nseg && !in_disk(d, r->sector_number, sectors))
        return refuse(why, whylen, BLKIF_RSP_ERROR,
                      "sectors %llu+%llu past the end (%llu)",
                      (unsigned long long)r->sector_number, (unsigned long long)sectors,
                      (unsigned long long)d->sectors);
    out->nseg = nseg;
    out->off = nseg ? r->sector_number * 512 : 0;
    out->bytes = sectors * 512;
    return BLKIF_RSP_OKAY;
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
