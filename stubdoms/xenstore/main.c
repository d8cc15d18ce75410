/* main.c: the xenstore stub domain: serves every domain's store ring with the xs_store core, introduces the boot domains, notices dead ones, and runs the console backend. */
#define __XEN_TOOLS__ 1
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/sched.h>
#include <minios/startinfo.h>
#include <minios/thread.h>
#include <minios/time.h>
#include <xen/domctl.h>
#include <xen/event_channel.h>
#include <xen/io/xs_wire.h>
#include "console.h"
#include "vif.h"
#include "vbd.h"
#include "xs_store.h"

/*
 * One service loop (main's thread) does all store work: event handlers
 * only count kicks and wake it. Each pass reads the requests of every
 * connected domain whose ring has some, hands them to the core, and copies
 * the core's queued replies and watch events into the response rings.
 *
 * Domains come from three places:
 *  - the boot module the hypervisor gives us (one line per boot domain,
 *    docs/boot-config.md): introduced at start, with the usual nodes
 *    under /local/domain/<id> written as a toolstack would;
 *  - XS_INTRODUCE from a privileged (control-role) domain at run time;
 *  - they leave by XS_RELEASE, or when VIRQ_DOM_EXC says one shut down
 *    (@releaseDomain fires) or died (its connection is dropped).
 */
struct dom {
    struct dom *next;
    unsigned domid;
    char name[64];
    bool privileged;
    struct xenstore_domain_interface *ring;
    grant_handle_t handle;
    evtchn_port_t port;          /* ours, bound to the domain's store port */
    struct xs_conn *conn;
    bool shutdown_seen;
    bool dead;                   /* broken ring, released or gone: no service */
    bool console;
    bool boot;                   /* its nodes are ours to remove (we wrote them) */
};

/* The boot-domain list's lines, kept: a domain with restart= comes back
 * with the same id after the hypervisor builds it again, and is
 * introduced again from its line (docs/xenstore.md). */
struct bootline {
    struct bootline *next;
    unsigned domid;
    bool restartable;            /* restart=crash or restart=always */
    uint64_t gone_ns;            /* when it was last seen gone (0: present) */
    char *line;
};

static struct xs_store *store;
static struct dom *doms;
static struct bootline *bootlines;
static unsigned vbd_backend;    /* the boot domain named tapdisk (disk= of others) */
static struct minios_waitq service_wq = MINIOS_WAITQ_INIT;
static volatile unsigned kicks, dom_exc;
static bool exit_when_idle;
static bool had_domains;

static void xlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void xlog(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    xsc_log("%s", buf);
}

static struct dom *find_dom(unsigned domid)
{
    for (struct dom *d = doms; d; d = d->next)
        if (d->domid == domid)
            return d;
    return NULL;
}

static void kick(evtchn_port_t port, void *data)
{
    (void)port, (void)data;
    kicks++;
    minios_waitq_wake_all(&service_wq);
}

static void on_dom_exc(evtchn_port_t port, void *data)
{
    (void)port, (void)data;
    dom_exc++;
    minios_waitq_wake_all(&service_wq);
}

/* domctl cmd on domid (the two the xenstore role may use). */
static long domctl(unsigned cmd, unsigned domid, struct xen_domctl *op)
{
    memset(op, 0, sizeof(*op));
    op->cmd = cmd;
    op->interface_version = XEN_DOMCTL_INTERFACE_VERSION;
    op->domain = (domid_t)domid;
    return _hypercall1(__HYPERVISOR_domctl, op);
}

/* Lets a boot domain run: the hypervisor holds each one paused until we
 * have introduced it (docs/boot-config.md). */
static void let_run(unsigned domid)
{
    struct xen_domctl op;
    long rc = domctl(XEN_DOMCTL_unpausedomain, domid, &op);
    if (rc)
        xlog("d%u: cannot let it run: %ld", domid, rc);
}

static long getdomaininfo(unsigned domid, struct xen_domctl_getdomaininfo *info)
{
    struct xen_domctl op;
    long rc = domctl(XEN_DOMCTL_getdomaininfo, domid, &op);
    if (rc == 0)
        *info = op.u.getdomaininfo;
    return rc;
}

