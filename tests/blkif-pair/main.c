/* Guest test: blkif between two domains without xenstore: a backend (the tapdisk code: store, image library, blkback) serves a qcow2 image on the store to a frontend that drives the ring itself, hostile requests included. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <keel/image.h>
#include <keel/store.h>
#include <minios/blk.h>
#include <minios/blkfront.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/pci.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <xen/errno.h>

#include "args.h"
#include "blkback.h"
#include "blkif_core.h"
#include "peer.h"
#include "report.h"

/*
 * op=back (store=BB:DD.F peer=F peer2=G): opens /images/disk.qcow2 and
 * /images/good.raw on the store, maps each frontend's control page (its
 * first grant, REF_CTL), connects blkback to the ring and port the page
 * names, serves F from the qcow2 and G from the raw image until F is cut
 * off and G is done; then closes the images and the store (run.sh checks
 * them).
 * op=good (peer=B): minios's blkfront (<minios/blkfront.h>) writes,
 * flushes and reads back 704 KiB (requests in flight on all its slots),
 * once, and once more (at sector 4096) after the backend cut op=front
 * off; blkfront's own refusals (not connected, past the end, empty, no
 * buffer) are checked first.
 * op=front (peer=B): grants the control page, the ring page and
 * NDATA data pages, allocates the event channel, and then:
 *  - writes WR_REQS requests of 11 full pages at once (all in flight),
 *    flushes, reads them back with as many reads in flight: byte-exact;
 *  - hostile requests, each answered alone: past the end, a bad grant,
 *    an unknown operation, a segment past its page (ERROR), barrier
 *    (EOPNOTSUPP, not advertised); a good read still works;
 *  - indirect requests: a good read of 20 segments (byte-exact,
 *    answered as a read); refused (ERROR): an indirect flush, 33
 *    segments, an indirect page that grants nothing, a segment past its
 *    page, a range past the end;
 *  - an impossible producer index: the backend cuts it off.
 */
#define PG       4096
#define SEGS     BLKIF_MAX_SEGMENTS_PER_REQUEST
#define WR_REQS  16
#define NDATA    (WR_REQS * SEGS)
#define REF_CTL  8
#define REF_RING 9
#define REF_DATA 10

struct ctl {
    volatile uint32_t state;        /* 1 front ready, 2 back connected, 3 cut off, 4 front done */
    uint32_t ring_ref, port;
    uint64_t sectors;
    char why[BLKBACK_WHY_LEN];
};

static uint8_t ctl_page[PG] __attribute__((aligned(PG)));
static uint8_t ring_page[PG] __attribute__((aligned(PG)));
static uint8_t data[NDATA][PG] __attribute__((aligned(PG)));

static uint8_t pat(uint64_t sector, unsigned j) { return (uint8_t)(sector * 17 + j * 5 + 0x3c); }

/* ---- the frontend ---- */

static blkif_front_ring_t front;
static evtchn_port_t fport;
static domid_t peer;
static struct minios_waitq fwq = MINIOS_WAITQ_INIT;
static volatile bool fkick;
static int16_t status_of[256];
static uint8_t op_of[256];
static unsigned answered;

static void on_front_event(evtchn_port_t port, void *d)
{
    (void)port;
    (void)d;
    fkick = true;
    minios_waitq_wake_all(&fwq);
}

static void push(void)
{
    int notify;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
    if (notify)
        minios_evtchn_send(fport);
}

static blkif_request_t *next_req(uint8_t op, uint64_t id, uint64_t sector, unsigned nseg,
                                 unsigned first_page)
{
    blkif_request_t *r = RING_GET_REQUEST(&front, front.req_prod_pvt++);
    memset(r, 0, sizeof(*r));
    r->operation = op;
    r->id = id;
    r->sector_number = sector;
    r->nr_segments = (uint8_t)nseg;
    for (unsigned i = 0; i < nseg; i++) {
        r->seg[i].gref = REF_DATA + first_page + i;
        r->seg[i].first_sect = 0;
        r->seg[i].last_sect = 7;
    }
    return r;
}

