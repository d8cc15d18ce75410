/* blkfront.c: minios's Xen blkif frontend: a ring and granted data pages per request slot, requests from threads, responses from the event channel. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <minios/blkfront.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/mm.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <minios/xenbus.h>
#include <xen/errno.h>

#define mb()  __asm__ volatile("mfence" ::: "memory")
#define rmb() __asm__ volatile("" ::: "memory")
#define wmb() __asm__ volatile("" ::: "memory")
#define xen_mb()  mb()
#define xen_rmb() rmb()
#define xen_wmb() wmb()
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

#define SEGS         BLKIF_MAX_SEGMENTS_PER_REQUEST
#define MAX_SEGS     MINIOS_BLKFRONT_MAX_INDIRECT_SEGS   /* with indirect descriptors */
#define TIMEOUT_NS   30000000000ull
#define RECONNECT_NS 10000000000ull   /* a backend gone this long is given up */
#define POLL_NS      2000000ull       /* the backend's state, when no watch could be set */
#define RECHECK_NS   1000000000ull    /* connected: the state watch, and a look this often */
#define MAX_ORDER    MINIOS_BLKFRONT_MAX_RING_ORDER
#define MAX_SLOTS    (32u << MAX_ORDER)  /* a ring of 2^order pages holds 32 << order requests */
#define RW_DEPTH     8u               /* one read or write call keeps at most this many in flight */

struct slot {
    bool busy, done;
    bool abandoned;                  /* timed out: freed by its response or a reconnection */
    int16_t status;
    uint8_t op;                      /* the request, kept to re-issue it on a new ring */
    unsigned nsect;
    uint64_t sector, seq;
    uint8_t *pages;                  /* f->segs pages, granted to the backend (on first use) */
    grant_ref_t gref[MAX_SEGS];
    /* With indirect descriptors: the page of segment descriptors of a
     * request of more than SEGS segments, granted read-only. */
    struct blkif_request_segment *ind;
    grant_ref_t ind_ref;
};

struct minios_blkfront {
    domid_t backend;
    blkif_front_ring_t ring;
    void *ring_page;                 /* 2^order pages */
    unsigned order, nslots;          /* nslots: the ring's size */
    unsigned segs;                   /* data pages per slot: SEGS, or the indirect segments */
    bool no_mem;                     /* a slot's pages could not be allocated: use the others */
    evtchn_port_t port;
    struct slot slots[MAX_SLOTS];
    struct minios_waitq wq;
    bool connected, read_only, flush, broken;
    char node[128], backend_path[128], state_path[136];
    uint64_t sectors, done;
    unsigned inflight, max_inflight;
    /* Reconnection (attached frontends): a thread watches the backend. */
    grant_ref_t ring_ref[1u << MAX_ORDER];
    bool reconnecting, gone;         /* gone: the backend did not come back */
    volatile bool watch_stop, watch_done;
    /* The watch on the backend's state node wakes the watcher. */
    struct minios_waitq state_wq;
    volatile unsigned state_fires;
    bool state_watched;
    uint64_t seq;
    unsigned connections, reissued;
    /* Progress: the last response (or the submission that found nothing
     * in flight), and the longest wait for a response with requests out. */
    uint64_t last_progress_ns, longest_stall_ns;
    /* Writes answered OKAY so far, and how many of them a completed flush
     * covers (the difference is logged at a reconnection: the backend
     * answered them, so they survive its crash and are not issued again). */
    uint64_t writes_acked, writes_flushed;
};

static void progress(struct minios_blkfront *f)
{
    uint64_t now = minios_monotonic_ns();
    if (f->inflight && now - f->last_progress_ns > f->longest_stall_ns)
        f->longest_stall_ns = now - f->last_progress_ns;
    f->last_progress_ns = now;
}

/* Responses, in event context (delivery masked). */
static void on_event(evtchn_port_t port, void *data)
{
    (void)port;
    struct minios_blkfront *f = data;
    int more;
    do {
        RING_IDX rp = f->ring.sring->rsp_prod;
        rmb();
        if (rp - f->ring.rsp_cons > RING_SIZE(&f->ring)) {
            f->broken = true;      /* an impossible index: stop trusting the ring */
            break;
        }
        while (f->ring.rsp_cons != rp) {
            blkif_response_t *r = RING_GET_RESPONSE(&f->ring, f->ring.rsp_cons++);
            uint64_t id = r->id;
            if (id >= f->nslots || !f->slots[id].busy || f->slots[id].done) {
                f->broken = true;
                continue;
            }
            progress(f);
            if (f->slots[id].op == BLKIF_OP_WRITE && r->status == BLKIF_RSP_OKAY)
                f->writes_acked++;
            f->slots[id].status = r->status;
            f->slots[id].done = true;
            f->inflight--;
            f->done++;
            if (f->slots[id].abandoned)
                f->slots[id].busy = f->slots[id].abandoned = false;
        }
        RING_FINAL_CHECK_FOR_RESPONSES(&f->ring, more);
    } while (more && !f->broken);
    minios_waitq_wake_all(&f->wq);
}

