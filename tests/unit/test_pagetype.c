/* Unit test of the PV MMU's frame references and page types (hv/pv/mm.c)
 * on a fake direct map: validation of a 4-level table, refusals (writable
 * page tables, frames of others, hypervisor slots, superpages, tables that
 * reach themselves), pins, and that dropping the base returns every count
 * to "allocated only". */
#include "mm.h"
#include "domain.h"
#include "pv.h"
#include "flushtlb.h"
#include "unit.h"
#include "boot.h"
#include "xsm.h"
#include "hypercall.h"
#include <stdlib.h>
#include <string.h>

#define FRAMES 256
unsigned long keel_host_directmap;
struct pcpu *keel_host_cpu;
uint64_t idle_cr3;
static struct page_info table[FRAMES];
static struct domain dom1, dom2;
static struct vcpu vcpu1;
static struct pcpu cpu;

/* Shims for what mm.c calls elsewhere in the hypervisor. */
struct domain *domain_by_id(unsigned id) { return id == 1 ? &dom1 : id == 2 ? &dom2 : NULL; }
struct domain *domain_get(unsigned id) { return domain_by_id(id); }
void domain_put(struct domain *d) { (void)d; }
void domain_lock2(struct domain *a, struct domain *b) { domain_lock(a); if (a != b) domain_lock(b); }
void domain_unlock2(struct domain *a, struct domain *b) { domain_unlock(a); if (a != b) domain_unlock(b); }
void domain_unlink_page(struct domain *d, uint64_t mfn) { (void)mfn; d->page_count--; }
void flush_tlb_domain(struct domain *d) { (void)d; }
void printk(const char *fmt, ...) { (void)fmt; }
long raw_copy(void *dst, const void *src, size_t n) { memcpy(dst, src, n); return 0; }
long raw_clear(void *dst, size_t n) { memset(dst, 0, n); return 0; }
void *alloc_hv_pages(unsigned order) { (void)order; return NULL; }
extern unsigned long host_filtered_flushes;
extern bool host_preempt;
extern unsigned long host_continuation[6];
extern unsigned int host_last_flush_stamp;
void free_hv_pages(void *va, unsigned order) { (void)va; (void)order; }
long pv_set_user_base(struct vcpu *v, uint64_t mfn) { (void)v; (void)mfn; return -XEN_ENOSYS; }
long pv_set_ldt(struct vcpu *v, unsigned long b, unsigned long n) { (void)v, (void)b, (void)n; return -XEN_ENOSYS; }
bool pci_mmio_ro(uint64_t mfn) { (void)mfn; return false; }
struct boot_module boot_modules[1];
unsigned nr_boot_modules;
/* No domain here holds MMIO (iomem permission): frames past the table are refused. */
bool xsm_io_allowed(struct domain *d, enum xsm_io kind, uint64_t first, uint64_t last)
{
    (void)d, (void)kind, (void)first, (void)last;
    return false;
}
/* The domains here are PV: no p2m (a PVH foreign domain's GFN lookup). */
uint64_t hvm_p2m_lookup(struct domain *d, uint64_t gfn) { (void)d, (void)gfn; return ~0ULL; }
void pv_ldt_invalidate(struct vcpu *v) { (void)v; }   /* no LDT in these vCPUs */
/* The IOMMU (hv/arch/x86_64/iommu.c) as its rule says: a frame is
 * reachable by its owner's devices exactly while it is writable RAM.
 * Each call shows what the frame looks like when mm.c syncs it. */
static bool dma_ok[FRAMES];
static unsigned long syncs;
void iommu_frame_sync(uint64_t mfn)
{
    const struct page_info *p = &table[mfn];
    dma_ok[mfn] = (p->type_info & PGT_TYPE_MASK) == PGT_WRITABLE && p->count &&
                  !(p->flags & PGF_HV_SHARED);
    syncs++;
}

#define P 1UL
#define W 2UL
#define U 4UL
#define PS 0x80UL

static uint64_t new_frame(struct domain *d)
{
    int64_t m = alloc_pages(0, d->id);
    EXPECT(m > 0);
    table[m].count = 1;
    table[m].type_info = 0;
    memset(pfn_to_virt((uint64_t)m), 0, PAGE_SIZE);
    d->page_count++;
    return (uint64_t)m;
}

static uint64_t *tab(uint64_t mfn) { return pfn_to_virt(mfn); }

static long update(uint64_t tmfn, unsigned idx, uint64_t val)
{
    struct mmu_update u = { .ptr = (tmfn << 12) + idx * 8, .val = val };
    unsigned int done = 0;
    return do_mmu_update((unsigned long)&u, 1, (unsigned long)&done, DOMID_SELF, 0);
}

