/*
 * The IOMMU: Intel VT-d DMA remapping (docs/iommu.md).
 *
 * At boot the ACPI DMAR names the DMA-remapping hardware units (DRHD).
 * Each gets a root table with no context entry present, its fault event
 * interrupt, queued invalidation (register-based invalidation where the
 * unit has none), and translation on: from then on no device reaches
 * memory at all, and each DMA it tries is a fault the hypervisor logs.
 *
 * A device given to a domain (pci=, pci.c) gets a context entry naming
 * its owner's second-level page table, one per owning domain, shared by
 * its devices.  As Xen does for a PV domain, the device addresses memory
 * by machine frame and the table maps identically exactly the owner's
 * writable RAM: a frame of the owner's whose page type is PGT_WRITABLE
 * (pv/mm.c), never a page-table or descriptor frame, never a hypervisor
 * frame shared with it (shared_info, grant-table frames).  The PV MMU
 * calls iommu_frame_sync on every type change of a frame and before a
 * frame is freed; the entry is made to follow the frame's state under the
 * iommu lock, and an entry removed is out of every IOTLB (invalidation
 * waited for) before the caller goes on: before a new table is validated,
 * before a freed frame is handed out again.
 *
 * Frames of other domains that the owner grant-maps are in its table
 * while mapped, read-only or writable as mapped (iommu_grant_map/unmap,
 * counted per frame).
 *
 * Interrupt remapping, when every unit offers it: one table whose entries
 * pci.c's MSI maps take (iommu_irte_set), each delivering one vector to
 * the boot CPU for one device's source-id only.
 *
 * When the owner dies (pci_release_domain, before its frames are freed)
 * each device's context entry is cleared, the context cache and IOTLB
 * invalidated, and the tables freed.
 *
 * Faults: the fault event interrupt (VEC_IOMMU_FAULT, boot CPU) reads the
 * fault recording registers, logs source-id, address, access and reason
 * (at most iommu_fault_log= lines a second, default 10; the number left
 * out is told at the next fault after the second),
 * and clears each record.
 *
 * Lock: `iommu` (order 8 with key 1, after `pci`; docs/locking.md): the
 * units' tables and invalidation queues, the interrupt remapping table,
 * and the per-domain tables and grant counts.
 */
#include "lib.h"
#include "mm.h"
#include "acpi.h"
#include "boot.h"
#include "domain.h"
#include "iommu.h"
#include "pci.h"
#include "spinlock.h"
#include "time.h"
#include "x86.h"
#include "apic.h"

/* Registers. */
#define R_CAP      0x08
#define R_ECAP     0x10
#define R_GCMD     0x18
#define R_GSTS     0x1c
#define R_RTADDR   0x20
#define R_CCMD     0x28
#define R_FSTS     0x34
#define R_FECTL    0x38
#define R_FEDATA   0x3c
#define R_FEADDR   0x40
#define R_FEUADDR  0x44
#define R_IQH      0x80
#define R_IQT      0x88
#define R_IQA      0x90
#define R_IRTA     0xb8

#define GCMD_TE    (1u << 31)
#define GCMD_SRTP  (1u << 30)
#define GCMD_WBF   (1u << 27)
#define GCMD_QIE   (1u << 26)
#define GCMD_IRE   (1u << 25)
#define GCMD_SIRTP (1u << 24)
/* Status bits that stay set (a command write must repeat them). */
#define GSTS_PERSIST ((1u << 31) | (1u << 26) | (1u << 25) | (1u << 23))

#define CAP_RWBF   (1ull << 4)
#define CAP_CM     (1ull << 7)
#define CAP_SAGAW(c) (((c) >> 8) & 0x1f)
#define CAP_FRO(c) ((unsigned)(((c) >> 24) & 0x3ff) * 16)
#define CAP_NFR(c) ((unsigned)(((c) >> 40) & 0xff) + 1)
#define CAP_ND(c)  ((unsigned)((c) & 7))
#define ECAP_C     (1ull << 0)
#define ECAP_QI    (1ull << 1)
#define ECAP_IR    (1ull << 3)
#define ECAP_EIM   (1ull << 4)
#define ECAP_IRO(e) ((unsigned)(((e) >> 8) & 0x3ff) * 16)

#define FSTS_PPF   (1u << 1)
#define FSTS_IQE   (1u << 4)
#define FSTS_W1C   0x7du         /* PFO, AFO, APF, IQE, ICE, ITE */

#define SL_R      1ull
#define SL_W      2ull
#define SL_ADDR 0x000ffffffffff000ull

#define MAX_UNITS  4
#define MAX_SCOPES 32
#define MAX_IODOMS 32
#define MAX_RMRR   16
#define QI_ENTRIES 256           /* one page of 128-bit descriptors */
#define WAIT_NS    1000000000ull

struct unit {
    uint64_t base;
    volatile uint8_t *regs;
    uint64_t cap, ecap;
    bool all;                    /* INCLUDE_PCI_ALL */
    uint16_t scope[MAX_SCOPES];  /* endpoints named (bus, device, function) */
    unsigned nr_scope;
    uint16_t bridge[MAX_SCOPES]; /* bridges named: they and what is behind them */
    unsigned nr_bridge;
    uint64_t *root;              /* root table (256 x 128 bits) */
    uint64_t *qi;                /* invalidation queue, or NULL */
    volatile uint32_t *qi_status;
    unsigned qi_tail;
};

