/* Guest test: grant tables between two domains (op=granter / op=mapper, peer=<domid>): mapping
 * read-write and read-only, the granter seeing writes, end_access refused while mapped, copies
 * both ways, the exact GNTST_* of bad maps, unmaps and copies (GNTMAP_contains_pte naming the
 * granter's own L1 entry), a map over a present entry undone by unmap_and_replace, and a granter
 * that dies while mapped.
 *
 * No xenstore: references are fixed by convention (a fresh table hands out 8, 9, 10, ...), and
 * the two sides step through a state word in the granter's control page (ref 8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/sched.h>
#include <minios/traps.h>
#include "report.h"
#include "peer.h"
#include "args.h"
#include "ptwalk.h"

#define PG 4096
enum { REF_CTL = 8, REF_RW, REF_RO, REF_WRONGDOM, REF_NOPERM, REF_NOTOWNED };
#define REF_LATE REF_RW          /* the lowest free reference again, after end_access */

struct ctl {
    volatile uint32_t state;
    volatile uint32_t errors;
    volatile uint64_t pte_ma;    /* the machine address of the granter's PTE for rw_page */
};

static char ctl_page[PG] __attribute__((aligned(PG)));
static char rw_page[PG] __attribute__((aligned(PG)));
static char ro_page[PG] __attribute__((aligned(PG)));
static char local[PG] __attribute__((aligned(PG)));
static domid_t peer;

static void wait_state(volatile uint32_t *s, uint32_t want)
{
    peer_wait_state(s, want, 2000000UL);
}

static unsigned long pte_of(const void *va)
{
    unsigned long ma = l1e_maddr((unsigned long)va);
    return *(volatile unsigned long *)((m2p[ma >> 12] << 12) + (ma & 4095));
}

static grant_ref_t grant(void *p, int ro)
{
    return minios_gnttab_grant_access(peer, minios_gnttab_virt_to_mfn(p), ro);
}

static int granter(void)
{
    struct ctl *c = (struct ctl *)ctl_page;
    memset(rw_page, 0x5a, PG);
    memset(ro_page, 0xa5, PG);
    CHECK_EQ(grant(ctl_page, 0), REF_CTL);
    CHECK_EQ(grant(rw_page, 0), REF_RW);
    CHECK_EQ(grant(ro_page, 1), REF_RO);
    CHECK_EQ(minios_gnttab_grant_access(peer + 5, minios_gnttab_virt_to_mfn(rw_page), 0),
             REF_WRONGDOM);
    CHECK_EQ(grant(rw_page, 0), REF_NOPERM);
    CHECK_EQ(grant(rw_page, 0), REF_NOTOWNED);
    grant_entry_v1_t *t = minios_gnttab_entries();
    t[REF_NOPERM].flags = GTF_readonly;              /* no GTF_permit_access */
    t[REF_NOTOWNED].frame = 0;                       /* a frame that is not ours */
    unsigned long rw_pte = pte_of(rw_page);
    c->pte_ma = l1e_maddr((unsigned long)rw_page);
    c->state = 1;

    wait_state(&c->state, 2);                        /* mapper has mapped and written */
    CHECK_EQ((unsigned char)rw_page[0], 0x77);
    CHECK_EQ((unsigned char)rw_page[PG - 1], 0x77);
    CHECK_EQ(pte_of(rw_page), rw_pte);               /* the mapper could not write it */
    CHECK_EQ(t[REF_RW].flags, GTF_permit_access | GTF_reading | GTF_writing);
    CHECK_EQ(t[REF_RO].flags, GTF_permit_access | GTF_readonly | GTF_reading);
    CHECK_EQ(minios_gnttab_end_access(REF_RW), -XEN_EBUSY);
    CHECK_EQ(minios_gnttab_end_access(REF_RO), -XEN_EBUSY);
    c->state = 3;

    wait_state(&c->state, 4);                        /* unmapped, copies done */
    CHECK_EQ(t[REF_RW].flags, GTF_permit_access);
    CHECK_EQ(minios_gnttab_end_access(REF_RW), 0);
    CHECK_EQ(minios_gnttab_end_access(REF_RO), 0);
    CHECK_EQ((unsigned char)rw_page[100], 0xc3);     /* the mapper's copy into our page */
    CHECK_EQ((unsigned char)rw_page[99], 0x77);
    /* A last grant, then we die with the control page still mapped. */
    CHECK_EQ(grant(rw_page, 0), REF_LATE);
    printf("granter: going away with ref %u granted and the control page mapped\n", REF_LATE);
    c->state = 5;
    return test_finish();
}

