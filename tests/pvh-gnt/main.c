/* Guest test: a PV peer of a PVH domain's grants (pvh-gnt, docs/hvm.md).
 * The PVH domain d1 (tests/pvh, mode=gnt) grants us (d2) entry 8, a page
 * of its own named by GFN, filled with i*7+1; entry 9 names a GFN past
 * its RAM; entry 10 is granted to d7.  We map 8 (retrying until it has
 * written the entry), see its bytes, are refused 9 (GNTST_bad_page) and
 * 10 (GNTST_general_error, as Xen's _set_status for another domid), copy
 * from 8 into our page by GNTTABOP_copy (9 GNTST_bad_page there too),
 * write 0xee at its start and unmap.  Then the other way (a PVH mapper):
 * we grant d1 our page `mine` (filled with i*5+3) and tell it the
 * reference in bytes 2..5 of its page before the 0xee; it maps the grant
 * into its p2m, unmaps, maps it again and writes 0x5a at the start,
 * leaving it mapped; our grant ends once d1 has died (its death undid the
 * mapping). */
#include <stdio.h>
#include <minios/time.h>
#include <minios/gnttab.h>
#include <minios/mm.h>
#include "report.h"

#define MS 1000000ULL

static char local[4096] __attribute__((aligned(4096)));
static volatile uint8_t mine[4096] __attribute__((aligned(4096)));

static int16_t copy_status(struct gnttab_copy c)
{
    c.status = 99;
    CHECK_EQ(minios_gnttab_copy(&c, 1), 0);
    return c.status;
}

int main(void)
{
    if (minios_gnttab_init()) {
        test_error("gnttab init");
        return test_finish();
    }
    grant_handle_t h = 0, h2;
    volatile uint8_t *p = NULL;
    for (int i = 0; i < 1000 && !p; i++) {
        p = minios_gnttab_map(1, 8, 0, &h);
        if (!p)
            minios_sleep_ns(10 * MS);
    }
    CHECK_EQ(p != NULL, 1);
    if (!p)
        return test_finish();
    int same = 1;
    for (unsigned i = 0; i < 4096; i++)
        same &= p[i] == (uint8_t)(i * 7 + 1);
    CHECK_EQ(same, 1);
    /* GNTTABOP_copy by reference: from its page (by GFN) into ours, and
     * the GFN past its RAM refused. */
    struct gnttab_copy in = { .flags = GNTCOPY_source_gref, .len = 100 };
    in.source.u.ref = 8;
    in.source.domid = 1;
    in.source.offset = 10;
    in.dest.u.gmfn = minios_virt_to_mfn(local);
    in.dest.domid = DOMID_SELF;
    CHECK_EQ(copy_status(in), GNTST_okay);
    CHECK_EQ((unsigned char)local[0], (uint8_t)(10 * 7 + 1));
    CHECK_EQ((unsigned char)local[99], (uint8_t)(109 * 7 + 1));
    in.source.u.ref = 9;
    CHECK_EQ(copy_status(in), GNTST_bad_page);
    CHECK_EQ(minios_gnttab_map(1, 9, 1, &h2) == NULL, 1);
    CHECK_EQ(minios_gnttab_last_status(), GNTST_bad_page);
    CHECK_EQ(minios_gnttab_map(1, 10, 1, &h2) == NULL, 1);
    CHECK_EQ(minios_gnttab_last_status(), GNTST_general_error);   /* as Xen: bad domain */
    CHECK_EQ(minios_gnttab_map(1, 11, 1, &h2) == NULL, 1);   /* not granted at all */
    CHECK_EQ(minios_gnttab_last_status(), GNTST_general_error);
    for (unsigned i = 0; i < 4096; i++)
        mine[i] = (uint8_t)(i * 5 + 3);
    grant_ref_t r = minios_gnttab_grant_access(1, minios_virt_to_mfn((void *)mine), 0);
    CHECK_EQ(r != MINIOS_GNTTAB_INVALID_REF, 1);
    for (unsigned i = 0; i < 4; i++)
        p[2 + i] = (uint8_t)(r >> (8 * i));
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    p[0] = 0xee;
    CHECK_EQ(minios_gnttab_unmap((void *)p, h), 0);
    printf("pvh-gnt: mapped d1's grant 8 (its GFN), refused 9 and 10, unmapped\n");
    int ended = -1;
    for (int i = 0; i < 3000 && (mine[0] != 0x5a || ended); i++) {
        if (mine[0] == 0x5a)
            ended = minios_gnttab_end_access(r);
        if (mine[0] != 0x5a || ended)
            minios_sleep_ns(10 * MS);
    }
    CHECK_EQ(mine[0], 0x5a);
    CHECK_EQ(ended, 0);
    CHECK_EQ(mine[1], (uint8_t)(1 * 5 + 3));
    printf("pvh-gnt: d1 mapped our grant into its p2m and wrote 0x5a; the grant ended\n");
    return test_finish();
}
