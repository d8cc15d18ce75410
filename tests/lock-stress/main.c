/* Guest test: the hypervisor's locks under cross-domain load, on two pCPUs at once
 * (op=granter / op=mapper / op=control, peer=<domid>).
 *
 * The granter, on pCPU 0, loops over operations under its own domain lock: a frame taken
 * with increase_reservation, pinned as an L1 table, unpinned and given back; a second grant
 * of its data page made and ended; an event channel offered to the mapper and closed.  The
 * mapper, on pCPU 1, meanwhile maps the granter's data page (host and device mappings, which
 * take references and writable types on the granter's frame from the other pCPU), writes
 * through the mapping, copies into and out of the granted page, and unmaps.  A control
 * domain pauses and unpauses the mapper and reads both domains' information throughout.
 * Each side checks every result.  At the end the granter dies with its control page still
 * mapped: the mapper's unmap after the death returns the last frame (the hypervisor's
 * "all returned").  Run on the debug hypervisor: every lock taken is checked for order. */
#include "../domctl/ctl.h"       /* first: it asks for the tools' view of the headers */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/events.h>
#include <minios/sched.h>
#include "report.h"
#include "peer.h"
#include "args.h"

/* report.h's check, noting a failure so that the loops stop at the first. */
static bool failed;
#undef CHECK_EQ
#define CHECK_EQ(expr, want) do {                                        \
        long _got = (long)(expr), _want = (long)(want);                  \
        if (_got != _want) {                                             \
            failed = true;                                               \
            test_fail("%s:%d: %s = %ld, expected %ld", __FILE__,         \
                      __LINE__, #expr, _got, _want);                     \
        }                                                                \
    } while (0)
#define CHECK(e) do {                                                    \
        if (!(e)) {                                                      \
            failed = true;                                               \
            test_fail("%s:%d: %s", __FILE__, __LINE__, #e);              \
        }                                                                \
    } while (0)

#define PG 4096
enum { REF_CTL = 8, REF_DATA };

struct ctl {
    volatile uint32_t state;     /* 1: granted; 2: mapper done; 3: granter going */
    volatile uint32_t granter_rounds, mapper_rounds;
};

static char ctl_page[PG] __attribute__((aligned(PG)));
static char data_page[PG] __attribute__((aligned(PG)));
static char local[PG] __attribute__((aligned(PG)));
static char balloon[PG] __attribute__((aligned(PG)));   /* given back: room for one more */
static domid_t peer;
static unsigned rounds = 300;

static void wait_state(volatile uint32_t *s, uint32_t want)
{
    peer_wait_state(s, want, 20000000UL);
}

static long memop_one(unsigned op, xen_pfn_t *mfn)
{
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0, .domid = DOMID_SELF };
    set_xen_guest_handle(r.extent_start, mfn);
    return HYPERVISOR_memory_op(op, &r);
}

static long mmuext(unsigned cmd, xen_pfn_t mfn)
{
    struct mmuext_op op = { .cmd = cmd, .arg1.mfn = mfn };
    return HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
}

static int granter(void)
{
    struct ctl *c = (struct ctl *)ctl_page;
    memset(data_page, 0, PG);
    xen_pfn_t b = minios_gnttab_virt_to_mfn(balloon);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)balloon, 0, UVMF_INVLPG), 0);
    CHECK_EQ(memop_one(XENMEM_decrease_reservation, &b), 1);
    CHECK_EQ(minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(ctl_page), 0), REF_CTL);
    CHECK_EQ(minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(data_page), 0),
             REF_DATA);
    c->state = 1;
    unsigned n = 0;
    while (c->state < 2) {
        xen_pfn_t mfn = 0;
        CHECK_EQ(memop_one(XENMEM_increase_reservation, &mfn), 1);
        CHECK_EQ(mmuext(MMUEXT_PIN_L1_TABLE, mfn), 0);
        CHECK_EQ(mmuext(MMUEXT_UNPIN_TABLE, mfn), 0);
        CHECK_EQ(memop_one(XENMEM_decrease_reservation, &mfn), 1);
        grant_ref_t extra = minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(local),
                                                       1);
        CHECK(extra > REF_DATA);
        CHECK_EQ(minios_gnttab_end_access(extra), 0);
        evtchn_port_t port;
        CHECK_EQ(minios_evtchn_alloc_unbound(peer, &port), 0);
        struct evtchn_close cl = { .port = port };
        CHECK_EQ(HYPERVISOR_event_channel_op(EVTCHNOP_close, &cl), 0);
        c->granter_rounds = ++n;
        if (failed)
            break;
    }
    printf("granter: %u rounds while the mapper worked\n", n);
    CHECK(n > 0);
    /* Going away with the control page still mapped by the mapper. */
    c->state = 3;
    return test_finish();
}

