/* Guest test: a stale translation on another pCPU must not reach a frame the
 * hypervisor has reused.  vCPU 1 spins on another pCPU reading a page of
 * ours through a translation it has cached.  vCPU 0 removes the page's only
 * mapping with UVMF_INVLPG (a local flush: vCPU 1 keeps its TLB entry, as
 * tests/tlbflush shows), gives the frame back with decrease_reservation and
 * makes the hypervisor allocate (the first grant-table operation creates the
 * domain's table; the buddy allocator is LIFO, so it very likely takes that
 * frame).  As Xen, the hypervisor must flush the freed frame from every TLB
 * before handing it out: vCPU 1's next read faults (#PF, caught by its own
 * handler).  If vCPU 1 reads anything but our pattern, it is reading the
 * hypervisor's memory (FAILURE); if it still reads the pattern after a
 * second, the frame was not reused and the test proves nothing (ERROR). */
#include <stdio.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <xen/memory.h>
#include "report.h"
#include "ptwalk.h"
#include "vcpuctx.h"

#define PATTERN 0x5eed0fba5eed0fbaUL

/* A page of .bss of its own, mapped once (va = pfn << 12). */
static volatile unsigned long victim[512] __attribute__((aligned(4096)));
static char vcpu1_stack[16384] __attribute__((aligned(16)));
static struct vcpu_guest_context ctxt;

enum { V1_READING, V1_SAW_OTHER, V1_FAULTED };
static volatile unsigned long v1_reads, v1_value, v1_cr2;
static volatile int v1_state;

static void vcpu1_main(void)
{
    for (;;) {
        unsigned long v = victim[0];
        if (v != PATTERN) {
            v1_value = v;
            v1_state = V1_SAW_OTHER;
            for (;;)
                __asm__ volatile("pause");
        }
        v1_reads++;
    }
}

/* Where vCPU 1's #PF handler resumes it (on an aligned stack). */
__attribute__((used, noreturn)) static void vcpu1_faulted(void)
{
    /* vCPU 1's vcpu_info is the second one in shared_info. */
    v1_cr2 = minios_shared_info ? minios_shared_info->vcpu_info[1].arch.cr2 : 0;
    v1_state = V1_FAULTED;
    for (;;)
        __asm__ volatile("pause");
}

/* vCPU 1's #PF entry (its own trap table, set by VCPUOP_initialise): the
 * hypervisor's bounce frame is rcx, r11, error code, rip, cs, rflags, rsp,
 * ss; drop rcx, r11 and the error code, point rip at vcpu1_after_fault and
 * return through HYPERVISOR_iret (flags 0, rip, cs, rflags, rsp, ss). */
_Static_assert(__HYPERVISOR_iret == 23, "iret stub offset below");
void vcpu1_pf_entry(void);
__asm__(".text\n"
        ".balign 16\n"
        "vcpu1_pf_entry:\n"
        "\tpopq %rcx\n"
        "\tpopq %r11\n"
        "\taddq $8, %rsp\n"
        "\tleaq vcpu1_after_fault(%rip), %rax\n"
        "\tmovq %rax, (%rsp)\n"
        "\tpushq $0\n"
        "\tjmp hypercall_page + 23 * 32\n"
        "vcpu1_after_fault:\n"
        "\tandq $-16, %rsp\n"
        "\tcall vcpu1_faulted\n");

static int wait_reads(unsigned long n, uint64_t ns)
{
    unsigned long from = v1_reads;
    uint64_t end = minios_monotonic_ns() + ns;
    while (minios_monotonic_ns() < end)
        if (v1_reads - from >= n || v1_state != V1_READING)
            return v1_state == V1_READING;
    return 0;
}

int main(void)
{
    const unsigned long *p2m = (const unsigned long *)minios_start_info->mfn_list;
    unsigned long va = (unsigned long)victim, mfn = p2m[va >> 12];

    if (m2p[mfn] != va >> 12) {
        test_error("victim page: m2p[%#lx] = %#lx, expected %#lx", mfn, m2p[mfn], va >> 12);
        return test_finish();
    }
    for (int i = 0; i < 512; i++)
        victim[i] = PATTERN;

    vcpu_ctx_init(&ctxt, vcpu1_main, vcpu1_stack, sizeof(vcpu1_stack));
    ctxt.trap_ctxt[0] = (struct trap_info){ .vector = 14, .flags = 0, .cs = FLAT_KERNEL_CS,
                                            .address = (unsigned long)vcpu1_pf_entry };
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &ctxt), 0);
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL), 0);
    if (!wait_reads(1000, 2000000000ULL)) {
        test_error("vCPU 1 never read the page (state %d)", v1_state);
        return test_finish();
    }

    /* Our mapping goes, flushed here only: vCPU 1 goes on reading. */
    CHECK_EQ(HYPERVISOR_update_va_mapping(va, 0, UVMF_INVLPG), 0);
    if (!wait_reads(1000, 1000000000ULL)) {
        test_error("inconclusive: vCPU 1 lost its translation before the frame was freed "
                   "(state %d)", v1_state);
        return test_finish();
    }

    xen_pfn_t f = mfn;
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0, .domid = DOMID_SELF };
    set_xen_guest_handle(r.extent_start, &f);
    long dec = HYPERVISOR_memory_op(XENMEM_decrease_reservation, &r);
    struct gnttab_query_size q = { .dom = DOMID_SELF };
    long qrc = dec == 1 ? HYPERVISOR_grant_table_op(GNTTABOP_query_size, &q, 1) : -1;
    if (dec != 1 || qrc || q.status != GNTST_okay) {
        test_error("setup: decrease_reservation %ld, query_size %ld/%d", dec, qrc, q.status);
        return test_finish();
    }

    unsigned long before = v1_reads;
    uint64_t end = minios_monotonic_ns() + 1000000000ULL;
    while (v1_state == V1_READING && minios_monotonic_ns() < end)
        ;
    switch (v1_state) {
    case V1_FAULTED:
        if (v1_cr2 != va)
            test_fail("vCPU 1: #PF at %#lx, expected %#lx", v1_cr2, va);
        else
            printf("stale-smp: vCPU 1 faults on the old address once frame %#lx is freed\n",
                   mfn);
        break;
    case V1_SAW_OTHER:
        test_fail("stale translation reaches a reused frame: vCPU 1 read %#lx through the "
                  "unmapped address (frame %#lx, now the hypervisor's)", v1_value, mfn);
        break;
    default:
        test_error("inconclusive: vCPU 1 still reads our pattern %lu times after the free "
                   "(frame %#lx not reused)", v1_reads - before, mfn);
    }
    return test_finish();
}
