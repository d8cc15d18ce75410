/* xenbus.c: minios's xenstore client: requests over the store ring, a reader thread, watches run by a xenwatch thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/thread.h>
#include <minios/xenbus.h>
#include <xen/io/xs_wire.h>
#include "kernel.h"

/*
 * One request at a time is written into the ring whole (writers queue on
 * write_busy); any number may wait for their replies, matched by req_id.
 * The "xenbus" thread reads every message xenstored sends: replies wake
 * their requester, watch events go to the "xenwatch" thread, which runs
 * the callbacks (so that a callback may itself make requests).
 *
 * A reply that breaks the protocol (indices out of range, a length over
 * XENSTORE_PAYLOAD_MAX) leaves the ring unusable: the client says so once
 * and fails every request with -EIO from then on.
 */
#define MAX_PENDING 32

struct pending {
    int in_use, done;
    uint32_t req_id;
    struct minios_waitq wq;
    uint32_t type;
    char *body;
    size_t len;
};

struct watch {
    struct watch *next;
    unsigned id;
    char *path, *token;
    minios_xs_watch_fn cb;
    void *data;
};

struct event {
    struct event *next;
    char *msg;                   /* "path\0wire-token\0" */
    size_t len;
};

static struct xenstore_domain_interface *ring;
static evtchn_port_t port;
static int broken;
static struct minios_waitq ring_wq = MINIOS_WAITQ_INIT;
static struct minios_waitq write_wq = MINIOS_WAITQ_INIT;
static struct minios_waitq slot_wq = MINIOS_WAITQ_INIT;
static struct minios_waitq event_wq = MINIOS_WAITQ_INIT;
static int write_busy;
static struct pending pending[MAX_PENDING];
static uint32_t next_req_id = 1;
static struct watch *watches;
static unsigned next_watch_id = 1;
static struct event *events_head, *events_tail;

int minios_xenbus_available(void)
{
    return ring != NULL && !broken;
}

static void ring_event(evtchn_port_t p, void *data)
{
    (void)p, (void)data;
    minios_waitq_wake_all(&ring_wq);
}

static void set_broken(const char *why)
{
    if (broken)
        return;
    broken = 1;
    minios_printk("minios: xenbus: %s; the store is unusable\n", why);
    for (unsigned i = 0; i < MAX_PENDING; i++)
        minios_waitq_wake_all(&pending[i].wq);
    minios_waitq_wake_all(&ring_wq);
    minios_waitq_wake_all(&write_wq);
}

/* Bytes of responses waiting; -1 if the indices are nonsense. */
static long rsp_avail(void)
{
    XENSTORE_RING_IDX prod = __atomic_load_n(&ring->rsp_prod, __ATOMIC_ACQUIRE);
    XENSTORE_RING_IDX n = prod - ring->rsp_cons;
    return n > XENSTORE_RING_SIZE ? -1 : (long)n;
}

/* Reads exactly len bytes of responses, waiting for them. */
static int ring_read(void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        long avail;
        MINIOS_WAIT_EVENT(&ring_wq, broken || (avail = rsp_avail()) != 0);
        if (broken)
            return -EIO;
        if (avail < 0) {
            set_broken("xenstored's response indices are out of range");
            return -EIO;
        }
        XENSTORE_RING_IDX cons = ring->rsp_cons;
        size_t off = MASK_XENSTORE_IDX(cons);
        size_t n = (size_t)avail;
        if (n > len)
            n = len;
        if (n > XENSTORE_RING_SIZE - off)
            n = XENSTORE_RING_SIZE - off;
        memcpy(p, (const char *)ring->rsp + off, n);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        ring->rsp_cons = cons + (XENSTORE_RING_IDX)n;
        minios_evtchn_send(port);
        p += n;
        len -= n;
    }
    return 0;
}

/* Writes len bytes of requests, waiting for room. */
static int ring_write(const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        XENSTORE_RING_IDX used;
        MINIOS_WAIT_EVENT(&ring_wq, broken ||
                          (used = ring->req_prod - __atomic_load_n(&ring->req_cons,
                                                                   __ATOMIC_ACQUIRE)) <
                              XENSTORE_RING_SIZE);
        if (broken)
            return -EIO;
        if (used > XENSTORE_RING_SIZE) {
            set_broken("xenstored's request indices are out of range");
            return -EIO;
        }
        XENSTORE_RING_IDX prod = ring->req_prod;
        size_t off = MASK_XENSTORE_IDX(prod);
        size_t n = XENSTORE_RING_SIZE - used;
        if (n > len)
            n = len;
        if (n > XENSTORE_RING_SIZE - off)
            n = XENSTORE_RING_SIZE - off;
        memcpy((char *)ring->req + off, p, n);
        __atomic_store_n(&ring->req_prod, prod + (XENSTORE_RING_IDX)n, __ATOMIC_RELEASE);
        minios_evtchn_send(port);
        p += n;
        len -= n;
    }
    return 0;
}

