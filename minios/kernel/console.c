/* console.c: minios's console: console_io at start of day, then the console ring (io/console.h) to the backend. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <minios/console.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <xen/event_channel.h>
#include <xen/io/console.h>
#include "kernel.h"

/* Xen copies a write in chunks itself; keep each hypercall short anyway. */
#define CONSOLE_CHUNK 1024

#define MS                 1000000ull
#define SHUTDOWN_FLUSH_NS  (2000 * MS)  /* last words: how long the backend gets */
#define WAIT_STEP_NS       (100 * MS)   /* a waiting writer notifies again */
#define POLL_STEP_NS       (100 * MS)   /* a polling writer's SCHEDOP_poll (the backend's event ends it) */
#define ALIVE_CHECK_NS     (100 * MS)   /* a waiting writer checks the backend */
#define UNCONNECTED_NS     (10000 * MS) /* ... and waits no longer for a first one */
#define BITS_PER_WORD      (sizeof(xen_ulong_t) * 8)

/*
 * The ring: out[] is ours to fill (out_prod), the backend's to empty
 * (out_cons). We keep our own copy of out_prod and trust nothing the
 * backend writes but out_cons, and that only if it lies in [prod - size,
 * prod]. NULL: output goes to console_io.
 */
static struct xencons_interface *ring;
static evtchn_port_t port;
static XENCONS_RING_IDX prod;
static int bound;             /* our handler is on port */
static int bind_refused;      /* the appliance bound port itself: poll */
static int backend_seen;      /* port was connected once, or out_cons moved */
static XENCONS_RING_IDX start_cons;   /* out_cons when we took the ring */
static uint64_t unconnected_since;    /* a writer first waited for a backend never seen */
static int writer_busy;       /* a thread is between its first and last byte */
static struct minios_waitq space_wq = MINIOS_WAITQ_INIT;
static struct minios_waitq writer_wq = MINIOS_WAITQ_INIT;

static long io_write(const char *buf, size_t len)
{
    while (len > 0) {
        size_t n = len < CONSOLE_CHUNK ? len : CONSOLE_CHUNK;
        long rc = HYPERVISOR_console_io(CONSOLEIO_write, (int)n, (char *)buf);

        if (rc < 0)
            return rc;
        buf += n;
        len -= n;
    }
    return 0;
}

/* Formats into a buffer of 512 bytes (longer output is cut) and hands
 * the text to out. */
static int vformat_to(long (*out)(const char *, size_t), const char *fmt, va_list ap)
{
    char buf[512];
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);

    if (n < 0)
        return n;
    if ((size_t)n >= sizeof(buf))
        n = sizeof(buf) - 1;
    out(buf, (size_t)n);
    return n;
}

static int io_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int io_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vformat_to(io_write, fmt, ap);
    va_end(ap);
    return n;
}

int minios_console_uses_ring(void)
{
    return ring != NULL;
}

/* Bytes in out[] the backend has not taken; -1 if its out_cons is not
 * within [prod - size, prod]. */
static long ring_used(void)
{
    XENCONS_RING_IDX cons = __atomic_load_n(&ring->out_cons, __ATOMIC_ACQUIRE);
    XENCONS_RING_IDX used = prod - cons;

    return used <= sizeof(ring->out) ? (long)used : -1;
}

static void notify(void)
{
    minios_evtchn_send(port);
}

/* 1 if the backend's end of port is connected now. */
static int backend_connected(void)
{
    struct evtchn_status st = { .dom = DOMID_SELF, .port = port };

    if (HYPERVISOR_event_channel_op(EVTCHNOP_status, &st) != 0)
        return 0;
    if (st.status == EVTCHNSTAT_interdomain)
        backend_seen = 1;
    return st.status == EVTCHNSTAT_interdomain;
}

/* 1 if the backend was there (connected, or it took bytes) and its end
 * of port is closed now: it died or let go of us. */
static int backend_gone(void)
{
    if (ring && __atomic_load_n(&ring->out_cons, __ATOMIC_RELAXED) != start_cons)
        backend_seen = 1;
    return !backend_connected() && backend_seen;
}

/* The backend's end is not connected now; why, for abandon_ring. */
static const char *unconnected_why(void)
{
    if (ring && __atomic_load_n(&ring->out_cons, __ATOMIC_RELAXED) != start_cons)
        backend_seen = 1;
    return backend_seen ? "the backend has gone" : "no backend connected yet";
}

