/*
 * PCI: configuration space, the devices found at boot, and their owners.
 *
 * Configuration space is reached through PCIe ECAM when the ACPI MCFG
 * names a region for segment 0 (QEMU's q35), else through the legacy
 * ports 0xcf8/0xcfc (QEMU's pc).  At boot every bus is scanned; each
 * function found is recorded with its BARs (sized with decoding off) and
 * its MSI, MSI-X and PCIe capabilities, and belongs to the hypervisor.
 *
 * The boot configuration gives a device to a domain (pci=BB:DD.F on its
 * module line, docs/boot-config.md): the domain must have the hardware
 * role, the device must exist, be no bridge and have no owner, and DMA
 * must be contained.  There is no IOMMU driver yet, so that last check
 * passes only when the hypervisor's command line says iommu=off, and a
 * warning names the risk (an owner can then program its device to DMA
 * into any memory), as libxl refuses passthrough without an IOMMU.  The
 * owner is granted its device's MMIO frames and I/O ports (the iomem and
 * ioport permissions that mmu_update and the I/O emulation check).
 *
 * The owner reads and writes its device's configuration space through
 * the ports 0xcf8/0xcfc, as Xen lets its hardware domain (emulated: a PV
 * guest's port I/O traps), with the filter Xen's pciback applies for a PV
 * domain with a passed-through device: BARs and the expansion ROM cannot
 * be moved (a sizing write of all ones reads back the size, as from the
 * device), the MSI and MSI-X capabilities cannot be written (interrupts
 * are the hypervisor's to program), and of the rest of the header only
 * the command register's I/O, memory, bus-master and INTx-disable bits,
 * the status register's write-one-to-clear bits, the cache line size,
 * the latency timer and the interrupt line are written; the
 * device-specific space reads through and is not written.  Anything that
 * is not the domain's own device reads as absent (all ones).
 *
 * Interrupts reach the owner as PIRQs on event channels: MSI and MSI-X
 * vectors, and the legacy INTx line as a GSI of the I/O APIC (ioapic.c;
 * its GSI from the firmware's interrupt line, docs/intx.md), masked from
 * each level interrupt to the owner's EOI.
 *
 * When the owner dies its devices stop (no decoding, no bus mastering,
 * MSI and MSI-X disabled) before its frames are freed, and return to the
 * hypervisor.
 */
#include "lib.h"
#include "time.h"
#include "x86.h"
#include "mm.h"
#include "acpi.h"
#include "boot.h"
#include "domain.h"
#include "pci.h"
#include "spinlock.h"
#include "xsm.h"
#include "event.h"
#include "sched.h"
#include "hypercall.h"
#include "iommu.h"
#include "ioapic.h"
#include "apic.h"
#include <xen/physdev.h>

#define PCI_MAX_DEVS 256

#define CFG_VENDOR   0x00
#define CFG_COMMAND  0x04
#define CFG_STATUS   0x06
#define CFG_CLASS    0x08        /* revision, then the class code above it */
#define CFG_CACHE    0x0c
#define CFG_LATENCY  0x0d
#define CFG_HEADER   0x0e
#define CFG_BAR0     0x10
#define CFG_CAPS     0x34
#define CFG_ROM0     0x30        /* type 0 header */
#define CFG_ROM1     0x38        /* type 1 header (bridge) */
#define CFG_INTLINE  0x3c
#define CFG_INTPIN   0x3d
#define PCIE_DEVCAP  0x04        /* in the PCIe capability */
#define PCIE_DEVCAP_FLR (1u << 28)
#define PCIE_DEVCTL  0x08
#define PCIE_DEVCTL_FLR 0x8000

#define CMD_IO       (1u << 0)
#define CMD_MEM      (1u << 1)
#define CMD_MASTER   (1u << 2)
#define CMD_INTX_OFF (1u << 10)
#define STATUS_CAPS  (1u << 4)
#define STATUS_RW1C  0xf900u     /* parity, signalled/received aborts, SERR, parity error */

#define CAP_MSI      0x05
#define CAP_PCIE     0x10
#define CAP_MSIX     0x11

enum bar_kind { BAR_NONE, BAR_IO, BAR_MEM32, BAR_MEM64, BAR_MEM64_HI };

struct pci_bar {
    uint64_t base, size;
    uint8_t kind;
    bool prefetch;
};

struct pci_dev {
    uint16_t bdf;
    uint16_t vendor, device;
    uint32_t class;              /* base class, subclass, programming interface */
    uint8_t header;              /* 0 device, 1 bridge, 2 CardBus */
    uint8_t msi, msix, pcie;     /* capability offsets, 0 if none */
    struct pci_bar bar[6];
    domid_t owner;               /* DOMID_XEN: the hypervisor's */
    uint8_t sizing;              /* BARs the owner wrote all ones to (bit i) */
    bool flr;                    /* PCIe function-level reset offered */
    uint64_t reset_until;        /* an FLR in progress ends then (ns), or 0 */
    uint32_t saved[16];          /* the header (0x00-0x3f) before the reset */
    uint8_t intx_pin, intx_line; /* INTx pin (1-4, 0 none) and the firmware's line */
};

/* Frames of MSI-X tables and pending-bit arrays: never writable by a
 * guest (interrupts are the hypervisor's to program), as Xen keeps them
 * in mmio_ro_ranges.  Filled at boot, read without a lock. */
#define MAX_RO_RANGES 64
static struct { uint64_t first, last; } ro_ranges[MAX_RO_RANGES];
static unsigned nr_ro_ranges;

static spinlock_t pci_lock = SPINLOCK_INIT("pci", LOCK_ORDER_PCI);
/* The interrupt storm limit (pci_msi_interrupt). */
#define IRQ_WINDOW_NS 10000000ull
#define IRQ_RATELIMIT 1000
static uint32_t irq_ratelimit = IRQ_RATELIMIT;
static unsigned limits_active;   /* vectors masked by it now */
static void flr_wait(struct pci_dev *p);
static void flr_wait_unlocked(uint16_t bdf);

#define NR_MSI_MAPS 128

/* A PIRQ: an MSI or MSI-X vector, or an INTx line (a GSI). */
struct msi_map {
    bool used, msix;
    bool intx;                   /* a GSI through the I/O APIC, level or edge */
    bool level, low;             /* its trigger and polarity */
    bool eoi_wait;               /* INTx: masked since it fired, until the owner's EOI */
    uint8_t gsi;
    domid_t dom;
    uint16_t bdf, entry;
    uint8_t pirq, vector;
    bool open;                   /* MSI-X: unmasked because its PIRQ is bound */
    bool limited;                /* masked by the storm limit until limit_end */
    uint32_t count;              /* interrupts since window */
    uint64_t window, limit_end;  /* ns */
    uint64_t storms;             /* windows cut short by the limit */
    uint64_t taken;              /* interrupts taken */
};

static struct msi_map maps[NR_MSI_MAPS];   /* MSI and MSI-X vectors given as PIRQs */
static uint8_t vec_map[256];               /* vector -> maps index + 1 */
static struct pci_dev devs[PCI_MAX_DEVS];
static unsigned nr_devs;
static volatile uint8_t *ecam;   /* bus ecam_first's configuration space */
static unsigned ecam_first, ecam_last;
static bool iommu_off;

