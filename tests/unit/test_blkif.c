/* Host unit test of the blkif backend's core (stubdoms/tapdisk/blkback/blkif_core.c): request checks and hostile ring indices, under ASan/UBSan. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blkif_core.h"
#include "blkif_exec.h"
#include "blkif_pgrant.h"
#include "io_host.h"
#include "unit.h"

static blkif_request_t rw(uint8_t op, uint64_t sector, unsigned nseg)
{
    blkif_request_t r;
    memset(&r, 0, sizeof(r));
    r.operation = op;
    r.nr_segments = (uint8_t)nseg;
    r.id = 0x1234567890ull;
    r.sector_number = sector;
    for (unsigned i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
        r.seg[i].gref = 100 + i;
        r.seg[i].first_sect = 0;
        r.seg[i].last_sect = 7;
    }
    return r;
}

static void checks(void)
{
    struct blkif_disk d = { .sectors = 1000, .flush = true, .discard = false };
    struct blkif_disk ro = { .sectors = 1000, .read_only = true, .flush = true };
    struct blkif_req q;
    char why[128];
    blkif_request_t r;

    /* A good read of 11 pages: 88 sectors, segments in order. */
    r = rw(BLKIF_OP_READ, 10, 11);
    r.seg[0].first_sect = 3;
    r.seg[10].last_sect = 4;
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(q.id == 0x1234567890ull && q.op == BLKIF_OP_READ && q.nseg == 11);
    EXPECT(q.off == 10 * 512 && q.bytes == (5 + 9 * 8 + 5) * 512);
    EXPECT(q.seg[0].off == 3 * 512 && q.seg[0].len == 5 * 512 && q.seg[10].len == 5 * 512);
    EXPECT(q.seg[3].gref == 103);

    /* The last sectors of the disk, and one past them. */
    r = rw(BLKIF_OP_WRITE, 992, 1);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    r = rw(BLKIF_OP_WRITE, 993, 1);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
    EXPECT(strstr(why, "past the end"));
    r = rw(BLKIF_OP_READ, ~0ull - 3, 1);        /* overflow */
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
    r = rw(BLKIF_OP_READ, 1001, 1);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);

    /* Segment counts and sector ranges. */
    r = rw(BLKIF_OP_READ, 0, 0);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
    r = rw(BLKIF_OP_READ, 0, 11);
    r.nr_segments = 12;
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
    r.nr_segments = 255;
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
    r = rw(BLKIF_OP_READ, 0, 2);
    r.seg[1].first_sect = 5;
    r.seg[1].last_sect = 4;
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
    EXPECT(strstr(why, "segment 1"));
    r.seg[1].first_sect = 0;
    r.seg[1].last_sect = 8;
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);

    /* Flush: with no segment, and carrying data. */
    r = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY && q.bytes == 0);
    r = rw(BLKIF_OP_FLUSH_DISKCACHE, 8, 2);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY && q.bytes == 16 * 512);
    struct blkif_disk noflush = d;
    noflush.flush = false;
    r = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
    EXPECT(blkif_check(&noflush, &r, &q, why, sizeof(why)) == BLKIF_RSP_EOPNOTSUPP);

    /* Read-only: reads yes, writes, flushes and discards no. */
    r = rw(BLKIF_OP_READ, 0, 1);
    EXPECT(blkif_check(&ro, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    r = rw(BLKIF_OP_WRITE, 0, 1);
    EXPECT(blkif_check(&ro, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
    EXPECT(strstr(why, "read-only"));
    r = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
    EXPECT(blkif_check(&ro, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);

    /* Unadvertised and unknown operations. */
    r = rw(BLKIF_OP_WRITE_BARRIER, 0, 1);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_EOPNOTSUPP);
    r = rw(BLKIF_OP_INDIRECT, 0, 1);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_EOPNOTSUPP);
    r = rw(BLKIF_OP_DISCARD, 0, 0);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_EOPNOTSUPP);
    r = rw(99, 0, 1);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
    EXPECT(q.op == 99 && q.id == 0x1234567890ull);

    /* Discard where advertised: inside the disk only, never read-only. */
    struct blkif_disk dd = d;
    dd.discard = true;
    struct blkif_request_discard *dr = (void *)&r;
    memset(&r, 0, sizeof(r));
    dr->operation = BLKIF_OP_DISCARD;
    dr->sector_number = 100;
    dr->nr_sectors = 900;
    EXPECT(blkif_check(&dd, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(q.off == 100 * 512 && q.bytes == 900 * 512);
    dr->nr_sectors = 901;
    EXPECT(blkif_check(&dd, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
    dr->nr_sectors = ~0ull;
    EXPECT(blkif_check(&dd, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
    dd.read_only = true;
    dr->nr_sectors = 1;
    EXPECT(blkif_check(&dd, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
}

static void ring(void)
{
    void *page = aligned_alloc(4096, 4096);
    blkif_sring_t *s = page;
    SHARED_RING_INIT(s);
    blkif_front_ring_t front;
    blkif_back_ring_t back;
    FRONT_RING_INIT(&front, s, 4096);
    BACK_RING_INIT(&back, s, 4096);
    EXPECT(RING_SIZE(&back) == 32);

    blkif_request_t got;
    EXPECT(blkif_ring_next(&back, &got) == 0);

    /* Three requests in, three out, in order, copied. */
    for (unsigned i = 0; i < 3; i++) {
        blkif_request_t *r = RING_GET_REQUEST(&front, front.req_prod_pvt++);
        *r = rw(BLKIF_OP_READ, i, 1);
        r->id = i;
    }
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
    EXPECT(notify == 1);
    for (unsigned i = 0; i < 3; i++) {
        EXPECT(blkif_ring_next(&back, &got) == 1);
        EXPECT(got.id == i && got.sector_number == i);
        RING_GET_REQUEST(&front, i)->id = 77;  /* the frontend scribbles: our copy stands */
        EXPECT(got.id == i);
    }
    EXPECT(blkif_ring_next(&back, &got) == 0);
    EXPECT(blkif_ring_final_check(&back) == 0);
    for (unsigned i = 0; i < 3; i++)
        blkif_ring_respond(&back, i, BLKIF_OP_READ, BLKIF_RSP_OKAY);
    EXPECT(s->rsp_prod == 3);
    EXPECT(RING_GET_RESPONSE(&front, 2)->id == 2);

    /* A full ring outstanding: no more taken until responses go out. */
    for (unsigned i = 0; i < 32; i++)
        *RING_GET_REQUEST(&front, front.req_prod_pvt++) = rw(BLKIF_OP_READ, 0, 1);
    RING_PUSH_REQUESTS(&front);
    unsigned taken = 0;
    while (blkif_ring_next(&back, &got) == 1)
        taken++;
    EXPECT(taken == 32);
    blkif_ring_respond(&back, 0, BLKIF_OP_READ, BLKIF_RSP_OKAY);

    /* Hostile producer indices: more requests than the ring holds. */
    s->req_prod = back.rsp_prod_pvt + 33;
    EXPECT(blkif_ring_next(&back, &got) == -EPROTO);
    s->req_prod = back.rsp_prod_pvt - 1;       /* behind what we answered */
    EXPECT(blkif_ring_next(&back, &got) == -EPROTO);
    s->req_prod = 0x80000000u;
    EXPECT(blkif_ring_next(&back, &got) == -EPROTO);
    free(page);
}

/* Multi-page rings: the frontend's ring-page-order against the offered
 * order, and a ring of 4 pages (128 requests) with hostile indices. */
static void ring_pages(void)
{
    char why[96];
    EXPECT(blkif_ring_pages(NULL, 4, why, sizeof(why)) == 1);
    EXPECT(blkif_ring_pages("0", 4, why, sizeof(why)) == 1);
    EXPECT(blkif_ring_pages("2", 4, why, sizeof(why)) == 4);
    EXPECT(blkif_ring_pages("4", 4, why, sizeof(why)) == 16);
    EXPECT(blkif_ring_pages("5", 4, why, sizeof(why)) == -EINVAL);
    EXPECT(strstr(why, "above max-ring-page-order 4"));
    EXPECT(blkif_ring_pages("3", 2, why, sizeof(why)) == -EINVAL);
    EXPECT(blkif_ring_pages("4", 5, why, sizeof(why)) == -EINVAL);     /* more than we map */
    EXPECT(blkif_ring_pages("", 4, why, sizeof(why)) == -EINVAL);
    EXPECT(blkif_ring_pages("-1", 4, why, sizeof(why)) == -EINVAL);
    EXPECT(blkif_ring_pages("2x", 4, why, sizeof(why)) == -EINVAL);
    EXPECT(strstr(why, "not a number"));
    EXPECT(blkif_ring_pages("4294967297", 4, why, sizeof(why)) == -EINVAL);
    EXPECT(blkif_ring_pages("99999999999999999999999", 4, why, sizeof(why)) == -EINVAL);

    void *mem = aligned_alloc(4096, 4 * 4096);
    blkif_sring_t *s = mem;
    SHARED_RING_INIT(s);
    blkif_front_ring_t front;
    blkif_back_ring_t back;
    FRONT_RING_INIT(&front, s, 4 * 4096);
    BACK_RING_INIT(&back, s, 4 * 4096);
    EXPECT(RING_SIZE(&back) == 128);
    blkif_request_t got;
    for (unsigned i = 0; i < 128; i++) {
        blkif_request_t *r = RING_GET_REQUEST(&front, front.req_prod_pvt++);
        *r = rw(BLKIF_OP_READ, i, 1);
        r->id = i;
    }
    RING_PUSH_REQUESTS(&front);
    unsigned taken = 0;
    while (blkif_ring_next(&back, &got) == 1) {
        EXPECT(got.id == taken);
        taken++;
    }
    EXPECT(taken == 128);
    for (unsigned i = 0; i < 128; i++)
        blkif_ring_respond(&back, i, BLKIF_OP_READ, BLKIF_RSP_OKAY);
    EXPECT(RING_GET_RESPONSE(&front, 127)->id == 127);
    s->req_prod = back.rsp_prod_pvt + 129;
    EXPECT(blkif_ring_next(&back, &got) == -EPROTO);
    free(mem);
}

/* A fake grant table: NPAGES pages; grefs past them, and gref 13, are bad;
 * gref 12 is granted read-only (a read request may not write it). */
#define NPAGES 32
static uint8_t pages[NPAGES][4096];

static int fake_copy(void *ctx, grant_ref_t gref, uint16_t off, void *buf, uint16_t len,
                     bool to_guest)
{
    (void)ctx;
    if (gref >= NPAGES || gref == 13 || (to_guest && gref == 12))
        return -EPERM;
    if (off + len > 4096)
        abort();
    if (to_guest)
        memcpy(&pages[gref][off], buf, len);
    else
        memcpy(buf, &pages[gref][off], len);
    return 0;
}

static struct img *mem_image(const char *fmt, uint64_t size)
{
    struct img_io *io;
    struct img *img;
    char err[IMG_ERR_LEN];
    EXPECT(img_io_mem_new(&io) == 0);
    struct img_create_opts o = { .size = size };
    EXPECT(img_create(io, fmt, &o, err) == 0);
    EXPECT(img_open(io, fmt, IMG_OPEN_RDWR, NULL, &img, err) == 0);
    return img;
}

static void exec_on(const char *fmt)
{
    struct img *img = mem_image(fmt, 1 << 20);
    struct blkif_disk d = { .sectors = (1 << 20) / 512, .flush = true, .discard = true };
    static uint8_t bounce[BLKIF_EXEC_BOUNCE];
    char why[160];
    struct blkif_req q;
    blkif_request_t r;

    /* Write 3 segments (pages 1-3, sectors 2-7, 0-7, 0-3 of them) at sector 40. */
    for (unsigned p = 1; p < NPAGES; p++)
        for (unsigned j = 0; j < 4096; j++)
            pages[p][j] = (uint8_t)(p * 41 + j * 7 + 3);
    r = rw(BLKIF_OP_WRITE, 40, 3);
    for (unsigned i = 0; i < 3; i++)
        r.seg[i].gref = 1 + i;
    r.seg[0].first_sect = 2;
    r.seg[2].last_sect = 3;
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_exec(img, &q, fake_copy, NULL, bounce, why, sizeof(why)) == BLKIF_RSP_OKAY);
    uint8_t disk[18 * 512];
    EXPECT(img_read(img, 40 * 512, disk, sizeof(disk)) == 0);
    EXPECT(!memcmp(disk, &pages[1][1024], 3072));
    EXPECT(!memcmp(disk + 3072, pages[2], 4096));
    EXPECT(!memcmp(disk + 7168, pages[3], 2048));

    /* Read them back into pages 20-22 at other offsets. */
    memset(pages[20], 0, 3 * 4096);
    r = rw(BLKIF_OP_READ, 40, 3);
    r.seg[0] = (struct blkif_request_segment){ .gref = 20, .first_sect = 0, .last_sect = 5 };
    r.seg[1] = (struct blkif_request_segment){ .gref = 21, .first_sect = 0, .last_sect = 7 };
    r.seg[2] = (struct blkif_request_segment){ .gref = 22, .first_sect = 4, .last_sect = 7 };
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_exec(img, &q, fake_copy, NULL, bounce, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(!memcmp(pages[20], disk, 3072));
    EXPECT(!memcmp(pages[21], disk + 3072, 4096));
    EXPECT(!memcmp(&pages[22][2048], disk + 7168, 2048));

    /* A write with a bad grant in its last segment writes nothing. */
    r = rw(BLKIF_OP_WRITE, 40, 3);
    r.seg[0].gref = 5;
    r.seg[1].gref = 6;
    r.seg[2].gref = 13;
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_exec(img, &q, fake_copy, NULL, bounce, why, sizeof(why)) == BLKIF_RSP_ERROR);
    EXPECT(strstr(why, "grant 13"));
    uint8_t again[sizeof(disk)];
    EXPECT(img_read(img, 40 * 512, again, sizeof(again)) == 0);
    EXPECT(!memcmp(again, disk, sizeof(disk)));
    r.seg[2].gref = 4000;
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_exec(img, &q, fake_copy, NULL, bounce, why, sizeof(why)) == BLKIF_RSP_ERROR);

    /* A read into a page granted read-only: refused. */
    r = rw(BLKIF_OP_READ, 0, 1);
    r.seg[0].gref = 12;
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_exec(img, &q, fake_copy, NULL, bounce, why, sizeof(why)) == BLKIF_RSP_ERROR);

    /* Flush with data, then without; discard. */
    r = rw(BLKIF_OP_FLUSH_DISKCACHE, 100, 1);
    r.seg[0].gref = 7;
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_exec(img, &q, fake_copy, NULL, bounce, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(img_read(img, 100 * 512, disk, 4096) == 0 && !memcmp(disk, pages[7], 4096));
    r = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_exec(img, &q, fake_copy, NULL, bounce, why, sizeof(why)) == BLKIF_RSP_OKAY);
    struct blkif_request_discard *dr = (void *)&r;
    memset(&r, 0, sizeof(r));
    dr->operation = BLKIF_OP_DISCARD;
    dr->sector_number = 0;
    dr->nr_sectors = 2048;
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_exec(img, &q, fake_copy, NULL, bounce, why, sizeof(why)) == BLKIF_RSP_OKAY);
    img_close(img);
}

/* Indirect requests: the header checked by blkif_check, the segment
 * descriptors read from the indirect page (a fake grant, pages[]) and
 * checked by blkif_fetch_indirect, then carried out. */
static blkif_request_t ind(uint8_t op, uint64_t sector, unsigned nseg, grant_ref_t page)
{
    blkif_request_t r;
    memset(&r, 0, sizeof(r));
    struct blkif_request_indirect *ir = (void *)&r;
    ir->operation = BLKIF_OP_INDIRECT;
    ir->indirect_op = op;
    ir->nr_segments = (uint16_t)nseg;
    ir->id = 77;
    ir->sector_number = sector;
    ir->indirect_grefs[0] = page;
    return r;
}

static void indirect(void)
{
    struct img *img = mem_image("raw", 1 << 20);
    struct blkif_disk d = { .sectors = (1 << 20) / 512, .flush = true, .max_indirect = 32 };
    struct blkif_disk ro = d, none = d;
    ro.read_only = true;
    none.max_indirect = 0;
    static uint8_t bounce[BLKIF_EXEC_BOUNCE];
    char why[160];
    struct blkif_req q;
    blkif_request_t r;
    /* Page 0 holds the descriptors: 29 segments, pages 1-11 and 14-31
     * (fake_copy refuses 12 and 13). */
    struct blkif_request_segment *segs = (void *)pages[0];
    for (unsigned i = 0; i < 29; i++)
        segs[i] = (struct blkif_request_segment){ .gref = i < 11 ? 1 + i : 3 + i,
                                                  .first_sect = 0, .last_sect = 7 };
    for (unsigned p = 1; p < NPAGES; p++)
        for (unsigned j = 0; j < 4096; j++)
            pages[p][j] = (uint8_t)(p * 13 + j * 5 + 1);
    uint8_t want[29 * 4096];
    for (unsigned i = 0; i < 29; i++)
        memcpy(want + i * 4096, pages[segs[i].gref], 4096);

    /* Not advertised: EOPNOTSUPP. */
    r = ind(BLKIF_OP_WRITE, 64, 29, 0);
    EXPECT(blkif_check(&none, &r, &q, why, sizeof(why)) == BLKIF_RSP_EOPNOTSUPP);
    /* A good write of 29 segments, answered as a WRITE. */
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(q.op == BLKIF_OP_WRITE && q.id == 77 && q.nseg == 29 && q.nind == 1);
    EXPECT(blkif_exec(img, &q, fake_copy, NULL, bounce, why, sizeof(why)) == BLKIF_RSP_ERROR);
    EXPECT(strstr(why, "not read"));
    EXPECT(blkif_fetch_indirect(&d, &q, fake_copy, NULL, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(q.nind == 0 && q.bytes == 29 * 4096 && q.off == 64 * 512 && q.seg[11].gref == 14);
    EXPECT(blkif_exec(img, &q, fake_copy, NULL, bounce, why, sizeof(why)) == BLKIF_RSP_OKAY);
    uint8_t got[29 * 4096];
    EXPECT(img_read(img, 64 * 512, got, sizeof(got)) == 0 && !memcmp(got, want, sizeof(got)));
    /* Read back into pages 1..29 cleared. */
    for (unsigned p = 1; p < NPAGES; p++)
        memset(pages[p], 0, 4096);
    r = ind(BLKIF_OP_READ, 64, 29, 0);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY && q.op == BLKIF_OP_READ);
    EXPECT(blkif_fetch_indirect(&d, &q, fake_copy, NULL, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_exec(img, &q, fake_copy, NULL, bounce, why, sizeof(why)) == BLKIF_RSP_OKAY);
    for (unsigned i = 0; i < 29; i++)
        EXPECT(!memcmp(pages[segs[i].gref], want + i * 4096, 4096));

    /* Refused: an indirect flush, discard or unknown op; 0, 33, 65535 segments. */
    unsigned bad_ops[] = { BLKIF_OP_FLUSH_DISKCACHE, BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT, 200 };
    for (unsigned i = 0; i < 4; i++) {
        r = ind((uint8_t)bad_ops[i], 0, 1, 0);
        EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
        EXPECT(strstr(why, "indirect request with operation"));
    }
    unsigned bad_n[] = { 0, 33, 65535 };
    for (unsigned i = 0; i < 3; i++) {
        r = ind(BLKIF_OP_READ, 0, bad_n[i], 0);
        EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
        EXPECT(strstr(why, "segments"));
    }
    /* A write on a read-only disk. */
    r = ind(BLKIF_OP_WRITE, 0, 1, 0);
    EXPECT(blkif_check(&ro, &r, &q, why, sizeof(why)) == BLKIF_RSP_ERROR);
    /* An indirect page whose grant does not map (13, 4000): refused, disk unchanged. */
    r = ind(BLKIF_OP_WRITE, 0, 2, 13);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_fetch_indirect(&d, &q, fake_copy, NULL, why, sizeof(why)) == BLKIF_RSP_ERROR);
    EXPECT(strstr(why, "indirect page 0: grant 13"));
    r = ind(BLKIF_OP_READ, 0, 2, 4000);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_fetch_indirect(&d, &q, fake_copy, NULL, why, sizeof(why)) == BLKIF_RSP_ERROR);
    /* A segment past its page (last_sect 8), or backwards. */
    segs[5].last_sect = 8;
    r = ind(BLKIF_OP_READ, 0, 29, 0);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_fetch_indirect(&d, &q, fake_copy, NULL, why, sizeof(why)) == BLKIF_RSP_ERROR);
    EXPECT(strstr(why, "segment 5"));
    segs[5].first_sect = 6;
    segs[5].last_sect = 2;
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_fetch_indirect(&d, &q, fake_copy, NULL, why, sizeof(why)) == BLKIF_RSP_ERROR);
    segs[5].first_sect = 0;
    segs[5].last_sect = 7;
    /* Past the end of the disk: the last 29 pages fit, one sector later does not. */
    r = ind(BLKIF_OP_READ, 2048 - 232, 29, 0);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_fetch_indirect(&d, &q, fake_copy, NULL, why, sizeof(why)) == BLKIF_RSP_OKAY);
    r = ind(BLKIF_OP_READ, 2048 - 231, 29, 0);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_fetch_indirect(&d, &q, fake_copy, NULL, why, sizeof(why)) == BLKIF_RSP_ERROR);
    EXPECT(strstr(why, "past the end"));
    r = ind(BLKIF_OP_READ, ~0ull - 8, 29, 0);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_fetch_indirect(&d, &q, fake_copy, NULL, why, sizeof(why)) == BLKIF_RSP_ERROR);
    /* A frontend that changes the descriptors after the check cannot
     * change what was checked: the copy is private. */
    r = ind(BLKIF_OP_READ, 0, 29, 0);
    EXPECT(blkif_check(&d, &r, &q, why, sizeof(why)) == BLKIF_RSP_OKAY);
    EXPECT(blkif_fetch_indirect(&d, &q, fake_copy, NULL, why, sizeof(why)) == BLKIF_RSP_OKAY);
    segs[0].last_sect = 200;
    EXPECT(q.seg[0].len == 4096);
    segs[0].last_sect = 7;
    img_close(img);
}

