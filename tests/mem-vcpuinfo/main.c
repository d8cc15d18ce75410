/* Guest test: the frame behind a registered vcpu_info is the hypervisor's
 * to write for as long as it is registered, so (as Xen) registration holds
 * a general and a writable type reference on it:
 *
 *   - MMUEXT_PIN_L1_TABLE of it fails, even with its only mapping made
 *     read-only and its contents valid as an L1 table.  Otherwise the
 *     hypervisor's time and event updates land in a page table (FAILURE).
 *     Pin and unpin go in one batch, so that a frame pinned by a broken
 *     hypervisor is a page table only inside that hypercall.
 *   - decrease_reservation of it, with no mapping of ours left, fails (0).
 *     Otherwise the hypervisor writes vcpu_info into a freed frame.
 *   - events and time still work through it (a 10 ms sleep returns).
 *
 * The frame is minios's own vcpu_info page (minios_vcpu_info_register:
 * offset 0 of a page of .bss, mapped once, writable).  During the two
 * checks events are masked and the periodic timer is stopped, and nothing
 * touches vcpu_info but this code. */
#include <stdio.h>
#include <minios/events.h>
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <minios/time.h>
#include <xen/memory.h>
#include "report.h"
#include "ptwalk.h"

#define PTE_RW 0x67UL                    /* present, writable, user, accessed, dirty */
#define PTE_RO 0x25UL                    /* present, user, accessed */
#define MS     1000000ULL

static long reservation(unsigned cmd, unsigned long *mfn)
{
    xen_pfn_t f = *mfn;
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0, .domid = DOMID_SELF };
    set_xen_guest_handle(r.extent_start, &f);
    long rc = HYPERVISOR_memory_op(cmd, &r);
    *mfn = f;
    return rc;
}

/* A 10 ms sleep returns, and PV time moved on by at least that much. */
static void sleep_works(const char *when)
{
    uint64_t t0 = minios_monotonic_ns(), ev = minios_timer_events();
    minios_sleep_ns(10 * MS);
    uint64_t t1 = minios_monotonic_ns();
    if (t1 - t0 < 10 * MS || minios_timer_events() == ev)
        test_fail("%s: a 10 ms sleep took %lu ns of PV time, %lu timer events",
                  when, (unsigned long)(t1 - t0), (unsigned long)(minios_timer_events() - ev));
}

/* No word of the page looks like a present page-table entry. */
static int valid_as_l1(const volatile unsigned long *page)
{
    for (int i = 0; i < 512; i++)
        if (page[i] & 1)
            return 0;
    return 1;
}

int main(void)
{
    const unsigned long *p2m = (const unsigned long *)minios_start_info->mfn_list;
    long rc = minios_vcpu_info_register();
    if (rc) {
        test_error("VCPUOP_register_vcpu_info: %ld", rc);
        return test_finish();
    }
    volatile vcpu_info_t *vi = minios_vcpu_info();
    volatile unsigned long *page = (volatile unsigned long *)vi;
    unsigned long va = (unsigned long)vi, f = p2m[va >> 12];
    if (va & 0xfff || m2p[f] != va >> 12) {
        test_error("vcpu_info at %#lx (frame %#lx): not at the start of a page of ours", va, f);
        return test_finish();
    }
    sleep_works("after registering");

    /* Quiet: no upcalls, no periodic time updates. */
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL), 0);
    unsigned long flags = minios_events_save();

    /* 1. Pin it as an L1 table: its words made non-present (bit 0 clear:
     * pending bits we restore below, the time record off by a tick), its
     * mapping read-only.  Retried if the hypervisor wrote the page meanwhile. */
    long pin_rc = 0;
    unsigned pin_done = 0, tries;
    for (tries = 1; tries <= 20; tries++) {
        for (int i = 0; i < 512; i++)
            page[i] &= ~1UL;
        uint32_t version = vi->time.version;
        long ro = HYPERVISOR_update_va_mapping(va, f << 12 | PTE_RO, UVMF_INVLPG);
        struct mmuext_op ops[2] = { { .cmd = MMUEXT_PIN_L1_TABLE }, { .cmd = MMUEXT_UNPIN_TABLE } };
        ops[0].arg1.mfn = f;
        ops[1].arg1.mfn = f;
        pin_done = 0;
        pin_rc = ro ? ro : HYPERVISOR_mmuext_op(ops, 2, &pin_done, DOMID_SELF);
        long rw = HYPERVISOR_update_va_mapping(va, f << 12 | PTE_RW, UVMF_INVLPG);
        if (ro || rw) {
            pin_rc = ro ? ro : rw;
            pin_done = 99;                       /* report below */
            break;
        }
        if (pin_done || (vi->time.version == version && valid_as_l1(page)))
            break;
    }

    /* 2. Give it back, with no mapping of ours left. */
    unsigned long back = f;
    long dec = HYPERVISOR_update_va_mapping(va, 0, UVMF_INVLPG);
    if (!dec)
        dec = reservation(XENMEM_decrease_reservation, &back);
    int lost = 0;
    if (dec == 1) {
        /* Freed: take a frame back (the allocator is LIFO) so that the
         * hypervisor's writes land in ours again; it comes back zeroed. */
        back = 0;
        if (reservation(XENMEM_increase_reservation, &back) != 1 || back != f)
            lost = 1;
    }
    if (!lost)
        HYPERVISOR_update_va_mapping(va, f << 12 | PTE_RW, UVMF_INVLPG);
    else if (back)
        HYPERVISOR_update_va_mapping(va, back << 12 | PTE_RW, UVMF_INVLPG);
    vi->evtchn_upcall_mask = 1;
    /* As the hypervisor does on registration: look at every port again. */
    vi->evtchn_pending_sel = ~0UL;
    vi->evtchn_upcall_pending = 1;
    struct vcpu_set_periodic_timer p = { .period_ns = 10 * MS };
    CHECK_EQ(HYPERVISOR_vcpu_op(VCPUOP_set_periodic_timer, 0, &p), 0);
    minios_events_restore(flags);

    if (pin_done == 99)
        test_error("could not remap the vcpu_info page: %ld", pin_rc);
    else if (pin_done == 2)
        test_fail("pinned the registered vcpu_info frame %#lx as an L1 table (and unpinned it)", f);
    else if (pin_done != 0 || pin_rc >= 0)
        test_fail("pin/unpin of the vcpu_info frame: rc %ld, %u done", pin_rc, pin_done);
    else if (tries > 20)
        test_error("inconclusive: the hypervisor kept writing the page during the pin");
    if (dec != 0)
        test_fail("decrease_reservation of the registered vcpu_info frame %#lx (unmapped) = %ld, "
                  "expected 0%s", f, dec, lost ? "; frame lost, the hypervisor writes a freed "
                  "frame" : "");
    if (lost)
        return test_finish();
    sleep_works("after the checks");
    if (pin_done == 0 && pin_rc < 0 && dec == 0)
        printf("vcpuinfo: the registered frame is held: pin %ld, decrease 0; time and "
               "events work\n", pin_rc);
    return test_finish();
}
