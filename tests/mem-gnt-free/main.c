/* Guest test: decrease_reservation of the hypervisor's frames shared with
 * the guest.  The grant table's frames (GNTTABOP_setup_table for 4, not
 * mapped anywhere yet) and the shared_info frame belong to the hypervisor
 * as much as to us: as Xen, decrease_reservation must refuse each (0
 * extents done) and XENMEM_current_reservation must not change.  If one is
 * freed, the hypervisor goes on writing grant entries or shared_info into a
 * frame the allocator hands to whoever asks next.
 *
 * shared_info is mapped by minios (a mapped frame is refused anyway), so
 * for the duration of that decrease its address shows a copy in a page of
 * ours, with events masked, and the real frame has no mapping at all.
 *
 * Afterwards the table must still work: the four frames map where minios
 * puts them, and entries written in the first and the last frame are
 * honoured by GNTTABOP_copy from ourselves by reference. */
#include <stdio.h>
#include <string.h>
#include <minios/events.h>
#include <minios/gnttab.h>
#include <minios/hypercall.h>
#include <minios/startinfo.h>
#include <xen/memory.h>
#include "report.h"
#include "ptwalk.h"

#define PG      4096
#define NFRAMES MINIOS_GNTTAB_FRAMES
#define PTE_RW  0x67UL                   /* present, writable, user, accessed, dirty */

static char si_copy[PG] __attribute__((aligned(PG)));
static char src[PG] __attribute__((aligned(PG)));
static char dst[PG] __attribute__((aligned(PG)));

static long memop(unsigned cmd, void *arg)
{
    return HYPERVISOR_memory_op(cmd, arg);
}

static long reservation(unsigned cmd, xen_pfn_t *f)
{
    struct xen_memory_reservation r = { .nr_extents = 1, .extent_order = 0, .domid = DOMID_SELF };
    set_xen_guest_handle(r.extent_start, f);
    return memop(cmd, &r);
}

static unsigned long mfn_of(const void *va)
{
    return ((const unsigned long *)minios_start_info->mfn_list)[(unsigned long)va >> 12];
}

/* The frame our page tables map at va. */
static unsigned long mapped_mfn(const void *va)
{
    unsigned long ma = l1e_maddr((unsigned long)va);
    unsigned long pte = *(const unsigned long *)((m2p[ma >> 12] << 12) | (ma & 0xfff));
    return (pte & 0x000FFFFFFFFFF000UL) >> 12;
}

static int16_t copy_by_ref(grant_ref_t ref, unsigned len)
{
    struct gnttab_copy c = { .flags = GNTCOPY_source_gref, .len = len };
    c.source.u.ref = ref;
    c.source.domid = DOMID_SELF;
    c.dest.u.gmfn = mfn_of(dst);
    c.dest.domid = DOMID_SELF;
    c.status = 99;
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_copy, &c, 1), 0);
    return c.status;
}

/* The table, after the refusals: mapped, and honoured. */
static void table_works(const xen_pfn_t *frames)
{
    CHECK_EQ(minios_gnttab_init(), 0);
    grant_entry_v1_t *t = minios_gnttab_entries();
    if (!t)
        return;
    for (int i = 0; i < NFRAMES; i++)
        if (mapped_mfn((char *)t + i * PG) != frames[i])
            test_fail("table frame %d: mapped %#lx, setup_table said %#lx", i,
                      mapped_mfn((char *)t + i * PG), (unsigned long)frames[i]);
    domid_t self = minios_domid();
    memset(src, 0xa7, PG);
    grant_ref_t first = minios_gnttab_grant_access(self, mfn_of(src), 1);
    CHECK_EQ(first, 8);
    CHECK_EQ(copy_by_ref(first, PG), GNTST_okay);
    CHECK_EQ((unsigned char)dst[0], 0xa7);
    CHECK_EQ((unsigned char)dst[PG - 1], 0xa7);
    CHECK_EQ(minios_gnttab_end_access(first), 0);
    /* An entry in the last frame, written by hand. */
    grant_ref_t last = (grant_ref_t)(MINIOS_GNTTAB_NR_REFS - 3);
    memset(src, 0x3c, PG);
    t[last].frame = (uint32_t)mfn_of(src);
    t[last].domid = self;
    __atomic_store_n(&t[last].flags, (uint16_t)(GTF_permit_access | GTF_readonly),
                     __ATOMIC_RELEASE);
    CHECK_EQ(copy_by_ref(last, 100), GNTST_okay);
    CHECK_EQ((unsigned char)dst[0], 0x3c);
    CHECK_EQ((unsigned char)dst[99], 0x3c);
    CHECK_EQ((unsigned char)dst[100], 0xa7);
    CHECK_EQ(t[last].flags, GTF_permit_access | GTF_readonly);   /* no reading left */
    __atomic_store_n(&t[last].flags, (uint16_t)0, __ATOMIC_RELEASE);
    CHECK_EQ(copy_by_ref(last, 1), GNTST_general_error);
}