/* Persistent grants: a fake map over pages[], counting live mappings. */
static int live_maps;
static grant_ref_t last_unmapped;
static int fake_map(void *ctx, grant_ref_t gref, void **va, uint32_t *handle)
{
    (void)ctx;
    if (gref >= NPAGES || gref == 12 || gref == 13)     /* bad, or read-only */
        return -EPERM;
    *va = pages[gref];
    *handle = 1000 + gref;
    live_maps++;
    return 0;
}
static void fake_unmap(void *ctx, void *va, uint32_t handle)
{
    (void)ctx;
    EXPECT(va == pages[handle - 1000]);
    last_unmapped = handle - 1000;
    live_maps--;
}

static void pgrants(void)
{
    struct blkif_pgrants t;
    void *va;
    EXPECT(blkif_pgrants_init(&t, 0, fake_map, fake_unmap, NULL) == -EINVAL);
    EXPECT(blkif_pgrants_init(&t, BLKIF_PGRANTS_MAX + 1, fake_map, fake_unmap, NULL) == -EINVAL);
    EXPECT(blkif_pgrants_init(&t, 3, fake_map, fake_unmap, NULL) == 0);

    /* Mapped once, kept: the second use is a hit. */
    blkif_pgrants_begin(&t);
    EXPECT(blkif_pgrants_get(&t, 1, &va) == 0 && va == pages[1]);
    EXPECT(blkif_pgrants_get(&t, 2, &va) == 0 && va == pages[2]);
    blkif_pgrants_begin(&t);
    EXPECT(blkif_pgrants_get(&t, 1, &va) == 0 && va == pages[1]);
    EXPECT(t.maps == 2 && t.hits == 1 && live_maps == 2);

    /* A grant that does not map (bad, or granted read-only): nothing kept. */
    EXPECT(blkif_pgrants_get(&t, 13, &va) == -EPERM);
    EXPECT(blkif_pgrants_get(&t, 12, &va) == -EPERM);
    EXPECT(blkif_pgrants_get(&t, 4000, &va) == -EPERM);
    EXPECT(t.n == 2 && live_maps == 2);

    /* Full: the least recently used grant (2, not 1 or 3) is unmapped. */
    EXPECT(blkif_pgrants_get(&t, 3, &va) == 0);
    blkif_pgrants_begin(&t);
    EXPECT(blkif_pgrants_get(&t, 1, &va) == 0);
    EXPECT(blkif_pgrants_get(&t, 3, &va) == 0);
    EXPECT(blkif_pgrants_get(&t, 4, &va) == 0 && va == pages[4]);
    EXPECT(last_unmapped == 2 && t.purged == 1 && live_maps == 3);

    /* Full with every mapping pinned by this request: -ENOSPC, nothing unmapped. */
    EXPECT(blkif_pgrants_get(&t, 5, &va) == -ENOSPC);
    EXPECT(live_maps == 3 && t.purged == 1);
    /* The next request may purge again. */
    blkif_pgrants_begin(&t);
    EXPECT(blkif_pgrants_get(&t, 5, &va) == 0 && va == pages[5]);
    EXPECT(last_unmapped == 1 && live_maps == 3);

    /* Disconnect unmaps them all. */
    blkif_pgrants_fini(&t);
    EXPECT(live_maps == 0);
}

int main(void)
{
    pgrants();
    indirect();
    ring_pages();
    checks();
    ring();
    exec_on("raw");
    exec_on("qcow2");
    UNIT_DONE();
}
