/* Guest test: grant tables v1 in one domain (runs on Keel and as dom0 of real Xen): setup_table,
 * query_size, versions, copy by reference and by frame to ourselves, self-mappings (over present
 * entries, GNTMAP_contains_pte, GNTTABOP_unmap_and_replace), and the exact GNTST_* / errno for
 * each bad argument. */
#include <stdio.h>
#include <string.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/traps.h>
#include "report.h"
#include "ptwalk.h"

#define HV_ADDR   0xFFFF830000100000UL
#define UNMAPPED  0x00007000000000UL     /* canonical, never mapped */
#define PG        4096

static char page_a[PG] __attribute__((aligned(PG)));
static char page_b[PG] __attribute__((aligned(PG)));
static char spot[PG] __attribute__((aligned(PG)));

static domid_t self;
static int on_keel;

static long op1(unsigned cmd, void *arg)
{
    return HYPERVISOR_grant_table_op(cmd, arg, 1);
}

/* Our domain id; 0 (as on Xen's dom0) if it cannot be had. */
static domid_t self_id(void)
{
    domid_t d = minios_domid();
    return d == DOMID_INVALID ? 0 : d;
}

static void test_sizes(void)
{
    struct gnttab_query_size q = { .dom = DOMID_SELF };
    CHECK_EQ(op1(GNTTABOP_query_size, &q), 0);
    CHECK_EQ(q.status, GNTST_okay);
    CHECK_EQ(q.nr_frames, 1);                     /* Xen's INITIAL_NR_GRANT_FRAMES */
    if (q.max_nr_frames < MINIOS_GNTTAB_FRAMES)
        test_fail("max_nr_frames %u", q.max_nr_frames);
    unsigned max = q.max_nr_frames;
    printf("grant table: %u frame(s), at most %u\n", q.nr_frames, max);
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 2), -XEN_EINVAL);
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 0), -XEN_EINVAL);
    CHECK_EQ(op1(GNTTABOP_query_size, (void *)HV_ADDR), -XEN_EFAULT);
    q.dom = 1000;                                 /* no such domain */
    CHECK_EQ(op1(GNTTABOP_query_size, &q), 0);
    CHECK_EQ(q.status, GNTST_bad_domain);
    q.dom = self;
    CHECK_EQ(op1(GNTTABOP_query_size, &q), 0);
    CHECK_EQ(q.status, GNTST_okay);

    xen_pfn_t frames[4];
    struct gnttab_setup_table s = { .dom = DOMID_SELF, .nr_frames = max + 1 };
    set_xen_guest_handle(s.frame_list, frames);
    CHECK_EQ(op1(GNTTABOP_setup_table, &s), 0);
    CHECK_EQ(s.status, GNTST_general_error);      /* beyond the domain's limit */
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &s, 0), -XEN_EINVAL);
    CHECK_EQ(op1(GNTTABOP_setup_table, (void *)HV_ADDR), -XEN_EFAULT);
    s.nr_frames = 1;
    set_xen_guest_handle(s.frame_list, (xen_pfn_t *)HV_ADDR);
    CHECK_EQ(op1(GNTTABOP_setup_table, &s), -XEN_EFAULT);
    set_xen_guest_handle(s.frame_list, (xen_pfn_t *)UNMAPPED);
    s.status = 99;
    CHECK_EQ(op1(GNTTABOP_setup_table, &s), 0);
    CHECK_EQ(s.status, GNTST_bad_virt_addr);
    s.dom = 1000;
    set_xen_guest_handle(s.frame_list, frames);
    CHECK_EQ(op1(GNTTABOP_setup_table, &s), 0);
    CHECK_EQ(s.status, GNTST_bad_domain);
    s.dom = DOMID_SELF;
    s.nr_frames = 0;
    CHECK_EQ(op1(GNTTABOP_setup_table, &s), 0);
    CHECK_EQ(s.status, GNTST_okay);

    CHECK_EQ(minios_gnttab_init(), 0);
    q.dom = DOMID_SELF;
    CHECK_EQ(op1(GNTTABOP_query_size, &q), 0);
    CHECK_EQ(q.nr_frames, MINIOS_GNTTAB_FRAMES);
    /* The same frames again, in the same order; the table never shrinks. */
    s.nr_frames = 2;
    CHECK_EQ(op1(GNTTABOP_setup_table, &s), 0);
    CHECK_EQ(s.status, GNTST_okay);
    CHECK_EQ(op1(GNTTABOP_query_size, &q), 0);
    CHECK_EQ(q.nr_frames, MINIOS_GNTTAB_FRAMES);
}

