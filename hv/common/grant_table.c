/* grant_table_op, grant tables v1 and v2 (<xen/grant_table.h>) with Xen
 * 4.17's behaviour: setup_table, query_size, map_grant_ref,
 * unmap_grant_ref, unmap_and_replace, copy, set_version, get_version,
 * get_status_frames;
 * per-element GNTST_* status in batches; cleanup when a mapping or
 * granting domain dies.
 * The flag and pin transitions are in grant_state.c. */
#include "lib.h"
#include "mm.h"
#include "domain.h"
#include "hvm.h"
#include "hypercall.h"
#include "pv.h"
#include "grant.h"
#include "iommu.h"

#define GNTTABOP_CMD_MASK 0xFFFu     /* Xen: the rest is a continuation arg */

/* The table of d, created (with its first frame) on first use. */
static struct grant_table *table_of(struct domain *d)
{
    if (d->grant_table)
        return d->grant_table;
    struct grant_table *gt = alloc_hv_pages(0);
    if (!gt)
        return NULL;
    BUILD_BUG_ON(sizeof(*gt) > PAGE_SIZE);
    gnt_table_init(gt, GNT_MAX_FRAMES);
    d->grant_table = gt;
    return gt;
}

/* v2: the status frames that nr grant frames need, shared with d as the
 * grant frames are (the guest maps them, read-only as a rule); ones kept
 * from an earlier v2 are zeroed as they come back into use.  Made before
 * the grant frames they cover, so every entry has its status entry. */
static int status_frames(struct domain *d, struct grant_table *gt, unsigned nr)
{
    unsigned need = GNT_STATUS_FRAMES(MIN(nr, gt->max_frames));
    while (gt->status_alloc < need) {
        uint64_t mfn;
        if (domain_alloc_shared_page(d, &mfn))
            return -1;
        gt->status[gt->status_alloc++] = pfn_to_virt(mfn);
    }
    for (; gt->nr_status_frames < need; gt->nr_status_frames++)
        memset(gt->status[gt->nr_status_frames], 0, PAGE_SIZE);
    return 0;
}

/* Grows d's table to nr frames: hypervisor frames shared with d (as
 * shared_info: outside its p2m and its reservation, never its to free),
 * zeroed; the guest maps them writable. */
static int grow_table_slow(struct domain *d, struct grant_table *gt, unsigned nr);

/* The common case (the table has its frames) without a call. */
static inline int grow_table(struct domain *d, struct grant_table *gt, unsigned nr)
{
    if (__builtin_expect(gt->nr_frames >= nr && gt->nr_frames >= GNT_INITIAL_FRAMES, 1))
        return 0;
    return grow_table_slow(d, gt, nr);
}

static int grow_table_slow(struct domain *d, struct grant_table *gt, unsigned nr)
{
    nr = MAX(nr, (unsigned)GNT_INITIAL_FRAMES);
    if (gt->version == 2 && nr > gt->nr_frames && status_frames(d, gt, nr))
        return -1;
    while (gt->nr_frames < nr) {
        uint64_t mfn;
        if (domain_alloc_shared_page(d, &mfn))
            return -1;
        if (gnt_add_frame(gt, pfn_to_virt(mfn)))
            return -1;           /* the frame stays d's, freed with it */
    }
    return 0;
}

/*
 * As Xen's toolstack seeds a new domain's table (xc_dom_gnttab_seed):
 * entry GNTTAB_RESERVED_CONSOLE grants d's console ring frame and
 * GNTTAB_RESERVED_XENSTORE its store ring frame to the backend domain be,
 * read-write.  The table is created with its first frame if need be; the
 * guest's own setup_table later only adds frames, so the entries stay.
 * 0, or -1 if there is no memory for the table or a frame does not fit
 * v1's 32 bits.
 */
int grant_table_seed(struct domain *d, domid_t be, uint64_t console_mfn, uint64_t store_mfn)
{
    if ((uint32_t)console_mfn != console_mfn || (uint32_t)store_mfn != store_mfn)
        return -1;
    struct grant_table *gt = table_of(d);
    if (!gt || grow_table(d, gt, GNT_INITIAL_FRAMES))
        return -1;
    const struct { grant_ref_t ref; uint64_t mfn; } seed[] = {
        { GNTTAB_RESERVED_CONSOLE, console_mfn },
        { GNTTAB_RESERVED_XENSTORE, store_mfn },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(seed); i++) {
        grant_entry_v1_t *e = gnt_shared(gt, seed[i].ref);
        e->frame = (uint32_t)seed[i].mfn;
        e->domid = be;
        __atomic_store_n(&e->flags, (uint16_t)GTF_permit_access, __ATOMIC_RELEASE);
    }
    return 0;
}

/* The machine frame of d's grant-table frame idx (v1/v2 shared entries),
 * the table grown to idx + 1 frames if need be, as Xen's
 * gnttab_map_frame does for XENMAPSPACE_grant_table: 0, or -EINVAL past
 * its max_frames or with no memory. */
int grant_table_frame(struct domain *d, unsigned idx, uint64_t *mfn)
{
    struct grant_table *gt = table_of(d);
    if (!gt)
        return -XEN_EINVAL;
    domain_lock(d);
    int rc = idx >= gt->max_frames || grow_table(d, gt, idx + 1) ? -XEN_EINVAL : 0;
    if (!rc)
        *mfn = virt_to_pfn(gt->shared[idx]);
    domain_unlock(d);
    return rc;
}