/* Collects responses until n more have arrived (ids < 256). */
static void collect(unsigned n)
{
    unsigned want = answered + n;
    uint64_t deadline = minios_monotonic_ns() + 20000000000ull;
    while (answered < want) {
        RING_IDX rp = front.sring->rsp_prod;
        rmb();
        while (front.rsp_cons != rp) {
            blkif_response_t *rsp = RING_GET_RESPONSE(&front, front.rsp_cons++);
            if (rsp->id < 256) {
                status_of[rsp->id] = rsp->status;
                op_of[rsp->id] = rsp->operation;
            }
            answered++;
        }
        int more;
        RING_FINAL_CHECK_FOR_RESPONSES(&front, more);
        if (more)
            continue;
        if (answered >= want)
            break;
        unsigned long f = minios_events_save();
        if (!fkick && front.sring->rsp_prod == front.rsp_cons)
            minios_waitq_wait(&fwq, deadline);
        fkick = false;
        minios_events_restore(f);
        if (minios_monotonic_ns() > deadline) {
            test_error("no response from the backend (%u of %u)", answered, want);
            exit(test_finish());
        }
    }
}

static void expect_status(uint64_t id, int16_t want, const char *what)
{
    if (status_of[id] != want)
        test_fail("%s: status %d, expected %d", what, status_of[id], want);
    else
        printf("%s: %s\n", what, want == BLKIF_RSP_OKAY ? "OKAY" :
               want == BLKIF_RSP_ERROR ? "BLKIF_RSP_ERROR" : "BLKIF_RSP_EOPNOTSUPP");
}

static struct ctl *front_setup(void)
{
    struct ctl *c = (struct ctl *)ctl_page;
    CHECK_EQ(minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(ctl_page), 0), REF_CTL);
    CHECK_EQ(minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(ring_page), 0), REF_RING);
    for (unsigned i = 0; i < NDATA; i++)
        CHECK_EQ(minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(data[i]), 0),
                 REF_DATA + i);
    blkif_sring_t *s = (blkif_sring_t *)ring_page;
    SHARED_RING_INIT(s);
    FRONT_RING_INIT(&front, s, PG);
    CHECK_EQ(minios_evtchn_alloc_unbound(peer, &fport), 0);
    CHECK_EQ(minios_evtchn_bind(fport, on_front_event, NULL), 0);
    c->ring_ref = REF_RING;
    c->port = fport;
    wmb();
    c->state = 1;
    peer_wait_state(&c->state, 2, 100000000ul);
    printf("connected: %llu sectors\n", (unsigned long long)c->sectors);
    return c;
}

/* WR_REQS writes of 11 pages each from sector base, all in flight, a
 * flush, and as many reads back: byte-exact. */
static void round_trip(uint64_t base)
{
    for (unsigned q = 0; q < WR_REQS; q++)
        for (unsigned i = 0; i < SEGS; i++)
            for (unsigned j = 0; j < PG; j++) {
                uint64_t sec = base + (uint64_t)(q * SEGS + i) * 8 + j / 512;
                data[q * SEGS + i][j] = pat(sec, j % 512);
            }
    for (unsigned q = 0; q < WR_REQS; q++)
        next_req(BLKIF_OP_WRITE, q, base + (uint64_t)q * SEGS * 8, SEGS, q * SEGS);
    push();
    collect(WR_REQS);
    for (unsigned q = 0; q < WR_REQS; q++)
        if (status_of[q] != BLKIF_RSP_OKAY || op_of[q] != BLKIF_OP_WRITE)
            test_fail("write %u: status %d op %u", q, status_of[q], op_of[q]);
    next_req(BLKIF_OP_FLUSH_DISKCACHE, 20, 0, 0, 0);
    push();
    collect(1);
    expect_status(20, BLKIF_RSP_OKAY, "flush");

    memset(data, 0, sizeof(data));
    for (unsigned q = 0; q < WR_REQS; q++)
        next_req(BLKIF_OP_READ, 30 + q, base + (uint64_t)q * SEGS * 8, SEGS, q * SEGS);
    push();
    collect(WR_REQS);
    unsigned bad = 0;
    for (unsigned q = 0; q < WR_REQS; q++) {
        bad += status_of[30 + q] != BLKIF_RSP_OKAY;
        for (unsigned i = 0; i < SEGS; i++)
            for (unsigned j = 0; j < PG; j++) {
                uint64_t sec = base + (uint64_t)(q * SEGS + i) * 8 + j / 512;
                bad += data[q * SEGS + i][j] != pat(sec, j % 512);
            }
    }
    if (bad)
        test_fail("read back from sector %llu: %u bad", (unsigned long long)base, bad);
    else
        printf("%u writes and %u reads of 11 pages each in flight at once from sector %llu, "
               "flushed: byte-exact\n", WR_REQS, WR_REQS, (unsigned long long)base);
}