/* Maps the domain's store ring (grant GNTTAB_RESERVED_XENSTORE, seeded by
 * the hypervisor or the toolstack) and binds its store port. */
static int connect_dom(struct dom *d, unsigned port)
{
    d->ring = minios_gnttab_map((domid_t)d->domid, GNTTAB_RESERVED_XENSTORE, 0, &d->handle);
    if (!d->ring) {
        xlog("d%u: cannot map its store ring (grant status %d)", d->domid,
             minios_gnttab_last_status());
        return -EACCES;
    }
    evtchn_port_t local;
    int rc = minios_evtchn_bind_interdomain((domid_t)d->domid, port, &local);
    if (rc == 0) {
        d->port = local;
        rc = minios_evtchn_bind(local, kick, d);
    }
    if (rc) {
        xlog("d%u: cannot bind its store port %u: %d", d->domid, port, rc);
        if (d->port)
            minios_evtchn_close(d->port);
        d->port = 0;
        minios_gnttab_unmap(d->ring, d->handle);
        d->ring = NULL;
        return -EINVAL;
    }
    return 0;
}

static void disconnect_dom(struct dom *d)
{
    if (d->port)
        minios_evtchn_close(d->port);
    d->port = 0;
    if (d->ring)
        minios_gnttab_unmap(d->ring, d->handle);
    d->ring = NULL;
}

/* A domain a toolstack introduces (not a boot domain) gets its console
 * served as xenconsoled serves one: if the toolstack wrote console/port
 * (its ring granted to us in entry GNTTAB_RESERVED_CONSOLE), its lines
 * are printed as "(dN) ..." (docs/console.md). */
static void console_of_introduced(struct dom *d)
{
    char path[48], v[16];
    snprintf(path, sizeof(path), "/local/domain/%u/console/port", d->domid);
    long n = xs_store_read_internal(store, path, v, sizeof(v) - 1);
    if (n <= 0 || n >= (long)sizeof(v))
        return;
    v[n] = 0;
    char *end;
    unsigned long port = strtoul(v, &end, 10);
    if (*end || port == 0 || port > 0xffff) {
        xlog("d%u: console/port \"%s\" is not a port: no console", d->domid, v);
        return;
    }
    if (xsc_console_add(d->domid, d->name, (unsigned)port) == 0) {
        d->console = true;
        xlog("d%u: introduced with a console: served on its port %lu", d->domid, port);
    }
}

/* XS_INTRODUCE (from a privileged connection): the core calls this. */
static int introduce_cb(void *opaque, struct xs_store *s, unsigned domid, unsigned long mfn,
                        unsigned port, bool reintroduce)
{
    (void)opaque, (void)s, (void)mfn;
    struct dom *d = find_dom(domid);
    if (reintroduce && d && d->ring) {
        /* Xen rebinds the event channel only. */
        if (d->port)
            minios_evtchn_close(d->port);
        evtchn_port_t local;
        int rc = minios_evtchn_bind_interdomain((domid_t)domid, port, &local);
        if (rc)
            return EINVAL;
        d->port = local;
        minios_evtchn_bind(local, kick, d);
        return 0;
    }
    if (d && d->conn && xs_conn_is_gone(d->conn)) {
        /* Released earlier in the same pass: free the old connection. */
        xs_conn_free(d->conn);
        d->conn = NULL;
    }
    bool fresh = !d;
    if (fresh) {
        d = calloc(1, sizeof(*d));
        if (!d)
            return ENOMEM;
        d->domid = domid;
        snprintf(d->name, sizeof(d->name), "d%u", domid);
    }
    if (connect_dom(d, port)) {
        if (fresh)
            free(d);
        return EINVAL;
    }
    if (fresh) {
        d->next = doms;
        doms = d;
    }
    d->dead = false;
    d->conn = xs_conn_new(store, domid, d->privileged);
    if (!d->conn) {
        disconnect_dom(d);
        d->dead = true;
        return ENOMEM;
    }
    had_domains = true;
    kicks++;
    if (!d->boot && !d->console)
        console_of_introduced(d);
    return 0;
}