static void test_versions(void)
{
    struct gnttab_set_version v = { .version = 1 };
    CHECK_EQ(op1(GNTTABOP_set_version, &v), 0);
    CHECK_EQ(v.version, 1);
    v.version = 0;
    CHECK_EQ(op1(GNTTABOP_set_version, &v), -XEN_EINVAL);
    CHECK_EQ(v.version, 1);
    v.version = 3;
    CHECK_EQ(op1(GNTTABOP_set_version, &v), -XEN_EINVAL);
    /* Version 2: tests/gnttab-v2. */
    struct gnttab_get_version g = { .dom = DOMID_SELF };
    CHECK_EQ(op1(GNTTABOP_get_version, &g), 0);
    CHECK_EQ(g.version, 1);
    g.dom = 1000;
    CHECK_EQ(op1(GNTTABOP_get_version, &g), -XEN_ESRCH);

    uint64_t f[2];
    struct gnttab_get_status_frames sf = { .dom = DOMID_SELF, .nr_frames = 1 };
    set_xen_guest_handle(sf.frame_list, f);
    CHECK_EQ(op1(GNTTABOP_get_status_frames, &sf), 0);
    CHECK_EQ(sf.status, GNTST_general_error);    /* v1: no status frames */
    sf.nr_frames = 0;
    CHECK_EQ(op1(GNTTABOP_get_status_frames, &sf), 0);
    CHECK_EQ(sf.status, GNTST_okay);
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_get_status_frames, &sf, 2), -XEN_EINVAL);
    sf.dom = 1000;
    CHECK_EQ(op1(GNTTABOP_get_status_frames, &sf), 0);
    CHECK_EQ(sf.status, GNTST_bad_domain);

    CHECK_EQ(HYPERVISOR_grant_table_op(100, NULL, 0), -XEN_ENOSYS);
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_query_size | (1 << 12), &g, 1), -XEN_EINVAL);
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_copy, NULL, 0x80000000u), -XEN_EINVAL);
}

static struct gnttab_copy cp(uint16_t flags, uint64_t src, domid_t sd, uint16_t soff,
                             uint64_t dst, domid_t dd, uint16_t doff, uint16_t len)
{
    struct gnttab_copy c = { .flags = flags, .len = len };
    c.source.domid = sd;
    c.source.offset = soff;
    c.dest.domid = dd;
    c.dest.offset = doff;
    if (flags & GNTCOPY_source_gref)
        c.source.u.ref = (grant_ref_t)src;
    else
        c.source.u.gmfn = src;
    if (flags & GNTCOPY_dest_gref)
        c.dest.u.ref = (grant_ref_t)dst;
    else
        c.dest.u.gmfn = dst;
    c.status = 99;
    return c;
}

static int16_t copy1(struct gnttab_copy c)
{
    long rc = minios_gnttab_copy(&c, 1);
    if (rc)
        test_fail("copy: hypercall returned %ld", rc);
    return c.status;
}

#define BOTH (GNTCOPY_source_gref | GNTCOPY_dest_gref)