/* A domain that owns devices: its second-level table. */
struct iodom {
    bool used;
    domid_t id;
    uint64_t *top;
    unsigned nr_dev;
    uint16_t dev[PCI_MAX_ASSIGN];
    struct unit *dev_unit[PCI_MAX_ASSIGN];
    uint64_t mapped;             /* frames reachable now */
    struct gmap *gmaps;          /* others' frames it has grant-mapped */
};

/* A frame of another domain that an owning domain has grant-mapped: how
 * many of its mappings are writable and read-only.  Open addressing by
 * frame; GMAP_SLOTS at most (a map beyond that is refused). */
struct gmap {
    uint64_t mfn;                /* 0: free slot; ~0: deleted */
    uint32_t rw, ro;
};
#define GMAP_ORDER 3
#define GMAP_SLOTS ((PAGE_SIZE << GMAP_ORDER) / sizeof(struct gmap))
#define GMAP_DEL   (~0ull)

static struct unit units[MAX_UNITS];
static unsigned nr_units;
/* I/O APICs the DRHDs name (scope type 3): id and source-id. */
#define MAX_IOAPIC_SCOPES 8
static struct { uint8_t id; uint16_t sid; } ioapic_scope[MAX_IOAPIC_SCOPES];
static unsigned nr_ioapic_scopes;
static uint16_t rmrr_dev[MAX_RMRR];
static unsigned nr_rmrr;
static unsigned levels;          /* 3 (39-bit) or 4 (48-bit) */
static bool enabled, coherent = true, caching_mode;
static struct iodom iodoms[MAX_IODOMS];
static unsigned nr_iodoms;       /* used entries (read without the lock) */
/* Domains with a DMA table, a bit each: read without the lock by the
 * frame and grant hooks, so that other domains' page-type changes never
 * take the lock.  Set before the domain has RAM, cleared at its death. */
static uint64_t iodom_bits[DOMID_FIRST_RESERVED / 64];

static bool has_iodom(uint16_t id)
{
    return id < DOMID_FIRST_RESERVED &&
           (__atomic_load_n(&iodom_bits[id / 64], __ATOMIC_ACQUIRE) >> (id % 64) & 1);
}
/* Interrupt remapping: one table (256 entries) for every unit. */
#define IRT_ENTRIES 256
static uint64_t *irt;
static bool ir_on, ir_x2apic;
#define FAULT_LOG_BURST 10       /* fault lines per second (iommu_fault_log=) */
static unsigned fault_burst = FAULT_LOG_BURST;
static spinlock_t iommu_lock = SPINLOCK_INIT("iommu", LOCK_ORDER_PCI);
#define IOMMU_KEY 1              /* after pci (key 0) */

void *map_mmio(uint64_t pa, uint64_t size);

static uint32_t rd32(const struct unit *u, unsigned r) { return *(volatile uint32_t *)(u->regs + r); }
static uint64_t rd64(const struct unit *u, unsigned r) { return *(volatile uint64_t *)(u->regs + r); }
static void wr32(struct unit *u, unsigned r, uint32_t v) { *(volatile uint32_t *)(u->regs + r) = v; }
static void wr64(struct unit *u, unsigned r, uint64_t v) { *(volatile uint64_t *)(u->regs + r) = v; }

bool iommu_enabled(void)
{
    return enabled;
}

/* A unit that does not snoop the CPU caches reads tables from memory. */
static void flush_cache(const void *p, size_t n)
{
    if (coherent)
        return;
    for (uintptr_t a = (uintptr_t)p & ~63ul; a < (uintptr_t)p + n; a += 64)
        __asm__ volatile("clflush (%0)" :: "r"(a) : "memory");
    __asm__ volatile("mfence" ::: "memory");
}

static void wait_for(struct unit *u, unsigned reg, uint32_t mask, bool set, const char *what)
{
    uint64_t end = now_ns() + WAIT_NS;
    while (!!(rd32(u, reg) & mask) != set) {
        if (now_ns() > end)
            panic("iommu: unit at %lx does not complete %s (register %x: %x)",
                  (unsigned long)u->base, what, reg, rd32(u, reg));
        cpu_relax();
    }
}

/* A global command: persistent enables kept, one bit added. */
static void gcmd(struct unit *u, uint32_t bit, const char *what)
{
    wr32(u, R_GCMD, (rd32(u, R_GSTS) & GSTS_PERSIST) | bit);
    if (bit == GCMD_WBF)
        wait_for(u, R_GSTS, bit, false, what);
    else
        wait_for(u, R_GSTS, bit, true, what);
}

/* ---- Invalidation (iommu lock held, or at boot). */

static void qi_submit(struct unit *u, uint64_t lo, uint64_t hi)
{
    u->qi[2 * u->qi_tail] = lo;
    u->qi[2 * u->qi_tail + 1] = hi;
    flush_cache(&u->qi[2 * u->qi_tail], 16);
    u->qi_tail = (u->qi_tail + 1) % QI_ENTRIES;
}