void *map_mmio(uint64_t pa, uint64_t size);

/* ---- Raw configuration space (pci_lock held, or at boot). */

static volatile uint8_t *ecam_at(uint16_t bdf, unsigned reg)
{
    unsigned bus = bdf >> 8;
    if (!ecam || bus < ecam_first || bus > ecam_last)
        return NULL;
    return ecam + ((uint64_t)(bus - ecam_first) << 20) + ((uint64_t)(bdf & 0xff) << 12) + reg;
}

static uint32_t cfg_read(uint16_t bdf, unsigned reg, unsigned size)
{
    volatile uint8_t *p = ecam_at(bdf, reg);
    if (p) {
        if (size == 1)
            return *p;
        if (size == 2)
            return *(volatile uint16_t *)p;
        return *(volatile uint32_t *)p;
    }
    outl(0xcf8, 0x80000000u | (uint32_t)bdf << 8 | (reg & 0xfc));
    if (size == 1)
        return inb((uint16_t)(0xcfc + (reg & 3)));
    if (size == 2)
        return inw((uint16_t)(0xcfc + (reg & 2)));
    return inl(0xcfc);
}

static void cfg_write(uint16_t bdf, unsigned reg, unsigned size, uint32_t v)
{
    volatile uint8_t *p = ecam_at(bdf, reg);
    if (p) {
        if (size == 1)
            *p = (uint8_t)v;
        else if (size == 2)
            *(volatile uint16_t *)p = (uint16_t)v;
        else
            *(volatile uint32_t *)p = v;
        return;
    }
    outl(0xcf8, 0x80000000u | (uint32_t)bdf << 8 | (reg & 0xfc));
    if (size == 1)
        outb((uint16_t)(0xcfc + (reg & 3)), (uint8_t)v);
    else if (size == 2)
        outw((uint16_t)(0xcfc + (reg & 2)), (uint16_t)v);
    else
        outl(0xcfc, v);
}

/* ---- Enumeration. */

static void find_ecam(void)
{
    const struct acpi_header *m = acpi_find_table("MCFG");
    if (!m || m->length < sizeof(*m) + 8 + 16)
        return;
    const uint8_t *e = (const uint8_t *)m + sizeof(*m) + 8;
    const uint8_t *end = (const uint8_t *)m + m->length;
    for (; e + 16 <= end; e += 16) {
        uint64_t base;
        uint16_t seg;
        memcpy(&base, e, 8);
        memcpy(&seg, e + 8, 2);
        unsigned first = e[10], last = e[11];
        if (seg != 0 || last < first)
            continue;
        uint64_t start = base + ((uint64_t)first << 20);
        uint64_t size = (uint64_t)(last - first + 1) << 20;
        if (start + size > (1ULL << 32)) {
            printk("pci: ECAM at %lx is above 4 GiB: using ports 0xcf8/0xcfc\n",
                   (unsigned long)start);
            return;
        }
        ecam = map_mmio(start, size);
        ecam_first = first;
        ecam_last = last;
        printk("pci: ECAM at %lx for buses %02x-%02x (ACPI MCFG)\n", (unsigned long)start,
               first, last);
        return;
    }
}

static void find_caps(struct pci_dev *p)
{
    if (!(cfg_read(p->bdf, CFG_STATUS, 2) & STATUS_CAPS))
        return;
    unsigned at = cfg_read(p->bdf, CFG_CAPS, 1) & 0xfc;
    for (int n = 0; at >= 0x40 && n < 48; n++) {
        unsigned id = cfg_read(p->bdf, at, 1);
        if (id == CAP_MSI && !p->msi)
            p->msi = (uint8_t)at;
        else if (id == CAP_MSIX && !p->msix)
            p->msix = (uint8_t)at;
        else if (id == CAP_PCIE && !p->pcie)
            p->pcie = (uint8_t)at;
        at = cfg_read(p->bdf, at + 1, 1) & 0xfc;
    }
    if (p->pcie)
        p->flr = cfg_read(p->bdf, p->pcie + PCIE_DEVCAP, 4) & PCIE_DEVCAP_FLR;
}

/* Sizes the BARs with memory and I/O decoding off, as firmware does. */
static void size_bars(struct pci_dev *p)
{
    unsigned n = p->header == 0 ? 6 : p->header == 1 ? 2 : 0;
    uint32_t cmd = cfg_read(p->bdf, CFG_COMMAND, 2);
    cfg_write(p->bdf, CFG_COMMAND, 2, cmd & ~(CMD_IO | CMD_MEM));
    for (unsigned i = 0; i < n; i++) {
        unsigned reg = CFG_BAR0 + 4 * i;
        uint32_t orig = cfg_read(p->bdf, reg, 4);
        cfg_write(p->bdf, reg, 4, ~0u);
        uint32_t mask = cfg_read(p->bdf, reg, 4);
        cfg_write(p->bdf, reg, 4, orig);
        struct pci_bar *b = &p->bar[i];
        if (!mask)
            continue;
        if (orig & 1) {
            uint32_t m = mask & 0xfffcu;
            if (!m)
                continue;
            b->kind = BAR_IO;
            b->base = orig & 0xfffcu;
            b->size = (~m + 1) & 0xffffu;
            continue;
        }
        b->prefetch = orig & 8;
        uint64_t m64 = mask & ~0xfULL, base = orig & ~0xfULL;
        if (((orig >> 1) & 3) == 2 && i + 1 < n) {
            unsigned hreg = reg + 4;
            uint32_t ohi = cfg_read(p->bdf, hreg, 4);
            cfg_write(p->bdf, hreg, 4, ~0u);
            uint32_t mhi = cfg_read(p->bdf, hreg, 4);
            cfg_write(p->bdf, hreg, 4, ohi);
            m64 |= (uint64_t)mhi << 32;
            base |= (uint64_t)ohi << 32;
            b->kind = BAR_MEM64;
            p->bar[i + 1].kind = BAR_MEM64_HI;
            i++;
        } else {
            m64 |= 0xffffffff00000000ULL;
            b->kind = BAR_MEM32;
        }
        b->base = base;
        b->size = ~m64 + 1;
    }
    cfg_write(p->bdf, CFG_COMMAND, 2, cmd);
}

static void add_ro(const struct pci_dev *p, uint32_t where, uint64_t bytes)
{
    unsigned bir = where & 7;
    const struct pci_bar *b = bir < 6 ? &p->bar[bir] : NULL;
    if (!b || (b->kind != BAR_MEM32 && b->kind != BAR_MEM64) || !bytes)
        return;
    uint64_t start = b->base + (where & ~7u);
    if (nr_ro_ranges == MAX_RO_RANGES) {
        printk("pci: too many MSI-X tables: %lx not protected\n", (unsigned long)start);
        return;
    }
    ro_ranges[nr_ro_ranges].first = start >> PAGE_SHIFT;
    ro_ranges[nr_ro_ranges].last = (start + bytes - 1) >> PAGE_SHIFT;
    nr_ro_ranges++;
}

