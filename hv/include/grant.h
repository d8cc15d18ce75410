/* Grant tables v1 and v2 (<xen/grant_table.h>): the per-domain table, its
 * status frames (v2), its active entries and the maptrack.  The state machine (grant_state.c) is pure and
 * unit-tested on the host; grant_table.c is the hypercall family. */
#ifndef KEEL_GRANT_H
#define KEEL_GRANT_H

#include "lib.h"
#include "memlayout.h"
#include <xen/xen.h>
#include <xen/grant_table.h>

#define GNT_INITIAL_FRAMES   1    /* Xen's INITIAL_NR_GRANT_FRAMES */
#define GNT_MAX_FRAMES       64   /* Xen 4.17's default gnttab_max_frames */
#define GNT_MAPTRACK_FRAMES  256  /* 64K mappings per domain */
#define GNT_PER_FRAME        (PAGE_SIZE / sizeof(grant_entry_v1_t))
#define GNT_MAX_ENTRIES      (GNT_MAX_FRAMES * GNT_PER_FRAME)
#define GNT_PER_FRAME_V2     (PAGE_SIZE / sizeof(grant_entry_v2_t))
#define GNT_STATUS_PER_FRAME (PAGE_SIZE / sizeof(grant_status_t))
/* v2: the status frames that n grant frames need (Xen's grant_to_status_frames). */
#define GNT_STATUS_FRAMES(n) (((n) * GNT_PER_FRAME_V2 + GNT_STATUS_PER_FRAME - 1) / GNT_STATUS_PER_FRAME)
#define GNT_MAX_STATUS_FRAMES GNT_STATUS_FRAMES(GNT_MAX_FRAMES)

/* Pin counts of an active entry, as Xen counts them. */
#define GNTPIN_hstw_inc      (1u << 0)
#define GNTPIN_hstw_mask     (0xFFu << 0)
#define GNTPIN_hstr_inc      (1u << 8)
#define GNTPIN_hstr_mask     (0xFFu << 8)
#define GNTPIN_devw_inc      (1u << 16)
#define GNTPIN_devw_mask     (0xFFu << 16)
#define GNTPIN_devr_inc      (1u << 24)
#define GNTPIN_devr_mask     (0xFFu << 24)
#define GNTPIN_overflow      0x80808080u
#define GNTPIN_write_mask    (GNTPIN_hstw_mask | GNTPIN_devw_mask)

/* The hypervisor's shadow of one shared entry while it is in use. */
struct gnt_active {
    uint32_t pin;                /* GNTPIN_* counts; 0: not in use */
    domid_t domid;               /* the domain using it */
    uint16_t start;              /* v2 sub-page grant: its first byte */
    union {
        uint64_t fl;             /* all three, written at once */
        struct {
            uint64_t frame : 48;     /* the frame captured at first pin (a
                                        larger one is kept as GNT_BAD_FRAME) */
            uint64_t length : 13;    /* bytes granted from start (1..4096) */
            uint64_t sub_page : 1;   /* a v2 sub-page grant: never mapped */
        };
    };
};
#define GNT_FL(frame, len, sub) ((frame) | (uint64_t)(len) << 48 | (uint64_t)(sub) << 61)
#define GNT_BAD_FRAME        ((1ull << 48) - 1)
#define GNT_ACT_PER_PAGE     (PAGE_SIZE / sizeof(struct gnt_active))

/* One mapping made by this domain of another's grant (maptrack entry);
 * the handle is its index.  flags 0: free (ref then links the free list). */
struct gnt_mapping {
    grant_ref_t ref;
    uint16_t flags;              /* GNTMAP_* still held */
    domid_t domid;               /* the granting domain; DOMID_INVALID once
                                    it is destroyed (the frame lives on) */
    uint64_t frame;              /* the granted frame */
};
#define GNT_MT_PER_PAGE      (PAGE_SIZE / sizeof(struct gnt_mapping))
#define GNT_MT_TAIL          0xFFFFFFFFu
#define GNT_MT_INVALID       (-1)

struct grant_table {
    unsigned version;            /* 1 or 2 (GNTTABOP_set_version) */
    unsigned nr_frames;          /* shared frames the guest has */
    unsigned max_frames;
    unsigned nr_status_frames;   /* v2: status frames in use (0 in v1) */
    unsigned status_alloc;       /* status frames allocated: kept, unused,
                                    while the table is v1 again */
    grant_status_t *status[GNT_MAX_STATUS_FRAMES];
    grant_entry_v1_t *shared[GNT_MAX_FRAMES];   /* v1 or v2 entries */
    struct gnt_active *active[GNT_MAX_ENTRIES / GNT_ACT_PER_PAGE];
    struct gnt_mapping *maptrack[GNT_MAPTRACK_FRAMES];
    unsigned maptrack_limit;     /* entries backed by maptrack pages */
    uint32_t maptrack_free;      /* free-list head, GNT_MT_TAIL if empty */
    unsigned nr_mappings;        /* maptrack entries in use */
};