int grant_table_status_frame(struct domain *d, unsigned idx, uint64_t *mfn)
{
    domain_lock(d);
    struct grant_table *gt = d->grant_table;
    int rc = gt && gt->version == 2 && idx < gt->nr_status_frames ? 0 : -XEN_EINVAL;
    if (!rc)
        *mfn = virt_to_pfn(gt->status[idx]);
    domain_unlock(d);
    return rc;
}

/* Undoes grant_table_seed before the guest ran (the table stays). */
void grant_table_unseed(struct domain *d)
{
    struct grant_table *gt = d->grant_table;
    if (!gt || !gt->nr_frames)
        return;
    memset(gnt_shared(gt, GNTTAB_RESERVED_CONSOLE), 0, sizeof(grant_entry_v1_t));
    memset(gnt_shared(gt, GNTTAB_RESERVED_XENSTORE), 0, sizeof(grant_entry_v1_t));
}

/*
 * Locking (docs/locking.md): a domain's grant table, its active entries
 * and its maptrack are under its domain lock.  An operation on two
 * domains' tables (map, unmap, unmap_and_replace) takes both, lower id
 * first; a copy takes one side's at a time, to pin and to unpin, and
 * copies holding only the pins and frame references.  Another domain is named with a reference
 * (domain_get), and looked at again under its lock (it may have died).
 */

/* setup_table, query_size, get_status_frames, get_version: DOMID_SELF or
 * ourselves; another domain only for a control domain (XSM_TARGET).  With
 * a reference: domain_put_named. */
static struct domain *any_domain(domid_t dom, int16_t *status)
{
    struct domain *cd = current_domain();
    if (dom == DOMID_SELF || dom == cd->id)
        return cd;
    struct domain *d = domain_get(dom);
    if (!d) {
        *status = GNTST_bad_domain;
        return NULL;
    }
    if (!(cd->roles & ROLE_CONTROL)) {
        domain_put(d);
        *status = GNTST_permission_denied;
        return NULL;
    }
    return d;
}


/* The number setup_table gives for d's shared frame i: its machine
 * frame for PV; for a PVH (translated) domain the GFN where the guest
 * mapped it with add_to_physmap, or ~0 if it has not, as Xen's
 * gnttab_shared_gfn (the M2P of an unmapped frame is INVALID_GFN). */
static xen_pfn_t shared_frame_number(struct domain *d, const struct grant_table *gt, unsigned i)
{
    BUILD_BUG_ON(HVM_GT_FRAMES != GNT_MAX_FRAMES);
    BUILD_BUG_ON(HVM_GT_STATUS_FRAMES != GNT_MAX_STATUS_FRAMES);
    if (d->arch.type == GUEST_PV)
        return virt_to_pfn(gt->shared[i]);
    return (xen_pfn_t)hvm_p2m_grant_gfn(d, i);
}

static long setup_table(unsigned long arg, unsigned count)
{
    struct gnttab_setup_table op;
    if (count != 1)
        return -XEN_EINVAL;
    if (copy_from_guest(&op, arg, sizeof(op)))
        return -XEN_EFAULT;
    /* As Xen: only the start of frame_list is checked here; a frame that
     * cannot be written gives GNTST_bad_virt_addr. */
    unsigned long list = (unsigned long)op.frame_list.p;
    if (!guest_array_ok(list, op.nr_frames, sizeof(xen_pfn_t)))
        return -XEN_EFAULT;
    int16_t st = GNTST_okay;
    struct domain *d = any_domain(op.dom, &st);
    if (d)
        domain_lock(d);
    struct grant_table *gt = d && !d->shutdown ? table_of(d) : NULL;
    if (d && !gt)
        st = GNTST_general_error;
    if (gt) {
        if (op.nr_frames > gt->max_frames || grow_table(d, gt, op.nr_frames)) {
            st = GNTST_general_error;
        } else {
            for (unsigned i = 0; i < op.nr_frames; i++) {
                xen_pfn_t f = shared_frame_number(d, gt, i);
                if (copy_to_guest(list + i * sizeof(f), &f, sizeof(f)))
                    st = GNTST_bad_virt_addr;
            }
        }
    }
    if (d) {
        domain_unlock(d);
        domain_put_named(d);
    }
    op.status = st;
    if (copy_to_guest(arg + offsetof(struct gnttab_setup_table, status), &op.status,
                      sizeof(op.status)))
        return -XEN_EFAULT;
    return 0;
}

static long query_size(unsigned long arg, unsigned count)
{
    struct gnttab_query_size op;
    if (count != 1)
        return -XEN_EINVAL;
    if (copy_from_guest(&op, arg, sizeof(op)))
        return -XEN_EFAULT;
    int16_t st = GNTST_okay;
    struct domain *d = any_domain(op.dom, &st);
    if (d) {
        domain_lock(d);
        struct grant_table *gt = d->shutdown ? NULL : table_of(d);
        if (!gt || grow_table(d, gt, GNT_INITIAL_FRAMES)) {
            st = GNTST_general_error;
        } else {
            op.nr_frames = gt->nr_frames;
            op.max_nr_frames = gt->max_frames;
        }
        domain_unlock(d);
        domain_put_named(d);
    }
    op.status = st;
    if (copy_to_guest(arg, &op, sizeof(op)))
        return -XEN_EFAULT;
    return 0;
}

/* A frame of rd that a grant may name: RAM owned by rd. */
static bool frame_of(const struct domain *rd, uint64_t mfn)
{
    return mfn < max_pfn && frame_table[mfn].owner == rd->id;
}

