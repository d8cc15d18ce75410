/* Guest test: grant tables v2 (runs on Keel and as dom0 of real Xen): set_version both ways and
 * its refusals (-EBUSY while a grant or a status frame is in use, -ERANGE for a reserved entry v1
 * cannot hold), the 8 reserved entries carried over, status frames (get_status_frames, mapped and
 * read), full-page grants mapped (also over a present entry, with GNTMAP_contains_pte, removed by
 * unmap_and_replace) and copied with GTF_reading/GTF_writing in the status frame and
 * never in the entry, sub-page grants copied within their bytes and never mapped, transitive
 * grants never mapped.  op=granter peer=N / op=mapper peer=N: a v1 peer maps and copies a v2
 * domain's grants (state steps in the granter's full-page grant, ref 8). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/sched.h>
#include <minios/startinfo.h>
#include "report.h"
#include "peer.h"
#include "ptwalk.h"
#include "args.h"

#define PG        4096
#define RW        (GTF_reading | GTF_writing)

static char page_a[PG] __attribute__((aligned(PG)));
static char page_b[PG] __attribute__((aligned(PG)));
static char spot[PG] __attribute__((aligned(PG)));
static char st_spot[PG] __attribute__((aligned(PG)));

static domid_t self;
static int on_keel;
static grant_entry_v2_t *t2;                 /* our table, seen as v2 entries */
static volatile grant_status_t *st;          /* our first status frame, mapped at st_spot */
static unsigned long st_orig;                /* st_spot's own PTE */

static long op1(unsigned cmd, void *arg)
{
    return HYPERVISOR_grant_table_op(cmd, arg, 1);
}

static unsigned long pte_of(const void *va)
{
    unsigned long ma = l1e_maddr((unsigned long)va);
    return *(volatile unsigned long *)((m2p[ma >> 12] << 12) + (ma & 4095));
}

static unsigned long mfn(const void *p)
{
    return minios_gnttab_virt_to_mfn(p);
}

static long set_version(uint32_t v, uint32_t *out)
{
    struct gnttab_set_version s = { .version = v };
    long rc = op1(GNTTABOP_set_version, &s);
    if (out)
        *out = s.version;
    return rc;
}

static uint32_t get_version(void)
{
    struct gnttab_get_version g = { .dom = DOMID_SELF };
    CHECK_EQ(op1(GNTTABOP_get_version, &g), 0);
    return g.version;
}

static void grant_full(grant_ref_t r, domid_t d, unsigned long frame, uint16_t extra)
{
    t2[r].full_page.frame = frame;
    t2[r].hdr.domid = d;
    __atomic_store_n(&t2[r].hdr.flags, (uint16_t)(GTF_permit_access | extra), __ATOMIC_RELEASE);
}

static int16_t copy(uint16_t flags, grant_ref_t s, unsigned long sframe, uint16_t soff,
                    grant_ref_t dref, unsigned long dframe, uint16_t doff, uint16_t len)
{
    struct gnttab_copy c = { .flags = flags, .len = len };
    c.source.domid = c.dest.domid = DOMID_SELF;
    c.source.offset = soff;
    c.dest.offset = doff;
    if (flags & GNTCOPY_source_gref)
        c.source.u.ref = s;
    else
        c.source.u.gmfn = sframe;
    if (flags & GNTCOPY_dest_gref)
        c.dest.u.ref = dref;
    else
        c.dest.u.gmfn = dframe;
    CHECK_EQ(op1(GNTTABOP_copy, &c), 0);
    return c.status;
}

static int16_t map(grant_ref_t r, domid_t d, void *at, int ro, grant_handle_t *h)
{
    struct gnttab_map_grant_ref m = { .host_addr = (unsigned long)at, .ref = r, .dom = d,
                                      .flags = GNTMAP_host_map | (ro ? GNTMAP_readonly : 0) };
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    *h = m.handle;
    return m.status;
}

static int16_t unmap(void *at, grant_handle_t h)
{
    struct gnttab_unmap_grant_ref u = { .host_addr = (unsigned long)at, .handle = h };
    CHECK_EQ(op1(GNTTABOP_unmap_grant_ref, &u), 0);
    return u.status;
}

