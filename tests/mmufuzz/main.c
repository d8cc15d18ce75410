/* Guest test: 100,000 random PV MMU, memory and grant operations from one
 * domain — random frames (its own, other domains', the hypervisor's),
 * random flags, random commands — aimed at a private page table and a
 * scratch mapping so that the fuzzer itself survives.  The hypervisor must
 * stay up, every result must be a success or a Xen errno, and when the
 * domains are gone every frame must be back (the runner checks). */
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <stdio.h>
#include <string.h>
#include <xen/grant_table.h>
#include <xen/memory.h>
#include "report.h"

#define OPS 100000

static char scratch[4096] __attribute__((aligned(4096)));
static char ltab[4096] __attribute__((aligned(4096)));
static uint64_t state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static unsigned long *p2m(void)
{
    return (unsigned long *)minios_start_info->mfn_list;
}

/* A frame: one of ours, one of the first frames of the machine (the
 * hypervisor, firmware, other domains), or anything. */
static unsigned long any_mfn(void)
{
    switch (rnd() % 4) {
    case 0: return p2m()[rnd() % minios_start_info->nr_pages];
    case 1: return rnd() % 0x400;
    case 2: return rnd() % 0x8000;
    default: return rnd() & 0xfffffffffUL;
    }
}

static unsigned long any_pte(void)
{
    return (any_mfn() << 12) | (rnd() & 0xfff) | ((rnd() & 1) ? (1UL << 63) : 0) |
           ((rnd() % 16 == 0) ? (rnd() & 0x7ff0000000000000UL) : 0);
}

