/* The PV MMU, as Xen does it: reference-counted frames and page types,
 * validated page tables, mmu_update, mmuext_op and update_va_mapping, the
 * machine-to-phys table, and the PTE installation grant mapping uses.
 * Every entry a guest names is checked: a guest never gets a writable
 * mapping of a page table, of a frame it does not own (except through a
 * grant), or of hypervisor memory. */
#include "lib.h"
#include "x86.h"
#include "mm.h"
#include "domain.h"
#include "sched.h"
#include "hypercall.h"
#include "apic.h"
#include "pv.h"
#include "flushtlb.h"
#include "xsm.h"
#include "boot.h"
#include "pci.h"
#include "iommu.h"
#include "hvm.h"
#include <xen/memory.h>
#include <xen/grant_table.h>

uint64_t *m2p;
extern uint64_t idle_cr3;

/*
 * Flags a guest may set, as Xen 4.17 checks them for a 64-bit PV guest:
 * present, writable, user, accessed, dirty, the software-available bits
 * 9-11 and 52-62 (Linux keeps its own state there), NX, and in an L1
 * entry global.  The cache attributes (PWT, PCD, PAT) only in an L1
 * entry and only for a domain with I/O resources (the hardware role, or
 * I/O ports or memory granted), as Xen allows them only to a domain with
 * I/O capabilities.  No superpages (PS above L1).
 */
#define PTE_AVAIL       (7UL << 9)
#define PTE_AVAIL_HIGH  (0x7ffUL << 52)
#define PTE_GUEST_KERNEL (1UL << 52)   /* Xen's _PAGE_GUEST_KERNEL */
#define PTE_PAT         (1UL << 7)     /* in an L1 entry */
#define LN_ALLOWED  (PTE_P | PTE_W | PTE_U | PTE_A | PTE_D | PTE_AVAIL | PTE_AVAIL_HIGH | \
                     PTE_NX | PTE_ADDR)
#define L1_ALLOWED  (LN_ALLOWED | PTE_G)
#define L1_CACHE    (PTE_PWT | PTE_PCD | PTE_PAT)

static bool has_io(const struct domain *d)
{
    return (d->roles & ROLE_HARDWARE) || d->io_ports.nr || d->io_mem.nr;
}

static struct page_info *pg(uint64_t mfn)
{
    return &frame_table[mfn];
}

/* A frame that is not RAM the allocator ever hands out: beyond the frame
 * table, or reserved for good (the first MiB, holes, firmware), not a
 * boot module (freed after boot).  Such a frame, once a domain is granted
 * it as iomem (a PCI device's BAR, pci.c), is mapped with no reference,
 * as Xen maps dom_io's frames; whether a frame is one never changes. */
static bool io_frame(uint64_t mfn)
{
    if (mfn >= max_pfn)
        return true;
    if (pg(mfn)->owner != OWNER_RESERVED)
        return false;
    uint64_t pa = mfn << PAGE_SHIFT;
    for (unsigned m = 0; m < nr_boot_modules; m++)
        if (pa + PAGE_SIZE > boot_modules[m].start && pa < ROUNDUP(boot_modules[m].end, PAGE_SIZE))
            return false;
    return true;
}

/* ---- General references. */

static bool is_domain_owner(uint16_t o)
{
    return o < DOMID_FIRST_RESERVED;
}

/* A frame whose last reference went: off its owner's list, back to the
 * allocator.  Its owner is still in the table (a domain leaves it only
 * once its list is empty), and cannot orphan it meanwhile (the reaper
 * leaves a frame with no reference to us). */
static void release_frame(uint64_t mfn)
{
    struct page_info *p = pg(mfn);
    if (is_domain_owner(p->owner)) {
        struct domain *d = domain_by_id(p->owner);
        if (!d)
            panic("release_frame: frame %lx owned by d%u, which is gone", (unsigned long)mfn,
                  p->owner);
        domain_unlink_page(d, mfn);
    }
    if (m2p)
        m2p[mfn] = ~0ULL;
    __atomic_store_n(&p->type_info, 0, __ATOMIC_RELEASE);
    /* Out of its owner's IOMMU table before anyone else can have it. */
    iommu_frame_sync(mfn);
    /* Guests may still cache translations to it: whoever gets it next
     * first flushes the CPUs that have not flushed since now. */
    p->tlbflush_timestamp = tlbflush_current_time();
    p->flags = (uint8_t)((p->flags & ~PGF_HV_SHARED) | PGF_NEED_FLUSH);
    if (free_pages(mfn, 0))
        panic("release_frame: frame %lx owned by %x not freeable",
              (unsigned long)mfn, p->owner);
}

/*
 * References are atomic (as Xen's count_info): a frame of a domain may be
 * referenced and released by any CPU, holding any lock.  A reference is
 * taken only from a count that is not 0 (a frame with none is on its way
 * back to the allocator); the owner is looked at again afterwards, since
 * the frame may have gone back and out again between the two looks.
 */
static bool get_ref(struct page_info *p)
{
    uint32_t c = __atomic_load_n(&p->count, __ATOMIC_ACQUIRE);
    do {
        if (c == 0 || c == 0xffffffffu)
            return false;
    } while (!__atomic_compare_exchange_n(&p->count, &c, c + 1, true, __ATOMIC_ACQUIRE,
                                          __ATOMIC_ACQUIRE));
    return true;
}

bool get_page(uint64_t mfn, const struct domain *d)
{
    if (mfn >= max_pfn)
        return false;
    struct page_info *p = pg(mfn);
    if (__atomic_load_n(&p->owner, __ATOMIC_ACQUIRE) != d->id || !get_ref(p))
        return false;
    if (__atomic_load_n(&p->owner, __ATOMIC_ACQUIRE) != d->id) {
        put_page(mfn);
        return false;
    }
    return true;
}

/* A reference to a frame of any domain (grant mappings: the grant code
 * has checked the granter's permission). */
static bool get_page_any(uint64_t mfn)
{
    if (mfn >= max_pfn)
        return false;
    struct page_info *p = pg(mfn);
    if (!is_domain_owner(__atomic_load_n(&p->owner, __ATOMIC_ACQUIRE)) || !get_ref(p))
        return false;
    if (!is_domain_owner(__atomic_load_n(&p->owner, __ATOMIC_ACQUIRE))) {
        put_page(mfn);
        return false;
    }
    return true;
}

/* A reference for a use of another domain's frame that is not a
 * page-table entry (a device mapping of a grant): general, and a writable
 * type if writable.  The grant code has checked the permission. */
bool get_page_and_type_any(uint64_t mfn, bool writable, struct domain *d)
{
    if (!get_page_any(mfn))
        return false;
    if (writable && get_page_type(mfn, PGT_WRITABLE, d)) {
        put_page(mfn);
        return false;            /* a page table */
    }
    return true;
}

void put_page_and_type(uint64_t mfn, bool writable)
{
    if (writable)
        put_page_type(mfn);
    put_page(mfn);
}

void put_page(uint64_t mfn)
{
    struct page_info *p = pg(mfn);
    uint32_t was = __atomic_fetch_sub(&p->count, 1, __ATOMIC_ACQ_REL);
    if (was == 0)
        panic("put_page: frame %lx has no references", (unsigned long)mfn);
    if (was == 1)
        release_frame(mfn);
}

/* ---- Types and validation. */

static long get_entry(uint64_t e, unsigned level, struct domain *d, struct domain *fd);
static void put_entry(uint64_t e, unsigned level);

