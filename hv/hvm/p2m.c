/*
 * The p2m of an HVM/PVH domain (docs/hvm.md): 4-level nested page
 * tables, in hypervisor pages (counted in p2m_tables, freed with the
 * domain), mapping guest frame i to the i-th frame the builder allocated
 * for the domain, read-write-execute, write-back (the guest's PAT and
 * MTRR-free default decide the rest).  Beyond its RAM it maps only the
 * frames add_to_physmap places there (shared_info, grant and status
 * frames: Linux puts its grant table above 4G), below the physical
 * width; any other guest address there is a nested page fault.
 *
 * Built once before the domain first runs; while it lives only its own
 * (only) vCPU changes leaves, each by one 64-bit store: add_to_physmap
 * of shared_info, grant and status frames, and grants it maps
 * (map_grant_ref).  The RAM frame a leaf hid stays the domain's until it
 * dies, and a granted frame holds its references while mapped, so every
 * frame a reader can see stays allocated; readers that hand a frame on
 * (grants, foreign mappings, the FIFO pages) check its owner or take RAM
 * leaves only (hvm_p2m_ram).  Readers (the exit handlers, guest_access)
 * take no lock; freed only by the reaper, when no pCPU runs the domain.
 */
#include "lib.h"
#include "mm.h"
#include "domain.h"
#include "hvm.h"
#include "x86.h"
#include <xen/errno.h>

#define NPT_P   1ULL
#define NPT_RW  2ULL
#define NPT_US  4ULL                /* nested walks are user accesses */
#define NPT_A   (1ULL << 5)
#define NPT_D   (1ULL << 6)
#define NPT_ADDR 0x000ffffffffff000ULL
#define NPT_TABLE (NPT_P | NPT_RW | NPT_US | NPT_A)
#define NPT_LEAF  (NPT_P | NPT_RW | NPT_US | NPT_A | NPT_D)

/* The entry for gfn at level 1, the tables on the way made if make
 * (after the build, HVM_P2M_EXTRA_TABLES at most); NULL past the
 * physical width.  A new table is zeroed before it is linked, so a
 * reader on another pCPU sees either nothing or an empty table. */
static uint64_t *leaf_slot(struct domain *d, uint64_t gfn, bool make)
{
    struct hvm_domain *h = &d->arch.hvm;
    if (gfn >= h->gfn_limit)
        return NULL;
    uint64_t *t = VA(h->p2m_root);
    for (int level = 4; level > 1; level--) {
        unsigned idx = (gfn >> (9 * (level - 1))) & 511;
        uint64_t e = __atomic_load_n(&t[idx], __ATOMIC_ACQUIRE);
        if (!(e & NPT_P)) {
            if (!make)
                return NULL;
            if (h->nr_gfns && h->p2m_tables - h->p2m_built >= HVM_P2M_EXTRA_TABLES)
                return NULL;
            uint64_t *n = alloc_hv_pages(0);
            if (!n)
                return NULL;
            h->p2m_tables++;
            e = PA(n) | NPT_TABLE;
            __atomic_store_n(&t[idx], e, __ATOMIC_RELEASE);
        }
        t = VA(e & NPT_ADDR);
    }
    return &t[gfn & 511];
}

/*
 * Where add_to_physmap puts a frame at gfn, and what that hides: inside
 * its RAM the RAM frame there (kept, given back when the frame moves);
 * above it, where nothing is mapped, HVM_P2M_HOLE (the tables on the
 * way made: -ENOMEM past HVM_P2M_EXTRA_TABLES).  Past the physical width,
 * or above RAM where a frame already is, -EINVAL (callers refuse the
 * GFNs of their other frames first).
 */
static int place_slot(struct domain *d, uint64_t gfn, uint64_t **slot, uint64_t *hidden)
{
    struct hvm_domain *h = &d->arch.hvm;
    if (gfn >= h->gfn_limit)
        return -XEN_EINVAL;
    uint64_t *e = leaf_slot(d, gfn, gfn >= h->nr_gfns);
    if (!e)
        return gfn < h->nr_gfns ? -XEN_EINVAL : -XEN_ENOMEM;
    if (gfn < h->nr_gfns) {
        if (!(*e & NPT_P))
            return -XEN_EINVAL;
        *hidden = (*e & NPT_ADDR) >> PAGE_SHIFT;
    } else {
        if (*e & NPT_P)
            return -XEN_EINVAL;
        *hidden = HVM_P2M_HOLE;
    }
    *slot = e;
    return 0;
}

