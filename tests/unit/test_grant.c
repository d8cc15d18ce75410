/* Unit test of the grant-table state machine (hv/common/grant_state.c) on the host: shared-entry
 * flag transitions (GTF_reading/GTF_writing), pin counts, the end-access-while-mapped rule as a
 * guest applies it, and maptrack allocation and free. */
#include "mm.h"
#include "grant.h"
#include "unit.h"
#include <string.h>

/* Host shims for the hypervisor's page helpers. */
static long pages_out;
void *alloc_hv_pages(unsigned order)
{
    void *p = aligned_alloc(PAGE_SIZE, (size_t)PAGE_SIZE << order);
    if (p) {
        memset(p, 0, (size_t)PAGE_SIZE << order);
        pages_out++;
    }
    return p;
}
void free_hv_pages(void *va, unsigned order)
{
    (void)order;
    free(va);
    pages_out--;
}

/* What a guest does to end a grant (minios_gnttab_end_access, Linux's
 * gnttab_end_foreign_access_ref): refused while reading/writing is set. */
static int guest_end_access(grant_entry_v1_t *e)
{
    uint16_t f = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
    do {
        if (f & (GTF_reading | GTF_writing))
            return -1;
    } while (!__atomic_compare_exchange_n(&e->flags, &f, 0, 0, __ATOMIC_SEQ_CST,
                                          __ATOMIC_SEQ_CST));
    return 0;
}

static void grant(grant_entry_v1_t *e, domid_t d, uint32_t frame, uint16_t flags)
{
    e->frame = frame;
    e->domid = d;
    e->flags = flags;
}