/* The ring's 2^order pages, allocated, initialised and granted: 0, or -XEN_ENOMEM/-XEN_ENOSPC. */
static int ring_make(domid_t backend, unsigned order, void **page, grant_ref_t *refs)
{
    unsigned n = 1u << order;
    *page = minios_alloc_pages(n);
    if (!*page)
        return -XEN_ENOMEM;
    for (unsigned i = 0; i < n; i++)
        refs[i] = MINIOS_GNTTAB_INVALID_REF;
    for (unsigned i = 0; i < n; i++) {
        refs[i] = minios_gnttab_grant_access(backend,
                                             minios_virt_to_mfn((uint8_t *)*page + i * 4096), 0);
        if (refs[i] == MINIOS_GNTTAB_INVALID_REF) {
            for (unsigned j = 0; j < i; j++)
                minios_gnttab_end_access(refs[j]);
            minios_free_pages(*page, n);
            *page = NULL;
            return -XEN_ENOSPC;
        }
    }
    blkif_sring_t *s = *page;
    SHARED_RING_INIT(s);
    return 0;
}

/* Ends the ring's grants and frees its pages, unless the backend still
 * maps one of them (then the pages are left to it): 0, or -1 if left. */
static int ring_free(void *page, unsigned order, const grant_ref_t *refs)
{
    int left = 0;
    for (unsigned i = 0; i < 1u << order; i++)
        if (refs[i] != MINIOS_GNTTAB_INVALID_REF && minios_gnttab_end_access(refs[i]) != 0)
            left = -1;
    if (!left && page)
        minios_free_pages(page, 1u << order);
    return left;
}

/* Undoes a partly made frontend (never connected: the backend has nothing mapped). */
static void destroy(struct minios_blkfront *f)
{
    if (f->port)
        minios_evtchn_close(f->port);
    for (unsigned i = 0; i < f->nslots; i++) {
        struct slot *sl = &f->slots[i];
        if (!sl->pages)
            continue;
        for (unsigned j = 0; j < f->segs; j++)
            minios_gnttab_end_access(sl->gref[j]);
        minios_free_pages(sl->pages, f->segs);
        if (sl->ind) {
            minios_gnttab_end_access(sl->ind_ref);
            minios_free_pages(sl->ind, 1);
        }
    }
    if (f->ring_page)
        ring_free(f->ring_page, f->order, f->ring_ref);
    minios_free_pages(f, (sizeof(*f) + 4095) / 4096);
}

/* A slot's data pages, allocated and granted the first time it is used
 * (so a frontend that never has many requests in flight never pays for
 * them): 0, or a negative errno. */
static int slot_pages(struct minios_blkfront *f, struct slot *sl)
{
    unsigned n = f->segs;
    uint8_t *pages = minios_alloc_pages(n);
    if (!pages)
        return -XEN_ENOMEM;
    struct blkif_request_segment *ind = NULL;
    grant_ref_t ind_ref = MINIOS_GNTTAB_INVALID_REF;
    if (n > SEGS) {
        ind = minios_alloc_pages(1);
        if (ind)
            ind_ref = minios_gnttab_grant_access(f->backend, minios_virt_to_mfn(ind), 1);
        if (ind_ref == MINIOS_GNTTAB_INVALID_REF) {
            if (ind)
                minios_free_pages(ind, 1);
            minios_free_pages(pages, n);
            return ind ? -XEN_ENOSPC : -XEN_ENOMEM;
        }
    }
    for (unsigned j = 0; j < n; j++) {
        sl->gref[j] = minios_gnttab_grant_access(f->backend,
                                                 minios_virt_to_mfn(pages + j * 4096), 0);
        if (sl->gref[j] == MINIOS_GNTTAB_INVALID_REF) {
            for (unsigned k = 0; k < j; k++)
                minios_gnttab_end_access(sl->gref[k]);
            if (ind) {
                minios_gnttab_end_access(ind_ref);
                minios_free_pages(ind, 1);
            }
            minios_free_pages(pages, n);
            return -XEN_ENOSPC;
        }
    }
    sl->ind = ind;
    sl->ind_ref = ind_ref;
    sl->pages = pages;
    return 0;
}

static int create(domid_t backend, unsigned order, unsigned segs, struct minios_blkfront **out)
{
    struct minios_blkfront *f = minios_alloc_pages((sizeof(*f) + 4095) / 4096);
    if (!f)
        return -XEN_ENOMEM;
    memset(f, 0, sizeof(*f));
    f->backend = backend;
    f->order = order;
    f->segs = segs;
    f->nslots = 32u << order;
    minios_waitq_init(&f->wq);
    minios_waitq_init(&f->state_wq);
    int rc = ring_make(backend, order, &f->ring_page, f->ring_ref);
    if (rc)
        goto fail;
    FRONT_RING_INIT(&f->ring, (blkif_sring_t *)f->ring_page, 4096u << order);
    if (RING_SIZE(&f->ring) < f->nslots)
        f->nslots = RING_SIZE(&f->ring);
    /* The first slot's pages now: a frontend that cannot have one request fails here. */
    rc = slot_pages(f, &f->slots[0]);
    if (rc)
        goto fail;
    rc = minios_evtchn_alloc_unbound(backend, &f->port);
    if (!rc)
        rc = minios_evtchn_bind(f->port, on_event, f);
    if (rc)
        goto fail;
    *out = f;
    return 0;
fail:
    destroy(f);
    return rc;
}