/* The machine frame behind the frame number a grant entry (or a copy's
 * gmfn) of rd names: itself for PV; for a PVH (translated) domain a
 * guest frame looked up in its p2m, as Xen's get_paged_frame does
 * (~0, refused by frame_of, if the p2m maps nothing there). */
static uint64_t granted_mfn(struct domain *rd, uint64_t frame)
{
    return rd->arch.type == GUEST_PV ? frame : hvm_p2m_ram(rd, frame);
}

static uint32_t pin_kind(uint32_t flags)
{
    bool ro = flags & GNTMAP_readonly;
    return flags & GNTMAP_host_map ? (ro ? GNTPIN_hstr_inc : GNTPIN_hstw_inc)
                                   : (ro ? GNTPIN_devr_inc : GNTPIN_devw_inc);
}

/* Drops the pins one maptrack entry of a mapping domain holds on rd's
 * grant (the host mapping itself is the PV MMU's: it goes with the
 * mapper's page tables, or by pv_unmap_grant). */
static void unpin_mapping(const struct gnt_mapping *m, struct domain *rd)
{
    struct grant_table *rgt = rd->grant_table;
    bool ro = m->flags & GNTMAP_readonly;
    if (m->flags & GNTMAP_device_map)
        gnt_unpin(rgt, m->ref, ro, ro ? GNTPIN_devr_inc : GNTPIN_devw_inc);
    if (m->flags & GNTMAP_host_map)
        gnt_unpin(rgt, m->ref, ro, ro ? GNTPIN_hstr_inc : GNTPIN_hstw_inc);
}

static void map_one_locked(struct gnttab_map_grant_ref *op, struct domain *ld,
                           struct domain *rd);

/*
 * A PVH (translated) mapper, as Xen's grant mapping for a translated
 * guest: host_addr is a guest physical address, and the granted frame
 * goes into the mapper's p2m there (read-only if the map is), hiding the
 * RAM frame until the unmap (hv/hvm/p2m.c).  The p2m leaf holds a frame
 * reference (and a writable type unless read-only) as a PV L1 entry
 * would; the unmap or the mapper's death gives them back.
 */
static long pvh_map_grant(struct domain *ld, struct domain *rd, uint64_t addr, uint64_t mfn,
                          uint32_t flags)
{
    bool ro = flags & GNTMAP_readonly;
    if (!get_page_and_type_any(mfn, !ro, rd))
        return -1;
    if (hvm_p2m_map_grant(ld, addr >> PAGE_SHIFT, mfn, ro)) {
        put_page_and_type(mfn, !ro);
        return -1;
    }
    return 0;
}

/* The unmap: addr's frame must map the grant's frame as the handle's
 * mapping did (read-only or not), as Xen checks only the frame there,
 * so the references given back are the ones taken; unmap_and_replace
 * (a new_addr) has no meaning in a p2m (Xen refuses it for translated
 * guests too). */
static long pvh_unmap_grant(struct domain *ld, uint64_t addr, uint64_t mfn, uint32_t flags,
                            uint64_t new_addr)
{
    bool ro = flags & GNTMAP_readonly;
    if (new_addr || hvm_p2m_unmap_grant(ld, addr >> PAGE_SHIFT, mfn, ro))
        return -1;
    put_page_and_type(mfn, !ro);
    return 0;
}

static long host_map_grant(struct domain *ld, struct domain *rd, uint64_t addr, uint64_t mfn,
                           uint32_t flags)
{
    return ld->arch.type == GUEST_PV ? pv_map_grant(ld, addr, mfn, flags)
                                     : pvh_map_grant(ld, rd, addr, mfn, flags);
}

static long host_unmap_grant(struct domain *ld, uint64_t addr, uint64_t mfn, uint32_t flags,
                             uint64_t new_addr)
{
    return ld->arch.type == GUEST_PV ? pv_unmap_grant(ld, addr, mfn, flags, new_addr)
                                     : pvh_unmap_grant(ld, addr, mfn, flags, new_addr);
}

static void map_one(struct gnttab_map_grant_ref *op)
{
    struct domain *ld = current_domain();
    if (!(op->flags & (GNTMAP_device_map | GNTMAP_host_map))) {
        op->status = GNTST_bad_gntref;
        return;
    }
    /* A PVH mapper has only host mappings by guest physical address
     * (no device mappings: no IOMMU for it; no PTE addresses). */
    if (ld->arch.type != GUEST_PV &&
        (op->flags & (GNTMAP_device_map | GNTMAP_contains_pte) ||
         !(op->flags & GNTMAP_host_map))) {
        op->status = GNTST_general_error;
        return;
    }
    struct domain *rd = domain_get(op->dom);
    if (!rd) {
        op->status = GNTST_bad_domain;
        return;
    }
    domain_lock2(ld, rd);
    /* A dying (shut-down) domain is gone as far as grants go. */
    if (rd->shutdown || ld->shutdown)
        op->status = GNTST_bad_domain;
    else
        map_one_locked(op, ld, rd);
    domain_unlock2(ld, rd);
    domain_put(rd);
}

