/* Guest test: boot domains connected to the xenstore domain, as Xen's toolstack connects a new
 * domain (store and console event channels offered to it, grant entries 0 and 1 seeded, the
 * rings zeroed), and the list of boot domains in the xenstore domain's boot module.
 *
 *   op=xs peers=NAME:ROLES+...   role=xenstore: parses and checks its module (one line per
 *                peer, in domid order), maps each peer's console and store pages (grant refs 0
 *                and 1), binds their ports, writes a greeting into both rings and notifies;
 *                waits for the acks and for the peers to die (VIRQ_DOM_EXC), then unmaps the
 *                first peer's pages and keeps the others' mapped to the end.
 *   op=guest xs=ID [other=ID]    a plain domain: its ports are unbound for the xenstore domain,
 *                its rings zero, its grant entries 0 and 1 as seeded; it cannot map another
 *                domain's store grant; it waits for the greeting and answers.
 *   op=alone                     no xenstore domain: store and console channels 0, no module,
 *                entries 0 and 1 empty. */
#include "../domctl/ctl.h"      /* first: it asks for the tools' interfaces */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/xenbus.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <xen/io/xs_wire.h>
#include <xen/io/console.h>
#include "bootlist.h"
#include "report.h"

#define MS 1000000ULL
#define PG 4096
#define MAX_PEERS 8

static bool page_zero(const void *p, size_t from, size_t to)
{
    const unsigned char *b = p;
    for (size_t i = from; i < to; i++)
        if (b[i])
            return false;
    return true;
}

/* Waits up to ms milliseconds for *flag to become true (or cond to hold). */
#define WAIT_FOR(cond, ms, what) do {                                      \
        unsigned _i = 0;                                                   \
        while (!(cond) && _i++ < (ms))                                     \
            minios_sleep_ns(MS);                                           \
        if (!(cond))                                                       \
            test_fail("timed out waiting for %s", what);                   \
    } while (0)

static long port_status(evtchn_port_t port, struct evtchn_status *st)
{
    memset(st, 0, sizeof(*st));
    st->dom = DOMID_SELF;
    st->port = port;
    return HYPERVISOR_event_channel_op(EVTCHNOP_status, st);
}

static volatile unsigned events[1024];
static void count_event(evtchn_port_t port, void *data)
{
    (void)data;
    events[port]++;
}

/* This test drives the store ring itself: no xenstore client. */
const int minios_store_client = 0;

/* The two pages after start_info are the store and console rings (the builder's layout,
 * <xen/xen.h>); minios is linked at 0, so a page's pfn is its address / 4096. */
static void *ring_page(unsigned which, unsigned long want_mfn)
{
    char *p = (char *)minios_start_info + (which + 1) * PG;
    if (minios_gnttab_virt_to_mfn(p) != want_mfn)
        test_fail("ring page %u: mfn %lx, start_info says %lx", which,
                  minios_gnttab_virt_to_mfn(p), want_mfn);
    return p;
}

/* ---- a plain domain */