int main(void)
{
    static struct grant_table gt;
    gnt_table_init(&gt, GNT_MAX_FRAMES);
    EXPECT(gnt_nr_entries(&gt) == 0);
    uint64_t f = 0;
    EXPECT(gnt_pin(&gt, 0, 1, true, true, GNTPIN_hstr_inc, &f) == GNTST_bad_gntref);

    grant_entry_v1_t *frames[3];
    for (int i = 0; i < 3; i++) {
        frames[i] = alloc_hv_pages(0);
        EXPECT(gnt_add_frame(&gt, frames[i]) == 0);
    }
    EXPECT(gnt_nr_entries(&gt) == 3 * GNT_PER_FRAME);
    EXPECT(gnt_shared(&gt, GNT_PER_FRAME + 5) == &frames[1][5]);
    EXPECT(gnt_pin(&gt, 3 * GNT_PER_FRAME, 1, true, true, GNTPIN_hstr_inc, &f) == GNTST_bad_gntref);
    EXPECT(gnt_pin(&gt, 0xFFFFFFFFu, 1, true, true, GNTPIN_hstr_inc, &f) == GNTST_bad_gntref);

    /* Entries that grant nothing to domain 7. */
    grant_entry_v1_t *e = gnt_shared(&gt, 10);
    grant(e, 7, 1234, 0);
    EXPECT(gnt_pin(&gt, 10, 7, true, true, GNTPIN_hstr_inc, &f) == GNTST_general_error);
    grant(e, 8, 1234, GTF_permit_access);
    EXPECT(gnt_pin(&gt, 10, 7, true, true, GNTPIN_hstr_inc, &f) == GNTST_general_error);
    grant(e, 7, 1234, GTF_accept_transfer);
    EXPECT(gnt_pin(&gt, 10, 7, true, false, GNTPIN_hstr_inc, &f) == GNTST_general_error);
    grant(e, 7, 1234, GTF_permit_access | GTF_sub_page);
    EXPECT(gnt_pin(&gt, 10, 7, true, true, GNTPIN_hstr_inc, &f) == GNTST_general_error);
    EXPECT(e->flags == (GTF_permit_access | GTF_sub_page));   /* untouched */
    EXPECT(gnt_act(&gt, 10)->pin == 0);

    /* Read-only grant: read pins only. */
    grant(e, 7, 1234, GTF_permit_access | GTF_readonly);
    EXPECT(gnt_pin(&gt, 10, 7, false, true, GNTPIN_hstw_inc, &f) == GNTST_general_error);
    EXPECT(e->flags == (GTF_permit_access | GTF_readonly));
    EXPECT(gnt_pin(&gt, 10, 7, true, true, GNTPIN_hstr_inc, &f) == GNTST_okay);
    EXPECT(f == 1234);
    EXPECT(e->flags == (GTF_permit_access | GTF_readonly | GTF_reading));
    EXPECT(guest_end_access(e) == -1);
    /* Another domain cannot use an entry pinned for domain 7. */
    EXPECT(gnt_pin(&gt, 10, 9, true, true, GNTPIN_hstr_inc, &f) == GNTST_general_error);
    /* Once pinned, the frame is the one captured: a guest rewriting it changes nothing. */
    e->frame = 999;
    EXPECT(gnt_pin(&gt, 10, 7, true, false, GNTPIN_hstr_inc, &f) == GNTST_okay);
    EXPECT(f == 1234);
    gnt_unpin(&gt, 10, true, GNTPIN_hstr_inc);
    EXPECT(e->flags & GTF_reading);
    gnt_unpin(&gt, 10, true, GNTPIN_hstr_inc);
    EXPECT(e->flags == (GTF_permit_access | GTF_readonly));
    EXPECT(guest_end_access(e) == 0);
    EXPECT(e->flags == 0);
    EXPECT(gnt_pin(&gt, 10, 7, true, true, GNTPIN_hstr_inc, &f) == GNTST_general_error);

    /* Writable grant: a writer sets GTF_writing, which stays until the last
     * writer goes; GTF_reading until the last user goes. */
    grant_entry_v1_t *w = gnt_shared(&gt, 600);
    grant(w, 7, 42, GTF_permit_access);
    EXPECT(gnt_pin(&gt, 600, 7, true, true, GNTPIN_hstr_inc, &f) == GNTST_okay);
    EXPECT(w->flags == (GTF_permit_access | GTF_reading));
    EXPECT(gnt_pin(&gt, 600, 7, false, true, GNTPIN_hstw_inc, &f) == GNTST_okay);
    EXPECT(w->flags == (GTF_permit_access | GTF_reading | GTF_writing));
    EXPECT(gnt_pin(&gt, 600, 7, false, true, GNTPIN_devw_inc, &f) == GNTST_okay);
    EXPECT(gnt_act(&gt, 600)->pin == (GNTPIN_hstr_inc | GNTPIN_hstw_inc | GNTPIN_devw_inc));
    gnt_unpin(&gt, 600, false, GNTPIN_hstw_inc);
    EXPECT(w->flags & GTF_writing);                 /* the device writer remains */
    gnt_unpin(&gt, 600, false, GNTPIN_devw_inc);
    EXPECT(w->flags == (GTF_permit_access | GTF_reading));
    EXPECT(guest_end_access(w) == -1);
    /* The guest makes it read-only while only readers hold it: a new writer is refused. */
    w->flags |= GTF_readonly;
    EXPECT(gnt_pin(&gt, 600, 7, false, true, GNTPIN_hstw_inc, &f) == GNTST_general_error);
    gnt_unpin(&gt, 600, true, GNTPIN_hstr_inc);
    EXPECT(w->flags == (GTF_permit_access | GTF_readonly));
    EXPECT(guest_end_access(w) == 0);

    /* Pin counts saturate before they overflow: refused at 0x80 per kind. */
    grant(w, 7, 42, GTF_permit_access);
    int n = 0;
    while (gnt_pin(&gt, 600, 7, true, true, GNTPIN_hstr_inc, &f) == GNTST_okay)
        n++;
    EXPECT(n == 0x80);
    while (n--)
        gnt_unpin(&gt, 600, true, GNTPIN_hstr_inc);
    EXPECT(gnt_act(&gt, 600)->pin == 0 && w->flags == GTF_permit_access);

    /* Maptrack: handles from 0 up, freed ones reused first, pages on demand. */
    EXPECT(gnt_maptrack(&gt, 0) == NULL);
    int32_t h0 = gnt_maptrack_get(&gt), h1 = gnt_maptrack_get(&gt);
    EXPECT(h0 == 0 && h1 == 1);
    EXPECT(gnt_maptrack(&gt, 0) != NULL && gnt_maptrack(&gt, GNT_MT_PER_PAGE) == NULL);
    gnt_maptrack_put(&gt, 0);
    EXPECT(gnt_maptrack_get(&gt) == 0);
    EXPECT(gt.nr_mappings == 2);
    static int32_t hs[GNT_MT_PER_PAGE * 3];
    for (unsigned i = 0; i < ARRAY_SIZE(hs); i++)
        hs[i] = gnt_maptrack_get(&gt);
    EXPECT(hs[ARRAY_SIZE(hs) - 1] == (int32_t)(ARRAY_SIZE(hs) + 1));
    EXPECT(gt.maptrack_limit == 4 * GNT_MT_PER_PAGE);
    for (unsigned i = 0; i < ARRAY_SIZE(hs); i++) {
        EXPECT(gnt_maptrack(&gt, (uint32_t)hs[i])->flags == 0);
        gnt_maptrack_put(&gt, (uint32_t)hs[i]);
    }
    gnt_maptrack_put(&gt, 0);
    gnt_maptrack_put(&gt, 1);
    EXPECT(gt.nr_mappings == 0);
    /* Exhaustion: the limit of maptrack pages, then GNT_MT_INVALID. */
    unsigned total = 0;
    while (gnt_maptrack_get(&gt) != GNT_MT_INVALID)
        total++;
    EXPECT(total == GNT_MAPTRACK_FRAMES * GNT_MT_PER_PAGE);
    EXPECT(gt.nr_mappings == total);

    gnt_table_free(&gt);
    for (int i = 0; i < 3; i++)
        free_hv_pages(frames[i], 0);
    EXPECT(pages_out == 0);
    UNIT_DONE();
}