int minios_blkfront_create(domid_t backend, struct minios_blkfront **out,
                           grant_ref_t *ring_ref, evtchn_port_t *port)
{
    int rc = create(backend, 0, SEGS, out);
    if (rc)
        return rc;
    *ring_ref = (*out)->ring_ref[0];
    *port = (*out)->port;
    return 0;
}

int minios_blkfront_connected(struct minios_blkfront *f, uint64_t sectors, bool read_only,
                              bool flush)
{
    f->sectors = sectors;
    f->read_only = read_only;
    f->flush = flush;
    f->connected = true;
    return 0;
}

bool minios_blkfront_read_only(const struct minios_blkfront *f)
{
    return f->read_only;
}

uint64_t minios_blkfront_sectors(const struct minios_blkfront *f)
{
    return f->sectors;
}

void minios_blkfront_stats(const struct minios_blkfront *f, uint64_t *done, unsigned *max_inflight)
{
    *done = f->done;
    *max_inflight = f->max_inflight;
}

unsigned minios_blkfront_ring_pages(const struct minios_blkfront *f)
{
    return 1u << f->order;
}

unsigned minios_blkfront_slots(const struct minios_blkfront *f)
{
    return f->nslots;
}

/* A free slot (waiting for one), marked busy: its index, or a negative
 * errno.  Slots whose pages exist are taken first; a slot without pages
 * gets them now, unless an allocation failed before (then only the
 * others are used). */
static int take_slot(struct minios_blkfront *f, uint64_t deadline)
{
    for (;;) {
        unsigned long fl = minios_events_save();
        int got = -1, fresh = -1;
        while (!f->broken && !f->gone) {
            for (unsigned i = 0; i < f->nslots && got < 0; i++)
                if (!f->slots[i].busy) {
                    if (f->slots[i].pages)
                        got = (int)i;
                    else if (fresh < 0 && !f->no_mem)
                        fresh = (int)i;
                }
            if (got < 0)
                got = fresh;
            if (got >= 0 || minios_waitq_wait(&f->wq, deadline) == -XEN_ETIMEDOUT)
                break;
        }
        if (got >= 0) {
            f->slots[got].busy = true;
            f->slots[got].done = false;
        }
        minios_events_restore(fl);
        if (got >= 0 && (f->broken || f->gone)) {
            f->slots[got].busy = false;
            got = -1;
        }
        if (got >= 0 && !f->slots[got].pages) {
            int rc = slot_pages(f, &f->slots[got]);
            if (rc) {
                printf("blkfront: %s: no memory for request slot %d (%d): using the slots "
                       "that have pages\n", f->node, got, rc);
                fl = minios_events_save();
                f->no_mem = true;
                f->slots[got].busy = false;
                minios_events_restore(fl);
                continue;       /* slot 0 always has pages: wait for one that has */
            }
        }
        return f->broken ? -XEN_EIO : f->gone ? -XEN_ENOTCONN : got >= 0 ? got : -XEN_ETIMEDOUT;
    }
}

/* Writes slot i's request (as recorded in the slot) into the ring's next entry. */
static void ring_put(struct minios_blkfront *f, unsigned i)
{
    const struct slot *sl = &f->slots[i];
    blkif_request_t *r = RING_GET_REQUEST(&f->ring, f->ring.req_prod_pvt++);
    unsigned nseg = (sl->nsect + 7) / 8;
    if (nseg > SEGS) {
        /* Indirect: the segments in the slot's descriptor page. */
        blkif_request_indirect_t *ri = (blkif_request_indirect_t *)r;
        for (unsigned s = 0; s < nseg; s++) {
            unsigned here = sl->nsect - s * 8 < 8 ? sl->nsect - s * 8 : 8;
            sl->ind[s].gref = sl->gref[s];
            sl->ind[s].first_sect = 0;
            sl->ind[s].last_sect = (uint8_t)(here - 1);
        }
        ri->operation = BLKIF_OP_INDIRECT;
        ri->indirect_op = sl->op;
        ri->nr_segments = (uint16_t)nseg;
        ri->id = i;
        ri->sector_number = sl->sector;
        ri->handle = 0;
        ri->indirect_grefs[0] = sl->ind_ref;
        return;
    }
    r->operation = sl->op;
    r->handle = 0;
    r->id = i;
    r->sector_number = sl->sector;
    r->nr_segments = (uint8_t)((sl->nsect + 7) / 8);
    for (unsigned s = 0; s < r->nr_segments; s++) {
        unsigned here = sl->nsect - s * 8 < 8 ? sl->nsect - s * 8 : 8;
        r->seg[s].gref = sl->gref[s];
        r->seg[s].first_sect = 0;
        r->seg[s].last_sect = (uint8_t)(here - 1);
    }
}