static int guest(domid_t xs, domid_t other)
{
    start_info_t *si = minios_start_info;
    evtchn_port_t sp = si->store_evtchn, cp = si->console.domU.evtchn;
    struct evtchn_status st;
    if (!sp || !cp || sp == cp) {
        test_fail("store_evtchn %u, console evtchn %u", sp, cp);
        return test_finish();
    }
    /* Unbound, for the xenstore domain, until it binds (after our "ready"). */
    CHECK_EQ(port_status(sp, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_unbound);
    CHECK_EQ(st.u.unbound.dom, xs);
    CHECK_EQ(port_status(cp, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_unbound);
    CHECK_EQ(st.u.unbound.dom, xs);
    CHECK_EQ(si->mod_start, 0);
    CHECK_EQ(si->mod_len, 0);
    struct xenstore_domain_interface *store = ring_page(0, si->store_mfn);
    struct xencons_interface *cons = ring_page(1, si->console.domU.mfn);
    if (!page_zero(store, 0, PG) || !page_zero(cons, 0, PG))
        test_fail("the store or console page is not zeroed");

    /* Grant entries 0 and 1 as the toolstack seeds them, kept by setup_table. */
    CHECK_EQ(minios_gnttab_init(), 0);
    grant_entry_v1_t *t = minios_gnttab_entries();
    /* (The xenstore domain may have mapped them already: GTF_reading/GTF_writing.) */
    const uint16_t busy = GTF_reading | GTF_writing;
    CHECK_EQ(t[GNTTAB_RESERVED_CONSOLE].flags & ~busy, GTF_permit_access);
    CHECK_EQ(t[GNTTAB_RESERVED_CONSOLE].domid, xs);
    CHECK_EQ(t[GNTTAB_RESERVED_CONSOLE].frame, si->console.domU.mfn);
    CHECK_EQ(t[GNTTAB_RESERVED_XENSTORE].flags & ~busy, GTF_permit_access);
    CHECK_EQ(t[GNTTAB_RESERVED_XENSTORE].domid, xs);
    CHECK_EQ(t[GNTTAB_RESERVED_XENSTORE].frame, si->store_mfn);
    for (grant_ref_t r = 2; r < GNTTAB_NR_RESERVED_ENTRIES; r++)
        CHECK_EQ(t[r].flags, 0);

    /* Another domain's store grant is for the xenstore domain, not for us (Xen's status for
     * an entry granted to someone else is GNTST_general_error). */
    if (other) {
        grant_handle_t h;
        void *p = minios_gnttab_map(other, GNTTAB_RESERVED_XENSTORE, 0, &h);
        CHECK_EQ(p == NULL, 1);
        CHECK_EQ(minios_gnttab_last_status(), GNTST_general_error);
        p = minios_gnttab_map(other, GNTTAB_RESERVED_CONSOLE, 1, &h);
        CHECK_EQ(p == NULL, 1);
        CHECK_EQ(minios_gnttab_last_status(), GNTST_general_error);
    }
    struct xen_domctl_getdomaininfo info;
    CHECK_EQ(getdomaininfo(xs, &info), -XEN_EPERM);       /* no role: XSM_XS_PRIV refuses */
    CHECK_EQ(getdomaininfo(self_domid(), &info), -XEN_EPERM);

    CHECK_EQ(minios_evtchn_bind(sp, count_event, NULL), 0);
    CHECK_EQ(minios_evtchn_bind(cp, count_event, NULL), 0);
    memcpy(store->req, "ready", 5);
    __atomic_store_n(&store->req_prod, 5, __ATOMIC_RELEASE);

    WAIT_FOR(events[sp] && events[cp], 20000, "the xenstore domain's events");
    CHECK_EQ(port_status(sp, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_interdomain);
    CHECK_EQ(st.u.interdomain.dom, xs);
    unsigned xs_port = st.u.interdomain.port;
    CHECK_EQ(port_status(cp, &st), 0);
    CHECK_EQ(st.status, EVTCHNSTAT_interdomain);
    CHECK_EQ(st.u.interdomain.dom, xs);

    char want[64], got[64] = "";
    snprintf(want, sizeof(want), "hello: your port %u, mine %u", si->store_evtchn, xs_port);
    uint32_t n = __atomic_load_n(&store->rsp_prod, __ATOMIC_ACQUIRE);
    if (n < sizeof(got))
        memcpy(got, store->rsp, n);
    if (strcmp(got, want))
        test_fail("store ring: '%s', expected '%s'", got, want);
    n = __atomic_load_n(&cons->in_prod, __ATOMIC_ACQUIRE);
    memset(got, 0, sizeof(got));
    if (n < sizeof(got))
        memcpy(got, cons->in, n);
    if (strcmp(got, "welcome"))
        test_fail("console ring: '%s'", got);
    printf("guest: store '%s', console '%s'\n", want, got);

    memcpy(store->req + 5, "ack", 3);
    __atomic_store_n(&store->req_prod, 8, __ATOMIC_RELEASE);
    CHECK_EQ(minios_evtchn_send(sp), 0);
    return test_finish();
}

/* ---- the xenstore domain */

struct peer {
    unsigned id, vcpus, store_port, console_port;
    unsigned long mem_kb, store_mfn, console_mfn;
    char name[32], roles[40], restart[8], net[520];
    struct xenstore_domain_interface *store;
    struct xencons_interface *cons;
    grant_handle_t hs, hc;
    evtchn_port_t ls, lc;        /* our ends */
};
static struct peer peers[MAX_PEERS];
static unsigned nr_peers;

/* The module: "domain <id> name=<name> mem_kb=<KiB> vcpus=<n> store_mfn=<mfn>
 * store_port=<port> console_mfn=<mfn> console_port=<port> roles=<roles>\n" per domain. */
static void parse_module(const char *expect)
{
    start_info_t *si = minios_start_info;
    CHECK_EQ(si->flags & SIF_MOD_START_PFN, 0);
    if (!si->mod_start || !si->mod_len) {
        test_fail("no boot module (mod_start %lx, mod_len %lu)", (unsigned long)si->mod_start,
                  (unsigned long)si->mod_len);
        return;
    }
    const char *text = (const char *)si->mod_start;
    size_t len = si->mod_len;
    printf("xs: module at %p, %zu bytes\n", (void *)text, len);
    if (text[len - 1] != '\n')
        test_fail("the module does not end with a newline");
    char line[768];
    for (size_t off = 0;
         nr_peers < MAX_PEERS && bootlist_next(text, len, &off, line, sizeof(line)); ) {
        struct peer *p = &peers[nr_peers++];
        int end = 0;
        if (sscanf(line, "domain %u name=%31s mem_kb=%lu vcpus=%u store_mfn=%lu store_port=%u "
                   "console_mfn=%lu console_port=%u roles=%39s restart=%7s%n", &p->id, p->name,
                   &p->mem_kb, &p->vcpus, &p->store_mfn, &p->store_port, &p->console_mfn,
                   &p->console_port, p->roles, p->restart, &end) != 10) {
            test_fail("bad line '%s'", line);
            continue;
        }
        /* Then only the network words, each at most once, in this order:
         * " vif=..." " mac=..." " fw=..." (docs/network.md). */
        snprintf(p->net, sizeof(p->net), "%s", line + end);
        const char *q = p->net;
        static const char *const keys[] = { " vif=", " mac=", " fw=" };
        for (unsigned k = 0; k < 3; k++)
            if (!strncmp(q, keys[k], strlen(keys[k]))) {
                q += strlen(keys[k]);
                while (*q > ' ')
                    q++;
            }
        if (*q)
            test_fail("line '%s': '%s' after restart= is not vif=/mac=/fw=", line, q);
        /* Exactly that, with nothing more. */
        char again[768];
        snprintf(again, sizeof(again), "domain %u name=%s mem_kb=%lu vcpus=%u store_mfn=%lu "
                 "store_port=%u console_mfn=%lu console_port=%u roles=%s restart=%s%s", p->id,
                 p->name, p->mem_kb, p->vcpus, p->store_mfn, p->store_port, p->console_mfn,
                 p->console_port, p->roles, p->restart, p->net);
        if (strcmp(line, again))
            test_fail("line '%s' is not in the format", line);
        printf("xs: %s\n", line);
    }
    /* Names and roles as expected (peers=NAME:ROLES+...), ids ascending, not ourselves;
     * memory and vCPUs as getdomaininfo says. */
    domid_t self = self_domid();
    char exp[128];
    strncpy(exp, expect, sizeof(exp) - 1);
    unsigned i = 0;
    for (char *tok = strtok(exp, "+"); tok; tok = strtok(NULL, "+"), i++) {
        char *colon = strchr(tok, ':');
        if (!colon || i >= nr_peers) {
            test_fail("peer %u ('%s') missing", i, tok);
            continue;
        }
        *colon = 0;
        struct peer *p = &peers[i];
        if (strcmp(p->name, tok) || strcmp(p->roles, colon + 1))
            test_fail("peer %u: %s roles=%s, expected %s roles=%s", i, p->name, p->roles, tok,
                      colon + 1);
        if (p->id == self || (i && p->id <= peers[i - 1].id))
            test_fail("peer %u: domid %u (ours %u)", i, p->id, self);
        struct xen_domctl_getdomaininfo info;
        CHECK_EQ(getdomaininfo((domid_t)p->id, &info), 0);     /* XSM_XS_PRIV */
        CHECK_EQ(info.domain, p->id);
        CHECK_EQ(info.max_pages * 4, p->mem_kb);
        CHECK_EQ(info.max_vcpu_id + 1, p->vcpus);
        if (!p->store_port || !p->console_port || p->store_port == p->console_port ||
            !p->store_mfn || !p->console_mfn || p->store_mfn == p->console_mfn)
            test_fail("peer %s: bad ports or frames", p->name);
    }
    if (i != nr_peers)
        test_fail("%u peers in the module, %u expected", nr_peers, i);
}

/* The frame a grant names, through a read-only device mapping. */
static unsigned long granted_frame(domid_t dom, grant_ref_t ref)
{
    struct gnttab_map_grant_ref m = { .flags = GNTMAP_device_map | GNTMAP_readonly,
                                      .ref = ref, .dom = dom };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1), 0);
    if (m.status != GNTST_okay) {
        test_fail("d%u ref %u: map status %d", dom, ref, m.status);
        return 0;
    }
    struct gnttab_unmap_grant_ref u = { .dev_bus_addr = m.dev_bus_addr, .handle = m.handle };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1), 0);
    CHECK_EQ(u.status, GNTST_okay);
    return (unsigned long)(m.dev_bus_addr >> 12);
}

