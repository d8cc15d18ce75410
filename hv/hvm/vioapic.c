/*
 * The I/O APIC of a type=hvm domain (docs/hvm.md, "HVM from firmware"), as
 * Xen's hvm/vioapic.c presents one: 24 pins, version 0x11, at 0xfec00000
 * (the page SeaBIOS's MP table names).  IOREGSEL at offset 0 and IOWIN at
 * 0x10, 32-bit accesses only (others read all ones and are dropped,
 * counted); through them the ID (bits 24-27 writable), the version
 * ((23 << 16) | 0x11), the arbitration ID, and the redirection table
 * (0x10 + 2n, 0x11 + 2n: vector, delivery mode, destination mode,
 * polarity, trigger mode, mask and destination writable; delivery status
 * and remote IRR read 0).  All pins start masked.
 *
 * The ISA lines reach it as they reach the PICs: IRQ0 (the PIT) on pin 2,
 * as the MP table's and ACPI's interrupt source override say, the others
 * on their own pins.  An edge on an unmasked pin whose delivery mode is
 * fixed or lowest priority sends its vector to the local APIC it names
 * (physical: vCPU 0's APIC ID or broadcast; logical: vCPU 0's LDR), as a
 * fixed interrupt (IRR; the vCPU woken or kicked).  ExtINT pins are the
 * PICs' (virtual wire): nothing here.  Not emulated, counted and dropped:
 * NMI, SMI and INIT delivery.  Level-triggered pins are delivered as
 * edges (no remote IRR, no EOI broadcast): the only lines are the ISA
 * ones, which are edge-triggered.
 *
 * The table is written by vCPU 0 (MMIO exits) and read when a device
 * model's XEN_DMOP_set_isa_irq_level raises a line from another pCPU:
 * each entry is one 64-bit word, read and written atomically.
 */
#include "lib.h"
#include "mm.h"
#include "domain.h"
#include "hvm.h"
#include "hvm_internal.h"

#define HVM_IOAPIC_PINS 24

struct hvm_ioapic {
    uint8_t sel, id;                      /* IOREGSEL; the ID register's bits 24-27 */
    uint64_t rte[HVM_IOAPIC_PINS];        /* the redirection table */
    unsigned long bad, dropped;           /* refused accesses; interrupts not delivered */
};

#define IOAPIC_BASE   0xfec00000ULL
#define IOAPIC_LEN    0x100
#define IOAPIC_VER    ((uint32_t)(HVM_IOAPIC_PINS - 1) << 16 | 0x11)
#define RTE_MASKED    (1ULL << 16)
#define RTE_LOGICAL   (1ULL << 11)
/* vector, delivery mode, destination mode, polarity, trigger, mask; destination */
#define RTE_WRITABLE  (0x1ULL << 16 | 0x1ULL << 15 | 0x1ULL << 13 | 0xfffULL | 0xffULL << 56)

int vioapic_init(struct domain *d)
{
    _Static_assert(sizeof(struct hvm_ioapic) <= PAGE_SIZE, "one page");
    struct hvm_ioapic *io = alloc_hv_pages(0);
    if (!io)
        return -1;
    memset(io, 0, sizeof(*io));
    for (unsigned i = 0; i < HVM_IOAPIC_PINS; i++)
        io->rte[i] = RTE_MASKED;
    d->arch.hvm.ioapic = io;
    return 0;
}

void hvm_vioapic_free(struct domain *d)
{
    if (d->arch.hvm.ioapic)
        free_hv_pages(d->arch.hvm.ioapic, 0);
    d->arch.hvm.ioapic = NULL;
}

static uint32_t reg_read(struct hvm_ioapic *io, uint32_t sel)
{
    switch (sel) {
    case 0x00: return (uint32_t)io->id << 24;
    case 0x01: return IOAPIC_VER;
    case 0x02: return (uint32_t)io->id << 24;
    default:
        break;
    }
    if (sel >= 0x10 && sel < 0x10 + 2 * HVM_IOAPIC_PINS) {
        uint64_t e = __atomic_load_n(&io->rte[(sel - 0x10) / 2], __ATOMIC_RELAXED);
        return (sel & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
    }
    return 0xffffffffu;                   /* no such register */
}

static void reg_write(struct hvm_ioapic *io, uint32_t sel, uint32_t val)
{
    if (sel == 0x00) {
        io->id = (val >> 24) & 0xf;
        return;
    }
    if (sel < 0x10 || sel >= 0x10 + 2 * HVM_IOAPIC_PINS) {
        io->bad++;                        /* read-only or absent */
        return;
    }
    uint64_t *slot = &io->rte[(sel - 0x10) / 2];
    uint64_t e = __atomic_load_n(slot, __ATOMIC_RELAXED);
    if (sel & 1)
        e = (e & 0xffffffffULL) | (uint64_t)val << 32;
    else
        e = (e & ~0xffffffffULL) | val;
    __atomic_store_n(slot, e & RTE_WRITABLE, __ATOMIC_RELEASE);
}

bool vioapic_mmio(struct vcpu *v, uint64_t gpa, unsigned size, bool write, uint64_t *val)
{
    struct hvm_ioapic *io = v->domain->arch.hvm.ioapic;
    if (!io || gpa < IOAPIC_BASE || gpa >= IOAPIC_BASE + IOAPIC_LEN)
        return false;
    unsigned off = (unsigned)(gpa - IOAPIC_BASE);
    if (size != 4 || (off != 0x00 && off != 0x10)) {
        io->bad++;
        if (!write)
            *val = size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
        return true;
    }
    if (off == 0x00) {
        if (write)
            io->sel = (uint8_t)*val;
        else
            *val = io->sel;
    } else if (write) {
        reg_write(io, io->sel, (uint32_t)*val);
    } else {
        *val = reg_read(io, io->sel);
    }
    return true;
}

void vioapic_isa_irq(struct domain *d, unsigned irq)
{
    unsigned pin = irq == 0 ? 2 : irq;
    struct hvm_ioapic *io = d->arch.hvm.ioapic;
    if (!io || pin >= HVM_IOAPIC_PINS)
        return;
    uint64_t e = __atomic_load_n(&io->rte[pin], __ATOMIC_ACQUIRE);
    if (e & RTE_MASKED)
        return;
    unsigned mode = (unsigned)(e >> 8) & 7;
    if (mode == 7)
        return;                           /* ExtINT: the PICs deliver it */
    if (mode > 1) {
        __atomic_fetch_add(&io->dropped, 1, __ATOMIC_RELAXED);
        return;                           /* SMI, NMI, INIT: not emulated */
    }
    struct vcpu *v = d->vcpu[0];
    if (!vlapic_match_dest(v, (uint8_t)(e >> 56), e & RTE_LOGICAL))
        return;
    vlapic_set_irq(v, (uint8_t)e);
}