/* Submits what is queued plus a wait descriptor, and waits for it. */
static void qi_sync(struct unit *u)
{
    *u->qi_status = 1;
    flush_cache((const void *)u->qi_status, 4);
    qi_submit(u, 5 | 1u << 5 | (uint64_t)2 << 32, PA(u->qi_status));   /* wait, status write 2 */
    __asm__ volatile("sfence" ::: "memory");
    wr64(u, R_IQT, (uint64_t)u->qi_tail << 4);
    uint64_t end = now_ns() + WAIT_NS;
    while (__atomic_load_n(u->qi_status, __ATOMIC_ACQUIRE) != 2) {
        if (rd32(u, R_FSTS) & FSTS_IQE)
            panic("iommu: unit at %lx refused an invalidation descriptor (IQH %lx)",
                  (unsigned long)u->base, (unsigned long)rd64(u, R_IQH));
        if (now_ns() > end)
            panic("iommu: unit at %lx does not complete queued invalidation",
                  (unsigned long)u->base);
        cpu_relax();
    }
}

/* Every context-cache entry of the unit. */
static void inv_context(struct unit *u)
{
    if (u->qi) {
        qi_submit(u, 1 | 1u << 4, 0);                          /* global */
        qi_sync(u);
        return;
    }
    wr64(u, R_CCMD, 1ull << 63 | 1ull << 61);                  /* ICC, global */
    uint64_t end = now_ns() + WAIT_NS;
    while (rd64(u, R_CCMD) >> 63) {
        if (now_ns() > end)
            panic("iommu: unit at %lx does not complete context invalidation",
                  (unsigned long)u->base);
        cpu_relax();
    }
}

/* The unit's IOTLB entries of domain-id did (0: all), reads and writes
 * drained. */
static void inv_iotlb(struct unit *u, uint16_t did)
{
    if (u->qi) {
        uint64_t g = did ? 2 : 1;                              /* domain / global */
        qi_submit(u, 2 | g << 4 | 1u << 6 | 1u << 7 | (uint64_t)did << 16, 0);
        qi_sync(u);
        return;
    }
    unsigned iotlb = ECAP_IRO(u->ecap) + 8;
    uint64_t g = did ? 2 : 1;
    wr64(u, iotlb, 1ull << 63 | g << 60 | 1ull << 49 | 1ull << 48 | (uint64_t)did << 32);
    uint64_t end = now_ns() + WAIT_NS;
    while (rd64(u, iotlb) >> 63) {
        if (now_ns() > end)
            panic("iommu: unit at %lx does not complete IOTLB invalidation",
                  (unsigned long)u->base);
        cpu_relax();
    }
}

/* The unit's interrupt entry cache: entry index, or all (index < 0). */
static void inv_iec(struct unit *u, int index)
{
    qi_submit(u, 4 | (index >= 0 ? 1u << 4 | (uint64_t)index << 32 : 0), 0);
    qi_sync(u);
}

static void write_buffer_flush(struct unit *u)
{
    if (u->cap & CAP_RWBF)
        gcmd(u, GCMD_WBF, "a write-buffer flush");
}

/* ---- Units from the DMAR. */

/* The unit that translates bdf's requests (pci_lock held: a bridge's
 * bus numbers are read from its configuration space). */
static struct unit *unit_for(uint16_t bdf)
{
    for (unsigned i = 0; i < nr_units; i++)
        for (unsigned k = 0; k < units[i].nr_scope; k++)
            if (units[i].scope[k] == bdf)
                return &units[i];
    for (unsigned i = 0; i < nr_units; i++)
        for (unsigned k = 0; k < units[i].nr_bridge; k++) {
            unsigned sec, sub;
            if (units[i].bridge[k] == bdf ||
                (pci_bridge_buses(units[i].bridge[k], &sec, &sub) && (bdf >> 8) >= sec &&
                 (bdf >> 8) <= sub))
                return &units[i];
        }
    for (unsigned i = 0; i < nr_units; i++)
        if (units[i].all)
            return &units[i];
    return NULL;
}

/* The device scopes of type `type` (1 endpoint, 2 bridge) in [p, end)
 * named directly on their start bus (a path of one step); a path through
 * bridges is logged and left out (such a device then has no unit and is
 * not assignable). */
static unsigned parse_scopes(const uint8_t *p, const uint8_t *end, unsigned type, uint16_t *out,
                             unsigned max)
{
    unsigned n = 0;
    while (p + 6 <= end && p[1] >= 6 && p + p[1] <= end) {
        unsigned len = p[1];
        if (p[0] == type && len == 8 && n < max)
            out[n++] = PCI_BDF(p[5], p[6], p[7]);
        else if (p[0] == type)
            printk("iommu: DMAR device scope (type %u, %u path steps) not supported: left "
                   "out\n", p[0], (len - 6) / 2);
        p += len;
    }
    return n;
}