/* Destroyed: getdomaininfo finds the next domain, or none. */
static bool gone(unsigned id)
{
    struct xen_domctl_getdomaininfo info;
    long rc = getdomaininfo((domid_t)id, &info);
    return rc || info.domain != id;
}

static int xenstore(const char *expect)
{
    start_info_t *si = minios_start_info;
    CHECK_EQ(si->store_evtchn, 0);
    CHECK_EQ(si->console.domU.evtchn, 0);
    struct xen_domctl_getdomaininfo info;
    domid_t self = self_domid();
    CHECK_EQ(getdomaininfo(self, &info), 0);
    CHECK_EQ(info.flags & XEN_DOMINF_xs_domain, XEN_DOMINF_xs_domain);
    evtchn_port_t dom_exc;
    CHECK_EQ(minios_evtchn_bind_virq(VIRQ_DOM_EXC, 0, &dom_exc), 0);
    CHECK_EQ(minios_evtchn_bind(dom_exc, count_event, NULL), 0);
    CHECK_EQ(minios_gnttab_init(), 0);
    parse_module(expect);

    /* Map every peer's rings through the reserved grants; the frames are those listed. */
    for (unsigned i = 0; i < nr_peers; i++) {
        struct peer *p = &peers[i];
        domid_t d = (domid_t)p->id;
        CHECK_EQ(granted_frame(d, GNTTAB_RESERVED_XENSTORE), p->store_mfn);
        CHECK_EQ(granted_frame(d, GNTTAB_RESERVED_CONSOLE), p->console_mfn);
        p->store = minios_gnttab_map(d, GNTTAB_RESERVED_XENSTORE, 0, &p->hs);
        p->cons = minios_gnttab_map(d, GNTTAB_RESERVED_CONSOLE, 0, &p->hc);
        if (!p->store || !p->cons) {
            test_fail("%s: cannot map its rings (status %d)", p->name,
                      minios_gnttab_last_status());
            return test_finish();
        }
        /* Held paused until we let it run (once, and only that). */
        struct xen_domctl_getdomaininfo di;
        CHECK_EQ(getdomaininfo(d, &di), 0);
        CHECK_EQ(di.flags & XEN_DOMINF_paused, XEN_DOMINF_paused);
        CHECK_EQ(domctl_simple(XEN_DOMCTL_pausedomain, d), -XEN_EPERM);
        CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, d), 0);
        CHECK_EQ(domctl_simple(XEN_DOMCTL_unpausedomain, d), -XEN_EPERM);
        CHECK_EQ(getdomaininfo(d, &di), 0);
        CHECK_EQ(di.flags & XEN_DOMINF_paused, 0);
    }
    /* Each peer says "ready" once it has done its checks (its ports still unbound, no map
     * of another's grants: so all are alive until everyone is ready); then we bind their
     * ports, greet them in both rings and notify them. */
    for (unsigned i = 0; i < nr_peers; i++) {
        struct peer *p = &peers[i];
        WAIT_FOR(__atomic_load_n(&p->store->req_prod, __ATOMIC_ACQUIRE) == 5, 20000, p->name);
        if (memcmp(p->store->req, "ready", 5) ||
            !page_zero(p->store, 5, offsetof(struct xenstore_domain_interface, req_prod)) ||
            !page_zero(p->store, offsetof(struct xenstore_domain_interface, req_prod) + 4, PG) ||
            !page_zero(p->cons, 0, PG))
            test_fail("%s: the rings were not zeroed", p->name);
    }
    for (unsigned i = 0; i < nr_peers; i++) {
        struct peer *p = &peers[i];
        domid_t d = (domid_t)p->id;
        CHECK_EQ(minios_evtchn_bind_interdomain(d, p->store_port, &p->ls), 0);
        CHECK_EQ(minios_evtchn_bind_interdomain(d, p->console_port, &p->lc), 0);
        CHECK_EQ(minios_evtchn_bind(p->ls, count_event, NULL), 0);
        CHECK_EQ(minios_evtchn_bind(p->lc, count_event, NULL), 0);
        int n = snprintf(p->store->rsp, 64, "hello: your port %u, mine %u", p->store_port, p->ls);
        __atomic_store_n(&p->store->rsp_prod, (uint32_t)n, __ATOMIC_RELEASE);
        memcpy(p->cons->in, "welcome", 7);
        __atomic_store_n(&p->cons->in_prod, 7, __ATOMIC_RELEASE);
        CHECK_EQ(minios_evtchn_send(p->ls), 0);
        CHECK_EQ(minios_evtchn_send(p->lc), 0);
    }
    /* The console backend names its lines itself: this one is printed as it is. */
    printf("(fake) a line the console backend named\n");

    /* The answers, then the peers go away: VIRQ_DOM_EXC, and their ports turn unbound. */
    for (unsigned i = 0; i < nr_peers; i++) {
        struct peer *p = &peers[i];
        WAIT_FOR(__atomic_load_n(&p->store->req_prod, __ATOMIC_ACQUIRE) == 8, 20000, p->name);
        if (memcmp(p->store->req + 5, "ack", 3))
            test_fail("%s: no ack", p->name);
        WAIT_FOR(events[p->ls], 20000, "the ack event");
    }
    /* As xenstored: on each VIRQ_DOM_EXC look at every domain; one that is gone (not just
     * shut down) is released.  A VIRQ must come when the domain is finally gone. */
    for (;;) {
        unsigned seen = events[dom_exc];
        unsigned left = 0;
        for (unsigned i = 0; i < nr_peers; i++)
            left += !gone(peers[i].id);
        if (!left)
            break;
        WAIT_FOR(events[dom_exc] != seen, 20000, "VIRQ_DOM_EXC while a peer is not gone");
        if (events[dom_exc] == seen)
            return test_finish();
    }
    CHECK_EQ(events[dom_exc] > 0, 1);
    printf("xs: %u VIRQ_DOM_EXC events\n", events[dom_exc]);
    for (unsigned i = 0; i < nr_peers; i++) {
        struct evtchn_status st;
        WAIT_FOR(port_status(peers[i].ls, &st) == 0 && st.status == EVTCHNSTAT_unbound,
                 20000, "a dead peer's port to turn unbound");
        CHECK_EQ(st.u.unbound.dom, peers[i].id);
    }

    /* The first peer's pages: still readable (the frames live while mapped), then unmapped;
     * its grants are gone with it.  The others stay mapped until we exit. */
    if (nr_peers) {
        struct peer *p = &peers[0];
        CHECK_EQ(memcmp(p->store->req, "readyack", 8), 0);
        CHECK_EQ(minios_gnttab_unmap(p->store, p->hs), 0);
        CHECK_EQ(minios_gnttab_unmap(p->cons, p->hc), 0);
        grant_handle_t h;
        CHECK_EQ(minios_gnttab_map((domid_t)p->id, GNTTAB_RESERVED_XENSTORE, 0, &h) == NULL, 1);
        CHECK_EQ(minios_gnttab_last_status(), GNTST_bad_domain);
        printf("xs: %s is gone; its rings unmapped, the others' kept mapped\n", p->name);
    }
    return test_finish();
}