/* A frame leaves gfn: what it hid comes back (a hole: not present). */
static void restore_leaf(struct domain *d, uint64_t gfn, uint64_t hidden)
{
    uint64_t *e = leaf_slot(d, gfn, false);
    if (e)
        __atomic_store_n(e, hidden == HVM_P2M_HOLE ? 0 : (hidden << PAGE_SHIFT) | NPT_LEAF,
                         __ATOMIC_RELEASE);
}

/* An empty p2m: its root, and the guest's physical width. */
static int p2m_init(struct domain *d)
{
    /* The guest sees the host's physical width (the CPUID policy's
     * 0x80000008); the NPT reaches 48 bits. */
    uint32_t a, b, c, x;
    cpuid(0x80000008, 0, &a, &b, &c, &x);
    unsigned width = a & 0xff;
    if (width < 32 || width > 48)
        width = 36;
    uint64_t *root = alloc_hv_pages(0);
    if (!root)
        return -XEN_ENOMEM;
    d->arch.hvm.gfn_limit = 1ULL << (width - PAGE_SHIFT);
    d->arch.hvm.p2m_root = PA(root);
    d->arch.hvm.p2m_tables = 1;
    return 0;
}

int hvm_p2m_build(struct domain *d, const uint64_t *mfns, uint64_t nr)
{
    int rc = p2m_init(d);
    if (rc)
        return rc;
    if (nr > d->arch.hvm.gfn_limit)
        return -XEN_EINVAL;
    for (uint64_t gfn = 0; gfn < nr; gfn++) {
        const struct page_info *pg = &frame_table[mfns[gfn]];
        if (pg->owner != d->id)         /* never a frame it does not own */
            return -XEN_EINVAL;
        uint64_t *e = leaf_slot(d, gfn, true);
        if (!e)
            return -XEN_ENOMEM;         /* what was made goes with the domain */
        *e = (mfns[gfn] << PAGE_SHIFT) | NPT_LEAF;
    }
    d->arch.hvm.p2m_built = d->arch.hvm.p2m_tables;
    d->arch.hvm.nr_gfns = nr;
    return 0;
}

/*
 * A toolstack's populate_physmap (memory.c), before the domain's vCPUs
 * have a state: Keel's p2m holds RAM from gfn 0 up without holes (the
 * layout of every builder, dombuild_pvh.h), so an extent continues it;
 * any other gfn is -EINVAL, and once a vCPU is set -EBUSY (Xen lets a
 * running HVM guest's p2m grow; Keel's readers assume it does not).
 */
long hvm_p2m_populate(struct domain *d, uint64_t gfn, unsigned order)
{
    struct hvm_domain *h = &d->arch.hvm;
    uint64_t n = 1ULL << order;
    if (h->firmware)
        return -XEN_EINVAL;
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i] && d->vcpu[i]->initialised)
            return -XEN_EBUSY;
    if (!h->p2m_root) {
        int rc = p2m_init(d);
        if (rc)
            return rc;
    }
    if (gfn != h->nr_gfns || gfn + n > h->gfn_limit || ((gfn + n) << PAGE_SHIFT) > PVH_MAX_MEM)
        return -XEN_EINVAL;
    if (d->nr_pages + n > d->max_pages)
        return -XEN_ENOMEM;
    uint64_t base;
    if (domain_alloc_pages(d, order, &base))
        return -XEN_ENOMEM;
    d->nr_pages += n;
    /* The frames are d's from here on (freed with it, whatever follows). */
    for (uint64_t j = 0; j < n; j++) {
        uint64_t *e = leaf_slot(d, gfn + j, true);
        if (!e)
            return -XEN_ENOMEM;
        m2p[base + j] = gfn + j;        /* as Xen keeps the M2P for HVM frames */
        __atomic_store_n(e, ((base + j) << PAGE_SHIFT) | NPT_LEAF, __ATOMIC_RELEASE);
    }
    h->nr_gfns += n;
    h->p2m_built = h->p2m_tables;
    return 0;
}