static bool hv_slot(unsigned level, unsigned i)
{
    return level == 4 && i >= HV_L4_FIRST_SLOT && i <= HV_L4_LAST_SLOT;
}

/*
 * What Xen writes into a present entry of a 64-bit PV guest
 * (adjust_guest_l1e..l4e): the guest kernel runs in ring 3, so every
 * level gets _PAGE_USER.  An L1 entry the guest made without it is a
 * kernel mapping and is marked so with bit 52 (_PAGE_GUEST_KERNEL); an
 * entry without bit 52 is a user mapping and is made global.  L4 entries
 * also get _PAGE_ACCESSED.  The guest reads its entries back so.  (A
 * global entry lives no longer than any other on Keel: every full flush
 * and every switch of address space drops global entries too.)
 */
uint64_t pv_adjust_entry(uint64_t e, unsigned level)
{
    if (!(e & PTE_P))
        return e;
    if (level == 1) {
        if (!(e & PTE_U))
            e |= PTE_U | PTE_GUEST_KERNEL;
        if (!(e & PTE_GUEST_KERNEL))
            e |= PTE_G | PTE_U;
        return e;
    }
    return e | PTE_U | (level == 4 ? PTE_A : 0);
}

static bool m2p_strict(const struct domain *d)
{
    return __atomic_load_n(&d->vm_assist, __ATOMIC_ACQUIRE) & (1UL << VMASST_TYPE_m2p_strict);
}

/*
 * The read-only M2P slot of a guest L4 (L4 slot 256), as Xen 4.17 keeps
 * it for a 64-bit PV guest (init_xen_l4_slots, fill_ro_mpt, zap_ro_mpt):
 * an L4 is validated with the slot only under VMASST_TYPE_m2p_strict;
 * without it the slot is filled when the table becomes a kernel base
 * (pv_set_base); under it, the slot is cleared when the table becomes a
 * user base (pv_set_user_base).  So guest user mode sees the M2P only
 * without m2p_strict, through a user table that has been a kernel base.
 * The other hypervisor slots are always there.  Called with the table's
 * L4 type held, under d's lock.
 */
void pv_ro_m2p_fill(struct domain *d, uint64_t l4mfn)
{
    uint64_t *t = pfn_to_virt(l4mfn);
    const uint64_t *idle = pfn_to_virt(idle_cr3 >> PAGE_SHIFT);
    if (!m2p_strict(d) && !t[M2P_L4_SLOT])
        __atomic_store_n(&t[M2P_L4_SLOT], idle[M2P_L4_SLOT], __ATOMIC_RELEASE);
}

void pv_ro_m2p_zap(struct domain *d, uint64_t l4mfn)
{
    uint64_t *t = pfn_to_virt(l4mfn);
    if (m2p_strict(d))
        __atomic_store_n(&t[M2P_L4_SLOT], 0, __ATOMIC_RELEASE);
}

static long validate(uint64_t mfn, unsigned level, struct domain *d)
{
    uint64_t *t = pfn_to_virt(mfn);
    const uint64_t *idle = pfn_to_virt(idle_cr3 >> PAGE_SHIFT);
    bool ro_m2p = level == 4 && m2p_strict(d);
    for (unsigned i = 0; i < 512; i++) {
        if (hv_slot(level, i)) {
            /* The hypervisor's slots are ours to set (the M2P: above). */
            t[i] = i != M2P_L4_SLOT || ro_m2p ? idle[i] : 0;
            continue;
        }
        if (!(t[i] & PTE_P))
            continue;
        long rc = get_entry(t[i], level, d, NULL);
        if (rc) {
            while (i--)
                if (!hv_slot(level, i) && (t[i] & PTE_P))
                    put_entry(t[i], level);
            return rc;
        }
        t[i] = pv_adjust_entry(t[i], level);
    }
    return 0;
}

static void devalidate(uint64_t mfn, unsigned level)
{
    uint64_t *t = pfn_to_virt(mfn);
    for (unsigned i = 0; i < 512; i++)
        if (!hv_slot(level, i) && (t[i] & PTE_P))
            put_entry(t[i], level);
}

static bool is_table_type(unsigned t)
{
    return t >= PGT_L1 && t <= PGT_L4;
}

/*
 * Type references are atomic too (as Xen's type_info), with one rule that
 * keeps validation simple: a page-table type (L1..L4) of a frame is taken
 * and dropped only by its owner's operations, under the owner's domain
 * lock; a writable type may be taken and dropped by anyone (a grant or
 * foreign mapping).  So while a table is validated (count 1, its type
 * set) or devalidated (count still 1 until its entries are dropped), a
 * writable taker meets a table and fails, and no other table taker runs.
 */