static bool parse_dmar(void)
{
    const struct acpi_header *h = acpi_find_table("DMAR");
    if (!h) {
        printk("iommu: no ACPI DMAR: no DMA remapping\n");
        return false;
    }
    const uint8_t *p = (const uint8_t *)h + 48, *end = (const uint8_t *)h + h->length;
    while (p + 4 <= end) {
        uint16_t type = *(const uint16_t *)p, len = *(const uint16_t *)(p + 2);
        if (len < 4 || p + len > end)
            break;
        if (type == 0 && len >= 16) {                          /* DRHD */
            uint16_t seg = *(const uint16_t *)(p + 6);
            if (seg != 0) {
                printk("iommu: DRHD for PCI segment %u ignored (segment 0 only)\n", seg);
            } else if (nr_units == MAX_UNITS) {
                printk("iommu: more than %u DRHD units: the rest ignored\n", MAX_UNITS);
            } else {
                struct unit *u = &units[nr_units++];
                u->base = *(const uint64_t *)(p + 8);
                u->all = p[4] & 1;
                u->nr_scope = parse_scopes(p + 16, p + len, 1, u->scope, MAX_SCOPES);
                u->nr_bridge = parse_scopes(p + 16, p + len, 2, u->bridge, MAX_SCOPES);
                /* I/O APICs (type 3, one path step): the source-id their
                 * interrupts carry, by I/O APIC id. */
                for (const uint8_t *s = p + 16; s + 8 <= p + len && s[1] >= 6 &&
                     s + s[1] <= p + len; s += s[1])
                    if (s[0] == 3 && s[1] == 8 && nr_ioapic_scopes < MAX_IOAPIC_SCOPES) {
                        ioapic_scope[nr_ioapic_scopes].id = s[4];
                        ioapic_scope[nr_ioapic_scopes].sid = PCI_BDF(s[5], s[6], s[7]);
                        nr_ioapic_scopes++;
                    }
            }
        } else if (type == 1 && len >= 24) {                   /* RMRR */
            nr_rmrr += parse_scopes(p + 24, p + len, 1, rmrr_dev + nr_rmrr, MAX_RMRR - nr_rmrr);
        }
        p += len;
    }
    if (!nr_units) {
        printk("iommu: the ACPI DMAR names no DMA-remapping unit: no DMA remapping\n");
        return false;
    }
    return true;
}

/* The fault event interrupt of u: fixed, edge, to the boot CPU. */
static void fault_event_init(struct unit *u)
{
    uint32_t id = pcpus[0]->apic_id;
    wr32(u, R_FEDATA, VEC_IOMMU_FAULT);
    wr32(u, R_FEADDR, 0xfee00000u | (id & 0xff) << 12);
    wr32(u, R_FEUADDR, id & ~0xffu);
    wr32(u, R_FECTL, 0);                                       /* unmasked */
}

static bool unit_init(struct unit *u)
{
    u->regs = map_mmio(u->base, PAGE_SIZE);
    u->cap = rd64(u, R_CAP);
    u->ecap = rd64(u, R_ECAP);
    unsigned need = MAX(ECAP_IRO(u->ecap) + 16, CAP_FRO(u->cap) + 16 * CAP_NFR(u->cap));
    if (need > PAGE_SIZE)
        u->regs = map_mmio(u->base, ROUNDUP(need, PAGE_SIZE));
    if (!(u->ecap & ECAP_C))
        coherent = false;
    if (u->cap & CAP_CM)
        caching_mode = true;
    if (rd32(u, R_GSTS) & GCMD_TE) {
        wr32(u, R_GCMD, rd32(u, R_GSTS) & GSTS_PERSIST & ~GCMD_TE);
        wait_for(u, R_GSTS, GCMD_TE, false, "turning translation off");
    }
    u->root = alloc_hv_pages(0);
    if (!u->root)
        return false;
    return true;
}

static void unit_enable(struct unit *u)
{
    fault_event_init(u);
    if (u->ecap & ECAP_QI) {
        u->qi = alloc_hv_pages(1);
        if (u->qi) {
            u->qi_status = (volatile uint32_t *)((uint8_t *)u->qi + PAGE_SIZE);
            u->qi_tail = 0;
            wr64(u, R_IQT, 0);
            wr64(u, R_IQA, PA(u->qi));                         /* one page, 128-bit descriptors */
            gcmd(u, GCMD_QIE, "turning queued invalidation on");
        }
    }
    if (irt) {
        /* Interrupt remapping (queued invalidation is on: the unit needs
         * it for its entry cache). */
        wr64(u, R_IRTA, PA(irt) | (ir_x2apic ? 1u << 11 : 0) | 7);   /* 2^(7+1) entries */
        gcmd(u, GCMD_SIRTP, "setting the interrupt remapping table");
        inv_iec(u, -1);
        gcmd(u, GCMD_IRE, "turning interrupt remapping on");
    }
    flush_cache(u->root, PAGE_SIZE);
    wr64(u, R_RTADDR, PA(u->root));
    gcmd(u, GCMD_SRTP, "setting the root table");
    write_buffer_flush(u);
    inv_context(u);
    inv_iotlb(u, 0);
    gcmd(u, GCMD_TE, "turning translation on");
}

