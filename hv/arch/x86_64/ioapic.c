/*
 * The I/O APICs: legacy INTx lines of passed-through devices (docs/pci.md).
 *
 * At boot the ACPI MADT names each I/O APIC (its id, registers and first
 * GSI) and the ISA interrupt source overrides (an ISA IRQ arriving on
 * another GSI, or with a polarity or trigger other than ISA's).  Every
 * redirection entry is masked, and so are both 8259s: the hypervisor
 * takes no legacy interrupt until a device owner maps one (pci.c).
 *
 * The entries are programmed for pci.c with pci_lock held (which is
 * what serialises the index/data register pairs); at boot, before any
 * other CPU runs, with no lock.
 */
#include "lib.h"
#include "x86.h"
#include "acpi.h"
#include "ioapic.h"

#define MAX_IOAPICS 8
#define MAX_OVERRIDES 16

#define REG_ID    0x00
#define REG_VER   0x01
#define REG_RTE   0x10           /* entry n: low dword at 0x10 + 2n, high above */

#define RTE_LOW_POLARITY (1u << 13)
#define RTE_LEVEL        (1u << 15)
#define RTE_MASKED       (1u << 16)
#define RTE_HI_REMAP     (1u << 16)    /* high dword: remappable format */

struct ioapic {
    unsigned id;
    uint64_t base;
    volatile uint32_t *regs;
    unsigned gsi_base, nr_pins;
};

static struct ioapic ioapics[MAX_IOAPICS];
static unsigned nr_ioapics;

static struct {
    uint8_t irq;
    uint32_t gsi;
    uint16_t flags;              /* MPS INTI flags: polarity bits 0-1, trigger 2-3 */
} overrides[MAX_OVERRIDES];
static unsigned nr_overrides;

void *map_mmio(uint64_t pa, uint64_t size);

static uint32_t rd(const struct ioapic *a, unsigned reg)
{
    a->regs[0] = reg;
    return a->regs[4];
}

static void wr(const struct ioapic *a, unsigned reg, uint32_t v)
{
    a->regs[0] = reg;
    a->regs[4] = v;
}

static struct ioapic *unit_of(unsigned gsi, unsigned *pin)
{
    for (unsigned i = 0; i < nr_ioapics; i++)
        if (gsi >= ioapics[i].gsi_base && gsi - ioapics[i].gsi_base < ioapics[i].nr_pins) {
            *pin = gsi - ioapics[i].gsi_base;
            return &ioapics[i];
        }
    return NULL;
}

void ioapic_init(void)
{
    /* Both 8259s masked: legacy interrupts only through the I/O APIC. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
    const struct acpi_header *m = acpi_find_table("APIC");
    if (!m) {
        printk("ioapic: no MADT: no I/O APIC, no legacy INTx\n");
        return;
    }
    const uint8_t *p = (const uint8_t *)m + sizeof(*m) + 8, *end = (const uint8_t *)m + m->length;
    for (; p + 2 <= end && p[1] >= 2 && p + p[1] <= end; p += p[1]) {
        if (p[0] == 1 && p[1] >= 12) {             /* I/O APIC */
            uint32_t base, gsi_base;
            memcpy(&base, p + 4, 4);
            memcpy(&gsi_base, p + 8, 4);
            if (nr_ioapics == MAX_IOAPICS || gsi_base > 255) {
                printk("ioapic: I/O APIC id %u at %x ignored\n", p[2], base);
                continue;
            }
            struct ioapic *a = &ioapics[nr_ioapics++];
            a->id = p[2];
            a->base = base;
            a->gsi_base = gsi_base;
            a->regs = map_mmio(base, 4096);
            a->nr_pins = ((rd(a, REG_VER) >> 16) & 0xff) + 1;
            if (gsi_base + a->nr_pins > 256)
                a->nr_pins = 256 - gsi_base;
            for (unsigned pin = 0; pin < a->nr_pins; pin++) {
                wr(a, REG_RTE + 2 * pin, RTE_MASKED);
                wr(a, REG_RTE + 2 * pin + 1, 0);
            }
            printk("ioapic: I/O APIC id %u at %lx: GSIs %u-%u, every entry masked\n", a->id,
                   (unsigned long)a->base, a->gsi_base, a->gsi_base + a->nr_pins - 1);
        } else if (p[0] == 2 && p[1] >= 10 && nr_overrides < MAX_OVERRIDES) {  /* override */
            uint32_t gsi;
            uint16_t flags;
            memcpy(&gsi, p + 4, 4);
            memcpy(&flags, p + 8, 2);
            overrides[nr_overrides].irq = p[3];
            overrides[nr_overrides].gsi = gsi;
            overrides[nr_overrides].flags = flags;
            nr_overrides++;
            printk("ioapic: ISA IRQ %u is GSI %u%s%s\n", p[3], gsi,
                   (flags & 0xc) == 0xc ? ", level" : (flags & 0xc) == 0x4 ? ", edge" : "",
                   (flags & 3) == 3 ? ", active low" : (flags & 3) == 1 ? ", active high" : "");
        }
    }
    if (!nr_ioapics)
        printk("ioapic: the MADT names no I/O APIC: no legacy INTx\n");
}

