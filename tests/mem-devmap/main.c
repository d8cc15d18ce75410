/* Guest test: a device-only grant mapping (GNTMAP_device_map without
 * GNTMAP_host_map, as a backend doing DMA takes) must hold the granted
 * frame, as in Xen: a general reference and, writable, a writable type
 * reference.  Two domains (op=granter / op=mapper, peer=<domid>):
 *
 *   1. the mapper maps the granter's page device-only, writable; the
 *      granter (with its own mapping of the page gone) asks
 *      decrease_reservation for the frame: refused (0).  Otherwise the
 *      frame goes back to the allocator while the mapper can still DMA to
 *      it (FAILURE).  The mapper unmaps; the granter ends access and the
 *      frame goes (1).
 *   2. the mapper maps a second page device-only and dies holding it: the
 *      grant stays busy (GTF_reading|GTF_writing) until it is gone, then
 *      the granter ends access and frees the frame (1), and the run ends
 *      with every frame returned.
 *
 * No xenstore: references are fixed (a fresh table hands out 8, 9, 10),
 * and the two sides step through a state word in the granter's control
 * page (ref 8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <xen/memory.h>
#include "report.h"
#include "peer.h"
#include "args.h"

#define PG 4096
enum { REF_CTL = 8, REF_ONE, REF_TWO };

struct ctl {
    volatile uint32_t state;
    volatile uint64_t mfn_one, mfn_two;   /* for the mapper to check dev_bus_addr */
};

static char ctl_page[PG] __attribute__((aligned(PG)));
static char page_one[PG] __attribute__((aligned(PG)));
static char page_two[PG] __attribute__((aligned(PG)));
static domid_t peer;

#define BUSY (GTF_reading | GTF_writing)

static void wait_state(volatile uint32_t *s, uint32_t want)
{
    peer_wait_state(s, want, 2000000UL);
}

static long decrease(unsigned long mfn)
{
    xen_pfn_t f = mfn;
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0, .domid = DOMID_SELF };
    set_xen_guest_handle(r.extent_start, &f);
    return HYPERVISOR_memory_op(XENMEM_decrease_reservation, &r);
}

/* Removes our only mapping of a page (minios maps it once, at va = pfn << 12),
 * so that nothing of ours holds the frame; the page is not touched again. */
static void unmap_own(void *p)
{
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)p, 0, UVMF_INVLPG), 0);
}

static int granter(void)
{
    struct ctl *c = (struct ctl *)ctl_page;
    grant_entry_v1_t *t = minios_gnttab_entries();
    unsigned long one = minios_gnttab_virt_to_mfn(page_one);
    unsigned long two = minios_gnttab_virt_to_mfn(page_two);
    domid_t self = DOMID_SELF;
    long cur = HYPERVISOR_memory_op(XENMEM_current_reservation, &self);
    int freed_early = 0;

    c->mfn_one = one;
    c->mfn_two = two;
    CHECK_EQ(minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(ctl_page), 0), REF_CTL);
    CHECK_EQ(minios_gnttab_grant_access(peer, one, 0), REF_ONE);
    CHECK_EQ(minios_gnttab_grant_access(peer, two, 0), REF_TWO);
    c->state = 1;

    /* Round 1: mapped device-only by the mapper. */
    wait_state(&c->state, 2);
    CHECK_EQ(t[REF_ONE].flags, GTF_permit_access | BUSY);
    CHECK_EQ(minios_gnttab_end_access(REF_ONE), -XEN_EBUSY);
    unmap_own(page_one);
    long rc = decrease(one);
    if (rc != 0) {
        test_fail("decrease_reservation freed frame %#lx (= %ld) while d%u holds it by "
                  "GNTMAP_device_map", one, rc, peer);
        freed_early++;
    }
    c->state = 3;
    wait_state(&c->state, 4);                     /* the mapper unmapped */
    CHECK_EQ(t[REF_ONE].flags, GTF_permit_access);
    CHECK_EQ(minios_gnttab_end_access(REF_ONE), 0);
    if (rc == 0)
        CHECK_EQ(decrease(one), 1);

    /* Round 2: the mapper maps device-only and dies holding it. */
    c->state = 5;
    wait_state(&c->state, 6);
    CHECK_EQ(t[REF_TWO].flags, GTF_permit_access | BUSY);
    unmap_own(page_two);
    long rc2 = decrease(two);
    if (rc2 != 0) {
        test_fail("decrease_reservation freed frame %#lx (= %ld) while d%u holds it by "
                  "GNTMAP_device_map", two, rc2, peer);
        freed_early++;
    }
    c->state = 7;                                 /* the mapper goes */
    unsigned long i;
    for (i = 0; i < 2000000 && (t[REF_TWO].flags & BUSY); i++)
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    if (t[REF_TWO].flags & BUSY) {
        test_fail("the dead mapper's device mapping still holds ref %u (flags %#x)",
                  REF_TWO, t[REF_TWO].flags);
        return test_finish();
    }
    CHECK_EQ(minios_gnttab_end_access(REF_TWO), 0);
    if (rc2 == 0)
        CHECK_EQ(decrease(two), 1);
    CHECK_EQ(HYPERVISOR_memory_op(XENMEM_current_reservation, &self), cur - 2);
    if (freed_early)
        printf("devmap: granter: %d frames freed while device-mapped\n", freed_early);
    else
        printf("devmap: granter: both frames freed once the mapper let go\n");
    return test_finish();
}

static int mapper(void)
{
    grant_handle_t hc;
    struct ctl *c = NULL;
    /* The granter may not have offered its control page yet. */
    for (unsigned long i = 0; !c; i++) {
        c = minios_gnttab_map(peer, REF_CTL, 0, &hc);
        if (!c)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
        if (i == 2000000) {
            test_error("cannot map the granter's control page (status %d)",
                       minios_gnttab_last_status());
            return test_finish();
        }
    }
    wait_state(&c->state, 1);

    struct gnttab_map_grant_ref m = { .flags = GNTMAP_device_map, .ref = REF_ONE, .dom = peer };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1), 0);
    if (m.status != GNTST_okay) {
        test_error("device map of ref %u: status %d", REF_ONE, m.status);
        return test_finish();
    }
    CHECK_EQ(m.dev_bus_addr >> 12, c->mfn_one);
    c->state = 2;
    wait_state(&c->state, 3);
    struct gnttab_unmap_grant_ref u = { .dev_bus_addr = m.dev_bus_addr, .handle = m.handle };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1), 0);
    CHECK_EQ(u.status, GNTST_okay);
    c->state = 4;

    wait_state(&c->state, 5);
    struct gnttab_map_grant_ref m2 = { .flags = GNTMAP_device_map, .ref = REF_TWO, .dom = peer };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m2, 1), 0);
    CHECK_EQ(m2.status, GNTST_okay);
    CHECK_EQ(m2.dev_bus_addr >> 12, c->mfn_two);
    c->state = 6;
    wait_state(&c->state, 7);
    CHECK_EQ(minios_gnttab_unmap(c, hc), 0);
    printf("devmap: mapper: leaving with ref %u device-mapped\n", REF_TWO);
    return test_finish();
}

int main(int argc, char **argv)
{
    const char *op = test_arg(argc, argv, "op"), *p = test_arg(argc, argv, "peer");
    if (p)
        peer = (domid_t)atoi(p);
    if (!op)
        op = "";
    if (minios_gnttab_init()) {
        test_error("no grant table");
        return test_finish();
    }
    if (!strcmp(op, "granter"))
        return granter();
    if (!strcmp(op, "mapper"))
        return mapper();
    test_error("op=granter or op=mapper");
    return test_finish();
}