void iommu_init(void)
{
    const char *v;
    size_t n;
    if (hv_option("iommu", &v, &n) && n == 3 && !memcmp(v, "off", 3)) {
        printk("iommu: off (iommu=off on the command line): devices' DMA is not contained\n");
        return;
    }
    if (hv_option("iommu_fault_log", &v, &n)) {
        unsigned x = 0;
        for (size_t k = 0; k < n && v[k] >= '0' && v[k] <= '9' && x < 1000000; k++)
            x = x * 10 + (unsigned)(v[k] - '0');
        fault_burst = x;
    }
    if (!parse_dmar())
        return;
    unsigned sagaw = 0x1f;
    for (unsigned i = 0; i < nr_units; i++) {
        if (!unit_init(&units[i])) {
            printk("iommu: no memory for the root tables: no DMA remapping\n");
            return;
        }
        sagaw &= CAP_SAGAW(units[i].cap);
    }
    levels = (sagaw & 4) ? 4 : (sagaw & 2) ? 3 : 0;
    if (!levels || (levels == 3 && max_pfn > (1ull << 27))) {
        printk("iommu: no second-level table depth common to the units covers memory "
               "(SAGAW %x): no DMA remapping\n", sagaw);
        return;
    }
    bool ir = true;
    for (unsigned i = 0; i < nr_units; i++)
        ir &= (units[i].ecap & ECAP_IR) && (units[i].ecap & ECAP_QI) &&
              (!apic_x2apic_mode() || (units[i].ecap & ECAP_EIM));
    if (ir) {
        irt = alloc_hv_pages(0);
        ir_x2apic = apic_x2apic_mode();
        if (irt)
            flush_cache(irt, PAGE_SIZE);
    }
    for (unsigned i = 0; i < nr_units; i++) {
        struct unit *u = &units[i];
        unit_enable(u);
        printk("iommu: VT-d unit at %lx (%s%u endpoints, %u bridges named): %u-level tables, %s invalidation, "
               "%u fault records%s%s; DMA remapping on, no device reaches memory\n",
               (unsigned long)u->base, u->all ? "all devices, " : "", u->nr_scope, u->nr_bridge,
               levels,
               u->qi ? "queued" : "register-based", CAP_NFR(u->cap),
               coherent ? "" : ", not coherent", (u->cap & CAP_CM) ? ", caching mode" : "");
    }
    enabled = true;
    ir_on = irt && !!(units[0].qi);
    for (unsigned i = 0; i < nr_units; i++)
        ir_on &= units[i].qi != NULL;
    if (ir_on)
        printk("iommu: interrupt remapping on (%s destinations): MSIs through table entries "
               "that name their device as source-id\n", ir_x2apic ? "x2APIC" : "xAPIC");
    else
        printk("iommu: no interrupt remapping (the units %s)\n",
               irt ? "have no queued invalidation" : "do not offer it");
}

bool iommu_intremap(void)
{
    return ir_on;
}

/* Interrupt remapping table entries (pci.c's MSI maps, pci_lock held). */
bool iommu_ioapic_sid(unsigned id, uint16_t *sid)
{
    for (unsigned i = 0; i < nr_ioapic_scopes; i++)
        if (ioapic_scope[i].id == id) {
            *sid = ioapic_scope[i].sid;
            return true;
        }
    return false;
}

int iommu_irte_set(unsigned index, uint16_t bdf, unsigned vector, uint32_t dest, bool level,
                   uint32_t *addr, uint32_t *data)
{
    if (!ir_on || index >= IRT_ENTRIES)
        return -1;
    spin_lock_key(&iommu_lock, IOMMU_KEY);
    uint64_t *e = &irt[2 * index];
    uint64_t dst = ir_x2apic ? (uint64_t)dest << 32 : (uint64_t)(dest & 0xff) << 40;
    e[1] = bdf | 1ull << 18;                   /* source-id, all 16 bits verified (SVT 1, SQ 0) */
    /* Present, physical destination, fixed, edge (MSI) or level (an
     * I/O APIC's level line), the vector. */
    __atomic_store_n(&e[0], 1 | (level ? 1ull << 4 : 0) | (uint64_t)(vector & 0xff) << 16 | dst,
                     __ATOMIC_RELEASE);
    flush_cache(e, 16);
    for (unsigned i = 0; i < nr_units; i++)
        inv_iec(&units[i], (int)index);
    spin_unlock(&iommu_lock);
    printk("iommu: interrupt remapping entry %u: vector %#x%s to APIC %u, from %02x:%02x.%x "
           "only\n", index, vector, level ? " (level)" : "", dest, bdf >> 8, (bdf >> 3) & 31,
           bdf & 7);
    /* Remappable format: the handle, no subhandle. */
    *addr = 0xfee00000u | (index & 0x7fff) << 5 | 1u << 4 | ((index >> 15) & 1) << 2;
    *data = 0;
    return 0;
}

void iommu_irte_clear(unsigned index)
{
    if (!ir_on || index >= IRT_ENTRIES)
        return;
    spin_lock_key(&iommu_lock, IOMMU_KEY);
    __atomic_store_n(&irt[2 * index], 0, __ATOMIC_RELEASE);
    irt[2 * index + 1] = 0;
    flush_cache(&irt[2 * index], 16);
    for (unsigned i = 0; i < nr_units; i++)
        inv_iec(&units[i], (int)index);
    spin_unlock(&iommu_lock);
}

/* ---- Second-level tables (iommu lock held). */

static struct iodom *iodom_of(domid_t id)
{
    for (unsigned i = 0; i < MAX_IODOMS; i++)
        if (iodoms[i].used && iodoms[i].id == id)
            return &iodoms[i];
    return NULL;
}

static uint16_t did_of(domid_t id)
{
    return (uint16_t)(id + 1);   /* domain-id 0 is reserved in caching mode */
}