static void test_copy(void)
{
    grant_entry_v1_t *t = minios_gnttab_entries();
    unsigned long ma = minios_gnttab_virt_to_mfn(page_a), mb = minios_gnttab_virt_to_mfn(page_b);
    grant_ref_t ra = minios_gnttab_grant_access(self, ma, 1);
    grant_ref_t rb = minios_gnttab_grant_access(self, mb, 0);
    CHECK_EQ(ra, 8);
    CHECK_EQ(rb, 9);
    memset(page_a, 0xa5, PG);
    memset(page_b, 0, PG);

    /* By reference on both sides. */
    CHECK_EQ(copy1(cp(BOTH, ra, DOMID_SELF, 0, rb, DOMID_SELF, 0, PG)), GNTST_okay);
    CHECK_EQ((unsigned char)page_b[0], 0xa5);
    CHECK_EQ((unsigned char)page_b[PG - 1], 0xa5);
    CHECK_EQ(t[ra].flags, GTF_permit_access | GTF_readonly);   /* no reading/writing left */
    CHECK_EQ(t[rb].flags, GTF_permit_access);
    /* By our own id as well as DOMID_SELF, for references. */
    page_a[10] = 1;
    CHECK_EQ(copy1(cp(BOTH, ra, self, 10, rb, self, 20, 1)), GNTST_okay);
    CHECK_EQ(page_b[20], 1);
    /* By frame (DOMID_SELF only) on either side. */
    page_a[100] = 2;
    CHECK_EQ(copy1(cp(GNTCOPY_dest_gref, ma, DOMID_SELF, 100, rb, DOMID_SELF, 200, 1)), GNTST_okay);
    CHECK_EQ(page_b[200], 2);
    page_b[300] = 3;
    CHECK_EQ(copy1(cp(GNTCOPY_source_gref, ra, DOMID_SELF, 0, ma, DOMID_SELF, 0, 1)), GNTST_okay);
    CHECK_EQ((unsigned char)page_a[0], 0xa5);
    CHECK_EQ(copy1(cp(0, mb, DOMID_SELF, 300, ma, DOMID_SELF, 400, 1)), GNTST_okay);
    CHECK_EQ(page_a[400], 3);

    /* Bad arguments, each with the status Xen gives. */
    CHECK_EQ(copy1(cp(BOTH, ra, DOMID_SELF, 4000, rb, DOMID_SELF, 0, 200)), GNTST_bad_copy_arg);
    CHECK_EQ(copy1(cp(BOTH, ra, DOMID_SELF, 0, rb, DOMID_SELF, 4095, 2)), GNTST_bad_copy_arg);
    CHECK_EQ(copy1(cp(0, ma, self, 0, mb, DOMID_SELF, 0, 1)), GNTST_permission_denied);
    CHECK_EQ(copy1(cp(0, ma, DOMID_SELF, 0, mb, self, 0, 1)), GNTST_permission_denied);
    CHECK_EQ(copy1(cp(0, 0, DOMID_SELF, 0, mb, DOMID_SELF, 0, 1)), GNTST_bad_page);
    CHECK_EQ(copy1(cp(0, 0xFFFFFFFFFul, DOMID_SELF, 0, mb, DOMID_SELF, 0, 1)), GNTST_bad_page);
    CHECK_EQ(copy1(cp(0, ma, DOMID_SELF, 0, 0, DOMID_SELF, 0, 1)), GNTST_bad_page);
    /* A page table is never a copy destination. */
    unsigned long pt = minios_gnttab_virt_to_mfn((void *)minios_start_info->pt_base);
    CHECK_EQ(copy1(cp(0, ma, DOMID_SELF, 0, pt, DOMID_SELF, 0, 1)), GNTST_general_error);
    CHECK_EQ(copy1(cp(0, pt, DOMID_SELF, 0, mb, DOMID_SELF, 0, 1)), GNTST_okay);  /* reading is fine */
    CHECK_EQ(copy1(cp(BOTH, 5000, DOMID_SELF, 0, rb, DOMID_SELF, 0, 1)), GNTST_bad_gntref);
    CHECK_EQ(copy1(cp(BOTH, ra, DOMID_SELF, 0, 0xFFFFFFFFu, DOMID_SELF, 0, 1)), GNTST_bad_gntref);
    CHECK_EQ(copy1(cp(BOTH, ra, 1000, 0, rb, DOMID_SELF, 0, 1)), GNTST_bad_domain);
    CHECK_EQ(copy1(cp(BOTH, ra, DOMID_SELF, 0, ra, DOMID_SELF, 0, 1)), GNTST_general_error);  /* r/o */
    CHECK_EQ(copy1(cp(BOTH, 100, DOMID_SELF, 0, rb, DOMID_SELF, 0, 1)), GNTST_general_error); /* unused */
    CHECK_EQ(t[ra].flags, GTF_permit_access | GTF_readonly);
    CHECK_EQ(t[rb].flags, GTF_permit_access);
    /* Entries for the wrong domain, without GTF_permit_access, naming a frame
     * we do not own: the flags are left as they were. */
    grant_ref_t rx = minios_gnttab_grant_access(self + 7, ma, 0);
    CHECK_EQ(copy1(cp(BOTH, rx, DOMID_SELF, 0, rb, DOMID_SELF, 0, 1)), GNTST_general_error);
    t[rx].domid = self;
    t[rx].flags = GTF_readonly;
    CHECK_EQ(copy1(cp(BOTH, rx, DOMID_SELF, 0, rb, DOMID_SELF, 0, 1)), GNTST_general_error);
    t[rx].flags = GTF_accept_transfer;
    CHECK_EQ(copy1(cp(BOTH, rx, DOMID_SELF, 0, rb, DOMID_SELF, 0, 1)), GNTST_general_error);
    t[rx].frame = 0;
    t[rx].flags = GTF_permit_access;
    CHECK_EQ(copy1(cp(BOTH, rx, DOMID_SELF, 0, rb, DOMID_SELF, 0, 1)), GNTST_bad_page);
    CHECK_EQ(t[rx].flags, GTF_permit_access);
    t[rx].frame = (uint32_t)ma;
    CHECK_EQ(minios_gnttab_end_access(rx), 0);

    /* A batch: statuses per element, the hypercall itself succeeds. */
    struct gnttab_copy b[3] = {
        cp(BOTH, ra, DOMID_SELF, 0, rb, DOMID_SELF, 0, 8),
        cp(BOTH, ra, DOMID_SELF, 0, 9999, DOMID_SELF, 0, 8),
        cp(0, ma, DOMID_SELF, 0, rb, DOMID_SELF, 8, 8),
    };
    b[2].flags = GNTCOPY_dest_gref;
    CHECK_EQ(minios_gnttab_copy(b, 3), 0);
    CHECK_EQ(b[0].status, GNTST_okay);
    CHECK_EQ(b[1].status, GNTST_bad_gntref);
    CHECK_EQ(b[2].status, GNTST_okay);
    CHECK_EQ(minios_gnttab_copy((struct gnttab_copy *)HV_ADDR, 1), -XEN_EFAULT);

    CHECK_EQ(minios_gnttab_end_access(ra), 0);
    CHECK_EQ(minios_gnttab_end_access(rb), 0);
    CHECK_EQ(minios_gnttab_end_access(rb), -XEN_EINVAL);
}

static volatile int faults;
static void pf_handler(struct minios_trap_frame *f)
{
    faults++;
    f->rip += 3;                 /* movb $imm8, (%rdi): c6 07 ib */
}

static void poke(volatile char *p)
{
    __asm__ volatile("movb $0x42, (%0)" : : "D"(p) : "memory");
}

/* Mapping our own grants (dom = our id, as a backend in the same domain would). */
/* An installed L1 entry, through minios's read-only map of its tables. */
static unsigned long pte_of(const void *va)
{
    unsigned long ma = l1e_maddr((unsigned long)va);
    return *(volatile unsigned long *)((m2p[ma >> 12] << 12) + (ma & 4095));
}

#define PTE_FLAGS(w) (1UL | 0x20 | 0x40 | (1UL << 63) | 4 | ((w) ? 2 : 0))

/* The PTEs of host mappings, as Xen builds them: accessed, dirty, NX,
 * writable unless read-only, user; a kernel mapping (no
 * GNTMAP_application_map) marked with bit 52, a user one global; the
 * GNTMAP_guest_avail bits in PTE bits 9-11 (XENFEAT_gnttab_map_avail_bits). */