/* The MSI-X table and pending-bit array of p, from its capability. */
static void protect_msix(const struct pci_dev *p)
{
    if (!p->msix)
        return;
    unsigned entries = (cfg_read(p->bdf, p->msix + 2, 2) & 0x7ff) + 1;
    add_ro(p, cfg_read(p->bdf, p->msix + 4, 4), (uint64_t)entries * 16);
    add_ro(p, cfg_read(p->bdf, p->msix + 8, 4), (uint64_t)(entries + 63) / 64 * 8);
    /* The hypervisor's own mapping of the table (msix_entry) is made now,
     * so that its page tables are taken at boot, not while a domain maps
     * a vector (they would count as frames that domain leaked). */
    uint32_t where = cfg_read(p->bdf, p->msix + 4, 4);
    unsigned bir = where & 7;
    if (bir < 6 && (p->bar[bir].kind == BAR_MEM32 || p->bar[bir].kind == BAR_MEM64)) {
        uint64_t pa = p->bar[bir].base + (where & ~7u), end = pa + (uint64_t)entries * 16;
        if (end <= (1ULL << 32))
            map_mmio(ROUNDDOWN(pa, PAGE_SIZE), ROUNDUP(end, PAGE_SIZE) - ROUNDDOWN(pa, PAGE_SIZE));
    }
}

bool pci_mmio_ro(uint64_t mfn)
{
    for (unsigned i = 0; i < nr_ro_ranges; i++)
        if (ro_ranges[i].first <= mfn && mfn <= ro_ranges[i].last)
            return true;
    return false;
}

static void print_dev(const struct pci_dev *p)
{
    char buf[200];
    size_t o = (size_t)snprintf(buf, sizeof(buf), "pci: %02x:%02x.%x %04x:%04x class %06x",
                                p->bdf >> 8, (p->bdf >> 3) & 31, p->bdf & 7, p->vendor,
                                p->device, p->class);
    for (unsigned i = 0; i < 6 && o < sizeof(buf); i++) {
        const struct pci_bar *b = &p->bar[i];
        if (b->kind == BAR_NONE || b->kind == BAR_MEM64_HI)
            continue;
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, " %s%u %lx+%lx",
                              b->kind == BAR_IO ? "io" : "mem", i, (unsigned long)b->base,
                              (unsigned long)b->size);
    }
    if (o < sizeof(buf))
        snprintf(buf + o, sizeof(buf) - o, "%s%s%s%s", p->msi ? " msi" : "",
                 p->msix ? " msix" : "", p->pcie ? " pcie" : "", p->flr ? " flr" : "");
    printk("%s\n", buf);
}

static void add_dev(uint16_t bdf)
{
    if (nr_devs == PCI_MAX_DEVS) {
        printk("pci: more than %u functions: %02x:%02x.%x ignored\n", PCI_MAX_DEVS, bdf >> 8,
               (bdf >> 3) & 31, bdf & 7);
        return;
    }
    struct pci_dev *p = &devs[nr_devs++];
    memset(p, 0, sizeof(*p));
    p->bdf = bdf;
    uint32_t id = cfg_read(bdf, CFG_VENDOR, 4);
    p->vendor = (uint16_t)id;
    p->device = (uint16_t)(id >> 16);
    p->class = cfg_read(bdf, CFG_CLASS, 4) >> 8;
    p->header = cfg_read(bdf, CFG_HEADER, 1) & 0x7f;
    p->owner = DOMID_XEN;
    p->intx_pin = (uint8_t)cfg_read(bdf, CFG_INTPIN, 1);
    p->intx_line = (uint8_t)cfg_read(bdf, CFG_INTLINE, 1);
    find_caps(p);
    size_bars(p);
    protect_msix(p);
    print_dev(p);
}

void pci_init(void)
{
    const char *v;
    size_t n;
    iommu_off = hv_option("iommu", &v, &n) && n == 3 && !memcmp(v, "off", 3);
    if (hv_option("irq_ratelimit", &v, &n)) {
        uint32_t x = 0;
        for (size_t k = 0; k < n && v[k] >= '0' && v[k] <= '9' && x < 100000000u; k++)
            x = x * 10 + (uint32_t)(v[k] - '0');
        irq_ratelimit = x;
        printk("pci: interrupt storm limit %s%u per %lu ms\n", x ? "" : "off: ", x,
               (unsigned long)(IRQ_WINDOW_NS / 1000000));
    }
    ioapic_init();
    find_ecam();
    for (unsigned bus = 0; bus < 256; bus++)
        for (unsigned dev = 0; dev < 32; dev++) {
            uint16_t bdf = PCI_BDF(bus, dev, 0);
            if ((uint16_t)cfg_read(bdf, CFG_VENDOR, 2) == 0xffff)
                continue;
            unsigned fns = (cfg_read(bdf, CFG_HEADER, 1) & 0x80) ? 8 : 1;
            for (unsigned fn = 0; fn < fns; fn++) {
                uint16_t f = PCI_BDF(bus, dev, fn);
                if ((uint16_t)cfg_read(f, CFG_VENDOR, 2) != 0xffff)
                    add_dev(f);
            }
        }
    printk("pci: %u functions, configuration space through %s\n", nr_devs,
           ecam ? "ECAM" : "ports 0xcf8/0xcfc");
    iommu_init();
}

static struct pci_dev *find_dev(uint16_t bdf)
{
    for (unsigned i = 0; i < nr_devs; i++)
        if (devs[i].bdf == bdf)
            return &devs[i];
    return NULL;
}