/* XS_RELEASE: the core marked the connection gone. */
static void release_cb(void *opaque, struct xs_store *s, unsigned domid, struct xs_conn *conn)
{
    (void)opaque, (void)s, (void)conn;
    struct dom *d = find_dom(domid);
    if (d) {
        disconnect_dom(d);
        d->dead = true;
    }
}

/* Whether prod - cons fits the ring; if not, the domain broke it: it is
 * told so in the ring's error field and served no more. */
static bool indices_ok(struct dom *d, const char *which, XENSTORE_RING_IDX prod,
                       XENSTORE_RING_IDX cons)
{
    if (prod - cons <= XENSTORE_RING_SIZE)
        return true;
    xlog("d%u (%s): %s indices out of range (prod %u cons %u); no more service",
         d->domid, d->name, which, prod, cons);
    d->ring->error = XENSTORE_ERROR_RINGIDX;
    d->dead = true;
    return false;
}

/* Serves one domain's ring: requests in, replies and events out. */
static void serve(struct dom *d)
{
    struct xenstore_domain_interface *r = d->ring;
    if (d->dead || !r || !d->conn)
        return;
    bool notify = false;

    /* Requests. */
    for (;;) {
        XENSTORE_RING_IDX cons = r->req_cons;
        XENSTORE_RING_IDX prod = __atomic_load_n(&r->req_prod, __ATOMIC_ACQUIRE);
        XENSTORE_RING_IDX avail = prod - cons;
        if (!indices_ok(d, "request", prod, cons))
            break;
        if (!avail || !xs_conn_can_accept(d->conn))
            break;
        size_t off = MASK_XENSTORE_IDX(cons);
        size_t n = avail;
        if (n > XENSTORE_RING_SIZE - off)
            n = XENSTORE_RING_SIZE - off;
        char buf[XENSTORE_RING_SIZE];
        memcpy(buf, (const char *)r->req + off, n);
        size_t used = 0;
        int rc = xs_conn_input(d->conn, buf, n, &used);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        r->req_cons = cons + (XENSTORE_RING_IDX)used;
        notify = true;
        if (rc == XS_CONN_PROTOCOL_ERROR) {
            xlog("d%u (%s): a request longer than XENSTORE_PAYLOAD_MAX; no more service",
                 d->domid, d->name);
            r->error = XENSTORE_ERROR_PROTO;
            d->dead = true;
            break;
        }
        if (rc == XS_CONN_GONE || used == 0)
            break;
    }

    /* Replies and watch events. */
    while (!d->dead && xs_conn_has_output(d->conn)) {
        XENSTORE_RING_IDX prod = r->rsp_prod;
        XENSTORE_RING_IDX cons = __atomic_load_n(&r->rsp_cons, __ATOMIC_ACQUIRE);
        XENSTORE_RING_IDX used = prod - cons;
        if (!indices_ok(d, "response", prod, cons))
            break;
        size_t room = XENSTORE_RING_SIZE - used;
        if (!room)
            break;
        size_t off = MASK_XENSTORE_IDX(prod);
        if (room > XENSTORE_RING_SIZE - off)
            room = XENSTORE_RING_SIZE - off;
        const void *p;
        size_t n = xs_conn_peek_output(d->conn, &p);
        if (n > room)
            n = room;
        memcpy((char *)r->rsp + off, p, n);
        __atomic_store_n(&r->rsp_prod, prod + (XENSTORE_RING_IDX)n, __ATOMIC_RELEASE);
        xs_conn_consume_output(d->conn, n);
        notify = true;
    }
    if (notify && d->port)
        minios_evtchn_send(d->port);
}

/* Whether the domain at the other end of our store port went away: when
 * a domain dies its ports close and ours is left unbound, as in Xen.  A
 * restarted boot domain has the same id (getdomaininfo then finds the
 * new life), so this is how the end of the old one shows. */