static void test_map_pte(char *pa, char *pb, grant_ref_t rb, unsigned long ma, unsigned long mb)
{
    CHECK_EQ(pte_of(pb), mb << 12 | PTE_FLAGS(1) | (1UL << 52));
    CHECK_EQ(pte_of(pa), ma << 12 | PTE_FLAGS(0) | (1UL << 52));
    unsigned long orig = pte_of(spot);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, 0, UVMF_INVLPG), 0);
    struct gnttab_map_grant_ref m = {
        .host_addr = (unsigned long)spot, .ref = rb, .dom = self,
        .flags = GNTMAP_host_map | GNTMAP_application_map | GNTMAP_readonly | (5u << 16),
    };
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    CHECK_EQ(m.status, GNTST_okay);
    CHECK_EQ(pte_of(spot), mb << 12 | PTE_FLAGS(0) | 0x100 | (5UL << 9));
    CHECK_EQ(spot[5], 0x22);
    struct gnttab_unmap_grant_ref u = { .host_addr = (unsigned long)spot, .handle = m.handle };
    CHECK_EQ(op1(GNTTABOP_unmap_grant_ref, &u), 0);
    CHECK_EQ(u.status, GNTST_okay);
    CHECK_EQ(pte_of(spot), 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orig, UVMF_INVLPG), 0);
    spot[0] = 1;
}

static void test_map(void)
{
    grant_entry_v1_t *t = minios_gnttab_entries();
    unsigned long ma = minios_gnttab_virt_to_mfn(page_a), mb = minios_gnttab_virt_to_mfn(page_b);
    grant_ref_t ra = minios_gnttab_grant_access(self, ma, 1);
    grant_ref_t rb = minios_gnttab_grant_access(self, mb, 0);
    grant_handle_t ha, hb;
    memset(page_a, 0x11, PG);
    memset(page_b, 0x22, PG);

    char *pb = minios_gnttab_map(self, rb, 0, &hb);
    if (!pb) {
        test_fail("map of our rw grant: status %d", minios_gnttab_last_status());
        return;
    }
    char *pa = minios_gnttab_map(self, ra, 1, &ha);
    if (!pa) {
        test_fail("map of our r/o grant: status %d", minios_gnttab_last_status());
        return;
    }
    CHECK_EQ(pa[5], 0x11);
    CHECK_EQ(pb[5], 0x22);
    test_map_pte(pa, pb, rb, ma, mb);
    pb[7] = 0x33;
    CHECK_EQ(page_b[7], 0x33);
    CHECK_EQ(t[rb].flags, GTF_permit_access | GTF_reading | GTF_writing);
    CHECK_EQ(t[ra].flags, GTF_permit_access | GTF_readonly | GTF_reading);
    CHECK_EQ(minios_gnttab_end_access(ra), -XEN_EBUSY);
    CHECK_EQ(minios_gnttab_end_access(rb), -XEN_EBUSY);

    minios_set_trap_handler(14, pf_handler);
    poke(pa + 9);
    CHECK_EQ(faults, 1);
    CHECK_EQ(page_a[9], 0x11);
    poke(pb + 9);
    CHECK_EQ(faults, 1);
    CHECK_EQ(page_b[9], 0x42);
    minios_set_trap_handler(14, NULL);

    /* A second, read-only mapping of the rw grant: GTF_writing stays while
     * the writable one lives. */
    struct gnttab_map_grant_ref m = { .flags = GNTMAP_device_map | GNTMAP_readonly,
                                      .ref = rb, .dom = self };
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    CHECK_EQ(m.status, GNTST_okay);
    CHECK_EQ(m.dev_bus_addr, (uint64_t)mb << 12);
    struct gnttab_unmap_grant_ref u = { .dev_bus_addr = m.dev_bus_addr, .handle = m.handle };
    CHECK_EQ(op1(GNTTABOP_unmap_grant_ref, &u), 0);
    CHECK_EQ(u.status, GNTST_okay);
    CHECK_EQ(op1(GNTTABOP_unmap_grant_ref, &u), 0);
    CHECK_EQ(u.status, GNTST_bad_handle);               /* already unmapped */
    CHECK_EQ(t[rb].flags, GTF_permit_access | GTF_reading | GTF_writing);

    /* Bad maps. */
    m = (struct gnttab_map_grant_ref){ .host_addr = 0, .flags = 0, .ref = rb, .dom = self };
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    CHECK_EQ(m.status, GNTST_bad_gntref);               /* neither host nor device map */
    m.flags = GNTMAP_device_map;
    m.dom = DOMID_SELF;
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    CHECK_EQ(m.status, GNTST_bad_domain);               /* DOMID_SELF is not a granter */
    m.dom = 1000;
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    CHECK_EQ(m.status, GNTST_bad_domain);
    m.dom = self;
    m.ref = 5000;
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    CHECK_EQ(m.status, GNTST_bad_gntref);
    grant_ref_t rc2 = minios_gnttab_grant_access(self, mb, 1);
    m.ref = rc2;
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    CHECK_EQ(m.status, GNTST_general_error);            /* r/o grant mapped writable */
    CHECK_EQ(t[rc2].flags, GTF_permit_access | GTF_readonly);
    CHECK_EQ(minios_gnttab_end_access(rc2), 0);
    u = (struct gnttab_unmap_grant_ref){ .handle = 60000 };
    CHECK_EQ(op1(GNTTABOP_unmap_grant_ref, &u), 0);
    CHECK_EQ(u.status, GNTST_bad_handle);
    /* Unmapping with the wrong address leaves the mapping. */
    u = (struct gnttab_unmap_grant_ref){ .host_addr = (unsigned long)pa, .handle = hb };
    CHECK_EQ(op1(GNTTABOP_unmap_grant_ref, &u), 0);
    CHECK_EQ(u.status, GNTST_general_error);

    CHECK_EQ(minios_gnttab_unmap(pb, hb), 0);
    CHECK_EQ(t[rb].flags, GTF_permit_access);
    CHECK_EQ(minios_gnttab_end_access(rb), 0);
    CHECK_EQ(minios_gnttab_unmap(pa, ha), 0);
    CHECK_EQ(minios_gnttab_end_access(ra), 0);
    CHECK_EQ(minios_gnttab_unmap(pa, ha), -XEN_EINVAL);
}