/* grant_state.c: pure state transitions.  Pages come from alloc_hv_pages. */
void gnt_table_init(struct grant_table *gt, unsigned max_frames);
/* Appends one zeroed shared frame (given by its address); -1 if no memory. */
int gnt_add_frame(struct grant_table *gt, grant_entry_v1_t *frame);
void gnt_table_free(struct grant_table *gt);   /* not the shared frames */
static inline unsigned gnt_nr_entries(const struct grant_table *gt)
{
    return gt->nr_frames * (gt->version == 2 ? GNT_PER_FRAME_V2 : GNT_PER_FRAME);
}
static inline grant_entry_v1_t *gnt_shared(struct grant_table *gt, grant_ref_t ref)  /* v1 */
{
    return &gt->shared[ref / GNT_PER_FRAME][ref % GNT_PER_FRAME];
}
static inline grant_entry_v2_t *gnt_shared_v2(struct grant_table *gt, grant_ref_t ref)
{
    return &((grant_entry_v2_t *)gt->shared[ref / GNT_PER_FRAME_V2])[ref % GNT_PER_FRAME_V2];
}
/* The word holding GTF_reading/GTF_writing: the entry's flags (v1), its
 * status entry (v2). */
static inline uint16_t *gnt_status(struct grant_table *gt, grant_ref_t ref)
{
    if (__builtin_expect(gt->version == 1, 1))
        return &gnt_shared(gt, ref)->flags;
    return &gt->status[ref / GNT_STATUS_PER_FRAME][ref % GNT_STATUS_PER_FRAME];
}
static inline struct gnt_active *gnt_act(struct grant_table *gt, grant_ref_t ref)
{
    return &gt->active[ref / GNT_ACT_PER_PAGE][ref % GNT_ACT_PER_PAGE];
}

/*
 * Takes a pin on (gt, ref) for domain ldom: read-only or writable, for a
 * mapping (mapflag: no sub-page grants) or a copy.  Sets GTF_reading and,
 * for writes, GTF_writing in the shared entry by cmpxchg (v1), or in the
 * status entry and then checks the entry again (v2), checking the
 * entry's type, domid and GTF_readonly as Xen's _set_status_v1/_v2 do.
 * A v2 sub-page grant's bytes are in the active entry (start, length);
 * a transitive grant is refused (GNTST_general_error).
 * pin_inc is GNTPIN_hstr_inc/hstw_inc/devr_inc/devw_inc.  Returns GNTST_*;
 * on success *frame is the granted frame (validate it, and gnt_unpin on
 * failure).
 */
int16_t gnt_pin(struct grant_table *gt, grant_ref_t ref, domid_t ldom, bool readonly,
                bool mapflag, uint32_t pin_inc, uint64_t *frame);
/* Drops one pin; clears GTF_writing when the last writer goes and
 * GTF_reading when the last user goes. */
void gnt_unpin(struct grant_table *gt, grant_ref_t ref, bool readonly, uint32_t pin_inc);

/* Maptrack: a free handle (pages added on demand), or GNT_MT_INVALID. */
int32_t gnt_maptrack_get(struct grant_table *gt);
void gnt_maptrack_put(struct grant_table *gt, uint32_t handle);
/* The entry for a handle, or NULL if the handle was never backed. */
struct gnt_mapping *gnt_maptrack(struct grant_table *gt, uint32_t handle);

/* grant_table.c */
struct domain;
long do_grant_table_op(unsigned long cmd, unsigned long arg, unsigned long count,
                       unsigned long a4, unsigned long a5);
void grant_table_destroy(struct domain *d);
/* Entries 0 (console) and 1 (xenstore) of d's table granted to backend
 * be, as xc_dom_gnttab_seed; 0 or -1.  unseed zeroes them again. */
int grant_table_seed(struct domain *d, domid_t be, uint64_t console_mfn, uint64_t store_mfn);
void grant_table_unseed(struct domain *d);

int grant_table_frame(struct domain *d, unsigned idx, uint64_t *mfn);
/* The machine frame of d's v2 status frame idx: 0, or -EINVAL if d's
 * table is not v2 or has no such frame (XENMAPIDX_grant_table_status). */
int grant_table_status_frame(struct domain *d, unsigned idx, uint64_t *mfn);

#endif