static bool peer_closed(const struct dom *d)
{
    if (!d->port)
        return false;
    struct evtchn_status st = { .dom = DOMID_SELF, .port = d->port };
    if (HYPERVISOR_event_channel_op(EVTCHNOP_status, &st))
        return true;
    return st.status != EVTCHNSTAT_interdomain || st.u.interdomain.dom != d->domid;
}

/* What VIRQ_DOM_EXC may mean: a domain shut down (@releaseDomain, once)
 * or died (its connection goes, its console is drained and dropped, and
 * we forget it). */
static void check_domains(void)
{
    struct dom **pp = &doms;
    while (*pp) {
        struct dom *d = *pp;
        struct xen_domctl_getdomaininfo info;
        long rc = getdomaininfo(d->domid, &info);
        bool gone = rc != 0 || info.domain != d->domid || (info.flags & XEN_DOMINF_dying) ||
                    peer_closed(d);
        bool shut = !gone && (info.flags & XEN_DOMINF_shutdown);
        if (shut && !d->shutdown_seen && d->conn) {
            d->shutdown_seen = true;
            xs_store_fire_special(store, "@releaseDomain");
        }
        if (!gone) {
            pp = &d->next;
            continue;
        }
        if (d->console)
            xsc_console_remove(d->domid);
        if (d->boot) {
            /* As a toolstack does when it destroys a domain. */
            char path[32];
            snprintf(path, sizeof(path), "/local/domain/%u", d->domid);
            xs_store_rm_internal(store, path);
            xsv_domain_gone(store, d->domid);
        }
        xs_domain_gone(store, d->domid);
        if (d->conn)
            xs_conn_free(d->conn);
        disconnect_dom(d);
        *pp = d->next;
        free(d);
        /* Many may go at once: let the console backend keep up. */
        minios_thread_yield();
    }
}

/* Frees the connections the core marked gone (RELEASE). */
static void reap_released(void)
{
    for (struct dom *d = doms; d; d = d->next)
        if (d->conn && xs_conn_is_gone(d->conn)) {
            disconnect_dom(d);
            xs_conn_free(d->conn);
            d->conn = NULL;
            d->dead = true;
        }
}

static bool anyone_left(void)
{
    for (struct dom *d = doms; d; d = d->next)
        if (d->conn || d->console)
            return true;
    return false;
}

/* Writes one node as the toolstack: owner dom0 (us), readable by domid,
 * or owned by domid when rw. */
static void put_node(unsigned domid, const char *rel, const char *value, bool rw)
{
    char path[128], perms[32];
    snprintf(path, sizeof(path), "/local/domain/%u%s%s", domid, *rel ? "/" : "", rel);
    int plen;
    if (rw)
        plen = snprintf(perms, sizeof(perms), "n%u", domid) + 1;
    else
        plen = snprintf(perms, sizeof(perms), "n0%cr%u", 0, domid) + 1;
    int rc = xs_store_write_internal(store, path, value, strlen(value), 0, perms, (size_t)plen);
    if (rc)
        xlog("cannot write %s: %d", path, rc);
}

static void boot_domain_setup(struct dom *d, unsigned store_port, unsigned console_port,
                              const char *name, bool again);
static void vbd_backend_back(unsigned backend);

/* One line of the boot module:
 * domain <id> name=<n> mem_kb=<k> vcpus=<v> store_mfn=<m> store_port=<p>
 *        console_mfn=<m> console_port=<p> roles=<r> */