static void map_one_locked(struct gnttab_map_grant_ref *op, struct domain *ld,
                           struct domain *rd)
{
    struct grant_table *lgt = table_of(ld), *rgt = table_of(rd);
    int32_t h = lgt ? gnt_maptrack_get(lgt) : GNT_MT_INVALID;
    if (h == GNT_MT_INVALID) {
        op->status = GNTST_no_device_space;
        return;
    }
    if (!rgt || grow_table(rd, rgt, GNT_INITIAL_FRAMES)) {
        op->status = GNTST_bad_gntref;
        gnt_maptrack_put(lgt, (uint32_t)h);
        return;
    }
    bool ro = op->flags & GNTMAP_readonly;
    /* What the mapping keeps: its kinds, and how its host address is to
     * be read at the unmap (GNTMAP_contains_pte, as Xen keeps it). */
    uint32_t flags = op->flags & (GNTMAP_device_map | GNTMAP_host_map | GNTMAP_readonly |
                                  ((op->flags & GNTMAP_host_map) ? GNTMAP_contains_pte : 0));
    uint64_t mfn;
    int16_t rc = GNTST_okay;
    unsigned pinned = 0;
    /* Each of device_map and host_map is one pin, as in Xen.  The PV MMU
     * refuses a writable host mapping of a page table. */
    for (uint32_t kind = GNTMAP_device_map; kind <= GNTMAP_host_map; kind <<= 1) {
        if (!(flags & kind))
            continue;
        rc = gnt_pin(rgt, op->ref, ld->id, ro, true, pin_kind(kind | (flags & GNTMAP_readonly)),
                     &mfn);
        if (rc != GNTST_okay)
            break;
        pinned |= kind;
    }
    if (rc == GNTST_okay)
        mfn = granted_mfn(rd, mfn);
    if (rc == GNTST_okay && !frame_of(rd, mfn))
        rc = GNTST_bad_page;
    /* A device owner's devices reach what it maps, as in Xen. */
    bool io_mapped = false;
    if (rc == GNTST_okay && rd != ld) {
        if (iommu_grant_map(ld, mfn, !ro))
            rc = GNTST_no_device_space;
        else
            io_mapped = true;
    }
    /* The host mapping's entry holds its own references, as any L1
     * entry (pv_map_grant; an entry it replaces gives its up).
     * A device mapping holds its own reference (and a writable type if
     * writable) until it is unmapped or the mapper dies: the granter
     * cannot free the frame under a bus address it handed out. */
    bool dev_ref = false;
    if (rc == GNTST_okay && (flags & GNTMAP_device_map)) {
        if (get_page_and_type_any(mfn, !ro, rd))
            dev_ref = true;
        else
            rc = GNTST_general_error;
    }
    if (rc == GNTST_okay && (flags & GNTMAP_host_map) &&
        host_map_grant(ld, rd, op->host_addr, mfn, op->flags) < 0)
        rc = GNTST_general_error;
    if (rc != GNTST_okay) {
        if (io_mapped)
            iommu_grant_unmap(ld, mfn, !ro);
        if (dev_ref)
            put_page_and_type(mfn, !ro);
        for (uint32_t kind = GNTMAP_host_map; kind >= GNTMAP_device_map; kind >>= 1)
            if (pinned & kind)
                gnt_unpin(rgt, op->ref, ro, pin_kind(kind | (flags & GNTMAP_readonly)));
        gnt_maptrack_put(lgt, (uint32_t)h);
        op->status = rc;
        return;
    }
    struct gnt_mapping *m = gnt_maptrack(lgt, (uint32_t)h);
    m->ref = op->ref;
    m->domid = rd->id;
    m->frame = mfn;
    m->flags = (uint16_t)flags;
    op->dev_bus_addr = mfn << PAGE_SHIFT;
    op->handle = (grant_handle_t)h;
    op->status = GNTST_okay;
}

/* An unmap (GNTTABOP_unmap_grant_ref) or an unmap-and-replace
 * (GNTTABOP_unmap_and_replace: no bus address, a new_addr), one shape
 * for both as in Xen. */
struct unmap_req {
    uint64_t host_addr, dev_bus_addr, new_addr;
    grant_handle_t handle;
    int16_t status;
};

static void unmap_one_locked(struct unmap_req *op, struct domain *ld, struct domain *rd);

/* The mapping names its granter; both locks are taken, and the mapping
 * looked at again under them (the granter may have died meanwhile). */
static void unmap_one(struct unmap_req *op)
{
    struct domain *ld = current_domain();
    for (;;) {
        domain_lock(ld);
        struct grant_table *lgt = ld->grant_table;
        struct gnt_mapping *m = lgt ? gnt_maptrack(lgt, op->handle) : NULL;
        if (!m || !m->flags) {
            domain_unlock(ld);
            op->status = GNTST_bad_handle;
            return;
        }
        domid_t rid = m->domid;
        if (rid == DOMID_INVALID || rid == ld->id) {
            unmap_one_locked(op, ld, rid == ld->id ? ld : NULL);
            domain_unlock(ld);
            return;
        }
        domain_unlock(ld);
        struct domain *rd = domain_get(rid);
        if (rd)
            domain_lock2(ld, rd);
        else
            domain_lock(ld);
        lgt = ld->grant_table;
        m = lgt ? gnt_maptrack(lgt, op->handle) : NULL;
        bool same = m && m->flags && m->domid == rid && rd && rd->grant_table;
        if (same)
            unmap_one_locked(op, ld, rd);
        if (rd) {
            domain_unlock2(ld, rd);
            domain_put(rd);
        } else {
            domain_unlock(ld);
        }
        if (same)
            return;
    }
}

/*
 * As Xen's unmap_common: a bus address given for a device mapping must be
 * the one it has (GNTST_bad_dev_addr); each half goes only if its address
 * is given.  The host address is not compared with the one mapped (Xen
 * keeps none): the entry there must map the frame as the grant was mapped
 * (pv_unmap_grant), else GNTST_general_error and nothing changes.
 */
