/* console.c: the console backend in the xenstore domain: reads other domains' console rings and prints their lines. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <xen/io/console.h>
#include "console.h"

/*
 * One service thread serves every ring. An event on a ring's port marks
 * it and wakes the thread; the thread takes at most XSC_BUDGET bytes of
 * each marked ring per pass, round robin from a different ring each pass,
 * so one chatty or broken domain cannot hold up the others. The bytes are
 * copied out of the shared page before they are looked at, their lines
 * printed (one console_io for a batch of lines), and only then is out_cons
 * advanced and the frontend notified: once out_cons == out_prod, every
 * complete line it wrote is on the console.
 */
#define XSC_BUDGET 1024
#define OUT_BUF    4096
#define RESCAN_NS  1000000000ull

struct xsc_con {
    unsigned domid;
    char name[32];
    size_t max;                      /* longest text of a line with our prefix */
    struct xencons_interface *ring;
    grant_handle_t handle;
    evtchn_port_t lport;
    volatile int kicked;             /* an event came: look at the ring */
    int bad;                         /* malformed indices seen: not served */
    size_t len;                      /* the unfinished line */
    char line[XSC_LINE_MAX];
};

static struct xsc_con **cons;
static unsigned nr_cons, cap_cons, rr;
static volatile int work;
static struct minios_waitq work_wq = MINIOS_WAITQ_INIT;
static int started;

/* ---- output: whole lines, batched into one console_io */

static char obuf[OUT_BUF];
static size_t olen;

static void out_flush(void)
{
    if (olen)
        HYPERVISOR_console_io(CONSOLEIO_write, (int)olen, obuf);
    olen = 0;
}

static void out_put(const char *s, size_t n)
{
    memcpy(obuf + olen, s, n);
    olen += n;
}

/* "(name) text\n"; text has at most XSC_LINE_MAX - strlen("(name) ")
 * bytes, already cleaned. */
static void out_line(const char *name, const char *text, size_t n)
{
    size_t nl = strlen(name);

    if (olen + nl + n + 4 > sizeof(obuf))
        out_flush();
    out_put("(", 1);
    out_put(name, nl);
    out_put(") ", 2);
    out_put(text, n);
    out_put("\n", 1);
}

/* What a byte of a guest's output becomes: -1 dropped, else a byte with
 * no escape sequences in it. */
static int clean(unsigned char c)
{
    if (c == '\r')
        return -1;
    if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
        return '?';
    return c;
}

static void emit(struct xsc_con *c)
{
    out_line(c->name, c->line, c->len);
    c->len = 0;
}

static void feed(struct xsc_con *c, char ch)
{
    int b = clean((unsigned char)ch);

    if (b < 0)
        return;
    if (b == '\n') {
        emit(c);
        return;
    }
    if (c->len == c->max)
        emit(c);                     /* a long line: cut it, each piece named */
    c->line[c->len++] = (char)b;
}

void xsc_log(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;

    static const char me[] = "xenstore";
    const size_t max = XSC_LINE_MAX - (sizeof(me) - 1) - 3;
    char text[XSC_LINE_MAX];
    size_t len = 0;

    out_flush();
    for (int i = 0; i < n; i++) {
        int b = clean((unsigned char)buf[i]);
        if (b < 0)
            continue;
        if (b == '\n' || len == max) {
            out_line(me, text, len);
            len = 0;
            if (b == '\n')
                continue;
        }
        text[len++] = (char)b;
    }
    if (len || n == 0 || buf[n - 1] != '\n')
        out_line(me, text, len);
    out_flush();
}

/* ---- serving a ring */

/*
 * Takes up to budget bytes from c's ring, prints its complete lines, then
 * frees the space. Returns the bytes taken. Indices the guest made up
 * (more unread bytes than the ring holds) end the service of this ring;
 * nothing outside out[] is ever read.
 */
static size_t serve(struct xsc_con *c, size_t budget)
{
    struct xencons_interface *r = c->ring;
    char buf[XSC_BUDGET];

    if (c->bad)
        return 0;
    if (budget > sizeof(buf))
        budget = sizeof(buf);
    XENCONS_RING_IDX cons_i = __atomic_load_n(&r->out_cons, __ATOMIC_RELAXED);
    XENCONS_RING_IDX prod_i = __atomic_load_n(&r->out_prod, __ATOMIC_ACQUIRE);  /* then rmb */
    XENCONS_RING_IDX avail = prod_i - cons_i;

    if (avail > sizeof(r->out)) {
        c->bad = 1;
        xsc_log("console: domain %u: bad ring indices, ignored", c->domid);
        return 0;
    }
    if (avail > budget)
        avail = (XENCONS_RING_IDX)budget;
    for (XENCONS_RING_IDX i = 0; i < avail; i++)
        buf[i] = r->out[MASK_XENCONS_IDX(cons_i + i, r->out)];
    for (XENCONS_RING_IDX i = 0; i < avail; i++)
        feed(c, buf[i]);
    out_flush();
    if (avail) {
        /* Our reads of out[] before the index that frees them. */
        __atomic_store_n(&r->out_cons, cons_i + avail, __ATOMIC_RELEASE);
        minios_evtchn_send(c->lport);
    }
    return avail;
}