/* get_status_frames into f[]: the status. */
static int16_t status_frames(unsigned n, uint64_t *f)
{
    struct gnttab_get_status_frames s = { .dom = DOMID_SELF, .nr_frames = n };
    set_xen_guest_handle(s.frame_list, f);
    CHECK_EQ(op1(GNTTABOP_get_status_frames, &s), 0);
    return s.status;
}

static void map_status_frame(uint64_t f)
{
    st_orig = pte_of(st_spot);
    /* Read-only, as Linux maps them: present, user (a PV kernel runs in ring 3), NX. */
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)st_spot, f << 12 | 1 | 4 | (1UL << 63),
                                          UVMF_INVLPG), 0);
    st = (volatile grant_status_t *)st_spot;
}

static void unmap_status_frame(void)
{
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)st_spot, st_orig, UVMF_INVLPG), 0);
    st = NULL;
}

/* Switching: v1 to v2, reserved entries carried over, status frames. */
static void test_switch(void)
{
    uint32_t v = 0;
    uint64_t f[4] = { 0 };
    CHECK_EQ(get_version(), 1);
    CHECK_EQ(status_frames(1, f), GNTST_general_error);     /* v1: none */
    grant_entry_v1_t *t1 = minios_gnttab_entries();
    /* A reserved entry (3) in v1 form: it survives the switch, as v2. */
    t1[3].frame = (uint32_t)mfn(page_a);
    t1[3].domid = self;
    t1[3].flags = GTF_permit_access | GTF_readonly;
    /* An ordinary one does not. */
    t1[9].frame = (uint32_t)mfn(page_a);
    t1[9].domid = self;
    t1[9].flags = GTF_permit_access;
    CHECK_EQ(set_version(2, &v), 0);
    CHECK_EQ(v, 2);
    CHECK_EQ(get_version(), 2);
    CHECK_EQ(set_version(2, &v), 0);                        /* no change */
    CHECK_EQ(v, 2);
    CHECK_EQ(set_version(3, &v), -XEN_EINVAL);
    CHECK_EQ(v, 2);                                         /* the version in force */
    t2 = (grant_entry_v2_t *)t1;
    CHECK_EQ(t2[3].hdr.flags, GTF_permit_access | GTF_readonly);
    CHECK_EQ(t2[3].hdr.domid, self);
    CHECK_EQ(t2[3].full_page.frame, mfn(page_a));
    CHECK_EQ(t2[9].hdr.flags, 0);
    CHECK_EQ(t2[9].full_page.frame, 0);

    struct gnttab_query_size q = { .dom = DOMID_SELF };
    CHECK_EQ(op1(GNTTABOP_query_size, &q), 0);
    printf("v2: %u grant frame(s), %u entries\n", q.nr_frames,
           q.nr_frames * (unsigned)(PG / sizeof(grant_entry_v2_t)));
    /* One status frame holds 2048 entries: 8 grant frames' worth. */
    CHECK_EQ(status_frames(1, f), GNTST_okay);
    CHECK_EQ(status_frames(0, f), GNTST_okay);
    if (q.nr_frames <= 8)
        CHECK_EQ(status_frames(2, f), GNTST_general_error);
    struct gnttab_get_status_frames bad = { .dom = 1000, .nr_frames = 1 };
    set_xen_guest_handle(bad.frame_list, f);
    CHECK_EQ(op1(GNTTABOP_get_status_frames, &bad), 0);
    CHECK_EQ(bad.status, GNTST_bad_domain);
    CHECK_EQ(status_frames(1, f), GNTST_okay);
    map_status_frame(f[0]);
    CHECK_EQ(st[3], 0);

    /* Growing the table to 9 frames brings a second status frame. */
    xen_pfn_t gf[9];
    struct gnttab_setup_table s = { .dom = DOMID_SELF, .nr_frames = 9 };
    set_xen_guest_handle(s.frame_list, gf);
    CHECK_EQ(op1(GNTTABOP_setup_table, &s), 0);
    CHECK_EQ(s.status, GNTST_okay);
    CHECK_EQ(status_frames(2, f), GNTST_okay);
    CHECK_EQ(status_frames(3, f), GNTST_general_error);
    if (f[0] == f[1] || f[1] == 0)
        test_fail("status frames %lx and %lx", (unsigned long)f[0], (unsigned long)f[1]);
}