static struct watch *watch_by_id(unsigned id)
{
    for (struct watch *w = watches; w; w = w->next)
        if (w->id == id)
            return w;
    return NULL;
}

/* The xenwatch thread: runs callbacks for queued watch events. */
static void xenwatch_thread(void *arg)
{
    (void)arg;
    for (;;) {
        MINIOS_WAIT_EVENT(&event_wq, events_head != NULL);
        struct event *e = events_head;
        events_head = e->next;
        if (!events_head)
            events_tail = NULL;
        /* "path\0<id>:token\0" */
        const char *path = e->msg;
        size_t plen = strnlen(path, e->len);
        const char *wtok = plen < e->len ? path + plen + 1 : "";
        char *colon;
        unsigned id = (unsigned)strtoul(wtok, &colon, 10);
        struct watch *w = *colon == ':' ? watch_by_id(id) : NULL;
        if (w)
            w->cb(path, w->token, w->data);
        free(e->msg);
        free(e);
    }
}

/* The xenbus thread: reads every message and hands it on. */
static void xenbus_thread(void *arg)
{
    (void)arg;
    for (;;) {
        struct xsd_sockmsg h;
        if (ring_read(&h, sizeof(h)))
            return;
        if (h.len > XENSTORE_PAYLOAD_MAX) {
            set_broken("xenstored sent a message longer than XENSTORE_PAYLOAD_MAX");
            return;
        }
        char *body = malloc(h.len + 1);
        if (!body) {
            set_broken("out of memory for a reply");
            return;
        }
        if (ring_read(body, h.len)) {
            free(body);
            return;
        }
        body[h.len] = 0;
        if (h.type == XS_WATCH_EVENT) {
            struct event *e = malloc(sizeof(*e));
            if (!e) {
                free(body);
                continue;        /* a lost event; the watcher re-reads later */
            }
            e->next = NULL;
            e->msg = body;
            e->len = h.len;
            if (events_tail)
                events_tail->next = e;
            else
                events_head = e;
            events_tail = e;
            minios_waitq_wake_all(&event_wq);
            continue;
        }
        struct pending *p = NULL;
        for (unsigned i = 0; i < MAX_PENDING; i++)
            if (pending[i].in_use && !pending[i].done && pending[i].req_id == h.req_id)
                p = &pending[i];
        if (!p) {
            minios_printk("minios: xenbus: reply to no request (req_id %u, type %u)\n",
                          h.req_id, h.type);
            free(body);
            continue;
        }
        p->type = h.type;
        p->body = body;
        p->len = h.len;
        p->done = 1;
        minios_waitq_wake_all(&p->wq);
    }
}

/* Overridden (to 0) by an application that drives the store ring itself. */
__attribute__((weak)) const int minios_store_client = 1;

void minios_xenbus_init(const start_info_t *si)
{
    /* Read through volatile: the compiler must not fold the weak default. */
    if (!*(const volatile int *)&minios_store_client || !si->store_evtchn || !si->store_mfn ||
        !minios_events_available())
        return;
    port = si->store_evtchn;
    /* The store page is one of ours (after start_info, or a special page
     * of a PVH domain). */
    ring = minios_frame_va(si->store_mfn);
    if (!ring) {
        minios_printk("minios: xenbus: store frame %lx is not ours; no store\n",
                      (unsigned long)si->store_mfn);
        return;
    }
    for (unsigned i = 0; i < MAX_PENDING; i++)
        minios_waitq_init(&pending[i].wq);
    if (minios_evtchn_bind(port, ring_event, NULL) ||
        !minios_thread_create("xenbus", xenbus_thread, NULL, 16 << 10)) {
        minios_printk("minios: xenbus: cannot start; no store\n");
        ring = NULL;
    }
}