/* At build, after hvm_p2m_build: n of d's frames at gfn.. above its RAM,
 * where nothing is mapped (a firmware's alias below 4G); the tables they
 * need count as the builder's. */
int hvm_p2m_build_extra(struct domain *d, uint64_t gfn, const uint64_t *mfns, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        if (gfn + i < d->arch.hvm.nr_gfns || frame_table[mfns[i]].owner != d->id)
            return -XEN_EINVAL;
        uint64_t *e = leaf_slot(d, gfn + i, true);
        if (!e || (*e & NPT_P))
            return e ? -XEN_EINVAL : -XEN_ENOMEM;
        *e = (mfns[i] << PAGE_SHIFT) | NPT_LEAF;
        d->arch.hvm.p2m_built = d->arch.hvm.p2m_tables;
    }
    return 0;
}

uint64_t hvm_p2m_lookup(struct domain *d, uint64_t gfn)
{
    if (!d->arch.hvm.p2m_root)
        return ~0ULL;
    uint64_t *e = leaf_slot(d, gfn, false);
    if (!e || !(*e & NPT_P))
        return ~0ULL;
    return (*e & NPT_ADDR) >> PAGE_SHIFT;
}

/*
 * XENMEM_add_to_physmap(XENMAPSPACE_shared_info) at gfn (place_slot).
 * The RAM frame there stays the domain's (freed with it), hidden while
 * shared_info is mapped over it; mapping shared_info again elsewhere
 * puts that frame back at the old gfn (Xen would leave a hole there and
 * free the frame), or the hole.  Then every vCPU takes a fresh ASID,
 * so no stale guest TLB entry names the old frame.  The caller is the
 * domain's only vCPU (a PVH domain has one), so no two run this at once.
 */
static int gnt_map_slot(struct domain *d, uint64_t gfn);

static bool grant_gfn(struct domain *d, uint64_t gfn)
{
    for (unsigned i = 0; i < HVM_GT_FRAMES; i++)
        if (d->arch.hvm.gt_ram_mfn[i] && d->arch.hvm.gt_gfn[i] == gfn)
            return true;
    for (unsigned i = 0; i < HVM_GT_STATUS_FRAMES; i++)
        if (d->arch.hvm.st_ram_mfn[i] && d->arch.hvm.st_gfn[i] == gfn)
            return true;
    return false;
}

int hvm_p2m_map_shared_info(struct domain *d, uint64_t gfn)
{
    struct hvm_domain *h = &d->arch.hvm;
    if (grant_gfn(d, gfn) || gnt_map_slot(d, gfn) >= 0)
        return -XEN_EINVAL;      /* not over a grant-table frame or a grant */
    uint64_t si_mfn = PA(d->shared_info) >> PAGE_SHIFT;
    if (h->si_ram_mfn && gfn == h->si_gfn)
        return 0;
    uint64_t *e, hidden;
    int rc = place_slot(d, gfn, &e, &hidden);
    if (rc)
        return rc;
    if (h->si_ram_mfn)
        restore_leaf(d, h->si_gfn, h->si_ram_mfn);
    h->si_ram_mfn = hidden;
    h->si_gfn = gfn;
    __atomic_store_n(e, (si_mfn << PAGE_SHIFT) | NPT_LEAF, __ATOMIC_RELEASE);
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i])
            hvm_vcpu_tlb_flush(d->vcpu[i]);
    return 0;
}

/* The slot of the grant mapped at gfn, or -1. */
static int gnt_map_slot(struct domain *d, uint64_t gfn)
{
    for (unsigned i = 0; i < HVM_GNT_MAPS; i++)
        if (d->arch.hvm.gnt_map[i].ram_mfn && d->arch.hvm.gnt_map[i].gfn == gfn)
            return (int)i;
    return -1;
}