/* Puts slot i's request (op, sector, n sectors from its first page) on
 * the ring; while the frontend reconnects it waits in its slot, and the
 * reconnection issues it on the new ring. */
static void submit(struct minios_blkfront *f, unsigned i, uint8_t op, uint64_t sector, unsigned n)
{
    unsigned long fl = minios_events_save();
    struct slot *sl = &f->slots[i];
    sl->op = op;
    sl->sector = sector;
    sl->nsect = n;
    sl->seq = ++f->seq;
    if (!f->inflight)
        f->last_progress_ns = minios_monotonic_ns();
    if (++f->inflight > f->max_inflight)
        f->max_inflight = f->inflight;
    int notify = 0;
    if (!f->reconnecting) {
        ring_put(f, i);
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->ring, notify);
    }
    minios_events_restore(fl);
    if (notify)
        minios_evtchn_send(f->port);
}

/* Waits for slot i's response, frees the slot: its status as an errno. */
static int finish(struct minios_blkfront *f, unsigned i, uint64_t deadline)
{
    struct slot *sl = &f->slots[i];
    unsigned long fl = minios_events_save();
    int rc = 0;
    while (!sl->done && !f->broken && !f->gone)
        if (minios_waitq_wait(&f->wq, deadline) == -XEN_ETIMEDOUT) {
            rc = -XEN_ETIMEDOUT;
            break;
        }
    if (!rc)
        rc = f->broken && !sl->done ? -XEN_EIO
           : f->gone && !sl->done ? -XEN_ENOTCONN
           : sl->status == BLKIF_RSP_OKAY ? 0
           : sl->status == BLKIF_RSP_EOPNOTSUPP ? -XEN_EOPNOTSUPP : -XEN_EIO;
    /* A slot whose request timed out stays busy: the backend may still use its pages. */
    if (rc != -XEN_ETIMEDOUT)
        sl->busy = false;
    else
        sl->abandoned = true;
    minios_waitq_wake_all(&f->wq);
    minios_events_restore(fl);
    return rc;
}

static int check(struct minios_blkfront *f, uint64_t sector, const void *buf, size_t count)
{
    if (!f->connected || f->gone)
        return -XEN_ENOTCONN;
    if (f->broken)
        return -XEN_EIO;
    if (!buf || count == 0 || sector >= f->sectors || count > f->sectors - sector)
        return -XEN_EINVAL;
    return 0;
}

/* A read or write split into slot-sized requests, up to every slot in flight. */
static int rw(struct minios_blkfront *f, uint8_t op, uint64_t sector, uint8_t *buf, size_t count)
{
    int rc = check(f, sector, buf, count);
    if (rc)
        return rc;
    if (op == BLKIF_OP_WRITE && f->read_only)
        return -XEN_EROFS;
    uint64_t deadline = minios_monotonic_ns() + TIMEOUT_NS;
    struct { int slot; uint8_t *buf; unsigned n; } pend[RW_DEPTH];
    unsigned head = 0, npend = 0;
    size_t left = count;
    while (left || npend) {
        if (left && npend < RW_DEPTH) {
            /* Only wait for a slot when none of ours is pending. */
            bool free_now = false;
            for (unsigned i = 0; i < f->nslots && !free_now; i++)
                free_now |= !f->slots[i].busy && (f->slots[i].pages || !f->no_mem);
            if (free_now || !npend) {
                int s = take_slot(f, deadline);
                if (s < 0) {
                    rc = rc ? rc : s;
                    left = 0;
                    continue;
                }
                unsigned n = left < f->segs * 8u ? (unsigned)left : f->segs * 8u;
                if (op == BLKIF_OP_WRITE)
                    memcpy(f->slots[s].pages, buf, (size_t)n * 512);
                submit(f, (unsigned)s, op, sector, n);
                pend[(head + npend) % RW_DEPTH].slot = s;
                pend[(head + npend) % RW_DEPTH].buf = buf;
                pend[(head + npend) % RW_DEPTH].n = n;
                npend++;
                sector += n;
                buf += (size_t)n * 512;
                left -= n;
                continue;
            }
        }
        /* Complete our oldest request. */
        int r = finish(f, (unsigned)pend[head].slot, deadline);
        if (!r && op == BLKIF_OP_READ)
            memcpy(pend[head].buf, f->slots[pend[head].slot].pages, (size_t)pend[head].n * 512);
        if (r && !rc)
            rc = r;
        head = (head + 1) % RW_DEPTH;
        npend--;
    }
    return rc;
}