/* The leaf entry for frame mfn, with the tables above it made if make. */
static uint64_t *sl_entry(struct iodom *io, uint64_t mfn, bool make)
{
    uint64_t *t = io->top;
    for (unsigned lvl = levels; lvl > 1; lvl--) {
        uint64_t *e = &t[(mfn >> (9 * (lvl - 1))) & 511];
        if (!(*e & (SL_R | SL_W))) {
            if (!make)
                return NULL;
            uint64_t *n = alloc_hv_pages(0);
            if (!n)
                return NULL;
            flush_cache(n, PAGE_SIZE);
            *e = PA(n) | SL_R | SL_W;
            flush_cache(e, 8);
        }
        t = VA(*e & SL_ADDR);
    }
    return &t[mfn & 511];
}

static void sl_free(uint64_t *t, unsigned lvl, uint64_t *pages)
{
    if (lvl > 1)
        for (unsigned i = 0; i < 512; i++)
            if (t[i] & (SL_R | SL_W))
                sl_free(VA(t[i] & SL_ADDR), lvl - 1, pages);
    free_hv_pages(t, 0);
    (*pages)++;
}

static void flush_domain(domid_t id)
{
    for (unsigned i = 0; i < nr_units; i++) {
        write_buffer_flush(&units[i]);
        inv_iotlb(&units[i], did_of(id));
    }
}

void iommu_frame_sync(uint64_t mfn)
{
    if (!__atomic_load_n(&nr_iodoms, __ATOMIC_ACQUIRE) || mfn >= max_pfn ||
        !has_iodom(__atomic_load_n(&frame_table[mfn].owner, __ATOMIC_ACQUIRE)))
        return;
    spin_lock_key(&iommu_lock, IOMMU_KEY);
    struct page_info *p = &frame_table[mfn];
    struct iodom *io = iodom_of(p->owner);
    if (io) {
        uint32_t ti = __atomic_load_n(&p->type_info, __ATOMIC_ACQUIRE);
        bool want = (ti & PGT_TYPE_MASK) == PGT_WRITABLE && !(p->flags & PGF_HV_SHARED) &&
                    __atomic_load_n(&p->count, __ATOMIC_ACQUIRE) != 0;
        uint64_t *e = sl_entry(io, mfn, want);
        if (want && !e) {
            printk("iommu: no memory for d%u's table: frame %lx not reachable by its devices\n",
                   io->id, (unsigned long)mfn);
        } else if (want && !(*e & SL_W)) {
            *e = mfn << PAGE_SHIFT | SL_R | SL_W;
            flush_cache(e, 8);
            io->mapped++;
            if (caching_mode)
                flush_domain(io->id);
        } else if (!want && e && (*e & (SL_R | SL_W))) {
            *e = 0;
            flush_cache(e, 8);
            io->mapped--;
            flush_domain(io->id);
        }
    }
    spin_unlock(&iommu_lock);
}

/* ---- Grant mappings (the grant table, both domains' locks held). */

static struct gmap *gmap_find(struct iodom *io, uint64_t mfn, bool make)
{
    if (!io->gmaps) {
        if (!make)
            return NULL;
        io->gmaps = alloc_hv_pages(GMAP_ORDER);
        if (!io->gmaps)
            return NULL;
    }
    struct gmap *spare = NULL;
    for (unsigned i = 0, k = (unsigned)(mfn * 0x9e3779b1u) % GMAP_SLOTS; i < GMAP_SLOTS;
         i++, k = (k + 1) % GMAP_SLOTS) {
        struct gmap *g = &io->gmaps[k];
        if (g->mfn == mfn)
            return g;
        if (g->mfn == GMAP_DEL && !spare)
            spare = g;
        if (!g->mfn) {
            if (!spare)
                spare = g;
            break;
        }
    }
    if (!make || !spare)
        return NULL;
    *spare = (struct gmap){ .mfn = mfn };
    return spare;
}

/* The leaf entry for a grant-mapped frame as its counts say. */
static void gmap_apply(struct iodom *io, struct gmap *g)
{
    uint64_t want = g->rw ? SL_R | SL_W : g->ro ? SL_R : 0;
    uint64_t *e = sl_entry(io, g->mfn, want != 0);
    if (!e)
        return;
    uint64_t old = *e & (SL_R | SL_W);
    if (old == want)
        return;
    *e = want ? g->mfn << PAGE_SHIFT | want : 0;
    flush_cache(e, 8);
    if (old || caching_mode)
        flush_domain(io->id);
}

int iommu_grant_map(struct domain *ld, uint64_t mfn, bool writable)
{
    if (!__atomic_load_n(&nr_iodoms, __ATOMIC_ACQUIRE) || mfn >= max_pfn || !has_iodom(ld->id))
        return 0;
    spin_lock_key(&iommu_lock, IOMMU_KEY);
    struct iodom *io = iodom_of(ld->id);
    int rc = 0;
    if (io && frame_table[mfn].owner != ld->id) {
        struct gmap *g = gmap_find(io, mfn, true);
        uint64_t *e = g ? sl_entry(io, mfn, true) : NULL;
        if (!g || !e) {
            rc = -1;             /* no memory or no slot: the map is refused */
        } else {
            if (writable)
                g->rw++;
            else
                g->ro++;
            gmap_apply(io, g);
        }
    }
    spin_unlock(&iommu_lock);
    return rc;
}