static char spot2[PG] __attribute__((aligned(PG)));
static char spot3[PG] __attribute__((aligned(PG)));

static void flush_va(const void *va)
{
    struct mmuext_op op = { .cmd = MMUEXT_INVLPG_LOCAL };
    op.arg1.linear_addr = (unsigned long)va;
    CHECK_EQ(HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF), 0);
}

static long mmuext1(unsigned cmd, unsigned long mfn)
{
    struct mmuext_op op = { .cmd = cmd };
    op.arg1.mfn = mfn;
    return HYPERVISOR_mmuext_op(&op, 1, NULL, DOMID_SELF);
}

/* One map; its status (the handle in *h when it is GNTST_okay). */
static int16_t map1(uint64_t addr, grant_ref_t ref, uint32_t flags, grant_handle_t *h)
{
    struct gnttab_map_grant_ref m = { .host_addr = addr, .flags = flags, .ref = ref, .dom = self };
    m.status = 99;
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    if (m.status == GNTST_okay && h)
        *h = m.handle;
    return m.status;
}

static int16_t unmap1(uint64_t addr, uint64_t bus, grant_handle_t h)
{
    struct gnttab_unmap_grant_ref u = { .host_addr = addr, .dev_bus_addr = bus, .handle = h };
    u.status = 99;
    CHECK_EQ(op1(GNTTABOP_unmap_grant_ref, &u), 0);
    return u.status;
}

static int16_t replace1(uint64_t addr, uint64_t new_addr, grant_handle_t h)
{
    struct gnttab_unmap_and_replace r = { .host_addr = addr, .new_addr = new_addr, .handle = h };
    r.status = 99;
    CHECK_EQ(op1(GNTTABOP_unmap_and_replace, &r), 0);
    return r.status;
}

#define GFLAGS(w) (PTE_FLAGS(w) | (1UL << 52))   /* a kernel grant mapping's PTE flags */

/* GNTTABOP_map_grant_ref at a virtual address whose PTE is present: as
 * Xen 4.17, the entry is replaced and the one it held loses its
 * references (Xen flushes nothing: the guest does).  The host address
 * need not be page-aligned.  The unmap takes any address whose entry maps
 * the frame as the grant was mapped. */
static void test_map_over(grant_ref_t rb, unsigned long mb)
{
    grant_entry_v1_t *t = minios_gnttab_entries();
    unsigned long ms = minios_gnttab_virt_to_mfn(spot);
    unsigned long orig = pte_of(spot);
    CHECK_EQ(orig & 0x000FFFFFFFFFF000UL, ms << 12);
    memset(spot, 0, PG);                     /* a valid (empty) L1 table, see below */
    grant_handle_t h = 0, h2 = 0;
    CHECK_EQ(map1((unsigned long)spot + 0x123, rb, GNTMAP_host_map, &h), GNTST_okay);
    CHECK_EQ(pte_of(spot), mb << 12 | GFLAGS(1));
    flush_va(spot);
    CHECK_EQ(spot[5], 0x22);
    spot[6] = 0x44;
    CHECK_EQ(page_b[6], 0x44);
    /* Our frame under spot lost its writable mapping's type and reference:
     * it can become a page table now. */
    CHECK_EQ(mmuext1(MMUEXT_PIN_L1_TABLE, ms), 0);
    CHECK_EQ(mmuext1(MMUEXT_UNPIN_TABLE, ms), 0);
    CHECK_EQ(t[rb].flags, GTF_permit_access | GTF_reading | GTF_writing);
    /* The same grant mapped over its own mapping: the first handle's entry
     * is gone, yet it unmaps the second's (same frame, writable): any
     * address whose entry maps the frame does, as in Xen. */
    CHECK_EQ(map1((unsigned long)spot, rb, GNTMAP_host_map, &h2), GNTST_okay);
    CHECK_EQ(pte_of(spot), mb << 12 | GFLAGS(1));
    CHECK_EQ(unmap1((unsigned long)spot + 0x456, 0, h), GNTST_okay);
    CHECK_EQ(pte_of(spot), 0);
    CHECK_EQ(unmap1((unsigned long)spot, 0, h2), GNTST_general_error);   /* nothing there */
    CHECK_EQ(t[rb].flags, GTF_permit_access | GTF_reading | GTF_writing); /* h2 still pins */
    /* h2 again through a new mapping of the frame, which it unmaps. */
    grant_handle_t h3 = 0;
    CHECK_EQ(map1((unsigned long)spot, rb, GNTMAP_host_map | GNTMAP_readonly, &h3), GNTST_okay);
    CHECK_EQ(pte_of(spot), mb << 12 | GFLAGS(0));
    CHECK_EQ(unmap1((unsigned long)spot, 0, h2), GNTST_general_error);   /* r/o: not h2's */
    CHECK_EQ(unmap1((unsigned long)spot, 0, h3), GNTST_okay);
    CHECK_EQ(map1((unsigned long)spot, rb, GNTMAP_host_map, &h3), GNTST_okay);
    CHECK_EQ(unmap1((unsigned long)spot, 0, h2), GNTST_okay);
    CHECK_EQ(unmap1((unsigned long)spot, 0, h3), GNTST_general_error);
    /* h3 is left without an entry: the grant stays in use until we die. */
    CHECK_EQ(t[rb].flags, GTF_permit_access | GTF_reading | GTF_writing);
    /* An entry the guest made read-only no longer matches a writable grant. */
    grant_handle_t h4 = 0;
    CHECK_EQ(map1((unsigned long)spot, rb, GNTMAP_host_map, &h4), GNTST_okay);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, mb << 12 | 1 | 0x20 | 0x40,
                                          UVMF_INVLPG), 0);
    CHECK_EQ(unmap1((unsigned long)spot, 0, h4), GNTST_general_error);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, mb << 12 | 3 | 0x20 | 0x40,
                                          UVMF_INVLPG), 0);
    CHECK_EQ(unmap1((unsigned long)spot, 0, h4), GNTST_okay);
    CHECK_EQ(pte_of(spot), 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orig, UVMF_INVLPG), 0);
    CHECK_EQ(spot[6], 0);
}