static void unmap_one_locked(struct unmap_req *op, struct domain *ld, struct domain *rd)
{
    struct gnt_mapping *m = gnt_maptrack(ld->grant_table, op->handle);
    struct grant_table *lgt = ld->grant_table;
    /* The granter may be gone (rd NULL, m->domid DOMID_INVALID): its frame
     * lives on while mapped, and the mapping is undone as any other. */
    if (op->dev_bus_addr && (m->flags & GNTMAP_device_map) &&
        op->dev_bus_addr != m->frame << PAGE_SHIFT) {
        op->status = GNTST_bad_dev_addr;
        return;
    }
    uint16_t done = 0, will = 0, kinds = m->flags & (GNTMAP_device_map | GNTMAP_host_map);
    if (op->host_addr && (m->flags & GNTMAP_host_map))
        will |= GNTMAP_host_map;
    if (op->dev_bus_addr && (m->flags & GNTMAP_device_map))
        will |= GNTMAP_device_map;
    /* The mapping's last half goes: out of the IOMMU before its frame
     * reference can go. */
    bool wr = !(m->flags & GNTMAP_readonly), io_last = will && will == kinds && m->domid != ld->id;
    if (io_last)
        iommu_grant_unmap(ld, m->frame, wr);
    if (op->host_addr && (m->flags & GNTMAP_host_map)) {
        if (host_unmap_grant(ld, op->host_addr, m->frame, m->flags, op->new_addr) < 0) {
            if (io_last && iommu_grant_map(ld, m->frame, wr))
                printk("grant: d%u's devices lost their mapping of frame %lx\n", ld->id,
                       (unsigned long)m->frame);
            op->status = GNTST_general_error;
            return;
        }
        done |= GNTMAP_host_map;
    }
    if (op->dev_bus_addr && (m->flags & GNTMAP_device_map)) {
        put_page_and_type(m->frame, !(m->flags & GNTMAP_readonly));
        done |= GNTMAP_device_map;
    }
    if (rd) {
        struct gnt_mapping undo = *m;
        undo.flags = (uint16_t)(done | (m->flags & GNTMAP_readonly));
        unpin_mapping(&undo, rd);
    }
    m->flags &= (uint16_t)~done;
    if (!(m->flags & (GNTMAP_device_map | GNTMAP_host_map)))
        gnt_maptrack_put(lgt, op->handle);
    op->status = GNTST_okay;
}

/* One side of a copy: a granted frame (pinned) or a frame of our own,
 * with a reference to the frame (and a writable type for the destination)
 * while it is copied, and a reference to its domain (b->d). */
struct copy_buf {
    struct domain *d;
    bool have_grant, have_page, have_type, readonly;
    grant_ref_t ref;
    uint64_t mfn;
    unsigned start, len;         /* the bytes it may touch (v2 sub-page) */
};

static void copy_release(struct copy_buf *b)
{
    if (b->have_type)
        put_page_type(b->mfn);
    b->have_type = false;
    if (b->have_page)
        put_page(b->mfn);
    b->have_page = false;
    if (b->have_grant) {         /* the only part under the granter's lock */
        domain_lock(b->d);
        if (b->d->grant_table)
            gnt_unpin(b->d->grant_table, b->ref, b->readonly,
                      b->readonly ? GNTPIN_hstr_inc : GNTPIN_hstw_inc);
        domain_unlock(b->d);
    }
    b->have_grant = false;
}

static int16_t copy_claim_locked(const struct gnttab_copy_ptr *p, bool by_gref, bool readonly,
                                 struct copy_buf *b);

/* A grant is pinned under its granter's lock; a frame of our own needs
 * only its references (atomic). */
static int16_t copy_claim(const struct gnttab_copy_ptr *p, bool by_gref, bool readonly,
                          struct copy_buf *b)
{
    if (!by_gref)
        return copy_claim_locked(p, by_gref, readonly, b);
    domain_lock(b->d);
    int16_t rc = b->d->shutdown ? GNTST_bad_domain : copy_claim_locked(p, by_gref, readonly, b);
    domain_unlock(b->d);
    return rc;
}

static int16_t copy_claim_locked(const struct gnttab_copy_ptr *p, bool by_gref, bool readonly,
                                 struct copy_buf *b)
{
    struct domain *cd = current_domain();
    b->readonly = readonly;
    if (by_gref) {
        struct grant_table *gt = table_of(b->d);
        if (!gt || grow_table(b->d, gt, GNT_INITIAL_FRAMES))
            return GNTST_general_error;
        int16_t rc = gnt_pin(gt, p->u.ref, cd->id, readonly, false,
                             readonly ? GNTPIN_hstr_inc : GNTPIN_hstw_inc, &b->mfn);
        if (rc != GNTST_okay)
            return rc;
        b->have_grant = true;
        b->ref = p->u.ref;
        const struct gnt_active *act = gnt_act(gt, p->u.ref);
        b->start = act->start;
        b->len = act->length;
        b->mfn = granted_mfn(b->d, b->mfn);
        if (!frame_of(b->d, b->mfn))
            return GNTST_bad_page;
    } else {
        b->mfn = granted_mfn(b->d, p->u.gmfn);   /* PV: the frame number is the mfn */
        b->start = 0;
        b->len = PAGE_SIZE;
        if (!frame_of(b->d, b->mfn))
            return GNTST_bad_page;
    }
    if (!get_page(b->mfn, b->d))
        return GNTST_bad_page;
    b->have_page = true;
    if (!readonly) {
        if (get_page_type(b->mfn, PGT_WRITABLE, b->d))
            return GNTST_general_error;   /* a page table */
        b->have_type = true;
    }
    return GNTST_okay;
}