static void kick(struct xsc_con *c)
{
    c->kicked = 1;
    work = 1;
    minios_waitq_wake_all(&work_wq);
}

static void console_event(evtchn_port_t port, void *data)
{
    (void)port;
    kick(data);
}

/* Passes over the marked rings until none has anything left. */
static void serve_all(void)
{
    int more;

    do {
        more = 0;
        for (unsigned k = 0; k < nr_cons; k++) {
            struct xsc_con *c = cons[(rr + k) % nr_cons];

            if (!c->kicked)
                continue;
            c->kicked = 0;
            if (serve(c, XSC_BUDGET) == XSC_BUDGET) {
                c->kicked = 1;       /* maybe more: next pass */
                more = 1;
            }
        }
        rr++;
        /* The store's threads get their turn between passes. */
        minios_thread_yield();
    } while (more);
}

/* Without events for RESCAN_NS, every ring is looked at anyway: a lost
 * notification delays lines, it does not keep them. */
static void service(void *arg)
{
    (void)arg;
    for (;;) {
        unsigned long f = minios_events_save();
        while (!work)
            if (minios_waitq_wait(&work_wq, minios_monotonic_ns() + RESCAN_NS) < 0) {
                for (unsigned i = 0; i < nr_cons; i++)
                    cons[i]->kicked = 1;
                break;
            }
        work = 0;
        minios_events_restore(f);
        serve_all();
    }
}

void xsc_console_init(void)
{
    if (started)
        return;
    started = 1;
    if (!minios_thread_create("console", service, NULL, 0))
        xsc_log("console: cannot start the service thread: out of memory");
}

static struct xsc_con *find(unsigned domid, unsigned *idx)
{
    for (unsigned i = 0; i < nr_cons; i++)
        if (cons[i]->domid == domid) {
            if (idx)
                *idx = i;
            return cons[i];
        }
    return NULL;
}

int xsc_console_add(unsigned domid, const char *name, unsigned port)
{
    struct xsc_con *c;
    int rc;

    if (find(domid, NULL))
        return -XEN_EEXIST;
    if (nr_cons == cap_cons) {
        unsigned cap = cap_cons ? cap_cons * 2 : 16;
        struct xsc_con **n = realloc(cons, cap * sizeof(*n));
        if (!n) {
            xsc_log("console: domain %u: out of memory", domid);
            return -XEN_ENOMEM;
        }
        cons = n;
        cap_cons = cap;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        xsc_log("console: domain %u: out of memory", domid);
        return -XEN_ENOMEM;
    }
    c->domid = domid;
    for (size_t i = 0; name && name[i] && i < sizeof(c->name) - 1; i++) {
        int b = clean((unsigned char)name[i]);
        c->name[i] = (char)(b < 0 || b == '\n' ? '?' : b);
    }
    if (!c->name[0])
        snprintf(c->name, sizeof(c->name), "d%u", domid);
    c->max = XSC_LINE_MAX - strlen(c->name) - 3;

    c->ring = minios_gnttab_map((domid_t)domid, GNTTAB_RESERVED_CONSOLE, 0, &c->handle);
    if (!c->ring) {
        xsc_log("console: domain %u: cannot map its console ring (grant status %d)",
                domid, minios_gnttab_last_status());
        free(c);
        return -XEN_EFAULT;
    }
    rc = minios_evtchn_bind_interdomain((domid_t)domid, port, &c->lport);
    if (rc < 0) {
        xsc_log("console: domain %u: cannot bind its console port %u (%d)", domid, port, rc);
        minios_gnttab_unmap(c->ring, c->handle);
        free(c);
        return rc;
    }
    unsigned long f = minios_events_save();
    cons[nr_cons++] = c;
    minios_events_restore(f);
    rc = minios_evtchn_bind(c->lport, console_event, c);
    if (rc < 0)
        xsc_log("console: domain %u: no events on port %u (%d); served on others' events",
                domid, c->lport, rc);
    kick(c);                         /* what it wrote before we came */
    return 0;
}

void xsc_console_remove(unsigned domid)
{
    unsigned idx;
    struct xsc_con *c = find(domid, &idx);

    if (!c)
        return;
    /* Its last words: what is in the ring (a bounded number of rounds, in
     * case it is alive and still writing), then its unfinished line. */
    for (unsigned i = 0; i < 64 && serve(c, XSC_BUDGET); i++)
        ;
    if (c->len)
        emit(c);
    out_flush();

    minios_evtchn_close(c->lport);   /* masks it and forgets the handler */
    unsigned long f = minios_events_save();
    cons[idx] = cons[--nr_cons];
    minios_events_restore(f);
    if (minios_gnttab_unmap(c->ring, c->handle) < 0)
        xsc_log("console: domain %u: cannot unmap its console ring", domid);
    free(c);
}