/* op=good: a well-behaved frontend of another disk, through minios's
 * blkfront: a round, and one more after the hostile one was cut off. */
static void blkfront_round(struct minios_blkfront *bf, uint64_t base)
{
    uint8_t *buf = (uint8_t *)data;
    const size_t n = sizeof(data) / 512;
    for (size_t i = 0; i < sizeof(data); i++)
        buf[i] = pat(base + i / 512, i % 512);
    CHECK_EQ(minios_blkfront_write(bf, base, buf, n), 0);
    CHECK_EQ(minios_blkfront_flush(bf), 0);
    memset(data, 0, sizeof(data));
    CHECK_EQ(minios_blkfront_read(bf, base, buf, n), 0);
    unsigned bad = 0;
    for (size_t i = 0; i < sizeof(data); i++)
        bad += buf[i] != pat(base + i / 512, i % 512);
    if (bad)
        test_fail("blkfront: read back from sector %llu: %u bad", (unsigned long long)base, bad);
    else
        printf("blkfront: wrote %zu sectors from sector %llu, flushed, read back: byte-exact\n",
               n, (unsigned long long)base);
}

static int good_frontend(void)
{
    struct ctl *c = (struct ctl *)ctl_page;
    CHECK_EQ(minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(ctl_page), 0), REF_CTL);
    struct minios_blkfront *bf;
    grant_ref_t rr;
    evtchn_port_t port;
    int rc = minios_blkfront_create(peer, &bf, &rr, &port);
    if (rc) {
        test_fail("minios_blkfront_create: %d", rc);
        return test_finish();
    }
    c->ring_ref = rr;
    c->port = port;
    wmb();
    c->state = 1;
    peer_wait_state(&c->state, 2, 100000000ul);
    printf("connected: %llu sectors\n", (unsigned long long)c->sectors);
    uint8_t b[512];
    CHECK_EQ(minios_blkfront_read(bf, 0, b, 1), -XEN_ENOTCONN);
    minios_blkfront_connected(bf, c->sectors, false, true);
    CHECK_EQ(minios_blkfront_read(bf, c->sectors - 1, b, 2), -XEN_EINVAL);
    CHECK_EQ(minios_blkfront_read(bf, 0, b, 0), -XEN_EINVAL);
    CHECK_EQ(minios_blkfront_read(bf, 0, NULL, 1), -XEN_EINVAL);
    blkfront_round(bf, 0);
    c->state = 3;                   /* round one done */
    peer_wait_state(&c->state, 5, 100000000ul);
    printf("the other frontend was cut off; going on\n");
    blkfront_round(bf, 4096);
    uint64_t done;
    unsigned maxin;
    minios_blkfront_stats(bf, &done, &maxin);
    printf("blkfront: %llu requests answered, up to %u in flight at once\n",
           (unsigned long long)done, maxin);
    c->state = 6;
    return test_finish();
}