static struct domain *copy_domain(domid_t dom, bool by_gref, int16_t *rc)
{
    if (dom != DOMID_SELF && !by_gref) {
        *rc = GNTST_permission_denied;    /* only DOMID_SELF names frames */
        return NULL;
    }
    struct domain *cd = current_domain();
    if (dom == DOMID_SELF || dom == cd->id)
        return cd;               /* no reference: it is running this */
    struct domain *d = domain_get(dom);
    if (d && d->shutdown) {
        domain_put(d);
        d = NULL;
    }
    if (!d)
        *rc = GNTST_bad_domain;
    return d;
}


static int16_t copy_one(const struct gnttab_copy *op)
{
    struct copy_buf src = { 0 }, dst = { 0 };
    int16_t rc = GNTST_okay;
    bool sg = op->flags & GNTCOPY_source_gref, dg = op->flags & GNTCOPY_dest_gref;
    src.d = copy_domain(op->source.domid, sg, &rc);
    if (!src.d)
        return rc;
    dst.d = copy_domain(op->dest.domid, dg, &rc);
    if (!dst.d) {
        domain_put_named(src.d);
        return rc;
    }
    rc = copy_claim(&op->source, sg, true, &src);
    if (rc == GNTST_okay)
        rc = copy_claim(&op->dest, dg, false, &dst);
    if (rc == GNTST_okay &&
        (op->source.offset + op->len > PAGE_SIZE || op->dest.offset + op->len > PAGE_SIZE))
        rc = GNTST_bad_copy_arg;
    /* As Xen: within what a (v2 sub-page) grant grants, else a general error. */
    if (rc == GNTST_okay &&
        (op->source.offset < src.start || op->source.offset + op->len > src.start + src.len ||
         op->dest.offset < dst.start || op->dest.offset + op->len > dst.start + dst.len))
        rc = GNTST_general_error;
    if (rc == GNTST_okay)
        memmove((uint8_t *)pfn_to_virt(dst.mfn) + op->dest.offset,
                (const uint8_t *)pfn_to_virt(src.mfn) + op->source.offset, op->len);
    copy_release(&dst);
    copy_release(&src);
    domain_put_named(dst.d);
    domain_put_named(src.d);
    return rc;
}

/* The status frames, unused now (v2 to v1), unless the guest still maps
 * one: Xen then refuses the switch (-EBUSY).  Ours stay allocated for a
 * later v2 (Xen frees them); the guest no longer learns their numbers. */
static long status_frames_retire(struct grant_table *gt)
{
    for (unsigned i = 0; i < gt->nr_status_frames; i++) {
        const struct page_info *pg = &frame_table[virt_to_pfn(gt->status[i])];
        if (__atomic_load_n(&pg->count, __ATOMIC_ACQUIRE) != 1 ||
            PGT_COUNT(__atomic_load_n(&pg->type_info, __ATOMIC_ACQUIRE)) != 1)
            return -XEN_EBUSY;
    }
    gt->nr_status_frames = 0;
    return 0;
}

/* d's domain lock.  As Xen's gnttab_set_version: no grant but the 8
 * reserved ones in use; those are carried over into the new format; the
 * rest of the table is cleared. */
static long set_version_locked(struct domain *d, struct grant_table *gt, unsigned version)
{
    if (gt->version == version)
        return 0;
    for (grant_ref_t r = GNTTAB_NR_RESERVED_ENTRIES; r < gnt_nr_entries(gt); r++)
        if (gnt_act(gt, r)->pin)
            return -XEN_EBUSY;
    grant_entry_v1_t keep[GNTTAB_NR_RESERVED_ENTRIES];
    unsigned nkeep = MIN((unsigned)GNTTAB_NR_RESERVED_ENTRIES, gnt_nr_entries(gt));
    memset(keep, 0, sizeof(keep));
    if (gt->version == 1) {
        for (unsigned i = 0; i < nkeep; i++)
            keep[i] = *gnt_shared(gt, i);
        if (status_frames(d, gt, gt->nr_frames)) {
            gt->nr_status_frames = 0;
            return -XEN_ENOMEM;
        }
    } else {
        for (unsigned i = 0; i < nkeep; i++) {
            grant_entry_v2_t *e = gnt_shared_v2(gt, i);
            uint16_t type = e->hdr.flags & GTF_type_mask;
            if ((type == GTF_permit_access && (e->full_page.frame >> 32)) ||
                type == GTF_transitive)
                return -XEN_ERANGE;          /* not representable in v1 */
        }
        for (unsigned i = 0; i < nkeep; i++) {
            grant_entry_v2_t *e = gnt_shared_v2(gt, i);
            if ((e->hdr.flags & GTF_type_mask) != GTF_permit_access)
                continue;                    /* anything else: cleared */
            keep[i].flags = e->hdr.flags | *gnt_status(gt, i);
            keep[i].domid = e->hdr.domid;
            keep[i].frame = (uint32_t)e->full_page.frame;
        }
        long rc = status_frames_retire(gt);
        if (rc)
            return rc;
        /* A PVH guest (d is the caller) loses the ones in its p2m, as
         * Xen takes them out of a translated guest's. */
        if (d->arch.type != GUEST_PV)
            hvm_p2m_unmap_status_frames(d);
    }
    for (unsigned i = 0; i < gt->nr_frames; i++)
        memset(gt->shared[i], 0, PAGE_SIZE);
    gt->version = version;
    for (unsigned i = 0; i < nkeep; i++) {
        if (version == 1) {
            *gnt_shared(gt, i) = keep[i];
        } else {
            grant_entry_v2_t *e = gnt_shared_v2(gt, i);
            *gnt_status(gt, i) = keep[i].flags & (GTF_reading | GTF_writing);
            e->hdr.flags = keep[i].flags & ~(GTF_reading | GTF_writing);
            e->hdr.domid = keep[i].domid;
            e->full_page.frame = keep[i].frame;
        }
    }
    return 0;
}