static volatile int faults;
static void pf_handler(struct minios_trap_frame *f)
{
    faults++;
    f->rip += 3;                 /* movb $imm8, (%rdi): c6 07 ib */
}

static int16_t map_status(grant_ref_t ref, uint32_t flags)
{
    struct gnttab_map_grant_ref m = { .flags = flags, .ref = ref, .dom = peer };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1), 0);
    if (m.status == GNTST_okay) {
        struct gnttab_unmap_grant_ref u = { .dev_bus_addr = m.dev_bus_addr, .handle = m.handle };
        HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1);
    }
    return m.status;
}

static int16_t copy_status(struct gnttab_copy c)
{
    c.status = 99;
    CHECK_EQ(minios_gnttab_copy(&c, 1), 0);
    return c.status;
}

static int mapper(void)
{
    grant_handle_t hc, hw, hr;
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

    char *rw = minios_gnttab_map(peer, REF_RW, 0, &hw);
    char *ro = minios_gnttab_map(peer, REF_RO, 1, &hr);
    if (!rw || !ro) {
        test_fail("map: status %d", minios_gnttab_last_status());
        return test_finish();
    }
    CHECK_EQ((unsigned char)rw[0], 0x5a);
    CHECK_EQ((unsigned char)ro[0], 0xa5);
    CHECK_EQ((unsigned char)ro[PG - 1], 0xa5);
    minios_set_trap_handler(14, pf_handler);
    __asm__ volatile("movb $0x42, (%0)" : : "D"(ro + 1) : "memory");
    minios_set_trap_handler(14, NULL);
    CHECK_EQ(faults, 1);                             /* the read-only mapping */
    CHECK_EQ((unsigned char)ro[1], 0xa5);
    memset(rw, 0x77, PG);

    /* Bad maps, unmaps and copies while the good ones are held. */
    CHECK_EQ(map_status(5000, GNTMAP_device_map), GNTST_bad_gntref);       /* beyond the table */
    CHECK_EQ(map_status(REF_WRONGDOM, GNTMAP_device_map), GNTST_general_error);
    CHECK_EQ(map_status(REF_NOPERM, GNTMAP_device_map | GNTMAP_readonly), GNTST_general_error);
    CHECK_EQ(map_status(REF_RO, GNTMAP_device_map), GNTST_general_error);   /* r/o as writable */
    CHECK_EQ(map_status(REF_NOTOWNED, GNTMAP_device_map), GNTST_bad_page);
    CHECK_EQ(map_status(REF_RW, 0), GNTST_bad_gntref);
    struct gnttab_map_grant_ref m = { .flags = GNTMAP_device_map, .ref = REF_RW, .dom = 999 };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1), 0);
    CHECK_EQ(m.status, GNTST_bad_domain);
    struct gnttab_unmap_grant_ref u = { .handle = 60000 };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1), 0);
    CHECK_EQ(u.status, GNTST_bad_handle);
    /* GNTMAP_contains_pte naming an entry of the granter's L1 table: not a
     * frame of ours, GNTST_general_error (the granter checks its entry). */
    m = (struct gnttab_map_grant_ref){ .host_addr = c->pte_ma, .ref = REF_RW, .dom = peer,
                                       .flags = GNTMAP_host_map | GNTMAP_contains_pte };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1), 0);
    CHECK_EQ(m.status, GNTST_general_error);
    /* The peer's grant over a present entry of ours (local), read through
     * it, then removed by unmap_and_replace. */
    unsigned long lorig = pte_of(local);
    local[3] = 0x31;
    m = (struct gnttab_map_grant_ref){ .host_addr = (unsigned long)local, .ref = REF_RW,
                                       .dom = peer, .flags = GNTMAP_host_map | GNTMAP_readonly };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &m, 1), 0);
    CHECK_EQ(m.status, GNTST_okay);
    struct mmuext_op fl = { .cmd = MMUEXT_INVLPG_LOCAL };
    fl.arg1.linear_addr = (unsigned long)local;
    CHECK_EQ(HYPERVISOR_mmuext_op(&fl, 1, NULL, DOMID_SELF), 0);
    CHECK_EQ((unsigned char)local[3], 0x77);
    struct gnttab_unmap_and_replace ur = { .host_addr = (unsigned long)local, .handle = m.handle };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_unmap_and_replace, &ur, 1), 0);
    CHECK_EQ(ur.status, GNTST_okay);
    CHECK_EQ(pte_of(local), 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)local, lorig, UVMF_INVLPG), 0);
    CHECK_EQ((unsigned char)local[3], 0x31);
    struct gnttab_query_size q = { .dom = peer };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1), 0);
    CHECK_EQ(q.status, GNTST_permission_denied);     /* no control role */
    xen_pfn_t f;
    struct gnttab_setup_table s = { .dom = peer, .nr_frames = 1 };
    set_xen_guest_handle(s.frame_list, &f);
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &s, 1), 0);
    CHECK_EQ(s.status, GNTST_permission_denied);
    c->state = 2;

    wait_state(&c->state, 3);
    CHECK_EQ(minios_gnttab_unmap(rw, hw), 0);
    CHECK_EQ(minios_gnttab_unmap(ro, hr), 0);
    u.handle = hw;
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &u, 1), 0);
    CHECK_EQ(u.status, GNTST_bad_handle);            /* unmapped already */

    /* Copies both ways: from the granter's r/o page, into its r/w page. */
    unsigned long lm = minios_gnttab_virt_to_mfn(local);
    struct gnttab_copy in = { .flags = GNTCOPY_source_gref, .len = PG };
    in.source.u.ref = REF_RO;
    in.source.domid = peer;
    in.dest.u.gmfn = lm;
    in.dest.domid = DOMID_SELF;
    CHECK_EQ(copy_status(in), GNTST_okay);
    CHECK_EQ((unsigned char)local[0], 0xa5);
    CHECK_EQ((unsigned char)local[PG - 1], 0xa5);
    memset(local, 0xc3, PG);
    struct gnttab_copy out = { .flags = GNTCOPY_dest_gref, .len = 1 };
    out.source.u.gmfn = lm;
    out.source.domid = DOMID_SELF;
    out.dest.u.ref = REF_RW;
    out.dest.domid = peer;
    out.dest.offset = 100;
    CHECK_EQ(copy_status(out), GNTST_okay);
    /* Both by reference in one op. */
    struct gnttab_copy both = in;
    both.flags = GNTCOPY_source_gref | GNTCOPY_dest_gref;
    both.dest.u.ref = REF_RW;
    both.dest.domid = peer;
    both.dest.offset = 4000;
    both.len = 96;
    CHECK_EQ(copy_status(both), GNTST_okay);
    /* Bad copies. */
    struct gnttab_copy bad = out;
    bad.len = 4000;
    CHECK_EQ(copy_status(bad), GNTST_bad_copy_arg);  /* beyond the page */
    bad = out;
    bad.dest.u.ref = REF_RO;
    CHECK_EQ(copy_status(bad), GNTST_general_error); /* into a r/o grant */
    bad = in;
    bad.source.domid = peer;
    bad.flags = 0;
    bad.source.u.gmfn = lm;
    CHECK_EQ(copy_status(bad), GNTST_permission_denied);  /* frames only as DOMID_SELF */
    bad.source.domid = DOMID_SELF;
    {
        /* The granter's frame, named directly: not ours. */
        struct gnttab_map_grant_ref dm = { .flags = GNTMAP_device_map | GNTMAP_readonly,
                                           .ref = REF_RO, .dom = peer };
        CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, &dm, 1), 0);
        CHECK_EQ(dm.status, GNTST_okay);
        bad.source.u.gmfn = dm.dev_bus_addr >> 12;
        CHECK_EQ(copy_status(bad), GNTST_bad_page);
        struct gnttab_unmap_grant_ref du = { .dev_bus_addr = dm.dev_bus_addr, .handle = dm.handle };
        CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, &du, 1), 0);
        CHECK_EQ(du.status, GNTST_okay);
    }
    bad = in;
    bad.source.u.ref = REF_WRONGDOM;
    CHECK_EQ(copy_status(bad), GNTST_general_error);
    bad.source.u.ref = 5000;
    CHECK_EQ(copy_status(bad), GNTST_bad_gntref);
    bad.source.u.ref = REF_NOTOWNED;
    CHECK_EQ(copy_status(bad), GNTST_bad_page);
    c->state = 4;

    /* The granter dies: its control page stays readable through our
     * mapping until we unmap it; its grants can no longer be mapped. */
    wait_state(&c->state, 5);
    int16_t st = GNTST_okay;
    for (unsigned long i = 0; i < 2000000 && st == GNTST_okay; i++) {
        st = map_status(REF_LATE, GNTMAP_device_map);
        if (st == GNTST_okay)
            HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    CHECK_EQ(st, GNTST_bad_domain);
    CHECK_EQ(c->state, 5);
    CHECK_EQ(minios_gnttab_unmap(c, hc), 0);
    printf("mapper: the granter is gone; unmapped its control page\n");
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