static int error_to_errno(const char *name)
{
    for (size_t i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
        if (!strcmp(name, xsd_errors[i].errstring))
            return -xsd_errors[i].errnum;
    return -EIO;
}

/* Sends one request made of n pieces and waits for its reply. */
struct iovec_s {
    const void *p;
    size_t len;
};

static int request_iov(minios_xbt_t t, unsigned type, const struct iovec_s *iov, unsigned n,
                       char **reply, size_t *reply_len)
{
    if (!ring)
        return -ENODEV;
    if (broken)
        return -EIO;
    size_t total = 0;
    for (unsigned i = 0; i < n; i++)
        total += iov[i].len;
    if (total > XENSTORE_PAYLOAD_MAX)
        return -EINVAL;

    struct pending *p = NULL;
    unsigned long f = minios_events_save();
    for (;;) {
        for (unsigned i = 0; i < MAX_PENDING && !p; i++)
            if (!pending[i].in_use)
                p = &pending[i];
        if (p || broken)
            break;
        minios_waitq_wait(&slot_wq, 0);
    }
    if (!p) {
        minios_events_restore(f);
        return -EIO;
    }
    p->in_use = 1;
    p->done = 0;
    p->body = NULL;
    p->req_id = next_req_id++;
    while (write_busy && !broken)
        minios_waitq_wait(&write_wq, 0);
    write_busy = 1;
    minios_events_restore(f);

    struct xsd_sockmsg h = { .type = type, .req_id = p->req_id, .tx_id = t,
                             .len = (uint32_t)total };
    int rc = ring_write(&h, sizeof(h));
    for (unsigned i = 0; i < n && !rc; i++)
        rc = ring_write(iov[i].p, iov[i].len);
    write_busy = 0;
    minios_waitq_wake_one(&write_wq);

    if (!rc)
        MINIOS_WAIT_EVENT(&p->wq, p->done || broken);
    if (!rc && !p->done)
        rc = -EIO;
    if (!rc) {
        if (p->type == XS_ERROR) {
            rc = error_to_errno(p->body);
        } else if (p->type != type) {
            minios_printk("minios: xenbus: reply of type %u to a request of type %u\n",
                          p->type, type);
            rc = -EIO;
        }
    }
    if (!rc && reply) {
        *reply = p->body;
        if (reply_len)
            *reply_len = p->len;
    } else {
        free(p->body);
    }
    p->body = NULL;
    p->in_use = 0;
    minios_waitq_wake_one(&slot_wq);
    return rc;
}

int minios_xs_request(minios_xbt_t t, unsigned type, const void *body, size_t len,
                      char **reply, size_t *reply_len)
{
    struct iovec_s iov = { body, len };
    return request_iov(t, type, &iov, 1, reply, reply_len);
}

/* A request whose body is a NUL-terminated path. */
static int path_request(minios_xbt_t t, unsigned type, const char *path, char **reply,
                        size_t *len)
{
    return minios_xs_request(t, type, path, strlen(path) + 1, reply, len);
}

int minios_xs_read(minios_xbt_t t, const char *path, char **value, size_t *len)
{
    return path_request(t, XS_READ, path, value, len);
}

int minios_xs_write_bytes(minios_xbt_t t, const char *path, const void *value, size_t len)
{
    struct iovec_s iov[2] = { { path, strlen(path) + 1 }, { value, len } };
    return request_iov(t, XS_WRITE, iov, 2, NULL, NULL);
}

int minios_xs_write(minios_xbt_t t, const char *path, const char *value)
{
    return minios_xs_write_bytes(t, path, value, strlen(value));
}

int minios_xs_mkdir(minios_xbt_t t, const char *path)
{
    return path_request(t, XS_MKDIR, path, NULL, NULL);
}

int minios_xs_rm(minios_xbt_t t, const char *path)
{
    return path_request(t, XS_RM, path, NULL, NULL);
}

/* Turns a reply of NUL-terminated strings into an array of pointers into
 * one allocation. */
static int split_strings(char *body, size_t len, char ***out, unsigned *n)
{
    unsigned count = 0;
    for (size_t i = 0; i < len; i++)
        if (!body[i])
            count++;
    char **arr = malloc((count + 1) * sizeof(char *) + len + 1);
    if (!arr) {
        free(body);
        return -ENOMEM;
    }
    char *s = (char *)(arr + count + 1);
    memcpy(s, body, len + 1);
    free(body);
    unsigned k = 0;
    for (size_t i = 0; i < len && k < count; i += strlen(s + i) + 1)
        arr[k++] = s + i;
    arr[k] = NULL;
    *out = arr;
    *n = count;
    return 0;
}

int minios_xs_directory(minios_xbt_t t, const char *path, char ***names, unsigned *n)
{
    char *body;
    size_t len;
    int rc = path_request(t, XS_DIRECTORY, path, &body, &len);
    return rc ? rc : split_strings(body, len, names, n);
}

int minios_xs_get_perms(minios_xbt_t t, const char *path, char ***perms, unsigned *n)
{
    char *body;
    size_t len;
    int rc = path_request(t, XS_GET_PERMS, path, &body, &len);
    return rc ? rc : split_strings(body, len, perms, n);
}

int minios_xs_set_perms(minios_xbt_t t, const char *path, const char *const *perms,
                        unsigned n)
{
    char buf[XENSTORE_PAYLOAD_MAX];
    size_t len = strlen(path) + 1;
    if (len > sizeof(buf))
        return -EINVAL;
    memcpy(buf, path, len);
    for (unsigned i = 0; i < n; i++) {
        size_t l = strlen(perms[i]) + 1;
        if (len + l > sizeof(buf))
            return -EINVAL;
        memcpy(buf + len, perms[i], l);
        len += l;
    }
    return minios_xs_request(t, XS_SET_PERMS, buf, len, NULL, NULL);
}

int minios_xs_get_domain_path(unsigned domid, char **path)
{
    char id[16];
    snprintf(id, sizeof(id), "%u", domid);
    return path_request(MINIOS_XBT_NIL, XS_GET_DOMAIN_PATH, id, path, NULL);
}

int minios_xs_transaction_start(minios_xbt_t *t)
{
    char *body;
    int rc = minios_xs_request(MINIOS_XBT_NIL, XS_TRANSACTION_START, "", 1, &body, NULL);
    if (rc)
        return rc;
    char *end;
    unsigned long id = strtoul(body, &end, 10);
    rc = (end == body || *end || id == 0 || id > UINT32_MAX) ? -EIO : 0;
    free(body);
    if (!rc)
        *t = (minios_xbt_t)id;
    return rc;
}

int minios_xs_transaction_end(minios_xbt_t t, int abort)
{
    return minios_xs_request(t, XS_TRANSACTION_END, abort ? "F" : "T", 2, NULL, NULL);
}

int minios_xs_transaction_run(int (*fn)(minios_xbt_t t, void *arg), void *arg,
                              unsigned tries)
{
    if (!tries)
        tries = 100;
    for (unsigned i = 0; i < tries; i++) {
        minios_xbt_t t;
        int rc = minios_xs_transaction_start(&t);
        if (rc)
            return rc;
        rc = fn(t, arg);
        if (rc) {
            minios_xs_transaction_end(t, 1);
            return rc;
        }
        rc = minios_xs_transaction_end(t, 0);
        if (rc != -EAGAIN)
            return rc;
    }
    return -EAGAIN;
}

/* The token xenstored sees: "<id>:<token>", so that callbacks are found
 * by id whatever tokens callers choose. */
static int watch_request(unsigned type, const struct watch *w)
{
    char tok[24];
    int tl = snprintf(tok, sizeof(tok), "%u:", w->id);
    struct iovec_s iov[3] = { { w->path, strlen(w->path) + 1 }, { tok, (size_t)tl },
                              { w->token, strlen(w->token) + 1 } };
    return request_iov(MINIOS_XBT_NIL, type, iov, 3, NULL, NULL);
}

int minios_xs_watch(const char *path, const char *token, minios_xs_watch_fn cb, void *data)
{
    /* The xenwatch thread starts with the first watch: appliances that
     * never watch do not pay for its stack. */
    static int xenwatch_started;
    if (!xenwatch_started) {
        if (!minios_thread_create("xenwatch", xenwatch_thread, NULL, 0))
            return -ENOMEM;
        xenwatch_started = 1;
    }
    for (struct watch *w = watches; w; w = w->next)
        if (!strcmp(w->path, path) && !strcmp(w->token, token))
            return -EEXIST;
    struct watch *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->path = strdup(path);
    w->token = strdup(token);
    if (!w->path || !w->token) {
        free(w->path);
        free(w->token);
        free(w);
        return -ENOMEM;
    }
    w->id = next_watch_id++;
    w->cb = cb;
    w->data = data;
    /* Registered before the request: the first event may come at once. */
    w->next = watches;
    watches = w;
    int rc = watch_request(XS_WATCH, w);
    if (rc) {
        struct watch **pp = &watches;
        while (*pp && *pp != w)
            pp = &(*pp)->next;
        if (*pp)
            *pp = w->next;
        free(w->path);
        free(w->token);
        free(w);
    }
    return rc;
}

int minios_xs_unwatch(const char *path, const char *token)
{
    struct watch **pp = &watches;
    while (*pp && (strcmp((*pp)->path, path) || strcmp((*pp)->token, token)))
        pp = &(*pp)->next;
    if (!*pp)
        return -ENOENT;
    struct watch *w = *pp;
    int rc = watch_request(XS_UNWATCH, w);
    /* Forgotten either way: no callback runs for it any more. */
    *pp = w->next;
    free(w->path);
    free(w->token);
    free(w);
    return rc;
}