/* GNTMAP_contains_pte: host_addr is the machine address of the entry to
 * write, in an L1 table of ours; Xen's checks, each GNTST_general_error. */
static void test_contains_pte(grant_ref_t ra, grant_ref_t rb, unsigned long ma, unsigned long mb)
{
    grant_entry_v1_t *t = minios_gnttab_entries();
    unsigned long e2 = l1e_maddr((unsigned long)spot2);
    unsigned long orig2 = pte_of(spot2);
    spot2[1] = 0x55;
    const uint32_t CP = GNTMAP_host_map | GNTMAP_contains_pte;
    grant_handle_t h = 0, hr = 0;

    /* Into an empty entry, then read and written through it. */
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot2, 0, UVMF_INVLPG), 0);
    CHECK_EQ(map1(e2, rb, CP, &h), GNTST_okay);
    CHECK_EQ(pte_of(spot2), mb << 12 | GFLAGS(1));
    CHECK_EQ(spot2[5], 0x22);
    spot2[8] = 0x66;
    CHECK_EQ(page_b[8], 0x66);
    CHECK_EQ(t[rb].flags, GTF_permit_access | GTF_reading | GTF_writing);
    /* The unmap names the entry the same way; a linear address is taken as
     * a machine address (and misses), a misaligned one is refused. */
    unsigned long l4 = minios_gnttab_virt_to_mfn((void *)minios_start_info->pt_base);
    CHECK_EQ(unmap1((unsigned long)spot2, 0, h), GNTST_general_error);
    CHECK_EQ(unmap1(e2 + 4, 0, h), GNTST_general_error);
    CHECK_EQ(unmap1(mb << 12, 0, h), GNTST_general_error);     /* no L1 table */
    CHECK_EQ(unmap1(l4 << 12, 0, h), GNTST_general_error);     /* an L4 */
    CHECK_EQ(unmap1(0xFFFFFFFFF000UL, 0, h), GNTST_general_error);  /* no such frame */
    /* host_addr 0: the host half is not asked for; nothing goes. */
    CHECK_EQ(unmap1(0, 0, h), GNTST_okay);
    CHECK_EQ(pte_of(spot2), mb << 12 | GFLAGS(1));
    CHECK_EQ(t[rb].flags, GTF_permit_access | GTF_reading | GTF_writing);
    CHECK_EQ(unmap1(e2, 0, h), GNTST_okay);
    CHECK_EQ(pte_of(spot2), 0);
    CHECK_EQ(t[rb].flags, GTF_permit_access);

    /* Over a present entry (our own frame): replaced, read-only here. */
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot2, orig2, UVMF_INVLPG), 0);
    CHECK_EQ(spot2[1], 0x55);
    CHECK_EQ(map1(e2, ra, CP | GNTMAP_readonly | GNTMAP_application_map, &hr), GNTST_okay);
    CHECK_EQ(pte_of(spot2), ma << 12 | PTE_FLAGS(0) | 0x100);
    flush_va(spot2);
    CHECK_EQ(spot2[5], 0x11);
    CHECK_EQ(t[ra].flags, GTF_permit_access | GTF_readonly | GTF_reading);
    /* unmap_and_replace of a contains_pte mapping: no new_addr allowed;
     * with none it is an unmap. */
    CHECK_EQ(replace1(e2, (unsigned long)spot3, hr), GNTST_general_error);
    CHECK_EQ(pte_of(spot2), ma << 12 | PTE_FLAGS(0) | 0x100);
    CHECK_EQ(pte_of(spot3) & 1, 1);                 /* spot3 untouched */
    CHECK_EQ(replace1(e2, 0, hr), GNTST_okay);
    CHECK_EQ(pte_of(spot2), 0);
    CHECK_EQ(t[ra].flags, GTF_permit_access | GTF_readonly);

    /* Refusals: misaligned; a frame of ours that is no L1 table (a data
     * page, our L4); frames not ours; the grant's flags stay as they were. */
    const uint64_t bad[] = { e2 + 1, e2 + 4, mb << 12, (ma << 12) + 8, l4 << 12, 0,
                             0xFFFFFFFFF000UL, ~0UL - 7 };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ(map1(bad[i], rb, CP, NULL), GNTST_general_error);
        CHECK_EQ(map1(bad[i], ra, CP | GNTMAP_readonly, NULL), GNTST_general_error);
    }
    CHECK_EQ(t[rb].flags, GTF_permit_access);
    CHECK_EQ(t[ra].flags, GTF_permit_access | GTF_readonly);
    CHECK_EQ(pte_of(spot2), 0);
    /* contains_pte with a device mapping alone: no entry is written. */
    struct gnttab_map_grant_ref m = { .host_addr = 0, .ref = rb, .dom = self,
                                      .flags = GNTMAP_device_map | GNTMAP_contains_pte };
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    CHECK_EQ(m.status, GNTST_okay);
    CHECK_EQ(m.dev_bus_addr, (uint64_t)mb << 12);
    CHECK_EQ(unmap1(0, m.dev_bus_addr, m.handle), GNTST_okay);
    CHECK_EQ(t[rb].flags, GTF_permit_access);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot2, orig2, UVMF_INVLPG), 0);
    CHECK_EQ(spot2[1], 0x55);
}

