/* blkback.c: serving one frontend's blkif ring from an image: the ring mapped through its grant, requests carried out through grant copies, an event channel each way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/thread.h>
#include <xen/errno.h>

#include "blkback.h"
#include "blkif_core.h"
#include "blkif_exec.h"
#include "blkif_pgrant.h"

struct blkback {
    struct blkback_conf c;
    struct blkif_disk disk;
    blkif_back_ring_t ring;
    void *ring_va;
    unsigned ring_pages;
    grant_handle_t ring_handle[BLKIF_MAX_RING_PAGES];
    evtchn_port_t port;             /* ours */
    struct minios_waitq wq;
    struct minios_thread *thread;
    volatile bool kick, stop, stopped, cut;
    char why[BLKBACK_WHY_LEN];
    uint64_t ok, failed, indirect;
    struct blkif_pgrants pg;        /* c.persistent: the frontend's pages kept mapped */
    /* Answers to writes and discards carried out, held until what finds
     * their data survives this domain's crash (release_held, when the
     * ring is drained); at most one per ring entry. */
    struct held { uint64_t id; uint8_t op; int16_t st; } *held;
    unsigned nheld;
    uint64_t held_total, commits;
};

/* The image library and the store below it are not reentrant, and a
 * thread waiting for the disk lets the others run: one request at a time
 * is carried out in this domain, whichever frontend it is from. */
static struct minios_waitq exec_wq = MINIOS_WAITQ_INIT;
static volatile bool exec_busy;
/* One request's data (BLKIF_MAX_SEGS pages), used under the lock by
 * whichever frontend's request is being carried out. */
static uint8_t *bounce;

void blkback_lock(void)
{
    MINIOS_WAIT_EVENT(&exec_wq, !exec_busy);
    exec_busy = true;
}

void blkback_unlock(void)
{
    exec_busy = false;
    /* Let a waiter take it now: otherwise this thread (threads are not
     * preempted) takes it again for its next request, and a busy
     * frontend starves the others and vbd_close. */
    if (minios_waitq_wake_all(&exec_wq))
        minios_thread_yield();
}

static void unmap_ring(struct blkback *b)
{
    for (unsigned i = 0; i < b->ring_pages; i++)
        minios_gnttab_unmap((uint8_t *)b->ring_va + i * 4096, b->ring_handle[i]);
    b->ring_va = NULL;
}

static void on_event(evtchn_port_t port, void *data)
{
    (void)port;
    struct blkback *b = data;
    b->kick = true;
    minios_waitq_wake_all(&b->wq);
}

/* One GNTTABOP_copy per page-contiguous piece of the local buffer. */
static int grant_copy_op(void *ctx, grant_ref_t gref, uint16_t off, void *buf, uint16_t len,
                      bool to_guest)
{
    struct blkback *b = ctx;
    uint8_t *p = buf;
    while (len) {
        uint16_t in_page = (uint16_t)(4096 - ((uintptr_t)p & 4095));
        uint16_t n = len < in_page ? len : in_page;
        struct gnttab_copy op;
        memset(&op, 0, sizeof(op));
        struct gnttab_copy_ptr local = {
            .u.gmfn = minios_gnttab_virt_to_mfn(p), .domid = DOMID_SELF,
            .offset = (uint16_t)((uintptr_t)p & 4095),
        };
        struct gnttab_copy_ptr remote = { .u.ref = gref, .domid = b->c.frontend, .offset = off };
        if (to_guest) {
            op.source = local;
            op.dest = remote;
            op.flags = GNTCOPY_dest_gref;
        } else {
            op.source = remote;
            op.dest = local;
            op.flags = GNTCOPY_source_gref;
        }
        op.len = n;
        int rc = minios_gnttab_copy(&op, 1);
        if (rc)
            return rc;
        if (op.status != GNTST_okay)
            return -XEN_EPERM;
        p += n;
        off = (uint16_t)(off + n);
        len = (uint16_t)(len - n);
    }
    return 0;
}