int minios_blkfront_read(struct minios_blkfront *f, uint64_t sector, void *buf, size_t count)
{
    return rw(f, BLKIF_OP_READ, sector, buf, count);
}

int minios_blkfront_write(struct minios_blkfront *f, uint64_t sector, const void *buf,
                          size_t count)
{
    return rw(f, BLKIF_OP_WRITE, sector, (uint8_t *)(uintptr_t)buf, count);
}

int minios_blkfront_flush(struct minios_blkfront *f)
{
    if (!f->connected || f->gone)
        return -XEN_ENOTCONN;
    if (!f->flush)
        return -XEN_EOPNOTSUPP;
    if (f->read_only)
        return 0;
    int s = take_slot(f, minios_monotonic_ns() + TIMEOUT_NS);
    if (s < 0)
        return s;
    uint64_t covers = f->writes_acked;
    submit(f, (unsigned)s, BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
    int rc = finish(f, (unsigned)s, minios_monotonic_ns() + TIMEOUT_NS);
    if (!rc && covers > f->writes_flushed)
        f->writes_flushed = covers;
    return rc;
}

/* ---- the xenbus handshake ---- */

static int xs_get(const char *dir, const char *name, char *buf, size_t len)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *v;
    size_t n;
    int rc = minios_xs_read(MINIOS_XBT_NIL, path, &v, &n);
    if (rc)
        return rc;
    if (n >= len) {
        free(v);
        return -ENAMETOOLONG;
    }
    memcpy(buf, v, n);
    buf[n] = 0;
    free(v);
    return 0;
}

static int xs_getu(const char *dir, const char *name, unsigned long long *out)
{
    char buf[32], *end;
    int rc = xs_get(dir, name, buf, sizeof(buf));
    if (rc)
        return rc;
    *out = strtoull(buf, &end, 10);
    return end == buf || *end ? -EINVAL : 0;
}

static int xs_put(const char *dir, const char *name, unsigned long long v)
{
    char path[300], val[24];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(val, sizeof(val), "%llu", v);
    return minios_xs_write(MINIOS_XBT_NIL, path, val);
}