/* GNTTABOP_unmap_and_replace (replace_grant_pv_mapping): the entry at
 * new_addr moves to host_addr's slot and new_addr's is cleared; new_addr
 * 0 is a plain unmap.  As Xen, new_addr's entry is taken first: if the
 * unmap then fails, it is lost. */
static void test_replace(grant_ref_t rb, unsigned long mb)
{
    grant_entry_v1_t *t = minios_gnttab_entries();
    unsigned long orig = pte_of(spot), orig2 = pte_of(spot2), orig3 = pte_of(spot3);
    spot2[2] = 0x77;
    spot3[2] = 0x78;
    grant_handle_t h = 0;

    /* new_addr's entry (spot2's own frame) replaces the grant's at spot. */
    CHECK_EQ(map1((unsigned long)spot, rb, GNTMAP_host_map, &h), GNTST_okay);
    flush_va(spot);
    CHECK_EQ(spot[5], 0x22);
    CHECK_EQ(replace1((unsigned long)spot, (unsigned long)spot2, h), GNTST_okay);
    CHECK_EQ(pte_of(spot), orig2);
    CHECK_EQ(pte_of(spot2), 0);
    CHECK_EQ(spot[2], 0x77);                        /* spot2's page, seen at spot */
    CHECK_EQ(t[rb].flags, GTF_permit_access);
    CHECK_EQ(replace1((unsigned long)spot, 0, h), GNTST_bad_handle);     /* gone */
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot2, orig2, UVMF_INVLPG), 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orig, UVMF_INVLPG), 0);

    /* new_addr 0: the slot is cleared.  new_addr with no entry: the same. */
    CHECK_EQ(map1((unsigned long)spot, rb, GNTMAP_host_map, &h), GNTST_okay);
    CHECK_EQ(replace1((unsigned long)spot, 0, h), GNTST_okay);
    CHECK_EQ(pte_of(spot), 0);
    CHECK_EQ(map1((unsigned long)spot, rb, GNTMAP_host_map, &h), GNTST_okay);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot2, 0, UVMF_INVLPG), 0);
    CHECK_EQ(replace1((unsigned long)spot, (unsigned long)spot2, h), GNTST_okay);
    CHECK_EQ(pte_of(spot), 0);
    CHECK_EQ(pte_of(spot2), 0);
    CHECK_EQ(t[rb].flags, GTF_permit_access);

    /* Refusals.  A new_addr with no L1 table, or in the hypervisor's
     * range: nothing changes. */
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot2, orig2, UVMF_INVLPG), 0);
    CHECK_EQ(map1((unsigned long)spot, rb, GNTMAP_host_map, &h), GNTST_okay);
    CHECK_EQ(replace1((unsigned long)spot, UNMAPPED, h), GNTST_general_error);
    CHECK_EQ(replace1((unsigned long)spot, HV_ADDR, h), GNTST_general_error);
    CHECK_EQ(pte_of(spot), mb << 12 | GFLAGS(1));
    /* A host_addr whose entry does not map the grant's frame: refused, and
     * new_addr's entry, taken first, is gone (Xen's order). */
    CHECK_EQ(replace1((unsigned long)spot3, (unsigned long)spot2, h), GNTST_general_error);
    CHECK_EQ(pte_of(spot2), 0);
    CHECK_EQ(pte_of(spot3), orig3);
    CHECK_EQ(pte_of(spot), mb << 12 | GFLAGS(1));
    CHECK_EQ(t[rb].flags, GTF_permit_access | GTF_reading | GTF_writing);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot2, orig2, UVMF_INVLPG), 0);
    CHECK_EQ(spot2[2], 0x77);
    /* host_addr and new_addr the same slot: the grant's entry is taken as
     * new_addr's, then host_addr holds nothing: refused, the entry gone. */
    CHECK_EQ(replace1((unsigned long)spot, (unsigned long)spot, h), GNTST_general_error);
    CHECK_EQ(pte_of(spot), 0);
    CHECK_EQ(t[rb].flags, GTF_permit_access | GTF_reading | GTF_writing);
    CHECK_EQ(replace1((unsigned long)spot, 0, 60000), GNTST_bad_handle);
    /* h has no entry left: an entry of our own that maps the frame
     * writable (spot3, by update_va_mapping) serves it, as in Xen.  In a
     * batch with a bad handle and a plain unmap. */
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot3, mb << 12 | 3 | 0x20 | 0x40,
                                          UVMF_INVLPG), 0);
    grant_handle_t h2 = 0;
    CHECK_EQ(map1((unsigned long)spot, rb, GNTMAP_host_map, &h2), GNTST_okay);
    struct gnttab_unmap_and_replace b[3] = {
        { .host_addr = (unsigned long)spot, .new_addr = 0, .handle = 60000, .status = 99 },
        { .host_addr = (unsigned long)spot3, .new_addr = (unsigned long)spot2, .handle = h,
          .status = 99 },
        { .host_addr = (unsigned long)spot, .new_addr = 0, .handle = h2, .status = 99 },
    };
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_unmap_and_replace, b, 3), 0);
    CHECK_EQ(b[0].status, GNTST_bad_handle);
    CHECK_EQ(b[1].status, GNTST_okay);
    CHECK_EQ(b[2].status, GNTST_okay);
    CHECK_EQ(pte_of(spot3), orig2);
    CHECK_EQ(pte_of(spot2), 0);
    CHECK_EQ(pte_of(spot), 0);
    CHECK_EQ(t[rb].flags, GTF_permit_access);
    CHECK_EQ(spot3[2], 0x77);                       /* spot2's page, seen at spot3 */
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_unmap_and_replace, (void *)HV_ADDR, 1),
             -XEN_EFAULT);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot2, orig2, UVMF_INVLPG), 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot3, orig3, UVMF_INVLPG), 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orig, UVMF_INVLPG), 0);
    CHECK_EQ(spot3[2], 0x78);
    CHECK_EQ(spot2[2], 0x77);
}