long get_page_type(uint64_t mfn, unsigned type, struct domain *d)
{
    struct page_info *p = pg(mfn);
    uint32_t ti = __atomic_load_n(&p->type_info, __ATOMIC_ACQUIRE);
    for (;;) {
        if (PGT_COUNT(ti) == 0) {
            /* A new use: no CPU may keep a translation from the old one
             * (a stale writable mapping of a frame about to become a page
             * table, or a cached walk through a table about to become
             * writable). */
            if ((ti & PGT_TYPE_MASK) != type)
                flush_tlb_filtered(__atomic_load_n(&p->tlbflush_timestamp, __ATOMIC_ACQUIRE));
            /* Take the type before validating, so that a table reaching
             * itself (directly or through others) meets a type conflict
             * instead of an endless recursion. */
            uint32_t was = ti & PGT_TYPE_MASK;
            if (!__atomic_compare_exchange_n(&p->type_info, &ti, type | (1u << PGT_COUNT_SHIFT),
                                             false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                continue;
            /* Its owner's devices reach it exactly while it is writable
             * RAM: out of the IOMMU before it is validated as a table. */
            if (was != type)
                iommu_frame_sync(mfn);
            if (is_table_type(type)) {
                long rc = validate(mfn, type, d);
                if (rc) {
                    __atomic_store_n(&p->type_info, 0, __ATOMIC_RELEASE);
                    return rc;
                }
            }
            return 0;
        }
        if ((ti & PGT_TYPE_MASK) != type)
            return -XEN_EINVAL;  /* in use as something else */
        if (PGT_COUNT(ti) >= 0xffffffu)
            return -XEN_EINVAL;
        if (__atomic_compare_exchange_n(&p->type_info, &ti, ti + (1u << PGT_COUNT_SHIFT), false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return 0;
    }
}

void put_page_type(uint64_t mfn)
{
    struct page_info *p = pg(mfn);
    uint32_t ti = __atomic_load_n(&p->type_info, __ATOMIC_ACQUIRE);
    for (;;) {
        if (PGT_COUNT(ti) == 0)
            panic("put_page_type: frame %lx has no type references", (unsigned long)mfn);
        unsigned t = ti & PGT_TYPE_MASK;
        if (PGT_COUNT(ti) == 1) {
            /* The last use goes: stamp it first, so that whoever takes a
             * new type next flushes what may still cache the old one. */
            __atomic_store_n(&p->tlbflush_timestamp, tlbflush_current_time(),
                             __ATOMIC_RELEASE);
            if (is_table_type(t)) {
                /* Owner's lock held: nobody else changes it meanwhile.
                 * Its entries go while it is still a table. */
                devalidate(mfn, t);
                __atomic_store_n(&p->type_info, t, __ATOMIC_RELEASE);
                return;
            }
            /* Keep the last type, drop PINNED. */
            if (__atomic_compare_exchange_n(&p->type_info, &ti, t, false, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE))
                return;
            continue;
        }
        if (__atomic_compare_exchange_n(&p->type_info, &ti, ti - (1u << PGT_COUNT_SHIFT), false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return;
    }
}

/* A read-only image page shared by the domains booted from d's image
 * (page sharing): to the guest, one of its own frames. */
static bool is_shared_image_page(uint64_t mfn, const struct domain *d)
{
    return mfn < max_pfn && pg(mfn)->owner == OWNER_SHARED && d->arch.pv.shared_image &&
           pg(mfn)->prev == (uint32_t)(d->arch.pv.shared_image - 1) && pg(mfn)->count;
}

/* Takes the references a present entry at this level needs.  Frames must
 * belong to d, or to fd (a foreign domain d may map, for building). */
static long get_entry(uint64_t e, unsigned level, struct domain *d, struct domain *fd)
{
    uint64_t mfn = (e & PTE_ADDR) >> PAGE_SHIFT;
    if (level == 1) {
        if (e & ~(L1_ALLOWED | (has_io(d) ? L1_CACHE : 0)))
            return -XEN_EINVAL;
        if (io_frame(mfn)) {
            /* MMIO, as Xen's get_page_from_l1e: the domain whose frame
             * it would be (a foreign domain's too) and the table's owner
             * must both hold it as iomem; -EPERM otherwise. */
            if (!xsm_io_allowed(d, XSM_IO_MEM, mfn, mfn) ||
                (fd && !xsm_io_allowed(fd, XSM_IO_MEM, mfn, mfn)))
                return -XEN_EPERM;
            /* MSI-X tables are the hypervisor's to write (Xen turns such a
             * mapping read-only; Keel refuses a writable one). */
            if ((e & PTE_W) && pci_mmio_ro(mfn))
                return -XEN_EPERM;
            return 0;
        }
        if (!get_page(mfn, d) && !(fd && get_page(mfn, fd))) {
            /* Shared image pages (page sharing): read-only, any domain
             * whose image they came from holds one already. */
            if ((e & PTE_W) || !is_shared_image_page(mfn, d) || !get_ref(pg(mfn)))
                return -XEN_EINVAL;
            return 0;
        }
        if ((e & PTE_W) && get_page_type(mfn, PGT_WRITABLE, d)) {
            put_page(mfn);
            return -XEN_EINVAL;  /* a page table (or other typed frame) */
        }
        return 0;
    }
    if (e & ~LN_ALLOWED)
        return -XEN_EINVAL;      /* includes superpages (PS) */
    if (!get_page(mfn, d))
        return -XEN_EINVAL;
    long rc = get_page_type(mfn, level - 1, d);
    if (rc) {
        put_page(mfn);
        return rc;
    }
    return 0;
}

static void put_entry(uint64_t e, unsigned level)
{
    uint64_t mfn = (e & PTE_ADDR) >> PAGE_SHIFT;
    if (level == 1) {
        if (io_frame(mfn))
            return;              /* MMIO: no reference was taken */
        if (e & PTE_W)
            put_page_type(mfn);
        put_page(mfn);
        return;
    }
    put_page_type(mfn);
    put_page(mfn);
}

/* A foreign PVH (translated) domain's memory is named by guest frame, as
 * Xen's mmu_update does for a translated page owner (get_page_from_gfn):
 * the frame an L1 entry names is looked up in fd's p2m, and the entry
 * holds the machine frame found there (higher levels name the caller's
 * own tables, as before).  Only RAM the p2m maps (a GFN past it, or the
 * hidden RAM frame under shared_info, is -EINVAL); get_entry then takes
 * fd's reference on it as for a PV foreign frame. */
static long foreign_gfn_entry(uint64_t *val, struct domain *fd)
{
    uint64_t mfn = hvm_p2m_lookup(fd, (*val & PTE_ADDR) >> PAGE_SHIFT);
    if (mfn == ~0ULL || mfn >= max_pfn || pg(mfn)->owner != fd->id)
        return -XEN_EINVAL;
    *val = (*val & ~PTE_ADDR) | (mfn << PAGE_SHIFT);
    return 0;
}

/* Changes entry idx of validated table mfn (a level-`level` table). */
static long mod_entry(uint64_t tmfn, unsigned idx, unsigned level, uint64_t val,
                      struct domain *d, struct domain *fd, bool no_translate)
{
    if (hv_slot(level, idx))
        return -XEN_EPERM;
    uint64_t *t = pfn_to_virt(tmfn);
    uint64_t old = t[idx];
    if ((val & PTE_P) && level == 1 && fd && fd->arch.type != GUEST_PV && !no_translate) {
        long rc = foreign_gfn_entry(&val, fd);
        if (rc)
            return rc;
    }
    if (val & PTE_P) {
        long rc = get_entry(val, level, d, fd);
        if (rc)
            return rc;
        val = pv_adjust_entry(val, level);
    }
    __atomic_store_n(&t[idx], val, __ATOMIC_RELEASE);
    if (old & PTE_P)
        put_entry(old, level);
    return 0;
}

/* The current base table of v, and the L1 table and slot that map va. */
static uint64_t vcpu_base(struct vcpu *v)
{
    return (v->arch.pv.cr3 ? v->arch.pv.cr3 : v->domain->arch.pv.cr3) >> PAGE_SHIFT;
}

static bool find_l1(struct vcpu *v, unsigned long va, uint64_t *l1mfn, unsigned *idx)
{
    struct domain *d = v->domain;
    uint64_t mfn = vcpu_base(v);
    for (int level = 4; level >= 2; level--) {
        uint64_t e = ((uint64_t *)pfn_to_virt(mfn))[(va >> (12 + 9 * (level - 1))) & 511];
        if (!(e & PTE_P) || (e & PTE_PS))
            return false;
        mfn = (e & PTE_ADDR) >> PAGE_SHIFT;
        if (mfn >= max_pfn || pg(mfn)->owner != d->id ||
            (pg(mfn)->type_info & PGT_TYPE_MASK) != (unsigned)level - 1 ||
            PGT_COUNT(pg(mfn)->type_info) == 0)
            return false;
    }
    *l1mfn = mfn;
    *idx = (va >> 12) & 511;
    return true;
}

static void flush_local_and_domain(struct domain *d, unsigned long va, bool one)
{
    if (one)
        invlpg(va);
    else
        flush_tlb_local();
    flush_tlb_domain(d);
}

static long update_va(unsigned long va, unsigned long val, unsigned long flags,
                      struct domain *fd);

long do_update_va_mapping(unsigned long va, unsigned long val, unsigned long flags,
                          unsigned long a4, unsigned long a5)
{
    (void)a4, (void)a5;
    return update_va(va, val, flags, NULL);
}

/* update_va_mapping_otherdomain, as Xen 4.17's: the frame the entry maps
 * may be the page owner's (domid), a foreign domain the caller may map
 * (control, or dm for its target); the caller's own id is refused as a
 * foreign domain (-ESRCH, Xen's get_pg_owner), DOMID_SELF is itself. */
long do_update_va_mapping_otherdomain(unsigned long va, unsigned long val, unsigned long flags,
                                      unsigned long domid, unsigned long a5)
{
    (void)a5;
    struct domain *d = current_domain();
    domid = (domid_t)domid;
    if (domid == d->id)
        return -XEN_ESRCH;
    if (domid == DOMID_SELF)
        return update_va(va, val, flags, NULL);
    struct domain *fd = domain_get((unsigned)domid);
    if (!fd)
        return -XEN_ESRCH;
    long rc = xsm_map_foreign(d, fd);
    if (!rc)
        rc = update_va(va, val, flags, fd);
    domain_put(fd);
    return rc;
}

static long update_va(unsigned long va, unsigned long val, unsigned long flags,
                      struct domain *fd)
{
    struct vcpu *v = current_vcpu();
    struct domain *d = v->domain;
    uint64_t l1;
    unsigned idx;
    if (!guest_range_ok(va, 1))
        return -XEN_EINVAL;
    if ((flags & UVMF_FLUSHTYPE_MASK) > UVMF_INVLPG)
        return -XEN_EINVAL;
    domain_lock2(d, fd ? fd : d);
    long rc = fd && fd->shutdown ? -XEN_ESRCH :
              find_l1(v, va, &l1, &idx) ? mod_entry(l1, idx, 1, val, d, fd, false) : -XEN_EINVAL;
    domain_unlock2(d, fd ? fd : d);
    if (rc)
        return rc;
    switch (flags & UVMF_FLUSHTYPE_MASK) {
    case UVMF_INVLPG:
        invlpg(va);
        break;
    case UVMF_TLB_FLUSH:
        flush_tlb_local();
        break;
    default:
        return 0;
    }
    /* UVMF_ALL, or UVMF_MULTI with a vCPU mask: the domain's vCPUs on
     * other pCPUs flush too (UVMF_LOCAL is MULTI with a NULL mask). */
    if (flags & ~UVMF_FLUSHTYPE_MASK)
        flush_tlb_domain(d);
    return 0;
}

/*
 * mmu_update and mmuext_op batches are preemptible with Xen's encoding: a
 * continuation calls again with the list advanced, the rest of the count
 * with MMU_UPDATE_PREEMPTED set, and *done (if given) carrying what the
 * earlier pieces did; the guest sees one call.
 */
static unsigned int batch_begin(unsigned long *count, unsigned long done_p)
{
    unsigned int c = (unsigned int)*count, done = 0;
    if (c & MMU_UPDATE_PREEMPTED) {
        c &= ~MMU_UPDATE_PREEMPTED;
        if (done_p)
            (void)copy_from_guest(&done, done_p, sizeof(done));
    }
    *count = c;
    return done;
}

static long batch_end(long rc, unsigned nr, unsigned long list, size_t size, unsigned long i,
                      unsigned long count, unsigned long done_p, unsigned long fdom,
                      unsigned int done)
{
    if (rc == -HV_ERESTART)
        rc = hypercall_create_continuation(nr, list + i * size,
                                           (count - i) | MMU_UPDATE_PREEMPTED, done_p, fdom, 0);
    if (done_p) {
        /* As Xen: a *done that cannot be written does not change rc. */
        done += (unsigned int)i;
        (void)copy_to_guest(done_p, &done, sizeof(done));
    }
    return rc;
}

/* mmu_update: a batch of page-table writes and M2P updates.  Stops at the
 * first bad request; *done (if given) says how many succeeded. */
long do_mmu_update(unsigned long reqs, unsigned long count, unsigned long done_p,
                   unsigned long foreigndom, unsigned long a5)
{
    (void)a5;
    struct domain *d = current_domain();
    struct domain *fd = NULL;
    unsigned int done = batch_begin(&count, done_p);
    /* As Xen: a list that does not start at a guest address is refused
     * before *done is written; a foreign domain that is refused is not. */
    if (!guest_array_ok(reqs, count, sizeof(struct mmu_update)))
        return -XEN_EFAULT;
    long rc = 0;
    unsigned long i = 0;
    if (foreigndom != DOMID_SELF && foreigndom != d->id) {
        fd = domain_get((unsigned)foreigndom);
        rc = !fd || fd->shutdown ? -XEN_ESRCH : xsm_map_foreign(d, fd);
        if (rc) {
            if (fd)
                domain_put(fd);
            return batch_end(rc, __HYPERVISOR_mmu_update, reqs, sizeof(struct mmu_update),
                             0, count, done_p, foreigndom, done);
        }
    }
    /* The caller's lock, and the foreign domain's: its tables may be
     * written, and it must not die meanwhile (looked at again here). */
    domain_lock2(d, fd ? fd : d);
    if (fd && fd->shutdown)
        rc = -XEN_ESRCH;
    for (i = 0; i < count && !rc; i++) {
        if (hypercall_preempt_due(i)) {
            rc = -HV_ERESTART;
            break;
        }
        struct mmu_update u;
        if (copy_from_guest(&u, reqs + i * sizeof(u), sizeof(u))) {
            rc = -XEN_EFAULT;
            break;
        }
        unsigned cmd = u.ptr & 3;
        uint64_t ma = u.ptr & ~3ULL;
        uint64_t mfn = ma >> PAGE_SHIFT;
        if (cmd == MMU_MACHPHYS_UPDATE) {
            struct domain *owner = fd ? fd : d;
            /* A translated (PVH) owner has no M2P entries (Xen: -EINVAL). */
            if (owner->arch.type != GUEST_PV || mfn >= max_pfn || pg(mfn)->owner != owner->id || u.val >= (1ULL << 40)) {
                rc = -XEN_EINVAL;
                break;
            }
            m2p[mfn] = u.val;
            continue;
        }
        if (cmd != MMU_NORMAL_PT_UPDATE && cmd != MMU_PT_UPDATE_PRESERVE_AD &&
            cmd != MMU_PT_UPDATE_NO_TRANSLATE) {
            rc = -XEN_ENOSYS;
            break;
        }
        if ((ma & 7) || mfn >= max_pfn) {
            rc = -XEN_EINVAL;
            break;
        }
        /* The table may be the caller's, or (building) the foreign one's. */
        struct page_info *p = pg(mfn);
        /* A PVH foreign domain's frames are never written by machine
         * address (its memory is named by GFN, in the value only). */
        struct domain *td = p->owner == d->id ? d :
                            (fd && fd->arch.type == GUEST_PV && p->owner == fd->id) ? fd : NULL;
        if (!td) {
            rc = -XEN_EINVAL;
            break;
        }
        uint32_t ti = __atomic_load_n(&p->type_info, __ATOMIC_ACQUIRE);
        unsigned t = ti & PGT_TYPE_MASK;
        unsigned idx = (unsigned)((ma & (PAGE_SIZE - 1)) >> 3);
        uint64_t val = u.val;
        if (PGT_COUNT(ti) && is_table_type(t)) {
            if (cmd == MMU_PT_UPDATE_PRESERVE_AD)
                val |= ((uint64_t *)pfn_to_virt(mfn))[idx] & (PTE_A | PTE_D);
            /* NO_TRANSLATE: a translated foreign domain's frame by machine
             * address (its ioreq page: hv/hvm/ioreq.c), as Xen. */
            rc = mod_entry(mfn, idx, t, val, td, td == d ? fd : NULL,
                           cmd == MMU_PT_UPDATE_NO_TRANSLATE);
            if (rc)
                break;
        } else if (PGT_COUNT(ti) == 0 || t == PGT_WRITABLE) {
            /* Not a page table: an ordinary write to the domain's page. */
            ((uint64_t *)pfn_to_virt(mfn))[idx] = val;
        } else {
            rc = -XEN_EINVAL;
            break;
        }
    }
    domain_unlock2(d, fd ? fd : d);
    if (fd)
        domain_put(fd);
    /* As Xen: no flush.  The guest flushes what it needs; what the
     * hypervisor needs (no stale translation of a frame that changed type
     * or was freed) the flush clock gives (docs/memory.md). */
    return batch_end(rc, __HYPERVISOR_mmu_update, reqs, sizeof(struct mmu_update), i, count,
                     done_p, foreigndom, done);
}

static long pin(struct domain *d, uint64_t mfn, unsigned level)
{
    if (mfn >= max_pfn || pg(mfn)->owner != d->id)
        return -XEN_EINVAL;
    if (__atomic_load_n(&pg(mfn)->type_info, __ATOMIC_ACQUIRE) & PGT_PINNED)
        return -XEN_EINVAL;      /* as Xen: already pinned */
    if (!get_page(mfn, d))
        return -XEN_EINVAL;
    long rc = get_page_type(mfn, level, d);
    if (rc) {
        put_page(mfn);
        return rc;
    }
    __atomic_fetch_or(&pg(mfn)->type_info, PGT_PINNED, __ATOMIC_ACQ_REL);
    return 0;
}

static long unpin(struct domain *d, uint64_t mfn)
{
    if (mfn >= max_pfn || pg(mfn)->owner != d->id ||
        !(__atomic_load_n(&pg(mfn)->type_info, __ATOMIC_ACQUIRE) & PGT_PINNED))
        return -XEN_EINVAL;
    __atomic_fetch_and(&pg(mfn)->type_info, ~(uint32_t)PGT_PINNED, __ATOMIC_ACQ_REL);
    put_page_type(mfn);
    put_page(mfn);
    return 0;
}

/* Makes L4 frame mfn the base of vCPU v (references held while it is). */
long pv_set_base(struct vcpu *v, uint64_t mfn)
{
    struct domain *d = v->domain;
    if (mfn >= max_pfn || !get_page(mfn, d))
        return -XEN_EINVAL;
    long rc = get_page_type(mfn, PGT_L4, d);
    if (rc) {
        put_page(mfn);
        return rc;
    }
    uint64_t old = v->arch.pv.cr3 >> PAGE_SHIFT;
    if (mfn != old) {
        pv_ro_m2p_fill(d, mfn);      /* as Xen's new_guest_cr3 */
        pv_ldt_invalidate(v);        /* its pages taken again through mfn */
    }
    v->arch.pv.cr3 = mfn << PAGE_SHIFT;
    if (old) {
        put_page_type(old);
        put_page(old);
    }
    return 0;
}

/* MMUEXT_CLEAR_PAGE and MMUEXT_COPY_PAGE, as Xen: the destination must
 * be the domain's and able to take a writable type (not a page table);
 * the source any frame of the domain (its shared image pages too). */
static long clear_copy_page(struct domain *d, uint64_t dst, const xen_pfn_t *src)
{
    if (src && !is_shared_image_page(*src, d) && !(*src < max_pfn && pg(*src)->owner == d->id &&
                                                    pg(*src)->count))
        return -XEN_EINVAL;
    if (!get_page(dst, d))
        return -XEN_EINVAL;
    if (get_page_type(dst, PGT_WRITABLE, d)) {
        put_page(dst);
        return -XEN_EINVAL;
    }
    if (src)
        memcpy(pfn_to_virt(dst), pfn_to_virt(*src), PAGE_SIZE);
    else
        memset(pfn_to_virt(dst), 0, PAGE_SIZE);
    put_page_and_type(dst, true);
    return 0;
}

long do_mmuext_op(unsigned long ops, unsigned long count, unsigned long done_p,
                  unsigned long foreigndom, unsigned long a5)
{
    (void)a5;
    struct vcpu *v = current_vcpu();
    struct domain *d = v->domain;
    unsigned int done = batch_begin(&count, done_p);
    /* As Xen: the list is checked first, and neither refusal writes *done. */
    if (!guest_array_ok(ops, count, sizeof(struct mmuext_op)))
        return -XEN_EFAULT;
    if (foreigndom != DOMID_SELF && foreigndom != d->id)
        return -XEN_EPERM;       /* pinning for another domain: not yet */
    long rc = 0;
    unsigned long i;
    domain_lock(d);
    for (i = 0; i < count; i++) {
        if (hypercall_preempt_due(i)) {
            rc = -HV_ERESTART;
            break;
        }
        struct mmuext_op op;
        if (copy_from_guest(&op, ops + i * sizeof(op), sizeof(op))) {
            rc = -XEN_EFAULT;
            break;
        }
        switch (op.cmd) {
        case MMUEXT_PIN_L1_TABLE:
        case MMUEXT_PIN_L2_TABLE:
        case MMUEXT_PIN_L3_TABLE:
        case MMUEXT_PIN_L4_TABLE:
            rc = pin(d, op.arg1.mfn, op.cmd - MMUEXT_PIN_L1_TABLE + 1);
            break;
        case MMUEXT_UNPIN_TABLE:
            rc = unpin(d, op.arg1.mfn);
            break;
        case MMUEXT_NEW_BASEPTR:
            rc = pv_set_base(v, op.arg1.mfn);
            if (!rc)
                switch_cr3(v->arch.pv.cr3);
            break;
        case MMUEXT_NEW_USER_BASEPTR:
            rc = pv_set_user_base(v, op.arg1.mfn);
            break;
        case MMUEXT_SET_LDT:
            rc = pv_set_ldt(v, op.arg1.linear_addr, op.arg2.nr_ents);
            break;
        case MMUEXT_CLEAR_PAGE:
            rc = clear_copy_page(d, op.arg1.mfn, NULL);
            break;
        case MMUEXT_COPY_PAGE:
            rc = clear_copy_page(d, op.arg1.mfn, &op.arg2.src_mfn);
            break;
        case MMUEXT_TLB_FLUSH_LOCAL:
            flush_tlb_local();
            break;
        case MMUEXT_INVLPG_LOCAL:
            if (!guest_range_ok(op.arg1.linear_addr, 1))
                rc = -XEN_EINVAL;
            else
                invlpg(op.arg1.linear_addr);
            break;
        case MMUEXT_TLB_FLUSH_MULTI:
        case MMUEXT_TLB_FLUSH_ALL:
            flush_local_and_domain(d, 0, false);
            break;
        case MMUEXT_INVLPG_MULTI:
        case MMUEXT_INVLPG_ALL:
            if (!guest_range_ok(op.arg1.linear_addr, 1))
                rc = -XEN_EINVAL;
            else
                flush_local_and_domain(d, op.arg1.linear_addr, true);
            break;
        default:
            rc = -XEN_ENOSYS;
        }
        if (rc)
            break;
    }
    domain_unlock(d);
    return batch_end(rc, __HYPERVISOR_mmuext_op, ops, sizeof(struct mmuext_op), i, count,
                     done_p, foreigndom, done);
}

/*
 * VMASST_TYPE_writable_pagetables, as Xen's ptwr: a guest kernel write
 * that faults on a read-only mapping of one of its own L1 tables is
 * emulated as an update of that entry, validated and adjusted as through
 * mmu_update.  The instructions decoded are those kernels use on PTEs:
 * MOV r/m,r (88, 89), MOV r/m,imm (C6 /0, C7 /0), XCHG (86, 87),
 * [LOCK] CMPXCHG (0F B0, 0F B1), [LOCK] OR/AND/XOR r/m,r (08/09, 20/21,
 * 30/31) and r/m,imm (80, 81, 83 /1 /4 /6), [LOCK] BTS/BTR/BTC r/m,r
 * (0F AB, B3, BB) and r/m,imm8 (0F BA /5 /6 /7); 8/16/32/64-bit, naturally
 * aligned within the entry; the address is the fault's (cr2: for a bit
 * instruction with a register offset, the byte the CPU addressed).
 * Linux clears _PAGE_RW with `lock andb` (ptep_set_wrprotect) and ages
 * entries with `lock btr`.  Anything else, or an entry that fails
 * validation, is not emulated: the #PF goes to the guest, as from Xen
 * when its emulation gives up.  Runs under the domain lock (taken in
 * pv_ptwr_fault, from the guest's #PF).
 */
enum ptwr_op { PTWR_MOV, PTWR_XCHG, PTWR_CMPXCHG, PTWR_OR, PTWR_AND, PTWR_XOR,
               PTWR_BTS, PTWR_BTR, PTWR_BTC };

static uint64_t *gpr(struct cpu_user_regs *r, unsigned n)
{
    uint64_t *regs[16] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi,
                           &r->rdi, &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13,
                           &r->r14, &r->r15 };
    return regs[n & 15];
}

/* A register written with an operand of this size, as the CPU does it. */
static void gpr_set(uint64_t *reg, uint64_t val, unsigned bytes)
{
    if (bytes == 8)
        *reg = val;
    else if (bytes == 4)
        *reg = (uint32_t)val;
    else if (bytes == 2)
        *reg = (*reg & ~0xffffUL) | (val & 0xffff);
    else
        *reg = (*reg & ~0xffUL) | (val & 0xff);
}

/* Register operand n of this size: without a REX prefix, byte registers
 * 4-7 are AH, CH, DH, BH (bits 8-15 of registers 0-3). */
static uint64_t reg_get(struct cpu_user_regs *r, unsigned n, unsigned bytes, unsigned rex)
{
    if (bytes == 1 && !rex && n >= 4 && n < 8)
        return (*gpr(r, n - 4) >> 8) & 0xff;
    return *gpr(r, n);
}

static void reg_put(struct cpu_user_regs *r, unsigned n, uint64_t val, unsigned bytes,
                    unsigned rex)
{
    if (bytes == 1 && !rex && n >= 4 && n < 8) {
        uint64_t *g = gpr(r, n - 4);
        *g = (*g & ~0xff00UL) | ((val & 0xff) << 8);
        return;
    }
    gpr_set(gpr(r, n), val, bytes);
}

static bool fetch(unsigned long rip, unsigned i, uint8_t *b)
{
    return i < 15 && !copy_from_guest(b, rip + i, 1);
}

/* The arithmetic flags a logical operation leaves (CF, OF clear; AF
 * undefined, kept). */
#define EFL_ARITH (X86_EFLAGS_CF | X86_EFLAGS_PF | X86_EFLAGS_ZF | X86_EFLAGS_SF | X86_EFLAGS_OF)
static uint64_t logic_flags(uint64_t rflags, uint64_t res, unsigned bytes)
{
    rflags &= ~EFL_ARITH;
    if (!res)
        rflags |= X86_EFLAGS_ZF;
    if ((res >> (bytes * 8 - 1)) & 1)
        rflags |= X86_EFLAGS_SF;
    if (!(__builtin_popcount((unsigned)(res & 0xff)) & 1))
        rflags |= X86_EFLAGS_PF;
    return rflags;
}

static bool ptwr_emulate(struct vcpu *v, struct cpu_user_regs *r, unsigned long addr);

/* Under the domain lock: the L1 table written must stay one meanwhile. */
bool pv_ptwr_fault(struct vcpu *v, struct cpu_user_regs *r, unsigned long addr, uint32_t err)
{
    struct domain *d = v->domain;
    if (!(__atomic_load_n(&d->vm_assist, __ATOMIC_ACQUIRE) &
          (1UL << VMASST_TYPE_writable_pagetables)) ||
        (err & (PFEC_RSVD | PFEC_IFETCH)) || (err & (PFEC_P | PFEC_W)) != (PFEC_P | PFEC_W))
        return false;
    domain_lock(d);
    bool done = ptwr_emulate(v, r, addr);
    domain_unlock(d);
    return done;
}

static bool ptwr_emulate(struct vcpu *v, struct cpu_user_regs *r, unsigned long addr)
{
    struct domain *d = v->domain;
    uint64_t l1, mfn, tmfn;
    unsigned idx;
    /* The mapping that faulted: read-only, of an L1 table of ours. */
    if (!find_l1(v, addr, &l1, &idx))
        return false;
    uint64_t pte = ((uint64_t *)pfn_to_virt(l1))[idx];
    if ((pte & (PTE_P | PTE_W)) != PTE_P)
        return false;
    tmfn = (pte & PTE_ADDR) >> PAGE_SHIFT;
    if (tmfn >= max_pfn || pg(tmfn)->owner != d->id ||
        (pg(tmfn)->type_info & PGT_TYPE_MASK) != PGT_L1 || !PGT_COUNT(pg(tmfn)->type_info))
        return false;

    /* Decode: prefixes, REX, opcode. */
    unsigned long rip = r->rip;
    unsigned i = 0, bytes = 4, rex = 0;
    uint8_t b, modrm, sib;
    for (;; i++) {
        if (!fetch(rip, i, &b))
            return false;
        if (b == 0x66)
            bytes = 2;
        else if (b != 0xf0 && b != 0x2e && b != 0x3e && b != 0x26 && b != 0x36 &&
                 b != 0x64 && b != 0x65)
            break;
    }
    if ((b & 0xf0) == 0x40) {
        rex = b;
        if (!fetch(rip, ++i, &b))
            return false;
    }
    if (rex & 8)
        bytes = 8;
    enum ptwr_op op;
    /* imm: 0 none, 1 an imm8 sign-extended, 2 an imm16/32 (imm32
     * sign-extended for 64-bit), 3 an imm8 bit offset. */
    unsigned imm = 0;
    bool byteop = false, group = false;
    static const enum ptwr_op grp1[8] = { [1] = PTWR_OR, [4] = PTWR_AND, [6] = PTWR_XOR };
    static const enum ptwr_op grp8[8] = { [5] = PTWR_BTS, [6] = PTWR_BTR, [7] = PTWR_BTC };
    switch (b) {
    case 0x88: byteop = true; /* fall through */
    case 0x89: op = PTWR_MOV; break;
    case 0xc6: byteop = true; /* fall through */
    case 0xc7: op = PTWR_MOV; imm = byteop ? 1 : 2; group = true; break;
    case 0x86: byteop = true; /* fall through */
    case 0x87: op = PTWR_XCHG; break;
    case 0x08: byteop = true; /* fall through */
    case 0x09: op = PTWR_OR; break;
    case 0x20: byteop = true; /* fall through */
    case 0x21: op = PTWR_AND; break;
    case 0x30: byteop = true; /* fall through */
    case 0x31: op = PTWR_XOR; break;
    case 0x80: byteop = true; imm = 1; op = PTWR_OR; group = true; break;
    case 0x81: imm = 2; op = PTWR_OR; group = true; break;
    case 0x83: imm = 1; op = PTWR_OR; group = true; break;
    case 0x0f:
        if (!fetch(rip, ++i, &b))
            return false;
        switch (b) {
        case 0xb0: byteop = true; /* fall through */
        case 0xb1: op = PTWR_CMPXCHG; break;
        case 0xab: op = PTWR_BTS; break;
        case 0xb3: op = PTWR_BTR; break;
        case 0xbb: op = PTWR_BTC; break;
        case 0xba: op = PTWR_BTS; imm = 3; group = true; break;
        default: return false;
        }
        break;
    default:
        return false;
    }
    if (byteop)
        bytes = 1;
    if (!fetch(rip, ++i, &modrm))
        return false;
    unsigned mod = modrm >> 6, reg = ((modrm >> 3) & 7) | ((rex & 4) << 1), rm = modrm & 7;
    if (mod == 3)
        return false;
    if (group) {
        unsigned sub = (modrm >> 3) & 7;
        if (b == 0xc6 || b == 0xc7) {
            if (sub)
                return false;
        } else if (b == 0xba) {
            if (sub < 5)
                return false;
            op = grp8[sub];
        } else {
            if (sub != 1 && sub != 4 && sub != 6)
                return false;
            op = grp1[sub];
        }
    }
    unsigned disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
    if (rm == 4) {
        if (!fetch(rip, ++i, &sib))
            return false;
        if (mod == 0 && (sib & 7) == 5)
            disp = 4;
    } else if (mod == 0 && rm == 5) {
        disp = 4;                /* rip-relative */
    }
    i += 1 + disp;
    uint64_t val;
    if (imm) {
        unsigned n = imm != 2 ? 1 : bytes == 2 ? 2 : 4;
        uint8_t ib[4];
        for (unsigned k = 0; k < n; k++)
            if (!fetch(rip, i + k, &ib[k]))
                return false;
        i += n;
        val = imm == 3 ? ib[0] :
              n == 1 ? (uint64_t)(int64_t)(int8_t)ib[0] :
              n == 2 ? (uint64_t)(int64_t)(int16_t)(ib[0] | ib[1] << 8) :
                       (uint64_t)(int64_t)(int32_t)((uint32_t)ib[0] | (uint32_t)ib[1] << 8 |
                                                    (uint32_t)ib[2] << 16 | (uint32_t)ib[3] << 24);
    } else {
        val = reg_get(r, reg, bytes, rex);
    }

    /* The entry, with a narrower write merged in (as Xen's ptwr). */
    if (addr & (bytes - 1))
        return false;
    unsigned e = (unsigned)((addr & (PAGE_SIZE - 1)) >> 3), shift = (unsigned)(addr & 7) * 8;
    uint64_t omask = bytes == 8 ? ~0UL : (1UL << (bytes * 8)) - 1;
    uint64_t mask = omask << shift;
    uint64_t *t = pfn_to_virt(tmfn);
    uint64_t cur = t[e];
    uint64_t old = (cur & mask) >> shift, res = val & omask;
    uint64_t flags = r->rflags;
    switch (op) {
    case PTWR_MOV:
    case PTWR_XCHG:
        break;
    case PTWR_CMPXCHG:
        /* As CMP accumulator, old: only ZF is Keel's to report here. */
        if (old != (reg_get(r, 0, bytes, rex) & omask)) {
            gpr_set(&r->rax, old, bytes);
            r->rflags &= ~X86_EFLAGS_ZF;
            r->rip += i;
            return true;
        }
        break;
    case PTWR_OR:  res = old | res; flags = logic_flags(flags, res, bytes); break;
    case PTWR_AND: res = old & res; flags = logic_flags(flags, res, bytes); break;
    case PTWR_XOR: res = old ^ res; flags = logic_flags(flags, res, bytes); break;
    case PTWR_BTS: case PTWR_BTR: case PTWR_BTC: {
        uint64_t bit = 1UL << (val & (bytes * 8 - 1));
        flags = (old & bit) ? flags | X86_EFLAGS_CF : flags & ~X86_EFLAGS_CF;
        res = op == PTWR_BTS ? old | bit : op == PTWR_BTR ? old & ~bit : old ^ bit;
        break;
    }
    }
    uint64_t nval = (cur & ~mask) | ((res << shift) & mask);
    mfn = tmfn;
    if (nval != cur && mod_entry(mfn, e, 1, nval, d, NULL, false))
        return false;
    if (op == PTWR_XCHG)
        reg_put(r, reg, old, bytes, rex);
    if (op == PTWR_CMPXCHG)
        flags |= X86_EFLAGS_ZF;
    r->rflags = flags;
    r->rip += i;
    return true;
}

/*
 * Grant host mappings, as Xen 4.17's create_grant_pv_mapping and
 * replace_grant_pv_mapping.  The entry written is named either by a
 * linear address (the L1 entry mapping its page in v's current tables;
 * the address need not be page-aligned) or, with GNTMAP_contains_pte, by
 * its machine address: 8-byte aligned, in a frame of d in use as an L1
 * table (validated, its type held).  Anything else: false (the grant code
 * answers GNTST_general_error, as Xen).  Under d's lock, which keeps the
 * L1 table one meanwhile (docs/locking.md).
 */
static bool grant_slot(struct vcpu *v, uint64_t addr, bool by_pte, uint64_t **slot)
{
    struct domain *d = v->domain;
    if (by_pte) {
        uint64_t tmfn = addr >> PAGE_SHIFT;
        if ((addr & 7) || tmfn >= max_pfn || pg(tmfn)->owner != d->id)
            return false;
        uint32_t ti = __atomic_load_n(&pg(tmfn)->type_info, __ATOMIC_ACQUIRE);
        if ((ti & PGT_TYPE_MASK) != PGT_L1 || !PGT_COUNT(ti))
            return false;
        *slot = (uint64_t *)pfn_to_virt(tmfn) + ((addr & (PAGE_SIZE - 1)) >> 3);
        return true;
    }
    uint64_t l1;
    unsigned idx;
    if (!guest_range_ok(addr, 1) || !find_l1(v, addr, &l1, &idx))
        return false;
    *slot = (uint64_t *)pfn_to_virt(l1) + idx;
    return true;
}

/* A grant mapping's entry: for frame mfn with the flags Xen gives it
 * (grant_to_pte_flags): accessed, dirty, NX, user only with
 * GNTMAP_application_map, writable unless read-only, the guest's
 * GNTMAP_guest_avail bits in PTE bits 9-11; then adjusted as any L1 entry
 * the guest writes (a kernel mapping: bit 52).  It holds a reference to
 * the frame (and a writable type if writable), as any L1 entry does; an
 * entry that was present there is replaced and its references dropped,
 * as Xen does.  As Xen, no flush but the local one of a linear address:
 * what the old entry mapped is the guest's to flush (the flush clock
 * covers a frame that goes back or changes type). */
long pv_map_grant(struct domain *d, uint64_t addr, uint64_t mfn, uint32_t gflags)
{
    struct vcpu *v = current_vcpu();
    bool by_pte = gflags & GNTMAP_contains_pte, writable = !(gflags & GNTMAP_readonly);
    uint64_t *slot;
    if (v->domain != d || !grant_slot(v, addr, by_pte, &slot))
        return -XEN_EINVAL;
    if (!get_page_any(mfn))
        return -XEN_EINVAL;
    if (writable && get_page_type(mfn, PGT_WRITABLE, d)) {
        put_page(mfn);
        return -XEN_EINVAL;
    }
    uint64_t e = (mfn << PAGE_SHIFT) | PTE_P | PTE_A | PTE_D | PTE_NX |
                 (writable ? PTE_W : 0) | ((gflags & GNTMAP_application_map) ? PTE_U : 0) |
                 (((uint64_t)(gflags >> _GNTMAP_guest_avail0) << 9) & PTE_AVAIL);
    uint64_t old = __atomic_exchange_n(slot, pv_adjust_entry(e, 1), __ATOMIC_ACQ_REL);
    if (!by_pte)
        invlpg(addr);
    if (old & PTE_P)
        put_entry(old, 1);
    return 0;
}

/*
 * Undoes a host mapping of frame mfn made with gflags: the entry at addr
 * (named as for the map) must map mfn, present and writable exactly as
 * the grant was mapped (else -EINVAL, the entry left alone).  It is
 * cleared, or with new_addr (GNTTABOP_unmap_and_replace, linear addresses
 * only) given the entry found at new_addr, whose slot is cleared.  As
 * Xen, new_addr's entry is taken first, whatever it holds: if the unmap
 * then fails it is dropped, not put back.  The entry unmapped gives up
 * its references.  Flushed here and on the domain's other CPUs.
 */
long pv_unmap_grant(struct domain *d, uint64_t addr, uint64_t mfn, uint32_t gflags,
                    uint64_t new_addr)
{
    struct vcpu *v = current_vcpu();
    bool by_pte = gflags & GNTMAP_contains_pte;
    uint64_t *slot, *from, moved = 0, old = 0, want = PTE_P;
    if (!(gflags & GNTMAP_readonly))
        want |= PTE_W;
    if (v->domain != d || (by_pte && new_addr))
        return -XEN_EINVAL;
    if (new_addr) {
        if (!grant_slot(v, new_addr, false, &from))
            return -XEN_EINVAL;
        moved = __atomic_exchange_n(from, 0, __ATOMIC_ACQ_REL);
    }
    long rc = -XEN_EINVAL;
    if (grant_slot(v, addr, by_pte, &slot)) {
        old = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
        if (((old & PTE_ADDR) >> PAGE_SHIFT) == mfn && !((old ^ want) & (PTE_P | PTE_W))) {
            __atomic_store_n(slot, moved, __ATOMIC_RELEASE);
            rc = 0;
        }
    }
    if (rc && !new_addr)
        return rc;               /* nothing changed */
    if (by_pte) {
        flush_tlb_local();
    } else {
        if (!rc)
            invlpg(addr);
        if (new_addr)
            invlpg(new_addr);
    }
    flush_tlb_domain(d);
    if (rc) {
        if (moved & PTE_P)
            put_entry(moved, 1);
        return rc;
    }
    put_entry(old, 1);
    return 0;
}

/*
 * Destroying a domain (domain.c, in budgeted steps): the entries of its
 * tables are dropped level by level from L1 up, so that when the bases
 * and pins go (pv_drop_bases, pv_unpin_any) every table is already empty
 * and no devalidation walks a whole tree at once.
 */
bool pv_zap_table(uint64_t mfn, unsigned level, uint64_t end)
{
    struct page_info *p = pg(mfn);
    if (!PGT_COUNT(p->type_info) || (p->type_info & PGT_TYPE_MASK) != level)
        return true;
    uint64_t *t = pfn_to_virt(mfn);
    for (unsigned i = 0; i < 512; i++) {
        uint64_t e = t[i];
        if (hv_slot(level, i) || !(e & PTE_P))
            continue;
        t[i] = 0;
        put_entry(e, level);     /* a lower table is empty already */
        /* An entry above L1 may devalidate a whole (empty) table: stop
         * when the time is up; the cleared entries are skipped later. */
        if (level > 1 && end && rdtsc() > end)
            return false;
    }
    return true;
}

void pv_drop_bases(struct domain *d)
{
    for (unsigned i = 0; i < d->nr_vcpus; i++) {
        struct vcpu *v = d->vcpu[i];
        if (v && v->arch.pv.cr3) {
            uint64_t m = v->arch.pv.cr3 >> PAGE_SHIFT;
            v->arch.pv.cr3 = 0;
            put_page_type(m);
            put_page(m);
        }
    }
}

void pv_unpin_any(struct domain *d, uint64_t mfn)
{
    if (pg(mfn)->type_info & PGT_PINNED)
        unpin(d, mfn);
}

/* The machine-to-phys table: one entry per frame, mapped read-only for
 * guests at MACH2PHYS_VIRT_START in every address space. */
void m2p_init(void)
{
    uint64_t bytes = ROUNDUP(max_pfn * 8, 1ULL << 21);
    if (bytes > MACH2PHYS_VIRT_END - MACH2PHYS_VIRT_START)
        panic("m2p: too much memory");
    unsigned order = 9;                   /* 2 MiB blocks, naturally aligned */
    while (((uint64_t)PAGE_SIZE << order) < bytes)
        order++;
    m2p = alloc_hv_pages(order);          /* hypervisor writes: direct map */
    if (!m2p)
        panic("m2p: no memory for %lu MiB", (unsigned long)(bytes >> 20));
    memset(m2p, 0xff, (size_t)PAGE_SIZE << order);
    uint64_t *l4 = pfn_to_virt(idle_cr3 >> PAGE_SHIFT);
    uint64_t *l3 = alloc_hv_pages(0);
    if (!l3)
        panic("m2p: no memory");
    l4[HV_L4_FIRST_SLOT] = PA(l3) | PTE_P | PTE_U;
    for (uint64_t off = 0; off < bytes; off += 1ULL << 21) {
        unsigned i3 = (unsigned)(off >> 30), i2 = (unsigned)((off >> 21) & 511);
        if (!(l3[i3] & PTE_P)) {
            uint64_t *n = alloc_hv_pages(0);
            if (!n)
                panic("m2p: no memory");
            l3[i3] = PA(n) | PTE_P | PTE_U;
        }
        uint64_t *l2 = pfn_to_virt((l3[i3] & PTE_ADDR) >> PAGE_SHIFT);
        l2[i2] = (PA(m2p) + off) | PTE_P | PTE_U | PTE_PS | PTE_NX;
    }
    write_cr3(idle_cr3);
    printk("mm: machine-to-phys table %lu KiB at %lx (read-only to guests)\n",
           (unsigned long)(bytes >> 10), (unsigned long)MACH2PHYS_VIRT_START);
}

/*
 * Where the m2p is, as Xen tells a PV domU: XENMEM_machphys_mapping gives
 * the whole range the ABI reserves for it and, as Xen gives any domain
 * but its hardware domain (Keel has none), the last entry of that range
 * as max_mfn; the table is mapped up to the last machine frame (read
 * beyond it, a guest faults, as it would past Xen's).
 * XENMEM_machphys_mfn_list: the first frame of each 2 MiB of the table
 * (m2p_init maps it with 2 MiB pages of one contiguous block), at most
 * max_extents of them.
 */
long pv_machphys_op(unsigned op, unsigned long arg)
{
    if (op == XENMEM_machphys_mapping) {
        struct xen_machphys_mapping m = {
            .v_start = MACH2PHYS_VIRT_START,
            .v_end = MACH2PHYS_VIRT_END,
            .max_mfn = MACH2PHYS_NR_ENTRIES - 1,
        };
        return copy_to_guest(arg, &m, sizeof(m));
    }
    struct xen_machphys_mfn_list l;
    if (copy_from_guest(&l, arg, sizeof(l)))
        return -XEN_EFAULT;
    uint64_t first = PA(m2p) >> PAGE_SHIFT, bytes = max_pfn * 8;
    unsigned i;
    for (i = 0; i != l.max_extents && ((uint64_t)i << 21) < bytes; i++) {
        xen_pfn_t mfn = first + ((uint64_t)i << 9);
        if (copy_to_guest((unsigned long)l.extent_start.p + i * sizeof(mfn), &mfn, sizeof(mfn)))
            return -XEN_EFAULT;
    }
    l.nr_extents = i;
    return copy_to_guest(arg, &l, sizeof(l));
}

/* Until the access-control module provides it: control may map anyone. */
__attribute__((weak)) int xsm_map_foreign(struct domain *cur, struct domain *target)
{
    (void)target;
    return (cur->roles & ROLE_CONTROL) ? 0 : -XEN_EPERM;
}