/*
 * Gives up the ring: what the backend has not taken (all of out[] if it
 * broke out_cons) goes to console_io after a line that says why, and so
 * does all later output. Events masked.
 */
static void abandon_ring(const char *why)
{
    long used = ring_used();
    XENCONS_RING_IDX n = used < 0 ? sizeof(ring->out) : (XENCONS_RING_IDX)used;
    struct xencons_interface *r = ring;

    ring = NULL;
    if (n)
        io_printf("minios: console: %s; the %u unread bytes of the ring follow, "
                  "then console_io\n", why, n);
    else
        io_printf("minios: console: %s; console_io from now on\n", why);
    for (XENCONS_RING_IDX i = prod - n; i != prod; ) {
        char buf[128];
        size_t k = 0;

        while (i != prod && k < sizeof(buf))
            buf[k++] = r->out[MASK_XENCONS_IDX(i++, r->out)];
        io_write(buf, k);
    }
    /* What we printed is ours: a backend that connects late must not
     * print it again. */
    __atomic_store_n(&r->out_cons, prod, __ATOMIC_RELEASE);
    /* Threads asleep on the ring carry on with console_io. */
    minios_waitq_wake_all(&space_wq);
}

static void console_event(evtchn_port_t p, void *data)
{
    (void)p;
    (void)data;
    minios_waitq_wake_all(&space_wq);
}

/* Binds our handler to port the first time a thread must sleep; if the
 * appliance has its own handler there, writers poll instead. */
static int can_sleep_on_port(void)
{
    if (!bound && !bind_refused) {
        if (minios_evtchn_bind(port, console_event, NULL) == 0)
            bound = 1;
        else
            bind_refused = 1;
    }
    return bound;
}

/*
 * Waits up to POLL_STEP_NS for an event on port with events masked
 * (SCHEDOP_poll does not enable delivery). An event on our own port is
 * taken here (its pending bit cleared first, or poll would return at
 * once), so threads asleep on the ring are woken after it. Events masked.
 */
static void poll_once(void)
{
    evtchn_port_t p = port;
    struct sched_poll sp = {
        .nr_ports = 1,
        .timeout = minios_monotonic_ns() + POLL_STEP_NS,
    };

    set_xen_guest_handle(sp.ports, &p);
    if (!bind_refused)
        __atomic_fetch_and(&minios_shared_info->evtchn_pending[port / BITS_PER_WORD],
                           ~((xen_ulong_t)1 << (port % BITS_PER_WORD)), __ATOMIC_ACQ_REL);
    if (HYPERVISOR_sched_op(SCHEDOP_poll, &sp) < 0)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    minios_waitq_wake_all(&space_wq);
}

/*
 * The ring is full: let the backend work. A thread sleeps (events masked
 * on entry and on return, enabled meanwhile); other contexts poll. Either
 * wakes at least every WAIT_STEP_NS to look and notify again (a lost
 * notification in either direction costs that much, not a hang), and
 * checks now and then that the backend is still there. Events masked.
 */
static void wait_for_space(int can_block, uint64_t *next_check)
{
    notify();
    if (can_block && can_sleep_on_port())
        minios_waitq_wait(&space_wq, minios_monotonic_ns() + WAIT_STEP_NS);
    else
        poll_once();
    uint64_t now = minios_monotonic_ns();
    if (!*next_check) {
        *next_check = now + ALIVE_CHECK_NS;
    } else if (now >= *next_check) {
        *next_check = now + ALIVE_CHECK_NS;
        if (backend_gone()) {
            abandon_ring("the backend has gone");
        } else if (!backend_seen) {
            /* A full ring and never a backend: a xenstore domain that
             * serves no consoles must not hang us. */
            if (!unconnected_since)
                unconnected_since = now;
            else if (now - unconnected_since >= UNCONNECTED_NS)
                abandon_ring("no backend connected in 10 s");
        }
    }
}