/* Whether gfn holds one of the frames add_to_physmap or a grant mapping
 * put there. */
static bool special_gfn(struct domain *d, uint64_t gfn)
{
    return (d->arch.hvm.si_ram_mfn && d->arch.hvm.si_gfn == gfn) || grant_gfn(d, gfn) ||
           gnt_map_slot(d, gfn) >= 0;
}

/*
 * XENMEM_add_to_physmap(XENMAPSPACE_grant_table) of frame idx (the
 * table's frame mfn, the hypervisor's) at gfn, as shared_info above:
 * inside its RAM or above it (place_slot), what it hides given back
 * when frame idx moves; a gfn that already holds shared_info, another
 * grant frame or a grant mapping is -EINVAL (Xen would replace it).
 * Same caller rule (the domain's only vCPU) and fresh ASIDs after.
 */
/* Frame idx of a set (grant frames, status frames: gfns and the RAM
 * frames they hide) mapped at gfn; writable or not. */
static int map_table_frame(struct domain *d, uint64_t *gfns, uint64_t *ram_mfns, unsigned idx,
                           uint64_t gfn, uint64_t mfn, bool rw)
{
    if (ram_mfns[idx] && gfns[idx] == gfn)
        return 0;
    if (special_gfn(d, gfn))
        return -XEN_EINVAL;
    uint64_t *e, hidden;
    int rc = place_slot(d, gfn, &e, &hidden);
    if (rc)
        return rc;
    if (ram_mfns[idx])
        restore_leaf(d, gfns[idx], ram_mfns[idx]);
    ram_mfns[idx] = hidden;
    gfns[idx] = gfn;
    __atomic_store_n(e, (mfn << PAGE_SHIFT) | (rw ? NPT_LEAF : NPT_LEAF & ~NPT_RW),
                     __ATOMIC_RELEASE);
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i])
            hvm_vcpu_tlb_flush(d->vcpu[i]);
    return 0;
}

int hvm_p2m_map_grant_frame(struct domain *d, unsigned idx, uint64_t gfn, uint64_t mfn)
{
    if (idx >= HVM_GT_FRAMES)
        return -XEN_EINVAL;
    return map_table_frame(d, d->arch.hvm.gt_gfn, d->arch.hvm.gt_ram_mfn, idx, gfn, mfn, true);
}

/* A v2 status frame, as the grant frames but read-only: the guest reads
 * its grants' status there and cannot forge it. */
int hvm_p2m_map_status_frame(struct domain *d, unsigned idx, uint64_t gfn, uint64_t mfn)
{
    if (idx >= HVM_GT_STATUS_FRAMES)
        return -XEN_EINVAL;
    return map_table_frame(d, d->arch.hvm.st_gfn, d->arch.hvm.st_ram_mfn, idx, gfn, mfn, false);
}

/* Back to v1: every status frame out of the p2m, its RAM frame back. */
void hvm_p2m_unmap_status_frames(struct domain *d)
{
    struct hvm_domain *h = &d->arch.hvm;
    for (unsigned i = 0; i < HVM_GT_STATUS_FRAMES; i++) {
        if (!h->st_ram_mfn[i])
            continue;
        restore_leaf(d, h->st_gfn[i], h->st_ram_mfn[i]);
        h->st_ram_mfn[i] = 0;
    }
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i])
            hvm_vcpu_tlb_flush(d->vcpu[i]);
}

uint64_t hvm_p2m_status_gfn(struct domain *d, unsigned idx)
{
    if (idx >= HVM_GT_STATUS_FRAMES || !d->arch.hvm.st_ram_mfn[idx])
        return ~0ULL;
    return d->arch.hvm.st_gfn[idx];
}

uint64_t hvm_p2m_grant_gfn(struct domain *d, unsigned idx)
{
    if (idx >= HVM_GT_FRAMES || !d->arch.hvm.gt_ram_mfn[idx])
        return ~0ULL;
    return d->arch.hvm.gt_gfn[idx];
}

uint64_t hvm_p2m_ram(struct domain *d, uint64_t gfn)
{
    if (special_gfn(d, gfn))
        return ~0ULL;
    return hvm_p2m_lookup(d, gfn);
}