static long set_version(unsigned long arg)
{
    struct gnttab_set_version op;
    if (copy_from_guest(&op, arg, sizeof(op)))
        return -XEN_EFAULT;
    struct domain *d = current_domain();
    long rc = -XEN_EINVAL;
    domain_lock(d);
    struct grant_table *gt = table_of(d);
    /* As Xen: a table has its first frame from the start. */
    if (!gt || grow_table(d, gt, GNT_INITIAL_FRAMES))
        rc = -XEN_ENOMEM;
    else if (op.version == 1 || op.version == 2)
        rc = set_version_locked(d, gt, op.version);
    op.version = gt ? gt->version : 1;
    domain_unlock(d);
    if (copy_to_guest(arg, &op, sizeof(op)))
        return -XEN_EFAULT;
    return rc;
}

static long get_version(unsigned long arg)
{
    struct gnttab_get_version op;
    if (copy_from_guest(&op, arg, sizeof(op)))
        return -XEN_EFAULT;
    int16_t st = GNTST_okay;
    struct domain *d = any_domain(op.dom, &st);
    if (!d)
        return st == GNTST_bad_domain ? -XEN_ESRCH : -XEN_EPERM;
    domain_lock(d);
    op.version = d->grant_table ? d->grant_table->version : 1;
    domain_unlock(d);
    domain_put_named(d);
    if (copy_to_guest(arg + offsetof(struct gnttab_get_version, version), &op.version,
                      sizeof(op.version)))
        return -XEN_EFAULT;
    return 0;
}

/* v2's status frames (none in v1: any request for one fails, as in Xen). */
static long get_status_frames(unsigned long arg, unsigned count)
{
    struct gnttab_get_status_frames op;
    if (count != 1)
        return -XEN_EINVAL;
    if (copy_from_guest(&op, arg, sizeof(op)))
        return -XEN_EFAULT;
    unsigned long list = (unsigned long)op.frame_list.p;
    if (!guest_array_ok(list, op.nr_frames, sizeof(uint64_t)))
        return -XEN_EFAULT;      /* as Xen, before the domain is looked up */
    int16_t st = GNTST_okay;
    struct domain *d = any_domain(op.dom, &st);
    if (d) {
        domain_lock(d);
        struct grant_table *gt = d->grant_table;
        if (op.nr_frames > (gt ? gt->nr_status_frames : 0)) {
            st = GNTST_general_error;
        } else {
            for (unsigned i = 0; i < op.nr_frames; i++) {
                /* PVH: the GFN it mapped the frame at, or ~0, as setup_table. */
                uint64_t f = d->arch.type == GUEST_PV ? virt_to_pfn(gt->status[i])
                                                      : hvm_p2m_status_gfn(d, i);
                if (copy_to_guest(list + i * sizeof(f), &f, sizeof(f)))
                    st = GNTST_bad_virt_addr;
            }
        }
        domain_unlock(d);
        domain_put_named(d);
    }
    op.status = st;
    if (copy_to_guest(arg + offsetof(struct gnttab_get_status_frames, status), &op.status,
                      sizeof(op.status)))
        return -XEN_EFAULT;
    return 0;
}

/* map, unmap, unmap_and_replace and copy batches are preemptible as Xen's
 * (hypercall_preempt_due): the continuation calls again with the list
 * advanced past the i done and the rest of the count. */
static long gnt_continue(unsigned long cmd, unsigned long arg, unsigned left)
{
    return hypercall_create_continuation(__HYPERVISOR_grant_table_op, cmd, arg, left, 0, 0);
}