static void boot_domain(char *line, bool again)
{
    unsigned id = 0, vcpus = 0, store_port = 0, console_port = 0;
    unsigned long mem_kb = 0, store_mfn = 0, console_mfn = 0;
    char name[64] = "", roles[64] = "-";
    char *disks[4];
    unsigned ndisks = 0;
    char *save;
    char *w = strtok_r(line, " ", &save);
    if (!w || strcmp(w, "domain") || !(w = strtok_r(NULL, " ", &save))) {
        xlog("boot module: bad line '%s'", line);
        return;
    }
    id = (unsigned)strtoul(w, NULL, 10);
    while ((w = strtok_r(NULL, " ", &save))) {
        char *eq = strchr(w, '=');
        if (!eq)
            continue;
        *eq++ = 0;
        if (!strcmp(w, "name"))
            snprintf(name, sizeof(name), "%s", eq);
        else if (!strcmp(w, "mem_kb"))
            mem_kb = strtoul(eq, NULL, 10);
        else if (!strcmp(w, "vcpus"))
            vcpus = (unsigned)strtoul(eq, NULL, 10);
        else if (!strcmp(w, "store_mfn"))
            store_mfn = strtoul(eq, NULL, 10);
        else if (!strcmp(w, "store_port"))
            store_port = (unsigned)strtoul(eq, NULL, 10);
        else if (!strcmp(w, "console_mfn"))
            console_mfn = strtoul(eq, NULL, 10);
        else if (!strcmp(w, "console_port"))
            console_port = (unsigned)strtoul(eq, NULL, 10);
        else if (!strcmp(w, "roles"))
            snprintf(roles, sizeof(roles), "%s", eq);
        else if (!strcmp(w, "disk") && ndisks < 4)
            disks[ndisks++] = eq;
    }
    if (!id || !store_port) {
        xlog("boot module: domain line without id or store port");
        return;
    }
    struct dom *d = calloc(1, sizeof(*d));
    if (!d)
        return;
    d->domid = id;
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->privileged = strstr(roles, "control") != NULL;
    d->boot = true;
    d->next = doms;
    doms = d;

    /* The nodes a toolstack writes (libxl's names). */
    char v[32];
    put_node(id, "", "", true);
    put_node(id, "name", name, false);
    snprintf(v, sizeof(v), "%u", id);
    put_node(id, "domid", v, false);
    snprintf(v, sizeof(v), "%lu", mem_kb);
    put_node(id, "memory/target", v, false);
    put_node(id, "memory/static-max", v, false);
    for (unsigned i = 0; i < vcpus; i++) {
        char rel[32];
        snprintf(rel, sizeof(rel), "cpu/%u/availability", i);
        put_node(id, rel, "online", false);
    }
    snprintf(v, sizeof(v), "%lu", store_mfn);
    put_node(id, "store/ring-ref", v, false);
    snprintf(v, sizeof(v), "%u", store_port);
    put_node(id, "store/port", v, false);
    snprintf(v, sizeof(v), "%u", GNTTAB_RESERVED_CONSOLE);
    put_node(id, "console/ring-ref", v, false);
    snprintf(v, sizeof(v), "%u", console_port);
    put_node(id, "console/port", v, false);
    put_node(id, "console/type", "xenconsoled", false);
    snprintf(v, sizeof(v), "%lu", console_mfn);
    put_node(id, "console/mfn", v, false);
    put_node(id, "data", "", true);
    put_node(id, "device", "", true);
    put_node(id, "control", "", true);
    xsv_boot_disks(store, id, vbd_backend, disks, ndisks);

    boot_domain_setup(d, store_port, console_port, name, again);
    xsv_domain_up(store, id);    /* its vif, and the vifs it serves (vif.c) */
    if (again && id == vbd_backend)
        vbd_backend_back(id);
    let_run(id);
}

/* The tapdisk domain came back after a restart: each present boot
 * domain's disk= words get their backend directories again (vbd.c). */
static void vbd_backend_back(unsigned backend)
{
    for (struct bootline *b = bootlines; b; b = b->next) {
        if (b->domid == backend || !find_dom(b->domid) || !strstr(b->line, " disk="))
            continue;
        char *line = strdup(b->line), *save, *w;
        char *disks[4];
        unsigned n = 0;
        if (!line)
            continue;
        for (w = strtok_r(line, " ", &save); w; w = strtok_r(NULL, " ", &save))
            if (!strncmp(w, "disk=", 5) && n < 4)
                disks[n++] = w + 5;
        xsv_vbd_backend_back(store, b->domid, backend, disks, n);
        free(line);
    }
}