static int pg_map(void *ctx, grant_ref_t gref, void **va, uint32_t *handle)
{
    struct blkback *b = ctx;
    grant_handle_t h;
    void *p = minios_gnttab_map(b->c.frontend, gref, 0, &h);
    if (!p)
        return -XEN_EPERM;      /* bad, or granted read-only: copied instead */
    *va = p;
    *handle = h;
    return 0;
}

static void pg_unmap(void *ctx, void *va, uint32_t handle)
{
    (void)ctx;
    minios_gnttab_unmap(va, (grant_handle_t)handle);
}

/* With persistent grants the page stays mapped and the data is a
 * memcpy; a grant that does not map writable, or a full table, falls
 * back to a grant copy (which checks the grant's own permissions). */
static int grant_copy(void *ctx, grant_ref_t gref, uint16_t off, void *buf, uint16_t len,
                      bool to_guest)
{
    struct blkback *b = ctx;
    void *va;
    if (b->c.persistent && (uint32_t)off + len <= 4096 &&
        blkif_pgrants_get(&b->pg, gref, &va) == 0) {
        if (to_guest)
            memcpy((uint8_t *)va + off, buf, len);
        else
            memcpy(buf, (uint8_t *)va + off, len);
        return 0;
    }
    return grant_copy_op(ctx, gref, off, buf, len, to_guest);
}

/* selftest=crash-after-writes=N (tests only, docs/disk-restart.md). */
static unsigned long crash_after, writes_done;

void blkback_selftest_crash_after_writes(unsigned long n)
{
    crash_after = n;
}

/* After a write was carried out, before it is answered: the frontend
 * must issue it again to the next life, which writes it again. */
static void selftest_after(const struct blkback *b, const struct blkif_req *q, int st)
{
    if (!crash_after || q->op != BLKIF_OP_WRITE || st != BLKIF_RSP_OKAY ||
        ++writes_done < crash_after)
        return;
    printf("tapdisk: selftest=crash-after-writes=%lu: d%u's write at sector %llu carried out, "
           "not answered: crashing\n", crash_after, b->c.frontend,
           (unsigned long long)(q->off / 512));
    abort();
}

/*
 * The ring is drained (or the frontend goes): the writes carried out
 * since the last drain are made to survive this domain's crash, then
 * answered.  One commit covers every request of the drain (and every
 * other frontend's before it: a later drain that finds nothing held
 * costs nothing); an overwrite that changed no metadata holds nothing.
 * If the commit fails the writes are answered with an error: they may
 * not survive.
 */
static void release_held(struct blkback *b)
{
    blkback_lock();
    int rc = img_persist(b->c.img);
    blkback_unlock();
    if (rc > 0)
        b->commits++;
    if (rc < 0)
        printf("blkback: d%u: making %u answered write%s survive a crash failed (%d): "
               "answered with an error\n", b->c.frontend, b->nheld, b->nheld == 1 ? "" : "s", rc);
    bool notify = false;
    for (unsigned i = 0; i < b->nheld; i++) {
        const struct held *h = &b->held[i];
        int16_t st = rc < 0 ? BLKIF_RSP_ERROR : h->st;
        if (rc < 0 && h->st == BLKIF_RSP_OKAY) {
            b->ok--;
            b->failed++;
        }
        notify |= blkif_ring_respond(&b->ring, h->id, h->op, st) != 0;
    }
    b->held_total += b->nheld;
    b->nheld = 0;
    if (notify)
        minios_evtchn_send(b->port);
}

static void cut_off(struct blkback *b, const char *why)
{
    snprintf(b->why, sizeof(b->why), "frontend d%u cut off: %s", b->c.frontend, why);
    printf("blkback: %s\n", b->why);
    b->cut = true;
}