bool ioapic_gsi_exists(unsigned gsi)
{
    unsigned pin;
    return unit_of(gsi, &pin) != NULL;
}

unsigned ioapic_id_of(unsigned gsi)
{
    unsigned pin;
    struct ioapic *a = unit_of(gsi, &pin);
    return a ? a->id : 0;
}

bool ioapic_line_to_gsi(unsigned line, unsigned *gsi, bool *level, bool *low)
{
    /* PCI's convention unless an override names another. */
    *gsi = line;
    *level = true;
    *low = true;
    for (unsigned i = 0; i < nr_overrides; i++)
        if (overrides[i].irq == line) {
            unsigned pol = overrides[i].flags & 3, trig = (overrides[i].flags >> 2) & 3;
            *gsi = overrides[i].gsi;
            if (pol == 1 || pol == 3)
                *low = pol == 3;
            if (trig == 1 || trig == 3)
                *level = trig == 3;
            break;
        }
    return ioapic_gsi_exists(*gsi);
}

static void program(unsigned gsi, uint32_t lo, uint32_t hi)
{
    unsigned pin;
    struct ioapic *a = unit_of(gsi, &pin);
    if (!a)
        return;
    /* Masked first, so that the entry is never live half written. */
    wr(a, REG_RTE + 2 * pin, RTE_MASKED);
    wr(a, REG_RTE + 2 * pin + 1, hi);
    wr(a, REG_RTE + 2 * pin, lo | RTE_MASKED);
}

void ioapic_program(unsigned gsi, unsigned vector, uint32_t dest, bool level, bool low)
{
    program(gsi, (vector & 0xff) | (low ? RTE_LOW_POLARITY : 0) | (level ? RTE_LEVEL : 0),
            (dest & 0xff) << 24);
}

void ioapic_program_remapped(unsigned gsi, unsigned index, unsigned vector, bool level,
                             bool low)
{
    /* Remappable format: the handle in bits 63:49 and 11, the vector as
     * the remapping entry's, so that the EOI broadcast matches it. */
    program(gsi, (vector & 0xff) | ((index >> 15) & 1) << 11 | (low ? RTE_LOW_POLARITY : 0) |
                 (level ? RTE_LEVEL : 0),
            RTE_HI_REMAP | (index & 0x7fff) << 17);
}

void ioapic_mask(unsigned gsi, bool mask)
{
    unsigned pin;
    struct ioapic *a = unit_of(gsi, &pin);
    if (!a)
        return;
    uint32_t lo = rd(a, REG_RTE + 2 * pin);
    wr(a, REG_RTE + 2 * pin, mask ? lo | RTE_MASKED : lo & ~RTE_MASKED);
}

void ioapic_clear(unsigned gsi)
{
    program(gsi, 0, 0);
}
