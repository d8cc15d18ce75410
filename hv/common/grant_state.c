/* The grant-table state machine, free of hypervisor dependencies so that
 * tests/unit/test_grant.c runs it on the host: shared-entry flag
 * transitions (GTF_reading/GTF_writing by cmpxchg, as Xen's
 * _set_status_v1), active-entry pin counts, and the maptrack free list. */
#include "lib.h"
#include "mm.h"
#include "grant.h"

void gnt_table_init(struct grant_table *gt, unsigned max_frames)
{
    memset(gt, 0, sizeof(*gt));
    gt->max_frames = MIN(max_frames, (unsigned)GNT_MAX_FRAMES);
    gt->version = 1;
    gt->maptrack_free = GNT_MT_TAIL;
}

int gnt_add_frame(struct grant_table *gt, grant_entry_v1_t *frame)
{
    if (gt->nr_frames >= gt->max_frames)
        return -1;
    unsigned need = (unsigned)((gt->nr_frames + 1) * GNT_PER_FRAME / GNT_ACT_PER_PAGE);
    for (unsigned i = 0; i < need; i++) {
        if (!gt->active[i]) {
            gt->active[i] = alloc_hv_pages(0);
            if (!gt->active[i])
                return -1;
        }
    }
    gt->shared[gt->nr_frames++] = frame;
    return 0;
}

void gnt_table_free(struct grant_table *gt)
{
    for (unsigned i = 0; i < ARRAY_SIZE(gt->active); i++)
        if (gt->active[i])
            free_hv_pages(gt->active[i], 0);
    for (unsigned i = 0; i < ARRAY_SIZE(gt->maptrack); i++)
        if (gt->maptrack[i])
            free_hv_pages(gt->maptrack[i], 0);
    memset(gt->active, 0, sizeof(gt->active));
    memset(gt->maptrack, 0, sizeof(gt->maptrack));
    gt->maptrack_limit = 0;
    gt->maptrack_free = GNT_MT_TAIL;
    gt->nr_mappings = 0;
}

/* flags and domid of a v1 entry form one 32-bit word: updated together. */
union gnt_combo {
    uint32_t raw;
    struct {
        uint16_t flags;
        domid_t domid;
    };
};

/* Xen's _set_status_v1: sets GTF_reading (and GTF_writing) unless the
 * entry is not (or no longer) a grant to ldom; bounded cmpxchg retries so
 * that a guest rewriting its entry cannot livelock us. */
static int16_t set_status(grant_entry_v1_t *e, const struct gnt_active *act,
                          domid_t ldom, bool readonly, bool mapflag)
{
    uint32_t *raw = (uint32_t *)e;
    uint16_t mask = GTF_type_mask | (mapflag ? GTF_sub_page : 0);
    union gnt_combo cur = { .raw = __atomic_load_n(raw, __ATOMIC_ACQUIRE) };
    for (int retries = 0;; retries++) {
        if (!act->pin && ((cur.flags & mask) != GTF_permit_access || cur.domid != ldom))
            return GNTST_general_error;
        union gnt_combo nw = cur;
        nw.flags |= GTF_reading;
        if (!readonly) {
            nw.flags |= GTF_writing;
            if (cur.flags & GTF_readonly)
                return GNTST_general_error;   /* write-pin of a r/o grant */
        }
        uint32_t expect = cur.raw;
        if (__atomic_compare_exchange_n(raw, &expect, nw.raw, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST))
            return GNTST_okay;
        if (retries == 4)
            return GNTST_general_error;       /* the entry is unstable */
        cur.raw = expect;
    }
}

/* The entry's type as a pin needs it: a (full-page, for a mapping)
 * access grant to ldom. */
static bool grant_ok(union gnt_combo c, domid_t ldom, bool mapflag)
{
    uint16_t mask = GTF_type_mask | (mapflag ? GTF_sub_page : 0);
    return (c.flags & mask) == GTF_permit_access && c.domid == ldom;
}

/* Xen's _set_status_v2: the status bits are the hypervisor's to set (the
 * guest only reads them), so they are set first and the entry looked at
 * again afterwards; a change meanwhile takes them back. */
static int16_t set_status_v2(grant_entry_v2_t *e, uint16_t *st, const struct gnt_active *act,
                             domid_t ldom, bool readonly, bool mapflag)
{
    uint32_t *raw = (uint32_t *)&e->hdr;
    union gnt_combo c = { .raw = __atomic_load_n(raw, __ATOMIC_ACQUIRE) };
    if (!act->pin && !grant_ok(c, ldom, mapflag))
        return GNTST_general_error;   /* transitive ones too: not offered */
    if (!readonly && (c.flags & GTF_readonly))
        return GNTST_general_error;
    __atomic_fetch_or(st, (uint16_t)(readonly ? GTF_reading : GTF_reading | GTF_writing),
                      __ATOMIC_SEQ_CST);
    c.raw = __atomic_load_n(raw, __ATOMIC_SEQ_CST);
    if (!act->pin) {
        if (!grant_ok(c, ldom, mapflag) || (!readonly && (c.flags & GTF_readonly))) {
            __atomic_fetch_and(st, (uint16_t)~(GTF_reading | GTF_writing), __ATOMIC_SEQ_CST);
            return GNTST_general_error;
        }
    } else if (c.flags & GTF_readonly) {
        __atomic_fetch_and(st, (uint16_t)~GTF_writing, __ATOMIC_SEQ_CST);
        return GNTST_general_error;
    }
    return GNTST_okay;
}