static void serve(void *arg)
{
    struct blkback *b = arg;
    blkif_request_t r;
    struct blkif_req q;
    char why[160];
    while (!b->stop && !b->cut) {
        int rc = blkif_ring_next(&b->ring, &r);
        if (rc < 0) {
            cut_off(b, "impossible request producer index");
            break;
        }
        if (rc == 0) {
            if (b->nheld) {
                release_held(b);
                continue;
            }
            if (blkif_ring_final_check(&b->ring))
                continue;
            MINIOS_WAIT_EVENT(&b->wq, b->kick || b->stop);
            b->kick = false;
            continue;
        }
        int st = blkif_check(&b->disk, &r, &q, why, sizeof(why));
        if (st == BLKIF_RSP_OKAY) {
            blkback_lock();
            if (b->c.persistent)
                blkif_pgrants_begin(&b->pg);
            if (q.nind)
                b->indirect++;
            st = blkif_fetch_indirect(&b->disk, &q, grant_copy, b, why, sizeof(why));
            if (st == BLKIF_RSP_OKAY)
                st = blkif_exec(b->c.img, &q, grant_copy, b, bounce, why, sizeof(why));
            blkback_unlock();
            selftest_after(b, &q, st);
        }
        if (st == BLKIF_RSP_OKAY)
            b->ok++;
        else {
            b->failed++;
            printf("blkback: d%u request %llu (op %u): %s: %s\n", b->c.frontend,
                   (unsigned long long)q.id, q.op,
                   st == BLKIF_RSP_EOPNOTSUPP ? "not supported" : "error", why);
        }
        if (st == BLKIF_RSP_OKAY && (q.op == BLKIF_OP_WRITE || q.op == BLKIF_OP_DISCARD)) {
            /* At most one per ring entry are outstanding: never full. */
            if (b->nheld == RING_SIZE(&b->ring))
                release_held(b);
            b->held[b->nheld++] = (struct held){ q.id, q.op, (int16_t)st };
            continue;
        }
        if (blkif_ring_respond(&b->ring, q.id, q.op, (int16_t)st))
            minios_evtchn_send(b->port);
    }
    /* Going (disconnect): what was carried out is still answered. */
    if (!b->cut && b->nheld)
        release_held(b);
    printf("blkback: d%u: %llu requests answered OKAY (%llu indirect), %llu refused; "
           "%llu write answers held for %llu store commit%s\n",
           b->c.frontend, (unsigned long long)b->ok, (unsigned long long)b->indirect,
           (unsigned long long)b->failed, (unsigned long long)b->held_total,
           (unsigned long long)b->commits, b->commits == 1 ? "" : "s");
    /* Disconnected or cut off: the persistent grants are unmapped. */
    if (b->c.persistent) {
        printf("blkback: d%u: persistent grants: %llu mapped, %llu reused, %llu purged\n",
               b->c.frontend, (unsigned long long)b->pg.maps, (unsigned long long)b->pg.hits,
               (unsigned long long)b->pg.purged);
        blkif_pgrants_fini(&b->pg);
    }
    /* Cut off: nothing of this frontend is touched again. */
    if (b->cut) {
        minios_evtchn_close(b->port);
        unmap_ring(b);
    }
    b->stopped = true;
    minios_waitq_wake_all(&b->wq);
    minios_thread_exit();
}