/* Full-page grants: the flags stay as the guest wrote them, the status
 * frame says who reads and writes. */
static void test_full(void)
{
    grant_handle_t h;
    memset(page_a, 0x5a, PG);
    grant_full(10, self, mfn(page_a), 0);
    grant_full(11, self, mfn(page_a), GTF_readonly);
    grant_full(12, self + 1, mfn(page_a), 0);               /* someone else's */
    grant_full(13, self, 1UL << 40, 0);                     /* no such frame */

    CHECK_EQ(copy(GNTCOPY_source_gref, 10, 0, 0, 0, mfn(page_b), 0, PG), GNTST_okay);
    CHECK_EQ((unsigned char)page_b[PG - 1], 0x5a);
    CHECK_EQ(st[10], 0);
    CHECK_EQ(t2[10].hdr.flags, GTF_permit_access);
    memset(page_b, 0xc3, 16);
    CHECK_EQ(copy(GNTCOPY_dest_gref, 0, mfn(page_b), 0, 10, 0, 8, 16), GNTST_okay);
    CHECK_EQ((unsigned char)page_a[8], 0xc3);
    CHECK_EQ(copy(GNTCOPY_dest_gref, 0, mfn(page_b), 0, 11, 0, 8, 16), GNTST_general_error);
    CHECK_EQ(copy(GNTCOPY_source_gref, 12, 0, 0, 0, mfn(page_b), 0, 1), GNTST_general_error);
    CHECK_EQ(copy(GNTCOPY_source_gref, 13, 0, 0, 0, mfn(page_b), 0, 1), GNTST_bad_page);
    CHECK_EQ(st[11], 0);
    CHECK_EQ(st[12], 0);
    CHECK_EQ(st[13], 0);

    unsigned long orig = pte_of(spot);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, 0, UVMF_INVLPG), 0);
    CHECK_EQ(map(10, self, spot, 0, &h), GNTST_okay);
    CHECK_EQ(st[10], RW);
    CHECK_EQ(t2[10].hdr.flags, GTF_permit_access);          /* not in the entry */
    CHECK_EQ((unsigned char)spot[8], 0xc3);
    spot[100] = 0x42;
    CHECK_EQ(page_a[100], 0x42);
    /* A grant in use: no going back to v1 (reserved entries excepted). */
    uint32_t v = 0;
    CHECK_EQ(set_version(1, &v), -XEN_EBUSY);
    CHECK_EQ(v, 2);
    CHECK_EQ(unmap(spot, h), GNTST_okay);
    CHECK_EQ(st[10], 0);
    CHECK_EQ(map(11, self, spot, 1, &h), GNTST_okay);
    CHECK_EQ(st[11], GTF_reading);
    CHECK_EQ(unmap(spot, h), GNTST_okay);
    CHECK_EQ(st[11], 0);
    CHECK_EQ(map(11, self, spot, 0, &h), GNTST_general_error);  /* read-only grant */
    CHECK_EQ(st[11], 0);
    CHECK_EQ(map(12, self, spot, 1, &h), GNTST_general_error);
    CHECK_EQ(map(13, self, spot, 1, &h), GNTST_bad_page);
    CHECK_EQ(st[13], 0);
    CHECK_EQ(map(4000, self, spot, 1, &h), GNTST_bad_gntref);   /* past 9 frames of 256 */
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orig, UVMF_INVLPG), 0);

    /* The host-mapping forms (tests/gnttab) on v2 grants: over a present
     * entry, removed by unmap_and_replace; by the entry's machine address
     * (GNTMAP_contains_pte); the status entry follows each. */
    CHECK_EQ(map(10, self, spot, 0, &h), GNTST_okay);
    struct mmuext_op fl = { .cmd = MMUEXT_INVLPG_LOCAL };
    fl.arg1.linear_addr = (unsigned long)spot;
    CHECK_EQ(HYPERVISOR_mmuext_op(&fl, 1, NULL, DOMID_SELF), 0);
    CHECK_EQ((unsigned char)spot[8], 0xc3);
    CHECK_EQ(st[10], RW);
    struct gnttab_unmap_and_replace r = { .host_addr = (unsigned long)spot, .handle = h };
    CHECK_EQ(op1(GNTTABOP_unmap_and_replace, &r), 0);
    CHECK_EQ(r.status, GNTST_okay);
    CHECK_EQ(pte_of(spot), 0);
    CHECK_EQ(st[10], 0);
    unsigned long e = l1e_maddr((unsigned long)spot);
    struct gnttab_map_grant_ref m = { .host_addr = e + 4, .ref = 11, .dom = self,
        .flags = GNTMAP_host_map | GNTMAP_contains_pte | GNTMAP_readonly };
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    CHECK_EQ(m.status, GNTST_general_error);                    /* misaligned */
    CHECK_EQ(st[11], 0);
    m.host_addr = e;
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    CHECK_EQ(m.status, GNTST_okay);
    CHECK_EQ(st[11], GTF_reading);
    CHECK_EQ(pte_of(spot) >> 12 & 0xFFFFFFFFFUL, mfn(page_a));
    CHECK_EQ((unsigned char)spot[100], 0x42);
    CHECK_EQ(unmap((void *)e, m.handle), GNTST_okay);
    CHECK_EQ(st[11], 0);
    CHECK_EQ(pte_of(spot), 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orig, UVMF_INVLPG), 0);
}

