/* Guest test: preemptible hypercalls.  vCPU 0 runs batches far longer
 * than a time slice (mmu_update of 400,000 requests, mmuext_op of 300,000,
 * a GNTTABOP_copy of 150,000; a decrease_reservation and a populate_physmap
 * of 2,000 extents) while vCPU 1, a witness on the same pCPU, spins and
 * records the longest gap between two of its loop iterations.  Each batch
 * must give exactly Xen's result as if it had run whole (done counts,
 * per-element statuses, where a bad element stops it, the final state),
 * and must have been preempted: the witness's longest gap stays well under
 * the call's length (under 35% of it; a call that holds its pCPU to the end
 * shows a gap as long as the call, over half of what vCPU 0 measures). */
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/mm.h>
#include <minios/sched.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xen/memory.h>
#include "report.h"
#include "ptwalk.h"
#include "vcpuctx.h"

#define MS 1000000ULL

static volatile char target[4096] __attribute__((aligned(4096)));
static char src_page[4096] __attribute__((aligned(4096)));
static char dst_page[4096] __attribute__((aligned(4096)));
static char vcpu1_stack[16384] __attribute__((aligned(16)));
static struct vcpu_guest_context ctxt;
static volatile uint64_t max_gap, witness_loops;
static volatile int reset_gap;

static inline uint64_t tsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static void witness(void)
{
    uint64_t last = tsc();
    for (;;) {
        uint64_t t = tsc();
        if (reset_gap) {
            max_gap = 0;
            reset_gap = 0;
        } else if (t - last > max_gap) {
            max_gap = t - last;
        }
        last = t;
        witness_loops++;
    }
}

/* Starts a measurement once the witness has run since the last one. */
static uint64_t call_begin(void)
{
    reset_gap = 1;
    for (unsigned i = 0; reset_gap && i < 1000; i++)
        minios_sleep_ns(MS);
    return tsc();
}

static void call_end(const char *what, uint64_t t0)
{
    uint64_t len = tsc() - t0;
    minios_sleep_ns(30 * MS);            /* the witness runs again */
    uint64_t gap = max_gap;
    /* Held for the whole call the witness misses at least half of len
     * (len also holds its catch-up after the call); preempted, it misses
     * about one slice at a time. */
    if (gap * 100 > len * 35)
        test_fail("%s: the witness was held off for %lu%% of the call "
                  "(not preempted?)", what, (unsigned long)(gap * 100 / len));
    else
        printf("preempt: %s: longest witness stall %lu%% of the call\n", what,
               (unsigned long)(gap * 100 / len));
}

static void test_mmu_update(void)
{
    enum { N = 400000, BAD = 300001 };
    struct mmu_update *req = malloc(N * sizeof(*req));
    if (!req) {
        test_error("no memory for the requests");
        return;
    }
    unsigned long ma = l1e_maddr((unsigned long)target);
    unsigned long mfn = minios_virt_to_mfn((const void *)target);
    for (unsigned i = 0; i < N; i++) {
        req[i].ptr = ma | MMU_NORMAL_PT_UPDATE;
        req[i].val = mfn << 12 | 0x67 | ((i & 1) ? 0 : 2);   /* rw on even */
    }
    req[N - 1].val = mfn << 12 | 0x67;                       /* ends writable */
    target[0] = 1;
    unsigned int done = 12345;
    uint64_t t0 = call_begin();
    long rc = HYPERVISOR_mmu_update(req, N, &done, DOMID_SELF);
    call_end("mmu_update of 400000", t0);
    CHECK_EQ(rc, 0);
    CHECK_EQ(done, N);
    HYPERVISOR_mmuext_op(&(struct mmuext_op){ .cmd = MMUEXT_TLB_FLUSH_LOCAL }, 1, NULL, DOMID_SELF);
    target[1] = 2;                                           /* writable again */
    CHECK_EQ(target[1], 2);
    /* A bad request after many pieces: the batch stops there, as Xen. */
    req[BAD].val = 0x100UL << 12 | 0x67;                     /* a frame not ours */
    done = 0;
    rc = HYPERVISOR_mmu_update(req, N, &done, DOMID_SELF);
    CHECK_EQ(rc, -XEN_EINVAL);
    CHECK_EQ(done, BAD);
    /* Put the entry back (the last good request left it read-only). */
    req[0].val = mfn << 12 | 0x67;
    CHECK_EQ(HYPERVISOR_mmu_update(req, 1, NULL, DOMID_SELF), 0);
    HYPERVISOR_mmuext_op(&(struct mmuext_op){ .cmd = MMUEXT_TLB_FLUSH_LOCAL }, 1, NULL, DOMID_SELF);
    target[2] = 3;
    free(req);
}

static void test_mmuext(void)
{
    enum { N = 300000 };
    struct mmuext_op *ops = calloc(N, sizeof(*ops));
    if (!ops) {
        test_error("no memory for the ops");
        return;
    }
    for (unsigned i = 0; i < N; i++) {
        ops[i].cmd = MMUEXT_INVLPG_LOCAL;
        ops[i].arg1.linear_addr = (unsigned long)target;
    }
    unsigned int done = 0;
    uint64_t t0 = call_begin();
    long rc = HYPERVISOR_mmuext_op(ops, N, &done, DOMID_SELF);
    call_end("mmuext_op of 300000", t0);
    CHECK_EQ(rc, 0);
    CHECK_EQ(done, N);
    ops[N - 7].cmd = 999;                                    /* unknown: -ENOSYS */
    done = 0;
    CHECK_EQ(HYPERVISOR_mmuext_op(ops, N, &done, DOMID_SELF), -XEN_ENOSYS);
    CHECK_EQ(done, N - 7);
    free(ops);
}