static void flush_all(struct domain *d)
{
    for (unsigned i = 0; i < d->nr_vcpus; i++)
        if (d->vcpu[i])
            hvm_vcpu_tlb_flush(d->vcpu[i]);
}

int hvm_p2m_map_grant(struct domain *d, uint64_t gfn, uint64_t mfn, bool ro)
{
    if (gfn >= d->arch.hvm.nr_gfns || special_gfn(d, gfn))
        return -XEN_EINVAL;
    int slot = -1;
    for (unsigned i = 0; i < HVM_GNT_MAPS && slot < 0; i++)
        if (!d->arch.hvm.gnt_map[i].ram_mfn)
            slot = (int)i;
    if (slot < 0)
        return -XEN_ENOSPC;
    uint64_t *e = leaf_slot(d, gfn, false);
    if (!e || !(*e & NPT_P))
        return -XEN_EINVAL;
    struct hvm_gnt_map *m = &d->arch.hvm.gnt_map[slot];
    m->gfn = gfn;
    m->mfn = mfn;
    m->ro = ro;
    m->ram_mfn = (*e & NPT_ADDR) >> PAGE_SHIFT;
    __atomic_store_n(e, (mfn << PAGE_SHIFT) | (ro ? NPT_LEAF & ~NPT_RW : NPT_LEAF),
                     __ATOMIC_RELEASE);
    flush_all(d);
    return 0;
}

int hvm_p2m_unmap_grant(struct domain *d, uint64_t gfn, uint64_t mfn, bool ro)
{
    int slot = gnt_map_slot(d, gfn);
    if (slot < 0 || d->arch.hvm.gnt_map[slot].mfn != mfn || d->arch.hvm.gnt_map[slot].ro != ro)
        return -XEN_EINVAL;
    struct hvm_gnt_map *m = &d->arch.hvm.gnt_map[slot];
    uint64_t *e = leaf_slot(d, gfn, false);
    if (!e)
        return -XEN_EINVAL;
    __atomic_store_n(e, (m->ram_mfn << PAGE_SHIFT) | NPT_LEAF, __ATOMIC_RELEASE);
    m->ram_mfn = 0;
    flush_all(d);
    return 0;
}

uint64_t hvm_p2m_lookup_write(struct domain *d, uint64_t gfn)
{
    if (!d->arch.hvm.p2m_root)
        return ~0ULL;
    uint64_t *e = leaf_slot(d, gfn, false);
    if (!e || (*e & (NPT_P | NPT_RW)) != (NPT_P | NPT_RW))
        return ~0ULL;
    return (*e & NPT_ADDR) >> PAGE_SHIFT;
}

static void free_level(uint64_t *t, int level, unsigned *count)
{
    if (level > 1)
        for (unsigned i = 0; i < 512; i++)
            if (t[i] & NPT_P)
                free_level(VA(t[i] & NPT_ADDR), level - 1, count);
    free_hv_pages(t, 0);
    (*count)++;
}

void hvm_p2m_free(struct domain *d)
{
    if (!d->arch.hvm.p2m_root)
        return;
    /* Grants still mapped: their frames' references go (the mapper's
     * maptrack entries were unpinned by grant_table_destroy). */
    for (unsigned i = 0; i < HVM_GNT_MAPS; i++) {
        struct hvm_gnt_map *m = &d->arch.hvm.gnt_map[i];
        if (m->ram_mfn)
            put_page_and_type(m->mfn, !m->ro);
        m->ram_mfn = 0;
    }
    unsigned freed = 0;
    free_level(VA(d->arch.hvm.p2m_root), 4, &freed);
    if (freed != d->arch.hvm.p2m_tables)
        panic("d%u: p2m had %u tables, %u freed", d->id, d->arch.hvm.p2m_tables, freed);
    d->arch.hvm.p2m_root = 0;
    d->arch.hvm.p2m_tables = 0;
    d->arch.hvm.p2m_built = 0;
    d->arch.hvm.nr_gfns = 0;
    d->arch.hvm.gfn_limit = 0;
}
