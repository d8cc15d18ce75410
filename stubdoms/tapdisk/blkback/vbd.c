/* vbd.c: a guest disk's xenbus side in the tapdisk domain: backend nodes, the image they name, the handshake with the frontend. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <minios/events.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <minios/xenbus.h>
#include <xen/io/xenbus.h>

#include "blkback.h"
#include "blkif_core.h"
#include "vbd.h"
#include <xen/io/protocols.h>

#define PATHLEN 256

bool vbd_offer_persistent = true;
unsigned vbd_max_ring_order = BLKIF_MAX_RING_ORDER;
unsigned vbd_max_indirect = BLKIF_MAX_SEGS;

struct vbd {
    char be[PATHLEN], fe[PATHLEN];
    domid_t feid;
    struct img *img;
    struct blkback *bb;
    /* A watch on the frontend's state node (token: our backend path)
     * wakes whoever waits for the frontend; set for v's whole life. */
    char fe_state[PATHLEN + 8];
    bool fe_watched;
    unsigned fe_fires;
    struct minios_waitq fe_wq;
};

/* Without the watch, a look this often; with it, a look this often as
 * well (a lost event: the xenbus thread drops one it has no memory for). */
#define FE_POLL_NS    5000000ull
#define FE_RECHECK_NS 1000000000ull

static int fail(char *err, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, VBD_ERRLEN, fmt, ap);
    va_end(ap);
    return rc;
}