static long ext(unsigned cmd, uint64_t mfn)
{
    struct mmuext_op op = { .cmd = cmd };
    op.arg1.mfn = mfn;
    return do_mmuext_op((unsigned long)&op, 1, 0, DOMID_SELF, 0);
}

int main(void)
{
    void *mem = aligned_alloc(PAGE_SIZE, FRAMES * PAGE_SIZE);
    keel_host_directmap = (unsigned long)mem;
    page_alloc_init(table, FRAMES);
    page_free_range(1, FRAMES - 1);
    static uint64_t m2p_store[FRAMES];
    m2p = m2p_store;
    dom1.id = 1;
    dom2.id = 2;
    vcpu1.domain = &dom1;
    static struct vcpu *dom1_vcpus[1];
    dom1.vcpu = dom1_vcpus;
    dom1.vcpu[0] = &vcpu1;
    dom1.nr_vcpus = 1;
    cpu.curr = &vcpu1;
    keel_host_cpu = &cpu;
    uint64_t idle = new_frame(&dom2);          /* stands in for the idle L4 */
    idle_cr3 = idle << 12;
    tab(idle)[262] = 0x1234000 | P;

    uint64_t l4 = new_frame(&dom1), l3 = new_frame(&dom1), l2 = new_frame(&dom1);
    uint64_t l1 = new_frame(&dom1), data = new_frame(&dom1), other = new_frame(&dom2);
    uint64_t free0 = free_page_count();
    tab(l4)[0] = l3 << 12 | P | W | U;
    tab(l3)[0] = l2 << 12 | P | W | U;
    tab(l2)[0] = l1 << 12 | P | W | U;
    tab(l1)[0] = data << 12 | P | W | U;
    tab(l1)[1] = l1 << 12 | P | U;             /* a table may map itself read-only */

    /* Validation as the base: types and counts as expected. */
    EXPECT(pv_set_base(&vcpu1, l4) == 0);
    EXPECT((table[l4].type_info & PGT_TYPE_MASK) == PGT_L4 && PGT_COUNT(table[l4].type_info) == 1);
    EXPECT((table[l1].type_info & PGT_TYPE_MASK) == PGT_L1);
    EXPECT((table[data].type_info & PGT_TYPE_MASK) == PGT_WRITABLE && table[data].count == 2);
    EXPECT(table[l1].count == 3);              /* allocated, from L2, own mapping */
    EXPECT(tab(l4)[262] == tab(idle)[262]);    /* hypervisor slot installed */
    /* The IOMMU followed: tables unreachable by DMA, the data frame reachable. */
    EXPECT(!dma_ok[l4] && !dma_ok[l3] && !dma_ok[l2] && !dma_ok[l1] && dma_ok[data]);

    /* Refusals, each leaving the entry as it was. */
    EXPECT(update(l1, 3, l2 << 12 | P | W) != 0);          /* writable page table */
    EXPECT(tab(l1)[3] == 0);
    EXPECT(update(l1, 3, l2 << 12 | P) == 0);              /* read-only is fine */
    EXPECT(update(l1, 4, other << 12 | P) != 0);           /* another domain's */
    EXPECT(update(l1, 4, (uint64_t)FRAMES << 12 | P) != 0);  /* no such frame */
    EXPECT(update(l1, 4, data << 12 | P | (1UL << 7)) != 0);  /* PAT: no I/O, no cache attributes */
    EXPECT(update(l1, 4, data << 12 | P | 0x10) != 0);        /* PCD */
    EXPECT(update(l4, 262, 0) == -XEN_EPERM);              /* hypervisor slot */
    EXPECT(update(l2, 1, data << 12 | P | PS) != 0);       /* superpage */
    EXPECT(update(l3, 1, l3 << 12 | P) != 0);              /* L3 as its own L2 */
    EXPECT(update(l4, 1, l4 << 12 | P) != 0);              /* L4 as its own L3 */
    EXPECT(update(l1, 0, 3) != 0 || 1);                    /* not-present: allowed */
    /* As Xen's adjust_guest_l1e: a kernel mapping (no _PAGE_USER from the
     * guest) gets user and bit 52, and keeps a global bit; a user mapping
     * becomes global; the software bits 9-11 and 52-62 are the guest's. */
    EXPECT(update(l1, 5, data << 12 | P | 0x100) == 0);
    EXPECT(tab(l1)[5] == (data << 12 | P | U | 0x100 | (1UL << 52)));
    EXPECT(update(l1, 5, data << 12 | P | U) == 0);
    EXPECT(tab(l1)[5] == (data << 12 | P | U | 0x100));
    EXPECT(update(l1, 5, data << 12 | P | (0x7feUL << 52) | 0xe00) == 0);
    EXPECT(tab(l1)[5] == (data << 12 | P | U | (0x7ffUL << 52) | 0xe00));
    EXPECT(update(l1, 5, 0) == 0);
    EXPECT(pv_adjust_entry(data << 12 | 0x100, 1) == (data << 12 | 0x100));   /* not present */
    EXPECT(pv_adjust_entry(data << 12 | P, 4) == (data << 12 | P | U | 0x20));
    EXPECT(pv_adjust_entry(data << 12 | P, 2) == (data << 12 | P | U));
    EXPECT(ext(MMUEXT_PIN_L1_TABLE, data) != 0);           /* mapped writable */
    tlbflush_clock = 70;
    EXPECT(update(l1, 0, 0) == 0);                         /* unmap data */
    EXPECT(table[data].count == 1 && PGT_COUNT(table[data].type_info) == 0);
    EXPECT(table[data].tlbflush_timestamp == 70);          /* last writable use */
    /* Becoming a page table: CPUs that may still cache the writable
     * mapping are flushed first (a type change, filtered by the stamp). */
    unsigned long flushes = host_filtered_flushes;
    tlbflush_clock = 75;
    EXPECT(ext(MMUEXT_PIN_L1_TABLE, data) == 0);           /* now it can be a table */
    EXPECT(host_filtered_flushes == flushes + 1 && host_last_flush_stamp == 70);
    EXPECT(!dma_ok[data]);                                 /* out of the IOMMU as a table */
    EXPECT(ext(MMUEXT_PIN_L1_TABLE, data) != 0);           /* not twice */
    EXPECT(update(l1, 0, data << 12 | P | W) != 0);        /* pinned table: no rw */
    EXPECT(ext(MMUEXT_UNPIN_TABLE, data) == 0);
    EXPECT(ext(MMUEXT_UNPIN_TABLE, data) != 0);
    EXPECT(update(l1, 0, data << 12 | P | W) == 0);
    EXPECT(dma_ok[data]);                                  /* writable again: back in */

    /* A second L1 that maps the first writable cannot be linked. */
    uint64_t bad = new_frame(&dom1);
    tab(bad)[0] = l1 << 12 | P | W;
    EXPECT(update(l2, 1, bad << 12 | P | W) != 0);
    EXPECT(PGT_COUNT(table[bad].type_info) == 0 && table[bad].count == 1);

    /* A batch preempted at its first check (after HCALL_PREEMPT_EVERY
     * items) continues as Xen's: the list advanced, the rest of the count
     * with MMU_UPDATE_PREEMPTED, *done carried; resumed, it completes. */
    {
        static struct mmu_update reqs[100];
        for (unsigned i = 0; i < 100; i++) {
            reqs[i].ptr = (l1 << 12) + 6 * 8;
            reqs[i].val = (i & 1) ? (data << 12 | P | W) : (data << 12 | P);
        }
        unsigned int done = 7;
        host_preempt = true;
        long rc = do_mmu_update((unsigned long)reqs, 100, (unsigned long)&done, DOMID_SELF, 0);
        host_preempt = false;
        EXPECT(rc == __HYPERVISOR_mmu_update);
        EXPECT(done == HCALL_PREEMPT_EVERY);           /* a fresh call starts at 0 */
        EXPECT(host_continuation[0] == __HYPERVISOR_mmu_update);
        EXPECT(host_continuation[1] == (unsigned long)&reqs[HCALL_PREEMPT_EVERY]);
        EXPECT(host_continuation[2] == ((100 - HCALL_PREEMPT_EVERY) | MMU_UPDATE_PREEMPTED));
        EXPECT(host_continuation[3] == (unsigned long)&done);
        rc = do_mmu_update(host_continuation[1], host_continuation[2], host_continuation[3],
                           host_continuation[4], 0);
        EXPECT(rc == 0 && done == 100);
        EXPECT(tab(l1)[6] == (data << 12 | P | W | U | (1UL << 52)));  /* the last request's value, a kernel mapping */
        EXPECT(update(l1, 6, 0) == 0);
    }

    /* Dropping the base devalidates everything: only allocations remain. */
    struct vcpu *v = &vcpu1;
    uint64_t base = v->arch.pv.cr3 >> 12;
    v->arch.pv.cr3 = 0;
    put_page_type(base);
    put_page(base);
    uint64_t frames[] = { l4, l3, l2, l1, data, bad };
    for (unsigned i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        EXPECT(table[frames[i]].count == 1);
        EXPECT(PGT_COUNT(table[frames[i]].type_info) == 0);
    }
    for (unsigned i = 0; i < sizeof(frames) / sizeof(frames[0]); i++)
        put_page(frames[i]);
    EXPECT(free_page_count() == free0 + 5);     /* six freed, one (bad) taken since */
    EXPECT(!dma_ok[data] && syncs > 0);          /* freed: out of the IOMMU first */
    free(mem);
    UNIT_DONE();
}