static void test_grant_copy(void)
{
    enum { N = 150000 };
    struct gnttab_copy *ops = calloc(N, sizeof(*ops));
    if (!ops) {
        test_error("no memory for the copies");
        return;
    }
    domid_t self = DOMID_SELF;
    if (minios_gnttab_init() || !minios_gnttab_entries()) {
        test_error("no grant table");
        return;
    }
    grant_ref_t ref = minios_gnttab_grant_access(minios_domid(), minios_virt_to_mfn(src_page), 1);
    for (unsigned i = 0; i < 4096; i++)
        src_page[i] = (char)(i * 7);
    for (unsigned i = 0; i < N; i++) {
        ops[i].source.u.ref = ref;
        ops[i].source.domid = minios_domid();
        ops[i].source.offset = (uint16_t)((i * 8) % 4096);
        ops[i].dest.u.gmfn = minios_virt_to_mfn(dst_page);
        ops[i].dest.domid = self;
        ops[i].dest.offset = ops[i].source.offset;
        ops[i].len = 8;
        ops[i].flags = GNTCOPY_source_gref;
        ops[i].status = 99;
    }
    ops[133333].source.u.ref = 9999;                          /* bad reference */
    uint64_t t0 = call_begin();
    long rc = HYPERVISOR_grant_table_op(GNTTABOP_copy, ops, N);
    call_end("GNTTABOP_copy of 150000", t0);
    CHECK_EQ(rc, 0);
    unsigned ok = 0;
    for (unsigned i = 0; i < N; i++) {
        if (i == 133333) {
            CHECK_EQ(ops[i].status, GNTST_bad_gntref);
            continue;
        }
        ok += ops[i].status == GNTST_okay;
    }
    if (ok != N - 1)
        test_fail("%u of %u copies succeeded; the first status is %d", ok, N - 1,
                  ops[0].status);
    if (memcmp(src_page, dst_page, 4096))
        test_fail("the copies did not reach the destination");
    minios_gnttab_end_access(ref);
    free(ops);
}

/* decrease_reservation then populate_physmap of 2,000 single frames. */
static void test_memory_op(void)
{
    enum { N = 2000 };
    char *pages = minios_alloc_pages(N);
    xen_pfn_t *list = calloc(N, sizeof(*list));
    struct mmu_update *req = calloc(N, sizeof(*req));
    if (!pages || !list || !req) {
        test_error("no memory for the reservation test");
        return;
    }
    unsigned long *p2m = (unsigned long *)minios_start_info->mfn_list;
    for (unsigned i = 0; i < N; i++) {
        char *va = pages + (unsigned long)i * 4096;
        list[i] = minios_virt_to_mfn(va);
        req[i].ptr = l1e_maddr((unsigned long)va) | MMU_NORMAL_PT_UPDATE;
        req[i].val = 0;
    }
    CHECK_EQ(HYPERVISOR_mmu_update(req, N, NULL, DOMID_SELF), 0);   /* unmap them */
    HYPERVISOR_mmuext_op(&(struct mmuext_op){ .cmd = MMUEXT_TLB_FLUSH_LOCAL }, 1, NULL, DOMID_SELF);
    long before = HYPERVISOR_memory_op(XENMEM_current_reservation, &(domid_t){ DOMID_SELF });
    struct xen_memory_reservation r = { .nr_extents = N, .extent_order = 0, .domid = DOMID_SELF };
    set_xen_guest_handle(r.extent_start, list);
    CHECK_EQ(HYPERVISOR_memory_op(XENMEM_decrease_reservation, &r), N);
    CHECK_EQ(HYPERVISOR_memory_op(XENMEM_current_reservation, &(domid_t){ DOMID_SELF }),
             before - N);
    /* Back at the same pseudo-physical frames. */
    for (unsigned i = 0; i < N; i++)
        list[i] = ((unsigned long)pages >> 12) + i;
    CHECK_EQ(HYPERVISOR_memory_op(XENMEM_populate_physmap, &r), N);
    CHECK_EQ(HYPERVISOR_memory_op(XENMEM_current_reservation, &(domid_t){ DOMID_SELF }), before);
    for (unsigned i = 0; i < N; i++) {
        unsigned long pfn = ((unsigned long)pages >> 12) + i;
        p2m[pfn] = list[i];
        req[i].val = list[i] << 12 | 0x67;
    }
    CHECK_EQ(HYPERVISOR_mmu_update(req, N, NULL, DOMID_SELF), 0);   /* map them again */
    HYPERVISOR_mmuext_op(&(struct mmuext_op){ .cmd = MMUEXT_TLB_FLUSH_LOCAL }, 1, NULL, DOMID_SELF);
    for (unsigned i = 0; i < N; i++)
        if (pages[(unsigned long)i * 4096] != 0)
            test_fail("new frame %u not zeroed", i);
    minios_free_pages(pages, N);
    free(list);
    free(req);
}

int main(void)
{
    vcpu_ctx_init(&ctxt, witness, vcpu1_stack, sizeof(vcpu1_stack));
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &ctxt), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), 0);
    test_mmu_update();
    test_mmuext();
    test_grant_copy();
    test_memory_op();
    printf("preempt: every batch completed as one call\n");
    HYPERVISOR_vcpu_op(VCPUOP_down, 1, NULL);
    return test_finish();
}