long minios_console_write(const char *buf, size_t len)
{
    if (!ring)
        return io_write(buf, len);

    /* Events masked while we fill the ring: a handler that prints does
     * not cut into our bytes, except while we wait for space. */
    unsigned long flags = minios_events_save();
    int can_block = flags == 0;           /* a thread, with events enabled */
    int own = 0;
    uint64_t next_check = 0;

    /*
     * A context that cannot wait (a trap handler reporting an exception,
     * just before the domain dies; an event handler) writes to the ring
     * only while the backend is connected: a domain that dies before its
     * backend mapped the ring, or after the backend died, would take its
     * last words with it.
     */
    if (!can_block && !backend_connected())
        abandon_ring(unconnected_why());
    if (can_block) {
        /* One thread's write at a time, even across waits for space. */
        while (writer_busy && ring)
            minios_waitq_wait(&writer_wq, 0);
        writer_busy = own = 1;
    }
    while (len > 0 && ring) {
        long used = ring_used();

        if (used < 0) {
            abandon_ring("the backend broke the ring (out_cons)");
            break;
        }
        size_t space = sizeof(ring->out) - (size_t)used;
        if (!space) {
            wait_for_space(can_block, &next_check);
            continue;
        }
        size_t n = len < space ? len : space;
        for (size_t i = 0; i < n; i++)
            ring->out[MASK_XENCONS_IDX(prod + (XENCONS_RING_IDX)i, ring->out)] = buf[i];
        prod += (XENCONS_RING_IDX)n;
        __atomic_store_n(&ring->out_prod, prod, __ATOMIC_RELEASE);   /* wmb, then index */
        buf += n;
        len -= n;
    }
    if (ring)
        notify();
    if (own) {
        writer_busy = 0;
        minios_waitq_wake_one(&writer_wq);
    }
    minios_events_restore(flags);
    return len ? io_write(buf, len) : 0;
}

int minios_printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vformat_to(minios_console_write, fmt, ap);
    va_end(ap);
    return n;
}

void minios_console_init(void)
{
    const start_info_t *si = minios_start_info;
    struct xencons_interface *r;

    /* dom0's start_info has console.dom0 where a domU's has domU. */
    if (ring || !si || (si->flags & SIF_INITDOMAIN) || !si->console.domU.evtchn ||
        !minios_events_available())
        return;
    r = minios_frame_va(si->console.domU.mfn);
    if (!r) {
        minios_printk("minios: console: ring frame %lx is not ours; using console_io\n",
                      (unsigned long)si->console.domU.mfn);
        return;
    }
    port = si->console.domU.evtchn;
    /* The ring starts empty (the builder zeroes it); anything else and we
     * start after what is there. */
    prod = __atomic_load_n(&r->out_prod, __ATOMIC_ACQUIRE);
    start_cons = __atomic_load_n(&r->out_cons, __ATOMIC_ACQUIRE);
    ring = r;
}

int minios_console_flush(unsigned long long timeout_ns)
{
    int rc = 0;

    if (!ring)
        return 0;
    unsigned long flags = minios_events_save();
    uint64_t deadline = minios_monotonic_ns() + timeout_ns, next_check = 0, next_notify = 0;

    while (ring) {
        long used = ring_used();
        if (used <= 0)
            break;           /* all taken, or broken (shutdown abandons it) */
        uint64_t now = minios_monotonic_ns();
        if (now >= deadline) {
            rc = -XEN_ETIMEDOUT;
            break;
        }
        if (now >= next_notify) {
            next_notify = now + WAIT_STEP_NS;
            notify();
        }
        poll_once();
        if (now >= next_check) {
            next_check = now + ALIVE_CHECK_NS;
            if (backend_gone())
                abandon_ring("the backend has gone");
        }
    }
    minios_events_restore(flags);
    return rc;
}

void minios_console_shutdown(void)
{
    if (!ring)
        return;
    minios_console_flush(SHUTDOWN_FLUSH_NS);
    /* A backend that has not connected yet may be busy starting (a
     * xenstore domain introducing a thousand boot domains): give it
     * longer before the ring is given up. */
    if (ring && ring_used() > 0 && !backend_seen && !backend_connected())
        minios_console_flush(UNCONNECTED_NS);
    unsigned long flags = minios_events_save();
    if (ring) {
        long used = ring_used();
        if (used)
            abandon_ring(used < 0 ? "the backend broke the ring (out_cons)"
                                  : "the backend did not take our last output in time");
        ring = NULL;
    }
    minios_events_restore(flags);
}