void iommu_grant_unmap(struct domain *ld, uint64_t mfn, bool writable)
{
    if (!__atomic_load_n(&nr_iodoms, __ATOMIC_ACQUIRE) || mfn >= max_pfn || !has_iodom(ld->id))
        return;
    spin_lock_key(&iommu_lock, IOMMU_KEY);
    struct iodom *io = iodom_of(ld->id);
    struct gmap *g = io ? gmap_find(io, mfn, false) : NULL;
    if (g) {
        if (writable && g->rw)
            g->rw--;
        else if (!writable && g->ro)
            g->ro--;
        gmap_apply(io, g);
        if (!g->rw && !g->ro)
            g->mfn = GMAP_DEL;
    }
    spin_unlock(&iommu_lock);
}

/* ---- Devices. */

static uint64_t *context_entry(struct unit *u, uint16_t bdf, bool make)
{
    uint64_t *r = &u->root[2 * (bdf >> 8)];
    if (!(*r & 1)) {
        if (!make)
            return NULL;
        uint64_t *c = alloc_hv_pages(0);
        if (!c)
            return NULL;
        flush_cache(c, PAGE_SIZE);
        r[1] = 0;
        *r = PA(c) | 1;
        flush_cache(r, 16);
    }
    return (uint64_t *)VA(*r & SL_ADDR) + 2 * (bdf & 0xff);
}

/* A bus's context table with no entry left goes (not cached: its entries
 * were invalidated when cleared). */
static void context_table_drop_if_empty(struct unit *u, unsigned bus)
{
    uint64_t *r = &u->root[2 * bus];
    if (!(*r & 1))
        return;
    const uint64_t *c = VA(*r & SL_ADDR);
    for (unsigned i = 0; i < 512; i++)
        if (c[i])
            return;
    __atomic_store_n(r, 0, __ATOMIC_RELEASE);
    flush_cache(r, 16);
    write_buffer_flush(u);
    inv_context(u);
    free_hv_pages((void *)c, 0);
}

int iommu_assign(struct domain *d, uint16_t bdf, char *why, size_t n)
{
    unsigned bus = bdf >> 8, dev = (bdf >> 3) & 31, fn = bdf & 7;
    struct unit *u = unit_for(bdf);
    if (!u) {
        snprintf(why, n, "pci=%02x:%02x.%x: no DMA-remapping unit covers it", bus, dev, fn);
        return -1;
    }
    for (unsigned i = 0; i < nr_rmrr; i++)
        if (rmrr_dev[i] == bdf) {
            snprintf(why, n, "pci=%02x:%02x.%x needs a reserved memory region (ACPI RMRR) "
                     "mapped: not assignable", bus, dev, fn);
            return -1;
        }
    if (did_of(d->id) >= (1u << (4 + 2 * CAP_ND(u->cap)))) {
        snprintf(why, n, "pci=%02x:%02x.%x: d%u is beyond the unit's domain-ids", bus, dev,
                 fn, d->id);
        return -1;
    }
    int rc = -1;
    spin_lock_key(&iommu_lock, IOMMU_KEY);
    struct iodom *io = iodom_of(d->id);
    if (!io) {
        /* A device is given only at build, before the domain has RAM
         * (its frames so far are hypervisor frames shared with it, never
         * reachable): every frame is then synced as it gets its type. */
        if (d->nr_pages) {
            snprintf(why, n, "pci=%02x:%02x.%x: d%u has memory already (devices are given "
                     "at build only)", bus, dev, fn, d->id);
            goto out;
        }
        for (unsigned i = 0; i < MAX_IODOMS && !io; i++)
            if (!iodoms[i].used)
                io = &iodoms[i];
        if (!io) {
            snprintf(why, n, "pci=%02x:%02x.%x: more than %u domains own devices", bus, dev,
                     fn, MAX_IODOMS);
            goto out;
        }
        io->top = alloc_hv_pages(0);
        if (!io->top) {
            snprintf(why, n, "pci=%02x:%02x.%x: no memory for d%u's DMA table", bus, dev, fn,
                     d->id);
            io = NULL;
            goto out;
        }
        flush_cache(io->top, PAGE_SIZE);
        io->used = true;
        io->id = d->id;
        io->nr_dev = 0;
        io->mapped = 0;
        io->gmaps = NULL;
        __atomic_fetch_add(&nr_iodoms, 1, __ATOMIC_RELEASE);
        __atomic_fetch_or(&iodom_bits[d->id / 64], 1ull << (d->id % 64), __ATOMIC_RELEASE);
    }
    if (io->nr_dev == PCI_MAX_ASSIGN) {
        snprintf(why, n, "pci=%02x:%02x.%x: d%u owns %u devices already", bus, dev, fn, d->id,
                 PCI_MAX_ASSIGN);
        goto out;
    }
    uint64_t *c = context_entry(u, bdf, true);
    if (!c) {
        snprintf(why, n, "pci=%02x:%02x.%x: no memory for a context table", bus, dev, fn);
        goto out;
    }
    c[1] = (levels == 4 ? 2 : 1) | (uint64_t)did_of(d->id) << 8;   /* AW, domain-id */
    __atomic_store_n(&c[0], PA(io->top) | 1, __ATOMIC_RELEASE);   /* translated, present */
    flush_cache(c, 16);
    write_buffer_flush(u);
    inv_context(u);
    inv_iotlb(u, did_of(d->id));
    io->dev_unit[io->nr_dev] = u;
    io->dev[io->nr_dev++] = bdf;
    rc = 0;
out:
    if (rc && io && !io->nr_dev) {
        uint64_t pages = 0;
        sl_free(io->top, levels, &pages);
        io->used = false;
        __atomic_fetch_sub(&nr_iodoms, 1, __ATOMIC_RELEASE);
        __atomic_fetch_and(&iodom_bits[d->id / 64], ~(1ull << (d->id % 64)), __ATOMIC_RELEASE);
    }
    spin_unlock(&iommu_lock);
    if (!rc)
        printk("iommu: %02x:%02x.%x reaches only d%u's writable RAM (domain-id %u)\n", bus,
               dev, fn, d->id, did_of(d->id));
    return rc;
}