bool pci_bridge_buses(uint16_t bdf, unsigned *secondary, unsigned *subordinate)
{
    struct pci_dev *p = find_dev(bdf);   /* the table is fixed after boot */
    if (!p || p->header != 1)
        return false;
    uint32_t buses = cfg_read(bdf, 0x18, 4);
    *secondary = (buses >> 8) & 0xff;
    *subordinate = (buses >> 16) & 0xff;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool pci_parse_bdf(const char *s, size_t n, uint16_t *bdf)
{
    /* BB:DD.F: two hex digits, two hex digits (device < 0x20), one octal. */
    if (n != 7 || s[2] != ':' || s[5] != '.')
        return false;
    int b1 = hexval(s[0]), b0 = hexval(s[1]), d1 = hexval(s[3]), d0 = hexval(s[4]);
    int f = s[6] - '0';
    if (b1 < 0 || b0 < 0 || d1 < 0 || d0 < 0 || f < 0 || f > 7)
        return false;
    unsigned dev = (unsigned)(d1 * 16 + d0);
    if (dev > 31)
        return false;
    *bdf = PCI_BDF((unsigned)(b1 * 16 + b0), dev, (unsigned)f);
    return true;
}

/* ---- Ownership. */

/* Whether every memory BAR of p lies where no RAM is: above the first MiB
 * and, within the frame table, only on frames reserved for good (holes,
 * firmware).  Granting a BAR at 0 (not assigned by the firmware) or over
 * RAM would hand the owner memory that is not the device's. */
static bool bars_clear_of_ram(const struct pci_dev *p)
{
    for (unsigned i = 0; i < 6; i++) {
        const struct pci_bar *b = &p->bar[i];
        if (b->kind != BAR_MEM32 && b->kind != BAR_MEM64)
            continue;
        if (b->base < 0x100000 || b->base + b->size < b->base)
            return false;
        for (uint64_t mfn = b->base >> PAGE_SHIFT;
             mfn <= (b->base + b->size - 1) >> PAGE_SHIFT && mfn < max_pfn; mfn++)
            if (frame_table[mfn].owner != OWNER_RESERVED)
                return false;
    }
    return true;
}

int pci_assign(struct domain *d, uint16_t bdf, char *why, size_t n)
{
    unsigned bus = bdf >> 8, dev = (bdf >> 3) & 31, fn = bdf & 7;
    if (!(d->roles & ROLE_HARDWARE)) {
        snprintf(why, n, "pci=%02x:%02x.%x needs role=hardware", bus, dev, fn);
        return -1;
    }
    flr_wait_unlocked(bdf);
    spin_lock(&pci_lock);
    struct pci_dev *p = find_dev(bdf);
    int rc = -1;
    if (p)
        flr_wait(p);             /* its last owner's reset, if under way */
    if (!p) {
        snprintf(why, n, "pci=%02x:%02x.%x: no such device", bus, dev, fn);
    } else if ((p->class >> 16) == 0x06) {
        snprintf(why, n, "pci=%02x:%02x.%x is a bridge (class %06x): not assignable", bus, dev,
                 fn, p->class);
    } else if (p->owner != DOMID_XEN) {
        snprintf(why, n, "pci=%02x:%02x.%x is already d%u's", bus, dev, fn, p->owner);
    } else if (!bars_clear_of_ram(p)) {
        snprintf(why, n, "pci=%02x:%02x.%x has a memory BAR that is unassigned or over RAM",
                 bus, dev, fn);
    } else if (!iommu_off && !iommu_enabled()) {
        snprintf(why, n, "pci=%02x:%02x.%x: no IOMMU contains its DMA (no DMA-remapping unit "
                 "in the ACPI DMAR; iommu=off on the hypervisor's command line accepts the "
                 "risk)", bus, dev, fn);
    } else if (iommu_enabled() && iommu_assign(d, bdf, why, n)) {
        /* why filled */
    } else {
        rc = 0;
        for (unsigned i = 0; i < 6 && !rc; i++) {
            const struct pci_bar *b = &p->bar[i];
            if (b->kind == BAR_IO)
                rc = xsm_io_permit(d, XSM_IO_PORT, b->base, b->base + b->size - 1, true);
            else if (b->kind == BAR_MEM32 || b->kind == BAR_MEM64)
                rc = xsm_io_permit(d, XSM_IO_MEM, b->base >> PAGE_SHIFT,
                                   (b->base + b->size - 1) >> PAGE_SHIFT, true);
        }
        if (rc) {
            snprintf(why, n, "pci=%02x:%02x.%x: too many I/O ranges for d%u", bus, dev, fn,
                     d->id);
            rc = -1;
        } else {
            p->owner = d->id;
            p->sizing = 0;
        }
    }
    spin_unlock(&pci_lock);
    if (!rc)
        printk("pci: %02x:%02x.%x given to d%u (%s)%s\n", bus, dev, fn, d->id, d->name,
               iommu_off ? "; iommu=off: its DMA can reach any memory" : "");
    return rc;
}

/* Stops p: no decoding, no bus mastering, no MSI or MSI-X (pci_lock held). */
static void quiesce(struct pci_dev *p)
{
    uint32_t cmd = cfg_read(p->bdf, CFG_COMMAND, 2);
    cfg_write(p->bdf, CFG_COMMAND, 2, (cmd & ~(CMD_IO | CMD_MEM | CMD_MASTER)) | CMD_INTX_OFF);
    if (p->msi)
        cfg_write(p->bdf, p->msi + 2, 2, cfg_read(p->bdf, p->msi + 2, 2) & ~1u);
    if (p->msix)
        cfg_write(p->bdf, p->msix + 2, 2, cfg_read(p->bdf, p->msix + 2, 2) & ~0x8000u);
}

/*
 * Function-level reset when a device goes back to the hypervisor, as
 * Xen's toolstack resets a device it takes from a domain (pciback's
 * reset, which tries FLR first): the header is saved, FLR started
 * (PCIe Device Control's Initiate FLR), and 100 ms later (the time the
 * PCIe specification gives a function to finish) the header is put back
 * with decoding and bus mastering still off: the BARs stay where the
 * firmware put them.  The wait does not hold anyone up: the idle loop
 * finishes resets that are due (pci_resets_poll), and an assignment of a
 * device still in reset waits for it.  A device without FLR is only
 * stopped (quiesce).
 */
#define FLR_WAIT_NS 100000000ull
static unsigned resets_pending;

static void flr_start(struct pci_dev *p)
{
    for (unsigned i = 0; i < 16; i++)
        p->saved[i] = cfg_read(p->bdf, 4 * i, 4);
    cfg_write(p->bdf, p->pcie + PCIE_DEVCTL, 2,
              cfg_read(p->bdf, p->pcie + PCIE_DEVCTL, 2) | PCIE_DEVCTL_FLR);
    p->reset_until = now_ns() + FLR_WAIT_NS;
    __atomic_fetch_add(&resets_pending, 1, __ATOMIC_RELEASE);
}

/* pci_lock held; the reset's time has passed. */
static void flr_finish(struct pci_dev *p)
{
    /* Cache line, latency, BARs, ROM, interrupt line: as before; the
     * command register last, with decoding and bus mastering off. */
    for (unsigned i = 3; i < 16; i++)
        cfg_write(p->bdf, 4 * i, 4, p->saved[i]);
    cfg_write(p->bdf, CFG_COMMAND, 2,
              (p->saved[1] & ~(CMD_IO | CMD_MEM | CMD_MASTER)) | CMD_INTX_OFF);
    bool alive = cfg_read(p->bdf, CFG_VENDOR, 4) == p->saved[0];
    p->reset_until = 0;
    __atomic_fetch_sub(&resets_pending, 1, __ATOMIC_RELEASE);
    printk("pci: %02x:%02x.%x reset done: %s\n", p->bdf >> 8, (p->bdf >> 3) & 31, p->bdf & 7,
           alive ? "BARs and header restored" : "the device does not answer as before");
}

/* pci_lock held: finishes p's reset if one is under way (the caller
 * waited for its time without the lock: flr_wait_unlocked). */
static void flr_wait(struct pci_dev *p)
{
    if (!p->reset_until)
        return;
    while (now_ns() < p->reset_until)
        cpu_relax();
    flr_finish(p);
}

/* Waits, holding no lock, until a reset of bdf under way may end. */
static void flr_wait_unlocked(uint16_t bdf)
{
    spin_lock(&pci_lock);
    struct pci_dev *p = find_dev(bdf);
    uint64_t until = p ? p->reset_until : 0;
    spin_unlock(&pci_lock);
    while (until && now_ns() < until)
        cpu_relax();
}

bool pci_resets_pending(void)
{
    return __atomic_load_n(&resets_pending, __ATOMIC_ACQUIRE) != 0;
}

void pci_resets_poll(void)
{
    spin_lock(&pci_lock);
    uint64_t now = now_ns();
    for (unsigned i = 0; i < nr_devs; i++)
        if (devs[i].reset_until && now >= devs[i].reset_until)
            flr_finish(&devs[i]);
    spin_unlock(&pci_lock);
}

void pci_release_domain(struct domain *d)
{
    spin_lock(&pci_lock);
    unsigned back = 0;
    uint16_t bdfs[PCI_MAX_ASSIGN];
    bool flr[PCI_MAX_ASSIGN];
    for (unsigned i = 0; i < nr_devs; i++) {
        struct pci_dev *p = &devs[i];
        if (p->owner != d->id)
            continue;
        quiesce(p);
        for (unsigned k = 0; k < NR_MSI_MAPS; k++)
            if (maps[k].used && maps[k].bdf == p->bdf) {
                printk("pci: %02x:%02x.%x PIRQ %u of d%u: %lu interrupts taken, %lu storm "
                       "windows cut short\n", p->bdf >> 8, (p->bdf >> 3) & 31, p->bdf & 7,
                       maps[k].pirq, d->id, (unsigned long)maps[k].taken,
                       (unsigned long)maps[k].storms);
                vec_map[maps[k].vector] = 0;
                if (maps[k].intx)
                    ioapic_clear(maps[k].gsi);
                iommu_irte_clear(k);
                if (maps[k].limited)
                    __atomic_fetch_sub(&limits_active, 1, __ATOMIC_RELEASE);
                maps[k] = (struct msi_map){ 0 };
            }
        p->owner = DOMID_XEN;
        p->sizing = 0;
        if (p->flr)
            flr_start(p);
        if (back < PCI_MAX_ASSIGN) {
            bdfs[back] = p->bdf;
            flr[back] = p->flr;
        }
        back++;
    }
    spin_unlock(&pci_lock);
    /* Stopped: now out of the IOMMU, before any of d's frames is freed. */
    iommu_release(d);
    for (unsigned i = 0; i < back && i < PCI_MAX_ASSIGN; i++)
        printk("pci: %02x:%02x.%x back with the hypervisor (d%u is gone): decoding, bus "
               "mastering and MSI off; %s\n", bdfs[i] >> 8, (bdfs[i] >> 3) & 31, bdfs[i] & 7,
               d->id, flr[i] ? "function-level reset" : "no function-level reset (no FLR)");
}

/* ---- The owner's configuration accesses (ports 0xcf8/0xcfc). */

/* The device d's cf8 value names, if d owns it, and the register. */
static struct pci_dev *owned(struct domain *d, uint32_t cf8, unsigned off, unsigned *reg)
{
    if (!(cf8 & 0x80000000u))
        return NULL;
    struct pci_dev *p = find_dev((uint16_t)(cf8 >> 8));
    if (!p || p->owner != d->id)
        return NULL;
    *reg = (cf8 & 0xfc) | (off & 3);
    return p;
}

static bool in_cap(const struct pci_dev *p, unsigned reg, unsigned size)
{
    /* The MSI capability is at most 24 bytes, MSI-X's 12. */
    if (p->msi && reg + size > p->msi && reg < p->msi + 24u)
        return true;
    return p->msix && reg + size > p->msix && reg < p->msix + 12u;
}

static unsigned bar_index(const struct pci_dev *p, unsigned reg)
{
    unsigned n = p->header == 0 ? 6 : p->header == 1 ? 2 : 0;
    if (reg >= CFG_BAR0 && reg < CFG_BAR0 + 4 * n)
        return (reg - CFG_BAR0) / 4;
    return 6;
}

/* What a BAR register reads while the owner sizes it: the size mask with
 * the register's own type bits, as the device would answer. */
static uint32_t bar_sizing_value(const struct pci_dev *p, unsigned i)
{
    const struct pci_bar *b = &p->bar[i];
    if (b->kind == BAR_MEM64_HI)
        return (uint32_t)(~(p->bar[i - 1].size - 1) >> 32);
    if (b->kind == BAR_IO)
        return ((uint32_t)~(b->size - 1) & 0xfffcu) | 0xffff0000u | 1u;
    if (b->kind == BAR_MEM32 || b->kind == BAR_MEM64)
        return ((uint32_t)~(b->size - 1) & ~0xfu) | (b->kind == BAR_MEM64 ? 4u : 0u) |
               (b->prefetch ? 8u : 0u);
    return 0;
}

uint32_t pci_guest_cfg_read(struct domain *d, uint32_t cf8, unsigned off, unsigned size)
{
    uint32_t mask = size == 4 ? ~0u : (1u << (size * 8)) - 1;
    spin_lock(&pci_lock);
    unsigned reg;
    struct pci_dev *p = owned(d, cf8, off, &reg);
    uint32_t v = mask;
    if (p) {
        unsigned i = bar_index(p, reg & ~3u);
        if (i < 6 && (p->sizing & (1u << i)))
            v = (bar_sizing_value(p, i) >> ((reg & 3) * 8)) & mask;
        else
            v = cfg_read(p->bdf, reg, size) & mask;
    }
    spin_unlock(&pci_lock);
    return v;
}

void pci_guest_cfg_write(struct domain *d, uint32_t cf8, unsigned off, unsigned size,
                         uint32_t val)
{
    spin_lock(&pci_lock);
    unsigned reg;
    struct pci_dev *p = owned(d, cf8, off, &reg);
    if (!p)
        goto out;
    unsigned i = bar_index(p, reg & ~3u);
    if (i < 6) {
        /* BARs stay where the firmware put them; a dword of all ones
         * starts sizing, anything else ends it. */
        if (size == 4 && val == ~0u)
            p->sizing |= (uint8_t)(1u << i);
        else
            p->sizing &= (uint8_t)~(1u << i);
        goto out;
    }
    if (in_cap(p, reg, size))
        goto out;                /* MSI and MSI-X: the hypervisor's */
    /* Byte by byte through the writable fields of the header. */
    for (unsigned k = 0; k < size; k++) {
        unsigned r = reg + k;
        uint8_t b = (uint8_t)(val >> (8 * k));
        if (r == CFG_COMMAND) {
            uint8_t keep = (uint8_t)cfg_read(p->bdf, r, 1) & ~(CMD_IO | CMD_MEM | CMD_MASTER);
            cfg_write(p->bdf, r, 1, keep | (b & (CMD_IO | CMD_MEM | CMD_MASTER)));
        } else if (r == CFG_COMMAND + 1) {
            uint8_t keep = (uint8_t)cfg_read(p->bdf, r, 1) & ~(CMD_INTX_OFF >> 8);
            cfg_write(p->bdf, r, 1, keep | (b & (CMD_INTX_OFF >> 8)));
        } else if (r == CFG_STATUS + 1) {
            cfg_write(p->bdf, r, 1, b & (STATUS_RW1C >> 8));     /* write one to clear */
        } else if (r == CFG_CACHE || r == CFG_LATENCY || r == CFG_INTLINE) {
            cfg_write(p->bdf, r, 1, b);
        }
        /* Everything else (IDs, class, header type, the ROM, the
         * capability pointer, device-specific space) is not written. */
    }
out:
    spin_unlock(&pci_lock);
}

/* ---- MSI and MSI-X through PIRQs (PHYSDEVOP_map_pirq, EVTCHNOP_bind_pirq).
 *
 * The owner of a device maps one of its MSI or MSI-X vectors to a PIRQ
 * for itself (Xen lets a domain's device model or the control domain do
 * it on its behalf, pciback for a PV driver domain; Keel has no dom0, so
 * the owner does, and only for its own devices).  The hypervisor takes a
 * free vector (VEC_DYN_FIRST..VEC_DYN_LAST), programs the device's MSI
 * capability or MSI-X table entry to deliver it to the boot CPU (fixed,
 * edge, physical destination) and enables MSI or MSI-X.  An MSI-X entry
 * stays masked until the PIRQ is bound to an event channel.  Each
 * interrupt is acknowledged at the local APIC at once and raises the
 * bound port (edge: no guest EOI needed, as Xen's ACKTYPE_NONE); while
 * the PIRQ is unbound it is dropped.  The guest cannot reprogram either
 * (configuration writes to the capabilities are dropped, the MSI-X table
 * is read-only to it). */

static uint64_t msi_dropped;     /* interrupts with no bound port */

static struct msi_map *find_map(domid_t dom, unsigned pirq)
{
    for (unsigned i = 0; i < NR_MSI_MAPS; i++)
        if (maps[i].used && maps[i].dom == dom && maps[i].pirq == pirq)
            return &maps[i];
    return NULL;
}

/* The MSI-X table entry of a map, mapped by the hypervisor; NULL if the
 * table's BAR is above 4 GiB (map_mmio's limit) or not a memory BAR. */
static volatile uint32_t *msix_entry(const struct pci_dev *p, unsigned entry)
{
    uint32_t where = cfg_read(p->bdf, p->msix + 4, 4);
    unsigned bir = where & 7;
    if (bir >= 6 || (p->bar[bir].kind != BAR_MEM32 && p->bar[bir].kind != BAR_MEM64))
        return NULL;
    uint64_t pa = p->bar[bir].base + (where & ~7u) + (uint64_t)entry * 16;
    if (pa + 16 > (1ULL << 32))
        return NULL;
    uint8_t *page = map_mmio(ROUNDDOWN(pa, PAGE_SIZE), PAGE_SIZE);
    return (volatile uint32_t *)(page + (pa & (PAGE_SIZE - 1)));
}

static uint32_t msi_address(void)
{
    return 0xfee00000u | (pcpus[0]->apic_id & 0xff) << 12;
}

/*
 * INTx (PHYSDEVOP_map_pirq with MAP_PIRQ_TYPE_GSI, index = the GSI).  Keel
 * has no dom0 to evaluate ACPI _PRT and tell it a device's GSI (Xen learns
 * it from dom0: PHYSDEVOP_setup_gsi, or dom0's own I/O APIC writes); it
 * takes the interrupt line register the firmware programmed at boot (read
 * at enumeration, not what the owner may write there since) through the
 * MADT's overrides, as docs/intx.md explains with its limits (a line of
 * 0 or 255 is none: unknown or not connected).  Only the
 * GSI of a device the domain owns is its to map (else -EPERM, as Xen's
 * irq_access_permitted); a line another domain has mapped is refused
 * (-EBUSY: no sharing between owners).  The entry is programmed masked,
 * is unmasked when its PIRQ is bound, masked by the hypervisor whenever
 * it fires (level) and unmasked by the owner's PHYSDEVOP_eoi.
 */
static long map_gsi(struct domain *d, struct physdev_map_pirq *m)
{
    if (m->index < 0 || m->index > 255 || !ioapic_gsi_exists((unsigned)m->index))
        return -XEN_EINVAL;
    unsigned gsi = (unsigned)m->index;
    spin_lock(&pci_lock);
    long rc;
    struct pci_dev *p = NULL;
    bool level = true, low = true;
    for (unsigned i = 0; i < nr_devs && !p; i++) {
        unsigned g;
        bool lv, lo;
        if (devs[i].owner == d->id && devs[i].intx_pin >= 1 && devs[i].intx_pin <= 4 &&
            devs[i].intx_line != 0 && devs[i].intx_line != 0xff &&
            ioapic_line_to_gsi(devs[i].intx_line, &g, &lv, &lo) && g == gsi) {
            p = &devs[i];
            level = lv;
            low = lo;
        }
    }
    struct msi_map *slot = NULL;
    int pirq = m->pirq;
    unsigned vec;
    if (!p) {
        rc = -XEN_EPERM;         /* no device of its own interrupts there */
        goto out;
    }
    for (unsigned i = 0; i < NR_MSI_MAPS; i++) {
        struct msi_map *x = &maps[i];
        if (x->used && x->intx && x->gsi == gsi) {
            rc = x->dom == d->id ? -XEN_EEXIST : -XEN_EBUSY;
            if (x->dom != d->id)
                printk("pci: GSI %u refused to d%u (for %02x:%02x.%x): d%u has it mapped; "
                       "a line is not shared between owners\n", gsi, d->id, p->bdf >> 8,
                       (p->bdf >> 3) & 31, p->bdf & 7, x->dom);
            goto out;
        }
        if (!x->used && !slot)
            slot = x;
    }
    if (pirq < 0) {              /* the GSI's own number if free, as Xen's dom0 has */
        pirq = gsi < NR_PIRQS && !find_map(d->id, gsi) ? (int)gsi : -1;
        for (int k = 16; pirq < 0 && k < NR_PIRQS; k++)
            if (!find_map(d->id, (unsigned)k))
                pirq = k;
        if (pirq < 0) {
            rc = -XEN_ENOSPC;
            goto out;
        }
    } else if (pirq >= NR_PIRQS) {
        rc = -XEN_EINVAL;
        goto out;
    } else if (find_map(d->id, (unsigned)pirq)) {
        rc = -XEN_EEXIST;
        goto out;
    }
    for (vec = VEC_DYN_FIRST; vec <= VEC_DYN_LAST && vec_map[vec]; vec++)
        ;
    if (!slot || vec > VEC_DYN_LAST) {
        rc = -XEN_ENOSPC;
        goto out;
    }
    if (!iommu_intremap() && pcpus[0]->apic_id > 0xff) {
        rc = -XEN_EOPNOTSUPP;    /* an I/O APIC entry names an 8-bit APIC id */
        goto out;
    }
    if (iommu_intremap()) {
        /* Through a remapping entry only the line's I/O APIC may use
         * (the source-id its DRHD names for it). */
        uint16_t sid;
        uint32_t a, dt;
        unsigned index = (unsigned)(slot - maps);
        if (!iommu_ioapic_sid(ioapic_id_of(gsi), &sid)) {
            printk("pci: GSI %u refused to d%u: no DMA-remapping unit names I/O APIC id %u, "
                   "so its interrupts cannot be remapped\n", gsi, d->id, ioapic_id_of(gsi));
            rc = -XEN_EOPNOTSUPP;
            goto out;
        }
        if (iommu_irte_set(index, sid, vec, pcpus[0]->apic_id, level, &a, &dt)) {
            rc = -XEN_ENOSPC;
            goto out;
        }
        ioapic_program_remapped(gsi, index, vec, level, low);
    } else {
        ioapic_program(gsi, vec, pcpus[0]->apic_id, level, low);
    }
    *slot = (struct msi_map){ .used = true, .intx = true, .level = level, .low = low,
                              .gsi = (uint8_t)gsi, .dom = d->id, .bdf = p->bdf,
                              .pirq = (uint8_t)pirq, .vector = (uint8_t)vec };
    vec_map[vec] = (uint8_t)(slot - maps + 1);
    m->pirq = pirq;
    rc = 0;
    printk("pci: %02x:%02x.%x INTx%c, interrupt line %u (the firmware's): GSI %u, %s, active "
           "%s, vector %#x: PIRQ %d of d%u\n", p->bdf >> 8, (p->bdf >> 3) & 31, p->bdf & 7,
           'A' + p->intx_pin - 1, p->intx_line, gsi, level ? "level" : "edge",
           low ? "low" : "high", vec, pirq, d->id);
out:
    spin_unlock(&pci_lock);
    return rc;
}

long pci_map_pirq(struct domain *d, struct physdev_map_pirq *m)
{
    /* Only a device owner, for itself (Xen: -EPERM to a plain domU, whose
     * device model or dom0 maps for it; Keel has no dom0). */
    if (!(d->roles & ROLE_HARDWARE) || (m->domid != DOMID_SELF && m->domid != d->id))
        return -XEN_EPERM;
    if (m->type == MAP_PIRQ_TYPE_GSI)
        return map_gsi(d, m);
    if (m->type != MAP_PIRQ_TYPE_MSI && m->type != MAP_PIRQ_TYPE_MSI_SEG)
        return -XEN_EINVAL;
    if (m->type == MAP_PIRQ_TYPE_MSI_SEG ? (m->bus >> 16) != 0 : m->bus > 0xff)
        return -XEN_ENODEV;      /* segment 0 only */
    if (m->devfn > 0xff)
        return -XEN_EINVAL;
    uint16_t bdf = (uint16_t)((m->bus & 0xff) << 8 | m->devfn);
    bool msix = m->table_base != 0;
    spin_lock(&pci_lock);
    long rc;
    struct pci_dev *p = find_dev(bdf);
    unsigned vec = 0;
    struct msi_map *slot = NULL;
    int pirq = m->pirq;
    if (!p) {
        rc = -XEN_ENODEV;
        goto out;
    }
    if (p->owner != d->id) {
        rc = -XEN_EPERM;
        goto out;
    }
    if (msix ? !p->msix : !p->msi) {
        rc = -XEN_ENODEV;        /* no such capability */
        goto out;
    }
    unsigned entries = msix ? (cfg_read(bdf, p->msix + 2, 2) & 0x7ff) + 1 : 1;
    if (m->entry_nr < 0 || (unsigned)m->entry_nr >= entries) {
        rc = -XEN_EINVAL;
        goto out;
    }
    for (unsigned i = 0; i < NR_MSI_MAPS; i++) {
        struct msi_map *x = &maps[i];
        if (x->used && !x->intx && x->bdf == bdf &&
            (x->msix != msix || x->entry == m->entry_nr)) {
            rc = -XEN_EBUSY;     /* mapped already, or the other kind is in use */
            goto out;
        }
        if (!x->used && !slot)
            slot = x;
    }
    if (pirq < 0) {              /* the highest free one, as Xen picks for MSI */
        for (pirq = NR_PIRQS - 1; pirq >= 16 && find_map(d->id, (unsigned)pirq); pirq--)
            ;
        if (pirq < 16) {
            rc = -XEN_ENOSPC;
            goto out;
        }
    } else if (pirq >= NR_PIRQS) {
        rc = -XEN_EINVAL;
        goto out;
    } else if (find_map(d->id, (unsigned)pirq)) {
        rc = -XEN_EEXIST;
        goto out;
    }
    for (vec = VEC_DYN_FIRST; vec <= VEC_DYN_LAST && vec_map[vec]; vec++)
        ;
    if (!slot || vec > VEC_DYN_LAST) {
        rc = -XEN_ENOSPC;
        goto out;
    }
    uint32_t msi_addr = msi_address(), msi_data = vec;
    volatile uint32_t *e = msix ? msix_entry(p, (unsigned)m->entry_nr) : NULL;
    if (msix && !e) {
        rc = -XEN_EOPNOTSUPP;
        goto out;
    }
    /* Through interrupt remapping when on: an entry per map, which only
     * this device (its source-id) can use. */
    if (iommu_intremap() &&
        iommu_irte_set((unsigned)(slot - maps), bdf, vec, pcpus[0]->apic_id, false, &msi_addr,
                       &msi_data)) {
        rc = -XEN_ENOSPC;
        goto out;
    }
    if (msix) {
        /* Enabled with the whole function masked while the entry is set. */
        uint32_t ctl = cfg_read(bdf, p->msix + 2, 2);
        cfg_write(bdf, p->msix + 2, 2, ctl | 0xc000u);
        e[3] = 1;                                /* masked until bound */
        e[0] = msi_addr;
        e[1] = 0;
        e[2] = msi_data;
        cfg_write(bdf, p->msix + 2, 2, (ctl | 0x8000u) & ~0x4000u);
    } else {
        uint32_t ctl = cfg_read(bdf, p->msi + 2, 2);
        bool is64 = ctl & 0x80;
        cfg_write(bdf, p->msi + 4, 4, msi_addr);
        if (is64)
            cfg_write(bdf, p->msi + 8, 4, 0);
        cfg_write(bdf, p->msi + (is64 ? 0xc : 8), 2, msi_data);
        cfg_write(bdf, p->msi + 2, 2, (ctl & ~0x70u) | 1u);   /* one vector, enabled */
    }
    *slot = (struct msi_map){ .used = true, .msix = msix, .dom = d->id, .bdf = bdf,
                              .entry = (uint16_t)m->entry_nr, .pirq = (uint8_t)pirq,
                              .vector = (uint8_t)vec };
    vec_map[vec] = (uint8_t)(slot - maps + 1);
    m->pirq = pirq;
    rc = 0;
out:
    spin_unlock(&pci_lock);
    return rc;
}

/* Undoes a map (pci_lock held): the vector masked or MSI off, freed. */
static void unmap_locked(struct msi_map *x)
{
    if (x->limited)
        __atomic_fetch_sub(&limits_active, 1, __ATOMIC_RELEASE);
    struct pci_dev *p = find_dev(x->bdf);
    if (x->intx) {
        ioapic_clear(x->gsi);
    } else if (p && x->msix) {
        volatile uint32_t *e = msix_entry(p, x->entry);
        if (e)
            e[3] = 1;
        bool any = false;
        for (unsigned i = 0; i < NR_MSI_MAPS; i++)
            any |= &maps[i] != x && maps[i].used && !maps[i].intx && maps[i].bdf == x->bdf;
        if (!any)
            cfg_write(p->bdf, p->msix + 2, 2, cfg_read(p->bdf, p->msix + 2, 2) & ~0x8000u);
    } else if (p) {
        cfg_write(p->bdf, p->msi + 2, 2, cfg_read(p->bdf, p->msi + 2, 2) & ~1u);
    }
    vec_map[x->vector] = 0;
    iommu_irte_clear((unsigned)(x - maps));
    *x = (struct msi_map){ 0 };
}

long pci_unmap_pirq(struct domain *d, int pirq)
{
    if (pirq < 0 || pirq >= NR_PIRQS)
        return -XEN_EINVAL;
    spin_lock(&pci_lock);
    struct msi_map *x = find_map(d->id, (unsigned)pirq);
    if (x)
        unmap_locked(x);
    spin_unlock(&pci_lock);
    return x ? 0 : -XEN_EINVAL;
}

bool pci_pirq_mapped(struct domain *d, unsigned pirq)
{
    spin_lock(&pci_lock);
    bool ok = pirq < NR_PIRQS && find_map(d->id, pirq);
    spin_unlock(&pci_lock);
    return ok;
}

long pci_pirq_eoi(struct domain *d, unsigned pirq)
{
    spin_lock(&pci_lock);
    struct msi_map *x = pirq < NR_PIRQS ? find_map(d->id, pirq) : NULL;
    if (x && x->intx && x->eoi_wait) {
        x->eoi_wait = false;
        if (x->open && !x->limited)
            ioapic_mask(x->gsi, false);
    }
    spin_unlock(&pci_lock);
    return x && x->open ? 0 : -XEN_EINVAL;
}

bool pci_pirq_needs_eoi(struct domain *d, unsigned pirq)
{
    spin_lock(&pci_lock);
    struct msi_map *x = pirq < NR_PIRQS ? find_map(d->id, pirq) : NULL;
    bool needs = x && x->intx && x->level;
    spin_unlock(&pci_lock);
    return needs;
}

void pci_pirq_mask(struct domain *d, unsigned pirq, bool mask)
{
    spin_lock(&pci_lock);
    struct msi_map *x = pirq < NR_PIRQS ? find_map(d->id, pirq) : NULL;
    struct pci_dev *p = x ? find_dev(x->bdf) : NULL;
    if (x && x->intx) {
        /* Bound: live unless it waits for an EOI or the storm limit;
         * unbound: masked, and a new binding starts with no EOI owed. */
        x->open = !mask;
        x->eoi_wait = false;
        ioapic_mask(x->gsi, mask || x->limited);
    } else if (x && !x->msix) {
        x->open = !mask;         /* MSI: nothing to mask here */
    } else if (p && x->msix) {
        x->open = !mask;
        volatile uint32_t *e = msix_entry(p, x->entry);
        if (e && !x->limited)
            e[3] = mask ? 1u : 0u;
    }
    spin_unlock(&pci_lock);
}

/*
 * Interrupt storms.  As Xen's irq_ratelimit does for guest interrupts, a
 * vector that interrupts more than irq_ratelimit times (hypervisor
 * command line; default IRQ_RATELIMIT, 0 turns the limit off) within
 * one window of IRQ_WINDOW_NS is masked at the device until the window
 * ends: its MSI-X entry's mask bit, MSI's per-vector mask bit, or, for
 * MSI without one, MSI's enable bit.  Every interrupt costs a hypervisor
 * entry on the CPU that takes it (the boot CPU), whoever runs there; the
 * limit bounds what a device, or a driver domain that makes its device
 * storm, can take from the others.  The default, 1,000 per 10 ms (100,000
 * a second per vector), is ten times below Xen's because Keel's CI runs
 * under TCG, where each interrupt costs some microseconds; a NIC with
 * interrupt moderation stays far under it.  The idle loop and each
 * scheduler tick lift limits that have ended (pci_irq_poll).
 */

/* The vector masked (limit) or not, at the device; pci_lock held. */
static void storm_mask(struct msi_map *x, bool mask)
{
    if (x->intx) {
        ioapic_mask(x->gsi, mask || !x->open || x->eoi_wait);
        return;
    }
    struct pci_dev *p = find_dev(x->bdf);
    if (!p)
        return;
    if (x->msix) {
        volatile uint32_t *e = msix_entry(p, x->entry);
        if (e)
            e[3] = mask || !x->open ? 1u : 0u;
        return;
    }
    uint32_t ctl = cfg_read(p->bdf, p->msi + 2, 2);
    if (ctl & 0x100) {           /* per-vector masking */
        unsigned at = p->msi + ((ctl & 0x80) ? 0x10 : 0x0c);
        cfg_write(p->bdf, at, 4, mask ? 1u : 0u);
    } else {
        cfg_write(p->bdf, p->msi + 2, 2, mask ? ctl & ~1u : ctl | 1u);
    }
}

bool pci_work_pending(void)
{
    return __atomic_load_n(&limits_active, __ATOMIC_ACQUIRE) != 0 || pci_resets_pending();
}

void pci_irq_poll(void)
{
    if (pci_resets_pending())
        pci_resets_poll();
    if (!__atomic_load_n(&limits_active, __ATOMIC_ACQUIRE))
        return;
    spin_lock(&pci_lock);
    uint64_t now = now_ns();
    for (unsigned i = 0; i < NR_MSI_MAPS; i++) {
        struct msi_map *x = &maps[i];
        if (x->used && x->limited && now >= x->limit_end) {
            x->limited = false;
            x->count = 0;
            x->window = now;
            storm_mask(x, false);
            __atomic_fetch_sub(&limits_active, 1, __ATOMIC_RELEASE);
        }
    }
    spin_unlock(&pci_lock);
}

void pci_msi_interrupt(unsigned vector)
{
    spin_lock(&pci_lock);
    unsigned i = vec_map[vector & 0xff];
    /* A level-triggered line is masked before the EOI (which lets the
     * I/O APIC deliver it again) and stays masked until the owner's
     * PHYSDEVOP_eoi; an edge (MSI) is acknowledged at once. */
    if (i && maps[i - 1].intx && maps[i - 1].level) {
        ioapic_mask(maps[i - 1].gsi, true);
        maps[i - 1].eoi_wait = true;
    }
    apic_eoi();
    domid_t dom = i ? maps[i - 1].dom : DOMID_INVALID;
    unsigned pirq = i ? maps[i - 1].pirq : 0;
    uint64_t storm = 0;
    uint16_t bdf = 0;
    if (i)
        maps[i - 1].taken++;
    if (i && irq_ratelimit) {
        struct msi_map *x = &maps[i - 1];
        uint64_t now = now_ns();
        if (now - x->window >= IRQ_WINDOW_NS) {
            x->window = now;
            x->count = 0;
        }
        if (++x->count > irq_ratelimit && !x->limited) {
            x->limited = true;
            x->limit_end = x->window + IRQ_WINDOW_NS;
            storm_mask(x, true);
            __atomic_fetch_add(&limits_active, 1, __ATOMIC_RELEASE);
            storm = ++x->storms;
            bdf = x->bdf;
        }
    }
    spin_unlock(&pci_lock);
    /* The first storm of a vector, then every 100th. */
    if (storm == 1 || (storm && storm % 100 == 0))
        printk("pci: %02x:%02x.%x storms: more than %u interrupts in %lu ms on PIRQ %u of "
               "d%u, masked for the rest of the window (%lu times so far)\n", bdf >> 8,
               (bdf >> 3) & 31, bdf & 7, irq_ratelimit,
               (unsigned long)(IRQ_WINDOW_NS / 1000000), pirq, dom, (unsigned long)storm);
    struct domain *d = i ? domain_get(dom) : NULL;
    if (!d || !send_guest_pirq(d, pirq))
        __atomic_fetch_add(&msi_dropped, 1, __ATOMIC_RELAXED);
    if (d)
        domain_put(d);
}