static int mapper(void)
{
    grant_handle_t hc;
    struct ctl *c = NULL;
    for (unsigned long i = 0; !c; i++) {
        c = minios_gnttab_map(peer, REF_CTL, 0, &hc);
        if (!c)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        if (i == 200000) {
            test_error("the granter's control page never came");
            return test_finish();
        }
    }
    wait_state(&c->state, 1);
    /* At least `rounds`, and on until the granter has made one of its own
     * (a loaded host can run this vCPU's thread long before the other's):
     * the point is the overlap, not the count. */
    for (unsigned i = 0; (i < rounds || (!c->granter_rounds && i < rounds * 1000)) && !failed;
         i++) {
        grant_handle_t hd;
        volatile uint32_t *d = minios_gnttab_map(peer, REF_DATA, 0, &hd);
        CHECK(d != NULL);
        if (!d)
            break;
        d[1] = i;                /* written through a host mapping of its frame */
        CHECK_EQ(d[1], i);
        CHECK_EQ(minios_gnttab_unmap((void *)d, hd), 0);
        struct gnttab_map_grant_ref m = { .flags = GNTMAP_device_map, .ref = REF_DATA,
                                          .dom = peer };
        CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1), 0);
        CHECK_EQ(m.status, GNTST_okay);
        struct gnttab_unmap_grant_ref u = { .dev_bus_addr = m.dev_bus_addr, .handle = m.handle };
        CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1), 0);
        CHECK_EQ(u.status, GNTST_okay);
        memset(local, (int)(i & 0xff), 64);
        struct gnttab_copy cp = {
            .source = { .u.gmfn = minios_gnttab_virt_to_mfn(local), .domid = DOMID_SELF },
            .dest = { .u.ref = REF_DATA, .domid = peer, .offset = 64 },
            .len = 64, .flags = GNTCOPY_dest_gref,
        };
        CHECK_EQ(minios_gnttab_copy(&cp, 1), 0);
        CHECK_EQ(cp.status, GNTST_okay);
        struct gnttab_copy back = {
            .source = { .u.ref = REF_DATA, .domid = peer, .offset = 64 },
            .dest = { .u.gmfn = minios_gnttab_virt_to_mfn(local), .domid = DOMID_SELF,
                      .offset = 128 },
            .len = 64, .flags = GNTCOPY_source_gref,
        };
        CHECK_EQ(minios_gnttab_copy(&back, 1), 0);
        CHECK_EQ(back.status, GNTST_okay);
        CHECK_EQ((unsigned char)local[128], (unsigned char)(i & 0xff));
        c->mapper_rounds = i + 1;
    }
    printf("mapper: %u rounds, the granter made %u meanwhile\n", c->mapper_rounds,
           c->granter_rounds);
    CHECK(c->granter_rounds > 0);
    c->state = 2;
    /* The granter dies: its grants can no longer be mapped; our mapping of
     * its control page keeps that frame until we unmap it. */
    int16_t st = GNTST_okay;
    for (unsigned long i = 0; i < 20000000 && st == GNTST_okay; i++) {
        struct gnttab_map_grant_ref m = { .flags = GNTMAP_device_map, .ref = REF_DATA,
                                          .dom = peer };
        HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1);
        st = m.status;
        if (st == GNTST_okay) {
            struct gnttab_unmap_grant_ref u = { .dev_bus_addr = m.dev_bus_addr,
                                                .handle = m.handle };
            HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        }
    }
    CHECK_EQ(st, GNTST_bad_domain);
    CHECK_EQ(c->state, 3);
    CHECK_EQ(minios_gnttab_unmap(c, hc), 0);
    printf("mapper: the granter is gone; unmapped its control page\n");
    return test_finish();
}

/* Pauses and unpauses the mapper (peer) and reads both domains until both
 * are gone. */
static int control(void)
{
    unsigned pauses = 0, reads = 0;
    for (;;) {
        struct xen_domctl_getdomaininfo a, b;
        bool ga = !getdomaininfo(peer - 1, &a) && a.domain == peer - 1;
        bool gb = !getdomaininfo(peer, &b) && b.domain == peer;
        reads++;
        if (!ga && !gb)
            break;
        if (gb && !(b.flags & XEN_DOMINF_shutdown) && domctl_simple(XEN_DOMCTL_pausedomain,
                                                                    peer) == 0) {
            pauses++;
            for (volatile int k = 0; k < 20000; k++)
                ;
            /* The mapper may have powered off between the look and the
             * pause (a paused domain still dies), and then be gone. */
            long rc = domctl_simple(XEN_DOMCTL_unpausedomain, peer);
            if (rc == -XEN_ESRCH)
                CHECK(getdomaininfo(peer, &b) || b.domain != peer);
            else
                CHECK_EQ(rc, 0);
        }
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    printf("control: %u pauses of the mapper, %u reads, both gone\n", pauses, reads);
    CHECK(pauses > 0);
    return test_finish();
}

int main(int argc, char **argv)
{
    const char *op = test_arg(argc, argv, "op"), *p = test_arg(argc, argv, "peer");
    const char *r = test_arg(argc, argv, "rounds");
    if (p)
        peer = (domid_t)atoi(p);
    if (r)
        rounds = (unsigned)atoi(r);
    if (!op)
        op = "";
    if (!strcmp(op, "control"))
        return control();
    if (minios_gnttab_init()) {
        test_error("no grant table");
        return test_finish();
    }
    if (!strcmp(op, "granter"))
        return granter();
    if (!strcmp(op, "mapper"))
        return mapper();
    test_error("op=granter, op=mapper or op=control");
    return test_finish();
}