void iommu_release(struct domain *d)
{
    if (!enabled)
        return;
    spin_lock_key(&iommu_lock, IOMMU_KEY);
    struct iodom *io = iodom_of(d->id);
    if (!io) {
        spin_unlock(&iommu_lock);
        return;
    }
    for (unsigned k = 0; k < io->nr_dev; k++) {
        struct unit *u = io->dev_unit[k];
        uint64_t *c = context_entry(u, io->dev[k], false);
        if (c) {
            __atomic_store_n(&c[0], 0, __ATOMIC_RELEASE);
            c[1] = 0;
            flush_cache(c, 16);
        }
        write_buffer_flush(u);
        inv_context(u);
        inv_iotlb(u, did_of(d->id));
        context_table_drop_if_empty(u, io->dev[k] >> 8);
    }
    uint64_t pages = 0, mapped = io->mapped;
    unsigned nr = io->nr_dev;
    sl_free(io->top, levels, &pages);
    if (io->gmaps)
        free_hv_pages(io->gmaps, GMAP_ORDER);
    io->gmaps = NULL;
    io->used = false;
    __atomic_fetch_sub(&nr_iodoms, 1, __ATOMIC_RELEASE);
    __atomic_fetch_and(&iodom_bits[d->id / 64], ~(1ull << (d->id % 64)), __ATOMIC_RELEASE);
    spin_unlock(&iommu_lock);
    printk("iommu: d%u's %u device(s) detached (context entries cleared, IOTLB invalidated); "
           "%lu frames were reachable, %lu table pages freed\n", d->id, nr,
           (unsigned long)mapped, (unsigned long)pages);
}

/* ---- Faults. */

static uint64_t fault_window;
static unsigned fault_logged;
static uint64_t fault_dropped, faults_total;

static const char *fault_reason(unsigned r)
{
    switch (r) {
    case 1: return "no root entry";
    case 2: return "no context entry: the device is the hypervisor's";
    case 3: return "bad context entry";
    case 4: return "address beyond the table's width";
    case 5: return "write to a frame the device may not write";
    case 6: return "read of a frame the device may not read";
    case 7: return "table walk failed";
    default: return "other";
    }
}

/* Boot CPU only (the fault interrupt's destination), so the rate state
 * needs no lock; the owner is looked up without the iommu lock, for the
 * log line only (a device detached meanwhile is named the hypervisor's). */
static void fault_log(uint64_t lo, uint64_t hi)
{
    faults_total++;
    uint64_t now = now_ns();
    if (now - fault_window >= 1000000000ull) {
        if (fault_dropped)
            printk("iommu: %lu more DMA faults were not logged\n", (unsigned long)fault_dropped);
        fault_window = now;
        fault_logged = 0;
        fault_dropped = 0;
    }
    if (fault_logged >= fault_burst) {
        fault_dropped++;
        return;
    }
    fault_logged++;
    uint16_t sid = (uint16_t)hi;
    unsigned reason = (unsigned)(hi >> 32) & 0xff;
    domid_t owner = DOMID_XEN;
    for (unsigned i = 0; i < MAX_IODOMS; i++)
        for (unsigned k = 0; iodoms[i].used && k < iodoms[i].nr_dev; k++)
            if (iodoms[i].dev[k] == sid)
                owner = iodoms[i].id;
    char who[16];
    if (owner == DOMID_XEN)
        snprintf(who, sizeof(who), "the hypervisor");
    else
        snprintf(who, sizeof(who), "d%u", owner);
    printk("iommu: DMA fault: %02x:%02x.%x (%s's) %s at %lx blocked: reason %u, %s\n",
           sid >> 8, (sid >> 3) & 31, sid & 7, who, (hi >> 62 & 1) ? "read" : "write",
           (unsigned long)(lo & ~0xfffull), reason, fault_reason(reason));
}

void iommu_fault_interrupt(void)
{
    for (unsigned i = 0; i < nr_units; i++) {
        struct unit *u = &units[i];
        uint32_t fsts = rd32(u, R_FSTS);
        if (fsts & FSTS_PPF) {
            unsigned nfr = CAP_NFR(u->cap), fro = CAP_FRO(u->cap);
            unsigned k = (fsts >> 8) & 0xff;
            for (unsigned seen = 0; seen < nfr; seen++, k = (k + 1) % nfr) {
                uint64_t hi = rd64(u, fro + 16 * k + 8);
                if (!(hi >> 63))
                    break;
                uint64_t lo = rd64(u, fro + 16 * k);
                wr32(u, fro + 16 * k + 12, 0x80000000u);      /* F: cleared */
                fault_log(lo, hi);
            }
        }
        if (fsts & FSTS_W1C)
            wr32(u, R_FSTS, fsts & FSTS_W1C);
    }
}