int main(void)
{
    domid_t self_id = DOMID_SELF;
    long cur = memop(XENMEM_current_reservation, &self_id);
    int freed = 0;

    /* The table's frames, before anything maps them. */
    xen_pfn_t frames[NFRAMES];
    struct gnttab_setup_table s = { .dom = DOMID_SELF, .nr_frames = NFRAMES };
    set_xen_guest_handle(s.frame_list, frames);
    CHECK_EQ(HYPERVISOR_grant_table_op(GNTTABOP_setup_table, &s, 1), 0);
    if (s.status != GNTST_okay) {
        test_error("setup_table: status %d", s.status);
        return test_finish();
    }
    for (int i = 0; i < NFRAMES; i++) {
        xen_pfn_t f = frames[i];
        long rc = reservation(XENMEM_decrease_reservation, &f);
        if (rc != 0) {
            test_fail("decrease_reservation of grant-table frame %d (%#lx) = %ld, expected 0",
                      i, (unsigned long)frames[i], rc);
            freed++;
        }
    }
    long now = memop(XENMEM_current_reservation, &self_id);
    if (now != cur)
        test_fail("current_reservation %ld after the grant frames, was %ld", now, cur);

    /* shared_info, with no mapping left: our address for it shows a copy. */
    unsigned long si_mfn = minios_start_info->shared_info >> 12;
    unsigned long si_va = (unsigned long)minios_shared_info;
    long si_rc = -1;
    if (!si_va) {
        test_error("no shared_info");
    } else {
        unsigned long flags = minios_events_save();
        memcpy(si_copy, minios_shared_info, PG);
        long rc = HYPERVISOR_update_va_mapping(si_va, mfn_of(si_copy) << 12 | PTE_RW, UVMF_INVLPG);
        xen_pfn_t f = si_mfn;
        si_rc = rc ? -1 : reservation(XENMEM_decrease_reservation, &f);
        if (si_rc == 1) {
            /* Freed: take a frame back (the allocator is LIFO) and use it
             * again if it is the same one; events stay masked. */
            f = 0;
            if (reservation(XENMEM_increase_reservation, &f) == 1 && f == si_mfn) {
                HYPERVISOR_update_va_mapping(si_va, si_mfn << 12 | PTE_RW, UVMF_INVLPG);
                minios_shared_info->vcpu_info[0].evtchn_upcall_mask = 1;
            }
        } else if (!rc) {
            CHECK_EQ(HYPERVISOR_update_va_mapping(si_va, si_mfn << 12 | PTE_RW, UVMF_INVLPG), 0);
            minios_events_restore(flags);
        }
        if (rc)
            test_error("could not point shared_info's address at a copy: %ld", rc);
        else if (si_rc != 0)
            test_fail("decrease_reservation of the shared_info frame (%#lx, unmapped) = %ld, "
                      "expected 0", si_mfn, si_rc);
    }
    now = memop(XENMEM_current_reservation, &self_id);
    if (now != cur - freed)
        test_fail("current_reservation %ld after shared_info, expected %ld", now, cur - freed);

    if (freed || si_rc)
        printf("gnt-free: %d grant-table frames freed under the hypervisor; not using the "
               "table\n", freed);
    else {
        table_works(frames);
        CHECK_EQ(memop(XENMEM_current_reservation, &self_id), cur);
        printf("gnt-free: the table works after the refused decreases\n");
    }
    return test_finish();
}