int blkback_connect(const struct blkback_conf *c, struct blkback **out, char *err)
{
    struct blkback *b = calloc(1, sizeof(*b));
    if (!bounce)
        bounce = malloc(BLKIF_EXEC_BOUNCE);        /* grant_copy splits at pages */
    if (!b || !bounce) {
        free(b);
        snprintf(err, BLKBACK_WHY_LEN, "out of memory");
        return -XEN_ENOMEM;
    }
    if (c->max_indirect > BLKIF_MAX_SEGS) {
        free(b);
        snprintf(err, BLKBACK_WHY_LEN, "at most %u indirect segments", BLKIF_MAX_SEGS);
        return -XEN_EINVAL;
    }
    b->c = *c;
    b->disk.max_indirect = c->max_indirect;
    b->disk.sectors = c->img->size / 512;
    b->disk.read_only = c->read_only;
    b->disk.flush = c->flush;
    b->disk.discard = c->discard;
    minios_waitq_init(&b->wq);
    if (c->persistent && blkif_pgrants_init(&b->pg, BLKIF_PGRANTS_MAX, pg_map, pg_unmap, b)) {
        snprintf(err, BLKBACK_WHY_LEN, "out of memory");
        free(b);
        return -XEN_ENOMEM;
    }
    b->ring_pages = c->ring_pages > 1 ? c->ring_pages : 1;
    if (b->ring_pages > BLKIF_MAX_RING_PAGES || (b->ring_pages & (b->ring_pages - 1))) {
        snprintf(err, BLKBACK_WHY_LEN, "a ring of %u pages", c->ring_pages);
        if (c->persistent)
            blkif_pgrants_fini(&b->pg);
        free(b);
        return -XEN_EINVAL;
    }
    if (b->ring_pages == 1)
        b->ring_va = minios_gnttab_map(c->frontend, c->ring_ref, 0, &b->ring_handle[0]);
    else
        b->ring_va = minios_gnttab_map_n(c->frontend, c->ring_refs, b->ring_pages, 0,
                                         b->ring_handle);
    if (!b->ring_va) {
        snprintf(err, BLKBACK_WHY_LEN, "d%u's ring grant%s %u%s cannot be mapped (GNTST %d)",
                 c->frontend, b->ring_pages > 1 ? "s" : "",
                 b->ring_pages > 1 ? c->ring_refs[0] : c->ring_ref,
                 b->ring_pages > 1 ? "..." : "", minios_gnttab_last_status());
        if (c->persistent)
            blkif_pgrants_fini(&b->pg);
        free(b);
        return -XEN_EINVAL;
    }
    BACK_RING_INIT(&b->ring, (blkif_sring_t *)b->ring_va, 4096 * b->ring_pages);
    b->held = calloc(RING_SIZE(&b->ring), sizeof(*b->held));
    int rc = b->held ? minios_evtchn_bind_interdomain(c->frontend, c->port, &b->port)
                     : -XEN_ENOMEM;
    if (!rc)
        rc = minios_evtchn_bind(b->port, on_event, b);
    if (rc) {
        if (b->held)
            snprintf(err, BLKBACK_WHY_LEN, "d%u's event channel %u cannot be bound (%d)",
                     c->frontend, c->port, rc);
        else
            snprintf(err, BLKBACK_WHY_LEN, "out of memory");
        if (b->port)
            minios_evtchn_close(b->port);
        unmap_ring(b);
        if (c->persistent)
            blkif_pgrants_fini(&b->pg);
        free(b->held);
        free(b);
        return rc;
    }
    b->thread = minios_thread_create("blkback", serve, b, 64 << 10);
    if (!b->thread) {
        snprintf(err, BLKBACK_WHY_LEN, "no thread");
        minios_evtchn_close(b->port);
        unmap_ring(b);
        if (c->persistent)
            blkif_pgrants_fini(&b->pg);
        free(b->held);
        free(b);
        return -XEN_ENOMEM;
    }
    *out = b;
    return 0;
}

bool blkback_cut_off(struct blkback *b, char *why)
{
    if (b->cut && why)
        snprintf(why, BLKBACK_WHY_LEN, "%s", b->why);
    return b->cut;
}

void blkback_counts(struct blkback *b, uint64_t *ok, uint64_t *failed)
{
    *ok = b->ok;
    *failed = b->failed;
}

void blkback_disconnect(struct blkback *b)
{
    b->stop = true;
    minios_waitq_wake_all(&b->wq);
    MINIOS_WAIT_EVENT(&b->wq, b->stopped);
    if (b->ring_va) {
        minios_evtchn_close(b->port);
        unmap_ring(b);
    }
    free(b->held);
    free(b);
}