/* Its console, its store connection, @introduceDomain. */
static void boot_domain_setup(struct dom *d, unsigned store_port, unsigned console_port,
                              const char *name, bool again)
{
    char v[32];
    if (console_port && xsc_console_add(d->domid, name, console_port) == 0) {
        d->console = true;
        if (again) {
            /* A new life has new frames: the line's are the first life's. */
            snprintf(v, sizeof(v), "%lu", minios_gnttab_last_frame());
            put_node(d->domid, "console/mfn", v, false);
        }
    }
    if (connect_dom(d, store_port)) {
        d->dead = true;
        return;
    }
    if (again) {
        snprintf(v, sizeof(v), "%lu", minios_gnttab_last_frame());
        put_node(d->domid, "store/ring-ref", v, false);
    }
    d->conn = xs_conn_new(store, d->domid, d->privileged);
    if (!d->conn) {
        disconnect_dom(d);
        d->dead = true;
        return;
    }
    had_domains = true;
    xs_store_fire_special(store, "@introduceDomain");
}

static void remember_line(const char *line)
{
    unsigned id;
    struct bootline *b = calloc(1, sizeof(*b));
    if (!b || sscanf(line, "domain %u", &id) != 1 || !(b->line = strdup(line))) {
        free(b);
        return;
    }
    b->domid = id;
    b->restartable = strstr(line, " restart=crash") || strstr(line, " restart=always");
    b->next = bootlines;
    bootlines = b;
}

/* After VIRQ_DOM_EXC: a boot domain with restart= that was gone and is
 * back (the hypervisor built it again, with the same id, and holds it
 * paused for us) is introduced again, as at boot. */
static void reintroduce_restarted(void)
{
    for (struct bootline *b = bootlines; b; b = b->next) {
        if (!b->restartable || find_dom(b->domid))
            continue;
        struct xen_domctl_getdomaininfo info;
        long rc = getdomaininfo(b->domid, &info);
        bool back = rc == 0 && info.domain == b->domid &&
                    !(info.flags & (XEN_DOMINF_dying | XEN_DOMINF_shutdown));
        if (!back) {
            if (!b->gone_ns)
                b->gone_ns = minios_monotonic_ns();
            continue;
        }
        b->gone_ns = 0;
        char *line = strdup(b->line);
        if (!line)
            continue;
        xlog("d%u: back after a restart: introducing it again", b->domid);
        boot_domain(line, true);
        free(line);
    }
}

/* With exit=idle: a restartable boot domain gone less than this long ago
 * may still come back, so it keeps us serving. */
#define RESTART_GRACE_NS 3000000000ull

static bool restart_may_come(uint64_t now, uint64_t *until)
{
    bool any = false;
    for (struct bootline *b = bootlines; b; b = b->next)
        if (b->restartable && b->gone_ns && !find_dom(b->domid) &&
            now - b->gone_ns < RESTART_GRACE_NS) {
            uint64_t end = b->gone_ns + RESTART_GRACE_NS;
            if (!any || end < *until)
                *until = end;
            any = true;
        }
    return any;
}

