/* Benchmark guest for preemptible hypercalls (issue 9), in guest ns under
 * -icount (1 ns = 1 guest instruction).  Two domains share one pCPU:
 *   op=witness  sleeps 1 ms at a time for dur= ms and reports the worst
 *               lateness of its timer (wake-up time past the deadline);
 *   op=mmu      one mmu_update of 1,000,000 requests (an L1 entry toggled
 *               between writable and read-only);
 *   op=grant    one GNTTABOP_copy of 100,000 ops, then one
 *               GNTTABOP_map_grant_ref of 32,000 device mappings and one
 *               GNTTABOP_unmap_grant_ref of them (self grants);
 *   op=idle     nothing: with a large mem=, its destruction at exit is
 *               what the witness sees.
 * The loaders wait 500 ms for the witness to start, then print how long
 * their calls took; a call that held its pCPU
 * to the end would make the witness as late as the call is long. */
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../tests/common/ptwalk.h"

static volatile char target[4096] __attribute__((aligned(4096)));
static char page[4096] __attribute__((aligned(4096)));

static void witness(unsigned long dur_ms)
{
    uint64_t start = minios_monotonic_ns(), worst_at = 0;
    uint64_t end = start + dur_ms * 1000000ULL, worst = 0, n = 0;
    while (minios_monotonic_ns() < end) {
        uint64_t deadline = minios_monotonic_ns() + 1000000ULL;
        minios_sleep_ns(1000000ULL);
        uint64_t now = minios_monotonic_ns();
        if (now > deadline && now - deadline > worst) {
            worst = now - deadline;
            worst_at = now;
        }
        n++;
    }
    printf("bench: stall_worst_timer_lateness_ns=%llu wakeups=%llu (from %llu ms, worst at %llu ms)\n",
           (unsigned long long)worst, (unsigned long long)n,
           (unsigned long long)(start / 1000000), (unsigned long long)(worst_at / 1000000));
}

static void report(const char *what, uint64_t t0, long rc)
{
    printf("bench: stall_%s_call_ns=%llu rc=%ld\n", what,
           (unsigned long long)(minios_monotonic_ns() - t0), rc);
}

static void mmu(void)
{
    enum { N = 1000000 };
    struct mmu_update *req = malloc(N * sizeof(*req));
    if (!req) {
        printf("bench: stall_mmu: no memory\n");
        return;
    }
    unsigned long ma = l1e_maddr((unsigned long)target);
    unsigned long mfn = minios_virt_to_mfn((const void *)target);
    for (unsigned i = 0; i < N; i++) {
        req[i].ptr = ma | MMU_NORMAL_PT_UPDATE;
        req[i].val = mfn << 12 | 0x67 | ((i & 1) ? 2 : 0);   /* ends writable */
    }
    target[0] = 1;
    unsigned int done = 0;
    uint64_t t0 = minios_monotonic_ns();
    printf("bench: stall_mmu starts at %llu ms\n", (unsigned long long)(t0 / 1000000));
    long rc = HYPERVISOR_mmu_update(req, N, &done, DOMID_SELF);
    report("mmu_update_1000000", t0, rc ? rc : (long)done);
}

static void grant(void)
{
    enum { NCOPY = 100000, NMAP = 32000, NREF = 256 };
    if (minios_gnttab_init()) {
        printf("bench: stall_grant: no grant table\n");
        return;
    }
    domid_t self = minios_domid();
    unsigned long mfn = minios_virt_to_mfn(page);
    grant_ref_t refs[NREF];
    for (unsigned i = 0; i < NREF; i++)
        refs[i] = minios_gnttab_grant_access(self, mfn, 1);
    struct gnttab_copy *c = calloc(NCOPY, sizeof(*c));
    struct gnttab_map_grant_ref *m = calloc(NMAP, sizeof(*m));
    struct gnttab_unmap_grant_ref *u = calloc(NMAP, sizeof(*u));
    if (!c || !m || !u) {
        printf("bench: stall_grant: no memory\n");
        return;
    }
    for (unsigned i = 0; i < NCOPY; i++) {
        c[i].source.u.ref = refs[i % NREF];
        c[i].source.domid = self;
        c[i].dest.u.gmfn = minios_virt_to_mfn((const void *)target);
        c[i].dest.domid = DOMID_SELF;
        c[i].len = 64;
        c[i].flags = GNTCOPY_source_gref;
    }
    uint64_t t0 = minios_monotonic_ns();
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_copy, c, NCOPY);
    report("grant_copy_100000", t0, rc);
    for (unsigned i = 0; i < NMAP; i++) {
        m[i].ref = refs[i % NREF];
        m[i].dom = self;
        m[i].flags = GNTMAP_device_map | GNTMAP_readonly;
    }
    t0 = minios_monotonic_ns();
    rc = HYPERVISOR_grant_table_op(GNTTABOP_map_grant_ref, m, NMAP);
    report("grant_map_32000", t0, rc);
    unsigned bad = 0;
    for (unsigned i = 0; i < NMAP; i++) {
        bad += m[i].status != GNTST_okay;
        u[i].handle = m[i].handle;
        u[i].dev_bus_addr = m[i].dev_bus_addr;
    }
    t0 = minios_monotonic_ns();
    rc = HYPERVISOR_grant_table_op(GNTTABOP_unmap_grant_ref, u, NMAP);
    report("grant_unmap_32000", t0, rc);
    for (unsigned i = 0; i < NMAP; i++)
        bad += u[i].status != GNTST_okay;
    if (bad)
        printf("bench: stall_grant: %u maps or unmaps failed\n", bad);
    for (unsigned i = 0; i < NREF; i++)
        minios_gnttab_end_access(refs[i]);
}

int main(int argc, char **argv)
{
    const char *op = "";
    unsigned long dur = 3000;
    for (int i = 1; i < argc; i++) {
        if (!strncmp(argv[i], "op=", 3))
            op = argv[i] + 3;
        else if (!strncmp(argv[i], "dur=", 4))
            dur = strtoul(argv[i] + 4, NULL, 10);
    }
    if (strcmp(op, "witness"))
        minios_sleep_ns(500000000ULL);   /* the witness is in its loop first */
    if (!strcmp(op, "witness"))
        witness(dur);
    else if (!strcmp(op, "mmu"))
        mmu();
    else if (!strcmp(op, "grant"))
        grant();
    /* Exit (and be destroyed) only after the witness has finished: the
     * destruction is measured on its own (op=idle with a big mem=). */
    if (strcmp(op, "witness"))
        minios_sleep_ns(dur * 1000000ULL);
    return 0;
}