static int frontend(void)
{
    struct ctl *c = front_setup();
    blkif_sring_t *s = (blkif_sring_t *)ring_page;
    round_trip(0);
    unsigned bad;
    blkif_request_t *r;

    /* Hostile requests: each answered alone. */
    next_req(BLKIF_OP_READ, 50, c->sectors - 4, 1, 0);
    r = next_req(BLKIF_OP_WRITE, 51, 0, 2, 0);
    r->seg[1].gref = 5000;
    next_req(77, 52, 0, 1, 0);
    r = next_req(BLKIF_OP_READ, 53, 0, 1, 0);
    r->seg[0].last_sect = 8;
    next_req(BLKIF_OP_WRITE_BARRIER, 54, 0, 1, 0);
    next_req(BLKIF_OP_READ, 56, 8, 1, 0);
    push();
    collect(6);
    expect_status(50, BLKIF_RSP_ERROR, "refused: read past the end");
    expect_status(51, BLKIF_RSP_ERROR, "refused: write with a bad grant");
    expect_status(52, BLKIF_RSP_ERROR, "refused: unknown operation 77");
    expect_status(53, BLKIF_RSP_ERROR, "refused: segment past its page");
    expect_status(54, BLKIF_RSP_EOPNOTSUPP, "refused: write barrier (not advertised)");
    expect_status(56, BLKIF_RSP_OKAY, "a good read after them");
    bad = 0;
    for (unsigned j = 0; j < PG; j++)
        bad += data[0][j] != pat(8 + j / 512, j % 512);
    CHECK_EQ(bad, 0);

    /* Indirect requests (the backend offers 32 segments): descriptors in
     * data page NDATA-1 (20 segments: pages 1-20), a bad copy of them in
     * NDATA-2 (segment 3 past its page). */
    struct blkif_request_segment *good = (void *)data[NDATA - 1], *badseg = (void *)data[NDATA - 2];
    memset(data[1], 0, 20 * PG);
    for (unsigned i = 0; i < 20; i++)
        good[i] = (struct blkif_request_segment){ .gref = REF_DATA + 1 + i, .first_sect = 0,
                                                  .last_sect = 7 };
    memcpy(badseg, good, 20 * sizeof(*good));
    badseg[3].last_sect = 8;
    const struct { uint8_t op; uint16_t nseg; grant_ref_t page; uint64_t sector;
                          int16_t want; const char *what; } ind[] = {
        { BLKIF_OP_READ, 20, REF_DATA + NDATA - 1, 8, BLKIF_RSP_OKAY, "indirect read of 20 segments" },
        { BLKIF_OP_FLUSH_DISKCACHE, 1, REF_DATA + NDATA - 1, 8, BLKIF_RSP_ERROR,
          "refused: indirect flush" },
        { BLKIF_OP_READ, 33, REF_DATA + NDATA - 1, 8, BLKIF_RSP_ERROR,
          "refused: indirect of 33 segments" },
        { BLKIF_OP_READ, 20, 5000, 8, BLKIF_RSP_ERROR,
          "refused: indirect page that grants nothing" },
        { BLKIF_OP_READ, 20, REF_DATA + NDATA - 2, 8, BLKIF_RSP_ERROR,
          "refused: indirect segment past its page" },
        { BLKIF_OP_READ, 20, REF_DATA + NDATA - 1, c->sectors - 159, BLKIF_RSP_ERROR,
          "refused: indirect read past the end" },
    };
    for (unsigned k = 0; k < 6; k++) {
        blkif_request_indirect_t *ir = (void *)RING_GET_REQUEST(&front, front.req_prod_pvt++);
        memset(ir, 0, sizeof(*ir));
        ir->operation = BLKIF_OP_INDIRECT;
        ir->indirect_op = ind[k].op;
        ir->nr_segments = ind[k].nseg;
        ir->id = 60 + k;
        ir->sector_number = ind[k].sector;
        ir->indirect_grefs[0] = ind[k].page;
    }
    push();
    collect(6);
    for (unsigned k = 0; k < 6; k++)
        expect_status(60 + k, ind[k].want, ind[k].what);
    if (op_of[60] != BLKIF_OP_READ)
        test_fail("the indirect read was answered as operation %u", op_of[60]);
    bad = 0;
    for (unsigned i = 0; i < 20; i++)
        for (unsigned j = 0; j < PG; j++)
            bad += data[1 + i][j] != pat(8 + i * 8 + j / 512, j % 512);
    if (bad)
        test_fail("indirect read: %u bytes differ", bad);
    else
        printf("indirect read of 20 segments: byte-exact, answered as a read\n");

    /* An impossible producer index: cut off. */
    s->req_prod = front.req_prod_pvt + 1000;
    minios_evtchn_send(fport);
    peer_wait_state(&c->state, 3, 100000000ul);
    printf("backend says: %s\n", c->why);
    c->state = 4;
    return test_finish();
}

/* ---- the backend ---- */

static domid_t peer2;

/* peer_wait_state, but letting the blkback threads run meanwhile. */
static void back_wait_state(volatile uint32_t *s, uint32_t want)
{
    for (unsigned i = 0; *s < want; i++) {
        if (i == 30000) {
            test_error("timed out waiting for state %u (at %u)", want, *s);
            exit(test_finish());
        }
        minios_thread_sleep_ns(1000000);
    }
}

static struct img *open_image(struct store *st, const char *path)
{
    struct img_io *io;
    struct img *img;
    char err[IMG_ERR_LEN];
    int rc = store_file_open(st, path, true, &io, err);
    if (!rc)
        rc = img_open(io, NULL, IMG_OPEN_RDWR, NULL, &img, err);
    if (rc) {
        test_fail("%s: %d: %s", path, rc, err);
        exit(test_finish());
    }
    return img;
}