long do_grant_table_op(unsigned long cmd, unsigned long arg, unsigned long count,
                       unsigned long a4, unsigned long a5)
{
    (void)a4, (void)a5;
    unsigned n = (unsigned)count;
    if ((int)n < 0)
        return -XEN_EINVAL;
    if ((cmd & ~(unsigned long)GNTTABOP_CMD_MASK) && (cmd & GNTTABOP_CMD_MASK) !=
        GNTTABOP_cache_flush)
        return -XEN_EINVAL;
    cmd &= GNTTABOP_CMD_MASK;
    switch (cmd) {
    case GNTTABOP_setup_table:
        return setup_table(arg, n);
    case GNTTABOP_query_size:
        return query_size(arg, n);
    case GNTTABOP_set_version:
        return set_version(arg);
    case GNTTABOP_get_version:
        return get_version(arg);
    case GNTTABOP_get_status_frames:
        return get_status_frames(arg, n);
    case GNTTABOP_map_grant_ref: {
        struct gnttab_map_grant_ref op;
        if (!guest_array_ok(arg, n, sizeof(op)))
            return -XEN_EFAULT;
        for (unsigned i = 0; i < n; i++, arg += sizeof(op)) {
            if (hypercall_preempt_due(i))
                return gnt_continue(cmd, arg, n - i);
            if (copy_from_guest(&op, arg, sizeof(op)))
                return -XEN_EFAULT;
            map_one(&op);
            if (copy_to_guest(arg, &op, sizeof(op)))
                return -XEN_EFAULT;   /* as Xen: the mapping stays */
        }
        return 0;
    }
    case GNTTABOP_unmap_grant_ref: {
        struct gnttab_unmap_grant_ref op;
        if (!guest_array_ok(arg, n, sizeof(op)))
            return -XEN_EFAULT;
        for (unsigned i = 0; i < n; i++, arg += sizeof(op)) {
            if (hypercall_preempt_due(i))
                return gnt_continue(cmd, arg, n - i);
            if (copy_from_guest(&op, arg, sizeof(op)))
                return -XEN_EFAULT;
            struct unmap_req r = { .host_addr = op.host_addr, .dev_bus_addr = op.dev_bus_addr,
                                   .handle = op.handle };
            unmap_one(&r);
            if (copy_to_guest(arg + offsetof(struct gnttab_unmap_grant_ref, status),
                              &r.status, sizeof(r.status)))
                return -XEN_EFAULT;
        }
        return 0;
    }
    case GNTTABOP_unmap_and_replace: {
        struct gnttab_unmap_and_replace op;
        if (!guest_array_ok(arg, n, sizeof(op)))
            return -XEN_EFAULT;
        for (unsigned i = 0; i < n; i++, arg += sizeof(op)) {
            if (hypercall_preempt_due(i))
                return gnt_continue(cmd, arg, n - i);
            if (copy_from_guest(&op, arg, sizeof(op)))
                return -XEN_EFAULT;
            struct unmap_req r = { .host_addr = op.host_addr, .new_addr = op.new_addr,
                                   .handle = op.handle };
            unmap_one(&r);
            if (copy_to_guest(arg + offsetof(struct gnttab_unmap_and_replace, status),
                              &r.status, sizeof(r.status)))
                return -XEN_EFAULT;
        }
        return 0;
    }
    case GNTTABOP_copy: {
        struct gnttab_copy op;
        if (!guest_array_ok(arg, n, sizeof(op)))
            return -XEN_EFAULT;
        for (unsigned i = 0; i < n; i++, arg += sizeof(op)) {
            if (hypercall_preempt_due(i))
                return gnt_continue(cmd, arg, n - i);
            if (copy_from_guest(&op, arg, sizeof(op)))
                return -XEN_EFAULT;
            op.status = copy_one(&op);
            if (copy_to_guest(arg + offsetof(struct gnttab_copy, status), &op.status,
                              sizeof(op.status)))
                return -XEN_EFAULT;
        }
        return 0;
    }
    default:
        /* transfer, swap_grant_ref, cache_flush */
        return -XEN_ENOSYS;
    }
}

/*
 * d is being destroyed.  Its own mappings of others' grants give back
 * their pins (as Xen's gnttab_release_mappings; the host mappings go with
 * its page tables).  Others' mappings of d's grants stay: the PV MMU's
 * frame references keep those frames until the last mapping goes, and the
 * mappers' maptrack entries are marked (domid DOMID_INVALID) so that their
 * unmap still works once d's table is gone.
 */
void grant_table_destroy(struct domain *d)
{
    if (!d->grant_table)
        return;
    /* Its mappings of others' grants: each with both locks. */
    for (uint32_t h = 0; ; h++) {
        domain_lock(d);
        struct grant_table *gt = d->grant_table;
        if (h >= gt->maptrack_limit || !gt->nr_mappings) {
            domain_unlock(d);
            break;
        }
        struct gnt_mapping *m = gnt_maptrack(gt, h);
        domid_t rid = m->flags ? m->domid : DOMID_INVALID;
        domain_unlock(d);
        struct domain *rd = rid == DOMID_INVALID || rid == d->id ? NULL : domain_get(rid);
        domain_lock2(d, rd ? rd : d);
        if (m->flags) {
            if (rid != d->id)
                iommu_grant_unmap(d, m->frame, !(m->flags & GNTMAP_readonly));
            if (rd && m->domid == rid && rd->grant_table)
                unpin_mapping(m, rd);
            else if (rid == d->id)
                unpin_mapping(m, d);
            if (m->flags & GNTMAP_device_map)
                put_page_and_type(m->frame, !(m->flags & GNTMAP_readonly));
            gnt_maptrack_put(gt, h);
        }
        domain_unlock2(d, rd ? rd : d);
        if (rd)
            domain_put(rd);
    }
    /* Others' mappings of its grants: their maptrack entries are marked
     * (domid DOMID_INVALID), each with both locks. */
    for (grant_ref_t ref = 0; ; ref++) {
        domain_lock(d);
        struct grant_table *gt = d->grant_table;
        if (ref >= gnt_nr_entries(gt)) {
            domain_unlock(d);
            break;
        }
        struct gnt_active *act = gnt_act(gt, ref);
        domid_t lid = act->pin ? act->domid : DOMID_INVALID;
        domain_unlock(d);
        if (lid == DOMID_INVALID || lid == d->id)
            continue;
        struct domain *ld = domain_get(lid);
        if (!ld)
            continue;
        domain_lock2(d, ld);
        struct grant_table *lgt = ld->grant_table;
        for (uint32_t h = 0; lgt && h < lgt->maptrack_limit; h++) {
            struct gnt_mapping *m = gnt_maptrack(lgt, h);
            if (m->flags && m->domid == d->id && m->ref == ref)
                m->domid = DOMID_INVALID;
        }
        domain_unlock2(d, ld);
        domain_put(ld);
    }
    domain_lock(d);
    struct grant_table *gt = d->grant_table;
    d->grant_table = NULL;
    domain_unlock(d);
    gnt_table_free(gt);
    free_hv_pages(gt, 0);
}