/* Sub-page grants: copies within their bytes only; never mapped. */
static void test_sub(void)
{
    grant_handle_t h;
    t2[14].sub_page.frame = mfn(page_a);
    t2[14].sub_page.page_off = 100;
    t2[14].sub_page.length = 50;
    t2[14].hdr.domid = self;
    __atomic_store_n(&t2[14].hdr.flags, (uint16_t)(GTF_permit_access | GTF_sub_page),
                     __ATOMIC_RELEASE);
    memset(page_a + 100, 0x77, 50);
    CHECK_EQ(copy(GNTCOPY_source_gref, 14, 0, 100, 0, mfn(page_b), 0, 50), GNTST_okay);
    CHECK_EQ((unsigned char)page_b[49], 0x77);
    CHECK_EQ(copy(GNTCOPY_source_gref, 14, 0, 120, 0, mfn(page_b), 0, 10), GNTST_okay);
    CHECK_EQ(copy(GNTCOPY_source_gref, 14, 0, 99, 0, mfn(page_b), 0, 10), GNTST_general_error);
    CHECK_EQ(copy(GNTCOPY_source_gref, 14, 0, 100, 0, mfn(page_b), 0, 51), GNTST_general_error);
    CHECK_EQ(copy(GNTCOPY_dest_gref, 0, mfn(page_b), 0, 14, 0, 140, 10), GNTST_okay);
    CHECK_EQ(copy(GNTCOPY_dest_gref, 0, mfn(page_b), 0, 14, 0, 145, 10), GNTST_general_error);
    CHECK_EQ(copy(GNTCOPY_source_gref, 14, 0, 4090, 0, mfn(page_b), 0, 10), GNTST_bad_copy_arg);
    CHECK_EQ(st[14], 0);
    unsigned long orig = pte_of(spot);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, 0, UVMF_INVLPG), 0);
    CHECK_EQ(map(14, self, spot, 1, &h), GNTST_general_error);
    CHECK_EQ(st[14], 0);

    /* Transitive: never mapped; one back to its own granter is refused
     * for copies too (Xen: "cannot be self-referential"; Keel refuses
     * every transitive grant, docs/abi.md). */
    t2[15].transitive.trans_domid = self;
    t2[15].transitive.gref = 10;
    t2[15].hdr.domid = self;
    __atomic_store_n(&t2[15].hdr.flags, (uint16_t)GTF_transitive, __ATOMIC_RELEASE);
    CHECK_EQ(map(15, self, spot, 1, &h), GNTST_general_error);
    CHECK_EQ(copy(GNTCOPY_source_gref, 15, 0, 0, 0, mfn(page_b), 0, 8), GNTST_general_error);
    CHECK_EQ(st[15], 0);
    CHECK_EQ(st[10], 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orig, UVMF_INVLPG), 0);
}