static int ferr(char *err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int ferr(char *err, int rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, MINIOS_BLKFRONT_ERRLEN, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* Waiting for the backend's state: a watch on BACKEND/state wakes the
 * waiter (xenstored fires it once when it is set, then at each change,
 * and when the node goes with the backend's domain); it also looks every
 * RECHECK_NS, and every POLL_NS if the watch could not be set. */
struct state_wait {
    unsigned fires;
    struct minios_waitq wq;
};

static void state_wait_fired(const char *path, const char *token, void *data)
{
    (void)path, (void)token;
    struct state_wait *w = data;
    w->fires++;
    minios_waitq_wake_all(&w->wq);
}

/* judge(rc, state, want): rc is xs_getu's (the node unreadable: its
 * nodes went); returns 1 to go on waiting, else the result. */
typedef int state_judge_fn(int rc, unsigned long long st, int want);

static int wait_state(const char *be, state_judge_fn *judge, int want, uint64_t deadline)
{
    struct state_wait w = { 0, MINIOS_WAITQ_INIT };
    char path[160], token[32];
    snprintf(path, sizeof(path), "%s/state", be);
    snprintf(token, sizeof(token), "blkfront-wait-%p", (void *)&w);
    /* Forgotten by minios_xs_unwatch before w goes: no callback after. */
    bool watched = minios_xs_watch(path, token, state_wait_fired, &w) == 0;
    int r;
    for (;;) {
        unsigned seen = w.fires;
        unsigned long long st = 0;
        int rc = xs_getu(be, "state", &st);
        if ((r = judge(rc, st, want)) != 1)
            break;
        uint64_t now = minios_monotonic_ns();
        if (now > deadline) {
            r = -ETIMEDOUT;
            break;
        }
        uint64_t until = now + (watched ? RECHECK_NS : POLL_NS);
        if (until > deadline + 1)
            until = deadline + 1;
        unsigned long fl = minios_events_save();
        while (w.fires == seen && minios_waitq_wait(&w.wq, until) >= 0)
            ;
        minios_events_restore(fl);
    }
    if (watched)
        minios_xs_unwatch(path, token);
    return r;
}

static int judge_exact(int rc, unsigned long long st, int want)
{
    if (!rc && (int)st == want)
        return 0;
    /* Waiting for Closed: a backend whose nodes went (its domain
     * ended after closing, or died) has nothing of ours mapped. */
    if (rc && want == XenbusStateClosed)
        return 0;
    if (!rc && st == XenbusStateClosed && want != XenbusStateClosed)
        return -ECONNREFUSED;
    return 1;
}

static int judge_ready(int rc, unsigned long long st, int want)
{
    (void)want;
    if (!rc && st >= XenbusStateInitWait && st <= XenbusStateConnected)
        return 0;
    if (!rc && st == XenbusStateClosed)
        return -ECONNREFUSED;
    return 1;
}

/* Waits for the backend's state to be want: 0, -ECONNREFUSED (it closed)
 * or -ETIMEDOUT. */
static int wait_backend_until(const char *be, int want, uint64_t deadline)
{
    return wait_state(be, judge_exact, want, deadline);
}

/* Waits for the backend to be ready for a frontend (InitWait, or
 * beyond but not closing): 0, -ECONNREFUSED (it closed) or -ETIMEDOUT. */
static int wait_backend_ready(const char *be, uint64_t deadline)
{
    return wait_state(be, judge_ready, 0, deadline);
}

/* The ring order for a backend: its max-ring-page-order (absent: 0), at
 * most ours, as Linux's xen-blkfront chooses. */
static unsigned ring_order(const char *be)
{
    unsigned long long max = 0;
    if (xs_getu(be, "max-ring-page-order", &max))
        return 0;
    return max < MAX_ORDER ? (unsigned)max : MAX_ORDER;
}

/* Data pages per request: the backend's feature-max-indirect-segments,
 * at most MAX_SEGS, if that is more than a plain request's SEGS. */
static unsigned indirect_segs(const char *be)
{
    unsigned long long n = 0;
    if (xs_getu(be, "feature-max-indirect-segments", &n) || n <= SEGS)
        return SEGS;
    return n < MAX_SEGS ? (unsigned)n : MAX_SEGS;
}

/* Writes the ring's nodes: ring-ref for one page, else ring-page-order
 * and ring-ref0..ring-ref<2^order-1> (blkif.h's multi-page ring). */
static int put_ring_nodes(const char *node, unsigned order, const grant_ref_t *refs)
{
    if (order == 0)
        return xs_put(node, "ring-ref", refs[0]);
    if (xs_put(node, "ring-page-order", order))
        return -EIO;
    for (unsigned i = 0; i < 1u << order; i++) {
        char name[16];
        snprintf(name, sizeof(name), "ring-ref%u", i);
        if (xs_put(node, name, refs[i]))
            return -EIO;
    }
    return 0;
}

static int wait_backend(const char *be, int want, uint64_t ns)
{
    return wait_backend_until(be, want, minios_monotonic_ns() + ns);
}

static void start_watch(struct minios_blkfront *f);

int minios_blkfront_attach(const char *node, struct minios_blkfront **out, char *err)
{
    char be[128];
    unsigned long long beid, sectors, info = 0, flush = 0;
    if (strlen(node) >= 128)
        return ferr(err, -EINVAL, "%s: node name too long", node);
    if (xs_get(node, "backend", be, sizeof(be)) || xs_getu(node, "backend-id", &beid) ||
        beid >= DOMID_FIRST_RESERVED)
        return ferr(err, -EINVAL, "%s: no backend or backend-id", node);
    /* The backend offers its features (max-ring-page-order) by InitWait. */
    uint64_t deadline = minios_monotonic_ns() + 30000000000ull;
    int rc = wait_backend_ready(be, deadline);
    if (rc)
        return ferr(err, rc, "%s: the backend %s did not connect (%s)", node, be,
                    rc == -ECONNREFUSED ? "it closed" : "timed out");
    struct minios_blkfront *f;
    rc = create((domid_t)beid, ring_order(be), indirect_segs(be), &f);
    if (rc)
        return ferr(err, -ENOMEM, "%s: cannot make the ring (%d)", node, rc);
    snprintf(f->node, sizeof(f->node), "%s", node);
    snprintf(f->backend_path, sizeof(f->backend_path), "%s", be);
    char path[300];
    snprintf(path, sizeof(path), "%s/protocol", node);
    /* feature-persistent 1: the slot pages are granted once, for good. */
    if (put_ring_nodes(node, f->order, f->ring_ref) || xs_put(node, "event-channel", f->port) ||
        minios_xs_write(MINIOS_XBT_NIL, path, XEN_IO_PROTO_ABI_X86_64) ||
        xs_put(node, "feature-persistent", 1) ||
        xs_put(node, "state", XenbusStateInitialised)) {
        destroy(f);
        return ferr(err, -EIO, "%s: cannot write the frontend's nodes", node);
    }
    rc = wait_backend_until(be, XenbusStateConnected, deadline);
    if (rc) {
        xs_put(node, "state", XenbusStateClosed);
        /* A backend that never connected mapped nothing of ours. */
        if (rc == -ECONNREFUSED)
            destroy(f);
        return ferr(err, rc, "%s: the backend %s did not connect (%s)", node, be,
                    rc == -ECONNREFUSED ? "it closed" : "timed out");
    }
    if (xs_getu(be, "sectors", &sectors) || sectors == 0) {
        xs_put(node, "state", XenbusStateClosed);
        return ferr(err, -EINVAL, "%s: no sectors", be);   /* the ring stays: it is mapped */
    }
    xs_getu(be, "info", &info);
    xs_getu(be, "feature-flush-cache", &flush);
    minios_blkfront_connected(f, sectors, info & VDISK_READONLY, flush != 0);
    xs_put(node, "state", XenbusStateConnected);
    f->connections = 1;
    start_watch(f);
    *out = f;
    return 0;
}

int minios_blkfront_detach(struct minios_blkfront *f)
{
    if (f->connections) {
        f->watch_stop = true;
        minios_waitq_wake_all(&f->state_wq);
        while (!f->watch_done)
            minios_thread_sleep_ns(POLL_NS);
    }
    f->connected = false;
    if (f->gone) {
        xs_put(f->node, "state", XenbusStateClosed);
        return -ENOTCONN;
    }
    xs_put(f->node, "state", XenbusStateClosing);
    int rc = wait_backend(f->backend_path, XenbusStateClosed, 30000000000ull);
    xs_put(f->node, "state", XenbusStateClosed);
    return rc;
}

/* ---- reconnection: the backend restarted ---- */

/*
 * As Linux's blkfront_resume/blkif_recover: a new ring page and event
 * channel for the new backend (the data slots stay granted: the backend
 * domain has the same id), then every request that had no response is
 * issued again, oldest first.  Callers blocked in read/write/flush only
 * wait longer.  0, or a negative errno with the reason in why.
 */
static int reconnect(struct minios_blkfront *f, uint64_t deadline, char *why, size_t len)
{
    int rc = wait_backend_until(f->backend_path, XenbusStateInitWait, deadline);
    if (rc) {
        snprintf(why, len, "it did not come back to InitWait (%s)",
                 rc == -ETIMEDOUT ? "timed out" : "it closed");
        return rc;
    }
    /* The same ring size as before: the slots are numbered for it. */
    unsigned long long max = 0;
    if (f->order && (xs_getu(f->backend_path, "max-ring-page-order", &max) || max < f->order)) {
        snprintf(why, len, "it no longer offers a ring of %u pages", 1u << f->order);
        return -EINVAL;
    }
    /* Requests of more than SEGS segments need the indirect segments again. */
    if (f->segs > SEGS && indirect_segs(f->backend_path) < f->segs) {
        snprintf(why, len, "it no longer offers %u indirect segments", f->segs);
        return -EINVAL;
    }
    void *page;
    grant_ref_t refs[1u << MAX_ORDER];
    evtchn_port_t port = 0;
    if (ring_make(f->backend, f->order, &page, refs)) {
        snprintf(why, len, "no memory or grants for a new ring");
        return -ENOMEM;
    }
    if (minios_evtchn_alloc_unbound(f->backend, &port) || minios_evtchn_bind(port, on_event, f)) {
        if (port)
            minios_evtchn_close(port);
        ring_free(page, f->order, refs);
        snprintf(why, len, "no event channel for a new ring");
        return -ENOMEM;
    }
    /* The old ring: its backend is gone, so nothing maps it any more
     * (if something still does, the pages are left to it). */
    unsigned long fl = minios_events_save();
    evtchn_port_t old_port = f->port;
    void *old_page = f->ring_page;
    grant_ref_t old_refs[1u << MAX_ORDER];
    memcpy(old_refs, f->ring_ref, sizeof(old_refs));
    f->port = port;
    f->ring_page = page;
    memcpy(f->ring_ref, refs, sizeof(refs));
    FRONT_RING_INIT(&f->ring, (blkif_sring_t *)page, 4096u << f->order);
    minios_events_restore(fl);
    minios_evtchn_close(old_port);
    if (ring_free(old_page, f->order, old_refs))
        printf("blkfront: %s: the old ring is still mapped: its pages are left\n", f->node);

    char path[300];
    snprintf(path, sizeof(path), "%s/protocol", f->node);
    if (put_ring_nodes(f->node, f->order, refs) || xs_put(f->node, "event-channel", port) ||
        minios_xs_write(MINIOS_XBT_NIL, path, XEN_IO_PROTO_ABI_X86_64) ||
        xs_put(f->node, "state", XenbusStateInitialised)) {
        snprintf(why, len, "cannot write the frontend's nodes");
        return -EIO;
    }
    rc = wait_backend_until(f->backend_path, XenbusStateConnected, deadline);
    if (rc) {
        snprintf(why, len, "it did not connect (%s)", rc == -ETIMEDOUT ? "timed out" : "it closed");
        return rc;
    }
    unsigned long long sectors = 0, info = 0, flush = 0;
    xs_getu(f->backend_path, "info", &info);
    xs_getu(f->backend_path, "feature-flush-cache", &flush);
    if (xs_getu(f->backend_path, "sectors", &sectors) || sectors != f->sectors ||
        !(info & VDISK_READONLY) != !f->read_only || !flush != !f->flush) {
        snprintf(why, len, "the disk it serves now is not the same (sectors %llu, info %llu)",
                 sectors, info);
        return -EINVAL;
    }

    /* Every request without a response, oldest first, on the new ring. */
    fl = minios_events_save();
    unsigned n = 0;
    for (unsigned i = 0; i < f->nslots; i++) {
        struct slot *sl = &f->slots[i];
        if (sl->busy && !sl->done && sl->abandoned) {
            sl->busy = sl->abandoned = false;   /* its caller gave up on it */
            f->inflight--;
        }
    }
    for (;;) {
        int next = -1;
        for (unsigned i = 0; i < f->nslots; i++) {
            const struct slot *sl = &f->slots[i];
            if (sl->busy && !sl->done && sl->seq && (next < 0 || sl->seq < f->slots[next].seq))
                next = (int)i;
        }
        if (next < 0)
            break;
        ring_put(f, (unsigned)next);
        f->slots[next].seq = 0;    /* issued again */
        n++;
    }
    f->reissued += n;
    f->reconnecting = false;
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->ring, notify);
    minios_events_restore(fl);
    if (notify || n)
        minios_evtchn_send(f->port);
    xs_put(f->node, "state", XenbusStateConnected);
    snprintf(why, len, "%u request%s issued again", n, n == 1 ? "" : "s");
    return 0;
}

static void state_changed(const char *path, const char *token, void *data)
{
    (void)path, (void)token;
    struct minios_blkfront *f = data;
    f->state_fires++;
    minios_waitq_wake_all(&f->state_wq);
}

/* The watcher: looks at the backend's state whenever its xenstore watch
 * fires (the node changes, or goes with the backend's domain), and every
 * RECHECK_NS as well. */
static void watch(void *arg)
{
    struct minios_blkfront *f = arg;
    while (!f->watch_stop && !f->gone && !f->broken) {
        unsigned seen = f->state_fires;
        unsigned long long st = 0;
        bool readable = !xs_getu(f->backend_path, "state", &st);
        if (readable && st == XenbusStateConnected) {
            uint64_t until = minios_monotonic_ns() + (f->state_watched ? RECHECK_NS : POLL_NS);
            unsigned long fl = minios_events_save();
            while (f->state_fires == seen && !f->watch_stop &&
                   minios_waitq_wait(&f->state_wq, until) >= 0)
                ;
            minios_events_restore(fl);
            continue;
        }
        /* Gone (its domain died and its nodes went), closing, or
         * started over: new requests wait in their slots from now on. */
        unsigned long fl = minios_events_save();
        f->reconnecting = true;
        for (unsigned i = 0; i < f->nslots; i++)
            if (f->slots[i].busy && !f->slots[i].done && !f->slots[i].seq)
                f->slots[i].seq = ++f->seq;     /* issued on the old ring: again */
        minios_events_restore(fl);
        printf("blkfront: %s: backend %s (%s): reconnecting, %u request%s outstanding, "
               "%llu answered write%s not flushed yet (kept: not issued again)\n",
               f->node, f->backend_path,
               !readable ? "gone"
               : st == XenbusStateInitialising || st == XenbusStateInitWait ? "started over"
               : "closing", f->inflight, f->inflight == 1 ? "" : "s",
               (unsigned long long)(f->writes_acked - f->writes_flushed),
               f->writes_acked - f->writes_flushed == 1 ? "" : "s");
        xs_put(f->node, "state", XenbusStateInitialising);
        uint64_t t0 = minios_monotonic_ns();
        char why[MINIOS_BLKFRONT_ERRLEN];
        int rc = reconnect(f, t0 + RECONNECT_NS, why, sizeof(why));
        if (rc) {
            printf("blkfront: %s: backend %s: %s: giving up, I/O fails with ENOTCONN\n",
                   f->node, f->backend_path, why);
            fl = minios_events_save();
            f->gone = true;
            f->reconnecting = false;
            minios_waitq_wake_all(&f->wq);
            minios_events_restore(fl);
            xs_put(f->node, "state", XenbusStateClosed);
            break;
        }
        f->connections++;
        printf("blkfront: %s: reconnected (connection %u) after %llu ms: %s\n", f->node,
               f->connections, (unsigned long long)((minios_monotonic_ns() - t0) / 1000000), why);
    }
    if (f->state_watched)
        minios_xs_unwatch(f->state_path, f->node);
    f->watch_done = true;
    minios_thread_exit();
}

static void start_watch(struct minios_blkfront *f)
{
    snprintf(f->state_path, sizeof(f->state_path), "%s/state", f->backend_path);
    /* Without the watch, the watcher looks every POLL_NS instead. */
    f->state_watched = minios_xs_watch(f->state_path, f->node, state_changed, f) == 0;
    if (!minios_thread_create("blkfront", watch, f, 16 << 10)) {
        printf("blkfront: %s: no thread to watch the backend: no reconnection\n", f->node);
        if (f->state_watched)
            minios_xs_unwatch(f->state_path, f->node);
        f->watch_done = true;
    }
}

unsigned minios_blkfront_connections(const struct minios_blkfront *f)
{
    return f->connections;
}

uint64_t minios_blkfront_longest_stall_ns(const struct minios_blkfront *f)
{
    return f->longest_stall_ns;
}