int16_t gnt_pin(struct grant_table *gt, grant_ref_t ref, domid_t ldom, bool readonly,
                bool mapflag, uint32_t pin_inc, uint64_t *frame)
{
    if (ref >= gnt_nr_entries(gt))
        return GNTST_bad_gntref;
    struct gnt_active *act = gnt_act(gt, ref);
    /* Already in use: by the same domain only, no counter overflow, and a
     * sub-page grant is never mapped. */
    if (act->pin && (act->domid != ldom || (act->pin & GNTPIN_overflow) ||
                     (mapflag && act->sub_page)))
        return GNTST_general_error;
    if (!act->pin || (!readonly && !(act->pin & GNTPIN_write_mask))) {
        uint64_t f;
        uint16_t start = 0, len = PAGE_SIZE;
        bool sub = false;
        if (gt->version == 1) {
            grant_entry_v1_t *e = gnt_shared(gt, ref);
            int16_t rc = set_status(e, act, ldom, readonly, mapflag);
            if (rc != GNTST_okay)
                return rc;
            f = __atomic_load_n(&e->frame, __ATOMIC_ACQUIRE);
        } else {
            grant_entry_v2_t *e = gnt_shared_v2(gt, ref);
            int16_t rc = set_status_v2(e, gnt_status(gt, ref), act, ldom, readonly, mapflag);
            if (rc != GNTST_okay)
                return rc;
            /* full_page.frame and sub_page.frame are the same field. */
            f = __atomic_load_n(&e->full_page.frame, __ATOMIC_ACQUIRE);
            if (__atomic_load_n(&e->hdr.flags, __ATOMIC_ACQUIRE) & GTF_sub_page) {
                sub = true;
                start = __atomic_load_n(&e->sub_page.page_off, __ATOMIC_ACQUIRE);
                len = __atomic_load_n(&e->sub_page.length, __ATOMIC_ACQUIRE);
                /* Bytes past the page are never copied (offset + len is
                 * checked against the page first): the same test. */
                len = MIN(len, (uint16_t)PAGE_SIZE);
            }
        }
        if (!act->pin) {
            act->domid = ldom;
            act->start = start;
            act->fl = GNT_FL(f < GNT_BAD_FRAME ? f : GNT_BAD_FRAME, len, sub);
        }
    }
    act->pin += pin_inc;
    *frame = act->frame;
    return GNTST_okay;
}

void gnt_unpin(struct grant_table *gt, grant_ref_t ref, bool readonly, uint32_t pin_inc)
{
    struct gnt_active *act = gnt_act(gt, ref);
    uint16_t clear = 0;
    if (act->pin < pin_inc)
        panic("grant: unpin of ref %u with pin %#x", ref, act->pin);
    act->pin -= pin_inc;
    if (!readonly && !(act->pin & GNTPIN_write_mask))
        clear |= GTF_writing;
    if (!act->pin)
        clear |= GTF_reading;
    if (clear)
        __atomic_fetch_and(gnt_status(gt, ref), (uint16_t)~clear, __ATOMIC_SEQ_CST);
}

int32_t gnt_maptrack_get(struct grant_table *gt)
{
    if (gt->maptrack_free == GNT_MT_TAIL) {
        unsigned page = gt->maptrack_limit / GNT_MT_PER_PAGE;
        if (page >= GNT_MAPTRACK_FRAMES)
            return GNT_MT_INVALID;
        struct gnt_mapping *m = alloc_hv_pages(0);
        if (!m)
            return GNT_MT_INVALID;
        /* Thread the new entries, lowest first, onto the free list. */
        for (unsigned i = 0; i < GNT_MT_PER_PAGE; i++) {
            m[i].flags = 0;
            m[i].ref = i + 1 < GNT_MT_PER_PAGE ? gt->maptrack_limit + i + 1 : GNT_MT_TAIL;
        }
        gt->maptrack[page] = m;
        gt->maptrack_free = gt->maptrack_limit;
        gt->maptrack_limit += GNT_MT_PER_PAGE;
    }
    uint32_t h = gt->maptrack_free;
    struct gnt_mapping *m = gnt_maptrack(gt, h);
    gt->maptrack_free = m->ref;
    m->ref = 0;
    m->flags = 0;
    m->domid = 0;
    gt->nr_mappings++;
    return (int32_t)h;
}

void gnt_maptrack_put(struct grant_table *gt, uint32_t handle)
{
    struct gnt_mapping *m = gnt_maptrack(gt, handle);
    if (!m || !gt->nr_mappings)
        panic("grant: maptrack put of bad handle %u", handle);
    m->flags = 0;
    m->ref = gt->maptrack_free;
    gt->maptrack_free = handle;
    gt->nr_mappings--;
}

struct gnt_mapping *gnt_maptrack(struct grant_table *gt, uint32_t handle)
{
    if (handle >= gt->maptrack_limit)
        return NULL;
    return &gt->maptrack[handle / GNT_MT_PER_PAGE][handle % GNT_MT_PER_PAGE];
}