/* Back to v1: refused while a status frame is mapped or a reserved
 * entry holds a frame v1 cannot; reserved entries carried back. */
static void test_back(void)
{
    uint32_t v = 0;
    CHECK_EQ(set_version(1, &v), -XEN_EBUSY);               /* status frame mapped */
    CHECK_EQ(v, 2);
    unmap_status_frame();
    grant_full(5, self, 1UL << 32, 0);
    CHECK_EQ(set_version(1, &v), -XEN_ERANGE);
    CHECK_EQ(v, 2);
    t2[5].hdr.flags = GTF_transitive;
    CHECK_EQ(set_version(1, &v), -XEN_ERANGE);
    t2[5].hdr.flags = 0;
    CHECK_EQ(set_version(1, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(get_version(), 1);
    grant_entry_v1_t *t1 = minios_gnttab_entries();
    CHECK_EQ(t1[3].flags, GTF_permit_access | GTF_readonly);
    CHECK_EQ(t1[3].domid, self);
    CHECK_EQ(t1[3].frame, mfn(page_a));
    CHECK_EQ(t1[10].flags, 0);
    uint64_t f[1];
    CHECK_EQ(status_frames(1, f), GNTST_general_error);
    memset(&t1[3], 0, sizeof(t1[3]));
    /* And v1 works again: minios's own grants. */
    grant_ref_t r = minios_gnttab_grant_access(self, mfn(page_a), 1);
    CHECK_EQ(copy(GNTCOPY_source_gref, r, 0, 0, 0, mfn(page_b), 0, 8), GNTST_okay);
    CHECK_EQ(minios_gnttab_end_access(r), 0);
    /* v2 once more: the status frames come back zeroed. */
    CHECK_EQ(set_version(2, &v), 0);
    CHECK_EQ(status_frames(1, f), GNTST_okay);
    CHECK_EQ(set_version(1, &v), 0);
}

static int single(void)
{
    CHECK_EQ(minios_gnttab_init(), 0);
    if (!minios_gnttab_entries()) {
        test_fail("no grant table");
        return test_finish();
    }
    test_switch();
    test_full();
    test_sub();
    test_back();
    return test_finish();
}

/* ---- two domains: a v2 granter, a mapper (v1) ---- */

enum { REF_CTL = 8, REF_RW, REF_SUB };
struct ctl { volatile uint32_t state; };
static char ctl_page[PG] __attribute__((aligned(PG)));
static domid_t peer;

static void wait_state(volatile uint32_t *s, uint32_t want)
{
    peer_wait_state(s, want, 2000000UL);
}

static int granter(void)
{
    uint32_t v;
    uint64_t f[1];
    CHECK_EQ(minios_gnttab_init(), 0);
    CHECK_EQ(set_version(2, &v), 0);
    t2 = (grant_entry_v2_t *)minios_gnttab_entries();
    CHECK_EQ(status_frames(1, f), GNTST_okay);
    map_status_frame(f[0]);
    struct ctl *c = (struct ctl *)ctl_page;
    memset(page_a, 0x5a, PG);
    grant_full(REF_CTL, peer, mfn(ctl_page), 0);
    grant_full(REF_RW, peer, mfn(page_a), 0);
    t2[REF_SUB].sub_page.frame = mfn(page_a);
    t2[REF_SUB].sub_page.page_off = 1000;
    t2[REF_SUB].sub_page.length = 24;
    t2[REF_SUB].hdr.domid = peer;
    __atomic_store_n(&t2[REF_SUB].hdr.flags, (uint16_t)(GTF_permit_access | GTF_sub_page),
                     __ATOMIC_RELEASE);
    c->state = 1;
    wait_state(&c->state, 2);                                /* the mapper has mapped REF_RW */
    CHECK_EQ(st[REF_CTL], RW);
    CHECK_EQ(st[REF_RW], RW);
    CHECK_EQ(st[REF_SUB], 0);
    CHECK_EQ(t2[REF_RW].hdr.flags, GTF_permit_access);
    CHECK_EQ((unsigned char)page_a[0], 0x77);
    CHECK_EQ(set_version(1, &v), -XEN_EBUSY);
    c->state = 3;
    wait_state(&c->state, 4);                                /* unmapped REF_RW, copied */
    CHECK_EQ(st[REF_RW], 0);
    CHECK_EQ((unsigned char)page_a[1010], 0xc3);             /* its copy into the sub-page */
    CHECK_EQ((unsigned char)page_a[1024], 0x5a);
    printf("granter: the v1 peer mapped and copied our v2 grants\n");
    c->state = 5;
    /* We die with the control page mapped by the peer and our status
     * frame mapped: every frame must come back. */
    return test_finish();
}

static int mapper(void)
{
    grant_handle_t hc, hr;
    static char ctl_spot[PG] __attribute__((aligned(PG)));
    unsigned long oc = pte_of(ctl_spot), orr = pte_of(spot);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)ctl_spot, 0, UVMF_INVLPG), 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, 0, UVMF_INVLPG), 0);
    struct gnttab_map_grant_ref m = { .host_addr = (unsigned long)ctl_spot, .ref = REF_CTL,
                                      .dom = peer, .flags = GNTMAP_host_map };
    for (unsigned long i = 0; ; i++) {
        CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
        if (m.status == GNTST_okay)
            break;
        if (i == 2000000) {
            test_error("the granter's control page never came (status %d)", m.status);
            return test_finish();
        }
        HYPERVISOR_sched_op(SCHEDOP_yield, NULL);
    }
    hc = m.handle;
    struct ctl *c = (struct ctl *)ctl_spot;
    wait_state(&c->state, 1);
    CHECK_EQ(map(REF_RW, peer, spot, 0, &hr), GNTST_okay);
    CHECK_EQ((unsigned char)spot[5], 0x5a);
    spot[0] = 0x77;
    grant_handle_t hs;
    CHECK_EQ(map(REF_SUB, peer, ctl_spot + 0, 1, &hs), GNTST_general_error);  /* sub-page */
    c->state = 2;
    wait_state(&c->state, 3);
    CHECK_EQ(unmap(spot, hr), GNTST_okay);
    /* Copies by reference into the sub-page, within and outside it. */
    memset(page_b, 0xc3, 64);
    struct gnttab_copy cp = { .flags = GNTCOPY_dest_gref, .len = 20 };
    cp.source.domid = DOMID_SELF;
    cp.source.u.gmfn = mfn(page_b);
    cp.dest.domid = peer;
    cp.dest.u.ref = REF_SUB;
    cp.dest.offset = 1004;
    CHECK_EQ(op1(GNTTABOP_copy, &cp), 0);
    CHECK_EQ(cp.status, GNTST_okay);
    cp.dest.offset = 1005;
    CHECK_EQ(op1(GNTTABOP_copy, &cp), 0);
    CHECK_EQ(cp.status, GNTST_general_error);
    cp.dest.offset = 1004;
    cp.dest.u.ref = REF_RW;                                  /* full page: anywhere */
    CHECK_EQ(op1(GNTTABOP_copy, &cp), 0);
    CHECK_EQ(cp.status, GNTST_okay);
    c->state = 4;
    wait_state(&c->state, 5);
    CHECK_EQ(unmap(ctl_spot, hc), GNTST_okay);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)ctl_spot, oc, UVMF_INVLPG), 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orr, UVMF_INVLPG), 0);
    printf("mapper: done\n");
    return test_finish();
}

int main(int argc, char **argv)
{
    char extra[XEN_EXTRAVERSION_LEN] = "";
    HYPERVISOR_xen_version(XENVER_extraversion, extra);
    on_keel = strstr(extra, "keel") != NULL;
    domid_t d = minios_domid();
    self = d == DOMID_INVALID ? 0 : d;
    const char *o = test_arg(argc, argv, "op"), *pe = test_arg(argc, argv, "peer");
    peer = pe ? (domid_t)strtoul(pe, NULL, 0) : 0;
    printf("domain %u on %s\n", self, on_keel ? "Keel" : "Xen");
    if (o && !strcmp(o, "granter"))
        return granter();
    if (o && !strcmp(o, "mapper"))
        return mapper();
    return single();
}