/* unmap_grant_ref's bus address, as Xen's unmap_common: checked only for
 * a device mapping (GNTST_bad_dev_addr, the mapping stays). */
static void test_bus_addr(grant_ref_t rb, unsigned long mb)
{
    struct gnttab_map_grant_ref m = { .ref = rb, .dom = self, .flags = GNTMAP_device_map };
    CHECK_EQ(op1(GNTTABOP_map_grant_ref, &m), 0);
    CHECK_EQ(m.status, GNTST_okay);
    CHECK_EQ(unmap1(0, (mb + 1) << 12, m.handle), GNTST_bad_dev_addr);
    CHECK_EQ(unmap1(0, mb << 12, m.handle), GNTST_okay);
    grant_handle_t h = 0;
    unsigned long orig = pte_of(spot);
    CHECK_EQ(map1((unsigned long)spot, rb, GNTMAP_host_map, &h), GNTST_okay);
    CHECK_EQ(unmap1((unsigned long)spot, (mb + 1) << 12, h), GNTST_okay);    /* ignored */
    CHECK_EQ(pte_of(spot), 0);
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)spot, orig, UVMF_INVLPG), 0);
}

static void test_map_forms(void)
{
    unsigned long ma = minios_gnttab_virt_to_mfn(page_a), mb = minios_gnttab_virt_to_mfn(page_b);
    grant_ref_t ra = minios_gnttab_grant_access(self, ma, 1);
    grant_ref_t rb = minios_gnttab_grant_access(self, mb, 0);
    memset(page_a, 0x11, PG);
    memset(page_b, 0x22, PG);
    test_contains_pte(ra, rb, ma, mb);
    test_replace(rb, mb);
    test_bus_addr(rb, mb);
    CHECK_EQ(minios_gnttab_end_access(ra), 0);
    CHECK_EQ(minios_gnttab_end_access(rb), 0);
    /* Last: it leaves a handle without an entry, the grant busy. */
    grant_ref_t rz = minios_gnttab_grant_access(self, mb, 0);
    test_map_over(rz, mb);
    CHECK_EQ(minios_gnttab_end_access(rz), -XEN_EBUSY);
    printf("map forms: over present entries, contains_pte, unmap_and_replace checked\n");
}

/* op implicit: a grant mapping's PTE removed by update_va_mapping
 * instead of GNTTABOP_unmap_grant_ref.  As on a release build of Xen
 * 4.17 (its check exists only in debug builds): the update succeeds, the
 * grant can no longer be unmapped through that address and stays active
 * (the granter cannot end it), and the domain's death cleans it up (the
 * runner checks that every frame comes back). */
static void test_implicit_unmap(void)
{
    grant_entry_v1_t *t = minios_gnttab_entries();
    unsigned long mb = minios_gnttab_virt_to_mfn(page_b);
    grant_ref_t rb = minios_gnttab_grant_access(self, mb, 0);
    grant_handle_t hb;
    char *pb = minios_gnttab_map(self, rb, 0, &hb);
    if (!pb) {
        test_fail("map of our rw grant: status %d", minios_gnttab_last_status());
        return;
    }
    printf("implicit: clearing the PTE of a grant mapping with update_va_mapping\n");
    CHECK_EQ(HYPERVISOR_update_va_mapping((unsigned long)pb, 0, UVMF_INVLPG), 0);
    struct gnttab_unmap_grant_ref u = { .host_addr = (unsigned long)pb, .handle = hb };
    CHECK_EQ(op1(GNTTABOP_unmap_grant_ref, &u), 0);
    CHECK_EQ(u.status, GNTST_general_error);
    CHECK_EQ(t[rb].flags, GTF_permit_access | GTF_reading | GTF_writing);
    CHECK_EQ(minios_gnttab_end_access(rb), -XEN_EBUSY);
    printf("implicit: the grant stays active until the domain dies\n");
}

int main(int argc, char **argv)
{
    char extra[XEN_EXTRAVERSION_LEN] = "";
    HYPERVISOR_xen_version(XENVER_extraversion, extra);
    on_keel = strstr(extra, "keel") != NULL;
    self = self_id();
    printf("domain %u on %s\n", self, on_keel ? "Keel" : "Xen");
    test_sizes();
    test_versions();
    if (argc > 1 && !strcmp(argv[argc - 1], "implicit")) {
        test_implicit_unmap();
        return test_finish();
    }
    if (minios_gnttab_entries()) {
        test_copy();
        test_map();
        test_map_forms();
    } else {
        test_fail("no grant table");
    }
    return test_finish();
}