/* Maps frontend fe's control page, waits for its ring and serves img on it. */
static struct blkback *serve_frontend(domid_t fe, struct img *img, struct ctl **cp,
                                      grant_handle_t *h)
{
    struct ctl *c = NULL;
    char err[BLKBACK_WHY_LEN];
    for (unsigned i = 0; i < 1000 && !c; i++) {
        c = minios_gnttab_map(fe, REF_CTL, 0, h);
        if (!c)
            minios_thread_sleep_ns(10000000);
    }
    if (!c) {
        test_error("cannot map d%u's control page", fe);
        exit(test_finish());
    }
    back_wait_state(&c->state, 1);
    struct blkback_conf conf = {
        .frontend = fe, .ring_ref = c->ring_ref, .port = c->port, .img = img, .flush = true,
        .max_indirect = BLKIF_MAX_SEGS,
    };
    struct blkback *b;
    int rc = blkback_connect(&conf, &b, err);
    if (rc) {
        test_fail("blkback_connect d%u: %d: %s", fe, rc, err);
        exit(test_finish());
    }
    c->sectors = img->size / 512;
    wmb();
    c->state = 2;
    *cp = c;
    return b;
}

static int backend(int argc, char **argv)
{
    uint16_t bdf = 0xffff;
    const char *sa = test_arg(argc, argv, "store"), *p2 = test_arg(argc, argv, "peer2");
    struct minios_blk *dev;
    char err[IMG_ERR_LEN];
    if (!sa || !p2 || minios_pci_parse_bdf(sa, &bdf) || minios_blk_open(bdf, &dev)) {
        test_error("needs store=BB:DD.F (a virtio-blk device of ours) and peer2=");
        return test_finish();
    }
    peer2 = (domid_t)atoi(p2);
    struct store *st;
    int rc = store_open(dev, true, &st, err);
    if (rc) {
        test_fail("store_open: %d: %s", rc, err);
        return test_finish();
    }
    struct img *img = open_image(st, "/images/disk.qcow2");
    struct img *img2 = open_image(st, "/images/good.raw");
    struct ctl *c, *c2;
    grant_handle_t h, h2;
    struct blkback *b = serve_frontend(peer, img, &c, &h);
    struct blkback *b2 = serve_frontend(peer2, img2, &c2, &h2);

    while (!blkback_cut_off(b, c->why))
        minios_thread_sleep_ns(10000000);
    wmb();
    c->state = 3;
    /* The well-behaved frontend goes on after the other's cut-off. */
    back_wait_state(&c2->state, 3);
    c2->state = 5;
    back_wait_state(&c2->state, 6);
    back_wait_state(&c->state, 4);
    if (blkback_cut_off(b2, NULL))
        test_fail("the well-behaved frontend was cut off too");
    uint64_t ok, failed, ok2, failed2;
    blkback_counts(b, &ok, &failed);
    blkback_counts(b2, &ok2, &failed2);
    printf("served d%u: %llu OKAY, %llu refused; %s\n", peer, (unsigned long long)ok,
           (unsigned long long)failed, c->why);
    printf("served d%u: %llu OKAY, %llu refused; connected\n", peer2, (unsigned long long)ok2,
           (unsigned long long)failed2);
    blkback_disconnect(b);
    blkback_disconnect(b2);
    minios_gnttab_unmap(c, h);
    minios_gnttab_unmap(c2, h2);
    img_close(img);
    img_close(img2);
    rc = store_close(st, err);
    if (rc)
        test_fail("store_close: %d: %s", rc, err);
    else
        printf("images and store closed\n");
    return test_finish();
}

int main(int argc, char **argv)
{
    const char *op = test_arg(argc, argv, "op"), *p = test_arg(argc, argv, "peer");
    if (!p) {
        test_error("needs peer=DOMID");
        return test_finish();
    }
    peer = (domid_t)atoi(p);
    if (minios_gnttab_init()) {
        test_error("no grant table");
        return test_finish();
    }
    if (op && !strcmp(op, "back"))
        return backend(argc, argv);
    if (op && !strcmp(op, "front"))
        return frontend();
    if (op && !strcmp(op, "good"))
        return good_frontend();
    test_error("op=back|front|good");
    return test_finish();
}