/* No xenstore domain: nothing offered. */
static int alone(void)
{
    start_info_t *si = minios_start_info;
    CHECK_EQ(si->store_evtchn, 0);
    CHECK_EQ(si->console.domU.evtchn, 0);
    CHECK_EQ(si->mod_start, 0);
    CHECK_EQ(si->mod_len, 0);
    if (!page_zero(ring_page(0, si->store_mfn), 0, PG) ||
        !page_zero(ring_page(1, si->console.domU.mfn), 0, PG))
        test_fail("the store or console page is not zeroed");
    CHECK_EQ(minios_gnttab_init(), 0);
    grant_entry_v1_t *t = minios_gnttab_entries();
    for (grant_ref_t r = 0; r < GNTTAB_NR_RESERVED_ENTRIES; r++) {
        CHECK_EQ(t[r].flags, 0);
        CHECK_EQ(t[r].frame, 0);
    }
    printf("alone: no store or console channel\n");
    return test_finish();
}

int main(int argc, char **argv)
{
    const char *op = "", *expect = "";
    domid_t xs = 0, other = 0;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "op=", 3))
            op = argv[i] + 3;
        else if (!strncmp(argv[i], "xs=", 3))
            xs = (domid_t)atoi(argv[i] + 3);
        else if (!strncmp(argv[i], "other=", 6))
            other = (domid_t)atoi(argv[i] + 6);
        else if (!strncmp(argv[i], "peers=", 6))
            expect = argv[i] + 6;
    }
    if (!strcmp(op, "guest"))
        return guest(xs, other);
    if (!strcmp(op, "xs"))
        return xenstore(expect);
    if (!strcmp(op, "alone"))
        return alone();
    test_error("unknown op '%s'", op);
    return test_finish();
}