static void boot_domains(void)
{
    const start_info_t *si = minios_start_info;
    if (!si->mod_start || !si->mod_len) {
        xlog("no boot-domain list (no boot module): serving run-time domains only");
        return;
    }
    char *text = malloc(si->mod_len + 1);
    if (!text)
        return;
    memcpy(text, (const void *)si->mod_start, si->mod_len);
    text[si->mod_len] = 0;
    unsigned n = 0;
    char *save;
    unsigned seen = kicks;
    /* Every line's name first: a vif= may name a later domain (vif.c). */
    char *names = strdup(text);
    for (char *line = names ? strtok_r(names, "\n", &save) : NULL; line;
         line = strtok_r(NULL, "\n", &save))
        xsv_note_line(line);
    free(names);
    vbd_backend = xsv_find_backend(text);
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        remember_line(line);
        boot_domain(line, false);
        n++;
        /* The domains introduced so far already run: let the console
         * backend take their output, and answer their requests. */
        minios_thread_yield();
        if (kicks != seen) {
            seen = kicks;
            for (struct dom *d = doms; d; d = d->next)
                serve(d);
        }
    }
    free(text);
    xlog("serving %u boot domain%s", n, n == 1 ? "" : "s");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "exit=idle"))
            exit_when_idle = true;

    if (minios_gnttab_init()) {
        printf("(xenstore) no grant table: cannot serve\n");
        return 1;
    }
    xsc_console_init();
    xsv_set_log(xlog);

    struct xs_config cfg;
    xs_config_default(&cfg);
    static struct xs_domain_ops ops = { .introduce = introduce_cb, .release = release_cb };
    store = xs_store_new(&cfg, &ops);
    if (!store) {
        xlog("out of memory for the store");
        return 1;
    }
    xs_store_write_internal(store, "/local/domain", "", 0, 0, NULL, 0);
    xs_store_write_internal(store, "/tool/xenstored", "", 0, 0, NULL, 0);
    /* Our own name and domid, as a toolstack writes a xenstore stub
     * domain's, so that readers of the domain list (the management
     * agent) name us too. */
    const char *self_name = "xenstore";
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "name=", 5) && argv[i][5])
            self_name = argv[i] + 5;
    char idbuf[16];
    snprintf(idbuf, sizeof(idbuf), "%u", minios_domid());
    put_node(minios_domid(), "name", self_name, false);
    put_node(minios_domid(), "domid", idbuf, false);

    evtchn_port_t virq;
    if (minios_evtchn_bind_virq(VIRQ_DOM_EXC, 0, &virq) || minios_evtchn_bind(virq, on_dom_exc, NULL))
        xlog("cannot bind VIRQ_DOM_EXC: dead domains go unnoticed");

    boot_domains();

    /* A pass over the domains (one getdomaininfo each) runs at most every
     * CHECK_GAP_NS however fast VIRQ_DOM_EXC comes: a thousand domains
     * ending together cost a few passes, not a thousand. */
    const uint64_t CHECK_GAP_NS = 10000000ull;
    unsigned seen_kicks = 0, seen_exc = 0;
    uint64_t next_check = 0;
    for (;;) {
        seen_kicks = kicks;
        uint64_t now = minios_monotonic_ns();
        if (dom_exc != seen_exc && now >= next_check) {
            seen_exc = dom_exc;
            check_domains();
            reintroduce_restarted();
            next_check = now + CHECK_GAP_NS;
        }
        /* Requests may queue output for any connection (watch events):
         * serve everyone until nothing moves. */
        for (struct dom *d = doms; d; d = d->next)
            serve(d);
        for (struct dom *d = doms; d; d = d->next)
            if (d->conn && !d->dead && xs_conn_has_output(d->conn))
                serve(d);
        reap_released();
        uint64_t grace_end = 0;
        bool grace = exit_when_idle && restart_may_come(minios_monotonic_ns(), &grace_end);
        if (exit_when_idle && had_domains && !anyone_left() && !grace) {
            xlog("every domain has gone: exiting (exit=idle)");
            return 0;
        }
        unsigned long f = minios_events_save();
        while (kicks == seen_kicks) {
            if (grace && dom_exc == seen_exc) {
                /* Wake when the grace ends, to exit if it did not come back. */
                if (minios_waitq_wait(&service_wq, grace_end) < 0)
                    break;
                continue;
            }
            if (dom_exc != seen_exc) {
                /* Due now, or wait for the gap (kicks still end the wait). */
                if (minios_monotonic_ns() >= next_check ||
                    minios_waitq_wait(&service_wq, next_check) < 0)
                    break;
                continue;
            }
            if (exit_when_idle) {
                /* Look at the domains again every second as well, so
                 * that a death whose VIRQ_DOM_EXC never comes cannot keep
                 * an exit=idle stub alive for ever.  (The restart test's
                 * hang, once in 16 runs, that this was added for was the
                 * hypervisor's reaper losing a dead domain off its dying
                 * list; that is fixed in hv/common/domain.c.) */
                if (minios_waitq_wait(&service_wq, minios_monotonic_ns() + 1000000000ull) < 0) {
                    dom_exc++;
                    break;
                }
                continue;
            }
            minios_waitq_wait(&service_wq, 0);
        }
        minios_events_restore(f);
    }
}