/* dir/name's value into buf (NUL-terminated, at most len-1 bytes). */
static int readn(const char *dir, const char *name, char *buf, size_t len)
{
    char path[PATHLEN + 32];
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

static int readu(const char *dir, const char *name, unsigned long long *out)
{
    char buf[32], *end;
    int rc = readn(dir, name, buf, sizeof(buf));
    if (rc)
        return rc;
    *out = strtoull(buf, &end, 10);
    return end == buf || *end ? -EINVAL : 0;
}

static int writen(const char *dir, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int writen(const char *dir, const char *name, const char *fmt, ...)
{
    char path[PATHLEN + 32], val[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof(val), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return minios_xs_write(MINIOS_XBT_NIL, path, val);
}

int vbd_frontend_state(struct vbd *v)
{
    unsigned long long s;
    return readu(v->fe, "state", &s) ? -1 : (int)s;
}

static void fe_changed(const char *path, const char *token, void *data)
{
    (void)path, (void)token;
    struct vbd *v = data;
    v->fe_fires++;
    minios_waitq_wake_all(&v->fe_wq);
}

static void fe_watch(struct vbd *v)
{
    minios_waitq_init(&v->fe_wq);
    snprintf(v->fe_state, sizeof(v->fe_state), "%s/state", v->fe);
    v->fe_watched = minios_xs_watch(v->fe_state, v->be, fe_changed, v) == 0;
}

static void fe_unwatch(struct vbd *v)
{
    /* No callback runs for it once minios_xs_unwatch returns. */
    if (v->fe_watched)
        minios_xs_unwatch(v->fe_state, v->be);
    v->fe_watched = false;
}

/* Waits until the frontend's state node has changed since fires was
 * `seen` (or the next look is due). */
static void fe_wait(struct vbd *v, unsigned seen)
{
    uint64_t until = minios_monotonic_ns() + (v->fe_watched ? FE_RECHECK_NS : FE_POLL_NS);
    unsigned long fl = minios_events_save();
    while (v->fe_fires == seen && minios_waitq_wait(&v->fe_wq, until) >= 0)
        ;
    minios_events_restore(fl);
}

int vbd_wait_frontend_closing(struct vbd *v)
{
    for (;;) {
        unsigned seen = v->fe_fires;
        int fs = vbd_frontend_state(v);
        if (fs < 0 || fs >= XenbusStateClosing)
            return fs;
        fe_wait(v, seen);
    }
}

int vbd_connect(const char *bepath, struct store *st, struct vbd **out, char *err)
{
    struct vbd *v = calloc(1, sizeof(*v));
    if (!v)
        return fail(err, -ENOMEM, "out of memory");
    char params[1024], mode[8], proto[32];
    unsigned long long feid, ring_ref, port;
    int rc = -EINVAL;
    if (strlen(bepath) >= PATHLEN) {
        free(v);
        return fail(err, -EINVAL, "backend path too long");
    }
    snprintf(v->be, sizeof(v->be), "%s", bepath);
    if (readn(bepath, "frontend", v->fe, sizeof(v->fe)) || readu(bepath, "frontend-id", &feid) ||
        feid >= DOMID_FIRST_RESERVED || readn(bepath, "params", params, sizeof(params)) ||
        readn(bepath, "mode", mode, sizeof(mode))) {
        rc = fail(err, -EINVAL, "%s: frontend, frontend-id, params or mode missing or bad", bepath);
        goto out;
    }
    v->feid = (domid_t)feid;
    fe_watch(v);
    bool ro = strcmp(mode, "w") != 0;
    /* What does not depend on the image first; the image is opened once
     * the frontend is Initialised (as Xen's blkback connects), so two
     * frontends may name one image as long as only one is connected at
     * a time: a device model's emulated disk, then its guest's PV disk
     * once the guest unplugs the emulated one (docs/hvm.md). */
    if (writen(bepath, "feature-flush-cache", "1") ||
        writen(bepath, "feature-persistent", "%d", vbd_offer_persistent ? 1 : 0) ||
        (vbd_max_indirect &&
         writen(bepath, "feature-max-indirect-segments", "%u", vbd_max_indirect)) ||
        (vbd_max_ring_order &&
         writen(bepath, "max-ring-page-order", "%u", vbd_max_ring_order)) ||
        (!ro && writen(bepath, "feature-discard", "1")) ||
        writen(bepath, "state", "%d", XenbusStateInitWait)) {
        rc = fail(err, -EIO, "%s: cannot write the backend's nodes", bepath);
        goto out;
    }
    /* The frontend's Initialised (or Connected, as some frontends skip),
     * however long it takes, as Xen's blkback waits in InitWait; a
     * frontend that closes or goes away instead ends the wait. */
    int fs;
    for (;;) {
        unsigned seen = v->fe_fires;
        fs = vbd_frontend_state(v);
        if (fs == XenbusStateInitialised || fs == XenbusStateConnected)
            break;
        if (fs < 0 || fs >= XenbusStateClosing) {
            rc = fail(err, -ECONNABORTED, "%s: the frontend %s before connecting", v->fe,
                      fs < 0 ? "went away" : "closed");
            goto out;
        }
        fe_wait(v, seen);
    }
    struct img_io *io;
    char ierr[IMG_ERR_LEN];
    blkback_lock();
    rc = store_file_open(st, params, !ro, &io, ierr);
    if (rc) {
        blkback_unlock();
        rc = fail(err, rc, "%s", ierr);     /* names the path */
        goto out;
    }
    rc = img_open(io, NULL, ro ? 0 : IMG_OPEN_RDWR, NULL, &v->img, ierr);
    blkback_unlock();
    if (rc) {
        rc = fail(err, rc, "%s: %s", params, ierr);
        goto out;
    }
    /* Discard: advisory (img_discard): raw writes zeros, qcow2 drops
     * whole clusters (zero clusters over a backing file), others ignore
     * it; so discard-zeroes-data is not offered.  The granularity is the
     * image's cluster where it has one. */
    struct img_info info;
    unsigned gran = 512;
    if (!img_info(v->img, &info) && info.cluster_size >= 512)
        gran = info.cluster_size;
    if (writen(bepath, "sectors", "%llu", (unsigned long long)(v->img->size / 512)) ||
        writen(bepath, "info", "%u", ro ? 4u /* VDISK_READONLY */ : 0u) ||
        writen(bepath, "sector-size", "512") ||
        (!ro && (writen(bepath, "discard-granularity", "%u", gran) ||
                 writen(bepath, "discard-alignment", "0")))) {
        rc = fail(err, -EIO, "%s: cannot write the backend's nodes", bepath);
        goto out;
    }
    /* A multi-page ring: ring-page-order (at most what we offered) and
     * ring-ref0..N-1; else one page, ring-ref. */
    char order[16], rerr[96];
    int pages = readn(v->fe, "ring-page-order", order, sizeof(order)) == 0
                    ? blkif_ring_pages(order, vbd_max_ring_order, rerr, sizeof(rerr))
                    : 1;
    if (pages < 0) {
        rc = fail(err, -EINVAL, "%s: %s", v->fe, rerr);
        goto out;
    }
    grant_ref_t refs[BLKIF_MAX_RING_PAGES];
    for (int i = 0; i < pages; i++) {
        char name[16];
        if (pages == 1)
            snprintf(name, sizeof(name), "ring-ref");
        else
            snprintf(name, sizeof(name), "ring-ref%d", i);
        if (readu(v->fe, name, &ring_ref) || ring_ref > UINT32_MAX) {
            rc = fail(err, -EINVAL, "%s: %s missing or bad", v->fe, name);
            goto out;
        }
        refs[i] = (grant_ref_t)ring_ref;
    }
    if (readu(v->fe, "event-channel", &port) || port > UINT32_MAX) {
        rc = fail(err, -EINVAL, "%s: event-channel missing or bad", v->fe);
        goto out;
    }
    if (readn(v->fe, "protocol", proto, sizeof(proto)) == 0 &&
        strcmp(proto, XEN_IO_PROTO_ABI_X86_64)) {
        rc = fail(err, -EPROTONOSUPPORT, "%s: protocol %s (only %s is served)", v->fe, proto,
                  XEN_IO_PROTO_ABI_X86_64);
        goto out;
    }
    /* Persistent grants when both sides say 1 (absent or anything else: no). */
    unsigned long long fe_persistent = 0;
    if (readu(v->fe, "feature-persistent", &fe_persistent))
        fe_persistent = 0;
    bool persistent = vbd_offer_persistent && fe_persistent == 1;
    _Static_assert(BLKIF_MAX_RING_PAGES <= sizeof(((struct blkback_conf *)0)->ring_refs) /
                                               sizeof(grant_ref_t), "ring_refs");
    struct blkback_conf conf = {
        .frontend = v->feid, .ring_ref = refs[0], .ring_pages = (unsigned)pages,
        .port = (evtchn_port_t)port,
        .img = v->img, .read_only = ro, .flush = true, .discard = !ro,
        .persistent = persistent, .max_indirect = vbd_max_indirect,
    };
    memcpy(conf.ring_refs, refs, sizeof(refs[0]) * (size_t)pages);
    char berr[BLKBACK_WHY_LEN];
    rc = blkback_connect(&conf, &v->bb, berr);
    if (rc) {
        rc = fail(err, rc, "%s", berr);
        goto out;
    }
    writen(bepath, "state", "%d", XenbusStateConnected);
    printf("tapdisk: %s: ring of %d page%s, persistent grants %s\n", bepath, pages,
           pages > 1 ? "s" : "",
           persistent ? "on" : vbd_offer_persistent ? "off (the frontend did not take them)"
                                                    : "off (persistent=0)");
    *out = v;
    return 0;
out:
    fe_unwatch(v);
    writen(bepath, "state", "%d", XenbusStateClosed);
    if (v->img) {
        blkback_lock();
        img_close(v->img);
        blkback_unlock();
    }
    free(v);
    return rc;
}

void vbd_close(struct vbd *v)
{
    fe_unwatch(v);
    blkback_disconnect(v->bb);
    blkback_lock();
    img_close(v->img);
    blkback_unlock();
    /* A frontend domain that crashed and was built again (restart=crash)
     * has had its backend directory written afresh, state Initialising,
     * before this thread saw the old one go: that state is the new
     * frontend's, not ours to close (main's scan serves it next). */
    unsigned long long st;
    if (readu(v->be, "state", &st) || st != XenbusStateInitialising)
        writen(v->be, "state", "%d", XenbusStateClosed);
    free(v);
}