int main(void)
{
    unsigned long counts[4] = { 0 };   /* ok, EINVAL, other errno, weird */
    unsigned long scratch_pte = (p2m()[(unsigned long)scratch >> 12] << 12) | 0x67;
    unsigned long lt = p2m()[(unsigned long)ltab >> 12];
    /* The private table: unmap ltab, pin it as an L1 (not linked). */
    _hypercall3(__HYPERVISOR_update_va_mapping, ltab, 0, UVMF_INVLPG);
    struct mmuext_op pin = { .cmd = MMUEXT_PIN_L1_TABLE };
    pin.arg1.mfn = lt;
    long rc = _hypercall4(__HYPERVISOR_mmuext_op, &pin, 1, NULL, DOMID_SELF);
    if (rc)
        test_error("cannot pin the private L1: %ld", rc);

    for (unsigned i = 0; i < OPS; i++) {
        long r = 0;
        switch (rnd() % 8) {
        case 0: case 1: {   /* writes into the private table, or anywhere not live */
            struct mmu_update u[4];
            unsigned n = 1 + rnd() % 4;
            for (unsigned k = 0; k < n; k++) {
                unsigned long tgt = (rnd() % 4) ? lt : any_mfn();
                u[k].ptr = (tgt << 12) + (rnd() % 4096) + (rnd() % 3);
                u[k].val = any_pte();
                if (tgt != lt && (rnd() % 2))
                    u[k].ptr = (tgt << 12) | MMU_MACHPHYS_UPDATE;
            }
            /* Never touch our own live tables or data pages blindly. */
            int live = 0;
            for (unsigned k = 0; k < n; k++) {
                unsigned long m = u[k].ptr >> 12;
                for (unsigned long p = 0; p < minios_start_info->nr_pages && !live; p++)
                    if (p2m()[p] == m && m != lt && (u[k].ptr & 3) != MMU_MACHPHYS_UPDATE)
                        live = 1;
            }
            if (live)
                continue;
            r = _hypercall4(__HYPERVISOR_mmu_update, u, n, NULL,
                            (rnd() % 8) ? DOMID_SELF : (domid_t)(rnd() % 4));
            break;
        }
        case 2:             /* the scratch mapping */
            r = _hypercall3(__HYPERVISOR_update_va_mapping, scratch, any_pte(), rnd() % 8);
            _hypercall3(__HYPERVISOR_update_va_mapping, scratch, scratch_pte, UVMF_INVLPG);
            break;
        case 3: {           /* pins and unpins of anything, flushes */
            struct mmuext_op op = { .cmd = (unsigned)(rnd() % 24) };
            if (op.cmd == MMUEXT_NEW_BASEPTR || op.cmd == MMUEXT_NEW_USER_BASEPTR)
                op.cmd = MMUEXT_TLB_FLUSH_LOCAL;
            op.arg1.mfn = any_mfn();
            if (op.cmd == MMUEXT_UNPIN_TABLE && (op.arg1.mfn == lt ||
                op.arg1.mfn == p2m()[minios_start_info->pt_base >> 12]))
                op.arg1.mfn = any_mfn() + 0x100000;
            if (op.cmd == MMUEXT_CLEAR_PAGE || op.cmd == MMUEXT_COPY_PAGE) {
                /* Never our live frames: the scratch frame, or not ours. */
                op.arg2.src_mfn = any_mfn();
                for (unsigned long p = 0; p < minios_start_info->nr_pages; p++)
                    if (p2m()[p] == op.arg1.mfn)
                        op.arg1.mfn = (rnd() % 2) ? scratch_pte >> 12 : any_mfn() + 0x100000;
            }
            r = _hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF);
            if (r == 0 && op.cmd <= MMUEXT_PIN_L4_TABLE) {
                op.cmd = MMUEXT_UNPIN_TABLE;
                _hypercall4(__HYPERVISOR_mmuext_op, &op, 1, NULL, DOMID_SELF);
            }
            break;
        }
        case 4: {           /* memory_op with random frames and orders */
            xen_pfn_t f = any_mfn();
            struct xen_memory_reservation res = {
                .nr_extents = 1 + rnd() % 2, .extent_order = (unsigned)(rnd() % 3),
                .domid = (rnd() % 4) ? DOMID_SELF : (domid_t)(rnd() % 8) };
            set_xen_guest_handle(res.extent_start, &f);
            unsigned cmd = (rnd() % 2) ? XENMEM_populate_physmap : XENMEM_increase_reservation;
            if (rnd() % 4 == 0)
                cmd = (unsigned)(rnd() % 30);
            if (cmd == XENMEM_decrease_reservation)
                cmd = XENMEM_maximum_ram_page;   /* would free our live frames */
            r = _hypercall2(__HYPERVISOR_memory_op, cmd, &res);
            /* Counts and sizes are positive results. */
            if (r > 0 && (cmd == XENMEM_populate_physmap || cmd == XENMEM_increase_reservation)) {
                res.extent_order = 0;
                res.nr_extents = 1;
                _hypercall2(__HYPERVISOR_memory_op, XENMEM_decrease_reservation, &res);
            }
            r = r > 0 ? 0 : r;
            break;
        }
        case 5: {           /* grant table ops with random arguments */
            unsigned char buf[64];
            for (unsigned k = 0; k < sizeof(buf); k++)
                buf[k] = (unsigned char)rnd();
            unsigned cmd = (unsigned)(rnd() % 14);
            if (cmd == GNTTABOP_map_grant_ref) {
                struct gnttab_map_grant_ref *m = (void *)buf;
                m->host_addr = (unsigned long)scratch;
            }
            r = _hypercall3(__HYPERVISOR_grant_table_op, cmd, buf, 1 + rnd() % 2);
            break;
        }
        default: {          /* pointers into the hypervisor and unmapped memory */
            unsigned long bad = (rnd() % 2) ? 0xFFFF830000100000UL + (rnd() & 0xffff)
                                            : 0x40000000UL + (rnd() & 0xfffff);
            unsigned nr = (unsigned)(rnd() % 4);
            unsigned hc[] = { __HYPERVISOR_mmu_update, __HYPERVISOR_mmuext_op,
                              __HYPERVISOR_memory_op, __HYPERVISOR_grant_table_op };
            if (hc[nr] == __HYPERVISOR_memory_op || hc[nr] == __HYPERVISOR_grant_table_op) {
                r = _hypercall3(hc[nr], rnd() % 8, bad, 1);
                r = r > 0 ? 0 : r;   /* e.g. maximum_ram_page ignores the pointer */
            }
            else
                r = _hypercall4(hc[nr], bad, 1 + rnd() % 8, bad, DOMID_SELF);
        }
        }
        if (r == 0)
            counts[0]++;
        else if (r == -XEN_EINVAL)
            counts[1]++;
        else if (r < 0 && r > -200)
            counts[2]++;
        else
            counts[3]++;
    }
    _hypercall3(__HYPERVISOR_update_va_mapping, scratch, scratch_pte, UVMF_INVLPG);
    if (counts[3])
        test_fail("%lu results that are neither 0 nor an errno", counts[3]);
    printf("mmufuzz: %u ops: %lu ok, %lu -EINVAL, %lu other errno\n", OPS, counts[0],
           counts[1], counts[2]);
    return test_finish();
}
